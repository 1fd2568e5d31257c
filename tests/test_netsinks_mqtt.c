/* mqtt sink against a real mosquitto broker started on a free loopback port, with a
 * libmosquitto subscriber; the broker is killed and restarted mid-run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sinks/dispatch_internal.h"
#include "test_netsinks_util.h"

#define MOSQUITTO_BIN "/usr/sbin/mosquitto"
#define MAX_SEQ 4096

typedef struct broker {
	pid_t pid;
	int port;
	char dir[64];
	char conf[96];
} broker;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void broker_start(broker *b)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* no stray broker when a test aborts */
		char log[128];
		snprintf(log, sizeof(log), "%s/broker.log", b->dir);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(MOSQUITTO_BIN, "mosquitto", "-c", b->conf, (char *)NULL);
		_exit(127);
	}
	b->pid = pid;
	int fd = tn_tcp_connect(b->port, 0);
	assert_true(fd >= 0);
	close(fd);
}

/* extra: more mosquitto.conf lines (authentication) or NULL for anonymous access. */
static void broker_setup(broker *b, const char *extra)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/vapd-mqtt-XXXXXX");
	assert_non_null(mkdtemp(b->dir));
	b->port = tn_free_port(SOCK_STREAM);
	snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir);
	/* user: run as ourselves; as root mosquitto would switch to a user that cannot read
	 * the test's files (and that would cancel the parent-death signal). */
	struct passwd *pw = getpwuid(geteuid());
	char text[512];
	snprintf(text, sizeof(text), "listener %d 127.0.0.1\npersistence false\nuser %s\n%s\n",
	         b->port, pw ? pw->pw_name : "root", extra ? extra : "allow_anonymous true");
	write_file(b->conf, text);
	broker_start(b);
}

static void broker_kill(broker *b)
{
	if (b->pid <= 0)
		return;
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	b->pid = 0;
}

static void broker_teardown(broker *b)
{
	broker_kill(b);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	assert_int_equal(system(cmd), 0);
}

/* A subscriber that records which sequence numbers arrived, on which topics. */
typedef struct sub {
	struct mosquitto *m;
	const char *filter;
	const char *pipeline;
	pthread_mutex_t lock;
	int qos;                      /* of the subscription */
	atomic_int subscribed;        /* incremented on every SUBACK (after reconnects too) */
	long count, eos, retained, bad_topic, bad_payload, last_seq;
	long qos2;                    /* messages the broker forwarded at QoS 2 */
	unsigned char seen[MAX_SEQ];
} sub;

static void sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
	sub *s = obj;
	if (rc == 0)
		mosquitto_subscribe(m, NULL, s->filter, s->qos);
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
	(void)m, (void)mid, (void)n, (void)q;
	atomic_fetch_add(&((sub *)obj)->subscribed, 1);
}

/* Payloads are one JSON object without the line's '\n'; the topic must be
 * vapd/<pipeline>/<stream>/detections with the stream named in the payload. */
static void sub_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	sub *s = obj;
	const char *p = msg->payload;
	int len = msg->payloadlen;
	char stream[64] = "", want[160];
	const char *st = len > 0 ? memmem(p, (size_t)len, "\"stream\":\"", 10) : NULL;
	if (st)
		sscanf(st + 10, "%63[^\"]", stream);
	snprintf(want, sizeof(want), "vapd/%s/%s/detections", s->pipeline, stream);
	pthread_mutex_lock(&s->lock);
	s->count++;
	s->retained += msg->retain;
	s->qos2 += msg->qos == 2;
	s->bad_topic += strcmp(msg->topic, want) != 0;
	if (len < 2 || p[0] != '{' || p[len - 1] != '}' || !st) {
		s->bad_payload++;
	} else if (memmem(p, (size_t)len, "\"eos\":true", 10)) {
		s->eos++;
	} else {
		long seq = tn_line_seq(p, (size_t)len);
		if (seq >= 0 && seq < MAX_SEQ)
			s->seen[seq] = 1;
		s->last_seq = seq;
	}
	pthread_mutex_unlock(&s->lock);
}

static void sub_start_qos(sub *s, int port, const char *filter, const char *user, const char *pw,
                         int qos)
{
	memset(s, 0, sizeof(*s));
	s->qos = qos;
	s->filter = filter;
	s->pipeline = "lobby";
	s->last_seq = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->m = mosquitto_new(NULL, true, s);
	assert_non_null(s->m);
	if (user)
		mosquitto_username_pw_set(s->m, user, pw);
	mosquitto_connect_callback_set(s->m, sub_on_connect);
	mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
	mosquitto_message_callback_set(s->m, sub_on_message);
	mosquitto_reconnect_delay_set(s->m, 1, 1, false);
	assert_int_equal(mosquitto_connect(s->m, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(s->m), MOSQ_ERR_SUCCESS);
	for (int64_t end = tn_now_ms() + 3000; !atomic_load(&s->subscribed) && tn_now_ms() < end;)
		tn_sleep_ms(10);
	assert_true(atomic_load(&s->subscribed) > 0);
}

static void sub_start(sub *s, int port, const char *filter, const char *user, const char *pw)
{
	sub_start_qos(s, port, filter, user, pw, 1);
}

static long sub_count(sub *s)
{
	pthread_mutex_lock(&s->lock);
	long n = s->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int sub_wait_count(sub *s, long n, int timeout_ms)
{
	for (int64_t end = tn_now_ms() + timeout_ms; sub_count(s) < n && tn_now_ms() < end;)
		tn_sleep_ms(10);
	return sub_count(s) >= n;
}

static void sub_stop(sub *s)
{
	mosquitto_disconnect(s->m);
	mosquitto_loop_stop(s->m, false);
	mosquitto_destroy(s->m);
	pthread_mutex_destroy(&s->lock);
}

static pipe_sink_cfg mqtt_cfg(int port, char *broker_buf, size_t len)
{
	snprintf(broker_buf, len, "mqtt://127.0.0.1:%d", port);
	pipe_sink_cfg c = { 0 };
	c.type = PIPE_SINK_MQTT;
	c.broker = broker_buf;
	c.topic = "vapd/{pipeline}/{stream}/detections";
	c.pipeline = "lobby";
	c.qos = 1;
	c.keepalive_s = 30;
	c.queue.depth = 1024;
	c.reconnect_initial_ms = 1000;
	c.reconnect_max_ms = 2000;
	return c;
}

static void write_eos(tn_sink *k, const char *stream, long frames)
{
	char text[160];
	sink_msg m = { .refcount = 1, .stream = stream, .eos = 1, .text = text };
	m.len = (size_t)snprintf(text, sizeof(text), "{\"stream\":\"%s\",\"eos\":true,\"frames\":%ld,"
	                         "\"processed\":%ld,\"dropped\":0,\"errors\":0}\n", stream, frames,
	                         frames);
	assert_int_equal(k->ops->write(k->priv, &m), 0);
}

static void test_mqtt_publishes_every_frame_and_eos_on_the_templated_topic(void **state)
{
	(void)state;
	broker b;
	broker_setup(&b, NULL);
	sub s;
	sub_start(&s, b.port, "vapd/#", NULL, NULL);
	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(b.port, addr, sizeof(addr));
	tn_sink k;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	tn_msg m;
	tn_msg_init(&m, 4096);
	for (long i = 0; i < 400; i++) {
		tn_msg_set(&m, i % 2 ? "cam2" : "cam1", i, (size_t)(i % 7) * 100);
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);
	}
	write_eos(&k, "cam1", 200);
	write_eos(&k, "cam2", 200);
	tn_sink_close(&k);   /* waits for the broker's acknowledgements */
	assert_true(sub_wait_count(&s, 402, 3000));
	long missing = 0;
	for (int i = 0; i < 400; i++)
		missing += !s.seen[i];
	assert_int_equal(missing, 0);
	assert_int_equal(s.eos, 2);
	assert_int_equal(s.bad_topic, 0);
	assert_int_equal(s.bad_payload, 0);
	assert_int_equal(s.retained, 0);
	sub_stop(&s);
	tn_msg_free(&m);
	broker_teardown(&b);
}

static void test_mqtt_retained_message_reaches_a_late_subscriber(void **state)
{
	(void)state;
	broker b;
	broker_setup(&b, NULL);
	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(b.port, addr, sizeof(addr));
	cfg.retain = true;
	cfg.qos = 0;
	cfg.topic = "vapd/{pipeline}/{stream}/detections";
	tn_sink k;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	tn_msg m;
	tn_msg_init(&m, 1024);
	/* QoS 0 before the connection is up is refused (counted), never queued for long. */
	int sent = 0;
	for (long i = 0; i < 300 && !sent; i++) {
		tn_msg_set(&m, "late", i, 0);
		sent = k.ops->write(k.priv, &m.m) == 0;
		if (!sent)
			tn_sleep_ms(10);
	}
	assert_true(sent);
	tn_sink_close(&k);
	sub s;
	sub_start(&s, b.port, "vapd/lobby/late/#", NULL, NULL);
	assert_true(sub_wait_count(&s, 1, 3000));
	assert_int_equal(s.retained, 1);
	assert_int_equal(s.bad_topic, 0);
	sub_stop(&s);
	tn_msg_free(&m);
	broker_teardown(&b);
}

/* qos: 2 is valid config (test_config), so the sink takes it: the broker forwards every
 * message once to a QoS 2 subscriber, and close() waits for each PUBCOMP. */
static void test_mqtt_qos2_delivers_every_message_exactly_once(void **state)
{
	(void)state;
	broker b;
	broker_setup(&b, NULL);
	sub s;
	sub_start_qos(&s, b.port, "vapd/#", NULL, NULL, 2);
	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(b.port, addr, sizeof(addr));
	cfg.qos = 2;
	tn_sink k;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	tn_msg m;
	tn_msg_init(&m, 4096);
	for (long i = 0; i < 500; i++) {
		tn_msg_set(&m, "cam1", i, (size_t)(i % 5) * 200);
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);
	}
	write_eos(&k, "cam1", 500);
	tn_sink_close(&k);   /* waits for the broker's PUBCOMPs */
	assert_true(sub_wait_count(&s, 501, 3000));
	tn_sleep_ms(300);    /* a duplicate would arrive after the last original */
	long missing = 0;
	for (int i = 0; i < 500; i++)
		missing += !s.seen[i];
	assert_int_equal(missing, 0);
	assert_int_equal(sub_count(&s), 501);
	assert_int_equal(s.qos2, 501);   /* the broker got them at QoS 2 */
	assert_int_equal(s.eos, 1);
	assert_int_equal(s.bad_topic + s.bad_payload, 0);
	sub_stop(&s);
	tn_msg_free(&m);
	broker_teardown(&b);
}

/* Messages written while the broker is down are kept (QoS 1 and 2) and delivered once it is
 * back; write() never waits for it. */
static void survives_broker_restart(int qos)
{
	broker b;
	broker_setup(&b, NULL);
	sub s;
	sub_start_qos(&s, b.port, "vapd/#", NULL, NULL, qos);
	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(b.port, addr, sizeof(addr));
	cfg.qos = qos;
	tn_sink k;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	tn_msg m;
	tn_msg_init(&m, 1024);
	long seq = 0;
	int64_t worst = 0;
	for (; seq < 100; seq++) {
		tn_msg_set(&m, "cam1", seq, 50);
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);
	}
	assert_true(sub_wait_count(&s, 100, 3000));

	broker_kill(&b);
	int subs_before = atomic_load(&s.subscribed);
	for (int i = 0; i < 200; i++, seq++) {
		tn_msg_set(&m, "cam1", seq, 50);
		int64_t t0 = tn_now_ms();
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);   /* queued for later */
		int64_t dt = tn_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		tn_sleep_ms(5);
	}
	broker_start(&b);
	for (int64_t end = tn_now_ms() + 5000;
	     atomic_load(&s.subscribed) == subs_before && tn_now_ms() < end;)
		tn_sleep_ms(10);
	assert_true(atomic_load(&s.subscribed) > subs_before);

	long first_after = seq;
	for (int i = 0; i < 300; i++, seq++) {
		tn_msg_set(&m, "cam1", seq, 50);
		int64_t t0 = tn_now_ms();
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);
		int64_t dt = tn_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		tn_sleep_ms(2);
	}
	for (int64_t end = tn_now_ms() + 6000; tn_now_ms() < end; tn_sleep_ms(10)) {
		pthread_mutex_lock(&s.lock);
		int done = s.seen[seq - 1];
		pthread_mutex_unlock(&s.lock);
		if (done)
			break;
	}
	tn_sink_close(&k);
	long missing = 0;
	for (long i = first_after; i < seq; i++)
		missing += !s.seen[i];
	assert_int_equal(missing, 0);
	/* The slowest of 500 writes, measured under load on the 2-core machine (2 busy loops,
	 * 20 runs of each QoS): 0 to 10 ms, median 1; 50 ms keeps a 5x margin and still fails
	 * a write that waits for the dead broker (a connect attempt, a full socket). */
	print_message("qos %d: slowest write across the broker restart: %lld ms\n", qos, (long long)worst);
	assert_true(worst < 50);
	assert_int_equal(s.bad_payload, 0);
	sub_stop(&s);
	tn_msg_free(&m);
	broker_teardown(&b);
}

static void test_mqtt_qos1_survives_broker_restart_without_stalling(void **state)
{
	(void)state;
	survives_broker_restart(1);
}

static void test_mqtt_qos2_survives_broker_restart_without_stalling(void **state)
{
	(void)state;
	survives_broker_restart(2);
}

static void test_mqtt_dead_broker_never_stalls_and_bounds_its_queue(void **state)
{
	(void)state;
	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(tn_free_port(SOCK_STREAM), addr, sizeof(addr));
	tn_sink k;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	tn_msg m;
	tn_msg_init(&m, 1024);
	int accepted = 0, full = 0;
	int64_t t0 = tn_now_ms();
	for (long i = 0; i < 6096; i++) {
		tn_msg_set(&m, "cam1", i, 100);
		int rc = k.ops->write(k.priv, &m.m);
		accepted += rc == 0;
		full += rc == -ENOBUFS;
	}
	assert_true(tn_now_ms() - t0 < 1000);
	assert_int_equal(accepted, 4096);   /* the library's bound (MQTT_MAX_QUEUED) */
	assert_int_equal(full, 2000);
	t0 = tn_now_ms();
	tn_sink_close(&k);
	assert_true(tn_now_ms() - t0 < 5000);

	cfg.qos = 0;   /* nothing to keep: every message fails at once */
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	tn_msg_set(&m, "cam1", 0, 100);
	assert_int_equal(k.ops->write(k.priv, &m.m), -ENOTCONN);
	tn_sink_close(&k);
	tn_msg_free(&m);
}

static void test_mqtt_authenticates_with_a_password_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/vapd-mqtt-auth-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char users[96], pwfile[96], badpw[96], cmd[256], extra[160];
	snprintf(users, sizeof(users), "%s/users", dir);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
	snprintf(badpw, sizeof(badpw), "%s/bad", dir);
	snprintf(cmd, sizeof(cmd), "mosquitto_passwd -b -c %s vapd s3cret >/dev/null 2>&1", users);
	assert_int_equal(system(cmd), 0);
	chmod(users, 0600);
	write_file(pwfile, "s3cret\n");
	write_file(badpw, "wrong\n");
	snprintf(extra, sizeof(extra), "allow_anonymous false\npassword_file %s", users);
	broker b;
	broker_setup(&b, extra);
	sub s;
	sub_start(&s, b.port, "vapd/#", "vapd", "s3cret");

	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(b.port, addr, sizeof(addr));
	cfg.username = "vapd";
	cfg.password_file = badpw;
	tn_sink k;
	tn_msg m;
	tn_msg_init(&m, 1024);
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	for (long i = 0; i < 10; i++) {
		tn_msg_set(&m, "cam1", i, 0);
		k.ops->write(k.priv, &m.m);
	}
	tn_sleep_ms(300);
	tn_sink_close(&k);
	assert_int_equal(sub_count(&s), 0);   /* refused: wrong password */

	cfg.password_file = pwfile;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	for (long i = 10; i < 20; i++) {
		tn_msg_set(&m, "cam1", i, 0);
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);
	}
	tn_sink_close(&k);
	assert_true(sub_wait_count(&s, 10, 3000));
	assert_int_equal(s.seen[0] + s.seen[19], 1);
	sub_stop(&s);
	tn_msg_free(&m);
	broker_teardown(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl in dir;
 * plus an unrelated CA (other.pem) that must not be trusted. */
static void make_certs(const char *dir)
{
	char cmd[1600];
	snprintf(cmd, sizeof(cmd),
	         "(cd '%s' && k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	         "openssl req -x509 $k -keyout ca.key -out ca.pem -subj /CN=vapd-test-ca -days 2 && "
	         "openssl req -x509 $k -keyout other.key -out other.pem -subj /CN=other -days 2 && "
	         "openssl req $k -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	         "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	         "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-out server.pem -days 2 -extfile san.ext && "
	         "openssl req $k -keyout client.key -out client.csr -subj /CN=vapd && "
	         "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-out client.pem -days 2) >/dev/null 2>&1", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_mqtt_tls_with_ca_and_client_certificate(void **state)
{
	(void)state;
	char dir[] = "/tmp/vapd-mqtt-tls-XXXXXX";
	assert_non_null(mkdtemp(dir));
	make_certs(dir);
	int tls_port = tn_free_port(SOCK_STREAM);
	char extra[512];
	snprintf(extra, sizeof(extra), "allow_anonymous true\nlistener %d 127.0.0.1\n"
	         "cafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
	         "require_certificate true", tls_port, dir, dir, dir);
	broker b;
	broker_setup(&b, extra);
	int fd = tn_tcp_connect(tls_port, 0);
	assert_true(fd >= 0);
	close(fd);
	sub s;
	sub_start(&s, b.port, "vapd/#", NULL, NULL);   /* on the plain listener */

	char addr[64], ca[64], other[64], cert[64], key[64];
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(other, sizeof(other), "%s/other.pem", dir);
	snprintf(cert, sizeof(cert), "%s/client.pem", dir);
	snprintf(key, sizeof(key), "%s/client.key", dir);
	pipe_sink_cfg cfg = mqtt_cfg(tls_port, addr, sizeof(addr));
	snprintf(addr, sizeof(addr), "mqtts://127.0.0.1:%d", tls_port);
	cfg.qos = 0;
	cfg.tls.ca_file = other;   /* the broker's certificate does not chain to this CA */
	cfg.tls.cert_file = cert;
	cfg.tls.key_file = key;
	tn_sink k;
	tn_msg m;
	tn_msg_init(&m, 1024);
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	int accepted = 0;
	for (long i = 0; i < 20; i++, tn_sleep_ms(20)) {
		tn_msg_set(&m, "cam1", i, 0);
		accepted += k.ops->write(k.priv, &m.m) == 0;
	}
	tn_sink_close(&k);
	/* QoS 0 messages are handed to the library only while the (failing) handshake runs,
	 * one per 20 ms. Measured under load on the 2-core machine (2 busy loops, 20 runs):
	 * 0 accepted in 11 runs, 1 in 8, 2 in 1 (which failed the old bound of 1); a sink
	 * that queued them regardless would take all 20. */
	print_message("untrusted broker: %d of 20 messages accepted during the handshake\n", accepted);
	assert_true(accepted <= 4);
	assert_int_equal(sub_count(&s), 0);

	cfg.tls.ca_file = ca;
	cfg.qos = 1;
	assert_int_equal(tn_sink_open(&k, mqtt_ops(), &cfg), 0);
	for (long i = 100; i < 150; i++) {
		tn_msg_set(&m, "cam1", i, 0);
		assert_int_equal(k.ops->write(k.priv, &m.m), 0);
	}
	tn_sink_close(&k);
	assert_true(sub_wait_count(&s, 50, 3000));
	assert_int_equal(s.seen[100] + s.seen[149], 2);
	assert_int_equal(s.bad_topic, 0);
	sub_stop(&s);
	tn_msg_free(&m);
	broker_teardown(&b);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_mqtt_rejects_bad_settings_with_clear_errors(void **state)
{
	(void)state;
	char addr[64];
	for (int i = 0; i < 12; i++) {
		pipe_sink_cfg c = mqtt_cfg(1883, addr, sizeof(addr));
		switch (i) {
		case 0: c.broker = "tcp://127.0.0.1:1883"; break;
		case 1: c.broker = "mqtt://127.0.0.1:0"; break;
		case 2: c.broker = "mqtt://:1883"; break;
		case 3: c.broker = NULL; break;
		case 4: c.topic = "vapd/{camera}/detections"; break;
		case 5: c.topic = "vapd/#"; break;
		case 6: c.qos = 3; break;   /* 0..2 (qos: 2 is taken: see the QoS 2 tests) */
		case 7: c.keepalive_s = 1; break;
		case 8: c.broker = "mqtts://127.0.0.1"; c.tls.ca_file = "/nonexistent/ca.pem"; break;
		case 9: c.broker = "mqtts://127.0.0.1"; c.tls.cert_file = "/etc/hostname"; break;
		case 10: c.username = "u"; c.password_file = "/nonexistent/pw"; break;
		case 11: c.tls.ca_file = "/etc/hostname"; break;   /* TLS files on mqtt:// */
		}
		tn_sink k;
		if (tn_sink_open(&k, mqtt_ops(), &c) != VP_ECONFIG)
			fail_msg("bad setting %d was accepted", i);
	}
}

/* The connected state (the vapd_sink_connected gauge) through the real dispatcher: 0
 * while no broker runs, 1 once one is up; messages count as sent only when acknowledged. */
static void test_mqtt_sink_is_connected_only_while_a_broker_is_up(void **state)
{
	(void)state;
	broker b;
	broker_setup(&b, NULL);
	broker_kill(&b);
	char addr[64];
	pipe_sink_cfg cfg = mqtt_cfg(b.port, addr, sizeof(addr));
	pipe_config pc = { .sinks = &cfg, .n_sinks = 1 };
	sink_set *set = NULL;
	assert_int_equal(sink_set_open(&pc, &set), 0);
	tn_sleep_ms(300);
	assert_int_equal(sink_set_connected(set, 0), 0);

	broker_start(&b);
	for (int64_t end = tn_now_ms() + 6000; tn_now_ms() < end && !sink_set_connected(set, 0);)
		tn_sleep_ms(20);
	assert_int_equal(sink_set_connected(set, 0), 1);
	sub s;
	sub_start(&s, b.port, "vapd/#", NULL, NULL);
	vp_frame f = { .stream_id = "cam1", .width = 64, .height = 48 };
	for (int i = 0; i < 5; i++) {
		f.index = i;
		sink_msg *m = NULL;
		assert_int_equal(sink_msg_frame(&f, NULL, 0, NULL, 0, &m), 0);
		assert_int_equal(sink_set_publish(set, m), 0);
		sink_msg_unref(&m);
	}
	assert_true(sub_wait_count(&s, 5, 3000));
	sink_counters c;
	sink_set_close_counted(&set, &c);
	assert_int_equal(c.accepted, 5);
	assert_int_equal(c.sent, 5);   /* QoS 1: acknowledged by the broker */
	assert_int_equal(c.dropped + c.failed, 0);
	sub_stop(&s);
	broker_teardown(&b);
}

int main(void)
{
	if (access(MOSQUITTO_BIN, X_OK) != 0) {
		fprintf(stderr, "%s is missing: install the mosquitto package (scripts/deps.sh)\n",
		        MOSQUITTO_BIN);
		return 1;
	}
	mosquitto_lib_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mqtt_publishes_every_frame_and_eos_on_the_templated_topic),
		cmocka_unit_test(test_mqtt_retained_message_reaches_a_late_subscriber),
		cmocka_unit_test(test_mqtt_qos1_survives_broker_restart_without_stalling),
		cmocka_unit_test(test_mqtt_qos2_delivers_every_message_exactly_once),
		cmocka_unit_test(test_mqtt_qos2_survives_broker_restart_without_stalling),
		cmocka_unit_test(test_mqtt_dead_broker_never_stalls_and_bounds_its_queue),
		cmocka_unit_test(test_mqtt_sink_is_connected_only_while_a_broker_is_up),
		cmocka_unit_test(test_mqtt_authenticates_with_a_password_file),
		cmocka_unit_test(test_mqtt_tls_with_ca_and_client_certificate),
		cmocka_unit_test(test_mqtt_rejects_bad_settings_with_clear_errors),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
