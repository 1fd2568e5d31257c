/* What the GPU head costs when thresholds are low: a synthetic YOLOv8 output ([B, 84,
 * 8400], 640x640 input) whose every anchor scores at least 0.001 (about 2% reach 0.3), boxes
 * in clusters so NMS has work; inf_head_cuda_decode + the wait for its results, per batch,
 * at threshold 0.001 (all 8,400 anchors are candidates) and 0.3, batch 1, 8 and 32, next to
 * the CPU head (inf_head_decode) on one item. Markdown rows. Usage: bench_gpu_head
 * [SHARED_DIR] (unused). Prints a skip line where no GPU is visible. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/gpu_skip.h"
#include "infer/engine.h"
#include "infer/heads/heads.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#ifdef VP_HAVE_CUDA
#include "infer/heads/heads_cuda.h"

enum { ANCHORS = 8400, CLASSES = 80, FIELDS = 4 + CLASSES, CAP = 300, MAX_B = 32, REPS = 50 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xffff) / 65536.0f;
}

/* Item b of the output, fields first: cx, cy, w, h, then the class scores. */
static void fill_item(float *o, unsigned seed)
{
	for (int a = 0; a < ANCHORS; a++) {
		float cx = 80.0f * (float)(int)(frand(&seed) * 8) + 20 * frand(&seed);
		float cy = 80.0f * (float)(int)(frand(&seed) * 8) + 20 * frand(&seed);
		o[0 * ANCHORS + a] = cx;
		o[1 * ANCHORS + a] = cy;
		o[2 * ANCHORS + a] = 20 + 80 * frand(&seed);
		o[3 * ANCHORS + a] = 20 + 80 * frand(&seed);
		int best = (int)(frand(&seed) * 4);   /* few classes: more same-class overlaps */
		for (int c = 0; c < CLASSES; c++)
			o[(4 + c) * ANCHORS + a] = c == best ? 0.001f + 0.999f * powf(frand(&seed), 60.0f) : 0.0005f;
	}
}

static void row(const float *d_out, const float *h_out, float thr, int batch, const inf_tensor_info *info)
{
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV8, .input_w = 640, .input_h = 640, .threshold = thr,
	                     .nms_iou = 0.45f, .max_detections = CAP };
	inf_head_cuda *g = NULL;
	inf_head *h = NULL;
	krn_xform xf[MAX_B];
	for (int b = 0; b < MAX_B; b++)
		xf[b] = (krn_xform){ 1.0f, 1.0f, 0.0f, 0.0f, 640, 640 };
	if (inf_head_cuda_new(&cfg, info, MAX_B, CAP, &g) < 0 || inf_head_new(&cfg, info, &h) < 0) {
		printf("| %.3g | %d | failed | | | |\n", thr, batch);
		inf_head_cuda_free(&g);
		inf_head_free(&h);
		return;
	}
	int cand = 0;
	for (int a = 0; a < ANCHORS; a++)
		for (int c = 0; c < CLASSES; c++)
			if (h_out[(4 + c) * ANCHORS + a] >= thr) {
				cand++;
				break;
			}
	const vp_det *dets = NULL;
	int kept = 0;
	for (int warm = 0; warm < 3; warm++) {
		int slot = inf_head_cuda_decode(g, d_out, batch, xf, NULL);
		kept = slot < 0 ? slot : inf_head_cuda_result(g, slot, 0, &dets);
	}
	double t0 = now_s();
	for (int r = 0; r < REPS; r++) {
		int slot = inf_head_cuda_decode(g, d_out, batch, xf, NULL);
		if (slot < 0 || inf_head_cuda_result(g, slot, batch - 1, &dets) < 0)
			kept = -1;
	}
	double gpu_ms = (now_s() - t0) / REPS * 1e3;
	vp_det cpu[CAP];
	t0 = now_s();
	int cpu_kept = 0;
	for (int r = 0; r < 5; r++)
		cpu_kept = inf_head_decode(h, h_out, 0, &xf[0], cpu, CAP);
	double cpu_ms = (now_s() - t0) / 5 * 1e3;
	printf("| %.3g | %d | %d | %d (cpu %d) | %.3f | %.3f | %.2f |\n", thr, batch, cand, kept, cpu_kept, gpu_ms,
	       gpu_ms / batch, cpu_ms);
	inf_head_cuda_free(&g);
	inf_head_free(&h);
}
#endif

int main(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (!gpu_visible("bench_gpu_head"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_WARN);
	size_t item = (size_t)FIELDS * ANCHORS;
	float *h_out = malloc(item * MAX_B * sizeof(float));
	float *d_out = NULL;
	if (!h_out || cudaMalloc((void **)&d_out, item * MAX_B * sizeof(float)) != cudaSuccess) {
		fprintf(stderr, "bench_gpu_head: out of memory\n");
		return 1;
	}
	for (int b = 0; b < MAX_B; b++)
		fill_item(h_out + item * b, 1234u + (unsigned)b);
	if (cudaMemcpy(d_out, h_out, item * MAX_B * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
		return 1;
	inf_tensor_info info = { .name = "output0", .dtype = INF_DT_FLOAT, .ndim = 3, .dims = { MAX_B, FIELDS, ANCHORS } };
	printf("### GPU head: scoring, ranking, NMS (YOLOv8 layout, 8,400 anchors, 80 classes)\n\n");
	printf("| threshold | batch | candidates/item | kept item 0 | GPU ms/batch | GPU ms/item | CPU head ms/item |\n");
	printf("| --- | --- | --- | --- | --- | --- | --- |\n");
	static const float thrs[] = { 0.001f, 0.3f };
	static const int batches[] = { 1, 8, 32 };
	for (int t = 0; t < 2; t++)
		for (int k = 0; k < 3; k++)
			row(d_out, h_out, thrs[t], batches[k], &info);
	cudaFree(d_out);
	free(h_out);
#endif
	return 0;
}
