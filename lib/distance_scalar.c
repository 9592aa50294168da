// SPDX-License-Identifier: GPL-2.0
/*
 * Distance kernels in plain C: one float accumulator, elements summed in
 * index order. This is the reference the vector implementations are tested
 * against, and the fallback for CPUs without SSE2.
 */
#include "distance_impl.h"

static float scalar_l2(const float *a, const float *b, unsigned int dim)
{
	float sum = 0.0f;
	unsigned int i;

	for (i = 0; i < dim; i++) {
		float d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

static float scalar_dot(const float *a, const float *b, unsigned int dim)
{
	float sum = 0.0f;
	unsigned int i;

	for (i = 0; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

static float scalar_ip(const float *a, const float *b, unsigned int dim)
{
	return -scalar_dot(a, b, dim);
}

static float scalar_cosine(const float *a, const float *b, unsigned int dim)
{
	float dot = 0.0f, na = 0.0f, nb = 0.0f;
	unsigned int i;

	for (i = 0; i < dim; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return vexfs_cosine_finish(dot, na, nb);
}

static void scalar_batch(unsigned int metric, const float *query,
			 const float *base, unsigned int n, unsigned int dim,
			 float *out)
{
	vexfs_batch_dispatch(scalar_l2, scalar_ip, scalar_cosine, metric,
			     query, base, n, dim, out);
}

static void scalar_list(unsigned int metric, const float *query,
		      const float *const *rows, unsigned int n, unsigned int dim,
		      float bound, float *out)
{
	vexfs_list_dispatch(NULL, scalar_l2, scalar_ip, scalar_cosine, metric,
			    query, rows, n, dim, bound, out);
}

const struct vexfs_distance_ops vexfs_distance_scalar = {
	.name	= "scalar",
	.l2	= scalar_l2,
	.dot	= scalar_dot,
	.ip	= scalar_ip,
	.cosine	= scalar_cosine,
	.batch	= scalar_batch,
	.list	= scalar_list,
};
