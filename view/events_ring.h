/* The reading side of the recent-events ring (events_ring.c), for http_view.c only: the
 * pipeline's side is view_events_* in view.h. */
#ifndef VIEW_EVENTS_RING_H
#define VIEW_EVENTS_RING_H

#include <stdint.h>
#include <stdio.h>

#include "view.h"

/* Every event message kept has a number: 1, 2, ... in the order pushed. */
enum {
	VIEW_EVENT_BYTES = 2048,   /* longest message kept (longer ones are counted, not kept) */
	VIEW_EVENTS_PER_READ = 100,
};

/* Writes the messages numbered after since, oldest first and at most VIEW_EVENTS_PER_READ of
 * the newest, comma-separated, to out; *ret_next gets the number of the newest one written
 * (since when none). A since beyond the newest (the daemon restarted under the page) counts as
 * 0. Returns how many were written, or -EIO. */
int view_events_read(view_events *e, uint64_t since, FILE *out, uint64_t *ret_next);
/* Messages not kept because they were longer than VIEW_EVENT_BYTES. */
int64_t view_events_too_long(view_events *e);

#endif
