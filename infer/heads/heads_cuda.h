/* Detector heads on the GPU: the twin of heads.h's decoder for a model output that is
 * already in device memory. Per batch item one pass scores every anchor (best class,
 * objectness, thresholds, class filter) and decodes the boxes of the candidates, the
 * candidates are ranked in the CPU order (score, class, box) by a block-wide bitonic sort,
 * and class-aware greedy NMS (a 64-bit suppression mask per pair block, then a scan)
 * keeps at most cap boxes, clipped to the frame. Only the survivors (cap slots per item)
 * and their counts are copied to pinned host memory, asynchronously, on a stream of the
 * head's own. Results equal inf_head_decode's on the same output (bit for bit for decoded
 * boxes; raw YOLOX boxes go through expf, which may differ in the last bit between CPU
 * and GPU). */
#ifndef INF_HEADS_CUDA_H
#define INF_HEADS_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

#include "heads.h"

typedef struct inf_head_cuda inf_head_cuda;

/* Same cfg and output shape as inf_head_new (which validates them and logs errors);
 * max_batch items of at most cap detections each. VP_ENODEV without a GPU; VP_EUNSUP for
 * the end-to-end families (yolov10, detr; also when auto resolves to one). */
int inf_head_cuda_new(const inf_head_cfg *cfg, const inf_tensor_info *out, int max_batch, int cap,
                      inf_head_cuda **ret);
/* Enqueues decoding of items 0..batch-1 of d_output (device, float, the engine output
 * layout) on stream, a cudaStream_t: pass the stream that produced d_output
 * (inf_engine_stream; the engine's stream does not synchronize with the legacy NULL
 * stream). xf[b] maps item b back to its frame. The survivors land in one of two result
 * slots, copied to pinned host memory on the head's own stream after an event on
 * stream, so stream is free for the next batch as soon as NMS is done; the next decode
 * may therefore be enqueued before this one's results are read. A slot is reused two
 * decodes later (that decode first waits for the slot's copy to finish). Returns the
 * slot (0 or 1) once enqueued, or < 0. */
int inf_head_cuda_decode(inf_head_cuda *h, const float *d_output, int batch, const krn_xform *xf, void *stream);
/* Waits for the decode that returned slot; *dets points at its item b's detections
 * (pinned, valid until the slot is reused); returns their count or < 0. */
int inf_head_cuda_result(inf_head_cuda *h, int slot, int b, const vp_det **dets);
void inf_head_cuda_free(inf_head_cuda **h);

/* The GPU ranking and NMS on host candidates (for tests and the bench: same contract as
 * inf_nms). */
int inf_nms_cuda(vp_det *dets, int n, float iou, int max_keep);
/* Its CPU reference, the same algorithm (heads_cuda_ref.c, built everywhere): bitonic sort
 * in the CPU order, 64-bit suppression mask words, sequential scan; equal to inf_nms. */
int inf_nms_bitmask_ref(vp_det *dets, int n, float iou, int max_keep);

#ifdef __cplusplus
}
#endif

#endif
