/* Software decode throughput of every clip in a folder, as markdown table rows:
 *   | clip | codec | WxH | frames | fps |
 * Usage: bench_decode VIDEOS_DIR. Frames are released as soon as they come out, so the
 * number is the decoder's speed (open + demux + decode), not the pipeline's. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode/source.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The codec name as ffprobe prints it (what the stream is, not how we decode it). */
static void codec_name(const char *path, char *out, size_t n)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams v:0 -show_entries "
	         "stream=codec_name -of csv=p=0 '%s' 2>/dev/null", path);
	snprintf(out, n, "?");
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(out, (int)n, p))
		out[strcspn(out, "\r\n")] = '\0';
	pclose(p);
}

/* One full decode of the clip; *w, *h and *frames from what came out. */
static int decode_once(const pipe_source_cfg *cfg, int *w, int *h, int64_t *frames)
{
	dec_stream *s = NULL;
	int r = dec_stream_open(cfg, 0, 8, &s);
	if (r < 0)
		return r;
	vp_frame *f = NULL;
	while ((r = dec_stream_read(s, &f)) == 0) {
		*w = f->width;
		*h = f->height;
		vp_frame_unref(&f);
	}
	dec_stats st;
	dec_stream_get_stats(s, &st);
	dec_stream_free(&s);
	*frames = st.frames;
	return r == VP_EOF ? 0 : r;
}

/* Short clips are decoded again until MIN_SECONDS passed, so open costs and timer
 * noise do not dominate. */
#define MIN_SECONDS 0.5

static int bench_clip(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	pipe_source_cfg cfg = {
		.id = (char *)name, .uri = path, .decoder = PIPE_DEC_SOFTWARE, .interval = 1,
		.reconnect_initial_ms = 500, .reconnect_max_ms = 30000, .rtsp_timeout_ms = 5000,
		.is_file = true,
	};
	int w = 0, h = 0;
	int64_t frames = 0, total = 0;
	double t0 = now_s(), dt;
	do {
		int r = decode_once(&cfg, &w, &h, &frames);
		if (r < 0)
			return r;
		total += frames;
		dt = now_s() - t0;
	} while (dt < MIN_SECONDS);
	char codec[64];
	codec_name(path, codec, sizeof(codec));
	printf("| %s | %s | %dx%d | %lld | %.1f |\n", name, codec, w, h, (long long)frames,
	       (double)total / dt);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s VIDEOS_DIR\n", argv[0]);
		return 2;
	}
	vp_log_set_level(VP_LOG_WARN);
	DIR *d = opendir(argv[1]);
	if (!d) {
		fprintf(stderr, "bench_decode: cannot open %s\n", argv[1]);
		return 1;
	}
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256) {
		const char *ext = strrchr(e->d_name, '.');
		if (e->d_name[0] != '.' && ext && strcmp(ext, ".md") != 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		int r = bench_clip(argv[1], names[i]);
		if (r < 0) {
			fprintf(stderr, "bench_decode: %s: %s\n", names[i], vp_strerror(r));
			failed = 1;
		}
		free(names[i]);
	}
	return failed;
}
