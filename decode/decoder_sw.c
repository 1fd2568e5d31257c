/* Decoder row: libavcodec in software, frame-threaded. Frames are zero-copy: the decoded
 * AVFrame is moved into the pool slot's own AVFrame (vp_frame.opaque) and unreferenced
 * when the vp_frame's last reference goes. */
#include "dec_priv.h"

#include <stdlib.h>
#include <unistd.h>

#include <libavutil/pixdesc.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

/* Frame threads beyond this gain little for the sizes we decode and add latency. */
#define SW_MAX_THREADS 8

typedef struct sw_dec {
	AVCodecContext *ctx;
	AVFrame *tmp;           /* receives the codec's frame before a pool slot is taken */
	vp_frame_pool *pool;
	const char *stream_id;
	dec_errsink errors;
	dec_convert *conv;      /* created at the first frame that needs it */
} sw_dec;

static void slot_release(void *ctx, vp_frame *f)
{
	(void)ctx;
	av_frame_unref(f->opaque);
}

static void slot_destroy(void *ctx, vp_frame *f)
{
	(void)ctx;
	AVFrame *av = f->opaque;
	av_frame_free(&av);
	f->opaque = NULL;
}

static int sw_probe(const AVCodecParameters *par, int gpu, const char **why)
{
	(void)gpu;
	if (!avcodec_find_decoder(par->codec_id)) {
		*why = "no libavcodec decoder for this codec";
		return VP_EUNSUP;
	}
	/* Known at open for most streams: reject now rather than at the first frame. */
	if (par->format != AV_PIX_FMT_NONE && !dec_format_direct(par->format) &&
	    !dec_format_convertible(par->format)) {
		*why = "pixel format neither supported nor convertible to yuv420p";
		return VP_EUNSUP;
	}
	return 0;
}

static int thread_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > SW_MAX_THREADS ? SW_MAX_THREADS : (int)n;
}

static void sw_close(void **priv)
{
	sw_dec *d = *priv;
	if (!d)
		return;
	*priv = NULL;
	avcodec_free_context(&d->ctx);
	av_frame_free(&d->tmp);
	/* Frames still held elsewhere keep the pool alive until their last unref. */
	vp_frame_pool_free(&d->pool);
	dec_convert_free(&d->conv);
	dec_errsink_destroy(&d->errors);
	free(d);
}

static int make_pool(sw_dec *d, int n)
{
	int r = vp_frame_pool_new(n, slot_release, slot_destroy, NULL, &d->pool);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		vp_frame *f = vp_frame_pool_slot(d->pool, i);
		f->opaque = av_frame_alloc();
		if (!f->opaque)
			return -ENOMEM;
	}
	return 0;
}

static int sw_open(const AVCodecParameters *par, const dec_decoder_args *args, void **ret_priv)
{
	sw_dec *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->stream_id = args->stream_id;
	dec_errsink_init(&d->errors);
	const AVCodec *codec = avcodec_find_decoder(par->codec_id);
	int r = -ENOMEM;
	if (!codec) {
		r = VP_EUNSUP;
		goto fail;
	}
	d->ctx = avcodec_alloc_context3(codec);
	d->tmp = av_frame_alloc();
	if (!d->ctx || !d->tmp || (r = make_pool(d, args->pool_size)) < 0)
		goto fail;
	r = avcodec_parameters_to_context(d->ctx, par);
	if (r < 0)
		goto fail;
	d->ctx->opaque = &d->errors;
	d->ctx->thread_count = thread_count();
	/* Frame threads hold thread_count frames back: fine for files, too much latency live. */
	d->ctx->thread_type = args->low_delay ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
	if (args->low_delay)
		d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
	/* Concealed frames still come out (flagged), so the stream keeps going past damage. */
	d->ctx->flags |= AV_CODEC_FLAG_OUTPUT_CORRUPT;
	r = avcodec_open2(d->ctx, codec, NULL);
	if (r < 0) {
		vp_err("decode", args->stream_id, "cannot open the %s decoder: %s", codec->name,
		       av_err2str(r));
		r = VP_EUNSUP;
		goto fail;
	}
	*ret_priv = d;
	return 0;
fail:;
	void *p = d;
	sw_close(&p);
	return r;
}

static int sw_send(void *priv, const AVPacket *pkt)
{
	sw_dec *d = priv;
	int r = avcodec_send_packet(d->ctx, pkt);
	if (r == AVERROR(EAGAIN))
		return VP_EAGAIN;
	if (r == AVERROR_EOF)
		return 0;
	return r < 0 ? VP_EDECODE : 0;
}

/* Maps the libavcodec format; YUVJ420P is YUV420P with full range. */
static int map_format(const AVFrame *av, vp_pixfmt *fmt, int *full_range)
{
	*full_range = av->color_range == AVCOL_RANGE_JPEG;
	switch (av->format) {
	case AV_PIX_FMT_YUVJ420P:
		*full_range = 1;
		/* fall through */
	case AV_PIX_FMT_YUV420P: *fmt = VP_PIX_YUV420P; return 0;
	case AV_PIX_FMT_NV12: *fmt = VP_PIX_NV12; return 0;
	case AV_PIX_FMT_YUV420P10LE: *fmt = VP_PIX_YUV420P10; return 0;
	default: return VP_EUNSUP;
	}
}

static vp_colorspace map_colorspace(const AVFrame *av)
{
	switch (av->colorspace) {
	case AVCOL_SPC_BT709: return VP_CSP_BT709;
	case AVCOL_SPC_BT470BG:
	case AVCOL_SPC_SMPTE170M:
	case AVCOL_SPC_FCC: return VP_CSP_BT601;
	default: return av->height >= 720 ? VP_CSP_BT709 : VP_CSP_BT601;
	}
}

static int fill_frame(sw_dec *d, vp_frame *f)
{
	AVFrame *av = f->opaque;
	if (map_format(av, &f->fmt, &f->full_range) < 0) {
		const char *name = av_get_pix_fmt_name(av->format);
		vp_err("decode", d->stream_id, "pixel format %s is not supported (yuv420p, nv12, "
		       "yuv420p10le are)", name ? name : "unknown");
		return VP_EUNSUP;
	}
	f->width = av->width;
	f->height = av->height;
	f->mem = VP_MEM_HOST;
	f->csp = map_colorspace(av);
	for (int i = 0; i < 3; i++) {
		f->data[i] = av->data[i];
		f->linesize[i] = av->linesize[i];
	}
	return 0;
}

/* Moves the decoded picture into the slot, through swscale when vp_frame has no name for
 * its format. */
static int take_picture(sw_dec *d, AVFrame *slot)
{
	if (dec_format_direct(d->tmp->format)) {
		av_frame_move_ref(slot, d->tmp);
		return 0;
	}
	int r = 0;
	if (!d->conv) {
		const char *name = av_get_pix_fmt_name(d->tmp->format);
		if (!dec_format_convertible(d->tmp->format) || (r = dec_convert_new(&d->conv)) < 0) {
			vp_err("decode", d->stream_id, "pixel format %s is not supported",
			       name ? name : "unknown");
			av_frame_unref(d->tmp);
			return VP_EUNSUP;
		}
		vp_info("decode", d->stream_id, "converting %s frames to yuv420p", name ? name : "?");
	}
	r = dec_convert_frame(d->conv, d->tmp, slot);
	av_frame_unref(d->tmp);
	return r;
}

static int sw_receive(void *priv, vp_frame **ret, int64_t *ret_ts, int *corrupt)
{
	sw_dec *d = priv;
	int r = avcodec_receive_frame(d->ctx, d->tmp);
	if (r == AVERROR(EAGAIN))
		return VP_EAGAIN;
	if (r == AVERROR_EOF)
		return VP_EOF;
	if (r < 0)
		return VP_EDECODE;
	vp_frame *f = vp_frame_pool_get(d->pool);
	if (!f) {
		av_frame_unref(d->tmp);
		return VP_ECLOSED;
	}
	r = take_picture(d, f->opaque);
	if (r == 0)
		r = fill_frame(d, f);
	if (r < 0) {
		vp_frame_unref(&f);
		return r;
	}
	const AVFrame *av = f->opaque;
	*ret_ts = av->best_effort_timestamp;
	*corrupt = (av->flags & AV_FRAME_FLAG_CORRUPT) || av->decode_error_flags;
	*ret = f;
	return 0;
}

static void sw_flush(void *priv)
{
	sw_dec *d = priv;
	avcodec_flush_buffers(d->ctx);
}

static int sw_take_errors(void *priv, char *msg, size_t n)
{
	return dec_errsink_take(&((sw_dec *)priv)->errors, msg, n);
}

static vp_frame_pool *sw_pool(void *priv)
{
	return ((sw_dec *)priv)->pool;
}

const dec_decoder_ops dec_decoder_sw = {
	.name = "software",
	.kind = PIPE_DEC_SOFTWARE,
	.probe = sw_probe,
	.open = sw_open,
	.send = sw_send,
	.receive = sw_receive,
	.flush = sw_flush,
	.take_errors = sw_take_errors,
	.pool = sw_pool,
	.close = sw_close,
};
