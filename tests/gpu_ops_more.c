/* The cuda backend's later operators against the CPU backend on one small model written
 * at test time (/usr/bin/python3 + onnx): a standalone BatchNormalization, ConvTranspose
 * run directly by cuDNN (strides, pads, output_padding, bias, fused Relu) and through the
 * cropped grid (grouped, SAME_UPPER), ReduceMean/Max/Min/Sum on both kernel paths (axes as
 * attribute and as input, keepdims on and off) and Cast/CastLike chains through float16,
 * double, int32, int64, uint8 and bool. Every batch size 1..4 runs on one engine (graph
 * replays included), FP32 and FP16. Training-mode BatchNormalization must be refused.
 * The ONNX node conformance cases of these operators must all run on the GPU: every case
 * the CPU backend passes passes on cuda too (none skipped as unsupported, except the
 * training-mode ones and, in FP16, data outside the half range). Skips cleanly without a
 * GPU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gpu_skip.h"
#include "infer/engine.h"
#include "pipeline/vp_err.h"

#define MAX_BATCH 4
#define MAX_OUT 8

static char tmp_dir[256];

static const char model_py[] =
	"import sys, numpy as np, onnx\n"
	"from onnx import helper as h, TensorProto as T, numpy_helper as nh\n"
	"rng = np.random.default_rng(7)\n"
	"f = lambda *s: rng.standard_normal(s).astype(np.float32)\n"
	"init = [nh.from_array(f(3), 'bn_s'), nh.from_array(f(3), 'bn_b'), nh.from_array(f(3), 'bn_m'),\n"
	"        nh.from_array((rng.random(3) + 0.5).astype(np.float32), 'bn_v'),\n"
	"        nh.from_array(f(3, 4, 3, 3) * 0.3, 'w1'), nh.from_array(f(4), 'b1'),\n"
	"        nh.from_array(f(3, 1, 3, 3) * 0.3, 'w2'), nh.from_array(np.array([-1], np.int64), 'ax')]\n"
	"n = [h.make_node('BatchNormalization', ['x', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn'], epsilon=1e-3),\n"
	"     h.make_node('ConvTranspose', ['bn', 'w1', 'b1'], ['ct_raw'], strides=[2, 2], pads=[1, 1, 1, 1],\n"
	"                 output_padding=[1, 1]),\n"
	"     h.make_node('Relu', ['ct_raw'], ['ct']),\n"
	"     h.make_node('ConvTranspose', ['bn', 'w2'], ['ct2'], strides=[2, 2], group=3, auto_pad='SAME_UPPER'),\n"
	"     h.make_node('ReduceMean', ['ct'], ['rmean'], axes=[2, 3], keepdims=1),\n"
	"     h.make_node('ReduceMax', ['ct'], ['rmax'], axes=[1], keepdims=0),\n"
	"     h.make_node('ReduceSum', ['ct2', 'ax'], ['rsum'], keepdims=0),\n"
	"     h.make_node('ReduceMin', ['ct2'], ['rmin'], axes=[1, 3], keepdims=1)]\n"
	"chains = []\n"
	"for i, to in enumerate([T.FLOAT16, T.DOUBLE, T.INT32, T.BOOL, T.UINT8]):\n"
	"    n += [h.make_node('Cast', ['x'], ['c%d' % i], to=to), h.make_node('Cast', ['c%d' % i], ['cf%d' % i], to=T.FLOAT)]\n"
	"    chains.append('cf%d' % i)\n"
	"n += [h.make_node('Cast', ['x'], ['cl'], to=T.INT64), h.make_node('CastLike', ['cl', 'x'], ['clf']),\n"
	"      h.make_node('Concat', chains + ['clf'], ['cat'], axis=1)]\n"
	"vi = h.make_tensor_value_info\n"
	"outs = [vi('rmean', T.FLOAT, [1, 4, 1, 1]), vi('rmax', T.FLOAT, [1, 32, 32]), vi('rsum', T.FLOAT, [1, 3, 32]),\n"
	"        vi('rmin', T.FLOAT, [1, 1, 32, 1]), vi('ct2', T.FLOAT, [1, 3, 32, 32]), vi('cat', T.FLOAT, [1, 18, 16, 16])]\n"
	"g = h.make_graph(n, 'more_ops', [vi('x', T.FLOAT, [1, 3, 16, 16])], outs, init)\n"
	"onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)]), sys.argv[1])\n";

static const char train_bn_py[] =
	"import sys, numpy as np, onnx\n"
	"from onnx import helper as h, TensorProto as T, numpy_helper as nh\n"
	"init = [nh.from_array(np.ones(3, np.float32), k) for k in ('s', 'b', 'm', 'v')]\n"
	"n = [h.make_node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y', 'rm', 'rv'], training_mode=1,\n"
	"                 name='bn_train')]\n"
	"vi = h.make_tensor_value_info\n"
	"g = h.make_graph(n, 'g', [vi('x', T.FLOAT, [1, 3, 4, 4])],\n"
	"                 [vi('y', T.FLOAT, [1, 3, 4, 4]), vi('rm', T.FLOAT, [3]), vi('rv', T.FLOAT, [3])], init)\n"
	"onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 15)]), sys.argv[1])\n";

/* Writes dir/name.onnx with /usr/bin/python3 + onnx; 0 or -1. */
static int write_model(const char *dir, const char *name, const char *script)
{
	char py[400], cmd[1200];
	snprintf(py, sizeof(py), "%s/%s.py", dir, name);
	FILE *f = fopen(py, "w");
	if (!f)
		return -1;
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s/%s.onnx", py, dir, name);
	int rc = system(cmd) == 0 ? 0 : -1;
	unlink(py);
	return rc;
}

/* The GPU machines have no onnx for Python: scripts/gpu-carry.sh makes the models here
 * (gpu_ops_more --make-models DIR) into the bundle's $VAPD_GPU_CLIPS, used when present. */
static void make_model(const char *name, const char *script, char *path, size_t len)
{
	const char *dir = getenv("VAPD_GPU_CLIPS");
	if (dir && *dir) {
		snprintf(path, len, "%s/%s.onnx", dir, name);
		if (access(path, R_OK) == 0)
			return;
	}
	snprintf(path, len, "%s/%s.onnx", tmp_dir, name);
	if (write_model(tmp_dir, name, script) < 0)
		fail_msg("cannot make %s: /usr/bin/python3 with numpy and onnx is needed, or the model in "
		         "$VAPD_GPU_CLIPS (scripts/gpu-carry.sh)", path);
}

static size_t numel(const inf_tensor_info *t)
{
	size_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->dims[i];
	return n;
}

/* Multiples of 1/8 in [-8, 8]: exact in half too, so the integer casts truncate the same
 * values in FP16 mode; items differ. */
static void fill_items(float *x, size_t item, int batch)
{
	for (int b = 0; b < batch; b++)
		for (size_t i = 0; i < item; i++)
			x[(size_t)b * item + i] = (float)((int)((i * 37 + (size_t)b * 11) % 129) - 64) / 8.0f;
}

static double rel_l2(const float *a, const float *ref, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - ref[i];
		num += d * d;
		den += (double)ref[i] * ref[i];
	}
	return sqrt(num / (den > 0 ? den : 1));
}

typedef struct ref_out {
	int n;
	size_t item[MAX_OUT];
	float *data[MAX_OUT];
} ref_out;

static void cpu_reference(const char *path, size_t in_item, ref_out *r)
{
	inf_engine *e = NULL;
	inf_engine_opts o = { .backend = "cpu", .max_batch = MAX_BATCH, .threads = 2 };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	fill_items(inf_engine_input(e, 0), in_item, MAX_BATCH);
	assert_int_equal(inf_engine_run(e, MAX_BATCH), 0);
	r->n = inf_engine_n_outputs(e);
	assert_true(r->n > 0 && r->n <= MAX_OUT);
	for (int k = 0; k < r->n; k++) {
		inf_tensor_info oi;
		assert_int_equal(inf_engine_output_info(e, k, &oi), 0);
		size_t n = numel(&oi);
		r->item[k] = n / MAX_BATCH;
		r->data[k] = malloc(n * sizeof(float));
		assert_non_null(r->data[k]);
		memcpy(r->data[k], inf_engine_output(e, k), n * sizeof(float));
	}
	inf_engine_free(&e);
}

static void check_precision(int fp16)
{
	static const int order[] = { 4, 1, 4, 2, 1, 3, 2, 3 };
	double tol = fp16 ? 1e-2 : 1e-4;
	char path[300];
	inf_engine *e = NULL;
	inf_tensor_info ii;
	ref_out ref = { 0 };
	make_model("more_ops", model_py, path, sizeof(path));
	inf_engine_opts o = { .backend = "cuda", .max_batch = MAX_BATCH, .fp16 = fp16 };
	/* the cuda backend has no per-node fallback: opening proves every node has a GPU row */
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	assert_string_equal(inf_engine_backend_name(e), "cuda");
	assert_int_equal(inf_engine_input_info(e, 0, &ii), 0);
	size_t in_item = numel(&ii) / MAX_BATCH;
	cpu_reference(path, in_item, &ref);
	assert_int_equal(inf_engine_n_outputs(e), ref.n);
	for (size_t r = 0; r < sizeof(order) / sizeof(order[0]); r++) {
		int batch = order[r];
		fill_items(inf_engine_input(e, 0), in_item, batch);
		assert_int_equal(inf_engine_run(e, batch), 0);
		for (int k = 0; k < ref.n; k++) {
			const float *out = inf_engine_output(e, k);
			inf_tensor_info oi;
			assert_int_equal(inf_engine_output_info(e, k, &oi), 0);
			for (int b = 0; b < batch; b++) {
				double err = rel_l2(out + (size_t)b * ref.item[k], ref.data[k] + (size_t)b * ref.item[k], ref.item[k]);
				if (err > tol || r == 0)
					printf("# %s batch %d item %d output %s: relative L2 vs cpu %.3g\n", fp16 ? "fp16" : "fp32",
					       batch, b, oi.name, err);
				assert_true(err <= tol);
			}
		}
	}
	inf_engine_free(&e);
	for (int k = 0; k < ref.n; k++)
		free(ref.data[k]);
}

static void test_more_ops_fp32_match_cpu_at_every_batch(void **state)
{
	(void)state;
	check_precision(0);
}

static void test_more_ops_fp16_match_cpu_at_every_batch(void **state)
{
	(void)state;
	check_precision(1);
}

/* Batch statistics are not an inference kernel: the node is refused by name, no wrong answer. */
static void test_training_batchnorm_is_refused(void **state)
{
	(void)state;
	char path[300];
	inf_engine *e = NULL;
	make_model("train_bn", train_bn_py, path, sizeof(path));
	inf_engine_opts o = { .backend = "cuda", .max_batch = 1 };
	assert_int_equal(inf_engine_open(path, &o, &e), VP_EUNSUP);
	assert_null(e);
}

/* ---- conformance parity with the CPU ---- */

#define MAX_CASES 256

typedef struct case_list {
	int n, failed;
	char name[MAX_CASES][96];
	char why[MAX_CASES][160];   /* "" for a pass */
} case_list;

static const char conf_filters[] = "test_cast test_castlike test_reduce_max test_reduce_min test_reduce_mean "
                                   "test_reduce_sum_ test_batchnorm test_convtranspose";

/* The verbose PASS and SKIP lines of the conformance tool for these operators. */
static void conformance_cases(const char *backend, int fp16, case_list *l)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	/* The GPU machines have no libonnx-testdata: scripts/gpu-carry.sh carries its cases. */
	const char *data = getenv("VAPD_ONNX_NODE_DATA");
	char cmd[2048], line[1024], data_arg[1100] = "";
	if (data && *data)
		snprintf(data_arg, sizeof(data_arg), "--data '%s'", data);
	snprintf(cmd, sizeof(cmd), "%s/tests/tool_onnx_conformance --backend %s %s %s -v %s 2>&1", build, backend,
	         data_arg, fp16 ? "--fp16" : "", conf_filters);
	memset(l, 0, sizeof(*l));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char name[96];
		int pass = sscanf(line, "PASS %95s", name) == 1, skip = !pass && sscanf(line, "SKIP %95[^:]", name) == 1;
		if (!strncmp(line, "FAIL ", 5)) {
			printf("# %s %s", backend, line);
			l->failed++;
		}
		if ((!pass && !skip) || l->n == MAX_CASES)
			continue;
		snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
		snprintf(l->why[l->n], sizeof(l->why[0]), "%s", pass ? "" : line + strlen("SKIP ") + strlen(name) + 2);
		l->n++;
	}
	pclose(p);
}

static const char *verdict(const case_list *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->name[i], name))
			return l->why[i];
	return NULL;
}

static void check_parity(int fp16)
{
	static case_list cpu, gpu;
	int ran = 0;
	conformance_cases("cpu", 0, &cpu);
	conformance_cases("cuda", fp16, &gpu);
	assert_int_equal(cpu.failed, 0);
	assert_int_equal(gpu.failed, 0);
	for (int i = 0; i < cpu.n; i++) {
		if (cpu.why[i][0])
			continue;
		const char *v = verdict(&gpu, cpu.name[i]);
		assert_non_null(v);
		if (!v[0]) {
			ran++;
			continue;
		}
		int allowed = strstr(cpu.name[i], "training_mode") || (fp16 && strstr(v, "outside the FP16 range"));
		/* v is the rest of the tool's line: the reason and its newline */
		printf("# %s on cuda %s: skipped%s: %s", cpu.name[i], fp16 ? "fp16" : "fp32",
		       allowed ? "" : " although the CPU passes it", v);
		assert_true(allowed);
	}
	printf("# %s: %d conformance cases of the new operators passed on cuda\n", fp16 ? "fp16" : "fp32", ran);
	assert_true(ran > 50);
}

static void test_conformance_cases_all_run_on_the_gpu_fp32(void **state)
{
	(void)state;
	check_parity(0);
}

static void test_conformance_cases_all_run_on_the_gpu_fp16(void **state)
{
	(void)state;
	check_parity(1);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/vapd_gpu_ops_XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	/* gpu_ops_more --make-models DIR: the test's models into DIR (no GPU needed) */
	if (argc == 3 && !strcmp(argv[1], "--make-models")) {
		if (write_model(argv[2], "more_ops", model_py) < 0 || write_model(argv[2], "train_bn", train_bn_py) < 0) {
			fprintf(stderr, "gpu_ops_more: cannot write the models into %s\n", argv[2]);
			return 1;
		}
		return 0;
	}
	if (!gpu_visible("gpu_ops_more"))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_more_ops_fp32_match_cpu_at_every_batch),
		cmocka_unit_test(test_more_ops_fp16_match_cpu_at_every_batch),
		cmocka_unit_test(test_training_batchnorm_is_refused),
		cmocka_unit_test(test_conformance_cases_all_run_on_the_gpu_fp32),
		cmocka_unit_test(test_conformance_cases_all_run_on_the_gpu_fp16),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
