/* Detector heads: turn a model's raw output into detections in source pixels.
 * One interface, one row per family (yolox, yolov8 = YOLOv8/YOLO11, yolov5) and the
 * end-to-end families (yolov10 = NMS-free YOLOv10/YOLO26 exports, detr = RT-DETR, D-FINE,
 * DEIM and other DETR-style exports; heads_e2e.c). */
#ifndef INF_HEADS_H
#define INF_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/preprocess.h"
#include "pipeline/vp_det.h"
#include "infer/engine.h"

/* Same order as enum pipe_family. AUTO: chosen from the model's signature (inf_family_of_sig). */
enum inf_family { INF_FAM_YOLOX = 0, INF_FAM_YOLOV8, INF_FAM_YOLOV5, INF_FAM_YOLOV10, INF_FAM_DETR,
                  INF_FAM_AUTO };

/* The forms an end-to-end export comes in (family yolov10: YOLO; detr: the three others). */
enum inf_e2e_form {
	INF_E2E_YOLO = 0,    /* one output [B, K, 6]: x1, y1, x2, y2 (input pixels), score, class */
	INF_E2E_DETR_POST,   /* labels [B, Q] int, boxes [B, Q, 4] x1, y1, x2, y2 in the pixels of
	                      * an orig_target_sizes input [B, 2] (width, height), scores [B, Q] */
	INF_E2E_RTDETR,      /* one output [B, Q, 4 + nc]: normalised cx, cy, w, h, class sigmoids */
	INF_E2E_DETR_LOGITS, /* boxes [B, Q, 4] normalised cx, cy, w, h and logits [B, Q, nc] */
};

/* A model's inputs and outputs as the head sees them (shapes at max batch). in may be NULL
 * (n_in 0) for heads built from an output alone. */
typedef struct inf_head_sig {
	const inf_tensor_info *in;
	int n_in;
	const inf_tensor_info *out;
	int n_out;
} inf_head_sig;

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
	int nms_explicit;         /* nms_iou was written by the user: end-to-end families, which
	                           * select inside the graph and skip NMS by default, run it too */
	int num_classes;          /* yolov10 and detr with labels outputs: the class count the
	                           * shapes do not tell (the labels file's); 0 = 80 (COCO) */
} inf_head_cfg;

typedef struct inf_head inf_head;

/* "yolox", "yolov8" (also "yolo11"), "yolov5", "yolov10" (also "yolo26"), "detr", "auto"
 * -> enum inf_family, or -1. */
int inf_family_parse(const char *name);
const char *inf_family_name(int family);

/* The family an output shape belongs to, for a w x h input: anchors last ([B, 4+nc, N],
 * more anchors than fields): yolov8; anchors first with 3 anchors per stride 8/16/32 cell:
 * yolov5; other anchors-first outputs: yolox (a transposed YOLOv8 export looks the same:
 * name yolov8 for one). why (n bytes) says which rule chose. -1 when out is not [B, a, b]. */
int inf_family_of_shape(const inf_tensor_info *out, int input_w, int input_h, char *why, size_t n);
/* The family a whole signature belongs to: the end-to-end forms first (inf_e2e_form_of),
 * then inf_family_of_shape on a single output. -1 when nothing fits; why then names every
 * input and output shape. */
int inf_family_of_sig(const inf_head_sig *sig, int input_w, int input_h, char *why, size_t n);
/* The end-to-end form of a signature, -1 when none fits. family: INF_FAM_YOLOV10 or
 * INF_FAM_DETR to try that family's forms only, INF_FAM_AUTO for all. */
int inf_e2e_form_of(const inf_head_sig *sig, int family, int input_w, int input_h, char *why,
                    size_t n);
/* "[1, 300, 6]" into buf; inf_shape_list: "outputs 'a' [1, 300], 'b' [1, 300, 4]". */
void inf_shape_text(const inf_tensor_info *t, char *buf, size_t n);
void inf_shape_list(const inf_tensor_info *t, int n, const char *what, char *buf, size_t cap);

/* out: the model's detection output shape (at max batch). Checks that the shape fits the
 * family (a yolov8 output under yolox or yolov5, a yolov5 one under yolox or yolov8, an
 * anchor-free one under yolov5 are refused naming the shapes), derives the number of
 * classes and whether a YOLOX export is raw or already decoded; fails with a clear log
 * otherwise. family AUTO is resolved with inf_family_of_sig (one info line). */
int inf_head_new(const inf_head_cfg *cfg, const inf_tensor_info *out, inf_head **ret);
/* inf_head_new for a whole signature: the end-to-end families read several outputs (and
 * the DETR post-processor form an input of frame sizes). */
int inf_head_new_sig(const inf_head_cfg *cfg, const inf_head_sig *sig, inf_head **ret);
int inf_head_num_classes(const inf_head *h);
/* The family after auto was resolved, and the end-to-end form (-1 for the grid families). */
int inf_head_family(const inf_head *h);
int inf_head_e2e_form(const inf_head *h);
/* Index of the model input the caller fills with each item's source (width, height)
 * (inf_head_fill_sizes), -1 when the model has none. */
int inf_head_size_input(const inf_head *h);
/* Writes item b's source width and height (xf) into that input's buffer, in its dtype. */
void inf_head_fill_sizes(const inf_head *h, void *input, int b, const krn_xform *xf);
/* Decodes item b of the batch output. xf maps model-input pixels back to the source frame.
 * Writes at most cap detections sorted by descending score; returns their count or < 0.
 * Candidates with a score outside [0, 1] (or NaN) or a non-finite box are dropped and
 * counted (inf_head_dropped), with one warning per head: they mean a wrong family or a
 * broken model, never a detection. */
int inf_head_decode(inf_head *h, const float *output, int b, const krn_xform *xf,
                    vp_det *dets, int cap);
/* inf_head_decode with every output of the signature (host pointers, the model's dtypes). */
int inf_head_decode_outputs(inf_head *h, const void *const *outputs, int b, const krn_xform *xf,
                            vp_det *dets, int cap);
/* Candidates dropped so far for an invalid score or box. */
int64_t inf_head_dropped(const inf_head *h);
void inf_head_free(inf_head **h);

/* The family's preprocessing preset (YOLOX: BGR 0-255, letterbox top-left, pad 114;
 * YOLOv8/v5/v10: RGB /255, letterbox centred, pad 114; DETR: RGB /255, stretched, as the
 * DETR family's exports are trained and exported); dst size left 0. */
void inf_family_preset(int family, krn_pre_params *ret);

/* Class-aware greedy NMS in place over n candidates (any order); returns the survivors'
 * count, sorted by descending score, at most max_keep. Shared by the heads and the GPU twin's test. */
int inf_nms(vp_det *dets, int n, float iou, int max_keep);
/* Sorts n candidates by descending score (the order inf_nms uses) and returns how many of
 * them to keep: at most max_keep. What the end-to-end families do instead of NMS. */
int inf_sort_best(vp_det *dets, int n, int max_keep);
/* Intersection over union of two x1,y1,x2,y2 boxes; 0 when the union is empty. */
float inf_iou(const float a[4], const float b[4]);

#endif
