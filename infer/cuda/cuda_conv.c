/* The cuda backend's cuDNN convolution: Conv (1-D and 2-D, grouped, dilated) with the
 * algorithm measured once at load (cudnnFindConvolutionForwardAlgorithmEx) and bias + ReLU
 * fused by cudnnConvolutionBiasActivationForward; other activations run as one epilogue
 * kernel. A 2-D convolution whose input is stored NHWC runs NHWC and keeps its own copy of
 * the weights in KRSC order (O, kh, kw, I/group); when its output is stored in the other
 * layout (a head convolution feeding a Reshape), it computes into the context's scratch
 * buffer and one strided copy converts. One that cuDNN refuses in NHWC runs NCHW between
 * such copies (input in, output out) instead.
 * Which measured algorithms may run is cu_conv_pick's rule (cuda_conv_pick.h): FP32 keeps
 * only FMA math (no TF32) so results stay within the CPU tolerance. The candidates are kept
 * best first; a smaller batch that cuDNN refuses the first for takes the next, then a
 * search at that batch, then runs the whole planned batch. MatMul and Gemm: cuda_gemm.c. */
#ifdef VP_HAVE_CUDA
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "cuda_check.h"
#include "cuda_conv_pick.h"
#include "cuda_kernels.h"
#include "cuda_layout_pass.h"
#include "cuda_ops.h"
#include "infer/cpu/ops_common.h"
#include "infer/cpu/ops_window.h"

#define DNN(call, what) cuda_dnn_check(c->dl, (call), what)

_Static_assert(CU_MATH_DEFAULT == (int)CUDNN_DEFAULT_MATH && CU_MATH_TENSOR_OP == (int)CUDNN_TENSOR_OP_MATH &&
                       CU_MATH_TENSOR_OP_CONVERT == (int)CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION &&
                       CU_MATH_FMA == (int)CUDNN_FMA_MATH,
               "cuda_conv_pick.h mirrors cudnnMathType_t");

#define CONV_CANDS CUDNN_CONVOLUTION_FWD_ALGO_COUNT

/* An algorithm with the math type it was measured with and its workspace. */
typedef struct conv_cand {
	cudnnConvolutionFwdAlgo_t algo;
	cudnnMathType_t math;
	size_t ws;
} conv_cand;

/* What one batch size runs, decided on its first (eager) run: a candidate at that batch,
 * or the planned batch's choice over the whole planned batch (batch == n). */
typedef struct conv_choice {
	conv_cand c;
	int batch;          /* the descriptors' batch */
	int next;           /* the candidate to try when this one is refused */
	int refound;        /* a Find at this batch already ran */
	int decided;
} conv_choice;

typedef struct conv_priv {
	cudnnTensorDescriptor_t x, y, bias;
	cudnnFilterDescriptor_t w;
	cudnnConvolutionDescriptor_t conv;
	cudnnActivationDescriptor_t relu;
	conv_cand cand[CONV_CANDS];         /* from Find at the planned batch, best first */
	int ncand;
	conv_choice *per_batch;             /* [0..n]: each batch size's choice */
	conv_cand cur;                      /* what the descriptors run now */
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

/* Whether a cuDNN status says "not supported" (cuDNN 9 reports sub-codes of the category). */
static int dnn_refused(cudnnStatus_t st)
{
	return (int)st / 1000 * 1000 == (int)CUDNN_STATUS_NOT_SUPPORTED;
}

/* The descriptor's math type while cuDNN measures: FMA in FP32 (no TF32), tensor ops in FP16. */
static cudnnMathType_t search_math(const cu_ctx *c)
{
	return c->half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

static void perf_rows(const cudnnConvolutionFwdAlgoPerf_t *perf, int got, cu_algo_perf *rows, int fp32_default_as_fma)
{
	for (int i = 0; i < got; i++) {
		int math = (int)perf[i].mathType;
		if (fp32_default_as_fma && math == CU_MATH_DEFAULT)
			math = CU_MATH_FMA;
		rows[i] = (cu_algo_perf){ (int)perf[i].algo, (int)perf[i].status, perf[i].time, perf[i].memory, math,
		                          perf[i].determinism == CUDNN_DETERMINISTIC };
	}
}

/* Measured search at the descriptors' batch on the real buffers, with ws as scratch: the
 * usable algorithms best first (cu_conv_pick) into out[]. quiet: a failed search is
 * VP_EUNSUP without a log line (the caller has another way). */
static int conv_find(cu_ctx *c, cu_node *cn, conv_priv *p, void *ws, size_t ws_bytes, int quiet, conv_cand *out,
                     int *nout)
{
	cudnnConvolutionFwdAlgoPerf_t perf[CONV_CANDS];
	cu_algo_perf rows[CONV_CANDS];
	int got = 0, order[CONV_CANDS];
	*nout = 0;
	int rc = DNN(c->dl->cudnnSetConvolutionMathType(p->conv, search_math(c)), "math type");
	if (rc < 0)
		return rc;
	cudnnStatus_t st = c->dl->cudnnFindConvolutionForwardAlgorithmEx(
		c->dnn, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv, p->y, conv_dst(c, cn, p), CONV_CANDS,
		&got, perf, ws, ws_bytes);
	if (st != CUDNN_STATUS_SUCCESS && quiet)
		return VP_EUNSUP;
	if ((rc = DNN(st, "convolution algorithm search")) < 0)
		return rc;
	perf_rows(perf, got, rows, 0);
	int k = cu_conv_pick(rows, got, c->half, ws_bytes, order, CONV_CANDS);
	if (k == 0 && !c->half) {
		/* The descriptor was FMA while cuDNN measured, so what it labels default math ran
		 * without TF32; the FP32 runs keep the descriptor at FMA (conv_use). */
		perf_rows(perf, got, rows, 1);
		if ((k = cu_conv_pick(rows, got, 0, ws_bytes, order, CONV_CANDS)) > 0)
			vp_warn("infer", "cuda", "node '%s': cuDNN labels no FP32 algorithm FMA math; runs default-labelled "
			        "ones with the descriptor at FMA math", cn->n->name);
	}
	for (int i = 0; i < k; i++)
		out[i] = (conv_cand){ perf[order[i]].algo, c->half ? perf[order[i]].mathType : CUDNN_FMA_MATH,
		                      perf[order[i]].memory };
	*nout = k;
	return 0;
}

/* At load, at the planned batch: the candidates, the first of them in use. */
static int conv_search(cu_ctx *c, cu_node *cn, conv_priv *p)
{
	/* an NHWC configuration cuDNN refuses is unsupported (the load retries in NCHW) */
	int rc = conv_find(c, cn, p, c->search, c->search_bytes, p->nhwc || p->mixed || p->in_convert, p->cand,
	                   &p->ncand);
	if (rc < 0)
		return rc;
	if (p->ncand == 0)
		return VP_EUNSUP;
	p->cur = p->cand[0];
	return DNN(c->dl->cudnnSetConvolutionMathType(p->conv, p->cur.math), "math type");
}

/* cuDNN's status of the convolution itself, for the caller to judge (a refusal at a
 * smaller batch moves on to the next candidate). */
static cudnnStatus_t conv_forward(cu_ctx *c, cu_node *cn, conv_priv *p, void *dst)
{
	const float one = 1.0f, zero = 0.0f;
	return c->dl->cudnnConvolutionForward(c->dnn, &one, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv,
	                                      p->cur.algo, c->work, p->cur.ws, &zero, p->y, dst);
}

static int conv_compute(cu_ctx *c, cu_node *cn, conv_priv *p, void *dst)
{
	const float one = 1.0f, zero = 0.0f;
	const inf_node *n = cn->n;
	/* fused bias + ReLU; a batch size cuDNN does not fuse falls back to the epilogue */
	if (p->fused && c->dl->cudnnConvolutionBiasActivationForward(
		                c->dnn, &one, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv, p->cur.algo, c->work,
		                p->cur.ws, &zero, p->y, dst, p->bias, cn->din[2], p->relu, p->y, dst) == CUDNN_STATUS_SUCCESS)
		return 0;
	cudnnStatus_t st = conv_forward(c, cn, p, dst);
	if (dnn_refused(st) && p->cur_batch != p->n)
		return VP_EUNSUP;   /* not logged: conv_run tries the next candidate */
	int rc = DNN(st, "convolution");
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
	free(p->per_batch);
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
	if (p->cur.ws > c->work_bytes)
		c->work_bytes = p->cur.ws;
	if (!(p->per_batch = calloc((size_t)p->n + 1, sizeof(*p->per_batch))))
		return -ENOMEM;
	p->per_batch[p->n] = (conv_choice){ .c = p->cand[0], .batch = (int)p->n, .next = p->ncand, .decided = 1 };
	/* Try the fused call once on the real buffers (search scratch as workspace): cuDNN
	 * supports it for some algorithm/type combinations only. */
	const cuda_dl *dl = c->dl;
	if (cn->n->act == INF_ACT_RELU && cn->n->n_in > 2 && cn->n->in[2]) {
		const float one = 1.0f, zero = 0.0f;
		cudnnStatus_t st = dl->cudnnConvolutionBiasActivationForward(
			c->dnn, &one, p->x, conv_src(c, cn, p), p->w, conv_weights(cn, p), p->conv, p->cur.algo, c->search, p->cur.ws, &zero, p->y,
			conv_dst(c, cn, p), p->bias, cn->din[2], p->relu, p->y, conv_dst(c, cn, p));
		p->fused = st == CUDNN_STATUS_SUCCESS;
	}
	return 0;
}

/* Descriptors for `batch` items running candidate k (FP32 keeps the FMA math type). */
static int conv_use(cu_ctx *c, conv_priv *p, int batch, const conv_cand *k)
{
	int rc = set_xy(c, p, batch);
	if (rc == 0)
		rc = DNN(c->dl->cudnnSetConvolutionMathType(p->conv, k->math), "math type");
	if (rc == 0)
		p->cur = *k;
	return rc;
}

/* Candidate k at `batch` items, if cuDNN takes it there within the shared workspace. */
static int conv_fits(cu_ctx *c, conv_priv *p, int batch, conv_cand *k)
{
	size_t ws = 0;
	if (conv_use(c, p, batch, k) < 0 ||
	    c->dl->cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->x, p->w, p->conv, p->y, k->algo, &ws) !=
	            CUDNN_STATUS_SUCCESS ||
	    ws > c->work_bytes)
		return 0;
	k->ws = ws;
	return 1;
}

/* A Find at `batch` items with the shared workspace as scratch: only on an eager run (it
 * synchronises, which a graph capture would not survive). */
static int conv_refind(cu_ctx *c, cu_node *cn, conv_priv *p, int batch, conv_cand *ret)
{
	enum cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
	conv_cand found[CONV_CANDS];
	int nfound = 0;
	if (cudaStreamIsCapturing(c->stream, &cs) != cudaSuccess || cs != cudaStreamCaptureStatusNone ||
	    set_xy(c, p, batch) < 0 || conv_find(c, cn, p, c->work, c->work_bytes, 1, found, &nfound) < 0)
		return 0;
	for (int i = 0; i < nfound; i++)
		if (conv_fits(c, p, batch, &found[i])) {
			*ret = found[i];
			return 1;
		}
	return 0;
}

/* What `batch` items run, from candidate `from` on: the first candidate cuDNN takes at
 * that batch, else the best of a Find at that batch, else the planned batch's choice
 * over the whole planned batch (the extra items are unused). */
static void conv_decide(cu_ctx *c, cu_node *cn, conv_priv *p, int batch, int from)
{
	conv_choice *ch = &p->per_batch[batch];
	ch->decided = 1;
	for (int i = from; i < p->ncand; i++) {
		conv_cand k = p->cand[i];
		if (conv_fits(c, p, batch, &k)) {
			*ch = (conv_choice){ .c = k, .batch = batch, .next = i + 1, .refound = ch->refound, .decided = 1 };
			return;
		}
	}
	if (!ch->refound) {
		ch->refound = 1;
		if (conv_refind(c, cn, p, batch, &ch->c)) {
			vp_info("infer", "cuda", "node '%s': cuDNN takes none of the planned batch's algorithms at batch %d; "
			        "algorithm %d from a search at that batch", cn->n->name, batch, (int)ch->c.algo);
			ch->batch = batch;
			ch->next = p->ncand;
			return;
		}
	}
	vp_info("infer", "cuda", "node '%s': no cuDNN algorithm at batch %d, runs the planned batch of %d",
	        cn->n->name, batch, (int)p->n);
	ch->c = p->cand[0];
	ch->batch = (int)p->n;
	ch->next = p->ncand;
}

/* Each batch size keeps what its first run decided; a candidate that cuDNN refuses when it
 * runs (after accepting its workspace query) passes to the next. */
static int conv_run(cu_ctx *c, cu_node *cn, int batch)
{
	conv_priv *p = cn->priv;
	int want = cn->bscale ? batch : (int)p->n;
	conv_choice *ch = &p->per_batch[want];
	if (!ch->decided)
		conv_decide(c, cn, p, want, 0);
	for (;;) {
		int rc = 0;
		if (ch->batch != p->cur_batch || ch->c.algo != p->cur.algo || ch->c.math != p->cur.math ||
		    ch->c.ws != p->cur.ws)
			rc = conv_use(c, p, ch->batch, &ch->c);
		if (rc == 0)
			rc = conv_exec(c, cn, p);
		if (rc != VP_EUNSUP || ch->batch == (int)p->n)
			return rc;
		vp_info("infer", "cuda", "node '%s': cuDNN refuses algorithm %d at batch %d, trying the next",
		        cn->n->name, (int)ch->c.algo, want);
		conv_decide(c, cn, p, want, ch->next);
	}
}

const cu_op cu_ops_dnn[] = {
	{ "Conv", conv_prepare, conv_run, conv_release },
	{ NULL, NULL, NULL, NULL },
};
#endif
