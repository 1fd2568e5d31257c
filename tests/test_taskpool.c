/* Task pool (infer/cpu/taskpool.c): every task runs exactly once with a valid slot, the
 * caller finishes a job alone while every worker is held off its core (here: stuck in
 * a signal handler, as a preempted thread would be), nested and concurrent calls run
 * inline, many jobs in a row lose no wake-up, the pool shuts down cleanly, and every
 * worker flushes denormal floats to zero (FTZ/DAZ), whatever its creator's FPU mode. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "infer/cpu/taskpool.h"
#include "pipeline/vp_fpu.h"

#define MANY 20000

typedef struct counts {
	_Atomic int *hits;
	_Atomic int slot_bad;
	_Atomic int by_slot[8];
	int threads;
	tp_pool *pool;                /* for the nested test */
} counts;

static void count_task(void *arg, int64_t t, int slot)
{
	counts *c = arg;

	atomic_fetch_add(&c->hits[t], 1);
	if (slot < 0 || slot >= c->threads)
		atomic_store(&c->slot_bad, 1);
	else if (slot < 8)
		atomic_fetch_add(&c->by_slot[slot], 1);
}

static counts *counts_new(int64_t tasks, int threads)
{
	counts *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->hits = calloc((size_t)tasks, sizeof(*c->hits));
	assert_non_null(c->hits);
	c->threads = threads;
	return c;
}

static void counts_free(counts *c)
{
	free((void *)c->hits);
	free(c);
}

static void assert_each_once(const counts *c, int64_t tasks)
{
	for (int64_t t = 0; t < tasks; t++)
		if (atomic_load(&c->hits[t]) != 1)
			fail_msg("task %lld ran %d times", (long long)t, atomic_load(&c->hits[t]));
	assert_int_equal(atomic_load(&c->slot_bad), 0);
}

static void test_every_task_runs_exactly_once(void **state)
{
	(void)state;
	static const int threads[] = { 1, 2, 4 };

	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		tp_pool *p = NULL;
		counts *c = counts_new(MANY, threads[i]);

		assert_int_equal(tp_new(&p, threads[i]), 0);
		assert_int_equal(tp_threads(p), threads[i]);
		tp_run(p, threads[i], MANY, count_task, c);
		assert_each_once(c, MANY);
		tp_free(&p);
		assert_null(p);
		counts_free(c);
	}
}

/* More tasks than one job's counter holds: the pool runs them as several jobs. */
static void test_tasks_beyond_one_job_run_once(void **state)
{
	(void)state;
	int64_t tasks = (INT64_C(1) << 20) + 37;
	tp_pool *p = NULL;
	counts *c = counts_new(tasks, 2);

	assert_int_equal(tp_new(&p, 2), 0);
	tp_run(p, 2, tasks, count_task, c);
	assert_each_once(c, tasks);
	tp_free(&p);
	counts_free(c);
}

/* Thousands of small jobs in a row: a lost wake-up or a stale claim would hang or
 * run a task twice. */
static void test_serial_jobs(void **state)
{
	(void)state;
	tp_pool *p = NULL;
	counts *c = counts_new(64, 3);

	assert_int_equal(tp_new(&p, 3), 0);
	for (int j = 0; j < 5000; j++) {
		int64_t tasks = 1 + j % 64;

		memset((void *)c->hits, 0, 64 * sizeof(*c->hits));
		tp_run(p, 3, tasks, count_task, c);
		assert_each_once(c, tasks);
		if (j % 1000 == 999)
			usleep(20000);  /* let the workers fall asleep on the futex */
	}
	tp_free(&p);
	counts_free(c);
}

static void nested_task(void *arg, int64_t t, int slot)
{
	counts *c = arg;

	(void)slot;
	/* the inner job: tasks 1000 + 10 t .. + 9, inline on this thread */
	tp_run(c->pool, c->threads, 10, count_task, &(counts){ .hits = c->hits + 1000 + 10 * t, .threads = 1 });
	count_task(arg, t, slot);
}

static void test_nested_calls_run_inline(void **state)
{
	(void)state;
	tp_pool *p = NULL;
	counts *c = counts_new(2000, 2);

	assert_int_equal(tp_new(&p, 2), 0);
	c->pool = p;
	tp_run(p, 2, 100, nested_task, c);
	assert_each_once(c, 100);
	for (int64_t t = 1000; t < 2000; t++)
		assert_int_equal(atomic_load(&c->hits[t]), 1);
	tp_free(&p);
	counts_free(c);
}

typedef struct caller_arg {
	tp_pool *pool;
	counts *c;
} caller_arg;

static void *caller_main(void *arg)
{
	caller_arg *a = arg;

	for (int j = 0; j < 200; j++)
		tp_run(a->pool, 2, 50, count_task, a->c);
	return NULL;
}

/* Two threads sharing one pool: one of them runs inline while the other's job is on. */
static void test_concurrent_callers(void **state)
{
	(void)state;
	tp_pool *p = NULL;
	counts *c1 = counts_new(50, 2), *c2 = counts_new(50, 2);
	pthread_t t1, t2;

	assert_int_equal(tp_new(&p, 2), 0);
	assert_int_equal(pthread_create(&t1, NULL, caller_main, &(caller_arg){ p, c1 }), 0);
	assert_int_equal(pthread_create(&t2, NULL, caller_main, &(caller_arg){ p, c2 }), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	for (int t = 0; t < 50; t++) {
		assert_int_equal(atomic_load(&c1->hits[t]), 200);
		assert_int_equal(atomic_load(&c2->hits[t]), 200);
	}
	assert_int_equal(atomic_load(&c1->slot_bad) | atomic_load(&c2->slot_bad), 0);
	tp_free(&p);
	counts_free(c1);
	counts_free(c2);
}

/* ---- workers held off their cores ---- */

static int hold_pipe[2];
static _Atomic int held;

static void hold_handler(int sig)
{
	char b;

	(void)sig;
	atomic_fetch_add(&held, 1);
	/* read() is async-signal-safe: the thread stays here until the test writes */
	while (read(hold_pipe[0], &b, 1) < 0)
		;
	atomic_fetch_sub(&held, 1);
}

#define MAX_TIDS 64

/* The process's thread ids (libraries may have started some: OpenBLAS, ASan). */
static int list_threads(pid_t *tids)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) && n < MAX_TIDS)
		if (atoi(e->d_name) > 0)
			tids[n++] = (pid_t)atoi(e->d_name);
	closedir(d);
	return n;
}

/* Sends SIGUSR1 to the threads that are not in before[]: the pool's workers. */
static int hold_new_threads(const pid_t *before, int n_before)
{
	pid_t now[MAX_TIDS];
	int n_now = list_threads(now), n = 0;

	for (int i = 0; i < n_now; i++) {
		int old = 0;

		for (int j = 0; j < n_before; j++)
			old |= now[i] == before[j];
		if (!old) {
			assert_int_equal(syscall(SYS_tgkill, getpid(), now[i], SIGUSR1), 0);
			n++;
		}
	}
	return n;
}

static void test_caller_finishes_alone_while_workers_are_held(void **state)
{
	(void)state;
	struct sigaction sa = { .sa_handler = hold_handler };
	tp_pool *p = NULL;
	counts *c = counts_new(MANY, 3);
	pid_t before[MAX_TIDS];
	int n, n_before = list_threads(before);

	assert_int_equal(pipe(hold_pipe), 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(tp_new(&p, 3), 0);
	tp_run(p, 3, 100, count_task, c);  /* the workers have started and wait for jobs */
	memset((void *)c->hits, 0, MANY * sizeof(*c->hits));
	memset((void *)c->by_slot, 0, sizeof(c->by_slot));
	n = hold_new_threads(before, n_before);
	assert_int_equal(n, 2);
	while (atomic_load(&held) < n)
		usleep(1000);
	/* with both workers stuck, the job must still finish, all of it on slot 0 */
	tp_run(p, 3, MANY, count_task, c);
	assert_each_once(c, MANY);
	assert_int_equal(atomic_load(&c->by_slot[0]), MANY);
	/* released, the workers find the job over and take part in the next ones */
	assert_int_equal(write(hold_pipe[1], "xx", 2), 2);
	while (atomic_load(&held) > 0)
		usleep(1000);
	memset((void *)c->hits, 0, MANY * sizeof(*c->hits));
	tp_run(p, 3, MANY, count_task, c);
	assert_each_once(c, MANY);
	tp_free(&p);
	counts_free(c);
	close(hold_pipe[0]);
	close(hold_pipe[1]);
	signal(SIGUSR1, SIG_DFL);
}

static void test_new_free_cycles_and_null(void **state)
{
	(void)state;
	tp_pool *p = NULL;
	counts *c = counts_new(8, 4);

	tp_free(&p);  /* NULL-safe */
	tp_run(NULL, 4, 8, count_task, c);  /* no pool: inline */
	assert_each_once(c, 8);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(tp_new(&p, 1 + i % 4), 0);
		if (i % 2) {
			memset((void *)c->hits, 0, 8 * sizeof(*c->hits));
			c->threads = tp_threads(p);
			tp_run(p, c->threads, 8, count_task, c);
			assert_each_once(c, 8);
		}
		tp_free(&p);  /* right after start or right after a job */
		assert_null(p);
	}
	counts_free(c);
}

/* Each participant records its own FPU mode. tasks = participants and each task waits
 * (up to a deadline) until every slot has taken one, so every worker runs exactly one. */
typedef struct fpu_seen {
	_Atomic int taken[8], flushes[8], zero[8];
	int threads;
} fpu_seen;

static int slots_taken(fpu_seen *f)
{
	int n = 0;
	for (int i = 0; i < f->threads; i++)
		n += atomic_load(&f->taken[i]) > 0;
	return n;
}

static void fpu_task(void *arg, int64_t t, int slot)
{
	fpu_seen *f = arg;
	(void)t;
	/* volatile: computed here at run time, on this thread, not folded by the compiler */
	volatile float small = 1e-20f, denormal = 1e-40f, one = 1.0f;
	float product = small * small;    /* 1e-40: a denormal result unless flushed (FTZ) */
	float operand = denormal * one;   /* a denormal operand unless read as 0 (DAZ) */
	atomic_store(&f->flushes[slot], vp_fpu_flushes_denormals());
	atomic_store(&f->zero[slot], product == 0.0f && operand == 0.0f);
	atomic_fetch_add(&f->taken[slot], 1);
	for (int i = 0; i < 100000 && slots_taken(f) < f->threads; i++)
		usleep(100);  /* 10 s at most */
}

static void test_workers_flush_denormals_to_zero(void **state)
{
	(void)state;
#if !defined(__x86_64__) && !defined(__i386__)
	skip();
#endif
	tp_pool *p = NULL;
	fpu_seen f = { .threads = 3 };
	assert_int_equal(tp_new(&p, f.threads), 0);
	tp_run(p, f.threads, f.threads, fpu_task, &f);
	tp_free(&p);
	assert_int_equal(slots_taken(&f), f.threads);
	for (int slot = 1; slot < f.threads; slot++) {  /* slot 0 is this thread: not the pool's */
		if (!atomic_load(&f.flushes[slot]))
			fail_msg("worker %d: MXCSR FTZ|DAZ not set", slot);
		if (!atomic_load(&f.zero[slot]))
			fail_msg("worker %d: a denormal product or operand was not flushed to 0", slot);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_task_runs_exactly_once),
		cmocka_unit_test(test_tasks_beyond_one_job_run_once),
		cmocka_unit_test(test_serial_jobs),
		cmocka_unit_test(test_nested_calls_run_inline),
		cmocka_unit_test(test_concurrent_callers),
		cmocka_unit_test(test_caller_finishes_alone_while_workers_are_held),
		cmocka_unit_test(test_new_free_cycles_and_null),
		cmocka_unit_test(test_workers_flush_denormals_to_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
