/* Rules across the keys of the HTTP server, the live view and snapshots. */
#include "config_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* The host part of a listen address reaches only this machine: a loopback address or
 * "localhost". An empty host ("":port, all interfaces) does not. */
static bool loopback_host(const char *listen)
{
	char host[256];
	const char *h = listen, *end;
	if (listen[0] == '[') {
		h = listen + 1;
		end = strchr(h, ']');
	} else {
		end = strrchr(listen, ':');
	}
	if (!end || (size_t)(end - h) >= sizeof(host))
		return false;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

static void check_listen(cfg_ctx *c)
{
	pipe_config *cfg = c->cfg;
	if (cfg->http_listen && cfg->metrics_listen) {
		pipe_pos m = cfg_pos_of(c, "metrics.listen", -1, (pipe_pos){ 0, 0 });
		cfg_error(c, cfg_pos_of(c, "http.listen", -1, m), "http.listen",
		          "give either http.listen or metrics.listen (line %d), not both", m.line);
		return;
	}
	if (cfg->http_listen) {
		cfg->metrics_listen = cfg->http_listen;
		cfg->http_listen = NULL;
	}
	if (!cfg->metrics_listen || loopback_host(cfg->metrics_listen) || cfg->http.token_file ||
	    cfg->http.password_file || cfg->http.allow_unauthenticated)
		return;
	pipe_pos pos = cfg_pos_of(c, "http.listen", -1, cfg_pos_of(c, "metrics.listen", -1, (pipe_pos){ 0, 0 }));
	cfg_error(c, pos, "http.listen",
	          "'%s' is reachable from other hosts: set http.token_file or http.password_file "
	          "(or http.allow_unauthenticated: true to serve the live view and snapshots to anyone)",
	          cfg->metrics_listen);
}

static void check_snapshots(cfg_ctx *c)
{
	pipe_config *cfg = c->cfg;
	if (!cfg->snapshots.present || cfg->tracker.present)
		return;
	cfg_error(c, cfg->snapshots.pos, "snapshots", "needs tracker: (snapshots are taken on its events)");
}

void cfg_check_view(cfg_ctx *c)
{
	check_listen(c);
	check_snapshots(c);
}
