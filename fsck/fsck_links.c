// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 4: link counts. A directory has 2 + its subdirectories
 * ("." and its name in the parent, and each child's ".."); any other
 * inode has one link per directory entry naming it. Vector tables, named
 * by no directory, are left to pass 5.
 *
 * An inode that no entry names is unattached: if it has no links either,
 * it was deleted while open and its release never reached the disk, so
 * it is released now; otherwise it is linked into /lost+found. Hidden
 * inodes (vector tables) are named by no directory by design. Counts
 * that depend on unreadable directory blocks are not touched.
 */
#include <inttypes.h>
#include <sys/stat.h>

#include "fsck.h"

static void fix_count(struct fsck *f, uint64_t ino, uint32_t want)
{
	struct fsck_ino *in = fsck_ino(f, ino);
	struct vexfs_inode raw;

	if (in->nlink == want)
		return;
	if (!fsck_fixable(f, "Inode %" PRIu64 " ref count is %u, should be %u.",
			  ino, in->nlink, want))
		return;
	if (fsck_read_inode(f, ino, &raw)) {
		fsck_fix_failed(f);
		return;
	}
	raw.i_nlink = htole32(want);
	if (fsck_write_inode(f, ino, &raw)) {
		fsck_fix_failed(f);
		return;
	}
	in->nlink = want;
}

static void check_dir(struct fsck *f, uint64_t ino)
{
	const struct fsck_ino *in = fsck_ino(f, ino);

	/* unreachable, or with entries unread: the count is not known */
	if (!(in->state & INO_REACHED) || (in->state & INO_DIRPART))
		return;
	fix_count(f, ino, 2 + in->subdirs);
}

static void release_deleted(struct fsck *f, uint64_t ino)
{
	if (!fsck_fixable(f, "Inode %" PRIu64 " (mode 0%o) has no links and no name, but is still in use.  Release it.",
			  ino, fsck_ino(f, ino)->mode))
		return;
	if (fsck_release_inode(f, ino))
		fsck_fix_failed(f);
}

static void connect_file(struct fsck *f, uint64_t ino)
{
	if (!fsck_fixable(f, "Unattached inode %" PRIu64 " (mode 0%o, %u links).  Connect to /lost+found.",
			  ino, fsck_ino(f, ino)->mode, fsck_ino(f, ino)->nlink))
		return;
	if (fsck_reconnect(f, ino)) {
		fsck_info(f, "Cannot link inode %" PRIu64 " into /lost+found.",
			  ino);
		fsck_fix_failed(f);
	}
}

static void check_file(struct fsck *f, uint64_t ino)
{
	const struct fsck_ino *in = fsck_ino(f, ino);

	if (f->refs_uncertain)
		return;
	if (!in->refs && !in->nlink) {
		release_deleted(f, ino);
		return;
	}
	if (!in->refs)
		connect_file(f, ino);
	if (in->refs)
		fix_count(f, ino, in->refs);
}

int fsck_pass4(struct fsck *f)
{
	uint64_t ino;

	fsck_pass(f, "Pass 4: checking reference counts");
	if (!f->root_ok)
		return 0;
	for (ino = VEXFS_ROOT_INO; ino < f->l.inodes_count && !f->aborted; ino++) {
		const struct fsck_ino *in = fsck_ino(f, ino);

		if ((in->state & (INO_USED | INO_BAD)) != INO_USED ||
		    (in->flags & FSCK_HIDDEN_FLAGS))
			continue;
		if (S_ISDIR(in->mode))
			check_dir(f, ino);
		else
			check_file(f, ino);
	}
	return f->aborted ? -1 : 0;
}
