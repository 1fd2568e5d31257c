/* File items (file sources with loop: false): work processed once, not leased cameras.
 * The agent thread marks an item done at its end (PREFIX/done/<id>) and, while it runs,
 * writes its checkpoint (PREFIX/progress/<id>) for the next owner to resume from. */
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_time.h"
#include "fleet_priv.h"

/* A checkpoint is written at most this often. It says how far the sinks have settled the
 * item's messages (settle.c), whatever their flush_ms. */
enum { CHECKPOINT_MS = 2000 };
#define MS 1000000LL

/* File items whose stream reached its end and whose every message the sinks settled:
 * PREFIX/done/<id> is written first, so no node claims the item again once its claim is
 * gone; then the claim is deleted as on a release. */
static bool ended_while_running(const fl_cam *c) { return c->run && c->ended && c->flushed; }

void fl_items_finish_done(fleet_node *n)
{
	for (;;) {
		fl_cam c = { 0 };
		int i = fl_next_cam(n, ended_while_running, &c);
		if (i < 0)
			return;
		char *key = fl_key(n->prefix, "done", c.id), *ck = fl_key(n->prefix, "progress", c.id);
		char *value = fl_done_value(n->node_id, c.epoch, c.start + c.frames, c.errors, c.start);
		int rc = key && ck && value ? etcd_put(n->api, key, value, 0) : -ENOMEM;
		/* The checkpoint is of no use once done (a reset item starts from frame 0). */
		if (rc == 0)
			rc = etcd_delete(n->api, ck, 0);
		free(key);
		free(ck);
		free(value);
		if (rc < 0)
			return;          /* retried on the next turn of the loop */
		vp_info("fleet", c.id, "file item done: frames %lld to %lld, epoch %lld", (long long)c.start,
		        (long long)(c.start + c.frames), (long long)c.epoch);
		pthread_mutex_lock(&n->lock);
		/* Only this thread removes entries, so i is still this camera. */
		fl_stop_cam(n, &n->cams[i], true);
		n->cams[i].stopped = true;          /* its stream has ended already */
		pthread_mutex_unlock(&n->lock);
	}
}

/* Writes each running file item's checkpoint: PREFIX/progress/<id>, not under the lease,
 * so that it outlives this node and the next owner resumes from it. */
void fl_items_checkpoint(fleet_node *n)
{
	int64_t now = vp_mono_ns();
	if (now < n->next_checkpoint_ns)
		return;
	n->next_checkpoint_ns = now + CHECKPOINT_MS * MS;
	for (int i = 0;; i++) {
		pthread_mutex_lock(&n->lock);
		if (i >= n->n_cams) {
			pthread_mutex_unlock(&n->lock);
			return;
		}
		fl_cam *p = &n->cams[i];
		int64_t frame = p->start + p->safe_frames;
		bool due = p->run && p->work && !p->ended && frame > p->ck_written;
		fl_cam c = *p;
		pthread_mutex_unlock(&n->lock);
		if (!due)
			continue;
		char *key = fl_key(n->prefix, "progress", c.id);
		char *value = fl_progress_value(n->node_id, c.epoch, frame);
		int rc = key && value ? etcd_put(n->api, key, value, 0) : -ENOMEM;
		free(key);
		free(value);
		if (rc < 0)
			return;          /* the next period writes a newer one */
		pthread_mutex_lock(&n->lock);
		n->cams[i].ck_written = frame;   /* only this thread removes entries */
		pthread_mutex_unlock(&n->lock);
	}
}
