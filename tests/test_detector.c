/* The detector's submit/collect API on the CPU backend, with a real model and clip:
 * batches come out in submit order with exactly what inf_detector_run gives for the same
 * frames, at most INF_DETECTOR_DEPTH are in flight, misuse is refused, and each collect
 * reports its own batch's stage times. Models and labels files that cannot work are refused
 * at load with a message naming what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <math.h>

#include "decode/source.h"
#include "infer/detector.h"
#include "infer/heads/heads.h"
#include "pipeline/config.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

enum { BATCH = 3, N_BATCHES = 4, N_FRAMES = BATCH * N_BATCHES };

typedef struct fixture {
	pipe_config *cfg;
	inf_detector *det;
	dec_stream *dec;
	vp_frame *frames[N_FRAMES];
	int max_dets;
	vp_det *ref;                   /* inf_detector_run's results, frame by frame */
	int ref_counts[N_FRAMES];
} fixture;

static const char *shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s && *s ? s : "../shared";
}

static pipe_config *load_config(const char *yaml)
{
	char path[] = "/tmp/vapd-det-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	pipe_config *cfg = NULL;
	int rc = pipe_config_load(path, stderr, &cfg);
	unlink(path);
	assert_int_equal(rc, 0);
	return cfg;
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	char yaml[2048];
	const char *sh = shared_dir();
	snprintf(yaml, sizeof(yaml),
	         "sources:\n  - id: highway\n    uri: %s/data/videos/highway-540p.mp4\n    decoder: software\n"
	         "model:\n  path: %s/models/yolox_nano.onnx\n  family: yolox\n  labels: %s/models/coco.names\n"
	         "  backend: cpu\n  threads: 2\n  batch: { max_size: %d }\n  threshold: 0.3\n",
	         sh, sh, sh, BATCH);
	fx->cfg = load_config(yaml);
	assert_int_equal(inf_detector_new(&fx->cfg->model, fx->cfg->file, &fx->det), 0);
	assert_string_equal(inf_detector_backend(fx->det), "cpu");
	assert_int_equal(inf_detector_max_batch(fx->det), BATCH);
	fx->max_dets = inf_detector_max_dets(fx->det);
	assert_int_equal(dec_stream_open(&fx->cfg->sources[0], 0, N_FRAMES + 2, &fx->dec), 0);
	for (int i = 0; i < N_FRAMES; i++)
		assert_int_equal(dec_stream_read(fx->dec, &fx->frames[i]), 0);
	fx->ref = calloc((size_t)N_FRAMES * fx->max_dets, sizeof(vp_det));
	assert_non_null(fx->ref);
	int total = 0;
	for (int b = 0; b < N_BATCHES; b++) {
		int f = b * BATCH;
		assert_int_equal(inf_detector_run(fx->det, &fx->frames[f], BATCH,
		                                  fx->ref + (size_t)f * fx->max_dets, &fx->ref_counts[f]), 0);
	}
	for (int i = 0; i < N_FRAMES; i++) {
		printf("# frame %d: %d detections\n", i, fx->ref_counts[i]);
		total += fx->ref_counts[i];
	}
	/* The clip shows cars in every frame: empty results would make the checks hollow. */
	assert_true(total >= N_FRAMES);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	if (!fx)
		return 0;
	for (int i = 0; i < N_FRAMES; i++)
		vp_frame_unref(&fx->frames[i]);
	dec_stream_free(&fx->dec);
	inf_detector_free(&fx->det);
	pipe_config_free(&fx->cfg);
	free(fx->ref);
	free(fx);
	return 0;
}

/* Collects the oldest batch and compares it with the reference of frames first.. */
static void collect_and_check(fixture *fx, int first, int n)
{
	vp_det *dets = calloc((size_t)BATCH * fx->max_dets, sizeof(vp_det));
	int counts[BATCH];
	inf_detector_times t;
	assert_non_null(dets);
	assert_int_equal(inf_detector_collect(fx->det, dets, counts, &t), n);
	assert_int_equal(t.batches, 1);
	assert_int_equal(t.frames, n);
	assert_true(t.preprocess_ns > 0 && t.inference_ns > 0 && t.postprocess_ns > 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(counts[i], fx->ref_counts[first + i]);
		assert_memory_equal(dets + (size_t)i * fx->max_dets, fx->ref + (size_t)(first + i) * fx->max_dets,
		                    (size_t)counts[i] * sizeof(vp_det));
	}
	free(dets);
}

static void test_batches_come_out_in_submit_order_with_run_results(void **state)
{
	fixture *fx = *state;
	inf_detector_times before, after;
	inf_detector_get_times(fx->det, &before);
	/* Host frames run inside submit: 0 says the results are ready. */
	assert_int_equal(inf_detector_submit(fx->det, &fx->frames[0], BATCH), 0);
	assert_int_equal(inf_detector_submit(fx->det, &fx->frames[BATCH], BATCH), 0);
	assert_int_equal(inf_detector_pending(fx->det), 2);
	for (int b = 0; b < N_BATCHES; b++) {
		collect_and_check(fx, b * BATCH, BATCH);
		if (b + 2 < N_BATCHES)
			assert_int_equal(inf_detector_submit(fx->det, &fx->frames[(b + 2) * BATCH], BATCH), 0);
	}
	assert_int_equal(inf_detector_pending(fx->det), 0);
	inf_detector_get_times(fx->det, &after);
	assert_int_equal(after.batches - before.batches, N_BATCHES);
	assert_int_equal(after.frames - before.frames, N_FRAMES);
}

static void test_partial_batches_follow_the_same_order(void **state)
{
	fixture *fx = *state;
	/* A batch of 2 after a batch of 1: frames of the reference's first batch. */
	assert_int_equal(inf_detector_submit(fx->det, &fx->frames[0], 1), 0);
	assert_int_equal(inf_detector_submit(fx->det, &fx->frames[1], 2), 0);
	vp_det *dets = calloc((size_t)BATCH * fx->max_dets, sizeof(vp_det));
	int counts[BATCH];
	assert_non_null(dets);
	assert_int_equal(inf_detector_collect(fx->det, dets, counts, NULL), 1);
	assert_int_equal(counts[0], fx->ref_counts[0]);
	assert_int_equal(inf_detector_collect(fx->det, dets, counts, NULL), 2);
	/* Partial batches may run through another plan: same detections, scores within rounding. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(counts[i], fx->ref_counts[1 + i]);
		for (int k = 0; k < counts[i]; k++) {
			const vp_det *a = dets + (size_t)i * fx->max_dets + k;
			const vp_det *r = fx->ref + (size_t)(1 + i) * fx->max_dets + k;
			assert_int_equal(a->class_id, r->class_id);
			assert_true(a->score > r->score - 1e-4f && a->score < r->score + 1e-4f);
		}
	}
	free(dets);
}

static void test_misuse_is_refused(void **state)
{
	fixture *fx = *state;
	vp_det *dets = calloc((size_t)BATCH * fx->max_dets, sizeof(vp_det));
	int counts[BATCH];
	assert_non_null(dets);
	assert_int_equal(inf_detector_collect(fx->det, dets, counts, NULL), -ENOENT);
	assert_int_equal(inf_detector_submit(fx->det, fx->frames, 0), -EINVAL);
	assert_int_equal(inf_detector_submit(fx->det, fx->frames, BATCH + 1), -EINVAL);
	assert_int_equal(inf_detector_submit(fx->det, fx->frames, 1), 0);
	/* A single run must not overtake the batch in flight. */
	assert_int_equal(inf_detector_run(fx->det, fx->frames, 1, dets, counts), -EBUSY);
	assert_int_equal(inf_detector_submit(fx->det, fx->frames, 1), 0);
	assert_int_equal(inf_detector_submit(fx->det, fx->frames, 1), -EBUSY);
	assert_int_equal(inf_detector_pending(fx->det), INF_DETECTOR_DEPTH);
	for (int k = 0; k < INF_DETECTOR_DEPTH; k++) {
		assert_int_equal(inf_detector_collect(fx->det, dets, counts, NULL), 1);
		assert_int_equal(counts[0], fx->ref_counts[0]);
	}
	assert_int_equal(inf_detector_collect(fx->det, dets, counts, NULL), -ENOENT);
	assert_int_equal(inf_detector_run(fx->det, fx->frames, 1, dets, counts), 0);
	free(dets);
}

/* A detector for model with family (and more model keys), its load's stderr in *log. */
static int open_family(const char *model, const char *family, const char *more, pipe_config **cfg,
                       inf_detector **det, char **log)
{
	char yaml[2048];
	const char *sh = shared_dir();
	snprintf(yaml, sizeof(yaml),
	         "sources:\n  - id: highway\n    uri: %s/data/videos/highway-540p.mp4\n"
	         "model:\n  path: %s/models/%s\n  family: %s\n  backend: cpu\n  threads: 2\n"
	         "  batch: { max_size: %d }\n%s",
	         sh, sh, model, family, BATCH, more);
	*cfg = load_config(yaml);
	char path[] = "/tmp/vapd-det-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	enum vp_log_level level = vp_log_get_level();
	vp_log_set_level(VP_LOG_INFO);
	int rc = inf_detector_new(&(*cfg)->model, (*cfg)->file, det);
	vp_log_set_level(level);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t len = lseek(fd, 0, SEEK_END);
	*log = calloc(1, (size_t)len + 1);
	assert_non_null(*log);
	assert_int_equal(pread(fd, *log, (size_t)len, 0), len);
	close(fd);
	unlink(path);
	return rc;
}

static void expect_auto(const char *model, int family, const char *why)
{
	pipe_config *cfg;
	inf_detector *det = NULL;
	char *log;
	assert_int_equal(open_family(model, "auto", "", &cfg, &det, &log), 0);
	assert_int_equal(inf_detector_family(det), family);
	assert_int_equal(inf_detector_num_classes(det), 80);
	if (!strstr(log, why))
		fprintf(stderr, "expected a line holding\n  %s\ngot:\n%s", why, log);
	assert_non_null(strstr(log, why));
	char *first = strstr(log, "family auto:");
	assert_null(strstr(first + 1, "family auto:"));   /* one line */
	free(log);
	inf_detector_free(&det);
	pipe_config_free(&cfg);
}

static void test_family_auto_picks_yolox_and_yolov8_from_the_output_shape(void **state)
{
	(void)state;
	expect_auto("yolox_nano.onnx", INF_FAM_YOLOX,
	            "family auto: yolox (output [3, 3549, 85] has its 3549 anchors first, one per stride "
	            "8/16/32 cell)");
	expect_auto("yolov8n.onnx", INF_FAM_YOLOV8,
	            "family auto: yolov8 (output [3, 84, 8400] has its 8400 anchors last, after 84 fields)");
}

/* The cases: yolov8n as yolov5 gave class_id 8345 and score 38006; now refused at
 * load naming the shapes. YOLOX as yolov8 fits a transposed YOLOv8 shape: refused where the
 * labels tell (80 names, 81 classes), else whatever it detects is valid. */
static void test_wrong_family_is_refused_at_load_or_gives_valid_detections(void **state)
{
	fixture *fx = *state;
	pipe_config *cfg;
	inf_detector *det = NULL;
	char *log;
	assert_int_equal(open_family("yolov8n.onnx", "yolov5", "", &cfg, &det, &log), VP_EMODEL);
	assert_non_null(strstr(log, "[3, 84, 8400] does not fit family yolov5 for a 640x640 input"));
	assert_null(det);
	free(log);
	pipe_config_free(&cfg);
	assert_int_equal(open_family("yolox_nano.onnx", "yolov5", "", &cfg, &det, &log), VP_EMODEL);
	assert_non_null(strstr(log, "[3, 3549, 85] does not fit family yolov5 for a 416x416 input"));
	free(log);
	pipe_config_free(&cfg);
	char labels[1024];
	snprintf(labels, sizeof(labels), "  labels: %s/models/coco.names\n", shared_dir());
	assert_int_equal(open_family("yolox_nano.onnx", "yolov8", labels, &cfg, &det, &log), VP_ECONFIG);
	assert_non_null(strstr(log, "has 80 labels but the model has 81 classes (read as family yolov8)"));
	free(log);
	pipe_config_free(&cfg);
	assert_int_equal(open_family("yolox_nano.onnx", "yolov8", "", &cfg, &det, &log), 0);
	free(log);
	int nc = inf_detector_num_classes(det), md = inf_detector_max_dets(det), counts[BATCH];
	vp_det *dets = calloc((size_t)BATCH * md, sizeof(vp_det));
	assert_non_null(dets);
	assert_int_equal(inf_detector_run(det, fx->frames, BATCH, dets, counts), 0);
	for (int f = 0; f < BATCH; f++)
		for (int i = 0; i < counts[f]; i++) {
			const vp_det *d = &dets[(size_t)f * md + i];
			assert_true(d->score >= 0.0f && d->score <= 1.0f && d->class_id >= 0 && d->class_id < nc);
			for (int c = 0; c < 4; c++)
				assert_true(isfinite(d->bbox[c]));
		}
	free(dets);
	inf_detector_free(&det);
	pipe_config_free(&cfg);
}

/* ---- load refusals: no clip, each case builds its own model or labels file ---- */

static char tmp_dir[] = "/tmp/vapd-test-det-XXXXXX";

/* inf_detector_new for a model and labels file; its log (stderr) goes into msg. */
static int new_msg(const char *model, const char *labels, char *msg, size_t len)
{
	char yaml[4096], log[256];
	snprintf(yaml, sizeof(yaml),
	         "sources:\n  - id: cam\n    uri: %s/data/videos/highway-540p.mp4\n"
	         "model:\n  path: %s\n  family: yolox\n  backend: cpu\n  threads: 1\n%s%s%s",
	         shared_dir(), model, labels ? "  labels: " : "", labels ? labels : "", labels ? "\n" : "");
	pipe_config *cfg = load_config(yaml);
	inf_detector *det = NULL;
	snprintf(log, sizeof(log), "%s/stderr.log", tmp_dir);
	fflush(stderr);
	int saved = dup(2);
	FILE *f = fopen(log, "w+");
	assert_non_null(f);
	dup2(fileno(f), 2);
	int rc = inf_detector_new(&cfg->model, cfg->file, &det);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	size_t n = fread(msg, 1, len - 1, f);
	msg[n] = 0;
	fclose(f);
	fprintf(stderr, "%s", msg);
	inf_detector_free(&det);
	pipe_config_free(&cfg);
	return rc;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_int64_input_is_named_with_what_vapd_needs(void **state)
{
	(void)state;
	char py[512], model[512], cmd[1200], msg[2048];
	snprintf(py, sizeof(py), "%s/int64.py", tmp_dir);
	snprintf(model, sizeof(model), "%s/int64.onnx", tmp_dir);
	static const char script[] =
		"import sys, onnx\nfrom onnx import helper as h, TensorProto as T\n"
		"x = h.make_tensor_value_info('images', T.INT64, [1, 3, 64, 64])\n"
		"y = h.make_tensor_value_info('y', T.INT64, [1, 3, 64, 64])\n"
		"m = h.make_model(h.make_graph([h.make_node('Identity', ['images'], ['y'])], 'g', [x], [y]),\n"
		"                 opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n";
	write_file(py, script, strlen(script));
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", py, model);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(new_msg(model, NULL, msg, sizeof(msg)), VP_EMODEL);
	assert_non_null(strstr(msg, "input 'images' is INT64"));
	assert_non_null(strstr(msg, "needs a FLOAT"));
}

static void test_labels_with_more_names_than_classes_are_refused(void **state)
{
	(void)state;
	char model[512], names[512], cmd[1400], msg[2048];
	snprintf(model, sizeof(model), "%s/models/yolox_nano.onnx", shared_dir());
	snprintf(names, sizeof(names), "%s/81.names", tmp_dir);
	snprintf(cmd, sizeof(cmd), "{ cat %s/models/coco.names; echo extra; } > %s", shared_dir(), names);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(new_msg(model, names, msg, sizeof(msg)), VP_ECONFIG);
	assert_non_null(strstr(msg, "has 81 labels but the model has 80 classes"));
}

static void test_binary_labels_files_are_refused(void **state)
{
	(void)state;
	char model[512], names[512], cmd[1400], msg[2048];
	snprintf(model, sizeof(model), "%s/models/yolox_nano.onnx", shared_dir());
	/* The model given as its own labels (too large), a small binary, a NUL byte on line 2. */
	assert_int_equal(new_msg(model, model, msg, sizeof(msg)), VP_ECONFIG);
	assert_non_null(strstr(msg, "expected a text file of class names"));
	snprintf(names, sizeof(names), "%s/head.onnx", tmp_dir);
	snprintf(cmd, sizeof(cmd), "head -c 4096 %s > %s", model, names);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(new_msg(model, names, msg, sizeof(msg)), VP_ECONFIG);
	assert_non_null(strstr(msg, "is not UTF-8 text: expected a text file of class names"));
	snprintf(names, sizeof(names), "%s/nul.names", tmp_dir);
	write_file(names, "person\nbi\0cycle\n", 16);
	assert_int_equal(new_msg(model, names, msg, sizeof(msg)), VP_ECONFIG);
	assert_non_null(strstr(msg, "line 2 is not UTF-8 text"));
	/* Latin-1 bytes are not UTF-8 either; real UTF-8 names stay accepted by this check. */
	write_file(names, "caf\xe9\n", 5);
	assert_int_equal(new_msg(model, names, msg, sizeof(msg)), VP_ECONFIG);
	assert_non_null(strstr(msg, "line 1 is not UTF-8 text"));
	write_file(names, "caf\xc3\xa9\n", 6);
	assert_int_equal(new_msg(model, names, msg, sizeof(msg)), VP_ECONFIG);
	assert_non_null(strstr(msg, "has 1 labels but the model has 80 classes"));
}

static int refusals_setup(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int refusals_teardown(void **state)
{
	(void)state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	vp_log_set_level(VP_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches_come_out_in_submit_order_with_run_results),
		cmocka_unit_test(test_partial_batches_follow_the_same_order),
		cmocka_unit_test(test_misuse_is_refused),
		cmocka_unit_test(test_family_auto_picks_yolox_and_yolov8_from_the_output_shape),
		cmocka_unit_test(test_wrong_family_is_refused_at_load_or_gives_valid_detections),
	};
	const struct CMUnitTest refusals[] = {
		cmocka_unit_test(test_int64_input_is_named_with_what_vapd_needs),
		cmocka_unit_test(test_labels_with_more_names_than_classes_are_refused),
		cmocka_unit_test(test_binary_labels_files_are_refused),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	return failed + cmocka_run_group_tests(refusals, refusals_setup, refusals_teardown);
}
