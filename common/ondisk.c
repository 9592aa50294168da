// SPDX-License-Identifier: GPL-2.0
/*
 * VexFS on-disk encoding and checking for the userspace tools.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "ondisk.h"

__attribute__((format(printf, 3, 4)))
static int ondisk_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- checksums ---------------------------------------------------- */

uint32_t vexfs_super_csum(const struct vexfs_super_block *sb)
{
	struct vexfs_super_block copy = *sb;

	copy.s_checksum = 0;
	return vexfs_crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

uint32_t vexfs_inode_csum(const struct vexfs_inode *inode, uint64_t ino)
{
	struct vexfs_inode copy = *inode;

	copy.i_checksum = 0;
	return vexfs_crc32c(VEXFS_CRC_SEED ^ (uint32_t)ino, &copy,
			    sizeof(copy));
}

/* Covers the payload and t_magic: everything before t_checksum. */
uint32_t vexfs_block_csum(const void *block, uint64_t blocknr)
{
	return vexfs_crc32c(VEXFS_CRC_SEED ^ (uint32_t)blocknr, block,
			    VEXFS_BLOCK_SIZE - sizeof(__le32));
}

void vexfs_super_csum_set(struct vexfs_super_block *sb)
{
	sb->s_checksum = htole32(vexfs_super_csum(sb));
}

bool vexfs_super_csum_ok(const struct vexfs_super_block *sb)
{
	return le32toh(sb->s_checksum) == vexfs_super_csum(sb);
}

void vexfs_inode_csum_set(struct vexfs_inode *inode, uint64_t ino)
{
	inode->i_checksum = htole32(vexfs_inode_csum(inode, ino));
}

bool vexfs_inode_csum_ok(const struct vexfs_inode *inode, uint64_t ino)
{
	return le32toh(inode->i_checksum) == vexfs_inode_csum(inode, ino);
}

static struct vexfs_block_tail *block_tail(void *block)
{
	return (struct vexfs_block_tail *)((char *)block + VEXFS_BLOCK_PAYLOAD);
}

void vexfs_block_seal(void *block, uint32_t magic, uint64_t blocknr)
{
	struct vexfs_block_tail *tail = block_tail(block);

	tail->t_magic = htole32(magic);
	tail->t_checksum = htole32(vexfs_block_csum(block, blocknr));
}

bool vexfs_block_sealed_ok(const void *block, uint32_t magic,
			   uint64_t blocknr)
{
	const struct vexfs_block_tail *tail = (const void *)
		((const char *)block + VEXFS_BLOCK_PAYLOAD);

	return le32toh(tail->t_magic) == magic &&
	       le32toh(tail->t_checksum) == vexfs_block_csum(block, blocknr);
}

/* ---- bitmaps ------------------------------------------------------ */

void vexfs_bit_set(void *bitmap, uint64_t bit)
{
	((uint8_t *)bitmap)[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

void vexfs_bit_clear(void *bitmap, uint64_t bit)
{
	((uint8_t *)bitmap)[bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

bool vexfs_bit_test(const void *bitmap, uint64_t bit)
{
	return ((const uint8_t *)bitmap)[bit / 8] & (1u << (bit % 8));
}

/* Whole bytes in the middle of the range are set with one memset. */
void vexfs_bit_set_range(void *bitmap, uint64_t first, uint64_t count)
{
	uint64_t end = first + count;

	for (; first < end && first % 8; first++)
		vexfs_bit_set(bitmap, first);
	if (end - first >= 8) {
		memset((uint8_t *)bitmap + first / 8, 0xff, (end - first) / 8);
		first += (end - first) / 8 * 8;
	}
	for (; first < end; first++)
		vexfs_bit_set(bitmap, first);
}

/* The part of [from, to) that falls in bitmap block @index, block-relative. */
static void set_bits_in_block(void *block, uint64_t index, uint64_t from,
			      uint64_t to)
{
	uint64_t base = index * VEXFS_BITS_PER_BITMAP;
	uint64_t limit = base + VEXFS_BITS_PER_BITMAP;

	if (from < base)
		from = base;
	if (to > limit)
		to = limit;
	if (from < to)
		vexfs_bit_set_range(block, from - base, to - from);
}

void vexfs_encode_bitmap_block(void *block, uint64_t index,
			       uint64_t reserved, uint64_t count,
			       uint64_t blocknr)
{
	memset(block, 0, VEXFS_BLOCK_SIZE);
	set_bits_in_block(block, index, 0, reserved);
	set_bits_in_block(block, index, count, UINT64_MAX);
	vexfs_block_seal(block, VEXFS_BITMAP_MAGIC, blocknr);
}

/* ---- superblock --------------------------------------------------- */

void vexfs_encode_super(struct vexfs_super_block *sb,
			const struct vexfs_layout *l,
			const struct vexfs_super_params *p)
{
	memset(sb, 0, sizeof(*sb));
	sb->s_magic = htole32(VEXFS_MAGIC);
	sb->s_format_version = htole32(VEXFS_FORMAT_VERSION);
	sb->s_block_shift = htole32(VEXFS_BLOCK_SHIFT);
	/* Images too small for a journal run without one. */
	sb->s_feature_compat = htole64(l->journal_blocks ?
				       VEXFS_FEATURE_COMPAT_JOURNAL : 0);
	sb->s_feature_ro_compat = htole64(0);
	sb->s_feature_incompat = htole64(VEXFS_FEATURE_INCOMPAT_EXTENTS);
	sb->s_blocks_count = htole64(l->blocks_count);
	sb->s_inodes_count = htole64(l->inodes_count);
	sb->s_free_blocks = htole64(vexfs_layout_free_blocks(l));
	sb->s_free_inodes = htole64(vexfs_layout_free_inodes(l));
	sb->s_journal_start = htole64(l->journal_start);
	sb->s_journal_blocks = htole64(l->journal_blocks);
	sb->s_inode_bitmap_start = htole64(l->inode_bitmap_start);
	sb->s_inode_bitmap_blocks = htole64(l->inode_bitmap_blocks);
	sb->s_block_bitmap_start = htole64(l->block_bitmap_start);
	sb->s_block_bitmap_blocks = htole64(l->block_bitmap_blocks);
	sb->s_inode_table_start = htole64(l->inode_table_start);
	sb->s_inode_table_blocks = htole64(l->inode_table_blocks);
	sb->s_data_start = htole64(l->data_start);
	sb->s_root_ino = htole64(VEXFS_ROOT_INO);
	sb->s_mkfs_time = htole64(p->mkfs_time);
	sb->s_write_time = htole64(p->mkfs_time);
	sb->s_state = htole16(VEXFS_STATE_CLEAN);
	memcpy(sb->s_uuid, p->uuid, sizeof(sb->s_uuid));
	if (p->label)
		memcpy(sb->s_label, p->label,
		       strnlen(p->label, sizeof(sb->s_label) - 1));
	vexfs_super_csum_set(sb);
}

void vexfs_decode_layout(const struct vexfs_super_block *sb,
			 struct vexfs_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->blocks_count = le64toh(sb->s_blocks_count);
	l->inodes_count = le64toh(sb->s_inodes_count);
	l->journal_start = le64toh(sb->s_journal_start);
	l->journal_blocks = le64toh(sb->s_journal_blocks);
	l->inode_bitmap_start = le64toh(sb->s_inode_bitmap_start);
	l->inode_bitmap_blocks = le64toh(sb->s_inode_bitmap_blocks);
	l->block_bitmap_start = le64toh(sb->s_block_bitmap_start);
	l->block_bitmap_blocks = le64toh(sb->s_block_bitmap_blocks);
	l->inode_table_start = le64toh(sb->s_inode_table_start);
	l->inode_table_blocks = le64toh(sb->s_inode_table_blocks);
	l->data_start = le64toh(sb->s_data_start);
}

int vexfs_check_super(const struct vexfs_super_block *sb, char *err,
		      size_t errlen)
{
	uint64_t unknown = le64toh(sb->s_feature_incompat) &
			   ~VEXFS_FEATURE_INCOMPAT_SUPP;
	struct vexfs_layout l;

	if (le32toh(sb->s_magic) != VEXFS_MAGIC)
		return ondisk_error(err, errlen, "bad magic 0x%08x",
				    le32toh(sb->s_magic));
	if (!vexfs_super_csum_ok(sb))
		return ondisk_error(err, errlen,
				    "superblock checksum 0x%08x, expected 0x%08x",
				    le32toh(sb->s_checksum),
				    vexfs_super_csum(sb));
	if (le32toh(sb->s_format_version) != VEXFS_FORMAT_VERSION)
		return ondisk_error(err, errlen, "unknown format version %u",
				    le32toh(sb->s_format_version));
	if (le32toh(sb->s_block_shift) != VEXFS_BLOCK_SHIFT)
		return ondisk_error(err, errlen, "unsupported block shift %u",
				    le32toh(sb->s_block_shift));
	if (unknown)
		return ondisk_error(err, errlen,
				    "unknown incompatible features 0x%" PRIx64,
				    unknown);
	/* every file maps its blocks with an extent tree: there is no other way */
	if (!(le64toh(sb->s_feature_incompat) & VEXFS_FEATURE_INCOMPAT_EXTENTS))
		return ondisk_error(err, errlen, "extent feature missing");
	if (le64toh(sb->s_root_ino) != VEXFS_ROOT_INO)
		return ondisk_error(err, errlen, "root inode is %" PRIu64,
				    (uint64_t)le64toh(sb->s_root_ino));
	vexfs_decode_layout(sb, &l);
	return vexfs_layout_validate(&l, err, errlen);
}

/* ---- inodes ------------------------------------------------------- */

void vexfs_encode_empty_extent_root(uint8_t root[VEXFS_EXTENT_ROOT_SIZE])
{
	struct vexfs_extent_header eh = {
		.eh_magic = htole16(VEXFS_EXTENT_NODE_MAGIC),
		.eh_entries = htole16(0),
		.eh_max = htole16(VEXFS_EXTENT_ROOT_MAX),
		.eh_depth = htole16(0),
	};

	memset(root, 0, VEXFS_EXTENT_ROOT_SIZE);
	memcpy(root, &eh, sizeof(eh));
}

void vexfs_encode_inode(struct vexfs_inode *raw, uint64_t ino,
			const struct vexfs_inode_params *p)
{
	uint64_t sec = (uint64_t)p->time.tv_sec;
	uint32_t nsec = (uint32_t)p->time.tv_nsec;

	memset(raw, 0, sizeof(*raw));
	raw->i_mode = htole16(p->mode);
	raw->i_nlink = htole32(p->nlink);
	raw->i_uid = htole32(p->uid);
	raw->i_gid = htole32(p->gid);
	raw->i_size = htole64(p->size);
	raw->i_blocks = htole64(p->blocks);
	raw->i_atime = raw->i_mtime = raw->i_ctime = htole64(sec);
	raw->i_atime_nsec = raw->i_mtime_nsec = raw->i_ctime_nsec =
		htole32(nsec);
	raw->i_generation = htole32(p->generation);
	raw->i_parent = htole64(p->parent);
	vexfs_encode_empty_extent_root(raw->i_extent_root);
	vexfs_inode_csum_set(raw, ino);
}

bool vexfs_inode_mode_valid(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK:
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

/* ---- vector tables ------------------------------------------------ */

uint32_t vexfs_vtable_csum(const struct vexfs_vtable_header *vh)
{
	struct vexfs_vtable_header copy = *vh;

	copy.vh_checksum = 0;
	return vexfs_crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

uint32_t vexfs_change_map_csum(const struct vexfs_change_map *cm)
{
	struct vexfs_change_map copy = *cm;

	copy.cm_checksum = 0;
	return vexfs_crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

/* ---- inode table -------------------------------------------------- */

uint64_t vexfs_inode_blocknr(const struct vexfs_layout *l, uint64_t ino)
{
	return l->inode_table_start + ino / VEXFS_INODES_PER_BLOCK;
}

unsigned int vexfs_inode_slot(uint64_t ino)
{
	return ino % VEXFS_INODES_PER_BLOCK;
}
