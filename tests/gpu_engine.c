/* The cuda backend against the CPU backend: the ONNX node conformance cases (FP32 with
 * the CPU tolerance, FP16 with rtol 1e-2; FP16 runs with NHWC activations, the default)
 * through tools/onnx_conformance --backend cuda, the shared models at FP32, FP16 NHWC and
 * FP16 forced NCHW on their reference input (relative L2 against the CPU backend), every
 * batch size 1..32 on one engine planned for 32 without reload (eager run, graph capture
 * and replay of each: a convolution whose planned algorithm cuDNN refuses at a smaller
 * batch must fall back, not fail), the device-side input/output path, CUDA graph captures
 * while another thread allocates device memory (none may fail), and the strided pooling /
 * Resize / Pad / conversion
 * kernels against their CPU references on random inputs in both layouts. Skips cleanly
 * without a GPU. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gpu_skip.h"
#include "infer/cuda/cuda_kernels.h"
#include "infer/cuda/cuda_kernels_math.h"
#include "infer/cuda/cuda_layout_pass.h"
#include "infer/engine.h"
#include "kernels/preprocess_math.h"
#include "pipeline/vp_err.h"

#define MAX_BATCH 32   /* the largest batch the benchmarks run */
#define DISTINCT 8     /* items differ modulo 8: the CPU reference runs 8 */

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

/* Item b of the batch: the reference frame dimmed by 10% per item modulo DISTINCT, so
 * neighbouring items differ. */
static void fill_items(float *dst, const inf_blob *in, int batch)
{
	size_t n = in->bytes / sizeof(float);
	const float *src = in->data;
	for (int b = 0; b < batch; b++)
		for (size_t i = 0; i < n; i++)
			dst[(size_t)b * n + i] = src[i] * (1.0f - 0.1f * (float)(b % DISTINCT));
}

static float *cpu_outputs(const char *model, const inf_blob *in, size_t *ret_item)
{
	char path[1024];
	inf_engine *e = NULL;
	inf_tensor_info oi;
	model_path(model, path, sizeof(path));
	inf_engine_opts o = { .backend = "cpu", .max_batch = DISTINCT };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	fill_items(inf_engine_input(e, 0), in, DISTINCT);
	assert_int_equal(inf_engine_run(e, DISTINCT), 0);
	assert_int_equal(inf_engine_output_info(e, 0, &oi), 0);
	size_t n = numel(&oi);
	float *out = malloc(n * sizeof(float));
	assert_non_null(out);
	memcpy(out, inf_engine_output(e, 0), n * sizeof(float));
	*ret_item = n / DISTINCT;
	inf_engine_free(&e);
	return out;
}

static void read_input(const char *model, inf_blob *in)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/data/reference/%s.io/input_0.pb", gpu_shared_dir(), model);
	assert_int_equal(inf_blob_read(path, in), 0);
}

/* Every batch size 1..MAX_BATCH three times (eager, graph capture, replay), growing,
 * shrinking and growing again. FP16 stores activations NHWC unless nchw forces NCHW;
 * FP32 is always NCHW. */
static void check_model(const char *model, int fp16, int nchw)
{
	int order[3 * MAX_BATCH];
	for (int i = 0; i < MAX_BATCH; i++) {
		order[i] = i + 1;
		order[MAX_BATCH + i] = MAX_BATCH - i;
		order[2 * MAX_BATCH + i] = i + 1;
	}
	double tol = fp16 ? 1e-2 : 1e-4;
	char path[1024];
	inf_blob in;
	inf_engine *e = NULL;
	size_t item;
	read_input(model, &in);
	float *ref = cpu_outputs(model, &in, &item);
	model_path(model, path, sizeof(path));
	const char *what = !fp16 ? "fp32" : nchw ? "fp16 nchw" : "fp16 nhwc";
	inf_engine_stats st;
	inf_engine_opts o = { .backend = "cuda", .max_batch = MAX_BATCH, .fp16 = fp16, .gpu_nchw = nchw };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	assert_string_equal(inf_engine_backend_name(e), "cuda");
	inf_engine_stats_get(e, &st);
	printf("# %s %s: %d activations NHWC\n", model, what, st.nhwc_tensors);
	if (fp16 && !nchw)
		assert_true(st.nhwc_tensors > 0);   /* no silent fallback to NCHW on the shared models */
	else
		assert_int_equal(st.nhwc_tensors, 0);
	for (size_t r = 0; r < sizeof(order) / sizeof(order[0]); r++) {
		int batch = order[r];
		fill_items(inf_engine_input(e, 0), &in, batch);
		assert_int_equal(inf_engine_run(e, batch), 0);
		const float *out = inf_engine_output(e, 0);
		double worst = 0;
		for (int b = 0; b < batch; b++) {
			double err = rel_l2(out + (size_t)b * item, ref + (size_t)(b % DISTINCT) * item, item);
			if (err > tol)
				printf("# %s %s batch %d item %d: relative L2 vs cpu %.3g\n", model, what, batch, b, err);
			assert_true(err <= tol);
			worst = err > worst ? err : worst;
		}
		if (r < MAX_BATCH)
			printf("# %s %s batch %d: worst relative L2 vs cpu %.3g\n", model, what, batch, worst);
	}
	printf("# %s %s: peak %.1f MB\n", model, what, inf_engine_peak_bytes(e) / 1048576.0);
	inf_engine_stats_get(e, &st);
	assert_int_equal(st.graph_capture_failures, 0);   /* every size captured at its first try */
	inf_engine_free(&e);
	free(ref);
	inf_blob_clear(&in);
}

static void test_models_fp32_match_cpu_at_every_batch(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		check_model(models[m], 0, 0);
}

static void test_models_fp16_nhwc_match_cpu_at_every_batch(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		check_model(models[m], 1, 0);
}

static void test_models_fp16_nchw_match_cpu_at_every_batch(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		check_model(models[m], 1, 1);
}

#ifdef VP_HAVE_CUDA
/* The zero-copy path: input written on the device, output read from the device; the
 * context blocks in its waits. */
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
	/* the engine's load made the primary context block-synchronising: the waits for the
	 * GPU sleep instead of spinning a core (issue 16) */
	unsigned int flags = 0;
	assert_int_equal(cudaGetDeviceFlags(&flags), cudaSuccess);
	printf("# device flags after engine load: 0x%x\n", flags);
	assert_int_equal(flags & cudaDeviceScheduleMask, cudaDeviceScheduleBlockingSync);
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

	/* The input written in the engine's stored form (half, NHWC where the layout pass chose
	 * it), as the CUDA preprocessing does for the detector: the same output without the
	 * engine's conversion pass (the halves are the ones that pass would round to). */
	inf_input_form form;
	void *stored = inf_engine_device_input_stored(e, 0, &form);
	assert_non_null(stored);
	printf("# stored input form: %s %s\n", form.fp16 ? "fp16" : "fp32", form.nhwc ? "NHWC" : "NCHW");
	assert_true(form.fp16);
	const int64_t ch = in.info.dims[1], hh = in.info.dims[2], ww = in.info.dims[3];
	const float *src = inf_engine_input(e, 0);
	uint16_t *half = malloc(in.bytes);   /* two items of halves: the bytes of one float item */
	assert_non_null(half);
	for (int64_t b = 0; b < 2; b++)
		for (int64_t c = 0; c < ch; c++)
			for (int64_t y = 0; y < hh; y++)
				for (int64_t x = 0; x < ww; x++) {
					int64_t at = form.nhwc ? ((b * hh + y) * ww + x) * ch + c : ((b * ch + c) * hh + y) * ww + x;
					half[at] = krn_f32_to_f16(src[((b * ch + c) * hh + y) * ww + x]);
				}
	for (int r = 0; r < 3; r++) {   /* eager, capture, replay */
		assert_int_equal(cudaMemcpyAsync(stored, half, in.bytes, cudaMemcpyHostToDevice, st), cudaSuccess);
		assert_int_equal(inf_engine_run_flags(e, 2, INF_RUN_DEVICE_INPUT_STORED | INF_RUN_DEVICE_OUTPUT), 0);
		assert_int_equal(cudaMemcpyAsync(dev_out, inf_engine_device_output(e, 0), n * sizeof(float),
		                                 cudaMemcpyDeviceToHost, st), cudaSuccess);
		assert_int_equal(cudaStreamSynchronize(st), cudaSuccess);
		err = rel_l2(dev_out, host, n);
		printf("# stored-form input vs host path, run %d: relative L2 %.3g\n", r, err);
		assert_true(err <= 1e-6);
	}
	free(half);
	free(host);
	free(dev_out);
	inf_engine_free(&e);
	inf_blob_clear(&in);
}

/* ---- strided kernels against their CPU references ---- */

static uint32_t rng = 99;

static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Random values in the storage type (half when `half`). */
static void *host_random(int64_t n, int half)
{
	void *h = malloc((size_t)n * 4 + 4);
	assert_non_null(h);
	for (int64_t i = 0; i < n; i++)
		cuk_stf(h, half, i, frand());
	return h;
}

static void *to_device(const void *h, size_t bytes)
{
	void *d = NULL;
	assert_int_equal(cudaMalloc(&d, bytes + 4), cudaSuccess);
	assert_int_equal(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice), cudaSuccess);
	return d;
}

/* The device result (ny elements in dev) against the reference in ref. FMA contraction
 * on the device moves float results by ulps, which may flip a half rounding. */
static void compare(const char *what, const void *dev, const void *ref, int64_t ny, int half)
{
	void *got = malloc((size_t)ny * 4 + 4);
	assert_non_null(got);
	assert_int_equal(cudaMemcpy(got, dev, (size_t)ny * (half ? 2 : 4), cudaMemcpyDeviceToHost), cudaSuccess);
	double worst = 0;
	for (int64_t i = 0; i < ny; i++) {
		double d = fabs((double)cuk_ldf(got, half, i) - cuk_ldf(ref, half, i));
		worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
	}
	printf("# %s %s: max diff vs cpu reference %.3g\n", what, half ? "fp16" : "fp32", worst);
	assert_true(worst <= (half ? 4e-3 : 1e-5));
	free(got);
}

/* [n, c, h, w] strides for x and y, one NHWC and the other NCHW when `flip`. */
static void layouts(const int64_t *xd, const int64_t *yd, int x_nhwc, int64_t *xs, int64_t *ys)
{
	inf_tensor x = { .ndim = 4 }, y = { .ndim = 4 };
	memcpy(x.dims, xd, 4 * sizeof(int64_t));
	memcpy(y.dims, yd, 4 * sizeof(int64_t));
	cu_layout_strides(&x, x_nhwc, xs);
	cu_layout_strides(&y, !x_nhwc, ys);
}

static void test_kernels_match_references_in_both_layouts(void **state)
{
	(void)state;
	const int64_t xd[4] = { 3, 37, 19, 23 };
	const int64_t nx = xd[0] * xd[1] * xd[2] * xd[3];
	for (int half = 0; half < 2; half++)
		for (int x_nhwc = 0; x_nhwc < 2; x_nhwc++) {
			size_t es = half ? 2 : 4;
			void *hx = host_random(nx, half), *dx = to_device(hx, (size_t)nx * es), *dy = NULL;
			void *ref = malloc((size_t)nx * 64 * 4);
			assert_non_null(ref);
			assert_int_equal(cudaMalloc(&dy, (size_t)nx * 64 * 4), cudaSuccess);

			cuk_pool pool = { .n = 3, .c = 37, .ih = 19, .iw = 23, .oh = 10, .ow = 12, .kh = 3, .kw = 3,
			                  .sh = 2, .sw = 2, .dh = 1, .dw = 1, .ph = 1, .pw = 1, .peh = 1, .pew = 1 };
			const int64_t pd[4] = { 3, 37, 10, 12 };
			for (int is_max = 0; is_max < 2; is_max++) {
				pool.is_max = is_max;
				layouts(xd, pd, x_nhwc, pool.xs, pool.ys);
				cuk_pool2d_ref(half, hx, ref, &pool);
				assert_int_equal(cuk_pool2d(half, dx, dy, &pool, NULL), 0);
				compare(is_max ? "maxpool" : "avgpool", dy, ref, 3 * 37 * 10 * 12, half);
			}

			const int64_t rd[4] = { 3, 37, 41, 17 };
			cuk_resize rs = { .n = 3, .c = 37, .cubic_a = -0.75f, .extrapolation = 0.5f,
			                  .h = { .in = 19, .out = 41, .scale = 41.0f / 19.0f, .olen = 41, .roi_end = 1 },
			                  .w = { .in = 23, .out = 17, .scale = 17.0f / 23.0f, .olen = 17, .roi_end = 1 } };
			layouts(xd, rd, x_nhwc, rs.xs, rs.ys);
			for (int mode = 0; mode < 3; mode++)
				for (int ct = 0; ct < 6; ct++) {
					char what[64];
					rs.mode = mode;
					rs.ct = ct;
					rs.exclude_outside = ct == 1;
					cuk_resize2d_ref(half, hx, ref, &rs);
					assert_int_equal(cuk_resize2d(half, dx, dy, &rs, NULL), 0);
					snprintf(what, sizeof(what), "resize mode %d ct %d", mode, ct);
					compare(what, dy, ref, 3 * 37 * 41 * 17, half);
				}

			/* pad walked as the output is stored; x's strides follow its axes */
			const int64_t pads[4] = { 0, 2, 3, 1 }, ends[4] = { 0, 1, 2, 4 };
			for (int mode = 0; mode < 3; mode++) {
				cuk_geom g = { .nd = 4 };
				int64_t yd[4];
				for (int a = 0; a < 4; a++)
					yd[a] = xd[a] + pads[a] + ends[a];
				memcpy(g.dims, yd, sizeof(yd));
				layouts(xd, yd, x_nhwc, g.sa, g.sy);
				for (int a = 0; a < 4; a++)
					g.sb[a] = a;
				cu_geom_output_order(&g);
				cuk_pad pad = { .nd = 4, .mode = mode, .value = 0.25f };
				for (int i = 0; i < 4; i++) {
					pad.dims[i] = g.dims[i];
					pad.len[i] = xd[g.sb[i]];
					pad.pb[i] = pads[g.sb[i]];
					pad.sx[i] = g.sa[i];
					pad.sy[i] = g.sy[i];
				}
				cuk_pad_nd_ref(half, hx, ref, &pad);
				assert_int_equal(cuk_pad_nd(half, dx, dy, &pad, NULL), 0);
				compare(mode == 0 ? "pad constant" : mode == 1 ? "pad reflect" : "pad edge", dy, ref,
				        yd[0] * yd[1] * yd[2] * yd[3], half);
			}
			assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
			cudaFree(dx);
			cudaFree(dy);
			free(hx);
			free(ref);
		}
}

/* The boundary conversion of an NHWC input: float NCHW in, half NHWC out. */
static void test_input_conversion_transposes_to_nhwc(void **state)
{
	(void)state;
	const int64_t d[4] = { 2, 3, 17, 29 }, n = d[0] * d[1] * d[2] * d[3];
	inf_tensor t = { .ndim = 4, .dims = { 2, 3, 17, 29 } };
	cuk_geom g = { .nd = 4, .dims = { 2, 3, 17, 29 } };
	cu_layout_strides(&t, 0, g.sa);
	cu_layout_strides(&t, 1, g.sy);
	cu_geom_output_order(&g);
	float *hx = host_random(n, 0);
	void *dx = to_device(hx, (size_t)n * 4), *dy = NULL;
	uint16_t *got = malloc((size_t)n * 2);
	assert_non_null(got);
	assert_int_equal(cudaMalloc(&dy, (size_t)n * 2), cudaSuccess);
	assert_int_equal(cuk_cast_nd(0, 1, dx, dy, &g, NULL), 0);
	assert_int_equal(cudaMemcpy(got, dy, (size_t)n * 2, cudaMemcpyDeviceToHost), cudaSuccess);
	int64_t s[4];
	cu_layout_strides(&t, 1, s);
	for (int64_t i = 0; i < n; i++) {
		int64_t w = i % d[3], h = i / d[3] % d[2], c = i / (d[3] * d[2]) % d[1], b = i / (d[3] * d[2] * d[1]);
		assert_int_equal(got[cuk_off4(s, b, c, h, w)], cuk_float_to_half(hx[i]));
	}
	cudaFree(dx);
	cudaFree(dy);
	free(hx);
	free(got);
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

#ifdef VP_HAVE_CUDA
/* What NVDEC streams do while the engine captures: allocate and free device memory and
 * create streams, from another thread, as fast as it can. */
typedef struct churn {
	atomic_int stop;
	long rounds;
} churn;

static void *churn_thread(void *arg)
{
	churn *c = arg;
	cudaSetDevice(0);
	while (!atomic_load(&c->stop)) {
		void *p = NULL;
		cudaStream_t st = NULL;
		if (cudaMalloc(&p, (size_t)4 << 20) == cudaSuccess)
			cudaFree(p);
		if (cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) == cudaSuccess)
			cudaStreamDestroy(st);
		c->rounds++;
	}
	return NULL;
}

/* The capture mode must leave other threads' allocations alone (a Global-mode capture
 * is invalidated by them): every batch size runs eager, captures, then replays, while
 * another thread churns, with no failed capture and the outputs of the CPU backend. */
static void test_captures_survive_allocations_in_other_threads(void **state)
{
	(void)state;
	char path[1024];
	inf_blob in;
	inf_engine *e = NULL;
	size_t item;
	read_input("yolox_nano", &in);
	float *ref = cpu_outputs("yolox_nano", &in, &item);
	model_path("yolox_nano", path, sizeof(path));
	inf_engine_opts o = { .backend = "cuda", .max_batch = MAX_BATCH, .fp16 = 1 };
	assert_int_equal(inf_engine_open(path, &o, &e), 0);
	churn c = { .rounds = 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, churn_thread, &c), 0);
	for (int round = 0; round < 3; round++)
		for (int batch = 1; batch <= MAX_BATCH; batch++) {
			fill_items(inf_engine_input(e, 0), &in, batch);
			assert_int_equal(inf_engine_run(e, batch), 0);
			const float *out = inf_engine_output(e, 0);
			for (int b = 0; b < batch; b++)
				assert_true(rel_l2(out + (size_t)b * item, ref + (size_t)b * item, item) <= 1e-2);
		}
	atomic_store(&c.stop, 1);
	pthread_join(t, NULL);
	inf_engine_stats st;
	inf_engine_stats_get(e, &st);
	printf("# captures beside %ld allocation rounds of another thread: %llu failed\n", c.rounds,
	       (unsigned long long)st.graph_capture_failures);
	assert_int_equal(st.graph_capture_failures, 0);
	inf_engine_free(&e);
	free(ref);
	inf_blob_clear(&in);
}
#endif

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
		cmocka_unit_test(test_models_fp16_nhwc_match_cpu_at_every_batch),
		cmocka_unit_test(test_models_fp16_nchw_match_cpu_at_every_batch),
#ifdef VP_HAVE_CUDA
		cmocka_unit_test(test_device_input_and_output),
		cmocka_unit_test(test_kernels_match_references_in_both_layouts),
		cmocka_unit_test(test_input_conversion_transposes_to_nhwc),
		cmocka_unit_test(test_captures_survive_allocations_in_other_threads),
#endif
		cmocka_unit_test(test_conformance_fp32),
		cmocka_unit_test(test_conformance_fp16),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
