/* GridSample on 2-D images (X [N, C, H, W], grid [N, Ho, Wo, 2] of normalised (x, y)):
 * modes nearest, bilinear/linear, bicubic/cubic (opset 16 names and opset 20's),
 * padding zeros, border, reflection, align_corners. The arithmetic follows the ONNX
 * reference implementation step for step (coordinate clamp or reflection first, then
 * taps with the padding rule per index), in double. Each output point's taps (up to
 * 4 x 4) are found once and applied to every channel: DETR-style deformable attention
 * samples many channels at the same points. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_cfg {
	int mode, pad, align;
} gs_cfg;

static int gs_config(const inf_node *n, gs_cfg *c)
{
	const char *m = inf_attr_str(n, "mode", n->opset >= 20 ? "linear" : "bilinear");
	const char *p = inf_attr_str(n, "padding_mode", "zeros");

	c->align = inf_attr_int(n, "align_corners", 0) != 0;
	if (!strcmp(m, "nearest"))
		c->mode = GS_NEAREST;
	else if (!strcmp(m, "bilinear") || !strcmp(m, "linear"))
		c->mode = GS_LINEAR;
	else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic"))
		c->mode = GS_CUBIC;
	else
		return -1;
	if (!strcmp(p, "zeros"))
		c->pad = GS_ZEROS;
	else if (!strcmp(p, "border"))
		c->pad = GS_BORDER;
	else if (!strcmp(p, "reflection"))
		c->pad = GS_REFLECTION;
	else
		return -1;
	return 0;
}

OPS_SHAPE(shape_grid_sample, 2, 1)
{
	const inf_tensor *x = n->in[0], *g = ops_in(n, 1);
	int64_t dims[4];
	gs_cfg c;
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0 || (rc = ops_need_float(n, 1, err, errlen)) < 0)
		return rc;
	if (gs_config(n, &c) < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "mode '%s' or padding_mode '%s' is not supported",
		                inf_attr_str(n, "mode", ""), inf_attr_str(n, "padding_mode", ""));
	if (x->ndim != 4)
		return ops_fail(err, errlen, VP_EUNSUP, "only 2-D sampling (4-D X) is supported, X has rank %d",
		                x->ndim);
	if (g->ndim != 4 || g->dims[0] != x->dims[0] || g->dims[3] != 2)
		return ops_fail(err, errlen, VP_EMODEL, "grid must be [N, H_out, W_out, 2]");
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	dims[2] = g->dims[1];
	dims[3] = g->dims[2];
	ops_set_shape(n->out[0], INF_DT_FLOAT, 4, dims);
	return 0;
}

/* Normalised [-1, 1] to pixel coordinates (the spec's two conventions). */
static double gs_denorm(double v, int64_t len, int align)
{
	return align ? (v + 1) / 2.0 * (double)(len - 1) : ((v + 1) * (double)len - 1) / 2.0;
}

/* Reflects x into [lo, hi] (the reference's _gs_reflect). */
static double gs_reflect(double x, double lo, double hi)
{
	double rng = hi - lo, dx, r;
	int64_t k;

	if (x >= lo && x <= hi)
		return x;
	if (rng <= 0)
		return lo;
	dx = x < lo ? lo - x : x - hi;
	k = (int64_t)(dx / rng);
	r = dx - (double)k * rng;
	if (x < lo)
		return k % 2 == 0 ? lo + r : hi - r;
	return k % 2 == 0 ? hi - r : lo + r;
}

/* Up to four taps along one axis: pixel indices (-1: a zero from padding) and weights. */
typedef struct gs_taps {
	int n;
	int64_t idx[4];
	double w[4];
} gs_taps;

static int64_t gs_index(int64_t i, int64_t len, const gs_cfg *c, double lo, double hi)
{
	if (i >= 0 && i < len)
		return i;
	if (c->pad == GS_ZEROS)
		return -1;
	if (c->pad == GS_BORDER)
		return i < 0 ? 0 : len - 1;
	i = (int64_t)gs_reflect((double)i, lo, hi);
	return i < 0 ? 0 : i >= len ? len - 1 : i;
}

static void gs_cubic_coeffs(double t, double *w)
{
	const double a = -0.75;        /* the reference's cubic_alpha */
	double x = fabs(t);

	w[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
	w[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
	w[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
	w[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

static void gs_axis_taps(double v, int64_t len, const gs_cfg *c, gs_taps *t)
{
	double lo = c->align ? 0.0 : -0.5, hi = c->align ? (double)(len - 1) : (double)len - 0.5;
	double x = gs_denorm(v, len, c->align), f;
	int64_t x0;

	if (c->mode == GS_NEAREST)
		x = nearbyint(x);            /* numpy's rint: halves to even */
	if (x < lo || x > hi) {
		if (c->pad == GS_BORDER)
			x = x < 0 ? 0 : x > (double)(len - 1) ? (double)(len - 1) : x;
		else if (c->pad == GS_REFLECTION)
			x = gs_reflect(x, lo, hi);
	}
	if (!isfinite(x)) {
		t->n = 1;                    /* NaN or inf in the grid: a zero, not UB in a cast */
		t->idx[0] = -1;
		t->w[0] = 0.0;
		return;
	}
	/* far outside (zeros padding): every tap is a zero; keep the casts below in range */
	x = fmax(-(double)len - 8.0, fmin(x, 2.0 * (double)len + 8.0));
	if (c->mode == GS_NEAREST) {
		t->n = 1;
		t->idx[0] = gs_index((int64_t)x, len, c, lo, hi);
		t->w[0] = 1.0;
		return;
	}
	x0 = (int64_t)floor(x);
	f = x - (double)x0;
	if (c->mode == GS_LINEAR) {
		t->n = 2;
		t->w[0] = 1.0 - f;
		t->w[1] = f;
	} else {
		t->n = 4;
		x0 -= 1;
		gs_cubic_coeffs(f, t->w);
	}
	for (int i = 0; i < t->n; i++)
		t->idx[i] = gs_index(x0 + i, len, c, lo, hi);
}

static int run_grid_sample(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *g = n->in[1];
	const float *xp = x->data, *gp = g->data;
	float *y = n->out[0]->data;
	int64_t nb = x->dims[0], ch = x->dims[1], h = x->dims[2], w = x->dims[3];
	int64_t pts = g->dims[1] * g->dims[2];
	gs_cfg c;

	(void)ws; (void)cx;
	if (gs_config(n, &c) < 0)
		return VP_EUNSUP;
	for (int64_t b = 0; b < nb; b++)
		for (int64_t p = 0; p < pts; p++) {
			const float *gv = gp + (b * pts + p) * 2;
			gs_taps tx, ty;
			double wt[16];
			int64_t off[16];
			int nt = 0;

			gs_axis_taps(gv[0], w, &c, &tx);
			gs_axis_taps(gv[1], h, &c, &ty);
			/* the taps inside the image, with their weight products, once per point
			 * instead of once per channel; the same products added in the same order */
			for (int i = 0; i < ty.n; i++)
				for (int j = 0; j < tx.n; j++)
					if (ty.idx[i] >= 0 && tx.idx[j] >= 0) {
						wt[nt] = ty.w[i] * tx.w[j];
						off[nt++] = ty.idx[i] * w + tx.idx[j];
					}
			for (int64_t k = 0; k < ch; k++) {
				const float *plane = xp + (b * ch + k) * h * w;
				double acc = 0.0;
				for (int t = 0; t < nt; t++)
					acc += wt[t] * plane[off[t]];
				y[(b * ch + k) * pts + p] = (float)acc;
			}
		}
	return 0;
}

const inf_op ops_grid_sample[] = {
	{ .op_type = "GridSample", .shape = shape_grid_sample, .run_cpu = run_grid_sample },
	{ .op_type = NULL },
};
