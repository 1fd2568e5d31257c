/* NVDEC through dec_stream on every shared clip and on generated ones: frame count equal
 * to libavcodec's, pixels equal to the software decoder's (PSNR >= 60 dB per frame, compared
 * on the host after copying the device frame back, here only), and NVDEC + CUDA
 * preprocessing against software decode + CPU preprocessing. Skips (exit 0) where no GPU
 * is visible. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_skip.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "gpu_nvdec_util.h"
#include "kernels/preprocess.h"
#include "kernels/preprocess_cuda.h"

#define MAX_CLIPS 32
#define MIN_PSNR 60.0

/* Decodes path with NVDEC and software side by side, frame by frame; every frame's pts
 * within pts_tol seconds of the software decoder's (0: equal). Returns the NVDEC pixel
 * format. */
static vp_pixfmt compare_path(const char *path, const char *name, double pts_tol)
{
	vp_pixfmt fmt = VP_PIX_NV12;
	pipe_source_cfg hw_cfg, sw_cfg;
	make_cfg(&hw_cfg, path, PIPE_DEC_NVDEC);
	make_cfg(&sw_cfg, path, PIPE_DEC_SOFTWARE);
	dec_stream *hw = NULL, *sw = NULL;
	assert_int_equal(dec_stream_open(&hw_cfg, 0, 4, &hw), 0);
	assert_int_equal(dec_stream_open(&sw_cfg, 0, 4, &sw), 0);
	int n = 0, rh, rs;
	double worst = INFINITY;
	for (;;) {
		vp_frame *fh = NULL, *fs = NULL;
		rh = dec_stream_read(hw, &fh);
		rs = dec_stream_read(sw, &fs);
		if (rh != 0 || rs != 0) {
			vp_frame_unref(&fh);
			vp_frame_unref(&fs);
			break;
		}
		assert_int_equal(fh->mem, VP_MEM_DEVICE);
		assert_true(fh->fmt == VP_PIX_NV12 || fh->fmt == VP_PIX_P016);
		assert_int_equal(fh->width, fs->width);
		assert_int_equal(fh->height, fs->height);
		assert_int_equal(fh->index, fs->index);
		if (!(fabs(fh->pts - fs->pts) <= pts_tol))
			fail_msg("%s frame %d: NVDEC pts %.6f s, software %.6f s", name, n, fh->pts,
			         fs->pts);
		assert_int_equal(fh->csp, fs->csp);
		assert_int_equal(fh->full_range, fs->full_range);
		fmt = fh->fmt;
		host_pic a, b;
		pic_read(&a, fh);
		pic_read(&b, fs);
		double p = psnr(&a, &b);
		if (p < MIN_PSNR)
			fail_msg("%s frame %d: PSNR %.2f dB < %.0f", name, n, p, MIN_PSNR);
		worst = p < worst ? p : worst;
		pic_free(&a);
		pic_free(&b);
		vp_frame_unref(&fh);
		vp_frame_unref(&fs);
		n++;
	}
	assert_int_equal(rh, VP_EOF);
	assert_int_equal(rs, VP_EOF);
	dec_stats st;
	dec_stream_get_stats(hw, &st);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.frames, n);
	int expect = lavc_frames(path);
	print_message("%s: %d frames (libavcodec %d), worst PSNR %.1f dB\n", name, n, expect, worst);
	assert_int_equal(n, expect);
	dec_stream_free(&hw);
	dec_stream_free(&sw);
	return fmt;
}

static void compare_clip(const char *name)
{
	char path[1024];
	assert_true((size_t)snprintf(path, sizeof(path), "%s/%.400s", videos, name) < sizeof(path));
	compare_path(path, name, 0.001);
}

static int is_clip(const char *n)
{
	size_t l = strlen(n);
	return (l > 4 && (!strcmp(n + l - 4, ".mp4") || !strcmp(n + l - 4, ".mkv"))) ||
	       (l > 5 && !strcmp(n + l - 5, ".h264"));
}

static void test_every_clip_matches_software_and_libavcodec(void **state)
{
	(void)state;
	DIR *dir = opendir(videos);
	assert_non_null(dir);
	char names[MAX_CLIPS][256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) && n < MAX_CLIPS)
		if (is_clip(e->d_name))
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	closedir(dir);
	assert_true(n >= 5);
	for (int i = 0; i < n; i++)
		compare_clip(names[i]);
}

/* Streams the shared clips do not cover: HEVC 10 bit (P016), AV1, tagged full-range
 * BT.709, a size that is no multiple of 16; and H.264 10 bit, which NVDEC does not decode. */
static void test_generated_clips(void **state)
{
	(void)state;
	char path[1024];
	int made;
	make_clip(path, sizeof(path), "hevc-10bit.mkv", &made);
	assert_int_equal(compare_path(path, "hevc-10bit.mkv", 0.001), VP_PIX_P016);
	if (made)
		unlink(path);
	make_clip(path, sizeof(path), "h264-709-full.mkv", &made);
	assert_int_equal(compare_path(path, "h264-709-full.mkv", 0.001), VP_PIX_NV12);
	if (made)
		unlink(path);
	make_clip(path, sizeof(path), "hevc-odd.mp4", &made);
	assert_int_equal(compare_path(path, "hevc-odd.mp4", 0.001), VP_PIX_NV12);
	if (made)
		unlink(path);
	make_clip(path, sizeof(path), "av1.mkv", &made);
	pipe_source_cfg cfg;
	make_cfg(&cfg, path, PIPE_DEC_NVDEC);
	dec_stream *s = NULL;
	int r = dec_stream_open(&cfg, 0, 2, &s);
	dec_stream_free(&s);
	if (r == VP_ENODEV)
		print_message("AV1: this GPU has no AV1 decoder, not compared\n");
	else
		assert_int_equal(compare_path(path, "av1.mkv", 0.001), VP_PIX_NV12);
	if (made)
		unlink(path);
	/* NVDEC has no H.264 High 10: nvdec fails clearly, auto falls back to software. */
	make_clip(path, sizeof(path), "h264-10bit.mp4", &made);
	make_cfg(&cfg, path, PIPE_DEC_NVDEC);
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), VP_ENODEV);
	assert_null(s);
	cfg.decoder = PIPE_DEC_AUTO;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	vp_frame *f = NULL;
	assert_int_equal(dec_stream_read(s, &f), 0);
	assert_int_equal(f->mem, VP_MEM_HOST);
	assert_int_equal(f->fmt, VP_PIX_YUV420P10);
	vp_frame_unref(&f);
	dec_stream_free(&s);
	if (made)
		unlink(path);
}

/* Timestamps through the parser's 10 MHz clock and back: every frame's pts equals the
 * software decoder's exactly, on MPEG-TS (90 kHz, B-frames reordered) and on AV1 with
 * hidden alt-ref frames shown later by show_existing_frame (IVF 1/10, mkv 1/1000). */
static void test_pts_equal_software_on_ts_and_av1(void **state)
{
	(void)state;
	const char *clips[] = { "h264-bframes.ts", "hevc-bframes.ts", "av1-altref.ivf",
	                        "av1-altref.mkv" };
	for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++) {
		char path[1024];
		int made;
		make_clip(path, sizeof(path), clips[i], &made);
		pipe_source_cfg cfg;
		make_cfg(&cfg, path, PIPE_DEC_NVDEC);
		dec_stream *s = NULL;
		int r = dec_stream_open(&cfg, 0, 2, &s);
		dec_stream_free(&s);
		if (r == VP_ENODEV && !strncmp(clips[i], "av1", 3))
			print_message("%s: this GPU has no AV1 decoder, not compared\n", clips[i]);
		else
			compare_path(path, clips[i], 0);
		if (made)
			unlink(path);
	}
}

/* The whole GPU path against the whole CPU path: a batch of NVDEC frames of three clips
 * through krn_preprocess_cuda equals the software frames through krn_preprocess_ref. */
static void test_gpu_path_tensor_equals_cpu_path(void **state)
{
	(void)state;
	const char *clips[] = { "people-642x362.mp4", "cars-1080p-hevc.mkv", "highway-540p.mp4" };
	enum { N = 3 };
	dec_stream *hw[N], *sw[N];
	vp_frame *fh[N], *fs[N];
	pipe_source_cfg hc[N], sc[N];
	char paths[N][1024];
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", videos, clips[i]);
		make_cfg(&hc[i], paths[i], PIPE_DEC_NVDEC);
		make_cfg(&sc[i], paths[i], PIPE_DEC_SOFTWARE);
		assert_int_equal(dec_stream_open(&hc[i], i, 2, &hw[i]), 0);
		assert_int_equal(dec_stream_open(&sc[i], i, 2, &sw[i]), 0);
		for (int k = 0; k < 5; k++) {  /* a P or B frame, not the first picture */
			assert_int_equal(dec_stream_read(hw[i], &fh[i]), 0);
			assert_int_equal(dec_stream_read(sw[i], &fs[i]), 0);
			if (k < 4) {
				vp_frame_unref(&fh[i]);
				vp_frame_unref(&fs[i]);
			}
		}
	}
	krn_pre_params p = { .dst_w = 640, .dst_h = 384, .resize = KRN_LETTERBOX,
	                     .placement = KRN_CENTER, .pad_value = 114, .bgr = 1,
	                     .mean = { 0, 0, 0 }, .scale = { 1, 1, 1 } };
	size_t count = (size_t)N * 3 * p.dst_w * p.dst_h;
	float *ref = malloc(count * 4), *got = malloc(count * 4), *dev = NULL;
	assert_true(ref && got);
	krn_pre_cuda *ctx = NULL;
	assert_int_equal(krn_pre_cuda_new(N, &ctx), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMalloc((void **)&dev, count * 4)), 0);
	assert_int_equal(krn_preprocess_cuda(ctx, (const vp_frame *const *)fh, N, &p, dev, NULL, NULL), 0);
	assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy(got, dev, count * 4, cudaMemcpyDeviceToHost)), 0);
	assert_int_equal(krn_preprocess_ref((const vp_frame *const *)fs, N, &p, ref, NULL), 0);
	double worst = 0;
	for (size_t i = 0; i < count; i++) {
		double d = fabs((double)got[i] - ref[i]);
		worst = d > worst ? d : worst;
	}
	print_message("GPU path vs CPU path: max |diff| %.6f (0-255 units)\n", worst);
	assert_true(worst <= 255 * 1e-4);
	cudaFree(dev);
	krn_pre_cuda_free(&ctx);
	free(ref);
	free(got);
	for (int i = 0; i < N; i++) {
		vp_frame_unref(&fh[i]);
		vp_frame_unref(&fs[i]);
		dec_stream_free(&hw[i]);
		dec_stream_free(&sw[i]);
	}
}

#endif

int main(int argc, char **argv)
{
#ifdef VP_HAVE_CUDA
	if (argc == 3 && !strcmp(argv[1], "--make-clips"))
		return make_all_clips(argv[2]);
#endif
	(void)argc;
	(void)argv;
	if (!gpu_visible("gpu_nvdec") || !nvdec_visible("gpu_nvdec"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_clip_matches_software_and_libavcodec),
		cmocka_unit_test(test_generated_clips),
		cmocka_unit_test(test_pts_equal_software_on_ts_and_av1),
		cmocka_unit_test(test_gpu_path_tensor_equals_cpu_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
#endif
}
