/* CUDA twin of krn_preprocess_ref: one launch for the whole batch. Each thread makes one
 * model-input pixel (three channels) of one batch item (blockIdx.z) with the same inline
 * math as the CPU reference; the per-item descriptors (planes, geometry, colour
 * coefficients) come from a device array filled by one async copy per batch. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* First, so preprocess.h is declared extern "C" before preprocess_math.h includes it. */
#include "preprocess_cuda.h"
#include "cuda_util.h"
#include "preprocess_math.h"

#define BLOCK_X 32
#define BLOCK_Y 8

typedef struct pre_desc {
	krn_planes pl;
	krn_geom g;
	krn_csp_coef c;
} pre_desc;

struct krn_pre_cuda {
	int max_batch;
	pre_desc *host;       /* pinned staging */
	pre_desc *dev;
	cudaEvent_t copied;   /* the last descriptor copy left the staging buffer */
	int pending;          /* copied was recorded and not yet waited for */
};

__global__ void pre_kernel(const pre_desc *__restrict__ desc, krn_pre_params p, void *dst)
{
	int dx = blockIdx.x * blockDim.x + threadIdx.x;
	int dy = blockIdx.y * blockDim.y + threadIdx.y;
	if (dx >= p.dst_w || dy >= p.dst_h)
		return;
	int item = blockIdx.z;
	const pre_desc *d = &desc[item];
	float rgb[3];
	int in = krn_sample_rgb(&d->pl, &d->g, &d->c, dx, dy, rgb);
	krn_store_pixel(dst, &p, item, dx, dy, rgb, !in);
}

extern "C" int krn_pre_cuda_new(int max_batch, krn_pre_cuda **ret)
{
	if (max_batch < 1 || max_batch > 65535) {
		vp_err("preprocess", NULL, "CUDA preprocessing batch size %d out of range (1-65535)",
		       max_batch);
		return -EINVAL;
	}
	krn_pre_cuda *c = (krn_pre_cuda *)calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->max_batch = max_batch;
	size_t bytes = sizeof(pre_desc) * (size_t)max_batch;
	int r;
	if ((r = KRN_CUDA_CHECK(cudaMallocHost((void **)&c->host, bytes))) < 0 ||
	    (r = KRN_CUDA_CHECK(cudaMalloc((void **)&c->dev, bytes))) < 0 ||
	    (r = KRN_CUDA_CHECK(cudaEventCreateWithFlags(&c->copied, KRN_EVENT_WAIT_FLAGS))) < 0) {
		krn_pre_cuda_free(&c);
		return r;
	}
	*ret = c;
	return 0;
}

extern "C" void krn_pre_cuda_free(krn_pre_cuda **pc)
{
	krn_pre_cuda *c = *pc;
	if (!c)
		return;
	*pc = NULL;
	if (c->copied) {
		/* A copy still reading the staging buffer must finish before it is freed. */
		cudaEventSynchronize(c->copied);
		cudaEventDestroy(c->copied);
	}
	cudaFree(c->dev);
	cudaFreeHost(c->host);
	free(c);
}

static void fill_desc(pre_desc *d, const vp_frame *f, const krn_pre_params *p)
{
	for (int k = 0; k < 3; k++) {
		d->pl.data[k] = f->data[k];
		d->pl.linesize[k] = f->linesize[k];
	}
	d->pl.w = f->width;
	d->pl.h = f->height;
	d->pl.fmt = f->fmt;
	krn_geom_compute(p->dst_w, p->dst_h, p->resize == KRN_LETTERBOX, p->placement == KRN_CENTER,
	                 f->width, f->height, &d->g);
	krn_csp_coef_init(f->csp == VP_CSP_BT709, f->full_range, &d->c);
}

extern "C" int krn_preprocess_cuda(krn_pre_cuda *c, const vp_frame *const *frames, int n,
                                   const krn_pre_params *p, void *dst_device, krn_xform *xf,
                                   struct CUstream_st *stream)
{
	int r = krn_pre_check_batch(frames, n, c->max_batch, p, dst_device, VP_MEM_DEVICE);
	if (r < 0)
		return r;
	/* The staging buffer may still feed the previous batch's copy. */
	if (c->pending && (r = KRN_CUDA_CHECK(cudaEventSynchronize(c->copied))) < 0)
		return r;
	c->pending = 0;
	for (int i = 0; i < n; i++) {
		fill_desc(&c->host[i], frames[i], p);
		if (xf)
			krn_pre_xform(p, frames[i]->width, frames[i]->height, &xf[i]);
	}
	cudaStream_t s = (cudaStream_t)stream;
	if ((r = KRN_CUDA_CHECK(cudaMemcpyAsync(c->dev, c->host, sizeof(pre_desc) * (size_t)n,
	                                        cudaMemcpyHostToDevice, s))) < 0)
		return r;
	if ((r = KRN_CUDA_CHECK(cudaEventRecord(c->copied, s))) < 0)
		return r;
	c->pending = 1;
	dim3 block(BLOCK_X, BLOCK_Y, 1);
	dim3 grid((unsigned)(p->dst_w + BLOCK_X - 1) / BLOCK_X,
	          (unsigned)(p->dst_h + BLOCK_Y - 1) / BLOCK_Y, (unsigned)n);
	pre_kernel<<<grid, block, 0, s>>>(c->dev, *p, dst_device);
	return KRN_CUDA_CHECK(cudaGetLastError());
}
