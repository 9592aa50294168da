// SPDX-License-Identifier: GPL-2.0
/*
 * Writing a new VexFS. The superblock goes last, after everything else is
 * on stable storage: until then block 0 holds zeros, so an interrupted
 * mkfs leaves a device that nothing will mount as VexFS.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "jbd2.h"
#include "probe.h"

#define BITMAP_BATCH_BLOCKS	64u

static uint64_t block_offset(uint64_t blocknr)
{
	return blocknr * VEXFS_BLOCK_SIZE;
}

/*
 * Other filesystems' signatures in the unwritten journal or data area
 * would make blkid and mount guess wrong: clear the region the probe
 * looks at, which also clears block 0 until the superblock is written.
 */
static int wipe_old_signatures(struct vexfs_device *dev,
			       const struct vexfs_layout *l)
{
	uint64_t len = block_offset(l->blocks_count);

	if (len > VEXFS_PROBE_BYTES)
		len = VEXFS_PROBE_BYTES;
	return vexfs_device_zero(dev, 0, len);
}

static int zero_inode_table(struct vexfs_device *dev,
			    const struct vexfs_layout *l)
{
	return vexfs_device_zero(dev, block_offset(l->inode_table_start),
				 block_offset(l->inode_table_blocks));
}

/*
 * Write the @nblocks bitmap blocks at @start for @count objects of which
 * the first @reserved are in use, a batch of blocks per write.
 */
static int write_bitmap(struct vexfs_device *dev, uint64_t start,
			uint64_t nblocks, uint64_t reserved, uint64_t count)
{
	char *buf = malloc((size_t)BITMAP_BATCH_BLOCKS * VEXFS_BLOCK_SIZE);
	uint64_t done = 0;
	int ret = 0;

	if (!buf) {
		warnx("out of memory");
		return -1;
	}
	while (done < nblocks && !ret) {
		uint64_t batch = nblocks - done;
		uint64_t i;

		if (batch > BITMAP_BATCH_BLOCKS)
			batch = BITMAP_BATCH_BLOCKS;
		for (i = 0; i < batch; i++)
			vexfs_encode_bitmap_block(buf + i * VEXFS_BLOCK_SIZE,
						  done + i, reserved, count,
						  start + done + i);
		ret = vexfs_device_write(dev, block_offset(start + done), buf,
					 (size_t)batch * VEXFS_BLOCK_SIZE);
		done += batch;
	}
	free(buf);
	return ret;
}

static int write_bitmaps(struct vexfs_device *dev,
			 const struct vexfs_layout *l)
{
	/* Inode slot 0 is never used and slot 1 is the root. */
	if (write_bitmap(dev, l->inode_bitmap_start, l->inode_bitmap_blocks,
			 VEXFS_ROOT_INO + 1, l->inodes_count))
		return -1;
	/* Every block before the data area belongs to the metadata. */
	return write_bitmap(dev, l->block_bitmap_start, l->block_bitmap_blocks,
			    l->data_start, l->blocks_count);
}

static int write_root_inode(struct vexfs_device *dev,
			    const struct vexfs_layout *l,
			    const struct vexfs_inode_params *root)
{
	static struct vexfs_inode table_block[VEXFS_INODES_PER_BLOCK];

	memset(table_block, 0, sizeof(table_block));
	vexfs_encode_inode(&table_block[vexfs_inode_slot(VEXFS_ROOT_INO)],
			   VEXFS_ROOT_INO, root);
	return vexfs_device_write(dev,
				  block_offset(vexfs_inode_blocknr(l, VEXFS_ROOT_INO)),
				  table_block, sizeof(table_block));
}

/* An empty jbd2 journal in the reserved area, when there is one. */
static int write_journal(struct vexfs_device *dev,
			 const struct vexfs_layout *l,
			 const struct vexfs_super_params *p)
{
	static char block[VEXFS_BLOCK_SIZE];

	if (!l->journal_blocks)
		return 0;
	memset(block, 0, sizeof(block));
	vexfs_jbd2_encode_super(block, l->journal_blocks, p->uuid);
	return vexfs_device_write(dev, block_offset(l->journal_start), block,
				  sizeof(block));
}

static int write_superblock(struct vexfs_device *dev,
			    const struct vexfs_layout *l,
			    const struct vexfs_super_params *p)
{
	static union {
		struct vexfs_super_block sb;
		char block[VEXFS_BLOCK_SIZE];
	} block0;

	memset(&block0, 0, sizeof(block0));
	vexfs_encode_super(&block0.sb, l, p);
	return vexfs_device_write(dev, block_offset(VEXFS_SUPER_BLOCKNR),
				  block0.block, sizeof(block0.block));
}

int vexfs_format(struct vexfs_device *dev, const struct vexfs_layout *l,
		 const struct vexfs_format_params *p)
{
	if (vexfs_device_extend(dev, block_offset(l->blocks_count)) ||
	    wipe_old_signatures(dev, l) ||
	    zero_inode_table(dev, l) ||
	    write_bitmaps(dev, l) ||
	    write_root_inode(dev, l, &p->root) ||
	    write_journal(dev, l, &p->super) ||
	    vexfs_device_sync(dev))
		return -1;
	if (write_superblock(dev, l, &p->super) || vexfs_device_sync(dev))
		return -1;
	return 0;
}
