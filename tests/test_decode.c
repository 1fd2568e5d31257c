/* dec_stream on real clips from $SHARED/data/videos, checked against ffprobe, plus damaged
 * copies made here, bad inputs, interrupt and pool backpressure. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_damage.h"
#include "test_wait.h"

#include "decode/source.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#define MAX_FRAMES 4096
#define PTS_TOL 0.001

static char videos[512];
static char tmpdir[256];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void file_cfg(pipe_source_cfg *c, const char *uri)
{
	memset(c, 0, sizeof(*c));
	c->id = "test";
	c->uri = (char *)uri;
	c->decoder = PIPE_DEC_AUTO;
	c->interval = 1;
	c->queue.depth = 8;
	c->queue.policy = PIPE_QP_BLOCK;
	c->reconnect_initial_ms = 200;
	c->reconnect_max_ms = 1000;
	c->rtsp_timeout_ms = 2000;
	c->is_file = !strstr(uri, "://");
}

static void clip_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", videos, name);
}

/* Runs ffprobe on path; reads one value per output line (N/A → NAN). */
static int run_ffprobe(const char *args, const char *path, double *vals, int max)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams v:0 %s -of csv=p=0 '%s'", args, path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256];
	int n = 0;
	while (fgets(line, sizeof(line), p) && n < max) {
		line[strcspn(line, ",\r\n")] = '\0';
		if (!line[0])
			continue;  /* empty side-data sections */
		vals[n++] = strcmp(line, "N/A") == 0 ? NAN : atof(line);
	}
	assert_int_equal(pclose(p), 0);
	return n;
}

static double ffprobe_rate(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd),
	         "ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 '%s'",
	         path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	int num = 0, den = 1;
	assert_int_equal(fscanf(p, "%d/%d", &num, &den), 2);
	pclose(p);
	assert_true(num > 0 && den > 0);
	return (double)num / den;
}

typedef struct decoded {
	int n;
	double pts[MAX_FRAMES];
	dec_stats stats;
} decoded;

/* Decodes the whole file, checking each frame's identity fields on the way. */
static int decode_all(const char *path, decoded *out)
{
	pipe_source_cfg cfg;
	file_cfg(&cfg, path);
	dec_stream *s = NULL;
	int r = dec_stream_open(&cfg, 3, 4, &s);
	if (r < 0)
		return r;
	vp_frame *f = NULL;
	out->n = 0;
	while ((r = dec_stream_read(s, &f)) == 0) {
		assert_int_equal(f->index, out->n);
		assert_int_equal(f->stream_idx, 3);
		assert_string_equal(f->stream_id, "test");
		assert_int_equal(f->mem, VP_MEM_HOST);
		assert_true(f->width > 0 && f->height > 0 && f->data[0] && f->linesize[0] >= f->width);
		assert_true(f->wall_us > 0 && f->mono_ns > 0);
		if (out->n < MAX_FRAMES)
			out->pts[out->n] = f->pts;
		out->n++;
		vp_frame_unref(&f);
		assert_null(f);
	}
	dec_stream_get_stats(s, &out->stats);
	dec_stream_free(&s);
	return r == VP_EOF ? 0 : r;
}

/* Decodes path and compares frame count and every pts with ffprobe's. */
static void check_against_ffprobe(const char *path, const char *label)
{
	static decoded got;
	static double want[MAX_FRAMES];
	int n_want = run_ffprobe("-count_frames -show_entries frame=pts_time", path, want, MAX_FRAMES);
	double start[1] = { NAN };
	run_ffprobe("-show_entries stream=start_time", path, start, 1);
	double rate = ffprobe_rate(path);
	assert_int_equal(decode_all(path, &got), 0);
	print_message("%-24s %d frames, start %.3f s, %lld errors\n", label, got.n,
	              isnan(start[0]) ? 0 : start[0], (long long)got.stats.errors);
	assert_int_equal(got.n, n_want);
	assert_int_equal(got.stats.frames, n_want);
	assert_int_equal(got.stats.errors, 0);
	assert_int_equal(got.stats.state, DEC_ENDED);
	assert_string_equal(dec_state_name(got.stats.state), "ended");
	for (int i = 0; i < n_want; i++) {
		/* No container timestamps (raw Annex-B): frames count at the stream's rate. */
		double w = isnan(want[i]) ? i / rate : want[i] - (isnan(start[0]) ? 0 : start[0]);
		if (fabs(got.pts[i] - w) > PTS_TOL)
			fail_msg("%s frame %d: pts %.6f, ffprobe %.6f", label, i, got.pts[i], w);
	}
}

static void test_every_clip_matches_ffprobe_frames_and_pts(void **state)
{
	(void)state;
	DIR *d = opendir(videos);
	assert_non_null(d);
	int clips = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *ext = strrchr(e->d_name, '.');
		if (e->d_name[0] == '.' || !ext || strcmp(ext, ".md") == 0)
			continue;
		char path[1024];
		clip_path(path, sizeof(path), e->d_name);
		check_against_ffprobe(path, e->d_name);
		clips++;
	}
	closedir(d);
	assert_true(clips >= 3);
}

static void test_mpegts_and_raw_hevc_match_ffprobe(void **state)
{
	(void)state;
	/* Stream copies made here: MPEG-TS does not start its clock at 0 (start_time is
	 * subtracted), raw HEVC has no timestamps at all. */
	const struct { const char *clip, *out, *args; } cases[] = {
		{ "people-432p.mp4", "people.ts", "-c copy -f mpegts" },
		{ "people-432p-hevc.mkv", "people.hevc", "-c copy -f hevc" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char src[1024], out[512], cmd[2048];
		clip_path(src, sizeof(src), cases[i].clip);
		snprintf(out, sizeof(out), "%s/%s", tmpdir, cases[i].out);
		snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -i '%s' %s '%s'", src, cases[i].args, out);
		assert_int_equal(system(cmd), 0);
		check_against_ffprobe(out, cases[i].out);
	}
}

static void test_raw_h264_pts_equal_its_mp4_original(void **state)
{
	(void)state;
	static decoded raw, mp4;
	char path[1024];
	clip_path(path, sizeof(path), "cars-432p.h264");
	assert_int_equal(decode_all(path, &raw), 0);
	clip_path(path, sizeof(path), "cars-432p.mp4");
	assert_int_equal(decode_all(path, &mp4), 0);
	assert_int_equal(raw.n, mp4.n);
	for (int i = 0; i < raw.n; i++)
		assert_true(fabs(raw.pts[i] - mp4.pts[i]) <= PTS_TOL);
}

/* Encodes a 3-frame test clip into tmpdir with the given ffmpeg output arguments. */
static void make_clip(char *out, size_t n, const char *name, const char *size, const char *args)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -v error -y -f lavfi -i testsrc2=s=%s:r=10 -frames:v 3 -c:v libx264 %s '%s'",
	         size, args, out);
	assert_int_equal(system(cmd), 0);
}

static void check_first_frame(const char *path, int w, int h, vp_pixfmt fmt, vp_colorspace csp,
                              int full_range)
{
	pipe_source_cfg cfg;
	file_cfg(&cfg, path);
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	vp_frame *f = NULL;
	assert_int_equal(dec_stream_read(s, &f), 0);
	assert_int_equal(f->width, w);
	assert_int_equal(f->height, h);
	assert_int_equal(f->fmt, fmt);
	assert_int_equal(f->csp, csp);
	assert_int_equal(f->full_range, full_range);
	for (int i = 0; i < 3; i++)
		assert_true(f->data[i] && f->linesize[i] > 0);
	vp_frame_unref(&f);
	dec_stream_free(&s);
}

static void test_frame_format_and_colorspace_come_from_the_stream(void **state)
{
	(void)state;
	char path[1024];
	/* The shared clips are all tagged smpte170m (BT.601), the 1080p ones too. */
	clip_path(path, sizeof(path), "people-642x362.mp4");
	check_first_frame(path, 642, 362, VP_PIX_YUV420P, VP_CSP_BT601, 0);
	clip_path(path, sizeof(path), "cars-1080p.mp4");
	check_first_frame(path, 1920, 1080, VP_PIX_YUV420P, VP_CSP_BT601, 0);
	/* Untagged: BT.709 from 720 rows up, BT.601 below; 10-bit stays 10-bit. */
	make_clip(path, sizeof(path), "hd-10bit.mp4", "1280x720", "-pix_fmt yuv420p10le");
	check_first_frame(path, 1280, 720, VP_PIX_YUV420P10, VP_CSP_BT709, 0);
	make_clip(path, sizeof(path), "sd.mp4", "320x240", "-pix_fmt yuv420p");
	check_first_frame(path, 320, 240, VP_PIX_YUV420P, VP_CSP_BT601, 0);
	/* Tagged BT.709 full range at SD size. */
	make_clip(path, sizeof(path), "sd-709-full.mkv", "320x240", "-pix_fmt yuvj420p -colorspace bt709");
	check_first_frame(path, 320, 240, VP_PIX_YUV420P, VP_CSP_BT709, 1);
}

/* First frame of path, decoded; caller unrefs frame and frees stream. */
static vp_frame *first_frame(const char *path, dec_stream **s)
{
	static pipe_source_cfg cfg[2];
	static int next;
	pipe_source_cfg *c = &cfg[next++ % 2];  /* must outlive the stream */
	static char uri[2][1024];
	snprintf(uri[(next - 1) % 2], sizeof(uri[0]), "%s", path);
	file_cfg(c, uri[(next - 1) % 2]);
	assert_int_equal(dec_stream_open(c, 0, 2, s), 0);
	vp_frame *f = NULL;
	assert_int_equal(dec_stream_read(*s, &f), 0);
	return f;
}

/* Largest difference between two 8-bit planes (a's samples mapped from full to limited
 * range when asked); *mean gets the mean absolute difference. */
static int plane_diff(const vp_frame *a, const vp_frame *b, int plane, int full_to_limited,
                      double *mean)
{
	int w = plane ? a->width / 2 : a->width, h = plane ? a->height / 2 : a->height;
	int worst = 0;
	double sum = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int va = a->data[plane][y * a->linesize[plane] + x];
			if (full_to_limited)
				va = plane ? 128 + (int)lround((va - 128) * 224.0 / 255)
				           : 16 + (int)lround(va * 219.0 / 255);
			int d = abs(va - b->data[plane][y * b->linesize[plane] + x]);
			worst = d > worst ? d : worst;
			sum += d;
		}
	*mean = sum / (w * h);
	return worst;
}

static void test_other_pixel_formats_are_converted_to_limited_yuv420p(void **state)
{
	(void)state;
	/* Lossless encodes of the same pictures, as 4:2:0 (taken as is) and as 4:4:4 and
	 * full-range 4:2:2 (converted). Luma must survive; chroma is only resampled. */
	char p420[1024], p444[1024], pj420[1024], pj422[1024];
	make_clip(p420, sizeof(p420), "ll420.mkv", "320x240", "-qp 0 -pix_fmt yuv420p");
	make_clip(p444, sizeof(p444), "ll444.mkv", "320x240", "-qp 0 -pix_fmt yuv444p");
	make_clip(pj420, sizeof(pj420), "llj420.mkv", "320x240", "-qp 0 -pix_fmt yuvj420p");
	make_clip(pj422, sizeof(pj422), "llj422.mkv", "320x240", "-qp 0 -pix_fmt yuvj422p");
	dec_stream *s1 = NULL, *s2 = NULL;
	vp_frame *ref = first_frame(p420, &s1);
	vp_frame *conv = first_frame(p444, &s2);
	assert_int_equal(conv->fmt, VP_PIX_YUV420P);
	assert_int_equal(conv->full_range, 0);
	assert_int_equal(conv->width, 320);
	double mean;
	assert_int_equal(plane_diff(ref, conv, 0, 0, &mean), 0);
	/* Chroma filters differ at the sharp colour edges of testsrc2 (ffmpeg made the 4:2:0
	 * clip with bicubic): a mean under 4, where swapped U and V planes differ by ~100. */
	for (int p = 1; p < 3; p++) {
		plane_diff(ref, conv, p, 0, &mean);
		print_message("4:4:4 → 4:2:0 plane %d: mean difference %.2f\n", p, mean);
		assert_true(mean < 4.0);
	}
	vp_frame_unref(&ref);
	vp_frame_unref(&conv);
	dec_stream_free(&s1);
	dec_stream_free(&s2);

	ref = first_frame(pj420, &s1);
	assert_int_equal(ref->full_range, 1);
	conv = first_frame(pj422, &s2);
	assert_int_equal(conv->fmt, VP_PIX_YUV420P);
	assert_int_equal(conv->full_range, 0);
	assert_true(plane_diff(ref, conv, 0, 1, &mean) <= 1);
	vp_frame_unref(&ref);
	vp_frame_unref(&conv);
	dec_stream_free(&s1);
	dec_stream_free(&s2);
}

/* Copies clip into tmpdir, keeping `keep` of its bytes and overwriting `n_bad` bytes at `bad_at`. */
static void make_damaged(const char *clip, const char *out, double keep, double bad_at, int n_bad)
{
	char src[1024];
	clip_path(src, sizeof(src), clip);
	td_make_damaged(src, out, keep, bad_at, n_bad);
}

static void test_truncated_file_keeps_frames_before_the_cut_and_counts_errors(void **state)
{
	(void)state;
	static decoded whole, cut;
	char path[1024], out[512];
	clip_path(path, sizeof(path), "people-432p.mp4");
	assert_int_equal(decode_all(path, &whole), 0);
	snprintf(out, sizeof(out), "%s/truncated.mp4", tmpdir);
	make_damaged("people-432p.mp4", out, 0.6, 0, 0);
	assert_int_equal(decode_all(out, &cut), 0);
	print_message("truncated: %d of %d frames, %lld errors\n", cut.n, whole.n,
	              (long long)cut.stats.errors);
	assert_true(cut.stats.errors > 0);
	assert_true(cut.n > whole.n / 3 && cut.n < whole.n);
}

static void test_corrupted_bytes_are_counted_and_later_frames_still_decode(void **state)
{
	(void)state;
	static decoded whole, bad;
	const char *clips[] = { "cars-432p.h264", "people-432p.mp4", "people-432p-hevc.mkv" };
	for (size_t c = 0; c < sizeof(clips) / sizeof(clips[0]); c++) {
		char path[1024], out[512];
		clip_path(path, sizeof(path), clips[c]);
		assert_int_equal(decode_all(path, &whole), 0);
		snprintf(out, sizeof(out), "%s/corrupt-%s", tmpdir, clips[c]);
		make_damaged(clips[c], out, 1.0, 0.3, 4000);
		assert_int_equal(decode_all(out, &bad), 0);
		print_message("corrupt %s: %d of %d frames, %lld errors\n", clips[c], bad.n, whole.n,
		              (long long)bad.stats.errors);
		assert_true(bad.stats.errors > 0);
		/* The damage sits at 30% of the bytes: frames after it must come out, up to
		 * the last one (a container may lose the cluster or GOP around the damage). */
		assert_true(bad.n >= whole.n * 6 / 10);
		assert_true(fabs(bad.pts[bad.n - 1] - whole.pts[whole.n - 1]) < 0.5);
	}
}

static void test_missing_and_non_video_files_fail_to_open(void **state)
{
	(void)state;
	pipe_source_cfg cfg;
	dec_stream *s = NULL;
	char path[512];
	snprintf(path, sizeof(path), "%s/does-not-exist.mp4", tmpdir);
	file_cfg(&cfg, path);
	assert_true(dec_stream_open(&cfg, 0, 2, &s) < 0);
	assert_null(s);

	/* Text that libavformat would otherwise show as ANSI art. */
	snprintf(path, sizeof(path), "%s/notes.txt", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fprintf(f, "line %d: this is not a video\n", i);
	fclose(f);
	file_cfg(&cfg, path);
	assert_true(dec_stream_open(&cfg, 0, 2, &s) < 0);
	assert_null(s);

	/* Random bytes behind a video file name. */
	snprintf(path, sizeof(path), "%s/noise.mp4", tmpdir);
	f = fopen(path, "wb");
	assert_non_null(f);
	unsigned seed = 7;
	for (int i = 0; i < 65536; i++)
		fputc(rand_r(&seed) & 0xff, f);
	fclose(f);
	file_cfg(&cfg, path);
	assert_true(dec_stream_open(&cfg, 0, 2, &s) < 0);
	assert_null(s);

	/* A real media file without a video stream. */
	snprintf(path, sizeof(path), "%s/tone.wav", tmpdir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -f lavfi -i sine=d=0.5 '%s'", path);
	assert_int_equal(system(cmd), 0);
	file_cfg(&cfg, path);
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), VP_EUNSUP);
	assert_null(s);
}

/* decoder: nvdec on whatever machine runs the suite (as tests/test_nvdec_fallback.c): with
 * NVDEC it decodes into device frames, without it the open is refused with VP_ENODEV and
 * no stream. With VAPD_REQUIRE_GPU set (a GPU machine) NVDEC must be there. */
static void test_nvdec_request_decodes_on_device_or_fails_clearly(void **state)
{
	(void)state;
	char path[1024];
	clip_path(path, sizeof(path), "people-2s.mp4");
	pipe_source_cfg cfg;
	file_cfg(&cfg, path);
	cfg.decoder = PIPE_DEC_NVDEC;
	dec_stream *s = NULL;
	int r = dec_stream_open(&cfg, 0, 2, &s);
	const char *must = getenv("VAPD_REQUIRE_GPU");
	if (r == 0) {
		print_message("NVDEC available here: frames in device memory\n");
		vp_frame *f = NULL;
		assert_int_equal(dec_stream_read(s, &f), 0);
		assert_int_equal(f->mem, VP_MEM_DEVICE);
		vp_frame_unref(&f);
		dec_stream_free(&s);
	} else {
		if (must && *must)
			fail_msg("decoder: nvdec refused (%d) but VAPD_REQUIRE_GPU is set", r);
		assert_int_equal(r, VP_ENODEV);
		assert_null(s);
	}
	cfg.decoder = PIPE_DEC_SOFTWARE;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	dec_stream_free(&s);
}

typedef struct reader {
	dec_stream *s;
	vp_frame *f;
	int rc;
	int64_t done_ms;
	volatile pid_t tid;   /* the reading thread, for tw_wait_thread_sleeping */
} reader;

static void *read_one(void *arg)
{
	reader *rd = arg;
	__atomic_store_n(&rd->tid, tw_gettid(), __ATOMIC_RELEASE);
	rd->rc = dec_stream_read(rd->s, &rd->f);
	rd->done_ms = now_ms();
	return NULL;
}

static void test_pool_backpressure_blocks_until_a_frame_is_released(void **state)
{
	(void)state;
	char path[1024];
	clip_path(path, sizeof(path), "people-432p.mp4");
	pipe_source_cfg cfg;
	file_cfg(&cfg, path);
	dec_stream *s = NULL;
	enum { POOL = 3 };
	assert_int_equal(dec_stream_open(&cfg, 0, POOL, &s), 0);
	vp_frame *held[POOL];
	for (int i = 0; i < POOL; i++)
		assert_int_equal(dec_stream_read(s, &held[i]), 0);

	reader rd = { .s = s, .done_ms = 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, read_one, &rd), 0);
	assert_true(tw_wait_thread_sleeping(&rd.tid, TW_DEADLINE_MS));
	usleep(300 * 1000);   /* the window in which it must stay blocked */
	assert_int_equal(__atomic_load_n(&rd.done_ms, __ATOMIC_SEQ_CST), 0);  /* still blocked */
	int64_t released = now_ms();
	vp_frame_unref(&held[0]);
	pthread_join(t, NULL);
	assert_int_equal(rd.rc, 0);
	assert_int_equal(rd.f->index, POOL);
	print_message("reader woke %lld ms after the release\n", (long long)(rd.done_ms - released));
	assert_true(rd.done_ms - released < 1000);
	vp_frame_unref(&rd.f);

	/* Blocked again on a full pool: an interrupt frees the reader with VP_EOF. */
	assert_int_equal(dec_stream_read(s, &held[0]), 0);
	rd.tid = 0;
	assert_int_equal(pthread_create(&t, NULL, read_one, &rd), 0);
	assert_true(tw_wait_thread_sleeping(&rd.tid, TW_DEADLINE_MS));
	int64_t interrupted = now_ms();
	dec_stream_interrupt(s);
	pthread_join(t, NULL);
	assert_int_equal(rd.rc, VP_EOF);
	print_message("reader woke %lld ms after the interrupt\n", (long long)(rd.done_ms - interrupted));
	assert_true(rd.done_ms - interrupted < 500);
	assert_int_equal(dec_stream_read(s, &rd.f), VP_EOF);
	dec_stream_free(&s);
	/* Frames outlive their stream until released. */
	for (int i = 0; i < POOL; i++) {
		assert_int_equal(held[i]->width, 768);
		volatile uint8_t luma = held[i]->data[0][held[i]->linesize[0] * 200 + 300];
		(void)luma;  /* read through the plane: a use-after-free under SANITIZE=1 */
		vp_frame_unref(&held[i]);
	}
}

static void *interrupt_later(void *arg)
{
	usleep(300 * 1000);
	dec_stream_interrupt(arg);
	return NULL;
}

static void test_interrupt_ends_a_blocked_network_read(void **state)
{
	(void)state;
	/* A peer that accepts TCP connections and never answers the RTSP request. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	char uri[128];
	snprintf(uri, sizeof(uri), "rtsp://127.0.0.1:%d/silent", ntohs(a.sin_port));
	pipe_source_cfg cfg;
	file_cfg(&cfg, uri);
	cfg.rtsp_timeout_ms = 30000;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 2, &s), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, interrupt_later, s), 0);
	int64_t t0 = now_ms();
	vp_frame *f = NULL;
	assert_int_equal(dec_stream_read(s, &f), VP_EOF);
	int64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	print_message("interrupted a silent RTSP peer after %lld ms\n", (long long)took);
	assert_true(took >= 250 && took < 1500);
	dec_stream_free(&s);
	close(fd);
}

static void test_loop_keeps_index_and_pts_increasing(void **state)
{
	(void)state;
	char path[1024];
	clip_path(path, sizeof(path), "people-2s.mp4");  /* 20 frames at 10 fps */
	pipe_source_cfg cfg;
	file_cfg(&cfg, path);
	cfg.loop = true;
	dec_stream *s = NULL;
	assert_int_equal(dec_stream_open(&cfg, 0, 4, &s), 0);
	double prev = -1;
	for (int i = 0; i < 50; i++) {
		vp_frame *f = NULL;
		assert_int_equal(dec_stream_read(s, &f), 0);
		assert_int_equal(f->index, i);
		assert_true(fabs(f->pts - i * 0.1) < PTS_TOL);
		assert_true(f->pts > prev);
		prev = f->pts;
		vp_frame_unref(&f);
	}
	dec_stats st;
	dec_stream_get_stats(s, &st);
	assert_int_equal(st.state, DEC_RUNNING);
	assert_int_equal(st.errors, 0);
	dec_stream_free(&s);
}

static int setup(void **state)
{
	(void)state;
	const char *shared = getenv("SHARED");
	snprintf(videos, sizeof(videos), "%s/data/videos", shared ? shared : "../shared");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vapd-test-decode-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	vp_log_set_level(VP_LOG_ERROR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_clip_matches_ffprobe_frames_and_pts),
		cmocka_unit_test(test_mpegts_and_raw_hevc_match_ffprobe),
		cmocka_unit_test(test_raw_h264_pts_equal_its_mp4_original),
		cmocka_unit_test(test_frame_format_and_colorspace_come_from_the_stream),
		cmocka_unit_test(test_other_pixel_formats_are_converted_to_limited_yuv420p),
		cmocka_unit_test(test_truncated_file_keeps_frames_before_the_cut_and_counts_errors),
		cmocka_unit_test(test_corrupted_bytes_are_counted_and_later_frames_still_decode),
		cmocka_unit_test(test_missing_and_non_video_files_fail_to_open),
		cmocka_unit_test(test_nvdec_request_decodes_on_device_or_fails_clearly),
		cmocka_unit_test(test_pool_backpressure_blocks_until_a_frame_is_released),
		cmocka_unit_test(test_interrupt_ends_a_blocked_network_read),
		cmocka_unit_test(test_loop_keeps_index_and_pts_increasing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
