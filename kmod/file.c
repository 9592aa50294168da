// SPDX-License-Identifier: GPL-2.0
/*
 * Regular files, symlinks and special files. Data goes through the page
 * cache; vexfs_get_block() maps it to the device.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include "vexfs.h"

/*
 * Make the file's data and metadata durable. With a journal, every
 * metadata change made so far (this file's and any other) is in the
 * running transaction: committing it is enough. Without one, extent,
 * bitmap and directory blocks live in the block device's cache, shared by
 * all files, so they are written with the device.
 */
int vexfs_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct inode *inode = file->f_mapping->host;
	struct super_block *sb = inode->i_sb;
	int err, ret;

	ret = file_write_and_wait_range(file, start, end);
	if (ret)
		return ret;
	if (VEXFS_SB(sb)->journal)
		return vexfs_journal_commit(sb);
	ret = sync_inode_metadata(inode, 1);
	err = sync_blockdev(sb->s_bdev);
	if (!ret)
		ret = err;
	err = blkdev_issue_flush(sb->s_bdev);
	return ret ? ret : err;
}

const struct file_operations vexfs_file_ops = {
	.llseek		= generic_file_llseek,
	.read_iter	= generic_file_read_iter,
	.write_iter	= vexfs_file_write_iter,
	.mmap		= vexfs_file_mmap,
	.open		= generic_file_open,
	.fsync		= vexfs_fsync,
	.splice_read	= filemap_splice_read,
	.splice_write	= iter_file_splice_write,
	.unlocked_ioctl	= vexfs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

const struct inode_operations vexfs_file_iops = {
	.setattr	= vexfs_setattr,
	.listxattr	= vexfs_listxattr,
};

const struct inode_operations vexfs_symlink_iops = {
	.get_link	= page_get_link,
	.setattr	= vexfs_setattr,
	.listxattr	= vexfs_listxattr,
};

const struct inode_operations vexfs_special_iops = {
	.setattr	= vexfs_setattr,
	.listxattr	= vexfs_listxattr,
};
