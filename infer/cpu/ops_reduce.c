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

/* ---- one contiguous block of reduced axes: [outer, len, inner] ----
 * The general loop below steps an odometer per element (about 4 ns each: yolo26n's
 * ReduceMax over [8400, 80] took 2.8 ms). When the reduced axes form one block, each
 * output is its len values in the same order as there (sums bit-identical), either
 * one contiguous run (inner 1) or inner outputs updated together per row (vectorised). */

typedef struct red_job {
	int kind;
	const float *x;
	float *y;
	int64_t len, inner;
} red_job;

#define RED_STEP(kind, acc, v) ((kind) == RED_MAX ? ((v) > (acc) ? (v) : (acc)) \
                               : (kind) == RED_MIN ? ((v) < (acc) ? (v) : (acc)) : (acc) + (v))

OPS_VECTOR static void red_rows(int kind, const float *x, float *y, int64_t rows, int64_t len)
{
	for (int64_t r = 0; r < rows; r++, x += len) {
		float acc = kind == RED_MAX ? -INFINITY : kind == RED_MIN ? INFINITY : 0.0f;
		if (kind == RED_MAX)
			for (int64_t l = 0; l < len; l++)
				acc = RED_STEP(RED_MAX, acc, x[l]);
		else if (kind == RED_MIN)
			for (int64_t l = 0; l < len; l++)
				acc = RED_STEP(RED_MIN, acc, x[l]);
		else
			for (int64_t l = 0; l < len; l++)
				acc += x[l];
		y[r] = acc;
	}
}

OPS_VECTOR static void red_planes(int kind, const float *x, float *y, int64_t len, int64_t inner)
{
	float init = kind == RED_MAX ? -INFINITY : kind == RED_MIN ? INFINITY : 0.0f;

	for (int64_t j = 0; j < inner; j++)
		y[j] = init;
	for (int64_t l = 0; l < len; l++, x += inner) {
		if (kind == RED_MAX)
			for (int64_t j = 0; j < inner; j++)
				y[j] = RED_STEP(RED_MAX, y[j], x[j]);
		else if (kind == RED_MIN)
			for (int64_t j = 0; j < inner; j++)
				y[j] = RED_STEP(RED_MIN, y[j], x[j]);
		else
			for (int64_t j = 0; j < inner; j++)
				y[j] += x[j];
	}
}

static void red_range(void *arg, int64_t o0, int64_t o1)
{
	const red_job *j = arg;

	if (j->inner == 1) {
		red_rows(j->kind, j->x + o0 * j->len, j->y + o0, o1 - o0, j->len);
		return;
	}
	for (int64_t o = o0; o < o1; o++)
		red_planes(j->kind, j->x + o * j->len * j->inner, j->y + o * j->inner, j->len, j->inner);
}

/* Whether the reduced axes (ignoring size-1 ones) are one block; sets outer/len/inner. */
static int red_block(const inf_tensor *x, const int *red, int64_t *outer, int64_t *len, int64_t *inner)
{
	int first = -1, last = -1;

	*outer = *len = *inner = 1;
	for (int i = 0; i < x->ndim; i++)
		if (red[i] && x->dims[i] != 1) {
			if (first < 0)
				first = i;
			last = i;
		}
	for (int i = 0; i < x->ndim; i++) {
		if (first >= 0 && i >= first && i <= last && !red[i] && x->dims[i] != 1)
			return 0;
		if (first < 0 || i < first)
			*outer *= x->dims[i];
		else if (i <= last)
			*len *= x->dims[i];
		else
			*inner *= x->dims[i];
	}
	return 1;
}

/* Any set of axes: an odometer over the input, one step per element. */
static void red_odometer(int kind, const inf_tensor *x, const int64_t *ostr, float *y)
{
	int64_t idx[INF_MAX_DIMS] = { 0 }, total = inf_tensor_numel(x);
	const float *xp = x->data;
	int nd = x->ndim;

	for (int64_t i = 0, o = 0; i < total; i++) {
		float v = xp[i];
		y[o] = RED_STEP(kind, y[o], v);
		for (int d = nd - 1; d >= 0; d--) {
			o += ostr[d];
			if (++idx[d] < x->dims[d])
				break;
			o -= ostr[d] * x->dims[d];
			idx[d] = 0;
		}
	}
}

static int run_reduce(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int red[INF_MAX_DIMS], kind = red_kind(n), nd = x->ndim;
	int64_t ostr[INF_MAX_DIMS], acc = 1, total = inf_tensor_numel(x), outer;
	int64_t ocnt = inf_tensor_numel(n->out[0]);
	float *y = n->out[0]->data, init = kind == RED_MAX ? -INFINITY : kind == RED_MIN ? INFINITY : 0.0f;
	red_job j = { kind, x->data, y, 0, 0 };
	char err[8];

	(void)ws;
	if (ops_reduce_axes(n, red, err, sizeof(err)) == 1) {
		ops_copy_through(n);
		return 0;
	}
	if (total > 0 && red_block(x, red, &outer, &j.len, &j.inner)) {
		/* ranges of at least a few thousand input elements */
		ops_par_range(cx, outer, 1 + 4096 / (j.len * j.inner), red_range, &j);
	} else {
		/* output strides per input axis, 0 along the reduced ones */
		for (int i = nd - 1; i >= 0; i--) {
			ostr[i] = red[i] ? 0 : acc;
			acc *= red[i] ? 1 : x->dims[i];
		}
		for (int64_t i = 0; i < ocnt; i++)
			y[i] = init;
		red_odometer(kind, x, ostr, y);
	}
	if (kind == RED_MEAN) {
		int64_t cnt = ocnt ? total / ocnt : 1;
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
