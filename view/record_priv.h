/* Inside the recorder: the segment writer (record_seg.c), which turns YUV420P pictures
 * into H.264 and cuts them into fragmented MP4 files, and the folder pruning. No threads
 * here: record.c owns the queue and the encoder thread. Not for other modules. */
#ifndef VIEW_RECORD_PRIV_H
#define VIEW_RECORD_PRIV_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "../pipeline/config.h"

/* What record.c and the writer both count; read by any thread. */
typedef struct rec_counters {
	_Atomic int64_t frames, dropped, segments, deleted, errors;
} rec_counters;

typedef struct rec_writer_args {
	const char *stream;          /* file name prefix and log instance */
	const char *dir;             /* the stream's folder, existing */
	int segment_s;
	int64_t max_bytes;           /* of the folder's segments; oldest deleted first */
	enum pipe_record_codec codec;
	int gpu;                     /* CUDA device for h264_nvenc; < 0: none */
	int width, height;           /* even */
	double frame_dur;            /* seconds between recorded pictures (rate control) */
	rec_counters *counters;      /* borrowed */
} rec_writer_args;

typedef struct rec_writer rec_writer;

/* Opens the encoder (h264_nvenc or libx264 as args->codec says). No file yet: the first
 * picture opens the first segment. */
int rec_writer_new(const rec_writer_args *args, rec_writer **ret);
/* Encodes pic (YUV420P, width x height; its pts and pict_type are overwritten) shown at
 * pts seconds, decoded at wall_us. Starts a segment (keyframe) every segment_s of pts. On
 * failure the writer is unusable: free it and make a new one. */
int rec_writer_put(rec_writer *w, AVFrame *pic, double pts, int64_t wall_us);
/* Drains the encoder into the open segment, finishes it and prunes the folder. */
int rec_writer_finish(rec_writer *w);
/* Closes what is open without draining (after a failure); the file stays playable up to
 * its last fragment. */
void rec_writer_free(rec_writer **w);
/* The encoder's name ("libx264", "h264_nvenc"). */
const char *rec_writer_encoder(const rec_writer *w);
/* Segments this writer finished without an error. */
int rec_writer_closed(const rec_writer *w);

/* Deletes the oldest "<stream>-*.mp4" of dir (by name, which starts with the UTC time)
 * while their total exceeds max_bytes, keeping the newest. *ret_deleted: how many went,
 * also on failure. 0 or a negative code. */
int rec_prune(const char *dir, const char *stream, int64_t max_bytes, int *ret_deleted);

#endif
