/* Index-driven writes and reads: ScatterND, ScatterElements (reduction none, add, mul,
 * max, min) and GatherND. Indices may come from the graph at run time (a TopK's), so
 * every index is checked against the data's dims when it is used: one outside is bad
 * data (VP_EMODEL), never a write past the buffer. Copies are by bytes (any dtype);
 * reductions go through int64 or double, exact for the engine's dtypes. */
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction_of(const inf_node *n)
{
	static const char *const names[] = { "none", "add", "mul", "max", "min" };
	const char *s = inf_attr_str(n, "reduction", "none");

	for (int i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* y[dst] = y[dst] (reduction) u[src]. */
static void apply(int red, inf_tensor *y, int64_t dst, const inf_tensor *u, int64_t src)
{
	int dt = y->dtype;
	size_t es = inf_dtype_size(dt);

	if (red == RED_NONE) {
		memcpy((char *)y->data + (size_t)dst * es, (const char *)u->data + (size_t)src * es, es);
	} else if (ops_dtype_is_int(dt)) {
		int64_t a = ops_get_i64(y->data, dt, dst), b = ops_get_i64(u->data, dt, src);
		ops_put_i64(y->data, dt, dst, red == RED_ADD ? ops_wrap_add(a, b) :
		            red == RED_MUL ? ops_wrap_mul(a, b) : red == RED_MAX ? (a > b ? a : b) : (a < b ? a : b));
	} else {
		double a = ops_get_f64(y->data, dt, dst), b = ops_get_f64(u->data, dt, src);
		ops_put_f64(y->data, dt, dst, red == RED_ADD ? a + b : red == RED_MUL ? a * b :
		            red == RED_MAX ? (a > b ? a : b) : (a < b ? a : b));
	}
}

static void copy_data(inf_tensor *y, const inf_tensor *x)
{
	if (y->data != x->data)
		memcpy(y->data, x->data, inf_tensor_bytes(x));
}

static int need_indices(const inf_node *n, int k, char *err, size_t errlen)
{
	const inf_tensor *t = ops_in(n, k);

	if (!t || (t->dtype != INF_DT_INT64 && t->dtype != INF_DT_INT32))
		return ops_fail(err, errlen, VP_EMODEL, "input %d must be int32 or int64 indices", k);
	return 0;
}

/* Index value i of t wrapped into [0, dim); -1 when outside. */
static int64_t index_at(const inf_tensor *t, int64_t i, int64_t dim)
{
	int64_t j = ops_get_i64(t->data, t->dtype, i);

	j = j < 0 ? j + dim : j;
	return j >= 0 && j < dim ? j : -1;
}

/* ---- ScatterND(data, indices [..., k], updates [...indices.shape[:-1], data.shape[k:]]) ---- */

OPS_SHAPE(shape_scatter_nd, 3, 1)
{
	const inf_tensor *x = n->in[0], *ix = ops_in(n, 1), *u = ops_in(n, 2);
	int rc = need_indices(n, 1, err, errlen);
	int64_t k;

	if (rc < 0)
		return rc;
	if (!u || u->dtype != x->dtype || !inf_dtype_size(x->dtype) || reduction_of(n) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "updates must match the data's type; reduction known");
	k = ix->ndim ? ix->dims[ix->ndim - 1] : -1;
	if (ix->ndim < 1 || k < 1 || k > x->ndim || u->ndim != ix->ndim - 1 + x->ndim - (int)k)
		return ops_fail(err, errlen, VP_EMODEL, "indices' last dim or updates' rank does not fit the data");
	for (int d = 0; d < ix->ndim - 1; d++)
		if (u->dims[d] != ix->dims[d])
			return ops_fail(err, errlen, VP_EMODEL, "updates' leading dims differ from the indices'");
	for (int d = (int)k; d < x->ndim; d++)
		if (u->dims[ix->ndim - 1 + d - k] != x->dims[d])
			return ops_fail(err, errlen, VP_EMODEL, "updates' trailing dims differ from the data's");
	ops_same_shape(n);
	return 0;
}

/* Element offset of the slice that index tuple `row` of ix (k values) names in x; -1 outside. */
static int64_t tuple_offset(const inf_tensor *ix, int64_t row, int k, const inf_tensor *x, int first_dim)
{
	int64_t off = 0;

	for (int d = 0; d < k; d++) {
		int64_t j = index_at(ix, row * k + d, x->dims[first_dim + d]);
		if (j < 0)
			return -1;
		off = off * x->dims[first_dim + d] + j;
	}
	for (int d = first_dim + k; d < x->ndim; d++)
		off *= x->dims[d];
	return off;
}

static int run_scatter_nd(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *ix = n->in[1], *u = n->in[2];
	inf_tensor *y = n->out[0];
	int k = (int)ix->dims[ix->ndim - 1], red = reduction_of(n);
	int64_t rows = inf_tensor_numel(ix) / k, slice = 1;

	(void)ws; (void)cx;
	for (int d = k; d < x->ndim; d++)
		slice *= x->dims[d];
	copy_data(y, x);
	for (int64_t r = 0; r < rows; r++) {
		int64_t off = tuple_offset(ix, r, k, x, 0);
		if (off < 0)
			return VP_EMODEL;
		for (int64_t i = 0; i < slice; i++)
			apply(red, y, off + i, u, r * slice + i);
	}
	return 0;
}

/* ---- ScatterElements(data, indices, updates): indices and updates of one shape ---- */

OPS_SHAPE(shape_scatter_elements, 3, 1)
{
	const inf_tensor *x = n->in[0], *ix = ops_in(n, 1), *u = ops_in(n, 2);
	int rc = need_indices(n, 1, err, errlen);

	if (rc < 0)
		return rc;
	if (!u || u->dtype != x->dtype || !inf_dtype_size(x->dtype) || reduction_of(n) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "updates must match the data's type; reduction known");
	if (x->ndim < 1 || ix->ndim != x->ndim || u->ndim != x->ndim ||
	    memcmp(ix->dims, u->dims, sizeof(int64_t) * (size_t)x->ndim) ||
	    ops_axis(inf_attr_int(n, "axis", 0), x->ndim) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "indices and updates must share the data's rank and a shape");
	ops_same_shape(n);
	return 0;
}

static int run_scatter_elements(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *ix = n->in[1], *u = n->in[2];
	inf_tensor *y = n->out[0];
	int nd = x->ndim, axis = ops_axis(inf_attr_int(n, "axis", 0), nd), red = reduction_of(n);
	int64_t xs[INF_MAX_DIMS], idx[INF_MAX_DIMS] = { 0 };

	(void)ws; (void)cx;
	xs[nd - 1] = 1;
	for (int d = nd - 2; d >= 0; d--)
		xs[d] = xs[d + 1] * x->dims[d + 1];
	copy_data(y, x);
	for (int64_t i = 0, cnt = inf_tensor_numel(ix); i < cnt; i++) {
		int64_t j = index_at(ix, i, x->dims[axis]), off = 0;
		if (j < 0)
			return VP_EMODEL;
		for (int d = 0; d < nd; d++) {
			if (d != axis && idx[d] >= x->dims[d])
				return VP_EMODEL;
			off += (d == axis ? j : idx[d]) * xs[d];
		}
		apply(red, y, off, u, i);
		for (int d = nd - 1; d >= 0 && ++idx[d] == ix->dims[d]; d--)
			idx[d] = 0;
	}
	return 0;
}

/* ---- GatherND(data, indices [..., k]) with batch_dims b ---- */

OPS_SHAPE(shape_gather_nd, 2, 1)
{
	const inf_tensor *x = n->in[0], *ix = ops_in(n, 1);
	int b = (int)inf_attr_int(n, "batch_dims", 0), rc = need_indices(n, 1, err, errlen), nd = 0;
	int64_t k, dims[INF_MAX_DIMS];

	if (rc < 0)
		return rc;
	if (!inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	k = ix->ndim ? ix->dims[ix->ndim - 1] : -1;
	if (b < 0 || ix->ndim < 1 || b >= ix->ndim || b >= x->ndim || k < 0 || b + k > x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "batch_dims or the indices' last dim does not fit the data");
	for (int d = 0; d < b; d++)
		if (ix->dims[d] != x->dims[d])
			return ops_fail(err, errlen, VP_EMODEL, "batch dims of data and indices differ");
	for (int d = 0; d < ix->ndim - 1; d++)
		dims[nd++] = ix->dims[d];
	for (int d = b + (int)k; d < x->ndim; d++)
		dims[nd++] = x->dims[d];
	if (nd > INF_MAX_DIMS)
		return ops_fail(err, errlen, VP_EUNSUP, "output rank %d", nd);
	ops_set_shape(n->out[0], x->dtype, nd, dims);
	return 0;
}

static int run_gather_nd(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *ix = n->in[1];
	inf_tensor *y = n->out[0];
	int b = (int)inf_attr_int(n, "batch_dims", 0), k = (int)ix->dims[ix->ndim - 1];
	int64_t batches = 1, per_batch, rows, slice = 1, xbatch = 1;
	size_t es = inf_dtype_size(x->dtype);

	(void)ws; (void)cx;
	for (int d = 0; d < b; d++)
		batches *= x->dims[d];
	for (int d = b; d < x->ndim; d++)
		xbatch *= x->dims[d];
	for (int d = b + k; d < x->ndim; d++)
		slice *= x->dims[d];
	rows = 1;                       /* index tuples: every indices dim but the last */
	for (int d = 0; d < ix->ndim - 1; d++)
		rows *= ix->dims[d];
	per_batch = batches ? rows / batches : 0;
	for (int64_t r = 0; r < rows; r++) {
		int64_t bt = per_batch ? r / per_batch : 0;
		int64_t off = k ? tuple_offset(ix, r, k, x, b) : 0;
		if (off < 0)
			return VP_EMODEL;
		memcpy((char *)y->data + (size_t)(r * slice) * es,
		       (const char *)x->data + (size_t)(bt * xbatch + off) * es, (size_t)slice * es);
	}
	return 0;
}

const inf_op ops_scatter[] = {
	{ .op_type = "ScatterND", .shape = shape_scatter_nd, .run_cpu = run_scatter_nd },
	{ .op_type = "ScatterElements", .shape = shape_scatter_elements, .run_cpu = run_scatter_elements },
	{ .op_type = "GatherND", .shape = shape_gather_nd, .run_cpu = run_gather_nd },
	{ .op_type = NULL },
};
