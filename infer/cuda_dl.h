/* Internal to the cuda backend: cuDNN 9 and cuBLAS 13 loaded at run time (dlopen), so the
 * binary starts on machines without them. The table holds the few entry points the backend
 * uses; its types come from the installed headers. */
#ifndef INF_CUDA_DL_H
#define INF_CUDA_DL_H

#include <cublas_api.h>
#include <cudnn.h>

#define CUDA_DL_FN(f) __typeof__(&f) f

typedef struct cuda_dl {
	void *cudnn_lib, *cublas_lib;
	CUDA_DL_FN(cudnnGetVersion);
	CUDA_DL_FN(cudnnGetErrorString);
	CUDA_DL_FN(cudnnCreate);
	CUDA_DL_FN(cudnnDestroy);
	CUDA_DL_FN(cudnnSetStream);
	CUDA_DL_FN(cudnnCreateTensorDescriptor);
	CUDA_DL_FN(cudnnDestroyTensorDescriptor);
	CUDA_DL_FN(cudnnSetTensor4dDescriptor);
	CUDA_DL_FN(cudnnSetTensorNdDescriptor);
	CUDA_DL_FN(cudnnCreateFilterDescriptor);
	CUDA_DL_FN(cudnnDestroyFilterDescriptor);
	CUDA_DL_FN(cudnnSetFilterNdDescriptor);
	CUDA_DL_FN(cudnnCreateConvolutionDescriptor);
	CUDA_DL_FN(cudnnDestroyConvolutionDescriptor);
	CUDA_DL_FN(cudnnSetConvolutionNdDescriptor);
	CUDA_DL_FN(cudnnSetConvolutionGroupCount);
	CUDA_DL_FN(cudnnSetConvolutionMathType);
	CUDA_DL_FN(cudnnCreateActivationDescriptor);
	CUDA_DL_FN(cudnnDestroyActivationDescriptor);
	CUDA_DL_FN(cudnnSetActivationDescriptor);
	CUDA_DL_FN(cudnnFindConvolutionForwardAlgorithmEx);
	CUDA_DL_FN(cudnnGetConvolutionForwardWorkspaceSize);
	CUDA_DL_FN(cudnnConvolutionForward);
	CUDA_DL_FN(cudnnConvolutionBiasActivationForward);
	CUDA_DL_FN(cudnnFindConvolutionBackwardDataAlgorithmEx);   /* ConvTranspose (cuda_more.c) */
	CUDA_DL_FN(cudnnGetConvolutionBackwardDataWorkspaceSize);
	CUDA_DL_FN(cudnnConvolutionBackwardData);
	CUDA_DL_FN(cublasCreate_v2);
	CUDA_DL_FN(cublasDestroy_v2);
	CUDA_DL_FN(cublasSetStream_v2);
	CUDA_DL_FN(cublasSetWorkspace_v2);
	CUDA_DL_FN(cublasSetMathMode);
	CUDA_DL_FN(cublasGemmEx);
	CUDA_DL_FN(cublasGemmStridedBatchedEx);
} cuda_dl;

/* The process-wide table, loaded once (thread-safe); NULL with *why set when cuDNN or
 * cuBLAS (or one of their symbols) is missing. The libraries stay loaded. */
const cuda_dl *cuda_dl_get(const char **why);

/* "what: <cudnn message>" logged once; VP_ENODEV-free: returns -EIO on failure, 0 otherwise. */
int cuda_dnn_check(const cuda_dl *dl, cudnnStatus_t st, const char *what);
int cuda_blas_check(cublasStatus_t st, const char *what);

#endif
