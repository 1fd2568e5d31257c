/* The candidate order and the sorting network shared by the GPU head (heads_cuda.cu) and
 * its CPU reference (heads_cuda_ref.c): the CPU head's order (nms.c: score descending,
 * then class, then box), exact duplicates by slot, so the sort is a total order and any
 * correct sort gives the CPU's sequence. Plain C, host and device. */
#ifndef INF_NMS_ORDER_H
#define INF_NMS_ORDER_H

#include "pipeline/vp_det.h"

#ifdef __CUDACC__
#define NMS_HD __host__ __device__
#else
#define NMS_HD
#endif

/* Bits per word of the suppression mask: one word per (row, block of 64 columns). */
#define NMS_WORD 64

/* x ranks before y in the CPU order (nms.c's by_score_desc). */
NMS_HD static inline int nms_before(const vp_det *x, const vp_det *y)
{
	if (x->score != y->score)
		return x->score > y->score;
	if (x->class_id != y->class_id)
		return x->class_id < y->class_id;
	for (int k = 0; k < 4; k++)
		if (x->bbox[k] != y->bbox[k])
			return x->bbox[k] < y->bbox[k];
	return 0;
}

/* Slot a of c[0..m) ranks after slot b: the CPU order, exact duplicates by slot; slots
 * >= m are the padding of the sorting network and rank last, among themselves by slot. */
NMS_HD static inline int nms_after(const vp_det *c, int m, int a, int b)
{
	if (a >= m || b >= m)
		return a >= m && (b < m || a > b);
	if (nms_before(&c[b], &c[a]))
		return 1;
	if (nms_before(&c[a], &c[b]))
		return 0;
	return a > b;
}

/* One compare-exchange of the bitonic network over p = 2^k slots, stage (k, j), element i
 * (only the lower element of each pair acts: i < (i ^ j)). Ascending where (i & k) == 0. */
NMS_HD static inline void nms_bitonic_step(const vp_det *c, int m, int *idx, int i, int j, int k)
{
	int l = i ^ j;
	if (l <= i)
		return;
	int a = idx[i], b = idx[l];
	if (nms_after(c, m, a, b) == ((i & k) == 0)) {
		idx[i] = b;
		idx[l] = a;
	}
}

/* The smallest power of two >= m (1 for m <= 1). */
NMS_HD static inline int nms_pow2(int m)
{
	int p = 1;
	while (p < m)
		p <<= 1;
	return p;
}

#endif
