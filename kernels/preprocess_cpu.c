/* Fast CPU preprocessing: the reference's arithmetic (preprocess_math.h) reorganised
 * around the separability of the bilinear resize. Column taps are computed once per
 * pass; each output row blends two horizontally blended source rows, and a source row's
 * horizontal blend is reused by the next output row when it needs the same row (upscale).
 * Gathers are plain scalar loops; colour conversion, blends and stores are contiguous
 * float loops the compiler vectorises. Every value goes through the same operations in
 * the same order as krn_preprocess_ref, so the output is identical to it bit for bit
 * (unless the compiler is allowed to contract a*b+c differently in the two files). */
#include <errno.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>

#include "../pipeline/vp_log.h"
#include "preprocess.h"
#include "preprocess_math.h"

/* Output columns per pass: bounds each thread's scratch (about 40 KiB of stack), so the
 * hot path never allocates; 416- and 640-wide models take one pass. */
#define CPU_TILE 640

/* Below this many output values per batch a team costs more than it saves. */
#define CPU_PAR_MIN 16384

/* The colour conversion is most of the arithmetic: an AVX2 copy (picked at load time)
 * runs it 8 floats wide, 1.4x faster overall on 1080p (bench_preprocess). AVX2 does not
 * imply FMA, so nothing is contracted and the output stays bit-identical. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CPU_CLONES
#endif

typedef struct cpu_item {
	krn_planes pl;
	krn_geom g;
	krn_csp_coef c;
	int item;
} cpu_item;

/* Bilinear taps of one pass's columns [x, x + n) of the resized picture: for the left
 * ([0]) and right ([1]) tap, the sample index of Y in its row and of U and V in theirs
 * (plane 1 for both when interleaved), and the right tap's weight. */
typedef struct cpu_taps {
	int x, n;
	int yo[2][CPU_TILE], uo[2][CPU_TILE], vo[2][CPU_TILE];
	float wx[CPU_TILE];
} cpu_taps;

/* Y, U, V samples of one source row at the left and right taps, as stored. */
typedef struct cpu_yuv {
	uint16_t y[2][CPU_TILE], u[2][CPU_TILE], v[2][CPU_TILE];
} cpu_yuv;

/* One source row converted to RGB and blended horizontally at the pass's taps. */
typedef struct cpu_hrow {
	int y;                      /* source row; -1: empty */
	float rgb[3][CPU_TILE];
} cpu_hrow;

typedef struct cpu_scratch {
	cpu_taps t;
	cpu_yuv s;
	cpu_hrow h[2];
} cpu_scratch;

static inline float lerp1(float a, float b, float w)
{
	return a + (b - a) * w;  /* krn_lerp2's step, same order */
}

static inline int is_16bit(int fmt)
{
	return fmt == VP_PIX_P016 || fmt == VP_PIX_YUV420P10;
}

/* What krn_fetch_yuv multiplies a stored sample by to get 8-bit units (x1 is exact). */
static inline float sample_unit(int fmt)
{
	return fmt == VP_PIX_P016 ? 1.0f / 256.0f : (fmt == VP_PIX_YUV420P10 ? 0.25f : 1.0f);
}

/* The scalar loads, kept apart from the arithmetic so that vectorises. */
static void gather(const krn_planes *p, int y, const cpu_taps *t, cpu_yuv *s)
{
	const uint8_t *ly = p->data[0] + (size_t)y * p->linesize[0];
	const uint8_t *c1 = p->data[1] + (size_t)(y >> 1) * p->linesize[1];
	const uint8_t *c2 = p->fmt == VP_PIX_NV12 || p->fmt == VP_PIX_P016
	                    ? c1 : p->data[2] + (size_t)(y >> 1) * p->linesize[2];
	for (int k = 0; k < 2; k++) {
		const int *yo = t->yo[k], *uo = t->uo[k], *vo = t->vo[k];
		uint16_t *sy = s->y[k], *su = s->u[k], *sv = s->v[k];
		if (is_16bit(p->fmt)) {
			const uint16_t *ly16 = (const uint16_t *)(const void *)ly;
			const uint16_t *c16 = (const uint16_t *)(const void *)c1;
			const uint16_t *d16 = (const uint16_t *)(const void *)c2;
			for (int i = 0; i < t->n; i++) {
				sy[i] = ly16[yo[i]];
				su[i] = c16[uo[i]];
				sv[i] = d16[vo[i]];
			}
		} else {
			for (int i = 0; i < t->n; i++) {
				sy[i] = ly[yo[i]];
				su[i] = c1[uo[i]];
				sv[i] = c2[vo[i]];
			}
		}
	}
}

/* krn_yuv_to_rgb's arithmetic on scalars: its rgb[3] would become a per-lane array
 * inside an omp simd loop and stop the vectoriser. The tests hold the two equal. */
static inline void yuv_rgb(const krn_csp_coef *c, float y, float u, float v, float *r,
                           float *g, float *b)
{
	float l = c->ys * (y - c->y0), cu = u - 128.0f, cv = v - 128.0f;
	*r = krn_clamp255(l + c->rv * cv);
	*g = krn_clamp255(l - c->gu * cu - c->gv * cv);
	*b = krn_clamp255(l + c->bu * cu);
}

/* Converts the gathered samples to RGB and blends left/right taps into h. */
CPU_CLONES
static void blend_row(const krn_csp_coef *c, float unit, const cpu_yuv *s, const cpu_taps *t,
                      cpu_hrow *h)
{
	float *r = h->rgb[0], *g = h->rgb[1], *b = h->rgb[2];
	const uint16_t *ya = s->y[0], *ua = s->u[0], *va = s->v[0];
	const uint16_t *yb = s->y[1], *ub = s->u[1], *vb = s->v[1];
	const float *wx = t->wx;
	const krn_csp_coef k = *c;
	int n = t->n;
	#pragma omp simd
	for (int i = 0; i < n; i++) {
		float ra, ga, ba, re, ge, be;
		yuv_rgb(&k, ya[i] * unit, ua[i] * unit, va[i] * unit, &ra, &ga, &ba);
		yuv_rgb(&k, yb[i] * unit, ub[i] * unit, vb[i] * unit, &re, &ge, &be);
		r[i] = lerp1(ra, re, wx[i]);
		g[i] = lerp1(ga, ge, wx[i]);
		b[i] = lerp1(ba, be, wx[i]);
	}
}

/* The horizontal blend of source row y, from the cache or computed into the slot that
 * does not hold `keep` (the other row the output row needs). */
static const cpu_hrow *hrow_get(const cpu_item *it, cpu_scratch *sc, int y, int keep)
{
	for (int k = 0; k < 2; k++)
		if (sc->h[k].y == y)
			return &sc->h[k];
	cpu_hrow *h = sc->h[0].y == keep ? &sc->h[1] : &sc->h[0];
	gather(&it->pl, y, &sc->t, &sc->s);
	blend_row(&it->c, sample_unit(it->pl.fmt), &sc->s, &sc->t, h);
	h->y = y;
	return h;
}

static void taps_init(const cpu_item *it, int x, int n, cpu_taps *t)
{
	int interleaved = it->pl.fmt == VP_PIX_NV12 || it->pl.fmt == VP_PIX_P016;
	t->x = x;
	t->n = n;
	for (int i = 0; i < n; i++) {
		int xs[2];
		krn_taps(x + i, it->g.inv_x, it->pl.w, &xs[0], &xs[1], &t->wx[i]);
		for (int k = 0; k < 2; k++) {
			int cx = xs[k] >> 1;
			t->yo[k][i] = xs[k];
			t->uo[k][i] = interleaved ? 2 * cx : cx;
			t->vo[k][i] = interleaved ? 2 * cx + 1 : cx;
		}
	}
}

/* Vertical blend of one pass of output row dy, then (v - mean) * scale into dst. */
static void store_row(const cpu_item *it, const krn_pre_params *p, void *dst, int dy,
                      const cpu_hrow *top, const cpu_hrow *bot, float wy, const cpu_taps *t)
{
	size_t plane = (size_t)p->dst_w * p->dst_h;
	int dx0 = it->g.left + t->x;
	if (!p->fp16 && !p->nhwc) {
		for (int c = 0; c < 3; c++) {
			const float *a = top->rgb[p->bgr ? 2 - c : c], *b = bot->rgb[p->bgr ? 2 - c : c];
			float m = p->mean[c], s = p->scale[c];
			float *o = (float *)dst + ((size_t)it->item * 3 + c) * plane +
			           (size_t)dy * p->dst_w + dx0;
			#pragma omp simd
			for (int i = 0; i < t->n; i++)
				o[i] = (lerp1(a[i], b[i], wy) - m) * s;
		}
		return;
	}
	/* FP16 or NHWC outputs take the shared per-pixel store (no hot path uses them). */
	for (int i = 0; i < t->n; i++) {
		float rgb[3];
		for (int k = 0; k < 3; k++)
			rgb[k] = lerp1(top->rgb[k][i], bot->rgb[k][i], wy);
		krn_store_pixel(dst, p, it->item, dx0 + i, dy, rgb, 0);
	}
}

/* Output columns [x, x + n) of row dy set to the pad value. */
static void pad_span(const cpu_item *it, const krn_pre_params *p, void *dst, int dy, int x, int n)
{
	size_t plane = (size_t)p->dst_w * p->dst_h;
	if (!p->fp16 && !p->nhwc) {
		for (int c = 0; c < 3; c++) {
			float v = (p->pad_value - p->mean[c]) * p->scale[c];
			float *o = (float *)dst + ((size_t)it->item * 3 + c) * plane +
			           (size_t)dy * p->dst_w + x;
			#pragma omp simd
			for (int i = 0; i < n; i++)
				o[i] = v;
		}
		return;
	}
	const float none[3] = { 0.0f, 0.0f, 0.0f };
	for (int i = 0; i < n; i++)
		krn_store_pixel(dst, p, it->item, x + i, dy, none, 1);
}

/* This thread's share [*r0, *r1) of n rows. */
static void share(int n, int t, int nt, int *r0, int *r1)
{
	*r0 = (int)((int64_t)n * t / nt);
	*r1 = (int)((int64_t)n * (t + 1) / nt);
}

/* Thread t of nt: its share of the picture rows and, separately, of the pad rows, so a
 * letterbox's empty band does not leave one thread with all the work. */
static void convert_share(const cpu_item *it, const krn_pre_params *p, void *dst, int t, int nt,
                          cpu_scratch *sc)
{
	const krn_geom *g = &it->g;
	int r0, r1, dy;
	share(p->dst_h - g->nh, t, nt, &r0, &r1);
	for (int i = r0; i < r1; i++)
		pad_span(it, p, dst, i < g->top ? i : i + g->nh, 0, p->dst_w);
	share(g->nh, t, nt, &r0, &r1);
	for (int x = 0; x < g->nw; x += CPU_TILE) {
		taps_init(it, x, g->nw - x < CPU_TILE ? g->nw - x : CPU_TILE, &sc->t);
		sc->h[0].y = sc->h[1].y = -1;
		for (int ry = r0; ry < r1; ry++) {
			int y0, y1;
			float wy;
			krn_taps(ry, g->inv_y, it->pl.h, &y0, &y1, &wy);
			const cpu_hrow *a = hrow_get(it, sc, y0, y1);
			const cpu_hrow *b = hrow_get(it, sc, y1, y0);
			store_row(it, p, dst, g->top + ry, a, b, wy, &sc->t);
		}
	}
	for (dy = g->top + r0; dy < g->top + r1; dy++) {
		pad_span(it, p, dst, dy, 0, g->left);
		pad_span(it, p, dst, dy, g->left + g->nw, p->dst_w - g->left - g->nw);
	}
}

static void item_init(const vp_frame *f, const krn_pre_params *p, int item, cpu_item *it)
{
	for (int i = 0; i < 3; i++) {
		it->pl.data[i] = f->data[i];
		it->pl.linesize[i] = f->linesize[i];
	}
	it->pl.w = f->width;
	it->pl.h = f->height;
	it->pl.fmt = f->fmt;
	krn_geom_compute(p->dst_w, p->dst_h, p->resize == KRN_LETTERBOX, p->placement == KRN_CENTER,
	                 f->width, f->height, &it->g);
	krn_csp_coef_init(f->csp == VP_CSP_BT709, f->full_range, &it->c);
	it->item = item;
}

int krn_preprocess_cpu(const vp_frame *const *frames, int n, const krn_pre_params *p,
                       void *dst, krn_xform *xf)
{
	int ret = krn_pre_check_batch(frames, n, 0, p, dst, VP_MEM_HOST);
	if (ret < 0)
		return ret;
	int64_t work = (int64_t)n * p->dst_w * p->dst_h;
	/* One team for the whole batch; each thread converts its share of every item. */
	#pragma omp parallel if (work >= CPU_PAR_MIN)
	{
		cpu_scratch sc;
		int t = omp_get_thread_num(), nt = omp_get_num_threads();
		for (int i = 0; i < n; i++) {
			cpu_item it;
			item_init(frames[i], p, i, &it);
			convert_share(&it, p, dst, t, nt, &sc);
		}
	}
	for (int i = 0; xf && i < n; i++)
		krn_pre_xform(p, frames[i]->width, frames[i]->height, &xf[i]);
	return 0;
}
