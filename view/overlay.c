/* The overlay: what vapd sees, drawn with Cairo over the canvas's picture. Scene
 * coordinates are source pixels; the canvas says which part of the source it shows. Text
 * uses Cairo's toy API with DejaVu Sans (found through fontconfig, fonts-dejavu-core). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include <cairo.h>

#include "../pipeline/vp_log.h"
#include "render.h"

/* Distinct, saturated colours that read on video (class id modulo the table). */
static const uint8_t class_rgb[][3] = {
	{ 255, 56, 56 },  { 255, 157, 151 }, { 255, 112, 31 }, { 255, 178, 29 }, { 207, 210, 49 },
	{ 72, 249, 10 },  { 146, 204, 23 },  { 61, 219, 134 }, { 26, 147, 52 },  { 0, 212, 187 },
	{ 44, 153, 168 }, { 0, 194, 255 },   { 52, 69, 147 },  { 100, 115, 255 }, { 0, 24, 236 },
	{ 132, 56, 255 }, { 82, 0, 133 },    { 203, 56, 255 }, { 255, 149, 200 }, { 255, 55, 199 },
};
enum { N_CLASS_RGB = sizeof(class_rgb) / sizeof(class_rgb[0]) };

void view_overlay_class_rgb(int class_id, uint8_t rgb[3])
{
	const uint8_t *c = class_id < 0 ? (const uint8_t[3]){ 200, 200, 200 } : class_rgb[class_id % N_CLASS_RGB];
	rgb[0] = c[0];
	rgb[1] = c[1];
	rgb[2] = c[2];
}

/* Source pixels to canvas pixels, the line width and the font size of this picture. */
typedef struct ov_ctx {
	cairo_t *cr;
	double kx, ky, ox, oy;
	double lw, fs;
	int w, h;
} ov_ctx;

static double cx(const ov_ctx *o, double x) { return (x - o->ox) * o->kx; }
static double cy(const ov_ctx *o, double y) { return (y - o->oy) * o->ky; }

static void set_rgb(cairo_t *cr, const uint8_t rgb[3], double alpha)
{
	cairo_set_source_rgba(cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0, alpha);
}

/* Text on a filled background whose top-left corner is (x, y), kept inside the picture;
 * dark text on light colours. */
static void tag(const ov_ctx *o, double x, double y, const char *text, const uint8_t bg[3], double alpha)
{
	cairo_t *cr = o->cr;
	cairo_text_extents_t te;
	cairo_font_extents_t fe;
	cairo_text_extents(cr, text, &te);
	cairo_font_extents(cr, &fe);
	double pad = o->fs * 0.25, tw = te.x_advance + 2 * pad, th = fe.ascent + fe.descent + 2 * pad;
	x = fmin(fmax(x, 0), o->w - tw);
	y = fmin(fmax(y, 0), o->h - th);
	set_rgb(cr, bg, alpha);
	cairo_rectangle(cr, x, y, tw, th);
	cairo_fill(cr);
	double lum = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2];
	cairo_set_source_rgb(cr, lum > 150 ? 0 : 1, lum > 150 ? 0 : 1, lum > 150 ? 0 : 1);
	cairo_move_to(cr, x + pad, y + pad + fe.ascent);
	cairo_show_text(cr, text);
}

static void draw_box(const ov_ctx *o, const view_scene *sc, int i)
{
	const vp_det *d = &sc->dets[i];
	uint8_t rgb[3];
	view_overlay_class_rgb(d->class_id, rgb);
	double x1 = cx(o, d->bbox[0]), y1 = cy(o, d->bbox[1]);
	double x2 = cx(o, d->bbox[2]), y2 = cy(o, d->bbox[3]);
	set_rgb(o->cr, rgb, 1);
	cairo_set_line_width(o->cr, o->lw);
	cairo_rectangle(o->cr, x1, y1, x2 - x1, y2 - y1);
	cairo_stroke(o->cr);
	char text[128], id[32] = "";
	if (sc->track_ids && sc->track_ids[i] >= 0)
		snprintf(id, sizeof(id), " #%" PRId64, sc->track_ids[i]);
	if (sc->labels && d->class_id >= 0 && d->class_id < sc->n_labels && sc->labels[d->class_id])
		snprintf(text, sizeof(text), "%s %.2f%s", sc->labels[d->class_id], d->score, id);
	else
		snprintf(text, sizeof(text), "%d %.2f%s", d->class_id, d->score, id);
	cairo_font_extents_t fe;
	cairo_font_extents(o->cr, &fe);
	double th = fe.ascent + fe.descent + o->fs * 0.5;
	/* Above the box, or inside its top when there is no room above. */
	double ty = y1 - o->lw / 2 - th >= 0 ? y1 - o->lw / 2 - th : y1 + o->lw / 2;
	tag(o, x1 - o->lw / 2, ty, text, rgb, 1);
}

static void draw_zone(const ov_ctx *o, const view_scene *sc, int z)
{
	const pipe_zone_cfg *zc = &sc->zones[z];
	if (zc->n_points < 3 || !zc->points)
		return;
	static const uint8_t rgb[3] = { 0, 200, 255 };
	double mx = 0, my = 0;
	for (int k = 0; k < zc->n_points; k++) {
		double x = cx(o, zc->points[k].x), y = cy(o, zc->points[k].y);
		if (k == 0)
			cairo_move_to(o->cr, x, y);
		else
			cairo_line_to(o->cr, x, y);
		mx += x;
		my += y;
	}
	cairo_close_path(o->cr);
	set_rgb(o->cr, rgb, 0.25);
	cairo_fill_preserve(o->cr);
	set_rgb(o->cr, rgb, 0.9);
	cairo_set_line_width(o->cr, o->lw);
	cairo_stroke(o->cr);
	char text[160];
	if (sc->zone_counts)
		snprintf(text, sizeof(text), "%s: %d", zc->name ? zc->name : "zone", sc->zone_counts[z]);
	else
		snprintf(text, sizeof(text), "%s", zc->name ? zc->name : "zone");
	tag(o, mx / zc->n_points, my / zc->n_points, text, rgb, 0.8);
}

/* The line, its end points, an arrow from its middle towards the "in" side (the side a
 * crossing counted as in arrives on: right of P1->P2 on screen, analytics/counting.c) and
 * its name with the totals. */
static void draw_line(const ov_ctx *o, const view_scene *sc, int l)
{
	static const uint8_t rgb[3] = { 255, 220, 0 };
	const pipe_line_cfg *lc = &sc->lines[l];
	double x1 = cx(o, lc->points[0].x), y1 = cy(o, lc->points[0].y);
	double x2 = cx(o, lc->points[1].x), y2 = cy(o, lc->points[1].y);
	cairo_t *cr = o->cr;
	set_rgb(cr, rgb, 1);
	cairo_set_line_width(cr, o->lw * 1.5);
	cairo_move_to(cr, x1, y1);
	cairo_line_to(cr, x2, y2);
	cairo_stroke(cr);
	cairo_arc(cr, x1, y1, o->lw * 2, 0, 2 * M_PI);
	cairo_fill(cr);
	cairo_arc(cr, x2, y2, o->lw * 2, 0, 2 * M_PI);
	cairo_fill(cr);
	double dx = x2 - x1, dy = y2 - y1, len = hypot(dx, dy);
	if (len < 1)
		return;
	double nx = -dy / len, ny = dx / len, mx = (x1 + x2) / 2, my = (y1 + y2) / 2, a = o->fs * 2;
	double tx = mx + nx * a, ty = my + ny * a, hw = o->fs * 0.5;
	cairo_move_to(cr, mx, my);
	cairo_line_to(cr, tx, ty);
	cairo_stroke(cr);
	cairo_move_to(cr, tx + nx * hw, ty + ny * hw);
	cairo_line_to(cr, tx - ny * hw, ty + nx * hw);
	cairo_line_to(cr, tx + ny * hw, ty - nx * hw);
	cairo_close_path(cr);
	cairo_fill(cr);
	char text[200];
	const char *name = lc->name ? lc->name : "line";
	if (sc->line_in && sc->line_out)
		snprintf(text, sizeof(text), "%s in %" PRId64 " out %" PRId64, name, sc->line_in[l], sc->line_out[l]);
	else
		snprintf(text, sizeof(text), "%s", name);
	tag(o, mx - nx * a, my - ny * a, text, rgb, 0.85);
}

/* "stream  yyyy-mm-dd hh:mm:ss.mmmZ" in the top-left corner. */
static void draw_header(const ov_ctx *o, const view_scene *sc)
{
	static const uint8_t bg[3] = { 0, 0, 0 };
	time_t t = (time_t)(sc->wall_us / 1000000);
	struct tm tm;
	char when[96] = "";
	if (sc->wall_us > 0 && gmtime_r(&t, &tm))
		snprintf(when, sizeof(when), "%04d-%02d-%02d %02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		         (int)(sc->wall_us % 1000000 / 1000));
	char text[200];
	snprintf(text, sizeof(text), "%.64s  %s", sc->stream ? sc->stream : "", when);
	tag(o, 0, 0, text, bg, 0.6);
}

int view_overlay_draw(view_canvas *c, const view_scene *sc)
{
	cairo_surface_t *surf = view_canvas_surface(c);
	view_rect src = view_canvas_source(c);
	if (!surf || src.w <= 0 || src.h <= 0)
		return -EINVAL;
	ov_ctx o = { .w = view_canvas_width(c), .h = view_canvas_height(c) };
	o.kx = (double)o.w / src.w;
	o.ky = (double)o.h / src.h;
	o.ox = src.x;
	o.oy = src.y;
	o.lw = fmax(2, round(o.w / 240.0));
	o.fs = fmax(11, o.h / 30.0);
	o.cr = cairo_create(surf);
	cairo_select_font_face(o.cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(o.cr, o.fs);
	for (int z = 0; z < sc->n_zones && sc->zones; z++)
		draw_zone(&o, sc, z);
	for (int l = 0; l < sc->n_lines && sc->lines; l++)
		draw_line(&o, sc, l);
	for (int i = 0; i < sc->n_dets && sc->dets; i++)
		draw_box(&o, sc, i);
	draw_header(&o, sc);
	cairo_status_t st = cairo_status(o.cr);
	cairo_destroy(o.cr);
	cairo_surface_flush(surf);
	if (st != CAIRO_STATUS_SUCCESS) {
		vp_err("view", sc->stream, "overlay: %s", cairo_status_to_string(st));
		return st == CAIRO_STATUS_NO_MEMORY ? -ENOMEM : -EIO;
	}
	return 0;
}
