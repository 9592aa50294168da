/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every SQ8 kernel file shares (vexfs_sq8.h): from an estimate's
 * bound to the integer sum where an L2 walk may stop, and from a sum back
 * to an estimate. Include only in SQ8 kernel files: they use floats.
 */
#ifndef VEXFS_SQ8_IMPL_H
#define VEXFS_SQ8_IMPL_H

#include "vexfs_sq8.h"

/*
 * The smallest L2 sum whose estimate reaches bound: a sum that gets there
 * may stop. 0xffffffff when no sum can (an infinite bound).
 */
static inline uint32_t sq8_l2_limit(const struct vexfs_sq8_query *q,
				    float bound)
{
	double lim;
	uint32_t t;

	if (!(bound < __builtin_inff()) || !(q->mul > 0))
		return 0xffffffffu;
	lim = (double)bound / q->mul;
	if (!(lim > 0))
		return 0;
	if (lim >= 4294967295.0)
		return 0xffffffffu;
	t = (uint32_t)lim;
	return (double)t < lim ? t + 1 : t;
}

/*
 * The estimate of an L2 sum that the walk may have stopped at limit: at or
 * past it, the estimate is at least bound, as the list contract says.
 */
static inline float sq8_l2_estimate(const struct vexfs_sq8_query *q,
				    uint32_t sum, uint32_t limit, float bound)
{
	float est = q->add + q->mul * (float)sum;

	return sum >= limit && est < bound ? bound : est;
}

static inline float sq8_dot_estimate(const struct vexfs_sq8_query *q,
				     int32_t sum)
{
	return q->add + q->mul * (float)sum;
}

/*
 * The kernels of one file, over a query's 16-bit numbers (a_code false)
 * or a code's bytes (a_code true) against a code c.
 */
typedef uint32_t (*sq8_l2_upto_fn)(const void *a, bool a_code,
				   const uint8_t *c, unsigned int dim,
				   uint32_t limit);
typedef int32_t (*sq8_dot_fn)(const void *a, bool a_code, const uint8_t *c,
			      unsigned int dim);

/* All of the next row on its way while this one is scored. */
static __always_inline void sq8_prefetch_row(const uint8_t *row,
					     unsigned int dim)
{
	unsigned int i;

	for (i = 0; i < dim; i += 64)
		__builtin_prefetch(row + i);
}

/*
 * A neighbour list scored with one file's kernels (vexfs_sq8_ops.list).
 * Inlined into that file with its own static kernels, so every call in
 * the loop is direct.
 */
static __always_inline void sq8_list(const struct vexfs_sq8_query *q,
				     const uint8_t *const *rows, unsigned int n,
				     float bound, float *out,
				     sq8_l2_upto_fn l2_upto, sq8_dot_fn dot)
{
	uint32_t limit = q->l2 ? sq8_l2_limit(q, bound) : 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			sq8_prefetch_row(rows[i + 1], q->dim);
		if (q->l2)
			out[i] = sq8_l2_estimate(q, l2_upto(q->code, false, rows[i],
							    q->dim, limit),
						 limit, bound);
		else
			out[i] = sq8_dot_estimate(q, dot(q->code, false, rows[i],
							 q->dim));
	}
}

/* The ops of one file, from its two kernels. */
#define SQ8_OPS(ops_name, label, l2_fn, dot_fn)					\
static uint32_t ops_name##_l2(const int16_t *q, const uint8_t *c,		\
			      unsigned int dim)					\
{										\
	return l2_fn(q, false, c, dim, 0xffffffffu);				\
}										\
static int32_t ops_name##_dot(const int16_t *q, const uint8_t *c,		\
			      unsigned int dim)					\
{										\
	return dot_fn(q, false, c, dim);						\
}										\
static void ops_name##_list(const struct vexfs_sq8_query *q,			\
			    const uint8_t *const *rows, unsigned int n,		\
			    float bound, float *out)				\
{										\
	sq8_list(q, rows, n, bound, out, l2_fn, dot_fn);				\
}										\
static uint32_t ops_name##_l2_codes(const uint8_t *a, const uint8_t *b,	\
				    unsigned int dim, uint32_t limit)		\
{										\
	return l2_fn(a, true, b, dim, limit);					\
}										\
static uint32_t ops_name##_dot_codes(const uint8_t *a, const uint8_t *b,	\
				     unsigned int dim)				\
{										\
	return (uint32_t)dot_fn(a, true, b, dim);					\
}										\
const struct vexfs_sq8_ops ops_name = {						\
	.name		= label,						\
	.l2		= ops_name##_l2,					\
	.dot		= ops_name##_dot,					\
	.list		= ops_name##_list,					\
	.l2_codes	= ops_name##_l2_codes,					\
	.dot_codes	= ops_name##_dot_codes,					\
}

/* Value i of a query (16-bit numbers) or of a code (bytes). */
static __always_inline int32_t sq8_value(const void *a, bool a_code,
					 unsigned int i)
{
	return a_code ? ((const uint8_t *)a)[i] : ((const int16_t *)a)[i];
}

#endif /* VEXFS_SQ8_IMPL_H */
