/* Fuzz inputs handed to code that opens a path: the bytes in an anonymous memory file
 * (memfd), reached through /proc/self/fd/N, so no temporary file is left behind when a
 * harness is killed and no disk is touched per execution. */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct fuzz_input {
	int fd;
	char path[64];
} fuzz_input;

/* Returns 0, or -1 when the memory file cannot be made (the harness then skips the input). */
static inline int fuzz_input_open(fuzz_input *in, const char *name, const uint8_t *data, size_t size)
{
	in->fd = memfd_create(name, MFD_CLOEXEC);
	if (in->fd < 0)
		return -1;
	for (size_t off = 0; off < size;) {
		ssize_t n = write(in->fd, data + off, size - off);
		if (n <= 0) {
			close(in->fd);
			return -1;
		}
		off += (size_t)n;
	}
	snprintf(in->path, sizeof(in->path), "/proc/self/fd/%d", in->fd);
	return 0;
}

static inline void fuzz_input_close(fuzz_input *in)
{
	close(in->fd);
}

#endif
