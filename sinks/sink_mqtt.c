/* mqtt sink: one MQTT message per output message (frames and end-of-stream), published
 * through libmosquitto's own network thread. write() only hands the message to the
 * library; messages the library holds (QoS 1 and 2: until the broker acknowledges them,
 * PUBACK or PUBCOMP) are bounded by MQTT_MAX_QUEUED, so a dead broker costs counted drops,
 * not time. QoS 2 adds the exactly-once handshake (PUBREC/PUBREL/PUBCOMP) within a
 * connection; the session is clean, so a message in flight when the connection drops is sent
 * again and may arrive twice, as with QoS 1.
 *
 * Accounting (settle): a message counts as sent when the library reports it published
 * (QoS 0: written to the socket; QoS 1 and 2: acknowledged by the broker). QoS 0 messages
 * the library held when the connection dropped fail; so does whatever is still
 * unacknowledged at close. A full library queue drops (-ENOBUFS). */
#include "sink.h"
#include "net_topic.h"
#include "net_util.h"

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_secret.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Messages libmosquitto may hold (QoS 1, 2: until acknowledged) while the broker is slow or
 * away, on top of the dispatcher's queue: about 4 s at 1,000 frames/s, ~5 MB of 1.2 kB
 * messages. Beyond it messages are dropped and counted. */
#define MQTT_MAX_QUEUED 4096
/* How long close() waits for QoS 1/2 messages to be acknowledged (end-of-stream included). */
#define MQTT_CLOSE_DRAIN_MS 3000
#define MQTT_TOPIC_MAX 1024

typedef struct mqtt_sink {
	char name[64];
	char host[256];
	int port;
	net_topic topic;
	const char *pipeline;
	int qos;
	bool retain;
	int max_queued;
	struct mosquitto *mosq;
	int loop_started;
	/* The first connect failed: libmosquitto (2.0.11) never retries one that failed
	 * before its network thread ran, so the sink's tick does, and starts that thread
	 * once an attempt is under way. */
	int connect_pending;
	net_backoff backoff;
	atomic_int queued;            /* handed to the library, not yet sent (QoS 0) / acked (QoS 1, 2) */
	atomic_int connected;
	atomic_int last_refusal;      /* CONNACK code of the last refused attempt, 0 after success */
	atomic_uint last_log_hash;    /* of the last library error logged */
	atomic_llong acked;
	atomic_llong lost;            /* QoS 0 messages gone with a connection */
	int64_t acked_settled;        /* sink thread: acked already reported by settle */
	int64_t dropped, failed;
	char topic_buf[MQTT_TOPIC_MAX];
} mqtt_sink;

/* libmosquitto must be initialised once per process before any client exists. */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { mosquitto_lib_init(); }

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	mqtt_sink *s = obj;
	if (rc != 0) {
		/* Retried with backoff like any outage; one line per distinct refusal. */
		if (atomic_exchange(&s->last_refusal, rc) != rc)
			vp_warn("sink", s->name, "broker %s:%d refused the connection: %s", s->host,
			        s->port, mosquitto_connack_string(rc));
		return;
	}
	atomic_store(&s->last_refusal, 0);
	atomic_store(&s->last_log_hash, 0);
	atomic_store(&s->connected, 1);
	vp_info("sink", s->name, "connected to broker %s:%d", s->host, s->port);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	mqtt_sink *s = obj;
	int was = atomic_exchange(&s->connected, 0);
	/* QoS 0 messages still in the library's packet queue are gone with the connection;
	 * QoS 1 and 2 messages stay queued and are sent again after the reconnect. */
	if (s->qos == 0)
		atomic_fetch_add(&s->lost, atomic_exchange(&s->queued, 0));
	if (was && rc != 0)
		vp_warn("sink", s->name, "lost broker %s:%d (%s); reconnecting", s->host, s->port,
		        mosquitto_strerror(rc));
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	(void)mosq;
	(void)mid;
	mqtt_sink *s = obj;
	atomic_fetch_add(&s->acked, 1);
	if (atomic_fetch_sub(&s->queued, 1) <= 0)
		atomic_store(&s->queued, 0);
}

/* The library's own errors (TLS verification, DNS, protocol) name the actual cause;
 * each distinct text is logged once in a row so a retry loop does not flood the log. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
	(void)mosq;
	mqtt_sink *s = obj;
	if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)))
		return;
	unsigned h = 2166136261u;
	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	if (atomic_exchange(&s->last_log_hash, h) != h)
		vp_warn("sink", s->name, "broker %s:%d: %s", s->host, s->port, text);
}

static int read_password(const char *path, char *out, size_t outlen, const char *name)
{
	int rc = vp_read_secret(path, out, outlen);
	if (rc == VP_ECONFIG)
		vp_err("sink", name, "password_file %s: the first line is empty (or longer than %zu bytes)",
		       path, outlen - 2);
	else if (rc < 0)
		vp_err("sink", name, "password_file %s: %s", path, vp_strerror(rc));
	return rc < 0 ? VP_ECONFIG : 0;
}

static int check_readable(const char *what, const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		vp_err("sink", name, "tls.%s %s: %s", what, path, strerror(errno));
		return VP_ECONFIG;
	}
	fclose(f);
	return 0;
}

static int setup_tls(mqtt_sink *s, const pipe_tls_cfg *tls, int use_tls)
{
	int any = tls->ca_file || tls->cert_file || tls->key_file;
	if (!use_tls) {
		if (any)
			vp_err("sink", s->name, "tls files are set but broker is mqtt://; use mqtts://");
		return any ? VP_ECONFIG : 0;
	}
	if (!tls->cert_file != !tls->key_file) {
		vp_err("sink", s->name, "tls.cert_file and tls.key_file must be given together");
		return VP_ECONFIG;
	}
	if ((tls->ca_file && check_readable("ca_file", tls->ca_file, s->name) < 0) ||
	    (tls->cert_file && check_readable("cert_file", tls->cert_file, s->name) < 0) ||
	    (tls->key_file && check_readable("key_file", tls->key_file, s->name) < 0))
		return VP_ECONFIG;
	if (!tls->ca_file)
		mosquitto_int_option(s->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
	int rc = mosquitto_tls_set(s->mosq, tls->ca_file, tls->ca_file ? NULL : "/etc/ssl/certs",
	                           tls->cert_file, tls->key_file, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		vp_err("sink", s->name, "tls setup (ca %s, cert %s, key %s): %s",
		       tls->ca_file ? tls->ca_file : "system", tls->cert_file ? tls->cert_file : "-",
		       tls->key_file ? tls->key_file : "-", mosquitto_strerror(rc));
		return VP_ECONFIG;
	}
	return 0;
}

static int configure(mqtt_sink *s, const pipe_sink_cfg *cfg, int use_tls)
{
	mosquitto_connect_callback_set(s->mosq, on_connect);
	mosquitto_disconnect_callback_set(s->mosq, on_disconnect);
	mosquitto_publish_callback_set(s->mosq, on_publish);
	mosquitto_log_callback_set(s->mosq, on_log);
	mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	int init_s = (cfg->reconnect_initial_ms + 999) / 1000;
	int max_s = (cfg->reconnect_max_ms + 999) / 1000;
	init_s = init_s < 1 ? 1 : init_s;
	mosquitto_reconnect_delay_set(s->mosq, (unsigned)init_s,
	                              (unsigned)(max_s < init_s ? init_s : max_s), true);
	if (cfg->password_file && !cfg->username) {
		vp_err("sink", s->name, "password_file given without username");
		return VP_ECONFIG;
	}
	if (cfg->username) {
		char pw[256] = "";
		if (cfg->password_file && read_password(cfg->password_file, pw, sizeof(pw), s->name) < 0)
			return VP_ECONFIG;
		int rc = mosquitto_username_pw_set(s->mosq, cfg->username,
		                                   cfg->password_file ? pw : NULL);
		memset(pw, 0, sizeof(pw));
		if (rc != MOSQ_ERR_SUCCESS) {
			vp_err("sink", s->name, "username: %s", mosquitto_strerror(rc));
			return VP_ECONFIG;
		}
	}
	return setup_tls(s, &cfg->tls, use_tls);
}

static int check_cfg(mqtt_sink *s, const pipe_sink_cfg *cfg, int *use_tls)
{
	char err[256];
	if (net_broker_parse(cfg->broker, s->host, sizeof(s->host), &s->port, use_tls, err,
	                     sizeof(err)) < 0) {
		vp_err("sink", s->name, "broker: %s", err);
		return VP_ECONFIG;
	}
	if (net_topic_parse(cfg->topic, &s->topic, err, sizeof(err)) < 0) {
		vp_err("sink", s->name, "topic: %s", err);
		return VP_ECONFIG;
	}
	if (cfg->qos < 0 || cfg->qos > 2) {
		vp_err("sink", s->name, "qos: %d is not 0, 1 or 2", cfg->qos);
		return VP_ECONFIG;
	}
	if (cfg->keepalive_s < 5 || cfg->keepalive_s > 65535) {
		vp_err("sink", s->name, "keepalive_s: %d is out of range (5..65535)", cfg->keepalive_s);
		return VP_ECONFIG;
	}
	return 0;
}

static int start_loop(mqtt_sink *s)
{
	int rc = mosquitto_loop_start(s->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		vp_err("sink", s->name, "cannot start the MQTT network thread: %s",
		       mosquitto_strerror(rc));
		return -EAGAIN;
	}
	s->loop_started = 1;
	return 0;
}

static int mqtt_open(void *priv, const pipe_sink_cfg *cfg, const char *name)
{
	mqtt_sink *s = priv;
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "mqtt");
	int use_tls = 0;
	int rc = check_cfg(s, cfg, &use_tls);
	if (rc < 0)
		return rc;
	s->qos = cfg->qos;
	s->retain = cfg->retain;
	s->pipeline = cfg->pipeline ? cfg->pipeline : "vapd";
	s->max_queued = MQTT_MAX_QUEUED;
	pthread_once(&lib_once, lib_init);
	s->mosq = mosquitto_new(cfg->client_id, true, s);
	if (!s->mosq) {
		vp_err("sink", s->name, "cannot create MQTT client: %s", strerror(errno));
		return errno == EINVAL ? VP_ECONFIG : -ENOMEM;
	}
	rc = configure(s, cfg, use_tls);
	if (rc < 0)
		return rc;
	rc = mosquitto_connect_async(s->mosq, s->host, s->port, cfg->keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		/* A broker that is down now is retried on tick with backoff. */
		vp_warn("sink", s->name, "broker %s:%d: %s (will keep retrying)", s->host, s->port,
		        rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		net_backoff_init(&s->backoff, cfg->reconnect_initial_ms, cfg->reconnect_max_ms);
		net_backoff_fail(&s->backoff);
		s->connect_pending = 1;
		return 0;
	}
	return start_loop(s);
}

static void mqtt_tick(void *priv)
{
	mqtt_sink *s = priv;
	if (!s->connect_pending || !net_backoff_due(&s->backoff))
		return;
	if (mosquitto_reconnect_async(s->mosq) != MOSQ_ERR_SUCCESS) {
		net_backoff_fail(&s->backoff);
		return;
	}
	s->connect_pending = 0;
	start_loop(s);
}

static int mqtt_err(int rc)
{
	switch (rc) {
	case MOSQ_ERR_NO_CONN: return -ENOTCONN;
	case MOSQ_ERR_NOMEM: return -ENOMEM;
	case MOSQ_ERR_PAYLOAD_SIZE: return -EMSGSIZE;
	case MOSQ_ERR_ERRNO: return errno ? -errno : -EIO;
	default: return -EIO;
	}
}

static int mqtt_write(void *priv, const sink_msg *m)
{
	mqtt_sink *s = priv;
	if (atomic_load(&s->queued) >= s->max_queued) {
		if (s->dropped++ == 0 || s->dropped % 1000 == 0)
			vp_warn("sink", s->name, "%d messages waiting for broker %s:%d; dropped %lld so far",
			        s->max_queued, s->host, s->port, (long long)s->dropped);
		return -ENOBUFS;
	}
	int rc = net_topic_expand(&s->topic, m->stream, s->pipeline, sink_msg_kind_name(m->kind),
	                          s->topic_buf, sizeof(s->topic_buf));
	if (rc < 0) {
		if (s->failed++ == 0)
			vp_warn("sink", s->name, "stream '%s' gives no valid topic from '%s'",
			        m->stream ? m->stream : "", s->topic.text);
		return rc;
	}
	/* One JSON object per MQTT message: the line's '\n' is framing, not payload. */
	int len = (int)(m->len && m->text[m->len - 1] == '\n' ? m->len - 1 : m->len);
	atomic_fetch_add(&s->queued, 1);
	rc = mosquitto_publish(s->mosq, NULL, s->topic_buf, len, m->text, s->qos, s->retain);
	/* With QoS 1 and 2, NO_CONN still means the library queued the message: it is sent
	 * when the connection is back (libmosquitto 2.0 message__release_to_inflight). */
	if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && s->qos > 0))
		return 0;
	atomic_fetch_sub(&s->queued, 1);
	s->failed++;
	return mqtt_err(rc);
}

/* Gives queued messages (end-of-stream included) a bounded chance to reach the broker,
 * also when the connection is still being set up or re-established. */
static void drain(mqtt_sink *s)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int64_t end = net_now_ms() + MQTT_CLOSE_DRAIN_MS;
	while (atomic_load(&s->queued) > 0 && net_now_ms() < end)
		nanosleep(&nap, NULL);
}

static void mqtt_close(void *priv)
{
	mqtt_sink *s = priv;
	if (!s->mosq)
		return;
	if (!s->loop_started) {
		mosquitto_destroy(s->mosq);
		s->mosq = NULL;
		return;
	}
	drain(s);
	mosquitto_disconnect(s->mosq);
	mosquitto_loop_stop(s->mosq, false);
	int left = atomic_load(&s->queued);
	vp_info("sink", s->name, "%lld messages delivered to broker %s:%d, %lld dropped (queue "
	        "full), %lld failed, %d unsent at close", (long long)atomic_load(&s->acked), s->host,
	        s->port, (long long)s->dropped, (long long)s->failed, left);
	mosquitto_destroy(s->mosq);
	s->mosq = NULL;
}

static int mqtt_settle(void *priv, sink_counters *ret)
{
	mqtt_sink *s = priv;
	int64_t acked = atomic_load(&s->acked);
	int64_t lost = atomic_exchange(&s->lost, 0);
	ret->sent += acked - s->acked_settled;
	ret->failed += lost;
	s->acked_settled = acked;
	return lost ? -ECONNRESET : 0;
}

static int mqtt_connected(void *priv)
{
	mqtt_sink *s = priv;
	return atomic_load(&s->connected);
}

const sink_ops sink_mqtt_ops = {
	.type = "mqtt",
	.priv_size = sizeof(mqtt_sink),
	.open = mqtt_open,
	.write = mqtt_write,
	.flush = NULL,
	.close = mqtt_close,
	.tick = mqtt_tick,
	.settle = mqtt_settle,
	.connected = mqtt_connected,
	/* A peer that is down or slow must cost drops, never stall the pipeline. */
	.auto_policy = PIPE_QP_DROP_OLDEST,
};
