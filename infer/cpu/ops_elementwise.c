/* Element-wise operators: float activations and math (Relu ... Sqrt, the trigonometric
 * family, Erf, Round, Sign, Selu, Celu ...), Clip, and the
 * numpy-broadcasting binary operators Add, Sub, Mul, Div, Pow. */
#include <math.h>
#include <string.h>

#include "ops_bin_float.h"
#include "ops_common.h"
#include "ops_tables.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768

OPS_SHAPE(shape_unary_float, 1, 1)
{
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	ops_same_shape(n);
	return 0;
}

typedef struct unary_job {
	void (*chunk)(const float *x, float *y, int64_t cnt, float a, float b);
	const float *x;
	float *y;
	float a, b;
} unary_job;

static void unary_range(void *arg, int64_t lo, int64_t hi)
{
	const unary_job *j = arg;

	j->chunk(j->x + lo, j->y + lo, hi - lo, j->a, j->b);
}

/* Per operator: a vectorised chunk kernel and a run function that splits the tensor
 * over the context's task pool; `a`/`b` are the operator's float attributes. */
#define UNARY_OP(fname, aname, adef, bname, bdef, expr)                                   \
	OPS_VECTOR static void fname##_chunk(const float *x, float *y, int64_t cnt, float a,  \
	                                     float b)                                      \
	{                                                                                 \
		(void)a; (void)b;                                                         \
		_Pragma("omp simd")                                                       \
		for (int64_t i = 0; i < cnt; i++) {                                       \
			float v = x[i];                                                   \
			y[i] = (expr);                                                    \
		}                                                                         \
	}                                                                                 \
	static int fname(inf_node *n, void *ws, const inf_cpu_ctx *cx)                    \
	{                                                                                 \
		const float *x = n->in[0]->data;                                          \
		float *y = n->out[0]->data;                                               \
		int64_t cnt = inf_tensor_numel(n->in[0]);                                 \
		float a = aname ? inf_attr_float(n, aname ? aname : "", adef) : adef;     \
		float b = bname ? inf_attr_float(n, bname ? bname : "", bdef) : bdef;     \
		unary_job j = { fname##_chunk, x, y, a, b };                              \
		(void)ws;                                                                 \
		ops_par_range(cx, cnt, cnt > PAR_MIN ? 8192 : cnt, unary_range, &j);     \
		return 0;                                                                 \
	}

#define NOATTR ((const char *)0)
UNARY_OP(run_relu, NOATTR, 0.0f, NOATTR, 0.0f, v > 0.0f ? v : 0.0f)
UNARY_OP(run_leaky_relu, "alpha", 0.01f, NOATTR, 0.0f, v >= 0.0f ? v : v * a)
UNARY_OP(run_sigmoid, NOATTR, 0.0f, NOATTR, 0.0f, ops_sigmoidf(v))
UNARY_OP(run_tanh, NOATTR, 0.0f, NOATTR, 0.0f, tanhf(v))
UNARY_OP(run_hard_sigmoid, "alpha", 0.2f, "beta", 0.5f, fmaxf(0.0f, fminf(1.0f, a * v + b)))
UNARY_OP(run_hard_swish, NOATTR, 0.0f, NOATTR, 0.0f,
         v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f)))
UNARY_OP(run_exp, NOATTR, 0.0f, NOATTR, 0.0f, expf(v))
UNARY_OP(run_log, NOATTR, 0.0f, NOATTR, 0.0f, logf(v))
UNARY_OP(run_neg, NOATTR, 0.0f, NOATTR, 0.0f, -v)
UNARY_OP(run_abs, NOATTR, 0.0f, NOATTR, 0.0f, fabsf(v))
UNARY_OP(run_sqrt, NOATTR, 0.0f, NOATTR, 0.0f, sqrtf(v))
UNARY_OP(run_elu, "alpha", 1.0f, NOATTR, 0.0f, v >= 0.0f ? v : a * (expf(v) - 1.0f))
UNARY_OP(run_softplus, NOATTR, 0.0f, NOATTR, 0.0f, log1pf(expf(v)))
UNARY_OP(run_reciprocal, NOATTR, 0.0f, NOATTR, 0.0f, 1.0f / v)
UNARY_OP(run_floor, NOATTR, 0.0f, NOATTR, 0.0f, floorf(v))
UNARY_OP(run_ceil, NOATTR, 0.0f, NOATTR, 0.0f, ceilf(v))
/* Round: halves to even, as numpy (nearbyintf under the default rounding mode) */
UNARY_OP(run_round, NOATTR, 0.0f, NOATTR, 0.0f, nearbyintf(v))
UNARY_OP(run_sign, NOATTR, 0.0f, NOATTR, 0.0f, v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v)
UNARY_OP(run_erf, NOATTR, 0.0f, NOATTR, 0.0f, erff(v))
UNARY_OP(run_sin, NOATTR, 0.0f, NOATTR, 0.0f, sinf(v))
UNARY_OP(run_cos, NOATTR, 0.0f, NOATTR, 0.0f, cosf(v))
UNARY_OP(run_tan, NOATTR, 0.0f, NOATTR, 0.0f, tanf(v))
UNARY_OP(run_asin, NOATTR, 0.0f, NOATTR, 0.0f, asinf(v))
UNARY_OP(run_acos, NOATTR, 0.0f, NOATTR, 0.0f, acosf(v))
UNARY_OP(run_atan, NOATTR, 0.0f, NOATTR, 0.0f, atanf(v))
UNARY_OP(run_sinh, NOATTR, 0.0f, NOATTR, 0.0f, sinhf(v))
UNARY_OP(run_cosh, NOATTR, 0.0f, NOATTR, 0.0f, coshf(v))
UNARY_OP(run_asinh, NOATTR, 0.0f, NOATTR, 0.0f, asinhf(v))
UNARY_OP(run_acosh, NOATTR, 0.0f, NOATTR, 0.0f, acoshf(v))
UNARY_OP(run_atanh, NOATTR, 0.0f, NOATTR, 0.0f, atanhf(v))
UNARY_OP(run_softsign, NOATTR, 0.0f, NOATTR, 0.0f, v / (1.0f + fabsf(v)))
/* Selu's defaults are the float32 values of the paper's constants (ONNX spec) */
UNARY_OP(run_selu, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f,
         v > 0.0f ? b * v : b * (a * expf(v) - a))
UNARY_OP(run_celu, "alpha", 1.0f, NOATTR, 0.0f, fmaxf(0.0f, v) + fminf(0.0f, a * (expf(v / a) - 1.0f)))
UNARY_OP(run_thresholded_relu, "alpha", 1.0f, NOATTR, 0.0f, v > a ? v : 0.0f)

/* Neg, Abs and Sign also take signed integers and doubles (shape arithmetic such as
 * negative axes runs on int64): exact through the int64 / double accessors. */
OPS_SHAPE(shape_unary_signed, 1, 1)
{
	int dt = n->in[0]->dtype;

	if (dt != INF_DT_FLOAT && dt != INF_DT_DOUBLE && dt != INF_DT_INT8 && dt != INF_DT_INT32 &&
	    dt != INF_DT_INT64)
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", dt);
	ops_same_shape(n);
	return 0;
}

enum { SGN_NEG, SGN_ABS, SGN_SIGN };

static int run_signed_generic(inf_node *n, int op)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];

	for (int64_t i = 0, cnt = inf_tensor_numel(x); i < cnt; i++) {
		if (ops_dtype_is_int(x->dtype)) {
			/* unsigned negation: INT64_MIN wraps to itself as in numpy, no UB */
			int64_t v = ops_get_i64(x->data, x->dtype, i);
			int64_t neg = (int64_t)(0 - (uint64_t)v);
			ops_put_i64(y->data, y->dtype, i, op == SGN_NEG ? neg : op == SGN_ABS ? (v < 0 ? neg : v) :
			            (v > 0) - (v < 0));
		} else {
			double v = ops_get_f64(x->data, x->dtype, i);
			ops_put_f64(y->data, y->dtype, i, op == SGN_NEG ? -v : op == SGN_ABS ? fabs(v) :
			            v > 0 ? 1.0 : v < 0 ? -1.0 : v);
		}
	}
	return 0;
}

static int run_neg_any(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	return n->in[0]->dtype == INF_DT_FLOAT ? run_neg(n, ws, cx) : run_signed_generic(n, SGN_NEG);
}

static int run_abs_any(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	return n->in[0]->dtype == INF_DT_FLOAT ? run_abs(n, ws, cx) : run_signed_generic(n, SGN_ABS);
}

static int run_sign_any(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	return n->in[0]->dtype == INF_DT_FLOAT ? run_sign(n, ws, cx) : run_signed_generic(n, SGN_SIGN);
}

/* Clip: bounds are attributes before opset 11, optional scalar inputs from 11 on. */
OPS_SHAPE(shape_clip, 1, 1)
{
	int dt = n->in[0]->dtype;

	if (!ops_dtype_numeric(dt) || dt == INF_DT_BOOL)
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", dt);
	for (int k = 1; k < 3; k++) {
		const inf_tensor *t = ops_in(n, k);
		if (t && (t->dtype != dt || inf_tensor_numel(t) != 1))
			return ops_fail(err, errlen, VP_EMODEL, "input %d (%s) must be a scalar of the input's type",
			                k, t->name);
	}
	ops_same_shape(n);
	return 0;
}

static int run_clip(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *tmin = ops_in(n, 1), *tmax = ops_in(n, 2);
	inf_tensor *y = n->out[0];
	int64_t cnt = inf_tensor_numel(x);

	(void)ws;
	if (x->dtype == INF_DT_FLOAT) {
		float lo = tmin ? *(const float *)tmin->data : inf_attr_float(n, "min", -INFINITY);
		float hi = tmax ? *(const float *)tmax->data : inf_attr_float(n, "max", INFINITY);
		const float *xp = x->data;
		float *yp = y->data;
#pragma omp parallel for num_threads(ops_threads(cx)) if (cnt > PAR_MIN)
		for (int64_t i = 0; i < cnt; i++)
			yp[i] = fminf(fmaxf(xp[i], lo), hi);
		return 0;
	}
	/* integer and double inputs: exact through the int64 / double accessors */
	if (ops_dtype_is_int(x->dtype)) {
		int64_t lo = tmin ? ops_get_i64(tmin->data, x->dtype, 0) : INT64_MIN;
		int64_t hi = tmax ? ops_get_i64(tmax->data, x->dtype, 0) : INT64_MAX;
		for (int64_t i = 0; i < cnt; i++) {
			int64_t v = ops_get_i64(x->data, x->dtype, i);
			ops_put_i64(y->data, x->dtype, i, v < lo ? lo : v > hi ? hi : v);
		}
		return 0;
	}
	double lo = tmin ? ops_get_f64(tmin->data, x->dtype, 0) : -INFINITY;
	double hi = tmax ? ops_get_f64(tmax->data, x->dtype, 0) : INFINITY;
	for (int64_t i = 0; i < cnt; i++)
		ops_put_f64(y->data, x->dtype, i, fmin(fmax(ops_get_f64(x->data, x->dtype, i), lo), hi));
	return 0;
}

/* ---- broadcasting binary operators ---- */

/* Output dims with runs of axes merged where every operand stays contiguous (or stays
 * broadcast), so the inner loop is as long as possible. */
typedef struct bcast_iter {
	int nd;
	int64_t dims[INF_MAX_DIMS];
	int64_t sa[INF_MAX_DIMS], sb[INF_MAX_DIMS];
} bcast_iter;

static void bcast_init(bcast_iter *it, const inf_tensor *a, const inf_tensor *b, const inf_tensor *y)
{
	int64_t sa[INF_MAX_DIMS], sb[INF_MAX_DIMS];
	int nd = y->ndim;

	ops_bcast_strides(a, nd, y->dims, sa);
	ops_bcast_strides(b, nd, y->dims, sb);
	it->nd = 0;
	for (int i = 0; i < nd; i++) {
		int k = it->nd - 1;

		if (y->dims[i] == 1)
			continue;
		if (k >= 0 && it->sa[k] == sa[i] * y->dims[i] && it->sb[k] == sb[i] * y->dims[i]) {
			it->dims[k] *= y->dims[i];
			it->sa[k] = sa[i];
			it->sb[k] = sb[i];
			continue;
		}
		it->dims[it->nd] = y->dims[i];
		it->sa[it->nd] = sa[i];
		it->sb[it->nd] = sb[i];
		it->nd++;
	}
	if (it->nd == 0) {
		it->nd = 1;
		it->dims[0] = 1;
		it->sa[0] = it->sb[0] = 0;
	}
}

/* Start offsets of outer row r (all axes but the last). */
static void bcast_row(const bcast_iter *it, int64_t r, int64_t *oa, int64_t *ob)
{
	*oa = *ob = 0;
	for (int d = it->nd - 2; d >= 0; d--) {
		int64_t i = r % it->dims[d];
		r /= it->dims[d];
		*oa += i * it->sa[d];
		*ob += i * it->sb[d];
	}
}

#define BIN_EXPR(op, x, y) ((op) == BIN_ADD ? (x) + (y) : (op) == BIN_SUB ? (x) - (y) : \
                            (op) == BIN_MUL ? (x) * (y) : (x) / (y))

#define BIN_KERNEL(T)                                                                          \
	static void bin_##T(int op, const bcast_iter *it, const T *a, const T *b, T *y, int nth)  \
	{                                                                                      \
		int64_t inner = it->dims[it->nd - 1], rows = 1;                                \
		int64_t ia = it->sa[it->nd - 1], ib = it->sb[it->nd - 1];                      \
		for (int d = 0; d < it->nd - 1; d++)                                           \
			rows *= it->dims[d];                                                   \
		_Pragma("omp parallel for num_threads(nth) if (rows * inner > PAR_MIN)")      \
		for (int64_t r = 0; r < rows; r++) {                                           \
			int64_t oa, ob;                                                        \
			T *yr = y + r * inner;                                                 \
			bcast_row(it, r, &oa, &ob);                                            \
			const T *ar = a + oa, *br = b + ob;                                    \
			if (ia && ib)                                                          \
				for (int64_t i = 0; i < inner; i++)                            \
					yr[i] = (T)BIN_EXPR(op, ar[i], br[i]);                 \
			else if (ia)                                                           \
				for (int64_t i = 0; i < inner; i++)                            \
					yr[i] = (T)BIN_EXPR(op, ar[i], br[0]);                 \
			else if (ib)                                                           \
				for (int64_t i = 0; i < inner; i++)                            \
					yr[i] = (T)BIN_EXPR(op, ar[0], br[i]);                 \
			else                                                                   \
				for (int64_t i = 0; i < inner; i++)                            \
					yr[i] = (T)BIN_EXPR(op, ar[0], br[0]);                 \
		}                                                                              \
	}

BIN_KERNEL(float)
BIN_KERNEL(double)
BIN_KERNEL(int32_t)
BIN_KERNEL(int64_t)
BIN_KERNEL(uint8_t)
BIN_KERNEL(int8_t)

static int bin_supported(int dt)
{
	return dt == INF_DT_FLOAT || dt == INF_DT_DOUBLE || dt == INF_DT_INT32 || dt == INF_DT_INT64 ||
	       dt == INF_DT_UINT8 || dt == INF_DT_INT8;
}

OPS_SHAPE(shape_binary, 1, 1)
{
	const inf_tensor *a = n->in[0], *b = ops_in(n, 1);
	int64_t dims[INF_MAX_DIMS];
	int nd;

	if (!b)
		return ops_fail(err, errlen, VP_EMODEL, "needs two inputs");
	if (!bin_supported(a->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", a->dtype);
	if (a->dtype != b->dtype && strcmp(n->op_type, "Pow") != 0)
		return ops_fail(err, errlen, VP_EMODEL, "inputs have different data types (%d, %d)",
		                a->dtype, b->dtype);
	if (!bin_supported(b->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", b->dtype);
	if (ops_bcast_shape(a, b, &nd, dims) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "input shapes of %s and %s do not broadcast",
		                a->name, b->name);
	ops_set_shape(n->out[0], a->dtype, nd, dims);
	return 0;
}

/* Same-shape float operands (residual Adds): one vectorised loop per operator; "omp
 * simd" as in ops_bin_float.c, for y computed in place over a or b. */
OPS_VECTOR static void bin_flat(int op, const float *a, const float *b, float *y, int64_t cnt)
{
	switch (op) {
	case BIN_ADD:
#pragma omp simd
		for (int64_t i = 0; i < cnt; i++)
			y[i] = a[i] + b[i];
		break;
	case BIN_SUB:
#pragma omp simd
		for (int64_t i = 0; i < cnt; i++)
			y[i] = a[i] - b[i];
		break;
	case BIN_MUL:
#pragma omp simd
		for (int64_t i = 0; i < cnt; i++)
			y[i] = a[i] * b[i];
		break;
	default:
#pragma omp simd
		for (int64_t i = 0; i < cnt; i++)
			y[i] = a[i] / b[i];
		break;
	}
}

typedef struct bin_job {
	int op;
	const float *a, *b;
	float *y;
} bin_job;

static void bin_flat_range(void *arg, int64_t lo, int64_t hi)
{
	const bin_job *j = arg;

	bin_flat(j->op, j->a + lo, j->b + lo, j->y + lo, hi - lo);
}

/* Chunks of the flat loop spread over the context's task pool. */
static void bin_flat_par(int op, const float *a, const float *b, float *y, int64_t cnt, const inf_cpu_ctx *cx)
{
	bin_job j = { op, a, b, y };

	ops_par_range(cx, cnt, cnt > PAR_MIN ? 8192 : cnt, bin_flat_range, &j);
}

static int run_binary(inf_node *n, int op, const inf_cpu_ctx *cx)
{
	const inf_tensor *a = n->in[0], *b = n->in[1];
	inf_tensor *y = n->out[0];
	int nth = ops_threads(cx);
	bcast_iter it;

	if (inf_tensor_numel(y) == 0)
		return 0;
	if (a->dtype == INF_DT_FLOAT && inf_tensor_numel(a) == inf_tensor_numel(y) &&
	    inf_tensor_numel(b) == inf_tensor_numel(y)) {
		bin_flat_par(op, a->data, b->data, y->data, inf_tensor_numel(y), cx);
		return 0;
	}
	bcast_init(&it, a, b, y);
	/* merged axes: the last one's strides are 0 or 1 unless an operand is transposed */
	if (a->dtype == INF_DT_FLOAT && it.sa[it.nd - 1] <= 1 && it.sb[it.nd - 1] <= 1) {
		bin_float_bcast(op, it.nd, it.dims, it.sa, it.sb, a->data, b->data, y->data, cx);
		return 0;
	}
	switch (a->dtype) {
	case INF_DT_FLOAT: bin_float(op, &it, a->data, b->data, y->data, nth); break;
	case INF_DT_DOUBLE: bin_double(op, &it, a->data, b->data, y->data, nth); break;
	case INF_DT_INT32: bin_int32_t(op, &it, a->data, b->data, y->data, nth); break;
	case INF_DT_INT64: bin_int64_t(op, &it, a->data, b->data, y->data, nth); break;
	case INF_DT_UINT8: bin_uint8_t(op, &it, a->data, b->data, y->data, nth); break;
	case INF_DT_INT8: bin_int8_t(op, &it, a->data, b->data, y->data, nth); break;
	default: return VP_EUNSUP;
	}
	return 0;
}

static int run_add(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; return run_binary(n, BIN_ADD, cx); }
static int run_sub(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; return run_binary(n, BIN_SUB, cx); }
static int run_mul(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; return run_binary(n, BIN_MUL, cx); }

static int run_div(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *b = n->in[1];

	(void)ws;
	/* integer division by zero would trap: refuse it as bad data instead */
	if (ops_dtype_is_int(b->dtype))
		for (int64_t i = 0, cnt = inf_tensor_numel(b); i < cnt; i++)
			if (ops_get_i64(b->data, b->dtype, i) == 0)
				return VP_EMODEL;
	return run_binary(n, BIN_DIV, cx);
}

/* Pow mixes types (float base, integer exponent and the reverse); the result has the
 * base's type. Rare in detectors, so one exact generic path through double. */
/* Float base, one float exponent (the transformers' x^2 of a variance, x^0.5): squares and
 * square roots give the same floats as the generic path (exact, resp. correctly rounded
 * either way), without a double pow per element. */
static int pow_scalar_float(const inf_tensor *a, const inf_tensor *b, inf_tensor *y)
{
	const float *x = a->data;
	float *yp = y->data, e;
	int64_t cnt = inf_tensor_numel(y);

	if (a->dtype != INF_DT_FLOAT || b->dtype != INF_DT_FLOAT || inf_tensor_numel(b) != 1 ||
	    inf_tensor_numel(a) != cnt)
		return 0;
	e = *(const float *)b->data;
	if (e == 2.0f)
		for (int64_t i = 0; i < cnt; i++)
			yp[i] = x[i] * x[i];
	else if (e == 0.5f)
		for (int64_t i = 0; i < cnt; i++)
			yp[i] = sqrtf(x[i]);
	else
		return 0;
	return 1;
}

static int run_pow(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *a = n->in[0], *b = n->in[1];
	inf_tensor *y = n->out[0];
	int64_t rows = 1, inner;
	bcast_iter it;

	(void)ws; (void)cx;
	if (inf_tensor_numel(y) == 0 || pow_scalar_float(a, b, y))
		return 0;
	bcast_init(&it, a, b, y);
	inner = it.dims[it.nd - 1];
	for (int d = 0; d < it.nd - 1; d++)
		rows *= it.dims[d];
	for (int64_t r = 0; r < rows; r++) {
		int64_t oa, ob;

		bcast_row(&it, r, &oa, &ob);
		for (int64_t i = 0; i < inner; i++) {
			double v = pow(ops_get_f64(a->data, a->dtype, oa + i * it.sa[it.nd - 1]),
			               ops_get_f64(b->data, b->dtype, ob + i * it.sb[it.nd - 1]));
			ops_put_f64(y->data, y->dtype, r * inner + i, v);
		}
	}
	return 0;
}

OPS_SHAPE(shape_passthrough, 1, 1)
{
	(void)err; (void)errlen;
	ops_same_shape(n);
	return 0;
}

static int run_identity(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	(void)ws; (void)cx;
	ops_copy_through(n);
	return 0;
}

/* Dropout at inference: the input passes through and the optional mask is all true. */
OPS_SHAPE(shape_dropout, 1, 1)
{
	const inf_tensor *tm = ops_in(n, 2), *tr = ops_in(n, 1);

	if (tm && (!tm->is_const || !tm->data))
		return ops_fail(err, errlen, VP_EUNSUP, "training_mode must be a constant");
	/* training with ratio 0 is deterministic (identity); other ratios need random masks */
	if (tm && ops_get_i64(tm->data, tm->dtype, 0) &&
	    !(tr && tr->is_const && tr->data && ops_get_f64(tr->data, tr->dtype, 0) == 0.0))
		return ops_fail(err, errlen, VP_EUNSUP, "training_mode with a non-zero ratio is not supported");
	ops_same_shape(n);
	if (n->n_out > 1 && n->out[1])
		ops_set_shape(n->out[1], INF_DT_BOOL, n->in[0]->ndim, n->in[0]->dims);
	return 0;
}

static int run_dropout(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	(void)ws; (void)cx;
	ops_copy_through(n);
	if (n->n_out > 1 && n->out[1])
		memset(n->out[1]->data, 1, (size_t)inf_tensor_numel(n->out[1]));
	return 0;
}

const inf_op ops_elementwise[] = {
	{ .op_type = "Relu", .shape = shape_unary_float, .run_cpu = run_relu },
	{ .op_type = "LeakyRelu", .shape = shape_unary_float, .run_cpu = run_leaky_relu },
	{ .op_type = "Sigmoid", .shape = shape_unary_float, .run_cpu = run_sigmoid },
	{ .op_type = "Tanh", .shape = shape_unary_float, .run_cpu = run_tanh },
	{ .op_type = "HardSigmoid", .shape = shape_unary_float, .run_cpu = run_hard_sigmoid },
	{ .op_type = "HardSwish", .shape = shape_unary_float, .run_cpu = run_hard_swish },
	{ .op_type = "Exp", .shape = shape_unary_float, .run_cpu = run_exp },
	{ .op_type = "Log", .shape = shape_unary_float, .run_cpu = run_log },
	{ .op_type = "Neg", .shape = shape_unary_signed, .run_cpu = run_neg_any },
	{ .op_type = "Abs", .shape = shape_unary_signed, .run_cpu = run_abs_any },
	{ .op_type = "Sqrt", .shape = shape_unary_float, .run_cpu = run_sqrt },
	{ .op_type = "Elu", .shape = shape_unary_float, .run_cpu = run_elu },
	{ .op_type = "Softplus", .shape = shape_unary_float, .run_cpu = run_softplus },
	{ .op_type = "Reciprocal", .shape = shape_unary_float, .run_cpu = run_reciprocal },
	{ .op_type = "Floor", .shape = shape_unary_float, .run_cpu = run_floor },
	{ .op_type = "Ceil", .shape = shape_unary_float, .run_cpu = run_ceil },
	{ .op_type = "Round", .shape = shape_unary_float, .run_cpu = run_round },
	{ .op_type = "Sign", .shape = shape_unary_signed, .run_cpu = run_sign_any },
	{ .op_type = "Erf", .shape = shape_unary_float, .run_cpu = run_erf },
	{ .op_type = "Sin", .shape = shape_unary_float, .run_cpu = run_sin },
	{ .op_type = "Cos", .shape = shape_unary_float, .run_cpu = run_cos },
	{ .op_type = "Tan", .shape = shape_unary_float, .run_cpu = run_tan },
	{ .op_type = "Asin", .shape = shape_unary_float, .run_cpu = run_asin },
	{ .op_type = "Acos", .shape = shape_unary_float, .run_cpu = run_acos },
	{ .op_type = "Atan", .shape = shape_unary_float, .run_cpu = run_atan },
	{ .op_type = "Sinh", .shape = shape_unary_float, .run_cpu = run_sinh },
	{ .op_type = "Cosh", .shape = shape_unary_float, .run_cpu = run_cosh },
	{ .op_type = "Asinh", .shape = shape_unary_float, .run_cpu = run_asinh },
	{ .op_type = "Acosh", .shape = shape_unary_float, .run_cpu = run_acosh },
	{ .op_type = "Atanh", .shape = shape_unary_float, .run_cpu = run_atanh },
	{ .op_type = "Softsign", .shape = shape_unary_float, .run_cpu = run_softsign },
	{ .op_type = "Selu", .shape = shape_unary_float, .run_cpu = run_selu },
	{ .op_type = "Celu", .shape = shape_unary_float, .run_cpu = run_celu },
	{ .op_type = "ThresholdedRelu", .shape = shape_unary_float, .run_cpu = run_thresholded_relu },
	{ .op_type = "Clip", .shape = shape_clip, .run_cpu = run_clip },
	{ .op_type = "Add", .shape = shape_binary, .run_cpu = run_add },
	{ .op_type = "Sub", .shape = shape_binary, .run_cpu = run_sub },
	{ .op_type = "Mul", .shape = shape_binary, .run_cpu = run_mul },
	{ .op_type = "Div", .shape = shape_binary, .run_cpu = run_div },
	{ .op_type = "Pow", .shape = shape_binary, .run_cpu = run_pow },
	{ .op_type = "Identity", .shape = shape_passthrough, .run_cpu = run_identity },
	{ .op_type = "Dropout", .shape = shape_dropout, .run_cpu = run_dropout },
	{ .op_type = NULL },
};
