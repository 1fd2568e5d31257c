/* The picture path on a real 1080p frame: scaled into the canvas at the view's width,
 * the overlay drawn, encoded as JPEG, decoded back and checked pixel by pixel against the
 * same picture encoded without the overlay. Also: the host formats, crops, and the cost
 * of scale + draw + encode. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_view_util.h"

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#define VIEW_W 640

typedef struct fixture {
	tv_clip clip;
	vp_frame *f;
	view_canvas *c;
	view_jpeg_enc *e;
	tv_rgb plain;                /* the frame at VIEW_W without the overlay */
} fixture;

static void encode_decode(fixture *x, tv_rgb *out)
{
	view_jpeg *j = NULL;
	assert_int_equal(view_jpeg_encode(x->e, x->c, NULL, &j), 0);
	assert_int_equal(atomic_load(&j->refs), 1);
	assert_true(j->len > 1000);
	assert_int_equal(j->data[0], 0xff);
	assert_int_equal(j->data[1], 0xd8);
	assert_int_equal(tv_jpeg_decode(j->data, j->len, out), 0);
	assert_int_equal(out->w, j->width);
	assert_int_equal(out->h, j->height);
	view_jpeg_unref(&j);
	assert_null(j);
}

static int setup(void **state)
{
	fixture *x = calloc(1, sizeof(*x));
	tv_clip_open(&x->clip, "cars-1080p.mp4", 4);
	for (int i = 0; i < 10; i++) {  /* a frame with cars in it, past the first */
		vp_frame_unref(&x->f);
		x->f = tv_clip_read(&x->clip);
	}
	assert_int_equal(x->f->width, 1920);
	assert_int_equal(x->f->height, 1080);
	assert_int_equal(view_canvas_new(1920, 1080, &x->c), 0);
	assert_int_equal(view_jpeg_enc_new(90, &x->e), 0);
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, VIEW_W), 0);
	encode_decode(x, &x->plain);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fixture *x = *state;
	free(x->plain.px);
	view_jpeg_enc_free(&x->e);
	view_canvas_free(&x->c);
	vp_frame_unref(&x->f);
	tv_clip_close(&x->clip);
	free(x);
	return 0;
}

static view_scene base_scene(const vp_frame *f)
{
	return (view_scene){ .stream = "cam1", .frame = f->index, .pts = f->pts,
	                     .wall_us = 1764950400123456LL, .active_tracks = -1 };
}

static void test_output_is_view_width_by_aspect_height(void **state)
{
	fixture *x = *state;
	assert_int_equal(view_canvas_width(x->c), VIEW_W);
	assert_int_equal(view_canvas_height(x->c), 360);
	assert_int_equal(x->plain.w, VIEW_W);
	assert_int_equal(x->plain.h, 360);
	/* an odd aspect still gives an even height */
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, 500), 0);
	assert_int_equal(view_canvas_width(x->c), 500);
	assert_int_equal(view_canvas_height(x->c), 282);
	/* 0: the source's width; never above the canvas */
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, 0), 0);
	assert_int_equal(view_canvas_width(x->c), 1920);
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, 4000), 0);
	assert_int_equal(view_canvas_width(x->c), 1920);
	assert_int_equal(view_canvas_height(x->c), 1080);
}

/* Box (600,300)-(1200,810) in source pixels is (200,100)-(400,270) at 640 wide. */
static void test_box_edge_has_class_colour_and_the_picture_stays_elsewhere(void **state)
{
	fixture *x = *state;
	vp_det d = { .class_id = 2, .score = 0.87f, .bbox = { 600, 300, 1200, 810 } };
	int64_t tid = 42;
	const char *labels[] = { "person", "bicycle", "car" };
	view_scene sc = base_scene(x->f);
	sc.dets = &d;
	sc.track_ids = &tid;
	sc.n_dets = 1;
	sc.labels = labels;
	sc.n_labels = 3;
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, VIEW_W), 0);
	assert_int_equal(view_overlay_draw(x->c, &sc), 0);
	tv_rgb got;
	encode_decode(x, &got);
	uint8_t rgb[3];
	view_overlay_class_rgb(2, rgb);
	/* on the edges: the box colour (JPEG's 4:2:0 chroma blurs a thin line a little) */
	const int edge[][2] = { { 200, 185 }, { 400, 185 }, { 300, 270 }, { 230, 100 } };
	for (int i = 0; i < 4; i++) {
		const uint8_t *p = tv_px(&got, edge[i][0], edge[i][1]);
		print_message("edge (%d,%d): got %d,%d,%d want %d,%d,%d (picture %d,%d,%d)\n", edge[i][0],
		              edge[i][1], p[0], p[1], p[2], rgb[0], rgb[1], rgb[2], tv_px(&x->plain, edge[i][0], edge[i][1])[0],
		              tv_px(&x->plain, edge[i][0], edge[i][1])[1], tv_px(&x->plain, edge[i][0], edge[i][1])[2]);
		assert_true(tv_dist(p, rgb) < 60);
		assert_true(tv_dist(tv_px(&x->plain, edge[i][0], edge[i][1]), rgb) > 60);
	}
	/* well inside and outside: the picture, not the colour */
	assert_true(tv_mad(&got, &x->plain, 230, 130, 370, 250) < 3);
	assert_true(tv_mad(&got, &x->plain, 450, 150, 630, 350) < 3);
	assert_true(tv_mad(&got, &x->plain, 20, 300, 180, 350) < 3);
	/* the tag above the box: its background is the class colour, and text is drawn on it */
	int tagged = 0, text = 0;
	for (int y = 84; y < 98; y++) {
		for (int xx = 202; xx < 290; xx++) {
			const uint8_t *p = tv_px(&got, xx, y);
			tagged += tv_dist(p, rgb) < 40;
			text += tv_dist(p, rgb) > 100;
		}
	}
	print_message("tag: %d of the class colour, %d of text\n", tagged, text);
	assert_true(tagged > 300);
	assert_true(text > 60);
	free(got.px);
}

static void test_zone_fill_changes_pixels_inside_the_polygon_only(void **state)
{
	fixture *x = *state;
	pipe_point pts[] = { { 960, 540 }, { 1800, 540 }, { 1800, 1000 }, { 960, 1000 } };
	pipe_zone_cfg z = { .name = "lot", .points = pts, .n_points = 4 };
	int count = 3;
	view_scene sc = base_scene(x->f);
	sc.zones = &z;
	sc.zone_counts = &count;
	sc.n_zones = 1;
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, VIEW_W), 0);
	assert_int_equal(view_overlay_draw(x->c, &sc), 0);
	tv_rgb got;
	encode_decode(x, &got);
	/* inside (320,180)-(600,333), away from the label at its centre and the edges */
	double in = tv_mad(&got, &x->plain, 330, 190, 420, 240);
	double out = tv_mad(&got, &x->plain, 20, 200, 300, 340);
	print_message("zone: inside %.1f, outside %.1f\n", in, out);
	assert_true(in > 12);
	assert_true(out < 3);
	free(got.px);
}

static void test_line_and_header_text_draw_something(void **state)
{
	fixture *x = *state;
	pipe_line_cfg l = { .name = "gate", .points = { { 100, 900 }, { 700, 900 } } };
	int64_t in = 5, out = 7;
	view_scene sc = base_scene(x->f);
	sc.lines = &l;
	sc.line_in = &in;
	sc.line_out = &out;
	sc.n_lines = 1;
	assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, VIEW_W), 0);
	assert_int_equal(view_overlay_draw(x->c, &sc), 0);
	tv_rgb got;
	encode_decode(x, &got);
	/* the line at y 300 from x 33 to 233, and the header in the top-left corner */
	assert_true(tv_mad(&got, &x->plain, 50, 298, 220, 302) > 40);
	assert_true(tv_mad(&got, &x->plain, 2, 2, 120, 14) > 20);
	assert_true(tv_mad(&got, &x->plain, 400, 20, 630, 60) < 3);
	free(got.px);
}

static void test_crop_is_the_source_rectangle_at_full_size(void **state)
{
	fixture *x = *state;
	view_rect r = { 601, 299, 301, 201 };  /* widened to even bounds */
	assert_int_equal(view_canvas_from_frame(x->c, x->f, &r, 0), 0);
	assert_int_equal(view_canvas_width(x->c), 302);   /* 600..902: covers 601..902 */
	assert_int_equal(view_canvas_height(x->c), 202);
	view_rect s = view_canvas_source(x->c);
	assert_int_equal(s.x, 600);
	assert_int_equal(s.y, 298);
	view_rect crop = { 10, 10, 100, 50 };
	view_jpeg *j = NULL;
	assert_int_equal(view_jpeg_encode(x->e, x->c, &crop, &j), 0);
	assert_int_equal(j->width, 100);
	assert_int_equal(j->height, 50);
	view_jpeg_unref(&j);
	view_rect bad = { 5000, 10, 10, 10 };
	assert_int_equal(view_canvas_from_frame(x->c, x->f, &bad, 0), -EINVAL);
	assert_int_equal(view_jpeg_encode(x->e, x->c, &bad, &j), -EINVAL);
}

/* A uniform frame of one colour in format fmt: Y, U, V at 8 bits scaled to the format. */
static void uniform_frame(vp_frame *f, vp_pixfmt fmt, uint8_t *buf, int y, int u, int v)
{
	memset(f, 0, sizeof(*f));
	f->width = 64;
	f->height = 32;
	f->fmt = fmt;
	f->csp = VP_CSP_BT709;
	int wide = fmt == VP_PIX_P016 || fmt == VP_PIX_YUV420P10;
	int shift = fmt == VP_PIX_P016 ? 8 : 2, bps = wide ? 2 : 1, semi = fmt == VP_PIX_NV12 || fmt == VP_PIX_P016;
	int vals[3] = { y, u, v };
	for (int k = 0; k < (semi ? 2 : 3); k++) {
		f->data[k] = buf + k * 8192;
		f->linesize[k] = (k == 0 ? 64 : 32 * (semi ? 2 : 1)) * bps;
		int rows = k == 0 ? 32 : 16, n = f->linesize[k] / bps;
		for (int i = 0; i < rows * n; i++) {
			int val = semi && k == 1 ? vals[1 + (i & 1)] : vals[k];
			if (wide)
				((uint16_t *)(void *)f->data[k])[i] = (uint16_t)(val << shift);
			else
				f->data[k][i] = (uint8_t)val;
		}
	}
}

static void test_every_host_format_gives_the_same_colour(void **state)
{
	(void)state;
	static uint8_t buf[4 * 8192];
	const vp_pixfmt fmts[] = { VP_PIX_YUV420P, VP_PIX_NV12, VP_PIX_P016, VP_PIX_YUV420P10 };
	view_canvas *c = NULL;
	assert_int_equal(view_canvas_new(64, 64, &c), 0);
	int first[3] = { 0 };
	for (int i = 0; i < 4; i++) {
		vp_frame f;
		uniform_frame(&f, fmts[i], buf, 120, 90, 200);  /* limited-range reddish purple */
		assert_int_equal(view_canvas_from_frame(c, &f, NULL, 32), 0);
		int stride;
		const uint8_t *p = view_canvas_pixels(c, &stride) + 5 * stride + 5 * 4;
		print_message("format %d: B %d G %d R %d A %d\n", fmts[i], p[0], p[1], p[2], p[3]);
		assert_int_equal(p[3], 255);
		assert_true(p[2] > p[1] + 80);  /* red well above green */
		for (int k = 0; k < 3; k++) {
			if (i == 0)
				first[k] = p[k];
			assert_true(abs(p[k] - first[k]) <= 3);
		}
	}
	view_canvas_free(&c);
	assert_null(c);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_cost_of_a_picture(void **state)
{
	fixture *x = *state;
	vp_det d[8];
	for (int i = 0; i < 8; i++)
		d[i] = (vp_det){ .class_id = i, .score = 0.5f, .bbox = { 100.0f + i * 200, 300, 250.0f + i * 200, 500 } };
	view_scene sc = base_scene(x->f);
	sc.dets = d;
	sc.n_dets = 8;
	enum { N = 20 };
	double t[4] = { 0 };
	for (int i = 0; i < N; i++) {
		double t0 = now_ms();
		assert_int_equal(view_canvas_from_frame(x->c, x->f, NULL, VIEW_W), 0);
		double t1 = now_ms();
		assert_int_equal(view_overlay_draw(x->c, &sc), 0);
		double t2 = now_ms();
		view_jpeg *j = NULL;
		assert_int_equal(view_jpeg_encode(x->e, x->c, NULL, &j), 0);
		double t3 = now_ms();
		view_jpeg_unref(&j);
		t[0] += t1 - t0;
		t[1] += t2 - t1;
		t[2] += t3 - t2;
		t[3] += t3 - t0;
	}
	print_message("cost per picture, 1920x1080 -> 640x360, 8 boxes: scale %.2f ms, draw %.2f ms, "
	              "encode %.2f ms, total %.2f ms\n", t[0] / N, t[1] / N, t[2] / N, t[3] / N);
	assert_true(t[3] / N < 500);  /* a bound for a loaded machine, not a benchmark */
}

int main(void)
{
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_is_view_width_by_aspect_height),
		cmocka_unit_test(test_box_edge_has_class_colour_and_the_picture_stays_elsewhere),
		cmocka_unit_test(test_zone_fill_changes_pixels_inside_the_polygon_only),
		cmocka_unit_test(test_line_and_header_text_draw_something),
		cmocka_unit_test(test_crop_is_the_source_rectangle_at_full_size),
		cmocka_unit_test(test_every_host_format_gives_the_same_colour),
		cmocka_unit_test(test_cost_of_a_picture),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
