#include "detector_gpu.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "../kernels/preprocess_cuda.h"
#include "../kernels/cuda_util.h"
#include "infer/heads/heads_cuda.h"
#include "../pipeline/vp_time.h"

/* Two preprocessing contexts alternate: the staging buffer of batch k's descriptors may
 * still be in flight when batch k+1 is enqueued. */
enum { PRE_CTX = 2 };

struct inf_detector_gpu {
	inf_engine *engine;       /* borrowed */
	krn_pre_cuda *pre[PRE_CTX];
	inf_head_cuda *head;
	int gpu, next_pre;
	/* Where and how preprocessing writes: the engine's input in the form it stores it
	 * (FP16 engines: half, NHWC when the layout pass chose it), so the engine runs with
	 * INF_RUN_DEVICE_INPUT_STORED and no conversion/transpose pass. */
	void *input;
	inf_input_form form;
	int run_flags;
};

int inf_detector_gpu_new(inf_engine *e, const inf_head_cfg *hc, int max_batch, int max_dets, int gpu,
                         inf_detector_gpu **ret)
{
	/* heads_cuda decodes the grid families' single output; the end-to-end ones (several
	 * outputs, a frame-size input) are decoded on the host by the detector. */
	if (hc->family == INF_FAM_YOLOV10 || hc->family == INF_FAM_DETR)
		return VP_EUNSUP;
	if (!inf_engine_device_input(e, 0) || !inf_engine_stream(e))
		return VP_ENODEV;
	inf_tensor_info out;
	int rc = inf_engine_output_info(e, 0, &out);
	if (rc < 0)
		return rc;
	if ((rc = krn_cuda_use_device(gpu)) < 0)   /* blocking waits: collect sleeps, not spins */
		return rc;
	inf_detector_gpu *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->engine = e;
	g->gpu = gpu;
	g->input = inf_engine_device_input_stored(e, 0, &g->form);
	g->run_flags = INF_RUN_DEVICE_INPUT | INF_RUN_DEVICE_OUTPUT | INF_RUN_DEVICE_INPUT_STORED;
	if (!g->input) {
		g->input = inf_engine_device_input(e, 0);
		g->form = (inf_input_form){ 0, 0 };
		g->run_flags = INF_RUN_DEVICE_INPUT | INF_RUN_DEVICE_OUTPUT;
	}
	vp_info("model", "cuda", "preprocessing writes the engine input as %s %s", g->form.fp16 ? "FP16" : "FP32",
	        g->form.nhwc ? "NHWC" : "NCHW");
	for (int i = 0; i < PRE_CTX && rc == 0; i++)
		rc = krn_pre_cuda_new(max_batch, &g->pre[i]);
	if (rc < 0 || (rc = inf_head_cuda_new(hc, &out, max_batch, max_dets, &g->head)) < 0) {
		inf_detector_gpu_free(&g);
		return rc;
	}
	*ret = g;
	return 0;
}

int inf_detector_gpu_submit(inf_detector_gpu *g, vp_frame *const *frames, int n,
                            const krn_pre_params *pre, krn_xform *xf, int64_t t[2])
{
	void *stream = inf_engine_stream(g->engine);
	int64_t t0 = vp_mono_ns();
	/* The calling thread may not have made the device current yet (cheap when it has). */
	int rc = KRN_CUDA_CHECK(cudaSetDevice(g->gpu));
	if (rc < 0)
		return rc;
	/* One stream for the whole chain: no host round trip and no extra synchronisation.
	 * Stream order also keeps batch k+1's preprocessing from overwriting the engine input
	 * before batch k's inference has read it. */
	krn_pre_cuda *ctx = g->pre[g->next_pre];
	g->next_pre = (g->next_pre + 1) % PRE_CTX;
	krn_pre_params p = *pre;
	p.fp16 = g->form.fp16;
	p.nhwc = g->form.nhwc;
	rc = krn_preprocess_cuda(ctx, (const vp_frame *const *)frames, n, &p, g->input, xf, stream);
	if (rc < 0)
		return rc;
	int64_t t1 = vp_mono_ns();
	rc = inf_engine_run_flags(g->engine, n, g->run_flags);
	if (rc < 0)
		return rc;
	int64_t t2 = vp_mono_ns();
	rc = inf_head_cuda_decode(g->head, inf_engine_device_output(g->engine, 0), n, xf, stream);
	t[0] += t1 - t0;
	t[1] += t2 - t1;
	return rc;
}

int inf_detector_gpu_collect(inf_detector_gpu *g, int slot, int n, vp_det *dets, int max_dets,
                             int *counts)
{
	for (int i = 0; i < n; i++) {
		const vp_det *d = NULL;
		int rc = inf_head_cuda_result(g->head, slot, i, &d);
		if (rc < 0)
			return rc;
		counts[i] = rc;
		memcpy(dets + (size_t)i * max_dets, d, (size_t)rc * sizeof(*d));
	}
	return 0;
}

void inf_detector_gpu_drain(inf_detector_gpu *g)
{
	/* Preprocessing (the only reader of the frames), engine and head all run on the
	 * engine's stream; an error here is the batch's, reported already. */
	if (cudaStreamSynchronize((cudaStream_t)inf_engine_stream(g->engine)) != cudaSuccess)
		(void)cudaGetLastError();
}

void inf_detector_gpu_free(inf_detector_gpu **pg)
{
	inf_detector_gpu *g = *pg;
	if (!g)
		return;
	*pg = NULL;
	/* Batches still in flight read the buffers freed below. */
	cudaStreamSynchronize((cudaStream_t)inf_engine_stream(g->engine));
	inf_head_cuda_free(&g->head);
	for (int i = 0; i < PRE_CTX; i++)
		krn_pre_cuda_free(&g->pre[i]);
	free(g);
}

#else /* CPU-only build: the detector keeps to host frames. */

int inf_detector_gpu_new(inf_engine *e, const inf_head_cfg *hc, int max_batch, int max_dets, int gpu,
                         inf_detector_gpu **ret)
{
	(void)e, (void)hc, (void)max_batch, (void)max_dets, (void)gpu, (void)ret;
	return VP_ENODEV;
}

int inf_detector_gpu_submit(inf_detector_gpu *g, vp_frame *const *frames, int n,
                            const krn_pre_params *pre, krn_xform *xf, int64_t t[2])
{
	(void)g, (void)frames, (void)n, (void)pre, (void)xf, (void)t;
	return VP_ENODEV;
}

int inf_detector_gpu_collect(inf_detector_gpu *g, int slot, int n, vp_det *dets, int max_dets,
                             int *counts)
{
	(void)g, (void)slot, (void)n, (void)dets, (void)max_dets, (void)counts;
	return VP_ENODEV;
}

void inf_detector_gpu_drain(inf_detector_gpu *g) { (void)g; }

void inf_detector_gpu_free(inf_detector_gpu **g) { *g = NULL; }

#endif
