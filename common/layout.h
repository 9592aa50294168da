/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Geometry of a VexFS image: where each region starts and how big it is,
 * computed from the device size and the inode request. Pure arithmetic, no
 * I/O, so the same rules serve mkfs, fsck and the tests.
 */
#ifndef VEXFS_LAYOUT_H
#define VEXFS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One inode per 16 KiB of device, as mke2fs does for ordinary filesystems. */
#define VEXFS_DEFAULT_BYTES_PER_INODE	16384ull
#define VEXFS_MIN_BYTES_PER_INODE	1024ull
#define VEXFS_MAX_BYTES_PER_INODE	(64ull << 20)

/* Fewer data blocks than this is not a usable filesystem. */
#define VEXFS_MIN_DATA_BLOCKS		64ull

/* Journal reservation: none below 128 MiB, else blocks/64 within bounds. */
#define VEXFS_JOURNAL_MIN_IMAGE_BYTES	(128ull << 20)
#define VEXFS_JOURNAL_MIN_BLOCKS	1024ull
#define VEXFS_JOURNAL_MAX_BLOCKS	32768ull

/*
 * Inode numbers are seeded into checksums as 32 bits and the kernel's ino_t
 * is 32 bits on some architectures: keep every inode number below 2^32.
 */
#define VEXFS_MAX_INODES_COUNT		0xFFFFFFFFull

struct vexfs_layout_request {
	uint64_t device_bytes;
	uint64_t inodes;		/* usable inodes wanted, root included; 0: use the ratio */
	uint64_t bytes_per_inode;	/* 0: VEXFS_DEFAULT_BYTES_PER_INODE */
};

struct vexfs_layout {
	uint64_t blocks_count;
	uint64_t inodes_count;		/* inode slots, slot 0 included */
	uint64_t journal_start;
	uint64_t journal_blocks;
	uint64_t inode_bitmap_start;
	uint64_t inode_bitmap_blocks;
	uint64_t block_bitmap_start;
	uint64_t block_bitmap_blocks;
	uint64_t inode_table_start;
	uint64_t inode_table_blocks;
	uint64_t data_start;
	bool inodes_capped;		/* fewer inodes than asked: they did not fit */
};

/*
 * Fill @out for @req. Returns 0, or -1 with a message in @err when the
 * device is too small or the request makes no sense.
 */
int vexfs_layout_compute(const struct vexfs_layout_request *req,
			 struct vexfs_layout *out, char *err, size_t errlen);

/*
 * Check that a layout, however obtained (computed or read from a
 * superblock), is self-consistent: regions in order, not overlapping,
 * inside the device, bitmaps and inode table big enough for the counts.
 * Returns 0, or -1 with a message in @err.
 */
int vexfs_layout_validate(const struct vexfs_layout *l, char *err,
			  size_t errlen);

uint64_t vexfs_layout_free_blocks(const struct vexfs_layout *l);
uint64_t vexfs_layout_free_inodes(const struct vexfs_layout *l);

#endif /* VEXFS_LAYOUT_H */
