/* CPU operator kernels beyond the ONNX node tests: Conv on every path (im2col,
 * pointwise, depthwise) against a naive reference over batches, groups, strides,
 * dilations and pads; fused activations; batch items equal to single runs; no heap
 * allocation inside run_cpu; the fast expf; shape errors that name the reason. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include "test_skip.h"

#include "infer/graph/graph.h"
#include "infer/cpu/ops_common.h"
#include "infer/cpu/taskpool.h"

/* ---- heap allocation counter (glibc's allocator underneath) ---- */

#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#else
#define COUNT_ALLOCS 1
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
static int counting, n_allocs;

/* Every allocation while counting is one too many, OpenBLAS's included (its small-
 * matrix kernels would malloc for some widths; ops_sgemm steers around them). */
static void count(const void *caller)
{
	(void)caller;
	if (counting)
		n_allocs++;
}

void *malloc(size_t size)
{
	count(__builtin_return_address(0));
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count(__builtin_return_address(0));
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	count(__builtin_return_address(0));
	return __libc_realloc(p, size);
}
#endif

/* ---- a node built by hand ---- */

typedef struct opnode {
	inf_node n;
	inf_tensor t[8];
	inf_tensor *in[4], *out[2];
	inf_attr attr[8];
	int64_t ints[8][8];
	void *ws;
	size_t ws_size;
} opnode;

static uint32_t rng = 12345;

static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void node_init(opnode *o, const char *op_type, int n_in, int n_out)
{
	memset(o, 0, sizeof(*o));
	o->n.name = "test";
	o->n.op_type = (char *)op_type;
	o->n.opset = 13;
	o->n.n_in = n_in;
	o->n.n_out = n_out;
	o->n.in = o->in;
	o->n.out = o->out;
	o->n.attr = o->attr;
	for (int k = 0; k < n_out; k++) {
		o->out[k] = &o->t[4 + k];
		o->out[k]->name = "y";
	}
}

/* Input k: float tensor with random data (or NULL data when dims is NULL). */
static inf_tensor *node_input(opnode *o, int k, int ndim, const int64_t *dims, int is_const)
{
	inf_tensor *t = &o->t[k];

	t->name = "x";
	t->dtype = INF_DT_FLOAT;
	t->ndim = ndim;
	memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
	t->is_const = is_const;
	t->data = malloc((size_t)inf_tensor_numel(t) * sizeof(float) + 1);
	for (int64_t i = 0; i < inf_tensor_numel(t); i++)
		((float *)t->data)[i] = frand();
	o->in[k] = t;
	return t;
}

static void node_ints(opnode *o, const char *name, int cnt, const int64_t *v)
{
	inf_attr *a = &o->attr[o->n.n_attr];

	memcpy(o->ints[o->n.n_attr], v, sizeof(int64_t) * (size_t)cnt);
	a->name = (char *)name;
	a->type = INF_ATTR_INTS;
	a->n = cnt;
	a->ints = o->ints[o->n.n_attr++];
}

static void node_int(opnode *o, const char *name, int64_t v)
{
	inf_attr *a = &o->attr[o->n.n_attr++];

	a->name = (char *)name;
	a->type = INF_ATTR_INT;
	a->i = v;
}

/* Shape, prepare (workspace of exactly the requested size) and output buffers. */
static int node_prepare(opnode *o, char *err, size_t errlen)
{
	const inf_op *op = inf_op_find(o->n.op_type);
	int rc;

	assert_non_null(op);
	o->n.op = op;
	if ((rc = op->shape(&o->n, err, errlen)) < 0)
		return rc;
	for (int k = 0; k < o->n.n_out; k++)
		o->out[k]->data = malloc((size_t)inf_tensor_numel(o->out[k]) * inf_dtype_size(o->out[k]->dtype) + 1);
	o->ws_size = 0;
	if (op->prepare)
		assert_int_equal(op->prepare(&o->n, &o->ws_size), 0);
	o->ws = o->ws_size ? malloc(o->ws_size) : NULL;
	/* kernels must not rely on a zeroed workspace */
	if (o->ws)
		memset(o->ws, 0xff, o->ws_size);
	return 0;
}

/* The kernels' parallel paths run on a task pool of `threads`, as in the engine: one
 * per thread count for the whole run (made in the group setup, outside the allocation
 * counting). */
#define MAX_POOL_THREADS 2
static tp_pool *pools[MAX_POOL_THREADS + 1];

static int pools_new(void **state)
{
	(void)state;
	for (int t = 1; t <= MAX_POOL_THREADS; t++)
		if (tp_new(&pools[t], t) < 0)
			return -1;
	return 0;
}

static int pools_free(void **state)
{
	(void)state;
	for (int t = 1; t <= MAX_POOL_THREADS; t++)
		tp_free(&pools[t]);
	return 0;
}

static void node_run(opnode *o, int threads)
{
	assert_true(threads >= 1 && threads <= MAX_POOL_THREADS);
	inf_cpu_ctx cx = { .threads = threads, .pool = pools[threads] };

	assert_int_equal(o->n.op->run_cpu(&o->n, o->ws, &cx), 0);
}

static void node_free(opnode *o)
{
	if (o->n.op && o->n.op->release)
		o->n.op->release(&o->n);
	for (int k = 0; k < 4; k++)
		if (o->in[k])
			free(o->in[k]->data);
	for (int k = 0; k < o->n.n_out; k++)
		free(o->out[k]->data);
	free(o->ws);
}

/* ---- naive references ---- */

typedef struct conv_case {
	int64_t n, c, m, h, w, kh, kw, sh, sw, dh, dw, group;
	int64_t pads[4];                       /* top, left, bottom, right */
	int bias;
} conv_case;

static float act_ref(int act, float a, float b, float v)
{
	switch (act) {
	case INF_ACT_RELU: return v > 0 ? v : 0;
	case INF_ACT_LEAKY_RELU: return v >= 0 ? v : a * v;
	case INF_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
	case INF_ACT_SILU: return v / (1.0f + expf(-v));
	case INF_ACT_HARD_SIGMOID: return fmaxf(0, fminf(1, a * v + b));
	case INF_ACT_HARD_SWISH: return v * fmaxf(0, fminf(1, v / 6 + 0.5f));
	case INF_ACT_CLIP: return fminf(fmaxf(v, a), b);
	}
	return v;
}

static void conv_ref(const conv_case *cc, const float *x, const float *wt, const float *bias, int act, float a,
                     float b, int64_t oh, int64_t ow, float *y)
{
	int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;

	for (int64_t n = 0; n < cc->n; n++)
	for (int64_t m = 0; m < cc->m; m++)
	for (int64_t oy = 0; oy < oh; oy++)
	for (int64_t ox = 0; ox < ow; ox++) {
		double acc = bias ? bias[m] : 0.0;
		int64_t g = m / mg;
		for (int64_t c = 0; c < cg; c++)
		for (int64_t ky = 0; ky < cc->kh; ky++)
		for (int64_t kx = 0; kx < cc->kw; kx++) {
			int64_t iy = oy * cc->sh - cc->pads[0] + ky * cc->dh, ix = ox * cc->sw - cc->pads[1] + kx * cc->dw;
			if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
				continue;
			acc += (double)x[((n * cc->c + g * cg + c) * cc->h + iy) * cc->w + ix] *
			       wt[((m * cg + c) * cc->kh + ky) * cc->kw + kx];
		}
		y[((n * cc->m + m) * oh + oy) * ow + ox] = act_ref(act, a, b, (float)acc);
	}
}

static void conv_node(opnode *o, const conv_case *cc, int act, float a, float b)
{
	int64_t xd[4] = { cc->n, cc->c, cc->h, cc->w };
	int64_t wd[4] = { cc->m, cc->c / cc->group, cc->kh, cc->kw }, bd[1] = { cc->m };
	int64_t k[2] = { cc->kh, cc->kw }, s[2] = { cc->sh, cc->sw }, d[2] = { cc->dh, cc->dw };

	node_init(o, "Conv", cc->bias ? 3 : 2, 1);
	node_input(o, 0, 4, xd, 0);
	node_input(o, 1, 4, wd, 1);
	if (cc->bias)
		node_input(o, 2, 1, bd, 1);
	node_ints(o, "kernel_shape", 2, k);
	node_ints(o, "strides", 2, s);
	node_ints(o, "dilations", 2, d);
	node_ints(o, "pads", 4, cc->pads);
	node_int(o, "group", cc->group);
	o->n.act = act;
	o->n.act_alpha = a;
	o->n.act_beta = b;
}

static void check_conv(const conv_case *cc, int act, float a, float b)
{
	char err[256] = "";
	opnode o;
	float *ref;

	conv_node(&o, cc, act, a, b);
	assert_int_equal(node_prepare(&o, err, sizeof(err)), 0);
	node_run(&o, 2);
	int64_t oh = o.out[0]->dims[2], ow = o.out[0]->dims[3], cnt = inf_tensor_numel(o.out[0]);
	assert_int_equal(o.out[0]->dims[0], cc->n);
	assert_int_equal(o.out[0]->dims[1], cc->m);
	ref = malloc(sizeof(float) * (size_t)cnt);
	conv_ref(cc, o.in[0]->data, o.in[1]->data, cc->bias ? o.in[2]->data : NULL, act, a, b, oh, ow, ref);
	for (int64_t i = 0; i < cnt; i++) {
		float got = ((float *)o.out[0]->data)[i];
		if (fabsf(got - ref[i]) > 1e-4f * (1.0f + fabsf(ref[i])))
			fail_msg("conv c%lld m%lld k%lldx%lld s%lld g%lld act %d: y[%lld] = %g, reference %g",
			         (long long)cc->c, (long long)cc->m, (long long)cc->kh, (long long)cc->kw,
			         (long long)cc->sh, (long long)cc->group, act, (long long)i, got, ref[i]);
	}
	free(ref);
	node_free(&o);
}

/* batch, c, m, h, w, kh, kw, sh, sw, dh, dw, group, pads, bias */
static const conv_case cases[] = {
	{ 3, 8, 6, 11, 9, 3, 3, 1, 1, 1, 1, 1, { 1, 1, 1, 1 }, 1 },       /* im2col, same size */
	{ 2, 8, 6, 12, 10, 3, 3, 2, 2, 1, 1, 2, { 1, 1, 1, 1 }, 1 },      /* grouped, strided */
	{ 2, 5, 7, 9, 13, 3, 2, 1, 2, 2, 1, 1, { 2, 0, 1, 1 }, 0 },       /* dilated, asymmetric */
	{ 4, 16, 24, 7, 5, 1, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, 1 },      /* pointwise GEMM */
	{ 2, 16, 20, 9, 13, 1, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, 1 },     /* pointwise, input read in place */
	{ 1, 8, 40, 7, 9, 1, 1, 1, 1, 1, 1, 1, { 0, 0, 0, 0 }, 0 },       /* pointwise, input packed */
	{ 2, 16, 8, 9, 9, 1, 1, 2, 2, 1, 1, 1, { 0, 0, 0, 0 }, 1 },       /* 1x1 strided: im2col */
	{ 3, 12, 12, 13, 11, 3, 3, 1, 1, 1, 1, 12, { 1, 1, 1, 1 }, 1 },   /* depthwise 3x3 */
	{ 2, 8, 8, 14, 15, 3, 3, 2, 2, 1, 1, 8, { 1, 1, 1, 1 }, 1 },      /* depthwise stride 2 */
	{ 2, 6, 6, 10, 12, 5, 5, 1, 1, 2, 2, 6, { 4, 3, 2, 4 }, 0 },      /* depthwise 5x5 dilated */
	{ 1, 4, 4, 2, 3, 3, 3, 1, 1, 1, 1, 4, { 1, 1, 1, 1 }, 1 },        /* depthwise, input < kernel */
	{ 2, 4, 8, 6, 6, 3, 3, 1, 1, 1, 1, 4, { 1, 1, 1, 1 }, 1 },        /* channel multiplier 2 */
	{ 1, 3, 3, 5, 35, 3, 3, 1, 1, 1, 1, 3, { 1, 1, 1, 1 }, 1 },       /* depthwise, rows over 16 columns */
	{ 2, 5, 5, 9, 38, 3, 3, 2, 2, 1, 1, 5, { 0, 1, 1, 0 }, 0 },       /* depthwise stride 2, wide, uneven */
	{ 2, 16, 20, 23, 31, 3, 3, 1, 1, 1, 1, 1, { 1, 0, 2, 1 }, 1 },   /* Winograd, odd sizes, uneven pads */
	{ 1, 24, 9, 42, 40, 3, 3, 1, 1, 1, 1, 1, { 1, 1, 1, 1 }, 0 },    /* Winograd, several tile blocks */
};

static void test_conv_matches_naive_reference_on_every_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_conv(&cases[i], INF_ACT_NONE, 0, 0);
}

/* The same cases through the baseline kernels (OpenBLAS, no AVX-512), which CPUs without
 * AVX-512 run. */
static void test_conv_baseline_kernels_match_naive_reference(void **state)
{
	(void)state;
	setenv("VAPD_NO_AVX512", "1", 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_conv(&cases[i], INF_ACT_SILU, 0, 0);
	unsetenv("VAPD_NO_AVX512");
}

static void test_conv_applies_each_fused_activation(void **state)
{
	static const struct { int act; float a, b; } acts[] = {
		{ INF_ACT_RELU, 0, 0 }, { INF_ACT_LEAKY_RELU, 0.1f, 0 }, { INF_ACT_SIGMOID, 0, 0 },
		{ INF_ACT_SILU, 0, 0 }, { INF_ACT_HARD_SIGMOID, 0.2f, 0.5f }, { INF_ACT_HARD_SWISH, 0, 0 },
		{ INF_ACT_CLIP, -0.5f, 0.75f },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		check_conv(&cases[0], acts[i].act, acts[i].a, acts[i].b);   /* im2col */
		check_conv(&cases[3], acts[i].act, acts[i].a, acts[i].b);   /* pointwise, in place */
		check_conv(&cases[5], acts[i].act, acts[i].a, acts[i].b);   /* pointwise, packed */
		check_conv(&cases[7], acts[i].act, acts[i].a, acts[i].b);   /* depthwise */
	}
}

/* Each item of a batch equals the same item run alone (no cross-item leakage). */
static void test_conv_batch_items_equal_single_item_runs(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		conv_case one = cases[c];
		char err[256];
		opnode big, small;

		conv_node(&big, &cases[c], INF_ACT_SILU, 0, 0);
		assert_int_equal(node_prepare(&big, err, sizeof(err)), 0);
		node_run(&big, 2);
		one.n = 1;
		conv_node(&small, &one, INF_ACT_SILU, 0, 0);
		/* the same weights before prepare: kernels may pack constant inputs there */
		memcpy(small.in[1]->data, big.in[1]->data, (size_t)inf_tensor_bytes(big.in[1]));
		if (one.bias)
			memcpy(small.in[2]->data, big.in[2]->data, (size_t)inf_tensor_bytes(big.in[2]));
		assert_int_equal(node_prepare(&small, err, sizeof(err)), 0);
		size_t xi = (size_t)inf_tensor_bytes(small.in[0]), yi = (size_t)inf_tensor_bytes(small.out[0]);
		for (int64_t i = 0; i < cases[c].n; i++) {
			memcpy(small.in[0]->data, (char *)big.in[0]->data + i * (int64_t)xi, xi);
			node_run(&small, 1);
			const float *a = small.out[0]->data, *b = (const float *)((char *)big.out[0]->data + i * (int64_t)yi);
			for (size_t k = 0; k < yi / sizeof(float); k++)
				if (fabsf(a[k] - b[k]) > 1e-5f * (1.0f + fabsf(a[k])))
					fail_msg("case %zu item %lld: %g vs %g at %zu", c, (long long)i, b[k], a[k], k);
		}
		node_free(&big);
		node_free(&small);
	}
}

static void alloc_free_run(opnode *o, const char *what)
{
#if COUNT_ALLOCS
	node_run(o, 2);              /* warm-up: thread pools, BLAS buffers */
	n_allocs = 0;
	counting = 1;
	node_run(o, 2);
	node_run(o, 2);
	counting = 0;
	if (n_allocs)
		fail_msg("%s (%s) allocated %d times in run_cpu", o->n.op_type, what, n_allocs);
#else
	(void)what;
	node_run(o, 2);
#endif
}

static void test_kernels_do_not_allocate_while_running(void **state)
{
	int64_t xd[4] = { 2, 8, 16, 16 }, sc[4] = { 1, 1, 2, 2 }, sd[1] = { 4 };
	int64_t k3[2] = { 3, 3 }, pads[4] = { 1, 1, 1, 1 }, st[2] = { 2, 2 };
	char err[256];
	opnode o;

	(void)state;
#if !COUNT_ALLOCS
	skip_because("sanitizer", "ASan owns the malloc family: allocations are not counted");
#endif
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		conv_node(&o, &cases[c], INF_ACT_SILU, 0, 0);
		assert_int_equal(node_prepare(&o, err, sizeof(err)), 0);
		alloc_free_run(&o, c == 0 ? "im2col" : c == 3 ? "pointwise" : c == 5 ? "depthwise" : "case");
		node_free(&o);
	}
	/* linear Resize uses its workspace for tap tables and intermediate planes */
	node_init(&o, "Resize", 3, 1);
	node_input(&o, 0, 4, xd, 0);
	node_input(&o, 2, 1, sd, 1);
	memcpy(o.in[2]->data, (float[]){ 1, 1, 2, 2 }, sizeof(float) * 4);
	o.attr[0] = (inf_attr){ .name = "mode", .type = INF_ATTR_STRING, .s = "linear" };
	o.n.n_attr = 1;
	assert_int_equal(node_prepare(&o, err, sizeof(err)), 0);
	assert_int_equal(o.out[0]->dims[3], 32);
	alloc_free_run(&o, "linear");
	node_free(&o);
	(void)sc;
	node_init(&o, "MaxPool", 1, 1);
	node_input(&o, 0, 4, xd, 0);
	node_ints(&o, "kernel_shape", 2, k3);
	node_ints(&o, "pads", 4, pads);
	node_ints(&o, "strides", 2, st);
	assert_int_equal(node_prepare(&o, err, sizeof(err)), 0);
	alloc_free_run(&o, "3x3/2");
	node_free(&o);
}

static void test_fast_expf_is_accurate_over_the_float_range(void **state)
{
	double worst = 0;

	(void)state;
	for (float x = -87.0f; x < 88.0f; x += 0.001953125f) {
		double ref = exp((double)x), rel = fabs(ops_expf(x) - ref) / ref;
		if (rel > worst)
			worst = rel;
	}
	assert_true(worst < 1e-6);
	assert_true(ops_sigmoidf(-200.0f) >= 0.0f && ops_sigmoidf(-200.0f) < 1e-30f);
	assert_true(ops_sigmoidf(200.0f) == 1.0f);
}

static void test_reshape_with_runtime_shape_is_refused_with_reason(void **state)
{
	int64_t xd[2] = { 4, 6 }, sd[1] = { 2 };
	char err[256] = "";
	opnode o;

	(void)state;
	node_init(&o, "Reshape", 2, 1);
	node_input(&o, 0, 2, xd, 0);
	node_input(&o, 1, 1, sd, 0);
	o.in[1]->dtype = INF_DT_INT64;
	assert_int_equal(node_prepare(&o, err, sizeof(err)), VP_EUNSUP);
	assert_non_null(strstr(err, "constant"));
	node_free(&o);
}

static void test_conv_with_mismatched_groups_is_refused(void **state)
{
	conv_case cc = cases[0];
	char err[256] = "";
	opnode o;

	(void)state;
	cc.group = 3;                       /* 8 channels do not split into 3 groups */
	cc.c = 9;
	conv_node(&o, &cc, INF_ACT_NONE, 0, 0);
	o.in[1]->dims[1] = 4;
	assert_int_equal(node_prepare(&o, err, sizeof(err)), VP_EMODEL);
	assert_non_null(strstr(err, "group"));
	node_free(&o);
}

static const char *const all_ops[] = {
	"Conv", "ConvTranspose", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Exp", "Log",
	"Neg", "Abs", "Sqrt", "Elu", "Softplus", "Reciprocal", "Floor", "Ceil", "Clip", "Add", "Sub", "Mul", "Div",
	"Pow", "Identity", "Dropout", "Transpose", "Slice", "Expand", "Concat", "Split", "Gather", "MatMul", "Gemm",
	"Softmax", "LogSoftmax", "BatchNormalization", "Pad", "MaxPool", "AveragePool", "GlobalAveragePool",
	"GlobalMaxPool", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "Resize", "Upsample", "Reshape",
	"Flatten", "Squeeze", "Unsqueeze", "Shape", "Constant", "ConstantOfShape", "Cast", "CastLike",
	"Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
	"Atanh", "Softsign", "Selu", "Celu", "ThresholdedRelu", "Equal", "Greater", "GreaterOrEqual", "Less",
	"LessOrEqual", "And", "Or", "Xor", "Not", "Where", "IsNaN", "IsInf", "Mod", "PRelu", "Sum", "Mean", "Max",
	"Min", "Range", "Tile", "Size", "TopK", "ArgMax", "ArgMin", "Hardmax", "GatherElements",
	"LayerNormalization", "InstanceNormalization", "ScatterND", "ScatterElements", "GatherND",
	"GridSample", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
	"DepthToSpace", "SpaceToDepth", "Trilu", "EyeLike", "OneHot", "CumSum", "Shrink", "LRN", "Einsum",
	"RoiAlign", "MeanVarianceNormalization", "Det", "MaxUnpool", NULL,
};

/* A malformed model may give any operator no inputs, an omitted first input or no
 * outputs: every shape function refuses with a reason instead of reading past them. */
static void test_shape_functions_refuse_nodes_missing_inputs_or_outputs(void **state)
{
	int64_t xd[4] = { 1, 3, 8, 8 };

	(void)state;
	for (int i = 0; all_ops[i]; i++) {
		const inf_op *op = inf_op_find(all_ops[i]);
		opnode o;
		char err[256];

		assert_non_null(op);
		node_init(&o, all_ops[i], 0, 1);             /* no inputs */
		err[0] = 0;
		if (op->shape(&o.n, err, sizeof(err)) >= 0 || !err[0])
			fail_msg("%s accepted a node without inputs", all_ops[i]);
		node_init(&o, all_ops[i], 1, 1);             /* first input omitted */
		err[0] = 0;
		if (op->shape(&o.n, err, sizeof(err)) >= 0 || !err[0])
			fail_msg("%s accepted an omitted first input", all_ops[i]);
		node_init(&o, all_ops[i], 1, 0);             /* no outputs */
		node_input(&o, 0, 4, xd, 0);
		err[0] = 0;
		if (op->shape(&o.n, err, sizeof(err)) >= 0 || !err[0])
			fail_msg("%s accepted a node without outputs", all_ops[i]);
		free(o.in[0]->data);
	}
}

static void test_every_registered_operator_is_complete(void **state)
{
	static const char *const ops[] = { "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
		"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Clip", "Exp", "Add", "Sub",
		"Mul", "Div", "Pow", "Sqrt", "Concat", "Split", "Slice", "Transpose", "Reshape", "Flatten",
		"Squeeze", "Unsqueeze", "Gather", "Resize", "Softmax", "MatMul", "Gemm", "Pad", "Identity",
		"BatchNormalization", "Dropout", "Shape", "Constant", "Cast", NULL };
	(void)state;
	for (int i = 0; ops[i]; i++) {
		const inf_op *op = inf_op_find(ops[i]);
		if (!op || !op->shape || !op->run_cpu || strcmp(op->op_type, ops[i]))
			fail_msg("operator %s is missing or incomplete", ops[i]);
	}
	assert_null(inf_op_find("Frobnicate"));
	assert_null(inf_op_find(NULL));
	assert_true(inf_op_find("Conv")->fuses_act);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_matches_naive_reference_on_every_path),
		cmocka_unit_test(test_conv_baseline_kernels_match_naive_reference),
		cmocka_unit_test(test_conv_applies_each_fused_activation),
		cmocka_unit_test(test_conv_batch_items_equal_single_item_runs),
		cmocka_unit_test(test_kernels_do_not_allocate_while_running),
		cmocka_unit_test(test_fast_expf_is_accurate_over_the_float_range),
		cmocka_unit_test(test_reshape_with_runtime_shape_is_refused_with_reason),
		cmocka_unit_test(test_conv_with_mismatched_groups_is_refused),
		cmocka_unit_test(test_shape_functions_refuse_nodes_missing_inputs_or_outputs),
		cmocka_unit_test(test_every_registered_operator_is_complete),
	};
	return cmocka_run_group_tests(tests, pools_new, pools_free);
}
