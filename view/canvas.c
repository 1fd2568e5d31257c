/* The canvas: one BGRA buffer (Cairo ARGB32) allocated at the largest picture, a frame
 * scaled into it by libswscale (host frames) or by the GPU box scaler first (device
 * frames: only the small NV12 picture crosses to the host, then libswscale converts it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <libavutil/mem.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

#include "../kernels/view_scale.h"
#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "render.h"

#ifdef VP_HAVE_CUDA
#include "../kernels/cuda_util.h"
#endif

/* The GPU side, set up on the first device frame: the small NV12 picture on the device
 * and its pinned host copy, both at the canvas's largest size. */
typedef struct canvas_gpu {
	int gpu;                     /* -1: not set up */
	void *stream;                /* cudaStream_t */
	uint8_t *dev, *host;
	int ls;                      /* row stride of both */
} canvas_gpu;

struct view_canvas {
	int max_w, max_h, stride;
	uint8_t *buf;
	int w, h;
	view_rect src;
	cairo_surface_t *surf;
	struct SwsContext *sws;
	int sws_key[7];              /* what sws was last set up for (source, size, colour) */
	canvas_gpu g;
};

int view_canvas_new(int max_w, int max_h, view_canvas **ret)
{
	if (max_w < 2 || max_h < 2 || max_w > 16384 || max_h > 16384) {
		vp_err("view", NULL, "canvas size %dx%d out of range (2-16384)", max_w, max_h);
		return -EINVAL;
	}
	view_canvas *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->max_w = max_w;
	c->max_h = max_h;
	c->g.gpu = -1;
	/* Rows aligned for swscale's vector stores; Cairo needs only 4. */
	c->stride = (cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, max_w) + 63) & ~63;
	c->buf = av_mallocz((size_t)c->stride * (size_t)max_h);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

static void gpu_free(canvas_gpu *g)
{
#ifdef VP_HAVE_CUDA
	if (g->gpu < 0)
		return;
	if (g->stream) {
		cudaStreamSynchronize((cudaStream_t)g->stream);
		cudaStreamDestroy((cudaStream_t)g->stream);
	}
	cudaFree(g->dev);
	cudaFreeHost(g->host);
#endif
	memset(g, 0, sizeof(*g));
	g->gpu = -1;
}

void view_canvas_free(view_canvas **pc)
{
	view_canvas *c = *pc;
	if (!c)
		return;
	*pc = NULL;
	gpu_free(&c->g);
	if (c->surf)
		cairo_surface_destroy(c->surf);
	sws_freeContext(c->sws);
	av_free(c->buf);
	free(c);
}

int view_canvas_width(const view_canvas *c) { return c->w; }
int view_canvas_height(const view_canvas *c) { return c->h; }
view_rect view_canvas_source(const view_canvas *c) { return c->src; }
void *view_canvas_surface(view_canvas *c) { return c->surf; }

uint8_t *view_canvas_pixels(view_canvas *c, int *stride)
{
	*stride = c->stride;
	return c->buf;
}

/* src rounded to even and clipped to the frame; -EINVAL when nothing is left. */
static int source_rect(const vp_frame *f, const view_rect *src, view_rect *ret)
{
	view_rect r = src ? *src : (view_rect){ 0, 0, f->width, f->height };
	int x1 = r.x + r.w, y1 = r.y + r.h;
	r.x = r.x < 0 ? 0 : r.x & ~1;
	r.y = r.y < 0 ? 0 : r.y & ~1;
	x1 = x1 > f->width ? f->width : x1;
	y1 = y1 > f->height ? f->height : y1;
	r.w = (x1 - r.x) & ~1;
	r.h = (y1 - r.y) & ~1;
	if (r.w < 2 || r.h < 2)
		return -EINVAL;
	*ret = r;
	return 0;
}

/* Output size: width (0: the source's) even, height keeping the aspect, both inside the
 * canvas (the aspect kept by shrinking). */
static void out_size(const view_canvas *c, const view_rect *s, int width, int *w, int *h)
{
	int ow = width > 0 ? width : s->w;
	ow = ow > c->max_w ? c->max_w : ow;
	ow &= ~1;
	/* the nearest even height */
	int oh = (int)(((int64_t)s->h * ow + s->w) / (2 * (int64_t)s->w)) * 2;
	if (oh > c->max_h) {
		oh = c->max_h & ~1;
		ow = (int)(((int64_t)s->w * oh + s->h) / (2 * (int64_t)s->h)) * 2;
	}
	*w = ow < 2 ? 2 : ow;
	*h = oh < 2 ? 2 : oh;
}

static int av_format(vp_pixfmt fmt)
{
	switch (fmt) {
	case VP_PIX_YUV420P: return AV_PIX_FMT_YUV420P;
	case VP_PIX_NV12: return AV_PIX_FMT_NV12;
	case VP_PIX_P016: return AV_PIX_FMT_P016LE;
	case VP_PIX_YUV420P10: return AV_PIX_FMT_YUV420P10LE;
	}
	return AV_PIX_FMT_NONE;
}

/* Host frame part s into the canvas at w x h, with f's colour space and range. */
static int sws_into(view_canvas *c, const vp_frame *f, const view_rect *s, int w, int h)
{
	int fmt = av_format(f->fmt);
	if (fmt == AV_PIX_FMT_NONE || !f->data[0] || !f->data[1] ||
	    (f->fmt != VP_PIX_NV12 && f->fmt != VP_PIX_P016 && !f->data[2])) {
		vp_err("view", f->stream_id, "scale: unsupported or incomplete frame (format %d)", f->fmt);
		return -EINVAL;
	}
	c->sws = sws_getCachedContext(c->sws, s->w, s->h, fmt, w, h, AV_PIX_FMT_BGRA, SWS_BILINEAR, NULL,
	                              NULL, NULL);
	if (!c->sws) {
		vp_err("view", f->stream_id, "scale: no swscale context for %dx%d -> %dx%d", s->w, s->h, w, h);
		return -ENOMEM;
	}
	int csp = f->csp == VP_CSP_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601, full = !!f->full_range;
	/* A context remade by sws_getCachedContext may reuse the old address: compare what it
	 * was made for, not the pointer. */
	int key[7] = { s->w, s->h, fmt, w, h, csp, full };
	if (memcmp(key, c->sws_key, sizeof(key)) != 0) {
		const int *coefs = sws_getCoefficients(csp);
		/* Setting details fails only for formats without them; the defaults then stand. */
		(void)sws_setColorspaceDetails(c->sws, coefs, full, coefs, 1, 0, 1 << 16, 1 << 16);
		memcpy(c->sws_key, key, sizeof(key));
	}
	int bps = f->fmt == VP_PIX_P016 || f->fmt == VP_PIX_YUV420P10 ? 2 : 1;
	int semi = f->fmt == VP_PIX_NV12 || f->fmt == VP_PIX_P016;
	const uint8_t *planes[4] = { f->data[0] + (int64_t)s->y * f->linesize[0] + s->x * bps,
	                             f->data[1] + (int64_t)(s->y / 2) * f->linesize[1] + (s->x / 2) * bps * (semi ? 2 : 1),
	                             semi ? NULL : f->data[2] + (int64_t)(s->y / 2) * f->linesize[2] + (s->x / 2) * bps,
	                             NULL };
	int ls[4] = { f->linesize[0], f->linesize[1], semi ? 0 : f->linesize[2], 0 };
	uint8_t *dst[4] = { c->buf, NULL, NULL, NULL };
	int dls[4] = { c->stride, 0, 0, 0 };
	int r = sws_scale(c->sws, planes, ls, 0, s->h, dst, dls);
	if (r != h) {
		vp_err("view", f->stream_id, "scale: swscale wrote %d of %d rows", r, h);
		return r < 0 ? r : -EIO;
	}
	return 0;
}

#ifdef VP_HAVE_CUDA
static int gpu_setup(canvas_gpu *g, const vp_frame *f)
{
	struct cudaPointerAttributes a;
	int r = KRN_CUDA_CHECK(cudaPointerGetAttributes(&a, f->data[0]));
	if (r < 0)
		return r;
	if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged) {
		vp_err("view", f->stream_id, "scale: a device frame whose planes are not in GPU memory");
		return -EINVAL;
	}
	if (g->gpu >= 0) {
		if (a.device == g->gpu)
			return KRN_CUDA_CHECK(cudaSetDevice(g->gpu));
		vp_err("view", f->stream_id, "scale: frame on GPU %d, the canvas's on GPU %d", a.device, g->gpu);
		return -EINVAL;
	}
	return a.device;
}

static int gpu_alloc(view_canvas *c, int gpu)
{
	canvas_gpu *g = &c->g;
	g->gpu = gpu;
	g->ls = (c->max_w + 255) & ~255;
	size_t bytes = (size_t)g->ls * (size_t)(c->max_h + c->max_h / 2 + 1);
	cudaStream_t s = NULL;
	int r;
	if ((r = KRN_CUDA_CHECK(cudaSetDevice(gpu))) < 0 ||
	    (r = KRN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking))) < 0)
		goto fail;
	g->stream = s;
	if ((r = KRN_CUDA_CHECK(cudaMalloc((void **)&g->dev, bytes))) < 0 ||
	    (r = KRN_CUDA_CHECK(cudaMallocHost((void **)&g->host, bytes))) < 0)
		goto fail;
	return 0;
fail:
	gpu_free(g);
	return r;
}

/* Device frame part s: box-scaled to NV12 w x h on the GPU, copied down, converted. */
static int gpu_into(view_canvas *c, const vp_frame *f, const view_rect *s, int w, int h)
{
	int r = gpu_setup(&c->g, f);
	if (r > 0 || (r == 0 && c->g.gpu < 0))
		r = gpu_alloc(c, r);
	if (r < 0)
		return r;
	canvas_gpu *g = &c->g;
	size_t y_bytes = (size_t)g->ls * (size_t)h;
	krn_vscale p = { s->x, s->y, s->w, s->h, w, h, { g->dev, g->dev + y_bytes }, { g->ls, g->ls } };
	cudaStream_t st = (cudaStream_t)g->stream;
	if ((r = krn_view_scale_cuda(f, &p, (struct CUstream_st *)st)) < 0 ||
	    (r = KRN_CUDA_CHECK(cudaMemcpyAsync(g->host, g->dev, y_bytes + (size_t)g->ls * (size_t)(h / 2),
	                                        cudaMemcpyDeviceToHost, st))) < 0 ||
	    (r = KRN_CUDA_CHECK(cudaStreamSynchronize(st))) < 0)
		return r;
	vp_frame small = *f;
	small.mem = VP_MEM_HOST;
	small.fmt = VP_PIX_NV12;
	small.width = w;
	small.height = h;
	small.data[0] = g->host;
	small.data[1] = g->host + y_bytes;
	small.data[2] = NULL;
	small.linesize[0] = small.linesize[1] = g->ls;
	small.linesize[2] = 0;
	view_rect all = { 0, 0, w, h };
	return sws_into(c, &small, &all, w, h);
}
#endif

static int surface_for(view_canvas *c, int w, int h)
{
	if (c->surf && c->w == w && c->h == h) {
		cairo_surface_mark_dirty(c->surf);
		return 0;
	}
	if (c->surf)
		cairo_surface_destroy(c->surf);
	c->surf = cairo_image_surface_create_for_data(c->buf, CAIRO_FORMAT_ARGB32, w, h, c->stride);
	cairo_status_t st = cairo_surface_status(c->surf);
	if (st != CAIRO_STATUS_SUCCESS) {
		vp_err("view", NULL, "canvas: %s", cairo_status_to_string(st));
		cairo_surface_destroy(c->surf);
		c->surf = NULL;
		c->w = c->h = 0;
		return st == CAIRO_STATUS_NO_MEMORY ? -ENOMEM : -EIO;
	}
	c->w = w;
	c->h = h;
	return 0;
}

int view_canvas_from_frame(view_canvas *c, const vp_frame *f, const view_rect *src, int width)
{
	view_rect s;
	if (!f || f->width < 2 || f->height < 2 || source_rect(f, src, &s) < 0) {
		vp_err("view", f ? f->stream_id : NULL, "scale: empty frame or source rectangle");
		return -EINVAL;
	}
	int w, h, r;
	out_size(c, &s, width, &w, &h);
	if (f->mem == VP_MEM_DEVICE) {
#ifdef VP_HAVE_CUDA
		r = gpu_into(c, f, &s, w, h);
#else
		vp_err("view", f->stream_id, "scale: device frame in a build without CUDA");
		r = VP_ENODEV;
#endif
	} else {
		r = sws_into(c, f, &s, w, h);
	}
	if (r < 0)
		return r;
	c->src = s;
	return surface_for(c, w, h);
}
