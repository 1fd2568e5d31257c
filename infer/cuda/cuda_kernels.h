/* Internal to the cuda backend: the CUDA kernels for the operators cuDNN and cuBLAS do
 * not cover, as plain C launchers (infer/cuda/cuda_kernels.cu). Float tensors are stored as
 * float, or as IEEE half when `half` is set; the math runs in float either way. Every
 * launcher enqueues on `stream` and returns 0 or a negative vapd code (launch failure). */
#ifndef INF_CUDA_KERNELS_H
#define INF_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "infer/engine.h"

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
/* y = a op b with broadcasting (sa/sb) into y's strides sy (all zero: y contiguous). */
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

/* 2-D pooling of [n, c, ih, iw] -> [n, c, oh, ow]; xs / ys are the element strides of
 * the n, c, h, w axes as stored (NCHW or NHWC), and the output is walked in its storage
 * order (c fastest for NHWC) so that writes stay coalesced. */
typedef struct cuk_pool {
	int64_t n, c, ih, iw, oh, ow;
	int64_t xs[4], ys[4];
	int kh, kw, sh, sw, dh, dw, ph, pw;   /* pads at the start */
	int peh, pew;                         /* pads at the end */
	int is_max, count_include_pad;
} cuk_pool;
int cuk_pool2d(int half, const void *x, void *y, const cuk_pool *p, cuk_stream s);

/* Resize modes, coordinate transformations and nearest roundings, in the CPU's order
 * (infer/cpu/ops_resize.c). */
enum cuk_rs_mode { CUK_RS_NEAREST, CUK_RS_LINEAR, CUK_RS_CUBIC };
enum cuk_rs_ct { CUK_CT_HALF_PIXEL, CUK_CT_PYTORCH_HALF_PIXEL, CUK_CT_ALIGN_CORNERS, CUK_CT_ASYMMETRIC,
                 CUK_CT_TF_HALF_PIXEL_NN, CUK_CT_TF_CROP_AND_RESIZE };
enum cuk_rs_nr { CUK_NR_PREFER_FLOOR, CUK_NR_PREFER_CEIL, CUK_NR_FLOOR, CUK_NR_CEIL };

/* One resized axis: scale is output/input, olen the unfloored resized length (in * scale,
 * or the size given), roi the crop window of tf_crop_and_resize. */
typedef struct cuk_rs_axis {
	int64_t in, out;
	float scale;
	double olen;
	float roi_start, roi_end;
} cuk_rs_axis;

/* Resize of the h and w axes of [n, c, h, w] (strides xs / ys as for pooling). */
typedef struct cuk_resize {
	int64_t n, c;
	cuk_rs_axis h, w;
	int64_t xs[4], ys[4];
	int mode, ct, nr, exclude_outside;
	float cubic_a, extrapolation;
} cuk_resize;
int cuk_resize2d(int half, const void *x, void *y, const cuk_resize *p, cuk_stream s);

/* Pad with mode 0 constant, 1 reflect, 2 edge (negative pads crop): output element o on
 * axis a reads input element o - pb[a] mapped into [0, len[a]); dims are the output's,
 * in the order it is walked (last fastest); sx / sy the strides of each axis. */
enum cuk_pad_mode { CUK_PAD_CONSTANT, CUK_PAD_REFLECT, CUK_PAD_EDGE };
typedef struct cuk_pad {
	int nd, mode;
	float value;
	int64_t dims[INF_MAX_DIMS], len[INF_MAX_DIMS], pb[INF_MAX_DIMS];
	int64_t sx[INF_MAX_DIMS], sy[INF_MAX_DIMS];
} cuk_pad;
int cuk_pad_nd(int half, const void *x, void *y, const cuk_pad *p, cuk_stream s);

/* y[sy.i + base_y] = x[sa.i + base_a] with a float/half conversion (x_half, y_half):
 * the boundary conversion of a graph input stored NHWC. */
int cuk_cast_nd(int x_half, int y_half, const void *x, void *y, const cuk_geom *g, cuk_stream s);

/* CPU references of the kernels above, same arguments (cuda_kernels_ref.c, no CUDA). */
void cuk_pool2d_ref(int half, const void *x, void *y, const cuk_pool *p);
void cuk_resize2d_ref(int half, const void *x, void *y, const cuk_resize *p);
void cuk_pad_nd_ref(int half, const void *x, void *y, const cuk_pad *p);

#ifdef __cplusplus
}
#endif

#endif
