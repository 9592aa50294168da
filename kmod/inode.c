// SPDX-License-Identifier: GPL-2.0
/*
 * Inodes: reading and writing them in the inode table, creating and
 * deleting them, size changes, and the block mapping the page cache uses.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/buffer_head.h>
#include <linux/mpage.h>
#include <linux/random.h>
#include <linux/writeback.h>
#include "vexfs.h"
#include "collection.h"

static u64 vexfs_inode_block(struct super_block *sb, u64 ino)
{
	return VEXFS_SB(sb)->inode_table_start + ino / VEXFS_INODES_PER_BLOCK;
}

static unsigned int vexfs_inode_offset(u64 ino)
{
	return (ino % VEXFS_INODES_PER_BLOCK) * VEXFS_INODE_SIZE;
}

static void vexfs_set_ops(struct inode *inode)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &vexfs_file_iops;
		inode->i_fop = &vexfs_file_ops;
		inode->i_mapping->a_ops = &vexfs_aops;
		break;
	case S_IFDIR:
		inode->i_op = &vexfs_dir_iops;
		inode->i_fop = &vexfs_dir_ops;
		inode->i_mapping->a_ops = &vexfs_aops;
		break;
	case S_IFLNK:
		inode->i_op = &vexfs_symlink_iops;
		inode_nohighmem(inode);
		inode->i_mapping->a_ops = &vexfs_aops;
		break;
	default:
		inode->i_op = &vexfs_special_iops;
		init_special_inode(inode, inode->i_mode, inode->i_rdev);
		break;
	}
}

/*
 * The vector table and the index are files only the module opens, always
 * with the lock of a file or directory of their collection held: lock
 * classes of their own tell lockdep that this nesting is the order, not a
 * recursion. One each, as their orders against the journal differ: the
 * table is written in its blocks inside the caller's handle (handle, then
 * table lock), the index through the page cache, whose write_begin starts
 * the handle (index lock, then handle), as write(2) does.
 */
static struct lock_class_key vexfs_table_rwsem_key;
static struct lock_class_key vexfs_index_rwsem_key;

void vexfs_set_hidden_lock_class(struct inode *inode)
{
	u32 flags = VEXFS_I(inode)->flags;

	if (flags & VEXFS_INODE_VTABLE)
		lockdep_set_class(&inode->i_rwsem, &vexfs_table_rwsem_key);
	else if (flags & VEXFS_INODE_VINDEX)
		lockdep_set_class(&inode->i_rwsem, &vexfs_index_rwsem_key);
}

static bool vexfs_mode_valid(umode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK:
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

/* Copy a checked on-disk inode into the VFS inode. */
static int vexfs_inode_from_disk(struct inode *inode, struct vexfs_inode *raw,
				 unsigned int how)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	loff_t size = le64_to_cpu(raw->i_size);
	bool orphan = how & VEXFS_IGET_ORPHAN;

	/* Freed after the number was read: gone, not damaged. */
	if ((how & VEXFS_IGET_STALE) && !le32_to_cpu(raw->i_nlink))
		return -ESTALE;

	inode->i_mode = le16_to_cpu(raw->i_mode);
	/* A live inode has links; an orphan, and only an orphan, none. */
	if (!vexfs_mode_valid(inode->i_mode) ||
	    (le32_to_cpu(raw->i_nlink) == 0) != orphan)
		return -EUCLEAN;
	if (le32_to_cpu(raw->i_nlink) > VEXFS_LINK_MAX)
		return -EUCLEAN;
	if (size < 0 || size > inode->i_sb->s_maxbytes)
		return -EUCLEAN;
	if (S_ISDIR(inode->i_mode) && (size & (VEXFS_BLOCK_SIZE - 1)))
		return -EUCLEAN;
	/* Every block of a directory is allocated: its size cannot exceed them. */
	if (S_ISDIR(inode->i_mode) &&
	    (u64)size >> VEXFS_BLOCK_SHIFT > le64_to_cpu(raw->i_blocks))
		return -EUCLEAN;
	if (S_ISLNK(inode->i_mode) && (size == 0 || size >= PAGE_SIZE))
		return -EUCLEAN;
	/* A live directory has its name and its "."; rmdir relies on both. */
	if (S_ISDIR(inode->i_mode) && !orphan && le32_to_cpu(raw->i_nlink) < 2)
		return -EUCLEAN;

	i_uid_write(inode, le32_to_cpu(raw->i_uid));
	i_gid_write(inode, le32_to_cpu(raw->i_gid));
	set_nlink(inode, le32_to_cpu(raw->i_nlink));
	inode->i_size = size;
	inode->i_blocks = le64_to_cpu(raw->i_blocks) << (VEXFS_BLOCK_SHIFT - 9);
	inode_set_atime(inode, le64_to_cpu(raw->i_atime),
			le32_to_cpu(raw->i_atime_nsec));
	inode_set_mtime(inode, le64_to_cpu(raw->i_mtime),
			le32_to_cpu(raw->i_mtime_nsec));
	inode_set_ctime(inode, le64_to_cpu(raw->i_ctime),
			le32_to_cpu(raw->i_ctime_nsec));
	inode->i_generation = le32_to_cpu(raw->i_generation);
	vi->flags = le16_to_cpu(raw->i_flags);
	vi->aux = le32_to_cpu(raw->i_aux);
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		inode->i_rdev = new_decode_dev(vi->aux);
	if ((vi->flags & ~VEXFS_INODE_FLAGS_KNOWN) ||
	    ((vi->flags & VEXFS_INODE_HTREE) && !S_ISDIR(inode->i_mode)))
		return -EUCLEAN;
	vi->xattr_block = le64_to_cpu(raw->i_xattr_block);
	vi->parent = le64_to_cpu(raw->i_parent);
	memcpy(vi->extent_root, raw->i_extent_root, VEXFS_EXTENT_ROOT_SIZE);
	if (vi->xattr_block &&
	    !vexfs_data_block_valid(inode->i_sb, vi->xattr_block, 1))
		return -EUCLEAN;
	return vexfs_extent_root_check(inode);
}

/*
 * Read inode ino. Only an orphan, with no link left, may have a zero link
 * count: it was unlinked and its deletion did not reach the disk before a
 * crash (see orphan.c). With VEXFS_IGET_STALE the number was read without
 * a lock that keeps its inode alive (a search result, a slot, a file's
 * parent): an inode freed since is -ESTALE, without a report of damage.
 */
struct inode *vexfs_iget_how(struct super_block *sb, u64 ino, unsigned int how)
{
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	struct inode *inode;
	int err;

	if (ino < VEXFS_ROOT_INO || ino >= VEXFS_SB(sb)->inodes_count) {
		vexfs_corrupt(sb, "inode number %llu out of range", ino);
		return ERR_PTR(-EUCLEAN);
	}
	inode = iget_locked(sb, ino);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;

	bh = sb_bread(sb, vexfs_inode_block(sb, ino));
	if (!bh) {
		err = -EIO;
		goto fail;
	}
	raw = (struct vexfs_inode *)(bh->b_data + vexfs_inode_offset(ino));
	if ((how & VEXFS_IGET_STALE) && !memchr_inv(raw, 0, sizeof(*raw))) {
		/* Never used, or a block of free inodes filled (see below). */
		err = -ESTALE;
	} else if (le32_to_cpu(raw->i_checksum) != vexfs_inode_csum(raw, ino)) {
		vexfs_corrupt(sb, "inode %llu checksum mismatch", ino);
		err = -EUCLEAN;
	} else {
		err = vexfs_inode_from_disk(inode, raw, how);
		if (err && err != -ESTALE)
			vexfs_corrupt(sb, "inode %llu is inconsistent", ino);
	}
	brelse(bh);
	if (err)
		goto fail;
	vexfs_set_ops(inode);
	vexfs_set_hidden_lock_class(inode);
	unlock_new_inode(inode);
	return inode;
fail:
	iget_failed(inode);
	return ERR_PTR(err);
}

struct inode *vexfs_iget(struct super_block *sb, u64 ino)
{
	return vexfs_iget_how(sb, ino, 0);
}

static void vexfs_inode_to_disk(struct inode *inode, struct vexfs_inode *raw)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct timespec64 ts;

	memset(raw, 0, sizeof(*raw));
	raw->i_mode = cpu_to_le16(inode->i_mode);
	raw->i_nlink = cpu_to_le32(inode->i_nlink);
	raw->i_uid = cpu_to_le32(i_uid_read(inode));
	raw->i_gid = cpu_to_le32(i_gid_read(inode));
	raw->i_size = cpu_to_le64(i_size_read(inode));
	raw->i_blocks = cpu_to_le64(inode->i_blocks >> (VEXFS_BLOCK_SHIFT - 9));
	ts = inode_get_atime(inode);
	raw->i_atime = cpu_to_le64(ts.tv_sec);
	raw->i_atime_nsec = cpu_to_le32(ts.tv_nsec);
	ts = inode_get_mtime(inode);
	raw->i_mtime = cpu_to_le64(ts.tv_sec);
	raw->i_mtime_nsec = cpu_to_le32(ts.tv_nsec);
	ts = inode_get_ctime(inode);
	raw->i_ctime = cpu_to_le64(ts.tv_sec);
	raw->i_ctime_nsec = cpu_to_le32(ts.tv_nsec);
	raw->i_generation = cpu_to_le32(inode->i_generation);
	raw->i_xattr_block = cpu_to_le64(vi->xattr_block);
	raw->i_parent = cpu_to_le64(vi->parent);
	raw->i_flags = cpu_to_le16(vi->flags);
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		raw->i_aux = cpu_to_le32(new_encode_dev(inode->i_rdev));
	else
		raw->i_aux = cpu_to_le32(vi->aux);
	mutex_lock(&vi->map_lock);
	memcpy(raw->i_extent_root, vi->extent_root, VEXFS_EXTENT_ROOT_SIZE);
	mutex_unlock(&vi->map_lock);
}

/*
 * The inode table block of ino, to store the inodes of mine (a mask of
 * the block's slots, ino's among them) in, taken into the journal. Read
 * unless every other inode of the block is free: the caller rewrites the
 * slots of mine whole, so the block is then zeroes but for them, as
 * never-used slots are (a run of new inodes costs no read of the table).
 */
static struct buffer_head *vexfs_inode_table_block(struct super_block *sb,
						   u64 ino, unsigned long mine)
{
	struct buffer_head *bh = sb_getblk(sb, vexfs_inode_block(sb, ino));
	int err;

	if (!bh)
		return ERR_PTR(-ENOMEM);
	if (!buffer_uptodate(bh)) {
		lock_buffer(bh);
		if (!buffer_uptodate(bh) &&
		    vexfs_inode_block_unused(sb, ino, mine)) {
			memset(bh->b_data, 0, bh->b_size);
			set_buffer_uptodate(bh);
		}
		unlock_buffer(bh);
	}
	if (!buffer_uptodate(bh) && bh_read(bh, 0) < 0) {
		brelse(bh);
		return ERR_PTR(-EIO);
	}
	err = vexfs_journal_access(sb, bh);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

/* Copy inode into its slot of bh, its table block taken already. */
static void vexfs_inode_fill_slot(struct buffer_head *bh, struct inode *inode,
				  bool deleted)
{
	struct vexfs_inode disk;

	if (deleted)
		memset(&disk, 0, sizeof(disk));
	else
		vexfs_inode_to_disk(inode, &disk);
	disk.i_checksum = cpu_to_le32(vexfs_inode_csum(&disk, inode->i_ino));
	lock_buffer(bh);
	memcpy(bh->b_data + vexfs_inode_offset(inode->i_ino), &disk, sizeof(disk));
	unlock_buffer(bh);
}

/* Log a table block whose slots were filled, and let it go. */
static int vexfs_inode_table_done(struct super_block *sb, struct buffer_head *bh)
{
	int err = bh ? vexfs_journal_dirty(sb, bh) : 0;

	brelse(bh);
	return err;
}

/* Store an inode slot; a deleted inode is stored as all zeroes. */
static int vexfs_store_inode(struct inode *inode, bool deleted, bool sync)
{
	struct super_block *sb = inode->i_sb;
	struct buffer_head *bh;
	int err = 0;

	bh = vexfs_inode_table_block(sb, inode->i_ino,
				     BIT(inode->i_ino % VEXFS_INODES_PER_BLOCK));
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	vexfs_inode_fill_slot(bh, inode, deleted);
	err = vexfs_journal_dirty(sb, bh);
	if (VEXFS_SB(sb)->journal)
		sync = false;	/* durable with its transaction */
	if (sync) {
		sync_dirty_buffer(bh);
		if (buffer_req(bh) && !buffer_uptodate(bh))
			err = -EIO;
	}
	brelse(bh);
	return err;
}

/*
 * With a journal, every change to an inode is logged into its table block
 * when it is made (vexfs_dirty_inode), and writeback has nothing left to
 * do but, for a sync, wait for the commit.
 */
int vexfs_write_inode(struct inode *inode, struct writeback_control *wbc)
{
	struct super_block *sb = inode->i_sb;

	if (!VEXFS_SB(sb)->journal)
		return vexfs_store_inode(inode, false,
					 wbc->sync_mode == WB_SYNC_ALL);
	if (wbc->sync_mode != WB_SYNC_ALL || wbc->for_sync ||
	    current->flags & PF_MEMALLOC)
		return 0;
	return vexfs_journal_commit(sb);
}

/* Called by mark_inode_dirty(): log the inode in the running transaction. */
void vexfs_dirty_inode(struct inode *inode, int flags)
{
	struct super_block *sb = inode->i_sb;
	handle_t *handle;
	int err;

	if (!VEXFS_SB(sb)->journal || !(flags & I_DIRTY_INODE))
		return;
	/*
	 * Nested in the operation's handle this cannot fail; alone (a time
	 * update) it fails only on an aborted journal or without memory, and
	 * then, as ext4_dirty_inode(), the update is let go.
	 */
	handle = vexfs_journal_begin(sb, VEXFS_CREDITS_INODE, 0);
	if (IS_ERR(handle)) {
		pr_err_ratelimited("%pg: inode %lu not logged (%ld)\n",
				   sb->s_bdev, inode->i_ino, PTR_ERR(handle));
		return;
	}
	/*
	 * No caller hears of a failure here: the operation that dirtied the
	 * inode learns it from the aborted journal (vexfs_journal_finish()).
	 * An operation that ran out of credits (-ENOSPC: it could not grow
	 * its handle) keeps its own error path; the inode's block, once
	 * logged in this transaction, needs none.
	 */
	err = vexfs_store_inode(inode, false, false);
	if (err && err != -ENOSPC)
		vexfs_journal_abort(sb, err, "logging an inode");
	else if (err)
		pr_err_ratelimited("%pg: inode %lu not logged: its operation's handle is full\n",
				   sb->s_bdev, inode->i_ino);
	vexfs_journal_end(handle);
}

/* The slots of ino's table block that inodes[0, n) hold, from ino on. */
static unsigned long vexfs_slots_of_block(struct super_block *sb,
					  struct inode **inodes, u32 n)
{
	u64 block = vexfs_inode_block(sb, inodes[0]->i_ino);
	unsigned long mine = 0;
	u32 i;

	for (i = 0; i < n && vexfs_inode_block(sb, inodes[i]->i_ino) == block; i++)
		mine |= BIT(inodes[i]->i_ino % VEXFS_INODES_PER_BLOCK);
	return mine;
}

/* Table blocks vexfs_log_new_inodes() takes for inodes[0, n). */
static int vexfs_table_blocks_of(struct super_block *sb, struct inode **inodes,
				 u32 n)
{
	int blocks = 0;
	u32 i;

	for (i = 0; i < n; i++)
		blocks += !i || vexfs_inode_block(sb, inodes[i]->i_ino) !=
				vexfs_inode_block(sb, inodes[i - 1]->i_ino);
	return blocks;
}

/*
 * Log n inodes made together (a batch's new files) under handle, grown as
 * it needs: inodes that share a table block, as inodes numbered one after
 * another do, cost one access of it, not one each, and no read of it when
 * no other inode of it is in use. Without a journal they are marked
 * dirty, for writeback. As for vexfs_dirty_inode(), a block that cannot
 * be logged aborts the journal.
 */
int vexfs_log_new_inodes(struct super_block *sb, handle_t *handle,
			 struct inode **inodes, u32 n)
{
	struct buffer_head *bh = NULL;
	int err = 0, done;
	u32 i;

	if (!VEXFS_SB(sb)->journal) {
		for (i = 0; i < n; i++)
			mark_inode_dirty(inodes[i]);
		return 0;
	}
	err = vexfs_journal_reserve(handle, vexfs_table_blocks_of(sb, inodes, n));
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		u64 ino = inodes[i]->i_ino;

		if (!bh || bh->b_blocknr != vexfs_inode_block(sb, ino)) {
			err = vexfs_inode_table_done(sb, bh);
			bh = err ? ERR_PTR(err) :
			     vexfs_inode_table_block(sb, ino,
				vexfs_slots_of_block(sb, inodes + i, n - i));
			if (IS_ERR(bh)) {
				err = PTR_ERR(bh);
				bh = NULL;
				break;
			}
		}
		vexfs_inode_fill_slot(bh, inodes[i], false);
	}
	done = vexfs_inode_table_done(sb, bh);
	err = err ?: done;
	if (err)
		vexfs_journal_abort(sb, err, "logging new inodes");
	return err;
}

void vexfs_evict_inode(struct inode *inode)
{
	bool deleted = !inode->i_nlink && !is_bad_inode(inode);
	handle_t *handle = NULL;

	truncate_inode_pages_final(&inode->i_data);
	/* The table and index are inodes of their own, with their own handles. */
	if (deleted && S_ISDIR(inode->i_mode))
		vexfs_collection_destroy_table(inode);
	if (deleted)
		handle = vexfs_journal_begin_truncate(inode);
	if (IS_ERR(handle)) {
		/* The inode stays allocated; fsck.vexfs releases it. */
		pr_err("%pg: cannot delete inode %lu (%ld)\n", inode->i_sb->s_bdev,
		       inode->i_ino, PTR_ERR(handle));
		handle = NULL;
		deleted = false;
	}
	if (deleted) {
		inode->i_size = 0;
		vexfs_truncate_blocks(inode, 0);
		vexfs_xattr_drop(inode);
		vexfs_store_inode(inode, true, inode_needs_sync(inode));
	}
	invalidate_inode_buffers(inode);
	vexfs_journal_forget_inode(inode);
	clear_inode(inode);
	vexfs_dir_index_free(inode);
	vexfs_collection_free(inode);
	if (deleted)
		vexfs_free_inode_nr(inode->i_sb, inode->i_ino);
	vexfs_journal_end(handle);
}

/*
 * A new inode for a file about to be linked into dir, not yet logged: for
 * a caller that logs it (mark_inode_dirty()) once it has set the rest, as
 * batch insert does, so a file of a batch is stored once, not twice.
 * Returned locked (I_NEW); the caller links it and calls
 * d_instantiate_new(), or drops its link count and calls
 * discard_new_inode() on failure.
 */
struct inode *vexfs_new_inode_unlogged(struct mnt_idmap *idmap,
				       struct inode *dir, umode_t mode,
				       dev_t rdev)
{
	struct super_block *sb = dir->i_sb;
	struct vexfs_inode_info *vi;
	struct inode *inode;
	u64 ino;
	int err;

	inode = new_inode(sb);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	err = vexfs_alloc_inode_nr(sb, &ino);
	if (err) {
		make_bad_inode(inode);
		iput(inode);
		return ERR_PTR(err);
	}
	vi = VEXFS_I(inode);
	inode_init_owner(idmap, inode, dir, mode);
	inode->i_ino = ino;
	inode->i_blocks = 0;
	inode->i_rdev = rdev;
	inode->i_generation = get_random_u32();
	simple_inode_init_ts(inode);
	vi->xattr_block = 0;
	vi->parent = S_ISDIR(mode) ? dir->i_ino : 0;
	vi->flags = 0;
	vi->aux = 0;
	vi->last_pblk = 0;
	vexfs_extent_root_init(inode);
	vexfs_set_ops(inode);

	if (insert_inode_locked(inode) < 0) {
		vexfs_corrupt(sb, "inode %llu is allocated but in use", ino);
		make_bad_inode(inode);
		iput(inode);
		return ERR_PTR(-EUCLEAN);
	}
	return inode;
}

/* vexfs_new_inode_unlogged(), logged in the running transaction. */
struct inode *vexfs_new_inode(struct mnt_idmap *idmap, struct inode *dir,
			      umode_t mode, dev_t rdev)
{
	struct inode *inode = vexfs_new_inode_unlogged(idmap, dir, mode, rdev);

	if (!IS_ERR(inode))
		mark_inode_dirty(inode);
	return inode;
}

/*
 * Allocation under the caller's handle (write_begin, page_mkwrite); a
 * path that reaches here without one (writeback of a page dirtied some
 * other way) gets its own.
 */
static int vexfs_get_block_alloc(struct inode *inode, sector_t iblock, u32 want,
				 u64 *pblk, u32 *len, bool *new)
{
	handle_t *handle = NULL;
	int err;

	if (VEXFS_SB(inode->i_sb)->journal && !journal_current_handle()) {
		handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_WRITE, 0);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
	}
	err = vexfs_map_alloc(inode, iblock, vexfs_write_want(inode, iblock, want),
			      pblk, len, new);
	if (!err && *new && !vexfs_blocks_are_meta(inode))
		err = vexfs_journal_order(inode, (loff_t)iblock << VEXFS_BLOCK_SHIFT,
					  (loff_t)*len << VEXFS_BLOCK_SHIFT);
	if (!err)
		vexfs_write_mapped(inode, iblock, *len, new);
	return vexfs_journal_finish(handle, err);
}

int vexfs_get_block(struct inode *inode, sector_t iblock,
		    struct buffer_head *bh, int create)
{
	u32 want = bh->b_size >> VEXFS_BLOCK_SHIFT;
	bool new = false;
	u64 pblk;
	u32 len;
	int err;

	if (iblock >= U32_MAX)
		return -EFBIG;
	if (!want)
		want = 1;
	if (create)
		err = vexfs_get_block_alloc(inode, iblock, want, &pblk, &len, &new);
	else
		err = vexfs_map_block(inode, iblock, &pblk, &len);
	if (err)
		return err;
	if (!pblk)
		return 0;
	map_bh(bh, inode->i_sb, pblk);
	bh->b_size = (size_t)min(len, want) << VEXFS_BLOCK_SHIFT;
	if (new)
		set_buffer_new(bh);
	return 0;
}

static int vexfs_read_folio(struct file *file, struct folio *folio)
{
	return mpage_read_folio(folio, vexfs_get_block);
}

static void vexfs_readahead(struct readahead_control *rac)
{
	mpage_readahead(rac, vexfs_get_block);
}

static int vexfs_writepages(struct address_space *mapping,
			    struct writeback_control *wbc)
{
	return mpage_writepages(mapping, wbc, vexfs_get_block);
}

/*
 * A shared writable mapping gets its blocks when the page is first
 * written, under a handle, so writeback never has to allocate.
 */
static vm_fault_t vexfs_page_mkwrite(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct inode *inode = file_inode(file);
	handle_t *handle;
	int retries = 0;
	int err;

	sb_start_pagefault(inode->i_sb);
	file_update_time(file);
	filemap_invalidate_lock_shared(inode->i_mapping);
	do {
		handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_WRITE, 0);
		if (IS_ERR(handle)) {
			err = PTR_ERR(handle);
			break;
		}
		err = vexfs_journal_finish(handle,
				block_page_mkwrite(vmf->vma, vmf, vexfs_get_block));
	} while (err == -ENOSPC && vexfs_journal_retry_alloc(inode->i_sb, &retries));
	filemap_invalidate_unlock_shared(inode->i_mapping);
	sb_end_pagefault(inode->i_sb);
	return vmf_fs_error(err);
}

static const struct vm_operations_struct vexfs_file_vm_ops = {
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= vexfs_page_mkwrite,
};

int vexfs_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	file_accessed(file);
	vma->vm_ops = &vexfs_file_vm_ops;
	return 0;
}

static sector_t vexfs_bmap(struct address_space *mapping, sector_t block)
{
	return generic_block_bmap(mapping, block, vexfs_get_block);
}

const struct address_space_operations vexfs_aops = {
	.dirty_folio		= block_dirty_folio,
	.invalidate_folio	= block_invalidate_folio,
	.read_folio		= vexfs_read_folio,
	.readahead		= vexfs_readahead,
	.writepages		= vexfs_writepages,
	.write_begin		= vexfs_write_begin,
	.write_end		= vexfs_write_end,
	.bmap			= vexfs_bmap,
	.migrate_folio		= buffer_migrate_folio,
	.is_partially_uptodate	= block_is_partially_uptodate,
	.error_remove_folio	= generic_error_remove_folio,
};

/* Under the caller's handle and the mapping's invalidate lock. */
static int vexfs_setsize(struct inode *inode, loff_t size)
{
	int err;

	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	if (IS_APPEND(inode) || IS_IMMUTABLE(inode))
		return -EPERM;
	err = block_truncate_page(inode->i_mapping, size, vexfs_get_block);
	if (err)
		return err;
	truncate_setsize(inode, size);
	err = vexfs_truncate_blocks(inode, DIV_ROUND_UP(size, VEXFS_BLOCK_SIZE));
	inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
	mark_inode_dirty(inode);
	return err;
}

int vexfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	struct inode *owner = NULL;
	bool resize;
	handle_t *handle;
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	if (attr->ia_valid & (ATTR_MODE | ATTR_UID | ATTR_GID))
		owner = vexfs_collection_pin(NULL, inode);
	resize = (attr->ia_valid & ATTR_SIZE) && attr->ia_size != inode->i_size;
	/*
	 * A resize takes the mapping's invalidate lock before its handle, as
	 * a write fault does (vexfs_page_mkwrite()): taken inside the handle,
	 * it would wait for a fault that waits for the commit the handle
	 * holds up.
	 */
	if (resize) {
		inode_dio_wait(inode);
		filemap_invalidate_lock(inode->i_mapping);
	}
	if (attr->ia_valid & ATTR_SIZE)
		handle = vexfs_journal_begin_truncate(inode);
	else
		handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_VECTOR, 0);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto out_unlock;
	}
	if (resize) {
		err = vexfs_setsize(inode, attr->ia_size);
		if (err)
			goto out;
	}
	setattr_copy(idmap, inode, attr);
	mark_inode_dirty(inode);
	if (attr->ia_valid & (ATTR_MODE | ATTR_UID | ATTR_GID))
		vexfs_vector_perm_changed(inode);
out:
	err = vexfs_journal_finish(handle, err);
out_unlock:
	if (resize)
		filemap_invalidate_unlock(inode->i_mapping);
	iput(owner);
	return err;
}
