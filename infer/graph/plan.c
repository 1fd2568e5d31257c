/* Arena planner: every activation gets an offset in one arena, sized once. A buffer
 * is reused once its last reader has run; graph inputs and outputs stay live for the
 * whole run so callers can fill inputs once and read outputs afterwards. On request
 * (the CPU backend) a Concat's inputs are placed inside its output, so the producers
 * write the result in place and the Concat copies nothing. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

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

static int tensor_index(const inf_graph *g, const inf_tensor *t)
{
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i] == t)
			return i;
	return -1;
}

/* A tensor placed inside another: parent's tensor index (-1: none) and byte offset. */
typedef struct alias {
	int parent;
	size_t off;
	int start;                    /* for roots of aliases: the first step any of them is written */
} alias;

/* Whether Concat node n can have its inputs written straight into its output: one
 * contiguous slice each (every axis before the concat axis has size 1), every input
 * produced by a node, not aliased yet, and listed once. */
static int concat_in_place(const inf_graph *g, const inf_node *n, const alias *al)
{
	const inf_tensor *y = n->out[0];
	int64_t axis = inf_attr_int(n, "axis", 0);

	if (strcmp(n->op_type, "Concat") != 0 || n->n_out != 1 || y->is_const || y->is_input)
		return 0;
	if (axis < 0)
		axis += y->ndim;
	for (int64_t i = 0; i < axis && i < y->ndim; i++)
		if (y->dims[i] != 1)
			return 0;
	for (int k = 0; k < n->n_in; k++) {
		const inf_tensor *t = n->in[k];
		int ti = t ? tensor_index(g, t) : -1;

		if (ti < 0 || t->is_const || t->is_input || t->producer < 0 || al[ti].parent >= 0 || t == y)
			return 0;
		for (int j = 0; j < k; j++)
			if (n->in[j] == t)
				return 0;
	}
	return 1;
}

static int root_of(const alias *al, int i, size_t *off)
{
	*off = 0;
	while (al[i].parent >= 0) {
		*off += al[i].off;
		i = al[i].parent;
	}
	return i;
}

/* Marks the inputs of every eligible Concat as slices of its output and gives each
 * root the span in which any tensor inside it is live. */
static void find_aliases(inf_graph *g, alias *al)
{
	for (int i = 0; i < g->n_tensors; i++)
		al[i] = (alias){ -1, 0, INT_MAX };
	for (int i = 0; i < g->n_nodes; i++) {
		const inf_node *n = g->nodes[i];
		size_t off = 0;

		if (!concat_in_place(g, n, al))
			continue;
		for (int k = 0; k < n->n_in; k++) {
			al[tensor_index(g, n->in[k])] = (alias){ tensor_index(g, n->out[0]), off, INT_MAX };
			off += inf_tensor_bytes(n->in[k]);
		}
	}
	for (int i = 0; i < g->n_tensors; i++) {
		inf_tensor *t = g->tensors[i];
		size_t off;
		int r = root_of(al, i, &off);

		if (r == i)
			continue;
		if (t->producer < al[r].start)
			al[r].start = t->producer;
		if (t->last_use > g->tensors[r]->last_use)
			g->tensors[r]->last_use = t->last_use;
	}
}

/* The step at which tensor i gets its place: -1 for none (constants, graph inputs,
 * aliases), the first write into it for roots of aliases, else its producer. */
static int place_step(const inf_graph *g, const alias *al, int i)
{
	const inf_tensor *t = g->tensors[i];

	if (t->is_const || t->is_input || t->producer < 0 || al[i].parent >= 0)
		return -1;
	return al[i].start < t->producer ? al[i].start : t->producer;
}

int inf_graph_plan_ex(inf_graph *g, int flags, size_t *ret_bytes)
{
	live_set ls = { .b = calloc((size_t)g->n_tensors + 1, sizeof(block)) };
	alias *al = NULL;

	if (!ls.b || ((flags & INF_PLAN_CONCAT_IN_PLACE) && !(al = calloc((size_t)g->n_tensors + 1, sizeof(*al))))) {
		free(ls.b);
		return -ENOMEM;
	}
	compute_liveness(g);
	if (al)
		find_aliases(g, al);
	for (int i = 0; i < g->n_inputs; i++)
		if (!g->inputs[i]->is_const)
			place(&ls, g->inputs[i]);
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];

		if (!al) {
			/* without aliases every output gets its place when its node runs */
			for (int k = 0; k < n->n_out; k++)
				if (!n->out[k]->is_const)
					place(&ls, n->out[k]);
		}
		for (int k = 0; al && k < g->n_tensors; k++)
			if (place_step(g, al, k) == i)
				place(&ls, g->tensors[k]);
		release_dead(&ls, i);
	}
	for (int i = 0; al && i < g->n_tensors; i++) {
		size_t off;
		int r = root_of(al, i, &off);

		if (r != i)
			g->tensors[i]->offset = g->tensors[r]->offset + off;
	}
	free(al);
	free(ls.b);
	*ret_bytes = ls.peak;
	return 0;
}

int inf_graph_plan(inf_graph *g, size_t *ret_bytes)
{
	return inf_graph_plan_ex(g, 0, ret_bytes);
}
