/* The pipeline's Prometheus series: registered at start, histograms fed by the threads,
 * counters kept elsewhere (decoder, queues, sinks) copied in by the main loop's tick. */
#include <stdio.h>
#include <stdlib.h>

#include "vp_err.h"

#include "pipeline_priv.h"

int pipe_pipeline_setup_metrics(pipe_pipeline *p)
{
	int rc = pipe_metrics_add_core(p->metrics, p->cfg->name ? p->cfg->name : "vapd", &p->core);
	if (rc < 0)
		return rc;
	int n = sink_set_count(p->sinks);
	p->sink_m = calloc((size_t)n, sizeof(*p->sink_m));
	p->sink_synced = calloc((size_t)n, sizeof(*p->sink_synced));
	if (!p->sink_m || !p->sink_synced)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		/* Sinks have no id in the config: they are named by type and position (file1). */
		char name[32];
		snprintf(name, sizeof(name), "%s%d", sink_type_name(p->cfg->sinks[i].type), i);
		if ((rc = pipe_metrics_add_sink(p->metrics, name, &p->sink_m[i])) < 0)
			return rc;
		pipe_gauge_set(p->sink_m[i].connected, sink_set_connected(p->sinks, i));
	}
	return 0;
}

static int state_metric(const pipe_stream *s, const dec_stats *ds)
{
	if (atomic_load(&s->ended))
		return atomic_load(&s->failed) ? PIPE_STREAM_FAILED : PIPE_STREAM_FINISHED;
	switch (ds->state) {
	case DEC_RUNNING: return PIPE_STREAM_RUNNING;
	case DEC_BACKOFF: return PIPE_STREAM_RECONNECTING;
	case DEC_ENDED: return PIPE_STREAM_FINISHED;
	default: return PIPE_STREAM_CONNECTING;
	}
}

void pipe_pipeline_sync_metrics(pipe_pipeline *p)
{
	if (!p->metrics)
		return;
	for (int i = 0; i < p->n; i++) {
		pipe_stream *s = &p->streams[i];
		dec_stats ds = { 0 };
		if (s->dec)
			dec_stream_get_stats(s->dec, &ds);
		pipe_counter_sync(s->m.decode_errors, ds.errors + atomic_load(&s->failed), &s->synced_errors);
		pipe_counter_sync(s->m.reconnects, ds.reconnects, &s->synced_reconnects);
		pipe_counter_sync(s->m.frames_dropped, pipe_mq_dropped(p->mq, i), &s->synced_dropped);
		pipe_gauge_set(s->m.state, state_metric(s, &ds));
		if (s->cfg && s->cfg->record.present)
			pipe_view_sync_metrics(p, s);
	}
	for (int i = 0; i < sink_set_count(p->sinks); i++) {
		sink_counters c;
		const char *name;
		sink_set_counters(p->sinks, i, &name, &c);
		pipe_counter_sync(p->sink_m[i].sent, c.sent, &p->sink_synced[i].sent);
		pipe_counter_sync(p->sink_m[i].dropped, c.dropped, &p->sink_synced[i].dropped);
		pipe_counter_sync(p->sink_m[i].failed, c.failed, &p->sink_synced[i].failed);
		pipe_gauge_set(p->sink_m[i].connected, sink_set_connected(p->sinks, i));
	}
	if (p->det) {
		inf_engine_stats es;
		inf_detector_engine_stats(p->det, &es);
		pipe_counter_sync(p->core.graph_capture_failures, (int64_t)es.graph_capture_failures, &p->synced_capture_failures);
	}
}
