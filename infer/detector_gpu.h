/* Internal to the detector: the all-GPU path for frames in device memory (NVDEC):
 * CUDA preprocessing into the engine's device input, the cuda engine, the GPU head;
 * only the surviving detections cross to the host. */
#ifndef INF_DETECTOR_GPU_H
#define INF_DETECTOR_GPU_H

#include "../kernels/preprocess.h"
#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"
#include "engine.h"
#include "infer/heads/heads.h"

typedef struct inf_detector_gpu inf_detector_gpu;

/* VP_ENODEV in builds without CUDA or when the engine does not run on the GPU. gpu: the
 * CUDA device the engine was opened on (made current here and at every submit). */
int inf_detector_gpu_new(inf_engine *e, const inf_head_cfg *hc, int max_batch, int max_dets, int gpu,
                         inf_detector_gpu **ret);
/* Enqueues n device frames: preprocessing, engine and head decoding on the engine's
 * stream, the survivors' copy to the host on the head's stream. Returns at once with the
 * result slot (>= 0), or < 0; the frames must stay referenced until collected. At most
 * two submits may be outstanding (a slot is reused by the submit after next). Times (ns)
 * are added to t[0..1] (preprocess enqueue, inference enqueue). */
int inf_detector_gpu_submit(inf_detector_gpu *g, vp_frame *const *frames, int n,
                            const krn_pre_params *pre, krn_xform *xf, int64_t t[2]);
/* Waits for slot's results: frame i's detections go to dets[i * max_dets], counts[i]. */
int inf_detector_gpu_collect(inf_detector_gpu *g, int slot, int n, vp_det *dets, int max_dets,
                             int *counts);
/* Waits until the GPU no longer reads anything of the batches submitted so far (their
 * frames may be released then): for a batch that failed part-way, whose slot nobody
 * waits for. */
void inf_detector_gpu_drain(inf_detector_gpu *g);
void inf_detector_gpu_free(inf_detector_gpu **g);

#endif
