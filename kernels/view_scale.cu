/* CUDA twin of krn_view_scale_ref: one thread per destination sample pair, Y plane and
 * UV plane in one launch (blockIdx.z), with the inline math of view_scale_math.h. */
#include <errno.h>
#include <stdint.h>

#include "view_scale.h"
#include "cuda_util.h"
#include "view_scale_math.h"

#define BLOCK_X 32
#define BLOCK_Y 8

typedef struct vs_plane {
	const uint8_t *src;
	int src_ls;
	uint8_t *dst;
	int dst_ls;
} vs_plane;

/* x: destination byte column (Y: sample; UV: U or V of sample x / 2), y: row. */
__global__ void vs_kernel(vs_plane y_pl, vs_plane uv_pl, krn_vscale p, int wide)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	int k = blockIdx.z;
	if (x >= p.dst_w || y >= (k == 0 ? p.dst_h : p.dst_h / 2))
		return;
	const vs_plane *pl = k == 0 ? &y_pl : &uv_pl;
	int dx = k == 0 ? x : x / 2, c = k == 0 ? 0 : (x & 1);
	pl->dst[(int64_t)y * pl->dst_ls + x] = krn_vs_sample(pl->src, pl->src_ls, wide, k, c, p.sx, p.sy,
	                                                     p.sw, p.sh, p.dst_w, p.dst_h, dx, y);
}

extern "C" int krn_view_scale_cuda(const vp_frame *f, const krn_vscale *p, struct CUstream_st *stream)
{
	int r = krn_view_scale_check(f, p);
	if (r < 0)
		return r;
	vs_plane y_pl = { f->data[0], f->linesize[0], p->dst[0], p->dst_ls[0] };
	vs_plane uv_pl = { f->data[1], f->linesize[1], p->dst[1], p->dst_ls[1] };
	dim3 block(BLOCK_X, BLOCK_Y, 1);
	dim3 grid((unsigned)(p->dst_w + BLOCK_X - 1) / BLOCK_X, (unsigned)(p->dst_h + BLOCK_Y - 1) / BLOCK_Y, 2);
	vs_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(y_pl, uv_pl, *p, f->fmt == VP_PIX_P016);
	return KRN_CUDA_CHECK(cudaGetLastError());
}
