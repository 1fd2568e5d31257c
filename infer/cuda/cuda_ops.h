/* Internal to the cuda backend: the execution context shared by its operator files and
 * the per-node records. Every node of the graph gets a cu_node bound to device pointers
 * at load; its op row prepares it once and enqueues its work on the context's stream. */
#ifndef INF_CUDA_OPS_H
#define INF_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_dl.h"
#include "cuda_kernels.h"
#include "infer/graph/graph.h"

typedef struct cu_ctx {
	const cuda_dl *dl;
	cudaStream_t stream;
	cudnnHandle_t dnn;
	cublasHandle_t blas;
	int half;                 /* float activations and weights stored as IEEE half */
	const inf_graph *g;
	const uint8_t *nhwc;      /* parallel to g->tensors: stored NHWC (cuda_layout_pass.h) */
	int max_batch;
	int batch_major;          /* batch-rewritten model: a leading dim of max_batch is the batch */
	void *work;               /* workspace shared by all nodes (cuDNN algorithms) */
	size_t work_bytes;        /* grown by prepare, allocated after all nodes are prepared */
	void *search;             /* scratch for the algorithm search at load */
	size_t search_bytes;
	void *scratch;            /* one activation's worth for nodes that convert layouts (cu_scratch) */
	size_t scratch_bytes;
} cu_ctx;

typedef struct cu_node {
	inf_node *n;
	const struct cu_op *op;
	void **din, **dout;       /* device pointers of in[] / out[] (NULL for omitted inputs) */
	int bscale;               /* the leading dim of every non-constant operand is the batch */
	void *priv;
} cu_node;

typedef struct cu_op {
	const char *op_type;
	/* Checks that the node runs on the GPU and builds priv; the reason goes to err. */
	int (*prepare)(cu_ctx *c, cu_node *cn, char *err, size_t errlen);
	/* Enqueues the node for the first `batch` items (the whole tensors unless cn->bscale). */
	int (*run)(cu_ctx *c, cu_node *cn, int batch);
	void (*release)(cu_ctx *c, cu_node *cn);
} cu_op;

/* The cuda rows of the operator table (cuda_ops.c, cuda_conv.c, cuda_gemm.c); NULL when the op has no GPU kernel. */
const cu_op *cu_op_find(const char *op_type);
extern const cu_op cu_ops_dnn[];    /* Conv (cuda_conv.c), ended by a NULL row */
extern const cu_op cu_ops_gemm[];   /* MatMul, Gemm (cuda_gemm.c) */
extern const cu_op cu_ops_layout[]; /* reshapes and strided copies (cuda_layout.c) */
extern const cu_op cu_ops_more[];   /* Cast, Reduce*, BatchNormalization, ConvTranspose (cuda_more.c) */

/* Shared by the operator files: contiguous element strides of t; VP_EUNSUP unless in[0]
 * and out[0] are float; priv allocated (zeroed) / freed. */
void cu_contiguous(const inf_tensor *t, int64_t *s);
/* Whether t is stored NHWC; the element stride of each logical axis of t as stored
 * (NCHW -> (CHW, HW, W, 1), NHWC -> (HWC, 1, WC, C)); the same with numpy broadcasting
 * against an output of rank nd and dims out (stride 0 on broadcast axes). */
int cu_is_nhwc(const cu_ctx *c, const inf_tensor *t);
void cu_strides(const cu_ctx *c, const inf_tensor *t, int64_t *s);
void cu_bcast_strides(const cu_ctx *c, const inf_tensor *t, int nd, const int64_t *out, int64_t *s);
int cu_need_float(const inf_node *n, char *err, size_t errlen);
void *cu_new_priv(cu_node *cn, size_t size);
void cu_free_priv(cu_ctx *c, cu_node *cn);
/* Destroys the descriptors of a convolution (forward or transposed); NULL ones are skipped. */
void cu_conv_descs_destroy(const cu_ctx *c, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t y,
                           cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv);

/* Grows c->scratch to at least bytes (at load; nodes read c->scratch when they run). */
int cu_scratch(cu_ctx *c, size_t bytes);
/* Bytes per stored element of t: 2 for float tensors in half mode, the dtype size otherwise. */
size_t cu_elem(const cu_ctx *c, const inf_tensor *t);
/* Elements of t for a run of `batch` items: scaled by batch / max_batch when cn->bscale. */
int64_t cu_numel(const cu_ctx *c, const cu_node *cn, const inf_tensor *t, int batch);
/* cudnn data type of the stored floats. */
cudnnDataType_t cu_dnn_type(const cu_ctx *c);

#endif
