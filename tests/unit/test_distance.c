// SPDX-License-Identifier: GPL-2.0
/*
 * Distance kernels: each vector implementation against the scalar
 * reference and a double-precision sum over every short dimension and the
 * common embedding sizes, from unaligned addresses; the meaning of each
 * metric; the batch loop; the choice of implementation.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vexfs_distance.h"

#define MAX_DIM		4096
#define TOLERANCE	1e-5
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const unsigned int large_dims[] = { 128, 768, 1536, 4096 };

/* Room for an odd offset, so vector loads are never 16-byte aligned. */
static float buf_a[MAX_DIM + 1], buf_b[MAX_DIM + 1];

static uint32_t rng = 2463534242u;

static float random_float(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (float)(rng >> 8) / 8388608.0f - 1.0f;	/* [-1, 1) */
}

static void fill(float *v, unsigned int dim)
{
	unsigned int i;

	for (i = 0; i < dim; i++)
		v[i] = random_float();
}

/* Exact-enough references, and the size of the terms that were summed. */
static double ref_l2(const float *a, const float *b, unsigned int dim)
{
	double s = 0;
	unsigned int i;

	for (i = 0; i < dim; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return s;
}

static double ref_dot(const float *a, const float *b, unsigned int dim)
{
	double s = 0;
	unsigned int i;

	for (i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double abs_dot(const float *a, const float *b, unsigned int dim)
{
	double s = 0;
	unsigned int i;

	for (i = 0; i < dim; i++)
		s += fabs((double)a[i] * b[i]);
	return s;
}

static double ref_cosine(const float *a, const float *b, unsigned int dim)
{
	double na = ref_dot(a, a, dim), nb = ref_dot(b, b, dim);

	if (na == 0 || nb == 0)
		return 1;
	return 1 - ref_dot(a, b, dim) / sqrt(na * nb);
}

/*
 * |got - want| within TOLERANCE of the scale of the problem: the sum of
 * the magnitudes of the terms for L2 and dot (so cancellation is not held
 * against the kernel), 1 for cosine (|cos| <= 1 bounds its terms).
 */
static void assert_close(double got, double want, double scale,
			 const char *what, unsigned int dim)
{
	if (fabs(got - want) <= TOLERANCE * scale + 1e-30)
		return;
	fail_msg("%s dim %u: got %.9g, want %.9g (scale %.3g)", what, dim,
		 got, want, scale);
}

static void check_dim(const struct vexfs_distance_ops *ops,
		      const struct vexfs_distance_ops *ref, unsigned int dim)
{
	const float *a = buf_a + 1, *b = buf_b + 1;
	double l2_scale, dot_scale;
	char what[64];

	fill(buf_a + 1, dim);
	fill(buf_b + 1, dim);
	l2_scale = ref_l2(a, b, dim);
	dot_scale = abs_dot(a, b, dim);

	snprintf(what, sizeof(what), "%s l2", ops->name);
	assert_close(ops->l2(a, b, dim), ref->l2(a, b, dim), l2_scale, what, dim);
	assert_close(ops->l2(a, b, dim), ref_l2(a, b, dim), l2_scale, what, dim);

	snprintf(what, sizeof(what), "%s dot", ops->name);
	assert_close(ops->dot(a, b, dim), ref->dot(a, b, dim), dot_scale, what, dim);
	assert_close(ops->dot(a, b, dim), ref_dot(a, b, dim), dot_scale, what, dim);

	snprintf(what, sizeof(what), "%s ip", ops->name);
	assert_close(ops->ip(a, b, dim), -ref->dot(a, b, dim), dot_scale, what, dim);

	snprintf(what, sizeof(what), "%s cosine", ops->name);
	assert_close(ops->cosine(a, b, dim), ref->cosine(a, b, dim), 1, what, dim);
	assert_close(ops->cosine(a, b, dim), ref_cosine(a, b, dim), 1, what, dim);
}

static void check_against_scalar(const struct vexfs_distance_ops *ops)
{
	unsigned int dim, i;

	for (dim = 1; dim <= 67; dim++)
		check_dim(ops, &vexfs_distance_scalar, dim);
	for (i = 0; i < ARRAY_SIZE(large_dims); i++)
		check_dim(ops, &vexfs_distance_scalar, large_dims[i]);
}

static bool have_avx2(void)
{
	unsigned int need = VEXFS_CPU_AVX | VEXFS_CPU_AVX2 | VEXFS_CPU_FMA;

	return (vexfs_cpu_flags_native() & need) == need;
}

/* Every implementation this CPU can run, scalar first. */
static unsigned int runnable(const struct vexfs_distance_ops **list)
{
	unsigned int n = 0;

	list[n++] = &vexfs_distance_scalar;
	list[n++] = &vexfs_distance_sse2;
	if (have_avx2())
		list[n++] = &vexfs_distance_avx2;
	return n;
}

static void test_scalar_matches_double(void **state)
{
	(void)state;
	check_against_scalar(&vexfs_distance_scalar);
}

static void test_sse2_matches_scalar(void **state)
{
	(void)state;
	check_against_scalar(&vexfs_distance_sse2);
}

static void test_avx2_matches_scalar(void **state)
{
	(void)state;
	if (!have_avx2())
		skip();
	check_against_scalar(&vexfs_distance_avx2);
}

/* Exactly 0, not merely small: a vector is its own nearest neighbour. */
static void test_identical_vectors(void **state)
{
	const struct vexfs_distance_ops *impl[3];
	unsigned int n = runnable(impl), i, dim;

	(void)state;
	for (i = 0; i < n; i++)
		for (dim = 1; dim <= 1536; dim += dim < 70 ? 1 : 293) {
			fill(buf_a, dim);
			memcpy(buf_b, buf_a, dim * sizeof(float));
			assert_true(impl[i]->l2(buf_a, buf_b, dim) == 0.0f);
			assert_true(impl[i]->cosine(buf_a, buf_b, dim) == 0.0f);
		}
}

static void test_cosine_geometry(void **state)
{
	const struct vexfs_distance_ops *impl[3];
	unsigned int n = runnable(impl), i, j, dim = 37;

	(void)state;
	for (i = 0; i < n; i++) {
		const struct vexfs_distance_ops *ops = impl[i];

		/* Orthogonal unit vectors. */
		memset(buf_a, 0, sizeof(buf_a));
		memset(buf_b, 0, sizeof(buf_b));
		buf_a[3] = 1.0f;
		buf_b[30] = 1.0f;
		assert_true(ops->cosine(buf_a, buf_b, dim) == 1.0f);
		assert_true(ops->dot(buf_a, buf_b, dim) == 0.0f);

		/* Length does not matter; direction does. */
		fill(buf_a, dim);
		for (j = 0; j < dim; j++)
			buf_b[j] = 3.0f * buf_a[j];
		assert_true(ops->cosine(buf_a, buf_b, dim) < 1e-6f);
		for (j = 0; j < dim; j++)
			buf_b[j] = -buf_a[j];
		assert_true(fabsf(ops->cosine(buf_a, buf_b, dim) - 2.0f) < 1e-6f);
	}
}

/* A zero vector has no direction: distance 1 to everything. */
static void test_cosine_zero_vector(void **state)
{
	const struct vexfs_distance_ops *impl[3];
	unsigned int n = runnable(impl), i, dim;

	(void)state;
	for (i = 0; i < n; i++)
		for (dim = 1; dim <= 40; dim++) {
			fill(buf_a, dim);
			memset(buf_b, 0, dim * sizeof(float));
			assert_true(impl[i]->cosine(buf_a, buf_b, dim) == 1.0f);
			assert_true(impl[i]->cosine(buf_b, buf_a, dim) == 1.0f);
			assert_true(impl[i]->cosine(buf_b, buf_b, dim) == 1.0f);
		}
}

/* IP is a distance: aligned vectors are close (negative), opposed far. */
static void test_ip_sign(void **state)
{
	const struct vexfs_distance_ops *impl[3];
	unsigned int n = runnable(impl), i, j, dim = 100;

	(void)state;
	for (i = 0; i < n; i++) {
		for (j = 0; j < dim; j++) {
			buf_a[j] = 0.5f;
			buf_b[j] = -0.5f;
		}
		assert_true(impl[i]->ip(buf_a, buf_a, dim) == -25.0f);
		assert_true(impl[i]->dot(buf_a, buf_a, dim) == 25.0f);
		assert_true(impl[i]->ip(buf_a, buf_b, dim) == 25.0f);
		assert_true(impl[i]->l2(buf_a, buf_b, dim) == 100.0f);
	}
}

/* The batch loop returns exactly what one call per row returns. */
static void test_batch_matches_single(void **state)
{
	static const unsigned int dims[] = { 1, 3, 8, 17, 33, 128, 769 };
	static float base[40 * 769 + 1], out[40];
	const struct vexfs_distance_ops *impl[3];
	unsigned int n = runnable(impl), i, d, m, row, rows = 40;

	(void)state;
	for (i = 0; i < n; i++)
		for (d = 0; d < ARRAY_SIZE(dims); d++) {
			unsigned int dim = dims[d];

			fill(buf_a, dim);
			fill(base + 1, rows * dim);
			for (m = VEXFS_METRIC_L2; m <= VEXFS_METRIC_COSINE; m++) {
				vexfs_distance_fn fn = vexfs_distance_fn_of(impl[i], m);

				assert_int_equal(vexfs_distance_batch(impl[i], m,
						buf_a, base + 1, rows, dim, out), 0);
				for (row = 0; row < rows; row++) {
					float want = fn(buf_a, base + 1 + row * dim, dim);

					assert_memory_equal(&out[row], &want, sizeof(want));
				}
			}
		}
}

/*
 * l2_within: below the bound, exactly l2's value, bit for bit; at or
 * above it, a value no smaller than the bound. Bounds are taken around
 * the true distance, and at the partial sums where an exit can happen.
 */
static void check_within(const struct vexfs_distance_ops *ops,
			 unsigned int dim, unsigned int *exits)
{
	static const float scale[] = { 0.1f, 0.5f, 0.99f, 1.0f, 1.01f, 2.0f };
	float full = ops->l2(buf_a + 1, buf_b + 1, dim), got;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(scale); i++) {
		float bound = full * scale[i];

		got = ops->l2_within(buf_a + 1, buf_b + 1, dim, bound);
		if (full < bound)
			assert_memory_equal(&got, &full, sizeof(got));
		else
			assert_true(got >= bound);
		*exits += got != full;
	}
	got = ops->l2_within(buf_a + 1, buf_b + 1, dim, __builtin_inff());
	assert_memory_equal(&got, &full, sizeof(got));
}

static void test_l2_within(void **state)
{
	const struct vexfs_distance_ops *impl[3];
	unsigned int n = runnable(impl), i, dim, exits;

	(void)state;
	for (i = 0; i < n; i++) {
		if (!impl[i]->l2_within)
			continue;
		exits = 0;
		for (dim = 1; dim <= MAX_DIM; dim += dim < 300 ? 1 : 331) {
			fill(buf_a + 1, dim);
			fill(buf_b + 1, dim);
			check_within(impl[i], dim, &exits);
		}
		/* Far bounds on long vectors must really cut the work short. */
		assert_true(exits > 0);
	}
	assert_ptr_equal(vexfs_distance_within_of(&vexfs_distance_scalar,
						  VEXFS_METRIC_IP), NULL);
	assert_ptr_equal(vexfs_distance_within_of(&vexfs_distance_scalar,
						  VEXFS_METRIC_COSINE), NULL);
}

static void test_bad_metric(void **state)
{
	float out[1] = { 42.0f };

	(void)state;
	buf_a[0] = 1.0f;
	assert_null(vexfs_distance_fn_of(&vexfs_distance_scalar, 0));
	assert_null(vexfs_distance_fn_of(&vexfs_distance_scalar, 4));
	assert_int_equal(vexfs_distance_batch(&vexfs_distance_scalar, 0, buf_a,
					      buf_a, 1, 1, out), -EINVAL);
	assert_int_equal(vexfs_distance_batch(&vexfs_distance_scalar, 4, buf_a,
					      buf_a, 1, 1, out), -EINVAL);
	assert_true(out[0] == 42.0f);
	assert_true(vexfs_metric_valid(VEXFS_METRIC_COSINE));
	assert_false(vexfs_metric_valid(0));
}

static void test_select(void **state)
{
	unsigned int all = VEXFS_CPU_SSE2 | VEXFS_CPU_AVX | VEXFS_CPU_AVX2 |
			   VEXFS_CPU_FMA;

	(void)state;
	assert_ptr_equal(vexfs_distance_select(0), &vexfs_distance_scalar);
	assert_ptr_equal(vexfs_distance_select(VEXFS_CPU_SSE2),
			 &vexfs_distance_sse2);
	assert_ptr_equal(vexfs_distance_select(all), &vexfs_distance_avx2);
	/* AVX2 without FMA, or without OS support for YMM, is not enough. */
	assert_ptr_equal(vexfs_distance_select(all & ~VEXFS_CPU_FMA),
			 &vexfs_distance_sse2);
	assert_ptr_equal(vexfs_distance_select(all & ~VEXFS_CPU_AVX),
			 &vexfs_distance_sse2);
	assert_string_equal(vexfs_distance_select(all)->name, "avx2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_matches_double),
		cmocka_unit_test(test_sse2_matches_scalar),
		cmocka_unit_test(test_avx2_matches_scalar),
		cmocka_unit_test(test_identical_vectors),
		cmocka_unit_test(test_cosine_geometry),
		cmocka_unit_test(test_cosine_zero_vector),
		cmocka_unit_test(test_ip_sign),
		cmocka_unit_test(test_batch_matches_single),
		cmocka_unit_test(test_l2_within),
		cmocka_unit_test(test_bad_metric),
		cmocka_unit_test(test_select),
	};

	return cmocka_run_group_tests_name("distance", tests, NULL, NULL);
}
