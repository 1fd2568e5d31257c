/* The decoder choice on whatever machine runs the suite: decoder: nvdec either decodes
 * into device frames or fails at open with one clear error (no driver, no GPU); auto
 * falls back to the software decoder with exactly one log line saying why, and never
 * hands device frames to a pipeline that did not ask for them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "decode/source.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

static char clip[512];

static void make_cfg(pipe_source_cfg *c, enum pipe_decoder dec, bool device_ok)
{
	memset(c, 0, sizeof(*c));
	c->id = "choice";
	c->uri = clip;
	c->decoder = dec;
	c->device_frames_ok = device_ok;
	c->interval = 1;
	c->queue.depth = 4;
	c->queue.policy = PIPE_QP_BLOCK;
	c->reconnect_initial_ms = 100;
	c->reconnect_max_ms = 100;
	c->rtsp_timeout_ms = 1000;
	c->nvdec_in_flight = 2;
	c->is_file = 1;
}

/* Opens, reads the first frame and returns its memory type; stderr of the open goes to
 * log (a file) so the test can count what was said. */
static int first_frame(enum pipe_decoder dec, bool device_ok, vp_memtype *mem, char *log, size_t n)
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	pipe_source_cfg cfg;
	make_cfg(&cfg, dec, device_ok);
	dec_stream *s = NULL;
	int r = dec_stream_open(&cfg, 0, 2, &s);
	vp_frame *f = NULL;
	if (r == 0 && (r = dec_stream_read(s, &f)) == 0)
		*mem = f->mem;
	vp_frame_unref(&f);
	dec_stream_free(&s);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t got = fread(log, 1, n - 1, tmp);
	log[got] = '\0';
	fclose(tmp);
	return r;
}

static int count(const char *log, const char *what)
{
	int c = 0;
	for (const char *p = log; (p = strstr(p, what)); p += strlen(what))
		c++;
	return c;
}

static void test_nvdec_decodes_on_device_or_fails_clearly(void **state)
{
	(void)state;
	char log[8192];
	vp_memtype mem = VP_MEM_HOST;
	int r = first_frame(PIPE_DEC_NVDEC, true, &mem, log, sizeof(log));
	if (r == 0) {
		print_message("NVDEC available here: frames in device memory\n");
		assert_int_equal(mem, VP_MEM_DEVICE);
		return;
	}
	print_message("NVDEC unavailable here: %s", log);
	const char *must = getenv("VAPD_REQUIRE_GPU");
	if (must && *must)
		fail_msg("decoder: nvdec refused but VAPD_REQUIRE_GPU is set");
	assert_int_equal(r, VP_ENODEV);
	assert_int_equal(count(log, "decoder: nvdec is not available for"), 1);
	assert_true(strstr(log, clip) != NULL);
}

static void test_auto_falls_back_with_one_line(void **state)
{
	(void)state;
	char log[8192], nv[8192];
	vp_memtype mem = VP_MEM_DEVICE, nv_mem;
	int nv_ok = first_frame(PIPE_DEC_NVDEC, true, &nv_mem, nv, sizeof(nv)) == 0;
	vp_log_set_level(VP_LOG_INFO);
	assert_int_equal(first_frame(PIPE_DEC_AUTO, true, &mem, log, sizeof(log)), 0);
	if (nv_ok) {
		assert_int_equal(mem, VP_MEM_DEVICE);
		assert_int_equal(count(log, "decoder auto: software"), 0);
	} else {
		assert_int_equal(mem, VP_MEM_HOST);
		assert_int_equal(count(log, "decoder auto: software"), 1);
		assert_int_equal(count(log, "NVDEC not used: "), 1);
	}
	/* A pipeline that needs host frames never gets NVDEC from auto. */
	assert_int_equal(first_frame(PIPE_DEC_AUTO, false, &mem, log, sizeof(log)), 0);
	assert_int_equal(mem, VP_MEM_HOST);
	assert_int_equal(count(log, "decoder auto: software"), 1);
	assert_int_equal(first_frame(PIPE_DEC_SOFTWARE, true, &mem, log, sizeof(log)), 0);
	assert_int_equal(mem, VP_MEM_HOST);
	assert_int_equal(count(log, "decoder auto"), 0);
	vp_log_set_level(VP_LOG_ERROR);
}

int main(void)
{
	const char *shared = getenv("SHARED");
	snprintf(clip, sizeof(clip), "%s/data/videos/people-2s.mp4", shared ? shared : "../shared");
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvdec_decodes_on_device_or_fails_clearly),
		cmocka_unit_test(test_auto_falls_back_with_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
