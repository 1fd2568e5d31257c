/* The watch thread: one watch on everything under PREFIX; any event makes the agent read
 * again. The coordinator's load is one open stream per node, whatever the camera count. */
#include <stdlib.h>
#include <time.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "fleet_priv.h"

static void on_event(void *ctx, int n_events, int64_t rev)
{
	(void)n_events, (void)rev;
	fleet_node *n = ctx;
	pthread_mutex_lock(&n->lock);
	n->dirty = true;
	pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
}

static void pause_ms(const fleet_node *n, int ms)
{
	for (int i = 0; i < ms / 50 && !atomic_load(&n->stop); i++)
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
}

void *fl_watch_main(void *arg)
{
	fleet_node *n = arg;
	char *folder = fl_key(n->prefix, "", NULL);
	if (!folder)
		return NULL;
	while (!atomic_load(&n->stop)) {
		pthread_mutex_lock(&n->lock);
		int64_t rev = n->read_rev;
		pthread_mutex_unlock(&n->lock);
		if (!rev) {              /* the agent has not read PREFIX yet */
			pause_ms(n, 100);
			continue;
		}
		int rc = etcd_watch_prefix(n->watch_api, folder, rev + 1, &n->stop, on_event, n);
		if (atomic_load(&n->stop))
			break;
		vp_debug("fleet", n->node_id, "watch ended (%s): reading again", vp_strerror(rc));
		/* Events may have been missed: the agent reads again and the watch resumes from there. */
		on_event(n, 0, 0);
		pause_ms(n, 300);
	}
	free(folder);
	return NULL;
}
