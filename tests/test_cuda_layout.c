/* The cuda backend's host-side layout logic, without a GPU: the layout pass on the shared
 * models (which activations become NHWC, graph outputs stay NCHW, every NHWC tensor sits
 * between layout-aware operators, nearly every convolution runs NHWC), the operator
 * classes against the cuda rows, and the stride helpers. The strided kernel math is
 * checked in test_cuda_kernels_math.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "infer/cuda/cuda_kernels.h"
#include "infer/cuda/cuda_layout_pass.h"
#include "infer/graph/graph.h"
#ifdef VP_HAVE_CUDA
#include "infer/cuda/cuda_ops.h"
#endif

static const char *shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s && *s ? s : "../shared";
}

/* ---- the layout pass on the shared models ---- */

static int produced_by_node(const inf_graph *g, const inf_tensor *t)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_out; k++)
			if (g->nodes[i]->out[k] == t)
				return 1;
	return 0;
}

static inf_graph *load_model(const char *name, int batch)
{
	char path[1024];
	inf_graph *g = NULL;
	snprintf(path, sizeof(path), "%s/models/%s.onnx", shared_dir(), name);
	inf_engine_opts o = { .backend = "cpu", .max_batch = batch };
	assert_int_equal(inf_onnx_import(path, &g), 0);
	assert_int_equal(inf_graph_infer(g, &o), 0);
	assert_int_equal(inf_graph_fuse(g), 0);
	return g;
}

static int index_of(const inf_graph *g, const inf_tensor *t)
{
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i] == t)
			return i;
	return -1;
}

/* Every NHWC tensor: 4-D float activation, no graph output, produced (or fed) and read
 * only by layout-aware operators. */
static void check_rule(const inf_graph *g, const uint8_t *nhwc)
{
	for (int i = 0; i < g->n_tensors; i++) {
		const inf_tensor *t = g->tensors[i];
		if (!nhwc[i])
			continue;
		assert_int_equal(t->ndim, 4);
		assert_int_equal(t->dtype, INF_DT_FLOAT);
		assert_false(t->is_const);
		assert_false(t->is_output);
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const inf_node *n = g->nodes[i];
		enum cu_layout_class cls = cu_layout_class(n->op_type);
		for (int k = 0; k < n->n_in + n->n_out; k++) {
			const inf_tensor *t = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
			if (t && cls == CU_LAYOUT_NCHW && nhwc[index_of(g, t)])
				fail_msg("node %s (%s) is NCHW-only but touches NHWC %s", n->name, n->op_type, t->name);
		}
		if (cls == CU_LAYOUT_SAME && n->in[0])
			assert_int_equal(nhwc[index_of(g, n->in[0])], nhwc[index_of(g, n->out[0])]);
	}
	for (int i = 0; i < g->n_outputs; i++)
		assert_int_equal(nhwc[index_of(g, g->outputs[i])], 0);
}

static void check_model_layout(const char *name)
{
	inf_graph *g = load_model(name, 2);
	uint8_t *nhwc = malloc((size_t)g->n_tensors + 1);
	assert_non_null(nhwc);
	assert_int_equal(cu_layout_assign(g, 0, nhwc), 0);
	for (int i = 0; i < g->n_tensors; i++)
		assert_int_equal(nhwc[i], 0);

	int count = cu_layout_assign(g, 1, nhwc);
	check_rule(g, nhwc);
	int convs = 0, conv_nhwc = 0, mixed = 0, acts = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		const inf_node *n = g->nodes[i];
		if (!strcmp(n->op_type, "Conv") && n->in[0]->ndim == 4) {
			int a = nhwc[index_of(g, n->in[0])], b = nhwc[index_of(g, n->out[0])];
			convs++;
			conv_nhwc += a;
			mixed += a != b;
		}
	}
	for (int i = 0; i < g->n_tensors; i++) {
		const inf_tensor *t = g->tensors[i];
		acts += !t->is_const && t->ndim == 4 && (t->is_input || produced_by_node(g, t));
	}
	printf("# %s: %d of %d 4-D activations NHWC; %d of %d convolutions run NHWC, %d convert their output; "
	       "input %s\n", name, count, acts, conv_nhwc, convs, mixed, nhwc[index_of(g, g->inputs[0])] ? "NHWC" : "NCHW");
	/* the detectors are convolution stacks: nearly all run NHWC, the frame enters NHWC,
	 * and only the few head convolutions that feed a Reshape convert */
	assert_true(convs > 10);
	assert_true(conv_nhwc * 10 >= convs * 9);
	assert_true(mixed * 5 <= convs);
	assert_int_equal(nhwc[index_of(g, g->inputs[0])], 1);
	free(nhwc);
	inf_graph_free(&g);
}

static void test_layout_pass_on_yolox_nano(void **state)
{
	(void)state;
	check_model_layout("yolox_nano");
}

static void test_layout_pass_on_yolov8n(void **state)
{
	(void)state;
	check_model_layout("yolov8n");
}

/* A hand-made chain: input -> Relu -> Reshape: the Reshape (NCHW-only) pulls the Relu's
 * output to NCHW, and the Relu (same layout in and out) pulls its input along, while the
 * MaxPool -> Add pair in between keeps NHWC. */
static void test_same_layout_constraint_propagates(void **state)
{
	(void)state;
	inf_graph *g = inf_graph_new("chain");
	assert_non_null(g);
	inf_tensor *x = inf_graph_tensor(g, "x"), *w = inf_graph_tensor(g, "w"), *y = inf_graph_tensor(g, "y");
	inf_tensor *r = inf_graph_tensor(g, "r"), *p = inf_graph_tensor(g, "p"), *q = inf_graph_tensor(g, "q");
	inf_tensor *shape = inf_graph_tensor(g, "shape");
	inf_tensor *all[] = { x, w, y, r, p, q };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		all[i]->dtype = INF_DT_FLOAT;
		all[i]->ndim = 4;
		for (int k = 0; k < 4; k++)
			all[i]->dims[k] = 2;
	}
	w->is_const = 1;
	shape->is_const = 1;
	r->ndim = 2;
	r->is_output = 1;
	q->is_output = 1;
	x->is_input = 1;
	inf_node *conv = inf_graph_add_node(g, "relu", "Relu", 2, 1);
	inf_node *resh = inf_graph_add_node(g, "resh", "Reshape", 2, 1);
	inf_node *pool = inf_graph_add_node(g, "pool", "MaxPool", 1, 1);
	inf_node *add = inf_graph_add_node(g, "add", "Add", 2, 1);
	assert_non_null(add);
	conv->in[0] = x, conv->in[1] = w, conv->out[0] = y;
	resh->in[0] = y, resh->in[1] = shape, resh->out[0] = r;
	pool->in[0] = x, pool->out[0] = p;
	add->in[0] = p, add->in[1] = p, add->out[0] = q;
	uint8_t nhwc[16];
	assert_int_equal(g->n_tensors <= 16, 1);
	cu_layout_assign(g, 1, nhwc);
	check_rule(g, nhwc);
	/* y feeds Reshape: NCHW; Relu pairs x with y: NCHW; p sits between MaxPool and Add */
	assert_int_equal(nhwc[index_of(g, y)], 0);
	assert_int_equal(nhwc[index_of(g, x)], 0);
	assert_int_equal(nhwc[index_of(g, p)], 1);
	assert_int_equal(nhwc[index_of(g, q)], 0);
	assert_int_equal(nhwc[index_of(g, w)], 0);
	inf_graph_free(&g);
}

/* Every layout-aware class names an operator the cuda backend has a row for. */
static void test_layout_classes_name_gpu_operators(void **state)
{
	(void)state;
	static const char *const ops[] = {
		"Conv", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip", "Tanh", "Exp", "Log", "Neg",
		"Abs", "Sqrt", "Elu", "Softplus", "Reciprocal", "Floor", "Ceil", "Identity", "Dropout", "Add", "Sub",
		"Mul", "Div", "Pow", "Transpose", "Slice", "Expand", "Concat", "Split", "Gather", "Pad", "MaxPool",
		"AveragePool", "GlobalMaxPool", "GlobalAveragePool", "Resize", "Upsample",
	};
	static const char *const nchw[] = { "Reshape", "Flatten", "Squeeze", "Unsqueeze", "MatMul", "Gemm",
		                            "Softmax", "LogSoftmax", "BatchNormalization", "NoSuchOp" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		assert_int_not_equal(cu_layout_class(ops[i]), CU_LAYOUT_NCHW);
#ifdef VP_HAVE_CUDA
		if (!cu_op_find(ops[i]))
			fail_msg("%s is layout-aware but has no cuda row", ops[i]);
#endif
	}
	for (size_t i = 0; i < sizeof(nchw) / sizeof(nchw[0]); i++)
		assert_int_equal(cu_layout_class(nchw[i]), CU_LAYOUT_NCHW);
	assert_int_equal(cu_layout_class("Conv"), CU_LAYOUT_ANY);
	assert_int_equal(cu_layout_class("Relu"), CU_LAYOUT_SAME);
}

static void test_strides_and_output_walk_order(void **state)
{
	(void)state;
	inf_tensor t = { .ndim = 4, .dims = { 2, 3, 5, 7 } };
	int64_t s[4], b[4];
	cu_layout_strides(&t, 0, s);
	assert_true(s[0] == 105 && s[1] == 35 && s[2] == 7 && s[3] == 1);
	cu_layout_strides(&t, 1, s);
	assert_true(s[0] == 105 && s[1] == 1 && s[2] == 21 && s[3] == 3);
	/* [2,3,1,1] NHWC broadcast against [2,3,5,7]: h and w are stretched */
	inf_tensor v = { .ndim = 4, .dims = { 2, 3, 1, 1 } };
	const int64_t out[4] = { 2, 3, 5, 7 };
	cu_layout_bcast_strides(&v, 1, 4, out, b);
	assert_true(b[0] == 3 && b[1] == 1 && b[2] == 0 && b[3] == 0);
	/* a rank-1 operand aligns with the last axis */
	inf_tensor r1 = { .ndim = 1, .dims = { 7 } };
	cu_layout_bcast_strides(&r1, 0, 4, out, b);
	assert_true(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 1);

	cuk_geom g = { .nd = 4, .dims = { 2, 3, 5, 7 } };
	cu_layout_strides(&t, 0, g.sa);
	cu_layout_strides(&t, 1, g.sy);
	cu_geom_output_order(&g);
	/* walked as N, H, W, C: the output strides descend, the input's follow their axes */
	assert_true(g.dims[0] == 2 && g.dims[1] == 5 && g.dims[2] == 7 && g.dims[3] == 3);
	assert_true(g.sy[0] == 105 && g.sy[1] == 21 && g.sy[2] == 3 && g.sy[3] == 1);
	assert_true(g.sa[0] == 105 && g.sa[1] == 7 && g.sa[2] == 1 && g.sa[3] == 35);
}

/* cuk_copy_nd's walk on the host: output index i split last axis fastest. */
static void copy_walk(const float *x, float *y, const cuk_geom *g)
{
	int64_t n = 1;
	for (int d = 0; d < g->nd; d++)
		n *= g->dims[d];
	for (int64_t i = 0; i < n; i++) {
		int64_t r = i, a = g->base_a, o = g->base_y;
		for (int d = g->nd - 1; d >= 0; d--) {
			int64_t k = r % g->dims[d];
			r /= g->dims[d];
			a += k * g->sa[d];
			o += k * g->sy[d];
		}
		y[o] = x[a];
	}
}

/* The layout conversions (the graph input's boundary conversion, a convolution's input
 * and output copies) walk their output in storage order and run a smaller batch by
 * setting dims[0]: the batch axis must stay first after cu_geom_output_order, also with
 * axes of length 1, so exactly items 0..batch-1 land, each element where it belongs. */
static void test_conversions_run_partial_batches(void **state)
{
	(void)state;
	static const int64_t shapes[][4] = { { 4, 3, 5, 7 }, { 4, 1, 5, 7 }, { 4, 8, 1, 1 }, { 4, 8, 1, 9 },
		                             { 4, 8, 9, 1 }, { 3, 1, 1, 1 } };
	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++)
		for (int to_nhwc = 0; to_nhwc < 2; to_nhwc++)
			for (int batch = 1; batch <= shapes[si][0]; batch++) {
				inf_tensor t = { .ndim = 4 };
				memcpy(t.dims, shapes[si], sizeof(shapes[si]));
				int64_t n = t.dims[0] * t.dims[1] * t.dims[2] * t.dims[3], xs[4], ys[4];
				float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
				assert_true(x && y);
				for (int64_t i = 0; i < n; i++) {
					x[i] = (float)i;
					y[i] = -1.0f;
				}
				cuk_geom g = { .nd = 4 };
				memcpy(g.dims, t.dims, sizeof(g.dims));
				cu_layout_strides(&t, !to_nhwc, g.sa);
				cu_layout_strides(&t, to_nhwc, g.sy);
				memcpy(xs, g.sa, sizeof(xs));
				memcpy(ys, g.sy, sizeof(ys));
				cu_geom_output_order(&g);
				g.dims[0] = batch;
				copy_walk(x, y, &g);
				for (int64_t b = 0; b < t.dims[0]; b++)
					for (int64_t c = 0; c < t.dims[1]; c++)
						for (int64_t h = 0; h < t.dims[2]; h++)
							for (int64_t w = 0; w < t.dims[3]; w++) {
								float got = y[b * ys[0] + c * ys[1] + h * ys[2] + w * ys[3]];
								float want = b < batch ? x[b * xs[0] + c * xs[1] + h * xs[2] + w * xs[3]] : -1.0f;
								if (got != want)
									fail_msg("shape %zu to_nhwc %d batch %d: element (%lld,%lld,%lld,%lld)", si,
									         to_nhwc, batch, (long long)b, (long long)c, (long long)h,
									         (long long)w);
							}
				free(x);
				free(y);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_pass_on_yolox_nano),
		cmocka_unit_test(test_layout_pass_on_yolov8n),
		cmocka_unit_test(test_same_layout_constraint_propagates),
		cmocka_unit_test(test_layout_classes_name_gpu_operators),
		cmocka_unit_test(test_strides_and_output_walk_order),
		cmocka_unit_test(test_conversions_run_partial_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
