/* The cuda_more.cu kernels against their CPU references (infer/cuda/cuda_more_ref.c) on random
 * inputs: Cast for every pair of storage dtypes (bit-exact), the four reductions over every
 * subset of the axes of a 4-D tensor on both kernel paths (max/min exact, sums within the
 * accumulation-order tolerance), the BatchNormalization scale/shift, and the ConvTranspose
 * crop with zero fill (bit-exact), in float and half storage. Skips cleanly without a GPU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gpu_skip.h"
#include "infer/cuda/cuda_more.h"
#include "infer/cpu/ops_common.h"

#ifdef VP_HAVE_CUDA
#include <cuda_runtime.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double urand(void)
{
	return (double)(rnd() >> 11) * 0x1.0p-53;
}

static void *dev_copy(const void *h, size_t bytes)
{
	void *d = NULL;
	assert_int_equal(cudaMalloc(&d, bytes ? bytes : 1), cudaSuccess);
	if (h && bytes)
		assert_int_equal(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice), cudaSuccess);
	return d;
}

static void host_copy(void *h, void *d, size_t bytes, cudaStream_t s)
{
	assert_int_equal(cudaStreamSynchronize(s), cudaSuccess);
	assert_int_equal(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
	assert_int_equal(cudaFree(d), cudaSuccess);
}

/* ---- Cast ---- */

static const struct { int dt; size_t size; int is_real; } dtypes[] = {
	{ 1, 4, 1 }, { 2, 1, 0 }, { 3, 1, 0 }, { 4, 2, 0 }, { 5, 2, 0 }, { 6, 4, 0 }, { 7, 8, 0 },
	{ 9, 1, 0 }, { 10, 2, 1 }, { 11, 8, 1 }, { 12, 4, 0 }, { 13, 8, 0 }, { 16, 2, 1 },
};
#define N_DT (sizeof(dtypes) / sizeof(dtypes[0]))
#define CAST_N 4096

/* Integers are random bits (every value of the type); reals are values within +-300 with
 * fractions, non-negative when the target is uint64 (C leaves negative -> uint64 undefined). */
static void cast_source(int k, int yt, void *x)
{
	for (int64_t i = 0; i < CAST_N; i++) {
		if (!dtypes[k].is_real) {
			uint64_t bits = rnd();
			memcpy((char *)x + i * (int64_t)dtypes[k].size, &bits, dtypes[k].size);
			continue;
		}
		double v = (urand() * 2 - 1) * 300.0;
		if (i % 17 == 0)
			v = (double)(int64_t)v;   /* exact integers and zeros too */
		ops_put_f64(x, dtypes[k].dt, i, yt == 13 ? fabs(v) : v);
	}
}

static void test_cast_every_dtype_pair_is_bit_exact(void **state)
{
	(void)state;
	cudaStream_t s;
	assert_int_equal(cudaStreamCreate(&s), cudaSuccess);
	uint8_t *x = malloc(CAST_N * 8), *ref = malloc(CAST_N * 8), *got = malloc(CAST_N * 8);
	assert_true(x && ref && got);
	for (size_t a = 0; a < N_DT; a++) {
		for (size_t b = 0; b < N_DT; b++) {
			int xt = dtypes[a].dt, yt = dtypes[b].dt;
			size_t ybytes = CAST_N * dtypes[b].size;
			assert_true(cuk_cast_dtype_ok(xt) && cuk_cast_dtype_ok(yt));
			cast_source((int)a, yt, x);
			assert_int_equal(cuk_cast_ref(x, xt, ref, yt, CAST_N), 0);
			void *dx = dev_copy(x, CAST_N * dtypes[a].size), *dy = dev_copy(NULL, ybytes);
			assert_int_equal(cuk_cast(dx, xt, dy, yt, CAST_N, s), 0);
			host_copy(got, dy, ybytes, s);
			assert_int_equal(cudaFree(dx), cudaSuccess);
			for (int64_t i = 0; i < CAST_N; i++)
				if (memcmp(got + i * (int64_t)dtypes[b].size, ref + i * (int64_t)dtypes[b].size, dtypes[b].size)) {
					printf("# cast %d -> %d element %lld: gpu %.9g, cpu %.9g\n", xt, yt, (long long)i,
					       ops_get_f64(got, yt, i), ops_get_f64(ref, yt, i));
					fail();
				}
		}
	}
	assert_int_equal(cuk_cast(x, 8, got, 1, 1, s), -EINVAL);   /* strings are not numbers */
	free(x);
	free(ref);
	free(got);
	cudaStreamDestroy(s);
}

/* ---- Reduce ---- */

static const int64_t rdims[4] = { 3, 5, 7, 40 };

/* The geometry for reducing the axes in mask over a contiguous [3, 5, 7, 40]. */
static void reduce_geom(int mask, int kind, cuk_reduce *r)
{
	int64_t str[4] = { 5 * 7 * 40, 7 * 40, 40, 1 };
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->outs = r->rcount = 1;
	for (int i = 0; i < 4; i++) {
		if (mask & (1 << i)) {
			r->rdims[r->nr] = rdims[i];
			r->rstr[r->nr++] = str[i];
			r->rcount *= rdims[i];
		} else {
			r->kdims[r->nk] = rdims[i];
			r->kstr[r->nk++] = str[i];
			r->outs *= rdims[i];
		}
	}
	r->inner_reduced = (mask & 8) != 0;
}

static void check_reduce(int half, int mask, int kind, const void *x, size_t xbytes, const float *absx,
                         cudaStream_t s)
{
	cuk_reduce r;
	reduce_geom(mask, kind, &r);
	size_t es = half ? 2 : 4, ybytes = (size_t)r.outs * es;
	uint8_t *ref = malloc(ybytes), *got = malloc(ybytes);
	float *bound = malloc((size_t)r.outs * sizeof(float));
	assert_true(ref && got && bound);
	assert_int_equal(cuk_reduce_ref(half, x, ref, &r), 0);
	/* sum of |x| over each output's inputs: the scale of an accumulation-order difference */
	cuk_reduce rs = r;
	rs.kind = CUK_RED_SUM;
	assert_int_equal(cuk_reduce_ref(0, absx, bound, &rs), 0);
	void *dx = dev_copy(x, xbytes), *dy = dev_copy(NULL, ybytes);
	assert_int_equal(cuk_reduce_run(half, dx, dy, &r, s), 0);
	host_copy(got, dy, ybytes, s);
	assert_int_equal(cudaFree(dx), cudaSuccess);
	for (int64_t o = 0; o < r.outs; o++) {
		double g = half ? ops_get_f64(got, 10, o) : ((float *)got)[o];
		double e = half ? ops_get_f64(ref, 10, o) : ((float *)ref)[o];
		double scale = kind == CUK_RED_MEAN ? bound[o] / (double)r.rcount : bound[o];
		double tol = kind == CUK_RED_MAX || kind == CUK_RED_MIN ? 0.0 : 1e-5 * scale + (half ? 1e-3 * fabs(e) : 0.0);
		if (fabs(g - e) > tol) {
			printf("# reduce kind %d mask %d %s output %lld: gpu %.9g, cpu %.9g (tolerance %.3g)\n", kind, mask,
			       half ? "half" : "float", (long long)o, g, e, tol);
			fail();
		}
	}
	free(ref);
	free(got);
	free(bound);
}

static void test_reduce_every_axis_subset_matches_cpu(void **state)
{
	(void)state;
	cudaStream_t s;
	assert_int_equal(cudaStreamCreate(&s), cudaSuccess);
	int64_t n = rdims[0] * rdims[1] * rdims[2] * rdims[3];
	float *x = malloc((size_t)n * sizeof(float)), *absx = malloc((size_t)n * sizeof(float));
	uint16_t *xh = malloc((size_t)n * 2);
	assert_true(x && absx && xh);
	for (int64_t i = 0; i < n; i++) {
		x[i] = (float)(urand() * 2 - 1);
		ops_put_f64(xh, 10, i, x[i]);
		absx[i] = fabsf(x[i]);
	}
	for (int half = 0; half < 2; half++)
		for (int mask = 1; mask < 16; mask++)
			for (int kind = CUK_RED_MEAN; kind <= CUK_RED_SUM; kind++)
				check_reduce(half, mask, kind, half ? (void *)xh : (void *)x, (size_t)n * (half ? 2 : 4), absx, s);
	free(x);
	free(absx);
	free(xh);
	cudaStreamDestroy(s);
}

/* ---- BatchNormalization scale/shift ---- */

static void test_scale_shift_matches_cpu(void **state)
{
	(void)state;
	enum { N = 3, C = 5, PLANE = 37, COUNT = N * C * PLANE };
	cudaStream_t s;
	float x[COUNT], a[C], b[C], ref[COUNT], got[COUNT];
	uint16_t xh[COUNT], refh[COUNT], goth[COUNT];
	assert_int_equal(cudaStreamCreate(&s), cudaSuccess);
	for (int i = 0; i < COUNT; i++) {
		x[i] = (float)(urand() * 8 - 4);
		ops_put_f64(xh, 10, i, x[i]);
	}
	for (int c = 0; c < C; c++) {
		a[c] = (float)(urand() * 4 - 2);
		b[c] = (float)(urand() * 4 - 2);
	}
	float *da = dev_copy(a, sizeof(a)), *db = dev_copy(b, sizeof(b));
	for (int half = 0; half < 2; half++) {
		const void *hx = half ? (const void *)xh : (const void *)x;
		void *href = half ? (void *)refh : (void *)ref, *hgot = half ? (void *)goth : (void *)got;
		size_t bytes = (size_t)COUNT * (half ? 2 : 4);
		assert_int_equal(cuk_scale_shift_ref(half, hx, href, a, b, C, PLANE, COUNT), 0);
		void *dx = dev_copy(hx, bytes), *dy = dev_copy(NULL, bytes);
		assert_int_equal(cuk_scale_shift(half, dx, dy, da, db, C, PLANE, COUNT, s), 0);
		host_copy(hgot, dy, bytes, s);
		assert_int_equal(cudaFree(dx), cudaSuccess);
		for (int i = 0; i < COUNT; i++) {
			double g = half ? ops_get_f64(goth, 10, i) : got[i], e = half ? ops_get_f64(refh, 10, i) : ref[i];
			int c = (i / PLANE) % C;
			/* a fused multiply-add rounds once: within an ulp of the operands' scale */
			double tol = 1e-6 * (fabs((double)x[i] * a[c]) + fabs(b[c])) + (half ? 1e-3 * fabs(e) : 0.0);
			if (fabs(g - e) > tol) {
				printf("# scale_shift %s element %d: gpu %.9g, cpu %.9g\n", half ? "half" : "float", i, g, e);
				fail();
			}
		}
	}
	cudaFree(da);
	cudaFree(db);
	cudaStreamDestroy(s);
}

/* ---- ConvTranspose crop ---- */

static void test_crop_matches_cpu(void **state)
{
	(void)state;
	cudaStream_t s;
	assert_int_equal(cudaStreamCreate(&s), cudaSuccess);
	for (int t = 0; t < 200; t++) {
		cuk_crop c = { .nsp = 1 + (int)(rnd() % 3), .planes = 1 + (int64_t)(rnd() % 4) };
		size_t elem = rnd() % 2 ? 4 : 2;
		int64_t sn = c.planes, dn = c.planes;
		for (int j = 0; j < c.nsp; j++) {
			c.src[j] = 1 + (int64_t)(rnd() % 6);
			c.dst[j] = 1 + (int64_t)(rnd() % 7);
			c.off[j] = (int64_t)(rnd() % 3);
			sn *= c.src[j];
			dn *= c.dst[j];
		}
		uint8_t *x = malloc((size_t)sn * elem), *ref = malloc((size_t)dn * elem), *got = malloc((size_t)dn * elem);
		assert_true(x && ref && got);
		for (int64_t i = 0; i < sn * (int64_t)elem; i++)
			x[i] = (uint8_t)(rnd() | 1);   /* never zero: a missed copy cannot pass as fill */
		assert_int_equal(cuk_crop_ref(x, ref, elem, &c), 0);
		void *dx = dev_copy(x, (size_t)sn * elem), *dy = dev_copy(NULL, (size_t)dn * elem);
		assert_int_equal(cuk_crop_run(dx, dy, elem, &c, s), 0);
		host_copy(got, dy, (size_t)dn * elem, s);
		assert_int_equal(cudaFree(dx), cudaSuccess);
		assert_memory_equal(got, ref, (size_t)dn * elem);
		free(x);
		free(ref);
		free(got);
	}
	cudaStreamDestroy(s);
}
#endif

int main(void)
{
	if (!gpu_visible("gpu_more_kernels"))
		return 0;
#ifdef VP_HAVE_CUDA
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cast_every_dtype_pair_is_bit_exact),
		cmocka_unit_test(test_reduce_every_axis_subset_matches_cpu),
		cmocka_unit_test(test_scale_shift_matches_cpu),
		cmocka_unit_test(test_crop_matches_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#else
	return 0;
#endif
}
