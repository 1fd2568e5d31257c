/* Internal to infer/: the execution backend interface. The engine imports, infers and
 * fuses the graph, then hands it to one backend row (cpu, cuda) that owns the memory
 * and runs the nodes. */
#ifndef INF_BACKEND_H
#define INF_BACKEND_H

#include <stddef.h>

#include "graph.h"

typedef struct inf_backend_ops {
	const char *name;
	/* Plans and allocates everything a run needs (arena, workspace, operator state).
	 * The graph outlives the state. share: NULL or the state of another plan of the
	 * same engine (never run concurrently) whose scratch memory may be reused; it
	 * outlives this state. Logs its own failures. */
	int (*prepare)(inf_graph *g, const inf_engine_opts *opts, void *share, void **ret_state);
	/* Runs all nodes; batch <= opts->max_batch is the number of valid items. */
	int (*run)(void *state, int batch);
	/* Host buffers for graph input i / output i (the engine stages partial batches
	 * through them, so both are writable). */
	void *(*input)(void *state, int i);
	void *(*output)(void *state, int i);
	/* Arena + workspace + constant bytes. */
	size_t (*peak_bytes)(const void *state);
	/* Fills the memory fields of ret. */
	void (*stats)(const void *state, inf_engine_stats *ret);
	/* With opts.profile: milliseconds spent in each node (graph order) so far, else NULL. */
	const double *(*node_ms)(const void *state);
	void (*free)(void **state);
} inf_backend_ops;

extern const inf_backend_ops inf_backend_cpu;

#endif
