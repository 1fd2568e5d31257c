/* End-to-end offline frames/s on the CPU backend for each shared clip and model, with
 * the time split by stage (ms per frame). Usage: bench_pipeline SHARED_DIR [clip...]
 *
 * --tracking [-n PAIRS]: YOLOX-Nano on each clip with no tracker and with the tracker's
 * defaults (tracker: {}, plus a counting line on the highway clips), alternating off and on
 * PAIRS times (default 3), with the tracking stage's own cost per frame beside them: the
 * clip's candidate detections (what the stage gets in the pipeline) are captured once with
 * the same detector, then an_stream_update is timed over them in a plain loop. Frames/s on
 * shared cores are noisy; the stage's µs per frame over the end-to-end ms per frame is the
 * robust share. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "decode/source.h"
#include "infer/detector.h"
#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

static const struct { const char *file, *family; } models[] = {
	{ "yolox_nano.onnx", "yolox" },
	{ "yolov8n.onnx", "yolov8" },
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A counting line per clip when tracking (source pixels): configs/counting.yaml's. */
static const struct { const char *clip, *points; } clip_lines[] = {
	{ "highway-540p.mp4", "[[120, 450], [120, 300]]" },
	{ "highway-160x90.mp4", "[[20, 75], [20, 50]]" },
};

/* tracking: no tracker (0) or the tracker's defaults (1). */
static int write_config(const char *path, const char *shared, const char *clip, int m, int tracking)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "sources:\n  - id: bench\n    uri: %s/data/videos/%s\n", shared, clip);
	for (size_t i = 0; tracking && i < sizeof(clip_lines) / sizeof(clip_lines[0]); i++)
		if (!strcmp(clip, clip_lines[i].clip))
			fprintf(f, "    lines:\n      - name: overtake\n        points: %s\n"
			        "        classes: [car, truck]\n", clip_lines[i].points);
	fprintf(f,
	        "model:\n  path: %s/models/%s\n  family: %s\n  labels: %s/models/coco.names\n"
	        "  backend: cpu\n  batch: { max_size: 8, timeout_ms: 20 }\n"
	        "%s"
	        "sinks:\n  - type: file\n    path: /dev/null\n",
	        shared, models[m].file, models[m].family, shared, tracking ? "tracker: {}\n" : "");
	return fclose(f);
}

/* Loads the config for clip, model m and tracking into *cfg. */
static int load_config(const char *shared, const char *clip, int m, int tracking, pipe_config **cfg)
{
	char path[] = "/tmp/vapd-bench-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	if (fd < 0)
		return -1;
	close(fd);
	int rc = write_config(path, shared, clip, m, tracking) < 0 ? -1 : pipe_config_load(path, stderr, cfg);
	unlink(path);
	return rc;
}

/* One whole offline run: frames/s from start to finished (model load included). */
static int run_pipeline(const pipe_config *cfg, double *fps, pipe_stage_times *t)
{
	pipe_pipeline *p = NULL;
	double t0 = now_s();
	int rc = pipe_pipeline_start(cfg, NULL, &p);
	if (rc == 0) {
		while (!pipe_pipeline_finished(p))
			usleep(2000);
		double secs = now_s() - t0;
		pipe_pipeline_stage_times(p, t);
		*fps = t->frames / secs;
	}
	if (pipe_pipeline_free(&p) != 0 && rc == 0)
		rc = -1;
	return rc < 0 ? -1 : 0;
}

static int run_one(const char *shared, const char *clip, int m)
{
	pipe_config *cfg = NULL;
	pipe_stage_times t;
	double fps;
	int rc = -1;
	if (load_config(shared, clip, m, 0, &cfg) < 0 || run_pipeline(cfg, &fps, &t) < 0)
		goto out;
	double n = t.frames > 0 ? (double)t.frames : 1.0;
	printf("| %s | %s | %lld | %.1f | %.2f | %.2f | %.2f | %.2f | %.3f |\n", clip,
	       models[m].file, (long long)t.frames, fps, t.decode_ns / n / 1e6,
	       t.preprocess_ns / n / 1e6, t.inference_ns / n / 1e6, t.postprocess_ns / n / 1e6,
	       t.sink_ns / n / 1e6);
	fflush(stdout);
	rc = 0;
out:
	pipe_config_free(&cfg);
	return rc;
}

/* ---- tracking on vs off ---- */

/* A clip's candidate detections, frame by frame, as the engine hands them to the stage. */
typedef struct capture {
	int n_frames, cap_frames;
	int64_t *index;
	double *pts, *dur;
	int *first, *count;       /* into dets */
	vp_det *dets;
	int n_dets, cap_dets;
	int num_classes;
} capture;

static void capture_free(capture *c)
{
	free(c->index);
	free(c->pts);
	free(c->dur);
	free(c->first);
	free(c->count);
	free(c->dets);
	memset(c, 0, sizeof(*c));
}

static int grow(void *pp, int n, size_t size)
{
	void *q = realloc(*(void **)pp, (size_t)n * size);
	if (!q)
		return -1;
	*(void **)pp = q;
	return 0;
}

static int capture_add(capture *c, const vp_frame *f, const vp_det *d, int n)
{
	if (c->n_frames == c->cap_frames) {
		int cap = c->cap_frames ? 2 * c->cap_frames : 256;
		if (grow(&c->index, cap, sizeof(*c->index)) || grow(&c->pts, cap, sizeof(*c->pts)) ||
		    grow(&c->dur, cap, sizeof(*c->dur)) || grow(&c->first, cap, sizeof(*c->first)) ||
		    grow(&c->count, cap, sizeof(*c->count)))
			return -1;
		c->cap_frames = cap;
	}
	if (c->n_dets + n > c->cap_dets) {
		int cap = c->cap_dets ? c->cap_dets : 4096;
		while (cap < c->n_dets + n)
			cap *= 2;
		if (grow(&c->dets, cap, sizeof(*c->dets)))
			return -1;
		c->cap_dets = cap;
	}
	int i = c->n_frames++;
	c->index[i] = f->index;
	c->pts[i] = f->pts;
	c->dur[i] = f->frame_dur;
	c->first[i] = c->n_dets;
	c->count[i] = n;
	memcpy(c->dets + c->n_dets, d, (size_t)n * sizeof(*d));
	c->n_dets += n;
	return 0;
}

/* Line classes by name become ids, as the pipeline resolves them at setup. */
static int resolve_lines(inf_detector *det, pipe_config *cfg)
{
	pipe_source_cfg *src = &cfg->sources[0];
	for (int i = 0; i < src->n_lines; i++)
		for (int k = 0; k < src->lines[i].n_classes; k++) {
			int id = inf_detector_resolve_class(det, &src->lines[i].classes[k], cfg->file,
			                                    "lines[].classes");
			if (id < 0)
				return -1;
			src->lines[i].classes[k].id = id;
		}
	return 0;
}

/* Decodes the clip and runs the detector of cfg (tracker on: the head keeps the candidates
 * down to low_threshold) in batches of the configured size. */
static int capture_run(pipe_config *cfg, capture *c)
{
	inf_detector *det = NULL;
	dec_stream *ds = NULL;
	vp_frame *frames[64] = { 0 };
	vp_det *dets = NULL;
	int counts[64], rc = -1, nb = 0;
	if (inf_detector_new(&cfg->model, cfg->file, &det) < 0 || resolve_lines(det, cfg) < 0)
		goto out;
	int batch = inf_detector_max_batch(det), per = inf_detector_max_dets(det);
	batch = batch < 64 ? batch : 64;
	c->num_classes = inf_detector_num_classes(det);
	if (!(dets = malloc((size_t)batch * (size_t)per * sizeof(*dets))) ||
	    dec_stream_open(&cfg->sources[0], 0, batch + 2, &ds) < 0)
		goto out;
	for (;;) {
		int r = 0;
		while (nb < batch && (r = dec_stream_read(ds, &frames[nb])) == 0)
			nb++;
		if (r < 0 && r != VP_EOF)
			goto out;
		if (nb == 0)
			break;
		if (inf_detector_run(det, frames, nb, dets, counts) < 0)
			goto out;
		for (int i = 0; i < nb; i++) {
			if (capture_add(c, frames[i], dets + (size_t)i * per, counts[i]) < 0)
				goto out;
			vp_frame_unref(&frames[i]);
		}
		nb = 0;
		if (r == VP_EOF)
			break;
	}
	rc = 0;
out:
	for (int i = 0; i < nb; i++)
		vp_frame_unref(&frames[i]);
	dec_stream_free(&ds);
	inf_detector_free(&det);
	free(dets);
	return rc;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef struct stage_cost { double mean_us, p99_us, tracks; } stage_cost;

/* an_stream_update over the captured frames, PASSES times with a fresh stream each: the
 * median pass's mean, the p99 of every frame of every pass, the confirmed tracks per frame. */
#define PASSES 5
static int stage_time(const pipe_config *cfg, const capture *c, stage_cost *ret)
{
	int n = c->n_frames;
	double *t = malloc((size_t)n * PASSES * sizeof(*t)), means[PASSES], tracks = 0;
	if (!t || n == 0) {
		free(t);
		return -1;
	}
	int rc = 0;
	for (int p = 0; p < PASSES && rc == 0; p++) {
		an_stream *s = NULL;
		int64_t next_id = 0;
		if ((rc = an_stream_new(&cfg->tracker, &cfg->sources[0], c->num_classes, &next_id, &s)) < 0)
			break;
		double sum = 0;
		for (int i = 0; i < n && rc == 0; i++) {
			an_result r;
			double t0 = now_s();
			rc = an_stream_update(s, c->index[i], c->pts[i], c->dur[i], 0, c->dets + c->first[i],
			                      c->count[i], &r);
			double dt = (now_s() - t0) * 1e6;
			t[(size_t)p * n + i] = dt;
			sum += dt;
			if (p == 0)
				tracks += an_stream_active_tracks(s);
		}
		means[p] = sum / n;
		an_result r;
		if (rc == 0)
			rc = an_stream_end(s, c->index[n - 1], c->pts[n - 1], 0, &r);
		an_stream_free(&s);
	}
	if (rc == 0) {
		qsort(means, PASSES, sizeof(double), cmp_dbl);
		qsort(t, (size_t)n * PASSES, sizeof(double), cmp_dbl);
		*ret = (stage_cost){ means[PASSES / 2], t[(size_t)(0.99 * (n * PASSES - 1))], tracks / n };
	}
	free(t);
	return rc < 0 ? -1 : 0;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Totals over the clips for the last row: frames, seconds off and on at the median fps,
 * stage µs summed over frames. */
typedef struct totals { double frames, secs_off, secs_on, stage_us; } totals;

#define MAX_PAIRS 16
static int tracking_clip(const char *shared, const char *clip, int pairs, totals *tot)
{
	pipe_config *off = NULL, *on = NULL, *cap_cfg = NULL;
	capture cap = { 0 };
	stage_cost sc = { 0 };
	double fps_off[MAX_PAIRS], fps_on[MAX_PAIRS], delta[MAX_PAIRS], lo = 1e9, hi = -1e9;
	pipe_stage_times t;
	int rc = -1;
	/* YOLOX-Nano is models[0]. */
	if (load_config(shared, clip, 0, 0, &off) < 0 || load_config(shared, clip, 0, 1, &on) < 0 ||
	    load_config(shared, clip, 0, 1, &cap_cfg) < 0)
		goto out;
	/* Alternate which of a pair runs first: a trend in the machine's load then hits both. */
	for (int k = 0; k < pairs; k++) {
		int on_first = k & 1;
		for (int j = 0; j < 2; j++) {
			int is_on = j ^ !on_first;
			if (run_pipeline(is_on ? on : off, is_on ? &fps_on[k] : &fps_off[k], &t) < 0)
				goto out;
		}
		delta[k] = 100 * (fps_on[k] / fps_off[k] - 1);
		lo = delta[k] < lo ? delta[k] : lo;
		hi = delta[k] > hi ? delta[k] : hi;
	}
	if (capture_run(cap_cfg, &cap) < 0 || stage_time(cap_cfg, &cap, &sc) < 0)
		goto out;
	double f_off = median(fps_off, pairs), f_on = median(fps_on, pairs), d = median(delta, pairs);
	double ms_off = 1e3 / f_off, n = cap.n_frames;
	printf("| %s | %d | %.2f | %.2f | %+.1f%% | %+.1f … %+.1f%% | %.1f | %.1f | %.1f | %.1f | %.2f | "
	       "%.3f%% |\n", clip, cap.n_frames, f_off, f_on, d, lo, hi, (double)cap.n_dets / n,
	       sc.tracks, sc.mean_us, sc.p99_us, ms_off, 100 * sc.mean_us / (ms_off * 1e3));
	fflush(stdout);
	tot->frames += n;
	tot->secs_off += n / f_off;
	tot->secs_on += n / f_on;
	tot->stage_us += sc.mean_us * n;
	rc = 0;
out:
	capture_free(&cap);
	pipe_config_free(&cap_cfg);
	pipe_config_free(&on);
	pipe_config_free(&off);
	return rc;
}

static int tracking_table(const char *shared, char **clips, int n, int pairs)
{
	printf("YOLOX-Nano, CPU backend, batch 8: tracking off (no tracker:) and on (tracker: {}, the "
	       "defaults; a counting line on the highway clips), %d off/on pairs per clip in alternating "
	       "order. fps: whole runs (model load included, as the table above), medians over the runs; Δ: median of the pairs' on/off - 1, then the range over "
	       "the pairs (the noise). Stage: an_stream_update alone on the clip's %d-pass replay of the "
	       "candidate detections (score >= low_threshold) the tracker gets; share: stage µs per frame "
	       "over the end-to-end ms per frame with tracking off. Target: tracking < 2%% of "
	       "end-to-end.\n\n", pairs, PASSES);
	printf("| clip | frames | fps off | fps on | Δ fps | Δ per pair | candidates/frame | tracks/frame "
	       "| stage µs/frame | stage p99 µs | ms/frame off | stage share |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	totals tot = { 0 };
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (strstr(clips[i], ".h264"))
			continue; /* the same frames as cars-432p.mp4 */
		if (tracking_clip(shared, clips[i], pairs, &tot) < 0) {
			printf("| %s | failed | | | | | | | | | | |\n", clips[i]);
			rc = 1;
		}
	}
	if (tot.frames > 0) {
		double f_off = tot.frames / tot.secs_off, f_on = tot.frames / tot.secs_on;
		double us = tot.stage_us / tot.frames, ms_off = 1e3 / f_off;
		printf("| all clips | %.0f | %.2f | %.2f | %+.1f%% | | | | %.1f | | %.1f | %.3f%% |\n",
		       tot.frames, f_off, f_on, 100 * (f_on / f_off - 1), us, ms_off,
		       100 * us / (ms_off * 1e3));
	}
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int tracking = 0, pairs = 3, a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "--tracking"))
			tracking = 1;
		else if (!strcmp(argv[a], "-n") && a + 1 < argc)
			pairs = atoi(argv[++a]);
		else
			break;
	}
	if (a >= argc || pairs < 1 || pairs > MAX_PAIRS) {
		fprintf(stderr, "usage: %s [--tracking [-n PAIRS]] SHARED_DIR [clip...]\n", argv[0]);
		return 2;
	}
	const char *shared = argv[a++];
	vp_log_set_level(VP_LOG_WARN);
	char *clips[64];
	int n = 0;
	if (a < argc) {
		for (int i = a; i < argc && n < 64; i++)
			clips[n++] = argv[i];
	} else {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/data/videos", shared);
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)) && n < 64)
			if (strstr(e->d_name, ".mp4") || strstr(e->d_name, ".mkv") || strstr(e->d_name, ".h264"))
				clips[n++] = strdup(e->d_name);
		if (d)
			closedir(d);
		qsort(clips, (size_t)n, sizeof(*clips), cmp_str);
	}
	if (tracking)
		return tracking_table(shared, clips, n, pairs);
	printf("Wall-clock frames/s of a whole offline run (batch 8, all cores); per-stage ms per frame "
	       "(decode runs on its own thread, in parallel with the engine).\n\n");
	printf("| clip | model | frames | fps | decode | preprocess | inference | postprocess | sink |\n");
	printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	int rc = 0;
	for (int i = 0; i < n; i++)
		for (int m = 0; m < 2; m++)
			if (run_one(shared, clips[i], m) < 0) {
				printf("| %s | %s | failed | | | | | | |\n", clips[i], models[m].file);
				rc = 1;
			}
	return rc;
}
