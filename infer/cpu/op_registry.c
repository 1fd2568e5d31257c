/* The operator registry: the const tables of every operator family, searched by
 * op_type. Adding an operator is one row in its family's table. */
#include <string.h>

#include "infer/graph/graph.h"
#include "ops_tables.h"

static const inf_op *const families[] = {
	ops_conv, ops_elementwise, ops_pool, ops_shape, ops_layout, ops_resize, ops_math, ops_pad,
	ops_reduce, ops_logic, ops_arith, ops_gen,
	ops_index, ops_norm, ops_scatter, ops_grid_sample, ops_reduce_more,
	ops_rearrange, ops_einsum, ops_roi_align,
};

const inf_op *inf_op_find(const char *op_type)
{
	if (!op_type)
		return NULL;
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const inf_op *op = families[f]; op->op_type; op++)
			if (strcmp(op->op_type, op_type) == 0)
				return op;
	return NULL;
}
