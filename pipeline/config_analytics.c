/* The analytics keys: sources[].zones and sources[].lines (lists of maps inside a list, so
 * parsed here rather than by the table walker), sinks[].messages (a set of names), and the
 * rules across keys that the tracker brings. */
#include "config_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analytics/geometry.h"

/* One of a zone's or line's keys, and where it was written. */
typedef struct item_keys {
	yaml_node_t *name, *points, *classes;
} item_keys;

static int item_map(cfg_ctx *c, yaml_node_t *e, const char *disp, const char *points_key,
                    item_keys *ret)
{
	memset(ret, 0, sizeof(*ret));
	pipe_pos pos = cfg_mark_pos(e->start_mark);
	if (e->type != YAML_MAPPING_NODE) {
		cfg_error(c, pos, disp, "expected a map, got %s", cfg_is_null(e) ? "nothing" : cfg_node_kind(e));
		return -EINVAL;
	}
	int r = 0;
	for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
		yaml_node_t *key = cfg_node_at(c, p->key);
		const char *name = key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "";
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s.%s", disp, name);
		yaml_node_t **slot = strcmp(name, "name") == 0         ? &ret->name
		                     : strcmp(name, points_key) == 0   ? &ret->points
		                     : strcmp(name, "classes") == 0    ? &ret->classes
		                                                       : NULL;
		if (!slot) {
			cfg_error(c, cfg_mark_pos(key->start_mark), path, "unknown key; valid keys: name, %s, classes",
			          points_key);
			r = -EINVAL;
		} else if (*slot) {
			cfg_error(c, cfg_mark_pos(key->start_mark), path, "duplicate key (first at line %d)",
			          (int)(*slot)->start_mark.line + 1);
			r = -EINVAL;
		} else {
			*slot = cfg_node_at(c, p->value);
		}
	}
	char path[CFG_PATH_MAX];
	if (!ret->name || !ret->points) {
		cfg_pathf(path, "%s.%s", disp, !ret->name ? "name" : points_key);
		cfg_error(c, pos, path, "missing required key");
		r = -EINVAL;
	}
	return r;
}

static int point(cfg_ctx *c, yaml_node_t *v, const char *disp, pipe_point *ret)
{
	int n = v->type == YAML_SEQUENCE_NODE ?
	        (int)(v->data.sequence.items.top - v->data.sequence.items.start) : -1;
	if (n != 2) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected a point [x, y], got %s",
		          n < 0 ? (cfg_is_null(v) ? "nothing" : cfg_node_kind(v)) : "a list of another length");
		return -EINVAL;
	}
	/* Floats through the scalar converter, then widened: pixels need no more precision. */
	float xy[2];
	cfg_key coord = { .type = CFG_FLOAT, .min = -1e6, .max = 1e6 };
	int r = 0;
	for (int i = 0; i < 2; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		coord.off = (size_t)i * sizeof(float);
		if (cfg_scalar_into(c, &coord, xy, cfg_node_at(c, v->data.sequence.items.start[i]), path) < 0)
			r = -EINVAL;
	}
	ret->x = xy[0];
	ret->y = xy[1];
	return r;
}

/* points: a list of at least min (and at most max) points. */
static int points(cfg_ctx *c, yaml_node_t *v, const char *disp, int min, int max, pipe_point *out,
                  int *n_out)
{
	int n = v->type == YAML_SEQUENCE_NODE ?
	        (int)(v->data.sequence.items.top - v->data.sequence.items.start) : -1;
	if (n < min || n > max) {
		if (n < 0)
			cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected a list of points [[x, y], ...], got %s",
			          cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
		else if (min == max)
			cfg_error(c, cfg_mark_pos(v->start_mark), disp, "needs exactly %d points, got %d", min, n);
		else
			cfg_error(c, cfg_mark_pos(v->start_mark), disp, "needs %d to %d points, got %d", min, max, n);
		return -EINVAL;
	}
	int r = 0;
	for (int i = 0; i < n; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		if (point(c, cfg_node_at(c, v->data.sequence.items.start[i]), path, &out[i]) < 0)
			r = -EINVAL;
	}
	*n_out = n;
	return r;
}

static int item_name(cfg_ctx *c, yaml_node_t *v, const char *disp, char **ret)
{
	char path[CFG_PATH_MAX];
	cfg_pathf(path, "%s.name", disp);
	cfg_key k = { .type = CFG_STR, .check = cfg_check_id };
	return v ? cfg_scalar_into(c, &k, ret, v, path) : 0;
}

static int item_classes(cfg_ctx *c, yaml_node_t *v, const char *disp, pipe_class_ref **refs, int *n)
{
	char path[CFG_PATH_MAX];
	cfg_pathf(path, "%s.classes", disp);
	return v ? cfg_class_list(c, v, path, refs, n) : 0;
}

/* Where entry i of a zones: or lines: list wrote its name (first "name" key, as item_map). */
static pipe_pos name_pos(cfg_ctx *c, yaml_node_t *list, int i)
{
	yaml_node_t *e = cfg_node_at(c, list->data.sequence.items.start[i]);
	for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
		yaml_node_t *key = cfg_node_at(c, p->key);
		if (key->type == YAML_SCALAR_NODE && strcmp((const char *)key->data.scalar.value, "name") == 0)
			return cfg_mark_pos(cfg_node_at(c, p->value)->start_mark);
	}
	return cfg_mark_pos(e->start_mark);
}

/* Names are the keys of counts in messages and metrics: unique within their source. Entry i
 * named name, entry j < i prev; both are maps of list when named. */
static int unique_name(cfg_ctx *c, yaml_node_t *list, int i, int j, const char *name, const char *prev,
                       const char *disp)
{
	if (!name || !prev || strcmp(name, prev) != 0)
		return 0;
	char path[CFG_PATH_MAX];
	cfg_pathf(path, "%s.name", disp);
	cfg_error(c, name_pos(c, list, i), path, "'%s' is used twice (first at line %d)", name,
	          name_pos(c, list, j).line);
	return -EINVAL;
}

/* The list node of zones or lines, checked; its length in *n. */
static int item_list(cfg_ctx *c, yaml_node_t *v, const char *disp, int *n)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected a list of maps, got %s",
		          cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
		return -EINVAL;
	}
	*n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (*n > 64) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "at most 64 entries, got %d", *n);
		return -EINVAL;
	}
	return 0;
}

enum { ZONE_MAX_POINTS = 256 };

static int zone_polygon(cfg_ctx *c, yaml_node_t *v, const char *disp, pipe_zone_cfg *z)
{
	char path[CFG_PATH_MAX];
	cfg_pathf(path, "%s.polygon", disp);
	if (!(z->points = calloc(ZONE_MAX_POINTS, sizeof(*z->points))))
		return c->oom = 1, -ENOMEM;
	int r = points(c, v, path, 3, ZONE_MAX_POINTS, z->points, &z->n_points);
	int i, j;
	if (r == 0 && an_polygon_self_intersects(z->points, z->n_points, &i, &j)) {
		cfg_error(c, cfg_mark_pos(v->start_mark), path,
		          "the polygon crosses itself (edges %d-%d and %d-%d)", i, (i + 1) % z->n_points, j,
		          (j + 1) % z->n_points);
		r = -EINVAL;
	}
	return r;
}

int cfg_parse_zones(cfg_ctx *c, yaml_node_t *v, const char *disp)
{
	pipe_source_cfg *s = c->src;
	int n, r = item_list(c, v, disp, &n);
	if (r < 0 || n == 0)
		return r;
	if (!(s->zones = calloc((size_t)n, sizeof(*s->zones))))
		return c->oom = 1, -ENOMEM;
	s->n_zones = n;
	for (int i = 0; i < n; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		yaml_node_t *e = cfg_node_at(c, v->data.sequence.items.start[i]);
		pipe_zone_cfg *z = &s->zones[i];
		item_keys k;
		z->pos = cfg_mark_pos(e->start_mark);
		/* Every part is checked, so one run reports all of an entry's errors. */
		if (item_map(c, e, path, "polygon", &k) < 0)
			r = -EINVAL;
		if (item_name(c, k.name, path, &z->name) < 0)
			r = -EINVAL;
		if (k.points && zone_polygon(c, k.points, path, z) < 0)
			r = -EINVAL;
		if (item_classes(c, k.classes, path, &z->classes, &z->n_classes) < 0)
			r = -EINVAL;
		for (int j = 0; j < i; j++)
			if (unique_name(c, v, i, j, z->name, s->zones[j].name, path) < 0)
				r = -EINVAL;
	}
	return r;
}

static int line_points(cfg_ctx *c, yaml_node_t *v, const char *disp, pipe_line_cfg *l)
{
	char path[CFG_PATH_MAX];
	int n;
	cfg_pathf(path, "%s.points", disp);
	if (points(c, v, path, 2, 2, l->points, &n) < 0)
		return -EINVAL;
	if (l->points[0].x == l->points[1].x && l->points[0].y == l->points[1].y) {
		cfg_error(c, cfg_mark_pos(v->start_mark), path, "the two points must differ");
		return -EINVAL;
	}
	return 0;
}

int cfg_parse_lines(cfg_ctx *c, yaml_node_t *v, const char *disp)
{
	pipe_source_cfg *s = c->src;
	int n, r = item_list(c, v, disp, &n);
	if (r < 0 || n == 0)
		return r;
	if (!(s->lines = calloc((size_t)n, sizeof(*s->lines))))
		return c->oom = 1, -ENOMEM;
	s->n_lines = n;
	for (int i = 0; i < n; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		yaml_node_t *e = cfg_node_at(c, v->data.sequence.items.start[i]);
		pipe_line_cfg *l = &s->lines[i];
		item_keys k;
		l->pos = cfg_mark_pos(e->start_mark);
		/* Every part is checked, so one run reports all of an entry's errors. */
		if (item_map(c, e, path, "points", &k) < 0)
			r = -EINVAL;
		if (item_name(c, k.name, path, &l->name) < 0)
			r = -EINVAL;
		if (k.points && line_points(c, k.points, path, l) < 0)
			r = -EINVAL;
		if (item_classes(c, k.classes, path, &l->classes, &l->n_classes) < 0)
			r = -EINVAL;
		for (int j = 0; j < i; j++)
			if (unique_name(c, v, i, j, l->name, s->lines[j].name, path) < 0)
				r = -EINVAL;
	}
	return r;
}

static int flag_bit(cfg_ctx *c, const cfg_key *k, const char *name, pipe_pos pos, const char *disp)
{
	for (int i = 0; k->names[i]; i++)
		if (strcmp(k->names[i], name) == 0)
			return i;
	char list[128];
	cfg_enum_list(k, list, sizeof(list));
	cfg_error(c, pos, disp, "'%s' is not one of: %s", name, list);
	return -EINVAL;
}

int cfg_parse_flags(cfg_ctx *c, const cfg_key *k, void *base, yaml_node_t *v, const char *disp)
{
	pipe_pos pos = cfg_mark_pos(v->start_mark);
	if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start) {
		cfg_error(c, pos, disp, "expected a non-empty list of: frames, events, eos");
		return -EINVAL;
	}
	unsigned mask = 0;
	int r = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = cfg_node_at(c, *it);
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, (int)(it - v->data.sequence.items.start));
		int b = -EINVAL;
		if (e->type != YAML_SCALAR_NODE || cfg_is_null(e))
			cfg_error(c, cfg_mark_pos(e->start_mark), path, "expected a name, got %s",
			          cfg_is_null(e) ? "nothing" : cfg_node_kind(e));
		else
			b = flag_bit(c, k, (const char *)e->data.scalar.value, cfg_mark_pos(e->start_mark), path);
		if (b < 0)
			r = -EINVAL;
		else
			mask |= 1u << b;
	}
	if (r == 0)
		*(unsigned *)((char *)base + k->off) = mask;
	return r;
}

static void check_tracker(cfg_ctx *c)
{
	pipe_tracker_cfg *t = &c->cfg->tracker;
	if (!t->present)
		return;
	pipe_pos high = cfg_pos_of(c, "tracker.high_threshold", -1, t->pos);
	if (cfg_pos_of(c, "tracker.new_track_threshold", -1, (pipe_pos){ 0, 0 }).line == 0)
		t->new_track_threshold = fminf(1.0f, t->high_threshold + 0.1f);
	if (t->low_threshold > t->high_threshold)
		cfg_error(c, cfg_pos_of(c, "tracker.low_threshold", -1, high), "tracker.low_threshold",
		          "must be <= high_threshold (%g)", t->high_threshold);
	if (!c->cfg->model.present)
		cfg_error(c, t->pos, "tracker", "needs a model: section (it tracks the model's detections)");
	/* The second association needs the weak boxes the messages leave out. */
	/* 0 would read as "no candidates": low_threshold 0 means every box, as near 0 as a float
	 * usefully gets. */
	c->cfg->model.candidate_threshold = t->low_threshold > 0 ? t->low_threshold : 1e-6f;
}

void cfg_check_analytics(cfg_ctx *c)
{
	check_tracker(c);
	for (int i = 0; i < c->cfg->n_sources; i++) {
		const pipe_source_cfg *s = &c->cfg->sources[i];
		if (c->cfg->tracker.present || (!s->n_zones && !s->n_lines))
			continue;
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "sources[%d].%s", i, s->n_zones ? "zones" : "lines");
		cfg_error(c, s->n_zones ? s->zones[0].pos : s->lines[0].pos, path,
		          "zones and lines count tracked objects: add a tracker: section");
	}
}

void cfg_free_analytics(pipe_source_cfg *s)
{
	for (int i = 0; s->zones && i < s->n_zones; i++) {
		free(s->zones[i].name);
		free(s->zones[i].points);
		cfg_free_classes(s->zones[i].classes, s->zones[i].n_classes);
	}
	for (int i = 0; s->lines && i < s->n_lines; i++) {
		free(s->lines[i].name);
		cfg_free_classes(s->lines[i].classes, s->lines[i].n_classes);
	}
	free(s->zones);
	free(s->lines);
	s->zones = NULL;
	s->lines = NULL;
	s->n_zones = s->n_lines = 0;
}
