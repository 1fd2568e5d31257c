/* The keys of the HTTP server, the live view, snapshots and recordings: defaults, http.listen
 * merged with the older metrics.listen, the off-host rule (a token, a password or an explicit
 * allow_unauthenticated), snapshots needing the tracker, sources[].record read back, and the
 * one-source pipeline of `vapd --source --model` going through the same checks. */
#include "test_config_util.h"

#include "analytics/events.h"
#include "pipeline/quick.h"

static void test_defaults_without_the_keys(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE);
	assert_null(c->metrics_listen);
	assert_int_equal(c->view.fps, 5);
	assert_int_equal(c->view.width, 640);
	assert_int_equal(c->view.quality, 80);
	assert_string_equal(c->http.user, "vapd");
	assert_int_equal(c->http.max_viewers, 8);
	assert_false(c->http.allow_unauthenticated);
	assert_false(c->snapshots.present);
	assert_false(c->sources[0].record.present);
	unload(&l);
}

static void test_http_listen_and_metrics_listen_are_one_setting(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE "http: { listen: 127.0.0.1:9464 }\nview: { fps: 2, width: 320 }\n");
	assert_string_equal(c->metrics_listen, "127.0.0.1:9464");
	assert_int_equal(c->view.fps, 2);
	assert_int_equal(c->view.width, 320);
	unload(&l);
	c = load_ok(&l, LIVE_SOURCE "metrics: { listen: \"[::1]:9464\" }\n");
	assert_string_equal(c->metrics_listen, "[::1]:9464");
	unload(&l);
	expect_error_in("metrics: { listen: 127.0.0.1:1 }\nhttp:\n  listen: 127.0.0.1:2\n",
	                "6:11: http.listen: give either http.listen or metrics.listen (line 4), not both");
}

static void test_off_host_listening_needs_a_credential(void **state)
{
	(void)state;
	expect_error_in("http: { listen: \"0.0.0.0:9464\" }\n",
	                "4:17: http.listen: '0.0.0.0:9464' is reachable from other hosts");
	expect_error_in("http: { listen: \"[::]:9464\" }\n", "4:17: http.listen: '[::]:9464' is reachable");
	expect_error_in("metrics: { listen: \"192.168.1.5:9464\" }\n",
	                "4:20: http.listen: '192.168.1.5:9464' is reachable");
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE "http: { listen: \"localhost:9464\" }\n");
	unload(&l);
	c = load_ok(&l, LIVE_SOURCE "http: { listen: \"127.0.0.2:9464\" }\n");
	unload(&l);
	c = load_ok(&l, LIVE_SOURCE "http: { listen: \"0.0.0.0:9464\", allow_unauthenticated: true }\n");
	assert_true(c->http.allow_unauthenticated);
	unload(&l);
	char *yaml = fmt(LIVE_SOURCE "http: { listen: \"0.0.0.0:9464\", token_file: %s/models/coco.names }\n", shared());
	c = load_ok(&l, yaml);
	assert_non_null(strstr(c->http.token_file, "coco.names"));
	unload(&l);
	free(yaml);
	expect_error_in("http: { listen: \"0.0.0.0:9464\", password_file: /nonexistent/pw }\n",
	                "4:48: http.password_file: cannot read '/nonexistent/pw'");
}

static void test_snapshots_read_back_and_need_the_tracker(void **state)
{
	(void)state;
	loaded l;
	char *yaml = fmt(LIVE_SOURCE "model: { path: %s/models/yolox_nano.onnx }\ntracker: {}\n"
	                 "snapshots: { dir: /tmp/s, events: [track_end, zone_exit], crop: false, keep: 5, "
	                 "keep_days: 1.5 }\n", shared());
	pipe_config *c = load_ok(&l, yaml);
	assert_true(c->snapshots.present);
	assert_string_equal(c->snapshots.dir, "/tmp/s");
	assert_int_equal(c->snapshots.events, (1u << AN_EV_TRACK_END) | (1u << AN_EV_ZONE_EXIT));
	assert_true(c->snapshots.frame);
	assert_false(c->snapshots.crop);
	assert_int_equal(c->snapshots.width, 1280);
	assert_int_equal(c->snapshots.keep, 5);
	assert_float_equal(c->snapshots.keep_days, 1.5, 1e-9);
	unload(&l);
	free(yaml);
	yaml = fmt(LIVE_SOURCE "model: { path: %s/models/yolox_nano.onnx }\ntracker: {}\n"
	           "snapshots: { dir: /tmp/s }\n", shared());
	c = load_ok(&l, yaml);
	free(yaml);
	assert_int_equal(c->snapshots.events,
	                 (1u << AN_EV_ZONE_ENTER) | (1u << AN_EV_LINE_CROSS) | (1u << AN_EV_TRACK_END));
	unload(&l);
	expect_error_in("snapshots:\n  dir: /tmp/s\n", "5:3: snapshots: needs tracker:");
	expect_error_in("snapshots: { events: [track_end] }\n", "4:12: snapshots.dir: missing required key");
	expect_error_in("snapshots: { dir: /tmp/s, events: [enter] }\n",
	                "4:36: snapshots.events[0]: 'enter' is not one of: track_start, track_end");
}

static void test_record_reads_back_with_its_ranges(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE "    record: { dir: /tmp/r, segment_s: 4, codec: libx264 }\n");
	const pipe_record_cfg *r = &c->sources[0].record;
	assert_true(r->present);
	assert_string_equal(r->dir, "/tmp/r");
	assert_int_equal(r->segment_s, 4);
	assert_int_equal(r->max_mb, 1024);
	assert_int_equal(r->width, 1280);
	assert_int_equal(r->fps, 0);
	assert_int_equal(r->codec, PIPE_CODEC_LIBX264);
	unload(&l);
	expect_error_in("    record: { dir: /tmp/r, segment_s: 0 }\n",
	                "4:39: sources[0].record.segment_s: 0 is out of range 1..3600");
	expect_error_in("    record: { segment_s: 3 }\n", "4:13: sources[0].record.dir: missing required key");
	expect_error_in("    record: { dir: /tmp/r, codec: vp9 }\n", "4:35: sources[0].record.codec: 'vp9' is not one of: auto, libx264, h264_nvenc");
}

static void test_command_line_pipeline_goes_through_the_same_checks(void **state)
{
	(void)state;
	char *model = fmt("%s/models/yolox_nano.onnx", shared());
	char *clip = fmt("%s/data/videos/people-2s.mp4", shared());
	pipe_quick_opts o = { .source = clip, .model = model };
	pipe_config *c = NULL;
	assert_int_equal(pipe_quick_config(&o, stderr, &c), 0);
	assert_string_equal(c->sources[0].id, "people-2s");
	assert_true(c->sources[0].realtime);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9464");
	assert_true(c->tracker.present);
	assert_int_equal(c->model.family, PIPE_FAM_AUTO);
	assert_non_null(c->model.labels);       /* coco.names beside the model */
	pipe_config_free(&c);
	/* What a file would refuse is refused, naming the command line and the key. */
	char *errs = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&errs, &len);
	o = (pipe_quick_opts){ .source = "/nonexistent.mp4", .model = model, .http = "0.0.0.0:80" };
	assert_int_equal(pipe_quick_config(&o, err, &c), VP_ECONFIG);
	fclose(err);
	assert_null(c);
	assert_non_null(strstr(errs, "command line:"));
	assert_non_null(strstr(errs, "sources[0].uri: cannot read '/nonexistent.mp4'"));
	assert_non_null(strstr(errs, "http.listen: '0.0.0.0:80' is reachable from other hosts"));
	free(errs);
	free(model);
	free(clip);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_without_the_keys),
		cmocka_unit_test(test_http_listen_and_metrics_listen_are_one_setting),
		cmocka_unit_test(test_off_host_listening_needs_a_credential),
		cmocka_unit_test(test_snapshots_read_back_and_need_the_tracker),
		cmocka_unit_test(test_record_reads_back_with_its_ranges),
		cmocka_unit_test(test_command_line_pipeline_goes_through_the_same_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
