/* Snapshots on real frames: names as documented, files that appear whole and decode at
 * the right size, crops of the box, track_end from the track's best frame, a full queue
 * that drops (and says so with ""), and pruning by count and age. Waits poll the
 * object's counters with generous deadlines. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_view_util.h"
#include "test_wait.h"

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#define WALL_A 1764950400123000LL   /* 2025-12-05T16:00:00.123Z */

typedef struct fixture {
	char dir[256];
	tv_clip big, small;
	vp_frame *a, *b;                 /* 1920x1080 and 768x432 */
	pipe_snapshot_cfg cfg;
	view_snaps *s;
} fixture;

static int setup(void **state)
{
	fixture *x = calloc(1, sizeof(*x));
	snprintf(x->dir, sizeof(x->dir), "/tmp/vapd-test-snaps-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	tv_clip_open(&x->big, "cars-1080p.mp4", 4);
	tv_clip_open(&x->small, "people-432p.mp4", 4);
	for (int i = 0; i < 10; i++) {
		vp_frame_unref(&x->a);
		x->a = tv_clip_read(&x->big);
	}
	x->b = tv_clip_read(&x->small);
	assert_int_equal(x->a->width, 1920);
	assert_int_equal(x->b->width, 768);
	x->cfg = (pipe_snapshot_cfg){ .present = true, .dir = x->dir,
	                              .events = 1u << AN_EV_ZONE_ENTER | 1u << AN_EV_LINE_CROSS | 1u << AN_EV_TRACK_END,
	                              .frame = true, .crop = true, .width = 640 };
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fixture *x = *state;
	view_snaps_free(&x->s);
	vp_frame_unref(&x->a);
	vp_frame_unref(&x->b);
	tv_clip_close(&x->big);
	tv_clip_close(&x->small);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

static void start(fixture *x) { assert_int_equal(view_snaps_new(&x->cfg, 85, 16, &x->s), 0); }

typedef struct wait_arg { view_snaps *s; int64_t n; } wait_arg;
static int written_reached(void *p)
{
	wait_arg *w = p;
	view_snaps_stats st;
	view_snaps_get_stats(w->s, &st);
	return st.written + st.failed >= w->n;
}

static void wait_written(fixture *x, int64_t n)
{
	wait_arg w = { x->s, n };
	assert_true(tw_wait(written_reached, &w, TW_DEADLINE_MS));
	view_snaps_stats st;
	view_snaps_get_stats(x->s, &st);
	assert_int_equal(st.failed, 0);
}

static void decode(fixture *x, const char *rel, tv_rgb *out)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", x->dir, rel);
	assert_int_equal(tv_jpeg_decode_file(path, out), 0);
}

static const vp_det box_a = { .class_id = 2, .score = 0.9f, .bbox = { 600, 300, 1200, 810 } };

static view_scene scene_of(const vp_frame *f, const vp_det *d, const int64_t *tid)
{
	return (view_scene){ .stream = "cam1", .frame = f->index, .wall_us = WALL_A, .dets = d,
	                     .track_ids = tid, .n_dets = d ? 1 : 0, .active_tracks = 1 };
}

static an_event event(enum an_event_kind kind, int64_t track, const char *name, const float box[4])
{
	an_event e = { .kind = kind, .track_id = track, .wall_us = WALL_A, .class_id = 2, .score = 0.9f,
	               .name = name };
	memcpy(e.bbox, box, sizeof(e.bbox));
	return e;
}

/* The crop is the box with a 10% margin each side: 600x510 -> about 720x612. */
static void assert_crop_of_box_a(const tv_rgb *c)
{
	print_message("crop %dx%d\n", c->w, c->h);
	assert_true(abs(c->w - 720) <= 2);
	assert_true(abs(c->h - 612) <= 3);
}

static int count_files(const char *folder, const char *suffix)
{
	DIR *d = opendir(folder);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		n += l >= sl && strcmp(e->d_name + l - sl, suffix) == 0;
	}
	closedir(d);
	return n;
}

static void test_events_get_names_and_their_files_appear_whole(void **state)
{
	fixture *x = *state;
	start(x);
	int64_t tid = 7;
	view_scene sc = scene_of(x->a, &box_a, &tid);
	an_event evs[3] = { event(AN_EV_ZONE_ENTER, 7, "door", box_a.bbox),
	                    event(AN_EV_TRACK_START, 7, NULL, box_a.bbox),  /* not chosen */
	                    event(AN_EV_LINE_CROSS, 7, "north gate/../x", box_a.bbox) };
	char names[3][VIEW_SNAP_NAME_MAX];
	view_snaps_events(x->s, x->a, &sc, evs, 3, names);
	assert_string_equal(names[0], "cam1/20251205T160000.123Z-zone_enter-7-door.jpg");
	assert_string_equal(names[1], "");
	assert_string_equal(names[2], "cam1/20251205T160000.123Z-line_cross-7-north_gate_.._x.jpg");
	wait_written(x, 4);
	tv_rgb fr, cr;
	decode(x, names[0], &fr);
	assert_int_equal(fr.w, 640);
	assert_int_equal(fr.h, 360);
	decode(x, "cam1/20251205T160000.123Z-zone_enter-7-door-crop.jpg", &cr);
	assert_crop_of_box_a(&cr);
	free(fr.px);
	free(cr.px);
	char folder[300];
	snprintf(folder, sizeof(folder), "%s/cam1", x->dir);
	assert_int_equal(count_files(folder, ".jpg"), 4);
	assert_int_equal(count_files(folder, ".tmp"), 0);
	view_snaps_stats st;
	view_snaps_get_stats(x->s, &st);
	assert_int_equal(st.written, 4);
	assert_int_equal(st.dropped, 0);
}

static void test_crop_only_names_the_crop(void **state)
{
	fixture *x = *state;
	x->cfg.frame = false;
	start(x);
	view_scene sc = scene_of(x->a, &box_a, NULL);
	an_event ev = event(AN_EV_ZONE_ENTER, 3, "door", box_a.bbox);
	char names[1][VIEW_SNAP_NAME_MAX];
	view_snaps_events(x->s, x->a, &sc, &ev, 1, names);
	assert_string_equal(names[0], "cam1/20251205T160000.123Z-zone_enter-3-door-crop.jpg");
	wait_written(x, 1);
	tv_rgb cr;
	decode(x, names[0], &cr);
	assert_crop_of_box_a(&cr);
	free(cr.px);
}

/* The best detection was on frame A (1920x1080); the track ends on frame B (768x432)
 * with another box: the files show A at its size and A's box. */
static void test_track_end_uses_the_best_frame(void **state)
{
	fixture *x = *state;
	x->cfg.width = 0;
	start(x);
	int64_t tid = 11;
	view_scene sa = scene_of(x->a, &box_a, &tid);
	view_snaps_best(x->s, x->a, &sa, 11, 0);
	const float other[4] = { 10, 10, 110, 60 };
	vp_det db = { .class_id = 2, .score = 0.5f, .bbox = { 10, 10, 110, 60 } };
	view_scene sb = scene_of(x->b, &db, &tid);
	sb.wall_us = WALL_A + 5000000;
	an_event ev = event(AN_EV_TRACK_END, 11, NULL, other);
	ev.wall_us = sb.wall_us;
	char names[1][VIEW_SNAP_NAME_MAX];
	view_snaps_events(x->s, x->b, &sb, &ev, 1, names);
	assert_string_equal(names[0], "cam1/20251205T160005.123Z-track_end-11.jpg");
	wait_written(x, 2);
	tv_rgb fr, cr;
	decode(x, names[0], &fr);
	assert_int_equal(fr.w, 1920);
	assert_int_equal(fr.h, 1080);
	decode(x, "cam1/20251205T160005.123Z-track_end-11-crop.jpg", &cr);
	assert_crop_of_box_a(&cr);
	free(fr.px);
	free(cr.px);
	/* the best was used up: a second end of the same track falls back on its own frame */
	view_snaps_events(x->s, x->b, &sb, &ev, 1, names);
	wait_written(x, 4);
	decode(x, names[0], &fr);
	assert_int_equal(fr.w, 768);
	free(fr.px);
}

/* The writer is held in open() on a FIFO put where the first event's temporary file goes;
 * that job and 7 more fill the 8 jobs; the 9th event is dropped. */
static void test_a_full_queue_drops_and_names_nothing(void **state)
{
	fixture *x = *state;
	x->cfg.crop = false;
	char folder[300], fifo[600];
	snprintf(folder, sizeof(folder), "%s/cam1", x->dir);
	assert_int_equal(mkdir(folder, 0755), 0);
	snprintf(fifo, sizeof(fifo), "%s/.20251205T160000.123Z-zone_enter-100-door.jpg.tmp", folder);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	start(x);
	view_scene sc = scene_of(x->a, &box_a, NULL);
	an_event first = event(AN_EV_ZONE_ENTER, 100, "door", box_a.bbox);
	char names[9][VIEW_SNAP_NAME_MAX];
	view_snaps_events(x->s, x->a, &sc, &first, 1, names);
	assert_string_equal(names[0], "cam1/20251205T160000.123Z-zone_enter-100-door.jpg");
	an_event more[8];
	for (int i = 0; i < 8; i++)
		more[i] = event(AN_EV_ZONE_ENTER, 101 + i, "door", box_a.bbox);
	view_snaps_events(x->s, x->a, &sc, more, 8, names);
	for (int i = 0; i < 7; i++)
		assert_true(strlen(names[i]) > 0);
	assert_string_equal(names[7], "");
	view_snaps_stats st;
	view_snaps_get_stats(x->s, &st);
	assert_int_equal(st.dropped, 1);
	/* let the writer go: read the first picture through the FIFO */
	int fd = open(fifo, O_RDONLY);
	assert_true(fd >= 0);
	static uint8_t buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	tv_rgb fr;
	assert_int_equal(tv_jpeg_decode(buf, len, &fr), 0);
	assert_int_equal(fr.w, 640);
	free(fr.px);
	wait_written(x, 8);
	view_snaps_get_stats(x->s, &st);
	assert_int_equal(st.dropped, 1);
}

static void test_pruning_keeps_the_newest_by_count(void **state)
{
	fixture *x = *state;
	x->cfg.crop = false;
	x->cfg.keep = 3;
	start(x);
	view_scene sc = scene_of(x->a, &box_a, NULL);
	char names[6][VIEW_SNAP_NAME_MAX];
	for (int i = 0; i < 6; i++) {
		an_event ev = event(AN_EV_ZONE_ENTER, i, "door", box_a.bbox);
		ev.wall_us = WALL_A + i * 1000000LL;
		view_snaps_events(x->s, x->a, &sc, &ev, 1, &names[i]);
		wait_written(x, i + 1);  /* one at a time, so the files' ages are in order */
	}
	char folder[300], path[800];
	snprintf(folder, sizeof(folder), "%s/cam1", x->dir);
	assert_int_equal(count_files(folder, ".jpg"), 3);
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/%s", x->dir, names[i]);
		assert_int_equal(access(path, F_OK) == 0, i >= 3);
	}
	view_snaps_stats st;
	view_snaps_get_stats(x->s, &st);
	assert_int_equal(st.pruned, 3);
}

static void test_pruning_by_age(void **state)
{
	fixture *x = *state;
	x->cfg.crop = false;
	x->cfg.keep_days = 1;
	char folder[300], old[400];
	snprintf(folder, sizeof(folder), "%s/cam1", x->dir);
	assert_int_equal(mkdir(folder, 0755), 0);
	snprintf(old, sizeof(old), "%s/20251101T000000.000Z-zone_enter-1-door.jpg", folder);
	FILE *f = fopen(old, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
	struct timespec two_days_ago[2];
	clock_gettime(CLOCK_REALTIME, &two_days_ago[0]);
	two_days_ago[0].tv_sec -= 2 * 86400;
	two_days_ago[1] = two_days_ago[0];
	assert_int_equal(utimensat(AT_FDCWD, old, two_days_ago, 0), 0);
	start(x);
	view_scene sc = scene_of(x->a, &box_a, NULL);
	an_event ev = event(AN_EV_ZONE_ENTER, 2, "door", box_a.bbox);
	char names[1][VIEW_SNAP_NAME_MAX];
	view_snaps_events(x->s, x->a, &sc, &ev, 1, names);
	wait_written(x, 1);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(count_files(folder, ".jpg"), 1);
	view_snaps_stats st;
	view_snaps_get_stats(x->s, &st);
	assert_int_equal(st.pruned, 1);
}

int main(void)
{
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_get_names_and_their_files_appear_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crop_only_names_the_crop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_track_end_uses_the_best_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_full_queue_drops_and_names_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pruning_keeps_the_newest_by_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pruning_by_age, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
