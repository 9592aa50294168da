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
#include <linux/jbd2.h>
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
 * A block freed by a transaction that has not committed yet is not free
 * on disk: handed out again, its new contents could be written in place
 * before the free commits (a crash then leaves the old owner reading
 * them), and jbd2 refuses to take it as metadata while the commit still
 * writes its old copy (it aborts the journal). vexfs_bits_clear() marks
 * such a bit in the copy of the bitmap as last committed, which jbd2
 * drops when the commit completes. jh is the bitmap's journal head, held,
 * or NULL for a bitmap whose frees are not held (inodes).
 */
static bool vexfs_bit_allocatable(struct buffer_head *bh,
				  struct journal_head *jh, u64 nr)
{
	bool ok = true;

	if (test_bit_le(nr, bh->b_data))
		return false;
	if (!jh)
		return true;
	spin_lock(&jh->b_state_lock);
	if (jh->b_committed_data)
		ok = !test_bit_le(nr, jh->b_committed_data);
	spin_unlock(&jh->b_state_lock);
	return ok;
}

/*
 * The first allocatable bit of bh in [from, end), or end; *held is set
 * when a free bit was passed over because its free has not committed.
 */
static u64 vexfs_next_allocatable(struct buffer_head *bh,
				  struct journal_head *jh, u64 end, u64 from,
				  bool *held)
{
	for (;;) {
		from = find_next_zero_bit_le(bh->b_data, end, from);
		if (from >= end || vexfs_bit_allocatable(bh, jh, from))
			return from;
		*held = true;
		from++;
	}
}

/* Set up to want allocatable bits of bh from found; returns how many. */
static u32 vexfs_take_run(struct buffer_head *bh, struct journal_head *jh,
			  u64 found, u64 end, u32 want)
{
	u32 run = 0;

	while (run < want && found + run < end &&
	       vexfs_bit_allocatable(bh, jh, found + run)) {
		__set_bit_le(found + run, bh->b_data);
		run++;
	}
	return run;
}

/*
 * Find an allocatable bit in [lo, hi), starting at goal and wrapping
 * around once, set it and up to want - 1 allocatable bits after it within
 * the same bitmap block. Returns the first bit and stores the run length
 * in *got. With hold (the block bitmap), frees that have not committed
 * are passed over, and the bitmap is taken with undo access, as every
 * change to it must be: jbd2 then keeps its committed copy across this
 * transaction's commit (ext3 did the same).
 */
static int vexfs_bitmap_take(struct super_block *sb, u64 bitmap_start,
			     u64 lo, u64 hi, u64 goal, u32 want, bool hold,
			     u64 *first, u32 *got, bool *held)
{
	u64 bit = (goal >= lo && goal < hi) ? goal : lo;
	u64 scanned = 0, span = hi - lo;

	while (scanned < span) {
		u64 blk = bit / VEXFS_BITS_PER_BITMAP;
		u64 base = blk * VEXFS_BITS_PER_BITMAP;
		u64 end = min_t(u64, base + VEXFS_BITS_PER_BITMAP, hi);
		struct journal_head *jh = NULL;
		struct buffer_head *bh;
		unsigned long found;
		int err = 0;

		bh = vexfs_bread_meta(sb, bitmap_start + blk, VEXFS_BITMAP_MAGIC);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		/* A reference: the commit may let go of the buffer meanwhile. */
		if (hold)
			jh = jbd2_journal_grab_journal_head(bh);
		found = vexfs_next_allocatable(bh, jh, end - base, bit - base,
					       held);
		if (base + found < end) {
			err = hold ? vexfs_journal_undo_access(sb, bh) :
				     vexfs_journal_access(sb, bh);
			/* Undo access attached a head if there was none. */
			if (!err && hold && !jh)
				jh = jbd2_journal_grab_journal_head(bh);
			if (!err) {
				*first = base + found;
				*got = vexfs_take_run(bh, jh, found, end - base,
						      want);
				/* found was allocatable; alloc_lock is held. */
				WARN_ON_ONCE(!*got);
				err = vexfs_dirty_meta(sb, bh, VEXFS_BITMAP_MAGIC);
			}
		}
		if (jh)
			jbd2_journal_put_journal_head(jh);
		brelse(bh);
		if (err || base + found < end)
			return err;
		scanned += end - bit;
		bit = end < hi ? end : lo;
	}
	return -ENOSPC;
}

/* Clear n bits of bh from off: bit first, onwards, of the bitmap at start. */
static void vexfs_bits_clear(struct super_block *sb, struct buffer_head *bh,
			     u64 off, u64 n, u64 first, u64 start)
{
	struct journal_head *jh = jbd2_journal_grab_journal_head(bh);
	u64 i;

	if (jh)
		spin_lock(&jh->b_state_lock);
	for (i = 0; i < n; i++) {
		if (jh && jh->b_committed_data)
			__set_bit_le(off + i, jh->b_committed_data);
		if (!__test_and_clear_bit_le(off + i, bh->b_data))
			vexfs_corrupt(sb, "freeing free bit %llu of bitmap at %llu",
				      first + i, start);
	}
	if (jh) {
		spin_unlock(&jh->b_state_lock);
		jbd2_journal_put_journal_head(jh);
	}
}

/*
 * Clear count bits from first; they may span bitmap blocks. With hold,
 * they stay unallocatable until the transaction commits
 * (vexfs_bit_allocatable()).
 */
static int vexfs_bitmap_release(struct super_block *sb, u64 bitmap_start,
				u64 first, u64 count, bool hold)
{
	while (count) {
		u64 blk = first / VEXFS_BITS_PER_BITMAP;
		u64 off = first % VEXFS_BITS_PER_BITMAP;
		u64 n = min_t(u64, count, VEXFS_BITS_PER_BITMAP - off);
		struct buffer_head *bh;
		int err;

		bh = vexfs_bread_meta(sb, bitmap_start + blk, VEXFS_BITMAP_MAGIC);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		err = hold ? vexfs_journal_undo_access(sb, bh) :
			     vexfs_journal_access(sb, bh);
		if (err) {
			brelse(bh);
			return err;
		}
		vexfs_bits_clear(sb, bh, off, n, first, bitmap_start);
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
	bool held = false;
	u32 got;
	int err;

	mutex_lock(&sbi->alloc_lock);
	if (!sbi->free_inodes) {
		err = -ENOSPC;
		goto out;
	}
	err = vexfs_bitmap_take(sb, sbi->inode_bitmap_start, VEXFS_ROOT_INO + 1,
				sbi->inodes_count, sbi->inode_goal, 1, false,
				ino, &got, &held);
	if (!err) {
		sbi->free_inodes--;
		sbi->inode_goal = *ino + 1;
	}
out:
	mutex_unlock(&sbi->alloc_lock);
	return err;
}

/*
 * Is every inode sharing ino's table block free, but those of mine (a
 * mask of the block's slots)? Then the block holds nothing worth reading
 * for them to be stored in (a freed inode is stored as zeroes): ext4
 * skips the read of such a block too. The bitmap is read without
 * alloc_lock: an inode taken meanwhile is stored after the caller's fill
 * of the block (the caller holds the block's lock). An unreadable bitmap
 * answers no.
 */
bool vexfs_inode_block_unused(struct super_block *sb, u64 ino,
			      unsigned long mine)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 first = round_down(ino, VEXFS_INODES_PER_BLOCK);
	struct buffer_head *bh;
	bool unused = true;
	unsigned int i;

	bh = vexfs_bread_meta(sb, sbi->inode_bitmap_start +
			      first / VEXFS_BITS_PER_BITMAP, VEXFS_BITMAP_MAGIC);
	if (IS_ERR(bh))
		return false;
	for (i = 0; i < VEXFS_INODES_PER_BLOCK && unused; i++)
		if (!(mine & BIT(i)) &&
		    test_bit_le((first + i) % VEXFS_BITS_PER_BITMAP, bh->b_data))
			unused = false;
	brelse(bh);
	return unused;
}

void vexfs_free_inode_nr(struct super_block *sb, u64 ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	if (ino <= VEXFS_ROOT_INO || ino >= sbi->inodes_count)
		return;
	mutex_lock(&sbi->alloc_lock);
	if (!vexfs_bitmap_release(sb, sbi->inode_bitmap_start, ino, 1, false))
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
	bool held = false;
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
				sbi->blocks_count, goal, want, true, start, got,
				&held);
	if (!err) {
		sbi->free_blocks -= *got;
		sbi->block_goal = *start + *got;
	} else if (err == -ENOSPC && held) {
		/* Free once a commit lands: see vexfs_journal_retry_alloc(). */
		WRITE_ONCE(sbi->blocks_held, true);
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
	if (meta && vexfs_journal_revoke(sb, start, count)) {
		/*
		 * Released, a block could get a new owner that replay then
		 * overwrites: it stays allocated, for fsck to reclaim.
		 */
		pr_err_ratelimited("%pg: cannot revoke blocks %llu+%u: they stay allocated\n",
				   sb->s_bdev, start, count);
	} else {
		clean_bdev_aliases(sb->s_bdev, start, count);
		mutex_lock(&sbi->alloc_lock);
		if (!vexfs_bitmap_release(sb, sbi->block_bitmap_start, start,
					  count, true))
			sbi->free_blocks += count;
		mutex_unlock(&sbi->alloc_lock);
	}
	inode_sub_bytes(inode, (loff_t)count << VEXFS_BLOCK_SHIFT);
}
