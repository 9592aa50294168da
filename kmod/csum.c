// SPDX-License-Identifier: GPL-2.0
/*
 * Checksums of VexFS metadata and the read/dirty helpers that apply them.
 *
 * A metadata block is verified once, when it is read from the device; the
 * buffer then carries a private "verified" bit, so blocks that stay in the
 * cache are not checksummed again on every lookup. A changed block is
 * re-sealed (its checksum recomputed) once per transaction, when jbd2
 * writes it to the journal, or at once without a journal.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32c.h>
#include "vexfs.h"


u32 vexfs_super_csum(const struct vexfs_super_block *raw)
{
	struct vexfs_super_block copy = *raw;

	copy.s_checksum = 0;
	return crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

u32 vexfs_inode_csum(const struct vexfs_inode *raw, u64 ino)
{
	struct vexfs_inode copy = *raw;

	copy.i_checksum = 0;
	return crc32c(VEXFS_CRC_SEED ^ (u32)ino, &copy, sizeof(copy));
}

static struct vexfs_block_tail *vexfs_tail(const void *block)
{
	return (struct vexfs_block_tail *)((char *)block + VEXFS_BLOCK_PAYLOAD);
}

static u32 vexfs_block_csum(const void *block, u64 blocknr)
{
	return crc32c(VEXFS_CRC_SEED ^ (u32)blocknr, block,
		      VEXFS_BLOCK_SIZE - sizeof(__le32));
}

void vexfs_block_csum_set(void *block, u32 magic, u64 blocknr)
{
	struct vexfs_block_tail *tail = vexfs_tail(block);

	tail->t_magic = cpu_to_le32(magic);
	tail->t_checksum = cpu_to_le32(vexfs_block_csum(block, blocknr));
}

bool vexfs_block_csum_ok(const void *block, u32 magic, u64 blocknr)
{
	const struct vexfs_block_tail *tail = vexfs_tail(block);

	return le32_to_cpu(tail->t_magic) == magic &&
	       le32_to_cpu(tail->t_checksum) == vexfs_block_csum(block, blocknr);
}

/*
 * Read a checksummed metadata block of the given kind. Returns the buffer,
 * or ERR_PTR(-EIO) when the device fails and ERR_PTR(-EUCLEAN) when the
 * block is not what it should be.
 */
struct buffer_head *vexfs_bread_meta(struct super_block *sb, u64 blocknr,
				     u32 magic)
{
	struct buffer_head *bh;

	if (blocknr < VEXFS_SB(sb)->inode_bitmap_start ||
	    blocknr >= VEXFS_SB(sb)->blocks_count) {
		vexfs_corrupt(sb, "metadata block %llu out of range", blocknr);
		return ERR_PTR(-EUCLEAN);
	}
	bh = sb_getblk(sb, blocknr);
	if (!bh)
		return ERR_PTR(-ENOMEM);
	if (!buffer_uptodate(bh)) {
		clear_buffer_vexfs_verified(bh);
		clear_buffer_vexfs_checked(bh);
		if (bh_read(bh, 0) < 0) {
			brelse(bh);
			return ERR_PTR(-EIO);
		}
	}
	if (buffer_vexfs_verified(bh))
		return bh;

	lock_buffer(bh);
	if (!vexfs_block_csum_ok(bh->b_data, magic, blocknr)) {
		unlock_buffer(bh);
		vexfs_corrupt(sb, "checksum or type mismatch in block %llu",
			      blocknr);
		brelse(bh);
		return ERR_PTR(-EUCLEAN);
	}
	set_buffer_vexfs_verified(bh);
	unlock_buffer(bh);
	return bh;
}

/*
 * Seal a metadata block after a change and log it in the running
 * transaction (vexfs_journal_access() came before the change).
 */
int vexfs_dirty_meta(struct super_block *sb, struct buffer_head *bh, u32 magic)
{
	set_buffer_vexfs_verified(bh);
	set_buffer_uptodate(bh);
	return vexfs_journal_dirty_sealed(sb, bh, magic);
}

/* A fresh, zeroed metadata block that is about to be filled. */
struct buffer_head *vexfs_new_meta(struct super_block *sb, u64 blocknr)
{
	struct buffer_head *bh = sb_getblk(sb, blocknr);
	int err;

	if (!bh)
		return ERR_PTR(-ENOMEM);
	/* jbd2 wants the buffer locked while it takes a new block over. */
	lock_buffer(bh);
	err = vexfs_journal_create(sb, bh);
	if (err) {
		unlock_buffer(bh);
		brelse(bh);
		return ERR_PTR(err);
	}
	memset(bh->b_data, 0, bh->b_size);
	clear_buffer_vexfs_checked(bh);
	set_buffer_uptodate(bh);
	set_buffer_vexfs_verified(bh);
	unlock_buffer(bh);
	return bh;
}
