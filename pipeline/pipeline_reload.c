/* SIGHUP reload: sources whose id is new start, those gone or changed stop and drain,
 * the others are not touched. */
#include <string.h>

#include "pipeline_priv.h"
#include "vp_log.h"

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool classes_same(const pipe_class_ref *a, int na, const pipe_class_ref *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (!str_eq(a[i].name, b[i].name) || (!a[i].name && a[i].id != b[i].id))
			return false;
	return true;
}

/* Zones and lines: a source whose geometry changed restarts (its counts start over). */
static bool analytics_same(const pipe_source_cfg *a, const pipe_source_cfg *b)
{
	if (a->n_zones != b->n_zones || a->n_lines != b->n_lines)
		return false;
	for (int i = 0; i < a->n_zones; i++) {
		const pipe_zone_cfg *x = &a->zones[i], *y = &b->zones[i];
		if (!str_eq(x->name, y->name) || x->n_points != y->n_points ||
		    memcmp(x->points, y->points, (size_t)x->n_points * sizeof(*x->points)) != 0 ||
		    !classes_same(x->classes, x->n_classes, y->classes, y->n_classes))
			return false;
	}
	for (int i = 0; i < a->n_lines; i++) {
		const pipe_line_cfg *x = &a->lines[i], *y = &b->lines[i];
		if (!str_eq(x->name, y->name) || memcmp(x->points, y->points, sizeof(x->points)) != 0 ||
		    !classes_same(x->classes, x->n_classes, y->classes, y->n_classes))
			return false;
	}
	return true;
}

static bool source_same(const pipe_source_cfg *a, const pipe_source_cfg *b)
{
	if (!analytics_same(a, b))
		return false;
	return str_eq(a->uri, b->uri) && a->decoder == b->decoder && a->realtime == b->realtime &&
	       a->loop == b->loop && a->interval == b->interval &&
	       a->queue.depth == b->queue.depth && a->queue.policy == b->queue.policy &&
	       a->reconnect_initial_ms == b->reconnect_initial_ms &&
	       a->reconnect_max_ms == b->reconnect_max_ms &&
	       a->rtsp_transport == b->rtsp_transport && a->rtsp_timeout_ms == b->rtsp_timeout_ms &&
	       a->epoch == b->epoch;
}

static const pipe_source_cfg *find_source(const pipe_config *cfg, const char *id)
{
	for (int i = 0; i < cfg->n_sources; i++)
		if (strcmp(cfg->sources[i].id, id) == 0)
			return &cfg->sources[i];
	return NULL;
}

/* Parts that only a restart changes: compared with the config the pipeline started from
 * (what runs), so a second reload does not take an ignored change for the running one. */
static int warn_restart_only(const pipe_config *old, const pipe_config *new)
{
	int parts = 0;
	const pipe_model_cfg *a = &old->model, *b = &new->model;
	if (a->present != b->present || (a->present && (!str_eq(a->path, b->path) ||
	    a->family != b->family || a->threshold != b->threshold || a->batch_max_size != b->batch_max_size))) {
		vp_warn("reload", NULL, "model changes need a restart: not applied");
		parts |= PIPE_RELOAD_MODEL;
	}
	const pipe_tracker_cfg *t = &old->tracker, *u = &new->tracker;
	if (t->present != u->present || (t->present && (t->high_threshold != u->high_threshold ||
	    t->low_threshold != u->low_threshold || t->new_track_threshold != u->new_track_threshold ||
	    t->match_threshold != u->match_threshold || t->lost_frames != u->lost_frames ||
	    t->per_class != u->per_class))) {
		vp_warn("reload", NULL, "tracker changes need a restart: not applied");
		parts |= PIPE_RELOAD_TRACKER;
	}
	bool sinks_same = old->n_sinks == new->n_sinks;
	for (int i = 0; sinks_same && i < old->n_sinks; i++)
		sinks_same = old->sinks[i].type == new->sinks[i].type &&
		             str_eq(old->sinks[i].path, new->sinks[i].path) &&
		             str_eq(old->sinks[i].address, new->sinks[i].address) &&
		             str_eq(old->sinks[i].broker, new->sinks[i].broker);
	if (!sinks_same) {
		vp_warn("reload", NULL, "sink changes need a restart: not applied");
		parts |= PIPE_RELOAD_SINKS;
	}
	return parts;
}

static int free_slot(pipe_pipeline *p)
{
	for (int i = 0; i < p->cap; i++) {
		pipe_stream *s = &p->streams[i];
		if (i >= p->n || (!s->in_use && atomic_load(&s->ended)))
			return i;
	}
	return -1;
}

int pipe_pipeline_reload(pipe_pipeline *p, const pipe_config *newcfg, int *ret_not_applied)
{
	int changes = 0;
	*ret_not_applied = warn_restart_only(p->start_cfg, newcfg);
	for (int i = 0; i < p->n; i++) {
		pipe_stream *s = &p->streams[i];
		if (!s->in_use)
			continue;
		const pipe_source_cfg *n = find_source(newcfg, s->cfg->id);
		/* Untouched streams keep reading their old config: the main thread keeps every
		 * config alive until the pipeline is freed. */
		if (n && source_same(s->cfg, n))
			continue;
		vp_info("reload", s->cfg->id, n ? "settings changed: restarting" : "removed: stopping");
		s->in_use = false;
		if (s->dec)
			dec_stream_interrupt(s->dec);
		changes++;
	}
	for (int k = 0; k < newcfg->n_sources; k++) {
		const pipe_source_cfg *c = &newcfg->sources[k];
		bool running = false;
		for (int i = 0; i < p->n && !running; i++)
			running = p->streams[i].in_use && strcmp(p->streams[i].cfg->id, c->id) == 0;
		if (running)
			continue;
		int slot = free_slot(p);
		if (slot < 0) {
			vp_err("reload", c->id, "no free stream slot (%d in use or draining)", p->cap);
			continue;
		}
		vp_info("reload", c->id, "added: starting %s", c->uri);
		if (pipe_stream_start(p, slot, c, true) < 0)
			continue;
		changes++;
	}
	p->cfg = newcfg;
	return changes;
}

int pipe_pipeline_source_active(pipe_pipeline *p, const char *id)
{
	/* A slot keeps its last source's config after it ended, so "ended" is what tells. */
	for (int i = 0; i < p->n; i++) {
		const pipe_stream *s = &p->streams[i];
		if (s->cfg && strcmp(s->cfg->id, id) == 0 && !atomic_load(&s->ended))
			return 1;
	}
	return 0;
}

/* A fleet node marks a file item done, or checkpoints it, only once the sinks settled what
 * it published: it takes these marks after the item's frames were counted, then waits for
 * pipe_pipeline_sinks_reached. Counts, not message ids: each sink settles its queue in
 * order, so once as many have settled as had been accepted, those have. */
int pipe_pipeline_sink_marks(pipe_pipeline *p, int64_t *marks, int cap)
{
	int n = p->sinks ? sink_set_count(p->sinks) : 0;
	for (int i = 0; i < n && i < cap; i++) {
		sink_counters c;
		sink_set_counters(p->sinks, i, NULL, &c);
		marks[i] = c.accepted;
	}
	return n;
}

int pipe_pipeline_sinks_reached(pipe_pipeline *p, const int64_t *marks, int n)
{
	for (int i = 0; p->sinks && i < n && i < sink_set_count(p->sinks); i++) {
		sink_counters c;
		sink_set_counters(p->sinks, i, NULL, &c);
		if (c.sent + c.dropped + c.failed < marks[i])
			return 0;
	}
	return 1;
}
