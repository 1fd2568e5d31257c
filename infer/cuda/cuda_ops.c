/* The cuda backend's own operators: elementwise math with broadcasting, activations,
 * pooling, Resize and Softmax on the kernels of cuda_kernels.cu (layout operators are in
 * cuda_layout.c). Their geometry is computed once at load from the shapes the CPU shape
 * functions inferred and the layout each operand is stored in (cu_strides). */
#ifdef VP_HAVE_CUDA
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "cuda_check.h"
#include "cuda_kernels.h"
#include "cuda_kernels_math.h"
#include "cuda_layout_pass.h"
#include "cuda_ops.h"
#include "infer/cpu/ops_common.h"
#include "infer/cpu/ops_window.h"

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

void cu_contiguous(const inf_tensor *t, int64_t *s)
{
	int64_t acc = 1;
	for (int i = t->ndim - 1; i >= 0; i--) {
		s[i] = acc;
		acc *= t->dims[i];
	}
}

int cu_is_nhwc(const cu_ctx *c, const inf_tensor *t)
{
	if (!c->nhwc || !c->g)
		return 0;
	for (int i = 0; i < c->g->n_tensors; i++)
		if (c->g->tensors[i] == t)
			return c->nhwc[i];
	return 0;
}

void cu_strides(const cu_ctx *c, const inf_tensor *t, int64_t *s)
{
	cu_layout_strides(t, cu_is_nhwc(c, t), s);
}

void cu_bcast_strides(const cu_ctx *c, const inf_tensor *t, int nd, const int64_t *out, int64_t *s)
{
	cu_layout_bcast_strides(t, cu_is_nhwc(c, t), nd, out, s);
}

int cu_scratch(cu_ctx *c, size_t bytes)
{
	if (bytes <= c->scratch_bytes)
		return 0;
	/* only the load's trial runs used the old buffer: let them finish first */
	int rc = CU_RT(cudaStreamSynchronize(c->stream));
	if (rc < 0)
		return rc;
	cudaFree(c->scratch);
	c->scratch = NULL;
	c->scratch_bytes = 0;
	if ((rc = CU_RT(cudaMalloc(&c->scratch, bytes))) == 0)
		c->scratch_bytes = bytes;
	return rc;
}

int cu_need_float(const inf_node *n, char *err, size_t errlen)
{
	if (n->in[0]->dtype != INF_DT_FLOAT || n->out[0]->dtype != INF_DT_FLOAT)
		return ops_fail(err, errlen, VP_EUNSUP, "only float tensors run on the GPU");
	return 0;
}

void *cu_new_priv(cu_node *cn, size_t size)
{
	return cn->priv = calloc(1, size);
}

void cu_free_priv(cu_ctx *c, cu_node *cn)
{
	(void)c;
	free(cn->priv);
	cn->priv = NULL;
}

void cu_conv_descs_destroy(const cu_ctx *c, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t y,
                           cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv)
{
	if (x)
		c->dl->cudnnDestroyTensorDescriptor(x);
	if (y)
		c->dl->cudnnDestroyTensorDescriptor(y);
	if (w)
		c->dl->cudnnDestroyFilterDescriptor(w);
	if (conv)
		c->dl->cudnnDestroyConvolutionDescriptor(conv);
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
	if (n->n_in != 2 || !n->in[1])
		return ops_fail(err, errlen, VP_EUNSUP, "only two operands run on the GPU");
	if (cu_need_float(n, err, errlen) < 0 || n->in[1]->dtype != INF_DT_FLOAT)
		return ops_fail(err, errlen, VP_EUNSUP, "only float tensors run on the GPU");
	bin_priv *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(binops) / sizeof(binops[0]); i++)
		if (!strcmp(binops[i].op, n->op_type))
			p->op = binops[i].code;
	const inf_tensor *y = n->out[0];
	p->g.nd = y->ndim ? y->ndim : 1;
	for (int i = 0; i < p->g.nd; i++)
		p->g.dims[i] = y->ndim ? y->dims[i] : 1;
	cu_bcast_strides(c, n->in[0], p->g.nd, p->g.dims, p->g.sa);
	cu_bcast_strides(c, n->in[1], p->g.nd, p->g.dims, p->g.sb);
	if (y->ndim)
		cu_strides(c, y, p->g.sy);
	else
		p->g.sy[0] = 1;
	cu_geom_output_order(&p->g);
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
	if (cu_need_float(n, err, errlen) < 0)
		return VP_EUNSUP;
	un_priv *p = cu_new_priv(cn, sizeof(*p));
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

/* ---- pooling ---- */

static int pool_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int global = !strncmp(n->op_type, "Global", 6);
	if (cu_need_float(n, err, errlen) < 0 || n->n_out > 1 || x->ndim != 4)
		return ops_fail(err, errlen, VP_EUNSUP, "only float 2-D pooling without indices runs on the GPU");
	cuk_pool *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = x->dims[0];
	p->c = x->dims[1];
	p->ih = x->dims[2];
	p->iw = x->dims[3];
	p->oh = y->dims[2];
	p->ow = y->dims[3];
	cu_strides(c, x, p->xs);
	cu_strides(c, y, p->ys);
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
		p.n = batch;
	return cuk_pool2d(c->half, cn->din[0], cn->dout[0], &p, c->stream);
}

/* ---- Resize / Upsample over the two innermost axes ---- */

/* Scales (returns 0) or sizes (returns 1) of every axis, as the CPU reads them. */
static int resize_scales(const inf_node *n, int legacy, float *scale, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int k_sc = legacy ? 1 : 2, k_sz = legacy ? -1 : 3, cnt = -1;
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

static int resize_modes(const inf_node *n, cuk_resize *p, char *err, size_t errlen)
{
	int legacy = ops_resize_modes(n, p, err, errlen);
	if (legacy < 0 || inf_attr_int(n, "antialias", 0) || inf_attr_get(n, "axes") ||
	    strcmp(inf_attr_str(n, "keep_aspect_ratio_policy", "stretch"), "stretch") != 0)
		return ops_fail(err, errlen, VP_EUNSUP,
		                "mode, coordinate_transformation_mode or nearest_mode unsupported on the GPU");
	return legacy;
}

static int resize_axes(const cu_ctx *c, const inf_node *n, cuk_resize *p, int sizes, const float *scale,
                       const float *roi, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0], *y = n->out[0];
	int d = x->ndim;
	for (int i = 0; i < d; i++) {
		cuk_rs_axis a = { .in = x->dims[i], .out = y->dims[i], .scale = scale[i],
		                  .olen = sizes ? (double)y->dims[i] : (double)x->dims[i] * scale[i],
		                  .roi_start = roi[i], .roi_end = roi[d + i] };
		if (i == d - 2)
			p->h = a;
		else if (i == d - 1)
			p->w = a;
		else if (!cuk_rs_axis_identity(p, &a))   /* the GPU resizes h and w only */
			return ops_fail(err, errlen, VP_EUNSUP, "only the two innermost axes may be resized on the GPU");
	}
	p->c = d >= 3 ? x->dims[d - 3] : 1;
	p->n = inf_tensor_numel(x) / (p->c * p->h.in * p->w.in);
	if (d == 4) {
		cu_strides(c, x, p->xs);
		cu_strides(c, y, p->ys);
		return 0;
	}
	/* other ranks are stored contiguously: the leading axes fold into n */
	const int64_t xs[4] = { p->c * p->h.in * p->w.in, p->h.in * p->w.in, p->w.in, 1 };
	const int64_t ys[4] = { p->c * p->h.out * p->w.out, p->h.out * p->w.out, p->w.out, 1 };
	memcpy(p->xs, xs, sizeof(xs));
	memcpy(p->ys, ys, sizeof(ys));
	return 0;
}

static int resize_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0];
	float scale[INF_MAX_DIMS], roi[2 * INF_MAX_DIMS];
	if (cu_need_float(n, err, errlen) < 0 || x->ndim < 2)
		return ops_fail(err, errlen, VP_EUNSUP, "only float Resize of rank >= 2 runs on the GPU");
	cuk_resize *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int legacy = resize_modes(n, p, err, errlen);
	if (legacy < 0)
		return legacy;
	int sizes = resize_scales(n, legacy, scale, err, errlen);
	if (sizes < 0)
		return sizes;
	for (int i = 0; i < x->ndim; i++) {
		roi[i] = 0.0f;
		roi[x->ndim + i] = 1.0f;
	}
	if (p->ct == CUK_CT_TF_CROP_AND_RESIZE && !legacy && ops_in(n, 1) &&
	    ops_const_floats(n, 1, roi, 2 * INF_MAX_DIMS, err, errlen) != 2 * x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "roi must be a constant of %d values", 2 * x->ndim);
	if (x->ndim == 2)
		cn->bscale = 0;   /* the leading axis is resized */
	return resize_axes(c, n, p, sizes, scale, roi, err, errlen);
}

static int resize_run(cu_ctx *c, cu_node *cn, int batch)
{
	cuk_resize p = *(cuk_resize *)cn->priv;
	if (cn->bscale && cn->n->in[0]->ndim == 3)
		p.c = batch;
	else if (cn->bscale)
		p.n = p.n / c->max_batch * batch;
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
	if (cu_need_float(n, err, errlen) < 0)
		return VP_EUNSUP;
	int a = ops_axis(inf_attr_int(n, "axis", old ? 1 : -1), x->ndim);
	if (a < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis out of range");
	if (a == 0)
		cn->bscale = 0;
	sm_priv *p = cu_new_priv(cn, sizeof(*p));
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
	{ "Add", binary_prepare, binary_run, cu_free_priv },
	{ "Sub", binary_prepare, binary_run, cu_free_priv },
	{ "Mul", binary_prepare, binary_run, cu_free_priv },
	{ "Div", binary_prepare, binary_run, cu_free_priv },
	{ "Pow", binary_prepare, binary_run, cu_free_priv },
	{ "Relu", unary_prepare, unary_run, cu_free_priv },
	{ "LeakyRelu", unary_prepare, unary_run, cu_free_priv },
	{ "Sigmoid", unary_prepare, unary_run, cu_free_priv },
	{ "HardSigmoid", unary_prepare, unary_run, cu_free_priv },
	{ "HardSwish", unary_prepare, unary_run, cu_free_priv },
	{ "Clip", unary_prepare, unary_run, cu_free_priv },
	{ "Tanh", unary_prepare, unary_run, cu_free_priv },
	{ "Exp", unary_prepare, unary_run, cu_free_priv },
	{ "Log", unary_prepare, unary_run, cu_free_priv },
	{ "Neg", unary_prepare, unary_run, cu_free_priv },
	{ "Abs", unary_prepare, unary_run, cu_free_priv },
	{ "Sqrt", unary_prepare, unary_run, cu_free_priv },
	{ "Elu", unary_prepare, unary_run, cu_free_priv },
	{ "Softplus", unary_prepare, unary_run, cu_free_priv },
	{ "Reciprocal", unary_prepare, unary_run, cu_free_priv },
	{ "Floor", unary_prepare, unary_run, cu_free_priv },
	{ "Ceil", unary_prepare, unary_run, cu_free_priv },
	{ "MaxPool", pool_prepare, pool_run, cu_free_priv },
	{ "AveragePool", pool_prepare, pool_run, cu_free_priv },
	{ "GlobalMaxPool", pool_prepare, pool_run, cu_free_priv },
	{ "GlobalAveragePool", pool_prepare, pool_run, cu_free_priv },
	{ "Resize", resize_prepare, resize_run, cu_free_priv },
	{ "Upsample", resize_prepare, resize_run, cu_free_priv },
	{ "Softmax", softmax_prepare, softmax_run, cu_free_priv },
	{ "LogSoftmax", softmax_prepare, softmax_run, cu_free_priv },
	{ NULL, NULL, NULL, NULL },
};

const cu_op *cu_op_find(const char *op_type)
{
	const cu_op *const tables[] = { cu_ops_dnn, cu_ops_gemm, cu_ops_own, cu_ops_layout, cu_ops_more };
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const cu_op *op = tables[t]; op->op_type; op++)
			if (!strcmp(op->op_type, op_type))
				return op;
	return NULL;
}
#endif
