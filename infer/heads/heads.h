/* Detector heads: turn a model's raw output into detections in source pixels.
 * One interface, one row per family (yolox, yolov8 = YOLOv8/YOLO11, yolov5). */
#ifndef INF_HEADS_H
#define INF_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/preprocess.h"
#include "pipeline/vp_det.h"
#include "infer/engine.h"

/* Same order as enum pipe_family. AUTO: chosen from the output shape (inf_family_of_shape). */
enum inf_family { INF_FAM_YOLOX = 0, INF_FAM_YOLOV8, INF_FAM_YOLOV5, INF_FAM_AUTO };

/* How a YOLOX export's boxes come out. Raw exports (the official ONNX export without
 * --decode_in_inference) give per-anchor offsets in grid cells and log sizes; decoded ones
 * give cx, cy, w, h in input pixels. AUTO decides on the first decoded output: the mean of
 * the first column over all anchors is about 0.5 (cells) for raw exports and about half the
 * input width (pixels) for decoded ones, whatever the picture, so a mean above 8 (one
 * stride-8 cell) means decoded. An output whose anchor count does not match the stride
 * 8/16/32 grid of the input size can only be decoded. */
enum inf_box_format { INF_BOX_AUTO = 0, INF_BOX_RAW, INF_BOX_DECODED };

typedef struct inf_head_cfg {
	int family;               /* enum inf_family */
	int input_w, input_h;     /* model input size (YOLOX grid decoding needs it) */
	float threshold;          /* minimum final score */
	const float *class_threshold; /* per class, NULL = threshold for all; length num_classes */
	const uint8_t *class_allow;   /* per class 0/1, NULL = all; length num_classes */
	float nms_iou;
	int max_detections;       /* 0 = only limited by the caller's capacity */
	int box_format;           /* enum inf_box_format; yolox only (others are always decoded) */
} inf_head_cfg;

typedef struct inf_head inf_head;

/* "yolox", "yolov8" (also "yolo11"), "yolov5", "auto" -> enum inf_family, or -1. */
int inf_family_parse(const char *name);
const char *inf_family_name(int family);

/* The family an output shape belongs to, for a w x h input: anchors last ([B, 4+nc, N],
 * more anchors than fields): yolov8; anchors first with 3 anchors per stride 8/16/32 cell:
 * yolov5; other anchors-first outputs: yolox (a transposed YOLOv8 export looks the same:
 * name yolov8 for one). why (n bytes) says which rule chose. -1 when out is not [B, a, b]. */
int inf_family_of_shape(const inf_tensor_info *out, int input_w, int input_h, char *why, size_t n);

/* out: the model's detection output shape (at max batch). Checks that the shape fits the
 * family (a yolov8 output under yolox or yolov5, a yolov5 one under yolox or yolov8, an
 * anchor-free one under yolov5 are refused naming the shapes), derives the number of
 * classes and whether a YOLOX export is raw or already decoded; fails with a clear log
 * otherwise. family AUTO is resolved with inf_family_of_shape (one info line). */
int inf_head_new(const inf_head_cfg *cfg, const inf_tensor_info *out, inf_head **ret);
int inf_head_num_classes(const inf_head *h);
/* Decodes item b of the batch output. xf maps model-input pixels back to the source frame.
 * Writes at most cap detections sorted by descending score; returns their count or < 0.
 * Candidates with a score outside [0, 1] (or NaN) or a non-finite box are dropped and
 * counted (inf_head_dropped), with one warning per head: they mean a wrong family or a
 * broken model, never a detection. */
int inf_head_decode(inf_head *h, const float *output, int b, const krn_xform *xf,
                    vp_det *dets, int cap);
/* Candidates dropped so far for an invalid score or box. */
int64_t inf_head_dropped(const inf_head *h);
void inf_head_free(inf_head **h);

/* The family's preprocessing preset (YOLOX: BGR 0-255, letterbox top-left, pad 114;
 * YOLOv8/v5: RGB /255, letterbox centred, pad 114); dst size left 0. */
void inf_family_preset(int family, krn_pre_params *ret);

/* Class-aware greedy NMS in place over n candidates (any order); returns the survivors'
 * count, sorted by descending score, at most max_keep. Shared by the heads and the GPU twin's test. */
int inf_nms(vp_det *dets, int n, float iou, int max_keep);
/* Intersection over union of two x1,y1,x2,y2 boxes; 0 when the union is empty. */
float inf_iou(const float a[4], const float b[4]);

#endif
