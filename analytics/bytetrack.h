/* ByteTrack (Zhang et al., ECCV 2022) as the official ifzhang/ByteTrack BYTETracker does
 * it: a constant-velocity Kalman filter on (cx, cy, aspect, h), a first association of the
 * tracked and lost tracks with the high-score detections (cost 1 - IoU*score), a second one
 * of the remaining tracked tracks with the low-score detections (cost 1 - IoU), unconfirmed
 * tracks matched last, new tracks from what is left. One instance per stream (or per class
 * and stream); not thread-safe. Internal to analytics/ (the stage's door is analytics.h). */
#ifndef AN_BYTETRACK_H
#define AN_BYTETRACK_H

#include <stdint.h>

#include "../pipeline/vp_det.h"

typedef struct an_bt_params {
	float high_threshold;      /* detections with score > this: first association, new tracks */
	float low_threshold;       /* low < score < high: second association */
	float new_track_threshold; /* an unmatched high detection starts a track at score >= this */
	float match_threshold;     /* the first association matches cost <= this */
	int max_lost;              /* frames a lost track is kept (lost_frames * fps / 30) */
} an_bt_params;

/* A confirmed track that took a detection this frame. */
typedef struct an_bt_track {
	uint64_t key;              /* unique within this tracker for its life, in creation order */
	int det;                   /* index into this update's detections */
	float box[4];              /* Kalman-filtered x1, y1, x2, y2 after this frame's update */
	float score;               /* the detection's score */
} an_bt_track;

/* What one update produced; the arrays belong to the tracker and stay valid until its
 * next update or free. */
typedef struct an_bt_result {
	const an_bt_track *tracks; /* confirmed tracks updated this frame */
	int n_tracks;
	const uint64_t *ended;     /* keys of confirmed tracks dropped by this update (a lost
	                            * track past max_lost leaves one update after it times out,
	                            * as in the official list arithmetic) */
	int n_ended;
} an_bt_result;

typedef struct an_bytetrack an_bytetrack;

int an_bt_new(const an_bt_params *p, an_bytetrack **ret);
void an_bt_free(an_bytetrack **t);

/* Runs one frame. dets: every candidate box (scores at or below low_threshold are ignored).
 * frame: the stream's frame number, increasing (lost tracks age by it, so skipped frames
 * count); dt: time since the previous update in frame periods (1 for consecutive frames;
 * the Kalman prediction advances by it; ignored on the first update, whose tracks are
 * confirmed at once). Returns 0, -EINVAL (n < 0, dets NULL with n > 0, dt not > 0 after
 * the first update) or -ENOMEM (the tracker is then unchanged). */
int an_bt_update(an_bytetrack *t, const vp_det *dets, int n, int64_t frame, double dt,
                 an_bt_result *ret);

/* Keys of every confirmed track still held (tracked or lost), e.g. to end them at a
 * stream's end; valid until the next update or free. */
int an_bt_confirmed(an_bytetrack *t, const uint64_t **keys);

#endif
