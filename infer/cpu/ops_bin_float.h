/* Internal to infer/: the float broadcasting binary operators (Add, Sub, Mul, Div) over
 * merged axes, vectorised and spread over the context's task pool. */
#ifndef INF_OPS_BIN_FLOAT_H
#define INF_OPS_BIN_FLOAT_H

#include <stdint.h>

#include "infer/graph/graph.h"

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

/* y = a op b over an nd-rank output of dims (merged by the caller), element strides sa
 * and sb of a and b (0 along broadcast axes; the last axis' strides must be 0 or 1). */
void bin_float_bcast(int op, int nd, const int64_t *dims, const int64_t *sa, const int64_t *sb, const float *a,
                     const float *b, float *y, const inf_cpu_ctx *cx);

#endif
