/* Zones and lines of one stream: turns the anchors of the tracks output each frame into
 * zone_enter / zone_exit / line_cross events and running counts. Internal to analytics/. */
#ifndef AN_COUNTING_H
#define AN_COUNTING_H

#include <stdint.h>

#include "../pipeline/config.h"
#include "events.h"

/* A track output this frame: its id, (majority) class and anchor (bottom-centre of its
 * Kalman-filtered box, source pixels). */
typedef struct an_obs {
	int64_t track_id;
	int class_id;
	double x, y;
} an_obs;

typedef struct an_counting an_counting;

/* zones/lines are borrowed (they outlive the object); their classes[].id are resolved. */
int an_counting_new(const pipe_zone_cfg *zones, int n_zones, const pipe_line_cfg *lines,
                    int n_lines, an_counting **ret);
void an_counting_free(an_counting **c);

/* One frame: obs are the tracks output in it (a track's first observation never counts a
 * crossing), ended the ids of tracks removed in it (their zones are left). Events come out
 * in a fixed order (per track in obs order: zone exits, zone enters, line crossings; then
 * the exits of ended tracks); *ev stays valid until the next update or free. */
int an_counting_update(an_counting *c, const an_obs *obs, int n_obs, const int64_t *ended,
                       int n_ended, int64_t frame, double pts, int64_t wall_us,
                       const an_event **ev, int *n_ev);

/* Tracks inside zone i now; line i's totals. */
int an_counting_zone_occupancy(const an_counting *c, int i);
void an_counting_line_totals(const an_counting *c, int i, int64_t *in, int64_t *out);

#endif
