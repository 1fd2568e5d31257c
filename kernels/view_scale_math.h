/* The per-sample math of the view scaler, inline for the CPU reference and the CUDA
 * kernel alike (KRN_HD: __host__ __device__ under nvcc). */
#ifndef KRN_VIEW_SCALE_MATH_H
#define KRN_VIEW_SCALE_MATH_H

#include <stdint.h>

#ifdef __CUDACC__
#define KRN_VS_HD __host__ __device__
#else
#define KRN_VS_HD
#endif

/* Source span [*lo, *hi) that destination index d of n covers in a source of len samples
 * starting at off; at least one sample (upscaling repeats). */
KRN_VS_HD static inline void krn_vs_span(int d, int n, int off, int len, int *lo, int *hi)
{
	int a = (int)((int64_t)d * len / n), b = (int)((int64_t)(d + 1) * len / n);
	if (b <= a)
		b = a + 1;
	*lo = off + a;
	*hi = off + b;
}

/* Mean of comps-interleaved samples (component k) over [x0,x1) x [y0,y1), as 8 bits:
 * 16-bit samples (P016, value in the high bits) keep their high byte, rounded. */
KRN_VS_HD static inline uint8_t krn_vs_mean(const uint8_t *plane, int ls, int wide, int comps, int k,
                                            int x0, int x1, int y0, int y1)
{
	uint64_t sum = 0;
	for (int y = y0; y < y1; y++) {
		const uint8_t *row = plane + (int64_t)y * ls;
		for (int x = x0; x < x1; x++) {
			int i = x * comps + k;
			sum += wide ? ((const uint16_t *)(const void *)row)[i] : row[i];
		}
	}
	uint64_t cnt = (uint64_t)(x1 - x0) * (uint64_t)(y1 - y0);
	uint64_t m = (sum + cnt / 2) / cnt;
	if (wide)
		m = (m + 128) >> 8;
	return (uint8_t)(m > 255 ? 255 : m);
}

/* Destination sample (dx, dy) of plane k (0: Y, 1: UV) with its component c. */
KRN_VS_HD static inline uint8_t krn_vs_sample(const uint8_t *plane, int ls, int wide, int k, int c,
                                              int sx, int sy, int sw, int sh, int dw, int dh,
                                              int dx, int dy)
{
	int x0, x1, y0, y1;
	if (k == 0) {
		krn_vs_span(dx, dw, sx, sw, &x0, &x1);
		krn_vs_span(dy, dh, sy, sh, &y0, &y1);
		return krn_vs_mean(plane, ls, wide, 1, 0, x0, x1, y0, y1);
	}
	krn_vs_span(dx, dw / 2, sx / 2, sw / 2, &x0, &x1);
	krn_vs_span(dy, dh / 2, sy / 2, sh / 2, &y0, &y1);
	return krn_vs_mean(plane, ls, wide, 2, c, x0, x1, y0, y1);
}

#endif
