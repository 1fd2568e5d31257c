/* Fast CPU preprocessing (krn_preprocess_cpu) against the reference (krn_preprocess_ref):
 * real frames from the software decoder, repacked into every pixel format the kernels
 * take, and synthetic pictures of odd sizes; every geometry, channel order, layout and
 * thread count. Built like the Makefile builds it (no FMA contraction) the two must be
 * equal bit for bit; with -mfma they may differ by rounding, bounded by TOL. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/source.h"
#include "kernels/preprocess.h"
#include "kernels/preprocess_math.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#ifdef __FMA__
#define TOL 1e-3  /* 0-255 units: a few ulps of contraction */
#else
#define TOL 0.0
#endif

static const char *shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s ? s : "../shared";
}

/* ---- pictures ------------------------------------------------------------------- */

/* A host frame whose planes this test owns. */
typedef struct pic {
	vp_frame f;
	uint8_t *buf[3];
} pic;

static void pic_free(pic *p)
{
	for (int i = 0; i < 3; i++)
		free(p->buf[i]);
	memset(p, 0, sizeof(*p));
}

static uint32_t rnd_state = 12345u;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1664525u + 1013904223u;
	return rnd_state >> 8;
}

/* Allocates an fmt frame of w x h with padded rows (as decoders make them). */
static void pic_alloc(pic *p, vp_pixfmt fmt, int w, int h)
{
	int cw = (w + 1) / 2, ch = (h + 1) / 2;
	int bps = fmt == VP_PIX_P016 || fmt == VP_PIX_YUV420P10 ? 2 : 1;
	int semi = fmt == VP_PIX_NV12 || fmt == VP_PIX_P016;
	memset(p, 0, sizeof(*p));
	p->f.width = w;
	p->f.height = h;
	p->f.fmt = fmt;
	p->f.mem = VP_MEM_HOST;
	p->f.stream_id = "test";
	p->f.linesize[0] = (w + 7) * bps;
	p->f.linesize[1] = ((semi ? 2 * cw : cw) + 3) * bps;
	p->f.linesize[2] = semi ? 0 : p->f.linesize[1];
	p->buf[0] = malloc((size_t)p->f.linesize[0] * h);
	p->buf[1] = malloc((size_t)p->f.linesize[1] * ch);
	p->buf[2] = semi ? NULL : malloc((size_t)p->f.linesize[2] * ch);
	assert_non_null(p->buf[0]);
	assert_non_null(p->buf[1]);
	for (int i = 0; i < 3; i++)
		p->f.data[i] = p->buf[i];
}

/* Writes 8-bit sample v of plane k (0 Y, 1 U, 2 V) at (x, y) of the plane's grid; deep
 * formats get random bits below the 8-bit value, so fractions of a unit are exercised. */
static void pic_put(pic *p, int k, int x, int y, int v)
{
	const vp_frame *f = &p->f;
	int semi = f->fmt == VP_PIX_NV12 || f->fmt == VP_PIX_P016;
	int plane = semi && k ? 1 : k;
	int idx = semi && k ? 2 * x + (k - 1) : x;
	uint8_t *row = p->buf[plane] + (size_t)y * f->linesize[plane];
	if (f->fmt == VP_PIX_P016)
		((uint16_t *)(void *)row)[idx] = (uint16_t)((v << 8) | (rnd() & 0xc0u));
	else if (f->fmt == VP_PIX_YUV420P10)
		((uint16_t *)(void *)row)[idx] = (uint16_t)((v << 2) | (rnd() & 3u));
	else
		row[idx] = (uint8_t)v;
}

/* A copy of a decoded 8-bit planar frame in fmt (same samples, other layout). */
static void pic_repack(pic *p, const vp_frame *src, vp_pixfmt fmt)
{
	assert_int_equal(src->fmt, VP_PIX_YUV420P);
	pic_alloc(p, fmt, src->width, src->height);
	p->f.csp = src->csp;
	p->f.full_range = src->full_range;
	p->f.stream_id = src->stream_id;
	for (int y = 0; y < src->height; y++)
		for (int x = 0; x < src->width; x++)
			pic_put(p, 0, x, y, src->data[0][(size_t)y * src->linesize[0] + x]);
	for (int y = 0; y < (src->height + 1) / 2; y++)
		for (int x = 0; x < (src->width + 1) / 2; x++)
			for (int k = 1; k < 3; k++)
				pic_put(p, k, x, y, src->data[k][(size_t)y * src->linesize[k] + x]);
}

/* Random content: neighbouring samples differ, so any misplaced tap shows. */
static void pic_random(pic *p, vp_pixfmt fmt, int w, int h)
{
	pic_alloc(p, fmt, w, h);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			pic_put(p, 0, x, y, (int)(rnd() & 255u));
	for (int y = 0; y < (h + 1) / 2; y++)
		for (int x = 0; x < (w + 1) / 2; x++)
			for (int k = 1; k < 3; k++)
				pic_put(p, k, x, y, (int)(rnd() & 255u));
	p->f.csp = rnd() & 1 ? VP_CSP_BT709 : VP_CSP_BT601;
	p->f.full_range = (int)(rnd() & 1);
}

/* ---- comparison ----------------------------------------------------------------- */

static size_t out_elems(const krn_pre_params *p, int n)
{
	return (size_t)n * 3 * p->dst_w * p->dst_h;
}

/* Runs both on the batch; asserts the fast output covers every element and is within
 * TOL of the reference (0-255 units), and the xforms are equal. Returns the max diff. */
static double compare(const vp_frame *const *frames, int n, const krn_pre_params *p)
{
	size_t cnt = out_elems(p, n), esz = p->fp16 ? 2 : 4;
	uint8_t *ref = malloc(cnt * esz), *got = malloc(cnt * esz);
	krn_xform xr[8], xg[8];
	assert_true(n <= 8);
	assert_non_null(ref);
	assert_non_null(got);
	memset(got, 0xff, cnt * esz); /* NaN in both float widths: unwritten elements show */
	assert_int_equal(krn_preprocess_ref(frames, n, p, ref, xr), 0);
	assert_int_equal(krn_preprocess_cpu(frames, n, p, got, xg), 0);
	double worst = 0;
	for (size_t i = 0; i < cnt; i++) {
		float a, b;
		if (p->fp16) {
			a = krn_f16_to_f32(((uint16_t *)(void *)ref)[i]);
			b = krn_f16_to_f32(((uint16_t *)(void *)got)[i]);
		} else {
			a = ((float *)(void *)ref)[i];
			b = ((float *)(void *)got)[i];
		}
		int c = p->nhwc ? (int)(i % 3) : (int)(i / ((size_t)p->dst_w * p->dst_h) % 3);
		if (isnan(b))
			fail_msg("element %zu not written (%dx%d, n %d)", i, p->dst_w, p->dst_h, n);
		double d = fabs((double)a - b) / fabs(p->scale[c]);
		if (d > worst)
			worst = d;
	}
	if (worst > TOL)
		fail_msg("max |diff| %g > %g: %dx%d %s %s %s, first frame %dx%d fmt %d", worst, TOL,
		         p->dst_w, p->dst_h, p->resize == KRN_STRETCH ? "stretch" : "letterbox",
		         p->placement == KRN_CENTER ? "center" : "top_left", p->bgr ? "bgr" : "rgb",
		         frames[0]->width, frames[0]->height, (int)frames[0]->fmt);
	assert_memory_equal(xr, xg, (size_t)n * sizeof(xr[0]));
	free(ref);
	free(got);
	return worst;
}

static double compare1(const vp_frame *f, const krn_pre_params *p)
{
	const vp_frame *b[1] = { f };
	return compare(b, 1, p);
}

/* The settings a model can ask for: YOLOX (416, BGR, top-left, raw), YOLOv8 (640, RGB,
 * centred, /255), a stretch with per-channel mean/scale, and a non-square letterbox. */
static void param_set(int i, krn_pre_params *p)
{
	const float s = 1.0f / 255.0f;
	switch (i) {
	case 0:
		*p = (krn_pre_params){ .dst_w = 416, .dst_h = 416, .resize = KRN_LETTERBOX,
		                       .placement = KRN_TOP_LEFT, .pad_value = 114, .bgr = 1,
		                       .scale = { 1, 1, 1 } };
		break;
	case 1:
		*p = (krn_pre_params){ .dst_w = 640, .dst_h = 640, .resize = KRN_LETTERBOX,
		                       .placement = KRN_CENTER, .pad_value = 114,
		                       .scale = { s, s, s } };
		break;
	case 2:
		*p = (krn_pre_params){ .dst_w = 320, .dst_h = 256, .resize = KRN_STRETCH,
		                       .placement = KRN_CENTER, .pad_value = 0, .bgr = 1,
		                       .mean = { 123.675f, 116.28f, 103.53f },
		                       .scale = { 1 / 58.395f, 1 / 57.12f, 1 / 57.375f } };
		break;
	default:
		*p = (krn_pre_params){ .dst_w = 512, .dst_h = 288, .resize = KRN_LETTERBOX,
		                       .placement = KRN_CENTER, .pad_value = 0,
		                       .mean = { 0.5f, 1.5f, 2.5f }, .scale = { 1, 2, 0.5f } };
		break;
	}
}
#define N_PARAM_SETS 4

/* ---- real frames ---------------------------------------------------------------- */

typedef struct clip_frames {
	dec_stream *s;
	vp_frame *f[2];      /* frame 0 (intra) and a later one (predicted) */
	pipe_source_cfg cfg;
	char path[1024];
} clip_frames;

static void clip_open(clip_frames *c, const char *clip, int later)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s/data/videos/%s", shared_dir(), clip);
	c->cfg = (pipe_source_cfg){
		.id = (char *)clip, .uri = c->path, .decoder = PIPE_DEC_SOFTWARE, .interval = 1,
		.reconnect_initial_ms = 500, .reconnect_max_ms = 30000, .rtsp_timeout_ms = 5000,
		.is_file = true,
	};
	assert_int_equal(dec_stream_open(&c->cfg, 0, 8, &c->s), 0);
	for (int i = 0; i <= later; i++) {
		vp_frame *f = NULL;
		assert_int_equal(dec_stream_read(c->s, &f), 0);
		assert_int_equal(f->mem, VP_MEM_HOST);
		if (i == 0)
			c->f[0] = f;
		else if (i == later)
			c->f[1] = f;
		else
			vp_frame_unref(&f);
	}
}

static void clip_close(clip_frames *c)
{
	vp_frame_unref(&c->f[0]);
	vp_frame_unref(&c->f[1]);
	dec_stream_free(&c->s);
}

static const char *const clips[] = {
	"cars-1080p.mp4", "cars-1080p-hevc.mkv", "people-432p.mp4", "people-642x362.mp4",
	"highway-540p.mp4", "highway-160x90.mp4",
};

/* Each clip's frames as the software decoder gives them, and the same samples in every
 * other format the kernels take (NVDEC's NV12/P016, 10-bit planar). */
static void test_decoded_frames_every_format(void **state)
{
	(void)state;
	const vp_pixfmt fmts[3] = { VP_PIX_NV12, VP_PIX_P016, VP_PIX_YUV420P10 };
	double worst = 0;
	int runs = 0;
	for (size_t c = 0; c < sizeof(clips) / sizeof(clips[0]); c++) {
		clip_frames cf;
		clip_open(&cf, clips[c], 7);
		for (int k = 0; k < 2; k++) {
			const vp_frame *dec = cf.f[k];
			for (int fi = -1; fi < 3; fi++) {
				pic rp = { 0 };
				const vp_frame *f = dec;
				if (fi >= 0) {
					pic_repack(&rp, dec, fmts[fi]);
					f = &rp.f;
				}
				/* formats x settings, kept within budget: each setting on half of them */
				for (int s = 0; s < N_PARAM_SETS; s++) {
					if ((s + fi + k) % 2)
						continue;
					krn_pre_params p;
					param_set(s, &p);
					worst = fmax(worst, compare1(f, &p));
					runs++;
				}
				pic_free(&rp);
			}
		}
		clip_close(&cf);
	}
	printf("# %d decoded-frame runs, max |diff| to the reference %g (0-255 units)\n", runs,
	       worst);
}

/* The reference geometry holds for pictures of any size against any input size, among
 * them 1x1, odd widths and heights, widths not a multiple of 16 or of the SIMD width,
 * upscales (a source row reused by several output rows) and outputs wider than one pass. */
static void test_odd_sizes_and_geometries(void **state)
{
	(void)state;
	const int src[][2] = { { 1, 1 }, { 3, 5 }, { 5, 3 }, { 17, 9 }, { 33, 31 }, { 1001, 7 },
	                       { 2, 2 }, { 99, 250 } };
	const int dst[][2] = { { 416, 416 }, { 37, 23 }, { 1, 1 }, { 1500, 20 }, { 7, 640 } };
	const vp_pixfmt fmts[4] = { VP_PIX_YUV420P, VP_PIX_NV12, VP_PIX_P016, VP_PIX_YUV420P10 };
	double worst = 0;
	int runs = 0;
	for (size_t si = 0; si < sizeof(src) / sizeof(src[0]); si++) {
		for (int fi = 0; fi < 4; fi++) {
			pic pc;
			pic_random(&pc, fmts[fi], src[si][0], src[si][1]);
			for (size_t di = 0; di < sizeof(dst) / sizeof(dst[0]); di++) {
				for (int mode = 0; mode < 3; mode++) {
					krn_pre_params p = {
						.dst_w = dst[di][0], .dst_h = dst[di][1],
						.resize = mode == 2 ? KRN_STRETCH : KRN_LETTERBOX,
						.placement = mode == 1 ? KRN_CENTER : KRN_TOP_LEFT,
						.pad_value = (float)(rnd() % 256), .bgr = (int)((si + di + mode) & 1),
						.mean = { 1, 2, 3 }, .scale = { 0.5f, 0.25f, 2.0f },
					};
					worst = fmax(worst, compare1(&pc.f, &p));
					runs++;
				}
			}
			pic_free(&pc);
		}
	}
	printf("# %d odd-size runs, max |diff| %g\n", runs, worst);
}

/* A batch of different pictures and sizes, each item at its offset, at 1 to 4 threads
 * (more threads than rows too): the same output whatever the split. */
static void test_batches_and_thread_counts(void **state)
{
	(void)state;
	clip_frames a, b;
	clip_open(&a, "cars-1080p.mp4", 3);
	clip_open(&b, "people-642x362.mp4", 2);
	pic small;
	pic_random(&small, VP_PIX_NV12, 41, 13);
	const vp_frame *batch[5] = { a.f[0], b.f[0], &small.f, a.f[1], b.f[1] };
	int saved = omp_get_max_threads();
	for (int t = 1; t <= 4; t++) {
		omp_set_num_threads(t);
		for (int s = 0; s < N_PARAM_SETS; s++) {
			krn_pre_params p;
			param_set(s, &p);
			compare(batch, 5, &p);
		}
		krn_pre_params tiny = { .dst_w = 3, .dst_h = 2, .pad_value = 9,
		                        .scale = { 1, 1, 1 } };
		compare(batch, 5, &tiny);
	}
	omp_set_num_threads(saved);
	pic_free(&small);
	clip_close(&a);
	clip_close(&b);
}

/* FP16 and NHWC outputs (the shared per-pixel store) on a real frame. */
static void test_fp16_and_nhwc(void **state)
{
	(void)state;
	clip_frames cf;
	clip_open(&cf, "people-432p.mp4", 0);
	for (int s = 0; s < N_PARAM_SETS; s++) {
		for (int l = 1; l < 4; l++) {
			krn_pre_params p;
			param_set(s, &p);
			p.fp16 = l & 1;
			p.nhwc = (l >> 1) & 1;
			compare1(cf.f[0], &p);
		}
	}
	clip_close(&cf);
}

/* Bad batches and frames get the reference's answer (an error, nothing written). */
static void test_rejects_what_the_reference_rejects(void **state)
{
	(void)state;
	pic pc;
	pic_random(&pc, VP_PIX_YUV420P, 8, 8);
	krn_pre_params p;
	param_set(0, &p);
	size_t cnt = out_elems(&p, 1);
	float *out = malloc(cnt * sizeof(float));
	const vp_frame *ok[1] = { &pc.f }, *none[1] = { NULL };
	assert_int_equal(krn_preprocess_cpu(ok, 0, &p, out, NULL), -EINVAL);
	assert_int_equal(krn_preprocess_cpu(NULL, 1, &p, out, NULL), -EINVAL);
	assert_int_equal(krn_preprocess_cpu(ok, 1, &p, NULL, NULL), -EINVAL);
	assert_int_equal(krn_preprocess_cpu(none, 1, &p, out, NULL), -EINVAL);

	vp_frame bad = pc.f;
	const vp_frame *badb[1] = { &bad };
	bad.mem = VP_MEM_DEVICE;
	assert_int_equal(krn_preprocess_cpu(badb, 1, &p, out, NULL), -EINVAL);
	bad = pc.f;
	bad.fmt = (vp_pixfmt)17;
	assert_int_equal(krn_preprocess_cpu(badb, 1, &p, out, NULL), -EINVAL);
	bad = pc.f;
	bad.width = 0;
	assert_int_equal(krn_preprocess_cpu(badb, 1, &p, out, NULL), -EINVAL);
	bad = pc.f;
	bad.data[2] = NULL;
	assert_int_equal(krn_preprocess_cpu(badb, 1, &p, out, NULL), -EINVAL);

	krn_pre_params q = p;
	q.dst_w = 0;
	assert_int_equal(krn_preprocess_cpu(ok, 1, &q, out, NULL), -EINVAL);
	q = p;
	q.resize = 7;
	assert_int_equal(krn_preprocess_cpu(ok, 1, &q, out, NULL), -EINVAL);
	/* and the good frame still converts, without an xform array */
	assert_int_equal(krn_preprocess_cpu(ok, 1, &p, out, NULL), 0);
	free(out);
	pic_free(&pc);
}

int main(void)
{
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoded_frames_every_format),
		cmocka_unit_test(test_odd_sizes_and_geometries),
		cmocka_unit_test(test_batches_and_thread_counts),
		cmocka_unit_test(test_fp16_and_nhwc),
		cmocka_unit_test(test_rejects_what_the_reference_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
