/* Arena planner: every activation gets an offset in one arena, sized once. A buffer
 * is reused once its last reader has run; graph inputs and outputs stay live for the
 * whole run so callers can fill inputs once and read outputs afterwards. */
#include <limits.h>
#include <stdlib.h>

#include "pipeline/vp_err.h"
#include "graph.h"

#define ALIGN 64

typedef struct block {
	size_t off, size;
	inf_tensor *t;
} block;

typedef struct live_set {
	block *b;
	int n;
	size_t peak;
} live_set;

/* First fit in the gaps between live blocks (kept sorted by offset). */
static void place(live_set *ls, inf_tensor *t)
{
	size_t size = (inf_tensor_bytes(t) + ALIGN - 1) / ALIGN * ALIGN;
	if (size == 0)
		size = ALIGN;
	size_t off = 0;
	int at = 0;
	for (; at < ls->n; at++) {
		if (ls->b[at].off >= off + size)
			break;
		size_t end = ls->b[at].off + ls->b[at].size;
		if (end > off)
			off = end;
	}
	for (int i = ls->n; i > at; i--)
		ls->b[i] = ls->b[i - 1];
	ls->b[at] = (block){ off, size, t };
	ls->n++;
	t->offset = off;
	if (off + size > ls->peak)
		ls->peak = off + size;
}

static void release_dead(live_set *ls, int step)
{
	int keep = 0;
	for (int i = 0; i < ls->n; i++)
		if (ls->b[i].t->last_use > step)
			ls->b[keep++] = ls->b[i];
	ls->n = keep;
}

static void compute_liveness(inf_graph *g)
{
	/* Tensors that fusion or pruning left unproduced get producer -1 and no buffer. */
	for (int i = 0; i < g->n_tensors; i++) {
		g->tensors[i]->last_use = -1;
		g->tensors[i]->producer = -1;
	}
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];
		for (int k = 0; k < n->n_out; k++)
			n->out[k]->producer = i;
		for (int k = 0; k < n->n_in; k++)
			if (n->in[k] && !n->in[k]->is_const)
				n->in[k]->last_use = i;
	}
	for (int i = 0; i < g->n_inputs; i++)
		g->inputs[i]->last_use = INT_MAX;
	for (int i = 0; i < g->n_outputs; i++)
		g->outputs[i]->last_use = INT_MAX;
}

int inf_graph_plan(inf_graph *g, size_t *ret_bytes)
{
	live_set ls = { .b = calloc((size_t)g->n_tensors + 1, sizeof(block)) };
	if (!ls.b)
		return -ENOMEM;
	compute_liveness(g);
	for (int i = 0; i < g->n_inputs; i++)
		if (!g->inputs[i]->is_const)
			place(&ls, g->inputs[i]);
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];
		for (int k = 0; k < n->n_out; k++)
			if (!n->out[k]->is_const)
				place(&ls, n->out[k]);
		release_dead(&ls, i);
	}
	free(ls.b);
	*ret_bytes = ls.peak;
	return 0;
}
