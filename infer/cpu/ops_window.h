/* Internal: the sliding-window geometry of Conv, ConvTranspose and the pools over
 * 1 to 3 spatial axes (kernel, strides, dilations, pads, auto_pad, output size). */
#ifndef INF_OPS_WINDOW_H
#define INF_OPS_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "infer/graph/graph.h"

#define OPS_MAX_SP 3
/* Largest kernel, stride, dilation or pad accepted on one axis. */
#define OPS_MAX_EXTENT (1 << 16)

typedef struct ops_window {
	int nsp;                              /* spatial axes */
	int64_t in[OPS_MAX_SP], out[OPS_MAX_SP];
	int64_t k[OPS_MAX_SP], s[OPS_MAX_SP], d[OPS_MAX_SP];
	int64_t pb[OPS_MAX_SP], pe[OPS_MAX_SP];   /* pads at the start and the end */
	int64_t in_size, out_size, k_size;        /* products over the spatial axes */
} ops_window;

/* Forward windows (Conv, MaxPool, AveragePool): x is [N, C, spatial...]; kernel holds
 * nsp sizes (from the weights or kernel_shape). ceil_mode rounds the output size up. */
int ops_window_forward(const inf_node *n, const inf_tensor *x, const int64_t *kernel, int ceil_mode,
                       ops_window *w, char *err, size_t errlen);

/* ConvTranspose: out from output_shape or strides/output_padding/pads/auto_pad. */
int ops_window_transpose(const inf_node *n, const inf_tensor *x, const int64_t *kernel,
                         ops_window *w, char *err, size_t errlen);

/* Pads every window to 3 axes (leading axes of size 1) so kernels loop over 3. */
void ops_window_to3(const ops_window *w, ops_window *ret);

#endif
