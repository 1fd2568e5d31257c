/* Detector heads: one decoder driven by a row per family. A family is described by its
 * output layout (anchors along rows or columns), whether it has an objectness column and
 * whether its boxes may need stride-grid decoding; everything else is shared. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "heads.h"
#include "heads_e2e.h"

typedef struct head_family {
	const char *name;
	const char *alias;
	int has_obj;          /* score = objectness x class probability */
	int anchors_last;     /* output [B, 4+nc, N] rather than [B, N, 4(+1)+nc] */
	int grid;             /* raw exports need stride 8/16/32 grid decoding */
	krn_pre_params preset;
} head_family;

#define PRESET(order, place, sc) \
	{ .resize = KRN_LETTERBOX, .placement = place, \
	  .pad_value = 114, .bgr = order, .mean = { 0, 0, 0 }, .scale = { sc, sc, sc } }

/* DETR-family exports are trained and exported on the whole frame resized to the input,
 * without padding (RT-DETR, D-FINE and DEIM's own inference code stretch). */
#define PRESET_STRETCH \
	{ .resize = KRN_STRETCH, .placement = KRN_TOP_LEFT, .pad_value = 114, .bgr = 0, \
	  .mean = { 0, 0, 0 }, .scale = { 1.0f / 255.0f, 1.0f / 255.0f, 1.0f / 255.0f } }

/* Indexed by enum inf_family. yolov10 and detr decode in heads_e2e.c: their layout fields
 * are unused. */
static const head_family families[] = {
	[INF_FAM_YOLOX] = { "yolox", NULL, 1, 0, 1, PRESET(1, KRN_TOP_LEFT, 1.0f) },
	[INF_FAM_YOLOV8] = { "yolov8", "yolo11", 0, 1, 0,
	                     PRESET(0, KRN_CENTER, 1.0f / 255.0f) },
	[INF_FAM_YOLOV5] = { "yolov5", NULL, 1, 0, 0, PRESET(0, KRN_CENTER, 1.0f / 255.0f) },
	[INF_FAM_YOLOV10] = { "yolov10", "yolo26", 0, 0, 0, PRESET(0, KRN_CENTER, 1.0f / 255.0f) },
	[INF_FAM_DETR] = { "detr", NULL, 0, 0, 0, PRESET_STRETCH },
};
#define N_FAMILIES ((int)(sizeof(families) / sizeof(families[0])))

static const int grid_strides[3] = { 8, 16, 32 };

struct inf_head {
	const head_family *fam;
	inf_head_cfg cfg;        /* class_threshold/class_allow point at the copies below */
	float *class_thr;
	uint8_t *allow;
	int nc;
	int n;                   /* anchors per item */
	size_t item;             /* elements per batch item */
	size_t s_anchor, s_field;
	int box_format;          /* enum inf_box_format, AUTO until the first decode */
	float *grid;             /* raw yolox: per anchor gx, gy, stride */
	vp_det *cand;            /* n candidates, allocated once */
	int64_t dropped;         /* candidates with an invalid score or box (inf_head_dropped) */
	int looked;              /* decide_box_format has seen a first output */
	head_e2e *e2e;           /* yolov10 and detr: everything is decoded there */
};

int inf_family_parse(const char *name)
{
	for (int i = 0; name && i < N_FAMILIES; i++)
		if (!strcmp(name, families[i].name) ||
		    (families[i].alias && !strcmp(name, families[i].alias)))
			return i;
	return name && !strcmp(name, "auto") ? INF_FAM_AUTO : -1;
}

const char *inf_family_name(int family)
{
	if (family == INF_FAM_AUTO)
		return "auto";
	return family >= 0 && family < N_FAMILIES ? families[family].name : "unknown";
}

void inf_family_preset(int family, krn_pre_params *ret)
{
	if (family < 0 || family >= N_FAMILIES)
		family = INF_FAM_YOLOV8;
	*ret = families[family].preset;
}

static int grid_count(int w, int h)
{
	int n = 0;
	for (int i = 0; i < 3; i++)
		n += (w / grid_strides[i]) * (h / grid_strides[i]);
	return n;
}

/* Anchor order of YOLOX exports: stride 8 cells row by row, then 16, then 32. */
static void grid_fill(float *g, int w, int h)
{
	for (int i = 0; i < 3; i++) {
		int s = grid_strides[i];
		for (int y = 0; y < h / s; y++) {
			for (int x = 0; x < w / s; x++) {
				*g++ = (float)x;
				*g++ = (float)y;
				*g++ = (float)s;
			}
		}
	}
}

void inf_shape_text(const inf_tensor_info *out, char *buf, size_t n)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < out->ndim && i < INF_MAX_DIMS && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? ", " : "", out->dims[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

void inf_shape_list(const inf_tensor_info *t, int n, const char *what, char *buf, size_t cap)
{
	size_t used = (size_t)snprintf(buf, cap, "%s%s", what, n > 0 ? "" : ": none");
	for (int i = 0; i < n && used < cap; i++) {
		char shape[96];
		inf_shape_text(&t[i], shape, sizeof(shape));
		used += (size_t)snprintf(buf + used, cap - used, "%s '%s' %s %s", i ? "," : "",
		                         t[i].name ? t[i].name : "?", inf_dtype_name(t[i].dtype), shape);
	}
}

/* Every family has one row per anchor of the stride 8/16/32 grid (yolov5: three per cell),
 * and far fewer fields (4 box values, objectness, classes) than anchors: which dimension
 * is the longer one tells where the anchors are. */
int inf_family_of_shape(const inf_tensor_info *out, int input_w, int input_h, char *why, size_t n)
{
	char shape[96];
	if (out->ndim != 3 || out->dims[1] < 1 || out->dims[2] < 1)
		return -1;
	inf_shape_text(out, shape, sizeof(shape));
	int64_t d1 = out->dims[1], d2 = out->dims[2], grid = grid_count(input_w, input_h);
	if (d2 > d1) {
		snprintf(why, n, "output %s has its %" PRId64 " anchors last, after %" PRId64 " fields",
		         shape, d2, d1);
		return INF_FAM_YOLOV8;
	}
	if (d1 == 3 * grid) {
		snprintf(why, n, "output %s has 3 anchors per stride 8/16/32 cell of the %dx%d input",
		         shape, input_w, input_h);
		return INF_FAM_YOLOV5;
	}
	snprintf(why, n, "output %s has its %" PRId64 " anchors first%s", shape, d1,
	         d1 == grid ? ", one per stride 8/16/32 cell" : "");
	return INF_FAM_YOLOX;
}

/* End-to-end forms first: their outputs are small and specific (a few hundred rows, several
 * outputs, an extra input), where a grid family has one output with a row per cell. */
int inf_family_of_sig(const inf_head_sig *sig, int input_w, int input_h, char *why, size_t n)
{
	int form = inf_e2e_form_of(sig, INF_FAM_AUTO, input_w, input_h, why, n);
	if (form >= 0)
		return form == INF_E2E_YOLO ? INF_FAM_YOLOV10 : INF_FAM_DETR;
	int fam = sig->n_out == 1 ? inf_family_of_shape(&sig->out[0], input_w, input_h, why, n) : -1;
	if (fam < 0) {
		char in[256], out[384];
		inf_shape_list(sig->in, sig->n_in, "inputs", in, sizeof(in));
		inf_shape_list(sig->out, sig->n_out, "outputs", out, sizeof(out));
		snprintf(why, n, "%s; %s fit no family (yolox, yolov8, yolov5: one [batch, a, b] "
		         "output; yolov10: [batch, K, 6]; detr: labels/boxes/scores, boxes + logits "
		         "or [batch, Q, 4 + classes])", in, out);
	}
	return fam;
}

/* Shapes that cannot be the family's own (see inf_family_of_shape). Anchors first with one
 * anchor per cell fits yolox and a transposed yolov8 export alike: accepted as yolov8 (the
 * detector says so, and decide_box_format warns when the boxes are not in pixels). */
static int check_family_shape(const inf_head *h, const inf_tensor_info *out)
{
	int family = (int)(h->fam - families);
	int64_t d1 = out->dims[1], d2 = out->dims[2];
	int64_t grid = grid_count(h->cfg.input_w, h->cfg.input_h);
	const char *other = NULL, *reason = NULL;
	char shape[96];
	inf_shape_text(out, shape, sizeof(shape));
	if (family != INF_FAM_YOLOV8 && d2 > d1 && d2 >= grid) {
		other = "yolov8";
		reason = "its last dimension holds the anchors (as many as the grid's cells or more), "
		         "so the fields come first";
	} else if (family == INF_FAM_YOLOX && d1 == 3 * grid) {
		other = "yolov5";
		reason = "3 anchors per stride 8/16/32 cell, not 1";
	} else if (family == INF_FAM_YOLOV8 && d1 > d2 && d1 == 3 * grid) {
		other = "yolov5";
		reason = "anchors first, 3 per stride 8/16/32 cell";
	} else if (family == INF_FAM_YOLOV5 && d1 == grid) {
		other = "yolox";
		reason = "one anchor per stride 8/16/32 cell (anchor-free), not 3";
	}
	if (other) {
		vp_err("head", h->fam->name, "output '%s' %s does not fit family %s for a %dx%d input: "
		       "%s; it looks like %s (set model.family: %s or auto)",
		       out->name ? out->name : "?", shape, h->fam->name, h->cfg.input_w,
		       h->cfg.input_h, reason, other, other);
		return VP_EMODEL;
	}
	return 0;
}

static int check_cfg(const inf_head_cfg *c, const char *fam)
{
	if (!(c->threshold >= 0.0f && c->threshold <= 1.0f) ||
	    !(c->nms_iou > 0.0f && c->nms_iou <= 1.0f) || c->max_detections < 0) {
		vp_err("head", fam, "threshold %g must be in [0,1], nms_iou %g in (0,1], "
		       "max_detections %d >= 0", c->threshold, c->nms_iou, c->max_detections);
		return VP_ECONFIG;
	}
	if (c->input_w < 1 || c->input_h < 1 || c->box_format < INF_BOX_AUTO ||
	    c->box_format > INF_BOX_DECODED) {
		vp_err("head", fam, "bad input size %dx%d or box format %d", c->input_w, c->input_h,
		       c->box_format);
		return VP_ECONFIG;
	}
	return 0;
}

/* Reads the layout from the output shape: [B, N, 4+obj+nc] or [B, 4+nc, N]. */
static int parse_shape(inf_head *h, const inf_tensor_info *out)
{
	const char *fam = h->fam->name;
	int fields_first = h->fam->anchors_last;
	if (out->dtype != INF_DT_FLOAT || out->ndim != 3 || out->dims[1] < 1 || out->dims[2] < 1 ||
	    out->dims[1] > (1 << 24) || out->dims[2] > (1 << 24)) {
		vp_err("head", fam, "output '%s' must be float [batch, a, b] (got dtype %d, %d dims)",
		       out->name ? out->name : "?", out->dtype, out->ndim);
		return VP_EMODEL;
	}
	/* YOLOv8 exports are [B, 84, 8400]; some tools transpose to [B, 8400, 84]. Anchors
	 * always outnumber fields, which tells the two apart. */
	if (h->fam->anchors_last && out->dims[2] < out->dims[1])
		fields_first = 0;
	int fields = (int)(fields_first ? out->dims[1] : out->dims[2]);
	h->n = (int)(fields_first ? out->dims[2] : out->dims[1]);
	h->nc = fields - 4 - h->fam->has_obj;
	h->s_anchor = fields_first ? 1 : (size_t)fields;
	h->s_field = fields_first ? (size_t)h->n : 1;
	h->item = (size_t)fields * h->n;
	if (h->nc < 1) {
		vp_err("head", fam, "output '%s' has %d fields per box; %s needs %d plus classes",
		       out->name ? out->name : "?", fields, fam, 4 + h->fam->has_obj);
		return VP_EMODEL;
	}
	return check_family_shape(h, out);
}

static int setup_grid(inf_head *h)
{
	const char *fam = h->fam->name;
	int gw = h->cfg.input_w, gh = h->cfg.input_h;
	int match = gw % 32 == 0 && gh % 32 == 0 && grid_count(gw, gh) == h->n;
	h->box_format = h->fam->grid ? h->cfg.box_format : INF_BOX_DECODED;
	if (h->box_format == INF_BOX_DECODED)
		return 0;
	if (!match) {
		if (h->box_format == INF_BOX_RAW) {
			vp_err("head", fam, "%d anchors do not match the stride 8/16/32 grid of a %dx%d "
			       "input (%d); cannot decode raw boxes", h->n, gw, gh, grid_count(gw, gh));
			return VP_EMODEL;
		}
		vp_info("head", fam, "%d anchors do not match the %dx%d grid: boxes taken as decoded",
		        h->n, gw, gh);
		h->box_format = INF_BOX_DECODED;
		return 0;
	}
	h->grid = malloc((size_t)h->n * 3 * sizeof(float));
	if (!h->grid)
		return -ENOMEM;
	grid_fill(h->grid, gw, gh);
	return 0;
}

static int copy_class_tables(inf_head *h)
{
	if (h->cfg.class_threshold) {
		if (!(h->class_thr = malloc((size_t)h->nc * sizeof(float))))
			return -ENOMEM;
		memcpy(h->class_thr, h->cfg.class_threshold, (size_t)h->nc * sizeof(float));
	}
	if (h->cfg.class_allow) {
		if (!(h->allow = malloc((size_t)h->nc)))
			return -ENOMEM;
		memcpy(h->allow, h->cfg.class_allow, (size_t)h->nc);
	}
	h->cfg.class_threshold = h->class_thr;
	h->cfg.class_allow = h->allow;
	return 0;
}

int inf_head_new(const inf_head_cfg *cfg, const inf_tensor_info *out, inf_head **ret)
{
	inf_head_sig sig = { .out = out, .n_out = 1 };
	return inf_head_new_sig(cfg, &sig, ret);
}

/* yolov10 and detr: the form from the signature, then heads_e2e.c does the rest. */
static int setup_e2e(inf_head *h, const inf_head_sig *sig)
{
	int family = (int)(h->fam - families);
	char why[512];
	int form = inf_e2e_form_of(sig, family, h->cfg.input_w, h->cfg.input_h, why, sizeof(why));
	if (form < 0) {
		char in[256], out[384];
		inf_shape_list(sig->in, sig->n_in, "inputs", in, sizeof(in));
		inf_shape_list(sig->out, sig->n_out, "outputs", out, sizeof(out));
		vp_err("head", h->fam->name, "%s; %s do not fit family %s (%s)", in, out, h->fam->name,
		       family == INF_FAM_YOLOV10 ? "one output [batch, K, 6]" :
		       "labels [B, Q] + boxes [B, Q, 4] + scores [B, Q] with an orig_target_sizes "
		       "input [B, 2], boxes [B, Q, 4] + logits [B, Q, classes], or one [B, Q, 4 + classes]");
		return VP_EMODEL;
	}
	int err = e2e_new(&h->cfg, sig, form, &h->e2e);
	if (err < 0)
		return err;
	h->nc = e2e_num_classes(h->e2e);
	if ((err = copy_class_tables(h)) < 0)
		return err;
	e2e_use_classes(h->e2e, h->class_thr, h->allow);
	return 0;
}

int inf_head_new_sig(const inf_head_cfg *cfg, const inf_head_sig *sig, inf_head **ret)
{
	*ret = NULL;
	int family = cfg->family;
	if (sig->n_out < 1) {
		vp_err("head", NULL, "the model has no outputs");
		return VP_EMODEL;
	}
	const inf_tensor_info *out = &sig->out[0];
	if (family == INF_FAM_AUTO) {
		char why[768];
		if ((family = inf_family_of_sig(sig, cfg->input_w, cfg->input_h, why, sizeof(why))) < 0) {
			vp_err("head", NULL, "family auto: %s", why);
			return VP_EMODEL;
		}
		vp_info("head", NULL, "family auto: %s (%s)", families[family].name, why);
	}
	if (family < 0 || family >= N_FAMILIES) {
		vp_err("head", NULL, "unknown model family %d", family);
		return VP_ECONFIG;
	}
	int err = check_cfg(cfg, families[family].name);
	if (err < 0)
		return err;
	inf_head *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fam = &families[family];
	h->cfg = *cfg;
	h->cfg.family = family;
	if (family == INF_FAM_YOLOV10 || family == INF_FAM_DETR) {
		if ((err = setup_e2e(h, sig)) < 0)
			goto fail;
		*ret = h;
		return 0;
	}
	if ((err = parse_shape(h, out)) < 0 || (err = setup_grid(h)) < 0 ||
	    (err = copy_class_tables(h)) < 0)
		goto fail;
	if (!(h->cand = malloc((size_t)h->n * sizeof(*h->cand)))) {
		err = -ENOMEM;
		goto fail;
	}
	*ret = h;
	return 0;
fail:
	inf_head_free(&h);
	return err;
}

int inf_head_num_classes(const inf_head *h)
{
	return h->nc;
}

int64_t inf_head_dropped(const inf_head *h)
{
	return h->e2e ? e2e_dropped(h->e2e) : h->dropped;
}

int inf_head_family(const inf_head *h)
{
	return (int)(h->fam - families);
}

int inf_head_e2e_form(const inf_head *h)
{
	return h->e2e ? e2e_form(h->e2e) : -1;
}

int inf_head_size_input(const inf_head *h)
{
	return h->e2e ? e2e_size_input(h->e2e) : -1;
}

void inf_head_fill_sizes(const inf_head *h, void *input, int b, const krn_xform *xf)
{
	if (h->e2e && e2e_size_input(h->e2e) >= 0)
		e2e_fill_sizes(h->e2e, input, b, xf);
}

void inf_head_free(inf_head **hp)
{
	inf_head *h = *hp;
	if (!h)
		return;
	e2e_free(&h->e2e);
	free(h->cand);
	free(h->grid);
	free(h->class_thr);
	free(h->allow);
	free(h);
	*hp = NULL;
}

/* See enum inf_box_format: raw offsets average about half a cell, decoded centres about
 * half the input width. Families without grid decoding only get a warning when their boxes
 * do not look like pixels (a raw YOLOX output read as a transposed YOLOv8 one). */
static void decide_box_format(inf_head *h, const float *o)
{
	double sum = 0;
	for (int i = 0; i < h->n; i++)
		sum += o[(size_t)i * h->s_anchor];
	double mean = sum / h->n;
	if (!h->fam->grid) {
		h->box_format = INF_BOX_DECODED;
		if (!(mean > 8.0))
			vp_warn("head", h->fam->name, "box centres average x %.2f over %d anchors, not about "
			        "half the %d-pixel input: the output does not look like %s's (a raw YOLOX "
			        "export? set model.family: yolox)", mean, h->n, h->cfg.input_w, h->fam->name);
		return;
	}
	h->box_format = mean > 8.0 ? INF_BOX_DECODED : INF_BOX_RAW;
	vp_info("head", h->fam->name, "boxes look %s (mean x %.2f); set box_format to override",
	        h->box_format == INF_BOX_RAW ? "raw (grid decoding on)" : "decoded", mean);
}

/* Best class of anchor row a and its final score; -1 when filtered out, -2 when the score
 * is not a probability (NaN, or outside [0, 1]: sigmoid outputs never are). */
static int score_anchor(const inf_head *h, const float *a, float *score)
{
	const size_t sf = h->s_field;
	const float *cls = a + (size_t)(4 + h->fam->has_obj) * sf;
	int best = 0;
	float bv = cls[0];
	for (int c = 1; c < h->nc; c++) {
		float v = cls[(size_t)c * sf];
		if (v > bv) {
			bv = v;
			best = c;
		}
	}
	float s = h->fam->has_obj ? a[4 * sf] * bv : bv;
	if (!(s >= 0.0f && s <= 1.0f))
		return -2;
	float thr = h->class_thr ? h->class_thr[best] : h->cfg.threshold;
	if (!(s >= thr) || (h->allow && !h->allow[best]))
		return -1;
	*score = s;
	return best;
}

/* Box of anchor i in model-input pixels, mapped to the source frame (not clipped yet:
 * NMS runs on the unclipped boxes, as the reference does). */
static void box_anchor(const inf_head *h, const float *a, int i, const krn_xform *xf, float b[4])
{
	const size_t sf = h->s_field;
	float cx = a[0], cy = a[sf], w = a[2 * sf], ht = a[3 * sf];
	if (h->box_format == INF_BOX_RAW) {
		const float *g = h->grid + (size_t)i * 3;
		cx = (cx + g[0]) * g[2];
		cy = (cy + g[1]) * g[2];
		w = expf(w) * g[2];
		ht = expf(ht) * g[2];
	}
	b[0] = (cx - 0.5f * w - xf->pad_x) / xf->scale_x;
	b[1] = (cy - 0.5f * ht - xf->pad_y) / xf->scale_y;
	b[2] = (cx + 0.5f * w - xf->pad_x) / xf->scale_x;
	b[3] = (cy + 0.5f * ht - xf->pad_y) / xf->scale_y;
}

static int box_finite(const float b[4])
{
	return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]);
}

/* Invalid candidates come from a wrong family or a broken model, image after image: one
 * warning per head, then only the count. */
static void count_dropped(inf_head *h, int n)
{
	if (n == 0)
		return;
	if (h->dropped == 0)
		vp_warn("head", h->fam->name, "dropped %d candidates of one image with a score outside "
		        "[0, 1] or a non-finite box: the output does not look like %s's (check "
		        "model.family and the model); further ones are only counted", n, h->fam->name);
	h->dropped += n;
}

static float clampf(float v, float hi)
{
	return v < 0.0f ? 0.0f : (v > hi ? hi : v);
}

int inf_head_decode(inf_head *h, const float *output, int b, const krn_xform *xf, vp_det *dets,
                    int cap)
{
	if (b < 0 || !output || !xf || !(xf->scale_x > 0.0f) || !(xf->scale_y > 0.0f) || cap < 0)
		return -EINVAL;
	if (h->e2e) {
		const void *outs[1] = { output };
		return e2e_decode(h->e2e, outs, b, xf, dets, cap);
	}
	const float *o = output + (size_t)b * h->item;
	if (h->box_format == INF_BOX_AUTO || (!h->fam->grid && !h->looked))
		decide_box_format(h, o);
	h->looked = 1;
	int n = 0, invalid = 0;
	for (int i = 0; i < h->n; i++) {
		const float *a = o + (size_t)i * h->s_anchor;
		float score;
		int cls = score_anchor(h, a, &score);
		if (cls < 0) {
			invalid += cls == -2;
			continue;
		}
		h->cand[n].class_id = cls;
		h->cand[n].score = score;
		box_anchor(h, a, i, xf, h->cand[n].bbox);
		if (!box_finite(h->cand[n].bbox)) {
			invalid++;
			continue;
		}
		n++;
	}
	count_dropped(h, invalid);
	int keep = h->cfg.max_detections > 0 && h->cfg.max_detections < cap ? h->cfg.max_detections
	                                                                    : cap;
	n = inf_nms(h->cand, n, h->cfg.nms_iou, keep);
	for (int i = 0; i < n; i++) {
		dets[i] = h->cand[i];
		dets[i].bbox[0] = clampf(dets[i].bbox[0], (float)xf->src_w);
		dets[i].bbox[1] = clampf(dets[i].bbox[1], (float)xf->src_h);
		dets[i].bbox[2] = clampf(dets[i].bbox[2], (float)xf->src_w);
		dets[i].bbox[3] = clampf(dets[i].bbox[3], (float)xf->src_h);
	}
	return n;
}

int inf_head_decode_outputs(inf_head *h, const void *const *outputs, int b, const krn_xform *xf,
                            vp_det *dets, int cap)
{
	if (!outputs || !outputs[0])
		return -EINVAL;
	if (!h->e2e)
		return inf_head_decode(h, outputs[0], b, xf, dets, cap);
	if (b < 0 || !xf || !(xf->scale_x > 0.0f) || !(xf->scale_y > 0.0f) || cap < 0)
		return -EINVAL;
	return e2e_decode(h->e2e, outputs, b, xf, dets, cap);
}
