/* Decoder row: NVDEC (Video Codec SDK) through ffnvcodec's dynlink loader. Packets from
 * mp4/mkv go through the *_mp4toannexb bitstream filter to the CUVID parser; decoded
 * surfaces are copied device-to-device into a pool of device frames (NV12 or P016)
 * allocated at open. Every driver call runs with the device's primary context pushed,
 * the same context the CUDA runtime (preprocessing, inference) uses. */
#include "dec_priv.h"
#include "nvdec_priv.h"

#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

static int push(nvdec_dec *d)
{
	CUresult r = d->rt->cu->cuCtxPushCurrent(d->ctx);
	if (r != CUDA_SUCCESS) {
		nvdec_note_error(d, "cuCtxPushCurrent: %s", nvdec_cu_err(d->rt, r));
		return VP_ENODEV;
	}
	return 0;
}

static void pop(nvdec_dec *d)
{
	CUcontext dummy;
	d->rt->cu->cuCtxPopCurrent(&dummy);
}

static int nv_probe(const AVCodecParameters *par, int gpu, const char **why)
{
	const nvdec_rt *rt = nvdec_runtime(why);
	if (!rt)
		return VP_ENODEV;
	nvdec_need need;
	int r = nvdec_need_of(par, &need, why);
	if (r < 0)
		return r;
	if (gpu < 0 || gpu >= rt->devices) {
		*why = "pipeline.device names no visible CUDA device";
		return VP_ENODEV;
	}
	CUdevice dev;
	CUcontext ctx, dummy;
	if (rt->cu->cuDeviceGet(&dev, gpu) != CUDA_SUCCESS ||
	    rt->cu->cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS) {
		*why = "cannot open the CUDA device";
		return VP_ENODEV;
	}
	cudaVideoSurfaceFormat fmt;
	r = VP_ENODEV;
	*why = "cannot make the CUDA device current";
	if (rt->cu->cuCtxPushCurrent(ctx) == CUDA_SUCCESS) {
		r = nvdec_caps_check(rt, &need, &fmt, why);
		rt->cu->cuCtxPopCurrent(&dummy);
	}
	rt->cu->cuDevicePrimaryCtxRelease(dev);
	return r;
}

static void nv_close(void **priv)
{
	nvdec_dec *d = *priv;
	if (!d)
		return;
	*priv = NULL;
	if (d->ctx && push(d) == 0) {
		if (d->parser)
			d->rt->cuvid->cuvidDestroyVideoParser(d->parser);
		if (d->decoder)
			d->rt->cuvid->cuvidDestroyDecoder(d->decoder);
		if (d->stream)
			d->rt->cu->cuStreamDestroy(d->stream);
		if (d->lock)
			d->rt->cuvid->cuvidCtxLockDestroy(d->lock);
		pop(d);
	}
	if (d->ctx)
		d->rt->cu->cuDevicePrimaryCtxRelease(d->dev);
	/* The pool keeps its own context reference while frames are still out. */
	vp_frame_pool_free(&d->pool);
	av_bsf_free(&d->bsf);
	av_packet_free(&d->in_pkt);
	av_packet_free(&d->out_pkt);
	free(d);
}

/* mp4/mkv carry length-prefixed NAL units; the parser wants Annex B start codes. The
 * filter passes streams that are Annex B already through. */
static int setup_bitstream(nvdec_dec *d, const AVCodecParameters *par)
{
	d->in_pkt = av_packet_alloc();
	d->out_pkt = av_packet_alloc();
	if (!d->in_pkt || !d->out_pkt)
		return -ENOMEM;
	const char *name = par->codec_id == AV_CODEC_ID_H264   ? "h264_mp4toannexb"
	                   : par->codec_id == AV_CODEC_ID_HEVC ? "hevc_mp4toannexb"
	                                                       : NULL;
	if (!name) {
		/* AV1: mp4/mkv give an av1C record (first byte: marker bit set, version 1) whose
		 * configOBUs follow its 4-byte header; other demuxers give the OBUs themselves,
		 * whose first byte has the forbidden bit clear. */
		if (par->extradata_size > 4 && (par->extradata[0] & 0x80)) {
			d->hdr = par->extradata + 4;
			d->hdr_len = par->extradata_size - 4;
		} else if (par->extradata_size > 0) {
			d->hdr = par->extradata;
			d->hdr_len = par->extradata_size;
		}
		return 0;
	}
	const AVBitStreamFilter *f = av_bsf_get_by_name(name);
	int r;
	if (!f || av_bsf_alloc(f, &d->bsf) < 0)
		return -ENOMEM;
	if ((r = avcodec_parameters_copy(d->bsf->par_in, par)) < 0 || (r = av_bsf_init(d->bsf)) < 0) {
		vp_err("nvdec", d->stream_id, "cannot set up %s: %s", name, av_err2str(r));
		return VP_EDECODE;
	}
	d->hdr = d->bsf->par_out->extradata;
	d->hdr_len = d->bsf->par_out->extradata_size;
	return 0;
}

static int setup_device(nvdec_dec *d, const AVCodecParameters *par, const dec_decoder_args *args)
{
	const char *why = "";
	nvdec_need need;
	cudaVideoSurfaceFormat fmt;
	int r;
	if ((r = nvdec_need_of(par, &need, &why)) < 0 || args->gpu < 0 || args->gpu >= d->rt->devices ||
	    d->rt->cu->cuDeviceGet(&d->dev, args->gpu) != CUDA_SUCCESS) {
		vp_err("nvdec", d->stream_id, "cannot decode on CUDA device %d: %s", args->gpu,
		       r < 0 ? why : "no such device");
		return r < 0 ? r : VP_ENODEV;
	}
	if ((r = nvdec_ctx_retain(d->rt, d->dev, &d->ctx)) < 0) {
		d->ctx = NULL;
		return r;
	}
	if ((r = push(d)) < 0)
		return r;
	r = nvdec_caps_check(d->rt, &need, &fmt, &why);
	if (r < 0)
		vp_err("nvdec", d->stream_id, "NVDEC cannot decode this stream: %s", why);
	else if (d->rt->cuvid->cuvidCtxLockCreate(&d->lock, d->ctx) != CUDA_SUCCESS ||
	         d->rt->cu->cuStreamCreate(&d->stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS)
		r = VP_ENODEV;
	if (r == 0)
		r = nvdec_parser_create(d);
	pop(d);
	if (r < 0)
		return r;
	d->codec = need.codec;
	d->max_w = need.width;
	d->max_h = need.height;
	d->pix = fmt == cudaVideoSurfaceFormat_P016 ? VP_PIX_P016 : VP_PIX_NV12;
	return nvdec_pool_new(d->rt, d->dev, args->pool_size, d->max_w, d->max_h, d->pix, &d->pool);
}

static int nv_open(const AVCodecParameters *par, const dec_decoder_args *args, void **ret_priv)
{
	const char *why = "";
	const nvdec_rt *rt = nvdec_runtime(&why);
	if (!rt) {
		vp_err("nvdec", args->stream_id, "NVDEC unavailable: %s", why);
		return VP_ENODEV;
	}
	nvdec_dec *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->rt = rt;
	d->stream_id = args->stream_id;
	d->surfaces_cfg = args->nvdec_surfaces;
	d->in_flight = args->nvdec_in_flight;
	d->time_base = args->time_base;
	d->par_csp = par->color_space;
	d->par_full_range = par->color_range == AVCOL_RANGE_JPEG;
	/* The codec is needed before the parser exists. */
	nvdec_need need;
	int r = nvdec_need_of(par, &need, &why);
	if (r == 0) {
		d->codec = need.codec;
		r = setup_bitstream(d, par);
	}
	if (r == 0)
		r = setup_device(d, par, args);
	if (r < 0) {
		void *p = d;
		nv_close(&p);
		return r;
	}
	*ret_priv = d;
	return 0;
}

static int feed_header(nvdec_dec *d)
{
	d->hdr_sent = 1;
	return d->hdr_len > 0 ? nvdec_parse(d, d->hdr, d->hdr_len, AV_NOPTS_VALUE, 0) : 0;
}

/* Every packet goes to the parser with CUVID_PKT_ENDOFPICTURE ("the packet contains
 * exactly one frame or one field", nvcuvid.h), so a picture is decoded in the call that
 * brought it, not when the next one starts (one frame less latency). That holds for what
 * libavformat hands us:
 * - H.264/HEVC: mp4/mkv samples are whole access units, and TS, raw and RTSP input goes
 *   through libavformat's parser, which cuts whole access units too. Field-coded (PAFF)
 *   H.264 may come one field per packet (TS; the second field often has no timestamp and
 *   the frame keeps the first one's): the "one field" case. Where a sample holds both
 *   fields, the parser finds the second one at its first slice header as it does without
 *   the flag; the flag only says that the packet ends with that field, which it does.
 * - AV1: a packet is a temporal unit, which shows exactly one frame but may carry hidden
 *   frames before it (alt-refs, shown later by show_existing_frame). OBU headers delimit
 *   every frame, so the parser needs no hint to split them; the flag again only says that
 *   the data ends on a frame boundary, which a temporal unit always does. (Which
 *   timestamp the later display of a hidden frame gets is the parser's: gpu_nvdec
 *   compares every pts with the software decoder's.)
 * FFmpeg's cuviddec leaves the flag off and pays the frame of latency; NVIDIA's low-latency
 * sample sets it per demuxed packet as here. Parameter sets fed alone (feed_header) carry
 * no picture and no flag. A source that split pictures across packets would need it off. */
static int feed_filtered(nvdec_dec *d, const AVPacket *pkt)
{
	if (!d->bsf)
		return nvdec_parse(d, pkt->data, pkt->size, pkt->pts, CUVID_PKT_ENDOFPICTURE);
	int r = av_packet_ref(d->in_pkt, pkt);
	if (r < 0)
		return -ENOMEM;
	r = av_bsf_send_packet(d->bsf, d->in_pkt);
	if (r < 0) {
		av_packet_unref(d->in_pkt);
		nvdec_note_error(d, "bitstream filter refused a packet: %s", av_err2str(r));
		return VP_EDECODE;
	}
	int ret = 0;
	while ((r = av_bsf_receive_packet(d->bsf, d->out_pkt)) == 0) {
		int pr = nvdec_parse(d, d->out_pkt->data, d->out_pkt->size, d->out_pkt->pts,
		                     CUVID_PKT_ENDOFPICTURE);
		av_packet_unref(d->out_pkt);
		if (pr < 0)
			ret = pr;
	}
	if (r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
		nvdec_note_error(d, "bitstream filter: %s (damaged NAL unit lengths?)", av_err2str(r));
		ret = VP_EDECODE;
	}
	return ret;
}

static int nv_send(void *priv, const AVPacket *pkt)
{
	nvdec_dec *d = priv;
	/* Pictures still queued would be overwritten by what this packet decodes. */
	if (pkt && d->q_n > 0)
		return VP_EAGAIN;
	if (d->closed || d->eos)
		return 0;
	if (d->fatal)  /* the next receive reports it */
		return 0;
	int r = push(d);
	if (r < 0)
		return r;
	if (!d->hdr_sent)
		r = feed_header(d);
	if (pkt) {
		int fr = feed_filtered(d, pkt);
		r = fr < 0 ? fr : r;
	} else {
		d->eos = 1;
		int er = nvdec_parse(d, NULL, 0, AV_NOPTS_VALUE, CUVID_PKT_ENDOFSTREAM);
		r = er < 0 ? er : r;
	}
	pop(d);
	if (d->fatal)
		return 0;
	return r < 0 ? VP_EDECODE : 0;
}

static int nv_receive(void *priv, vp_frame **ret, int64_t *ret_ts, int *corrupt)
{
	nvdec_dec *d = priv;
	if (d->closed)
		return VP_ECLOSED;
	if (d->fatal)
		return d->fatal;
	if (d->q_n == 0)
		return d->eos ? VP_EOF : VP_EAGAIN;
	vp_frame *f = vp_frame_pool_get(d->pool);
	if (!f) {
		d->closed = 1;
		return VP_ECLOSED;
	}
	CUVIDPARSERDISPINFO disp = d->queue[d->q_head];
	d->q_head = (d->q_head + 1) % NVDEC_QUEUE;
	d->q_n--;
	int r = push(d);
	if (r == 0) {
		r = nvdec_copy_out(d, &disp, f, corrupt);
		pop(d);
	}
	if (r < 0) {
		vp_frame_unref(&f);
		return VP_EDECODE;
	}
	*ret_ts = d->ts_seen ? nvdec_ts_from_parser(disp.timestamp, d->time_base) : AV_NOPTS_VALUE;
	*ret = f;
	return 0;
}

/* A fresh parser forgets everything buffered; the decoder is kept and reused when the
 * next sequence header matches it. */
static void nv_flush(void *priv)
{
	nvdec_dec *d = priv;
	d->q_head = d->q_n = 0;
	d->eos = 0;
	d->hdr_sent = 0;
	if (d->bsf)
		av_bsf_flush(d->bsf);
	if (push(d) < 0)
		return;
	if (d->parser)
		d->rt->cuvid->cuvidDestroyVideoParser(d->parser);
	d->parser = NULL;
	if (nvdec_parser_create(d) < 0)
		d->closed = 1;
	pop(d);
}

static int nv_take_errors(void *priv, char *msg, size_t n)
{
	nvdec_dec *d = priv;
	int count = d->errors;
	d->errors = 0;
	snprintf(msg, n, "%s", d->last_err);
	return count;
}

static vp_frame_pool *nv_pool(void *priv)
{
	return ((nvdec_dec *)priv)->pool;
}

const dec_decoder_ops dec_decoder_nvdec = {
	.name = "nvdec",
	.kind = PIPE_DEC_NVDEC,
	.probe = nv_probe,
	.open = nv_open,
	.send = nv_send,
	.receive = nv_receive,
	.flush = nv_flush,
	.take_errors = nv_take_errors,
	.pool = nv_pool,
	.close = nv_close,
};
