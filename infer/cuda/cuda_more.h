/* Internal to the cuda backend: kernels of the operators added after the first set
 * (infer/cuda/cuda_more.cu): Cast, the Reduce family, inference BatchNormalization and the
 * crop/zero-fill that ConvTranspose needs around cuDNN. Plain C launchers; each enqueues
 * on `stream` and returns 0 or a negative vapd code. Float tensors are stored as float,
 * or as IEEE half when `half` is set; the math runs in float. */
#ifndef INF_CUDA_MORE_H
#define INF_CUDA_MORE_H

#include <stddef.h>
#include <stdint.h>

#include "infer/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *cuk_more_stream;

/* 1 when cuk_cast handles the storage dtype (ONNX code: float, double, float16,
 * bfloat16, bool and the 8- to 64-bit integers). */
int cuk_cast_dtype_ok(int dtype);
/* y[i] = x[i] converted from storage dtype xt to yt, with the CPU's rules (integers to
 * integers exact through int64, everything else through double; bool is v != 0). */
int cuk_cast(const void *x, int xt, void *y, int yt, int64_t count, cuk_more_stream s);

enum cuk_red_kind { CUK_RED_MEAN, CUK_RED_MAX, CUK_RED_MIN, CUK_RED_SUM };

/* One output per index of the kept axes (row-major, contiguous output), reducing over
 * the reduced axes; both given as dims with the input's element strides. */
typedef struct cuk_reduce {
	int kind;                          /* enum cuk_red_kind */
	int nk, nr;                        /* kept / reduced axes (0 allowed) */
	int64_t kdims[INF_MAX_DIMS], kstr[INF_MAX_DIMS];
	int64_t rdims[INF_MAX_DIMS], rstr[INF_MAX_DIMS];
	int64_t outs, rcount;              /* products of kdims / rdims */
	int inner_reduced;                 /* the input's innermost axis is reduced */
} cuk_reduce;
int cuk_reduce_run(int half, const void *x, void *y, const cuk_reduce *r, cuk_more_stream s);

/* y[i] = x[i] * a[c] + b[c], c = (i / plane) % channels; a and b are float. */
int cuk_scale_shift(int half, const void *x, void *y, const float *a, const float *b, int64_t channels,
                    int64_t plane, int64_t count, cuk_more_stream s);

/* A window of each plane of [planes, src...] copied into [planes, dst...] over nsp (1..3)
 * spatial axes: y[p, o] = x[p, o + off] where inside src, else 0. Elements of elem bytes. */
typedef struct cuk_crop {
	int nsp;
	int64_t planes;
	int64_t src[3], dst[3], off[3];
} cuk_crop;
int cuk_crop_run(const void *x, void *y, size_t elem, const cuk_crop *c, cuk_more_stream s);

/* CPU references of the launchers above, same arguments without the stream, on host
 * memory (infer/cuda/cuda_more_ref.c, built with or without CUDA): the GPU tests compare each
 * kernel with them on random inputs. */
int cuk_cast_ref(const void *x, int xt, void *y, int yt, int64_t count);
int cuk_reduce_ref(int half, const void *x, void *y, const cuk_reduce *r);
int cuk_scale_shift_ref(int half, const void *x, void *y, const float *a, const float *b, int64_t channels,
                        int64_t plane, int64_t count);
int cuk_crop_ref(const void *x, void *y, size_t elem, const cuk_crop *c);

#ifdef __cplusplus
}
#endif

#endif
