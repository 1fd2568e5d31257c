/* Per-pixel preprocessing math shared by the CPU reference (preprocess_ref.c) and the
 * CUDA kernel, so both compute the same values in the same order. Everything here is
 * static inline and free of libc calls besides floorf/rint, which both compilers provide.
 *
 * Geometry follows the reference detections (shared/data/reference/README.md):
 * r = min(S/w, S/h), resized size = round(w*r) x round(h*r), centred offset
 * round((S - n)/2 - 0.1), top-left offset 0. Sampling maps the resized image onto the
 * source with its own ratio (n/w), as a resize to n pixels does; boxes map back with r.
 *
 * Bit-exact twins: x86-64 gcc without -march=...fma never contracts a*b+c, nvcc does by
 * default; build the CUDA kernel with --fmad=false to compare bit for bit, otherwise
 * expect differences of a few ulps (well under 1e-3 in 0-255 units). */
#ifndef KRN_PREPROCESS_MATH_H
#define KRN_PREPROCESS_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../pipeline/vp_frame.h"
#include "preprocess.h"

#ifdef __CUDACC__
#define KRN_HD __host__ __device__
#else
#define KRN_HD
#endif

/* Where the resized picture lies in the model input and how output pixels map to source
 * pixels for sampling (src = (dst + 0.5 - off) * inv - 0.5, half-pixel centres). */
typedef struct krn_geom {
	int nw, nh;          /* resized picture size inside the input */
	int left, top;       /* its offset; outside it the input holds the pad value */
	float inv_x, inv_y;  /* source pixels per resized pixel: w / nw, h / nh */
	float r_x, r_y;      /* model pixels per source pixel for mapping boxes back */
} krn_geom;

/* Rounds half to even, like Python's round(), which made the reference geometry. */
KRN_HD static inline int krn_round_even(double v)
{
	double f = floor(v);
	double d = v - f;
	if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0))
		f += 1.0;
	return (int)f;
}

/* letterbox: 1 keeps aspect; center: 1 centres, 0 pastes top-left. */
KRN_HD static inline void krn_geom_compute(int dst_w, int dst_h, int letterbox, int center,
                                           int src_w, int src_h, krn_geom *g)
{
	if (!letterbox) {
		g->nw = dst_w;
		g->nh = dst_h;
		g->left = g->top = 0;
		g->r_x = (float)((double)dst_w / src_w);
		g->r_y = (float)((double)dst_h / src_h);
	} else {
		double rx = (double)dst_w / src_w, ry = (double)dst_h / src_h;
		double r = rx < ry ? rx : ry;
		g->nw = krn_round_even(src_w * r);
		g->nh = krn_round_even(src_h * r);
		if (g->nw < 1) g->nw = 1;
		if (g->nh < 1) g->nh = 1;
		if (g->nw > dst_w) g->nw = dst_w;
		if (g->nh > dst_h) g->nh = dst_h;
		g->left = center ? krn_round_even((dst_w - g->nw) / 2.0 - 0.1) : 0;
		g->top = center ? krn_round_even((dst_h - g->nh) / 2.0 - 0.1) : 0;
		g->r_x = g->r_y = (float)r;
	}
	g->inv_x = (float)((double)src_w / g->nw);
	g->inv_y = (float)((double)src_h / g->nh);
}

/* YUV -> RGB in 8-bit units: rgb = ys * (Y - y0) + chroma terms * (C - 128). */
typedef struct krn_csp_coef {
	float y0, ys;              /* luma offset and gain */
	float rv, gu, gv, bu;      /* chroma gains (gu, gv are subtracted) */
} krn_csp_coef;

/* bt709: 0 = BT.601 (Kr 0.299, Kb 0.114), 1 = BT.709 (Kr 0.2126, Kb 0.0722);
 * full: JPEG range (Y 0-255, C 0-255) instead of limited (Y 16-235, C 16-240). */
KRN_HD static inline void krn_csp_coef_init(int bt709, int full, krn_csp_coef *c)
{
	double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114;
	double kg = 1.0 - kr - kb;
	double ys = full ? 1.0 : 255.0 / 219.0, cs = full ? 1.0 : 255.0 / 224.0;
	c->y0 = full ? 0.0f : 16.0f;
	c->ys = (float)ys;
	c->rv = (float)(cs * 2.0 * (1.0 - kr));
	c->bu = (float)(cs * 2.0 * (1.0 - kb));
	c->gu = (float)(cs * 2.0 * (1.0 - kb) * kb / kg);
	c->gv = (float)(cs * 2.0 * (1.0 - kr) * kr / kg);
}

KRN_HD static inline float krn_clamp255(float v)
{
	return v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
}

/* One pixel; y, u, v in 8-bit units (deeper samples are scaled down before). */
KRN_HD static inline void krn_yuv_to_rgb(const krn_csp_coef *c, float y, float u, float v,
                                         float rgb[3])
{
	float l = c->ys * (y - c->y0), cu = u - 128.0f, cv = v - 128.0f;
	rgb[0] = krn_clamp255(l + c->rv * cv);
	rgb[1] = krn_clamp255(l - c->gu * cu - c->gv * cv);
	rgb[2] = krn_clamp255(l + c->bu * cu);
}

/* Bilinear taps along one axis for output coordinate d (relative to the picture's
 * offset) over n source samples: indices i0, i1 clamped to the edge, weight of i1. */
KRN_HD static inline void krn_taps(int d, float inv, int n, int *i0, int *i1, float *w1)
{
	float s = ((float)d + 0.5f) * inv - 0.5f;
	if (s < 0.0f) s = 0.0f;
	int i = (int)floorf(s);
	if (i > n - 1) i = n - 1;
	*w1 = s - (float)i;
	*i0 = i;
	*i1 = i + 1 < n ? i + 1 : n - 1;
}

/* Bilinear blend of four RGB corner values in a fixed order. */
KRN_HD static inline float krn_lerp2(float a, float b, float c, float d, float wx, float wy)
{
	float top = a + (b - a) * wx;
	float bot = c + (d - c) * wx;
	return top + (bot - top) * wy;
}


/* A picture's planes as the kernels see them (host or device pointers). */
typedef struct krn_planes {
	const uint8_t *data[3];
	int linesize[3];
	int w, h;
	int fmt;             /* vp_pixfmt */
} krn_planes;

KRN_HD static inline float krn_u16(const uint8_t *row, int i)
{
	return (float)((const uint16_t *)(const void *)row)[i];
}

/* Y, U, V of source pixel (x, y) in 8-bit units. Chroma is taken from the 2x2 block's
 * sample (no chroma interpolation), as FFmpeg's unscaled YUV->RGB24 path does. */
KRN_HD static inline void krn_fetch_yuv(const krn_planes *p, int x, int y, float yuv[3])
{
	const uint8_t *ly = p->data[0] + (size_t)y * p->linesize[0];
	int cx = x >> 1, cy = y >> 1;
	switch (p->fmt) {
	case VP_PIX_NV12: {
		const uint8_t *c = p->data[1] + (size_t)cy * p->linesize[1];
		yuv[0] = ly[x]; yuv[1] = c[2 * cx]; yuv[2] = c[2 * cx + 1];
		break;
	}
	case VP_PIX_P016: {
		/* value in the high bits: /256 keeps 10-bit precision as 8-bit units */
		const uint8_t *c = p->data[1] + (size_t)cy * p->linesize[1];
		yuv[0] = krn_u16(ly, x) * (1.0f / 256.0f);
		yuv[1] = krn_u16(c, 2 * cx) * (1.0f / 256.0f);
		yuv[2] = krn_u16(c, 2 * cx + 1) * (1.0f / 256.0f);
		break;
	}
	case VP_PIX_YUV420P10:
		yuv[0] = krn_u16(ly, x) * 0.25f;
		yuv[1] = krn_u16(p->data[1] + (size_t)cy * p->linesize[1], cx) * 0.25f;
		yuv[2] = krn_u16(p->data[2] + (size_t)cy * p->linesize[2], cx) * 0.25f;
		break;
	default: /* VP_PIX_YUV420P */
		yuv[0] = ly[x];
		yuv[1] = p->data[1][(size_t)cy * p->linesize[1] + cx];
		yuv[2] = p->data[2][(size_t)cy * p->linesize[2] + cx];
		break;
	}
}

KRN_HD static inline void krn_fetch_rgb(const krn_planes *p, const krn_csp_coef *c, int x, int y,
                                        float rgb[3])
{
	float yuv[3];
	krn_fetch_yuv(p, x, y, yuv);
	krn_yuv_to_rgb(c, yuv[0], yuv[1], yuv[2], rgb);
}

/* RGB (0-255) of model-input pixel (dx, dy): converts the four source neighbours to RGB
 * first, then blends, as resizing an RGB picture does. Returns 0 for padding. */
KRN_HD static inline int krn_sample_rgb(const krn_planes *p, const krn_geom *g,
                                        const krn_csp_coef *c, int dx, int dy, float rgb[3])
{
	int rx = dx - g->left, ry = dy - g->top;
	if (rx < 0 || ry < 0 || rx >= g->nw || ry >= g->nh)
		return 0;
	int x0, x1, y0, y1;
	float wx, wy, a[3], b[3], e[3], d[3];
	krn_taps(rx, g->inv_x, p->w, &x0, &x1, &wx);
	krn_taps(ry, g->inv_y, p->h, &y0, &y1, &wy);
	krn_fetch_rgb(p, c, x0, y0, a);
	krn_fetch_rgb(p, c, x1, y0, b);
	krn_fetch_rgb(p, c, x0, y1, e);
	krn_fetch_rgb(p, c, x1, y1, d);
	for (int k = 0; k < 3; k++)
		rgb[k] = krn_lerp2(a[k], b[k], e[k], d[k], wx, wy);
	return 1;
}

/* IEEE binary16 from float, round to nearest even (same as CUDA's __float2half_rn). */
KRN_HD static inline uint16_t krn_f32_to_f16(float f)
{
	union { float f; uint32_t u; } v;
	v.f = f;
	uint32_t x = v.u;
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
	if (exp == 0xffu)
		return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0u));
	int e = (int)exp - 127 + 15;
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00u);
	if (e <= 0) {
		if (e < -10)
			return sign;
		man |= 0x800000u;
		int shift = 14 - e;
		uint32_t h = man >> shift, rem = man & ((1u << shift) - 1u), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1u)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
		h++; /* may carry into the exponent, which rounds up to the next power or inf */
	return (uint16_t)(sign | h);
}

KRN_HD static inline float krn_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
	uint32_t u;
	if (exp == 0) {
		if (!man) {
			u = sign;
		} else {
			int e = -1;
			do { man <<= 1; e++; } while (!(man & 0x400u));
			u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
		}
	} else if (exp == 31) {
		u = sign | 0x7f800000u | (man << 13);
	} else {
		u = sign | ((exp - 15 + 127) << 23) | (man << 13);
	}
	union { uint32_t u; float f; } v;
	v.u = u;
	return v.f;
}


/* Writes model-input pixel (dx, dy) of batch item `item`: rgb in 0-255 (ignored when
 * pad), channel order, (v - mean) * scale, then FP32/FP16 and NCHW/NHWC placement. */
KRN_HD static inline void krn_store_pixel(void *dst, const krn_pre_params *p, int item,
                                          int dx, int dy, const float rgb[3], int pad)
{
	size_t plane = (size_t)p->dst_w * p->dst_h;
	size_t base = (size_t)item * 3 * plane, pix = (size_t)dy * p->dst_w + dx;
	for (int c = 0; c < 3; c++) {
		float v = pad ? p->pad_value : rgb[p->bgr ? 2 - c : c];
		v = (v - p->mean[c]) * p->scale[c];
		size_t at = base + (p->nhwc ? pix * 3 + c : c * plane + pix);
		if (p->fp16)
			((uint16_t *)dst)[at] = krn_f32_to_f16(v);
		else
			((float *)dst)[at] = v;
	}
}

#endif
