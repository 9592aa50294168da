// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 6: the on-disk bitmaps against the sets the other
 * passes computed, and the superblock's free counts against those.
 *
 * Computed sets: inode slot 0 and the root always, every inode in use,
 * and the bits past the inode count; blocks before the data area always,
 * every block some inode owns, and the bits past the block count (mkfs
 * sets those, so the allocator can never hand them out). A fix rewrites
 * each bitmap block that differs, resealed. When the owners of some
 * blocks are unknown (a corrupt extent tree or inode), blocks the disk
 * marks in use are kept in use: only missing bits are set.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

#define MAX_RANGES_SHOWN	32

struct bitmap {
	const char *what;		/* "Inode" or "Block" */
	uint64_t start;			/* first bitmap block */
	uint64_t nblocks;
	uint64_t count;			/* objects tracked */
	const uint8_t *disk;
	uint8_t *want;			/* what the disk should say */
	const bool *bad;		/* blocks with a bad tail */
	const bool *dirty;		/* changed by this run's allocations */
	bool keep_used;			/* never clear a bit the disk sets */
};

static uint64_t total_bits(const struct bitmap *b)
{
	return b->nblocks * VEXFS_BITS_PER_BITMAP;
}

static void build_inode_set(struct fsck *f, struct bitmap *b)
{
	uint64_t ino;

	memset(f->ibits, 0, b->nblocks * (VEXFS_BITS_PER_BITMAP / 8));
	vexfs_bit_set_range(f->ibits, 0, VEXFS_ROOT_INO + 1);
	for (ino = VEXFS_ROOT_INO + 1; ino < f->l.inodes_count; ino++)
		if (fsck_ino(f, ino)->state & INO_USED)
			vexfs_bit_set(f->ibits, ino);
	vexfs_bit_set_range(f->ibits, b->count, total_bits(b) - b->count);
}

static void build_block_set(struct fsck *f, struct bitmap *b)
{
	uint64_t i;

	vexfs_bit_set_range(f->bbits, b->count, total_bits(b) - b->count);
	if (!b->keep_used)
		return;
	for (i = 0; i < b->nblocks * (VEXFS_BITS_PER_BITMAP / 8); i++)
		f->bbits[i] |= b->disk[i];
}

static bool differs(const struct bitmap *b, uint64_t bit)
{
	return vexfs_bit_test(b->disk, bit) != vexfs_bit_test(b->want, bit);
}

/* Append " +N" or " -(N--M)" for one run of differing bits. */
static void show_range(char *out, size_t len, const struct bitmap *b,
		       uint64_t first, uint64_t last)
{
	size_t used = strlen(out);
	char sign = vexfs_bit_test(b->want, first) ? '+' : '-';

	if (first == last)
		snprintf(out + used, len - used, " %c%" PRIu64, sign, first);
	else
		snprintf(out + used, len - used, " %c(%" PRIu64 "--%" PRIu64 ")",
			 sign, first, last);
}

/* The differences as e2fsck lists them; false when there are none. */
static bool list_differences(const struct bitmap *b, char *out, size_t len)
{
	uint64_t bit = 0, end = total_bits(b), first;
	unsigned int ranges = 0;

	out[0] = '\0';
	while (bit < end) {
		if (!differs(b, bit)) {
			bit++;
			continue;
		}
		first = bit;
		while (bit + 1 < end && differs(b, bit + 1) &&
		       vexfs_bit_test(b->want, bit + 1) == vexfs_bit_test(b->want, first))
			bit++;
		if (ranges++ < MAX_RANGES_SHOWN)
			show_range(out, len, b, first, bit);
		bit++;
	}
	if (ranges > MAX_RANGES_SHOWN)
		snprintf(out + strlen(out), len - strlen(out), " ... (%u runs)",
			 ranges);
	return ranges > 0;
}

static bool block_differs(const struct bitmap *b, uint64_t i)
{
	size_t bytes = VEXFS_BITS_PER_BITMAP / 8;

	return memcmp(b->disk + i * bytes, b->want + i * bytes, bytes) != 0;
}

static int write_bitmap_block(struct fsck *f, const struct bitmap *b,
			      uint64_t i, const uint8_t *bits)
{
	uint8_t *block = calloc(1, VEXFS_BLOCK_SIZE);
	int ret;

	if (!block)
		return -1;
	memcpy(block, bits + i * (VEXFS_BITS_PER_BITMAP / 8),
	       VEXFS_BITS_PER_BITMAP / 8);
	vexfs_block_seal(block, VEXFS_BITMAP_MAGIC, b->start + i);
	ret = fsck_write_block(f, b->start + i, block);
	free(block);
	return ret;
}

/*
 * Report bad tails and differing bits; rewrite what the answers allow.
 * Returns the bits the disk holds afterwards (or would, with -n: the
 * computed set), for the free counts.
 */
static const uint8_t *check_bitmap(struct fsck *f, struct bitmap *b)
{
	static char ranges[4096];
	bool *reseal = calloc(b->nblocks, sizeof(bool));
	bool fix_bits = false;
	uint64_t i;

	if (!reseal) {
		f->aborted = true;
		return b->want;
	}
	for (i = 0; i < b->nblocks; i++)
		if (b->bad[i])
			reseal[i] = fsck_fixable(f, "%s bitmap block %" PRIu64 ": checksum or magic mismatch.",
						 b->what, b->start + i);
	if (list_differences(b, ranges, sizeof(ranges)))
		fix_bits = fsck_fixable(f, "%s bitmap differences:%s.", b->what,
					ranges);
	for (i = 0; i < b->nblocks && !f->aborted; i++) {
		bool change = fix_bits && block_differs(b, i);

		if ((change || reseal[i] || b->dirty[i]) &&
		    write_bitmap_block(f, b, i, change ? b->want : b->disk))
			fsck_fix_failed(f);
	}
	free(reseal);
	return (fix_bits || !f->writable) ? b->want : b->disk;
}

static uint64_t count_free(const uint8_t *bits, uint64_t count)
{
	uint64_t i, used = 0;

	for (i = 0; i < count; i++)
		used += vexfs_bit_test(bits, i);
	return count - used;
}

static void check_free_count(struct fsck *f, const char *what, __le64 *field,
			     uint64_t counted)
{
	uint64_t stored = le64toh(*field);

	if (stored == counted)
		return;
	if (fsck_fixable(f, "Free %s count wrong (%" PRIu64 ", counted=%" PRIu64 ").",
			 what, stored, counted)) {
		*field = htole64(counted);
		f->super_dirty = true;
	}
}

static void report_kept(struct fsck *f, const struct bitmap *b)
{
	uint64_t bit, kept = 0;

	for (bit = 0; bit < b->count; bit++)
		if (vexfs_bit_test(b->disk, bit) && !vexfs_bit_test(f->bbits, bit))
			kept++;
	if (kept)
		fsck_info(f, "%" PRIu64 " blocks marked in use may belong to the damaged inodes above: not freed.",
			  kept);
}

int fsck_pass6(struct fsck *f)
{
	struct bitmap ib = {
		.what = "Inode", .start = f->l.inode_bitmap_start,
		.nblocks = f->l.inode_bitmap_blocks, .count = f->l.inodes_count,
		.disk = f->disk_ibits, .want = f->ibits, .bad = f->ibm_bad,
		.dirty = f->ibm_dirty,
	};
	struct bitmap bb = {
		.what = "Block", .start = f->l.block_bitmap_start,
		.nblocks = f->l.block_bitmap_blocks, .count = f->l.blocks_count,
		.disk = f->disk_bbits, .want = f->bbits, .bad = f->bbm_bad,
		.dirty = f->bbm_dirty,
		.keep_used = f->blocks_uncertain,
	};
	const uint8_t *final;

	fsck_pass(f, "Pass 6: checking bitmaps and free counts");
	build_inode_set(f, &ib);
	if (bb.keep_used)
		report_kept(f, &bb);
	build_block_set(f, &bb);
	final = check_bitmap(f, &ib);
	f->free_inodes = count_free(final, ib.count);
	check_free_count(f, "inodes", &f->sb.s_free_inodes, f->free_inodes);
	final = check_bitmap(f, &bb);
	f->free_blocks = count_free(final, bb.count);
	check_free_count(f, "blocks", &f->sb.s_free_blocks, f->free_blocks);
	f->counted = true;
	return f->aborted ? -1 : 0;
}
