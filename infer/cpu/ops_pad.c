/* Pad (constant, reflect, edge; negative pads crop), pads and value as attributes
 * before opset 11 and as inputs from 11 on; any element type. */
#include <string.h>

#include "infer/cuda/cuda_kernels_math.h"
#include "ops_common.h"
#include "ops_tables.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

typedef struct pad_geom {
	int mode;
	int64_t pb[INF_MAX_DIMS], pe[INF_MAX_DIMS];
} pad_geom;

static int pad_geom_get(const inf_node *n, pad_geom *g, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0];
	const char *m = inf_attr_str(n, "mode", "constant");
	int64_t pads[2 * INF_MAX_DIMS];
	const int64_t *attr;
	int cnt;

	g->mode = !strcmp(m, "constant") ? PAD_CONSTANT : !strcmp(m, "reflect") ? PAD_REFLECT
	        : !strcmp(m, "edge") ? PAD_EDGE : -1;
	if (g->mode < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "mode \"%s\" is not supported", m);
	if (n->opset < 11) {
		if ((cnt = inf_attr_ints(n, "pads", &attr)) < 0 || cnt > 2 * INF_MAX_DIMS)
			return ops_fail(err, errlen, VP_EMODEL, "pads attribute is missing");
		memcpy(pads, attr, sizeof(int64_t) * (size_t)cnt);
	} else if ((cnt = ops_const_ints(n, 1, pads, 2 * INF_MAX_DIMS, err, errlen)) < 0) {
		return cnt;
	}
	if (ops_in(n, 3))
		return ops_fail(err, errlen, VP_EUNSUP, "the axes input is not supported");
	if (cnt != 2 * x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "pads has %d values for rank %d", cnt, x->ndim);
	for (int i = 0; i < x->ndim; i++) {
		g->pb[i] = pads[i];
		g->pe[i] = pads[x->ndim + i];
		if (x->dims[i] + g->pb[i] + g->pe[i] < 0)
			return ops_fail(err, errlen, VP_EMODEL, "pads crop more than axis %d holds", i);
		if (g->mode == PAD_REFLECT && (g->pb[i] >= x->dims[i] || g->pe[i] >= x->dims[i]) &&
		    (g->pb[i] > 0 || g->pe[i] > 0))
			return ops_fail(err, errlen, VP_EMODEL, "reflect pads on axis %d must be below its size", i);
		if (g->mode != PAD_CONSTANT && x->dims[i] == 0 && (g->pb[i] > 0 || g->pe[i] > 0))
			return ops_fail(err, errlen, VP_EMODEL, "cannot %s-pad the empty axis %d", m, i);
	}
	return 0;
}

OPS_SHAPE(shape_pad, 1, 1)
{
	const inf_tensor *x = n->in[0], *v = ops_in(n, 2);
	int64_t dims[INF_MAX_DIMS];
	pad_geom g;
	int rc = pad_geom_get(n, &g, err, errlen);

	if (rc < 0)
		return rc;
	if (v && (v->dtype != x->dtype || inf_tensor_numel(v) != 1))
		return ops_fail(err, errlen, VP_EMODEL, "constant_value %s must be a scalar of the data's type", v->name);
	for (int i = 0; i < x->ndim; i++)
		dims[i] = x->dims[i] + g.pb[i] + g.pe[i];
	ops_set_shape(n->out[0], x->dtype, x->ndim, dims);
	return 0;
}

/* Source index on one axis for output index o; -1 means the constant. The math is the
 * GPU kernel's (cuda_kernels_math.h), so the two cannot drift apart. */
static int64_t pad_src(const pad_geom *g, int a, int64_t o, int64_t len)
{
	static const int cuk_mode[] = { [PAD_CONSTANT] = CUK_PAD_CONSTANT, [PAD_REFLECT] = CUK_PAD_REFLECT,
	                                [PAD_EDGE] = CUK_PAD_EDGE };
	return cuk_pad_src(cuk_mode[g->mode], o, g->pb[a], len);
}

typedef struct pad_job {
	const inf_node *n;
	const pad_geom *g;
	const int64_t *s;                     /* element strides of the input */
	const unsigned char *value;
	size_t es;
} pad_job;

/* Output rows [r0, r1) (every axis but the last fixed). The columns whose source is
 * inside the input row are one memcpy; only the pads go element by element (a model's
 * 1-pixel pad of a [16, 160, 160] map was a memcpy per element). */
static void pad_rows(void *arg, int64_t r0, int64_t r1)
{
	const pad_job *j = arg;
	const inf_tensor *x = j->n->in[0], *y = j->n->out[0];
	int nd = x->ndim;
	int64_t inner = y->dims[nd - 1], xlen = x->dims[nd - 1], pb = j->g->pb[nd - 1];
	int64_t lo = pb < 0 ? 0 : pb, hi = pb + xlen < inner ? pb + xlen : inner;
	size_t es = j->es;

	if (hi < lo)
		hi = lo;
	for (int64_t r = r0; r < r1; r++) {
		char *dst = (char *)y->data + (size_t)(r * inner) * es;
		const char *src = x->data;
		int64_t off = 0, rr = r, ok = 1;

		for (int d = nd - 2; d >= 0; d--) {
			int64_t i = pad_src(j->g, d, rr % y->dims[d], x->dims[d]);
			rr /= y->dims[d];
			if (i < 0)
				ok = 0;
			off += i * j->s[d];
		}
		for (int64_t o = 0; o < inner; o++) {
			if (ok && o == lo && hi > lo) {
				memcpy(dst + (size_t)lo * es, src + (size_t)(off + lo - pb) * es, (size_t)(hi - lo) * es);
				o = hi - 1;
				continue;
			}
			int64_t i = ok ? pad_src(j->g, nd - 1, o, xlen) : -1;
			memcpy(dst + (size_t)o * es, i < 0 ? (const void *)j->value : src + (size_t)(off + i) * es, es);
		}
	}
}

static int run_pad(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *v = ops_in(n, 2);
	inf_tensor *y = n->out[0];
	size_t es = inf_dtype_size(x->dtype);
	int nd = x->ndim;
	int64_t rows = 1, s[INF_MAX_DIMS], acc = 1;
	unsigned char value[16] = { 0 };
	pad_geom g;
	pad_job j = { n, &g, s, value, es };
	char err[8];

	(void)ws;
	if (pad_geom_get(n, &g, err, sizeof(err)) < 0)
		return VP_EMODEL;
	if (v)
		memcpy(value, v->data, es);
	else if (n->opset < 11)
		ops_put_f64(value, x->dtype, 0, inf_attr_float(n, "value", 0.0f));
	for (int i = nd - 1; i >= 0; i--) {
		s[i] = acc;
		acc *= x->dims[i];
	}
	for (int i = 0; i < nd - 1; i++)
		rows *= y->dims[i];
	if (inf_tensor_numel(y) == 0)
		return 0;
	if (nd == 0) {
		memcpy(y->data, x->data, es);
		return 0;
	}
	/* rows of a few KiB each: ranges of 16 rows are worth handing to another thread */
	ops_par_range(cx, rows, 16, pad_rows, &j);
	return 0;
}

const inf_op ops_pad[] = {
	{ .op_type = "Pad", .shape = shape_pad, .run_cpu = run_pad },
	{ .op_type = NULL },
};
