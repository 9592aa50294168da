// SPDX-License-Identifier: GPL-2.0
/*
 * Opening, checking and writing the device mkfs formats.
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "device.h"

#define ZERO_CHUNK	(1u << 20)

/* ---- is it mounted? ----------------------------------------------- */

/*
 * Does the mount source @fsname name the device @path (stat @st)? Names
 * are compared after resolving links, and block devices by number, so
 * /dev/disk/by-id/... and /dev/sdb1 are the same device.
 */
static bool mount_source_is(const char *fsname, const char *path,
			    const struct stat *st)
{
	char real[PATH_MAX];
	struct stat src;

	/* "proc", "tmpfs", "overlay"...: not paths, whatever the cwd holds */
	if (fsname[0] != '/')
		return false;
	if (realpath(fsname, real) && strcmp(real, path) == 0)
		return true;
	if (!S_ISBLK(st->st_mode) || stat(fsname, &src) != 0)
		return false;
	return S_ISBLK(src.st_mode) && src.st_rdev == st->st_rdev;
}

/* Mount point of the device @path, copied into @where, or false. */
static bool find_mount(const char *path, const struct stat *st, char *where,
		       size_t wherelen)
{
	struct mntent *m;
	bool found = false;
	FILE *f = setmntent("/proc/self/mounts", "r");

	if (!f)
		return false;	/* no /proc: the exclusive open still guards */
	while (!found && (m = getmntent(f))) {
		if (mount_source_is(m->mnt_fsname, path, st)) {
			snprintf(where, wherelen, "%s", m->mnt_dir);
			found = true;
		}
	}
	endmntent(f);
	return found;
}

static bool read_sysfs_line(const char *file, char *buf, size_t len)
{
	FILE *f = fopen(file, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Is the loop device @name backed by the file @path? Then give its number. */
static bool loop_backs(const char *name, const char *path, dev_t *rdev)
{
	char file[PATH_MAX], line[PATH_MAX];
	unsigned int maj, min;

	snprintf(file, sizeof(file), "/sys/block/%s/loop/backing_file", name);
	if (!read_sysfs_line(file, line, sizeof(line)) || strcmp(line, path))
		return false;
	snprintf(file, sizeof(file), "/sys/block/%s/dev", name);
	if (!read_sysfs_line(file, line, sizeof(line)) ||
	    sscanf(line, "%u:%u", &maj, &min) != 2)
		return false;
	*rdev = makedev(maj, min);
	return true;
}

/* An image file can be mounted through a loop device: look for one. */
static bool find_loop_mount(const char *path, char *where, size_t wherelen)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		struct stat loop = { .st_mode = S_IFBLK };
		char devpath[PATH_MAX];

		if (strncmp(e->d_name, "loop", 4) ||
		    !loop_backs(e->d_name, path, &loop.st_rdev))
			continue;
		snprintf(devpath, sizeof(devpath), "/dev/%s", e->d_name);
		found = find_mount(devpath, &loop, where, wherelen);
	}
	closedir(d);
	return found;
}

int vexfs_device_check_unmounted(const char *path)
{
	char real[PATH_MAX], where[PATH_MAX];
	struct stat st;

	if (stat(path, &st) != 0)
		return 0;	/* nothing there yet: it cannot be mounted */
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);

	if (find_mount(real, &st, where, sizeof(where))) {
		warnx("%s is mounted on %s; unmount it first", path, where);
		return -1;
	}
	if (S_ISREG(st.st_mode) &&
	    find_loop_mount(real, where, sizeof(where))) {
		warnx("%s backs a loop device mounted on %s; unmount it first",
		      path, where);
		return -1;
	}
	return 0;
}

/* ---- opening ------------------------------------------------------ */

static int open_blockdev(struct vexfs_device *dev, uint64_t want_bytes)
{
	uint64_t size;

	/* O_EXCL on a block device fails with EBUSY while anyone holds it. */
	dev->fd = open(dev->path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (dev->fd < 0) {
		if (errno == EBUSY)
			warnx("%s is in use (mounted, swap, or held by another program)",
			      dev->path);
		else
			warn("cannot open %s", dev->path);
		return -1;
	}
	if (ioctl(dev->fd, BLKGETSIZE64, &size) != 0) {
		warn("cannot get the size of %s", dev->path);
		return -1;
	}
	if (want_bytes > size) {
		warnx("%s holds %llu bytes, fewer than the %llu asked for",
		      dev->path, (unsigned long long)size,
		      (unsigned long long)want_bytes);
		return -1;
	}
	dev->is_blockdev = true;
	dev->size_bytes = want_bytes ? want_bytes : size;
	return 0;
}

static int open_image(struct vexfs_device *dev, uint64_t want_bytes,
		      bool create)
{
	struct stat st;
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);

	if (create)
		flags |= O_EXCL;	/* it did not exist a moment ago */
	dev->fd = open(dev->path, flags, 0644);
	if (dev->fd < 0) {
		warn("cannot %s %s", create ? "create" : "open", dev->path);
		return -1;
	}
	dev->created = create;
	if (fstat(dev->fd, &st) != 0) {
		warn("cannot stat %s", dev->path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		warnx("%s changed type while being opened", dev->path);
		return -1;
	}
	if (!want_bytes && st.st_size == 0) {
		warnx("%s is empty; give a size to format it", dev->path);
		return -1;
	}
	dev->size_bytes = want_bytes ? want_bytes : (uint64_t)st.st_size;
	return 0;
}

int vexfs_device_open(struct vexfs_device *dev, const char *path,
		      uint64_t want_bytes)
{
	struct stat st;

	dev->path = path;
	dev->fd = -1;
	dev->is_blockdev = false;
	dev->created = false;
	dev->size_bytes = 0;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT && want_bytes)
			return open_image(dev, want_bytes, true);
		if (errno == ENOENT)
			warnx("%s does not exist; give a size to create an image file",
			      path);
		else
			warn("cannot stat %s", path);
		return -1;
	}
	if (S_ISBLK(st.st_mode))
		return open_blockdev(dev, want_bytes);
	if (S_ISREG(st.st_mode))
		return open_image(dev, want_bytes, false);
	warnx("%s is neither a block device nor a regular file", path);
	return -1;
}

int vexfs_device_extend(struct vexfs_device *dev, uint64_t bytes)
{
	struct stat st;

	if (dev->is_blockdev)
		return 0;
	if (fstat(dev->fd, &st) != 0) {
		warn("cannot stat %s", dev->path);
		return -1;
	}
	if ((uint64_t)st.st_size >= bytes)
		return 0;
	if (ftruncate(dev->fd, (off_t)bytes) != 0) {
		warn("cannot extend %s to %llu bytes", dev->path,
		     (unsigned long long)bytes);
		return -1;
	}
	return 0;
}

/* ---- I/O ---------------------------------------------------------- */

/* Reads past the end of the device come back as zeros. */
int vexfs_device_read(struct vexfs_device *dev, uint64_t off, void *buf,
		      size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(dev->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("cannot read %s at byte %llu", dev->path,
			     (unsigned long long)off);
			return -1;
		}
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int vexfs_device_write(struct vexfs_device *dev, uint64_t off,
		       const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(dev->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			warn("cannot write %s at byte %llu", dev->path,
			     (unsigned long long)off);
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Let the device zero the range when it can: BLKZEROOUT may use a
 * write-zeroes command, and punching a hole in an image file costs no
 * I/O at all. Both fail on some devices and filesystems; then write.
 */
static bool zero_fast(struct vexfs_device *dev, uint64_t off, uint64_t len)
{
	if (dev->is_blockdev) {
		uint64_t range[2] = { off, len };

		return ioctl(dev->fd, BLKZEROOUT, range) == 0;
	}
	return fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)off, (off_t)len) == 0;
}

static int zero_by_writing(struct vexfs_device *dev, uint64_t off,
			   uint64_t len)
{
	char *zeros = calloc(1, ZERO_CHUNK);
	int ret = 0;

	if (!zeros) {
		warnx("out of memory");
		return -1;
	}
	while (len && !ret) {
		size_t chunk = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;

		ret = vexfs_device_write(dev, off, zeros, chunk);
		off += chunk;
		len -= chunk;
	}
	free(zeros);
	return ret;
}

int vexfs_device_zero(struct vexfs_device *dev, uint64_t off, uint64_t len)
{
	if (!len || zero_fast(dev, off, len))
		return 0;
	return zero_by_writing(dev, off, len);
}

int vexfs_device_sync(struct vexfs_device *dev)
{
	if (fsync(dev->fd) != 0) {
		warn("cannot flush %s", dev->path);
		return -1;
	}
	return 0;
}

int vexfs_device_close(struct vexfs_device *dev)
{
	int ret = 0;

	if (dev->fd >= 0 && close(dev->fd) != 0) {
		warn("cannot close %s", dev->path);
		ret = -1;
	}
	dev->fd = -1;
	return ret;
}
