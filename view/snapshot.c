/* Snapshots: the engine thread names an event's files and queues a job (a frame
 * reference and a fixed-size scene copy from a pool of SNAP_JOBS: no allocation; a full
 * pool drops the event, counted); one writer thread renders the crop (from the plain
 * picture, at source resolution) and the annotated frame, writes them and prunes. For
 * track_end the pictures come from the track's best detection, rendered when it became
 * the best (view_snaps_best) and kept in memory until the track ends. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "render.h"
#include "snap_files.h"

enum { SNAP_JOBS = VIEW_SNAP_JOBS, SNAP_MAX_BEST = 1024 };
enum { JOB_EVENT = 0, JOB_BEST };

typedef struct snap_job {
	int kind;
	vp_frame *frame;
	view_scene_copy scene;
	an_event ev;                  /* ev.name points into name */
	char name[64];
	float box[4];                 /* what the crop shows */
	char frame_rel[VIEW_SNAP_NAME_MAX], crop_rel[VIEW_SNAP_NAME_MAX];  /* "": not wanted */
} snap_job;

/* A track's best pictures, kept for its track_end (writer thread only). */
typedef struct snap_best {
	char stream[VIEW_STREAM_MAX];
	int64_t track_id;
	uint64_t used;                /* for evicting the stalest when the table is full */
	view_jpeg *frame, *crop;
} snap_best;

struct view_snaps {
	const pipe_snapshot_cfg *cfg;
	int quality;
	snap_job jobs[SNAP_JOBS];
	pthread_mutex_t lock;         /* the two lists below, stop */
	pthread_cond_t work;
	pthread_cond_t freed;        /* a job went back to the pool (waiting callers) */
	int free_ids[SNAP_JOBS], n_free;
	int queue[SNAP_JOBS], q_head, q_len;
	int stop;
	pthread_t thread;
	atomic_llong written, dropped, failed, pruned;
	/* writer thread only */
	view_canvas *canvas;
	int canvas_w, canvas_h;
	view_jpeg_enc *enc_frame, *enc_crop;
	snap_best *best;
	int n_best;
	uint64_t tick;
};

/* ---- the writer thread ---- */

/* The canvas, (re)made when a frame is larger than it. */
static int canvas_for(view_snaps *s, const vp_frame *f)
{
	if (s->canvas && f->width <= s->canvas_w && f->height <= s->canvas_h)
		return 0;
	view_canvas_free(&s->canvas);
	int r = view_canvas_new(f->width, f->height, &s->canvas);
	s->canvas_w = r < 0 ? 0 : f->width;
	s->canvas_h = r < 0 ? 0 : f->height;
	return r;
}

/* The box with a 10% margin on each side, in source pixels. */
static view_rect crop_rect(const float b[4])
{
	float mw = (b[2] - b[0]) * 0.1f, mh = (b[3] - b[1]) * 0.1f;
	int x0 = (int)(b[0] - mw), y0 = (int)(b[1] - mh), x1 = (int)(b[2] + mw + 0.5f), y1 = (int)(b[3] + mh + 0.5f);
	return (view_rect){ x0, y0, x1 - x0, y1 - y0 };
}

/* The job's crop (plain) and annotated frame, as it wants them; drops the frame. */
static int render(view_snaps *s, snap_job *j, view_jpeg **ret_frame, view_jpeg **ret_crop)
{
	const vp_frame *f = j->frame;
	int r = canvas_for(s, f);
	/* Zone and line events carry no box: the crop is the track's box in this frame; a track
	 * not among the frame's published detections has no crop, the frame is still written. */
	bool has_box = j->box[2] > j->box[0] && j->box[3] > j->box[1];
	if (r >= 0 && s->cfg->crop && has_box) {
		view_rect c = crop_rect(j->box);
		if ((r = view_canvas_from_frame(s->canvas, f, &c, 0)) >= 0)
			r = view_jpeg_encode(s->enc_crop, s->canvas, NULL, ret_crop);
	}
	if (r >= 0 && s->cfg->frame) {
		int w = s->cfg->width > 0 && s->cfg->width < f->width ? s->cfg->width : f->width;
		if ((r = view_canvas_from_frame(s->canvas, f, NULL, w)) >= 0 &&
		    (r = view_overlay_draw(s->canvas, &j->scene.sc)) >= 0)
			r = view_jpeg_encode(s->enc_frame, s->canvas, NULL, ret_frame);
	}
	vp_frame_unref(&j->frame);
	if (r < 0) {
		view_jpeg_unref(ret_frame);
		view_jpeg_unref(ret_crop);
	}
	return r;
}

static snap_best *best_find(view_snaps *s, const char *stream, int64_t track_id)
{
	for (int i = 0; i < s->n_best; i++)
		if (s->best[i].track_id == track_id && strcmp(s->best[i].stream, stream) == 0)
			return &s->best[i];
	return NULL;
}

static void best_clear(snap_best *b)
{
	view_jpeg_unref(&b->frame);
	view_jpeg_unref(&b->crop);
}

static void best_remove(view_snaps *s, snap_best *b)
{
	best_clear(b);
	*b = s->best[--s->n_best];
}

/* The entry of (stream, track): found, new, or the stalest one reused. */
static snap_best *best_slot(view_snaps *s, const char *stream, int64_t track_id)
{
	snap_best *b = best_find(s, stream, track_id);
	if (b)
		return b;
	if (s->n_best < SNAP_MAX_BEST) {
		b = &s->best[s->n_best++];
	} else {
		b = &s->best[0];
		for (int i = 1; i < s->n_best; i++)
			b = s->best[i].used < b->used ? &s->best[i] : b;
		best_clear(b);
	}
	memset(b, 0, sizeof(*b));
	snprintf(b->stream, sizeof(b->stream), "%s", stream);
	b->track_id = track_id;
	return b;
}

static void write_one(view_snaps *s, const char *rel, view_jpeg *jp)
{
	if (!rel[0] || !jp)
		return;
	int r = snap_write(s->cfg->dir, rel, jp->data, jp->len);
	if (r < 0) {
		atomic_fetch_add(&s->failed, 1);
		vp_warn("snapshot", NULL, "cannot write %s/%s: %s", s->cfg->dir, rel, vp_strerror(r));
		return;
	}
	/* Pruned before it is counted written: once a file counts, its folder is within keep
	 * and keep_days (what a reader of the counters, the tests among them, may rely on). */
	r = snap_prune(s->cfg->dir, rel, s->cfg->keep, s->cfg->keep_days);
	if (r > 0)
		atomic_fetch_add(&s->pruned, r);
	atomic_fetch_add(&s->written, 1);
}

static void run_best(view_snaps *s, snap_job *j)
{
	view_jpeg *fr = NULL, *cr = NULL;
	if (render(s, j, &fr, &cr) < 0) {
		atomic_fetch_add(&s->failed, 1);
		return;
	}
	snap_best *b = best_slot(s, j->scene.stream, j->ev.track_id);
	best_clear(b);
	b->frame = fr;
	b->crop = cr;
	b->used = ++s->tick;
}

/* track_end writes the track's best pictures; without them (never offered, or dropped)
 * the ending frame and the event's box stand in. Other events render their frame. */
static void run_event(view_snaps *s, snap_job *j)
{
	view_jpeg *fr = NULL, *cr = NULL;
	snap_best *b = j->ev.kind == AN_EV_TRACK_END ? best_find(s, j->scene.stream, j->ev.track_id) : NULL;
	if (b) {
		fr = b->frame;
		cr = b->crop;
		b->frame = b->crop = NULL;
		best_remove(s, b);
		vp_frame_unref(&j->frame);
	} else if (!j->frame || render(s, j, &fr, &cr) < 0) {
		/* No frame: a track_end at the stream's end whose best was never kept. */
		atomic_fetch_add(&s->failed, 1);
		return;
	}
	write_one(s, j->frame_rel, fr);
	write_one(s, j->crop_rel, cr);
	view_jpeg_unref(&fr);
	view_jpeg_unref(&cr);
}

static void *writer_main(void *arg)
{
	view_snaps *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->q_len == 0 && !s->stop)
			pthread_cond_wait(&s->work, &s->lock);
		if (s->q_len == 0)
			break;  /* stopping, and everything queued is written */
		int id = s->queue[s->q_head];
		s->q_head = (s->q_head + 1) % SNAP_JOBS;
		s->q_len--;
		pthread_mutex_unlock(&s->lock);
		snap_job *j = &s->jobs[id];
		if (j->kind == JOB_BEST)
			run_best(s, j);
		else
			run_event(s, j);
		pthread_mutex_lock(&s->lock);
		s->free_ids[s->n_free++] = id;
		pthread_cond_signal(&s->freed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- the engine thread ---- */

/* A free job, or NULL when all SNAP_JOBS are queued or being written and the caller does
 * not wait (a live source: the pipeline must not slow down for pictures). */
static snap_job *job_take(view_snaps *s, bool wait)
{
	pthread_mutex_lock(&s->lock);
	while (wait && s->n_free == 0 && !s->stop)
		pthread_cond_wait(&s->freed, &s->lock);
	snap_job *j = s->n_free > 0 && !s->stop ? &s->jobs[s->free_ids[--s->n_free]] : NULL;
	pthread_mutex_unlock(&s->lock);
	return j;
}

static void job_queue(view_snaps *s, snap_job *j)
{
	pthread_mutex_lock(&s->lock);
	s->queue[(s->q_head + s->q_len++) % SNAP_JOBS] = (int)(j - s->jobs);
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
}

static void job_fill(snap_job *j, int kind, vp_frame *f, const view_scene *sc, const an_event *ev)
{
	j->kind = kind;
	j->frame = f ? vp_frame_ref(f) : NULL;
	view_scene_copy_set(&j->scene, sc);
	if (!sc->stream && f && f->stream_id)  /* the files' folder is named after the stream */
		snprintf(j->scene.stream, sizeof(j->scene.stream), "%s", f->stream_id);
	j->ev = *ev;
	snprintf(j->name, sizeof(j->name), "%s", ev->name ? ev->name : "");
	j->ev.name = j->name;
	memcpy(j->box, ev->bbox, sizeof(j->box));
	for (int i = 0; j->box[2] <= j->box[0] && sc->track_ids && i < sc->n_dets; i++)
		if (sc->track_ids[i] == ev->track_id)
			memcpy(j->box, sc->dets[i].bbox, sizeof(j->box));
	j->frame_rel[0] = j->crop_rel[0] = '\0';
}

void view_snaps_events(view_snaps *s, vp_frame *f, const view_scene *sc, const an_event *evs, int n,
                       bool wait, char (*names)[VIEW_SNAP_NAME_MAX])
{
	for (int i = 0; i < n; i++) {
		names[i][0] = '\0';
		if (!(s->cfg->events & (1u << evs[i].kind)) || (!s->cfg->frame && !s->cfg->crop))
			continue;
		/* Without a frame (the stream ended) only a track's kept best can be written. */
		if (!f && evs[i].kind != AN_EV_TRACK_END)
			continue;
		snap_job *j = job_take(s, wait);
		if (!j) {
			atomic_fetch_add(&s->dropped, 1);
			continue;
		}
		job_fill(j, JOB_EVENT, f, sc, &evs[i]);
		if (s->cfg->frame)
			snap_name(j->frame_rel, j->scene.stream, &j->ev, "");
		if (s->cfg->crop)
			snap_name(j->crop_rel, j->scene.stream, &j->ev, "-crop");
		memcpy(names[i], s->cfg->frame ? j->frame_rel : j->crop_rel, VIEW_SNAP_NAME_MAX);
		job_queue(s, j);
	}
}

void view_snaps_best(view_snaps *s, vp_frame *f, const view_scene *sc, int64_t track_id,
                     const vp_det *det, bool wait)
{
	if (!(s->cfg->events & (1u << AN_EV_TRACK_END)) || (!s->cfg->frame && !s->cfg->crop) || !det)
		return;
	snap_job *j = job_take(s, wait);
	if (!j)
		return;  /* the track_end falls back on its own frame */
	an_event ev = { .kind = AN_EV_TRACK_END, .track_id = track_id, .frame = f->index, .pts = f->pts,
	                .wall_us = f->wall_us, .class_id = det->class_id, .score = det->score };
	memcpy(ev.bbox, det->bbox, sizeof(ev.bbox));
	job_fill(j, JOB_BEST, f, sc, &ev);
	job_queue(s, j);
}

void view_snaps_get_stats(view_snaps *s, view_snaps_stats *ret)
{
	ret->written = atomic_load(&s->written);
	ret->dropped = atomic_load(&s->dropped);
	ret->failed = atomic_load(&s->failed);
	ret->pruned = atomic_load(&s->pruned);
}

/* ---- life ---- */

static void snaps_destroy(view_snaps *s)
{
	for (int i = 0; i < SNAP_JOBS; i++) {
		vp_frame_unref(&s->jobs[i].frame);
		view_scene_copy_destroy(&s->jobs[i].scene);
	}
	for (int i = 0; i < s->n_best; i++)
		best_clear(&s->best[i]);
	free(s->best);
	view_canvas_free(&s->canvas);
	view_jpeg_enc_free(&s->enc_frame);
	view_jpeg_enc_free(&s->enc_crop);
	free(s);
}

static int snaps_alloc(view_snaps *s, int max_dets)
{
	int r;
	for (int i = 0; i < SNAP_JOBS; i++) {
		if ((r = view_scene_copy_init(&s->jobs[i].scene, max_dets)) < 0)
			return r;
		s->free_ids[s->n_free++] = i;
	}
	s->best = calloc(SNAP_MAX_BEST, sizeof(*s->best));
	if (!s->best)
		return -ENOMEM;
	if ((r = view_jpeg_enc_new(s->quality, &s->enc_frame)) < 0 ||
	    (r = view_jpeg_enc_new(s->quality, &s->enc_crop)) < 0)
		return r;
	return 0;
}

int view_snaps_new(const pipe_snapshot_cfg *cfg, int quality, int max_dets, view_snaps **ret)
{
	if (!cfg || !cfg->dir || !cfg->dir[0] || max_dets < 0)
		return -EINVAL;
	int r = snap_mkdirs(cfg->dir);
	if (r < 0) {
		vp_err("snapshot", NULL, "cannot create %s: %s", cfg->dir, vp_strerror(r));
		return r;
	}
	view_snaps *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->quality = quality;
	if ((r = snaps_alloc(s, max_dets)) < 0)
		goto fail;
	if ((r = -pthread_mutex_init(&s->lock, NULL)) < 0)
		goto fail;
	if ((r = -pthread_cond_init(&s->work, NULL)) < 0)
		goto fail_lock;
	if ((r = -pthread_cond_init(&s->freed, NULL)) < 0) {
		pthread_cond_destroy(&s->work);
		goto fail_lock;
	}
	if ((r = -pthread_create(&s->thread, NULL, writer_main, s)) < 0) {
		vp_err("snapshot", NULL, "cannot start the writer thread: %s", vp_strerror(r));
		goto fail_cond;
	}
	*ret = s;
	return 0;
fail_cond:
	pthread_cond_destroy(&s->freed);
	pthread_cond_destroy(&s->work);
fail_lock:
	pthread_mutex_destroy(&s->lock);
fail:
	snaps_destroy(s);
	return r;
}

void view_snaps_free(view_snaps **ps)
{
	view_snaps *s = *ps;
	if (!s)
		return;
	*ps = NULL;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->work);
	pthread_cond_broadcast(&s->freed);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->freed);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	snaps_destroy(s);
}
