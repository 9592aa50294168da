// SPDX-License-Identifier: GPL-2.0
/*
 * VexFS: the superblock, mount and unmount, statfs, and the module.
 *
 * Mounting trusts nothing on disk: the superblock's checksum, version,
 * features and geometry are all checked against each other and against
 * the device before anything else is read, and each failure says why in
 * the kernel log.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/fs_context.h>
#include <linux/statfs.h>
#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"
#include "filter.h"

static struct kmem_cache *vexfs_inode_cachep;

static struct inode *vexfs_alloc_inode(struct super_block *sb)
{
	struct vexfs_inode_info *vi;

	vi = alloc_inode_sb(sb, vexfs_inode_cachep, GFP_KERNEL);
	if (!vi)
		return NULL;
	vi->dir_index = NULL;
	vi->coll = NULL;
	vi->coll_failed = 0;
	vi->xattr_block = 0;
	vi->parent = 0;
	vi->last_pblk = 0;
	vi->room_slack = 0;
	vi->leaf_n = 0;
	vi->htree_head = NULL;
	vi->ext_cache[0].len = 0;
	vi->ext_cache[1].len = 0;
	vi->wchunk = NULL;
	vi->wchunk_task = NULL;
	jbd2_journal_init_jbd_inode(&vi->jinode, &vi->vfs_inode);
	return &vi->vfs_inode;
}

static void vexfs_free_inode(struct inode *inode)
{
	kmem_cache_free(vexfs_inode_cachep, VEXFS_I(inode));
}

static void vexfs_inode_init_once(void *obj)
{
	struct vexfs_inode_info *vi = obj;

	mutex_init(&vi->map_lock);
	mutex_init(&vi->dir_lock);
	init_rwsem(&vi->xattr_sem);
	inode_init_once(&vi->vfs_inode);
}

/* Write the superblock: free counts, times and the clean flag. */
static int vexfs_write_super(struct super_block *sb, bool clean, bool wait)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *raw = sbi->raw;
	u16 state = le16_to_cpu(raw->s_state);
	int err = 0;

	lock_buffer(sbi->sbh);
	mutex_lock(&sbi->alloc_lock);
	raw->s_free_blocks = cpu_to_le64(sbi->free_blocks);
	raw->s_free_inodes = cpu_to_le64(sbi->free_inodes);
	mutex_unlock(&sbi->alloc_lock);
	raw->s_write_time = cpu_to_le64(ktime_get_real_seconds());
	state = clean ? state | VEXFS_STATE_CLEAN : state & ~VEXFS_STATE_CLEAN;
	raw->s_state = cpu_to_le16(state);
	raw->s_checksum = cpu_to_le32(vexfs_super_csum(raw));
	unlock_buffer(sbi->sbh);
	mark_buffer_dirty(sbi->sbh);
	if (wait) {
		sync_dirty_buffer(sbi->sbh);
		if (buffer_write_io_error(sbi->sbh))
			err = -EIO;
	}
	return err;
}

/*
 * Set a feature before the first structure that needs it is written: the
 * superblock is on disk before the journal can commit that structure, so
 * no module that lacks the feature mounts it (incompat) or writes to it
 * (ro_compat).
 */
static int vexfs_super_add_feature(struct super_block *sb, __le64 *field,
				   u64 *on_disk, u64 feature)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	int err = 0;

	if (smp_load_acquire(on_disk) & feature)
		return 0;
	/*
	 * Held across the write: no one goes on to write a structure that
	 * needs the feature until the superblock with it is on disk.
	 */
	mutex_lock(&sbi->feature_lock);
	if (le64_to_cpu(*field) & feature)
		goto out;
	lock_buffer(sbi->sbh);
	*field = cpu_to_le64(le64_to_cpu(*field) | feature);
	unlock_buffer(sbi->sbh);
	err = vexfs_write_super(sb, false, true);
	if (err) {
		lock_buffer(sbi->sbh);
		*field = cpu_to_le64(le64_to_cpu(*field) & ~feature);
		unlock_buffer(sbi->sbh);
		pr_err("%pg: cannot write the superblock's features (%d)\n",
		       sb->s_bdev, err);
		goto out;
	}
	smp_store_release(on_disk, *on_disk | feature);
out:
	mutex_unlock(&sbi->feature_lock);
	return err;
}

int vexfs_super_add_incompat(struct super_block *sb, u64 feature)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	return vexfs_super_add_feature(sb, &sbi->raw->s_feature_incompat,
				       &sbi->incompat_on_disk, feature);
}

/* The same for a feature that older modules may still read, not write. */
int vexfs_super_add_ro_compat(struct super_block *sb, u64 feature)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	return vexfs_super_add_feature(sb, &sbi->raw->s_feature_ro_compat,
				       &sbi->ro_compat_on_disk, feature);
}

static int vexfs_sync_fs(struct super_block *sb, int wait)
{
	int err;

	if (sb_rdonly(sb))
		return 0;
	if (!wait) {
		vexfs_journal_kick(sb);
		return vexfs_write_super(sb, false, false);
	}
	err = VEXFS_SB(sb)->journal ? vexfs_journal_commit(sb) : 0;
	return err ? err : vexfs_write_super(sb, false, true);
}

static void vexfs_put_super(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	/* Checkpoints and empties the journal before the clean mark. */
	vexfs_journal_release(sb);
	if (!sb_rdonly(sb))
		vexfs_write_super(sb, true, true);
	brelse(sbi->sbh);
	sb->s_fs_info = NULL;
	kfree(sbi);
}

static int vexfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	buf->f_type = VEXFS_MAGIC;
	buf->f_bsize = VEXFS_BLOCK_SIZE;
	buf->f_frsize = VEXFS_BLOCK_SIZE;
	buf->f_namelen = VEXFS_NAME_LEN;
	buf->f_blocks = sbi->blocks_count - sbi->data_start;
	buf->f_files = sbi->inodes_count - VEXFS_ROOT_INO;
	mutex_lock(&sbi->alloc_lock);
	buf->f_bfree = sbi->free_blocks;
	buf->f_ffree = sbi->free_inodes;
	mutex_unlock(&sbi->alloc_lock);
	buf->f_bavail = buf->f_bfree;
	buf->f_fsid = uuid_to_fsid(sbi->raw->s_uuid);
	return 0;
}

static const struct super_operations vexfs_super_ops = {
	.alloc_inode	= vexfs_alloc_inode,
	.free_inode	= vexfs_free_inode,
	.write_inode	= vexfs_write_inode,
	.dirty_inode	= vexfs_dirty_inode,
	.evict_inode	= vexfs_evict_inode,
	.put_super	= vexfs_put_super,
	.sync_fs	= vexfs_sync_fs,
	.statfs		= vexfs_statfs,
};

/* A region [start, start + len) that must lie within [lo, hi). */
static bool vexfs_region_ok(u64 start, u64 len, u64 lo, u64 hi)
{
	return start >= lo && start <= hi && len <= hi - start;
}

static int vexfs_check_geometry(struct super_block *sb,
				struct vexfs_sb_info *sbi)
{
	u64 dev_blocks = bdev_nr_bytes(sb->s_bdev) >> VEXFS_BLOCK_SHIFT;

	if (sbi->blocks_count > dev_blocks) {
		pr_err("%pg: filesystem has %llu blocks but the device only %llu\n",
		       sb->s_bdev, sbi->blocks_count, dev_blocks);
		return -EINVAL;
	}
	if (sbi->inodes_count < VEXFS_ROOT_INO + 1 || sbi->inodes_count > U32_MAX ||
	    !vexfs_region_ok(sbi->inode_bitmap_start, sbi->inode_bitmap_blocks,
			     1, sbi->block_bitmap_start) ||
	    !vexfs_region_ok(sbi->block_bitmap_start, sbi->block_bitmap_blocks,
			     sbi->inode_bitmap_start + sbi->inode_bitmap_blocks,
			     sbi->inode_table_start) ||
	    !vexfs_region_ok(sbi->inode_table_start, sbi->inode_table_blocks,
			     sbi->block_bitmap_start + sbi->block_bitmap_blocks,
			     sbi->data_start) ||
	    sbi->data_start >= sbi->blocks_count ||
	    sbi->inode_bitmap_blocks * VEXFS_BITS_PER_BITMAP < sbi->inodes_count ||
	    sbi->block_bitmap_blocks * VEXFS_BITS_PER_BITMAP < sbi->blocks_count ||
	    sbi->inode_table_blocks * VEXFS_INODES_PER_BLOCK < sbi->inodes_count) {
		pr_err("%pg: superblock geometry is inconsistent\n", sb->s_bdev);
		return -EUCLEAN;
	}
	return 0;
}

static void vexfs_load_geometry(struct vexfs_sb_info *sbi,
				const struct vexfs_super_block *raw)
{
	sbi->blocks_count = le64_to_cpu(raw->s_blocks_count);
	sbi->inodes_count = le64_to_cpu(raw->s_inodes_count);
	sbi->inode_bitmap_start = le64_to_cpu(raw->s_inode_bitmap_start);
	sbi->inode_bitmap_blocks = le64_to_cpu(raw->s_inode_bitmap_blocks);
	sbi->block_bitmap_start = le64_to_cpu(raw->s_block_bitmap_start);
	sbi->block_bitmap_blocks = le64_to_cpu(raw->s_block_bitmap_blocks);
	sbi->inode_table_start = le64_to_cpu(raw->s_inode_table_start);
	sbi->inode_table_blocks = le64_to_cpu(raw->s_inode_table_blocks);
	sbi->data_start = le64_to_cpu(raw->s_data_start);
}

static int vexfs_check_super(struct super_block *sb,
			     const struct vexfs_super_block *raw, bool silent)
{
	u64 incompat = le64_to_cpu(raw->s_feature_incompat);
	u64 ro_compat = le64_to_cpu(raw->s_feature_ro_compat);

	if (le32_to_cpu(raw->s_magic) != VEXFS_MAGIC) {
		if (!silent)
			pr_err("%pg: no VexFS superblock (magic %#x)\n",
			       sb->s_bdev, le32_to_cpu(raw->s_magic));
		return -EINVAL;
	}
	if (le32_to_cpu(raw->s_checksum) != vexfs_super_csum(raw)) {
		pr_err("%pg: superblock checksum mismatch, run fsck.vexfs\n",
		       sb->s_bdev);
		return -EUCLEAN;
	}
	if (le32_to_cpu(raw->s_format_version) != VEXFS_FORMAT_VERSION ||
	    le32_to_cpu(raw->s_block_shift) != VEXFS_BLOCK_SHIFT) {
		pr_err("%pg: unsupported format version %u or block shift %u\n",
		       sb->s_bdev, le32_to_cpu(raw->s_format_version),
		       le32_to_cpu(raw->s_block_shift));
		return -EINVAL;
	}
	if (incompat & ~VEXFS_FEATURE_INCOMPAT_SUPP) {
		pr_err("%pg: unknown incompatible features %#llx, refusing to mount\n",
		       sb->s_bdev, incompat & ~VEXFS_FEATURE_INCOMPAT_SUPP);
		return -EINVAL;
	}
	if (!(incompat & VEXFS_FEATURE_INCOMPAT_EXTENTS)) {
		pr_err("%pg: extent feature missing\n", sb->s_bdev);
		return -EINVAL;
	}
	if ((ro_compat & ~VEXFS_FEATURE_RO_COMPAT_SUPP) && !sb_rdonly(sb)) {
		pr_err("%pg: unknown read-only features %#llx, mount read-only\n",
		       sb->s_bdev, ro_compat & ~VEXFS_FEATURE_RO_COMPAT_SUPP);
		return -EROFS;
	}
	if (le64_to_cpu(raw->s_root_ino) != VEXFS_ROOT_INO) {
		pr_err("%pg: root inode is %llu, not %u\n", sb->s_bdev,
		       le64_to_cpu(raw->s_root_ino), VEXFS_ROOT_INO);
		return -EUCLEAN;
	}
	return 0;
}

static int vexfs_load_root(struct super_block *sb)
{
	struct inode *root = vexfs_iget(sb, VEXFS_ROOT_INO);

	if (IS_ERR(root)) {
		pr_err("%pg: cannot read the root directory (%ld)\n",
		       sb->s_bdev, PTR_ERR(root));
		return PTR_ERR(root);
	}
	if (!S_ISDIR(root->i_mode)) {
		pr_err("%pg: root inode is not a directory\n", sb->s_bdev);
		iput(root);
		return -EUCLEAN;
	}
	sb->s_root = d_make_root(root);
	return sb->s_root ? 0 : -ENOMEM;
}

static void vexfs_mark_mounted(struct super_block *sb)
{
	struct vexfs_super_block *raw = VEXFS_SB(sb)->raw;

	if (VEXFS_SB(sb)->recovered)
		pr_info("%pg: recovered from the journal\n", sb->s_bdev);
	else if (!(le16_to_cpu(raw->s_state) & VEXFS_STATE_CLEAN) &&
		 !VEXFS_SB(sb)->journal)
		pr_warn("%pg: was not cleanly unmounted, run fsck.vexfs\n",
			sb->s_bdev);
	le32_add_cpu(&raw->s_mount_count, 1);
	raw->s_mount_time = cpu_to_le64(ktime_get_real_seconds());
	vexfs_write_super(sb, false, true);
}

static int vexfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	bool silent = fc->sb_flags & SB_SILENT;
	struct vexfs_sb_info *sbi;
	int err;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	mutex_init(&sbi->alloc_lock);
	mutex_init(&sbi->feature_lock);
	sb->s_fs_info = sbi;

	err = -EINVAL;
	if (!sb_set_blocksize(sb, VEXFS_BLOCK_SIZE)) {
		pr_err("%pg: device cannot use %u-byte blocks\n", sb->s_bdev,
		       VEXFS_BLOCK_SIZE);
		goto out_free;
	}
	err = -EIO;
	sbi->sbh = sb_bread(sb, VEXFS_SUPER_BLOCKNR);
	if (!sbi->sbh) {
		pr_err("%pg: cannot read the superblock\n", sb->s_bdev);
		goto out_free;
	}
	sbi->raw = (struct vexfs_super_block *)sbi->sbh->b_data;
	sbi->incompat_on_disk = le64_to_cpu(sbi->raw->s_feature_incompat);
	sbi->ro_compat_on_disk = le64_to_cpu(sbi->raw->s_feature_ro_compat);
	err = vexfs_check_super(sb, sbi->raw, silent);
	if (err)
		goto out_release;
	vexfs_load_geometry(sbi, sbi->raw);
	err = vexfs_check_geometry(sb, sbi);
	if (err)
		goto out_release;

	sb->s_magic = VEXFS_MAGIC;
	sb->s_op = &vexfs_super_ops;
	sb->s_xattr = vexfs_xattr_handlers;
	sb->s_maxbytes = (loff_t)U32_MAX << VEXFS_BLOCK_SHIFT;
	sb->s_max_links = VEXFS_LINK_MAX;
	sb->s_time_gran = 1;
	sb->s_time_min = S64_MIN;
	sb->s_time_max = S64_MAX;
	super_set_uuid(sb, sbi->raw->s_uuid, sizeof(sbi->raw->s_uuid));

	err = vexfs_journal_load(sb);
	if (err)
		goto out_release;
	err = vexfs_count_free(sb);
	if (err) {
		pr_err("%pg: cannot read the allocation bitmaps\n", sb->s_bdev);
		goto out_journal;
	}
	sbi->inode_goal = VEXFS_ROOT_INO + 1;
	err = vexfs_load_root(sb);
	if (err)
		goto out_journal;
	sbi->orphans_pending = sbi->recovered ||
			       !(le16_to_cpu(sbi->raw->s_state) & VEXFS_STATE_CLEAN);
	if (!sb_rdonly(sb)) {
		vexfs_release_orphans(sb);
		vexfs_mark_mounted(sb);
	}
	return 0;

out_journal:
	vexfs_journal_release(sb);
out_release:
	brelse(sbi->sbh);
out_free:
	sb->s_fs_info = NULL;
	kfree(sbi);
	return err;
}

static int vexfs_get_tree(struct fs_context *fc)
{
	return get_tree_bdev(fc, vexfs_fill_super);
}

static int vexfs_reconfigure(struct fs_context *fc)
{
	struct super_block *sb = fc->root->d_sb;
	bool want_ro = fc->sb_flags & SB_RDONLY;
	u64 ro_compat;

	sync_filesystem(sb);
	if (want_ro && !sb_rdonly(sb)) {
		int err = vexfs_journal_flush(sb);

		return err ? err : vexfs_write_super(sb, true, true);
	}
	if (!want_ro && sb_rdonly(sb)) {
		ro_compat = le64_to_cpu(VEXFS_SB(sb)->raw->s_feature_ro_compat);
		if (ro_compat & ~VEXFS_FEATURE_RO_COMPAT_SUPP) {
			pr_err("%pg: unknown read-only features %#llx\n",
			       sb->s_bdev, ro_compat);
			return -EROFS;
		}
		/*
		 * A first mount read-only after a crash replays the journal
		 * but cannot delete orphans: now it can, as ext4 does.
		 */
		vexfs_release_orphans(sb);
		vexfs_mark_mounted(sb);
	}
	return 0;
}

static const struct fs_context_operations vexfs_context_ops = {
	.get_tree	= vexfs_get_tree,
	.reconfigure	= vexfs_reconfigure,
};

static int vexfs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &vexfs_context_ops;
	return 0;
}

static struct file_system_type vexfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "vexfs",
	.init_fs_context	= vexfs_init_fs_context,
	.kill_sb		= kill_block_super,
	.fs_flags		= FS_REQUIRES_DEV,
};
MODULE_ALIAS_FS("vexfs");

static int __init vexfs_init(void)
{
	int err;

	vexfs_check_layout();
	vexfs_inode_cachep = kmem_cache_create("vexfs_inode_cache",
					       sizeof(struct vexfs_inode_info), 0,
					       SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT,
					       vexfs_inode_init_once);
	if (!vexfs_inode_cachep)
		return -ENOMEM;
	vexfs_filter_init();	/* without BPF filters the fs still loads */
	err = vexfs_index_shrinker_init();
	if (err)
		goto out_cache;
	err = register_filesystem(&vexfs_fs_type);
	if (err)
		goto out_shrinker;
	return 0;
out_shrinker:
	vexfs_index_shrinker_exit();
out_cache:
	kmem_cache_destroy(vexfs_inode_cachep);
	return err;
}

static void __exit vexfs_exit(void)
{
	unregister_filesystem(&vexfs_fs_type);
	vexfs_index_shrinker_exit();
	/* Inodes are freed after an RCU grace period; wait for them. */
	rcu_barrier();
	kmem_cache_destroy(vexfs_inode_cachep);
}

module_init(vexfs_init);
module_exit(vexfs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VexFS: a filesystem whose files carry vector embeddings");
MODULE_SOFTDEP("pre: libcrc32c");
