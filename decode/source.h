/* A stream: a source (demuxer: file, RTSP, ...) plus a decoder (software or NVDEC),
 * read by one pipeline thread. Behind it sit registries of source_ops and decoder_ops. */
#ifndef DEC_SOURCE_H
#define DEC_SOURCE_H

#include <stdint.h>

#include "../pipeline/config.h"
#include "../pipeline/vp_frame.h"

typedef struct dec_stream dec_stream;

typedef struct dec_stats {
	int64_t frames;          /* frames decoded and handed out */
	int64_t errors;          /* decode/demux errors (each logged once) */
	int64_t reconnects;
	int state;               /* enum dec_state */
} dec_stats;

enum dec_state { DEC_CONNECTING = 0, DEC_RUNNING, DEC_BACKOFF, DEC_ENDED };
/* "connecting", "running", "backoff", "ended" (for logs and metrics). */
const char *dec_state_name(int state);

/* Opens the source described by cfg (borrowed; must outlive the stream). stream_idx is
 * the source's index in the config, copied into every frame. pool_size: number of
 * frames the decoder may have out at once (queue depth + batch + in flight). */
int dec_stream_open(const pipe_source_cfg *cfg, int stream_idx, int pool_size, dec_stream **ret);
/* Next decoded frame (caller owns one reference). Returns 0, VP_EOF when the stream
 * ended (files), or a negative code on a fatal error. Decode errors that the codec
 * recovers from are counted and logged, not returned. */
int dec_stream_read(dec_stream *s, vp_frame **ret_frame);
/* Thread-safe: makes a blocked or later dec_stream_read return VP_EOF promptly. */
void dec_stream_interrupt(dec_stream *s);
void dec_stream_get_stats(const dec_stream *s, dec_stats *ret);
/* Frees the stream; frames still referenced elsewhere stay valid until unreferenced. */
void dec_stream_free(dec_stream **s);

#endif
