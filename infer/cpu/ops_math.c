/* Float linear algebra and normalisation: MatMul and Gemm (OpenBLAS sgemm, fused
 * activation), Softmax/LogSoftmax (both axis conventions), BatchNormalization
 * (inference, and training mode for completeness), Det (LU in double). */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"
#include "pgemm.h"
#include "simd_avx512.h"

/* ---- MatMul: numpy semantics, batch axes broadcast, 1-D operands promoted ---- */

typedef struct mm_geom {
	int64_t m, k, n, batch;
	int nb;                               /* batch rank */
	int64_t bdims[INF_MAX_DIMS], sa[INF_MAX_DIMS], sb[INF_MAX_DIMS];
} mm_geom;

static int mm_geom_get(const inf_node *n, mm_geom *g, int64_t *ydims, int *ynd, char *err, size_t errlen)
{
	const inf_tensor *a = n->in[0], *b = n->in[1];
	inf_tensor ab = { 0 }, bb = { 0 };
	int64_t da[INF_MAX_DIMS], db[INF_MAX_DIMS];
	int nda = a->ndim, ndb = b->ndim, nd = 0;

	if (nda < 1 || ndb < 1)
		return ops_fail(err, errlen, VP_EMODEL, "scalar operands are not allowed");
	memcpy(da, a->dims, sizeof(da));
	memcpy(db, b->dims, sizeof(db));
	if (nda == 1) {
		da[1] = da[0];
		da[0] = 1;
		nda = 2;
	}
	if (ndb == 1) {
		db[1] = 1;
		ndb = 2;
	}
	g->m = da[nda - 2];
	g->k = da[nda - 1];
	g->n = db[ndb - 1];
	if (db[ndb - 2] != g->k)
		return ops_fail(err, errlen, VP_EMODEL, "inner dimensions differ: %lld and %lld",
		                (long long)g->k, (long long)db[ndb - 2]);
	ab.ndim = nda - 2;
	bb.ndim = ndb - 2;
	memcpy(ab.dims, da, sizeof(int64_t) * (size_t)ab.ndim);
	memcpy(bb.dims, db, sizeof(int64_t) * (size_t)bb.ndim);
	if (ops_bcast_shape(&ab, &bb, &g->nb, g->bdims) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "batch dimensions do not broadcast");
	ops_bcast_strides(&ab, g->nb, g->bdims, g->sa);
	ops_bcast_strides(&bb, g->nb, g->bdims, g->sb);
	g->batch = 1;
	for (int i = 0; i < g->nb; i++) {
		g->batch *= g->bdims[i];
		ydims[nd++] = g->bdims[i];
	}
	if (a->ndim > 1)
		ydims[nd++] = g->m;
	if (b->ndim > 1)
		ydims[nd++] = g->n;
	*ynd = nd;
	return 0;
}

OPS_SHAPE(shape_matmul, 1, 1)
{
	int64_t dims[INF_MAX_DIMS];
	mm_geom g;
	int nd, rc;

	if ((rc = ops_need_float(n, 0, err, errlen)) < 0 || (rc = ops_need_float(n, 1, err, errlen)) < 0)
		return rc;
	if ((rc = mm_geom_get(n, &g, dims, &nd, err, errlen)) < 0)
		return rc;
	ops_set_shape(n->out[0], INF_DT_FLOAT, nd, dims);
	return 0;
}

/* ---- MatMul on the packed GEMM (AVX-512 CPUs) ----
 * OpenBLAS picks its kernels by CPU model and may know none for the machine (a
 * hypervisor's "Intel Xeon Processor" runs its SSE3 Prescott kernels), and its
 * small-matrix path sends [100 x 100] x [100 x 8] products to a scalar loop here
 * (ops_sgemm). The packed GEMM of the convolutions runs every shape at full width: A
 * of each batch item is packed into the workspace, B is read in place, and (item,
 * column block) tasks go to the task pool with the fused activation in the epilogue. */

typedef struct mm_job {
	const inf_node *n;
	const mm_geom *g;
	float *ap;                            /* packed A of every batch item */
	int64_t cols, blocks;                 /* columns per task, tasks per item */
	pg_epilogue e;
} mm_job;

static void mm_offsets(const mm_geom *g, int64_t bi, int64_t *oa, int64_t *ob)
{
	*oa = *ob = 0;
	for (int d = g->nb - 1; d >= 0; d--) {
		*oa += (bi % g->bdims[d]) * g->sa[d];
		*ob += (bi % g->bdims[d]) * g->sb[d];
		bi /= g->bdims[d];
	}
}

static void mm_pack_items(void *arg, int64_t lo, int64_t hi)
{
	const mm_job *j = arg;
	const mm_geom *g = j->g;

	for (int64_t bi = lo; bi < hi; bi++) {
		int64_t oa, ob;
		mm_offsets(g, bi, &oa, &ob);
		pg_pack_a((const float *)j->n->in[0]->data + oa * g->m * g->k, g->k, g->m, g->k,
		          j->ap + (size_t)bi * pg_a_floats(g->m, g->k));
	}
}

static void mm_tasks(void *arg, int64_t lo, int64_t hi)
{
	const mm_job *j = arg;
	const mm_geom *g = j->g;

	for (int64_t t = lo; t < hi; t++) {
		int64_t bi = t / j->blocks, c0 = t % j->blocks * j->cols, oa, ob;
		int64_t w = g->n - c0 < j->cols ? g->n - c0 : j->cols;
		mm_offsets(g, bi, &oa, &ob);
		pg_gemm_direct(j->ap + (size_t)bi * pg_a_floats(g->m, g->k), g->m, g->k,
		               (const float *)j->n->in[1]->data + ob * g->k * g->n + c0, g->n, w,
		               (float *)j->n->out[0]->data + bi * g->m * g->n + c0, g->n, &j->e);
	}
}

/* A batch of items that all multiply the same B ([B, S, K] x [K, N], a linear layer
 * over tokens) is one product of batch * m rows when A's items are contiguous: one
 * wide GEMM instead of many of a few rows each. */
static void mm_fold_shared_b(mm_geom *g)
{
	for (int d = 0; d < g->nb; d++)
		if (g->bdims[d] > 1 && (g->sb[d] != 0 || g->sa[d] == 0))
			return;
	g->m *= g->batch;
	g->batch = 1;
	g->nb = 0;
}

/* Columns per task: a few tasks per pool thread, whole 48-column panels where possible. */
static void mm_run_pg(const inf_node *n, const mm_geom *g, float *ws, const inf_cpu_ctx *cx)
{
	mm_job j = { n, g, ws, 0, 0, { NULL, n->act, n->act_alpha, n->act_beta } };
	int nth = ops_pool_threads(cx);

	j.cols = pg_block_cols((g->n + PG_NR - 1) / PG_NR * PG_NR, g->n, g->batch, nth);
	j.blocks = (g->n + j.cols - 1) / j.cols;
	ops_par_range(cx, g->batch, 1, mm_pack_items, &j);
	ops_par_range(cx, g->batch * j.blocks, 1, mm_tasks, &j);
}

/* The node's MatMul geometry with a shared B folded in: prepare and run read it alike. */
static int mm_geom_folded(inf_node *n, mm_geom *g)
{
	int64_t dims[INF_MAX_DIMS];
	int nd;
	char err[8];
	if (mm_geom_get(n, g, dims, &nd, err, sizeof(err)) < 0)
		return VP_EMODEL;
	mm_fold_shared_b(g);
	return 0;
}

static int prepare_matmul(inf_node *n, size_t *ret_ws)
{
	mm_geom g;

	*ret_ws = 0;
	if (mm_geom_folded(n, &g) < 0)
		return VP_EMODEL;
	if (pg_supported() && g.m > 0 && g.k > 0 && g.n > 0)
		*ret_ws = (size_t)g.batch * pg_a_floats(g.m, g.k) * sizeof(float);
	return 0;
}

static int run_matmul(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	float *y = n->out[0]->data;
	mm_geom g;

	if (mm_geom_folded(n, &g) < 0)
		return VP_EMODEL;
	if (g.batch * g.m * g.n == 0)
		return 0;
	if (g.k > 0 && pg_supported()) {
		mm_run_pg(n, &g, ws, cx);
		return 0;
	}
	ops_blas_threads(cx);
	for (int64_t bi = 0; bi < g.batch; bi++) {
		int64_t oa, ob;

		mm_offsets(&g, bi, &oa, &ob);
		ops_sgemm(0, 0, (int)g.m, (int)g.n, (int)g.k, 1.0f,
		            (const float *)n->in[0]->data + oa * g.m * g.k, (int)g.k,
		            (const float *)n->in[1]->data + ob * g.k * g.n, (int)g.n, 0.0f,
		            y + bi * g.m * g.n, (int)g.n);
	}
	ops_act_apply(n, y, inf_tensor_numel(n->out[0]));
	return 0;
}

/* ---- Gemm: Y = alpha * A' B' + beta * C, C broadcast to [M, N] ---- */

/* Products below this many multiply-adds run OpenBLAS on one thread (deimv2's
 * [100, 64] x [64, 64] heads are 0.4 M). */
#define GEMM_THREADED_MNK 4e6

OPS_SHAPE(shape_gemm, 1, 1)
{
	const inf_tensor *a = n->in[0], *b = ops_in(n, 1), *c = ops_in(n, 2);
	int ta = (int)inf_attr_int(n, "transA", 0), tb = (int)inf_attr_int(n, "transB", 0), rc;
	int64_t dims[2];

	if ((rc = ops_need_float(n, 0, err, errlen)) < 0 || (rc = ops_need_float(n, 1, err, errlen)) < 0)
		return rc;
	if (a->ndim != 2 || b->ndim != 2)
		return ops_fail(err, errlen, VP_EMODEL, "A and B must be matrices");
	if (a->dims[ta ? 0 : 1] != b->dims[tb ? 1 : 0])
		return ops_fail(err, errlen, VP_EMODEL, "inner dimensions of A and B differ");
	dims[0] = a->dims[ta ? 1 : 0];
	dims[1] = b->dims[tb ? 0 : 1];
	if (c) {
		inf_tensor yt = { .ndim = 2, .dims = { dims[0], dims[1] } };
		int64_t bd[INF_MAX_DIMS];
		int nd;
		if (c->dtype != INF_DT_FLOAT || c->ndim > 2 || ops_bcast_shape(c, &yt, &nd, bd) < 0 ||
		    bd[0] != dims[0] || (nd > 1 && bd[1] != dims[1]))
			return ops_fail(err, errlen, VP_EMODEL, "C %s does not broadcast to [%lld, %lld]", c->name,
			                (long long)dims[0], (long long)dims[1]);
	}
	ops_set_shape(n->out[0], INF_DT_FLOAT, 2, dims);
	return 0;
}

static int run_gemm(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *a = n->in[0], *b = n->in[1], *c = ops_in(n, 2);
	inf_tensor *yt = n->out[0];
	int ta = (int)inf_attr_int(n, "transA", 0), tb = (int)inf_attr_int(n, "transB", 0);
	float alpha = inf_attr_float(n, "alpha", 1.0f), beta = inf_attr_float(n, "beta", 1.0f);
	int64_t m = yt->dims[0], nn = yt->dims[1], k = a->dims[ta ? 0 : 1];
	float *y = yt->data;

	(void)ws;
	if (c && beta != 0.0f) {
		int64_t s[2];
		const float *cp = c->data;
		ops_bcast_strides(c, 2, yt->dims, s);
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < nn; j++)
				y[i * nn + j] = beta * cp[i * s[0] + j * s[1]];
	}
	/* OpenBLAS workers spin (sched_yield) for a long while after each threaded call; on
	 * a small product that costs the task pool's workers their core for little gain */
	if ((double)m * (double)nn * (double)k < GEMM_THREADED_MNK)
		ops_blas_single();
	else
		ops_blas_threads(cx);
	ops_sgemm(ta, tb, (int)m, (int)nn,
	            (int)k, alpha, a->data, (int)a->dims[1], b->data, (int)b->dims[1],
	            (c && beta != 0.0f) ? 1.0f : 0.0f, y, (int)nn);
	ops_act_apply(n, y, m * nn);
	return 0;
}

/* ---- Softmax / LogSoftmax ---- */

/* Before opset 13 the input is flattened to 2-D at axis (default 1); from 13 on the
 * reduction runs along axis alone (default -1). */
static int softmax_geom(const inf_node *n, int64_t *outer, int64_t *len, int64_t *inner)
{
	const inf_tensor *x = n->in[0];
	int old = n->opset < 13;
	int a = ops_axis(inf_attr_int(n, "axis", old ? 1 : -1), x->ndim);

	if (a < 0)
		return -1;
	*outer = *len = *inner = 1;
	for (int i = 0; i < x->ndim; i++) {
		if (i < a)
			*outer *= x->dims[i];
		else if (i == a || old)
			*len *= x->dims[i];
		else
			*inner *= x->dims[i];
	}
	return 0;
}

OPS_SHAPE(shape_softmax, 1, 1)
{
	int64_t o, l, i;
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (softmax_geom(n, &o, &l, &i) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "axis %lld is out of range",
		                (long long)inf_attr_int(n, "axis", 0));
	ops_same_shape(n);
	return 0;
}

typedef struct softmax_job {
	const float *xp;
	float *yp;
	int64_t len, inner;
	int is_log;
	int avx512;                           /* rows of the last axis in softmax_row512 */
} softmax_job;

#ifdef HAVE_AVX512_SILU
/* One contiguous row (the last axis, the common case) in AVX-512: libm's expf is a call
 * per element that no loop vectorises; exp512_neg (relative error at most 4.5e-7) and
 * the sum in 16 lanes (the order of the additions changes, within float rounding). */
__attribute__((target("avx512f"))) static void softmax_row512(const float *x, float *y, int64_t len, int is_log)
{
	__m512 vmx = _mm512_set1_ps(-INFINITY), vs = _mm512_setzero_ps();
	float mx, sum;
	int64_t i;

	for (i = 0; i < len; i += 16) {
		__mmask16 m = len - i >= 16 ? 0xffff : (__mmask16)((1u << (len - i)) - 1);
		/* max_ps keeps the second operand where the first is NaN: NaN skipped like fmaxf */
		vmx = _mm512_mask_max_ps(vmx, m, _mm512_maskz_loadu_ps(m, x + i), vmx);
	}
	mx = _mm512_reduce_max_ps(vmx);
	for (i = 0; i < len; i += 16) {
		__mmask16 m = len - i >= 16 ? 0xffff : (__mmask16)((1u << (len - i)) - 1);
		__m512 e = exp512_neg(_mm512_sub_ps(_mm512_set1_ps(mx), _mm512_maskz_loadu_ps(m, x + i)));
		_mm512_mask_storeu_ps(y + i, m, e);
		vs = _mm512_mask_add_ps(vs, m, vs, e);
	}
	sum = _mm512_reduce_add_ps(vs);
	if (is_log) {
		__m512 sub = _mm512_set1_ps(mx + logf(sum));
		for (i = 0; i < len; i += 16) {
			__mmask16 m = len - i >= 16 ? 0xffff : (__mmask16)((1u << (len - i)) - 1);
			_mm512_mask_storeu_ps(y + i, m, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sub));
		}
		return;
	}
	for (i = 0; i < len; i += 16) {
		__mmask16 m = len - i >= 16 ? 0xffff : (__mmask16)((1u << (len - i)) - 1);
		_mm512_mask_storeu_ps(y + i, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_set1_ps(sum)));
	}
}
#endif

/* Rows [r0, r1) of outer * inner, each len values inner apart. */
static void softmax_rows(void *arg, int64_t r0, int64_t r1)
{
	const softmax_job *j = arg;
	int64_t len = j->len, inner = j->inner;

	for (int64_t r = r0; r < r1; r++) {
		int64_t base = (r / inner) * len * inner + r % inner;
		const float *x = j->xp + base;
		float *y = j->yp + base, mx = -INFINITY, sum = 0.0f;

#ifdef HAVE_AVX512_SILU
		if (inner == 1 && j->avx512) {
			softmax_row512(x, y, len, j->is_log);
			continue;
		}
#endif
		for (int64_t i = 0; i < len; i++)
			mx = fmaxf(mx, x[i * inner]);
		for (int64_t i = 0; i < len; i++) {
			y[i * inner] = expf(x[i * inner] - mx);
			sum += y[i * inner];
		}
		if (j->is_log)
			for (int64_t i = 0; i < len; i++)
				y[i * inner] = x[i * inner] - mx - logf(sum);
		else
			for (int64_t i = 0; i < len; i++)
				y[i * inner] /= sum;
	}
}

static int run_softmax(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	softmax_job j = { n->in[0]->data, n->out[0]->data, 0, 0, !strcmp(n->op_type, "LogSoftmax"),
	                  pg_supported() };
	int64_t outer;

	(void)ws;
	softmax_geom(n, &outer, &j.len, &j.inner);
	ops_par_range(cx, outer * j.inner, 16, softmax_rows, &j);
	return 0;
}

/* ---- BatchNormalization (per channel, axis 1) ---- */

OPS_SHAPE(shape_batchnorm, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int rc;

	if (x->ndim < 2)
		return ops_fail(err, errlen, VP_EMODEL, "input %s must have a channel axis", x->name);
	for (int k = 0; k < 5; k++) {
		const inf_tensor *t = ops_in(n, k);
		if ((rc = ops_need_float(n, k, err, errlen)) < 0)
			return rc;
		if (k && (t->ndim != 1 || t->dims[0] != x->dims[1]))
			return ops_fail(err, errlen, VP_EMODEL, "input %s must be [%lld]", t->name, (long long)x->dims[1]);
	}
	if (n->n_out > 1 && !inf_attr_int(n, "training_mode", 0))
		return ops_fail(err, errlen, VP_EUNSUP, "mean/var outputs need training_mode");
	if (n->n_out > 3)
		return ops_fail(err, errlen, VP_EUNSUP, "saved mean/var outputs are not supported");
	ops_same_shape(n);
	for (int k = 1; k < n->n_out; k++)
		ops_set_shape(n->out[k], INF_DT_FLOAT, 1, &x->dims[1]);
	return 0;
}

static int run_batchnorm(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	const float *xp = x->data, *sc = n->in[1]->data, *bi = n->in[2]->data;
	const float *mean = n->in[3]->data, *var = n->in[4]->data;
	float eps = inf_attr_float(n, "epsilon", 1e-5f), mom = inf_attr_float(n, "momentum", 0.9f);
	int train = (int)inf_attr_int(n, "training_mode", 0);
	int64_t ch = x->dims[1], plane = inf_tensor_numel(x) / (x->dims[0] * ch);
	float *yp = n->out[0]->data;

	(void)ws;
#pragma omp parallel for num_threads(ops_threads(cx))
	for (int64_t c = 0; c < ch; c++) {
		double m = mean[c], v = var[c];

		if (train) {
			double s = 0, s2 = 0, cnt = (double)(x->dims[0] * plane);
			for (int64_t b = 0; b < x->dims[0]; b++)
				for (int64_t i = 0; i < plane; i++) {
					double t = xp[(b * ch + c) * plane + i];
					s += t;
					s2 += t * t;
				}
			m = s / cnt;
			v = s2 / cnt - m * m;
			if (n->n_out > 1)
				((float *)n->out[1]->data)[c] = mean[c] * mom + (float)m * (1 - mom);
			if (n->n_out > 2)
				((float *)n->out[2]->data)[c] = var[c] * mom + (float)v * (1 - mom);
		}
		float a = sc[c] / sqrtf((float)v + eps), b = bi[c] - (float)m * a;
		for (int64_t bt = 0; bt < x->dims[0]; bt++) {
			const float *xs = xp + (bt * ch + c) * plane;
			float *ys = yp + (bt * ch + c) * plane;
			for (int64_t i = 0; i < plane; i++)
				ys[i] = xs[i] * a + b;
		}
	}
	return 0;
}

/* ---- Det: determinants of the [..., M, M] matrices ---- */

OPS_SHAPE(shape_det, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (x->ndim < 2 || x->dims[x->ndim - 1] != x->dims[x->ndim - 2] || x->dims[x->ndim - 1] > 1024)
		return ops_fail(err, errlen, VP_EMODEL, "needs square matrices [..., M, M], M <= 1024");
	ops_set_shape(n->out[0], INF_DT_FLOAT, x->ndim - 2, x->dims);
	return 0;
}

static int det_prepare(inf_node *n, size_t *ret_workspace)
{
	int64_t m = n->in[0]->dims[n->in[0]->ndim - 1];

	*ret_workspace = sizeof(double) * (size_t)(m * m);
	return 0;
}

/* LU with partial pivoting in double on a copy a[m * m]; the product of the pivots. */
static double det_lu(double *a, int64_t m)
{
	double det = 1.0;

	for (int64_t c = 0; c < m; c++) {
		int64_t p = c;
		for (int64_t r = c + 1; r < m; r++)
			if (fabs(a[r * m + c]) > fabs(a[p * m + c]))
				p = r;
		if (a[p * m + c] == 0.0)
			return 0.0;
		if (p != c) {
			for (int64_t k = 0; k < m; k++) {
				double t = a[c * m + k];
				a[c * m + k] = a[p * m + k];
				a[p * m + k] = t;
			}
			det = -det;
		}
		det *= a[c * m + c];
		for (int64_t r = c + 1; r < m; r++) {
			double f = a[r * m + c] / a[c * m + c];
			for (int64_t k = c; k < m; k++)
				a[r * m + k] -= f * a[c * m + k];
		}
	}
	return det;
}

static int run_det(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	const float *xp = x->data;
	float *y = n->out[0]->data;
	int64_t m = x->dims[x->ndim - 1], mats = inf_tensor_numel(n->out[0]);
	double *a = ws;

	(void)cx;
	for (int64_t i = 0; i < mats; i++) {
		for (int64_t k = 0; k < m * m; k++)
			a[k] = xp[i * m * m + k];
		y[i] = (float)(m ? det_lu(a, m) : 1.0);      /* the empty matrix's determinant is 1 */
	}
	return 0;
}

const inf_op ops_math[] = {
	{ .op_type = "MatMul", .shape = shape_matmul, .prepare = prepare_matmul, .run_cpu = run_matmul,
	  .fuses_act = 1 },
	{ .op_type = "Gemm", .shape = shape_gemm, .run_cpu = run_gemm, .fuses_act = 1 },
	{ .op_type = "Softmax", .shape = shape_softmax, .run_cpu = run_softmax },
	{ .op_type = "LogSoftmax", .shape = shape_softmax, .run_cpu = run_softmax },
	{ .op_type = "BatchNormalization", .shape = shape_batchnorm, .run_cpu = run_batchnorm },
	{ .op_type = "Det", .shape = shape_det, .prepare = det_prepare, .run_cpu = run_det },
	{ .op_type = NULL },
};
