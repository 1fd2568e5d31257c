/* Preprocessing: decoded frames (YUV420P, NV12, P016; any size) to the model input
 * tensor in one pass: colour conversion, bilinear half-pixel resize (letterbox or
 * stretch), channel order, (x - mean) * scale, NCHW (or NHWC) float. The CPU reference
 * and the CUDA kernel share this signature; tests compare them. */
#ifndef KRN_PREPROCESS_H
#define KRN_PREPROCESS_H

#include <stdint.h>

#include "../pipeline/vp_frame.h"

enum krn_resize { KRN_LETTERBOX = 0, KRN_STRETCH };
enum krn_placement { KRN_TOP_LEFT = 0, KRN_CENTER };

typedef struct krn_pre_params {
	int dst_w, dst_h;         /* model input size */
	int resize;               /* enum krn_resize */
	int placement;            /* enum krn_placement (letterbox) */
	float pad_value;          /* in pixel units (0-255), before mean/scale */
	int bgr;                  /* 1: channel 0 is blue */
	float mean[3], scale[3];  /* value = (pixel - mean) * scale, in output channel order */
	int fp16;                 /* output IEEE half instead of float */
	int nhwc;                 /* output NHWC instead of NCHW */
} krn_pre_params;

/* Maps a model-input pixel back to the source: src = (dst - pad) / scale, per axis. */
typedef struct krn_xform {
	float scale_x, scale_y;
	float pad_x, pad_y;
	int src_w, src_h;         /* for clipping */
} krn_xform;

/* Computes the letterbox/stretch geometry for one frame (same as the kernels use). */
void krn_pre_xform(const krn_pre_params *p, int src_w, int src_h, krn_xform *ret);

/* Converts n frames (host memory) into dst, item i at offset i * 3 * dst_w * dst_h
 * elements; writes each frame's xform to xf[i]. */
int krn_preprocess_ref(const vp_frame *const *frames, int n, const krn_pre_params *p,
                       void *dst, krn_xform *xf);

/* Same contract and output as krn_preprocess_ref (bit for bit when built without FMA
 * contraction), several times faster: separable blend over precomputed taps. Runs on
 * the calling thread's OpenMP team size, which the CPU engine sets to the model's. */
int krn_preprocess_cpu(const vp_frame *const *frames, int n, const krn_pre_params *p,
                       void *dst, krn_xform *xf);

/* Checks what both implementations require of params and of a host/device frame; logs
 * the offending field and returns -EINVAL. frame may be NULL to check params only. */
int krn_pre_check(const krn_pre_params *p, const vp_frame *f);
/* The checks of a whole batch shared by the CPU and CUDA entry points: params, 1..max_n
 * frames (max_n 0: no limit), a destination, every frame present, in memory `mem`
 * (VP_MEM_HOST / VP_MEM_DEVICE) and acceptable to krn_pre_check. Logs, -EINVAL. */
int krn_pre_check_batch(const vp_frame *const *frames, int n, int max_n, const krn_pre_params *p,
                        const void *dst, int mem);

/* Converts one host frame to interleaved 8-bit RGB (rounded), row stride in bytes
 * (>= 3 * width); same colour conversion as the preprocessing. */
int krn_frame_to_rgb24(const vp_frame *f, uint8_t *dst, int stride);

#endif
