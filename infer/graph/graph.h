/* Internal to infer/: the imported graph, its tensors and nodes, and the operator
 * table. An operator row gives the shape function (backend independent) and the CPU
 * kernel; the cuda backend adds its own kernels for the same rows. */
#ifndef INF_GRAPH_H
#define INF_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "infer/engine.h"

typedef struct inf_tensor {
	char *name;
	int dtype;                    /* enum inf_dtype */
	int ndim;
	int64_t dims[INF_MAX_DIMS];
	void *data;                   /* constant data (owned by the graph) or arena pointer set by the planner */
	int is_const;                 /* initializer, Constant output or folded */
	int is_input, is_output;      /* graph input / output */
	/* planner bookkeeping */
	int producer;                 /* node index, -1 for constants and inputs */
	int last_use;                 /* last node index reading it */
	size_t offset;                /* arena offset */
} inf_tensor;

/* ONNX AttributeProto.AttributeType codes. */
enum inf_attr_type {
	INF_ATTR_FLOAT = 1, INF_ATTR_INT = 2, INF_ATTR_STRING = 3, INF_ATTR_TENSOR = 4,
	INF_ATTR_FLOATS = 6, INF_ATTR_INTS = 7, INF_ATTR_STRINGS = 8,
};

typedef struct inf_attr {
	char *name;
	int type;                     /* enum inf_attr_type */
	float f;
	int64_t i;
	char *s;
	int n;                        /* element count of floats/ints/strings */
	float *floats;
	int64_t *ints;
	char **strings;
	inf_tensor *t;
} inf_attr;

/* Activation fused into the producing node (Conv, ConvTranspose, Gemm, MatMul). */
enum inf_act {
	INF_ACT_NONE = 0, INF_ACT_RELU, INF_ACT_LEAKY_RELU, INF_ACT_SIGMOID, INF_ACT_SILU,
	INF_ACT_HARD_SIGMOID, INF_ACT_HARD_SWISH, INF_ACT_CLIP,
};

struct inf_op;

typedef struct inf_node {
	char *name;
	char *op_type;
	int opset;                    /* ai.onnx opset of the model */
	int n_in, n_out;
	inf_tensor **in;              /* in[k] == NULL: optional input omitted */
	inf_tensor **out;
	int n_attr;
	inf_attr *attr;
	const struct inf_op *op;
	void *priv;                   /* operator state from prepare() */
	int act;                      /* enum inf_act */
	float act_alpha, act_beta;    /* LeakyRelu alpha, HardSigmoid alpha/beta, Clip min/max */
} inf_node;

typedef struct inf_cpu_ctx {
	int threads;                  /* worker threads the kernels may use */
	struct tp_pool *pool;         /* their task pool (taskpool.h), NULL: OpenMP or serial */
} inf_cpu_ctx;

typedef struct inf_op {
	const char *op_type;
	/* Checks attributes and input dtypes/ranks; sets every out[] dtype and dims from the
	 * inputs (whose data is readable when is_const). On failure writes the reason to err
	 * and returns VP_EUNSUP or VP_EMODEL. */
	int (*shape)(inf_node *n, char *err, size_t errlen);
	/* Optional: builds n->priv once shapes are final; *ret_workspace = scratch bytes a run needs. */
	int (*prepare)(inf_node *n, size_t *ret_workspace);
	/* Optional: frees n->priv. */
	void (*release)(inf_node *n);
	/* Computes out[] from in[]; no allocation. Honors n->act when fuses_act is set. */
	int (*run_cpu)(inf_node *n, void *workspace, const inf_cpu_ctx *cx);
	int fuses_act;
} inf_op;

/* Operator registry (op_registry.c): NULL for unknown op types. */
const inf_op *inf_op_find(const char *op_type);

/* Attribute helpers: the default when the attribute is absent. */
int64_t inf_attr_int(const inf_node *n, const char *name, int64_t def);
float inf_attr_float(const inf_node *n, const char *name, float def);
const char *inf_attr_str(const inf_node *n, const char *name, const char *def);
/* Number of ints (or -1 when absent); *ret points into the node. */
int inf_attr_ints(const inf_node *n, const char *name, const int64_t **ret);
int inf_attr_floats(const inf_node *n, const char *name, const float **ret);
const inf_attr *inf_attr_get(const inf_node *n, const char *name);

size_t inf_dtype_size(int dtype);
int64_t inf_tensor_numel(const inf_tensor *t);
/* Bytes of t's data: numel * dtype size. */
size_t inf_tensor_bytes(const inf_tensor *t);

/* The imported model. Nodes are kept in execution (topological) order; an output name
 * that the model leaves empty gets an anonymous tensor, so out[k] is never NULL for
 * k < n_out. Tensors are owned by the graph, constant data too. */
typedef struct inf_graph {
	char *path;                   /* model file, for messages */
	int opset;                    /* ai.onnx opset */
	int model_batch;              /* the inputs' leading dim as exported; -1 symbolic (shape.c) */
	int n_tensors, cap_tensors;
	inf_tensor **tensors;
	int n_nodes, cap_nodes;
	inf_node **nodes;
	int n_inputs, n_outputs;
	inf_tensor **inputs;          /* graph inputs that are not initializers */
	inf_tensor **outputs;
} inf_graph;

inf_graph *inf_graph_new(const char *path);
void inf_graph_free(inf_graph **g);
/* The tensor named name, created (dtype 0, ndim 0) when absent; NULL on ENOMEM. */
inf_tensor *inf_graph_tensor(inf_graph *g, const char *name);
inf_tensor *inf_graph_find(const inf_graph *g, const char *name);
/* Appends an empty node with room for n_in inputs and n_out outputs. */
inf_node *inf_graph_add_node(inf_graph *g, const char *name, const char *op_type, int n_in, int n_out);
/* Frees node i (not its tensors) and closes the gap. */
void inf_graph_remove_node(inf_graph *g, int i);
/* 1 when t is a graph output or some node's input. */
int inf_graph_tensor_is_read(const inf_graph *g, const inf_tensor *t);
/* Removes nodes whose outputs nobody reads (and that are no graph output). */
void inf_graph_prune(inf_graph *g);

/* upgrade.c: rewrites the older forms of operators (opsets 7 to 17) into their current
 * ones, in place (see the file); logs and returns VP_EUNSUP for a form it cannot express. */
int inf_graph_upgrade(inf_graph *g);
/* The op type when op_type's output shape depends on its input values (NonZero,
 * NonMaxSuppression, ...): refused at load. NULL otherwise. */
const char *inf_data_dependent_op(const char *op_type);
/* Frees what an attribute owns (not the attribute itself). */
void inf_attr_clear(inf_attr *a);

/* onnx_import.c: parses the file into a graph; logs one message and returns VP_EMODEL
 * (malformed) or VP_EUNSUP (unknown ops, dtypes, external data, old opset) on failure. */
int inf_onnx_import(const char *path, inf_graph **ret);

/* shape.c: sorts the nodes topologically, sets the input shapes from opts (batch
 * rewriting, input size, or exact shapes), runs every shape function and folds the
 * nodes whose inputs are all constant (Shape of a known shape too). A malformed node
 * is logged and stops it (VP_EMODEL); nodes whose shape function answers VP_EUNSUP
 * are all listed in one message. */
int inf_graph_infer(inf_graph *g, const inf_engine_opts *opts);
/* Runs node n on the CPU once, allocating its outputs as constants (folding). */
int inf_node_fold(inf_node *n);

/* fuse.c: BatchNormalization folded into Conv, activations fused into their producer. */
int inf_graph_fuse(inf_graph *g);

/* plan.c: liveness and arena offsets for every non-constant tensor (graph inputs and
 * outputs stay live for the whole run); *ret_bytes = arena size. */
int inf_graph_plan(inf_graph *g, size_t *ret_bytes);
/* The same with options: INF_PLAN_CONCAT_IN_PLACE places the inputs of a Concat whose
 * inputs are contiguous slices of its output (the axes before the concat axis all have
 * size 1) inside that output; the Concat then finds each input already in place. */
enum inf_plan_flags { INF_PLAN_CONCAT_IN_PLACE = 1 };
int inf_graph_plan_ex(inf_graph *g, int flags, size_t *ret_bytes);

#endif
