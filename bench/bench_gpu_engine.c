/* GPU engine benchmark: for each shared model, FP16 and FP32, batch 1, 8, 32 and 64 on one
 * engine (max_batch 64, CUDA graphs), ms per batch and images/s with the input and output
 * on the device (the pipeline's zero-copy path) and with pinned host copies. Roofline: the
 * model's FLOPs (2 per multiply-add of Conv/MatMul/Gemm, 1 per output element elsewhere)
 * and bytes moved (every node's inputs read and outputs written, weights included, at the
 * run's precision) over the device's measured FP16 tensor-core rate (a large cublasGemmEx)
 * and device copy bandwidth give a floor per batch; the table prints achieved / floor.
 * Then the whole offline pipeline on the 1080p clip (backend cuda, fp16, batch 32), frames/s.
 * Usage: bench_gpu_engine [SHARED_DIR]; prints a skip line without a GPU. */
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "infer/engine.h"
#include "infer/graph/graph.h"
#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "tests/gpu_skip.h"

#ifdef VP_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "infer/cuda/cuda_dl.h"

#define MAX_BATCH 64
#define MIN_SECONDS 1.0

typedef struct device_rates {
	double fp16_flops;    /* FLOP/s of a large FP16 GEMM with float accumulation */
	double copy_bytes;    /* bytes/s moved (read + write) by a device-to-device copy */
} device_rates;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int measure_gemm(const cuda_dl *dl, double *ret)
{
	const int n = 8192, reps = 20;
	void *a = NULL, *b = NULL, *c = NULL;
	cublasHandle_t h = NULL;
	float one = 1.0f, zero = 0.0f;
	int rc = -1;
	size_t bytes = (size_t)n * n * 2;
	if (cudaMalloc(&a, bytes) || cudaMalloc(&b, bytes) || cudaMalloc(&c, bytes) || dl->cublasCreate_v2(&h))
		goto out;
	/* Random operands: a GEMM of zeros toggles fewer bits and runs about 10% faster than
	 * real data, which would make every floor below too low. Halves in +-[0.5, 1). */
	uint16_t *host = malloc(bytes);
	if (!host)
		goto out;
	unsigned seed = 1;
	for (size_t i = 0; i < (size_t)n * n; i++)
		host[i] = (uint16_t)(0x3800u | (rand_r(&seed) & 0x83ffu));
	int copied = cudaMemcpy(a, host, bytes, cudaMemcpyHostToDevice) == cudaSuccess &&
	             cudaMemcpy(b, host, bytes, cudaMemcpyHostToDevice) == cudaSuccess;
	free(host);
	if (!copied)
		goto out;
	for (int i = 0; i < reps + 2; i++) {
		if (i == 2) {
			cudaDeviceSynchronize();
			*ret = now_s();
		}
		if (dl->cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16F, n, b, CUDA_R_16F, n, &zero, c,
		                     CUDA_R_16F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
			goto out;
	}
	cudaDeviceSynchronize();
	*ret = 2.0 * n * n * (double)n * reps / (now_s() - *ret);
	rc = 0;
out:
	if (h)
		dl->cublasDestroy_v2(h);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
	return rc;
}

static int measure_copy(double *ret)
{
	const size_t bytes = (size_t)1 << 30;
	const int reps = 10;
	void *a = NULL, *b = NULL;
	int rc = -1;
	if (cudaMalloc(&a, bytes) || cudaMalloc(&b, bytes))
		goto out;
	cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
	cudaDeviceSynchronize();
	double t0 = now_s();
	for (int i = 0; i < reps; i++)
		cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
	cudaDeviceSynchronize();
	*ret = 2.0 * (double)bytes * reps / (now_s() - t0);
	rc = 0;
out:
	cudaFree(a);
	cudaFree(b);
	return rc;
}

static int64_t numel(const inf_tensor *t)
{
	return inf_tensor_numel(t);
}

/* FLOPs and bytes of the fused graph at max batch, scaled per item. */
static int model_cost(const char *path, int fp16, double *flops, double *bytes)
{
	inf_graph *g = NULL;
	inf_engine_opts o = { .max_batch = 1 };
	int rc = inf_onnx_import(path, &g);
	if (rc == 0)
		rc = inf_graph_infer(g, &o);
	if (rc == 0)
		rc = inf_graph_fuse(g);
	*flops = *bytes = 0;
	for (int i = 0; rc == 0 && i < g->n_nodes; i++) {
		const inf_node *n = g->nodes[i];
		const inf_tensor *y = n->out[0];
		if (!strcmp(n->op_type, "Conv")) {
			const inf_tensor *w = n->in[1];
			*flops += 2.0 * (double)numel(y) * (double)(numel(w) / w->dims[0]);
		} else if (!strcmp(n->op_type, "MatMul") || !strcmp(n->op_type, "Gemm")) {
			const inf_tensor *a = n->in[0];
			int64_t k = !strcmp(n->op_type, "Gemm") && inf_attr_int(n, "transA", 0) ? a->dims[0] : a->dims[a->ndim - 1];
			*flops += 2.0 * (double)numel(y) * (double)k;
		} else {
			*flops += (double)numel(y);
		}
		for (int k = 0; k < n->n_in + n->n_out; k++) {
			const inf_tensor *t = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
			if (!t || (t->is_const && t->dtype != INF_DT_FLOAT && k < n->n_in && k > 0))
				continue;   /* shape parameters stay on the host */
			size_t es = t->dtype == INF_DT_FLOAT && fp16 ? 2 : inf_dtype_size(t->dtype);
			*bytes += (double)numel(t) * (double)es;
		}
	}
	inf_graph_free(&g);
	return rc;
}

static int bench_model(const char *path, int fp16, const device_rates *r)
{
	static const int batches[] = { 1, 8, 32, 64 };
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	double flops, bytes;
	inf_engine *e = NULL;
	inf_engine_opts o = { .backend = "cuda", .max_batch = MAX_BATCH, .fp16 = fp16 };
	int rc = model_cost(path, fp16, &flops, &bytes);
	if (rc == 0)
		rc = inf_engine_open(path, &o, &e);
	if (rc < 0) {
		printf("| %s | %s | - | failed: %s |\n", name, fp16 ? "fp16" : "fp32", vp_strerror(rc));
		return rc;
	}
	cudaStream_t st = inf_engine_stream(e);
	for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
		int b = batches[bi], runs = 0;
		double t0 = 0, dt = 0, host_ms;
		/* warm-up: the eager run, then the capture */
		for (int i = 0; i < 3 && rc == 0; i++)
			rc = inf_engine_run(e, b);
		for (runs = 0, t0 = now_s(); rc == 0 && (dt < MIN_SECONDS || runs < 10); runs++, dt = now_s() - t0)
			rc = inf_engine_run(e, b);
		host_ms = dt * 1e3 / runs;
		for (runs = 0, dt = 0, t0 = now_s(); rc == 0 && (dt < MIN_SECONDS || runs < 10); runs++) {
			rc = inf_engine_run_flags(e, b, INF_RUN_DEVICE_INPUT | INF_RUN_DEVICE_OUTPUT);
			if (rc == 0 && cudaStreamSynchronize(st) != cudaSuccess)
				rc = -EIO;
			dt = now_s() - t0;
		}
		if (rc < 0)
			break;
		double ms = dt * 1e3 / runs;
		double floor_ms = 1e3 * b * (flops / r->fp16_flops > bytes / r->copy_bytes ? flops / r->fp16_flops
		                                                                        : bytes / r->copy_bytes);
		printf("| %s | %s | %d | %.3f | %.1f | %.3f | %.2f | %.1f | %.3f | %.2f |\n", name, fp16 ? "fp16" : "fp32", b,
		       ms, 1e3 * b / ms, host_ms, b * flops / 1e9, b * bytes / 1e6, floor_ms, ms / floor_ms);
		fflush(stdout);
	}
	inf_engine_free(&e);
	return rc;
}

/* End to end: the whole offline pipeline on the 1080p clip with device, decoder, engine
 * and precision left to pick the GPU (device auto, decoder auto, backend cuda, fp16). */
static int bench_e2e(const char *shared, const char *model, const char *family)
{
	char path[] = "/tmp/vapd-gpu-bench-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -1;
	}
	fprintf(f,
	        "sources:\n  - id: bench\n    uri: %s/data/videos/cars-1080p.mp4\n    decoder: auto\n"
	        "model:\n  path: %s/models/%s.onnx\n  family: %s\n  labels: %s/models/coco.names\n"
	        "  backend: cuda\n  precision: fp16\n  batch: { max_size: 32, timeout_ms: 20 }\n"
	        "sinks:\n  - type: file\n    path: /dev/null\n",
	        shared, shared, model, family, shared);
	pipe_config *cfg = NULL;
	pipe_pipeline *p = NULL;
	int rc = -1;
	if (fclose(f) != 0 || pipe_config_load(path, stderr, &cfg) < 0)
		goto out;
	double t0 = now_s();
	if (pipe_pipeline_start(cfg, NULL, &p) < 0)
		goto out;
	while (!pipe_pipeline_finished(p))
		usleep(2000);
	double secs = now_s() - t0;
	pipe_stage_times t;
	pipe_pipeline_stage_times(p, &t);
	double n = t.frames > 0 ? (double)t.frames : 1.0;
	printf("| cars-1080p.mp4 | %s | %lld | %.1f | %.3f | %.3f | %.3f | %.3f |\n", model, (long long)t.frames,
	       t.frames / secs, t.decode_ns / n / 1e6, t.preprocess_ns / n / 1e6, t.inference_ns / n / 1e6,
	       t.postprocess_ns / n / 1e6);
	rc = 0;
out:
	pipe_pipeline_free(&p);
	pipe_config_free(&cfg);
	unlink(path);
	return rc;
}

int main(int argc, char **argv)
{
	const char *why = NULL;
	if (!gpu_visible("bench_gpu_engine"))
		return 0;
	const cuda_dl *dl = cuda_dl_get(&why);
	if (!dl) {
		printf("bench_gpu_engine: skipped: %s\n", why);
		return 0;
	}
	struct cudaDeviceProp prop;
	cudaGetDeviceProperties(&prop, 0);
	device_rates r = { 0, 0 };
	if (measure_gemm(dl, &r.fp16_flops) < 0 || measure_copy(&r.copy_bytes) < 0) {
		printf("bench_gpu_engine: cannot measure the device rates\n");
		return 1;
	}
	printf("# %s: measured FP16 GEMM %.1f TFLOP/s, device copy %.0f GB/s (read + write)\n", prop.name,
	       r.fp16_flops / 1e12, r.copy_bytes / 1e9);
	printf("# ms/batch and images/s with device input/output; host ms includes pinned copies;\n"
	       "# floor = max(FLOPs / GEMM rate, bytes / copy rate)\n");
	printf("| model | precision | batch | ms/batch | images/s | host ms/batch | GFLOP | MB moved | floor ms | achieved/floor |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	glob_t gl = { 0 };
	char pattern[1024];
	snprintf(pattern, sizeof(pattern), "%s/models/*.onnx", argc > 1 ? argv[1] : "../shared");
	if (glob(pattern, 0, NULL, &gl) != 0) {
		fprintf(stderr, "bench_gpu_engine: no models match %s\n", pattern);
		return 1;
	}
	int rc = 0;
	for (size_t m = 0; m < gl.gl_pathc; m++)
		for (int fp16 = 1; fp16 >= 0; fp16--)
			if (bench_model(gl.gl_pathv[m], fp16, &r) < 0)
				rc = 1;
	globfree(&gl);
	const char *shared = argc > 1 ? argv[1] : "../shared";
	vp_log_set_level(VP_LOG_WARN);
	printf("\n# end to end, offline, whole clip (backend cuda, fp16, batch 32); per-stage ms per frame\n");
	printf("| clip | model | frames | fps | decode | preprocess | inference | postprocess |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	if (bench_e2e(shared, "yolox_nano", "yolox") < 0 || bench_e2e(shared, "yolov8n", "yolov8") < 0)
		rc = 1;
	return rc;
}
#else
int main(void)
{
	gpu_visible("bench_gpu_engine");  /* prints the skip line: no CUDA in this build */
	return 0;
}
#endif
