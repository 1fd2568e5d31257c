/* Helpers of test_view_record.c: segment files listed oldest first and read back with
 * ffprobe/ffmpeg, files of a given size, the clock, synthetic frames (one grey picture
 * shared by a pool), feeding a recorder (a clip at its rate, or frame by frame once each is
 * through) and checking what it wrote against the cut rule. Include after <cmocka.h>;
 * STREAM names the recorded stream. */
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
#include "test_view_util.h"
#include "test_wait.h"
#include "view/view.h"

#define MAX_SEGS 64
#define MAX_FRAMES 1024
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

/* The recorder's cut rule (record_seg.c segment_due) applied to the pts it took: how many
 * frames each segment holds. */
static inline int expected_counts(const double *pts, int n, int segment_s, int *counts)
{
	int k = -1;
	double t0 = 0;
	for (int i = 0; i < n; i++) {
		int in = k >= 0 && pts[i] >= t0;
		if (!(in && pts[i] < t0 + segment_s - 1e-6)) {
			t0 = in && pts[i] < t0 + 2 * segment_s - 1e-6 ? t0 + segment_s : pts[i];
			counts[++k] = 0;
		}
		counts[k]++;
	}
	return k + 1;
}

static inline view_scene scene_with_box(const vp_frame *f, vp_det *d, int64_t *id)
{
	*d = (vp_det){ .class_id = 0, .score = 0.9f,
	               .bbox = { f->width * 0.15f, f->height * 0.25f, f->width * 0.6f, f->height * 0.8f } };
	*id = 7;
	return (view_scene){ .stream = STREAM, .frame = f->index, .pts = f->pts, .wall_us = f->wall_us,
	                     .dets = d, .track_ids = id, .n_dets = 1, .active_tracks = 1 };
}

typedef struct settled_arg {
	view_rec *r;
	int64_t offered;
} settled_arg;

/* Every offered frame written, dropped or failed: libx264 with zerolatency has no delay. */
static inline int settled(void *p)
{
	settled_arg *a = p;
	view_rec_stats s;
	view_rec_get_stats(a->r, &s);
	return s.frames + s.dropped >= a->offered;
}

/* What a feed did: the pts of each frame the recorder took (not dropped at the offer). */
typedef struct fed {
	int offered, taken;
	double pts[MAX_FRAMES];
} fed;

/* Decodes the clip and offers every frame (at most max) at the clip's rate (pts against
 * the clock), or, settle: each once the last one is through. */
static inline void feed_clip(view_rec *r, const char *clip, int max, int settle, fed *out)
{
	settled_arg sa = { r, 0 };
	tv_clip c;
	tv_clip_open(&c, clip, VIEW_REC_QUEUE + 4);   /* the recorder may hold a full queue */
	vp_frame *f = NULL;
	int64_t t0 = now_ns();
	double pts0 = -1;
	memset(out, 0, sizeof(*out));
	while (out->offered < max && dec_stream_read(c.s, &f) == 0) {
		if (pts0 < 0)
			pts0 = f->pts;
		if (!settle)
			sleep_until_ns(t0 + (int64_t)((f->pts - pts0) * 1e9));
		vp_det d;
		int64_t id;
		view_scene sc = scene_with_box(f, &d, &id);
		view_rec_stats a, b;
		view_rec_get_stats(r, &a);
		view_rec_offer(r, f, &sc, false);
		view_rec_get_stats(r, &b);
		if (b.dropped == a.dropped && out->taken < MAX_FRAMES)
			out->pts[out->taken++] = f->pts;
		out->offered++;
		vp_frame_unref(&f);
		sa.offered = out->offered;
		assert_true(!settle || tw_wait(settled, &sa, TW_DEADLINE_MS));
	}
	tv_clip_close(&c);
}

/* Offers n synthetic frames one at a time, each once the last one is through. */
static inline void feed_synth_settled(view_rec *r, synth *s, int n, settled_arg *sa)
{
	for (int i = 0; i < n; i++) {
		vp_frame *f = synth_frame(s);
		vp_det d;
		int64_t id;
		view_scene sc = scene_with_box(f, &d, &id);
		view_rec_offer(r, f, &sc, false);
		vp_frame_unref(&f);
		sa->offered++;
		assert_true(tw_wait(settled, sa, TW_DEADLINE_MS));
	}
}

static inline void check_segments(const char *dir, const fed *fd, int segment_s, int w, int h,
                           const view_rec_stats *st)
{
	int want[MAX_SEGS];
	int n_want = expected_counts(fd->pts, fd->taken, segment_s, want);
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, n_want);
	assert_int_equal(st->segments, n_want);
	int sum = 0;
	for (int i = 0; i < l.n; i++) {
		probe p = ffprobe_file(l.path[i]);
		assert_int_equal(p.rc, 0);
		assert_string_equal(p.codec, "h264");
		assert_int_equal(p.w, w);
		assert_int_equal(p.h, h);
		assert_int_equal(p.frames, want[i]);
		assert_true(starts_with_keyframe(l.path[i]));
		sum += p.frames;
	}
	assert_int_equal(sum, st->frames);
	assert_int_equal(st->frames, fd->offered - st->dropped);
}

/* Waits until everything offered is written or dropped, then takes the stats and stops
 * the recorder (which finishes the last segment). */
static inline void settle_and_free(view_rec **r, int offered, view_rec_stats *st)
{
	settled_arg sa = { *r, offered };
	assert_true(tw_wait(settled, &sa, TW_DEADLINE_MS));
	view_rec_get_stats(*r, st);
	view_rec_free(r);
	assert_null(*r);
}

#endif
