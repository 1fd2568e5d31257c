/* The cuda backend against the CPU backend: the ONNX node conformance cases (FP32 with
 * the CPU tolerance, FP16 with rtol 1e-2) through tools/onnx_conformance --backend cuda,
 * the shared models at FP32 and FP16 on their reference input (relative L2 against the
 * CPU backend), every batch size 1..N on one engine without reload (CUDA graph replays
 * included), and the device-side input/output path. Skips cleanly without a GPU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gpu_skip.h"
#include "infer/engine.h"
#include "pipeline/vp_err.h"

#define MAX_BATCH 4

static const char *const models[] = { "yolox_nano", "yolov8n" };

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

static void model_path(const char *model, char *buf, size_t len)
{
	snprintf(buf, len, "%s/models/%s.onnx", gpu_shared_dir(), model);
}

/* Item b of the batch: the reference frame dimmed by 10% per item, so items differ. */
static void fill_items(float *dst, const inf_blob *in, int batch)
{
	size_t n = in->bytes / sizeof(float);
	const float *src = in->data;
	for (int b = 0; b < batch; b++)
		for (size_t i = 0; i < n; i++)
			dst[(size_t)b * n + i] = src[i] * (1.0f - 0.1f * (float)b);
}

static float *cpu_outputs(const char *model, const inf_blob *in, size_t *ret_item)
{
	char path[1024];
	inf_engine *e = NULL;
	inf_tensor_info oi;
	model_path(model, path, sizeof(path));
	inf_engine_opts o = { .backend = "cpu", .max_batch = MAX_BATCH };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	fill_items(inf_engine_input(e, 0), in, MAX_BATCH);
	assert_int_equal(inf_engine_run(e, MAX_BATCH), 0);
	assert_int_equal(inf_engine_output_info(e, 0, &oi), 0);
	size_t n = numel(&oi);
	float *out = malloc(n * sizeof(float));
	assert_non_null(out);
	memcpy(out, inf_engine_output(e, 0), n * sizeof(float));
	*ret_item = n / MAX_BATCH;
	inf_engine_free(&e);
	return out;
}

static void read_input(const char *model, inf_blob *in)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/data/reference/%s.io/input_0.pb", gpu_shared_dir(), model);
	assert_int_equal(inf_blob_read(path, in), 0);
}

/* Batch sizes in an order that replays graphs (second run of a size) and shrinks again. */
static void check_model(const char *model, int fp16)
{
	static const int order[] = { 4, 1, 4, 2, 1, 3, 2, 3 };
	double tol = fp16 ? 1e-2 : 1e-4;
	char path[1024];
	inf_blob in;
	inf_engine *e = NULL;
	size_t item;
	read_input(model, &in);
	float *ref = cpu_outputs(model, &in, &item);
	model_path(model, path, sizeof(path));
	inf_engine_opts o = { .backend = "cuda", .max_batch = MAX_BATCH, .fp16 = fp16 };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	assert_string_equal(inf_engine_backend_name(e), "cuda");
	for (size_t r = 0; r < sizeof(order) / sizeof(order[0]); r++) {
		int batch = order[r];
		fill_items(inf_engine_input(e, 0), &in, batch);
		assert_int_equal(inf_engine_run(e, batch), 0);
		const float *out = inf_engine_output(e, 0);
		for (int b = 0; b < batch; b++) {
			double err = rel_l2(out + (size_t)b * item, ref + (size_t)b * item, item);
			printf("# %s %s batch %d item %d: relative L2 vs cpu %.3g\n", model, fp16 ? "fp16" : "fp32",
			       batch, b, err);
			assert_true(err <= tol);
		}
	}
	printf("# %s %s: peak %.1f MB\n", model, fp16 ? "fp16" : "fp32", inf_engine_peak_bytes(e) / 1048576.0);
	inf_engine_free(&e);
	free(ref);
	inf_blob_clear(&in);
}

static void test_models_fp32_match_cpu_at_every_batch(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		check_model(models[m], 0);
}

static void test_models_fp16_match_cpu_at_every_batch(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		check_model(models[m], 1);
}

#ifdef VP_HAVE_CUDA
/* The zero-copy path: input written on the device, output read from the device. */
static void test_device_input_and_output(void **state)
{
	(void)state;
	char path[1024];
	inf_blob in;
	inf_engine *e = NULL;
	inf_tensor_info oi;
	read_input("yolov8n", &in);
	model_path("yolov8n", path, sizeof(path));
	inf_engine_opts o = { .backend = "cuda", .max_batch = 2, .fp16 = 1 };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	assert_int_equal(inf_engine_output_info(e, 0, &oi), 0);
	size_t n = numel(&oi);
	float *host = malloc(n * sizeof(float)), *dev_out = malloc(n * sizeof(float));
	assert_non_null(host);
	assert_non_null(dev_out);
	fill_items(inf_engine_input(e, 0), &in, 2);
	assert_int_equal(inf_engine_run(e, 2), 0);
	memcpy(host, inf_engine_output(e, 0), n * sizeof(float));

	void *din = inf_engine_device_input(e, 0);
	cudaStream_t st = inf_engine_stream(e);
	assert_non_null(din);
	assert_non_null(st);
	assert_int_equal(cudaMemsetAsync(din, 0, in.bytes * 2, st), cudaSuccess);
	assert_int_equal(cudaMemcpyAsync(din, inf_engine_input(e, 0), in.bytes * 2, cudaMemcpyHostToDevice, st),
	                 cudaSuccess);
	assert_int_equal(inf_engine_run_flags(e, 2, INF_RUN_DEVICE_INPUT | INF_RUN_DEVICE_OUTPUT), 0);
	const void *dout = inf_engine_device_output(e, 0);
	assert_non_null(dout);
	assert_int_equal(cudaMemcpyAsync(dev_out, dout, n * sizeof(float), cudaMemcpyDeviceToHost, st), cudaSuccess);
	assert_int_equal(cudaStreamSynchronize(st), cudaSuccess);
	double err = rel_l2(dev_out, host, n);
	printf("# device path vs host path: relative L2 %.3g\n", err);
	assert_true(err <= 1e-6);
	free(host);
	free(dev_out);
	inf_engine_free(&e);
	inf_blob_clear(&in);
}
#endif

/* Runs the conformance tool on the cuda backend; its summary line must show passes and no failure. */
static void run_conformance(const char *extra)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	/* The GPU machines have no libonnx-testdata: scripts/gpu-carry.sh carries its cases. */
	const char *data = getenv("VAPD_ONNX_NODE_DATA");
	char cmd[2048], line[1024], data_arg[1100] = "";
	int passed = -1, failed = -1, skipped = -1;
	if (data && *data)
		snprintf(data_arg, sizeof(data_arg), "--data '%s'", data);
	snprintf(cmd, sizeof(cmd), "%s/tests/tool_onnx_conformance --backend cuda %s %s 2>&1", build,
	         data_arg, extra);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		printf("# %s", line);
		sscanf(line, "conformance: %d passed, %d failed, %d skipped", &passed, &failed, &skipped);
	}
	int rc = pclose(p);
	assert_int_equal(failed, 0);
	assert_true(passed > 50);
	assert_int_equal(rc, 0);
}

static void test_conformance_fp32(void **state)
{
	(void)state;
	run_conformance("");
}

static void test_conformance_fp16(void **state)
{
	(void)state;
	run_conformance("--fp16");
}

int main(void)
{
	if (!gpu_visible("gpu_engine"))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_models_fp32_match_cpu_at_every_batch),
		cmocka_unit_test(test_models_fp16_match_cpu_at_every_batch),
#ifdef VP_HAVE_CUDA
		cmocka_unit_test(test_device_input_and_output),
#endif
		cmocka_unit_test(test_conformance_fp32),
		cmocka_unit_test(test_conformance_fp16),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
