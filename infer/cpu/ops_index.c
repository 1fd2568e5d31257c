/* Operators that select by index or rank: TopK, ArgMax, ArgMin, Hardmax, GatherElements.
 * Values are ranked by a key that is exact for every engine dtype (int64 compared as
 * int64, floats as double); selected elements are copied as bytes. ScatterND is in
 * ops_scatter.c. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

/* A tensor seen as [outer, len, inner] around one axis. */
typedef struct axis_split {
	int64_t outer, len, inner;
} axis_split;

static axis_split split_at(const inf_tensor *t, int axis)
{
	axis_split s = { 1, t->dims[axis], 1 };

	for (int d = 0; d < axis; d++)
		s.outer *= t->dims[d];
	for (int d = axis + 1; d < t->ndim; d++)
		s.inner *= t->dims[d];
	return s;
}

typedef struct rank_key {
	double f;               /* floats; 0 for integers */
	int64_t q;              /* integers; 0 for floats */
	int64_t idx;            /* position along the axis */
} rank_key;

static rank_key key_at(const inf_tensor *t, int64_t off, int64_t idx)
{
	rank_key k = { 0, 0, idx };

	if (ops_dtype_is_int(t->dtype))
		k.q = ops_get_i64(t->data, t->dtype, off);
	else
		k.f = ops_get_f64(t->data, t->dtype, off);
	return k;
}

/* <0, 0, >0 as a ranks before b when looking for the largest values; NaN ranks
 * above every number (numpy's sort puts it last, so argsort(-x) puts it first). */
static int key_cmp_value(const rank_key *a, const rank_key *b)
{
	if (a->q != b->q)
		return a->q > b->q ? -1 : 1;
	if (isnan(a->f) || isnan(b->f))
		return isnan(a->f) ? (isnan(b->f) ? 0 : -1) : 1;
	return a->f > b->f ? -1 : a->f < b->f ? 1 : 0;
}

/* ---- TopK ---- */

static int topk_k(const inf_node *n, int64_t *ret, char *err, size_t errlen)
{
	int64_t k = 0;
	int cnt;

	if (n->opset < 10) {
		*ret = inf_attr_int(n, "k", -1);
		return 0;
	}
	const inf_tensor *tk = ops_in(n, 1);
	if (tk && (!tk->is_const || !tk->data))
		return ops_fail(err, errlen, VP_EUNSUP,
		                "k (%s) is computed at run time; the output shape would depend on data", tk->name);
	if ((cnt = ops_const_ints(n, 1, &k, 1, err, errlen)) < 0)
		return cnt;
	if (cnt != 1)
		return ops_fail(err, errlen, VP_EMODEL, "k must hold one value");
	*ret = k;
	return 0;
}

OPS_SHAPE(shape_topk, 1, 2)
{
	const inf_tensor *x = n->in[0];
	int axis = ops_axis(inf_attr_int(n, "axis", -1), x->ndim);
	int64_t k = 0, dims[INF_MAX_DIMS];
	int rc = topk_k(n, &k, err, errlen);

	if (rc < 0)
		return rc;
	if (!ops_dtype_numeric(x->dtype) || x->dtype == INF_DT_BOOL || !inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	if (axis < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	if (k < 0 || k > x->dims[axis])
		return ops_fail(err, errlen, VP_EMODEL, "k = %lld for an axis of %lld", (long long)k,
		                (long long)x->dims[axis]);
	memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
	dims[axis] = k;
	ops_set_shape(n->out[0], x->dtype, x->ndim, dims);
	ops_set_shape(n->out[1], INF_DT_INT64, x->ndim, dims);
	return 0;
}

static int topk_prepare(inf_node *n, size_t *ret_workspace)
{
	int axis = ops_axis(inf_attr_int(n, "axis", -1), n->in[0]->ndim);

	/* the k kept of one slice at a time (out[0] has k along the axis) */
	*ret_workspace = sizeof(rank_key) * (size_t)n->out[0]->dims[axis];
	return 0;
}

/* < 0 when a ranks before b. Ties keep the lower index first (the spec); `largest` = 0
 * reverses the value order only. */
static int topk_cmp(const rank_key *a, const rank_key *b, const int *largest)
{
	int c = key_cmp_value(a, b);

	if (c)
		return *largest ? c : -c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void heap_swap(rank_key *a, rank_key *b)
{
	rank_key t = *a;

	*a = *b;
	*b = t;
}

/* The heap keeps the worst of the best k at its root (topk_cmp > 0: ranks after). */
static void heap_up(rank_key *h, int64_t i, const int *largest)
{
	while (i > 0 && topk_cmp(&h[i], &h[(i - 1) / 2], largest) > 0) {
		heap_swap(&h[i], &h[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static void heap_down(rank_key *h, int64_t n, const int *largest)
{
	for (int64_t i = 0;;) {
		int64_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && topk_cmp(&h[c + 1], &h[c], largest) > 0)
			c++;
		if (topk_cmp(&h[c], &h[i], largest) <= 0)
			return;
		heap_swap(&h[c], &h[i]);
		i = c;
	}
}

/* The k best of one slice into keys[0..k), in rank order. A score table of tens of
 * thousands of entries with k in the hundreds (end-to-end detectors, once per frame):
 * most entries cost one comparison with the heap's root, O(len log k) at worst, and
 * only the k kept are sorted (the heap's root is the worst, so heapsort leaves them
 * best first). */
static void topk_select(const inf_tensor *x, int64_t base, const axis_split *s, int64_t k, int largest,
                        rank_key *keys)
{
	int64_t n = 0;

	for (int64_t i = 0; i < s->len && k > 0; i++) {
		rank_key c = key_at(x, base + i * s->inner, i);
		if (n < k) {
			keys[n] = c;
			heap_up(keys, n++, &largest);
		} else if (topk_cmp(&c, &keys[0], &largest) < 0) {
			keys[0] = c;
			heap_down(keys, k, &largest);
		}
	}
	/* heapsort in place: qsort may allocate (glibc's merge sort does above 1 KiB), and a
	 * run must not */
	for (int64_t end = n - 1; end > 0; end--) {
		heap_swap(&keys[0], &keys[end]);
		heap_down(keys, end, &largest);
	}
}

static int run_topk(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *v = n->out[0], *ix = n->out[1];
	int axis = ops_axis(inf_attr_int(n, "axis", -1), x->ndim), largest = inf_attr_int(n, "largest", 1) != 0;
	axis_split s = split_at(x, axis);
	int64_t k = v->dims[axis];
	size_t es = inf_dtype_size(x->dtype);
	rank_key *keys = ws;

	(void)cx;
	for (int64_t o = 0; o < s.outer; o++)
		for (int64_t in = 0; in < s.inner; in++) {
			int64_t base = o * s.len * s.inner + in, obase = o * k * s.inner + in;
			topk_select(x, base, &s, k, largest, keys);
			for (int64_t i = 0; i < k; i++) {
				int64_t src = base + keys[i].idx * s.inner, dst = obase + i * s.inner;
				memcpy((char *)v->data + (size_t)dst * es, (const char *)x->data + (size_t)src * es, es);
				((int64_t *)ix->data)[dst] = keys[i].idx;
			}
		}
	return 0;
}

/* ---- ArgMax, ArgMin ---- */

OPS_SHAPE(shape_argext, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int axis = ops_axis(inf_attr_int(n, "axis", 0), x->ndim), nd = 0;
	int keep = inf_attr_int(n, "keepdims", 1) != 0;
	int64_t dims[INF_MAX_DIMS];

	if (!ops_dtype_numeric(x->dtype) || x->dtype == INF_DT_BOOL || !inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	if (axis < 0 || x->dims[axis] == 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range or empty");
	for (int d = 0; d < x->ndim; d++)
		if (d != axis)
			dims[nd++] = x->dims[d];
		else if (keep)
			dims[nd++] = 1;
	ops_set_shape(n->out[0], INF_DT_INT64, nd, dims);
	return 0;
}

static int run_argext(inf_node *n, int want_max)
{
	const inf_tensor *x = n->in[0];
	int axis = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	int last = inf_attr_int(n, "select_last_index", 0) != 0;
	axis_split s = split_at(x, axis);
	int64_t *y = n->out[0]->data;

	for (int64_t o = 0; o < s.outer; o++)
		for (int64_t in = 0; in < s.inner; in++) {
			int64_t base = o * s.len * s.inner + in;
			rank_key best = key_at(x, base, 0);
			for (int64_t i = 1; i < s.len; i++) {
				rank_key c = key_at(x, base + i * s.inner, i);
				int cmp = key_cmp_value(&c, &best);   /* < 0: c is larger */
				if ((want_max ? cmp < 0 : cmp > 0) || (cmp == 0 && last))
					best = c;
			}
			y[o * s.inner + in] = best.idx;
		}
	return 0;
}

static int run_argmax(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; (void)cx; return run_argext(n, 1); }
static int run_argmin(inf_node *n, void *ws, const inf_cpu_ctx *cx) { (void)ws; (void)cx; return run_argext(n, 0); }

/* ---- Hardmax: 1 at the first largest element along the axis, 0 elsewhere ---- */

/* From opset 13 the axis is one axis (default -1); before, the tensor is seen as 2-D
 * [dims before axis, dims from axis on] (default axis 1). */
static axis_split hardmax_split(const inf_node *n)
{
	const inf_tensor *x = n->in[0];
	int axis = ops_axis(inf_attr_int(n, "axis", n->opset >= 13 ? -1 : 1), x->ndim);
	axis_split s = split_at(x, axis);

	if (n->opset < 13) {
		s.len *= s.inner;
		s.inner = 1;
	}
	return s;
}

OPS_SHAPE(shape_hardmax, 1, 1)
{
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (ops_axis(inf_attr_int(n, "axis", n->opset >= 13 ? -1 : 1), n->in[0]->ndim) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	ops_same_shape(n);
	return 0;
}

static int run_hardmax(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const float *x = n->in[0]->data;
	float *y = n->out[0]->data;
	axis_split s = hardmax_split(n);

	(void)ws; (void)cx;
	memset(y, 0, sizeof(float) * (size_t)inf_tensor_numel(n->out[0]));
	if (s.len == 0)
		return 0;
	for (int64_t o = 0; o < s.outer; o++)
		for (int64_t in = 0; in < s.inner; in++) {
			int64_t base = o * s.len * s.inner + in, best = 0;
			for (int64_t i = 1; i < s.len; i++)
				if (x[base + i * s.inner] > x[base + best * s.inner])
					best = i;
			y[base + best * s.inner] = 1.0f;
		}
	return 0;
}

/* ---- GatherElements ---- */

OPS_SHAPE(shape_gather_elements, 2, 1)
{
	const inf_tensor *x = n->in[0], *ix = ops_in(n, 1);

	if (!ix || (ix->dtype != INF_DT_INT64 && ix->dtype != INF_DT_INT32))
		return ops_fail(err, errlen, VP_EMODEL, "indices must be int32 or int64");
	if (!inf_dtype_size(x->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	int axis = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	if (x->ndim < 1 || ix->ndim != x->ndim || axis < 0)
		return ops_fail(err, errlen, VP_EMODEL, "indices must have the data's rank, axis in range");
	for (int d = 0; d < x->ndim; d++)
		if (d != axis && ix->dims[d] > x->dims[d])
			return ops_fail(err, errlen, VP_EMODEL, "indices dim %d (%lld) exceeds the data's (%lld)", d,
			                (long long)ix->dims[d], (long long)x->dims[d]);
	ops_set_shape(n->out[0], x->dtype, ix->ndim, ix->dims);
	return 0;
}

static int run_gather_elements(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *ix = n->in[1];
	inf_tensor *y = n->out[0];
	int nd = x->ndim, axis = ops_axis(inf_attr_int(n, "axis", 0), nd);
	int64_t xs[INF_MAX_DIMS], idx[INF_MAX_DIMS] = { 0 };
	size_t es = inf_dtype_size(x->dtype);

	(void)ws; (void)cx;
	xs[nd - 1] = 1;
	for (int d = nd - 2; d >= 0; d--)
		xs[d] = xs[d + 1] * x->dims[d + 1];
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++) {
		int64_t j = ops_get_i64(ix->data, ix->dtype, i), off = 0;
		if (j < 0)
			j += x->dims[axis];
		if (j < 0 || j >= x->dims[axis])
			return VP_EMODEL;       /* an index outside the data: bad input, not a read past it */
		for (int d = 0; d < nd; d++)
			off += (d == axis ? j : idx[d]) * xs[d];
		memcpy((char *)y->data + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
		for (int d = nd - 1; d >= 0 && ++idx[d] == y->dims[d]; d--)
			idx[d] = 0;
	}
	return 0;
}

const inf_op ops_index[] = {
	{ .op_type = "TopK", .shape = shape_topk, .prepare = topk_prepare, .run_cpu = run_topk },
	{ .op_type = "ArgMax", .shape = shape_argext, .run_cpu = run_argmax },
	{ .op_type = "ArgMin", .shape = shape_argext, .run_cpu = run_argmin },
	{ .op_type = "Hardmax", .shape = shape_hardmax, .run_cpu = run_hardmax },
	{ .op_type = "GatherElements", .shape = shape_gather_elements, .run_cpu = run_gather_elements },
	{ .op_type = NULL },
};
