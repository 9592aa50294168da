// SPDX-License-Identifier: GPL-2.0
/*
 * Distance kernels on 256-bit AVX2 vectors with fused multiply-add, written
 * with GCC vector extensions because <immintrin.h> is not available to
 * kernel code. Compile with -mavx2 -mfma (in the kernel, plus
 * $(CC_FLAGS_FPU)); GCC then contracts every "s += x * y" into one FMA.
 * Only call through vexfs_distance_avx2 when the CPU has AVX, AVX2 and FMA.
 *
 * An FMA has a latency of about four cycles and two can start each cycle,
 * so L2 and dot spread their sum over four independent accumulators, folded
 * pairwise at the end. Leftovers go through one 4-wide step and then one by
 * one.
 */
#include "distance_impl.h"

static inline vexfs_v8sf load8(const float *p)
{
	return *(const vexfs_v8sf_u *)p;
}

static inline vexfs_v4sf load4(const float *p)
{
	return *(const vexfs_v4sf_u *)p;
}

static inline float hsum4(vexfs_v4sf v)
{
	return (v[0] + v[2]) + (v[1] + v[3]);
}

static inline float hsum8(vexfs_v8sf v)
{
	vexfs_v4sf lo = { v[0], v[1], v[2], v[3] };
	vexfs_v4sf hi = { v[4], v[5], v[6], v[7] };

	return hsum4(lo + hi);
}

static inline vexfs_v8sf fold4(vexfs_v8sf s0, vexfs_v8sf s1, vexfs_v8sf s2,
			       vexfs_v8sf s3)
{
	return (s0 + s1) + (s2 + s3);
}

/*
 * Squared L2; with bounded set it gives up once the partial sum reaches
 * bound, checked every 128 floats while more than 32 remain, and returns
 * that partial sum. The terms are never negative and the folds round
 * monotonically, so the full sum would have reached bound too; and below
 * bound the result is the full sum, bit for bit the same as unbounded.
 */
static __always_inline float avx2_l2_upto(const float *a, const float *b,
					  unsigned int dim, float bound,
					  bool bounded)
{
	vexfs_v8sf s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	vexfs_v4sf t = { 0 };
	unsigned int i = 0;
	float sum;

	for (; dim - i >= 32; i += 32) {
		vexfs_v8sf d0 = load8(a + i) - load8(b + i);
		vexfs_v8sf d1 = load8(a + i + 8) - load8(b + i + 8);
		vexfs_v8sf d2 = load8(a + i + 16) - load8(b + i + 16);
		vexfs_v8sf d3 = load8(a + i + 24) - load8(b + i + 24);

		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
		if (bounded && (i & 127) == 96 && dim - i > 64) {
			sum = hsum8(fold4(s0, s1, s2, s3));
			if (sum >= bound)
				return sum;
		}
	}
	for (; dim - i >= 8; i += 8) {
		vexfs_v8sf d = load8(a + i) - load8(b + i);

		s0 += d * d;
	}
	if (dim - i >= 4) {
		vexfs_v4sf d = load4(a + i) - load4(b + i);

		t = d * d;
		i += 4;
	}
	sum = hsum8(fold4(s0, s1, s2, s3)) + hsum4(t);
	for (; i < dim; i++) {
		float d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

static float avx2_l2(const float *a, const float *b, unsigned int dim)
{
	return avx2_l2_upto(a, b, dim, 0.0f, false);
}

static float avx2_l2_within(const float *a, const float *b, unsigned int dim,
			    float bound)
{
	return avx2_l2_upto(a, b, dim, bound, true);
}

static float avx2_dot(const float *a, const float *b, unsigned int dim)
{
	vexfs_v8sf s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	vexfs_v4sf t = { 0 };
	unsigned int i = 0;
	float sum;

	for (; dim - i >= 32; i += 32) {
		s0 += load8(a + i) * load8(b + i);
		s1 += load8(a + i + 8) * load8(b + i + 8);
		s2 += load8(a + i + 16) * load8(b + i + 16);
		s3 += load8(a + i + 24) * load8(b + i + 24);
	}
	for (; dim - i >= 8; i += 8)
		s0 += load8(a + i) * load8(b + i);
	if (dim - i >= 4) {
		t = load4(a + i) * load4(b + i);
		i += 4;
	}
	sum = hsum8(fold4(s0, s1, s2, s3)) + hsum4(t);
	for (; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

static float avx2_ip(const float *a, const float *b, unsigned int dim)
{
	return -avx2_dot(a, b, dim);
}

/*
 * Three sums of two accumulators each: the six FMAs of a step are then
 * limited by the loads, and the twelve live vectors leave room in the
 * sixteen YMM registers, so nothing spills to the (8-byte aligned) kernel
 * stack.
 */
static float avx2_cosine(const float *a, const float *b, unsigned int dim)
{
	vexfs_v8sf d0 = { 0 }, d1 = { 0 };
	vexfs_v8sf a0 = { 0 }, a1 = { 0 };
	vexfs_v8sf b0 = { 0 }, b1 = { 0 };
	vexfs_v4sf td = { 0 }, ta = { 0 }, tb = { 0 };
	unsigned int i = 0;
	float dot, na, nb;

	for (; dim - i >= 16; i += 16) {
		vexfs_v8sf x0 = load8(a + i), x1 = load8(a + i + 8);
		vexfs_v8sf y0 = load8(b + i), y1 = load8(b + i + 8);

		d0 += x0 * y0;
		d1 += x1 * y1;
		a0 += x0 * x0;
		a1 += x1 * x1;
		b0 += y0 * y0;
		b1 += y1 * y1;
	}
	for (; dim - i >= 8; i += 8) {
		vexfs_v8sf x = load8(a + i), y = load8(b + i);

		d0 += x * y;
		a0 += x * x;
		b0 += y * y;
	}
	if (dim - i >= 4) {
		vexfs_v4sf x = load4(a + i), y = load4(b + i);

		td = x * y;
		ta = x * x;
		tb = y * y;
		i += 4;
	}
	dot = hsum8(d0 + d1) + hsum4(td);
	na = hsum8(a0 + a1) + hsum4(ta);
	nb = hsum8(b0 + b1) + hsum4(tb);
	for (; i < dim; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return vexfs_cosine_finish(dot, na, nb);
}

static void avx2_batch(unsigned int metric, const float *query,
		       const float *base, unsigned int n, unsigned int dim,
		       float *out)
{
	vexfs_batch_dispatch(avx2_l2, avx2_ip, avx2_cosine, metric,
			     query, base, n, dim, out);
}

static void avx2_list(unsigned int metric, const float *query,
		      const float *const *rows, unsigned int n, unsigned int dim,
		      float bound, float *out)
{
	vexfs_list_dispatch(avx2_l2_within, avx2_l2, avx2_ip, avx2_cosine, metric,
			    query, rows, n, dim, bound, out);
}

const struct vexfs_distance_ops vexfs_distance_avx2 = {
	.name		= "avx2",
	.l2		= avx2_l2,
	.l2_within	= avx2_l2_within,
	.dot		= avx2_dot,
	.ip		= avx2_ip,
	.cosine		= avx2_cosine,
	.batch		= avx2_batch,
	.list		= avx2_list,
};
