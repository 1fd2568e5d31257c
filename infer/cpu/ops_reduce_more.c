/* ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare on
 * float and double tensors, with the axes rules of the Reduce family (ops_reduce_axes).
 * Each output accumulates in double: these sit on small heads (norms, log-partition
 * sums), where exactness matters more than speed. LogSumExp subtracts each output's
 * maximum first, so large logits do not overflow exp. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

enum { RM_PROD, RM_L1, RM_L2, RM_LOGSUM, RM_LOGSUMEXP, RM_SUMSQ };

static int rm_kind(const inf_node *n)
{
	static const char *const names[] = { "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
	                                     "ReduceLogSumExp", "ReduceSumSquare" };
	for (int i = 0; i < 6; i++)
		if (strcmp(n->op_type, names[i]) == 0)
			return i;
	return RM_PROD;
}

OPS_SHAPE(shape_reduce_more, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int red[INF_MAX_DIMS], keep = (int)inf_attr_int(n, "keepdims", 1), nd = 0, rc;
	int64_t dims[INF_MAX_DIMS];

	if (x->dtype != INF_DT_FLOAT && x->dtype != INF_DT_DOUBLE)
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	if ((rc = ops_reduce_axes(n, red, err, errlen)) < 0)
		return rc;
	if (rc == 1) {
		ops_same_shape(n);
		return 0;
	}
	for (int i = 0; i < x->ndim; i++)
		if (!red[i])
			dims[nd++] = x->dims[i];
		else if (keep)
			dims[nd++] = 1;
	ops_set_shape(n->out[0], x->dtype, nd, dims);
	return 0;
}

/* Output offset of every input element: strides per input axis, 0 along reduced axes. */
typedef struct red_walk {
	int nd;
	int64_t ostr[INF_MAX_DIMS], dims[INF_MAX_DIMS];
} red_walk;

static void walk_init(red_walk *w, const inf_tensor *x, const int *red)
{
	int64_t acc = 1;

	w->nd = x->ndim;
	memcpy(w->dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
	for (int i = x->ndim - 1; i >= 0; i--) {
		w->ostr[i] = red[i] ? 0 : acc;
		acc *= red[i] ? 1 : x->dims[i];
	}
}

/* acc[o] = f(acc[o], x[i]) over the input in order; shift[o] (may be NULL) subtracted first. */
static void walk_accumulate(const red_walk *w, const inf_tensor *x, int kind, double *acc, const double *shift)
{
	int64_t idx[INF_MAX_DIMS] = { 0 }, o = 0;

	for (int64_t i = 0, total = inf_tensor_numel(x); i < total; i++) {
		double v = ops_get_f64(x->data, x->dtype, i);
		switch (kind) {
		case RM_PROD: acc[o] *= v; break;
		case RM_L1: acc[o] += fabs(v); break;
		case RM_L2: case RM_SUMSQ: acc[o] += v * v; break;
		case RM_LOGSUM: acc[o] += v; break;
		case RM_LOGSUMEXP: acc[o] += exp(v - shift[o]); break;
		default: acc[o] = v > acc[o] || isnan(v) ? v : acc[o]; break;   /* -1: the maximum */
		}
		for (int d = w->nd - 1; d >= 0; d--) {
			o += w->ostr[d];
			if (++idx[d] < w->dims[d])
				break;
			o -= w->ostr[d] * w->dims[d];
			idx[d] = 0;
		}
	}
}

static int rm_prepare(inf_node *n, size_t *ret_workspace)
{
	/* two double rows per output: the sums and, for LogSumExp, the maxima */
	*ret_workspace = 2 * sizeof(double) * (size_t)inf_tensor_numel(n->out[0]);
	return 0;
}

static int run_reduce_more(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];
	int red[INF_MAX_DIMS], kind = rm_kind(n);
	int64_t ocnt = inf_tensor_numel(y);
	double *acc = ws, *mx = acc + ocnt;
	char err[8];
	red_walk w;

	(void)cx;
	if (ops_reduce_axes(n, red, err, sizeof(err)) == 1) {
		ops_copy_through(n);
		return 0;
	}
	walk_init(&w, x, red);
	if (kind == RM_LOGSUMEXP) {
		for (int64_t i = 0; i < ocnt; i++)
			mx[i] = -INFINITY;
		walk_accumulate(&w, x, -1, mx, NULL);
		for (int64_t i = 0; i < ocnt; i++)
			mx[i] = isfinite(mx[i]) ? mx[i] : 0.0;   /* all -inf (or empty): no shift */
	}
	for (int64_t i = 0; i < ocnt; i++)
		acc[i] = kind == RM_PROD ? 1.0 : 0.0;
	walk_accumulate(&w, x, kind, acc, mx);
	for (int64_t i = 0; i < ocnt; i++) {
		double v = acc[i];
		v = kind == RM_L2 ? sqrt(v) : kind == RM_LOGSUM ? log(v) : kind == RM_LOGSUMEXP ? log(v) + mx[i] : v;
		ops_put_f64(y->data, y->dtype, i, v);
	}
	return 0;
}

const inf_op ops_reduce_more[] = {
	{ .op_type = "ReduceProd", .shape = shape_reduce_more, .prepare = rm_prepare, .run_cpu = run_reduce_more },
	{ .op_type = "ReduceL1", .shape = shape_reduce_more, .prepare = rm_prepare, .run_cpu = run_reduce_more },
	{ .op_type = "ReduceL2", .shape = shape_reduce_more, .prepare = rm_prepare, .run_cpu = run_reduce_more },
	{ .op_type = "ReduceLogSum", .shape = shape_reduce_more, .prepare = rm_prepare, .run_cpu = run_reduce_more },
	{ .op_type = "ReduceLogSumExp", .shape = shape_reduce_more, .prepare = rm_prepare,
	  .run_cpu = run_reduce_more },
	{ .op_type = "ReduceSumSquare", .shape = shape_reduce_more, .prepare = rm_prepare,
	  .run_cpu = run_reduce_more },
	{ .op_type = NULL },
};
