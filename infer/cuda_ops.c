/* The cuda backend's own operators: elementwise math with broadcasting, activations,
 * layout operators (Transpose, Slice, Concat, Split, Expand, reshapes) as strided copies,
 * pooling, Resize and Softmax, all on the kernels of cuda_kernels.cu. Their geometry is
 * computed once at load from the shapes the CPU shape functions inferred. */
#ifdef VP_HAVE_CUDA
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "cuda_kernels.h"
#include "cuda_ops.h"
#include "ops_common.h"
#include "ops_window.h"

size_t cu_elem(const cu_ctx *c, const inf_tensor *t)
{
	return t->dtype == INF_DT_FLOAT && c->half ? 2 : inf_dtype_size(t->dtype);
}

int64_t cu_numel(const cu_ctx *c, const cu_node *cn, const inf_tensor *t, int batch)
{
	int64_t n = inf_tensor_numel(t);
	return cn->bscale ? n / c->max_batch * batch : n;
}

cudnnDataType_t cu_dnn_type(const cu_ctx *c)
{
	return c->half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

static void contiguous(const inf_tensor *t, int64_t *s)
{
	int64_t acc = 1;
	for (int i = t->ndim - 1; i >= 0; i--) {
		s[i] = acc;
		acc *= t->dims[i];
	}
}

static int need_float(const inf_node *n, char *err, size_t errlen)
{
	if (n->in[0]->dtype != INF_DT_FLOAT || n->out[0]->dtype != INF_DT_FLOAT)
		return ops_fail(err, errlen, VP_EUNSUP, "only float tensors run on the GPU");
	return 0;
}

static void *new_priv(cu_node *cn, size_t size)
{
	return cn->priv = calloc(1, size);
}

static void free_priv(cu_ctx *c, cu_node *cn)
{
	(void)c;
	free(cn->priv);
	cn->priv = NULL;
}

/* ---- binary ---- */

static const struct { const char *op; int code; } binops[] = {
	{ "Add", CUK_ADD }, { "Sub", CUK_SUB }, { "Mul", CUK_MUL }, { "Div", CUK_DIV },
	{ "Pow", CUK_POW },
};

typedef struct bin_priv {
	int op;
	cuk_geom g;
} bin_priv;

static int binary_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	inf_node *n = cn->n;
	(void)c;
	if (n->n_in != 2 || !n->in[1])
		return ops_fail(err, errlen, VP_EUNSUP, "only two operands run on the GPU");
	if (need_float(n, err, errlen) < 0 || n->in[1]->dtype != INF_DT_FLOAT)
		return ops_fail(err, errlen, VP_EUNSUP, "only float tensors run on the GPU");
	bin_priv *p = new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(binops) / sizeof(binops[0]); i++)
		if (!strcmp(binops[i].op, n->op_type))
			p->op = binops[i].code;
	const inf_tensor *y = n->out[0];
	p->g.nd = y->ndim ? y->ndim : 1;
	for (int i = 0; i < p->g.nd; i++)
		p->g.dims[i] = y->ndim ? y->dims[i] : 1;
	ops_bcast_strides(n->in[0], p->g.nd, p->g.dims, p->g.sa);
	ops_bcast_strides(n->in[1], p->g.nd, p->g.dims, p->g.sb);
	return 0;
}

static int binary_run(cu_ctx *c, cu_node *cn, int batch)
{
	bin_priv *p = cn->priv;
	cuk_geom g = p->g;
	if (cn->bscale)
		g.dims[0] = batch;
	return cuk_binary(p->op, c->half, cn->din[0], cn->din[1], cn->dout[0], &g, c->stream);
}

/* ---- activations and unary math ---- */

static const struct { const char *op; int code; } unops[] = {
	{ "Relu", INF_ACT_RELU }, { "LeakyRelu", INF_ACT_LEAKY_RELU }, { "Sigmoid", INF_ACT_SIGMOID },
	{ "HardSigmoid", INF_ACT_HARD_SIGMOID }, { "HardSwish", INF_ACT_HARD_SWISH }, { "Clip", INF_ACT_CLIP },
	{ "Tanh", CUK_U_TANH }, { "Exp", CUK_U_EXP }, { "Log", CUK_U_LOG }, { "Neg", CUK_U_NEG },
	{ "Abs", CUK_U_ABS }, { "Sqrt", CUK_U_SQRT }, { "Elu", CUK_U_ELU }, { "Softplus", CUK_U_SOFTPLUS },
	{ "Reciprocal", CUK_U_RECIPROCAL }, { "Floor", CUK_U_FLOOR }, { "Ceil", CUK_U_CEIL },
};

typedef struct un_priv {
	int kind;
	float a, b;
} un_priv;

static int clip_bounds(const inf_node *n, un_priv *p, char *err, size_t errlen)
{
	p->a = -3.402823466e38f;
	p->b = 3.402823466e38f;
	if (n->opset < 11) {
		p->a = inf_attr_float(n, "min", p->a);
		p->b = inf_attr_float(n, "max", p->b);
		return 0;
	}
	float v;
	if (ops_in(n, 1) && ops_const_floats(n, 1, &v, 1, err, errlen) == 1)
		p->a = v;
	else if (ops_in(n, 1))
		return ops_fail(err, errlen, VP_EUNSUP, "Clip bounds must be constant on the GPU");
	if (ops_in(n, 2) && ops_const_floats(n, 2, &v, 1, err, errlen) == 1)
		p->b = v;
	else if (ops_in(n, 2))
		return ops_fail(err, errlen, VP_EUNSUP, "Clip bounds must be constant on the GPU");
	return 0;
}

static int unary_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	inf_node *n = cn->n;
	(void)c;
	if (need_float(n, err, errlen) < 0)
		return VP_EUNSUP;
	un_priv *p = new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(unops) / sizeof(unops[0]); i++)
		if (!strcmp(unops[i].op, n->op_type))
			p->kind = unops[i].code;
	switch (p->kind) {
	case INF_ACT_LEAKY_RELU: p->a = inf_attr_float(n, "alpha", 0.01f); break;
	case CUK_U_ELU: p->a = inf_attr_float(n, "alpha", 1.0f); break;
	case INF_ACT_HARD_SIGMOID:
		p->a = inf_attr_float(n, "alpha", 0.2f);
		p->b = inf_attr_float(n, "beta", 0.5f);
		break;
	case INF_ACT_CLIP: return clip_bounds(n, p, err, errlen);
	default: break;
	}
	return 0;
}

static int unary_run(cu_ctx *c, cu_node *cn, int batch)
{
	un_priv *p = cn->priv;
	return cuk_bias_act(c->half, cn->din[0], cn->dout[0], NULL, 1, 1, cu_numel(c, cn, cn->n->out[0], batch), p->kind,
	                    p->a, p->b, c->stream);
}

/* ---- reshapes: the bytes stay, only the shape changes ---- */

static int flat_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	(void)c;
	if (inf_tensor_numel(cn->n->in[0]) != inf_tensor_numel(cn->n->out[0]))
		return ops_fail(err, errlen, VP_EMODEL, "element counts differ");
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
	(void)c;
	copy_priv *p = copy_priv_new(cn, 1);
	if (!p)
		return -ENOMEM;
	int np = inf_attr_ints(n, "perm", &perm);
	if (np >= 0 && np != x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "perm has %d values for rank %d", np, x->ndim);
	contiguous(x, s);
	p->g[0].nd = y->ndim;
	for (int i = 0; i < y->ndim; i++) {
		int src = np >= 0 ? (int)perm[i] : x->ndim - 1 - i;
		p->g[0].dims[i] = y->dims[i];
		p->g[0].sa[i] = s[src];
		if (i == 0 && src != 0)
			cn->bscale = 0;
	}
	contiguous(y, p->g[0].sy);
	return 0;
}

static int slice_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int64_t st[INF_MAX_DIMS], en[INF_MAX_DIMS], ax[INF_MAX_DIMS], sp[INF_MAX_DIMS], s[INF_MAX_DIMS];
	int cnt, ca = -1, cs = -1;
	(void)c;
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
	contiguous(x, s);
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
	contiguous(y, g->sy);
	return 0;
}

static int expand_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_tensor *y = cn->n->out[0];
	(void)c;
	(void)err;
	(void)errlen;
	copy_priv *p = copy_priv_new(cn, 1);
	if (!p)
		return -ENOMEM;
	p->g[0].nd = y->ndim;
	memcpy(p->g[0].dims, y->dims, sizeof(y->dims));
	ops_bcast_strides(cn->n->in[0], y->ndim, y->dims, p->g[0].sa);
	contiguous(y, p->g[0].sy);
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
	(void)c;
	int axis = ops_axis(inf_attr_int(n, "axis", split ? 0 : 1), whole->ndim);
	if (axis < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	if (axis == 0)
		cn->bscale = 0;
	copy_priv *p = copy_priv_new(cn, parts);
	if (!p)
		return -ENOMEM;
	contiguous(whole, ws);
	for (int k = 0; k < parts; k++) {
		const inf_tensor *t = split ? n->out[k] : n->in[k];
		cuk_geom *g = &p->g[k];
		if (!t)
			continue;
		g->nd = t->ndim;
		memcpy(g->dims, t->dims, sizeof(t->dims));
		int64_t *part_s = split ? g->sy : g->sa, *whole_s = split ? g->sa : g->sy;
		contiguous(t, part_s);
		memcpy(whole_s, ws, sizeof(ws));
		if (split)
			g->base_a = off * ws[axis];
		else
			g->base_y = off * ws[axis];
		off += t->dims[axis];
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
	(void)c;
	int a = ops_axis(inf_attr_int(n, "axis", 0), x->ndim);
	int cnt = ops_const_ints(n, 1, idx, MAX_GATHER, err, errlen);
	if (cnt < 0 || a < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "only constant indices (at most %d) run on the GPU", MAX_GATHER);
	if (a == 0)
		cn->bscale = 0;
	copy_priv *p = copy_priv_new(cn, cnt);
	if (!p)
		return -ENOMEM;
	contiguous(x, xs);
	view.dims[a] = cnt;      /* the output seen with the index dims flattened */
	contiguous(&view, vd);
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

/* ---- Pad (constant mode, float): fill, then the kept part of the input copied in ---- */

typedef struct pad_priv {
	float value;
	cuk_geom g;
} pad_priv;

static int pad_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int64_t pads[2 * INF_MAX_DIMS], xs[INF_MAX_DIMS], ys[INF_MAX_DIMS];
	const int64_t *attr;
	int cnt;
	(void)c;
	if (need_float(n, err, errlen) < 0 || strcmp(inf_attr_str(n, "mode", "constant"), "constant") != 0 || ops_in(n, 3))
		return ops_fail(err, errlen, VP_EUNSUP, "only float constant padding runs on the GPU");
	if (n->opset < 11) {
		if ((cnt = inf_attr_ints(n, "pads", &attr)) != 2 * x->ndim)
			return ops_fail(err, errlen, VP_EMODEL, "pads attribute does not match the rank");
		memcpy(pads, attr, sizeof(int64_t) * (size_t)cnt);
	} else if ((cnt = ops_const_ints(n, 1, pads, 2 * INF_MAX_DIMS, err, errlen)) != 2 * x->ndim) {
		return ops_fail(err, errlen, VP_EUNSUP, "pads must be a constant matching the rank");
	}
	pad_priv *p = new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->value = n->opset < 11 ? inf_attr_float(n, "value", 0.0f) : 0.0f;
	if (n->opset >= 11 && ops_in(n, 2) && ops_const_floats(n, 2, &p->value, 1, err, errlen) != 1)
		return ops_fail(err, errlen, VP_EUNSUP, "constant_value must be a constant scalar");
	contiguous(x, xs);
	contiguous(y, ys);
	p->g.nd = x->ndim;
	for (int i = 0; i < x->ndim; i++) {
		int64_t pb = pads[i], pe = pads[x->ndim + i];
		p->g.dims[i] = x->dims[i] + (pb < 0 ? pb : 0) + (pe < 0 ? pe : 0);
		p->g.sa[i] = xs[i];
		p->g.sy[i] = ys[i];
		p->g.base_a += (pb < 0 ? -pb : 0) * xs[i];
		p->g.base_y += (pb > 0 ? pb : 0) * ys[i];
	}
	return 0;
}

static int pad_run(cu_ctx *c, cu_node *cn, int batch)
{
	pad_priv *p = cn->priv;
	cuk_geom g = p->g;
	if (cn->bscale)
		g.dims[0] = batch;
	int rc = cuk_fill(c->half, cn->dout[0], p->value, cu_numel(c, cn, cn->n->out[0], batch), c->stream);
	return rc < 0 ? rc : cuk_copy_nd(cn->din[0], cn->dout[0], cu_elem(c, cn->n->out[0]), &g, c->stream);
}

/* ---- pooling ---- */

static int pool_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int global = !strncmp(n->op_type, "Global", 6);
	(void)c;
	if (need_float(n, err, errlen) < 0 || n->n_out > 1 || x->ndim != 4)
		return ops_fail(err, errlen, VP_EUNSUP, "only float 2-D pooling without indices runs on the GPU");
	cuk_pool *p = new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->planes = x->dims[0] * x->dims[1];
	p->ih = x->dims[2];
	p->iw = x->dims[3];
	p->oh = y->dims[2];
	p->ow = y->dims[3];
	p->is_max = strstr(n->op_type, "Max") != NULL;
	if (global) {
		p->kh = (int)p->ih;
		p->kw = (int)p->iw;
		p->sh = p->sw = p->dh = p->dw = 1;
		return 0;
	}
	const int64_t *ks;
	if (inf_attr_ints(n, "kernel_shape", &ks) != 2)
		return ops_fail(err, errlen, VP_EMODEL, "kernel_shape must have 2 values");
	ops_window w;
	int rc = ops_window_forward(n, x, ks, (int)inf_attr_int(n, "ceil_mode", 0), &w, err, errlen);
	if (rc < 0)
		return rc;
	p->kh = (int)w.k[0];
	p->kw = (int)w.k[1];
	p->sh = (int)w.s[0];
	p->sw = (int)w.s[1];
	p->dh = (int)w.d[0];
	p->dw = (int)w.d[1];
	p->ph = (int)w.pb[0];
	p->pw = (int)w.pb[1];
	p->peh = (int)w.pe[0];
	p->pew = (int)w.pe[1];
	p->count_include_pad = (int)inf_attr_int(n, "count_include_pad", 0);
	return 0;
}

static int pool_run(cu_ctx *c, cu_node *cn, int batch)
{
	cuk_pool p = *(cuk_pool *)cn->priv;
	if (cn->bscale)
		p.planes = p.planes / c->max_batch * batch;
	return cuk_pool2d(c->half, cn->din[0], cn->dout[0], &p, c->stream);
}

/* ---- Resize / Upsample over the two innermost axes ---- */

static int lookup(const char *s, const char *const *names, int cnt)
{
	for (int i = 0; i < cnt; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int resize_scales(const inf_node *n, int legacy, float *scale, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int k_sc = legacy ? 1 : 2, k_sz = legacy ? -1 : 3, cnt;
	const float *attr;
	if (k_sz >= 0 && ops_in(n, k_sz) && inf_tensor_numel(n->in[k_sz]) > 0) {
		for (int i = 0; i < x->ndim; i++)
			scale[i] = (float)y->dims[i] / (float)x->dims[i];
		return 1;
	}
	if (ops_in(n, k_sc) && inf_tensor_numel(n->in[k_sc]) > 0)
		cnt = ops_const_floats(n, k_sc, scale, INF_MAX_DIMS, err, errlen);
	else if ((cnt = inf_attr_floats(n, "scales", &attr)) > 0 && cnt <= INF_MAX_DIMS)
		memcpy(scale, attr, sizeof(float) * (size_t)cnt);
	if (cnt != x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "scales do not match the rank");
	return 0;
}

static int resize_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	static const char *const modes[] = { "nearest", "linear" };
	static const char *const cts[] = { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric" };
	static const char *const nrs[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int legacy = !strcmp(n->op_type, "Upsample") || n->opset < 11;
	float scale[INF_MAX_DIMS];
	(void)c;
	if (need_float(n, err, errlen) < 0 || x->ndim < 2)
		return ops_fail(err, errlen, VP_EUNSUP, "only float Resize of rank >= 2 runs on the GPU");
	for (int i = 0; i < x->ndim - 2; i++)
		if (x->dims[i] != y->dims[i])
			return ops_fail(err, errlen, VP_EUNSUP, "only the two innermost axes may be resized on the GPU");
	cuk_resize *p = new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	const char *m = inf_attr_str(n, "mode", "nearest");
	p->mode = !strcmp(m, "bilinear") ? 1 : lookup(m, modes, 2);
	p->ct = legacy ? 3 : lookup(inf_attr_str(n, "coordinate_transformation_mode", "half_pixel"), cts, 4);
	p->nr = legacy ? 2 : lookup(inf_attr_str(n, "nearest_mode", "round_prefer_floor"), nrs, 4);
	if (p->mode < 0 || p->ct < 0 || p->nr < 0 || (p->mode == 1 && inf_attr_int(n, "exclude_outside", 0)) ||
	    inf_attr_int(n, "antialias", 0) || inf_attr_get(n, "axes") ||
	    strcmp(inf_attr_str(n, "keep_aspect_ratio_policy", "stretch"), "stretch") != 0)
		return ops_fail(err, errlen, VP_EUNSUP, "mode, coordinate_transformation_mode or nearest_mode unsupported on the GPU");
	int rc = resize_scales(n, legacy, scale, err, errlen);
	if (rc < 0)
		return rc;
	int d = x->ndim;
	p->planes = inf_tensor_numel(x) / (x->dims[d - 2] * x->dims[d - 1]);
	p->ih = x->dims[d - 2];
	p->iw = x->dims[d - 1];
	p->oh = y->dims[d - 2];
	p->ow = y->dims[d - 1];
	p->scale_h = scale[d - 2];
	p->scale_w = scale[d - 1];
	/* sizes give the resized length exactly; scales map with the unfloored one */
	p->olen_h = rc == 1 ? (double)p->oh : (double)p->ih * p->scale_h;
	p->olen_w = rc == 1 ? (double)p->ow : (double)p->iw * p->scale_w;
	return 0;
}

static int resize_run(cu_ctx *c, cu_node *cn, int batch)
{
	cuk_resize p = *(cuk_resize *)cn->priv;
	if (cn->bscale)
		p.planes = p.planes / c->max_batch * batch;
	return cuk_resize2d(c->half, cn->din[0], cn->dout[0], &p, c->stream);
}

/* ---- Softmax / LogSoftmax ---- */

typedef struct sm_priv {
	int64_t outer, len, inner;
} sm_priv;

static int softmax_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0];
	int old = n->opset < 13;
	(void)c;
	if (need_float(n, err, errlen) < 0)
		return VP_EUNSUP;
	int a = ops_axis(inf_attr_int(n, "axis", old ? 1 : -1), x->ndim);
	if (a < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	if (a == 0)
		cn->bscale = 0;
	sm_priv *p = new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->outer = p->len = p->inner = 1;
	for (int i = 0; i < x->ndim; i++) {
		if (i < a)
			p->outer *= x->dims[i];
		else if (i == a || old)
			p->len *= x->dims[i];
		else
			p->inner *= x->dims[i];
	}
	return 0;
}

static int softmax_run(cu_ctx *c, cu_node *cn, int batch)
{
	sm_priv *p = cn->priv;
	int64_t outer = cn->bscale ? p->outer / c->max_batch * batch : p->outer;
	return cuk_softmax(c->half, !strcmp(cn->n->op_type, "LogSoftmax"), cn->din[0], cn->dout[0], outer, p->len,
	                   p->inner, c->stream);
}

static const cu_op cu_ops_own[] = {
	{ "Add", binary_prepare, binary_run, free_priv },
	{ "Sub", binary_prepare, binary_run, free_priv },
	{ "Mul", binary_prepare, binary_run, free_priv },
	{ "Div", binary_prepare, binary_run, free_priv },
	{ "Pow", binary_prepare, binary_run, free_priv },
	{ "Relu", unary_prepare, unary_run, free_priv },
	{ "LeakyRelu", unary_prepare, unary_run, free_priv },
	{ "Sigmoid", unary_prepare, unary_run, free_priv },
	{ "HardSigmoid", unary_prepare, unary_run, free_priv },
	{ "HardSwish", unary_prepare, unary_run, free_priv },
	{ "Clip", unary_prepare, unary_run, free_priv },
	{ "Tanh", unary_prepare, unary_run, free_priv },
	{ "Exp", unary_prepare, unary_run, free_priv },
	{ "Log", unary_prepare, unary_run, free_priv },
	{ "Neg", unary_prepare, unary_run, free_priv },
	{ "Abs", unary_prepare, unary_run, free_priv },
	{ "Sqrt", unary_prepare, unary_run, free_priv },
	{ "Elu", unary_prepare, unary_run, free_priv },
	{ "Softplus", unary_prepare, unary_run, free_priv },
	{ "Reciprocal", unary_prepare, unary_run, free_priv },
	{ "Floor", unary_prepare, unary_run, free_priv },
	{ "Ceil", unary_prepare, unary_run, free_priv },
	{ "Identity", flat_prepare, flat_run, NULL },
	{ "Reshape", flat_prepare, flat_run, NULL },
	{ "Flatten", flat_prepare, flat_run, NULL },
	{ "Squeeze", flat_prepare, flat_run, NULL },
	{ "Unsqueeze", flat_prepare, flat_run, NULL },
	{ "Dropout", flat_prepare, flat_run, NULL },
	{ "Transpose", transpose_prepare, copy_run, free_priv },
	{ "Slice", slice_prepare, copy_run, free_priv },
	{ "Expand", expand_prepare, copy_run, free_priv },
	{ "Concat", concat_split_prepare, copy_run, free_priv },
	{ "Gather", gather_prepare, copy_run, free_priv },
	{ "Split", concat_split_prepare, copy_run, free_priv },
	{ "Pad", pad_prepare, pad_run, free_priv },
	{ "MaxPool", pool_prepare, pool_run, free_priv },
	{ "AveragePool", pool_prepare, pool_run, free_priv },
	{ "GlobalMaxPool", pool_prepare, pool_run, free_priv },
	{ "GlobalAveragePool", pool_prepare, pool_run, free_priv },
	{ "Resize", resize_prepare, resize_run, free_priv },
	{ "Upsample", resize_prepare, resize_run, free_priv },
	{ "Softmax", softmax_prepare, softmax_run, free_priv },
	{ "LogSoftmax", softmax_prepare, softmax_run, free_priv },
	{ NULL, NULL, NULL, NULL },
};

const cu_op *cu_op_find(const char *op_type)
{
	const cu_op *const tables[] = { cu_ops_dnn, cu_ops_own };
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const cu_op *op = tables[t]; op->op_type; op++)
			if (!strcmp(op->op_type, op_type))
				return op;
	return NULL;
}
#endif
