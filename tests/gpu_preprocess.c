/* CUDA preprocessing against its CPU reference (krn_preprocess_ref) on random frames of
 * random odd sizes in every format, every geometry and output option: FP32 within 1e-4
 * of the output range, FP16 within 1 ulp of the reference rounded by krn_f32_to_f16.
 * Skips (exit 0) where no GPU is visible. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_skip.h"
#include "kernels/preprocess.h"
#include "kernels/preprocess_math.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "kernels/cuda_util.h"
#include "kernels/preprocess_cuda.h"

#define MAX_BATCH 32

/* A random picture held twice: on the host for the reference, on the device for the kernel. */
typedef struct test_pic {
	vp_frame host, dev;
	void *hbuf[3], *dbuf[3];
} test_pic;

static unsigned rng_state = 12345u;
static unsigned rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) & 0xffffffu;
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (unsigned)(hi - lo + 1)); }
static int rnd_odd(int lo, int hi) { return rnd_in(lo / 2, (hi - 1) / 2) * 2 + 1; }
static float rnd_f(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() % 100001u) / 100000.0f; }

/* Sample bytes and count of plane k: luma full size, chroma half size rounded up. */
static void plane_shape(vp_pixfmt fmt, int w, int h, int k, int *row_bytes, int *rows)
{
	int cw = (w + 1) / 2, ch = (h + 1) / 2;
	int bps = fmt == VP_PIX_P016 || fmt == VP_PIX_YUV420P10 ? 2 : 1;
	int semi = fmt == VP_PIX_NV12 || fmt == VP_PIX_P016;
	*rows = k == 0 ? h : ch;
	*row_bytes = k == 0 ? w * bps : (semi ? 2 * cw * bps : cw * bps);
}

static void fill_plane(vp_pixfmt fmt, uint8_t *p, int linesize, int row_bytes, int rows)
{
	for (int y = 0; y < rows; y++) {
		uint8_t *row = p + (size_t)y * linesize;
		if (fmt == VP_PIX_P016) {
			for (int x = 0; x < row_bytes / 2; x++)  /* 10-bit value in the high bits */
				((uint16_t *)(void *)row)[x] = (uint16_t)((rnd() % 1024u) << 6);
		} else if (fmt == VP_PIX_YUV420P10) {
			for (int x = 0; x < row_bytes / 2; x++)
				((uint16_t *)(void *)row)[x] = (uint16_t)(rnd() % 1024u);
		} else {
			for (int x = 0; x < row_bytes; x++)
				row[x] = (uint8_t)rnd();
		}
	}
}

static void pic_make(test_pic *t, vp_pixfmt fmt, int w, int h)
{
	memset(t, 0, sizeof(*t));
	vp_frame *f = &t->host;
	f->stream_id = "gpu_preprocess";
	f->width = w;
	f->height = h;
	f->fmt = fmt;
	f->mem = VP_MEM_HOST;
	f->csp = rnd() % 2 ? VP_CSP_BT709 : VP_CSP_BT601;
	f->full_range = (int)(rnd() % 2);
	int planes = fmt == VP_PIX_NV12 || fmt == VP_PIX_P016 ? 2 : 3;
	for (int k = 0; k < planes; k++) {
		int row_bytes, rows;
		plane_shape(fmt, w, h, k, &row_bytes, &rows);
		/* Pitch with random padding, kept even for the 16-bit formats. */
		int linesize = row_bytes + 2 * rnd_in(0, 40);
		size_t bytes = (size_t)linesize * rows;
		t->hbuf[k] = malloc(bytes);
		assert_non_null(t->hbuf[k]);
		fill_plane(fmt, t->hbuf[k], linesize, row_bytes, rows);
		assert_int_equal(KRN_CUDA_CHECK(cudaMalloc(&t->dbuf[k], bytes)), 0);
		assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy(t->dbuf[k], t->hbuf[k], bytes,
		                                           cudaMemcpyHostToDevice)), 0);
		f->data[k] = t->hbuf[k];
		f->linesize[k] = linesize;
	}
	t->dev = t->host;
	t->dev.mem = VP_MEM_DEVICE;
	for (int k = 0; k < planes; k++)
		t->dev.data[k] = t->dbuf[k];
}

static void pic_free(test_pic *t)
{
	for (int k = 0; k < 3; k++) {
		free(t->hbuf[k]);
		cudaFree(t->dbuf[k]);
	}
}

/* Orders FP16 bit patterns so that adjacent representable values differ by one. */
static int f16_ordinal(uint16_t h)
{
	return h & 0x8000u ? -(int)(h & 0x7fffu) : (int)h;
}

typedef struct diff_stats {
	double max_rel;     /* FP32: max |gpu - ref| / output range of the channel */
	int max_ulp;        /* FP16 */
} diff_stats;

/* Channel of element i of an item-major tensor. */
static int channel_of(const krn_pre_params *p, size_t i)
{
	size_t plane = (size_t)p->dst_w * p->dst_h, in_item = i % (3 * plane);
	return p->nhwc ? (int)(in_item % 3) : (int)(in_item / plane);
}

/* Runs both implementations on the batch and measures the worst difference. */
static diff_stats run_and_compare(krn_pre_cuda *ctx, test_pic *pics, int n, const krn_pre_params *p)
{
	const vp_frame *hf[MAX_BATCH], *df[MAX_BATCH];
	for (int i = 0; i < n; i++) {
		hf[i] = &pics[i].host;
		df[i] = &pics[i].dev;
	}
	size_t count = (size_t)n * 3 * p->dst_w * p->dst_h;
	size_t esz = p->fp16 ? 2 : 4;
	krn_pre_params p32 = *p;
	p32.fp16 = 0;
	float *ref = malloc(count * sizeof(float));
	void *got = malloc(count * esz);
	void *dst = NULL;
	krn_xform xr[MAX_BATCH], xg[MAX_BATCH];
	assert_non_null(ref);
	assert_non_null(got);
	assert_int_equal(krn_preprocess_ref(hf, n, &p32, ref, xr), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMalloc(&dst, count * esz)), 0);
	/* Poison, so an element the kernel never writes cannot pass. */
	assert_int_equal(KRN_CUDA_CHECK(cudaMemset(dst, 0x7f, count * esz)), 0);
	assert_int_equal(krn_preprocess_cuda(ctx, df, n, p, dst, xg, NULL), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy(got, dst, count * esz, cudaMemcpyDeviceToHost)), 0);
	assert_memory_equal(xr, xg, sizeof(krn_xform) * (size_t)n);
	diff_stats s = { 0, 0 };
	for (size_t i = 0; i < count; i++) {
		if (p->fp16) {
			int ulp = abs(f16_ordinal(((uint16_t *)got)[i]) - f16_ordinal(krn_f32_to_f16(ref[i])));
			if (ulp > s.max_ulp)
				s.max_ulp = ulp;
		} else {
			double range = 255.0 * fabs((double)p->scale[channel_of(p, i)]);
			double rel = fabs((double)((float *)got)[i] - ref[i]) / range;
			if (!(rel <= s.max_rel))  /* NaN counts as the worst */
				s.max_rel = isnan(rel) ? INFINITY : rel;
		}
	}
	cudaFree(dst);
	free(ref);
	free(got);
	return s;
}

static void random_params(krn_pre_params *p, int resize, int placement, int bgr, int fp16, int nhwc)
{
	memset(p, 0, sizeof(*p));
	p->dst_w = rnd_odd(33, 161);
	p->dst_h = rnd_odd(33, 161);
	p->resize = resize;
	p->placement = placement;
	p->bgr = bgr;
	p->fp16 = fp16;
	p->nhwc = nhwc;
	p->pad_value = rnd_f(0, 255);
	for (int c = 0; c < 3; c++) {
		p->mean[c] = rnd_f(0, 128);
		p->scale[c] = rnd_f(0.003f, 1.5f);
	}
}

static const vp_pixfmt all_fmts[] = { VP_PIX_NV12, VP_PIX_P016, VP_PIX_YUV420P, VP_PIX_YUV420P10 };

/* Every option combination; each batch mixes all formats at random odd sizes, smaller
 * and larger than the model input, so both up- and down-scaling run. */
static void test_all_options(void **state)
{
	(void)state;
	krn_pre_cuda *ctx = NULL;
	assert_int_equal(krn_pre_cuda_new(MAX_BATCH, &ctx), 0);
	int combos = 0;
	for (int combo = 0; combo < 32; combo++) {
		krn_pre_params p;
		random_params(&p, combo & 1, (combo >> 1) & 1, (combo >> 2) & 1, (combo >> 3) & 1,
		              (combo >> 4) & 1);
		test_pic pics[8];
		int n = 8;
		for (int i = 0; i < n; i++)
			pic_make(&pics[i], all_fmts[i % 4], rnd_odd(1, 3 * p.dst_w), rnd_odd(1, 3 * p.dst_h));
		diff_stats s = run_and_compare(ctx, pics, n, &p);
		if (p.fp16 ? s.max_ulp > 1 : s.max_rel > 1e-4)
			fail_msg("combo %d (resize %d placement %d bgr %d fp16 %d nhwc %d, %dx%d): max "
			         "error %g of range, %d ulp", combo, p.resize, p.placement, p.bgr, p.fp16,
			         p.nhwc, p.dst_w, p.dst_h, s.max_rel, s.max_ulp);
		for (int i = 0; i < n; i++)
			pic_free(&pics[i]);
		combos++;
	}
	assert_int_equal(combos, 32);
	krn_pre_cuda_free(&ctx);
	assert_null(ctx);
}

/* A full batch of 32 frames of 32 different sizes in one launch. */
static void test_full_batch(void **state)
{
	(void)state;
	krn_pre_cuda *ctx = NULL;
	assert_int_equal(krn_pre_cuda_new(MAX_BATCH, &ctx), 0);
	krn_pre_params p;
	random_params(&p, KRN_LETTERBOX, KRN_CENTER, 0, 0, 0);
	test_pic pics[MAX_BATCH];
	for (int i = 0; i < MAX_BATCH; i++)
		pic_make(&pics[i], all_fmts[rnd() % 4], rnd_odd(3, 999), rnd_odd(3, 999));
	diff_stats s = run_and_compare(ctx, pics, MAX_BATCH, &p);
	assert_true(s.max_rel <= 1e-4);
	for (int i = 0; i < MAX_BATCH; i++)
		pic_free(&pics[i]);
	krn_pre_cuda_free(&ctx);
}

/* Two batches queued back to back on one stream reuse the pinned staging buffer: the
 * second must not overwrite descriptors the first copy still reads. */
static void test_back_to_back(void **state)
{
	(void)state;
	krn_pre_cuda *ctx = NULL;
	assert_int_equal(krn_pre_cuda_new(4, &ctx), 0);
	krn_pre_params p;
	random_params(&p, KRN_STRETCH, KRN_TOP_LEFT, 1, 0, 1);
	test_pic a[4], b[4];
	const vp_frame *da[4], *db[4], *ha[4], *hb[4];
	for (int i = 0; i < 4; i++) {
		pic_make(&a[i], all_fmts[i], rnd_odd(17, 301), rnd_odd(17, 301));
		pic_make(&b[i], all_fmts[3 - i], rnd_odd(17, 301), rnd_odd(17, 301));
		da[i] = &a[i].dev; db[i] = &b[i].dev; ha[i] = &a[i].host; hb[i] = &b[i].host;
	}
	size_t count = 4 * 3 * (size_t)p.dst_w * p.dst_h;
	float *out = NULL, *ref = malloc(2 * count * sizeof(float)), *got = malloc(2 * count * sizeof(float));
	assert_non_null(ref);
	assert_non_null(got);
	cudaStream_t st;
	assert_int_equal(KRN_CUDA_CHECK(cudaStreamCreate(&st)), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMalloc((void **)&out, 2 * count * sizeof(float))), 0);
	assert_int_equal(krn_preprocess_cuda(ctx, da, 4, &p, out, NULL, st), 0);
	assert_int_equal(krn_preprocess_cuda(ctx, db, 4, &p, out + count, NULL, st), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaStreamSynchronize(st)), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy(got, out, 2 * count * sizeof(float),
	                                           cudaMemcpyDeviceToHost)), 0);
	assert_int_equal(krn_preprocess_ref(ha, 4, &p, ref, NULL), 0);
	assert_int_equal(krn_preprocess_ref(hb, 4, &p, ref + count, NULL), 0);
	double worst = 0;
	for (size_t i = 0; i < 2 * count; i++) {
		double d = fabs((double)got[i] - ref[i]) / (255.0 * fabs(p.scale[channel_of(&p, i % count)]));
		worst = d > worst ? d : worst;
	}
	assert_true(worst <= 1e-4);
	cudaFree(out);
	cudaStreamDestroy(st);
	free(ref);
	free(got);
	for (int i = 0; i < 4; i++) {
		pic_free(&a[i]);
		pic_free(&b[i]);
	}
	krn_pre_cuda_free(&ctx);
}

/* Host frames, an oversized batch and bad parameters are refused without a launch. */
static void test_rejects(void **state)
{
	(void)state;
	krn_pre_cuda *ctx = NULL;
	assert_int_equal(krn_pre_cuda_new(0, &ctx), -EINVAL);
	assert_int_equal(krn_pre_cuda_new(2, &ctx), 0);
	krn_pre_params p;
	random_params(&p, KRN_LETTERBOX, KRN_CENTER, 0, 0, 0);
	test_pic t;
	pic_make(&t, VP_PIX_NV12, 65, 33);
	float *out = NULL;
	assert_int_equal(KRN_CUDA_CHECK(cudaMalloc((void **)&out, 3 * 3 * (size_t)p.dst_w * p.dst_h * 4)), 0);
	const vp_frame *host[1] = { &t.host };
	const vp_frame *three[3] = { &t.dev, &t.dev, &t.dev };
	assert_int_equal(krn_preprocess_cuda(ctx, host, 1, &p, out, NULL, NULL), -EINVAL);
	assert_int_equal(krn_preprocess_cuda(ctx, three, 3, &p, out, NULL, NULL), -EINVAL);
	assert_int_equal(krn_preprocess_cuda(ctx, three, 1, &p, NULL, NULL, NULL), -EINVAL);
	krn_pre_params bad = p;
	bad.dst_w = 0;
	assert_int_equal(krn_preprocess_cuda(ctx, three, 1, &bad, out, NULL, NULL), -EINVAL);
	vp_frame broken = t.dev;
	broken.data[1] = NULL;
	const vp_frame *br[1] = { &broken };
	assert_int_equal(krn_preprocess_cuda(ctx, br, 1, &p, out, NULL, NULL), -EINVAL);
	/* still usable after refusals */
	assert_int_equal(krn_preprocess_cuda(ctx, three, 2, &p, out, NULL, NULL), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaDeviceSynchronize()), 0);
	cudaFree(out);
	pic_free(&t);
	krn_pre_cuda_free(&ctx);
}
#endif

int main(void)
{
	if (!gpu_visible("gpu_preprocess"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_full_batch),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
