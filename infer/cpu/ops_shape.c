/* Operators that only change a tensor's shape or type: Reshape, Flatten, Squeeze,
 * Unsqueeze, Shape, Constant, ConstantOfShape, Cast, CastLike. Axes and shapes given
 * as inputs must be constants, since they decide the output shape. */
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

static int run_copy(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	(void)ws; (void)cx;
	ops_copy_through(n);
	return 0;
}

OPS_SHAPE(shape_reshape, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t shape[INF_MAX_DIMS], known = 1, total = inf_tensor_numel(x);
	int allowzero = (int)inf_attr_int(n, "allowzero", 0), infer = -1, cnt;
	const int64_t *attr;

	if (n->opset < 5 && (cnt = inf_attr_ints(n, "shape", &attr)) >= 0) {
		if (cnt > INF_MAX_DIMS)
			return ops_fail(err, errlen, VP_EUNSUP, "shape has %d values", cnt);
		memcpy(shape, attr, sizeof(int64_t) * (size_t)cnt);
	} else if ((cnt = ops_const_ints(n, 1, shape, INF_MAX_DIMS, err, errlen)) < 0) {
		return cnt;
	}
	for (int i = 0; i < cnt; i++) {
		if (shape[i] == 0 && !allowzero) {
			if (i >= x->ndim)
				return ops_fail(err, errlen, VP_EMODEL, "shape[%d] = 0 copies a dimension the input lacks", i);
			shape[i] = x->dims[i];
		}
		if (shape[i] == -1) {
			if (infer >= 0)
				return ops_fail(err, errlen, VP_EMODEL, "shape has more than one -1");
			infer = i;
			continue;
		}
		if (shape[i] < 0)
			return ops_fail(err, errlen, VP_EMODEL, "shape[%d] = %lld is invalid", i, (long long)shape[i]);
		known *= shape[i];
	}
	if (infer >= 0) {
		if (known == 0 || total % known)
			return ops_fail(err, errlen, VP_EMODEL, "cannot infer the -1 in shape: %lld elements",
			                (long long)total);
		shape[infer] = total / known;
		known *= shape[infer];
	}
	if (known != total)
		return ops_fail(err, errlen, VP_EMODEL, "shape holds %lld elements, the input %lld",
		                (long long)known, (long long)total);
	ops_set_shape(n->out[0], x->dtype, cnt, shape);
	return 0;
}

OPS_SHAPE(shape_flatten, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t axis = inf_attr_int(n, "axis", 1), dims[2] = { 1, 1 };

	if (axis < 0)
		axis += x->ndim;
	if (axis < 0 || axis > x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range for rank %d",
		                (long long)inf_attr_int(n, "axis", 1), x->ndim);
	for (int i = 0; i < x->ndim; i++)
		dims[i >= axis] *= x->dims[i];
	ops_set_shape(n->out[0], x->dtype, 2, dims);
	return 0;
}

/* Axes of Squeeze/Unsqueeze: the attribute before opset 13, the input from 13 on.
 * Returns the count, 0 when absent, or a negative code. */
static int read_axes(const inf_node *n, int64_t *axes, char *err, size_t errlen)
{
	const int64_t *attr;
	int cnt;

	if (n->opset < 13) {
		if ((cnt = inf_attr_ints(n, "axes", &attr)) < 0)
			return 0;
		if (cnt > INF_MAX_DIMS)
			return ops_fail(err, errlen, VP_EUNSUP, "axes has %d values", cnt);
		memcpy(axes, attr, sizeof(int64_t) * (size_t)cnt);
		return cnt;
	}
	return ops_in(n, 1) ? ops_const_ints(n, 1, axes, INF_MAX_DIMS, err, errlen) : 0;
}

OPS_SHAPE(shape_squeeze, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t axes[INF_MAX_DIMS], dims[INF_MAX_DIMS];
	int drop[INF_MAX_DIMS] = { 0 }, cnt = read_axes(n, axes, err, errlen), nd = 0;

	if (cnt < 0)
		return cnt;
	for (int i = 0; i < cnt; i++) {
		int a = ops_axis(axes[i], x->ndim);
		if (a < 0 || x->dims[a] != 1)
			return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range or not of size 1",
			                (long long)axes[i]);
		drop[a] = 1;
	}
	for (int i = 0; i < x->ndim; i++)
		if (!(cnt ? drop[i] : x->dims[i] == 1))
			dims[nd++] = x->dims[i];
	ops_set_shape(n->out[0], x->dtype, nd, dims);
	return 0;
}

OPS_SHAPE(shape_unsqueeze, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t axes[INF_MAX_DIMS], dims[INF_MAX_DIMS];
	int add[INF_MAX_DIMS] = { 0 }, cnt = read_axes(n, axes, err, errlen), nd, k = 0;

	if (cnt < 0)
		return cnt;
	if (cnt == 0)
		return ops_fail(err, errlen, VP_EMODEL, "axes are missing");
	nd = x->ndim + cnt;
	if (nd > INF_MAX_DIMS)
		return ops_fail(err, errlen, VP_EUNSUP, "output rank %d exceeds %d", nd, INF_MAX_DIMS);
	for (int i = 0; i < cnt; i++) {
		int a = ops_axis(axes[i], nd);
		if (a < 0 || add[a])
			return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range or repeated", (long long)axes[i]);
		add[a] = 1;
	}
	for (int i = 0; i < nd; i++)
		dims[i] = add[i] ? 1 : x->dims[k++];
	ops_set_shape(n->out[0], x->dtype, nd, dims);
	return 0;
}

/* Shape's start/end (opset 15) clamp to [0, rank]. */
static void shape_range(const inf_node *n, int64_t *start, int64_t *end)
{
	int64_t r = n->in[0]->ndim;

	*start = inf_attr_int(n, "start", 0);
	*end = inf_attr_int(n, "end", r);
	if (*start < 0)
		*start += r;
	if (*end < 0)
		*end += r;
	*start = *start < 0 ? 0 : *start > r ? r : *start;
	*end = *end < *start ? *start : *end > r ? r : *end;
}

OPS_SHAPE(shape_shape, 1, 1)
{
	int64_t start, end, len;

	(void)err; (void)errlen;
	shape_range(n, &start, &end);
	len = end - start;
	ops_set_shape(n->out[0], INF_DT_INT64, 1, &len);
	return 0;
}

static int run_shape(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	int64_t start, end, *y = n->out[0]->data;

	(void)ws; (void)cx;
	shape_range(n, &start, &end);
	for (int64_t i = start; i < end; i++)
		y[i - start] = n->in[0]->dims[i];
	return 0;
}

/* ---- Constant and ConstantOfShape ---- */

OPS_SHAPE(shape_constant, 0, 1)
{
	const inf_attr *a = n->n_attr == 1 ? &n->attr[0] : NULL;
	int64_t cnt;

	if (!a)
		return ops_fail(err, errlen, VP_EMODEL, "needs exactly one value attribute");
	if (a->type == INF_ATTR_TENSOR && a->t) {
		if (!ops_dtype_numeric(a->t->dtype))
			return ops_fail(err, errlen, VP_EUNSUP, "value has data type %d", a->t->dtype);
		ops_set_shape(n->out[0], a->t->dtype, a->t->ndim, a->t->dims);
	} else if (a->type == INF_ATTR_FLOAT || a->type == INF_ATTR_INT) {
		ops_set_shape(n->out[0], a->type == INF_ATTR_FLOAT ? INF_DT_FLOAT : INF_DT_INT64, 0, NULL);
	} else if (a->type == INF_ATTR_FLOATS || a->type == INF_ATTR_INTS) {
		cnt = a->n;
		ops_set_shape(n->out[0], a->type == INF_ATTR_FLOATS ? INF_DT_FLOAT : INF_DT_INT64, 1, &cnt);
	} else {
		return ops_fail(err, errlen, VP_EUNSUP, "attribute %s is not supported", a->name);
	}
	return 0;
}

static int run_constant(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_attr *a = &n->attr[0];
	void *y = n->out[0]->data;

	(void)ws; (void)cx;
	switch (a->type) {
	case INF_ATTR_TENSOR: memcpy(y, a->t->data, inf_tensor_bytes(a->t)); break;
	case INF_ATTR_FLOAT: *(float *)y = a->f; break;
	case INF_ATTR_INT: *(int64_t *)y = a->i; break;
	case INF_ATTR_FLOATS: memcpy(y, a->floats, sizeof(float) * (size_t)a->n); break;
	case INF_ATTR_INTS: memcpy(y, a->ints, sizeof(int64_t) * (size_t)a->n); break;
	default: return VP_EUNSUP;
	}
	return 0;
}

OPS_SHAPE(shape_constant_of_shape, 1, 1)
{
	const inf_attr *v = inf_attr_get(n, "value");
	int64_t dims[INF_MAX_DIMS];
	int cnt = ops_const_ints(n, 0, dims, INF_MAX_DIMS, err, errlen);

	if (cnt < 0)
		return cnt;
	if (v && (v->type != INF_ATTR_TENSOR || !v->t || inf_tensor_numel(v->t) != 1 ||
	          !ops_dtype_numeric(v->t->dtype)))
		return ops_fail(err, errlen, VP_EMODEL, "value must be a one-element numeric tensor");
	ops_set_shape(n->out[0], v ? v->t->dtype : INF_DT_FLOAT, cnt, dims);
	return 0;
}

static int run_constant_of_shape(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_attr *v = inf_attr_get(n, "value");
	inf_tensor *y = n->out[0];
	size_t es = inf_dtype_size(y->dtype);
	int64_t cnt = inf_tensor_numel(y);

	(void)ws; (void)cx;
	if (!v) {
		memset(y->data, 0, (size_t)cnt * es);
		return 0;
	}
	for (int64_t i = 0; i < cnt; i++)
		memcpy((char *)y->data + i * (int64_t)es, v->t->data, es);
	return 0;
}

/* ---- Cast / CastLike ---- */

static int cast_target(const inf_node *n)
{
	if (!strcmp(n->op_type, "CastLike"))
		return ops_in(n, 1) ? n->in[1]->dtype : 0;
	return (int)inf_attr_int(n, "to", 0);
}

OPS_SHAPE(shape_cast, 1, 1)
{
	int to = cast_target(n);

	if (!ops_dtype_numeric(n->in[0]->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "casting from data type %d is not supported", n->in[0]->dtype);
	if (!ops_dtype_numeric(to))
		return ops_fail(err, errlen, VP_EUNSUP, "casting to data type %d is not supported", to);
	ops_set_shape(n->out[0], to, n->in[0]->ndim, n->in[0]->dims);
	return 0;
}

static int run_cast(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];
	int64_t cnt = inf_tensor_numel(x);

	(void)ws; (void)cx;
	if (x->dtype == y->dtype) {
		ops_copy_through(n);
		return 0;
	}
	/* integers stay exact through int64; everything else goes through double */
	if (ops_dtype_is_int(x->dtype) && ops_dtype_is_int(y->dtype))
		for (int64_t i = 0; i < cnt; i++)
			ops_put_i64(y->data, y->dtype, i, ops_get_i64(x->data, x->dtype, i));
	else
		for (int64_t i = 0; i < cnt; i++)
			ops_put_f64(y->data, y->dtype, i, ops_get_f64(x->data, x->dtype, i));
	return 0;
}

const inf_op ops_shape[] = {
	{ .op_type = "Reshape", .shape = shape_reshape, .run_cpu = run_copy },
	{ .op_type = "Flatten", .shape = shape_flatten, .run_cpu = run_copy },
	{ .op_type = "Squeeze", .shape = shape_squeeze, .run_cpu = run_copy },
	{ .op_type = "Unsqueeze", .shape = shape_unsqueeze, .run_cpu = run_copy },
	{ .op_type = "Shape", .shape = shape_shape, .run_cpu = run_shape },
	{ .op_type = "Constant", .shape = shape_constant, .run_cpu = run_constant },
	{ .op_type = "ConstantOfShape", .shape = shape_constant_of_shape, .run_cpu = run_constant_of_shape },
	{ .op_type = "Cast", .shape = shape_cast, .run_cpu = run_cast },
	{ .op_type = "CastLike", .shape = shape_cast, .run_cpu = run_cast },
	{ .op_type = NULL },
};
