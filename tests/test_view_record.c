/* The recorder (view/record.c, view/record_seg.c) fed real decoded frames of shared clips
 * at their rate, and synthetic frames where a test needs control: the segments it writes
 * are read back with ffprobe (codec, size, frame count per file), a recorder SIGKILLed
 * mid-segment leaves playable files, the folder is pruned oldest first, a full queue drops
 * and counts instead of blocking, a failing folder is counted and retried. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_skip.h"
#include "test_view_record.h"
#include "test_view_util.h"
#include "test_wait.h"

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "view/record_priv.h"
#include "view/view.h"


static char tmp[256];

/* ---- fixtures and helpers ---- */

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/vapd-rec-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (getenv("VAPD_KEEP_TMP")) {   /* to look at the files by hand */
		print_message("kept %s\n", tmp);
		return 0;
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static pipe_record_cfg rec_cfg(const char *sub, int segment_s, int max_mb, int width, int fps)
{
	static char dir[300];
	snprintf(dir, sizeof(dir), "%s/%s", tmp, sub);
	return (pipe_record_cfg){ .present = true, .dir = dir, .segment_s = segment_s, .max_mb = max_mb,
	                          .width = width, .fps = fps, .codec = PIPE_CODEC_LIBX264 };
}

static void stream_dir(const pipe_record_cfg *c, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", c->dir, STREAM);
}

/* ---- tests ---- */

static void test_segments_play_with_every_frame_taken_at_the_clip_rate(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 2, 100, 320, 0);
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	static fed fd;
	feed_clip(r, "highway-540p.mp4", MAX_FRAMES, 0, &fd);   /* 960x540, 25 fps, 221 frames */
	assert_int_equal(fd.offered, 221);
	view_rec_stats st;
	settle_and_free(&r, fd.offered, &st);
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	check_segments(dir, &fd, 2, 320, 180, &st);
	assert_true(st.segments >= 5);               /* 8.84 s in 2 s pieces */
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.deleted, 0);
}

static void test_fps_records_one_frame_per_step(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 1, 100, 0, 5);
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	static fed fd;
	feed_clip(r, "highway-160x90.mp4", MAX_FRAMES, 0, &fd);   /* 25 fps, 75 frames */
	view_rec_stats st;
	/* Decimated frames are neither taken nor dropped: 3 s at 5 fps. */
	settle_and_free(&r, 15, &st);
	assert_int_equal(fd.offered, 75);
	assert_int_equal(st.frames + st.dropped, 15);
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	fd.offered = 15;
	int taken = 0;
	for (int i = 0; i < fd.taken; i++)   /* what the decimation kept of what the offer took */
		if (fmod(fd.pts[i] + 1e-6, 0.2) < 1e-3)
			fd.pts[taken++] = fd.pts[i];
	fd.taken = taken;
	check_segments(dir, &fd, 1, 160, 90, &st);
}

/* What the recording child publishes through shared memory. */
typedef struct progress {
	_Atomic int64_t frames, dropped, errors;
} progress;

/* Two 50-frame segments (2 s at 25 fps) and 36 frames of the third: its first fragment
 * (frames 0-24) was flushed when frame 25, a keyframe, came; 25-35 are in the muxer's
 * memory. The child then only publishes its stats until it is killed. */
enum { KILL_AFTER = 2 * 50 + 36 };

static void record_child(const pipe_record_cfg *cfg, progress *pg)
{
	view_rec *r = NULL;
	if (view_rec_new(STREAM, cfg, -1, 16, &r) < 0)
		_exit(2);
	static fed fd;
	feed_clip(r, "highway-540p.mp4", KILL_AFTER, 0, &fd);
	for (;; tw_sleep_ms(1)) {
		view_rec_stats st;
		view_rec_get_stats(r, &st);
		atomic_store(&pg->dropped, st.dropped);
		atomic_store(&pg->frames, st.frames);
	}
}

static int all_written(void *p)
{
	progress *pg = p;
	return atomic_load(&pg->frames) + atomic_load(&pg->dropped) >= KILL_AFTER;
}

static void test_sigkill_mid_segment_leaves_playable_files(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 2, 100, 320, 0);
	progress *pg = mmap(NULL, sizeof(*pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(pg != MAP_FAILED);
	atomic_store(&pg->frames, 0);
	atomic_store(&pg->dropped, 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		record_child(&cfg, pg);
	int ok = tw_wait(all_written, pg, 4 * TW_DEADLINE_MS);
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(ok);
	assert_true(WIFSIGNALED(status));
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, 3);
	/* A frame dropped at the offer (a very loaded machine) shortens its segment. */
	int exact = atomic_load(&pg->dropped) == 0;
	for (int i = 0; i < l.n; i++) {
		probe p = ffprobe_file(l.path[i]);
		assert_int_equal(p.rc, 0);
		assert_string_equal(p.codec, "h264");
		assert_int_equal(p.w, 320);
		assert_int_equal(p.h, 180);
		int want = i < 2 ? 50 : 25;   /* the cut one: up to its last flushed fragment */
		assert_true(exact ? p.frames == want : p.frames > 0 && p.frames <= want);
	}
	munmap(pg, sizeof(*pg));
}

/* A gap in pts (a stalled camera) cuts where the encoder's own keyframe rhythm would not:
 * the new file still starts with a keyframe, forced there. */
static void test_cut_after_a_gap_starts_with_a_keyframe(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 1, 100, 160, 0);
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	synth s;
	synth_open(&s, 320, 180, VIEW_REC_QUEUE + 4);
	settled_arg sa = { r, 0 };
	feed_synth_settled(r, &s, 10, &sa);   /* pts 0 .. 0.36 */
	s.next = 37;                          /* pts 1.48: frame 10 of the encoder, not 25 */
	feed_synth_settled(r, &s, 10, &sa);
	view_rec_stats st;
	settle_and_free(&r, 20, &st);
	synth_close(&s);
	fed fd = { .offered = 20, .taken = 20 };
	for (int i = 0; i < 20; i++)
		fd.pts[i] = (i < 10 ? i : 27 + i) * 0.04;
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	check_segments(dir, &fd, 1, 160, 90, &st);
	assert_int_equal(st.segments, 2);
}

/* The child records the whole clip into files of at most FULL_AT bytes (RLIMIT_FSIZE: each
 * write past it fails with EFBIG, as a full disk fails with ENOSPC), its log to a file. */
enum { FULL_AT = 90000 };

static void full_disk_child(const pipe_record_cfg *cfg, const char *log, progress *pg)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct rlimit rl = { FULL_AT, FULL_AT };
	if (fd < 0 || dup2(fd, 2) < 0 || signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl))
		_exit(2);
	view_rec *r = NULL;
	if (view_rec_new(STREAM, cfg, -1, 16, &r) < 0)
		_exit(3);
	static fed fd_;
	feed_clip(r, "highway-540p.mp4", MAX_FRAMES, 1, &fd_);
	view_rec_stats st;
	view_rec_get_stats(r, &st);
	atomic_store(&pg->frames, st.frames);
	atomic_store(&pg->dropped, st.dropped);
	atomic_store(&pg->errors, st.errors);
	view_rec_free(&r);
	_exit(0);
}

static int count_lines_with(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void test_full_disk_is_counted_logged_once_and_retried_a_segment_later(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 3, 100, 320, 0);   /* ~35 kB a second */
	char log[400], dir[400];
	snprintf(log, sizeof(log), "%s/child.log", tmp);
	progress *pg = mmap(NULL, sizeof(*pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(pg != MAP_FAILED);
	memset(pg, 0, sizeof(*pg));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		full_disk_child(&cfg, log, pg);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* 8.84 s. The segment at 0 s holds two 1 s fragments and fails on the third, at the cut
	 * (3 s): frames of 3 s to 6 s are dropped. The next try (6 s) fails the same way when
	 * view_rec_free finishes it, after the stats were taken: both files stop at the limit,
	 * one line in the log. */
	assert_int_equal(atomic_load(&pg->errors), 1);
	assert_int_equal(atomic_load(&pg->dropped), 75);
	assert_int_equal(atomic_load(&pg->frames), 221 - 75);
	assert_int_equal(count_lines_with(log, "error [record cam1]"), 1);
	stream_dir(&cfg, dir, sizeof(dir));
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, 2);
	for (int i = 0; i < l.n; i++) {
		struct stat st;
		assert_int_equal(stat(l.path[i], &st), 0);
		assert_int_equal(st.st_size, FULL_AT);
		probe p = ffprobe_file(l.path[i]);
		assert_string_equal(p.codec, "h264");
		assert_true(p.frames >= 50);   /* the fragments that fitted play */
	}
	munmap(pg, sizeof(*pg));
}

/* A frame the canvas refuses is dropped and counted; the segment goes on around it. */
static void test_a_frame_that_cannot_be_drawn_is_dropped_alone(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 10, 100, 160, 0);
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	synth s;
	synth_open(&s, 320, 180, VIEW_REC_QUEUE + 4);
	settled_arg sa = { r, 0 };
	feed_synth_settled(r, &s, 10, &sa);
	vp_frame *f = synth_frame(&s);
	uint8_t *u = f->data[1];
	f->data[1] = NULL;   /* an incomplete picture */
	view_rec_offer(r, f, NULL, false);
	sa.offered++;
	assert_true(tw_wait(settled, &sa, TW_DEADLINE_MS));
	f->data[1] = u;   /* the recorder let go of it: settled */
	vp_frame_unref(&f);
	feed_synth_settled(r, &s, 10, &sa);
	view_rec_stats st;
	settle_and_free(&r, 21, &st);
	synth_close(&s);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.frames, 20);
	assert_int_equal(st.segments, 1);
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(ffprobe_file(l.path[0]).frames, 20);
}

static void test_prune_deletes_oldest_first_and_keeps_the_newest(void **state)
{
	(void)state;
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/p", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	const char *names[] = { "cam1-20260101T000000.000Z.mp4", "cam1-20260101T000000.000Z-1.mp4",
	                        "cam1-20260101T000001.000Z.mp4", "cam1-20260101T000002.000Z.mp4" };
	char path[600];
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		make_file(path, 300000);
	}
	snprintf(path, sizeof(path), "%s/notes.txt", dir);      /* not a segment: never deleted */
	make_file(path, 5000000);
	snprintf(path, sizeof(path), "%s/cam10-20000101T000000.000Z.mp4", dir);   /* another prefix */
	make_file(path, 5000000);
	int deleted = -1;
	assert_int_equal(rec_prune(dir, STREAM, 700000, &deleted), 0);
	assert_int_equal(deleted, 2);   /* 1.2 MB -> 600 kB: the two oldest, collision second */
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(access(path, F_OK) == 0, i >= 2);
	}
	assert_int_equal(rec_prune(dir, STREAM, 1, &deleted), 0);
	assert_int_equal(deleted, 1);   /* the newest stays, even alone over the limit */
	snprintf(path, sizeof(path), "%s/%s", dir, names[3]);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/cam10-20000101T000000.000Z.mp4", dir);
	assert_int_equal(access(path, F_OK), 0);
}

static void test_recorder_prunes_older_files_after_each_segment(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 1, 1, 160, 0);
	char dir[400], old1[600], old2[600];
	stream_dir(&cfg, dir, sizeof(dir));
	assert_int_equal(mkdir(cfg.dir, 0755), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	/* 1000 bytes under 1 MiB: the first real segment tips it over, once. */
	snprintf(old1, sizeof(old1), "%s/cam1-20000101T000000.000Z.mp4", dir);
	snprintf(old2, sizeof(old2), "%s/cam1-20000101T000100.000Z.mp4", dir);
	make_file(old1, 600000);
	make_file(old2, (1 << 20) - 600000 - 1000);
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	synth s;
	synth_open(&s, 640, 360, VIEW_REC_QUEUE + 4);
	settled_arg sa = { r, 0 };
	feed_synth_settled(r, &s, 60, &sa);   /* 2.4 s: two closed segments, a third open */
	view_rec_stats st;
	settle_and_free(&r, 60, &st);
	synth_close(&s);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(access(old1, F_OK), -1);
	assert_int_equal(access(old2, F_OK), 0);
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, 1 + 3);
	assert_int_equal(st.segments, 3);
}

static int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

static void test_full_queue_counts_drops_and_offer_returns_at_once(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 10, 100, 0, 0);   /* 1920x1080 encodes: slow */
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	synth s;
	synth_open(&s, 1920, 1080, VIEW_REC_QUEUE + 4);
	enum { N = 200 };
	int64_t worst = 0;
	for (int i = 0; i < N; i++) {
		vp_frame *f = synth_frame(&s);
		vp_det d;
		int64_t id;
		view_scene sc = scene_with_box(f, &d, &id);
		int64_t t = now_ns();
		view_rec_offer(r, f, &sc, false);
		worst = max_i64(worst, now_ns() - t);
		vp_frame_unref(&f);
	}
	view_rec_stats st;
	view_rec_get_stats(r, &st);
	/* The loop took far less than encoding 200 1080p pictures: most were dropped. */
	assert_true(st.dropped >= N / 2);
	settle_and_free(&r, N, &st);
	synth_close(&s);
	assert_int_equal(st.frames + st.dropped, N);
	assert_true(st.frames >= 1 + VIEW_REC_QUEUE - 1);
	assert_int_equal(st.errors, 0);
	print_message("worst offer: %.3f ms\n", worst / 1e6);
	assert_true(worst < 100 * 1000000LL);   /* a bound for a loaded machine: no waiting in it */
}

/* A file source waits for the encoder instead: nothing dropped, every frame written. */
static void test_a_waiting_offer_records_every_frame(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 10, 100, 320, 0);
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	synth s;
	synth_open(&s, 640, 360, VIEW_REC_QUEUE + 4);
	enum { N = 60 };
	for (int i = 0; i < N; i++) {
		vp_frame *f = synth_frame(&s);
		vp_det d;
		int64_t id;
		view_scene sc = scene_with_box(f, &d, &id);
		view_rec_offer(r, f, &sc, true);
		vp_frame_unref(&f);
	}
	view_rec_stats st;
	settle_and_free(&r, N, &st);
	synth_close(&s);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.frames, N);
	assert_int_equal(st.errors, 0);
}

static void test_unwritable_folder_is_counted_and_retried_a_segment_later(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("blocker", 1, 100, 160, 0);
	make_file(cfg.dir, 10);   /* a file where the folder should be */
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, -1, 16, &r), 0);
	synth s;
	synth_open(&s, 320, 180, VIEW_REC_QUEUE + 4);
	settled_arg sa = { r, 0 };
	feed_synth_settled(r, &s, 25, &sa);   /* pts 0 .. 0.96: one try, then waiting */
	view_rec_stats st;
	view_rec_get_stats(r, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.dropped, 25);
	assert_int_equal(unlink(cfg.dir), 0);
	feed_synth_settled(r, &s, 50, &sa);   /* pts 1.0: a new try, which works */
	settle_and_free(&r, 75, &st);
	synth_close(&s);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.frames, 50);
	assert_int_equal(st.segments, 2);
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, 2);
	for (int i = 0; i < 2; i++) {
		probe p = ffprobe_file(l.path[i]);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.frames, 25);
	}
}

static void test_auto_codec_falls_back_to_libx264_and_draws_the_overlay(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 1, 100, 640, 0);
	cfg.codec = PIPE_CODEC_AUTO;
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, 0, 16, &r), 0);   /* GPU 0 configured */
	synth s;
	synth_open(&s, 1280, 720, VIEW_REC_QUEUE + 4);
	settled_arg sa = { r, 0 };
	feed_synth_settled(r, &s, 10, &sa);
	view_rec_stats st;
	settle_and_free(&r, 10, &st);
	synth_close(&s);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.frames, 10);
	char dir[400];
	stream_dir(&cfg, dir, sizeof(dir));
	seg_list l;
	list_segs(dir, &l);
	assert_int_equal(l.n, 1);
	probe p = ffprobe_file(l.path[0]);
	assert_int_equal(p.w, 640);
	assert_int_equal(p.h, 360);
	if (!file_has(l.path[0], "x264 - core"))
		skip_because("gpu", "h264_nvenc opened here: auto took it, as it should");
	/* The box of scene_with_box: left edge at 15% of the width, from 25% to 80% down. */
	static uint8_t rgb[640 * 360 * 3];
	first_picture(l.path[0], 640, 360, rgb);
	const uint8_t *edge = rgb + ((size_t)180 * 640 + 96) * 3;
	const uint8_t *inside = rgb + ((size_t)180 * 640 + 250) * 3;
	uint8_t want[3];
	view_overlay_class_rgb(0, want);
	print_message("edge %d,%d,%d inside %d,%d,%d\n", edge[0], edge[1], edge[2], inside[0], inside[1], inside[2]);
	assert_true(tv_dist(edge, want) < 60);
	assert_true(tv_dist(inside, (const uint8_t[3]){ 128, 128, 128 }) < 20);
}

static void test_nvenc_without_nvenc_counts_an_error_and_never_crashes(void **state)
{
	(void)state;
	pipe_record_cfg cfg = rec_cfg("rec", 1, 100, 320, 0);
	cfg.codec = PIPE_CODEC_NVENC;
	view_rec *r = NULL;
	assert_int_equal(view_rec_new(STREAM, &cfg, 0, 16, &r), 0);
	synth s;
	synth_open(&s, 320, 180, VIEW_REC_QUEUE + 4);
	settled_arg sa = { r, 0 };
	feed_synth_settled(r, &s, 30, &sa);
	view_rec_stats st;
	settle_and_free(&r, 30, &st);
	synth_close(&s);
	if (st.errors == 0)
		skip_because("gpu", "this machine has NVENC");
	assert_int_equal(st.errors, 2);   /* one try per second of pts */
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.dropped, 30);
}

/* argv[1]: a cmocka test-name pattern (e.g. "*prune*"), to run some under valgrind. */
int main(int argc, char **argv)
{
	vp_log_set_level(VP_LOG_ERROR);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_segments_play_with_every_frame_taken_at_the_clip_rate),
		T(test_fps_records_one_frame_per_step),
		T(test_sigkill_mid_segment_leaves_playable_files),
		T(test_cut_after_a_gap_starts_with_a_keyframe),
		T(test_full_disk_is_counted_logged_once_and_retried_a_segment_later),
		T(test_a_frame_that_cannot_be_drawn_is_dropped_alone),
		T(test_prune_deletes_oldest_first_and_keeps_the_newest),
		T(test_recorder_prunes_older_files_after_each_segment),
		T(test_full_queue_counts_drops_and_offer_returns_at_once),
		T(test_a_waiting_offer_records_every_frame),
		T(test_unwritable_folder_is_counted_and_retried_a_segment_later),
		T(test_auto_codec_falls_back_to_libx264_and_draws_the_overlay),
		T(test_nvenc_without_nvenc_counts_an_error_and_never_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
