#include "plan.h"

/* Three passes, so capacity goes first to what the node holds already: stops (what they
 * free may be reused), then our own idle claims and claims to renew, then new claims. */
int fl_plan(const fl_cam_view *cams, int n, int capacity, int releases, enum fl_action *act)
{
	int running = 0, changes = 0;
	for (int i = 0; i < n; i++)
		running += cams[i].running != 0;
	for (int i = 0; i < n; i++) {
		const fl_cam_view *c = &cams[i];
		act[i] = FL_KEEP;
		if (!c->running)
			continue;
		if (c->claim == FL_CLAIM_OTHER || (c->claim == FL_CLAIM_NONE && !c->target_is_me)) {
			act[i] = FL_DROP;
			running--;          /* the claim is not ours: its place is free at once */
		} else if (c->claim == FL_CLAIM_MINE && !c->target_is_me && !c->work_item && releases > 0) {
			/* Our claim stays until the stream stopped: it keeps its place till then. A
			 * file item is never moved: it runs to its end where it started, since the
			 * new owner would process it again from the start. */
			releases--;
			act[i] = FL_RELEASE;
		} else {
			continue;
		}
		changes++;
	}
	for (int i = 0; i < n; i++) {
		const fl_cam_view *c = &cams[i];
		if (c->running) {
			/* Our claim vanished (the lease expired) while we kept running: claim again. */
			if (c->claim == FL_CLAIM_NONE && c->target_is_me && act[i] == FL_KEEP)
				act[i] = FL_CLAIM, changes++;
		} else if (c->claim == FL_CLAIM_MINE) {
			act[i] = c->target_is_me && running < capacity ? FL_ADOPT : FL_FORGET;
			running += act[i] == FL_ADOPT;
			changes++;
		}
	}
	for (int i = 0; i < n; i++) {
		const fl_cam_view *c = &cams[i];
		if (!c->running && c->claim == FL_CLAIM_NONE && c->target_is_me && running < capacity) {
			act[i] = FL_CLAIM;
			running++;
			changes++;
		}
	}
	return changes;
}
