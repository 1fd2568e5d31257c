/* CPU twin of kernels/view_scale.cu: same checks, same per-sample math. */
#include <errno.h>
#include <stddef.h>

#include "../pipeline/vp_log.h"
#include "view_scale.h"
#include "view_scale_math.h"

static int even_pos(int v) { return v >= 0 && v % 2 == 0; }

int krn_view_scale_check(const vp_frame *f, const krn_vscale *p)
{
	const char *why = NULL;
	if (!f || !p)
		why = "no frame or parameters";
	else if (f->fmt != VP_PIX_NV12 && f->fmt != VP_PIX_P016)
		why = "format is not NV12 or P016";
	else if (!f->data[0] || !f->data[1] || f->linesize[0] <= 0 || f->linesize[1] <= 0)
		why = "frame planes missing";
	else if (!even_pos(p->sx) || !even_pos(p->sy) || !even_pos(p->sw) || !even_pos(p->sh) ||
	         p->sw < 2 || p->sh < 2 || p->sx + p->sw > f->width || p->sy + p->sh > f->height)
		why = "source rectangle not even or outside the frame";
	else if (!even_pos(p->dst_w) || !even_pos(p->dst_h) || p->dst_w < 2 || p->dst_h < 2)
		why = "destination size not even and >= 2";
	else if (!p->dst[0] || !p->dst[1] || p->dst_ls[0] < p->dst_w || p->dst_ls[1] < p->dst_w)
		why = "destination planes missing or too narrow";
	if (!why)
		return 0;
	vp_err("view", f ? f->stream_id : NULL, "scale: %s", why);
	return -EINVAL;
}

int krn_view_scale_ref(const vp_frame *f, const krn_vscale *p)
{
	int r = krn_view_scale_check(f, p);
	if (r < 0)
		return r;
	int wide = f->fmt == VP_PIX_P016;
	for (int y = 0; y < p->dst_h; y++) {
		uint8_t *row = p->dst[0] + (int64_t)y * p->dst_ls[0];
		for (int x = 0; x < p->dst_w; x++)
			row[x] = krn_vs_sample(f->data[0], f->linesize[0], wide, 0, 0, p->sx, p->sy, p->sw,
			                       p->sh, p->dst_w, p->dst_h, x, y);
	}
	for (int y = 0; y < p->dst_h / 2; y++) {
		uint8_t *row = p->dst[1] + (int64_t)y * p->dst_ls[1];
		for (int x = 0; x < p->dst_w; x++)
			row[x] = krn_vs_sample(f->data[1], f->linesize[1], wide, 1, x & 1, p->sx, p->sy, p->sw,
			                       p->sh, p->dst_w, p->dst_h, x / 2, y);
	}
	return 0;
}
