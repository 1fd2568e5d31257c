/* Internal to the CPU operator files: shape bookkeeping, attribute/constant-input
 * readers, broadcasting and the fused-activation epilogue shared by ops_*.c. */
#ifndef INF_OPS_COMMON_H
#define INF_OPS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "infer/graph/graph.h"
#include "pipeline/vp_err.h"

/* Writes the reason and returns code, for shape functions: return ops_fail(...). */
int ops_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Requires at least min_in inputs (present) and min_out outputs; writes the reason. */
int ops_arity(const inf_node *n, int min_in, int min_out, char *err, size_t errlen);

/* Defines a shape function whose body runs only once the node has the inputs and
 * outputs every operator row reads unconditionally (in[0], out[0]). */
#define OPS_SHAPE(name, min_in, min_out)                                                \
	static int name##_body(inf_node *n, char *err, size_t errlen);                  \
	static int name(inf_node *n, char *err, size_t errlen)                          \
	{                                                                               \
		int rc_ = ops_arity(n, min_in, min_out, err, errlen);                   \
		return rc_ < 0 ? rc_ : name##_body(n, err, errlen);                     \
	}                                                                               \
	static int name##_body(inf_node *n, char *err, size_t errlen)

/* Input k, or NULL when absent or omitted (an empty name). */
static inline inf_tensor *ops_in(const inf_node *n, int k)
{
	return k < n->n_in ? n->in[k] : NULL;
}

static inline inf_tensor *ops_out(const inf_node *n, int k)
{
	return k < n->n_out ? n->out[k] : NULL;
}

void ops_set_shape(inf_tensor *t, int dtype, int ndim, const int64_t *dims);
/* out[0] takes in[0]'s dtype and dims. */
void ops_same_shape(inf_node *n);

/* Maps a possibly negative axis into [0, ndim); -1 when out of range. */
int ops_axis(int64_t axis, int ndim);

/* Reads a constant integer tensor (int64 or int32) of at most max elements into buf;
 * returns the element count, or a negative code with the reason in err. */
int ops_const_ints(const inf_node *n, int k, int64_t *buf, int max, char *err, size_t errlen);
/* Reduce*: marks the reduced axes in red[] (axes from the attribute or the input, by
 * opset); returns 0, 1 for "no reduction" (noop_with_empty_axes), or < 0 with err. */
int ops_reduce_axes(const inf_node *n, int *red, char *err, size_t errlen);
/* Resize/Upsample: mode, coordinate transformation, nearest rounding, cubic_coeff_a,
 * exclude_outside and extrapolation_value into k (cuda_kernels.h); returns 1 for the legacy
 * forms (Upsample, Resize-10), 0, or VP_EUNSUP with err. */
struct cuk_resize;
int ops_resize_modes(const inf_node *n, struct cuk_resize *k, char *err, size_t errlen);
/* The same for a constant float tensor (float or double). */
int ops_const_floats(const inf_node *n, int k, float *buf, int max, char *err, size_t errlen);

/* Requires in[k] to be present and of dtype; writes the reason otherwise. */
int ops_need_dtype(const inf_node *n, int k, int dtype, char *err, size_t errlen);
int ops_need_float(const inf_node *n, int k, char *err, size_t errlen);

/* Numpy broadcasting of a and b into out (rank <= INF_MAX_DIMS); -1 when incompatible. */
int ops_bcast_shape(const inf_tensor *a, const inf_tensor *b, int *ret_ndim, int64_t *ret_dims);

/* Element strides of t aligned to an ndim-rank output, 0 along broadcast axes. */
void ops_bcast_strides(const inf_tensor *t, int ndim, const int64_t *out_dims, int64_t *ret);

/* Reads an element of a numeric tensor as double / int64 (for the slow generic paths). */
double ops_get_f64(const void *p, int dtype, int64_t i);
int64_t ops_get_i64(const void *p, int dtype, int64_t i);
void ops_put_f64(void *p, int dtype, int64_t i, double v);
void ops_put_i64(void *p, int dtype, int64_t i, int64_t v);
int ops_dtype_is_int(int dtype);
int ops_dtype_is_float(int dtype);
/* Dtypes the generic element accessors above handle. */
int ops_dtype_numeric(int dtype);

/* Hot loops are compiled for AVX-512 and AVX2 too and picked at load time (the build
 * targets baseline x86-64). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define OPS_NOTRAP __attribute__((optimize("no-trapping-math")))
#define OPS_VECTOR __attribute__((target_clones("avx512f", "avx2", "default"))) OPS_NOTRAP
#else
#define OPS_NOTRAP
#define OPS_VECTOR
#endif

/* expf without a library call, so loops over it vectorise: Cephes' range reduction and
 * polynomial (relative error about 2e-7 over the clamped range). */
OPS_NOTRAP static inline float ops_expf(float x)
{
	float t, n, r, p, scale;
	int32_t bits;

	x = x > 88.7f ? 88.7f : x;
	x = x < -87.3f ? -87.3f : x;
	t = x * 1.44269504088896341f;
	/* round to nearest by the 1.5 * 2^23 trick: no branch, no libm call */
	n = (t + 12582912.0f) - 12582912.0f;
	r = x - n * 0.693359375f + n * 2.12194440e-4f;
	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	bits = ((int32_t)n + 127) << 23;
	__builtin_memcpy(&scale, &bits, sizeof(scale));
	return p * scale;
}

OPS_NOTRAP static inline float ops_sigmoidf(float x)
{
	return 1.0f / (1.0f + ops_expf(-x));
}

/* Fused activation applied in place to x[0..count). */
void ops_act_apply(const inf_node *n, float *x, int64_t count);
/* Bias then activation over rows of `len` floats, `stride` apart (one per channel). */
void ops_bias_act_strided(const inf_node *n, float *y, const float *bias, int64_t rows, int64_t len,
                          int64_t stride);
/* Bias then activation over a [channels, plane] block. */
void ops_bias_act(const inf_node *n, float *y, const float *bias, int64_t channels, int64_t plane);

/* OpenBLAS threading: kernels that split a GEMM themselves (ops_sgemm_act) run
 * OpenBLAS single-threaded inside their OpenMP team; lone large GEMMs (MatMul, Gemm)
 * let OpenBLAS use the engine's threads. Two thread pools spinning at once on few
 * cores would starve each other. */
void ops_blas_threads(const inf_cpu_ctx *cx);
void ops_blas_single(void);

/* cblas_sgemm, row-major: C = alpha * op(A) op(B) + beta * C, allocation-free (see
 * ops_common.c for the OpenBLAS small-matrix case it works around). */
void ops_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

/* C[m, n] = A[m, k] x B[k, n] (row-major with leading dimensions), computed in column
 * blocks spread over nth threads; each block gets bias (per row, may be NULL) and the
 * node's fused activation while it is still in cache. */
void ops_sgemm_act(const inf_node *node, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                   float *c, int ldc, const float *bias, int nth);
/* OpenMP team size for a kernel: the context's threads, all cores when 0; 1 when the
 * context has a task pool of several threads: an OpenMP team spinning next to the
 * pool's workers would take their core, so the loops that matter use the pool. */
int ops_threads(const inf_cpu_ctx *cx);
/* Threads of the context's task pool (1 without one). */
int ops_pool_threads(const inf_cpu_ctx *cx);

/* fn(arg, lo, hi) over [0, count) split into ranges of at least min_len on the
 * context's task pool, several per thread (so a thread that runs alone takes over a
 * preempted one's share); one call on the caller when the pool or count is small. */
typedef void (*ops_range_fn)(void *arg, int64_t lo, int64_t hi);
void ops_par_range(const inf_cpu_ctx *cx, int64_t count, int64_t min_len, ops_range_fn fn, void *arg);

/* int64 sums and products that wrap like numpy's instead of overflowing into undefined
 * behaviour: a model's (or a fuzzer's) constants may be anything. */
static inline int64_t ops_wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t ops_wrap_mul(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a * (uint64_t)b);
}

/* Copies in[0] to out[0] unless they alias (Identity, Reshape, Flatten, ...). */
void ops_copy_through(inf_node *n);

#endif
