/* The cuda backend's cuDNN and cuBLAS operators: Conv (1-D and 2-D, grouped, dilated)
 * with the algorithm measured once at load (cudnnFindConvolutionForwardAlgorithmEx) and
 * bias + ReLU fused by cudnnConvolutionBiasActivationForward; other activations run as
 * one epilogue kernel. A 2-D convolution whose input is stored NHWC runs NHWC and keeps
 * its own copy of the weights in KRSC order (O, kh, kw, I/group); when its output is
 * stored in the other layout (a head convolution feeding a Reshape), it computes into the
 * context's scratch buffer and one strided copy converts. One that cuDNN refuses in NHWC
 * runs NCHW between such copies (input in, output out) instead. MatMul and Gemm go
 * through cublasGemmEx with float accumulation.
 * FP32 uses plain FMA math (no TF32) so results stay within the CPU tolerance. */
#ifdef VP_HAVE_CUDA
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "cuda_check.h"
#include "cuda_kernels.h"
#include "cuda_layout_pass.h"
#include "cuda_ops.h"
#include "ops_common.h"
#include "ops_window.h"

#define DNN(call, what) cuda_dnn_check(c->dl, (call), what)

typedef struct conv_priv {
	cudnnTensorDescriptor_t x, y, bias;
	cudnnFilterDescriptor_t w;
	cudnnConvolutionDescriptor_t conv;
	cudnnActivationDescriptor_t relu;
	cudnnConvolutionFwdAlgo_t algo;
	size_t ws, ws_full;                 /* workspace of the current / the planned batch */
	int fused;                          /* bias + ReLU inside cuDNN */
	int nhwc;                           /* computed NHWC, weights KRSC in wt */
	int mixed;                          /* the output is stored in the other layout */
	int in_convert;                     /* the input is stored in the other layout */
	void *wt;                           /* the KRSC weights (NHWC only) */
	cuk_geom out_geom;                  /* mixed: scratch -> output */
	cuk_geom in_geom;                   /* in_convert: input -> scratch + x_off */
	size_t x_off;                       /* where the converted input lies in the scratch */
	int64_t n, ci, h, w_, co, oh, ow;   /* 1-D convolutions run as h = 1 */
	int cur_batch;                      /* batch the x/y descriptors describe now */
} conv_priv;

static int set_xy(cu_ctx *c, conv_priv *p, int batch)
{
	cudnnDataType_t dt = cu_dnn_type(c);
	cudnnTensorFormat_t fmt = p->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
	int rc = DNN(c->dl->cudnnSetTensor4dDescriptor(p->x, fmt, dt, batch, (int)p->ci, (int)p->h, (int)p->w_),
	             "conv input descriptor");
	if (rc == 0)
		rc = DNN(c->dl->cudnnSetTensor4dDescriptor(p->y, fmt, dt, batch, (int)p->co, (int)p->oh, (int)p->ow),
		         "conv output descriptor");
	if (rc == 0)
		p->cur_batch = batch;
	return rc;
}

static int conv_geometry(cu_node *cn, conv_priv *p, int pads[2], int strides[2], int dil[2], char *err,
                         size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *wt = n->in[1], *y = n->out[0];
	int64_t kernel[OPS_MAX_SP] = { wt->dims[2], x->ndim > 3 ? wt->dims[3] : 1, 1 };
	ops_window w;
	int rc;

	if (x->ndim != 3 && x->ndim != 4)
		return ops_fail(err, errlen, VP_EUNSUP, "only 1-D and 2-D convolutions run on the GPU");
	if (!wt->is_const)
		return ops_fail(err, errlen, VP_EUNSUP, "weights %s must be constant on the GPU", wt->name);
	if ((rc = ops_window_forward(n, x, kernel, 0, &w, err, errlen)) < 0)
		return rc;
	for (int i = 0; i < w.nsp; i++)
		if (w.pb[i] != w.pe[i])
			return ops_fail(err, errlen, VP_EUNSUP, "asymmetric padding is not supported by cuDNN");
	int one_d = w.nsp == 1;
	p->n = x->dims[0];
	p->ci = x->dims[1];
	p->h = one_d ? 1 : x->dims[2];
	p->w_ = x->dims[x->ndim - 1];
	p->co = y->dims[1];
	p->oh = one_d ? 1 : y->dims[2];
	p->ow = y->dims[y->ndim - 1];
	pads[0] = one_d ? 0 : (int)w.pb[0];
	pads[1] = (int)w.pb[w.nsp - 1];
	strides[0] = one_d ? 1 : (int)w.s[0];
	strides[1] = (int)w.s[w.nsp - 1];
	dil[0] = one_d ? 1 : (int)w.d[0];
	dil[1] = (int)w.d[w.nsp - 1];
	return 0;
}

/* Filter dims stay (K, C, R, S); the format says how they are stored. */
static int set_filter(cu_ctx *c, const cu_node *cn, conv_priv *p)
{
	const inf_tensor *wt = cn->n->in[1];
	int wd[4] = { (int)p->co, (int)wt->dims[1], wt->ndim == 3 ? 1 : (int)wt->dims[2], (int)wt->dims[wt->ndim - 1] };
	return DNN(c->dl->cudnnSetFilterNdDescriptor(p->w, cu_dnn_type(c), p->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
	                                             4, wd), "filter descriptor");
}

static int conv_descs(cu_ctx *c, cu_node *cn, conv_priv *p, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	int pads[2], strides[2], dil[2], rc;
	if ((rc = conv_geometry(cn, p, pads, strides, dil, err, errlen)) < 0)
		return rc;
	cudnnDataType_t dt = cu_dnn_type(c);
	if ((rc = DNN(c->dl->cudnnCreateTensorDescriptor(&p->x), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateTensorDescriptor(&p->y), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateTensorDescriptor(&p->bias), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateFilterDescriptor(&p->w), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateConvolutionDescriptor(&p->conv), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateActivationDescriptor(&p->relu), "descriptor")) < 0)
		return rc;
	if ((rc = set_xy(c, p, (int)p->n)) < 0 ||
	    (rc = DNN(c->dl->cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NCHW, dt, 1, (int)p->co, 1, 1),
	              "bias descriptor")) < 0 ||
	    (rc = set_filter(c, cn, p)) < 0 ||
	    (rc = DNN(c->dl->cudnnSetConvolutionNdDescriptor(p->conv, 2, pads, strides, dil, CUDNN_CROSS_CORRELATION,
	                                                     CUDNN_DATA_FLOAT), "convolution descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnSetConvolutionGroupCount(p->conv, (int)inf_attr_int(n, "group", 1)), "group count")) < 0 ||
	    (rc = DNN(c->dl->cudnnSetConvolutionMathType(p->conv, c->half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
	              "math type")) < 0 ||
	    (rc = DNN(c->dl->cudnnSetActivationDescriptor(p->relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0),
	              "activation descriptor")) < 0)
		return rc;
	return 0;
}

static const void *conv_weights(const cu_node *cn, const conv_priv *p)
{
	return p->wt ? p->wt : cn->din[1];
}

/* Where cuDNN writes: the output itself, or the scratch a mixed-layout node converts from;
 * where it reads: the input, or its converted copy in the scratch. */
static void *conv_dst(const cu_ctx *c, const cu_node *cn, const conv_priv *p)
{
	return p->mixed ? c->scratch : cn->dout[0];
}

static const void *conv_src(const cu_ctx *c, const cu_node *cn, const conv_priv *p)
{
	return p->in_convert ? (const void *)((const char *)c->scratch + p->x_off) : cn->din[0];
}

/* Measured search: cuDNN times every algorithm on the real buffers and returns them
 * fastest first; the first that ran wins, with the math type it ran with. */
static int conv_search(cu_ctx *c, cu_node *cn, conv_priv *p)
{
	cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
	int got = 0;
	cudnnStatus_t st = c->dl->cudnnFindConvolutionForwardAlgorithmEx(
		c->dnn, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv, p->y, conv_dst(c, cn, p),
		CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf, c->search, c->search_bytes);
	/* an NHWC configuration cuDNN refuses is unsupported (the load retries in NCHW) */
	if (st != CUDNN_STATUS_SUCCESS && (p->nhwc || p->mixed || p->in_convert))
		return VP_EUNSUP;
	int rc = DNN(st, "convolution algorithm search");
	if (rc < 0)
		return rc;
	for (int i = 0; i < got; i++) {
		if (perf[i].status != CUDNN_STATUS_SUCCESS)
			continue;
		p->algo = perf[i].algo;
		p->ws = perf[i].memory;
		return DNN(c->dl->cudnnSetConvolutionMathType(p->conv, perf[i].mathType), "math type");
	}
	return VP_EUNSUP;
}

static int conv_compute(cu_ctx *c, cu_node *cn, conv_priv *p, void *dst)
{
	const float one = 1.0f, zero = 0.0f;
	const inf_node *n = cn->n;
	/* fused bias + ReLU; a batch size cuDNN does not fuse falls back to the epilogue */
	if (p->fused && c->dl->cudnnConvolutionBiasActivationForward(
		                c->dnn, &one, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv, p->algo, c->work, p->ws,
		                &zero, p->y, dst, p->bias, cn->din[2], p->relu, p->y, dst) == CUDNN_STATUS_SUCCESS)
		return 0;
	int rc = DNN(c->dl->cudnnConvolutionForward(c->dnn, &one, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv,
	                                            p->algo, c->work, p->ws, &zero, p->y, dst),
	             "convolution");
	if (rc < 0)
		return rc;
	const void *bias = n->n_in > 2 && n->in[2] ? cn->din[2] : NULL;
	if (!bias && n->act == INF_ACT_NONE)
		return 0;
	/* the bias index is the channel: (i / plane) % C, with plane 1 when C is innermost */
	return cuk_bias_act(c->half, dst, dst, bias, p->co, p->nhwc ? 1 : p->oh * p->ow,
	                    (int64_t)p->cur_batch * p->co * p->oh * p->ow, n->act, n->act_alpha, n->act_beta,
	                    c->stream);
}

static int conv_exec(cu_ctx *c, cu_node *cn, conv_priv *p)
{
	size_t es = cu_elem(c, cn->n->out[0]);
	int rc = 0;
	if (p->in_convert) {
		cuk_geom g = p->in_geom;
		g.dims[0] = p->cur_batch;   /* the batch axis stays first in the walk */
		rc = cuk_copy_nd(cn->din[0], (char *)c->scratch + p->x_off, es, &g, c->stream);
	}
	if (rc == 0)
		rc = conv_compute(c, cn, p, conv_dst(c, cn, p));
	if (rc < 0 || !p->mixed)
		return rc;
	cuk_geom g = p->out_geom;
	g.dims[0] = p->cur_batch;
	return cuk_copy_nd(c->scratch, cn->dout[0], es, &g, c->stream);
}

static void conv_release(cu_ctx *c, cu_node *cn)
{
	conv_priv *p = cn->priv;
	if (!p)
		return;
	cu_conv_descs_destroy(c, p->x, p->y, p->w, p->conv);
	if (p->bias)
		c->dl->cudnnDestroyTensorDescriptor(p->bias);
	if (p->relu)
		c->dl->cudnnDestroyActivationDescriptor(p->relu);
	cudaFree(p->wt);
	free(p);
	cn->priv = NULL;
}

/* A copy of t between its stored layout and the one the convolution runs in. */
static void convert_geom(const cu_ctx *c, const inf_tensor *t, int run_nhwc, int into_run, cuk_geom *g)
{
	int64_t stored[4], run[4];
	g->nd = 4;
	memcpy(g->dims, t->dims, sizeof(g->dims));
	cu_strides(c, t, stored);
	cu_layout_strides(t, run_nhwc, run);
	memcpy(g->sa, into_run ? stored : run, sizeof(run));
	memcpy(g->sy, into_run ? run : stored, sizeof(run));
	cu_geom_output_order(g);
}

/* The layout cuDNN runs the node in (nhwc: the OIHW weights copied once into KRSC order,
 * what its NHWC filter format reads); an input or output stored the other way goes
 * through the scratch buffer with a converting copy. */
static int conv_layout(cu_ctx *c, cu_node *cn, conv_priv *p, int nhwc, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *wt = n->in[1], *y = n->out[0];
	size_t es = cu_elem(c, y), y_bytes = ((size_t)inf_tensor_numel(y) * es + 255) & ~(size_t)255;
	int rc = 0;
	p->nhwc = nhwc;
	p->in_convert = nhwc != cu_is_nhwc(c, x);
	p->mixed = nhwc != cu_is_nhwc(c, y);
	if ((p->nhwc || p->mixed || p->in_convert) && (wt->ndim != 4 || y->ndim != 4 || x->ndim != 4))
		return ops_fail(err, errlen, VP_EUNSUP, "NHWC needs a 2-D convolution");
	if (p->mixed)
		convert_geom(c, y, nhwc, 0, &p->out_geom);
	if (p->in_convert)
		convert_geom(c, x, nhwc, 1, &p->in_geom);
	p->x_off = p->mixed ? y_bytes : 0;
	if ((p->mixed || p->in_convert) &&
	    (rc = cu_scratch(c, p->x_off + (p->in_convert ? (size_t)inf_tensor_numel(x) * es : 0))) < 0)
		return rc;
	if (!nhwc) {
		if (p->wt && (rc = CU_RT(cudaStreamSynchronize(c->stream))) == 0)   /* the KRSC copy may be queued */
			cudaFree(p->wt);
		p->wt = NULL;
		return rc;
	}
	/* walk (O, kh, kw, I) contiguously, read OIHW */
	const int64_t o = wt->dims[0], i = wt->dims[1], kh = wt->dims[2], kw = wt->dims[3];
	cuk_geom g = { .nd = 4, .dims = { o, kh, kw, i }, .sa = { i * kh * kw, kw, 1, kh * kw },
	               .sy = { kh * kw * i, kw * i, i, 1 } };
	rc = CU_RT(cudaMalloc(&p->wt, (size_t)inf_tensor_numel(wt) * es + 4));
	if (rc == 0)
		rc = cuk_copy_nd(cn->din[1], p->wt, es, &g, c->stream);
	return rc;
}

/* cuDNN has no NHWC algorithm for this node: run it NCHW between converting copies. */
static int conv_fallback_nchw(cu_ctx *c, cu_node *cn, conv_priv *p, char *err, size_t errlen)
{
	vp_info("infer", "cuda", "node '%s': no NHWC algorithm in cuDNN, runs NCHW between converting copies",
	        cn->n->name);
	int rc = conv_layout(c, cn, p, 0, err, errlen);
	if (rc == 0)
		rc = set_xy(c, p, (int)p->n);
	if (rc == 0)
		rc = set_filter(c, cn, p);
	if (rc == 0)
		rc = conv_search(c, cn, p);
	return rc;
}

static int conv_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	conv_priv *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cn->priv = p;
	int rc = conv_layout(c, cn, p, cu_is_nhwc(c, cn->n->in[0]), err, errlen);
	if (rc == 0)
		rc = conv_descs(c, cn, p, err, errlen);
	if (rc < 0)
		return rc;
	rc = conv_search(c, cn, p);
	if (rc == VP_EUNSUP && p->nhwc)
		rc = conv_fallback_nchw(c, cn, p, err, errlen);
	if (rc < 0)
		return ops_fail(err, errlen, rc, "no cuDNN algorithm runs this convolution");
	if (p->ws > c->search_bytes)
		return ops_fail(err, errlen, VP_EUNSUP, "the convolution needs %zu workspace bytes", p->ws);
	if (p->ws > c->work_bytes)
		c->work_bytes = p->ws;
	p->ws_full = p->ws;
	/* Try the fused call once on the real buffers (search scratch as workspace): cuDNN
	 * supports it for some algorithm/type combinations only. */
	const cuda_dl *dl = c->dl;
	if (cn->n->act == INF_ACT_RELU && cn->n->n_in > 2 && cn->n->in[2]) {
		const float one = 1.0f, zero = 0.0f;
		cudnnStatus_t st = dl->cudnnConvolutionBiasActivationForward(
			c->dnn, &one, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv, p->algo, c->search, p->ws, &zero, p->y,
			conv_dst(c, cn, p), p->bias, cn->din[2], p->relu, p->y, conv_dst(c, cn, p));
		p->fused = st == CUDNN_STATUS_SUCCESS;
	}
	return 0;
}

/* A smaller batch gets its own descriptors when the chosen algorithm runs it within the
 * workspace; otherwise the node runs the whole planned batch (the extra items are unused). */
static int conv_run(cu_ctx *c, cu_node *cn, int batch)
{
	conv_priv *p = cn->priv;
	int want = cn->bscale ? batch : (int)p->n;
	if (want != p->cur_batch) {
		size_t ws = 0;
		int rc = set_xy(c, p, want);
		if (rc == 0 && c->dl->cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->x, p->w, p->conv, p->y, p->algo,
		                                                              &ws) == CUDNN_STATUS_SUCCESS &&
		    ws <= c->work_bytes) {
			p->ws = ws;
		} else if ((rc = set_xy(c, p, (int)p->n)) < 0) {
			return rc;
		} else {
			p->ws = p->ws_full;
		}
	}
	return conv_exec(c, cn, p);
}

/* ---- MatMul / Gemm ---- */

typedef struct gemm_priv {
	int ta, tb;
	int64_t m, n, k, batch;           /* batch of independent products (strided) */
	int64_t sa, sb;                   /* strides between the products' A and B; 0 = shared */
	float alpha, beta;
	int has_c;
	cuk_geom cgeom;                   /* C broadcast into Y before the product */
} gemm_priv;

static int matmul_geom(const inf_node *n, gemm_priv *p, char *err, size_t errlen)
{
	const inf_tensor *a = n->in[0], *b = n->in[1];
	if (a->ndim < 2 || b->ndim < 2)
		return ops_fail(err, errlen, VP_EUNSUP, "1-D MatMul operands do not run on the GPU");
	p->m = a->dims[a->ndim - 2];
	p->k = a->dims[a->ndim - 1];
	p->n = b->dims[b->ndim - 1];
	int64_t ab = inf_tensor_numel(a) / (p->m * p->k), bb = inf_tensor_numel(b) / (p->k * p->n);
	p->alpha = 1.0f;
	if (bb == 1) {
		/* B shared: every row of A's batch is one tall product */
		p->m *= ab;
		p->batch = 1;
		return 0;
	}
	if (a->ndim != b->ndim || ab != bb)
		return ops_fail(err, errlen, VP_EUNSUP, "MatMul broadcasting between batched operands does not run on the GPU");
	for (int i = 0; i < a->ndim - 2; i++)
		if (a->dims[i] != b->dims[i])
			return ops_fail(err, errlen, VP_EUNSUP, "MatMul batch dims differ");
	p->batch = ab;
	p->sa = p->m * p->k;
	p->sb = p->k * p->n;
	return 0;
}

static int gemm_geom(const inf_node *n, gemm_priv *p, char *err, size_t errlen)
{
	const inf_tensor *a = n->in[0], *b = n->in[1], *cc = ops_in(n, 2), *y = n->out[0];
	p->ta = (int)inf_attr_int(n, "transA", 0);
	p->tb = (int)inf_attr_int(n, "transB", 0);
	p->alpha = inf_attr_float(n, "alpha", 1.0f);
	p->beta = inf_attr_float(n, "beta", 1.0f);
	p->m = p->ta ? a->dims[1] : a->dims[0];
	p->k = p->ta ? a->dims[0] : a->dims[1];
	p->n = p->tb ? b->dims[0] : b->dims[1];
	p->batch = 1;
	if (!cc)
		return 0;
	if (cc->ndim > 2)
		return ops_fail(err, errlen, VP_EMODEL, "C has rank %d", cc->ndim);
	p->has_c = 1;
	p->cgeom.nd = 2;
	p->cgeom.dims[0] = y->dims[0];
	p->cgeom.dims[1] = y->dims[1];
	ops_bcast_strides(cc, 2, y->dims, p->cgeom.sa);
	p->cgeom.sy[0] = y->dims[1];
	p->cgeom.sy[1] = 1;
	return 0;
}

static int gemm_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	(void)c;
	for (int k = 0; k < n->n_in && k < 3; k++)
		if (n->in[k] && !ops_dtype_is_float(n->in[k]->dtype))
			return ops_fail(err, errlen, VP_EUNSUP, "only float products run on the GPU");
	gemm_priv *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cn->priv = p;
	return !strcmp(n->op_type, "Gemm") ? gemm_geom(n, p, err, errlen) : matmul_geom(n, p, err, errlen);
}

/* Row-major Y = op(A) op(B) is column-major Y^T = op(B)^T op(A)^T: B goes first. */
static int gemm_run(cu_ctx *c, cu_node *cn, int batch)
{
	const gemm_priv *p = cn->priv;
	const inf_node *n = cn->n;
	cudaDataType_t dt = c->half ? CUDA_R_16F : CUDA_R_32F;
	size_t es = c->half ? 2 : 4;
	float beta = 0.0f;
	int rc;
	(void)batch;
	if (p->has_c && p->beta != 0.0f) {
		if ((rc = cuk_copy_nd(cn->din[2], cn->dout[0], es, &p->cgeom, c->stream)) < 0)
			return rc;
		beta = p->beta;
	}
	int lda = (int)(p->ta ? p->m : p->k), ldb = (int)(p->tb ? p->k : p->n);
	cublasOperation_t opa = p->ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = p->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasStatus_t st;
	if (p->batch == 1)
		st = c->dl->cublasGemmEx(c->blas, opb, opa, (int)p->n, (int)p->m, (int)p->k, &p->alpha, cn->din[1], dt, ldb,
		                         cn->din[0], dt, lda, &beta, cn->dout[0], dt, (int)p->n, CUBLAS_COMPUTE_32F,
		                         CUBLAS_GEMM_DEFAULT);
	else
		st = c->dl->cublasGemmStridedBatchedEx(c->blas, opb, opa, (int)p->n, (int)p->m, (int)p->k, &p->alpha,
		                                       cn->din[1], dt, ldb, p->sb, cn->din[0], dt, lda, p->sa, &beta,
		                                       cn->dout[0], dt, (int)p->n, p->m * p->n, (int)p->batch,
		                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
	if ((rc = cuda_blas_check(st, n->op_type)) < 0 || n->act == INF_ACT_NONE)
		return rc;
	return cuk_bias_act(c->half, cn->dout[0], cn->dout[0], NULL, 1, 1, inf_tensor_numel(n->out[0]), n->act,
	                    n->act_alpha, n->act_beta, c->stream);
}

static void gemm_release(cu_ctx *c, cu_node *cn)
{
	(void)c;
	free(cn->priv);
	cn->priv = NULL;
}

const cu_op cu_ops_dnn[] = {
	{ "Conv", conv_prepare, conv_run, conv_release },
	{ "MatMul", gemm_prepare, gemm_run, gemm_release },
	{ "Gemm", gemm_prepare, gemm_run, gemm_release },
	{ NULL, NULL, NULL, NULL },
};
#endif
