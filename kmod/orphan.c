// SPDX-License-Identifier: GPL-2.0
/*
 * Orphans: inodes whose last link is gone but whose deletion is not on
 * disk. Unlink and the final iput() run in separate transactions (and an
 * open file is deleted only at its last close), so a crash in between
 * leaves an allocated inode with a zero link count. After the journal is
 * replayed, mount finds them in the inode table and deletes them as
 * evict would have, so the image is again exactly consistent.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include "vexfs.h"

/* Delete the orphans among the inodes of one inode table block. */
static u64 vexfs_release_orphans_in(struct super_block *sb, u64 blk)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 first = blk * VEXFS_INODES_PER_BLOCK, released = 0;
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	int i;

	bh = sb_bread(sb, sbi->inode_table_start + blk);
	if (!bh) {
		pr_warn("%pg: cannot read inode table block %llu\n", sb->s_bdev,
			sbi->inode_table_start + blk);
		return 0;
	}
	/* Deleting an inode rewrites this very block: scan a copy. */
	raw = kmemdup(bh->b_data, VEXFS_BLOCK_SIZE, GFP_KERNEL);
	brelse(bh);
	if (!raw)
		return 0;
	for (i = 0; i < VEXFS_INODES_PER_BLOCK; i++) {
		u64 ino = first + i;
		struct inode *inode;

		if (ino <= VEXFS_ROOT_INO || ino >= sbi->inodes_count ||
		    !le16_to_cpu(raw[i].i_mode) || le32_to_cpu(raw[i].i_nlink))
			continue;
		inode = vexfs_iget_how(sb, ino, VEXFS_IGET_ORPHAN);
		if (IS_ERR(inode)) {
			pr_warn("%pg: orphan inode %llu unreadable (%ld), run fsck.vexfs\n",
				sb->s_bdev, ino, PTR_ERR(inode));
			continue;
		}
		/* No link is left: the last iput() deletes it. */
		iput(inode);
		released++;
	}
	kfree(raw);
	return released;
}

/*
 * Only a filesystem that was not unmounted cleanly can hold orphans, and
 * only a read-write mount can delete them: the first read-write mount, or
 * remount, after such an end scans for them, once.
 */
void vexfs_release_orphans(struct super_block *sb)
{
	u64 blk, released = 0;

	if (!VEXFS_SB(sb)->orphans_pending)
		return;
	VEXFS_SB(sb)->orphans_pending = false;
	for (blk = 0; blk < VEXFS_SB(sb)->inode_table_blocks; blk++) {
		released += vexfs_release_orphans_in(sb, blk);
		cond_resched();
	}
	if (released)
		pr_info("%pg: deleted %llu orphan inodes\n", sb->s_bdev,
			released);
}
