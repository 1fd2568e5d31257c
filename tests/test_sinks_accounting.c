/* Every accepted message ends as exactly one of sent, dropped or failed, and sent means
 * the kernel took all of its bytes: file sinks on /dev/full and on a file that hits its
 * size limit mid-line, stdout on /dev/full, a tcp:// peer nobody listens on. Also the
 * connected state the /metrics gauge shows, against dead and live peers. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "sinks/dispatch_internal.h"
#include "test_netsinks_util.h"
#include "test_sinks_check.h"

static sink_set *open_one(const pipe_sink_cfg *sc, pipe_config *cfg)
{
	*cfg = (pipe_config){ .sinks = (pipe_sink_cfg *)sc, .n_sinks = 1 };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open(cfg, &s), 0);
	return s;
}

/* Frame messages of ~1 KB (10 labelled detections), with pauses so the sink thread
 * writes them in several batches. */
static void publish_frames(sink_set *s, int n, int pause_every, int pause_us)
{
	vp_det d[10];
	for (int i = 0; i < 10; i++)
		d[i] = (vp_det){ i % 3, 0.9f - i * 0.05f, { 100.5f + i, 200.25f, 300.75f, 400.0f + i } };
	for (int i = 0; i < n; i++) {
		vp_frame f = test_frame("cam-acct", i);
		sink_msg *m;
		assert_int_equal(sink_msg_frame(&f, d, 10, coco3, 3, &m), 0);
		assert_int_equal(sink_set_publish(s, m), 0);
		sink_msg_unref(&m);
		if (pause_every && i % pause_every == pause_every - 1)
			usleep((useconds_t)pause_us);
	}
}

static void assert_all_accounted(const sink_counters *c, int64_t n)
{
	assert_int_equal(c->accepted, n);
	assert_int_equal(c->sent + c->dropped + c->failed, n);
}

static void test_file_sink_on_dev_full_counts_every_message_failed(void **state)
{
	(void)state;
	enum { N = 120 };
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = "/dev/full", .mode = PIPE_FILE_APPEND };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, N, 10, 2000);
	sink_counters c;
	sink_set_close_counted(&s, &c);
	assert_all_accounted(&c, N);
	assert_int_equal(c.sent, 0);
	assert_int_equal(c.failed, N);
}

/* In a child whose RLIMIT_FSIZE is limit bytes (SIGXFSZ ignored, so writes past it fail
 * with EFBIG at that exact offset): writes n frames to path, reports the final counters
 * through a pipe. */
static sink_counters run_with_file_limit(const char *path, rlim_t limit, int n, int flush_ms)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { limit, limit };
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(2);
		pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = (char *)path,
		                     .mode = PIPE_FILE_TRUNCATE, .flush_ms = flush_ms };
		pipe_config cfg = { .sinks = &sc, .n_sinks = 1 };
		sink_set *s = NULL;
		if (sink_set_open(&cfg, &s) < 0)
			_exit(3);
		publish_frames(s, n, 7, 3000);
		sink_counters c;
		sink_set_close_counted(&s, &c);
		_exit(write(fds[1], &c, sizeof(c)) == (ssize_t)sizeof(c) ? 0 : 4);
	}
	close(fds[1]);
	sink_counters c = { 0 };
	assert_int_equal(read(fds[0], &c, sizeof(c)), (ssize_t)sizeof(c));
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return c;
}

/* The file must end with a whole line and hold exactly the lines counted sent. */
static void assert_file_holds_sent_lines(const char *path, const sink_counters *c)
{
	char **lines = check_file(path, 1);   /* also fails on a torn last line */
	assert_int_equal(count_lines(lines), c->sent);
	free_lines(lines);
}

static void test_file_sink_at_its_size_limit_leaves_no_torn_line(void **state)
{
	(void)state;
	enum { N = 100 };
	char path[128];
	path_in_tmp(path, sizeof(path), "limited.jsonl");
	/* Buffered (flush after every batch) and flush_ms-buffered: the limit falls inside a
	 * line either way (20000 is not a multiple of the ~1 KB lines). */
	for (int flush_ms = 0; flush_ms <= 50; flush_ms += 50) {
		sink_counters c = run_with_file_limit(path, 20000, N, flush_ms);
		assert_all_accounted(&c, N);
		assert_true(c.sent > 0);
		assert_true(c.failed > 0);
		assert_int_equal(c.dropped, 0);
		assert_file_holds_sent_lines(path, &c);
		unlink(path);
	}
}

static void test_stdout_sink_on_dev_full_counts_every_message_failed(void **state)
{
	(void)state;
	enum { N = 80 };
	int full = open("/dev/full", O_WRONLY);
	assert_true(full >= 0);
	fflush(stdout);
	int saved = dup(1);
	dup2(full, 1);
	close(full);
	pipe_sink_cfg sc = { .type = PIPE_SINK_STDOUT };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, N, 10, 2000);
	sink_counters c;
	sink_set_close_counted(&s, &c);
	dup2(saved, 1);
	close(saved);
	assert_all_accounted(&c, N);
	assert_int_equal(c.sent, 0);
	assert_int_equal(c.failed, N);
}

static pipe_sink_cfg socket_cfg(const char *address)
{
	pipe_sink_cfg c = { .type = PIPE_SINK_SOCKET, .address = (char *)address };
	c.queue.depth = 64;
	c.reconnect_initial_ms = 20;
	c.reconnect_max_ms = 100;
	return c;
}

/* Polls the connected state of sink 0 until it is want or timeout_ms passed. */
static int wait_connected(sink_set *s, int want, int timeout_ms)
{
	for (int64_t end = tn_now_ms() + timeout_ms; tn_now_ms() < end; tn_sleep_ms(10))
		if (sink_set_connected(s, 0) == want)
			break;
	return sink_set_connected(s, 0);
}

static void test_tcp_sink_to_a_refusing_port_sends_nothing(void **state)
{
	(void)state;
	enum { N = 200 };
	char addr[64];
	snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", tn_free_port(SOCK_STREAM));
	pipe_sink_cfg sc = socket_cfg(addr);
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	/* Slow enough that connects are attempted (and refused) while messages arrive. */
	publish_frames(s, N, 5, 5000);
	assert_int_equal(sink_set_connected(s, 0), 0);
	sink_counters c;
	sink_set_close_counted(&s, &c);
	assert_all_accounted(&c, N);
	assert_int_equal(c.sent, 0);
	assert_true(c.failed > 0);
}

static void test_connected_follows_a_tcp_peer_that_comes_and_goes(void **state)
{
	(void)state;
	int port = tn_free_port(SOCK_STREAM);
	char addr[64];
	snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", port);
	pipe_sink_cfg sc = socket_cfg(addr);
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	assert_int_equal(wait_connected(s, 0, 300), 0);
	int lfd = tn_tcp_listen(port);
	assert_true(lfd >= 0);
	assert_int_equal(wait_connected(s, 1, 3000), 1);   /* reconnected on a tick */
	int cfd = tn_accept(lfd, 2000);
	assert_true(cfd >= 0);
	publish_frames(s, 20, 0, 0);
	close(cfd);
	close(lfd);
	assert_int_equal(wait_connected(s, 0, 3000), 0);
	sink_counters c;
	sink_set_close_counted(&s, &c);
	assert_all_accounted(&c, 20);
}

static void test_connected_is_0_for_a_missing_unix_socket(void **state)
{
	(void)state;
	char addr[160];
	snprintf(addr, sizeof(addr), "unix://%s/nobody.sock", tmpdir);
	pipe_sink_cfg sc = socket_cfg(addr);
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 10, 0, 0);
	assert_int_equal(wait_connected(s, 0, 300), 0);
	sink_counters c;
	sink_set_close_counted(&s, &c);
	assert_all_accounted(&c, 10);
	assert_int_equal(c.sent, 0);
}

static void test_file_and_stdout_sinks_are_connected_while_writing_works(void **state)
{
	(void)state;
	char path[128];
	path_in_tmp(path, sizeof(path), "up.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	assert_int_equal(sink_set_connected(s, 0), 1);
	publish_frames(s, 10, 0, 0);
	assert_int_equal(wait_connected(s, 1, 300), 1);
	sink_counters c;
	sink_set_close_counted(&s, &c);
	assert_all_accounted(&c, 10);
	assert_int_equal(c.sent, 10);
	unlink(path);

	sc.path = "/dev/full";
	sc.mode = PIPE_FILE_APPEND;
	s = open_one(&sc, &cfg);
	publish_frames(s, 10, 0, 0);
	assert_int_equal(wait_connected(s, 0, 1000), 0);
	sink_set_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_sink_on_dev_full_counts_every_message_failed),
		cmocka_unit_test(test_file_sink_at_its_size_limit_leaves_no_torn_line),
		cmocka_unit_test(test_stdout_sink_on_dev_full_counts_every_message_failed),
		cmocka_unit_test(test_tcp_sink_to_a_refusing_port_sends_nothing),
		cmocka_unit_test(test_connected_follows_a_tcp_peer_that_comes_and_goes),
		cmocka_unit_test(test_connected_is_0_for_a_missing_unix_socket),
		cmocka_unit_test(test_file_and_stdout_sinks_are_connected_while_writing_works),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
