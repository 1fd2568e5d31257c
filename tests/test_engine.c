/* Engine: the shared models against onnxruntime's reference outputs at batch 1 and
 * batch N (every item equal to the batch-1 result), input-size override, peak bytes,
 * clear load-time errors for bad models built by the test, and denormals flushed to zero
 * on the threads that run the CPU kernels. */
#include <dlfcn.h>
#include <omp.h>
#include <pthread.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "test_skip.h"

#include "infer/engine.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_fpu.h"

#include "test_alloc_count.h"

static char shared_dir[512];
static char tmp_dir[] = "/tmp/vapd-test-engine-XXXXXX";

static const char *shared(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", shared_dir, rel);
	return buf;
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

static size_t numel(const inf_tensor_info *t)
{
	size_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->dims[i];
	return n;
}

/* Runs model on its reference input at `batch` equal items; checks each item. */
static void check_model(const char *model, int batch)
{
	char path[1024], in_path[1024], out_path[1024], rel[256];
	inf_blob in, ref;
	inf_engine *e = NULL;
	snprintf(rel, sizeof(rel), "models/%s.onnx", model);
	shared(rel, path, sizeof(path));
	snprintf(rel, sizeof(rel), "data/reference/%s.io/input_0.pb", model);
	shared(rel, in_path, sizeof(in_path));
	snprintf(rel, sizeof(rel), "data/reference/%s.io/output_0.pb", model);
	shared(rel, out_path, sizeof(out_path));
	assert_int_equal(inf_blob_read(in_path, &in), 0);
	assert_int_equal(inf_blob_read(out_path, &ref), 0);

	inf_engine_opts o = { .backend = "cpu", .max_batch = batch, .threads = 0 };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	inf_tensor_info ii, oi;
	assert_int_equal(inf_engine_input_info(e, 0, &ii), 0);
	assert_int_equal(inf_engine_output_info(e, 0, &oi), 0);
	assert_int_equal(ii.dims[0], batch);
	assert_int_equal(oi.dims[0], batch);
	assert_int_equal(numel(&ii), in.bytes / sizeof(float) * (size_t)batch);
	assert_int_equal(numel(&oi), ref.bytes / sizeof(float) * (size_t)batch);
	uint8_t *dst = inf_engine_input(e, 0);
	for (int b = 0; b < batch; b++)
		memcpy(dst + (size_t)b * in.bytes, in.data, in.bytes);
	assert_int_equal(inf_engine_run(e, batch), 0);
	const float *out = inf_engine_output(e, 0);
	size_t item = ref.bytes / sizeof(float);
	for (int b = 0; b < batch; b++) {
		double err = rel_l2(out + (size_t)b * item, ref.data, item);
		printf("# %s batch %d item %d: relative L2 error %.3g\n", model, batch, b, err);
		assert_true(err <= 1e-4);
		if (b > 0)  /* same input, same weights: items agree far below the reference tolerance */
			assert_true(rel_l2(out + (size_t)b * item, out, item) <= 1e-6);
	}
	size_t peak = inf_engine_peak_bytes(e);
	inf_engine_stats st;
	inf_engine_stats_get(e, &st);
	printf("# %s batch %d: peak engine memory %.1f MB (arena %.1f MB for %.1f MB of activations, "
	       "%d nodes, %d activations fused)\n", model, batch, peak / 1048576.0, st.arena_bytes / 1048576.0,
	       st.activation_bytes / 1048576.0, st.nodes, st.fused_acts);
	assert_true(peak >= st.arena_bytes + st.weight_bytes + st.workspace_bytes);
	assert_true(st.arena_bytes >= ref.bytes * (size_t)batch);
	/* Reuse after the last read: the arena is a small part of all activations. */
	assert_true(st.arena_bytes * 3 < st.activation_bytes);
	/* Every SiLU (x*Sigmoid(x)) of these exports runs inside its Conv. */
	assert_true(st.fused_acts >= 50);
	inf_engine_free(&e);
	assert_null(e);
	inf_blob_clear(&in);
	inf_blob_clear(&ref);
}

static void test_engine_yolox_nano_matches_reference_at_batch_1(void **state)
{
	(void)state;
	check_model("yolox_nano", 1);
}

static void test_engine_yolox_nano_batch_3_items_equal_batch_1(void **state)
{
	(void)state;
	check_model("yolox_nano", 3);
}

static void test_engine_yolov8n_matches_reference_at_batch_1(void **state)
{
	(void)state;
	check_model("yolov8n", 1);
}

static void test_engine_yolov8n_batch_2_items_equal_batch_1(void **state)
{
	(void)state;
	check_model("yolov8n", 2);
}

/* A partial batch runs only its items; they equal the full-batch results. */
static void test_engine_partial_batch_matches_full_batch(void **state)
{
	(void)state;
	char path[1024];
	inf_engine *e = NULL;
	inf_engine_opts o = { .max_batch = 4, .input_w = 128, .input_h = 96, .threads = 1 };
	assert_int_equal(inf_engine_open(shared("models/yolox_nano.onnx", path, sizeof(path)), &o, &e), 0);
	inf_tensor_info ii, oi;
	inf_engine_input_info(e, 0, &ii);
	inf_engine_output_info(e, 0, &oi);
	size_t in_n = numel(&ii), out_n = numel(&oi), item = out_n / 4;
	float *x = inf_engine_input(e, 0);
	for (size_t i = 0; i < in_n; i++)
		x[i] = (float)((i * 7919) % 256);
	assert_int_equal(inf_engine_run(e, 4), 0);
	float *full = malloc(out_n * sizeof(float));
	assert_non_null(full);
	memcpy(full, inf_engine_output(e, 0), out_n * sizeof(float));
	float *out = (float *)inf_engine_output(e, 0);
	memset(out, 0, out_n * sizeof(float));
	assert_int_equal(inf_engine_run(e, 3), 0);
	for (int b = 0; b < 3; b++)
		assert_true(rel_l2(out + b * item, full + b * item, item) <= 1e-6);
	/* The fourth item was not computed by the 3-item run. */
	for (size_t i = 3 * item; i < out_n; i++)
		assert_true(out[i] == 0.0f);
	free(full);
	inf_engine_free(&e);
}

/* Runs after the first do not allocate (kernels, partial batches, 1 and 2 threads). */
static void test_engine_runs_without_allocating(void **state)
{
	(void)state;
#ifndef COUNT_ALLOCATIONS
	skip_because("sanitizer", "ASan owns the malloc family: allocations are not counted");
#endif
	char path[1024];
	for (int threads = 1; threads <= 2; threads++) {
		inf_engine *e = NULL;
		inf_engine_opts o = { .max_batch = 2, .threads = threads, .input_w = 160, .input_h = 128 };
		assert_int_equal(inf_engine_open(shared("models/yolox_nano.onnx", path, sizeof(path)), &o, &e), 0);
		inf_tensor_info ii;
		inf_engine_input_info(e, 0, &ii);
		memset(inf_engine_input(e, 0), 0, numel(&ii) * sizeof(float));
		assert_int_equal(inf_engine_run(e, 2), 0);
		assert_int_equal(inf_engine_run(e, 1), 0);
		allocations = blas_allocations = 0;
		counting = 1;
		int r2 = inf_engine_run(e, 2), r1 = inf_engine_run(e, 1);
		counting = 0;
		assert_int_equal(r2, 0);
		assert_int_equal(r1, 0);
		printf("# yolox_nano, %d thread(s): %d allocations in two runs (and %d inside OpenBLAS)\n",
		       threads, allocations, blas_allocations);
		assert_int_equal(allocations, 0);
		inf_engine_free(&e);
	}
}

static void test_engine_input_size_override_reinfers_shapes(void **state)
{
	(void)state;
	char path[1100];
	inf_engine *e = NULL;
	inf_engine_opts o = { .max_batch = 2, .input_w = 320, .input_h = 256, .threads = 1 };
	assert_int_equal(inf_engine_open(shared("models/yolox_nano.onnx", path, sizeof(path)), &o, &e), 0);
	inf_tensor_info ii, oi;
	inf_engine_input_info(e, 0, &ii);
	inf_engine_output_info(e, 0, &oi);
	assert_int_equal(ii.ndim, 4);
	assert_int_equal(ii.dims[2], 256);
	assert_int_equal(ii.dims[3], 320);
	/* Three YOLOX strides (8, 16, 32) over 256x320: 32*40 + 16*20 + 8*10 anchors. */
	assert_int_equal(oi.ndim, 3);
	assert_int_equal(oi.dims[0], 2);
	assert_int_equal(oi.dims[1], 32 * 40 + 16 * 20 + 8 * 10);
	assert_int_equal(oi.dims[2], 85);
	memset(inf_engine_input(e, 0), 0, numel(&ii) * sizeof(float));
	assert_int_equal(inf_engine_run(e, 2), 0);
	assert_int_equal(inf_engine_run(e, 3), -EINVAL);
	assert_string_equal(inf_engine_backend_name(e), "cpu");
	inf_engine_free(&e);
}

/* Writes a model with /usr/bin/python3 + onnx; the script gets the path as argv[1]. */
static void make_model(const char *name, const char *script, char *path, size_t len)
{
	char py[1200], cmd[4096];
	snprintf(path, len, "%s/%s", tmp_dir, name);
	snprintf(py, sizeof(py), "%s/%s.py", tmp_dir, name);
	FILE *f = fopen(py, "w");
	assert_non_null(f);
	fprintf(f, "import sys, numpy as np, onnx\nfrom onnx import helper as h, TensorProto as T, numpy_helper as nh\n%s", script);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", py, path);
	assert_int_equal(system(cmd), 0);
}

static int open_rc(const char *path, int batch)
{
	inf_engine *e = NULL;
	inf_engine_opts o = { .max_batch = batch, .threads = 1 };
	int rc = inf_engine_open(path, &o, &e);
	assert_null(e == NULL || rc == 0 ? NULL : e);
	inf_engine_free(&e);
	return rc;
}

/* open_rc with the engine's log (stderr) captured into msg. */
static int open_msg(const char *path, int batch, char *msg, size_t len)
{
	char log[1100];
	snprintf(log, sizeof(log), "%s/stderr.log", tmp_dir);
	fflush(stderr);
	int saved = dup(2);
	FILE *f = fopen(log, "w+");
	assert_non_null(f);
	dup2(fileno(f), 2);
	int rc = open_rc(path, batch);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	size_t n = fread(msg, 1, len - 1, f);
	msg[n] = 0;
	fclose(f);
	fprintf(stderr, "%s", msg);
	return rc;
}

static void test_engine_lists_every_unsupported_node_in_one_message(void **state)
{
	(void)state;
	char path[1100], msg[4096];
	/* Integer Exp and Tanh: no ONNX kernel has them (the model is not even valid ONNX). */
	make_model("int_math.onnx",
		"a = h.make_tensor_value_info('a', T.INT32, [1, 4])\n"
		"b = h.make_tensor_value_info('b', T.INT8, [1, 4])\n"
		"ya = h.make_tensor_value_info('ya', T.INT32, [1, 4])\n"
		"yb = h.make_tensor_value_info('yb', T.INT8, [1, 4])\n"
		"n = [h.make_node('Exp', ['a'], ['ra'], name='exp_a'),\n"
		"     h.make_node('Neg', ['ra'], ['ya'], name='neg_a'),\n"
		"     h.make_node('Tanh', ['b'], ['yb'], name='tanh_b')]\n"
		"m = h.make_model(h.make_graph(n, 'g', [a, b], [ya, yb]), opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n", path, sizeof(path));
	assert_int_equal(open_msg(path, 1, msg, sizeof(msg)), VP_EUNSUP);
	/* One line naming both refused nodes; the node downstream of one is not blamed. */
	assert_non_null(strstr(msg, "'exp_a' (Exp)"));
	assert_non_null(strstr(msg, "'tanh_b' (Tanh)"));
	assert_null(strstr(msg, "neg_a"));
	assert_non_null(strchr(msg, '\n'));
	assert_null(strchr(strchr(msg, '\n') + 1, '\n'));
}

static void test_engine_rejects_unknown_operators(void **state)
{
	(void)state;
	char path[1100];
	make_model("unknown_op.onnx",
		"x = h.make_tensor_value_info('x', T.FLOAT, [1, 4])\n"
		"y = h.make_tensor_value_info('y', T.FLOAT, [1, 4])\n"
		"n1 = h.make_node('FancyOp', ['x'], ['t'], name='fancy')\n"
		"n2 = h.make_node('Relu', ['t'], ['u'], name='relu')\n"
		"n3 = h.make_node('Other', ['u'], ['y'], name='other', domain='com.example')\n"
		"m = h.make_model(h.make_graph([n1, n2, n3], 'g', [x], [y]), opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n", path, sizeof(path));
	assert_int_equal(open_rc(path, 1), VP_EUNSUP);
}

/* Graphs that parse but cannot be executed: a cycle, a tensor with two producers, a
 * node reading a tensor nobody produces. */
static void test_engine_rejects_malformed_graphs(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"n = [h.make_node('Relu', ['x', ], ['a']), h.make_node('Add', ['a', 'c'], ['b']),\n"
		"     h.make_node('Relu', ['b'], ['c']), h.make_node('Relu', ['b'], ['y'])]\n",
		"n = [h.make_node('Relu', ['x'], ['a']), h.make_node('Sigmoid', ['x'], ['a']),\n"
		"     h.make_node('Relu', ['a'], ['y'])]\n",
		"n = [h.make_node('Add', ['x', 'ghost'], ['y'])]\n",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char path[1100], script[1024], name[32];
		snprintf(name, sizeof(name), "malformed%zu.onnx", i);
		snprintf(script, sizeof(script), "%s"
			"x = h.make_tensor_value_info('x', T.FLOAT, [1, 4])\n"
			"y = h.make_tensor_value_info('y', T.FLOAT, [1, 4])\n"
			"m = h.make_model(h.make_graph(n, 'g', [x], [y]), opset_imports=[h.make_opsetid('', 13)])\n"
			"onnx.save(m, sys.argv[1])\n", bodies[i]);
		make_model(name, script, path, sizeof(path));
		assert_int_equal(open_rc(path, 1), VP_EMODEL);
	}
}

static void test_engine_rejects_truncated_model(void **state)
{
	(void)state;
	char src[1100], path[1100], cmd[2600];
	snprintf(path, sizeof(path), "%s/truncated.onnx", tmp_dir);
	snprintf(cmd, sizeof(cmd), "head -c 300000 %s > %s", shared("models/yolox_nano.onnx", src, sizeof(src)), path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(open_rc(path, 1), VP_EMODEL);
}

static void test_engine_rejects_random_bytes(void **state)
{
	(void)state;
	char path[1100], cmd[1300];
	snprintf(path, sizeof(path), "%s/random.onnx", tmp_dir);
	snprintf(cmd, sizeof(cmd), "head -c 65536 /dev/urandom > %s", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(open_rc(path, 1), VP_EMODEL);
	assert_int_equal(open_rc("/nonexistent/model.onnx", 1), -ENOENT);
}

static void test_engine_rejects_external_data(void **state)
{
	(void)state;
	char path[1100];
	make_model("external.onnx",
		"x = h.make_tensor_value_info('x', T.FLOAT, [1, 256])\n"
		"y = h.make_tensor_value_info('y', T.FLOAT, [1, 256])\n"
		"w = nh.from_array(np.ones([1, 256], np.float32), 'w')\n"
		"m = h.make_model(h.make_graph([h.make_node('Add', ['x', 'w'], ['y'])], 'g', [x], [y], [w]),\n"
		"                 opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1], save_as_external_data=True, all_tensors_to_one_file=True,\n"
		"          location='external.bin', size_threshold=0)\n", path, sizeof(path));
	assert_int_equal(open_rc(path, 1), VP_EUNSUP);
}

/* Conv -> BatchNormalization -> Relu and Conv -> x*Sigmoid(x) against numpy: each
 * chain becomes one Conv node, with the same numbers. */
static void test_engine_fuses_bn_and_activations_exactly(void **state)
{
	(void)state;
	char path[1100], in_path[1200], ref_path[1200];
	make_model("fuse.onnx",
		"rng = np.random.default_rng(7)\n"
		"x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)\n"
		"w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)\n"
		"w2 = rng.standard_normal((4, 8, 1, 1)).astype(np.float32)\n"
		"b2 = rng.standard_normal(4).astype(np.float32)\n"
		"sc, bi = rng.uniform(0.5, 2, 8).astype(np.float32), rng.standard_normal(8).astype(np.float32)\n"
		"mu, var = rng.standard_normal(8).astype(np.float32), rng.uniform(0.5, 2, 8).astype(np.float32)\n"
		"def conv(x, w, pad):\n"
		"    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
		"    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))\n"
		"    return np.einsum('nchwij,ocij->nohw', win, w)\n"
		"t = conv(x, w1, 1)\n"
		"t = (t - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5) * sc[None, :, None, None] + bi[None, :, None, None]\n"
		"t = np.maximum(t, 0)\n"
		"u = conv(t, w2, 0) + b2[None, :, None, None]\n"
		"y = u / (1 + np.exp(-u))\n"
		"I = lambda a, n: nh.from_array(a, n)\n"
		"nodes = [h.make_node('Conv', ['x', 'w1'], ['c1'], pads=[1, 1, 1, 1]),\n"
		"         h.make_node('BatchNormalization', ['c1', 'sc', 'bi', 'mu', 'var'], ['bn']),\n"
		"         h.make_node('Relu', ['bn'], ['r']),\n"
		"         h.make_node('Conv', ['r', 'w2', 'b2'], ['c2']),\n"
		"         h.make_node('Sigmoid', ['c2'], ['s']),\n"
		"         h.make_node('Mul', ['c2', 's'], ['y'])]\n"
		"g = h.make_graph(nodes, 'g', [h.make_tensor_value_info('x', T.FLOAT, [2, 3, 9, 9])],\n"
		"                 [h.make_tensor_value_info('y', T.FLOAT, [2, 4, 9, 9])],\n"
		"                 [I(w1, 'w1'), I(w2, 'w2'), I(b2, 'b2'), I(sc, 'sc'), I(bi, 'bi'), I(mu, 'mu'), I(var, 'var')])\n"
		"onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), sys.argv[1])\n"
		"open(sys.argv[1] + '.in.pb', 'wb').write(I(x, 'x').SerializeToString())\n"
		"open(sys.argv[1] + '.ref.pb', 'wb').write(I(y.astype(np.float32), 'y').SerializeToString())\n",
		path, sizeof(path));
	snprintf(in_path, sizeof(in_path), "%s.in.pb", path);
	snprintf(ref_path, sizeof(ref_path), "%s.ref.pb", path);
	inf_blob in, ref;
	assert_int_equal(inf_blob_read(in_path, &in), 0);
	assert_int_equal(inf_blob_read(ref_path, &ref), 0);
	inf_engine *e = NULL;
	inf_engine_opts o = { .max_batch = 2, .threads = 1 };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	inf_engine_stats st;
	inf_engine_stats_get(e, &st);
	assert_int_equal(st.nodes, 2);
	assert_int_equal(st.fused_acts, 2);
	memcpy(inf_engine_input(e, 0), in.data, in.bytes);
	assert_int_equal(inf_engine_run(e, 2), 0);
	double err = rel_l2(inf_engine_output(e, 0), ref.data, ref.bytes / sizeof(float));
	printf("# fused Conv+BN+Relu, Conv+SiLU vs numpy: relative L2 error %.3g\n", err);
	assert_true(err <= 1e-5);
	inf_engine_free(&e);
	inf_blob_clear(&in);
	inf_blob_clear(&ref);
}

/* Constant Reshape targets and Resize sizes written with batch 1 follow the batch. */
static void test_engine_rewrites_constant_batch_shapes(void **state)
{
	(void)state;
	char path[1100];
	make_model("const_batch.onnx",
		"x = h.make_tensor_value_info('x', T.FLOAT, [1, 3, 4, 4])\n"
		"y = h.make_tensor_value_info('y', T.FLOAT, [1, 3, 64])\n"
		"sizes = nh.from_array(np.array([1, 3, 8, 8], np.int64), 'sizes')\n"
		"target = nh.from_array(np.array([1, 3, -1], np.int64), 'target')\n"
		"n = [h.make_node('Resize', ['x', '', '', 'sizes'], ['r'], mode='nearest'),\n"
		"     h.make_node('Reshape', ['r', 'target'], ['y'])]\n"
		"m = h.make_model(h.make_graph(n, 'g', [x], [y], [sizes, target]),\n"
		"                 opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n", path, sizeof(path));
	float ref[192];
	for (int batch = 1; batch <= 3; batch += 2) {
		inf_engine *e = NULL;
		inf_engine_opts o = { .max_batch = batch, .threads = 1 };
		assert_int_equal(inf_engine_open(path, &o, &e), 0);
		inf_tensor_info oi;
		inf_engine_output_info(e, 0, &oi);
		assert_int_equal(oi.ndim, 3);
		assert_int_equal(oi.dims[0], batch);
		assert_int_equal(oi.dims[2], 64);
		float *x = inf_engine_input(e, 0);
		for (int i = 0; i < 48 * batch; i++)
			x[i] = (float)(i % 48);
		assert_int_equal(inf_engine_run(e, batch), 0);
		const float *y = inf_engine_output(e, 0);
		if (batch == 1)
			memcpy(ref, y, sizeof(ref));
		for (int b = 0; b < batch; b++)
			assert_memory_equal(y + b * 192, ref, sizeof(ref));
		inf_engine_free(&e);
	}
}

static void test_engine_refuses_batch_it_cannot_identify(void **state)
{
	(void)state;
	char fixed[1100], flat[1100];
	make_model("fixed_batch.onnx",
		"x = h.make_tensor_value_info('x', T.FLOAT, [2, 4])\n"
		"y = h.make_tensor_value_info('y', T.FLOAT, [2, 4])\n"
		"m = h.make_model(h.make_graph([h.make_node('Relu', ['x'], ['y'])], 'g', [x], [y]),\n"
		"                 opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n", fixed, sizeof(fixed));
	assert_int_equal(open_rc(fixed, 2), 0);
	assert_int_equal(open_rc(fixed, 3), VP_EUNSUP);
	/* The output folds the batch away: it cannot carry N items. */
	make_model("flat.onnx",
		"x = h.make_tensor_value_info('x', T.FLOAT, [1, 3, 4])\n"
		"y = h.make_tensor_value_info('y', T.FLOAT, [12])\n"
		"s = nh.from_array(np.array([-1], np.int64), 's')\n"
		"m = h.make_model(h.make_graph([h.make_node('Reshape', ['x', 's'], ['y'])], 'g', [x], [y], [s]),\n"
		"                 opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n", flat, sizeof(flat));
	assert_int_equal(open_rc(flat, 1), 0);
	assert_true(open_rc(flat, 4) < 0);
}

#if defined(__x86_64__) || defined(__i386__)
#include <pmmintrin.h>
#include <xmmintrin.h>

/* On a thread of its own that starts with FTZ/DAZ clear (as a caller's thread would), runs
 * a 2-thread engine; then this thread and its OpenMP team must flush denormals. */
static void *run_on_fresh_thread(void *arg)
{
	int *flushes = arg;
	_mm_setcsr(_mm_getcsr() & ~(unsigned)(_MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON));
	char path[1024];
	inf_engine *e = NULL;
	inf_engine_opts o = { .max_batch = 1, .threads = 2, .input_w = 160, .input_h = 128 };
	if (inf_engine_open(shared("models/yolox_nano.onnx", path, sizeof(path)), &o, &e) < 0)
		return NULL;
	inf_tensor_info ii;
	inf_engine_input_info(e, 0, &ii);
	memset(inf_engine_input(e, 0), 0, numel(&ii) * sizeof(float));
	if (inf_engine_run(e, 1) == 0) {
		flushes[0] = vp_fpu_flushes_denormals();
		flushes[1] = flushes[2] = 1;
#pragma omp parallel num_threads(2)
		if (!vp_fpu_flushes_denormals())
			flushes[1 + omp_get_thread_num()] = 0;
	}
	inf_engine_free(&e);
	return NULL;
}
#endif

static void test_engine_run_flushes_denormals_on_its_threads(void **state)
{
	(void)state;
#if defined(__x86_64__) || defined(__i386__)
	int flushes[3] = { -1, -1, -1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, run_on_fresh_thread, flushes), 0);
	pthread_join(th, NULL);
	assert_int_not_equal(flushes[0], -1);  /* the engine ran */
	assert_int_equal(flushes[0], 1);       /* the calling thread */
	assert_int_equal(flushes[1], 1);       /* its OpenMP team */
	assert_int_equal(flushes[2], 1);
#else
	skip();
#endif
}

/* A stated size of 0 or below is named as such, not taken for a symbolic dimension. */
static void test_engine_names_zero_and_negative_input_dims(void **state)
{
	(void)state;
	static const char *const dims[] = { "0", "-3" };
	for (int i = 0; i < 2; i++) {
		char path[1100], script[700], msg[4096], name[32], want[64];
		snprintf(name, sizeof(name), "dim%s.onnx", dims[i]);
		snprintf(script, sizeof(script),
			"x = h.make_tensor_value_info('x', T.FLOAT, [1, 3, %s, 4])\n"
			"y = h.make_tensor_value_info('y', T.FLOAT, None)\n"
			"m = h.make_model(h.make_graph([h.make_node('Relu', ['x'], ['y'])], 'g', [x], [y]),\n"
			"                 opset_imports=[h.make_opsetid('', 13)])\n"
			"onnx.save(m, sys.argv[1])\n", dims[i]);
		make_model(name, script, path, sizeof(path));
		assert_int_equal(open_msg(path, 1, msg, sizeof(msg)), VP_EMODEL);
		snprintf(want, sizeof(want), "input 'x' dimension 2 is %s", dims[i]);
		assert_non_null(strstr(msg, want));
		assert_null(strstr(msg, "symbolic"));
	}
}

static void test_engine_refuses_model_without_outputs(void **state)
{
	(void)state;
	char path[1100], msg[4096];
	make_model("no_outputs.onnx",
		"x = h.make_tensor_value_info('x', T.FLOAT, [1, 4])\n"
		"m = h.make_model(h.make_graph([h.make_node('Relu', ['x'], ['y'])], 'g', [x], []),\n"
		"                 opset_imports=[h.make_opsetid('', 13)])\n"
		"onnx.save(m, sys.argv[1])\n", path, sizeof(path));
	assert_int_equal(open_msg(path, 1, msg, sizeof(msg)), VP_EMODEL);
	assert_non_null(strstr(msg, "model has no outputs"));
}

static int setup(void **state)
{
	(void)state;
	const char *s = getenv("SHARED");
	snprintf(shared_dir, sizeof(shared_dir), "%s", s ? s : "../shared");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_yolox_nano_matches_reference_at_batch_1),
		cmocka_unit_test(test_engine_yolox_nano_batch_3_items_equal_batch_1),
		cmocka_unit_test(test_engine_yolov8n_matches_reference_at_batch_1),
		cmocka_unit_test(test_engine_yolov8n_batch_2_items_equal_batch_1),
		cmocka_unit_test(test_engine_partial_batch_matches_full_batch),
		cmocka_unit_test(test_engine_runs_without_allocating),
		cmocka_unit_test(test_engine_input_size_override_reinfers_shapes),
		cmocka_unit_test(test_engine_run_flushes_denormals_on_its_threads),
		cmocka_unit_test(test_engine_rejects_unknown_operators),
		cmocka_unit_test(test_engine_lists_every_unsupported_node_in_one_message),
		cmocka_unit_test(test_engine_rejects_malformed_graphs),
		cmocka_unit_test(test_engine_rejects_truncated_model),
		cmocka_unit_test(test_engine_rejects_random_bytes),
		cmocka_unit_test(test_engine_rejects_external_data),
		cmocka_unit_test(test_engine_fuses_bn_and_activations_exactly),
		cmocka_unit_test(test_engine_rewrites_constant_batch_shapes),
		cmocka_unit_test(test_engine_refuses_batch_it_cannot_identify),
		cmocka_unit_test(test_engine_names_zero_and_negative_input_dims),
		cmocka_unit_test(test_engine_refuses_model_without_outputs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
