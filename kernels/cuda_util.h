/* CUDA runtime helpers shared by the kernels, the GPU tests and benchmarks: one macro
 * that checks a runtime call, logs the failing call once with its place and turns the
 * cudaError_t into a project code. Usable from C11 (with VP_HAVE_CUDA) and from nvcc. */
#ifndef KRN_CUDA_UTIL_H
#define KRN_CUDA_UTIL_H

#include <cuda_runtime.h>

#include "../pipeline/vp_err.h"

#ifdef __cplusplus
extern "C" {
#endif
#include "../pipeline/vp_log.h"
#ifdef __cplusplus
}
#endif

/* Project code for a CUDA runtime error: out of memory stays -ENOMEM, a missing or
 * unusable device/driver is VP_ENODEV, bad arguments -EINVAL, anything else -EIO. */
static inline int krn_cuda_code(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return 0;
	case cudaErrorMemoryAllocation: return -ENOMEM;
	case cudaErrorNoDevice:
	case cudaErrorInsufficientDriver:
	case cudaErrorInvalidDevice:
	case cudaErrorDevicesUnavailable:
	case cudaErrorSystemDriverMismatch:
	case cudaErrorCompatNotSupportedOnDevice: return VP_ENODEV;
	case cudaErrorInvalidValue:
	case cudaErrorInvalidDevicePointer:
	case cudaErrorInvalidPitchValue: return -EINVAL;
	default: return -EIO;
	}
}

static inline int krn_cuda_check_at(cudaError_t e, const char *call, const char *file, int line)
{
	if (e == cudaSuccess)
		return 0;
	vp_err("cuda", NULL, "%s failed at %s:%d: %s (%s)", call, file, line, cudaGetErrorString(e),
	       cudaGetErrorName(e));
	return krn_cuda_code(e);
}

/* 0 on success, else logs and returns a negative code:
 *     if ((r = KRN_CUDA_CHECK(cudaMalloc(&p, n))) < 0) goto fail; */
#define KRN_CUDA_CHECK(call) krn_cuda_check_at((call), #call, __FILE__, __LINE__)

/* Flags of the events the host waits on (cudaEventSynchronize): block on a primitive
 * instead of spinning, whatever the context's scheduling flags are. The default,
 * cudaDeviceScheduleAuto, spins while there are fewer CUDA contexts than cores, so engine
 * and decoder threads would each keep a core busy waiting for the GPU. */
#define KRN_EVENT_WAIT_FLAGS (cudaEventDisableTiming | cudaEventBlockingSync)

/* Makes gpu the calling thread's device and its primary context (shared by the runtime,
 * cuDNN, cuBLAS and NVDEC) block-synchronising: cudaStreamSynchronize and the driver's
 * cuStreamSynchronize then sleep instead of spinning. Called where a device is set up
 * (engine load, detector), before the hot paths run. The runtime overwrites the flags of a
 * context that is already active; one that refuses is a warning (the waits on
 * KRN_EVENT_WAIT_FLAGS events still block), not an error. */
static inline int krn_cuda_use_device(int gpu)
{
	int rc = KRN_CUDA_CHECK(cudaSetDevice(gpu));
	unsigned int flags = 0;
	if (rc < 0 || cudaGetDeviceFlags(&flags) != cudaSuccess) {
		(void)cudaGetLastError();
		return rc;
	}
	if ((flags & cudaDeviceScheduleMask) == cudaDeviceScheduleBlockingSync)
		return 0;
	cudaError_t e = cudaSetDeviceFlags((flags & ~(unsigned int)cudaDeviceScheduleMask) | cudaDeviceScheduleBlockingSync);
	if (e != cudaSuccess) {
		vp_warn("cuda", NULL, "device %d: blocking synchronisation refused (%s); waits on streams may spin", gpu,
		        cudaGetErrorName(e));
		(void)cudaGetLastError();
	}
	return 0;
}

/* Number of visible devices, or a negative code with *why saying why there is none
 * (no driver, no device); never logs, so callers decide how loud a fallback is. */
static inline int krn_cuda_devices(const char **why)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		/* What the runtime says when libcuda.so.1 is missing altogether misleads. */
		*why = e == cudaErrorInsufficientDriver
		               ? "no NVIDIA driver, or one older than this CUDA runtime"
		               : cudaGetErrorString(e);
		(void)cudaGetLastError();  /* clear it so later calls start clean */
		return krn_cuda_code(e) == -EIO ? VP_ENODEV : krn_cuda_code(e);
	}
	if (n == 0) {
		*why = "the driver reports 0 CUDA devices";
		return VP_ENODEV;
	}
	return n;
}

#endif
