/* The per-element math of the cuda backend's strided pooling, Resize (nearest, linear,
 * cubic; every coordinate mode) and Pad (constant, reflect, edge) kernels, shared with
 * their CPU references (infer/cuda/cuda_kernels_math.h), run without a GPU on random inputs
 * stored NHWC (float and half) and compared with the CPU operators on the same data in
 * NCHW; and the host half conversion against the compiler's _Float16. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "infer/cuda/cuda_kernels.h"
#include "infer/cuda/cuda_kernels_math.h"
#include "infer/cuda/cuda_layout_pass.h"
#include "infer/graph/graph.h"
#include "infer/cpu/ops_window.h"

/* ---- half storage ---- */

static void test_half_conversion_matches_the_compiler(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 65536; h++) {
		uint16_t bits = (uint16_t)h;
		_Float16 ref;
		memcpy(&ref, &bits, 2);
		float f = cuk_half_to_float(bits);
		if (isnan((float)ref)) {
			assert_true(isnan(f));
			continue;
		}
		assert_true(f == (float)ref);
		assert_int_equal(cuk_float_to_half(f), bits);
	}
	uint32_t rng = 7;
	for (int i = 0; i < 200000; i++) {
		rng = rng * 1664525u + 1013904223u;
		uint32_t fb = rng;
		float f;
		memcpy(&f, &fb, 4);
		if (isnan(f))
			continue;
		_Float16 r = (_Float16)f;
		uint16_t rb;
		memcpy(&rb, &r, 2);
		assert_int_equal(cuk_float_to_half(f), rb);
	}
}

/* ---- nodes built by hand, run by the CPU operators ---- */

typedef struct opnode {
	inf_node n;
	inf_tensor t[8];
	inf_tensor *in[4], *out[1];
	inf_attr attr[10];
	int64_t ints[10][8];
	void *ws;
} opnode;

static uint32_t rng = 12345;

static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void node_init(opnode *o, const char *op_type, int n_in, int opset)
{
	memset(o, 0, sizeof(*o));
	o->n.name = "test";
	o->n.op_type = (char *)op_type;
	o->n.opset = opset;
	o->n.n_in = n_in;
	o->n.n_out = 1;
	o->n.in = o->in;
	o->n.out = o->out;
	o->n.attr = o->attr;
	o->out[0] = &o->t[7];
	o->out[0]->name = "y";
}

static inf_tensor *node_tensor(opnode *o, int k, int dtype, int ndim, const int64_t *dims, const void *data)
{
	inf_tensor *t = &o->t[k];
	t->name = "x";
	t->dtype = dtype;
	t->ndim = ndim;
	memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
	t->is_const = k > 0;
	size_t bytes = inf_tensor_bytes(t);
	t->data = malloc(bytes + 4);
	if (data)
		memcpy(t->data, data, bytes);
	else
		for (int64_t i = 0; i < inf_tensor_numel(t); i++)
			((float *)t->data)[i] = frand();
	o->in[k] = t;
	return t;
}

static inf_attr *node_attr(opnode *o, const char *name, int type)
{
	inf_attr *a = &o->attr[o->n.n_attr++];
	a->name = (char *)name;
	a->type = type;
	return a;
}

static void node_ints(opnode *o, const char *name, int cnt, const int64_t *v)
{
	inf_attr *a = node_attr(o, name, INF_ATTR_INTS);
	memcpy(o->ints[o->n.n_attr - 1], v, sizeof(int64_t) * (size_t)cnt);
	a->n = cnt;
	a->ints = o->ints[o->n.n_attr - 1];
}

static void node_int(opnode *o, const char *name, int64_t v)
{
	node_attr(o, name, INF_ATTR_INT)->i = v;
}

static void node_float(opnode *o, const char *name, float v)
{
	node_attr(o, name, INF_ATTR_FLOAT)->f = v;
}

static void node_str(opnode *o, const char *name, const char *v)
{
	node_attr(o, name, INF_ATTR_STRING)->s = (char *)v;
}

static void node_run(opnode *o)
{
	char err[256] = "";
	size_t ws = 0;
	const inf_op *op = inf_op_find(o->n.op_type);
	inf_cpu_ctx cx = { .threads = 1 };
	assert_non_null(op);
	o->n.op = op;
	if (op->shape(&o->n, err, sizeof(err)) < 0)
		fail_msg("%s: %s", o->n.op_type, err);
	o->out[0]->data = malloc(inf_tensor_bytes(o->out[0]) + 4);
	if (op->prepare)
		assert_int_equal(op->prepare(&o->n, &ws), 0);
	o->ws = ws ? malloc(ws) : NULL;
	assert_int_equal(op->run_cpu(&o->n, o->ws, &cx), 0);
}

static void node_free(opnode *o)
{
	if (o->n.op && o->n.op->release)
		o->n.op->release(&o->n);
	for (int k = 0; k < 4; k++)
		if (o->in[k])
			free(o->in[k]->data);
	free(o->out[0]->data);
	free(o->ws);
}

/* NCHW float -> NHWC storage (half when `half`), and NHWC storage -> NCHW float. */
static void *to_nhwc(const inf_tensor *t, int half)
{
	int64_t s[4], n = inf_tensor_numel(t);
	void *d = malloc((size_t)n * 4 + 4);
	cu_layout_strides(t, 1, s);
	const float *x = t->data;
	for (int64_t i = 0; i < n; i++) {
		int64_t w = i % t->dims[3], h = i / t->dims[3] % t->dims[2], c = i / (t->dims[3] * t->dims[2]) % t->dims[1];
		int64_t b = i / (t->dims[3] * t->dims[2] * t->dims[1]);
		cuk_stf(d, half, cuk_off4(s, b, c, h, w), x[i]);
	}
	return d;
}

/* The largest |a - b| over y (stored NHWC in got) against the CPU output in NCHW. */
static double max_diff_nhwc(const inf_tensor *y, const void *got, int half)
{
	int64_t s[4], n = inf_tensor_numel(y);
	double worst = 0;
	cu_layout_strides(y, 1, s);
	const float *ref = y->data;
	for (int64_t i = 0; i < n; i++) {
		int64_t w = i % y->dims[3], h = i / y->dims[3] % y->dims[2], c = i / (y->dims[3] * y->dims[2]) % y->dims[1];
		int64_t b = i / (y->dims[3] * y->dims[2] * y->dims[1]);
		double d = fabs((double)cuk_ldf(got, half, cuk_off4(s, b, c, h, w)) - ref[i]);
		if (d > worst || isnan(d))
			worst = isnan(d) ? INFINITY : d;
	}
	return worst;
}

/* Inputs rounded to half first when `half`, so the CPU sees the values the kernel reads. */
static void round_to_half(inf_tensor *t)
{
	float *x = t->data;
	for (int64_t i = 0; i < inf_tensor_numel(t); i++)
		x[i] = cuk_half_to_float(cuk_float_to_half(x[i]));
}

/* ---- pooling ---- */

typedef struct pool_case {
	const char *op;
	int64_t k[2], s[2], p[4], d[2];
	int ceil, include_pad;
} pool_case;

static void check_pool(const pool_case *pc, int half)
{
	opnode o;
	const int64_t dims[4] = { 2, 5, 9, 11 };
	int global = !strncmp(pc->op, "Global", 6);
	node_init(&o, pc->op, 1, 13);
	inf_tensor *x = node_tensor(&o, 0, INF_DT_FLOAT, 4, dims, NULL);
	if (half)
		round_to_half(x);
	if (!global) {
		node_ints(&o, "kernel_shape", 2, pc->k);
		node_ints(&o, "strides", 2, pc->s);
		node_ints(&o, "pads", 4, pc->p);
		if (!strcmp(pc->op, "MaxPool"))
			node_ints(&o, "dilations", 2, pc->d);
		node_int(&o, "ceil_mode", pc->ceil);
		node_int(&o, "count_include_pad", pc->include_pad);
	}
	node_run(&o);
	const inf_tensor *y = o.out[0];
	cuk_pool p = { .n = 2, .c = 5, .ih = 9, .iw = 11, .oh = y->dims[2], .ow = y->dims[3],
	               .is_max = strstr(pc->op, "Max") != NULL };
	cu_layout_strides(x, 1, p.xs);
	cu_layout_strides(y, 1, p.ys);
	if (global) {
		p.kh = 9, p.kw = 11, p.sh = p.sw = p.dh = p.dw = 1;
	} else {
		ops_window w;
		char err[128];
		assert_int_equal(ops_window_forward(&o.n, x, pc->k, pc->ceil, &w, err, sizeof(err)), 0);
		p.kh = (int)w.k[0], p.kw = (int)w.k[1], p.sh = (int)w.s[0], p.sw = (int)w.s[1];
		p.dh = (int)w.d[0], p.dw = (int)w.d[1], p.ph = (int)w.pb[0], p.pw = (int)w.pb[1];
		p.peh = (int)w.pe[0], p.pew = (int)w.pe[1], p.count_include_pad = pc->include_pad;
	}
	void *xs = to_nhwc(x, half), *ys = malloc(inf_tensor_bytes(y) + 4);
	cuk_pool2d_ref(half, xs, ys, &p);
	double d = max_diff_nhwc(y, ys, half);
	printf("# %s k%lldx%lld s%lld ceil %d pad-count %d %s: max diff %.3g\n", pc->op, (long long)pc->k[0],
	       (long long)pc->k[1], (long long)pc->s[0], pc->ceil, pc->include_pad, half ? "fp16" : "fp32", d);
	assert_true(d <= (half ? 2e-3 : 1e-6));
	free(xs);
	free(ys);
	node_free(&o);
}

static void test_pool_nhwc_matches_cpu(void **state)
{
	(void)state;
	static const pool_case cases[] = {
		{ "MaxPool", { 3, 3 }, { 2, 2 }, { 1, 1, 1, 1 }, { 1, 1 }, 0, 0 },
		{ "MaxPool", { 3, 2 }, { 2, 3 }, { 1, 0, 1, 1 }, { 2, 1 }, 1, 0 },
		{ "MaxPool", { 5, 5 }, { 1, 1 }, { 2, 2, 2, 2 }, { 1, 1 }, 0, 0 },
		{ "AveragePool", { 3, 3 }, { 2, 2 }, { 1, 1, 1, 1 }, { 1, 1 }, 0, 0 },
		{ "AveragePool", { 3, 3 }, { 2, 2 }, { 1, 1, 1, 1 }, { 1, 1 }, 0, 1 },
		{ "AveragePool", { 2, 3 }, { 2, 2 }, { 0, 1, 1, 0 }, { 1, 1 }, 1, 1 },
		{ "GlobalAveragePool", { 0 }, { 0 }, { 0 }, { 0 }, 0, 0 },
		{ "GlobalMaxPool", { 0 }, { 0 }, { 0 }, { 0 }, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int half = 0; half < 2; half++)
			check_pool(&cases[i], half);
}

/* ---- Resize ---- */

static const char *const rs_modes[] = { "nearest", "linear", "cubic" };
static const char *const rs_cts[] = { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
	                              "tf_half_pixel_for_nn", "tf_crop_and_resize" };
static const char *const rs_nrs[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };

typedef struct rs_case {
	int mode, ct, nr, exclude;
	float a;
	float scale[2];     /* h, w; 0: sizes instead */
	int64_t size[2];
} rs_case;

static double check_resize(const rs_case *rc, int half)
{
	opnode o;
	const int64_t dims[4] = { 2, 3, 6, 7 }, four = 4, eight = 8;
	const float roi[8] = { 0, 0, 0.2f, -0.1f, 1, 1, 0.9f, 1.3f };
	node_init(&o, "Resize", 4, 13);
	inf_tensor *x = node_tensor(&o, 0, INF_DT_FLOAT, 4, dims, NULL);
	if (half)
		round_to_half(x);
	node_tensor(&o, 1, INF_DT_FLOAT, 1, &eight, roi);
	if (rc->scale[0] > 0) {
		const float sc[4] = { 1, 1, rc->scale[0], rc->scale[1] };
		node_tensor(&o, 2, INF_DT_FLOAT, 1, &four, sc);
		o.in[3] = NULL;
	} else {
		const int64_t sz[4] = { 2, 3, rc->size[0], rc->size[1] }, zero = 0;
		node_tensor(&o, 2, INF_DT_FLOAT, 1, &zero, NULL);
		node_tensor(&o, 3, INF_DT_INT64, 1, &four, sz);
	}
	node_str(&o, "mode", rs_modes[rc->mode]);
	node_str(&o, "coordinate_transformation_mode", rs_cts[rc->ct]);
	node_str(&o, "nearest_mode", rs_nrs[rc->nr]);
	node_float(&o, "cubic_coeff_a", rc->a);
	node_int(&o, "exclude_outside", rc->exclude);
	node_float(&o, "extrapolation_value", -7.0f);
	node_run(&o);
	const inf_tensor *y = o.out[0];
	cuk_resize p = { .n = 2, .c = 3, .mode = rc->mode, .ct = rc->ct, .nr = rc->nr, .exclude_outside = rc->exclude,
	                 .cubic_a = rc->a, .extrapolation = -7.0f };
	cuk_rs_axis *ax[2] = { &p.h, &p.w };
	for (int a = 0; a < 2; a++) {
		ax[a]->in = dims[2 + a];
		ax[a]->out = y->dims[2 + a];
		ax[a]->scale = rc->scale[0] > 0 ? rc->scale[a] : (float)rc->size[a] / (float)dims[2 + a];
		ax[a]->olen = rc->scale[0] > 0 ? (double)dims[2 + a] * rc->scale[a] : (double)rc->size[a];
		ax[a]->roi_start = roi[2 + a];
		ax[a]->roi_end = roi[6 + a];
	}
	/* the GPU row refuses what also blends n or c (a shifting mode on a kept axis) */
	for (int a = 0; a < 2; a++) {
		cuk_rs_axis keep = { .in = dims[a], .out = dims[a], .scale = 1.0f, .olen = (double)dims[a],
		                     .roi_start = roi[a], .roi_end = roi[4 + a] };
		if (!cuk_rs_axis_identity(&p, &keep)) {
			node_free(&o);
			return -1;
		}
	}
	cu_layout_strides(x, 1, p.xs);
	cu_layout_strides(y, 1, p.ys);
	void *xs = to_nhwc(x, half), *ys = malloc(inf_tensor_bytes(y) + 4);
	cuk_resize2d_ref(half, xs, ys, &p);
	double d = max_diff_nhwc(y, ys, half);
	if (d > (half ? 2e-2 : 1e-5))
		fail_msg("%s %s %s exclude %d a %g scale %g,%g size %lld,%lld %s: max diff %g", rs_modes[rc->mode],
		         rs_cts[rc->ct], rs_nrs[rc->nr], rc->exclude, rc->a, rc->scale[0], rc->scale[1],
		         (long long)rc->size[0], (long long)rc->size[1], half ? "fp16" : "fp32", d);
	free(xs);
	free(ys);
	node_free(&o);
	return d;
}

static void test_resize_nhwc_matches_cpu_in_every_mode(void **state)
{
	(void)state;
	static const float scales[][2] = { { 2.0f, 1.5f }, { 0.5f, 0.6f }, { 1.0f, 2.7f }, { 0, 0 } };
	static const int64_t sizes[2] = { 11, 4 };
	double worst[2] = { 0, 0 };
	int cases = 0, refused = 0;
	for (int mode = 0; mode < 3; mode++)
		for (int ct = 0; ct < 6; ct++)
			for (int sc = 0; sc < 4; sc++)
				for (int v = 0; v < (mode == 0 ? 4 : mode == 2 ? 3 : 2); v++) {
					/* nearest varies the rounding, cubic a and exclude_outside, linear exclude_outside */
					rs_case rc = { .mode = mode, .ct = ct, .nr = mode == 0 ? v : 0,
					               .exclude = mode != 0 && v == 1, .a = mode == 2 && v == 2 ? -0.5f : -0.75f,
					               .scale = { scales[sc][0], scales[sc][1] }, .size = { sizes[0], sizes[1] } };
					for (int half = 0; half < 2; half++) {
						double d = check_resize(&rc, half);
						refused += d < 0;
						worst[half] = d > worst[half] ? d : worst[half];
					}
					cases++;
				}
	printf("# resize: %d cases (%d refused on the GPU), worst max diff fp32 %.3g, fp16 %.3g\n", cases,
	       refused / 2, worst[0], worst[1]);
	/* only tf_half_pixel_for_nn shifts kept axes: nearest rounding up, linear, cubic */
	assert_true(refused / 2 < cases / 6);
}

/* ---- Pad ---- */

static void check_pad(const char *mode, const int64_t *pads, int half)
{
	opnode o;
	const int64_t dims[4] = { 2, 3, 4, 5 }, eight = 8;
	const float value = 2.5f;
	node_init(&o, "Pad", 3, 13);
	inf_tensor *x = node_tensor(&o, 0, INF_DT_FLOAT, 4, dims, NULL);
	if (half)
		round_to_half(x);
	node_tensor(&o, 1, INF_DT_INT64, 1, &eight, pads);
	const int64_t one = 1;
	node_tensor(&o, 2, INF_DT_FLOAT, 0, &one, &value);
	node_str(&o, "mode", mode);
	node_run(&o);
	const inf_tensor *y = o.out[0];
	/* as the cuda Pad row builds it: axes walked in the output's storage order */
	cuk_geom g = { .nd = 4 };
	memcpy(g.dims, y->dims, sizeof(g.dims));
	cu_layout_strides(x, 1, g.sa);
	cu_layout_strides(y, 1, g.sy);
	for (int i = 0; i < 4; i++)
		g.sb[i] = i;
	cu_geom_output_order(&g);
	cuk_pad p = { .nd = 4, .value = value,
	              .mode = !strcmp(mode, "constant") ? CUK_PAD_CONSTANT : !strcmp(mode, "reflect") ? CUK_PAD_REFLECT
	                                                                                            : CUK_PAD_EDGE };
	for (int i = 0; i < 4; i++) {
		int a = (int)g.sb[i];
		p.dims[i] = g.dims[i];
		p.len[i] = dims[a];
		p.pb[i] = pads[a];
		p.sx[i] = g.sa[i];
		p.sy[i] = g.sy[i];
	}
	void *xs = to_nhwc(x, half), *ys = malloc(inf_tensor_bytes(y) + 4);
	cuk_pad_nd_ref(half, xs, ys, &p);
	double d = max_diff_nhwc(y, ys, half);
	printf("# Pad %s %s: max diff %.3g\n", mode, half ? "fp16" : "fp32", d);
	assert_true(d == 0.0);
	free(xs);
	free(ys);
	node_free(&o);
}

static void test_pad_nhwc_matches_cpu_in_every_mode(void **state)
{
	(void)state;
	static const int64_t grow[8] = { 0, 1, 3, 2, 0, 2, 1, 4 }, crop[8] = { 0, -1, 2, -2, 0, 0, -1, 3 };
	for (int half = 0; half < 2; half++) {
		check_pad("constant", grow, half);
		check_pad("constant", crop, half);
		check_pad("reflect", grow, half);
		check_pad("edge", grow, half);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_half_conversion_matches_the_compiler),
		cmocka_unit_test(test_pool_nhwc_matches_cpu),
		cmocka_unit_test(test_resize_nhwc_matches_cpu_in_every_mode),
		cmocka_unit_test(test_pad_nhwc_matches_cpu_in_every_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
