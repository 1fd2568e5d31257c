/* What overlapping consecutive batches buys on the GPU: the detector (CUDA preprocessing,
 * cuda engine, GPU head) over NVDEC frames of cars-1080p.mp4 already decoded, one batch at
 * a time (inf_detector_run: the host waits for every batch's detections before it enqueues
 * the next) against two batches in flight (inf_detector_submit of batch k+1 before
 * inf_detector_collect of batch k, as the pipeline's engine thread does). Markdown rows:
 * model, precision, batch, frames/s both ways, gain. Usage: bench_gpu_overlap SHARED_DIR.
 * Prints a skip line where no GPU is visible. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/gpu_skip.h"
#include "decode/source.h"
#include "infer/detector.h"
#include "pipeline/config.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
enum { GROUPS = 4, MIN_BATCHES = 200 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct setup {
	pipe_config *cfg;
	inf_detector *det;
	vp_frame **frames;     /* GROUPS batches of device frames */
	int n_frames;
	vp_det *dets;
	int *counts;
} setup;

static int load(const char *shared, const char *model, const char *family, int fp16, int batch, setup *s)
{
	char path[] = "/tmp/vapd-ovl-bench-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	if (fd < 0)
		return -errno;
	char yaml[2048];
	int len = snprintf(yaml, sizeof(yaml),
	                   "pipeline: { device: 'cuda:0' }\n"
	                   "sources:\n  - id: bench\n    uri: %s/data/videos/cars-1080p.mp4\n    decoder: nvdec\n"
	                   "model:\n  path: %s/models/%s.onnx\n  family: %s\n  backend: cuda\n  precision: %s\n"
	                   "  batch: { max_size: %d }\n",
	                   shared, shared, model, family, fp16 ? "fp16" : "fp32", batch);
	int rc = write(fd, yaml, (size_t)len) == len ? 0 : -EIO;
	close(fd);
	if (rc == 0)
		rc = pipe_config_load(path, stderr, &s->cfg);
	unlink(path);
	if (rc < 0)
		return rc;
	if ((rc = inf_detector_new(&s->cfg->model, s->cfg->file, &s->det)) < 0)
		return rc;
	if (!inf_detector_takes_device_frames(s->det))
		return VP_ENODEV;
	s->n_frames = GROUPS * batch;
	s->frames = calloc((size_t)s->n_frames, sizeof(*s->frames));
	s->dets = calloc((size_t)batch * inf_detector_max_dets(s->det), sizeof(vp_det));
	s->counts = calloc((size_t)batch, sizeof(int));
	if (!s->frames || !s->dets || !s->counts)
		return -ENOMEM;
	s->cfg->sources[0].device_frames_ok = true;
	s->cfg->sources[0].loop = true;   /* 125 frames: enough for batch 32, loop for more */
	dec_stream *dec = NULL;
	if ((rc = dec_stream_open(&s->cfg->sources[0], 0, s->n_frames + 4, &dec)) < 0)
		return rc;
	for (int i = 0; i < s->n_frames && rc == 0; i++)
		rc = dec_stream_read(dec, &s->frames[i]);
	dec_stream_free(&dec);
	return rc;
}

static void unload(setup *s)
{
	for (int i = 0; s->frames && i < s->n_frames; i++)
		vp_frame_unref(&s->frames[i]);
	free(s->frames);
	free(s->dets);
	free(s->counts);
	inf_detector_free(&s->det);
	pipe_config_free(&s->cfg);
}

/* Frames/s over n_batches batches, one at a time. */
static double run_sequential(setup *s, int batch, int n_batches)
{
	double t0 = now_s();
	for (int k = 0; k < n_batches; k++)
		if (inf_detector_run(s->det, s->frames + (k % GROUPS) * batch, batch, s->dets, s->counts) < 0)
			return -1;
	return n_batches * batch / (now_s() - t0);
}

/* Frames/s with INF_DETECTOR_DEPTH batches in flight (the oldest collected after the next
 * was submitted). */
static double run_overlapped(setup *s, int batch, int n_batches)
{
	double t0 = now_s();
	int next = 0, done = 0;
	while (done < n_batches) {
		while (next < n_batches && inf_detector_pending(s->det) < INF_DETECTOR_DEPTH)
			if (inf_detector_submit(s->det, s->frames + (next++ % GROUPS) * batch, batch) < 0)
				return -1;
		if (inf_detector_collect(s->det, s->dets, s->counts, NULL) < 0)
			return -1;
		done++;
	}
	return n_batches * batch / (now_s() - t0);
}

static int bench_one(const char *shared, const char *model, const char *family, int fp16, int batch)
{
	setup s = { 0 };
	int rc = load(shared, model, family, fp16, batch, &s);
	if (rc < 0) {
		printf("| %s | %s | %d | setup failed: %s | | |\n", model, fp16 ? "fp16" : "fp32", batch, vp_strerror(rc));
		unload(&s);
		return rc;
	}
	/* Warm-up: the first run of a batch size is eager, the second captures its CUDA graph. */
	run_sequential(&s, batch, GROUPS);
	int n = MIN_BATCHES * 32 / batch;
	double seq = run_sequential(&s, batch, n), ovl = run_overlapped(&s, batch, n);
	double seq2 = run_sequential(&s, batch, n), ovl2 = run_overlapped(&s, batch, n);
	/* Best of two each way: the GPU clocks settle during the first pair. */
	if (seq2 > seq)
		seq = seq2;
	if (ovl2 > ovl)
		ovl = ovl2;
	if (seq <= 0 || ovl <= 0)
		rc = -EIO;
	printf("| %s | %s | %d | %.0f | %.0f | %.2fx |\n", model, fp16 ? "fp16" : "fp32", batch, seq, ovl,
	       seq > 0 ? ovl / seq : 0.0);
	fflush(stdout);
	unload(&s);
	return rc;
}
#endif

int main(int argc, char **argv)
{
	if (!gpu_visible("bench_gpu_overlap") || !nvdec_visible("bench_gpu_overlap"))
		return 0;
#ifdef VP_HAVE_CUDA
	const char *shared = argc > 1 ? argv[1] : gpu_shared_dir();
	static const char *const models[][2] = { { "yolox_nano", "yolox" }, { "yolov8n", "yolov8" } };
	static const int batches[] = { 1, 8, 32 };
	int rc = 0;
	vp_log_set_level(VP_LOG_WARN);
	printf("Detector on NVDEC frames of cars-1080p.mp4 (decode excluded): frames/s one batch at a\n"
	       "time vs. %d batches in flight (preprocess/infer of batch k+1 while batch k's detections\n"
	       "are copied out).\n\n", INF_DETECTOR_DEPTH);
	printf("| model | precision | batch | one at a time (frames/s) | overlapped (frames/s) | gain |\n");
	printf("| --- | --- | --- | --- | --- | --- |\n");
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++)
			if (bench_one(shared, models[m][0], models[m][1], 1, batches[b]) < 0)
				rc = 1;
	return rc;
#else
	(void)argc, (void)argv;
	return 0;
#endif
}
