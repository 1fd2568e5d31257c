/* Engine: the end-to-end detectors (yolo26n: NMS-free YOLO with TopK, GatherElements,
 * Mod; deimv2_atto: DETR family with GridSample, LayerNormalization, int64 shape
 * arithmetic) against onnxruntime's raw outputs (../shared/data/reference/<model>.io),
 * at batch 1 and at a larger batch with every item equal. Their outputs are top-k
 * selections, so rows are compared as sets: near-equal scores may swap order. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "test_skip.h"

#include "infer/engine.h"

#include "test_alloc_count.h"

#define MAX_ROWS 300
#define ROW_W 6                 /* class, x1, y1, x2, y2, score */
#define MIN_SCORE 0.05          /* rows below it are noise whose order means nothing */
#define BOX_TOL 0.5             /* pixels */
#define SCORE_TOL 2e-3

static char shared_dir[512];

typedef struct det_rows {
	int n;
	double r[MAX_ROWS][ROW_W];
} det_rows;

static void path_of(char *buf, size_t len, const char *model, const char *file)
{
	snprintf(buf, len, "%s/data/reference/%s.io/%s", shared_dir, model, file);
}

static double elem(const void *p, int dtype, size_t i)
{
	return dtype == INF_DT_INT64 ? (double)((const int64_t *)p)[i] : ((const float *)p)[i];
}

/* yolo26n: one [300, 6] output item of x1, y1, x2, y2, score, class. */
static void rows_yolo26(det_rows *d, const float *o)
{
	d->n = 0;
	for (int i = 0; i < MAX_ROWS; i++) {
		const float *p = o + i * 6;
		if (p[4] < MIN_SCORE)
			continue;
		double row[ROW_W] = { p[5], p[0], p[1], p[2], p[3], p[4] };
		memcpy(d->r[d->n++], row, sizeof(row));
	}
}

/* deimv2_atto: labels [300] (int64), boxes [300, 4], scores [300] of one item. */
static void rows_detr(det_rows *d, const void *labels, int ldt, const float *boxes, const float *scores)
{
	d->n = 0;
	for (int i = 0; i < MAX_ROWS; i++) {
		if (scores[i] < MIN_SCORE)
			continue;
		double row[ROW_W] = { elem(labels, ldt, (size_t)i), boxes[i * 4], boxes[i * 4 + 1], boxes[i * 4 + 2],
		                      boxes[i * 4 + 3], scores[i] };
		memcpy(d->r[d->n++], row, sizeof(row));
	}
}

static int row_match(const double *a, const double *b)
{
	if (a[0] != b[0] || fabs(a[5] - b[5]) > SCORE_TOL)
		return 0;
	for (int k = 1; k < 5; k++)
		if (fabs(a[k] - b[k]) > BOX_TOL)
			return 0;
	return 1;
}

/* Every reference row has its own match in got and the counts agree. A row whose score
 * sits within SCORE_TOL of MIN_SCORE may fall on either side: counted apart. */
static void expect_same_rows(const det_rows *got, const det_rows *ref, const char *what)
{
	int used[MAX_ROWS] = { 0 }, unmatched = 0, edge = 0;

	for (int i = 0; i < ref->n; i++) {
		int found = 0;
		for (int j = 0; j < got->n && !found; j++)
			if (!used[j] && row_match(got->r[j], ref->r[i]))
				used[j] = found = 1;
		if (!found && fabs(ref->r[i][5] - MIN_SCORE) > SCORE_TOL)
			unmatched++;
		edge += !found;
	}
	printf("# %s: %d reference rows >= %.2f, %d got, %d unmatched\n", what, ref->n, MIN_SCORE, got->n, unmatched);
	assert_int_equal(unmatched, 0);
	assert_true(abs(got->n - ref->n) <= edge);
	assert_true(ref->n > 0);
}

static void open_model(const char *model, int batch, inf_engine **e)
{
	char path[1024];
	inf_engine_opts o = { .backend = "cpu", .max_batch = batch, .threads = 2 };

	snprintf(path, sizeof(path), "%s/models/%s.onnx", shared_dir, model);
	assert_int_equal(inf_engine_open(path, &o, e), 0);
}

/* Copies the blob into every batch item of input k. */
static void fill_input(inf_engine *e, int k, const inf_blob *b, int batch)
{
	uint8_t *dst = inf_engine_input(e, k);

	for (int i = 0; i < batch; i++)
		memcpy(dst + (size_t)i * b->bytes, b->data, b->bytes);
}

static void check_yolo26(int batch)
{
	char in_p[1024], out_p[1024];
	inf_blob in, ref;
	inf_engine *e = NULL;
	det_rows *got = malloc(sizeof(*got)), *want = malloc(sizeof(*want));

	assert_non_null(got);
	assert_non_null(want);
	path_of(in_p, sizeof(in_p), "yolo26n", "input_0.pb");
	path_of(out_p, sizeof(out_p), "yolo26n", "output_0.pb");
	assert_int_equal(inf_blob_read(in_p, &in), 0);
	assert_int_equal(inf_blob_read(out_p, &ref), 0);
	open_model("yolo26n", batch, &e);
	fill_input(e, 0, &in, batch);
	assert_int_equal(inf_engine_run(e, batch), 0);
	rows_yolo26(want, ref.data);
	for (int b = 0; b < batch; b++) {
		rows_yolo26(got, (const float *)inf_engine_output(e, 0) + (size_t)b * MAX_ROWS * 6);
		expect_same_rows(got, want, "yolo26n");
	}
	inf_engine_free(&e);
	inf_blob_clear(&in);
	inf_blob_clear(&ref);
	free(got);
	free(want);
}

static void check_deimv2(int batch)
{
	char p[1024];
	inf_blob in[2], ref[3];
	inf_engine *e = NULL;
	det_rows *got = malloc(sizeof(*got)), *want = malloc(sizeof(*want));
	static const char *const outs[3] = { "output_0.pb", "output_1.pb", "output_2.pb" };

	assert_non_null(got);
	assert_non_null(want);
	for (int k = 0; k < 2; k++) {
		path_of(p, sizeof(p), "deimv2_atto", k ? "input_1.pb" : "input_0.pb");
		assert_int_equal(inf_blob_read(p, &in[k]), 0);
	}
	for (int k = 0; k < 3; k++) {
		path_of(p, sizeof(p), "deimv2_atto", outs[k]);
		assert_int_equal(inf_blob_read(p, &ref[k]), 0);
	}
	open_model("deimv2_atto", batch, &e);
	for (int k = 0; k < 2; k++)
		fill_input(e, k, &in[k], batch);
	assert_int_equal(inf_engine_run(e, batch), 0);
	rows_detr(want, ref[0].data, ref[0].info.dtype, ref[1].data, ref[2].data);
	for (int b = 0; b < batch; b++) {
		inf_tensor_info li;
		assert_int_equal(inf_engine_output_info(e, 0, &li), 0);
		const char *labels = (const char *)inf_engine_output(e, 0) + (size_t)b * MAX_ROWS * 8;
		rows_detr(got, labels, li.dtype, (const float *)inf_engine_output(e, 1) + (size_t)b * MAX_ROWS * 4,
		          (const float *)inf_engine_output(e, 2) + (size_t)b * MAX_ROWS);
		expect_same_rows(got, want, "deimv2_atto");
	}
	inf_engine_free(&e);
	for (int k = 0; k < 2; k++)
		inf_blob_clear(&in[k]);
	for (int k = 0; k < 3; k++)
		inf_blob_clear(&ref[k]);
	free(got);
	free(want);
}

static void test_yolo26n_matches_onnxruntime_as_row_sets_at_batch_1(void **state)
{
	(void)state;
	check_yolo26(1);
}

static void test_yolo26n_batch_2_items_each_match_onnxruntime(void **state)
{
	(void)state;
	check_yolo26(2);
}

static void test_deimv2_atto_matches_onnxruntime_as_row_sets_at_batch_1(void **state)
{
	(void)state;
	check_deimv2(1);
}

static void test_deimv2_atto_dynamic_batch_3_items_each_match_onnxruntime(void **state)
{
	(void)state;
	check_deimv2(3);
}

/* Input k filled with zeros (images) or 320 (deimv2_atto's int64 frame sizes). */
static void fill_plain(inf_engine *e, int k)
{
	inf_tensor_info ii;
	size_t cnt = 1;

	assert_int_equal(inf_engine_input_info(e, k, &ii), 0);
	for (int d = 0; d < ii.ndim; d++)
		cnt *= (size_t)ii.dims[d];
	if (ii.dtype == INF_DT_INT64)
		for (size_t i = 0; i < cnt; i++)
			((int64_t *)inf_engine_input(e, k))[i] = 320;
	else
		memset(inf_engine_input(e, k), 0, cnt * sizeof(float));
}

/* The second run of each model (TopK, GridSample, LayerNormalization, Where ... all in it)
 * allocates nothing: operators use the planned arena and the shared workspace only. */
static void test_end_to_end_models_run_without_allocating(void **state)
{
	static const char *const models[] = { "yolo26n", "deimv2_atto" };

	(void)state;
#ifndef COUNT_ALLOCATIONS
	skip_because("sanitizer", "ASan owns the malloc family: allocations are not counted");
#else
	for (int m = 0; m < 2; m++) {
		inf_engine *e = NULL;
		open_model(models[m], 2, &e);
		for (int k = 0; k < inf_engine_n_inputs(e); k++)
			fill_plain(e, k);
		assert_int_equal(inf_engine_run(e, 2), 0);
		allocations = blas_allocations = 0;
		counting = 1;
		int r2 = inf_engine_run(e, 2), r1 = inf_engine_run(e, 1);
		counting = 0;
		assert_int_equal(r2, 0);
		assert_int_equal(r1, 0);
		printf("# %s: %d allocations in two runs (and %d inside OpenBLAS)\n", models[m], allocations,
		       blas_allocations);
		assert_int_equal(allocations, 0);
		inf_engine_free(&e);
	}
#endif
}

static int setup(void **state)
{
	const char *s = getenv("SHARED");

	(void)state;
	snprintf(shared_dir, sizeof(shared_dir), "%s", s ? s : "../shared");
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yolo26n_matches_onnxruntime_as_row_sets_at_batch_1),
		cmocka_unit_test(test_yolo26n_batch_2_items_each_match_onnxruntime),
		cmocka_unit_test(test_deimv2_atto_matches_onnxruntime_as_row_sets_at_batch_1),
		cmocka_unit_test(test_deimv2_atto_dynamic_batch_3_items_each_match_onnxruntime),
		cmocka_unit_test(test_end_to_end_models_run_without_allocating),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
