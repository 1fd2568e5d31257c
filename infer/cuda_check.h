/* Internal to the cuda backend: turning CUDA runtime, cuDNN and cuBLAS status codes into
 * one logged vapd error (VP_ENODEV for a missing device, -EIO otherwise). */
#ifndef INF_CUDA_CHECK_H
#define INF_CUDA_CHECK_H

#include <cuda_runtime_api.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

/* Logs "what: <cuda message>" once and returns the vapd code, 0 on success. */
static inline int cu_check_rt(cudaError_t rc, const char *what)
{
	if (rc == cudaSuccess)
		return 0;
	vp_err("infer", "cuda", "%s: %s", what, cudaGetErrorString(rc));
	return rc == cudaErrorNoDevice || rc == cudaErrorInsufficientDriver ? VP_ENODEV
	       : rc == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
}

#define CU_RT(call) cu_check_rt((call), #call)

#endif
