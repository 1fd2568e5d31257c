/* Live pictures: one slot per stream and one render thread. The engine thread hands a
 * frame over only when the slot's next picture is due and its job is free (a frame
 * reference and a fixed-size scene copy, then a semaphore post: no lock, no allocation);
 * the render thread scales, draws and encodes it once, and every reader shares the
 * resulting JPEG by reference. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "render.h"

enum { LIVE_MAX_STREAMS = 256 };
/* Job states: the engine thread fills a FREE job, the render thread takes a FILLED one. */
enum { JOB_FREE = 0, JOB_FILLED, JOB_RENDERING };

typedef struct live_slot {
	char id[VIEW_STREAM_MAX];
	/* the job: engine thread while FREE, render thread after FILLED */
	atomic_int state;
	vp_frame *frame;
	view_scene_copy scene;
	int64_t next_due_ns;          /* engine thread only; 0: the first frame is due */
	view_jpeg_enc *enc;           /* render thread only */
	int failing;                  /* render thread only: the last picture failed */
	/* published, under lock */
	pthread_mutex_t lock;
	pthread_cond_t news;
	view_jpeg *latest;
	uint64_t gen;
	view_counts counts;
} live_slot;

struct view_live {
	const pipe_view_cfg *cfg;
	int max_dets;
	int64_t period_ns;
	live_slot *slots[LIVE_MAX_STREAMS];
	atomic_int n;                 /* slots[0..n) are set and never move */
	pthread_mutex_t lock;         /* adding slots; readers; stopping */
	pthread_cond_t gone;          /* a reader left */
	int readers;
	atomic_int stop;
	sem_t work;                   /* posted for each filled job and at stop */
	pthread_t thread;
	int started;
	view_canvas *canvas;          /* render thread only */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void counts_from(view_counts *c, const view_scene *sc)
{
	c->active_tracks = sc->active_tracks;
	c->n_zones = sc->n_zones;
	for (int z = 0; z < sc->n_zones; z++) {
		c->zone_names[z] = sc->zones[z].name;
		c->zone_counts[z] = sc->zone_counts ? sc->zone_counts[z] : 0;
	}
	c->n_lines = sc->n_lines;
	for (int l = 0; l < sc->n_lines; l++) {
		c->line_names[l] = sc->lines[l].name;
		c->line_in[l] = sc->line_in ? sc->line_in[l] : 0;
		c->line_out[l] = sc->line_out ? sc->line_out[l] : 0;
	}
}

/* Scale (dropping the frame at once), draw, encode; NULL on failure (logged below). */
static view_jpeg *render(view_live *l, live_slot *s)
{
	const vp_frame *f = s->frame;
	int width = l->cfg->width < f->width ? l->cfg->width : f->width;
	int r = view_canvas_from_frame(l->canvas, f, NULL, width);
	vp_frame_unref(&s->frame);
	view_jpeg *j = NULL;
	if (r >= 0 && (r = view_overlay_draw(l->canvas, &s->scene.sc)) >= 0)
		r = view_jpeg_encode(s->enc, l->canvas, NULL, &j);
	if (r < 0) {
		if (!s->failing)
			vp_warn("view", s->id, "live picture failed: %s (again: not logged until one works)",
			        vp_strerror(r));
		s->failing = 1;
		return NULL;
	}
	s->failing = 0;
	return j;
}

/* What readers see of the job just rendered: its picture, time and counts. */
typedef struct live_result {
	view_jpeg *j;
	int64_t wall_us;
	view_counts counts;
} live_result;

static void publish(live_slot *s, live_result *res)
{
	pthread_mutex_lock(&s->lock);
	if (res->j) {
		res->j->gen = ++s->gen;
		res->j->wall_us = res->wall_us;
		view_jpeg_unref(&s->latest);
		s->latest = res->j;
	}
	s->counts = res->counts;
	pthread_cond_broadcast(&s->news);
	pthread_mutex_unlock(&s->lock);
}

static void *render_main(void *arg)
{
	view_live *l = arg;
	live_result res;
	while (!atomic_load(&l->stop)) {
		if (sem_wait(&l->work) < 0)
			continue;  /* EINTR */
		int n = atomic_load_explicit(&l->n, memory_order_acquire);
		for (int i = 0; i < n && !atomic_load(&l->stop); i++) {
			live_slot *s = l->slots[i];
			int want = JOB_FILLED;
			if (!atomic_compare_exchange_strong(&s->state, &want, JOB_RENDERING))
				continue;
			res.j = render(l, s);
			res.wall_us = s->scene.sc.wall_us;
			counts_from(&res.counts, &s->scene.sc);
			/* Free before it is published: whoever sees the picture may offer the next. */
			atomic_store_explicit(&s->state, JOB_FREE, memory_order_release);
			publish(s, &res);
		}
	}
	return NULL;
}

static void slot_free(live_slot *s)
{
	if (!s)
		return;
	vp_frame_unref(&s->frame);
	view_jpeg_unref(&s->latest);
	view_jpeg_enc_free(&s->enc);
	view_scene_copy_destroy(&s->scene);
	pthread_cond_destroy(&s->news);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r = pthread_condattr_init(&a);
	if (r == 0) {
		r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		if (r == 0)
			r = pthread_cond_init(c, &a);
		pthread_condattr_destroy(&a);
	}
	return -r;
}

static int slot_new(view_live *l, const char *id, live_slot **ret)
{
	live_slot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = pthread_mutex_init(&s->lock, NULL);
	if (r != 0) {
		free(s);
		return -r;
	}
	if ((r = cond_init_mono(&s->news)) < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	snprintf(s->id, sizeof(s->id), "%s", id);
	atomic_init(&s->state, JOB_FREE);
	s->counts.active_tracks = -1;
	if ((r = view_scene_copy_init(&s->scene, l->max_dets)) < 0 ||
	    (r = view_jpeg_enc_new(l->cfg->quality, &s->enc)) < 0) {
		slot_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int view_live_new(const pipe_view_cfg *cfg, int max_dets, view_live **ret)
{
	if (!cfg || cfg->fps < 1 || cfg->width < 2 || max_dets < 0) {
		vp_err("view", NULL, "live: fps %d, width %d or max_dets %d out of range", cfg ? cfg->fps : 0,
		       cfg ? cfg->width : 0, max_dets);
		return -EINVAL;
	}
	view_live *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = cfg;
	l->max_dets = max_dets;
	l->period_ns = 1000000000LL / cfg->fps;
	int r = -ENOMEM;
	/* Portrait sources up to 1:2 fit at full width; taller ones are shrunk to fit. */
	if ((r = view_canvas_new(cfg->width, 2 * cfg->width, &l->canvas)) < 0)
		goto fail_free;
	if ((r = -pthread_mutex_init(&l->lock, NULL)) < 0)
		goto fail_canvas;
	if ((r = cond_init_mono(&l->gone)) < 0)
		goto fail_lock;
	if (sem_init(&l->work, 0, 0) < 0) {
		r = -errno;
		goto fail_cond;
	}
	if ((r = -pthread_create(&l->thread, NULL, render_main, l)) < 0) {
		vp_err("view", NULL, "live: cannot start the render thread: %s", vp_strerror(r));
		goto fail_sem;
	}
	l->started = 1;
	*ret = l;
	return 0;
fail_sem:
	sem_destroy(&l->work);
fail_cond:
	pthread_cond_destroy(&l->gone);
fail_lock:
	pthread_mutex_destroy(&l->lock);
fail_canvas:
	view_canvas_free(&l->canvas);
fail_free:
	free(l);
	return r;
}

void view_live_free(view_live **pl)
{
	view_live *l = *pl;
	if (!l)
		return;
	*pl = NULL;
	atomic_store(&l->stop, 1);
	sem_post(&l->work);
	if (l->started)
		pthread_join(l->thread, NULL);
	int n = atomic_load(&l->n);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&l->slots[i]->lock);
		pthread_cond_broadcast(&l->slots[i]->news);
		pthread_mutex_unlock(&l->slots[i]->lock);
	}
	pthread_mutex_lock(&l->lock);
	while (l->readers > 0)
		pthread_cond_wait(&l->gone, &l->lock);
	pthread_mutex_unlock(&l->lock);
	for (int i = 0; i < n; i++)
		slot_free(l->slots[i]);
	view_canvas_free(&l->canvas);
	sem_destroy(&l->work);
	pthread_cond_destroy(&l->gone);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static int find_slot(view_live *l, const char *id)
{
	int n = atomic_load_explicit(&l->n, memory_order_acquire);
	for (int i = 0; i < n; i++)
		if (strncmp(l->slots[i]->id, id, VIEW_STREAM_MAX - 1) == 0)
			return i;
	return -1;
}

int view_live_stream(view_live *l, const char *id, int *ret_slot)
{
	if (!id || !*id)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	int i = find_slot(l, id), r = 0;
	if (i < 0) {
		live_slot *s = NULL;
		i = atomic_load(&l->n);
		if (i >= LIVE_MAX_STREAMS) {
			vp_err("view", id, "live: more than %d streams", LIVE_MAX_STREAMS);
			r = -ENOSPC;
		} else if ((r = slot_new(l, id, &s)) == 0) {
			l->slots[i] = s;
			atomic_store_explicit(&l->n, i + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&l->lock);
	if (r == 0)
		*ret_slot = i;
	return r;
}

int view_live_find(view_live *l, const char *id)
{
	return id ? find_slot(l, id) : -1;
}

int view_live_n_streams(view_live *l) { return atomic_load_explicit(&l->n, memory_order_acquire); }

static live_slot *slot_at(view_live *l, int slot)
{
	return slot >= 0 && slot < atomic_load_explicit(&l->n, memory_order_acquire) ? l->slots[slot] : NULL;
}

/* The next picture is due period after the last one taken; a slot that fell a whole
 * period behind (its renderer was busy) restarts from now instead of catching up. */
void view_live_offer(view_live *l, int slot, vp_frame *f, const view_scene *sc)
{
	live_slot *s = slot_at(l, slot);
	if (!s || !f || atomic_load_explicit(&l->stop, memory_order_relaxed))
		return;
	if (s->next_due_ns && f->mono_ns < s->next_due_ns)
		return;
	if (atomic_load_explicit(&s->state, memory_order_acquire) != JOB_FREE)
		return;
	s->frame = vp_frame_ref(f);
	view_scene_copy_set(&s->scene, sc);
	int64_t next = s->next_due_ns ? s->next_due_ns + l->period_ns : f->mono_ns + l->period_ns;
	s->next_due_ns = next <= f->mono_ns ? f->mono_ns + l->period_ns : next;
	atomic_store_explicit(&s->state, JOB_FILLED, memory_order_release);
	sem_post(&l->work);
}

static struct timespec deadline_in(int ms)
{
	int64_t t = mono_ns() + (int64_t)(ms > 0 ? ms : 0) * 1000000;
	return (struct timespec){ (time_t)(t / 1000000000), (long)(t % 1000000000) };
}

static int reader_enter(view_live *l)
{
	pthread_mutex_lock(&l->lock);
	int ok = !atomic_load(&l->stop);
	l->readers += ok;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

static void reader_leave(view_live *l)
{
	pthread_mutex_lock(&l->lock);
	if (--l->readers == 0)
		pthread_cond_broadcast(&l->gone);
	pthread_mutex_unlock(&l->lock);
}

view_jpeg *view_live_wait(view_live *l, int slot, uint64_t after, int timeout_ms)
{
	live_slot *s = slot_at(l, slot);
	if (!s || !reader_enter(l))
		return NULL;
	struct timespec end = deadline_in(timeout_ms);
	view_jpeg *j = NULL;
	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&l->stop) && s->gen <= after) {
		if (pthread_cond_timedwait(&s->news, &s->lock, &end) == ETIMEDOUT)
			break;
	}
	if (!atomic_load(&l->stop) && s->gen > after)
		j = view_jpeg_ref(s->latest);
	pthread_mutex_unlock(&s->lock);
	reader_leave(l);
	return j;
}

int view_live_counts(view_live *l, int slot, char *id, size_t id_size, view_counts *ret)
{
	live_slot *s = slot_at(l, slot);
	if (!s)
		return -1;
	if (id && id_size)
		snprintf(id, id_size, "%s", s->id);
	pthread_mutex_lock(&s->lock);
	*ret = s->counts;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
