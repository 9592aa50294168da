/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The monotonic clock, for intervals, rates and deadlines: it never jumps
 * with the wall clock, so a build's seconds or a retry time stay right
 * across a settimeofday or an NTP step.
 */
#ifndef VEXFS_CLOCK_H
#define VEXFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline double monotonic_seconds(void)
{
	return monotonic_ns() / 1e9;
}

#endif /* VEXFS_CLOCK_H */
