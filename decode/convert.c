/* Pixel formats the rest of vapd does not take (4:2:2 and 4:4:4 streams, YUYV and MJPEG
 * cameras) converted to 8-bit YUV420P, limited range, with swscale. Output buffers come
 * from a buffer pool, so after the first frames nothing is allocated per frame. */
#include "dec_priv.h"

#include <stdlib.h>

#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "../pipeline/vp_err.h"

#define CONV_ALIGN 32

struct dec_convert {
	struct SwsContext *sws;
	AVBufferPool *bufs;
	int w, h, src_fmt, src_full;
};

int dec_format_direct(int format)
{
	return format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P ||
	       format == AV_PIX_FMT_NV12 || format == AV_PIX_FMT_YUV420P10LE;
}

int dec_format_convertible(int format)
{
	return sws_isSupportedInput(format) > 0;
}

int dec_convert_new(dec_convert **ret)
{
	dec_convert *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->src_fmt = AV_PIX_FMT_NONE;
	*ret = c;
	return 0;
}

void dec_convert_free(dec_convert **pc)
{
	dec_convert *c = *pc;
	if (!c)
		return;
	*pc = NULL;
	sws_freeContext(c->sws);
	/* Buffers still held by frames outlive the pool until they are unreferenced. */
	av_buffer_pool_uninit(&c->bufs);
	free(c);
}

static int full_range(const AVFrame *f)
{
	return f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ422P ||
	       f->format == AV_PIX_FMT_YUVJ444P || f->format == AV_PIX_FMT_YUVJ440P;
}

/* (Re)builds the scaler and buffer pool when the input's size or format changes. */
static int setup(dec_convert *c, const AVFrame *src)
{
	int full = full_range(src);
	if (c->sws && src->width == c->w && src->height == c->h && src->format == c->src_fmt &&
	    full == c->src_full)
		return 0;
	sws_freeContext(c->sws);
	av_buffer_pool_uninit(&c->bufs);
	/* Same size: only chroma is resampled; bilinear is plenty for that. */
	c->sws = sws_getContext(src->width, src->height, src->format, src->width, src->height,
	                        AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	int size = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, src->width, src->height, CONV_ALIGN);
	if (!c->sws || size < 0)
		return c->sws ? VP_EUNSUP : -ENOMEM;
	c->bufs = av_buffer_pool_init((size_t)size, NULL);
	if (!c->bufs)
		return -ENOMEM;
	/* Keep the source matrix; only the range changes (to limited). */
	const int *coefs = sws_getCoefficients(src->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
	                                                                           : SWS_CS_ITU601);
	sws_setColorspaceDetails(c->sws, coefs, full, coefs, 0, 0, 1 << 16, 1 << 16);
	c->w = src->width;
	c->h = src->height;
	c->src_fmt = src->format;
	c->src_full = full;
	return 0;
}

int dec_convert_frame(dec_convert *c, const AVFrame *src, AVFrame *dst)
{
	int r = setup(c, src);
	if (r < 0)
		return r;
	dst->buf[0] = av_buffer_pool_get(c->bufs);
	if (!dst->buf[0])
		return -ENOMEM;
	r = av_image_fill_arrays(dst->data, dst->linesize, dst->buf[0]->data, AV_PIX_FMT_YUV420P,
	                         src->width, src->height, CONV_ALIGN);
	if (r < 0)
		goto fail;
	/* The fields the decoder reads, without av_frame_copy_props's side-data copies. */
	dst->pts = src->pts;
	dst->best_effort_timestamp = src->best_effort_timestamp;
	dst->flags = src->flags;
	dst->decode_error_flags = src->decode_error_flags;
	dst->colorspace = src->colorspace;
	dst->format = AV_PIX_FMT_YUV420P;
	dst->width = src->width;
	dst->height = src->height;
	dst->color_range = AVCOL_RANGE_MPEG;
	r = sws_scale(c->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
	              dst->data, dst->linesize);
	if (r < 0)
		goto fail;
	return 0;
fail:
	av_frame_unref(dst);
	return VP_EDECODE;
}
