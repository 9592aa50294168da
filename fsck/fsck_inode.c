// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 1: every inode the bitmap marks in use, held to the
 * rules of the module's vexfs_inode_from_disk() (checksum, file type,
 * size, flags, xattr block, extent tree), and every block it owns
 * claimed in the computed block set, so that a block owned twice shows.
 *
 * An inode whose checksum is wrong but whose contents pass every check is
 * resealed, as e2fsck does. One whose fields or extent tree the module
 * would refuse is cleared, as e2fsck clears an inode it cannot make sense
 * of: its slot zeroed and its bit freed before any of its blocks is
 * claimed, so that pass 6 frees what only it held; pass 2 then clears the
 * entries naming it, and what a cleared directory held goes to
 * /lost+found. The root, collections and the hidden inodes of their
 * tables and indexes are never cleared. An inode left as it is makes the
 * blocks it may own unknown, and then no block is freed at the end of the
 * run.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "fsck.h"

#define MAX_FILE_BYTES	((uint64_t)UINT32_MAX << VEXFS_BLOCK_SHIFT)

/* What the walk of one inode's tree counts. */
struct usage {
	uint64_t ino;
	uint64_t limit;		/* logical blocks the size covers */
	uint64_t blocks;	/* data and tree blocks */
	uint64_t inside;	/* data blocks below limit */
	uint64_t beyond;	/* data blocks at or past limit */
	bool first_mapped;	/* logical block 0 is mapped */
	bool hashed;		/* a directory with a hash tree past its entries */
};

/* The module's rules for the fields, before the tree. NULL when fine. */
static const char *field_fault(const struct vexfs_inode *raw)
{
	uint16_t mode = le16toh(raw->i_mode);
	uint16_t flags = le16toh(raw->i_flags);
	uint64_t size = le64toh(raw->i_size);

	if (!vexfs_inode_mode_valid(mode))
		return "unknown file type";
	if (size > MAX_FILE_BYTES)
		return "size past the largest file";
	if (S_ISDIR(mode) && size % VEXFS_BLOCK_SIZE)
		return "directory size not a multiple of the block size";
	/* every block of a directory is allocated */
	if (S_ISDIR(mode) && size / VEXFS_BLOCK_SIZE > le64toh(raw->i_blocks))
		return "directory larger than the blocks it holds";
	if (S_ISLNK(mode) && (size == 0 || size >= VEXFS_BLOCK_SIZE))
		return "symlink size out of range";
	if (flags & ~VEXFS_INODE_FLAGS_KNOWN)
		return "unknown inode flags";
	if ((flags & VEXFS_INODE_COLLECTION) && !S_ISDIR(mode))
		return "collection flag on a non-directory";
	if ((flags & VEXFS_INODE_VTABLE) && !S_ISREG(mode))
		return "vector table flag on a non-regular file";
	if ((flags & VEXFS_INODE_HTREE) && !S_ISDIR(mode))
		return "hash tree flag on a non-directory";
	return NULL;
}

static bool xattr_block_in_range(struct fsck *f, const struct vexfs_inode *raw)
{
	uint64_t b = le64toh(raw->i_xattr_block);

	return !b || fsck_data_block_valid(f, b, 1);
}

static void count_extent(struct fsck *f, void *arg, uint32_t lblk,
			 uint64_t pblk, uint32_t len)
{
	struct usage *u = arg;
	uint64_t end = (uint64_t)lblk + len, i, dup = 0;

	for (i = 0; i < len; i++)
		if (!fsck_claim_block(f, pblk + i))
			dup++;
	if (dup)
		fsck_unfixable(f, "Inode %" PRIu64 ": %" PRIu64 " of blocks %" PRIu64 "-%" PRIu64 " are also used by something else.",
			       u->ino, dup, pblk, pblk + len - 1);
	u->blocks += len;
	if (lblk == 0)
		u->first_mapped = true;
	if (u->hashed && lblk >= VEXFS_HTREE_LBLK) {
		/* the hash tree's blocks: past the entries by design */
	} else if (end <= u->limit) {
		u->inside += len;
	} else if (lblk >= u->limit) {
		u->beyond += len;
	} else {
		u->inside += u->limit - lblk;
		u->beyond += end - u->limit;
	}
}

static void count_node(struct fsck *f, void *arg, uint64_t blocknr)
{
	struct usage *u = arg;

	if (!fsck_claim_block(f, blocknr))
		fsck_unfixable(f, "Inode %" PRIu64 ": extent block %" PRIu64 " is also used by something else.",
			       u->ino, blocknr);
	u->blocks++;
	f->stats.extent_nodes++;
}

/*
 * The block count must match what the inode was found to hold; but not
 * for a directory with holes (reported by check_mapping()): lowered below
 * its size, it would be a directory the module refuses.
 */
static void check_block_count(struct fsck *f, uint64_t ino,
			      struct vexfs_inode *raw, const struct usage *u,
			      bool *rewrite)
{
	uint64_t stored = le64toh(raw->i_blocks), counted = u->blocks;

	if (stored == counted ||
	    (S_ISDIR(le16toh(raw->i_mode)) && u->inside != u->limit))
		return;
	if (fsck_fixable(f, "Inode %" PRIu64 ", i_blocks is %" PRIu64 ", should be %" PRIu64 ".",
			 ino, stored, counted)) {
		raw->i_blocks = htole64(counted);
		*rewrite = true;
	}
}

/* Sizes against mapped blocks; these are reported, not repaired. */
static void check_mapping(struct fsck *f, uint64_t ino,
			  const struct vexfs_inode *raw, const struct usage *u)
{
	uint16_t mode = le16toh(raw->i_mode);

	if (u->beyond)
		fsck_unfixable(f, "Inode %" PRIu64 ": %" PRIu64 " blocks mapped past its size of %" PRIu64 " bytes.",
			       ino, u->beyond, (uint64_t)le64toh(raw->i_size));
	if (S_ISDIR(mode) && u->inside != u->limit)
		fsck_unfixable(f, "Directory inode %" PRIu64 " has holes: %" PRIu64 " of its %" PRIu64 " blocks are mapped.",
			       ino, u->inside, u->limit);
	if (S_ISLNK(mode) && !u->first_mapped)
		fsck_unfixable(f, "Symlink inode %" PRIu64 " has no data block.",
			       ino);
}

static void count_type(struct fsck *f, const struct vexfs_inode *raw)
{
	uint16_t mode = le16toh(raw->i_mode);
	uint16_t flags = le16toh(raw->i_flags);

	if (flags & VEXFS_INODE_VTABLE)
		f->stats.tables++;
	else if (S_ISREG(mode))
		f->stats.regular++;
	else if (S_ISDIR(mode))
		f->stats.dirs++;
	else if (S_ISLNK(mode))
		f->stats.symlinks++;
	else
		f->stats.special++;
	if (flags & VEXFS_INODE_COLLECTION)
		f->stats.collections++;
}

static void record(struct fsck *f, uint64_t ino, const struct vexfs_inode *raw,
		   uint16_t state)
{
	struct fsck_ino *in = fsck_ino(f, ino);

	in->mode = le16toh(raw->i_mode);
	in->flags = le16toh(raw->i_flags);
	in->nlink = le32toh(raw->i_nlink);
	in->state |= INO_USED | state;
}

/*
 * A wrong checksum: the contents decide. Checked quietly, so that a slot
 * full of garbage gives one line, not one per field.
 */
static bool contents_valid(struct fsck *f, const struct vexfs_inode *raw)
{
	return !field_fault(raw) && xattr_block_in_range(f, raw) &&
	       !fsck_extent_walk(f, raw, NULL);
}

static int check_checksum(struct fsck *f, uint64_t ino,
			  const struct vexfs_inode *raw, bool *rewrite)
{
	uint32_t want = vexfs_inode_csum(raw, ino);

	if (le32toh(raw->i_checksum) == want)
		return 0;
	if (!contents_valid(f, raw))
		return -1;
	if (fsck_fixable(f, "Inode %" PRIu64 " passes checks, but its checksum is 0x%08x, should be 0x%08x.",
			 ino, le32toh(raw->i_checksum), want))
		*rewrite = true;
	return 0;
}

static bool may_clear(uint64_t ino, const struct vexfs_inode *raw)
{
	return ino != VEXFS_ROOT_INO &&
	       !(le16toh(raw->i_flags) & (FSCK_HIDDEN_FLAGS | VEXFS_INODE_COLLECTION));
}

/* An inode the module would refuse: cleared, or kept, its blocks unknown. */
static void bad_inode(struct fsck *f, uint64_t ino,
		     const struct vexfs_inode *raw, const char *fault)
{
	struct vexfs_inode zero = { 0 };

	if (!may_clear(ino, raw)) {
		fsck_unfixable(f, "Inode %" PRIu64 ": %s (mode 0%o).", ino, fault,
			       le16toh(raw->i_mode));
	} else if (fsck_fixable(f, "Inode %" PRIu64 ": %s (mode 0%o).  Clear the inode.",
				ino, fault, le16toh(raw->i_mode))) {
		if (!fsck_write_inode(f, ino, &zero)) {
			fsck_free_inode(f, ino);
			return;
		}
		fsck_fix_failed(f);
	}
	record(f, ino, raw, INO_BAD);
	f->blocks_uncertain = true;
}

int fsck_check_inode(struct fsck *f, uint64_t ino, struct vexfs_inode *raw)
{
	struct usage u = { .ino = ino };
	struct fsck_walk w = {
		.extent = count_extent, .node = count_node, .arg = &u,
	};
	const char *fault;
	bool rewrite = false;
	int bad = 0;

	if (check_checksum(f, ino, raw, &rewrite)) {
		bad_inode(f, ino, raw, "checksum mismatch, and its contents are invalid");
		return 0;
	}
	fault = field_fault(raw);
	if (fault) {
		bad_inode(f, ino, raw, fault);
		return 0;
	}
	/*
	 * A root the module refuses makes the file unreadable: the inode is
	 * cleared, before it claims any block. A fault deeper down leaves
	 * the rest of the file readable, and the inode as it is.
	 */
	if (may_clear(ino, raw) && fsck_extent_walk(f, raw, NULL) == 2) {
		fsck_extent_explain(f, ino, raw);
		bad_inode(f, ino, raw, "its extent tree's root is invalid");
		return 0;
	}
	u.limit = (le64toh(raw->i_size) + VEXFS_BLOCK_SIZE - 1) / VEXFS_BLOCK_SIZE;
	u.hashed = le16toh(raw->i_flags) & VEXFS_INODE_HTREE;
	bad = fsck_extent_check(f, ino, raw, &w);
	if (raw->i_xattr_block) {
		if (fsck_check_xattr(f, ino, raw, &rewrite))
			bad = 1;
		if (raw->i_xattr_block &&
		    fsck_data_block_valid(f, le64toh(raw->i_xattr_block), 1))
			u.blocks++;
	}
	if (bad)
		f->blocks_uncertain = true;
	else
		check_block_count(f, ino, raw, &u, &rewrite);
	check_mapping(f, ino, raw, &u);
	record(f, ino, raw, bad ? INO_BAD : 0);
	count_type(f, raw);
	if (rewrite && fsck_write_inode(f, ino, raw))
		fsck_fix_failed(f);
	return 0;
}

int fsck_pass1(struct fsck *f)
{
	struct vexfs_inode raw;
	uint64_t ino;

	fsck_pass(f, "Pass 1: checking inodes, blocks, and sizes");
	for (ino = VEXFS_ROOT_INO; ino < f->l.inodes_count && !f->aborted; ino++) {
		/* the root is looked at whatever its bit says */
		if (ino != VEXFS_ROOT_INO && !vexfs_bit_test(f->disk_ibits, ino))
			continue;
		if (fsck_read_inode(f, ino, &raw))
			return -1;
		if (fsck_slot_empty(&raw))
			continue;	/* a leaked bit: pass 6 frees it */
		fsck_check_inode(f, ino, &raw);
	}
	f->root_ok = (fsck_ino(f, VEXFS_ROOT_INO)->state & (INO_USED | INO_BAD)) == INO_USED &&
		     S_ISDIR(fsck_ino(f, VEXFS_ROOT_INO)->mode);
	if (!f->root_ok)
		fsck_unfixable(f, "Root inode %u is not a valid directory; the directory tree cannot be checked.",
			       VEXFS_ROOT_INO);
	return f->aborted ? -1 : 0;
}
