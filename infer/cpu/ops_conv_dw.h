/* Internal to the Conv operator: 3x3 depthwise convolutions (stride 1 or 2, dilation 1)
 * with AVX-512. */
#ifndef INF_OPS_CONV_DW_H
#define INF_OPS_CONV_DW_H

#include <stddef.h>

#include "infer/graph/graph.h"
#include "ops_window.h"

/* Whether the depthwise node's window w3 (padded to 3 axes) takes this path here. */
int conv_dw3_usable(const ops_window *w3);

/* Workspace bytes for `threads` workers (one staged input plane each). */
size_t conv_dw3_workspace(const ops_window *w3, int threads);

/* Every plane of depthwise Conv node n on nth threads of pool (at most `threads`, the
 * count the workspace was sized for). */
void conv_dw3_run(inf_node *n, const ops_window *w3, float *ws, int threads, struct tp_pool *pool, int nth);

#endif
