/* Packed GEMM for convolutions (see pgemm.h): an 8 x 48 AVX-512 register tile, 24
 * accumulators, with B rows loaded as 3 vectors and A entries broadcast. */
#include <stdlib.h>
#include <string.h>

#include "infer/graph/graph.h"
#include "pgemm.h"
#include "simd_avx512.h"

/* Tasks per thread on small layers: two; narrower blocks cost more in tile efficiency
 * than the imbalance that more of them would even out (measured on YOLOX-Nano). */
#define PG_TASKS_PER_THREAD 2

#ifdef HAVE_AVX512_SILU

#define PG_TARGET __attribute__((target("avx512f")))

int pg_supported(void)
{
	/* VAPD_NO_AVX512 set: the baseline kernels, to compare against or to test them here */
	return __builtin_cpu_supports("avx512f") && !getenv("VAPD_NO_AVX512");
}

static inline __mmask16 cols_mask(int64_t cols)
{
	return cols >= 16 ? 0xffff : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1);
}

/* Bias and activation act (a constant where inlined) on the accumulators of rows
 * [0, rows), two rows per step, stored under the column masks m. */
PG_TARGET __attribute__((always_inline)) static inline void
store_rows(int nv, __m512 (*acc)[3], int rows, const float *bias, float *c, int64_t ldc, const __mmask16 *m,
           int act, float alpha, float beta)
{
	for (int r = 0; r < rows; r += 2) {
		int two = r + 1 < rows;
		__m512 b0 = _mm512_set1_ps(bias ? bias[r] : 0.0f), b1 = _mm512_set1_ps(bias && two ? bias[r + 1] : 0.0f);
		__m512 v[2][3];

#pragma GCC unroll 3
		for (int j = 0; j < nv; j++) {
			v[0][j] = act512(_mm512_add_ps(acc[r][j], b0), act, alpha, beta);
			v[1][j] = act512(_mm512_add_ps(acc[r + 1][j], b1), act, alpha, beta);
		}
#pragma GCC unroll 3
		for (int j = 0; j < nv; j++) {
			_mm512_mask_storeu_ps(c + r * ldc + 16 * j, m[j], v[0][j]);
			if (two)
				_mm512_mask_storeu_ps(c + (r + 1) * ldc + 16 * j, m[j], v[1][j]);
		}
	}
}

/* C rows [0, rows) x columns [0, cols) from a packed A panel (k x PG_MR) and the
 * first nv vectors of each row of a packed B panel (k x PG_NR); rows of the tile past
 * `rows` are computed from zero weights and dropped. */
enum tile_mode {
	TILE_PACKED,                  /* B rows PG_NR floats apart, zero-padded */
	TILE_DIRECT,                  /* B read in place, every loaded column inside B */
	TILE_DIRECT_TAIL,             /* B read in place, masked to the last columns */
};

PG_TARGET __attribute__((always_inline)) static inline void
tile_8xnv(int nv, int mode, int64_t k, const float *a, const float *b, int64_t ldb, const float *pf, float *c,
          int64_t ldc, int rows, int64_t cols, const float *bias, const pg_epilogue *e)
{
	__m512 acc[PG_MR][3], bv[3];
	__mmask16 m[3] = { cols_mask(cols), cols_mask(cols - 16), cols_mask(cols - 32) };

	if (mode == TILE_PACKED)
		ldb = PG_NR;
#pragma GCC unroll 8
	for (int r = 0; r < PG_MR; r++)
		acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();
	for (int64_t p = 0; p < k; p++, a += PG_MR, b += ldb) {
		if (mode != TILE_PACKED) {
			/* pf: the rows that the next tile reads, fetched while this one computes */
			_mm_prefetch((const char *)(pf + p * ldb), _MM_HINT_T0);
			_mm_prefetch((const char *)(pf + p * ldb + 16), _MM_HINT_T0);
			_mm_prefetch((const char *)(pf + p * ldb + 32), _MM_HINT_T0);
		}
#pragma GCC unroll 3
		for (int j = 0; j < nv; j++)
			bv[j] = mode == TILE_DIRECT_TAIL ? _mm512_maskz_loadu_ps(m[j], b + 16 * j) : _mm512_loadu_ps(b + 16 * j);
#pragma GCC unroll 8
		for (int r = 0; r < PG_MR; r++) {
			__m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 3
			for (int j = 0; j < nv; j++)
				acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
		}
	}
	/* one loop per common activation, so its formula is inlined without a switch and
	 * the 3 nv independent chains of a row pair overlap */
	if (e->act == INF_ACT_SILU)
		store_rows(nv, acc, rows, bias, c, ldc, m, INF_ACT_SILU, 0.0f, 0.0f);
	else if (e->act == INF_ACT_NONE)
		store_rows(nv, acc, rows, bias, c, ldc, m, INF_ACT_NONE, 0.0f, 0.0f);
	else
		store_rows(nv, acc, rows, bias, c, ldc, m, e->act, e->alpha, e->beta);
}

PG_TARGET static void tile_8x48(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int rows,
                                int64_t cols, const float *bias, const pg_epilogue *e)
{
	tile_8xnv(3, TILE_PACKED, k, a, b, PG_NR, NULL, c, ldc, rows, cols, bias, e);
}

/* Narrower tiles for the last columns of a matrix. */
PG_TARGET static void tile_8x32(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int rows,
                                int64_t cols, const float *bias, const pg_epilogue *e)
{
	tile_8xnv(2, TILE_PACKED, k, a, b, PG_NR, NULL, c, ldc, rows, cols, bias, e);
}

PG_TARGET static void tile_8x16(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int rows,
                                int64_t cols, const float *bias, const pg_epilogue *e)
{
	tile_8xnv(1, TILE_PACKED, k, a, b, PG_NR, NULL, c, ldc, rows, cols, bias, e);
}

PG_TARGET void pg_gemm(const float *ap, int64_t m, int64_t k, const float *bp, int64_t n, float *c, int64_t ldc,
                       const pg_epilogue *e)
{
	for (int64_t i = 0; i < m; i += PG_MR) {
		const float *a = ap + i * k, *bias = e->bias ? e->bias + i : NULL;
		int rows = m - i < PG_MR ? (int)(m - i) : PG_MR;

		for (int64_t j = 0; j < n; j += PG_NR) {
			int64_t cols = n - j;
			const float *b = bp + j * k;

			if (cols > 32)
				tile_8x48(k, a, b, c + i * ldc + j, ldc, rows, cols, bias, e);
			else if (cols > 16)
				tile_8x32(k, a, b, c + i * ldc + j, ldc, rows, cols, bias, e);
			else
				tile_8x16(k, a, b, c + i * ldc + j, ldc, rows, cols, bias, e);
		}
	}
}

PG_TARGET static void tile_direct(int64_t k, const float *a, const float *b, int64_t ldb, const float *pf, float *c,
                                  int64_t ldc, int rows, const float *bias, const pg_epilogue *e)
{
	tile_8xnv(3, TILE_DIRECT, k, a, b, ldb, pf, c, ldc, rows, PG_NR, bias, e);
}

/* The last columns (fewer than PG_NR) with only the vectors they need: a product with
 * 8 columns (deimv2's attention [100, 100] x [100, 8]) computed three vectors, two of
 * them zeros. */
PG_TARGET static void tile_direct_tail(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                                       int64_t ldc, int rows, int64_t cols, const float *bias, const pg_epilogue *e)
{
	if (cols > 32)
		tile_8xnv(3, TILE_DIRECT_TAIL, k, a, b, ldb, b, c, ldc, rows, cols, bias, e);
	else if (cols > 16)
		tile_8xnv(2, TILE_DIRECT_TAIL, k, a, b, ldb, b, c, ldc, rows, cols, bias, e);
	else
		tile_8xnv(1, TILE_DIRECT_TAIL, k, a, b, ldb, b, c, ldc, rows, cols, bias, e);
}

PG_TARGET void pg_gemm_direct(const float *ap, int64_t m, int64_t k, const float *b, int64_t ldb, int64_t n,
                              float *c, int64_t ldc, const pg_epilogue *e)
{
	/* column panels outside, so a panel's k rows stay in L1 while every row block of A
	 * passes over them; the first row block prefetches the next panel's rows */
	for (int64_t j = 0; j < n; j += PG_NR)
		for (int64_t i = 0; i < m; i += PG_MR) {
			int rows = m - i < PG_MR ? (int)(m - i) : PG_MR;
			const float *bias = e->bias ? e->bias + i : NULL;

			if (n - j >= PG_NR)
				tile_direct(k, ap + i * k, b + j, ldb, i == 0 ? b + j + PG_NR : b + j, c + i * ldc + j,
				            ldc, rows, bias, e);
			else
				tile_direct_tail(k, ap + i * k, b + j, ldb, c + i * ldc + j, ldc, rows, n - j, bias, e);
		}
}

PG_TARGET void pg_pack_b(const float *b, int64_t ldb, int64_t k, int64_t n, float *ret)
{
	for (int64_t j = 0; j < n; j += PG_NR, ret += PG_NR * k) {
		__mmask16 m0 = cols_mask(n - j), m1 = cols_mask(n - j - 16), m2 = cols_mask(n - j - 32);
		const float *src = b + j;
		float *dst = ret;

		for (int64_t p = 0; p < k; p++, src += ldb, dst += PG_NR) {
			_mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(m0, src));
			_mm512_storeu_ps(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
			_mm512_storeu_ps(dst + 32, _mm512_maskz_loadu_ps(m2, src + 32));
		}
	}
}

#else

int pg_supported(void)
{
	return 0;
}

void pg_gemm(const float *ap, int64_t m, int64_t k, const float *bp, int64_t n, float *c, int64_t ldc,
             const pg_epilogue *e)
{
	(void)ap, (void)m, (void)k, (void)bp, (void)n, (void)c, (void)ldc, (void)e;
}

void pg_gemm_direct(const float *ap, int64_t m, int64_t k, const float *b, int64_t ldb, int64_t n,
                    float *c, int64_t ldc, const pg_epilogue *e)
{
	(void)ap, (void)m, (void)k, (void)b, (void)ldb, (void)n, (void)c, (void)ldc, (void)e;
}

void pg_pack_b(const float *b, int64_t ldb, int64_t k, int64_t n, float *ret)
{
	(void)b, (void)ldb, (void)k, (void)n, (void)ret;
}

#endif

size_t pg_a_floats(int64_t m, int64_t k)
{
	return (size_t)((m + PG_MR - 1) / PG_MR * PG_MR * k);
}

size_t pg_b_floats(int64_t k, int64_t n)
{
	return (size_t)((n + PG_NR - 1) / PG_NR * PG_NR * k);
}

int64_t pg_block_cols(int64_t max_cols, int64_t n, int64_t items, int nth)
{
	int64_t want = (PG_TASKS_PER_THREAD * nth + items - 1) / items, cols = (n + want - 1) / want;

	cols = cols < 2 * 16 ? 2 * 16 : (cols + 15) / 16 * 16;
	return nth <= 1 || cols >= max_cols ? max_cols : cols;
}

void pg_pack_a(const float *a, int64_t lda, int64_t m, int64_t k, float *ret)
{
	int64_t i = 0;

	/* whole blocks without the row test: MatMul packs its activations every run */
	for (; i + PG_MR <= m; i += PG_MR)
		for (int64_t p = 0; p < k; p++, ret += PG_MR) {
			const float *col = a + i * lda + p;
#pragma GCC unroll 8
			for (int r = 0; r < PG_MR; r++)
				ret[r] = col[r * lda];
		}
	for (; i < m; i += PG_MR)
		for (int64_t p = 0; p < k; p++)
			for (int r = 0; r < PG_MR; r++)
				*ret++ = i + r < m ? a[(i + r) * lda + p] : 0.0f;
}
