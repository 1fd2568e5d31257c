/* The cuDNN convolution algorithm choice (infer/cuda/cuda_conv_pick.h) on made-up Find results,
 * without a GPU: FP32 keeps only FMA math, FP16 keeps tensor-op math, rows that did not
 * run or need more workspace than allowed are skipped, each algorithm appears once, and
 * the candidates come fastest first (a smaller batch that refuses the first takes the
 * next in this order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "infer/cuda/cuda_conv_pick.h"

#define MB ((size_t)1 << 20)

enum { GEMM = 0, IMPLICIT_PRECOMP = 1, FFT = 4, WINOGRAD = 6, WINOGRAD_NF = 7 };

static int pick(const cu_algo_perf *perf, int n, int half, size_t limit, int *order)
{
	return cu_conv_pick(perf, n, half, limit, order, 8);
}

static void test_fp32_drops_every_math_but_fma(void **state)
{
	(void)state;
	const cu_algo_perf perf[] = {
		{ IMPLICIT_PRECOMP, 0, 0.10f, 0, CU_MATH_TENSOR_OP, 1 },
		{ WINOGRAD, 0, 0.12f, 0, CU_MATH_DEFAULT, 1 },     /* may be TF32 on Ampere+ */
		{ FFT, 0, 0.13f, 0, CU_MATH_TENSOR_OP_CONVERT, 1 },
		{ GEMM, 0, 0.30f, 0, CU_MATH_FMA, 1 },
		{ IMPLICIT_PRECOMP, 0, 0.40f, 0, CU_MATH_FMA, 1 },
	};
	int order[8];
	assert_int_equal(pick(perf, 5, 0, 64 * MB, order), 2);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 4);
	assert_false(cu_conv_math_ok(CU_MATH_DEFAULT, 0));
	assert_true(cu_conv_math_ok(CU_MATH_FMA, 0));
}

static void test_fp16_keeps_tensor_op_math(void **state)
{
	(void)state;
	const cu_algo_perf perf[] = {
		{ IMPLICIT_PRECOMP, 0, 0.05f, 0, CU_MATH_TENSOR_OP, 1 },
		{ GEMM, 0, 0.20f, 0, CU_MATH_FMA, 1 },
		{ WINOGRAD_NF, 0, 0.08f, MB, CU_MATH_TENSOR_OP_CONVERT, 0 },
	};
	int order[8];
	assert_int_equal(pick(perf, 3, 1, 64 * MB, order), 3);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
}

static void test_rows_that_failed_are_skipped(void **state)
{
	(void)state;
	const cu_algo_perf perf[] = {
		{ FFT, 3000, -1.0f, 0, CU_MATH_FMA, 0 },    /* CUDNN_STATUS_NOT_SUPPORTED */
		{ WINOGRAD, 4000, 0.01f, 0, CU_MATH_FMA, 0 },   /* an execution failure with a time */
		{ GEMM, 0, 0.50f, 0, CU_MATH_FMA, 1 },
	};
	int order[8];
	assert_int_equal(pick(perf, 3, 0, 64 * MB, order), 1);
	assert_int_equal(order[0], 2);
	assert_int_equal(pick(perf, 2, 0, 64 * MB, order), 0);   /* nothing runs: no candidate */
}

static void test_workspace_limit_is_respected(void **state)
{
	(void)state;
	const cu_algo_perf perf[] = {
		{ FFT, 0, 0.10f, 600 * MB, CU_MATH_FMA, 1 },
		{ WINOGRAD_NF, 0, 0.20f, 512 * MB, CU_MATH_FMA, 1 },   /* exactly the limit: fits */
		{ GEMM, 0, 0.30f, 0, CU_MATH_FMA, 1 },
	};
	int order[8];
	assert_int_equal(pick(perf, 3, 0, 512 * MB, order), 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(pick(perf, 3, 0, 0, order), 1);
	assert_int_equal(order[0], 2);
}

/* The fallback order a smaller batch walks: by time whatever order cuDNN listed the rows
 * in, equal times deterministic first then in cuDNN's order, one row per algorithm (its
 * fastest), and at most max candidates (the slowest dropped). */
static void test_fallback_order(void **state)
{
	(void)state;
	const cu_algo_perf perf[] = {
		{ GEMM, 0, 0.30f, 0, CU_MATH_FMA, 1 },
		{ WINOGRAD, 0, 0.20f, 0, CU_MATH_FMA, 0 },
		{ FFT, 0, 0.20f, 0, CU_MATH_FMA, 1 },
		{ IMPLICIT_PRECOMP, 0, 0.25f, 0, CU_MATH_FMA, 0 },
		{ WINOGRAD_NF, 0, 0.25f, 0, CU_MATH_FMA, 0 },
		{ GEMM, 0, 0.10f, 0, CU_MATH_TENSOR_OP, 1 },   /* the same algorithm, other math: half only */
	};
	int order[8];
	assert_int_equal(pick(perf, 6, 0, 64 * MB, order), 5);
	const int want32[] = { 2, 1, 3, 4, 0 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(order[i], want32[i]);
	/* FP16: GEMM's tensor-op row is faster and replaces its FMA row */
	assert_int_equal(pick(perf, 6, 1, 64 * MB, order), 5);
	const int want16[] = { 5, 2, 1, 3, 4 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(order[i], want16[i]);
	/* room for two: the two fastest */
	assert_int_equal(cu_conv_pick(perf, 6, 0, 64 * MB, order, 2), 2);
	assert_int_equal(order[0], 2);
	assert_int_equal(order[1], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fp32_drops_every_math_but_fma),
		cmocka_unit_test(test_fp16_keeps_tensor_op_math),
		cmocka_unit_test(test_rows_that_failed_are_skipped),
		cmocka_unit_test(test_workspace_limit_is_respected),
		cmocka_unit_test(test_fallback_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
