/* Analytics events (../shared/docs/output-schema.md, "Event messages"): what the
 * tracking, zone and line stages report besides frame messages. */
#ifndef AN_EVENTS_H
#define AN_EVENTS_H

#include <stdint.h>

enum an_event_kind {
	AN_EV_TRACK_START = 0,
	AN_EV_TRACK_END,
	AN_EV_ZONE_ENTER,
	AN_EV_ZONE_EXIT,
	AN_EV_LINE_CROSS,
};

typedef struct an_event {
	enum an_event_kind kind;
	int64_t track_id;
	int64_t frame;             /* the frame whose processing raised the event */
	double pts;                /* seconds */
	int64_t wall_us;           /* the frame's decode time (message "time") */
	int class_id;              /* the track's (majority) class */
	/* track_start: the detection's score and box; track_end: the best ones so far */
	float score;
	float bbox[4];
	/* track_end */
	int64_t first_frame, best_frame;
	double first_pts, duration_s;
	/* zones and lines: the name (borrowed from the config) */
	const char *name;
	double dwell_s;            /* zone_exit */
	int direction;             /* line_cross: +1 in, -1 out */
	int64_t in, out;           /* line_cross: the line's running totals, this crossing included */
} an_event;

/* "track_start", "track_end", "zone_enter", "zone_exit", "line_cross". */
const char *an_event_name(enum an_event_kind kind);

#endif
