/* Helpers shared by the config tests: a fixture written to a temporary YAML file and loaded
 * with its error stream captured, and assertions on one FILE:LINE:COL: key: message line. */
#ifndef TEST_CONFIG_UTIL_H
#define TEST_CONFIG_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/config.h"
#include "pipeline/vp_err.h"

/* A live source: its URI needs no file, so most fixtures start from it. */
#define LIVE_SOURCE "sources:\n  - id: cam1\n    uri: rtsp://127.0.0.1:8554/cam1\n"

static inline const char *shared(void)
{
	const char *s = getenv("SHARED");
	return s && *s ? s : "../shared";
}

static inline char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static inline char *fmt(const char *f, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	assert_true(n >= 0);
	return s;
}

typedef struct loaded {
	int r;
	char path[64];
	char *errs;          /* everything printed to the error stream */
	pipe_config *cfg;
} loaded;

static inline void load(loaded *l, const char *yaml)
{
	strcpy(l->path, "/tmp/vapd-cfg-XXXXXX.yaml");
	int fd = mkstemps(l->path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	size_t len;
	FILE *err = open_memstream(&l->errs, &len);
	assert_non_null(err);
	l->cfg = NULL;
	l->r = pipe_config_load(l->path, err, &l->cfg);
	fclose(err);
	unlink(l->path);
}

static inline void unload(loaded *l)
{
	pipe_config_free(&l->cfg);
	assert_null(l->cfg);
	free(l->errs);
}

static inline pipe_config *load_ok(loaded *l, const char *yaml)
{
	load(l, yaml);
	if (l->r != 0)
		fprintf(stderr, "unexpected errors:\n%s", l->errs);
	assert_int_equal(l->r, 0);
	assert_string_equal(l->errs, "");
	assert_non_null(l->cfg);
	return l->cfg;
}

static inline int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Asserts that loading fails and one line starts with FILE:expect (expect = "L:C: key: msg..."). */
static inline void expect_error(const char *yaml, const char *expect)
{
	loaded l;
	load(&l, yaml);
	char *line = fmt("%s:%s", l.path, expect);
	int found = strncmp(l.errs, line, strlen(line)) == 0;
	for (const char *s = strchr(l.errs, '\n'); !found && s; s = strchr(s + 1, '\n'))
		found = strncmp(s + 1, line, strlen(line)) == 0;
	if (!found)
		fprintf(stderr, "expected a line starting with\n  %s\ngot:\n%s", line, l.errs);
	assert_true(found);
	assert_int_equal(l.r, VP_ECONFIG);
	assert_null(l.cfg);
	free(line);
	unload(&l);
}

static inline void expect_error_in(const char *yaml_tail, const char *expect)
{
	char *yaml = fmt(LIVE_SOURCE "%s", yaml_tail);
	expect_error(yaml, expect);
	free(yaml);
}

/* Asserts that loading fails with exactly n error lines, each holding one of want[0..n-1]. */
static inline void expect_errors(const char *yaml, int n, const char *const *want)
{
	loaded l;
	load(&l, yaml);
	if (count_lines(l.errs) != n)
		fprintf(stderr, "expected %d error lines, got:\n%s", n, l.errs);
	assert_int_equal(l.r, VP_ECONFIG);
	assert_int_equal(count_lines(l.errs), n);
	for (int i = 0; i < n; i++) {
		if (!strstr(l.errs, want[i]))
			fprintf(stderr, "expected a line holding\n  %s\ngot:\n%s", want[i], l.errs);
		assert_non_null(strstr(l.errs, want[i]));
	}
	unload(&l);
}

#endif
