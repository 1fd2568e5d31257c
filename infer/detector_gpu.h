/* Internal to the detector: the all-GPU path for frames in device memory (NVDEC):
 * CUDA preprocessing into the engine's device input, the cuda engine, the GPU head;
 * only the surviving detections cross to the host. */
#ifndef INF_DETECTOR_GPU_H
#define INF_DETECTOR_GPU_H

#include "../kernels/preprocess.h"
#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"
#include "engine.h"
#include "heads.h"

typedef struct inf_detector_gpu inf_detector_gpu;

/* VP_ENODEV in builds without CUDA or when the engine does not run on the GPU. */
int inf_detector_gpu_new(inf_engine *e, const inf_head_cfg *hc, int max_batch, int max_dets,
                         inf_detector_gpu **ret);
/* Runs n device frames; frame i's detections go to dets[i * max_dets], counts[i].
 * Returns when the results are on the host; times (ns) are added to t[0..2]
 * (preprocess enqueue, inference enqueue, wait + postprocess). */
int inf_detector_gpu_run(inf_detector_gpu *g, vp_frame *const *frames, int n,
                         const krn_pre_params *pre, krn_xform *xf, vp_det *dets, int max_dets,
                         int *counts, int64_t t[3]);
void inf_detector_gpu_free(inf_detector_gpu **g);

#endif
