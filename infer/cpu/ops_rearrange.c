/* Operators that rearrange or mask elements without arithmetic: DepthToSpace,
 * SpaceToDepth (both as the spec's reshape-transpose-reshape written as one index map),
 * Trilu, EyeLike and OneHot. Elements are copied as bytes, so any engine dtype works. */
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

/* ---- DepthToSpace, SpaceToDepth on [N, C, H, W] ---- */

static int is_d2s(const inf_node *n)
{
	return strcmp(n->op_type, "DepthToSpace") == 0;
}

OPS_SHAPE(shape_d2s, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t b = inf_attr_int(n, "blocksize", 0), dims[4];
	const char *mode = inf_attr_str(n, "mode", "DCR");

	if (x->ndim != 4 || b < 1 || b > 4096 || !inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EMODEL, "needs a 4-D input and a blocksize in 1..4096");
	if (is_d2s(n) && strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
		return ops_fail(err, errlen, VP_EUNSUP, "mode '%s' is not supported", mode);
	memcpy(dims, x->dims, sizeof(dims));
	if (is_d2s(n)) {
		if (x->dims[1] % (b * b))
			return ops_fail(err, errlen, VP_EMODEL, "channels not divisible by blocksize^2");
		dims[1] /= b * b;
		if (__builtin_mul_overflow(dims[2], b, &dims[2]) || __builtin_mul_overflow(dims[3], b, &dims[3]))
			return ops_fail(err, errlen, VP_EMODEL, "output too large");
	} else {
		if (x->dims[2] % b || x->dims[3] % b)
			return ops_fail(err, errlen, VP_EMODEL, "height or width not divisible by blocksize");
		if (__builtin_mul_overflow(dims[1], b * b, &dims[1]))
			return ops_fail(err, errlen, VP_EMODEL, "output too large");
		dims[2] /= b;
		dims[3] /= b;
	}
	ops_set_shape(n->out[0], x->dtype, 4, dims);
	return 0;
}

/* Walks the depth side [N, C, H, W] (C = c_small * b * b) against the space side
 * [N, c_small, H * b, W * b]; `crd` picks the channel order (c, i, j) instead of (i, j, c). */
static int run_d2s(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int d2s = is_d2s(n), crd = d2s && strcmp(inf_attr_str(n, "mode", "DCR"), "CRD") == 0;
	const inf_tensor *deep = d2s ? x : n->out[0], *wide = d2s ? n->out[0] : x;
	int64_t b = inf_attr_int(n, "blocksize", 1), nb = deep->dims[0], cs = wide->dims[1];
	int64_t h = deep->dims[2], w = deep->dims[3];
	size_t es = inf_dtype_size(x->dtype);
	char *dst = n->out[0]->data;
	const char *src = x->data;

	(void)ws; (void)cx;
	for (int64_t in = 0; in < nb; in++)
		for (int64_t c = 0; c < cs; c++)
			for (int64_t i = 0; i < b; i++)
				for (int64_t j = 0; j < b; j++) {
					int64_t dc = crd ? (c * b + i) * b + j : (i * b + j) * cs + c;
					for (int64_t y = 0; y < h; y++)
						for (int64_t xx = 0; xx < w; xx++) {
							int64_t od = ((in * deep->dims[1] + dc) * h + y) * w + xx;
							int64_t ow = ((in * cs + c) * h * b + y * b + i) * w * b + xx * b + j;
							int64_t s = d2s ? od : ow, t = d2s ? ow : od;
							memcpy(dst + (size_t)t * es, src + (size_t)s * es, es);
						}
				}
	return 0;
}

/* ---- Trilu(input [..., N, M], k) ---- */

OPS_SHAPE(shape_trilu, 1, 1)
{
	const inf_tensor *k = ops_in(n, 1);

	if (n->in[0]->ndim < 2 || !inf_dtype_size(n->in[0]->dtype))
		return ops_fail(err, errlen, VP_EMODEL, "needs an input of rank 2 or more");
	if (k && (!ops_dtype_is_int(k->dtype) || inf_tensor_numel(k) != 1))
		return ops_fail(err, errlen, VP_EMODEL, "k must be an integer scalar");
	ops_same_shape(n);
	return 0;
}

static int run_trilu(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *tk = ops_in(n, 1);
	int64_t k = tk ? ops_get_i64(tk->data, tk->dtype, 0) : 0, rows = x->dims[x->ndim - 2];
	int64_t cols = x->dims[x->ndim - 1], mats;
	int upper = inf_attr_int(n, "upper", 1) != 0;
	size_t es = inf_dtype_size(x->dtype);
	char *y = n->out[0]->data;

	(void)ws; (void)cx;
	if (rows == 0 || cols == 0)
		return 0;
	mats = inf_tensor_numel(x) / (rows * cols);
	ops_copy_through(n);
	for (int64_t m = 0; m < mats; m++)
		for (int64_t i = 0; i < rows; i++)
			for (int64_t j = 0; j < cols; j++)
				if (upper ? j - i < k : j - i > k)
					memset(y + (size_t)((m * rows + i) * cols + j) * es, 0, es);
	return 0;
}

/* ---- EyeLike: ones on diagonal k of a 2-D shape ---- */

OPS_SHAPE(shape_eyelike, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int dt = (int)inf_attr_int(n, "dtype", x->dtype);

	if (x->ndim != 2)
		return ops_fail(err, errlen, VP_EMODEL, "needs a 2-D input");
	if (!ops_dtype_numeric(dt) || !inf_dtype_size(dt))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", dt);
	ops_set_shape(n->out[0], dt, 2, x->dims);
	return 0;
}

static int run_eyelike(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	inf_tensor *y = n->out[0];
	int64_t k = inf_attr_int(n, "k", 0), rows = y->dims[0], cols = y->dims[1];

	(void)ws; (void)cx;
	memset(y->data, 0, inf_tensor_bytes(y));
	if (k >= cols || k <= -rows)
		return 0;               /* the diagonal misses the matrix (and i + k cannot overflow) */
	for (int64_t i = 0; i < rows; i++)
		if (i + k >= 0 && i + k < cols)
			ops_put_f64(y->data, y->dtype, i * cols + i + k, 1.0);
	return 0;
}

/* ---- OneHot(indices, depth, values [off, on]) ---- */

static int onehot_depth(const inf_node *n, int64_t *ret, char *err, size_t errlen)
{
	const inf_tensor *d = ops_in(n, 1);

	if (!d || inf_tensor_numel(d) != 1 || !ops_dtype_numeric(d->dtype))
		return ops_fail(err, errlen, VP_EMODEL, "depth must be a numeric scalar");
	if (!d->is_const || !d->data)
		return ops_fail(err, errlen, VP_EUNSUP, "depth (%s) must be a constant: it decides the shape", d->name);
	/* floats are range-checked before the cast (NaN or 1e30 would make it undefined) */
	double v = ops_get_f64(d->data, d->dtype, 0);
	if (!(v >= 1 && v < 1e12))
		return ops_fail(err, errlen, VP_EMODEL, "depth must be positive");
	*ret = ops_dtype_is_int(d->dtype) ? ops_get_i64(d->data, d->dtype, 0) : (int64_t)v;
	return 0;
}

OPS_SHAPE(shape_onehot, 3, 1)
{
	const inf_tensor *ix = n->in[0], *v = ops_in(n, 2);
	int nd = ix->ndim + 1, axis = ops_axis(inf_attr_int(n, "axis", -1), nd), rc;
	int64_t depth = 0, dims[INF_MAX_DIMS];

	if ((rc = onehot_depth(n, &depth, err, errlen)) < 0)
		return rc;
	if (!v || inf_tensor_numel(v) != 2 || !inf_dtype_size(v->dtype) || !ops_dtype_numeric(ix->dtype))
		return ops_fail(err, errlen, VP_EMODEL, "values must hold [off, on]; indices numeric");
	if (axis < 0 || nd > INF_MAX_DIMS)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	for (int d = 0, s = 0; d < nd; d++)
		dims[d] = d == axis ? depth : ix->dims[s++];
	ops_set_shape(n->out[0], v->dtype, nd, dims);
	return 0;
}

/* Index i of ix: floats truncated, negative ones counting from the end (the spec);
 * -1 (all off) outside [-depth, depth), NaN included. */
static int64_t onehot_index(const inf_tensor *ix, int64_t i, int64_t depth)
{
	int64_t j;

	if (ops_dtype_is_int(ix->dtype)) {
		j = ops_get_i64(ix->data, ix->dtype, i);
	} else {
		double v = ops_get_f64(ix->data, ix->dtype, i);
		if (!(v > -(double)depth - 1 && v < (double)depth + 1))
			return -1;
		j = (int64_t)v;
	}
	j = j < 0 ? j + depth : j;
	return j >= 0 && j < depth ? j : -1;
}

static int run_onehot(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *ix = n->in[0], *v = n->in[2];
	inf_tensor *y = n->out[0];
	int axis = ops_axis(inf_attr_int(n, "axis", -1), y->ndim);
	int64_t depth = y->dims[axis], outer = 1, inner = 1;
	size_t es = inf_dtype_size(y->dtype);
	char *out = y->data;

	(void)ws; (void)cx;
	for (int d = 0; d < axis; d++)
		outer *= y->dims[d];
	for (int d = axis + 1; d < y->ndim; d++)
		inner *= y->dims[d];
	for (int64_t o = 0; o < outer; o++)
		for (int64_t c = 0; c < depth; c++)
			for (int64_t i = 0; i < inner; i++) {
				int64_t j = onehot_index(ix, o * inner + i, depth);
				memcpy(out + (size_t)((o * depth + c) * inner + i) * es,
				       (const char *)v->data + (j == c ? es : 0), es);
			}
	return 0;
}

const inf_op ops_rearrange[] = {
	{ .op_type = "DepthToSpace", .shape = shape_d2s, .run_cpu = run_d2s },
	{ .op_type = "SpaceToDepth", .shape = shape_d2s, .run_cpu = run_d2s },
	{ .op_type = "Trilu", .shape = shape_trilu, .run_cpu = run_trilu },
	{ .op_type = "EyeLike", .shape = shape_eyelike, .run_cpu = run_eyelike },
	{ .op_type = "OneHot", .shape = shape_onehot, .run_cpu = run_onehot },
	{ .op_type = NULL },
};
