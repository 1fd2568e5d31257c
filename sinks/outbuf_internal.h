/* Line buffer in front of a file descriptor: what reaches the fd is always whole lines,
 * so a reader tailing the output never sees half a message. It counts lines (one line =
 * one message) as sent once write(2) took all their bytes and as failed when it did not;
 * the owner collects those counts with sink_outbuf_settle. Internal to sinks/. */
#ifndef SINK_OUTBUF_INTERNAL_H
#define SINK_OUTBUF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

typedef struct sink_outbuf {
	int fd;
	char *buf;
	size_t len, cap;
	/* Regular file only: after a write that stopped inside a line, cut the file back to
	 * the end of the last whole line (the fd must be O_APPEND, so the end is ours). */
	bool untear;
	int64_t sent, failed;         /* lines decided since the last settle */
	int last_err;                 /* 0 while the last write succeeded */
} sink_outbuf;

int sink_outbuf_init(sink_outbuf *b, int fd, size_t cap);
/* Takes whole lines: 0 when they are buffered (or, larger than the buffer, written
 * directly; counted sent). Writes the buffer out first when they do not fit; when that
 * fails, returns its error without taking the data. */
int sink_outbuf_put(sink_outbuf *b, const char *data, size_t n);
/* Writes out everything buffered. A failed write loses the whole buffer: the lines the
 * kernel took count sent, the rest failed, and no torn line is left (see untear). */
int sink_outbuf_flush(sink_outbuf *b);
/* Adds the lines decided since the last call to ret->sent / ret->failed; returns the
 * last write error (0 when the last write succeeded). */
int sink_outbuf_settle(sink_outbuf *b, sink_counters *ret);
/* Frees the buffer; lines still in it are failed (settle can still collect them). */
void sink_outbuf_free(sink_outbuf *b);
/* write(2) until done, retrying on EINTR and short writes. */
int sink_write_all(int fd, const char *data, size_t n, size_t *written);

#endif
