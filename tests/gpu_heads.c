/* GPU heads and NMS against their CPU twins: inf_nms_cuda equals inf_nms on random
 * candidate sets (clusters, ties, exact duplicates, several classes, both IoU thresholds,
 * with and without a keep limit), and inf_head_cuda decodes the reference outputs of the
 * shared models ($SHARED/data/reference/<model>.io) into the detections inf_head_decode gives,
 * per batch item, with class filters and per-class thresholds and at threshold 0.001
 * (thousands of candidates); inf_nms_bitmask_ref (the kernels' CPU twin) agrees too.
 * Skips without a GPU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gpu_skip.h"
#include "infer/engine.h"
#include "infer/heads/heads.h"
#ifdef VP_HAVE_CUDA
#include "infer/heads/heads_cuda.h"
#endif

#define CAP 300

#ifdef VP_HAVE_CUDA
static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xffff) / 65536.0f;
}

/* n candidates around a few cluster centres, scores quantised so ties happen, and every
 * 17th candidate an exact copy of its predecessor. */
static void make_candidates(vp_det *d, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		if (i % 17 == 16) {
			d[i] = d[i - 1];
			continue;
		}
		float cx = 100.0f * (float)(int)(frand(&seed) * 8), cy = 80.0f * (float)(int)(frand(&seed) * 6);
		float w = 20 + 60 * frand(&seed), h = 20 + 60 * frand(&seed);
		cx += 15 * frand(&seed);
		cy += 15 * frand(&seed);
		d[i].class_id = (int)(frand(&seed) * 4);
		d[i].score = (float)(int)(frand(&seed) * 64) / 64.0f;
		d[i].bbox[0] = cx - w / 2;
		d[i].bbox[1] = cy - h / 2;
		d[i].bbox[2] = cx + w / 2;
		d[i].bbox[3] = cy + h / 2;
	}
}

static void test_gpu_nms_equals_cpu_nms(void **state)
{
	(void)state;
	/* up to every anchor of a 640x640 YOLO output; past 4096 and 8192 (sorting network sizes) */
	static const int sizes[] = { 1, 2, 50, 64, 65, 777, 4000, 4097, 8400 };
	static const float ious[] = { 0.45f, 0.7f };
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t k = 0; k < 2; k++)
			for (int limit = 0; limit < 2; limit++) {
				int n = sizes[s], keep = limit ? 10 : n;
				vp_det *a = malloc((size_t)n * sizeof(*a)), *b = malloc((size_t)n * sizeof(*b));
				assert_non_null(a);
				assert_non_null(b);
				make_candidates(a, n, (unsigned)(s * 31 + k * 7 + (size_t)limit));
				memcpy(b, a, (size_t)n * sizeof(*a));
				int nc = inf_nms(a, n, ious[k], keep);
				int ng = inf_nms_cuda(b, n, ious[k], keep);
				vp_det *r = malloc((size_t)n * sizeof(*r));
				assert_non_null(r);
				make_candidates(r, n, (unsigned)(s * 31 + k * 7 + (size_t)limit));
				assert_int_equal(inf_nms_bitmask_ref(r, n, ious[k], keep), nc);   /* the CUDA kernels' twin */
				assert_memory_equal(a, r, (size_t)nc * sizeof(*a));
				free(r);
				printf("# nms n=%d iou=%.2f keep=%d: cpu %d, gpu %d survivors\n", n, ious[k], keep, nc, ng);
				assert_int_equal(ng, nc);
				assert_memory_equal(a, b, (size_t)nc * sizeof(*a));
				free(a);
				free(b);
			}
}

static float *load_output(const char *io, inf_tensor_info *info)
{
	char path[1024];
	inf_blob b;
	snprintf(path, sizeof(path), "%s/data/reference/%s/output_0.pb", gpu_shared_dir(), io);
	assert_int_equal(inf_blob_read(path, &b), 0);
	*info = b.info;
	info->name = NULL;
	float *data = b.data;
	b.data = NULL;
	inf_blob_clear(&b);
	return data;
}

/* The GPU results of one decode slot against the CPU head on the same output. */
static void check_slot(inf_head *h, inf_head_cuda *g, int slot, const float *out, const krn_xform *xf,
                       const char *io)
{
	for (int b = 0; b < 2; b++) {
		vp_det cpu[CAP];
		const vp_det *gpu = NULL;
		int nc = inf_head_decode(h, out, b, &xf[b], cpu, CAP);
		int ng = inf_head_cuda_result(g, slot, b, &gpu);
		printf("# %s slot %d item %d: cpu %d, gpu %d detections\n", io, slot, b, nc, ng);
		assert_true(nc > 0);
		assert_int_equal(ng, nc);
		for (int i = 0; i < nc; i++) {
			assert_int_equal(gpu[i].class_id, cpu[i].class_id);
			assert_true(gpu[i].score == cpu[i].score);
			for (int k = 0; k < 4; k++)  /* expf may differ in the last bit on raw YOLOX boxes */
				assert_true(fabsf(gpu[i].bbox[k] - cpu[i].bbox[k]) <= 1e-3f * (1.0f + fabsf(cpu[i].bbox[k])));
		}
	}
}

/* Two items: the reference output and a copy with every score field scaled by 0.8, with
 * different letterbox transforms; both heads must agree item by item, with decodes in
 * flight in both result slots. */
static void check_head_at(const char *io, int family, int size, float threshold, const float *class_thr,
                          const uint8_t *allow)
{
	inf_tensor_info info;
	float *one = load_output(io, &info);
	size_t item = 1;
	for (int i = 1; i < info.ndim; i++)
		item *= (size_t)info.dims[i];
	float *two = malloc(2 * item * sizeof(float));
	assert_non_null(two);
	memcpy(two, one, item * sizeof(float));
	for (size_t i = 0; i < item; i++)
		two[item + i] = one[i] * (i % 3 ? 1.0f : 0.8f);
	inf_tensor_info info2 = info;
	info2.dims[0] = 2;
	inf_head_cfg cfg = { .family = family, .input_w = size, .input_h = size, .threshold = threshold, .nms_iou = 0.45f,
	                     .max_detections = threshold < 0.01f ? CAP : 100, .class_threshold = class_thr, .class_allow = allow };
	/* the third: a frame much smaller than the boxes, so most survivors are clipped (NMS
	 * must still compare the unclipped boxes, as the CPU does) */
	krn_xform xf[3] = { { 0.6f, 0.6f, 0.0f, 52.0f, 1280, 720 }, { 0.5f, 0.5f, 8.0f, 0.0f, 1000, 1400 },
	                    { 0.6f, 0.6f, 0.0f, 52.0f, 320, 240 } };
	inf_head *h = NULL;
	inf_head_cuda *g = NULL;
	assert_int_equal(inf_head_new(&cfg, &info2, &h), 0);
	assert_int_equal(inf_head_cuda_new(&cfg, &info2, 2, CAP, &g), 0);
	float *dev = NULL;
	assert_int_equal(cudaMalloc((void **)&dev, 2 * item * sizeof(float)), cudaSuccess);
	assert_int_equal(cudaMemcpy(dev, two, 2 * item * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
	/* Three decodes: the first two fill both result slots before either is
	 * read (the second with other transforms), the third reuses the first slot (with a
	 * small frame for item 0). */
	krn_xform xfs[3][2] = { { xf[0], xf[1] }, { xf[1], xf[0] }, { xf[2], xf[1] } };
	int slots[3];
	for (int round = 0; round < 3; round++) {
		if (round == 2)
			check_slot(h, g, slots[0], two, xfs[0], io);
		slots[round] = inf_head_cuda_decode(g, dev, 2, xfs[round], NULL);
		assert_true(slots[round] >= 0);
	}
	assert_int_not_equal(slots[0], slots[1]);
	assert_int_equal(slots[2], slots[0]);
	check_slot(h, g, slots[1], two, xfs[1], io);
	check_slot(h, g, slots[2], two, xfs[2], io);
	cudaFree(dev);
	inf_head_cuda_free(&g);
	assert_null(g);
	inf_head_free(&h);
	free(one);
	free(two);
}

static void check_head(const char *io, int family, int size, const float *class_thr, const uint8_t *allow)
{
	check_head_at(io, family, size, 0.25f, class_thr, allow);
}

static void test_yolox_head_equals_cpu(void **state)
{
	(void)state;
	check_head("yolox_nano.io", INF_FAM_YOLOX, 416, NULL, NULL);
}

static void test_yolov8_head_equals_cpu(void **state)
{
	(void)state;
	check_head("yolov8n.io", INF_FAM_YOLOV8, 640, NULL, NULL);
}

/* At threshold 0.001 nearly every one of the 8,400 anchors is a candidate: the parallel
 * sort and the bitmask NMS must still give the CPU's detections. */
static void test_low_threshold_equals_cpu(void **state)
{
	(void)state;
	check_head_at("yolov8n.io", INF_FAM_YOLOV8, 640, 0.001f, NULL, NULL);
	check_head_at("yolox_nano.io", INF_FAM_YOLOX, 416, 0.001f, NULL, NULL);
}

static void test_class_filter_and_thresholds_equal_cpu(void **state)
{
	(void)state;
	float thr[80];
	uint8_t allow[80];
	for (int c = 0; c < 80; c++) {
		thr[c] = c % 2 ? 0.3f : 0.2f;
		allow[c] = c != 2;   /* drops cars: the yolov8 reference frame is a highway */
	}
	check_head("yolov8n.io", INF_FAM_YOLOV8, 640, thr, allow);
	check_head("yolox_nano.io", INF_FAM_YOLOX, 416, thr, allow);
}
#endif

int main(void)
{
	if (!gpu_visible("gpu_heads"))
		return 0;
#ifdef VP_HAVE_CUDA
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu_nms_equals_cpu_nms),
		cmocka_unit_test(test_yolox_head_equals_cpu),
		cmocka_unit_test(test_yolov8_head_equals_cpu),
		cmocka_unit_test(test_class_filter_and_thresholds_equal_cpu),
		cmocka_unit_test(test_low_threshold_equals_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#else
	return 0;
#endif
}
