/* A detector: the model section of the config made real — labels, engine, detector
 * head and preprocessing — run on a batch of decoded frames. Used by the pipeline's
 * engine thread; plain functions, no threads of its own. */
#ifndef INF_DETECTOR_H
#define INF_DETECTOR_H

#include <stdint.h>

#include "../pipeline/config.h"
#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"

typedef struct inf_detector inf_detector;

/* Time spent per stage over the detector's life, in nanoseconds. */
typedef struct inf_detector_times {
	int64_t preprocess_ns, inference_ns, postprocess_ns;
	int64_t batches, frames;
} inf_detector_times;

/* Loads labels, model and head for cfg (borrowed). cfg_file names the config in
 * errors about class names. Logs the reason and returns < 0 on failure. */
int inf_detector_new(const pipe_model_cfg *cfg, const char *cfg_file, inf_detector **ret);
int inf_detector_max_batch(const inf_detector *d);
/* Room callers must give per frame in dets. */
int inf_detector_max_dets(const inf_detector *d);
/* Runs frames[0..n-1] (n <= max batch). Frame i's detections go to
 * dets[i * max_dets ...], their count to counts[i]. */
int inf_detector_run(inf_detector *d, vp_frame *const *frames, int n, vp_det *dets, int *counts);
/* Label list (NULL when no labels file was configured). */
const char *const *inf_detector_labels(const inf_detector *d, int *ret_n);
void inf_detector_get_times(const inf_detector *d, inf_detector_times *ret);
const char *inf_detector_backend(const inf_detector *d);
/* Whether inf_detector_run accepts frames in GPU memory (NVDEC output). */
int inf_detector_takes_device_frames(const inf_detector *d);
void inf_detector_free(inf_detector **d);

#endif
