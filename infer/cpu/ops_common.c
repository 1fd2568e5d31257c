/* Helpers shared by the CPU operators: shapes, constant inputs, broadcasting,
 * generic element access and the fused-activation epilogue. */
#include "ops_common.h"
#include "simd_avx512.h"
#include "taskpool.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <string.h>

int ops_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int ops_arity(const inf_node *n, int min_in, int min_out, char *err, size_t errlen)
{
	if (n->n_out < min_out)
		return ops_fail(err, errlen, VP_EMODEL, "needs at least %d output%s, has %d", min_out,
		                min_out == 1 ? "" : "s", n->n_out);
	for (int k = 0; k < min_in; k++)
		if (k >= n->n_in || !n->in[k])
			return ops_fail(err, errlen, VP_EMODEL, "input %d is missing", k);
	return 0;
}

void ops_set_shape(inf_tensor *t, int dtype, int ndim, const int64_t *dims)
{
	t->dtype = dtype;
	t->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		t->dims[i] = dims[i];
}

void ops_same_shape(inf_node *n)
{
	ops_set_shape(n->out[0], n->in[0]->dtype, n->in[0]->ndim, n->in[0]->dims);
}

int ops_axis(int64_t axis, int ndim)
{
	if (axis < 0)
		axis += ndim;
	return axis < 0 || axis >= ndim ? -1 : (int)axis;
}

/* Input k as a constant tensor of one of two dtypes with at most max values: its
 * element count, or < 0 with the reason in err. */
static int64_t const_input(const inf_node *n, int k, int dt_a, int dt_b, const char *want, int max,
                           const inf_tensor **ret, char *err, size_t errlen)
{
	const inf_tensor *t = ops_in(n, k);
	int64_t cnt;

	if (!t)
		return ops_fail(err, errlen, VP_EMODEL, "input %d is missing", k);
	if (!t->is_const || !t->data)
		return ops_fail(err, errlen, VP_EUNSUP,
		                "input %d (%s) must be a constant: its values decide the output shape",
		                k, t->name);
	if (t->dtype != dt_a && t->dtype != dt_b)
		return ops_fail(err, errlen, VP_EMODEL, "input %d (%s) must be %s", k, t->name, want);
	cnt = inf_tensor_numel(t);
	if (cnt > max)
		return ops_fail(err, errlen, VP_EUNSUP, "input %d (%s) has %lld values, at most %d supported",
		                k, t->name, (long long)cnt, max);
	*ret = t;
	return cnt;
}

int ops_const_ints(const inf_node *n, int k, int64_t *buf, int max, char *err, size_t errlen)
{
	const inf_tensor *t = NULL;
	int64_t cnt = const_input(n, k, INF_DT_INT64, INF_DT_INT32, "int64 or int32", max, &t, err, errlen);

	for (int64_t i = 0; i < cnt; i++)
		buf[i] = ops_get_i64(t->data, t->dtype, i);
	return (int)cnt;
}

int ops_const_floats(const inf_node *n, int k, float *buf, int max, char *err, size_t errlen)
{
	const inf_tensor *t = NULL;
	int64_t cnt = const_input(n, k, INF_DT_FLOAT, INF_DT_DOUBLE, "float", max, &t, err, errlen);

	for (int64_t i = 0; i < cnt; i++)
		buf[i] = (float)ops_get_f64(t->data, t->dtype, i);
	return (int)cnt;
}

int ops_need_dtype(const inf_node *n, int k, int dtype, char *err, size_t errlen)
{
	const inf_tensor *t = ops_in(n, k);

	if (!t)
		return ops_fail(err, errlen, VP_EMODEL, "input %d is missing", k);
	if (t->dtype != dtype)
		return ops_fail(err, errlen, VP_EUNSUP, "input %d (%s) has data type %d, %d expected",
		                k, t->name, t->dtype, dtype);
	return 0;
}

int ops_need_float(const inf_node *n, int k, char *err, size_t errlen)
{
	return ops_need_dtype(n, k, INF_DT_FLOAT, err, errlen);
}

int ops_bcast_shape(const inf_tensor *a, const inf_tensor *b, int *ret_ndim, int64_t *ret_dims)
{
	int nd = a->ndim > b->ndim ? a->ndim : b->ndim;

	for (int i = 0; i < nd; i++) {
		int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
		int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;

		if (da != db && da != 1 && db != 1)
			return -1;
		ret_dims[i] = da == 1 ? db : da;
	}
	*ret_ndim = nd;
	return 0;
}

void ops_bcast_strides(const inf_tensor *t, int ndim, const int64_t *out_dims, int64_t *ret)
{
	int64_t s = 1;

	for (int i = ndim - 1; i >= 0; i--) {
		int it = i - (ndim - t->ndim);
		int64_t d = it >= 0 ? t->dims[it] : 1;

		ret[i] = (d == 1 && out_dims[i] != 1) ? 0 : s;
		s *= d;
	}
}

int ops_dtype_is_int(int dtype)
{
	switch (dtype) {
	case INF_DT_UINT8: case INF_DT_INT8: case 4: case 5: case INF_DT_INT32: case INF_DT_INT64:
	case 12: case 13: case INF_DT_BOOL:
		return 1;
	}
	return 0;
}

int ops_dtype_is_float(int dtype)
{
	return dtype == INF_DT_FLOAT || dtype == INF_DT_DOUBLE || dtype == INF_DT_FLOAT16 || dtype == 16;
}

int ops_dtype_numeric(int dtype)
{
	return ops_dtype_is_int(dtype) || ops_dtype_is_float(dtype);
}

/* IEEE half and bfloat16 (ONNX codes 10 and 16) converted by hand: no compiler type. */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	float f;

	if (exp == 0) {
		f = ldexpf((float)man, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (man << 13);
	else
		bits = sign | ((exp + 112) << 23) | (man << 13);
	memcpy(&f, &bits, 4);
	return f;
}

static uint16_t float_to_half(float f)
{
	uint32_t x, sign, man;
	int exp;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	exp = (int)((x >> 23) & 0xff) - 127 + 15;
	man = x & 0x7fffff;
	if (((x >> 23) & 0xff) == 0xff)
		return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {
		/* subnormal half: round to nearest even on the shifted mantissa */
		if (exp < -10)
			return (uint16_t)sign;
		man |= 0x800000;
		int shift = 14 - exp;
		uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

static float bf16_to_float(uint16_t b)
{
	uint32_t x = (uint32_t)b << 16;
	float f;

	memcpy(&f, &x, 4);
	return f;
}

static uint16_t float_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

double ops_get_f64(const void *p, int dtype, int64_t i)
{
	switch (dtype) {
	case INF_DT_FLOAT: return ((const float *)p)[i];
	case INF_DT_DOUBLE: return ((const double *)p)[i];
	case INF_DT_FLOAT16: return half_to_float(((const uint16_t *)p)[i]);
	case 16: return bf16_to_float(((const uint16_t *)p)[i]);
	case 12: return ((const uint32_t *)p)[i];
	case 13: return (double)((const uint64_t *)p)[i];
	}
	return ops_dtype_is_int(dtype) ? (double)ops_get_i64(p, dtype, i) : 0.0;
}

int64_t ops_get_i64(const void *p, int dtype, int64_t i)
{
	switch (dtype) {
	case INF_DT_UINT8: return ((const uint8_t *)p)[i];
	case INF_DT_INT8: return ((const int8_t *)p)[i];
	case 4: return ((const uint16_t *)p)[i];
	case 5: return ((const int16_t *)p)[i];
	case INF_DT_INT32: return ((const int32_t *)p)[i];
	case INF_DT_INT64: return ((const int64_t *)p)[i];
	case INF_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
	case 12: return ((const uint32_t *)p)[i];
	case 13: return (int64_t)((const uint64_t *)p)[i];
	}
	return ops_dtype_is_float(dtype) ? (int64_t)ops_get_f64(p, dtype, i) : 0;
}

void ops_put_f64(void *p, int dtype, int64_t i, double v)
{
	switch (dtype) {
	case INF_DT_FLOAT: ((float *)p)[i] = (float)v; return;
	case INF_DT_DOUBLE: ((double *)p)[i] = v; return;
	case INF_DT_FLOAT16: ((uint16_t *)p)[i] = float_to_half((float)v); return;
	case 16: ((uint16_t *)p)[i] = float_to_bf16((float)v); return;
	case INF_DT_BOOL: ((uint8_t *)p)[i] = v != 0; return;
	case 13: ((uint64_t *)p)[i] = (uint64_t)v; return;
	}
	if (ops_dtype_is_int(dtype))
		ops_put_i64(p, dtype, i, (int64_t)v);
}

void ops_put_i64(void *p, int dtype, int64_t i, int64_t v)
{
	switch (dtype) {
	case INF_DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; return;
	case INF_DT_INT8: ((int8_t *)p)[i] = (int8_t)v; return;
	case 4: ((uint16_t *)p)[i] = (uint16_t)v; return;
	case 5: ((int16_t *)p)[i] = (int16_t)v; return;
	case INF_DT_INT32: ((int32_t *)p)[i] = (int32_t)v; return;
	case INF_DT_INT64: ((int64_t *)p)[i] = v; return;
	case INF_DT_BOOL: ((uint8_t *)p)[i] = v != 0; return;
	case 12: ((uint32_t *)p)[i] = (uint32_t)v; return;
	case 13: ((uint64_t *)p)[i] = (uint64_t)v; return;
	}
	if (ops_dtype_is_float(dtype))
		ops_put_f64(p, dtype, i, (double)v);
}

#ifdef HAVE_AVX512_SILU
__attribute__((target("avx512f")))
static void sigmoid_avx512(float *x, int64_t count, float bias, int silu)
{
	__m512 b = _mm512_set1_ps(bias);

	int64_t i = 0;

	/* two independent vectors per iteration hide the exp/rcp dependency chains */
	for (; i + 32 <= count; i += 32) {
		__m512 v0 = _mm512_add_ps(_mm512_loadu_ps(x + i), b), v1 = _mm512_add_ps(_mm512_loadu_ps(x + i + 16), b);
		__m512 s0 = sigmoid512(v0), s1 = sigmoid512(v1);

		_mm512_storeu_ps(x + i, silu ? _mm512_mul_ps(v0, s0) : s0);
		_mm512_storeu_ps(x + i + 16, silu ? _mm512_mul_ps(v1, s1) : s1);
	}
	for (; i < count; i += 16) {
		__mmask16 m = count - i >= 16 ? 0xffff : (__mmask16)((1u << (count - i)) - 1);
		__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), b), s = sigmoid512(v);

		_mm512_mask_storeu_ps(x + i, m, silu ? _mm512_mul_ps(v, s) : s);
	}
}
#endif

/* One activation over a block; bias (may be 0) added first. */
OPS_VECTOR
static void act_block(int act, float a, float b, float bias, float *x, int64_t count)
{
	switch (act) {
	case INF_ACT_RELU:
#pragma omp simd
		for (int64_t i = 0; i < count; i++) {
			float v = x[i] + bias;
			x[i] = v > 0.0f ? v : 0.0f;
		}
		break;
	case INF_ACT_LEAKY_RELU:
#pragma omp simd
		for (int64_t i = 0; i < count; i++) {
			float v = x[i] + bias;
			x[i] = v >= 0.0f ? v : v * a;
		}
		break;
	case INF_ACT_SIGMOID:
#pragma omp simd
		for (int64_t i = 0; i < count; i++)
			x[i] = ops_sigmoidf(x[i] + bias);
		break;
	case INF_ACT_SILU:
#pragma omp simd
		for (int64_t i = 0; i < count; i++) {
			float v = x[i] + bias;
			x[i] = v * ops_sigmoidf(v);
		}
		break;
	case INF_ACT_HARD_SIGMOID:
#pragma omp simd
		for (int64_t i = 0; i < count; i++) {
			float v = a * (x[i] + bias) + b;
			x[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
		}
		break;
	case INF_ACT_HARD_SWISH:
#pragma omp simd
		for (int64_t i = 0; i < count; i++) {
			float v = x[i] + bias, g = v * (1.0f / 6.0f) + 0.5f;
			x[i] = v * (g < 0.0f ? 0.0f : g > 1.0f ? 1.0f : g);
		}
		break;
	case INF_ACT_CLIP:
#pragma omp simd
		for (int64_t i = 0; i < count; i++) {
			float v = x[i] + bias;
			x[i] = v < a ? a : v > b ? b : v;
		}
		break;
	default:
		if (bias != 0.0f) {
#pragma omp simd
			for (int64_t i = 0; i < count; i++)
				x[i] += bias;
		}
		break;
	}
}

/* The AVX-512 sigmoid path where the CPU has it, the compiled loops elsewhere. */
static void act_dispatch(int act, float a, float b, float bias, float *x, int64_t count)
{
#ifdef HAVE_AVX512_SILU
	if ((act == INF_ACT_SILU || act == INF_ACT_SIGMOID) && __builtin_cpu_supports("avx512f")) {
		sigmoid_avx512(x, count, bias, act == INF_ACT_SILU);
		return;
	}
#endif
	act_block(act, a, b, bias, x, count);
}

void ops_act_apply(const inf_node *n, float *x, int64_t count)
{
	if (n->act != INF_ACT_NONE)
		act_dispatch(n->act, n->act_alpha, n->act_beta, 0.0f, x, count);
}

void ops_bias_act(const inf_node *n, float *y, const float *bias, int64_t channels, int64_t plane)
{
	for (int64_t c = 0; c < channels; c++)
		act_dispatch(n->act, n->act_alpha, n->act_beta, bias ? bias[c] : 0.0f, y + c * plane, plane);
}

void ops_bias_act_strided(const inf_node *n, float *y, const float *bias, int64_t rows, int64_t len,
                          int64_t stride)
{
	for (int64_t r = 0; r < rows; r++)
		act_dispatch(n->act, n->act_alpha, n->act_beta, bias ? bias[r] : 0.0f, y + r * stride, len);
}

void ops_blas_threads(const inf_cpu_ctx *cx)
{
	int want = cx && cx->threads > 0 ? cx->threads : 0;

	if (want && openblas_get_num_threads() != want)
		openblas_set_num_threads(want);
}

void ops_blas_single(void)
{
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
}

/* OpenBLAS 0.3.x on AVX-512 sends products with m*n*k <= 100^3 to its small-matrix
 * kernels, which malloc a scratch buffer whenever n % 16 is 1..8. Those last columns
 * (at most 8) are computed here instead, so a run never allocates. */
#define SMALL_GEMM_MNK 1e6

void ops_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc)
{
	int tail = n % 16, n0;

	if ((double)m * n * k > SMALL_GEMM_MNK || tail == 0 || tail > 8)
		tail = 0;
	n0 = n - tail;
	if (n0 > 0)
		cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
		            m, n0, k, alpha, a, lda, b, ldb, beta, c, ldc);
	for (int i = 0; i < m && tail; i++)
		for (int j = n0; j < n; j++) {
			float acc = 0.0f;
			for (int p = 0; p < k; p++)
				acc += (trans_a ? a[(int64_t)p * lda + i] : a[(int64_t)i * lda + p]) *
				       (trans_b ? b[(int64_t)j * ldb + p] : b[(int64_t)p * ldb + j]);
			float *cp = c + (int64_t)i * ldc + j;
			*cp = alpha * acc + (beta != 0.0f ? beta * *cp : 0.0f);
		}
}

/* Output block of about 128 KiB: stays in L2 between the GEMM and its epilogue. */
#define GEMM_BLOCK_FLOATS 32768

void ops_sgemm_act(const inf_node *node, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                   float *c, int ldc, const float *bias, int nth)
{
	int nb = GEMM_BLOCK_FLOATS / (m > 0 ? m : 1), blocks;

	nb = nb < 64 ? 64 : (nb + 15) / 16 * 16;
	if (nb > n)
		nb = n;
	blocks = (n + nb - 1) / nb;
	/* enough blocks for every thread when the matrix allows it */
	if (blocks < nth && n >= 32 * nth) {
		nb = (n + nth - 1) / nth;
		blocks = (n + nb - 1) / nb;
	}
	if (blocks < nth)
		nth = blocks;
	ops_blas_single();
#pragma omp parallel for num_threads(nth) schedule(dynamic, 1) if (nth > 1)
	for (int bi = 0; bi < blocks; bi++) {
		int j0 = bi * nb, w = n - j0 < nb ? n - j0 : nb;

		ops_sgemm(0, 0, m, w, k, 1.0f, a, lda, b + j0, ldb, 0.0f, c + j0, ldc);
		for (int r = 0; r < m; r++)
			act_dispatch(node->act, node->act_alpha, node->act_beta, bias ? bias[r] : 0.0f,
			          c + (int64_t)r * ldc + j0, w);
	}
}

int ops_threads(const inf_cpu_ctx *cx)
{
	if (ops_pool_threads(cx) > 1)
		return 1;
	return cx && cx->threads > 0 ? cx->threads : omp_get_max_threads();
}

int ops_pool_threads(const inf_cpu_ctx *cx)
{
	return cx && cx->pool ? tp_threads(cx->pool) : 1;
}

/* Ranges per pool thread in ops_par_range. */
#define RANGES_PER_THREAD 4

typedef struct par_range {
	ops_range_fn fn;
	void *arg;
	int64_t count, tasks;
} par_range;

static void par_range_task(void *arg, int64_t t, int slot)
{
	const par_range *r = arg;

	(void)slot;
	r->fn(r->arg, r->count * t / r->tasks, r->count * (t + 1) / r->tasks);
}

void ops_par_range(const inf_cpu_ctx *cx, int64_t count, int64_t min_len, ops_range_fn fn, void *arg)
{
	int nth = ops_pool_threads(cx);
	par_range r = { fn, arg, count, (int64_t)nth * RANGES_PER_THREAD };

	if (count <= 0)
		return;
	if (min_len < 1)
		min_len = 1;
	if (r.tasks > count / min_len)
		r.tasks = count / min_len;
	if (nth <= 1 || r.tasks <= 1) {
		fn(arg, 0, count);
		return;
	}
	tp_run(cx->pool, nth, r.tasks, par_range_task, &r);
}

void ops_copy_through(inf_node *n)
{
	const inf_tensor *x = n->in[0];
	inf_tensor *y = n->out[0];

	if (y->data != x->data)
		memmove(y->data, x->data, (size_t)inf_tensor_numel(x) * inf_dtype_size(x->dtype));
}
