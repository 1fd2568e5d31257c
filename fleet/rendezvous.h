/* Weighted rendezvous (highest random weight) hashing with a per-node cap: every node
 * computes the same camera -> node assignment from the same lists, with no coordinator.
 * Pure functions. Internal to fleet/. */
#ifndef FLEET_RENDEZVOUS_H
#define FLEET_RENDEZVOUS_H

#include <stdint.h>

typedef struct fl_node {
	const char *id;
	int capacity;             /* weight and cap; <= 0: takes nothing */
} fl_node;

/* Score of node for camera: -weight / ln(u), u uniform in (0, 1) from a hash of both names.
 * A node's share of cameras is proportional to its weight. */
double fl_score(const char *camera, const char *node, int weight);
/* owner[c]: index in nodes of the node camera c goes to, or -1 when every node is full.
 * current[c] (NULL: none known): the node running it now, or -1. First, cameras already on
 * their top-ranked node stay there while it has room; then the other pairs are taken in
 * descending score, each camera by the best node with room left. With room everywhere
 * every camera goes to its top-ranked node; adding a node moves only the cameras it now
 * ranks first, removing one only its own (plus what the caps spill). The result depends on
 * neither list's order. Returns 0 or -ENOMEM. */
int fl_assign(const char *const *cameras, int n_cameras, const fl_node *nodes, int n_nodes,
              const int *current, int *owner);

#endif
