/* bench_sinks: throughput and added latency of each network sink type, publish (write on
 * the sink) → received by a real peer on loopback, at a paced input rate (default 1,000
 * frames/s of ~1.2 kB frame messages with 10 detections). Prints markdown rows
 *   | sink | msgs/s | p50 latency ms | p99 latency ms | dropped |
 * after a header. Usage: bench_sinks [-r frames_per_s] [-s seconds]
 * The mqtt rows start a private mosquitto broker on a free port (skipped without one),
 * with set_tcp_nodelay: without it the broker's Nagle delays QoS 0 deliveries by up to
 * a delayed-ACK period (~40 ms). */
#include <fcntl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "pipeline/vp_log.h"
#include "sinks/msg.h"
#include "tests/test_netsinks_util.h"

#define MAX_MSGS 200000

typedef struct run {
	long n;                       /* messages written */
	int64_t *sent_ns;             /* monotonic time each message was written */
	int64_t *lat_ns;              /* per received message */
	atomic_long received;
	atomic_int stop;
	int64_t last_rx_ns;
} run;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_line(run *r, const char *p, size_t len)
{
	int64_t t = now_ns();
	const char *f = memmem(p, len, "\"frame\":", 8);
	long seq = f ? strtol(f + 8, NULL, 10) : -1;
	if (seq < 0 || seq >= r->n)
		return;
	long i = atomic_fetch_add(&r->received, 1);
	if (i < MAX_MSGS)
		r->lat_ns[i] = t - r->sent_ns[seq];
	r->last_rx_ns = t;
}

/* Stream peer: reads '\n'-separated lines from fd until EOF or stop. */
typedef struct stream_peer {
	run *r;
	int fd;
} stream_peer;

static void *stream_reader(void *p)
{
	stream_peer *sp = p;
	static char line[1 << 16];
	char buf[1 << 16];
	size_t len = 0;
	while (!atomic_load(&sp->r->stop)) {
		struct pollfd pf = { .fd = sp->fd, .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t k = recv(sp->fd, buf, sizeof(buf), 0);
		if (k <= 0)
			break;
		for (ssize_t i = 0; i < k; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line))
					line[len++] = buf[i];
				continue;
			}
			on_line(sp->r, line, len);
			len = 0;
		}
	}
	return NULL;
}

static void *dgram_reader(void *p)
{
	stream_peer *sp = p;
	static char buf[1 << 16];
	while (!atomic_load(&sp->r->stop)) {
		struct pollfd pf = { .fd = sp->fd, .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t k = recv(sp->fd, buf, sizeof(buf), 0);
		if (k > 0)
			on_line(sp->r, buf, (size_t)k);
	}
	return NULL;
}

static void on_mqtt_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	on_line(obj, msg->payload, (size_t)msg->payloadlen);
}

static atomic_int mqtt_subscribed;
static void on_mqtt_subscribe(struct mosquitto *m, void *o, int mid, int n, const int *q)
{
	(void)m, (void)o, (void)mid, (void)n, (void)q;
	atomic_store(&mqtt_subscribed, 1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Writes r->n frame messages paced at rate/s through the sink, ticking every 100 ms
 * like the dispatcher, then waits up to 2 s for the peer. */
static int drive(tn_sink *k, run *r, int rate, int64_t *t_first)
{
	vp_frame f = { .stream_id = "cam1", .width = 1920, .height = 1080 };
	vp_det dets[10];
	for (int i = 0; i < 10; i++)
		dets[i] = (vp_det){ .class_id = i % 4, .score = 0.35f + 0.05f * (float)i,
		                    .bbox = { 40.0f * i, 100.0f, 40.0f * i + 80.5f, 620.25f } };
	int64_t period = 1000000000LL / rate, start = now_ns(), next_tick = start;
	*t_first = start;
	int failed = 0;
	for (long i = 0; i < r->n; i++) {
		int64_t due = start + i * period;
		struct timespec ts = { due / 1000000000LL, due % 1000000000LL };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		f.index = i;
		f.pts = (double)i / rate;
		f.wall_us = 1795622400000000LL + i * 1000;
		sink_msg *m = NULL;
		if (sink_msg_frame(&f, dets, 10, NULL, 0, &m) < 0)
			return -1;
		r->sent_ns[i] = now_ns();
		failed += k->ops->write(k->priv, m) < 0;
		if (k->ops->flush)
			k->ops->flush(k->priv);
		sink_msg_unref(&m);
		if (now_ns() >= next_tick) {
			tn_sink_tick(k);
			next_tick += 100000000LL;
		}
	}
	for (int64_t end = now_ns() + 2000000000LL;
	     atomic_load(&r->received) < r->n && now_ns() < end;)
		tn_sleep_ms(5);
	return failed;
}

static void report(const char *name, run *r, int64_t t_first)
{
	long got = atomic_load(&r->received);
	if (got > MAX_MSGS)
		got = MAX_MSGS;
	if (got == 0) {
		printf("| %s | 0 | - | - | %ld |\n", name, r->n);
		return;
	}
	qsort(r->lat_ns, (size_t)got, sizeof(int64_t), cmp_i64);
	double secs = (double)(r->last_rx_ns - t_first) / 1e9;
	printf("| %s | %.0f | %.3f | %.3f | %ld |\n", name, secs > 0 ? (got - 1) / secs : 0.0,
	       r->lat_ns[got / 2] / 1e6, r->lat_ns[(long)(got * 0.99)] / 1e6, r->n - got);
	fflush(stdout);
}

static pipe_sink_cfg base_cfg(void)
{
	pipe_sink_cfg c = { 0 };
	c.queue.depth = 1024;
	c.queue.policy = PIPE_QP_DROP_OLDEST;
	c.reconnect_initial_ms = 100;
	c.reconnect_max_ms = 1000;
	c.keepalive_s = 30;
	c.topic = "vapd/{stream}/detections";
	return c;
}

static void reset(run *r)
{
	atomic_store(&r->received, 0);
	atomic_store(&r->stop, 0);
	r->last_rx_ns = 0;
}

static struct sockaddr_un unix_addr(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	memcpy(un.sun_path, path, strlen(path) + 1);
	return un;
}

/* The peer's side before the sink opens: a server for client sinks, a bound receiver
 * for udp. Writes the sink address; returns the listening fd or -1. */
static int peer_before(const char *name, int port, const char *path, char *addr, size_t n,
                       stream_peer *peer)
{
	if (strcmp(name, "udp") == 0) {
		snprintf(addr, n, "udp://127.0.0.1:%d", port);
		peer->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int big = 4 << 20;
		setsockopt(peer->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		bind(peer->fd, (struct sockaddr *)&a, sizeof(a));
		return -1;
	}
	if (strncmp(name, "tcp", 3) == 0) {
		snprintf(addr, n, "%s://127.0.0.1:%d", name, port);
		return strcmp(name, "tcp") == 0 ? tn_tcp_listen(port) : -1;
	}
	snprintf(addr, n, "%s://%s", name, path);
	if (strcmp(name, "unix") != 0)
		return -1;
	struct sockaddr_un un = unix_addr(path);
	unlink(path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bind(lfd, (struct sockaddr *)&un, sizeof(un));
	listen(lfd, 4);
	return lfd;
}

/* The peer's side once the sink is open: accept its connection or connect to it. */
static void peer_after(const char *name, int port, const char *path, int lfd, stream_peer *peer)
{
	if (lfd >= 0) {
		peer->fd = tn_accept(lfd, 2000);
	} else if (strcmp(name, "tcp-listen") == 0) {
		peer->fd = tn_tcp_connect(port, 0);
	} else if (strcmp(name, "unix-listen") == 0) {
		struct sockaddr_un un = unix_addr(path);
		peer->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		connect(peer->fd, (struct sockaddr *)&un, sizeof(un));
	}
}

/* One socket-sink row, with its peer on loopback. */
static void bench_socket(const char *name, run *r, int rate)
{
	reset(r);
	char addr[128], path[108];
	snprintf(path, sizeof(path), "/tmp/vapd-bench-%d.sock", (int)getpid());
	int port = tn_free_port(strcmp(name, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM);
	stream_peer peer = { .r = r, .fd = -1 };
	int lfd = peer_before(name, port, path, addr, sizeof(addr), &peer);
	pipe_sink_cfg cfg = base_cfg();
	cfg.type = PIPE_SINK_SOCKET;
	cfg.address = addr;
	tn_sink k;
	if (tn_sink_open(&k, sink_ops_find("socket"), &cfg) < 0) {
		printf("| %s | open failed | - | - | - |\n", name);
		return;
	}
	peer_after(name, port, path, lfd, &peer);
	pthread_t th;
	pthread_create(&th, NULL, strcmp(name, "udp") == 0 ? dgram_reader : stream_reader, &peer);
	tn_sink_tick(&k);
	int64_t t_first;
	drive(&k, r, rate, &t_first);
	atomic_store(&r->stop, 1);
	pthread_join(th, NULL);
	tn_sink_close(&k);
	report(name, r, t_first);
	close(peer.fd);
	if (lfd >= 0)
		close(lfd);
	unlink(path);
}

static pid_t start_broker(int port, char *dir, size_t dirlen)
{
	snprintf(dir, dirlen, "/tmp/vapd-bench-mqtt-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char conf[128];
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	/* As root mosquitto would switch to its own user otherwise. */
	struct passwd *pw = getpwuid(geteuid());
	fprintf(f, "listener %d 127.0.0.1\npersistence false\nallow_anonymous true\n"
	        "max_queued_messages 100000\nset_tcp_nodelay true\nuser %s\n", port, pw ? pw->pw_name : "root");
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
		_exit(127);
	}
	int fd = tn_tcp_connect(port, 0);
	if (fd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(fd);
	return pid;
}

static void bench_mqtt(const char *name, int qos, run *r, int rate)
{
	reset(r);
	char dir[64];
	int port = tn_free_port(SOCK_STREAM);
	pid_t broker = start_broker(port, dir, sizeof(dir));
	if (broker < 0) {
		printf("| %s | skipped: no mosquitto broker | - | - | - |\n", name);
		return;
	}
	atomic_store(&mqtt_subscribed, 0);
	struct mosquitto *sub = mosquitto_new(NULL, true, r);
	mosquitto_message_callback_set(sub, on_mqtt_message);
	mosquitto_subscribe_callback_set(sub, on_mqtt_subscribe);
	mosquitto_connect(sub, "127.0.0.1", port, 30);
	mosquitto_subscribe(sub, NULL, "vapd/#", qos);
	mosquitto_loop_start(sub);
	for (int i = 0; i < 300 && !atomic_load(&mqtt_subscribed); i++)
		tn_sleep_ms(10);
	char broker_addr[64];
	snprintf(broker_addr, sizeof(broker_addr), "mqtt://127.0.0.1:%d", port);
	pipe_sink_cfg cfg = base_cfg();
	cfg.type = PIPE_SINK_MQTT;
	cfg.broker = broker_addr;
	cfg.qos = qos;
	tn_sink k;
	if (tn_sink_open(&k, sink_ops_find("mqtt"), &cfg) == 0) {
		/* Let the client connect before timing: QoS 0 is refused while it is not. */
		tn_sleep_ms(200);
		int64_t t_first;
		drive(&k, r, rate, &t_first);
		tn_sink_close(&k);
		report(name, r, t_first);
	}
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(sub, false);
	mosquitto_destroy(sub);
	kill(broker, SIGKILL);
	waitpid(broker, NULL, 0);
	char conf[128];
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	unlink(conf);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	int rate = 1000, seconds = 3;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-r") == 0)
			rate = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-s") == 0)
			seconds = atoi(argv[i + 1]);
	}
	if (rate < 1 || seconds < 1 || (long)rate * seconds > MAX_MSGS) {
		fprintf(stderr, "usage: bench_sinks [-r frames_per_s] [-s seconds] (at most %d "
		        "messages)\n", MAX_MSGS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	vp_log_set_level(VP_LOG_WARN);
	mosquitto_lib_init();
	run r = { .n = (long)rate * seconds };
	r.sent_ns = calloc((size_t)r.n, sizeof(int64_t));
	r.lat_ns = calloc((size_t)r.n, sizeof(int64_t));
	printf("Input: %d frames/s for %d s, one ~%s message per frame; latency = sink write() "
	       "to the peer's read, loopback.\n\n", rate, seconds, "1.2 kB");
	printf("| sink | msgs/s | p50 latency ms | p99 latency ms | dropped |\n");
	printf("| --- | --- | --- | --- | --- |\n");
	static const char *const kinds[] = { "tcp", "tcp-listen", "udp", "unix", "unix-listen" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		bench_socket(kinds[i], &r, rate);
	bench_mqtt("mqtt qos0", 0, &r, rate);
	bench_mqtt("mqtt qos1", 1, &r, rate);
	free(r.sent_ns);
	free(r.lat_ns);
	mosquitto_lib_cleanup();
	return 0;
}
