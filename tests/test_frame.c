/* Reference-counted pooled frames (pipeline/vp_frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "pipeline/vp_frame.h"
#include "test_wait.h"

static int g_released, g_destroyed;
static void on_release(void *ctx, vp_frame *f) { (void)ctx; (void)f; g_released++; }
static void on_destroy(void *ctx, vp_frame *f) { (void)ctx; (void)f; g_destroyed++; }

static void test_last_unref_returns_frame_to_pool(void **state)
{
	(void)state;
	vp_frame_pool *p;
	g_released = g_destroyed = 0;
	assert_int_equal(vp_frame_pool_new(2, on_release, on_destroy, NULL, &p), 0);
	vp_frame *a = vp_frame_pool_get(p);
	vp_frame *b = vp_frame_ref(a);
	vp_frame_unref(&a);
	assert_null(a);
	assert_int_equal(g_released, 0);
	vp_frame_unref(&b);
	assert_int_equal(g_released, 1);
	vp_frame_pool_free(&p);
	assert_int_equal(g_destroyed, 2);
}

typedef struct releaser {
	vp_frame *f;
	volatile pid_t waiter;   /* the thread blocked in vp_frame_pool_get */
	int waited;              /* it was seen asleep before the release */
} releaser;

/* Returns the frame once the waiter is blocked, so the wake-up is what is tested. */
static void *release_later(void *arg)
{
	releaser *r = arg;
	r->waited = tw_wait_thread_sleeping(&r->waiter, TW_DEADLINE_MS);
	vp_frame_unref(&r->f);
	return NULL;
}

static void test_empty_pool_blocks_until_a_frame_returns(void **state)
{
	(void)state;
	vp_frame_pool *p;
	assert_int_equal(vp_frame_pool_new(1, NULL, NULL, NULL, &p), 0);
	vp_frame *a = vp_frame_pool_get(p);
	releaser r = { .f = a, .waiter = tw_gettid() };
	pthread_t th;
	pthread_create(&th, NULL, release_later, &r);
	vp_frame *b = vp_frame_pool_get(p); /* waits for the other thread's unref */
	assert_ptr_equal(a, b);
	pthread_join(th, NULL);
	assert_true(r.waited);
	vp_frame_unref(&b);
	vp_frame_pool_free(&p);
}

static void test_pool_outlives_owner_until_frames_return(void **state)
{
	(void)state;
	vp_frame_pool *p;
	g_destroyed = 0;
	assert_int_equal(vp_frame_pool_new(3, NULL, on_destroy, NULL, &p), 0);
	vp_frame *a = vp_frame_pool_get(p);
	vp_frame_pool_free(&p);
	assert_int_equal(g_destroyed, 0);
	vp_frame_unref(&a);
	assert_int_equal(g_destroyed, 3);
}

static void test_closed_pool_gives_no_frames(void **state)
{
	(void)state;
	vp_frame_pool *p;
	assert_int_equal(vp_frame_pool_new(1, NULL, NULL, NULL, &p), 0);
	vp_frame_pool_close(p);
	assert_null(vp_frame_pool_get(p));
	vp_frame_pool_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_unref_returns_frame_to_pool),
		cmocka_unit_test(test_empty_pool_blocks_until_a_frame_returns),
		cmocka_unit_test(test_pool_outlives_owner_until_frames_return),
		cmocka_unit_test(test_closed_pool_gives_no_frames),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
