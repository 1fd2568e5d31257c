/* Per-element math of the cuda backend's strided pooling, Resize and Pad kernels, shared
 * by the kernels (cuda_kernels.cu) and their CPU references (cuda_kernels_ref.c), so both
 * compute the same values in the same order. Each *_at function computes output element
 * i of the output's storage walk and stores it; the tap and coordinate math follows the
 * CPU operators (infer/cpu/ops_pool.c, ops_resize.c, ops_pad.c) step by step.
 *
 * Float storage, or IEEE half when `half` (converted with round-to-nearest-even both on
 * the device and here on the host). nvcc contracts a*b+c into FMAs, gcc on x86-64 does
 * not: expect differences of a few ulps between a kernel and its reference. */
#ifndef INF_CUDA_KERNELS_MATH_H
#define INF_CUDA_KERNELS_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cuda_kernels.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define CUK_HD __host__ __device__
#else
#define CUK_HD
#endif

/* ---- storage ---- */

CUK_HD static inline float cuk_half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
	float f;
	if (e == 0) {
		f = (float)m * 5.9604644775390625e-8f;   /* m * 2^-24, exact */
		return sign ? -f : f;
	}
	bits = e == 31 ? sign | 0x7f800000u | (m << 13) : sign | ((e + 112) << 23) | (m << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

CUK_HD static inline uint16_t cuk_float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof(x));
	uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
	int e = (int)((x >> 23) & 0xffu) - 127 + 15;
	if (((x >> 23) & 0xffu) == 0xffu)
		return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00u);
	if (e <= 0) {
		if (e < -10)
			return (uint16_t)sign;
		mant |= 0x800000u;
		int shift = 14 - e;
		uint32_t hm = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
		if (rem > mid || (rem == mid && (hm & 1u)))
			hm++;
		return (uint16_t)(sign | hm);
	}
	uint32_t hm = mant >> 13, rem = mant & 0x1fffu, h = sign | ((uint32_t)e << 10) | hm;
	if (rem > 0x1000u || (rem == 0x1000u && (hm & 1u)))
		h++;   /* a carry into the exponent is right, up to infinity */
	return (uint16_t)h;
}

CUK_HD static inline float cuk_ldf(const void *x, int half, int64_t i)
{
#ifdef __CUDA_ARCH__
	return half ? __half2float(((const __half *)x)[i]) : ((const float *)x)[i];
#else
	return half ? cuk_half_to_float(((const uint16_t *)x)[i]) : ((const float *)x)[i];
#endif
}

CUK_HD static inline void cuk_stf(void *y, int half, int64_t i, float v)
{
#ifdef __CUDA_ARCH__
	if (half)
		((__half *)y)[i] = __float2half_rn(v);
	else
		((float *)y)[i] = v;
#else
	if (half)
		((uint16_t *)y)[i] = cuk_float_to_half(v);
	else
		((float *)y)[i] = v;
#endif
}

/* Index o (n, c, h, w) of element i of a walk over d in storage order: c fastest when
 * the channel stride is the smallest (NHWC), else w fastest (NCHW). */
CUK_HD static inline void cuk_walk4(const int64_t d[4], const int64_t ys[4], int64_t i, int64_t o[4])
{
	if (ys[1] < ys[3]) {
		o[1] = i % d[1];
		i /= d[1];
		o[3] = i % d[3];
		i /= d[3];
		o[2] = i % d[2];
		o[0] = i / d[2];
	} else {
		o[3] = i % d[3];
		i /= d[3];
		o[2] = i % d[2];
		i /= d[2];
		o[1] = i % d[1];
		o[0] = i / d[1];
	}
}

CUK_HD static inline int64_t cuk_off4(const int64_t s[4], int64_t n, int64_t c, int64_t h, int64_t w)
{
	return n * s[0] + c * s[1] + h * s[2] + w * s[3];
}

/* ---- pooling ---- */

CUK_HD static inline void cuk_pool_at(const cuk_pool *p, int half, const void *x, void *y, int64_t i)
{
	const int64_t d[4] = { p->n, p->c, p->oh, p->ow };
	int64_t o[4];
	cuk_walk4(d, p->ys, i, o);
	const int64_t base = o[0] * p->xs[0] + o[1] * p->xs[1];
	float acc = p->is_max ? -INFINITY : 0.0f;
	int cnt = 0, cnt_pad = 0;
	for (int ky = 0; ky < p->kh; ky++) {
		int64_t iy = o[2] * p->sh - p->ph + (int64_t)ky * p->dh;
		for (int kx = 0; kx < p->kw; kx++) {
			int64_t ix = o[3] * p->sw - p->pw + (int64_t)kx * p->dw;
			/* ceil_mode windows reaching beyond the end pads count only the pads */
			if (iy >= -p->ph && iy < p->ih + p->peh && ix >= -p->pw && ix < p->iw + p->pew)
				cnt_pad++;
			if (iy < 0 || iy >= p->ih || ix < 0 || ix >= p->iw)
				continue;
			float v = cuk_ldf(x, half, base + iy * p->xs[2] + ix * p->xs[3]);
			acc = p->is_max ? fmaxf(acc, v) : acc + v;
			cnt++;
		}
	}
	if (!p->is_max)
		acc = acc / (float)(p->count_include_pad ? cnt_pad : (cnt ? cnt : 1));
	cuk_stf(y, half, cuk_off4(p->ys, o[0], o[1], o[2], o[3]), acc);
}

/* ---- Resize ---- */

CUK_HD static inline double cuk_rs_coord(int ct, const cuk_rs_axis *a, int64_t o)
{
	double s = a->scale, in = (double)a->in, out = a->olen;
	switch (ct) {
	case CUK_CT_HALF_PIXEL: return (o + 0.5) / s - 0.5;
	case CUK_CT_PYTORCH_HALF_PIXEL: return out > 1 ? (o + 0.5) / s - 0.5 : 0.0;
	case CUK_CT_ALIGN_CORNERS: return out == 1 ? 0.0 : o * (in - 1) / (out - 1);
	case CUK_CT_ASYMMETRIC: return o / s;
	case CUK_CT_TF_HALF_PIXEL_NN: return (o + 0.5) / s;
	default: {
		double st = a->roi_start, en = a->roi_end;
		return out > 1 ? st * (in - 1) + o * (en - st) * (in - 1) / (out - 1) : 0.5 * (st + en) * (in - 1);
	}
	}
}

CUK_HD static inline int64_t cuk_rs_nearest(int nr, double x)
{
	double f = floor(x);
	switch (nr) {
	case CUK_NR_PREFER_FLOOR: return (int64_t)(x - f == 0.5 ? f : round(x));
	case CUK_NR_PREFER_CEIL: return (int64_t)(x - f == 0.5 ? f + 1 : round(x));
	case CUK_NR_FLOOR: return (int64_t)f;
	default: return (int64_t)ceil(x);
	}
}

CUK_HD static inline void cuk_rs_cubic(double t, double a, float *c)
{
	double u = t + 1, v = 1 - t, w = 2 - t;
	c[0] = (float)(((a * u - 5 * a) * u + 8 * a) * u - 4 * a);
	c[1] = (float)(((a + 2) * t - (a + 3)) * t * t + 1);
	c[2] = (float)(((a + 2) * v - (a + 3)) * v * v + 1);
	c[3] = (float)(((a * w - 5 * a) * w + 8 * a) * w - 4 * a);
}

/* The input taps and weights of output coordinate o on axis a: returns their count (1
 * nearest, 2 linear, 4 cubic), or 0 where tf_crop_and_resize extrapolates. */
CUK_HD static inline int cuk_rs_taps(const cuk_resize *p, const cuk_rs_axis *a, int64_t o, int64_t idx[4], float w[4])
{
	const int64_t in = a->in;
	const double x = cuk_rs_coord(p->ct, a, o);
	if (p->ct == CUK_CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in - 1)))
		return 0;
	if (p->mode == CUK_RS_NEAREST) {
		int64_t i = cuk_rs_nearest(p->nr, x);
		idx[0] = i < 0 ? 0 : i >= in ? in - 1 : i;
		w[0] = 1.0f;
		return 1;
	}
	const int ntap = p->mode == CUK_RS_LINEAR ? 2 : 4;
	int64_t i0 = (int64_t)floor(x);
	double r = x - (double)i0;
	float sum = 0.0f;
	if (ntap == 2) {
		w[0] = (float)(1 - r);
		w[1] = (float)r;
	} else {
		cuk_rs_cubic(r, p->cubic_a, w);
		i0 -= 1;
	}
	for (int k = 0; k < ntap; k++) {
		int64_t i = i0 + k;
		if (p->exclude_outside && (i < 0 || i >= in))
			w[k] = 0.0f;
		sum += w[k];
		idx[k] = i < 0 ? 0 : i >= in ? in - 1 : i;
	}
	if (p->exclude_outside && sum != 0.0f)
		for (int k = 0; k < ntap; k++)
			w[k] /= sum;
	return ntap;
}

/* Whether axis a maps every output index o to input o alone (weight 1 there, 0 on every
 * other tap), so that leaving it out equals what the CPU computes for it. */
CUK_HD static inline int cuk_rs_axis_identity(const cuk_resize *p, const cuk_rs_axis *a)
{
	int64_t idx[4];
	float w[4];
	if (a->out != a->in)
		return 0;
	for (int64_t o = 0; o < a->out; o++) {
		int nt = cuk_rs_taps(p, a, o, idx, w);
		float self = 0.0f;
		if (nt == 0)
			return 0;
		for (int k = 0; k < nt; k++) {
			if (idx[k] == o)
				self += w[k];
			else if (w[k] != 0.0f)
				return 0;
		}
		if (self != 1.0f)
			return 0;
	}
	return 1;
}

/* Separable like the CPU: each tap row is summed along w first, then the rows along h. */
CUK_HD static inline void cuk_resize_at(const cuk_resize *p, int half, const void *x, void *y, int64_t i)
{
	const int64_t d[4] = { p->n, p->c, p->h.out, p->w.out };
	int64_t o[4], iy[4], ix[4];
	float wy[4], wx[4], v;
	cuk_walk4(d, p->ys, i, o);
	const int64_t base = o[0] * p->xs[0] + o[1] * p->xs[1];
	int nh = cuk_rs_taps(p, &p->h, o[2], iy, wy), nw = cuk_rs_taps(p, &p->w, o[3], ix, wx);
	if (nh == 0 || (nw == 0 && p->mode == CUK_RS_NEAREST)) {
		v = p->extrapolation;
	} else if (p->mode == CUK_RS_NEAREST) {
		v = cuk_ldf(x, half, base + iy[0] * p->xs[2] + ix[0] * p->xs[3]);
	} else {
		v = 0.0f;
		for (int ky = 0; ky < nh; ky++) {
			float row = nw ? 0.0f : p->extrapolation;
			for (int kx = 0; kx < nw; kx++)
				row += wx[kx] * cuk_ldf(x, half, base + iy[ky] * p->xs[2] + ix[kx] * p->xs[3]);
			v += wy[ky] * row;
		}
	}
	cuk_stf(y, half, cuk_off4(p->ys, o[0], o[1], o[2], o[3]), v);
}

/* ---- Pad ---- */

/* Input index of output index o on an axis of length len with pb leading pads; -1 where
 * the constant goes. Reflect mirrors without repeating the border (period 2 (len - 1)). */
CUK_HD static inline int64_t cuk_pad_src(int mode, int64_t o, int64_t pb, int64_t len)
{
	int64_t i = o - pb;
	if (i >= 0 && i < len)
		return i;
	if (mode == CUK_PAD_CONSTANT)
		return -1;
	if (mode == CUK_PAD_EDGE)
		return i < 0 ? 0 : len - 1;
	if (len == 1)
		return 0;
	int64_t per = 2 * (len - 1);
	i = ((i % per) + per) % per;
	return i < len ? i : per - i;
}

CUK_HD static inline void cuk_pad_at(const cuk_pad *p, int half, const void *x, void *y, int64_t i)
{
	int64_t src = 0, dst = 0;
	int inside = 1;
	for (int a = p->nd - 1; a >= 0; a--) {
		int64_t o = i % p->dims[a];
		i /= p->dims[a];
		int64_t s = cuk_pad_src(p->mode, o, p->pb[a], p->len[a]);
		if (s < 0)
			inside = 0;
		src += s * p->sx[a];
		dst += o * p->sy[a];
	}
	cuk_stf(y, half, dst, inside ? cuk_ldf(x, half, src) : p->value);
}

#endif
