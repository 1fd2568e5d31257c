/* One detection in source-frame pixels: what heads produce and sinks print. */
#ifndef VP_DET_H
#define VP_DET_H

typedef struct vp_det {
	int class_id;
	float score;
	float bbox[4]; /* x1, y1, x2, y2, clipped to the frame */
} vp_det;

#endif
