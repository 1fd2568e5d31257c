/* Internal to the CPU operator files: numpy broadcasting of up to OPS_BWALK_MAX operands
 * as an odometer over the output, for the generic (any dtype, element by element)
 * paths of the comparison, logic and variadic operators. Those operators sit on small
 * tensors in the models (masks, indices, score tables), so exactness across dtypes
 * matters more than vector speed here; the hot float paths stay in ops_elementwise.c. */
#ifndef INF_OPS_BWALK_H
#define INF_OPS_BWALK_H

#include <string.h>

#include "ops_common.h"

#define OPS_BWALK_MAX 8

typedef struct ops_bwalk {
	int nd, n;
	int64_t dims[INF_MAX_DIMS], idx[INF_MAX_DIMS];
	int64_t st[OPS_BWALK_MAX][INF_MAX_DIMS];
	int64_t off[OPS_BWALK_MAX];         /* element offset of each operand at the position */
} ops_bwalk;

/* Starts at output element 0 of y for operands t[0..n) (n <= OPS_BWALK_MAX). */
static inline void ops_bwalk_init(ops_bwalk *w, const inf_tensor *y, const inf_tensor *const *t, int n)
{
	memset(w, 0, sizeof(*w));
	w->nd = y->ndim;
	w->n = n;
	memcpy(w->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim);
	for (int k = 0; k < n; k++)
		ops_bcast_strides(t[k], y->ndim, y->dims, w->st[k]);
}

/* Advances to the next output element (row-major). */
static inline void ops_bwalk_next(ops_bwalk *w)
{
	for (int d = w->nd - 1; d >= 0; d--) {
		for (int k = 0; k < w->n; k++)
			w->off[k] += w->st[k][d];
		if (++w->idx[d] < w->dims[d])
			return;
		for (int k = 0; k < w->n; k++)
			w->off[k] -= w->st[k][d] * w->dims[d];
		w->idx[d] = 0;
	}
}

/* The broadcast shape of t[0..n) into *ret_nd / ret_dims; -1 when they do not broadcast. */
static inline int ops_bcast_shape_n(const inf_tensor *const *t, int n, int *ret_nd, int64_t *ret_dims)
{
	inf_tensor acc = { .ndim = 0 };

	for (int k = 0; k < n; k++) {
		int64_t dims[INF_MAX_DIMS];
		int nd;
		/* not in place: ops_bcast_shape reads acc.dims while it writes */
		if (ops_bcast_shape(&acc, t[k], &nd, dims) < 0)
			return -1;
		acc.ndim = nd;
		memcpy(acc.dims, dims, sizeof(dims));
	}
	*ret_nd = acc.ndim;
	memcpy(ret_dims, acc.dims, sizeof(int64_t) * (size_t)acc.ndim);
	return 0;
}

#endif
