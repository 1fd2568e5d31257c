/* Internal to the cuda backend: cuDNN 9 and cuBLAS (13, or 12) loaded at run time (dlopen),
 * so the binary starts on machines without them. The table holds the few entry points the
 * backend uses (the list is cuda_dl_syms.h); its types come from the installed headers.
 * Where the libraries are looked for is cuda_libs.c. */
#ifndef INF_CUDA_DL_H
#define INF_CUDA_DL_H

#include <cublas_api.h>
#include <cudnn.h>

#include "cuda_dl_syms.h"

#define CUDA_DL_FN(f) __typeof__(&f) f

typedef struct cuda_dl {
	void *cudnn_lib, *cublas_lib;
#define CUDA_DL_FIELD(lib, f) CUDA_DL_FN(f);
	CUDA_DL_CUDNN_SYMS(CUDA_DL_FIELD)
	CUDA_DL_CUBLAS_SYMS(CUDA_DL_FIELD)
#undef CUDA_DL_FIELD
} cuda_dl;

/* The process-wide table, loaded once (thread-safe); NULL with *why set when no usable cuDNN
 * or cuBLAS was found (cuda_lib_find: every symbol, cuDNN's engine libraries, a handle of
 * each created and destroyed). Call it with the device chosen (cudaSetDevice): the handles
 * are made there. The libraries stay loaded. */
const cuda_dl *cuda_dl_get(const char **why);

/* "what: <cudnn message>" logged once; VP_ENODEV-free: returns -EIO on failure, 0 otherwise. */
int cuda_dnn_check(const cuda_dl *dl, cudnnStatus_t st, const char *what);
int cuda_blas_check(cublasStatus_t st, const char *what);

#endif
