/* Internal to the Conv operator: 3x3 stride-1 convolutions by Winograd F(2x2, 3x3)
 * on CPUs that run the packed GEMM. */
#ifndef INF_OPS_CONV_WINO_H
#define INF_OPS_CONV_WINO_H

#include <stddef.h>

#include "infer/graph/graph.h"
#include "ops_window.h"

typedef struct conv_wino conv_wino;

/* Whether Conv node n (window w3, padded to 3 axes) takes this path: 2-D, 3x3, stride
 * and dilation 1, one group, at least 8 input and output channels. */
int conv_wino_usable(const inf_node *n, const ops_window *w3);

/* Transforms and packs the weights for up to `threads` workers; *ret_ws = the
 * workspace bytes a run needs. */
int conv_wino_new(const inf_node *n, int threads, conv_wino **ret, size_t *ret_ws);
void conv_wino_free(conv_wino **p);

/* Runs the node with nth threads of pool (at most the `threads` it was made for). */
void conv_wino_run(const conv_wino *p, inf_node *n, const ops_window *w3, float *ws, struct tp_pool *pool,
                   int nth);

#endif
