/* Internals of the config module: the key table (config_table.c), the load context shared by
 * the YAML walker (config.c), the scalar converters (config_value.c) and the checks
 * (config_check.c). Not for use outside pipeline/config*.c. */
#ifndef PIPE_CONFIG_INTERNAL_H
#define PIPE_CONFIG_INTERNAL_H

#include "config.h"

#include <stddef.h>
#include <yaml.h>

enum cfg_type {
	CFG_STR,          /* string, ${VAR} expanded */
	CFG_PATH,         /* string naming a file; checked readable when CFG_READABLE */
	CFG_INT,
	CFG_FLOAT,
	CFG_BOOL,
	CFG_ENUM,         /* one of names[], stored as int (the index) */
	CFG_SIZE2,        /* [w, h]: two ints at off and off + sizeof(int) */
	CFG_FLOAT3,       /* [a, b, c] */
	CFG_CLASSES,      /* [name-or-id, ...] -> pipe_class_ref array + count */
	CFG_CLASS_THRESH, /* {name-or-id: float} -> pipe_class_ref array + count */
	CFG_LIST,         /* list of maps: sources, sinks */
	CFG_MAP,          /* optional section; off points to its `present` flag */
	CFG_FLAGS,        /* [name, ...] of names[] -> unsigned bit mask (bit i = names[i]) */
	CFG_ZONES,        /* sources[].zones: pipe_zone_cfg array + count (config_analytics.c) */
	CFG_LINES,        /* sources[].lines: pipe_line_cfg array + count */
	CFG_POINTS,       /* [[x, y], ...]: documentation rows only */
	CFG_STRLIST,      /* [string, ...] or one string -> pipe_strlist (each item checked) */
};

/* Which struct a key's offset is relative to. */
enum cfg_base { CFG_ROOT, CFG_MODEL, CFG_SOURCE, CFG_SINK, CFG_DOC };
/* CFG_DOC rows only document the keys of list items that a custom parser reads
 * (sources[].zones[].name): nothing is stored through them. */

enum { CFG_REQUIRED = 1 << 0, CFG_READABLE = 1 << 1 };

/* Sink-type masks for cfg_key.sinks. */
#define CFG_SINK_BIT(t) (1u << (t))
#define CFG_FOR_FILE    CFG_SINK_BIT(PIPE_SINK_FILE)
#define CFG_FOR_SOCKET  CFG_SINK_BIT(PIPE_SINK_SOCKET)
#define CFG_FOR_MQTT    CFG_SINK_BIT(PIPE_SINK_MQTT)

/* A single-value validator: 0 when v is fine, else -1 with a message in msg. */
typedef int (*cfg_check_fn)(const char *v, char *msg, size_t n);

typedef struct cfg_key {
	const char *path;            /* "sources[].reconnect.max_ms" */
	enum cfg_type type;
	enum cfg_base base;
	size_t off;                  /* offsetof into the base struct */
	const char *def;             /* default, parsed like a written value; NULL: none */
	const char *shown;           /* default as documented when def is NULL (derived) */
	double min, max;             /* CFG_INT, CFG_FLOAT, CFG_SIZE2, CFG_FLOAT3 */
	const char *const *names;    /* CFG_ENUM: NULL-terminated, index = stored value */
	unsigned flags;              /* CFG_REQUIRED, CFG_READABLE */
	unsigned sinks;              /* sink types the key applies to; 0: every one */
	unsigned set_bit;            /* PIPE_PRE_* bit recorded in model.preprocess.set */
	cfg_check_fn check;
	const char *doc;
} cfg_key;

extern const cfg_key cfg_keys[];
extern const int cfg_n_keys;
extern const char *const cfg_sink_type_names[];

const cfg_key *cfg_find_key(const char *norm_path);
/* Whether any key lives below norm_path (i.e. norm_path is a section). */
int cfg_is_section(const char *norm_path);

/* Where a key was written, so checks after parsing can point at it. */
typedef struct cfg_seen {
	const cfg_key *key;
	int elem;                    /* index in sources/sinks; -1 elsewhere */
	pipe_pos pos;
} cfg_seen;

typedef struct cfg_ctx {
	const char *file;
	const char *text;            /* pipe_config_load_text: parsed instead of reading file */
	FILE *err;
	int n_errors;
	int oom;
	pipe_config *cfg;
	yaml_document_t *doc;
	pipe_source_cfg *src;        /* element being walked, or NULL */
	pipe_sink_cfg *sink;
	int elem;                    /* its index, -1 outside lists */
	int sink_typed;              /* sink->type was read: type-specific keys apply */
	int quiet;                   /* errors neither printed nor counted */
	cfg_seen *seen;
	int n_seen, cap_seen;
	long visits, max_visits;     /* nodes fetched by the walk, and the budget (cfg_node_at) */
	int extra;                   /* walking extra sources: append to the list */
	int stopped;                 /* budget spent: nodes read as stop_node, errors dropped */
	yaml_node_t stop_node;       /* an empty map: read as a list too, it has no items */
} cfg_ctx;

#define CFG_PATH_MAX 256
/* Limits on what one check prints: errors shown (then "... and N more errors"), bytes of a
 * message, bytes of a written value quoted in one (cfg_clip). */
#define CFG_MAX_ERRORS 50
#define CFG_LINE_MAX 512
#define CFG_CLIP_MAX 80
/* Deepest nesting of lists and maps accepted; the table's deepest value (a polygon point) has 7. */
#define CFG_MAX_DEPTH 64
/* Budget of node visits of the walk: a real file visits each node a few times (the key, its value,
 * a look-up of the required keys); the rest is aliases repeating nodes. */
#define CFG_VISITS_PER_NODE 16
#define CFG_VISITS_MIN (1L << 20)

void cfg_error(cfg_ctx *c, pipe_pos pos, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
pipe_pos cfg_mark_pos(yaml_mark_t m);
/* Formats a key path into buf (CFG_PATH_MAX bytes); an overlong one ends in "...". */
void cfg_pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Position where key (a table path) was written for element elem; fallback if it was not. */
pipe_pos cfg_pos_of(const cfg_ctx *c, const char *norm_path, int elem, pipe_pos fallback);
void *cfg_base_ptr(cfg_ctx *c, enum cfg_base base);

/* config_yaml.c */
/* Parses the file at path into doc (to be deleted by the caller on success); errors reported. */
int cfg_parse_file(cfg_ctx *c, const char *path, yaml_document_t *doc);

/* config.c, for the parsers of nested lists */
yaml_node_t *cfg_node_at(cfg_ctx *c, int idx);
int cfg_is_null(const yaml_node_t *n);
/* Expands and converts one scalar node into field k of base. */
int cfg_scalar_into(cfg_ctx *c, const cfg_key *k, void *base, yaml_node_t *v, const char *disp);
/* A list of class names or ids into *refs (malloc'ed, also on error) and *n. */
int cfg_class_list(cfg_ctx *c, yaml_node_t *v, const char *disp, pipe_class_ref **refs, int *n);
void cfg_free_classes(pipe_class_ref *refs, int n);
void cfg_free_strlist(pipe_strlist *l);

/* config_analytics.c */
int cfg_parse_zones(cfg_ctx *c, yaml_node_t *v, const char *disp);
int cfg_parse_lines(cfg_ctx *c, yaml_node_t *v, const char *disp);
int cfg_parse_flags(cfg_ctx *c, const cfg_key *k, void *base, yaml_node_t *v, const char *disp);
/* Tracker defaults derived from other keys, and the keys that need the tracker. */
void cfg_check_analytics(cfg_ctx *c);
void cfg_free_analytics(pipe_source_cfg *s);

/* config_classes.c: class names and ids against model.labels, as the detector resolves them. */
void cfg_check_classes(cfg_ctx *c);

/* config_view.c: http.listen against metrics.listen, authentication of off-host listeners,
 * what snapshots need. */
void cfg_check_view(cfg_ctx *c);

/* config_fleet.c: sources may be empty only with fleet:; the node id's default. */
void cfg_check_fleet(cfg_ctx *c);
/* Appends the list of source maps in text (another YAML document) to cfg->sources. */
int cfg_walk_extra_sources(cfg_ctx *c, const char *name, const char *text);

/* config_value.c */
/* Expands ${VAR} and ${VAR:-default} in the scalar; *out is malloc'ed. Errors are reported. */
int cfg_expand(cfg_ctx *c, const yaml_node_t *node, const char *path, char **out);
/* Converts text per k->type into base; pos/path for messages (c may be NULL for defaults). */
int cfg_set_scalar(cfg_ctx *c, const cfg_key *k, void *base, const char *text, pipe_pos pos,
                   const char *path);
int cfg_parse_int(const char *s, long *out);
int cfg_parse_float(const char *s, double *out);
const char *cfg_node_kind(const yaml_node_t *n);
/* k->names as "a, b, c" for messages. */
void cfg_enum_list(const cfg_key *k, char *buf, size_t n);
/* s as quoted in a message: cut after CFG_CLIP_MAX bytes (at a character boundary) with "...",
 * control characters as '?'. Returns buf (CFG_CLIP_MAX + 4 bytes). */
const char *cfg_clip(const char *s, char *buf);
void cfg_apply_defaults(enum cfg_base base, void *ptr);
void cfg_free_strings(enum cfg_base base, void *ptr);

/* config_check.c */
int cfg_check_device(const char *v, char *msg, size_t n);
int cfg_check_listen(const char *v, char *msg, size_t n);
int cfg_check_id(const char *v, char *msg, size_t n);
int cfg_check_uri(const char *v, char *msg, size_t n);
int cfg_check_address(const char *v, char *msg, size_t n);
int cfg_check_broker(const char *v, char *msg, size_t n);
int cfg_check_topic(const char *v, char *msg, size_t n);
int cfg_check_readable(const char *path, char *msg, size_t n);
/* config_fleet.c */
int cfg_check_etcd(const char *v, char *msg, size_t n);
int cfg_check_prefix(const char *v, char *msg, size_t n);
/* Checks across keys and fills derived fields once the whole file is walked. */
void cfg_check_all(cfg_ctx *c, int have_sinks);

#endif
