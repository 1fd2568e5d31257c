/* deep_sort's Kalman filter in the form ByteTrack runs it. The arithmetic follows the
 * numpy expressions term by term (the transition matrix has two non-zero terms per row,
 * so F P F^T sums in the same order numpy's products do) so that dt == 1 gives the
 * official numbers; the update solves with a Cholesky factor as scipy's cho_solve does. */
#include "kalman.h"

#include <math.h>
#include <string.h>

/* Motion and observation noise relative to the box height (kalman_filter.py). */
#define STD_POS (1. / 20)
#define STD_VEL (1. / 160)

void an_kf_initiate(const double z[4], double mean[8], double cov[64])
{
	const double h = z[3];
	const double std[8] = { 2 * STD_POS * h, 2 * STD_POS * h, 1e-2, 2 * STD_POS * h,
	                        10 * STD_VEL * h, 10 * STD_VEL * h, 1e-5, 10 * STD_VEL * h };
	memcpy(mean, z, 4 * sizeof(double));
	memset(mean + 4, 0, 4 * sizeof(double));
	memset(cov, 0, 64 * sizeof(double));
	for (int i = 0; i < 8; i++)
		cov[i * 8 + i] = std[i] * std[i];
}

void an_kf_predict(double mean[8], double cov[64], double dt)
{
	const double h = mean[3]; /* the noise uses the height before the step */
	const double std[8] = { STD_POS * h, STD_POS * h, 1e-2, STD_POS * h,
	                        STD_VEL * h, STD_VEL * h, 1e-5, STD_VEL * h };
	double fp[64];

	for (int i = 0; i < 4; i++)
		mean[i] = mean[i] + dt * mean[i + 4];
	/* F P: row i < 4 gains dt times row i + 4. */
	memcpy(fp, cov, sizeof(fp));
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			fp[i * 8 + j] = cov[i * 8 + j] + dt * cov[(i + 4) * 8 + j];
	/* (F P) F^T: column j < 4 gains dt times column j + 4. */
	for (int i = 0; i < 8; i++) {
		for (int j = 0; j < 4; j++)
			cov[i * 8 + j] = fp[i * 8 + j] + dt * fp[i * 8 + j + 4];
		for (int j = 4; j < 8; j++)
			cov[i * 8 + j] = fp[i * 8 + j];
	}
	for (int i = 0; i < 8; i++)
		cov[i * 8 + i] += dt * (std[i] * std[i]);
}

/* In-place lower Cholesky factor of the 4x4 s (LAPACK dpotrf's column order). */
static void cholesky4(double s[16])
{
	for (int j = 0; j < 4; j++) {
		double d = s[j * 4 + j];
		for (int k = 0; k < j; k++)
			d -= s[j * 4 + k] * s[j * 4 + k];
		d = sqrt(d);
		s[j * 4 + j] = d;
		for (int i = j + 1; i < 4; i++) {
			double v = s[i * 4 + j];
			for (int k = 0; k < j; k++)
				v -= s[i * 4 + k] * s[j * 4 + k];
			s[i * 4 + j] = v / d;
		}
	}
}

/* Solves L L^T x = b in place for one right-hand side. */
static void cho_solve4(const double l[16], double b[4])
{
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < i; k++)
			b[i] -= l[i * 4 + k] * b[k];
		b[i] /= l[i * 4 + i];
	}
	for (int i = 3; i >= 0; i--) {
		for (int k = i + 1; k < 4; k++)
			b[i] -= l[k * 4 + i] * b[k];
		b[i] /= l[i * 4 + i];
	}
}

void an_kf_update(double mean[8], double cov[64], const double z[4])
{
	const double h = mean[3];
	const double r[4] = { STD_POS * h, STD_POS * h, 1e-1, STD_POS * h };
	double s[16], l[16], kt[4][8], ks[8][4], innov[4];

	/* Projection: H selects the first four state components. */
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			s[i * 4 + j] = cov[i * 8 + j];
	for (int i = 0; i < 4; i++)
		s[i * 4 + i] += r[i] * r[i];
	memcpy(l, s, sizeof(l));
	cholesky4(l);
	/* K^T = S^-1 (P H^T)^T, one state column at a time. */
	for (int c = 0; c < 8; c++) {
		double b[4];
		for (int i = 0; i < 4; i++)
			b[i] = cov[c * 8 + i];
		cho_solve4(l, b);
		for (int i = 0; i < 4; i++)
			kt[i][c] = b[i];
	}
	for (int i = 0; i < 4; i++)
		innov[i] = z[i] - mean[i];
	for (int c = 0; c < 8; c++) {
		double d = 0;
		for (int i = 0; i < 4; i++)
			d += innov[i] * kt[i][c];
		mean[c] += d;
	}
	/* P -= (K S) K^T */
	for (int c = 0; c < 8; c++)
		for (int j = 0; j < 4; j++) {
			double v = 0;
			for (int i = 0; i < 4; i++)
				v += kt[i][c] * s[i * 4 + j];
			ks[c][j] = v;
		}
	for (int a = 0; a < 8; a++)
		for (int b = 0; b < 8; b++) {
			double v = 0;
			for (int j = 0; j < 4; j++)
				v += ks[a][j] * kt[j][b];
			cov[a * 8 + b] -= v;
		}
}
