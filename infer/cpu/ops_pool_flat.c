/* Stride-1 max pooling of a whole plane in flat vectorised passes. The plane is staged
 * with its padding as -inf, rows of wp = out + k - 1 columns back to back; then the
 * horizontal maxima are one flat loop per kernel column over all staged rows at once
 * (the last k - 1 columns of each row come out as junk and are never read), and the
 * vertical maxima one flat loop per kernel row. Rows narrower than a vector (13 columns
 * in SPP blocks) thus still fill the vectors. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_pool_flat.h"

/* The staged plane lives on the stack: planes above this take the general path. */
#define FLAT_MAX_FLOATS 8192

int pool_flat_usable(const ops_window *w3)
{
	int64_t wp = w3->out[2] + w3->k[2] - 1;

	return w3->k[0] == 1 && w3->in[0] == 1 && w3->s[1] == 1 && w3->s[2] == 1 && w3->d[1] == 1 &&
	       w3->d[2] == 1 && w3->pb[1] < w3->k[1] && w3->pb[2] < w3->k[2] && w3->in[1] * wp <= FLAT_MAX_FLOATS &&
	       w3->out[1] * wp <= FLAT_MAX_FLOATS;
}

/* y[i] = max(y[i], src[i]); the arrays never overlap */
OPS_VECTOR static void flat_max(const float *restrict src, int64_t cnt, float *restrict y)
{
#pragma omp simd
	for (int64_t i = 0; i < cnt; i++)
		y[i] = src[i] > y[i] ? src[i] : y[i];
}

void pool_flat_max(const float *x, const ops_window *w, float *y)
{
	float st[FLAT_MAX_FLOATS], hm[FLAT_MAX_FLOATS], vm[FLAT_MAX_FLOATS];
	int64_t ih = w->in[1], iw = w->in[2], oh = w->out[1], ow = w->out[2], pl = w->pb[2];
	int64_t wp = ow + w->k[2] - 1, cnt = ih * wp, copy = iw < wp - pl ? iw : wp - pl;

	for (int64_t iy = 0; iy < ih; iy++) {
		float *r = st + iy * wp;

		for (int64_t j = 0; j < pl; j++)
			r[j] = -INFINITY;
		memcpy(r + pl, x + iy * iw, sizeof(float) * (size_t)copy);
		for (int64_t j = pl + copy; j < wp; j++)
			r[j] = -INFINITY;
	}
	/* horizontal: staged columns x .. x + k - 1 of the same row for x < ow */
	memcpy(hm, st, sizeof(float) * (size_t)cnt);
	for (int64_t kx = 1; kx < w->k[2]; kx++)
		flat_max(st + kx, cnt - kx, hm);
	/* vertical: kernel row ky reads row oy + ky - pb where that row exists */
	for (int64_t i = 0; i < oh * wp; i++)
		vm[i] = -INFINITY;
	for (int64_t ky = 0; ky < w->k[1]; ky++) {
		int64_t d = ky - w->pb[1], lo = d < 0 ? -d : 0, hi = ih - d < oh ? ih - d : oh;

		if (hi > lo)
			flat_max(hm + (lo + d) * wp, (hi - lo) * wp, vm + lo * wp);
	}
	for (int64_t oy = 0; oy < oh; oy++)
		memcpy(y + oy * ow, vm + oy * wp, sizeof(float) * (size_t)ow);
}

int pool_s1_usable(const ops_window *w3)
{
	return w3->k[0] == 1 && w3->in[0] == 1 && w3->s[1] == 1 && w3->s[2] == 1 && w3->d[1] == 1 &&
	       w3->d[2] == 1 && !w3->pb[1] && !w3->pb[2] && w3->out[1] == w3->in[1] - w3->k[1] + 1 &&
	       w3->out[2] == w3->in[2] - w3->k[2] + 1 && w3->out[1] > 0 && w3->out[2] > 0;
}

/* Unpadded stride-1 windows (a Pad node before the pool did the padding): every
 * output row is the running maximum of k[1] * k[2] shifted input rows, one vectorised
 * loop per tap. */
void pool_s1_max(const float *x, const ops_window *w, float *y)
{
	int64_t iw = w->in[2], ow = w->out[2];

	for (int64_t oy = 0; oy < w->out[1]; oy++) {
		float *yr = y + oy * ow;

		/* from -inf like pool_plane, so a NaN input is skipped the same way */
		for (int64_t ox = 0; ox < ow; ox++)
			yr[ox] = -INFINITY;
		for (int64_t ky = 0; ky < w->k[1]; ky++)
			for (int64_t kx = 0; kx < w->k[2]; kx++)
				flat_max(x + (oy + ky) * iw + kx, ow, yr);
	}
}
