/* NVDEC through dec_stream on every shared clip: frame count equal to ffprobe's, pixels
 * equal to the software decoder's (PSNR >= 60 dB per frame, compared on the host after
 * copying the device frame back, here only), NVDEC + CUDA preprocessing against software
 * decode + CPU preprocessing, 16 concurrent streams, damaged clips, decoder choice,
 * interrupt and loop. Skips (exit 0) where no GPU is visible. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "decode/source.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "kernels/cuda_util.h"
#include "kernels/preprocess.h"
#include "kernels/preprocess_cuda.h"

#define MAX_CLIPS 32
#define CONCURRENT 16
#define MIN_PSNR 60.0

static char videos[512];
static char tmpdir[256];

static void make_cfg(pipe_source_cfg *c, const char *uri, enum pipe_decoder dec)
{
	memset(c, 0, sizeof(*c));
	c->id = "gpu";
	c->uri = (char *)uri;
	c->decoder = dec;
	c->device_frames_ok = true;
	c->interval = 1;
	c->queue.depth = 8;
	c->queue.policy = PIPE_QP_BLOCK;
	c->reconnect_initial_ms = 200;
	c->reconnect_max_ms = 1000;
	c->rtsp_timeout_ms = 2000;
	c->nvdec_in_flight = 2;
	c->is_file = 1;
}

static int ffprobe_frames(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
	         "stream=nb_read_frames -of csv=p=0 '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	int n = -1;
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* Host copy of a frame's planes as 8-bit-unit floats: Y (w x h), U and V (cw x ch). */
typedef struct host_pic {
	int w, h;
	float *plane[3];
} host_pic;

static void pic_alloc(host_pic *p, int w, int h)
{
	p->w = w;
	p->h = h;
	size_t cn = (size_t)((w + 1) / 2) * ((h + 1) / 2);
	p->plane[0] = malloc(sizeof(float) * (size_t)w * h);
	p->plane[1] = malloc(sizeof(float) * cn);
	p->plane[2] = malloc(sizeof(float) * cn);
	assert_true(p->plane[0] && p->plane[1] && p->plane[2]);
}

static void pic_free(host_pic *p)
{
	for (int i = 0; i < 3; i++)
		free(p->plane[i]);
}

static float sample(const uint8_t *row, int i, int bps, float unit)
{
	return bps == 2 ? (float)((const uint16_t *)(const void *)row)[i] * unit : (float)row[i];
}

/* Reads a host (planar) or device (semi-planar) frame into p. */
static void pic_read(host_pic *p, const vp_frame *f)
{
	pic_alloc(p, f->width, f->height);
	int w = f->width, h = f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
	int bps = f->fmt == VP_PIX_P016 || f->fmt == VP_PIX_YUV420P10 ? 2 : 1;
	float unit = f->fmt == VP_PIX_P016 ? 1.0f / 256.0f : 0.25f;
	const uint8_t *y = f->data[0], *c1 = f->data[1], *c2 = f->data[2];
	int ly = f->linesize[0], l1 = f->linesize[1], l2 = f->linesize[2];
	uint8_t *buf = NULL;
	if (f->mem == VP_MEM_DEVICE) {
		/* Test only: the pipeline never brings device frames back to the host. */
		ly = w * bps;
		l1 = 2 * cw * bps;
		buf = malloc((size_t)ly * h + (size_t)l1 * ch);
		assert_non_null(buf);
		assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy2D(buf, (size_t)ly, f->data[0],
		                 (size_t)f->linesize[0], (size_t)ly, (size_t)h, cudaMemcpyDeviceToHost)), 0);
		assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy2D(buf + (size_t)ly * h, (size_t)l1, f->data[1],
		                 (size_t)f->linesize[1], (size_t)l1, (size_t)ch, cudaMemcpyDeviceToHost)), 0);
		y = buf;
		c1 = buf + (size_t)ly * h;
	}
	for (int r = 0; r < h; r++)
		for (int x = 0; x < w; x++)
			p->plane[0][(size_t)r * w + x] = sample(y + (size_t)r * ly, x, bps, unit);
	for (int r = 0; r < ch; r++) {
		for (int x = 0; x < cw; x++) {
			size_t at = (size_t)r * cw + x;
			if (f->fmt == VP_PIX_NV12 || f->fmt == VP_PIX_P016) {
				p->plane[1][at] = sample(c1 + (size_t)r * l1, 2 * x, bps, unit);
				p->plane[2][at] = sample(c1 + (size_t)r * l1, 2 * x + 1, bps, unit);
			} else {
				p->plane[1][at] = sample(c1 + (size_t)r * l1, x, bps, unit);
				p->plane[2][at] = sample(c2 + (size_t)r * l2, x, bps, unit);
			}
		}
	}
	free(buf);
}

static double psnr(const host_pic *a, const host_pic *b)
{
	size_t n0 = (size_t)a->w * a->h, nc = (size_t)((a->w + 1) / 2) * ((a->h + 1) / 2);
	double se = 0;
	for (int k = 0; k < 3; k++) {
		size_t n = k ? nc : n0;
		for (size_t i = 0; i < n; i++) {
			double d = (double)a->plane[k][i] - b->plane[k][i];
			se += d * d;
		}
	}
	double mse = se / (double)(n0 + 2 * nc);
	return mse == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / mse);
}

/* Decodes path with NVDEC and software side by side, frame by frame; returns the NVDEC
 * pixel format. */
static vp_pixfmt compare_path(const char *path, const char *name)
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
		assert_true(fabs(fh->pts - fs->pts) < 0.001);
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
	int expect = ffprobe_frames(path);
	print_message("%s: %d frames (ffprobe %d), worst PSNR %.1f dB\n", name, n, expect, worst);
	assert_int_equal(n, expect);
	dec_stream_free(&hw);
	dec_stream_free(&sw);
	return fmt;
}

static void compare_clip(const char *name)
{
	char path[1024];
	assert_true((size_t)snprintf(path, sizeof(path), "%s/%.400s", videos, name) < sizeof(path));
	compare_path(path, name);
}

static int is_clip(const char *n)
{
	size_t l = strlen(n);
	return (l > 4 && (!strcmp(n + l - 4, ".mp4") || !strcmp(n + l - 4, ".mkv"))) ||
	       (l > 5 && !strcmp(n + l - 5, ".h264"));
}

static void test_every_clip_matches_software_and_ffprobe(void **state)
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

/* Encodes a short test pattern into tmpdir with ffmpeg. */
static void make_clip(char *out, size_t n, const char *name, const char *size, const char *args)
{
	assert_true((size_t)snprintf(out, n, "%s/%s", tmpdir, name) < n);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -f lavfi -i testsrc2=s=%s:r=10 -frames:v 12 %s "
	         "'%s' 2>/dev/null", size, args, out);
	assert_int_equal(system(cmd), 0);
}

/* Streams the shared clips do not cover: HEVC 10 bit (P016), AV1, tagged full-range
 * BT.709, a size that is no multiple of 16; and H.264 10 bit, which NVDEC does not decode. */
static void test_generated_clips(void **state)
{
	(void)state;
	char path[1024];
	make_clip(path, sizeof(path), "hevc-10bit.mkv", "352x288",
	          "-c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=error");
	assert_int_equal(compare_path(path, "hevc-10bit.mkv"), VP_PIX_P016);
	unlink(path);
	make_clip(path, sizeof(path), "h264-709-full.mkv", "320x240",
	          "-c:v libx264 -pix_fmt yuvj420p -colorspace bt709");
	assert_int_equal(compare_path(path, "h264-709-full.mkv"), VP_PIX_NV12);
	unlink(path);
	make_clip(path, sizeof(path), "hevc-odd.mp4", "334x206",
	          "-c:v libx265 -pix_fmt yuv420p -x265-params log-level=error");
	assert_int_equal(compare_path(path, "hevc-odd.mp4"), VP_PIX_NV12);
	unlink(path);
	make_clip(path, sizeof(path), "av1.mkv", "352x288", "-c:v libsvtav1 -preset 12");
	pipe_source_cfg cfg;
	make_cfg(&cfg, path, PIPE_DEC_NVDEC);
	dec_stream *s = NULL;
	int r = dec_stream_open(&cfg, 0, 2, &s);
	dec_stream_free(&s);
	if (r == VP_ENODEV)
		print_message("AV1: this GPU has no AV1 decoder, not compared\n");
	else
		assert_int_equal(compare_path(path, "av1.mkv"), VP_PIX_NV12);
	unlink(path);
	/* NVDEC has no H.264 High 10: nvdec fails clearly, auto falls back to software. */
	make_clip(path, sizeof(path), "h264-10bit.mp4", "320x240", "-c:v libx264 -pix_fmt yuv420p10le");
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
	unlink(path);
}

/* ---- concurrency ----------------------------------------------------------------- */

typedef struct worker {
	pthread_t th;
	const char *path;
	int frames;
	int64_t errors;
	uint64_t sum;       /* checksum of every frame's first luma row, copied back */
	int rc;
} worker;

static uint64_t row_sum(const vp_frame *f)
{
	uint8_t row[4096];
	int bytes = f->width * (f->fmt == VP_PIX_P016 ? 2 : 1);
	if (bytes > (int)sizeof(row))
		bytes = sizeof(row);
	if (cudaMemcpy(row, f->data[0], (size_t)bytes, cudaMemcpyDeviceToHost) != cudaSuccess)
		return 0;
	uint64_t s = 1469598103934665603ull;
	for (int i = 0; i < bytes; i++)
		s = (s ^ row[i]) * 1099511628211ull;
	return s;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	pipe_source_cfg cfg;
	make_cfg(&cfg, w->path, PIPE_DEC_NVDEC);
	dec_stream *s = NULL;
	w->rc = dec_stream_open(&cfg, 0, 4, &s);
	if (w->rc < 0)
		return NULL;
	vp_frame *f = NULL;
	while ((w->rc = dec_stream_read(s, &f)) == 0) {
		w->sum = w->sum * 31 + row_sum(f);
		w->frames++;
		vp_frame_unref(&f);
	}
	dec_stats st;
	dec_stream_get_stats(s, &st);
	w->errors = st.errors;
	dec_stream_free(&s);
	return NULL;
}

static void test_sixteen_concurrent_streams(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/cars-432p.mp4", videos);
	worker one = { .path = path };
	worker_main(&one);
	assert_int_equal(one.rc, VP_EOF);
	assert_int_equal(one.frames, ffprobe_frames(path));
	static worker w[CONCURRENT];
	for (int i = 0; i < CONCURRENT; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].path = path;
		assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < CONCURRENT; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].rc, VP_EOF);
		assert_int_equal(w[i].errors, 0);
		assert_int_equal(w[i].frames, one.frames);
		/* Same pictures in every stream: no surface of one decoder leaks into another. */
		assert_true(w[i].sum == one.sum);
	}
}

/* ---- damage, choice, interrupt, loop ---------------------------------------------- */

static void make_damaged(const char *clip, const char *out, double bad_at, int n_bad)
{
	char src[1024];
	snprintf(src, sizeof(src), "%s/%s", videos, clip);
	FILE *in = fopen(src, "rb");
	assert_non_null(in);
	fseek(in, 0, SEEK_END);
	long size = ftell(in);
	rewind(in);
	char *buf = malloc((size_t)size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, in), (size_t)size);
	fclose(in);
	unsigned seed = 12345;
	for (long i = (long)(bad_at * size); i < (long)(bad_at * size) + n_bad && i < size; i++)
		buf[i] = (char)rand_r(&seed);
	FILE *o = fopen(out, "wb");
	assert_non_null(o);
	assert_int_equal(fwrite(buf, 1, (size_t)size, o), (size_t)size);
	fclose(o);
	free(buf);
}

static void test_corrupted_clips_count_errors_and_go_on(void **state)
{
	(void)state;
	const char *clips[] = { "cars-432p.h264", "people-432p.mp4", "people-432p-hevc.mkv" };
	for (size_t c = 0; c < sizeof(clips) / sizeof(clips[0]); c++) {
		char path[1024], out[600];
		snprintf(path, sizeof(path), "%s/%s", videos, clips[c]);
		snprintf(out, sizeof(out), "%s/corrupt-%s", tmpdir, clips[c]);
		make_damaged(clips[c], out, 0.3, 4000);
		worker whole = { .path = path }, bad = { .path = out };
		worker_main(&whole);
		worker_main(&bad);
		print_message("corrupt %s: %d of %d frames, %lld errors\n", clips[c], bad.frames,
		              whole.frames, (long long)bad.errors);
		assert_int_equal(bad.rc, VP_EOF);
		assert_true(bad.errors > 0);
		assert_true(bad.frames >= whole.frames * 6 / 10);
		unlink(out);
	}
}

static int open_mem(const char *clip, enum pipe_decoder dec, bool device_ok, vp_memtype *mem)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", videos, clip);
	pipe_source_cfg cfg;
	make_cfg(&cfg, path, dec);
	cfg.device_frames_ok = device_ok;
	dec_stream *s = NULL;
	int r = dec_stream_open(&cfg, 0, 2, &s);
	if (r < 0)
		return r;
	vp_frame *f = NULL;
	r = dec_stream_read(s, &f);
	if (r == 0)
		*mem = f->mem;
	vp_frame_unref(&f);
	dec_stream_free(&s);
	return r;
}

static void test_decoder_choice(void **state)
{
	(void)state;
	vp_memtype mem = VP_MEM_HOST;
	assert_int_equal(open_mem("people-2s.mp4", PIPE_DEC_AUTO, true, &mem), 0);
	assert_int_equal(mem, VP_MEM_DEVICE);
	assert_int_equal(open_mem("people-2s.mp4", PIPE_DEC_AUTO, false, &mem), 0);
	assert_int_equal(mem, VP_MEM_HOST);
	assert_int_equal(open_mem("people-2s.mp4", PIPE_DEC_SOFTWARE, true, &mem), 0);
	assert_int_equal(mem, VP_MEM_HOST);
	assert_int_equal(open_mem("highway-160x90.mp4", PIPE_DEC_NVDEC, false, &mem), 0);
	assert_int_equal(mem, VP_MEM_DEVICE);
}

typedef struct stopper {
	dec_stream *s;
	int ms;
} stopper;

static void *stop_later(void *arg)
{
	stopper *st = arg;
	usleep((useconds_t)st->ms * 1000);
	dec_stream_interrupt(st->s);
	return NULL;
}

/* With every pool frame held, a read blocks until the interrupt, then ends. */
static void test_interrupt_wakes_a_blocked_read(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/cars-1080p.mp4", videos);
	pipe_source_cfg cfg;
	make_cfg(&cfg, path, PIPE_DEC_NVDEC);
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	vp_frame *held[2] = { NULL, NULL }, *f = NULL;
	assert_int_equal(dec_stream_read(s, &held[0]), 0);
	assert_int_equal(dec_stream_read(s, &held[1]), 0);
	stopper st = { s, 300 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stop_later, &st), 0);
	assert_int_equal(dec_stream_read(s, &f), VP_EOF);
	pthread_join(th, NULL);
	assert_int_equal(dec_stream_read(s, &f), VP_EOF);
	/* Frames outlive their stream: the pool keeps the device memory and the context
	 * until the last one comes back. */
	dec_stream_free(&s);
	assert_true(held[0]->mem == VP_MEM_DEVICE && held[1]->mem == VP_MEM_DEVICE);
	host_pic a;
	pic_read(&a, held[1]);
	pic_free(&a);
	vp_frame_unref(&held[0]);
	vp_frame_unref(&held[1]);
}

static void test_loop_restarts_the_parser(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/people-2s.mp4", videos);
	int per_pass = ffprobe_frames(path);
	pipe_source_cfg cfg;
	make_cfg(&cfg, path, PIPE_DEC_NVDEC);
	cfg.loop = true;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 3, &s), 0);
	double last = -1;
	for (int i = 0; i < 3 * per_pass + 1; i++) {
		vp_frame *f = NULL;
		assert_int_equal(dec_stream_read(s, &f), 0);
		assert_int_equal(f->index, i);
		assert_true(f->pts > last);
		last = f->pts;
		vp_frame_unref(&f);
	}
	dec_stats st;
	dec_stream_get_stats(s, &st);
	assert_int_equal(st.errors, 0);
	dec_stream_free(&s);
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

static int setup(void **state)
{
	(void)state;
	const char *shared = getenv("SHARED");
	snprintf(videos, sizeof(videos), "%s/data/videos", shared ? shared : "../shared");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vapd-gpu-nvdec-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}
#endif

int main(void)
{
#ifndef VP_HAVE_CUDA
	printf("skipped: no GPU visible (this build has no CUDA: nvcc was not found)\n");
	return 0;
#else
	const char *why = "";
	if (krn_cuda_devices(&why) < 0) {
		printf("skipped: no GPU visible (%s)\n", why);
		return 0;
	}
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_clip_matches_software_and_ffprobe),
		cmocka_unit_test(test_generated_clips),
		cmocka_unit_test(test_gpu_path_tensor_equals_cpu_path),
		cmocka_unit_test(test_sixteen_concurrent_streams),
		cmocka_unit_test(test_corrupted_clips_count_errors_and_go_on),
		cmocka_unit_test(test_decoder_choice),
		cmocka_unit_test(test_interrupt_wakes_a_blocked_read),
		cmocka_unit_test(test_loop_restarts_the_parser),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
#endif
}
