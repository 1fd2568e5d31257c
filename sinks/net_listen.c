#include "net_util.h"

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct net_listen {
	char name[64];
	net_addr addr;
	int fd;
	size_t sub_cap;
	net_conn *subs;
	int n_subs, cap_subs;
	int64_t slow_drops;
	int64_t accepted;
};

/* A stale socket file from a previous run would make bind() fail; anything that is not
 * a socket is left alone and reported by bind(). */
static void unlink_stale(const net_addr *a)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
	struct stat st;
	if (lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(un->sun_path);
}

static void log_bound(net_listen *l)
{
	if (l->addr.kind != NET_TCP_LISTEN) {
		vp_info("sink", l->name, "listening on unix socket %s", l->addr.text);
		return;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64] = "?";
	int port = 0;
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	vp_info("sink", l->name, "listening on tcp %s port %d", host, port);
}

int net_listen_new(const net_addr *a, size_t sub_cap, const char *name, net_listen **ret)
{
	net_listen *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->name, sizeof(l->name), "%s", name ? name : "socket");
	l->addr = *a;
	l->sub_cap = sub_cap;
	l->fd = -1;
	if (a->kind == NET_UNIX_LISTEN)
		unlink_stale(a);
	int rc = net_socket_open(a, &l->fd);
	if (rc < 0) {
		vp_err("sink", l->name, "cannot listen on %s: %s", a->text, vp_strerror(rc));
		free(l);
		return rc;
	}
	log_bound(l);
	*ret = l;
	return 0;
}

static int add_sub(net_listen *l, int fd)
{
	if (l->n_subs == l->cap_subs) {
		int cap = l->cap_subs ? l->cap_subs * 2 : 8;
		net_conn *s = realloc(l->subs, (size_t)cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		l->subs = s;
		l->cap_subs = cap;
	}
	int rc = net_conn_init(&l->subs[l->n_subs], fd, l->sub_cap);
	if (rc < 0)
		return rc;
	l->n_subs++;
	return 0;
}

static void accept_pending(net_listen *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				vp_warn("sink", l->name, "accept on %s: %s", l->addr.text, strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (l->addr.kind == NET_TCP_LISTEN)
			net_nodelay(fd);
		if (add_sub(l, fd) < 0) {
			vp_err("sink", l->name, "out of memory for a new subscriber; refused");
			close(fd);
			continue;
		}
		l->subs[l->n_subs - 1].id = ++l->accepted;
		vp_info("sink", l->name, "subscriber %lld connected (%d now)", (long long)l->accepted,
		        l->n_subs);
	}
}

static void drop_sub(net_listen *l, int i, const char *why)
{
	long long id = (long long)l->subs[i].id;
	if (why)
		vp_warn("sink", l->name, "subscriber %lld disconnected: %s", id, why);
	else
		vp_info("sink", l->name, "subscriber %lld left (%d remain)", id, l->n_subs - 1);
	net_conn_close(&l->subs[i]);
	l->subs[i] = l->subs[--l->n_subs];
}

int net_listen_write(net_listen *l, const char *p, size_t n)
{
	accept_pending(l);
	int delivered = 0;
	for (int i = l->n_subs - 1; i >= 0; i--) {
		int rc = net_conn_write(&l->subs[i], p, n);
		if (rc == -ENOBUFS || rc == -EMSGSIZE) {
			char why[96];
			snprintf(why, sizeof(why), "too slow (more than %zu bytes behind)", l->sub_cap);
			l->slow_drops++;
			drop_sub(l, i, why);
		} else if (rc < 0) {
			drop_sub(l, i, rc == -EPIPE || rc == -ECONNRESET ? NULL : vp_strerror(rc));
		} else {
			delivered++;
		}
	}
	return delivered;
}

void net_listen_tick(net_listen *l)
{
	accept_pending(l);
	for (int i = l->n_subs - 1; i >= 0; i--) {
		net_conn *c = &l->subs[i];
		int rc = net_conn_flush(c);
		if (rc < 0 || net_peer_gone(c->fd))
			drop_sub(l, i, NULL);
	}
}

int net_listen_count(const net_listen *l) { return l->n_subs; }
int64_t net_listen_slow_drops(const net_listen *l) { return l->slow_drops; }

void net_listen_free(net_listen **pl, int timeout_ms)
{
	net_listen *l = *pl;
	if (!l)
		return;
	int64_t end = net_now_ms() + timeout_ms;
	for (int i = 0; i < l->n_subs; i++) {
		int left = (int)(end - net_now_ms());
		net_conn_drain(&l->subs[i], left > 0 ? left : 0);
		net_conn_close(&l->subs[i]);
	}
	free(l->subs);
	if (l->fd >= 0)
		close(l->fd);
	if (l->addr.kind == NET_UNIX_LISTEN)
		unlink(((const struct sockaddr_un *)&l->addr.sa)->sun_path);
	free(l);
	*pl = NULL;
}
