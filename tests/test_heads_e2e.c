/* End-to-end heads (yolov10, detr) on hand-made tensors: each form's decoding, filters,
 * letterbox mapping, NMS only when asked, and family auto reading the whole signature
 * (refusing, with the shapes named, what fits no family). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "infer/detector_gpu.h"
#include "infer/heads/heads.h"
#include "pipeline/vp_err.h"
#ifdef VP_HAVE_CUDA
#include "infer/heads/heads_cuda.h"
#endif

#define CAP 16

static const krn_xform identity = { 1.0f, 1.0f, 0.0f, 0.0f, 640, 640 };
/* A 1280x720 frame letterboxed into 640x640: scale 0.5, 140 rows of padding on top. */
static const krn_xform letterbox = { 0.5f, 0.5f, 0.0f, 140.0f, 1280, 720 };

static inf_tensor_info tinfo(const char *name, int dtype, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
	return (inf_tensor_info){ .name = name, .dtype = dtype, .ndim = ndim, .dims = { d0, d1, d2 } };
}

static inf_head_cfg cfg_of(int family)
{
	return (inf_head_cfg){ .family = family, .input_w = 640, .input_h = 640, .threshold = 0.25f,
	                       .nms_iou = 0.45f, .max_detections = 100 };
}

static void assert_box(const vp_det *d, float x1, float y1, float x2, float y2)
{
	const float b[4] = { x1, y1, x2, y2 };
	for (int k = 0; k < 4; k++)
		if (fabsf(d->bbox[k] - b[k]) > 1e-3f)
			fail_msg("box [%g %g %g %g], expected [%g %g %g %g]", d->bbox[0], d->bbox[1],
			         d->bbox[2], d->bbox[3], x1, y1, x2, y2);
}

/* [2, 4, 6]: item 1 holds two overlapping cars, a weak person and a broken row. */
static const float yolo_rows[2 * 4 * 6] = {
	10, 10, 50, 50, 0.9f, 0, 0, 0, 0, 0, 0.0f, 0, 0, 0, 0, 0, 0.0f, 0, 0, 0, 0, 0, 0.0f, 0,
	100, 240, 300, 340, 0.8f, 2, 110, 240, 300, 340, 0.7f, 2, 0, 140, 20, 160, 0.2f, 0,
	5, 5, 6, 6, 1.5f, 1,
};

static void test_yolov10_keeps_overlapping_rows_and_maps_through_the_letterbox(void **state)
{
	(void)state;
	inf_tensor_info out = tinfo("output0", INF_DT_FLOAT, 3, 2, 4, 6);
	inf_head_cfg cfg = cfg_of(INF_FAM_YOLOV10);
	inf_head *h = NULL;
	vp_det d[CAP];
	assert_int_equal(inf_head_new(&cfg, &out, &h), 0);
	assert_int_equal(inf_head_num_classes(h), 80);
	assert_int_equal(inf_head_e2e_form(h), INF_E2E_YOLO);
	assert_int_equal(inf_head_size_input(h), -1);
	/* No NMS by default: the graph's own top-k chose these rows. */
	assert_int_equal(inf_head_decode(h, yolo_rows, 1, &letterbox, d, CAP), 2);
	assert_int_equal(d[0].class_id, 2);
	assert_true(fabsf(d[0].score - 0.8f) < 1e-6f);
	assert_box(&d[0], 200, 200, 600, 400);
	assert_box(&d[1], 220, 200, 600, 400);
	/* The row with score 1.5 is no detection: dropped and counted. */
	assert_int_equal(inf_head_dropped(h), 1);
	assert_int_equal(inf_head_decode(h, yolo_rows, 0, &identity, d, CAP), 1);
	assert_box(&d[0], 10, 10, 50, 50);
	inf_head_free(&h);
}

static void test_yolov10_runs_nms_only_when_nms_iou_was_written(void **state)
{
	(void)state;
	inf_tensor_info out = tinfo("output0", INF_DT_FLOAT, 3, 2, 4, 6);
	inf_head_cfg cfg = cfg_of(INF_FAM_YOLOV10);
	inf_head *h = NULL;
	vp_det d[CAP];
	cfg.nms_explicit = 1;
	assert_int_equal(inf_head_new(&cfg, &out, &h), 0);
	assert_int_equal(inf_head_decode(h, yolo_rows, 1, &letterbox, d, CAP), 1);
	inf_head_free(&h);
}

static void test_yolov10_applies_thresholds_classes_and_max_detections(void **state)
{
	(void)state;
	inf_tensor_info out = tinfo("output0", INF_DT_FLOAT, 3, 2, 4, 6);
	inf_head_cfg cfg = cfg_of(INF_FAM_YOLOV10);
	float thr[3] = { 0.1f, 0.5f, 0.75f };
	uint8_t allow[3] = { 1, 0, 1 };
	inf_head *h = NULL;
	vp_det d[CAP];
	cfg.num_classes = 3;
	cfg.class_threshold = thr;
	assert_int_equal(inf_head_new(&cfg, &out, &h), 0);
	assert_int_equal(inf_head_num_classes(h), 3);
	/* class 2 needs 0.75 (one car left), class 0 only 0.1 (the person now counts) */
	assert_int_equal(inf_head_decode(h, yolo_rows, 1, &letterbox, d, CAP), 2);
	assert_int_equal(d[1].class_id, 0);
	inf_head_free(&h);
	cfg.class_threshold = NULL;
	cfg.class_allow = allow;
	cfg.max_detections = 1;
	assert_int_equal(inf_head_new(&cfg, &out, &h), 0);
	assert_int_equal(inf_head_decode(h, yolo_rows, 1, &letterbox, d, CAP), 1);
	assert_true(fabsf(d[0].score - 0.8f) < 1e-6f);
	inf_head_free(&h);
}

/* deimv2_atto's signature: images, orig_target_sizes; labels, boxes, scores. */
static void detr_post_sig(inf_tensor_info in[2], inf_tensor_info out[3], int q)
{
	in[0] = (inf_tensor_info){ .name = "images", .dtype = INF_DT_FLOAT, .ndim = 4,
	                           .dims = { 1, 3, 320, 320 } };
	in[1] = tinfo("orig_target_sizes", INF_DT_INT64, 2, 1, 2, 0);
	out[0] = tinfo("labels", INF_DT_INT64, 2, 1, q, 0);
	out[1] = tinfo("boxes", INF_DT_FLOAT, 3, 1, q, 4);
	out[2] = tinfo("scores", INF_DT_FLOAT, 2, 1, q, 0);
}

static void test_detr_post_processor_form_fills_sizes_and_keeps_source_pixels(void **state)
{
	(void)state;
	inf_tensor_info in[2], out[3];
	detr_post_sig(in, out, 3);
	inf_head_sig sig = { in, 2, out, 3 };
	inf_head_cfg cfg = cfg_of(INF_FAM_DETR);
	cfg.input_w = cfg.input_h = 320;
	int64_t labels[3] = { 7, 0, 99 }, sizes[2] = { 0, 0 };
	float boxes[12] = { 100, 50, 700, 400, -5, 0, 30, 800, 0, 0, 1, 1 };
	float scores[3] = { 0.6f, 0.9f, 0.95f };
	const void *outs[3] = { labels, boxes, scores };
	const krn_xform stretch = { 320.0f / 1280, 320.0f / 720, 0, 0, 1280, 720 };
	inf_head *h = NULL;
	vp_det d[CAP];
	assert_int_equal(inf_head_new_sig(&cfg, &sig, &h), 0);
	assert_int_equal(inf_head_e2e_form(h), INF_E2E_DETR_POST);
	assert_int_equal(inf_head_size_input(h), 1);
	inf_head_fill_sizes(h, sizes, 0, &stretch);
	assert_int_equal(sizes[0], 1280);
	assert_int_equal(sizes[1], 720);
	/* label 99 is no COCO class: dropped; boxes clipped to the frame */
	assert_int_equal(inf_head_decode_outputs(h, outs, 0, &stretch, d, CAP), 2);
	assert_int_equal(d[0].class_id, 0);
	assert_box(&d[0], 0, 0, 30, 720);
	assert_box(&d[1], 100, 50, 700, 400);
	assert_int_equal(inf_head_dropped(h), 1);
	/* Under a letterbox the boxes (normalised x source size) go back through it. */
	const krn_xform lb = { 0.25f, 0.25f, 0.0f, 70.0f, 1280, 720 };
	assert_int_equal(inf_head_decode_outputs(h, outs, 0, &lb, d, CAP), 2);
	assert_box(&d[1], 100, 0, 700, (400 * (320.0f / 720) - 70) * 4);
	inf_head_free(&h);
}

static void test_rtdetr_form_takes_the_best_class_of_normalised_boxes(void **state)
{
	(void)state;
	inf_tensor_info out = tinfo("output0", INF_DT_FLOAT, 3, 1, 2, 4 + 3);
	inf_head_cfg cfg = cfg_of(INF_FAM_DETR);
	const float o[2 * 7] = { 0.5f, 0.5f, 0.25f, 0.5f, 0.1f, 0.2f, 0.7f,
	                         0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.2f, 0.1f };
	inf_head *h = NULL;
	vp_det d[CAP];
	assert_int_equal(inf_head_new(&cfg, &out, &h), 0);
	assert_int_equal(inf_head_e2e_form(h), INF_E2E_RTDETR);
	assert_int_equal(inf_head_num_classes(h), 3);
	assert_int_equal(inf_head_decode(h, o, 0, &letterbox, d, CAP), 1);
	assert_int_equal(d[0].class_id, 2);
	/* cx 320, cy 320, w 160, h 320 input pixels -> source */
	assert_box(&d[0], 480, 40, 800, 680);
	inf_head_free(&h);
}

static void test_detr_logits_form_scores_every_query_and_class_by_sigmoid(void **state)
{
	(void)state;
	inf_tensor_info out[2] = { tinfo("pred_logits", INF_DT_FLOAT, 3, 1, 2, 3),
	                           tinfo("pred_boxes", INF_DT_FLOAT, 3, 1, 2, 4) };
	inf_head_sig sig = { NULL, 0, out, 2 };
	inf_head_cfg cfg = cfg_of(INF_FAM_DETR);
	const float logits[6] = { 2.0f, -3.0f, 0.0f, -5.0f, -5.0f, 1.0f };
	const float boxes[8] = { 0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.1f, 0.1f };
	const void *outs[2] = { logits, boxes };
	inf_head *h = NULL;
	vp_det d[CAP];
	assert_int_equal(inf_head_new_sig(&cfg, &sig, &h), 0);
	assert_int_equal(inf_head_e2e_form(h), INF_E2E_DETR_LOGITS);
	assert_int_equal(inf_head_decode_outputs(h, outs, 0, &identity, d, CAP), 3);
	assert_true(fabsf(d[0].score - 1.0f / (1.0f + expf(-2.0f))) < 1e-6f);
	assert_int_equal(d[0].class_id, 0);
	assert_int_equal(d[1].class_id, 2);
	assert_box(&d[1], 128, 128, 192, 192);
	assert_int_equal(d[2].class_id, 2);     /* sigmoid(0) = 0.5: a second class of query 0 */
	assert_box(&d[2], 160, 160, 480, 480);
	inf_head_free(&h);
}

static void test_auto_reads_the_family_from_the_signature(void **state)
{
	(void)state;
	char why[768];
	inf_tensor_info in[2], post[3];
	detr_post_sig(in, post, 300);
	inf_tensor_info y26 = tinfo("output0", INF_DT_FLOAT, 3, 1, 300, 6);
	inf_tensor_info rt = tinfo("output0", INF_DT_FLOAT, 3, 1, 300, 84);
	inf_tensor_info lg[2] = { tinfo("boxes", INF_DT_FLOAT, 3, 1, 300, 4),
	                          tinfo("logits", INF_DT_FLOAT, 3, 1, 300, 80) };
	inf_tensor_info v8 = tinfo("output0", INF_DT_FLOAT, 3, 1, 84, 8400);
	inf_tensor_info yx = tinfo("output", INF_DT_FLOAT, 3, 1, 3549, 85);
	inf_head_sig s;
	s = (inf_head_sig){ NULL, 0, &y26, 1 };
	assert_int_equal(inf_family_of_sig(&s, 640, 640, why, sizeof(why)), INF_FAM_YOLOV10);
	assert_string_equal(why, "NMS-free YOLO [B, K, 6]: outputs 'output0' FLOAT [1, 300, 6]");
	s = (inf_head_sig){ in, 2, post, 3 };
	assert_int_equal(inf_family_of_sig(&s, 320, 320, why, sizeof(why)), INF_FAM_DETR);
	assert_non_null(strstr(why, "post-processor"));
	s = (inf_head_sig){ NULL, 0, &rt, 1 };
	assert_int_equal(inf_family_of_sig(&s, 640, 640, why, sizeof(why)), INF_FAM_DETR);
	assert_non_null(strstr(why, "RT-DETR"));
	s = (inf_head_sig){ NULL, 0, lg, 2 };
	assert_int_equal(inf_family_of_sig(&s, 640, 640, why, sizeof(why)), INF_FAM_DETR);
	/* The grid families keep their rules: a row or column per stride 8/16/32 cell. */
	s = (inf_head_sig){ NULL, 0, &v8, 1 };
	assert_int_equal(inf_family_of_sig(&s, 640, 640, why, sizeof(why)), INF_FAM_YOLOV8);
	s = (inf_head_sig){ NULL, 0, &yx, 1 };
	assert_int_equal(inf_family_of_sig(&s, 416, 416, why, sizeof(why)), INF_FAM_YOLOX);
	/* The head resolves auto the same way. */
	inf_head_cfg cfg = cfg_of(INF_FAM_AUTO);
	inf_head *h = NULL;
	assert_int_equal(inf_head_new(&cfg, &y26, &h), 0);
	assert_int_equal(inf_head_family(h), INF_FAM_YOLOV10);
	inf_head_free(&h);
	cfg.input_w = cfg.input_h = 320;
	s = (inf_head_sig){ in, 2, post, 3 };
	assert_int_equal(inf_head_new_sig(&cfg, &s, &h), 0);
	assert_int_equal(inf_head_family(h), INF_FAM_DETR);
	inf_head_free(&h);
}

static void test_a_signature_fitting_no_family_is_refused_naming_the_shapes(void **state)
{
	(void)state;
	char why[768];
	inf_tensor_info odd[2] = { tinfo("a", INF_DT_FLOAT, 2, 1, 10, 0),
	                           tinfo("b", INF_DT_INT64, 3, 1, 7, 3) };
	inf_head_sig s = { NULL, 0, odd, 2 };
	assert_int_equal(inf_family_of_sig(&s, 640, 640, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "'a' FLOAT [1, 10]"));
	assert_non_null(strstr(why, "'b' INT64 [1, 7, 3]"));
	assert_non_null(strstr(why, "fit no family"));
	inf_head_cfg cfg = cfg_of(INF_FAM_AUTO);
	inf_head *h = NULL;
	assert_int_equal(inf_head_new_sig(&cfg, &s, &h), VP_EMODEL);
	assert_null(h);
	/* Named families refuse outputs that are not theirs: a YOLOv8 grid under detr or
	 * yolov10, a [B, K, 7] under yolov10. */
	inf_tensor_info v8 = tinfo("output0", INF_DT_FLOAT, 3, 1, 84, 8400);
	inf_tensor_info k7 = tinfo("output0", INF_DT_FLOAT, 3, 1, 300, 7);
	cfg = cfg_of(INF_FAM_DETR);
	assert_int_equal(inf_head_new(&cfg, &v8, &h), VP_EMODEL);
	cfg = cfg_of(INF_FAM_YOLOV10);
	assert_int_equal(inf_head_new(&cfg, &v8, &h), VP_EMODEL);
	assert_int_equal(inf_head_new(&cfg, &k7, &h), VP_EMODEL);
	assert_null(h);
}

static void test_family_names_and_presets(void **state)
{
	(void)state;
	krn_pre_params p;
	assert_int_equal(inf_family_parse("yolov10"), INF_FAM_YOLOV10);
	assert_int_equal(inf_family_parse("yolo26"), INF_FAM_YOLOV10);
	assert_int_equal(inf_family_parse("detr"), INF_FAM_DETR);
	assert_string_equal(inf_family_name(INF_FAM_DETR), "detr");
	inf_family_preset(INF_FAM_DETR, &p);
	assert_int_equal(p.resize, KRN_STRETCH);
	assert_int_equal(p.bgr, 0);
	assert_true(fabsf(p.scale[0] - 1.0f / 255.0f) < 1e-9f);
	inf_family_preset(INF_FAM_YOLOV10, &p);
	assert_int_equal(p.resize, KRN_LETTERBOX);
	assert_int_equal(p.placement, KRN_CENTER);
}

/* The GPU heads decode the grid families only: they refuse the end-to-end ones before
 * touching a device (the detector then decodes on the host), also without a GPU. */
static void test_gpu_paths_refuse_the_end_to_end_families(void **state)
{
	(void)state;
	inf_tensor_info out = tinfo("output0", INF_DT_FLOAT, 3, 1, 300, 6);
	for (int fam = INF_FAM_YOLOV10; fam <= INF_FAM_DETR; fam++) {
		inf_head_cfg cfg = cfg_of(fam);
		inf_detector_gpu *g = NULL;
#ifdef VP_HAVE_CUDA
		assert_int_equal(inf_detector_gpu_new(NULL, &cfg, 1, CAP, 0, &g), VP_EUNSUP);
		inf_head_cuda *hc = NULL;
		assert_int_equal(inf_head_cuda_new(&cfg, &out, 1, CAP, &hc), VP_EUNSUP);
		assert_null(hc);
#else
		(void)out;
		assert_int_equal(inf_detector_gpu_new(NULL, &cfg, 1, CAP, 0, &g), VP_ENODEV);
#endif
		assert_null(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yolov10_keeps_overlapping_rows_and_maps_through_the_letterbox),
		cmocka_unit_test(test_yolov10_runs_nms_only_when_nms_iou_was_written),
		cmocka_unit_test(test_yolov10_applies_thresholds_classes_and_max_detections),
		cmocka_unit_test(test_detr_post_processor_form_fills_sizes_and_keeps_source_pixels),
		cmocka_unit_test(test_rtdetr_form_takes_the_best_class_of_normalised_boxes),
		cmocka_unit_test(test_detr_logits_form_scores_every_query_and_class_by_sigmoid),
		cmocka_unit_test(test_auto_reads_the_family_from_the_signature),
		cmocka_unit_test(test_a_signature_fitting_no_family_is_refused_naming_the_shapes),
		cmocka_unit_test(test_family_names_and_presets),
		cmocka_unit_test(test_gpu_paths_refuse_the_end_to_end_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
