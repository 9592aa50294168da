/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing a new, empty VexFS onto a device.
 */
#ifndef VEXFS_FORMAT_H
#define VEXFS_FORMAT_H

#include "device.h"
#include "layout.h"
#include "ondisk.h"

struct vexfs_format_params {
	struct vexfs_super_params super;
	struct vexfs_inode_params root;	/* the root directory's inode */
};

/*
 * Write the metadata regions of @l: superblock, bitmaps, a zeroed inode
 * table holding the root directory. The journal and data areas are not
 * written. Returns 0, or -1 after printing why.
 */
int vexfs_format(struct vexfs_device *dev, const struct vexfs_layout *l,
		 const struct vexfs_format_params *p);

#endif /* VEXFS_FORMAT_H */
