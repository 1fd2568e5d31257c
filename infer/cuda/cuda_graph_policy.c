/* The per-batch-size CUDA graph state machine (see cuda_graph_policy.h). */
#include "cuda_graph_policy.h"

enum cu_graph_step cu_graph_next(const cu_graph_slot *s)
{
	switch (s->state) {
	case CU_GRAPH_WARM: return CU_GRAPH_CAPTURE;
	case CU_GRAPH_READY: return CU_GRAPH_REPLAY;
	default: return CU_GRAPH_EAGER;   /* COLD: warm-up; OFF: for good */
	}
}

int cu_graph_done(cu_graph_slot *s, enum cu_graph_step step, int ok)
{
	if (step == CU_GRAPH_EAGER && s->state == CU_GRAPH_COLD)
		s->state = CU_GRAPH_WARM;
	if (step != CU_GRAPH_CAPTURE || s->state != CU_GRAPH_WARM)
		return 0;
	if (ok) {
		s->state = CU_GRAPH_READY;
		return 0;
	}
	if (++s->failures < CU_GRAPH_MAX_FAILURES)
		return 0;
	s->state = CU_GRAPH_OFF;
	return 1;
}
