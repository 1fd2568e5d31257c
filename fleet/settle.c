/* Main thread: which of the file items' published frames the sinks have settled (written
 * out, delivered, or counted lost: sinks/sink.h). A done mark or checkpoint that ran ahead
 * of a buffered sink would lose the frames in its buffer if this node died then: the next
 * owner resumes after them. So the node takes a snapshot (each item's frames, then each
 * sink's accepted count), waits until every sink has settled that many, and only then
 * lets the agent checkpoint those frames or mark the ended items done. One snapshot is
 * pending at a time; the next is taken on the tick it is reached. */
#include <stdlib.h>

#include "../pipeline/vp_log.h"
#include "../pipeline/vp_time.h"
#include "fleet_priv.h"

/* After this long a pending snapshot is logged once: a sink that neither delivers nor
 * fails (a blocking peer that stopped reading) holds the items' done marks. */
#define SETTLE_WARN_NS (10 * 1000000000LL)

static int take_marks(fleet_node *n, pipe_pipeline *p)
{
	int k = pipe_pipeline_sink_marks(p, n->marks, n->cap_marks);
	if (k > n->cap_marks) {
		int64_t *m = realloc(n->marks, (size_t)k * sizeof(*m));
		if (!m)
			return -1;          /* tried again on the next tick */
		n->marks = m;
		n->cap_marks = k;
		k = pipe_pipeline_sink_marks(p, n->marks, n->cap_marks);
	}
	n->n_marks = k;
	return 0;
}

bool fl_settle_tick(fleet_node *n, pipe_pipeline *p)
{
	bool any = false;
	if (n->snap_pending && pipe_pipeline_sinks_reached(p, n->marks, n->n_marks)) {
		for (int i = 0; i < n->n_cams; i++) {
			fl_cam *c = &n->cams[i];
			c->safe_frames = c->frames_snap;
			if (c->ended_snap && !c->flushed)
				c->flushed = any = true;
		}
		n->snap_pending = false;
	} else if (n->snap_pending && !n->snap_warned && vp_mono_ns() - n->snap_ns > SETTLE_WARN_NS) {
		vp_warn("fleet", n->node_id, "the sinks have not settled messages published %lld s ago: file "
		        "items are marked done (and checkpointed) once they have",
		        (long long)((vp_mono_ns() - n->snap_ns) / 1000000000LL));
		n->snap_warned = true;
	}
	if (n->snap_pending)
		return any;
	/* Frames first (note_ended read them this tick), marks after: every frame counted was
	 * accepted by the sinks before their marks were read. */
	for (int i = 0; i < n->n_cams; i++) {
		n->cams[i].frames_snap = n->cams[i].frames;
		n->cams[i].ended_snap = n->cams[i].ended;
	}
	if (take_marks(n, p) == 0) {
		n->snap_pending = true;
		n->snap_ns = vp_mono_ns();
		n->snap_warned = false;
	}
	return any;
}
