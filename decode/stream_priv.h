/* The dec_stream struct, shared by stream.c (state machine: connect, backoff, end) and
 * stream_frames.c (pulling frames through source and decoder, timestamps, pacing). */
#ifndef DEC_STREAM_PRIV_H
#define DEC_STREAM_PRIV_H

#include <pthread.h>

#include "dec_priv.h"
#include "source.h"

struct dec_stream {
	const pipe_source_cfg *cfg;
	int stream_idx;
	int pool_size;
	dec_io_ctl io;

	/* lock guards stats and dec (dec_stream_interrupt closes dec's pool from another
	 * thread); wake ends interruptible sleeps (backoff, realtime pacing). */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	dec_stats stats;

	const dec_source_ops *src_ops;
	void *src;
	dec_source_info info;
	const dec_decoder_ops *dec_ops;  /* chosen once, on the first connection */
	void *dec;
	AVPacket *pkt;
	int pkt_pending;                 /* pkt was refused with VP_EAGAIN: send it again */
	int draining;                    /* the source ended and the decoder was told */
	int consecutive_demux_errors;

	/* Timestamps: pts = offset + (ts - start_ts) * time_base. offset grows on every loop and
	 * reconnect so pts never goes back. */
	int64_t next_index;
	int64_t start_ts;
	double pts_offset;
	double last_pts;
	double frame_dur;
	int64_t frames_this_pass;

	/* realtime: frame with pts p is released at pace_t0_ns + (p - pace_pts0) seconds */
	int64_t pace_t0_ns;
	double pace_pts0;
	int paced;

	int backoff_ms;                  /* the next delay's upper bound */
	int backoff_initial_ms, backoff_max_ms;
	unsigned rng;
	int64_t first_connect_ns;
};

/* Next frame of the connected source (RUNNING state): 0, VP_EOF when the source ended
 * and the decoder is drained (or the stream was interrupted), or a negative code. */
int dec_stream_pull(dec_stream *s, vp_frame **ret);
/* Realtime files: sleeps until f is due. VP_EOF when interrupted meanwhile. */
int dec_stream_pace(dec_stream *s, const vp_frame *f);
/* Sleeps up to ms unless interrupted; VP_EOF when interrupted. */
int dec_stream_sleep(dec_stream *s, int64_t ms);
/* Counts count errors in the stats and logs them in one line with the frame index
 * they precede. */
void dec_stream_error(dec_stream *s, int count, const char *what);

#endif
