/* Static shapes for one batch size and input size: topological order, input shapes,
 * batch rewriting of constant Reshape targets, every node's shape function, and
 * constant folding of the shape-computation chains exporters emit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "graph.h"

/* Kahn-style: repeatedly moves the first node whose inputs are all available. While
 * sorting, producer >= 0 marks a tensor whose producing node is not placed yet. */
static int sort_nodes(inf_graph *g)
{
	for (int i = 0; i < g->n_tensors; i++)
		g->tensors[i]->producer = -1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_out; k++)
			g->nodes[i]->out[k]->producer = i;
	for (int done = 0; done < g->n_nodes; done++) {
		int pick = -1;
		for (int i = done; i < g->n_nodes && pick < 0; i++) {
			inf_node *n = g->nodes[i];
			int ready = 1;
			for (int k = 0; k < n->n_in && ready; k++)
				ready = !n->in[k] || n->in[k]->producer < 0;
			if (ready)
				pick = i;
		}
		if (pick < 0) {
			vp_err("infer", NULL, "%s: node '%s' (%s) is in a cycle", g->path,
			       g->nodes[done]->name, g->nodes[done]->op_type);
			return VP_EMODEL;
		}
		inf_node *n = g->nodes[pick];
		memmove(&g->nodes[done + 1], &g->nodes[done], (size_t)(pick - done) * sizeof(*g->nodes));
		g->nodes[done] = n;
		for (int k = 0; k < n->n_out; k++)
			n->out[k]->producer = -2;
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_out; k++)
			g->nodes[i]->out[k]->producer = i;
	return 0;
}

/* By name, or by position for an unnamed entry; -1 when the input is not given. */
static int find_shape(const inf_engine_opts *o, const char *name, int pos)
{
	for (int j = 0; j < o->n_input_shapes; j++)
		if (o->input_shapes[j].name && strcmp(o->input_shapes[j].name, name) == 0)
			return j;
	return pos < o->n_input_shapes && !o->input_shapes[pos].name ? pos : -1;
}

static int set_exact_inputs(inf_graph *g, const inf_engine_opts *o)
{
	for (int i = 0; i < g->n_inputs; i++) {
		inf_tensor *t = g->inputs[i];
		int j = find_shape(o, t->name, i);
		const inf_tensor_info *s = j >= 0 ? &o->input_shapes[j] : NULL;
		if (!s) {
			for (int d = 0; d < t->ndim; d++)
				if (t->dims[d] < 0)
					t->dims[d] = 1;
			continue;
		}
		if (s->dtype != t->dtype) {
			vp_err("infer", NULL, "%s: input '%s' is %s, given %s", g->path, t->name,
			       inf_dtype_name(t->dtype), inf_dtype_name(s->dtype));
			return VP_EMODEL;
		}
		t->ndim = s->ndim;
		memcpy(t->dims, s->dims, sizeof(t->dims));
		if (o->input_consts && o->input_consts[j]) {
			size_t bytes = inf_tensor_bytes(t);
			if (!(t->data = malloc(bytes + 1)))
				return -ENOMEM;
			if (bytes)
				memcpy(t->data, o->input_consts[j], bytes);
			t->is_const = 1;
		}
	}
	return 0;
}

/* An input stated with a size of 0 holds nothing to run on. */
static int zero_dim(const inf_graph *g, const inf_tensor *t, int d)
{
	vp_err("infer", NULL, "%s: input '%s' dimension %d is 0", g->path, t->name, d);
	return VP_EMODEL;
}

static int set_batch_inputs(inf_graph *g, const inf_engine_opts *o, int batch)
{
	for (int i = 0; i < g->n_inputs; i++) {
		inf_tensor *t = g->inputs[i];
		if (i == 0)
			g->model_batch = t->ndim ? (int)t->dims[0] : 0;
		if (t->ndim < 1 || (t->dims[0] > 1 && t->dims[0] != batch)) {
			vp_err("infer", NULL, "%s: input '%s' has no batch dimension (leading dim %lld); "
			       "cannot run batch %d", g->path, t->name,
			       t->ndim ? (long long)t->dims[0] : 0LL, batch);
			return VP_EUNSUP;
		}
		if (t->dims[0] == 0)
			return zero_dim(g, t, 0);
		t->dims[0] = batch;
		if (t->ndim == 4 && o->input_h > 0 && o->input_w > 0) {
			t->dims[2] = o->input_h;
			t->dims[3] = o->input_w;
		}
		for (int d = 1; d < t->ndim; d++) {
			if (t->dims[d] == 0)
				return zero_dim(g, t, d);
			if (t->dims[d] < 0) {
				vp_err("infer", NULL, "%s: input '%s' dim %d is symbolic; give the input size",
				       g->path, t->name, d);
				return VP_EUNSUP;
			}
		}
	}
	return 0;
}

/* Constant shape inputs that exporters write with the batch fixed at 1: the target of
 * Reshape and the output sizes of Resize. */
static const struct batch_slot {
	const char *op_type;
	int input;
} batch_slots[] = {
	{ "Reshape", 1 },
	{ "Resize", 3 },
};

static int batch_slot(const inf_node *n)
{
	for (size_t i = 0; i < sizeof(batch_slots) / sizeof(batch_slots[0]); i++)
		if (strcmp(n->op_type, batch_slots[i].op_type) == 0)
			return batch_slots[i].input < n->n_in ? batch_slots[i].input : -1;
	return -1;
}

/* Such a constant [1, ...] becomes [batch, ...] when the data input really carries the
 * batch at dim 0. Shapes computed from Shape() need nothing: they follow the input. */
static int rewrite_batch_const(inf_graph *g, inf_node *n, int batch)
{
	int k = batch == 1 ? -1 : batch_slot(n);
	inf_tensor *s = k > 0 ? n->in[k] : NULL;
	inf_tensor *x = n->in[0];
	if (!s || !x || !s->is_const || s->producer >= 0 || s->dtype != INF_DT_INT64 || s->ndim != 1 ||
	    s->dims[0] < 1 || ((int64_t *)s->data)[0] != 1 || x->ndim < 1 || x->dims[0] != batch)
		return 0;
	char name[512];
	snprintf(name, sizeof(name), "%s#batch%d", s->name, batch);
	inf_tensor *r = inf_graph_tensor(g, name);
	if (!r)
		return -ENOMEM;
	if (!r->is_const) {
		size_t bytes = inf_tensor_bytes(s);
		r->data = malloc(bytes);
		if (!r->data)
			return -ENOMEM;
		memcpy(r->data, s->data, bytes);
		r->dtype = s->dtype;
		r->ndim = 1;
		r->dims[0] = s->dims[0];
		r->is_const = 1;
		((int64_t *)r->data)[0] = batch;
	}
	n->in[k] = r;
	return 0;
}

int inf_node_fold(inf_node *n)
{
	size_t ws = 0;
	void *work = NULL;
	int ret = 0;
	for (int k = 0; k < n->n_out; k++) {
		inf_tensor *t = n->out[k];
		t->data = malloc(inf_tensor_bytes(t) + 1);
		if (!t->data)
			return -ENOMEM;
		t->is_const = 1;
	}
	if (n->op->prepare && (ret = n->op->prepare(n, &ws)) < 0)
		goto out;
	if (ws && !(work = malloc(ws))) {
		ret = -ENOMEM;
		goto out;
	}
	inf_cpu_ctx cx = { .threads = 1 };
	ret = n->op->run_cpu(n, work, &cx);
out:
	free(work);
	if (n->op->release && n->priv)
		n->op->release(n);
	n->priv = NULL;
	return ret;
}

static int foldable(const inf_node *n)
{
	if (!n->op->run_cpu)
		return 0;
	if (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0)
		return 1;
	for (int k = 0; k < n->n_in; k++)
		if (n->in[k] && !n->in[k]->is_const)
			return 0;
	/* Nodes without inputs (RandomNormal-like) are not folded. */
	return n->n_in > 0;
}

/* Guards the planner against what a malformed model can make a shape function write:
 * missing dtypes, negative dims, sizes that overflow or exceed any real model. */
#define MAX_TENSOR_BYTES ((int64_t)1 << 34)

static int tensor_sane(const inf_tensor *t, char *err, size_t len)
{
	int64_t bytes = (int64_t)inf_dtype_size(t->dtype);
	if (bytes == 0 || t->ndim < 0 || t->ndim > INF_MAX_DIMS) {
		snprintf(err, len, "tensor '%s' has no valid type or rank", t->name);
		return 0;
	}
	for (int d = 0; d < t->ndim; d++) {
		if (t->dims[d] < 0 || __builtin_mul_overflow(bytes, t->dims[d], &bytes) ||
		    bytes > MAX_TENSOR_BYTES) {
			snprintf(err, len, "tensor '%s' has an invalid or oversized shape", t->name);
			return 0;
		}
	}
	return 1;
}

static int outputs_sane(const inf_node *n, char *err, size_t len)
{
	for (int k = 0; k < n->n_out; k++)
		if (!tensor_sane(n->out[k], err, len))
			return 0;
	return 1;
}

static int inputs_sane(const inf_graph *g)
{
	char err[256];
	for (int i = 0; i < g->n_inputs; i++) {
		if (!tensor_sane(g->inputs[i], err, sizeof(err))) {
			vp_err("infer", NULL, "%s: input: %s", g->path, err);
			return VP_EMODEL;
		}
	}
	return 0;
}

/* Nodes refused as unsupported (a dtype or attribute variant the kernel lacks) are
 * collected so one message lists every one of them. */
typedef struct unsup_list {
	char buf[800];
	size_t len;
	int count;
} unsup_list;

static void unsup_add(unsup_list *u, const inf_node *n, const char *why)
{
	if (u->count++ >= 12)
		return;
	int w = snprintf(u->buf + u->len, sizeof(u->buf) - u->len, "%snode '%s' (%s): %s",
	                 u->len ? "; " : "", n->name, n->op_type, why);
	if (w > 0)
		u->len = u->len + (size_t)w < sizeof(u->buf) ? u->len + (size_t)w : sizeof(u->buf) - 1;
}

static void mark_unknown(inf_node *n)
{
	for (int k = 0; k < n->n_out; k++)
		n->out[k]->dtype = 0;
}

/* Returns 0 when shaped (*folded set), 1 when skipped as unsupported (or downstream of
 * such a node), < 0 on a malformed model (logged). */
static int infer_node(inf_graph *g, inf_node *n, int batch, unsup_list *u, int *folded)
{
	char err[256] = "";
	for (int k = 0; k < n->n_in; k++) {
		if (n->in[k] && n->in[k]->dtype == 0) {
			if (n->in[k]->producer >= 0 && u->count) {
				mark_unknown(n);
				return 1;
			}
			vp_err("infer", NULL, "%s: node '%s' (%s): input '%s' is never produced", g->path,
			       n->name, n->op_type, n->in[k]->name);
			return VP_EMODEL;
		}
	}
	int ret = rewrite_batch_const(g, n, batch);
	if (ret < 0)
		return ret;
	ret = n->op->shape(n, err, sizeof(err));
	if (ret >= 0 && !outputs_sane(n, err, sizeof(err)))
		ret = VP_EMODEL;
	if (ret == VP_EUNSUP) {
		unsup_add(u, n, *err ? err : vp_strerror(ret));
		mark_unknown(n);
		return 1;
	}
	if (ret < 0) {
		vp_err("infer", NULL, "%s: node '%s' (%s): %s", g->path, n->name, n->op_type,
		       *err ? err : vp_strerror(ret));
		return ret;
	}
	*folded = foldable(n);
	if (*folded && (ret = inf_node_fold(n)) < 0) {
		vp_err("infer", NULL, "%s: node '%s' (%s): constant folding failed: %s", g->path,
		       n->name, n->op_type, vp_strerror(ret));
		return ret;
	}
	return 0;
}

static int check_outputs(const inf_graph *g, int batch)
{
	for (int i = 0; i < g->n_outputs; i++) {
		const inf_tensor *t = g->outputs[i];
		if (t->dtype == 0) {
			vp_err("infer", NULL, "%s: output '%s' is never produced", g->path, t->name);
			return VP_EMODEL;
		}
		if (batch > 1 && (t->ndim < 1 || t->dims[0] != batch)) {
			vp_err("infer", NULL, "%s: output '%s' does not carry the batch at dim 0 "
			       "(leading dim %lld for batch %d): the batch dimension cannot be identified",
			       g->path, t->name, t->ndim ? (long long)t->dims[0] : 0LL, batch);
			return VP_EUNSUP;
		}
	}
	return 0;
}

int inf_graph_infer(inf_graph *g, const inf_engine_opts *o)
{
	int batch = o->input_shapes ? 1 : (o->max_batch > 0 ? o->max_batch : 1);
	int ret = sort_nodes(g);
	if (ret < 0)
		return ret;
	ret = o->input_shapes ? set_exact_inputs(g, o) : set_batch_inputs(g, o, batch);
	if (ret >= 0)
		ret = inputs_sane(g);
	if (ret < 0)
		return ret;
	unsup_list u = { .len = 0 };
	for (int i = 0; i < g->n_nodes; i++) {
		int folded = 0;
		if ((ret = infer_node(g, g->nodes[i], batch, &u, &folded)) < 0)
			return ret;
		/* Its outputs are constants of the graph now. */
		if (folded)
			inf_graph_remove_node(g, i--);
	}
	if (u.count) {
		vp_err("infer", NULL, "%s: %d unsupported node%s: %s%s", g->path, u.count,
		       u.count > 1 ? "s" : "", u.buf, u.count > 12 ? "; ..." : "");
		return VP_EUNSUP;
	}
	inf_graph_prune(g);
	return check_outputs(g, batch);
}
