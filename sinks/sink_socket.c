/* socket sink: JSON lines over TCP or Unix stream sockets (as a client that reconnects
 * with exponential backoff, or as a server for any number of subscribers), or one
 * message per UDP datagram. Every socket is non-blocking and every buffer bounded, so a
 * dead or slow peer costs counted drops, never time on the sink thread.
 *
 * Accounting (settle): a client's message is sent once the kernel took its last byte;
 * while the peer is down it fails at once; buffered ones lost with a connection (or
 * still unsent at close) fail; one that finds the buffer full is dropped (-ENOBUFS). UDP:
 * sent when the datagram went out whole. A server counts a message sent when at least
 * one subscriber got it (or has it queued), dropped when nobody is connected. */
#include "sink.h"
#include "net_util.h"

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Bytes a peer may fall behind before messages are dropped (client) or the subscriber is
 * disconnected (server): about a second of output at 1,000 frames/s of 500-byte lines,
 * on top of what the kernel's socket buffer holds. */
#define SOCK_PEER_BUF (512 * 1024)
/* Largest UDP payload over IPv4 (65535 - 8 byte UDP header - 20 byte IP header). */
#define SOCK_UDP_MAX 65507
/* A connect that neither succeeds nor fails within this long is abandoned and retried. */
#define SOCK_CONNECT_TIMEOUT_MS 5000
/* How long close() waits for the last buffered messages (end-of-stream) to leave. */
#define SOCK_CLOSE_DRAIN_MS 1000

enum sock_state { SOCK_DOWN = 0, SOCK_CONNECTING, SOCK_UP };

typedef struct sock_sink {
	char name[64];
	net_addr addr;
	enum sock_state state;
	net_conn conn;                /* client and udp; conn.fd < 0 while down */
	net_backoff backoff;
	int64_t connect_started_ms;
	net_listen *srv;              /* servers */
	int64_t dropped, oversize, refused, connects;
	int down_reported;            /* one warning per outage, not one per message */
	int64_t sent, lost, unheard;  /* for settle: sent, failed, dropped (server: nobody on) */
	int last_err;                 /* behind the latest loss */
} sock_sink;

static int is_client(const sock_sink *s) { return s->addr.kind == NET_TCP || s->addr.kind == NET_UNIX; }

/* Takes the connection's sent lines and fails what it still buffers. */
static void settle_conn(sock_sink *s, int err)
{
	s->sent += s->conn.sent_lines;
	s->conn.sent_lines = 0;
	int64_t lost = net_conn_pending_lines(&s->conn);
	if (lost > 0) {
		s->lost += lost;
		s->last_err = err;
	}
}

static void go_down(sock_sink *s, int err)
{
	/* Once per outage: the dispatcher keeps counting (and reporting) the failures. */
	if (s->conn.len > 0 && !s->down_reported)
		vp_warn("sink", s->name, "%s: %zu buffered bytes lost with the connection",
		        s->addr.text, s->conn.len);
	settle_conn(s, err);
	if (s->conn.fd >= 0) {
		close(s->conn.fd);
		s->conn.fd = -1;
	}
	s->conn.off = s->conn.len = 0;
	s->state = SOCK_DOWN;
	net_backoff_fail(&s->backoff);
	if (!s->down_reported)
		vp_warn("sink", s->name, "%s: %s; retrying every %d..%d ms", s->addr.text,
		        vp_strerror(err), s->backoff.initial_ms, s->backoff.max_ms);
	s->down_reported = 1;
}

static void went_up(sock_sink *s)
{
	s->state = SOCK_UP;
	s->connects++;
	net_backoff_reset(&s->backoff);
	if (s->connects > 1 || s->down_reported)
		vp_info("sink", s->name, "connected to %s", s->addr.text);
	s->down_reported = 0;
}

static void try_connect(sock_sink *s)
{
	int fd = -1;
	int rc = net_socket_open(&s->addr, &fd);
	if (rc < 0 && rc != -EINPROGRESS) {
		go_down(s, rc);
		return;
	}
	s->conn.fd = fd;
	s->conn.off = s->conn.len = 0;
	if (rc == -EINPROGRESS) {
		s->state = SOCK_CONNECTING;
		s->connect_started_ms = net_now_ms();
	} else {
		went_up(s);
	}
}

/* Advances the client state machine; cheap enough to run before every write. */
static void client_poll(sock_sink *s)
{
	if (s->state == SOCK_DOWN) {
		if (net_backoff_due(&s->backoff))
			try_connect(s);
		return;
	}
	if (s->state == SOCK_CONNECTING) {
		int rc = net_connect_result(s->conn.fd);
		if (rc == -EINPROGRESS &&
		    net_now_ms() - s->connect_started_ms > SOCK_CONNECT_TIMEOUT_MS)
			rc = -ETIMEDOUT;
		if (rc == 0)
			went_up(s);
		else if (rc != -EINPROGRESS)
			go_down(s, rc);
		if (rc != 0)
			return;
	}
	if (net_peer_gone(s->conn.fd)) {
		go_down(s, VP_ECLOSED);
		return;
	}
	int rc = net_conn_flush(&s->conn);
	if (rc < 0)
		go_down(s, rc);
}

static int count_drop(sock_sink *s, int rc)
{
	if (s->dropped++ == 0 || s->dropped % 1000 == 0)
		vp_warn("sink", s->name, "%s: peer is not keeping up, %lld messages dropped so far",
		        s->addr.text, (long long)s->dropped);
	return rc;
}

static int client_write(sock_sink *s, const sink_msg *m)
{
	client_poll(s);
	if (s->state == SOCK_DOWN)
		return -ENOTCONN;
	int rc = s->state == SOCK_CONNECTING ? net_conn_append(&s->conn, m->text, m->len)
	                                     : net_conn_write(&s->conn, m->text, m->len);
	if (rc == -ENOBUFS || rc == -EMSGSIZE)
		return count_drop(s, rc);
	if (rc < 0)
		go_down(s, rc);
	return rc;
}

static int udp_write(sock_sink *s, const sink_msg *m)
{
	if (m->len > SOCK_UDP_MAX) {
		if (s->oversize++ == 0 || s->oversize % 1000 == 0)
			vp_warn("sink", s->name, "%s: %zu-byte message (stream %s) exceeds the %d-byte "
			        "datagram limit; skipped (%lld so far)", s->addr.text, m->len,
			        m->stream ? m->stream : "?", SOCK_UDP_MAX, (long long)s->oversize);
		return -EMSGSIZE;
	}
	ssize_t k = send(s->conn.fd, m->text, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (k < 0 && errno == ECONNREFUSED) {
		/* An ICMP "port unreachable" for an earlier datagram, reported (and cleared) by
		 * this send: nobody listens right now. UDP promises no delivery, so count it and
		 * send this message anyway; it reaches a receiver that has started since. */
		if (s->refused++ == 0 || s->refused % 1000 == 0)
			vp_warn("sink", s->name, "udp %s: no receiver (port unreachable, %lld times)",
			        s->addr.text, (long long)s->refused);
		k = send(s->conn.fd, m->text, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (k == (ssize_t)m->len)
		return 0;
	int rc = k < 0 ? -errno : -EMSGSIZE;
	if (rc == -EAGAIN || rc == -ENOBUFS)
		return count_drop(s, -ENOBUFS);
	if (rc != -ECONNREFUSED)
		vp_warn("sink", s->name, "udp %s: %s", s->addr.text, vp_strerror(rc));
	return rc;
}

static int sock_open(void *priv, const pipe_sink_cfg *cfg, const char *name)
{
	sock_sink *s = priv;
	memset(s, 0, sizeof(*s));
	s->conn.fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "socket");
	char err[256];
	int rc = net_addr_parse(cfg->address, &s->addr, err, sizeof(err));
	if (rc < 0) {
		vp_err("sink", s->name, "address: %s", err);
		return VP_ECONFIG;
	}
	net_backoff_init(&s->backoff, cfg->reconnect_initial_ms, cfg->reconnect_max_ms);
	switch (s->addr.kind) {
	case NET_TCP_LISTEN:
	case NET_UNIX_LISTEN:
		return net_listen_new(&s->addr, SOCK_PEER_BUF, s->name, &s->srv);
	case NET_UDP:
		rc = net_socket_open(&s->addr, &s->conn.fd);
		if (rc < 0)
			vp_err("sink", s->name, "udp socket for %s: %s", s->addr.text, vp_strerror(rc));
		return rc;
	case NET_TCP:
	case NET_UNIX:
		rc = net_conn_init(&s->conn, -1, SOCK_PEER_BUF);
		if (rc < 0)
			return rc;
		/* A peer that is not up yet is normal (it may start later): keep retrying. */
		try_connect(s);
		return 0;
	}
	return -EINVAL;
}

static int sock_write(void *priv, const sink_msg *m)
{
	sock_sink *s = priv;
	if (s->srv) {
		if (net_listen_write(s->srv, m->text, m->len) > 0)
			s->sent++;
		else
			s->unheard++;
		return 0;
	}
	if (s->addr.kind == NET_UDP) {
		int rc = udp_write(s, m);
		s->sent += rc == 0;
		return rc;
	}
	return client_write(s, m);
}

static void sock_tick(void *priv)
{
	sock_sink *s = priv;
	if (s->srv)
		net_listen_tick(s->srv);
	else if (is_client(s))
		client_poll(s);
}

static int sock_flush(void *priv)
{
	sock_tick(priv);
	return 0;
}

static int sock_settle(void *priv, sink_counters *ret)
{
	sock_sink *s = priv;
	s->sent += s->conn.sent_lines;
	s->conn.sent_lines = 0;
	ret->sent += s->sent;
	ret->failed += s->lost;
	ret->dropped += s->unheard;
	s->sent = s->lost = s->unheard = 0;
	return s->last_err;
}

/* A client is up once connected; servers and UDP have no peer to lose. */
static int sock_connected(void *priv)
{
	sock_sink *s = priv;
	return !is_client(s) || s->state == SOCK_UP;
}

static void sock_close(void *priv)
{
	sock_sink *s = priv;
	if (s->srv) {
		if (net_listen_slow_drops(s->srv))
			vp_info("sink", s->name, "%lld slow subscribers were disconnected",
			        (long long)net_listen_slow_drops(s->srv));
		net_listen_free(&s->srv, SOCK_CLOSE_DRAIN_MS);
	}
	if (is_client(s) && s->state == SOCK_UP && s->conn.len > 0 &&
	    net_conn_drain(&s->conn, SOCK_CLOSE_DRAIN_MS) < 0)
		vp_warn("sink", s->name, "%zu bytes still unsent to %s at close", s->conn.len,
		        s->addr.text);
	settle_conn(s, -ETIMEDOUT);
	if (s->dropped || s->oversize || s->refused)
		vp_info("sink", s->name, "%lld messages dropped (peer too slow), %lld oversize, "
		        "%lld port-unreachable reports", (long long)s->dropped, (long long)s->oversize,
		        (long long)s->refused);
	net_conn_close(&s->conn);
}

const sink_ops sink_socket_ops = {
	.type = "socket",
	.priv_size = sizeof(sock_sink),
	.open = sock_open,
	.write = sock_write,
	.flush = sock_flush,
	.close = sock_close,
	.tick = sock_tick,
	.settle = sock_settle,
	.connected = sock_connected,
	/* A peer that is down or slow must cost drops, never stall the pipeline. */
	.auto_policy = PIPE_QP_DROP_OLDEST,
};
