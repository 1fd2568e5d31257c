#include "outbuf_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sink_write_all(int fd, const char *data, size_t n, size_t *written)
{
	size_t done = 0;
	int err = 0;
	while (done < n) {
		ssize_t r = write(fd, data + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)r;
	}
	if (written)
		*written = done;
	return err;
}

static int64_t count_lines(const char *p, size_t n)
{
	int64_t k = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		k++;
	return k;
}

/* Bytes of p[0, n) up to and including its last '\n'. */
static size_t whole_lines(const char *p, size_t n)
{
	while (n > 0 && p[n - 1] != '\n')
		n--;
	return n;
}

/* Writes n bytes of whole lines and counts them. After a failure the torn tail of the
 * last line the kernel took only in part is cut off again (a regular file), so the file
 * ends at a line boundary and sent == lines in it. */
static int emit(sink_outbuf *b, const char *data, size_t n)
{
	size_t done;
	int err = sink_write_all(b->fd, data, n, &done);
	size_t whole = whole_lines(data, done);
	b->sent += count_lines(data, whole);
	b->last_err = err;
	if (err == 0)
		return 0;
	b->failed += count_lines(data + whole, n - whole);
	if (b->untear && done > whole) {
		off_t end = lseek(b->fd, 0, SEEK_CUR);
		/* Failing too (another writer moved the end?) leaves the torn line: nothing
		 * better to do than report the write error. */
		if (end >= (off_t)(done - whole))
			(void)!ftruncate(b->fd, end - (off_t)(done - whole));
	}
	return err;
}

int sink_outbuf_init(sink_outbuf *b, int fd, size_t cap)
{
	b->buf = malloc(cap);
	if (!b->buf)
		return -ENOMEM;
	b->fd = fd;
	b->len = 0;
	b->cap = cap;
	return 0;
}

int sink_outbuf_flush(sink_outbuf *b)
{
	if (b->len == 0)
		return 0;
	int err = emit(b, b->buf, b->len);
	b->len = 0;
	return err;
}

int sink_outbuf_put(sink_outbuf *b, const char *data, size_t n)
{
	if (b->len + n > b->cap) {
		int err = sink_outbuf_flush(b);
		if (err < 0)
			return err;
	}
	if (n > b->cap) {
		int64_t failed = b->failed;
		int err = emit(b, data, n);
		b->failed = failed;   /* refused: the caller counts it from the return value */
		return err;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return 0;
}

int sink_outbuf_settle(sink_outbuf *b, sink_counters *ret)
{
	ret->sent += b->sent;
	ret->failed += b->failed;
	b->sent = b->failed = 0;
	return b->last_err;
}

void sink_outbuf_free(sink_outbuf *b)
{
	if (b->len)
		b->failed += count_lines(b->buf, b->len);
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}
