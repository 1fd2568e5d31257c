/* Metrics registry, Prometheus rendering and the HTTP endpoint, fetched over real TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "test_skip.h"
#include "test_wait.h"

#include "pipeline/metrics.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *render(pipe_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(pipe_metrics_render(m, f), 0);
	fclose(f);
	return buf;
}

/* Every line is a HELP/TYPE comment or `name{labels} value` per the 0.0.4 text format. */
static void assert_valid_exposition(const char *text)
{
	regex_t re;
	const char *pat =
		"^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|"
		"[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
		"(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? "
		"([-+]?[0-9.eE+-]+|[+-]Inf|NaN))$";
	assert_int_equal(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&re, line, 0, NULL, 0) != 0)
			fail_msg("not exposition format: '%s'", line);
	}
	free(copy);
	regfree(&re);
}

static void test_metrics_renders_counter_and_gauge_with_help_and_type(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_counter *c;
	pipe_gauge *g;
	assert_int_equal(pipe_metrics_new(&m), 0);
	pipe_label cam = { "stream", "cam1" };
	assert_int_equal(pipe_metrics_counter(m, "vapd_test_frames_total", "Frames.\nSecond \\ line",
	                                      &cam, 1, &c), 0);
	assert_int_equal(pipe_metrics_gauge(m, "vapd_test_temp", "Temperature.", NULL, 0, &g), 0);
	pipe_counter_add(c, 41);
	pipe_counter_inc(c);
	pipe_gauge_set(g, 2.5);
	pipe_gauge_add(g, -4);
	char *text = render(m);
	assert_string_equal(text,
		"# HELP vapd_test_frames_total Frames.\\nSecond \\\\ line\n"
		"# TYPE vapd_test_frames_total counter\n"
		"vapd_test_frames_total{stream=\"cam1\"} 42\n"
		"# HELP vapd_test_temp Temperature.\n"
		"# TYPE vapd_test_temp gauge\n"
		"vapd_test_temp -1.5\n");
	assert_valid_exposition(text);
	free(text);
	pipe_metrics_free(&m);
	assert_null(m);
}

static void test_metrics_escapes_label_values(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_gauge *g;
	assert_int_equal(pipe_metrics_new(&m), 0);
	pipe_label l[] = { { "sink", "a\"b\\c\nd" }, { "kind", "file" } };
	assert_int_equal(pipe_metrics_gauge(m, "x", "h", l, 2, &g), 0);
	pipe_gauge_set(g, 1e-7);
	char *text = render(m);
	assert_non_null(strstr(text, "x{sink=\"a\\\"b\\\\c\\nd\",kind=\"file\"} 1e-07\n"));
	assert_valid_exposition(text);
	free(text);
	pipe_metrics_free(&m);
}

static void test_metrics_histogram_buckets_are_cumulative_with_inf_sum_count(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_histogram *h;
	const double b[] = { 0.25, 0.5, 1 };
	assert_int_equal(pipe_metrics_new(&m), 0);
	pipe_label l = { "stage", "infer" };
	assert_int_equal(pipe_metrics_histogram(m, "lat_seconds", "Latency.", &l, 1, b, 3, &h), 0);
	/* Binary fractions keep the sum exact whatever the order of additions. */
	const double obs[] = { 0.125, 0.25, 0.375, 0.75, 2, 4, NAN };
	for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		pipe_histogram_observe(h, obs[i]);
	char *text = render(m);
	assert_string_equal(text,
		"# HELP lat_seconds Latency.\n"
		"# TYPE lat_seconds histogram\n"
		"lat_seconds_bucket{stage=\"infer\",le=\"0.25\"} 2\n"
		"lat_seconds_bucket{stage=\"infer\",le=\"0.5\"} 3\n"
		"lat_seconds_bucket{stage=\"infer\",le=\"1\"} 4\n"
		"lat_seconds_bucket{stage=\"infer\",le=\"+Inf\"} 6\n"
		"lat_seconds_sum{stage=\"infer\"} 7.5\n"
		"lat_seconds_count{stage=\"infer\"} 6\n");
	assert_valid_exposition(text);
	free(text);
	pipe_metrics_free(&m);
}

static void test_metrics_same_labels_return_same_series_in_registration_order(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_counter *a, *b, *a2;
	assert_int_equal(pipe_metrics_new(&m), 0);
	pipe_label la = { "stream", "b-first" }, lb = { "stream", "a-second" };
	assert_int_equal(pipe_metrics_counter(m, "n_total", "N.", &la, 1, &a), 0);
	assert_int_equal(pipe_metrics_counter(m, "n_total", "N.", &lb, 1, &b), 0);
	assert_int_equal(pipe_metrics_counter(m, "n_total", "N.", &la, 1, &a2), 0);
	assert_ptr_equal(a, a2);
	assert_ptr_not_equal(a, b);
	pipe_counter_add(a, 3);
	pipe_counter_add(a2, 4);
	char *text = render(m);
	assert_string_equal(text, "# HELP n_total N.\n# TYPE n_total counter\n"
	                          "n_total{stream=\"b-first\"} 7\nn_total{stream=\"a-second\"} 0\n");
	free(text);
	pipe_metrics_free(&m);
}

static void test_metrics_rejects_bad_names_and_mismatched_families(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_counter *c;
	pipe_gauge *g;
	pipe_histogram *h;
	const double b1[] = { 1, 2 }, b2[] = { 1, 3 }, bad[] = { 2, 1 };
	assert_int_equal(pipe_metrics_new(&m), 0);
	pipe_label ok = { "stream", "x" }, other = { "sink", "x" };
	pipe_label reserved = { "__name", "x" }, le = { "le", "1" }, dash = { "a-b", "x" };
	assert_int_equal(pipe_metrics_counter(m, "9lives", "", NULL, 0, &c), -EINVAL);
	assert_int_equal(pipe_metrics_counter(m, "has space", "", NULL, 0, &c), -EINVAL);
	assert_int_equal(pipe_metrics_counter(m, "c", "", &reserved, 1, &c), -EINVAL);
	assert_int_equal(pipe_metrics_counter(m, "c", "", &dash, 1, &c), -EINVAL);
	assert_int_equal(pipe_metrics_histogram(m, "h", "", &le, 1, b1, 2, &h), -EINVAL);
	assert_int_equal(pipe_metrics_histogram(m, "h", "", NULL, 0, bad, 2, &h), -EINVAL);

	assert_int_equal(pipe_metrics_counter(m, "c", "", &ok, 1, &c), 0);
	assert_int_equal(pipe_metrics_counter(m, "c", "", &other, 1, &c), -EINVAL);
	assert_int_equal(pipe_metrics_counter(m, "c", "", NULL, 0, &c), -EINVAL);
	assert_int_equal(pipe_metrics_gauge(m, "c", "", &ok, 1, &g), -EINVAL);
	assert_int_equal(pipe_metrics_histogram(m, "h", "", NULL, 0, b1, 2, &h), 0);
	assert_int_equal(pipe_metrics_histogram(m, "h", "", NULL, 0, b2, 2, &h), -EINVAL);
	/* Failed registrations leave no trace in the output. */
	char *text = render(m);
	assert_null(strstr(text, "9lives"));
	assert_null(strstr(text, "sink="));
	free(text);
	pipe_metrics_free(&m);
}

#define N_THREADS 8
#define N_ITERS 50000

typedef struct hammer {
	pipe_counter *c;
	pipe_gauge *g;
	pipe_histogram *h;
} hammer;

static void *hammer_run(void *arg)
{
	hammer *hm = arg;
	for (int i = 0; i < N_ITERS; i++) {
		pipe_counter_inc(hm->c);
		pipe_gauge_add(hm->g, 1);
		pipe_histogram_observe(hm->h, (double)(i % 4));   /* 0,1,2,3: sums stay exact */
	}
	return NULL;
}

static void test_metrics_concurrent_updates_sum_exactly(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	hammer hm;
	const double b[] = { 0, 1, 2 };
	assert_int_equal(pipe_metrics_new(&m), 0);
	assert_int_equal(pipe_metrics_counter(m, "c_total", "", NULL, 0, &hm.c), 0);
	assert_int_equal(pipe_metrics_gauge(m, "g", "", NULL, 0, &hm.g), 0);
	assert_int_equal(pipe_metrics_histogram(m, "h", "", NULL, 0, b, 3, &hm.h), 0);
	pthread_t t[N_THREADS];
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &hm), 0);
	/* Rendering while updates run must neither block them nor crash. */
	for (int i = 0; i < 20; i++)
		free(render(m));
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	const unsigned long long n = (unsigned long long)N_THREADS * N_ITERS;
	assert_int_equal(pipe_counter_get(hm.c), n);
	assert_true(pipe_gauge_get(hm.g) == (double)n);
	char *text = render(m), expect[256];
	snprintf(expect, sizeof(expect), "c_total %llu\n", n);
	assert_non_null(strstr(text, expect));
	snprintf(expect, sizeof(expect), "h_bucket{le=\"0\"} %llu\nh_bucket{le=\"1\"} %llu\n"
	         "h_bucket{le=\"2\"} %llu\nh_bucket{le=\"+Inf\"} %llu\nh_sum %llu\nh_count %llu\n",
	         n / 4, n / 2, 3 * n / 4, n, n / 4 * 6, n);
	assert_non_null(strstr(text, expect));
	free(text);
	pipe_metrics_free(&m);
}

static void test_metrics_vapd_set_names_and_null_registry(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_core_metrics core;
	pipe_stream_metrics st, st2;
	pipe_sink_metrics sk;
	/* Metrics off: every handle is NULL and updating them is harmless. */
	assert_int_equal(pipe_metrics_add_core(NULL, "p", &core), 0);
	assert_int_equal(pipe_metrics_add_stream(NULL, "cam1", &st), 0);
	assert_null(st.frames_decoded);
	assert_null(core.batch_size);
	pipe_counter_inc(st.frames_decoded);
	pipe_gauge_set(st.state, 2);
	pipe_histogram_observe(core.batch_size, 4);

	assert_int_equal(pipe_metrics_new(&m), 0);
	assert_int_equal(pipe_metrics_add_core(m, "lobby", &core), 0);
	assert_int_equal(pipe_metrics_add_stream(m, "cam1", &st), 0);
	assert_int_equal(pipe_metrics_add_stream(m, "cam2", &st2), 0);
	assert_int_equal(pipe_metrics_add_sink(m, "file0", &sk), 0);
	pipe_counter_add(st.frames_decoded, 10);
	pipe_counter_add(st2.frames_dropped, 3);
	pipe_gauge_set(st.state, PIPE_STREAM_RUNNING);
	pipe_counter_add(sk.sent, 7);
	pipe_histogram_observe(core.batch_size, 4);
	pipe_histogram_observe(core.stage_latency[PIPE_STAGE_INFER], 0.02);
	pipe_counter_add(core.graph_capture_failures, 2);
	char *text = render(m);
	const char *expect[] = {
		"vapd_build_info{version=\"" VP_VERSION "\",pipeline=\"lobby\"} 1\n",
		"vapd_stream_frames_decoded_total{stream=\"cam1\"} 10\n",
		"vapd_stream_frames_dropped_total{stream=\"cam2\"} 3\n",
		"vapd_stream_state{stream=\"cam1\"} 2\n",
		"vapd_sink_messages_sent_total{sink=\"file0\"} 7\n",
		"vapd_sink_messages_failed_total{sink=\"file0\"} 0\n",
		"vapd_batch_size_bucket{le=\"4\"} 1\n",
		"vapd_stage_latency_seconds_bucket{stage=\"infer\",le=\"0.025\"} 1\n",
		"vapd_stage_latency_seconds_count{stage=\"decode\"} 0\n",
		"vapd_stream_latency_seconds_count{stream=\"cam2\"} 0\n",
		"vapd_gpu_memory_used_bytes 0\n",
		"# TYPE vapd_config_reloads_total counter\n",
		"# TYPE vapd_cuda_graph_capture_failures_total counter\n",
		"vapd_cuda_graph_capture_failures_total 2\n",
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		if (!strstr(text, expect[i]))
			fail_msg("missing '%s' in:\n%s", expect[i], text);
	assert_string_equal(pipe_stage_name(PIPE_STAGE_PUBLISH), "publish");
	assert_valid_exposition(text);
	free(text);
	pipe_metrics_free(&m);
}

/* ---- HTTP ---- */

typedef struct http_reply {
	int status;
	char *head, *body;
} http_reply;

/* One HTTP/1.0 request over a fresh TCP connection; the server closes after replying. */
static void http_fetch(int port, const char *method, const char *path, http_reply *r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	char req[256];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	assert_int_equal(write(fd, req, (size_t)n), n);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t k;
	while ((k = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)k;
		if (cap - len < 1024)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	buf[len] = '\0';
	char *sep = strstr(buf, "\r\n\r\n");
	assert_non_null(sep);
	*sep = '\0';
	r->head = buf;
	r->body = sep + 4;
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
}

static void test_metrics_server_serves_metrics_health_ready_and_404(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_metrics_server *srv = NULL;
	pipe_stream_metrics st;
	http_reply r;
	assert_int_equal(pipe_metrics_new(&m), 0);
	assert_int_equal(pipe_metrics_add_stream(m, "cam\"1", &st), 0);
	pipe_counter_add(st.frames_decoded, 5);
	assert_int_equal(pipe_metrics_server_new(m, "127.0.0.1:0", &srv), 0);
	int port = pipe_metrics_server_port(srv);
	assert_true(port > 0);

	http_fetch(port, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strcasestr(r.head, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(r.body, "# TYPE vapd_stream_frames_decoded_total counter\n"));
	assert_non_null(strstr(r.body, "vapd_stream_frames_decoded_total{stream=\"cam\\\"1\"} 5\n"));
	assert_valid_exposition(r.body);
	free(r.head);

	http_fetch(port, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	free(r.head);
	http_fetch(port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	free(r.head);
	pipe_metrics_server_set_ready(srv, 1);
	http_fetch(port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	free(r.head);
	pipe_metrics_server_set_ready(srv, 0);     /* e.g. while a reload restarts the model */
	http_fetch(port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	free(r.head);

	http_fetch(port, "GET", "/metricsx", &r);
	assert_int_equal(r.status, 404);
	free(r.head);
	http_fetch(port, "GET", "/", &r);
	assert_int_equal(r.status, 404);
	free(r.head);
	http_fetch(port, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	free(r.head);

	pipe_metrics_server_free(&srv);
	assert_null(srv);
	pipe_metrics_free(&m);
}

static void test_metrics_server_rejects_bad_address_and_busy_port(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_metrics_server *a = NULL, *b = NULL;
	assert_int_equal(pipe_metrics_new(&m), 0);
	const char *bad[] = { "9464", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000",
	                      "::1:9464", "[::1]9464", "no.such.host.invalid:9464" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pipe_metrics_server_new(m, bad[i], &a) != VP_ECONFIG)
			fail_msg("'%s' was not rejected as a config error", bad[i]);
	assert_null(a);

	assert_int_equal(pipe_metrics_server_new(m, "127.0.0.1:0", &a), 0);
	char busy[64];
	snprintf(busy, sizeof(busy), "127.0.0.1:%d", pipe_metrics_server_port(a));
	assert_int_equal(pipe_metrics_server_new(m, busy, &b), -EADDRINUSE);
	assert_null(b);
	pipe_metrics_server_free(&a);
	/* Once freed, the port can be served again. */
	assert_int_equal(pipe_metrics_server_new(m, busy, &b), 0);
	pipe_metrics_server_free(&b);
	pipe_metrics_free(&m);
}

/* curl as an independent HTTP client; returns the status code, 0 when unreachable. */
static int curl_status(const char *url)
{
	char cmd[256];
	int code = 0;
	snprintf(cmd, sizeof(cmd), "curl -g -s -o /dev/null -m 5 -w '%%{http_code}' '%s'", url);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	if (fscanf(p, "%d", &code) != 1)
		code = 0;
	pclose(p);
	return code;
}

static void test_metrics_server_wildcard_and_ipv6_reached_by_curl(void **state)
{
	(void)state;
	pipe_metrics *m = NULL;
	pipe_metrics_server *srv = NULL;
	char url[96];
	if (system("command -v curl >/dev/null 2>&1") != 0)
		skip_because("deps", "curl is not installed (make deps installs it)");
	assert_int_equal(pipe_metrics_new(&m), 0);
	/* ":port" listens on every interface, IPv4 included. */
	assert_int_equal(pipe_metrics_server_new(m, ":0", &srv), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", pipe_metrics_server_port(srv));
	assert_int_equal(curl_status(url), 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", pipe_metrics_server_port(srv));
	assert_int_equal(curl_status(url), 503);
	pipe_metrics_server_free(&srv);

	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&lo6, sizeof(lo6)) == 0;
	if (fd >= 0)
		close(fd);
	if (have_v6) {
		assert_int_equal(pipe_metrics_server_new(m, "[::1]:0", &srv), 0);
		snprintf(url, sizeof(url), "http://[::1]:%d/metrics", pipe_metrics_server_port(srv));
		assert_int_equal(curl_status(url), 200);
		pipe_metrics_server_free(&srv);
	}
	pipe_metrics_free(&m);
}

/* ---- slow and idle clients ---- */

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A non-blocking connection to 127.0.0.1:port (connect may still be in progress). */
static int connect_nb(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	assert_true(r == 0 || errno == EINPROGRESS);
	return fd;
}

/* The idle clients are in place: every connect has completed and the server has taken
 * them all from its accept queue. */
typedef struct clients { const int *fd; int n, port; } clients;

static int clients_accepted(void *arg)
{
	const clients *c = arg;
	for (int i = 0; i < c->n; i++) {
		struct pollfd p = { c->fd[i], POLLOUT, 0 };
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
			return 0;
	}
	return tw_listen_queue(c->port) == 0;
}

/* Whether the server has closed or cut fd. */
static int closed_by_peer(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINPROGRESS &&
	                  errno != ENOTCONN);
}

/* GET path over a fresh connection: the HTTP status, or 0 when no full reply came within
 * limit_ms (then *ms is limit_ms). */
static int probe(int port, const char *path, int limit_ms, int *ms)
{
	int64_t start = now_ms(), end = start + limit_ms;
	int fd = connect_nb(port), status = 0;
	char req[128], buf[8192];
	size_t off = 0, len = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path), got = 0;
	for (int64_t t = start; t < end; t = now_ms()) {
		struct pollfd p = { fd, off < len ? POLLOUT : POLLIN, 0 };
		if (poll(&p, 1, (int)(end - t)) <= 0)
			continue;
		ssize_t n = off < len ? send(fd, req + off, len - off, MSG_NOSIGNAL)
		                      : recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINPROGRESS))
			continue;
		if (n <= 0)
			break;
		if (off < len) {
			off += (size_t)n;
			continue;
		}
		got += (size_t)n;
		buf[got] = '\0';
		if (sscanf(buf, "HTTP/1.%*d %d", &status) == 1 && strstr(buf, "\r\n\r\n"))
			break;
		status = 0;
	}
	close(fd);
	*ms = status ? (int)(now_ms() - start) : limit_ms;
	return status;
}

/* 40 idle clients and 10 that send a request head one byte a second, all from 127.0.0.1 like
 * the probes: /healthz and /metrics answer within a second from a fresh connection, again and
 * again while the clients stay, and after the head timeout (3 s) the server has dropped them all. */
static void test_metrics_server_answers_probes_among_50_idle_and_trickling_clients(void **state)
{
	(void)state;
	enum { IDLE = 40, SLOW = 10, N = IDLE + SLOW, RUN_MS = 5000 };
	static const char slow_head[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: aaaaaaaaaaaaaaaa\r\n";
	pipe_metrics *m = NULL;
	pipe_metrics_server *srv = NULL;
	assert_int_equal(pipe_metrics_new(&m), 0);
	vp_log_set_level(VP_LOG_WARN);
	assert_int_equal(pipe_metrics_server_new(m, "127.0.0.1:0", &srv), 0);
	int port = pipe_metrics_server_port(srv), fd[N], sent[N] = { 0 }, probes = 0, worst = 0;
	for (int i = 0; i < N; i++)
		fd[i] = connect_nb(port);
	clients cl = { fd, N, port };
	if (!tw_wait(clients_accepted, &cl, TW_DEADLINE_MS))
		fail_msg("the %d clients were not all connected and accepted within %d ms", N, TW_DEADLINE_MS);
	int64_t start = now_ms(), next_byte = start;
	while (now_ms() - start < RUN_MS) {
		if (now_ms() >= next_byte) {
			for (int i = IDLE; i < N; i++)
				if (sent[i] < (int)sizeof(slow_head) - 1 && send(fd[i], slow_head + sent[i], 1, MSG_NOSIGNAL) == 1)
					sent[i]++;
			next_byte += 1000;
		}
		int ms;
		const char *path = probes % 2 ? "/metrics" : "/healthz";
		int status = probe(port, path, 1000, &ms);
		if (status != 200)
			fprintf(stderr, "probe %d of %s: status %d after %d ms\n", probes, path, status, ms);
		assert_int_equal(status, 200);
		worst = ms > worst ? ms : worst;
		probes++;
		usleep(100 * 1000);
	}
	int dropped = 0;
	for (int i = 0; i < N; i++) {
		dropped += closed_by_peer(fd[i]);
		close(fd[i]);
	}
	fprintf(stderr, "%d probes, slowest %d ms; %d of the %d clients dropped by the server\n", probes, worst,
	        dropped, N);
	assert_true(probes >= 10);
	assert_int_equal(dropped, N);
	pipe_metrics_server_free(&srv);
	pipe_metrics_free(&m);
}

int main(void)
{
	vp_log_set_level(VP_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_renders_counter_and_gauge_with_help_and_type),
		cmocka_unit_test(test_metrics_escapes_label_values),
		cmocka_unit_test(test_metrics_histogram_buckets_are_cumulative_with_inf_sum_count),
		cmocka_unit_test(test_metrics_same_labels_return_same_series_in_registration_order),
		cmocka_unit_test(test_metrics_rejects_bad_names_and_mismatched_families),
		cmocka_unit_test(test_metrics_concurrent_updates_sum_exactly),
		cmocka_unit_test(test_metrics_vapd_set_names_and_null_registry),
		cmocka_unit_test(test_metrics_server_serves_metrics_health_ready_and_404),
		cmocka_unit_test(test_metrics_server_rejects_bad_address_and_busy_port),
		cmocka_unit_test(test_metrics_server_wildcard_and_ipv6_reached_by_curl),
		cmocka_unit_test(test_metrics_server_answers_probes_among_50_idle_and_trickling_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
