/* When the cuda backend runs a batch size eagerly, captures it into a CUDA graph or
 * replays the graph: a small state machine per batch size, free of CUDA so
 * tests/test_cuda_graph_policy.c checks it on any machine.
 *
 * COLD --eager run--> WARM --capture ok--> READY (replayed from then on)
 *                     WARM --capture fails--> WARM, failures + 1 (the run goes eager; the
 *                          next run of that size captures again)
 *                     the CU_GRAPH_MAX_FAILURES-th failure --> OFF (eager for good)
 * The first run is eager on purpose: it warms cuDNN's plan caches and loads lazy modules,
 * which must not happen inside a capture. One size giving up leaves the others alone. */
#ifndef INF_CUDA_GRAPH_POLICY_H
#define INF_CUDA_GRAPH_POLICY_H

#include <stdint.h>

#define CU_GRAPH_MAX_FAILURES 3

enum cu_graph_state { CU_GRAPH_COLD = 0, CU_GRAPH_WARM, CU_GRAPH_READY, CU_GRAPH_OFF };
enum cu_graph_step { CU_GRAPH_EAGER = 0, CU_GRAPH_CAPTURE, CU_GRAPH_REPLAY };

typedef struct cu_graph_slot {
	uint8_t state;      /* enum cu_graph_state; a zeroed slot is COLD */
	uint8_t failures;   /* failed captures of this size so far */
} cu_graph_slot;

/* What the next run of this size does. */
enum cu_graph_step cu_graph_next(const cu_graph_slot *s);
/* The outcome of a run that did `step` (ok: the capture gave a graph; ignored for the
 * other steps). Returns 1 when this failure turned graphs off for the size (the caller
 * logs that once), else 0. */
int cu_graph_done(cu_graph_slot *s, enum cu_graph_step step, int ok);

#endif
