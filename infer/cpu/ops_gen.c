/* Operators that generate or repeat data: Range, Tile, Size. Range's scalars and
 * Tile's repeats decide the output shape, so the engine's static plan needs them
 * constant (as exporters write them; a shape subgraph that computes them is folded
 * first). */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

/* ---- Range(start, limit, delta) ---- */

static int range_dtype_ok(int dt)
{
	return dt == INF_DT_FLOAT || dt == INF_DT_DOUBLE || dt == INF_DT_INT32 || dt == INF_DT_INT64;
}

/* The element count ONNX gives: max(ceil((limit - start) / delta), 0). */
static int range_count(const inf_node *n, int64_t *ret, char *err, size_t errlen)
{
	int dt = n->in[0]->dtype;

	if (ops_dtype_is_int(dt)) {
		int64_t s = ops_get_i64(n->in[0]->data, dt, 0), l = ops_get_i64(n->in[1]->data, dt, 0);
		int64_t d = ops_get_i64(n->in[2]->data, dt, 0);
		if (d == 0)
			return ops_fail(err, errlen, VP_EMODEL, "delta is 0");
		/* ceil of the exact quotient, without the double rounding of large int64 spans */
		int64_t span, q;
		/* INT64_MIN / -1 traps: refused with the overflowing spans */
		if (__builtin_sub_overflow(l, s, &span) || (span == INT64_MIN && d == -1))
			return ops_fail(err, errlen, VP_EMODEL, "limit - start overflows");
		q = span / d;
		if (q * d != span && ((span < 0) == (d < 0)))
			q++;
		*ret = q > 0 ? q : 0;
		return 0;
	}
	double s = ops_get_f64(n->in[0]->data, dt, 0), l = ops_get_f64(n->in[1]->data, dt, 0);
	double d = ops_get_f64(n->in[2]->data, dt, 0), c;
	if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
		return ops_fail(err, errlen, VP_EMODEL, "start, limit and delta must be finite, delta non-zero");
	c = ceil((l - s) / d);
	if (c > 1e15)           /* far beyond any tensor the planner accepts; keeps the cast defined */
		return ops_fail(err, errlen, VP_EMODEL, "Range of %g elements", c);
	*ret = c > 0 ? (int64_t)c : 0;
	return 0;
}

OPS_SHAPE(shape_range, 3, 1)
{
	int64_t cnt;
	int rc;

	for (int k = 0; k < 3; k++) {
		const inf_tensor *t = ops_in(n, k);
		if (!t || t->dtype != n->in[0]->dtype || inf_tensor_numel(t) != 1)
			return ops_fail(err, errlen, VP_EMODEL, "input %d must be a scalar of the start's type", k);
		if (!t->is_const || !t->data)
			return ops_fail(err, errlen, VP_EUNSUP, "input %d (%s) must be a constant: it decides the shape",
			                k, t->name);
	}
	if (!range_dtype_ok(n->in[0]->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", n->in[0]->dtype);
	if ((rc = range_count(n, &cnt, err, errlen)) < 0)
		return rc;
	ops_set_shape(n->out[0], n->in[0]->dtype, 1, &cnt);
	return 0;
}

static int run_range(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	inf_tensor *y = n->out[0];
	int dt = y->dtype;

	(void)ws; (void)cx;
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++) {
		if (ops_dtype_is_int(dt))
			ops_put_i64(y->data, dt, i, ops_wrap_add(ops_get_i64(n->in[0]->data, dt, 0),
			                                         ops_wrap_mul(i, ops_get_i64(n->in[2]->data, dt, 0))));
		else
			ops_put_f64(y->data, dt, i, ops_get_f64(n->in[0]->data, dt, 0) +
			            (double)i * ops_get_f64(n->in[2]->data, dt, 0));
	}
	return 0;
}

/* ---- Tile(input, repeats) ---- */

OPS_SHAPE(shape_tile, 2, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t rep[INF_MAX_DIMS], dims[INF_MAX_DIMS];
	int cnt = ops_const_ints(n, 1, rep, INF_MAX_DIMS, err, errlen);

	if (cnt < 0)
		return cnt;
	if (!inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	if (cnt != x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "%d repeats for a rank-%d input", cnt, x->ndim);
	for (int d = 0; d < x->ndim; d++) {
		if (rep[d] < 0 || __builtin_mul_overflow(x->dims[d], rep[d], &dims[d]))
			return ops_fail(err, errlen, VP_EMODEL, "repeat %lld is negative or too large",
			                (long long)rep[d]);
	}
	ops_set_shape(n->out[0], x->dtype, x->ndim, dims);
	return 0;
}

/* Each output row (last axis) is the matching input row repeated; rows are walked as
 * an odometer over the output's outer axes, the input row found by wrapping each index. */
static int run_tile(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];
	size_t es = inf_dtype_size(x->dtype);
	int nd = x->ndim;
	int64_t idx[INF_MAX_DIMS] = { 0 }, xs[INF_MAX_DIMS], rows = 1, xrow, yrow;
	char *out = y->data;

	(void)ws; (void)cx;
	if (inf_tensor_numel(y) == 0)
		return 0;
	if (nd == 0) {
		memcpy(out, x->data, es);
		return 0;
	}
	xs[nd - 1] = 1;
	for (int d = nd - 2; d >= 0; d--)
		xs[d] = xs[d + 1] * x->dims[d + 1];
	for (int d = 0; d < nd - 1; d++)
		rows *= y->dims[d];
	xrow = x->dims[nd - 1];
	yrow = y->dims[nd - 1];
	for (int64_t r = 0; r < rows; r++) {
		int64_t off = 0;
		for (int d = 0; d < nd - 1; d++)
			off += (idx[d] % x->dims[d]) * xs[d];
		for (int64_t c = 0; c < yrow; c += xrow)
			memcpy(out + (size_t)(r * yrow + c) * es, (const char *)x->data + (size_t)off * es,
			       (size_t)xrow * es);
		for (int d = nd - 2; d >= 0 && ++idx[d] == y->dims[d]; d--)
			idx[d] = 0;
	}
	return 0;
}

/* ---- Size: the element count as an int64 scalar (folded at plan time) ---- */

OPS_SHAPE(shape_size, 1, 1)
{
	(void)err; (void)errlen;
	ops_set_shape(n->out[0], INF_DT_INT64, 0, NULL);
	return 0;
}

static int run_size(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	(void)ws; (void)cx;
	*(int64_t *)n->out[0]->data = inf_tensor_numel(n->in[0]);
	return 0;
}

const inf_op ops_gen[] = {
	{ .op_type = "Range", .shape = shape_range, .run_cpu = run_range },
	{ .op_type = "Tile", .shape = shape_tile, .run_cpu = run_tile },
	{ .op_type = "Size", .shape = shape_size, .run_cpu = run_size },
	{ .op_type = NULL },
};
