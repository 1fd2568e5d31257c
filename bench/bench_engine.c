/* CPU engine benchmark: ms per image (fastest of the timed runs) for each shared model
 * at batch 1 and 8, with 1 thread and with all cores, and the engine's peak memory;
 * prints markdown rows (bench/ort_bench.js prints onnxruntime's, measured the same way).
 * The input is real: frames of $SHARED/data/videos/cars-432p.mp4 through the CPU
 * preprocessing with the family's preset (yolox_* files: YOLOX, others: YOLOv8). At batch
 * 1 two adversarial inputs follow, whose activations would fill with denormal floats
 * without FTZ/DAZ (pipeline/vp_fpu.h): values up to 1e6, and tiny values (< 1e-38).
 * Usage: bench_engine [--quick] [MODEL.onnx ...]  (default: $SHARED/models/ *.onnx) */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decode/source.h"
#include "infer/engine.h"
#include "infer/heads/heads.h"
#include "kernels/preprocess.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_fpu.h"
#include "pipeline/vp_log.h"

#define MIN_SECONDS 2.0
#define MIN_RUNS 3
#define MAX_FRAMES 8  /* the largest batch */
#define CLIP "cars-432p.mp4"

/* Denormals flush to zero as in vapd (pipeline/main.c), from before the library
 * constructors: OpenBLAS's worker threads, started in one, inherit the FPU mode. The
 * engine sets it on its own threads (infer/cpu/backend_cpu.c, infer/cpu/taskpool.c). */
static void flush_denormals_at_start(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	vp_fpu_flush_denormals();
}
__attribute__((section(".preinit_array"), used))
static void (*const preinit_flush_denormals)(int, char **, char **) = flush_denormals_at_start;

enum input_kind { IN_FRAMES, IN_LARGE, IN_TINY };
static const char *const input_names[] = { "frames", "up to 1e6", "below 1e-38" };

/* The decoded frames the inputs are made of (read before the configurations fork). */
typedef struct bench_frames {
	vp_frame *f[MAX_FRAMES];
	int n;
} bench_frames;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t numel(const inf_tensor_info *t)
{
	size_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->dims[i];
	return n;
}

/* The family preset the detector would use, by file name as the accuracy script does:
 * yolox_* YOLOX, DETR-family files stretched, the other (YOLOv8, YOLO26) letterboxed. */
static int family_of_name(const char *name)
{
	static const char *const detr[] = { "deim", "dfine", "d-fine", "rtdetr", "rt-detr", "rfdetr" };
	if (!strncmp(name, "yolox", 5))
		return INF_FAM_YOLOX;
	for (size_t i = 0; i < sizeof(detr) / sizeof(detr[0]); i++)
		if (!strncmp(name, detr[i], strlen(detr[i])))
			return INF_FAM_DETR;
	return INF_FAM_YOLOV8;
}

/* Inputs besides the image that take each item's frame (width, height) (a DETR export's
 * orig_target_sizes): filled with w x h, as the detector does. Other inputs are left as
 * the engine made them. */
static void fill_sizes(inf_engine *e, int batch, int w, int h)
{
	for (int k = 1; k < inf_engine_n_inputs(e); k++) {
		inf_tensor_info ti;
		if (inf_engine_input_info(e, k, &ti) < 0 || ti.ndim != 2 || ti.dims[1] != 2)
			continue;
		for (int b = 0; b < batch; b++) {
			if (ti.dtype == INF_DT_INT64) {
				((int64_t *)inf_engine_input(e, k))[2 * b] = w;
				((int64_t *)inf_engine_input(e, k))[2 * b + 1] = h;
			} else if (ti.dtype == INF_DT_FLOAT) {
				((float *)inf_engine_input(e, k))[2 * b] = (float)w;
				((float *)inf_engine_input(e, k))[2 * b + 1] = (float)h;
			}
		}
	}
}

/* Every item of the batch from a decoded frame (item b from frame b), preprocessed as
 * the detector does for the model's family. Returns -EINVAL for an input that is not a
 * float N x 3 x H x W image. */
static int fill_frames(inf_engine *e, const char *name, const bench_frames *fr, int batch)
{
	inf_tensor_info ti;
	inf_engine_input_info(e, 0, &ti);
	if (ti.ndim != 4 || ti.dims[1] != 3 || ti.dtype != INF_DT_FLOAT || fr->n == 0)
		return -EINVAL;
	krn_pre_params pre;
	inf_family_preset(family_of_name(name), &pre);
	pre.dst_w = (int)ti.dims[3];
	pre.dst_h = (int)ti.dims[2];
	float *x = inf_engine_input(e, 0);
	size_t item = numel(&ti) / (size_t)ti.dims[0];
	for (int b = 0; b < batch; b++) {
		const vp_frame *f[1] = { fr->f[b % fr->n] };
		krn_xform xf;
		int ret = krn_preprocess_cpu(f, 1, &pre, x + (size_t)b * item, &xf);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A deterministic pattern: 0..1e6 (far beyond any normalised image), or 0..1e-38 (most
 * of them denormal already). */
static void fill_pattern(inf_engine *e, int kind)
{
	inf_tensor_info ti;
	inf_engine_input_info(e, 0, &ti);
	float *x = inf_engine_input(e, 0);
	size_t n = numel(&ti);
	float top = kind == IN_LARGE ? 1e6f : 1e-38f;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((i * 2654435761u) >> 8) / 16777216.0f * top;
}

/* Decodes the first MAX_FRAMES frames of the clip; fewer (or none) if it cannot. */
static void read_frames(const char *shared, bench_frames *fr)
{
	static char path[1024];
	static pipe_source_cfg cfg;  /* the stream borrows it */
	dec_stream *s = NULL;
	snprintf(path, sizeof(path), "%s/data/videos/%s", shared, CLIP);
	cfg = (pipe_source_cfg){
		.id = CLIP, .uri = path, .decoder = PIPE_DEC_SOFTWARE, .interval = 1,
		.reconnect_initial_ms = 500, .reconnect_max_ms = 30000, .rtsp_timeout_ms = 5000,
		.is_file = true,
	};
	if (dec_stream_open(&cfg, 0, MAX_FRAMES + 2, &s) < 0)
		return;
	while (fr->n < MAX_FRAMES && dec_stream_read(s, &fr->f[fr->n]) == 0)
		fr->n++;
	/* the frames are reference-counted: they outlive the stream */
	dec_stream_free(&s);
}

static int bench_one(const char *path, int batch, int threads, int kind, const bench_frames *fr,
                     double min_s)
{
	inf_engine *e = NULL;
	inf_engine_opts o = { .backend = "cpu", .max_batch = batch, .threads = threads };
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *input = input_names[kind];
	int ret = inf_engine_open(path, &o, &e);
	if (ret < 0)
		return ret;
	fill_sizes(e, batch, fr->n ? fr->f[0]->width : (int)640, fr->n ? fr->f[0]->height : 360);
	if (kind != IN_FRAMES)
		fill_pattern(e, kind);
	else if (fill_frames(e, name, fr, batch) < 0) {
		fill_pattern(e, IN_LARGE);
		input = "no image input: pattern";
	}
	if ((ret = inf_engine_run(e, batch)) < 0)  /* warm-up: first-touch of the arena */
		goto out;
	/* The fastest run: on a shared machine other processes only ever add time. */
	int runs = 0;
	double t0 = now_s(), best = 1e30;
	do {
		double t1 = now_s();
		if ((ret = inf_engine_run(e, batch)) < 0)
			goto out;
		double dt = now_s() - t1;
		best = dt < best ? dt : best;
		runs++;
	} while (now_s() - t0 < min_s || runs < MIN_RUNS);
	double ms = best * 1e3 / batch;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	printf("| vapd cpu | %s | %d | %ld | %s | %.2f | %.1f | %.1f |\n", name, batch,
	       threads ? (long)threads : cores, input, ms, 1e3 / ms, inf_engine_peak_bytes(e) / 1048576.0);
	fflush(stdout);
out:
	inf_engine_free(&e);
	return ret;
}

/* Each configuration in a child process: OpenMP and OpenBLAS thread pools are
 * process-wide, and one configuration's pools must not tilt the next one's timing. */
static int bench_isolated(const char *path, int batch, int threads, int kind, const bench_frames *fr,
                          double min_s)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return bench_one(path, batch, threads, kind, fr, min_s);
	if (pid == 0)
		_exit(bench_one(path, batch, threads, kind, fr, min_s) < 0 ? 1 : 0);
	int st = 0;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	double min_s = MIN_SECONDS;
	int first = 1;
	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		min_s = 0;
		first = 2;
	}
	glob_t gl = { 0 };
	char pattern[1024];
	const char *shared = getenv("SHARED");
	snprintf(pattern, sizeof(pattern), "%s/models/*.onnx", shared ? shared : "../shared");
	if (first >= argc && glob(pattern, 0, NULL, &gl) != 0) {
		fprintf(stderr, "bench_engine: no models match %s\n", pattern);
		return 1;
	}
	int n = first < argc ? argc - first : (int)gl.gl_pathc;
	char **models = first < argc ? argv + first : gl.gl_pathv;
	static const int batches[] = { 1, 8 }, threads[] = { 1, 0 };
	static bench_frames fr;
	vp_log_set_level(VP_LOG_WARN);
	read_frames(shared ? shared : "../shared", &fr);
	if (fr.n == 0)
		fprintf(stderr, "bench_engine: cannot decode %s: image models get a pattern\n", CLIP);
	int rc = 0;
	printf("| engine | model | batch | threads | input | ms/image | images/s | peak MB |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (int m = 0; m < n; m++)
		for (int t = 0; t < 2; t++)
			for (int b = 0; b < 2; b++)
				for (int k = IN_FRAMES; k <= (b == 0 ? IN_TINY : IN_FRAMES); k++)
					if (bench_isolated(models[m], batches[b], threads[t], k, &fr, min_s) < 0)
						rc = 1;
	for (int i = 0; i < fr.n; i++)
		vp_frame_unref(&fr.f[i]);
	globfree(&gl);
	return rc;
}
