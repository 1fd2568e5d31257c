/* GPU tests: the one skip rule. Without a visible GPU (cudaGetDeviceCount fails or finds
 * none, or the build has no CUDA) a GPU test prints one "skipped" line and exits 0. */
#ifndef TESTS_GPU_SKIP_H
#define TESTS_GPU_SKIP_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef VP_HAVE_CUDA
#include "kernels/cuda_util.h"
#endif

/* Returns 1 when a GPU is visible; otherwise prints the skip line for `test`. With
 * VAPD_REQUIRE_GPU set (scripts/gpu-run.sh on a GPU machine) a missing GPU is a failure:
 * the program exits 1 instead of skipping. */
static inline int gpu_visible(const char *test)
{
	const char *must = getenv("VAPD_REQUIRE_GPU");
	const char *verdict = must && *must ? "FAILED" : "skipped";
#ifdef VP_HAVE_CUDA
	const char *why = "";
	if (krn_cuda_devices(&why) > 0)
		return 1;
	printf("%s: %s: no GPU visible (%s)\n", test, verdict, why);
#else
	printf("%s: %s: no GPU visible (this build has no CUDA: nvcc was not found)\n", test, verdict);
#endif
	if (must && *must)
		exit(1);
	return 0;
}

/* Returns 1 when the driver's NVDEC library loads; otherwise prints the skip line. GPU
 * containers get libnvcuvid.so.1 only with the "video" driver capability, so a machine
 * may have CUDA without NVDEC (vapd then decodes in software). */
static inline int nvdec_visible(const char *test)
{
	void *h = dlopen("libnvcuvid.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h) {
		dlclose(h);
		return 1;
	}
	printf("%s: skipped: GPU visible but no NVDEC (%s; in a container, "
	       "NVIDIA_DRIVER_CAPABILITIES must include video)\n", test, dlerror());
	return 0;
}

/* $SHARED (exported by tests/run.sh), else ../shared next to the repository. */
static inline const char *gpu_shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s && *s ? s : "../shared";
}

#endif
