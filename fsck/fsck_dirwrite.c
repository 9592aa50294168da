// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: adding a name to a directory, as the module's
 * vexfs_dir_place() does it: the first record with room is split (or
 * taken, when unused); when no block has room, a block is appended to the
 * directory. Only blocks that pass their checks are touched, and every
 * block written is resealed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "fsck_htree.h"

struct newent {
	const char *name;
	uint8_t len;
	uint64_t ino;
	uint8_t type;
};

static struct vexfs_dirent *rec_at(uint8_t *block, unsigned int off)
{
	return (struct vexfs_dirent *)(block + off);
}

/* Space a new entry could take from this record. */
static unsigned int rec_slack(const struct vexfs_dirent *de)
{
	unsigned int len = le16toh(de->d_rec_len);

	return de->d_ino ? len - VEXFS_DIRENT_SIZE(de->d_name_len) : len;
}

/* Place the entry in @block if some record has room; false if none. */
static bool place(struct fsck *f, uint8_t *block, const struct newent *e)
{
	unsigned int need = VEXFS_DIRENT_SIZE(e->len), off;
	struct vexfs_dirent *de;
	int len;

	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += (unsigned int)len) {
		len = fsck_rec_check(f, block, off);
		if (len < 0)
			return false;
		de = rec_at(block, off);
		if (rec_slack(de) >= need)
			break;
	}
	if (off >= VEXFS_BLOCK_PAYLOAD)
		return false;
	if (de->d_ino) {
		unsigned int used = VEXFS_DIRENT_SIZE(de->d_name_len);
		struct vexfs_dirent *next = rec_at(block, off + used);

		next->d_rec_len = htole16((uint16_t)(len - used));
		de->d_rec_len = htole16((uint16_t)used);
		de = next;
	}
	de->d_ino = htole64(e->ino);
	de->d_name_len = e->len;
	de->d_type = e->type;
	de->d_reserved = 0;
	memcpy(de->d_name, e->name, e->len);
	return true;
}

/* Try the existing blocks; 1 when placed, 0 when none had room. */
static int add_to_existing(struct fsck *f, const struct vexfs_inode *raw,
			   uint8_t *block, const struct newent *e)
{
	uint64_t nblocks = le64toh(raw->i_size) / VEXFS_BLOCK_SIZE, pblk;
	uint32_t lblk;

	for (lblk = 0; lblk < nblocks; lblk++) {
		if (fsck_bmap(f, raw, lblk, &pblk) || !pblk ||
		    fsck_read_block(f, pblk, block) ||
		    !vexfs_block_sealed_ok(block, VEXFS_DIR_MAGIC, pblk))
			continue;
		if (!place(f, block, e))
			continue;
		vexfs_block_seal(block, VEXFS_DIR_MAGIC, pblk);
		return fsck_write_block(f, pblk, block) ? -1 : 1;
	}
	return 0;
}

/* A new block at the end of the directory, holding the entry. */
static int add_block(struct fsck *f, uint64_t dir, struct vexfs_inode *raw,
		     uint8_t *block, const struct newent *e)
{
	uint64_t nblocks = le64toh(raw->i_size) / VEXFS_BLOCK_SIZE;
	uint64_t goal = f->l.data_start, pblk;

	/* its hash tree is mapped past the entries: a block cannot be appended */
	if (le16toh(raw->i_flags) & VEXFS_INODE_HTREE) {
		fsck_info(f, "Directory inode %" PRIu64 " has no room for %s.",
			  dir, e->name);
		return -1;
	}
	if (nblocks && !fsck_bmap(f, raw, (uint32_t)(nblocks - 1), &pblk) && pblk)
		goal = pblk + 1;
	if (fsck_alloc_block(f, goal, &pblk))
		return -1;
	memset(block, 0, VEXFS_BLOCK_SIZE);
	rec_at(block, 0)->d_rec_len = htole16(VEXFS_BLOCK_PAYLOAD);
	place(f, block, e);
	vexfs_block_seal(block, VEXFS_DIR_MAGIC, pblk);
	if (fsck_write_block(f, pblk, block) ||
	    fsck_extent_append(f, dir, raw, (uint32_t)nblocks, pblk)) {
		fsck_free_block(f, pblk);
		return -1;
	}
	raw->i_size = htole64((nblocks + 1) * VEXFS_BLOCK_SIZE);
	raw->i_blocks = htole64(le64toh(raw->i_blocks) + 1);
	return fsck_write_inode(f, dir, raw);
}

static bool name_in_block(struct fsck *f, const uint8_t *block,
			  const char *name, uint8_t len)
{
	unsigned int off;
	int rec;

	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += (unsigned int)rec) {
		const struct vexfs_dirent *de = rec_at((uint8_t *)block, off);

		rec = fsck_rec_check(f, block, off);
		if (rec < 0)
			return false;
		if (de->d_ino && de->d_name_len == len &&
		    !memcmp(de->d_name, name, len))
			return true;
	}
	return false;
}

/* Does a sound block of @dir hold @name? -1 when @dir is unreadable. */
int fsck_dir_has(struct fsck *f, uint64_t dir, const char *name)
{
	uint8_t len = (uint8_t)strlen(name), *block = malloc(VEXFS_BLOCK_SIZE);
	struct vexfs_inode raw;
	uint64_t nblocks, pblk;
	uint32_t lblk;
	int found = 0;

	if (!block || fsck_read_inode(f, dir, &raw)) {
		free(block);
		return -1;
	}
	nblocks = le64toh(raw.i_size) / VEXFS_BLOCK_SIZE;
	for (lblk = 0; lblk < nblocks && !found; lblk++) {
		if (fsck_bmap(f, &raw, lblk, &pblk) || !pblk ||
		    fsck_read_block(f, pblk, block) ||
		    !vexfs_block_sealed_ok(block, VEXFS_DIR_MAGIC, pblk))
			continue;
		found = name_in_block(f, block, name, len);
	}
	free(block);
	return found;
}

int fsck_dir_add(struct fsck *f, uint64_t dir, const char *name,
		 uint64_t ino, uint8_t type)
{
	struct newent e = {
		.name = name, .len = (uint8_t)strlen(name), .ino = ino,
		.type = type,
	};
	struct vexfs_inode raw;
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	int ret = -1;

	if (!block || fsck_read_inode(f, dir, &raw))
		goto out;
	ret = add_to_existing(f, &raw, block, &e);
	if (ret == 0)
		ret = add_block(f, dir, &raw, block, &e);
	else if (ret == 1)
		ret = 0;
	if (!ret && (le16toh(raw.i_flags) & VEXFS_INODE_HTREE))
		ret = fsck_htree_refresh(f, dir);
out:
	free(block);
	return ret;
}
