/* The fleet: section's checks. With fleet: the sources list may be empty (the fleet gives the
 * node its cameras); without it at least one source is needed, as before. */
#include "config_internal.h"

#include <string.h>
#include <unistd.h>

int cfg_check_etcd(const char *v, char *msg, size_t n)
{
	/* Only the plain-HTTP gateway: the agent speaks JSON to it with libcurl, no TLS setup yet. */
	if (strncmp(v, "http://", 7) != 0 || !v[7] || strchr(v + 7, '/')) {
		snprintf(msg, n, "'%s' must be http://host:port (an etcd client URL, no path)", v);
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

void cfg_check_fleet(cfg_ctx *c)
{
	check_sources_present(c);
	pipe_fleet_cfg *f = &c->cfg->fleet;
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
