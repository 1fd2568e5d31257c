/* Output messages (../shared/docs/output-schema.md), serialised once as a JSON line and
 * shared by reference between all sinks. */
#ifndef SINK_MSG_H
#define SINK_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"

typedef struct sink_msg {
	int refcount;            /* private */
	const char *stream;      /* borrowed source id, e.g. for MQTT topic templates */
	int eos;
	size_t len;              /* bytes in text, including the final '\n' */
	char *text;              /* one JSON object + '\n', NUL-terminated after len */
} sink_msg;

/* Frame message for f with n detections (sorted by descending score by the callee).
 * labels may be NULL (no "label" keys); n_labels bounds class ids looked up in it. */
int sink_msg_frame(const vp_frame *f, const vp_det *dets, int n, const char *const *labels,
                   int n_labels, sink_msg **ret_msg);
int sink_msg_eos(const char *stream, int64_t frames, int64_t processed, int64_t dropped,
                 int64_t errors, sink_msg **ret_msg);
sink_msg *sink_msg_ref(sink_msg *m);
void sink_msg_unref(sink_msg **m);

#endif
