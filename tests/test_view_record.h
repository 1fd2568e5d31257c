/* Helpers of test_view_record.c: segment files listed oldest first and read back with
 * ffprobe/ffmpeg, files of a given size, the clock, and synthetic frames (one grey picture
 * shared by a pool). Include after <cmocka.h>; STREAM names the recorded stream. */
#ifndef TESTS_TEST_VIEW_RECORD_H
#define TESTS_TEST_VIEW_RECORD_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/vp_frame.h"

#define MAX_SEGS 64
#ifndef STREAM
#define STREAM "cam1"
#endif

typedef struct seg_list {
	int n;
	char path[MAX_SEGS][700];
} seg_list;

/* Oldest first, as the recorder prunes: by name without ".mp4". */
static inline int cmp_seg(const void *a, const void *b)
{
	const char *x = a, *y = b;
	size_t lx = strlen(x) - 4, ly = strlen(y) - 4;
	int c = strncmp(x, y, lx < ly ? lx : ly);
	return c ? c : (lx > ly) - (lx < ly);
}

static inline void list_segs(const char *dir, seg_list *l)
{
	char names[MAX_SEGS][256];
	l->n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, STREAM "-2", 6) != 0 || n < 10 || strcmp(e->d_name + n - 4, ".mp4"))
			continue;
		assert_true(l->n < MAX_SEGS);
		snprintf(names[l->n++], sizeof(names[0]), "%s", e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)l->n, sizeof(names[0]), cmp_seg);
	for (int i = 0; i < l->n; i++)
		snprintf(l->path[i], sizeof(l->path[i]), "%s/%.255s", dir, names[i]);
}

typedef struct probe {
	int rc;
	char codec[32];
	int w, h, frames;
} probe;

/* ffprobe -count_frames: the frames a player decodes from the file. */
static inline probe ffprobe_file(const char *path)
{
	probe p = { .rc = -1 };
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "ffprobe -v error -count_frames -select_streams v:0 "
	         "-show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 '%s' 2>/dev/null",
	         path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char line[256] = "";
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31[^,],%d,%d,%d", p.codec, &p.w, &p.h, &p.frames) == 4)
			break;
	while (fgets(line, sizeof(line), f))
		;
	p.rc = pclose(f);
	return p;
}

/* A file that starts playing at its first picture begins with a keyframe. */
static inline int starts_with_keyframe(const char *path)
{
	char cmd[1024], line[64] = "";
	snprintf(cmd, sizeof(cmd),
	         "ffprobe -v error -select_streams v:0 -read_intervals %%+#1 -show_entries packet=flags "
	         "-of csv=p=0 '%s' 2>/dev/null", path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	int key = fgets(line, sizeof(line), f) && line[0] == 'K';
	while (fgets(line, sizeof(line), f))
		;
	assert_int_equal(pclose(f), 0);
	return key;
}

static inline void make_file(const char *path, int64_t size)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), size), 0);
	fclose(f);
}

static inline void sleep_until_ns(int64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- synthetic frames: one grey picture shared by a pool of frames ---- */

typedef struct synth {
	vp_frame_pool *pool;
	uint8_t *px;
	int w, h;
	int64_t next;
} synth;

static inline void synth_open(synth *s, int w, int h, int n)
{
	memset(s, 0, sizeof(*s));
	s->w = w;
	s->h = h;
	s->px = malloc((size_t)w * h * 3 / 2);
	assert_non_null(s->px);
	memset(s->px, 128, (size_t)w * h);
	memset(s->px + (size_t)w * h, 128, (size_t)w * h / 2);
	assert_int_equal(vp_frame_pool_new(n, NULL, NULL, NULL, &s->pool), 0);
	for (int i = 0; i < n; i++) {
		vp_frame *f = vp_frame_pool_slot(s->pool, i);
		f->width = w;
		f->height = h;
		f->fmt = VP_PIX_YUV420P;
		f->mem = VP_MEM_HOST;
		f->stream_id = STREAM;
		f->frame_dur = 0.04;
		f->data[0] = s->px;
		f->data[1] = s->px + (size_t)w * h;
		f->data[2] = s->px + (size_t)w * h * 5 / 4;
		f->linesize[0] = w;
		f->linesize[1] = f->linesize[2] = w / 2;
	}
}

/* The next frame, 25 per second of pts. */
static inline vp_frame *synth_frame(synth *s)
{
	vp_frame *f = vp_frame_pool_get(s->pool);
	assert_non_null(f);
	f->index = s->next;
	f->pts = (double)s->next++ * 0.04;
	f->wall_us = 1764950400000000LL + (int64_t)(f->pts * 1e6);
	return f;
}

static inline void synth_close(synth *s)
{
	vp_frame_pool_free(&s->pool);
	free(s->px);
}

/* The first picture of a segment, decoded by ffmpeg into RGB24. */
static inline void first_picture(const char *path, int w, int h, uint8_t *rgb)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "ffmpeg -v error -i '%s' -frames:v 1 -f rawvideo -pix_fmt rgb24 -", path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fread(rgb, 1, (size_t)w * h * 3, f), (size_t)w * h * 3);
	assert_int_equal(pclose(f), 0);
}

static inline int file_has(const char *path, const char *needle)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "grep -q -a '%s' '%s'", needle, path);
	return system(cmd) == 0;
}

#endif
