#include "vp_secret.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vp_err.h"

int vp_read_secret(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	/* A line longer than buf is refused rather than used cut short. */
	bool whole = strchr(buf, '\n') || feof(f);
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0] || !whole) {
		memset(buf, 0, size);
		return VP_ECONFIG;
	}
	return 0;
}
