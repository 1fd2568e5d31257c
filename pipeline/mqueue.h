/* A set of bounded per-stream queues with one consumer: producers (one per stream) push,
 * the batcher pops up to N items round-robin across streams, so a busy stream cannot
 * starve a quiet one. One lock and two wait conditions; nothing busy-waits. */
#ifndef PIPE_MQUEUE_H
#define PIPE_MQUEUE_H

#include <stdint.h>

enum pipe_mq_policy { PIPE_MQ_BLOCK = 0, PIPE_MQ_DROP_OLDEST };

typedef struct pipe_mq pipe_mq;

/* Called on items the queue discards (drop_oldest) or still holds when freed. */
typedef void (*pipe_mq_drop_fn)(void *item);

/* capacity: stream slots; a slot is in use from pipe_mq_setup until its end was reported. */
int pipe_mq_new(int capacity, pipe_mq_drop_fn drop, pipe_mq **ret);
/* Opens slot i for a stream (a new one, or one whose end was reported); depth >= 1. */
int pipe_mq_setup(pipe_mq *q, int i, int depth, enum pipe_mq_policy policy);
/* Consumes item. block: waits for room (returns VP_ECLOSED, item untouched, if the
 * queue was shut down meanwhile); drop_oldest: discards the oldest item when full. */
int pipe_mq_push(pipe_mq *q, int i, void *item);
/* Marks stream i ended: the consumer sees it after its remaining items. */
void pipe_mq_close(pipe_mq *q, int i);
/* Takes up to max items, at most one per stream per round. Waits until at least one item
 * (or an end) is available, then until max items are ready or timeout_ms passed since
 * the first one. Streams that ended and are drained are reported once each in ended[]
 * (*n_ended). Returns the item count; 0 with *n_ended == 0 means every open stream ended. */
int pipe_mq_pop_batch(pipe_mq *q, int max, int timeout_ms, void **items, int *streams,
                      int *ended, int *n_ended);
/* on: the consumer keeps waiting while no stream is open (a fleet node between cameras);
 * off again: it sees the end once every stream ended. */
void pipe_mq_hold(pipe_mq *q, int on);
/* Whether pipe_mq_pop_batch would find an item or an end now, without waiting for one. */
int pipe_mq_has_work(pipe_mq *q);
/* Items discarded by drop_oldest for stream i so far. */
int64_t pipe_mq_dropped(pipe_mq *q, int i);
/* Unblocks producers waiting for room (they get VP_ECLOSED); used on shutdown. */
void pipe_mq_shutdown(pipe_mq *q);
void pipe_mq_free(pipe_mq **q);

#endif
