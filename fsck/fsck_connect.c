// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 3: every directory must be reachable from the root,
 * and its i_parent (where the module finds "..") must be the directory
 * that names it.
 *
 * Reachability follows, from each directory, the chain of directories
 * naming it (found in pass 2) up to the root. A chain that ends at a
 * directory nothing names leaves that directory unattached: it is linked
 * into /lost+found with everything below it, or released when it is an
 * empty directory already deleted (no links). A chain that loops is
 * reported and left alone. While some directory block is unreadable, an
 * unattached directory may well be named there: nothing is moved then.
 */
#include <inttypes.h>
#include <sys/stat.h>

#include "fsck.h"

static bool is_dir(const struct fsck_ino *in)
{
	return (in->state & INO_USED) && S_ISDIR(in->mode);
}

/* Set @state on the chain walked from @ino, clearing the walk marks. */
static void settle_chain(struct fsck *f, uint64_t ino, uint16_t state)
{
	while (ino && (fsck_ino(f, ino)->state & INO_ONPATH)) {
		struct fsck_ino *in = fsck_ino(f, ino);

		in->state = (in->state & ~INO_ONPATH) | state;
		ino = in->parent;
	}
}

static uint64_t disk_parent(struct fsck *f, uint64_t ino)
{
	struct vexfs_inode raw;

	if (fsck_read_inode(f, ino, &raw))
		return 0;
	return le64toh(raw.i_parent);
}

/* An unattached directory: deleted and empty, or to be reconnected. */
static uint16_t attach(struct fsck *f, uint64_t ino)
{
	struct fsck_ino *in = fsck_ino(f, ino);

	if ((in->state & INO_BAD) || f->refs_uncertain) {
		fsck_unfixable(f, "Directory inode %" PRIu64 " is not reachable from the root.",
			       ino);
		return INO_LOST;
	}
	if (!in->nlink && !in->entries) {
		if (!fsck_fixable(f, "Deleted directory inode %" PRIu64 " (no links, no entries) is still in use.  Release it.",
				  ino))
			return INO_LOST;
		if (fsck_release_inode(f, ino))
			fsck_fix_failed(f);
		return INO_LOST;
	}
	if (!fsck_fixable(f, "Unconnected directory inode %" PRIu64 " (i_parent %" PRIu64 ").  Connect to /lost+found.",
			  ino, disk_parent(f, ino)))
		return INO_LOST;
	if (fsck_reconnect(f, ino)) {
		fsck_info(f, "Cannot link inode %" PRIu64 " into /lost+found.",
			  ino);
		fsck_fix_failed(f);
		return INO_LOST;
	}
	return INO_REACHED;
}

/* Follow @ino's chain of parents until it is known to reach the root or not. */
static void resolve(struct fsck *f, uint64_t ino)
{
	uint64_t cur = ino;
	uint16_t result;

	for (;;) {
		struct fsck_ino *in = fsck_ino(f, cur);

		if (in->state & (INO_REACHED | INO_LOST)) {
			result = in->state & (INO_REACHED | INO_LOST);
			break;
		}
		if (in->state & INO_ONPATH) {
			fsck_unfixable(f, "Directory inode %" PRIu64 " is in a loop of directories unreachable from the root.",
				       cur);
			result = INO_LOST;
			break;
		}
		in->state |= INO_ONPATH;
		if (!in->parent) {
			result = attach(f, cur);
			/* a released directory is gone: only its marks are cleared */
			if (!(in->state & INO_USED))
				in->state |= INO_ONPATH;
			break;
		}
		cur = in->parent;
	}
	settle_chain(f, ino, result);
}

/* i_parent of a reachable directory must name the directory holding it. */
static void check_parent(struct fsck *f, uint64_t ino)
{
	uint64_t want = ino == VEXFS_ROOT_INO ? VEXFS_ROOT_INO : fsck_ino(f, ino)->parent;
	struct vexfs_inode raw;

	if (fsck_read_inode(f, ino, &raw) || le64toh(raw.i_parent) == want)
		return;
	if (!fsck_fixable(f, "Directory inode %" PRIu64 ", i_parent is %" PRIu64 ", should be %" PRIu64 ".",
			  ino, (uint64_t)le64toh(raw.i_parent), want))
		return;
	raw.i_parent = htole64(want);
	if (fsck_write_inode(f, ino, &raw))
		fsck_fix_failed(f);
}

int fsck_pass3(struct fsck *f)
{
	uint64_t ino;

	fsck_pass(f, "Pass 3: checking directory connectivity");
	if (!f->root_ok)
		return 0;
	fsck_ino(f, VEXFS_ROOT_INO)->state |= INO_REACHED;
	for (ino = VEXFS_ROOT_INO + 1; ino < f->l.inodes_count && !f->aborted; ino++)
		if (is_dir(fsck_ino(f, ino)))
			resolve(f, ino);
	for (ino = VEXFS_ROOT_INO; ino < f->l.inodes_count && !f->aborted; ino++) {
		const struct fsck_ino *in = fsck_ino(f, ino);

		/* a directory named twice has no one right parent */
		if (is_dir(in) && (in->state & INO_REACHED) &&
		    !(in->state & (INO_BAD | INO_MULTI)))
			check_parent(f, ino);
	}
	return f->aborted ? -1 : 0;
}
