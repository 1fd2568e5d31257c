/* ByteTrack as ifzhang/ByteTrack's BYTETracker.update() runs it (yolox/tracker/
 * byte_tracker.py, matching.py), step for step and list for list: the order of the track
 * lists decides the order of the assignment rows, of new keys and of the output, so the
 * lists are kept exactly as the official joint_stracks/sub_stracks leave them. Tracks live
 * in a slot array; the lists hold slot indices. All memory is sized at the top of an
 * update from (tracks held + detections) and reused, so a steady stream allocates nothing. */
#include "bytetrack.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kalman.h"
#include "lap.h"

/* The official constants that are not parameters. */
#define SECOND_MATCH_THRESH 0.5       /* low-score association, plain 1 - IoU */
#define UNCONFIRMED_MATCH_THRESH 0.7  /* unconfirmed tracks, fused cost */
#define DUPLICATE_IOU_DIST 0.15       /* remove_duplicate_stracks */

enum { ST_TRACKED = 1, ST_LOST = 2, ST_REMOVED = 3 }; /* basetrack.TrackState */

typedef struct bt_track {
	double mean[8], cov[64];
	uint64_t key;
	int64_t frame_id, start_frame; /* last update, activation */
	float score;
	int state;
	int det;          /* detection taken in this update */
	bool activated;   /* is_activated: confirmed */
	bool in_removed;  /* has entered the official removed_stracks list (see step 5) */
	bool mark;        /* scratch: member of the list being built */
} bt_track;

/* Lists of slot indices, all with capacity cap. */
enum { L_TRACKED, L_LOST, L_POOL, L_UNCONF, L_RTRACKED, L_ACTIVATED, L_REFIND, L_NEWLOST,
       L_REMOVED, L_CREATED, L_NT, L_NL, L_FREE, L_HIGH, L_LOW, L_REM, L_ROWCOL, L_COLROW,
       L_COUNT };

struct an_bytetrack {
	an_bt_params p;
	bool started;
	uint64_t last_key;
	bt_track *tr;
	int n_slots;       /* slots ever used; free ones are on L_FREE */
	int cap;           /* capacity of tr and of every list */
	int *l[L_COUNT];
	int n[L_COUNT];
	double *cost;
	size_t cost_cap;
	an_lap *lap;
	an_bt_track *out;
	uint64_t *ended, *keys;
};

int an_bt_new(const an_bt_params *p, an_bytetrack **ret)
{
	if (!p || !ret || !isfinite(p->high_threshold) || !isfinite(p->low_threshold) ||
	    !isfinite(p->new_track_threshold) || !isfinite(p->match_threshold) || p->max_lost < 0)
		return -EINVAL;
	an_bytetrack *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->p = *p;
	if (an_lap_new(&t->lap)) {
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

void an_bt_free(an_bytetrack **t)
{
	if (!t || !*t)
		return;
	for (int i = 0; i < L_COUNT; i++)
		free((*t)->l[i]);
	free((*t)->tr);
	free((*t)->cost);
	free((*t)->out);
	free((*t)->ended);
	free((*t)->keys);
	an_lap_free(&(*t)->lap);
	free(*t);
	*t = NULL;
}

static int grow(void *pp, size_t n, size_t size)
{
	void **p = pp;
	void *q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	return 0;
}

/* Everything an update with n detections can need: at most (tracks held + n) tracks live
 * in it, and each association is at most (tracks held) x n. realloc keeps contents, so a
 * failure part way leaves the tracker as it was, only with some larger buffers. */
static int reserve(an_bytetrack *t, int n)
{
	const int held = t->n[L_TRACKED] + t->n[L_LOST];
	const size_t need = (size_t)held + (size_t)n;
	if (need > (size_t)t->cap || !t->cap) { /* never NULL lists, even for empty updates */
		size_t cap = t->cap ? (size_t)t->cap : 16;
		while (cap < need)
			cap *= 2;
		if (cap > INT32_MAX / 2)
			return -ENOMEM;
		for (int i = 0; i < L_COUNT; i++)
			if (grow(&t->l[i], cap, sizeof(int)))
				return -ENOMEM;
		if (grow(&t->tr, cap, sizeof(bt_track)) || grow(&t->out, cap, sizeof(an_bt_track)) ||
		    grow(&t->ended, cap, sizeof(uint64_t)) || grow(&t->keys, cap, sizeof(uint64_t)))
			return -ENOMEM;
		t->cap = (int)cap;
	}
	size_t cells = (size_t)held * (size_t)n;
	if (cells > t->cost_cap) {
		if (grow(&t->cost, cells, sizeof(double)))
			return -ENOMEM;
		t->cost_cap = cells;
	}
	return an_lap_reserve(t->lap, held, n);
}

static void push(an_bytetrack *t, int list, int v)
{
	t->l[list][t->n[list]++] = v;
}

/* STrack.tlbr from the mean: w = a * h, with the official operation order. */
static void track_tlbr(const bt_track *k, double b[4])
{
	double w = k->mean[2] * k->mean[3], h = k->mean[3];
	b[0] = k->mean[0] - w / 2;
	b[1] = k->mean[1] - h / 2;
	b[2] = w + b[0];
	b[3] = h + b[1];
}

/* A detection's tlbr as the official gets it back from its tlwh (x1 + (x2 - x1) need not
 * be x2 exactly). */
static void det_tlbr(const vp_det *d, double b[4])
{
	double x1 = d->bbox[0], y1 = d->bbox[1];
	double w = (double)d->bbox[2] - x1, h = (double)d->bbox[3] - y1;
	b[0] = x1;
	b[1] = y1;
	b[2] = w + x1;
	b[3] = h + y1;
}

static void det_xyah(const vp_det *d, double z[4])
{
	double x1 = d->bbox[0], y1 = d->bbox[1];
	double w = (double)d->bbox[2] - x1, h = (double)d->bbox[3] - y1;
	z[0] = x1 + w / 2;
	z[1] = y1 + h / 2;
	z[2] = w / h;
	z[3] = h;
}

/* cython_bbox.bbox_overlaps, which the official iou_distance calls: it counts pixels
 * inclusively (+1 on every width and height), so boxes less than a pixel apart overlap. */
/* Boxes are finite (the heads drop others): plain comparisons, which the compiler inlines
 * where fmin/fmax stay calls for NaN's sake (a third of the time at 1,000 objects). */
static inline double dmin(double a, double b) { return a < b ? a : b; }
static inline double dmax(double a, double b) { return a > b ? a : b; }

static double iou_px1(const double a[4], const double b[4])
{
	double iw = dmin(a[2], b[2]) - dmax(a[0], b[0]) + 1;
	if (!(iw > 0))
		return 0;
	double ih = dmin(a[3], b[3]) - dmax(a[1], b[1]) + 1;
	if (!(ih > 0))
		return 0;
	double area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1);
	double ua = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + area_b - iw * ih;
	return iw * ih / ua;
}

/* iou_distance, then fuse_score when fuse: 1 - (1 - d) * score, as the official computes
 * it from the distance (not from the IoU). rows: a track list; cols: detection indices. */
static void costs(an_bytetrack *t, const vp_det *dets, int rows, int cols, bool fuse)
{
	const int nr = t->n[rows], nc = t->n[cols];
	for (int i = 0; i < nr; i++) {
		double tb[4];
		track_tlbr(&t->tr[t->l[rows][i]], tb);
		for (int j = 0; j < nc; j++) {
			const vp_det *d = &dets[t->l[cols][j]];
			double db[4];
			det_tlbr(d, db);
			double c = 1 - iou_px1(tb, db);
			if (fuse)
				c = 1 - (1 - c) * (double)d->score;
			t->cost[(size_t)i * nc + j] = c;
		}
	}
}

/* matching.linear_assignment: fills L_ROWCOL / L_COLROW (-1 = unmatched). Cannot fail:
 * reserve() sized the solver for the largest association of this update. */
static void assign(an_bytetrack *t, int rows, int cols, double thresh)
{
	an_lap_solve(t->lap, t->cost, t->n[rows], t->n[cols], thresh, t->l[L_ROWCOL],
	             t->l[L_COLROW]);
}

static void track_update(an_bytetrack *t, int k, const vp_det *dets, int d, int64_t frame)
{
	bt_track *tr = &t->tr[k];
	double z[4];
	det_xyah(&dets[d], z);
	an_kf_update(tr->mean, tr->cov, z);
	tr->frame_id = frame;
	tr->state = ST_TRACKED;
	tr->activated = true;
	tr->score = dets[d].score;
	tr->det = d;
}

static int new_slot(an_bytetrack *t)
{
	if (t->n[L_FREE])
		return t->l[L_FREE][--t->n[L_FREE]];
	return t->n_slots++;
}

/* STrack.activate: confirmed at once only on the tracker's first update. */
static void track_start(an_bytetrack *t, const vp_det *dets, int d, int64_t frame, bool first)
{
	int k = new_slot(t);
	bt_track *tr = &t->tr[k];
	double z[4];
	det_xyah(&dets[d], z);
	an_kf_initiate(z, tr->mean, tr->cov);
	tr->key = ++t->last_key;
	tr->frame_id = tr->start_frame = frame;
	tr->score = dets[d].score;
	tr->state = ST_TRACKED;
	tr->det = d;
	tr->activated = first;
	tr->in_removed = false;
	tr->mark = false;
	push(t, L_ACTIVATED, k);
	push(t, L_CREATED, k);
}

/* Step 1: the detection split (strict comparisons, as the official's masks), the
 * unconfirmed / confirmed split of the tracked list and the prediction of the pool. */
static void prepare(an_bytetrack *t, const vp_det *dets, int n, double dt)
{
	const float hi = t->p.high_threshold, lo = t->p.low_threshold;
	for (int i = L_POOL; i <= L_COLROW; i++)
		if (i != L_FREE)
			t->n[i] = 0;
	for (int i = 0; i < n; i++) {
		if (dets[i].score > hi)
			push(t, L_HIGH, i);
		else if (dets[i].score > lo && dets[i].score < hi)
			push(t, L_LOW, i);
	}
	for (int i = 0; i < t->n[L_TRACKED]; i++) {
		int k = t->l[L_TRACKED][i];
		push(t, t->tr[k].activated ? L_POOL : L_UNCONF, k);
	}
	for (int i = 0; i < t->n[L_LOST]; i++)
		push(t, L_POOL, t->l[L_LOST][i]);
	/* multi_predict: only the pool; a track that is not Tracked stops growing. */
	for (int i = 0; i < t->n[L_POOL]; i++) {
		bt_track *tr = &t->tr[t->l[L_POOL][i]];
		tr->det = -1;
		if (tr->state != ST_TRACKED)
			tr->mean[7] = 0;
		an_kf_predict(tr->mean, tr->cov, dt);
	}
	for (int i = 0; i < t->n[L_UNCONF]; i++)
		t->tr[t->l[L_UNCONF][i]].det = -1;
}

/* Step 2: the pool against the high detections; Lost (and not yet dropped Removed) tracks
 * that match are re-activated with their key. Leaves the unmatched high detections in
 * L_REM and the unmatched pool tracks that are Tracked in L_RTRACKED. */
static void first_association(an_bytetrack *t, const vp_det *dets, int64_t frame)
{
	costs(t, dets, L_POOL, L_HIGH, true);
	assign(t, L_POOL, L_HIGH, t->p.match_threshold);
	for (int i = 0; i < t->n[L_POOL]; i++) {
		int k = t->l[L_POOL][i], j = t->l[L_ROWCOL][i];
		if (j < 0) {
			if (t->tr[k].state == ST_TRACKED)
				push(t, L_RTRACKED, k);
			continue;
		}
		bool was_tracked = t->tr[k].state == ST_TRACKED;
		track_update(t, k, dets, t->l[L_HIGH][j], frame);
		push(t, was_tracked ? L_ACTIVATED : L_REFIND, k);
	}
	for (int j = 0; j < t->n[L_HIGH]; j++)
		if (t->l[L_COLROW][j] < 0)
			push(t, L_REM, t->l[L_HIGH][j]);
}

/* Step 3: the remaining Tracked tracks against the low detections (plain 1 - IoU); those
 * still unmatched become Lost. */
static void second_association(an_bytetrack *t, const vp_det *dets, int64_t frame)
{
	costs(t, dets, L_RTRACKED, L_LOW, false);
	assign(t, L_RTRACKED, L_LOW, SECOND_MATCH_THRESH);
	for (int i = 0; i < t->n[L_RTRACKED]; i++) {
		int k = t->l[L_RTRACKED][i], j = t->l[L_ROWCOL][i];
		if (j >= 0) {
			track_update(t, k, dets, t->l[L_LOW][j], frame);
			push(t, L_ACTIVATED, k);
		} else if (t->tr[k].state != ST_LOST) {
			t->tr[k].state = ST_LOST;
			push(t, L_NEWLOST, k);
		}
	}
}

/* Unconfirmed tracks (not predicted, as in the official) against the remaining high
 * detections: a match confirms, no match removes. Then step 4: new tracks from what is
 * left, in detection order. */
static void unconfirmed_and_new(an_bytetrack *t, const vp_det *dets, int64_t frame)
{
	costs(t, dets, L_UNCONF, L_REM, true);
	assign(t, L_UNCONF, L_REM, UNCONFIRMED_MATCH_THRESH);
	for (int i = 0; i < t->n[L_UNCONF]; i++) {
		int k = t->l[L_UNCONF][i], j = t->l[L_ROWCOL][i];
		if (j >= 0) {
			track_update(t, k, dets, t->l[L_REM][j], frame);
			push(t, L_ACTIVATED, k);
		} else {
			t->tr[k].state = ST_REMOVED;
			push(t, L_REMOVED, k);
		}
	}
	for (int j = 0; j < t->n[L_REM]; j++) {
		int d = t->l[L_REM][j];
		if (t->l[L_COLROW][j] >= 0 || dets[d].score < t->p.new_track_threshold)
			continue;
		track_start(t, dets, d, frame, !t->started);
	}
}

/* Step 5, as the official's list arithmetic. Lost tracks past max_lost are marked Removed
 * here, but the official subtracts removed_stracks from the lost list *before* adding this
 * update's removals to it, so such a track stays in the lost list for one more update
 * (where the first association can still re-activate it) and a track once in
 * removed_stracks that is lost again leaves the lost list at once. in_removed carries
 * that membership. */
static void step5(an_bytetrack *t, int64_t frame)
{
	for (int i = 0; i < t->n[L_LOST]; i++) {
		int k = t->l[L_LOST][i];
		if (frame - t->tr[k].frame_id > t->p.max_lost) {
			t->tr[k].state = ST_REMOVED;
			push(t, L_REMOVED, k);
		}
	}
	/* tracked = joint(joint([Tracked ones of tracked], activated), refind) */
	t->n[L_NT] = 0;
	for (int i = 0; i < t->n[L_TRACKED]; i++) {
		int k = t->l[L_TRACKED][i];
		if (t->tr[k].state == ST_TRACKED) {
			t->tr[k].mark = true;
			push(t, L_NT, k);
		}
	}
	for (int list = L_ACTIVATED; list <= L_REFIND; list++)
		for (int i = 0; i < t->n[list]; i++) {
			int k = t->l[list][i];
			if (!t->tr[k].mark) {
				t->tr[k].mark = true;
				push(t, L_NT, k);
			}
		}
	/* lost = sub(sub(lost, tracked) + newly lost, removed_stracks) */
	t->n[L_NL] = 0;
	for (int i = 0; i < t->n[L_LOST]; i++) {
		int k = t->l[L_LOST][i];
		if (!t->tr[k].mark && !t->tr[k].in_removed)
			push(t, L_NL, k);
	}
	for (int i = 0; i < t->n[L_NEWLOST]; i++) {
		int k = t->l[L_NEWLOST][i];
		if (!t->tr[k].in_removed)
			push(t, L_NL, k);
	}
	for (int i = 0; i < t->n[L_NT]; i++)
		t->tr[t->l[L_NT][i]].mark = false;
	for (int i = 0; i < t->n[L_REMOVED]; i++)
		t->tr[t->l[L_REMOVED][i]].in_removed = true;
}

/* remove_duplicate_stracks: every tracked/lost pair closer than 0.15 in IoU distance loses
 * its shorter-lived member (the tracked one on a tie); pairs are judged independently. */
static void remove_duplicates(an_bytetrack *t)
{
	for (int p = 0; p < t->n[L_NT]; p++) {
		bt_track *a = &t->tr[t->l[L_NT][p]];
		double ab[4];
		track_tlbr(a, ab);
		for (int q = 0; q < t->n[L_NL]; q++) {
			bt_track *b = &t->tr[t->l[L_NL][q]];
			double bb[4];
			track_tlbr(b, bb);
			if (!(1 - iou_px1(ab, bb) < DUPLICATE_IOU_DIST))
				continue;
			if (a->frame_id - a->start_frame > b->frame_id - b->start_frame)
				b->mark = true;
			else
				a->mark = true;
		}
	}
	for (int list = L_NT; list <= L_NL; list++) {
		int m = 0;
		for (int i = 0; i < t->n[list]; i++) {
			int k = t->l[list][i];
			if (t->tr[k].mark)
				t->tr[k].mark = false;
			else
				t->l[list][m++] = k;
		}
		t->n[list] = m;
	}
}

/* Installs the new lists, frees the slots of tracks that left both and reports the
 * confirmed ones among them, then builds the output. */
static void finish(an_bytetrack *t, an_bt_result *ret)
{
	int n_ended = 0;
	for (int list = L_NT; list <= L_NL; list++)
		for (int i = 0; i < t->n[list]; i++)
			t->tr[t->l[list][i]].mark = true;
	/* The lists before this update and the tracks it created are disjoint. */
	const int before[3] = { L_TRACKED, L_LOST, L_CREATED };
	for (int b = 0; b < 3; b++)
		for (int i = 0; i < t->n[before[b]]; i++) {
			int k = t->l[before[b]][i];
			if (t->tr[k].mark)
				continue;
			if (t->tr[k].activated)
				t->ended[n_ended++] = t->tr[k].key;
			push(t, L_FREE, k);
		}
	for (int list = L_NT; list <= L_NL; list++)
		for (int i = 0; i < t->n[list]; i++)
			t->tr[t->l[list][i]].mark = false;
	memcpy(t->l[L_TRACKED], t->l[L_NT], (size_t)t->n[L_NT] * sizeof(int));
	t->n[L_TRACKED] = t->n[L_NT];
	memcpy(t->l[L_LOST], t->l[L_NL], (size_t)t->n[L_NL] * sizeof(int));
	t->n[L_LOST] = t->n[L_NL];

	int n_out = 0;
	for (int i = 0; i < t->n[L_TRACKED]; i++) {
		const bt_track *k = &t->tr[t->l[L_TRACKED][i]];
		if (!k->activated)
			continue;
		an_bt_track *o = &t->out[n_out++];
		double b[4];
		track_tlbr(k, b);
		o->key = k->key;
		o->det = k->det;
		o->score = k->score;
		for (int c = 0; c < 4; c++)
			o->box[c] = (float)b[c];
	}
	*ret = (an_bt_result){ .tracks = t->out, .n_tracks = n_out, .ended = t->ended,
	                       .n_ended = n_ended };
}

int an_bt_update(an_bytetrack *t, const vp_det *dets, int n, int64_t frame, double dt,
                 an_bt_result *ret)
{
	if (!t || !ret || n < 0 || (n && !dets) || (t->started && !(dt > 0 && isfinite(dt))))
		return -EINVAL;
	int err = reserve(t, n);
	if (err)
		return err;
	prepare(t, dets, n, dt);
	first_association(t, dets, frame);
	second_association(t, dets, frame);
	unconfirmed_and_new(t, dets, frame);
	step5(t, frame);
	remove_duplicates(t);
	finish(t, ret);
	t->started = true;
	return 0;
}

int an_bt_confirmed(an_bytetrack *t, const uint64_t **keys)
{
	int m = 0;
	for (int list = L_TRACKED; list <= L_LOST; list++)
		for (int i = 0; i < t->n[list]; i++) {
			const bt_track *k = &t->tr[t->l[list][i]];
			if (k->activated)
				t->keys[m++] = k->key;
		}
	*keys = t->keys;
	return m;
}
