// CUDA kernels of the cuda backend's own operators (see cuda_kernels.h). Each kernel is a
// grid-stride loop over output elements, templated on the storage type (float or half);
// arithmetic is in float, like the CPU kernels, so FP32 results match them closely.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include "pipeline/vp_err.h"
#include "infer/graph/graph.h"
#include "cuda_kernels.h"
#include "cuda_kernels_math.h"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }

int blocks_for(int64_t n)
{
	int64_t b = (n + kThreads - 1) / kThreads;
	return (int)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

int launched(void)
{
	return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
}

int64_t numel(const cuk_geom &g)
{
	int64_t n = 1;
	for (int i = 0; i < g.nd; i++)
		n *= g.dims[i];
	return n;
}

// Offsets of a linear output index along the operands' strides.
__device__ __forceinline__ void offsets(const cuk_geom &g, int64_t i, int64_t *oa, int64_t *ob, int64_t *oy)
{
	int64_t a = g.base_a, b = g.base_b, y = g.base_y;
	for (int d = g.nd - 1; d >= 0; d--) {
		int64_t k = i % g.dims[d];
		i /= g.dims[d];
		a += k * g.sa[d];
		b += k * g.sb[d];
		y += k * g.sy[d];
	}
	*oa = a;
	*ob = b;
	*oy = y;
}

template <typename E>
__global__ void copy_nd(const E *x, E *y, cuk_geom g, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t oa, ob, oy;
		offsets(g, i, &oa, &ob, &oy);
		y[oy] = x[oa];
	}
}

__device__ __forceinline__ float binop(int op, float a, float b)
{
	switch (op) {
	case CUK_ADD: return a + b;
	case CUK_SUB: return a - b;
	case CUK_MUL: return a * b;
	case CUK_DIV: return a / b;
	default: return powf(a, b);
	}
}

template <typename T>
__global__ void binary_bcast(int op, const T *a, const T *b, T *y, cuk_geom g, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t oa, ob, oy;
		offsets(g, i, &oa, &ob, &oy);
		st(y, oy, binop(op, ld(a, oa), ld(b, ob)));
	}
}

// Same-shape operands need no index arithmetic.
template <typename T>
__global__ void binary_flat(int op, const T *a, const T *b, T *y, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		st(y, i, binop(op, ld(a, i), ld(b, i)));
}

__device__ __forceinline__ float sigm(float v) { return 1.0f / (1.0f + __expf(-v)); }

__device__ __forceinline__ float act(int kind, float v, float a, float b)
{
	switch (kind) {
	case INF_ACT_RELU: return v > 0.0f ? v : 0.0f;
	case INF_ACT_LEAKY_RELU: return v >= 0.0f ? v : v * a;
	case INF_ACT_SIGMOID: return sigm(v);
	case INF_ACT_SILU: return v * sigm(v);
	case INF_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, a * v + b));
	case INF_ACT_HARD_SWISH: return v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f));
	case INF_ACT_CLIP: return fminf(fmaxf(v, a), b);
	case CUK_U_TANH: return tanhf(v);
	case CUK_U_EXP: return expf(v);
	case CUK_U_LOG: return logf(v);
	case CUK_U_NEG: return -v;
	case CUK_U_ABS: return fabsf(v);
	case CUK_U_SQRT: return sqrtf(v);
	case CUK_U_ELU: return v >= 0.0f ? v : a * (expf(v) - 1.0f);
	case CUK_U_SOFTPLUS: return log1pf(expf(v));
	case CUK_U_RECIPROCAL: return 1.0f / v;
	case CUK_U_FLOOR: return floorf(v);
	case CUK_U_CEIL: return ceilf(v);
	default: return v;
	}
}

template <typename T>
__global__ void bias_act(const T *x, T *y, const T *bias, int64_t channels, int64_t plane, int64_t n, int kind,
                         float a, float b)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		float v = ld(x, i);
		if (bias)
			v += ld(bias, (i / plane) % channels);
		st(y, i, act(kind, v, a, b));
	}
}

template <typename T>
__global__ void fill(T *y, float v, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		st(y, i, v);
}

__global__ void f32_to_f16(const float *x, __half *y, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		y[i] = __float2half_rn(x[i]);
}

__global__ void f16_to_f32(const __half *x, float *y, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		y[i] = __half2float(x[i]);
}

// One thread per row: the reduced axes of detection models are short (DFL bins, classes).
template <typename T>
__global__ void softmax_rows(int is_log, const T *x, T *y, int64_t outer, int64_t len, int64_t inner)
{
	int64_t rows = outer * inner;
	for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x) {
		int64_t base = (r / inner) * len * inner + r % inner;
		float mx = -INFINITY, sum = 0.0f;
		for (int64_t i = 0; i < len; i++)
			mx = fmaxf(mx, ld(x, base + i * inner));
		for (int64_t i = 0; i < len; i++)
			sum += expf(ld(x, base + i * inner) - mx);
		for (int64_t i = 0; i < len; i++) {
			float v = ld(x, base + i * inner) - mx;
			st(y, base + i * inner, is_log ? v - logf(sum) : expf(v) / sum);
		}
	}
}

// The strided kernels: one output element per iteration, math in cuda_kernels_math.h.
__global__ void pool2d(int half, const void *x, void *y, const __grid_constant__ cuk_pool p, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		cuk_pool_at(&p, half, x, y, i);
}

__global__ void resize2d(int half, const void *x, void *y, const __grid_constant__ cuk_resize p, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		cuk_resize_at(&p, half, x, y, i);
}

__global__ void pad_nd(int half, const void *x, void *y, const __grid_constant__ cuk_pad p, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
		cuk_pad_at(&p, half, x, y, i);
}

template <typename X, typename Y>
__global__ void cast_nd(const X *x, Y *y, cuk_geom g, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t oa, ob, oy;
		offsets(g, i, &oa, &ob, &oy);
		st(y, oy, ld(x, oa));
	}
}

} // namespace

extern "C" int cuk_copy_nd(const void *x, void *y, size_t elem, const cuk_geom *g, cuk_stream s)
{
	int64_t n = numel(*g);
	if (n == 0)
		return 0;
	switch (elem) {
	case 1: copy_nd<<<blocks_for(n), kThreads, 0, s>>>((const uint8_t *)x, (uint8_t *)y, *g, n); break;
	case 2: copy_nd<<<blocks_for(n), kThreads, 0, s>>>((const uint16_t *)x, (uint16_t *)y, *g, n); break;
	case 4: copy_nd<<<blocks_for(n), kThreads, 0, s>>>((const uint32_t *)x, (uint32_t *)y, *g, n); break;
	case 8: copy_nd<<<blocks_for(n), kThreads, 0, s>>>((const uint64_t *)x, (uint64_t *)y, *g, n); break;
	default: return VP_EUNSUP;
	}
	return launched();
}

static bool same_contiguous(const cuk_geom *g)
{
	int64_t stride = 1;
	for (int d = g->nd - 1; d >= 0; d--) {
		if (g->dims[d] != 1 && (g->sa[d] != stride || g->sb[d] != stride || g->sy[d] != stride))
			return false;
		stride *= g->dims[d];
	}
	return g->base_a == 0 && g->base_b == 0 && g->base_y == 0;
}

extern "C" int cuk_binary(int op, int half, const void *a, const void *b, void *y, const cuk_geom *gin, cuk_stream s)
{
	int64_t n = numel(*gin);
	if (n == 0)
		return 0;
	cuk_geom gc = *gin;
	const cuk_geom *g = &gc;
	bool y_unset = true;
	for (int d = 0; d < gc.nd; d++)
		y_unset = y_unset && gc.sy[d] == 0;
	// an output written through all-zero strides would be one element: no sy means contiguous
	for (int64_t d = gc.nd - 1, stride = 1; y_unset && d >= 0; d--) {
		gc.sy[d] = stride;
		stride *= gc.dims[d];
	}
	bool flat = same_contiguous(g);
	if (half) {
		if (flat)
			binary_flat<<<blocks_for(n), kThreads, 0, s>>>(op, (const __half *)a, (const __half *)b, (__half *)y, n);
		else
			binary_bcast<<<blocks_for(n), kThreads, 0, s>>>(op, (const __half *)a, (const __half *)b, (__half *)y, *g, n);
	} else {
		if (flat)
			binary_flat<<<blocks_for(n), kThreads, 0, s>>>(op, (const float *)a, (const float *)b, (float *)y, n);
		else
			binary_bcast<<<blocks_for(n), kThreads, 0, s>>>(op, (const float *)a, (const float *)b, (float *)y, *g, n);
	}
	return launched();
}

extern "C" int cuk_bias_act(int half, const void *x, void *y, const void *bias, int64_t channels, int64_t plane,
                            int64_t count, int kind, float alpha, float beta, cuk_stream s)
{
	if (count == 0)
		return 0;
	if (channels < 1)
		channels = 1;
	if (plane < 1)
		plane = 1;
	if (half)
		bias_act<<<blocks_for(count), kThreads, 0, s>>>((const __half *)x, (__half *)y, (const __half *)bias, channels,
		                                                  plane, count, kind, alpha, beta);
	else
		bias_act<<<blocks_for(count), kThreads, 0, s>>>((const float *)x, (float *)y, (const float *)bias, channels,
		                                                  plane, count, kind, alpha, beta);
	return launched();
}

extern "C" int cuk_fill(int half, void *y, float value, int64_t count, cuk_stream s)
{
	if (count == 0)
		return 0;
	if (half)
		fill<<<blocks_for(count), kThreads, 0, s>>>((__half *)y, value, count);
	else
		fill<<<blocks_for(count), kThreads, 0, s>>>((float *)y, value, count);
	return launched();
}

extern "C" int cuk_f32_to_f16(const float *x, void *y, int64_t count, cuk_stream s)
{
	if (count == 0)
		return 0;
	f32_to_f16<<<blocks_for(count), kThreads, 0, s>>>(x, (__half *)y, count);
	return launched();
}

extern "C" int cuk_f16_to_f32(const void *x, float *y, int64_t count, cuk_stream s)
{
	if (count == 0)
		return 0;
	f16_to_f32<<<blocks_for(count), kThreads, 0, s>>>((const __half *)x, y, count);
	return launched();
}

extern "C" int cuk_softmax(int half, int is_log, const void *x, void *y, int64_t outer, int64_t len, int64_t inner,
                           cuk_stream s)
{
	int64_t rows = outer * inner;
	if (rows == 0 || len == 0)
		return 0;
	if (half)
		softmax_rows<<<blocks_for(rows), kThreads, 0, s>>>(is_log, (const __half *)x, (__half *)y, outer, len, inner);
	else
		softmax_rows<<<blocks_for(rows), kThreads, 0, s>>>(is_log, (const float *)x, (float *)y, outer, len, inner);
	return launched();
}

extern "C" int cuk_pool2d(int half, const void *x, void *y, const cuk_pool *p, cuk_stream s)
{
	int64_t n = p->n * p->c * p->oh * p->ow;
	if (n == 0)
		return 0;
	pool2d<<<blocks_for(n), kThreads, 0, s>>>(half, x, y, *p, n);
	return launched();
}

extern "C" int cuk_resize2d(int half, const void *x, void *y, const cuk_resize *p, cuk_stream s)
{
	int64_t n = p->n * p->c * p->h.out * p->w.out;
	if (n == 0)
		return 0;
	resize2d<<<blocks_for(n), kThreads, 0, s>>>(half, x, y, *p, n);
	return launched();
}

extern "C" int cuk_pad_nd(int half, const void *x, void *y, const cuk_pad *p, cuk_stream s)
{
	int64_t n = 1;
	for (int a = 0; a < p->nd; a++)
		n *= p->dims[a];
	if (n == 0)
		return 0;
	pad_nd<<<blocks_for(n), kThreads, 0, s>>>(half, x, y, *p, n);
	return launched();
}

extern "C" int cuk_cast_nd(int x_half, int y_half, const void *x, void *y, const cuk_geom *g, cuk_stream s)
{
	int64_t n = numel(*g);
	if (n == 0)
		return 0;
	if (x_half && y_half)
		cast_nd<<<blocks_for(n), kThreads, 0, s>>>((const __half *)x, (__half *)y, *g, n);
	else if (x_half)
		cast_nd<<<blocks_for(n), kThreads, 0, s>>>((const __half *)x, (float *)y, *g, n);
	else if (y_half)
		cast_nd<<<blocks_for(n), kThreads, 0, s>>>((const float *)x, (__half *)y, *g, n);
	else
		cast_nd<<<blocks_for(n), kThreads, 0, s>>>((const float *)x, (float *)y, *g, n);
	return launched();
}
