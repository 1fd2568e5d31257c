/* CPU references of the cuda_more.cu kernels, with the launchers' arguments minus the
 * stream: the semantics the kernels must reproduce, in the CPU operators' arithmetic
 * (Cast through ops_common's element accessors like ops_shape.c, float accumulation like
 * ops_reduce.c, the per-channel a*x+b of ops_math.c). Half storage goes through the same
 * accessors. */
#include <math.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "cuda_more.h"
#include "infer/cpu/ops_common.h"

int cuk_cast_ref(const void *x, int xt, void *y, int yt, int64_t count)
{
	if (!ops_dtype_numeric(xt) || !ops_dtype_numeric(yt))
		return -EINVAL;
	/* integers stay exact through int64; everything else goes through double */
	if (ops_dtype_is_int(xt) && ops_dtype_is_int(yt))
		for (int64_t i = 0; i < count; i++)
			ops_put_i64(y, yt, i, ops_get_i64(x, xt, i));
	else
		for (int64_t i = 0; i < count; i++)
			ops_put_f64(y, yt, i, ops_get_f64(x, xt, i));
	return 0;
}

static float load(int half, const void *p, int64_t i)
{
	return half ? (float)ops_get_f64(p, INF_DT_FLOAT16, i) : ((const float *)p)[i];
}

static void store(int half, void *p, int64_t i, float v)
{
	if (half)
		ops_put_f64(p, INF_DT_FLOAT16, i, v);
	else
		((float *)p)[i] = v;
}

static int64_t axes_offset(int n, const int64_t *dims, const int64_t *str, int64_t i)
{
	int64_t off = 0;
	for (int d = n - 1; d >= 0; d--) {
		off += (i % dims[d]) * str[d];
		i /= dims[d];
	}
	return off;
}

int cuk_reduce_ref(int half, const void *x, void *y, const cuk_reduce *r)
{
	for (int64_t o = 0; o < r->outs; o++) {
		int64_t base = axes_offset(r->nk, r->kdims, r->kstr, o);
		float acc = r->kind == CUK_RED_MAX ? -INFINITY : r->kind == CUK_RED_MIN ? INFINITY : 0.0f;
		for (int64_t k = 0; k < r->rcount; k++) {
			float v = load(half, x, base + axes_offset(r->nr, r->rdims, r->rstr, k));
			acc = r->kind == CUK_RED_MAX ? (v > acc ? v : acc) : r->kind == CUK_RED_MIN ? (v < acc ? v : acc)
			                                                                            : acc + v;
		}
		store(half, y, o, r->kind == CUK_RED_MEAN ? acc / (float)r->rcount : acc);
	}
	return 0;
}

int cuk_scale_shift_ref(int half, const void *x, void *y, const float *a, const float *b, int64_t channels,
                        int64_t plane, int64_t count)
{
	for (int64_t i = 0; i < count; i++) {
		int64_t c = (i / plane) % channels;
		store(half, y, i, load(half, x, i) * a[c] + b[c]);
	}
	return 0;
}

int cuk_crop_ref(const void *x, void *y, size_t elem, const cuk_crop *c)
{
	int64_t src[3] = { 1, 1, 1 }, dst[3] = { 1, 1, 1 }, off[3] = { 0, 0, 0 };
	if (c->nsp < 1 || c->nsp > 3 || (elem != 2 && elem != 4))
		return -EINVAL;
	for (int j = 0; j < c->nsp; j++) {
		src[3 - c->nsp + j] = c->src[j];
		dst[3 - c->nsp + j] = c->dst[j];
		off[3 - c->nsp + j] = c->off[j];
	}
	int64_t i = 0;
	for (int64_t p = 0; p < c->planes; p++)
		for (int64_t a = 0; a < dst[0]; a++)
			for (int64_t b = 0; b < dst[1]; b++)
				for (int64_t d = 0; d < dst[2]; d++, i++) {
					int64_t s0 = a + off[0], s1 = b + off[1], s2 = d + off[2];
					char *to = (char *)y + (size_t)i * elem;
					if (s0 < 0 || s0 >= src[0] || s1 < 0 || s1 >= src[1] || s2 < 0 || s2 >= src[2])
						memset(to, 0, elem);
					else
						memcpy(to, (const char *)x + (size_t)(((p * src[0] + s0) * src[1] + s1) * src[2] + s2) * elem,
						       elem);
				}
	return 0;
}
