/* Linear assignment with a cost limit, the problem lap.lapjv(cost, extend_cost=True,
 * cost_limit=limit) solves for ByteTrack: an n x m cost matrix is extended to a square
 * (n+m) x (n+m) one, real rows may go to a dummy column and real columns to a dummy row at
 * limit/2 each, dummy to dummy costs 0. An optimal assignment of that matrix minimises the
 * sum of (cost - limit) over the real pairs it keeps, so a pair costing more than limit is
 * never kept. Solved exactly by Jonker-Volgenant as lap runs it (O((n+m)^3)). Internal to
 * analytics/. */
#ifndef AN_LAP_H
#define AN_LAP_H

typedef struct an_lap an_lap;

int an_lap_new(an_lap **ret);
void an_lap_free(an_lap **l);

/* Sizes the scratch for problems up to n x m so that solving them allocates nothing.
 * Returns 0 or -ENOMEM (the solver keeps its former scratch). */
int an_lap_reserve(an_lap *l, int n, int m);

/* cost: n x m, row-major; entries above limit (infinities, NaN) are never matched.
 * |limit| < 500000 (lap's working range; ByteTrack's limits are at most 1). row_col[i]:
 * the column row i took or -1; col_row[j]: the row column j took or -1 (either may be
 * NULL). Returns the number of matched pairs, -EINVAL or
 * -ENOMEM (when the problem is larger than reserved and growing failed). */
int an_lap_solve(an_lap *l, const double *cost, int n, int m, double limit, int *row_col,
                 int *col_row);

#endif
