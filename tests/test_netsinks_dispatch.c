/* Network sinks behind the real dispatcher (sink_set): dead and stuck peers cost their
 * own sink drops and failures, never time for the publisher or the other sinks. */
#include <pthread.h>
#include <stdatomic.h>

#include "sinks/dispatch_internal.h"
#include "test_netsinks_util.h"
#include "test_wait.h"
#include "test_sinks_check.h"

/* A subscriber that keeps every byte it receives, for the JSON schema checker. */
typedef struct reader_arg {
	int fd;
	FILE *raw;
	tn_lines lines;
	atomic_long progress;         /* lines.count, readable from the publisher's thread */
} reader_arg;

static void *reader_main(void *p)
{
	reader_arg *r = p;
	char buf[65536];
	for (;;) {
		ssize_t k = recv(r->fd, buf, sizeof(buf), 0);
		if (k <= 0)
			break;
		fwrite(buf, 1, (size_t)k, r->raw);
		tn_lines_feed(&r->lines, buf, (size_t)k);
		atomic_store(&r->progress, r->lines.count);
	}
	return NULL;
}

static pipe_sink_cfg net_cfg(enum pipe_sink_type type, int depth, enum pipe_queue_policy policy)
{
	pipe_sink_cfg c = { 0 };
	c.type = type;
	c.queue.depth = depth;
	c.queue.policy = policy;
	c.reconnect_initial_ms = 50;
	c.reconnect_max_ms = 500;
	return c;
}

/* A healthy tcp-listen sink (blocking queue) and three broken peers: a tcp server that
 * never reads, a udp port nobody listens on, an mqtt broker that is down. */
static void four_sinks(pipe_sink_cfg *sinks, char addrs[4][64], int listen_port, int stuck_port)
{
	snprintf(addrs[0], 64, "tcp-listen://127.0.0.1:%d", listen_port);
	snprintf(addrs[1], 64, "tcp://127.0.0.1:%d", stuck_port);
	snprintf(addrs[2], 64, "udp://127.0.0.1:%d", tn_free_port(SOCK_DGRAM));
	snprintf(addrs[3], 64, "mqtt://127.0.0.1:%d", tn_free_port(SOCK_STREAM));
	sinks[0] = net_cfg(PIPE_SINK_SOCKET, 256, PIPE_QP_BLOCK);
	sinks[1] = net_cfg(PIPE_SINK_SOCKET, 64, PIPE_QP_AUTO);
	sinks[2] = net_cfg(PIPE_SINK_SOCKET, 64, PIPE_QP_AUTO);
	for (int i = 0; i < 3; i++)
		sinks[i].address = addrs[i];
	sinks[3] = net_cfg(PIPE_SINK_MQTT, 32, PIPE_QP_AUTO);
	sinks[3].broker = addrs[3];
	sinks[3].topic = "vapd/{stream}/detections";
	sinks[3].qos = 1;
	sinks[3].keepalive_s = 30;
}

static void test_dead_and_stuck_peers_never_delay_the_pipeline_or_other_sinks(void **state)
{
	(void)state;
	static char addrs[4][64];
	int listen_port = tn_free_port(SOCK_STREAM), stuck_port = tn_free_port(SOCK_STREAM);
	pipe_sink_cfg sinks[4];
	four_sinks(sinks, addrs, listen_port, stuck_port);
	pipe_config cfg = { .name = "lobby", .sinks = sinks, .n_sinks = 4 };

	int stuck_lfd = tn_tcp_listen(stuck_port), small = 4096;
	assert_true(stuck_lfd >= 0);
	/* Inherited by the accepted socket: the stuck peer's window stays tiny. */
	setsockopt(stuck_lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	sink_set *set = NULL;
	assert_int_equal(sink_set_open(&cfg, &set), 0);
	int stuck = tn_accept(stuck_lfd, 2000);
	assert_true(stuck >= 0);
	char raw_path[256];
	path_in_tmp(raw_path, sizeof(raw_path), "received.jsonl");
	reader_arg r = { .fd = tn_tcp_connect(listen_port, 0), .raw = fopen(raw_path, "w") };
	assert_true(r.fd >= 0);
	assert_non_null(r.raw);
	tn_lines_init(&r.lines);
	/* The listening sink accepts its subscriber on a tick: every message goes to it after. */
	for (int64_t end = tn_now_ms() + TW_DEADLINE_MS; tw_listen_queue(listen_port) != 0;
	     tn_sleep_ms(1))
		if (tn_now_ms() > end)
			fail_msg("the tcp-listen sink did not accept its subscriber within %d ms", TW_DEADLINE_MS);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);

	const long n = 3000;
	vp_frame f = { .stream_id = "cam1", .width = 1920, .height = 1080 };
	vp_det dets[20];
	for (int k = 0; k < 20; k++)
		dets[k] = (vp_det){ .class_id = k % 5, .score = 0.3f + 0.03f * (float)k,
		                    .bbox = { 10.0f * k, 20.0f, 10.0f * k + 55.5f, 400.25f } };
	int64_t worst = 0, t_start = tn_now_ms();
	for (long i = 0; i < n; i++) {
		f.index = i;
		f.pts = (double)i / 25.0;
		f.wall_us = 1795622400000000LL + i * 40000;
		sink_msg *m = NULL;
		assert_int_equal(sink_msg_frame(&f, dets, 20, NULL, 0, &m), 0);
		int64_t t0 = tn_now_ms();
		assert_int_equal(sink_set_publish(set, m), 0);
		int64_t dt = tn_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		sink_msg_unref(&m);
		/* The healthy subscriber is never left more than ~350 kB behind, so only the
		 * broken peers can fall behind, however slowly this machine runs the reader. */
		for (int64_t end = tn_now_ms() + 2000;
		     i % 50 == 49 && atomic_load(&r.progress) < i - 200 && tn_now_ms() < end;)
			tn_sleep_ms(1);
	}
	int64_t publish_ms = tn_now_ms() - t_start;
	sink_counters c[4];
	/* The broken peers' threads account for what they hold a little later (a connect
	 * attempt in progress): wait for that, briefly, rather than race it on a loaded machine. */
	for (int64_t end = tn_now_ms() + 3000;; tn_sleep_ms(10)) {
		for (int i = 0; i < 4; i++)
			sink_set_counters(set, i, NULL, &c[i]);
		if (c[2].sent + c[2].dropped >= n - 65 || tn_now_ms() > end)
			break;
	}
	sink_counters final[4];
	sink_set_close_counted(&set, final);
	pthread_join(th, NULL);

	print_message("slowest publish: %lld ms; %ld publishes in %lld ms\n", (long long)worst, n,
	              (long long)publish_ms);
	/* The slowest of 3000 publishes, measured under load on the 2-core machine (2 busy
	 * loops, 20 runs): 1 to 54 ms, median 4.5; all 3000 took 54 to 162 ms. A publish that
	 * waited on the stuck peer or a connect to the dead ones would take seconds. */
	assert_true(worst < 300);
	assert_true(publish_ms < 10000);
	assert_int_equal(r.lines.count, n);
	assert_int_equal(r.lines.bad, 0);
	fclose(r.raw);
	char **parsed = check_file(raw_path, 1);   /* every line is schema-valid JSON */
	assert_int_equal(count_lines(parsed), n);
	free_lines(parsed);
	assert_int_equal(c[0].dropped + c[0].failed, 0);
	assert_true(c[1].dropped + c[1].failed > 0);   /* stuck peer: its own losses */
	/* Counters were read before the final drain: at most a queue's depth (+1 in hand)
	 * is not accounted for yet. */
	assert_true(c[2].failed == 0 && c[2].sent > 0);   /* udp: fire and forget */
	assert_true(c[2].sent + c[2].dropped >= n - 65);
	/* mqtt, broker down: QoS 1 messages wait in the library (in flight, not yet any of
	 * sent/dropped/failed) until close gives up on them; none was ever delivered. */
	assert_int_equal(c[3].sent, 0);
	assert_int_equal(final[3].sent, 0);
	assert_int_equal(final[3].dropped + final[3].failed, n);
	/* Every accepted message ended in exactly one of the three. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(final[i].accepted, n);
		assert_int_equal(final[i].sent + final[i].dropped + final[i].failed, n);
	}
	assert_int_equal(final[0].sent, n);
	tn_lines_free(&r.lines);
	close(r.fd);
	close(stuck);
	close(stuck_lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_and_stuck_peers_never_delay_the_pipeline_or_other_sinks),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
