/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The target of mkfs: a block device or a regular image file, opened for
 * writing only once it is known not to be in use.
 */
#ifndef VEXFS_DEVICE_H
#define VEXFS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vexfs_device {
	const char *path;
	int fd;
	bool is_blockdev;
	bool created;		/* an image file this run created */
	uint64_t size_bytes;	/* usable size: the device, or the size asked for */
};

/*
 * Refuse a device that is mounted (by name or device number), or an image
 * file that backs a mounted loop device. Returns 0, or -1 after printing
 * why.
 */
int vexfs_device_check_unmounted(const char *path);

/*
 * Open @path for formatting. Block devices are opened exclusively, so one
 * that is mounted, used as swap or held by another program is refused. An
 * image file that does not exist is created when @want_bytes is given.
 * @want_bytes 0 means the whole device or file. Prints why on failure.
 */
int vexfs_device_open(struct vexfs_device *dev, const char *path,
		      uint64_t want_bytes);
/* Make an image file at least @bytes long; block devices are left alone. */
int vexfs_device_extend(struct vexfs_device *dev, uint64_t bytes);
int vexfs_device_read(struct vexfs_device *dev, uint64_t off, void *buf,
		      size_t len);
int vexfs_device_write(struct vexfs_device *dev, uint64_t off,
		       const void *buf, size_t len);
int vexfs_device_zero(struct vexfs_device *dev, uint64_t off, uint64_t len);
int vexfs_device_sync(struct vexfs_device *dev);
int vexfs_device_close(struct vexfs_device *dev);

#endif /* VEXFS_DEVICE_H */
