/* The analytics keys of the pipeline file: tracker: (defaults, derived new_track_threshold,
 * the candidate threshold it gives the model, rules across keys), sources[].zones and
 * sources[].lines read back and every error of theirs at its FILE:LINE:COL and key path, and
 * sinks[].messages as a bit mask. Fixtures are YAML written by the tests into temporary files. */
#include "test_config_util.h"

/* The fixture of most tests: LIVE_SOURCE (lines 1-3), src_tail (from line 4: keys of the
 * source), then a model and, unless tracker is NULL, "tracker:" followed by tracker. */
static char *tracked(const char *src_tail, const char *tracker)
{
	return fmt(LIVE_SOURCE "%smodel:\n  path: %s/models/yolox_nano.onnx\n%s%s%s", src_tail, shared(),
	           tracker ? "tracker:" : "", tracker ? tracker : "", tracker ? "\n" : "");
}

/* The same with model.labels after the model's path: class names need it (lines of the
 * source unchanged). */
static char *tracked_labelled(const char *src_tail)
{
	return fmt(LIVE_SOURCE "%smodel:\n  path: %s/models/yolox_nano.onnx\n  labels: %s/models/coco.names\n"
	           "tracker: {}\n", src_tail, shared(), shared());
}

static void expect_tracked_error(const char *src_tail, const char *tracker, const char *expect)
{
	char *yaml = tracked(src_tail, tracker);
	expect_error(yaml, expect);
	free(yaml);
}

static pipe_config *load_tracked(loaded *l, const char *src_tail, const char *tracker)
{
	char *yaml = tracked(src_tail, tracker);
	load_ok(l, yaml);
	free(yaml);
	return l->cfg;
}

static void assert_tracker(const pipe_tracker_cfg *t, float high, float low, float new_track, float match,
                           int lost_frames, bool per_class)
{
	assert_true(t->present);
	assert_int_equal(t->type, PIPE_TRACKER_BYTETRACK);
	assert_float_equal(t->high_threshold, high, 1e-6);
	assert_float_equal(t->low_threshold, low, 1e-6);
	assert_float_equal(t->new_track_threshold, new_track, 1e-6);
	assert_float_equal(t->match_threshold, match, 1e-6);
	assert_int_equal(t->lost_frames, lost_frames);
	assert_int_equal(t->per_class, per_class);
}

static void test_tracker_applies_documented_defaults(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_tracked(&l, "", " {}");
	assert_tracker(&c->tracker, 0.5f, 0.1f, 0.6f, 0.8f, 30, false);
	assert_int_equal(c->tracker.pos.line, 6);
	assert_int_equal(c->sources[0].n_zones, 0);
	assert_null(c->sources[0].zones);
	assert_int_equal(c->sources[0].n_lines, 0);
	unload(&l);
}

static void test_tracker_reads_back_every_key(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_tracked(&l, "", "\n  type: bytetrack\n  high_threshold: 0.6\n  low_threshold: 0.2\n"
	                                      "  new_track_threshold: 0.65\n  match_threshold: 0.7\n"
	                                      "  lost_frames: 90\n  per_class: true");
	assert_tracker(&c->tracker, 0.6f, 0.2f, 0.65f, 0.7f, 90, true);
	unload(&l);
}

/* tracker.new_track_threshold as loaded from "tracker:" + tracker. */
static float new_track_threshold(const char *tracker)
{
	loaded l;
	float v = load_tracked(&l, "", tracker)->tracker.new_track_threshold;
	unload(&l);
	return v;
}

static void test_tracker_derives_new_track_threshold_from_high_unless_written(void **state)
{
	(void)state;
	assert_float_equal(new_track_threshold(" { high_threshold: 0.7 }"), 0.8f, 1e-6);
	/* A score is at most 1, so the derived threshold is too. */
	assert_float_equal(new_track_threshold(" { high_threshold: 0.95 }"), 1.0f, 1e-6);
	/* Written: kept, even below high_threshold + 0.1, and even 0. */
	assert_float_equal(new_track_threshold(" { high_threshold: 0.7, new_track_threshold: 0.5 }"), 0.5f, 1e-6);
	assert_float_equal(new_track_threshold(" { new_track_threshold: 0 }"), 0.0f, 1e-6);
}

static void test_tracker_sets_candidate_threshold_only_with_a_tracker(void **state)
{
	(void)state;
	loaded l;
	load_tracked(&l, "", NULL);
	assert_false(l.cfg->tracker.present);
	assert_float_equal(l.cfg->model.candidate_threshold, 0.0f, 0);
	unload(&l);
	load_tracked(&l, "", " {}");
	assert_float_equal(l.cfg->model.candidate_threshold, 0.1f, 1e-6);
	unload(&l);
	load_tracked(&l, "", " { low_threshold: 0.05 }");
	assert_float_equal(l.cfg->model.candidate_threshold, 0.05f, 1e-6);
	assert_float_equal(l.cfg->model.threshold, 0.3f, 1e-6);
	unload(&l);
	/* low_threshold 0 keeps every box for the tracker, not none (0 means "no candidates"). */
	load_tracked(&l, "", " { low_threshold: 0 }");
	assert_true(l.cfg->model.candidate_threshold > 0 && l.cfg->model.candidate_threshold < 1e-5);
	unload(&l);
}

static void test_tracker_rejects_out_of_range_values_with_position(void **state)
{
	(void)state;
	expect_tracked_error("", " { high_threshold: 1.5 }", "6:28: tracker.high_threshold: 1.5 is out of range 0..1\n");
	expect_tracked_error("", "\n  low_threshold: -0.1", "7:18: tracker.low_threshold: -0.1 is out of range 0..1\n");
	expect_tracked_error("", "\n  new_track_threshold: 2",
	                     "7:24: tracker.new_track_threshold: 2 is out of range 0..1\n");
	expect_tracked_error("", "\n  match_threshold: 1.01", "7:20: tracker.match_threshold: 1.01 is out of range 0..1\n");
	expect_tracked_error("", "\n  lost_frames: 0", "7:16: tracker.lost_frames: 0 is out of range 1..1000000\n");
	expect_tracked_error("", "\n  lost_frames: 1.5", "7:16: tracker.lost_frames: expected an integer, got '1.5'\n");
	expect_tracked_error("", "\n  type: sort", "7:9: tracker.type: 'sort' is not one of: bytetrack\n");
	expect_tracked_error("", "\n  per_class: maybe", "7:14: tracker.per_class: expected true or false, got 'maybe'\n");
	expect_tracked_error("", "\n  iou: 0.5", "7:3: tracker.iou: unknown key; valid keys: type, high_threshold, "
	                                        "low_threshold, new_track_threshold, match_threshold, lost_frames, "
	                                        "per_class\n");
	expect_tracked_error("", " bytetrack", "6:10: tracker: expected a map, got a scalar\n");
}

static void test_tracker_rejects_low_threshold_above_high(void **state)
{
	(void)state;
	expect_tracked_error("", "\n  high_threshold: 0.4\n  low_threshold: 0.45",
	                     "8:18: tracker.low_threshold: must be <= high_threshold (0.4)\n");
	/* Against the default high_threshold: still at the key that was written. */
	expect_tracked_error("", "\n  low_threshold: 0.6", "7:18: tracker.low_threshold: must be <= high_threshold (0.5)\n");
	/* Against a written high_threshold and the default low_threshold: at high_threshold. */
	expect_tracked_error("", "\n  high_threshold: 0.05",
	                     "7:19: tracker.low_threshold: must be <= high_threshold (0.05)\n");
	loaded l;
	load_tracked(&l, "", " { high_threshold: 0.3, low_threshold: 0.3 }");
	unload(&l);
}

static void test_tracker_needs_a_model(void **state)
{
	(void)state;
	expect_error(LIVE_SOURCE "tracker:\n  per_class: true\n",
	             "5:3: tracker: needs a model: section (it tracks the model's detections)\n");
}

#define ZONES "    zones:\n"
#define LINES "    lines:\n"

static void test_zones_and_lines_read_back(void **state)
{
	(void)state;
	loaded l;
	char *yaml = tracked_labelled(
		ZONES "      - name: lot\n        polygon: [[100, 300], [600.5, 300], [600, 540.25], [100, 540]]\n"
		"        classes: [car, 7]\n"                                                  /* line 6 */
		"      - { name: door, polygon: [[0, 0], [10, 0], [5, -8.5]] }\n"
		LINES "      - name: gate\n        points: [[0, 400], [960, 400.5]]\n        classes: [person]\n"
		"      - { name: exit, points: [[-1e3, 0], [0, 1e3]] }\n");
	pipe_config *c = load_ok(&l, yaml);
	free(yaml);
	const pipe_source_cfg *s = &c->sources[0];
	assert_int_equal(s->n_zones, 2);
	assert_string_equal(s->zones[0].name, "lot");
	assert_int_equal(s->zones[0].pos.line, 5);
	assert_int_equal(s->zones[0].pos.col, 9);
	assert_int_equal(s->zones[0].n_points, 4);
	assert_true(s->zones[0].points[1].x == 600.5 && s->zones[0].points[1].y == 300.0);
	assert_true(s->zones[0].points[2].x == 600.0 && s->zones[0].points[2].y == 540.25);
	assert_int_equal(s->zones[0].n_classes, 2);
	assert_string_equal(s->zones[0].classes[0].name, "car");
	assert_int_equal(s->zones[0].classes[0].id, -1);
	assert_null(s->zones[0].classes[1].name);
	assert_int_equal(s->zones[0].classes[1].id, 7);
	assert_int_equal(s->zones[0].classes[1].pos.line, 7);
	assert_string_equal(s->zones[1].name, "door");
	assert_int_equal(s->zones[1].n_points, 3);
	assert_true(s->zones[1].points[2].x == 5.0 && s->zones[1].points[2].y == -8.5);
	assert_int_equal(s->zones[1].n_classes, 0);
	assert_int_equal(s->n_lines, 2);
	assert_string_equal(s->lines[0].name, "gate");
	assert_int_equal(s->lines[0].pos.line, 10);
	assert_true(s->lines[0].points[0].x == 0.0 && s->lines[0].points[0].y == 400.0);
	assert_true(s->lines[0].points[1].x == 960.0 && s->lines[0].points[1].y == 400.5);
	assert_int_equal(s->lines[0].n_classes, 1);
	assert_string_equal(s->lines[0].classes[0].name, "person");
	assert_string_equal(s->lines[1].name, "exit");
	assert_true(s->lines[1].points[0].x == -1000.0 && s->lines[1].points[1].y == 1000.0);
	unload(&l);
}

/* As the start resolves them through model.labels: a name must be there, at its position. */
static void test_zone_and_line_classes_are_checked_against_the_labels(void **state)
{
	(void)state;
	char *yaml = tracked_labelled(ZONES "      - { name: z, polygon: [[0, 0], [9, 0], [9, 9]], classes: [car, nosuch] }\n"
	                              LINES "      - name: l\n        points: [[0, 0], [9, 9]]\n        classes: [80]\n");
	const char *want[] = {
		":5:70: sources[0].zones[0].classes[1]: unknown class 'nosuch' (not in the labels file)\n",
		":9:19: sources[0].lines[0].classes[0]: class id 80 is not in the labels file (80 names)\n",
	};
	expect_errors(yaml, 2, want);
	free(yaml);
	expect_tracked_error(LINES "      - { name: l, points: [[0, 0], [9, 9]], classes: [person] }\n", " {}",
	                     "5:56: sources[0].lines[0].classes[0]: unknown class 'person' (names need model.labels)\n");
}

static void test_zone_and_line_names_are_unique_per_source_only(void **state)
{
	(void)state;
	const char *zone = "    zones: [{ name: lot, polygon: [[0, 0], [9, 0], [9, 9]] }]\n"
	                   "    lines: [{ name: lot, points: [[0, 0], [9, 9]] }]\n";
	char *yaml = fmt(LIVE_SOURCE "%s  - id: cam2\n    uri: rtsp://h/2\n%smodel:\n  path: %s/models/yolox_nano.onnx\n"
	                 "tracker: {}\n", zone, zone, shared());
	loaded l;
	load_ok(&l, yaml);
	assert_string_equal(l.cfg->sources[1].zones[0].name, "lot");
	assert_string_equal(l.cfg->sources[1].lines[0].name, "lot");
	unload(&l);
	free(yaml);
	expect_tracked_error(ZONES "      - { name: a, polygon: [[0, 0], [9, 0], [9, 9]] }\n"
	                           "      - { name: b, polygon: [[0, 0], [9, 0], [9, 9]] }\n"
	                           "      - { name: a, polygon: [[0, 0], [9, 0], [9, 9]] }\n",
	                     " {}", "7:17: sources[0].zones[2].name: 'a' is used twice (first at line 5)\n");
	expect_tracked_error(LINES "      - { name: a, points: [[0, 0], [9, 9]] }\n"
	                           "      - { name: a, points: [[0, 0], [9, 8]] }\n",
	                     " {}", "6:17: sources[0].lines[1].name: 'a' is used twice (first at line 5)\n");
	/* At the names, also when they are not a map's first key. */
	expect_tracked_error(LINES "      - points: [[0, 0], [9, 9]]\n        name: a\n"
	                           "      - points: [[0, 0], [9, 8]]\n        classes: [car]\n        name: a\n",
	                     " {}", "9:15: sources[0].lines[1].name: 'a' is used twice (first at line 6)\n");
	expect_tracked_error(ZONES "      - { name: 'a b', polygon: [[0, 0], [9, 0], [9, 9]] }\n", " {}",
	                     "5:17: sources[0].zones[0].name: 'a b' must be 1 to 64 letters");
}

static void test_zone_polygon_errors_point_at_the_polygon(void **state)
{
	(void)state;
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [10, 0]]\n", " {}",
	                     "6:18: sources[0].zones[0].polygon: needs 3 to 256 points, got 2\n");
	/* A bow-tie: edge 0-1 (top) and 2-3 (bottom) are fine, 1-2 and 3-0 cross in the middle. */
	expect_tracked_error(ZONES "      - name: bow\n        polygon: [[0, 0], [10, 0], [0, 10], [10, 10]]\n", " {}",
	                     "6:18: sources[0].zones[0].polygon: the polygon crosses itself (edges 1-2 and 3-0)\n");
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [10, 0], 5]\n", " {}",
	                     "6:36: sources[0].zones[0].polygon[2]: expected a point [x, y], got a scalar\n");
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [10, 0], [5, 5, 5]]\n", " {}",
	                     "6:36: sources[0].zones[0].polygon[2]: expected a point [x, y], got a list of another "
	                     "length\n");
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [10, zero], [5, 5]]\n", " {}",
	                     "6:32: sources[0].zones[0].polygon[1][1]: expected a number, got 'zero'\n");
	expect_tracked_error(ZONES "      - name: lot\n        polygon: { x: 1 }\n", " {}",
	                     "6:18: sources[0].zones[0].polygon: expected a list of points [[x, y], ...], got a map\n");
}

static void test_zone_rejects_unknown_and_missing_keys(void **state)
{
	(void)state;
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [9, 0], [9, 9]]\n        color: red\n",
	                     " {}",
	                     "7:9: sources[0].zones[0].color: unknown key; valid keys: name, polygon, classes\n");
	expect_tracked_error(ZONES "      - polygon: [[0, 0], [9, 0], [9, 9]]\n", " {}",
	                     "5:9: sources[0].zones[0].name: missing required key\n");
	expect_tracked_error(ZONES "      - name: lot\n        classes: [car]\n", " {}",
	                     "5:9: sources[0].zones[0].polygon: missing required key\n");
	expect_tracked_error(ZONES "      - name: lot\n        name: lat\n        polygon: [[0, 0], [9, 0], [9, 9]]\n", " {}",
	                     "6:9: sources[0].zones[0].name: duplicate key (first at line 5)\n");
	expect_tracked_error(ZONES "      - lot\n", " {}", "5:9: sources[0].zones[0]: expected a map, got a scalar\n");
	expect_tracked_error("    zones: lot\n", " {}", "4:12: sources[0].zones: expected a list of maps, got a scalar\n");
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [9, 0], [9, 9]]\n        classes: car\n",
	                     " {}", "7:18: sources[0].zones[0].classes: expected a list of class names or ids, got a "
	                            "scalar\n");
}

static void test_zones_and_lines_need_a_tracker(void **state)
{
	(void)state;
	expect_tracked_error(ZONES "      - name: lot\n        polygon: [[0, 0], [9, 0], [9, 9]]\n", NULL,
	                     "5:9: sources[0].zones: zones and lines count tracked objects: add a tracker: section\n");
	expect_tracked_error(LINES "      - { name: gate, points: [[0, 0], [9, 9]] }\n", NULL,
	                     "5:9: sources[0].lines: zones and lines count tracked objects: add a tracker: section\n");
}

static void test_zones_are_at_most_64_per_source(void **state)
{
	(void)state;
	char *tail = strdup(ZONES);
	for (int i = 0; i < 65; i++) {
		char *next = fmt("%s      - { name: z%d, polygon: [[0, 0], [9, 0], [9, 9]] }\n", tail, i);
		free(tail);
		tail = next;
		if (i == 63) {
			loaded l;
			assert_int_equal(load_tracked(&l, tail, " {}")->sources[0].n_zones, 64);
			unload(&l);
		}
	}
	expect_tracked_error(tail, " {}", "5:7: sources[0].zones: at most 64 entries, got 65\n");
	free(tail);
}

static void test_line_needs_two_distinct_points(void **state)
{
	(void)state;
	expect_tracked_error(LINES "      - name: gate\n        points: [[0, 0]]\n", " {}",
	                     "6:17: sources[0].lines[0].points: needs exactly 2 points, got 1\n");
	expect_tracked_error(LINES "      - name: gate\n        points: [[0, 0], [5, 5], [9, 9]]\n", " {}",
	                     "6:17: sources[0].lines[0].points: needs exactly 2 points, got 3\n");
	expect_tracked_error(LINES "      - name: gate\n        points: [[4, 2.5], [4, 2.5]]\n", " {}",
	                     "6:17: sources[0].lines[0].points: the two points must differ\n");
	expect_tracked_error(LINES "      - name: gate\n        points: [[0, 0], [x, 1]]\n", " {}",
	                     "6:27: sources[0].lines[0].points[1][0]: expected a number, got 'x'\n");
	expect_tracked_error(LINES "      - name: gate\n        points: [[0, 0], []]\n", " {}",
	                     "6:26: sources[0].lines[0].points[1]: expected a point [x, y], got a list of another");
	expect_tracked_error(LINES "      - name: gate\n        polygon: [[0, 0], [9, 9]]\n", " {}",
	                     "6:9: sources[0].lines[0].polygon: unknown key; valid keys: name, points, classes\n");
}

static void test_zone_and_line_errors_are_all_reported(void **state)
{
	(void)state;
	char *yaml = tracked(ZONES "      - { name: 'a b', polygon: [[0, 0], [9, 0]], classes: car }\n"
	                     LINES "      - { name: 'x y', points: [[0, 0]] }\n      - { points: [[0, 0], [0, 0]] }\n",
	                     " {}");
	const char *want[] = {
		":5:17: sources[0].zones[0].name: 'a b' must",
		":5:33: sources[0].zones[0].polygon: needs 3 to 256 points, got 2\n",
		":5:60: sources[0].zones[0].classes: expected a list",
		":7:17: sources[0].lines[0].name: 'x y' must",
		":7:32: sources[0].lines[0].points: needs exactly 2 points, got 1\n",
		":8:9: sources[0].lines[1].name: missing required key\n",
		":8:19: sources[0].lines[1].points: the two points must differ\n",
	};
	expect_errors(yaml, 7, want);
	free(yaml);
}

/* A sinks: section with one file sink; after LIVE_SOURCE, sinks: is line 4 and the sink line 5. */
#define SINK_FILE "sinks:\n  - type: file\n    path: /tmp/vapd-test.jsonl\n"

static void test_sink_messages_default_to_every_kind(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE);
	assert_int_equal(c->sinks[0].messages,
	                 PIPE_MSG_BIT(PIPE_MSG_FRAMES) | PIPE_MSG_BIT(PIPE_MSG_EVENTS) | PIPE_MSG_BIT(PIPE_MSG_EOS));
	unload(&l);
	c = load_ok(&l, LIVE_SOURCE SINK_FILE "  - type: stdout\n    messages: [events]\n"
	                "  - type: stdout\n    messages: [eos, frames]\n");
	assert_int_equal(c->sinks[0].messages, 7u);
	assert_int_equal(c->sinks[1].messages, PIPE_MSG_BIT(PIPE_MSG_EVENTS));
	assert_int_equal(c->sinks[2].messages, PIPE_MSG_BIT(PIPE_MSG_EOS) | PIPE_MSG_BIT(PIPE_MSG_FRAMES));
	unload(&l);
}

static void test_sink_messages_rejects_empty_unknown_and_scalar(void **state)
{
	(void)state;
	expect_error_in(SINK_FILE "    messages: []\n",
	                "7:15: sinks[0].messages: expected a non-empty list of: frames, events, eos\n");
	expect_error_in(SINK_FILE "    messages: [frames, alerts]\n",
	                "7:24: sinks[0].messages[1]: 'alerts' is not one of: frames, events, eos\n");
	expect_error_in(SINK_FILE "    messages: events\n",
	                "7:15: sinks[0].messages: expected a non-empty list of: frames, events, eos\n");
	expect_error_in(SINK_FILE "    messages: [[events]]\n",
	                "7:16: sinks[0].messages[0]: expected a name, got a list\n");
}

static void test_mqtt_topic_takes_the_kind_placeholder(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE "sinks:\n  - type: mqtt\n    broker: mqtt://h\n"
	                             "    topic: vapd/{pipeline}/{stream}/{kind}\n    messages: [events, eos]\n");
	assert_string_equal(c->sinks[0].topic, "vapd/{pipeline}/{stream}/{kind}");
	assert_int_equal(c->sinks[0].messages, PIPE_MSG_BIT(PIPE_MSG_EVENTS) | PIPE_MSG_BIT(PIPE_MSG_EOS));
	unload(&l);
	expect_error_in("sinks:\n  - type: mqtt\n    broker: mqtt://h\n    topic: vapd/{nope}\n",
	                "7:12: sinks[0].topic: topic 'vapd/{nope}': unknown placeholder '{nope}' (known: {stream}, "
	                "{pipeline}, {kind})\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tracker_applies_documented_defaults),
		cmocka_unit_test(test_tracker_reads_back_every_key),
		cmocka_unit_test(test_tracker_derives_new_track_threshold_from_high_unless_written),
		cmocka_unit_test(test_tracker_sets_candidate_threshold_only_with_a_tracker),
		cmocka_unit_test(test_tracker_rejects_out_of_range_values_with_position),
		cmocka_unit_test(test_tracker_rejects_low_threshold_above_high),
		cmocka_unit_test(test_tracker_needs_a_model),
		cmocka_unit_test(test_zones_and_lines_read_back),
		cmocka_unit_test(test_zone_and_line_classes_are_checked_against_the_labels),
		cmocka_unit_test(test_zone_and_line_names_are_unique_per_source_only),
		cmocka_unit_test(test_zone_polygon_errors_point_at_the_polygon),
		cmocka_unit_test(test_zone_rejects_unknown_and_missing_keys),
		cmocka_unit_test(test_zones_and_lines_need_a_tracker),
		cmocka_unit_test(test_zones_are_at_most_64_per_source),
		cmocka_unit_test(test_line_needs_two_distinct_points),
		cmocka_unit_test(test_zone_and_line_errors_are_all_reported),
		cmocka_unit_test(test_sink_messages_default_to_every_kind),
		cmocka_unit_test(test_sink_messages_rejects_empty_unknown_and_scalar),
		cmocka_unit_test(test_mqtt_topic_takes_the_kind_placeholder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
