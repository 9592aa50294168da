// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: releasing an inode nothing refers to (a file deleted while
 * open whose final release never reached the disk, or a vector table no
 * collection names). Its blocks leave the computed set, so pass 6 frees
 * nothing claims them, and its slot is written as the module writes a
 * deleted inode: zeros, sealed. Its bits are cleared in the on-disk
 * bitmaps as the module would clear them.
 *
 * When any block was found claimed twice, taking one owner's blocks out
 * of the set could free a block the other still uses: nothing is released
 * then.
 */
#include <string.h>

#include "fsck.h"

static void free_extent(struct fsck *f, void *arg, uint32_t lblk,
			   uint64_t pblk, uint32_t len)
{
	uint32_t i;

	(void)arg;
	(void)lblk;
	for (i = 0; i < len; i++)
		fsck_free_block(f, pblk + i);
}

static void free_node(struct fsck *f, void *arg, uint64_t blocknr)
{
	(void)arg;
	fsck_free_block(f, blocknr);
}

/* Returns 0, or -1 when the inode cannot safely be released. */
int fsck_release_inode(struct fsck *f, uint64_t ino)
{
	struct fsck_walk w = { .extent = free_extent, .node = free_node };
	struct vexfs_inode raw;
	uint64_t xattr;

	if (f->dup_blocks || (fsck_ino(f, ino)->state & INO_BAD))
		return -1;
	if (fsck_read_inode(f, ino, &raw) || fsck_extent_walk(f, &raw, &w))
		return -1;
	xattr = le64toh(raw.i_xattr_block);
	if (xattr && fsck_data_block_valid(f, xattr, 1))
		fsck_free_block(f, xattr);
	memset(&raw, 0, sizeof(raw));
	if (fsck_write_inode(f, ino, &raw))
		return -1;
	fsck_free_inode(f, ino);
	return 0;
}
