/* Internal to the cuda backend, free of CUDA calls: which of cuDNN's measured convolution
 * algorithms the backend may run, best first. cudnnFind* reports one row per algorithm
 * and math type it tried; this rule turns those rows into the ordered candidates a
 * convolution keeps (the first runs the planned batch; a smaller batch that refuses it
 * takes the next). Plain integers mirror cuDNN's enums (checked where they are converted,
 * infer/cuda/cuda_conv.c), so the rule is tested on machines without cuDNN. */
#ifndef INF_CUDA_CONV_PICK_H
#define INF_CUDA_CONV_PICK_H

#include <stddef.h>

/* cudnnMathType_t */
enum { CU_MATH_DEFAULT = 0, CU_MATH_TENSOR_OP = 1, CU_MATH_TENSOR_OP_CONVERT = 2, CU_MATH_FMA = 3 };

/* One row of cudnnConvolution*AlgoPerf_t. */
typedef struct cu_algo_perf {
	int algo;
	int status;          /* 0: the algorithm ran (CUDNN_STATUS_SUCCESS) */
	float time_ms;
	size_t memory;       /* workspace bytes */
	int math;            /* CU_MATH_* */
	int deterministic;   /* CUDNN_DETERMINISTIC */
} cu_algo_perf;

/* Writes to order[] the indices into perf[0..n) of the usable rows, best first, and
 * returns how many (at most max):
 *   - only rows that ran (status 0) and fit ws_limit workspace bytes;
 *   - FP32 (!half): only CU_MATH_FMA rows. Default math may run TF32 on Ampere and later
 *     and the tensor-op maths round the inputs to 10-bit mantissas: either leaves the CPU
 *     tolerance. FP16 keeps every math type (tensor cores are the point);
 *   - each algorithm once (its fastest usable row);
 *   - ordered by time, then deterministic first, then cuDNN's own order. */
int cu_conv_pick(const cu_algo_perf *perf, int n, int half, size_t ws_limit, int *order, int max);

/* Whether the math type may run for the precision (the FP32 / FP16 rule above). */
int cu_conv_math_ok(int math, int half);

#endif
