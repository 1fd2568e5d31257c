/* The view's GPU scaler (kernels/view_scale.cu) against its CPU twin on random NV12 and
 * P016 frames, random even source rectangles and sizes, down and up: equal bit for bit.
 * Then the canvas's device path: a device frame scaled into a canvas equals the CPU
 * twin's picture converted by the host path. Skips (exit 0) where no GPU is visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_skip.h"
#include "kernels/view_scale.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "view/render.h"

#ifdef VP_HAVE_CUDA
#include "kernels/cuda_util.h"

static unsigned rng_state = 777u;
static int rnd_in(int lo, int hi)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return lo + (int)(((rng_state >> 8) & 0xffffffu) % (unsigned)(hi - lo + 1));
}
static int rnd_even(int lo, int hi) { return rnd_in(lo / 2, hi / 2) * 2; }

/* A random frame held twice: host for the reference, device for the kernel. */
typedef struct pic {
	vp_frame host, dev;
	void *hbuf[2], *dbuf[2];
} pic;

static void pic_make(pic *t, vp_pixfmt fmt, int w, int h)
{
	memset(t, 0, sizeof(*t));
	int bps = fmt == VP_PIX_P016 ? 2 : 1;
	t->host = (vp_frame){ .stream_id = "gpu_view_scale", .width = w, .height = h, .fmt = fmt,
	                      .mem = VP_MEM_HOST, .csp = VP_CSP_BT709 };
	for (int k = 0; k < 2; k++) {
		int rows = k == 0 ? h : h / 2, ls = w * bps + 2 * rnd_in(0, 30);
		size_t bytes = (size_t)ls * rows;
		uint8_t *p = malloc(bytes);
		assert_non_null(p);
		for (size_t i = 0; i < bytes; i++)
			p[i] = (uint8_t)rnd_in(0, 255);
		t->hbuf[k] = p;
		assert_int_equal(KRN_CUDA_CHECK(cudaMalloc(&t->dbuf[k], bytes)), 0);
		assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy(t->dbuf[k], p, bytes, cudaMemcpyHostToDevice)), 0);
		t->host.data[k] = p;
		t->host.linesize[k] = ls;
	}
	t->dev = t->host;
	t->dev.mem = VP_MEM_DEVICE;
	t->dev.data[0] = t->dbuf[0];
	t->dev.data[1] = t->dbuf[1];
}

static void pic_free(pic *t)
{
	for (int k = 0; k < 2; k++) {
		free(t->hbuf[k]);
		cudaFree(t->dbuf[k]);
	}
}

/* Runs both on one random case; returns the number of differing bytes. */
static int run_case(vp_pixfmt fmt)
{
	pic t;
	int w = rnd_even(2, 1920), h = rnd_even(2, 1080);
	pic_make(&t, fmt, w, h);
	krn_vscale p = { .sx = rnd_even(0, w - 2), .sy = rnd_even(0, h - 2) };
	p.sw = rnd_even(2, w - p.sx);
	p.sh = rnd_even(2, h - p.sy);
	p.dst_w = rnd_even(2, 800);
	p.dst_h = rnd_even(2, 600);
	int ls = p.dst_w + rnd_in(0, 64);
	size_t bytes = (size_t)ls * (p.dst_h + p.dst_h / 2);
	uint8_t *ref = calloc(1, bytes), *got = malloc(bytes), *dev = NULL;
	assert_non_null(ref);
	assert_non_null(got);
	krn_vscale ph = p, pd = p;
	ph.dst[0] = ref;
	ph.dst[1] = ref + (size_t)ls * p.dst_h;
	ph.dst_ls[0] = ph.dst_ls[1] = ls;
	assert_int_equal(krn_view_scale_ref(&t.host, &ph), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMalloc((void **)&dev, bytes)), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMemset(dev, 0, bytes)), 0);  /* gaps equal the ref's */
	pd.dst[0] = dev;
	pd.dst[1] = dev + (size_t)ls * p.dst_h;
	pd.dst_ls[0] = pd.dst_ls[1] = ls;
	assert_int_equal(krn_view_scale_cuda(&t.dev, &pd, NULL), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy(got, dev, bytes, cudaMemcpyDeviceToHost)), 0);
	int diff = 0;
	for (size_t i = 0; i < bytes; i++)
		diff += ref[i] != got[i];
	if (diff)
		print_message("fmt %d %dx%d rect %d,%d %dx%d -> %dx%d: %d bytes differ\n", fmt, w, h, p.sx, p.sy,
		              p.sw, p.sh, p.dst_w, p.dst_h, diff);
	cudaFree(dev);
	free(ref);
	free(got);
	pic_free(&t);
	return diff;
}

static void test_cuda_equals_reference(void **state)
{
	(void)state;
	for (int i = 0; i < 40; i++) {
		assert_int_equal(run_case(VP_PIX_NV12), 0);
		assert_int_equal(run_case(VP_PIX_P016), 0);
	}
}

static void test_rejects_bad_geometry(void **state)
{
	(void)state;
	pic t;
	pic_make(&t, VP_PIX_NV12, 64, 32);
	uint8_t *dev = NULL;
	assert_int_equal(KRN_CUDA_CHECK(cudaMalloc((void **)&dev, 64 * 48)), 0);
	krn_vscale p = { 0, 0, 64, 32, 32, 16, { dev, dev + 64 * 16 }, { 64, 64 } };
	krn_vscale odd = p, out = p;
	odd.sx = 1;
	out.sw = 66;
	vp_frame yuv = t.dev;
	yuv.fmt = VP_PIX_YUV420P;
	assert_int_equal(krn_view_scale_cuda(&t.dev, &odd, NULL), -EINVAL);
	assert_int_equal(krn_view_scale_cuda(&t.dev, &out, NULL), -EINVAL);
	assert_int_equal(krn_view_scale_cuda(&yuv, &p, NULL), -EINVAL);
	assert_int_equal(krn_view_scale_cuda(&t.dev, &p, NULL), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaDeviceSynchronize()), 0);
	cudaFree(dev);
	pic_free(&t);
}

/* The canvas with a device frame: GPU box scale, small copy, host conversion; equal to
 * the CPU twin's NV12 picture converted by the host path at the same size. */
static void test_canvas_device_path(void **state)
{
	(void)state;
	pic t;
	pic_make(&t, VP_PIX_NV12, 1920, 1080);
	view_canvas *cd = NULL, *ch = NULL;
	assert_int_equal(view_canvas_new(1920, 1080, &cd), 0);
	assert_int_equal(view_canvas_new(1920, 1080, &ch), 0);
	view_rect r = { 200, 100, 1200, 900 };
	assert_int_equal(view_canvas_from_frame(cd, &t.dev, &r, 640), 0);
	int w = view_canvas_width(cd), h = view_canvas_height(cd);
	assert_int_equal(w, 640);
	assert_int_equal(h, 480);
	uint8_t *small = malloc((size_t)w * h * 3 / 2);
	assert_non_null(small);
	krn_vscale p = { 200, 100, 1200, 900, w, h, { small, small + (size_t)w * h }, { w, w } };
	assert_int_equal(krn_view_scale_ref(&t.host, &p), 0);
	vp_frame sf = { .stream_id = "gpu_view_scale", .width = w, .height = h, .fmt = VP_PIX_NV12,
	                .mem = VP_MEM_HOST, .csp = VP_CSP_BT709, .data = { small, small + (size_t)w * h },
	                .linesize = { w, w } };
	assert_int_equal(view_canvas_from_frame(ch, &sf, NULL, 0), 0);
	int sd, sh;
	const uint8_t *a = view_canvas_pixels(cd, &sd), *b = view_canvas_pixels(ch, &sh);
	for (int y = 0; y < h; y++)
		assert_memory_equal(a + (size_t)y * sd, b + (size_t)y * sh, (size_t)w * 4);
	free(small);
	view_canvas_free(&cd);
	view_canvas_free(&ch);
	pic_free(&t);
}
#endif

int main(void)
{
	if (!gpu_visible("gpu_view_scale"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cuda_equals_reference),
		cmocka_unit_test(test_rejects_bad_geometry),
		cmocka_unit_test(test_canvas_device_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
