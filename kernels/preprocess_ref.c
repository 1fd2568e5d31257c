/* CPU reference of the preprocessing kernel: host frames to the model input tensor.
 * The per-pixel math lives in preprocess_math.h so the CUDA twin computes the same. */
#include <errno.h>
#include <math.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "preprocess.h"
#include "preprocess_math.h"

static void geom_of(const krn_pre_params *p, int w, int h, krn_geom *g)
{
	krn_geom_compute(p->dst_w, p->dst_h, p->resize == KRN_LETTERBOX, p->placement == KRN_CENTER,
	                 w, h, g);
}

void krn_pre_xform(const krn_pre_params *p, int src_w, int src_h, krn_xform *ret)
{
	krn_geom g;
	geom_of(p, src_w, src_h, &g);
	ret->scale_x = g.r_x;
	ret->scale_y = g.r_y;
	ret->pad_x = (float)g.left;
	ret->pad_y = (float)g.top;
	ret->src_w = src_w;
	ret->src_h = src_h;
}

int krn_pre_check(const krn_pre_params *p, const vp_frame *f)
{
	if (p->dst_w < 1 || p->dst_h < 1 || p->dst_w > 16384 || p->dst_h > 16384) {
		vp_err("preprocess", NULL, "model input size %dx%d out of range", p->dst_w, p->dst_h);
		return -EINVAL;
	}
	if ((p->resize != KRN_LETTERBOX && p->resize != KRN_STRETCH) ||
	    (p->placement != KRN_TOP_LEFT && p->placement != KRN_CENTER)) {
		vp_err("preprocess", NULL, "unknown resize mode %d or placement %d", p->resize,
		       p->placement);
		return -EINVAL;
	}
	if (!f)
		return 0;
	if (f->width < 1 || f->height < 1 || !f->data[0] || !f->data[1] ||
	    (f->fmt != VP_PIX_NV12 && f->fmt != VP_PIX_P016 && f->fmt != VP_PIX_YUV420P &&
	     f->fmt != VP_PIX_YUV420P10) ||
	    ((f->fmt == VP_PIX_YUV420P || f->fmt == VP_PIX_YUV420P10) && !f->data[2])) {
		vp_err("preprocess", f->stream_id, "frame %lld: bad picture (%dx%d, format %d)",
		       (long long)f->index, f->width, f->height, (int)f->fmt);
		return -EINVAL;
	}
	return 0;
}

static void planes_of(const vp_frame *f, krn_planes *pl)
{
	for (int i = 0; i < 3; i++) {
		pl->data[i] = f->data[i];
		pl->linesize[i] = f->linesize[i];
	}
	pl->w = f->width;
	pl->h = f->height;
	pl->fmt = f->fmt;
}

int krn_pre_check_batch(const vp_frame *const *frames, int n, int max_n, const krn_pre_params *p,
                        const void *dst, int mem)
{
	int ret = krn_pre_check(p, NULL);
	if (ret < 0)
		return ret;
	if (n < 1 || (max_n > 0 && n > max_n) || !frames || !dst) {
		vp_err("preprocess", NULL, "batch of %d frames (at most %d) or no output buffer", n, max_n);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const vp_frame *f = frames[i];
		if (!f) {
			vp_err("preprocess", NULL, "batch item %d has no frame", i);
			return -EINVAL;
		}
		if ((int)f->mem != mem) {
			vp_err("preprocess", f->stream_id, "frame %lld is in %s memory; this preprocessing needs %s frames",
			       (long long)f->index, f->mem == VP_MEM_HOST ? "host" : "device",
			       mem == VP_MEM_HOST ? "host" : "device");
			return -EINVAL;
		}
		if ((ret = krn_pre_check(p, f)) < 0)
			return ret;
	}
	return 0;
}

static void convert_one(const vp_frame *f, const krn_pre_params *p, int item, void *dst,
                        krn_xform *xf)
{
	krn_planes pl;
	krn_geom g;
	krn_csp_coef c;
	planes_of(f, &pl);
	geom_of(p, f->width, f->height, &g);
	krn_csp_coef_init(f->csp == VP_CSP_BT709, f->full_range, &c);
	/* rows are independent; each output element is written by exactly one iteration */
	#pragma omp parallel for schedule(static)
	for (int dy = 0; dy < p->dst_h; dy++) {
		for (int dx = 0; dx < p->dst_w; dx++) {
			float rgb[3];
			int in = krn_sample_rgb(&pl, &g, &c, dx, dy, rgb);
			krn_store_pixel(dst, p, item, dx, dy, rgb, !in);
		}
	}
	if (xf)
		krn_pre_xform(p, f->width, f->height, xf);
}

int krn_preprocess_ref(const vp_frame *const *frames, int n, const krn_pre_params *p,
                       void *dst, krn_xform *xf)
{
	int ret = krn_pre_check_batch(frames, n, 0, p, dst, VP_MEM_HOST);
	if (ret < 0)
		return ret;
	for (int i = 0; i < n; i++)
		convert_one(frames[i], p, i, dst, xf ? &xf[i] : NULL);
	return 0;
}

int krn_frame_to_rgb24(const vp_frame *f, uint8_t *dst, int stride)
{
	krn_pre_params none = { .dst_w = 1, .dst_h = 1 };
	int ret = krn_pre_check_batch(&f, 1, 1, &none, dst, VP_MEM_HOST);
	if (ret < 0)
		return ret;
	if (stride < 3 * f->width) {
		vp_err("preprocess", f->stream_id, "RGB24 stride %d too small for width %d", stride,
		       f->width);
		return -EINVAL;
	}
	krn_planes pl;
	krn_csp_coef c;
	planes_of(f, &pl);
	krn_csp_coef_init(f->csp == VP_CSP_BT709, f->full_range, &c);
	for (int y = 0; y < f->height; y++) {
		uint8_t *row = dst + (size_t)y * stride;
		for (int x = 0; x < f->width; x++) {
			float rgb[3];
			krn_fetch_rgb(&pl, &c, x, y, rgb);
			for (int k = 0; k < 3; k++)
				row[3 * x + k] = (uint8_t)lrintf(rgb[k]);
		}
	}
	return 0;
}
