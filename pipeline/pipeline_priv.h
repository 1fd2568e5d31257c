/* Internal to pipeline.c, pipeline_metrics.c and pipeline_reload.c: the pipeline's
 * state. Nothing outside pipeline/ includes it. */
#ifndef PIPE_PIPELINE_PRIV_H
#define PIPE_PIPELINE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../analytics/analytics.h"
#include "../decode/source.h"
#include "../infer/detector.h"
#include "../sinks/sink.h"
#include "../view/view.h"
#include "latency.h"
#include "metrics.h"
#include "mqueue.h"
#include "pipeline.h"

/* A stream's analytics (with a tracker): engine thread only, set up with the stream. */
typedef struct pipe_stream_an {
	an_stream *an;
	const char **zone_names, **line_names;
	int *zone_counts;
	int64_t *line_in, *line_out;
	pipe_gauge *tracks;
	pipe_gauge **zone_m;
	pipe_counter **line_in_m, **line_out_m;
	int64_t last_frame;       /* of the last frame tracked, for the events at its end */
	double last_pts;
} pipe_stream_an;

typedef struct pipe_stream {
	pipe_pipeline *p;
	int idx;
	const pipe_source_cfg *cfg;
	dec_stream *dec;
	pthread_t thread;
	bool started;
	bool in_use;              /* main thread: belongs to the current config */
	pipe_source_cfg cfg_copy; /* the config's source with what only the pipeline knows */
	atomic_llong decoded, decode_ns;
	atomic_int failed;        /* the source hit a fatal error */
	/* written by the engine thread only */
	atomic_llong processed, detections;
	atomic_int ended;
	pipe_latency latency;
	pipe_stream_metrics m;
	pipe_stream_an *an;       /* NULL without a tracker */
	int view_slot;            /* live picture slot, -1: no live view */
	view_rec *rec;            /* NULL: not recording */
	pipe_record_metrics rec_m;
	view_rec_stats rec_last;  /* the recorder's stats when it was freed (p->view_lock) */
	view_rec_stats rec_synced; /* main thread: values already copied into rec_m */
	/* main thread: values already copied into the metrics */
	int64_t synced_errors, synced_reconnects, synced_dropped;
} pipe_stream;

/* A batch popped by the engine thread, referenced until published. */
typedef struct pipe_batch {
	vp_frame **frames;
	int *streams;             /* stream slot of each frame */
	int n;
	bool submitted;           /* in the detector until collected */
} pipe_batch;

struct pipe_pipeline {
	const pipe_config *cfg;
	const pipe_config *start_cfg; /* the model, tracker and sinks in use came from it */
	pipe_stream *streams;
	int n, cap;          /* slots ever used, slots allocated */
	pipe_mq *mq;
	inf_detector *det;
	sink_set *sinks;
	pthread_t engine;
	bool engine_started;
	atomic_int finished;
	atomic_llong busy_since;  /* mono ns when the current batch started, 0 when idle */
	atomic_int stopping;
	atomic_llong sink_ns;
	pipe_metrics *metrics;
	pipe_core_metrics core;
	pipe_sink_metrics *sink_m;
	sink_counters *sink_synced;
	int64_t synced_capture_failures;   /* the engine's CUDA graph capture failures copied so far */
	int max_batch, max_dets, timeout_ms;
	bool device_frames_ok;    /* the engine takes frames in GPU memory (NVDEC) */
	int gpu;                  /* pipeline.device: CUDA device index, -1 for cpu */
	/* engine thread scratch, sized at start: two batches, one of them may be in flight */
	pipe_batch batches[2];
	int *ended, *counts;
	vp_det *dets;
	/* with a tracker: one frame's published detections and their track ids */
	vp_det *pub_dets;
	int64_t *pub_ids;
	int64_t next_track_id;    /* ids of every stream's tracks; never reused */
	/* The tracker settings of the start: the detector's candidates were chosen for them, so
	 * streams a reload adds are tracked the same way (a changed tracker: needs a restart). */
	pipe_tracker_cfg tracker;
	pipe_view_hooks view;
	/* The engine frees a stream's recorder when the stream ends while the main thread reads
	 * its stats for the metrics. */
	pthread_mutex_t view_lock;
	char (*snap_names)[VIEW_SNAP_NAME_MAX];   /* one frame's snapshot names, engine thread */
	int snap_cap;
};

/* Sets up slot i for source cfg (borrowed) and, when run, starts its thread. */
int pipe_stream_start(pipe_pipeline *p, int i, const pipe_source_cfg *cfg, bool run);
/* Hands m (consumed) to every sink; returns when that finished, on the monotonic clock. */
int64_t pipe_publish(pipe_pipeline *p, sink_msg *m);

/* pipeline_analytics.c. Sets up s's tracker, zones, lines and their metrics (resolving
 * their classes against the model's labels); no-op without a tracker. */
int pipe_analytics_setup(pipe_pipeline *p, pipe_stream *s);
void pipe_analytics_free(pipe_stream *s);
/* Tracks f's detections (all candidates) and publishes its events, then its frame message
 * (the detections at or above the model's thresholds, with track ids and counts).
 * *n_pub: detections in the message; *t_pub: when the frame message was handed over. */
int pipe_analytics_publish(pipe_pipeline *p, pipe_stream *s, vp_frame *f, const vp_det *dets, int n,
                           int *n_pub, int64_t *t_pub);
/* The stream ended: its tracks end and leave their zones (events published before EOS). */
void pipe_analytics_end(pipe_pipeline *p, pipe_stream *s);

/* pipeline_view.c: the view stage's share of each frame (view/view.h). */
int pipe_view_stream_setup(pipe_pipeline *p, pipe_stream *s);
/* Frames of a stream the view may hold at once (each until its thread scaled it): the
 * decoder's pool gets that much more room so the view never makes it wait. */
int pipe_view_frames_held(const pipe_pipeline *p, const pipe_source_cfg *src);
/* The stream ended: its recording's last segment is finished. */
void pipe_view_stream_end(pipe_stream *s);
/* What the view draws over f: the published detections and ids, the stream's counts. */
void pipe_view_scene(pipe_pipeline *p, const pipe_stream *s, const vp_frame *f, const vp_det *dets,
                     int n, const int64_t *ids, view_scene *sc);
/* After f's frame message: its live picture and recording, when due. */
void pipe_view_frame(pipe_pipeline *p, pipe_stream *s, vp_frame *f, const view_scene *sc);
/* Before f's n events are published: their snapshot names (VIEW_SNAP_NAME_MAX apart, ""
 * for none), or NULL when no snapshots are taken. */
const char *pipe_view_snapshots(pipe_pipeline *p, const pipe_stream *s, vp_frame *f, const view_scene *sc,
                                const an_event *evs, int n);
/* Detections that became their track's best: their frames are kept for track_end. */
void pipe_view_best(pipe_pipeline *p, const pipe_stream *s, vp_frame *f, const view_scene *sc, const vp_det *cands,
                    const int64_t *ids, const unsigned char *best, int n);
/* Main thread: the recording's counters into its metrics. */
void pipe_view_sync_metrics(pipe_pipeline *p, pipe_stream *s);
/* An event message as published, for the recent-events list. */
void pipe_view_event_message(pipe_pipeline *p, const sink_msg *m);

/* Registers the core and per-sink metrics (no-op without a registry). */
int pipe_pipeline_setup_metrics(pipe_pipeline *p);

#endif
