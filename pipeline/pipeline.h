/* The running pipeline: one thread per source (demux + decode), bounded per-stream
 * queues, one engine thread (batch -> preprocess -> infer -> heads -> publish), and the
 * sink set with a thread per sink. The pipeline owns every thread and queue; stages
 * never see each other. */
#ifndef PIPE_PIPELINE_H
#define PIPE_PIPELINE_H

#include <stdint.h>

#include "config.h"
#include "metrics.h"

typedef struct pipe_pipeline pipe_pipeline;

typedef struct pipe_stream_stats {
	const char *id;
	int64_t decoded;      /* frames out of the decoder (incl. those skipped by interval) */
	int64_t processed;    /* frame messages published */
	int64_t dropped;      /* dropped by a drop_oldest queue */
	int64_t errors;       /* decode errors + fatal source errors */
	int64_t detections;
	int64_t total_hint;   /* expected frames of a file (0 = unknown) */
	int state;            /* enum dec_state */
	int ended;
	double lat_p50_ms, lat_p90_ms, lat_p99_ms;   /* decode -> publish */
} pipe_stream_stats;

/* Loads the model, opens sinks and sources and starts every thread. cfg is borrowed and
 * must outlive the pipeline; so must metrics (NULL: no metrics). Returns < 0 (reason
 * logged) when it cannot start. */
int pipe_pipeline_start(const pipe_config *cfg, pipe_metrics *metrics, pipe_pipeline **ret);
/* The view stage's objects a pipeline feeds (view/view.h); NULL members: off. Created and
 * freed by the caller, after the pipeline is freed. */
typedef struct pipe_view_hooks {
	struct view_live *live;
	struct view_snaps *snaps;
	struct view_events *events;
} pipe_view_hooks;
/* pipe_pipeline_start feeding the view stage too. */
int pipe_pipeline_start_view(const pipe_config *cfg, pipe_metrics *metrics, const pipe_view_hooks *view,
                             pipe_pipeline **ret);
/* Copies counters kept elsewhere (decoder errors, reconnects, state, queue drops, sink
 * counters) into the metrics; called from the main loop's tick. */
void pipe_pipeline_sync_metrics(pipe_pipeline *p);
/* Asks the sources to stop reading; queues drain and every stream gets its EOS. */
void pipe_pipeline_stop(pipe_pipeline *p);
/* Parts of a config that a reload does not apply (they need a restart). */
enum { PIPE_RELOAD_MODEL = 1, PIPE_RELOAD_TRACKER = 2, PIPE_RELOAD_SINKS = 4 };
/* Applies a new config (SIGHUP): sources with a new id start, sources whose id is gone
 * or whose settings changed stop (they drain and get their EOS) and restart if still
 * present; the others are not touched. Model, tracker and sink changes need a restart:
 * each is logged as not applied and set in *ret_not_applied (PIPE_RELOAD_* bits). newcfg
 * is borrowed and must outlive the pipeline. Returns the number of sources started +
 * stopped, or < 0. */
int pipe_pipeline_reload(pipe_pipeline *p, const pipe_config *newcfg, int *ret_not_applied);
/* 1 while a stream of source id runs or drains (its end not yet handed to the sinks), 0
 * once every stream of it ended: a fleet node deletes its claim on a camera only then. */
int pipe_pipeline_source_active(pipe_pipeline *p, const char *id);
/* Each sink's count of messages accepted so far, into marks (up to cap of them). Returns
 * the number of sinks (more than cap: call again with room for them). */
int pipe_pipeline_sink_marks(pipe_pipeline *p, int64_t *marks, int cap);
/* 1 once every sink has settled (sent, dropped or failed: sink.h) as many messages as
 * marks says it had accepted: everything published before the marks left the process
 * or was counted lost. */
int pipe_pipeline_sinks_reached(pipe_pipeline *p, const int64_t *marks, int n);
/* How long the engine has been inside its current batch (0 when waiting for frames):
 * the watchdog is only fed while this stays short, so a hung GPU gets us restarted. */
int64_t pipe_pipeline_engine_busy_ns(pipe_pipeline *p);
/* 1 when every stream ended and its messages were handed to the sinks. */
int pipe_pipeline_finished(pipe_pipeline *p);
int pipe_pipeline_n_streams(const pipe_pipeline *p);
void pipe_pipeline_stream_stats(pipe_pipeline *p, int i, pipe_stream_stats *ret);
/* Stage times (ns totals) for the benchmark table. */
typedef struct pipe_stage_times {
	int64_t decode_ns, preprocess_ns, inference_ns, postprocess_ns, sink_ns, frames;
} pipe_stage_times;
void pipe_pipeline_stage_times(pipe_pipeline *p, pipe_stage_times *ret);
/* Joins every thread, closes sinks (flushing them), frees everything. Returns 0, or 1
 * when a source failed. */
int pipe_pipeline_free(pipe_pipeline **p);

#endif
