#include "daemon_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../decode/source.h"
#include "vp_err.h"
#include "vp_log.h"
#include "vp_time.h"

/* Recent events the page and /api/events can show. */
enum { VIEW_EVENTS = 256 };

int pipe_daemon_view_start(pipe_daemon_view *v, const pipe_config *cfg, pipe_metrics *metrics,
                           pipe_metrics_server *srv, pipe_view_hooks *hooks)
{
	int rc;
	memset(hooks, 0, sizeof(*hooks));
	if (cfg->snapshots.present && (rc = pipe_metrics_add_snapshots(metrics, &v->snap_m)) < 0)
		return rc;
	if (cfg->snapshots.present && (rc = view_snaps_new(&cfg->snapshots, cfg->view.quality, VIEW_MAX_SCENE_DETS, &v->snaps)) < 0) {
		vp_err("snapshots", NULL, "cannot write to %s: %s", cfg->snapshots.dir, vp_strerror(rc));
		return rc;
	}
	hooks->snaps = v->snaps;
	if (!srv)
		return 0;
	if ((rc = view_live_new(&cfg->view, VIEW_MAX_SCENE_DETS, &v->live)) < 0 ||
	    (rc = view_events_new(VIEW_EVENTS, &v->events)) < 0 || (rc = view_board_new(&v->board)) < 0) {
		vp_err("view", NULL, "cannot start the live view: %s", vp_strerror(rc));
		return rc;
	}
	view_http_args a = { .cfg = cfg, .live = v->live, .events = v->events, .board = v->board,
	                     .api_fill = v->api_fill, .api_ctx = v->api_ctx };
	if ((rc = view_http_attach(srv, &a)) < 0) {
		vp_err("view", NULL, "cannot serve the live view: %s", vp_strerror(rc));
		return rc;
	}
	hooks->live = v->live;
	hooks->events = v->events;
	return 0;
}

static const char *state_name(const pipe_stream_stats *s)
{
	if (s->ended)
		return "ended";
	switch (s->state) {
	case DEC_RUNNING: return "running";
	case DEC_BACKOFF: return "reconnecting";
	case DEC_ENDED: return "ended";
	default: return "connecting";
	}
}

static int fit(pipe_daemon_view *v, int n)
{
	if (n <= v->cap)
		return 0;
	view_stream_info *r = realloc(v->rows, (size_t)n * sizeof(*r));
	if (r)
		v->rows = r;
	int64_t *lp = realloc(v->last_processed, (size_t)n * sizeof(*lp));
	if (lp)
		v->last_processed = lp;
	double *f = realloc(v->fps, (size_t)n * sizeof(*f));
	if (f)
		v->fps = f;
	if (!r || !lp || !f)
		return -ENOMEM;
	for (int i = v->cap; i < n; i++) {
		lp[i] = 0;
		f[i] = 0;
	}
	v->cap = n;
	return 0;
}

void pipe_daemon_view_tick(pipe_daemon_view *v, pipe_pipeline *p)
{
	if (v->snaps) {
		view_snaps_stats st;
		view_snaps_get_stats(v->snaps, &st);
		pipe_counter_sync(v->snap_m.written, st.written, &v->snap_synced.written);
		pipe_counter_sync(v->snap_m.dropped, st.dropped, &v->snap_synced.dropped);
		pipe_counter_sync(v->snap_m.failed, st.failed, &v->snap_synced.failed);
	}
	if (!v->board || !p)
		return;
	int n = pipe_pipeline_n_streams(p);
	if (fit(v, n) < 0)
		return;
	int64_t now = vp_mono_ns();
	double dt = v->last_ns ? (now - v->last_ns) / 1e9 : 0;
	v->last_ns = now;
	for (int i = 0; i < n; i++) {
		pipe_stream_stats s;
		pipe_pipeline_stream_stats(p, i, &s);
		view_stream_info *r = &v->rows[i];
		memset(r, 0, sizeof(*r));
		snprintf(r->id, sizeof(r->id), "%s", s.id ? s.id : "");
		snprintf(r->state, sizeof(r->state), "%s", state_name(&s));
		/* Smoothed over about two seconds of ticks: steady enough to read on the page. */
		if (dt > 0) {
			double inst = (double)(s.processed - v->last_processed[i]) / dt;
			v->fps[i] = v->fps[i] == 0 ? inst : v->fps[i] + (inst - v->fps[i]) * (dt / 2.0 > 1 ? 1 : dt / 2.0);
		}
		if (s.ended)
			v->fps[i] = 0;
		v->last_processed[i] = s.processed;
		r->fps = v->fps[i];
		r->lat_p50_ms = s.lat_p50_ms;
		r->lat_p99_ms = s.lat_p99_ms;
		r->decoded = s.decoded;
		r->processed = s.processed;
		r->dropped = s.dropped;
		r->errors = s.errors;
		r->detections = s.detections;
	}
	view_board_set(v->board, v->rows, n);
}

void pipe_daemon_view_free(pipe_daemon_view *v)
{
	view_snaps_free(&v->snaps);
	view_live_free(&v->live);
	view_events_free(&v->events);
	view_board_free(&v->board);
	free(v->rows);
	free(v->last_processed);
	free(v->fps);
	memset(v, 0, sizeof(*v));
}
