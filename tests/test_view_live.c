/* Live pictures: the rate follows the frames' clock (generations counted over frame
 * timestamps), a wait without news times out with NULL, offering never waits for the
 * renderer, every reader shares one encoded picture, counts follow the scene, and the
 * object can be freed under a waiting reader. Synchronisation by waits on the object
 * with generous deadlines, never by sleeps. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_wait.h"
#include "view/render.h"
#include "view/view.h"

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#define SRC_W 1920
#define SRC_H 1080
#define FRAME_NS 40000000LL      /* 25 frames/s */

/* A grey 1080p YUV420P picture behind every frame of the pool. */
static uint8_t plane_y[SRC_W * SRC_H], plane_u[SRC_W * SRC_H / 4], plane_v[SRC_W * SRC_H / 4];

typedef struct fixture {
	vp_frame_pool *pool;
	pipe_view_cfg cfg;
	view_live *live;
	int slot;
} fixture;

static vp_frame *frame_at(fixture *x, int64_t index, int w, int h)
{
	vp_frame *f = vp_frame_pool_get(x->pool);
	assert_non_null(f);
	f->stream_id = "cam1";
	f->index = index;
	f->mono_ns = 1000000000LL + index * FRAME_NS;
	f->wall_us = 1764950400000000LL + index * (FRAME_NS / 1000);
	f->pts = index * 0.04;
	f->width = w;
	f->height = h;
	f->fmt = VP_PIX_YUV420P;
	f->mem = VP_MEM_HOST;
	f->csp = VP_CSP_BT709;
	f->data[0] = plane_y;
	f->data[1] = plane_u;
	f->data[2] = plane_v;
	f->linesize[0] = w;
	f->linesize[1] = f->linesize[2] = w / 2;
	return f;
}

static int start(fixture *x, int fps, int width)
{
	memset(plane_y, 120, sizeof(plane_y));
	memset(plane_u, 128, sizeof(plane_u));
	memset(plane_v, 128, sizeof(plane_v));
	assert_int_equal(vp_frame_pool_new(4, NULL, NULL, NULL, &x->pool), 0);
	x->cfg = (pipe_view_cfg){ .fps = fps, .width = width, .quality = 80 };
	assert_int_equal(view_live_new(&x->cfg, 16, &x->live), 0);
	assert_int_equal(view_live_stream(x->live, "cam1", &x->slot), 0);
	return 0;
}

static int setup(void **state)
{
	fixture *x = calloc(1, sizeof(*x));
	start(x, 5, 320);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fixture *x = *state;
	view_live_free(&x->live);
	assert_null(x->live);
	vp_frame_pool_free(&x->pool);
	free(x);
	return 0;
}

static view_scene scene_of(const vp_frame *f)
{
	return (view_scene){ .stream = "cam1", .frame = f->index, .pts = f->pts, .wall_us = f->wall_us,
	                     .active_tracks = -1 };
}

static void offer(fixture *x, int64_t index, int w, int h)
{
	vp_frame *f = frame_at(x, index, w, h);
	view_scene sc = scene_of(f);
	view_live_offer(x->live, x->slot, f, &sc);
	vp_frame_unref(&f);
}

/* 10 s of 25 frames/s at view.fps 5: a picture every 5th frame, 50 in all. A due frame's
 * picture is awaited before the next is offered, so the renderer is free when due. */
static void test_pictures_follow_the_configured_rate_on_frame_time(void **state)
{
	fixture *x = *state;
	uint64_t gen = 0;
	for (int i = 0; i < 250; i++) {
		offer(x, i, 640, 360);
		if (i % 5 != 0)
			continue;
		view_jpeg *j = view_live_wait(x->live, x->slot, gen, TW_DEADLINE_MS);
		assert_non_null(j);
		assert_int_equal(j->gen, gen + 1);
		assert_int_equal(j->width, 320);
		assert_int_equal(j->height, 180);
		assert_int_equal(j->wall_us, 1764950400000000LL + i * (FRAME_NS / 1000));
		gen = j->gen;
		view_jpeg_unref(&j);
	}
	assert_int_equal(gen, 50);
	/* nothing was due after the last one: no 51st picture */
	int64_t t0 = tw_now_ms();
	assert_null(view_live_wait(x->live, x->slot, gen, 150));
	assert_true(tw_now_ms() - t0 >= 140);
	/* the newest is there at once for a reader that has not seen it */
	view_jpeg *j = view_live_wait(x->live, x->slot, 0, 0);
	assert_non_null(j);
	assert_int_equal(j->gen, 50);
	view_jpeg_unref(&j);
}

static void test_wait_on_an_unknown_slot_is_null(void **state)
{
	fixture *x = *state;
	assert_null(view_live_wait(x->live, 7, 0, 10));
	assert_null(view_live_wait(x->live, -1, 0, 10));
	view_counts c;
	assert_int_equal(view_live_counts(x->live, 7, NULL, 0, &c), -1);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The renderer scales and encodes 1080p at full width (tens of ms) while 2000 frames, each
 * due by its clock, are offered: each offer returns at once and takes nothing. */
static void test_offer_never_waits_for_a_busy_renderer(void **state)
{
	fixture *x = *state;
	view_live_free(&x->live);
	x->cfg.width = SRC_W;
	assert_int_equal(view_live_new(&x->cfg, 16, &x->live), 0);
	assert_int_equal(view_live_stream(x->live, "cam1", &x->slot), 0);
	enum { N = 2000 };
	int64_t worst = 0, total = 0;
	for (int i = 0; i < N; i++) {
		vp_frame *f = frame_at(x, (int64_t)i * 25, SRC_W, SRC_H);  /* a second apart: always due */
		view_scene sc = scene_of(f);
		int64_t t0 = now_ns();
		view_live_offer(x->live, x->slot, f, &sc);
		int64_t dt = now_ns() - t0;
		vp_frame_unref(&f);
		total += dt;
		worst = dt > worst ? dt : worst;
	}
	view_jpeg *j = view_live_wait(x->live, x->slot, 0, TW_DEADLINE_MS);
	assert_non_null(j);
	print_message("offer: mean %.2f us, worst %.1f us over %d calls; %llu pictures rendered\n",
	              total / 1e3 / N, worst / 1e3, N, (unsigned long long)j->gen);
	assert_int_equal(j->width, SRC_W);
	/* a 1080p picture takes milliseconds: most offers found the renderer busy */
	assert_true(j->gen < N / 4);
	assert_true(total / N < 50000);  /* 50 us on average, on a loaded 2-core machine */
	view_jpeg_unref(&j);
}

typedef struct reader {
	fixture *x;
	uint64_t after;
	view_jpeg *got;
	volatile pid_t tid;
	int64_t waited_ms;
} reader;

static void *reader_main(void *arg)
{
	reader *r = arg;
	__atomic_store_n(&r->tid, tw_gettid(), __ATOMIC_RELEASE);
	int64_t t0 = tw_now_ms();
	r->got = view_live_wait(r->x->live, r->x->slot, r->after, TW_DEADLINE_MS);
	r->waited_ms = tw_now_ms() - t0;
	return NULL;
}

/* Four readers wait for the same picture: they get the same encoded JPEG, one encode. */
static void test_readers_share_one_encoded_picture(void **state)
{
	fixture *x = *state;
	reader rd[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		rd[i] = (reader){ .x = x, .after = 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_true(tw_wait_thread_sleeping(&rd[i].tid, TW_DEADLINE_MS));
	offer(x, 0, 640, 360);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_non_null(rd[i].got);
		assert_ptr_equal(rd[i].got, rd[0].got);
		assert_int_equal(rd[i].got->gen, 1);
	}
	assert_int_equal(atomic_load(&rd[0].got->refs), 5);  /* four readers and the slot */
	for (int i = 0; i < 4; i++)
		view_jpeg_unref(&rd[i].got);
}

static void test_free_while_a_reader_waits(void **state)
{
	fixture *x = *state;
	offer(x, 0, 640, 360);
	view_jpeg *kept = view_live_wait(x->live, x->slot, 0, TW_DEADLINE_MS);
	assert_non_null(kept);
	reader rd = { .x = x, .after = kept->gen };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	assert_true(tw_wait_thread_sleeping(&rd.tid, TW_DEADLINE_MS));
	view_live_free(&x->live);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_null(rd.got);
	assert_true(rd.waited_ms < TW_DEADLINE_MS / 2);
	/* a picture a reader holds outlives the object */
	assert_int_equal(kept->data[0], 0xff);
	assert_int_equal(kept->data[kept->len - 1], 0xd9);
	view_jpeg_unref(&kept);
}

static void test_counts_and_slots(void **state)
{
	fixture *x = *state;
	pipe_point pts[3] = { { 0, 0 }, { 100, 0 }, { 0, 100 } };
	pipe_zone_cfg zones[2] = { { .name = "door", .points = pts, .n_points = 3 },
	                           { .name = "desk", .points = pts, .n_points = 3 } };
	pipe_line_cfg line = { .name = "gate", .points = { { 0, 50 }, { 100, 50 } } };
	int zc[2] = { 3, 1 };
	int64_t in = 9, out = 4;
	vp_frame *f = frame_at(x, 0, 640, 360);
	view_scene sc = scene_of(f);
	sc.zones = zones;
	sc.zone_counts = zc;
	sc.n_zones = 2;
	sc.lines = &line;
	sc.line_in = &in;
	sc.line_out = &out;
	sc.n_lines = 1;
	sc.active_tracks = 6;
	view_live_offer(x->live, x->slot, f, &sc);
	vp_frame_unref(&f);
	zc[0] = 100;  /* the scene was copied: later changes are not seen */
	view_jpeg *j = view_live_wait(x->live, x->slot, 0, TW_DEADLINE_MS);
	assert_non_null(j);
	view_jpeg_unref(&j);
	view_counts c;
	char id[64];
	assert_int_equal(view_live_counts(x->live, x->slot, id, sizeof(id), &c), 0);
	assert_string_equal(id, "cam1");
	assert_int_equal(c.active_tracks, 6);
	assert_int_equal(c.n_zones, 2);
	assert_string_equal(c.zone_names[1], "desk");
	assert_int_equal(c.zone_counts[0], 3);
	assert_int_equal(c.n_lines, 1);
	assert_string_equal(c.line_names[0], "gate");
	assert_int_equal(c.line_in[0], 9);
	assert_int_equal(c.line_out[0], 4);
	int s2 = -1, again = -1;
	assert_int_equal(view_live_stream(x->live, "cam2", &s2), 0);
	assert_int_equal(s2, 1);
	assert_int_equal(view_live_stream(x->live, "cam1", &again), 0);
	assert_int_equal(again, x->slot);
	assert_int_equal(view_live_find(x->live, "cam2"), 1);
	assert_int_equal(view_live_find(x->live, "nope"), -1);
	assert_int_equal(view_live_n_streams(x->live), 2);
	assert_int_equal(view_live_counts(x->live, s2, id, sizeof(id), &c), 0);
	assert_int_equal(c.active_tracks, -1);
}

int main(void)
{
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pictures_follow_the_configured_rate_on_frame_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_on_an_unknown_slot_is_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_never_waits_for_a_busy_renderer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_share_one_encoded_picture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_a_reader_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_slots, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
