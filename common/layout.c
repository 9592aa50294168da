// SPDX-License-Identifier: GPL-2.0
/*
 * VexFS geometry. Regions follow each other with no gaps:
 *
 *   superblock | journal | inode bitmap | block bitmap | inode table | data
 *
 * The only circular dependency is that the inode table and inode bitmap
 * eat into the space that decides how many inodes fit; it is resolved by
 * computing the largest inode table that leaves the minimum data area.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <uapi/vexfs_fs.h>

#include "layout.h"

__attribute__((format(printf, 3, 4)))
static int layout_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint64_t div_round_up(uint64_t n, uint64_t d)
{
	return n / d + (n % d != 0);
}

static uint64_t round_up(uint64_t n, uint64_t multiple)
{
	return div_round_up(n, multiple) * multiple;
}

static uint64_t bitmap_blocks_for(uint64_t bits)
{
	return div_round_up(bits, VEXFS_BITS_PER_BITMAP);
}

static uint64_t journal_blocks_for(uint64_t blocks_count)
{
	uint64_t want = blocks_count / 64;

	if (blocks_count * VEXFS_BLOCK_SIZE < VEXFS_JOURNAL_MIN_IMAGE_BYTES)
		return 0;
	if (want < VEXFS_JOURNAL_MIN_BLOCKS)
		return VEXFS_JOURNAL_MIN_BLOCKS;
	if (want > VEXFS_JOURNAL_MAX_BLOCKS)
		return VEXFS_JOURNAL_MAX_BLOCKS;
	return want;
}

/* Blocks needed by the inode bitmap and inode table for @table_blocks. */
static uint64_t inode_area_blocks(uint64_t table_blocks)
{
	return table_blocks +
	       bitmap_blocks_for(table_blocks * VEXFS_INODES_PER_BLOCK);
}

/*
 * The largest inode table whose blocks plus its bitmap fit in @avail
 * blocks. Start from the exact ratio (one bitmap bit per inode) and
 * correct for the rounding of the bitmap to whole blocks.
 */
static uint64_t max_inode_table_blocks(uint64_t avail)
{
	uint64_t per_block = VEXFS_INODES_PER_BLOCK;
	uint64_t t = avail - div_round_up(avail * per_block,
					  VEXFS_BITS_PER_BITMAP + per_block);

	while (t > 0 && inode_area_blocks(t) > avail)
		t--;
	while (inode_area_blocks(t + 1) <= avail)
		t++;
	return t;
}

/* Inode slots wanted: usable inodes plus slot 0, filling whole table blocks. */
static uint64_t wanted_inode_slots(const struct vexfs_layout_request *req,
				   uint64_t blocks_count)
{
	uint64_t usable = req->inodes;

	if (!usable) {
		uint64_t ratio = req->bytes_per_inode ?
				 req->bytes_per_inode :
				 VEXFS_DEFAULT_BYTES_PER_INODE;

		usable = blocks_count * VEXFS_BLOCK_SIZE / ratio;
		if (usable < 1)
			usable = 1;
	}
	if (usable >= VEXFS_MAX_INODES_COUNT)
		return VEXFS_MAX_INODES_COUNT;
	return round_up(usable + 1, VEXFS_INODES_PER_BLOCK);
}

static uint64_t max_inode_slots(void)
{
	return VEXFS_MAX_INODES_COUNT / VEXFS_INODES_PER_BLOCK *
	       VEXFS_INODES_PER_BLOCK;
}

static int check_request(const struct vexfs_layout_request *req, char *err,
			 size_t errlen)
{
	uint64_t ratio = req->bytes_per_inode;

	if (req->inodes && ratio)
		return layout_error(err, errlen,
				    "give an inode count or a bytes-per-inode ratio, not both");
	if (ratio && (ratio < VEXFS_MIN_BYTES_PER_INODE ||
		      ratio > VEXFS_MAX_BYTES_PER_INODE))
		return layout_error(err, errlen,
				    "bytes-per-inode %" PRIu64 " out of range (%llu to %llu)",
				    ratio, VEXFS_MIN_BYTES_PER_INODE,
				    VEXFS_MAX_BYTES_PER_INODE);
	return 0;
}

static uint64_t min_blocks_count(uint64_t journal_blocks)
{
	/* superblock, journal, one block of each bitmap and of inode table */
	return 1 + journal_blocks + 3 + VEXFS_MIN_DATA_BLOCKS;
}

int vexfs_layout_compute(const struct vexfs_layout_request *req,
			 struct vexfs_layout *out, char *err, size_t errlen)
{
	uint64_t blocks = req->device_bytes / VEXFS_BLOCK_SIZE;
	uint64_t journal = journal_blocks_for(blocks);
	uint64_t bbm_blocks = bitmap_blocks_for(blocks);
	uint64_t fixed = 1 + journal + bbm_blocks + VEXFS_MIN_DATA_BLOCKS;
	uint64_t slots, max_slots, table_blocks;

	if (check_request(req, err, errlen))
		return -1;
	if (blocks < fixed + 2)
		return layout_error(err, errlen,
				    "device too small: %" PRIu64 " blocks of %u bytes, need at least %" PRIu64,
				    blocks, VEXFS_BLOCK_SIZE,
				    min_blocks_count(journal));

	slots = wanted_inode_slots(req, blocks);
	max_slots = max_inode_table_blocks(blocks - fixed) *
		    VEXFS_INODES_PER_BLOCK;
	if (max_slots > max_inode_slots())
		max_slots = max_inode_slots();

	out->inodes_capped = slots > max_slots;
	if (out->inodes_capped)
		slots = max_slots;
	table_blocks = div_round_up(slots, VEXFS_INODES_PER_BLOCK);

	out->blocks_count = blocks;
	out->inodes_count = slots;
	out->journal_start = 1;
	out->journal_blocks = journal;
	out->inode_bitmap_start = out->journal_start + journal;
	out->inode_bitmap_blocks = bitmap_blocks_for(slots);
	out->block_bitmap_start = out->inode_bitmap_start +
				  out->inode_bitmap_blocks;
	out->block_bitmap_blocks = bbm_blocks;
	out->inode_table_start = out->block_bitmap_start + bbm_blocks;
	out->inode_table_blocks = table_blocks;
	out->data_start = out->inode_table_start + table_blocks;
	return 0;
}

/* a + b into *end, failing on overflow: the layout may come from disk. */
static bool region_end(uint64_t start, uint64_t count, uint64_t *end)
{
	return !__builtin_add_overflow(start, count, end);
}

static bool covers(uint64_t blocks, uint64_t per_block, uint64_t needed)
{
	uint64_t capacity;

	if (__builtin_mul_overflow(blocks, per_block, &capacity))
		return true;
	return capacity >= needed;
}

struct region {
	const char *name;
	uint64_t start;
	uint64_t blocks;
};

static int check_regions_in_order(const struct region *r, size_t n,
				  uint64_t blocks_count, char *err,
				  size_t errlen)
{
	uint64_t next_free = 1;	/* block 0 is the superblock */
	size_t i;

	for (i = 0; i < n; i++) {
		if (r[i].start < next_free)
			return layout_error(err, errlen,
					    "%s starts at block %" PRIu64 ", overlapping what comes before (first free %" PRIu64 ")",
					    r[i].name, r[i].start, next_free);
		if (!region_end(r[i].start, r[i].blocks, &next_free) ||
		    next_free > blocks_count)
			return layout_error(err, errlen,
					    "%s (%" PRIu64 " blocks at %" PRIu64 ") runs past the end of the device (%" PRIu64 " blocks)",
					    r[i].name, r[i].blocks, r[i].start,
					    blocks_count);
	}
	return 0;
}

int vexfs_layout_validate(const struct vexfs_layout *l, char *err,
			  size_t errlen)
{
	const struct region regions[] = {
		{ "journal", l->journal_start, l->journal_blocks },
		{ "inode bitmap", l->inode_bitmap_start, l->inode_bitmap_blocks },
		{ "block bitmap", l->block_bitmap_start, l->block_bitmap_blocks },
		{ "inode table", l->inode_table_start, l->inode_table_blocks },
		{ "data area", l->data_start, 0 },
	};

	if (l->inodes_count < VEXFS_ROOT_INO + 1 ||
	    l->inodes_count > VEXFS_MAX_INODES_COUNT)
		return layout_error(err, errlen, "bad inode count %" PRIu64,
				    l->inodes_count);
	if (!covers(l->inode_bitmap_blocks, VEXFS_BITS_PER_BITMAP,
		    l->inodes_count))
		return layout_error(err, errlen,
				    "inode bitmap of %" PRIu64 " blocks cannot hold %" PRIu64 " inodes",
				    l->inode_bitmap_blocks, l->inodes_count);
	if (!covers(l->block_bitmap_blocks, VEXFS_BITS_PER_BITMAP,
		    l->blocks_count))
		return layout_error(err, errlen,
				    "block bitmap of %" PRIu64 " blocks cannot hold %" PRIu64 " blocks",
				    l->block_bitmap_blocks, l->blocks_count);
	if (!covers(l->inode_table_blocks, VEXFS_INODES_PER_BLOCK,
		    l->inodes_count))
		return layout_error(err, errlen,
				    "inode table of %" PRIu64 " blocks cannot hold %" PRIu64 " inodes",
				    l->inode_table_blocks, l->inodes_count);
	return check_regions_in_order(regions,
				      sizeof(regions) / sizeof(regions[0]),
				      l->blocks_count, err, errlen);
}

uint64_t vexfs_layout_free_blocks(const struct vexfs_layout *l)
{
	return l->blocks_count - l->data_start;
}

uint64_t vexfs_layout_free_inodes(const struct vexfs_layout *l)
{
	/* slot 0 is never used and the root takes slot 1 */
	return l->inodes_count - (VEXFS_ROOT_INO + 1);
}
