/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encoding and checking of VexFS on-disk structures in userspace: the
 * checksums, bitmap blocks, the superblock and inodes. mkfs writes with
 * these and fsck checks with them, so both agree with the kernel on every
 * byte. See include/uapi/vexfs_fs.h for the format itself.
 */
#ifndef VEXFS_ONDISK_H
#define VEXFS_ONDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uapi/vexfs_fs.h>

#include "layout.h"

/* Checksums, exactly as the header's rules define them. */
uint32_t vexfs_super_csum(const struct vexfs_super_block *sb);
uint32_t vexfs_inode_csum(const struct vexfs_inode *inode, uint64_t ino);
uint32_t vexfs_block_csum(const void *block, uint64_t blocknr);

void vexfs_super_csum_set(struct vexfs_super_block *sb);
bool vexfs_super_csum_ok(const struct vexfs_super_block *sb);
void vexfs_inode_csum_set(struct vexfs_inode *inode, uint64_t ino);
bool vexfs_inode_csum_ok(const struct vexfs_inode *inode, uint64_t ino);

/* Write the tail of a VEXFS_BLOCK_SIZE block: its magic, then the checksum. */
void vexfs_block_seal(void *block, uint32_t magic, uint64_t blocknr);
/* True when the tail carries @magic and a checksum valid for @blocknr. */
bool vexfs_block_sealed_ok(const void *block, uint32_t magic,
			   uint64_t blocknr);

/*
 * Bitmap bits are in little-endian order, as the kernel's *_bit_le()
 * helpers see them: bit n is bit (n % 8) of byte (n / 8).
 */
void vexfs_bit_set(void *bitmap, uint64_t bit);
void vexfs_bit_clear(void *bitmap, uint64_t bit);
bool vexfs_bit_test(const void *bitmap, uint64_t bit);
void vexfs_bit_set_range(void *bitmap, uint64_t first, uint64_t count);

/*
 * Build bitmap block number @index (covering bits index * BITS_PER_BITMAP
 * onwards) of a bitmap tracking @count objects whose first @reserved are
 * in use, and seal it for block @blocknr. Bits past @count are set so
 * that nothing beyond the end of the device or inode table is allocated.
 */
void vexfs_encode_bitmap_block(void *block, uint64_t index,
			       uint64_t reserved, uint64_t count,
			       uint64_t blocknr);

struct vexfs_super_params {
	const char *label;		/* NULL or at most VEXFS_LABEL_LEN - 1 bytes */
	uint8_t uuid[16];
	uint64_t mkfs_time;
};

/* A freshly made filesystem: all counts from @l, state clean, sealed. */
void vexfs_encode_super(struct vexfs_super_block *sb,
			const struct vexfs_layout *l,
			const struct vexfs_super_params *p);
void vexfs_decode_layout(const struct vexfs_super_block *sb,
			 struct vexfs_layout *l);
/*
 * Everything a superblock must satisfy before anything else on the image
 * can be trusted: magic, checksum, version, block size, known incompat
 * features, root inode and a valid layout. Returns 0 or -1 with @err set.
 */
int vexfs_check_super(const struct vexfs_super_block *sb, char *err,
		      size_t errlen);

struct vexfs_inode_params {
	uint16_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t blocks;
	struct timespec time;		/* atime, mtime and ctime */
	uint32_t generation;
	uint64_t parent;		/* directories only */
};

/* An inode with an empty extent tree, no xattr block, sealed for @ino. */
void vexfs_encode_inode(struct vexfs_inode *raw, uint64_t ino,
			const struct vexfs_inode_params *p);
void vexfs_encode_empty_extent_root(uint8_t root[VEXFS_EXTENT_ROOT_SIZE]);

/* The file types an inode may have, as the module accepts them. */
bool vexfs_inode_mode_valid(uint16_t mode);

/* crc32c(VEXFS_CRC_SEED, header) with vh_checksum zero, as the module seals it. */
uint32_t vexfs_vtable_csum(const struct vexfs_vtable_header *vh);
/* The same for a vector table's change map, cm_checksum zero. */
uint32_t vexfs_change_map_csum(const struct vexfs_change_map *cm);

/* Where inode @ino lives: its inode table block and its slot in it. */
uint64_t vexfs_inode_blocknr(const struct vexfs_layout *l, uint64_t ino);
unsigned int vexfs_inode_slot(uint64_t ino);

#endif /* VEXFS_ONDISK_H */
