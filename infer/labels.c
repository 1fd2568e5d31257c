/* Class names files: the whole file is read and checked as UTF-8 text before it is split
 * into lines, so a binary given by mistake (the model itself) is refused, not counted. */
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

/* Class names files are a few KB; anything larger is some other file given by mistake. */
#define MAX_LABELS_BYTES (1 << 20)

/* Length of the UTF-8 sequence at p (n bytes left); 0 when it is not valid UTF-8
 * (bad lead or continuation byte, overlong form, surrogate, above U+10FFFF). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

/* 0 when the text is UTF-8 without control bytes (tab, CR, LF aside); else the line
 * of the first offending byte. */
static int labels_bad_line(const unsigned char *p, size_t n)
{
	int line = 1;
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_len(p + i, n - i);
		if (!k || p[i] == 0x7f || (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n'))
			return line;
		line += p[i] == '\n';
	}
	return 0;
}

/* The whole file, NUL-terminated, refused unless it looks like a names file. */
static int read_text(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	if (!f || fstat(fileno(f), &st) < 0) {
		int rc = -errno;
		vp_err("model", NULL, "labels file %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_LABELS_BYTES) {
		vp_err("model", NULL, "labels file %s is %s: expected a text file of class names, "
		       "one per line", path, S_ISREG(st.st_mode) ? "over 1 MiB" : "not a regular file");
		fclose(f);
		return VP_ECONFIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t len = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
	int err = ferror(f);
	fclose(f);
	if (!buf || err) {
		int rc = buf ? -EIO : -ENOMEM;
		free(buf);
		vp_err("model", NULL, "labels file %s: %s", path, vp_strerror(rc));
		return rc;
	}
	buf[len] = '\0';
	int bad = labels_bad_line((const unsigned char *)buf, len);
	if (bad) {
		vp_err("model", NULL, "labels file %s: line %d is not UTF-8 text: expected a text file "
		       "of class names, one per line", path, bad);
		free(buf);
		return VP_ECONFIG;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int inf_labels_load(const char *path, char ***ret_names, int *ret_n)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_text(path, &text, &len);
	if (rc < 0)
		return rc;
	char **names = NULL;
	int n = 0, cap = 0;
	for (char *line = text; rc == 0 && line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		char *next = nl ? nl + 1 : text + len;
		if (nl)
			*nl = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 128;
			char **l = realloc(names, (size_t)cap * sizeof(*l));
			if (!l) {
				rc = -ENOMEM;
				break;
			}
			names = l;
		}
		if (!(names[n] = strdup(line)))
			rc = -ENOMEM;
		else
			n++;
		line = next;
	}
	free(text);
	/* A trailing empty line is an artefact of the file, not a class. */
	while (rc == 0 && n > 0 && names[n - 1][0] == '\0')
		free(names[--n]);
	if (rc < 0) {
		vp_err("model", NULL, "labels file %s: %s", path, vp_strerror(rc));
		inf_labels_free(&names, n);
		return rc;
	}
	*ret_names = names;
	*ret_n = n;
	return 0;
}

void inf_labels_free(char ***names, int n)
{
	for (int i = 0; *names && i < n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
}
