/* GPU video path benchmark, markdown table rows:
 *  1. NVDEC decode frames/s of cars-1080p.mp4 (H.264) with 1, 2, 4, 8, 16, 32 concurrent
 *     streams (each loops the clip; frames released as they come out);
 *  2. batched CUDA preprocessing of 32 1080p NV12 device frames to a 640x640 tensor
 *     (FP32 and FP16, NCHW), in GB/s of frame bytes read + tensor bytes written, next to
 *     the device's cudaMemcpy device-to-device bandwidth (read + write) in the same run.
 * Usage: bench_gpu_video SHARED_DIR. Prints a skip line where no GPU is visible. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/gpu_skip.h"
#include "decode/source.h"
#include "kernels/preprocess.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "kernels/cuda_util.h"
#include "kernels/preprocess_cuda.h"

#define FRAMES_PER_STREAM 250
#define MAX_STREAMS 32
#define PRE_BATCH 32
#define PRE_ITERS 50

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct stream_job {
	pthread_t th;
	dec_stream *s;
	int frames;
	int rc;
} stream_job;

static void *decode_main(void *arg)
{
	stream_job *j = arg;
	vp_frame *f = NULL;
	while (j->frames < FRAMES_PER_STREAM && (j->rc = dec_stream_read(j->s, &f)) == 0) {
		j->frames++;
		vp_frame_unref(&f);
	}
	return NULL;
}

static int bench_decode(const char *clip, int n)
{
	static stream_job jobs[MAX_STREAMS];
	pipe_source_cfg cfg = {
		.id = "bench", .uri = (char *)clip, .decoder = PIPE_DEC_NVDEC, .interval = 1,
		.loop = true, .reconnect_initial_ms = 500, .reconnect_max_ms = 30000,
		.rtsp_timeout_ms = 5000, .nvdec_in_flight = 2, .device_frames_ok = true, .is_file = true,
	};
	int r = 0, opened = 0;
	for (; opened < n; opened++) {
		memset(&jobs[opened], 0, sizeof(jobs[opened]));
		if ((r = dec_stream_open(&cfg, opened, 4, &jobs[opened].s)) < 0)
			break;
	}
	double t0 = now_s();
	int started = 0;
	for (; r == 0 && started < n; started++)
		if (pthread_create(&jobs[started].th, NULL, decode_main, &jobs[started]) != 0)
			r = -EAGAIN;
	long total = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(jobs[i].th, NULL);
		total += jobs[i].frames;
		if (jobs[i].rc < 0)
			r = jobs[i].rc;
	}
	double dt = now_s() - t0;
	for (int i = 0; i < opened; i++)
		dec_stream_free(&jobs[i].s);
	if (r < 0) {
		printf("| %d | failed: %s | | | |\n", n, vp_strerror(r));
		return r;
	}
	printf("| %d | %ld | %.2f | %.0f | %.0f |\n", n, total, dt, total / dt, total / dt / n);
	return 0;
}

/* Seconds per call of cudaMemcpy device-to-device of bytes, timed with events. */
static double copy_seconds(size_t bytes)
{
	void *a = NULL, *b = NULL;
	cudaEvent_t e0, e1;
	float ms = -1;
	if (KRN_CUDA_CHECK(cudaMalloc(&a, bytes)) < 0 || KRN_CUDA_CHECK(cudaMalloc(&b, bytes)) < 0 ||
	    KRN_CUDA_CHECK(cudaEventCreate(&e0)) < 0 || KRN_CUDA_CHECK(cudaEventCreate(&e1)) < 0)
		return -1;
	cudaMemset(a, 1, bytes);
	cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);  /* warm-up */
	cudaEventRecord(e0, NULL);
	for (int i = 0; i < PRE_ITERS; i++)
		cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
	cudaEventRecord(e1, NULL);
	if (KRN_CUDA_CHECK(cudaEventSynchronize(e1)) == 0)
		cudaEventElapsedTime(&ms, e0, e1);
	cudaEventDestroy(e0);
	cudaEventDestroy(e1);
	cudaFree(a);
	cudaFree(b);
	return ms < 0 ? -1 : ms / 1e3 / PRE_ITERS;
}

/* 32 random 1080p NV12 frames in one device buffer. */
static int make_frames(vp_frame *frames, const vp_frame **ptrs, void **buf)
{
	int w = 1920, h = 1080;
	size_t one = (size_t)w * h * 3 / 2, all = one * PRE_BATCH;
	uint8_t *host = malloc(all);
	if (!host)
		return -ENOMEM;
	unsigned seed = 7;
	for (size_t i = 0; i < all; i++)
		host[i] = (uint8_t)rand_r(&seed);
	int r = KRN_CUDA_CHECK(cudaMalloc(buf, all));
	if (r == 0)
		r = KRN_CUDA_CHECK(cudaMemcpy(*buf, host, all, cudaMemcpyHostToDevice));
	free(host);
	if (r < 0)
		return r;
	for (int i = 0; i < PRE_BATCH; i++) {
		vp_frame *f = &frames[i];
		memset(f, 0, sizeof(*f));
		f->width = w;
		f->height = h;
		f->fmt = VP_PIX_NV12;
		f->mem = VP_MEM_DEVICE;
		f->csp = VP_CSP_BT709;
		f->data[0] = (uint8_t *)*buf + one * i;
		f->data[1] = f->data[0] + (size_t)w * h;
		f->linesize[0] = f->linesize[1] = w;
		ptrs[i] = f;
	}
	return 0;
}

static int bench_preprocess(void)
{
	static vp_frame frames[PRE_BATCH];
	const vp_frame *ptrs[PRE_BATCH];
	void *buf = NULL, *out = NULL;
	krn_pre_cuda *ctx = NULL;
	cudaEvent_t e0 = NULL, e1 = NULL;
	krn_pre_params p = { .dst_w = 640, .dst_h = 640, .resize = KRN_LETTERBOX,
	                     .placement = KRN_CENTER, .pad_value = 114,
	                     .mean = { 0, 0, 0 }, .scale = { 1, 1, 1 } };
	size_t in_bytes = (size_t)PRE_BATCH * 1920 * 1080 * 3 / 2;
	size_t out_elems = (size_t)PRE_BATCH * 3 * 640 * 640;
	int r = make_frames(frames, ptrs, &buf);
	if (r == 0 && (r = krn_pre_cuda_new(PRE_BATCH, &ctx)) == 0 &&
	    (r = KRN_CUDA_CHECK(cudaMalloc(&out, out_elems * 4))) == 0 &&
	    (r = KRN_CUDA_CHECK(cudaEventCreate(&e0))) == 0)
		r = KRN_CUDA_CHECK(cudaEventCreate(&e1));
	double copy_s = r == 0 ? copy_seconds(in_bytes + out_elems * 4) : -1;
	if (r == 0 && copy_s > 0)
		printf("| cudaMemcpy device-to-device | %.1f MB | %.3f | %.0f |\n",
		       (in_bytes + out_elems * 4) / 1e6, copy_s * 1e3,
		       2.0 * (in_bytes + out_elems * 4) / copy_s / 1e9);
	for (int fp16 = 0; r == 0 && fp16 <= 1; fp16++) {
		p.fp16 = fp16;
		size_t bytes = in_bytes + out_elems * (fp16 ? 2 : 4);
		float ms = 0;
		r = krn_preprocess_cuda(ctx, ptrs, PRE_BATCH, &p, out, NULL, NULL);  /* warm-up */
		cudaEventRecord(e0, NULL);
		for (int i = 0; r == 0 && i < PRE_ITERS; i++)
			r = krn_preprocess_cuda(ctx, ptrs, PRE_BATCH, &p, out, NULL, NULL);
		cudaEventRecord(e1, NULL);
		if (r == 0 && (r = KRN_CUDA_CHECK(cudaEventSynchronize(e1))) == 0)
			cudaEventElapsedTime(&ms, e0, e1);
		double s = ms / 1e3 / PRE_ITERS;
		if (r == 0)
			printf("| preprocess 32x1080p NV12 -> 640x640 %s NCHW | %.1f MB | %.3f | %.0f |\n",
			       fp16 ? "FP16" : "FP32", bytes / 1e6, s * 1e3, bytes / s / 1e9);
	}
	if (e0)
		cudaEventDestroy(e0);
	if (e1)
		cudaEventDestroy(e1);
	krn_pre_cuda_free(&ctx);
	cudaFree(out);
	cudaFree(buf);
	return r;
}
#endif

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SHARED_DIR\n", argv[0]);
		return 2;
	}
	if (!gpu_visible("bench_gpu_video"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_ERROR);
	struct cudaDeviceProp prop;
	if (KRN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0)) == 0)
		printf("device: %s\n\n", prop.name);
	char clip[1024];
	snprintf(clip, sizeof(clip), "%s/data/videos/cars-1080p.mp4", argv[1]);
	int rc = 0;
	/* Without NVDEC (a container lacking the video capability) the preprocessing table
	 * still means something. */
	if (nvdec_visible("bench_gpu_video: NVDEC table")) {
		printf("NVDEC decode of cars-1080p.mp4 (H.264 1920x1080), %d frames per stream\n\n",
		       FRAMES_PER_STREAM);
		printf("| streams | frames | seconds | frames/s | frames/s per stream |\n");
		printf("| --- | --- | --- | --- | --- |\n");
		static const int counts[] = { 1, 2, 4, 8, 16, 32 };
		for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
			if (bench_decode(clip, counts[i]) < 0)
				rc = 1;
	}
	printf("\nBatched preprocessing (one launch per batch of 32) next to the copy bandwidth\n\n");
	printf("| operation | bytes moved | ms | GB/s (read + write) |\n");
	printf("| --- | --- | --- | --- |\n");
	if (bench_preprocess() < 0)
		rc = 1;
	return rc;
#endif
}
