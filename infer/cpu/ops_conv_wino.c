/* 3x3 stride-1 convolutions by Winograd F(2x2, 3x3): each 2x2 output tile is computed
 * from a 4x4 input tile in the transformed domain, 16 multiplications per tile and
 * channel pair instead of 36. The 16 products are 16 GEMMs (packed GEMM, pgemm.h) of
 * the transformed weights (packed at prepare) by the transformed input tiles. One task
 * is one image's block of tiles: input transform into packed GEMM panels, the 16
 * GEMMs, then the output transform with bias and activation. The transforms only add
 * and halve, so the results stay within a few ulps of the direct convolution. */
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"
#include "ops_conv_wino.h"
#include "pgemm.h"
#include "taskpool.h"
#include "simd_avx512.h"

#define WT 16                         /* transformed values per tile (4x4) */
/* Floats of transformed input and products per task: the block stays in L2. */
#define WINO_BLOCK_FLOATS 131072
/* Most tiles in a task, and in a run of tiles within one tile row and GEMM panel. */
#define WINO_MAX_TB (10 * PG_NR)
/* Staged input rows: 2 PG_NR + 2 columns and slack for the last vector loads. */
#define RB_STRIDE (2 * PG_NR + 64)

struct conv_wino {
	float *u;                     /* 16 packed weight matrices, u_step floats apart */
	size_t u_step;
	int64_t c, m;
	int64_t tb;                   /* tiles per task, a multiple of PG_NR */
	int threads;
};

/* Slot of one thread: transformed input (16 packed B blocks), then products. */
static size_t v_step(const conv_wino *p)
{
	return pg_b_floats(p->c, p->tb);
}

static size_t slot_floats(const conv_wino *p)
{
	return WT * v_step(p) + (size_t)(WT * p->m * p->tb) + (size_t)(4 * RB_STRIDE);
}

int conv_wino_usable(const inf_node *n, const ops_window *w3)
{
#ifndef HAVE_AVX512_SILU
	return 0;
#endif
	return pg_supported() && inf_attr_int(n, "group", 1) == 1 && w3->k[0] == 1 && w3->in[0] == 1 &&
	       w3->k[1] == 3 && w3->k[2] == 3 && w3->s[1] == 1 && w3->s[2] == 1 && w3->d[1] == 1 &&
	       w3->d[2] == 1 && n->in[0]->dims[1] >= 8 && n->in[1]->dims[0] >= 8;
}

/* U = G g G^T for one 3x3 kernel, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void weight_tile(const float *g, double *u)
{
	double t[4][3];

	for (int j = 0; j < 3; j++) {
		t[0][j] = g[j];
		t[1][j] = 0.5 * ((double)g[j] + g[3 + j] + g[6 + j]);
		t[2][j] = 0.5 * ((double)g[j] - g[3 + j] + g[6 + j]);
		t[3][j] = g[6 + j];
	}
	for (int i = 0; i < 4; i++) {
		u[i * 4 + 0] = t[i][0];
		u[i * 4 + 1] = 0.5 * (t[i][0] + t[i][1] + t[i][2]);
		u[i * 4 + 2] = 0.5 * (t[i][0] - t[i][1] + t[i][2]);
		u[i * 4 + 3] = t[i][2];
	}
}

int conv_wino_new(const inf_node *n, int threads, conv_wino **ret, size_t *ret_ws)
{
	const inf_tensor *wt = n->in[1];
	conv_wino *p = calloc(1, sizeof(*p));
	float *um = NULL;
	double u[WT];

	if (!p)
		goto nomem;
	p->c = n->in[0]->dims[1];
	p->m = wt->dims[0];
	p->threads = threads;
	p->tb = WINO_BLOCK_FLOATS / WT / (p->c + p->m) / PG_NR * PG_NR;
	p->tb = p->tb < PG_NR ? PG_NR : p->tb > WINO_MAX_TB ? WINO_MAX_TB : p->tb;
	p->u_step = pg_a_floats(p->m, p->c);
	p->u = aligned_alloc(64, (WT * p->u_step * sizeof(float) + 63) / 64 * 64);
	um = malloc(sizeof(float) * (size_t)(WT * p->m * p->c));
	if (!p->u || !um)
		goto nomem;
	for (int64_t m = 0; m < p->m; m++)
		for (int64_t c = 0; c < p->c; c++) {
			weight_tile((const float *)wt->data + (m * p->c + c) * 9, u);
			for (int k = 0; k < WT; k++)
				um[(k * p->m + m) * p->c + c] = (float)u[k];
		}
	for (int k = 0; k < WT; k++)
		pg_pack_a(um + k * p->m * p->c, p->c, p->m, p->c, p->u + k * p->u_step);
	free(um);
	*ret_ws = (size_t)threads * slot_floats(p) * sizeof(float);
	*ret = p;
	return 0;
nomem:
	free(um);
	conv_wino_free(&p);
	return -ENOMEM;
}

void conv_wino_free(conv_wino **pp)
{
	if (!*pp)
		return;
	free((*pp)->u);
	free(*pp);
	*pp = NULL;
}

#ifdef HAVE_AVX512_SILU
/* Tiles [l0, l0 + len) of a task lie in tile row ty from tile column tx0 on. */
typedef struct tseg {
	int64_t ty, tx0, l0, len;
} tseg;

/* Splits the task's tiles at tile row and GEMM panel boundaries. */
static int task_segs(int64_t t0, int64_t cnt, int64_t tw, tseg *sg, int cap)
{
	int ns = 0;

	for (int64_t l = 0; l < cnt && ns < cap; ns++) {
		int64_t t = t0 + l, tx = t % tw, len = tw - tx;

		if (len > cnt - l)
			len = cnt - l;
		if (len > PG_NR - l % PG_NR)
			len = PG_NR - l % PG_NR;
		sg[ns] = (tseg){ t / tw, tx, l, len };
		l += len;
	}
	return ns;
}

#define W_TARGET __attribute__((target("avx512f")))

static inline __mmask16 lanes(int64_t n)
{
	return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Input rows 2ty - pb + r (r < 4), columns from 2 tx0 - pl, 2 len + 2 of them, with
 * zeros outside the image; rows RB_STRIDE floats apart (the transform reads past the
 * end of a row into lanes it then drops). */
static void stage_rows(const float *xc, const ops_window *w, const tseg *s, float *rb)
{
	int64_t width = 2 * s->len + 2, ix0 = 2 * s->tx0 - w->pb[2];
	int64_t lo = ix0 < 0 ? -ix0 : 0, hi = w->in[2] - ix0 < width ? w->in[2] - ix0 : width;

	for (int r = 0; r < 4; r++, rb += RB_STRIDE) {
		int64_t iy = 2 * s->ty - w->pb[1] + r;

		if (iy < 0 || iy >= w->in[1] || hi <= lo) {
			memset(rb, 0, sizeof(float) * (size_t)width);
			continue;
		}
		memset(rb, 0, sizeof(float) * (size_t)lo);
		memcpy(rb + lo, xc + iy * w->in[2] + ix0 + lo, sizeof(float) * (size_t)(hi - lo));
		memset(rb + hi, 0, sizeof(float) * (size_t)(width - hi));
	}
}

/* V = B^T d B for len tiles of the staged rows, 16 tiles a step (even and odd input
 * columns split by permutes); V[k] goes to dst[k * step + j] for tile j.
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
W_TARGET static void input_tiles(const float *rb, int64_t len, float *dst, size_t step)
{
	const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);

	for (int64_t j = 0; j < len; j += 16) {
		__mmask16 mk = lanes(len - j);
		__m512 d[4][4], t[4][4];

#pragma GCC unroll 4
		for (int r = 0; r < 4; r++) {
			const float *p = rb + r * RB_STRIDE + 2 * j;
			__m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
			__m512 c = _mm512_loadu_ps(p + 2), e = _mm512_loadu_ps(p + 18);

			d[r][0] = _mm512_permutex2var_ps(a, ev, b);
			d[r][1] = _mm512_permutex2var_ps(a, od, b);
			d[r][2] = _mm512_permutex2var_ps(c, ev, e);
			d[r][3] = _mm512_permutex2var_ps(c, od, e);
		}
#pragma GCC unroll 4
		for (int q = 0; q < 4; q++) {
			t[0][q] = _mm512_sub_ps(d[0][q], d[2][q]);
			t[1][q] = _mm512_add_ps(d[1][q], d[2][q]);
			t[2][q] = _mm512_sub_ps(d[2][q], d[1][q]);
			t[3][q] = _mm512_sub_ps(d[1][q], d[3][q]);
		}
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++) {
			float *o = dst + (size_t)(i * 4) * step + j;

			_mm512_mask_storeu_ps(o, mk, _mm512_sub_ps(t[i][0], t[i][2]));
			_mm512_mask_storeu_ps(o + step, mk, _mm512_add_ps(t[i][1], t[i][2]));
			_mm512_mask_storeu_ps(o + 2 * step, mk, _mm512_sub_ps(t[i][2], t[i][1]));
			_mm512_mask_storeu_ps(o + 3 * step, mk, _mm512_sub_ps(t[i][1], t[i][3]));
		}
	}
}

/* Y = A^T M A + bias, activated, for len tiles (M[k] at src[k * step + j]), 16 tiles a
 * step, stored as the output rows y0 and y1 (y1 NULL past the last row), `width`
 * columns of them. A^T = [1 1 1 0; 0 1 -1 -1]. */
W_TARGET static void output_tiles(const float *src, size_t step, int64_t len, float bias, const inf_node *n,
                                  float *y0, float *y1, int64_t width)
{
	const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
	const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
	__m512 bv = _mm512_set1_ps(bias);

	for (int64_t j = 0; j < len; j += 16) {
		__m512 m[WT], t[2][4], o[2][2];

#pragma GCC unroll 16
		for (int k = 0; k < WT; k++)
			m[k] = _mm512_loadu_ps(src + (size_t)k * step + j);
#pragma GCC unroll 4
		for (int q = 0; q < 4; q++) {
			t[0][q] = _mm512_add_ps(_mm512_add_ps(m[q], m[4 + q]), m[8 + q]);
			t[1][q] = _mm512_sub_ps(_mm512_sub_ps(m[4 + q], m[8 + q]), m[12 + q]);
		}
#pragma GCC unroll 4
		for (int r = 0; r < 2; r++) {
			o[r][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t[r][0], t[r][1]), t[r][2]), bv);
			o[r][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t[r][1], t[r][2]), t[r][3]), bv);
			o[r][0] = act512(o[r][0], n->act, n->act_alpha, n->act_beta);
			o[r][1] = act512(o[r][1], n->act, n->act_alpha, n->act_beta);
		}
#pragma GCC unroll 4
		for (int r = 0; r < 2; r++) {
			float *yr = (r ? y1 : y0) + 2 * j;

			if (r && !y1)
				break;
			_mm512_mask_storeu_ps(yr, lanes(width - 2 * j), _mm512_permutex2var_ps(o[r][0], lo, o[r][1]));
			_mm512_mask_storeu_ps(yr + 16, lanes(width - 2 * j - 16),
			                      _mm512_permutex2var_ps(o[r][0], hi, o[r][1]));
		}
	}
}

static void run_task(const conv_wino *p, inf_node *n, const ops_window *w3, int64_t img, int64_t t0,
                     int64_t cnt, float *slot)
{
	const inf_tensor *b = ops_in(n, 2);
	int64_t tw = (w3->out[2] + 1) / 2, oh = w3->out[1], ow = w3->out[2];
	const float *x = (const float *)n->in[0]->data + img * p->c * w3->in_size;
	float *y = (float *)n->out[0]->data + img * p->m * w3->out_size;
	float *v = slot, *prod = v + WT * v_step(p), *rb = prod + WT * p->m * p->tb;
	pg_epilogue none = { 0 };
	tseg sg[WINO_MAX_TB];
	int ns = task_segs(t0, cnt, tw, sg, (int)(sizeof(sg) / sizeof(sg[0])));

	for (int64_t c = 0; c < p->c; c++)
		for (int i = 0; i < ns; i++) {
			int64_t l = sg[i].l0;

			stage_rows(x + c * w3->in_size, w3, &sg[i], rb);
			input_tiles(rb, sg[i].len, v + l / PG_NR * PG_NR * p->c + c * PG_NR + l % PG_NR, v_step(p));
		}
	for (int k = 0; k < WT; k++)
		/* products as [m][k][tile]: the output transform of channel m then reads one
		 * contiguous block */
		pg_gemm(p->u + k * p->u_step, p->m, p->c, v + k * v_step(p), cnt, prod + k * p->tb, WT * p->tb, &none);
	for (int64_t m = 0; m < p->m; m++) {
		float bias = b ? ((const float *)b->data)[m] : 0.0f;

		for (int i = 0; i < ns; i++) {
			int64_t oy = 2 * sg[i].ty, ox = 2 * sg[i].tx0;
			float *y0 = y + m * w3->out_size + oy * ow + ox;

			output_tiles(prod + m * WT * p->tb + sg[i].l0, (size_t)p->tb, sg[i].len, bias, n, y0,
			             oy + 1 < oh ? y0 + ow : NULL, 2 * sg[i].len < ow - ox ? 2 * sg[i].len : ow - ox);
		}
	}
}
#endif

#ifdef HAVE_AVX512_SILU
typedef struct wino_job {
	const conv_wino *p;
	inf_node *n;
	const ops_window *w3;
	float *ws;
	int64_t tiles, tb, blocks;
} wino_job;

static void wino_task(void *arg, int64_t t, int slot)
{
	const wino_job *j = arg;
	int64_t t0 = t % j->blocks * j->tb;

	run_task(j->p, j->n, j->w3, t / j->blocks, t0, j->tiles - t0 < j->tb ? j->tiles - t0 : j->tb,
	         j->ws + (size_t)slot * slot_floats(j->p));
}
#endif

void conv_wino_run(const conv_wino *p, inf_node *n, const ops_window *w3, float *ws, tp_pool *pool, int nth)
{
#ifdef HAVE_AVX512_SILU
	wino_job j = { .p = p, .n = n, .w3 = w3, .ws = ws, .tiles = (w3->out[1] + 1) / 2 * ((w3->out[2] + 1) / 2) };

	if (nth > p->threads || tp_threads(pool) > p->threads)
		nth = 1;  /* the workspace holds p->threads slots */
	j.tb = pg_block_cols(p->tb, j.tiles, n->in[0]->dims[0], nth);
	j.blocks = (j.tiles + j.tb - 1) / j.tb;
	tp_run(pool, nth, n->in[0]->dims[0] * j.blocks, wino_task, &j);
#else
	(void)p, (void)n, (void)w3, (void)ws, (void)pool, (void)nth;
#endif
}
