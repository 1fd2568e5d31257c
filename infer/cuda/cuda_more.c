/* The cuda backend's later operators, with the CPU operators as the reference semantics:
 * Cast/CastLike (ops_shape.c), ReduceMean/Max/Min/Sum (ops_reduce.c), inference
 * BatchNormalization (ops_math.c) and ConvTranspose (ops_conv.c). Kernels are in
 * cuda_more.cu; ConvTranspose runs as cuDNN's backward-data convolution.
 * Constant, ConstantOfShape and Shape need no row: the importer turns every Constant into
 * a constant tensor, and with static shapes ConstantOfShape (its shape input must be
 * constant) and Shape (it reads only the static shape) are always folded at load. */
#ifdef VP_HAVE_CUDA
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "cuda_check.h"
#include "cuda_conv_pick.h"
#include "cuda_kernels.h"
#include "cuda_more.h"
#include "cuda_ops.h"
#include "infer/cpu/ops_common.h"
#include "infer/cpu/ops_window.h"

#define DNN(call, what) cuda_dnn_check(c->dl, (call), what)

/* The dtype a tensor is stored in on the device. */
static int storage_dtype(const cu_ctx *c, const inf_tensor *t)
{
	return t->dtype == INF_DT_FLOAT && c->half ? INF_DT_FLOAT16 : t->dtype;
}

static int copy_through(cu_ctx *c, cu_node *cn, int batch)
{
	const inf_tensor *y = cn->n->out[0];
	size_t bytes = (size_t)cu_numel(c, cn, y, batch) * cu_elem(c, y);
	if (!bytes || cn->dout[0] == cn->din[0])
		return 0;
	return CU_RT(cudaMemcpyAsync(cn->dout[0], cn->din[0], bytes, cudaMemcpyDeviceToDevice, c->stream));
}

/* ---- Cast / CastLike ---- */

typedef struct cast_priv {
	int xt, yt;   /* storage dtypes */
} cast_priv;

static int cast_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *y = n->out[0];
	if (!cuk_cast_dtype_ok(x->dtype) || !cuk_cast_dtype_ok(y->dtype))
		return ops_fail(err, errlen, VP_EUNSUP, "casting data type %d to %d does not run on the GPU", x->dtype,
		                y->dtype);
	cast_priv *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->xt = storage_dtype(c, x);
	p->yt = storage_dtype(c, y);
	return 0;
}

static int cast_run(cu_ctx *c, cu_node *cn, int batch)
{
	const cast_priv *p = cn->priv;
	if (p->xt == p->yt)   /* also float <-> float16 in FP16 mode: both stored as half */
		return copy_through(c, cn, batch);
	return cuk_cast(cn->din[0], p->xt, cn->dout[0], p->yt, cu_numel(c, cn, cn->n->out[0], batch), c->stream);
}

/* ---- ReduceMean / ReduceMax / ReduceMin / ReduceSum ---- */

typedef struct red_priv {
	int noop;
	cuk_reduce r;
} red_priv;

static int red_kind(const inf_node *n)
{
	const char *t = n->op_type + strlen("Reduce");
	return !strcmp(t, "Mean") ? CUK_RED_MEAN : !strcmp(t, "Max") ? CUK_RED_MAX : !strcmp(t, "Min") ? CUK_RED_MIN
	                                                                                                 : CUK_RED_SUM;
}

/* Appends an axis to a dims/strides list, merging it into the previous one when the two
 * are contiguous in the input (fewer divisions per element in the kernel). */
static void add_axis(int *nd, int64_t *dims, int64_t *str, int64_t d, int64_t s)
{
	if (*nd > 0 && str[*nd - 1] == d * s) {
		dims[*nd - 1] *= d;
		str[*nd - 1] = s;
		return;
	}
	dims[*nd] = d;
	str[*nd] = s;
	(*nd)++;
}

static int red_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0];
	int red[INF_MAX_DIMS];
	int64_t s[INF_MAX_DIMS];
	(void)c;
	if (cu_need_float(n, err, errlen) < 0)
		return VP_EUNSUP;
	red_priv *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = ops_reduce_axes(n, red, err, errlen);
	if (rc < 0)
		return rc;
	p->noop = rc == 1;
	cuk_reduce *r = &p->r;
	r->kind = red_kind(n);
	r->outs = r->rcount = 1;
	cu_contiguous(x, s);
	for (int i = 0; i < x->ndim; i++) {
		if (red[i]) {
			add_axis(&r->nr, r->rdims, r->rstr, x->dims[i], s[i]);
			r->rcount *= x->dims[i];
		} else {
			add_axis(&r->nk, r->kdims, r->kstr, x->dims[i], s[i]);
			r->outs *= x->dims[i];
		}
	}
	r->inner_reduced = x->ndim > 0 && red[x->ndim - 1];
	/* reducing the batch axis mixes the items: the whole tensor runs */
	if (x->ndim > 0 && red[0] && !p->noop)
		cn->bscale = 0;
	return 0;
}

static int red_run(cu_ctx *c, cu_node *cn, int batch)
{
	const red_priv *p = cn->priv;
	if (p->noop)
		return copy_through(c, cn, batch);
	cuk_reduce r = p->r;
	if (cn->bscale)   /* the batch is the outermost kept axis */
		r.outs = r.outs / c->max_batch * batch;
	return cuk_reduce_run(c->half, cn->din[0], cn->dout[0], &r, c->stream);
}

/* ---- BatchNormalization (inference) ---- */

typedef struct bn_priv {
	float *coef;              /* device: scale a[C] then shift b[C] */
	int64_t ch, plane;
} bn_priv;

/* The CPU's per-channel coefficients, computed once on the host from the constants. */
static int bn_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0];
	if (cu_need_float(n, err, errlen) < 0)
		return VP_EUNSUP;
	if (inf_attr_int(n, "training_mode", 0) || n->n_out > 1)
		return ops_fail(err, errlen, VP_EUNSUP, "training-mode BatchNormalization does not run on the GPU");
	for (int k = 1; k < 5; k++)
		if (!ops_in(n, k) || !n->in[k]->is_const || !n->in[k]->data)
			return ops_fail(err, errlen, VP_EUNSUP, "scale, B, mean and var must be constant on the GPU");
	bn_priv *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ch = x->dims[1];
	p->plane = inf_tensor_numel(x) / (x->dims[0] * p->ch);
	float *h = malloc(sizeof(float) * 2 * (size_t)p->ch);
	if (!h)
		return -ENOMEM;
	const float *sc = n->in[1]->data, *bi = n->in[2]->data, *mean = n->in[3]->data, *var = n->in[4]->data;
	float eps = inf_attr_float(n, "epsilon", 1e-5f);
	for (int64_t i = 0; i < p->ch; i++) {
		double m = mean[i], v = var[i];
		h[i] = sc[i] / sqrtf((float)v + eps);
		h[p->ch + i] = bi[i] - (float)m * h[i];
	}
	int rc = CU_RT(cudaMalloc((void **)&p->coef, sizeof(float) * 2 * (size_t)p->ch));
	/* On the engine stream and waited for: a plain cudaMemcpy from pageable memory may
	 * return before its DMA lands, and the non-blocking engine stream would not wait. */
	if (rc == 0)
		rc = CU_RT(cudaMemcpyAsync(p->coef, h, sizeof(float) * 2 * (size_t)p->ch, cudaMemcpyHostToDevice,
		                           c->stream));
	if (rc == 0)
		rc = CU_RT(cudaStreamSynchronize(c->stream));
	free(h);
	return rc;
}

static int bn_run(cu_ctx *c, cu_node *cn, int batch)
{
	const bn_priv *p = cn->priv;
	return cuk_scale_shift(c->half, cn->din[0], cn->dout[0], p->coef, p->coef + p->ch, p->ch, p->plane,
	                       cu_numel(c, cn, cn->n->out[0], batch), c->stream);
}

static void bn_release(cu_ctx *c, cu_node *cn)
{
	bn_priv *p = cn->priv;
	if (p)
		cudaFree(p->coef);
	cu_free_priv(c, cn);
}

/* ---- ConvTranspose: cuDNN backward data ----
 * ConvTranspose(X, W) is the data gradient of the convolution whose filter is W
 * ([C_in, C_out/group, k...] is cuDNN's [K, C/group, k...]) and whose output is X. cuDNN
 * pads both ends alike and checks that the gradient's size maps back onto X's; pads,
 * output_padding and output_shape that fit that run directly into Y, the others compute
 * the unpadded grid into a scratch buffer that one crop kernel cuts (and zero-fills) to Y. */

typedef struct convt_priv {
	cudnnTensorDescriptor_t x, y;
	cudnnFilterDescriptor_t w;
	cudnnConvolutionDescriptor_t conv;
	cudnnConvolutionBwdDataAlgo_t algo;
	size_t ws, ws_full;             /* workspace of the current / the planned batch */
	int nsd;                        /* spatial axes given to cuDNN (1-D runs as 2-D) */
	int xsp[3], gsp[3];             /* spatial dims of X and of the computed grid */
	int64_t n, ci, co, out_plane;
	int cur_batch;                  /* batch the x/y descriptors describe now */
	void *scratch;                  /* the grid when it is not Y itself */
	cuk_crop crop;
} convt_priv;

static int convt_set_xy(cu_ctx *c, convt_priv *p, int batch)
{
	int xd[5] = { batch, (int)p->ci }, yd[5] = { batch, (int)p->co }, xs[5], ys[5];
	for (int i = 0; i < p->nsd; i++) {
		xd[2 + i] = p->xsp[i];
		yd[2 + i] = p->gsp[i];
	}
	xs[p->nsd + 1] = ys[p->nsd + 1] = 1;
	for (int i = p->nsd; i >= 0; i--) {
		xs[i] = xs[i + 1] * xd[i + 1];
		ys[i] = ys[i + 1] * yd[i + 1];
	}
	cudnnDataType_t dt = cu_dnn_type(c);
	int rc = DNN(c->dl->cudnnSetTensorNdDescriptor(p->x, dt, p->nsd + 2, xd, xs), "ConvTranspose input descriptor");
	if (rc == 0)
		rc = DNN(c->dl->cudnnSetTensorNdDescriptor(p->y, dt, p->nsd + 2, yd, ys), "ConvTranspose output descriptor");
	if (rc == 0)
		p->cur_batch = batch;
	return rc;
}

/* Geometry per spatial axis: cuDNN pads, strides, dilations, the grid and the crop. */
static int convt_geometry(cu_node *cn, convt_priv *p, int force_crop, int *pads, int *strides, int *dil, int *wd,
                          char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	const inf_tensor *x = n->in[0], *wt = n->in[1], *y = n->out[0];
	int64_t kernel[OPS_MAX_SP];
	ops_window w;
	int nsp = x->ndim - 2, rc, direct = !force_crop;
	if (nsp < 1 || nsp > 3)
		return ops_fail(err, errlen, VP_EUNSUP, "only 1-D to 3-D ConvTranspose runs on the GPU");
	if (!wt->is_const)
		return ops_fail(err, errlen, VP_EUNSUP, "weights %s must be constant on the GPU", wt->name);
	for (int i = 0; i < nsp; i++)
		kernel[i] = wt->dims[2 + i];
	if ((rc = ops_window_transpose(n, x, kernel, &w, err, errlen)) < 0)
		return rc;
	if (inf_tensor_numel(x) > INT_MAX || inf_tensor_numel(y) > INT_MAX)
		return ops_fail(err, errlen, VP_EUNSUP, "tensors over 2^31 elements do not run through cuDNN");
	p->n = x->dims[0];
	p->ci = x->dims[1];
	p->co = y->dims[1];
	p->out_plane = inf_tensor_numel(y) / (p->n * p->co);
	p->nsd = nsp < 2 ? 2 : nsp;
	int lead = p->nsd - nsp;   /* a 1-D transpose gets a leading axis of size 1 */
	int64_t grid[3];
	for (int i = 0; i < nsp; i++) {
		int64_t ek = (w.k[i] - 1) * w.d[i] + 1, v = w.out[i] + 2 * w.pb[i] - ek;
		direct = direct && v >= 0 && v / w.s[i] == w.in[i] - 1;
		grid[i] = w.s[i] * (w.in[i] - 1) + ek;
	}
	p->crop.nsp = nsp;
	for (int i = 0; i < p->nsd; i++) {
		int j = i - lead;
		pads[i] = j >= 0 && direct ? (int)w.pb[j] : 0;
		strides[i] = j >= 0 ? (int)w.s[j] : 1;
		dil[i] = j >= 0 ? (int)w.d[j] : 1;
		p->xsp[i] = j >= 0 ? (int)w.in[j] : 1;
		p->gsp[i] = j >= 0 ? (int)(direct ? w.out[j] : grid[j]) : 1;
		wd[2 + i] = j >= 0 ? (int)w.k[j] : 1;
		if (j >= 0) {
			p->crop.src[j] = grid[j];
			p->crop.dst[j] = w.out[j];
			p->crop.off[j] = w.pb[j];
		}
	}
	wd[0] = (int)wt->dims[0];
	wd[1] = (int)wt->dims[1];
	return direct;
}

static int convt_descs(cu_ctx *c, cu_node *cn, convt_priv *p, int force_crop, char *err, size_t errlen)
{
	int pads[3], strides[3], dil[3], wd[5];
	int direct = convt_geometry(cn, p, force_crop, pads, strides, dil, wd, err, errlen), rc;
	if (direct < 0)
		return direct;
	if (!direct) {
		int64_t bytes = p->n * p->co * (int64_t)cu_elem(c, cn->n->out[0]);
		for (int i = 0; i < p->nsd; i++)
			bytes *= p->gsp[i];
		if ((rc = CU_RT(cudaMalloc(&p->scratch, (size_t)bytes))) < 0)
			return rc;
	}
	cudnnDataType_t dt = cu_dnn_type(c);
	if ((rc = DNN(c->dl->cudnnCreateTensorDescriptor(&p->x), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateTensorDescriptor(&p->y), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateFilterDescriptor(&p->w), "descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnCreateConvolutionDescriptor(&p->conv), "descriptor")) < 0)
		return rc;
	if ((rc = convt_set_xy(c, p, (int)p->n)) < 0 ||
	    (rc = DNN(c->dl->cudnnSetFilterNdDescriptor(p->w, dt, CUDNN_TENSOR_NCHW, p->nsd + 2, wd),
	              "ConvTranspose filter descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnSetConvolutionNdDescriptor(p->conv, p->nsd, pads, strides, dil, CUDNN_CROSS_CORRELATION,
	                                                     CUDNN_DATA_FLOAT), "ConvTranspose convolution descriptor")) < 0 ||
	    (rc = DNN(c->dl->cudnnSetConvolutionGroupCount(p->conv, (int)inf_attr_int(cn->n, "group", 1)),
	              "ConvTranspose group count")) < 0 ||
	    (rc = DNN(c->dl->cudnnSetConvolutionMathType(p->conv, c->half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
	              "math type")) < 0)
		return rc;
	return 0;
}

static void *convt_grid(cu_node *cn, convt_priv *p)
{
	return p->scratch ? p->scratch : cn->dout[0];
}

/* Measured search on the real buffers; the best row cu_conv_pick allows wins (FP32: FMA
 * math only, as for Conv), and FP32 keeps the descriptor at FMA math. Not logged here: the
 * caller may retry with the cropped grid. */
static int convt_search(cu_ctx *c, cu_node *cn, convt_priv *p, char *err, size_t errlen)
{
	cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
	cu_algo_perf rows[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
	int got = 0, best = -1;
	cudnnStatus_t st = c->dl->cudnnFindConvolutionBackwardDataAlgorithmEx(
		c->dnn, p->w, cn->din[1], p->x, cn->din[0], p->conv, p->y, convt_grid(cn, p),
		CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf, c->search, c->search_bytes);
	if (st != CUDNN_STATUS_SUCCESS)
		return ops_fail(err, errlen, VP_EUNSUP, "cuDNN's algorithm search refuses this ConvTranspose: %s",
		                c->dl->cudnnGetErrorString(st));
	/* the descriptor was FMA while cuDNN measured FP32: a row labelled default math ran as FMA */
	for (int relabel = 0; relabel < 2 && best < 0; relabel++) {
		for (int i = 0; i < got; i++) {
			int math = (int)perf[i].mathType;
			rows[i] = (cu_algo_perf){ (int)perf[i].algo, (int)perf[i].status, perf[i].time, perf[i].memory,
			                          relabel && !c->half && math == CU_MATH_DEFAULT ? CU_MATH_FMA : math,
			                          perf[i].determinism == CUDNN_DETERMINISTIC };
		}
		if (cu_conv_pick(rows, got, c->half, c->search_bytes, &best, 1) < 1)
			best = -1;
	}
	if (best < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "no cuDNN algorithm runs this ConvTranspose");
	p->algo = perf[best].algo;
	p->ws = perf[best].memory;
	return DNN(c->dl->cudnnSetConvolutionMathType(p->conv, c->half ? perf[best].mathType : CUDNN_FMA_MATH),
	           "math type");
}

/* Descriptors and scratch destroyed, the record zeroed: ready for another geometry. */
static void convt_clear(cu_ctx *c, convt_priv *p)
{
	cu_conv_descs_destroy(c, p->x, p->y, p->w, p->conv);
	cudaFree(p->scratch);
	memset(p, 0, sizeof(*p));
}

static void convt_release(cu_ctx *c, cu_node *cn)
{
	if (cn->priv)
		convt_clear(c, cn->priv);
	cu_free_priv(c, cn);
}

static int convt_prepare(cu_ctx *c, cu_node *cn, char *err, size_t errlen)
{
	const inf_node *n = cn->n;
	if (cu_need_float(n, err, errlen) < 0 || n->in[1]->dtype != INF_DT_FLOAT)
		return ops_fail(err, errlen, VP_EUNSUP, "only float tensors run on the GPU");
	convt_priv *p = cu_new_priv(cn, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = convt_descs(c, cn, p, 0, err, errlen);
	if (rc == 0 && (rc = convt_search(c, cn, p, err, errlen)) == VP_EUNSUP && !p->scratch) {
		/* cuDNN refused the padded geometry; the unpadded grid maps back onto X by construction */
		convt_clear(c, p);
		if ((rc = convt_descs(c, cn, p, 1, err, errlen)) == 0)
			rc = convt_search(c, cn, p, err, errlen);
	}
	if (rc < 0)
		return rc;
	if (p->ws > c->search_bytes)
		return ops_fail(err, errlen, VP_EUNSUP, "the ConvTranspose needs %zu workspace bytes", p->ws);
	if (p->ws > c->work_bytes)
		c->work_bytes = p->ws;
	p->ws_full = p->ws;
	return 0;
}

/* A smaller batch gets its own descriptors when the chosen algorithm runs it within the
 * workspace; otherwise the node runs the whole planned batch. */
static int convt_run(cu_ctx *c, cu_node *cn, int batch)
{
	convt_priv *p = cn->priv;
	const inf_node *n = cn->n;
	const float one = 1.0f, zero = 0.0f;
	int want = cn->bscale ? batch : (int)p->n, rc;
	if (want != p->cur_batch) {
		size_t ws = 0;
		rc = convt_set_xy(c, p, want);
		if (rc == 0 &&
		    c->dl->cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, p->w, p->x, p->conv, p->y, p->algo, &ws) ==
		            CUDNN_STATUS_SUCCESS &&
		    ws <= c->work_bytes)
			p->ws = ws;
		else if ((rc = convt_set_xy(c, p, (int)p->n)) < 0)
			return rc;
		else
			p->ws = p->ws_full;
	}
	if ((rc = DNN(c->dl->cudnnConvolutionBackwardData(c->dnn, &one, p->w, cn->din[1], p->x, cn->din[0], p->conv,
	                                                  p->algo, c->work, p->ws, &zero, p->y, convt_grid(cn, p)),
	              "ConvTranspose")) < 0)
		return rc;
	int64_t planes = (int64_t)p->cur_batch * p->co;
	if (p->scratch) {
		cuk_crop cc = p->crop;
		cc.planes = planes;
		if ((rc = cuk_crop_run(p->scratch, cn->dout[0], cu_elem(c, n->out[0]), &cc, c->stream)) < 0)
			return rc;
	}
	const void *bias = ops_in(n, 2) ? cn->din[2] : NULL;
	if (!bias && n->act == INF_ACT_NONE)
		return 0;
	return cuk_bias_act(c->half, cn->dout[0], cn->dout[0], bias, p->co, p->out_plane, planes * p->out_plane, n->act,
	                    n->act_alpha, n->act_beta, c->stream);
}

const cu_op cu_ops_more[] = {
	{ "Cast", cast_prepare, cast_run, cu_free_priv },
	{ "CastLike", cast_prepare, cast_run, cu_free_priv },
	{ "ReduceMean", red_prepare, red_run, cu_free_priv },
	{ "ReduceMax", red_prepare, red_run, cu_free_priv },
	{ "ReduceMin", red_prepare, red_run, cu_free_priv },
	{ "ReduceSum", red_prepare, red_run, cu_free_priv },
	{ "BatchNormalization", bn_prepare, bn_run, bn_release },
	{ "ConvTranspose", convt_prepare, convt_run, convt_release },
	{ NULL, NULL, NULL, NULL },
};
#endif
