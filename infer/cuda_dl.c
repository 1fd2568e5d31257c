/* Run-time loading of cuDNN and cuBLAS: the libraries' sonames are tried in order
 * (the loader path first, then pip's nvidia wheel folders), every symbol the backend uses
 * is resolved once, and a missing piece leaves the table unset with the reason, so backend
 * "cuda" reports VP_ENODEV and auto falls back. */
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

/* pip's nvidia-* wheels install the libraries under <site-packages>/nvidia/<pkg>/lib, which
 * is on no loader path unless LD_LIBRARY_PATH says so: after the loader's own search, the
 * site-packages folders of the usual Python installs are tried, virtual environments
 * included (the GPU machines' PyTorch lives in /opt/<name>/.venv), then
 * $VAPD_CUDA_LIB_DIRS (colon-separated folders holding the libraries themselves). */
static const char *const site_dirs[] = {
	"$VIRTUAL_ENV/lib/python3*/site-packages",
	"$CONDA_PREFIX/lib/python3*/site-packages",
	"/opt/*/.venv/lib/python3*/site-packages",
	"/opt/*/venv/lib/python3*/site-packages",
	"/opt/*/lib/python3*/site-packages",
	"/opt/conda/lib/python3*/site-packages",
	"/usr/local/lib/python3*/dist-packages",
	"/usr/local/lib/python3*/site-packages",
	"/usr/lib/python3/dist-packages",
	"$HOME/.local/lib/python3*/site-packages",
	NULL,
};

/* Expands a leading $NAME; 0 when the variable is unset or the result does not fit. */
static int expand(const char *pattern, const char *tail, char *out, size_t n)
{
	const char *rest = pattern, *val = "";
	if (pattern[0] == '$') {
		rest = strchr(pattern, '/');
		char name[32];
		size_t len = (size_t)(rest - pattern - 1);
		if (len >= sizeof(name))
			return 0;
		memcpy(name, pattern + 1, len);
		name[len] = 0;
		val = getenv(name);
		if (!val || !*val)
			return 0;
	}
	int w = snprintf(out, n, "%s%s/%s", val, rest, tail);
	return w > 0 && (size_t)w < n;
}

/* Opens the last match of a glob pattern (the newest python3.N sorts last). */
static void *open_glob(const char *pattern)
{
	glob_t gl;
	void *h = NULL;
	if (glob(pattern, 0, NULL, &gl) != 0)
		return NULL;
	for (size_t k = gl.gl_pathc; k-- > 0 && !h;)
		h = dlopen(gl.gl_pathv[k], RTLD_NOW | RTLD_LOCAL);
	globfree(&gl);
	return h;
}

static void *open_env_dirs(const char *soname)
{
	const char *dirs = getenv("VAPD_CUDA_LIB_DIRS");
	while (dirs && *dirs) {
		size_t len = strcspn(dirs, ":");
		char path[1024];
		if (len > 0 && len < sizeof(path) - strlen(soname) - 2) {
			snprintf(path, sizeof(path), "%.*s/%s", (int)len, dirs, soname);
			void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (h)
				return h;
		}
		dirs += len + (dirs[len] == ':');
	}
	return NULL;
}

/* pkgs: the wheel folders under nvidia/ that may hold soname (CUDA 13 wheels share one
 * nvidia/cu13/lib folder; cuDNN keeps nvidia/cudnn/lib). */
static void *open_pip(const char *const *pkgs, const char *soname)
{
	for (int i = 0; site_dirs[i]; i++) {
		for (int k = 0; pkgs[k]; k++) {
			char tail[128], pattern[768];
			snprintf(tail, sizeof(tail), "nvidia/%s/lib/%s", pkgs[k], soname);
			void *h = expand(site_dirs[i], tail, pattern, sizeof(pattern)) ? open_glob(pattern) : NULL;
			if (h)
				return h;
		}
	}
	return open_env_dirs(soname);
}

static void *open_first(const char *const *pkgs, const char *const *names)
{
	for (int i = 0; names[i]; i++) {
		void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (h)
			return h;
	}
	return open_pip(pkgs, names[0]);
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
	static const char *const dnn_pkgs[] = { "cudnn", NULL };
	static const char *const blas_pkgs[] = { "cu13", "cublas", NULL };

	if (!(table.cudnn_lib = open_first(dnn_pkgs, dnn))) {
		snprintf(reason, sizeof(reason), "cuDNN 9 not found (libcudnn.so.9 on the loader path, "
		         "in a site-packages/nvidia/cudnn/lib or in $VAPD_CUDA_LIB_DIRS)");
		return;
	}
	if (!(table.cublas_lib = open_first(blas_pkgs, blas))) {
		snprintf(reason, sizeof(reason), "cuBLAS not found (libcublas.so.13 on the loader path, "
		         "in a site-packages/nvidia/{cu13,cublas}/lib or in $VAPD_CUDA_LIB_DIRS)");
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
