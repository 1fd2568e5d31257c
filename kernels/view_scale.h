/* The view's GPU scaler and its CPU twin: a part of an NV12 or P016 frame box-averaged
 * (the mean of the source samples each destination sample covers, integer and rounded,
 * so both implementations agree bit for bit) into a smaller 8-bit NV12 picture. The live
 * view scales device frames with it so that only the small picture crosses to the host
 * (view/canvas.c); krn_view_scale_ref runs the same math on host frames for the test. */
#ifndef KRN_VIEW_SCALE_H
#define KRN_VIEW_SCALE_H

#include <stdint.h>

#include "../pipeline/vp_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct krn_vscale {
	int sx, sy, sw, sh;        /* source rectangle, even, inside the frame */
	int dst_w, dst_h;          /* even, >= 2 */
	uint8_t *dst[2];           /* NV12: Y plane, interleaved UV plane */
	int dst_ls[2];             /* row strides in bytes */
} krn_vscale;

/* What both implementations require of f and p (NV12/P016, even geometry, planes set);
 * logs the offending field and returns -EINVAL. */
int krn_view_scale_check(const vp_frame *f, const krn_vscale *p);

/* Host frame f (NV12 or P016) to host dst. Returns 0 or -EINVAL. */
int krn_view_scale_ref(const vp_frame *f, const krn_vscale *p);

#ifdef VP_HAVE_CUDA
struct CUstream_st;
/* Device frame f to device dst, asynchronous on stream (NULL: the legacy default stream);
 * f's planes must stay valid until the stream passes this point. Returns 0, -EINVAL or a
 * CUDA error code (logged). */
int krn_view_scale_cuda(const vp_frame *f, const krn_vscale *p, struct CUstream_st *stream);
#endif

#ifdef __cplusplus
}
#endif

#endif
