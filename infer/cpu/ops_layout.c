/* Operators that move data without arithmetic: Transpose, Slice, Expand (one strided
 * copy each), Concat, Split, Gather and Pad. Any element type: elements are copied
 * by size. */
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

/* 4-byte elements every `is` apart; stride 2 (space-to-depth slices) deinterleaves
 * with vector loads. */
OPS_VECTOR static void copy_strided4(uint32_t *dst, const uint32_t *src, int64_t n, int64_t is)
{
	if (is == 2) {
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			dst[i] = src[2 * i];
		return;
	}
	for (int64_t i = 0; i < n; i++)
		dst[i] = src[i * is];
}

/* One output row of `inner` elements from src with input stride is. */
static void copy_row(char *dst, const char *src, int64_t inner, int64_t is, size_t es)
{
	if (is == 1) {
		memcpy(dst, src, (size_t)inner * es);
		return;
	}
	switch (es) {
	case 4:
		copy_strided4((uint32_t *)dst, (const uint32_t *)src, inner, is);
		break;
	case 8:
		for (int64_t i = 0; i < inner; i++)
			((uint64_t *)dst)[i] = *(const uint64_t *)(src + (size_t)(i * is) * 8);
		break;
	default:
		for (int64_t i = 0; i < inner; i++)
			memcpy(dst + (size_t)i * es, src + (size_t)(i * is) * es, es);
	}
}

typedef struct strided {
	const void *x;
	int64_t base;
	const int64_t *strides, *dims;
	int nd;
	size_t es;
	void *y;
} strided;

/* Rows [r0, r1) of a strided copy. */
static void strided_rows(void *arg, int64_t r0, int64_t r1)
{
	const strided *c = arg;
	const int64_t *strides = c->strides, *dims = c->dims;
	int64_t inner = c->nd ? dims[c->nd - 1] : 1, is = c->nd ? strides[c->nd - 1] : 0;
	int64_t idx[INF_MAX_DIMS], off = c->base, rr = r0;
	const void *x = c->x;
	void *y = c->y;
	size_t es = c->es;
	int nd = c->nd;

	for (int d = nd - 2; d >= 0; d--) {
		idx[d] = rr % dims[d];
		rr /= dims[d];
		off += idx[d] * strides[d];
	}
	for (int64_t r = r0; r < r1; r++) {
		copy_row((char *)y + (size_t)(r * inner) * es, (const char *)x + (size_t)off * es, inner, is, es);
		for (int d = nd - 2; d >= 0; d--) {
			off += strides[d];
			if (++idx[d] < dims[d])
				break;
			off -= idx[d] * strides[d];
			idx[d] = 0;
		}
	}
}

/* Copies the output (dims[nd], contiguous) from x + base with per-output-axis input
 * strides (in elements); the last axis is the inner loop. Tasks take contiguous runs
 * of rows and step the outer indices along instead of dividing for every row. */
static void strided_copy(const void *x, int64_t base, const int64_t *strides, const int64_t *dims, int nd,
                         size_t es, void *y, const inf_cpu_ctx *cx)
{
	strided c = { x, base, strides, dims, nd, es, y };
	int64_t rows = 1, inner = nd ? dims[nd - 1] : 1;

	for (int d = 0; d < nd - 1; d++)
		rows *= dims[d];
	/* small copies on the caller: a task costs more than it saves */
	ops_par_range(cx, rows, rows * inner > 65536 ? 16384 / (inner > 0 ? inner : 1) + 1 : rows, strided_rows, &c);
}

static void contiguous_strides(const inf_tensor *t, int64_t *s)
{
	int64_t acc = 1;

	for (int i = t->ndim - 1; i >= 0; i--) {
		s[i] = acc;
		acc *= t->dims[i];
	}
}

/* ---- Transpose ---- */

static int transpose_perm(const inf_node *n, int *perm, char *err, size_t errlen)
{
	int nd = n->in[0]->ndim, seen[INF_MAX_DIMS] = { 0 };
	const int64_t *p;
	int cnt = inf_attr_ints(n, "perm", &p);

	for (int i = 0; i < nd; i++)
		perm[i] = nd - 1 - i;
	if (cnt < 0)
		return 0;
	if (cnt != nd)
		return ops_fail(err, errlen, VP_EMODEL, "perm has %d values for rank %d", cnt, nd);
	for (int i = 0; i < nd; i++) {
		int a = ops_axis(p[i], nd);
		if (a < 0 || seen[a]++)
			return ops_fail(err, errlen, VP_EMODEL, "perm is not a permutation");
		perm[i] = a;
	}
	return 0;
}

OPS_SHAPE(shape_transpose, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t dims[INF_MAX_DIMS];
	int perm[INF_MAX_DIMS], rc = transpose_perm(n, perm, err, errlen);

	if (rc < 0)
		return rc;
	for (int i = 0; i < x->ndim; i++)
		dims[i] = x->dims[perm[i]];
	ops_set_shape(n->out[0], x->dtype, x->ndim, dims);
	return 0;
}

static int run_transpose(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int64_t s[INF_MAX_DIMS], ps[INF_MAX_DIMS];
	int perm[INF_MAX_DIMS];
	char err[8];

	(void)ws;
	if (transpose_perm(n, perm, err, sizeof(err)) < 0)
		return VP_EMODEL;
	contiguous_strides(x, s);
	for (int i = 0; i < x->ndim; i++)
		ps[i] = s[perm[i]];
	strided_copy(x->data, 0, ps, n->out[0]->dims, x->ndim, inf_dtype_size(x->dtype), n->out[0]->data, cx);
	return 0;
}

/* ---- Slice ---- */

typedef struct slice_geom {
	int64_t start[INF_MAX_DIMS], step[INF_MAX_DIMS], count[INF_MAX_DIMS];
} slice_geom;

/* Reads starts/ends/axes/steps (attributes before opset 10, constant inputs after) and
 * clamps them as the specification does. */
static int slice_geom_read(const inf_node *n, slice_geom *g, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0];
	int64_t st[INF_MAX_DIMS], en[INF_MAX_DIMS], ax[INF_MAX_DIMS], sp[INF_MAX_DIMS];
	int cnt, c2, ca = -1, cs = -1, seen[INF_MAX_DIMS] = { 0 };

	if (n->opset < 10) {
		const int64_t *a, *b, *c;
		cnt = inf_attr_ints(n, "starts", &a);
		c2 = inf_attr_ints(n, "ends", &b);
		if (cnt < 0 || cnt > INF_MAX_DIMS || c2 != cnt)
			return ops_fail(err, errlen, VP_EMODEL, "starts and ends are missing or differ in length");
		memcpy(st, a, sizeof(int64_t) * (size_t)cnt);
		memcpy(en, b, sizeof(int64_t) * (size_t)cnt);
		if ((ca = inf_attr_ints(n, "axes", &c)) > INF_MAX_DIMS)
			return ops_fail(err, errlen, VP_EMODEL, "too many axes");
		if (ca > 0)
			memcpy(ax, c, sizeof(int64_t) * (size_t)ca);
	} else {
		if ((cnt = ops_const_ints(n, 1, st, INF_MAX_DIMS, err, errlen)) < 0)
			return cnt;
		if ((c2 = ops_const_ints(n, 2, en, INF_MAX_DIMS, err, errlen)) < 0)
			return c2;
		if (ops_in(n, 3) && (ca = ops_const_ints(n, 3, ax, INF_MAX_DIMS, err, errlen)) < 0)
			return ca;
		if (ops_in(n, 4) && (cs = ops_const_ints(n, 4, sp, INF_MAX_DIMS, err, errlen)) < 0)
			return cs;
	}
	if (c2 != cnt || (ca >= 0 && ca != cnt) || (cs >= 0 && cs != cnt))
		return ops_fail(err, errlen, VP_EMODEL, "starts, ends, axes and steps differ in length");
	for (int i = 0; i < x->ndim; i++) {
		g->start[i] = 0;
		g->step[i] = 1;
		g->count[i] = x->dims[i];
	}
	for (int i = 0; i < cnt; i++) {
		int a = ops_axis(ca >= 0 ? ax[i] : i, x->ndim);
		int64_t d, s, e, step = cs >= 0 ? sp[i] : 1;

		if (a < 0 || seen[a]++)
			return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range or repeated",
			                (long long)(ca >= 0 ? ax[i] : i));
		if (step == 0)
			return ops_fail(err, errlen, VP_EMODEL, "step 0 on axis %d", a);
		d = x->dims[a];
		s = st[i] < 0 ? st[i] + d : st[i];
		e = en[i] < 0 ? en[i] + d : en[i];
		if (step > 0) {
			s = s < 0 ? 0 : s > d ? d : s;
			e = e < 0 ? 0 : e > d ? d : e;
			g->count[a] = e > s ? (e - s + step - 1) / step : 0;
		} else {
			s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
			e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
			g->count[a] = s > e ? (s - e - step - 1) / -step : 0;
		}
		g->start[a] = s;
		g->step[a] = step;
	}
	return 0;
}

OPS_SHAPE(shape_slice, 1, 1)
{
	slice_geom g;
	int rc = slice_geom_read(n, &g, err, errlen);

	if (rc < 0)
		return rc;
	ops_set_shape(n->out[0], n->in[0]->dtype, n->in[0]->ndim, g.count);
	return 0;
}

static int run_slice(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int64_t s[INF_MAX_DIMS], ss[INF_MAX_DIMS], base = 0;
	slice_geom g;
	char err[8];

	(void)ws;
	if (slice_geom_read(n, &g, err, sizeof(err)) < 0)
		return VP_EMODEL;
	if (inf_tensor_numel(n->out[0]) == 0)
		return 0;
	contiguous_strides(x, s);
	for (int i = 0; i < x->ndim; i++) {
		base += g.start[i] * s[i];
		ss[i] = g.step[i] * s[i];
	}
	strided_copy(x->data, base, ss, n->out[0]->dims, x->ndim, inf_dtype_size(x->dtype), n->out[0]->data, cx);
	return 0;
}

/* ---- Expand ---- */

OPS_SHAPE(shape_expand, 1, 1)
{
	inf_tensor shp = { 0 };
	int64_t dims[INF_MAX_DIMS];
	int cnt = ops_const_ints(n, 1, shp.dims, INF_MAX_DIMS, err, errlen), nd;

	if (cnt < 0)
		return cnt;
	shp.ndim = cnt;
	if (ops_bcast_shape(n->in[0], &shp, &nd, dims) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "input %s does not broadcast to the shape", n->in[0]->name);
	ops_set_shape(n->out[0], n->in[0]->dtype, nd, dims);
	return 0;
}

static int run_expand(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];
	int64_t s[INF_MAX_DIMS];

	(void)ws;
	ops_bcast_strides(x, y->ndim, y->dims, s);
	strided_copy(x->data, 0, s, y->dims, y->ndim, inf_dtype_size(x->dtype), y->data, cx);
	return 0;
}

/* ---- Concat and Split: outer rows of contiguous chunks ---- */

OPS_SHAPE(shape_concat, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	int64_t dims[INF_MAX_DIMS];

	if (a < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range", (long long)inf_attr_int(n, "axis", 0));
	memcpy(dims, x->dims, sizeof(dims));
	dims[a] = 0;
	for (int k = 0; k < n->n_in; k++) {
		const inf_tensor *t = n->in[k];
		if (!t)
			return ops_fail(err, errlen, VP_EMODEL, "input %d is missing", k);
		if (t->ndim != x->ndim || t->dtype != x->dtype)
			return ops_fail(err, errlen, VP_EMODEL, "input %d does not match input 0 in rank or type", k);
		for (int i = 0; i < x->ndim; i++)
			if (i != a && t->dims[i] != x->dims[i])
				return ops_fail(err, errlen, VP_EMODEL, "input %s differs on axis %d", t->name, i);
		dims[a] += t->dims[a];
	}
	ops_set_shape(n->out[0], x->dtype, x->ndim, dims);
	return 0;
}

static int64_t outer_size(const inf_tensor *t, int axis)
{
	int64_t o = 1;

	for (int i = 0; i < axis; i++)
		o *= t->dims[i];
	return o;
}

static int run_concat(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	inf_tensor *y = n->out[0];
	int a = ops_axis(inf_attr_int(n, "axis", 0), y->ndim);
	size_t es = inf_dtype_size(y->dtype), row = (size_t)(inf_tensor_numel(y) / (outer_size(y, a) ? outer_size(y, a) : 1)) * es;
	int64_t outer = outer_size(y, a);

	(void)ws;
#pragma omp parallel for num_threads(ops_threads(cx)) if (outer > 16)
	for (int64_t o = 0; o < outer; o++) {
		size_t off = 0;
		for (int k = 0; k < n->n_in; k++) {
			const inf_tensor *t = n->in[k];
			size_t chunk = outer ? (size_t)(inf_tensor_numel(t) / outer) * es : 0;
			char *dst = (char *)y->data + (size_t)o * row + off;
			const char *src = (const char *)t->data + (size_t)o * chunk;

			/* the planner may have placed the input in its slice already */
			if (dst != src)
				memcpy(dst, src, chunk);
			off += chunk;
		}
	}
	return 0;
}

/* Split sizes: attribute before opset 13, optional constant input from 13 on, else
 * equal parts. */
static int split_sizes(const inf_node *n, int a, int64_t *sz, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0];
	int64_t tmp[64], sum = 0;
	const int64_t *attr;
	int cnt = -1;

	if (n->n_out > 64)
		return ops_fail(err, errlen, VP_EUNSUP, "%d outputs, at most 64 supported", n->n_out);
	if (n->opset < 13 && (cnt = inf_attr_ints(n, "split", &attr)) >= 0) {
		if (cnt <= 64)
			memcpy(tmp, attr, sizeof(int64_t) * (size_t)cnt);
	} else if (n->opset >= 13 && ops_in(n, 1)) {
		if ((cnt = ops_const_ints(n, 1, tmp, 64, err, errlen)) < 0)
			return cnt;
	}
	if (cnt < 0) {
		if (x->dims[a] % n->n_out)
			return ops_fail(err, errlen, VP_EMODEL, "axis size %lld does not split into %d equal parts",
			                (long long)x->dims[a], n->n_out);
		for (int k = 0; k < n->n_out; k++)
			sz[k] = x->dims[a] / n->n_out;
		return 0;
	}
	if (cnt != n->n_out)
		return ops_fail(err, errlen, VP_EMODEL, "split has %d sizes for %d outputs", cnt, n->n_out);
	for (int k = 0; k < cnt; k++) {
		if (tmp[k] < 0)
			return ops_fail(err, errlen, VP_EMODEL, "split size %lld is negative", (long long)tmp[k]);
		sz[k] = tmp[k];
		sum += tmp[k];
	}
	if (sum != x->dims[a])
		return ops_fail(err, errlen, VP_EMODEL, "split sizes add up to %lld, the axis has %lld",
		                (long long)sum, (long long)x->dims[a]);
	return 0;
}

OPS_SHAPE(shape_split, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim), rc;
	int64_t sz[64], dims[INF_MAX_DIMS];

	if (a < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range", (long long)inf_attr_int(n, "axis", 0));
	if ((rc = split_sizes(n, a, sz, err, errlen)) < 0)
		return rc;
	memcpy(dims, x->dims, sizeof(dims));
	for (int k = 0; k < n->n_out; k++) {
		dims[a] = sz[k];
		ops_set_shape(n->out[k], x->dtype, x->ndim, dims);
	}
	return 0;
}

static int run_split(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	int64_t outer = outer_size(x, a);
	size_t es = inf_dtype_size(x->dtype), row = outer ? (size_t)(inf_tensor_numel(x) / outer) * es : 0;

	(void)ws;
#pragma omp parallel for num_threads(ops_threads(cx)) if (outer > 16)
	for (int64_t o = 0; o < outer; o++) {
		size_t off = 0;
		for (int k = 0; k < n->n_out; k++) {
			inf_tensor *t = n->out[k];
			size_t chunk = (size_t)(inf_tensor_numel(t) / outer) * es;
			memcpy((char *)t->data + (size_t)o * chunk, (const char *)x->data + (size_t)o * row + off, chunk);
			off += chunk;
		}
	}
	return 0;
}

/* ---- Gather ---- */

OPS_SHAPE(shape_gather, 1, 1)
{
	const inf_tensor *x = n->in[0], *ind = ops_in(n, 1);
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim), nd = 0;
	int64_t dims[INF_MAX_DIMS];

	if (!ind || (ind->dtype != INF_DT_INT64 && ind->dtype != INF_DT_INT32))
		return ops_fail(err, errlen, VP_EMODEL, "indices must be int64 or int32");
	if (a < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range", (long long)inf_attr_int(n, "axis", 0));
	if (x->ndim - 1 + ind->ndim > INF_MAX_DIMS)
		return ops_fail(err, errlen, VP_EUNSUP, "output rank exceeds %d", INF_MAX_DIMS);
	/* constant indices are checked here; run-time ones make run_cpu fail */
	for (int64_t j = 0, cnt = ind->is_const && ind->data ? inf_tensor_numel(ind) : 0; j < cnt; j++) {
		int64_t v = ops_get_i64(ind->data, ind->dtype, j);
		if (v < -x->dims[a] || v >= x->dims[a])
			return ops_fail(err, errlen, VP_EMODEL, "index %lld is out of range for axis %d of size %lld",
			                (long long)v, a, (long long)x->dims[a]);
	}
	for (int i = 0; i < a; i++)
		dims[nd++] = x->dims[i];
	for (int i = 0; i < ind->ndim; i++)
		dims[nd++] = ind->dims[i];
	for (int i = a + 1; i < x->ndim; i++)
		dims[nd++] = x->dims[i];
	ops_set_shape(n->out[0], x->dtype, nd, dims);
	return 0;
}

static int run_gather(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *ind = n->in[1];
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	int64_t outer = outer_size(x, a), nidx = inf_tensor_numel(ind), len = x->dims[a];
	size_t chunk = inf_dtype_size(x->dtype);

	(void)ws; (void)cx;
	for (int i = a + 1; i < x->ndim; i++)
		chunk *= (size_t)x->dims[i];
	for (int64_t j = 0; j < nidx; j++) {
		int64_t v = ops_get_i64(ind->data, ind->dtype, j);
		if (v < -len || v >= len)
			return VP_EMODEL;
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t j = 0; j < nidx; j++) {
			int64_t v = ops_get_i64(ind->data, ind->dtype, j);
			v = v < 0 ? v + len : v;
			memcpy((char *)n->out[0]->data + (size_t)(o * nidx + j) * chunk,
			       (const char *)x->data + (size_t)(o * len + v) * chunk, chunk);
		}
	return 0;
}

const inf_op ops_layout[] = {
	{ .op_type = "Transpose", .shape = shape_transpose, .run_cpu = run_transpose },
	{ .op_type = "Slice", .shape = shape_slice, .run_cpu = run_slice },
	{ .op_type = "Expand", .shape = shape_expand, .run_cpu = run_expand },
	{ .op_type = "Concat", .shape = shape_concat, .run_cpu = run_concat },
	{ .op_type = "Split", .shape = shape_split, .run_cpu = run_split },
	{ .op_type = "Gather", .shape = shape_gather, .run_cpu = run_gather },
	{ .op_type = NULL },
};
