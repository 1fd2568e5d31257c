/* Classes written by name or id (model.classes, model.class_thresholds, the zones' and lines'
 * classes) checked against model.labels, so that --check refuses what the detector refuses
 * when it resolves them at start (infer/detector.c): a name must be in the labels file, and
 * names need one. An id must be below the number of labels; that it is also below the
 * model's class count is only known once the model is loaded. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct labels {
	char **names;
	int n;
	int missing;                 /* no model.labels: every name is an error */
} labels;

/* Read as the detector reads them: one name a line (lines up to 511 bytes), trailing empty
 * lines dropped. -1 when the file cannot be read (already reported by model.labels). */
static int labels_read(cfg_ctx *c, const char *path, labels *l)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	int cap = 0;
	while (!c->oom && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (l->n == cap) {
			cap = cap ? cap * 2 : 128;
			char **grown = realloc(l->names, (size_t)cap * sizeof(*grown));
			if (!grown) {
				c->oom = 1;
				break;
			}
			l->names = grown;
		}
		if (!(l->names[l->n] = strdup(line)))
			c->oom = 1;
		else
			l->n++;
	}
	fclose(f);
	while (l->n > 0 && l->names[l->n - 1][0] == '\0')
		free(l->names[--l->n]);
	return 0;
}

static void labels_free(labels *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static int labels_has(const labels *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return 1;
	return 0;
}

/* path: the key of the list ("model.classes"); by_key: class_thresholds, whose items are
 * map keys ("model.class_thresholds.person") rather than list items ("model.classes[1]"). */
static void check_refs(cfg_ctx *c, const labels *l, const pipe_class_ref *refs, int n,
                       const char *path, int by_key)
{
	char item[CFG_PATH_MAX];
	for (int i = 0; i < n; i++) {
		const pipe_class_ref *r = &refs[i];
		if (!r->name && r->id < 0)
			continue;   /* not a class name or id: reported where it was read */
		if (r->name ? !l->missing && labels_has(l, r->name) : l->missing || r->id < l->n)
			continue;
		if (!by_key)
			cfg_pathf(item, "%s[%d]", path, i);
		else if (r->name)
			cfg_pathf(item, "%s.%s", path, r->name);
		else
			cfg_pathf(item, "%s.%d", path, r->id);
		if (r->name)
			cfg_error(c, r->pos, item, "unknown class '%s'%s", r->name,
			          l->missing ? " (names need model.labels)" : " (not in the labels file)");
		else
			cfg_error(c, r->pos, item, "class id %d is not in the labels file (%d names)", r->id,
			          l->n);
	}
}

static void check_source(cfg_ctx *c, const labels *l, int s)
{
	const pipe_source_cfg *src = &c->cfg->sources[s];
	char path[CFG_PATH_MAX];
	for (int i = 0; i < src->n_zones; i++) {
		cfg_pathf(path, "sources[%d].zones[%d].classes", s, i);
		check_refs(c, l, src->zones[i].classes, src->zones[i].n_classes, path, 0);
	}
	for (int i = 0; i < src->n_lines; i++) {
		cfg_pathf(path, "sources[%d].lines[%d].classes", s, i);
		check_refs(c, l, src->lines[i].classes, src->lines[i].n_classes, path, 0);
	}
}

void cfg_check_classes(cfg_ctx *c)
{
	const pipe_model_cfg *m = &c->cfg->model;
	labels l = { .missing = !m->labels };
	if (!m->present || (m->labels && labels_read(c, m->labels, &l) < 0))
		return;
	check_refs(c, &l, m->classes, m->n_classes, "model.classes", 0);
	check_refs(c, &l, m->class_thresholds, m->n_class_thresholds, "model.class_thresholds", 1);
	/* Zone and line classes are resolved only for tracked pipelines (without a tracker
	 * zones and lines are refused anyway). */
	for (int s = 0; c->cfg->tracker.present && s < c->cfg->n_sources; s++)
		check_source(c, &l, s);
	labels_free(&l);
}
