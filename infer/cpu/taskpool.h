/* Internal to infer/: a small pool of persistent worker threads for the CPU kernels.
 * A job is a function and a task count; the calling thread claims tasks too, from the
 * same atomic counter as the workers, and returns as soon as every task is done. It
 * never waits for a worker that has not started: a worker that was descheduled (another
 * process holds its core) finds no task left and goes back to sleep, so the node costs
 * the caller's own time instead of a scheduler time slice, as an OpenMP barrier would. */
#ifndef INF_TASKPOOL_H
#define INF_TASKPOOL_H

#include <stdint.h>

typedef struct tp_pool tp_pool;

/* Runs task `task` of a job; `slot` (0 for the caller, 1.. for the workers, always
 * below tp_threads()) indexes per-participant scratch space. */
typedef void (*tp_fn)(void *arg, int64_t task, int slot);

/* A pool for `threads` participants: the caller and threads - 1 workers (none when
 * threads <= 1, then tp_run runs every task on the caller). */
int tp_new(tp_pool **ret, int threads);
/* Stops and joins the workers; NULL-safe. */
void tp_free(tp_pool **pool);

/* Participants, the caller included: the largest slot + 1. */
int tp_threads(const tp_pool *pool);

/* Runs fn(arg, t, slot) once for each t in [0, tasks) and returns when all are done.
 * With nth <= 1, a NULL pool, or while the pool runs another job (a nested call from a
 * task, or a second thread), the tasks run in order on the calling thread with slot 0:
 * a nested caller must not use slot-indexed scratch that the outer job uses. */
void tp_run(tp_pool *pool, int nth, int64_t tasks, tp_fn fn, void *arg);

#endif
