// SPDX-License-Identifier: GPL-2.0
/*
 * Inode and block allocation over the on-disk bitmaps.
 *
 * Each bitmap block holds VEXFS_BITS_PER_BITMAP little-endian bits followed
 * by a checksummed tail. The free counts are recomputed from the bitmaps at
 * mount, so a crash can never leave them wrong for longer than one mount.
 * The allocator only ever hands out numbers inside the data region (blocks)
 * or above the root (inodes), whatever the bitmaps say, so a corrupted bit
 * cannot make it give away the superblock, a bitmap or the inode table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/bitmap.h>
#include "vexfs.h"

static u64 vexfs_count_zero_bits(struct super_block *sb, u64 start,
				 u64 nblocks, u64 nbits, int *err)
{
	u64 free = 0, i;

	for (i = 0; i < nblocks; i++) {
		u64 first = i * VEXFS_BITS_PER_BITMAP;
		u64 bits = min_t(u64, VEXFS_BITS_PER_BITMAP, nbits - first);
		struct buffer_head *bh;

		if (first >= nbits)
			break;
		bh = vexfs_bread_meta(sb, start + i, VEXFS_BITMAP_MAGIC);
		if (IS_ERR(bh)) {
			*err = PTR_ERR(bh);
			return 0;
		}
		free += bits - bitmap_weight((unsigned long *)bh->b_data, bits);
		brelse(bh);
	}
	*err = 0;
	return free;
}

/* Recompute the free counts from the bitmaps; called at mount. */
int vexfs_count_free(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	int err;

	sbi->free_inodes = vexfs_count_zero_bits(sb, sbi->inode_bitmap_start,
						 sbi->inode_bitmap_blocks,
						 sbi->inodes_count, &err);
	if (err)
		return err;
	sbi->free_blocks = vexfs_count_zero_bits(sb, sbi->block_bitmap_start,
						 sbi->block_bitmap_blocks,
						 sbi->blocks_count, &err);
	return err;
}

/*
 * Find a zero bit in [lo, hi), starting at goal and wrapping around once,
 * set it and up to want - 1 zero bits after it within the same bitmap
 * block. Returns the first bit and stores the run length in *got.
 */
static int vexfs_bitmap_take(struct super_block *sb, u64 bitmap_start,
			     u64 lo, u64 hi, u64 goal, u32 want, u64 *first,
			     u32 *got)
{
	u64 bit = (goal >= lo && goal < hi) ? goal : lo;
	u64 scanned = 0, span = hi - lo;

	while (scanned < span) {
		u64 blk = bit / VEXFS_BITS_PER_BITMAP;
		u64 base = blk * VEXFS_BITS_PER_BITMAP;
		u64 end = min_t(u64, base + VEXFS_BITS_PER_BITMAP, hi);
		struct buffer_head *bh;
		unsigned long found;
		u32 run = 0;

		bh = vexfs_bread_meta(sb, bitmap_start + blk, VEXFS_BITMAP_MAGIC);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		found = find_next_zero_bit_le(bh->b_data, end - base, bit - base);
		if (base + found < end) {
			int err = vexfs_journal_access(sb, bh);

			if (err) {
				brelse(bh);
				return err;
			}
			while (run < want && base + found + run < end &&
			       !test_bit_le(found + run, bh->b_data)) {
				__set_bit_le(found + run, bh->b_data);
				run++;
			}
			err = vexfs_dirty_meta(sb, bh, VEXFS_BITMAP_MAGIC);
			brelse(bh);
			*first = base + found;
			*got = run;
			return err;
		}
		brelse(bh);
		scanned += end - bit;
		bit = end < hi ? end : lo;
	}
	return -ENOSPC;
}

/* Clear count bits from first; they may span bitmap blocks. */
static int vexfs_bitmap_release(struct super_block *sb, u64 bitmap_start,
				u64 first, u64 count)
{
	while (count) {
		u64 blk = first / VEXFS_BITS_PER_BITMAP;
		u64 off = first % VEXFS_BITS_PER_BITMAP;
		u64 n = min_t(u64, count, VEXFS_BITS_PER_BITMAP - off);
		struct buffer_head *bh;
		int err;
		u64 i;

		bh = vexfs_bread_meta(sb, bitmap_start + blk, VEXFS_BITMAP_MAGIC);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		err = vexfs_journal_access(sb, bh);
		if (err) {
			brelse(bh);
			return err;
		}
		for (i = 0; i < n; i++) {
			if (!__test_and_clear_bit_le(off + i, bh->b_data))
				vexfs_corrupt(sb, "freeing free bit %llu of bitmap at %llu",
					      first + i, bitmap_start);
		}
		err = vexfs_dirty_meta(sb, bh, VEXFS_BITMAP_MAGIC);
		brelse(bh);
		if (err)
			return err;
		first += n;
		count -= n;
	}
	return 0;
}

int vexfs_alloc_inode_nr(struct super_block *sb, u64 *ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u32 got;
	int err;

	mutex_lock(&sbi->alloc_lock);
	if (!sbi->free_inodes) {
		err = -ENOSPC;
		goto out;
	}
	err = vexfs_bitmap_take(sb, sbi->inode_bitmap_start, VEXFS_ROOT_INO + 1,
				sbi->inodes_count, sbi->inode_goal, 1, ino, &got);
	if (!err) {
		sbi->free_inodes--;
		sbi->inode_goal = *ino + 1;
	}
out:
	mutex_unlock(&sbi->alloc_lock);
	return err;
}

void vexfs_free_inode_nr(struct super_block *sb, u64 ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	if (ino <= VEXFS_ROOT_INO || ino >= sbi->inodes_count)
		return;
	mutex_lock(&sbi->alloc_lock);
	if (!vexfs_bitmap_release(sb, sbi->inode_bitmap_start, ino, 1))
		sbi->free_inodes++;
	if (ino < sbi->inode_goal)
		sbi->inode_goal = ino;
	mutex_unlock(&sbi->alloc_lock);
}

bool vexfs_data_block_valid(struct super_block *sb, u64 start, u64 count)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	return count && start >= sbi->data_start &&
	       start < sbi->blocks_count &&
	       count <= sbi->blocks_count - start;
}

/*
 * Allocate up to want contiguous blocks for inode, preferably at goal.
 * The inode's block count is charged here and credited in
 * vexfs_free_blocks(), so i_blocks always matches what the inode holds.
 */
int vexfs_alloc_blocks(struct inode *inode, u64 goal, u32 want, u64 *start,
		       u32 *got)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	int err;

	mutex_lock(&sbi->alloc_lock);
	if (!sbi->free_blocks) {
		err = -ENOSPC;
		goto out;
	}
	/* Files with no blocks yet start where the last allocation ended. */
	if (!goal)
		goal = sbi->block_goal;
	err = vexfs_bitmap_take(sb, sbi->block_bitmap_start, sbi->data_start,
				sbi->blocks_count, goal, want, start, got);
	if (!err) {
		sbi->free_blocks -= *got;
		sbi->block_goal = *start + *got;
	}
out:
	mutex_unlock(&sbi->alloc_lock);
	if (!err)
		inode_add_bytes(inode, (loff_t)*got << VEXFS_BLOCK_SHIFT);
	return err;
}

/*
 * Blocks of a directory or a vector table hold metadata, journalled like
 * the extent and xattr blocks; a regular file's blocks hold data.
 */
bool vexfs_blocks_are_meta(struct inode *inode)
{
	return S_ISDIR(inode->i_mode) ||
	       (VEXFS_I(inode)->flags & VEXFS_INODE_VTABLE);
}

void vexfs_free_blocks(struct inode *inode, u64 start, u32 count)
{
	__vexfs_free_blocks(inode, start, count, vexfs_blocks_are_meta(inode));
}

void __vexfs_free_blocks(struct inode *inode, u64 start, u32 count, bool meta)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	if (!vexfs_data_block_valid(sb, start, count)) {
		vexfs_corrupt(sb, "inode %lu frees blocks %llu+%u outside the data area",
			      inode->i_ino, start, count);
		return;
	}
	/*
	 * Cached buffers of these blocks (directory, extent or xattr blocks
	 * of the past) must never be written back over the blocks' next use,
	 * nor replayed from the journal over it.
	 */
	if (meta && vexfs_journal_revoke(sb, start, count))
		pr_err_ratelimited("%pg: cannot revoke blocks %llu+%u\n",
				   sb->s_bdev, start, count);
	clean_bdev_aliases(sb->s_bdev, start, count);

	mutex_lock(&sbi->alloc_lock);
	if (!vexfs_bitmap_release(sb, sbi->block_bitmap_start, start, count))
		sbi->free_blocks += count;
	mutex_unlock(&sbi->alloc_lock);
	inode_sub_bytes(inode, (loff_t)count << VEXFS_BLOCK_SHIFT);
}
