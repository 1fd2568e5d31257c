/* What a node does about each camera, from the assignment and the claims in etcd: the
 * decision only, no I/O, so it is tested on its own. Internal to fleet/. */
#ifndef FLEET_PLAN_H
#define FLEET_PLAN_H

enum fl_claim_state { FL_CLAIM_NONE = 0, FL_CLAIM_MINE, FL_CLAIM_OTHER };

enum fl_action {
	FL_KEEP = 0,       /* nothing to do */
	FL_CLAIM,          /* create the claim (absent) and start the camera */
	FL_RELEASE,        /* stop the camera, then delete our claim (rate-limited) */
	FL_DROP,           /* stop the camera: the claim is gone or someone else's (fenced) */
	FL_ADOPT,          /* our claim, not running here (after a fence): run it again */
	FL_FORGET,         /* our claim, not running, not ours to keep: delete it */
};

typedef struct fl_cam_view {
	int target_is_me;            /* the assignment gives it to this node */
	int running;                 /* this node runs it (and is not releasing it) */
	enum fl_claim_state claim;
	int work_item;               /* a file item: moving it would start it over elsewhere */
} fl_cam_view;

/* Fills act[i] for each of the n cameras. The caller carries out every other action before
 * the FL_CLAIMs of cameras not running, so the claims held never exceed capacity. capacity: most cameras this node runs;
 * releases: how many FL_RELEASE may be decided now (the rate limit). Returns the number
 * of actions other than FL_KEEP. */
int fl_plan(const fl_cam_view *cams, int n, int capacity, int releases, enum fl_action *act);

#endif
