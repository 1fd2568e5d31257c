/* The tracking stage between the detector and the sinks, on the engine thread: each
 * stream's tracker, zones and lines (analytics/), the frame messages with track ids and
 * counts, the event messages, and their metrics. */
#include <stdlib.h>
#include <string.h>

#include "pipeline_priv.h"
#include "vp_err.h"
#include "vp_log.h"
#include "vp_time.h"

/* Zone and line classes are written by name or id; ids are known once the labels are. The
 * ids are stored in the config (its documented "resolved" state), before any thread of
 * this stream reads them. */
static int resolve(pipe_pipeline *p, pipe_class_ref *refs, int n, const char *what)
{
	for (int k = 0; k < n; k++) {
		int id = inf_detector_resolve_class(p->det, &refs[k], p->cfg->file, what);
		if (id < 0)
			return id;
		refs[k].id = id;
	}
	return 0;
}

static int resolve_classes(pipe_pipeline *p, const pipe_source_cfg *src)
{
	int rc = 0;
	for (int i = 0; rc == 0 && i < src->n_zones; i++)
		rc = resolve(p, src->zones[i].classes, src->zones[i].n_classes, "zones[].classes");
	for (int i = 0; rc == 0 && i < src->n_lines; i++)
		rc = resolve(p, src->lines[i].classes, src->lines[i].n_classes, "lines[].classes");
	return rc;
}

static int setup_metrics(pipe_pipeline *p, pipe_stream_an *a, const pipe_source_cfg *src)
{
	int rc = pipe_metrics_add_tracks(p->metrics, src->id, &a->tracks);
	for (int i = 0; rc == 0 && i < src->n_zones; i++)
		rc = pipe_metrics_add_zone(p->metrics, src->id, src->zones[i].name, &a->zone_m[i]);
	for (int i = 0; rc == 0 && i < src->n_lines; i++)
		rc = pipe_metrics_add_line(p->metrics, src->id, src->lines[i].name, &a->line_in_m[i],
		                           &a->line_out_m[i]);
	return rc;
}

int pipe_analytics_setup(pipe_pipeline *p, pipe_stream *s)
{
	const pipe_source_cfg *src = s->cfg;
	if (!p->tracker.present || !p->det)
		return 0;
	int rc = resolve_classes(p, src);
	if (rc < 0)
		return rc;
	pipe_stream_an *a = calloc(1, sizeof(*a));
	if (!(s->an = a))
		return -ENOMEM;
	size_t nz = (size_t)src->n_zones + 1, nl = (size_t)src->n_lines + 1;
	a->zone_names = calloc(nz, sizeof(*a->zone_names));
	a->zone_counts = calloc(nz, sizeof(*a->zone_counts));
	a->zone_m = calloc(nz, sizeof(*a->zone_m));
	a->line_names = calloc(nl, sizeof(*a->line_names));
	a->line_in = calloc(nl, sizeof(*a->line_in));
	a->line_out = calloc(nl, sizeof(*a->line_out));
	a->line_in_m = calloc(nl, sizeof(*a->line_in_m));
	a->line_out_m = calloc(nl, sizeof(*a->line_out_m));
	if (!a->zone_names || !a->zone_counts || !a->zone_m || !a->line_names || !a->line_in ||
	    !a->line_out || !a->line_in_m || !a->line_out_m)
		return -ENOMEM;
	for (int i = 0; i < src->n_zones; i++)
		a->zone_names[i] = src->zones[i].name;
	for (int i = 0; i < src->n_lines; i++)
		a->line_names[i] = src->lines[i].name;
	if ((rc = setup_metrics(p, a, src)) < 0)
		return rc;
	return an_stream_new(&p->tracker, src, inf_detector_num_classes(p->det), &p->next_track_id,
	                     &a->an);
}

void pipe_analytics_free(pipe_stream *s)
{
	pipe_stream_an *a = s->an;
	if (!a)
		return;
	an_stream_free(&a->an);
	free(a->zone_names);
	free(a->zone_counts);
	free(a->zone_m);
	free(a->line_names);
	free(a->line_in);
	free(a->line_out);
	free(a->line_in_m);
	free(a->line_out_m);
	free(a);
	s->an = NULL;
}

static void publish_events(pipe_pipeline *p, pipe_stream *s, const an_result *r, const char *snaps)
{
	pipe_stream_an *a = s->an;
	int n_labels = 0;
	const char *const *labels = inf_detector_labels(p->det, &n_labels);
	for (int i = 0; i < r->n_events; i++) {
		const an_event *e = &r->events[i];
		if (e->kind == AN_EV_LINE_CROSS) {
			for (int k = 0; k < s->cfg->n_lines; k++)
				if (e->name == s->cfg->lines[k].name)
					pipe_counter_inc(e->direction > 0 ? a->line_in_m[k] : a->line_out_m[k]);
		}
		sink_msg *m = NULL;
		const char *snap = snaps ? snaps + (size_t)i * VIEW_SNAP_NAME_MAX : NULL;
		if (sink_msg_event_ex(s->cfg->id, s->cfg->epoch, e, labels, n_labels, snap, &m) == 0) {
			pipe_view_event_message(p, m);
			pipe_publish(p, m);
		}
	}
}

/* Counts as messages and metrics show them after the frame. */
static void sync_counts(pipe_stream *s)
{
	pipe_stream_an *a = s->an;
	for (int i = 0; i < s->cfg->n_zones; i++) {
		a->zone_counts[i] = an_stream_zone_occupancy(a->an, i);
		pipe_gauge_set(a->zone_m[i], a->zone_counts[i]);
	}
	for (int i = 0; i < s->cfg->n_lines; i++)
		an_stream_line_totals(a->an, i, &a->line_in[i], &a->line_out[i]);
	pipe_gauge_set(a->tracks, an_stream_active_tracks(a->an));
}

/* The detections a message carries: at or above their class's threshold (the rest were
 * kept only for the tracker), with their track ids. */
static int published(pipe_pipeline *p, const vp_det *dets, int n, const int64_t *ids)
{
	const float *thr = inf_detector_class_thresholds(p->det);
	int nc = inf_detector_num_classes(p->det), m = 0;
	for (int i = 0; i < n; i++) {
		int c = dets[i].class_id;
		if (c < 0 || c >= nc || !(dets[i].score >= thr[c]))
			continue;
		p->pub_dets[m] = dets[i];
		p->pub_ids[m++] = ids ? ids[i] : -1;
	}
	return m;
}

int pipe_analytics_publish(pipe_pipeline *p, pipe_stream *s, vp_frame *f, const vp_det *dets, int n,
                           int *n_pub, int64_t *t_pub)
{
	pipe_stream_an *a = s->an;
	an_result r = { 0 };
	int rc = an_stream_update(a->an, f->index, f->pts, f->frame_dur, f->wall_us, dets, n, &r);
	if (rc < 0)
		vp_err("tracker", s->cfg->id, "frame %lld not tracked: %s", (long long)f->index, vp_strerror(rc));
	a->last_frame = f->index;
	a->last_pts = f->pts;
	sync_counts(s);
	int npub = published(p, dets, n, rc == 0 ? r.track_ids : NULL);
	int n_labels = 0;
	const char *const *labels = inf_detector_labels(p->det, &n_labels);
	sink_frame_extra x = {
		.track_ids = p->pub_ids,
		.zone_names = a->zone_names, .zone_counts = a->zone_counts, .n_zones = s->cfg->n_zones,
		.line_names = a->line_names, .line_in = a->line_in, .line_out = a->line_out,
		.n_lines = s->cfg->n_lines, .epoch = s->cfg->epoch,
	};
	view_scene sc;
	pipe_view_scene(p, s, f, p->pub_dets, npub, p->pub_ids, &sc);
	/* Events first: a frame message never names a track whose start was not told yet. */
	if (rc == 0) {
		pipe_view_best(p, s, f, &sc, dets, r.track_ids, r.best, n);
		publish_events(p, s, &r, pipe_view_snapshots(p, s, f, &sc, r.events, r.n_events));
	}
	sink_msg *m = NULL;
	int mrc = sink_msg_frame_ex(f, p->pub_dets, npub, labels, n_labels, &x, &m);
	if (mrc < 0)
		return mrc;
	*t_pub = pipe_publish(p, m);
	*n_pub = npub;
	pipe_view_frame(p, s, f, &sc);
	return 0;
}

void pipe_analytics_end(pipe_pipeline *p, pipe_stream *s)
{
	pipe_stream_an *a = s->an;
	if (!a)
		return;
	an_result r = { 0 };
	int rc = an_stream_end(a->an, a->last_frame, a->last_pts, vp_wall_us(), &r);
	if (rc < 0) {
		vp_err("tracker", s->cfg->id, "tracks not ended: %s", vp_strerror(rc));
		return;
	}
	sync_counts(s);
	/* The stream's last frame is gone: these track_end snapshots use the kept best frames. */
	view_scene sc;
	vp_frame none = { .stream_idx = s->idx, .stream_id = s->cfg->id, .index = a->last_frame,
	                  .pts = a->last_pts, .wall_us = vp_wall_us() };
	pipe_view_scene(p, s, &none, NULL, 0, NULL, &sc);
	publish_events(p, s, &r, pipe_view_snapshots(p, s, NULL, &sc, r.events, r.n_events));
}
