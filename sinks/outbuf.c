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
	size_t done;
	int err = sink_write_all(b->fd, b->buf, b->len, &done);
	memmove(b->buf, b->buf + done, b->len - done);
	b->len -= done;
	return err;
}

int sink_outbuf_put(sink_outbuf *b, const char *data, size_t n)
{
	if (b->len + n > b->cap) {
		int err = sink_outbuf_flush(b);
		if (err < 0)
			return err;
	}
	if (n > b->cap)
		return sink_write_all(b->fd, data, n, NULL);
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return 0;
}

void sink_outbuf_free(sink_outbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}
