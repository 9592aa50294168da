// SPDX-License-Identifier: GPL-2.0
/*
 * Directory inode operations: lookup, creating and removing names, links
 * and rename. Entries themselves are handled in dir.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/namei.h>
#include "vexfs.h"
#include "collection.h"

static struct dentry *vexfs_lookup(struct inode *dir, struct dentry *dentry,
				   unsigned int flags)
{
	struct inode *inode = NULL;
	u64 ino;
	int err;

	if (dentry->d_name.len > VEXFS_NAME_LEN)
		return ERR_PTR(-ENAMETOOLONG);
	err = vexfs_find_entry(dir, &dentry->d_name, &ino);
	if (!err) {
		inode = vexfs_iget(dir->i_sb, ino);
		if (IS_ERR(inode))
			return ERR_CAST(inode);
		/*
		 * Only the module opens a table or an index, under its own
		 * locking: reached by a name, a vector set on it would wait
		 * for the lock its caller holds.
		 */
		if (VEXFS_I(inode)->flags & (VEXFS_INODE_VTABLE | VEXFS_INODE_VINDEX)) {
			vexfs_corrupt(dir->i_sb, "directory %lu names hidden inode %llu",
				      dir->i_ino, ino);
			iput(inode);
			return ERR_PTR(-EUCLEAN);
		}
	} else if (err != -ENOENT) {
		return ERR_PTR(err);
	}
	return d_splice_alias(inode, dentry);
}

/* Link a new inode under dentry, or undo its creation. */
static int vexfs_instantiate(struct inode *dir, struct dentry *dentry,
			     struct inode *inode)
{
	int err = vexfs_add_entry(dir, &dentry->d_name, inode);

	if (err) {
		clear_nlink(inode);
		discard_new_inode(inode);
		return err;
	}
	d_instantiate_new(dentry, inode);
	return 0;
}

static int vexfs_do_mknod(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode, dev_t rdev)
{
	struct inode *inode;

	inode = vexfs_new_inode(idmap, dir, mode, rdev);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	return vexfs_instantiate(dir, dentry, inode);
}


static int vexfs_do_symlink(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *dentry, const char *target)
{
	unsigned int len = strlen(target) + 1;
	struct inode *inode;
	int err;

	if (len > PAGE_SIZE)
		return -ENAMETOOLONG;
	inode = vexfs_new_inode(idmap, dir, S_IFLNK | 0777, 0);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	err = page_symlink(inode, target, len);
	if (err) {
		clear_nlink(inode);
		discard_new_inode(inode);
		return err;
	}
	return vexfs_instantiate(dir, dentry, inode);
}

static int vexfs_do_link(struct dentry *old_dentry, struct inode *dir,
		      struct dentry *dentry)
{
	struct inode *inode = d_inode(old_dentry);
	int err;

	inode_set_ctime_current(inode);
	inode_inc_link_count(inode);
	ihold(inode);
	err = vexfs_add_entry(dir, &dentry->d_name, inode);
	if (err) {
		inode_dec_link_count(inode);
		iput(inode);
		return err;
	}
	d_instantiate(dentry, inode);
	return 0;
}

static int vexfs_do_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode)
{
	struct inode *inode;
	int err;

	inode = vexfs_new_inode(idmap, dir, S_IFDIR | mode, 0);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	set_nlink(inode, 2);
	mark_inode_dirty(inode);
	err = vexfs_add_entry(dir, &dentry->d_name, inode);
	if (err) {
		clear_nlink(inode);
		discard_new_inode(inode);
		return err;
	}
	inode_inc_link_count(dir);
	d_instantiate_new(dentry, inode);
	return 0;
}

/*
 * A name about to go must be one of its inode's counted links. On-disk
 * counts may lie (two names, one link): dropping a count already at zero
 * would free the inode while the other name still leads to it.
 */
static int vexfs_check_name_counted(struct inode *inode)
{
	if (inode->i_nlink)
		return 0;
	vexfs_corrupt(inode->i_sb, "inode %lu has a name but no links left",
		      inode->i_ino);
	return -EUCLEAN;
}

static int vexfs_do_unlink(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = vexfs_check_name_counted(inode);
	if (err)
		return err;
	err = vexfs_delete_entry(dir, &dentry->d_name);
	if (err)
		return err;
	inode_set_ctime_to_ts(inode, inode_get_ctime(dir));
	inode_dec_link_count(inode);
	if (!inode->i_nlink)
		vexfs_vector_forget_last(dir, inode);
	return 0;
}

/*
 * Link counts of directories are checked before a removal or a move drops
 * them, never after: on-disk counts may lie, and a count that reached
 * zero while names still lead to the inode would free it on eviction.
 * A directory losing a subdirectory keeps its name and its ".".
 */
static int vexfs_check_parent_links(struct inode *dir)
{
	if (dir->i_nlink > 2)
		return 0;
	vexfs_corrupt(dir->i_sb, "directory %lu has %u links but a subdirectory",
		      dir->i_ino, dir->i_nlink);
	return -EUCLEAN;
}

/* An empty directory has exactly its name and its ".". */
static int vexfs_check_empty_links(struct inode *inode)
{
	if (inode->i_nlink == 2)
		return 0;
	vexfs_corrupt(inode->i_sb, "empty directory %lu has %u links",
		      inode->i_ino, inode->i_nlink);
	return -EUCLEAN;
}

static int vexfs_do_rmdir(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = vexfs_dir_is_empty(inode);
	if (err <= 0)
		return err ? err : -ENOTEMPTY;
	err = vexfs_check_empty_links(inode) ?: vexfs_check_parent_links(dir);
	if (err)
		return err;
	err = vexfs_do_unlink(dir, dentry);
	if (err)
		return err;
	inode->i_size = 0;
	inode_dec_link_count(inode);
	inode_dec_link_count(dir);
	return 0;
}

/*
 * An inode moved to another parent: a directory's ".." link moves with
 * it. A file's vector is vexfs_follow_done()'s business.
 */
static void vexfs_reparent(struct inode *inode, struct inode *old_dir,
			   struct inode *new_dir)
{
	if (old_dir == new_dir || !S_ISDIR(inode->i_mode))
		return;
	VEXFS_I(inode)->parent = new_dir->i_ino;
	inode_dec_link_count(old_dir);
	inode_inc_link_count(new_dir);
	mark_inode_dirty(inode);
}

static int vexfs_exchange_entries(struct inode *old_dir,
				  struct dentry *old_dentry,
				  struct inode *new_dir, struct dentry *new_dentry)
{
	struct inode *old_inode = d_inode(old_dentry);
	struct inode *new_inode = d_inode(new_dentry);
	int err;

	err = vexfs_set_entry(old_dir, &old_dentry->d_name, new_inode);
	if (err)
		return err;
	err = vexfs_set_entry(new_dir, &new_dentry->d_name, old_inode);
	if (err) {
		vexfs_set_entry(old_dir, &old_dentry->d_name, old_inode);
		return err;
	}
	vexfs_reparent(old_inode, old_dir, new_dir);
	vexfs_reparent(new_inode, new_dir, old_dir);
	inode_set_ctime_current(old_inode);
	inode_set_ctime_current(new_inode);
	mark_inode_dirty(old_inode);
	mark_inode_dirty(new_inode);
	return 0;
}

static int vexfs_exchange(struct inode *old_dir, struct dentry *old_dentry,
			  struct inode *new_dir, struct dentry *new_dentry)
{
	struct inode *old_inode = d_inode(old_dentry);
	struct inode *new_inode = d_inode(new_dentry);
	bool old_is_dir = S_ISDIR(old_inode->i_mode);
	struct vexfs_carry old_carry, new_carry = { VEXFS_CARRY_NONE };
	int err;

	if (old_dir == new_dir)
		return vexfs_exchange_entries(old_dir, old_dentry, new_dir,
					      new_dentry);
	/* A directory swapped for a file takes its ".." link along. */
	if (old_is_dir != S_ISDIR(new_inode->i_mode)) {
		err = vexfs_check_parent_links(old_is_dir ? old_dir : new_dir);
		if (err)
			return err;
	}
	err = vexfs_carry(old_dir, new_dir, old_inode, &old_carry) ?:
	      vexfs_carry(new_dir, old_dir, new_inode, &new_carry) ?:
	      vexfs_exchange_entries(old_dir, old_dentry, new_dir, new_dentry);
	vexfs_carry_done(new_dir, old_dir, new_inode, &new_carry, err);
	vexfs_carry_done(old_dir, new_dir, old_inode, &old_carry, err);
	return err;
}

/* What replacing new_inode requires of it. */
static int vexfs_check_target(struct inode *new_inode, bool is_dir)
{
	int err;

	if (!is_dir)
		return vexfs_check_name_counted(new_inode);
	err = vexfs_dir_is_empty(new_inode);
	if (err <= 0)
		return err ? err : -ENOTEMPTY;
	return vexfs_check_empty_links(new_inode);
}

static int vexfs_move_entry(struct inode *old_dir, struct dentry *old_dentry,
			    struct inode *new_dir, struct dentry *new_dentry)
{
	struct inode *old_inode = d_inode(old_dentry);
	struct inode *new_inode = d_inode(new_dentry);
	bool is_dir = S_ISDIR(old_inode->i_mode);
	int err;

	if (new_inode) {
		err = vexfs_set_entry(new_dir, &new_dentry->d_name, old_inode);
		if (err)
			return err;
		inode_set_ctime_current(new_inode);
		if (is_dir)
			drop_nlink(new_inode);
		inode_dec_link_count(new_inode);
		if (!new_inode->i_nlink)
			vexfs_vector_forget_last(new_dir, new_inode);
	} else {
		err = vexfs_add_entry(new_dir, &new_dentry->d_name, old_inode);
		if (err)
			return err;
		if (is_dir)
			inode_inc_link_count(new_dir);
	}
	err = vexfs_delete_entry(old_dir, &old_dentry->d_name);
	if (err)
		return err;
	if (is_dir) {
		inode_dec_link_count(old_dir);
		VEXFS_I(old_inode)->parent = new_dir->i_ino;
	}
	inode_set_ctime_current(old_inode);
	mark_inode_dirty(old_inode);
	return 0;
}

static int vexfs_do_rename(struct mnt_idmap *idmap, struct inode *old_dir,
			struct dentry *old_dentry, struct inode *new_dir,
			struct dentry *new_dentry, unsigned int flags)
{
	struct inode *old_inode = d_inode(old_dentry);
	struct inode *new_inode = d_inode(new_dentry);
	bool is_dir = S_ISDIR(old_inode->i_mode);
	struct vexfs_carry carry = { VEXFS_CARRY_NONE };
	int err;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (flags & RENAME_EXCHANGE)
		return vexfs_exchange(old_dir, old_dentry, new_dir, new_dentry);
	err = is_dir ? vexfs_check_parent_links(old_dir) : 0;
	if (!err && new_inode)
		err = vexfs_check_target(new_inode, is_dir);
	if (!err)
		err = vexfs_carry(old_dir, new_dir, old_inode, &carry);
	if (!err)
		err = vexfs_move_entry(old_dir, old_dentry, new_dir, new_dentry);
	vexfs_carry_done(old_dir, new_dir, old_inode, &carry, err);
	return err;
}

/*
 * Each operation runs in one handle, started before any lock of ours is
 * taken (see journal.c). One that found no free block runs again once
 * the blocks that uncommitted transactions freed are free (alloc.c).
 */
#define VEXFS_DIROP(sb, credits, call)					\
	do {								\
		handle_t *handle;					\
		int retries = 0;					\
		int ret;						\
									\
		do {							\
			handle = vexfs_journal_begin(sb, credits,	\
						     VEXFS_REVOKES_DIROP); \
			if (IS_ERR(handle))				\
				return PTR_ERR(handle);			\
			ret = vexfs_journal_finish(handle, call);	\
		} while (ret == -ENOSPC &&				\
			 vexfs_journal_retry_alloc(sb, &retries));	\
		return ret;						\
	} while (0)

static int vexfs_journalled_mknod(struct mnt_idmap *idmap, struct inode *dir,
				  struct dentry *dentry, umode_t mode, dev_t rdev)
{
	VEXFS_DIROP(dir->i_sb, VEXFS_CREDITS_DIROP,
		    vexfs_do_mknod(idmap, dir, dentry, mode, rdev));
}

static int vexfs_symlink(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *dentry, const char *target)
{
	VEXFS_DIROP(dir->i_sb, VEXFS_CREDITS_DIROP,
		    vexfs_do_symlink(idmap, dir, dentry, target));
}

static int vexfs_link(struct dentry *old_dentry, struct inode *dir,
		      struct dentry *dentry)
{
	VEXFS_DIROP(dir->i_sb, VEXFS_CREDITS_DIROP,
		    vexfs_do_link(old_dentry, dir, dentry));
}

static int vexfs_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode)
{
	VEXFS_DIROP(dir->i_sb, VEXFS_CREDITS_DIROP,
		    vexfs_do_mkdir(idmap, dir, dentry, mode));
}

static int vexfs_journalled_unlink(struct inode *dir, struct dentry *dentry)
{
	VEXFS_DIROP(dir->i_sb, VEXFS_CREDITS_DIROP,
		    vexfs_do_unlink(dir, dentry));
}

/* Collections the operation may change are loaded before its handle. */
static int vexfs_unlink(struct inode *dir, struct dentry *dentry)
{
	struct inode *owner = vexfs_collection_pin(dir, d_inode(dentry));
	int err = vexfs_journalled_unlink(dir, dentry);

	iput(owner);
	return err;
}

static int vexfs_journalled_rmdir(struct inode *dir, struct dentry *dentry)
{
	VEXFS_DIROP(dir->i_sb, VEXFS_CREDITS_DIROP,
		    vexfs_do_rmdir(dir, dentry));
}

/* A collection's vectors of files linked elsewhere go first, see collection.c. */
static int vexfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	struct inode *victim = d_inode(dentry);

	if ((VEXFS_I(victim)->flags & VEXFS_INODE_COLLECTION) &&
	    vexfs_dir_is_empty(victim) > 0)
		vexfs_collection_drop_vectors(victim);
	return vexfs_journalled_rmdir(dir, dentry);
}

static int vexfs_journalled_rename(struct mnt_idmap *idmap,
				   struct inode *old_dir, struct dentry *old_dentry,
				   struct inode *new_dir, struct dentry *new_dentry,
				   unsigned int flags)
{
	/* Two vectors may move (RENAME_EXCHANGE), each a delete and a set. */
	VEXFS_DIROP(old_dir->i_sb,
		    2 * VEXFS_CREDITS_DIROP + 4 * VEXFS_CREDITS_VECTOR,
		    vexfs_do_rename(idmap, old_dir, old_dentry, new_dir,
				    new_dentry, flags));
}

static int vexfs_rename(struct mnt_idmap *idmap, struct inode *old_dir,
			struct dentry *old_dentry, struct inode *new_dir,
			struct dentry *new_dentry, unsigned int flags)
{
	struct inode *old_owner = vexfs_collection_pin(old_dir, d_inode(old_dentry));
	struct inode *new_owner = vexfs_collection_pin(new_dir, d_inode(new_dentry));
	int err = vexfs_journalled_rename(idmap, old_dir, old_dentry, new_dir,
					  new_dentry, flags);

	iput(new_owner);
	iput(old_owner);
	return err;
}

static int vexfs_create(struct mnt_idmap *idmap, struct inode *dir,
			struct dentry *dentry, umode_t mode, bool excl)
{
	return vexfs_journalled_mknod(idmap, dir, dentry, mode | S_IFREG, 0);
}

const struct inode_operations vexfs_dir_iops = {
	.lookup		= vexfs_lookup,
	.create		= vexfs_create,
	.mknod		= vexfs_journalled_mknod,
	.symlink	= vexfs_symlink,
	.link		= vexfs_link,
	.mkdir		= vexfs_mkdir,
	.unlink		= vexfs_unlink,
	.rmdir		= vexfs_rmdir,
	.rename		= vexfs_rename,
	.setattr	= vexfs_setattr,
	.listxattr	= vexfs_listxattr,
};
