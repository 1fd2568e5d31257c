/* Runs analytics/bytetrack.c over a reference detections jsonl and prints, per frame and
 * output track, `frame det key x1 y1 x2 y2` (the same lines tools/bytetrack_ref.py prints;
 * tests/t_tracker_fidelity.sh compares them). Also checks the ended/confirmed bookkeeping:
 * no key ends twice, an ended key is never output again, and at the end every key ever
 * output has either ended or is still confirmed, never both. Exit 0, 1 on a bookkeeping
 * fault, 2 on bad input. Usage: tool_bytetrack FILE [--high X] [--low X] [--new X]
 * [--match X] [--max-lost N] */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/bytetrack.h"

#define MAX_KEYS 100000

static unsigned char g_state[MAX_KEYS]; /* 0 never seen, 1 output, 2 ended */

/* Parses one line of exactly the reference shape: {"frame":N,"detections":[{"class_id":C,
 * "score":S,"bbox":[x1,y1,x2,y2]},...]}. Returns the number of detections or -1. */
static int parse_line(const char *s, long *frame, vp_det **dets, int *cap)
{
	const char *p = strstr(s, "\"frame\":");
	if (!p)
		return -1;
	*frame = strtol(p + 8, NULL, 10);
	int n = 0;
	while ((p = strstr(p, "\"class_id\":"))) {
		if (n == *cap) {
			int c = *cap ? *cap * 2 : 64;
			vp_det *d = realloc(*dets, (size_t)c * sizeof(vp_det));
			if (!d)
				return -1;
			*dets = d;
			*cap = c;
		}
		vp_det *d = &(*dets)[n];
		d->class_id = (int)strtol(p + 11, NULL, 10);
		const char *q = strstr(p, "\"score\":"), *b = strstr(p, "\"bbox\":[");
		if (!q || !b)
			return -1;
		d->score = strtof(q + 8, NULL);
		char *e = (char *)b + 8;
		for (int k = 0; k < 4; k++) {
			d->bbox[k] = strtof(e, &e);
			if (*e == ',')
				e++;
		}
		p = e;
		n++;
	}
	return n;
}

static int check(const an_bt_result *r, int64_t frame)
{
	for (int i = 0; i < r->n_tracks; i++) {
		uint64_t k = r->tracks[i].key;
		if (k >= MAX_KEYS || g_state[k] == 2) {
			fprintf(stderr, "frame %lld: key %llu output after it ended\n", (long long)frame,
			        (unsigned long long)k);
			return -1;
		}
		g_state[k] = 1;
	}
	for (int i = 0; i < r->n_ended; i++) {
		uint64_t k = r->ended[i];
		if (k >= MAX_KEYS || g_state[k] == 2) {
			fprintf(stderr, "frame %lld: key %llu ended twice\n", (long long)frame,
			        (unsigned long long)k);
			return -1;
		}
		g_state[k] = 2;
	}
	return 0;
}

static int check_end(an_bytetrack *t)
{
	const uint64_t *keys;
	int n = an_bt_confirmed(t, &keys);
	for (int i = 0; i < n; i++) {
		if (keys[i] >= MAX_KEYS || g_state[keys[i]] == 2) {
			fprintf(stderr, "key %llu ended but still confirmed\n", (unsigned long long)keys[i]);
			return -1;
		}
		g_state[keys[i]] = 3;
	}
	for (uint64_t k = 0; k < MAX_KEYS; k++)
		if (g_state[k] == 1) {
			fprintf(stderr, "key %llu neither ended nor held\n", (unsigned long long)k);
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	an_bt_params p = { 0.5f, 0.1f, 0.6f, 0.8f, 30 };
	if (argc < 2)
		goto usage;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--high"))
			p.high_threshold = strtof(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--low"))
			p.low_threshold = strtof(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--new"))
			p.new_track_threshold = strtof(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--match"))
			p.match_threshold = strtof(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--max-lost"))
			p.max_lost = atoi(argv[i + 1]);
		else
			goto usage;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	an_bytetrack *t = NULL;
	vp_det *dets = NULL;
	char *line = NULL;
	size_t len = 0;
	int cap = 0, rc = 2;
	long frame, prev = -1;
	if (an_bt_new(&p, &t))
		goto done;
	while (getline(&line, &len, f) > 0) {
		int n = parse_line(line, &frame, &dets, &cap);
		an_bt_result r;
		if (n < 0 || an_bt_update(t, dets, n, frame, prev < 0 ? 1 : (double)(frame - prev), &r))
			goto done;
		prev = frame;
		rc = 1;
		if (check(&r, frame))
			goto done;
		for (int i = 0; i < r.n_tracks; i++)
			printf("%ld %d %llu %.6f %.6f %.6f %.6f\n", frame, r.tracks[i].det,
			       (unsigned long long)r.tracks[i].key, r.tracks[i].box[0], r.tracks[i].box[1],
			       r.tracks[i].box[2], r.tracks[i].box[3]);
		rc = 2;
	}
	rc = check_end(t) ? 1 : 0;
done:
	if (rc == 2)
		fprintf(stderr, "tool_bytetrack: bad input or tracker error in %s\n", argv[1]);
	free(line);
	free(dets);
	an_bt_free(&t);
	fclose(f);
	return rc;
usage:
	fprintf(stderr, "usage: %s FILE [--high X] [--low X] [--new X] [--match X] [--max-lost N]\n",
	        argv[0]);
	return 2;
}
