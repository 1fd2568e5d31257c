/* Opset upgrade at import: the forms operators had before (opsets 7 to 12 and 17) are
 * rewritten into the current ones, so shape functions and every backend see one form:
 * Upsample and Resize-10 -> Resize with an empty roi, asymmetric coordinates and floor
 * rounding (what they meant); Slice, Pad, Split, Squeeze, Unsqueeze, Reduce* and Clip
 * attributes -> constant inputs; BatchNormalization's old attributes dropped; Dropout (an
 * inference no-op) -> Identity. A rewritten node gets the opset of its new form. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "graph.h"

/* Reduce ops took their axes as an input from opset 18 (ReduceSum from 13). */
static const char *const reduces[] = { "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
	"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ReduceSum" };

static int is_reduce(const char *op)
{
	for (size_t i = 0; i < sizeof(reduces) / sizeof(reduces[0]); i++)
		if (!strcmp(op, reduces[i]))
			return 1;
	return 0;
}

static void drop_attr(inf_node *n, const char *name)
{
	for (int i = 0; i < n->n_attr; i++) {
		if (strcmp(n->attr[i].name, name))
			continue;
		inf_attr_clear(&n->attr[i]);
		memmove(&n->attr[i], &n->attr[i + 1], (size_t)(n->n_attr - i - 1) * sizeof(*n->attr));
		n->n_attr--;
		return;
	}
}

static int set_attr_str(inf_node *n, const char *name, const char *value)
{
	drop_attr(n, name);
	inf_attr *a = realloc(n->attr, (size_t)(n->n_attr + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	n->attr = a;
	a = &n->attr[n->n_attr];
	memset(a, 0, sizeof(*a));
	a->type = INF_ATTR_STRING;
	if (!(a->name = strdup(name)) || !(a->s = strdup(value))) {
		free(a->name);
		return -ENOMEM;
	}
	n->n_attr++;
	return 0;
}

static int set_op(inf_node *n, const char *op_type)
{
	char *s = strdup(op_type);
	if (!s)
		return -ENOMEM;
	free(n->op_type);
	n->op_type = s;
	n->op = inf_op_find(op_type);
	return 0;
}

/* Sets input k (growing the list with omitted inputs up to it). */
static int set_input(inf_node *n, int k, inf_tensor *t)
{
	if (k >= n->n_in) {
		inf_tensor **in = realloc(n->in, (size_t)(k + 2) * sizeof(*in));
		if (!in)
			return -ENOMEM;
		for (int i = n->n_in; i < k + 2; i++)
			in[i] = NULL;
		n->in = in;
		n->n_in = k + 1;
	}
	n->in[k] = t;
	return 0;
}

/* A new 1-D (count >= 0) or scalar (count < 0) constant named after the node. */
static inf_tensor *add_const(inf_graph *g, const inf_node *n, const char *what, int dtype,
                             int count, const void *data)
{
	char name[512];
	snprintf(name, sizeof(name), "%s#upgrade.%s", n->name, what);
	if (inf_graph_find(g, name))
		return NULL;
	inf_tensor *t = inf_graph_tensor(g, name);
	if (!t)
		return NULL;
	t->dtype = dtype;
	t->ndim = count >= 0 ? 1 : 0;
	t->dims[0] = count >= 0 ? count : 1;
	t->is_const = 1;
	size_t bytes = inf_tensor_bytes(t);
	if (!(t->data = malloc(bytes ? bytes : 1)))
		return NULL;
	memcpy(t->data, data, bytes);
	return t;
}

/* Attribute ints `name` into input k as an int64 constant; absent: input left omitted. */
static int attr_to_input(inf_graph *g, inf_node *n, const char *name, int k)
{
	const int64_t *v;
	int cnt = inf_attr_ints(n, name, &v);
	if (cnt < 0)
		return 0;
	inf_tensor *t = add_const(g, n, name, INF_DT_INT64, cnt, v);
	if (!t)
		return -ENOMEM;
	int rc = set_input(n, k, t);
	drop_attr(n, name);
	return rc;
}

/* Upsample-7 (scales attribute), Upsample-9 and Resize-10 (scales input). */
static int upgrade_resize(inf_graph *g, inf_node *n)
{
	const float *sc;
	inf_tensor *scales = n->n_in > 1 ? n->in[1] : NULL;
	int cnt = inf_attr_floats(n, "scales", &sc);
	if (!scales && cnt > 0 && !(scales = add_const(g, n, "scales", INF_DT_FLOAT, cnt, sc)))
		return -ENOMEM;
	static const float none = 0;
	inf_tensor *roi = add_const(g, n, "roi", INF_DT_FLOAT, 0, &none);
	if (!roi)
		return -ENOMEM;
	const char *mode = inf_attr_str(n, "mode", "nearest");
	char m[16];
	snprintf(m, sizeof(m), "%s", !strcmp(mode, "bilinear") ? "linear" : mode);
	drop_attr(n, "scales");
	int rc;
	if ((rc = set_input(n, 2, scales)) < 0 || (rc = set_input(n, 1, roi)) < 0 ||
	    (rc = set_attr_str(n, "mode", m)) < 0 ||
	    (rc = set_attr_str(n, "coordinate_transformation_mode", "asymmetric")) < 0 ||
	    (rc = set_attr_str(n, "nearest_mode", "floor")) < 0)
		return rc;
	n->opset = 13;
	return set_op(n, "Resize");
}

static int upgrade_slice(inf_graph *g, inf_node *n)
{
	int rc;
	if ((rc = attr_to_input(g, n, "starts", 1)) < 0 || (rc = attr_to_input(g, n, "ends", 2)) < 0 ||
	    (rc = attr_to_input(g, n, "axes", 3)) < 0)
		return rc;
	n->opset = 13;
	return 0;
}

/* Pad-2: pads and value attributes. The value input must have the data's type, which is
 * not known yet: a zero value (nearly every export) is the default and needs no input;
 * another one is taken as float, the type old Pads were used with. */
static int upgrade_pad(inf_graph *g, inf_node *n)
{
	float value = inf_attr_float(n, "value", 0.0f);
	int rc = attr_to_input(g, n, "pads", 1);
	if (rc < 0)
		return rc;
	if (value != 0.0f) {
		inf_tensor *v = add_const(g, n, "value", INF_DT_FLOAT, -1, &value);
		if (!v || (rc = set_input(n, 2, v)) < 0)
			return v ? rc : -ENOMEM;
	}
	drop_attr(n, "value");
	n->opset = 13;
	return 0;
}

/* Clip-6: min and max attributes (float tensors only at that opset). */
static int upgrade_clip(inf_graph *g, inf_node *n)
{
	static const char *const names[2] = { "min", "max" };
	for (int k = 0; k < 2; k++) {
		if (!inf_attr_get(n, names[k]))
			continue;
		float v = inf_attr_float(n, names[k], 0.0f);
		inf_tensor *t = add_const(g, n, names[k], INF_DT_FLOAT, -1, &v);
		int rc;
		if (!t || (rc = set_input(n, k + 1, t)) < 0)
			return t ? rc : -ENOMEM;
		drop_attr(n, names[k]);
	}
	n->opset = 13;
	return 0;
}

/* Dropout only scales during training; its mask output, when something reads it, keeps
 * the node as it is. */
static int upgrade_dropout(inf_graph *g, inf_node *n)
{
	if (n->n_out > 1 && inf_graph_tensor_is_read(g, n->out[1]))
		return 0;
	n->n_in = 1;
	n->n_out = 1;
	drop_attr(n, "ratio");
	drop_attr(n, "is_test");
	drop_attr(n, "seed");
	n->opset = 16;
	return set_op(n, "Identity");
}

/* BatchNormalization before 9 had spatial (1: per channel, what every export uses),
 * is_test and consumed_inputs; only spatial 0 means something else. */
static int upgrade_batchnorm(inf_node *n, char *why, size_t len)
{
	if (inf_attr_int(n, "spatial", 1) != 1) {
		snprintf(why, len, "spatial 0 (per-element statistics) is not supported");
		return VP_EUNSUP;
	}
	drop_attr(n, "spatial");
	drop_attr(n, "is_test");
	drop_attr(n, "consumed_inputs");
	n->opset = 15;
	return 0;
}

static int upgrade_node(inf_graph *g, inf_node *n, char *why, size_t len)
{
	const char *op = n->op_type;
	int v = n->opset;
	/* A node without its data input or output is malformed: left for the shape functions,
	 * which refuse it with the node's name. */
	if (n->n_in < 1 || !n->in[0] || n->n_out < 1)
		return 0;
	if (!strcmp(op, "Upsample") || (!strcmp(op, "Resize") && v < 11))
		return upgrade_resize(g, n);
	if (!strcmp(op, "Slice") && v < 10)
		return upgrade_slice(g, n);
	if (!strcmp(op, "Pad") && v < 11)
		return upgrade_pad(g, n);
	if (!strcmp(op, "Clip") && v < 11)
		return upgrade_clip(g, n);
	if ((!strcmp(op, "Split") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) && v < 13) {
		int rc = attr_to_input(g, n, !strcmp(op, "Split") ? "split" : "axes", 1);
		n->opset = 13;
		return rc;
	}
	if (is_reduce(op) && v < (!strcmp(op, "ReduceSum") ? 13 : 18)) {
		int rc = attr_to_input(g, n, "axes", 1);
		n->opset = 18;
		return rc;
	}
	if (!strcmp(op, "Dropout"))
		return upgrade_dropout(g, n);
	if (!strcmp(op, "BatchNormalization") && v < 9)
		return upgrade_batchnorm(n, why, len);
	return 0;
}

const char *inf_data_dependent_op(const char *op_type)
{
	static const char *const ops[] = { "NonZero", "NonMaxSuppression", "Unique", "Compress" };
	for (size_t i = 0; op_type && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op_type, ops[i]))
			return ops[i];
	return NULL;
}

int inf_graph_upgrade(inf_graph *g)
{
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];
		char why[160] = "";
		int rc = upgrade_node(g, n, why, sizeof(why));
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			vp_err("infer", NULL, "%s: node '%s' (%s, opset %d): %s", g->path, n->name,
			       n->op_type, n->opset, why);
			return rc;
		}
	}
	return 0;
}
