// SPDX-License-Identifier: GPL-2.0
/*
 * SQ8 (lib/vexfs_sq8.h): the integer kernels against a 64-bit reference
 * at every short dimension and the embedding sizes, from unaligned
 * addresses and at the extremes the query bounds allow; the coding is
 * lossless on integer data; every estimate stays within the error the
 * step allows; training's edge cases. The graph walk on codes is tested
 * in test_hnsw.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vexfs_sq8.h"

#define MAX_DIM		4096
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const unsigned int large_dims[] = { 96, 128, 768, 784, 1536, 4096 };

static uint32_t rng = 2463534242u;

static uint32_t rng_next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static float rng_float(void)	/* [-1, 1) */
{
	return (float)(rng_next() >> 8) / 8388608.0f - 1.0f;
}

static int32_t rng_range(int32_t lo, int32_t hi)	/* [lo, hi] */
{
	return lo + (int32_t)(rng_next() % (uint32_t)(hi - lo + 1));
}

#define SQ8_KERNELS 3	/* plain C, AVX2, AVX-512 VNNI */

/* Every kernel the CPU can run, the plain one first. */
static unsigned int kernels(const struct vexfs_sq8_ops **out)
{
	unsigned int flags = vexfs_cpu_flags_native();
	unsigned int n = 0;

	out[n++] = &vexfs_sq8_scalar;
	if (vexfs_sq8_select(flags & ~VEXFS_CPU_AVX512) == &vexfs_sq8_avx2)
		out[n++] = &vexfs_sq8_avx2;
	else
		print_message("    no AVX2 here: its kernels do not run\n");
	if (vexfs_sq8_select(flags) == &vexfs_sq8_avx512)
		out[n++] = &vexfs_sq8_avx512;
	else
		print_message("    no AVX-512 VNNI here: its kernels do not run\n");
	return n;
}

/* ==== The integer kernels ==== */

/* Room for an odd offset, so loads are never aligned. */
static int16_t qbuf[MAX_DIM + 1];
static uint8_t cbuf[MAX_DIM + 1];

/* The l2 sum for a query within the L2 bounds, the dot sum within IP's. */
static void check_sums(const int16_t *q, const uint8_t *c, unsigned int dim,
		       bool l2_bounds)
{
	const struct vexfs_sq8_ops *ops[SQ8_KERNELS];
	unsigned int nk = kernels(ops), k, i;
	int64_t l2 = 0, dot = 0;

	for (i = 0; i < dim; i++) {
		l2 += (int64_t)(q[i] - c[i]) * (q[i] - c[i]);
		dot += (int64_t)q[i] * c[i];
	}
	for (k = 0; k < nk; k++) {
		if (l2_bounds && (int64_t)ops[k]->l2(q, c, dim) != l2)
			fail_msg("%s l2 at dim %u: %u, want %lld", ops[k]->name,
				 dim, ops[k]->l2(q, c, dim), (long long)l2);
		if (!l2_bounds && (int64_t)ops[k]->dot(q, c, dim) != dot)
			fail_msg("%s dot at dim %u: %d, want %lld", ops[k]->name,
				 dim, ops[k]->dot(q, c, dim), (long long)dot);
	}
}

/* Code against code: both sums exact, the L2 one stopping only at its limit. */
static void check_code_sums(const uint8_t *a, const uint8_t *b,
			    unsigned int dim)
{
	const struct vexfs_sq8_ops *ops[SQ8_KERNELS];
	unsigned int nk = kernels(ops), k, i;
	uint64_t l2 = 0, dot = 0;
	uint32_t got;

	for (i = 0; i < dim; i++) {
		l2 += (uint64_t)((a[i] - b[i]) * (a[i] - b[i]));
		dot += (uint64_t)a[i] * b[i];
	}
	for (k = 0; k < nk; k++) {
		assert_true(ops[k]->l2_codes(a, b, dim, 0xffffffffu) == l2);
		assert_true(ops[k]->dot_codes(a, b, dim) == dot);
		got = ops[k]->l2_codes(a, b, dim, (uint32_t)(l2 / 2));
		assert_true(got <= l2 && got >= l2 / 2);
	}
}

static void random_codes(unsigned int dim, int32_t qmin, int32_t qmax)
{
	unsigned int i;

	for (i = 0; i < dim; i++) {
		qbuf[1 + i] = (int16_t)rng_range(qmin, qmax);
		cbuf[1 + i] = (uint8_t)rng_range(0, 255);
	}
}

static void test_kernels_match_reference(void **state)
{
	unsigned int dim, i, round;

	(void)state;
	for (round = 0; round < 4; round++) {
		for (dim = 0; dim <= 80; dim++) {
			random_codes(dim, VEXFS_SQ8_L2_MIN, VEXFS_SQ8_L2_MAX);
			check_sums(qbuf + 1, cbuf + 1, dim, true);
			random_codes(dim, -VEXFS_SQ8_IP_MAX, VEXFS_SQ8_IP_MAX);
			check_sums(qbuf + 1, cbuf + 1, dim, false);
			check_code_sums(cbuf + 1, (const uint8_t *)qbuf + 1, dim);
		}
		for (i = 0; i < ARRAY_SIZE(large_dims); i++) {
			random_codes(large_dims[i], VEXFS_SQ8_L2_MIN,
				     VEXFS_SQ8_L2_MAX);
			check_sums(qbuf + 1, cbuf + 1, large_dims[i], true);
			random_codes(large_dims[i], -VEXFS_SQ8_IP_MAX,
				     VEXFS_SQ8_IP_MAX);
			check_sums(qbuf + 1, cbuf + 1, large_dims[i], false);
			check_code_sums(cbuf + 1, (const uint8_t *)qbuf + 1,
					large_dims[i]);
		}
	}
}

/* The largest sums the bounds allow, at the largest dimension: no overflow. */
static void test_kernels_extremes(void **state)
{
	static const int16_t qs[] = { VEXFS_SQ8_L2_MIN, VEXFS_SQ8_L2_MAX,
				      -VEXFS_SQ8_IP_MAX, VEXFS_SQ8_IP_MAX };
	static const uint8_t cs[] = { 0, 255 };
	unsigned int a, b, i;

	(void)state;
	for (a = 0; a < ARRAY_SIZE(qs); a++) {
		for (b = 0; b < ARRAY_SIZE(cs); b++) {
			for (i = 0; i < VEXFS_MAX_DIM; i++) {
				qbuf[1 + i] = qs[a];
				cbuf[1 + i] = cs[b];
			}
			check_sums(qbuf + 1, cbuf + 1, VEXFS_MAX_DIM, a < 2);
		}
	}
}

/* ==== Coding ==== */

struct coding {
	float lo[MAX_DIM], hi[MAX_DIM];
	struct vexfs_sq8 p;
	uint8_t code[MAX_DIM];
	int16_t qcode[MAX_DIM];
};

/*
 * Train c on n vectors (at most 1,000); true when the codes are fine,
 * by vexfs_sq8_fine() over all of them.
 */
static bool train(struct coding *c, const float *v, uint32_t n, uint32_t dim,
		  uint32_t metric)
{
	static const float *sample[1000];
	static float scratch[2 * 1000];
	struct vexfs_sq8_trainer t;
	uint32_t i;

	assert_true(n <= ARRAY_SIZE(sample));
	vexfs_sq8_train_begin(&t, dim, metric, c->lo, c->hi);
	for (i = 0; i < n; i++) {
		vexfs_sq8_train_add(&t, v + (size_t)i * dim);
		sample[i] = v + (size_t)i * dim;
	}
	vexfs_sq8_train_end(&t, &c->p);
	return vexfs_sq8_fine(&t, &c->p, sample, n, scratch);
}

static double ref_l2(const float *a, const float *b, uint32_t dim)
{
	double s = 0;
	uint32_t i;

	for (i = 0; i < dim; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return s;
}

static double ref_dot(const float *a, const float *b, uint32_t dim)
{
	double s = 0;
	uint32_t i;

	for (i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* SIFT-like data: integers whose ranges fit in 255 steps are kept exactly. */
static void test_integers_lossless(void **state)
{
	enum { N = 200, DIM = 128 };
	static float v[N * DIM], q[DIM];
	static struct coding c;
	const struct vexfs_sq8_ops *ops[SQ8_KERNELS];
	struct vexfs_sq8_query sq;
	unsigned int nk = kernels(ops), k, i, j;

	(void)state;
	for (i = 0; i < N * DIM; i++)
		v[i] = (float)rng_range(-20, 230);
	train(&c, v, N, DIM, VEXFS_METRIC_L2);
	assert_true(c.p.step == 1.0f);
	for (j = 0; j < DIM; j++)
		q[j] = (float)rng_range(-20, 230);
	for (k = 0; k < nk; k++) {
		vexfs_sq8_query_init(&sq, &c.p, ops[k], q, c.qcode);
		for (i = 0; i < N; i++) {
			const float *x = v + (size_t)i * DIM;

			vexfs_sq8_encode(&c.p, x, c.code);
			for (j = 0; j < DIM; j++)
				assert_true(c.p.lo[j] + c.code[j] * c.p.step == x[j]);
			assert_true(vexfs_sq8_estimate(&sq, c.code) ==
				    (float)ref_l2(q, x, DIM));
		}
	}
}

/*
 * Random floats: each coded value is within step / 2 of the value, so the
 * estimated L2 distance (its square root) is within step * sqrt(dim) of
 * the exact one (the query is coded on the same grid), and the estimated
 * dot product within sum |q| * step / 2 + sum (x' - lo) * qstep / 2, x'
 * the coded vector.
 */
static void check_estimates(uint32_t metric, uint32_t dim)
{
	enum { N = 100 };
	static float v[N * MAX_DIM], q[MAX_DIM];
	static struct coding c;
	const struct vexfs_sq8_ops *ops[SQ8_KERNELS];
	unsigned int nk = kernels(ops), k, i, j;
	struct vexfs_sq8_query sq;

	for (i = 0; i < N * dim; i++)
		v[i] = rng_float() * (1 + (i % dim) % 3);	/* unequal ranges */
	for (j = 0; j < dim; j++)
		q[j] = rng_float();
	train(&c, v, N, dim, metric);
	assert_true(c.p.step > 0 && c.p.step < 6.0f / 255 + 1e-6f);
	for (k = 0; k < nk; k++) {
		vexfs_sq8_query_init(&sq, &c.p, ops[k], q, c.qcode);
		for (i = 0; i < N; i++) {
			const float *x = v + (size_t)i * dim;
			double est, exact, bound, qmax = 0, sq_ = 0, sx = 0;

			vexfs_sq8_encode(&c.p, x, c.code);
			est = vexfs_sq8_estimate(&sq, c.code);
			if (metric == VEXFS_METRIC_L2) {
				exact = sqrt(ref_l2(q, x, dim));
				bound = c.p.step * sqrt(dim) * 1.001 + 1e-5;
				assert_true(fabs(sqrt(est) - exact) <= bound);
				continue;
			}
			for (j = 0; j < dim; j++) {
				qmax = fmax(qmax, fabs(q[j]));
				sq_ += fabs(q[j]);
				sx += c.p.step * c.code[j];
			}
			exact = -ref_dot(q, x, dim);
			bound = sq_ * c.p.step / 2 +
				sx * qmax / VEXFS_SQ8_IP_MAX / 2;
			if (fabs(est - exact) > bound * 1.001 + 1e-4)
				fail_msg("dim %u: estimate %g, exact %g, bound %g",
					 dim, est, exact, bound);
		}
	}
}

static void test_estimates_within_bounds(void **state)
{
	static const uint32_t dims[] = { 1, 7, 16, 33, 128, 768, 1536 };
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dims); i++) {
		check_estimates(VEXFS_METRIC_L2, dims[i]);
		check_estimates(VEXFS_METRIC_IP, dims[i]);
	}
}

/* Cosine is coded on unit vectors: the estimate tracks 1 - cos. */
static void test_cosine(void **state)
{
	enum { N = 100, DIM = 256 };
	static float v[N * DIM], q[DIM], zero[DIM];
	static struct coding c;
	struct vexfs_sq8_query sq;
	const struct vexfs_sq8_ops *ops = vexfs_sq8_select(vexfs_cpu_flags_native());
	unsigned int i, j;
	double worst = 0;

	(void)state;
	for (i = 0; i < N * DIM; i++)
		v[i] = rng_float() * 50;	/* lengths far from 1 */
	for (j = 0; j < DIM; j++)
		q[j] = rng_float() * 0.01f;
	train(&c, v, N, DIM, VEXFS_METRIC_COSINE);
	assert_true(c.p.step < 2.0f / 255);	/* the ranges of unit vectors */
	vexfs_sq8_query_init(&sq, &c.p, ops, q, c.qcode);
	for (i = 0; i < N; i++) {
		const float *x = v + (size_t)i * DIM;
		double cos = ref_dot(q, x, DIM) /
			     sqrt(ref_dot(q, q, DIM) * ref_dot(x, x, DIM));

		vexfs_sq8_encode(&c.p, x, c.code);
		worst = fmax(worst, fabs(vexfs_sq8_estimate(&sq, c.code) -
					 (1 - cos)));
	}
	print_message("    cosine, 256-d: largest error %.5f\n", worst);
	assert_true(worst < 0.02);

	/* A zero query is as far from everything as cosine says: 1. */
	vexfs_sq8_query_init(&sq, &c.p, ops, zero, c.qcode);
	vexfs_sq8_encode(&c.p, v, c.code);
	assert_true(vexfs_sq8_estimate(&sq, c.code) == 1.0f);
}

/*
 * A list scores like one estimate each, where the estimate is below the
 * bound; at or above it, with anything at least the bound.
 */
static void check_list(uint32_t metric, uint32_t dim)
{
	enum { N = 64 };
	static float v[N * MAX_DIM], q[MAX_DIM], out[N], est[N];
	static uint8_t codes[N * MAX_DIM];
	static struct coding c;
	const uint8_t *rows[N];
	const struct vexfs_sq8_ops *ops[SQ8_KERNELS];
	unsigned int nk = kernels(ops), k, i, b;
	struct vexfs_sq8_query sq;
	float bounds[4];

	for (i = 0; i < N * dim; i++)
		v[i] = rng_float();
	for (i = 0; i < dim; i++)
		q[i] = rng_float();
	train(&c, v, N, dim, metric);
	for (i = 0; i < N; i++) {
		rows[i] = codes + (size_t)(N - 1 - i) * dim;	/* any order */
		vexfs_sq8_encode(&c.p, v + (size_t)i * dim,
				 codes + (size_t)(N - 1 - i) * dim);
	}
	for (k = 0; k < nk; k++) {
		vexfs_sq8_query_init(&sq, &c.p, ops[k], q, c.qcode);
		for (i = 0; i < N; i++)
			est[i] = vexfs_sq8_estimate(&sq, rows[i]);
		bounds[0] = INFINITY;
		bounds[1] = est[N / 2];
		bounds[2] = est[0] * 0.5f;
		bounds[3] = -INFINITY;
		for (b = 0; b < 4; b++) {
			ops[k]->list(&sq, rows, N, bounds[b], out);
			for (i = 0; i < N; i++) {
				if (est[i] < bounds[b])
					assert_true(out[i] == est[i]);
				else
					assert_true(out[i] >= bounds[b]);
			}
		}
	}
}

static void test_list_matches_estimates(void **state)
{
	static const uint32_t dims[] = { 5, 128, 200, 784, 1536 };
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dims); i++) {
		check_list(VEXFS_METRIC_L2, dims[i]);
		check_list(VEXFS_METRIC_IP, dims[i]);
		check_list(VEXFS_METRIC_COSINE, dims[i]);
	}
}

/*
 * A code widened once against all the others in one list: each exactly
 * the pair distance; L2 under a bound exactly the unbounded value below
 * it, at least the bound at or above it.
 */
static void check_wide_list(const struct coding *c, const uint8_t *codes,
			    unsigned int n, uint32_t dim,
			    const struct vexfs_sq8_ops *ops)
{
	static const uint8_t *rows[64];
	static float offs[64], out[64], want[64];
	static int16_t a16[MAX_DIM];
	const uint8_t *ca = codes;
	float oa = vexfs_sq8_code_offset(&c->p, ca), bound;
	unsigned int i, j;

	for (i = 0; i + 1 < n; i++) {
		rows[i] = codes + (size_t)(n - 1 - i) * dim;	/* any order */
		offs[i] = vexfs_sq8_code_offset(&c->p, rows[i]);
		want[i] = vexfs_sq8_pair_distance(&c->p, ops, ca, oa, rows[i],
						  offs[i], INFINITY);
	}
	vexfs_sq8_widen(ca, dim, a16);
	vexfs_sq8_wide_list(&c->p, ops, a16, oa, rows, offs, n - 1, INFINITY,
			    out);
	for (i = 0; i + 1 < n; i++)
		assert_true(out[i] == want[i]);
	if (c->p.metric != VEXFS_METRIC_L2)
		return;
	for (j = 0; j < 2; j++) {
		bound = j ? want[n / 2] : want[0] * 0.5f;
		vexfs_sq8_wide_list(&c->p, ops, a16, oa, rows, offs, n - 1,
				    bound, out);
		for (i = 0; i + 1 < n; i++) {
			if (want[i] < bound)
				assert_true(out[i] == want[i]);
			else
				assert_true(out[i] >= bound);
		}
	}
}

/*
 * Two codes: the distance of the coded vectors (lo + step * code), as a
 * double sum over the decoded values gives it; L2 below a bound exactly
 * the unbounded value, at or above it at least the bound; the same from
 * a widened code.
 */
static void check_pairs(uint32_t metric, uint32_t dim)
{
	enum { N = 32 };
	static float v[N * MAX_DIM];
	static uint8_t codes[N * MAX_DIM];
	static double a[MAX_DIM], b[MAX_DIM];
	static struct coding c;
	const struct vexfs_sq8_ops *ops[SQ8_KERNELS];
	unsigned int nk = kernels(ops), k, i, j, x;

	for (i = 0; i < N * dim; i++)
		v[i] = rng_float() + (float)(i % dim) * 0.01f;
	train(&c, v, N, dim, metric);
	for (i = 0; i < N; i++)
		vexfs_sq8_encode(&c.p, v + (size_t)i * dim, codes + (size_t)i * dim);
	for (k = 0; k < nk; k++) {
		for (i = 0; i + 1 < N; i++) {
			const uint8_t *ca = codes + (size_t)i * dim;
			const uint8_t *cb = codes + (size_t)(i + 1) * dim;
			float oa = vexfs_sq8_code_offset(&c.p, ca);
			float ob = vexfs_sq8_code_offset(&c.p, cb);
			double want = 0, scale = 0;
			float got, bounded;

			for (x = 0; x < dim; x++) {
				a[x] = c.p.lo[x] + (double)c.p.step * ca[x];
				b[x] = c.p.lo[x] + (double)c.p.step * cb[x];
				if (metric == VEXFS_METRIC_L2)
					want += (a[x] - b[x]) * (a[x] - b[x]);
				else
					want += a[x] * b[x];
				scale += fabs(a[x] * b[x]) + a[x] * a[x] + b[x] * b[x];
			}
			if (metric == VEXFS_METRIC_IP)
				want = -want;
			else if (metric == VEXFS_METRIC_COSINE)
				want = 1 - want;
			got = vexfs_sq8_pair_distance(&c.p, ops[k], ca, oa, cb, ob,
						      INFINITY);
			if (fabs(got - want) > 1e-5 * scale + 1e-6)
				fail_msg("%s pair, dim %u: %g, want %g", ops[k]->name,
					 dim, got, want);
			if (metric != VEXFS_METRIC_L2)
				continue;
			for (j = 0; j < 2; j++) {
				float bound = j ? got * 0.5f : got * 2 + 1;

				bounded = vexfs_sq8_pair_distance(&c.p, ops[k], ca, oa,
								  cb, ob, bound);
				if (got < bound)
					assert_true(bounded == got);
				else
					assert_true(bounded >= bound);
			}
		}
		check_wide_list(&c, codes, N, dim, ops[k]);
	}
}

static void test_pair_distances(void **state)
{
	static const uint32_t dims[] = { 3, 64, 129, 300, 1536 };
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dims); i++) {
		check_pairs(VEXFS_METRIC_L2, dims[i]);
		check_pairs(VEXFS_METRIC_IP, dims[i]);
		check_pairs(VEXFS_METRIC_COSINE, dims[i]);
	}
}

static void test_training_edges(void **state)
{
	static struct coding c;
	struct vexfs_sq8_trainer t;
	float v[4] = { 1.5f, NAN, -INFINITY, 2.0f };
	float w[4] = { 3.5f, 7.0f, 5.0f, 2.0f };
	float zero[4] = { 0 };
	unsigned int j;

	(void)state;
	/* Nothing seen: ranges 0, step 1, every value codes to 0. */
	vexfs_sq8_train_begin(&t, 4, VEXFS_METRIC_L2, c.lo, c.hi);
	vexfs_sq8_train_end(&t, &c.p);
	assert_true(c.p.step == 1.0f);
	for (j = 0; j < 4; j++)
		assert_true(c.lo[j] == 0);

	/* Non-finite values are left out; fractions take the widest range. */
	vexfs_sq8_train_begin(&t, 4, VEXFS_METRIC_L2, c.lo, c.hi);
	vexfs_sq8_train_add(&t, v);
	vexfs_sq8_train_add(&t, w);
	vexfs_sq8_train_end(&t, &c.p);
	assert_true(c.lo[0] == 1.5f && c.lo[1] == 7.0f && c.lo[2] == 5.0f &&
		    c.lo[3] == 2.0f);
	assert_true(c.p.step == 2.0f / 255);
	vexfs_sq8_encode(&c.p, w, c.code);
	assert_int_equal(c.code[0], 255);
	assert_int_equal(c.code[1], 0);

	/* Values outside the ranges clamp to the ends. */
	w[0] = 100;
	w[1] = -100;
	vexfs_sq8_encode(&c.p, w, c.code);
	assert_int_equal(c.code[0], 255);
	assert_int_equal(c.code[1], 0);

	/* Cosine leaves zero vectors out: they have no direction. */
	vexfs_sq8_train_begin(&t, 4, VEXFS_METRIC_COSINE, c.lo, c.hi);
	vexfs_sq8_train_add(&t, zero);
	assert_int_equal(t.seen, 0);
}

/*
 * Codes are fine to build on unless outliers leave the bulk of the data a
 * few levels: spread data and exact integers are; the same data with one
 * value of 10,000 is not, nor small integers with a few vectors far away
 * in every dimension (whose full ranges then look wide).
 */
static void test_fine(void **state)
{
	enum { N = 200, DIM = 64 };
	static float v[N * DIM];
	static struct coding c;
	unsigned int i;

	(void)state;
	for (i = 0; i < N * DIM; i++)
		v[i] = rng_float();
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_L2));
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_IP));
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_COSINE));
	v[7 * DIM + 3] = 10000.0f;
	assert_false(train(&c, v, N, DIM, VEXFS_METRIC_L2));
	assert_false(train(&c, v, N, DIM, VEXFS_METRIC_IP));
	/* Unit vectors: the outlier only shortens its own vector's values. */
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_COSINE));

	/* Integers of ranges up to 40: few levels, but every code exact. */
	for (i = 0; i < N * DIM; i++)
		v[i] = (float)rng_range(0, 40);
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_L2));
	/* Four vectors far away in every dimension: coded lossily, coarse. */
	for (i = 0; i < 4 * DIM; i++)
		v[i] = 10000.0f + 50.0f * (float)(i / DIM) + (float)(i % DIM);
	assert_false(train(&c, v, N, DIM, VEXFS_METRIC_L2));
	/* One value in every dimension: exact whatever the step. */
	for (i = 0; i < N * DIM; i++)
		v[i] = 0.5f;
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_L2));
	/* Gaussian-like data, whose full range is a few times its spread. */
	for (i = 0; i < N * DIM; i++)
		v[i] = rng_float() + rng_float() + rng_float() + rng_float();
	assert_true(train(&c, v, N, DIM, VEXFS_METRIC_L2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernels_match_reference),
		cmocka_unit_test(test_kernels_extremes),
		cmocka_unit_test(test_integers_lossless),
		cmocka_unit_test(test_estimates_within_bounds),
		cmocka_unit_test(test_cosine),
		cmocka_unit_test(test_list_matches_estimates),
		cmocka_unit_test(test_pair_distances),
		cmocka_unit_test(test_training_edges),
		cmocka_unit_test(test_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
