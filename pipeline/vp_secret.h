/* Secrets kept in files (passwords, tokens): the file's first line. Not logged here: the
 * caller names the config key in its one message. */
#ifndef VP_SECRET_H
#define VP_SECRET_H

#include <stddef.h>

/* Reads path's first line, without its line end, into buf (size bytes). Returns 0;
 * -errno when the file cannot be read; VP_ECONFIG when the line is empty or does not fit
 * (size - 2 bytes at most). */
int vp_read_secret(const char *path, char *buf, size_t size);

#endif
