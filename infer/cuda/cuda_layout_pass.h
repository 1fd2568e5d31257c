/* Internal to the cuda backend, free of CUDA calls: which activations are stored NHWC.
 * A 4-D float activation is NHWC when its producer (or the boundary conversion, for a
 * graph input) and every consumer take any layout; graph outputs stay NCHW. Operators
 * whose output must share its input's layout (unary math, flat copies) demote both to
 * NCHW when they disagree, until nothing changes. */
#ifndef INF_CUDA_LAYOUT_PASS_H
#define INF_CUDA_LAYOUT_PASS_H

#include <stdint.h>

#include "cuda_kernels.h"
#include "infer/graph/graph.h"

enum cu_layout_class {
	CU_LAYOUT_NCHW,   /* reads and writes contiguous NCHW only */
	CU_LAYOUT_ANY,    /* every operand in its own layout (strided kernels) */
	CU_LAYOUT_SAME,   /* in[0] and out[0] in the same layout (flat kernels) */
};

/* The class of an operator type on the cuda backend; CU_LAYOUT_NCHW for unknown types. */
enum cu_layout_class cu_layout_class(const char *op_type);

/* Fills nhwc[i] (parallel to g->tensors) with 1 for the activations stored NHWC, all 0
 * when !enable; returns how many are NHWC or -ENOMEM. */
int cu_layout_assign(const inf_graph *g, int enable, uint8_t *nhwc);

/* Element stride of each LOGICAL axis of t as stored: contiguous, or for a 4-D NHWC
 * tensor (N, C, H, W) -> (HWC, 1, WC, C). */
void cu_layout_strides(const inf_tensor *t, int nhwc, int64_t *s);

/* Strides of t broadcast against an output of rank nd and dims out: axes t lacks or
 * stretches from 1 get stride 0 (numpy rules, t right-aligned). */
void cu_layout_bcast_strides(const inf_tensor *t, int nhwc, int nd, const int64_t *out, int64_t *s);

/* Reorders g's axes so that the output (sy) is walked in storage order, largest stride
 * first (stable: a batch axis 0 stays first), which keeps the kernels' writes coalesced. */
void cu_geom_output_order(cuk_geom *g);

#endif
