/* Graph fusion after shape inference: BatchNormalization folded into the preceding
 * Conv's weights, and activations (incl. SiLU written as x*Sigmoid(x)) fused into the
 * producing node when its operator applies n->act itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "graph.h"

static int readers(const inf_graph *g, const inf_tensor *t)
{
	int c = t->is_output ? 1000 : 0;
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_in; k++)
			c += g->nodes[i]->in[k] == t;
	return c;
}

static inf_node *single_reader(const inf_graph *g, const inf_tensor *t)
{
	if (readers(g, t) != 1)
		return NULL;
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_in; k++)
			if (g->nodes[i]->in[k] == t)
				return g->nodes[i];
	return NULL;
}

static int is_float_const(const inf_tensor *t, int64_t n)
{
	return t && t->is_const && t->dtype == INF_DT_FLOAT && inf_tensor_numel(t) == n;
}

/* Conv(x, W, b) -> BN(scale, B, mean, var): W' = W*s, b' = (b-mean)*s + B, s = scale/sqrt(var+eps). */
static int fold_bn(inf_graph *g, inf_node *conv, inf_node *bn)
{
	inf_tensor *w = conv->in[1];
	if (!w || w->ndim < 3 || !is_float_const(w, inf_tensor_numel(w)) || readers(g, w) != 1 ||
	    bn->n_in < 5 || bn->n_out < 1 || (bn->n_out > 1 && readers(g, bn->out[1]) > 0))
		return 0;
	int64_t co = w->dims[0], per = inf_tensor_numel(w) / co;
	for (int k = 1; k < 5; k++)
		if (!is_float_const(bn->in[k], co))
			return 0;
	inf_tensor *b = conv->n_in > 2 ? conv->in[2] : NULL;
	if (b && (!is_float_const(b, co) || readers(g, b) != 1))
		return 0;
	if (!b) {
		char name[512];
		snprintf(name, sizeof(name), "%s#bias", conv->out[0]->name);
		if (!(b = inf_graph_tensor(g, name)) || !(b->data = calloc((size_t)co, sizeof(float))))
			return -ENOMEM;
		b->dtype = INF_DT_FLOAT;
		b->ndim = 1;
		b->dims[0] = co;
		b->is_const = 1;
		if (conv->n_in < 3)
			conv->n_in = 3;   /* in[] has a spare slot: add_node allocates n_in + 1 */
		conv->in[2] = b;
	}
	float eps = inf_attr_float(bn, "epsilon", 1e-5f);
	const float *sc = bn->in[1]->data, *be = bn->in[2]->data, *mu = bn->in[3]->data, *var = bn->in[4]->data;
	float *wd = w->data, *bd = b->data;
	for (int64_t c = 0; c < co; c++) {
		float s = sc[c] / sqrtf(var[c] + eps);
		for (int64_t j = 0; j < per; j++)
			wd[c * per + j] *= s;
		bd[c] = (bd[c] - mu[c]) * s + be[c];
	}
	conv->out[0] = bn->out[0];
	return 1;
}

static int act_of(const inf_node *a, inf_node *p)
{
	const char *t = a->op_type;
	if (strcmp(t, "Relu") == 0) {
		p->act = INF_ACT_RELU;
	} else if (strcmp(t, "LeakyRelu") == 0) {
		p->act = INF_ACT_LEAKY_RELU;
		p->act_alpha = inf_attr_float(a, "alpha", 0.01f);
	} else if (strcmp(t, "Sigmoid") == 0) {
		p->act = INF_ACT_SIGMOID;
	} else if (strcmp(t, "HardSigmoid") == 0) {
		p->act = INF_ACT_HARD_SIGMOID;
		p->act_alpha = inf_attr_float(a, "alpha", 0.2f);
		p->act_beta = inf_attr_float(a, "beta", 0.5f);
	} else if (strcmp(t, "HardSwish") == 0) {
		p->act = INF_ACT_HARD_SWISH;
	} else if (strcmp(t, "Clip") == 0) {
		float lo = -INFINITY, hi = INFINITY;
		if (a->n_in > 1 && a->in[1] && !is_float_const(a->in[1], 1))
			return 0;
		if (a->n_in > 2 && a->in[2] && !is_float_const(a->in[2], 1))
			return 0;
		if (a->n_in > 1 && a->in[1])
			lo = *(const float *)a->in[1]->data;
		if (a->n_in > 2 && a->in[2])
			hi = *(const float *)a->in[2]->data;
		p->act = INF_ACT_CLIP;
		p->act_alpha = lo;
		p->act_beta = hi;
	} else {
		return 0;
	}
	return 1;
}

static int same_shape(const inf_tensor *a, const inf_tensor *b)
{
	return a->ndim == b->ndim && memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->ndim) == 0;
}

/* x*Sigmoid(x) with x read only by the two nodes. */
static inf_node *silu_mul(const inf_graph *g, const inf_tensor *x, const inf_node *sig)
{
	if (strcmp(sig->op_type, "Sigmoid") != 0 || readers(g, x) != 2)
		return NULL;
	inf_node *mul = single_reader(g, sig->out[0]);
	if (!mul || strcmp(mul->op_type, "Mul") != 0 || mul->n_in != 2 || !same_shape(mul->out[0], x))
		return NULL;
	if (!((mul->in[0] == x && mul->in[1] == sig->out[0]) || (mul->in[1] == x && mul->in[0] == sig->out[0])))
		return NULL;
	return mul;
}

static int node_index(const inf_graph *g, const inf_node *n)
{
	for (int i = 0; i < g->n_nodes; i++)
		if (g->nodes[i] == n)
			return i;
	return -1;
}

static int fuse_act(inf_graph *g, inf_node *p)
{
	inf_tensor *x = p->out[0];
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *sig = g->nodes[i];
		if (sig->n_in < 1 || sig->in[0] != x)
			continue;
		inf_node *mul = silu_mul(g, x, sig);
		if (!mul)
			break;
		p->act = INF_ACT_SILU;
		p->out[0] = mul->out[0];
		inf_graph_remove_node(g, node_index(g, mul));
		inf_graph_remove_node(g, node_index(g, sig));
		return 1;
	}
	inf_node *a = single_reader(g, x);
	if (!a || a->n_in < 1 || a->in[0] != x || !act_of(a, p))
		return 0;
	p->out[0] = a->out[0];
	inf_graph_remove_node(g, node_index(g, a));
	return 1;
}

int inf_graph_fuse(inf_graph *g)
{
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];
		if (strcmp(n->op_type, "Conv") != 0 || n->n_out != 1 || n->act)
			continue;
		inf_node *bn = single_reader(g, n->out[0]);
		if (bn && strcmp(bn->op_type, "BatchNormalization") == 0) {
			int ret = fold_bn(g, n, bn);
			if (ret < 0)
				return ret;
			if (ret)
				inf_graph_remove_node(g, node_index(g, bn));
		}
	}
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];
		if (n->op->fuses_act && !n->act && n->n_out == 1 && n->out[0]->dtype == INF_DT_FLOAT)
			fuse_act(g, n);
	}
	return 0;
}
