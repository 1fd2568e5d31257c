/* The cuda backend's layout operators: reshapes as device copies, and Transpose, Slice,
 * Expand, Concat, Split, Gather (constant indices) as strided copies on cuda_kernels.cu's
 * n-d copy kernel, Pad (constant, reflect, edge) as one gather, with geometry computed
 * once at load. Every operand is addressed through its own stored layout (cu_strides),
 * so these operators convert between NCHW and NHWC for free. */
#ifdef VP_HAVE_CUDA
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "cuda_kernels.h"
#include "cuda_layout_pass.h"
#include "cuda_ops.h"
#include "infer/cpu/ops_common.h"

/* ---- reshapes: the bytes stay, only the shape changes ---- */

static int flat_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	(void)c;
	if (inf_tensor_numel(cn->n->in[0]) != inf_tensor_numel(cn->n->out[0]))
		return ops_fail(err, errlen, VP_EMODEL, "element counts differ");
	if (cn->n->n_out > 1)
		return ops_fail(err, errlen, VP_EUNSUP, "the Dropout mask output does not run on the GPU");
	return 0;
}

static int flat_run(cu_ctx *c, cu_node *cn, int batch)
{
	const inf_tensor *y = cn->n->out[0];
	if (cn->din[0] == cn->dout[0])
		return 0;
	size_t bytes = (size_t)cu_numel(c, cn, y, batch) * cu_elem(c, y);
	return cudaMemcpyAsync(cn->dout[0], cn->din[0], bytes, cudaMemcpyDeviceToDevice, c->stream) == cudaSuccess
	       ? 0 : -EIO;
}

/* ---- strided copies: Transpose, Slice, Expand, Concat, Split ---- */

typedef struct copy_priv {
	int n;                 /* one geometry per input (Concat) or output (Split), else 1 */
	cuk_geom g[];
} copy_priv;

static copy_priv *copy_priv_new(cu_node *cn, int count)
{
	copy_priv *p = calloc(1, sizeof(*p) + sizeof(cuk_geom) * (size_t)count);
	if (p)
		p->n = count;
	cn->priv = p;
	return p;
}

static int transpose_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	const int64_t *perm;
	int64_t s[INF_MAX_DIMS];
	copy_priv *p = copy_priv_new(cn, 1);
	if (!p)
		return -ENOMEM;
	int np = inf_attr_ints(n, "perm", &perm);
	if (np >= 0 && np != x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "perm has %d values for rank %d", np, x->ndim);
	cu_strides(c, x, s);
	p->g[0].nd = y->ndim;
	for (int i = 0; i < y->ndim; i++) {
		int src = np >= 0 ? (int)perm[i] : x->ndim - 1 - i;
		p->g[0].dims[i] = y->dims[i];
		p->g[0].sa[i] = s[src];
		if (i == 0 && src != 0)
			cn->bscale = 0;
	}
	cu_strides(c, y, p->g[0].sy);
	cu_geom_output_order(&p->g[0]);
	return 0;
}

static int slice_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int64_t st[INF_MAX_DIMS], en[INF_MAX_DIMS], ax[INF_MAX_DIMS], sp[INF_MAX_DIMS], s[INF_MAX_DIMS];
	int cnt, ca = -1, cs = -1;
	copy_priv *p = copy_priv_new(cn, 1);
	if (!p)
		return -ENOMEM;
	if (n->opset < 10) {
		const int64_t *a, *b, *axes;
		if ((cnt = inf_attr_ints(n, "starts", &a)) < 0 || cnt > INF_MAX_DIMS || inf_attr_ints(n, "ends", &b) != cnt)
			return ops_fail(err, errlen, VP_EMODEL, "starts and ends are missing or differ in length");
		memcpy(st, a, sizeof(int64_t) * (size_t)cnt);
		if ((ca = inf_attr_ints(n, "axes", &axes)) > 0 && ca <= INF_MAX_DIMS)
			memcpy(ax, axes, sizeof(int64_t) * (size_t)ca);
	} else {
		if ((cnt = ops_const_ints(n, 1, st, INF_MAX_DIMS, err, errlen)) < 0)
			return cnt;
		if (ops_in(n, 3) && (ca = ops_const_ints(n, 3, ax, INF_MAX_DIMS, err, errlen)) < 0)
			return ca;
		if (ops_in(n, 4) && (cs = ops_const_ints(n, 4, sp, INF_MAX_DIMS, err, errlen)) < 0)
			return cs;
	}
	(void)en;
	cu_strides(c, x, s);
	cuk_geom *g = &p->g[0];
	g->nd = x->ndim;
	for (int i = 0; i < x->ndim; i++) {
		g->dims[i] = y->dims[i];
		g->sa[i] = s[i];
	}
	/* the output shape already holds the clamped counts: only start and step are needed */
	for (int i = 0; i < cnt; i++) {
		int a = ops_axis(ca >= 0 ? ax[i] : i, x->ndim);
		int64_t step = cs >= 0 ? sp[i] : 1, d = x->dims[a < 0 ? 0 : a];
		if (a < 0 || step == 0)
			return ops_fail(err, errlen, VP_EMODEL, "bad axis or step");
		int64_t start = st[i] < 0 ? st[i] + d : st[i];
		start = step > 0 ? (start < 0 ? 0 : start > d ? d : start) : (start < 0 ? 0 : start > d - 1 ? d - 1 : start);
		g->base_a += start * s[a];
		g->sa[a] = s[a] * step;
		if (a == 0 && (start != 0 || step != 1))
			cn->bscale = 0;
	}
	cu_strides(c, y, g->sy);
	cu_geom_output_order(g);
	return 0;
}

static int expand_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_tensor *y = cn->n->out[0];
	(void)err;
	(void)errlen;
	copy_priv *p = copy_priv_new(cn, 1);
	if (!p)
		return -ENOMEM;
	p->g[0].nd = y->ndim;
	memcpy(p->g[0].dims, y->dims, sizeof(y->dims));
	cu_bcast_strides(c, cn->n->in[0], y->ndim, y->dims, p->g[0].sa);
	cu_strides(c, y, p->g[0].sy);
	cu_geom_output_order(&p->g[0]);
	return 0;
}

/* Concat: each input is copied into its window of the output; Split the other way round. */
static int concat_split_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	int split = !strcmp(n->op_type, "Split");
	const inf_tensor *whole = split ? n->in[0] : n->out[0];
	int parts = split ? n->n_out : n->n_in;
	int64_t ws[INF_MAX_DIMS], off = 0;
	int axis = ops_axis(inf_attr_int(n, "axis", split ? 0 : 1), whole->ndim);
	if (axis < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	if (axis == 0)
		cn->bscale = 0;
	copy_priv *p = copy_priv_new(cn, parts);
	if (!p)
		return -ENOMEM;
	cu_strides(c, whole, ws);
	for (int k = 0; k < parts; k++) {
		const inf_tensor *t = split ? n->out[k] : n->in[k];
		cuk_geom *g = &p->g[k];
		if (!t)
			continue;
		g->nd = t->ndim;
		memcpy(g->dims, t->dims, sizeof(t->dims));
		int64_t *part_s = split ? g->sy : g->sa, *whole_s = split ? g->sa : g->sy;
		cu_strides(c, t, part_s);
		memcpy(whole_s, ws, sizeof(ws));
		if (split)
			g->base_a = off * ws[axis];
		else
			g->base_y = off * ws[axis];
		off += t->dims[axis];
		cu_geom_output_order(g);
	}
	return 0;
}

/* Gather with constant indices: one strided copy per index (at most MAX_GATHER). */
#define MAX_GATHER 256

static int gather_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0];
	int64_t idx[MAX_GATHER], xs[INF_MAX_DIMS], vd[INF_MAX_DIMS];
	inf_tensor view = *x;
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	int cnt = ops_const_ints(n, 1, idx, MAX_GATHER, err, errlen);
	if (cnt < 0 || a < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "only constant indices (at most %d) run on the GPU", MAX_GATHER);
	if (a == 0)
		cn->bscale = 0;
	if (n->out[0]->ndim != x->ndim && cu_is_nhwc(c, n->out[0]))
		return ops_fail(err, errlen, VP_EUNSUP, "Gather with multi-dimensional indices writes NCHW only");
	copy_priv *p = copy_priv_new(cn, cnt);
	if (!p)
		return -ENOMEM;
	cu_strides(c, x, xs);
	view.dims[a] = cnt;      /* the output seen with the index dims flattened */
	if (n->out[0]->ndim == x->ndim)
		cu_strides(c, n->out[0], vd);
	else
		cu_contiguous(&view, vd);
	for (int j = 0; j < cnt; j++) {
		int64_t v = idx[j] < 0 ? idx[j] + x->dims[a] : idx[j];
		if (v < 0 || v >= x->dims[a])
			return ops_fail(err, errlen, VP_EMODEL, "index %lld is out of range", (long long)idx[j]);
		cuk_geom *g = &p->g[j];
		g->nd = x->ndim;
		memcpy(g->dims, x->dims, sizeof(x->dims));
		g->dims[a] = 1;
		memcpy(g->sa, xs, sizeof(xs));
		memcpy(g->sy, vd, sizeof(vd));
		g->base_a = v * xs[a];
		g->base_y = j * vd[a];
		cu_geom_output_order(g);
	}
	return 0;
}

static int copy_run(cu_ctx *c, cu_node *cn, int batch)
{
	copy_priv *p = cn->priv;
	const inf_node *n = cn->n;
	int split = !strcmp(n->op_type, "Split"), concat = !strcmp(n->op_type, "Concat");
	size_t es = cu_elem(c, n->out[0]);
	for (int k = 0; k < p->n; k++) {
		cuk_geom g = p->g[k];
		if (!g.nd)
			continue;
		if (cn->bscale)
			g.dims[0] = batch;
		const void *src = concat ? cn->din[k] : cn->din[0];
		void *dst = split ? cn->dout[k] : cn->dout[0];
		int rc = cuk_copy_nd(src, dst, es, &g, c->stream);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- Pad (float): constant, reflect and edge as one gather over the output ---- */

static int pad_pads(const inf_node *n, int64_t *pads, char *err, size_t errlen)
{
	const int64_t *attr;
	int cnt, nd = n->in[0]->ndim;
	if (n->opset < 11) {
		if ((cnt = inf_attr_ints(n, "pads", &attr)) != 2 * nd)
			return ops_fail(err, errlen, VP_EMODEL, "pads attribute does not match the rank");
		memcpy(pads, attr, sizeof(int64_t) * (size_t)cnt);
	} else if ((cnt = ops_const_ints(n, 1, pads, 2 * INF_MAX_DIMS, err, errlen)) != 2 * nd) {
		return ops_fail(err, errlen, VP_EUNSUP, "pads must be a constant matching the rank");
	}
	return 0;
}

static int pad_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	static const char *const modes[] = { "constant", "reflect", "edge" };
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int64_t pads[2 * INF_MAX_DIMS], xs[INF_MAX_DIMS];
	const char *m = inf_attr_str(n, "mode", "constant");
	if (cu_need_float(n, err, errlen) < 0 || ops_in(n, 3))
		return ops_fail(err, errlen, VP_EUNSUP, "only float padding without axes runs on the GPU");
	cuk_pad *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->mode = -1;
	for (int i = 0; i < 3; i++)
		if (!strcmp(m, modes[i]))
			p->mode = i;
	if (p->mode < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "mode \"%s\" is not supported", m);
	int rc = pad_pads(n, pads, err, errlen);
	if (rc < 0)
		return rc;
	p->value = n->opset < 11 ? inf_attr_float(n, "value", 0.0f) : 0.0f;
	if (n->opset >= 11 && ops_in(n, 2) && ops_const_floats(n, 2, &p->value, 1, err, errlen) != 1)
		return ops_fail(err, errlen, VP_EUNSUP, "constant_value must be a constant scalar");
	/* the walk is a geometry over the output's dims: sa carries the input strides */
	cuk_geom g = { .nd = x->ndim };
	memcpy(g.dims, y->dims, sizeof(y->dims));
	cu_strides(c, x, xs);
	cu_strides(c, y, g.sy);
	for (int i = 0; i < x->ndim; i++) {
		g.sa[i] = xs[i];
		g.sb[i] = i;
	}
	cu_geom_output_order(&g);
	if (g.sb[0] != 0)
		cn->bscale = 0;
	p->nd = g.nd;
	for (int i = 0; i < g.nd; i++) {
		int a = (int)g.sb[i];   /* the logical axis now at position i */
		p->dims[i] = g.dims[i];
		p->len[i] = x->dims[a];
		p->pb[i] = pads[a];
		p->sx[i] = g.sa[i];
		p->sy[i] = g.sy[i];
		if (a == 0 && (pads[0] != 0 || pads[x->ndim] != 0))
			cn->bscale = 0;
		if (p->mode != CUK_PAD_CONSTANT && p->len[i] == 0 && p->dims[i] > 0)
			return ops_fail(err, errlen, VP_EMODEL, "cannot pad the empty axis %d", a);
	}
	return 0;
}

static int pad_run(cu_ctx *c, cu_node *cn, int batch)
{
	cuk_pad p = *(cuk_pad *)cn->priv;
	if (cn->bscale)
		p.dims[0] = p.len[0] = batch;   /* axis 0, unpadded, stays first in the walk */
	return cuk_pad_nd(c->half, cn->din[0], cn->dout[0], &p, c->stream);
}

const cu_op cu_ops_layout[] = {
	{ "Identity", flat_prepare, flat_run, NULL },
	{ "Reshape", flat_prepare, flat_run, NULL },
	{ "Flatten", flat_prepare, flat_run, NULL },
	{ "Squeeze", flat_prepare, flat_run, NULL },
	{ "Unsqueeze", flat_prepare, flat_run, NULL },
	{ "Dropout", flat_prepare, flat_run, NULL },
	{ "Transpose", transpose_prepare, copy_run, cu_free_priv },
	{ "Slice", slice_prepare, copy_run, cu_free_priv },
	{ "Expand", expand_prepare, copy_run, cu_free_priv },
	{ "Concat", concat_split_prepare, copy_run, cu_free_priv },
	{ "Gather", gather_prepare, copy_run, cu_free_priv },
	{ "Split", concat_split_prepare, copy_run, cu_free_priv },
	{ "Pad", pad_prepare, pad_run, cu_free_priv },
	{ NULL, NULL, NULL, NULL },
};
#endif
