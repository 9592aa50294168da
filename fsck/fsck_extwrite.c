// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: mapping one more block at the end of a file, the only
 * change to an extent tree a repair makes (a directory growing to take
 * lost+found entries). The new block is merged into the last extent when
 * it follows it on disk, else added as an extent to the rightmost leaf;
 * a full root is pushed down into a new leaf block, as the module grows
 * its trees. A full leaf below the root is not split: the append fails
 * and the caller reports it.
 */
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

static struct vexfs_extent_header *eh_of(void *node)
{
	return node;
}

static struct vexfs_extent *ext_of(void *node, int i)
{
	return (struct vexfs_extent *)((uint8_t *)node + 16) + i;
}

/* Merge or add [lblk -> pblk] in a leaf; false when it is full. */
static bool leaf_append(void *node, uint32_t lblk, uint64_t pblk)
{
	struct vexfs_extent_header *eh = eh_of(node);
	uint16_t n = le16toh(eh->eh_entries);
	struct vexfs_extent *last = n ? ext_of(node, n - 1) : NULL;

	if (last) {
		uint32_t len = le32toh(last->ee_len);

		if (le32toh(last->ee_lblk) + len == lblk &&
		    le64toh(last->ee_pblk) + len == pblk &&
		    len < VEXFS_EXTENT_MAX_LEN) {
			last->ee_len = htole32(len + 1);
			return true;
		}
	}
	if (n >= le16toh(eh->eh_max))
		return false;
	last = ext_of(node, n);
	last->ee_lblk = htole32(lblk);
	last->ee_len = htole32(1);
	last->ee_pblk = htole64(pblk);
	eh->eh_entries = htole16(n + 1);
	return true;
}

static void node_init(void *node, uint16_t max, uint16_t depth)
{
	struct vexfs_extent_header *eh = eh_of(node);

	memset(eh, 0, sizeof(*eh));
	eh->eh_magic = htole16(VEXFS_EXTENT_NODE_MAGIC);
	eh->eh_max = htole16(max);
	eh->eh_depth = htole16(depth);
}

/* Move a full leaf root into a new block under a one-entry index root. */
static int grow_root(struct fsck *f, struct vexfs_inode *raw, uint64_t goal)
{
	uint8_t *root = raw->i_extent_root;
	uint16_t n = le16toh(eh_of(root)->eh_entries);
	struct vexfs_extent_index *ix;
	uint8_t *block;
	uint64_t blocknr;
	int ret = -1;

	block = calloc(1, VEXFS_BLOCK_SIZE);
	if (!block || fsck_alloc_block(f, goal, &blocknr))
		goto out;
	node_init(block, VEXFS_EXTENT_NODE_MAX, 0);
	memcpy(block + 16, root + 16, n * sizeof(struct vexfs_extent));
	eh_of(block)->eh_entries = htole16(n);
	vexfs_block_seal(block, VEXFS_EXTENT_MAGIC, blocknr);
	if (fsck_write_block(f, blocknr, block)) {
		fsck_free_block(f, blocknr);
		goto out;
	}
	memset(root, 0, VEXFS_EXTENT_ROOT_SIZE);
	node_init(root, VEXFS_EXTENT_ROOT_MAX, 1);
	ix = (struct vexfs_extent_index *)(root + 16);
	ix->ei_lblk = 0;	/* the only child is the leftmost */
	ix->ei_child = htole64(blocknr);
	eh_of(root)->eh_entries = htole16(1);
	raw->i_blocks = htole64(le64toh(raw->i_blocks) + 1);
	ret = 0;
out:
	free(block);
	return ret;
}

/* Follow the last index entries down to the rightmost leaf block. */
static int rightmost_leaf(struct fsck *f, const struct vexfs_inode *raw,
			  uint64_t *leaf)
{
	const uint8_t *node = raw->i_extent_root;
	int depth = le16toh(eh_of((void *)node)->eh_depth);

	for (; depth > 0; depth--) {
		uint16_t n = le16toh(eh_of((void *)node)->eh_entries);
		const struct vexfs_extent_index *ix = (const void *)(node + 16);

		if (!n)
			return -1;
		*leaf = le64toh(ix[n - 1].ei_child);
		node = fsck_read_node(f, *leaf);
		if (!node)
			return -1;
	}
	return 0;
}

static int append_below_root(struct fsck *f, const struct vexfs_inode *raw,
			     uint32_t lblk, uint64_t pblk)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	uint64_t leaf = 0;
	int ret = -1;

	if (!block || rightmost_leaf(f, raw, &leaf))
		goto out;
	memcpy(block, f->node, VEXFS_BLOCK_SIZE);
	if (!leaf_append(block, lblk, pblk))
		goto out;
	vexfs_block_seal(block, VEXFS_EXTENT_MAGIC, leaf);
	ret = fsck_write_block(f, leaf, block);
out:
	free(block);
	return ret;
}

/*
 * Map logical block @lblk, past every mapped block, to @pblk. Changes
 * @raw (root, block count); the caller writes the inode.
 */
int fsck_extent_append(struct fsck *f, uint64_t ino, struct vexfs_inode *raw,
		       uint32_t lblk, uint64_t pblk)
{
	uint8_t *root = raw->i_extent_root;

	(void)ino;
	if (le16toh(eh_of(root)->eh_depth) == 0) {
		if (leaf_append(root, lblk, pblk))
			return 0;
		if (grow_root(f, raw, pblk + 1))
			return -1;
	}
	return append_below_root(f, raw, lblk, pblk);
}
