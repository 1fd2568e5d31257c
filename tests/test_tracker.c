/* ByteTrack (analytics/bytetrack.c) and its parts: the Kalman filter (analytics/kalman.c)
 * against numbers from the official numpy/scipy code, the assignment solver
 * (analytics/lap.c) against brute force, and the tracker on synthetic scenes whose
 * identities are known. Fidelity to the official tracker on real detections is
 * tests/t_tracker_fidelity.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/bytetrack.h"
#include "analytics/kalman.h"
#include "analytics/lap.h"

static void assert_close(double got, double want, double rel)
{
	double tol = rel * fmax(1.0, fabs(want));
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.17g, want %.17g (tolerance %.3g)", got, want, tol);
}

/* ---- Kalman filter ---- */

/* Expected values: the official kalman_filter.py formulas run with numpy 1.24 / scipy
 * (cho_factor + cho_solve) in a throwaway script, printed with %.17g: initiate
 * (100, 50, 0.5, 80); predict; update (103, 52, 0.52, 82); predict; update
 * (107, 53.5, 0.51, 83). */
static const double want_upd1_mean[8] = {
	102.60330578512396, 51.735537190082646, 0.50039215705497886, 81.735537190082638,
	0.61983471074380181, 0.41322314049586784, 1.9607842945021163e-10, 0.41322314049586784 };
static const double want_upd1_diag[8] = {
	13.884297520661164, 13.884297520661164, 0.00019607852748942622, 13.884297520661164,
	20.084710743801651, 20.084710743801651, 1.9999999901960789e-10, 20.084710743801651 };
static const double want_pred2_diag[8] = {
	57.282323611775148, 57.282323611775148, 0.0002960789235678547, 57.282323611775148,
	20.34567551097944, 20.34567551097944, 2.9999999901960791e-10, 20.34567551097944 };
static const double want_upd2_mean[8] = {
	106.14070562329287, 53.192571924307188, 0.50066844492911733, 82.80632971378374,
	1.8111846901806432, 0.8394501025044534, 4.7419536308434814e-10, 0.68173309209760691 };
static const double want_upd2_diag[8] = {
	13.032621020311218, 13.032621020311218, 0.00028756473776645814, 13.032621020311218,
	12.967517350583121, 12.967517350583121, 2.999999903923068e-10, 12.967517350583121 };

static void test_kalman_initiate_and_predict_are_the_official_numbers(void **state)
{
	(void)state;
	double mean[8], cov[64];
	const double z[4] = { 100, 50, 0.5, 80 };
	an_kf_initiate(z, mean, cov);
	const double diag0[8] = { 64, 64, 0.0001, 64, 25, 25, 1.0000000000000002e-10, 25 };
	for (int i = 0; i < 8; i++) {
		assert_true(mean[i] == (i < 4 ? z[i] : 0));
		assert_true(cov[i * 8 + i] == diag0[i]);
	}
	an_kf_predict(mean, cov, 1);
	/* Exact: the same operations as numpy's in the same order. */
	const double diag1[8] = { 105, 105, 0.00020000010000000002, 105, 25.25, 25.25,
	                          2.0000000000000003e-10, 25.25 };
	for (int i = 0; i < 8; i++)
		assert_true(cov[i * 8 + i] == diag1[i]);
	assert_true(cov[0 * 8 + 4] == 25 && cov[3 * 8 + 7] == 25 && cov[4 * 8 + 0] == 25);
	assert_true(cov[0 * 8 + 1] == 0);
}

static void test_kalman_update_matches_the_official_cholesky_solve(void **state)
{
	(void)state;
	double mean[8], cov[64];
	an_kf_initiate((const double[4]){ 100, 50, 0.5, 80 }, mean, cov);
	an_kf_predict(mean, cov, 1);
	an_kf_update(mean, cov, (const double[4]){ 103, 52, 0.52, 82 });
	for (int i = 0; i < 8; i++) {
		assert_close(mean[i], want_upd1_mean[i], 1e-12);
		assert_close(cov[i * 8 + i], want_upd1_diag[i], 1e-12);
	}
	assert_close(cov[0 * 8 + 4], 3.3057851239669382, 1e-12);
	an_kf_predict(mean, cov, 1);
	for (int i = 0; i < 8; i++)
		assert_close(cov[i * 8 + i], want_pred2_diag[i], 1e-12);
	assert_close(cov[3 * 8 + 7], 23.390495867768589, 1e-12);
	an_kf_update(mean, cov, (const double[4]){ 107, 53.5, 0.51, 83 });
	for (int i = 0; i < 8; i++) {
		assert_close(mean[i], want_upd2_mean[i], 1e-12);
		assert_close(cov[i * 8 + i], want_upd2_diag[i], 1e-12);
	}
	assert_close(cov[1 * 8 + 5], 5.3217022093552053, 1e-12);
	/* The covariance stays symmetric. */
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			assert_close(cov[i * 8 + j], cov[j * 8 + i], 1e-12);
}

static void test_kalman_predict_by_two_periods_moves_the_mean_as_two_steps(void **state)
{
	(void)state;
	double m1[8], c1[64], m2[8], c2[64];
	an_kf_initiate((const double[4]){ 300, 200, 0.4, 120 }, m1, c1);
	an_kf_predict(m1, c1, 1);
	an_kf_update(m1, c1, (const double[4]){ 306, 197, 0.41, 121 }); /* some velocity */
	memcpy(m2, m1, sizeof(m1));
	memcpy(c2, c1, sizeof(c1));
	assert_true(m1[4] != 0 && m1[5] != 0 && m1[7] != 0);
	an_kf_predict(m1, c1, 1);
	an_kf_predict(m1, c1, 1);
	an_kf_predict(m2, c2, 2);
	for (int i = 0; i < 8; i++)
		assert_close(m2[i], m1[i], 1e-12);
	/* Uncertainty grows with the gap, by no more than two steps' worth. */
	double mo[8], co[64];
	an_kf_initiate((const double[4]){ 300, 200, 0.4, 120 }, mo, co);
	an_kf_predict(mo, co, 1);
	an_kf_update(mo, co, (const double[4]){ 306, 197, 0.41, 121 });
	an_kf_predict(mo, co, 1);
	for (int i = 0; i < 8; i++) {
		assert_true(c2[i * 8 + i] > co[i * 8 + i]);
		assert_true(c2[i * 8 + i] <= c1[i * 8 + i] * (1 + 1e-12));
	}
}

/* ---- Assignment ---- */

/* The least sum of (cost - limit) over any partial matching of pairs costing at most
 * limit: what lap's extension makes the optimum (lap.h). */
static double brute(const double *c, int n, int m, double limit, int row, unsigned used)
{
	if (row == n)
		return 0;
	double best = brute(c, n, m, limit, row + 1, used);
	for (int j = 0; j < m; j++) {
		double v = c[row * m + j];
		if ((used >> j & 1) || !(v <= limit))
			continue;
		double s = v - limit + brute(c, n, m, limit, row + 1, used | 1u << j);
		if (s < best)
			best = s;
	}
	return best;
}

static double random_cost(unsigned *seed, int kind)
{
	int r = rand_r(seed);
	switch (kind) {
	case 0: return (double)r / RAND_MAX;                 /* continuous */
	case 1: return (r % 5) / 4.0;                        /* many exact ties */
	default:                                             /* some infinite or huge */
		if (r % 7 == 0)
			return INFINITY;
		if (r % 7 == 1)
			return 1e12;
		if (r % 7 == 2)
			return NAN;
		return (double)(r % 1000) / 1000;
	}
}

static void test_lap_is_optimal_against_brute_force(void **state)
{
	(void)state;
	an_lap *l;
	assert_int_equal(an_lap_new(&l), 0);
	unsigned seed = 12345;
	const double limits[] = { 0.2, 0.5, 0.7, 0.8, 1.0, 3.0 };
	double c[64];
	int rc[8], cr[8];
	for (int it = 0; it < 4000; it++) {
		int n = rand_r(&seed) % 7, m = rand_r(&seed) % 7, kind = it % 3;
		double limit = limits[it % 6];
		for (int k = 0; k < n * m; k++)
			c[k] = random_cost(&seed, kind);
		int got = an_lap_solve(l, c, n, m, limit, rc, cr);
		assert_true(got >= 0);
		double sum = 0;
		int pairs = 0;
		for (int i = 0; i < n; i++) {
			if (rc[i] < 0)
				continue;
			assert_true(rc[i] < m);
			assert_int_equal(cr[rc[i]], i);
			assert_true(c[i * m + rc[i]] <= limit);
			sum += c[i * m + rc[i]] - limit;
			pairs++;
		}
		for (int j = 0; j < m; j++)
			assert_true(cr[j] < 0 || rc[cr[j]] == j);
		assert_int_equal(got, pairs);
		double want = brute(c, n, m, limit, 0, 0);
		if (fabs(sum - want) > 1e-9)
			fail_msg("iteration %d (%dx%d, limit %g): cost %.12g, optimum %.12g", it, n, m,
			         limit, sum, want);
	}
	an_lap_free(&l);
}

static void test_lap_prefers_the_global_optimum_to_greedy(void **state)
{
	(void)state;
	an_lap *l;
	assert_int_equal(an_lap_new(&l), 0);
	/* Greedy takes (0,0) = 0.1 and leaves row 1 with 0.75; the optimum is 0.2 + 0.3. */
	const double c[4] = { 0.1, 0.2, 0.3, 0.75 };
	int rc[2], cr[2];
	assert_int_equal(an_lap_solve(l, c, 2, 2, 0.8, rc, cr), 2);
	assert_int_equal(rc[0], 1);
	assert_int_equal(rc[1], 0);
	/* With a lower limit, 0.75 is out and one pair is better than two. */
	assert_int_equal(an_lap_solve(l, c, 2, 2, 0.5, rc, cr), 2);
	assert_int_equal(an_lap_solve(l, c, 2, 2, 0.25, rc, cr), 1);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], -1);
	assert_int_equal(an_lap_solve(l, c, 2, 2, INFINITY, rc, cr), -EINVAL);
	int cr5[5] = { 7, 7, 7, 7, 7 };
	assert_int_equal(an_lap_solve(l, NULL, 0, 5, 0.5, NULL, cr5), 0);
	assert_int_equal(cr5[0], -1);
	assert_int_equal(cr5[4], -1);
	an_lap_free(&l);
}

/* ---- Tracker ---- */

static vp_det box(double cx, double cy, double w, double h, float score)
{
	return (vp_det){ .class_id = 0, .score = score,
	                 .bbox = { (float)(cx - w / 2), (float)(cy - h / 2), (float)(cx + w / 2),
	                           (float)(cy + h / 2) } };
}

static an_bytetrack *tracker(int max_lost)
{
	an_bt_params p = { .high_threshold = 0.5f, .low_threshold = 0.1f,
	                   .new_track_threshold = 0.6f, .match_threshold = 0.8f,
	                   .max_lost = max_lost };
	an_bytetrack *t;
	assert_int_equal(an_bt_new(&p, &t), 0);
	return t;
}

/* The key of the output track that took detection det, 0 when none did (keys start at 1). */
static uint64_t key_of(const an_bt_result *r, int det)
{
	for (int i = 0; i < r->n_tracks; i++)
		if (r->tracks[i].det == det)
			return r->tracks[i].key;
	return 0;
}

static bool ended(const an_bt_result *r, uint64_t key)
{
	for (int i = 0; i < r->n_ended; i++)
		if (r->ended[i] == key)
			return true;
	return false;
}

static bool held(an_bytetrack *t, uint64_t key)
{
	const uint64_t *keys;
	int n = an_bt_confirmed(t, &keys);
	for (int i = 0; i < n; i++)
		if (keys[i] == key)
			return true;
	return false;
}

static an_bt_result step(an_bytetrack *t, const vp_det *d, int n, int64_t frame)
{
	an_bt_result r;
	assert_int_equal(an_bt_update(t, d, n, frame, 1, &r), 0);
	return r;
}

static void test_no_detections_give_no_output(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	for (int f = 0; f < 5; f++) {
		an_bt_result r = step(t, NULL, 0, f);
		assert_int_equal(r.n_tracks, 0);
		assert_int_equal(r.n_ended, 0);
	}
	const uint64_t *keys;
	assert_int_equal(an_bt_confirmed(t, &keys), 0);
	an_bt_free(&t);
	assert_null(t);
}

static void test_first_update_confirms_its_tracks_at_once(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	vp_det d[3] = { box(100, 100, 40, 80, 0.9f), box(300, 100, 40, 80, 0.7f),
	                box(500, 100, 40, 80, 0.55f) /* high, but below new_track_threshold */ };
	an_bt_result r = step(t, d, 3, 0);
	assert_int_equal(r.n_tracks, 2);
	assert_int_equal(r.tracks[0].det, 0);
	assert_int_equal(r.tracks[1].det, 1);
	assert_true(r.tracks[0].key != r.tracks[1].key);
	for (int c = 0; c < 4; c++)
		assert_true(fabsf(r.tracks[0].box[c] - d[0].bbox[c]) < 1e-3f);
	assert_true(r.tracks[1].score == 0.7f);
	an_bt_free(&t);
}

static void test_later_tracks_need_a_second_match_and_die_unreported(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	vp_det a = box(100, 100, 40, 80, 0.9f);
	step(t, NULL, 0, 0); /* the first update had nothing */
	an_bt_result r = step(t, &a, 1, 1);
	assert_int_equal(r.n_tracks, 0); /* unconfirmed */
	r = step(t, &a, 1, 2);
	assert_int_equal(r.n_tracks, 1);
	uint64_t k = r.tracks[0].key;
	/* A new one that misses its second frame is removed without an ended key. */
	vp_det b = box(400, 100, 40, 80, 0.9f);
	vp_det ab[2] = { a, b };
	r = step(t, ab, 2, 3);
	assert_int_equal(r.n_tracks, 1);
	r = step(t, &a, 1, 4);
	assert_int_equal(r.n_tracks, 1);
	assert_int_equal(r.n_ended, 0);
	r = step(t, ab, 2, 5); /* b again: a new key, unconfirmed */
	assert_int_equal(r.n_tracks, 1);
	assert_true(key_of(&r, 0) == k);
	r = step(t, ab, 2, 6);
	assert_int_equal(r.n_tracks, 2);
	assert_true(key_of(&r, 1) > k + 1); /* keys count the unconfirmed track that died */
	an_bt_free(&t);
}

static void test_low_score_detections_keep_a_track_alive(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	vp_det d = box(100, 100, 40, 80, 0.9f);
	an_bt_result r = step(t, &d, 1, 0);
	uint64_t k = r.tracks[0].key;
	for (int f = 1; f <= 5; f++) {
		d = box(100 + 2 * f, 100, 40, 80, 0.3f); /* low: second association only */
		r = step(t, &d, 1, f);
		assert_int_equal(r.n_tracks, 1);
		assert_true(r.tracks[0].key == k);
		assert_true(r.tracks[0].score == 0.3f);
	}
	/* Below the low threshold a detection is ignored: the track is lost. */
	d = box(112, 100, 40, 80, 0.05f);
	r = step(t, &d, 1, 6);
	assert_int_equal(r.n_tracks, 0);
	assert_true(held(t, k));
	/* A low detection does not re-find a lost track (second association is Tracked only),
	 * and cannot start one. */
	d = box(114, 100, 40, 80, 0.3f);
	r = step(t, &d, 1, 7);
	assert_int_equal(r.n_tracks, 0);
	/* A high one does, with the same key. */
	d = box(116, 100, 40, 80, 0.8f);
	r = step(t, &d, 1, 8);
	assert_int_equal(r.n_tracks, 1);
	assert_true(r.tracks[0].key == k);
	an_bt_free(&t);
}

/* The second association takes a low detection only at IoU > 0.5 with the track (cost
 * 1 - IoU below 0.5), and only a score strictly above low_threshold is low. */
static void test_low_detections_need_half_overlap_and_a_score_above_low(void **state)
{
	(void)state;
	/* Same size, 17 px to the right: IoU 23 / 57 = 0.40. */
	an_bytetrack *t = tracker(30);
	vp_det d = box(100, 100, 40, 80, 0.9f);
	uint64_t k = step(t, &d, 1, 0).tracks[0].key;
	d = box(117, 100, 40, 80, 0.3f);
	an_bt_result r = step(t, &d, 1, 1);
	assert_int_equal(r.n_tracks, 0);
	assert_true(held(t, k)); /* lost, not matched */
	an_bt_free(&t);
	/* 6 px to the right: IoU 34 / 46 = 0.74, taken. */
	t = tracker(30);
	d = box(100, 100, 40, 80, 0.9f);
	k = step(t, &d, 1, 0).tracks[0].key;
	d = box(106, 100, 40, 80, 0.3f);
	r = step(t, &d, 1, 1);
	assert_int_equal(r.n_tracks, 1);
	assert_true(r.tracks[0].key == k);
	an_bt_free(&t);
	/* In place, but the score is exactly low_threshold: ignored. */
	t = tracker(30);
	d = box(100, 100, 40, 80, 0.9f);
	k = step(t, &d, 1, 0).tracks[0].key;
	d = box(100, 100, 40, 80, 0.1f);
	r = step(t, &d, 1, 1);
	assert_int_equal(r.n_tracks, 0);
	assert_true(held(t, k));
	an_bt_free(&t);
}

/* An object moving right at 4 px a frame, hidden over frames [gap_from, gap_to). */
static uint64_t walk(an_bytetrack *t, int frames, int gap_from, int gap_to, int64_t *end_frame)
{
	uint64_t first = 0;
	*end_frame = -1;
	for (int f = 0; f < frames; f++) {
		vp_det d = box(100 + 4 * f, 200, 40, 80, 0.9f);
		bool hidden = f >= gap_from && f < gap_to;
		an_bt_result r = step(t, &d, hidden ? 0 : 1, f);
		if (first && ended(&r, first) && *end_frame < 0)
			*end_frame = f;
		if (!first && r.n_tracks)
			first = r.tracks[0].key;
	}
	return first;
}

static void test_a_short_occlusion_keeps_the_key(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(10);
	int64_t end;
	uint64_t k = walk(t, 20, 8, 16, &end); /* 8 frames hidden, max_lost 10 */
	assert_int_equal(end, -1);
	vp_det d = box(100 + 4 * 20, 200, 40, 80, 0.9f);
	an_bt_result r = step(t, &d, 1, 20);
	assert_int_equal(r.n_tracks, 1);
	assert_true(r.tracks[0].key == k);
	an_bt_free(&t);
}

static void test_a_long_occlusion_ends_the_key_and_starts_a_new_one(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(5);
	int64_t end;
	/* Last seen at frame 7; lost for good when frame - 7 > 5, i.e. at 13, and, as in the
	 * official list arithmetic, out of the lost list one update later. */
	uint64_t k = walk(t, 24, 8, 20, &end);
	assert_int_equal(end, 14);
	assert_false(held(t, k));
	vp_det d = box(100 + 4 * 24, 200, 40, 80, 0.9f);
	an_bt_result r = step(t, &d, 1, 24);
	assert_int_equal(r.n_tracks, 1); /* confirmed by its second frame (23, 24) */
	assert_true(r.tracks[0].key != k);
	an_bt_free(&t);
}

static void test_an_object_reentering_elsewhere_gets_a_new_key(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	vp_det d = box(600, 200, 40, 80, 0.9f);
	an_bt_result r = step(t, &d, 1, 0);
	uint64_t k = r.tracks[0].key;
	step(t, NULL, 0, 1); /* leaves */
	step(t, NULL, 0, 2);
	d = box(40, 200, 40, 80, 0.9f); /* comes back at the other edge */
	step(t, &d, 1, 3);
	r = step(t, &d, 1, 4);
	assert_int_equal(r.n_tracks, 1);
	assert_true(r.tracks[0].key != k);
	assert_true(held(t, k)); /* the old one is still lost, not ended */
	int ends = 0;
	for (int f = 5; f < 40; f++) {
		r = step(t, &d, 1, f);
		ends += ended(&r, k);
	}
	assert_int_equal(ends, 1);
	assert_false(held(t, k));
	an_bt_free(&t);
}

static void test_crossing_objects_keep_their_keys(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	uint64_t ka = 0, kb = 0;
	for (int f = 0; f < 40; f++) {
		/* a goes right, b left; they pass each other around frame 20, overlapping. */
		vp_det d[2] = { box(100 + 10 * f, 200, 40, 80, 0.9f),
		                box(500 - 10 * f, 230, 40, 80, 0.85f) };
		if (f % 2) { /* detector order changes; identities must not */
			vp_det tmp = d[0];
			d[0] = d[1];
			d[1] = tmp;
		}
		an_bt_result r = step(t, d, 2, f);
		assert_int_equal(r.n_tracks, 2);
		uint64_t a = key_of(&r, f % 2), b = key_of(&r, 1 - f % 2);
		if (!f) {
			ka = a;
			kb = b;
		}
		assert_true(a == ka);
		assert_true(b == kb);
	}
	an_bt_free(&t);
}

static void test_a_lost_track_on_a_longer_lived_one_is_dropped_as_duplicate(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(100);
	uint64_t ka = 0, kb = 0;
	int64_t end = -1;
	for (int f = 0; f < 60; f++) {
		/* b stands still at x 300 from frame 0; a walks towards it at 2 px a frame and
		 * disappears at frame 10, its prediction sliding on towards b. */
		vp_det d[2] = { box(300, 200, 40, 80, 0.9f), box(200 + 2 * f, 200, 40, 80, 0.9f) };
		an_bt_result r = step(t, d, f < 10 ? 2 : 1, f);
		if (!f) {
			kb = key_of(&r, 0);
			ka = key_of(&r, 1);
		}
		assert_true(key_of(&r, 0) == kb);
		if (ended(&r, ka) && end < 0)
			end = f;
	}
	/* Long before max_lost: dropped once its predicted box lies on b's (IoU > 0.85). */
	assert_true(end > 10 && end < 60);
	assert_false(held(t, ka));
	assert_true(held(t, kb));
	an_bt_free(&t);
}

static void test_bad_arguments_are_refused(void **state)
{
	(void)state;
	an_bytetrack *t = tracker(30);
	an_bt_result r;
	vp_det d = box(100, 100, 40, 80, 0.9f);
	assert_int_equal(an_bt_update(t, &d, 1, 0, 0, &r), 0); /* dt ignored the first time */
	assert_int_equal(an_bt_update(t, &d, 1, 1, 0, &r), -EINVAL);
	assert_int_equal(an_bt_update(t, &d, 1, 1, NAN, &r), -EINVAL);
	assert_int_equal(an_bt_update(t, NULL, 1, 1, 1, &r), -EINVAL);
	assert_int_equal(an_bt_update(t, &d, 1, 1, 1, &r), 0);
	assert_int_equal(r.n_tracks, 1);
	an_bt_params p = { 0.5f, 0.1f, 0.6f, 0.8f, -1 };
	an_bytetrack *u = NULL;
	assert_int_equal(an_bt_new(&p, &u), -EINVAL);
	assert_null(u);
	an_bt_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kalman_initiate_and_predict_are_the_official_numbers),
		cmocka_unit_test(test_kalman_update_matches_the_official_cholesky_solve),
		cmocka_unit_test(test_kalman_predict_by_two_periods_moves_the_mean_as_two_steps),
		cmocka_unit_test(test_lap_is_optimal_against_brute_force),
		cmocka_unit_test(test_lap_prefers_the_global_optimum_to_greedy),
		cmocka_unit_test(test_no_detections_give_no_output),
		cmocka_unit_test(test_first_update_confirms_its_tracks_at_once),
		cmocka_unit_test(test_later_tracks_need_a_second_match_and_die_unreported),
		cmocka_unit_test(test_low_score_detections_keep_a_track_alive),
		cmocka_unit_test(test_low_detections_need_half_overlap_and_a_score_above_low),
		cmocka_unit_test(test_a_short_occlusion_keeps_the_key),
		cmocka_unit_test(test_a_long_occlusion_ends_the_key_and_starts_a_new_one),
		cmocka_unit_test(test_an_object_reentering_elsewhere_gets_a_new_key),
		cmocka_unit_test(test_crossing_objects_keep_their_keys),
		cmocka_unit_test(test_a_lost_track_on_a_longer_lived_one_is_dropped_as_duplicate),
		cmocka_unit_test(test_bad_arguments_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
