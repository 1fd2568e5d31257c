/* One stream's analytics: the tracker(s), the record of each confirmed track (public id,
 * class votes, best detection), zones and lines, and the events in frame order. */
#include "analytics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytetrack.h"
#include "counting.h"
#include "idmap.h"

/* A confirmed track as users see it. */
typedef struct an_record {
	int64_t id;
	int *votes;               /* per class: frames the track took a detection of it */
	int cls;                  /* the majority so far (the first to reach the top count) */
	int64_t first_frame, last_frame, best_frame;
	double first_pts, last_pts;
	float best_score;
	float best_bbox[4];
	uint64_t map_key;
} an_record;

/* Growable array with a byte size per element; grows at need and is reused. */
typedef struct an_buf {
	void *p;
	int cap;
} an_buf;

struct an_stream {
	const pipe_tracker_cfg *cfg;
	const pipe_source_cfg *src;
	int num_classes;
	int n_trackers;           /* 1, or num_classes with per_class */
	an_bytetrack **trk;       /* created at first use (per class: when the class appears) */
	int max_lost;             /* the trackers' setting, from the fps they were made at */
	an_counting *count;
	int64_t *next_id;
	int64_t last_frame;
	double last_pts;
	int have_last;
	int active;
	/* records: slots in recs, free ones chained through free_list */
	an_record *recs;
	int n_recs, cap_recs;
	int *free_list;
	int n_free;
	an_idmap by_key;
	/* per-frame scratch */
	an_buf ids, best, events, obs, ended, ended_ids, live, sub_dets, sub_idx;
	int n_events, n_obs, n_ended;
};

static int buf_fit(an_buf *b, int n, size_t elem)
{
	if (n <= b->cap)
		return 0;
	int cap = b->cap ? b->cap : 16;
	while (cap < n)
		cap *= 2;
	void *p = realloc(b->p, (size_t)cap * elem);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int an_stream_new(const pipe_tracker_cfg *tracker, const pipe_source_cfg *src, int num_classes,
                  int64_t *next_id, an_stream **ret)
{
	an_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->next_id = next_id;
	s->cfg = tracker;
	s->src = src;
	s->num_classes = num_classes > 0 ? num_classes : 1;
	s->n_trackers = tracker->per_class ? s->num_classes : 1;
	int rc = -ENOMEM;
	if (!(s->trk = calloc((size_t)s->n_trackers, sizeof(*s->trk))))
		goto fail;
	if ((rc = an_counting_new(src->zones, src->n_zones, src->lines, src->n_lines, &s->count)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	an_stream_free(&s);
	return rc;
}

static void free_trackers(an_stream *s)
{
	for (int i = 0; s->trk && i < s->n_trackers; i++)
		an_bt_free(&s->trk[i]);
}

void an_stream_free(an_stream **ps)
{
	an_stream *s = *ps;
	if (!s)
		return;
	*ps = NULL;
	free_trackers(s);
	free(s->trk);
	an_counting_free(&s->count);
	for (int i = 0; i < s->n_recs; i++)
		free(s->recs[i].votes);
	free(s->recs);
	free(s->free_list);
	an_idmap_free(&s->by_key);
	an_buf *bufs[] = { &s->ids, &s->best, &s->events, &s->obs, &s->ended, &s->ended_ids, &s->live,
	                   &s->sub_dets, &s->sub_idx };
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		free(bufs[i]->p);
	free(s);
}

/* lost_frames is given at 30 fps, as ByteTrack's track_buffer: int(fps / 30 * buffer). */
static int max_lost_for(const an_stream *s, double frame_dur)
{
	double fps = frame_dur > 0 ? 1.0 / frame_dur : 30.0;
	int n = (int)(fps / 30.0 * s->cfg->lost_frames);
	return n > 0 ? n : 1;
}

static int tracker_for(an_stream *s, int t, double frame_dur, an_bytetrack **ret)
{
	if (!s->trk[t]) {
		an_bt_params p = {
			.high_threshold = s->cfg->high_threshold,
			.low_threshold = s->cfg->low_threshold,
			.new_track_threshold = s->cfg->new_track_threshold,
			.match_threshold = s->cfg->match_threshold,
			.max_lost = s->max_lost ? s->max_lost : max_lost_for(s, frame_dur),
		};
		s->max_lost = p.max_lost;
		int rc = an_bt_new(&p, &s->trk[t]);
		if (rc < 0)
			return rc;
	}
	*ret = s->trk[t];
	return 0;
}

/* Map keys: the tracker's index above its own track key. */
static uint64_t map_key(int t, uint64_t key) { return (uint64_t)t << 48 | key; }

static int new_record(an_stream *s, uint64_t mk, an_record **ret)
{
	int slot;
	if (s->n_free > 0) {
		slot = s->free_list[--s->n_free];
	} else {
		if (s->n_recs == s->cap_recs) {
			int cap = s->cap_recs ? 2 * s->cap_recs : 32;
			an_record *r = realloc(s->recs, (size_t)cap * sizeof(*r));
			if (!r)
				return -ENOMEM;
			s->recs = r;
			int *fl = realloc(s->free_list, (size_t)cap * sizeof(*fl));
			if (!fl)
				return -ENOMEM;
			s->free_list = fl;
			s->cap_recs = cap;
		}
		slot = s->n_recs;
		s->recs[slot] = (an_record){ 0 };
		if (!(s->recs[slot].votes = calloc((size_t)s->num_classes, sizeof(int))))
			return -ENOMEM;
		s->n_recs++;
	}
	if (an_idmap_put(&s->by_key, mk, slot) < 0) {
		s->free_list[s->n_free++] = slot;
		return -ENOMEM;
	}
	an_record *r = &s->recs[slot];
	int *votes = r->votes;
	memset(votes, 0, (size_t)s->num_classes * sizeof(int));
	*r = (an_record){ .votes = votes, .map_key = mk, .id = ++*s->next_id, .best_score = -1 };
	*ret = r;
	return 0;
}

static void drop_record(an_stream *s, an_record *r)
{
	an_idmap_del(&s->by_key, r->map_key);
	s->free_list[s->n_free++] = (int)(r - s->recs);
}

static an_event *push_event(an_stream *s, enum an_event_kind kind, const an_record *r, int64_t frame,
                            double pts, int64_t wall_us)
{
	if (buf_fit(&s->events, s->n_events + 1, sizeof(an_event)) < 0)
		return NULL;
	an_event *e = (an_event *)s->events.p + s->n_events++;
	*e = (an_event){ .kind = kind, .track_id = r->id, .frame = frame, .pts = pts, .wall_us = wall_us,
	                 .class_id = r->cls };
	return e;
}

/* Returns whether d became the track's best detection. */
static bool observe(an_stream *s, an_record *r, const vp_det *d, int64_t frame, double pts)
{
	bool best = false;
	int c = d->class_id >= 0 && d->class_id < s->num_classes ? d->class_id : 0;
	if (++r->votes[c] > r->votes[r->cls])
		r->cls = c;
	if (d->score > r->best_score) {
		r->best_score = d->score;
		memcpy(r->best_bbox, d->bbox, sizeof(r->best_bbox));
		r->best_frame = frame;
		best = true;
	}
	r->last_frame = frame;
	r->last_pts = pts;
	return best;
}

static void track_end_event(an_stream *s, const an_record *r, int64_t frame, double pts, int64_t wall_us)
{
	an_event *e = push_event(s, AN_EV_TRACK_END, r, frame, pts, wall_us);
	if (!e)
		return;
	e->first_frame = r->first_frame;
	e->first_pts = r->first_pts;
	e->duration_s = r->last_pts - r->first_pts;
	e->score = r->best_score;
	memcpy(e->bbox, r->best_bbox, sizeof(e->bbox));
	e->best_frame = r->best_frame;
}

/* Tracks output by one tracker: records, ids, track starts and anchors. dets: the
 * tracker's input; idx (per-class trackers) maps it to the frame's detections. */
static int take_tracks(an_stream *s, int t, const an_bt_result *res, const vp_det *dets,
                       const int *idx, int64_t frame, double pts, int64_t wall_us)
{
	int64_t *ids = s->ids.p;
	if (buf_fit(&s->obs, s->n_obs + res->n_tracks, sizeof(an_obs)) < 0)
		return -ENOMEM;
	for (int k = 0; k < res->n_tracks; k++) {
		const an_bt_track *tr = &res->tracks[k];
		const vp_det *d = &dets[tr->det];
		int di = idx ? idx[tr->det] : tr->det;
		uint64_t mk = map_key(t, tr->key);
		int slot = an_idmap_get(&s->by_key, mk);
		an_record *r = slot >= 0 ? &s->recs[slot] : NULL;
		if (!r) {
			if (new_record(s, mk, &r) < 0)
				return -ENOMEM;
			r->first_frame = frame;
			r->first_pts = pts;
			((unsigned char *)s->best.p)[di] = observe(s, r, d, frame, pts);
			an_event *e = push_event(s, AN_EV_TRACK_START, r, frame, pts, wall_us);
			if (e) {
				e->score = d->score;
				memcpy(e->bbox, d->bbox, sizeof(e->bbox));
			}
		} else {
			((unsigned char *)s->best.p)[di] = observe(s, r, d, frame, pts);
		}
		ids[di] = r->id;
		/* The anchor: bottom-centre of the filtered box, steadier than the detection's. */
		((an_obs *)s->obs.p)[s->n_obs++] = (an_obs){ .track_id = r->id, .class_id = r->cls,
		                                             .x = 0.5 * ((double)tr->box[0] + tr->box[2]),
		                                             .y = tr->box[3] };
	}
	return 0;
}

static int take_ended(an_stream *s, int t, const uint64_t *keys, int n)
{
	if (buf_fit(&s->ended, s->n_ended + n, sizeof(int)) < 0)
		return -ENOMEM;
	for (int k = 0; k < n; k++) {
		int slot = an_idmap_get(&s->by_key, map_key(t, keys[k]));
		if (slot >= 0)
			((int *)s->ended.p)[s->n_ended++] = slot;
	}
	return 0;
}

/* Zone and line events, then the ends of the tracks that left. */
static int finish_frame(an_stream *s, int64_t frame, double pts, int64_t wall_us, an_result *ret)
{
	int *ended = s->ended.p;
	if (buf_fit(&s->ended_ids, s->n_ended, sizeof(int64_t)) < 0)
		return -ENOMEM;
	int64_t *ended_ids = s->ended_ids.p;
	for (int k = 0; k < s->n_ended; k++)
		ended_ids[k] = s->recs[ended[k]].id;
	const an_event *ev = NULL;
	int n_ev = 0;
	int rc = an_counting_update(s->count, s->obs.p, s->n_obs, ended_ids, s->n_ended, frame, pts,
	                            wall_us, &ev, &n_ev);
	if (rc < 0 || buf_fit(&s->events, s->n_events + n_ev + s->n_ended, sizeof(an_event)) < 0)
		return rc < 0 ? rc : -ENOMEM;
	if (n_ev > 0)
		memcpy((an_event *)s->events.p + s->n_events, ev, (size_t)n_ev * sizeof(*ev));
	s->n_events += n_ev;
	for (int k = 0; k < s->n_ended; k++) {
		an_record *r = &s->recs[ended[k]];
		track_end_event(s, r, frame, pts, wall_us);
		drop_record(s, r);
	}
	ret->track_ids = s->ids.p;
	ret->best = s->best.p;
	ret->events = s->events.p;
	ret->n_events = s->n_events;
	return 0;
}

/* Elapsed frame periods since the last update, from the timestamps (frames skipped by
 * interval or dropped by a queue count); the frame numbers when pts did not advance. */
static double elapsed(const an_stream *s, int64_t frame, double pts, double frame_dur)
{
	if (!s->have_last)
		return 1.0;
	double dt = frame_dur > 0 ? (pts - s->last_pts) / frame_dur : 0;
	if (!(dt > 0) || !isfinite(dt))
		dt = (double)(frame - s->last_frame);
	return dt > 0 ? dt : 1.0;
}

/* The detections of class t (per-class trackers) into the scratch arrays. */
static int split_class(an_stream *s, int t, const vp_det *dets, int n, int *n_sub)
{
	if (buf_fit(&s->sub_dets, n, sizeof(vp_det)) < 0 || buf_fit(&s->sub_idx, n, sizeof(int)) < 0)
		return -ENOMEM;
	vp_det *sd = s->sub_dets.p;
	int *si = s->sub_idx.p, m = 0;
	for (int i = 0; i < n; i++)
		if (dets[i].class_id == t) {
			sd[m] = dets[i];
			si[m++] = i;
		}
	*n_sub = m;
	return 0;
}

static int run_tracker(an_stream *s, int t, const vp_det *dets, int n, const int *idx, int64_t frame,
                       double pts, double dt, double frame_dur, int64_t wall_us)
{
	an_bytetrack *bt;
	an_bt_result res;
	int rc = tracker_for(s, t, frame_dur, &bt);
	if (rc == 0)
		rc = an_bt_update(bt, dets, n, frame, dt, &res);
	if (rc == 0)
		rc = take_ended(s, t, res.ended, res.n_ended);
	if (rc == 0)
		rc = take_tracks(s, t, &res, dets, idx, frame, pts, wall_us);
	s->active += rc == 0 ? res.n_tracks : 0;
	return rc;
}

int an_stream_update(an_stream *s, int64_t frame, double pts, double frame_dur, int64_t wall_us,
                     const vp_det *dets, int n, an_result *ret)
{
	s->n_events = s->n_obs = s->n_ended = s->active = 0;
	if (buf_fit(&s->ids, n, sizeof(int64_t)) < 0 || buf_fit(&s->best, n, 1) < 0)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		((int64_t *)s->ids.p)[i] = -1;
	if (n > 0)
		memset(s->best.p, 0, (size_t)n);
	double dt = elapsed(s, frame, pts, frame_dur);
	int rc = 0;
	if (!s->cfg->per_class) {
		rc = run_tracker(s, 0, dets, n, NULL, frame, pts, dt, frame_dur, wall_us);
	} else {
		/* Every existing class tracker runs, also without detections: its tracks age. */
		for (int t = 0; t < s->n_trackers && rc == 0; t++) {
			int m = 0;
			rc = split_class(s, t, dets, n, &m);
			if (rc == 0 && (m > 0 || s->trk[t]))
				rc = run_tracker(s, t, s->sub_dets.p, m, s->sub_idx.p, frame, pts, dt, frame_dur,
				                 wall_us);
		}
	}
	s->last_frame = frame;
	s->last_pts = pts;
	s->have_last = 1;
	return rc < 0 ? rc : finish_frame(s, frame, pts, wall_us, ret);
}

typedef struct live_rec { int64_t id; int slot; } live_rec;

static int by_id(const void *pa, const void *pb)
{
	const live_rec *a = pa, *b = pb;
	return (a->id > b->id) - (a->id < b->id);
}

int an_stream_end(an_stream *s, int64_t frame, double pts, int64_t wall_us, an_result *ret)
{
	s->n_events = s->n_obs = s->n_ended = s->active = 0;
	if (buf_fit(&s->ended, s->n_recs, sizeof(int)) < 0 || buf_fit(&s->live, s->n_recs, sizeof(live_rec)) < 0)
		return -ENOMEM;
	live_rec *live = s->live.p;
	int n = 0;
	for (int i = 0; i < s->n_recs; i++)
		if (an_idmap_get(&s->by_key, s->recs[i].map_key) == i)
			live[n++] = (live_rec){ s->recs[i].id, i };
	/* Oldest first: ids grow with confirmation. */
	qsort(live, (size_t)n, sizeof(*live), by_id);
	for (int i = 0; i < n; i++)
		((int *)s->ended.p)[s->n_ended++] = live[i].slot;
	int rc = finish_frame(s, frame, pts, wall_us, ret);
	free_trackers(s);
	s->have_last = 0;
	return rc;
}

int an_stream_active_tracks(const an_stream *s) { return s->active; }

int an_stream_zone_occupancy(const an_stream *s, int i) { return an_counting_zone_occupancy(s->count, i); }

void an_stream_line_totals(const an_stream *s, int i, int64_t *in, int64_t *out)
{
	an_counting_line_totals(s->count, i, in, out);
}
