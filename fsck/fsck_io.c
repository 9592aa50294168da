// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: opening the image, and reading and writing its blocks and
 * inodes. Opening with -n is O_RDONLY, so a read-only check cannot write
 * even by mistake; with repairs allowed, a mounted device is refused.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsck.h"

static int device_size(struct fsck *f, const struct stat *st)
{
	uint64_t size;

	if (S_ISREG(st->st_mode)) {
		f->dev.size_bytes = (uint64_t)st->st_size;
		return 0;
	}
	if (ioctl(f->dev.fd, BLKGETSIZE64, &size) != 0) {
		warn("cannot get the size of %s", f->name);
		return -1;
	}
	f->dev.size_bytes = size;
	return 0;
}

/*
 * A read-only check of a mounted filesystem is allowed, as e2fsck -n
 * allows it, but what it sees may be stale: say so.
 */
static int check_mount_state(struct fsck *f)
{
	if (!f->writable) {
		if (vexfs_device_check_unmounted(f->name))
			warnx("checking read-only anyway; errors may be spurious while it is mounted");
		return 0;
	}
	if (vexfs_device_check_unmounted(f->name)) {
		warnx("refusing to repair a mounted filesystem");
		return -1;
	}
	return 0;
}

int fsck_open(struct fsck *f)
{
	struct stat st;
	int flags;

	f->dev.path = f->name;
	f->dev.fd = -1;
	f->writable = f->opt.mode != FSCK_NO;
	if (stat(f->name, &st) != 0) {
		warn("cannot stat %s", f->name);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		warnx("%s is neither a block device nor a regular file", f->name);
		return -1;
	}
	if (check_mount_state(f))
		return -1;
	flags = (f->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	/* a block device held by a mount or another program gives EBUSY */
	if (f->writable && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	f->dev.fd = open(f->name, flags);
	if (f->dev.fd < 0) {
		warn("cannot open %s", f->name);
		return -1;
	}
	f->dev.is_blockdev = S_ISBLK(st.st_mode);
	f->itab = malloc(VEXFS_BLOCK_SIZE);
	f->node = malloc(VEXFS_BLOCK_SIZE);
	if (!f->itab || !f->node) {
		warnx("out of memory");
		return -1;
	}
	f->itab_nr = f->node_nr = UINT64_MAX;
	return device_size(f, &st);
}

int fsck_close(struct fsck *f)
{
	int ret = 0;

	if (f->writable && f->dev.fd >= 0 && f->modified)
		ret = vexfs_device_sync(&f->dev);
	if (vexfs_device_close(&f->dev))
		ret = -1;
	free(f->itab);
	free(f->node);
	return ret;
}

int fsck_read_block(struct fsck *f, uint64_t blocknr, void *buf)
{
	if (vexfs_device_read(&f->dev, blocknr * VEXFS_BLOCK_SIZE, buf,
			      VEXFS_BLOCK_SIZE)) {
		f->aborted = true;
		return -1;
	}
	return 0;
}

/* Keep the caches in step with what is written. */
static void update_caches(struct fsck *f, uint64_t blocknr, const void *buf)
{
	if (blocknr == f->itab_nr)
		memcpy(f->itab, buf, VEXFS_BLOCK_SIZE);
	if (blocknr == f->node_nr)
		memcpy(f->node, buf, VEXFS_BLOCK_SIZE);
}

int fsck_write_block(struct fsck *f, uint64_t blocknr, const void *buf)
{
	if (!f->writable) {
		warnx("internal error: write to block %llu of a read-only check",
		      (unsigned long long)blocknr);
		f->aborted = true;
		return -1;
	}
	if (vexfs_device_write(&f->dev, blocknr * VEXFS_BLOCK_SIZE, buf,
			       VEXFS_BLOCK_SIZE)) {
		f->aborted = true;
		return -1;
	}
	f->modified = true;
	update_caches(f, blocknr, buf);
	return 0;
}

static int load_itab(struct fsck *f, uint64_t blocknr)
{
	if (f->itab_nr == blocknr)
		return 0;
	f->itab_nr = UINT64_MAX;
	if (fsck_read_block(f, blocknr, f->itab))
		return -1;
	f->itab_nr = blocknr;
	return 0;
}

int fsck_read_inode(struct fsck *f, uint64_t ino, struct vexfs_inode *raw)
{
	if (load_itab(f, vexfs_inode_blocknr(&f->l, ino)))
		return -1;
	memcpy(raw, f->itab + vexfs_inode_slot(ino) * VEXFS_INODE_SIZE,
	       sizeof(*raw));
	return 0;
}

/* Seal @raw for @ino and write its inode table block. */
int fsck_write_inode(struct fsck *f, uint64_t ino, struct vexfs_inode *raw)
{
	uint64_t blocknr = vexfs_inode_blocknr(&f->l, ino);
	uint8_t *block;
	int ret;

	if (load_itab(f, blocknr))
		return -1;
	vexfs_inode_csum_set(raw, ino);
	block = malloc(VEXFS_BLOCK_SIZE);
	if (!block) {
		f->aborted = true;
		return -1;
	}
	memcpy(block, f->itab, VEXFS_BLOCK_SIZE);
	memcpy(block + vexfs_inode_slot(ino) * VEXFS_INODE_SIZE, raw,
	       sizeof(*raw));
	ret = fsck_write_block(f, blocknr, block);
	free(block);
	return ret;
}

/*
 * A free slot: never used (all zero, as mkfs leaves it) or deleted (all
 * zero but for the checksum, as the module leaves it).
 */
bool fsck_slot_empty(const struct vexfs_inode *raw)
{
	struct vexfs_inode copy = *raw;
	static const struct vexfs_inode zero;

	copy.i_checksum = 0;
	return memcmp(&copy, &zero, sizeof(copy)) == 0;
}

/*
 * An extent tree block, checked for its tail only; the caller checks the
 * node itself. Returns NULL when it cannot be read or is not a sealed
 * extent block. The buffer is valid until the next call.
 */
const uint8_t *fsck_read_node(struct fsck *f, uint64_t blocknr)
{
	if (f->node_nr != blocknr) {
		f->node_nr = UINT64_MAX;
		if (fsck_read_block(f, blocknr, f->node))
			return NULL;
		f->node_nr = blocknr;
	}
	if (!vexfs_block_sealed_ok(f->node, VEXFS_EXTENT_MAGIC, blocknr))
		return NULL;
	return f->node;
}
