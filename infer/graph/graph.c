/* Graph helpers shared by the importer, the passes and the operator kernels:
 * attribute lookup with defaults, dtype sizes and element counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

const inf_attr *inf_attr_get(const inf_node *n, const char *name)
{
	for (int i = 0; i < n->n_attr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

int64_t inf_attr_int(const inf_node *n, const char *name, int64_t def)
{
	const inf_attr *a = inf_attr_get(n, name);
	return a && a->type == INF_ATTR_INT ? a->i : def;
}

float inf_attr_float(const inf_node *n, const char *name, float def)
{
	const inf_attr *a = inf_attr_get(n, name);
	if (!a)
		return def;
	if (a->type == INF_ATTR_FLOAT)
		return a->f;
	/* Some exporters write integral floats (e.g. Clip bounds) as ints. */
	return a->type == INF_ATTR_INT ? (float)a->i : def;
}

const char *inf_attr_str(const inf_node *n, const char *name, const char *def)
{
	const inf_attr *a = inf_attr_get(n, name);
	return a && a->type == INF_ATTR_STRING && a->s ? a->s : def;
}

int inf_attr_ints(const inf_node *n, const char *name, const int64_t **ret)
{
	const inf_attr *a = inf_attr_get(n, name);
	if (!a || a->type != INF_ATTR_INTS)
		return -1;
	*ret = a->ints;
	return a->n;
}

int inf_attr_floats(const inf_node *n, const char *name, const float **ret)
{
	const inf_attr *a = inf_attr_get(n, name);
	if (!a || a->type != INF_ATTR_FLOATS)
		return -1;
	*ret = a->floats;
	return a->n;
}

size_t inf_dtype_size(int dtype)
{
	switch (dtype) {
	case INF_DT_FLOAT: case INF_DT_INT32: return 4;
	case INF_DT_UINT8: case INF_DT_INT8: case INF_DT_BOOL: return 1;
	case INF_DT_INT64: case INF_DT_DOUBLE: return 8;
	case INF_DT_FLOAT16: return 2;
	default: return 0;
	}
}

int64_t inf_tensor_numel(const inf_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->dims[i];
	return n;
}

size_t inf_tensor_bytes(const inf_tensor *t)
{
	return (size_t)inf_tensor_numel(t) * inf_dtype_size(t->dtype);
}

inf_graph *inf_graph_new(const char *path)
{
	inf_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->path = strdup(path ? path : "");
	if (!g->path) {
		free(g);
		return NULL;
	}
	return g;
}

static void tensor_free(inf_tensor *t)
{
	if (!t)
		return;
	if (t->is_const)
		free(t->data);
	free(t->name);
	free(t);
}

void inf_attr_clear(inf_attr *a)
{
	free(a->name);
	free(a->s);
	free(a->floats);
	free(a->ints);
	for (int i = 0; a->strings && i < a->n; i++)
		free(a->strings[i]);
	free(a->strings);
	tensor_free(a->t);
}

static void node_free(inf_node *n)
{
	if (n->op && n->op->release && n->priv)
		n->op->release(n);
	for (int i = 0; i < n->n_attr; i++)
		inf_attr_clear(&n->attr[i]);
	free(n->attr);
	free(n->in);
	free(n->out);
	free(n->name);
	free(n->op_type);
	free(n);
}

void inf_graph_free(inf_graph **pg)
{
	inf_graph *g = *pg;
	if (!g)
		return;
	for (int i = 0; i < g->n_nodes; i++)
		node_free(g->nodes[i]);
	for (int i = 0; i < g->n_tensors; i++)
		tensor_free(g->tensors[i]);
	free(g->nodes);
	free(g->tensors);
	free(g->inputs);
	free(g->outputs);
	free(g->path);
	free(g);
	*pg = NULL;
}

inf_tensor *inf_graph_find(const inf_graph *g, const char *name)
{
	for (int i = 0; i < g->n_tensors; i++)
		if (strcmp(g->tensors[i]->name, name) == 0)
			return g->tensors[i];
	return NULL;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return 0;
	int ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

inf_tensor *inf_graph_tensor(inf_graph *g, const char *name)
{
	inf_tensor *t = inf_graph_find(g, name);
	if (t)
		return t;
	if (grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(*g->tensors)))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = strdup(name);
	if (!t->name) {
		free(t);
		return NULL;
	}
	t->producer = -1;
	t->last_use = -1;
	g->tensors[g->n_tensors++] = t;
	return t;
}

inf_node *inf_graph_add_node(inf_graph *g, const char *name, const char *op_type, int n_in, int n_out)
{
	if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(*g->nodes)))
		return NULL;
	inf_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name ? name : "");
	n->op_type = strdup(op_type);
	n->in = calloc((size_t)n_in + 1, sizeof(*n->in));
	n->out = calloc((size_t)n_out + 1, sizeof(*n->out));
	if (!n->name || !n->op_type || !n->in || !n->out) {
		node_free(n);
		return NULL;
	}
	n->n_in = n_in;
	n->n_out = n_out;
	n->opset = g->opset;
	g->nodes[g->n_nodes++] = n;
	return n;
}

int inf_graph_tensor_is_read(const inf_graph *g, const inf_tensor *t)
{
	if (t->is_output)
		return 1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_in; k++)
			if (g->nodes[i]->in[k] == t)
				return 1;
	return 0;
}

void inf_graph_remove_node(inf_graph *g, int i)
{
	node_free(g->nodes[i]);
	memmove(&g->nodes[i], &g->nodes[i + 1], (size_t)(g->n_nodes - i - 1) * sizeof(*g->nodes));
	g->n_nodes--;
}

void inf_graph_prune(inf_graph *g)
{
	/* Walk backwards so a chain of dead nodes goes in one pass. */
	for (int i = g->n_nodes - 1; i >= 0; i--) {
		inf_node *n = g->nodes[i];
		int live = 0;
		for (int k = 0; k < n->n_out && !live; k++)
			live = inf_graph_tensor_is_read(g, n->out[k]);
		if (!live)
			inf_graph_remove_node(g, i);
	}
}
