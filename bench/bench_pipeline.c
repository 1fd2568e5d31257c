/* End-to-end offline frames/s on the CPU backend for each shared clip and model, with
 * the time split by stage (ms per frame). Usage: bench_pipeline SHARED_DIR [clip...] */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/config.h"
#include "pipeline/pipeline.h"
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

static int write_config(const char *path, const char *shared, const char *clip, int m)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f,
	        "sources:\n  - id: bench\n    uri: %s/data/videos/%s\n"
	        "model:\n  path: %s/models/%s\n  family: %s\n  labels: %s/models/coco.names\n"
	        "  backend: cpu\n  batch: { max_size: 8, timeout_ms: 20 }\n"
	        "sinks:\n  - type: file\n    path: /dev/null\n",
	        shared, clip, shared, models[m].file, models[m].family, shared);
	return fclose(f);
}

static int run_one(const char *shared, const char *clip, int m)
{
	char path[] = "/tmp/vapd-bench-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	if (fd < 0)
		return -1;
	close(fd);
	pipe_config *cfg = NULL;
	pipe_pipeline *p = NULL;
	int rc = -1;
	if (write_config(path, shared, clip, m) < 0 || pipe_config_load(path, stderr, &cfg) < 0)
		goto out;
	double t0 = now_s();
	if (pipe_pipeline_start(cfg, NULL, &p) < 0)
		goto out;
	while (!pipe_pipeline_finished(p))
		usleep(2000);
	double secs = now_s() - t0;
	pipe_stage_times t;
	pipe_pipeline_stage_times(p, &t);
	double n = t.frames > 0 ? (double)t.frames : 1.0;
	printf("| %s | %s | %lld | %.1f | %.2f | %.2f | %.2f | %.2f | %.3f |\n", clip,
	       models[m].file, (long long)t.frames, t.frames / secs, t.decode_ns / n / 1e6,
	       t.preprocess_ns / n / 1e6, t.inference_ns / n / 1e6, t.postprocess_ns / n / 1e6,
	       t.sink_ns / n / 1e6);
	fflush(stdout);
	rc = 0;
out:
	pipe_pipeline_free(&p);
	pipe_config_free(&cfg);
	unlink(path);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SHARED_DIR [clip...]\n", argv[0]);
		return 2;
	}
	vp_log_set_level(VP_LOG_WARN);
	char *clips[64];
	int n = 0;
	if (argc > 2) {
		for (int i = 2; i < argc && n < 64; i++)
			clips[n++] = argv[i];
	} else {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/data/videos", argv[1]);
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)) && n < 64)
			if (strstr(e->d_name, ".mp4") || strstr(e->d_name, ".mkv") || strstr(e->d_name, ".h264"))
				clips[n++] = strdup(e->d_name);
		if (d)
			closedir(d);
		qsort(clips, (size_t)n, sizeof(*clips), cmp_str);
	}
	printf("Wall-clock frames/s of a whole offline run (batch 8, all cores); per-stage ms per frame "
	       "(decode runs on its own thread, in parallel with the engine).\n\n");
	printf("| clip | model | frames | fps | decode | preprocess | inference | postprocess | sink |\n");
	printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	int rc = 0;
	for (int i = 0; i < n; i++)
		for (int m = 0; m < 2; m++)
			if (run_one(argv[1], clips[i], m) < 0) {
				printf("| %s | %s | failed | | | | | | |\n", clips[i], models[m].file);
				rc = 1;
			}
	return rc;
}
