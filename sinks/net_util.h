/* Network helpers shared by the socket and mqtt sinks: address URIs, non-blocking
 * sockets, reconnect backoff and a bounded per-connection output buffer. */
#ifndef SINK_NET_UTIL_H
#define SINK_NET_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum net_kind { NET_TCP = 0, NET_TCP_LISTEN, NET_UDP, NET_UNIX, NET_UNIX_LISTEN };

typedef struct net_addr {
	enum net_kind kind;
	struct sockaddr_storage sa;
	socklen_t salen;
	char text[160];               /* "host:port" or the socket path, for log lines */
} net_addr;

/* Parses tcp://host:port, tcp-listen://addr:port, udp://host:port, unix:///path and
 * unix-listen:///path ([v6addr]:port for IPv6). Host names are resolved here, once.
 * On failure writes why into err (naming the offending part) and returns -EINVAL. */
int net_addr_parse(const char *uri, net_addr *ret, char *err, size_t errlen);

/* "host:port" of mqtt://host:port or mqtts://host:port (default ports 1883 / 8883). */
int net_broker_parse(const char *uri, char *host, size_t hostlen, int *port, int *tls,
                     char *err, size_t errlen);

/* New non-blocking, close-on-exec socket for a; connected (or connecting: returns
 * -EINPROGRESS with *fd set) for clients, bound and listening for servers. */
int net_socket_open(const net_addr *a, int *fd);

/* Disables Nagle's algorithm on a TCP socket: every message is a complete unit that
 * should leave now, not wait up to a delayed-ACK period (40 ms) for more bytes. */
void net_nodelay(int fd);

/* Outcome of a pending non-blocking connect: 0 connected, -EINPROGRESS still going,
 * another negative errno when it failed. */
int net_connect_result(int fd);

/* True when the peer of a connected stream socket has closed or reset it; any bytes it
 * sent are discarded (our peers are receivers only). */
int net_peer_gone(int fd);

int64_t net_now_ms(void);

/* Exponential reconnect backoff: initial, doubled on every failure up to max. */
typedef struct net_backoff {
	int initial_ms, max_ms, cur_ms;
	int64_t next_ms;              /* monotonic time of the next attempt */
} net_backoff;

void net_backoff_init(net_backoff *b, int initial_ms, int max_ms);
void net_backoff_fail(net_backoff *b);   /* schedules the next attempt */
void net_backoff_reset(net_backoff *b);  /* after a success */
int net_backoff_due(const net_backoff *b);

/* Bounded output buffer of one stream connection: whole messages go in or none. */
typedef struct net_conn {
	int fd;
	int64_t id;                   /* for log lines: the server's count of accepted peers */
	char *buf;
	size_t cap, off, len;         /* pending bytes are buf[off, off + len) */
	size_t alloc;                 /* bytes allocated so far; grows up to cap when needed */
	int64_t sent_lines;           /* '\n'-terminated messages the kernel took in full */
} net_conn;

/* No memory is taken until the peer falls behind: a subscriber that keeps up never
 * costs more than its socket, however many there are. */
int net_conn_init(net_conn *c, int fd, size_t cap);
/* Sends what the socket takes now and keeps the rest. -ENOBUFS when p does not fit
 * the free space, -EMSGSIZE when it exceeds the whole buffer (nothing sent either way),
 * another negative errno when the connection is broken. */
int net_conn_write(net_conn *c, const char *p, size_t n);
/* Queues p without sending (the socket is still connecting); -ENOBUFS when it does not fit. */
int net_conn_append(net_conn *c, const char *p, size_t n);
/* Sends pending bytes without blocking; negative errno when the connection is broken. */
int net_conn_flush(net_conn *c);
/* Waits up to timeout_ms for pending bytes to leave (on close, so the last messages such
 * as end-of-stream get out); negative errno when they could not. */
int net_conn_drain(net_conn *c, int timeout_ms);
/* Messages (lines) still pending in the buffer, in full or in part. */
int64_t net_conn_pending_lines(const net_conn *c);
/* Closes the socket and frees the buffer; safe on a zeroed or closed conn. */
void net_conn_close(net_conn *c);

/* Server side of tcp-listen:// and unix-listen://: any number of subscribers, each
 * with its own bounded buffer; one that falls behind by more than that is disconnected
 * so it never slows the others. */
typedef struct net_listen net_listen;

int net_listen_new(const net_addr *a, size_t sub_cap, const char *name, net_listen **ret);
/* Accepts pending subscribers, then queues p for each. Returns how many got it. */
int net_listen_write(net_listen *l, const char *p, size_t n);
/* Accepts, flushes and reaps closed subscribers; called from the sink's tick. */
void net_listen_tick(net_listen *l);
int net_listen_count(const net_listen *l);
/* Number of subscribers disconnected for being too slow, since the start. */
int64_t net_listen_slow_drops(const net_listen *l);
/* Drains (bounded by timeout_ms in total), closes everything, unlinks a unix socket path. */
void net_listen_free(net_listen **l, int timeout_ms);

#endif
