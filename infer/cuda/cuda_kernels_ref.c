/* CPU references of the cuda backend's strided pooling, Resize and Pad kernels: the same
 * per-element functions (cuda_kernels_math.h) walked on the host. Used by the tests to
 * check the index math against the CPU operators and the kernels against the host. */
#include "cuda_kernels.h"
#include "cuda_kernels_math.h"

void cuk_pool2d_ref(int half, const void *x, void *y, const cuk_pool *p)
{
	int64_t n = p->n * p->c * p->oh * p->ow;
	for (int64_t i = 0; i < n; i++)
		cuk_pool_at(p, half, x, y, i);
}

void cuk_resize2d_ref(int half, const void *x, void *y, const cuk_resize *p)
{
	int64_t n = p->n * p->c * p->h.out * p->w.out;
	for (int64_t i = 0; i < n; i++)
		cuk_resize_at(p, half, x, y, i);
}

void cuk_pad_nd_ref(int half, const void *x, void *y, const cuk_pad *p)
{
	int64_t n = 1;
	for (int a = 0; a < p->nd; a++)
		n *= p->dims[a];
	for (int64_t i = 0; i < n; i++)
		cuk_pad_at(p, half, x, y, i);
}
