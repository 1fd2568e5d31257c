/* Internal to the cuda backend: the CUDA kernels for the operators cuDNN and cuBLAS do
 * not cover, as plain C launchers (infer/cuda_kernels.cu). Float tensors are stored as
 * float, or as IEEE half when `half` is set; the math runs in float either way. Every
 * launcher enqueues on `stream` and returns 0 or a negative vapd code (launch failure). */
#ifndef INF_CUDA_KERNELS_H
#define INF_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *cuk_stream;

/* An n-d index space: dims, and for each operand an element stride per axis (0 for
 * broadcast axes) plus a base offset. */
typedef struct cuk_geom {
	int nd;
	int64_t dims[INF_MAX_DIMS];
	int64_t sa[INF_MAX_DIMS], sb[INF_MAX_DIMS], sy[INF_MAX_DIMS];
	int64_t base_a, base_b, base_y;
} cuk_geom;

enum cuk_binop { CUK_ADD, CUK_SUB, CUK_MUL, CUK_DIV, CUK_POW };

/* Unary functions beyond the fusable activations (enum inf_act), for cuk_bias_act's act. */
enum cuk_unary { CUK_U_TANH = 64, CUK_U_EXP, CUK_U_LOG, CUK_U_NEG, CUK_U_ABS, CUK_U_SQRT, CUK_U_ELU,
                 CUK_U_SOFTPLUS, CUK_U_RECIPROCAL, CUK_U_FLOOR, CUK_U_CEIL };

/* y[sy.i + base_y] = x[sa.i + base_a] over g's index space, elements of elem bytes (1, 2, 4, 8):
 * Transpose, Slice, Concat, Split, Expand and broadcast copies. */
int cuk_copy_nd(const void *x, void *y, size_t elem, const cuk_geom *g, cuk_stream s);
/* y = a op b with broadcasting (sa/sb); y contiguous over g->dims. */
int cuk_binary(int op, int half, const void *a, const void *b, void *y, const cuk_geom *g, cuk_stream s);
/* y[i] = act(x[i] + bias[(i / plane) % channels]) for i < count; bias may be NULL, x may be y.
 * act is enum inf_act with alpha/beta as in inf_node. */
int cuk_bias_act(int half, const void *x, void *y, const void *bias, int64_t channels, int64_t plane,
                 int64_t count, int act, float alpha, float beta, cuk_stream s);
/* y[i] = value for i < count (float storage, half when `half`). */
int cuk_fill(int half, void *y, float value, int64_t count, cuk_stream s);
int cuk_f32_to_f16(const float *x, void *y, int64_t count, cuk_stream s);
int cuk_f16_to_f32(const void *x, float *y, int64_t count, cuk_stream s);

/* Softmax (or log-softmax) along len, rows are outer x inner with the reduced axis strided by inner. */
int cuk_softmax(int half, int is_log, const void *x, void *y, int64_t outer, int64_t len, int64_t inner,
                cuk_stream s);

/* 2-D pooling over [planes, ih, iw] -> [planes, oh, ow]. */
typedef struct cuk_pool {
	int64_t planes, ih, iw, oh, ow;
	int kh, kw, sh, sw, dh, dw, ph, pw;   /* pads at the start */
	int peh, pew;                         /* pads at the end */
	int is_max, count_include_pad;
} cuk_pool;
int cuk_pool2d(int half, const void *x, void *y, const cuk_pool *p, cuk_stream s);

/* Resize of the two innermost axes of [planes, ih, iw]. mode 0 nearest / 1 linear;
 * ct 0 half_pixel, 1 pytorch_half_pixel, 2 align_corners, 3 asymmetric; nr 0
 * round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil. scale_* is the output/input
 * ratio of each axis and olen_* the unfloored resized length (in * scale). */
typedef struct cuk_resize {
	int64_t planes, ih, iw, oh, ow;
	int mode, ct, nr;
	float scale_h, scale_w;
	double olen_h, olen_w;
} cuk_resize;
int cuk_resize2d(int half, const void *x, void *y, const cuk_resize *p, cuk_stream s);

#ifdef __cplusplus
}
#endif

#endif
