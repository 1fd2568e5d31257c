/* Normalisations: LayerNormalization (opset 17: the axes from `axis` to the last,
 * optional Mean and InvStdDev outputs), InstanceNormalization (per image and channel
 * over the spatial axes), MeanVarianceNormalization (over chosen axes) and LRN (across
 * nearby channels). Float tensors; the mean and variance
 * accumulate in double, so long rows (a transformer's 256 to 1024 features) lose no
 * precision to the float sums. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

/* Mean and 1/sqrt(variance + eps) of x[0..len). */
static void row_stats(const float *x, int64_t len, double eps, double *mean, double *inv_std)
{
	double s = 0.0, ss = 0.0;

	for (int64_t i = 0; i < len; i++)
		s += x[i];
	*mean = len ? s / (double)len : 0.0;
	for (int64_t i = 0; i < len; i++) {
		double d = x[i] - *mean;
		ss += d * d;
	}
	*inv_std = 1.0 / sqrt((len ? ss / (double)len : 0.0) + eps);
}

/* ---- LayerNormalization ---- */

/* Scale and B are broadcast to X's dims from `axis` on: strides into them per block axis. */
static int block_strides(const inf_tensor *p, const inf_tensor *x, int axis, int64_t *st)
{
	int bnd = x->ndim - axis;

	if (p->ndim > bnd)
		return -1;
	for (int d = 0; d < p->ndim; d++) {
		int64_t pd = p->dims[d], xd = x->dims[axis + bnd - p->ndim + d];
		if (pd != xd && pd != 1)
			return -1;
	}
	ops_bcast_strides(p, bnd, x->dims + axis, st);
	return 0;
}

OPS_SHAPE(shape_layer_norm, 2, 1)
{
	const inf_tensor *x = n->in[0], *sc = ops_in(n, 1), *b = ops_in(n, 2);
	int axis = ops_axis(inf_attr_int(n, "axis", -1), x->ndim);
	int64_t st[INF_MAX_DIMS], dims[INF_MAX_DIMS];
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0 || (rc = ops_need_float(n, 1, err, errlen)) < 0)
		return rc;
	if (b && b->dtype != INF_DT_FLOAT)
		return ops_fail(err, errlen, VP_EUNSUP, "B has data type %d", b->dtype);
	if (axis < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	if (block_strides(sc, x, axis, st) < 0 || (b && block_strides(b, x, axis, st) < 0))
		return ops_fail(err, errlen, VP_EMODEL, "Scale or B does not broadcast to X's normalised axes");
	ops_same_shape(n);
	memcpy(dims, x->dims, sizeof(dims));
	for (int d = axis; d < x->ndim; d++)
		dims[d] = 1;
	for (int k = 1; k < 3; k++)
		if (ops_out(n, k))
			ops_set_shape(n->out[k], INF_DT_FLOAT, x->ndim, dims);
	return 0;
}

/* The broadcast offset of block element i into a parameter with strides st. */
static int64_t block_off(int64_t i, const int64_t *bdims, int bnd, const int64_t *st)
{
	int64_t off = 0;

	for (int d = bnd - 1; d >= 0; d--) {
		off += (i % bdims[d]) * st[d];
		i /= bdims[d];
	}
	return off;
}

static int run_layer_norm(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *sc = n->in[1], *b = ops_in(n, 2);
	inf_tensor *mo = ops_out(n, 1), *io = ops_out(n, 2);
	int axis = ops_axis(inf_attr_int(n, "axis", -1), x->ndim), bnd = x->ndim - axis;
	double eps = inf_attr_float(n, "epsilon", 1e-5f);
	int64_t ss[INF_MAX_DIMS], bs[INF_MAX_DIMS], len = 1, rows = 1;
	const float *xp = x->data, *sp = sc->data, *bp = b ? b->data : NULL;
	float *y = n->out[0]->data;
	int flat_s, flat_b;

	(void)ws; (void)cx;
	for (int d = 0; d < x->ndim; d++)
		*(d < axis ? &rows : &len) *= x->dims[d];
	/* parameters of the block's own size (the usual export) are read directly */
	flat_s = inf_tensor_numel(sc) == len;
	flat_b = b && inf_tensor_numel(b) == len;
	block_strides(sc, x, axis, ss);
	if (b)
		block_strides(b, x, axis, bs);
	for (int64_t r = 0; r < rows; r++) {
		const float *xr = xp + r * len;
		float *yr = y + r * len;
		double mean, inv;
		row_stats(xr, len, eps, &mean, &inv);
		for (int64_t i = 0; i < len; i++) {
			float s = sp[flat_s ? i : block_off(i, x->dims + axis, bnd, ss)];
			float bias = !bp ? 0.0f : bp[flat_b ? i : block_off(i, x->dims + axis, bnd, bs)];
			yr[i] = (float)((xr[i] - mean) * inv) * s + bias;
		}
		if (mo && mo->data)
			((float *)mo->data)[r] = (float)mean;
		if (io && io->data)
			((float *)io->data)[r] = (float)inv;
	}
	return 0;
}

/* ---- InstanceNormalization(input [N, C, ...], scale [C], B [C]) ---- */

OPS_SHAPE(shape_instance_norm, 3, 1)
{
	const inf_tensor *x = n->in[0];
	int rc = ops_need_float(n, 0, err, errlen);

	for (int k = 1; rc >= 0 && k < 3; k++)
		rc = ops_need_float(n, k, err, errlen);
	if (rc < 0)
		return rc;
	if (x->ndim < 3)
		return ops_fail(err, errlen, VP_EMODEL, "input must be [N, C, D1, ...]");
	for (int k = 1; k < 3; k++)
		if (n->in[k]->ndim != 1 || n->in[k]->dims[0] != x->dims[1])
			return ops_fail(err, errlen, VP_EMODEL, "input %d must be [C] = [%lld]", k,
			                (long long)x->dims[1]);
	ops_same_shape(n);
	return 0;
}

static int run_instance_norm(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	const float *xp = x->data, *sc = n->in[1]->data, *bp = n->in[2]->data;
	float *y = n->out[0]->data;
	double eps = inf_attr_float(n, "epsilon", 1e-5f);
	int64_t c_n = x->dims[1], plane = 1, planes = x->dims[0] * c_n;

	(void)ws; (void)cx;
	for (int d = 2; d < x->ndim; d++)
		plane *= x->dims[d];
	for (int64_t p = 0; p < planes; p++) {
		const float *xr = xp + p * plane;
		float *yr = y + p * plane;
		int64_t c = p % c_n;
		double mean, inv;
		row_stats(xr, plane, eps, &mean, &inv);
		for (int64_t i = 0; i < plane; i++)
			yr[i] = (float)((xr[i] - mean) * inv) * sc[c] + bp[c];
	}
	return 0;
}

/* ---- LRN: x / (bias + alpha / size * sum of squares over nearby channels)^beta ---- */

OPS_SHAPE(shape_lrn, 1, 1)
{
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (n->in[0]->ndim < 3 || inf_attr_int(n, "size", 0) < 1)
		return ops_fail(err, errlen, VP_EMODEL, "needs [N, C, ...] and a positive size");
	ops_same_shape(n);
	return 0;
}

static int run_lrn(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	const float *xp = x->data;
	float *y = n->out[0]->data;
	int64_t size = inf_attr_int(n, "size", 1), ch = x->dims[1], plane = 1;
	double alpha = inf_attr_float(n, "alpha", 1e-4f), beta = inf_attr_float(n, "beta", 0.75f);
	double bias = inf_attr_float(n, "bias", 1.0f);
	/* the window: floor((size - 1) / 2) channels before, ceil((size - 1) / 2) after */
	int64_t before = (size - 1) / 2, after = size - 1 - before;

	(void)ws; (void)cx;
	for (int d = 2; d < x->ndim; d++)
		plane *= x->dims[d];
	for (int64_t b = 0; b < x->dims[0]; b++)
		for (int64_t c = 0; c < ch; c++)
			for (int64_t i = 0; i < plane; i++) {
				/* the window clipped to the channels first: a huge size must not loop for ever */
				int64_t lo = c - (before < c ? before : c), hi = c + (after < ch - 1 - c ? after : ch - 1 - c);
				double ss = 0;
				for (int64_t k = lo; k <= hi; k++) {
					double v = xp[(b * ch + k) * plane + i];
					ss += v * v;
				}
				int64_t at = (b * ch + c) * plane + i;
				y[at] = (float)(xp[at] / pow(bias + alpha / (double)size * ss, beta));
			}
	return 0;
}

/* ---- MeanVarianceNormalization: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` ---- */

/* Marks the normalised axes (attribute at every opset, default N, H, W); -1 when invalid. */
static int mvn_axes(const inf_node *n, int *red)
{
	static const int64_t def[3] = { 0, 2, 3 };
	const int64_t *axes = def;
	int cnt = inf_attr_ints(n, "axes", &axes), nd = n->in[0]->ndim;

	if (cnt < 0) {
		axes = def;
		cnt = 3;
	}
	memset(red, 0, sizeof(int) * INF_MAX_DIMS);
	for (int i = 0; i < cnt; i++) {
		int a = ops_axis(axes[i], nd);
		if (a < 0)
			return -1;
		red[a] = 1;
	}
	return 0;
}

OPS_SHAPE(shape_mvn, 1, 1)
{
	int red[INF_MAX_DIMS], rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (mvn_axes(n, red) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axes out of range");
	ops_same_shape(n);
	return 0;
}

/* Group (the non-normalised index) of every element: strides per axis, 0 on normalised ones. */
static void mvn_strides(const inf_tensor *x, const int *red, int64_t *gs, int64_t *groups)
{
	int64_t acc = 1;

	for (int d = x->ndim - 1; d >= 0; d--) {
		gs[d] = red[d] ? 0 : acc;
		acc *= red[d] ? 1 : x->dims[d];
	}
	*groups = acc;
}

static int mvn_prepare(inf_node *n, size_t *ret_workspace)
{
	int red[INF_MAX_DIMS];
	int64_t gs[INF_MAX_DIMS], groups;

	if (mvn_axes(n, red) < 0)
		return VP_EMODEL;
	mvn_strides(n->in[0], red, gs, &groups);
	*ret_workspace = 3 * sizeof(double) * (size_t)groups;   /* sum, sum of squares, count */
	return 0;
}

/* pass 0 accumulates the sums per group, pass 1 writes y */
static void mvn_pass(const inf_tensor *x, const int64_t *gs, double *acc, float *y, int pass, int64_t groups)
{
	const float *xp = x->data;
	int64_t idx[INF_MAX_DIMS] = { 0 }, g = 0;

	for (int64_t i = 0, total = inf_tensor_numel(x); i < total; i++) {
		double v = xp[i];
		if (pass == 0) {
			acc[g] += v;
			acc[groups + g] += v * v;
			acc[2 * groups + g] += 1;
		} else {
			double cnt = acc[2 * groups + g], mean = acc[g] / cnt, var = acc[groups + g] / cnt - mean * mean;
			y[i] = (float)((v - mean) / (sqrt(var > 0 ? var : 0) + 1e-9));
		}
		for (int d = x->ndim - 1; d >= 0; d--) {
			g += gs[d];
			if (++idx[d] < x->dims[d])
				break;
			g -= gs[d] * x->dims[d];
			idx[d] = 0;
		}
	}
}

static int run_mvn(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	int red[INF_MAX_DIMS];
	int64_t gs[INF_MAX_DIMS], groups;
	double *acc = ws;

	(void)cx;
	if (mvn_axes(n, red) < 0)
		return VP_EMODEL;
	mvn_strides(n->in[0], red, gs, &groups);
	if (groups == 0)
		return 0;               /* an empty tensor (and no workspace to clear) */
	memset(acc, 0, 3 * sizeof(double) * (size_t)groups);
	mvn_pass(n->in[0], gs, acc, n->out[0]->data, 0, groups);
	mvn_pass(n->in[0], gs, acc, n->out[0]->data, 1, groups);
	return 0;
}

const inf_op ops_norm[] = {
	{ .op_type = "LayerNormalization", .shape = shape_layer_norm, .run_cpu = run_layer_norm },
	{ .op_type = "InstanceNormalization", .shape = shape_instance_norm, .run_cpu = run_instance_norm },
	{ .op_type = "LRN", .shape = shape_lrn, .run_cpu = run_lrn },
	{ .op_type = "MeanVarianceNormalization", .shape = shape_mvn, .prepare = mvn_prepare,
	  .run_cpu = run_mvn },
	{ .op_type = NULL },
};
