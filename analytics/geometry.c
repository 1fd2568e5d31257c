/* Plane geometry for zones and lines. Every predicate below reduces to the one side
 * test an_line_side(), with no epsilon: a decision made by one predicate (this anchor is
 * on the line, that segment meets it) never contradicts another made on the same points.
 * For coordinates that are integers (or halves, as bottom-centres of integer boxes) below
 * 2^25 in magnitude the products are exact, so the sign is the true one; elsewhere it is
 * the sign of the double result, still the same for every caller. */
#include "geometry.h"

#include <stddef.h>

double an_line_side(const pipe_point *p1, const pipe_point *p2, const pipe_point *a)
{
	return (p2->x - p1->x) * (a->y - p1->y) - (p2->y - p1->y) * (a->x - p1->x);
}

static int sign_of(double v) { return (v > 0) - (v < 0); }

/* q is already known to be on the line through a and b: is it between them? A bounding
 * box test is exact, and also right for a degenerate segment (a == b). */
static bool within_box(const pipe_point *a, const pipe_point *b, const pipe_point *q)
{
	double lo_x = a->x < b->x ? a->x : b->x, hi_x = a->x < b->x ? b->x : a->x;
	double lo_y = a->y < b->y ? a->y : b->y, hi_y = a->y < b->y ? b->y : a->y;
	return q->x >= lo_x && q->x <= hi_x && q->y >= lo_y && q->y <= hi_y;
}

bool an_segments_meet(const pipe_point *a, const pipe_point *b, const pipe_point *p1,
                      const pipe_point *p2)
{
	int d1 = sign_of(an_line_side(p1, p2, a)), d2 = sign_of(an_line_side(p1, p2, b));
	int d3 = sign_of(an_line_side(a, b, p1)), d4 = sign_of(an_line_side(a, b, p2));
	if (d1 * d2 < 0 && d3 * d4 < 0)
		return true;
	/* An end point on the other segment's line: touching counts when it lies between
	 * that segment's ends. */
	return (d1 == 0 && within_box(p1, p2, a)) || (d2 == 0 && within_box(p1, p2, b)) ||
	       (d3 == 0 && within_box(a, b, p1)) || (d4 == 0 && within_box(a, b, p2));
}

/* Boundary first, so points on an edge or a vertex are inside whatever the crossing count
 * says. For axis-parallel edges the side test is a single exact product, so "on a
 * horizontal or vertical edge" is decided without rounding, and a vertex gives 0 exactly. */
bool an_point_in_polygon(const pipe_point *poly, int n, const pipe_point *a)
{
	bool in = false;
	for (int i = 0, j = n - 1; i < n; j = i++) {
		const pipe_point *u = &poly[j], *v = &poly[i];
		double s = an_line_side(u, v, a);
		if (s == 0 && within_box(u, v, a))
			return true;
		/* Half-open in y (one end above the horizontal through a, the other not), so a
		 * ray through a vertex is counted once. The crossing lies right of a exactly when
		 * the side test has the sign of the edge's y direction: this is the usual
		 * x-intersection comparison without the division. */
		if ((u->y > a->y) != (v->y > a->y) && (s > 0) == (v->y > u->y))
			in = !in;
	}
	return in;
}

static bool same_point(const pipe_point *a, const pipe_point *b)
{
	return a->x == b->x && a->y == b->y;
}

/* Edges k and k+1 share v: they overlap when either has zero length (a repeated vertex)
 * or the path turns back on itself along the same line. Going straight on is fine. */
static bool adjacent_overlap(const pipe_point *u, const pipe_point *v, const pipe_point *w)
{
	if (same_point(u, v) || same_point(v, w))
		return true;
	if (an_line_side(u, v, w) != 0)
		return false;
	return (u->x - v->x) * (w->x - v->x) + (u->y - v->y) * (w->y - v->y) > 0;
}

static bool report(int *i, int *j, int a, int b)
{
	if (i)
		*i = a;
	if (j)
		*j = b;
	return true;
}

bool an_polygon_self_intersects(const pipe_point *poly, int n, int *i, int *j)
{
	/* Not a polygon, or too big for the quadratic test: refused as a whole (-1, -1). */
	if (n < 3 || n > AN_POLYGON_MAX_POINTS)
		return report(i, j, -1, -1);
	/* Edge k runs from poly[k] to poly[(k + 1) % n]. A repeated vertex shows up either as
	 * a zero-length edge (neighbours) or as two non-adjacent edges sharing a point. */
	for (int a = 0; a < n; a++) {
		const pipe_point *a0 = &poly[a], *a1 = &poly[(a + 1) % n];
		for (int b = a + 1; b < n; b++) {
			const pipe_point *b0 = &poly[b], *b1 = &poly[(b + 1) % n];
			bool meet;
			if (b == a + 1)
				meet = adjacent_overlap(a0, a1, b1);
			else if (a == 0 && b == n - 1)
				meet = adjacent_overlap(b0, b1, a1);
			else
				meet = an_segments_meet(a0, a1, b0, b1);
			if (meet)
				return report(i, j, a, b);
		}
	}
	return false;
}
