/* GPU tests: the one skip rule. Without a visible GPU (cudaGetDeviceCount fails or finds
 * none, or the build has no CUDA) a GPU test prints one "skipped" line and exits 0. */
#ifndef TESTS_GPU_SKIP_H
#define TESTS_GPU_SKIP_H

#include <stdio.h>
#include <stdlib.h>

#ifdef VP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

/* Returns 1 when a GPU is visible; otherwise prints the skip line for `test`. */
static inline int gpu_visible(const char *test)
{
#ifdef VP_HAVE_CUDA
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e == cudaSuccess && count > 0)
		return 1;
	printf("%s: skipped: no GPU visible (%s)\n", test,
	       e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0 devices");
#else
	printf("%s: skipped: no GPU visible (built without CUDA)\n", test);
#endif
	return 0;
}

/* $SHARED (exported by tests/run.sh), else ../shared next to the repository. */
static inline const char *gpu_shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s && *s ? s : "../shared";
}

#endif
