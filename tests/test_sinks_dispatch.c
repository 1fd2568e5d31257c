/* Dispatcher: fan-out, ordering, queue policies, failure isolation, ticks. Test-only sinks
 * (recording, slow, failing) go through sink_set_open_with(), never the registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/vp_err.h"
#include "sinks/dispatch_internal.h"
#include "sinks/msg.h"
#include "sinks/sink.h"

/* What a test sink saw. Found by its config (each test sink gets its own pipe_sink_cfg). */
typedef struct recorder {
	const pipe_sink_cfg *cfg;
	int delay_us;             /* per write: a slow peer */
	int fail;                 /* write returns -EIO */
	int fail_open;
	int64_t *frames;          /* frame numbers written, in order */
	atomic_int n;             /* polled by the test while the sink thread writes */
	int cap;
	_Atomic double last_at;   /* CLOCK_MONOTONIC seconds of the latest write */
	int ticks, flushes, closed;
} recorder;

static recorder recs[4];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct rec_priv { recorder *r; } rec_priv;

static int rec_open(void *priv, const pipe_sink_cfg *cfg, const char *name)
{
	(void)name;
	rec_priv *p = priv;
	for (int i = 0; i < 4; i++)
		if (recs[i].cfg == cfg)
			p->r = &recs[i];
	assert_non_null(p->r);
	return p->r->fail_open ? -ECONNREFUSED : 0;
}

static int rec_write(void *priv, const sink_msg *msg)
{
	recorder *r = ((rec_priv *)priv)->r;
	if (r->delay_us)
		usleep((useconds_t)r->delay_us);
	if (r->fail)
		return -EIO;
	const char *f = strstr(msg->text, "\"frame\":");
	if (!f || r->n == r->cap)
		return -EINVAL;
	r->frames[r->n] = atoll(f + 8);
	r->n++;
	r->last_at = now_s();
	return 0;
}

static int rec_flush(void *priv)
{
	((rec_priv *)priv)->r->flushes++;
	return 0;
}

static void rec_tick(void *priv) { ((rec_priv *)priv)->r->ticks++; }
static void rec_close(void *priv) { ((rec_priv *)priv)->r->closed++; }

static const sink_ops rec_ops = {
	.type = "recorder",
	.priv_size = sizeof(rec_priv),
	.open = rec_open,
	.write = rec_write,
	.flush = rec_flush,
	.close = rec_close,
	.tick = rec_tick,
};

static pipe_sink_cfg cfgs[4];

static recorder *rec_setup(int i, int depth, enum pipe_queue_policy policy, int cap)
{
	cfgs[i] = (pipe_sink_cfg){ .queue = { depth, policy } };
	free(recs[i].frames);
	recs[i] = (recorder){ .cfg = &cfgs[i], .cap = cap };
	recs[i].frames = calloc((size_t)cap, sizeof(int64_t));
	return &recs[i];
}

static int teardown_recs(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		free(recs[i].frames);
		recs[i] = (recorder){ 0 };
	}
	return 0;
}

static void publish(sink_set *s, int64_t first, int n)
{
	vp_det d = { 0, 0.5f, { 1, 2, 3, 4 } };
	for (int i = 0; i < n; i++) {
		vp_frame f = { .stream_id = "cam1", .index = first + i, .width = 64, .height = 48 };
		sink_msg *m;
		assert_int_equal(sink_msg_frame(&f, &d, 1, NULL, 0, &m), 0);
		assert_int_equal(sink_set_publish(s, m), 0);
		sink_msg_unref(&m);
	}
}

static void assert_counters(sink_set *s, int i, int64_t sent, int64_t dropped, int64_t failed)
{
	sink_counters c;
	sink_set_counters(s, i, NULL, &c);
	assert_int_equal(c.sent, sent);
	assert_int_equal(c.dropped, dropped);
	assert_int_equal(c.failed, failed);
}

static void assert_in_order(const recorder *r, int64_t first)
{
	for (int i = 0; i < r->n; i++)
		assert_int_equal(r->frames[i], first + i);
}

static void test_dispatch_two_sinks_get_everything_in_order(void **state)
{
	(void)state;
	enum { N = 20000 };
	recorder *a = rec_setup(0, 16, PIPE_QP_BLOCK, N);
	recorder *b = rec_setup(1, 1000, PIPE_QP_AUTO, N);   /* auto: block for this ops */
	sink_spec specs[2] = { { &rec_ops, &cfgs[0] }, { &rec_ops, &cfgs[1] } };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(specs, 2, &s), 0);
	assert_int_equal(sink_set_count(s), 2);
	publish(s, 0, N);
	sink_set_close(&s);
	assert_null(s);
	assert_int_equal(a->n, N);
	assert_int_equal(b->n, N);
	assert_in_order(a, 0);
	assert_in_order(b, 0);
	assert_int_equal(a->closed, 1);
	assert_int_equal(b->closed, 1);
	assert_true(a->flushes >= 1);
}

/* The slow sink would need N * 20 ms = 4 s; with drop_oldest neither the publisher nor the
 * fast sink may wait for it. */
static void test_dispatch_slow_drop_oldest_sink_drops_and_fast_sink_is_not_delayed(void **state)
{
	(void)state;
	enum { N = 200 };
	recorder *slow = rec_setup(0, 4, PIPE_QP_DROP_OLDEST, N);
	recorder *fast = rec_setup(1, 4, PIPE_QP_BLOCK, N);
	slow->delay_us = 20000;
	sink_spec specs[2] = { { &rec_ops, &cfgs[0] }, { &rec_ops, &cfgs[1] } };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(specs, 2, &s), 0);
	double t0 = now_s();
	publish(s, 0, N);
	double published = now_s() - t0;
	while (fast->n < N && now_s() - t0 < 5)
		usleep(1000);
	double fast_done = fast->last_at - t0;
	/* let the slow one drain its short queue: then every message is written or dropped */
	sink_counters c = { 0 };
	while (c.sent + c.dropped < N && now_s() - t0 < 5) {
		usleep(1000);
		sink_set_counters(s, 0, NULL, &c);
	}
	sink_set_close(&s);

	assert_true(published < 1.0);
	assert_true(fast_done < 1.0);
	assert_int_equal(fast->n, N);
	assert_in_order(fast, 0);
	assert_true(c.dropped > 0);
	assert_int_equal(c.failed, 0);
	assert_int_equal(c.sent, slow->n);
	assert_int_equal(c.sent + c.dropped, N);
	for (int i = 1; i < slow->n; i++)
		assert_true(slow->frames[i] > slow->frames[i - 1]);
	assert_int_equal(slow->frames[slow->n - 1], N - 1);  /* the newest survives */
}

static void test_dispatch_block_policy_pushes_back_on_publisher(void **state)
{
	(void)state;
	enum { N = 60 };
	recorder *r = rec_setup(0, 4, PIPE_QP_BLOCK, N);
	r->delay_us = 5000;
	sink_spec spec = { &rec_ops, &cfgs[0] };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(&spec, 1, &s), 0);
	double t0 = now_s();
	publish(s, 0, N);
	double published = now_s() - t0;
	sink_set_close(&s);
	/* at most queue depth + one batch in flight can be ahead of the writes */
	assert_true(published >= (N - 8) * 0.005 * 0.9);
	assert_int_equal(r->n, N);
	assert_in_order(r, 0);
}

static void test_dispatch_file_sink_never_drops_even_if_asked_to(void **state)
{
	(void)state;
	enum { N = 5000 };
	char dir[] = "/tmp/vapd-test-dispatch-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.jsonl", dir);
	pipe_sink_cfg fc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE,
	                     .queue = { 2, PIPE_QP_DROP_OLDEST }, .flush_ms = 0 };
	sink_spec spec = { sink_ops_find("file"), &fc };
	assert_non_null(spec.ops);
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(&spec, 1, &s), 0);
	publish(s, 0, N);
	sink_set_close(&s);

	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "\"frame\":");
		assert_non_null(p);
		assert_int_equal(atoll(p + 8), n);
		n++;
	}
	fclose(f);
	assert_int_equal(n, N);
	unlink(path);
	rmdir(dir);
}

static void test_dispatch_failing_sink_is_counted_and_isolated(void **state)
{
	(void)state;
	enum { N = 1000 };
	recorder *bad = rec_setup(0, 16, PIPE_QP_BLOCK, N);
	recorder *good = rec_setup(1, 16, PIPE_QP_BLOCK, N);
	bad->fail = 1;
	sink_spec specs[2] = { { &rec_ops, &cfgs[0] }, { &rec_ops, &cfgs[1] } };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(specs, 2, &s), 0);
	publish(s, 0, N);
	/* drain before reading counters: closing would free them */
	double t0 = now_s();
	sink_counters c = { 0 };
	while (c.failed < N && now_s() - t0 < 5) {
		usleep(1000);
		sink_set_counters(s, 0, NULL, &c);
	}
	assert_counters(s, 0, 0, 0, N);
	while (good->n < N && now_s() - t0 < 5)
		usleep(1000);
	assert_counters(s, 1, N, 0, 0);
	sink_set_close(&s);
	assert_int_equal(good->n, N);
	assert_in_order(good, 0);
	assert_int_equal(bad->closed, 1);
}

static void test_dispatch_ticks_while_idle(void **state)
{
	(void)state;
	recorder *r = rec_setup(0, 4, PIPE_QP_BLOCK, 1);
	sink_spec spec = { &rec_ops, &cfgs[0] };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(&spec, 1, &s), 0);
	usleep(650000);
	sink_set_close(&s);
	assert_true(r->ticks >= 3);
	assert_true(r->ticks <= 8);
}

static void test_dispatch_open_failure_closes_every_sink(void **state)
{
	(void)state;
	recorder *ok = rec_setup(0, 4, PIPE_QP_BLOCK, 1);
	recorder *bad = rec_setup(1, 4, PIPE_QP_BLOCK, 1);
	bad->fail_open = 1;
	sink_spec specs[2] = { { &rec_ops, &cfgs[0] }, { &rec_ops, &cfgs[1] } };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open_with(specs, 2, &s), -ECONNREFUSED);
	assert_null(s);
	assert_int_equal(ok->closed, 1);
	assert_int_equal(bad->closed, 1);   /* close is owed after a failed open too */
}

static void test_dispatch_rejects_unknown_sink_type(void **state)
{
	(void)state;
	pipe_sink_cfg sc = { .type = (enum pipe_sink_type)99 };
	pipe_config cfg = { .sinks = &sc, .n_sinks = 1 };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open(&cfg, &s), VP_EUNSUP);
	assert_null(s);
	assert_null(sink_ops_find("no-such-sink"));
	assert_ptr_equal(sink_ops_find(sink_type_name(PIPE_SINK_STDOUT)), sink_ops_find("stdout"));
	assert_string_equal(sink_ops_find("file")->type, "file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_dispatch_two_sinks_get_everything_in_order, teardown_recs),
		cmocka_unit_test_teardown(test_dispatch_slow_drop_oldest_sink_drops_and_fast_sink_is_not_delayed,
		                          teardown_recs),
		cmocka_unit_test_teardown(test_dispatch_block_policy_pushes_back_on_publisher, teardown_recs),
		cmocka_unit_test(test_dispatch_file_sink_never_drops_even_if_asked_to),
		cmocka_unit_test_teardown(test_dispatch_failing_sink_is_counted_and_isolated, teardown_recs),
		cmocka_unit_test_teardown(test_dispatch_ticks_while_idle, teardown_recs),
		cmocka_unit_test_teardown(test_dispatch_open_failure_closes_every_sink, teardown_recs),
		cmocka_unit_test(test_dispatch_rejects_unknown_sink_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
