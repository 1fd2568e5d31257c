/* A detector: the model section of the config made real — labels, engine, detector
 * head and preprocessing — run on a batch of decoded frames. Used by the pipeline's
 * engine thread; plain functions, no threads of its own. */
#ifndef INF_DETECTOR_H
#define INF_DETECTOR_H

#include <stdint.h>

#include "../pipeline/config.h"
#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"
#include "engine.h"

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
/* Runs frames[0..n-1] (n <= max batch) with nothing else in flight (-EBUSY otherwise):
 * inf_detector_submit + inf_detector_collect. Frame i's detections go to
 * dets[i * max_dets ...], their count to counts[i]. */
int inf_detector_run(inf_detector *d, vp_frame *const *frames, int n, vp_det *dets, int *counts);

/* Batches that may be in flight at once between submit and collect. */
#define INF_DETECTOR_DEPTH 2

/* Starts frames[0..n-1] (n <= max batch). Frames in GPU memory are only enqueued (CUDA
 * preprocessing, engine and head on the engine's stream, the survivors' copy to the host
 * on a second stream), so the next batch can be submitted while this one still runs;
 * host frames run to the end here. The frames must stay referenced until collected.
 * Returns 1 when results are still being computed on the GPU, 0 when they are ready,
 * -EINVAL for a bad n, -EBUSY when INF_DETECTOR_DEPTH batches are in flight already;
 * failures of the batch itself are reported by its collect. */
int inf_detector_submit(inf_detector *d, vp_frame *const *frames, int n);
/* Results of the oldest submitted batch (batches come out in submit order), waiting for
 * them if needed: its frame i's detections to dets[i * max_dets ...], the count to
 * counts[i]. ret (may be NULL) gets that batch's stage times. Returns the batch's frame
 * count, -ENOENT when nothing is in flight, or the batch's error (counts zeroed; the
 * batch is retired either way). */
int inf_detector_collect(inf_detector *d, vp_det *dets, int *counts, inf_detector_times *ret);
/* Batches submitted and not yet collected. */
int inf_detector_pending(const inf_detector *d);
/* Label list (NULL when no labels file was configured). */
const char *const *inf_detector_labels(const inf_detector *d, int *ret_n);
void inf_detector_get_times(const inf_detector *d, inf_detector_times *ret);
const char *inf_detector_backend(const inf_detector *d);
/* The engine's statistics (inf_engine_stats_get); callable from any thread while the
 * engine thread runs (the pipeline's metrics read graph_capture_failures). */
void inf_detector_engine_stats(const inf_detector *d, inf_engine_stats *ret);
/* Resolves a class given by name or id to an id; an unknown one is reported at its config
 * position as "FILE:LINE:COL: key: ..." and returns VP_ECONFIG. */
int inf_detector_resolve_class(const inf_detector *d, const pipe_class_ref *c, const char *file,
                               const char *key);
int inf_detector_num_classes(const inf_detector *d);
/* The head's family (enum inf_family): model.family, or with auto the one the output shape
 * gave. */
int inf_detector_family(const inf_detector *d);
/* The score each class needs to appear in messages (num_classes entries). With
 * cfg->candidate_threshold the detections also hold weaker boxes, for the tracker. */
const float *inf_detector_class_thresholds(const inf_detector *d);
/* Whether the detector accepts frames in GPU memory (NVDEC output). */
int inf_detector_takes_device_frames(const inf_detector *d);
void inf_detector_free(inf_detector **d);

#endif
