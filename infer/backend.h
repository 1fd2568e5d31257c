/* Internal to infer/: the execution backend interface. The engine imports, infers and
 * fuses the graph, then hands it to one backend row (cpu, cuda) that owns the memory
 * and runs the nodes. */
#ifndef INF_BACKEND_H
#define INF_BACKEND_H

#include <stddef.h>

#include "infer/graph/graph.h"

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
	/* Optional (NULL on cpu): whether the backend can run here at all, on device gpu (opts.gpu,
	 * made current: cuda checks its libraries by creating handles there), checked before the
	 * model is imported; VP_ENODEV with one log line saying why. */
	int (*probe)(int gpu);
	/* Optional device-side access (NULL on cpu): run with enum inf_run_flags, device
	 * buffers of input/output i in the model's dtype, the cudaStream_t the backend runs on. */
	int (*run_flags)(void *state, int batch, int flags);
	void *(*device_input)(void *state, int i);
	void *(*device_input_stored)(void *state, int i, int *fp16, int *nhwc);
	const void *(*device_output)(void *state, int i);
	void *(*stream)(void *state);
	/* Set when run() handles batch < max_batch at a cost proportional to the batch, so the
	 * engine builds no batch-1 plan for partial batches. */
	int partial_batches;
	/* Set when a full batch runs faster item by item through the batch-1 plan (the
	 * engine's plan for partial batches) than as one batch: on the CPU each item's
	 * activations then stay in cache from one layer to the next. */
	int items_faster;
	/* Optional (cpu): makes graph input i read from host memory ptr (room for one item
	 * at the plan's batch) until bound again, so the engine passes the items of a batch
	 * without copying them. */
	void (*bind_input)(void *state, int i, void *ptr);
} inf_backend_ops;

extern const inf_backend_ops inf_backend_cpu;
#ifdef VP_HAVE_CUDA
extern const inf_backend_ops inf_backend_cuda;
#endif

#endif
