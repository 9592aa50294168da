// SPDX-License-Identifier: GPL-2.0
/*
 * The xattr view of a file's vector, so that getfattr, setfattr and cp -a
 * carry it (names and layout in include/uapi/vexfs.h):
 *
 *   user.vexfs.vector  the vector, little-endian float32. Setting it, in a
 *                      collection, keeps the id and metadata words the
 *                      file already has; removing it removes the vector.
 *   user.vexfs.meta    the id and metadata words. Setting it keeps the
 *                      vector; it cannot be removed on its own.
 *
 * Both read, and removal goes, through the collection holding the vector,
 * wherever the name used lives (a hard link); a file in no collection of
 * its vector's shape reads, sets and removes the vector kept with it
 * (kept.c), so cp -a carries a vector through plain directories too.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/xattr.h>
#include "vexfs.h"
#include "collection.h"

/* Inode's vector in c, in a new buffer, with its id and metadata words. */
static u32 *vexfs_xattr_read_vector(struct vexfs_collection *c,
				    struct inode *inode, u64 *id, u64 *attrs)
{
	u32 *vec = kmalloc_array(c->dim, sizeof(u32), GFP_KERNEL);
	int err;

	if (!vec)
		return ERR_PTR(-ENOMEM);
	err = vexfs_vector_get(c, inode, vec, id, attrs);
	if (err) {
		kfree(vec);
		return ERR_PTR(err);
	}
	return vec;
}

/*
 * The collection holding the vector; a home that is no collection (any
 * more) holds none. slots: as vexfs_vector_owner() says.
 */
static struct vexfs_collection *vexfs_xattr_owner(struct inode *inode,
						  struct inode **dirp,
						  bool slots)
{
	struct vexfs_collection *c = vexfs_vector_owner(inode, dirp, slots);

	if (PTR_ERR(c) == -ENOTTY || PTR_ERR(c) == -ENOTDIR ||
	    PTR_ERR(c) == -ESTALE)
		return ERR_PTR(-ENODATA);
	return c;
}

/* user.vexfs.vector of a file whose vector is kept with it. */
static int vexfs_kept_vector_get(struct inode *inode, void *buffer,
				 size_t size)
{
	struct vexfs_kept *k = vexfs_kept_get(inode);
	int err;

	if (IS_ERR(k))
		return PTR_ERR(k);
	err = k->dim * sizeof(u32);
	if (buffer && size < err)
		err = -ERANGE;
	else if (buffer)
		cpu_to_le32_array(memcpy(buffer, k->vec, err), k->dim);
	kfree(k);
	return err;
}

static int vexfs_kept_meta_get(struct inode *inode,
			       struct vexfs_xattr_meta *meta, size_t size)
{
	struct vexfs_kept *k = vexfs_kept_get(inode);
	int i, err = sizeof(*meta);

	if (IS_ERR(k))
		return PTR_ERR(k);
	if (meta && size < sizeof(*meta)) {
		err = -ERANGE;
	} else if (meta) {
		meta->id = cpu_to_le64(k->id);
		for (i = 0; i < VEXFS_ATTR_WORDS; i++)
			meta->attrs[i] = cpu_to_le64(k->attrs[i]);
	}
	kfree(k);
	return err;
}

/*
 * The vector of a file in no collection, kept with it: its id and
 * metadata words stay if it had one (a new one's id is the inode number,
 * as in a collection), its metric if the dimension is the same.
 */
static int vexfs_kept_vector_set(struct inode *inode, const void *value,
				 size_t size, int flags)
{
	struct vexfs_kept *k, *old;
	u32 dim = size / sizeof(u32);
	int err;

	if (VEXFS_I(inode)->aux)
		return -EBUSY;	/* a collection holds it, through another name */
	if (!dim || size % sizeof(u32) || dim > VEXFS_MAX_DIM)
		return -EINVAL;
	k = vexfs_kept_alloc(dim);
	if (IS_ERR(k))
		return PTR_ERR(k);
	le32_to_cpu_array(memcpy(k->vec, value, size), dim);
	err = -EINVAL;
	if (!vexfs_vector_valid(k->vec, dim))
		goto out;
	old = vexfs_kept_get(inode);
	err = PTR_ERR_OR_ZERO(old);
	if ((flags & XATTR_CREATE) && !err)
		err = -EEXIST;
	else if (!(flags & XATTR_REPLACE) && err == -ENODATA)
		err = 0;
	if (err)
		goto out_old;
	k->id = inode->i_ino;
	if (!IS_ERR(old)) {
		k->id = old->id;
		memcpy(k->attrs, old->attrs, sizeof(k->attrs));
		if (old->dim == dim)
			k->metric = old->metric;
	}
	err = vexfs_kept_put(inode, k);
out_old:
	if (!IS_ERR(old))
		kfree(old);
out:
	kfree(k);
	return err;
}

static int vexfs_kept_meta_set(struct inode *inode,
			       const struct vexfs_xattr_meta *meta, int flags)
{
	struct vexfs_kept *k;
	int i, err = -EEXIST;

	k = vexfs_kept_get(inode);
	if (IS_ERR(k))
		return PTR_ERR(k);
	if (!(flags & XATTR_CREATE)) {
		k->id = le64_to_cpu(meta->id);
		for (i = 0; i < VEXFS_ATTR_WORDS; i++)
			k->attrs[i] = le64_to_cpu(meta->attrs[i]);
		err = vexfs_kept_put(inode, k);
	}
	kfree(k);
	return err;
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

	c = vexfs_xattr_owner(inode, &dir, false);
	if (PTR_ERR(c) == -ENODATA)
		return vexfs_kept_vector_get(inode, buffer, size);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = c->dim * sizeof(u32);
	if (buffer && size < err)
		err = -ERANGE;
	if (buffer && err > 0) {
		vec = vexfs_xattr_read_vector(c, inode, &id, attrs);
		if (IS_ERR(vec)) {
			err = PTR_ERR(vec);
		} else {
			cpu_to_le32_array(memcpy(buffer, vec, err), c->dim);
			kfree(vec);
		}
	}
	iput(dir);
	return err;
}

static int vexfs_vector_xattr_remove(struct inode *inode)
{
	struct vexfs_collection *c;
	struct inode *dir;
	int err;

	c = vexfs_xattr_owner(inode, &dir, true);
	if (PTR_ERR(c) == -ENODATA)
		return vexfs_kept_remove(inode);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = vexfs_vector_del(c, inode);
	/* A kept one left by a failed unkeep must not come back. */
	if (!err)
		vexfs_kept_remove(inode);
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
	u32 *vec = NULL, *old = NULL;
	int err;

	if (!S_ISREG(inode->i_mode) || !dentry)
		return -EPERM;
	if (!value)
		return vexfs_vector_xattr_remove(inode);
	c = vexfs_collection_get(d_inode(dentry->d_parent));
	if (PTR_ERR(c) == -ENOTTY)
		return vexfs_kept_vector_set(inode, value, size, flags);
	if (IS_ERR(c))
		return PTR_ERR(c);
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

static int vexfs_meta_xattr_get(const struct xattr_handler *handler,
				struct dentry *unused, struct inode *inode,
				const char *name, void *buffer, size_t size)
{
	struct vexfs_xattr_meta *meta = buffer;
	u64 id, attrs[VEXFS_ATTR_WORDS];
	struct vexfs_collection *c;
	struct inode *dir;
	u32 *vec;
	int i, err = sizeof(*meta);

	c = vexfs_xattr_owner(inode, &dir, false);
	if (PTR_ERR(c) == -ENODATA)
		return vexfs_kept_meta_get(inode, meta, size);
	if (IS_ERR(c))
		return PTR_ERR(c);
	vec = vexfs_xattr_read_vector(c, inode, &id, attrs);
	if (IS_ERR(vec))
		err = PTR_ERR(vec);
	else if (buffer && size < sizeof(*meta))
		err = -ERANGE;
	else if (buffer) {
		meta->id = cpu_to_le64(id);
		for (i = 0; i < VEXFS_ATTR_WORDS; i++)
			meta->attrs[i] = cpu_to_le64(attrs[i]);
	}
	if (!IS_ERR(vec))
		kfree(vec);
	iput(dir);
	return err;
}

/* New id and metadata words for the vector the file has, which stays. */
static int vexfs_meta_xattr_set(const struct xattr_handler *handler,
				struct mnt_idmap *idmap, struct dentry *dentry,
				struct inode *inode, const char *name,
				const void *value, size_t size, int flags)
{
	const struct vexfs_xattr_meta *meta = value;
	u64 id, attrs[VEXFS_ATTR_WORDS];
	struct vexfs_collection *c;
	struct inode *dir;
	u32 *vec;
	int i, err;

	if (!S_ISREG(inode->i_mode))
		return -EPERM;
	if (!value)
		return -EOPNOTSUPP;	/* it goes with the vector */
	/* Id 0 would mean "keep" to vexfs_vector_set(): no such id here. */
	if (size != sizeof(*meta) || !meta->id)
		return -EINVAL;
	c = vexfs_xattr_owner(inode, &dir, true);
	if (PTR_ERR(c) == -ENODATA)
		return vexfs_kept_meta_set(inode, meta, flags);
	if (IS_ERR(c))
		return PTR_ERR(c);
	vec = vexfs_xattr_read_vector(c, inode, &id, attrs);
	if (IS_ERR(vec)) {
		err = PTR_ERR(vec);
		goto out;
	}
	err = -EEXIST;
	if (!(flags & XATTR_CREATE)) {
		for (i = 0; i < VEXFS_ATTR_WORDS; i++)
			attrs[i] = le64_to_cpu(meta->attrs[i]);
		err = vexfs_vector_set(c, inode, vec, le64_to_cpu(meta->id),
				       attrs);
	}
	if (!err) {
		inode_set_ctime_current(inode);
		mark_inode_dirty(inode);
	}
	kfree(vec);
out:
	iput(dir);
	return err;
}

const struct xattr_handler vexfs_vector_xattr_handler = {
	.name	= VEXFS_XATTR_VECTOR,
	.get	= vexfs_vector_xattr_get,
	.set	= vexfs_vector_xattr_set,
};

const struct xattr_handler vexfs_meta_xattr_handler = {
	.name	= VEXFS_XATTR_META,
	.get	= vexfs_meta_xattr_get,
	.set	= vexfs_meta_xattr_set,
};
