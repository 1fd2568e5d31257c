/* Internal to the Conv operator: convolution through the packed GEMM (pgemm.h) on
 * CPUs that have it. */
#ifndef INF_OPS_CONV_PG_H
#define INF_OPS_CONV_PG_H

#include <stddef.h>

#include "infer/graph/graph.h"
#include "ops_window.h"

typedef struct conv_pg conv_pg;

/* Packs the weights of Conv node n (window w3, padded to 3 axes; pointwise: 1x1, stride
 * 1, no padding) for up to `threads` workers; *ret_ws = the workspace bytes a run needs. */
int conv_pg_new(const inf_node *n, const ops_window *w3, int pointwise, int threads, conv_pg **ret,
                size_t *ret_ws);
void conv_pg_free(conv_pg **p);

/* Runs the node with nth threads of pool (at most the `threads` it was made for). */
void conv_pg_run(const conv_pg *p, inf_node *n, const ops_window *w3, float *ws, struct tp_pool *pool, int nth);

#endif
