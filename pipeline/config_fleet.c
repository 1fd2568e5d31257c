/* The fleet: section's checks. With fleet: the sources list may be empty (the fleet gives the
 * node its cameras); without it at least one source is needed, as before. */
#include "config_internal.h"

#include <string.h>
#include <unistd.h>

int cfg_check_etcd(const char *v, char *msg, size_t n)
{
	/* The agent speaks JSON to the gateway with libcurl; paths are its own. */
	size_t skip = strncmp(v, "http://", 7) == 0 ? 7 : strncmp(v, "https://", 8) == 0 ? 8 : 0;
	if (!skip || !v[skip] || strchr(v + skip, '/')) {
		snprintf(msg, n, "'%s' must be http://host:port or https://host:port (an etcd client URL, "
		         "no path)", v);
		return -1;
	}
	return 0;
}

int cfg_check_prefix(const char *v, char *msg, size_t n)
{
	size_t len = strlen(v);
	/* Keys are built as prefix + "/nodes/" + id: a trailing '/' would double it. */
	if (v[0] != '/' || len < 2 || v[len - 1] == '/' || len > 128 || strspn(v, "/abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len) {
		snprintf(msg, n, "'%s' must start with '/', not end with one, and hold only letters, "
		         "digits, '_', '-', '.' and '/' (at most 128)", v);
		return -1;
	}
	return 0;
}

static void check_sources_present(cfg_ctx *c)
{
	pipe_config *cfg = c->cfg;
	if (cfg->fleet.present || cfg->n_sources > 0)
		return;
	pipe_pos written = cfg_pos_of(c, "sources", -1, (pipe_pos){ 0, 0 });
	if (written.line > 0) {
		const cfg_key *k = cfg_find_key("sources");
		cfg_error(c, written, "sources", "must have %.0f to %.0f entries, got 0", k->min, k->max);
		return;
	}
	yaml_node_t *root = c->doc ? yaml_document_get_root_node(c->doc) : NULL;
	/* An empty file was reported by the walk already. */
	if (root && root->type == YAML_MAPPING_NODE)
		cfg_error(c, cfg_mark_pos(root->start_mark), "sources", "missing required key");
}

/* A key that needs another (cert_file and key_file, username and password_file). */
static void check_pair(cfg_ctx *c, const char *a, const void *va, const char *b, const void *vb)
{
	if (!va == !vb)
		return;
	const char *has = va ? a : b, *lacks = va ? b : a;
	char path[64];
	snprintf(path, sizeof(path), "fleet.%s", has);
	cfg_error(c, cfg_pos_of(c, path, -1, c->cfg->fleet.pos), path, "needs fleet.%s too", lacks);
}

/* tls: only where a member is reached over https (over http it would be ignored, silently
 * sending the credentials in clear). */
static void check_tls(cfg_ctx *c)
{
	const pipe_fleet_cfg *f = &c->cfg->fleet;
	const pipe_tls_cfg *t = &f->tls;
	check_pair(c, "tls.cert_file", t->cert_file, "tls.key_file", t->key_file);
	check_pair(c, "username", f->username, "password_file", f->password_file);
	if (!t->ca_file && !t->cert_file && !t->key_file)
		return;
	for (int i = 0; i < f->etcd.n; i++) {
		if (strncmp(f->etcd.v[i], "https://", 8) == 0)
			continue;
		const char *key = t->ca_file ? "fleet.tls.ca_file" : t->cert_file ? "fleet.tls.cert_file" :
		                  "fleet.tls.key_file";
		cfg_error(c, cfg_pos_of(c, key, -1, f->pos), key, "given, but the etcd member '%s' is not "
		          "https://", f->etcd.v[i]);
		return;
	}
}

void cfg_check_fleet(cfg_ctx *c)
{
	check_sources_present(c);
	pipe_fleet_cfg *f = &c->cfg->fleet;
	if (f->present)
		check_tls(c);
	if (!f->present || f->node_id)
		return;
	char host[256] = "";
	char msg[256];
	if (gethostname(host, sizeof(host) - 1) < 0 || cfg_check_id(host, msg, sizeof(msg)) < 0) {
		cfg_error(c, f->pos, "fleet.node_id", "missing, and the host name '%s' is not a usable id",
		          host);
		return;
	}
	if (!(f->node_id = strdup(host)))
		c->oom = 1;
}
