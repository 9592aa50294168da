// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: the computed block set, and the allocations and releases a
 * repair makes.
 *
 * A block is claimed once by whatever metadata points at it; a second
 * claim is a block shared by two owners. A new block or inode must be
 * free both in the computed set and on disk: when the owners of some
 * blocks are unknown (a corrupt extent tree), the on-disk bitmap is the
 * only record of them, and nothing it marks may be handed out.
 *
 * What a repair itself allocates or releases goes into the on-disk
 * bitmaps and free counts at once (written out in pass 6), as the module
 * would account for it, so that pass 6 reports only what was wrong
 * before the run.
 */
#include "fsck.h"

bool fsck_claim_block(struct fsck *f, uint64_t blocknr)
{
	if (vexfs_bit_test(f->bbits, blocknr)) {
		f->dup_blocks++;
		return false;
	}
	vexfs_bit_set(f->bbits, blocknr);
	return true;
}

static void mark_disk(struct fsck *f, uint8_t *bits, bool *dirty, __le64 *free,
		      uint64_t bit, bool used)
{
	if (vexfs_bit_test(bits, bit) == used)
		return;
	if (used) {
		vexfs_bit_set(bits, bit);
		*free = htole64(le64toh(*free) - 1);
	} else {
		vexfs_bit_clear(bits, bit);
		*free = htole64(le64toh(*free) + 1);
	}
	dirty[bit / VEXFS_BITS_PER_BITMAP] = true;
	f->super_dirty = true;
}

void fsck_free_block(struct fsck *f, uint64_t blocknr)
{
	vexfs_bit_clear(f->bbits, blocknr);
	mark_disk(f, f->disk_bbits, f->bbm_dirty, &f->sb.s_free_blocks,
		  blocknr, false);
}

static bool block_free(const struct fsck *f, uint64_t b)
{
	return !vexfs_bit_test(f->bbits, b) && !vexfs_bit_test(f->disk_bbits, b);
}

/* First free data block at or after @goal, wrapping around once. */
int fsck_alloc_block(struct fsck *f, uint64_t goal, uint64_t *blocknr)
{
	uint64_t lo = f->l.data_start, hi = f->l.blocks_count, b, n;

	if (goal < lo || goal >= hi)
		goal = lo;
	for (n = 0, b = goal; n < hi - lo; n++) {
		if (block_free(f, b)) {
			vexfs_bit_set(f->bbits, b);
			mark_disk(f, f->disk_bbits, f->bbm_dirty,
				  &f->sb.s_free_blocks, b, true);
			*blocknr = b;
			return 0;
		}
		if (++b == hi)
			b = lo;
	}
	return -1;
}

int fsck_alloc_inode(struct fsck *f, uint64_t *ino)
{
	uint64_t i;

	for (i = VEXFS_ROOT_INO + 1; i < f->l.inodes_count; i++) {
		if (!(fsck_ino(f, i)->state & INO_USED) &&
		    !vexfs_bit_test(f->disk_ibits, i)) {
			fsck_ino(f, i)->state = INO_USED;
			mark_disk(f, f->disk_ibits, f->ibm_dirty,
				  &f->sb.s_free_inodes, i, true);
			*ino = i;
			return 0;
		}
	}
	return -1;
}

void fsck_free_inode(struct fsck *f, uint64_t ino)
{
	fsck_ino(f, ino)->state = 0;
	mark_disk(f, f->disk_ibits, f->ibm_dirty, &f->sb.s_free_inodes, ino,
		  false);
}
