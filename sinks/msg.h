/* Output messages (../shared/docs/output-schema.md), serialised once as a JSON line and
 * shared by reference between all sinks. */
#ifndef SINK_MSG_H
#define SINK_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "../analytics/events.h"
#include "../pipeline/config.h"
#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"

typedef struct sink_msg {
	int refcount;            /* private */
	const char *stream;      /* borrowed source id, e.g. for MQTT topic templates */
	enum pipe_msg_kind kind; /* which sinks take it (sinks[].messages), MQTT {kind} */
	int eos;
	size_t len;              /* bytes in text, including the final '\n' */
	char *text;              /* one JSON object + '\n', NUL-terminated after len */
} sink_msg;

/* Message kind names as in sinks[].messages and the MQTT topic's {kind}. */
const char *sink_msg_kind_name(enum pipe_msg_kind kind);
/* Frame message for f with n detections (sorted by descending score by the callee).
 * labels may be NULL (no "label" keys); n_labels bounds class ids looked up in it. */
int sink_msg_frame(const vp_frame *f, const vp_det *dets, int n, const char *const *labels,
                   int n_labels, sink_msg **ret_msg);
/* What a frame message may carry besides its detections (any part may be NULL / 0). */
typedef struct sink_frame_extra {
	const int64_t *track_ids;            /* per detection: its track's id, < 0: none */
	const char *const *zone_names;       /* current occupancy of each zone */
	const int *zone_counts;
	int n_zones;
	const char *const *line_names;       /* running totals of each line */
	const int64_t *line_in, *line_out;
	int n_lines;
	long long epoch;                     /* fleet fencing epoch, "epoch" after "stream"; 0: none */
} sink_frame_extra;

/* sink_msg_frame with tracking fields: "track_id" per detection, "zones" and "lines". */
int sink_msg_frame_ex(const vp_frame *f, const vp_det *dets, int n, const char *const *labels,
                      int n_labels, const sink_frame_extra *x, sink_msg **ret_msg);
/* Event message (output-schema.md "Event messages") of stream; snapshot (NULL or "": none)
 * is its snapshot's path relative to snapshots.dir. */
int sink_msg_event(const char *stream, const an_event *ev, const char *const *labels, int n_labels,
                   const char *snapshot, sink_msg **ret_msg);
/* End-of-stream message; error (NULL: none) says why the stream gave nothing usable
 * ("no frames decoded"), as an "error" key. */
int sink_msg_eos(const char *stream, int64_t frames, int64_t processed, int64_t dropped,
                 int64_t errors, const char *error, sink_msg **ret_msg);
/* sink_msg_event and sink_msg_eos of a fleet camera: "epoch" (its claim's etcd revision,
 * > 0) follows "stream", so consumers can drop what a fenced-off owner still sent. */
int sink_msg_event_ex(const char *stream, long long epoch, const an_event *ev,
                      const char *const *labels, int n_labels, const char *snapshot,
                      sink_msg **ret_msg);
int sink_msg_eos_ex(const char *stream, long long epoch, int64_t frames, int64_t processed,
                    int64_t dropped, int64_t errors, const char *error, sink_msg **ret_msg);
sink_msg *sink_msg_ref(sink_msg *m);
void sink_msg_unref(sink_msg **m);

#endif
