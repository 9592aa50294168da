// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes in the user.* and trusted.* namespaces, and the
 * private entry holding a vector kept with its file (kept.c).
 *
 * An inode's attributes live together in one block (vexfs_fs.h). A change
 * rebuilds the list in a scratch buffer and writes the block in one go, so
 * a failed change leaves the old list untouched. Readers and writers of an
 * inode's block take its xattr_sem.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/xattr.h>
#include <linux/slab.h>
#include <uapi/vexfs.h>
#include "vexfs.h"
#include "collection.h"

static struct vexfs_xattr_header *vexfs_xh(void *block)
{
	return block;
}

static struct vexfs_xattr_entry *vexfs_xe(void *block, unsigned int off)
{
	return (struct vexfs_xattr_entry *)((char *)block +
		sizeof(struct vexfs_xattr_header) + off);
}

static unsigned int vexfs_xe_size(const struct vexfs_xattr_entry *xe)
{
	return VEXFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
				      le16_to_cpu(xe->xe_value_len));
}

/* Check the entry list of a block; returns the bytes in use. */
static int vexfs_xattr_check(struct inode *inode, void *block)
{
	struct vexfs_xattr_header *xh = vexfs_xh(block);
	u32 used = le32_to_cpu(xh->xh_used), count = 0, off;

	if (le64_to_cpu(xh->xh_owner) != inode->i_ino || used > VEXFS_XATTR_SPACE)
		goto bad;
	for (off = 0; off < used; off += vexfs_xe_size(vexfs_xe(block, off))) {
		struct vexfs_xattr_entry *xe = vexfs_xe(block, off);

		if (off + 4 > used || !xe->xe_name_len ||
		    off + vexfs_xe_size(xe) > used)
			goto bad;
		count++;
	}
	if (count != le32_to_cpu(xh->xh_count))
		goto bad;
	return used;
bad:
	vexfs_corrupt(inode->i_sb, "inode %lu: bad xattr block", inode->i_ino);
	return -EUCLEAN;
}

/* Read and check the inode's xattr block; NULL when it has none. */
static struct buffer_head *vexfs_xattr_read(struct inode *inode, int *used)
{
	u64 blocknr = VEXFS_I(inode)->xattr_block;
	struct buffer_head *bh;

	*used = 0;
	if (!blocknr)
		return NULL;
	bh = vexfs_bread_meta(inode->i_sb, blocknr, VEXFS_XATTR_MAGIC);
	if (IS_ERR(bh))
		return bh;
	*used = vexfs_xattr_check(inode, bh->b_data);
	if (*used < 0) {
		brelse(bh);
		return ERR_PTR(*used);
	}
	return bh;
}

static struct vexfs_xattr_entry *vexfs_xattr_find(void *block, int used,
						  int index, const char *name)
{
	size_t len = strlen(name);
	int off;

	for (off = 0; off < used; off += vexfs_xe_size(vexfs_xe(block, off))) {
		struct vexfs_xattr_entry *xe = vexfs_xe(block, off);

		if (xe->xe_name_index == index && xe->xe_name_len == len &&
		    !memcmp(xe->xe_name, name, len))
			return xe;
	}
	return NULL;
}

/*
 * Read the value of an entry of index (VEXFS_XATTR_INDEX_*) into buffer;
 * its size when buffer is NULL, -ENODATA when there is none.
 */
int vexfs_xattr_read_value(struct inode *inode, int index, const char *name,
			   void *buffer, size_t size)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_xattr_entry *xe;
	struct buffer_head *bh;
	int used, ret;

	down_read(&vi->xattr_sem);
	bh = vexfs_xattr_read(inode, &used);
	ret = -ENODATA;
	if (IS_ERR(bh)) {
		ret = PTR_ERR(bh);
		goto out;
	}
	if (!bh)
		goto out;
	xe = vexfs_xattr_find(bh->b_data, used, index, name);
	if (xe) {
		ret = le16_to_cpu(xe->xe_value_len);
		if (buffer && size < ret)
			ret = -ERANGE;
		else if (buffer)
			memcpy(buffer, xe->xe_name + xe->xe_name_len, ret);
	}
	brelse(bh);
out:
	up_read(&vi->xattr_sem);
	return ret;
}

/*
 * Build the new entry list in scratch: every old entry but the one being
 * replaced, then the new value if there is one. Returns the bytes used.
 */
static int vexfs_xattr_rebuild(void *scratch, void *old, int used, int index,
			       const char *name, const void *value, size_t size)
{
	struct vexfs_xattr_header *xh = vexfs_xh(scratch);
	size_t len = strlen(name);
	u32 count = 0, pos = 0;
	int off;

	for (off = 0; off < used; off += vexfs_xe_size(vexfs_xe(old, off))) {
		struct vexfs_xattr_entry *xe = vexfs_xe(old, off);

		if (xe->xe_name_index == index && xe->xe_name_len == len &&
		    !memcmp(xe->xe_name, name, len))
			continue;
		memcpy(vexfs_xe(scratch, pos), xe, vexfs_xe_size(xe));
		pos += vexfs_xe_size(xe);
		count++;
	}
	if (value) {
		struct vexfs_xattr_entry *xe = vexfs_xe(scratch, pos);

		if (pos + VEXFS_XATTR_ENTRY_SIZE(len, size) > VEXFS_XATTR_SPACE)
			return -ENOSPC;
		xe->xe_name_index = index;
		xe->xe_name_len = len;
		xe->xe_value_len = cpu_to_le16(size);
		memcpy(xe->xe_name, name, len);
		memcpy(xe->xe_name + len, value, size);
		pos += vexfs_xe_size(xe);
		count++;
	}
	xh->xh_count = cpu_to_le32(count);
	xh->xh_used = cpu_to_le32(pos);
	return pos;
}

/* Write the rebuilt list, allocating or freeing the block as needed. */
static int vexfs_xattr_store(struct inode *inode, struct buffer_head *bh,
			     void *scratch, int used)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 blocknr;
	u32 got;
	int err;

	if (!used) {
		if (vi->xattr_block)
			__vexfs_free_blocks(inode, vi->xattr_block, 1, true);
		vi->xattr_block = 0;
		return 0;
	}
	if (!bh) {
		err = vexfs_alloc_blocks(inode, vi->last_pblk, 1, &blocknr, &got);
		if (err)
			return err;
		bh = vexfs_new_meta(inode->i_sb, blocknr);
		if (IS_ERR(bh)) {
			/* Never logged: its last free committed, revoke and all. */
			__vexfs_free_blocks(inode, blocknr, 1, false);
			return PTR_ERR(bh);
		}
		vi->xattr_block = blocknr;
	} else {
		err = vexfs_journal_access(inode->i_sb, bh);
		if (err)
			return err;
		get_bh(bh);
	}
	vexfs_xh(scratch)->xh_owner = cpu_to_le64(inode->i_ino);
	lock_buffer(bh);
	memcpy(bh->b_data, scratch, VEXFS_BLOCK_PAYLOAD);
	unlock_buffer(bh);
	err = vexfs_dirty_meta(inode->i_sb, bh, VEXFS_XATTR_MAGIC);
	brelse(bh);
	return err;
}

/* One try of vexfs_xattr_write_value(), in a handle of its own or of the caller's. */
static int vexfs_xattr_write_once(struct inode *inode, int index,
				  const char *name, const void *value,
				  size_t size, int flags, void *scratch)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct buffer_head *bh;
	handle_t *handle;
	bool exists;
	int used, err;

	handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_XATTR,
				     VEXFS_REVOKES_XATTR);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	memset(scratch, 0, VEXFS_BLOCK_SIZE);
	down_write(&vi->xattr_sem);
	bh = vexfs_xattr_read(inode, &used);
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto out;
	}
	exists = bh && vexfs_xattr_find(bh->b_data, used, index, name);
	err = 0;
	if ((flags & XATTR_CREATE) && exists)
		err = -EEXIST;
	else if (((flags & XATTR_REPLACE) || !value) && !exists)
		err = -ENODATA;
	if (!err)
		err = vexfs_xattr_rebuild(scratch, bh ? bh->b_data : NULL, used,
					  index, name, value, size);
	if (err >= 0)
		err = vexfs_xattr_store(inode, bh, scratch, err);
	brelse(bh);
	if (!err) {
		inode_set_ctime_current(inode);
		mark_inode_dirty(inode);
	}
out:
	up_write(&vi->xattr_sem);
	return vexfs_journal_finish(handle, err);
}

/*
 * Set (value NULL: remove) an entry of index, with the XATTR_CREATE and
 * XATTR_REPLACE flags of setxattr(2). In a handle of its own, a change
 * that found no free block runs again once the blocks uncommitted
 * transactions freed are free (alloc.c); inside the caller's it fails.
 */
int vexfs_xattr_write_value(struct inode *inode, int index, const char *name,
			    const void *value, size_t size, int flags)
{
	void *scratch;
	int retries = 0;
	int err;

	if (strlen(name) > 255)
		return -ERANGE;
	if (size > VEXFS_XATTR_SPACE)
		return -E2BIG;
	scratch = kmalloc(VEXFS_BLOCK_SIZE, GFP_NOFS);
	if (!scratch)
		return -ENOMEM;
	do {
		err = vexfs_xattr_write_once(inode, index, name, value, size,
					     flags, scratch);
	} while (err == -ENOSPC &&
		 vexfs_journal_retry_alloc(inode->i_sb, &retries));
	kfree(scratch);
	return err;
}

static int vexfs_xattr_get(const struct xattr_handler *handler,
			   struct dentry *unused, struct inode *inode,
			   const char *name, void *buffer, size_t size)
{
	return vexfs_xattr_read_value(inode, handler->flags, name, buffer, size);
}

static int vexfs_xattr_set(const struct xattr_handler *handler,
			   struct mnt_idmap *idmap, struct dentry *unused,
			   struct inode *inode, const char *name,
			   const void *value, size_t size, int flags)
{
	return vexfs_xattr_write_value(inode, handler->flags, name, value,
				       size, flags);
}

static bool vexfs_trusted_list(struct dentry *dentry)
{
	return capable(CAP_SYS_ADMIN);
}

static const struct xattr_handler vexfs_user_handler = {
	.prefix	= XATTR_USER_PREFIX,
	.flags	= VEXFS_XATTR_INDEX_USER,
	.get	= vexfs_xattr_get,
	.set	= vexfs_xattr_set,
};

static const struct xattr_handler vexfs_trusted_handler = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.flags	= VEXFS_XATTR_INDEX_TRUSTED,
	.list	= vexfs_trusted_list,
	.get	= vexfs_xattr_get,
	.set	= vexfs_xattr_set,
};

/* The exact name of the vector handler must be tried before "user.". */
const struct xattr_handler * const vexfs_xattr_handlers[] = {
	&vexfs_vector_xattr_handler,
	&vexfs_meta_xattr_handler,
	&vexfs_user_handler,
	&vexfs_trusted_handler,
	NULL,
};

static const char *vexfs_xattr_prefix(int index, struct dentry *dentry)
{
	if (index == VEXFS_XATTR_INDEX_USER)
		return XATTR_USER_PREFIX;
	if (index == VEXFS_XATTR_INDEX_TRUSTED && vexfs_trusted_list(dentry))
		return XATTR_TRUSTED_PREFIX;
	return NULL;
}

ssize_t vexfs_listxattr(struct dentry *dentry, char *buffer, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct buffer_head *bh;
	ssize_t total = 0;
	int used, off;

	/* The vector first: cp -a sets them in this order, meta needs it. */
	if (vexfs_has_vector(inode)) {
		static const char names[] = VEXFS_XATTR_VECTOR "\0" VEXFS_XATTR_META;

		total = sizeof(names);
		if (buffer && size < total)
			return -ERANGE;
		if (buffer)
			memcpy(buffer, names, total);
	}
	down_read(&vi->xattr_sem);
	bh = vexfs_xattr_read(inode, &used);
	if (IS_ERR_OR_NULL(bh)) {
		if (IS_ERR(bh))
			total = PTR_ERR(bh);
		goto out;
	}
	for (off = 0; off < used; off += vexfs_xe_size(vexfs_xe(bh->b_data, off))) {
		struct vexfs_xattr_entry *xe = vexfs_xe(bh->b_data, off);
		const char *prefix = vexfs_xattr_prefix(xe->xe_name_index, dentry);
		size_t plen, len;

		if (!prefix)
			continue;
		plen = strlen(prefix);
		len = plen + xe->xe_name_len + 1;
		if (buffer) {
			if (total + len > size) {
				total = -ERANGE;
				break;
			}
			memcpy(buffer + total, prefix, plen);
			memcpy(buffer + total + plen, xe->xe_name, xe->xe_name_len);
			buffer[total + len - 1] = '\0';
		}
		total += len;
	}
	brelse(bh);
out:
	up_read(&vi->xattr_sem);
	return total;
}

/* Free the xattr block of an inode being deleted. */
void vexfs_xattr_drop(struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	if (vi->xattr_block) {
		__vexfs_free_blocks(inode, vi->xattr_block, 1, true);
		vi->xattr_block = 0;
	}
}
