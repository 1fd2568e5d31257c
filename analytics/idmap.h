/* A map from 64-bit keys to int values (open addressing, linear probing, deletion by
 * backward shift): the per-track records of the analytics stage are found by track key
 * in O(1) at any object count. Grows at need and never shrinks, so a steady state does
 * not allocate. Internal to analytics/. */
#ifndef AN_IDMAP_H
#define AN_IDMAP_H

#include <stdint.h>

typedef struct an_idmap {
	uint64_t *keys;
	int *vals;
	uint8_t *used;
	int cap, n;              /* cap: a power of two, or 0 */
} an_idmap;

/* Zero-initialised is an empty map. */
void an_idmap_clear(an_idmap *m);
void an_idmap_free(an_idmap *m);
/* The value of key, or -1. */
int an_idmap_get(const an_idmap *m, uint64_t key);
/* Room for n keys: puts up to n then cannot fail. -ENOMEM leaves the map as it was. */
int an_idmap_reserve(an_idmap *m, int n);
/* Sets key to val (>= 0); -ENOMEM leaves the map as it was. */
int an_idmap_put(an_idmap *m, uint64_t key, int val);
void an_idmap_del(an_idmap *m, uint64_t key);

#endif
