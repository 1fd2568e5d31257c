#include "net_util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int net_conn_init(net_conn *c, int fd, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->cap = cap;
	c->fd = fd;
	return 0;
}

/* Makes room for n more pending bytes (n + len <= cap): compacts, then doubles. */
static int reserve(net_conn *c, size_t n)
{
	if (c->off + c->len + n <= c->alloc)
		return 0;
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len);
		c->off = 0;
	}
	if (c->len + n <= c->alloc)
		return 0;
	size_t want = c->alloc ? c->alloc : 16384;
	while (want < c->len + n)
		want *= 2;
	want = want > c->cap ? c->cap : want;
	char *b = realloc(c->buf, want);
	if (!b)
		return -ENOBUFS;
	c->buf = b;
	c->alloc = want;
	return 0;
}

static ssize_t send_some(int fd, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t k = send(fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			done += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* What went out is reported (and counted); a broken connection fails the
		 * next call again. */
		if (done > 0)
			break;
		return k < 0 ? -errno : -EPIPE;
	}
	return (ssize_t)done;
}

static int64_t count_lines(const char *p, size_t n)
{
	int64_t k = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		k++;
	return k;
}

int64_t net_conn_pending_lines(const net_conn *c)
{
	return c->len ? count_lines(c->buf + c->off, c->len) : 0;
}

/* send_some() that counts every '\n' it got out: the kernel now has all of that
 * message's bytes. */
static ssize_t send_counted(net_conn *c, const char *p, size_t n)
{
	ssize_t k = send_some(c->fd, p, n);
	if (k > 0)
		c->sent_lines += count_lines(p, (size_t)k);
	return k;
}

int net_conn_flush(net_conn *c)
{
	if (c->len == 0)
		return 0;
	ssize_t k = send_counted(c, c->buf + c->off, c->len);
	if (k < 0)
		return (int)k;
	c->off += (size_t)k;
	c->len -= (size_t)k;
	if (c->len == 0)
		c->off = 0;
	return 0;
}

int net_conn_write(net_conn *c, const char *p, size_t n)
{
	if (n > c->cap)
		return -EMSGSIZE;
	int rc = net_conn_flush(c);
	if (rc < 0)
		return rc;
	if (c->len == 0) {
		/* Nothing pending: hand the message to the kernel directly, keep only the tail. */
		ssize_t k = send_counted(c, p, n);
		if (k < 0)
			return (int)k;
		p += k;
		n -= (size_t)k;
		if (n == 0)
			return 0;
	}
	return net_conn_append(c, p, n);
}

void net_conn_close(net_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

int net_conn_append(net_conn *c, const char *p, size_t n)
{
	if (c->len + n > c->cap)
		return n > c->cap ? -EMSGSIZE : -ENOBUFS;
	if (reserve(c, n) < 0)
		return -ENOBUFS;
	memcpy(c->buf + c->off + c->len, p, n);
	c->len += n;
	return 0;
}

int net_conn_drain(net_conn *c, int timeout_ms)
{
	int64_t end = net_now_ms() + timeout_ms;
	while (c->fd >= 0 && c->len > 0) {
		int rc = net_conn_flush(c);
		if (rc < 0)
			return rc;
		int left = (int)(end - net_now_ms());
		if (c->len == 0)
			break;
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}
