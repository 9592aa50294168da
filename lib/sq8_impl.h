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

#endif /* VEXFS_SQ8_IMPL_H */
