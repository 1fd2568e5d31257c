/* 3x3 depthwise convolution with AVX-512: 16 output columns a step, every kernel tap a
 * masked load (lanes outside the image read as zero, so the padding needs no separate
 * border loop), bias and activation applied before the single store. Stride 2 loads
 * 32 input columns and keeps the even or odd ones. */
#include "ops_common.h"
#include "ops_conv_dw.h"
#include "pgemm.h"
#include "simd_avx512.h"

#ifdef HAVE_AVX512_SILU
#define DW_TARGET __attribute__((target("avx512f")))

/* Lanes l < 16 with 0 <= base + l < width. */
static inline __mmask16 inside(int64_t base, int64_t width)
{
	int64_t lo = base < 0 ? -base : 0, hi = width - base;
	uint32_t m;

	if (hi <= 0 || lo >= 16)
		return 0;
	m = hi >= 16 ? 0xffffu : (1u << hi) - 1;
	return (__mmask16)(m & ~((1u << lo) - 1));
}

/* 16 input columns base + l (masked to the row) of row r. */
DW_TARGET static inline __m512 load_cols(const float *r, int64_t base, int64_t width)
{
	__mmask16 m = inside(base, width);

	return m ? _mm512_maskz_loadu_ps(m, r + base) : _mm512_setzero_ps();
}

/* Input columns 2 (ox0 + l) + kx - pb for kx = 0, 1, 2: even and odd lanes of 32. */
DW_TARGET static inline void load_s2(const float *r, int64_t base, int64_t width, __m512 *v)
{
	const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
	__m512 a = load_cols(r, base, width), b = load_cols(r, base + 16, width);
	__m512 c = load_cols(r, base + 2, width), d = load_cols(r, base + 18, width);

	v[0] = _mm512_permutex2var_ps(a, ev, b);
	v[1] = _mm512_permutex2var_ps(a, od, b);
	v[2] = _mm512_permutex2var_ps(c, ev, d);
}

DW_TARGET static void dw3_plane(const float *x, const float *k, float bias, const ops_window *w,
                                const inf_node *n, float *y)
{
	int64_t s = w->s[2], pb = w->pb[2], iw = w->in[2], ow = w->out[2];
	__m512 kv[9];

	for (int i = 0; i < 9; i++)
		kv[i] = _mm512_set1_ps(k[i]);
	for (int64_t oy = 0; oy < w->out[1]; oy++, y += ow) {
		for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
			__m512 acc = _mm512_set1_ps(bias), v[3];

			for (int ky = 0; ky < 3; ky++) {
				int64_t iy = oy * w->s[1] - w->pb[1] + ky;
				const float *r = x + iy * iw;

				if (iy < 0 || iy >= w->in[1])
					continue;
				if (s == 1) {
					for (int kx = 0; kx < 3; kx++)
						v[kx] = load_cols(r, ox0 + kx - pb, iw);
				} else {
					load_s2(r, 2 * ox0 - pb, iw, v);
				}
				for (int kx = 0; kx < 3; kx++)
					acc = _mm512_fmadd_ps(kv[ky * 3 + kx], v[kx], acc);
			}
			acc = act512(acc, n->act, n->act_alpha, n->act_beta);
			_mm512_mask_storeu_ps(y + ox0, inside(ox0, ow), acc);
		}
	}
}

int conv_dw3_usable(const ops_window *w3)
{
	return pg_supported() && w3->k[0] == 1 && w3->in[0] == 1 && w3->k[1] == 3 && w3->k[2] == 3 &&
	       w3->d[1] == 1 && w3->d[2] == 1 && w3->s[1] == w3->s[2] && (w3->s[2] == 1 || w3->s[2] == 2);
}

void conv_dw3_run(inf_node *n, const ops_window *w3, int nth)
{
	const inf_tensor *x = n->in[0], *b = ops_in(n, 2);
	const float *xp = x->data, *wp = n->in[1]->data, *bp = b ? b->data : NULL;
	float *yp = n->out[0]->data;
	int64_t ch = x->dims[1], planes = x->dims[0] * ch;

#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1)
	for (int64_t p = 0; p < planes; p++) {
		int64_t c = p % ch;

		dw3_plane(xp + p * w3->in_size, wp + c * 9, bp ? bp[c] : 0.0f, w3, n, yp + p * w3->out_size);
	}
}

#else

int conv_dw3_usable(const ops_window *w3)
{
	(void)w3;
	return 0;
}

void conv_dw3_run(inf_node *n, const ops_window *w3, int nth)
{
	(void)n, (void)w3, (void)nth;
}

#endif
