/* The pipeline file: every error kind is reported as FILE:LINE:COL: key.path: message, valid
 * files read back into the typed structs, defaults and ${VAR} expansion, and every example in
 * configs/ loads. Fixtures are YAML written by the tests into temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/config.h"
#include "pipeline/config_internal.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "test_config_util.h"

#include <glob.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_config_reports_yaml_syntax_error_with_libyaml_position(void **state)
{
	(void)state;
	expect_error("sources:\n  - id: a\n   uri: b\n", "3:4: (syntax): did not find expected '-' indicator");
	expect_error("pipeline: { name: x\n", "2:1: (syntax): did not find expected ',' or '}'");
	expect_error(LIVE_SOURCE "---\n" LIVE_SOURCE, "4:1: (syntax): only one YAML document per file\n");
}

static void test_config_reports_bad_utf8_and_control_characters_at_their_position(void **state)
{
	(void)state;
	expect_error(LIVE_SOURCE "    interval: \xff\n", "4:15: (syntax): invalid leading UTF-8 octet (#xFF)\n");
	expect_error("sources:\r\n  - id: \"a\x01\"\r\n", "2:11: (syntax): control characters are not allowed (#x01)\n");
	expect_error("# \xc3\xa9\xc3\xa9\n\n  x: \xe9z\n", "3:7: (syntax): invalid trailing UTF-8 octet (#x7A)\n");
}

static void test_config_says_a_directory_is_a_directory(void **state)
{
	(void)state;
	char *errs = NULL;
	size_t len;
	FILE *err = open_memstream(&errs, &len);
	pipe_config *cfg = NULL;
	assert_int_equal(pipe_config_load("/tmp", err, &cfg), VP_ECONFIG);
	fclose(err);
	assert_null(cfg);
	assert_string_equal(errs, "/tmp:1:1: (file): cannot read: Is a directory\n");
	free(errs);
}

static void test_config_rejects_unknown_key_and_lists_valid_keys(void **state)
{
	(void)state;
	expect_error_in("pipeline:\n  nmae: x\n",
	                "5:3: pipeline.nmae: unknown key; valid keys: name, device\n");
	expect_error_in("sinks:\n  - type: file\n    path: /tmp/x\n    rotate: 5\n",
	                "7:5: sinks[0].rotate: unknown key; valid keys for file sinks: type, messages, queue, path, mode, "
	                "rotate_mb, flush_ms\n");
	expect_error("source:\n  - id: a\n", "1:1: source: unknown key; valid keys: pipeline, log, metrics, http, view, snapshots, "
	                                     "sources, model, tracker, fleet, sinks\n");
	/* A table path written as one key is a key of no section (the config fuzzer's find:
	 * "sinks[].flush_ms" at the top wrote through a NULL sink). */
	expect_error("sinks[].flush_ms: 5\n", "1:1: sinks[].flush_ms: unknown key; valid keys: pipeline");
	expect_error_in("model.path: /tmp/m.onnx\n", "4:1: model.path: unknown key; valid keys: pipeline");
	expect_error_in("sinks:\n  - type: stdout\n    queue.depth: 3\n", "6:5: sinks[0].queue.depth: unknown key");
}

static void test_config_rejects_wrong_types(void **state)
{
	(void)state;
	expect_error(LIVE_SOURCE "    interval: often\n", "4:15: sources[0].interval: expected an integer, got 'often'");
	expect_error(LIVE_SOURCE "    queue: [8]\n", "4:12: sources[0].queue: expected a map, got a list");
	expect_error(LIVE_SOURCE "    loop: 2\n", "4:11: sources[0].loop: expected true or false, got '2'");
	expect_error("sources:\n  id: a\n", "2:3: sources: expected a list of maps, got a map");
	expect_error_in("model: yolox.onnx\n", "4:8: model: expected a map, got a scalar");
	expect_error_in("model:\n  path: [a]\n", "5:9: model.path: expected a value, got a list");
	expect_error_in("model:\n  threshold: high\n", "5:14: model.threshold: expected a number, got 'high'");
	expect_error_in("model:\n  input: 416\n", "5:10: model.input: expected a list of 2 numbers, got a scalar");
	expect_error_in("model:\n  input: [416]\n", "5:10: model.input: expected a list of 2 numbers, got 1");
	expect_error_in("model:\n  classes: person\n",
	                "5:12: model.classes: expected a list of class names or ids, got a scalar");
	expect_error_in("log:\n  level:\n", "5:9: log.level: expected a value, got nothing");
}

static void test_config_rejects_out_of_range_values(void **state)
{
	(void)state;
	expect_error(LIVE_SOURCE "    queue: { depth: 0 }\n", "4:21: sources[0].queue.depth: 0 is out of range 1..4096");
	expect_error(LIVE_SOURCE "    interval: 0\n", "4:15: sources[0].interval: 0 is out of range 1..1000");
	expect_error(LIVE_SOURCE "    nvdec: { surfaces: 33 }\n",
	             "4:24: sources[0].nvdec.surfaces: 33 is out of range 0..32");
	expect_error(LIVE_SOURCE "    nvdec: { in_flight: -1 }\n",
	             "4:25: sources[0].nvdec.in_flight: -1 is out of range 0..16");
	expect_error_in("model:\n  nms_iou: 1.5\n", "5:12: model.nms_iou: 1.5 is out of range 0..1");
	expect_error_in("model:\n  class_thresholds: { person: 2 }\n",
	                "5:31: model.class_thresholds.person: 2 is out of range 0..1");
	expect_error_in("model:\n  classes: [person, -3]\n", "5:21: model.classes[1]: class id -3 is out of range");
	expect_error_in("model:\n  input: [416, 99999]\n", "5:16: model.input[1]: 99999 is out of range 32..4096");
	expect_error_in("sinks:\n  - type: mqtt\n    broker: mqtt://h\n    qos: 3\n",
	                "7:10: sinks[0].qos: 3 is out of range 0..2");
}

static void test_config_rejects_bad_enum_values_listing_valid_ones(void **state)
{
	(void)state;
	expect_error(LIVE_SOURCE "    decoder: cuvid\n",
	             "4:14: sources[0].decoder: 'cuvid' is not one of: auto, nvdec, software\n");
	expect_error(LIVE_SOURCE "    queue: { policy: drop }\n",
	             "4:22: sources[0].queue.policy: 'drop' is not one of: auto, block, drop_oldest\n");
	expect_error_in("model:\n  family: yolov9\n", "5:11: model.family: 'yolov9' is not one of: yolox, yolov8, yolov5, yolov10, detr, auto\n");
	expect_error_in("sinks:\n  - type: kafka\n",
	                "5:11: sinks[0].type: 'kafka' is not one of: stdout, file, socket, mqtt\n");
	expect_error_in("log: { level: verbose }\n", "4:15: log.level: 'verbose' is not one of: error, warn, info, debug\n");
}

static void test_config_reports_missing_required_keys(void **state)
{
	(void)state;
	expect_error("pipeline: { name: x }\n", "1:1: sources: missing required key\n");
	expect_error("", "1:1: sources: missing required key");
	expect_error("sources:\n  - uri: rtsp://h/a\n", "2:5: sources[0].id: missing required key\n");
	expect_error("sources:\n  - id: a\n", "2:5: sources[0].uri: missing required key\n");
	expect_error_in("model:\n  family: yolox\n", "5:3: model.path: missing required key\n");
	expect_error_in("sinks:\n  - path: /tmp/x\n", "5:5: sinks[0].type: missing required key\n");
	expect_error_in("sinks:\n  - type: file\n", "5:5: sinks[0].path: missing required key\n");
	expect_error_in("sinks:\n  - type: socket\n", "5:5: sinks[0].address: missing required key\n");
	expect_error_in("sinks:\n  - type: mqtt\n    topic: t\n", "5:5: sinks[0].broker: missing required key\n");
	expect_error("sources: []\n", "1:10: sources: must have 1 to 256 entries, got 0\n");
	expect_error_in("sinks: []\n", "4:8: sinks: must have 1 to 32 entries, got 0\n");
}

static void test_config_rejects_key_of_another_sink_type(void **state)
{
	(void)state;
	expect_error_in("sinks:\n  - type: stdout\n    path: /tmp/x\n", "6:5: sinks[0].path: not a key of stdout sinks\n");
	expect_error_in("sinks:\n  - address: tcp://h:1\n    type: file\n    path: /tmp/x\n",
	                "5:5: sinks[0].address: not a key of file sinks\n");
	expect_error_in("sinks:\n  - type: file\n    path: /tmp/x\n    tls: { ca_file: /etc/hostname }\n",
	                "7:5: sinks[0].tls: not a key of file sinks\n");
}

static void test_config_rejects_duplicate_source_ids_naming_the_first(void **state)
{
	(void)state;
	expect_error("sources:\n  - id: cam1\n    uri: rtsp://h/1\n  - id: cam2\n    uri: rtsp://h/2\n"
	             "  - id: cam1\n    uri: rtsp://h/3\n",
	             "6:9: sources[2].id: duplicate id 'cam1' (first at line 2)\n");
	expect_error("sources:\n  - id: cam 1\n    uri: rtsp://h/1\n", "2:9: sources[0].id: 'cam 1' must be 1 to 64");
}

static void test_config_rejects_duplicate_keys_in_a_map(void **state)
{
	(void)state;
	expect_error(LIVE_SOURCE "    loop: true\n    loop: false\n", "5:5: sources[0].loop: duplicate key (first at line 4)\n");
	expect_error_in("model:\n  path: a\nmodel:\n  path: b\n", "6:1: model: duplicate key (first at line 4)\n");
	expect_error_in("model:\n  class_thresholds: { person: 0.5, person: 0.6 }\n",
	                "5:36: model.class_thresholds.person: duplicate key (first at line 5)\n");
}

static void test_config_rejects_unreadable_files(void **state)
{
	(void)state;
	expect_error("sources:\n  - id: a\n    uri: /nonexistent/clip.mp4\n",
	             "3:10: sources[0].uri: cannot read '/nonexistent/clip.mp4': No such file or directory\n");
	expect_error("sources:\n  - id: a\n    uri: file:///nonexistent/clip.mp4\n",
	             "3:10: sources[0].uri: cannot read '/nonexistent/clip.mp4'");
	expect_error("sources:\n  - id: a\n    uri: /tmp\n", "3:10: sources[0].uri: '/tmp' is not a regular file\n");
	expect_error_in("model:\n  path: /nonexistent/m.onnx\n", "5:9: model.path: cannot read '/nonexistent/m.onnx'");
	char *yaml = fmt(LIVE_SOURCE "model:\n  path: %s/models/yolox_nano.onnx\n  labels: /nonexistent/coco.names\n",
	                 shared());
	expect_error(yaml, "6:11: model.labels: cannot read '/nonexistent/coco.names'");
	free(yaml);
	const char *mqtt = "sinks:\n  - type: mqtt\n    broker: mqtts://h\n";
	yaml = fmt("%s    password_file: /nonexistent/pw\n", mqtt);
	expect_error_in(yaml, "7:20: sinks[0].password_file: cannot read '/nonexistent/pw'");
	free(yaml);
	yaml = fmt("%s    tls: { ca_file: /nonexistent/ca.pem }\n", mqtt);
	expect_error_in(yaml, "7:21: sinks[0].tls.ca_file: cannot read '/nonexistent/ca.pem'");
	free(yaml);
	yaml = fmt("%s    tls:\n      cert_file: /etc/hostname\n      key_file: /nonexistent/k.pem\n", mqtt);
	expect_error_in(yaml, "9:17: sinks[0].tls.key_file: cannot read '/nonexistent/k.pem'");
	free(yaml);
}

static void test_config_reports_unopenable_config_file(void **state)
{
	(void)state;
	size_t len;
	char *errs = NULL;
	FILE *err = open_memstream(&errs, &len);
	pipe_config *cfg = NULL;
	assert_int_equal(pipe_config_load("/nonexistent/vapd.yaml", err, &cfg), VP_ECONFIG);
	fclose(err);
	assert_null(cfg);
	assert_string_equal(errs, "/nonexistent/vapd.yaml:1:1: (file): cannot open: No such file or directory\n");
	free(errs);
}

static void test_config_requires_reconnect_max_not_below_initial(void **state)
{
	(void)state;
	expect_error("sources:\n  - id: a\n    uri: rtsp://h/a\n  - id: b\n    uri: rtsp://h/b\n"
	             "    reconnect: { initial_ms: 500, max_ms: 100 }\n",
	             "6:43: sources[1].reconnect.max_ms: must be >= initial_ms (500)\n");
	expect_error(LIVE_SOURCE "    reconnect: { initial_ms: 60000 }\n",
	             "2:5: sources[0].reconnect.max_ms: must be >= initial_ms (60000)\n");
	expect_error_in("sinks:\n  - type: mqtt\n    broker: mqtt://h\n    reconnect:\n      initial_ms: 2000\n"
	                "      max_ms: 1000\n",
	                "9:15: sinks[0].reconnect.max_ms: must be >= initial_ms (2000)\n");
}

/* Loads one sink line "key: value" and returns the load result. */
static int sink_value(const char *type, const char *key, const char *value)
{
	loaded l;
	char *yaml = fmt(LIVE_SOURCE "sinks:\n  - type: %s\n    %s: '%s'\n", type, key, value);
	load(&l, yaml);
	int r = l.r;
	if (r == 0 && strcmp(key, "address") == 0)
		assert_string_equal(l.cfg->sinks[0].address, value);
	unload(&l);
	free(yaml);
	return r;
}

static void test_config_checks_socket_address_syntax(void **state)
{
	(void)state;
	const char *good[] = { "tcp://127.0.0.1:7000", "tcp-listen://0.0.0.0:1", "udp://collector.lan:65535",
	                       "tcp://[::1]:7000", "unix:///run/vapd.sock", "unix-listen:///tmp/vapd.sock" };
	const char *bad[] = { "tcp://host", "tcp://host:0", "tcp://host:65536", "tcp://:7000", "udp://h:port",
	                      "unix://relative.sock", "sctp://h:1", "127.0.0.1:7000", "tcp://[::1:7000" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(sink_value("socket", "address", good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sink_value("socket", "address", bad[i]), VP_ECONFIG);
	expect_error_in("sinks:\n  - type: socket\n    address: tcp://host:99999\n",
	                "6:14: sinks[0].address: 'host:99999' is not a host:port (port 1..65535)\n");
	expect_error_in("sinks:\n  - type: socket\n    address: ws://h:1\n",
	                "6:14: sinks[0].address: 'ws://h:1' is not tcp://host:port, tcp-listen://addr:port");
}

/* Loads yaml as user nobody in a child (root may write anywhere): 0 when it fails with a
 * line holding want. The file is written by the child so that it can read it. */
static int load_fails_as_nobody(const char *yaml, const char *want)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		char path[] = "/tmp/vapd-cfg-XXXXXX.yaml", *errs = NULL;
		size_t len;
		int fd = mkstemps(path, 5);
		if (fd < 0 || write(fd, yaml, strlen(yaml)) != (ssize_t)strlen(yaml))
			_exit(4);
		close(fd);
		FILE *err = open_memstream(&errs, &len);
		pipe_config *cfg = NULL;
		int r = pipe_config_load(path, err, &cfg);
		fclose(err);
		unlink(path);
		int found = r == VP_ECONFIG && strstr(errs, want);
		if (!found)
			fprintf(stderr, "expected a line holding\n  %s\ngot:\n%s", want, errs);
		_exit(found ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The file sink opens its path at start (O_CREAT): --check refuses what that open would. */
static void test_config_checks_file_sink_path_is_writable(void **state)
{
	(void)state;
	char dir[] = "/tmp/vapd-cfgdir-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *sub = fmt("%s/ro", dir), *file = fmt("%s/f.jsonl", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(sink_value("file", "path", "/dev/null"), 0);
	assert_int_equal(sink_value("file", "path", file), 0);
	char *fresh = fmt("%s/new.jsonl", dir);
	assert_int_equal(sink_value("file", "path", fresh), 0);
	assert_int_equal(access(fresh, F_OK), -1);   /* a check creates nothing */
	char *yaml = fmt(LIVE_SOURCE "sinks:\n  - type: file\n    path: %s/no-such-dir/out.jsonl\n", dir);
	char *want = fmt("6:11: sinks[0].path: cannot create '%s/no-such-dir/out.jsonl': directory "
	                 "'%s/no-such-dir': No such file or directory\n", dir, dir);
	expect_error(yaml, want);
	free(yaml), free(want);
	yaml = fmt(LIVE_SOURCE "sinks:\n  - type: file\n    path: %s\n", sub);
	want = fmt("6:11: sinks[0].path: '%s' is a directory\n", sub);
	expect_error(yaml, want);
	free(yaml), free(want);
	yaml = fmt(LIVE_SOURCE "sinks:\n  - type: file\n    path: %s/x/out.jsonl\n", file);
	want = fmt("6:11: sinks[0].path: cannot write '%s/x/out.jsonl': Not a directory\n", file);
	expect_error(yaml, want);
	free(yaml), free(want);
	/* Not writable for the user vapd runs as: a directory and a file of root's, mode 0555/0444. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(sub, 0555), 0);
	assert_int_equal(chmod(file, 0444), 0);
	yaml = fmt(LIVE_SOURCE "sinks:\n  - type: file\n    path: %s/out.jsonl\n  - type: file\n    path: %s\n",
	           sub, file);
	want = fmt("6:11: sinks[0].path: cannot create '%s/out.jsonl': directory '%s': Permission denied", sub, sub);
	assert_int_equal(load_fails_as_nobody(yaml, want), 0);
	free(want);
	want = fmt("8:11: sinks[1].path: cannot write '%s': Permission denied", file);
	assert_int_equal(load_fails_as_nobody(yaml, want), 0);
	free(yaml), free(want);
	char *cmd = fmt("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd), free(sub), free(file), free(fresh);
}

/* The end-to-end families run NMS only when nms_iou is written: the config records that,
 * and the default (0.45) alone does not. */
static void test_config_records_that_nms_iou_was_written(void **state)
{
	(void)state;
	loaded l;
	char *yaml = fmt(LIVE_SOURCE "model:\n  path: %s/models/yolo26n.onnx\n  family: yolov10\n", shared());
	assert_int_equal(load_ok(&l, yaml)->model.preprocess.set & PIPE_SET_NMS_IOU, 0);
	assert_int_equal(l.cfg->model.family, PIPE_FAM_YOLOV10);
	unload(&l);
	free(yaml);
	yaml = fmt(LIVE_SOURCE "model:\n  path: %s/models/deimv2_atto.onnx\n  family: detr\n  nms_iou: 0.45\n",
	           shared());
	assert_int_equal(load_ok(&l, yaml)->model.preprocess.set, PIPE_SET_NMS_IOU);
	assert_int_equal(l.cfg->model.family, PIPE_FAM_DETR);
	unload(&l);
	free(yaml);
}

/* The detector resolves class names through model.labels at start; --check reads the same
 * file so that a name the start would refuse is refused here, at the name. */
static void test_config_checks_class_names_against_the_labels_file(void **state)
{
	(void)state;
	char *model = fmt("model:\n  path: %s/models/yolox_nano.onnx\n  labels: %s/models/coco.names\n", shared(),
	                  shared());
	char *yaml = fmt(LIVE_SOURCE "%s  classes: [person, 79, 'traffic light']\n  class_thresholds: { car: 0.5, 0: 0.2 }\n",
	                 model);
	loaded l;
	load_ok(&l, yaml);
	unload(&l);
	free(yaml);
	yaml = fmt(LIVE_SOURCE "%s  classes: [person, nosuchclass]\n", model);
	expect_error(yaml, "7:21: model.classes[1]: unknown class 'nosuchclass' (not in the labels file)\n");
	free(yaml);
	yaml = fmt(LIVE_SOURCE "%s  class_thresholds: { person: 0.4, nosuchclass: 0.5 }\n", model);
	expect_error(yaml, "7:36: model.class_thresholds.nosuchclass: unknown class 'nosuchclass' (not in the labels "
	                   "file)\n");
	free(yaml);
	yaml = fmt(LIVE_SOURCE "%s  classes: [80]\n  class_thresholds: { 95: 0.5 }\n", model);
	const char *ids[] = { "7:13: model.classes[0]: class id 80 is not in the labels file (80 names)\n",
	                      "8:23: model.class_thresholds.95: class id 95 is not in the labels file (80 names)\n" };
	expect_errors(yaml, 2, ids);
	free(yaml);
	/* Without labels, names cannot be resolved (as at start); ids are checked by the model. */
	yaml = fmt(LIVE_SOURCE "model:\n  path: %s/models/yolox_nano.onnx\n  classes: [person, 2]\n", shared());
	expect_error(yaml, "6:13: model.classes[0]: unknown class 'person' (names need model.labels)\n");
	free(yaml);
	yaml = fmt(LIVE_SOURCE "model:\n  path: %s/models/yolox_nano.onnx\n  classes: [0, 2, 500]\n", shared());
	load_ok(&l, yaml);
	unload(&l);
	free(yaml);
	free(model);
}

/* Port 0 asks the kernel for a free port: only a server can do that (the sink logs it). */
static void test_config_accepts_port_0_only_for_tcp_listen(void **state)
{
	(void)state;
	assert_int_equal(sink_value("socket", "address", "tcp-listen://127.0.0.1:0"), 0);
	assert_int_equal(sink_value("socket", "address", "tcp-listen://[::1]:0"), 0);
	assert_int_equal(sink_value("socket", "address", "tcp://127.0.0.1:0"), VP_ECONFIG);
	assert_int_equal(sink_value("socket", "address", "udp://127.0.0.1:0"), VP_ECONFIG);
	expect_error_in("sinks:\n  - type: socket\n    address: tcp-listen://h:65536\n",
	                "6:14: sinks[0].address: 'h:65536' is not a host:port (port 0..65535)\n");
}

static void test_config_checks_mqtt_broker_topic_and_tls_pairs(void **state)
{
	(void)state;
	const char *brokers[] = { "mqtt://127.0.0.1", "mqtt://broker:1883", "mqtts://broker.example.com:8883" };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(sink_value("mqtt\n    topic: t", "broker", brokers[i]), 0);
	assert_int_equal(sink_value("mqtt\n    topic: t", "broker", "tcp://broker:1883"), VP_ECONFIG);
	assert_int_equal(sink_value("mqtt\n    topic: t", "broker", "mqtt://broker:0"), VP_ECONFIG);
	assert_int_equal(sink_value("mqtt\n    topic: t", "broker", "mqtt://"), VP_ECONFIG);
	const char *mqtt = "sinks:\n  - type: mqtt\n    broker: mqtt://h\n    topic: ";
	char *yaml = fmt("%s\"vapd/+/x\"\n", mqtt);
	expect_error_in(yaml, "7:12: sinks[0].topic: topic 'vapd/+/x': wildcard '+' is not allowed when publishing");
	free(yaml);
	yaml = fmt("%svapd/#\n", mqtt);
	expect_error_in(yaml, "7:12: sinks[0].topic: topic 'vapd/#': wildcard '#'");
	free(yaml);
	yaml = fmt("%svapd/{camera}\n", mqtt);
	expect_error_in(yaml, "7:12: sinks[0].topic: topic 'vapd/{camera}': unknown placeholder '{camera}' (known: {stream}, "
	                "{pipeline}, {kind})");
	free(yaml);
	yaml = fmt("%s\"\"\n", mqtt);
	expect_error_in(yaml, "7:12: sinks[0].topic: must not be empty");
	free(yaml);
	expect_error_in("sinks:\n  - type: mqtt\n    broker: mqtt://h\n    tls: { cert_file: /etc/hostname }\n",
	                "7:23: sinks[0].tls.cert_file: needs key_file too\n");
}

static void test_config_checks_source_uri_schemes(void **state)
{
	(void)state;
	const char *good[] = { "rtsp://cam/1", "rtsps://user:pw@cam:322/s", "http://h/live.m3u8",
	                       "https://h/clip.mp4", "v4l2:///dev/video0", "v4l2:///dev/video12" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		loaded l;
		char *yaml = fmt("sources:\n  - id: a\n    uri: %s\n", good[i]);
		load_ok(&l, yaml);
		assert_false(l.cfg->sources[0].is_file);
		assert_int_equal(l.cfg->sources[0].queue.policy, PIPE_QP_DROP_OLDEST);
		unload(&l);
		free(yaml);
	}
	expect_error("sources:\n  - id: a\n    uri: ftp://h/x.mp4\n",
	             "3:10: sources[0].uri: unsupported scheme in 'ftp://h/x.mp4'; use a file path, file://");
	expect_error("sources:\n  - id: a\n    uri: v4l2://video0\n",
	             "3:10: sources[0].uri: 'v4l2://video0' is not v4l2:///dev/videoN\n");
	expect_error("sources:\n  - id: a\n    uri: rtsp://\n", "3:10: sources[0].uri: 'rtsp://' has no host\n");
}

static void test_config_checks_device_log_level_and_metrics_listen(void **state)
{
	(void)state;
	const char *devices[] = { "auto", "cpu", "cuda:0", "cuda:3" };
	for (size_t i = 0; i < 4; i++) {
		loaded l;
		char *yaml = fmt(LIVE_SOURCE "pipeline: { device: '%s' }\nmetrics: { listen: '[::1]:9464' }\n", devices[i]);
		assert_string_equal(load_ok(&l, yaml)->device, devices[i]);
		assert_string_equal(l.cfg->metrics_listen, "[::1]:9464");
		unload(&l);
		free(yaml);
	}
	expect_error_in("pipeline:\n  device: gpu\n", "5:11: pipeline.device: 'gpu' is not one of: auto, cpu, cuda:N");
	expect_error_in("pipeline:\n  device: cuda:x\n", "5:11: pipeline.device: 'cuda:x' is not one of");
	expect_error_in("metrics:\n  listen: 9464\n", "5:11: metrics.listen: '9464' is not host:port (port 1..65535)\n");
	expect_error_in("metrics:\n  listen: localhost:http\n", "5:11: metrics.listen: 'localhost:http' is not host:port");
}

static void test_config_rejects_drop_policy_on_file_sinks(void **state)
{
	(void)state;
	expect_error_in("sinks:\n  - type: file\n    path: /tmp/x.jsonl\n    queue: { policy: drop_oldest }\n",
	                "7:22: sinks[0].queue.policy: file sinks always block");
}

static void test_config_collects_every_error_not_just_the_first(void **state)
{
	(void)state;
	const char *want[] = { "pipeline.device", "log.level", "sources[0].uri", "sources[0].interval",
	                       "sources[1].id: duplicate", "sinks[0].address" };
	expect_errors("pipeline: { device: gpu }\nlog: { level: loud }\nsources:\n  - id: a\n    uri: ftp://x\n"
	              "    interval: -1\n  - id: a\n    uri: rtsp://h/1\nsinks:\n  - type: socket\n    address: tcp://h\n",
	              6, want);
}

static void test_config_expands_environment_variables(void **state)
{
	(void)state;
	loaded l;
	char *clip = fmt("%s/data/videos/people-2s.mp4", shared());
	setenv("VAPD_TEST_CLIP", clip, 1);
	setenv("VAPD_TEST_EMPTY", "", 1);
	setenv("VAPD_TEST_DEPTH", "16", 1);
	unsetenv("VAPD_TEST_UNSET");
	load_ok(&l, "pipeline: { name: \"${VAPD_TEST_UNSET:-front}-${VAPD_TEST_EMPTY:-door}${VAPD_TEST_EMPTY}\" }\n"
	            "sources:\n  - id: a\n    uri: file://${VAPD_TEST_CLIP}\n    queue: { depth: \"${VAPD_TEST_DEPTH}\" }\n");
	assert_string_equal(l.cfg->name, "front-door");
	assert_string_equal(l.cfg->sources[0].uri, clip);
	assert_true(l.cfg->sources[0].is_file);
	assert_int_equal(l.cfg->sources[0].queue.depth, 16);
	assert_int_equal(l.cfg->sources[0].queue.policy, PIPE_QP_BLOCK);
	unload(&l);
	expect_error("sources:\n  - id: a\n    uri: /clips/${VAPD_TEST_UNSET}.mp4\n",
	             "3:17: sources[0].uri: environment variable VAPD_TEST_UNSET is not set (use ${VAPD_TEST_UNSET:-default})\n");
	expect_error("sources:\n  - id: a\n    uri: \"x${VAPD_TEST_UNSET\"\n", "3:12: sources[0].uri: malformed variable reference");
	expect_error("sources:\n  - id: a\n    uri: ${1X}\n", "3:10: sources[0].uri: malformed variable reference");
	free(clip);
}

static void test_config_reads_nvdec_keys(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE "    decoder: nvdec\n    nvdec: { surfaces: 12, in_flight: 0 }\n");
	assert_int_equal(c->sources[0].decoder, PIPE_DEC_NVDEC);
	assert_int_equal(c->sources[0].nvdec_surfaces, 12);
	assert_int_equal(c->sources[0].nvdec_in_flight, 0);
	unload(&l);
}

static void test_config_applies_documented_defaults(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE);
	assert_string_equal(c->name, "vapd");
	assert_string_equal(c->device, "auto");
	assert_int_equal(c->log_level, VP_LOG_INFO);
	assert_null(c->metrics_listen);
	assert_int_equal(c->n_sources, 1);
	pipe_source_cfg *s = &c->sources[0];
	assert_int_equal(s->decoder, PIPE_DEC_AUTO);
	assert_false(s->realtime);
	assert_false(s->loop);
	assert_int_equal(s->interval, 1);
	assert_int_equal(s->queue.depth, 8);
	assert_int_equal(s->queue.policy, PIPE_QP_DROP_OLDEST);
	assert_int_equal(s->reconnect_initial_ms, 500);
	assert_int_equal(s->reconnect_max_ms, 30000);
	assert_int_equal(s->rtsp_transport, PIPE_RTSP_TCP);
	assert_int_equal(s->rtsp_timeout_ms, 5000);
	assert_int_equal(s->nvdec_surfaces, 0);
	assert_int_equal(s->nvdec_in_flight, 2);
	assert_false(c->model.present);
	assert_int_equal(c->model.batch_max_size, 8);
	assert_int_equal(c->model.batch_timeout_ms, 10);
	assert_true(c->model.threshold > 0.2999f && c->model.threshold < 0.3001f);
	assert_true(c->model.nms_iou > 0.4499f && c->model.nms_iou < 0.4501f);
	assert_int_equal(c->model.max_detections, 100);
	assert_int_equal(c->model.preprocess.set, 0);
	assert_int_equal(c->n_sinks, 1);
	assert_int_equal(c->sinks[0].type, PIPE_SINK_STDOUT);
	assert_int_equal(c->sinks[0].queue.depth, 8);
	assert_int_equal(c->sinks[0].queue.policy, PIPE_QP_BLOCK);
	unload(&l);

	c = load_ok(&l, LIVE_SOURCE "sinks:\n  - type: file\n    path: out.jsonl\n  - type: socket\n"
	                "    address: udp://h:9\n  - type: mqtt\n    broker: mqtt://h\n");
	assert_int_equal(c->sinks[0].mode, PIPE_FILE_APPEND);
	assert_int_equal(c->sinks[0].flush_ms, 1000);
	assert_int_equal(c->sinks[0].rotate_mb, 0);
	assert_int_equal(c->sinks[0].queue.policy, PIPE_QP_BLOCK);
	assert_int_equal(c->sinks[1].queue.depth, 1024);
	assert_int_equal(c->sinks[1].queue.policy, PIPE_QP_DROP_OLDEST);
	assert_int_equal(c->sinks[2].qos, 0);
	assert_false(c->sinks[2].retain);
	assert_int_equal(c->sinks[2].keepalive_s, 30);
	assert_string_equal(c->sinks[2].topic, "vapd/{stream}/detections");
	assert_string_equal(c->sinks[2].client_id, "vapd-vapd");
	assert_int_equal(c->sinks[2].reconnect_initial_ms, 500);
	assert_int_equal(c->sinks[2].reconnect_max_ms, 30000);
	assert_null(c->sinks[2].tls.ca_file);
	unload(&l);
}

static char *temp_file(const char *content)
{
	char *path = strdup("/tmp/vapd-cfg-file-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void check_full_model(const pipe_model_cfg *m, const char *model)
{
	assert_true(m->present);
	assert_int_equal(m->pos.line, 22);
	assert_string_equal(m->path, model);
	assert_int_equal(m->family, PIPE_FAM_YOLOV8);
	assert_int_equal(m->input_w, 640);
	assert_int_equal(m->input_h, 384);
	assert_int_equal(m->backend, PIPE_BACKEND_CUDA);
	assert_int_equal(m->precision, PIPE_PREC_FP32);
	assert_int_equal(m->batch_max_size, 16);
	assert_int_equal(m->batch_timeout_ms, 25);
	assert_true(m->threshold > 0.249f && m->threshold < 0.251f);
	assert_int_equal(m->n_class_thresholds, 2);
	assert_string_equal(m->class_thresholds[0].name, "person");
	assert_true(m->class_thresholds[0].threshold > 0.39f && m->class_thresholds[0].threshold < 0.41f);
	assert_null(m->class_thresholds[1].name);
	assert_int_equal(m->class_thresholds[1].id, 2);
	assert_int_equal(m->n_classes, 3);
	assert_string_equal(m->classes[0].name, "person");
	assert_int_equal(m->classes[0].id, -1);
	assert_int_equal(m->classes[1].id, 2);
	assert_int_equal(m->classes[2].pos.line, 31);
	assert_true(m->nms_iou > 0.59f && m->nms_iou < 0.61f);
	assert_int_equal(m->max_detections, 50);
	assert_int_equal(m->threads, 2);
	const pipe_preprocess_cfg *p = &m->preprocess;
	assert_int_equal(p->set, PIPE_PRE_RESIZE | PIPE_PRE_PLACEMENT | PIPE_PRE_PAD | PIPE_PRE_ORDER |
	                         PIPE_PRE_MEAN | PIPE_PRE_SCALE | PIPE_SET_NMS_IOU);
	assert_int_equal(p->resize, PIPE_RESIZE_STRETCH);
	assert_int_equal(p->placement, PIPE_PLACE_CENTER);
	assert_true(p->pad_value == 0.0f);
	assert_int_equal(p->channel_order, PIPE_RGB);
	assert_true(p->mean[2] > 103.4f && p->mean[2] < 103.6f);
	assert_true(p->scale[0] > 0.0170f && p->scale[0] < 0.0172f);
}

static void check_full_sinks(const pipe_sink_cfg *k, const char *pw, const char *pem)
{
	assert_int_equal(k[0].type, PIPE_SINK_FILE);
	assert_string_equal(k[0].path, "/tmp/lobby.jsonl");
	assert_int_equal(k[0].mode, PIPE_FILE_TRUNCATE);
	assert_int_equal(k[0].rotate_mb, 64);
	assert_int_equal(k[0].flush_ms, 0);
	assert_int_equal(k[0].queue.depth, 32);
	assert_int_equal(k[0].queue.policy, PIPE_QP_BLOCK);
	assert_int_equal(k[1].type, PIPE_SINK_SOCKET);
	assert_string_equal(k[1].address, "unix-listen:///tmp/vapd.sock");
	assert_int_equal(k[1].queue.depth, 100);
	assert_int_equal(k[1].queue.policy, PIPE_QP_BLOCK);
	assert_int_equal(k[2].type, PIPE_SINK_MQTT);
	assert_int_equal(k[2].pos.line, 52);
	assert_string_equal(k[2].broker, "mqtts://broker:8883");
	assert_string_equal(k[2].topic, "site/{pipeline}/{stream}");
	assert_int_equal(k[2].qos, 2);
	assert_true(k[2].retain);
	assert_string_equal(k[2].client_id, "vapd-lobby-1");
	assert_string_equal(k[2].username, "vapd");
	assert_string_equal(k[2].password_file, pw);
	assert_int_equal(k[2].keepalive_s, 60);
	assert_string_equal(k[2].tls.ca_file, pem);
	assert_string_equal(k[2].tls.cert_file, pem);
	assert_string_equal(k[2].tls.key_file, pem);
	assert_int_equal(k[2].reconnect_initial_ms, 100);
	assert_int_equal(k[2].reconnect_max_ms, 1000);
	assert_int_equal(k[3].type, PIPE_SINK_STDOUT);
}

static void test_config_reads_back_every_key_of_a_full_file(void **state)
{
	(void)state;
	char *pw = temp_file("secret\n"), *pem = temp_file("-----BEGIN CERTIFICATE-----\n");
	char *model = fmt("%s/models/yolov8n.onnx", shared()), *clip = fmt("%s/data/videos/cars-432p.mp4", shared());
	char *yaml = fmt(
		"pipeline:\n  name: lobby\n  device: cuda:1\nlog:\n  level: debug\nhttp:\n  { listen: 0.0.0.0:9100, allow_unauthenticated: true }\n"
		"sources:\n"
		"  - id: cam1\n    uri: rtsps://cam/1\n    decoder: nvdec\n    realtime: true\n    loop: yes\n"
		"    interval: 3\n    queue: { depth: 4, policy: block }\n    reconnect: { initial_ms: 250, max_ms: 8000 }\n"
		"    rtsp: { transport: udp, timeout_ms: 2000 }\n"
		"  - id: clip\n    uri: %s\n    decoder: software\n"                                   /* line 18-20 */
		"model:\n  path: %s\n  family: yolov8\n  input: [640, 384]\n  labels: %s/models/coco.names\n"  /* 21-25 */
		"  backend: cuda\n  precision: fp32\n  batch: { max_size: 16, timeout_ms: 25 }\n  threshold: 0.25\n"
		"  class_thresholds: { person: 0.4, 2: 0.5 }\n  classes: [person, 2, truck]\n  nms_iou: 0.6\n"  /* 30-32 */
		"  max_detections: 50\n  threads: 2\n"
		"  preprocess:\n    resize: stretch\n    placement: center\n    pad_value: 0\n    channel_order: rgb\n"
		"    mean: [123.675, 116.28, 103.53]\n    scale: [0.01712, 0.0175, 0.01743]\n"       /* 40-41 */
		"sinks:\n"
		"  - type: file\n    path: /tmp/lobby.jsonl\n    mode: truncate\n    rotate_mb: 64\n    flush_ms: 0\n"
		"    queue: { depth: 32 }\n"                                                           /* 48 */
		"  - type: socket\n    address: unix-listen:///tmp/vapd.sock\n    queue: { depth: 100, policy: block }\n"
		"  - type: mqtt\n    broker: mqtts://broker:8883\n    topic: site/{pipeline}/{stream}\n    qos: 2\n"
		"    retain: true\n    client_id: vapd-lobby-1\n    username: vapd\n    password_file: %s\n"
		"    keepalive_s: 60\n    tls: { ca_file: %s, cert_file: %s, key_file: %s }\n"
		"    reconnect: { initial_ms: 100, max_ms: 1000 }\n"
		"  - type: stdout\n",
		clip, model, shared(), pw, pem, pem, pem);
	loaded l;
	pipe_config *c = load_ok(&l, yaml);
	assert_string_equal(c->file, l.path);
	assert_string_equal(c->name, "lobby");
	assert_string_equal(c->device, "cuda:1");
	assert_int_equal(c->log_level, VP_LOG_DEBUG);
	assert_string_equal(c->metrics_listen, "0.0.0.0:9100");
	assert_true(c->http.allow_unauthenticated);
	assert_int_equal(c->n_sources, 2);
	pipe_source_cfg *s = c->sources;
	assert_int_equal(s[0].pos.line, 9);
	assert_int_equal(s[0].pos.col, 5);
	assert_string_equal(s[0].id, "cam1");
	assert_string_equal(s[0].uri, "rtsps://cam/1");
	assert_false(s[0].is_file);
	assert_int_equal(s[0].decoder, PIPE_DEC_NVDEC);
	assert_true(s[0].realtime && s[0].loop);
	assert_int_equal(s[0].interval, 3);
	assert_int_equal(s[0].queue.depth, 4);
	assert_int_equal(s[0].queue.policy, PIPE_QP_BLOCK);
	assert_int_equal(s[0].reconnect_initial_ms, 250);
	assert_int_equal(s[0].reconnect_max_ms, 8000);
	assert_int_equal(s[0].rtsp_transport, PIPE_RTSP_UDP);
	assert_int_equal(s[0].rtsp_timeout_ms, 2000);
	assert_string_equal(s[1].uri, clip);
	assert_true(s[1].is_file);
	assert_int_equal(s[1].decoder, PIPE_DEC_SOFTWARE);
	assert_int_equal(s[1].queue.policy, PIPE_QP_BLOCK);
	check_full_model(&c->model, model);
	assert_int_equal(c->n_sinks, 4);
	check_full_sinks(c->sinks, pw, pem);
	unload(&l);
	unlink(pw);
	unlink(pem);
	free(pw);
	free(pem);
	free(model);
	free(clip);
	free(yaml);
}

static void test_config_every_example_in_configs_loads(void **state)
{
	(void)state;
	char *models = fmt("%s/models", shared()), *clip = fmt("%s/data/videos/people-2s.mp4", shared());
	setenv("VAPD_MODELS", models, 1);
	setenv("VAPD_INPUT", clip, 1);
	setenv("VAPD_OUT", "/tmp", 1);
	glob_t g;
	assert_int_equal(glob("configs/*.yaml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 3);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		pipe_config *cfg = NULL;
		int r = pipe_config_load(g.gl_pathv[i], stderr, &cfg);
		if (r)
			fprintf(stderr, "%s does not load\n", g.gl_pathv[i]);
		assert_int_equal(r, 0);
		assert_true(cfg->n_sources >= 1 && cfg->n_sinks >= 1 && cfg->model.present);
		pipe_config_free(&cfg);
	}
	globfree(&g);
	free(models);
	free(clip);
}

/* Every prefix of a real example, and the example with one byte mangled at each offset, is
 * either valid or reported; nothing crashes or leaks (run under SANITIZE=1 or valgrind). */
static void test_config_prints_50_errors_then_how_many_more(void **state)
{
	(void)state;
	char *yaml = fmt("%s", LIVE_SOURCE);
	for (int i = 0; i < 70; i++) {
		char *more = fmt("%sk%d: 1\n", yaml, i);
		free(yaml);
		yaml = more;
	}
	loaded l;
	load(&l, yaml);
	assert_int_equal(l.r, VP_ECONFIG);
	assert_int_equal(count_lines(l.errs), CFG_MAX_ERRORS + 1);
	char *last = fmt("%s: ... and 20 more errors\n", l.path);
	assert_non_null(strstr(l.errs, last));
	assert_non_null(strstr(l.errs, ":53:1: k49: unknown key"));
	assert_null(strstr(l.errs, "k50"));
	free(last);
	unload(&l);
	free(yaml);
}

static void test_config_cuts_long_values_in_messages(void **state)
{
	(void)state;
	char buf[CFG_CLIP_MAX + 4], in[256];
	memset(in, 'x', 200);
	in[200] = '\0';
	char *want = fmt("4:14: sources[0].decoder: '%.80s...' is not one of", in);
	char *yaml = fmt(LIVE_SOURCE "    decoder: %s\n", in);
	expect_error(yaml, want);
	free(want);
	free(yaml);
	/* 2-byte characters: cut before the one that would not fit whole; control bytes shown as '?'. */
	in[0] = '\x1b';
	for (int i = 0; i < 100; i++)
		memcpy(in + 1 + 2 * i, "\xc3\xa9", 2);
	in[201] = '\0';
	assert_int_equal(strlen(cfg_clip(in, buf)), 79 + 3);
	assert_int_equal(buf[0], '?');
	assert_string_equal(buf + 77, "\xc3\xa9...");
	assert_string_equal(cfg_clip("short", buf), "short");
}

static void test_config_reads_aliases_and_stops_an_alias_bomb(void **state)
{
	(void)state;
	loaded l;
	pipe_config *cfg = load_ok(&l, "sources:\n"
	                               "  - id: a\n    uri: rtsp://h/a\n    reconnect: &rc { initial_ms: 100, max_ms: 200 }\n"
	                               "  - id: b\n    uri: rtsp://h/b\n    reconnect: *rc\n");
	assert_int_equal(cfg->sources[1].reconnect_initial_ms, 100);
	assert_int_equal(cfg->sources[1].reconnect_max_ms, 200);
	unload(&l);
	/* 256 sources x 64 zones x 512 bad points and classes: 8M errors from 3 KB. */
	char *bomb = fmt("x:\n  - &p [q, q, q]\n  - &z {name: z, polygon: [*p");
	for (int i = 1; i < 512; i++) {
		char *more = fmt("%s, *p%s", bomb, i == 255 ? "], classes: [*p" : "");
		free(bomb);
		bomb = more;
	}
	char *more = fmt("%s]}\n  - &s {id: a, uri: rtsp://h/x, zones: [*z", bomb);
	free(bomb);
	bomb = more;
	for (int i = 1; i < 64; i++) {
		more = fmt("%s, *z", bomb);
		free(bomb);
		bomb = more;
	}
	more = fmt("%s]}\nsources: [*s", bomb);
	free(bomb);
	bomb = more;
	for (int i = 1; i < 256; i++) {
		more = fmt("%s, *s", bomb);
		free(bomb);
		bomb = more;
	}
	more = fmt("%s]\n", bomb);
	free(bomb);
	load(&l, more);
	assert_int_equal(l.r, VP_ECONFIG);
	assert_non_null(strstr(l.errs, ":2:5: (aliases): aliases repeat the file's values more than"));
	assert_int_equal(count_lines(l.errs), CFG_MAX_ERRORS + 2);
	unload(&l);
	free(more);
}

static void test_config_survives_truncated_and_mangled_files(void **state)
{
	(void)state;
	char *models = fmt("%s/models", shared());
	setenv("VAPD_MODELS", models, 1);
	FILE *f = fopen("configs/cameras.yaml", "rb");
	assert_non_null(f);
	static char text[8192];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	assert_true(len > 100 && len < sizeof(text) - 1);
	int reported = 0;
	for (size_t cut = 0; cut < len; cut += 7) {
		for (int mangle = 0; mangle < 2; mangle++) {
			char saved = text[cut];
			text[cut] = mangle ? ':' : '\0';
			loaded l;
			load(&l, text);
			assert_true(l.r == 0 || l.r == VP_ECONFIG);
			assert_true(l.r == 0 ? l.cfg != NULL && !*l.errs : l.cfg == NULL && *l.errs);
			reported += l.r != 0;
			unload(&l);
			text[cut] = saved;
		}
	}
	assert_true(reported > 0);
	free(models);
}

/* The table itself: unique paths, a doc for each, and every default valid for its own key
 * (defaults are applied without a context to report to, so a bad one would go unnoticed). */
static void test_config_table_rows_are_consistent(void **state)
{
	(void)state;
	union { pipe_config root; pipe_model_cfg model; pipe_source_cfg src; pipe_sink_cfg sink; } u;
	for (int i = 0; i < cfg_n_keys; i++) {
		const cfg_key *k = &cfg_keys[i];
		assert_non_null(k->doc);
		assert_true(strlen(k->doc) > 10);
		assert_true((k->type != CFG_ENUM && k->type != CFG_FLAGS) || (k->names && k->names[0]));
		assert_true(k->type == CFG_STR || k->type == CFG_PATH || k->type == CFG_BOOL || k->type == CFG_ENUM ||
		            k->max > k->min || k->type == CFG_CLASSES || k->type == CFG_MAP || k->type == CFG_FLAGS ||
		            k->type == CFG_STRLIST ||
		            (k->type == CFG_POINTS && k->min >= 2 && k->max == k->min));
		/* Documentation rows store nothing, so a default of theirs would never be applied. */
		assert_true(k->base != CFG_DOC || !k->def);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(cfg_keys[j].path, k->path);
		if (!k->def)
			continue;
		memset(&u, 0, sizeof(u));
		if (cfg_set_scalar(NULL, k, &u, k->def, (pipe_pos){ 0, 0 }, k->path) != 0)
			fprintf(stderr, "default of %s is invalid: %s\n", k->path, k->def);
		assert_int_equal(cfg_set_scalar(NULL, k, &u, k->def, (pipe_pos){ 0, 0 }, k->path), 0);
		if (k->type == CFG_STR || k->type == CFG_PATH)
			free(*(char **)((char *)&u + k->off));
		if (k->type == CFG_STRLIST)
			cfg_free_strlist((pipe_strlist *)((char *)&u + k->off));
	}
}

static void test_config_reference_lists_every_key_once(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);
	pipe_config_print_reference(out, 1);
	fclose(out);
	const char *keys[] = { "`pipeline.device`", "`sources[].reconnect.max_ms`", "`model.preprocess.mean`",
	                       "`sinks[].tls.key_file`", "`model.class_thresholds`", "`sinks[].queue.depth`" };
	assert_true(strncmp(text, "| key | type | default | meaning |\n", 35) == 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *hit = strstr(text, keys[i]);
		assert_non_null(hit);
		assert_null(strstr(hit + 1, keys[i]));
	}
	assert_non_null(strstr(text, "| `sources[].queue.depth` | int 1..4096 | 8 |"));
	assert_non_null(strstr(text, "| `sinks[].type` | stdout\\|file\\|socket\\|mqtt | required |"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_reports_yaml_syntax_error_with_libyaml_position),
		cmocka_unit_test(test_config_reports_bad_utf8_and_control_characters_at_their_position),
		cmocka_unit_test(test_config_says_a_directory_is_a_directory),
		cmocka_unit_test(test_config_rejects_unknown_key_and_lists_valid_keys),
		cmocka_unit_test(test_config_rejects_wrong_types),
		cmocka_unit_test(test_config_rejects_out_of_range_values),
		cmocka_unit_test(test_config_rejects_bad_enum_values_listing_valid_ones),
		cmocka_unit_test(test_config_reports_missing_required_keys),
		cmocka_unit_test(test_config_rejects_key_of_another_sink_type),
		cmocka_unit_test(test_config_rejects_duplicate_source_ids_naming_the_first),
		cmocka_unit_test(test_config_rejects_duplicate_keys_in_a_map),
		cmocka_unit_test(test_config_rejects_unreadable_files),
		cmocka_unit_test(test_config_reports_unopenable_config_file),
		cmocka_unit_test(test_config_requires_reconnect_max_not_below_initial),
		cmocka_unit_test(test_config_checks_socket_address_syntax),
		cmocka_unit_test(test_config_accepts_port_0_only_for_tcp_listen),
		cmocka_unit_test(test_config_checks_file_sink_path_is_writable),
		cmocka_unit_test(test_config_checks_class_names_against_the_labels_file),
		cmocka_unit_test(test_config_checks_mqtt_broker_topic_and_tls_pairs),
		cmocka_unit_test(test_config_checks_source_uri_schemes),
		cmocka_unit_test(test_config_checks_device_log_level_and_metrics_listen),
		cmocka_unit_test(test_config_rejects_drop_policy_on_file_sinks),
		cmocka_unit_test(test_config_collects_every_error_not_just_the_first),
		cmocka_unit_test(test_config_expands_environment_variables),
		cmocka_unit_test(test_config_applies_documented_defaults),
		cmocka_unit_test(test_config_reads_nvdec_keys),
		cmocka_unit_test(test_config_records_that_nms_iou_was_written),
		cmocka_unit_test(test_config_reads_back_every_key_of_a_full_file),
		cmocka_unit_test(test_config_every_example_in_configs_loads),
		cmocka_unit_test(test_config_prints_50_errors_then_how_many_more),
		cmocka_unit_test(test_config_cuts_long_values_in_messages),
		cmocka_unit_test(test_config_reads_aliases_and_stops_an_alias_bomb),
		cmocka_unit_test(test_config_survives_truncated_and_mangled_files),
		cmocka_unit_test(test_config_table_rows_are_consistent),
		cmocka_unit_test(test_config_reference_lists_every_key_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
