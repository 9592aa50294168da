/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pieces shared by the distance implementations. Each implementation file
 * includes this and is compiled with its own instruction-set flags, so
 * everything here is static inline: it becomes part of that file's code.
 */
#ifndef VEXFS_DISTANCE_IMPL_H
#define VEXFS_DISTANCE_IMPL_H

#include "vexfs_distance.h"

/*
 * With math errno on, GCC follows every sqrt instruction with a call to
 * sqrtf() for negative inputs, and the kernel has no sqrtf().
 */
#ifndef __NO_MATH_ERRNO__
#error "build the distance code with -fno-math-errno"
#endif

/*
 * Unaligned views of float data, as GCC's own intrinsics headers define
 * them: a vector load from any 4-byte aligned address, allowed to alias the
 * float array it reads.
 */
typedef float vexfs_v4sf __attribute__((vector_size(16)));
typedef float vexfs_v8sf __attribute__((vector_size(32)));
typedef float vexfs_v4sf_u
	__attribute__((vector_size(16), aligned(4), may_alias));
typedef float vexfs_v8sf_u
	__attribute__((vector_size(32), aligned(4), may_alias));

/*
 * 1 - dot / (|a| |b|) from the three sums. The final step runs in double:
 * the product of two floats is exact there and cannot overflow, and
 * sqrt(x * x) == x, so identical vectors give exactly 0. Rounding may push
 * the result a hair outside [0, 2]; clamp it back (NaN passes through).
 */
static inline float vexfs_cosine_finish(float dot, float na, float nb)
{
	double d;

	if (na == 0.0f || nb == 0.0f)
		return 1.0f;	/* a zero vector has no direction */
	d = 1.0 - (double)dot / __builtin_sqrt((double)na * (double)nb);
	if (d < 0.0)
		d = 0.0;
	if (d > 2.0)
		d = 2.0;
	return (float)d;
}

/*
 * The exact-scan loop around one implementation's kernels. Always inlined
 * with constant function pointers, so the compiler calls (or inlines) the
 * kernels directly: no indirect call, and no retpoline, per vector.
 */
static __always_inline void
vexfs_batch_rows(vexfs_distance_fn fn, const float *query, const float *base,
		 unsigned int n, unsigned int dim, float *out)
{
	unsigned int i;

	for (i = 0; i < n; i++, base += dim)
		out[i] = fn(query, base, dim);
}

static __always_inline void
vexfs_batch_dispatch(vexfs_distance_fn l2, vexfs_distance_fn ip,
		     vexfs_distance_fn cosine, unsigned int metric,
		     const float *query, const float *base, unsigned int n,
		     unsigned int dim, float *out)
{
	switch (metric) {
	case VEXFS_METRIC_L2:
		vexfs_batch_rows(l2, query, base, n, dim, out);
		break;
	case VEXFS_METRIC_IP:
		vexfs_batch_rows(ip, query, base, n, dim, out);
		break;
	case VEXFS_METRIC_COSINE:
		vexfs_batch_rows(cosine, query, base, n, dim, out);
		break;
	}
}

/*
 * The graph-search loop around one implementation's kernels, inlined the
 * same way. l2_within may be NULL: L2 is then computed in full, which the
 * contract of a bound allows.
 */
static __always_inline void
vexfs_list_dispatch(vexfs_distance_within_fn l2_within, vexfs_distance_fn l2,
		    vexfs_distance_fn ip, vexfs_distance_fn cosine,
		    unsigned int metric, const float *query,
		    const float *const *rows, unsigned int n, unsigned int dim,
		    float bound, float *out)
{
	unsigned int i;

	switch (metric) {
	case VEXFS_METRIC_L2:
		for (i = 0; i < n; i++)
			out[i] = l2_within ? l2_within(query, rows[i], dim, bound)
					   : l2(query, rows[i], dim);
		break;
	case VEXFS_METRIC_IP:
		for (i = 0; i < n; i++)
			out[i] = ip(query, rows[i], dim);
		break;
	case VEXFS_METRIC_COSINE:
		for (i = 0; i < n; i++)
			out[i] = cosine(query, rows[i], dim);
		break;
	}
}

#endif /* VEXFS_DISTANCE_IMPL_H */
