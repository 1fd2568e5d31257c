/* RoiAlign (two-stage detectors' box pooling): X [N, C, H, W], rois [R, 4] (x1, y1, x2,
 * y2), batch_indices [R] -> Y [R, C, output_height, output_width]. Modes avg and max,
 * coordinate_transformation_mode half_pixel (opset 16's default) and output_half_pixel
 * (the older behaviour), sampling_ratio 0 for an adaptive grid. The sampling follows the
 * ONNX reference (and onnxruntime) step for step, max mode's per-corner maximum included;
 * the bilinear taps of each bin are found once and applied to every channel. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

typedef struct roi_cfg {
	int64_t oh, ow;
	int64_t ratio;
	float scale;
	int half_pixel, max_mode;
} roi_cfg;

static int roi_config(const inf_node *n, roi_cfg *c)
{
	const char *mode = inf_attr_str(n, "mode", "avg");
	const char *ctm = inf_attr_str(n, "coordinate_transformation_mode", n->opset >= 16 ? "half_pixel" :
	                                                                                      "output_half_pixel");

	c->oh = inf_attr_int(n, "output_height", 1);
	c->ow = inf_attr_int(n, "output_width", 1);
	c->ratio = inf_attr_int(n, "sampling_ratio", 0);
	c->scale = inf_attr_float(n, "spatial_scale", 1.0f);
	c->max_mode = !strcmp(mode, "max");
	c->half_pixel = !strcmp(ctm, "half_pixel");
	if ((!c->max_mode && strcmp(mode, "avg")) || (!c->half_pixel && strcmp(ctm, "output_half_pixel")))
		return -1;
	/* bounds keep the per-bin grid loops and the output size sane on hostile models */
	if (c->oh < 1 || c->ow < 1 || c->oh > 4096 || c->ow > 4096 || c->ratio < 0 || c->ratio > 64 ||
	    !isfinite(c->scale))
		return -1;
	return 0;
}

OPS_SHAPE(shape_roi_align, 3, 1)
{
	const inf_tensor *x = n->in[0], *rois = ops_in(n, 1), *bi = ops_in(n, 2);
	int64_t dims[4];
	roi_cfg c;
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0 || (rc = ops_need_float(n, 1, err, errlen)) < 0)
		return rc;
	if (roi_config(n, &c) < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "mode, coordinate_transformation_mode or sizes not supported");
	if (x->ndim != 4 || rois->ndim != 2 || rois->dims[1] != 4 || !bi || bi->ndim != 1 ||
	    bi->dims[0] != rois->dims[0] || !ops_dtype_is_int(bi->dtype) || bi->dtype == INF_DT_BOOL)
		return ops_fail(err, errlen, VP_EMODEL, "needs X [N, C, H, W], rois [R, 4], batch_indices [R]");
	dims[0] = rois->dims[0];
	dims[1] = x->dims[1];
	dims[2] = c.oh;
	dims[3] = c.ow;
	ops_set_shape(n->out[0], INF_DT_FLOAT, 4, dims);
	return 0;
}

/* Four bilinear taps of one sample point (weights 0 outside the map, as the reference). */
typedef struct roi_tap {
	int64_t pos[4];
	double w[4];
} roi_tap;

static void roi_sample(double y, double x, int64_t h, int64_t w, roi_tap *t)
{
	int64_t yl, xl, yh, xh;
	double ly, lx;

	memset(t, 0, sizeof(*t));
	if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w))
		return;                              /* NaN included */
	y = y <= 0 ? 0 : y;
	x = x <= 0 ? 0 : x;
	yl = (int64_t)y;
	xl = (int64_t)x;
	if (yl >= h - 1) {
		yh = yl = h - 1;
		y = (double)yl;
	} else {
		yh = yl + 1;
	}
	if (xl >= w - 1) {
		xh = xl = w - 1;
		x = (double)xl;
	} else {
		xh = xl + 1;
	}
	ly = y - (double)yl;
	lx = x - (double)xl;
	t->pos[0] = yl * w + xl;
	t->pos[1] = yl * w + xh;
	t->pos[2] = yh * w + xl;
	t->pos[3] = yh * w + xh;
	t->w[0] = (1 - ly) * (1 - lx);
	t->w[1] = (1 - ly) * lx;
	t->w[2] = ly * (1 - lx);
	t->w[3] = ly * lx;
}

/* One output bin of one roi over every channel: avg of the grid's bilinear samples, or
 * (max mode) the largest weighted corner of any sample. */
static void roi_bin(const float *img, int64_t ch, int64_t h, int64_t w, const double *box, int64_t gy,
                    int64_t gx, int max_mode, float *out, int64_t out_stride)
{
	double count = (double)(gy * gx > 1 ? gy * gx : 1);

	for (int64_t c = 0; c < ch; c++) {
		const float *plane = img + c * h * w;
		double acc = max_mode ? -INFINITY : 0.0;
		int any = 0;
		for (int64_t iy = 0; iy < gy; iy++)
			for (int64_t ix = 0; ix < gx; ix++) {
				roi_tap t;
				roi_sample(box[1] + ((double)iy + 0.5) * box[3] / (double)gy,
				           box[0] + ((double)ix + 0.5) * box[2] / (double)gx, h, w, &t);
				for (int k = 0; k < 4; k++) {
					double v = t.w[k] * plane[t.pos[k]];
					acc = max_mode ? (v > acc ? v : acc) : acc + v;
				}
				any = 1;
			}
		out[c * out_stride] = (float)(max_mode ? (any ? acc : 0.0) : acc / count);
	}
}

/* The adaptive grid: ceil(roi size / bins) samples per bin and axis. A box inside the map
 * never asks more than the map's size, so the cap changes nothing for real boxes and keeps
 * a hostile one (1e30 wide, NaN) from looping for ever. */
static int64_t roi_grid(double roi, int64_t bins, int64_t map)
{
	double g = ceil(roi / (double)bins);

	if (!(g > 0))
		return 0;                    /* empty box or NaN: no samples, the bin is 0 */
	return g < (double)map ? (int64_t)g : map;
}

static int run_roi_align(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *rois = n->in[1], *bi = n->in[2];
	int64_t nb = x->dims[0], ch = x->dims[1], h = x->dims[2], w = x->dims[3];
	const float *r = rois->data;
	float *y = n->out[0]->data;
	roi_cfg c;

	(void)ws; (void)cx;
	if (roi_config(n, &c) < 0)
		return VP_EUNSUP;
	if (h == 0 || w == 0) {
		memset(y, 0, inf_tensor_bytes(n->out[0]));   /* nothing to sample: every bin is 0 */
		return 0;
	}
	for (int64_t i = 0; i < rois->dims[0]; i++) {
		int64_t b = ops_get_i64(bi->data, bi->dtype, i);
		double off = c.half_pixel ? 0.5 : 0.0, x1 = r[i * 4] * c.scale - off, y1 = r[i * 4 + 1] * c.scale - off;
		double rw = r[i * 4 + 2] * c.scale - off - x1, rh = r[i * 4 + 3] * c.scale - off - y1;
		if (b < 0 || b >= nb)
			return VP_EMODEL;        /* a batch index from the graph outside X: bad data */
		if (!c.half_pixel) {
			rw = rw > 1.0 ? rw : 1.0;
			rh = rh > 1.0 ? rh : 1.0;
		}
		double bh = rh / (double)c.oh, bw = rw / (double)c.ow;
		int64_t gy = c.ratio ? c.ratio : roi_grid(rh, c.oh, h), gx = c.ratio ? c.ratio : roi_grid(rw, c.ow, w);
		for (int64_t py = 0; py < c.oh; py++)
			for (int64_t px = 0; px < c.ow; px++) {
				double box[4] = { x1 + (double)px * bw, y1 + (double)py * bh, bw, bh };
				roi_bin((const float *)x->data + b * ch * h * w, ch, h, w, box, gy, gx, c.max_mode,
				        y + ((i * ch) * c.oh + py) * c.ow + px, c.oh * c.ow);
			}
	}
	return 0;
}

const inf_op ops_roi_align[] = {
	{ .op_type = "RoiAlign", .shape = shape_roi_align, .run_cpu = run_roi_align },
	{ .op_type = NULL },
};
