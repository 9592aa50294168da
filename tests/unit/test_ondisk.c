// SPDX-License-Identifier: GPL-2.0
/*
 * On-disk encoding: struct sizes, checksums as the header defines them
 * (recomputed here independently), bit order, and that any flipped bit is
 * caught.
 */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "crc32c.h"
#include "layout.h"
#include "ondisk.h"

static struct vexfs_layout layout_of(uint64_t bytes)
{
	struct vexfs_layout_request req = { .device_bytes = bytes };
	struct vexfs_layout l;
	char err[256];

	assert_int_equal(vexfs_layout_compute(&req, &l, err, sizeof(err)), 0);
	return l;
}

static void encode_test_super(struct vexfs_super_block *sb,
			      const struct vexfs_layout *l)
{
	struct vexfs_super_params p = {
		.label = "scratch",
		.uuid = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
		.mkfs_time = 1700000000,
	};

	vexfs_encode_super(sb, l, &p);
}

static void encode_test_root(struct vexfs_inode *raw)
{
	struct vexfs_inode_params p = {
		.mode = S_IFDIR | 0755,
		.nlink = 2,
		.time = { .tv_sec = 1700000000, .tv_nsec = 123456789 },
		.generation = 0xdeadbeef,
		.parent = VEXFS_ROOT_INO,
	};

	vexfs_encode_inode(raw, VEXFS_ROOT_INO, &p);
}

static void flip_bit(void *buf, size_t bit)
{
	((uint8_t *)buf)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void test_struct_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vexfs_super_block), 512);
	assert_int_equal(sizeof(struct vexfs_inode), VEXFS_INODE_SIZE);
	assert_int_equal(sizeof(struct vexfs_block_tail), 8);
	assert_int_equal(sizeof(struct vexfs_extent_header), 16);
	assert_int_equal(sizeof(struct vexfs_extent), 16);
	assert_int_equal(sizeof(struct vexfs_extent_index), 16);
	assert_int_equal(VEXFS_INODES_PER_BLOCK, 16);
	assert_int_equal(VEXFS_BITS_PER_BITMAP, (4096 - 8) * 8);
	assert_int_equal(VEXFS_EXTENT_ROOT_MAX, 9);
	assert_int_equal(offsetof(struct vexfs_super_block, s_checksum), 4);
	assert_int_equal(offsetof(struct vexfs_inode, i_checksum), 92);
	assert_int_equal(offsetof(struct vexfs_inode, i_extent_root), 96);
}

static void test_super_fields(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);
	struct vexfs_super_block sb;

	(void)state;
	encode_test_super(&sb, &l);
	assert_int_equal(le32toh(sb.s_magic), VEXFS_MAGIC);
	assert_memory_equal(&sb, "FXEV", 4);
	assert_int_equal(le32toh(sb.s_format_version), VEXFS_FORMAT_VERSION);
	assert_int_equal(le32toh(sb.s_block_shift), 12);
	assert_int_equal(le64toh(sb.s_feature_compat),
			 VEXFS_FEATURE_COMPAT_JOURNAL);
	assert_int_equal(le64toh(sb.s_feature_ro_compat), 0);
	assert_int_equal(le64toh(sb.s_feature_incompat),
			 VEXFS_FEATURE_INCOMPAT_EXTENTS);
	assert_int_equal(le64toh(sb.s_free_blocks),
			 l.blocks_count - l.data_start);
	assert_int_equal(le64toh(sb.s_free_inodes), l.inodes_count - 2);
	assert_int_equal(le64toh(sb.s_root_ino), VEXFS_ROOT_INO);
	assert_int_equal(le16toh(sb.s_state), VEXFS_STATE_CLEAN);
	assert_int_equal(le64toh(sb.s_mkfs_time), 1700000000);
	assert_string_equal(sb.s_label, "scratch");
	assert_int_equal(sb.s_uuid[15], 16);
}

static void test_super_layout_round_trip(void **state)
{
	struct vexfs_layout l = layout_of(5ull << 30), back;
	struct vexfs_super_block sb;
	char err[256] = "";

	(void)state;
	encode_test_super(&sb, &l);
	assert_int_equal(vexfs_check_super(&sb, err, sizeof(err)), 0);
	vexfs_decode_layout(&sb, &back);
	assert_int_equal(back.blocks_count, l.blocks_count);
	assert_int_equal(back.inodes_count, l.inodes_count);
	assert_int_equal(back.journal_start, l.journal_start);
	assert_int_equal(back.journal_blocks, l.journal_blocks);
	assert_int_equal(back.inode_bitmap_start, l.inode_bitmap_start);
	assert_int_equal(back.inode_bitmap_blocks, l.inode_bitmap_blocks);
	assert_int_equal(back.block_bitmap_start, l.block_bitmap_start);
	assert_int_equal(back.block_bitmap_blocks, l.block_bitmap_blocks);
	assert_int_equal(back.inode_table_start, l.inode_table_start);
	assert_int_equal(back.inode_table_blocks, l.inode_table_blocks);
	assert_int_equal(back.data_start, l.data_start);
}

/* The rule from the header, computed without the helper under test. */
static void test_super_checksum_rule(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);
	struct vexfs_super_block sb, zeroed;

	(void)state;
	encode_test_super(&sb, &l);
	zeroed = sb;
	zeroed.s_checksum = 0;
	assert_int_equal(le32toh(sb.s_checksum),
			 vexfs_crc32c(VEXFS_CRC_SEED, &zeroed, 512));
	assert_true(vexfs_super_csum_ok(&sb));
}

static void test_super_any_flipped_bit_fails(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);
	struct vexfs_super_block sb;
	char err[256];
	size_t bit;

	(void)state;
	encode_test_super(&sb, &l);
	for (bit = 0; bit < sizeof(sb) * 8; bit++) {
		flip_bit(&sb, bit);
		assert_false(vexfs_super_csum_ok(&sb));
		assert_int_equal(vexfs_check_super(&sb, err, sizeof(err)), -1);
		flip_bit(&sb, bit);
	}
	assert_true(vexfs_super_csum_ok(&sb));
}

static void test_super_unknown_incompat_refused(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);
	struct vexfs_super_block sb;
	char err[256] = "";

	(void)state;
	encode_test_super(&sb, &l);
	sb.s_feature_incompat |= htole64(1ull << 7);
	vexfs_super_csum_set(&sb);
	assert_int_equal(vexfs_check_super(&sb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "incompatible"));
}

static void test_super_without_extents_refused(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);
	struct vexfs_super_block sb;
	char err[256] = "";

	(void)state;
	encode_test_super(&sb, &l);
	sb.s_feature_incompat = 0;
	vexfs_super_csum_set(&sb);
	assert_int_equal(vexfs_check_super(&sb, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "extent"));
}

static void test_label_always_terminated(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);
	struct vexfs_super_params p = {
		.label = "0123456789abcdef0123456789abcdef-too-long",
	};
	struct vexfs_super_block sb;

	(void)state;
	vexfs_encode_super(&sb, &l, &p);
	assert_int_equal(sb.s_label[VEXFS_LABEL_LEN - 1], '\0');
	assert_int_equal(strlen(sb.s_label), VEXFS_LABEL_LEN - 1);
}

static void test_root_inode(void **state)
{
	struct vexfs_inode raw, zeroed;
	struct vexfs_extent_header eh;
	uint8_t zeros[VEXFS_EXTENT_ROOT_SIZE - sizeof(eh)];

	(void)state;
	encode_test_root(&raw);
	assert_int_equal(le16toh(raw.i_mode), S_IFDIR | 0755);
	assert_int_equal(le32toh(raw.i_nlink), 2);
	assert_int_equal(le64toh(raw.i_size), 0);
	assert_int_equal(le64toh(raw.i_blocks), 0);
	assert_int_equal(le64toh(raw.i_parent), VEXFS_ROOT_INO);
	assert_int_equal(le64toh(raw.i_xattr_block), 0);
	assert_int_equal(le64toh(raw.i_mtime), 1700000000);
	assert_int_equal(le32toh(raw.i_ctime_nsec), 123456789);
	assert_int_equal(le32toh(raw.i_generation), 0xdeadbeef);

	memcpy(&eh, raw.i_extent_root, sizeof(eh));
	assert_int_equal(le16toh(eh.eh_magic), VEXFS_EXTENT_NODE_MAGIC);
	assert_int_equal(le16toh(eh.eh_entries), 0);
	assert_int_equal(le16toh(eh.eh_max), VEXFS_EXTENT_ROOT_MAX);
	assert_int_equal(le16toh(eh.eh_depth), 0);
	memset(zeros, 0, sizeof(zeros));
	assert_memory_equal(raw.i_extent_root + sizeof(eh), zeros,
			    sizeof(zeros));

	zeroed = raw;
	zeroed.i_checksum = 0;
	assert_int_equal(le32toh(raw.i_checksum),
			 vexfs_crc32c(VEXFS_CRC_SEED ^ 1u, &zeroed, 256));
}

static void test_inode_checksum_bound_to_number(void **state)
{
	struct vexfs_inode raw;
	size_t bit;

	(void)state;
	encode_test_root(&raw);
	assert_true(vexfs_inode_csum_ok(&raw, VEXFS_ROOT_INO));
	assert_false(vexfs_inode_csum_ok(&raw, 2));
	/* only the low 32 bits of the number seed the checksum */
	assert_true(vexfs_inode_csum_ok(&raw, (1ull << 32) | 1));
	for (bit = 0; bit < sizeof(raw) * 8; bit++) {
		flip_bit(&raw, bit);
		assert_false(vexfs_inode_csum_ok(&raw, VEXFS_ROOT_INO));
		flip_bit(&raw, bit);
	}
}

/* Bit n is bit n % 8 of byte n / 8, as the kernel's test_bit_le() reads. */
static void test_bit_order(void **state)
{
	uint8_t map[4] = { 0 };

	(void)state;
	vexfs_bit_set(map, 0);
	vexfs_bit_set(map, 9);
	vexfs_bit_set(map, 31);
	assert_int_equal(map[0], 0x01);
	assert_int_equal(map[1], 0x02);
	assert_int_equal(map[3], 0x80);
	assert_true(vexfs_bit_test(map, 9));
	assert_false(vexfs_bit_test(map, 8));
}

static void test_bit_set_range_matches_single_bits(void **state)
{
	uint8_t a[16], b[16];
	uint64_t first, count, i;

	(void)state;
	for (first = 0; first < 24; first++)
		for (count = 0; first + count <= 128; count++) {
			memset(a, 0, sizeof(a));
			memset(b, 0, sizeof(b));
			vexfs_bit_set_range(a, first, count);
			for (i = first; i < first + count; i++)
				vexfs_bit_set(b, i);
			assert_memory_equal(a, b, sizeof(a));
		}
}

static uint64_t count_set_bits(const uint8_t *block)
{
	uint64_t n = 0, bit;

	for (bit = 0; bit < VEXFS_BITS_PER_BITMAP; bit++)
		n += vexfs_bit_test(block, bit);
	return n;
}

static void test_bitmap_block(void **state)
{
	static uint8_t block[VEXFS_BLOCK_SIZE];
	const uint64_t bits = VEXFS_BITS_PER_BITMAP;
	uint64_t count = 2 * bits + 100;	/* the third block is partly past the end */

	(void)state;
	vexfs_encode_bitmap_block(block, 0, 2, count, 77);
	assert_true(vexfs_block_sealed_ok(block, VEXFS_BITMAP_MAGIC, 77));
	assert_true(vexfs_bit_test(block, 0));
	assert_true(vexfs_bit_test(block, 1));
	assert_false(vexfs_bit_test(block, 2));
	assert_int_equal(count_set_bits(block), 2);

	vexfs_encode_bitmap_block(block, 1, 2, count, 78);
	assert_int_equal(count_set_bits(block), 0);

	vexfs_encode_bitmap_block(block, 2, 2, count, 79);
	assert_false(vexfs_bit_test(block, 99));
	assert_true(vexfs_bit_test(block, 100));
	assert_true(vexfs_bit_test(block, bits - 1));
	assert_int_equal(count_set_bits(block), bits - 100);

	/* reserved bits spilling into the second block */
	vexfs_encode_bitmap_block(block, 1, bits + 5, count, 78);
	assert_int_equal(count_set_bits(block), 5);
	assert_true(vexfs_bit_test(block, 4));
	assert_false(vexfs_bit_test(block, 5));
}

static void test_block_checksum_rule(void **state)
{
	static uint8_t block[VEXFS_BLOCK_SIZE];
	struct vexfs_block_tail tail;

	(void)state;
	vexfs_encode_bitmap_block(block, 0, 10, 1000, 1234);
	memcpy(&tail, block + VEXFS_BLOCK_PAYLOAD, sizeof(tail));
	assert_int_equal(le32toh(tail.t_magic), VEXFS_BITMAP_MAGIC);
	assert_int_equal(le32toh(tail.t_checksum),
			 vexfs_crc32c(VEXFS_CRC_SEED ^ 1234u, block, 4092));
}

static void test_block_damage_detected(void **state)
{
	static uint8_t block[VEXFS_BLOCK_SIZE];
	size_t bit;

	(void)state;
	vexfs_encode_bitmap_block(block, 0, 10, 1000, 1234);
	assert_false(vexfs_block_sealed_ok(block, VEXFS_BITMAP_MAGIC, 1235));
	assert_false(vexfs_block_sealed_ok(block, VEXFS_DIR_MAGIC, 1234));
	for (bit = 0; bit < VEXFS_BLOCK_SIZE * 8; bit += 7) {
		flip_bit(block, bit);
		assert_false(vexfs_block_sealed_ok(block, VEXFS_BITMAP_MAGIC,
						   1234));
		flip_bit(block, bit);
	}
	assert_true(vexfs_block_sealed_ok(block, VEXFS_BITMAP_MAGIC, 1234));
}

static void test_inode_location(void **state)
{
	struct vexfs_layout l = layout_of(1ull << 30);

	(void)state;
	assert_int_equal(vexfs_inode_blocknr(&l, 1), l.inode_table_start);
	assert_int_equal(vexfs_inode_slot(1), 1);
	assert_int_equal(vexfs_inode_blocknr(&l, 16), l.inode_table_start + 1);
	assert_int_equal(vexfs_inode_slot(16), 0);
	assert_int_equal(vexfs_inode_slot(35), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_sizes),
		cmocka_unit_test(test_super_fields),
		cmocka_unit_test(test_super_layout_round_trip),
		cmocka_unit_test(test_super_checksum_rule),
		cmocka_unit_test(test_super_any_flipped_bit_fails),
		cmocka_unit_test(test_super_unknown_incompat_refused),
		cmocka_unit_test(test_super_without_extents_refused),
		cmocka_unit_test(test_label_always_terminated),
		cmocka_unit_test(test_root_inode),
		cmocka_unit_test(test_inode_checksum_bound_to_number),
		cmocka_unit_test(test_bit_order),
		cmocka_unit_test(test_bit_set_range_matches_single_bits),
		cmocka_unit_test(test_bitmap_block),
		cmocka_unit_test(test_block_checksum_rule),
		cmocka_unit_test(test_block_damage_detected),
		cmocka_unit_test(test_inode_location),
	};

	return cmocka_run_group_tests_name("ondisk", tests, NULL, NULL);
}
