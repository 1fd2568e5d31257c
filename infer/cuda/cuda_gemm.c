/* The cuda backend's cuBLAS operators: MatMul and Gemm through cublasGemmEx /
 * cublasGemmStridedBatchedEx with float accumulation (pedantic math in FP32, set on the
 * handle by infer/cuda/backend_cuda.c), Gemm's C broadcast into Y first, a fused activation as
 * the epilogue kernel. */
#ifdef VP_HAVE_CUDA
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "cuda_check.h"
#include "cuda_kernels.h"
#include "cuda_ops.h"
#include "infer/cpu/ops_common.h"

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

const cu_op cu_ops_gemm[] = {
	{ "MatMul", gemm_prepare, gemm_run, gemm_release },
	{ "Gemm", gemm_prepare, gemm_run, gemm_release },
	{ NULL, NULL, NULL, NULL },
};
#endif
