/* Line buffer in front of a file descriptor: what reaches the fd is always whole lines,
 * so a reader tailing the output never sees half a message. Internal to sinks/. */
#ifndef SINK_OUTBUF_INTERNAL_H
#define SINK_OUTBUF_INTERNAL_H

#include <stddef.h>

typedef struct sink_outbuf {
	int fd;
	char *buf;
	size_t len, cap;
} sink_outbuf;

int sink_outbuf_init(sink_outbuf *b, int fd, size_t cap);
/* Appends whole lines; writes the buffer out first when they do not fit, and writes
 * lines larger than the buffer directly. Fails (-errno) without taking the data when
 * the fd refuses it; what was buffered before stays buffered for a later flush. */
int sink_outbuf_put(sink_outbuf *b, const char *data, size_t n);
/* Writes out everything buffered; on failure keeps what was not written. */
int sink_outbuf_flush(sink_outbuf *b);
void sink_outbuf_free(sink_outbuf *b);
/* write(2) until done, retrying on EINTR and short writes. */
int sink_write_all(int fd, const char *data, size_t n, size_t *written);

#endif
