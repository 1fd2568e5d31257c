/* Validation beyond one key's type and range: the syntax of URIs, addresses and topics (the
 * table's per-key check functions), readable files, and rules across keys, plus the fields
 * derived from others (is_file, resolved queue policies, default sink, MQTT client id). */
#include "config_internal.h"
#include "../sinks/net_topic.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int cfg_check_readable(const char *path, char *msg, size_t n)
{
	struct stat st;
	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		snprintf(msg, n, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, n, "'%s' is not a regular file", path);
		return -1;
	}
	return 0;
}

int cfg_check_id(const char *v, char *msg, size_t n)
{
	/* Ids end up in JSON, metric labels and systemd unit instance names. */
	size_t len = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	if (v[len] || len > 64) {
		snprintf(msg, n, "'%s' must be 1 to 64 letters, digits, '_', '-' or '.'", v);
		return -1;
	}
	return 0;
}

int cfg_check_device(const char *v, char *msg, size_t n)
{
	long gpu;
	if (strcmp(v, "auto") == 0 || strcmp(v, "cpu") == 0)
		return 0;
	if (strncmp(v, "cuda:", 5) == 0 && isdigit((unsigned char)v[5]) && cfg_parse_int(v + 5, &gpu) == 0 &&
	    gpu < 64)
		return 0;
	snprintf(msg, n, "'%s' is not one of: auto, cpu, cuda:N (N = 0..63)", v);
	return -1;
}

static int parse_port(const char *s, int min)
{
	long port;
	if (!isdigit((unsigned char)*s) || cfg_parse_int(s, &port) < 0 || port < min || port > 65535)
		return -1;
	return (int)port;
}

/* "host:port", "[v6addr]:port", or with need_port == 0 also a bare host. min_port is 0 for
 * servers (the kernel picks a free port, the sink logs it), else 1. */
static int check_host_port(const char *v, int need_port, int min_port, char *msg, size_t n,
                           const char *what)
{
	const char *colon;
	size_t hlen;
	if (*v == '[') {
		const char *end = strchr(v, ']');
		hlen = end ? (size_t)(end - v - 1) : 0;
		colon = end && end[1] == ':' ? end + 1 : NULL;
		if (!end || (end[1] && !colon))
			hlen = 0;
	} else {
		colon = strrchr(v, ':');
		hlen = colon ? (size_t)(colon - v) : strlen(v);
		if (memchr(v, '/', hlen) || (colon && memchr(v, ':', hlen)))
			hlen = 0;
	}
	if (hlen == 0 || (need_port && !colon) || (colon && parse_port(colon + 1, min_port) < 0)) {
		snprintf(msg, n, "'%s' is not %s (port %d..65535)", v, what, min_port);
		return -1;
	}
	return 0;
}

int cfg_check_listen(const char *v, char *msg, size_t n)
{
	return check_host_port(v, 1, 1, msg, n, "host:port");
}

int cfg_check_uri(const char *v, char *msg, size_t n)
{
	static const char *const net[] = { "rtsp://", "rtsps://", "http://", "https://" };
	const char *sep = strstr(v, "://");
	if (!sep)
		return cfg_check_readable(v, msg, n);
	if (strncmp(v, "file://", 7) == 0)
		return cfg_check_readable(v + 7, msg, n);
	if (strncmp(v, "v4l2://", 7) == 0) {
		long idx;
		if (strncmp(v + 7, "/dev/video", 10) == 0 && isdigit((unsigned char)v[17]) &&
		    cfg_parse_int(v + 17, &idx) == 0)
			return 0;
		snprintf(msg, n, "'%s' is not v4l2:///dev/videoN", v);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (strncmp(v, net[i], strlen(net[i])) == 0) {
			if (v[strlen(net[i])] && v[strlen(net[i])] != '/')
				return 0;
			snprintf(msg, n, "'%s' has no host", v);
			return -1;
		}
	snprintf(msg, n, "unsupported scheme in '%s'; use a file path, file://, rtsp://, rtsps://, "
	                 "http://, https:// or v4l2:///dev/videoN", v);
	return -1;
}

int cfg_check_address(const char *v, char *msg, size_t n)
{
	static const char *const inet[] = { "tcp://", "tcp-listen://", "udp://" };
	static const char *const local[] = { "unix://", "unix-listen://" };
	for (int i = 0; i < 3; i++)
		if (strncmp(v, inet[i], strlen(inet[i])) == 0)
			return check_host_port(v + strlen(inet[i]), 1, i == 1 ? 0 : 1, msg, n,
			                       "a host:port");
	for (int i = 0; i < 2; i++) {
		const char *path = v + strlen(local[i]);
		if (strncmp(v, local[i], strlen(local[i])) != 0)
			continue;
		if (*path != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(msg, n, "'%s' needs an absolute socket path shorter than %zu bytes (%s/path)", v,
			         sizeof(((struct sockaddr_un *)0)->sun_path), local[i]);
			return -1;
		}
		return 0;
	}
	snprintf(msg, n, "'%s' is not tcp://host:port, tcp-listen://addr:port, udp://host:port, "
	                 "unix:///path or unix-listen:///path", v);
	return -1;
}

int cfg_check_broker(const char *v, char *msg, size_t n)
{
	if (strncmp(v, "mqtt://", 7) == 0)
		return check_host_port(v + 7, 0, 1, msg, n, "a host[:port]");
	if (strncmp(v, "mqtts://", 8) == 0)
		return check_host_port(v + 8, 0, 1, msg, n, "a host[:port]");
	snprintf(msg, n, "'%s' is not mqtt://host[:port] or mqtts://host[:port]", v);
	return -1;
}

/* The MQTT sink's own template parser, so --check and the start agree. */
int cfg_check_topic(const char *v, char *msg, size_t n)
{
	net_topic t;
	return net_topic_parse(v, &t, msg, n) < 0 ? -1 : 0;
}

static void check_reconnect(cfg_ctx *c, const char *list, int i, pipe_pos elem, int initial, int max)
{
	char norm[CFG_PATH_MAX], path[CFG_PATH_MAX];
	if (max >= initial)
		return;
	cfg_pathf(norm, "%s[].reconnect.max_ms", list);
	cfg_pathf(path, "%s[%d].reconnect.max_ms", list, i);
	cfg_error(c, cfg_pos_of(c, norm, i, elem), path, "must be >= initial_ms (%d)", initial);
}

static void check_sources(cfg_ctx *c)
{
	for (int i = 0; i < c->cfg->n_sources; i++) {
		pipe_source_cfg *s = &c->cfg->sources[i];
		for (int j = 0; s->id && j < i; j++) {
			if (!c->cfg->sources[j].id || strcmp(s->id, c->cfg->sources[j].id) != 0)
				continue;
			char path[CFG_PATH_MAX];
			cfg_pathf(path, "sources[%d].id", i);
			cfg_error(c, cfg_pos_of(c, "sources[].id", i, s->pos), path, "duplicate id '%s' (first at line %d)",
			          s->id, cfg_pos_of(c, "sources[].id", j, c->cfg->sources[j].pos).line);
			break;
		}
		if (s->uri) {
			s->is_file = !strstr(s->uri, "://") || strncmp(s->uri, "file://", 7) == 0;
			if (strncmp(s->uri, "file://", 7) == 0)
				memmove(s->uri, s->uri + 7, strlen(s->uri + 7) + 1);
		}
		if (s->queue.policy == PIPE_QP_AUTO)
			s->queue.policy = s->is_file ? PIPE_QP_BLOCK : PIPE_QP_DROP_OLDEST;
		check_reconnect(c, "sources", i, s->pos, s->reconnect_initial_ms, s->reconnect_max_ms);
	}
}

/* The sink's queue: network peers can stall, so they drop; stdout and files block. */
static void resolve_sink_queue(cfg_ctx *c, int i)
{
	pipe_sink_cfg *k = &c->cfg->sinks[i];
	int net = k->type == PIPE_SINK_SOCKET || k->type == PIPE_SINK_MQTT;
	if (k->queue.depth == 0)
		k->queue.depth = k->type == PIPE_SINK_SOCKET ? 1024 : 8;
	if (k->queue.policy == PIPE_QP_AUTO)
		k->queue.policy = net ? PIPE_QP_DROP_OLDEST : PIPE_QP_BLOCK;
	if (k->type == PIPE_SINK_FILE && k->queue.policy != PIPE_QP_BLOCK) {
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "sinks[%d].queue.policy", i);
		cfg_error(c, cfg_pos_of(c, "sinks[].queue.policy", i, k->pos), path,
		          "file sinks always block (a file must not lose lines)");
	}
}

/* What the file sink's open(path, O_WRONLY | O_CREAT) needs at start: a writable file (or a
 * device such as /dev/null), or a writable directory to create it in. Checked with the
 * effective ids, as open() does; the file itself is not created by a check. */
static int file_path_problem(const char *path, char *msg, size_t n)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			snprintf(msg, n, "'%s' is a directory", path);
		else if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0)
			snprintf(msg, n, "cannot write '%s': %s", path, strerror(errno));
		else
			return 0;
		return -1;
	}
	if (errno != ENOENT) {
		snprintf(msg, n, "cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	char dir[CFG_PATH_MAX * 4];
	const char *slash = strrchr(path, '/');
	size_t len = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof(dir))
		len = sizeof(dir) - 1;
	memcpy(dir, len ? path : ".", len ? len : 1);
	dir[len ? len : 1] = '\0';
	int err = stat(dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR
	        : faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0 ? errno : 0;
	if (err) {
		snprintf(msg, n, "cannot create '%s': directory '%s': %s", path, dir, strerror(err));
		return -1;
	}
	return 0;
}

static void check_file(cfg_ctx *c, int i)
{
	pipe_sink_cfg *k = &c->cfg->sinks[i];
	char path[CFG_PATH_MAX], msg[CFG_PATH_MAX * 8];
	if (!k->path || file_path_problem(k->path, msg, sizeof(msg)) == 0)
		return;
	cfg_pathf(path, "sinks[%d].path", i);
	cfg_error(c, cfg_pos_of(c, "sinks[].path", i, k->pos), path, "%s", msg);
}

static void check_mqtt(cfg_ctx *c, int i)
{
	pipe_sink_cfg *k = &c->cfg->sinks[i];
	char path[CFG_PATH_MAX];
	if (!k->client_id && c->cfg->name) {
		size_t len = strlen(c->cfg->name) + 6;
		if (!(k->client_id = malloc(len)))
			return (void)(c->oom = 1);
		snprintf(k->client_id, len, "vapd-%s", c->cfg->name);
	}
	if (!k->tls.cert_file != !k->tls.key_file) {
		cfg_pathf(path, "sinks[%d].tls.%s", i, k->tls.cert_file ? "cert_file" : "key_file");
		cfg_error(c, cfg_pos_of(c, k->tls.cert_file ? "sinks[].tls.cert_file" : "sinks[].tls.key_file", i,
		                        k->pos),
		          path, "needs %s too", k->tls.cert_file ? "key_file" : "cert_file");
	}
	check_reconnect(c, "sinks", i, k->pos, k->reconnect_initial_ms, k->reconnect_max_ms);
}

static void check_sinks(cfg_ctx *c, int have_sinks)
{
	if (!have_sinks && c->cfg->n_sinks == 0) {
		if (!(c->cfg->sinks = calloc(1, sizeof(*c->cfg->sinks))))
			return (void)(c->oom = 1);
		c->cfg->n_sinks = 1;
		cfg_apply_defaults(CFG_SINK, c->cfg->sinks);
		c->cfg->sinks[0].type = PIPE_SINK_STDOUT;
	}
	for (int i = 0; i < c->cfg->n_sinks; i++) {
		c->cfg->sinks[i].pipeline = c->cfg->name;   /* for {pipeline} in MQTT topics */
		resolve_sink_queue(c, i);
		if (c->cfg->sinks[i].type == PIPE_SINK_MQTT)
			check_mqtt(c, i);
		else if (c->cfg->sinks[i].type == PIPE_SINK_FILE)
			check_file(c, i);
	}
}

/* pipeline.device into the derived gpu fields. cpu keeps everything off the GPU, so a key
 * that asks for the GPU explicitly contradicts it. Whether cuda:N exists is checked when
 * the pipeline starts (loading a config needs no GPU). */
static void resolve_device(cfg_ctx *c)
{
	pipe_config *cfg = c->cfg;
	long n = 0;
	cfg->device_pos = cfg_pos_of(c, "pipeline.device", -1, (pipe_pos){ 0, 0 });
	if (cfg->device && strcmp(cfg->device, "cpu") == 0)
		cfg->gpu = -1;
	else if (cfg->device && strncmp(cfg->device, "cuda:", 5) == 0 && cfg_parse_int(cfg->device + 5, &n) == 0)
		cfg->gpu = (int)n;
	else
		cfg->gpu = 0;   /* auto, or a value already reported as invalid */
	cfg->model.gpu = cfg->gpu;
	for (int i = 0; i < cfg->n_sources; i++)
		cfg->sources[i].gpu = cfg->gpu;
	if (cfg->gpu >= 0)
		return;
	if (cfg->model.present && cfg->model.backend == PIPE_BACKEND_CUDA)
		cfg_error(c, cfg_pos_of(c, "model.backend", -1, cfg->model.pos), "model.backend",
		          "cuda contradicts pipeline.device: cpu (line %d)", cfg->device_pos.line);
	else if (cfg->model.present)
		cfg->model.backend = PIPE_BACKEND_CPU;
	for (int i = 0; i < cfg->n_sources; i++) {
		if (cfg->sources[i].decoder != PIPE_DEC_NVDEC)
			continue;
		char path[CFG_PATH_MAX];
		cfg_pathf(path, "sources[%d].decoder", i);
		cfg_error(c, cfg_pos_of(c, "sources[].decoder", i, cfg->sources[i].pos), path,
		          "nvdec contradicts pipeline.device: cpu (line %d)", cfg->device_pos.line);
	}
}

void cfg_check_all(cfg_ctx *c, int have_sinks)
{
	resolve_device(c);
	check_sources(c);
	check_sinks(c, have_sinks);
	cfg_check_classes(c);
	cfg_check_view(c);
}
