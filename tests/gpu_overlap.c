/* Overlapped GPU batches and pipeline.device on a GPU:
 *  - the detector with NVDEC frames: batches submitted two deep (batch k+1 enqueued before
 *    batch k is collected) give exactly the detections of inf_detector_run one batch at a
 *    time, also for mixed batches of device and host frames;
 *  - the pipeline (cuda:0, NVDEC, cuda backend, one batch in flight) publishes every frame
 *    of each stream in order, its EOS last, with the detections a detector of its own
 *    computes for the same frames;
 *  - cuda:N beyond the device count is refused at start (file:line, GPU count), cuda:99
 *    already by the config.
 * Skips (exit 0) where no GPU or no NVDEC is visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu_skip.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "decode/source.h"
#include "infer/detector.h"
#include "kernels/cuda_util.h"
#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/vp_err.h"

enum { BATCH = 4, N_BATCHES = 6, N_FRAMES = BATCH * N_BATCHES, MAX_LINE = 1 << 16 };

static char cfg_path[64];

/* Writes text to a fresh temporary config and loads it (the file stays for error lines). */
static int load_config(const char *text, pipe_config **ret)
{
	strcpy(cfg_path, "/tmp/vapd-ovl-XXXXXX.yaml");
	int fd = mkstemps(cfg_path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return pipe_config_load(cfg_path, stderr, ret);
}

static void drop_config(pipe_config **cfg)
{
	pipe_config_free(cfg);
	unlink(cfg_path);
}

/* ---- the detector two deep ------------------------------------------------------- */

static void read_frames(pipe_source_cfg *src, vp_frame **frames, int n, vp_memtype want)
{
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(src, 0, n + 4, &s), 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(dec_stream_read(s, &frames[i]), 0);
		assert_int_equal(frames[i]->mem, want);
	}
	/* Frames stay valid after the stream is freed. */
	dec_stream_free(&s);
}

static void expect_same(const vp_det *a, const int *ca, const vp_det *b, const int *cb, int n, int max_dets)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(ca[i], cb[i]);
		assert_memory_equal(a + (size_t)i * max_dets, b + (size_t)i * max_dets, (size_t)ca[i] * sizeof(vp_det));
	}
}

/* batches[k] = frames k*BATCH..: reference with inf_detector_run, then two deep. */
static void run_both_ways(inf_detector *d, vp_frame **frames, int expect_async)
{
	int md = inf_detector_max_dets(d);
	vp_det *ref = calloc((size_t)N_FRAMES * md, sizeof(vp_det));
	vp_det *got = calloc((size_t)N_FRAMES * md, sizeof(vp_det));
	int ref_n[N_FRAMES], got_n[N_FRAMES], total = 0;
	assert_true(ref && got);
	for (int b = 0; b < N_BATCHES; b++)
		assert_int_equal(inf_detector_run(d, frames + b * BATCH, BATCH, ref + (size_t)b * BATCH * md,
		                                  ref_n + b * BATCH), 0);
	for (int i = 0; i < N_FRAMES; i++)
		total += ref_n[i];
	printf("# %d detections in %d frames\n", total, N_FRAMES);
	assert_true(total >= N_FRAMES);   /* cars in every frame of the clip */
	int next = 0, done = 0;
	while (done < N_BATCHES) {
		while (next < N_BATCHES && inf_detector_pending(d) < INF_DETECTOR_DEPTH) {
			assert_int_equal(inf_detector_submit(d, frames + next * BATCH, BATCH), expect_async);
			next++;
		}
		inf_detector_times t;
		assert_int_equal(inf_detector_collect(d, got + (size_t)done * BATCH * md, got_n + done * BATCH, &t), BATCH);
		assert_int_equal(t.frames, BATCH);
		done++;
	}
	expect_same(got, got_n, ref, ref_n, N_FRAMES, md);
	free(ref);
	free(got);
}

static void test_detector_two_deep_equals_one_at_a_time(void **state)
{
	(void)state;
	char yaml[2048];
	const char *sh = gpu_shared_dir();
	snprintf(yaml, sizeof(yaml),
	         "pipeline: { device: 'cuda:0' }\n"
	         "sources:\n  - id: hw\n    uri: %s/data/videos/highway-540p.mp4\n    decoder: nvdec\n"
	         "  - id: sw\n    uri: %s/data/videos/highway-540p.mp4\n    decoder: software\n"
	         "model:\n  path: %s/models/yolox_nano.onnx\n  family: yolox\n  backend: cuda\n"
	         "  batch: { max_size: %d }\n",
	         sh, sh, sh, BATCH);
	pipe_config *cfg = NULL;
	inf_detector *d = NULL;
	assert_int_equal(load_config(yaml, &cfg), 0);
	assert_int_equal(inf_detector_new(&cfg->model, cfg->file, &d), 0);
	assert_true(inf_detector_takes_device_frames(d));
	cfg->sources[0].device_frames_ok = true;
	vp_frame *dev[N_FRAMES], *host[N_FRAMES], *mixed[N_FRAMES];
	read_frames(&cfg->sources[0], dev, N_FRAMES, VP_MEM_DEVICE);
	read_frames(&cfg->sources[1], host, N_FRAMES, VP_MEM_HOST);
	printf("# device frames\n");
	run_both_ways(d, dev, 1);
	/* NVDEC and software streams side by side: every other frame from the host. */
	for (int i = 0; i < N_FRAMES; i++)
		mixed[i] = i % 2 ? host[i] : dev[i];
	printf("# mixed batches\n");
	run_both_ways(d, mixed, 1);
	printf("# host frames on the cuda engine\n");
	run_both_ways(d, host, 0);
	for (int i = 0; i < N_FRAMES; i++) {
		vp_frame_unref(&dev[i]);
		vp_frame_unref(&host[i]);
	}
	inf_detector_free(&d);
	drop_config(&cfg);
}

/* ---- the pipeline ------------------------------------------------------------------ */

typedef struct frame_dets {
	int n;
	vp_det d[128];
} frame_dets;

/* Parses the "detections" array of one message (class_id, score, bbox). */
static void parse_dets(const char *line, frame_dets *r)
{
	const char *p = strstr(line, "\"detections\":[");
	assert_non_null(p);
	r->n = 0;
	while ((p = strstr(p, "{\"class_id\":")) != NULL) {
		vp_det *d = &r->d[r->n];
		const char *sc = strstr(p, "\"score\":"), *bb = strstr(p, "\"bbox\":[");
		assert_true(sc && bb && r->n < 128);
		assert_int_equal(sscanf(p, "{\"class_id\":%d", &d->class_id), 1);
		assert_int_equal(sscanf(sc, "\"score\":%f", &d->score), 1);
		assert_int_equal(sscanf(bb, "\"bbox\":[%f,%f,%f,%f]", &d->bbox[0], &d->bbox[1], &d->bbox[2], &d->bbox[3]), 4);
		r->n++;
		p = bb;
	}
}

/* Same detections up to the JSON rounding and the tiny differences of a second engine
 * (its measured algorithm search may pick other kernels); a detection only one side
 * has must sit at the threshold. Matched as sets: two detections whose scores differ by
 * less than those differences may come out in either order. */
static int close_det(const vp_det *a, const vp_det *b)
{
	if (a->class_id != b->class_id || !(a->score > b->score - 2e-3f && a->score < b->score + 2e-3f))
		return 0;
	for (int c = 0; c < 4; c++)
		if (!(a->bbox[c] > b->bbox[c] - 0.3f && a->bbox[c] < b->bbox[c] + 0.3f))
			return 0;
	return 1;
}

static void expect_close(const frame_dets *got, const vp_det *ref, int n_ref, float thr, const char *where)
{
	char used[128] = { 0 };
	assert_true(n_ref <= 128);
	for (int i = 0; i < got->n; i++) {
		int k = 0;
		while (k < n_ref && (used[k] || !close_det(&got->d[i], &ref[k])))
			k++;
		if (k < n_ref) {
			used[k] = 1;
		} else if (!(got->d[i].score < thr + 2e-3f)) {
			printf("# %s: detection %d (class %d, score %.3f) has no match among %d\n", where, i,
			       got->d[i].class_id, got->d[i].score, n_ref);
			fail();
		}
	}
	for (int k = 0; k < n_ref; k++)
		if (!used[k] && !(ref[k].score < thr + 2e-3f)) {
			printf("# %s: reference detection %d (class %d, score %.3f) missing\n", where, k, ref[k].class_id,
			       ref[k].score);
			fail();
		}
}

#define N_STREAMS 2
static const char *const clips[N_STREAMS] = { "cars-432p.mp4", "people-432p.mp4" };

/* Every line of the output: per stream, frames 0.. in order, then its EOS. */
static void check_output(const char *out, pipe_config *cfg, inf_detector *ref_det)
{
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	char *line = malloc(MAX_LINE);
	frame_dets *fd = malloc(sizeof(*fd));
	assert_true(line && fd);
	dec_stream *dec[N_STREAMS];
	int next[N_STREAMS] = { 0 }, eos[N_STREAMS] = { 0 }, md = inf_detector_max_dets(ref_det);
	vp_det *ref = calloc((size_t)md, sizeof(vp_det));
	assert_non_null(ref);
	for (int s = 0; s < N_STREAMS; s++) {
		cfg->sources[s].device_frames_ok = true;
		assert_int_equal(dec_stream_open(&cfg->sources[s], s, 8, &dec[s]), 0);
	}
	while (fgets(line, MAX_LINE, f)) {
		int s = strstr(line, "\"stream\":\"s0\"") ? 0 : 1;
		assert_false(eos[s]);
		if (strstr(line, "\"eos\":true")) {
			char want[64];
			snprintf(want, sizeof(want), "\"processed\":%d,", next[s]);
			assert_non_null(strstr(line, want));
			eos[s] = 1;
			continue;
		}
		int frame = -1;
		const char *fr = strstr(line, "\"frame\":");
		assert_non_null(fr);
		assert_int_equal(sscanf(fr, "\"frame\":%d", &frame), 1);
		assert_int_equal(frame, next[s]);
		vp_frame *v = NULL;
		int n = 0;
		assert_int_equal(dec_stream_read(dec[s], &v), 0);
		assert_int_equal(v->mem, VP_MEM_DEVICE);
		assert_int_equal(inf_detector_run(ref_det, &v, 1, ref, &n), 0);
		vp_frame_unref(&v);
		parse_dets(line, fd);
		char where[64];
		snprintf(where, sizeof(where), "%s frame %d", clips[s], frame);
		expect_close(fd, ref, n, cfg->model.threshold, where);
		next[s]++;
	}
	for (int s = 0; s < N_STREAMS; s++) {
		printf("# %s: %d frames in order, then EOS\n", clips[s], next[s]);
		assert_true(eos[s]);
		assert_true(next[s] >= 100);
		vp_frame *v = NULL;
		assert_int_equal(dec_stream_read(dec[s], &v), VP_EOF);   /* every decoded frame came out */
		dec_stream_free(&dec[s]);
	}
	free(ref);
	free(fd);
	free(line);
	fclose(f);
}

static void test_pipeline_overlaps_and_keeps_order(void **state)
{
	(void)state;
	char yaml[4096], out[] = "/tmp/vapd-ovl-out-XXXXXX";
	const char *sh = gpu_shared_dir();
	int fd = mkstemp(out);
	assert_true(fd >= 0);
	close(fd);
	/* Batches of 1: batch composition cannot change a frame's result, so the pipeline
	 * and the reference detector see the same inputs; fp32 keeps two engines close. */
	snprintf(yaml, sizeof(yaml),
	         "pipeline: { device: 'cuda:0' }\n"
	         "sources:\n  - id: s0\n    uri: %s/data/videos/%s\n    decoder: nvdec\n"
	         "  - id: s1\n    uri: %s/data/videos/%s\n    decoder: nvdec\n"
	         "model:\n  path: %s/models/yolox_nano.onnx\n  family: yolox\n  backend: cuda\n  precision: fp32\n"
	         "  threshold: 0.3\n  batch: { max_size: 1, timeout_ms: 5 }\n"
	         "sinks:\n  - type: file\n    path: %s\n    mode: truncate\n",
	         sh, clips[0], sh, clips[1], sh, out);
	pipe_config *cfg = NULL;
	pipe_pipeline *p = NULL;
	inf_detector *ref = NULL;
	assert_int_equal(load_config(yaml, &cfg), 0);
	assert_int_equal(pipe_pipeline_start(cfg, NULL, &p), 0);
	while (!pipe_pipeline_finished(p))
		usleep(5000);
	pipe_stage_times t;
	pipe_pipeline_stage_times(p, &t);
	assert_int_equal(pipe_pipeline_free(&p), 0);
	printf("# pipeline: %lld frames\n", (long long)t.frames);
	assert_int_equal(inf_detector_new(&cfg->model, cfg->file, &ref), 0);
	check_output(out, cfg, ref);
	inf_detector_free(&ref);
	drop_config(&cfg);
	unlink(out);
}

/* ---- pipeline.device ------------------------------------------------------------- */

static void test_device_index_is_checked(void **state)
{
	(void)state;
	const char *why = "";
	int n = krn_cuda_devices(&why);
	assert_true(n > 0);
	char yaml[1024];
	pipe_config *cfg = NULL;
	pipe_pipeline *p = NULL;
	snprintf(yaml, sizeof(yaml), "pipeline:\n  device: 'cuda:99'\nsources:\n  - id: a\n    uri: %s/data/videos/people-2s.mp4\n",
	         gpu_shared_dir());
	assert_int_equal(load_config(yaml, &cfg), VP_ECONFIG);
	unlink(cfg_path);
	/* One past the last device: refused when the pipeline starts, before anything opens. */
	snprintf(yaml, sizeof(yaml), "pipeline:\n  device: 'cuda:%d'\nsources:\n  - id: a\n    uri: %s/data/videos/people-2s.mp4\n",
	         n, gpu_shared_dir());
	assert_int_equal(load_config(yaml, &cfg), 0);
	assert_int_equal(cfg->gpu, n);
	assert_int_equal(pipe_pipeline_start(cfg, NULL, &p), VP_ECONFIG);
	assert_null(p);
	drop_config(&cfg);
	/* The last device works (cuda:0 on a one-GPU machine). */
	snprintf(yaml, sizeof(yaml),
	         "pipeline:\n  device: 'cuda:%d'\nsources:\n  - id: a\n    uri: %s/data/videos/people-2s.mp4\n    decoder: nvdec\n"
	         "sinks:\n  - type: file\n    path: /dev/null\n",
	         n - 1, gpu_shared_dir());
	assert_int_equal(load_config(yaml, &cfg), 0);
	assert_int_equal(pipe_pipeline_start(cfg, NULL, &p), 0);
	while (!pipe_pipeline_finished(p))
		usleep(5000);
	pipe_stream_stats st;
	pipe_pipeline_stream_stats(p, 0, &st);
	assert_int_equal(st.processed, 20);
	assert_int_equal(pipe_pipeline_free(&p), 0);
	drop_config(&cfg);
}
#endif

int main(void)
{
	/* every part decodes with NVDEC (device frames are what overlaps) */
	if (!gpu_visible("gpu_overlap") || !nvdec_visible("gpu_overlap"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detector_two_deep_equals_one_at_a_time),
		cmocka_unit_test(test_pipeline_overlaps_and_keeps_order),
		cmocka_unit_test(test_device_index_is_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
