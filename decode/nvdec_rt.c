/* NVDEC run-time support: libcuda and libnvcuvid loaded with ffnvcodec's dynlink loader
 * (never linked, so the binary starts on machines without a driver), capability checks,
 * and the device frame pool decoded pictures land in. */
#include "nvdec_priv.h"

#include <pthread.h>
#include <stdlib.h>

#include <libavutil/pixdesc.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

/* Driver codes that ffnvcodec's short CUresult list leaves out (values from cuda.h). */
#define NV_ERR_OUT_OF_MEMORY ((CUresult)2)
#define NV_ERR_NO_DEVICE ((CUresult)100)

/* Written once under pthread_once, read-only afterwards. */
static nvdec_rt runtime;
static const char *runtime_why;
static pthread_once_t runtime_once = PTHREAD_ONCE_INIT;

static void runtime_load(void)
{
	if (cuda_load_functions(&runtime.cu, NULL) < 0) {
		runtime_why = "cannot load libcuda.so.1 (no NVIDIA driver installed)";
		return;
	}
	if (cuvid_load_functions(&runtime.cuvid, NULL) < 0) {
		runtime_why = "cannot load libnvcuvid.so.1 (the driver's NVDEC library is missing)";
		return;
	}
	CUresult r = runtime.cu->cuInit(0);
	if (r != CUDA_SUCCESS) {
		runtime_why = r == NV_ERR_NO_DEVICE ? "no CUDA device visible"
		                                        : "the CUDA driver failed to initialise (cuInit)";
		return;
	}
	if (runtime.cu->cuDeviceGetCount(&runtime.devices) != CUDA_SUCCESS || runtime.devices < 1) {
		runtime_why = "no CUDA device visible";
		return;
	}
	runtime_why = NULL;
}

const nvdec_rt *nvdec_runtime(const char **why)
{
	pthread_once(&runtime_once, runtime_load);
	if (runtime_why) {
		*why = runtime_why;
		return NULL;
	}
	return &runtime;
}

const char *nvdec_cu_err(const nvdec_rt *rt, CUresult r)
{
	const char *s = NULL;
	if (rt->cu->cuGetErrorString(r, &s) != CUDA_SUCCESS || !s)
		s = "unknown CUDA driver error";
	return s;
}

int nvdec_ctx_retain(const nvdec_rt *rt, CUdevice dev, CUcontext *ret)
{
	/* The decoder thread waits for its copies once per picture (cuStreamSynchronize): block
	 * instead of spinning a core. Refused while the context is active, which then has the
	 * flags the engine set (krn_cuda_use_device) or an earlier stream's. */
	(void)rt->cu->cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_BLOCKING_SYNC);
	CUresult r = rt->cu->cuDevicePrimaryCtxRetain(ret, dev);
	if (r != CUDA_SUCCESS) {
		vp_err("nvdec", NULL, "cannot retain the primary context of device %d: %s", (int)dev,
		       nvdec_cu_err(rt, r));
		return r == NV_ERR_OUT_OF_MEMORY ? -ENOMEM : VP_ENODEV;
	}
	return 0;
}

int nvdec_need_of(const AVCodecParameters *par, nvdec_need *ret, const char **why)
{
	switch (par->codec_id) {
	case AV_CODEC_ID_H264: ret->codec = cudaVideoCodec_H264; break;
	case AV_CODEC_ID_HEVC: ret->codec = cudaVideoCodec_HEVC; break;
	case AV_CODEC_ID_AV1: ret->codec = cudaVideoCodec_AV1; break;
	default:
		*why = "codec not handled by the NVDEC decoder (H.264, HEVC and AV1 are)";
		return VP_EUNSUP;
	}
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(par->format);
	/* Unknown formats (some raw streams) are settled by the parser's sequence header. */
	ret->bit_depth = d ? d->comp[0].depth : 8;
	if (d && (d->log2_chroma_w != 1 || d->log2_chroma_h != 1 || d->nb_components < 3)) {
		*why = "chroma subsampling is not 4:2:0 (NVDEC output here is NV12/P016)";
		return VP_EUNSUP;
	}
	ret->width = par->width;
	ret->height = par->height;
	if (ret->width < 1 || ret->height < 1) {
		*why = "the container does not give the picture size";
		return VP_EUNSUP;
	}
	return 0;
}

int nvdec_caps_check(const nvdec_rt *rt, const nvdec_need *need, cudaVideoSurfaceFormat *fmt,
                     const char **why)
{
	CUVIDDECODECAPS caps = {
		.eCodecType = need->codec,
		.eChromaFormat = cudaVideoChromaFormat_420,
		.nBitDepthMinus8 = (unsigned)(need->bit_depth - 8),
	};
	/* The loader takes cuvidGetDecoderCaps as optional: drivers before 375 lack it. */
	if (!rt->cuvid->cuvidGetDecoderCaps) {
		*why = "the driver's NVDEC library has no cuvidGetDecoderCaps (driver too old)";
		return VP_EUNSUP;
	}
	CUresult r = rt->cuvid->cuvidGetDecoderCaps(&caps);
	if (r != CUDA_SUCCESS) {
		*why = "cuvidGetDecoderCaps failed (driver too old for this codec?)";
		return VP_EUNSUP;
	}
	if (!caps.bIsSupported) {
		*why = "this GPU has no NVDEC support for the codec at this bit depth";
		return VP_EUNSUP;
	}
	unsigned w = (unsigned)need->width, h = (unsigned)need->height;
	if (w > caps.nMaxWidth || h > caps.nMaxHeight || w < caps.nMinWidth || h < caps.nMinHeight ||
	    ((w + 15) / 16) * ((h + 15) / 16) > caps.nMaxMBCount) {
		*why = "picture size outside the NVDEC limits of this GPU";
		return VP_EUNSUP;
	}
	cudaVideoSurfaceFormat want = need->bit_depth > 8 ? cudaVideoSurfaceFormat_P016
	                                                  : cudaVideoSurfaceFormat_NV12;
	if (!(caps.nOutputFormatMask & (1u << want))) {
		*why = "NVDEC cannot output NV12/P016 for this stream";
		return VP_EUNSUP;
	}
	*fmt = want;
	return 0;
}

/* One device allocation behind every frame of a pool, freed with its last slot. */
typedef struct nvdec_mem {
	const nvdec_rt *rt;
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr base;
	int slots_left;
} nvdec_mem;

static void mem_release(nvdec_mem *m)
{
	if (m->base) {
		CUcontext dummy;
		if (m->rt->cu->cuCtxPushCurrent(m->ctx) == CUDA_SUCCESS) {
			m->rt->cu->cuMemFree(m->base);
			m->rt->cu->cuCtxPopCurrent(&dummy);
		}
	}
	m->rt->cu->cuDevicePrimaryCtxRelease(m->dev);
	free(m);
}

static void slot_destroy(void *ctx, vp_frame *f)
{
	(void)f;
	nvdec_mem *m = ctx;
	if (--m->slots_left == 0)
		mem_release(m);
}

static int mem_alloc(nvdec_mem *m, int n, int max_w, int max_h, int bps, size_t *pitch)
{
	CUcontext dummy;
	CUresult r = m->rt->cu->cuCtxPushCurrent(m->ctx);
	if (r == CUDA_SUCCESS) {
		size_t rows = (size_t)max_h + (size_t)(max_h + 1) / 2;
		r = m->rt->cu->cuMemAllocPitch(&m->base, pitch, (size_t)max_w * bps, rows * n, 16);
		m->rt->cu->cuCtxPopCurrent(&dummy);
	}
	if (r != CUDA_SUCCESS) {
		vp_err("nvdec", NULL, "cannot allocate %d device frames of %dx%d: %s", n, max_w, max_h,
		       nvdec_cu_err(m->rt, r));
		m->base = 0;
		return r == NV_ERR_OUT_OF_MEMORY ? -ENOMEM : VP_ENODEV;
	}
	return 0;
}

int nvdec_pool_new(const nvdec_rt *rt, CUdevice dev, int n, int max_w, int max_h, vp_pixfmt fmt,
                   vp_frame_pool **ret)
{
	nvdec_mem *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->rt = rt;
	m->dev = dev;
	int r = nvdec_ctx_retain(rt, dev, &m->ctx);
	if (r < 0) {
		free(m);
		return r;
	}
	int bps = fmt == VP_PIX_P016 ? 2 : 1;
	size_t pitch = 0;
	if ((r = mem_alloc(m, n, max_w, max_h, bps, &pitch)) < 0 ||
	    (r = vp_frame_pool_new(n, NULL, slot_destroy, m, ret)) < 0) {
		mem_release(m);
		return r;
	}
	m->slots_left = n;
	size_t rows = (size_t)max_h + (size_t)(max_h + 1) / 2;
	for (int i = 0; i < n; i++) {
		vp_frame *f = vp_frame_pool_slot(*ret, i);
		uint8_t *y = (uint8_t *)(uintptr_t)(m->base + (CUdeviceptr)(i * rows * pitch));
		f->data[0] = y;
		f->data[1] = y + (size_t)max_h * pitch;
		f->data[2] = NULL;
		f->linesize[0] = f->linesize[1] = (int)pitch;
		f->linesize[2] = 0;
		f->fmt = fmt;
		f->mem = VP_MEM_DEVICE;
		f->width = max_w;
		f->height = max_h;
	}
	return 0;
}
