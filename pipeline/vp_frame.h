/* Decoded frames: reference-counted, taken from a fixed-size pool created at start-up,
 * so the hot path never allocates. A frame is writable only while one reference exists. */
#ifndef VP_FRAME_H
#define VP_FRAME_H

#include <stdint.h>

typedef enum vp_pixfmt {
	VP_PIX_YUV420P = 0,  /* 8-bit planar Y, U, V (U/V at half width and height) */
	VP_PIX_NV12,         /* 8-bit Y plane + interleaved UV plane */
	VP_PIX_P016,         /* 16-bit Y + interleaved UV, value in the high bits (10-bit HEVC on NVDEC) */
	VP_PIX_YUV420P10,    /* 10-bit planar, little-endian 16-bit samples, value in the low bits */
} vp_pixfmt;

typedef enum vp_memtype { VP_MEM_HOST = 0, VP_MEM_DEVICE } vp_memtype;
typedef enum vp_colorspace { VP_CSP_BT601 = 0, VP_CSP_BT709 } vp_colorspace;

typedef struct vp_frame_pool vp_frame_pool;

typedef struct vp_frame {
	/* identity: set by the decoder */
	int stream_idx;          /* index of the source in the config */
	const char *stream_id;   /* borrowed from the config; lives as long as the pipeline */
	int64_t index;           /* 0-based decoded frame number within the stream */
	double pts;              /* seconds from the stream's start */
	double frame_dur;        /* the stream's nominal frame period in seconds (guessed: 0.04) */
	int64_t wall_us;         /* CLOCK_REALTIME microseconds when decoded (the message "time") */
	int64_t mono_ns;         /* CLOCK_MONOTONIC when decoded, for latency */
	int skip;                /* set by the pipeline: counted but not run through the detector (interval) */

	/* picture */
	int width, height;
	vp_pixfmt fmt;
	vp_memtype mem;
	vp_colorspace csp;
	int full_range;
	uint8_t *data[3];
	int linesize[3];

	/* owner's slot: e.g. the AVFrame or device surface backing data[]; released on the last unref */
	void *opaque;

	/* private to vp_frame.c */
	int refcount;
	vp_frame_pool *pool;
} vp_frame;

/* Called when a frame's last reference goes, before it returns to the pool: drop what
 * backs data[] (e.g. av_frame_unref). ctx is the pool's user context. */
typedef void (*vp_frame_release_fn)(void *ctx, vp_frame *f);
/* Called once per frame slot when the pool is freed (e.g. av_frame_free of opaque). */
typedef void (*vp_frame_destroy_fn)(void *ctx, vp_frame *f);

/* Pool of n frame slots; each slot's opaque may be set up by the caller after creation
 * through vp_frame_pool_slot(). */
int vp_frame_pool_new(int n, vp_frame_release_fn release, vp_frame_destroy_fn destroy, void *ctx,
                      vp_frame_pool **ret_pool);
vp_frame *vp_frame_pool_slot(vp_frame_pool *p, int i);
int vp_frame_pool_size(const vp_frame_pool *p);
/* Takes a free frame (refcount 1). Blocks while none is free, which is how a slow consumer
 * pushes back on the decoder; returns NULL once vp_frame_pool_close() was called. */
vp_frame *vp_frame_pool_get(vp_frame_pool *p);
/* Wakes every waiter of vp_frame_pool_get() and makes further gets fail. */
void vp_frame_pool_close(vp_frame_pool *p);
/* Frees the pool once every frame has come back; frames still out keep it alive until
 * their last unref. */
void vp_frame_pool_free(vp_frame_pool **p);

vp_frame *vp_frame_ref(vp_frame *f);
/* Drops one reference and clears *f; the last one returns the frame to its pool. */
void vp_frame_unref(vp_frame **f);

#endif
