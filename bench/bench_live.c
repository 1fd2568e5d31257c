/* Live capacity on the CPU backend: N realtime 720p25 sources (drop_oldest queues,
 * YOLOX-Nano, batch 8) through the pipeline for N = 1, 2, 4, ...: total frames/s, frames
 * dropped, worst per-stream p99 decode->publish latency, and the largest N without drops
 * (every frame, then every 5th with interval 5). Then the scale check: 64 sources without
 * a model, threads and RSS early vs late in the run, and the memory cost per stream.
 * Usage: bench_live SHARED_DIR [max_streams] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/vp_log.h"

typedef struct run_args {
	const char *shared, *clip, *dir;
	int n, interval, model, loop;
	double seconds;           /* loop runs: stop after this long */
} run_args;

typedef struct run_result {
	double secs, start_secs, fps, p99_ms;
	double steady_fps;        /* decoded frames/s between the two samples */
	long long processed, dropped, decoded;
	long threads0, threads1, rss0_kb, rss1_kb;  /* early (half way) and at the end */
} run_result;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Threads and VmRSS of this process from /proc/self/status. */
static void self_usage(long *threads, long *rss_kb)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	*threads = *rss_kb = -1;
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "Threads: %ld", threads);
		sscanf(line, "VmRSS: %ld", rss_kb);
	}
	if (f)
		fclose(f);
}

static int write_config(const char *path, const run_args *a)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "log:\n  level: warn\nsources:\n");
	for (int i = 0; i < a->n; i++)
		fprintf(f, "  - id: cam%02d\n    uri: %s\n    realtime: true\n    loop: %s\n"
		        "    interval: %d\n    queue: { depth: 8, policy: drop_oldest }\n",
		        i, a->clip, a->loop ? "true" : "false", a->interval);
	if (a->model)
		fprintf(f, "model:\n  path: %s/models/yolox_nano.onnx\n  family: yolox\n"
		        "  labels: %s/models/coco.names\n  backend: cpu\n"
		        "  batch: { max_size: 8, timeout_ms: 20 }\n", a->shared, a->shared);
	/* A real file: the sink fsyncs on close, which /dev/null refuses. */
	fprintf(f, "sinks:\n  - type: file\n    path: %s/out.jsonl\n    mode: truncate\n", a->dir);
	return fclose(f);
}

static long long decoded_total(pipe_pipeline *p)
{
	long long n = 0;
	for (int i = 0; i < pipe_pipeline_n_streams(p); i++) {
		pipe_stream_stats s;
		pipe_pipeline_stream_stats(p, i, &s);
		n += s.decoded;
	}
	return n;
}

static void collect(pipe_pipeline *p, run_result *r)
{
	for (int i = 0; i < pipe_pipeline_n_streams(p); i++) {
		pipe_stream_stats s;
		pipe_pipeline_stream_stats(p, i, &s);
		r->processed += s.processed;
		r->dropped += s.dropped;
		r->decoded += s.decoded;
		if (s.lat_p99_ms > r->p99_ms)
			r->p99_ms = s.lat_p99_ms;
	}
}

static int run(const run_args *a, run_result *r)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/live-%d.yaml", a->dir, a->n);
	pipe_config *cfg = NULL;
	pipe_pipeline *p = NULL;
	int rc = -1;
	memset(r, 0, sizeof(*r));
	if (write_config(path, a) < 0 || pipe_config_load(path, stderr, &cfg) < 0)
		goto out;
	double t0 = now_s();
	if (pipe_pipeline_start(cfg, NULL, &p) < 0)
		goto out;
	r->start_secs = now_s() - t0;
	int sampled = 0;
	long long dec0 = 0;
	double ts0 = 0;
	/* The schedule counts from the end of the start-up, which opens every file. */
	double t1 = now_s();
	while (!pipe_pipeline_finished(p)) {
		double t = now_s() - t1;
		if (a->loop && !sampled && t >= a->seconds / 2) {
			self_usage(&r->threads0, &r->rss0_kb);
			dec0 = decoded_total(p);
			ts0 = t;
			sampled = 1;
		}
		if (a->loop && t >= a->seconds) {
			self_usage(&r->threads1, &r->rss1_kb);
			r->steady_fps = (double)(decoded_total(p) - dec0) / (t - ts0);
			pipe_pipeline_stop(p);
			break;
		}
		usleep(20000);
	}
	while (!pipe_pipeline_finished(p))
		usleep(5000);
	r->secs = now_s() - t0;
	collect(p, r);
	r->fps = r->processed / r->secs;
	rc = 0;
out:
	pipe_pipeline_free(&p);
	pipe_config_free(&cfg);
	unlink(path);
	char out[4096];
	snprintf(out, sizeof(out), "%s/out.jsonl", a->dir);
	unlink(out);
	return rc;
}

/* Doubles N until a run drops frames (or max_n); returns the largest N without drops. */
static int sweep(run_args *a, int max_n)
{
	printf("\ninterval %d (detection on 1 frame in %d):\n\n", a->interval, a->interval);
	printf("| streams | frames/s (processed) | decoded | dropped | p99 decode->publish ms |\n");
	printf("| ---: | ---: | ---: | ---: | ---: |\n");
	int best = 0;
	for (int n = 1; n <= max_n; n *= 2) {
		run_result r;
		a->n = n;
		if (run(a, &r) < 0) {
			printf("| %d | failed | | | |\n", n);
			return -1;
		}
		printf("| %d | %.1f | %lld | %lld | %.1f |\n", n, r.fps, r.decoded, r.dropped, r.p99_ms);
		fflush(stdout);
		if (r.dropped > 0)
			break;
		best = n;
	}
	printf("\nstreams sustained in real time without drops (interval %d): %d\n", a->interval, best);
	return best;
}

static int scale(run_args *a)
{
	run_result one, r64;
	a->model = 0;
	a->loop = 1;
	a->seconds = 16;
	printf("\nScale: 720p25 realtime sources without a model, looped for %.0f s; threads and RSS "
	       "at %.0f s and at the end.\n\n", a->seconds, a->seconds / 2);
	printf("| streams | interval | threads early | threads end | RSS early MiB | RSS end MiB | "
	       "decoded frames/s | start s | run s |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	int ns[] = { 1, 64, 64 }, iv[] = { 1, 1, 5 };
	for (int k = 0; k < 3; k++) {
		run_result r;
		a->n = ns[k];
		a->interval = iv[k];
		if (run(a, &r) < 0)
			return -1;
		printf("| %d | %d | %ld | %ld | %.1f | %.1f | %.1f | %.1f | %.1f |\n", a->n,
		       a->interval, r.threads0, r.threads1, r.rss0_kb / 1024.0, r.rss1_kb / 1024.0,
		       r.steady_fps, r.start_secs, r.secs);
		fflush(stdout);
		if (k == 0)
			one = r;
		else if (k == 1)
			r64 = r;
	}
	printf("\nper-stream memory cost (RSS64 - RSS1) / 63: %.1f MiB\n",
	       (r64.rss1_kb - one.rss1_kb) / 63.0 / 1024.0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SHARED_DIR [max_streams]\n", argv[0]);
		return 2;
	}
	int max_n = argc > 2 ? atoi(argv[2]) : 16;
	vp_log_set_level(VP_LOG_WARN);
	char dir[] = "/tmp/vapd-bench-live-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char clip[4096], cmd[12288];
	snprintf(clip, sizeof(clip), "%s/highway-720p25.mp4", dir);
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -v error -y -i '%s/data/videos/highway-540p.mp4' -t 6 "
	         "-vf scale=1280:720,fps=25 -c:v libx264 -preset veryfast -pix_fmt yuv420p -an '%s'",
	         argv[1], clip);
	int rc = 1;
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_live: ffmpeg could not make %s\n", clip);
		goto out;
	}
	printf("Realtime 1280x720 25 fps sources (6 s clip each, drop_oldest queues of 8), "
	       "YOLOX-Nano on the CPU backend, batch max_size 8.\n");
	run_args a = { .shared = argv[1], .clip = clip, .dir = dir, .model = 1, .interval = 1 };
	rc = sweep(&a, max_n) < 0;
	a.interval = 5;
	rc |= sweep(&a, max_n) < 0;
	rc |= scale(&a) < 0;
out:
	unlink(clip);
	rmdir(dir);
	return rc;
}
