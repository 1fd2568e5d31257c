/* End-to-end heads: NMS-free YOLO (YOLOv10, YOLO26 end2end) and the DETR family (RT-DETR,
 * D-FINE, DEIM, RF-DETR). Their graphs already chose a fixed number of rows (a top-k over
 * anchors, or one row per query), so decoding is a filter: threshold, classes, boxes back
 * to source pixels, best first, at most max_detections; NMS only when the user asked. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "heads_e2e.h"

#define COCO_CLASSES 80
/* A query head has a few hundred rows; anything near the stride 8/16/32 grid's cell count
 * is an anchor grid (a grid family's raw output), not a selection. */
#define MAX_QUERIES 5000

/* Which outputs (and input) a form reads; -1 = unused. */
typedef struct e2e_slots {
	int boxes, scores, labels, logits;
	int sizes;                /* input of source (width, height) */
} e2e_slots;

struct head_e2e {
	int form;
	inf_head_cfg cfg;         /* class tables: borrowed from the inf_head (e2e_use_classes) */
	e2e_slots s;
	int q, nc, fields;        /* rows per item, classes, floats per row of a one-output form */
	int label_dtype, size_dtype;
	vp_det *cand;             /* q (q x nc for logits) candidates, allocated once */
	int64_t dropped;
};

static const char *form_names[] = {
	[INF_E2E_YOLO] = "NMS-free YOLO [B, K, 6]",
	[INF_E2E_DETR_POST] = "DETR with post-processor (labels, boxes, scores; orig_target_sizes)",
	[INF_E2E_RTDETR] = "RT-DETR [B, Q, 4 + classes]",
	[INF_E2E_DETR_LOGITS] = "DETR boxes + class logits",
};

static int grid_cells(int w, int h)
{
	return (w / 8) * (h / 8) + (w / 16) * (h / 16) + (w / 32) * (h / 32);
}

static int is_float3(const inf_tensor_info *t)
{
	return t->dtype == INF_DT_FLOAT && t->ndim == 3 && t->dims[1] >= 1 && t->dims[2] >= 1 &&
	       t->dims[1] <= MAX_QUERIES && t->dims[2] <= (1 << 16);
}

static int is_int(int dtype)
{
	return dtype == INF_DT_INT64 || dtype == INF_DT_INT32;
}

static int has_name(const inf_tensor_info *t, const char *part)
{
	return t->name && strstr(t->name, part);
}

/* labels [B, Q] int, boxes [B, Q, 4], scores [B, Q] float, plus an input [B, 2]. */
static int find_post(const inf_head_sig *sig, e2e_slots *s)
{
	*s = (e2e_slots){ -1, -1, -1, -1, -1 };
	for (int i = 0; i < sig->n_in; i++) {
		const inf_tensor_info *t = &sig->in[i];
		if (t->ndim == 2 && t->dims[1] == 2 && (is_int(t->dtype) || t->dtype == INF_DT_FLOAT))
			s->sizes = i;
	}
	if (s->sizes < 0 || sig->n_out != 3)
		return 0;
	for (int i = 0; i < 3; i++) {
		const inf_tensor_info *t = &sig->out[i];
		if (t->ndim == 2 && is_int(t->dtype))
			s->labels = i;
		else if (t->ndim == 2 && t->dtype == INF_DT_FLOAT)
			s->scores = i;
		else if (is_float3(t) && t->dims[2] == 4)
			s->boxes = i;
	}
	if (s->labels < 0 || s->scores < 0 || s->boxes < 0)
		return 0;
	int64_t q = sig->out[s->boxes].dims[1];
	return sig->out[s->labels].dims[1] == q && sig->out[s->scores].dims[1] == q;
}

/* boxes [B, Q, 4] and logits [B, Q, nc], in either order (names decide when both end in 4). */
static int find_logits(const inf_head_sig *sig, e2e_slots *s)
{
	*s = (e2e_slots){ -1, -1, -1, -1, -1 };
	if (sig->n_out != 2 || !is_float3(&sig->out[0]) || !is_float3(&sig->out[1]) ||
	    sig->out[0].dims[1] != sig->out[1].dims[1])
		return 0;
	int b = sig->out[1].dims[2] == 4 ? 1 : (sig->out[0].dims[2] == 4 ? 0 : -1);
	if (sig->out[0].dims[2] == 4 && sig->out[1].dims[2] == 4)
		b = has_name(&sig->out[0], "box") ? 0 : 1;
	if (b < 0)
		return 0;
	s->boxes = b;
	s->logits = 1 - b;
	return 1;
}

int inf_e2e_form_of(const inf_head_sig *sig, int family, int input_w, int input_h, char *why,
                    size_t n)
{
	e2e_slots s;
	int any = family == INF_FAM_AUTO, detr = any || family == INF_FAM_DETR;
	int64_t grid = grid_cells(input_w, input_h);
	const inf_tensor_info *o = sig->n_out > 0 ? &sig->out[0] : NULL;
	int form = -1;
	if (detr && find_post(sig, &s))
		form = INF_E2E_DETR_POST;
	else if (detr && find_logits(sig, &s))
		form = INF_E2E_DETR_LOGITS;
	else if (sig->n_out == 1 && is_float3(o) && o->dims[1] < grid) {
		/* Rows fewer than the grid's cells whatever the family: a grid family's output
		 * (one row or column per cell) is never read as a selection. */
		if ((any || family == INF_FAM_YOLOV10) && o->dims[2] == 6)
			form = INF_E2E_YOLO;
		else if (detr && o->dims[2] > 4 && o->dims[2] < grid)
			form = INF_E2E_RTDETR;
	}
	if (form >= 0 && why) {
		char shapes[256];
		inf_shape_list(sig->out, sig->n_out, "outputs", shapes, sizeof(shapes));
		snprintf(why, n, "%s: %s", form_names[form], shapes);
	}
	return form;
}

int e2e_new(const inf_head_cfg *cfg, const inf_head_sig *sig, int form, head_e2e **ret)
{
	*ret = NULL;
	head_e2e *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->form = form;
	e->cfg = *cfg;
	e->s = (e2e_slots){ -1, -1, -1, -1, -1 };
	e->nc = cfg->num_classes > 0 ? cfg->num_classes : COCO_CLASSES;
	int ok = 1;
	switch (form) {
	case INF_E2E_YOLO:
	case INF_E2E_RTDETR:
		ok = sig->n_out >= 1 && is_float3(&sig->out[0]) &&
		     (form == INF_E2E_YOLO ? sig->out[0].dims[2] == 6 : sig->out[0].dims[2] > 4);
		if (ok) {
			e->s.boxes = 0;
			e->q = (int)sig->out[0].dims[1];
			e->fields = (int)sig->out[0].dims[2];
			if (form == INF_E2E_RTDETR)
				e->nc = e->fields - 4;
		}
		break;
	case INF_E2E_DETR_POST:
		if ((ok = find_post(sig, &e->s))) {
			e->q = (int)sig->out[e->s.boxes].dims[1];
			e->label_dtype = sig->out[e->s.labels].dtype;
			e->size_dtype = sig->in[e->s.sizes].dtype;
		}
		break;
	case INF_E2E_DETR_LOGITS:
		if ((ok = find_logits(sig, &e->s))) {
			e->q = (int)sig->out[e->s.boxes].dims[1];
			e->nc = (int)sig->out[e->s.logits].dims[2];
		}
		break;
	default:
		ok = 0;
	}
	if (!ok) {
		vp_err("head", inf_family_name(cfg->family), "the model's outputs do not fit the %s form",
		       form >= 0 && form <= INF_E2E_DETR_LOGITS ? form_names[form] : "?");
		free(e);
		return VP_EMODEL;
	}
	size_t cands = (size_t)e->q * (form == INF_E2E_DETR_LOGITS ? (size_t)e->nc : 1);
	if (!(e->cand = malloc(cands * sizeof(*e->cand)))) {
		free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

int e2e_num_classes(const head_e2e *e) { return e->nc; }
int e2e_form(const head_e2e *e) { return e->form; }
int e2e_size_input(const head_e2e *e) { return e->s.sizes; }
int64_t e2e_dropped(const head_e2e *e) { return e->dropped; }

void e2e_use_classes(head_e2e *e, const float *class_thr, const uint8_t *allow)
{
	e->cfg.class_threshold = class_thr;
	e->cfg.class_allow = allow;
}

void e2e_free(head_e2e **pe)
{
	if (!*pe)
		return;
	free((*pe)->cand);
	free(*pe);
	*pe = NULL;
}

/* The DETR post-processor scales its normalised boxes by these sizes: the source frame's,
 * so its boxes come out in source pixels (exactly what the reference does). */
void e2e_fill_sizes(const head_e2e *e, void *input, int b, const krn_xform *xf)
{
	if (e->size_dtype == INF_DT_INT64) {
		((int64_t *)input)[2 * b] = xf->src_w;
		((int64_t *)input)[2 * b + 1] = xf->src_h;
	} else if (e->size_dtype == INF_DT_INT32) {
		((int32_t *)input)[2 * b] = xf->src_w;
		((int32_t *)input)[2 * b + 1] = xf->src_h;
	} else {
		((float *)input)[2 * b] = (float)xf->src_w;
		((float *)input)[2 * b + 1] = (float)xf->src_h;
	}
}

/* -1: filtered out; -2: not a detection at all (score not a probability, class out of range). */
static int admit(const head_e2e *e, int cls, float score)
{
	if (cls < 0 || cls >= e->nc || !(score >= 0.0f && score <= 1.0f))
		return -2;
	float thr = e->cfg.class_threshold ? e->cfg.class_threshold[cls] : e->cfg.threshold;
	if (!(score >= thr) || (e->cfg.class_allow && !e->cfg.class_allow[cls]))
		return -1;
	return 0;
}

/* x1, y1, x2, y2 in model-input pixels to the source frame (letterbox or stretch). */
static void from_input(const krn_xform *xf, float x1, float y1, float x2, float y2, float b[4])
{
	b[0] = (x1 - xf->pad_x) / xf->scale_x;
	b[1] = (y1 - xf->pad_y) / xf->scale_y;
	b[2] = (x2 - xf->pad_x) / xf->scale_x;
	b[3] = (y2 - xf->pad_y) / xf->scale_y;
}

static void from_normalised_cxcywh(const head_e2e *e, const krn_xform *xf, const float *r, float b[4])
{
	float iw = (float)e->cfg.input_w, ih = (float)e->cfg.input_h;
	float cx = r[0] * iw, cy = r[1] * ih, w = r[2] * iw, h = r[3] * ih;
	from_input(xf, cx - 0.5f * w, cy - 0.5f * h, cx + 0.5f * w, cy + 0.5f * h, b);
}

/* Boxes the post-processor scaled by the source size. With a stretch (no padding) they are
 * source pixels already; under a letterbox they are normalised input coordinates times the
 * source size, which is undone before the letterbox is. */
static void from_post(const krn_xform *xf, const head_e2e *e, const float *r, float b[4])
{
	if (xf->pad_x == 0.0f && xf->pad_y == 0.0f) {
		memcpy(b, r, 4 * sizeof(float));
		return;
	}
	float sx = (float)e->cfg.input_w / (float)xf->src_w, sy = (float)e->cfg.input_h / (float)xf->src_h;
	from_input(xf, r[0] * sx, r[1] * sy, r[2] * sx, r[3] * sy, b);
}

static int64_t label_at(const head_e2e *e, const void *labels, size_t i)
{
	return e->label_dtype == INF_DT_INT64 ? ((const int64_t *)labels)[i]
	                                      : ((const int32_t *)labels)[i];
}

static int best_class(const float *c, int nc, float *score)
{
	int best = 0;
	for (int k = 1; k < nc; k++)
		if (c[k] > c[best])
			best = k;
	*score = c[best];
	return best;
}

static float sigmoid(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

/* One candidate per row (every form but the logits one). */
static int rows_to_cands(head_e2e *e, const void *const *outs, int b, const krn_xform *xf,
                         int *invalid)
{
	int n = 0;
	size_t base = (size_t)b * e->q;
	for (int i = 0; i < e->q; i++) {
		vp_det *d = &e->cand[n];
		const float *r;
		float score, fcls;
		int cls;
		switch (e->form) {
		case INF_E2E_YOLO:
			r = (const float *)outs[0] + (base + i) * 6;
			score = r[4];
			fcls = r[5];
			cls = fcls >= 0.0f && fcls < (float)e->nc ? (int)fcls : -1;
			from_input(xf, r[0], r[1], r[2], r[3], d->bbox);
			break;
		case INF_E2E_RTDETR:
			r = (const float *)outs[0] + (base + i) * (size_t)e->fields;
			cls = best_class(r + 4, e->nc, &score);
			from_normalised_cxcywh(e, xf, r, d->bbox);
			break;
		default: /* INF_E2E_DETR_POST */
			r = (const float *)outs[e->s.boxes] + (base + i) * 4;
			score = ((const float *)outs[e->s.scores])[base + i];
			int64_t l = label_at(e, outs[e->s.labels], base + i);
			cls = l >= 0 && l < e->nc ? (int)l : -1;
			from_post(xf, e, r, d->bbox);
			break;
		}
		int a = admit(e, cls, score);
		int finite = isfinite(d->bbox[0]) && isfinite(d->bbox[1]) && isfinite(d->bbox[2]) &&
		             isfinite(d->bbox[3]);
		if (a == -2 || (a == 0 && !finite)) {
			(*invalid)++;
			continue;
		}
		if (a < 0)
			continue;
		d->class_id = cls;
		d->score = score;
		n++;
	}
	return n;
}

/* Raw DETR logits: every (query, class) pair is a candidate, as the reference
 * post-processors' top-k over Q x classes sigmoids; the caller's cap is the k. */
static int logits_to_cands(head_e2e *e, const void *const *outs, int b, const krn_xform *xf,
                           int *invalid)
{
	int n = 0;
	const float *lg = (const float *)outs[e->s.logits] + (size_t)b * e->q * e->nc;
	const float *bx = (const float *)outs[e->s.boxes] + (size_t)b * e->q * 4;
	for (int i = 0; i < e->q; i++) {
		for (int c = 0; c < e->nc; c++) {
			float s = sigmoid(lg[(size_t)i * e->nc + c]);
			int a = admit(e, c, s);
			if (a == -2)
				(*invalid)++;
			if (a < 0)
				continue;
			vp_det *d = &e->cand[n];
			from_normalised_cxcywh(e, xf, bx + (size_t)i * 4, d->bbox);
			if (!isfinite(d->bbox[0] + d->bbox[1] + d->bbox[2] + d->bbox[3])) {
				(*invalid)++;
				continue;
			}
			d->class_id = c;
			d->score = s;
			n++;
		}
	}
	return n;
}

static float clampf(float v, float hi)
{
	return v < 0.0f ? 0.0f : (v > hi ? hi : v);
}

int e2e_decode(head_e2e *e, const void *const *outs, int b, const krn_xform *xf, vp_det *dets,
               int cap)
{
	int invalid = 0;
	int n = e->form == INF_E2E_DETR_LOGITS ? logits_to_cands(e, outs, b, xf, &invalid)
	                                       : rows_to_cands(e, outs, b, xf, &invalid);
	if (invalid) {
		if (e->dropped == 0)
			vp_warn("head", inf_family_name(e->cfg.family), "dropped %d rows of one image with "
			        "a score outside [0, 1], a class outside 0..%d or a non-finite box: the "
			        "outputs do not look like %s (check model.family); further ones are only "
			        "counted", invalid, e->nc - 1, form_names[e->form]);
		e->dropped += invalid;
	}
	int keep = e->cfg.max_detections > 0 && e->cfg.max_detections < cap ? e->cfg.max_detections : cap;
	n = e->cfg.nms_explicit ? inf_nms(e->cand, n, e->cfg.nms_iou, keep)
	                        : inf_sort_best(e->cand, n, keep);
	for (int i = 0; i < n; i++) {
		dets[i] = e->cand[i];
		dets[i].bbox[0] = clampf(dets[i].bbox[0], (float)xf->src_w);
		dets[i].bbox[1] = clampf(dets[i].bbox[1], (float)xf->src_h);
		dets[i].bbox[2] = clampf(dets[i].bbox[2], (float)xf->src_w);
		dets[i].bbox[3] = clampf(dets[i].bbox[3], (float)xf->src_h);
	}
	return n;
}
