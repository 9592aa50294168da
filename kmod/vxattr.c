// SPDX-License-Identifier: GPL-2.0
/*
 * The xattr view of a file's vector: user.vexfs.vector holds the vector
 * as little-endian float32 values, so getfattr and setfattr work on it.
 * Setting it keeps the id and metadata words the file already has;
 * removing it removes the vector.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/xattr.h>
#include "vexfs.h"
#include "collection.h"

/* The collection a file's vector lives in, with a reference on its dir. */
static struct vexfs_collection *vexfs_owner_collection(struct inode *inode,
						       struct inode **dirp)
{
	struct vexfs_collection *c;
	struct inode *dir;

	if (!S_ISREG(inode->i_mode) || !VEXFS_I(inode)->aux)
		return ERR_PTR(-ENODATA);
	dir = vexfs_iget(inode->i_sb, VEXFS_I(inode)->parent);
	if (IS_ERR(dir))
		return ERR_CAST(dir);
	c = vexfs_collection_get(dir);
	if (IS_ERR(c)) {
		iput(dir);
		return c;
	}
	*dirp = dir;
	return c;
}

static int vexfs_vector_xattr_get(const struct xattr_handler *handler,
				  struct dentry *unused, struct inode *inode,
				  const char *name, void *buffer, size_t size)
{
	u64 id, attrs[VEXFS_ATTR_WORDS];
	struct vexfs_collection *c;
	struct inode *dir;
	u32 *vec;
	int err;

	c = vexfs_owner_collection(inode, &dir);
	if (IS_ERR(c))
		return PTR_ERR(c) == -ENOTTY ? -ENODATA : PTR_ERR(c);
	err = c->dim * sizeof(u32);
	if (!buffer)
		goto out;
	if (size < err) {
		err = -ERANGE;
		goto out;
	}
	vec = kmalloc_array(c->dim, sizeof(u32), GFP_KERNEL);
	if (!vec) {
		err = -ENOMEM;
		goto out;
	}
	if (!vexfs_vector_get(c, inode, vec, &id, attrs))
		cpu_to_le32_array(memcpy(buffer, vec, err), c->dim);
	else
		err = -ENODATA;
	kfree(vec);
out:
	iput(dir);
	return err;
}

static int vexfs_vector_xattr_set(const struct xattr_handler *handler,
				  struct mnt_idmap *idmap, struct dentry *dentry,
				  struct inode *inode, const char *name,
				  const void *value, size_t size, int flags)
{
	u64 id = 0, attrs[VEXFS_ATTR_WORDS] = { 0 };
	struct vexfs_collection *c;
	struct inode *dir;
	u32 *vec = NULL, *old = NULL;
	int err;

	if (!S_ISREG(inode->i_mode) || !dentry)
		return -EPERM;
	dir = d_inode(dentry->d_parent);
	c = vexfs_collection_get(dir);
	if (IS_ERR(c))
		return PTR_ERR(c) == -ENOTTY ? -EOPNOTSUPP : PTR_ERR(c);
	if (!value)
		return vexfs_vector_del(c, inode);
	if (size != c->dim * sizeof(u32))
		return -EINVAL;
	vec = kmemdup(value, size, GFP_KERNEL);
	old = kmalloc(size, GFP_KERNEL);
	err = -ENOMEM;
	if (!vec || !old)
		goto out;
	le32_to_cpu_array(vec, c->dim);
	err = -EINVAL;
	if (!vexfs_vector_valid(vec, c->dim))
		goto out;
	err = vexfs_vector_get(c, inode, old, &id, attrs);
	if ((flags & XATTR_CREATE) && !err) {
		err = -EEXIST;
		goto out;
	}
	if ((flags & XATTR_REPLACE) && err) {
		err = -ENODATA;
		goto out;
	}
	err = vexfs_vector_set(c, inode, vec, id, attrs);
	if (!err) {
		inode_set_ctime_current(inode);
		mark_inode_dirty(inode);
	}
out:
	kfree(old);
	kfree(vec);
	return err;
}

const struct xattr_handler vexfs_vector_xattr_handler = {
	.name	= VEXFS_VECTOR_XATTR,
	.get	= vexfs_vector_xattr_get,
	.set	= vexfs_vector_xattr_set,
};
