#include "net_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *prefix;
	enum net_kind kind;
} schemes[] = {
	{ "tcp://", NET_TCP },
	{ "tcp-listen://", NET_TCP_LISTEN },
	{ "udp://", NET_UDP },
	{ "unix://", NET_UNIX },
	{ "unix-listen://", NET_UNIX_LISTEN },
};

/* Splits "host:port" or "[v6]:port" in place; port must be 1..65535 (0 allowed for
 * servers: the kernel picks one, logged by the sink). */
static int split_host_port(char *s, int allow_zero, char **host, int *port, char *err,
                           size_t errlen)
{
	char *colon;
	if (s[0] == '[') {
		char *end = strchr(s, ']');
		if (!end || end[1] != ':') {
			snprintf(err, errlen, "bad IPv6 address '%s' (expected [addr]:port)", s);
			return -EINVAL;
		}
		*end = '\0';
		*host = s + 1;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "missing ':port' in '%s'", s);
			return -EINVAL;
		}
		*colon = '\0';
		*host = s;
	}
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || p < (allow_zero ? 0 : 1) || p > 65535) {
		snprintf(err, errlen, "bad port '%s' (expected %d..65535)", colon + 1,
		         allow_zero ? 0 : 1);
		return -EINVAL;
	}
	if (**host == '\0') {
		snprintf(err, errlen, "missing host before ':%ld'", p);
		return -EINVAL;
	}
	*port = (int)p;
	return 0;
}

static int resolve(net_addr *a, const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = a->kind == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
	if (a->kind == NET_TCP_LISTEN)
		hints.ai_flags = AI_PASSIVE;
	char service[8];
	snprintf(service, sizeof(service), "%d", port);
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve host '%s': %s", host, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->salen = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(a->text, sizeof(a->text), "%s:%d", host, port);
	return 0;
}

static int unix_path(net_addr *a, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
	if (path[0] != '/') {
		snprintf(err, errlen, "unix socket path '%s' must be absolute (unix:///path)", path);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(un->sun_path)) {
		snprintf(err, errlen, "unix socket path '%s' longer than %zu bytes", path,
		         sizeof(un->sun_path) - 1);
		return -EINVAL;
	}
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	a->salen = sizeof(*un);
	snprintf(a->text, sizeof(a->text), "%s", path);
	return 0;
}

int net_addr_parse(const char *uri, net_addr *ret, char *err, size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	if (!uri || !*uri) {
		snprintf(err, errlen, "empty address");
		return -EINVAL;
	}
	size_t i, n = sizeof(schemes) / sizeof(schemes[0]);
	for (i = 0; i < n; i++)
		if (strncmp(uri, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			break;
	if (i == n) {
		snprintf(err, errlen, "unknown scheme in '%s' (expected tcp://, tcp-listen://, "
		         "udp://, unix:// or unix-listen://)", uri);
		return -EINVAL;
	}
	ret->kind = schemes[i].kind;
	const char *rest = uri + strlen(schemes[i].prefix);
	if (ret->kind == NET_UNIX || ret->kind == NET_UNIX_LISTEN)
		return unix_path(ret, rest, err, errlen);

	char tmp[256];
	if (strlen(rest) >= sizeof(tmp)) {
		snprintf(err, errlen, "address '%s' too long", uri);
		return -EINVAL;
	}
	strcpy(tmp, rest);
	char *host;
	int port;
	int rc = split_host_port(tmp, ret->kind == NET_TCP_LISTEN, &host, &port, err, errlen);
	if (rc < 0)
		return rc;
	return resolve(ret, host, port, err, errlen);
}

int net_broker_parse(const char *uri, char *host, size_t hostlen, int *port, int *tls,
                     char *err, size_t errlen)
{
	const char *rest;
	if (uri && strncmp(uri, "mqtt://", 7) == 0) {
		rest = uri + 7;
		*tls = 0;
	} else if (uri && strncmp(uri, "mqtts://", 8) == 0) {
		rest = uri + 8;
		*tls = 1;
	} else {
		snprintf(err, errlen, "broker '%s' must start with mqtt:// or mqtts://",
		         uri ? uri : "");
		return -EINVAL;
	}
	char tmp[256];
	if (strlen(rest) + 8 >= sizeof(tmp) || strlen(rest) == 0) {
		snprintf(err, errlen, "bad broker address '%s'", uri);
		return -EINVAL;
	}
	strcpy(tmp, rest);
	int has_port = tmp[0] == '[' ? strstr(tmp, "]:") != NULL : strchr(tmp, ':') != NULL;
	if (!has_port)
		strcat(tmp, *tls ? ":8883" : ":1883");
	char *h;
	int rc = split_host_port(tmp, 0, &h, port, err, errlen);
	if (rc < 0)
		return rc;
	if (strlen(h) >= hostlen) {
		snprintf(err, errlen, "broker host '%s' too long", h);
		return -EINVAL;
	}
	strcpy(host, h);
	return 0;
}

static int listen_socket(const net_addr *a, int fd)
{
	int one = 1;
	if (a->kind == NET_TCP_LISTEN)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->sa, a->salen) < 0)
		return -errno;
	if (listen(fd, 64) < 0)
		return -errno;
	return 0;
}

void net_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int net_socket_open(const net_addr *a, int *ret_fd)
{
	int type = (a->kind == NET_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
	int fd = socket(a->sa.ss_family, type, 0);
	if (fd < 0)
		return -errno;
	if (a->kind == NET_TCP)
		net_nodelay(fd);
	int rc = 0;
	if (a->kind == NET_TCP_LISTEN || a->kind == NET_UNIX_LISTEN) {
		rc = listen_socket(a, fd);
	} else if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) < 0) {
		rc = -errno;
		/* Unix sockets report a full backlog as EAGAIN; both mean "not yet". */
		if (rc == -EAGAIN)
			rc = -ECONNREFUSED;
		if (rc == -EINPROGRESS) {
			*ret_fd = fd;
			return rc;
		}
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*ret_fd = fd;
	return 0;
}

int net_connect_result(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int n = poll(&p, 1, 0);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EINPROGRESS;
	int so = 0;
	socklen_t len = sizeof(so);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) < 0)
		return -errno;
	return -so;
}

int net_peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLHUP | POLLERR | POLLRDHUP))
		return 1;
	char scratch[512];
	ssize_t n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

int64_t net_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void net_backoff_init(net_backoff *b, int initial_ms, int max_ms)
{
	b->initial_ms = initial_ms > 0 ? initial_ms : 1;
	b->max_ms = max_ms >= b->initial_ms ? max_ms : b->initial_ms;
	b->cur_ms = b->initial_ms;
	b->next_ms = 0;
}

void net_backoff_fail(net_backoff *b)
{
	b->next_ms = net_now_ms() + b->cur_ms;
	b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
}

void net_backoff_reset(net_backoff *b)
{
	b->cur_ms = b->initial_ms;
	b->next_ms = 0;
}

int net_backoff_due(const net_backoff *b) { return net_now_ms() >= b->next_ms; }
