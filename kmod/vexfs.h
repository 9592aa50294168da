/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VexFS: in-memory structures shared by the module's files.
 */
#ifndef _VEXFS_H
#define _VEXFS_H

#include <linux/fs.h>
#include <linux/buffer_head.h>
#include <linux/jbd2.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <uapi/vexfs_fs.h>

struct vexfs_dir_index;
struct vexfs_collection;
struct vexfs_write_chunk;

/* Geometry and allocator state of a mounted filesystem. */
struct vexfs_sb_info {
	struct buffer_head *sbh;		/* block 0, kept for the mount's life */
	struct vexfs_super_block *raw;		/* points into sbh */

	u64 blocks_count;
	u64 inodes_count;
	u64 inode_bitmap_start;
	u64 inode_bitmap_blocks;
	u64 block_bitmap_start;
	u64 block_bitmap_blocks;
	u64 inode_table_start;
	u64 inode_table_blocks;
	u64 data_start;

	struct mutex alloc_lock;		/* bitmaps, free counts, goals */
	struct mutex feature_lock;		/* a feature being set */
	u64 incompat_on_disk;			/* features the disk has */
	u64 ro_compat_on_disk;
	u64 free_blocks;
	bool blocks_held;	/* an allocation failed on uncommitted frees */
	u64 free_inodes;
	u64 inode_goal;				/* where the next inode search starts */
	u64 block_goal;				/* after the last block handed out */
	journal_t *journal;			/* NULL: no journal on this image */
	bool recovered;				/* the journal was replayed at mount */
	bool orphans_pending;			/* not unmounted cleanly: see orphan.c */
};

/* A VexFS inode in memory. */
struct vexfs_inode_info {
	struct inode vfs_inode;

	/*
	 * map_lock serialises changes to the extent tree (the root below and
	 * the tree blocks) against each other and against lookups.
	 */
	struct mutex map_lock;
	u8 extent_root[VEXFS_EXTENT_ROOT_SIZE];
	/*
	 * The extent last looked up below VEXFS_HTREE_LBLK, and from it on
	 * (a directory's hash tree): lookups alternate between the two.
	 */
	struct vexfs_extent_cache {
		u32 lblk, len;			/* len 0: none */
		u64 pblk;
	} ext_cache[2];

	u64 xattr_block;
	u64 parent;				/* see i_parent on disk */
	u16 flags;				/* VEXFS_INODE_* */
	u32 aux;				/* see i_aux on disk */
	struct rw_semaphore xattr_sem;		/* the xattr block */
	u64 last_pblk;				/* allocation goal for the next block */
	struct vexfs_write_chunk *wchunk;	/* a write in progress: write.c */
	struct task_struct *wchunk_task;	/* its writer */

	/*
	 * Directories, under dir_lock: a linear one's name index, built on
	 * first use; a hashed one's block that took the last entry and the
	 * record the next goes into (slack 0: not known).
	 */
	struct mutex dir_lock;
	struct vexfs_dir_index *dir_index;
	u32 room_lblk;
	u16 room_off, room_slack;
	/* a hashed one's head, held, and leaf last reached with its keys */
	struct buffer_head *htree_head;
	u32 leaf_n, leaf_low;			/* leaf_n 0: none */
	u64 leaf_bound;
	struct vexfs_collection *coll;		/* collections: loaded table */
	int coll_failed;			/* error of the last load, or 0 */
	struct jbd2_inode jinode;		/* ordered data of this inode */
};

static inline struct vexfs_sb_info *VEXFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct vexfs_inode_info *VEXFS_I(struct inode *inode)
{
	return container_of(inode, struct vexfs_inode_info, vfs_inode);
}

/*
 * Memory a caller sizes (search scratch, graphs, batches, the vector
 * table): charged to the caller's memory cgroup, and failing rather than
 * waking the OOM killer, which an unprivileged caller must not be able to
 * do. The _NOFS form is for allocations inside a journal handle.
 */
#define VEXFS_GFP_USER_SIZED	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
#define VEXFS_GFP_NOFS_SIZED	(GFP_NOFS | __GFP_ACCOUNT | __GFP_NOWARN)

/* super.c */
int vexfs_super_add_incompat(struct super_block *sb, u64 feature);
int vexfs_super_add_ro_compat(struct super_block *sb, u64 feature);

/*
 * Buffer state past jbd2's own private bits: a metadata block whose tail
 * (magic, checksum) was checked since it was read, and one whose contents
 * a reader checked as well (a hash tree node's order), so that a block
 * read many times is checked once.
 */
enum vexfs_bh_state_bits {
	BH_Vexfs_Verified = BH_JBDPrivateStart,
	BH_Vexfs_Checked,
};

BUFFER_FNS(Vexfs_Verified, vexfs_verified)
BUFFER_FNS(Vexfs_Checked, vexfs_checked)

/* Report an inconsistency found on disk; the caller returns -EUCLEAN. */
#define vexfs_corrupt(sb, fmt, ...) \
	pr_err_ratelimited("%pg: corrupted: " fmt "\n", (sb)->s_bdev, ##__VA_ARGS__)

/* csum.c */
u32 vexfs_super_csum(const struct vexfs_super_block *raw);
u32 vexfs_inode_csum(const struct vexfs_inode *raw, u64 ino);
void vexfs_block_csum_set(void *block, u32 magic, u64 blocknr);
bool vexfs_block_csum_ok(const void *block, u32 magic, u64 blocknr);
struct buffer_head *vexfs_bread_meta(struct super_block *sb, u64 blocknr,
				     u32 magic);
int __must_check vexfs_dirty_meta(struct super_block *sb,
				  struct buffer_head *bh, u32 magic);
struct buffer_head *vexfs_new_meta(struct super_block *sb, u64 blocknr);

/* journal.c: credits are metadata blocks an operation may dirty. */
#define VEXFS_CREDITS_INODE	4	/* an inode and its table block */
#define VEXFS_CREDITS_ALLOC	16	/* a bitmap block, an extent path */
#define VEXFS_CREDITS_WRITE	(VEXFS_CREDITS_ALLOC + VEXFS_CREDITS_INODE)
#define VEXFS_CREDITS_VECTOR	(2 * VEXFS_CREDITS_ALLOC + 8)
#define VEXFS_CREDITS_DIROP	(VEXFS_CREDITS_ALLOC + VEXFS_CREDITS_VECTOR + 16)
#define VEXFS_REVOKES_DIROP	8
/* Rewriting or freeing a file's xattr block (its kept vector, say). */
#define VEXFS_CREDITS_XATTR	VEXFS_CREDITS_WRITE
#define VEXFS_REVOKES_XATTR	2
int vexfs_journal_load(struct super_block *sb);
void vexfs_journal_release(struct super_block *sb);
handle_t *vexfs_journal_begin(struct super_block *sb, int credits, int revokes);
int vexfs_journal_reserve(handle_t *handle, int credits);
handle_t *vexfs_journal_begin_whole(struct super_block *sb, u64 need,
				    u64 worst, int revokes);
int vexfs_journal_end(handle_t *handle);
int vexfs_journal_finish(handle_t *handle, int err);
bool vexfs_journal_in_handle(struct super_block *sb);
int vexfs_journal_access(struct super_block *sb, struct buffer_head *bh);
int vexfs_journal_create(struct super_block *sb, struct buffer_head *bh);
int vexfs_journal_undo_access(struct super_block *sb, struct buffer_head *bh);
enum vexfs_access { VEXFS_ACCESS_WRITE, VEXFS_ACCESS_CREATE, VEXFS_ACCESS_UNDO };
int vexfs_take_block(handle_t *handle, struct buffer_head *bh,
		     enum vexfs_access how);
int vexfs_log_block(handle_t *handle, struct buffer_head *bh);
void vexfs_journal_abort(struct super_block *sb, int err, const char *what);
int __must_check vexfs_journal_dirty(struct super_block *sb,
				     struct buffer_head *bh);
int __must_check vexfs_journal_dirty_sealed(struct super_block *sb,
					    struct buffer_head *bh, u32 magic);
int vexfs_journal_revoke(struct super_block *sb, u64 start, u32 count);
int vexfs_journal_order(struct inode *inode, loff_t pos, loff_t len);
void vexfs_journal_forget_inode(struct inode *inode);
int vexfs_journal_commit(struct super_block *sb);
bool vexfs_journal_retry_alloc(struct super_block *sb, int *retries);
void vexfs_journal_kick(struct super_block *sb);
int vexfs_journal_flush(struct super_block *sb);
handle_t *vexfs_journal_begin_truncate(struct inode *inode);

/* orphan.c */
void vexfs_release_orphans(struct super_block *sb);

/* alloc.c */
int vexfs_count_free(struct super_block *sb);
int vexfs_alloc_inode_nr(struct super_block *sb, u64 *ino);
bool vexfs_inode_block_unused(struct super_block *sb, u64 ino,
			      unsigned long mine);
void vexfs_free_inode_nr(struct super_block *sb, u64 ino);
int vexfs_alloc_blocks(struct inode *inode, u64 goal, u32 want, u64 *start,
		       u32 *got);
void vexfs_free_blocks(struct inode *inode, u64 start, u32 count);
bool vexfs_blocks_are_meta(struct inode *inode);
void __vexfs_free_blocks(struct inode *inode, u64 start, u32 count, bool meta);
bool vexfs_data_block_valid(struct super_block *sb, u64 start, u64 count);

/* extent.c */
void vexfs_extent_root_init(struct inode *inode);
int vexfs_extent_root_check(struct inode *inode);
int vexfs_map_block(struct inode *inode, u32 lblk, u64 *pblk, u32 *len);
int vexfs_map_alloc(struct inode *inode, u32 lblk, u32 want, u64 *pblk,
		    u32 *len, bool *new);
int vexfs_truncate_blocks(struct inode *inode, u32 from_lblk);

/* inode.c */
extern const struct address_space_operations vexfs_aops;
#define VEXFS_IGET_ORPHAN	0x1	/* no link left is expected: see orphan.c */
#define VEXFS_IGET_STALE	0x2	/* freed since the number was read: -ESTALE */
void vexfs_set_hidden_lock_class(struct inode *inode);
struct inode *vexfs_iget(struct super_block *sb, u64 ino);
struct inode *vexfs_iget_how(struct super_block *sb, u64 ino, unsigned int how);
struct inode *vexfs_new_inode(struct mnt_idmap *idmap, struct inode *dir,
			      umode_t mode, dev_t rdev);
struct inode *vexfs_new_inode_unlogged(struct mnt_idmap *idmap,
				       struct inode *dir, umode_t mode,
				       dev_t rdev);
int vexfs_write_inode(struct inode *inode, struct writeback_control *wbc);
int vexfs_log_new_inodes(struct super_block *sb, handle_t *handle,
			 struct inode **inodes, u32 n);
void vexfs_dirty_inode(struct inode *inode, int flags);
int vexfs_file_mmap(struct file *file, struct vm_area_struct *vma);
void vexfs_evict_inode(struct inode *inode);
int vexfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct iattr *attr);
int vexfs_get_block(struct inode *inode, sector_t iblock,
		    struct buffer_head *bh, int create);

/* file.c */
int vexfs_fsync(struct file *file, loff_t start, loff_t end, int datasync);
extern const struct file_operations vexfs_file_ops;
extern const struct inode_operations vexfs_file_iops;
extern const struct inode_operations vexfs_symlink_iops;
extern const struct inode_operations vexfs_special_iops;

/* write.c */
ssize_t vexfs_file_write_iter(struct kiocb *iocb, struct iov_iter *from);
int vexfs_write_begin(struct file *file, struct address_space *mapping,
		      loff_t pos, unsigned int len, struct folio **foliop,
		      void **fsdata);
int vexfs_write_end(struct file *file, struct address_space *mapping,
		    loff_t pos, unsigned int len, unsigned int copied,
		    struct folio *folio, void *fsdata);
u32 vexfs_write_want(struct inode *inode, u32 lblk, u32 want);
void vexfs_write_mapped(struct inode *inode, u32 lblk, u32 len, bool *new);

/* dir.c */
extern const struct file_operations vexfs_dir_ops;
int vexfs_find_entry(struct inode *dir, const struct qstr *name, u64 *ino);
int vexfs_add_entry(struct inode *dir, const struct qstr *name,
		    struct inode *inode);
int vexfs_dir_insert(struct inode *dir, const struct qstr *name,
		     struct inode *inode);
void vexfs_dir_touch(struct inode *dir);
int vexfs_delete_entry(struct inode *dir, const struct qstr *name);
int vexfs_set_entry(struct inode *dir, const struct qstr *name,
		    struct inode *inode);
int vexfs_dir_is_empty(struct inode *dir);
/* A collection's files are named by their ids in decimal: 20 digits at most. */
#define VEXFS_NAME_MAX_DIGITS	20
u64 vexfs_dir_insert_credits(struct inode *dir, const u64 *ids, u32 count);
void vexfs_dir_index_free(struct inode *dir);

/* namei.c */
extern const struct inode_operations vexfs_dir_iops;

/* ioctl.c */
long vexfs_ioctl(struct file *filp, unsigned int cmd, unsigned long uarg);
int vexfs_copy_arg_since(void *arg, size_t ksize, size_t ver0, u32 *usize,
			 unsigned int cmd, unsigned long uarg);
int vexfs_copy_arg(void *arg, size_t ksize, unsigned int cmd,
		   unsigned long uarg);
int vexfs_copy_arg_out(unsigned long uarg, const void *arg, size_t ksize);
bool vexfs_zeroed(const void *p, size_t len);

/* vxattr.c */
extern const struct xattr_handler vexfs_vector_xattr_handler;
extern const struct xattr_handler vexfs_meta_xattr_handler;

/* xattr.c */
extern const struct xattr_handler * const vexfs_xattr_handlers[];
int vexfs_xattr_read_value(struct inode *inode, int index, const char *name,
			   void *buffer, size_t size);
int vexfs_xattr_write_value(struct inode *inode, int index, const char *name,
			    const void *value, size_t size, int flags);
ssize_t vexfs_listxattr(struct dentry *dentry, char *buffer, size_t size);
void vexfs_xattr_drop(struct inode *inode);

#endif /* _VEXFS_H */
