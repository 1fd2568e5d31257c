#include "mqueue.h"
#include "vp_err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct ring {
	void **items;
	int depth, head, count;
	enum pipe_mq_policy policy;
	bool in_use, closed, end_reported;
	int64_t dropped;
	pthread_cond_t not_full;
} ring;

struct pipe_mq {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	ring *rings;
	int n, cursor, n_open;   /* n slots; n_open in use and not yet reported ended (+1 held) */
	bool shutdown;
	bool held;
	pipe_mq_drop_fn drop;
};

int pipe_mq_new(int n_streams, pipe_mq_drop_fn drop, pipe_mq **ret)
{
	pipe_mq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->rings = calloc((size_t)n_streams, sizeof(*q->rings));
	if (!q->rings) {
		free(q);
		return -ENOMEM;
	}
	q->n = n_streams;
	q->drop = drop;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->not_empty, &ca);
	for (int i = 0; i < n_streams; i++)
		pthread_cond_init(&q->rings[i].not_full, NULL);
	pthread_condattr_destroy(&ca);
	*ret = q;
	return 0;
}

int pipe_mq_setup(pipe_mq *q, int i, int depth, enum pipe_mq_policy policy)
{
	ring *r = &q->rings[i];
	if (depth < 1 || i < 0 || i >= q->n)
		return -EINVAL;
	void **items = calloc((size_t)depth, sizeof(*items));
	if (!items)
		return -ENOMEM;
	pthread_mutex_lock(&q->lock);
	if (r->in_use && !r->end_reported) {
		pthread_mutex_unlock(&q->lock);
		free(items);
		return -EBUSY;
	}
	free(r->items);
	r->items = items;
	r->depth = depth;
	r->policy = policy;
	r->head = r->count = 0;
	r->dropped = 0;
	r->in_use = true;
	r->closed = r->end_reported = false;
	q->n_open++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static void *ring_take(ring *r)
{
	void *it = r->items[r->head];
	r->head = (r->head + 1) % r->depth;
	r->count--;
	return it;
}

int pipe_mq_push(pipe_mq *q, int i, void *item)
{
	ring *r = &q->rings[i];
	void *dropped = NULL;
	pthread_mutex_lock(&q->lock);
	while (r->policy == PIPE_MQ_BLOCK && r->count == r->depth && !q->shutdown)
		pthread_cond_wait(&r->not_full, &q->lock);
	if (q->shutdown && r->count == r->depth) {
		pthread_mutex_unlock(&q->lock);
		return VP_ECLOSED;
	}
	if (r->count == r->depth) {
		dropped = ring_take(r);
		r->dropped++;
	}
	r->items[(r->head + r->count) % r->depth] = item;
	r->count++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	/* Outside the lock: dropping a frame may run its pool's release callback. */
	if (dropped && q->drop)
		q->drop(dropped);
	return 0;
}

void pipe_mq_close(pipe_mq *q, int i)
{
	pthread_mutex_lock(&q->lock);
	q->rings[i].closed = true;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

/* One round-robin sweep; caller holds the lock. */
static int take_round(pipe_mq *q, int max, int got, void **items, int *streams, int *ended,
                      int *n_ended)
{
	for (int k = 0; k < q->n && got < max; k++) {
		int i = (q->cursor + k) % q->n;
		ring *r = &q->rings[i];
		if (r->count > 0) {
			streams[got] = i;
			items[got++] = ring_take(r);
			pthread_cond_signal(&r->not_full);
		} else if (r->in_use && r->closed && !r->end_reported) {
			r->end_reported = true;
			q->n_open--;
			ended[(*n_ended)++] = i;
		}
	}
	return got;
}

static bool have_work(const pipe_mq *q)
{
	for (int i = 0; i < q->n; i++) {
		const ring *r = &q->rings[i];
		if (r->count > 0 || (r->in_use && r->closed && !r->end_reported))
			return true;
	}
	return false;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int pipe_mq_pop_batch(pipe_mq *q, int max, int timeout_ms, void **items, int *streams,
                      int *ended, int *n_ended)
{
	int got = 0;
	*n_ended = 0;
	pthread_mutex_lock(&q->lock);
	while (q->n_open > 0 && !have_work(q))
		pthread_cond_wait(&q->not_empty, &q->lock);
	struct timespec deadline;
	deadline_after(&deadline, timeout_ms);
	for (;;) {
		int before = got;
		got = take_round(q, max, got, items, streams, ended, n_ended);
		if (got > before)
			q->cursor = (streams[got - 1] + 1) % q->n;
		/* Stop when full, when every stream ended, or when ends must be reported now. */
		if (got >= max || q->n_open == 0 || *n_ended > 0)
			break;
		if (have_work(q))
			continue;
		if (got == 0) {
			pthread_cond_wait(&q->not_empty, &q->lock);
			continue;
		}
		if (pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline) != 0 && !have_work(q))
			break;
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

void pipe_mq_hold(pipe_mq *q, int on)
{
	pthread_mutex_lock(&q->lock);
	/* The hold counts as one more open stream, so "every open stream ended" waits for it. */
	if (on && !q->held)
		q->n_open++;
	else if (!on && q->held)
		q->n_open--;
	q->held = on != 0;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

int pipe_mq_has_work(pipe_mq *q)
{
	pthread_mutex_lock(&q->lock);
	int r = have_work(q) || q->n_open == 0;
	pthread_mutex_unlock(&q->lock);
	return r;
}

int64_t pipe_mq_dropped(pipe_mq *q, int i)
{
	pthread_mutex_lock(&q->lock);
	int64_t d = q->rings[i].dropped;
	pthread_mutex_unlock(&q->lock);
	return d;
}

void pipe_mq_shutdown(pipe_mq *q)
{
	pthread_mutex_lock(&q->lock);
	q->shutdown = true;
	for (int i = 0; i < q->n; i++)
		pthread_cond_broadcast(&q->rings[i].not_full);
	pthread_mutex_unlock(&q->lock);
}

void pipe_mq_free(pipe_mq **pq)
{
	pipe_mq *q = *pq;
	if (!q)
		return;
	*pq = NULL;
	for (int i = 0; i < q->n; i++) {
		ring *r = &q->rings[i];
		while (r->count > 0) {
			void *it = ring_take(r);
			if (q->drop)
				q->drop(it);
		}
		free(r->items);
		pthread_cond_destroy(&r->not_full);
	}
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->lock);
	free(q->rings);
	free(q);
}
