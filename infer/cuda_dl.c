/* Run-time loading of cuDNN and cuBLAS: the libraries' sonames are tried in order
 * (the loader path first, then pip's nvidia wheel folders), every symbol the backend uses is resolved once, and a missing piece leaves the
 * table unset with the reason, so backend "cuda" reports VP_ENODEV and auto falls back. */
#ifdef VP_HAVE_CUDA
#include <dlfcn.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "cuda_dl.h"

static cuda_dl table;
static const cuda_dl *loaded;
static char reason[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* pip's nvidia-* wheels install the libraries under site-packages/nvidia/<pkg>/lib, which
 * is on no loader path unless LD_LIBRARY_PATH says so: those folders are tried after the
 * loader's own search. */
static const char *const pip_dirs[] = {
	"/usr/local/lib/python3*/dist-packages/nvidia/%s/lib/%s",
	"/usr/local/lib/python3*/site-packages/nvidia/%s/lib/%s",
	"/usr/lib/python3/dist-packages/nvidia/%s/lib/%s",
	"/opt/conda/lib/python3*/site-packages/nvidia/%s/lib/%s",
	"%s/.local/lib/python3*/site-packages/nvidia/%s/lib/%s",
	NULL,
};

static void *open_pip(const char *pkg, const char *soname)
{
	const char *home = getenv("HOME");
	for (int i = 0; pip_dirs[i]; i++) {
		char pattern[512];
		glob_t gl;
		if (strncmp(pip_dirs[i], "%s/", 3) == 0) {
			if (!home)
				continue;
			snprintf(pattern, sizeof(pattern), pip_dirs[i], home, pkg, soname);
		} else {
			snprintf(pattern, sizeof(pattern), pip_dirs[i], pkg, soname);
		}
		if (glob(pattern, 0, NULL, &gl) != 0)
			continue;
		void *h = NULL;
		for (size_t k = gl.gl_pathc; k-- > 0 && !h;)   /* newest python first */
			h = dlopen(gl.gl_pathv[k], RTLD_NOW | RTLD_LOCAL);
		globfree(&gl);
		if (h)
			return h;
	}
	return NULL;
}

static void *open_first(const char *pkg, const char *const *names)
{
	for (int i = 0; names[i]; i++) {
		void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (h)
			return h;
	}
	void *h = open_pip(pkg, names[0]);
	/* CUDA 13 wheels share one nvidia/cu13/lib folder */
	return h ? h : open_pip("cu13", names[0]);
}

/* dlsym into a function-pointer slot: the slot's address is written through void * so no
 * object/function pointer conversion is needed. */
static int sym(void *lib, const char *name, void *slot)
{
	void *p = dlsym(lib, name);
	if (!p) {
		snprintf(reason, sizeof(reason), "symbol %s missing", name);
		return -1;
	}
	memcpy(slot, &p, sizeof(p));
	return 0;
}

#define SYM(lib, f) if (sym(table.lib, #f, &table.f) < 0) return

static void load(void)
{
	static const char *const dnn[] = { "libcudnn.so.9", "libcudnn.so", NULL };
	static const char *const blas[] = { "libcublas.so.13", "libcublas.so.12", "libcublas.so", NULL };

	if (!(table.cudnn_lib = open_first("cudnn", dnn))) {
		snprintf(reason, sizeof(reason), "cuDNN 9 not found (libcudnn.so.9 on the loader path or in pip's nvidia/cudnn)");
		return;
	}
	if (!(table.cublas_lib = open_first("cublas", blas))) {
		snprintf(reason, sizeof(reason), "cuBLAS not found (libcublas.so.13 on the loader path or in pip's nvidia/cublas)");
		return;
	}
	SYM(cudnn_lib, cudnnGetVersion);
	SYM(cudnn_lib, cudnnGetErrorString);
	SYM(cudnn_lib, cudnnCreate);
	SYM(cudnn_lib, cudnnDestroy);
	SYM(cudnn_lib, cudnnSetStream);
	SYM(cudnn_lib, cudnnCreateTensorDescriptor);
	SYM(cudnn_lib, cudnnDestroyTensorDescriptor);
	SYM(cudnn_lib, cudnnSetTensor4dDescriptor);
	SYM(cudnn_lib, cudnnSetTensorNdDescriptor);
	SYM(cudnn_lib, cudnnCreateFilterDescriptor);
	SYM(cudnn_lib, cudnnDestroyFilterDescriptor);
	SYM(cudnn_lib, cudnnSetFilterNdDescriptor);
	SYM(cudnn_lib, cudnnCreateConvolutionDescriptor);
	SYM(cudnn_lib, cudnnDestroyConvolutionDescriptor);
	SYM(cudnn_lib, cudnnSetConvolutionNdDescriptor);
	SYM(cudnn_lib, cudnnSetConvolutionGroupCount);
	SYM(cudnn_lib, cudnnSetConvolutionMathType);
	SYM(cudnn_lib, cudnnCreateActivationDescriptor);
	SYM(cudnn_lib, cudnnDestroyActivationDescriptor);
	SYM(cudnn_lib, cudnnSetActivationDescriptor);
	SYM(cudnn_lib, cudnnFindConvolutionForwardAlgorithmEx);
	SYM(cudnn_lib, cudnnGetConvolutionForwardWorkspaceSize);
	SYM(cudnn_lib, cudnnConvolutionForward);
	SYM(cudnn_lib, cudnnConvolutionBiasActivationForward);
	SYM(cudnn_lib, cudnnFindConvolutionBackwardDataAlgorithmEx);
	SYM(cudnn_lib, cudnnGetConvolutionBackwardDataWorkspaceSize);
	SYM(cudnn_lib, cudnnConvolutionBackwardData);
	SYM(cublas_lib, cublasCreate_v2);
	SYM(cublas_lib, cublasDestroy_v2);
	SYM(cublas_lib, cublasSetStream_v2);
	SYM(cublas_lib, cublasSetWorkspace_v2);
	SYM(cublas_lib, cublasSetMathMode);
	SYM(cublas_lib, cublasGemmEx);
	SYM(cublas_lib, cublasGemmStridedBatchedEx);
	if (table.cudnnGetVersion() < 90000) {
		snprintf(reason, sizeof(reason), "cuDNN %zu is older than 9", table.cudnnGetVersion());
		return;
	}
	loaded = &table;
}

const cuda_dl *cuda_dl_get(const char **why)
{
	pthread_once(&once, load);
	if (!loaded && why)
		*why = reason;
	return loaded;
}

int cuda_dnn_check(const cuda_dl *dl, cudnnStatus_t st, const char *what)
{
	if (st == CUDNN_STATUS_SUCCESS)
		return 0;
	vp_err("infer", "cuda", "%s: cuDNN: %s", what, dl->cudnnGetErrorString(st));
	return st == CUDNN_STATUS_NOT_SUPPORTED ? VP_EUNSUP : -EIO;
}

int cuda_blas_check(cublasStatus_t st, const char *what)
{
	if (st == CUBLAS_STATUS_SUCCESS)
		return 0;
	vp_err("infer", "cuda", "%s: cuBLAS status %d", what, (int)st);
	return st == CUBLAS_STATUS_NOT_SUPPORTED ? VP_EUNSUP : -EIO;
}
#endif
