/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tests' and benchmarks' pseudo-random numbers: splitmix64, small,
 * fast, and the same on every machine, so a seed names one data set.
 * One state per program.
 */
#ifndef VEXFS_TEST_RNG_H
#define VEXFS_TEST_RNG_H

#include <math.h>
#include <stdint.h>

static uint64_t rng_state;

static inline void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static inline uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1), 24 bits. */
static inline float rng_unit(void)
{
	return (float)(rng_next() >> 40) / (float)(1u << 24);
}

/* Standard normal (Box-Muller). */
static inline float rng_gauss(void)
{
	double u = ((rng_next() >> 11) + 1) * 0x1p-53;
	double v = (rng_next() >> 11) * 0x1p-53;

	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

#endif /* VEXFS_TEST_RNG_H */
