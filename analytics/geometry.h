/* Exact plane geometry for zones and lines, in double precision. */
#ifndef AN_GEOMETRY_H
#define AN_GEOMETRY_H

#include <stdbool.h>

#include "../pipeline/config.h"

/* Which side of the line P1->P2 point a lies on: (x2-x1)(ay-y1) - (y2-y1)(ax-x1);
 * 0 on the line (extended). */
double an_line_side(const pipe_point *p1, const pipe_point *p2, const pipe_point *a);

/* Whether the segment a-b meets the segment p1-p2 (end points included). */
bool an_segments_meet(const pipe_point *a, const pipe_point *b, const pipe_point *p1,
                      const pipe_point *p2);

/* Even-odd rule; points on the boundary count as inside. */
bool an_point_in_polygon(const pipe_point *poly, int n, const pipe_point *a);

/* The most points an_polygon_self_intersects() checks (its test is quadratic; meant for
 * configuration time). */
#define AN_POLYGON_MAX_POINTS 1024

/* Whether any two non-adjacent edges of the closed polygon meet (touching included), or
 * two adjacent ones overlap (a repeated vertex, or an edge turning back along the other).
 * Edge k runs from poly[k] to poly[(k + 1) % n]. *i < *j (may be NULL) get the first such
 * pair of edge indices; n < 3 or n > AN_POLYGON_MAX_POINTS also answers true, with -1, -1. */
bool an_polygon_self_intersects(const pipe_point *poly, int n, int *i, int *j);

#endif
