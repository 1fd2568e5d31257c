/* Task pool (see taskpool.h). One 64-bit word holds the current job: generation,
 * task count and next unclaimed task. A participant claims a task with a CAS on it;
 * the CAS fails once the caller has published another job, so a late worker never
 * runs a task of a job that is over, and it reads the job's function only after a
 * successful claim, while the job cannot finish. Workers spin briefly on the
 * generation, then sleep on a futex. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_fpu.h"
#include "pipeline/vp_log.h"
#include "taskpool.h"

#define TASK_BITS 20
#define TASK_MASK ((UINT64_C(1) << TASK_BITS) - 1)
#define MAX_TASKS ((int64_t)TASK_MASK)
/* Generations wrap at 2^24 jobs: a stale word could only match again if a worker
 * stalled between reading it and its CAS for that many jobs. */
#define GEN_MASK ((UINT64_C(1) << (64 - 2 * TASK_BITS)) - 1)

/* Polls of the generation before a worker sleeps (about 25-50 us): enough to bridge
 * the gap between two nodes. Longer spins (20000, as GOMP_SPINCOUNT) cost nothing when
 * the machine is quiet but, when another process keeps a core busy, a spinning worker
 * shares the caller's core and halves its speed: YOLOX-Nano batch 1 on 2 threads with
 * one core busy, median 24.6 ms at 20000 polls, 17.0 at 1000 (14.9 on one thread). */
#define WORKER_SPINS 1000
/* Polls of the done count before the caller sleeps. */
#define CALLER_SPINS 2000

typedef struct tp_worker {
	tp_pool *pool;
	pthread_t tid;
	int slot;
} tp_worker;

struct tp_pool {
	_Atomic uint64_t word;        /* gen << 40 | tasks << 20 | next */
	_Atomic uint32_t gen;         /* futex: bumped for every job and at shutdown */
	_Atomic uint32_t done;        /* futex: tasks of the current job finished */
	_Atomic int caller_waits;     /* the caller sleeps on done */
	_Atomic int sleepers;
	_Atomic int busy;             /* a tp_run is in progress */
	_Atomic int stop;
	tp_fn fn;                     /* the current job, written before its word */
	void *arg;
	int threads;
	int started;
	tp_worker *workers;
};

static inline uint64_t word_make(uint64_t gen, int64_t tasks)
{
	return (gen & GEN_MASK) << (2 * TASK_BITS) | (uint64_t)tasks << TASK_BITS;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Claims and runs tasks of the current job until none is left. */
static void work(tp_pool *p, int slot)
{
	uint64_t w = atomic_load_explicit(&p->word, memory_order_acquire);

	for (;;) {
		uint64_t next = w & TASK_MASK, tasks = w >> TASK_BITS & TASK_MASK;

		if (next >= tasks)
			return;
		if (!atomic_compare_exchange_weak_explicit(&p->word, &w, w + 1, memory_order_acquire,
		                                           memory_order_acquire))
			continue;
		p->fn(p->arg, (int64_t)next, slot);
		if (atomic_fetch_add(&p->done, 1) + 1 == tasks && atomic_load(&p->caller_waits))
			futex_wake_all(&p->done);
		w = atomic_load_explicit(&p->word, memory_order_acquire);
	}
}

static void *worker_main(void *arg)
{
	tp_worker *wk = arg;
	tp_pool *p = wk->pool;
	uint32_t seen = 0;

	vp_fpu_flush_denormals();
	for (;;) {
		uint32_t g = atomic_load_explicit(&p->gen, memory_order_acquire);

		for (int i = 0; g == seen && i < WORKER_SPINS; i++) {
			cpu_relax();
			g = atomic_load_explicit(&p->gen, memory_order_acquire);
		}
		if (g == seen) {
			atomic_fetch_add(&p->sleepers, 1);
			if (atomic_load(&p->gen) == seen)
				futex_wait(&p->gen, seen);
			atomic_fetch_sub(&p->sleepers, 1);
			continue;
		}
		seen = g;
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			return NULL;
		work(p, wk->slot);
	}
}

static void publish(tp_pool *p)
{
	atomic_fetch_add(&p->gen, 1);
	if (atomic_load(&p->sleepers) > 0)
		futex_wake_all(&p->gen);
}

int tp_new(tp_pool **ret, int threads)
{
	tp_pool *p = calloc(1, sizeof(*p));
	int err = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->threads = threads > 1 ? threads : 1;
	if (p->threads > 1 && !(p->workers = calloc((size_t)p->threads - 1, sizeof(*p->workers))))
		goto fail;
	for (int i = 0; i < p->threads - 1; i++, p->started++) {
		p->workers[i] = (tp_worker){ .pool = p, .slot = i + 1 };
		if ((err = -pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i])) < 0) {
			vp_err("infer", "taskpool", "cannot start worker %d of %d: %s", i + 1, p->threads - 1,
			       vp_strerror(err));
			goto fail;
		}
	}
	*ret = p;
	return 0;
fail:
	tp_free(&p);
	return err;
}

void tp_free(tp_pool **pool)
{
	tp_pool *p = *pool;

	if (!p)
		return;
	atomic_store(&p->stop, 1);
	publish(p);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->workers[i].tid, NULL);
	free(p->workers);
	free(p);
	*pool = NULL;
}

int tp_threads(const tp_pool *pool)
{
	return pool ? pool->threads : 1;
}

static void run_inline(int64_t tasks, tp_fn fn, void *arg)
{
	for (int64_t t = 0; t < tasks; t++)
		fn(arg, t, 0);
}

/* One job of at most MAX_TASKS tasks, the first task numbered `base`. */
typedef struct chunk {
	tp_fn fn;
	void *arg;
	int64_t base;
} chunk;

static void chunk_task(void *arg, int64_t task, int slot)
{
	const chunk *c = arg;

	c->fn(c->arg, c->base + task, slot);
}

static void run_job(tp_pool *p, int64_t tasks, tp_fn fn, void *arg)
{
	uint64_t gen = atomic_load_explicit(&p->word, memory_order_relaxed) >> (2 * TASK_BITS);

	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	atomic_store_explicit(&p->word, word_make(gen + 1, tasks), memory_order_release);
	publish(p);
	work(p, 0);
	/* The tasks left run on workers that claimed them. The caller sleeps rather than
	 * yields when they take long: a worker that another process preempted is then
	 * pulled onto the caller's idle core instead of waiting for its own. */
	for (int i = 0;; i++) {
		uint32_t d = atomic_load_explicit(&p->done, memory_order_acquire);

		if (d >= (uint32_t)tasks)
			break;
		if (i < CALLER_SPINS) {
			cpu_relax();
			continue;
		}
		atomic_store(&p->caller_waits, 1);
		if (atomic_load(&p->done) == d)
			futex_wait(&p->done, d);
	}
	atomic_store_explicit(&p->caller_waits, 0, memory_order_relaxed);
}

void tp_run(tp_pool *pool, int nth, int64_t tasks, tp_fn fn, void *arg)
{
	int idle = 0;

	if (tasks <= 0)
		return;
	if (!pool || pool->threads <= 1 || nth <= 1 || tasks == 1 ||
	    !atomic_compare_exchange_strong(&pool->busy, &idle, 1)) {
		run_inline(tasks, fn, arg);
		return;
	}
	if (tasks <= MAX_TASKS) {
		run_job(pool, tasks, fn, arg);
	} else {
		for (chunk c = { fn, arg, 0 }; c.base < tasks; c.base += MAX_TASKS)
			run_job(pool, tasks - c.base < MAX_TASKS ? tasks - c.base : MAX_TASKS, chunk_task, &c);
	}
	atomic_store_explicit(&pool->busy, 0, memory_order_release);
}
