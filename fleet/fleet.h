/* Fleet mode: many vapd nodes share one camera list kept in etcd (issue 19).
 *
 * Each node holds one etcd lease and registers under PREFIX/nodes/<id>; the desired cameras
 * are PREFIX/cameras/<id> (a sources[] entry as YAML or JSON); a node runs a camera only
 * while it holds PREFIX/claims/<id>, created "if absent" under its lease. Weighted
 * rendezvous hashing (fleet.capacity as weight and cap) says which node should run what;
 * the claim's create revision is the camera's fencing epoch, written as "epoch" in every
 * message. Claimed cameras start and stop through pipe_pipeline_reload, as on SIGHUP.
 * A node that cannot renew its lease stops its cameras before the lease can expire
 * (fleet.on_coordinator_loss: stop); a crashed node's claims vanish with its lease and the
 * next-ranked nodes take its cameras. A file source with loop: false is a work item instead:
 * never moved while it runs, marked PREFIX/done/<id> at its end and not claimed again, and
 * checkpointed in PREFIX/progress/<id> so the next owner resumes it after a crash. */
#ifndef FLEET_H
#define FLEET_H

#include "../pipeline/config.h"
#include "../pipeline/metrics.h"
#include "../pipeline/pipeline.h"

typedef struct fleet_node fleet_node;

/* A node of the fleet of cfg->fleet, not yet joined. config_path is re-read with the owned
 * cameras each time they change. metrics (NULL: off) gets the vapd_fleet_* series and must
 * outlive the node. */
int fleet_node_new(const pipe_config *cfg, const char *config_path, pipe_metrics *metrics,
                   fleet_node **ret);
/* Joins: the agent thread grants the lease, registers the node and watches PREFIX (it
 * retries while etcd is unreachable; this call does not wait for it). */
int fleet_node_run(fleet_node *n);
/* view_http_args.api_fill: "fleet" (GET /api/fleet) is the node's state as JSON (its id,
 * capacity, lease, whether etcd answers, the fleet's size as last read, and each camera it
 * holds with its epoch and state); -ENOENT for any other path. Any thread. */
int fleet_node_api(void *node, const char *path, FILE *f);
/* Main thread, every daemon tick: applies a changed set of owned cameras to p with
 * pipe_pipeline_reload (only the cameras that changed start or stop), and tells the agent
 * which released cameras' streams have ended, so it may delete their claims. */
void fleet_node_tick(fleet_node *n, pipe_pipeline *p);
/* SIGHUP: the next tick re-reads the file with the owned cameras. */
void fleet_node_reload(fleet_node *n);
/* SIGTERM: no more claims or changes; the cameras stop with the pipeline and their claims
 * go when fleet_node_free revokes the lease. */
void fleet_node_leave(fleet_node *n);
/* After the pipeline was freed (every stream ended and flushed): revokes the lease, which
 * deletes the node's claims at once so the next owners start without waiting for the TTL;
 * then frees every config the node built. */
void fleet_node_free(fleet_node **n);

/* `vapd fleet add|remove|list|import|status ...`: argv[0] is "fleet". Returns the exit code. */
int fleet_cli(int argc, char **argv);

#endif
