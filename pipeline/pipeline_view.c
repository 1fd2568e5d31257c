/* Hands processed frames to the view stage (view/view.h), on the engine thread: the live
 * pictures, the snapshots of events, the recordings and the recent-events list. Every call
 * into the view returns at once; it takes copies and references, never the frame's pixels. */
#include <stdlib.h>
#include <string.h>

#include "pipeline_priv.h"
#include "vp_err.h"
#include "vp_log.h"

int pipe_view_stream_setup(pipe_pipeline *p, pipe_stream *s)
{
	s->view_slot = -1;
	int rc;
	if (p->view.live && (rc = view_live_stream(p->view.live, s->cfg->id, &s->view_slot)) < 0)
		return rc;
	if (!s->cfg->record.present)
		return 0;
	if ((rc = pipe_metrics_add_record(p->metrics, s->cfg->id, &s->rec_m)) < 0)
		return rc;
	if ((rc = view_rec_new(s->cfg->id, &s->cfg->record, p->gpu, VIEW_MAX_SCENE_DETS, &s->rec)) < 0)
		vp_err("record", s->cfg->id, "not recording to %s: %s", s->cfg->record.dir, vp_strerror(rc));
	/* A recording that cannot start must not stop the detections. */
	return 0;
}

int pipe_view_frames_held(const pipe_pipeline *p, const pipe_source_cfg *src)
{
	return (p->view.live ? 1 : 0) + (p->view.snaps ? VIEW_SNAP_JOBS : 0) +
	       (src->record.present ? VIEW_REC_QUEUE : 0);
}

void pipe_view_stream_end(pipe_stream *s)
{
	if (!s->rec)
		return;
	/* Finished outside the lock (the last segment's encode takes a while); the stats after. */
	view_rec *r = s->rec;
	view_rec_stats st;
	pthread_mutex_lock(&s->p->view_lock);
	s->rec = NULL;
	pthread_mutex_unlock(&s->p->view_lock);
	view_rec_free_keep_stats(&r, &st);
	pthread_mutex_lock(&s->p->view_lock);
	s->rec_last = st;
	pthread_mutex_unlock(&s->p->view_lock);
}

void pipe_view_sync_metrics(pipe_pipeline *p, pipe_stream *s)
{
	view_rec_stats rs;
	pthread_mutex_lock(&p->view_lock);
	if (s->rec)
		view_rec_get_stats(s->rec, &rs);
	else
		rs = s->rec_last;
	pthread_mutex_unlock(&p->view_lock);
	pipe_counter_sync(s->rec_m.frames, rs.frames, &s->rec_synced.frames);
	pipe_counter_sync(s->rec_m.dropped, rs.dropped, &s->rec_synced.dropped);
	pipe_counter_sync(s->rec_m.segments, rs.segments, &s->rec_synced.segments);
	pipe_counter_sync(s->rec_m.errors, rs.errors, &s->rec_synced.errors);
}

void pipe_view_scene(pipe_pipeline *p, const pipe_stream *s, const vp_frame *f, const vp_det *dets,
                     int n, const int64_t *ids, view_scene *sc)
{
	int n_labels = 0;
	const char *const *labels = p->det ? inf_detector_labels(p->det, &n_labels) : NULL;
	*sc = (view_scene){
		.stream = s->cfg->id, .frame = f->index, .pts = f->pts, .wall_us = f->wall_us,
		.dets = dets, .track_ids = ids, .n_dets = n, .labels = labels, .n_labels = n_labels,
		.active_tracks = -1,
	};
	const pipe_stream_an *a = s->an;
	if (!a)
		return;
	sc->zones = s->cfg->zones;
	sc->zone_counts = a->zone_counts;
	sc->n_zones = s->cfg->n_zones;
	sc->lines = s->cfg->lines;
	sc->line_in = a->line_in;
	sc->line_out = a->line_out;
	sc->n_lines = s->cfg->n_lines;
	sc->active_tracks = an_stream_active_tracks(a->an);
}

/* A stream whose queue blocks (files, by default) waits for the snapshot writer and the
 * encoder rather than lose a snapshot or a recorded frame: its reading waits for the pipeline anyway. A live one never waits. */
static bool waits(const pipe_stream *s) { return s->cfg->queue.policy == PIPE_QP_BLOCK; }

void pipe_view_frame(pipe_pipeline *p, pipe_stream *s, vp_frame *f, const view_scene *sc)
{
	if (p->view.live && s->view_slot >= 0)
		view_live_offer(p->view.live, s->view_slot, f, sc);
	if (s->rec)
		view_rec_offer(s->rec, f, sc, waits(s));
}

const char *pipe_view_snapshots(pipe_pipeline *p, const pipe_stream *s, vp_frame *f, const view_scene *sc,
                                const an_event *evs, int n)
{
	if (!p->view.snaps || n == 0)
		return NULL;
	if (n > p->snap_cap) {
		/* Grows to the most events a frame had, then stays. */
		char (*v)[VIEW_SNAP_NAME_MAX] = realloc(p->snap_names, (size_t)n * sizeof(*v));
		if (!v) {
			vp_err("snapshots", sc->stream, "frame %lld: out of memory", (long long)f->index);
			return NULL;
		}
		p->snap_names = v;
		p->snap_cap = n;
	}
	view_snaps_events(p->view.snaps, f, sc, evs, n, waits(s), p->snap_names);
	return p->snap_names[0];
}

void pipe_view_best(pipe_pipeline *p, const pipe_stream *s, vp_frame *f, const view_scene *sc, const vp_det *cands,
                    const int64_t *ids, const unsigned char *best, int n)
{
	if (!p->view.snaps || !best)
		return;
	for (int i = 0; i < n; i++)
		if (best[i] && ids[i] >= 0)
			view_snaps_best(p->view.snaps, f, sc, ids[i], &cands[i], waits(s));
}

void pipe_view_event_message(pipe_pipeline *p, const sink_msg *m)
{
	if (p->view.events)
		view_events_push(p->view.events, m->text, m->len);
}
