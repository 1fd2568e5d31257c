/* ONNX import: protobuf-c ModelProto -> inf_graph. Constant nodes become constant
 * tensors; every node that the engine cannot run (unknown operator, foreign domain,
 * subgraph attribute, unsupported tensor) is collected into one error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "tensor_pb.h"

/* Older forms (7 to 10) are rewritten to the current ones (upgrade.c); newer opsets may
 * change what an operator means, so they are refused rather than guessed. */
#define MIN_OPSET 7
#define MAX_OPSET 21

/* Accumulates "node 'x' (Op): reason" entries for the single load-time message. */
typedef struct import_errs {
	char buf[800];
	size_t len;
	int count;
	int worst;                    /* VP_EMODEL beats VP_EUNSUP */
} import_errs;

static void errs_add(import_errs *e, int code, const char *node, const char *op, const char *why)
{
	if (e->count++ < 16) {
		int n = snprintf(e->buf + e->len, sizeof(e->buf) - e->len, "%snode '%s' (%s): %s",
		                 e->len ? "; " : "", node ? node : "", op ? op : "", why);
		if (n > 0)
			e->len = e->len + (size_t)n < sizeof(e->buf) ? e->len + (size_t)n : sizeof(e->buf) - 1;
	}
	if (e->worst != VP_EMODEL)
		e->worst = code;
}

static int is_onnx_domain(const char *d)
{
	return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

static int model_opset(const Onnx__ModelProto *m)
{
	for (size_t i = 0; i < m->n_opset_import; i++)
		if (is_onnx_domain(m->opset_import[i]->domain))
			return (int)m->opset_import[i]->version;
	return 0;
}

static int dup_str(char **dst, const uint8_t *src, size_t len)
{
	*dst = malloc(len + 1);
	if (!*dst)
		return -ENOMEM;
	if (len)
		memcpy(*dst, src, len);
	(*dst)[len] = 0;
	return 0;
}

static int copy_attr(const Onnx__AttributeProto *ap, inf_attr *a, char *why, size_t whylen)
{
	a->name = strdup(ap->name ? ap->name : "");
	a->type = ap->type;
	if (!a->name)
		return -ENOMEM;
	switch (ap->type) {
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: a->f = ap->f; return 0;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: a->i = ap->i; return 0;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return dup_str(&a->s, ap->s.data, ap->s.len);
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
		a->n = (int)ap->n_floats;
		a->floats = malloc((ap->n_floats + 1) * sizeof(float));
		if (!a->floats)
			return -ENOMEM;
		if (ap->n_floats)
			memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
		return 0;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
		a->n = (int)ap->n_ints;
		a->ints = malloc((ap->n_ints + 1) * sizeof(int64_t));
		if (!a->ints)
			return -ENOMEM;
		if (ap->n_ints)
			memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
		return 0;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
		a->strings = calloc(ap->n_strings + 1, sizeof(char *));
		if (!a->strings)
			return -ENOMEM;
		a->n = (int)ap->n_strings;
		for (size_t i = 0; i < ap->n_strings; i++)
			if (dup_str(&a->strings[i], ap->strings[i].data, ap->strings[i].len))
				return -ENOMEM;
		return 0;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
		if (!ap->t)
			break;
		a->t = calloc(1, sizeof(*a->t));
		if (!a->t)
			return -ENOMEM;
		a->t->name = strdup(a->name);
		if (!a->t->name)
			return -ENOMEM;
		return inf_tensor_from_proto(ap->t, a->t, why, whylen);
	default:
		break;
	}
	snprintf(why, whylen, "attribute '%s' has an unsupported type (%d)", a->name, ap->type);
	return VP_EUNSUP;
}

/* Constant node -> constant tensor (value, value_float(s), value_int(s)). */
static int fold_constant_node(const Onnx__NodeProto *np, inf_tensor *out, char *why, size_t whylen)
{
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *ap = np->attribute[i];
		const char *nm = ap->name ? ap->name : "";
		size_t n = 1, es = 4;
		const void *src = NULL;
		if (strcmp(nm, "value") == 0 && ap->t)
			return inf_tensor_from_proto(ap->t, out, why, whylen);
		if (strcmp(nm, "value_float") == 0) {
			out->dtype = INF_DT_FLOAT; src = &ap->f;
		} else if (strcmp(nm, "value_int") == 0) {
			out->dtype = INF_DT_INT64; src = &ap->i; es = 8;
		} else if (strcmp(nm, "value_floats") == 0) {
			out->dtype = INF_DT_FLOAT; src = ap->floats; n = ap->n_floats;
		} else if (strcmp(nm, "value_ints") == 0) {
			out->dtype = INF_DT_INT64; src = ap->ints; n = ap->n_ints; es = 8;
		} else {
			continue;
		}
		out->ndim = strncmp(nm + strlen(nm) - 1, "s", 1) == 0 ? 1 : 0;
		out->dims[0] = (int64_t)n;
		out->data = malloc(n * es + 1);
		if (!out->data)
			return -ENOMEM;
		if (n)
			memcpy(out->data, src, n * es);
		out->is_const = 1;
		return 0;
	}
	snprintf(why, whylen, "Constant without a supported value attribute");
	return VP_EUNSUP;
}

static int import_value_info(inf_tensor *t, const Onnx__ValueInfoProto *vi, char *why, size_t whylen)
{
	const Onnx__TypeProto *tp = vi->type;
	if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
		snprintf(why, whylen, "input '%s' is not a tensor", vi->name);
		return VP_EUNSUP;
	}
	const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
	if (inf_dtype_size(tt->elem_type) == 0) {
		snprintf(why, whylen, "input '%s' has unsupported data type %s", vi->name,
		         inf_dtype_name(tt->elem_type));
		return VP_EUNSUP;
	}
	t->dtype = tt->elem_type;
	t->ndim = tt->shape ? (int)tt->shape->n_dim : 0;
	if (t->ndim > INF_MAX_DIMS) {
		snprintf(why, whylen, "input '%s' has too many dims", vi->name);
		return VP_EUNSUP;
	}
	/* -1 marks a symbolic or missing dimension; a stated size below 0 is a broken model,
	 * one of 0 an empty tensor (refused later where an image is needed, shape.c). */
	for (int i = 0; i < t->ndim; i++) {
		const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
		if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
			t->dims[i] = -1;
			continue;
		}
		if (d->dim_value < 0) {
			snprintf(why, whylen, "input '%s' dimension %d is %lld", vi->name, i,
			         (long long)d->dim_value);
			return VP_EMODEL;
		}
		t->dims[i] = d->dim_value;
	}
	return 0;
}

static int import_io(inf_graph *g, const Onnx__GraphProto *gp, import_errs *errs)
{
	char why[256];
	g->inputs = calloc(gp->n_input + 1, sizeof(*g->inputs));
	g->outputs = calloc(gp->n_output + 1, sizeof(*g->outputs));
	if (!g->inputs || !g->outputs)
		return -ENOMEM;
	for (size_t i = 0; i < gp->n_input; i++) {
		inf_tensor *t = inf_graph_tensor(g, gp->input[i]->name ? gp->input[i]->name : "");
		if (!t)
			return -ENOMEM;
		if (t->is_const)
			continue;     /* an initializer listed as input: a constant here */
		int ret = import_value_info(t, gp->input[i], why, sizeof(why));
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			errs_add(errs, ret, gp->input[i]->name, "graph input", why);
		t->is_input = 1;
		g->inputs[g->n_inputs++] = t;
	}
	for (size_t i = 0; i < gp->n_output; i++) {
		inf_tensor *t = inf_graph_tensor(g, gp->output[i]->name ? gp->output[i]->name : "");
		if (!t)
			return -ENOMEM;
		t->is_output = 1;
		g->outputs[g->n_outputs++] = t;
	}
	return 0;
}

static int import_initializers(inf_graph *g, const Onnx__GraphProto *gp, import_errs *errs)
{
	char why[256];
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const Onnx__TensorProto *tp = gp->initializer[i];
		inf_tensor *t = inf_graph_tensor(g, tp->name ? tp->name : "");
		if (!t)
			return -ENOMEM;
		int ret = inf_tensor_from_proto(tp, t, why, sizeof(why));
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			errs_add(errs, ret, tp->name, "initializer", why);
	}
	if (gp->n_sparse_initializer)
		errs_add(errs, VP_EUNSUP, "", "sparse_initializer", "sparse initializers are not supported");
	return 0;
}

static int node_check(const Onnx__NodeProto *np, char *why, size_t whylen)
{
	if (!is_onnx_domain(np->domain)) {
		snprintf(why, whylen, "operator domain '%s' is not supported", np->domain);
		return VP_EUNSUP;
	}
	if (inf_data_dependent_op(np->op_type)) {
		snprintf(why, whylen, "its output shape depends on the input values; vapd plans every "
		         "shape at load and cannot run it");
		return VP_EUNSUP;
	}
	if (!inf_op_find(np->op_type)) {
		snprintf(why, whylen, "unknown operator");
		return VP_EUNSUP;
	}
	return 0;
}

static int link_outputs(inf_graph *g, inf_node *n, const Onnx__NodeProto *np, import_errs *errs)
{
	for (size_t k = 0; k < np->n_output; k++) {
		char anon[64], why[256];
		const char *nm = np->output[k];
		if (!nm || !*nm) {
			snprintf(anon, sizeof(anon), "#%d.%zu", g->n_nodes - 1, k);
			nm = anon;
		}
		if (!(n->out[k] = inf_graph_tensor(g, nm)))
			return -ENOMEM;
		/* SSA: a tensor has one producer (a node, an initializer or a graph input). */
		if (n->out[k]->is_const || n->out[k]->is_input || n->out[k]->producer >= 0) {
			snprintf(why, sizeof(why), "output '%s' is already produced elsewhere", nm);
			errs_add(errs, VP_EMODEL, n->name, n->op_type, why);
		}
		n->out[k]->producer = g->n_nodes - 1;
	}
	return 0;
}

static int import_node(inf_graph *g, const Onnx__NodeProto *np, import_errs *errs)
{
	char why[256] = "";
	const char *op_type = np->op_type ? np->op_type : "";
	/* Unnamed nodes (common in tests and small exports) go by their first output. */
	const char *name = np->name && *np->name ? np->name : np->n_output ? np->output[0] : "";
	if (strcmp(op_type, "Constant") == 0 && is_onnx_domain(np->domain) && np->n_output == 1) {
		inf_tensor *t = inf_graph_tensor(g, np->output[0]);
		if (!t)
			return -ENOMEM;
		int ret = fold_constant_node(np, t, why, sizeof(why));
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			errs_add(errs, ret, name, op_type, why);
		return 0;
	}
	int ret = node_check(np, why, sizeof(why));
	if (ret < 0) {
		errs_add(errs, ret, name, op_type, why);
		return 0;
	}
	inf_node *n = inf_graph_add_node(g, name, op_type, (int)np->n_input, (int)np->n_output);
	if (!n)
		return -ENOMEM;
	n->op = inf_op_find(op_type);
	for (size_t k = 0; k < np->n_input; k++)
		if (np->input[k] && *np->input[k] && !(n->in[k] = inf_graph_tensor(g, np->input[k])))
			return -ENOMEM;
	if ((ret = link_outputs(g, n, np, errs)) < 0)
		return ret;
	n->attr = calloc(np->n_attribute + 1, sizeof(*n->attr));
	if (!n->attr)
		return -ENOMEM;
	for (size_t i = 0; i < np->n_attribute; i++) {
		n->n_attr++;
		ret = copy_attr(np->attribute[i], &n->attr[i], why, sizeof(why));
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0)
			errs_add(errs, ret, name, op_type, why);
	}
	return 0;
}

/* Control bytes in names would break the one-line error messages. */
static void clean(char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void clean_names(Onnx__GraphProto *gp)
{
	for (size_t i = 0; i < gp->n_node; i++) {
		Onnx__NodeProto *n = gp->node[i];
		clean(n->name);
		clean(n->op_type);
		clean(n->domain);
		for (size_t k = 0; k < n->n_input; k++)
			clean(n->input[k]);
		for (size_t k = 0; k < n->n_output; k++)
			clean(n->output[k]);
		for (size_t k = 0; k < n->n_attribute; k++)
			clean(n->attribute[k]->name);
	}
	for (size_t i = 0; i < gp->n_initializer; i++)
		clean(gp->initializer[i]->name);
	for (size_t i = 0; i < gp->n_input; i++)
		clean(gp->input[i]->name);
	for (size_t i = 0; i < gp->n_output; i++)
		clean(gp->output[i]->name);
}

static int import_graph(inf_graph *g, Onnx__ModelProto *m, import_errs *errs)
{
	Onnx__GraphProto *gp = m->graph;
	clean_names(gp);
	g->opset = model_opset(m);
	if (g->opset < MIN_OPSET) {
		char why[96];
		snprintf(why, sizeof(why), "ai.onnx opset %d is older than the supported %d", g->opset, MIN_OPSET);
		errs_add(errs, VP_EUNSUP, "", "model", why);
	}

	int ret = import_initializers(g, gp, errs);
	if (ret < 0)
		return ret;
	if ((ret = import_io(g, gp, errs)) < 0)
		return ret;
	for (size_t i = 0; i < gp->n_node; i++)
		if ((ret = import_node(g, gp->node[i], errs)) < 0)
			return ret;
	return 0;
}

int inf_onnx_import(const char *path, inf_graph **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	Onnx__ModelProto *m = NULL;
	import_errs errs = { .len = 0 };
	inf_graph *g = NULL;
	int err = inf_read_file(path, &buf, &len);
	if (err < 0) {
		vp_err("infer", NULL, "%s: cannot read model: %s", path, vp_strerror(err));
		return err;
	}
	m = onnx__model_proto__unpack(NULL, len, buf);
	free(buf);
	if (!m || !m->graph || !m->has_ir_version) {
		vp_err("infer", NULL, "%s: not a valid ONNX model (%s)", path,
		       !m ? "protobuf parse failed: truncated or not a protobuf" :
		       !m->graph ? "no graph" : "no ir_version");
		err = VP_EMODEL;
		goto fail;
	}
	/* Nothing to run for: refused here rather than as a bad index by the first caller
	 * that asks for output 0. */
	if (m->graph->n_output == 0) {
		vp_err("infer", NULL, "%s: model has no outputs", path);
		err = VP_EMODEL;
		goto fail;
	}
	if (model_opset(m) > MAX_OPSET) {
		vp_err("infer", NULL, "%s: ai.onnx opset %d is newer than the supported %d", path,
		       model_opset(m), MAX_OPSET);
		err = VP_EUNSUP;
		goto fail;
	}
	g = inf_graph_new(path);
	if (!g) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = import_graph(g, m, &errs)) < 0) {
		vp_err("infer", NULL, "%s: import failed: %s", path, vp_strerror(err));
		goto fail;
	}
	if (errs.count) {
		vp_err("infer", NULL, "%s: %d unsupported or malformed item%s: %s%s", path, errs.count,
		       errs.count > 1 ? "s" : "", errs.buf, errs.count > 16 ? "; ..." : "");
		err = errs.worst;
		goto fail;
	}
	if ((err = inf_graph_upgrade(g)) < 0)
		goto fail;
	onnx__model_proto__free_unpacked(m, NULL);
	*ret = g;
	return 0;
fail:
	inf_graph_free(&g);
	if (m)
		onnx__model_proto__free_unpacked(m, NULL);
	return err;
}
