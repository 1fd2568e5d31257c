/* Inside the NVDEC decoder: the driver and NVDEC libraries loaded at run time through
 * ffnvcodec's dynlink loader, the checks that say whether NVDEC can take a stream, and
 * the pool of device frames decoded pictures are copied into. Not for other modules:
 * the ffnvcodec headers declare their own CUDA types, so this header must not meet
 * cuda.h or cuda_runtime.h in one translation unit. */
#ifndef DEC_NVDEC_PRIV_H
#define DEC_NVDEC_PRIV_H

#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>

/* The loader's diagnostics go nowhere: nvdec_runtime() reports one reason instead. */
#define FFNV_LOG_FUNC(logctx, msg, ...) ((void)(logctx))
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...) ((void)0)
#include <ffnvcodec/dynlink_loader.h>

#include "../pipeline/vp_frame.h"

/* Loaded once per process and never unloaded (like the CUDA runtime's own state):
 * read-only after nvdec_runtime() returned it. */
typedef struct nvdec_rt {
	CudaFunctions *cu;
	CuvidFunctions *cuvid;
	int devices;
} nvdec_rt;

/* The runtime, or NULL with *why (no driver, no libnvcuvid, no device). Thread-safe. */
const nvdec_rt *nvdec_runtime(const char **why);

/* Text of a driver error for log lines. */
const char *nvdec_cu_err(const nvdec_rt *rt, CUresult r);

/* What a stream needs of NVDEC, from the container's parameters or the parser's format. */
typedef struct nvdec_need {
	cudaVideoCodec codec;
	int bit_depth;        /* 8, 10, 12 */
	int width, height;    /* coded size */
} nvdec_need;

/* Maps the container's parameters; VP_EUNSUP with *why for what NVDEC output here cannot
 * be (codec other than H.264/HEVC/AV1, chroma other than 4:2:0). */
int nvdec_need_of(const AVCodecParameters *par, nvdec_need *ret, const char **why);

/* Asks the device (its primary context current) whether it decodes need; fills *fmt with
 * the output surface format (NV12 for 8 bit, P016 deeper). VP_EUNSUP with *why if not. */
int nvdec_caps_check(const nvdec_rt *rt, const nvdec_need *need, cudaVideoSurfaceFormat *fmt,
                     const char **why);

/* Pool of n device frames of up to max_w x max_h in fmt (one allocation, made now), in
 * ctx (the device's primary context, retained by the pool until its last frame is back:
 * frames may outlive the decoder). */
int nvdec_pool_new(const nvdec_rt *rt, CUdevice dev, int n, int max_w, int max_h, vp_pixfmt fmt,
                   vp_frame_pool **ret);

/* Retains device dev's primary context (the one the CUDA runtime uses too); the caller
 * releases it with cuDevicePrimaryCtxRelease. */
int nvdec_ctx_retain(const nvdec_rt *rt, CUdevice dev, CUcontext *ret);

/* cuvidCreateDecoder refuses more decode surfaces than this (a limit of the NVDEC
 * hardware interface; FFmpeg's nvdec.c warns about the same). */
#define NVDEC_MAX_SURFACES 32
/* Surfaces kept beyond the stream's minimum and the display delay, so the parser, which
 * cycles through them, never decodes into a picture still waiting in the queue. */
#define NVDEC_SURFACE_HEADROOM 4

/* Decode surfaces for a sequence whose parser asks for at least min:
 * cfg (sources[].nvdec.surfaces) when not 0, else min + in_flight + headroom; never below
 * min, never above NVDEC_MAX_SURFACES. *wanted: the count before that clamp (above
 * NVDEC_MAX_SURFACES when the clamp cut it). Pure arithmetic, no driver call. */
int nvdec_surfaces(int min, int cfg, int in_flight, int *wanted);

/* The parser's timestamp clock, told to it in CUVIDPARSERPARAMS.ulClockRate: 10 MHz, the
 * SDK's default, as FFmpeg's cuviddec uses it. Packets carry the source's time base, so
 * timestamps are rescaled on the way in and back on the way out; the round trip is exact
 * for every time base of 100 ns or coarser (1/90000, 1/1000, 1001/30000, ...). */
#define NVDEC_CLOCK_HZ 10000000
/* tb -> parser clock and back (nearest); AV_NOPTS_VALUE stays AV_NOPTS_VALUE, and so
 * becomes a timestamp whose rescaled value does not fit 64 bits. A time base that is not
 * positive passes the value through. Pure arithmetic. */
int64_t nvdec_ts_to_parser(int64_t ts, AVRational tb);
int64_t nvdec_ts_from_parser(int64_t ts, AVRational tb);

/* Pictures the parser has handed out for display and receive() has not copied yet: more
 * than a decoder has surfaces, so one parse call (send() waits until the queue is empty)
 * cannot overflow it, and no queued picture is decoded over before its copy. */
#define NVDEC_QUEUE 64

/* One NVDEC stream (nvdec.c: the decoder_ops row; nvdec_parse.c: parser callbacks). */
typedef struct nvdec_dec {
	const nvdec_rt *rt;
	const char *stream_id;
	CUdevice dev;
	CUcontext ctx;                /* the device's primary context, retained */
	CUvideoctxlock lock;
	CUstream stream;              /* map and device-to-device copies */
	CUvideoparser parser;
	CUvideodecoder decoder;       /* made by the first sequence callback */
	CUVIDDECODECREATEINFO info;   /* what decoder was made with */
	cudaVideoCodec codec;
	int surfaces_cfg, in_flight;
	int clamp_warned;             /* the surface clamp was reported (once per stream) */
	AVRational time_base;         /* of packet timestamps, and of those receive() returns */
	int max_w, max_h;             /* size of the pooled frames */
	vp_pixfmt pix;
	int out_w, out_h;             /* picture size of the current sequence */
	int crop_x, crop_y;           /* its top-left corner in the decoded surface */
	vp_colorspace csp;
	int full_range;
	int par_csp, par_full_range;  /* the container's colour description, for streams without one */
	vp_frame_pool *pool;
	AVBSFContext *bsf;            /* length-prefixed (mp4/mkv) to Annex B; NULL for AV1 */
	AVPacket *in_pkt, *out_pkt;
	const uint8_t *hdr;           /* parameter sets fed before the first packet */
	int hdr_len, hdr_sent;
	CUVIDPARSERDISPINFO queue[NVDEC_QUEUE];
	int q_head, q_n;
	int eos, closed, ts_seen;
	int errors;
	char last_err[160];
	/* A sequence NVDEC could not make a decoder for: every later send and receive
	 * returns it (VP_EUNSUP, which ends the stream), after one error line. */
	int fatal;
	int seq_refused;              /* the last sequence header was refused (check_format) */
} nvdec_dec;

/* Counts one decode error with its message (reported through take_errors). */
void nvdec_note_error(nvdec_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Creates d->parser for d->codec with the callbacks of nvdec_parse.c. */
int nvdec_parser_create(nvdec_dec *d);
/* Hands data to the parser (ctx pushed by the caller). pts in d->time_base (handed over in
 * the parser's clock), AV_NOPTS_VALUE for none. flags: CUVID_PKT_*. */
int nvdec_parse(nvdec_dec *d, const uint8_t *data, int size, int64_t pts, unsigned flags);
/* Copies displayed picture disp into pool frame f (ctx pushed by the caller); *corrupt
 * set when NVDEC reports a decode error for it. */
int nvdec_copy_out(nvdec_dec *d, const CUVIDPARSERDISPINFO *disp, vp_frame *f, int *corrupt);

#endif
