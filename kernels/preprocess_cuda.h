/* CUDA preprocessing: one kernel launch turns a batch of device frames (NV12, P016, and
 * YUV420P / YUV420P10 uploaded to the device) of any sizes into the model input tensor,
 * with the per-pixel math of preprocess_math.h, so results equal krn_preprocess_ref.
 * Plain C header (the implementation is kernels/preprocess.cu); only present in builds
 * with VP_HAVE_CUDA. */
#ifndef KRN_PREPROCESS_CUDA_H
#define KRN_PREPROCESS_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

#include "preprocess.h"

/* cudaStream_t without the runtime headers (it is a struct CUstream_st *). */
struct CUstream_st;
typedef struct krn_pre_cuda krn_pre_cuda;

/* Allocates, once, the per-batch descriptor buffers for up to max_batch frames: a device
 * array and its pinned host staging copy. Must be called with the device current that
 * the frames and the output live on (the primary context, as NVDEC uses). */
int krn_pre_cuda_new(int max_batch, krn_pre_cuda **ret);

/* Converts n device frames (f->mem == VP_MEM_DEVICE) into dst_device, item i at element
 * offset i * 3 * dst_w * dst_h, as krn_preprocess_ref does; writes each frame's xform to
 * xf[i] when xf is not NULL. Asynchronous on stream (NULL: the legacy default stream):
 * the frames must stay referenced and dst_device allocated until the stream passes this
 * point; the descriptors go in one async copy. Not thread-safe per ctx: one ctx per
 * thread (the staging buffer is reused, after the previous copy of this ctx finished).
 * Returns 0, -EINVAL (bad params/frame, n > max_batch; logged) or a CUDA error code. */
int krn_preprocess_cuda(krn_pre_cuda *ctx, const vp_frame *const *frames, int n,
                        const krn_pre_params *p, void *dst_device, krn_xform *xf,
                        struct CUstream_st *stream);

void krn_pre_cuda_free(krn_pre_cuda **ctx);

#ifdef __cplusplus
}
#endif

#endif
