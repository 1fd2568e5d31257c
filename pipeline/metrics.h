/* Metrics: a registry of counters, gauges and fixed-bucket histograms, rendered in the
 * Prometheus text exposition format (0.0.4) and served over HTTP.
 *
 * Series are registered at start-up (and on reload, for new streams/sinks) under a lock;
 * updates are lock-free atomics, safe from any thread. Every update function accepts
 * NULL and does nothing, and the pipe_metrics_add_* helpers accept a NULL registry
 * (filling NULL handles), so the pipeline's code is the same with metrics off. */
#ifndef PIPE_METRICS_H
#define PIPE_METRICS_H

#include <stdint.h>
#include <stdio.h>

typedef struct pipe_metrics pipe_metrics;
typedef struct pipe_counter pipe_counter;
typedef struct pipe_gauge pipe_gauge;
typedef struct pipe_histogram pipe_histogram;
typedef struct pipe_metrics_server pipe_metrics_server;

typedef struct pipe_label {
	const char *name;             /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
	const char *value;            /* any UTF-8; escaped when rendered */
} pipe_label;

int pipe_metrics_new(pipe_metrics **ret);
void pipe_metrics_free(pipe_metrics **m);

/* Registering returns the series of family `name` with these label values, creating the
 * family on first use (name [a-zA-Z_:][a-zA-Z0-9_:]*). Registering the same labels again
 * returns the same series, so a stream removed and re-added by a reload keeps counting.
 * -EINVAL: bad name, labels differing from the family's, a type or bucket mismatch. */
int pipe_metrics_counter(pipe_metrics *m, const char *name, const char *help,
                         const pipe_label *labels, int n_labels, pipe_counter **ret);
int pipe_metrics_gauge(pipe_metrics *m, const char *name, const char *help,
                       const pipe_label *labels, int n_labels, pipe_gauge **ret);
/* bounds: upper bucket bounds, strictly increasing and finite; +Inf is implicit. */
int pipe_metrics_histogram(pipe_metrics *m, const char *name, const char *help,
                           const pipe_label *labels, int n_labels,
                           const double *bounds, int n_bounds, pipe_histogram **ret);

void pipe_counter_add(pipe_counter *c, uint64_t n);
static inline void pipe_counter_inc(pipe_counter *c) { pipe_counter_add(c, 1); }
/* Adds what a total kept elsewhere grew by since *synced (the last value copied), then
 * remembers now: counters mirror other modules' running totals this way. */
void pipe_counter_sync(pipe_counter *c, int64_t now, int64_t *synced);
uint64_t pipe_counter_get(const pipe_counter *c);
void pipe_gauge_set(pipe_gauge *g, double v);
void pipe_gauge_add(pipe_gauge *g, double delta);
double pipe_gauge_get(const pipe_gauge *g);
/* NaN observations are ignored. */
void pipe_histogram_observe(pipe_histogram *h, double v);

/* Writes every family in registration order. Returns 0 or -EIO. */
int pipe_metrics_render(pipe_metrics *m, FILE *out);

/* ---- vapd's metric set (names documented in docs/service.md) ---- */

/* Value of vapd_stream_state. */
enum pipe_stream_state {
	PIPE_STREAM_STOPPED = 0, PIPE_STREAM_CONNECTING, PIPE_STREAM_RUNNING,
	PIPE_STREAM_RECONNECTING, PIPE_STREAM_FINISHED, PIPE_STREAM_FAILED,
};

typedef struct pipe_stream_metrics {
	pipe_counter *frames_decoded;     /* vapd_stream_frames_decoded_total */
	pipe_counter *frames_processed;   /* vapd_stream_frames_processed_total (went through the model) */
	pipe_counter *frames_skipped;     /* vapd_stream_frames_skipped_total (interval) */
	pipe_counter *frames_dropped;     /* vapd_stream_frames_dropped_total (queue full, drop_oldest) */
	pipe_counter *decode_errors;      /* vapd_stream_decode_errors_total */
	pipe_counter *reconnects;         /* vapd_stream_reconnects_total */
	pipe_counter *detections;         /* vapd_stream_detections_total */
	pipe_gauge *state;                /* vapd_stream_state (enum pipe_stream_state) */
	pipe_histogram *latency;          /* vapd_stream_latency_seconds: decoded -> published */
} pipe_stream_metrics;

typedef struct pipe_sink_metrics {
	pipe_counter *sent;               /* vapd_sink_messages_sent_total */
	pipe_counter *dropped;            /* vapd_sink_messages_dropped_total (queue full) */
	pipe_counter *failed;             /* vapd_sink_messages_failed_total (write errors) */
	pipe_gauge *queue_depth;          /* vapd_sink_queue_depth */
	pipe_gauge *connected;            /* vapd_sink_connected (1/0; always 1 for files) */
} pipe_sink_metrics;

/* Label values of vapd_stage_latency_seconds{stage=...}. */
enum pipe_stage {
	PIPE_STAGE_DECODE = 0,            /* packet read -> frame decoded */
	PIPE_STAGE_QUEUE,                 /* frame decoded -> taken by the batcher */
	PIPE_STAGE_PREPROCESS,            /* per batch */
	PIPE_STAGE_INFER,                 /* per batch */
	PIPE_STAGE_POSTPROCESS,           /* per batch: heads + NMS */
	PIPE_STAGE_PUBLISH,               /* detections ready -> handed to every sink queue */
	PIPE_STAGE_COUNT
};
const char *pipe_stage_name(enum pipe_stage s);

typedef struct pipe_core_metrics {
	pipe_histogram *stage_latency[PIPE_STAGE_COUNT]; /* vapd_stage_latency_seconds */
	pipe_histogram *batch_size;       /* vapd_batch_size */
	pipe_gauge *gpu_memory_bytes;     /* vapd_gpu_memory_used_bytes (0 without GPU) */
	pipe_counter *reloads;            /* vapd_config_reloads_total */
	pipe_counter *reload_failures;    /* vapd_config_reload_failures_total */
	pipe_counter *graph_capture_failures; /* vapd_cuda_graph_capture_failures_total (engine's count) */
	pipe_gauge *start_time;           /* vapd_start_time_seconds (set here) */
} pipe_core_metrics;

/* Process-wide series, plus vapd_build_info{version,pipeline} = 1. Call once. */
/* A source's recording (sources[].record). */
typedef struct pipe_record_metrics {
	pipe_counter *frames;             /* vapd_record_frames_total */
	pipe_counter *dropped;            /* vapd_record_frames_dropped_total */
	pipe_counter *segments;           /* vapd_record_segments_total */
	pipe_counter *errors;             /* vapd_record_errors_total */
} pipe_record_metrics;
/* Snapshots (snapshots:). */
typedef struct pipe_snapshot_metrics {
	pipe_counter *written;            /* vapd_snapshots_written_total */
	pipe_counter *dropped;            /* vapd_snapshots_dropped_total (queue full) */
	pipe_counter *failed;             /* vapd_snapshots_failed_total */
} pipe_snapshot_metrics;
int pipe_metrics_add_record(pipe_metrics *m, const char *stream, pipe_record_metrics *out);
int pipe_metrics_add_snapshots(pipe_metrics *m, pipe_snapshot_metrics *out);

int pipe_metrics_add_core(pipe_metrics *m, const char *pipeline, pipe_core_metrics *out);
int pipe_metrics_add_stream(pipe_metrics *m, const char *stream, pipe_stream_metrics *out);
int pipe_metrics_add_sink(pipe_metrics *m, const char *sink, pipe_sink_metrics *out);
/* With a tracker: vapd_stream_active_tracks{stream}, vapd_zone_occupancy{stream,zone},
 * vapd_line_crossings_total{stream,line,direction=in|out}. */
int pipe_metrics_add_tracks(pipe_metrics *m, const char *stream, pipe_gauge **ret);
int pipe_metrics_add_zone(pipe_metrics *m, const char *stream, const char *zone, pipe_gauge **ret);
int pipe_metrics_add_line(pipe_metrics *m, const char *stream, const char *line, pipe_counter **ret_in,
                          pipe_counter **ret_out);

/* ---- HTTP endpoint ---- */

/* Serves GET /metrics, /healthz (200 while running), /readyz (503 until set_ready) on
 * listen = "host:port", "[v6addr]:port" or ":port" (all interfaces); port 0 picks a free
 * one. Logs and returns VP_ECONFIG for a malformed address, a negative errno when the
 * address cannot be bound. The registry must outlive the server. */
int pipe_metrics_server_new(pipe_metrics *m, const char *listen, pipe_metrics_server **ret);
/* Stops the server (pipe_metrics_server_stopping turns true first, so stream readers end),
 * then releases the plug-in. */
void pipe_metrics_server_free(pipe_metrics_server **s);
int pipe_metrics_server_port(const pipe_metrics_server *s);
void pipe_metrics_server_set_ready(pipe_metrics_server *s, int ready);

/* ---- more paths on the same server (the live view) ----
 * Every connection has a thread of its own, so a plug-in's handler, and the reader of a
 * response made with MHD_create_response_from_callback, may wait (briefly: a reader should
 * return within a second, and end when pipe_metrics_server_stopping says so) without holding
 * up other clients. */
struct MHD_Connection;
typedef struct pipe_http_plugin {
	const char *name;             /* for the log, e.g. "the live view" */
	void *ctx;
	/* Runs before every request but /healthz and /readyz (which stay open for supervisors):
	 * 1 lets it through; 0: refused, a reply (401) is queued; < 0: drop the connection. NULL:
	 * everything is let through. */
	int (*guard)(void *ctx, struct MHD_Connection *conn);
	/* Answers a GET or HEAD of any path the server does not serve itself (other methods get
	 * 405 first): queues a response and returns 1, or returns 0 to drop the connection. */
	int (*serve)(void *ctx, struct MHD_Connection *conn, const char *url);
	void (*release)(void *ctx);   /* once the server has stopped; may be NULL */
} pipe_http_plugin;
/* One plug-in per server (-EBUSY for a second); copied. The server owns ctx from here. */
int pipe_metrics_server_plug(pipe_metrics_server *s, const pipe_http_plugin *p);
/* Long-lived responses (MJPEG) have slots of their own, n of them (default 8, at most 64),
 * which never take those of requests: a health check gets through however many watch. */
void pipe_metrics_server_set_max_streams(pipe_metrics_server *s, int n);
/* Called by serve before it queues a response that does not end by itself: 0 when conn got a
 * stream slot (kept until the response ends), -EBUSY when all are taken (answer 503). */
int pipe_metrics_server_stream_begin(pipe_metrics_server *s, struct MHD_Connection *conn);
int pipe_metrics_server_stopping(const pipe_metrics_server *s);

#endif
