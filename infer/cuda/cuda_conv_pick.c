/* The cuDNN convolution algorithm choice as a pure rule (infer/cuda/cuda_conv_pick.h). */
#include "cuda_conv_pick.h"

int cu_conv_math_ok(int math, int half)
{
	return half || math == CU_MATH_FMA;
}

/* a comes before b: faster, then deterministic, then earlier in cuDNN's list */
static int better(const cu_algo_perf *perf, int a, int b)
{
	if (perf[a].time_ms != perf[b].time_ms)
		return perf[a].time_ms < perf[b].time_ms;
	if (perf[a].deterministic != perf[b].deterministic)
		return perf[a].deterministic > perf[b].deterministic;
	return a < b;
}

static int usable(const cu_algo_perf *p, int half, size_t ws_limit)
{
	return p->status == 0 && p->memory <= ws_limit && p->time_ms >= 0.0f && cu_conv_math_ok(p->math, half);
}

int cu_conv_pick(const cu_algo_perf *perf, int n, int half, size_t ws_limit, int *order, int max)
{
	int got = 0;
	for (int i = 0; i < n; i++) {
		if (!usable(&perf[i], half, ws_limit))
			continue;
		int dup = -1;
		for (int k = 0; k < got; k++)
			if (perf[order[k]].algo == perf[i].algo)
				dup = k;
		if (dup >= 0) {
			if (!better(perf, i, order[dup]))
				continue;
			for (int k = dup; k + 1 < got; k++)   /* drop the slower row of the same algorithm */
				order[k] = order[k + 1];
			got--;
		}
		/* insertion into the sorted prefix; a full list drops its worst */
		int at = got;
		while (at > 0 && better(perf, i, order[at - 1]))
			at--;
		if (at >= max)
			continue;
		if (got == max)
			got--;
		for (int k = got; k > at; k--)
			order[k] = order[k - 1];
		order[at] = i;
		got++;
	}
	return got;
}
