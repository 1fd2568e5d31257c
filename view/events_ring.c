/* The recent events for the page: a ring of copies of the last `capacity` event messages.
 * Slots are allocated once, so a push is a bounded copy under a lock held for that copy only;
 * a reader copies what it wants into its own buffer under the same lock (at most
 * VIEW_EVENTS_PER_READ messages) and formats it after letting go, so neither side waits on
 * the other's I/O. */
#include "events_ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct ev_slot {
	uint64_t seq;              /* 0: empty */
	size_t len;
	char json[VIEW_EVENT_BYTES];
} ev_slot;

struct view_events {
	pthread_mutex_t lock;
	int capacity;
	uint64_t newest;           /* seq of the last push; slot (seq - 1) % capacity */
	int64_t too_long;
	ev_slot *slots;
};

int view_events_new(int capacity, view_events **ret)
{
	if (capacity < 1)
		return -EINVAL;
	view_events *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	int err = -ENOMEM;
	e->capacity = capacity;
	e->slots = calloc((size_t)capacity, sizeof(*e->slots));
	if (!e->slots)
		goto fail;
	if ((err = -pthread_mutex_init(&e->lock, NULL)) < 0)
		goto fail;
	*ret = e;
	return 0;
fail:
	free(e->slots);
	free(e);
	return err;
}

void view_events_free(view_events **pe)
{
	view_events *e = *pe;
	if (!e)
		return;
	pthread_mutex_destroy(&e->lock);
	free(e->slots);
	free(e);
	*pe = NULL;
}

void view_events_push(view_events *e, const char *json, size_t len)
{
	if (!e)
		return;
	while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == '\r' || json[len - 1] == ' '))
		len--;     /* messages end with a newline: the list joins them with commas */
	pthread_mutex_lock(&e->lock);
	if (len == 0 || len > VIEW_EVENT_BYTES) {
		e->too_long += len > 0;
		goto out;
	}
	ev_slot *s = &e->slots[e->newest % (uint64_t)e->capacity];
	s->seq = ++e->newest;
	s->len = len;
	memcpy(s->json, json, len);
out:
	pthread_mutex_unlock(&e->lock);
}

/* Copies the slots numbered first..last (in the ring) into buf, each followed by a comma. */
static size_t copy_range(view_events *e, uint64_t first, uint64_t last, char *buf)
{
	size_t off = 0;
	for (uint64_t q = first; q <= last; q++) {
		const ev_slot *s = &e->slots[(q - 1) % (uint64_t)e->capacity];
		memcpy(buf + off, s->json, s->len);
		off += s->len;
		buf[off++] = ',';
	}
	return off;
}

int view_events_read(view_events *e, uint64_t since, FILE *out, uint64_t *ret_next)
{
	char *buf = malloc((size_t)VIEW_EVENTS_PER_READ * (VIEW_EVENT_BYTES + 1));
	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&e->lock);
	uint64_t newest = e->newest, cap = (uint64_t)e->capacity;
	if (since > newest)
		since = 0;
	uint64_t first = since + 1, oldest = newest >= cap ? newest - cap + 1 : 1;
	if (first < oldest)
		first = oldest;
	if (newest >= VIEW_EVENTS_PER_READ && first < newest - VIEW_EVENTS_PER_READ + 1)
		first = newest - VIEW_EVENTS_PER_READ + 1;
	size_t len = first <= newest ? copy_range(e, first, newest, buf) : 0;
	pthread_mutex_unlock(&e->lock);
	int n = first <= newest ? (int)(newest - first + 1) : 0;
	if (len > 0 && fwrite(buf, 1, len - 1, out) != len - 1)   /* without the last comma */
		n = -EIO;
	free(buf);
	*ret_next = n > 0 ? newest : since;
	return n;
}

int64_t view_events_too_long(view_events *e)
{
	pthread_mutex_lock(&e->lock);
	int64_t n = e->too_long;
	pthread_mutex_unlock(&e->lock);
	return n;
}
