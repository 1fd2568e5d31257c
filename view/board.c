/* What the page shows of each stream: rows the daemon's tick replaces and HTTP threads copy.
 * A lock, not atomics: a row is read whole, and both sides hold it for a copy only. */
#include "view.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct view_board {
	pthread_mutex_t lock;
	view_stream_info *rows;
	int n, cap;
};

int view_board_new(view_board **ret)
{
	view_board *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	int err = -pthread_mutex_init(&b->lock, NULL);
	if (err < 0) {
		free(b);
		return err;
	}
	*ret = b;
	return 0;
}

void view_board_free(view_board **pb)
{
	view_board *b = *pb;
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->rows);
	free(b);
	*pb = NULL;
}

int view_board_set(view_board *b, const view_stream_info *rows, int n)
{
	if (n < 0)
		return -EINVAL;
	int err = 0;
	pthread_mutex_lock(&b->lock);
	if (n > b->cap) {     /* grows only when a reload adds streams: the tick does not allocate */
		view_stream_info *v = realloc(b->rows, (size_t)n * sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		b->rows = v;
		b->cap = n;
	}
	if (n > 0)
		memcpy(b->rows, rows, (size_t)n * sizeof(*rows));
	b->n = n;
out:
	pthread_mutex_unlock(&b->lock);
	return err;
}

int view_board_get(view_board *b, view_stream_info *rows, int max)
{
	pthread_mutex_lock(&b->lock);
	int n = b->n < max ? b->n : max;
	if (n > 0)
		memcpy(rows, b->rows, (size_t)n * sizeof(*rows));
	pthread_mutex_unlock(&b->lock);
	return n < 0 ? 0 : n;
}
