/* Per-source annotated recording: the engine thread offers every frame; the ones the
 * recording wants (record.fps) go through a bounded single-producer/single-consumer queue
 * to this recorder's encoder thread, which scales each into its canvas and draws the scene
 * (render.h, shared with live pictures and snapshots; device frames are scaled on the GPU
 * there), converts it to YUV420P and hands it to the segment writer (record_seg.c: H.264
 * in fragmented MP4 segments).
 *
 * The offer never blocks and never allocates: the queue's slots, with room for a scene's
 * detections, zones and lines, are made at start-up; the hand-off is two atomic indices and
 * a semaphore post. A full queue drops the frame and counts it.
 *
 * Errors (folder, encoder, disk full) are counted, logged once per episode, and the writer
 * is dropped; the next try is one segment_s of pts later, with a new segment. */
#include "view.h"
#include "record_priv.h"
#include "render.h"
#include "snap_files.h"
#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#define REC_EPS 1e-6        /* pts are doubles from integer timestamps */

typedef struct rec_entry {
	vp_frame *f;
	view_scene_copy sc;
} rec_entry;

struct view_rec {
	char *stream;
	char *dir;                            /* record.dir/<stream> */
	pipe_record_cfg cfg;                  /* scalars only: dir is ours above */
	int gpu, max_dets;
	rec_counters c;

	rec_entry q[VIEW_REC_QUEUE];
	_Atomic uint64_t head, tail;          /* head: encoder thread's, tail: engine thread's */
	sem_t ready;                          /* one post per queued entry, one for stop */
	sem_t room;                           /* one post per entry given back (waiting offers) */
	atomic_int stop;
	pthread_t thread;

	/* engine thread only: record.fps decimation */
	int have_due;
	double next_due, last_pts;

	/* encoder thread only */
	rec_writer *w;
	view_canvas *canvas;                  /* at most out_w x out_h */
	AVFrame *pic;                         /* YUV420P at out_w x out_h, what is encoded */
	struct SwsContext *sws;               /* canvas -> pic */
	int sws_w, sws_h;                     /* the canvas size sws was made for */
	int out_w, out_h;
	int retry;                            /* waiting after a failure ... */
	double fail_pts, retry_pts;           /* ... until pts reaches retry_pts */
	int failing, logged_start;
	int bad_pictures;                     /* in a row: the first is logged */
};

static const char *rec_strerror(int err, char *buf, size_t n)
{
	if (err <= VP_EOF && err >= VP_ECLOSED)
		return vp_strerror(err);
	av_strerror(err, buf, n);   /* errno and libav codes alike */
	return buf;
}

/* ---- engine thread ---- */

/* record.fps: the first frame at or after each 1/fps step; a jump back (a new pass) or a
 * gap restarts the steps at the frame. */
static int rec_wanted(view_rec *r, double pts)
{
	if (r->cfg.fps <= 0)
		return 1;
	double period = 1.0 / r->cfg.fps;
	int in_order = r->have_due && pts >= r->last_pts;
	r->last_pts = pts;
	if (in_order && pts < r->next_due - REC_EPS)
		return 0;
	r->next_due = in_order && pts < r->next_due + period ? r->next_due + period : pts + period;
	r->have_due = 1;
	return 1;
}

/* The scene as it will be drawn; a missing one (or one without a stream name) still gets
 * the stream and the frame's time in the corner. */
static void rec_copy_scene(view_rec *r, rec_entry *e, const vp_frame *f, const view_scene *sc)
{
	view_scene s = { .active_tracks = -1 };
	if (sc)
		s = *sc;
	else {
		s.frame = f->index;
		s.pts = f->pts;
		s.wall_us = f->wall_us;
	}
	if (!s.stream)
		s.stream = r->stream;
	if (!s.wall_us)
		s.wall_us = f->wall_us;
	view_scene_copy_set(&e->sc, &s);
}

void view_rec_offer(view_rec *r, vp_frame *f, const view_scene *sc, bool wait)
{
	if (!rec_wanted(r, f->pts))
		return;
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	/* room may hold posts from entries given back while nobody waited: each one only
	 * makes the loop look again. */
	while (wait && t - h >= VIEW_REC_QUEUE) {
		while (sem_wait(&r->room) != 0)
			;   /* EINTR */
		h = atomic_load_explicit(&r->head, memory_order_acquire);
	}
	if (t - h >= VIEW_REC_QUEUE) {
		atomic_fetch_add(&r->c.dropped, 1);
		return;
	}
	rec_entry *e = &r->q[t % VIEW_REC_QUEUE];
	e->f = vp_frame_ref(f);
	rec_copy_scene(r, e, f, sc);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	sem_post(&r->ready);
}

/* ---- encoder thread ---- */

/* The picture size, fixed by the first frame: record.width (or the source's), the height
 * keeping the aspect (the nearest even, as the canvas rounds it). A source that changes
 * its aspect later is stretched to it: one encoder, one size per recorder. */
static int rec_alloc_picture(view_rec *r, const vp_frame *f)
{
	view_canvas_free(&r->canvas);   /* what a failed try left */
	av_frame_free(&r->pic);
	int w = (r->cfg.width > 0 ? r->cfg.width : f->width) & ~1;
	if (w < 2 || f->width < 2 || f->height < 2)
		return -EINVAL;
	int h = (int)(((int64_t)f->height * w + f->width) / (2 * (int64_t)f->width)) * 2;
	r->out_w = w;
	r->out_h = h < 2 ? 2 : h;
	int err = view_canvas_new(r->out_w, r->out_h, &r->canvas);
	if (err < 0 || !(r->pic = av_frame_alloc()))
		return err < 0 ? err : -ENOMEM;
	r->pic->format = AV_PIX_FMT_YUV420P;
	r->pic->width = r->out_w;
	r->pic->height = r->out_h;
	return av_frame_get_buffer(r->pic, 0);
}

/* *what: the step that failed, for the log line. */
static int rec_open_writer(view_rec *r, const vp_frame *f, const char **what)
{
	*what = "setting up the picture";
	int err = r->canvas && r->pic ? 0 : rec_alloc_picture(r, f);
	if (err < 0)
		return err;
	*what = "making the folder";
	if ((err = snap_mkdirs(r->dir)) < 0)
		return err;
	rec_writer_args a = {
		.stream = r->stream, .dir = r->dir, .segment_s = r->cfg.segment_s,
		.max_bytes = (int64_t)r->cfg.max_mb << 20, .codec = r->cfg.codec, .gpu = r->gpu,
		.width = r->out_w, .height = r->out_h, .counters = &r->c,
		.frame_dur = r->cfg.fps > 0 ? 1.0 / r->cfg.fps : f->frame_dur > 0 ? f->frame_dur : 0.04,
	};
	*what = r->cfg.codec == PIPE_CODEC_NVENC ? "opening h264_nvenc (record.codec: nvenc)"
	                                          : "opening the encoder";
	if ((err = rec_writer_new(&a, &r->w)) < 0)
		return err;
	/* auto found no NVENC: the answer stays, so a retry does not probe the GPU again. */
	if (r->cfg.codec == PIPE_CODEC_AUTO && strcmp(rec_writer_encoder(r->w), "libx264") == 0)
		r->cfg.codec = PIPE_CODEC_LIBX264;
	if (!r->logged_start)
		vp_info("record", r->stream, "recording %dx%d %s into %s/, %d s segments, at most %d MiB",
		        r->out_w, r->out_h, rec_writer_encoder(r->w), r->dir, r->cfg.segment_s,
		        r->cfg.max_mb);
	r->logged_start = 1;
	return 0;
}

/* Counts the failure, logs the first of an episode, drops the writer (its file keeps the
 * fragments it has) and waits one segment of pts before a new one. */
static void rec_fail(view_rec *r, int err, double pts, const char *what)
{
	char buf[AV_ERROR_MAX_STRING_SIZE];
	atomic_fetch_add(&r->c.errors, 1);
	if (!r->failing)
		vp_err("record", r->stream, "%s failed: %s; retrying every %d s of video", what,
		       rec_strerror(err, buf, sizeof(buf)), r->cfg.segment_s);
	r->failing = 1;
	rec_writer_free(&r->w);
	r->retry = 1;
	r->fail_pts = pts;
	r->retry_pts = pts + r->cfg.segment_s;
}

static int rec_ready(view_rec *r, const vp_frame *f)
{
	if (r->w)
		return 0;
	if (r->retry && f->pts >= r->fail_pts && f->pts < r->retry_pts - REC_EPS)
		return VP_EAGAIN;
	r->retry = 0;
	const char *what = "starting";
	int err = rec_open_writer(r, f, &what);
	if (err < 0)
		rec_fail(r, err, f->pts, what);
	return err;
}

/* BGRA canvas -> YUV420P picture, BT.709 limited range (what the encoder's stream says). */
static int rec_canvas_to_pic(view_rec *r)
{
	int cw = view_canvas_width(r->canvas), ch = view_canvas_height(r->canvas), stride;
	if (!r->sws || cw != r->sws_w || ch != r->sws_h) {
		sws_freeContext(r->sws);
		r->sws = sws_getContext(cw, ch, AV_PIX_FMT_BGRA, r->out_w, r->out_h, AV_PIX_FMT_YUV420P,
		                        SWS_BILINEAR, NULL, NULL, NULL);
		if (!r->sws)
			return -ENOMEM;
		const int *bt709 = sws_getCoefficients(SWS_CS_ITU709);
		/* Fails only for formats without colour details; the defaults then stand. */
		(void)sws_setColorspaceDetails(r->sws, bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
		r->sws_w = cw;
		r->sws_h = ch;
	}
	int err = av_frame_make_writable(r->pic);   /* the encoder may still hold the last one */
	if (err < 0)
		return err;
	const uint8_t *src[4] = { view_canvas_pixels(r->canvas, &stride), NULL, NULL, NULL };
	int ls[4] = { stride, 0, 0, 0 };
	int rows = sws_scale(r->sws, src, ls, 0, ch, r->pic->data, r->pic->linesize);
	return rows == r->out_h ? 0 : rows < 0 ? rows : -EIO;
}

/* Scales the frame into the canvas, draws the scene over it, converts it for the encoder. */
static int rec_picture(view_rec *r, rec_entry *e)
{
	int err = view_canvas_from_frame(r->canvas, e->f, NULL, r->out_w);
	if (err < 0 || (err = view_overlay_draw(r->canvas, &e->sc.sc)) < 0)
		return err;
	return rec_canvas_to_pic(r);
}

/* A frame that cannot be drawn (a format or size the canvas refuses) is that frame's
 * problem, not the segment's: counted and dropped, the first of a run logged. */
static int rec_draw(view_rec *r, rec_entry *e)
{
	char buf[AV_ERROR_MAX_STRING_SIZE];
	int err = rec_picture(r, e);
	if (err < 0) {
		atomic_fetch_add(&r->c.errors, 1);
		if (!r->bad_pictures++)
			vp_err("record", r->stream, "drawing frame %lld failed: %s; dropping such frames",
			       (long long)e->f->index, rec_strerror(err, buf, sizeof(buf)));
	} else {
		r->bad_pictures = 0;
	}
	return err;
}

/* One queued frame: the slot is given back as soon as the picture is drawn, before the
 * (slower) encode, so the engine can queue the next frame meanwhile. */
static void rec_run_entry(view_rec *r, uint64_t h)
{
	rec_entry *e = &r->q[h % VIEW_REC_QUEUE];
	double pts = e->f->pts;
	int64_t wall_us = e->f->wall_us;
	int err = rec_ready(r, e->f);
	if (err == 0)
		err = rec_draw(r, e);
	vp_frame_unref(&e->f);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	sem_post(&r->room);
	if (err == 0 && (err = rec_writer_put(r->w, r->pic, pts, wall_us)) < 0)
		rec_fail(r, err, pts, "encoding or writing");
	if (err < 0) {
		atomic_fetch_add(&r->c.dropped, 1);
		return;
	}
	/* Over only once a whole segment was written: a disk that fills up again within each
	 * segment stays one episode, one log line. */
	if (r->failing && rec_writer_closed(r->w) > 0) {
		vp_info("record", r->stream, "recording again");
		r->failing = 0;
	}
}

static void rec_finish(view_rec *r)
{
	char buf[AV_ERROR_MAX_STRING_SIZE];
	int err = r->w ? rec_writer_finish(r->w) : 0;
	if (err < 0) {
		atomic_fetch_add(&r->c.errors, 1);
		if (!r->failing)   /* the same episode as a failure still unresolved */
			vp_err("record", r->stream, "finishing the last segment failed: %s",
			       rec_strerror(err, buf, sizeof(buf)));
	}
	rec_writer_free(&r->w);
}

static void *rec_thread(void *arg)
{
	view_rec *r = arg;
	char name[16];
	snprintf(name, sizeof(name), "rec:%s", r->stream);   /* shown by top -H, truncated */
	(void)pthread_setname_np(pthread_self(), name);
	for (;;) {
		while (sem_wait(&r->ready) != 0)
			;   /* EINTR */
		uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
		if (h != atomic_load_explicit(&r->tail, memory_order_acquire))
			rec_run_entry(r, h);
		else if (atomic_load(&r->stop))
			break;
	}
	rec_finish(r);
	return NULL;
}

/* ---- life cycle ---- */

static int rec_alloc_entries(view_rec *r)
{
	for (int i = 0; i < VIEW_REC_QUEUE; i++) {
		int err = view_scene_copy_init(&r->q[i].sc, r->max_dets);
		if (err < 0)
			return err;
	}
	return 0;
}

static void rec_release(view_rec *r)
{
	for (int i = 0; i < VIEW_REC_QUEUE; i++) {
		if (r->q[i].f)
			vp_frame_unref(&r->q[i].f);
		view_scene_copy_destroy(&r->q[i].sc);
	}
	sws_freeContext(r->sws);
	view_canvas_free(&r->canvas);
	av_frame_free(&r->pic);
	free(r->stream);
	free(r->dir);
	free(r);
}

int view_rec_new(const char *stream, const pipe_record_cfg *cfg, int gpu, int max_dets, view_rec **ret)
{
	if (!stream || !*stream || !cfg->dir || !*cfg->dir || cfg->segment_s < 1 || cfg->max_mb < 1 ||
	    max_dets < 0)
		return -EINVAL;
	view_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->cfg.dir = NULL;
	r->gpu = gpu;
	r->max_dets = max_dets;
	int err = -ENOMEM;
	if (!(r->stream = strdup(stream)) || asprintf(&r->dir, "%s/%s", cfg->dir, stream) < 0) {
		r->dir = NULL;
		goto fail;
	}
	if ((err = rec_alloc_entries(r)) < 0 || (err = sem_init(&r->ready, 0, 0) ? -errno : 0) < 0)
		goto fail;
	if ((err = sem_init(&r->room, 0, 0) ? -errno : 0) < 0) {
		sem_destroy(&r->ready);
		goto fail;
	}
	if ((err = -pthread_create(&r->thread, NULL, rec_thread, r)) < 0) {
		sem_destroy(&r->room);
		sem_destroy(&r->ready);
		goto fail;
	}
	*ret = r;
	return 0;
fail:
	vp_err("record", stream, "cannot start the recorder: %s", vp_strerror(err));
	rec_release(r);
	return err;
}

void view_rec_free(view_rec **pr)
{
	view_rec_stats st;
	view_rec_free_keep_stats(pr, &st);
}

void view_rec_free_keep_stats(view_rec **pr, view_rec_stats *ret)
{
	view_rec *r = *pr;
	memset(ret, 0, sizeof(*ret));
	if (!r)
		return;
	atomic_store(&r->stop, 1);
	sem_post(&r->ready);
	pthread_join(r->thread, NULL);
	view_rec_get_stats(r, ret);
	sem_destroy(&r->room);
	sem_destroy(&r->ready);
	rec_release(r);
	*pr = NULL;
}

void view_rec_get_stats(view_rec *r, view_rec_stats *ret)
{
	ret->frames = atomic_load(&r->c.frames);
	ret->dropped = atomic_load(&r->c.dropped);
	ret->segments = atomic_load(&r->c.segments);
	ret->deleted = atomic_load(&r->c.deleted);
	ret->errors = atomic_load(&r->c.errors);
}
