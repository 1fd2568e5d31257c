/* NVDEC streams under load and trouble: 16 concurrent streams with identical output,
 * damaged clips (errors counted, later frames still out), the decoder choice, an
 * interrupt while every pool frame is held, and looping. Skips (exit 0) where no GPU is
 * visible. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_damage.h"

#include "gpu_skip.h"
#include "pipeline/vp_log.h"

#ifdef VP_HAVE_CUDA
#include "gpu_nvdec_util.h"

#define CONCURRENT 16

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
	assert_int_equal(one.frames, lavc_frames(path));
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
	td_make_damaged(src, out, 1.0, bad_at, n_bad);
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
	int per_pass = lavc_frames(path);
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

#endif

int main(void)
{
	if (!gpu_visible("gpu_nvdec_streams") || !nvdec_visible("gpu_nvdec_streams"))
		return 0;
#ifdef VP_HAVE_CUDA
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sixteen_concurrent_streams),
		cmocka_unit_test(test_corrupted_clips_count_errors_and_go_on),
		cmocka_unit_test(test_decoder_choice),
		cmocka_unit_test(test_interrupt_wakes_a_blocked_read),
		cmocka_unit_test(test_loop_restarts_the_parser),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
#endif
}
