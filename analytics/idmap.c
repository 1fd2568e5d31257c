#include "idmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Track keys are small consecutive numbers: a multiplicative hash spreads them. */
static uint32_t slot_of(const an_idmap *m, uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (uint32_t)(m->cap - 1);
}

void an_idmap_clear(an_idmap *m)
{
	if (m->used)
		memset(m->used, 0, (size_t)m->cap);
	m->n = 0;
}

void an_idmap_free(an_idmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

int an_idmap_get(const an_idmap *m, uint64_t key)
{
	if (!m->cap)
		return -1;
	for (uint32_t i = slot_of(m, key);; i = (i + 1) & (uint32_t)(m->cap - 1)) {
		if (!m->used[i])
			return -1;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

static void insert(an_idmap *m, uint64_t key, int val)
{
	uint32_t i = slot_of(m, key);
	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (uint32_t)(m->cap - 1);
	if (!m->used[i])
		m->n++;
	m->used[i] = 1;
	m->keys[i] = key;
	m->vals[i] = val;
}

/* Load kept at most 1/2, so probes stay short. */
static int grow(an_idmap *m, int n)
{
	int cap = m->cap ? m->cap * 2 : 64;
	while (2 * n > cap)
		cap *= 2;
	an_idmap g = { .cap = cap };
	g.keys = malloc((size_t)cap * sizeof(*g.keys));
	g.vals = malloc((size_t)cap * sizeof(*g.vals));
	g.used = calloc((size_t)cap, 1);
	if (!g.keys || !g.vals || !g.used) {
		an_idmap_free(&g);
		return -ENOMEM;
	}
	for (int i = 0; i < m->cap; i++)
		if (m->used[i])
			insert(&g, m->keys[i], m->vals[i]);
	an_idmap_free(m);
	*m = g;
	return 0;
}

int an_idmap_reserve(an_idmap *m, int n)
{
	return 2 * n > m->cap ? grow(m, n) : 0;
}

int an_idmap_put(an_idmap *m, uint64_t key, int val)
{
	if (an_idmap_reserve(m, m->n + 1) < 0)
		return -ENOMEM;
	insert(m, key, val);
	return 0;
}

void an_idmap_del(an_idmap *m, uint64_t key)
{
	if (!m->cap)
		return;
	uint32_t mask = (uint32_t)(m->cap - 1), i = slot_of(m, key);
	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & mask;
	if (!m->used[i])
		return;
	/* Backward shift: later entries of the same probe run move up, so no tombstones. */
	for (uint32_t j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
		uint32_t home = slot_of(m, m->keys[j]);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->used[i] = 0;
	m->n--;
}
