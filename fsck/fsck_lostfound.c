// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: /lost+found, where inodes in use that no directory reaches
 * are linked again, named "#INO" as e2fsck names them. mkfs does not make
 * it: the first reconnection creates it in the root (mode 0700, owned by
 * root), as an ordinary directory the module can read and remove.
 *
 * Link counts on disk are kept right as names are added (the root's and
 * lost+found's for each directory linked), so that pass 4 only reports
 * what was wrong before.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsck.h"

#define LOST_FOUND	"lost+found"

static uint8_t dtype_of(uint16_t mode)
{
	return (mode >> 12) & 15;
}

/* One more subdirectory in @dir: its link count on disk and in memory. */
static int add_subdir_link(struct fsck *f, uint64_t dir)
{
	struct vexfs_inode raw;

	if (fsck_read_inode(f, dir, &raw))
		return -1;
	raw.i_nlink = htole32(le32toh(raw.i_nlink) + 1);
	if (fsck_write_inode(f, dir, &raw))
		return -1;
	fsck_ino(f, dir)->nlink++;
	fsck_ino(f, dir)->subdirs++;
	return 0;
}

static void encode_lost_found(struct vexfs_inode *raw, uint64_t ino)
{
	struct vexfs_inode_params p = {
		.mode = S_IFDIR | 0700,
		.nlink = 2,
		.parent = VEXFS_ROOT_INO,
		.generation = (uint32_t)time(NULL) ^ (uint32_t)ino,
	};

	clock_gettime(CLOCK_REALTIME, &p.time);
	vexfs_encode_inode(raw, ino, &p);
}

static int create_lost_found(struct fsck *f)
{
	struct vexfs_inode raw;
	struct fsck_ino *in;
	uint64_t ino;

	if (fsck_alloc_inode(f, &ino))
		return -1;
	/* the name first: if it cannot be added, nothing was written */
	if (fsck_dir_add(f, VEXFS_ROOT_INO, LOST_FOUND, ino, DT_DIR)) {
		fsck_free_inode(f, ino);
		return -1;
	}
	encode_lost_found(&raw, ino);
	if (fsck_write_inode(f, ino, &raw) ||
	    add_subdir_link(f, VEXFS_ROOT_INO))
		return -1;
	in = fsck_ino(f, ino);
	in->mode = S_IFDIR | 0700;
	in->nlink = 2;
	in->refs = 1;
	in->parent = VEXFS_ROOT_INO;
	in->state = INO_USED | INO_SCANNED | INO_REACHED;
	f->lost_found = ino;
	f->stats.dirs++;
	fsck_info(f, "/%s created as inode %" PRIu64 ".", LOST_FOUND, ino);
	return 0;
}

/* The lost+found to use, made when there is none. */
static int lost_found(struct fsck *f)
{
	const struct fsck_ino *in;

	if (!f->lost_found && f->lost_found_taken)
		return -1;
	if (!f->lost_found)
		return create_lost_found(f);
	in = fsck_ino(f, f->lost_found);
	/* a damaged one is not written to: its blocks are not trusted */
	if (in->state & (INO_BAD | INO_DIRPART))
		return -1;
	return 0;
}

static int set_parent(struct fsck *f, uint64_t ino, uint64_t parent)
{
	struct vexfs_inode raw;

	if (fsck_read_inode(f, ino, &raw))
		return -1;
	raw.i_parent = htole64(parent);
	return fsck_write_inode(f, ino, &raw);
}

/*
 * The name @ino gets in lost+found: #INO, or #INO.N when an earlier run
 * gave that name to something else. -1 when none is free.
 */
static int free_name(struct fsck *f, uint64_t ino, char *name, size_t size)
{
	int n, taken;

	for (n = 0; n < 100; n++) {
		if (n)
			snprintf(name, size, "#%" PRIu64 ".%d", ino, n);
		else
			snprintf(name, size, "#%" PRIu64, ino);
		taken = fsck_dir_has(f, f->lost_found, name);
		if (taken <= 0)
			return taken;
	}
	return -1;
}

/* Link @ino into lost+found; returns 0, or -1 when it could not be. */
int fsck_reconnect(struct fsck *f, uint64_t ino)
{
	struct fsck_ino *in = fsck_ino(f, ino);
	char name[32];

	if (lost_found(f) || free_name(f, ino, name, sizeof(name)))
		return -1;
	if (fsck_dir_add(f, f->lost_found, name, ino, dtype_of(in->mode)))
		return -1;
	fsck_ino(f, f->lost_found)->entries++;
	in->refs++;
	if (!S_ISDIR(in->mode))
		return 0;
	in->parent = f->lost_found;
	if (set_parent(f, ino, f->lost_found) ||
	    add_subdir_link(f, f->lost_found))
		return -1;
	return 0;
}
