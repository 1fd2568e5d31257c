/* The operators issue 17 added, on nodes built by hand: the ones whose libonnx-testdata
 * cases are all older than opset 11 (the conformance run skips those: the trigonometric
 * family, Selu, Softsign, ThresholdedRelu, And, Xor, Not, IsInf, InstanceNormalization,
 * EyeLike, Shrink), integer semantics (Mod's two conventions, Div truncating, int64
 * exact above 2^53), optional inputs, and the refusals: a runtime TopK k, an index
 * outside the data. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "infer/graph/graph.h"
#include "pipeline/vp_err.h"

/* ---- a node built by hand ---- */

typedef struct tnode {
	inf_node n;
	inf_tensor t[8];
	inf_tensor *in[4], *out[3];
	inf_attr attr[4];
	char err[256];
} tnode;

static void tn_init(tnode *o, const char *op_type, int n_in, int n_out)
{
	memset(o, 0, sizeof(*o));
	o->n.name = "t";
	o->n.op_type = (char *)op_type;
	o->n.opset = 17;
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

/* Input k of dtype and shape; data is copied (constant when is_const). */
static void tn_in(tnode *o, int k, int dtype, int ndim, const int64_t *dims, const void *data, int is_const)
{
	inf_tensor *t = &o->t[k];

	t->name = "x";
	t->dtype = dtype;
	t->ndim = ndim;
	if (ndim)
		memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
	t->is_const = is_const;
	t->data = malloc(inf_tensor_bytes(t) + 1);
	assert_non_null(t->data);
	memcpy(t->data, data, inf_tensor_bytes(t));
	o->in[k] = t;
}

static void tn_attr(tnode *o, const char *name, int type, int64_t i, float f, const char *s)
{
	inf_attr *a = &o->attr[o->n.n_attr++];

	a->name = (char *)name;
	a->type = type;
	a->i = i;
	a->f = f;
	a->s = (char *)s;
}

/* Shape, prepare and run as the CPU backend would; the code of the first step that fails. */
static int tn_run(tnode *o)
{
	const inf_op *op = inf_op_find(o->n.op_type);
	size_t ws = 0;
	void *work = NULL;
	int rc;

	assert_non_null(op);
	o->n.op = op;
	if ((rc = op->shape(&o->n, o->err, sizeof(o->err))) < 0)
		return rc;
	for (int k = 0; k < o->n.n_out; k++) {
		o->out[k]->data = calloc(1, inf_tensor_bytes(o->out[k]) + 1);
		assert_non_null(o->out[k]->data);
	}
	if (op->prepare && (rc = op->prepare(&o->n, &ws)) < 0)
		return rc;
	if (ws) {
		work = malloc(ws);
		assert_non_null(work);
	}
	inf_cpu_ctx cx = { .threads = 1 };
	rc = op->run_cpu(&o->n, work, &cx);
	free(work);
	if (op->release && o->n.priv)
		op->release(&o->n);
	return rc;
}

static void tn_free(tnode *o)
{
	for (int k = 0; k < 8; k++) {
		free(o->t[k].data);
		o->t[k].data = NULL;
	}
}

static const int64_t *out_i64(const tnode *o, int k) { return o->out[k]->data; }
static const float *out_f32(const tnode *o, int k) { return o->out[k]->data; }
static const uint8_t *out_bool(const tnode *o, int k) { return o->out[k]->data; }

/* ---- float unary operators whose only conformance cases are old ---- */

typedef struct unary_case {
	const char *op;
	double (*ref)(double);
	double lo, hi;          /* input range inside the function's domain */
} unary_case;

static double softsign(double v) { return v / (1 + fabs(v)); }
static double thr_relu(double v) { return v > 1.0 ? v : 0.0; }
static double selu(double v)
{
	return 1.05070102214813232421875 * (v > 0 ? v : 1.67326319217681884765625 * (exp(v) - 1));
}

static void test_old_opset_unary_operators_follow_libm(void **state)
{
	static const unary_case cases[] = {
		{ "Sin", sin, -6, 6 }, { "Cos", cos, -6, 6 }, { "Tan", tan, -1.2, 1.2 }, { "Asin", asin, -0.99, 0.99 },
		{ "Acos", acos, -0.99, 0.99 }, { "Atan", atan, -9, 9 }, { "Sinh", sinh, -4, 4 }, { "Cosh", cosh, -4, 4 },
		{ "Asinh", asinh, -9, 9 }, { "Acosh", acosh, 1, 9 }, { "Atanh", atanh, -0.99, 0.99 },
		{ "Softsign", softsign, -9, 9 }, { "Selu", selu, -4, 4 }, { "ThresholdedRelu", thr_relu, -3, 3 },
	};
	float x[33];
	int64_t dims[1] = { 33 };

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		tnode o;
		tn_init(&o, cases[c].op, 1, 1);
		for (int i = 0; i < 33; i++)
			x[i] = (float)(cases[c].lo + (cases[c].hi - cases[c].lo) * i / 32.0);
		tn_in(&o, 0, INF_DT_FLOAT, 1, dims, x, 0);
		assert_int_equal(tn_run(&o), 0);
		for (int i = 0; i < 33; i++) {
			double want = cases[c].ref(x[i]), got = out_f32(&o, 0)[i];
			if (fabs(got - want) > 1e-5 + 1e-5 * fabs(want))
				fail_msg("%s(%g) = %g, want %g", cases[c].op, x[i], got, want);
		}
		tn_free(&o);
	}
}

/* ---- bool logic ---- */

static void test_bool_logic_broadcasts_truth_tables(void **state)
{
	static const uint8_t a[4] = { 0, 0, 1, 1 }, b[2] = { 0, 1 };
	static const struct { const char *op; uint8_t want[4]; } cases[] = {
		{ "And", { 0, 0, 0, 1 } }, { "Or", { 0, 1, 1, 1 } }, { "Xor", { 0, 1, 1, 0 } },
	};
	int64_t da[2] = { 2, 2 }, db[1] = { 2 };
	tnode o;

	(void)state;
	for (int c = 0; c < 3; c++) {
		tn_init(&o, cases[c].op, 2, 1);
		tn_in(&o, 0, INF_DT_BOOL, 2, da, a, 0);
		tn_in(&o, 1, INF_DT_BOOL, 1, db, b, 0);
		assert_int_equal(tn_run(&o), 0);
		assert_memory_equal(out_bool(&o, 0), cases[c].want, 4);
		tn_free(&o);
	}
	tn_init(&o, "Not", 1, 1);
	tn_in(&o, 0, INF_DT_BOOL, 2, da, a, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_bool(&o, 0), ((uint8_t[4]){ 1, 1, 0, 0 }), 4);
	tn_free(&o);
	tn_init(&o, "And", 2, 1);                    /* logic on floats is a model error */
	tn_in(&o, 0, INF_DT_FLOAT, 1, db, (float[2]){ 0, 1 }, 0);
	tn_in(&o, 1, INF_DT_FLOAT, 1, db, (float[2]){ 0, 1 }, 0);
	assert_true(tn_run(&o) < 0);
	tn_free(&o);
}

static void test_isinf_honours_detect_positive_and_negative(void **state)
{
	const float x[4] = { INFINITY, -INFINITY, NAN, 1.0f };
	int64_t d[1] = { 4 };
	tnode o;

	(void)state;
	tn_init(&o, "IsInf", 1, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 1, d, x, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_bool(&o, 0), ((uint8_t[4]){ 1, 1, 0, 0 }), 4);
	tn_free(&o);
	tn_init(&o, "IsInf", 1, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 1, d, x, 0);
	tn_attr(&o, "detect_positive", INF_ATTR_INT, 0, 0, NULL);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_bool(&o, 0), ((uint8_t[4]){ 0, 1, 0, 0 }), 4);
	tn_free(&o);
}

/* ---- integer semantics ---- */

static void run_mod(const int64_t *x, const int64_t *y, int fmod_attr, int64_t *ret)
{
	int64_t d[1] = { 6 };
	tnode o;

	tn_init(&o, "Mod", 2, 1);
	tn_in(&o, 0, INF_DT_INT64, 1, d, x, 0);
	tn_in(&o, 1, INF_DT_INT64, 1, d, y, 0);
	tn_attr(&o, "fmod", INF_ATTR_INT, fmod_attr, 0, NULL);
	assert_int_equal(tn_run(&o), 0);
	memcpy(ret, out_i64(&o, 0), sizeof(int64_t) * 6);
	tn_free(&o);
}

static void test_mod_int64_takes_divisor_sign_unless_fmod(void **state)
{
	const int64_t x[6] = { -7, 7, -7, 7, INT64_MIN, 5 }, y[6] = { 3, -3, -3, 3, -1, 5 };
	int64_t got[6];

	(void)state;
	run_mod(x, y, 0, got);
	assert_memory_equal(got, ((int64_t[6]){ 2, -2, -1, 1, 0, 0 }), sizeof(got));
	run_mod(x, y, 1, got);
	assert_memory_equal(got, ((int64_t[6]){ -1, 1, -1, 1, 0, 0 }), sizeof(got));
}

static void test_mod_refuses_zero_divisor_and_floats_without_fmod(void **state)
{
	int64_t d[1] = { 2 };
	tnode o;

	(void)state;
	tn_init(&o, "Mod", 2, 1);
	tn_in(&o, 0, INF_DT_INT32, 1, d, (int32_t[2]){ 4, 5 }, 0);
	tn_in(&o, 1, INF_DT_INT32, 1, d, (int32_t[2]){ 2, 0 }, 0);
	assert_int_equal(tn_run(&o), VP_EMODEL);
	tn_free(&o);
	tn_init(&o, "Mod", 2, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 1, d, (float[2]){ 4, 5 }, 0);
	tn_in(&o, 1, INF_DT_FLOAT, 1, d, (float[2]){ 2, 3 }, 0);
	assert_int_equal(tn_run(&o), VP_EMODEL);
	assert_non_null(strstr(o.err, "fmod"));
	tn_free(&o);
}

static void test_integer_div_truncates_toward_zero(void **state)
{
	int64_t d[1] = { 4 };
	tnode o;

	(void)state;
	tn_init(&o, "Div", 2, 1);
	tn_in(&o, 0, INF_DT_INT64, 1, d, (int64_t[4]){ -7, 7, -7, 7 }, 0);
	tn_in(&o, 1, INF_DT_INT64, 1, d, (int64_t[4]){ 2, -2, -2, 2 }, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_i64(&o, 0), ((int64_t[4]){ -3, -3, 3, 3 }), 4 * sizeof(int64_t));
	tn_free(&o);
}

/* 2^53 + 1 has no double: a path through double would merge it with 2^53. */
static void test_int64_neg_abs_equal_are_exact_above_2_53(void **state)
{
	const int64_t big = ((int64_t)1 << 53) + 1, v[2] = { big, -big }, w[2] = { big - 1, -big };
	int64_t d[1] = { 2 };
	tnode o;

	(void)state;
	tn_init(&o, "Neg", 1, 1);
	tn_in(&o, 0, INF_DT_INT64, 1, d, v, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_i64(&o, 0), ((int64_t[2]){ -big, big }), sizeof(v));
	tn_free(&o);
	tn_init(&o, "Abs", 1, 1);
	tn_in(&o, 0, INF_DT_INT64, 1, d, v, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_i64(&o, 0), ((int64_t[2]){ big, big }), sizeof(v));
	tn_free(&o);
	tn_init(&o, "Equal", 2, 1);
	tn_in(&o, 0, INF_DT_INT64, 1, d, v, 0);
	tn_in(&o, 1, INF_DT_INT64, 1, d, w, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_bool(&o, 0), ((uint8_t[2]){ 0, 1 }), 2);
	tn_free(&o);
}

static void test_where_broadcasts_condition_over_int64(void **state)
{
	int64_t dc[2] = { 2, 1 }, dx[2] = { 2, 2 }, dy[1] = { 1 };
	tnode o;

	(void)state;
	tn_init(&o, "Where", 3, 1);
	tn_in(&o, 0, INF_DT_BOOL, 2, dc, (uint8_t[2]){ 1, 0 }, 0);
	tn_in(&o, 1, INF_DT_INT64, 2, dx, (int64_t[4]){ 1, 2, 3, 4 }, 0);
	tn_in(&o, 2, INF_DT_INT64, 1, dy, (int64_t[1]){ -9 }, 0);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_i64(&o, 0), ((int64_t[4]){ 1, 2, -9, -9 }), 4 * sizeof(int64_t));
	tn_free(&o);
}

static void test_clip_with_only_a_min_input(void **state)
{
	int64_t d[1] = { 3 };
	tnode o;

	(void)state;
	tn_init(&o, "Clip", 2, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 1, d, (float[3]){ -5, 0.5f, 1e30f }, 0);
	tn_in(&o, 1, INF_DT_FLOAT, 0, NULL, (float[1]){ 0.25f }, 1);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_f32(&o, 0), ((float[3]){ 0.25f, 0.5f, 1e30f }), 3 * sizeof(float));
	tn_free(&o);
}

/* ---- selection ---- */

static void test_topk_ties_keep_the_lower_index_first(void **state)
{
	int64_t dx[1] = { 5 }, dk[1] = { 1 };
	tnode o;

	(void)state;
	tn_init(&o, "TopK", 2, 2);
	tn_in(&o, 0, INF_DT_FLOAT, 1, dx, (float[5]){ 1, 3, 2, 3, 3 }, 0);
	tn_in(&o, 1, INF_DT_INT64, 1, dk, (int64_t[1]){ 3 }, 1);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_i64(&o, 1), ((int64_t[3]){ 1, 3, 4 }), 3 * sizeof(int64_t));
	assert_memory_equal(out_f32(&o, 0), ((float[3]){ 3, 3, 3 }), 3 * sizeof(float));
	tn_free(&o);
}

static void test_topk_with_runtime_k_is_refused_naming_k(void **state)
{
	int64_t dx[1] = { 5 }, dk[1] = { 1 };
	tnode o;

	(void)state;
	tn_init(&o, "TopK", 2, 2);
	tn_in(&o, 0, INF_DT_FLOAT, 1, dx, (float[5]){ 1, 3, 2, 3, 3 }, 0);
	tn_in(&o, 1, INF_DT_INT64, 1, dk, (int64_t[1]){ 3 }, 0);
	o.t[1].name = "k_runtime";
	assert_int_equal(tn_run(&o), VP_EUNSUP);
	assert_non_null(strstr(o.err, "k_runtime"));
	tn_free(&o);
}

static void test_argmax_select_last_index_picks_the_last_tie(void **state)
{
	int64_t d[2] = { 2, 3 };
	const float x[6] = { 5, 1, 5, 0, 7, 7 };
	tnode o;

	(void)state;
	for (int last = 0; last < 2; last++) {
		tn_init(&o, "ArgMax", 1, 1);
		tn_in(&o, 0, INF_DT_FLOAT, 2, d, x, 0);
		tn_attr(&o, "axis", INF_ATTR_INT, 1, 0, NULL);
		tn_attr(&o, "keepdims", INF_ATTR_INT, 0, 0, NULL);
		tn_attr(&o, "select_last_index", INF_ATTR_INT, last, 0, NULL);
		assert_int_equal(tn_run(&o), 0);
		assert_int_equal(o.out[0]->ndim, 1);
		assert_int_equal(out_i64(&o, 0)[0], last ? 2 : 0);
		assert_int_equal(out_i64(&o, 0)[1], last ? 2 : 1);
		tn_free(&o);
	}
}

/* Indices computed at run time (a TopK's) may be wrong: refused, never read or written past. */
static void test_index_operators_refuse_indices_outside_the_data(void **state)
{
	int64_t d[2] = { 2, 2 }, di[2] = { 1, 1 }, dsn[2] = { 1, 1 }, du[1] = { 1 };
	const float x[4] = { 1, 2, 3, 4 };
	tnode o;

	(void)state;
	tn_init(&o, "GatherElements", 2, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 2, d, x, 0);
	tn_in(&o, 1, INF_DT_INT64, 2, di, (int64_t[1]){ 2 }, 0);
	assert_int_equal(tn_run(&o), VP_EMODEL);
	tn_free(&o);
	tn_init(&o, "ScatterND", 3, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 2, d, x, 0);
	tn_in(&o, 1, INF_DT_INT64, 2, dsn, (int64_t[1]){ -3 }, 0);
	tn_in(&o, 2, INF_DT_FLOAT, 2, (int64_t[2]){ 1, 2 }, (float[2]){ 9, 9 }, 0);
	assert_int_equal(tn_run(&o), VP_EMODEL);
	assert_string_equal(o.err, "");              /* refused at run, the shapes were fine */
	tn_free(&o);
	tn_init(&o, "ScatterElements", 3, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 1, (int64_t[1]){ 4 }, x, 0);
	tn_in(&o, 1, INF_DT_INT64, 1, du, (int64_t[1]){ 4 }, 0);
	tn_in(&o, 2, INF_DT_FLOAT, 1, du, (float[1]){ 9 }, 0);
	assert_int_equal(tn_run(&o), VP_EMODEL);
	tn_free(&o);
}

/* ---- normalisation and sampling ---- */

static void test_instance_norm_normalises_each_plane_then_scales(void **state)
{
	int64_t dx[3] = { 1, 2, 4 }, dc[1] = { 2 };
	const float x[8] = { 1, 2, 3, 4, 10, 10, 10, 10 };
	double m = 2.5, inv = 1.0 / sqrt(1.25 + 1e-5);
	tnode o;

	(void)state;
	tn_init(&o, "InstanceNormalization", 3, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 3, dx, x, 0);
	tn_in(&o, 1, INF_DT_FLOAT, 1, dc, (float[2]){ 2, 3 }, 1);
	tn_in(&o, 2, INF_DT_FLOAT, 1, dc, (float[2]){ 0.5f, -1 }, 1);
	assert_int_equal(tn_run(&o), 0);
	for (int i = 0; i < 4; i++) {
		assert_float_equal(out_f32(&o, 0)[i], 2 * (x[i] - m) * inv + 0.5, 1e-5);
		assert_float_equal(out_f32(&o, 0)[4 + i], -1.0, 1e-5);   /* a flat plane is its bias */
	}
	tn_free(&o);
}

/* With align_corners a grid on the pixel centres samples every pixel exactly, in each mode. */
static void test_grid_sample_on_pixel_centres_reproduces_the_image(void **state)
{
	static const char *const modes[] = { "nearest", "bilinear", "bicubic", "linear", "cubic" };
	int64_t dx[4] = { 1, 1, 3, 4 }, dg[4] = { 1, 3, 4, 2 };
	float x[12], g[24];

	(void)state;
	for (int i = 0; i < 12; i++)
		x[i] = (float)(i * i % 7) - 2.5f;
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 4; c++) {
			g[(r * 4 + c) * 2] = -1.0f + 2.0f * c / 3.0f;
			g[(r * 4 + c) * 2 + 1] = -1.0f + 2.0f * r / 2.0f;
		}
	for (int m = 0; m < 5; m++) {
		tnode o;
		tn_init(&o, "GridSample", 2, 1);
		o.n.opset = m >= 3 ? 20 : 16;
		tn_in(&o, 0, INF_DT_FLOAT, 4, dx, x, 0);
		tn_in(&o, 1, INF_DT_FLOAT, 4, dg, g, 0);
		tn_attr(&o, "mode", INF_ATTR_STRING, 0, 0, modes[m]);
		tn_attr(&o, "align_corners", INF_ATTR_INT, 1, 0, NULL);
		assert_int_equal(tn_run(&o), 0);
		for (int i = 0; i < 12; i++)
			if (fabsf(out_f32(&o, 0)[i] - x[i]) > 1e-5f)
				fail_msg("%s: pixel %d = %g, want %g", modes[m], i, out_f32(&o, 0)[i], x[i]);
		tn_free(&o);
	}
}

static void test_eyelike_and_shrink_follow_the_spec(void **state)
{
	int64_t d[2] = { 2, 3 }, ds[1] = { 5 };
	tnode o;

	(void)state;
	tn_init(&o, "EyeLike", 1, 1);
	tn_in(&o, 0, INF_DT_INT32, 2, d, (int32_t[6]){ 0 }, 0);
	tn_attr(&o, "k", INF_ATTR_INT, 1, 0, NULL);
	tn_attr(&o, "dtype", INF_ATTR_INT, INF_DT_INT64, 0, NULL);
	assert_int_equal(tn_run(&o), 0);
	assert_int_equal(o.out[0]->dtype, INF_DT_INT64);
	assert_memory_equal(out_i64(&o, 0), ((int64_t[6]){ 0, 1, 0, 0, 0, 1 }), 6 * sizeof(int64_t));
	tn_free(&o);
	tn_init(&o, "Shrink", 1, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 1, ds, (float[5]){ -2, -1, 0, 1, 2 }, 0);
	tn_attr(&o, "lambd", INF_ATTR_FLOAT, 0, 1.5f, NULL);
	tn_attr(&o, "bias", INF_ATTR_FLOAT, 0, 0.5f, NULL);
	assert_int_equal(tn_run(&o), 0);
	assert_memory_equal(out_f32(&o, 0), ((float[5]){ -1.5f, 0, 0, 0, 1.5f }), 5 * sizeof(float));
	tn_free(&o);
}

/* Implicit outputs keep the labels used once, in order ("ij,jk" is a matrix product); a
 * label repeated in one term walks the diagonal ("ii" is the trace). */
static void test_einsum_implicit_output_and_trace(void **state)
{
	int64_t da[2] = { 2, 3 }, db[2] = { 3, 2 }, dt[2] = { 3, 3 };
	tnode o;

	(void)state;
	tn_init(&o, "Einsum", 2, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 2, da, (float[6]){ 1, 2, 3, 4, 5, 6 }, 0);
	tn_in(&o, 1, INF_DT_FLOAT, 2, db, (float[6]){ 1, 0, 0, 1, 1, 1 }, 0);
	tn_attr(&o, "equation", INF_ATTR_STRING, 0, 0, "ij, jk");
	assert_int_equal(tn_run(&o), 0);
	assert_int_equal(o.out[0]->ndim, 2);
	assert_memory_equal(out_f32(&o, 0), ((float[4]){ 4, 5, 10, 11 }), 4 * sizeof(float));
	tn_free(&o);
	tn_init(&o, "Einsum", 1, 1);
	tn_in(&o, 0, INF_DT_FLOAT, 2, dt, (float[9]){ 1, 9, 9, 9, 2, 9, 9, 9, 3 }, 0);
	tn_attr(&o, "equation", INF_ATTR_STRING, 0, 0, "ii");
	assert_int_equal(tn_run(&o), 0);
	assert_int_equal(o.out[0]->ndim, 0);
	assert_float_equal(out_f32(&o, 0)[0], 6.0, 0);
	tn_free(&o);
}

/* On a constant image every avg bin is the constant; a batch index outside X is refused. */
static void test_roi_align_averages_and_refuses_a_bad_batch_index(void **state)
{
	int64_t dx[4] = { 1, 1, 4, 4 }, dr[2] = { 1, 4 }, db[1] = { 1 };
	float img[16];
	tnode o;

	(void)state;
	for (int i = 0; i < 16; i++)
		img[i] = 2.5f;
	for (int bad = 0; bad < 2; bad++) {
		tn_init(&o, "RoiAlign", 3, 1);
		tn_in(&o, 0, INF_DT_FLOAT, 4, dx, img, 0);
		tn_in(&o, 1, INF_DT_FLOAT, 2, dr, (float[4]){ 0.5f, 0.5f, 3, 3 }, 0);
		tn_in(&o, 2, INF_DT_INT64, 1, db, (int64_t[1]){ bad }, 0);
		tn_attr(&o, "output_height", INF_ATTR_INT, 2, 0, NULL);
		tn_attr(&o, "output_width", INF_ATTR_INT, 2, 0, NULL);
		if (bad) {
			assert_int_equal(tn_run(&o), VP_EMODEL);
		} else {
			assert_int_equal(tn_run(&o), 0);
			for (int i = 0; i < 4; i++)
				assert_float_equal(out_f32(&o, 0)[i], 2.5, 1e-6);
		}
		tn_free(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_opset_unary_operators_follow_libm),
		cmocka_unit_test(test_bool_logic_broadcasts_truth_tables),
		cmocka_unit_test(test_isinf_honours_detect_positive_and_negative),
		cmocka_unit_test(test_mod_int64_takes_divisor_sign_unless_fmod),
		cmocka_unit_test(test_mod_refuses_zero_divisor_and_floats_without_fmod),
		cmocka_unit_test(test_integer_div_truncates_toward_zero),
		cmocka_unit_test(test_int64_neg_abs_equal_are_exact_above_2_53),
		cmocka_unit_test(test_where_broadcasts_condition_over_int64),
		cmocka_unit_test(test_clip_with_only_a_min_input),
		cmocka_unit_test(test_topk_ties_keep_the_lower_index_first),
		cmocka_unit_test(test_topk_with_runtime_k_is_refused_naming_k),
		cmocka_unit_test(test_argmax_select_last_index_picks_the_last_tie),
		cmocka_unit_test(test_index_operators_refuse_indices_outside_the_data),
		cmocka_unit_test(test_instance_norm_normalises_each_plane_then_scales),
		cmocka_unit_test(test_grid_sample_on_pixel_centres_reproduces_the_image),
		cmocka_unit_test(test_eyelike_and_shrink_follow_the_spec),
		cmocka_unit_test(test_einsum_implicit_output_and_trace),
		cmocka_unit_test(test_roi_align_averages_and_refuses_a_bad_batch_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
