/* bench_tracker: microseconds per frame of the tracking stage on synthetic scenes, the
 * ByteTrack tracker alone (an_bt_update) beside the whole stage (an_stream_update: tracker,
 * track records, 4 zones and 4 lines), at 10, 100 and 1,000 objects per frame.
 * Usage: bench_tracker [-s scale] [-t seconds] [objects...]
 *   scale multiplies the frame counts (2,000 timed frames, 300 from 1,000 objects up);
 *   seconds: the time budget of each size (default 60), warm-up included: with the
 *   assignment solver of analytics/lap.c an update at 1,000 objects takes seconds, and the
 *   table should still come out in minutes.
 *
 * The scenes: people, cars and trucks with detection-sized boxes moving at constant
 * velocity, with box jitter, missed detections, a share of low-score boxes (0.1-0.5, the
 * second association's), a few low-score false positives, objects that leave and new ones
 * that appear; a fixed seed. The frame grows with the count (1920x1080 up to 100 objects,
 * then by sqrt(objects / 100) on each side) so the density stays that of a busy 1080p
 * street instead of 1,000 boxes piled on one another. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "analytics/bytetrack.h"
#include "pipeline/config.h"
#include "pipeline/vp_det.h"

#define FPS 30.0
#define WARMUP 60 /* frames before timing: the track population settles (lost_frames 30) */
#define NUM_CLASSES 80
enum { PERSON = 0, BICYCLE = 1, CAR = 2, TRUCK = 7 };

/* ---- the scene ---- */

typedef struct rng { uint64_t s; } rng;

static uint64_t rng_next(rng *r)
{
	/* splitmix64 */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uni(rng *r, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(rng_next(r) >> 11) / 9007199254740992.0);
}

static double gauss(rng *r)
{
	double u = uni(r, 1e-12, 1), v = uni(r, 0, 1);
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

typedef struct object {
	double cx, cy, vx, vy, w, h;
	double base_score;
	int cls;
} object;

typedef struct scene {
	rng r;
	double W, H;
	int n;
	object *obj;
	vp_det *dets;
	int n_dets;
} scene;

/* A new object: sizes as a detector sees them in 1080p street footage. at_edge: it walks
 * in from a side; otherwise it appears anywhere (out of a door, from behind a bus). */
static void spawn(scene *s, object *o, int at_edge)
{
	rng *r = &s->r;
	double k = uni(r, 0, 1);
	if (k < 0.6) {
		o->cls = PERSON;
		o->h = exp(uni(r, log(40), log(220)));
		o->w = o->h * uni(r, 0.35, 0.5);
		o->vx = 1.5 * gauss(r);
		o->vy = 0.6 * gauss(r);
	} else {
		o->cls = k < 0.9 ? CAR : TRUCK;
		o->w = exp(uni(r, log(50), log(o->cls == CAR ? 260 : 380)));
		o->h = o->w * uni(r, 0.55, 0.8);
		o->vx = 6 * gauss(r);
		o->vy = 1.5 * gauss(r);
	}
	o->base_score = uni(r, 0.6, 0.95);
	o->cx = uni(r, 0, s->W);
	o->cy = uni(r, 0, s->H);
	if (at_edge) {
		if (uni(r, 0, 1) < 0.5)
			o->cx = o->vx > 0 ? 0 : s->W;
		else
			o->cy = o->vy > 0 ? 0 : s->H;
	}
}

static int scene_init(scene *s, int n, uint64_t seed)
{
	double k = n > 100 ? sqrt(n / 100.0) : 1.0;
	*s = (scene){ .r = { seed }, .W = 1920 * k, .H = 1080 * k, .n = n };
	s->obj = calloc((size_t)n, sizeof(*s->obj));
	s->dets = calloc((size_t)n * 2 + 16, sizeof(*s->dets));
	if (!s->obj || !s->dets)
		return -1;
	for (int i = 0; i < n; i++)
		spawn(s, &s->obj[i], 0);
	return 0;
}

static void scene_free(scene *s)
{
	free(s->obj);
	free(s->dets);
}

static int add_det(scene *s, int cls, float score, double cx, double cy, double w, double h)
{
	double x1 = fmax(0, cx - w / 2), y1 = fmax(0, cy - h / 2);
	double x2 = fmin(s->W, cx + w / 2), y2 = fmin(s->H, cy + h / 2);
	if (x2 - x1 < 2 || y2 - y1 < 2)
		return 0;
	s->dets[s->n_dets++] = (vp_det){ cls, score, { (float)x1, (float)y1, (float)x2, (float)y2 } };
	return 1;
}

static int by_score(const void *pa, const void *pb)
{
	const vp_det *a = pa, *b = pb;
	return (a->score < b->score) - (a->score > b->score);
}

/* Moves every object one frame and fills s->dets as a detector's NMS output would be. */
static void scene_step(scene *s)
{
	rng *r = &s->r;
	s->n_dets = 0;
	for (int i = 0; i < s->n; i++) {
		object *o = &s->obj[i];
		o->cx += o->vx;
		o->cy += o->vy;
		if (o->cx < 0 || o->cx > s->W || o->cy < 0 || o->cy > s->H)
			spawn(s, o, 1);
		else if (uni(r, 0, 1) < 1.0 / 300)
			spawn(s, o, 0); /* gone (a door, a parked car): another object appears */
		double p = uni(r, 0, 1);
		if (p < 0.05)
			continue; /* missed */
		float score = p < 0.17 ? (float)uni(r, 0.1, 0.5) /* occluded, blurred */
		                       : (float)fmin(0.99, fmax(0.5, o->base_score + 0.05 * gauss(r)));
		int cls = o->cls;
		if (uni(r, 0, 1) < 0.03)
			cls = cls == PERSON ? BICYCLE : cls == CAR ? TRUCK : CAR;
		add_det(s, cls, score, o->cx + 0.02 * o->w * gauss(r), o->cy + 0.02 * o->h * gauss(r),
		        o->w * (1 + 0.03 * gauss(r)), o->h * (1 + 0.03 * gauss(r)));
	}
	int fp = s->n / 20 + (uni(r, 0, 1) < 0.5);
	for (int i = 0; i < fp; i++) {
		double h = exp(uni(r, log(30), log(200)));
		add_det(s, uni(r, 0, 1) < 0.5 ? PERSON : CAR, (float)uni(r, 0.1, 0.45), uni(r, 0, s->W),
		        uni(r, 0, s->H), h * uni(r, 0.4, 1.6), h);
	}
	qsort(s->dets, (size_t)s->n_dets, sizeof(*s->dets), by_score);
}

/* ---- zones and lines, in fractions of the frame ---- */

static pipe_class_ref cls_person[] = { { .id = PERSON } };
static pipe_class_ref cls_vehicle[] = { { .id = CAR }, { .id = TRUCK } };

typedef struct layout {
	pipe_point pts[4][6];
	pipe_zone_cfg zones[4];
	pipe_line_cfg lines[4];
} layout;

static void layout_init(layout *l, double W, double H)
{
	static const double zf[4][6][2] = {
		{ { .05, .55 }, { .45, .55 }, { .45, .95 }, { .05, .95 } },                   /* a rectangle */
		{ { .6, .05 }, { .95, .1 }, { .9, .45 }, { .7, .5 }, { .55, .3 } },           /* a pentagon */
		{ { .3, .4 }, { .7, .4 }, { .95, .9 }, { .05, .9 } },                         /* a road */
		{ { .1, .1 }, { .3, .05 }, { .45, .15 }, { .4, .4 }, { .2, .45 }, { .05, .3 } } /* a hexagon */
	};
	static const int zn[4] = { 4, 5, 4, 6 };
	static const double lf[4][2][2] = {
		{ { .33, 1 }, { .33, 0 } }, { { 0, .5 }, { 1, .5 } }, { { .1, .9 }, { .9, .2 } },
		{ { .6, .7 }, { .8, .7 } },
	};
	static const char *const zname[4] = { "corner", "plaza", "road", "square" };
	static const char *const lname[4] = { "divide", "middle", "diagonal", "gate" };
	for (int z = 0; z < 4; z++) {
		for (int k = 0; k < zn[z]; k++)
			l->pts[z][k] = (pipe_point){ zf[z][k][0] * W, zf[z][k][1] * H };
		l->zones[z] = (pipe_zone_cfg){ .name = (char *)zname[z], .points = l->pts[z], .n_points = zn[z] };
	}
	l->zones[1].classes = cls_person;
	l->zones[1].n_classes = 1;
	l->zones[2].classes = cls_vehicle;
	l->zones[2].n_classes = 2;
	for (int i = 0; i < 4; i++)
		l->lines[i] = (pipe_line_cfg){
			.name = (char *)lname[i],
			.points = { { lf[i][0][0] * W, lf[i][0][1] * H }, { lf[i][1][0] * W, lf[i][1][1] * H } },
		};
	l->lines[1].classes = cls_vehicle;
	l->lines[1].n_classes = 2;
	l->lines[2].classes = cls_person;
	l->lines[2].n_classes = 1;
}

/* ---- timing ---- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

typedef struct stats { double median, p99, mean; } stats;

/* Sorts t. */
static stats stats_of(int64_t *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_i64);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)t[i];
	int k = (int)ceil(0.99 * n) - 1;
	return (stats){ t[n / 2] / 1e3, t[k < 0 ? 0 : k] / 1e3, sum / n / 1e3 };
}

typedef struct bench {
	an_bytetrack *bt;
	an_stream *st;
	int64_t d_bt, d_st;       /* this frame's times */
	an_result res;
} bench;

/* One frame through both; which goes first alternates (the second finds the detections
 * in cache). */
static int bench_frame(bench *b, const scene *sc, int f)
{
	int rc = 0;
	for (int k = 0; k < 2; k++) {
		int64_t t0 = now_ns(), r;
		if ((k ^ f) & 1) {
			an_bt_result br;
			r = an_bt_update(b->bt, sc->dets, sc->n_dets, f, 1.0, &br);
			b->d_bt = now_ns() - t0;
		} else {
			r = an_stream_update(b->st, f, f / FPS, 1 / FPS, 0, sc->dets, sc->n_dets, &b->res);
			b->d_st = now_ns() - t0;
		}
		if (r < 0)
			rc = (int)r;
	}
	return rc;
}

/* Warm-up, then up to `frames` timed frames; both stop early once they used their share
 * of budget_s (a third for the warm-up), so a slow size still ends in time: the table then
 * says how many frames it had. */
static int run_size(int n_obj, int frames, double budget_s)
{
	scene sc = { 0 };
	layout lay;
	bench b = { 0 };
	int64_t next_id = 0, *t_bt = malloc((size_t)frames * sizeof(int64_t)),
	        *t_st = malloc((size_t)frames * sizeof(int64_t)),
	        *t_dif = malloc((size_t)frames * sizeof(int64_t));
	int rc = -1;
	if (scene_init(&sc, n_obj, 0x7ac4e2 + (uint64_t)n_obj) < 0 || !t_bt || !t_st || !t_dif)
		goto out;
	layout_init(&lay, sc.W, sc.H);
	/* The tracker: section's defaults (build/vapd --help-config). */
	pipe_tracker_cfg tc = { .present = true, .high_threshold = 0.5f, .low_threshold = 0.1f,
	                        .new_track_threshold = 0.6f, .match_threshold = 0.8f, .lost_frames = 30 };
	pipe_source_cfg src = { .id = "bench", .zones = lay.zones, .n_zones = 4, .lines = lay.lines,
	                        .n_lines = 4 };
	an_bt_params bp = { .high_threshold = tc.high_threshold, .low_threshold = tc.low_threshold,
	                    .new_track_threshold = tc.new_track_threshold,
	                    .match_threshold = tc.match_threshold, .max_lost = tc.lost_frames };
	if (an_bt_new(&bp, &b.bt) < 0 || an_stream_new(&tc, &src, NUM_CLASSES, &next_id, &b.st) < 0)
		goto out;
	int64_t start = now_ns(), budget = (int64_t)(budget_s * 1e9);
	int f = 0, warm = 0, n = 0;
	for (; warm < WARMUP && (warm < 2 || now_ns() - start < budget / 3); warm++, f++) {
		scene_step(&sc);
		if (bench_frame(&b, &sc, f) < 0)
			goto out;
	}
	double dets = 0, tracks = 0, events = 0;
	for (; n < frames && (n < 3 || now_ns() - start < budget); n++, f++) {
		scene_step(&sc);
		if (bench_frame(&b, &sc, f) < 0)
			goto out;
		t_bt[n] = b.d_bt;
		t_st[n] = b.d_st;
		dets += sc.n_dets;
		tracks += an_stream_active_tracks(b.st);
		events += b.res.n_events;
	}
	/* The stage's own part: per frame, so the machine's load hits both sides alike. */
	for (int i = 0; i < n; i++)
		t_dif[i] = t_st[i] - t_bt[i];
	stats bs = stats_of(t_bt, n), ss = stats_of(t_st, n), ds = stats_of(t_dif, n);
	printf("| %d | %.0f | %.0f | %.1f | %d%s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
	       n_obj, dets / n, tracks / n, events / n, n, n < frames || warm < WARMUP ? " *" : "",
	       bs.median, bs.p99, bs.mean, ss.median, ss.p99, ss.mean, ds.median);
	if (n < frames || warm < WARMUP)
		printf("\n\\* %d objects: time budget (%.0f s) spent after %d warm-up and %d timed frames.\n\n",
		       n_obj, budget_s, warm, n);
	fflush(stdout);
	rc = 0;
out:
	an_stream_free(&b.st);
	an_bt_free(&b.bt);
	scene_free(&sc);
	free(t_bt);
	free(t_st);
	free(t_dif);
	return rc;
}

int main(int argc, char **argv)
{
	double scale = 1, budget = 60;
	int sizes[16], n = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			budget = atof(argv[++i]);
		else if (atoi(argv[i]) > 0 && n < 16)
			sizes[n++] = atoi(argv[i]);
		else {
			fprintf(stderr, "usage: %s [-s scale] [-t seconds] [objects...]\n", argv[0]);
			return 2;
		}
	}
	if (n == 0) {
		sizes[n++] = 10;
		sizes[n++] = 100;
		sizes[n++] = 1000;
	}
	printf("Microseconds per frame on one core, synthetic scenes at %.0f fps (seed fixed; %d warm-up "
	       "frames not timed): the ByteTrack tracker alone (an_bt_update) and the whole tracking stage "
	       "(an_stream_update: tracker, track records, 4 zones, 4 lines), each fed the same frames. "
	       "\"beyond\": the median over frames of (stage - tracker), the stage's part outside the "
	       "tracker (records, zones, lines, events). Means and p99 catch the machine's other load; "
	       "medians are the robust numbers.\n\n", FPS, WARMUP);
	printf("| objects | dets/frame | tracks | events/frame | frames | tracker median µs | tracker p99 "
	       "| tracker mean | stage median µs | stage p99 | stage mean | beyond µs |\n");
	printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	int rc = 0;
	for (int i = 0; i < n; i++) {
		int frames = (int)((sizes[i] >= 1000 ? 300 : 2000) * scale);
		if (frames < 10)
			frames = 10;
		if (run_size(sizes[i], frames, budget) < 0) {
			printf("| %d | failed | | | | | | | | | | |\n", sizes[i]);
			rc = 1;
		}
	}
	return rc;
}
