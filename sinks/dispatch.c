/* Fan-out of messages to sinks: one bounded ring and one thread per sink, so a slow or
 * dead output only ever holds up its own queue (or, under policy block, the publisher). */
#include "dispatch_internal.h"
#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_NS   100000000LL   /* sink_ops.tick period */
#define BATCH_MAX 64            /* messages taken from the ring per lock round trip */

/* While a sink keeps failing, one warning at the start of the outage, then at most one
 * every FAIL_LOG_NS with the running count, so a dead disk cannot flood the log. */
#define FAIL_LOG_NS 10000000000LL

typedef struct sink_inst {
	const sink_ops *ops;
	const pipe_sink_cfg *cfg;
	void *priv;
	char name[32];
	enum pipe_queue_policy policy;
	bool inited, opened, open_ok, started;
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	sink_msg **ring;
	int cap, head, count;
	bool closing;

	atomic_int_least64_t accepted, sent, dropped, failed;
	atomic_int connected;
	int64_t pending;         /* sink thread only: taken by write, outcome not yet settled */
	int64_t failed_in_row;   /* sink thread only: failures since the last success */
	int64_t fail_logged_ns;  /* sink thread only: when the outage was last reported */
} sink_inst;

struct sink_set {
	int n;
	sink_inst *sinks;
};

static struct timespec ns_to_ts(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
}

static void note_sent(sink_inst *k, int64_t n)
{
	if (n <= 0)
		return;
	atomic_fetch_add(&k->sent, n);
	if (k->failed_in_row)
		vp_info("sink", k->name, "writing again after %" PRId64 " failed messages",
		        k->failed_in_row);
	k->failed_in_row = 0;
}

static void note_failed(sink_inst *k, int64_t n, int err)
{
	if (n <= 0)
		return;
	atomic_fetch_add(&k->failed, n);
	bool first = k->failed_in_row == 0;
	k->failed_in_row += n;
	int64_t now = vp_mono_ns();
	if (!first && now - k->fail_logged_ns < FAIL_LOG_NS)
		return;
	k->fail_logged_ns = now;
	if (first)
		vp_warn("sink", k->name, "write failed: %s (failures are counted until it recovers)",
		        vp_strerror(err < 0 ? err : -EIO));
	else
		vp_warn("sink", k->name, "still failing: %s (%" PRId64 " messages lost so far)",
		        vp_strerror(err < 0 ? err : -EIO), k->failed_in_row);
}

/* Collects outcomes of buffered messages; never more than are pending, so a sink that
 * miscounts cannot break accepted == sent + dropped + failed. */
static void settle(sink_inst *k, int flush_err)
{
	if (k->ops->settle) {
		sink_counters c = { 0 };
		int err = k->ops->settle(k->priv, &c);
		c.sent = c.sent < k->pending ? c.sent : k->pending;
		k->pending -= c.sent;
		c.failed = c.failed < k->pending ? c.failed : k->pending;
		k->pending -= c.failed;
		c.dropped = c.dropped < k->pending ? c.dropped : k->pending;
		k->pending -= c.dropped;
		atomic_fetch_add(&k->dropped, c.dropped);
		note_sent(k, c.sent);
		note_failed(k, c.failed, err < 0 ? err : flush_err);
	}
	if (k->ops->connected)
		atomic_store(&k->connected, k->ops->connected(k->priv) ? 1 : 0);
}

static void write_one(sink_inst *k, sink_msg *m)
{
	int ret = k->ops->write(k->priv, m);
	if (ret >= 0 && k->ops->settle)
		k->pending++;
	else if (ret >= 0)
		note_sent(k, 1);
	else if (ret == -ENOBUFS)
		atomic_fetch_add(&k->dropped, 1);   /* the sink logs its own slow-peer drops */
	else
		note_failed(k, 1, ret);
}

static void flush_sink(sink_inst *k)
{
	int ret = k->ops->flush ? k->ops->flush(k->priv) : 0;
	settle(k, ret);
}

/* Takes up to BATCH_MAX messages; called with the lock held. */
static int take_batch(sink_inst *k, sink_msg **batch)
{
	int n = 0;
	while (k->count > 0 && n < BATCH_MAX) {
		batch[n++] = k->ring[k->head];
		k->ring[k->head] = NULL;
		k->head = (k->head + 1) % k->cap;
		k->count--;
	}
	pthread_cond_broadcast(&k->not_full);
	return n;
}

static void *sink_thread(void *arg)
{
	sink_inst *k = arg;
	sink_msg *batch[BATCH_MAX];
	int64_t next_tick = vp_mono_ns() + TICK_NS;
	/* A closed pipe or socket must fail the write with EPIPE, not kill the daemon. */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (k->count == 0 && !k->closing) {
			struct timespec ts = ns_to_ts(next_tick);
			if (pthread_cond_timedwait(&k->not_empty, &k->lock, &ts) != 0)
				break;
		}
		int64_t now = vp_mono_ns();
		if (now >= next_tick) {
			next_tick = now + TICK_NS;
			pthread_mutex_unlock(&k->lock);
			if (k->ops->tick)
				k->ops->tick(k->priv);
			settle(k, 0);
			pthread_mutex_lock(&k->lock);
		}
		if (k->count == 0) {
			if (k->closing)
				break;
			continue;
		}
		int n = take_batch(k, batch);
		bool emptied = k->count == 0;
		pthread_mutex_unlock(&k->lock);
		for (int i = 0; i < n; i++) {
			write_one(k, batch[i]);
			sink_msg_unref(&batch[i]);
		}
		if (emptied)
			flush_sink(k);
		else
			settle(k, 0);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	flush_sink(k);
	return NULL;
}

static enum pipe_queue_policy resolve_policy(const sink_inst *k)
{
	enum pipe_queue_policy p = k->cfg->queue.policy;
	if (k->ops->lossless) {
		if (p == PIPE_QP_DROP_OLDEST)
			vp_warn("sink", k->name, "%s sinks never drop: queue policy is block",
			        k->ops->type);
		return PIPE_QP_BLOCK;
	}
	if (p == PIPE_QP_AUTO)
		p = k->ops->auto_policy == PIPE_QP_AUTO ? PIPE_QP_BLOCK : k->ops->auto_policy;
	return p;
}

static int inst_init(sink_inst *k, const sink_spec *spec, int index)
{
	k->ops = spec->ops;
	k->cfg = spec->cfg;
	snprintf(k->name, sizeof(k->name), "%s[%d]", k->ops->type, index);
	k->policy = resolve_policy(k);
	k->cap = k->cfg->queue.depth > 0 ? k->cfg->queue.depth : SINK_DEFAULT_DEPTH;
	k->ring = calloc((size_t)k->cap, sizeof(*k->ring));
	k->priv = calloc(1, k->ops->priv_size ? k->ops->priv_size : 1);
	if (!k->ring || !k->priv) {
		free(k->ring);
		free(k->priv);
		return -ENOMEM;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->not_empty, &ca);
	pthread_cond_init(&k->not_full, NULL);
	pthread_condattr_destroy(&ca);
	k->inited = true;
	return 0;
}

/* Lets the thread drain what is queued and exit; wakes a publisher blocked on it. */
static void inst_signal_close(sink_inst *k)
{
	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	k->closing = true;
	pthread_cond_broadcast(&k->not_empty);
	pthread_cond_broadcast(&k->not_full);
	pthread_mutex_unlock(&k->lock);
}

static void inst_join(sink_inst *k)
{
	if (!k->started)
		return;
	pthread_join(k->thread, NULL);
	k->started = false;
}

/* close runs on the caller's thread and may still write (a last flush, a goodbye to a
 * peer): SIGPIPE is blocked around it and one it raised is consumed, not delivered. */
static void close_sink(sink_inst *k)
{
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE);
	k->ops->close(k->priv);
	sigpending(&pending);
	if (!was_pending && sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &(struct timespec){ 0, 0 });
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void inst_destroy(sink_inst *k)
{
	if (!k->inited)
		return;
	if (k->opened) {
		close_sink(k);
		settle(k, 0);
	}
	/* Only left over when the thread never ran. */
	for (int i = 0; i < k->count; i++)
		sink_msg_unref(&k->ring[(k->head + i) % k->cap]);
	/* What close could not deliver (or never got to write) is lost. */
	note_failed(k, k->pending + k->count, -EIO);
	k->pending = k->count = 0;
	int64_t failed = atomic_load(&k->failed);
	if (k->open_ok)
		vp_log(failed ? VP_LOG_WARN : VP_LOG_INFO, "sink", k->name, "closed: %" PRId64
		       " sent, %" PRId64 " dropped, %" PRId64 " failed", (int64_t)atomic_load(&k->sent),
		       (int64_t)atomic_load(&k->dropped), failed);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->not_empty);
	pthread_cond_destroy(&k->not_full);
	free(k->ring);
	free(k->priv);
	k->inited = false;
}

void sink_set_close_counted(sink_set **ps, sink_counters *final)
{
	sink_set *s = *ps;
	if (!s)
		return;
	/* Stop every thread first so all queues drain in parallel. */
	for (int i = 0; i < s->n; i++)
		inst_signal_close(&s->sinks[i]);
	for (int i = 0; i < s->n; i++) {
		inst_join(&s->sinks[i]);
		inst_destroy(&s->sinks[i]);
		if (final)
			sink_set_counters(s, i, NULL, &final[i]);
	}
	free(s->sinks);
	free(s);
	*ps = NULL;
}

void sink_set_close(sink_set **ps) { sink_set_close_counted(ps, NULL); }

int sink_set_open_with(const sink_spec *specs, int n, sink_set **ret)
{
	if (n < 0 || (n > 0 && !specs))
		return -EINVAL;
	int err = -ENOMEM;
	sink_set *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sinks = calloc((size_t)(n ? n : 1), sizeof(*s->sinks));
	if (!s->sinks)
		goto fail;
	s->n = n;
	for (int i = 0; i < n; i++) {
		sink_inst *k = &s->sinks[i];
		if ((err = inst_init(k, &specs[i], i)) < 0)
			goto fail;
		k->opened = true;   /* close is owed even when open fails */
		if ((err = k->ops->open(k->priv, k->cfg, k->name)) < 0)
			goto fail;
		k->open_ok = true;
		atomic_store(&k->connected, k->ops->connected ? k->ops->connected(k->priv) != 0 : 1);
	}
	for (int i = 0; i < n; i++) {
		sink_inst *k = &s->sinks[i];
		if ((err = -pthread_create(&k->thread, NULL, sink_thread, k)) < 0) {
			vp_err("sink", k->name, "cannot start thread: %s", vp_strerror(err));
			goto fail;
		}
		k->started = true;
	}
	*ret = s;
	return 0;
fail:
	sink_set_close(&s);
	return err;
}

int sink_set_open(const pipe_config *cfg, sink_set **ret)
{
	sink_spec *specs = calloc((size_t)(cfg->n_sinks ? cfg->n_sinks : 1), sizeof(*specs));
	if (!specs)
		return -ENOMEM;
	int err = 0;
	for (int i = 0; i < cfg->n_sinks && err == 0; i++) {
		const char *type = sink_type_name(cfg->sinks[i].type);
		specs[i] = (sink_spec){ type ? sink_ops_find(type) : NULL, &cfg->sinks[i] };
		if (!specs[i].ops) {
			vp_err("sink", NULL, "sinks[%d]: unsupported sink type %s", i,
			       type ? type : "(unknown)");
			err = VP_EUNSUP;
		}
	}
	if (err == 0)
		err = sink_set_open_with(specs, cfg->n_sinks, ret);
	free(specs);
	return err;
}

static void publish_one(sink_inst *k, sink_msg *msg)
{
	pthread_mutex_lock(&k->lock);
	while (k->count == k->cap && !k->closing) {
		if (k->policy == PIPE_QP_DROP_OLDEST) {
			sink_msg_unref(&k->ring[k->head]);
			k->head = (k->head + 1) % k->cap;
			k->count--;
			atomic_fetch_add(&k->dropped, 1);
		} else {
			pthread_cond_wait(&k->not_full, &k->lock);
		}
	}
	if (!k->closing) {
		k->ring[(k->head + k->count) % k->cap] = sink_msg_ref(msg);
		k->count++;
		atomic_fetch_add(&k->accepted, 1);
		pthread_cond_signal(&k->not_empty);
	}
	pthread_mutex_unlock(&k->lock);
}

int sink_set_publish(sink_set *s, sink_msg *msg)
{
	if (!s || !msg)
		return -EINVAL;
	for (int i = 0; i < s->n; i++) {
		/* messages: 0 is a config made without the loader: every kind. */
		unsigned want = s->sinks[i].cfg->messages;
		if (!want || (want & PIPE_MSG_BIT(msg->kind)))
			publish_one(&s->sinks[i], msg);
	}
	return 0;
}

int sink_set_count(const sink_set *s) { return s ? s->n : 0; }

void sink_set_counters(const sink_set *s, int i, const char **name, sink_counters *ret)
{
	sink_inst *k = &s->sinks[i];
	if (name)
		*name = k->name;
	if (ret)
		*ret = (sink_counters){ atomic_load(&k->sent), atomic_load(&k->dropped),
		                        atomic_load(&k->failed), atomic_load(&k->accepted) };
}

int sink_set_connected(const sink_set *s, int i) { return atomic_load(&s->sinks[i].connected); }
