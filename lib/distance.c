// SPDX-License-Identifier: GPL-2.0
/*
 * Choosing a distance implementation, and the entry points that take a
 * metric number. No floating point here: the code only passes pointers, so
 * in the kernel it builds as an ordinary unit and may be called from one.
 */
#include "vexfs_distance.h"

#define VEXFS_CPU_AVX2_FMA	(VEXFS_CPU_AVX | VEXFS_CPU_AVX2 | VEXFS_CPU_FMA)

const struct vexfs_distance_ops *vexfs_distance_select(unsigned int cpu_flags)
{
	if ((cpu_flags & VEXFS_CPU_AVX2_FMA) == VEXFS_CPU_AVX2_FMA)
		return &vexfs_distance_avx2;
	if (cpu_flags & VEXFS_CPU_SSE2)
		return &vexfs_distance_sse2;
	return &vexfs_distance_scalar;
}

vexfs_distance_fn vexfs_distance_fn_of(const struct vexfs_distance_ops *ops,
				       unsigned int metric)
{
	switch (metric) {
	case VEXFS_METRIC_L2:
		return ops->l2;
	case VEXFS_METRIC_IP:
		return ops->ip;
	case VEXFS_METRIC_COSINE:
		return ops->cosine;
	}
	return NULL;
}

vexfs_distance_within_fn
vexfs_distance_within_of(const struct vexfs_distance_ops *ops,
			 unsigned int metric)
{
	return metric == VEXFS_METRIC_L2 ? ops->l2_within : NULL;
}

int vexfs_distance_batch(const struct vexfs_distance_ops *ops,
			 unsigned int metric, const float *query,
			 const float *base, unsigned int n, unsigned int dim,
			 float *out)
{
	if (!vexfs_metric_valid(metric))
		return -EINVAL;
	ops->batch(metric, query, base, n, dim, out);
	return 0;
}
