// SPDX-License-Identifier: GPL-2.0
/*
 * What a rename does with the file's vector. A rename never drops one:
 *
 *  - a name leaving the collection holding the vector (or the file's only
 *    name) for a collection of the same dimension and metric takes the
 *    vector there, id and metadata included;
 *  - a name leaving that collection for anywhere else leaves the vector
 *    kept with the file (kept.c), where no search finds it;
 *  - a file with a kept vector coming into a collection of its shape
 *    gives the vector back to that collection.
 *
 * It is done before the names move, in the rename's handle, under the
 * file's i_rwsem, with the collections pinned (vexfs_collection_pin()):
 * a vector that cannot be carried (one too large to keep beside the
 * file's xattrs: ENOSPC) fails the rename before anything changed, and
 * vexfs_carry_done() puts it back if the names then fail to move.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"

/*
 * Move inode's vector, id and metadata from one collection to another of
 * the same dimension and metric. On failure it is where it was.
 */
static int vexfs_vector_move(struct vexfs_collection *from,
			     struct vexfs_collection *to, struct inode *inode)
{
	u64 id, attrs[VEXFS_ATTR_WORDS];
	u32 *vec;
	int err;

	vec = kmalloc_array(from->dim, sizeof(*vec), GFP_NOFS);
	if (!vec)
		return -ENOMEM;
	err = vexfs_vector_get(from, inode, vec, &id, attrs) ?:
	      vexfs_vector_del(from, inode);
	if (!err) {
		err = vexfs_vector_set(to, inode, vec, id, attrs);
		if (err && vexfs_vector_set(from, inode, vec, id, attrs))
			pr_err("%pg: inode %lu lost its vector in a failed move\n",
			       inode->i_sb->s_bdev, inode->i_ino);
	}
	kfree(vec);
	return err;
}

static bool vexfs_same_shape(struct vexfs_collection *a,
			     struct vexfs_collection *b)
{
	return a->dim == b->dim && a->metric == b->metric;
}

/* A kept vector of new_dir's shape goes into new_dir's collection. */
static int vexfs_carry_back(struct vexfs_collection *to, struct inode *inode,
			    struct vexfs_carry *carry)
{
	int taken = vexfs_vector_take_back(to, inode);

	if (taken > 0)
		carry->how = VEXFS_CARRY_TAKEN;
	return min(taken, 0);
}

/* The vector leaves from, its home, for to (NULL: no collection). */
static int vexfs_carry_out(struct vexfs_collection *from,
			   struct vexfs_collection *to, struct inode *old_dir,
			   struct inode *inode, struct vexfs_carry *carry)
{
	int err = 0;

	if (to && vexfs_same_shape(from, to)) {
		err = vexfs_vector_move(from, to, inode);
		carry->how = VEXFS_CARRY_MOVED;
	} else if (VEXFS_I(inode)->parent == old_dir->i_ino) {
		err = vexfs_vector_keep(from, inode);
		carry->how = VEXFS_CARRY_KEPT;
		if (err == -ENOSPC)
			pr_info_ratelimited("%pg: rename of inode %lu refused: its %u-component vector does not fit beside its xattrs, to be kept with it; remove it (setfattr -x user.vexfs.vector) or move the file into a collection of its shape\n",
					    inode->i_sb->s_bdev, inode->i_ino,
					    from->dim);
	}
	/* A stale slot pointer: there was nothing to carry. */
	return err == -ENODATA ? 0 : err;
}

/*
 * A name of inode moves from old_dir to new_dir: carry its vector as the
 * rules above say, and say in *carry what was done, for
 * vexfs_carry_done().
 */
int vexfs_carry(struct inode *old_dir, struct inode *new_dir,
		struct inode *inode, struct vexfs_carry *carry)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_collection *from, *to = NULL;
	int err;

	carry->how = VEXFS_CARRY_NONE;
	carry->home = NULL;
	/*
	 * The VFS locks neither a directory renamed within its parent nor,
	 * before 6.8, any renamed directory: only a file is held here.
	 */
	if (!S_ISREG(inode->i_mode) || old_dir == new_dir)
		return 0;
	lockdep_assert_held_write(&inode->i_rwsem);
	/*
	 * A file with nothing to carry moves into any directory, even one
	 * whose table cannot be loaded, as a new file can be created there.
	 */
	if (!vi->aux && (!(VEXFS_I(new_dir)->flags & VEXFS_INODE_COLLECTION) ||
			 !vexfs_has_vector(inode)))
		return 0;
	if (VEXFS_I(new_dir)->flags & VEXFS_INODE_COLLECTION) {
		to = vexfs_collection_get(new_dir);
		if (IS_ERR(to))
			return PTR_ERR(to);
	}
	if (!vi->aux)
		return vexfs_carry_back(to, inode, carry);
	if (vi->parent == new_dir->i_ino ||
	    (vi->parent != old_dir->i_ino && inode->i_nlink > 1))
		return 0;
	from = vexfs_vector_owner(inode, &carry->home, true);
	/* A stale or broken home holds nothing to carry; memory may come back. */
	if (IS_ERR(from))
		return PTR_ERR(from) == -ENOMEM ? -ENOMEM : 0;
	err = vexfs_carry_out(from, to, old_dir, inode, carry);
	if (err || vi->parent == carry->home->i_ino) {
		/* Nothing moved. */
		iput(carry->home);
		carry->home = NULL;
		carry->how = VEXFS_CARRY_NONE;
	}
	return err;
}

/* The rename failed after the vector was carried: undo what was done. */
static void vexfs_carry_undo(struct inode *new_dir, struct inode *inode,
			     struct vexfs_carry *carry)
{
	struct vexfs_collection *there, *home = NULL;
	int err;

	there = vexfs_collection_get(new_dir);
	if (carry->home && !IS_DEADDIR(carry->home) && carry->home->i_nlink)
		home = vexfs_collection_get(carry->home);
	switch (carry->how) {
	case VEXFS_CARRY_MOVED:
		err = PTR_ERR_OR_ZERO(there) ?: PTR_ERR_OR_ZERO(home) ?:
		      home ? vexfs_vector_move(there, home, inode) : -ENOENT;
		break;
	case VEXFS_CARRY_KEPT:
		/* Kept with the file, it is not lost if home is gone. */
		err = home ? PTR_ERR_OR_ZERO(home) : 0;
		if (home && !err)
			err = min(vexfs_vector_take_back(home, inode), 0);
		break;
	case VEXFS_CARRY_TAKEN:
		err = PTR_ERR_OR_ZERO(there) ?: vexfs_vector_keep(there, inode);
		break;
	default:
		err = 0;
	}
	if (err)
		pr_warn("%pg: inode %lu: its vector stays where a failed rename put it (%d)\n",
			inode->i_sb->s_bdev, inode->i_ino, err);
}

/*
 * The names moved from old_dir to new_dir (err 0), or did not. Undo the
 * carry if they did not; if they did and nothing was carried, a vector
 * of the file still living in old_dir goes, so that no collection keeps
 * searchable a file that left it.
 */
void vexfs_carry_done(struct inode *old_dir, struct inode *new_dir,
		      struct inode *inode, struct vexfs_carry *carry, int err)
{
	if (err && carry->how != VEXFS_CARRY_NONE)
		vexfs_carry_undo(new_dir, inode, carry);
	else if (!err && carry->how == VEXFS_CARRY_NONE &&
		 old_dir != new_dir && !S_ISDIR(inode->i_mode))
		vexfs_vector_forget(old_dir, inode);
	iput(carry->home);	/* iput(NULL) is a no-op */
	carry->home = NULL;
}
