/* Zones and lines (analytics/counting.c) and their geometry (analytics/geometry.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "analytics/counting.h"
#include "analytics/events.h"
#include "analytics/geometry.h"

/* ---- fixtures ---- */

static pipe_line_cfg line_cfg(char *name, double x1, double y1, double x2, double y2,
                              pipe_class_ref *classes, int n_classes)
{
	pipe_line_cfg l = { .name = name, .classes = classes, .n_classes = n_classes };
	l.points[0] = (pipe_point){ x1, y1 };
	l.points[1] = (pipe_point){ x2, y2 };
	return l;
}

static pipe_zone_cfg zone_cfg(char *name, pipe_point *pts, int n, pipe_class_ref *classes,
                              int n_classes)
{
	return (pipe_zone_cfg){ .name = name, .points = pts, .n_points = n, .classes = classes,
	                        .n_classes = n_classes };
}

static pipe_point square10[] = { { 0, 0 }, { 10, 0 }, { 10, 10 }, { 0, 10 } };

/* One update with a single observed track and nothing ended; frame = pts * 10. */
static int step1(an_counting *c, double pts, int64_t id, int cls, double x, double y,
                 const an_event **ev)
{
	an_obs o = { id, cls, x, y };
	int n = -1;
	assert_int_equal(an_counting_update(c, &o, 1, NULL, 0, (int64_t)(pts * 10), pts,
	                                    1000 + (int64_t)(pts * 10), ev, &n), 0);
	return n;
}

static int step_none(an_counting *c, double pts, const int64_t *ended, int n_ended,
                     const an_event **ev)
{
	int n = -1;
	assert_int_equal(an_counting_update(c, NULL, 0, ended, n_ended, (int64_t)(pts * 10), pts,
	                                    0, ev, &n), 0);
	return n;
}

static void totals(an_counting *c, int line, int64_t in, int64_t out)
{
	int64_t i = -1, o = -1;
	an_counting_line_totals(c, line, &i, &o);
	assert_int_equal(i, in);
	assert_int_equal(o, out);
}

/* ---- geometry ---- */

/* P1 = (0,0), P2 = (10,0) in image coordinates (y grows downwards). A point below the line
 * on screen, (5,5), gives s = (10-0)(5-0) - (0-0)(5-0) = +50: s > 0 is the side to the
 * right of someone walking P1 -> P2 on screen (facing right, down is on the right hand).
 * So "in" (s < 0 -> s > 0) is top to bottom here, matching output-schema.md's "from the
 * left to the right side of the line drawn P1->P2, as seen on screen". */
static void test_side_sign_is_positive_right_of_p1_p2_on_screen(void **state)
{
	(void)state;
	pipe_point p1 = { 0, 0 }, p2 = { 10, 0 }, below = { 5, 5 }, above = { 5, -5 };
	pipe_point on = { 20, 0 };
	assert_true(an_line_side(&p1, &p2, &below) > 0);
	assert_true(an_line_side(&p1, &p2, &above) < 0);
	assert_true(an_line_side(&p1, &p2, &on) == 0); /* the extension is "on the line" too */
	assert_true(an_line_side(&p2, &p1, &below) < 0); /* drawing it backwards swaps sides */
}

static void test_crossing_top_to_bottom_is_in_and_back_is_out(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	assert_int_equal(step1(c, 0.0, 7, 2, 5, -5, &ev), 0);
	assert_int_equal(step1(c, 0.1, 7, 2, 5, 5, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_LINE_CROSS);
	assert_int_equal(ev[0].direction, +1);
	assert_int_equal(ev[0].track_id, 7);
	assert_int_equal(ev[0].class_id, 2);
	assert_string_equal(ev[0].name, "gate");
	assert_ptr_equal(ev[0].name, l.name); /* borrowed, not copied */
	assert_int_equal(ev[0].frame, 1);
	assert_true(ev[0].pts == 0.1);
	assert_int_equal(ev[0].wall_us, 1001);
	assert_int_equal(ev[0].in, 1);
	assert_int_equal(ev[0].out, 0);
	assert_int_equal(step1(c, 0.2, 7, 2, 5, -5, &ev), 1);
	assert_int_equal(ev[0].direction, -1);
	assert_int_equal(ev[0].in, 1);
	assert_int_equal(ev[0].out, 1);
	totals(c, 0, 1, 1);
	an_counting_free(&c);
	assert_null(c);
}

static void test_anchor_on_line_is_ignored_and_crossing_uses_earlier_anchor(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 0, 2, -4, &ev), 0);
	assert_int_equal(step1(c, 0.1, 1, 0, 5, 0, &ev), 0);  /* on the segment: no count */
	assert_int_equal(step1(c, 0.2, 1, 0, 30, 0, &ev), 0); /* on the extension: no count */
	/* Against (2,-4): the segment to (8,4) crosses y = 0 at x = 5, on P1-P2. Had (30,0)
	 * been remembered, (30,0)-(8,4) would not be a crossing at all. */
	assert_int_equal(step1(c, 0.3, 1, 0, 8, 4, &ev), 1);
	assert_int_equal(ev[0].direction, +1);
	assert_int_equal(ev[0].frame, 3);
	/* Touching the line and going back to the same side is no crossing. */
	assert_int_equal(step1(c, 0.4, 1, 0, 5, 0, &ev), 0);
	assert_int_equal(step1(c, 0.5, 1, 0, 6, 3, &ev), 0);
	totals(c, 0, 1, 0);
	an_counting_free(&c);
}

static void test_crossing_through_an_end_point_counts(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	/* through P2 = (10,0) exactly */
	assert_int_equal(step1(c, 0.0, 1, 0, 8, -2, &ev), 0);
	assert_int_equal(step1(c, 0.1, 1, 0, 12, 2, &ev), 1);
	assert_int_equal(ev[0].direction, +1);
	/* through P1 = (0,0) exactly, upwards */
	assert_int_equal(step1(c, 0.0, 2, 0, 1, 1, &ev), 0);
	assert_int_equal(step1(c, 0.1, 2, 0, -1, -1, &ev), 1);
	assert_int_equal(ev[0].direction, -1);
	totals(c, 0, 1, 1);
	an_counting_free(&c);
}

static void test_passing_beside_the_segment_does_not_count_but_moves_the_anchor(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	/* (11,-1) -> (13,1) crosses the extension at x = 12 */
	assert_int_equal(step1(c, 0.0, 1, 0, 11, -1, &ev), 0);
	assert_int_equal(step1(c, 0.1, 1, 0, 13, 1, &ev), 0);
	/* The miss still replaced the anchor: (13,1) -> (5,-1) crosses at x = 9, out. Against
	 * the old (11,-1) there would be no side change at all. */
	assert_int_equal(step1(c, 0.2, 1, 0, 5, -1, &ev), 1);
	assert_int_equal(ev[0].direction, -1);
	totals(c, 0, 0, 1);
	/* just beside P1: (-1,-1) -> (-0.5, 1) crosses at x = -0.75 */
	assert_int_equal(step1(c, 0.0, 2, 0, -1, -1, &ev), 0);
	assert_int_equal(step1(c, 0.1, 2, 0, -0.5, 1, &ev), 0);
	totals(c, 0, 0, 1);
	an_counting_free(&c);
}

static void test_back_and_forth_counts_every_crossing(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 0, 5, -1, &ev), 0);
	for (int k = 1; k <= 5; k++) {
		double y = (k % 2) ? 1 : -1;
		assert_int_equal(step1(c, 0.1 * k, 1, 0, 5, y, &ev), 1);
		assert_int_equal(ev[0].direction, (k % 2) ? +1 : -1);
		assert_int_equal(ev[0].in, (k + 1) / 2);
		assert_int_equal(ev[0].out, k / 2);
	}
	totals(c, 0, 3, 2);
	an_counting_free(&c);
}

static void test_long_gap_between_observations_still_counts(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 0, 5, -5, &ev), 0);
	for (int k = 1; k < 300; k++) /* other tracks come and go meanwhile */
		assert_int_equal(step1(c, 0.1 * k, 100 + k, 0, 50, 50, &ev), 0);
	assert_int_equal(step1(c, 30.0, 1, 0, 5, 5, &ev), 1);
	assert_int_equal(ev[0].track_id, 1);
	totals(c, 0, 1, 0);
	an_counting_free(&c);
}

static void test_first_appearance_never_counts(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 0, 5, 5, &ev), 0); /* appears on the "in" side */
	assert_int_equal(step1(c, 0.1, 1, 0, 5, 6, &ev), 0);
	/* appearing on the line gives no reference either */
	assert_int_equal(step1(c, 0.0, 2, 0, 5, 0, &ev), 0);
	assert_int_equal(step1(c, 0.1, 2, 0, 5, 5, &ev), 0);
	totals(c, 0, 0, 0);
	/* a track that ended and comes back under the same id starts afresh */
	int64_t end1 = 1;
	assert_int_equal(step_none(c, 0.2, &end1, 1, &ev), 0);
	assert_int_equal(step1(c, 0.3, 1, 0, 5, -5, &ev), 0);
	totals(c, 0, 0, 0);
	an_counting_free(&c);
}

static void test_line_class_filter_uses_the_class_at_the_crossing(void **state)
{
	(void)state;
	pipe_class_ref cars[] = { { .id = 2 }, { .id = 7 } };
	pipe_line_cfg l = line_cfg("gate", 0, 0, 10, 0, cars, 2);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 0, 5, -5, &ev), 0); /* a person */
	assert_int_equal(step1(c, 0.1, 1, 0, 5, 5, &ev), 0);
	assert_int_equal(step1(c, 0.0, 2, 7, 5, -5, &ev), 0); /* a truck */
	assert_int_equal(step1(c, 0.1, 2, 7, 5, 5, &ev), 1);
	assert_int_equal(ev[0].class_id, 7);
	/* The side is remembered whatever the class: track 1, now voted a car, crosses back. */
	assert_int_equal(step1(c, 0.2, 1, 2, 5, -5, &ev), 1);
	assert_int_equal(ev[0].direction, -1);
	totals(c, 0, 1, 1);
	an_counting_free(&c);
}

/* ---- zones ---- */

static void test_zone_enter_exit_and_dwell(void **state)
{
	(void)state;
	pipe_zone_cfg z = zone_cfg("lot", square10, 4, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(&z, 1, NULL, 0, &c), 0);
	assert_int_equal(step1(c, 0.0, 3, 1, -5, 5, &ev), 0);
	assert_int_equal(step1(c, 1.0, 3, 1, 5, 5, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_ZONE_ENTER);
	assert_string_equal(ev[0].name, "lot");
	assert_int_equal(ev[0].track_id, 3);
	assert_int_equal(ev[0].frame, 10);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 1);
	assert_int_equal(step1(c, 2.0, 3, 1, 6, 5, &ev), 0);
	assert_int_equal(step1(c, 3.5, 3, 1, 15, 5, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_ZONE_EXIT);
	assert_true(ev[0].dwell_s == 2.5); /* exit pts - enter pts, not the last inside pts */
	assert_int_equal(ev[0].frame, 35);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 0);
	/* entering on the very first observation */
	assert_int_equal(step1(c, 4.0, 4, 1, 1, 1, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_ZONE_ENTER);
	an_counting_free(&c);
}

static void test_zone_boundary_and_vertices_are_inside(void **state)
{
	(void)state;
	pipe_point on[] = { { 5, 0 }, { 10, 5 }, { 5, 10 }, { 0, 5 }, /* edges */
	                    { 0, 0 }, { 10, 0 }, { 10, 10 }, { 0, 10 } }; /* vertices */
	for (size_t k = 0; k < sizeof(on) / sizeof(on[0]); k++)
		assert_true(an_point_in_polygon(square10, 4, &on[k]));
	pipe_point off[] = { { 5, -1e-9 }, { 10 + 1e-9, 5 }, { -1, 0 }, { 11, 10 }, { 0, 10.5 } };
	for (size_t k = 0; k < sizeof(off) / sizeof(off[0]); k++)
		assert_false(an_point_in_polygon(square10, 4, &off[k]));
	/* a slanted edge, exactly representable: the hypotenuse x + y = 10 */
	pipe_point tri[] = { { 0, 0 }, { 10, 0 }, { 0, 10 } };
	pipe_point hyp = { 2.5, 7.5 }, past = { 2.5, 7.5 + 1e-9 };
	assert_true(an_point_in_polygon(tri, 3, &hyp));
	assert_false(an_point_in_polygon(tri, 3, &past));
	/* concave (an arrow pointing right, notch on the left): the ray from the notch's
	 * points runs through vertices; the even-odd count must not double them */
	pipe_point arrow[] = { { 0, 0 }, { 10, 5 }, { 0, 10 }, { 4, 5 } };
	pipe_point in_tip = { 6, 5 }, in_notch = { 4, 5 }, notch_gap = { 2, 5 }, left = { -1, 5 };
	pipe_point level_with_vertex = { -1, 0 }, past_tip = { 11, 5 };
	assert_true(an_point_in_polygon(arrow, 4, &in_tip));
	assert_true(an_point_in_polygon(arrow, 4, &in_notch));
	assert_false(an_point_in_polygon(arrow, 4, &notch_gap));
	assert_false(an_point_in_polygon(arrow, 4, &left));
	assert_false(an_point_in_polygon(arrow, 4, &level_with_vertex));
	assert_false(an_point_in_polygon(arrow, 4, &past_tip));

	/* and through the counting object: enter on an edge, stay on a vertex */
	pipe_zone_cfg z = zone_cfg("lot", square10, 4, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(&z, 1, NULL, 0, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 0, 5, 0, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_ZONE_ENTER);
	assert_int_equal(step1(c, 0.1, 1, 0, 10, 10, &ev), 0);
	assert_int_equal(step1(c, 0.2, 1, 0, 10, 10.5, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_ZONE_EXIT);
	an_counting_free(&c);
}

static void test_track_ended_inside_exits_with_dwell_to_last_inside(void **state)
{
	(void)state;
	pipe_zone_cfg z = zone_cfg("lot", square10, 4, NULL, 0);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(&z, 1, NULL, 0, &c), 0);
	assert_int_equal(step1(c, 1.0, 9, 3, 5, 5, &ev), 1);
	assert_int_equal(step1(c, 2.0, 9, 3, 6, 6, &ev), 0);
	assert_int_equal(step_none(c, 3.0, NULL, 0, &ev), 0); /* lost, not ended */
	assert_int_equal(an_counting_zone_occupancy(c, 0), 1);
	int64_t ended[] = { 9, 12345 /* never seen: ignored */ };
	assert_int_equal(step_none(c, 5.0, ended, 2, &ev), 1);
	assert_int_equal(ev[0].kind, AN_EV_ZONE_EXIT);
	assert_int_equal(ev[0].track_id, 9);
	assert_int_equal(ev[0].class_id, 3);
	assert_true(ev[0].dwell_s == 1.0); /* 2.0 (last seen inside) - 1.0 */
	assert_true(ev[0].pts == 5.0);     /* raised by this update */
	assert_int_equal(ev[0].frame, 50);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 0);
	/* ended outside: nothing; ended twice: nothing */
	assert_int_equal(step1(c, 6.0, 10, 3, 5, 5, &ev), 1);
	assert_int_equal(step1(c, 7.0, 10, 3, 50, 5, &ev), 1);
	int64_t ten = 10;
	assert_int_equal(step_none(c, 8.0, &ten, 1, &ev), 0);
	assert_int_equal(step_none(c, 9.0, &ten, 1, &ev), 0);
	an_counting_free(&c);
}

static void test_zone_class_filter_follows_the_current_class(void **state)
{
	(void)state;
	pipe_class_ref people[] = { { .id = 0 } };
	pipe_zone_cfg z = zone_cfg("lot", square10, 4, people, 1);
	an_counting *c;
	const an_event *ev;
	assert_int_equal(an_counting_new(&z, 1, NULL, 0, &c), 0);
	assert_int_equal(step1(c, 0.0, 1, 2, 5, 5, &ev), 0); /* a car inside: not counted */
	assert_int_equal(an_counting_zone_occupancy(c, 0), 0);
	assert_int_equal(step1(c, 1.0, 1, 0, 5, 5, &ev), 1); /* the vote turns it a person */
	assert_int_equal(ev[0].kind, AN_EV_ZONE_ENTER);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 1);
	assert_int_equal(step1(c, 3.0, 1, 2, 5, 5, &ev), 1); /* and back: it leaves */
	assert_int_equal(ev[0].kind, AN_EV_ZONE_EXIT);
	assert_int_equal(ev[0].class_id, 2);
	assert_true(ev[0].dwell_s == 2.0);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 0);
	an_counting_free(&c);
}

static void test_occupancy_counts_tracks_inside(void **state)
{
	(void)state;
	pipe_point big[] = { { 0, 0 }, { 100, 0 }, { 100, 100 }, { 0, 100 } };
	pipe_zone_cfg z[2] = { zone_cfg("small", square10, 4, NULL, 0),
	                       zone_cfg("big", big, 4, NULL, 0) };
	an_counting *c;
	const an_event *ev;
	int n;
	assert_int_equal(an_counting_new(z, 2, NULL, 0, &c), 0);
	an_obs obs[] = { { 1, 0, 5, 5 }, { 2, 0, 50, 50 }, { 3, 0, 6, 6 }, { 4, 0, 500, 5 } };
	assert_int_equal(an_counting_update(c, obs, 4, NULL, 0, 0, 0.0, 0, &ev, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 2);
	assert_int_equal(an_counting_zone_occupancy(c, 1), 3);
	obs[0].x = 50; /* track 1 leaves the small zone, stays in the big one */
	int64_t ended = 2;
	assert_int_equal(an_counting_update(c, obs, 1, &ended, 1, 1, 0.1, 0, &ev, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(an_counting_zone_occupancy(c, 0), 1);
	assert_int_equal(an_counting_zone_occupancy(c, 1), 2);
	assert_int_equal(an_counting_zone_occupancy(c, 2), 0); /* out of range */
	an_counting_free(&c);
}

/* ---- event order ---- */

static void test_events_per_track_exits_enters_crossings_then_ended(void **state)
{
	(void)state;
	pipe_point b[] = { { 20, 0 }, { 30, 0 }, { 30, 10 }, { 20, 10 } };
	pipe_zone_cfg z[2] = { zone_cfg("a", square10, 4, NULL, 0), zone_cfg("b", b, 4, NULL, 0) };
	/* vertical, drawn downwards: s = -200 (x - 15), so moving right is s > 0 -> s < 0 */
	pipe_line_cfg l[2] = { line_cfg("mid", 15, -100, 15, 100, NULL, 0),
	                       line_cfg("far", 40, -100, 40, 100, NULL, 0) };
	an_counting *c;
	const an_event *ev;
	int n;
	assert_int_equal(an_counting_new(z, 2, l, 2, &c), 0);
	an_obs f0[] = { { 1, 0, 5, 5 }, { 2, 0, 25, 5 }, { 3, 0, 5, 5 } };
	assert_int_equal(an_counting_update(c, f0, 3, NULL, 0, 0, 0.0, 0, &ev, &n), 0);
	assert_int_equal(n, 3);
	/* track 2 goes b -> a (crossing mid), track 1 goes a -> b, track 3 ends in a */
	an_obs f1[] = { { 2, 0, 5, 5 }, { 1, 0, 25, 5 } };
	int64_t ended = 3;
	assert_int_equal(an_counting_update(c, f1, 2, &ended, 1, 1, 0.5, 0, &ev, &n), 0);
	assert_int_equal(n, 7);
	struct { enum an_event_kind k; int64_t id; const char *name; } want[] = {
		{ AN_EV_ZONE_EXIT, 2, "b" }, { AN_EV_ZONE_ENTER, 2, "a" }, { AN_EV_LINE_CROSS, 2, "mid" },
		{ AN_EV_ZONE_EXIT, 1, "a" }, { AN_EV_ZONE_ENTER, 1, "b" }, { AN_EV_LINE_CROSS, 1, "mid" },
		{ AN_EV_ZONE_EXIT, 3, "a" },
	};
	for (int k = 0; k < 7; k++) {
		assert_int_equal(ev[k].kind, want[k].k);
		assert_int_equal(ev[k].track_id, want[k].id);
		assert_string_equal(ev[k].name, want[k].name);
	}
	assert_int_equal(ev[2].direction, +1);
	assert_int_equal(ev[5].direction, -1);
	assert_int_equal(ev[5].in, 1);
	assert_int_equal(ev[5].out, 1);
	totals(c, 1, 0, 0);
	an_counting_free(&c);
}

/* ---- many tracks ---- */

static void test_many_tracks_totals_exact_and_state_reused(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 1000, 0, NULL, 0);
	pipe_point zp[] = { { 0, 0 }, { 1000, 0 }, { 1000, 100 }, { 0, 100 } };
	pipe_zone_cfg z = zone_cfg("below", zp, 4, NULL, 0);
	an_counting *c;
	const an_event *ev;
	int n;
	enum { N = 1000 };
	static an_obs obs[N];
	static int64_t ids[N];
	assert_int_equal(an_counting_new(&z, 1, &l, 1, &c), 0);
	int64_t want_in = 0, want_out = 0;
	for (int round = 0; round < 3; round++) {
		/* every track appears above the line, crosses down (in), and the odd ones come
		 * back up (out); then all end, so the table empties and is reused */
		int64_t base = (int64_t)round * N;
		double ys[] = { -10, 10, -10 };
		for (int f = 0; f < 3; f++) {
			int m = 0;
			for (int k = 0; k < N; k++) {
				if (f == 2 && k % 2 == 0)
					continue;
				obs[m++] = (an_obs){ base + k, 0, (double)(k % 1000) + 0.5, ys[f] };
			}
			assert_int_equal(an_counting_update(c, obs, m, NULL, 0, round * 10 + f, 0.1 * f,
			                                    0, &ev, &n), 0);
			int cross = f == 0 ? 0 : m;
			assert_int_equal(n, 2 * cross); /* a zone event and a crossing each */
			for (int e = 0; e < n; e++) {
				if (ev[e].kind != AN_EV_LINE_CROSS)
					continue;
				if (ev[e].direction > 0)
					want_in++;
				else
					want_out++;
				assert_int_equal(ev[e].in, want_in);
				assert_int_equal(ev[e].out, want_out);
			}
		}
		assert_int_equal(an_counting_zone_occupancy(c, 0), N / 2);
		for (int k = 0; k < N; k++)
			ids[k] = base + k;
		assert_int_equal(an_counting_update(c, NULL, 0, ids, N, round * 10 + 3, 0.3, 0, &ev,
		                                    &n), 0);
		assert_int_equal(n, N / 2);
		assert_int_equal(an_counting_zone_occupancy(c, 0), 0);
	}
	totals(c, 0, 3 * N, 3 * N / 2);
	assert_int_equal(want_in, 3 * N);
	assert_int_equal(want_out, 3 * N / 2);
	an_counting_free(&c);
}

/* Random births, moves and deaths against a plain per-id reference: exercises the track
 * table's growth and its deletions in the middle of probe runs. */
static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static void test_random_tracks_match_a_plain_reference(void **state)
{
	(void)state;
	pipe_line_cfg l = line_cfg("gate", 0, 0, 100, 0, NULL, 0);
	an_counting *c;
	const an_event *ev;
	int n;
	enum { IDS = 3000, FRAMES = 400 };
	static int side[IDS];          /* 0: not alive or no reference */
	static bool alive[IDS];
	static double ax[IDS], ay[IDS];
	static an_obs obs[IDS];
	static int64_t ended[IDS];
	memset(side, 0, sizeof(side));
	memset(alive, 0, sizeof(alive));
	assert_int_equal(an_counting_new(NULL, 0, &l, 1, &c), 0);
	uint32_t seed = 12345;
	int64_t want_in = 0, want_out = 0;
	for (int f = 0; f < FRAMES; f++) {
		int m = 0, e = 0;
		for (int id = 0; id < IDS; id++) {
			uint32_t r = lcg(&seed) >> 8;
			if (alive[id] && r % 50 == 0) { /* ends */
				alive[id] = false;
				side[id] = 0;
				ended[e++] = id;
				continue;
			}
			if (!alive[id] && r % 40 != 0)
				continue;
			bool fresh = !alive[id];
			alive[id] = true;
			if (r % 3 == 0 && !fresh)
				continue; /* not observed this frame */
			/* integer coordinates around the segment, some exactly on its line */
			double x = (double)((int)(lcg(&seed) >> 8) % 140 - 20);
			double y = (double)((int)(lcg(&seed) >> 8) % 9 - 4);
			obs[m++] = (an_obs){ id, 0, x, y };
			pipe_point a = { x, y }, prev = { ax[id], ay[id] };
			double s = an_line_side(&l.points[0], &l.points[1], &a);
			if (s == 0)
				continue;
			int sd = s > 0 ? 1 : -1;
			if (side[id] == -sd && an_segments_meet(&prev, &a, &l.points[0], &l.points[1])) {
				if (sd > 0)
					want_in++;
				else
					want_out++;
			}
			side[id] = sd;
			ax[id] = x;
			ay[id] = y;
		}
		assert_int_equal(an_counting_update(c, obs, m, ended, e, f, f / 30.0, 0, &ev, &n), 0);
	}
	totals(c, 0, want_in, want_out);
	assert_true(want_in > 100 && want_out > 100);
	an_counting_free(&c);
}

/* ---- self-intersection ---- */

static void test_self_intersection_detection(void **state)
{
	(void)state;
	int i = 99, j = 99;
	pipe_point bowtie[] = { { 0, 0 }, { 10, 10 }, { 10, 0 }, { 0, 10 } };
	assert_true(an_polygon_self_intersects(bowtie, 4, &i, &j));
	assert_int_equal(i, 0);
	assert_int_equal(j, 2);
	/* vertex 3 touches edge 0 in its middle */
	pipe_point touch[] = { { 0, 0 }, { 10, 0 }, { 10, 10 }, { 5, 0 }, { 0, 10 } };
	assert_true(an_polygon_self_intersects(touch, 5, &i, &j));
	assert_int_equal(i, 0);
	assert_int_equal(j, 2);
	/* two vertices at one point (a pinched figure eight) */
	pipe_point pinch[] = { { 0, 0 }, { 10, 0 }, { 5, 5 }, { 10, 10 }, { 0, 10 }, { 5, 5 } };
	assert_true(an_polygon_self_intersects(pinch, 6, NULL, NULL));
	/* a repeated neighbour (zero-length edge), even in a triangle */
	pipe_point dup[] = { { 0, 0 }, { 10, 0 }, { 10, 0 }, { 0, 10 } };
	assert_true(an_polygon_self_intersects(dup, 4, &i, &j));
	assert_int_equal(i, 0);
	assert_int_equal(j, 1);
	pipe_point dup3[] = { { 0, 0 }, { 0, 0 }, { 0, 10 } };
	assert_true(an_polygon_self_intersects(dup3, 3, NULL, NULL));
	/* adjacent edges overlapping: the path turns back along itself */
	pipe_point back[] = { { 0, 0 }, { 10, 0 }, { 5, 0 }, { 5, 5 } };
	assert_true(an_polygon_self_intersects(back, 4, &i, &j));
	assert_int_equal(i, 0);
	assert_int_equal(j, 1);
	/* ... also across the wrap-around (last edge and first edge) */
	pipe_point wrap[] = { { 0, 0 }, { 10, 0 }, { 15, 10 }, { 20, 0 } };
	assert_true(an_polygon_self_intersects(wrap, 4, &i, &j));
	assert_int_equal(i, 0);
	assert_int_equal(j, 3);
	/* valid: a triangle, a concave arrow, a straight-through (collinear) vertex */
	pipe_point tri[] = { { 0, 0 }, { 10, 0 }, { 0, 10 } };
	pipe_point arrow[] = { { 0, 0 }, { 10, 5 }, { 0, 10 }, { 4, 5 } };
	pipe_point straight[] = { { 0, 0 }, { 5, 0 }, { 10, 0 }, { 10, 10 } };
	pipe_point lshape[] = { { 0, 0 }, { 10, 0 }, { 10, 4 }, { 4, 4 }, { 4, 10 }, { 0, 10 } };
	assert_false(an_polygon_self_intersects(tri, 3, &i, &j));
	assert_false(an_polygon_self_intersects(arrow, 4, &i, &j));
	assert_false(an_polygon_self_intersects(straight, 4, &i, &j));
	assert_false(an_polygon_self_intersects(lshape, 6, &i, &j));
	assert_false(an_polygon_self_intersects(square10, 4, NULL, NULL));
	/* not checkable: too few or too many points */
	assert_true(an_polygon_self_intersects(tri, 2, &i, &j));
	assert_int_equal(i, -1);
	assert_int_equal(j, -1);
	static pipe_point many[AN_POLYGON_MAX_POINTS + 1];
	assert_true(an_polygon_self_intersects(many, AN_POLYGON_MAX_POINTS + 1, &i, &j));
	assert_int_equal(i, -1);
}

static void test_a_big_valid_polygon_is_accepted(void **state)
{
	(void)state;
	/* a regular-ish convex polygon at the cap, on integer coordinates of a circle */
	static pipe_point poly[AN_POLYGON_MAX_POINTS];
	int n = 0;
	/* walk the boundary of a 257 x 257 square's lattice points: convex, collinear
	 * neighbours only (straight-through vertices) */
	for (int k = 0; k < 256; k++) poly[n++] = (pipe_point){ k, 0 };
	for (int k = 0; k < 256; k++) poly[n++] = (pipe_point){ 256, k };
	for (int k = 0; k < 256; k++) poly[n++] = (pipe_point){ 256 - k, 256 };
	for (int k = 0; k < 256; k++) poly[n++] = (pipe_point){ 0, 256 - k };
	assert_int_equal(n, AN_POLYGON_MAX_POINTS);
	assert_false(an_polygon_self_intersects(poly, n, NULL, NULL));
	poly[700] = (pipe_point){ 128, 0 }; /* one point pulled onto the opposite edge */
	assert_true(an_polygon_self_intersects(poly, n, NULL, NULL));
}

static void test_segments_meet_end_points_and_degenerate(void **state)
{
	(void)state;
	pipe_point p1 = { 0, 0 }, p2 = { 10, 0 };
	pipe_point a = { 10, 5 }, b = { 10, 0 }, c = { 10.5, -5 }, d = { 11, 0 };
	assert_true(an_segments_meet(&a, &b, &p1, &p2));  /* ends on P2 */
	assert_false(an_segments_meet(&a, &c, &p1, &p2)); /* passes beside P2 */
	assert_false(an_segments_meet(&b, &d, &p1, &p1)); /* collinear, apart */
	pipe_point e = { 5, 0 }, f = { 20, 0 };
	assert_true(an_segments_meet(&e, &f, &p1, &p2)); /* collinear overlap */
	assert_true(an_segments_meet(&e, &e, &p1, &p2)); /* a point on the segment */
}

static void test_event_names_and_bad_arguments(void **state)
{
	(void)state;
	assert_string_equal(an_event_name(AN_EV_TRACK_START), "track_start");
	assert_string_equal(an_event_name(AN_EV_TRACK_END), "track_end");
	assert_string_equal(an_event_name(AN_EV_ZONE_ENTER), "zone_enter");
	assert_string_equal(an_event_name(AN_EV_ZONE_EXIT), "zone_exit");
	assert_string_equal(an_event_name(AN_EV_LINE_CROSS), "line_cross");
	assert_string_equal(an_event_name((enum an_event_kind)42), "unknown");
	an_counting *c = NULL;
	assert_int_equal(an_counting_new(NULL, 1, NULL, 0, &c), -EINVAL);
	assert_int_equal(an_counting_new(NULL, 0, NULL, -1, &c), -EINVAL);
	assert_int_equal(an_counting_new(NULL, 0, NULL, 0, &c), 0);
	const an_event *ev;
	int n;
	assert_int_equal(an_counting_update(c, NULL, 1, NULL, 0, 0, 0, 0, &ev, &n), -EINVAL);
	an_obs o = { 1, 0, 1, 1 };
	assert_int_equal(an_counting_update(c, &o, 1, NULL, 0, 0, 0, 0, &ev, &n), 0);
	assert_int_equal(n, 0);
	an_counting_free(&c);
	an_counting_free(&c); /* idempotent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_side_sign_is_positive_right_of_p1_p2_on_screen),
		cmocka_unit_test(test_crossing_top_to_bottom_is_in_and_back_is_out),
		cmocka_unit_test(test_anchor_on_line_is_ignored_and_crossing_uses_earlier_anchor),
		cmocka_unit_test(test_crossing_through_an_end_point_counts),
		cmocka_unit_test(test_passing_beside_the_segment_does_not_count_but_moves_the_anchor),
		cmocka_unit_test(test_back_and_forth_counts_every_crossing),
		cmocka_unit_test(test_long_gap_between_observations_still_counts),
		cmocka_unit_test(test_first_appearance_never_counts),
		cmocka_unit_test(test_line_class_filter_uses_the_class_at_the_crossing),
		cmocka_unit_test(test_zone_enter_exit_and_dwell),
		cmocka_unit_test(test_zone_boundary_and_vertices_are_inside),
		cmocka_unit_test(test_track_ended_inside_exits_with_dwell_to_last_inside),
		cmocka_unit_test(test_zone_class_filter_follows_the_current_class),
		cmocka_unit_test(test_occupancy_counts_tracks_inside),
		cmocka_unit_test(test_events_per_track_exits_enters_crossings_then_ended),
		cmocka_unit_test(test_many_tracks_totals_exact_and_state_reused),
		cmocka_unit_test(test_random_tracks_match_a_plain_reference),
		cmocka_unit_test(test_self_intersection_detection),
		cmocka_unit_test(test_a_big_valid_polygon_is_accepted),
		cmocka_unit_test(test_segments_meet_end_points_and_degenerate),
		cmocka_unit_test(test_event_names_and_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
