/* Loads the pipeline file: libyaml builds the node tree (with line/column marks), and one walker
 * matches every key against the table in config_table.c. Every problem is reported as
 * "FILE:LINE:COL: key.path: message" and walking goes on, so one run lists them all. */
#include "config_internal.h"
#include "vp_err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void walk_map(cfg_ctx *c, yaml_node_t *map, const char *norm, const char *disp);

/* Only the first CFG_MAX_ERRORS are printed (the rest are counted and summed up at the end), and
 * each line is cut at CFG_LINE_MAX bytes: a hostile file's output stays short. */
void cfg_error(cfg_ctx *c, pipe_pos pos, const char *path, const char *fmt, ...)
{
	if (!c || c->quiet || c->stopped || c->n_errors++ >= CFG_MAX_ERRORS)
		return;
	char msg[CFG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	fprintf(c->err, "%s:%d:%d: %s: %s\n", c->file, pos.line, pos.col, path, msg);
}

void cfg_pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, CFG_PATH_MAX, fmt, ap);
	va_end(ap);
	if (n >= CFG_PATH_MAX)
		memcpy(buf + CFG_PATH_MAX - 4, "...", 4);
}

pipe_pos cfg_mark_pos(yaml_mark_t m)
{
	return (pipe_pos){ (int)m.line + 1, (int)m.column + 1 };
}

/* FNV-1a: the hash of a map's set of key names. */
static uint32_t hash_bytes(const void *p, size_t n, uint32_t h)
{
	for (const unsigned char *b = p; n--; b++)
		h = (h ^ *b) * 16777619u;
	return h;
}

pipe_pos cfg_pos_of(const cfg_ctx *c, const char *norm_path, int elem, pipe_pos fallback)
{
	for (int i = 0; i < c->n_seen; i++)
		if (c->seen[i].elem == elem && strcmp(c->seen[i].key->path, norm_path) == 0)
			return c->seen[i].pos;
	return fallback;
}

void *cfg_base_ptr(cfg_ctx *c, enum cfg_base base)
{
	switch (base) {
	case CFG_ROOT: return c->cfg;
	case CFG_MODEL: return &c->cfg->model;
	case CFG_SOURCE: return c->src;
	case CFG_SINK: return c->sink;
	case CFG_DOC: return NULL;
	}
	return NULL;
}

static void remember(cfg_ctx *c, const cfg_key *k, pipe_pos pos)
{
	if (c->n_seen == c->cap_seen) {
		int cap = c->cap_seen ? c->cap_seen * 2 : 64;
		cfg_seen *s = realloc(c->seen, (size_t)cap * sizeof(*s));
		if (!s) {
			c->oom = 1;
			return;
		}
		c->seen = s;
		c->cap_seen = cap;
	}
	c->seen[c->n_seen++] = (cfg_seen){ k, k->base == CFG_SOURCE || k->base == CFG_SINK ? c->elem : -1, pos };
}

/* libyaml keeps an alias as a second reference to its anchor's node, so the walk meets a shared
 * node once per reference: a few KB of nested aliases stand for millions of values. Past a budget
 * of visits (far above what any real file needs) the walk reports once and goes on with an empty
 * node in place of each one, so every loop finishes quickly and nothing more is printed. */
yaml_node_t *cfg_node_at(cfg_ctx *c, int idx)
{
	yaml_node_t *n = yaml_document_get_node(c->doc, idx);
	if (c->stopped)
		return &c->stop_node;
	if (++c->visits > c->max_visits) {
		/* Printed past the cap on errors too: it says why the check ended. */
		pipe_pos pos = cfg_mark_pos(n->start_mark);
		fprintf(c->err, "%s:%d:%d: (aliases): aliases repeat the file's values more than %ld times; "
		        "checking stopped here\n", c->file, pos.line, pos.col, c->max_visits);
		c->n_errors++;
		c->stopped = 1;
		return &c->stop_node;
	}
	return n;
}

/* A plain empty scalar, "~" or "null": the key is written without a value. */
int cfg_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

int cfg_scalar_into(cfg_ctx *c, const cfg_key *k, void *base, yaml_node_t *v, const char *disp)
{
	pipe_pos pos = cfg_mark_pos(v->start_mark);
	if (v->type != YAML_SCALAR_NODE || cfg_is_null(v)) {
		cfg_error(c, pos, disp, "expected a value, got %s", cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
		return -EINVAL;
	}
	char *text;
	int r = cfg_expand(c, v, disp, &text);
	if (r < 0)
		return r;
	r = cfg_set_scalar(c, k, base, text, pos, disp);
	free(text);
	return r;
}

/* [w, h] and [a, b, c]: fixed-length lists of numbers. */
static int fixed_list(cfg_ctx *c, const cfg_key *k, void *field, yaml_node_t *v, const char *disp)
{
	int want = k->type == CFG_SIZE2 ? 2 : 3;
	yaml_node_item_t *it = v->data.sequence.items.start;
	int n = v->type == YAML_SEQUENCE_NODE ? (int)(v->data.sequence.items.top - it) : -1;
	if (n != want) {
		if (n < 0)
			cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected a list of %d numbers, got %s",
			          want, cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
		else
			cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected a list of %d numbers, got %d",
			          want, n);
		return -EINVAL;
	}
	cfg_key elem = *k;
	elem.type = k->type == CFG_SIZE2 ? CFG_INT : CFG_FLOAT;
	int r = 0;
	for (int i = 0; i < n; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		elem.off = (size_t)i * (k->type == CFG_SIZE2 ? sizeof(int) : sizeof(float));
		if (cfg_scalar_into(c, &elem, field, cfg_node_at(c, it[i]), path) < 0)
			r = -EINVAL;
	}
	return r;
}

/* A class given by name or by id: all digits means an id. */
static int class_ref(cfg_ctx *c, yaml_node_t *n, const char *disp, pipe_class_ref *ref)
{
	cfg_key name_key = { .path = disp, .type = CFG_STR };
	char *text = NULL;
	ref->pos = cfg_mark_pos(n->start_mark);
	ref->id = -1;
	if (n->type != YAML_SCALAR_NODE || cfg_is_null(n)) {
		cfg_error(c, ref->pos, disp, "expected a class name or id, got %s",
		          cfg_is_null(n) ? "nothing" : cfg_node_kind(n));
		return -EINVAL;
	}
	int r = cfg_scalar_into(c, &name_key, &text, n, disp);
	if (r < 0)
		return r;
	long id;
	if (cfg_parse_int(text, &id) == 0) {
		free(text);
		if (id < 0 || id > 65535) {
			cfg_error(c, ref->pos, disp, "class id %ld is out of range 0..65535", id);
			return -ERANGE;
		}
		ref->id = (int)id;
		return 0;
	}
	ref->name = text;
	return 0;
}

/* The same class twice in class_thresholds: the YAML keys may differ in spelling ("2", "02"). */
static int duplicate_class(cfg_ctx *c, const pipe_class_ref *refs, int i, const char *path)
{
	for (int j = 0; j < i; j++) {
		if (refs[j].name ? !refs[i].name || strcmp(refs[i].name, refs[j].name) != 0
		                 : refs[i].name || refs[i].id != refs[j].id)
			continue;
		cfg_error(c, refs[i].pos, path, "duplicate key (first at line %d)", refs[j].pos.line);
		return 1;
	}
	return 0;
}

static int class_items(cfg_ctx *c, const cfg_key *k, yaml_node_t *v, const char *disp,
                       pipe_class_ref *refs, int n)
{
	int is_map = k && k->type == CFG_CLASS_THRESH;
	cfg_key score = { .type = CFG_FLOAT, .min = k ? k->min : 0, .max = k ? k->max : 1,
	                  .off = offsetof(pipe_class_ref, threshold) };
	int r = 0;
	for (int i = 0; i < n; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		yaml_node_t *item = is_map ? cfg_node_at(c, v->data.mapping.pairs.start[i].key)
		                           : cfg_node_at(c, v->data.sequence.items.start[i]);
		if (class_ref(c, item, path, &refs[i]) < 0) {
			r = -EINVAL;
			continue;
		}
		if (!is_map)
			continue;
		if (refs[i].name)
			cfg_pathf(path, "%s.%s", disp, refs[i].name);
		else
			cfg_pathf(path, "%s.%d", disp, refs[i].id);
		if (duplicate_class(c, refs, i, path)) {
			r = -EINVAL;
			continue;
		}
		yaml_node_t *value = cfg_node_at(c, v->data.mapping.pairs.start[i].value);
		if (cfg_scalar_into(c, &score, &refs[i], value, path) < 0)
			r = -EINVAL;
	}
	return r;
}

/* k: the class_thresholds row for a map of class: score; NULL for a list. */
static int class_refs(cfg_ctx *c, const cfg_key *k, yaml_node_t *v, const char *disp,
                      pipe_class_ref **ret, int *ret_n)
{
	int is_map = k && k->type == CFG_CLASS_THRESH;
	if (v->type != (is_map ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE)) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected %s, got %s",
		          is_map ? "a map of class: score" : "a list of class names or ids",
		          cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
		return -EINVAL;
	}
	int n = is_map ? (int)(v->data.mapping.pairs.top - v->data.mapping.pairs.start)
	               : (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	pipe_class_ref *refs = calloc((size_t)(n ? n : 1), sizeof(*refs));
	if (!refs)
		return c->oom = 1, -ENOMEM;
	*ret = refs;
	*ret_n = n;
	return class_items(c, k, v, disp, refs, n);
}

int cfg_class_list(cfg_ctx *c, yaml_node_t *v, const char *disp, pipe_class_ref **refs, int *n)
{
	return class_refs(c, NULL, v, disp, refs, n);
}

static int classes(cfg_ctx *c, const cfg_key *k, yaml_node_t *v, const char *disp)
{
	pipe_model_cfg *m = &c->cfg->model;
	if (k->type == CFG_CLASS_THRESH)
		return class_refs(c, k, v, disp, &m->class_thresholds, &m->n_class_thresholds);
	return class_refs(c, NULL, v, disp, &m->classes, &m->n_classes);
}

void cfg_free_strlist(pipe_strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (pipe_strlist){ 0 };
}

/* A written list replaces the default; each item goes through cfg_set_scalar (which appends). */
static int strlist(cfg_ctx *c, const cfg_key *k, void *base, yaml_node_t *v, const char *disp)
{
	cfg_free_strlist((pipe_strlist *)((char *)base + k->off));
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_scalar_into(c, k, base, v, disp);
	yaml_node_item_t *it = v->data.sequence.items.start;
	int n = (int)(v->data.sequence.items.top - it), r = 0;
	if (n < 1) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "must have at least one entry");
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s[%d]", disp, i);
		if (cfg_scalar_into(c, k, base, cfg_node_at(c, it[i]), path) < 0)
			r = -EINVAL;
	}
	return r;
}

/* sources: and sinks: lists of maps; each element starts from the table's defaults. */
static int walk_list(cfg_ctx *c, const cfg_key *k, yaml_node_t *v, const char *disp)
{
	int is_src = k->off == offsetof(pipe_config, sources);
	size_t size = is_src ? sizeof(pipe_source_cfg) : sizeof(pipe_sink_cfg);
	if (v->type != YAML_SEQUENCE_NODE) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "expected a list of maps, got %s",
		          cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
		return -EINVAL;
	}
	yaml_node_item_t *it = v->data.sequence.items.start;
	int n = (int)(v->data.sequence.items.top - it);
	/* Extra sources (the fleet's) come after the file's; the count limits apply to both. */
	int first = is_src && c->extra ? c->cfg->n_sources : 0;
	/* No sources at all is fine with fleet:, which may come later in the file: that case is
	 * checked once the whole file is walked (cfg_check_fleet). The fleet's cameras are bounded
	 * by fleet.capacity, not by the file's limit. */
	if ((n < k->min && !(is_src && n == 0)) || (!c->extra && first + n > k->max)) {
		cfg_error(c, cfg_mark_pos(v->start_mark), disp, "must have %.0f to %.0f entries, got %d", k->min,
		          k->max, first + n);
		return -EINVAL;
	}
	void *arr = first ? realloc(c->cfg->sources, (size_t)(first + n) * size) : calloc((size_t)(n ? n : 1), size);
	if (!arr)
		return c->oom = 1, -ENOMEM;
	if (first)
		memset((char *)arr + (size_t)first * size, 0, (size_t)n * size);
	if (is_src)
		c->cfg->sources = arr, c->cfg->n_sources = first + n;
	else
		c->cfg->sinks = arr, c->cfg->n_sinks = n;
	char norm[CFG_PATH_MAX], path[CFG_PATH_MAX];
	cfg_pathf(norm, "%s[]", k->path);
	for (int i = 0; i < n; i++) {
		yaml_node_t *e = cfg_node_at(c, it[i]);
		void *elem = (char *)arr + (size_t)(first + i) * size;
		pipe_pos pos = cfg_mark_pos(e->start_mark);
		cfg_pathf(path, "%s[%d]", k->path, first + i);
		cfg_apply_defaults(is_src ? CFG_SOURCE : CFG_SINK, elem);
		c->src = is_src ? elem : NULL;
		c->sink = is_src ? NULL : elem;
		c->elem = first + i;
		if (is_src)
			c->src->pos = pos;
		else
			c->sink->pos = pos;
		if (e->type != YAML_MAPPING_NODE)
			cfg_error(c, pos, path, "expected a map, got %s", cfg_is_null(e) ? "nothing" : cfg_node_kind(e));
		else
			walk_map(c, e, norm, path);
	}
	c->src = NULL;
	c->sink = NULL;
	c->elem = -1;
	return 0;
}

static void walk_value(cfg_ctx *c, const cfg_key *k, yaml_node_t *v, const char *disp)
{
	void *base = cfg_base_ptr(c, k->base);
	pipe_pos pos = cfg_mark_pos(v->start_mark);
	int r;
	switch (k->type) {
	case CFG_LIST:
		r = walk_list(c, k, v, disp);
		break;
	case CFG_MAP:
		if (v->type != YAML_MAPPING_NODE) {
			cfg_error(c, pos, disp, "expected a map, got %s", cfg_is_null(v) ? "nothing" : cfg_node_kind(v));
			return;
		}
		*(bool *)((char *)base + k->off) = true;
		/* Checks across keys point at the optional sections. */
		if (k->base == CFG_ROOT && k->off == offsetof(pipe_config, tracker.present))
			c->cfg->tracker.pos = pos;
		else if (k->base == CFG_ROOT && k->off == offsetof(pipe_config, snapshots.present))
			c->cfg->snapshots.pos = pos;
		else if (k->base == CFG_ROOT && k->off == offsetof(pipe_config, fleet.present))
			c->cfg->fleet.pos = pos;
		else if (k->base == CFG_ROOT)
			c->cfg->model.pos = pos;
		walk_map(c, v, k->path, disp);
		r = 0;
		break;
	case CFG_SIZE2:
	case CFG_FLOAT3:
		r = fixed_list(c, k, (char *)base + k->off, v, disp);
		break;
	case CFG_CLASSES:
	case CFG_CLASS_THRESH:
		r = classes(c, k, v, disp);
		break;
	case CFG_FLAGS:
		r = cfg_parse_flags(c, k, base, v, disp);
		break;
	case CFG_ZONES:
		r = cfg_parse_zones(c, v, disp);
		break;
	case CFG_LINES:
		r = cfg_parse_lines(c, v, disp);
		break;
	case CFG_STRLIST:
		r = strlist(c, k, base, v, disp);
		break;
	default:
		r = cfg_scalar_into(c, k, base, v, disp);
		break;
	}
	if (r == 0 && k->set_bit)
		c->cfg->model.preprocess.set |= k->set_bit;
	remember(c, k, pos);
}

/* The sink type decides which keys a sink takes, so it is read before the others. */
static int applies(const cfg_ctx *c, const cfg_key *k)
{
	return !k->sinks || !c->sink || !c->sink_typed || (k->sinks & CFG_SINK_BIT(c->sink->type));
}

static int section_applies(const cfg_ctx *c, const char *norm)
{
	size_t n = strlen(norm);
	for (int i = 0; i < cfg_n_keys; i++)
		if (strncmp(cfg_keys[i].path, norm, n) == 0 && cfg_keys[i].path[n] == '.' && applies(c, &cfg_keys[i]))
			return 1;
	return 0;
}

static yaml_node_t *map_get(cfg_ctx *c, yaml_node_t *map, const char *name)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = cfg_node_at(c, p->key);
		if (key->type == YAML_SCALAR_NODE && strcmp((char *)key->data.scalar.value, name) == 0)
			return cfg_node_at(c, p->value);
	}
	return NULL;
}

static void list_valid_keys(const cfg_ctx *c, const char *norm, char *buf, size_t n)
{
	size_t used = 0, plen = strlen(norm);
	buf[0] = '\0';
	for (int i = 0; i < cfg_n_keys && used < n; i++) {
		const char *p = cfg_keys[i].path;
		if (plen && (strncmp(p, norm, plen) != 0 || p[plen] != '.'))
			continue;
		if (!applies(c, &cfg_keys[i]))
			continue;
		const char *leaf = p + (plen ? plen + 1 : 0);
		size_t len = strcspn(leaf, ".[");
		/* Keys of one section are adjacent in the table: skip repeats of the last one. */
		if (used >= len && strncmp(buf + used - len, leaf, len) == 0 &&
		    (used == len || buf[used - len - 1] == ' '))
			continue;
		used += snprintf(buf + used, n - used, "%s%.*s", used ? ", " : "", (int)len, leaf);
	}
}

static void unknown_key(cfg_ctx *c, yaml_node_t *key, const char *norm, const char *path)
{
	char valid[512];
	list_valid_keys(c, norm, valid, sizeof(valid));
	if (c->sink && c->sink_typed && strncmp(norm, "sinks[]", 7) == 0) {
		cfg_error(c, cfg_mark_pos(key->start_mark), path, "unknown key; valid keys for %s sinks: %s",
		          cfg_sink_type_names[c->sink->type], valid);
		return;
	}
	cfg_error(c, cfg_mark_pos(key->start_mark), path, "unknown key; valid keys: %s", valid);
}

/* first: the earlier key of the same name in this map, or NULL. */
static void walk_pair(cfg_ctx *c, yaml_node_pair_t *p, const yaml_node_t *first, const char *norm,
                      const char *disp)
{
	yaml_node_t *key = cfg_node_at(c, p->key), *val = cfg_node_at(c, p->value);
	pipe_pos kpos = cfg_mark_pos(key->start_mark);
	if (key->type != YAML_SCALAR_NODE) {
		cfg_error(c, kpos, *disp ? disp : "(top)", "keys must be plain names, got %s", cfg_node_kind(key));
		return;
	}
	const char *name = (const char *)key->data.scalar.value;
	char cnorm[CFG_PATH_MAX], cdisp[CFG_PATH_MAX];
	cfg_pathf(cnorm, "%s%s%s", norm, *norm ? "." : "", name);
	cfg_pathf(cdisp, "%s%s%s", disp, *disp ? "." : "", name);
	/* "sinks[].path" or "model.path" written as one key would match a table path whose
	 * struct is not being walked (found by the config fuzzer: a write through NULL). */
	if (name[strcspn(name, ".[]")]) {
		unknown_key(c, key, norm, cdisp);
		return;
	}
	if (first) {
		cfg_error(c, kpos, cdisp, "duplicate key (first at line %d)", (int)first->start_mark.line + 1);
		return;
	}
	const cfg_key *k = cfg_find_key(cnorm);
	if ((k && !applies(c, k)) || (!k && cfg_is_section(cnorm) && !section_applies(c, cnorm))) {
		cfg_error(c, kpos, cdisp, "not a key of %s sinks", cfg_sink_type_names[c->sink->type]);
	} else if (k) {
		walk_value(c, k, val, cdisp);
	} else if (cfg_is_section(cnorm)) {
		if (val->type != YAML_MAPPING_NODE)
			cfg_error(c, cfg_mark_pos(val->start_mark), cdisp, "expected a map, got %s",
			          cfg_is_null(val) ? "nothing" : cfg_node_kind(val));
		else
			walk_map(c, val, cnorm, cdisp);
	} else {
		unknown_key(c, key, norm, cdisp);
	}
}

/* For each pair of map, the index of the earlier pair with the same scalar key, or -1: one pass
 * through a hash set of key names, so a map of 64k keys is checked in linear time. */
static int *first_of_name(cfg_ctx *c, yaml_node_t *map)
{
	yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
	size_t n = (size_t)(map->data.mapping.pairs.top - pairs), mask = 7;
	while (mask + 1 < 2 * n)
		mask = mask * 2 + 1;
	int *first = malloc((n ? n : 1) * sizeof(*first)), *set = calloc(mask + 1, sizeof(*set));
	if (!first || !set) {
		free(first);
		free(set);
		c->oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *key = cfg_node_at(c, pairs[i].key);
		first[i] = -1;
		if (key->type != YAML_SCALAR_NODE)
			continue;
		const char *name = (const char *)key->data.scalar.value;
		size_t h = hash_bytes(name, strlen(name), 2166136261u) & mask;
		for (; set[h]; h = (h + 1) & mask) {
			yaml_node_t *prev = cfg_node_at(c, pairs[set[h] - 1].key);
			if (strcmp((const char *)prev->data.scalar.value, name) == 0) {
				first[i] = set[h] - 1;
				break;
			}
		}
		if (!set[h])
			set[h] = (int)i + 1;
	}
	free(set);
	return first;
}

static void walk_map(cfg_ctx *c, yaml_node_t *map, const char *norm, const char *disp)
{
	yaml_node_t *type;
	if (c->sink && strcmp(norm, "sinks[]") == 0) {
		c->sink_typed = 0;
		if ((type = map_get(c, map, "type"))) {
			/* Read early only to pick the sink's keys; reported when its turn comes. */
			c->quiet = 1;
			c->sink_typed = cfg_scalar_into(c, cfg_find_key("sinks[].type"), c->sink, type, disp) == 0;
			c->quiet = 0;
		}
	}
	yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
	int n = (int)(map->data.mapping.pairs.top - pairs);
	int *first = first_of_name(c, map);
	if (!first)
		return;      /* out of memory: reported by the caller */
	for (int i = 0; i < n; i++)
		walk_pair(c, &pairs[i], first[i] >= 0 ? cfg_node_at(c, pairs[first[i]].key) : NULL, norm, disp);
	free(first);
	size_t plen = strlen(norm);
	for (int i = 0; i < cfg_n_keys; i++) {
		const cfg_key *k = &cfg_keys[i];
		if (!(k->flags & CFG_REQUIRED) || !applies(c, k) || (k->sinks && !c->sink_typed) ||
		    strncmp(k->path, norm, plen) != 0)
			continue;
		const char *leaf = k->path + plen + (plen ? 1 : 0);
		if ((plen && k->path[plen] != '.') || strchr(leaf, '.') || map_get(c, map, leaf))
			continue;
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "%s%s%s", disp, *disp ? "." : "", leaf);
		cfg_error(c, cfg_mark_pos(map->start_mark), path, "missing required key");
	}
}

static void walk_document(cfg_ctx *c)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	if (root && root->type == YAML_MAPPING_NODE) {
		walk_map(c, root, "", "");
		return;
	}
	if (root && !cfg_is_null(root))
		cfg_error(c, cfg_mark_pos(root->start_mark), "(top)", "expected a map of sections, got %s",
		          cfg_node_kind(root));
	else
		cfg_error(c, (pipe_pos){ 1, 1 }, "sources", "missing required key (the file is empty)");
}

int cfg_walk_extra_sources(cfg_ctx *c, const char *name, const char *text)
{
	cfg_ctx x = *c;
	yaml_document_t doc;
	x.file = name;
	x.text = text;
	x.extra = 1;
	int r = cfg_parse_file(&x, name, &doc);
	if (r == 0) {
		x.doc = &doc;
		x.max_visits += CFG_VISITS_PER_NODE * (long)(doc.nodes.top - doc.nodes.start);
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (root && !cfg_is_null(root))
			walk_value(&x, cfg_find_key("sources"), root, "sources");
		yaml_document_delete(&doc);
	}
	/* What the walk learned (errors, positions, the grown lists) goes back; the document
	 * and the name do not. */
	x.file = c->file;
	x.text = c->text;
	x.doc = c->doc;
	x.extra = 0;
	*c = x;
	return r;
}

static int load_config(const char *path, const char *text, const char *extra_name,
                       const char *extra, FILE *err, pipe_config **ret_cfg)
{
	cfg_ctx c = { .file = path, .text = text, .err = err, .elem = -1 };
	yaml_document_t doc;
	int have_doc = 0, r;
	c.cfg = calloc(1, sizeof(*c.cfg));
	if (!c.cfg || !(c.cfg->file = strdup(path))) {
		r = -ENOMEM;
		goto fail;
	}
	cfg_apply_defaults(CFG_ROOT, c.cfg);
	cfg_apply_defaults(CFG_MODEL, &c.cfg->model);
	r = cfg_parse_file(&c, path, &doc);
	if (r < 0)
		goto fail;
	have_doc = 1;
	c.doc = &doc;
	c.stop_node = (yaml_node_t){ .type = YAML_MAPPING_NODE };
	c.max_visits = CFG_VISITS_PER_NODE * (long)(doc.nodes.top - doc.nodes.start) + CFG_VISITS_MIN;
	walk_document(&c);
	if (extra && !c.oom && !c.stopped)
		cfg_walk_extra_sources(&c, extra_name ? extra_name : "(extra sources)", extra);
	if (!c.oom)
		cfg_check_fleet(&c);
	if (!c.oom)
		cfg_check_all(&c, cfg_pos_of(&c, "sinks", -1, (pipe_pos){ 0, 0 }).line > 0);
	if (!c.oom)
		cfg_check_analytics(&c);
	if (c.n_errors > CFG_MAX_ERRORS)
		fprintf(err, "%s: ... and %d more errors\n", path, c.n_errors - CFG_MAX_ERRORS);
	r = c.oom ? -ENOMEM : c.n_errors ? VP_ECONFIG : 0;
	if (r < 0)
		goto fail;
	yaml_document_delete(&doc);
	free(c.seen);
	*ret_cfg = c.cfg;
	return 0;
fail:
	if (r == -ENOMEM)
		fprintf(err, "%s: out of memory while loading\n", path);
	if (have_doc)
		yaml_document_delete(&doc);
	free(c.seen);
	pipe_config_free(&c.cfg);
	return r == -ENOMEM ? r : VP_ECONFIG;
}

void cfg_free_classes(pipe_class_ref *refs, int n)
{
	for (int i = 0; refs && i < n; i++)
		free(refs[i].name);
	free(refs);
}

void pipe_config_free(pipe_config **cfg)
{
	pipe_config *c = *cfg;
	if (!c)
		return;
	for (int i = 0; c->sources && i < c->n_sources; i++) {
		cfg_free_strings(CFG_SOURCE, &c->sources[i]);
		cfg_free_analytics(&c->sources[i]);
	}
	for (int i = 0; c->sinks && i < c->n_sinks; i++)
		cfg_free_strings(CFG_SINK, &c->sinks[i]);
	free(c->sources);
	free(c->sinks);
	cfg_free_classes(c->model.classes, c->model.n_classes);
	cfg_free_classes(c->model.class_thresholds, c->model.n_class_thresholds);
	cfg_free_strings(CFG_MODEL, &c->model);
	cfg_free_strings(CFG_ROOT, c);
	free(c->file);
	free(c);
	*cfg = NULL;
}

int pipe_config_load(const char *path, FILE *err, pipe_config **ret_cfg)
{
	return load_config(path, NULL, NULL, NULL, err, ret_cfg);
}

int pipe_config_load_extra(const char *path, const char *extra_name, const char *extra_sources,
                           FILE *err, pipe_config **ret_cfg)
{
	return load_config(path, NULL, extra_name, extra_sources, err, ret_cfg);
}

int pipe_config_load_text(const char *name, const char *text, FILE *err, pipe_config **ret_cfg)
{
	return load_config(name, text, NULL, NULL, err, ret_cfg);
}
