/* Conv and ConvTranspose on float tensors with 1 to 3 spatial axes. On AVX-512 CPUs a
 * Conv takes one of three kernels chosen at prepare: Winograd F(2x2, 3x3) for 3x3
 * stride-1 convolutions (ops_conv_wino.c), the AVX-512 depthwise kernel
 * (ops_conv_dw.c), or the packed GEMM for the rest (ops_conv_pg.c), all with bias and
 * activation fused. Elsewhere a Conv is one OpenBLAS sgemm per image and group: 1x1
 * stride-1 unpadded convolutions multiply the input directly, depthwise convolutions run
 * a direct kernel, the rest go through im2col, bias and activation in one pass over each
 * output block. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"
#include "ops_conv_dw.h"
#include "ops_conv_pg.h"
#include "ops_conv_wino.h"
#include "ops_tables.h"
#include "ops_window.h"
#include "pgemm.h"

/* Geometry of a Conv/ConvTranspose node from its input, weights and attributes. */
static int conv_window(const inf_node *n, int transpose, ops_window *w, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0], *wt = ops_in(n, 1);
	int64_t kernel[OPS_MAX_SP];
	const int64_t *ks;
	int nks;

	if (!wt)
		return ops_fail(err, errlen, VP_EMODEL, "weight input is missing");
	if (wt->ndim != x->ndim)
		return ops_fail(err, errlen, VP_EMODEL, "weights %s have rank %d, input has %d", wt->name,
		                wt->ndim, x->ndim);
	if (x->ndim < 3 || x->ndim > 2 + OPS_MAX_SP)
		return ops_fail(err, errlen, VP_EUNSUP, "input rank %d is not supported (3 to 5)", x->ndim);
	nks = inf_attr_ints(n, "kernel_shape", &ks);
	for (int i = 0; i < x->ndim - 2; i++) {
		kernel[i] = wt->dims[2 + i];
		if (nks >= 0 && (nks != x->ndim - 2 || ks[i] != kernel[i]))
			return ops_fail(err, errlen, VP_EMODEL, "kernel_shape disagrees with the weights %s", wt->name);
	}
	return transpose ? ops_window_transpose(n, x, kernel, w, err, errlen)
	                 : ops_window_forward(n, x, kernel, 0, w, err, errlen);
}

static int check_inputs(const inf_node *n, int64_t bias_len, char *err, size_t errlen)
{
	const inf_tensor *b = ops_in(n, 2);
	int rc;

	if ((rc = ops_need_float(n, 0, err, errlen)) < 0 || (rc = ops_need_float(n, 1, err, errlen)) < 0)
		return rc;
	if (b && (b->dtype != INF_DT_FLOAT || b->ndim != 1 || b->dims[0] != bias_len))
		return ops_fail(err, errlen, VP_EMODEL, "bias %s must be float [%lld]", b->name, (long long)bias_len);
	return 0;
}

OPS_SHAPE(shape_conv, 1, 1)
{
	const inf_tensor *x = n->in[0], *wt = ops_in(n, 1);
	int64_t g = inf_attr_int(n, "group", 1), dims[INF_MAX_DIMS];
	ops_window w;
	int rc;

	if ((rc = conv_window(n, 0, &w, err, errlen)) < 0)
		return rc;
	if (g < 1 || x->dims[1] % g || wt->dims[0] % g || wt->dims[1] * g != x->dims[1])
		return ops_fail(err, errlen, VP_EMODEL, "group %lld does not fit %lld input channels and weights %s",
		                (long long)g, (long long)x->dims[1], wt->name);
	if ((rc = check_inputs(n, wt->dims[0], err, errlen)) < 0)
		return rc;
	dims[0] = x->dims[0];
	dims[1] = wt->dims[0];
	for (int i = 0; i < w.nsp; i++)
		dims[2 + i] = w.out[i];
	ops_set_shape(n->out[0], INF_DT_FLOAT, x->ndim, dims);
	return 0;
}

enum conv_kind { CONV_IM2COL, CONV_POINTWISE, CONV_DEPTHWISE };

static enum conv_kind conv_kind(const inf_node *n, const ops_window *w)
{
	int64_t g = inf_attr_int(n, "group", 1);
	int unit = 1;

	if (g > 1 && g == n->in[0]->dims[1] && g == n->in[1]->dims[0] && w->nsp <= 2)
		return CONV_DEPTHWISE;
	for (int i = 0; i < w->nsp; i++)
		if (w->k[i] != 1 || w->s[i] != 1 || w->pb[i] || w->pe[i])
			unit = 0;
	return unit ? CONV_POINTWISE : CONV_IM2COL;
}

/* im2col runs in blocks of whole output rows, about this many floats per block, so
 * the block is still in L2 when sgemm packs it. */
#define COL_BLOCK_FLOATS 131072

typedef struct conv_priv {
	conv_pg *pg;                 /* the packed-GEMM path, where the CPU has it */
	conv_wino *wino;             /* or Winograd for 3x3 stride-1 convolutions */
	int dw3;                     /* or the AVX-512 3x3 depthwise kernel */
	int threads;                 /* im2col blocks the workspace holds at once */
	int64_t rows_per_block;      /* output rows (all spatial axes but the last) per block */
} conv_priv;

static int64_t conv_rows_per_block(int64_t kdim, const ops_window *w3)
{
	int64_t r = COL_BLOCK_FLOATS / (kdim * w3->out[2]);

	return r < 1 ? 1 : r;
}

static int prepare_conv(inf_node *n, size_t *ret_ws)
{
	int64_t g = inf_attr_int(n, "group", 1), kdim;
	enum conv_kind kind;
	conv_priv *p;
	ops_window w, w3;
	char err[8];
	int rc;

	if (conv_window(n, 0, &w, err, sizeof(err)) < 0)
		return VP_EMODEL;
	*ret_ws = 0;
	kind = conv_kind(n, &w);
	ops_window_to3(&w, &w3);
	if ((kind == CONV_DEPTHWISE && !conv_dw3_usable(&w3)) || (kind == CONV_POINTWISE && !pg_supported()))
		return 0;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->threads = omp_get_max_threads();
	n->priv = p;
	if (kind == CONV_DEPTHWISE) {
		p->dw3 = 1;
		*ret_ws = conv_dw3_workspace(&w3, p->threads);
		return 0;
	}
	if (conv_wino_usable(n, &w3))
		return (rc = conv_wino_new(n, p->threads, &p->wino, ret_ws)) < 0 ? rc : 0;
	if (pg_supported())
		return (rc = conv_pg_new(n, &w3, kind == CONV_POINTWISE, p->threads, &p->pg, ret_ws)) < 0 ? rc : 0;
	kdim = n->in[0]->dims[1] / g * w.k_size;
	p->rows_per_block = conv_rows_per_block(kdim, &w3);
	*ret_ws = (size_t)p->threads * (size_t)(kdim * p->rows_per_block * w3.out[2]) * sizeof(float);
	return 0;
}

static void release_conv(inf_node *n)
{
	conv_priv *p = n->priv;

	if (p) {
		conv_pg_free(&p->pg);
		conv_wino_free(&p->wino);
	}
	free(p);
	n->priv = NULL;
}

/* One output row of col from one input row: zeros where the kernel tap falls in the
 * padding, a copy (stride 1) or a constant-stride gather (vectorised for stride 2). */
OPS_VECTOR static void col_row(const float *src, int64_t x0, int64_t s, int64_t lo, int64_t hi, int64_t out,
                               float *dst)
{
	for (int64_t ox = 0; ox < lo; ox++)
		dst[ox] = 0.0f;
	if (s == 1) {
		if (hi > lo)
			memcpy(dst + lo, src + lo + x0, sizeof(float) * (size_t)(hi - lo));
	} else if (s == 2) {
		const float *p = src + x0;
#pragma omp simd
		for (int64_t ox = lo; ox < hi; ox++)
			dst[ox] = p[2 * ox];
	} else {
		for (int64_t ox = lo; ox < hi; ox++)
			dst[ox] = src[ox * s + x0];
	}
	for (int64_t ox = hi; ox < out; ox++)
		dst[ox] = 0.0f;
}

/* Rows of col are (channel, kernel offset); columns are the output positions of
 * output rows [r0, r1) (a row: every spatial axis but the last fixed). */
static void im2col_rows(const float *x, int64_t channels, const ops_window *w, int64_t r0, int64_t r1,
                        float *col)
{
	int64_t ncol = (r1 - r0) * w->out[2], oz0 = r0 / w->out[1], oy0 = r0 % w->out[1];

	for (int64_t c = 0; c < channels; c++) {
		const float *xc = x + c * w->in_size;
		for (int64_t kk = 0; kk < w->k_size; kk++) {
			int64_t kx = kk % w->k[2], ky = (kk / w->k[2]) % w->k[1], kz = kk / (w->k[2] * w->k[1]);
			float *dst = col + (c * w->k_size + kk) * ncol;
			int64_t x0 = kx * w->d[2] - w->pb[2];
			/* output columns whose input column is inside the image */
			int64_t lo = x0 >= 0 ? 0 : (-x0 + w->s[2] - 1) / w->s[2];
			int64_t hi = w->in[2] - x0 <= 0 ? 0 : (w->in[2] - x0 + w->s[2] - 1) / w->s[2];
			int64_t oz = oz0, oy = oy0;

			if (hi > w->out[2])
				hi = w->out[2];
			if (lo > hi)
				lo = hi;
			for (int64_t orow = r0; orow < r1; orow++, dst += w->out[2]) {
				int64_t iz = oz * w->s[0] - w->pb[0] + kz * w->d[0];
				int64_t iy = oy * w->s[1] - w->pb[1] + ky * w->d[1];
				if (++oy == w->out[1]) {
					oy = 0;
					oz++;
				}
				if (iz < 0 || iz >= w->in[0] || iy < 0 || iy >= w->in[1]) {
					memset(dst, 0, sizeof(float) * (size_t)w->out[2]);
					continue;
				}
				col_row(xc + (iz * w->in[1] + iy) * w->in[2], x0, w->s[2], lo, hi, w->out[2], dst);
			}
		}
	}
}

/* Every (image, group, block of output rows) is one task: im2col into the task's
 * workspace slot, one sgemm, bias and activation while the block is in cache. */
static void run_conv_im2col(inf_node *n, const ops_window *w3, float *ws, int nth)
{
	const inf_tensor *x = n->in[0], *wt = n->in[1], *b = ops_in(n, 2);
	const conv_priv *p = n->priv;
	int64_t g = inf_attr_int(n, "group", 1), cin = x->dims[1] / g, mg = wt->dims[0] / g;
	int64_t kdim = cin * w3->k_size, orows = w3->out[0] * w3->out[1], rpb = p->rows_per_block;
	int64_t blocks = (orows + rpb - 1) / rpb, tasks = x->dims[0] * g * blocks;

	if (nth > p->threads)
		nth = p->threads;
	if (nth > tasks)
		nth = (int)tasks;
	ops_blas_single();
#pragma omp parallel num_threads(nth) if (nth > 1)
	{
		float *col = ws + (size_t)omp_get_thread_num() * (size_t)(kdim * rpb * w3->out[2]);
#pragma omp for schedule(dynamic, 1)
		for (int64_t t = 0; t < tasks; t++) {
			int64_t i = t / (g * blocks), gi = t / blocks % g, r0 = t % blocks * rpb;
			int64_t r1 = r0 + rpb < orows ? r0 + rpb : orows, ncol = (r1 - r0) * w3->out[2];
			const float *xg = (const float *)x->data + (i * x->dims[1] + gi * cin) * w3->in_size;
			float *y = (float *)n->out[0]->data + (i * wt->dims[0] + gi * mg) * w3->out_size + r0 * w3->out[2];
			const float *bias = b ? (const float *)b->data + gi * mg : NULL;

			im2col_rows(xg, cin, w3, r0, r1, col);
			ops_sgemm(0, 0, (int)mg, (int)ncol, (int)kdim, 1.0f,
			            (const float *)wt->data + gi * mg * kdim, (int)kdim, col, (int)ncol, 0.0f, y,
			            (int)w3->out_size);
			ops_bias_act_strided(n, y, bias, mg, ncol, w3->out_size);
		}
	}
}

/* Columns [lo, hi) whose whole kernel row lies inside the input row. */
static void interior_cols(const ops_window *w, int64_t *lo, int64_t *hi)
{
	int64_t s = w->s[2], span = (w->k[2] - 1) * w->d[2], last = w->in[2] - 1 - span + w->pb[2];

	*lo = (w->pb[2] + s - 1) / s;
	*hi = last < 0 ? 0 : last / s + 1;
	if (*hi > w->out[2])
		*hi = w->out[2];
	if (*lo > w->out[2])
		*lo = w->out[2];
	if (*hi < *lo)
		*hi = *lo;
}

/* Kernel row wr applied to input row xr, adding into output row yr: the interior
 * columns without bounds checks (3-wide kernels unrolled), the borders with. */
OPS_VECTOR static void dw_row(const float *xr, const float *wr, const ops_window *w, int64_t lo, int64_t hi,
                              float *yr)
{
	int64_t s = w->s[2], d = w->d[2], pb = w->pb[2], kw = w->k[2];

	if (kw == 3 && d == 1 && (s == 1 || s == 2)) {
		/* constant strides: contiguous or 2-way deinterleaved vector loads */
		float w0 = wr[0], w1 = wr[1], w2 = wr[2];
		if (s == 1) {
#pragma omp simd
			for (int64_t ox = lo; ox < hi; ox++)
				yr[ox] += w0 * xr[ox - pb] + w1 * xr[ox - pb + 1] + w2 * xr[ox - pb + 2];
		} else {
#pragma omp simd
			for (int64_t ox = lo; ox < hi; ox++)
				yr[ox] += w0 * xr[2 * ox - pb] + w1 * xr[2 * ox - pb + 1] + w2 * xr[2 * ox - pb + 2];
		}
	} else if (kw == 3) {
		float w0 = wr[0], w1 = wr[1], w2 = wr[2];
#pragma omp simd
		for (int64_t ox = lo; ox < hi; ox++) {
			const float *p = xr + ox * s - pb;
			yr[ox] += w0 * p[0] + w1 * p[d] + w2 * p[2 * d];
		}
	} else {
		for (int64_t kx = 0; kx < kw; kx++) {
			float wv = wr[kx];
#pragma omp simd
			for (int64_t ox = lo; ox < hi; ox++)
				yr[ox] += wv * xr[ox * s - pb + kx * d];
		}
	}
	for (int64_t ox = 0; ox < w->out[2]; ox++) {
		if (ox == lo)
			ox = hi;
		if (ox >= w->out[2])
			break;
		for (int64_t kx = 0; kx < kw; kx++) {
			int64_t ix = ox * s - pb + kx * d;
			if (ix >= 0 && ix < w->in[2])
				yr[ox] += wr[kx] * xr[ix];
		}
	}
}

/* One channel of a depthwise convolution (2 spatial axes; 1-D runs with height 1). */
/* Rows above or below the image read this instead (3x3 fast path). */
#define DW3_MAX_W 4096
static const float dw3_zero_row[DW3_MAX_W];

/* 3x3 kernel, dilation 1, stride 1 or 2: all nine taps in one pass per output row. */
OPS_VECTOR static void dw3x3_plane(const float *x, const float *k, float bias, const ops_window *w, float *y)
{
	int64_t lo, hi, s = w->s[2], pb = w->pb[2];
	/* weights in locals: the output rows could alias k as far as the compiler knows */
	const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6], k7 = k[7], k8 = k[8];

	interior_cols(w, &lo, &hi);
	for (int64_t oy = 0; oy < w->out[1]; oy++) {
		const float *r[3];
		float *yr = y + oy * w->out[2];

		for (int ky = 0; ky < 3; ky++) {
			int64_t iy = oy * w->s[1] - w->pb[1] + ky;
			r[ky] = iy >= 0 && iy < w->in[1] ? x + iy * w->in[2] : dw3_zero_row;
		}
		const float *r0 = r[0], *r1 = r[1], *r2 = r[2];
		if (s == 1) {
#pragma omp simd
			for (int64_t ox = lo; ox < hi; ox++) {
				int64_t i = ox - pb;
				yr[ox] = bias + k0 * r0[i] + k1 * r0[i + 1] + k2 * r0[i + 2] + k3 * r1[i] +
				         k4 * r1[i + 1] + k5 * r1[i + 2] + k6 * r2[i] + k7 * r2[i + 1] + k8 * r2[i + 2];
			}
		} else {
#pragma omp simd
			for (int64_t ox = lo; ox < hi; ox++) {
				int64_t i = 2 * ox - pb;
				yr[ox] = bias + k0 * r0[i] + k1 * r0[i + 1] + k2 * r0[i + 2] + k3 * r1[i] +
				         k4 * r1[i + 1] + k5 * r1[i + 2] + k6 * r2[i] + k7 * r2[i + 1] + k8 * r2[i + 2];
			}
		}
		for (int64_t ox = 0; ox < w->out[2]; ox++) {
			if (ox == lo)
				ox = hi;
			if (ox >= w->out[2])
				break;
			float acc = bias;
			for (int ky = 0; ky < 3; ky++)
				for (int kx = 0; kx < 3; kx++) {
					int64_t ix = ox * s - pb + kx;
					if (ix >= 0 && ix < w->in[2])
						acc += k[ky * 3 + kx] * r[ky][ix];
				}
			yr[ox] = acc;
		}
	}
}

static void depthwise_plane(const float *x, const float *wk, float bias, const ops_window *w, float *y)
{
	int64_t lo, hi;

	if (w->k[1] == 3 && w->k[2] == 3 && w->d[1] == 1 && w->d[2] == 1 && w->s[1] == w->s[2] &&
	    (w->s[2] == 1 || w->s[2] == 2) && w->in[2] <= DW3_MAX_W) {
		dw3x3_plane(x, wk, bias, w, y);
		return;
	}
	interior_cols(w, &lo, &hi);
	for (int64_t oy = 0; oy < w->out[1]; oy++) {
		float *yr = y + oy * w->out[2];

		for (int64_t ox = 0; ox < w->out[2]; ox++)
			yr[ox] = bias;
		for (int64_t ky = 0; ky < w->k[1]; ky++) {
			int64_t iy = oy * w->s[1] - w->pb[1] + ky * w->d[1];
			if (iy >= 0 && iy < w->in[1])
				dw_row(x + iy * w->in[2], wk + ky * w->k[2], w, lo, hi, yr);
		}
	}
}

static void run_depthwise(inf_node *n, const ops_window *w3, int nth)
{
	const inf_tensor *x = n->in[0], *b = ops_in(n, 2);
	const float *xp = x->data, *wp = n->in[1]->data, *bp = b ? b->data : NULL;
	float *yp = n->out[0]->data;
	int64_t ch = x->dims[1], planes = x->dims[0] * ch;

#pragma omp parallel for num_threads(nth) schedule(static)
	for (int64_t p = 0; p < planes; p++) {
		int64_t c = p % ch;
		float *y = yp + p * w3->out_size;

		depthwise_plane(xp + p * w3->in_size, wp + c * w3->k_size, bp ? bp[c] : 0.0f, w3, y);
		ops_act_apply(n, y, w3->out_size);
	}
}

/* All the engine's threads, for the pool kernels and the OpenMP fallbacks alike (not
 * ops_threads, which keeps the small OpenMP loops on the caller next to a pool). */
static int conv_threads(const inf_cpu_ctx *cx)
{
	return cx && cx->threads > 0 ? cx->threads : ops_threads(cx);
}

static int run_conv(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const conv_priv *p = n->priv;
	const inf_tensor *x = n->in[0], *wt = n->in[1], *b = ops_in(n, 2);
	int64_t g = inf_attr_int(n, "group", 1), cin, mg, kdim;
	int nth = conv_threads(cx);
	ops_window w, w3;
	enum conv_kind kind;
	char err[8];

	if (conv_window(n, 0, &w, err, sizeof(err)) < 0)
		return VP_EMODEL;
	ops_window_to3(&w, &w3);
	kind = conv_kind(n, &w);
	if (p && p->wino) {
		conv_wino_run(p->wino, n, &w3, ws, cx ? cx->pool : NULL, nth);
		return 0;
	}
	if (p && p->pg) {
		conv_pg_run(p->pg, n, &w3, ws, cx ? cx->pool : NULL, nth);
		return 0;
	}
	if (p && p->dw3) {
		conv_dw3_run(n, &w3, ws, p->threads, cx ? cx->pool : NULL, nth);
		return 0;
	}
	if (kind == CONV_DEPTHWISE) {
		run_depthwise(n, &w3, nth);
		return 0;
	}
	if (kind == CONV_IM2COL) {
		run_conv_im2col(n, &w3, ws, nth);
		return 0;
	}
	cin = x->dims[1] / g;
	mg = wt->dims[0] / g;
	kdim = cin * w.k_size;
	for (int64_t i = 0; i < x->dims[0]; i++) {
		float *y = (float *)n->out[0]->data + i * wt->dims[0] * w.out_size;

		for (int64_t gi = 0; gi < g; gi++) {
			const float *xg = (const float *)x->data + (i * x->dims[1] + gi * cin) * w.in_size;

			ops_sgemm_act(n, (int)mg, (int)w.out_size, (int)kdim, (const float *)wt->data + gi * mg * kdim,
			              (int)kdim, xg, (int)w.out_size, y + gi * mg * w.out_size, (int)w.out_size,
			              b ? (const float *)b->data + gi * mg : NULL, nth);
		}
	}
	return 0;
}

/* ---- ConvTranspose: sgemm into columns, then scatter-add (col2im) ---- */

OPS_SHAPE(shape_conv_transpose, 1, 1)
{
	const inf_tensor *x = n->in[0], *wt = ops_in(n, 1);
	int64_t g = inf_attr_int(n, "group", 1), dims[INF_MAX_DIMS];
	ops_window w;
	int rc;

	if ((rc = conv_window(n, 1, &w, err, errlen)) < 0)
		return rc;
	if (g < 1 || x->dims[1] % g || wt->dims[0] != x->dims[1])
		return ops_fail(err, errlen, VP_EMODEL, "group %lld does not fit %lld input channels and weights %s",
		                (long long)g, (long long)x->dims[1], wt->name);
	if ((rc = check_inputs(n, wt->dims[1] * g, err, errlen)) < 0)
		return rc;
	dims[0] = x->dims[0];
	dims[1] = wt->dims[1] * g;
	for (int i = 0; i < w.nsp; i++)
		dims[2 + i] = w.out[i];
	ops_set_shape(n->out[0], INF_DT_FLOAT, x->ndim, dims);
	return 0;
}

static int prepare_conv_transpose(inf_node *n, size_t *ret_ws)
{
	ops_window w;
	char err[8];

	if (conv_window(n, 1, &w, err, sizeof(err)) < 0)
		return VP_EMODEL;
	*ret_ws = (size_t)(n->in[1]->dims[1] * w.k_size * w.in_size) * sizeof(float);
	return 0;
}

/* col rows are (output channel, kernel offset), columns input positions; each value
 * lands on the output position that the forward convolution would have read. */
static void col2im(const float *col, int64_t channels, const ops_window *w, float *y, int nth)
{
#pragma omp parallel for num_threads(nth) if (channels > 1)
	for (int64_t c = 0; c < channels; c++) {
		float *yc = y + c * w->out_size;
		for (int64_t kk = 0; kk < w->k_size; kk++) {
			int64_t kx = kk % w->k[2], ky = (kk / w->k[2]) % w->k[1], kz = kk / (w->k[2] * w->k[1]);
			const float *src = col + (c * w->k_size + kk) * w->in_size;
			for (int64_t iz = 0; iz < w->in[0]; iz++) {
				int64_t oz = iz * w->s[0] - w->pb[0] + kz * w->d[0];
				for (int64_t iy = 0; iy < w->in[1]; iy++) {
					int64_t oy = iy * w->s[1] - w->pb[1] + ky * w->d[1];
					const float *s = src + (iz * w->in[1] + iy) * w->in[2];
					if (oz < 0 || oz >= w->out[0] || oy < 0 || oy >= w->out[1])
						continue;
					float *yr = yc + (oz * w->out[1] + oy) * w->out[2];
					for (int64_t ix = 0; ix < w->in[2]; ix++) {
						int64_t ox = ix * w->s[2] - w->pb[2] + kx * w->d[2];
						if (ox >= 0 && ox < w->out[2])
							yr[ox] += s[ix];
					}
				}
			}
		}
	}
}

static int run_conv_transpose(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0], *wt = n->in[1], *b = ops_in(n, 2);
	int64_t g = inf_attr_int(n, "group", 1), cg = x->dims[1] / g, mg = wt->dims[1], m = mg * g;
	int nth = conv_threads(cx);
	ops_window w, w3;
	char err[8];

	if (conv_window(n, 1, &w, err, sizeof(err)) < 0)
		return VP_EMODEL;
	ops_window_to3(&w, &w3);
	ops_blas_threads(cx);
	for (int64_t i = 0; i < x->dims[0]; i++) {
		float *y = (float *)n->out[0]->data + i * m * w.out_size;

		memset(y, 0, sizeof(float) * (size_t)(m * w.out_size));
		for (int64_t gi = 0; gi < g; gi++) {
			const float *xg = (const float *)x->data + (i * x->dims[1] + gi * cg) * w.in_size;
			const float *wg = (const float *)wt->data + gi * cg * mg * w.k_size;

			/* col[mg*k, in] = W_g^T [mg*k, cg] x X_g [cg, in] */
			ops_sgemm(1, 0, (int)(mg * w.k_size), (int)w.in_size,
			            (int)cg, 1.0f, wg, (int)(mg * w.k_size), xg, (int)w.in_size, 0.0f, ws,
			            (int)w.in_size);
			col2im(ws, mg, &w3, y + gi * mg * w.out_size, nth);
		}
		ops_bias_act(n, y, b ? b->data : NULL, m, w.out_size);
	}
	return 0;
}

const inf_op ops_conv[] = {
	{ .op_type = "Conv", .shape = shape_conv, .prepare = prepare_conv, .release = release_conv,
	  .run_cpu = run_conv, .fuses_act = 1 },
	{ .op_type = "ConvTranspose", .shape = shape_conv_transpose, .prepare = prepare_conv_transpose,
	  .run_cpu = run_conv_transpose, .fuses_act = 1 },
	{ .op_type = NULL },
};
