// SPDX-License-Identifier: GPL-2.0
/*
 * Top-k heap: the kept set and its order against a full sort of every
 * candidate, with many equal distances, for k = 1, 10, 1000 and k > n; the
 * push verdicts, the pruning bound, push order and NaN.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vexfs_topk.h"

#define N	5000

static uint64_t ids[N];
static float dists[N];
static struct vexfs_topk_entry sorted[N], storage[N];

static uint32_t rng = 88172645u;

static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/*
 * Distinct ids in random order. With few_values the distances come from a
 * small set, so most of them tie and the id decides.
 */
static void make_candidates(unsigned int n, bool few_values)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		ids[i] = (uint64_t)i * 7919 % 100003 + ((uint64_t)i << 32);
	for (i = n - 1; i > 0; i--) {
		unsigned int j = next_random() % (i + 1);
		uint64_t t = ids[i];

		ids[i] = ids[j];
		ids[j] = t;
	}
	for (i = 0; i < n; i++)
		dists[i] = few_values ? (float)(next_random() % 7) * 0.25f - 0.5f
				      : (float)next_random() / 65536.0f - 30000.0f;
}

static int by_dist_then_id(const void *x, const void *y)
{
	const struct vexfs_topk_entry *a = x, *b = y;

	if (a->dist != b->dist)
		return a->dist < b->dist ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

static void full_sort(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		sorted[i].id = ids[i];
		sorted[i].dist = dists[i];
	}
	qsort(sorted, n, sizeof(sorted[0]), by_dist_then_id);
}

static void check_against_sort(unsigned int n, unsigned int k, bool few)
{
	struct vexfs_topk t;
	unsigned int i, kept = 0, want = k < n ? k : n;

	make_candidates(n, few);
	full_sort(n);
	vexfs_topk_init(&t, storage, k);
	for (i = 0; i < n; i++) {
		bool full = vexfs_topk_count(&t) == k;
		float worst = vexfs_topk_worst(&t);
		bool took = vexfs_topk_push(&t, ids[i], dists[i]);

		kept += took;
		/* Never kept when strictly worse than the bound. */
		if (dists[i] > worst)
			assert_false(took);
		if (!full)
			assert_true(took);
	}
	assert_int_equal(vexfs_topk_count(&t), want);
	if (k <= n)
		assert_true(vexfs_topk_worst(&t) == sorted[k - 1].dist);
	else
		assert_true(isinf(vexfs_topk_worst(&t)) && vexfs_topk_worst(&t) > 0);
	assert_true(kept >= want);
	assert_int_equal(vexfs_topk_extract(&t), want);
	for (i = 0; i < want; i++) {
		assert_int_equal(storage[i].id, sorted[i].id);
		assert_true(storage[i].dist == sorted[i].dist);
	}
	assert_int_equal(vexfs_topk_count(&t), 0);
}

static void test_k1(void **state)
{
	(void)state;
	check_against_sort(N, 1, false);
	check_against_sort(N, 1, true);
}

static void test_k10(void **state)
{
	(void)state;
	check_against_sort(N, 10, false);
	check_against_sort(N, 10, true);
}

static void test_k1000(void **state)
{
	(void)state;
	check_against_sort(N, 1000, false);
	check_against_sort(N, 1000, true);
}

static void test_k_above_n(void **state)
{
	(void)state;
	check_against_sort(50, 100, false);
	check_against_sort(50, 100, true);
	check_against_sort(N, N, true);
	check_against_sort(1, 3, false);
}

/* Many sizes, so heaps of every shape are sorted. */
static void test_small_sizes(void **state)
{
	unsigned int n, k;

	(void)state;
	for (n = 1; n <= 40; n++)
		for (k = 1; k <= 42; k++)
			check_against_sort(n, k, n & 1);
}

/* The same candidates in another order give the same answer. */
static void test_order_independent(void **state)
{
	struct vexfs_topk t;
	struct vexfs_topk_entry first[64];
	unsigned int i, k = 64;

	(void)state;
	make_candidates(N, true);
	vexfs_topk_init(&t, storage, k);
	for (i = 0; i < N; i++)
		vexfs_topk_push(&t, ids[i], dists[i]);
	vexfs_topk_extract(&t);
	memcpy(first, storage, sizeof(first));

	vexfs_topk_init(&t, storage, k);
	for (i = N; i-- > 0;)
		vexfs_topk_push(&t, ids[i], dists[i]);
	vexfs_topk_extract(&t);
	for (i = 0; i < k; i++) {
		assert_int_equal(storage[i].id, first[i].id);
		assert_true(storage[i].dist == first[i].dist);
	}
}

/* All distances equal: the smallest ids win, in id order. */
static void test_ties(void **state)
{
	struct vexfs_topk t;
	struct vexfs_topk_entry e[4];
	static const uint64_t order[] = { 9, 3, 7, 1, 8, 2, 6, 5, 4, 0 };
	unsigned int i;

	(void)state;
	vexfs_topk_init(&t, e, 4);
	for (i = 0; i < 10; i++)
		vexfs_topk_push(&t, order[i], 1.5f);
	/* Equal to the bound but a larger id: rejected. */
	assert_false(vexfs_topk_push(&t, 100, 1.5f));
	assert_true(vexfs_topk_worst(&t) == 1.5f);
	assert_int_equal(vexfs_topk_extract(&t), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(e[i].id, i);
		assert_true(e[i].dist == 1.5f);
	}
}

static void test_nan_and_infinity(void **state)
{
	struct vexfs_topk t;
	struct vexfs_topk_entry e[3];

	(void)state;
	vexfs_topk_init(&t, e, 3);
	assert_false(vexfs_topk_push(&t, 1, NAN));
	assert_int_equal(vexfs_topk_count(&t), 0);
	assert_true(vexfs_topk_push(&t, 2, INFINITY));
	assert_true(vexfs_topk_push(&t, 3, -1.0f));
	assert_true(vexfs_topk_push(&t, 4, 0.0f));
	assert_false(vexfs_topk_push(&t, 5, NAN));
	assert_true(vexfs_topk_push(&t, 6, 5.0f));	/* evicts the infinity */
	assert_int_equal(vexfs_topk_extract(&t), 3);
	assert_int_equal(e[0].id, 3);
	assert_int_equal(e[1].id, 4);
	assert_int_equal(e[2].id, 6);
}

static void test_k_zero(void **state)
{
	struct vexfs_topk t;

	(void)state;
	vexfs_topk_init(&t, NULL, 0);
	assert_false(vexfs_topk_push(&t, 1, -1e30f));
	assert_true(isinf(vexfs_topk_worst(&t)) && vexfs_topk_worst(&t) < 0);
	assert_int_equal(vexfs_topk_extract(&t), 0);
}

/* The pointer-only entry point keeps what one push at a time keeps. */
static void test_push_array(void **state)
{
	struct vexfs_topk t;
	struct vexfs_topk_entry first[100];
	unsigned int i, kept = 0;

	(void)state;
	make_candidates(N, false);
	vexfs_topk_init(&t, first, 100);
	for (i = 0; i < N; i++)
		kept += vexfs_topk_push(&t, ids[i], dists[i]);
	vexfs_topk_extract(&t);

	vexfs_topk_init(&t, storage, 100);
	assert_int_equal(vexfs_topk_push_array(&t, ids, dists, N), kept);
	vexfs_topk_extract(&t);
	for (i = 0; i < 100; i++) {
		assert_int_equal(storage[i].id, first[i].id);
		assert_true(storage[i].dist == first[i].dist);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_k1),
		cmocka_unit_test(test_k10),
		cmocka_unit_test(test_k1000),
		cmocka_unit_test(test_k_above_n),
		cmocka_unit_test(test_small_sizes),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_nan_and_infinity),
		cmocka_unit_test(test_k_zero),
		cmocka_unit_test(test_push_array),
	};

	return cmocka_run_group_tests_name("topk", tests, NULL, NULL);
}
