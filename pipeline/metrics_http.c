/* The HTTP server: libmicrohttpd, a thread per connection, on a socket bound here so that bind
 * errors (address in use, no such address) reach the log with their errno. It serves /metrics,
 * /healthz and /readyz itself and every other path through one plug-in (the live view).
 *
 * A thread per connection because the live view's MJPEG responses are long-lived: their reader
 * waits for the next picture, which in a single-threaded server would hold up every other
 * client. (Suspend/resume would need a thread to resume them anyway, and suspended connections
 * neither time out nor see their client leave.)
 *
 * A supervisor's health check must get through idle or slow clients. libmicrohttpd's timeout
 * only measures inactivity (a client sending a byte a second keeps its connection for ever) and
 * its per-address limit refuses newcomers. So slots are kept here: a connection waiting for a
 * request head longer than HTTP_HEAD_S, or the oldest one waiting when its address (or the whole
 * server) is at its limit, is shut down to make room for the newcomer; both are checked as a
 * client connects, the only time a slot is wanted. A connection being answered is never cut.
 * Long-lived streams have slots of their own (max_streams), so they never take a request's.
 * Callbacks run on the listening thread and on the connections' threads: the table is under
 * a lock, and an entry's descriptor stays open until its CLOSED notice. */
#include "metrics.h"
#include "vp_err.h"
#include "vp_log.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	HTTP_MAX_CONN = 128, /* connections in all (with a thread each): 100 independent viewers at once,
	                      * on a starved machine, whose threads have not yet read their heads */
	HTTP_PER_ADDR = 16,  /* one client address's share: the rest stays for others */
	HTTP_HEAD_S = 3,     /* a request head must arrive within this after connect or a reply */
	HTTP_IDLE_S = 5,     /* libmicrohttpd's inactivity timeout, e.g. for a client that stops reading */
	/* Long-lived responses (a live view's MJPEG streams) are never cut, so they get slots of their
	 * own (state CONN_STREAM): HTTP_MAX_STREAMS unless the plug-in sets another number, at most
	 * HTTP_STREAMS_CAP. They count neither against HTTP_MAX_CONN nor an address's share. */
	HTTP_MAX_STREAMS = 8,
	HTTP_STREAMS_CAP = 64,
	/* Cut connections hold an entry until libmicrohttpd closes them, hence the spare half. */
	HTTP_SLOTS = 2 * HTTP_MAX_CONN + HTTP_STREAMS_CAP,
	/* Request line and headers in all (libmicrohttpd answers 431 or 414 beyond). */
	HTTP_HEAD_BYTES = 16 * 1024,
	/* Each connection's thread: handlers keep big things on the heap, and up to HTTP_SLOTS
	 * threads of the default 8 MiB would reserve gigabytes of address space. */
	HTTP_THREAD_STACK = 512 * 1024,
	/* Connections the kernel completes before they are accepted: a full queue drops the client's
	 * handshake, which it retries only after a second, so it must hold a burst of clients. */
	HTTP_BACKLOG = 4 * HTTP_MAX_CONN,
};

enum conn_state { CONN_FREE, CONN_HEAD, CONN_BUSY, CONN_STREAM, CONN_CUT };

typedef struct http_conn {
	enum conn_state state;
	int fd;
	struct timespec since;       /* CONN_HEAD: when it began waiting for a request */
	unsigned char addr[16];      /* IPv6, IPv4 as ::ffff:a.b.c.d */
} http_conn;

struct pipe_metrics_server {
	pipe_metrics *metrics;
	struct MHD_Daemon *daemon;
	int port;
	atomic_int ready;
	atomic_int stopping;
	pthread_mutex_t lock;        /* conns, max_streams, plugin */
	int max_streams;
	int plugged;
	pipe_http_plugin plugin;
	http_conn conns[HTTP_SLOTS];
};

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Splits "host:port", "[v6]:port" or ":port" (empty host: all interfaces). */
static int split_addr(const char *addr, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon, *h = addr;
	size_t hlen;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return -1;
		h = addr + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return -1;     /* a bare IPv6 address needs brackets */
		hlen = (size_t)(colon - addr);
	}
	const char *p = colon + 1;
	size_t plen = strlen(p);
	if (plen == 0 || plen >= psize || strspn(p, "0123456789") != plen || atol(p) > 65535 ||
	    hlen >= hsize)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen + 1);
	return 0;
}

/* One socket bound and listening on ai; a negative errno on failure. */
static int listen_on(const struct addrinfo *ai)
{
	int one = 1, zero = 0;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* The wildcard "::" also takes IPv4 clients, whatever net.ipv6.bindv6only says. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, HTTP_BACKLOG) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int bind_addr(const char *addr, int *ret_fd)
{
	char host[256], port[8];
	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		vp_err("metrics", NULL, "metrics.listen '%s': expected host:port, [ipv6]:port or :port",
		       addr);
		return VP_ECONFIG;
	}
	/* An empty host means every interface: IPv6 first (dual-stack), IPv4 where it is off. */
	struct addrinfo hints = { .ai_family = host[0] ? AF_UNSPEC : AF_INET6,
	                          .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai;
	int gerr = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (gerr) {
		vp_err("metrics", NULL, "metrics.listen '%s': %s", addr, gai_strerror(gerr));
		return VP_ECONFIG;
	}
	int fd = listen_on(ai);
	if (fd < 0 && !host[0] && (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)) {
		struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
		struct addrinfo v4 = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
		                       .ai_addr = (struct sockaddr *)&any4, .ai_addrlen = sizeof(any4) };
		fd = listen_on(&v4);
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		vp_err("metrics", NULL, "cannot listen on %s: %s", addr, strerror(-fd));
		return fd;
	}
	*ret_fd = fd;
	return 0;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static double seconds_since(const struct timespec *t, const struct timespec *now)
{
	return (double)(now->tv_sec - t->tv_sec) + (double)(now->tv_nsec - t->tv_nsec) * 1e-9;
}

static void addr_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa && sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

/* libmicrohttpd sees end-of-file on its next read and closes the connection. */
static void cut(http_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	c->state = CONN_CUT;
}

static http_conn *older(http_conn *a, http_conn *b)
{
	return !a || (b && seconds_since(&b->since, &a->since) < 0) ? b : a;
}

/* Cuts the connections waiting too long for a request head and counts the other request
 * connections (streams have slots of their own), in all and of addr, with the oldest still
 * waiting of each group. Under s->lock. */
typedef struct conn_census {
	int n_all, n_addr;
	http_conn *oldest_all, *oldest_addr;
} conn_census;

static conn_census sweep(pipe_metrics_server *s, const unsigned char *addr)
{
	conn_census n = { 0 };
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < HTTP_SLOTS; i++) {
		http_conn *c = &s->conns[i];
		if (c->state == CONN_HEAD && seconds_since(&c->since, &now) > HTTP_HEAD_S)
			cut(c);
		if (c->state == CONN_FREE || c->state == CONN_CUT || c->state == CONN_STREAM)
			continue;
		int same = memcmp(c->addr, addr, 16) == 0;
		n.n_all++;
		n.n_addr += same;
		if (c->state == CONN_HEAD) {
			n.oldest_all = older(n.oldest_all, c);
			if (same)
				n.oldest_addr = older(n.oldest_addr, c);
		}
	}
	return n;
}

/* Admits every newcomer, cutting the oldest connection still waiting for its request head when
 * the address or the server is full; refuses it only when all of those are being answered. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *sa, socklen_t len)
{
	(void)len;
	pipe_metrics_server *s = cls;
	unsigned char addr[16];
	enum MHD_Result ret = MHD_NO;
	addr_key(sa, addr);
	pthread_mutex_lock(&s->lock);
	conn_census n = sweep(s, addr);
	int full = n.n_addr >= HTTP_PER_ADDR || n.n_all >= HTTP_MAX_CONN;
	http_conn *victim = n.n_addr >= HTTP_PER_ADDR ? n.oldest_addr : n.n_all >= HTTP_MAX_CONN ? n.oldest_all : NULL;
	if (full && !victim)
		goto out;
	if (victim)
		cut(victim);
	for (int i = 0; i < HTTP_SLOTS && ret == MHD_NO; i++)
		if (s->conns[i].state == CONN_FREE)
			ret = MHD_YES;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
	pipe_metrics_server *s = cls;
	http_conn *c = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		pthread_mutex_lock(&s->lock);
		if (c)
			c->state = CONN_FREE;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *peer = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	pthread_mutex_lock(&s->lock);
	for (int i = 0; fd && i < HTTP_SLOTS; i++) {
		if (s->conns[i].state != CONN_FREE)
			continue;
		c = &s->conns[i];
		c->state = CONN_HEAD;
		c->fd = fd->connect_fd;
		clock_gettime(CLOCK_MONOTONIC, &c->since);
		addr_key(peer ? peer->client_addr : NULL, c->addr);
		*socket_context = c;
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

static http_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

/* A reply was sent: on a kept-alive connection the wait for the next request head begins (and
 * a stream's slot is free again). */
static void notify_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode code)
{
	(void)con_cls, (void)code;
	pipe_metrics_server *s = cls;
	http_conn *c = conn_of(conn);
	pthread_mutex_lock(&s->lock);
	if (c && (c->state == CONN_BUSY || c->state == CONN_STREAM)) {
		c->state = CONN_HEAD;
		clock_gettime(CLOCK_MONOTONIC, &c->since);
	}
	pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
	             MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result reply_metrics(struct MHD_Connection *conn, pipe_metrics *m)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	int err = pipe_metrics_render(m, f);
	if (fclose(f) != 0 || err < 0) {
		free(body);
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "rendering failed\n");
	}
	return reply(conn, MHD_HTTP_OK, PROM_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* URL decoding, in place, that leaves an encoded '/', '.', '\\' or NUL as it is in a path (a
 * string starting with '/'; query keys and values, which do not, decode whole): such a path
 * reaches the handlers still encoded, and a route that maps paths to files refuses any '%', so
 * no encoding can smuggle a separator or a "..". */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *str)
{
	(void)cls, (void)conn;
	int path = str[0] == '/';
	char *w = str;
	for (const char *r = str; *r; r++) {
		int hi = r[0] == '%' ? hex_value(r[1]) : -1, lo = hi >= 0 ? hex_value(r[2]) : -1;
		char c = (char)(hi * 16 + lo);
		if (hi < 0 || lo < 0 || (path && (c == '/' || c == '.' || c == '\\' || c == 0))) {
			*w++ = *r;
			continue;
		}
		*w++ = c;
		r += 2;
	}
	*w = '\0';
	return (size_t)(w - str);
}

/* The head is in: this connection is answered, not cut. Returns the plug-in, if any. */
static int begin_request(pipe_metrics_server *s, struct MHD_Connection *conn, pipe_http_plugin *ret)
{
	http_conn *c = conn_of(conn);
	pthread_mutex_lock(&s->lock);
	if (c && c->state == CONN_HEAD)
		c->state = CONN_BUSY;
	int plugged = s->plugged;
	if (plugged)
		*ret = s->plugin;
	pthread_mutex_unlock(&s->lock);
	return plugged;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	(void)version, (void)upload;
	pipe_metrics_server *s = cls;
	pipe_http_plugin p = { 0 };
	int plugged = begin_request(s, conn, &p);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	/* Answered once the whole request is in: a reply queued on its head alone makes
	 * libmicrohttpd (0.9.75) close the connection, and pages poll over kept-alive ones. */
	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	/* A GET with a body is refused, not read on (it could be endless): libmicrohttpd takes no
	 * reply in the middle of a body and closes the connection, which is the refusal. */
	if (*upload_size) {
		*upload_size = 0;
		return reply_text(conn, MHD_HTTP_BAD_REQUEST, "a GET has no body\n");
	}
	/* Health checks stay open whatever the plug-in guards: a supervisor has no credentials. */
	if (strcmp(url, "/healthz") == 0)
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return atomic_load(&s->ready) ? reply_text(conn, MHD_HTTP_OK, "ready\n")
		                              : reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
	if (plugged && p.guard) {
		int g = p.guard(p.ctx, conn);
		if (g <= 0)
			return g == 0 ? MHD_YES : MHD_NO;
	}
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(conn, s->metrics);
	if (plugged)
		return p.serve(p.ctx, conn, url) ? MHD_YES : MHD_NO;
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

int pipe_metrics_server_new(pipe_metrics *m, const char *addr, pipe_metrics_server **ret)
{
	pipe_metrics_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->metrics = m;
	s->max_streams = HTTP_MAX_STREAMS;
	int fd, err = -pthread_mutex_init(&s->lock, NULL);
	if (err < 0)
		goto fail_free;
	if ((err = bind_addr(addr, &fd)) < 0)
		goto fail;
	s->port = bound_port(fd);
	/* MHD owns fd from here and closes it when stopped. With a thread per connection MHD_USE_AUTO
	 * picks poll(), so descriptors above FD_SETSIZE are fine. */
	s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD, 0,
	                             accept_policy, s, handle, s,
	                             MHD_OPTION_LISTEN_SOCKET, fd,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_S,
	                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_SLOTS,
	                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEAD_BYTES,
	                             MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
	                             MHD_OPTION_THREAD_STACK_SIZE, (size_t)HTTP_THREAD_STACK,
	                             MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s,
	                             MHD_OPTION_NOTIFY_COMPLETED, notify_completed, s, MHD_OPTION_END);
	if (!s->daemon) {
		close(fd);
		vp_err("metrics", NULL, "cannot start the HTTP server on %s", addr);
		err = -EIO;
		goto fail;
	}
	vp_info("metrics", NULL, "serving /metrics, /healthz, /readyz on %s (port %d)", addr, s->port);
	*ret = s;
	return 0;
fail:
	pthread_mutex_destroy(&s->lock);
fail_free:
	free(s);
	return err;
}

void pipe_metrics_server_free(pipe_metrics_server **ps)
{
	pipe_metrics_server *s = *ps;
	if (!s)
		return;
	/* Stream readers see this within a wait and end their responses, so the stop does not
	 * wait for clients that would watch for ever. */
	atomic_store(&s->stopping, 1);
	MHD_stop_daemon(s->daemon);
	if (s->plugged && s->plugin.release)
		s->plugin.release(s->plugin.ctx);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*ps = NULL;
}

int pipe_metrics_server_port(const pipe_metrics_server *s) { return s->port; }

void pipe_metrics_server_set_ready(pipe_metrics_server *s, int ready)
{
	if (s)
		atomic_store(&s->ready, ready != 0);
}

int pipe_metrics_server_plug(pipe_metrics_server *s, const pipe_http_plugin *p)
{
	if (!p->serve)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	int err = s->plugged ? -EBUSY : 0;
	if (!err) {
		s->plugin = *p;
		s->plugged = 1;
	}
	pthread_mutex_unlock(&s->lock);
	if (!err)
		vp_info("metrics", NULL, "serving %s on port %d too", p->name, s->port);
	return err;
}

void pipe_metrics_server_set_max_streams(pipe_metrics_server *s, int n)
{
	pthread_mutex_lock(&s->lock);
	s->max_streams = n < 0 ? 0 : n > HTTP_STREAMS_CAP ? HTTP_STREAMS_CAP : n;
	pthread_mutex_unlock(&s->lock);
}

int pipe_metrics_server_stream_begin(pipe_metrics_server *s, struct MHD_Connection *conn)
{
	http_conn *c = conn_of(conn);
	int n = 0, err = -EBUSY;
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < HTTP_SLOTS; i++)
		n += s->conns[i].state == CONN_STREAM;
	if (c->state == CONN_STREAM || n < s->max_streams) {
		c->state = CONN_STREAM;
		err = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

int pipe_metrics_server_stopping(const pipe_metrics_server *s)
{
	return atomic_load(&((pipe_metrics_server *)s)->stopping);
}
