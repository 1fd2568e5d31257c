/* Per-stream queues and the fair batcher (pipeline/mqueue.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "pipeline/mqueue.h"
#include "pipeline/vp_err.h"
#include "test_wait.h"

#include <errno.h>

static int g_dropped_items;
static void count_drop(void *item) { (void)item; __atomic_fetch_add(&g_dropped_items, 1, __ATOMIC_RELAXED); }

#define ITEM(s, k) ((void *)(intptr_t)((s) * 1000 + (k) + 1))

/* How long a thread the test waits on may take before the test calls it hung: far above
 * the few milliseconds these waits take, so a loaded machine does not fail them. */
#define HANG_MS 5000

static double ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1e3 + (b.tv_nsec - a->tv_nsec) / 1e6;
}

/* Joins th, failing the test (instead of hanging the suite) when it does not end within
 * HANG_MS. A hung thread is left behind, and so is its queue: freeing it under a waiter
 * would be undefined. */
static void join_within(pthread_t th, const char *what)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += HANG_MS / 1000;
	if (pthread_timedjoin_np(th, NULL, &deadline) != 0)
		fail_msg("%s: still blocked after %d ms", what, HANG_MS);
}

/* A consumer thread blocked in pipe_mq_pop_batch, and what the call returned. */
typedef struct popper {
	pipe_mq *q;
	int max, timeout_ms;
	void *items[8];
	int streams[8], ended[4], n_ended, n;
	volatile int started;
	volatile pid_t tid;   /* the popping thread, for tw_wait_thread_sleeping */
	double ms;   /* how long the pop took */
} popper;

static void *pop(void *arg)
{
	popper *p = arg;
	struct timespec a;
	clock_gettime(CLOCK_MONOTONIC, &a);
	__atomic_store_n(&p->tid, tw_gettid(), __ATOMIC_RELEASE);
	__atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
	p->n = pipe_mq_pop_batch(p->q, p->max, p->timeout_ms, p->items, p->streams, p->ended,
	                         &p->n_ended);
	p->ms = ms_since(&a);
	return NULL;
}

/* Starts pop() and returns once it is blocked (nothing to take yet): its thread asleep. */
static void start_popper(popper *p, pthread_t *th)
{
	assert_int_equal(pthread_create(th, NULL, pop, p), 0);
	if (!tw_wait_thread_sleeping(&p->tid, TW_DEADLINE_MS))
		fail_msg("pop_batch on an empty queue did not block within %d ms", TW_DEADLINE_MS);
}

static void test_batch_takes_streams_round_robin(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(3, NULL, &q), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipe_mq_setup(q, i, 16, PIPE_MQ_BLOCK), 0);
	/* Stream 0 is busy (10 frames), streams 1 and 2 have one each. */
	for (int k = 0; k < 10; k++)
		pipe_mq_push(q, 0, ITEM(0, k));
	pipe_mq_push(q, 1, ITEM(1, 0));
	pipe_mq_push(q, 2, ITEM(2, 0));
	void *items[4];
	int streams[4], ended[3], n_ended;
	int n = pipe_mq_pop_batch(q, 4, 10, items, streams, ended, &n_ended);
	assert_int_equal(n, 4);
	int per[3] = { 0 };
	for (int i = 0; i < n; i++)
		per[streams[i]]++;
	/* The quiet streams are not starved by the busy one. */
	assert_int_equal(per[1], 1);
	assert_int_equal(per[2], 1);
	assert_int_equal(per[0], 2);
	/* Order within a stream is kept. */
	int last = -1;
	for (int i = 0; i < n; i++)
		if (streams[i] == 0) {
			int k = (int)(intptr_t)items[i] - 1;
			assert_true(k > last);
			last = k;
		}
	pipe_mq_free(&q);
}

static void test_drop_oldest_counts_and_keeps_newest(void **state)
{
	(void)state;
	pipe_mq *q;
	g_dropped_items = 0;
	assert_int_equal(pipe_mq_new(1, count_drop, &q), 0);
	assert_int_equal(pipe_mq_setup(q, 0, 3, PIPE_MQ_DROP_OLDEST), 0);
	for (int k = 0; k < 10; k++)
		assert_int_equal(pipe_mq_push(q, 0, ITEM(0, k)), 0);
	assert_int_equal(pipe_mq_dropped(q, 0), 7);
	assert_int_equal(g_dropped_items, 7);
	void *items[8];
	int streams[8], ended[1], n_ended;
	int n = pipe_mq_pop_batch(q, 8, 1, items, streams, ended, &n_ended);
	assert_int_equal(n, 3);
	assert_ptr_equal(items[0], ITEM(0, 7));
	assert_ptr_equal(items[2], ITEM(0, 9));
	pipe_mq_free(&q);
}

static void test_end_reported_once_after_items(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(2, NULL, &q), 0);
	pipe_mq_setup(q, 0, 4, PIPE_MQ_BLOCK);
	pipe_mq_setup(q, 1, 4, PIPE_MQ_BLOCK);
	pipe_mq_push(q, 0, ITEM(0, 0));
	pipe_mq_close(q, 0);
	void *items[4];
	int streams[4], ended[2], n_ended;
	int n = pipe_mq_pop_batch(q, 4, 5, items, streams, ended, &n_ended);
	/* The item comes first; the end is only reported once the stream is drained. */
	assert_int_equal(n, 1);
	if (n_ended == 0) {
		n = pipe_mq_pop_batch(q, 4, 5, items, streams, ended, &n_ended);
		assert_int_equal(n, 0);
	}
	assert_int_equal(n_ended, 1);
	assert_int_equal(ended[0], 0);
	pipe_mq_close(q, 1);
	n = pipe_mq_pop_batch(q, 4, 5, items, streams, ended, &n_ended);
	assert_int_equal(n_ended, 1);
	assert_int_equal(ended[0], 1);
	/* Every stream ended: the consumer is told so. */
	n = pipe_mq_pop_batch(q, 4, 5, items, streams, ended, &n_ended);
	assert_int_equal(n, 0);
	assert_int_equal(n_ended, 0);
	pipe_mq_free(&q);
}

typedef struct producer { pipe_mq *q; int stream, count, pushed, rc; volatile pid_t tid; } producer;

static void *produce(void *arg)
{
	producer *p = arg;
	__atomic_store_n(&p->tid, tw_gettid(), __ATOMIC_RELEASE);
	for (int k = 0; k < p->count; k++) {
		if ((p->rc = pipe_mq_push(p->q, p->stream, ITEM(p->stream, k))) < 0)
			break;
		__atomic_store_n(&p->pushed, p->pushed + 1, __ATOMIC_RELEASE);
	}
	pipe_mq_close(p->q, p->stream);
	return NULL;
}

static void test_block_policy_loses_nothing_under_load(void **state)
{
	(void)state;
	enum { STREAMS = 4, PER = 5000 };
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(STREAMS, NULL, &q), 0);
	producer pr[STREAMS];
	pthread_t th[STREAMS];
	for (int i = 0; i < STREAMS; i++) {
		pipe_mq_setup(q, i, 2, PIPE_MQ_BLOCK);
		pr[i] = (producer){ .q = q, .stream = i, .count = PER };
		pthread_create(&th[i], NULL, produce, &pr[i]);
	}
	int next[STREAMS] = { 0 }, ends = 0;
	for (;;) {
		void *items[8];
		int streams[8], ended[STREAMS], n_ended;
		int n = pipe_mq_pop_batch(q, 8, 2, items, streams, ended, &n_ended);
		if (n == 0 && n_ended == 0)
			break;
		for (int i = 0; i < n; i++) {
			assert_ptr_equal(items[i], ITEM(streams[i], next[streams[i]]));
			next[streams[i]]++;
		}
		ends += n_ended;
	}
	for (int i = 0; i < STREAMS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(next[i], PER);
		assert_int_equal(pipe_mq_dropped(q, i), 0);
	}
	assert_int_equal(ends, STREAMS);
	pipe_mq_free(&q);
}

static void test_partial_batch_after_timeout(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(1, NULL, &q), 0);
	pipe_mq_setup(q, 0, 8, PIPE_MQ_BLOCK);
	pipe_mq_push(q, 0, ITEM(0, 0));
	popper p = { .q = q, .max = 8, .timeout_ms = 50 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, pop, &p), 0);
	join_within(th, "pop_batch with one item and a 50 ms deadline");
	/* A lone frame waits for company at most timeout_ms, then goes alone. */
	assert_int_equal(p.n, 1);
	assert_ptr_equal(p.items[0], ITEM(0, 0));
	print_message("pop waited %.1f ms\n", p.ms);
	assert_true(p.ms >= 45.0);
	assert_true(p.ms < 2000.0);
	pipe_mq_free(&q);
}

/* The first item is in and the producer sleeps: blocked waiting for room for the second. */
static int producer_blocked(void *arg)
{
	producer *p = arg;
	pid_t tid = __atomic_load_n(&p->tid, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&p->pushed, __ATOMIC_ACQUIRE) == 1 && tid && tw_thread_sleeping(tid);
}

static void test_shutdown_releases_blocked_producer(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(1, NULL, &q), 0);
	pipe_mq_setup(q, 0, 1, PIPE_MQ_BLOCK);
	producer pr = { .q = q, .stream = 0, .count = 3 };
	pthread_t th;
	pthread_create(&th, NULL, produce, &pr);
	/* Shut down once the first item is in and the producer is blocked on the second. */
	if (!tw_wait(producer_blocked, &pr, TW_DEADLINE_MS))
		fail_msg("the producer did not block on a full queue within %d ms", TW_DEADLINE_MS);
	pipe_mq_shutdown(q);
	join_within(th, "producer blocked on a full queue after shutdown");
	/* The first item fit; the second waited for room and was refused by the shutdown. */
	assert_int_equal(pr.pushed, 1);
	assert_int_equal(pr.rc, VP_ECLOSED);
	pipe_mq_free(&q);
}

static void test_close_wakes_a_consumer_waiting_for_work(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(2, NULL, &q), 0);
	assert_int_equal(pipe_mq_setup(q, 0, 4, PIPE_MQ_BLOCK), 0);
	assert_int_equal(pipe_mq_setup(q, 1, 4, PIPE_MQ_BLOCK), 0);
	popper p = { .q = q, .max = 4, .timeout_ms = 10 };
	pthread_t th;
	start_popper(&p, &th);
	/* An empty queue: the consumer waits without a deadline until something happens. */
	pipe_mq_close(q, 1);
	join_within(th, "pop_batch waiting on an empty queue when stream 1 was closed");
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_ended, 1);
	assert_int_equal(p.ended[0], 1);
	pipe_mq_close(q, 0);
	pipe_mq_free(&q);
}

static void test_push_wakes_a_consumer_and_the_batch_ends_by_its_deadline(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(2, NULL, &q), 0);
	assert_int_equal(pipe_mq_setup(q, 0, 4, PIPE_MQ_BLOCK), 0);
	assert_int_equal(pipe_mq_setup(q, 1, 4, PIPE_MQ_BLOCK), 0);
	popper p = { .q = q, .max = 4, .timeout_ms = 50 };
	pthread_t th;
	start_popper(&p, &th);
	struct timespec a;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(pipe_mq_push(q, 1, ITEM(1, 0)), 0);
	/* Woken by the item, it waits at most 50 ms for a fuller batch, then returns it. */
	join_within(th, "pop_batch after one push with a 50 ms deadline");
	double ms = ms_since(&a);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.streams[0], 1);
	assert_ptr_equal(p.items[0], ITEM(1, 0));
	assert_int_equal(p.n_ended, 0);
	print_message("waited %.1f ms\n", ms);
	assert_true(ms >= 45.0);
	assert_true(ms < 2000.0);
	pipe_mq_free(&q);
}

static void test_slot_reopens_after_its_end_was_reported(void **state)
{
	(void)state;
	pipe_mq *q;
	assert_int_equal(pipe_mq_new(4, NULL, &q), 0);
	assert_int_equal(pipe_mq_setup(q, 0, 2, PIPE_MQ_BLOCK), 0);
	assert_int_equal(pipe_mq_setup(q, 1, 2, PIPE_MQ_BLOCK), 0);
	/* A slot in use cannot be taken twice. */
	assert_int_equal(pipe_mq_setup(q, 0, 2, PIPE_MQ_BLOCK), -EBUSY);
	pipe_mq_close(q, 0);
	void *items[2];
	int streams[2], ended[4], n_ended;
	assert_int_equal(pipe_mq_pop_batch(q, 2, 1, items, streams, ended, &n_ended), 0);
	assert_int_equal(n_ended, 1);
	/* Stream 1 is still open, so a new stream can take slot 0 and is served. */
	assert_int_equal(pipe_mq_setup(q, 0, 2, PIPE_MQ_DROP_OLDEST), 0);
	pipe_mq_push(q, 0, ITEM(0, 5));
	assert_int_equal(pipe_mq_pop_batch(q, 2, 1, items, streams, ended, &n_ended), 1);
	assert_ptr_equal(items[0], ITEM(0, 5));
	pipe_mq_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_takes_streams_round_robin),
		cmocka_unit_test(test_drop_oldest_counts_and_keeps_newest),
		cmocka_unit_test(test_end_reported_once_after_items),
		cmocka_unit_test(test_block_policy_loses_nothing_under_load),
		cmocka_unit_test(test_partial_batch_after_timeout),
		cmocka_unit_test(test_shutdown_releases_blocked_producer),
		cmocka_unit_test(test_close_wakes_a_consumer_waiting_for_work),
		cmocka_unit_test(test_push_wakes_a_consumer_and_the_batch_ends_by_its_deadline),
		cmocka_unit_test(test_slot_reopens_after_its_end_was_reported),
	};
	return cmocka_run_group_tests_name("mqueue", tests, NULL, NULL);
}
