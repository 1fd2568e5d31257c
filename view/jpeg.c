/* JPEG pictures: a canvas (or part of it) through libswscale to full-range YUV 4:2:0 and
 * libavcodec's mjpeg encoder, whose context stays open while the picture size stays. The
 * result is a refcounted view_jpeg shared by every reader. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

#include "../pipeline/vp_log.h"
#include "render.h"

struct view_jpeg_enc {
	int qscale;                  /* 1 (best) .. 31 */
	AVCodecContext *ctx;         /* open for w x h */
	int w, h;
	struct SwsContext *sws;
	int sws_w, sws_h;
	AVFrame *frame;
	AVPacket *pkt;
	int64_t pts;
};

view_jpeg *view_jpeg_ref(view_jpeg *j)
{
	if (j)
		atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed);
	return j;
}

void view_jpeg_unref(view_jpeg **pj)
{
	view_jpeg *j = *pj;
	*pj = NULL;
	if (j && atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1)
		free(j);
}

int view_jpeg_enc_new(int quality, view_jpeg_enc **ret)
{
	view_jpeg_enc *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	quality = quality < 1 ? 1 : quality > 100 ? 100 : quality;
	e->qscale = 1 + (100 - quality) * 30 / 99;
	e->frame = av_frame_alloc();
	e->pkt = av_packet_alloc();
	if (!e->frame || !e->pkt) {
		view_jpeg_enc_free(&e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

void view_jpeg_enc_free(view_jpeg_enc **pe)
{
	view_jpeg_enc *e = *pe;
	if (!e)
		return;
	*pe = NULL;
	avcodec_free_context(&e->ctx);
	sws_freeContext(e->sws);
	av_frame_free(&e->frame);
	av_packet_free(&e->pkt);
	free(e);
}

static int av_code(int r) { return r == AVERROR(ENOMEM) ? -ENOMEM : r; }

/* (Re)opens the encoder and its frame for w x h; a no-op while the size stays. */
static int open_for(view_jpeg_enc *e, int w, int h)
{
	if (e->ctx && e->w == w && e->h == h)
		return 0;
	avcodec_free_context(&e->ctx);
	av_frame_unref(e->frame);
	e->w = e->h = 0;
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	if (!codec) {
		vp_err("view", NULL, "jpeg: this FFmpeg has no mjpeg encoder");
		return -ENOSYS;
	}
	if (!(e->ctx = avcodec_alloc_context3(codec)))
		return -ENOMEM;
	e->ctx->width = w;
	e->ctx->height = h;
	e->ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
	e->ctx->color_range = AVCOL_RANGE_JPEG;
	e->ctx->time_base = (AVRational){ 1, 25 };
	e->ctx->flags |= AV_CODEC_FLAG_QSCALE;
	e->ctx->global_quality = e->qscale * FF_QP2LAMBDA;
	int r = avcodec_open2(e->ctx, codec, NULL);
	if (r >= 0) {
		e->frame->format = AV_PIX_FMT_YUVJ420P;
		e->frame->width = w;
		e->frame->height = h;
		e->frame->color_range = AVCOL_RANGE_JPEG;
		r = av_frame_get_buffer(e->frame, 0);
	}
	if (r < 0) {
		vp_err("view", NULL, "jpeg: cannot open the encoder at %dx%d: %s", w, h, av_err2str(r));
		avcodec_free_context(&e->ctx);
		av_frame_unref(e->frame);
		return av_code(r);
	}
	e->w = w;
	e->h = h;
	return 0;
}

/* BGRA part r of the canvas into the encoder's frame (full-range BT.601, as JFIF says). */
static int convert(view_jpeg_enc *e, view_canvas *c, const view_rect *r)
{
	struct SwsContext *prev = e->sws;
	int remade = !prev || r->w != e->sws_w || r->h != e->sws_h;
	e->sws = sws_getCachedContext(e->sws, r->w, r->h, AV_PIX_FMT_BGRA, r->w, r->h, AV_PIX_FMT_YUV420P,
	                              SWS_BILINEAR, NULL, NULL, NULL);
	if (!e->sws)
		return -ENOMEM;
	/* A remade context may reuse the old address: the size says whether it was remade. */
	if (remade || e->sws != prev) {
		e->sws_w = r->w;
		e->sws_h = r->h;
		const int *coefs = sws_getCoefficients(SWS_CS_ITU601);
		(void)sws_setColorspaceDetails(e->sws, coefs, 1, coefs, 1, 0, 1 << 16, 1 << 16);
	}
	int stride, rc = av_frame_make_writable(e->frame);
	if (rc < 0)
		return av_code(rc);
	const uint8_t *src[4] = { view_canvas_pixels(c, &stride), NULL, NULL, NULL };
	src[0] += (int64_t)r->y * stride + (int64_t)r->x * 4;
	int sls[4] = { stride, 0, 0, 0 };
	rc = sws_scale(e->sws, src, sls, 0, r->h, e->frame->data, e->frame->linesize);
	return rc == r->h ? 0 : rc < 0 ? rc : -EIO;
}

static int clip_crop(const view_canvas *c, const view_rect *crop, view_rect *ret)
{
	int w = view_canvas_width(c), h = view_canvas_height(c);
	view_rect r = crop ? *crop : (view_rect){ 0, 0, w, h };
	int x1 = r.x + r.w > w ? w : r.x + r.w, y1 = r.y + r.h > h ? h : r.y + r.h;
	r.x = r.x < 0 ? 0 : r.x & ~1;
	r.y = r.y < 0 ? 0 : r.y & ~1;
	r.w = (x1 - r.x) & ~1;
	r.h = (y1 - r.y) & ~1;
	if (r.w < 2 || r.h < 2)
		return -EINVAL;
	*ret = r;
	return 0;
}

static int take_packet(view_jpeg_enc *e, int w, int h, view_jpeg **ret)
{
	view_jpeg *j = malloc(sizeof(*j) + (size_t)e->pkt->size);
	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 1);
	j->width = w;
	j->height = h;
	j->gen = 0;
	j->wall_us = 0;
	j->len = (size_t)e->pkt->size;
	memcpy(j->data, e->pkt->data, j->len);
	*ret = j;
	return 0;
}

int view_jpeg_encode(view_jpeg_enc *e, view_canvas *c, const view_rect *crop, view_jpeg **ret)
{
	view_rect r;
	int rc;
	if (clip_crop(c, crop, &r) < 0) {
		vp_err("view", NULL, "jpeg: empty picture or crop");
		return -EINVAL;
	}
	if ((rc = open_for(e, r.w, r.h)) < 0)
		return rc;
	if ((rc = convert(e, c, &r)) < 0) {
		vp_err("view", NULL, "jpeg: colour conversion failed: %s", av_err2str(rc));
		return rc;
	}
	e->frame->pts = e->pts++;
	e->frame->quality = e->ctx->global_quality;
	if ((rc = avcodec_send_frame(e->ctx, e->frame)) < 0 ||
	    (rc = avcodec_receive_packet(e->ctx, e->pkt)) < 0) {
		vp_err("view", NULL, "jpeg: encoding failed: %s", av_err2str(rc));
		return av_code(rc);
	}
	rc = take_packet(e, r.w, r.h, ret);
	av_packet_unref(e->pkt);
	return rc;
}
