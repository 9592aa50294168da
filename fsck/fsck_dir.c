// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 2: every directory's blocks and records, held to the
 * rules of the module's vexfs_rec_check(), and every entry's target:
 * in use, of the type the entry says, not a vector table, not the root.
 * Entries are counted here (links of files, subdirectories and the first
 * parent of directories) for passes 3 and 4.
 *
 * An entry naming an inode whose bitmap bit is clear but whose slot holds
 * a valid inode adopts that inode: the bit was lost, not the file (pass 6
 * sets the bit).
 *
 * Repairs, as e2fsck's pass 2 makes them: an entry that names nothing it
 * may (a free inode, the root, a collection's own inode, a second parent
 * of a directory), stores '.' or '..', or repeats a name is cleared (its
 * record becomes unused space); an entry of the wrong type gets its
 * inode's; a block whose records stop making sense at some record keeps
 * those before it, the last of them taking the rest of the block. The
 * files only those entries named are found again in pass 4, unattached,
 * and go to /lost+found. A block whose tail is right but whose checksum
 * is not is resealed once its records are checked. A block without the
 * directory magic may belong to something else and is left alone; it
 * makes every count that depends on it uncertain, as does any repair
 * declined.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsck.h"
#include "fsck_htree.h"
#include "fsck_names.h"

struct dirscan {
	struct fsck *f;
	uint64_t dir;
	uint32_t lblk;
	uint64_t pblk;
	bool dirty;		/* the block was repaired: write it */
	struct fsck_names names;
};

static struct vexfs_dirent *rec_at(const uint8_t *block, unsigned int off)
{
	return (struct vexfs_dirent *)(block + off);
}

/* The length rules alone: the record's length, or -1. */
static int rec_len_check(const uint8_t *block, unsigned int off)
{
	unsigned int len;

	if (off + VEXFS_DIRENT_HEADER > VEXFS_BLOCK_PAYLOAD)
		return -1;
	len = le16toh(rec_at(block, off)->d_rec_len);
	if (len < VEXFS_DIRENT_HEADER || len % VEXFS_DIRENT_ALIGN ||
	    off + len > VEXFS_BLOCK_PAYLOAD)
		return -1;
	return (int)len;
}

/* The module's record rules; returns the record length or -1. */
int fsck_rec_check(const struct fsck *f, const uint8_t *block,
		   unsigned int off)
{
	const struct vexfs_dirent *de = rec_at(block, off);
	int len = rec_len_check(block, off);
	uint64_t ino;

	if (len < 0)
		return -1;
	ino = le64toh(de->d_ino);
	if (!ino)
		return (int)len;
	if (ino >= f->l.inodes_count || !de->d_name_len ||
	    (unsigned int)VEXFS_DIRENT_SIZE(de->d_name_len) > (unsigned int)len ||
	    memchr(de->d_name, '/', de->d_name_len) ||
	    memchr(de->d_name, '\0', de->d_name_len))
		return -1;
	return len;
}

/*
 * An entry names an inode the bitmap says is free. A slot holding a
 * valid inode was lost from the bitmap; anything else is a dangling name.
 */
static bool adopt(struct fsck *f, uint64_t ino)
{
	struct vexfs_inode raw;

	if (fsck_read_inode(f, ino, &raw) || fsck_slot_empty(&raw) ||
	    !vexfs_inode_csum_ok(&raw, ino) ||
	    !vexfs_inode_mode_valid(le16toh(raw.i_mode)))
		return false;
	fsck_verbose(f, "Inode %" PRIu64 " is in use but its bitmap bit is clear.",
		     ino);
	fsck_check_inode(f, ino, &raw);
	/* the check may have cleared it */
	return fsck_ino(f, ino)->state & INO_USED;
}

static bool is_dot(const struct vexfs_dirent *de)
{
	return (de->d_name_len == 1 && de->d_name[0] == '.') ||
	       (de->d_name_len == 2 && !memcmp(de->d_name, "..", 2));
}

static bool is_lost_found(const struct dirscan *s,
			  const struct vexfs_dirent *de)
{
	return s->dir == VEXFS_ROOT_INO && de->d_name_len == 10 &&
	       !memcmp(de->d_name, "lost+found", 10);
}

static void mark_partial(struct dirscan *s)
{
	fsck_ino(s->f, s->dir)->state |= INO_DIRPART;
	s->f->refs_uncertain = true;
}

/*
 * Clear an entry fsck_fixable() was asked about: its record stays, as
 * unused space. Declined, the directory's counts are uncertain.
 */
static bool clear_entry(struct dirscan *s, struct vexfs_dirent *de, bool yes)
{
	if (!yes) {
		mark_partial(s);
		return false;
	}
	de->d_ino = 0;
	s->dirty = true;
	return true;
}

static void check_type(struct dirscan *s, struct vexfs_dirent *de,
		       uint64_t ino, const char *name)
{
	struct fsck_ino *t = fsck_ino(s->f, ino);
	uint8_t want = (t->mode >> 12) & 15;

	if ((t->state & INO_BAD) || de->d_type == want)
		return;
	if (fsck_fixable_unshared(s->f, "Entry '%s' in directory inode %" PRIu64 " has type %u, but inode %" PRIu64 " is of type %u.",
			 name, s->dir, de->d_type, ino, want)) {
		de->d_type = want;
		s->dirty = true;
	}
}

/*
 * A directory has one parent. Which of two entries is the true one is
 * not known here (the first scanned may be a stray one, or close a loop),
 * so a second is only reported.
 */
static void count_subdir(struct dirscan *s, uint64_t ino)
{
	struct fsck_ino *t = fsck_ino(s->f, ino);

	fsck_ino(s->f, s->dir)->subdirs++;
	if (!t->parent) {
		t->parent = s->dir;
		return;
	}
	t->state |= INO_MULTI;
	fsck_unfixable(s->f, "Directory inode %" PRIu64 " is linked from directory %" PRIu64 " and from directory %" PRIu64 ".",
		       ino, t->parent, s->dir);
}

/* Why an entry naming ino cannot stay, or NULL. */
static const char *target_fault(struct dirscan *s, uint64_t ino)
{
	struct fsck *f = s->f;

	if (ino == VEXFS_ROOT_INO)
		return "links the root directory";
	if (!(fsck_ino(f, ino)->state & INO_USED) && !adopt(f, ino))
		return "refers to a free inode";
	if ((fsck_ino(f, ino)->flags & FSCK_HIDDEN_FLAGS) &&
	    !(fsck_ino(f, ino)->state & INO_BAD))
		return "names a collection's own hidden inode";
	return NULL;
}

/*
 * Why an entry cannot stay, or NULL. Its name is taken only by an entry
 * that stays: a name repeated after one cleared is not a repeat.
 */
static const char *entry_fault(struct dirscan *s, const struct vexfs_dirent *de)
{
	const char *fault;
	int dup;

	if (is_dot(de))
		return "is stored, though '.' and '..' are not";
	fault = target_fault(s, le64toh(de->d_ino));
	if (fault)
		return fault;
	dup = fsck_names_add(&s->names, de->d_name, de->d_name_len);
	if (dup < 0)
		s->f->aborted = true;
	return dup > 0 ? "repeats a name of the directory" : NULL;
}

static void check_entry(struct dirscan *s, struct vexfs_dirent *de)
{
	uint64_t ino = le64toh(de->d_ino);
	char name[FSCK_NAME_BUF];
	const char *fault;

	fsck_name_str(de->d_name, de->d_name_len, name, sizeof(name));
	fault = entry_fault(s, de);
	if (s->f->aborted)
		return;
	if (fault && clear_entry(s, de, fsck_fixable_unshared(s->f, "Entry '%s' (inode %" PRIu64 ") in directory inode %" PRIu64 " %s.  Clear it.",
						       name, ino, s->dir, fault)))
		return;
	fsck_ino(s->f, s->dir)->entries++;
	/* whatever it names, the name is taken */
	if (is_lost_found(s, de))
		s->f->lost_found_taken = true;
	if (fault)
		return;
	if (S_ISDIR(fsck_ino(s->f, ino)->mode))
		count_subdir(s, ino);
	fsck_ino(s->f, ino)->refs++;
	check_type(s, de, ino, name);
	if (is_lost_found(s, de) && S_ISDIR(fsck_ino(s->f, ino)->mode))
		s->f->lost_found = ino;
}

/*
 * The record at off and every one after it in the block are lost: the
 * one before takes the rest of the block (or, at off 0, one unused
 * record does). False when declined.
 */
static bool cut_block(struct dirscan *s, uint8_t *block, unsigned int prev,
		      unsigned int off)
{
	if (!fsck_fixable_unshared(s->f, "Directory inode %" PRIu64 ", block %u (physical %" PRIu64 "): bad record at offset %u.  Drop the records from there to the end of the block.",
			  s->dir, s->lblk, s->pblk, off))
		return false;
	if (!off) {
		memset(block, 0, VEXFS_BLOCK_PAYLOAD);
		prev = 0;
	}
	rec_at(block, prev)->d_rec_len = htole16(VEXFS_BLOCK_PAYLOAD - prev);
	s->dirty = true;
	return true;
}

/* Is the block's tail the directory magic, whatever its checksum says? */
static bool dir_magic(const uint8_t *block)
{
	const struct vexfs_block_tail *tail =
		(const void *)(block + VEXFS_BLOCK_PAYLOAD);

	return le32toh(tail->t_magic) == VEXFS_DIR_MAGIC;
}

/* A block that cannot be trusted at all, or whose reseal was declined. */
static bool block_usable(struct dirscan *s, const uint8_t *block)
{
	if (vexfs_block_sealed_ok(block, VEXFS_DIR_MAGIC, s->pblk))
		return true;
	if (dir_magic(block)) {
		if (!fsck_fixable_unshared(s->f, "Directory inode %" PRIu64 ", block %u (physical %" PRIu64 "): checksum mismatch.  Check its records and reseal it.",
				  s->dir, s->lblk, s->pblk))
			return false;
		s->dirty = true;
		return true;
	}
	fsck_unfixable(s->f, "Directory inode %" PRIu64 ", block %u (physical %" PRIu64 "): checksum or magic mismatch.",
		       s->dir, s->lblk, s->pblk);
	return false;
}

static void scan_block(struct dirscan *s, uint8_t *block)
{
	unsigned int off, prev = 0;
	int len;

	s->dirty = false;
	if (!block_usable(s, block)) {
		mark_partial(s);
		return;
	}
	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; prev = off, off += (unsigned int)len) {
		len = fsck_rec_check(s->f, block, off);
		if (len < 0 && rec_len_check(block, off) > 0) {
			/* Its length holds: the entry alone goes. */
			len = rec_len_check(block, off);
			if (clear_entry(s, rec_at(block, off), fsck_fixable_unshared(s->f, "Directory inode %" PRIu64 ", block %u (physical %" PRIu64 "): bad entry at offset %u.  Clear it.",
										    s->dir, s->lblk, s->pblk, off)))
				continue;
			break;
		}
		if (len < 0) {
			if (!cut_block(s, block, prev, off))
				mark_partial(s);
			break;
		}
		if (rec_at(block, off)->d_ino)
			check_entry(s, rec_at(block, off));
	}
	if (!s->dirty || s->f->aborted)
		return;
	vexfs_block_seal(block, VEXFS_DIR_MAGIC, s->pblk);
	if (fsck_write_block(s->f, s->pblk, block))
		fsck_fix_failed(s->f);
}

static void scan_dir(struct fsck *f, uint64_t dir)
{
	struct dirscan s = { .f = f, .dir = dir };
	struct vexfs_inode raw;
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	uint64_t nblocks, pblk;

	fsck_names_init(&s.names);
	if (!block || fsck_read_inode(f, dir, &raw)) {
		f->aborted = true;
		free(block);
		return;
	}
	nblocks = le64toh(raw.i_size) / VEXFS_BLOCK_SIZE;
	for (s.lblk = 0; s.lblk < nblocks && !f->aborted; s.lblk++) {
		if (fsck_bmap(f, &raw, s.lblk, &pblk)) {
			mark_partial(&s);
			break;
		}
		if (!pblk)
			continue;	/* a hole, reported in pass 1 */
		if (fsck_read_block(f, pblk, block))
			break;
		s.pblk = pblk;
		scan_block(&s, block);
	}
	/* after the entries' repairs: the tree must agree with what is left */
	if ((le16toh(raw.i_flags) & VEXFS_INODE_HTREE) && !f->aborted)
		fsck_htree_check(f, dir);
	fsck_names_free(&s.names);
	free(block);
}

static bool wants_scan(const struct fsck_ino *in)
{
	return (in->state & (INO_USED | INO_BAD | INO_SCANNED)) == INO_USED &&
	       S_ISDIR(in->mode);
}

int fsck_pass2(struct fsck *f)
{
	bool again = true;
	uint64_t ino;

	fsck_pass(f, "Pass 2: checking directory structure");
	/* an adopted directory is scanned on the next round */
	while (again && !f->aborted) {
		again = false;
		for (ino = VEXFS_ROOT_INO; ino < f->l.inodes_count && !f->aborted; ino++) {
			if (!wants_scan(fsck_ino(f, ino)))
				continue;
			fsck_ino(f, ino)->state |= INO_SCANNED;
			scan_dir(f, ino);
			again = true;
		}
	}
	/* a directory whose tree is bad was not read: its entries are unknown */
	for (ino = VEXFS_ROOT_INO; ino < f->l.inodes_count; ino++) {
		const struct fsck_ino *in = fsck_ino(f, ino);

		if ((in->state & (INO_USED | INO_BAD)) == (INO_USED | INO_BAD) &&
		    S_ISDIR(in->mode))
			f->refs_uncertain = true;
	}
	return f->aborted ? -1 : 0;
}
