/* The NVDEC parser side: sequence, decode and display callbacks (called synchronously
 * inside cuvidParseVideoData), decoder creation from the sequence header, and the copy of
 * a displayed surface into a pooled device frame. */
#include "nvdec_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/mathematics.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#define MAPPED_SURFACES 2

void nvdec_note_error(nvdec_dec *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->last_err, sizeof(d->last_err), fmt, ap);
	va_end(ap);
	d->errors++;
}

int nvdec_surfaces(int min, int cfg, int in_flight, int *wanted)
{
	int n = cfg > 0 ? cfg : min + in_flight + NVDEC_SURFACE_HEADROOM;
	if (n < min)
		n = min;
	*wanted = n;
	return n > NVDEC_MAX_SURFACES ? NVDEC_MAX_SURFACES : n;
}

static const AVRational parser_clock = { 1, NVDEC_CLOCK_HZ };

int64_t nvdec_ts_to_parser(int64_t ts, AVRational tb)
{
	if (ts == AV_NOPTS_VALUE || tb.num <= 0 || tb.den <= 0)
		return ts;
	/* av_rescale_q_rnd gives INT64_MIN (AV_NOPTS_VALUE) for a result that does not fit. */
	return av_rescale_q_rnd(ts, tb, parser_clock, AV_ROUND_NEAR_INF);
}

int64_t nvdec_ts_from_parser(int64_t ts, AVRational tb)
{
	if (ts == AV_NOPTS_VALUE || tb.num <= 0 || tb.den <= 0)
		return ts;
	return av_rescale_q_rnd(ts, parser_clock, tb, AV_ROUND_NEAR_INF);
}

/* The clamp is said once per stream: the sequence callback runs again after every
 * flush (a looped file) and at every new sequence header. */
static int surfaces_for(nvdec_dec *d, const CUVIDEOFORMAT *fmt)
{
	int wanted;
	int n = nvdec_surfaces(fmt->min_num_decode_surfaces, d->surfaces_cfg, d->in_flight, &wanted);
	if (wanted > n && !d->clamp_warned) {
		d->clamp_warned = 1;
		vp_warn("nvdec", d->stream_id, "%d decode surfaces wanted (%s, minimum %d), NVDEC "
		        "takes at most %d: using %d", wanted,
		        d->surfaces_cfg ? "nvdec.surfaces" : "minimum + nvdec.in_flight + 4",
		        (int)fmt->min_num_decode_surfaces, NVDEC_MAX_SURFACES, n);
	}
	return n;
}

/* Output surfaces at the coded size with no display area set: NVDEC then neither crops
 * nor scales, and the copy takes the shown rectangle out of the surface. */
static void fill_create_info(const nvdec_dec *d, const CUVIDEOFORMAT *fmt, int surfaces,
                             cudaVideoSurfaceFormat out, CUVIDDECODECREATEINFO *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->ulWidth = fmt->coded_width;
	ci->ulHeight = fmt->coded_height;
	ci->ulMaxWidth = fmt->coded_width;
	ci->ulMaxHeight = fmt->coded_height;
	ci->ulNumDecodeSurfaces = (tcu_ulong)surfaces;
	ci->CodecType = fmt->codec;
	ci->ChromaFormat = fmt->chroma_format;
	ci->ulCreationFlags = cudaVideoCreate_PreferCUVID;
	ci->bitDepthMinus8 = fmt->bit_depth_luma_minus8;
	ci->OutputFormat = out;
	ci->DeinterlaceMode = fmt->progressive_sequence ? cudaVideoDeinterlaceMode_Weave
	                                                : cudaVideoDeinterlaceMode_Adaptive;
	ci->ulTargetWidth = fmt->coded_width;
	ci->ulTargetHeight = fmt->coded_height;
	ci->ulNumOutputSurfaces = MAPPED_SURFACES;
	ci->vidLock = d->lock;
}

/* Our colour space for an H.273 matrix code; 0 when it names none we convert. */
static int csp_of(int matrix, vp_colorspace *ret)
{
	if (matrix == AVCOL_SPC_BT709)
		*ret = VP_CSP_BT709;
	else if (matrix == AVCOL_SPC_BT470BG || matrix == AVCOL_SPC_SMPTE170M || matrix == AVCOL_SPC_FCC)
		*ret = VP_CSP_BT601;
	else
		return 0;
	return 1;
}

/* Matrix and range from the sequence header, else the container, else by size, as the
 * software decoder resolves them. */
static void set_color(nvdec_dec *d, const CUVIDEOFORMAT *fmt)
{
	if (!csp_of(fmt->video_signal_description.matrix_coefficients, &d->csp) &&
	    !csp_of(d->par_csp, &d->csp))
		d->csp = d->out_h >= 720 ? VP_CSP_BT709 : VP_CSP_BT601;
	d->full_range = fmt->video_signal_description.video_full_range_flag || d->par_full_range;
}

static int check_format(nvdec_dec *d, const CUVIDEOFORMAT *fmt, cudaVideoSurfaceFormat *out)
{
	int w = fmt->display_area.right - fmt->display_area.left;
	int h = fmt->display_area.bottom - fmt->display_area.top;
	int depth = fmt->bit_depth_luma_minus8 + 8;
	const char *why = "";
	if (fmt->chroma_format != cudaVideoChromaFormat_420) {
		nvdec_note_error(d, "chroma format %d is not 4:2:0", (int)fmt->chroma_format);
		return VP_EUNSUP;
	}
	if ((depth > 8) != (d->pix == VP_PIX_P016) || w > d->max_w || h > d->max_h || w < 1 || h < 1) {
		nvdec_note_error(d, "sequence changed to %dx%d, %d bit; the device frames were made for "
		                 "%dx%d, %s", w, h, depth, d->max_w, d->max_h,
		                 d->pix == VP_PIX_P016 ? "16 bit" : "8 bit");
		return VP_EUNSUP;
	}
	nvdec_need need = { .codec = fmt->codec, .bit_depth = depth,
	                    .width = (int)fmt->coded_width, .height = (int)fmt->coded_height };
	if (nvdec_caps_check(d->rt, &need, out, &why) < 0) {
		nvdec_note_error(d, "%s", why);
		return VP_EUNSUP;
	}
	d->out_w = w;
	d->out_h = h;
	/* Chroma is subsampled 2x2: an odd offset has no chroma row or column of its own. */
	d->crop_x = fmt->display_area.left & ~1;
	d->crop_y = fmt->display_area.top & ~1;
	return 0;
}

static int CUDAAPI on_sequence(void *user, CUVIDEOFORMAT *fmt)
{
	nvdec_dec *d = user;
	cudaVideoSurfaceFormat out;
	if (d->fatal)
		return 0;
	/* A refused sequence must not be decoded by the decoder of the previous one. */
	d->seq_refused = check_format(d, fmt, &out) < 0;
	if (d->seq_refused)
		return 0;
	set_color(d, fmt);
	int surfaces = surfaces_for(d, fmt);
	CUVIDDECODECREATEINFO ci;
	fill_create_info(d, fmt, surfaces, out, &ci);
	if (d->decoder && memcmp(&ci, &d->info, sizeof(ci)) == 0)
		return surfaces;
	if (d->decoder) {
		d->rt->cuvid->cuvidDestroyDecoder(d->decoder);
		d->decoder = NULL;
	}
	CUresult r = d->rt->cuvid->cuvidCreateDecoder(&d->decoder, &ci);
	if (r != CUDA_SUCCESS) {
		/* Without a decoder every later picture is lost: the stream ends here, with
		 * the reason, instead of counting errors for ever. */
		d->decoder = NULL;
		d->fatal = VP_EUNSUP;
		vp_err("nvdec", d->stream_id, "cannot create the NVDEC decoder (%ux%u coded, %d bit, "
		       "%d surfaces): cuvidCreateDecoder: %s; the stream stops", fmt->coded_width,
		       fmt->coded_height, fmt->bit_depth_luma_minus8 + 8, surfaces,
		       nvdec_cu_err(d->rt, r));
		return 0;
	}
	d->info = ci;
	vp_debug("nvdec", d->stream_id, "decoder %ux%u coded, %dx%d shown, %d surfaces (min %d)",
	         fmt->coded_width, fmt->coded_height, d->out_w, d->out_h, surfaces,
	         fmt->min_num_decode_surfaces);
	return surfaces;
}

static int CUDAAPI on_decode(void *user, CUVIDPICPARAMS *pic)
{
	nvdec_dec *d = user;
	if (d->seq_refused) {
		nvdec_note_error(d, "picture dropped: its sequence header was refused");
		return 0;
	}
	if (!d->decoder || d->fatal)
		return 0;
	CUresult r = d->rt->cuvid->cuvidDecodePicture(d->decoder, pic);
	if (r != CUDA_SUCCESS)  /* the picture is lost, the stream goes on */
		nvdec_note_error(d, "cuvidDecodePicture: %s", nvdec_cu_err(d->rt, r));
	return 1;
}

static int CUDAAPI on_display(void *user, CUVIDPARSERDISPINFO *disp)
{
	nvdec_dec *d = user;
	if (!disp)  /* end-of-stream notice */
		return 1;
	if (d->q_n == NVDEC_QUEUE) {
		nvdec_note_error(d, "display queue full: picture dropped");
		return 0;
	}
	d->queue[(d->q_head + d->q_n++) % NVDEC_QUEUE] = *disp;
	return 1;
}

int nvdec_parser_create(nvdec_dec *d)
{
	CUVIDPARSERPARAMS pp;
	memset(&pp, 0, sizeof(pp));
	pp.CodecType = d->codec;
	pp.ulMaxNumDecodeSurfaces = d->surfaces_cfg ? (unsigned)d->surfaces_cfg : 1;
	/* Damaged pictures are still decoded (concealed and flagged), as the software
	 * decoder outputs them, so a stream keeps its frame count past damage. */
	pp.ulErrorThreshold = 100;
	pp.ulMaxDisplayDelay = (unsigned)d->in_flight;
	/* Said, not left to the default: the timestamps nvdec_parse() hands over are in it. */
	pp.ulClockRate = NVDEC_CLOCK_HZ;
	pp.pUserData = d;
	pp.pfnSequenceCallback = on_sequence;
	pp.pfnDecodePicture = on_decode;
	pp.pfnDisplayPicture = on_display;
	CUresult r = d->rt->cuvid->cuvidCreateVideoParser(&d->parser, &pp);
	if (r != CUDA_SUCCESS) {
		d->parser = NULL;
		vp_err("nvdec", d->stream_id, "cuvidCreateVideoParser: %s", nvdec_cu_err(d->rt, r));
		return VP_ENODEV;
	}
	return 0;
}

int nvdec_parse(nvdec_dec *d, const uint8_t *data, int size, int64_t pts, unsigned flags)
{
	CUVIDSOURCEDATAPACKET p;
	memset(&p, 0, sizeof(p));
	p.payload = data;
	p.payload_size = (tcu_ulong)size;
	p.flags = flags;
	int64_t ts = nvdec_ts_to_parser(pts, d->time_base);
	if (ts != AV_NOPTS_VALUE) {
		p.flags |= CUVID_PKT_TIMESTAMP;
		p.timestamp = ts;
		d->ts_seen = 1;
	}
	CUresult r = d->rt->cuvid->cuvidParseVideoData(d->parser, &p);
	if (d->fatal)  /* said once by the sequence callback */
		return d->fatal;
	if (r != CUDA_SUCCESS) {
		if (!d->errors)  /* a callback's own message says more */
			nvdec_note_error(d, "cuvidParseVideoData: %s", nvdec_cu_err(d->rt, r));
		return VP_EDECODE;
	}
	return 0;
}

static int copy_plane(nvdec_dec *d, CUdeviceptr src, unsigned pitch, uint8_t *dst, int dst_pitch,
                      int width_bytes, int rows)
{
	CUDA_MEMCPY2D c;
	memset(&c, 0, sizeof(c));
	c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	c.srcDevice = src;
	c.srcPitch = pitch;
	c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c.dstDevice = (CUdeviceptr)(uintptr_t)dst;
	c.dstPitch = (size_t)dst_pitch;
	c.WidthInBytes = (size_t)width_bytes;
	c.Height = (size_t)rows;
	return d->rt->cu->cuMemcpy2DAsync(&c, d->stream) == CUDA_SUCCESS ? 0 : -EIO;
}

int nvdec_copy_out(nvdec_dec *d, const CUVIDPARSERDISPINFO *disp, vp_frame *f, int *corrupt)
{
	CUVIDPROCPARAMS pp;
	memset(&pp, 0, sizeof(pp));
	pp.progressive_frame = disp->progressive_frame;
	pp.second_field = disp->repeat_first_field + 1;
	pp.top_field_first = disp->top_field_first;
	pp.unpaired_field = disp->repeat_first_field < 0;
	pp.output_stream = d->stream;
	unsigned long long src = 0;
	unsigned pitch = 0;
	CUresult r = d->rt->cuvid->cuvidMapVideoFrame(d->decoder, disp->picture_index, &src, &pitch, &pp);
	if (r != CUDA_SUCCESS) {
		nvdec_note_error(d, "cuvidMapVideoFrame: %s", nvdec_cu_err(d->rt, r));
		return VP_EDECODE;
	}
	CUVIDGETDECODESTATUS st;
	memset(&st, 0, sizeof(st));
	*corrupt = d->rt->cuvid->cuvidGetDecodeStatus(d->decoder, disp->picture_index, &st) ==
	                   CUDA_SUCCESS &&
	           (st.decodeStatus == cuvidDecodeStatus_Error ||
	            st.decodeStatus == cuvidDecodeStatus_Error_Concealed);
	int bps = d->pix == VP_PIX_P016 ? 2 : 1;
	int cw = (d->out_w + 1) / 2, ch = (d->out_h + 1) / 2;
	/* Luma then the interleaved chroma plane, which starts after the (even) surface height. */
	unsigned long long y0 = src + (unsigned long long)pitch * d->crop_y + (unsigned)(d->crop_x * bps);
	unsigned long long uv = src + (unsigned long long)pitch * ((d->info.ulTargetHeight + 1) & ~1ul) +
	                        (unsigned long long)pitch * (d->crop_y / 2) + (unsigned)(d->crop_x * bps);
	int ret = copy_plane(d, (CUdeviceptr)y0, pitch, f->data[0], f->linesize[0], d->out_w * bps,
	                     d->out_h);
	if (ret == 0)
		ret = copy_plane(d, (CUdeviceptr)uv, pitch, f->data[1], f->linesize[1], 2 * cw * bps, ch);
	/* The surface goes back to NVDEC only once the copies have read it. */
	CUresult sr = d->rt->cu->cuStreamSynchronize(d->stream);
	d->rt->cuvid->cuvidUnmapVideoFrame(d->decoder, src);
	if (ret < 0 || sr != CUDA_SUCCESS) {
		nvdec_note_error(d, "device-to-device copy of a decoded picture failed: %s",
		                 nvdec_cu_err(d->rt, sr != CUDA_SUCCESS ? sr : CUDA_ERROR_UNKNOWN));
		return VP_EDECODE;
	}
	f->width = d->out_w;
	f->height = d->out_h;
	f->csp = d->csp;
	f->full_range = d->full_range;
	return 0;
}
