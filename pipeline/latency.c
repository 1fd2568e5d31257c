#include "latency.h"

#include <math.h>

/* Bucket k holds values below 10us * 10^((k+1)/20). */
static int bucket_of(int64_t ns)
{
	double us = (double)ns / 1000.0;
	if (us <= 10.0)
		return 0;
	int k = (int)(20.0 * log10(us / 10.0));
	return k >= PIPE_LAT_BUCKETS ? PIPE_LAT_BUCKETS - 1 : k;
}

void pipe_latency_add(pipe_latency *h, int64_t ns)
{
	__atomic_fetch_add(&h->bucket[bucket_of(ns)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->count, 1, __ATOMIC_RELEASE);
}

double pipe_latency_quantile(const pipe_latency *h, double q)
{
	int64_t n = __atomic_load_n(&h->count, __ATOMIC_ACQUIRE);
	if (n == 0)
		return 0.0;
	int64_t want = (int64_t)ceil(q * (double)n), seen = 0;
	for (int k = 0; k < PIPE_LAT_BUCKETS; k++) {
		seen += __atomic_load_n(&h->bucket[k], __ATOMIC_RELAXED);
		if (seen >= want)
			return 0.01 * pow(10.0, (k + 1) / 20.0);
	}
	return 0.01 * pow(10.0, PIPE_LAT_BUCKETS / 20.0);
}
