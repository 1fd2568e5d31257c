/* ReduceMean, ReduceMax, ReduceMin, ReduceSum on float tensors. Axes come from the
 * attribute (ReduceSum before opset 13, the others before 18) or from a constant
 * input; no axes reduces everything unless noop_with_empty_axes is set. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

enum { RED_MEAN, RED_MAX, RED_MIN, RED_SUM };

static int red_kind(const inf_node *n)
{
	const char *t = n->op_type + strlen("Reduce");

	return !strcmp(t, "Mean") ? RED_MEAN : !strcmp(t, "Max") ? RED_MAX : !strcmp(t, "Min") ? RED_MIN : RED_SUM;
}

int ops_reduce_axes(const inf_node *n, int *red, char *err, size_t errlen)
{
	/* ReduceSum took its axes as an input from opset 13, the others from 18 */
	int nd = n->in[0]->ndim, cnt = 0;
	int from_input = !strcmp(n->op_type, "ReduceSum") ? n->opset >= 13 : n->opset >= 18;
	int64_t axes[INF_MAX_DIMS];
	const int64_t *attr;

	if (from_input) {
		if (ops_in(n, 1) && inf_tensor_numel(n->in[1]) > 0 &&
		    (cnt = ops_const_ints(n, 1, axes, INF_MAX_DIMS, err, errlen)) < 0)
			return cnt;
	} else if ((cnt = inf_attr_ints(n, "axes", &attr)) > 0) {
		if (cnt > INF_MAX_DIMS)
			return ops_fail(err, errlen, VP_EMODEL, "axes has %d values", cnt);
		memcpy(axes, attr, sizeof(int64_t) * (size_t)cnt);
	} else {
		cnt = 0;
	}
	for (int i = 0; i < nd; i++)
		red[i] = cnt == 0;
	if (cnt == 0 && inf_attr_int(n, "noop_with_empty_axes", 0))
		return 1;
	for (int i = 0; i < cnt; i++) {
		int a = ops_axis(axes[i], nd);
		if (a < 0)
			return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range", (long long)axes[i]);
		red[a] = 1;
	}
	return 0;
}

OPS_SHAPE(shape_reduce, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int red[INF_MAX_DIMS], keep = (int)inf_attr_int(n, "keepdims", 1), nd = 0, rc;
	int64_t dims[INF_MAX_DIMS];

	if ((rc = ops_need_float(n, 0, err, errlen)) < 0 || (rc = ops_reduce_axes(n, red, err, errlen)) < 0)
		return rc;
	if (rc == 1) {
		ops_same_shape(n);
		return 0;
	}
	for (int i = 0; i < x->ndim; i++) {
		if (red[i] && x->dims[i] == 0 && red_kind(n) != RED_SUM)
			return ops_fail(err, errlen, VP_EMODEL, "cannot reduce the empty axis %d", i);
		if (!red[i])
			dims[nd++] = x->dims[i];
		else if (keep)
			dims[nd++] = 1;
	}
	ops_set_shape(n->out[0], INF_DT_FLOAT, nd, dims);
	return 0;
}

static int run_reduce(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int red[INF_MAX_DIMS], kind = red_kind(n), nd = x->ndim;
	int64_t ostr[INF_MAX_DIMS], idx[INF_MAX_DIMS] = { 0 }, acc = 1, total = inf_tensor_numel(x), cnt;
	int64_t ocnt = inf_tensor_numel(n->out[0]);
	const float *xp = x->data;
	float *y = n->out[0]->data, init;
	char err[8];

	(void)ws; (void)cx;
	if (ops_reduce_axes(n, red, err, sizeof(err)) == 1) {
		ops_copy_through(n);
		return 0;
	}
	/* output strides per input axis, 0 along the reduced ones */
	for (int i = nd - 1; i >= 0; i--) {
		ostr[i] = red[i] ? 0 : acc;
		acc *= red[i] ? 1 : x->dims[i];
	}
	init = kind == RED_MAX ? -INFINITY : kind == RED_MIN ? INFINITY : 0.0f;
	for (int64_t i = 0; i < ocnt; i++)
		y[i] = init;
	for (int64_t i = 0, o = 0; i < total; i++) {
		float v = xp[i];
		y[o] = kind == RED_MAX ? (v > y[o] ? v : y[o]) : kind == RED_MIN ? (v < y[o] ? v : y[o]) : y[o] + v;
		for (int d = nd - 1; d >= 0; d--) {
			o += ostr[d];
			if (++idx[d] < x->dims[d])
				break;
			o -= ostr[d] * x->dims[d];
			idx[d] = 0;
		}
	}
	if (kind == RED_MEAN) {
		cnt = ocnt ? total / ocnt : 1;
		for (int64_t i = 0; i < ocnt; i++)
			y[i] /= (float)cnt;
	}
	return 0;
}

const inf_op ops_reduce[] = {
	{ .op_type = "ReduceMean", .shape = shape_reduce, .run_cpu = run_reduce },
	{ .op_type = "ReduceMax", .shape = shape_reduce, .run_cpu = run_reduce },
	{ .op_type = "ReduceMin", .shape = shape_reduce, .run_cpu = run_reduce },
	{ .op_type = "ReduceSum", .shape = shape_reduce, .run_cpu = run_reduce },
	{ .op_type = NULL },
};
