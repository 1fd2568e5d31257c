#include "detector_gpu.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "../kernels/preprocess_cuda.h"
#include "heads_cuda.h"
#include "../pipeline/vp_time.h"

struct inf_detector_gpu {
	inf_engine *engine;       /* borrowed */
	krn_pre_cuda *pre;
	inf_head_cuda *head;
};

int inf_detector_gpu_new(inf_engine *e, const inf_head_cfg *hc, int max_batch, int max_dets,
                         inf_detector_gpu **ret)
{
	if (!inf_engine_device_input(e, 0) || !inf_engine_stream(e))
		return VP_ENODEV;
	inf_tensor_info out;
	int rc = inf_engine_output_info(e, 0, &out);
	if (rc < 0)
		return rc;
	inf_detector_gpu *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->engine = e;
	if ((rc = krn_pre_cuda_new(max_batch, &g->pre)) < 0 ||
	    (rc = inf_head_cuda_new(hc, &out, max_batch, max_dets, &g->head)) < 0) {
		inf_detector_gpu_free(&g);
		return rc;
	}
	*ret = g;
	return 0;
}

int inf_detector_gpu_run(inf_detector_gpu *g, vp_frame *const *frames, int n,
                         const krn_pre_params *pre, krn_xform *xf, vp_det *dets, int max_dets,
                         int *counts, int64_t t[3])
{
	void *stream = inf_engine_stream(g->engine);
	int64_t t0 = vp_mono_ns();
	/* One stream for the whole chain: no host round trip and no extra synchronisation;
	 * the frames stay referenced by the caller until the results are read below. */
	int rc = krn_preprocess_cuda(g->pre, (const vp_frame *const *)frames, n, pre,
	                             inf_engine_device_input(g->engine, 0), xf, stream);
	if (rc < 0)
		return rc;
	int64_t t1 = vp_mono_ns();
	rc = inf_engine_run_flags(g->engine, n, INF_RUN_DEVICE_INPUT | INF_RUN_DEVICE_OUTPUT);
	if (rc < 0)
		return rc;
	int64_t t2 = vp_mono_ns();
	rc = inf_head_cuda_decode(g->head, inf_engine_device_output(g->engine, 0), n, xf, stream);
	for (int i = 0; rc >= 0 && i < n; i++) {
		const vp_det *d = NULL;
		if ((rc = inf_head_cuda_result(g->head, i, &d)) < 0)
			break;
		counts[i] = rc;
		memcpy(dets + (size_t)i * max_dets, d, (size_t)rc * sizeof(*d));
	}
	t[0] += t1 - t0;
	t[1] += t2 - t1;
	t[2] += vp_mono_ns() - t2;
	return rc < 0 ? rc : 0;
}

void inf_detector_gpu_free(inf_detector_gpu **pg)
{
	inf_detector_gpu *g = *pg;
	if (!g)
		return;
	*pg = NULL;
	inf_head_cuda_free(&g->head);
	krn_pre_cuda_free(&g->pre);
	free(g);
}

#else /* CPU-only build: the detector keeps to host frames. */

int inf_detector_gpu_new(inf_engine *e, const inf_head_cfg *hc, int max_batch, int max_dets,
                         inf_detector_gpu **ret)
{
	(void)e, (void)hc, (void)max_batch, (void)max_dets, (void)ret;
	return VP_ENODEV;
}

int inf_detector_gpu_run(inf_detector_gpu *g, vp_frame *const *frames, int n,
                         const krn_pre_params *pre, krn_xform *xf, vp_det *dets, int max_dets,
                         int *counts, int64_t t[3])
{
	(void)g, (void)frames, (void)n, (void)pre, (void)xf, (void)dets, (void)max_dets;
	(void)counts, (void)t;
	return VP_ENODEV;
}

void inf_detector_gpu_free(inf_detector_gpu **g) { *g = NULL; }

#endif
