/* The node on the daemon's side: start and stop of the agent and watch threads, and the
 * main-thread half that turns the owned cameras into a config for pipe_pipeline_reload. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_secret.h"
#include "fleet_priv.h"

static int add_metrics(fleet_node *n, pipe_metrics *m)
{
	static const double renew_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
	pipe_label l = { "node", n->node_id };
	fl_metrics *f = &n->m;
	int rc = 0;
	if (!m)
		return 0;
	if ((rc = pipe_metrics_gauge(m, "vapd_fleet_owned_cameras", "Cameras this node holds a claim on",
	                             &l, 1, &f->owned)) < 0 ||
	    (rc = pipe_metrics_gauge(m, "vapd_fleet_capacity", "Most cameras this node runs (fleet.capacity)",
	                             &l, 1, &f->capacity)) < 0 ||
	    (rc = pipe_metrics_gauge(m, "vapd_fleet_nodes", "Live nodes in the fleet, as last read", &l, 1,
	                             &f->nodes)) < 0 ||
	    (rc = pipe_metrics_gauge(m, "vapd_fleet_cameras", "Valid cameras in the fleet, as last read",
	                             &l, 1, &f->cameras)) < 0 ||
	    (rc = pipe_metrics_counter(m, "vapd_fleet_claims_total", "Claims this node created", &l, 1,
	                               &f->claims)) < 0 ||
	    (rc = pipe_metrics_counter(m, "vapd_fleet_releases_total",
	                               "Cameras this node handed over (stopped, then claim deleted)", &l, 1,
	                               &f->releases)) < 0 ||
	    (rc = pipe_metrics_counter(m, "vapd_fleet_drops_total",
	                               "Cameras stopped because their claim was lost or taken", &l, 1,
	                               &f->drops)) < 0 ||
	    (rc = pipe_metrics_counter(m, "vapd_fleet_fencing_stops_total",
	                               "Times every camera was stopped because the lease could not be renewed",
	                               &l, 1, &f->fencing)) < 0 ||
	    (rc = pipe_metrics_counter(m, "vapd_fleet_lease_lost_total", "Leases found expired", &l, 1,
	                               &f->lease_lost)) < 0 ||
	    (rc = pipe_metrics_counter(m, "vapd_fleet_etcd_requests_total",
	                               "Requests the agent sent to etcd (the watch stream not counted)", &l, 1,
	                               &f->requests)) < 0 ||
	    (rc = pipe_metrics_histogram(m, "vapd_fleet_lease_renew_seconds", "Lease keep-alive round trips",
	                                 &l, 1, renew_bounds, 11, &f->renew)) < 0 ||
	    (rc = pipe_metrics_gauge(m, "vapd_fleet_coordinator_connected",
	                             "1 while the last lease renewal succeeded", &l, 1, &f->connected)) < 0)
		return rc;
	pipe_gauge_set(f->capacity, n->capacity);
	return 0;
}

static int copy_settings(fleet_node *n, const pipe_config *cfg, const char *path)
{
	const pipe_fleet_cfg *f = &cfg->fleet;
	n->capacity = f->capacity;
	n->ttl_s = f->lease_ttl_s;
	n->keep_on_loss = f->on_coordinator_loss == PIPE_COORD_KEEP;
	if (!(n->path = strdup(path)) || !(n->node_id = strdup(f->node_id)) || !(n->prefix = strdup(f->prefix)) ||
	    (cfg->metrics_listen && !(n->address = strdup(cfg->metrics_listen))) ||
	    !(n->urls = calloc((size_t)f->etcd.n, sizeof(char *))))
		return -ENOMEM;
	for (; n->n_urls < f->etcd.n; n->n_urls++)
		if (!(n->urls[n->n_urls] = strdup(f->etcd.v[n->n_urls])))
			return -ENOMEM;
	return 0;
}

/* The agent's and the watch thread's etcd handles. Requests are bounded by a sixth of the
 * TTL: a hung one must not delay the renewal after it past the fencing limit. The password
 * is read here, once; the handles keep it to ask etcd for a new token. */
static int open_etcd(fleet_node *n, const pipe_fleet_cfg *f)
{
	char password[256] = "";
	etcd_opts o = { .timeout_ms = n->ttl_s * 1000 / 6, .ca_file = f->tls.ca_file,
	                .cert_file = f->tls.cert_file, .key_file = f->tls.key_file, .user = f->username,
	                .password = f->username ? password : NULL };
	int rc = f->password_file ? vp_read_secret(f->password_file, password, sizeof(password)) : 0;
	if (rc < 0) {
		vp_err("fleet", f->node_id, "cannot start: fleet.password_file %s: %s", f->password_file,
		       rc == VP_ECONFIG ? "the first line is empty (or longer than 254 bytes)" : vp_strerror(rc));
		return VP_ECONFIG;
	}
	rc = etcd_new((const char *const *)n->urls, n->n_urls, &o, &n->api);
	if (rc == 0)
		rc = etcd_new((const char *const *)n->urls, n->n_urls, &o, &n->watch_api);
	memset(password, 0, sizeof(password));
	return rc;
}

int fleet_node_new(const pipe_config *cfg, const char *config_path, pipe_metrics *metrics,
                   fleet_node **ret)
{
	if (!cfg->fleet.present || !config_path)
		return -EINVAL;
	fleet_node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->wake, &ca);
	pthread_condattr_destroy(&ca);
	int rc = copy_settings(n, cfg, config_path);
	/* libcurl's global set-up is not thread-safe: done here, before any thread. */
	if (rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = open_etcd(n, &cfg->fleet);
	if (rc == 0)
		rc = add_metrics(n, metrics);
	if (rc < 0) {
		if (rc != VP_ECONFIG)
			vp_err("fleet", cfg->fleet.node_id, "cannot start: %s", vp_strerror(rc));
		fleet_node_free(&n);
		return rc;
	}
	*ret = n;
	return 0;
}

int fleet_node_run(fleet_node *n)
{
	int rc = -pthread_create(&n->agent, NULL, fl_agent_main, n);
	if (rc == 0) {
		n->agent_started = true;
		rc = -pthread_create(&n->watcher, NULL, fl_watch_main, n);
		n->watcher_started = rc == 0;
	}
	if (rc < 0) {
		vp_err("fleet", n->node_id, "cannot start its threads: %s", vp_strerror(rc));
		return rc;
	}
	vp_info("fleet", n->node_id, "fleet mode: etcd %s, prefix %s, capacity %d, lease %d s", n->urls[0],
	        n->prefix, n->capacity, n->ttl_s);
	return 0;
}

int fleet_node_api(void *node, const char *path, FILE *f)
{
	fleet_node *n = node;
	if (strcmp(path, "fleet") != 0)
		return -ENOENT;
	json_t *cams = json_array();
	pthread_mutex_lock(&n->lock);
	for (int i = 0; cams && i < n->n_cams; i++) {
		const fl_cam *c = &n->cams[i];
		json_array_append_new(cams, json_pack("{s:s, s:I, s:s}", "id", c->id, "epoch", (json_int_t)c->epoch,
		                                      "state", c->run ? "running" : c->release ? "releasing" : "stopping"));
	}
	json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:b, s:b, s:b, s:i, s:i, s:o}", "node", n->node_id,
	                      "prefix", n->prefix, "capacity", n->capacity, "lease_ttl_s", n->ttl_s,
	                      "joined", n->lease != 0, "connected", n->connected, "fenced", n->fenced,
	                      "nodes", n->n_nodes, "cameras", n->n_cameras, "owned", cams);
	pthread_mutex_unlock(&n->lock);
	int rc = j && json_dumpf(j, f, JSON_COMPACT) == 0 ? 0 : -ENOMEM;
	json_decref(j);
	return rc;
}

/* The cameras to run as a YAML list, with their epochs beside (same order). Caller holds the lock. */
static char *running_list(fleet_node *n, int64_t **ret_epochs, char ***ret_ids, int *ret_n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int64_t *epochs = calloc((size_t)n->n_cams + 1, sizeof(*epochs));
	char **ids = calloc((size_t)n->n_cams + 1, sizeof(*ids));
	int k = 0, ok = out && epochs && ids;
	for (int i = 0; ok && i < n->n_cams; i++) {
		if (!n->cams[i].run)
			continue;
		char *item = fl_list_item(n->cams[i].value);
		ok = item && fputs(item, out) >= 0 && (ids[k] = strdup(n->cams[i].id));
		epochs[k++] = n->cams[i].epoch;
		free(item);
	}
	if (out)
		fclose(out);
	if (!ok) {
		for (int i = 0; ids && i < k; i++)
			free(ids[i]);
		free(ids);
		free(epochs);
		free(text);
		return NULL;
	}
	*ret_epochs = epochs;
	*ret_ids = ids;
	*ret_n = k;
	return text;
}

static int keep_config(fleet_node *n, pipe_config *cfg)
{
	pipe_config **v = realloc(n->cfgs, (size_t)(n->n_cfgs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	n->cfgs = v;
	n->cfgs[n->n_cfgs++] = cfg;
	return 0;
}

/* Loads the node's file with the cameras of text and applies it. */
static void apply(fleet_node *n, pipe_pipeline *p, const char *text, const int64_t *epochs, char **ids, int k)
{
	char *msgs = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msgs, &len);
	pipe_config *cfg = NULL;
	int rc = err ? pipe_config_load_extra(n->path, "fleet cameras", text, err, &cfg) : -ENOMEM;
	if (err)
		fclose(err);
	if (rc < 0) {
		vp_err("fleet", n->node_id, "cameras not applied: %s", msgs ? msgs : vp_strerror(rc));
		free(msgs);
		return;
	}
	free(msgs);
	/* The epoch is not a key: it comes with the claim, not from the text. */
	for (int s = 0; s < cfg->n_sources; s++)
		for (int i = 0; i < k; i++)
			if (strcmp(cfg->sources[s].id, ids[i]) == 0)
				cfg->sources[s].epoch = epochs[i];
	/* File items are marked done when their stream ends; other cameras never end on their own. */
	pthread_mutex_lock(&n->lock);
	for (int s = 0; s < cfg->n_sources; s++)
		for (int i = 0; i < n->n_cams; i++)
			if (n->cams[i].run && strcmp(cfg->sources[s].id, n->cams[i].id) == 0) {
				n->cams[i].work = cfg->sources[s].is_file && !cfg->sources[s].loop;
				cfg->sources[s].start_frame = n->cams[i].work ? n->cams[i].start : 0;
			}
	pthread_mutex_unlock(&n->lock);
	if (keep_config(n, cfg) < 0) {
		pipe_config_free(&cfg);
		return;
	}
	int not_applied = 0;
	int changes = pipe_pipeline_reload(p, cfg, &not_applied);
	vp_info("fleet", n->node_id, "%d camera(s) to run: %d started or stopped", k, changes);
}

/* File items still wanted whose stream ended: the agent marks them done. Caller holds the
 * lock. Returns whether one ended now. */
static bool note_ended(fleet_node *n, pipe_pipeline *p)
{
	bool any = false;
	/* Leaving, every stream is stopped before its end: none is done. */
	for (int i = 0; i < n->n_cams && !n->leaving; i++) {
		fl_cam *c = &n->cams[i];
		if (!c->run || !c->work || c->ended)
			continue;
		/* A slot keeps its source's counts after it ended; the last slot is the newest. */
		for (int k = pipe_pipeline_n_streams(p) - 1; k >= 0; k--) {
			pipe_stream_stats st;
			pipe_pipeline_stream_stats(p, k, &st);
			if (strcmp(st.id, c->id) != 0)
				continue;
			c->frames = st.processed;
			c->errors = st.errors;
			break;
		}
		bool active = pipe_pipeline_source_active(p, c->id);
		/* Not seen running yet: its start (in this tick's reload) has not been applied. */
		if (active)
			c->seen = true;
		else if (c->seen)
			c->ended = any = true;
	}
	return any;
}

void fleet_node_tick(fleet_node *n, pipe_pipeline *p)
{
	int64_t *epochs = NULL;
	char **ids = NULL, *text = NULL;
	int k = 0;
	pthread_mutex_lock(&n->lock);
	uint64_t version = n->version;
	bool changed = (version != n->applied || n->reload_asked) && !n->leaving;
	if (changed)
		text = running_list(n, &epochs, &ids, &k);
	pthread_mutex_unlock(&n->lock);
	if (changed && text) {
		apply(n, p, text, epochs, ids, k);
		n->applied = version;
		n->reload_asked = false;
	}
	for (int i = 0; i < k; i++)
		free(ids[i]);
	free(ids);
	free(epochs);
	free(text);
	/* Streams stopped by a version already applied: ended ones may lose their claim. */
	pthread_mutex_lock(&n->lock);
	bool any = note_ended(n, p);
	any |= fl_settle_tick(n, p);
	for (int i = 0; i < n->n_cams; i++) {
		fl_cam *c = &n->cams[i];
		if (c->run || c->stopped || c->off_version > n->applied)
			continue;
		if (!pipe_pipeline_source_active(p, c->id))
			c->stopped = any = true;
	}
	if (any)
		pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
}

void fleet_node_leave(fleet_node *n)
{
	pthread_mutex_lock(&n->lock);
	n->leaving = true;
	pthread_mutex_unlock(&n->lock);
	vp_info("fleet", n->node_id, "leaving: stopping every camera; the claims go with the lease");
}

void fleet_node_reload(fleet_node *n)
{
	n->reload_asked = true;
}

void fleet_node_free(fleet_node **pn)
{
	fleet_node *n = *pn;
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	atomic_store(&n->stop, 1);
	pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
	if (n->agent_started)
		pthread_join(n->agent, NULL);
	if (n->watcher_started)
		pthread_join(n->watcher, NULL);
	/* The streams have ended (the pipeline is freed first): revoking the lease deletes the
	 * node and its claims in one step, and the next owners start at once. */
	if (n->lease && n->api) {
		int rc = etcd_lease_revoke(n->api, n->lease);
		if (rc < 0)
			vp_warn("fleet", n->node_id, "cannot revoke the lease (%s): its cameras move when it "
			        "expires", vp_strerror(rc));
		else
			vp_info("fleet", n->node_id, "left the fleet");
	}
	etcd_free(&n->api);
	etcd_free(&n->watch_api);
	for (int i = 0; i < n->n_cams; i++) {
		free(n->cams[i].id);
		free(n->cams[i].value);
	}
	free(n->cams);
	free(n->marks);
	for (int i = 0; i < n->n_valid; i++)
		free(n->valid[i].id);
	free(n->valid);
	for (int i = 0; i < n->n_cfgs; i++)
		pipe_config_free(&n->cfgs[i]);
	free(n->cfgs);
	for (int i = 0; i < n->n_urls; i++)
		free(n->urls[i]);
	free(n->urls);
	free(n->path);
	free(n->node_id);
	free(n->prefix);
	free(n->address);
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n);
	*pn = NULL;
}
