/* GPU tests: the one skip rule. Without a visible GPU (cudaGetDeviceCount fails or finds
 * none, or the build has no CUDA) or without NVDEC, a GPU test prints one
 * "SKIP(gpu): ..." line (the kind tests/run.sh accepts as a skip, CI too) and exits 0.
 * With VAPD_REQUIRE_GPU set (scripts/gpu-run.sh on a GPU machine) it fails instead. */
#ifndef TESTS_GPU_SKIP_H
#define TESTS_GPU_SKIP_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef VP_HAVE_CUDA
#include "kernels/cuda_util.h"
#endif

/* Whether this machine must have the GPU and NVDEC (VAPD_REQUIRE_GPU set and not empty). */
static inline int gpu_required(void)
{
	const char *must = getenv("VAPD_REQUIRE_GPU");
	return must && *must;
}

/* Reports a missing GPU or NVDEC for `test`: a skip, or with VAPD_REQUIRE_GPU a failure
 * (the program exits 1). */
static inline void gpu_missing(const char *test, const char *what, const char *why)
{
	if (gpu_required()) {
		printf("%s: FAILED: %s (%s); VAPD_REQUIRE_GPU is set\n", test, what, why);
		exit(1);
	}
	printf("SKIP(gpu): %s: %s (%s)\n", test, what, why);
}

/* Returns 1 when a GPU is visible; otherwise reports it through gpu_missing. */
static inline int gpu_visible(const char *test)
{
#ifdef VP_HAVE_CUDA
	const char *why = "";
	if (krn_cuda_devices(&why) > 0)
		return 1;
	gpu_missing(test, "no GPU visible", why);
#else
	gpu_missing(test, "no GPU visible", "this build has no CUDA: nvcc was not found");
#endif
	return 0;
}

/* Returns 1 when the driver's NVDEC library loads; otherwise reports it through
 * gpu_missing. GPU containers get libnvcuvid.so.1 only with the "video" driver capability,
 * so a machine may have CUDA without NVDEC (vapd then decodes in software). */
static inline int nvdec_visible(const char *test)
{
	void *h = dlopen("libnvcuvid.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h) {
		dlclose(h);
		return 1;
	}
	char why[512];
	snprintf(why, sizeof(why), "%s; in a container, NVIDIA_DRIVER_CAPABILITIES must include video",
	         dlerror());
	gpu_missing(test, "GPU visible but no NVDEC", why);
	return 0;
}

/* $SHARED (exported by tests/run.sh), else ../shared next to the repository. */
static inline const char *gpu_shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s && *s ? s : "../shared";
}

#endif
