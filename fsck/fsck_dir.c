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
 * sets the bit). Directory blocks themselves are never rewritten here;
 * a bad one makes every count that depends on it uncertain.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsck.h"
#include "fsck_names.h"

struct dirscan {
	struct fsck *f;
	uint64_t dir;
	uint32_t lblk;
	struct fsck_names names;
};

static const struct vexfs_dirent *rec_at(const uint8_t *block, unsigned int off)
{
	return (const struct vexfs_dirent *)(block + off);
}

/* The module's record rules; returns the record length or -1. */
int fsck_rec_check(const struct fsck *f, const uint8_t *block,
		   unsigned int off)
{
	const struct vexfs_dirent *de = rec_at(block, off);
	unsigned int len;
	uint64_t ino;

	if (off + VEXFS_DIRENT_HEADER > VEXFS_BLOCK_PAYLOAD)
		return -1;
	len = le16toh(de->d_rec_len);
	if (len < VEXFS_DIRENT_HEADER || len % VEXFS_DIRENT_ALIGN ||
	    off + len > VEXFS_BLOCK_PAYLOAD)
		return -1;
	ino = le64toh(de->d_ino);
	if (!ino)
		return (int)len;
	if (ino >= f->l.inodes_count || !de->d_name_len ||
	    (unsigned int)VEXFS_DIRENT_SIZE(de->d_name_len) > len ||
	    memchr(de->d_name, '/', de->d_name_len) ||
	    memchr(de->d_name, '\0', de->d_name_len))
		return -1;
	return (int)len;
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
	return true;
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

static void check_type(struct dirscan *s, const struct vexfs_dirent *de,
		       uint64_t ino, const char *name)
{
	struct fsck_ino *t = fsck_ino(s->f, ino);
	uint8_t want = (t->mode >> 12) & 15;

	if (!(t->state & INO_BAD) && de->d_type != want)
		fsck_unfixable(s->f, "Entry '%s' in directory inode %" PRIu64 " has type %u, but inode %" PRIu64 " is of type %u.",
			       name, s->dir, de->d_type, ino, want);
}

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

/* Is the target usable? Reports why not. */
static bool target_ok(struct dirscan *s, uint64_t ino, const char *name)
{
	struct fsck *f = s->f;

	if (ino == VEXFS_ROOT_INO) {
		fsck_unfixable(f, "Entry '%s' in directory inode %" PRIu64 " links the root directory.",
			       name, s->dir);
		return false;
	}
	if (!(fsck_ino(f, ino)->state & INO_USED) && !adopt(f, ino)) {
		fsck_unfixable(f, "Entry '%s' in directory inode %" PRIu64 " refers to free inode %" PRIu64 ".",
			       name, s->dir, ino);
		return false;
	}
	if ((fsck_ino(f, ino)->flags & FSCK_HIDDEN_FLAGS) &&
	    !(fsck_ino(f, ino)->state & INO_BAD)) {
		fsck_unfixable(f, "Entry '%s' in directory inode %" PRIu64 " names hidden inode %" PRIu64 " (a collection's own).",
			       name, s->dir, ino);
		return false;
	}
	return true;
}

static void check_entry(struct dirscan *s, const struct vexfs_dirent *de)
{
	uint64_t ino = le64toh(de->d_ino);
	char name[FSCK_NAME_BUF];
	int dup;

	fsck_name_str(de->d_name, de->d_name_len, name, sizeof(name));
	fsck_ino(s->f, s->dir)->entries++;
	dup = fsck_names_add(&s->names, de->d_name, de->d_name_len);
	if (dup < 0) {
		s->f->aborted = true;
		return;
	}
	if (dup)
		fsck_unfixable(s->f, "Directory inode %" PRIu64 ": name '%s' appears twice.",
			       s->dir, name);
	if (is_dot(de))
		fsck_unfixable(s->f, "Directory inode %" PRIu64 " stores an entry '%s'.",
			       s->dir, name);
	/* whatever it names, the name is taken */
	if (is_lost_found(s, de))
		s->f->lost_found_taken = true;
	if (!target_ok(s, ino, name))
		return;
	fsck_ino(s->f, ino)->refs++;
	check_type(s, de, ino, name);
	if (S_ISDIR(fsck_ino(s->f, ino)->mode))
		count_subdir(s, ino);
	if (is_lost_found(s, de) && S_ISDIR(fsck_ino(s->f, ino)->mode))
		s->f->lost_found = ino;
}

static void mark_partial(struct dirscan *s)
{
	fsck_ino(s->f, s->dir)->state |= INO_DIRPART;
	s->f->refs_uncertain = true;
}

static void scan_block(struct dirscan *s, uint64_t pblk, const uint8_t *block)
{
	unsigned int off;
	int len;

	if (!vexfs_block_sealed_ok(block, VEXFS_DIR_MAGIC, pblk)) {
		fsck_unfixable(s->f, "Directory inode %" PRIu64 ", block %u (physical %" PRIu64 "): checksum or magic mismatch.",
			       s->dir, s->lblk, pblk);
		mark_partial(s);
		return;
	}
	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += (unsigned int)len) {
		len = fsck_rec_check(s->f, block, off);
		if (len < 0) {
			fsck_unfixable(s->f, "Directory inode %" PRIu64 ", block %u (physical %" PRIu64 "): bad record at offset %u.",
				       s->dir, s->lblk, pblk, off);
			mark_partial(s);
			return;
		}
		if (rec_at(block, off)->d_ino)
			check_entry(s, rec_at(block, off));
	}
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
		scan_block(&s, pblk, block);
	}
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
