/* Internal to infer/: a packed single-precision GEMM for convolutions on AVX-512 CPUs,
 * C[m, n] = act(A[m, k] B[k, n] + bias[m]). A (the weights) is packed once at prepare;
 * B is packed per block of columns by the caller, from a row-major matrix (pg_pack_b)
 * or straight from an image (im2col in ops_conv_pg.c), so no separate im2col matrix is
 * written and OpenBLAS does not repack the weights for every block. Bias and the fused
 * activation are applied to the accumulators, so each output is stored once. */
#ifndef INF_PGEMM_H
#define INF_PGEMM_H

#include <stddef.h>
#include <stdint.h>

/* Register tile: PG_MR rows of A by PG_NR columns of B. */
#define PG_MR 8
#define PG_NR 48

/* Bias (per row of C, may be NULL) and the fused activation (enum inf_act and its
 * alpha/beta as in inf_node) applied before C is stored. */
typedef struct pg_epilogue {
	const float *bias;
	int act;
	float alpha, beta;
} pg_epilogue;

/* Whether this CPU runs the kernels (AVX-512F) and VAPD_NO_AVX512 is not set in the
 * environment; the callers keep another path. */
int pg_supported(void);

/* Floats of packed A for an m x k matrix: rows rounded up to PG_MR, zero-filled. */
size_t pg_a_floats(int64_t m, int64_t k);
/* Packs row-major a (m x k, row stride lda) into pg_a_floats(m, k) floats at ret. */
void pg_pack_a(const float *a, int64_t lda, int64_t m, int64_t k, float *ret);

/* Floats of packed B for k x n: columns rounded up to PG_NR. Layout: one panel of
 * k rows by PG_NR columns per PG_NR columns, padding columns zero. */
size_t pg_b_floats(int64_t k, int64_t n);
/* Packs columns [0, n) of row-major b (k rows, row stride ldb). */
void pg_pack_b(const float *b, int64_t ldb, int64_t k, int64_t n, float *ret);

/* Columns per task when `items` matrices of n columns are split into blocks of at most
 * max_cols for nth threads: narrower blocks (multiples of 16, at least 32) where that
 * gives every thread several tasks. Any multiple of 16 works as a block width: the
 * last panel of a block is then partly used. */
int64_t pg_block_cols(int64_t max_cols, int64_t n, int64_t items, int nth);

/* C[m, n] (row stride ldc) = act(A B + bias) from packed A and packed B. */
void pg_gemm(const float *ap, int64_t m, int64_t k, const float *bp, int64_t n, float *c, int64_t ldc,
             const pg_epilogue *e);

/* The same with B read in place: row-major k x n, rows ldb floats apart. */
void pg_gemm_direct(const float *ap, int64_t m, int64_t k, const float *b, int64_t ldb, int64_t n, float *c,
                    int64_t ldc, const pg_epilogue *e);

#endif
