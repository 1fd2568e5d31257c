#include "rendezvous.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over "camera\0node", then the splitmix64 finalizer: FNV alone leaves the high
 * bits of similar names (cam1, cam2) correlated, which skews the shares. */
static uint64_t pair_hash(const char *camera, const char *node)
{
	uint64_t h = 14695981039346656037ull;
	for (const char *p = camera;; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
		if (!*p)
			break;
	}
	for (const char *p = node; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

double fl_score(const char *camera, const char *node, int weight)
{
	if (weight <= 0)
		return -INFINITY;
	/* 53 bits into (0, 1), never 0 or 1, so the log is finite and negative. */
	double u = ((double)(pair_hash(camera, node) >> 11) + 0.5) / 9007199254740992.0;
	return -(double)weight / log(u);
}

typedef struct pair {
	double score;
	int cam, node;
	const char *cam_id, *node_id;
} pair;

/* Descending score; names break ties so every node sorts alike. */
static int pair_cmp(const void *a, const void *b)
{
	const pair *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	int c = strcmp(x->cam_id, y->cam_id);
	return c ? c : strcmp(x->node_id, y->node_id);
}

int fl_assign(const char *const *cameras, int n_cameras, const fl_node *nodes, int n_nodes,
              const int *current, int *owner)
{
	for (int c = 0; c < n_cameras; c++)
		owner[c] = -1;
	if (!n_cameras || !n_nodes)
		return 0;
	size_t n = (size_t)n_cameras * (size_t)n_nodes;
	pair *pairs = malloc(n * sizeof(*pairs));
	int *room = malloc((size_t)n_nodes * sizeof(*room));
	if (!pairs || !room) {
		free(pairs);
		free(room);
		return -ENOMEM;
	}
	size_t k = 0;
	for (int c = 0; c < n_cameras; c++)
		for (int m = 0; m < n_nodes; m++)
			pairs[k++] = (pair){ fl_score(cameras[c], nodes[m].id, nodes[m].capacity), c, m,
			                     cameras[c], nodes[m].id };
	for (int m = 0; m < n_nodes; m++)
		room[m] = nodes[m].capacity;
	qsort(pairs, n, sizeof(*pairs), pair_cmp);
	/* A camera's first pair in the sorted list is its top-ranked node. */
	for (size_t i = 0; current && i < n; i++) {
		const pair *p = &pairs[i];
		if (owner[p->cam] != -1)
			continue;
		bool stays = current[p->cam] == p->node && room[p->node] > 0;
		owner[p->cam] = stays ? p->node : -2;       /* -2: decided in the second pass */
		room[p->node] -= stays;
	}
	for (int c = 0; c < n_cameras; c++)
		owner[c] = owner[c] == -2 ? -1 : owner[c];
	for (size_t i = 0; i < n; i++) {
		const pair *p = &pairs[i];
		if (owner[p->cam] >= 0 || room[p->node] <= 0)
			continue;
		owner[p->cam] = p->node;
		room[p->node]--;
	}
	free(pairs);
	free(room);
	return 0;
}
