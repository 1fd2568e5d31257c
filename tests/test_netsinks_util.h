/* Helpers shared by the network sink tests: real loopback peers, messages with a
 * sequence number, and a sink driven through its sink_ops like the dispatcher does. */
#ifndef TEST_NETSINKS_UTIL_H
#define TEST_NETSINKS_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/vp_err.h"
#include "sinks/sink.h"

#include "test_wait.h"

/* The clock and sleep of test_wait.h, under the names these tests use. */
#define tn_now_ms tw_now_ms
#define tn_sleep_ms tw_sleep_ms

/* A loopback port nobody uses right now (the kernel's pick for an ephemeral bind). */
static inline int tn_free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	close(fd);
	return ntohs(a.sin_port);
}

static inline int tn_tcp_listen(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connects to 127.0.0.1:port, retrying while the server is not up yet (up to 3 s).
 * rcvbuf > 0 shrinks the receive buffer first (a slow reader fills up sooner). */
static inline int tn_tcp_connect(int port, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	for (int64_t end = tn_now_ms() + 3000; tn_now_ms() < end; tn_sleep_ms(20)) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (rcvbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

/* accept() with a timeout; -1 when nobody connected in time. */
static inline int tn_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* A frame-like JSON line carrying a sequence number; pad adds a "pad" string so the
 * message reaches a given size. */
typedef struct tn_msg {
	sink_msg m;
	char *buf;
	size_t cap;
} tn_msg;

static inline void tn_msg_init(tn_msg *t, size_t cap)
{
	memset(t, 0, sizeof(*t));
	t->buf = malloc(cap);
	t->cap = cap;
	t->m.refcount = 1;
	t->m.text = t->buf;
}

static inline void tn_msg_set(tn_msg *t, const char *stream, long seq, size_t pad)
{
	if (pad + 200 > t->cap)
		abort();
	int n = snprintf(t->buf, t->cap, "{\"stream\":\"%s\",\"frame\":%ld,\"pts\":%.3f,"
	                 "\"width\":640,\"height\":480,\"pad\":\"", stream, seq, seq / 25.0);
	memset(t->buf + n, 'x', pad);
	n += (int)pad;
	n += snprintf(t->buf + n, t->cap - (size_t)n, "\",\"detections\":[]}\n");
	t->m.stream = stream;
	t->m.len = (size_t)n;
	t->m.eos = 0;
}

static inline void tn_msg_free(tn_msg *t) { free(t->buf); }

/* The "frame" number of one received JSON line, or -1 when the line is not ours. */
static inline long tn_line_seq(const char *line, size_t len)
{
	const char *p = memmem(line, len, "\"frame\":", 8);
	if (!p || line[0] != '{' || line[len - 1] != '}')
		return -1;
	return strtol(p + 8, NULL, 10);
}

/* Collects '\n'-separated lines from a stream socket, checking each is a whole message
 * and that sequence numbers only grow. */
typedef struct tn_lines {
	char *buf;
	size_t len, cap;
	long count, last_seq, first_seq, bad;
	long want;                    /* > 0: tn_lines_read returns once this many arrived */
	int eof;
} tn_lines;

static inline void tn_lines_init(tn_lines *l)
{
	memset(l, 0, sizeof(*l));
	l->cap = 1 << 20;
	l->buf = malloc(l->cap);
	l->last_seq = l->first_seq = -1;
}

static inline void tn_lines_feed(tn_lines *l, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (l->len < l->cap)
				l->buf[l->len++] = p[i];
			continue;
		}
		long seq = l->len ? tn_line_seq(l->buf, l->len) : -1;
		if (seq < 0 || seq <= l->last_seq)
			l->bad++;
		if (l->first_seq < 0)
			l->first_seq = seq;
		l->last_seq = seq;
		l->count++;
		l->len = 0;
	}
}

/* Reads what fd has within timeout_ms (until EOF/reset when timeout_ms < 0: block). */
static inline void tn_lines_read(tn_lines *l, int fd, int timeout_ms)
{
	char tmp[65536];
	int64_t end = tn_now_ms() + (timeout_ms < 0 ? 60000 : timeout_ms);
	while (!l->eof && !(l->want > 0 && l->count >= l->want)) {
		int left = (int)(end - tn_now_ms());
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, left) <= 0)
			return;
		ssize_t k = recv(fd, tmp, sizeof(tmp), 0);
		if (k <= 0) {
			l->eof = 1;
			return;
		}
		tn_lines_feed(l, tmp, (size_t)k);
	}
}

static inline void tn_lines_free(tn_lines *l) { free(l->buf); }

/* The rows of the sink registry under test. */
static inline const sink_ops *socket_ops(void) { return sink_ops_find("socket"); }
static inline const sink_ops *mqtt_ops(void) { return sink_ops_find("mqtt"); }

/* A sink opened through its ops, as the dispatcher holds it. */
typedef struct tn_sink {
	const sink_ops *ops;
	void *priv;
} tn_sink;

static inline int tn_sink_open(tn_sink *s, const sink_ops *ops, const pipe_sink_cfg *cfg)
{
	s->ops = ops;
	s->priv = NULL;
	if (!ops)
		return -ENOENT;
	s->priv = calloc(1, ops->priv_size);
	int rc = ops->open(s->priv, cfg, "test");
	if (rc < 0) {
		ops->close(s->priv);
		free(s->priv);
		s->priv = NULL;
	}
	return rc;
}

static inline void tn_sink_tick(tn_sink *s)
{
	if (s->ops->tick)
		s->ops->tick(s->priv);
}

static inline void tn_sink_close(tn_sink *s)
{
	if (!s->priv)
		return;
	s->ops->close(s->priv);
	free(s->priv);
	s->priv = NULL;
}

#endif
