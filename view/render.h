/* The view stage's picture path, shared by live pictures (live.c), snapshots
 * (snapshot.c) and recordings (record.c): a frame scaled into a BGRA canvas (canvas.c),
 * the scene drawn over it (overlay.c), the canvas encoded as JPEG (jpeg.c), and the
 * fixed-size copy of a scene that crosses from the engine thread to a render thread
 * (scene.c). None of these is thread-safe per object: one object per thread. */
#ifndef VIEW_RENDER_H
#define VIEW_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* A rectangle in pixels (source frame or canvas). */
typedef struct view_rect { int x, y, w, h; } view_rect;

/* ---- canvas.c ---- */

/* A BGRA picture (Cairo CAIRO_FORMAT_ARGB32, opaque) over one buffer allocated at
 * max_w x max_h; each picture uses its top-left width x height. */
typedef struct view_canvas view_canvas;

/* max_w, max_h: the largest picture it will hold (2..16384). */
int view_canvas_new(int max_w, int max_h, view_canvas **ret);
/* Frees the canvas and its scalers (and its GPU buffers, when a device frame was seen). */
void view_canvas_free(view_canvas **c);

/* Scales the part src of f (NULL: all of it; x, y, w, h rounded to even) into the canvas
 * at width (0: src's width; rounded down to even, at most max_w); the height keeps the
 * aspect, even, at least 2. Host frames through libswscale (context cached); device frames
 * (NV12/P016 in GPU memory) are box-scaled on the GPU (kernels/view_scale.cu) to 8-bit
 * NV12 and only that small picture is copied to the host. Returns 0, -EINVAL (bad frame
 * or rect, or too large for the canvas; logged), VP_ENODEV or another CUDA/FFmpeg code.
 * f need not stay referenced after the call returns. */
int view_canvas_from_frame(view_canvas *c, const vp_frame *f, const view_rect *src, int width);

int view_canvas_width(const view_canvas *c);
int view_canvas_height(const view_canvas *c);
/* The picture's pixels (B, G, R, A bytes per pixel) and its row stride in bytes. */
uint8_t *view_canvas_pixels(view_canvas *c, int *stride);
/* The part of the source frame the picture shows (what view_canvas_from_frame scaled):
 * overlay coordinates map from it. */
view_rect view_canvas_source(const view_canvas *c);
/* The Cairo surface (cairo_surface_t *) of the current picture; owned by the canvas, valid
 * until the next view_canvas_from_frame. For callers that draw more. */
void *view_canvas_surface(view_canvas *c);

/* ---- overlay.c ---- */

/* Draws sc over the canvas's picture: boxes coloured per class with "label score #track"
 * tags, zones (translucent polygons, name and occupancy), lines (name, in/out counts and
 * an arrow towards "in"), and the stream name with the frame's UTC time in the top-left
 * corner. Scene coordinates are source pixels, mapped through view_canvas_source().
 * Text: Cairo's toy text API with DejaVu Sans (fonts-dejavu-core). Returns 0 or -EIO
 * (Cairo error, logged). */
int view_overlay_draw(view_canvas *c, const view_scene *sc);
/* The colour boxes of class_id are drawn in, as 8-bit R, G, B (for tests and the page). */
void view_overlay_class_rgb(int class_id, uint8_t rgb[3]);

/* ---- jpeg.c ---- */

/* A JPEG encoder (libavcodec mjpeg, YUVJ420P via libswscale); its codec context is
 * opened once per picture size and reused while the size stays. */
typedef struct view_jpeg_enc view_jpeg_enc;

/* quality 1..100 (clamped), mapped linearly onto qscale 31..1. */
int view_jpeg_enc_new(int quality, view_jpeg_enc **ret);
void view_jpeg_enc_free(view_jpeg_enc **e);
/* Encodes the canvas's picture, or its part crop (NULL: all; clipped to the picture and
 * rounded to even), into a new view_jpeg (refs 1, gen 0, wall_us 0: the caller sets
 * them). Returns 0, -EINVAL (empty crop), -ENOMEM or an FFmpeg code (logged). */
int view_jpeg_encode(view_jpeg_enc *e, view_canvas *c, const view_rect *crop, view_jpeg **ret);

/* ---- scene.c ---- */

enum { VIEW_MAX_ZONES = 64, VIEW_MAX_LINES = 64, VIEW_STREAM_MAX = 64 };

/* A view_scene whose arrays belong to it, sized once: the copy that leaves the engine
 * thread. Zone/line configs and labels stay borrowed (the config outlives the copy). */
typedef struct view_scene_copy {
	view_scene sc;                /* points into the arrays below */
	int max_dets;
	char stream[VIEW_STREAM_MAX];
	vp_det *dets;
	int64_t *track_ids;
	int zone_counts[VIEW_MAX_ZONES];
	int64_t line_in[VIEW_MAX_LINES], line_out[VIEW_MAX_LINES];
} view_scene_copy;

int view_scene_copy_init(view_scene_copy *c, int max_dets);
void view_scene_copy_destroy(view_scene_copy *c);
/* Copies src into c without allocating; detections beyond max_dets, zones and lines
 * beyond 64 are left out. */
void view_scene_copy_set(view_scene_copy *c, const view_scene *src);

#endif
