/* Shortest-augmenting-path assignment (Hungarian method with potentials, as Jonker and
 * Volgenant's augmentation phase) on lap's extended matrix. Any optimal solver gives one
 * of the optimal assignments lapjv could give; they differ only between assignments of
 * exactly equal total cost. */
#include "lap.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

struct an_lap {
	int cap;        /* largest square size the scratch holds */
	double *a;      /* cap x cap extended costs */
	double *u, *v;  /* row and column potentials, 1-based (index 0 is the virtual column) */
	double *minv;
	int *p, *way;   /* p[j]: row of column j (1-based, 0 = free) */
	bool *used;
};

int an_lap_new(an_lap **ret)
{
	an_lap *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*ret = l;
	return 0;
}

static void scratch_free(an_lap *l)
{
	free(l->a);
	free(l->u);
	free(l->v);
	free(l->minv);
	free(l->p);
	free(l->way);
	free(l->used);
}

void an_lap_free(an_lap **l)
{
	if (!l || !*l)
		return;
	scratch_free(*l);
	free(*l);
	*l = NULL;
}

int an_lap_reserve(an_lap *l, int n, int m)
{
	size_t need = (size_t)n + (size_t)m;
	if (need <= (size_t)l->cap)
		return 0;
	size_t cap = l->cap ? (size_t)l->cap : 16;
	while (cap < need)
		cap *= 2;
	an_lap t = { .cap = (int)cap };
	t.a = malloc(cap * cap * sizeof(double));
	t.u = malloc((cap + 1) * sizeof(double));
	t.v = malloc((cap + 1) * sizeof(double));
	t.minv = malloc((cap + 1) * sizeof(double));
	t.p = malloc((cap + 1) * sizeof(int));
	t.way = malloc((cap + 1) * sizeof(int));
	t.used = malloc((cap + 1) * sizeof(bool));
	if (!t.a || !t.u || !t.v || !t.minv || !t.p || !t.way || !t.used) {
		scratch_free(&t);
		return -ENOMEM;
	}
	scratch_free(l);
	*l = t;
	return 0;
}

/* lap's extension. Costs above the limit become one finite value above it: they are never
 * part of an optimal assignment either way, and finite values keep the potentials finite. */
static void extend(an_lap *l, const double *cost, int n, int m, double limit)
{
	const int s = n + m;
	const double over = limit + 1 + fabs(limit);
	for (int i = 0; i < s; i++)
		for (int j = 0; j < s; j++) {
			double c;
			if (i < n && j < m) {
				c = cost[(size_t)i * m + j];
				if (!(c <= limit))
					c = over;
			} else if (i >= n && j >= m) {
				c = 0;
			} else {
				c = limit / 2;
			}
			l->a[(size_t)i * s + j] = c;
		}
}

/* Adds row i (1-based) to the assignment along a shortest augmenting path. */
static void augment(an_lap *l, int s, int i)
{
	double *a = l->a, *u = l->u, *v = l->v, *minv = l->minv;
	int *p = l->p, *way = l->way;
	int j0 = 0;
	p[0] = i;
	for (int j = 0; j <= s; j++) {
		minv[j] = INFINITY;
		l->used[j] = false;
	}
	do {
		l->used[j0] = true;
		int i0 = p[j0], j1 = 0;
		double delta = INFINITY;
		for (int j = 1; j <= s; j++) {
			if (l->used[j])
				continue;
			double cur = a[(size_t)(i0 - 1) * s + (j - 1)] - u[i0] - v[j];
			if (cur < minv[j]) {
				minv[j] = cur;
				way[j] = j0;
			}
			if (minv[j] < delta) {
				delta = minv[j];
				j1 = j;
			}
		}
		for (int j = 0; j <= s; j++) {
			if (l->used[j]) {
				u[p[j]] += delta;
				v[j] -= delta;
			} else {
				minv[j] -= delta;
			}
		}
		j0 = j1;
	} while (p[j0] != 0);
	do {
		int j1 = way[j0];
		p[j0] = p[j1];
		j0 = j1;
	} while (j0);
}

int an_lap_solve(an_lap *l, const double *cost, int n, int m, double limit, int *row_col,
                 int *col_row)
{
	if (n < 0 || m < 0 || (n && m && !cost) || !isfinite(limit))
		return -EINVAL;
	for (int i = 0; i < n && row_col; i++)
		row_col[i] = -1;
	for (int j = 0; j < m && col_row; j++)
		col_row[j] = -1;
	if (n == 0 || m == 0)
		return 0;
	int err = an_lap_reserve(l, n, m);
	if (err)
		return err;

	const int s = n + m;
	extend(l, cost, n, m, limit);
	for (int j = 0; j <= s; j++) {
		l->u[j] = l->v[j] = 0;
		l->p[j] = 0;
	}
	for (int i = 1; i <= s; i++)
		augment(l, s, i);

	int matched = 0;
	for (int j = 1; j <= m; j++) {
		int i = l->p[j] - 1;
		if (i >= n)
			continue;
		matched++;
		if (row_col)
			row_col[i] = j - 1;
		if (col_row)
			col_row[j - 1] = i;
	}
	return matched;
}
