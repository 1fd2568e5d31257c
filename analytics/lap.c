/* Jonker-Volgenant on lap's extended matrix, in the variant lap.lapjv runs (gatagat/lap,
 * lapjv.cpp): column reduction with reduction transfer, two passes of augmenting row
 * reduction, then shortest augmenting paths (Dijkstra over columns). Any exact solver
 * finds an assignment of optimal total cost; following lap's steps and comparisons also
 * makes it pick the same one where several tie (e.g. identical boxes from an NMS-free
 * detector), which is what the official tracker then does. */
#include "lap.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* lap's LARGE: the start of every minimum search. Costs are capped to it so that
 * infinities and NaN stay comparable; a limit below it keeps them unmatched. */
#define LAP_LARGE 1000000.0

struct an_lap {
	/* the problem split into independent parts (see an_lap_solve) */
	int part_cap;         /* rows + columns the arrays below hold */
	int *uf;              /* union-find over rows (0..n-1) and columns (n..n+m-1) */
	int *rows, *cols_of;  /* one part's rows and columns, in their original order */
	int *sub_x;           /* one part's row -> column */
	double *sub;          /* one part's costs */
	size_t sub_cap;
	int cap;      /* largest square size the scratch holds */
	double *a;    /* cap x cap extended costs, row-major with stride s */
	double *v, *d;
	int *x, *y;   /* row -> column, column -> row */
	int *free_rows, *cols, *pred;
	bool *unique;
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
	free(l->v);
	free(l->d);
	free(l->x);
	free(l->y);
	free(l->free_rows);
	free(l->cols);
	free(l->pred);
	free(l->unique);
}

static void parts_free(an_lap *l)
{
	free(l->uf);
	free(l->rows);
	free(l->cols_of);
	free(l->sub_x);
	free(l->sub);
}

void an_lap_free(an_lap **l)
{
	if (!l || !*l)
		return;
	scratch_free(*l);
	parts_free(*l);
	free(*l);
	*l = NULL;
}

/* The dense square for a part of s rows + columns. */
static int reserve_square(an_lap *l, int s)
{
	size_t need = (size_t)s;
	if (need <= (size_t)l->cap)
		return 0;
	size_t cap = l->cap ? (size_t)l->cap : 16;
	while (cap < need)
		cap *= 2;
	an_lap t = { .cap = (int)cap };
	t.a = malloc(cap * cap * sizeof(double));
	t.v = malloc(cap * sizeof(double));
	t.d = malloc(cap * sizeof(double));
	t.x = malloc(cap * sizeof(int));
	t.y = malloc(cap * sizeof(int));
	t.free_rows = malloc(cap * sizeof(int));
	t.cols = malloc(cap * sizeof(int));
	t.pred = malloc(cap * sizeof(int));
	t.unique = malloc(cap * sizeof(bool));
	if (!t.a || !t.v || !t.d || !t.x || !t.y || !t.free_rows || !t.cols || !t.pred || !t.unique) {
		scratch_free(&t);
		return -ENOMEM;
	}
	scratch_free(l);
	t.part_cap = l->part_cap;
	t.uf = l->uf, t.rows = l->rows, t.cols_of = l->cols_of, t.sub_x = l->sub_x;
	t.sub = l->sub, t.sub_cap = l->sub_cap;
	*l = t;
	return 0;
}

static int grow(void **p, size_t n, size_t size)
{
	void *q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	return 0;
}

/* The square grows with the largest part seen (parts are small in real scenes); the rest
 * is sized for the whole problem. */
int an_lap_reserve(an_lap *l, int n, int m)
{
	int s = n + m;
	if (s > l->part_cap) {
		int cap = l->part_cap ? l->part_cap : 64;
		while (cap < s)
			cap *= 2;
		if (grow((void **)&l->uf, (size_t)cap, sizeof(int)) ||
		    grow((void **)&l->rows, (size_t)cap, sizeof(int)) ||
		    grow((void **)&l->cols_of, (size_t)cap, sizeof(int)) ||
		    grow((void **)&l->sub_x, (size_t)cap, sizeof(int)))
			return -ENOMEM;
		l->part_cap = cap;
	}
	size_t nm = (size_t)n * (size_t)m;
	if (nm > l->sub_cap) {
		if (grow((void **)&l->sub, nm, sizeof(double)))
			return -ENOMEM;
		l->sub_cap = nm;
	}
	return 0;
}

/* lap's extension: real rows to dummy columns and dummy rows to real columns at limit/2,
 * dummy to dummy 0. */
static void extend(an_lap *l, const double *cost, int n, int m, double limit)
{
	const int s = n + m;
	for (int i = 0; i < s; i++)
		for (int j = 0; j < s; j++) {
			double c;
			if (i < n && j < m) {
				c = cost[(size_t)i * m + j];
				if (!(c <= LAP_LARGE))
					c = LAP_LARGE;
			} else if (i >= n && j >= m) {
				c = 0;
			} else {
				c = limit / 2.;
			}
			l->a[(size_t)i * s + j] = c;
		}
}

#define A(i, j) (l->a[(size_t)(i) * s + (j)])

/* Each column to its cheapest row (the last such column wins a row taken twice), then the
 * reduction transfer for rows that got exactly one column. Returns the free rows' count. */
static int column_reduction(an_lap *l, int s)
{
	int *x = l->x, *y = l->y;
	double *v = l->v;
	for (int k = 0; k < s; k++) {
		x[k] = -1;
		v[k] = LAP_LARGE;
		y[k] = 0;
		l->unique[k] = true;
	}
	for (int i = 0; i < s; i++)
		for (int j = 0; j < s; j++)
			if (A(i, j) < v[j]) {
				v[j] = A(i, j);
				y[j] = i;
			}
	for (int j = s - 1; j >= 0; j--) {
		int i = y[j];
		if (x[i] < 0) {
			x[i] = j;
		} else {
			l->unique[i] = false;
			y[j] = -1;
		}
	}
	int n_free = 0;
	for (int i = 0; i < s; i++) {
		if (x[i] < 0) {
			l->free_rows[n_free++] = i;
		} else if (l->unique[i]) {
			double min = LAP_LARGE;
			for (int j = 0; j < s; j++)
				if (j != x[i] && A(i, j) - v[j] < min)
					min = A(i, j) - v[j];
			v[x[i]] -= min;
		}
	}
	return n_free;
}

/* One pass of augmenting row reduction over the free rows; returns those still free. */
static int row_reduction(an_lap *l, int s, int n_free)
{
	int *x = l->x, *y = l->y, *fr = l->free_rows;
	double *v = l->v;
	unsigned current = 0, rounds = 0;
	int n_new = 0;
	while (current < (unsigned)n_free) {
		rounds++;
		const int fi = fr[current++];
		int j1 = 0, j2 = -1;
		double u1 = A(fi, 0) - v[0], u2 = LAP_LARGE;
		for (int j = 1; j < s; j++) {
			double c = A(fi, j) - v[j];
			if (c < u2) {
				if (c >= u1) {
					u2 = c;
					j2 = j;
				} else {
					u2 = u1;
					u1 = c;
					j2 = j1;
					j1 = j;
				}
			}
		}
		int i0 = y[j1];
		const double v1_new = v[j1] - (u2 - u1);
		const bool lowers = v1_new < v[j1];
		if (rounds < current * (unsigned)s) {
			if (lowers) {
				v[j1] = v1_new;
			} else if (i0 >= 0 && j2 >= 0) {
				j1 = j2;
				i0 = y[j2];
			}
			if (i0 >= 0) {
				if (lowers)
					fr[--current] = i0;
				else
					fr[n_new++] = i0;
			}
		} else if (i0 >= 0) {
			fr[n_new++] = i0;
		}
		x[fi] = j1;
		y[j1] = fi;
	}
	return n_new;
}

/* Moves the columns of minimum d from cols[lo..] to the front of the todo part; returns
 * the end of that group. */
static int find_min(an_lap *l, int s, int lo)
{
	int *cols = l->cols, hi = lo + 1;
	double mind = l->d[cols[lo]];
	for (int k = hi; k < s; k++) {
		int j = cols[k];
		if (l->d[j] <= mind) {
			if (l->d[j] < mind) {
				hi = lo;
				mind = l->d[j];
			}
			cols[k] = cols[hi];
			cols[hi++] = j;
		}
	}
	return hi;
}

/* Relaxes the todo columns through the rows of the scan columns cols[*lo..*hi). Returns a
 * free column reached at the minimum distance, or -1 (then *lo, *hi advance). */
static int scan(an_lap *l, int s, int *plo, int *phi)
{
	int *cols = l->cols, lo = *plo, hi = *phi;
	double *d = l->d, *v = l->v;
	while (lo != hi) {
		int j = cols[lo++];
		const int i = l->y[j];
		const double mind = d[j];
		const double h = A(i, j) - v[j] - mind;
		for (int k = hi; k < s; k++) {
			j = cols[k];
			const double red = A(i, j) - v[j] - h;
			if (red < d[j]) {
				d[j] = red;
				l->pred[j] = i;
				if (red == mind) {
					if (l->y[j] < 0)
						return j;
					cols[k] = cols[hi];
					cols[hi++] = j;
				}
			}
		}
	}
	*plo = lo;
	*phi = hi;
	return -1;
}

/* Shortest alternating path from free row start to a free column; updates the column
 * potentials of the columns settled before the last group. */
static int find_path(an_lap *l, int s, int start)
{
	int lo = 0, hi = 0, ready = 0, end = -1;
	for (int j = 0; j < s; j++) {
		l->cols[j] = j;
		l->pred[j] = start;
		l->d[j] = A(start, j) - l->v[j];
	}
	while (end < 0) {
		if (lo == hi) {
			ready = lo;
			hi = find_min(l, s, lo);
			for (int k = lo; k < hi; k++)
				if (l->y[l->cols[k]] < 0)
					end = l->cols[k];
		}
		if (end < 0)
			end = scan(l, s, &lo, &hi);
	}
	const double mind = l->d[l->cols[lo]];
	for (int k = 0; k < ready; k++) {
		int j = l->cols[k];
		l->v[j] += l->d[j] - mind;
	}
	return end;
}

static void augment(an_lap *l, int s, int n_free)
{
	for (int f = 0; f < n_free; f++) {
		const int fi = l->free_rows[f];
		int j = find_path(l, s, fi), i = -1;
		while (i != fi) {
			i = l->pred[j];
			l->y[j] = i;
			int t = l->x[i];
			l->x[i] = j;
			j = t;
		}
	}
}

/* One dense problem (a part): x[i] gets row i's column, or -1. */
static int solve_dense(an_lap *l, const double *cost, int n, int m, double limit, int *x)
{
	int err = reserve_square(l, n + m);
	if (err)
		return err;
	const int s = n + m;
	extend(l, cost, n, m, limit);
	int n_free = column_reduction(l, s);
	for (int pass = 0; pass < 2 && n_free > 0; pass++)
		n_free = row_reduction(l, s, n_free);
	if (n_free > 0)
		augment(l, s, n_free);
	for (int i = 0; i < n; i++)
		x[i] = l->x[i] < m ? l->x[i] : -1;
	return 0;
}

static int uf_find(int *uf, int a)
{
	while (uf[a] != a)
		a = uf[a] = uf[uf[a]];
	return a;
}

/* Rows and columns joined by a pair that may be kept (cost <= limit) form a part; no pair
 * is kept across parts, so the optimum is the union of each part's own optimum. Real
 * scenes split into many tiny parts, where the whole extended matrix costs O((n+m)^3)
 * (8 ms a frame at 100 objects, seconds at 1,000). */
static void find_parts(an_lap *l, const double *cost, int n, int m, double limit)
{
	for (int a = 0; a < n + m; a++)
		l->uf[a] = a;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < m; j++)
			if (cost[(size_t)i * m + j] <= limit) {
				int a = uf_find(l->uf, i), b = uf_find(l->uf, n + j);
				if (a != b)
					l->uf[a > b ? a : b] = a < b ? a : b;
			}
	for (int a = 0; a < n + m; a++)
		l->uf[a] = uf_find(l->uf, a);
}

/* Solves the part whose root is root: its rows and columns in their original order. */
static int solve_part(an_lap *l, const double *cost, int n, int m, double limit, int root,
                      int *row_col, int *col_row)
{
	int pn = 0, pm = 0;
	for (int i = root; i < n; i++)
		if (l->uf[i] == root)
			l->rows[pn++] = i;
	for (int j = 0; j < m; j++)
		if (l->uf[n + j] == root)
			l->cols_of[pm++] = j;
	if (pm == 0)
		return 0;
	for (int a = 0; a < pn; a++)
		for (int b = 0; b < pm; b++)
			l->sub[(size_t)a * pm + b] = cost[(size_t)l->rows[a] * m + l->cols_of[b]];
	int err = solve_dense(l, l->sub, pn, pm, limit, l->sub_x);
	if (err)
		return err;
	int matched = 0;
	for (int a = 0; a < pn; a++) {
		if (l->sub_x[a] < 0)
			continue;
		int i = l->rows[a], j = l->cols_of[l->sub_x[a]];
		matched++;
		if (row_col)
			row_col[i] = j;
		if (col_row)
			col_row[j] = i;
	}
	return matched;
}

int an_lap_solve(an_lap *l, const double *cost, int n, int m, double limit, int *row_col,
                 int *col_row)
{
	if (n < 0 || m < 0 || (n && m && !cost) || !(fabs(limit) < LAP_LARGE / 2))
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
	find_parts(l, cost, n, m, limit);
	int matched = 0;
	/* A part's root is its smallest member: a row for every part that has one. */
	for (int i = 0; i < n; i++) {
		if (l->uf[i] != i)
			continue;
		int k = solve_part(l, cost, n, m, limit, i, row_col, col_row);
		if (k < 0)
			return k;
		matched += k;
	}
	return matched;
}
