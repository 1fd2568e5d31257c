/* Comparison and logic operators: Equal, Greater, GreaterOrEqual, Less, LessOrEqual
 * (numpy broadcasting, bool out), And, Or, Xor, Not on bool tensors, Where, IsNaN and
 * IsInf. Integers compare through int64 and floats through double, so every engine dtype
 * compares exactly (an int64 index above 2^53 must not equal its neighbour). */
#include <math.h>
#include <string.h>

#include "ops_bwalk.h"
#include "ops_common.h"
#include "ops_tables.h"

enum { CMP_EQ, CMP_GT, CMP_GE, CMP_LT, CMP_LE, LOG_AND, LOG_OR, LOG_XOR };

static int cmp_kind(const char *op_type)
{
	static const char *const names[] = { "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
	                                     "And", "Or", "Xor" };
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(op_type, names[i]) == 0)
			return i;
	return -1;
}

OPS_SHAPE(shape_compare, 2, 1)
{
	const inf_tensor *ab[2] = { n->in[0], ops_in(n, 1) };
	int kind = cmp_kind(n->op_type), nd;
	int64_t dims[INF_MAX_DIMS];

	if (!ab[1])
		return ops_fail(err, errlen, VP_EMODEL, "needs two inputs");
	if (ab[0]->dtype != ab[1]->dtype)
		return ops_fail(err, errlen, VP_EMODEL, "inputs have different data types (%d, %d)",
		                ab[0]->dtype, ab[1]->dtype);
	if (kind >= LOG_AND ? ab[0]->dtype != INF_DT_BOOL : !ops_dtype_numeric(ab[0]->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", ab[0]->dtype);
	if (ops_bcast_shape_n(ab, 2, &nd, dims) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "input shapes of %s and %s do not broadcast",
		                ab[0]->name, ab[1]->name);
	ops_set_shape(n->out[0], INF_DT_BOOL, nd, dims);
	return 0;
}

/* -1, 0 or 1 as a compares to b, in the operands' own arithmetic. */
static int cmp_elem(const inf_tensor *a, int64_t ia, const inf_tensor *b, int64_t ib)
{
	if (ops_dtype_is_int(a->dtype)) {
		int64_t x = ops_get_i64(a->data, a->dtype, ia), y = ops_get_i64(b->data, b->dtype, ib);
		return x < y ? -1 : x > y;
	}
	double x = ops_get_f64(a->data, a->dtype, ia), y = ops_get_f64(b->data, b->dtype, ib);
	/* NaN compares false both ways and unequal: 2 matches no ordered outcome */
	return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
}

static uint8_t cmp_result(int kind, int c, int x, int y)
{
	switch (kind) {
	case CMP_EQ: return c == 0;
	case CMP_GT: return c == 1;
	case CMP_GE: return c == 1 || c == 0;
	case CMP_LT: return c == -1;
	case CMP_LE: return c == -1 || c == 0;
	case LOG_AND: return x && y;
	case LOG_OR: return x || y;
	default: return (x != 0) != (y != 0);
	}
}

static int run_compare(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *t[2] = { n->in[0], n->in[1] };
	inf_tensor *y = n->out[0];
	uint8_t *yp = y->data;
	const uint8_t *a = t[0]->data, *b = t[1]->data;
	int kind = cmp_kind(n->op_type);
	ops_bwalk w;

	(void)ws; (void)cx;
	ops_bwalk_init(&w, y, t, 2);
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++, ops_bwalk_next(&w)) {
		if (kind >= LOG_AND)
			yp[i] = cmp_result(kind, 0, a[w.off[0]], b[w.off[1]]);
		else
			yp[i] = cmp_result(kind, cmp_elem(t[0], w.off[0], t[1], w.off[1]), 0, 0);
	}
	return 0;
}

OPS_SHAPE(shape_not, 1, 1)
{
	int rc = ops_need_dtype(n, 0, INF_DT_BOOL, err, errlen);

	if (rc < 0)
		return rc;
	ops_same_shape(n);
	return 0;
}

static int run_not(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const uint8_t *x = n->in[0]->data;
	uint8_t *y = n->out[0]->data;

	(void)ws; (void)cx;
	for (int64_t i = 0, cnt = inf_tensor_numel(n->in[0]); i < cnt; i++)
		y[i] = !x[i];
	return 0;
}

/* ---- Where(condition, X, Y) ---- */

OPS_SHAPE(shape_where, 3, 1)
{
	const inf_tensor *t[3] = { n->in[0], ops_in(n, 1), ops_in(n, 2) };
	int64_t dims[INF_MAX_DIMS];
	int nd;

	if (!t[1] || !t[2])
		return ops_fail(err, errlen, VP_EMODEL, "needs condition, X and Y");
	if (t[0]->dtype != INF_DT_BOOL)
		return ops_fail(err, errlen, VP_EMODEL, "condition %s is not bool", t[0]->name);
	if (t[1]->dtype != t[2]->dtype || !inf_dtype_size(t[1]->dtype))
		return ops_fail(err, errlen, VP_EMODEL, "X and Y have data types %d and %d", t[1]->dtype,
		                t[2]->dtype);
	if (ops_bcast_shape_n(t, 3, &nd, dims) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "input shapes do not broadcast");
	ops_set_shape(n->out[0], t[1]->dtype, nd, dims);
	return 0;
}

static int run_where(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *t[3] = { n->in[0], n->in[1], n->in[2] };
	inf_tensor *y = n->out[0];
	size_t es = inf_dtype_size(y->dtype);
	const uint8_t *c = t[0]->data;
	const char *xp = t[1]->data, *yp = t[2]->data;
	char *out = y->data;
	ops_bwalk w;

	(void)ws; (void)cx;
	ops_bwalk_init(&w, y, t, 3);
	/* elements are copied as bytes: any dtype, exactly */
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++, ops_bwalk_next(&w)) {
		const char *src = c[w.off[0]] ? xp + (size_t)w.off[1] * es : yp + (size_t)w.off[2] * es;
		memcpy(out + (size_t)i * es, src, es);
	}
	return 0;
}

/* ---- IsNaN, IsInf ---- */

OPS_SHAPE(shape_isclass, 1, 1)
{
	if (!ops_dtype_is_float(n->in[0]->dtype) || !inf_dtype_size(n->in[0]->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", n->in[0]->dtype);
	ops_set_shape(n->out[0], INF_DT_BOOL, n->in[0]->ndim, n->in[0]->dims);
	return 0;
}

static int run_isnan(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	uint8_t *y = n->out[0]->data;

	(void)ws; (void)cx;
	for (int64_t i = 0, cnt = inf_tensor_numel(x); i < cnt; i++)
		y[i] = isnan(ops_get_f64(x->data, x->dtype, i)) != 0;
	return 0;
}

static int run_isinf(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	uint8_t *y = n->out[0]->data;
	int pos = inf_attr_int(n, "detect_positive", 1) != 0, neg = inf_attr_int(n, "detect_negative", 1) != 0;

	(void)ws; (void)cx;
	for (int64_t i = 0, cnt = inf_tensor_numel(x); i < cnt; i++) {
		double v = ops_get_f64(x->data, x->dtype, i);
		y[i] = isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
	}
	return 0;
}

const inf_op ops_logic[] = {
	{ .op_type = "Equal", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "Greater", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "GreaterOrEqual", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "Less", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "LessOrEqual", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "And", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "Or", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "Xor", .shape = shape_compare, .run_cpu = run_compare },
	{ .op_type = "Not", .shape = shape_not, .run_cpu = run_not },
	{ .op_type = "Where", .shape = shape_where, .run_cpu = run_where },
	{ .op_type = "IsNaN", .shape = shape_isclass, .run_cpu = run_isnan },
	{ .op_type = "IsInf", .shape = shape_isclass, .run_cpu = run_isinf },
	{ .op_type = NULL },
};
