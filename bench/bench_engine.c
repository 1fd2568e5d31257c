/* CPU engine benchmark: ms per image (fastest of the timed runs) for each shared model
 * at batch 1 and 8, with 1 thread and with all cores, and the engine's peak memory;
 * prints markdown rows (bench/ort_bench.js prints onnxruntime's, measured the same way).
 * Usage: bench_engine [--quick] [MODEL.onnx ...]  (default: $SHARED/models/ *.onnx) */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infer/engine.h"
#include "pipeline/vp_err.h"

#define MIN_SECONDS 2.0
#define MIN_RUNS 3

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

/* Fills the input with a deterministic pattern in the models' 0..1 / 0..255 range. */
static void fill_input(inf_engine *e)
{
	inf_tensor_info ti;
	inf_engine_input_info(e, 0, &ti);
	float *x = inf_engine_input(e, 0);
	size_t n = numel(&ti);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((i * 2654435761u) >> 24) / 255.0f;
}

static int bench_one(const char *path, int batch, int threads, double min_s)
{
	inf_engine *e = NULL;
	inf_engine_opts o = { .backend = "cpu", .max_batch = batch, .threads = threads };
	int ret = inf_engine_open(path, &o, &e);
	if (ret < 0)
		return ret;
	fill_input(e);
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
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	printf("| vapd cpu | %s | %d | %ld | %.2f | %.1f | %.1f |\n", name, batch,
	       threads ? (long)threads : cores, ms, 1e3 / ms, inf_engine_peak_bytes(e) / 1048576.0);
	fflush(stdout);
out:
	inf_engine_free(&e);
	return ret;
}

/* Each configuration in a child process: OpenMP and OpenBLAS thread pools are
 * process-wide, and one configuration's pools must not tilt the next one's timing. */
static int bench_isolated(const char *path, int batch, int threads, double min_s)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return bench_one(path, batch, threads, min_s);
	if (pid == 0)
		_exit(bench_one(path, batch, threads, min_s) < 0 ? 1 : 0);
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
	int rc = 0;
	printf("| engine | model | batch | threads | ms/image | images/s | peak MB |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int m = 0; m < n; m++)
		for (int t = 0; t < 2; t++)
			for (int b = 0; b < 2; b++)
				if (bench_isolated(models[m], batches[b], threads[t], min_s) < 0)
					rc = 1;
	globfree(&gl);
	return rc;
}
