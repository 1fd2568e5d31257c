/* Arithmetic outside the hot float set: Mod (ONNX's two integer conventions), PRelu,
 * the variadic Sum, Mean, Max, Min (all broadcasting), CumSum and Shrink. Integers go through
 * int64 and floats through double (see ops_bwalk.h for why these stay generic). */
#include <math.h>
#include <string.h>

#include "ops_bwalk.h"
#include "ops_common.h"
#include "ops_tables.h"

/* Every input present, of one dtype that `ok` accepts, all broadcasting together;
 * out[0] gets the broadcast shape. */
static int shape_nary(inf_node *n, int (*ok)(int dtype), char *err, size_t errlen)
{
	const inf_tensor *t[OPS_BWALK_MAX] = { 0 };
	int64_t dims[INF_MAX_DIMS];
	int nd;

	if (n->n_in < 1 || n->n_in > OPS_BWALK_MAX)
		return ops_fail(err, errlen, VP_EUNSUP, "%d inputs (at most %d)", n->n_in, OPS_BWALK_MAX);
	for (int k = 0; k < n->n_in; k++) {
		t[k] = n->in[k];
		if (!t[k])
			return ops_fail(err, errlen, VP_EMODEL, "input %d is missing", k);
		if (t[k]->dtype != t[0]->dtype)
			return ops_fail(err, errlen, VP_EMODEL, "inputs have different data types (%d, %d)",
			                t[0]->dtype, t[k]->dtype);
	}
	if (!ok(t[0]->dtype) || !inf_dtype_size(t[0]->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", t[0]->dtype);
	if (ops_bcast_shape_n(t, n->n_in, &nd, dims) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "input shapes do not broadcast");
	ops_set_shape(n->out[0], t[0]->dtype, nd, dims);
	return 0;
}

static int dtype_numeric_not_bool(int dtype)
{
	return ops_dtype_numeric(dtype) && dtype != INF_DT_BOOL;
}

/* ---- Mod ---- */

OPS_SHAPE(shape_mod, 2, 1)
{
	int rc = shape_nary(n, dtype_numeric_not_bool, err, errlen);

	if (rc < 0)
		return rc;
	/* the spec leaves fmod=0 undefined for floats (a runtime error in onnxruntime) */
	if (ops_dtype_is_float(n->in[0]->dtype) && !inf_attr_int(n, "fmod", 0))
		return ops_fail(err, errlen, VP_EMODEL, "Mod on floating-point inputs needs fmod=1");
	return 0;
}

/* fmod=0: the remainder takes the divisor's sign (Python's %); fmod=1: the dividend's (C's %). */
static int64_t mod_i64(int64_t a, int64_t b, int c_style)
{
	int64_t r;

	if (b == -1)
		return 0;             /* INT64_MIN % -1 traps in C; the remainder is 0 anyway */
	r = a % b;
	if (!c_style && r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static int run_mod(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *t[2] = { n->in[0], n->in[1] };
	inf_tensor *y = n->out[0];
	int c_style = inf_attr_int(n, "fmod", 0) != 0, dt = y->dtype;
	ops_bwalk w;

	(void)ws; (void)cx;
	ops_bwalk_init(&w, y, t, 2);
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++, ops_bwalk_next(&w)) {
		if (ops_dtype_is_float(dt)) {
			double a = ops_get_f64(t[0]->data, dt, w.off[0]), b = ops_get_f64(t[1]->data, dt, w.off[1]);
			ops_put_f64(y->data, dt, i, fmod(a, b));
			continue;
		}
		int64_t b = ops_get_i64(t[1]->data, dt, w.off[1]);
		if (b == 0)
			return VP_EMODEL;     /* integer division by zero: bad data, not a crash */
		ops_put_i64(y->data, dt, i, mod_i64(ops_get_i64(t[0]->data, dt, w.off[0]), b, c_style));
	}
	return 0;
}

/* ---- PRelu: slope broadcast to X (unidirectionally) ---- */

OPS_SHAPE(shape_prelu, 2, 1)
{
	const inf_tensor *x = n->in[0];
	int rc = shape_nary(n, ops_dtype_is_float, err, errlen);

	if (rc < 0)
		return rc;
	if (n->out[0]->ndim != x->ndim || memcmp(n->out[0]->dims, x->dims, sizeof(int64_t) * (size_t)x->ndim))
		return ops_fail(err, errlen, VP_EMODEL, "slope does not broadcast to X's shape");
	return 0;
}

static int run_prelu(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *t[2] = { n->in[0], n->in[1] };
	inf_tensor *y = n->out[0];
	int dt = y->dtype;
	ops_bwalk w;

	(void)ws; (void)cx;
	if (dt == INF_DT_FLOAT && inf_tensor_numel(t[1]) == 1) {
		const float *x = t[0]->data, s = *(const float *)t[1]->data;
		float *yp = y->data;
		for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++)
			yp[i] = x[i] < 0.0f ? x[i] * s : x[i];
		return 0;
	}
	ops_bwalk_init(&w, y, t, 2);
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++, ops_bwalk_next(&w)) {
		double x = ops_get_f64(t[0]->data, dt, w.off[0]);
		ops_put_f64(y->data, dt, i, x < 0 ? x * ops_get_f64(t[1]->data, dt, w.off[1]) : x);
	}
	return 0;
}

/* ---- Sum, Mean, Max, Min over 1..OPS_BWALK_MAX inputs ---- */

enum { VAR_SUM, VAR_MEAN, VAR_MAX, VAR_MIN };

OPS_SHAPE(shape_sum_mean, 1, 1)
{
	return shape_nary(n, ops_dtype_is_float, err, errlen);
}

OPS_SHAPE(shape_max_min, 1, 1)
{
	return shape_nary(n, dtype_numeric_not_bool, err, errlen);
}

/* Floats: the sum in double, one rounding to the output type. NaN wins Max/Min (as
 * numpy's maximum/minimum, which the reference outputs come from). */
static double var_f64(int kind, const inf_node *n, const ops_bwalk *w)
{
	int dt = n->in[0]->dtype;
	double acc = ops_get_f64(n->in[0]->data, dt, w->off[0]);

	for (int k = 1; k < n->n_in; k++) {
		double v = ops_get_f64(n->in[k]->data, dt, w->off[k]);
		if (kind == VAR_SUM || kind == VAR_MEAN)
			acc += v;
		else if (isnan(v) || isnan(acc))
			acc = NAN;
		else
			acc = kind == VAR_MAX ? fmax(acc, v) : fmin(acc, v);
	}
	return kind == VAR_MEAN ? acc / n->n_in : acc;
}

static int64_t var_i64(int kind, const inf_node *n, const ops_bwalk *w)
{
	int dt = n->in[0]->dtype;
	int64_t acc = ops_get_i64(n->in[0]->data, dt, w->off[0]);

	for (int k = 1; k < n->n_in; k++) {
		int64_t v = ops_get_i64(n->in[k]->data, dt, w->off[k]);
		acc = kind == VAR_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc);
	}
	return acc;
}

static int run_variadic(inf_node *n, int kind)
{
	const inf_tensor *t[OPS_BWALK_MAX];
	inf_tensor *y = n->out[0];
	ops_bwalk w;

	for (int k = 0; k < n->n_in; k++)
		t[k] = n->in[k];
	ops_bwalk_init(&w, y, t, n->n_in);
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++, ops_bwalk_next(&w)) {
		if (ops_dtype_is_float(y->dtype))
			ops_put_f64(y->data, y->dtype, i, var_f64(kind, n, &w));
		else
			ops_put_i64(y->data, y->dtype, i, var_i64(kind, n, &w));
	}
	return 0;
}

static int run_sum(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; (void)cx; return run_variadic(n, VAR_SUM); }
static int run_mean(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; (void)cx; return run_variadic(n, VAR_MEAN); }
static int run_max(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; (void)cx; return run_variadic(n, VAR_MAX); }
static int run_min(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; (void)cx; return run_variadic(n, VAR_MIN); }

/* ---- CumSum(x, axis): exclusive and reverse ---- */

OPS_SHAPE(shape_cumsum, 2, 1)
{
	const inf_tensor *x = n->in[0], *ax = ops_in(n, 1);

	if (!dtype_numeric_not_bool(x->dtype) || !inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	if (!ax || !ops_dtype_is_int(ax->dtype) || inf_tensor_numel(ax) != 1)
		return ops_fail(err, errlen, VP_EMODEL, "axis must be an integer scalar");
	if (ax->is_const && ax->data && ops_axis(ops_get_i64(ax->data, ax->dtype, 0), x->ndim) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	ops_same_shape(n);
	return 0;
}

/* Integers sum in int64, floats in double; one rounding per output element. */
static int run_cumsum(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];
	int axis = ops_axis(ops_get_i64(n->in[1]->data, n->in[1]->dtype, 0), x->ndim), dt = x->dtype;
	int excl = inf_attr_int(n, "exclusive", 0) != 0, rev = inf_attr_int(n, "reverse", 0) != 0;
	int64_t outer = 1, len, inner = 1;

	(void)ws; (void)cx;
	if (axis < 0)
		return VP_EMODEL;           /* a runtime axis outside the rank */
	len = x->dims[axis];
	for (int d = 0; d < axis; d++)
		outer *= x->dims[d];
	for (int d = axis + 1; d < x->ndim; d++)
		inner *= x->dims[d];
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in = 0; in < inner; in++) {
			double sf = 0;
			int64_t si = 0;
			for (int64_t s = 0; s < len; s++) {
				int64_t i = (o * len + (rev ? len - 1 - s : s)) * inner + in;
				int64_t vi = ops_dtype_is_int(dt) ? ops_get_i64(x->data, dt, i) : 0;
				double vf = ops_dtype_is_int(dt) ? 0 : ops_get_f64(x->data, dt, i);
				if (!excl) {
					si = ops_wrap_add(si, vi);
					sf += vf;
				}
				if (ops_dtype_is_int(dt))
					ops_put_i64(y->data, dt, i, si);
				else
					ops_put_f64(y->data, dt, i, sf);
				if (excl) {
					si = ops_wrap_add(si, vi);
					sf += vf;
				}
			}
		}
	return 0;
}

/* ---- Shrink: x - bias above lambd, x + bias below -lambd, 0 between ---- */

/* Floats only: on integers the float lambd and bias would need casts the spec leaves open. */
OPS_SHAPE(shape_shrink, 1, 1)
{
	if (!ops_dtype_is_float(n->in[0]->dtype) || !inf_dtype_size(n->in[0]->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", n->in[0]->dtype);
	ops_same_shape(n);
	return 0;
}

static int run_shrink(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	double lambd = inf_attr_float(n, "lambd", 0.5f), bias = inf_attr_float(n, "bias", 0.0f);

	(void)ws; (void)cx;
	for (int64_t i = 0, cnt = inf_tensor_numel(x); i < cnt; i++) {
		double v = ops_get_f64(x->data, x->dtype, i);
		ops_put_f64(n->out[0]->data, x->dtype, i, v < -lambd ? v + bias : v > lambd ? v - bias : 0.0);
	}
	return 0;
}

const inf_op ops_arith[] = {
	{ .op_type = "Mod", .shape = shape_mod, .run_cpu = run_mod },
	{ .op_type = "PRelu", .shape = shape_prelu, .run_cpu = run_prelu },
	{ .op_type = "Sum", .shape = shape_sum_mean, .run_cpu = run_sum },
	{ .op_type = "Mean", .shape = shape_sum_mean, .run_cpu = run_mean },
	{ .op_type = "Max", .shape = shape_max_min, .run_cpu = run_max },
	{ .op_type = "Min", .shape = shape_max_min, .run_cpu = run_min },
	{ .op_type = "CumSum", .shape = shape_cumsum, .run_cpu = run_cumsum },
	{ .op_type = "Shrink", .shape = shape_shrink, .run_cpu = run_shrink },
	{ .op_type = NULL },
};
