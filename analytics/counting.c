/* Zones and lines of one stream.
 *
 * Per-track state lives in dense record arrays (index 0..n_live-1, removal moves the last
 * record into the hole) found through the stage's id map (idmap.h). Both grow to the peak
 * number of live tracks and are then reused: an update allocates only when a frame brings
 * more tracks than ever before, or more events than the buffer has ever held. Everything
 * an update could need is reserved before any state changes, so a failed update (-ENOMEM)
 * leaves the object as it was.
 *
 * Classes: a track's class may change from frame to frame (majority vote). Every decision
 * uses the class of the current observation:
 * - a zone holds a track while its anchor is inside AND its current class is one of the
 *   zone's; when the class stops matching while inside, that is a zone_exit (dwell up to
 *   this frame), and matching again while inside is a new zone_enter;
 * - a line remembers every track's side whatever its class (the anchor moved, the class is
 *   only a label), and a crossing counts when the class at the crossing frame matches. */
#include "counting.h"
#include "geometry.h"
#include "idmap.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"

/* A track's memory of one line: the last anchor with a non-zero side and that side
 * (0: none yet, which is how a first appearance never counts). */
typedef struct line_mem {
	double x, y;
	int side;
} line_mem;

/* A track's membership of one zone; the pts are meaningful while inside. */
typedef struct zone_mem {
	double enter_pts, last_in_pts;
	bool inside;
} zone_mem;

struct an_counting {
	const pipe_zone_cfg *zones;
	const pipe_line_cfg *lines;
	int n_zones, n_lines;
	int *occupancy;            /* per zone */
	int64_t *line_in, *line_out;
	bool *now_in;              /* per zone, scratch of one observation */

	/* records [0, n_live): the track's id, last class, then n_lines / n_zones states */
	int n_live, cap;
	int64_t *rec_id;
	int *rec_class;
	line_mem *lmem;            /* cap * n_lines */
	zone_mem *zmem;            /* cap * n_zones */

	an_idmap by_id;            /* track id -> record */

	an_event *ev;
	int n_ev, ev_cap;
};

static bool class_listed(const pipe_class_ref *classes, int n, int class_id)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		if (classes[i].id == class_id)
			return true;
	return false;
}

/* ---- the track table ---- */

static int lookup(const an_counting *c, int64_t id)
{
	return an_idmap_get(&c->by_id, (uint64_t)id);
}

static int grow_array(void **p, size_t n, size_t size)
{
	if (n == 0)
		return 0;
	void *q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	return 0;
}

/* Room for `need` live tracks. The record arrays only grow, and keep their contents, so a
 * failure part-way leaves a consistent (if roomier) table. */
static int reserve_tracks(an_counting *c, int need)
{
	if (need <= c->cap)
		return 0;
	if (need > INT_MAX / 4)
		return -ENOMEM;
	int cap = c->cap ? c->cap : 16;
	while (cap < need)
		cap *= 2;
	if (grow_array((void **)&c->rec_id, (size_t)cap, sizeof(*c->rec_id)) ||
	    grow_array((void **)&c->rec_class, (size_t)cap, sizeof(*c->rec_class)) ||
	    grow_array((void **)&c->lmem, (size_t)cap * (size_t)c->n_lines, sizeof(*c->lmem)) ||
	    grow_array((void **)&c->zmem, (size_t)cap * (size_t)c->n_zones, sizeof(*c->zmem)))
		return -ENOMEM;
	if (an_idmap_reserve(&c->by_id, cap) < 0)
		return -ENOMEM;
	c->cap = cap;
	return 0;
}

/* Capacity is reserved by the caller. */
static int add_track(an_counting *c, int64_t id)
{
	int r = c->n_live++;
	(void)an_idmap_put(&c->by_id, (uint64_t)id, r);  /* reserved: cannot fail */
	c->rec_id[r] = id;
	c->rec_class[r] = -1;
	for (int l = 0; l < c->n_lines; l++)
		c->lmem[(size_t)r * c->n_lines + l] = (line_mem){ 0, 0, 0 };
	for (int z = 0; z < c->n_zones; z++)
		c->zmem[(size_t)r * c->n_zones + z] = (zone_mem){ 0, 0, false };
	return r;
}

static void remove_track(an_counting *c, int64_t id)
{
	int r = lookup(c, id), last = c->n_live - 1;
	an_idmap_del(&c->by_id, (uint64_t)id);
	if (r != last) {
		c->rec_id[r] = c->rec_id[last];
		c->rec_class[r] = c->rec_class[last];
		if (c->n_lines)
			memcpy(&c->lmem[(size_t)r * c->n_lines], &c->lmem[(size_t)last * c->n_lines],
			       (size_t)c->n_lines * sizeof(*c->lmem));
		if (c->n_zones)
			memcpy(&c->zmem[(size_t)r * c->n_zones], &c->zmem[(size_t)last * c->n_zones],
			       (size_t)c->n_zones * sizeof(*c->zmem));
		(void)an_idmap_put(&c->by_id, (uint64_t)c->rec_id[r], r);  /* present: no growth */
	}
	c->n_live--;
}

/* ---- lifetime ---- */

int an_counting_new(const pipe_zone_cfg *zones, int n_zones, const pipe_line_cfg *lines,
                    int n_lines, an_counting **ret)
{
	if (!ret || n_zones < 0 || n_lines < 0 || (n_zones && !zones) || (n_lines && !lines))
		return -EINVAL;
	an_counting *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->zones = zones;
	c->lines = lines;
	c->n_zones = n_zones;
	c->n_lines = n_lines;
	/* +1: calloc(0) may return NULL, which would read as a failure */
	c->occupancy = calloc((size_t)n_zones + 1, sizeof(*c->occupancy));
	c->now_in = calloc((size_t)n_zones + 1, sizeof(*c->now_in));
	c->line_in = calloc((size_t)n_lines + 1, sizeof(*c->line_in));
	c->line_out = calloc((size_t)n_lines + 1, sizeof(*c->line_out));
	if (!c->occupancy || !c->now_in || !c->line_in || !c->line_out)
		goto fail;
	*ret = c;
	return 0;
fail:
	an_counting_free(&c);
	return -ENOMEM;
}

void an_counting_free(an_counting **pc)
{
	an_counting *c = pc ? *pc : NULL;
	if (!c)
		return;
	free(c->ev);
	an_idmap_free(&c->by_id);
	free(c->zmem);
	free(c->lmem);
	free(c->rec_class);
	free(c->rec_id);
	free(c->line_out);
	free(c->line_in);
	free(c->now_in);
	free(c->occupancy);
	free(c);
	*pc = NULL;
}

/* ---- one frame ---- */

/* What every event of one update shares. */
typedef struct frame_ctx {
	int64_t frame, wall_us;
	double pts;
} frame_ctx;

static an_event *push(an_counting *c, const frame_ctx *f, enum an_event_kind kind,
                      int64_t track_id, int class_id, const char *name)
{
	an_event *e = &c->ev[c->n_ev++];
	*e = (an_event){ .kind = kind, .track_id = track_id, .frame = f->frame, .pts = f->pts,
	                 .wall_us = f->wall_us, .class_id = class_id, .name = name };
	return e;
}

/* The most events one update can raise: per observed track at most one per zone (an exit
 * or an enter, never both for one zone) and one per line; per ended track one per zone. */
static int reserve_events(an_counting *c, int n_obs, int n_ended)
{
	size_t per_obs = (size_t)c->n_zones + (size_t)c->n_lines;
	size_t need = (size_t)n_obs * per_obs + (size_t)n_ended * (size_t)c->n_zones;
	if (need > INT_MAX / 2)
		return -ENOMEM;
	if ((int)need <= c->ev_cap)
		return 0;
	int cap = c->ev_cap ? c->ev_cap : 64;
	while ((size_t)cap < need)
		cap *= 2;
	an_event *ev = realloc(c->ev, (size_t)cap * sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	c->ev = ev;
	c->ev_cap = cap;
	return 0;
}

/* Zone exits first, then enters (the documented order), each in zone order. */
static void update_zones(an_counting *c, int r, const an_obs *o, const frame_ctx *f)
{
	if (c->n_zones == 0)
		return; /* zmem may be NULL: no pointer arithmetic on it */
	pipe_point a = { o->x, o->y };
	zone_mem *zm = &c->zmem[(size_t)r * c->n_zones];
	for (int z = 0; z < c->n_zones; z++) {
		const pipe_zone_cfg *zc = &c->zones[z];
		c->now_in[z] = class_listed(zc->classes, zc->n_classes, o->class_id) &&
		               an_point_in_polygon(zc->points, zc->n_points, &a);
		if (zm[z].inside && !c->now_in[z]) {
			an_event *e = push(c, f, AN_EV_ZONE_EXIT, o->track_id, o->class_id, zc->name);
			e->dwell_s = f->pts - zm[z].enter_pts;
			zm[z].inside = false;
			c->occupancy[z]--;
		}
	}
	for (int z = 0; z < c->n_zones; z++) {
		if (!c->now_in[z])
			continue;
		if (!zm[z].inside) {
			push(c, f, AN_EV_ZONE_ENTER, o->track_id, o->class_id, c->zones[z].name);
			zm[z] = (zone_mem){ .enter_pts = f->pts, .inside = true };
			c->occupancy[z]++;
		}
		zm[z].last_in_pts = f->pts;
	}
}

static void update_lines(an_counting *c, int r, const an_obs *o, const frame_ctx *f)
{
	if (c->n_lines == 0)
		return;
	pipe_point a = { o->x, o->y };
	line_mem *lm = &c->lmem[(size_t)r * c->n_lines];
	for (int l = 0; l < c->n_lines; l++) {
		const pipe_line_cfg *lc = &c->lines[l];
		const pipe_point *p1 = &lc->points[0], *p2 = &lc->points[1];
		double s = an_line_side(p1, p2, &a);
		if (s == 0)
			continue; /* on the line: neither a crossing nor a new reference */
		int side = s > 0 ? 1 : -1;
		pipe_point prev = { lm[l].x, lm[l].y };
		if (lm[l].side == -side && class_listed(lc->classes, lc->n_classes, o->class_id) &&
		    an_segments_meet(&prev, &a, p1, p2)) {
			/* s < 0 -> s > 0 is "in": left to right of P1->P2 as seen on screen (y down) */
			an_event *e = push(c, f, AN_EV_LINE_CROSS, o->track_id, o->class_id, lc->name);
			e->direction = side;
			if (side > 0)
				c->line_in[l]++;
			else
				c->line_out[l]++;
			e->in = c->line_in[l];
			e->out = c->line_out[l];
		}
		lm[l] = (line_mem){ a.x, a.y, side };
	}
}

/* A track that ends inside a zone leaves it at the last frame it was seen there. */
static void end_track(an_counting *c, int64_t id, const frame_ctx *f)
{
	int r = lookup(c, id);
	if (r < 0)
		return; /* never observed (or already ended): nothing to leave */
	for (int z = 0; z < c->n_zones; z++) {
		zone_mem *zm = &c->zmem[(size_t)r * c->n_zones + z];
		if (!zm->inside)
			continue;
		an_event *e = push(c, f, AN_EV_ZONE_EXIT, id, c->rec_class[r], c->zones[z].name);
		e->dwell_s = zm->last_in_pts - zm->enter_pts;
		c->occupancy[z]--;
	}
	remove_track(c, id);
}

int an_counting_update(an_counting *c, const an_obs *obs, int n_obs, const int64_t *ended,
                       int n_ended, int64_t frame, double pts, int64_t wall_us,
                       const an_event **ev, int *n_ev)
{
	if (!c || !ev || !n_ev || n_obs < 0 || n_ended < 0 || (n_obs && !obs) ||
	    (n_ended && !ended))
		return -EINVAL;
	/* Worst case every observation is a new track. */
	if ((int64_t)c->n_live + n_obs > INT_MAX / 4)
		return -ENOMEM;
	int err = reserve_tracks(c, c->n_live + n_obs);
	if (!err)
		err = reserve_events(c, n_obs, n_ended);
	if (err)
		return err;

	frame_ctx f = { frame, wall_us, pts };
	c->n_ev = 0;
	for (int i = 0; i < n_obs; i++) {
		const an_obs *o = &obs[i];
		int r = lookup(c, o->track_id);
		if (r < 0)
			r = add_track(c, o->track_id);
		c->rec_class[r] = o->class_id;
		update_zones(c, r, o, &f);
		update_lines(c, r, o, &f);
	}
	for (int i = 0; i < n_ended; i++)
		end_track(c, ended[i], &f);
	*ev = c->ev;
	*n_ev = c->n_ev;
	return 0;
}

int an_counting_zone_occupancy(const an_counting *c, int i)
{
	if (!c || i < 0 || i >= c->n_zones)
		return 0;
	return c->occupancy[i];
}

void an_counting_line_totals(const an_counting *c, int i, int64_t *in, int64_t *out)
{
	bool ok = c && i >= 0 && i < c->n_lines;
	if (in)
		*in = ok ? c->line_in[i] : 0;
	if (out)
		*out = ok ? c->line_out[i] : 0;
}
