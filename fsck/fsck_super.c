// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: the superblock, checked before anything else, and the
 * on-disk bitmaps loaded for the comparison at the end.
 *
 * A superblock whose only fault is its checksum is repairable: every
 * field is then checked as if the checksum were right, and only a
 * superblock that passes all of that is trusted. Anything else wrong with
 * it leaves nothing to check the rest of the image against, and is an
 * operational error, as e2fsck treats a bad superblock.
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

static int super_fatal(struct fsck *f, const char *why)
{
	warnx("%s: %s; cannot check it", f->name, why);
	return -1;
}

/* The superblock with a recomputed checksum must pass every check. */
static int check_super_fields(struct fsck *f)
{
	struct vexfs_super_block fixed = f->sb;
	char err[256];

	if (le32toh(f->sb.s_magic) != VEXFS_MAGIC)
		return super_fatal(f, "no VexFS superblock (bad magic)");
	if (!vexfs_check_super(&f->sb, err, sizeof(err)))
		return 0;
	if (vexfs_super_csum_ok(&f->sb))
		return super_fatal(f, err);
	vexfs_super_csum_set(&fixed);
	if (vexfs_check_super(&fixed, err, sizeof(err)))
		return super_fatal(f, err);
	if (fsck_fixable(f, "Superblock checksum is 0x%08x, should be 0x%08x; its fields are consistent.",
			 le32toh(f->sb.s_checksum), le32toh(fixed.s_checksum)))
		f->super_dirty = true;
	return 0;
}

static int check_features(struct fsck *f)
{
	uint64_t ro = le64toh(f->sb.s_feature_ro_compat) &
		      ~VEXFS_FEATURE_RO_COMPAT_SUPP;

	if (ro) {
		char why[128];

		snprintf(why, sizeof(why),
			 "unknown read-only compatible features 0x%" PRIx64, ro);
		return super_fatal(f, why);
	}
	return 0;
}

static int check_device_size(struct fsck *f)
{
	uint64_t dev_blocks = f->dev.size_bytes / VEXFS_BLOCK_SIZE;
	char why[160];

	if (f->l.blocks_count <= dev_blocks)
		return 0;
	snprintf(why, sizeof(why),
		 "the filesystem has %" PRIu64 " blocks but the device only %" PRIu64,
		 f->l.blocks_count, dev_blocks);
	return super_fatal(f, why);
}

static void report_state(struct fsck *f)
{
	uint16_t state = le16toh(f->sb.s_state);

	if (!(state & VEXFS_STATE_CLEAN))
		fsck_info(f, "%s was not cleanly unmounted.", f->name);
	if (state & VEXFS_STATE_ERROR)
		fsck_info(f, "%s has errors recorded in its superblock.",
			  f->name);
}

int fsck_check_super(struct fsck *f)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	int ret;

	if (!block)
		return super_fatal(f, "out of memory");
	ret = fsck_read_block(f, VEXFS_SUPER_BLOCKNR, block);
	memcpy(&f->sb, block, sizeof(f->sb));
	free(block);
	if (ret)
		return -1;
	if (check_super_fields(f))
		return -1;
	vexfs_decode_layout(&f->sb, &f->l);
	if (check_features(f) || check_device_size(f))
		return -1;
	report_state(f);
	return 0;
}

/*
 * Join the payloads of @nblocks bitmap blocks at @start into one bit
 * array; blocks whose tail is wrong are noted in @bad and their bits
 * taken as they are.
 */
static int load_bitmap(struct fsck *f, uint64_t start, uint64_t nblocks,
		       uint8_t *bits, bool *bad)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	uint64_t i;

	if (!block)
		return -1;
	for (i = 0; i < nblocks; i++) {
		if (fsck_read_block(f, start + i, block)) {
			free(block);
			return -1;
		}
		bad[i] = !vexfs_block_sealed_ok(block, VEXFS_BITMAP_MAGIC,
						start + i);
		memcpy(bits + i * (VEXFS_BITS_PER_BITMAP / 8), block,
		       VEXFS_BITS_PER_BITMAP / 8);
	}
	free(block);
	return 0;
}

int fsck_load_bitmaps(struct fsck *f)
{
	size_t ibytes = f->l.inode_bitmap_blocks * (VEXFS_BITS_PER_BITMAP / 8);
	size_t bbytes = f->l.block_bitmap_blocks * (VEXFS_BITS_PER_BITMAP / 8);

	f->disk_ibits = calloc(1, ibytes);
	f->ibits = calloc(1, ibytes);
	f->disk_bbits = calloc(1, bbytes);
	f->bbits = calloc(1, bbytes);
	f->ibm_bad = calloc(f->l.inode_bitmap_blocks, sizeof(bool));
	f->bbm_bad = calloc(f->l.block_bitmap_blocks, sizeof(bool));
	f->ibm_dirty = calloc(f->l.inode_bitmap_blocks, sizeof(bool));
	f->bbm_dirty = calloc(f->l.block_bitmap_blocks, sizeof(bool));
	f->ino = calloc(f->l.inodes_count, sizeof(*f->ino));
	if (!f->disk_ibits || !f->ibits || !f->disk_bbits || !f->bbits ||
	    !f->ibm_bad || !f->bbm_bad || !f->ibm_dirty || !f->bbm_dirty ||
	    !f->ino) {
		warnx("out of memory for the bitmaps of %s", f->name);
		return -1;
	}
	/* the metadata area is in use by definition */
	vexfs_bit_set_range(f->bbits, 0, f->l.data_start);
	if (load_bitmap(f, f->l.inode_bitmap_start, f->l.inode_bitmap_blocks,
			f->disk_ibits, f->ibm_bad))
		return -1;
	return load_bitmap(f, f->l.block_bitmap_start,
			   f->l.block_bitmap_blocks, f->disk_bbits, f->bbm_bad);
}

void fsck_free_bitmaps(struct fsck *f)
{
	free(f->disk_ibits);
	free(f->ibits);
	free(f->disk_bbits);
	free(f->bbits);
	free(f->ibm_bad);
	free(f->bbm_bad);
	free(f->ibm_dirty);
	free(f->bbm_dirty);
	free(f->ino);
}

/* Write back the in-memory superblock, sealed, keeping the rest of block 0. */
int fsck_write_super(struct fsck *f)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	int ret;

	if (!block) {
		f->aborted = true;
		return -1;
	}
	ret = fsck_read_block(f, VEXFS_SUPER_BLOCKNR, block);
	if (!ret) {
		vexfs_super_csum_set(&f->sb);
		memcpy(block, &f->sb, sizeof(f->sb));
		ret = fsck_write_block(f, VEXFS_SUPER_BLOCKNR, block);
	}
	free(block);
	return ret;
}
