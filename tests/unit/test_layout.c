// SPDX-License-Identifier: GPL-2.0
/*
 * Geometry: for many device sizes the regions must be in order, touch
 * without overlapping, fit the device and be big enough for the counts;
 * the inode request and the journal rule must be honoured; too small a
 * device must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <uapi/vexfs_fs.h>

#include "layout.h"

#define KiB	1024ull
#define MiB	(1024 * KiB)
#define GiB	(1024 * MiB)
#define TiB	(1024 * GiB)

static uint64_t div_up(uint64_t n, uint64_t d)
{
	return (n + d - 1) / d;
}

static struct vexfs_layout compute_ok(uint64_t bytes, uint64_t inodes,
				      uint64_t ratio)
{
	struct vexfs_layout_request req = {
		.device_bytes = bytes,
		.inodes = inodes,
		.bytes_per_inode = ratio,
	};
	struct vexfs_layout l;
	char err[256] = "";

	if (vexfs_layout_compute(&req, &l, err, sizeof(err)))
		fail_msg("layout of %llu bytes refused: %s",
			 (unsigned long long)bytes, err);
	return l;
}

static void assert_refused(uint64_t bytes, uint64_t inodes, uint64_t ratio,
			   const char *why)
{
	struct vexfs_layout_request req = {
		.device_bytes = bytes,
		.inodes = inodes,
		.bytes_per_inode = ratio,
	};
	struct vexfs_layout l;
	char err[256] = "";

	assert_int_equal(vexfs_layout_compute(&req, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
}

/* The properties every computed layout must have, checked one by one. */
static void assert_sound(const struct vexfs_layout *l, uint64_t bytes)
{
	char err[256] = "";

	assert_int_equal(l->blocks_count, bytes / VEXFS_BLOCK_SIZE);
	assert_int_equal(l->journal_start, 1);
	assert_int_equal(l->inode_bitmap_start,
			 l->journal_start + l->journal_blocks);
	assert_int_equal(l->block_bitmap_start,
			 l->inode_bitmap_start + l->inode_bitmap_blocks);
	assert_int_equal(l->inode_table_start,
			 l->block_bitmap_start + l->block_bitmap_blocks);
	assert_int_equal(l->data_start,
			 l->inode_table_start + l->inode_table_blocks);
	assert_true(l->data_start + VEXFS_MIN_DATA_BLOCKS <= l->blocks_count);

	/* bitmaps and table exactly as big as needed, no bigger */
	assert_int_equal(l->inode_bitmap_blocks,
			 div_up(l->inodes_count, VEXFS_BITS_PER_BITMAP));
	assert_int_equal(l->block_bitmap_blocks,
			 div_up(l->blocks_count, VEXFS_BITS_PER_BITMAP));
	assert_int_equal(l->inode_table_blocks * VEXFS_INODES_PER_BLOCK,
			 l->inodes_count);
	assert_true(l->inodes_count >= VEXFS_ROOT_INO + 1);
	assert_true(l->inodes_count <= VEXFS_MAX_INODES_COUNT);

	assert_int_equal(vexfs_layout_validate(l, err, sizeof(err)), 0);
	assert_int_equal(vexfs_layout_free_blocks(l),
			 l->blocks_count - l->data_start);
	assert_int_equal(vexfs_layout_free_inodes(l), l->inodes_count - 2);
}

static uint64_t expected_journal(uint64_t blocks)
{
	uint64_t j = blocks / 64;

	if (blocks * VEXFS_BLOCK_SIZE < 128 * MiB)
		return 0;
	return j < 1024 ? 1024 : j > 32768 ? 32768 : j;
}

static void test_many_sizes_are_sound(void **state)
{
	static const uint64_t sizes[] = {
		68 * 4 * KiB, 69 * 4 * KiB + 100, 1 * MiB, 8 * MiB, 64 * MiB,
		128 * MiB - 4 * KiB, 128 * MiB, 200 * MiB, 1 * GiB,
		4 * GiB + 12345, 100 * GiB, 1 * TiB, 16 * TiB, 1024 * TiB,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vexfs_layout l = compute_ok(sizes[i], 0, 0);

		assert_sound(&l, sizes[i]);
		assert_int_equal(l.journal_blocks,
				 expected_journal(l.blocks_count));
	}
}

static void test_journal_rule(void **state)
{
	(void)state;
	assert_int_equal(compute_ok(128 * MiB - 4 * KiB, 0, 0).journal_blocks, 0);
	assert_int_equal(compute_ok(128 * MiB, 0, 0).journal_blocks, 1024);
	assert_int_equal(compute_ok(1 * GiB, 0, 0).journal_blocks, 4096);
	assert_int_equal(compute_ok(8 * GiB, 0, 0).journal_blocks, 32768);
	assert_int_equal(compute_ok(1 * TiB, 0, 0).journal_blocks, 32768);
}

/* One inode per 16 KiB unless told otherwise; slot 0 on top. */
static void test_default_ratio(void **state)
{
	struct vexfs_layout l = compute_ok(1 * GiB, 0, 0);

	(void)state;
	assert_true(l.inodes_count - 1 >= GiB / 16384);
	assert_true(l.inodes_count - 1 < GiB / 16384 + VEXFS_INODES_PER_BLOCK);
	assert_false(l.inodes_capped);
}

static void test_ratio_honoured(void **state)
{
	static const uint64_t ratios[] = { 1024, 4096, 65536, 64 * MiB };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
		struct vexfs_layout l = compute_ok(1 * GiB, 0, ratios[i]);
		uint64_t want = GiB / ratios[i];

		assert_sound(&l, 1 * GiB);
		assert_true(l.inodes_count - 1 >= want);
		assert_true(l.inodes_count - 1 < want + VEXFS_INODES_PER_BLOCK);
	}
}

static void test_inode_count_honoured(void **state)
{
	static const uint64_t counts[] = { 1, 15, 16, 17, 1000, 100000 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct vexfs_layout l = compute_ok(1 * GiB, counts[i], 0);

		assert_sound(&l, 1 * GiB);
		assert_true(l.inodes_count - 1 >= counts[i]);
		assert_true(l.inodes_count - 1 < counts[i] + VEXFS_INODES_PER_BLOCK);
		assert_false(l.inodes_capped);
	}
}

/* Asking for more inodes than fit gives the most that fit, no more. */
static void test_inode_count_capped(void **state)
{
	static const uint64_t sizes[] = { 68 * 4 * KiB, 1 * MiB, 64 * MiB };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vexfs_layout l = compute_ok(sizes[i], 1ull << 40, 0);
		uint64_t spare = l.blocks_count - l.data_start -
				 VEXFS_MIN_DATA_BLOCKS;
		uint64_t more = l.inodes_count + VEXFS_INODES_PER_BLOCK;
		uint64_t cost = 1 + div_up(more, VEXFS_BITS_PER_BITMAP) -
				l.inode_bitmap_blocks;

		assert_sound(&l, sizes[i]);
		assert_true(l.inodes_capped);
		/* one more table block, with its bitmap growth, won't fit */
		assert_true(spare < cost);
	}
}

static void test_inode_count_below_2_32(void **state)
{
	struct vexfs_layout l = compute_ok(1024 * TiB, 0, 1024);

	(void)state;
	assert_sound(&l, 1024 * TiB);
	assert_true(l.inodes_capped);
	assert_true(l.inodes_count <= 0xFFFFFFFFull);
}

static void test_too_small_refused(void **state)
{
	(void)state;
	assert_refused(0, 0, 0, "too small");
	assert_refused(4095, 0, 0, "too small");
	assert_refused(67 * 4 * KiB, 0, 0, "too small");
	assert_refused(68 * 4 * KiB - 1, 0, 0, "need at least 68");
	compute_ok(68 * 4 * KiB, 0, 0);
}

static void test_bad_requests_refused(void **state)
{
	(void)state;
	assert_refused(1 * GiB, 100, 4096, "not both");
	assert_refused(1 * GiB, 0, 512, "out of range");
	assert_refused(1 * GiB, 0, 128 * MiB, "out of range");
}

/* validate() is also fsck's check of a superblock: it must catch damage. */
static void test_validate_catches_bad_layouts(void **state)
{
	struct vexfs_layout good = compute_ok(1 * GiB, 0, 0), l;
	char err[256];

	(void)state;
	l = good;
	l.block_bitmap_start--;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "overlapping"));

	l = good;
	l.blocks_count = l.data_start - 1;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);

	l = good;
	l.inode_table_start = UINT64_MAX - 1;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);

	l = good;
	l.inodes_count = l.inode_table_blocks * VEXFS_INODES_PER_BLOCK + 1;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);

	l = good;
	l.block_bitmap_blocks = 1;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "block bitmap"));

	l = good;
	l.journal_start = 0;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);

	l = good;
	l.inodes_count = 1;
	assert_int_equal(vexfs_layout_validate(&l, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_sizes_are_sound),
		cmocka_unit_test(test_journal_rule),
		cmocka_unit_test(test_default_ratio),
		cmocka_unit_test(test_ratio_honoured),
		cmocka_unit_test(test_inode_count_honoured),
		cmocka_unit_test(test_inode_count_capped),
		cmocka_unit_test(test_inode_count_below_2_32),
		cmocka_unit_test(test_too_small_refused),
		cmocka_unit_test(test_bad_requests_refused),
		cmocka_unit_test(test_validate_catches_bad_layouts),
	};

	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
