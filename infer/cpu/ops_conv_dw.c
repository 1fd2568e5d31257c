/* 3x3 depthwise convolution with AVX-512. Each input plane is first staged with its
 * padding as zeros (rows a multiple of 16 floats apart, slack on the right; the zeros
 * are written once per node and thread, each plane only copies its rows), so the kernel loads
 * whole vectors without bounds checks: 16 output columns a step, the three kernel rows
 * summed in separate dependency chains, stride 2 keeping the even or odd lanes of 32
 * loaded columns. The activation is a second pass over the plane while it is in L2. */
#include <string.h>

#include "ops_common.h"
#include "ops_conv_dw.h"
#include "pgemm.h"
#include "taskpool.h"
#include "simd_avx512.h"

/* Staged plane geometry: rows, and floats per row (a multiple of 16). */
static void staged_dims(const ops_window *w, int64_t *rows, int64_t *stride)
{
	int64_t ow16 = (w->out[2] + 15) / 16 * 16, cols = w->in[2] + w->pb[2] + w->pe[2];
	int64_t need = w->s[2] * ow16 + 16 * (w->s[2] + 1), r = (w->out[1] - 1) * w->s[1] + 3;

	*rows = r > w->in[1] + w->pb[1] + w->pe[1] ? r : w->in[1] + w->pb[1] + w->pe[1];
	*stride = ((cols > need ? cols : need) + 15) / 16 * 16;
}

size_t conv_dw3_workspace(const ops_window *w3, int threads)
{
	int64_t rows, stride;

	staged_dims(w3, &rows, &stride);
	return (size_t)threads * (size_t)(rows * stride) * sizeof(float);
}

#ifdef HAVE_AVX512_SILU
#define DW_TARGET __attribute__((target("avx512f")))

/* Zeros everywhere in the staged plane: the padding around the rows that stage_rows
 * fills, the same for every plane of a node. */
static void stage_clear(int64_t rows, int64_t stride, float *buf)
{
	memset(buf, 0, sizeof(float) * (size_t)(rows * stride));
}

/* The input rows of one plane into the staged plane, after pb zero rows and pb zero
 * columns; vector copies inline (the rows are short: a memcpy call per row cost more). */
DW_TARGET static void stage_rows(const float *x, const ops_window *w, int64_t stride, float *buf)
{
	int64_t iw = w->in[2], full = iw / 16 * 16;
	__mmask16 tail = (__mmask16)((1u << (iw - full)) - 1);

	buf += w->pb[1] * stride + w->pb[2];
	for (int64_t iy = 0; iy < w->in[1]; iy++, x += iw, buf += stride) {
		for (int64_t i = 0; i < full; i += 16)
			_mm512_storeu_ps(buf + i, _mm512_loadu_ps(x + i));
		if (tail)
			_mm512_mask_storeu_ps(buf + full, tail, _mm512_maskz_loadu_ps(tail, x + full));
	}
}

/* (hi:lo) shifted down by n lanes: lanes n.. of lo, then the first n of hi. */
#define SHIFT(hi, lo, n) \
	_mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), n))

/* The three taps of one kernel row (weights k0..k2) for 16 output columns from ox0 on,
 * staged row r. Rows start 64-byte aligned in the engine's workspace, so the loads at
 * every 16th column do not straddle cache lines; the shifted taps come from lane shifts.
 * Written without arrays so the vectors stay in registers. */
DW_TARGET __attribute__((always_inline)) static inline __m512 taps(const float *r, __m512 k0, __m512 k1, __m512 k2,
                                                                   int64_t ox0, int s2)
{
	__m512 v0, v1, v2;

	if (!s2) {
		__m512 a = _mm512_loadu_ps(r + ox0), b = _mm512_loadu_ps(r + ox0 + 16);

		v0 = a;
		v1 = SHIFT(b, a, 1);
		v2 = SHIFT(b, a, 2);
	} else {
		const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
		const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
		const float *p = r + 2 * ox0;
		__m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16), c = _mm512_loadu_ps(p + 32);

		v0 = _mm512_permutex2var_ps(a, ev, b);
		v1 = _mm512_permutex2var_ps(a, od, b);
		v2 = _mm512_permutex2var_ps(SHIFT(b, a, 2), ev, SHIFT(c, b, 2));
	}
	return _mm512_fmadd_ps(k2, v2, _mm512_fmadd_ps(k1, v1, _mm512_mul_ps(k0, v0)));
}

/* One output plane from a staged input plane, bias added, no activation. */
DW_TARGET static void dw3_plane(const float *buf, int64_t stride, const float *k, float bias, const ops_window *w,
                                float *y)
{
	int64_t s = w->s[1], ow = w->out[2], tail = ow % 16;
	int s2 = w->s[2] == 2;
	const __m512 k0 = _mm512_set1_ps(k[0]), k1 = _mm512_set1_ps(k[1]), k2 = _mm512_set1_ps(k[2]);
	const __m512 k3 = _mm512_set1_ps(k[3]), k4 = _mm512_set1_ps(k[4]), k5 = _mm512_set1_ps(k[5]);
	const __m512 k6 = _mm512_set1_ps(k[6]), k7 = _mm512_set1_ps(k[7]), k8 = _mm512_set1_ps(k[8]);
	const __m512 bv = _mm512_set1_ps(bias);
	const __mmask16 last = tail ? (__mmask16)((1u << tail) - 1) : 0xffff;

	for (int64_t oy = 0; oy < w->out[1]; oy++, y += ow) {
		const float *r0 = buf + oy * s * stride, *r1 = r0 + stride, *r2 = r1 + stride;

		for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
			__m512 a0 = taps(r0, k0, k1, k2, ox0, s2), a1 = taps(r1, k3, k4, k5, ox0, s2);
			__m512 a2 = taps(r2, k6, k7, k8, ox0, s2);
			__m512 v = _mm512_add_ps(_mm512_add_ps(a0, bv), _mm512_add_ps(a1, a2));

			_mm512_mask_storeu_ps(y + ox0, ox0 + 16 <= ow ? 0xffff : last, v);
		}
	}
}

int conv_dw3_usable(const ops_window *w3)
{
	return pg_supported() && w3->k[0] == 1 && w3->in[0] == 1 && w3->k[1] == 3 && w3->k[2] == 3 &&
	       w3->d[1] == 1 && w3->d[2] == 1 && w3->s[1] == w3->s[2] && (w3->s[2] == 1 || w3->s[2] == 2);
}

/* Planes per task: several tasks per thread, so that a thread that runs alone takes
 * over the share of one that another process keeps off its core. */
#define DW_TASKS_PER_THREAD 4

typedef struct dw_job {
	const inf_node *n;
	const ops_window *w3;
	float *ws;
	int64_t rows, stride, per_task, planes;
} dw_job;

static void dw_task(void *arg, int64_t t, int slot)
{
	const dw_job *j = arg;
	const inf_node *n = j->n;
	const ops_window *w3 = j->w3;
	const inf_tensor *x = n->in[0], *b = ops_in(n, 2);
	const float *xp = x->data, *wp = n->in[1]->data, *bp = b ? b->data : NULL;
	float *yp = n->out[0]->data, *buf = j->ws + (size_t)slot * (size_t)(j->rows * j->stride);
	int64_t ch = x->dims[1], end = (t + 1) * j->per_task < j->planes ? (t + 1) * j->per_task : j->planes;

	/* the padding zeros of this task's staged planes: written once, the rows change */
	stage_clear(j->rows, j->stride, buf);
	for (int64_t p = t * j->per_task; p < end; p++) {
		int64_t c = p % ch;
		float *y = yp + p * w3->out_size;

		stage_rows(xp + p * w3->in_size, w3, j->stride, buf);
		dw3_plane(buf, j->stride, wp + c * 9, bp ? bp[c] : 0.0f, w3, y);
		/* a separate pass: the activation's long dependency chains overlap
		 * better in their own loop than behind the taps */
		ops_act_apply(n, y, w3->out_size);
	}
}

void conv_dw3_run(inf_node *n, const ops_window *w3, float *ws, int threads, tp_pool *pool, int nth)
{
	dw_job j = { .n = n, .w3 = w3, .ws = ws, .planes = n->in[0]->dims[0] * n->in[0]->dims[1] };
	int64_t want;

	staged_dims(w3, &j.rows, &j.stride);
	if (nth > threads || tp_threads(pool) > threads)
		nth = 1;  /* the workspace holds `threads` staged planes */
	want = nth > 1 ? (int64_t)nth * DW_TASKS_PER_THREAD : 1;
	j.per_task = (j.planes + want - 1) / want;
	tp_run(pool, nth, (j.planes + j.per_task - 1) / j.per_task, dw_task, &j);
}

#else

int conv_dw3_usable(const ops_window *w3)
{
	(void)w3;
	return 0;
}

void conv_dw3_run(inf_node *n, const ops_window *w3, float *ws, int threads, tp_pool *pool, int nth)
{
	(void)n, (void)w3, (void)ws, (void)threads, (void)pool, (void)nth;
}

#endif
