/* The cuDNN and cuBLAS entry points the cuda backend resolves, as one X-macro list:
 * X(library, symbol). cuda_dl.h makes the table's fields from it, cuda_libs.c the symbol
 * lists a candidate library must export (so the search needs no CUDA header). */
#ifndef INF_CUDA_DL_SYMS_H
#define INF_CUDA_DL_SYMS_H

#define CUDA_DL_CUDNN_SYMS(X)                                   \
	X(cudnn, cudnnGetVersion)                               \
	X(cudnn, cudnnGetErrorString)                           \
	X(cudnn, cudnnCreate)                                   \
	X(cudnn, cudnnDestroy)                                  \
	X(cudnn, cudnnSetStream)                                \
	X(cudnn, cudnnCreateTensorDescriptor)                   \
	X(cudnn, cudnnDestroyTensorDescriptor)                  \
	X(cudnn, cudnnSetTensor4dDescriptor)                    \
	X(cudnn, cudnnSetTensorNdDescriptor)                    \
	X(cudnn, cudnnCreateFilterDescriptor)                   \
	X(cudnn, cudnnDestroyFilterDescriptor)                  \
	X(cudnn, cudnnSetFilterNdDescriptor)                    \
	X(cudnn, cudnnCreateConvolutionDescriptor)              \
	X(cudnn, cudnnDestroyConvolutionDescriptor)             \
	X(cudnn, cudnnSetConvolutionNdDescriptor)               \
	X(cudnn, cudnnSetConvolutionGroupCount)                 \
	X(cudnn, cudnnSetConvolutionMathType)                   \
	X(cudnn, cudnnCreateActivationDescriptor)               \
	X(cudnn, cudnnDestroyActivationDescriptor)              \
	X(cudnn, cudnnSetActivationDescriptor)                  \
	X(cudnn, cudnnFindConvolutionForwardAlgorithmEx)        \
	X(cudnn, cudnnGetConvolutionForwardWorkspaceSize)       \
	X(cudnn, cudnnConvolutionForward)                       \
	X(cudnn, cudnnConvolutionBiasActivationForward)         \
	X(cudnn, cudnnFindConvolutionBackwardDataAlgorithmEx)   \
	X(cudnn, cudnnGetConvolutionBackwardDataWorkspaceSize)  \
	X(cudnn, cudnnConvolutionBackwardData)

#define CUDA_DL_CUBLAS_SYMS(X)                                  \
	X(cublas, cublasGetProperty)                            \
	X(cublas, cublasCreate_v2)                              \
	X(cublas, cublasDestroy_v2)                             \
	X(cublas, cublasSetStream_v2)                           \
	X(cublas, cublasSetWorkspace_v2)                        \
	X(cublas, cublasSetMathMode)                            \
	X(cublas, cublasGemmEx)                                 \
	X(cublas, cublasGemmStridedBatchedEx)

#endif
