/* The analytics stage: what follows the detector for one stream. A ByteTrack tracker (one,
 * or one per class) turns detections into tracks with ids; zones and lines count the
 * tracks' anchors; track_start / track_end / zone_enter / zone_exit / line_cross events
 * come out in frame order. Runs on the engine thread, on host data (the detections are
 * there already), whatever backend made them. */
#ifndef AN_ANALYTICS_H
#define AN_ANALYTICS_H

#include <stdint.h>

#include "../pipeline/config.h"
#include "../pipeline/vp_det.h"
#include "events.h"

typedef struct an_stream an_stream;

/* What one frame produced; the arrays belong to the stream and stay valid until its next
 * update, end or free. */
typedef struct an_result {
	const int64_t *track_ids;   /* per input detection: its confirmed track's id, or -1 */
	const unsigned char *best;  /* per input detection: 1 when it became its track's best
	                             * (highest score so far: the track_end event's best_*) */
	const an_event *events;     /* in order: track starts, zone and line events, track ends */
	int n_events;
} an_result;

/* tracker and src are borrowed (they outlive the stream); zone and line classes resolved.
 * num_classes: the model's class count (class ids are below it). next_id: the counter
 * track ids come from (borrowed; ++*next_id is a new track's id), shared by every stream
 * of a pipeline and kept across a stream's restarts, so an id is never reused. */
int an_stream_new(const pipe_tracker_cfg *tracker, const pipe_source_cfg *src, int num_classes,
                  int64_t *next_id, an_stream **ret);
void an_stream_free(an_stream **s);

/* One processed frame with every candidate detection (also those below the message
 * thresholds: the tracker's second association uses them). frame_dur: the stream's frame
 * period in seconds; skipped or dropped frames advance the tracks by the time elapsed.
 * Returns 0 or -ENOMEM (the frame is then not tracked). */
int an_stream_update(an_stream *s, int64_t frame, double pts, double frame_dur, int64_t wall_us,
                     const vp_det *dets, int n, an_result *ret);

/* The stream ended (or stops): every track still held ends, zones are left. The events
 * carry frame, pts and wall_us; the stream starts afresh afterwards. */
int an_stream_end(an_stream *s, int64_t frame, double pts, int64_t wall_us, an_result *ret);

/* Confirmed tracks that took a detection in the last frame. */
int an_stream_active_tracks(const an_stream *s);
/* Tracks inside zone i of the source now; line i's running totals. */
int an_stream_zone_occupancy(const an_stream *s, int i);
void an_stream_line_totals(const an_stream *s, int i, int64_t *in, int64_t *out);

#endif
