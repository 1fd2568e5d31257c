/* Internal to the pooling operators: stride-1 2-D float max pooling on small planes
 * (SPP/SPPF blocks) as two passes over whole planes. */
#ifndef INF_OPS_POOL_FLAT_H
#define INF_OPS_POOL_FLAT_H

#include "ops_window.h"

/* Whether window w3 (padded to 3 axes) takes the flat path. */
int pool_flat_usable(const ops_window *w3);

/* Max pooling of one plane x into y. */
void pool_flat_max(const float *x, const ops_window *w3, float *y);

/* Whether window w3 is 2-D, stride 1, dilation 1 and unpadded: pool_s1_max takes it
 * on planes of any size. */
int pool_s1_usable(const ops_window *w3);
void pool_s1_max(const float *x, const ops_window *w3, float *y);

#endif
