/* Detector heads and NMS: real model outputs against onnxruntime's reference detections,
 * synthetic tensors for the layouts no shared model has (YOLOv5, decoded YOLOX). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "infer/heads/heads.h"
#include "pipeline/vp_err.h"
#include "tensor_pb.h"

#define MAX_DETS 300

static const char *shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s ? s : "../shared";
}

static void load_output(const char *io_dir, test_tensor *t)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/data/reference/%s/output_0.pb", shared_dir(), io_dir);
	assert_int_equal(test_tensor_load(path, t), 0);
	assert_int_equal(t->ndim, 3);
}

static inf_tensor_info info_of(const test_tensor *t)
{
	inf_tensor_info info = { .name = "output", .dtype = INF_DT_FLOAT, .ndim = t->ndim };
	for (int i = 0; i < t->ndim; i++)
		info.dims[i] = t->dims[i];
	return info;
}

static inf_tensor_info info3(int64_t b, int64_t d1, int64_t d2)
{
	return (inf_tensor_info){ .name = "synthetic", .dtype = INF_DT_FLOAT, .ndim = 3,
	                          .dims = { b, d1, d2 } };
}

/* Frame 0 of a reference JSON Lines file: {"frame":0,"detections":[{"class_id":..}]}. */
static int load_ref_frame0(const char *name, vp_det *d, int cap)
{
	char path[1024], line[16384];
	snprintf(path, sizeof(path), "%s/data/reference/%s", shared_dir(), name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(strstr(line, "\"frame\":0,"));
	int n = 0;
	for (const char *p = strstr(line, "\"class_id\":"); p && n < cap;
	     p = strstr(p + 1, "\"class_id\":")) {
		assert_int_equal(sscanf(p, "\"class_id\":%d,\"score\":%f,\"bbox\":[%f,%f,%f,%f]",
		                        &d[n].class_id, &d[n].score, &d[n].bbox[0], &d[n].bbox[1],
		                        &d[n].bbox[2], &d[n].bbox[3]), 6);
		n++;
	}
	return n;
}

static inf_head_cfg ref_cfg(int family, int size)
{
	return (inf_head_cfg){ .family = family, .input_w = size, .input_h = size,
	                       .threshold = 0.25f, .nms_iou = 0.45f, .max_detections = 100 };
}

/* The reference rounds boxes to 0.1 px and scores to 1e-4. */
static void assert_dets_match_reference(const vp_det *got, int n, const char *ref_file)
{
	vp_det ref[MAX_DETS];
	int nref = load_ref_frame0(ref_file, ref, MAX_DETS);
	printf("# %s frame 0: %d detections, reference %d\n", ref_file, n, nref);
	assert_true(nref > 0);
	assert_int_equal(n, nref);
	for (int i = 0; i < n; i++) {
		int found = 0;
		for (int j = 0; j < nref && !found; j++) {
			if (ref[j].class_id != got[i].class_id || fabsf(ref[j].score - got[i].score) > 1e-3f)
				continue;
			found = 1;
			for (int k = 0; k < 4; k++)
				found &= fabsf(ref[j].bbox[k] - got[i].bbox[k]) <= 0.5f;
		}
		if (!found)
			fail_msg("detection %d (class %d, score %.4f, [%.1f %.1f %.1f %.1f]) not in %s", i,
			         got[i].class_id, got[i].score, got[i].bbox[0], got[i].bbox[1],
			         got[i].bbox[2], got[i].bbox[3], ref_file);
	}
}

static int decode_with(const inf_head_cfg *cfg, const inf_tensor_info *info, const float *out,
                       int b, const krn_xform *xf, vp_det *dets)
{
	inf_head *h = NULL;
	assert_int_equal(inf_head_new(cfg, info, &h), 0);
	int n = inf_head_decode(h, out, b, xf, dets, MAX_DETS);
	assert_true(n >= 0);
	inf_head_free(&h);
	assert_null(h);
	return n;
}

static void family_xform(int family, int size, int w, int h, krn_xform *xf)
{
	krn_pre_params p;
	inf_family_preset(family, &p);
	p.dst_w = p.dst_h = size;
	krn_pre_xform(&p, w, h, xf);
}

static void test_yolox_raw_output_matches_reference(void **state)
{
	(void)state;
	test_tensor t;
	krn_xform xf;
	vp_det d[MAX_DETS];
	load_output("yolox_nano.io", &t);
	inf_tensor_info info = info_of(&t);
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOX, 416);
	family_xform(INF_FAM_YOLOX, 416, 768, 432, &xf);
	int n = decode_with(&cfg, &info, t.data, 0, &xf, d);
	assert_dets_match_reference(d, n, "people-432p.yolox_nano.jsonl");
	cfg.box_format = INF_BOX_RAW; /* what AUTO must have chosen */
	vp_det e[MAX_DETS];
	assert_int_equal(decode_with(&cfg, &info, t.data, 0, &xf, e), n);
	assert_memory_equal(d, e, (size_t)n * sizeof(*d));
	free(t.data);
}

static void test_yolov8_output_matches_reference(void **state)
{
	(void)state;
	test_tensor t;
	krn_xform xf;
	vp_det d[MAX_DETS];
	load_output("yolov8n.io", &t);
	inf_tensor_info info = info_of(&t);
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOV8, 640);
	family_xform(INF_FAM_YOLOV8, 640, 960, 540, &xf);
	int n = decode_with(&cfg, &info, t.data, 0, &xf, d);
	assert_dets_match_reference(d, n, "highway-540p.yolov8n.jsonl");
	free(t.data);
}

/* [1, 84, N] transposed to [1, N, 84] (some exporters do this) gives the same boxes. */
static void test_yolov8_transposed_layout_gives_same_detections(void **state)
{
	(void)state;
	test_tensor t;
	krn_xform xf;
	vp_det d[MAX_DETS], e[MAX_DETS];
	load_output("yolov8n.io", &t);
	int f = (int)t.dims[1], n = (int)t.dims[2];
	float *tr = malloc(t.n * sizeof(float));
	for (int i = 0; i < n; i++)
		for (int k = 0; k < f; k++)
			tr[(size_t)i * f + k] = t.data[(size_t)k * n + i];
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOV8, 640);
	family_xform(INF_FAM_YOLOV8, 640, 960, 540, &xf);
	inf_tensor_info a = info_of(&t), b = info3(1, n, f);
	int na = decode_with(&cfg, &a, t.data, 0, &xf, d);
	assert_int_equal(decode_with(&cfg, &b, tr, 0, &xf, e), na);
	assert_memory_equal(d, e, (size_t)na * sizeof(*d));
	free(tr);
	free(t.data);
}

/* The real raw YOLOX output decoded here to input pixels, as a YOLOX export with
 * decode_in_inference would emit it: auto-detected, same detections as the raw path. */
static void test_yolox_decoded_export_is_detected_and_matches(void **state)
{
	(void)state;
	test_tensor t;
	krn_xform xf;
	vp_det d[MAX_DETS], e[MAX_DETS];
	load_output("yolox_nano.io", &t);
	float *dec = malloc(t.n * sizeof(float));
	memcpy(dec, t.data, t.n * sizeof(float));
	int i = 0, f = (int)t.dims[2];
	for (int s = 8; s <= 32; s *= 2) {
		for (int gy = 0; gy < 416 / s; gy++) {
			for (int gx = 0; gx < 416 / s; gx++, i++) {
				float *a = dec + (size_t)i * f;
				a[0] = (a[0] + gx) * s;
				a[1] = (a[1] + gy) * s;
				a[2] = expf(a[2]) * s;
				a[3] = expf(a[3]) * s;
			}
		}
	}
	assert_int_equal(i, t.dims[1]);
	inf_tensor_info info = info_of(&t);
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOX, 416);
	family_xform(INF_FAM_YOLOX, 416, 768, 432, &xf);
	int n = decode_with(&cfg, &info, t.data, 0, &xf, d);
	assert_int_equal(decode_with(&cfg, &info, dec, 0, &xf, e), n);
	for (int k = 0; k < n; k++) {
		assert_int_equal(d[k].class_id, e[k].class_id);
		assert_float_equal(d[k].score, e[k].score, 1e-6);
		for (int c = 0; c < 4; c++)
			assert_float_equal(d[k].bbox[c], e[k].bbox[c], 1e-3);
	}
	/* forcing the wrong format changes the result, so the choice matters */
	cfg.box_format = INF_BOX_RAW;
	int wrong = decode_with(&cfg, &info, dec, 0, &xf, e);
	assert_true(wrong != n || memcmp(d, e, (size_t)n * sizeof(*d)));
	free(dec);
	free(t.data);
}

/* ---- synthetic tensors [B, N, 5 + nc] (YOLOv5 / decoded YOLOX layout) -------- */

#define NC 4
#define FIELDS (5 + NC)

static void put(float *o, int i, float cx, float cy, float w, float h, float obj, int cls,
                float p)
{
	float *a = o + (size_t)i * FIELDS;
	memset(a, 0, FIELDS * sizeof(float));
	a[0] = cx; a[1] = cy; a[2] = w; a[3] = h; a[4] = obj;
	a[5 + cls] = p;
	a[5 + (cls + 1) % NC] = p * 0.5f; /* a weaker runner-up class must not win */
}

static const krn_xform identity = { 1, 1, 0, 0, 1000, 1000 };

static int decode_v5(float *o, int n, const inf_head_cfg *over, const krn_xform *xf, vp_det *d)
{
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV5, .input_w = 640, .input_h = 640,
	                     .threshold = 0.25f, .nms_iou = 0.45f };
	if (over)
		cfg = *over;
	inf_tensor_info info = info3(1, n, FIELDS);
	return decode_with(&cfg, &info, o, 0, xf ? xf : &identity, d);
}

static void test_yolov5_scores_objectness_times_class_and_maps_back(void **state)
{
	(void)state;
	float o[3 * FIELDS];
	vp_det d[8];
	put(o, 0, 320, 320, 100, 50, 0.9f, 2, 0.8f);  /* 0.72 */
	put(o, 1, 100, 300, 40, 40, 0.3f, 1, 0.9f);   /* 0.27 */
	put(o, 2, 500, 200, 40, 40, 0.9f, 3, 0.2f);   /* 0.18: below threshold */
	/* 1280x720 centred in 640: r = 0.5, pad top 140 */
	krn_xform xf;
	family_xform(INF_FAM_YOLOV5, 640, 1280, 720, &xf);
	assert_float_equal(xf.pad_y, 140, 0);
	int n = decode_v5(o, 3, NULL, &xf, d);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].class_id, 2);
	assert_float_equal(d[0].score, 0.72, 1e-6);
	assert_float_equal(d[0].bbox[0], (270 - 0) / 0.5, 1e-3);
	assert_float_equal(d[0].bbox[1], (295 - 140) / 0.5, 1e-3);
	assert_float_equal(d[0].bbox[2], (370 - 0) / 0.5, 1e-3);
	assert_float_equal(d[0].bbox[3], (345 - 140) / 0.5, 1e-3);
	assert_int_equal(d[1].class_id, 1);
	assert_float_equal(d[1].score, 0.27, 1e-6);
}

/* A candidate is kept when its score is >= the threshold, as the reference takes them
 * ("best-class score >= 0.25"): 0.5 x 0.5 is exactly 0.25 in float, and one ulp less is not. */
static void test_score_equal_to_the_threshold_is_kept(void **state)
{
	(void)state;
	float o[2 * FIELDS];
	vp_det d[4];
	put(o, 0, 100, 100, 40, 40, 0.5f, 1, 0.5f);                      /* 0.25 */
	put(o, 1, 400, 400, 40, 40, 0.5f, 2, nextafterf(0.5f, 0.0f));    /* just under */
	assert_int_equal(decode_v5(o, 2, NULL, NULL, d), 1);
	assert_int_equal(d[0].class_id, 1);
	assert_true(d[0].score == 0.25f);
}

static void test_nms_is_class_aware(void **state)
{
	(void)state;
	float o[4 * FIELDS];
	vp_det d[8];
	put(o, 0, 100, 100, 50, 50, 1.0f, 0, 0.9f);
	put(o, 1, 102, 101, 50, 50, 1.0f, 0, 0.8f); /* same class, IoU ~0.9: suppressed */
	put(o, 2, 101, 100, 50, 50, 1.0f, 1, 0.7f); /* other class on top: kept */
	put(o, 3, 130, 100, 50, 50, 1.0f, 0, 0.6f); /* same class, IoU 0.25: kept */
	int n = decode_v5(o, 4, NULL, NULL, d);
	assert_int_equal(n, 3);
	assert_float_equal(d[0].score, 0.9, 1e-6);
	assert_int_equal(d[1].class_id, 1);
	assert_float_equal(d[2].score, 0.6, 1e-6);
	/* the IoU threshold is configurable: at 0.2 the 0.25-overlap box goes too */
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV5, .input_w = 640, .input_h = 640,
	                     .threshold = 0.25f, .nms_iou = 0.2f };
	assert_int_equal(decode_v5(o, 4, &cfg, NULL, d), 2);
}

static void test_inf_nms_sorts_and_limits(void **state)
{
	(void)state;
	vp_det d[4] = {
		{ 0, 0.5f, { 0, 0, 10, 10 } }, { 0, 0.9f, { 1, 1, 11, 11 } },
		{ 3, 0.7f, { 0, 0, 10, 10 } }, { 0, 0.6f, { 50, 50, 60, 60 } },
	};
	assert_float_equal(inf_iou(d[0].bbox, d[1].bbox), 81.0 / 119.0, 1e-6);
	assert_float_equal(inf_iou(d[0].bbox, d[3].bbox), 0, 0);
	int n = inf_nms(d, 4, 0.5f, 10);
	assert_int_equal(n, 3);
	assert_true(d[0].score == 0.9f && d[1].score == 0.7f && d[2].score == 0.6f);
	assert_int_equal(inf_nms(d, 3, 0.5f, 1), 1);
	assert_true(d[0].score == 0.9f);
}

/* Suppression is IoU > threshold, as in onnxruntime's NonMaxSuppression and torchvision's
 * nms: a box overlapping a kept one by exactly the threshold stays. IoUs here are exact in
 * float (areas 100, 200, 50, 60). */
static void test_inf_nms_keeps_a_box_at_exactly_the_threshold(void **state)
{
	(void)state;
	vp_det d[3] = {
		{ 0, 0.9f, { 0, 0, 10, 10 } },  /* kept first */
		{ 0, 0.8f, { 0, 0, 20, 10 } },  /* IoU 100 / 200 = 0.5 with the first */
		{ 0, 0.7f, { 0, 0, 10, 6 } },   /* IoU 60 / 100 = 0.6 with the first */
	};
	assert_true(inf_iou(d[0].bbox, d[1].bbox) == 0.5f);
	assert_true(inf_iou(d[0].bbox, d[2].bbox) == 0.6f);
	assert_int_equal(inf_nms(d, 3, 0.5f, 10), 2);
	assert_true(d[0].score == 0.9f && d[1].score == 0.8f);
	/* just under the IoU, the same box goes */
	vp_det e[2] = { { 0, 0.9f, { 0, 0, 10, 10 } }, { 0, 0.8f, { 0, 0, 20, 10 } } };
	assert_int_equal(inf_nms(e, 2, nextafterf(0.5f, 0.0f), 10), 1);
}

static void test_per_class_thresholds_and_allow_list(void **state)
{
	(void)state;
	float o[4 * FIELDS], thr[NC] = { 0.5f, 0.1f, 0.9f, 0.25f };
	uint8_t allow[NC] = { 1, 1, 0, 1 };
	vp_det d[8];
	put(o, 0, 100, 100, 20, 20, 1.0f, 0, 0.4f);   /* class 0 needs 0.5: dropped */
	put(o, 1, 200, 100, 20, 20, 1.0f, 1, 0.15f);  /* class 1 needs 0.1: kept */
	put(o, 2, 300, 100, 20, 20, 1.0f, 2, 0.95f);  /* class 2 passes 0.9 */
	put(o, 3, 400, 100, 20, 20, 1.0f, 3, 0.3f);   /* class 3 passes 0.25 */
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV5, .input_w = 640, .input_h = 640,
	                     .threshold = 0.25f, .nms_iou = 0.45f, .class_threshold = thr };
	int n = decode_v5(o, 4, &cfg, NULL, d);
	assert_int_equal(n, 3);
	assert_int_equal(d[0].class_id, 2);
	assert_int_equal(d[1].class_id, 3);
	assert_int_equal(d[2].class_id, 1);
	cfg.class_allow = allow; /* class 2 not allowed */
	n = decode_v5(o, 4, &cfg, NULL, d);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].class_id, 3);
	assert_int_equal(d[1].class_id, 1);
}

static void test_max_detections_keeps_best(void **state)
{
	(void)state;
	float o[20 * FIELDS];
	vp_det d[32];
	for (int i = 0; i < 20; i++)
		put(o, i, 30.0f * i + 20, 50, 20, 20, 1.0f, i % NC, 0.3f + 0.03f * i);
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV5, .input_w = 640, .input_h = 640,
	                     .threshold = 0.25f, .nms_iou = 0.45f, .max_detections = 5 };
	int n = decode_v5(o, 20, &cfg, NULL, d);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_float_equal(d[i].score, 0.3f + 0.03f * (19 - i), 1e-6);
	cfg.max_detections = 0;
	assert_int_equal(decode_v5(o, 20, &cfg, NULL, d), 20);
	/* the caller's capacity also bounds the output */
	inf_head *h = NULL;
	inf_tensor_info info = info3(1, 20, FIELDS);
	assert_int_equal(inf_head_new(&cfg, &info, &h), 0);
	assert_int_equal(inf_head_num_classes(h), NC);
	assert_int_equal(inf_head_decode(h, o, 0, &identity, d, 7), 7);
	inf_head_free(&h);
}

static void test_boxes_are_clipped_to_the_frame(void **state)
{
	(void)state;
	float o[2 * FIELDS];
	vp_det d[4];
	krn_xform xf = { 0.5f, 0.5f, 0, 20, 300, 200 };
	put(o, 0, 10, 30, 60, 40, 1.0f, 0, 0.9f);   /* left/top outside */
	put(o, 1, 150, 110, 20, 40, 1.0f, 1, 0.8f); /* right/bottom outside */
	int n = decode_v5(o, 2, NULL, &xf, d);
	assert_int_equal(n, 2);
	assert_float_equal(d[0].bbox[0], 0, 0);
	assert_float_equal(d[0].bbox[1], 0, 0);
	assert_float_equal(d[0].bbox[2], 80, 1e-4);
	assert_float_equal(d[0].bbox[3], 60, 1e-4);
	assert_float_equal(d[1].bbox[0], 280, 1e-4);
	assert_float_equal(d[1].bbox[2], 300, 0);
	assert_float_equal(d[1].bbox[3], 200, 0);
}

static void test_nothing_above_threshold_gives_zero(void **state)
{
	(void)state;
	test_tensor t;
	krn_xform xf;
	vp_det d[MAX_DETS];
	load_output("yolov8n.io", &t);
	inf_tensor_info info = info_of(&t);
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOV8, 640);
	cfg.threshold = 0.99f;
	family_xform(INF_FAM_YOLOV8, 640, 960, 540, &xf);
	assert_int_equal(decode_with(&cfg, &info, t.data, 0, &xf, d), 0);
	float o[3 * FIELDS];
	for (int i = 0; i < 3; i++)
		put(o, i, 100, 100, 20, 20, 0.2f, 0, 0.9f);
	assert_int_equal(decode_v5(o, 3, NULL, NULL, d), 0);
	free(t.data);
}

/* Item b of a batch is read at b * item size. */
static void test_decodes_the_requested_batch_item(void **state)
{
	(void)state;
	float o[2 * 2 * FIELDS];
	vp_det d[4];
	put(o, 0, 100, 100, 20, 20, 1.0f, 0, 0.9f);
	put(o, 1, 300, 100, 20, 20, 1.0f, 1, 0.8f);
	put(o, 2, 200, 200, 20, 20, 1.0f, 2, 0.7f);
	put(o, 3, 100, 100, 20, 20, 0.0f, 3, 0.0f);
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV5, .input_w = 640, .input_h = 640,
	                     .threshold = 0.25f, .nms_iou = 0.45f };
	inf_tensor_info info = info3(2, 2, FIELDS);
	inf_head *h = NULL;
	assert_int_equal(inf_head_new(&cfg, &info, &h), 0);
	assert_int_equal(inf_head_decode(h, o, 0, &identity, d, 4), 2);
	assert_int_equal(inf_head_decode(h, o, 1, &identity, d, 4), 1);
	assert_int_equal(d[0].class_id, 2);
	inf_head_free(&h);
}

static void test_rejects_bad_shapes_and_config(void **state)
{
	(void)state;
	inf_head *h = NULL;
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOX, 416);
	inf_tensor_info two = { .dtype = INF_DT_FLOAT, .ndim = 2, .dims = { 1, 85 } };
	assert_int_equal(inf_head_new(&cfg, &two, &h), VP_EMODEL);
	inf_tensor_info thin = info3(1, 3549, 5); /* no class column */
	assert_int_equal(inf_head_new(&cfg, &thin, &h), VP_EMODEL);
	inf_tensor_info half = info3(1, 3549, 85);
	half.dtype = INF_DT_FLOAT16;
	assert_int_equal(inf_head_new(&cfg, &half, &h), VP_EMODEL);
	inf_tensor_info odd = info3(1, 1000, 85); /* not the 416 grid */
	cfg.box_format = INF_BOX_RAW;
	assert_int_equal(inf_head_new(&cfg, &odd, &h), VP_EMODEL);
	cfg.box_format = INF_BOX_AUTO; /* can only be decoded boxes: accepted */
	assert_int_equal(inf_head_new(&cfg, &odd, &h), 0);
	inf_head_free(&h);
	cfg.nms_iou = 0;
	assert_int_equal(inf_head_new(&cfg, &half, &h), VP_ECONFIG);
	cfg = ref_cfg(7, 416);
	assert_int_equal(inf_head_new(&cfg, &half, &h), VP_ECONFIG);
	assert_null(h);
}

/* ---- wrong families and invalid values ------------------------------------------ */

/* What f(arg) logs to stderr, in a malloc'ed string. */
static char *stderr_of(int (*f)(void *), void *arg, int *ret)
{
	char path[] = "/tmp/vapd-heads-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	*ret = f(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t len = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	close(fd);
	unlink(path);
	return text;
}

typedef struct new_args {
	inf_head_cfg cfg;
	inf_tensor_info info;
} new_args;

static int new_and_free(void *p)
{
	new_args *a = p;
	inf_head *h = NULL;
	int rc = inf_head_new(&a->cfg, &a->info, &h);
	inf_head_free(&h);
	return rc;
}

/* inf_head_new(family, shape) refused with VP_EMODEL and a line naming the shape. */
static void expect_refused(int family, int size, inf_tensor_info info, const char *want)
{
	new_args a = { ref_cfg(family, size), info };
	int rc;
	char *log = stderr_of(new_and_free, &a, &rc);
	if (rc != VP_EMODEL || !strstr(log, want))
		fprintf(stderr, "family %s: rc %d, expected a line holding\n  %s\ngot:\n%s",
		        inf_family_name(family), rc, want, log);
	assert_int_equal(rc, VP_EMODEL);
	assert_non_null(strstr(log, want));
	free(log);
}

static void test_output_shape_of_another_family_is_refused_naming_it(void **state)
{
	(void)state;
	inf_tensor_info v8 = info3(1, 84, 8400), yx = info3(1, 3549, 85), v5 = info3(1, 25200, 85);
	/* yolov8n (issue: class_id 8345, score 38006 with family: yolov5) */
	expect_refused(INF_FAM_YOLOV5, 640, v8, "output 'synthetic' [1, 84, 8400] does not fit family yolov5 "
	                                        "for a 640x640 input");
	expect_refused(INF_FAM_YOLOV5, 640, v8, "it looks like yolov8 (set model.family: yolov8 or auto)");
	expect_refused(INF_FAM_YOLOX, 640, v8, "[1, 84, 8400] does not fit family yolox");
	expect_refused(INF_FAM_YOLOV5, 416, yx, "[1, 3549, 85] does not fit family yolov5 for a 416x416 input: "
	                                        "one anchor per stride 8/16/32 cell (anchor-free), not 3; it looks "
	                                        "like yolox");
	expect_refused(INF_FAM_YOLOX, 640, v5, "[1, 25200, 85] does not fit family yolox");
	expect_refused(INF_FAM_YOLOV8, 640, v5, "[1, 25200, 85] does not fit family yolov8");
	/* Each shape under its own family loads. */
	new_args ok[] = { { ref_cfg(INF_FAM_YOLOV8, 640), v8 }, { ref_cfg(INF_FAM_YOLOX, 416), yx },
	                  { ref_cfg(INF_FAM_YOLOV5, 640), v5 } };
	for (int i = 0; i < 3; i++)
		assert_int_equal(new_and_free(&ok[i]), 0);
}

static void test_family_auto_picks_the_family_from_the_shape(void **state)
{
	(void)state;
	char why[256];
	inf_tensor_info v8 = info3(1, 84, 8400), yx = info3(1, 3549, 85), v5 = info3(1, 25200, 85);
	assert_int_equal(inf_family_of_shape(&v8, 640, 640, why, sizeof(why)), INF_FAM_YOLOV8);
	assert_string_equal(why, "output [1, 84, 8400] has its 8400 anchors last, after 84 fields");
	assert_int_equal(inf_family_of_shape(&yx, 416, 416, why, sizeof(why)), INF_FAM_YOLOX);
	assert_string_equal(why, "output [1, 3549, 85] has its 3549 anchors first, one per stride 8/16/32 cell");
	assert_int_equal(inf_family_of_shape(&v5, 640, 640, why, sizeof(why)), INF_FAM_YOLOV5);
	inf_tensor_info two = { .dtype = INF_DT_FLOAT, .ndim = 2, .dims = { 1, 85 } };
	assert_int_equal(inf_family_of_shape(&two, 640, 640, why, sizeof(why)), -1);
	assert_int_equal(inf_family_parse("auto"), INF_FAM_AUTO);
	/* The head resolves auto too, with one info line naming the family and why. */
	new_args a = { ref_cfg(INF_FAM_AUTO, 640), v8 };
	int rc;
	char *log = stderr_of(new_and_free, &a, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(log, "family auto: yolov8 (output [1, 84, 8400] has its 8400 anchors last"));
	free(log);
	inf_head *h = NULL;
	a = (new_args){ ref_cfg(INF_FAM_AUTO, 416), yx };
	assert_int_equal(inf_head_new(&a.cfg, &a.info, &h), 0);
	assert_int_equal(inf_head_num_classes(h), 80);   /* read as yolox: objectness + 80 */
	inf_head_free(&h);
}

static void assert_dets_valid(const vp_det *d, int n, int nc)
{
	for (int i = 0; i < n; i++) {
		assert_true(d[i].score >= 0.0f && d[i].score <= 1.0f);
		assert_true(d[i].class_id >= 0 && d[i].class_id < nc);
		for (int c = 0; c < 4; c++)
			assert_true(isfinite(d[i].bbox[c]));
	}
}

typedef struct decode_args {
	inf_head *h;
	const float *out;
	vp_det *d;
} decode_args;

static int decode_one(void *p)
{
	decode_args *a = p;
	return inf_head_decode(a->h, a->out, 0, &identity, a->d, 8);
}

/* Scores outside [0, 1], NaN anywhere and boxes that overflow are dropped and counted, with
 * one warning per head; the valid candidate among them still comes out. */
static void test_nan_and_huge_values_never_become_detections(void **state)
{
	(void)state;
	float o[8 * FIELDS];
	vp_det d[8];
	put(o, 0, 100, 100, 20, 20, 1.0f, 0, 0.9f);          /* the one valid box */
	put(o, 1, 300, 100, 20, 20, 38006.0f, 1, 0.9f);      /* score far above 1 */
	put(o, 2, NAN, 100, 20, 20, 1.0f, 2, 0.9f);          /* NaN box */
	put(o, 3, 500, 500, INFINITY, 20, 1.0f, 3, 0.9f);    /* infinite box */
	put(o, 4, 700, 100, 20, 20, NAN, 0, 0.9f);           /* NaN objectness */
	put(o, 5, 700, 700, 20, 20, 1.0f, 1, NAN);           /* NaN class score */
	put(o, 6, -INFINITY, 900, 20, 20, 1.0f, 2, 0.8f);    /* -inf box */
	put(o, 7, 800, 800, 20, 20, -1.0f, 3, 0.9f);         /* negative score */
	o[5 * FIELDS + 5 + 2] = 0.0f;                        /* NaN must be the best class */
	inf_head_cfg cfg = { .family = INF_FAM_YOLOV5, .input_w = 640, .input_h = 640,
	                     .threshold = 0.25f, .nms_iou = 0.45f };
	inf_tensor_info info = info3(1, 8, FIELDS);
	inf_head *h = NULL;
	assert_int_equal(inf_head_new(&cfg, &info, &h), 0);
	decode_args a = { h, o, d };
	int n;
	char *log = stderr_of(decode_one, &a, &n);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].class_id, 0);
	assert_dets_valid(d, n, NC);
	assert_int_equal(inf_head_dropped(h), 6);   /* all but 0 and 5 (NaN never wins the class max) */
	assert_non_null(strstr(log, "score outside [0, 1] or a non-finite box"));
	free(log);
	int64_t before = inf_head_dropped(h);
	log = stderr_of(decode_one, &a, &n);                 /* counted again, not logged again */
	assert_int_equal(n, 1);
	assert_int_equal(inf_head_dropped(h), 2 * before);
	assert_string_equal(log, "");
	free(log);
	inf_head_free(&h);
}

/* A YOLOX output read as a transposed YOLOv8 one (the shapes fit both): a warning that the
 * boxes are not in pixels, and whatever comes out is a valid detection (the issue: 100 junk
 * boxes a frame). */
static void test_yolox_output_read_as_yolov8_gives_only_valid_detections(void **state)
{
	(void)state;
	test_tensor t;
	krn_xform xf;
	vp_det d[MAX_DETS];
	load_output("yolox_nano.io", &t);
	inf_tensor_info info = info_of(&t);
	inf_head_cfg cfg = ref_cfg(INF_FAM_YOLOV8, 416);
	family_xform(INF_FAM_YOLOV8, 416, 768, 432, &xf);
	inf_head *h = NULL;
	assert_int_equal(inf_head_new(&cfg, &info, &h), 0);
	decode_args a = { h, t.data, d };
	int n;
	char *log = stderr_of(decode_one, &a, &n);   /* the first decode looks at the boxes */
	assert_non_null(strstr(log, "not about half the 416-pixel input: the output does not look like "
	                            "yolov8's (a raw YOLOX export? set model.family: yolox)"));
	free(log);
	n = inf_head_decode(h, t.data, 0, &xf, d, MAX_DETS);
	assert_true(n >= 0);
	assert_dets_valid(d, n, inf_head_num_classes(h));
	inf_head_free(&h);
	free(t.data);
}

static void test_family_names_and_presets(void **state)
{
	(void)state;
	krn_pre_params p;
	assert_int_equal(inf_family_parse("yolox"), INF_FAM_YOLOX);
	assert_int_equal(inf_family_parse("yolo11"), INF_FAM_YOLOV8);
	assert_int_equal(inf_family_parse("yolov5"), INF_FAM_YOLOV5);
	assert_int_equal(inf_family_parse("ssd"), -1);
	assert_string_equal(inf_family_name(INF_FAM_YOLOV8), "yolov8");
	inf_family_preset(INF_FAM_YOLOX, &p);
	assert_true(p.bgr && p.placement == KRN_TOP_LEFT && p.scale[0] == 1.0f &&
	            p.pad_value == 114.0f && p.resize == KRN_LETTERBOX && p.dst_w == 0);
	inf_family_preset(INF_FAM_YOLOV5, &p);
	assert_true(!p.bgr && p.placement == KRN_CENTER && fabsf(p.scale[2] * 255.0f - 1) < 1e-6f &&
	            p.pad_value == 114.0f && p.dst_h == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yolox_raw_output_matches_reference),
		cmocka_unit_test(test_yolov8_output_matches_reference),
		cmocka_unit_test(test_yolov8_transposed_layout_gives_same_detections),
		cmocka_unit_test(test_yolox_decoded_export_is_detected_and_matches),
		cmocka_unit_test(test_yolov5_scores_objectness_times_class_and_maps_back),
		cmocka_unit_test(test_score_equal_to_the_threshold_is_kept),
		cmocka_unit_test(test_nms_is_class_aware),
		cmocka_unit_test(test_inf_nms_sorts_and_limits),
		cmocka_unit_test(test_inf_nms_keeps_a_box_at_exactly_the_threshold),
		cmocka_unit_test(test_per_class_thresholds_and_allow_list),
		cmocka_unit_test(test_max_detections_keeps_best),
		cmocka_unit_test(test_boxes_are_clipped_to_the_frame),
		cmocka_unit_test(test_nothing_above_threshold_gives_zero),
		cmocka_unit_test(test_decodes_the_requested_batch_item),
		cmocka_unit_test(test_rejects_bad_shapes_and_config),
		cmocka_unit_test(test_family_names_and_presets),
		cmocka_unit_test(test_output_shape_of_another_family_is_refused_naming_it),
		cmocka_unit_test(test_family_auto_picks_the_family_from_the_shape),
		cmocka_unit_test(test_nan_and_huge_values_never_become_detections),
		cmocka_unit_test(test_yolox_output_read_as_yolov8_gives_only_valid_detections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
