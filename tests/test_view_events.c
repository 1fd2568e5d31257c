/* The recent-events ring (view/events_ring.c) and the stream board (view/board.c) that the
 * live view's /api/events and /api/streams read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/events_ring.h"
#include "view/view.h"

/* Pushes {"n":first}..{"n":last} with the newline a message ends with. */
static void push_range(view_events *e, int first, int last)
{
	for (int i = first; i <= last; i++) {
		char m[32];
		int n = snprintf(m, sizeof(m), "{\"n\":%d}\n", i);
		view_events_push(e, m, (size_t)n);
	}
}

/* What view_events_read writes after since, in a string the test frees. */
static char *read_since(view_events *e, uint64_t since, int *ret_n, uint64_t *ret_next)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	*ret_n = view_events_read(e, since, f, ret_next);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void test_events_read_after_since_joined_by_commas_without_newlines(void **state)
{
	(void)state;
	view_events *e = NULL;
	int n;
	uint64_t next;
	assert_int_equal(view_events_new(8, &e), 0);
	char *t = read_since(e, 0, &n, &next);
	assert_int_equal(n, 0);
	assert_int_equal(next, 0);
	assert_string_equal(t, "");
	free(t);
	push_range(e, 1, 3);
	t = read_since(e, 0, &n, &next);
	assert_int_equal(n, 3);
	assert_int_equal(next, 3);
	assert_string_equal(t, "{\"n\":1},{\"n\":2},{\"n\":3}");
	free(t);
	t = read_since(e, 2, &n, &next);
	assert_string_equal(t, "{\"n\":3}");
	free(t);
	t = read_since(e, 3, &n, &next);   /* nothing new: next stays */
	assert_int_equal(n, 0);
	assert_int_equal(next, 3);
	free(t);
	view_events_free(&e);
	assert_null(e);
}

static void test_events_ring_keeps_the_newest_capacity_and_restarts_past_the_newest(void **state)
{
	(void)state;
	view_events *e = NULL;
	int n;
	uint64_t next;
	assert_int_equal(view_events_new(4, &e), 0);
	push_range(e, 1, 10);
	char *t = read_since(e, 0, &n, &next);   /* 1..6 were overwritten */
	assert_int_equal(n, 4);
	assert_int_equal(next, 10);
	assert_string_equal(t, "{\"n\":7},{\"n\":8},{\"n\":9},{\"n\":10}");
	free(t);
	t = read_since(e, 2, &n, &next);   /* a page far behind gets what is left */
	assert_int_equal(n, 4);
	free(t);
	t = read_since(e, 99, &n, &next);  /* a page from before a restart starts over */
	assert_int_equal(n, 4);
	assert_int_equal(next, 10);
	free(t);
	view_events_free(&e);
}

static void test_events_read_at_most_per_read_and_refuse_too_long(void **state)
{
	(void)state;
	view_events *e = NULL;
	int n;
	uint64_t next;
	assert_int_equal(view_events_new(3 * VIEW_EVENTS_PER_READ, &e), 0);
	push_range(e, 1, 2 * VIEW_EVENTS_PER_READ);
	char *t = read_since(e, 0, &n, &next);
	assert_int_equal(n, VIEW_EVENTS_PER_READ);
	assert_int_equal(next, 2 * VIEW_EVENTS_PER_READ);
	assert_true(strncmp(t, "{\"n\":101},", 10) == 0);   /* the newest ones */
	free(t);
	char *big = malloc(VIEW_EVENT_BYTES + 2);
	assert_non_null(big);
	memset(big, 'x', VIEW_EVENT_BYTES + 1);
	view_events_push(e, big, VIEW_EVENT_BYTES + 1);
	view_events_push(e, big, VIEW_EVENT_BYTES);       /* exactly the limit is kept */
	free(big);
	assert_int_equal(view_events_too_long(e), 1);
	t = read_since(e, next, &n, &next);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(t), VIEW_EVENT_BYTES);
	free(t);
	view_events_free(&e);
}

static void test_board_copies_rows_and_grows_only_when_needed(void **state)
{
	(void)state;
	view_board *b = NULL;
	view_stream_info rows[3] = { { .id = "a", .state = "running", .fps = 25 },
	                             { .id = "b", .state = "reconnecting" },
	                             { .id = "c", .state = "ended" } }, out[3];
	assert_int_equal(view_board_new(&b), 0);
	assert_int_equal(view_board_get(b, out, 3), 0);
	assert_int_equal(view_board_set(b, rows, 3), 0);
	assert_int_equal(view_board_get(b, out, 2), 2);   /* at most max */
	assert_string_equal(out[1].state, "reconnecting");
	assert_int_equal(view_board_set(b, rows + 2, 1), 0);
	assert_int_equal(view_board_get(b, out, 3), 1);
	assert_string_equal(out[0].id, "c");
	assert_int_equal(view_board_set(b, rows, -1), -EINVAL);
	view_board_free(&b);
	assert_null(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_read_after_since_joined_by_commas_without_newlines),
		cmocka_unit_test(test_events_ring_keeps_the_newest_capacity_and_restarts_past_the_newest),
		cmocka_unit_test(test_events_read_at_most_per_read_and_refuse_too_long),
		cmocka_unit_test(test_board_copies_rows_and_grows_only_when_needed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
