/* The one monotonic clock every module measures intervals with, and the wall clock that
 * messages carry ("time"). */
#ifndef VP_TIME_H
#define VP_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t vp_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_REALTIME in microseconds. */
static inline int64_t vp_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
