/* The GPU head's NMS algorithm (bitonic sort, 64-bit suppression masks, scan) in its CPU
 * reference, against the CPU head's NMS (infer/heads/nms.c): the same kept boxes in the same
 * order on random candidates with many ties, exact duplicates, IoU exactly at the
 * threshold (kept: suppression is IoU > threshold), several classes, max_keep limits,
 * and sizes around the 64-bit word and power-of-two edges up to 8,400 candidates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "infer/heads/heads.h"
#include "infer/heads/heads_cuda.h"

static uint32_t rng = 12345;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 1664525u + 1013904223u;
	return (rng >> 8) % n;
}

/* Coarse values so that scores, classes and boxes tie often. */
static void random_dets(vp_det *d, int n, int classes)
{
	for (int i = 0; i < n; i++) {
		d[i].class_id = (int)rnd((uint32_t)classes);
		d[i].score = (float)(1 + rnd(20)) / 20.0f;
		float x = (float)rnd(40) * 4.0f, y = (float)rnd(30) * 4.0f;
		d[i].bbox[0] = x;
		d[i].bbox[1] = y;
		d[i].bbox[2] = x + 8.0f + (float)rnd(4) * 8.0f;
		d[i].bbox[3] = y + 8.0f + (float)rnd(4) * 8.0f;
		if (i > 0 && rnd(8) == 0)
			d[i] = d[rnd((uint32_t)i)];   /* exact duplicate */
	}
}

static void check_same(const vp_det *in, int n, float iou, int max_keep)
{
	vp_det *a = malloc((size_t)n * sizeof(vp_det) + 1), *b = malloc((size_t)n * sizeof(vp_det) + 1);
	assert_non_null(a);
	assert_non_null(b);
	memcpy(a, in, (size_t)n * sizeof(vp_det));
	memcpy(b, in, (size_t)n * sizeof(vp_det));
	int ka = inf_nms(a, n, iou, max_keep), kb = inf_nms_bitmask_ref(b, n, iou, max_keep);
	assert_int_equal(kb, ka);
	assert_memory_equal(a, b, (size_t)ka * sizeof(vp_det));
	free(a);
	free(b);
}

static void test_random_candidates_keep_what_the_cpu_keeps(void **state)
{
	(void)state;
	static const int sizes[] = { 1, 2, 3, 63, 64, 65, 127, 128, 129, 300, 1000 };
	static const float ious[] = { 0.3f, 0.45f, 0.5f, 0.7f, 1.0f };
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t t = 0; t < sizeof(ious) / sizeof(ious[0]); t++)
			for (int classes = 1; classes <= 3; classes += 2) {
				int n = sizes[s];
				vp_det *d = malloc((size_t)n * sizeof(vp_det));
				assert_non_null(d);
				random_dets(d, n, classes);
				check_same(d, n, ious[t], n);
				check_same(d, n, ious[t], 5);
				free(d);
			}
}

/* IoU exactly at the threshold is not suppressed; just above it is. */
static void test_iou_at_the_threshold_is_kept(void **state)
{
	(void)state;
	vp_det d[3] = {
		{ 0, 0.9f, { 0, 0, 3, 1 } },
		{ 0, 0.8f, { 1, 0, 4, 1 } },   /* IoU 2 / 4 = 0.5 exactly with the first */
		{ 0, 0.7f, { 0, 0, 3, 1.0f } },   /* identical to the first: IoU 1 */
	};
	assert_true(inf_iou(d[0].bbox, d[1].bbox) == 0.5f);
	vp_det b[3];
	memcpy(b, d, sizeof(d));
	assert_int_equal(inf_nms_bitmask_ref(b, 3, 0.5f, 10), 2);
	assert_true(b[0].score == 0.9f && b[1].score == 0.8f);
	check_same(d, 3, 0.5f, 10);
	check_same(d, 3, 0.4999f, 10);
}

/* Other classes never suppress: class-aware NMS. */
static void test_classes_do_not_suppress_each_other(void **state)
{
	(void)state;
	vp_det d[4] = {
		{ 1, 0.9f, { 0, 0, 10, 10 } },
		{ 2, 0.9f, { 0, 0, 10, 10 } },
		{ 1, 0.8f, { 0, 0, 10, 10 } },
		{ 2, 0.95f, { 0, 0, 10, 10 } },
	};
	vp_det b[4];
	memcpy(b, d, sizeof(d));
	assert_int_equal(inf_nms_bitmask_ref(b, 4, 0.5f, 10), 2);
	check_same(d, 4, 0.5f, 10);
}

/* The head's worst case: every anchor of a 640x640 YOLO output a candidate. */
static void test_8400_candidates(void **state)
{
	(void)state;
	int n = 8400;
	vp_det *d = malloc((size_t)n * sizeof(vp_det));
	assert_non_null(d);
	random_dets(d, n, 80);
	check_same(d, n, 0.45f, 300);
	check_same(d, n, 0.45f, n);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_candidates_keep_what_the_cpu_keeps),
		cmocka_unit_test(test_iou_at_the_threshold_is_kept),
		cmocka_unit_test(test_classes_do_not_suppress_each_other),
		cmocka_unit_test(test_8400_candidates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
