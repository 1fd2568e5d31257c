/* The cuda backend's per-batch-size CUDA graph policy (infer/cuda/cuda_graph_policy.c): warm-up
 * run, capture, replay; a failed capture retried at the next run of that size, given up
 * after CU_GRAPH_MAX_FAILURES, with no effect on the other sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "infer/cuda/cuda_graph_policy.h"

/* One run of a slot whose captures succeed when ok; returns the step taken and whether
 * the run gave up on graphs. */
static enum cu_graph_step run(cu_graph_slot *s, int ok, int *gave_up)
{
	enum cu_graph_step step = cu_graph_next(s);
	int g = cu_graph_done(s, step, ok);
	if (gave_up)
		*gave_up = g;
	return step;
}

static void test_first_run_is_eager_second_captures_then_replays(void **state)
{
	(void)state;
	cu_graph_slot s = { 0 };
	assert_int_equal(run(&s, 1, NULL), CU_GRAPH_EAGER);
	assert_int_equal(s.state, CU_GRAPH_WARM);
	assert_int_equal(run(&s, 1, NULL), CU_GRAPH_CAPTURE);
	assert_int_equal(s.state, CU_GRAPH_READY);
	for (int i = 0; i < 5; i++)
		assert_int_equal(run(&s, 1, NULL), CU_GRAPH_REPLAY);
	assert_int_equal(s.failures, 0);
}

static void test_failed_capture_is_retried_at_the_next_run(void **state)
{
	(void)state;
	cu_graph_slot s = { 0 };
	int gave_up = -1;
	run(&s, 1, NULL);
	assert_int_equal(run(&s, 0, &gave_up), CU_GRAPH_CAPTURE);
	assert_int_equal(gave_up, 0);
	assert_int_equal(s.failures, 1);
	assert_int_equal(s.state, CU_GRAPH_WARM);
	/* the next run captures again and succeeds: graphs stay on */
	assert_int_equal(run(&s, 1, NULL), CU_GRAPH_CAPTURE);
	assert_int_equal(run(&s, 1, NULL), CU_GRAPH_REPLAY);
}

static void test_size_gives_up_after_the_bounded_failures_once(void **state)
{
	(void)state;
	cu_graph_slot s = { 0 };
	int gave_up = 0, times = 0;
	run(&s, 1, NULL);
	for (int i = 0; i < CU_GRAPH_MAX_FAILURES; i++) {
		assert_int_equal(run(&s, 0, &gave_up), CU_GRAPH_CAPTURE);
		times += gave_up;
		assert_int_equal(gave_up, i == CU_GRAPH_MAX_FAILURES - 1);
	}
	assert_int_equal(s.state, CU_GRAPH_OFF);
	/* from then on eager, never reported again */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(run(&s, 0, &gave_up), CU_GRAPH_EAGER);
		times += gave_up;
	}
	assert_int_equal(times, 1);
	assert_int_equal(s.failures, CU_GRAPH_MAX_FAILURES);
}

static void test_one_size_giving_up_leaves_the_others_alone(void **state)
{
	(void)state;
	cu_graph_slot sizes[5] = { { 0 } };   /* batch 1..4 */
	for (int b = 1; b <= 4; b++)
		run(&sizes[b], 1, NULL);
	for (int i = 0; i < CU_GRAPH_MAX_FAILURES; i++)
		run(&sizes[2], 0, NULL);
	for (int b = 1; b <= 4; b++)
		if (b != 2)
			assert_int_equal(run(&sizes[b], 1, NULL), CU_GRAPH_CAPTURE);
	assert_int_equal(cu_graph_next(&sizes[2]), CU_GRAPH_EAGER);
	assert_int_equal(cu_graph_next(&sizes[1]), CU_GRAPH_REPLAY);
	assert_int_equal(cu_graph_next(&sizes[4]), CU_GRAPH_REPLAY);
	assert_int_equal(cu_graph_next(&sizes[3]), CU_GRAPH_REPLAY);
}

static void test_outcomes_of_other_steps_change_nothing(void **state)
{
	(void)state;
	cu_graph_slot s = { .state = CU_GRAPH_READY };
	assert_int_equal(cu_graph_done(&s, CU_GRAPH_REPLAY, 0), 0);
	assert_int_equal(s.state, CU_GRAPH_READY);
	s = (cu_graph_slot){ .state = CU_GRAPH_WARM };
	assert_int_equal(cu_graph_done(&s, CU_GRAPH_EAGER, 0), 0);   /* eager in WARM: still captures next */
	assert_int_equal(cu_graph_next(&s), CU_GRAPH_CAPTURE);
	s = (cu_graph_slot){ .state = CU_GRAPH_OFF, .failures = CU_GRAPH_MAX_FAILURES };
	assert_int_equal(cu_graph_done(&s, CU_GRAPH_CAPTURE, 1), 0);  /* a stray report cannot revive it */
	assert_int_equal(s.state, CU_GRAPH_OFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_run_is_eager_second_captures_then_replays),
		cmocka_unit_test(test_failed_capture_is_retried_at_the_next_run),
		cmocka_unit_test(test_size_gives_up_after_the_bounded_failures_once),
		cmocka_unit_test(test_one_size_giving_up_leaves_the_others_alone),
		cmocka_unit_test(test_outcomes_of_other_steps_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
