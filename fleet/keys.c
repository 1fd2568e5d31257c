/* Key names and camera texts: the small string helpers the agent and the CLI share. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_log.h"
#include "fleet_priv.h"

char *fl_key(const char *prefix, const char *kind, const char *id)
{
	char *k = NULL;
	if (!*kind && !id)
		return asprintf(&k, "%s/", prefix) < 0 ? NULL : k;
	if (asprintf(&k, "%s/%s/%s", prefix, kind, id ? id : "") < 0)
		return NULL;
	return k;
}

const char *fl_key_id(const char *key, const char *prefix, const char *kind)
{
	size_t p = strlen(prefix), k = strlen(kind);
	if (strncmp(key, prefix, p) != 0 || key[p] != '/' || strncmp(key + p + 1, kind, k) != 0 ||
	    key[p + 1 + k] != '/' || !key[p + 2 + k] || strchr(key + p + 2 + k, '/'))
		return NULL;
	return key + p + 2 + k;
}

char *fl_list_item(const char *value)
{
	size_t lines = 1;
	for (const char *s = value; *s; s++)
		lines += *s == '\n';
	char *out = malloc(strlen(value) + 2 * lines + 4);
	if (!out)
		return NULL;
	char *o = out;
	*o++ = '-';
	*o++ = ' ';
	/* Every following line moves two columns right, under the first key. */
	for (const char *s = value; *s; s++) {
		*o++ = *s;
		if (*s == '\n' && s[1]) {
			*o++ = ' ';
			*o++ = ' ';
		}
	}
	if (o[-1] != '\n')
		*o++ = '\n';
	*o = '\0';
	return out;
}

int fl_camera_valid(const char *path, const char *id, const char *value, bool *ret_work)
{
	char *item = fl_list_item(value);
	char *msgs = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msgs, &len);
	pipe_config *cfg = NULL;
	int ok = 0;
	if (item && err && pipe_config_load_extra(path, id, item, err, &cfg) == 0)
		ok = cfg->n_sources > 0 && strcmp(cfg->sources[cfg->n_sources - 1].id, id) == 0;
	if (ok)
		*ret_work = cfg->sources[cfg->n_sources - 1].is_file && !cfg->sources[cfg->n_sources - 1].loop;
	if (err)
		fclose(err);
	if (!ok && msgs && *msgs)
		vp_warn("fleet", id, "camera not run: %s", msgs);
	else if (!ok && cfg)
		vp_warn("fleet", id, "camera not run: its id is %s", cfg->sources[cfg->n_sources - 1].id);
	pipe_config_free(&cfg);
	free(msgs);
	free(item);
	return ok;
}

char *fl_done_value(const char *node, int64_t epoch, int64_t frames, int64_t errors, int64_t resumed)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "node", node, "epoch", (json_int_t)epoch, "frames",
	                      (json_int_t)frames, "errors", (json_int_t)errors, "resumed_at", (json_int_t)resumed);
	char *v = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return v;
}

char *fl_progress_value(const char *node, int64_t epoch, int64_t frame)
{
	json_t *j = json_pack("{s:I, s:s, s:I}", "frame", (json_int_t)frame, "node", node, "epoch",
	                      (json_int_t)epoch);
	char *v = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return v;
}

int64_t fl_progress_frame(const char *value)
{
	json_t *j = json_loads(value, 0, NULL);
	json_int_t f = json_integer_value(json_object_get(j, "frame"));
	json_decref(j);
	return f > 0 ? f : 0;
}
