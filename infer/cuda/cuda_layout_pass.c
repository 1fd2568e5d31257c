/* The cuda backend's layout pass (see cuda_layout_pass.h). It decides storage only:
 * the operator rows read the result through cu_strides and set up their kernels and
 * descriptors from it. Kept free of CUDA so a CPU test checks it on the real models. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_layout_pass.h"

/* Must agree with the cuda rows: an ANY operator's kernel walks every operand through its
 * own strides (cu_strides; Conv runs in its input's layout and converts its output when
 * that differs), a SAME one handles NHWC when in[0] and out[0] both are. */
static const struct { const char *op; enum cu_layout_class cls; } classes[] = {
	{ "Conv", CU_LAYOUT_ANY },
	{ "Relu", CU_LAYOUT_SAME }, { "LeakyRelu", CU_LAYOUT_SAME }, { "Sigmoid", CU_LAYOUT_SAME },
	{ "HardSigmoid", CU_LAYOUT_SAME }, { "HardSwish", CU_LAYOUT_SAME }, { "Clip", CU_LAYOUT_SAME },
	{ "Tanh", CU_LAYOUT_SAME }, { "Exp", CU_LAYOUT_SAME }, { "Log", CU_LAYOUT_SAME },
	{ "Neg", CU_LAYOUT_SAME }, { "Abs", CU_LAYOUT_SAME }, { "Sqrt", CU_LAYOUT_SAME },
	{ "Elu", CU_LAYOUT_SAME }, { "Softplus", CU_LAYOUT_SAME }, { "Reciprocal", CU_LAYOUT_SAME },
	{ "Floor", CU_LAYOUT_SAME }, { "Ceil", CU_LAYOUT_SAME },
	{ "Identity", CU_LAYOUT_SAME }, { "Dropout", CU_LAYOUT_SAME },
	{ "Add", CU_LAYOUT_ANY }, { "Sub", CU_LAYOUT_ANY }, { "Mul", CU_LAYOUT_ANY },
	{ "Div", CU_LAYOUT_ANY }, { "Pow", CU_LAYOUT_ANY },
	{ "Transpose", CU_LAYOUT_ANY }, { "Slice", CU_LAYOUT_ANY }, { "Expand", CU_LAYOUT_ANY },
	{ "Concat", CU_LAYOUT_ANY }, { "Split", CU_LAYOUT_ANY }, { "Gather", CU_LAYOUT_ANY },
	{ "Pad", CU_LAYOUT_ANY },
	{ "MaxPool", CU_LAYOUT_ANY }, { "AveragePool", CU_LAYOUT_ANY }, { "GlobalMaxPool", CU_LAYOUT_ANY },
	{ "GlobalAveragePool", CU_LAYOUT_ANY }, { "Resize", CU_LAYOUT_ANY }, { "Upsample", CU_LAYOUT_ANY },
};

enum cu_layout_class cu_layout_class(const char *op_type)
{
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (!strcmp(classes[i].op, op_type))
			return classes[i].cls;
	return CU_LAYOUT_NCHW;
}

static int tensor_index(const inf_graph *g, const inf_tensor *t)
{
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i] == t)
			return i;
	return -1;
}

/* First pass: the candidates by the producer/consumer rule. */
static void candidates(const inf_graph *g, uint8_t *nhwc, uint8_t *produced)
{
	for (int i = 0; i < g->n_tensors; i++) {
		const inf_tensor *t = g->tensors[i];
		nhwc[i] = t->ndim == 4 && t->dtype == INF_DT_FLOAT && !t->is_const && !t->is_output;
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const inf_node *n = g->nodes[i];
		int aware = cu_layout_class(n->op_type) != CU_LAYOUT_NCHW;
		for (int k = 0; k < n->n_in + n->n_out && !aware; k++) {
			const inf_tensor *t = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
			int ti = t ? tensor_index(g, t) : -1;
			if (ti >= 0)
				nhwc[ti] = 0;
		}
	}
	/* an activation that no node produces and no caller fills is left from fusion */
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_out; k++) {
			int ti = tensor_index(g, g->nodes[i]->out[k]);
			if (ti >= 0)
				produced[ti] = 1;
		}
	for (int i = 0; i < g->n_tensors; i++)
		if (!produced[i] && !g->tensors[i]->is_input)
			nhwc[i] = 0;
}

int cu_layout_assign(const inf_graph *g, int enable, uint8_t *nhwc)
{
	memset(nhwc, 0, (size_t)g->n_tensors);
	if (!enable)
		return 0;
	uint8_t *produced = calloc((size_t)g->n_tensors + 1, 1);
	if (!produced)
		return -ENOMEM;
	candidates(g, nhwc, produced);
	free(produced);
	for (int changed = 1; changed;) {
		changed = 0;
		for (int i = 0; i < g->n_nodes; i++) {
			const inf_node *n = g->nodes[i];
			if (cu_layout_class(n->op_type) != CU_LAYOUT_SAME || n->n_in < 1 || !n->in[0])
				continue;
			for (int k = 0; k < n->n_out; k++) {
				int a = tensor_index(g, n->in[0]), b = tensor_index(g, n->out[k]);
				if (a >= 0 && b >= 0 && nhwc[a] != nhwc[b]) {
					nhwc[a] = nhwc[b] = 0;
					changed = 1;
				}
			}
		}
	}
	int count = 0;
	for (int i = 0; i < g->n_tensors; i++)
		count += nhwc[i];
	return count;
}

void cu_layout_strides(const inf_tensor *t, int nhwc, int64_t *s)
{
	int64_t acc = 1;
	if (nhwc && t->ndim == 4) {
		const int64_t c = t->dims[1], h = t->dims[2], w = t->dims[3];
		s[0] = h * w * c;
		s[1] = 1;
		s[2] = w * c;
		s[3] = c;
		return;
	}
	for (int i = t->ndim - 1; i >= 0; i--) {
		s[i] = acc;
		acc *= t->dims[i];
	}
}

void cu_layout_bcast_strides(const inf_tensor *t, int nhwc, int nd, const int64_t *out, int64_t *s)
{
	int64_t ts[INF_MAX_DIMS];
	cu_layout_strides(t, nhwc, ts);
	for (int i = 0; i < nd; i++) {
		int it = i - (nd - t->ndim);
		int64_t d = it >= 0 ? t->dims[it] : 1;
		s[i] = it < 0 || (d == 1 && out[i] != 1) ? 0 : ts[it];
	}
}

void cu_geom_output_order(cuk_geom *g)
{
	for (int i = 1; i < g->nd; i++)
		for (int j = i; j > 0 && g->sy[j] > g->sy[j - 1]; j--) {
			int64_t *arrays[4] = { g->dims, g->sa, g->sb, g->sy };
			for (int k = 0; k < 4; k++) {
				int64_t v = arrays[k][j];
				arrays[k][j] = arrays[k][j - 1];
				arrays[k][j - 1] = v;
			}
		}
}
