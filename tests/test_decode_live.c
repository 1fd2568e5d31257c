/* Live behaviour of dec_stream: RTSP from a real server (tests/rtsp_server.py, GStreamer)
 * that the test kills, freezes and restarts; backoff without a server; realtime pacing. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "decode/source.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

static char clip[512];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void live_cfg(pipe_source_cfg *c, const char *uri)
{
	memset(c, 0, sizeof(*c));
	c->id = "live";
	c->uri = (char *)uri;
	c->decoder = PIPE_DEC_AUTO;
	c->interval = 1;
	c->queue.depth = 8;
	c->queue.policy = PIPE_QP_DROP_OLDEST;
	c->reconnect_initial_ms = 200;
	c->reconnect_max_ms = 1000;
	c->rtsp_transport = PIPE_RTSP_TCP;
	c->rtsp_timeout_ms = 1500;
	c->is_file = !strstr(uri, "://");
}

/* Runs argv with its stdout on a pipe until it prints a line that pattern (one %d)
 * reads the port from; returns its pid. quiet: its stderr (a request log) is dropped. */
static pid_t spawn_server(char *const argv[], const char *pattern, int quiet, int *port)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The server must not outlive a test that failed or crashed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		if (quiet)
			freopen("/dev/null", "w", stderr);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	FILE *out = fdopen(fds[0], "r");
	char line[256] = "";
	int got = 0;
	while (!got && fgets(line, sizeof(line), out))
		got = sscanf(line, pattern, port) == 1;
	fclose(out);
	if (!got)
		fail_msg("%s did not start", argv[1]);
	return pid;
}

/* tests/rtsp_server.py on port (0: any free one); sets *port to the one it listens on. */
static pid_t start_server(int *port)
{
	char port_arg[16];
	snprintf(port_arg, sizeof(port_arg), "%d", *port);
	char *argv[] = { "/usr/bin/python3", "tests/rtsp_server.py", port_arg, clip, NULL };
	return spawn_server(argv, "ready %d", 0, port);
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A thread that reads frames until interrupted, publishing the count and last arrival. */
typedef struct reader {
	dec_stream *s;
	atomic_long frames;
	atomic_llong last_ms;
	atomic_int pts_went_back;
	int rc;
	pthread_t thread;
} reader;

static void *read_loop(void *arg)
{
	reader *rd = arg;
	vp_frame *f = NULL;
	double last_pts = -1;
	int64_t want_index = 0;
	while ((rd->rc = dec_stream_read(rd->s, &f)) == 0) {
		if (f->pts <= last_pts || f->index != want_index)
			atomic_store(&rd->pts_went_back, 1);
		last_pts = f->pts;
		want_index = f->index + 1;
		vp_frame_unref(&f);
		atomic_store(&rd->last_ms, now_ms());
		atomic_fetch_add(&rd->frames, 1);
	}
	return NULL;
}

static void start_reader(reader *rd, dec_stream *s)
{
	rd->s = s;
	atomic_store(&rd->frames, 0);
	atomic_store(&rd->last_ms, 0);
	atomic_store(&rd->pts_went_back, 0);
	assert_int_equal(pthread_create(&rd->thread, NULL, read_loop, rd), 0);
}

/* Polls until cond(s, arg) holds or ms pass; returns the time it took or -1. */
static int64_t wait_for(int (*cond)(reader *, long), reader *rd, long arg, int64_t ms)
{
	int64_t t0 = now_ms();
	while (now_ms() - t0 < ms) {
		if (cond(rd, arg))
			return now_ms() - t0;
		usleep(10 * 1000);
	}
	return -1;
}

static int has_frames(reader *rd, long n) { return atomic_load(&rd->frames) >= n; }

static int in_state(reader *rd, long state)
{
	dec_stats st;
	dec_stream_get_stats(rd->s, &st);
	return st.state == state;
}

static int reconnected(reader *rd, long n)
{
	dec_stats st;
	dec_stream_get_stats(rd->s, &st);
	return st.reconnects >= n;
}

static void stop_reader(reader *rd)
{
	int64_t t0 = now_ms();
	dec_stream_interrupt(rd->s);
	pthread_join(rd->thread, NULL);
	assert_int_equal(rd->rc, VP_EOF);
	assert_true(now_ms() - t0 < 1000);
}

static void rtsp_frames_flow(enum pipe_rtsp_transport transport)
{
	int port = 0;
	pid_t srv = start_server(&port);
	char uri[128];
	snprintf(uri, sizeof(uri), "rtsp://127.0.0.1:%d/clip", port);
	pipe_source_cfg cfg;
	live_cfg(&cfg, uri);
	cfg.rtsp_transport = transport;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 1, 4, &s), 0);
	reader rd;
	start_reader(&rd, s);
	/* The server paces at 10 fps: 15 frames within a few seconds, in order. */
	assert_true(wait_for(has_frames, &rd, 15, 5000) >= 0);
	assert_true(in_state(&rd, DEC_RUNNING));
	assert_int_equal(atomic_load(&rd.pts_went_back), 0);
	stop_reader(&rd);
	dec_stream_free(&s);
	stop_server(srv);
}

static void test_rtsp_over_tcp_delivers_frames_in_order(void **state)
{
	(void)state;
	rtsp_frames_flow(PIPE_RTSP_TCP);
}

static void test_rtsp_over_udp_delivers_frames_in_order(void **state)
{
	(void)state;
	rtsp_frames_flow(PIPE_RTSP_UDP);
}

static void test_rtsp_server_killed_then_restarted_stream_recovers(void **state)
{
	(void)state;
	int port = 0;
	pid_t srv = start_server(&port);
	char uri[128];
	snprintf(uri, sizeof(uri), "rtsp://127.0.0.1:%d/clip", port);
	pipe_source_cfg cfg;
	live_cfg(&cfg, uri);
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 4, &s), 0);
	reader rd;
	start_reader(&rd, s);
	assert_true(wait_for(has_frames, &rd, 10, 5000) >= 0);

	stop_server(srv);
	int64_t lost = wait_for(in_state, &rd, DEC_BACKOFF, cfg.rtsp_timeout_ms + 1000);
	print_message("server killed: backoff after %lld ms\n", (long long)lost);
	assert_true(lost >= 0);
	/* Let the backoff grow to its cap while the port is closed: three refused retries
	 * (delays up to 200, 400, 800 ms) leave the next delay at reconnect_max_ms. */
	dec_stats st;
	dec_stream_get_stats(s, &st);
	int64_t capped = wait_for(reconnected, &rd, (long)st.reconnects + 3, 10000);
	print_message("backoff at its cap after %lld ms\n", (long long)capped);
	assert_true(capped >= 0);
	long before = atomic_load(&rd.frames);

	srv = start_server(&port);
	int64_t restarted = now_ms();
	int64_t back = wait_for(has_frames, &rd, before + 1, cfg.reconnect_max_ms + 1000);
	/* Measured under load on the 2-core machine (2 busy loops, 20 runs): 514-1046 ms,
	 * median 902, against max_ms + 1 s = 2000 ms from the server's ready line. */
	print_message("server restarted: frames again after %lld ms\n", (long long)back);
	assert_true(back >= 0);
	assert_true(atomic_load(&rd.last_ms) - restarted <= cfg.reconnect_max_ms + 1000);
	dec_stream_get_stats(s, &st);
	assert_true(st.reconnects >= 1);
	assert_int_equal(st.state, DEC_RUNNING);
	assert_int_equal(atomic_load(&rd.pts_went_back), 0);
	stop_reader(&rd);
	dec_stream_free(&s);
	stop_server(srv);
}

static void test_rtsp_frozen_server_times_out_into_backoff(void **state)
{
	(void)state;
	int port = 0;
	pid_t srv = start_server(&port);
	char uri[128];
	snprintf(uri, sizeof(uri), "rtsp://127.0.0.1:%d/clip", port);
	pipe_source_cfg cfg;
	live_cfg(&cfg, uri);
	cfg.rtsp_timeout_ms = 800;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 4, &s), 0);
	reader rd;
	start_reader(&rd, s);
	assert_true(wait_for(has_frames, &rd, 5, 5000) >= 0);
	/* A stopped process keeps its sockets open: only the read timeout notices. */
	kill(srv, SIGSTOP);
	int64_t t = wait_for(in_state, &rd, DEC_BACKOFF, 3000);
	print_message("frozen server: backoff after %lld ms (timeout %d ms)\n", (long long)t,
	              cfg.rtsp_timeout_ms);
	/* Measured under load (2 busy loops, 20 runs): 1601-1663 ms, median 1623. */
	assert_true(t >= 0 && t < cfg.rtsp_timeout_ms + 1500);
	kill(srv, SIGCONT);
	stop_reader(&rd);
	dec_stream_free(&s);
	stop_server(srv);
}

/* An RTSP URI on a port that refuses: bound, then closed. */
static void refused_uri(char *uri, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	snprintf(uri, size, "rtsp://127.0.0.1:%d/none", ntohs(a.sin_port));
}

static void test_no_server_backs_off_exponentially(void **state)
{
	(void)state;
	char uri[128];
	refused_uri(uri, sizeof(uri));
	pipe_source_cfg cfg;
	live_cfg(&cfg, uri);
	cfg.reconnect_initial_ms = 100;
	cfg.reconnect_max_ms = 400;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	reader rd;
	start_reader(&rd, s);
	usleep(2000 * 1000);
	dec_stats st;
	dec_stream_get_stats(s, &st);
	print_message("2 s without a server: %lld reconnects\n", (long long)st.reconnects);
	/* Delays 50-100, 100-200, 200-400, then 200-400 ms: 6 to 10 tries in 2 s. A fixed
	 * initial delay would make 20 or more; no cap would make 5 or fewer. */
	/* Measured under load (2 busy loops, 20 runs): 7 to 9 tries. */
	assert_true(st.reconnects >= 4 && st.reconnects <= 12);
	assert_int_equal(atomic_load(&rd.frames), 0);
	stop_reader(&rd);
	dec_stream_free(&s);
}

/* The delays themselves, read from the "retrying after N ms" lines rather than timed, so a
 * loaded machine cannot blur them: 50-100, 100-200, 200-400 ms, then every delay stays in
 * [max_ms / 2, max_ms]. Without the cap the fourth would be 400-800 ms, the fifth 800-1600. */
static void test_no_server_delays_stop_growing_at_max_ms(void **state)
{
	(void)state;
	char uri[128], log[] = "/tmp/vapd-backoff-XXXXXX";
	refused_uri(uri, sizeof(uri));
	pipe_source_cfg cfg;
	live_cfg(&cfg, uri);
	cfg.reconnect_initial_ms = 100;
	cfg.reconnect_max_ms = 400;
	int lfd = mkstemp(log);
	assert_true(lfd >= 0);
	unlink(log);  /* read through lfd; gone whatever the outcome */
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(lfd, STDERR_FILENO);
	enum vp_log_level level = vp_log_get_level();
	vp_log_set_level(VP_LOG_INFO);
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	reader rd;
	start_reader(&rd, s);
	int64_t took = wait_for(reconnected, &rd, 7, 60000);
	stop_reader(&rd);
	dec_stream_free(&s);
	vp_log_set_level(level);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_true(took >= 0);
	FILE *f = fdopen(lfd, "r");
	rewind(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, "retrying after ");
		if (!at)
			continue;
		int ms = atoi(at + strlen("retrying after "));
		int hi = n < 3 ? 100 << n : 400;
		print_message("retry %d after %d ms (allowed %d-%d)\n", n + 1, ms, hi / 2, hi);
		assert_true(ms >= hi / 2 && ms <= hi);
		n++;
	}
	fclose(f);
	assert_true(n >= 7);
}

static void test_missing_v4l2_device_backs_off_without_crashing(void **state)
{
	(void)state;
	pipe_source_cfg cfg;
	live_cfg(&cfg, "v4l2:///dev/video-vapd-missing");
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	reader rd;
	start_reader(&rd, s);
	assert_true(wait_for(in_state, &rd, DEC_BACKOFF, 2000) >= 0);
	stop_reader(&rd);
	dec_stream_free(&s);
}

static void test_hls_over_http_delivers_frames_and_replays_at_its_end(void **state)
{
	(void)state;
	char dir[] = "/tmp/vapd-test-hls-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[1024], short_clip[600];
	snprintf(short_clip, sizeof(short_clip), "%s", clip);
	snprintf(strrchr(short_clip, '/') + 1, 32, "people-2s.mp4");
	snprintf(cmd, sizeof(cmd), "ffmpeg -v error -i '%s' -c copy -f hls -hls_time 1 "
	         "-hls_list_size 0 '%s/clip.m3u8'", short_clip, dir);
	assert_int_equal(system(cmd), 0);
	int port = 0;
	char *argv[] = { "/usr/bin/python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
	                 "--directory", dir, "0", NULL };
	pid_t srv = spawn_server(argv, "Serving HTTP on 127.0.0.1 port %d", 1, &port);
	char uri[128];
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/clip.m3u8", port);
	pipe_source_cfg cfg;
	live_cfg(&cfg, uri);
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 4, &s), 0);
	reader rd;
	start_reader(&rd, s);
	/* A finished (VOD) playlist of 20 frames ends like a lost peer: the stream backs
	 * off, reconnects and plays it again, pts still increasing. */
	assert_true(wait_for(has_frames, &rd, 30, 5000) >= 0);
	dec_stats st;
	dec_stream_get_stats(s, &st);
	assert_true(st.reconnects >= 1);
	assert_int_equal(atomic_load(&rd.pts_went_back), 0);
	stop_reader(&rd);
	dec_stream_free(&s);
	stop_server(srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_realtime_loop_holds_the_clip_fps(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", clip);
	char *slash = strrchr(path, '/');
	snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "people-2s.mp4");
	pipe_source_cfg cfg;
	live_cfg(&cfg, path);  /* 20 frames at 10 fps */
	cfg.realtime = true;
	cfg.loop = true;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 4, &s), 0);
	enum { N = 31 };
	int64_t first = 0, last = 0;
	double prev = -1;
	for (int i = 0; i < N; i++) {
		vp_frame *f = NULL;
		assert_int_equal(dec_stream_read(s, &f), 0);
		assert_int_equal(f->index, i);
		assert_true(f->pts > prev);
		prev = f->pts;
		if (i == 0)
			first = f->mono_ns;
		last = f->mono_ns;
		vp_frame_unref(&f);
	}
	double fps = (N - 1) / ((double)(last - first) / 1e9);
	print_message("realtime loop: %.3f fps (clip 10 fps)\n", fps);
	/* Measured under load (2 busy loops, 20 runs): 9.989-10.000 fps (frame times are the
	 * pacer's release times, which a busy machine delays but does not spread). */
	assert_true(fabs(fps - 10.0) <= 0.2);
	dec_stream_free(&s);
}

static int setup(void **state)
{
	(void)state;
	const char *shared = getenv("SHARED");
	snprintf(clip, sizeof(clip), "%s/data/videos/people-432p.mp4", shared ? shared : "../shared");
	const char *level = getenv("VAPD_TEST_LOG");  /* e.g. info, to watch the transitions */
	vp_log_set_level(level && vp_log_parse_level(level) >= 0 ? vp_log_parse_level(level)
	                                                         : VP_LOG_ERROR);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtsp_over_tcp_delivers_frames_in_order),
		cmocka_unit_test(test_rtsp_over_udp_delivers_frames_in_order),
		cmocka_unit_test(test_rtsp_server_killed_then_restarted_stream_recovers),
		cmocka_unit_test(test_rtsp_frozen_server_times_out_into_backoff),
		cmocka_unit_test(test_no_server_backs_off_exponentially),
		cmocka_unit_test(test_no_server_delays_stop_growing_at_max_ms),
		cmocka_unit_test(test_missing_v4l2_device_backs_off_without_crashing),
		cmocka_unit_test(test_hls_over_http_delivers_frames_and_replays_at_its_end),
		cmocka_unit_test(test_realtime_loop_holds_the_clip_fps),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
