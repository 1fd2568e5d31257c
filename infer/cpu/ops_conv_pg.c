/* Conv through the packed GEMM: one task per (image, group, block of output columns)
 * packs its block of the im2col matrix straight into GEMM panels (a strided copy for
 * pointwise convolutions, or none for narrow ones) and multiplies it with the weights
 * packed at prepare; the GEMM applies bias and activation itself. */
#include <stdlib.h>
#include <string.h>

#include "ops_common.h"
#include "ops_conv_pg.h"
#include "taskpool.h"
#include "pgemm.h"

/* Packed B block per task: about this many floats, so it stays in L2 while every
 * row block of the weights passes over it. */
#define PG_BLOCK_FLOATS 65536
/* Pointwise convolutions with few output channels (per group) read the input in
 * place: with few row blocks of weights, packing it costs more than the strided loads.
 * Measured on YOLOX-Nano and YOLOv8n: up to 32 channels always, up to 64 on planes of
 * 4096 positions or more. */
#define PG_DIRECT_MAX_ROWS 32
#define PG_DIRECT_WIDE_ROWS 64
#define PG_DIRECT_WIDE_PLANE 4096

struct conv_pg {
	float *a;                     /* packed weights, a_group floats per group */
	size_t a_group;
	int64_t g, cin, mg, kdim;
	int64_t nc;                   /* output columns per task, a multiple of PG_NR */
	int threads;                  /* workspace slots */
	int pointwise;
	int direct;                   /* pointwise, input read in place */
};

int conv_pg_new(const inf_node *n, const ops_window *w3, int pointwise, int threads, conv_pg **ret,
                size_t *ret_ws)
{
	const inf_tensor *wt = n->in[1];
	conv_pg *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->g = inf_attr_int(n, "group", 1);
	p->cin = n->in[0]->dims[1] / p->g;
	p->mg = wt->dims[0] / p->g;
	p->kdim = p->cin * w3->k_size;
	p->pointwise = pointwise;
	p->direct = pointwise && (p->mg <= PG_DIRECT_MAX_ROWS ||
	                          (p->mg <= PG_DIRECT_WIDE_ROWS && w3->out_size >= PG_DIRECT_WIDE_PLANE));
	p->threads = threads;
	p->a_group = pg_a_floats(p->mg, p->kdim);
	p->a = aligned_alloc(64, (p->a_group * (size_t)p->g * sizeof(float) + 63) / 64 * 64);
	if (!p->a) {
		free(p);
		return -ENOMEM;
	}
	for (int64_t gi = 0; gi < p->g; gi++)
		pg_pack_a((const float *)wt->data + gi * p->mg * p->kdim, p->kdim, p->mg, p->kdim,
		          p->a + (size_t)gi * p->a_group);
	p->nc = PG_BLOCK_FLOATS / p->kdim / PG_NR * PG_NR;
	if (p->nc < PG_NR)
		p->nc = PG_NR;
	if (p->nc > (w3->out_size + PG_NR - 1) / PG_NR * PG_NR)
		p->nc = (w3->out_size + PG_NR - 1) / PG_NR * PG_NR;
	*ret_ws = (size_t)threads * pg_b_floats(p->kdim, p->nc) * sizeof(float);
	*ret = p;
	return 0;
}

void conv_pg_free(conv_pg **pp)
{
	if (!*pp)
		return;
	free((*pp)->a);
	free(*pp);
	*pp = NULL;
}

/* d[ox - a] for output columns ox in [a, b) of one kernel tap: input row `row` read at
 * ox * s + x0, zero where that falls outside [lo, hi) (the padding). */
OPS_VECTOR static void fill_seg(const float *row, int64_t x0, int64_t s, int64_t lo, int64_t hi, int64_t a,
                                int64_t b, float *d)
{
	int64_t l = lo > a ? lo : a, h = hi < b ? hi : b;

	if (h <= l)
		l = h = b;
	for (int64_t ox = a; ox < l; ox++)
		d[ox - a] = 0.0f;
	if (s == 1) {
		memcpy(d + l - a, row + l + x0, sizeof(float) * (size_t)(h - l));
	} else if (s == 2) {
		const float *p = row + x0;
#pragma omp simd
		for (int64_t ox = l; ox < h; ox++)
			d[ox - a] = p[2 * ox];
	} else {
		for (int64_t ox = l; ox < h; ox++)
			d[ox - a] = row[ox * s + x0];
	}
	for (int64_t ox = h; ox < b; ox++)
		d[ox - a] = 0.0f;
}

/* A run of one panel's columns inside one output row. */
typedef struct seg {
	int64_t oz, oy, ox, len, off;
} seg;

/* Columns [n0, n0 + cnt) of one panel split at output row boundaries. */
static int panel_segs(const ops_window *w, int64_t n0, int64_t cnt, seg *sg)
{
	int ns = 0;

	for (int64_t off = 0; off < cnt; ns++) {
		int64_t n = n0 + off, r = n / w->out[2], ox = n % w->out[2];
		int64_t len = w->out[2] - ox < cnt - off ? w->out[2] - ox : cnt - off;

		sg[ns] = (seg){ r / w->out[1], r % w->out[1], ox, len, off };
		off += len;
	}
	return ns;
}

/* Columns [n0, n0 + ncols) of the im2col matrix of x (rows: channel, kernel tap)
 * written as PG_NR-column panels. */
static void pack_im2col(const float *x, int64_t channels, const ops_window *w, int64_t n0, int64_t ncols,
                        float *dst)
{
	int64_t k = channels * w->k_size;
	seg sg[PG_NR];

	for (int64_t j = 0; j < ncols; j += PG_NR, dst += PG_NR * k) {
		int64_t cnt = ncols - j < PG_NR ? ncols - j : PG_NR;
		int ns = panel_segs(w, n0 + j, cnt, sg);

		for (int64_t kk = 0; kk < w->k_size; kk++) {
			int64_t kx = kk % w->k[2], ky = (kk / w->k[2]) % w->k[1], kz = kk / (w->k[2] * w->k[1]);
			int64_t x0 = kx * w->d[2] - w->pb[2], s = w->s[2];
			/* output columns whose input column is inside the image */
			int64_t lo = x0 >= 0 ? 0 : (-x0 + s - 1) / s;
			int64_t hi = w->in[2] - x0 <= 0 ? 0 : (w->in[2] - x0 + s - 1) / s;

			for (int64_t c = 0; c < channels; c++) {
				const float *xc = x + c * w->in_size;
				float *d = dst + (c * w->k_size + kk) * PG_NR;

				for (int i = 0; i < ns; i++) {
					int64_t iz = sg[i].oz * w->s[0] - w->pb[0] + kz * w->d[0];
					int64_t iy = sg[i].oy * w->s[1] - w->pb[1] + ky * w->d[1];

					if (iz < 0 || iz >= w->in[0] || iy < 0 || iy >= w->in[1])
						memset(d + sg[i].off, 0, sizeof(float) * (size_t)sg[i].len);
					else
						fill_seg(xc + (iz * w->in[1] + iy) * w->in[2], x0, s, lo, hi, sg[i].ox,
						         sg[i].ox + sg[i].len, d + sg[i].off);
				}
				if (cnt < PG_NR)
					memset(d + cnt, 0, sizeof(float) * (size_t)(PG_NR - cnt));
			}
		}
	}
}

/* One run's geometry, shared by its tasks. */
typedef struct pg_job {
	const conv_pg *p;
	const inf_node *n;
	const ops_window *w3;
	float *ws;
	int64_t nc, blocks;
} pg_job;

static void pg_task(void *arg, int64_t t, int slot)
{
	const pg_job *j = arg;
	const conv_pg *p = j->p;
	const ops_window *w3 = j->w3;
	const inf_node *n = j->n;
	const inf_tensor *x = n->in[0], *b = ops_in(n, 2);
	float *bp = j->ws + (size_t)slot * pg_b_floats(p->kdim, p->nc);
	int64_t i = t / (p->g * j->blocks), gi = t / j->blocks % p->g, j0 = t % j->blocks * j->nc;
	int64_t cols = w3->out_size - j0 < j->nc ? w3->out_size - j0 : j->nc;
	const float *xg = (const float *)x->data + (i * x->dims[1] + gi * p->cin) * w3->in_size;
	float *y = (float *)n->out[0]->data + (i * p->g + gi) * p->mg * w3->out_size + j0;
	pg_epilogue e = { .bias = b ? (const float *)b->data + gi * p->mg : NULL, .act = n->act,
	                  .alpha = n->act_alpha, .beta = n->act_beta };

	if (p->direct) {
		pg_gemm_direct(p->a + (size_t)gi * p->a_group, p->mg, p->kdim, xg + j0, w3->in_size, cols, y,
		               w3->out_size, &e);
		return;
	}
	if (p->pointwise)
		pg_pack_b(xg + j0, w3->in_size, p->kdim, cols, bp);
	else
		pack_im2col(xg, p->cin, w3, j0, cols, bp);
	pg_gemm(p->a + (size_t)gi * p->a_group, p->mg, p->kdim, bp, cols, y, w3->out_size, &e);
}

void conv_pg_run(const conv_pg *p, inf_node *n, const ops_window *w3, float *ws, tp_pool *pool, int nth)
{
	const inf_tensor *x = n->in[0];
	pg_job j = { .p = p, .n = n, .w3 = w3, .ws = ws };

	if (nth > p->threads || tp_threads(pool) > p->threads)
		nth = 1;  /* the workspace holds p->threads slots */
	j.nc = pg_block_cols(p->nc, w3->out_size, x->dims[0] * p->g, nth);
	j.blocks = (w3->out_size + j.nc - 1) / j.nc;
	tp_run(pool, nth, x->dims[0] * p->g * j.blocks, pg_task, &j);
}
