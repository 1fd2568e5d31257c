/* Internal to the cuda backend: CUDA runtime status codes become one logged vapd error
 * through the project's shared check (kernels/cuda_util.h). */
#ifndef INF_CUDA_CHECK_H
#define INF_CUDA_CHECK_H

#include "kernels/cuda_util.h"

#define CU_RT(call) KRN_CUDA_CHECK(call)

#endif
