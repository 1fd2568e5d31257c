/* Offline progress line and summary, drawn into memory streams and a real pseudo-terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pipeline/progress.h"

#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MS 1000000ull
#define START (1000 * MS)     /* an arbitrary monotonic origin */

typedef struct memout {
	char *buf;
	size_t len;
	FILE *f;
} memout;

static void mem_open(memout *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static void mem_close(memout *m)
{
	fclose(m->f);
	free(m->buf);
}

static pipe_progress *make(FILE *out, int tty, bool quiet, bool all_files)
{
	pipe_progress_opts o = { .out = out, .tty = tty, .quiet = quiet, .all_files = all_files,
	                         .start_ns = START };
	pipe_progress *p = NULL;
	assert_int_equal(pipe_progress_new(&o, &p), 0);
	return p;
}

static int count(const char *s, char c)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == c;
	return n;
}

static void test_progress_silent_unless_tty_files_and_not_quiet(void **state)
{
	(void)state;
	pipe_progress_stream st = { "cam1", 10, 100, 1, 0 };
	pipe_progress_snapshot snap = { START + 1000 * MS, &st, 1 };
	const struct { int tty; bool quiet, files; } cases[] = {
		{ 0, false, true }, { 1, true, true }, { 1, false, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memout m;
		mem_open(&m);
		pipe_progress *p = make(m.f, cases[i].tty, cases[i].quiet, cases[i].files);
		assert_false(pipe_progress_enabled(p));
		assert_int_equal(pipe_progress_update(p, &snap), 0);
		fflush(m.f);
		assert_int_equal(m.len, 0);
		pipe_progress_free(&p);
		assert_null(p);
		mem_close(&m);
	}
}

static void test_progress_redraws_at_most_four_times_a_second(void **state)
{
	(void)state;
	memout m;
	mem_open(&m);
	pipe_progress *p = make(m.f, 1, false, true);
	assert_true(pipe_progress_enabled(p));
	pipe_progress_stream st = { "cam1", 0, 1000, 0, 0 };
	pipe_progress_snapshot snap = { START + 10 * MS, &st, 1 };
	int drawn = 0;
	/* 2 s of updates every 10 ms: draws at 10, 260, 510, ... ms = 8 lines. */
	for (int t = 10; t < 2010; t += 10) {
		snap.mono_ns = START + (uint64_t)t * MS;
		st.frames = (uint64_t)t / 10;
		drawn += pipe_progress_update(p, &snap);
	}
	assert_int_equal(drawn, 8);
	fflush(m.f);
	assert_int_equal(count(m.buf, '\r'), 8);
	assert_null(strchr(m.buf, '\n'));
	pipe_progress_free(&p);
	mem_close(&m);
}

static void test_progress_line_shows_frames_percent_fps_eta(void **state)
{
	(void)state;
	memout m;
	mem_open(&m);
	pipe_progress *p = make(m.f, 1, false, true);
	pipe_progress_stream st[] = { { "a", 300, 1000, 7, 0 }, { "b", 200, 1000, 5, 1 } };
	pipe_progress_snapshot snap = { START + 10000 * MS, st, 2 };
	assert_int_equal(pipe_progress_update(p, &snap), 1);
	fflush(m.f);
	/* 500 of 2000 frames in 10 s: 50 fps, 1500 left -> 30 s. */
	assert_string_equal(m.buf, "\r500/2000 frames  25.0%  50.0 fps  12 detections  ETA 0:30\033[K");
	pipe_progress_free(&p);
	mem_close(&m);
}

static void test_progress_without_totals_shows_no_percent_or_eta(void **state)
{
	(void)state;
	memout m;
	mem_open(&m);
	pipe_progress *p = make(m.f, 1, false, true);
	pipe_progress_stream st[] = { { "a", 300, 1000, 0, 0 }, { "b", 100, 0, 0, 0 } };
	pipe_progress_snapshot snap = { START + 4000 * MS, st, 2 };
	assert_int_equal(pipe_progress_update(p, &snap), 1);
	fflush(m.f);
	assert_string_equal(m.buf, "\r400 frames  100.0 fps  0 detections\033[K");
	pipe_progress_free(&p);
	mem_close(&m);
}

static void test_progress_clamps_short_estimates_to_100_percent(void **state)
{
	(void)state;
	memout m;
	mem_open(&m);
	pipe_progress *p = make(m.f, 1, false, true);
	pipe_progress_stream st = { "a", 1203, 1200, 0, 0 };
	pipe_progress_snapshot snap = { START + 3600 * 1000 * MS, &st, 1 };
	assert_int_equal(pipe_progress_update(p, &snap), 1);
	fflush(m.f);
	assert_non_null(strstr(m.buf, "1203/1200 frames 100.0%"));
	assert_null(strstr(m.buf, "ETA"));
	pipe_progress_free(&p);
	mem_close(&m);
}

static void test_progress_summary_table_per_stream_and_total(void **state)
{
	(void)state;
	memout term, table;
	mem_open(&term);
	mem_open(&table);
	pipe_progress *p = make(term.f, 1, false, true);
	pipe_progress_stream st[] = { { "cam1", 500, 500, 40, 0 },
	                              { "a-much-longer-stream-id", 250, 250, 2, 3 } };
	pipe_progress_snapshot snap = { START + 5000 * MS, st, 2 };
	pipe_progress_update(p, &snap);
	pipe_progress_summary(p, &snap, table.f);
	fflush(term.f);
	fflush(table.f);
	/* The progress line is erased before the table is printed. */
	size_t n = strlen(term.buf);
	assert_true(n > 4);
	assert_string_equal(term.buf + n - 4, "\r\033[K");
	assert_string_equal(table.buf,
		"stream                      frames  detections       fps  errors\n"
		"cam1                           500          40     100.0       0\n"
		"a-much-longer-stream-id        250           2      50.0       3\n"
		"total                          750          42     150.0       3\n"
		"elapsed 0:05\n");
	pipe_progress_free(&p);
	mem_close(&term);
	mem_close(&table);
}

static void test_progress_quiet_prints_no_summary(void **state)
{
	(void)state;
	memout m;
	mem_open(&m);
	pipe_progress *p = make(m.f, 1, true, true);
	pipe_progress_stream st = { "cam1", 5, 5, 0, 0 };
	pipe_progress_snapshot snap = { START + MS, &st, 1 };
	pipe_progress_summary(p, &snap, m.f);
	fflush(m.f);
	assert_int_equal(m.len, 0);
	pipe_progress_free(&p);
	mem_close(&m);
}

static void test_progress_detects_pty_and_fits_its_width(void **state)
{
	(void)state;
	int master, slave;
	struct winsize ws = { .ws_row = 24, .ws_col = 30 };
	assert_int_equal(openpty(&master, &slave, NULL, NULL, &ws), 0);
	FILE *out = fdopen(slave, "w");
	assert_non_null(out);
	pipe_progress *p = make(out, -1, false, true);
	assert_true(pipe_progress_enabled(p));
	pipe_progress_stream st = { "cam1", 123456, 1000000, 99999, 0 };
	pipe_progress_snapshot snap = { START + 1000 * MS, &st, 1 };
	assert_int_equal(pipe_progress_update(p, &snap), 1);

	char buf[512];
	size_t len = 0;
	struct pollfd pf = { .fd = master, .events = POLLIN };
	while (len < sizeof(buf) - 1 && poll(&pf, 1, 200) > 0) {
		ssize_t k = read(master, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	/* "\r" + 29 visible columns + "\033[K": nothing wraps on a 30-column terminal. */
	assert_int_equal(buf[0], '\r');
	char *esc = strstr(buf, "\033[K");
	assert_non_null(esc);
	assert_int_equal(esc - buf - 1, 29);
	assert_memory_equal(buf + 1, "123456/1000000 frames  12.3%", 28);
	pipe_progress_free(&p);
	fclose(out);
	close(master);

	/* A regular file is not a terminal. */
	FILE *f = tmpfile();
	assert_non_null(f);
	p = make(f, -1, false, true);
	assert_false(pipe_progress_enabled(p));
	pipe_progress_free(&p);
	fclose(f);
}

static void test_progress_estimates_frames_from_container(void **state)
{
	(void)state;
	assert_int_equal(pipe_progress_estimate_frames(750, 30.0, 25.0), 750);
	assert_int_equal(pipe_progress_estimate_frames(0, 30.0, 25.0), 750);
	assert_int_equal(pipe_progress_estimate_frames(-1, 10.01, 29.97), 300);
	assert_int_equal(pipe_progress_estimate_frames(0, 0, 25.0), 0);
	assert_int_equal(pipe_progress_estimate_frames(0, 12.0, 0), 0);
	assert_int_equal(pipe_progress_estimate_frames(0, INFINITY, 25.0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_silent_unless_tty_files_and_not_quiet),
		cmocka_unit_test(test_progress_redraws_at_most_four_times_a_second),
		cmocka_unit_test(test_progress_line_shows_frames_percent_fps_eta),
		cmocka_unit_test(test_progress_without_totals_shows_no_percent_or_eta),
		cmocka_unit_test(test_progress_clamps_short_estimates_to_100_percent),
		cmocka_unit_test(test_progress_summary_table_per_stream_and_total),
		cmocka_unit_test(test_progress_quiet_prints_no_summary),
		cmocka_unit_test(test_progress_detects_pty_and_fits_its_width),
		cmocka_unit_test(test_progress_estimates_frames_from_container),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
