// CUDA kernels of the cuda backend's own operators (see cuda_kernels.h). Each kernel is a
// grid-stride loop over output elements, templated on the storage type (float or half);
// arithmetic is in float, like the CPU kernels, so FP32 results match them closely.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include "pipeline/vp_err.h"
#include "graph.h"
#include "cuda_kernels.h"

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
		st(y, i, binop(op, ld(a, oa), ld(b, ob)));
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

template <typename T>
__global__ void pool2d(const T *x, T *y, cuk_pool p)
{
	int64_t n = p.planes * p.oh * p.ow;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t ox = i % p.ow, oy = (i / p.ow) % p.oh, pl = i / (p.ow * p.oh);
		const T *src = x + pl * p.ih * p.iw;
		float acc = p.is_max ? -INFINITY : 0.0f;
		int cnt = 0, cnt_pad = 0;
		for (int ky = 0; ky < p.kh; ky++) {
			int64_t iy = oy * p.sh - p.ph + (int64_t)ky * p.dh;
			for (int kx = 0; kx < p.kw; kx++) {
				int64_t ix = ox * p.sw - p.pw + (int64_t)kx * p.dw;
				// ceil_mode windows reaching beyond the end pads count only the pads
				if (iy >= -p.ph && iy < p.ih + p.peh && ix >= -p.pw && ix < p.iw + p.pew)
					cnt_pad++;
				if (iy < 0 || iy >= p.ih || ix < 0 || ix >= p.iw)
					continue;
				float v = ld(src, iy * p.iw + ix);
				acc = p.is_max ? fmaxf(acc, v) : acc + v;
				cnt++;
			}
		}
		if (!p.is_max)
			acc = acc / (float)(p.count_include_pad ? cnt_pad : (cnt ? cnt : 1));
		st(y, i, acc);
	}
}

__device__ double rs_coord(int ct, double o, double scale, double in, double olen)
{
	switch (ct) {
	case 0: return (o + 0.5) / scale - 0.5;
	case 1: return olen > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
	case 2: return olen == 1 ? 0.0 : o * (in - 1) / (olen - 1);
	default: return o / scale;
	}
}

__device__ int64_t rs_nearest(int nr, double x, int64_t in)
{
	double f = floor(x);
	int64_t i;
	switch (nr) {
	case 0: i = (int64_t)(x - f == 0.5 ? f : round(x)); break;
	case 1: i = (int64_t)(x - f == 0.5 ? f + 1 : round(x)); break;
	case 2: i = (int64_t)f; break;
	default: i = (int64_t)ceil(x); break;
	}
	return i < 0 ? 0 : i >= in ? in - 1 : i;
}

__device__ void rs_taps(const cuk_resize &p, double x, int64_t in, int64_t *i0, int64_t *i1, float *w1)
{
	int64_t f = (int64_t)floor(x);
	*w1 = (float)(x - (double)f);
	*i0 = f < 0 ? 0 : f >= in ? in - 1 : f;
	*i1 = f + 1 < 0 ? 0 : f + 1 >= in ? in - 1 : f + 1;
}

template <typename T>
__global__ void resize2d(const T *x, T *y, cuk_resize p)
{
	int64_t n = p.planes * p.oh * p.ow;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t ox = i % p.ow, oy = (i / p.ow) % p.oh, pl = i / (p.ow * p.oh);
		const T *src = x + pl * p.ih * p.iw;
		double cy = rs_coord(p.ct, (double)oy, p.scale_h, (double)p.ih, p.olen_h);
		double cx = rs_coord(p.ct, (double)ox, p.scale_w, (double)p.iw, p.olen_w);
		if (p.mode == 0) {
			st(y, i, ld(src, rs_nearest(p.nr, cy, p.ih) * p.iw + rs_nearest(p.nr, cx, p.iw)));
			continue;
		}
		int64_t y0, y1, x0, x1;
		float wy, wx;
		rs_taps(p, cy, p.ih, &y0, &y1, &wy);
		rs_taps(p, cx, p.iw, &x0, &x1, &wx);
		float top = ld(src, y0 * p.iw + x0) * (1 - wx) + ld(src, y0 * p.iw + x1) * wx;
		float bot = ld(src, y1 * p.iw + x0) * (1 - wx) + ld(src, y1 * p.iw + x1) * wx;
		st(y, i, top * (1 - wy) + bot * wy);
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
		if (g->dims[d] != 1 && (g->sa[d] != stride || g->sb[d] != stride))
			return false;
		stride *= g->dims[d];
	}
	return g->base_a == 0 && g->base_b == 0;
}

extern "C" int cuk_binary(int op, int half, const void *a, const void *b, void *y, const cuk_geom *g, cuk_stream s)
{
	int64_t n = numel(*g);
	if (n == 0)
		return 0;
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
	int64_t n = p->planes * p->oh * p->ow;
	if (n == 0)
		return 0;
	if (half)
		pool2d<<<blocks_for(n), kThreads, 0, s>>>((const __half *)x, (__half *)y, *p);
	else
		pool2d<<<blocks_for(n), kThreads, 0, s>>>((const float *)x, (float *)y, *p);
	return launched();
}

extern "C" int cuk_resize2d(int half, const void *x, void *y, const cuk_resize *p, cuk_stream s)
{
	int64_t n = p->planes * p->oh * p->ow;
	if (n == 0)
		return 0;
	if (half)
		resize2d<<<blocks_for(n), kThreads, 0, s>>>((const __half *)x, (__half *)y, *p);
	else
		resize2d<<<blocks_for(n), kThreads, 0, s>>>((const float *)x, (float *)y, *p);
	return launched();
}
