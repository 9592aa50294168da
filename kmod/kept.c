// SPDX-License-Identifier: GPL-2.0
/*
 * A vector kept with its file while the file is in no collection that can
 * hold it (vexfs_fs.h, struct vexfs_kept_vector): a rename out of the
 * collection holding the vector into a plain directory, or into a
 * collection of another dimension or metric, keeps it here instead of
 * dropping it, and a rename into a collection of its shape gives it back,
 * id and metadata included (carry.c). It belongs to no collection, so no
 * search finds it; only the file's xattrs show it, which needs what
 * reading the file needs.
 *
 * A file has a kept vector only while no collection holds one of it:
 * vexfs_vector_set() removes the kept one when it gives the file a slot.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"

static_assert(ARRAY_SIZE(((struct vexfs_kept_vector *)0)->kv_attrs) ==
	      VEXFS_ATTR_WORDS);

static size_t vexfs_kept_bytes(u32 dim)
{
	return sizeof(struct vexfs_kept_vector) + dim * sizeof(__le32);
}

struct vexfs_kept *vexfs_kept_alloc(u32 dim)
{
	struct vexfs_kept *k;

	k = kzalloc(struct_size(k, vec, dim), GFP_NOFS);
	if (!k)
		return ERR_PTR(-ENOMEM);
	k->dim = dim;
	return k;
}

static int vexfs_kept_decode(struct inode *inode, const void *raw, int len,
			     struct vexfs_kept **kp)
{
	const struct vexfs_kept_vector *kv = raw;
	struct vexfs_kept *k;
	u32 dim, i;

	dim = len >= sizeof(*kv) ? le32_to_cpu(kv->kv_dim) : 0;
	if (!dim || dim > VEXFS_KEPT_MAX_DIM || len != vexfs_kept_bytes(dim) ||
	    kv->kv_reserved || le16_to_cpu(kv->kv_metric) > VEXFS_METRIC_COSINE)
		goto bad;
	k = vexfs_kept_alloc(dim);
	if (IS_ERR(k))
		return PTR_ERR(k);
	k->metric = le16_to_cpu(kv->kv_metric);
	k->id = le64_to_cpu(kv->kv_id);
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		k->attrs[i] = le64_to_cpu(kv->kv_attrs[i]);
	for (i = 0; i < dim; i++)
		k->vec[i] = le32_to_cpu(kv->kv_vector[i]);
	if (!k->id || !vexfs_vector_valid(k->vec, dim)) {
		kfree(k);
		goto bad;
	}
	*kp = k;
	return 0;
bad:
	vexfs_corrupt(inode->i_sb, "inode %lu: bad kept vector", inode->i_ino);
	return -EUCLEAN;
}

/* The file's kept vector, for the caller to kfree(); -ENODATA if none. */
struct vexfs_kept *vexfs_kept_get(struct inode *inode)
{
	struct vexfs_kept *k = ERR_PTR(-ENODATA);
	void *raw;
	int len;

	if (!S_ISREG(inode->i_mode) || !READ_ONCE(VEXFS_I(inode)->xattr_block))
		return k;
	raw = kmalloc(VEXFS_XATTR_SPACE, GFP_NOFS);
	if (!raw)
		return ERR_PTR(-ENOMEM);
	len = vexfs_xattr_read_value(inode, VEXFS_XATTR_INDEX_VECTOR,
				     VEXFS_KEPT_NAME, raw, VEXFS_XATTR_SPACE);
	if (len >= 0) {
		int err = vexfs_kept_decode(inode, raw, len, &k);

		if (err)
			k = ERR_PTR(err);
	} else {
		k = ERR_PTR(len);
	}
	kfree(raw);
	return k;
}

/*
 * Store k as the file's kept vector. -ENOSPC when it does not fit beside
 * the file's other xattrs (or at all: more than VEXFS_KEPT_MAX_DIM).
 */
int vexfs_kept_put(struct inode *inode, const struct vexfs_kept *k)
{
	struct vexfs_kept_vector *kv;
	size_t len = vexfs_kept_bytes(k->dim);
	u32 i;
	int err;

	if (k->dim > VEXFS_KEPT_MAX_DIM)
		return -ENOSPC;
	kv = kzalloc(len, GFP_NOFS);
	if (!kv)
		return -ENOMEM;
	kv->kv_dim = cpu_to_le32(k->dim);
	kv->kv_metric = cpu_to_le16(k->metric);
	kv->kv_id = cpu_to_le64(k->id);
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		kv->kv_attrs[i] = cpu_to_le64(k->attrs[i]);
	for (i = 0; i < k->dim; i++)
		kv->kv_vector[i] = cpu_to_le32(k->vec[i]);
	err = vexfs_xattr_write_value(inode, VEXFS_XATTR_INDEX_VECTOR,
				      VEXFS_KEPT_NAME, kv, len, 0);
	kfree(kv);
	return err;
}

/* Remove the kept vector; -ENODATA if there is none. */
int vexfs_kept_remove(struct inode *inode)
{
	if (!S_ISREG(inode->i_mode) || !READ_ONCE(VEXFS_I(inode)->xattr_block))
		return -ENODATA;
	return vexfs_xattr_write_value(inode, VEXFS_XATTR_INDEX_VECTOR,
				       VEXFS_KEPT_NAME, NULL, 0, 0);
}

/* Does the file have a vector, in a collection or kept? */
bool vexfs_has_vector(struct inode *inode)
{
	if (!S_ISREG(inode->i_mode))
		return false;
	if (READ_ONCE(VEXFS_I(inode)->aux))
		return true;
	return READ_ONCE(VEXFS_I(inode)->xattr_block) &&
	       vexfs_xattr_read_value(inode, VEXFS_XATTR_INDEX_VECTOR,
				      VEXFS_KEPT_NAME, NULL, 0) >= 0;
}

/*
 * Move the vector c holds of inode into the file's keeping. On failure
 * it is where it was.
 */
int vexfs_vector_keep(struct vexfs_collection *c, struct inode *inode)
{
	struct vexfs_kept *k = vexfs_kept_alloc(c->dim);
	int err;

	if (IS_ERR(k))
		return PTR_ERR(k);
	k->metric = c->metric;
	err = vexfs_vector_get(c, inode, k->vec, &k->id, k->attrs);
	if (!err && !k->id)
		k->id = inode->i_ino;	/* a kept vector always has an id */
	if (!err)
		err = vexfs_kept_put(inode, k);
	if (!err) {
		err = vexfs_vector_del(c, inode);
		if (err && vexfs_kept_remove(inode))
			pr_err("%pg: inode %lu has its vector twice after a failed move\n",
			       inode->i_sb->s_bdev, inode->i_ino);
	}
	kfree(k);
	return err;
}

static bool vexfs_kept_fits(const struct vexfs_kept *k,
			    const struct vexfs_collection *c)
{
	return k->dim == c->dim &&
	       (k->metric == VEXFS_KEPT_ANY_METRIC || k->metric == c->metric);
}

/*
 * Give c the file's kept vector if it has one of c's shape: 1 when c took
 * it (and the keeping ended), 0 when there was nothing to take.
 */
int vexfs_vector_take_back(struct vexfs_collection *c, struct inode *inode)
{
	struct vexfs_kept *k = vexfs_kept_get(inode);
	int err;

	if (IS_ERR(k))
		return PTR_ERR(k) == -ENODATA ? 0 : PTR_ERR(k);
	err = 0;
	if (vexfs_kept_fits(k, c))
		err = vexfs_vector_set(c, inode, k->vec, k->id, k->attrs) ?: 1;
	kfree(k);
	return err;
}
