/* Float broadcasting binary operators (see ops_bin_float.h). A broadcast operand (a
 * scalar scale, a per-channel bias, an attention mask) made these loops run on one core,
 * element by element with the operator tested inside: here the work is cut into ranges
 * of the flat output for the task pool, and each run of the last axis is one
 * vectorised loop per operator and stride pair. The results are bit-identical: each
 * output is the same single operation on the same two floats. */
#include "ops_bin_float.h"
#include "ops_common.h"

/* Ranges shorter than this cost more to hand out than they take to compute. */
#define BIN_RANGE_MIN 8192

typedef struct bin_bjob {
	int op, nd;
	const int64_t *dims, *sa, *sb;
	const float *a, *b;
	float *y;
} bin_bjob;

/* y[i] = a[i * ia] op b[i * ib] for i < cnt; ia and ib are 0 or 1. y may be a or b
 * itself (the planner runs element-wise nodes in place): the compiler's overlap check
 * then failed and it ran the scalar loop, so "omp simd" says that lanes are independent,
 * which holds since every y[i] reads only index i. */
#define BIN_LOOP(expr)                                                                \
	do {                                                                          \
		if (ia && ib)                                                         \
			_Pragma("omp simd")                                           \
			for (int64_t i = 0; i < cnt; i++) { float x = a[i], z = b[i]; y[i] = (expr); } \
		else if (ia) {                                                        \
			float z = b[0];                                               \
			_Pragma("omp simd")                                           \
			for (int64_t i = 0; i < cnt; i++) { float x = a[i]; y[i] = (expr); } \
		} else if (ib) {                                                      \
			float x = a[0];                                               \
			_Pragma("omp simd")                                           \
			for (int64_t i = 0; i < cnt; i++) { float z = b[i]; y[i] = (expr); } \
		} else {                                                              \
			float x = a[0], z = b[0];                                     \
			_Pragma("omp simd")                                           \
			for (int64_t i = 0; i < cnt; i++) y[i] = (expr);              \
		}                                                                     \
	} while (0)

OPS_VECTOR static void bin_run(int op, const float *a, int64_t ia, const float *b, int64_t ib, float *y,
                               int64_t cnt)
{
	switch (op) {
	case BIN_ADD: BIN_LOOP(x + z); break;
	case BIN_SUB: BIN_LOOP(x - z); break;
	case BIN_MUL: BIN_LOOP(x * z); break;
	default: BIN_LOOP(x / z); break;
	}
}

/* Flat output elements [lo, hi): whole or partial runs of the last axis. */
static void bin_bcast_range(void *arg, int64_t lo, int64_t hi)
{
	const bin_bjob *j = arg;
	int64_t inner = j->dims[j->nd - 1], ia = j->sa[j->nd - 1], ib = j->sb[j->nd - 1];

	while (lo < hi) {
		int64_t r = lo / inner, i0 = lo % inner, len = inner - i0, oa = 0, ob = 0;

		if (len > hi - lo)
			len = hi - lo;
		for (int d = j->nd - 2; d >= 0; d--) {
			int64_t k = r % j->dims[d];
			r /= j->dims[d];
			oa += k * j->sa[d];
			ob += k * j->sb[d];
		}
		bin_run(j->op, j->a + oa + i0 * ia, ia, j->b + ob + i0 * ib, ib, j->y + lo, len);
		lo += len;
	}
}

void bin_float_bcast(int op, int nd, const int64_t *dims, const int64_t *sa, const int64_t *sb, const float *a,
                     const float *b, float *y, const inf_cpu_ctx *cx)
{
	bin_bjob j = { op, nd, dims, sa, sb, a, b, y };
	int64_t cnt = 1;

	for (int d = 0; d < nd; d++)
		cnt *= dims[d];
	ops_par_range(cx, cnt, BIN_RANGE_MIN, bin_bcast_range, &j);
}
