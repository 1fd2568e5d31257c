/* CPU reference of the GPU head's ranking and NMS (heads_cuda.cu), the same algorithm
 * step for step: a bitonic sort of the candidate slots in the CPU order (nms_order.h), a
 * suppression mask with one 64-bit word per (row, block of 64 columns) whose bit says
 * "the row's box suppresses this later box of its class" (IoU > threshold), then one
 * sequential scan that keeps a box unless an earlier kept box's row marks it. Its result
 * equals inf_nms's (tests/test_nms_bitmask.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heads_cuda.h"
#include "nms_order.h"

static void sort_slots(const vp_det *c, int m, int *idx)
{
	int p = nms_pow2(m);
	for (int i = 0; i < p; i++)
		idx[i] = i;
	for (int k = 2; k <= p; k <<= 1)
		for (int j = k >> 1; j > 0; j >>= 1)
			for (int i = 0; i < p; i++)   /* the GPU runs these in parallel: pairs are disjoint */
				nms_bitonic_step(c, m, idx, i, j, k);
}

/* Row i's words from its own block on: bit k of word w marks box w * 64 + k (> i). */
static void mask_rows(const vp_det *s, int m, float thr, int words, uint64_t *mask)
{
	for (int i = 0; i < m; i++)
		for (int w = i / NMS_WORD; w < words; w++) {
			uint64_t bits = 0;
			for (int k = 0; k < NMS_WORD; k++) {
				int j = w * NMS_WORD + k;
				if (j > i && j < m && s[j].class_id == s[i].class_id && inf_iou(s[i].bbox, s[j].bbox) > thr)
					bits |= (uint64_t)1 << k;
			}
			mask[(size_t)i * words + w] = bits;
		}
}

int inf_nms_bitmask_ref(vp_det *dets, int n, float iou, int max_keep)
{
	if (n <= 0 || max_keep <= 0)
		return 0;
	int words = (n + NMS_WORD - 1) / NMS_WORD, kept = 0;
	int *idx = malloc((size_t)nms_pow2(n) * sizeof(int));
	vp_det *s = malloc((size_t)n * sizeof(vp_det));
	uint64_t *mask = malloc((size_t)n * words * sizeof(uint64_t));
	uint64_t *removed = calloc((size_t)words, sizeof(uint64_t));
	if (!idx || !s || !mask || !removed) {
		kept = -ENOMEM;
		goto out;
	}
	sort_slots(dets, n, idx);
	for (int i = 0; i < n; i++)
		s[i] = dets[idx[i]];
	mask_rows(s, n, iou, words, mask);
	for (int i = 0; i < n && kept < max_keep; i++) {
		if (removed[i / NMS_WORD] >> (i % NMS_WORD) & 1)
			continue;
		dets[kept++] = s[i];
		for (int w = i / NMS_WORD; w < words; w++)
			removed[w] |= mask[(size_t)i * words + w];
	}
out:
	free(idx);
	free(s);
	free(mask);
	free(removed);
	return kept;
}
