/* Class-aware greedy non-maximum suppression over detections. */
#include <stdlib.h>

#include "heads.h"

float inf_iou(const float a[4], const float b[4])
{
	float iw = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
	float ih = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
	if (iw <= 0.0f || ih <= 0.0f)
		return 0.0f;
	float inter = iw * ih;
	float uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
	return uni > 0.0f ? inter / uni : 0.0f;
}

/* Descending score; ties broken by class and position so the order (and thus which of
 * two equal boxes survives) never depends on the sort algorithm. */
static int by_score_desc(const void *pa, const void *pb)
{
	const vp_det *a = pa, *b = pb;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->class_id != b->class_id)
		return a->class_id < b->class_id ? -1 : 1;
	for (int k = 0; k < 4; k++)
		if (a->bbox[k] != b->bbox[k])
			return a->bbox[k] < b->bbox[k] ? -1 : 1;
	return 0;
}

int inf_sort_best(vp_det *dets, int n, int max_keep)
{
	if (n <= 0 || max_keep <= 0)
		return 0;
	qsort(dets, (size_t)n, sizeof(*dets), by_score_desc);
	return n < max_keep ? n : max_keep;
}

int inf_nms(vp_det *dets, int n, float iou, int max_keep)
{
	if (n <= 0 || max_keep <= 0)
		return 0;
	qsort(dets, (size_t)n, sizeof(*dets), by_score_desc);
	/* survivors are compacted at the front; each candidate is checked against them only,
	 * which is the same as suppressing from every kept box in score order */
	int kept = 0;
	for (int i = 0; i < n && kept < max_keep; i++) {
		int keep = 1;
		for (int j = 0; j < kept && keep; j++)
			if (dets[j].class_id == dets[i].class_id && inf_iou(dets[j].bbox, dets[i].bbox) > iou)
				keep = 0;
		if (keep)
			dets[kept++] = dets[i];
	}
	return kept;
}
