// Kernels of the cuda backend's later operators (see cuda_more.h): Cast over the engine's
// storage dtypes, the Reduce family (one warp per output when the innermost axis is
// reduced, one thread per output otherwise so neighbouring threads read neighbouring
// elements), the per-channel scale and shift of inference BatchNormalization, and the
// zero-filling crop ConvTranspose uses around cuDNN. Arithmetic is in float like the CPU.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "pipeline/vp_err.h"
#include "cuda_more.h"

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n)
{
	int64_t b = (n + kThreads - 1) / kThreads;
	return (int)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

int launched(void)
{
	return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
}

__device__ __forceinline__ float ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }

// ---- Cast ----

enum { DT_FLOAT = 1, DT_UINT8 = 2, DT_INT8 = 3, DT_UINT16 = 4, DT_INT16 = 5, DT_INT32 = 6, DT_INT64 = 7,
       DT_BOOL = 9, DT_FLOAT16 = 10, DT_DOUBLE = 11, DT_UINT32 = 12, DT_UINT64 = 13, DT_BFLOAT16 = 16 };

__host__ __device__ bool is_int(int t)
{
	return t == DT_UINT8 || t == DT_INT8 || t == DT_UINT16 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64 ||
	       t == DT_BOOL || t == DT_UINT32 || t == DT_UINT64;
}

__host__ __device__ bool is_real(int t)
{
	return t == DT_FLOAT || t == DT_FLOAT16 || t == DT_DOUBLE || t == DT_BFLOAT16;
}

__device__ long long ld_int(const void *p, int t, int64_t i)
{
	switch (t) {
	case DT_UINT8: return ((const uint8_t *)p)[i];
	case DT_INT8: return ((const int8_t *)p)[i];
	case DT_UINT16: return ((const uint16_t *)p)[i];
	case DT_INT16: return ((const int16_t *)p)[i];
	case DT_INT32: return ((const int32_t *)p)[i];
	case DT_BOOL: return ((const uint8_t *)p)[i] != 0;
	case DT_UINT32: return ((const uint32_t *)p)[i];
	case DT_UINT64: return (long long)((const uint64_t *)p)[i];
	default: return ((const long long *)p)[i];
	}
}

__device__ double ld_real(const void *p, int t, int64_t i)
{
	switch (t) {
	case DT_FLOAT: return ((const float *)p)[i];
	case DT_DOUBLE: return ((const double *)p)[i];
	case DT_FLOAT16: return __half2float(((const __half *)p)[i]);
	case DT_BFLOAT16: return __uint_as_float((unsigned)((const uint16_t *)p)[i] << 16);
	case DT_UINT64: return (double)((const uint64_t *)p)[i];
	default: return (double)ld_int(p, t, i);
	}
}

__device__ void st_int(void *p, int t, int64_t i, long long v)
{
	switch (t) {
	case DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
	case DT_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
	case DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
	case DT_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
	case DT_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
	case DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
	case DT_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
	case DT_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
	default: ((long long *)p)[i] = v; break;
	}
}

// bfloat16 rounded to nearest even, NaN kept quiet: the CPU's float_to_bf16.
__device__ uint16_t to_bf16(float f)
{
	unsigned x = __float_as_uint(f);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fffu + ((x >> 16) & 1u);
	return (uint16_t)(x >> 16);
}

__device__ void st_real(void *p, int t, int64_t i, double v)
{
	switch (t) {
	case DT_FLOAT: ((float *)p)[i] = (float)v; break;
	case DT_DOUBLE: ((double *)p)[i] = v; break;
	case DT_FLOAT16: ((__half *)p)[i] = __float2half_rn((float)v); break;
	case DT_BFLOAT16: ((uint16_t *)p)[i] = to_bf16((float)v); break;
	case DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
	case DT_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
	default: st_int(p, t, i, (long long)v); break;
	}
}

__global__ void cast_kernel(const void *x, int xt, void *y, int yt, int64_t n)
{
	bool ints = is_int(xt) && is_int(yt);
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		if (ints)
			st_int(y, yt, i, ld_int(x, xt, i));
		else
			st_real(y, yt, i, ld_real(x, xt, i));
	}
}

// ---- Reduce ----

__device__ __forceinline__ float red_init(int kind)
{
	return kind == CUK_RED_MAX ? -INFINITY : kind == CUK_RED_MIN ? INFINITY : 0.0f;
}

// The CPU's comparisons: a NaN operand keeps the accumulator.
__device__ __forceinline__ float red_add(int kind, float acc, float v)
{
	switch (kind) {
	case CUK_RED_MAX: return v > acc ? v : acc;
	case CUK_RED_MIN: return v < acc ? v : acc;
	default: return acc + v;
	}
}

__device__ __forceinline__ int64_t axes_offset(int n, const int64_t *dims, const int64_t *str, int64_t i)
{
	int64_t off = 0;
	for (int d = n - 1; d >= 0; d--) {
		off += (i % dims[d]) * str[d];
		i /= dims[d];
	}
	return off;
}

template <typename T>
__global__ void reduce_thread(const T *x, T *y, cuk_reduce r)
{
	for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < r.outs;
	     o += (int64_t)gridDim.x * blockDim.x) {
		int64_t base = axes_offset(r.nk, r.kdims, r.kstr, o);
		float acc = red_init(r.kind);
		for (int64_t k = 0; k < r.rcount; k++)
			acc = red_add(r.kind, acc, ld(x, base + axes_offset(r.nr, r.rdims, r.rstr, k)));
		st(y, o, r.kind == CUK_RED_MEAN ? acc / (float)r.rcount : acc);
	}
}

// blockDim.x is a multiple of 32 and the loop bound is the same for a whole warp, so
// every lane takes part in the shuffles.
template <typename T>
__global__ void reduce_warp(const T *x, T *y, cuk_reduce r)
{
	int lane = threadIdx.x & 31;
	int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
	int64_t nwarps = ((int64_t)gridDim.x * blockDim.x) >> 5;
	for (int64_t o = warp; o < r.outs; o += nwarps) {
		int64_t base = axes_offset(r.nk, r.kdims, r.kstr, o);
		float acc = red_init(r.kind);
		for (int64_t k = lane; k < r.rcount; k += 32)
			acc = red_add(r.kind, acc, ld(x, base + axes_offset(r.nr, r.rdims, r.rstr, k)));
		for (int m = 16; m > 0; m >>= 1)
			acc = red_add(r.kind, acc, __shfl_xor_sync(0xffffffffu, acc, m));
		if (lane == 0)
			st(y, o, r.kind == CUK_RED_MEAN ? acc / (float)r.rcount : acc);
	}
}

template <typename T>
void reduce_launch(const void *x, void *y, const cuk_reduce *r, cudaStream_t s)
{
	if (r->inner_reduced && r->rcount >= 32) {
		int64_t warps_per_block = kThreads / 32, b = (r->outs + warps_per_block - 1) / warps_per_block;
		int blocks = (int)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
		reduce_warp<<<blocks, kThreads, 0, s>>>((const T *)x, (T *)y, *r);
	} else {
		reduce_thread<<<blocks_for(r->outs), kThreads, 0, s>>>((const T *)x, (T *)y, *r);
	}
}

// ---- BatchNormalization ----

template <typename T>
__global__ void scale_shift(const T *x, T *y, const float *a, const float *b, int64_t channels, int64_t plane,
                            int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t c = (i / plane) % channels;
		st(y, i, ld(x, i) * a[c] + b[c]);
	}
}

// ---- crop with zero fill ----

template <typename E>
__global__ void crop_kernel(const E *x, E *y, cuk_crop c, int64_t n)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t r = i;
		int64_t o2 = r % c.dst[2] + c.off[2];
		r /= c.dst[2];
		int64_t o1 = r % c.dst[1] + c.off[1];
		r /= c.dst[1];
		int64_t o0 = r % c.dst[0] + c.off[0];
		r /= c.dst[0];   // the plane
		bool inside = o0 >= 0 && o0 < c.src[0] && o1 >= 0 && o1 < c.src[1] && o2 >= 0 && o2 < c.src[2];
		y[i] = inside ? x[((r * c.src[0] + o0) * c.src[1] + o1) * c.src[2] + o2] : E(0);
	}
}

} // namespace

extern "C" int cuk_cast_dtype_ok(int dtype)
{
	return is_int(dtype) || is_real(dtype);
}

extern "C" int cuk_cast(const void *x, int xt, void *y, int yt, int64_t count, cuk_more_stream s)
{
	if (!cuk_cast_dtype_ok(xt) || !cuk_cast_dtype_ok(yt))
		return -EINVAL;
	if (count <= 0)
		return 0;
	cast_kernel<<<blocks_for(count), kThreads, 0, s>>>(x, xt, y, yt, count);
	return launched();
}

extern "C" int cuk_reduce_run(int half, const void *x, void *y, const cuk_reduce *r, cuk_more_stream s)
{
	if (r->outs <= 0)
		return 0;
	if (half)
		reduce_launch<__half>(x, y, r, s);
	else
		reduce_launch<float>(x, y, r, s);
	return launched();
}

extern "C" int cuk_scale_shift(int half, const void *x, void *y, const float *a, const float *b, int64_t channels,
                               int64_t plane, int64_t count, cuk_more_stream s)
{
	if (count <= 0)
		return 0;
	if (half)
		scale_shift<<<blocks_for(count), kThreads, 0, s>>>((const __half *)x, (__half *)y, a, b, channels, plane,
		                                                    count);
	else
		scale_shift<<<blocks_for(count), kThreads, 0, s>>>((const float *)x, (float *)y, a, b, channels, plane,
		                                                    count);
	return launched();
}

extern "C" int cuk_crop_run(const void *x, void *y, size_t elem, const cuk_crop *c, cuk_more_stream s)
{
	// the spatial axes padded in front to 3 (size 1, offset 0)
	cuk_crop k = *c;
	int lead = 3 - c->nsp;
	if (c->nsp < 1 || c->nsp > 3)
		return -EINVAL;
	for (int d = 2; d >= 0; d--) {
		int j = d - lead;
		k.src[d] = j >= 0 ? c->src[j] : 1;
		k.dst[d] = j >= 0 ? c->dst[j] : 1;
		k.off[d] = j >= 0 ? c->off[j] : 0;
	}
	int64_t n = k.planes * k.dst[0] * k.dst[1] * k.dst[2];
	if (n <= 0)
		return 0;
	switch (elem) {
	case 2: crop_kernel<<<blocks_for(n), kThreads, 0, s>>>((const uint16_t *)x, (uint16_t *)y, k, n); break;
	case 4: crop_kernel<<<blocks_for(n), kThreads, 0, s>>>((const uint32_t *)x, (uint32_t *)y, k, n); break;
	default: return -EINVAL;
	}
	return launched();
}
