/* Run-time loading of cuDNN and cuBLAS: cuda_libs.c finds a usable file of each (its tables
 * say which sonames, where, and what must load beside them), then every symbol the backend
 * uses is resolved once into the table; a missing piece leaves the table unset with the
 * reason, so backend "cuda" reports VP_ENODEV and auto falls back. cuBLAS comes first:
 * cuDNN's engines open libcublasLt by soname, which then names the loaded one. */
#ifdef VP_HAVE_CUDA
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "cuda_dl.h"
#include "cuda_libs.h"

static cuda_dl table;
static const cuda_dl *loaded;
static char reason[1024];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* dlsym into a function-pointer slot: the slot's address is written through void * so no
 * object/function pointer conversion is needed. cuda_lib_find checked every name. */
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

static void load(void)
{
	cuda_lib blas, dnn;
	if (cuda_lib_find(&cuda_lib_cublas, cuda_lib_places, NULL, &blas, reason, sizeof(reason)) < 0)
		return;
	if (cuda_lib_find(&cuda_lib_cudnn, cuda_lib_places, NULL, &dnn, reason, sizeof(reason)) < 0) {
		cuda_lib_close(&blas);
		return;
	}
	table.cublas_lib = blas.lib;
	table.cudnn_lib = dnn.lib;
#define CUDA_DL_RESOLVE(lib, f) if (sym(table.lib##_lib, #f, &table.f) < 0) return;
	CUDA_DL_CUBLAS_SYMS(CUDA_DL_RESOLVE)
	CUDA_DL_CUDNN_SYMS(CUDA_DL_RESOLVE)
#undef CUDA_DL_RESOLVE
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
