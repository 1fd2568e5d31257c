/* Scalar values of the config: ${VAR} expansion, conversion per key type with range and enum
 * checks, defaults and freeing, all driven by the key table. */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *cfg_node_kind(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a map";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return "a scalar";
}

const char *cfg_clip(const char *s, char *buf)
{
	size_t n = strlen(s), cut = n > CFG_CLIP_MAX ? CFG_CLIP_MAX : n;
	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;     /* not inside a UTF-8 sequence */
	for (size_t i = 0; i < cut; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	strcpy(buf + cut, cut < n ? "..." : "");
	return buf;
}

int cfg_parse_int(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || isspace((unsigned char)*s))
		return -1;
	*out = v;
	return 0;
}

int cfg_parse_float(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || isspace((unsigned char)*s))
		return -1;
	*out = v;
	return 0;
}

/* Column of byte i of a scalar: quoted scalars start one column after their mark. */
static pipe_pos scalar_pos(const yaml_node_t *node, size_t i)
{
	pipe_pos p = cfg_mark_pos(node->start_mark);
	int quoted = node->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	             node->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	if (node->start_mark.line == node->end_mark.line)
		p.col += (int)i + quoted;
	return p;
}

/* Appends n bytes to a growing buffer. */
static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t cap2 = (*len + n + 1) * 2;
		char *b = realloc(*buf, cap2);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = cap2;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* One ${...} at s (s[0..1] == "${"); appends its value. Returns bytes consumed or < 0. */
static int expand_one(cfg_ctx *c, const yaml_node_t *node, const char *path, const char *s,
                      char **buf, size_t *len, size_t *cap)
{
	const char *v = (const char *)node->data.scalar.value;
	pipe_pos pos = scalar_pos(node, (size_t)(s - v));
	const char *close = strchr(s, '}');
	size_t nlen = 0;
	while (s[2 + nlen] == '_' || isalnum((unsigned char)s[2 + nlen]))
		nlen++;
	const char *after = s + 2 + nlen;
	int has_def = strncmp(after, ":-", 2) == 0;
	if (!close || nlen == 0 || isdigit((unsigned char)s[2]) || (!has_def && after != close)) {
		cfg_error(c, pos, path, "malformed variable reference; use ${NAME} or ${NAME:-default}");
		return -EINVAL;
	}
	char name[128];
	if (nlen >= sizeof(name)) {
		cfg_error(c, pos, path, "variable name too long");
		return -EINVAL;
	}
	memcpy(name, s + 2, nlen);
	name[nlen] = '\0';
	const char *val = getenv(name);
	int r;
	/* As in the shell, ":-" also replaces a variable that is set but empty. */
	if (has_def && (!val || !*val))
		r = put(buf, len, cap, after + 2, (size_t)(close - after - 2));
	else if (val)
		r = put(buf, len, cap, val, strlen(val));
	else {
		cfg_error(c, pos, path, "environment variable %s is not set (use ${%s:-default})", name, name);
		return -EINVAL;
	}
	return r < 0 ? r : (int)(close + 1 - s);
}

int cfg_expand(cfg_ctx *c, const yaml_node_t *node, const char *path, char **out)
{
	const char *v = (const char *)node->data.scalar.value;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int r = put(&buf, &len, &cap, "", 0);
	for (const char *s = v; r >= 0 && *s;) {
		const char *d = strstr(s, "${");
		if (!d) {
			r = put(&buf, &len, &cap, s, strlen(s));
			break;
		}
		r = put(&buf, &len, &cap, s, (size_t)(d - s));
		if (r >= 0)
			r = expand_one(c, node, path, d, &buf, &len, &cap);
		if (r >= 0)
			s = d + r;
	}
	if (r < 0) {
		if (r == -ENOMEM)
			c->oom = 1;
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	for (int i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

void cfg_enum_list(const cfg_key *k, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; k->names[i] && used < n; i++)
		used += snprintf(buf + used, n - used, "%s%s", i ? ", " : "", k->names[i]);
}

static int set_number(cfg_ctx *c, const cfg_key *k, void *field, const char *text, pipe_pos pos,
                      const char *path)
{
	double d;
	long l = 0;
	char clip[CFG_CLIP_MAX + 4];
	if (k->type == CFG_INT ? cfg_parse_int(text, &l) : cfg_parse_float(text, &d)) {
		cfg_error(c, pos, path, "expected %s, got '%s'", k->type == CFG_INT ? "an integer" : "a number",
		          cfg_clip(text, clip));
		return -EINVAL;
	}
	if (k->type == CFG_INT)
		d = (double)l;
	if (d < k->min || d > k->max) {
		cfg_error(c, pos, path, "%s is out of range %.10g..%.10g", cfg_clip(text, clip), k->min, k->max);
		return -ERANGE;
	}
	if (k->type == CFG_INT)
		*(int *)field = (int)l;
	else
		*(float *)field = (float)d;
	return 0;
}

static int set_string(cfg_ctx *c, const cfg_key *k, void *field, const char *text, pipe_pos pos,
                      const char *path)
{
	char msg[256];
	if (!*text) {
		cfg_error(c, pos, path, "must not be empty");
		return -EINVAL;
	}
	if ((k->check && k->check(text, msg, sizeof(msg)) < 0) ||
	    ((k->flags & CFG_READABLE) && cfg_check_readable(text, msg, sizeof(msg)) < 0)) {
		cfg_error(c, pos, path, "%s", msg);
		return -EINVAL;
	}
	char *dup = strdup(text);
	if (!dup) {
		if (c)
			c->oom = 1;
		return -ENOMEM;
	}
	free(*(char **)field);
	*(char **)field = dup;
	return 0;
}

static int append_string(cfg_ctx *c, const cfg_key *k, void *field, const char *text, pipe_pos pos,
                         const char *path)
{
	pipe_strlist *l = field;
	char **v = realloc(l->v, (size_t)(l->n + 1) * sizeof(*v));
	if (!v) {
		if (c)
			c->oom = 1;
		return -ENOMEM;
	}
	l->v = v;
	v[l->n] = NULL;
	int r = set_string(c, k, &v[l->n], text, pos, path);
	if (r == 0)
		l->n++;
	return r;
}

/* A set of names as "a, b": how the table writes a default (a file writes a YAML list). */
static int set_flags(cfg_ctx *c, const cfg_key *k, void *field, const char *text, pipe_pos pos,
                     const char *path)
{
	unsigned mask = 0;
	char list[256];
	for (const char *p = text; *p;) {
		p += strspn(p, ", ");
		size_t len = strcspn(p, ", ");
		if (!len)
			break;
		int i = 0;
		while (k->names[i] && (strlen(k->names[i]) != len || strncmp(k->names[i], p, len) != 0))
			i++;
		if (!k->names[i]) {
			cfg_enum_list(k, list, sizeof(list));
			cfg_error(c, pos, path, "'%.*s%s' is not one of: %s", len > CFG_CLIP_MAX ? CFG_CLIP_MAX : (int)len,
			          p, len > CFG_CLIP_MAX ? "..." : "", list);
			return -EINVAL;
		}
		mask |= 1u << i;
		p += len;
	}
	if (!mask) {
		cfg_enum_list(k, list, sizeof(list));
		cfg_error(c, pos, path, "must name at least one of: %s", list);
		return -EINVAL;
	}
	*(unsigned *)field = mask;
	return 0;
}

int cfg_set_scalar(cfg_ctx *c, const cfg_key *k, void *base, const char *text, pipe_pos pos,
                   const char *path)
{
	void *field = (char *)base + k->off;
	char list[256], clip[CFG_CLIP_MAX + 4];
	switch (k->type) {
	case CFG_STR:
	case CFG_PATH:
		return set_string(c, k, field, text, pos, path);
	case CFG_INT:
	case CFG_FLOAT:
		return set_number(c, k, field, text, pos, path);
	case CFG_BOOL:
		if (parse_bool(text, (bool *)field) == 0)
			return 0;
		cfg_error(c, pos, path, "expected true or false, got '%s'", cfg_clip(text, clip));
		return -EINVAL;
	case CFG_ENUM:
		for (int i = 0; k->names[i]; i++)
			if (strcmp(k->names[i], text) == 0)
				return *(int *)field = i, 0;
		cfg_enum_list(k, list, sizeof(list));
		cfg_error(c, pos, path, "'%s' is not one of: %s", cfg_clip(text, clip), list);
		return -EINVAL;
	case CFG_FLAGS:
		return set_flags(c, k, field, text, pos, path);
	case CFG_STRLIST:
		return append_string(c, k, field, text, pos, path);
	default:
		cfg_error(c, pos, path, "expected %s, got a scalar",
		          k->type == CFG_CLASS_THRESH || k->type == CFG_MAP ? "a map" : "a list");
		return -EINVAL;
	}
}

void cfg_apply_defaults(enum cfg_base base, void *ptr)
{
	for (int i = 0; i < cfg_n_keys; i++) {
		const cfg_key *k = &cfg_keys[i];
		/* Defaults are constants of the table: a test loads them all, so they cannot fail. */
		if (k->base == base && k->def)
			(void)cfg_set_scalar(NULL, k, ptr, k->def, (pipe_pos){ 0, 0 }, k->path);
	}
}

void cfg_free_strings(enum cfg_base base, void *ptr)
{
	for (int i = 0; i < cfg_n_keys; i++) {
		const cfg_key *k = &cfg_keys[i];
		if (k->base != base)
			continue;
		char **field = (char **)((char *)ptr + k->off);
		if (k->type == CFG_STR || k->type == CFG_PATH) {
			free(*field);
			*field = NULL;
		}
		if (k->type == CFG_STRLIST)
			cfg_free_strlist((pipe_strlist *)field);
	}
}
