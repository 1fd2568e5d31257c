/* vapd's own metric names, in one place so the pipeline, the docs and dashboards agree. */
#include "metrics.h"

#include <stddef.h>
#include <time.h>

/* Seconds: 1 ms (a decoded frame) to 10 s (a stalled sink), roughly x2.5 per step. */
static const double latency_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_LATENCY ((int)(sizeof(latency_bounds) / sizeof(latency_bounds[0])))
/* Frames per batch: batch sizes are usually powers of two. */
static const double batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64 };
#define N_BATCH ((int)(sizeof(batch_bounds) / sizeof(batch_bounds[0])))

static const char *const stage_names[PIPE_STAGE_COUNT] = {
	"decode", "queue", "preprocess", "infer", "postprocess", "publish",
};

const char *pipe_stage_name(enum pipe_stage s)
{
	return (unsigned)s < PIPE_STAGE_COUNT ? stage_names[s] : "unknown";
}

typedef struct counter_def {
	size_t offset;                /* of the pipe_counter * in the out struct */
	const char *name, *help;
} counter_def;

static int add_counters(pipe_metrics *m, void *out, const counter_def *defs, int n,
                        const pipe_label *label)
{
	for (int i = 0; i < n; i++) {
		pipe_counter **slot = (pipe_counter **)((char *)out + defs[i].offset);
		int err = pipe_metrics_counter(m, defs[i].name, defs[i].help, label, 1, slot);
		if (err < 0)
			return err;
	}
	return 0;
}

#define SD(field, name, help) { offsetof(pipe_stream_metrics, field), name, help }
static const counter_def stream_counters[] = {
	SD(frames_decoded, "vapd_stream_frames_decoded_total", "Frames decoded."),
	SD(frames_processed, "vapd_stream_frames_processed_total", "Frames run through the model."),
	SD(frames_skipped, "vapd_stream_frames_skipped_total", "Frames skipped by the source interval."),
	SD(frames_dropped, "vapd_stream_frames_dropped_total",
	   "Frames dropped because the stream queue was full (drop_oldest)."),
	SD(decode_errors, "vapd_stream_decode_errors_total", "Packets or frames that failed to decode."),
	SD(reconnects, "vapd_stream_reconnects_total", "Reconnection attempts of a live source."),
	SD(detections, "vapd_stream_detections_total", "Detections published."),
};
#undef SD

int pipe_metrics_add_stream(pipe_metrics *m, const char *stream, pipe_stream_metrics *out)
{
	*out = (pipe_stream_metrics){ 0 };
	if (!m)
		return 0;
	pipe_label l = { "stream", stream };
	int err = add_counters(m, out, stream_counters,
	                       (int)(sizeof(stream_counters) / sizeof(stream_counters[0])), &l);
	if (err < 0)
		return err;
	err = pipe_metrics_gauge(m, "vapd_stream_state",
	                         "0 stopped, 1 connecting, 2 running, 3 reconnecting, 4 finished, 5 failed.",
	                         &l, 1, &out->state);
	if (err < 0)
		return err;
	return pipe_metrics_histogram(m, "vapd_stream_latency_seconds",
	                              "Time from a frame decoded to its detections handed to the sinks.",
	                              &l, 1, latency_bounds, N_LATENCY, &out->latency);
}

#define KD(field, name, help) { offsetof(pipe_sink_metrics, field), name, help }
static const counter_def sink_counters[] = {
	KD(sent, "vapd_sink_messages_sent_total", "Messages the kernel (or the MQTT broker) took in full."),
	KD(dropped, "vapd_sink_messages_dropped_total", "Messages given up on purpose (queue full, slow peer, no subscriber)."),
	KD(failed, "vapd_sink_messages_failed_total", "Messages lost to write errors."),
};
#undef KD

int pipe_metrics_add_sink(pipe_metrics *m, const char *sink, pipe_sink_metrics *out)
{
	*out = (pipe_sink_metrics){ 0 };
	if (!m)
		return 0;
	pipe_label l = { "sink", sink };
	int err = add_counters(m, out, sink_counters,
	                       (int)(sizeof(sink_counters) / sizeof(sink_counters[0])), &l);
	if (err < 0)
		return err;
	err = pipe_metrics_gauge(m, "vapd_sink_queue_depth", "Messages waiting in the sink queue.",
	                         &l, 1, &out->queue_depth);
	if (err < 0)
		return err;
	return pipe_metrics_gauge(m, "vapd_sink_connected",
	                          "1 while the sink has a working peer or open file.", &l, 1,
	                          &out->connected);
}

static int add_stage_histograms(pipe_metrics *m, pipe_core_metrics *out)
{
	for (int s = 0; s < PIPE_STAGE_COUNT; s++) {
		pipe_label l = { "stage", stage_names[s] };
		int err = pipe_metrics_histogram(m, "vapd_stage_latency_seconds",
		                                 "Time spent per pipeline stage (per frame or per batch).",
		                                 &l, 1, latency_bounds, N_LATENCY, &out->stage_latency[s]);
		if (err < 0)
			return err;
	}
	return 0;
}

int pipe_metrics_add_core(pipe_metrics *m, const char *pipeline, pipe_core_metrics *out)
{
	*out = (pipe_core_metrics){ 0 };
	if (!m)
		return 0;
	pipe_label info[] = { { "version", VP_VERSION }, { "pipeline", pipeline ? pipeline : "" } };
	pipe_gauge *build;
	int err = pipe_metrics_gauge(m, "vapd_build_info", "Constant 1, labelled with the version.",
	                             info, 2, &build);
	if (err < 0)
		return err;
	pipe_gauge_set(build, 1);
	if ((err = pipe_metrics_gauge(m, "vapd_start_time_seconds", "Start time, Unix seconds.",
	                              NULL, 0, &out->start_time)) < 0)
		return err;
	pipe_gauge_set(out->start_time, (double)time(NULL));
	if ((err = add_stage_histograms(m, out)) < 0)
		return err;
	if ((err = pipe_metrics_histogram(m, "vapd_batch_size", "Frames per inference batch.", NULL, 0,
	                                  batch_bounds, N_BATCH, &out->batch_size)) < 0)
		return err;
	if ((err = pipe_metrics_gauge(m, "vapd_gpu_memory_used_bytes",
	                              "Device memory held by vapd (0 without a GPU).", NULL, 0,
	                              &out->gpu_memory_bytes)) < 0)
		return err;
	if ((err = pipe_metrics_counter(m, "vapd_config_reloads_total",
	                                "Configuration reloads applied (SIGHUP).", NULL, 0,
	                                &out->reloads)) < 0)
		return err;
	if ((err = pipe_metrics_counter(m, "vapd_config_reload_failures_total",
	                                "Reloads rejected because the new configuration was invalid.",
	                                NULL, 0, &out->reload_failures)) < 0)
		return err;
	return pipe_metrics_counter(m, "vapd_cuda_graph_capture_failures_total",
	                            "CUDA graph captures of the engine that failed (each batch size retries "
	                            "up to 3 times, then runs node by node).",
	                            NULL, 0, &out->graph_capture_failures);
}

int pipe_metrics_add_tracks(pipe_metrics *m, const char *stream, pipe_gauge **ret)
{
	*ret = NULL;
	if (!m)
		return 0;
	pipe_label l = { "stream", stream };
	return pipe_metrics_gauge(m, "vapd_stream_active_tracks",
	                          "Confirmed tracks that took a detection in the stream's last frame.",
	                          &l, 1, ret);
}

int pipe_metrics_add_zone(pipe_metrics *m, const char *stream, const char *zone, pipe_gauge **ret)
{
	*ret = NULL;
	if (!m)
		return 0;
	pipe_label l[2] = { { "stream", stream }, { "zone", zone } };
	return pipe_metrics_gauge(m, "vapd_zone_occupancy", "Tracked objects inside the zone now.", l, 2,
	                          ret);
}

int pipe_metrics_add_line(pipe_metrics *m, const char *stream, const char *line, pipe_counter **ret_in,
                          pipe_counter **ret_out)
{
	*ret_in = *ret_out = NULL;
	if (!m)
		return 0;
	static const char *const help = "Tracked objects that crossed the line (in: from its left to its right).";
	pipe_label l[3] = { { "stream", stream }, { "line", line }, { "direction", "in" } };
	int err = pipe_metrics_counter(m, "vapd_line_crossings_total", help, l, 3, ret_in);
	l[2].value = "out";
	return err < 0 ? err : pipe_metrics_counter(m, "vapd_line_crossings_total", help, l, 3, ret_out);
}

int pipe_metrics_add_record(pipe_metrics *m, const char *stream, pipe_record_metrics *out)
{
	*out = (pipe_record_metrics){ 0 };
	if (!m)
		return 0;
	pipe_label l = { "stream", stream };
	int rc = pipe_metrics_counter(m, "vapd_record_frames_total", "Frames written to the source's recording.",
	                              &l, 1, &out->frames);
	if (rc == 0)
		rc = pipe_metrics_counter(m, "vapd_record_frames_dropped_total",
		                          "Frames the recording wanted but did not get (queue full, or after an error).",
		                          &l, 1, &out->dropped);
	if (rc == 0)
		rc = pipe_metrics_counter(m, "vapd_record_segments_total", "Recording files started.", &l, 1,
		                          &out->segments);
	if (rc == 0)
		rc = pipe_metrics_counter(m, "vapd_record_errors_total",
		                          "Recording failures: encoder opens, segment starts and writes, frames not drawn.",
		                          &l, 1, &out->errors);
	return rc;
}

int pipe_metrics_add_snapshots(pipe_metrics *m, pipe_snapshot_metrics *out)
{
	*out = (pipe_snapshot_metrics){ 0 };
	if (!m)
		return 0;
	int rc = pipe_metrics_counter(m, "vapd_snapshots_written_total", "Snapshot files written.", NULL, 0,
	                              &out->written);
	if (rc == 0)
		rc = pipe_metrics_counter(m, "vapd_snapshots_dropped_total",
		                          "Event snapshots not taken because the writer's queue was full.", NULL, 0,
		                          &out->dropped);
	if (rc == 0)
		rc = pipe_metrics_counter(m, "vapd_snapshots_failed_total",
		                          "Snapshots that could not be drawn, encoded or written.", NULL, 0, &out->failed);
	return rc;
}
