/* Inside decode/: the two plug-in points behind dec_stream (sources that yield packets,
 * decoders that turn them into vp_frames) and their registries. Not for other modules. */
#ifndef DEC_PRIV_H
#define DEC_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "../pipeline/config.h"
#include "../pipeline/vp_time.h"
#include "../pipeline/vp_frame.h"

/* Shared between a stream and its source so a blocking read can be cut short:
 * stop is set by dec_stream_interrupt(); deadline_ns (CLOCK_MONOTONIC, 0 = none) bounds
 * the current network operation (rtsp.timeout_ms). */
typedef struct dec_io_ctl {
	atomic_int stop;
	_Atomic int64_t deadline_ns;
	char why[200];   /* the source's last failure, in words, for the stream's state log */
} dec_io_ctl;

/* Errors a codec reports through av_log (concealed slices, bad references) that its
 * return codes hide. A decoder points AVCodecContext.opaque at one; the log bridge fills
 * it from the codec's threads and the stream takes the count after each call. */
#define DEC_ERRSINK_MAGIC 0x76617065u
typedef struct dec_errsink {
	uint32_t magic;
	pthread_mutex_t lock;
	int count;
	char last[160];
} dec_errsink;

void dec_errsink_init(dec_errsink *e);
void dec_errsink_destroy(dec_errsink *e);
/* Returns how many errors were reported since the last call, with the last message. */
int dec_errsink_take(dec_errsink *e, char *msg, size_t n);

/* What a source learned about its video stream at open. */
typedef struct dec_source_info {
	const AVCodecParameters *par;  /* owned by the source, valid until close */
	AVRational time_base;          /* of packet and frame timestamps */
	AVRational frame_rate;         /* best guess, {0,1} when unknown */
	int64_t start_ts;              /* in time_base; AV_NOPTS_VALUE when the container has none */
	int live;                      /* network or camera: no seeking, paced by the peer */
	int64_t total_frames;          /* container estimate for files, 0 when unknown */
} dec_source_info;

typedef struct dec_source_ops {
	const char *name;
	/* Nonzero when this row handles cfg->uri. */
	int (*match)(const pipe_source_cfg *cfg);
	/* Opens and probes; io stays owned by the caller and outlives the source. */
	int (*open)(const pipe_source_cfg *cfg, dec_io_ctl *io, void **ret_priv, dec_source_info *info);
	/* Next packet of the video stream into pkt (caller unrefs). 0, VP_EOF or a negative code. */
	int (*read)(void *priv, AVPacket *pkt);
	/* Back to the first packet (loop: true); VP_EUNSUP where the source cannot seek. */
	int (*rewind)(void *priv);
	void (*close)(void **priv);
} dec_source_ops;

typedef struct dec_decoder_args {
	const char *stream_id;  /* for log lines */
	int pool_size;          /* frames that may be out at once */
	int low_delay;          /* live: no frame-threading latency */
	int nvdec_surfaces;     /* NVDEC decode surfaces, 0: automatic (sources[].nvdec.surfaces) */
	int nvdec_in_flight;    /* NVDEC pictures decoded ahead of output (sources[].nvdec.in_flight) */
	int gpu;                /* CUDA device index for hardware decoders */
	AVRational time_base;   /* of the packets' timestamps (dec_source_info.time_base) */
} dec_decoder_args;

/* A decoder in the send-packet / receive-frame shape of libavcodec, so that hardware
 * decoders (NVDEC: device frames, its own surface pool) fit the same row. */
typedef struct dec_decoder_ops {
	const char *name;
	enum pipe_decoder kind;
	/* 0 when this decoder can handle par on this machine (hardware decoders: on CUDA
	 * device gpu), else a negative code with *why set. */
	int (*probe)(const AVCodecParameters *par, int gpu, const char **why);
	int (*open)(const AVCodecParameters *par, const dec_decoder_args *args, void **ret_priv);
	/* pkt NULL starts draining. 0, VP_EAGAIN (receive first) or a decode error (packet dropped). */
	int (*send)(void *priv, const AVPacket *pkt);
	/* A decoded frame from the decoder's pool (blocks while the pool is empty) with its
	 * timestamp in the source time base (AV_NOPTS_VALUE if unknown) and *corrupt set when
	 * the codec concealed errors in it. 0, VP_EAGAIN (send more), VP_EOF (drained),
	 * VP_ECLOSED (pool closed by an interrupt) or another negative code. */
	int (*receive)(void *priv, vp_frame **ret, int64_t *ret_ts, int *corrupt);
	/* Drops buffered state after a seek or drain, ready for new packets. */
	void (*flush)(void *priv);
	/* Errors the codec logged since the last call (see dec_errsink); last message in msg. */
	int (*take_errors)(void *priv, char *msg, size_t n);
	/* The pool frames come from: closed by dec_stream_interrupt() to wake a blocked receive. */
	vp_frame_pool *(*pool)(void *priv);
	void (*close)(void **priv);
} dec_decoder_ops;

/* Conversion of the pixel formats vp_frame has no name for (convert.c). */
typedef struct dec_convert dec_convert;
/* Formats that map onto a vp_pixfmt as they are. */
int dec_format_direct(int av_format);
int dec_format_convertible(int av_format);
int dec_convert_new(dec_convert **ret);
void dec_convert_free(dec_convert **c);
/* Fills dst (empty) with src as YUV420P, limited range, same size and matrix. */
int dec_convert_frame(dec_convert *c, const AVFrame *src, AVFrame *dst);

extern const dec_source_ops dec_source_lavf;
extern const dec_source_ops dec_source_v4l2;
extern const dec_decoder_ops dec_decoder_sw;
/* NVDEC: device frames (NV12/P016); drivers loaded at run time (decode/nvdec*.c). */
extern const dec_decoder_ops dec_decoder_nvdec;

/* Registry look-ups. dec_source_find returns NULL when no row matches the URI. */
const dec_source_ops *dec_source_find(const pipe_source_cfg *cfg);
/* The one place that decides which decoder a stream uses for par, from cfg->decoder:
 * nvdec unavailable → VP_ENODEV with a clear error; auto falls back to software with
 * one log line saying why. */
int dec_decoder_choose(const pipe_source_cfg *cfg, const AVCodecParameters *par,
                       const dec_decoder_ops **ret);

/* Routes libav* messages to vp_log at debug level (our own lines report the errors). */
void dec_libav_log_init(void);

/* Network and camera URIs: reconnect with backoff instead of ending. */
int dec_uri_is_live(const pipe_source_cfg *cfg);

int64_t dec_wall_us(void);

#endif
