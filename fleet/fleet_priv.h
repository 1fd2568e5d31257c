/* Internal to fleet/: the node's state shared by the agent thread (agent.c), the watch
 * thread (watch.c) and the daemon's main thread (node.c). */
#ifndef FLEET_PRIV_H
#define FLEET_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"
#include "fleet.h"

/* A camera this node holds a claim on. Guarded by fleet_node.lock. */
typedef struct fl_cam {
	char *id;
	char *value;              /* its sources[] entry as stored */
	int64_t epoch;            /* the claim's create revision */
	bool run;                 /* agent: keep it running; false: stop it */
	bool release;             /* with !run: delete the claim once stopped (else just forget) */
	uint64_t off_version;     /* the version that stopped it */
	bool stopped;             /* main thread: its stream ended after off_version was applied */
	/* A file item (file source, loop: false): processed once, then marked done. */
	bool work;                /* main thread: its config says it is a file item */
	bool seen;                /* main thread: its stream was seen running */
	bool ended;               /* main thread: its stream reached its end while wanted */
	int64_t frames, errors;   /* main thread: its stream's counts as last seen */
	int64_t start;            /* the checkpoint it resumed from (first frame index passed on) */
	int64_t frames_snap;      /* main thread: frames at the pending settle snapshot (settle.c) */
	bool ended_snap;          /* main thread: it had ended at that snapshot */
	int64_t safe_frames;      /* main thread: frames whose messages every sink has settled */
	bool flushed;             /* main thread: ended, and every message of it settled */
	int64_t ck_written;       /* agent: the checkpoint last written */
} fl_cam;

typedef struct fl_metrics {
	pipe_gauge *owned;        /* vapd_fleet_owned_cameras */
	pipe_gauge *capacity;     /* vapd_fleet_capacity */
	pipe_gauge *nodes;        /* vapd_fleet_nodes */
	pipe_gauge *cameras;      /* vapd_fleet_cameras */
	pipe_counter *claims;     /* vapd_fleet_claims_total */
	pipe_counter *releases;   /* vapd_fleet_releases_total */
	pipe_counter *drops;      /* vapd_fleet_drops_total (claim lost or taken) */
	pipe_counter *fencing;    /* vapd_fleet_fencing_stops_total */
	pipe_counter *lease_lost; /* vapd_fleet_lease_lost_total */
	pipe_counter *requests;   /* vapd_fleet_etcd_requests_total */
	pipe_histogram *renew;    /* vapd_fleet_lease_renew_seconds */
	pipe_gauge *connected;    /* vapd_fleet_coordinator_connected (1/0) */
} fl_metrics;

struct fleet_node {
	/* settings, copied at start */
	char *path, *node_id, *prefix, *address;
	char **urls;
	int n_urls, capacity, ttl_s;
	bool keep_on_loss;
	etcd *api, *watch_api;
	fl_metrics m;
	pthread_t agent, watcher;
	bool agent_started, watcher_started;
	atomic_int stop;

	pthread_mutex_t lock;
	pthread_cond_t wake;      /* agent: something to do (watch event, a stream ended) */
	bool dirty;               /* etcd changed since the last read */
	int64_t read_rev;         /* revision of the last read; the watch goes on from it */
	fl_cam *cams;
	int n_cams, cap_cams;
	uint64_t version;         /* bumped when the set to run (or an epoch) changes */
	int n_nodes, n_cameras;   /* as last read, for /api/fleet */
	bool connected, fenced;
	bool leaving;             /* SIGTERM: the agent only renews the lease */
	int64_t lease;            /* 0: none held */

	/* agent thread only */
	struct fl_valid *valid;   /* cameras checked against the node's file, by mod revision */
	int n_valid;
	int64_t next_release_ns;
	int64_t next_checkpoint_ns;

	/* main thread only */
	uint64_t applied;         /* version last applied to the pipeline */
	bool reload_asked;
	pipe_config **cfgs;       /* every config built; streams point into them */
	int n_cfgs;
	int64_t *marks;           /* settle.c: the sinks' accepted counts at the pending snapshot */
	int n_marks, cap_marks;
	bool snap_pending, snap_warned;
	int64_t snap_ns;
};

typedef struct fl_valid {
	char *id;
	int64_t mod_rev;
	bool ok;
	bool work;                /* a file item */
} fl_valid;

/* agent.c */
void *fl_agent_main(void *arg);
/* Caller holds the lock. Stops c; release: delete its claim once its stream ended. */
void fl_stop_cam(fleet_node *n, fl_cam *c, bool release);
/* The index of the first camera that want() accepts, with a copy of it in *out (its strings
 * shared: only the agent thread frees them), or -1. Takes n->lock. */
int fl_next_cam(fleet_node *n, bool (*want)(const fl_cam *c), fl_cam *out);
/* items.c, agent thread: marks the file items whose stream ended done, then releases them;
 * writes the running ones' checkpoints when due. */
void fl_items_finish_done(fleet_node *n);
void fl_items_checkpoint(fleet_node *n);
/* settle.c, main thread, caller holds the lock: moves the cameras' safe_frames and flushed
 * on once the sinks settled the pending snapshot, and takes the next one. Returns whether
 * an ended item became flushed (the agent has a done mark to write). */
bool fl_settle_tick(fleet_node *n, pipe_pipeline *p);
/* Caller holds the lock. Bumps the version and wakes the agent. */
void fl_bump(fleet_node *n);
/* watch.c */
void *fl_watch_main(void *arg);

/* prefix + "/" + kind + "/" + id (id NULL: the folder, with its '/'; kind "" too: prefix + "/");
 * NULL when out of memory. */
char *fl_key(const char *prefix, const char *kind, const char *id);
/* The id in key when it is prefix/kind/<id>, else NULL. */
const char *fl_key_id(const char *key, const char *prefix, const char *kind);
/* "- " + value indented as one item of a YAML list (value: a map in block or flow style). */
char *fl_list_item(const char *value);
/* The value of PREFIX/done/<id>: who processed a file item, under which epoch, and how
 * many frames it published; NULL when out of memory. */
char *fl_done_value(const char *node, int64_t epoch, int64_t frames, int64_t errors, int64_t resumed);
/* The value of PREFIX/progress/<id>: a file item's checkpoint (frames before it were
 * published) and who wrote it; NULL when out of memory. */
char *fl_progress_value(const char *node, int64_t epoch, int64_t frame);
/* The checkpoint in a PREFIX/progress/<id> value; 0 (start over) when unreadable. */
int64_t fl_progress_frame(const char *value);
/* Checks value as a sources[] entry of the node's file: 1 when valid and its id is id;
 * *ret_work: whether it is a file item (file source, loop: false). */
int fl_camera_valid(const char *path, const char *id, const char *value, bool *ret_work);

#endif
