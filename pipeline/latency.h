/* Latency histogram: log-spaced buckets (20 per decade from 10 us to 1000 s), written by
 * one thread and read by others without locks; percentiles are exact to one bucket (~12%). */
#ifndef PIPE_LATENCY_H
#define PIPE_LATENCY_H

#include <stdint.h>

#define PIPE_LAT_BUCKETS 160

typedef struct pipe_latency {
	int64_t count;
	int64_t bucket[PIPE_LAT_BUCKETS];
} pipe_latency;

void pipe_latency_add(pipe_latency *h, int64_t ns);
/* q in (0,1]; returns milliseconds (the bucket's upper bound), 0 when empty. */
double pipe_latency_quantile(const pipe_latency *h, double q);

#endif
