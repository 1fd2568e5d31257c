/* The analytics stage of one stream (analytics/analytics.c): track ids, majority class,
 * track_start / track_end contents, time-aware prediction across skipped frames, lost
 * tracks kept by the stream's fps, per-class trackers, the end of a stream, and the id map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "analytics/analytics.h"
#include "analytics/idmap.h"

static const pipe_tracker_cfg defaults = {
	.present = true, .high_threshold = 0.5f, .low_threshold = 0.1f, .new_track_threshold = 0.6f,
	.match_threshold = 0.8f, .lost_frames = 30,
};
static const pipe_source_cfg no_zones = { .id = "s" };

static vp_det box(int cls, float score, float x, float y, float w, float h)
{
	return (vp_det){ .class_id = cls, .score = score, .bbox = { x, y, x + w, y + h } };
}

/* One frame at 25 fps; returns the number of events of the given kind. */
static int step(an_stream *s, int64_t frame, const vp_det *d, int n, an_result *r)
{
	assert_int_equal(an_stream_update(s, frame, frame * 0.04, 0.04, 1000 + frame, d, n, r), 0);
	return r->n_events;
}

static int count(const an_result *r, enum an_event_kind kind)
{
	int k = 0;
	for (int i = 0; i < r->n_events; i++)
		k += r->events[i].kind == kind;
	return k;
}

static void test_first_frame_confirms_and_ids_come_from_the_shared_counter(void **state)
{
	(void)state;
	int64_t next = 0;
	an_stream *a, *b;
	an_result r;
	assert_int_equal(an_stream_new(&defaults, &no_zones, 80, &next, &a), 0);
	assert_int_equal(an_stream_new(&defaults, &no_zones, 80, &next, &b), 0);
	vp_det d[2] = { box(0, 0.9f, 10, 10, 50, 100), box(2, 0.8f, 300, 10, 80, 60) };
	step(a, 0, d, 2, &r);
	assert_int_equal(count(&r, AN_EV_TRACK_START), 2);
	assert_int_equal(r.track_ids[0], 1);
	assert_int_equal(r.track_ids[1], 2);
	assert_int_equal(r.events[0].kind, AN_EV_TRACK_START);
	assert_int_equal(r.events[0].class_id, 0);
	assert_float_equal(r.events[0].score, 0.9f, 1e-6);
	step(b, 0, d, 1, &r);
	assert_int_equal(r.track_ids[0], 3);
	/* A stream that ends and starts again never hands out an id twice. */
	assert_int_equal(an_stream_end(b, 0, 0, 0, &r), 0);
	assert_int_equal(count(&r, AN_EV_TRACK_END), 1);
	step(b, 1, d, 1, &r);
	assert_int_equal(r.track_ids[0], 4);
	an_stream_free(&a);
	an_stream_free(&b);
	assert_null(a);
}

static void test_track_end_carries_majority_class_and_best_detection(void **state)
{
	(void)state;
	int64_t next = 0;
	an_stream *s;
	an_result r;
	assert_int_equal(an_stream_new(&defaults, &no_zones, 80, &next, &s), 0);
	/* truck, car, car, car, truck: the majority is car, the latest a truck. */
	for (int f = 0; f < 5; f++) {
		vp_det d = box(f == 0 || f == 4 ? 7 : 2, f == 3 ? 0.95f : 0.7f, 100 + f, 100, 80, 60);
		step(s, f, &d, 1, &r);
		assert_int_equal(r.track_ids[0], 1);
		/* The view keeps the best frame for the track_end snapshot: told on 0 and 3 only. */
		assert_int_equal(r.best[0], f == 0 || f == 3);
	}
	assert_int_equal(an_stream_end(s, 4, 0.16, 99, &r), 0);
	assert_int_equal(r.n_events, 1);
	const an_event *e = &r.events[0];
	assert_int_equal(e->kind, AN_EV_TRACK_END);
	assert_int_equal(e->class_id, 2);
	assert_int_equal(e->first_frame, 0);
	assert_float_equal(e->first_pts, 0, 1e-9);
	assert_float_equal(e->duration_s, 0.16, 1e-9);
	assert_int_equal(e->best_frame, 3);
	assert_float_equal(e->score, 0.95f, 1e-6);
	assert_float_equal(e->bbox[0], 103, 1e-4);
	assert_int_equal(e->frame, 4);
	assert_int_equal(e->wall_us, 99);
	an_stream_free(&s);
}

/* A small box moving 10 px per frame: after 4 skipped frames it is 50 px on, beyond its
 * own width, so only a prediction over the elapsed time still finds it. */
static void test_skipped_frames_advance_the_prediction_by_elapsed_time(void **state)
{
	(void)state;
	int64_t next = 0;
	an_stream *s;
	an_result r;
	assert_int_equal(an_stream_new(&defaults, &no_zones, 80, &next, &s), 0);
	for (int f = 0; f < 12; f++) {
		vp_det d = box(0, 0.9f, 100 + 10 * f, 200, 20, 40);
		step(s, f, &d, 1, &r);
	}
	vp_det d = box(0, 0.9f, 100 + 10 * 17, 200, 20, 40);
	step(s, 17, &d, 1, &r);
	assert_int_equal(r.track_ids[0], 1);
	assert_int_equal(count(&r, AN_EV_TRACK_START), 0);
	an_stream_free(&s);
}

/* lost_frames is given at 30 fps: at 60 fps a track survives 60 frames without detections. */
static int gap_keeps_id(double frame_dur, int gap)
{
	int64_t next = 0;
	an_stream *s;
	an_result r;
	assert_int_equal(an_stream_new(&defaults, &no_zones, 80, &next, &s), 0);
	vp_det d = box(0, 0.9f, 100, 100, 60, 120);
	int64_t f = 0;
	for (; f < 5; f++)
		assert_int_equal(an_stream_update(s, f, f * frame_dur, frame_dur, 0, &d, 1, &r), 0);
	for (; f < 5 + gap; f++)
		assert_int_equal(an_stream_update(s, f, f * frame_dur, frame_dur, 0, NULL, 0, &r), 0);
	assert_int_equal(an_stream_update(s, f, f * frame_dur, frame_dur, 0, &d, 1, &r), 0);
	int64_t id = r.track_ids[0];
	an_stream_free(&s);
	return id == 1;
}

static void test_lost_frames_scale_with_the_stream_fps(void **state)
{
	(void)state;
	assert_true(gap_keeps_id(1.0 / 30, 25));
	assert_false(gap_keeps_id(1.0 / 30, 45));
	assert_true(gap_keeps_id(1.0 / 60, 45));
	assert_false(gap_keeps_id(1.0 / 60, 75));
}

static void test_per_class_keeps_classes_apart(void **state)
{
	(void)state;
	for (int per_class = 0; per_class < 2; per_class++) {
		pipe_tracker_cfg t = defaults;
		t.per_class = per_class;
		int64_t next = 0;
		an_stream *s;
		an_result r;
		assert_int_equal(an_stream_new(&t, &no_zones, 80, &next, &s), 0);
		for (int f = 0; f < 4; f++) {
			vp_det d = box(2, 0.9f, 100, 100, 80, 60);
			step(s, f, &d, 1, &r);
		}
		/* The same box now called a truck, twice (a new track needs a second match). */
		vp_det d = box(7, 0.9f, 100, 100, 80, 60);
		step(s, 4, &d, 1, &r);
		step(s, 5, &d, 1, &r);
		/* One tracker: the car's track takes the truck box (its class is a vote). Per
		 * class: the truck is a new track and the car's track is lost. */
		assert_int_equal(r.track_ids[0], per_class ? 2 : 1);
		an_stream_free(&s);
	}
}

static void test_end_of_stream_ends_every_track_oldest_first(void **state)
{
	(void)state;
	int64_t next = 10;
	an_stream *s;
	an_result r;
	pipe_point sq[] = { { 0, 0 }, { 1000, 0 }, { 1000, 1000 }, { 0, 1000 } };
	pipe_zone_cfg z = { .name = "all", .points = sq, .n_points = 4 };
	pipe_source_cfg src = { .id = "s", .zones = &z, .n_zones = 1 };
	assert_int_equal(an_stream_new(&defaults, &src, 80, &next, &s), 0);
	vp_det d[3] = { box(0, 0.9f, 10, 10, 50, 100), box(0, 0.9f, 300, 10, 50, 100),
	                box(0, 0.9f, 600, 10, 50, 100) };
	step(s, 0, d, 3, &r);
	assert_int_equal(count(&r, AN_EV_ZONE_ENTER), 3);
	assert_int_equal(an_stream_zone_occupancy(s, 0), 3);
	assert_int_equal(an_stream_active_tracks(s), 3);
	/* The middle one disappears: it is lost, not ended, until the stream ends. */
	step(s, 1, (vp_det[]){ d[0], d[2] }, 2, &r);
	assert_int_equal(an_stream_end(s, 1, 0.04, 0, &r), 0);
	assert_int_equal(r.n_events, 6);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.events[i].kind, AN_EV_ZONE_EXIT);
		assert_int_equal(r.events[3 + i].kind, AN_EV_TRACK_END);
		assert_int_equal(r.events[3 + i].track_id, 11 + i);
	}
	assert_int_equal(an_stream_zone_occupancy(s, 0), 0);
	an_stream_free(&s);
}

static void test_idmap_put_get_delete_across_growth(void **state)
{
	(void)state;
	an_idmap m = { 0 };
	assert_int_equal(an_idmap_get(&m, 5), -1);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(an_idmap_put(&m, (uint64_t)i * 7 + ((uint64_t)(i & 1) << 48), i), 0);
	for (int i = 0; i < 5000; i += 2)
		an_idmap_del(&m, (uint64_t)i * 7);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(an_idmap_get(&m, (uint64_t)i * 7 + ((uint64_t)(i & 1) << 48)),
		                 i & 1 ? i : -1);
	assert_int_equal(m.n, 2500);
	an_idmap_clear(&m);
	assert_int_equal(an_idmap_get(&m, 7 + (1ull << 48)), -1);
	an_idmap_free(&m);
}

/* Keys whose probe runs wrap past the end of the table: deleting the first must leave the
 * others findable (backward shift across the wrap). */
static void test_idmap_delete_across_the_wrap(void **state)
{
	(void)state;
	an_idmap m = { 0 };
	assert_int_equal(an_idmap_reserve(&m, 8), 0);
	assert_int_equal(m.cap, 64);
	uint64_t keys[4];
	int n = 0;
	for (uint64_t k = 1; n < 4; k++)
		if ((uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 32 & 63) >= 62)
			keys[n++] = k;
	for (int i = 0; i < 4; i++)
		assert_int_equal(an_idmap_put(&m, keys[i], i), 0);
	for (int d = 0; d < 4; d++) {
		an_idmap_del(&m, keys[d]);
		for (int i = 0; i < 4; i++)
			assert_int_equal(an_idmap_get(&m, keys[i]), i > d ? i : -1);
	}
	assert_int_equal(m.n, 0);
	an_idmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_frame_confirms_and_ids_come_from_the_shared_counter),
		cmocka_unit_test(test_track_end_carries_majority_class_and_best_detection),
		cmocka_unit_test(test_skipped_frames_advance_the_prediction_by_elapsed_time),
		cmocka_unit_test(test_lost_frames_scale_with_the_stream_fps),
		cmocka_unit_test(test_per_class_keeps_classes_apart),
		cmocka_unit_test(test_end_of_stream_ends_every_track_oldest_first),
		cmocka_unit_test(test_idmap_put_get_delete_across_growth),
		cmocka_unit_test(test_idmap_delete_across_the_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
