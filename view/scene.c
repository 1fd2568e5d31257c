/* The fixed-size scene copy that crosses from the engine thread to a render thread: its
 * arrays are allocated once, so a copy on the engine thread never allocates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

int view_scene_copy_init(view_scene_copy *c, int max_dets)
{
	memset(c, 0, sizeof(*c));
	if (max_dets < 0)
		return -EINVAL;
	c->max_dets = max_dets;
	size_t n = max_dets > 0 ? (size_t)max_dets : 1;
	c->dets = calloc(n, sizeof(*c->dets));
	c->track_ids = calloc(n, sizeof(*c->track_ids));
	if (!c->dets || !c->track_ids) {
		view_scene_copy_destroy(c);
		return -ENOMEM;
	}
	return 0;
}

void view_scene_copy_destroy(view_scene_copy *c)
{
	free(c->dets);
	free(c->track_ids);
	c->dets = NULL;
	c->track_ids = NULL;
}

static int min_int(int a, int b) { return a < b ? a : b; }

void view_scene_copy_set(view_scene_copy *c, const view_scene *src)
{
	view_scene *d = &c->sc;
	*d = *src;
	/* The stream's id is copied: a reload may free the config entry of a removed stream. */
	size_t len = src->stream ? strnlen(src->stream, VIEW_STREAM_MAX - 1) : 0;
	memcpy(c->stream, src->stream ? src->stream : "", len);
	c->stream[len] = '\0';
	d->stream = c->stream;
	d->n_dets = src->dets ? min_int(src->n_dets, c->max_dets) : 0;
	if (d->n_dets > 0)
		memcpy(c->dets, src->dets, sizeof(*c->dets) * (size_t)d->n_dets);
	d->dets = c->dets;
	d->track_ids = NULL;
	if (src->track_ids && d->n_dets > 0) {
		memcpy(c->track_ids, src->track_ids, sizeof(*c->track_ids) * (size_t)d->n_dets);
		d->track_ids = c->track_ids;
	}
	d->n_zones = src->zones ? min_int(src->n_zones, VIEW_MAX_ZONES) : 0;
	d->zone_counts = NULL;
	if (src->zone_counts && d->n_zones > 0) {
		memcpy(c->zone_counts, src->zone_counts, sizeof(int) * (size_t)d->n_zones);
		d->zone_counts = c->zone_counts;
	}
	d->n_lines = src->lines ? min_int(src->n_lines, VIEW_MAX_LINES) : 0;
	d->line_in = d->line_out = NULL;
	if (src->line_in && src->line_out && d->n_lines > 0) {
		memcpy(c->line_in, src->line_in, sizeof(int64_t) * (size_t)d->n_lines);
		memcpy(c->line_out, src->line_out, sizeof(int64_t) * (size_t)d->n_lines);
		d->line_in = c->line_in;
		d->line_out = c->line_out;
	}
}
