/* Internal: the operator tables of each ops_*.c family, each ended by a row with a NULL
 * op_type; op_registry.c searches them in order. */
#ifndef INF_OPS_TABLES_H
#define INF_OPS_TABLES_H

#include "infer/graph/graph.h"

extern const inf_op ops_elementwise[];
extern const inf_op ops_conv[];
extern const inf_op ops_pool[];
extern const inf_op ops_shape[];
extern const inf_op ops_layout[];
extern const inf_op ops_resize[];
extern const inf_op ops_math[];
extern const inf_op ops_pad[];
extern const inf_op ops_reduce[];
extern const inf_op ops_logic[];
extern const inf_op ops_arith[];
extern const inf_op ops_gen[];
extern const inf_op ops_index[];
extern const inf_op ops_norm[];
extern const inf_op ops_scatter[];
extern const inf_op ops_grid_sample[];
extern const inf_op ops_reduce_more[];
extern const inf_op ops_rearrange[];
extern const inf_op ops_einsum[];
extern const inf_op ops_roi_align[];

#endif
