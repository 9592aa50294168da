// SPDX-License-Identifier: GPL-2.0
/*
 * Distance kernels on 128-bit SSE2 vectors, written with GCC vector
 * extensions because <immintrin.h> is not available to kernel code.
 *
 * The main loop keeps four independent accumulators (16 floats a step) so
 * consecutive additions do not wait on each other's latency; the sums are
 * folded pairwise at the end and the last dim % 4 elements are added one
 * by one. Compile with -msse2 (in the kernel, $(CC_FLAGS_FPU)).
 */
#include "distance_impl.h"

static inline vexfs_v4sf load4(const float *p)
{
	return *(const vexfs_v4sf_u *)p;
}

static inline float hsum4(vexfs_v4sf v)
{
	return (v[0] + v[2]) + (v[1] + v[3]);
}

static float sse2_l2(const float *a, const float *b, unsigned int dim)
{
	vexfs_v4sf s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	unsigned int i = 0;
	float sum;

	for (; dim - i >= 16; i += 16) {
		vexfs_v4sf d0 = load4(a + i) - load4(b + i);
		vexfs_v4sf d1 = load4(a + i + 4) - load4(b + i + 4);
		vexfs_v4sf d2 = load4(a + i + 8) - load4(b + i + 8);
		vexfs_v4sf d3 = load4(a + i + 12) - load4(b + i + 12);

		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; dim - i >= 4; i += 4) {
		vexfs_v4sf d = load4(a + i) - load4(b + i);

		s0 += d * d;
	}
	sum = hsum4((s0 + s1) + (s2 + s3));
	for (; i < dim; i++) {
		float d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

static float sse2_dot(const float *a, const float *b, unsigned int dim)
{
	vexfs_v4sf s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	unsigned int i = 0;
	float sum;

	for (; dim - i >= 16; i += 16) {
		s0 += load4(a + i) * load4(b + i);
		s1 += load4(a + i + 4) * load4(b + i + 4);
		s2 += load4(a + i + 8) * load4(b + i + 8);
		s3 += load4(a + i + 12) * load4(b + i + 12);
	}
	for (; dim - i >= 4; i += 4)
		s0 += load4(a + i) * load4(b + i);
	sum = hsum4((s0 + s1) + (s2 + s3));
	for (; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

static float sse2_ip(const float *a, const float *b, unsigned int dim)
{
	return -sse2_dot(a, b, dim);
}

/* Two accumulators per sum: six live vectors plus the loads fit in XMM. */
static float sse2_cosine(const float *a, const float *b, unsigned int dim)
{
	vexfs_v4sf d0 = { 0 }, d1 = { 0 };
	vexfs_v4sf a0 = { 0 }, a1 = { 0 };
	vexfs_v4sf b0 = { 0 }, b1 = { 0 };
	unsigned int i = 0;
	float dot, na, nb;

	for (; dim - i >= 8; i += 8) {
		vexfs_v4sf x0 = load4(a + i), x1 = load4(a + i + 4);
		vexfs_v4sf y0 = load4(b + i), y1 = load4(b + i + 4);

		d0 += x0 * y0;
		d1 += x1 * y1;
		a0 += x0 * x0;
		a1 += x1 * x1;
		b0 += y0 * y0;
		b1 += y1 * y1;
	}
	for (; dim - i >= 4; i += 4) {
		vexfs_v4sf x = load4(a + i), y = load4(b + i);

		d0 += x * y;
		a0 += x * x;
		b0 += y * y;
	}
	dot = hsum4(d0 + d1);
	na = hsum4(a0 + a1);
	nb = hsum4(b0 + b1);
	for (; i < dim; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return vexfs_cosine_finish(dot, na, nb);
}

static void sse2_batch(unsigned int metric, const float *query,
		       const float *base, unsigned int n, unsigned int dim,
		       float *out)
{
	vexfs_batch_dispatch(sse2_l2, sse2_ip, sse2_cosine, metric,
			     query, base, n, dim, out);
}

static void sse2_list(unsigned int metric, const float *query,
		      const float *const *rows, unsigned int n, unsigned int dim,
		      float bound, float *out)
{
	vexfs_list_dispatch(NULL, sse2_l2, sse2_ip, sse2_cosine, metric,
			    query, rows, n, dim, bound, out);
}

const struct vexfs_distance_ops vexfs_distance_sse2 = {
	.name	= "sse2",
	.l2	= sse2_l2,
	.dot	= sse2_dot,
	.ip	= sse2_ip,
	.cosine	= sse2_cosine,
	.batch	= sse2_batch,
	.list	= sse2_list,
};
