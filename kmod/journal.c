// SPDX-License-Identifier: GPL-2.0
/*
 * The metadata journal: the kernel's jbd2 in ordered mode, in the area
 * mkfs reserves after the superblock (VEXFS_FEATURE_COMPAT_JOURNAL).
 *
 * Every operation that changes metadata runs inside a handle started at
 * its entry point, before it takes any VexFS lock: starting a handle can
 * wait for a commit, and a commit waits for every open handle to stop.
 * Inner code (mark_inode_dirty, table writes, allocation) only nests into
 * the caller's handle, which never waits.
 *
 * Metadata blocks are journalled whole: bitmaps, extent nodes, directory
 * and xattr blocks, inode table blocks and vector table blocks. File data
 * is not, but a commit writes the data of newly allocated blocks first,
 * so a file never shows stale blocks after a crash. Blocks that held
 * metadata are revoked when freed, so a replay never writes an old copy
 * over their next use.
 *
 * An image without the feature (below 128 MiB mkfs makes none) runs
 * unjournalled: handles are NULL and buffers are simply marked dirty.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/error-injection.h>
#include <linux/jbd2.h>
#include <linux/writeback.h>
#include "vexfs.h"

static journal_t *vexfs_journal(struct super_block *sb)
{
	return VEXFS_SB(sb)->journal;
}

/* Ordered mode: write a file's newly allocated data before the commit. */
static int vexfs_submit_inode_data(struct jbd2_inode *jinode)
{
	struct writeback_control wbc = {
		.sync_mode = WB_SYNC_ALL,
		.nr_to_write = LONG_MAX,
		.range_start = jinode->i_dirty_start,
		.range_end = jinode->i_dirty_end,
	};

	return filemap_fdatawrite_wbc(jinode->i_vfs_inode->i_mapping, &wbc);
}

/*
 * jbd2 maps log blocks 1:1 onto a journal device; ours sits inside the
 * filesystem's device after the superblock, and its superblock counts
 * from the start of the area, as the kernel's own inode journals do.
 */
static int vexfs_journal_bmap(journal_t *journal, sector_t *block)
{
	*block += journal->j_blk_offset;
	return 0;
}

static bool vexfs_journal_needs_recovery(journal_t *journal)
{
	return journal->j_superblock->s_start != 0;
}

/*
 * A journal aborted in an earlier mount keeps the error in its superblock,
 * and jbd2 refuses every handle while it is there: the filesystem would
 * stay unwritable on every mount to come. What the aborted transaction
 * held never committed and the replay left the last committed state, so
 * say so and clear the error, as ext4 does (ext4_clear_journal_err()); on
 * a read-only device, in memory only.
 */
static void vexfs_journal_clear_error(struct super_block *sb,
				      journal_t *journal)
{
	int err = jbd2_journal_errno(journal);

	if (!err)
		return;
	pr_warn("%pg: the journal was aborted in an earlier mount (%d): what it had not committed was lost\n",
		sb->s_bdev, err);
	jbd2_journal_clear_err(journal);
	if (!bdev_read_only(sb->s_bdev))
		jbd2_journal_update_sb_errno(journal);
}

/*
 * Open the journal and replay it. Called at mount before anything else
 * reads metadata, so every later read sees the replayed blocks.
 */
int vexfs_journal_load(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *raw = sbi->raw;
	u64 start = le64_to_cpu(raw->s_journal_start);
	u64 len = le64_to_cpu(raw->s_journal_blocks);
	journal_t *journal;
	int err;

	if (!(le64_to_cpu(raw->s_feature_compat) & VEXFS_FEATURE_COMPAT_JOURNAL))
		return 0;
	if (start != VEXFS_SUPER_BLOCKNR + 1 || len < JBD2_MIN_JOURNAL_BLOCKS ||
	    len > INT_MAX || start + len > sbi->inode_bitmap_start) {
		pr_err("%pg: journal area %llu+%llu is invalid\n", sb->s_bdev,
		       start, len);
		return -EUCLEAN;
	}
	journal = jbd2_journal_init_dev(sb->s_bdev, sb->s_bdev, start, len,
					VEXFS_BLOCK_SIZE);
	if (IS_ERR(journal)) {
		pr_err("%pg: cannot open the journal (%ld)\n", sb->s_bdev,
		       PTR_ERR(journal));
		return PTR_ERR(journal);
	}
	journal->j_private = sb;
	journal->j_bmap = vexfs_journal_bmap;
	journal->j_submit_inode_data_buffers = vexfs_submit_inode_data;
	journal->j_finish_inode_data_buffers =
		jbd2_journal_finish_inode_data_buffers;

	if (vexfs_journal_needs_recovery(journal)) {
		if (bdev_read_only(sb->s_bdev)) {
			pr_err("%pg: journal needs recovery but the device is read-only\n",
			       sb->s_bdev);
			jbd2_journal_destroy(journal);
			return -EROFS;
		}
		pr_info("%pg: replaying the journal\n", sb->s_bdev);
		sbi->recovered = true;
	}
	err = jbd2_journal_load(journal);
	if (err) {
		pr_err("%pg: cannot load the journal (%d)\n", sb->s_bdev, err);
		jbd2_journal_destroy(journal);
		return err;
	}
	vexfs_journal_clear_error(sb, journal);
	sbi->journal = journal;
	pr_info("%pg: %llu-block journal, ordered data\n", sb->s_bdev, len);
	return 0;
}

/* Commit what is left and close the journal (unmount, failed mount). */
void vexfs_journal_release(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	if (!sbi->journal)
		return;
	if (jbd2_journal_destroy(sbi->journal) < 0)
		pr_err("%pg: the journal was aborted\n", sb->s_bdev);
	sbi->journal = NULL;
}

/*
 * Start a handle for an operation that dirties up to @credits metadata
 * blocks and frees up to @revokes blocks that held metadata. Nests into
 * the caller's handle when there is one. NULL without a journal.
 */
handle_t *vexfs_journal_begin(struct super_block *sb, int credits, int revokes)
{
	journal_t *journal = vexfs_journal(sb);

	if (!journal)
		return NULL;
	/* Never ask for more than a transaction can hold: jbd2 warns. */
	credits = min(credits, journal->j_max_transaction_buffers / 4);
	revokes = min(revokes, journal->j_max_transaction_buffers / 4 *
			       journal->j_revoke_records_per_block);
	return jbd2__journal_start(journal, credits, 0, revokes, GFP_NOFS, 0, 0);
}

/*
 * A handle for an operation that must be one transaction however long it
 * runs (batch insert). @need is what it is expected to dirty, @worst what
 * it could: more than half of what a transaction may hold expected is
 * refused with -E2BIG before anything is done. The handle gets its worst
 * case now (at most that half), while no lock is held, since growing it
 * later fails whenever other handles hold the rest of the transaction or
 * a commit is pending (another writer's fsync).
 */
handle_t *vexfs_journal_begin_whole(struct super_block *sb, u64 need,
				    u64 worst, int revokes)
{
	journal_t *journal = vexfs_journal(sb);
	u64 half;

	if (!journal)
		return NULL;
	half = journal->j_max_transaction_buffers / 2;
	if (need > half)
		return ERR_PTR(-E2BIG);
	return jbd2__journal_start(journal, min(max(need, worst), half), 0,
				   revokes, GFP_NOFS, 0, 0);
}

/*
 * A handle for freeing all of an inode's blocks past some point: every
 * bitmap block may change, and at most one tree block per 64 blocks
 * (extents are at least that dense in practice, and leaves hold 254).
 * Directory and table blocks are revoked one by one.
 */
handle_t *vexfs_journal_begin_truncate(struct inode *inode)
{
	u64 blocks = inode->i_blocks >> (VEXFS_BLOCK_SHIFT - 9);
	u64 credits = VEXFS_CREDITS_DIROP + VEXFS_SB(inode->i_sb)->block_bitmap_blocks +
		      blocks / 64;
	u64 revokes = blocks / 64 + VEXFS_EXTENT_MAX_DEPTH + 2;

	if (S_ISDIR(inode->i_mode) || (VEXFS_I(inode)->flags & VEXFS_INODE_VTABLE))
		revokes += blocks;
	return vexfs_journal_begin(inode->i_sb, min_t(u64, credits, INT_MAX),
				   min_t(u64, revokes, INT_MAX / 2));
}

/*
 * Before a step of a long operation that must stay in one transaction:
 * make sure the handle may still dirty @credits new blocks, growing it by
 * what it lacks. -E2BIG when the transaction cannot grow (it is full, or
 * its commit has begun): the operation gives up then, whole. Never waits,
 * so it may be called under the operation's locks.
 */
int vexfs_journal_reserve(handle_t *handle, int credits)
{
	int have, err;

	if (!handle)
		return 0;
	have = jbd2_handle_buffer_credits(handle);
	if (have >= credits)
		return 0;
	err = jbd2_journal_extend(handle, credits - have, 0);
	return err > 0 ? -E2BIG : err;
}

/*
 * Is a handle of this filesystem's journal open in this task? Other
 * filesystems keep their own values in journal_info (ext4 without a
 * journal keeps a small count there), so only a handle of our journal
 * counts.
 */
bool vexfs_journal_in_handle(struct super_block *sb)
{
	handle_t *handle = journal_current_handle();
	journal_t *journal = vexfs_journal(sb);

	return journal && (unsigned long)handle > PAGE_SIZE &&
	       handle->h_transaction &&
	       handle->h_transaction->t_journal == journal;
}

int vexfs_journal_end(handle_t *handle)
{
	if (!handle || IS_ERR(handle))
		return 0;
	return jbd2_journal_stop(handle);
}

/*
 * End an operation's handle and give the operation's result: err, or the
 * journal's failure when the journal aborted while the operation ran. A
 * change logged where no error can be returned (an inode, through
 * mark_inode_dirty()) aborts the journal when it cannot be logged; its
 * operation must not report success for a change that will never commit.
 */
int vexfs_journal_finish(handle_t *handle, int err)
{
	int end = vexfs_journal_end(handle);

	return err ? err : end;
}

/*
 * Blocks an operation's handle was not sized for: a long truncate or a
 * table that grows. Extend while the transaction runs; otherwise there is
 * nothing safe to do here, and the operation fails with -ENOSPC.
 */
static int vexfs_journal_ensure(handle_t *handle, int credits, int revokes)
{
	int err;

	if (jbd2_handle_buffer_credits(handle) >= credits &&
	    handle->h_revoke_credits >= revokes)
		return 0;
	err = jbd2_journal_extend(handle, max(credits, 16), max(revokes, 16));
	if (err > 0) {
		pr_err_ratelimited("transaction full: operation too large for the journal\n");
		return -ENOSPC;
	}
	return err;
}

/*
 * The running handle, or NULL; warn once about a change made outside one.
 * Always inlined, so that the address reported is the public helper's
 * caller (a deeper __builtin_return_address() is unsafe without frame
 * pointers).
 */
static __always_inline handle_t *vexfs_running_handle(struct super_block *sb)
{
	handle_t *handle = journal_current_handle();

	if (!vexfs_journal(sb))
		return NULL;
	if (!handle) {
		pr_err_once("metadata changed outside a transaction at %pS\n",
			    __builtin_return_address(0));
		return NULL;
	}
	return handle;
}

/*
 * A change made in memory could not be logged: memory and disk no longer
 * agree, and nothing later may commit on top of that. Abort the journal,
 * as ext4 does; every later handle then fails with -EROFS.
 */
void vexfs_journal_abort(struct super_block *sb, int err, const char *what)
{
	journal_t *journal = vexfs_journal(sb);

	if (!journal || is_journal_aborted(journal))
		return;
	pr_err("%pg: %s failed (%d): aborting the journal\n", sb->s_bdev, what,
	       err);
	jbd2_journal_abort(journal, err);
}

/*
 * jbd2's access calls as a function of the module's own, so that a test
 * kernel can make them fail (fail_function), as vexfs_log_block() below.
 */
noinline int vexfs_take_block(handle_t *handle, struct buffer_head *bh,
			      enum vexfs_access how)
{
	switch (how) {
	case VEXFS_ACCESS_CREATE:
		return jbd2_journal_get_create_access(handle, bh);
	case VEXFS_ACCESS_UNDO:
		return jbd2_journal_get_undo_access(handle, bh);
	default:
		return jbd2_journal_get_write_access(handle, bh);
	}
}
ALLOW_ERROR_INJECTION(vexfs_take_block, ERRNO);

/*
 * Has this handle's transaction already logged bh? Then logging it again
 * costs no credit (jbd2 charges a buffer once per transaction, when its
 * b_modified is first set), and none need be reserved: an operation that
 * spent its credits can still log the blocks it changed before. The
 * transaction cannot commit while the handle is open, so the answer holds.
 */
static bool vexfs_journal_logged(handle_t *handle, struct buffer_head *bh)
{
	struct journal_head *jh;
	bool logged = false;

	if (!buffer_jbd(bh))
		return false;
	jh = jbd2_journal_grab_journal_head(bh);
	if (jh) {
		logged = READ_ONCE(jh->b_transaction) == handle->h_transaction &&
			 READ_ONCE(jh->b_modified);
		jbd2_journal_put_journal_head(jh);
	}
	return logged;
}

/* Reserve a credit, then let jbd2 take the buffer into the transaction. */
static __always_inline int vexfs_journal_take(struct super_block *sb,
					      struct buffer_head *bh,
					      enum vexfs_access how)
{
	handle_t *handle = vexfs_running_handle(sb);
	int err;

	if (!handle)
		return 0;
	/* Whether bh was logged matters only to a handle out of credits. */
	if (jbd2_handle_buffer_credits(handle) < 1 &&
	    !vexfs_journal_logged(handle, bh)) {
		err = vexfs_journal_ensure(handle, 1, 0);
		if (err)
			return err;
	}
	/*
	 * The caller may already have changed other blocks of this handle
	 * for the same operation; as ext4 does, a block that cannot be
	 * taken ends the journal rather than commit half of it.
	 */
	err = vexfs_take_block(handle, bh, how);
	if (err)
		vexfs_journal_abort(sb, err, "taking a metadata block");
	return err;
}

/* Call before changing a metadata block that is already on disk. */
int vexfs_journal_access(struct super_block *sb, struct buffer_head *bh)
{
	return vexfs_journal_take(sb, bh, VEXFS_ACCESS_WRITE);
}

/*
 * Call before changing the block bitmap: jbd2 keeps the bitmap as last
 * committed beside it (b_committed_data), so that a block freed by a
 * transaction not yet committed is not handed out again (alloc.c), as
 * ext3 and ocfs2 do.
 */
int vexfs_journal_undo_access(struct super_block *sb, struct buffer_head *bh)
{
	return vexfs_journal_take(sb, bh, VEXFS_ACCESS_UNDO);
}

/* Call before filling a block that becomes metadata now. */
int vexfs_journal_create(struct super_block *sb, struct buffer_head *bh)
{
	return vexfs_journal_take(sb, bh, VEXFS_ACCESS_CREATE);
}

/*
 * jbd2_journal_dirty_metadata() as a function of the module's own, so that
 * a test kernel can make it fail (fail_function): it fails only when the
 * journal does mid-operation, and every caller's error path must hold then.
 */
noinline int vexfs_log_block(handle_t *handle, struct buffer_head *bh)
{
	return jbd2_journal_dirty_metadata(handle, bh);
}
ALLOW_ERROR_INJECTION(vexfs_log_block, ERRNO);

/*
 * Sealing a block (its tail's magic and checksum) when its transaction
 * commits: jbd2 calls t_frozen on the data it is about to write to the
 * journal, which is also the data later written in place. A directory or
 * bitmap block changed by a thousand creates in one transaction is then
 * checksummed once, not a thousand times.
 */
struct vexfs_seal {
	struct jbd2_buffer_trigger_type trigger;
	u32 magic;
};

static void vexfs_seal_frozen(struct jbd2_buffer_trigger_type *trigger,
			      struct buffer_head *bh, void *data, size_t size)
{
	struct vexfs_seal *seal = container_of(trigger, struct vexfs_seal,
					       trigger);

	vexfs_block_csum_set(data, seal->magic, bh->b_blocknr);
}

#define VEXFS_SEAL(m) { .trigger.t_frozen = vexfs_seal_frozen, .magic = (m) }

static struct vexfs_seal vexfs_seals[] = {
	VEXFS_SEAL(VEXFS_BITMAP_MAGIC),
	VEXFS_SEAL(VEXFS_DIR_MAGIC),
	VEXFS_SEAL(VEXFS_EXTENT_MAGIC),
	VEXFS_SEAL(VEXFS_XATTR_MAGIC),
	VEXFS_SEAL(VEXFS_HTREE_HEAD_MAGIC),
	VEXFS_SEAL(VEXFS_HTREE_MAGIC),
};

static struct vexfs_seal *vexfs_seal_of(u32 magic)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vexfs_seals); i++)
		if (vexfs_seals[i].magic == magic)
			return &vexfs_seals[i];
	return NULL;
}

/*
 * Log a changed block with the trigger that seals it at commit (NULL: a
 * block the module checksums otherwise, or not at all). Always set, so a
 * freed block reused for another kind never keeps its former seal.
 */
static int vexfs_journal_log(struct super_block *sb, handle_t *handle,
			     struct buffer_head *bh,
			     struct jbd2_buffer_trigger_type *trigger)
{
	int err;

	jbd2_journal_set_triggers(bh, trigger);
	err = vexfs_log_block(handle, bh);
	if (err)
		vexfs_journal_abort(sb, err, "logging a metadata block");
	return err;
}

/* A metadata block has been changed: log it, or queue it for writeback. */
int vexfs_journal_dirty(struct super_block *sb, struct buffer_head *bh)
{
	handle_t *handle = vexfs_running_handle(sb);

	if (!handle) {
		mark_buffer_dirty(bh);
		return 0;
	}
	return vexfs_journal_log(sb, handle, bh, NULL);
}

/*
 * A checksummed metadata block has been changed: log it, to be sealed at
 * commit. Sealed now when it is not logged (no journal).
 */
int vexfs_journal_dirty_sealed(struct super_block *sb, struct buffer_head *bh,
			       u32 magic)
{
	handle_t *handle = vexfs_running_handle(sb);
	struct vexfs_seal *seal = vexfs_seal_of(magic);

	if (!handle || !seal) {
		vexfs_block_csum_set(bh->b_data, magic, bh->b_blocknr);
		return vexfs_journal_dirty(sb, bh);
	}
	return vexfs_journal_log(sb, handle, bh, &seal->trigger);
}

/*
 * Blocks that held metadata are being freed: revoke them, so that replay
 * does not write an older journalled copy over their next owner.
 */
int vexfs_journal_revoke(struct super_block *sb, u64 start, u32 count)
{
	handle_t *handle = vexfs_running_handle(sb);
	int err = 0;
	u32 i;

	if (!handle)
		return 0;
	/*
	 * Growing a handle fails whenever a commit has begun, so an operation
	 * that frees metadata must reserve its revokes when it starts: one
	 * that did not is a sizing bug that loses a revoke under load. (After
	 * an abort nothing commits: error paths may free what they took.)
	 */
	if (!handle->h_revoke_credits_requested && !is_handle_aborted(handle))
		pr_err_ratelimited("%pg: blocks %llu+%u freed in a handle that reserved no revoke\n",
				   sb->s_bdev, start, count);
	for (i = 0; i < count && !err; i++) {
		/* A cached copy is forgotten by the running transaction too. */
		struct buffer_head *bh = sb_find_get_block(sb, start + i);

		err = vexfs_journal_ensure(handle, 0, 1);
		if (err) {
			brelse(bh);
			break;
		}
		/* Takes over our reference to bh, through jbd2_journal_forget(). */
		err = jbd2_journal_revoke(handle, start + i, bh);
	}
	return err;
}

/*
 * Ordered data: the commit that makes [pos, pos + len) of the inode
 * reachable first writes it out.
 */
int vexfs_journal_order(struct inode *inode, loff_t pos, loff_t len)
{
	handle_t *handle = vexfs_running_handle(inode->i_sb);

	if (!handle || !len)
		return 0;
	return jbd2_journal_inode_ranged_write(handle, &VEXFS_I(inode)->jinode,
					       pos, len);
}

void vexfs_journal_forget_inode(struct inode *inode)
{
	journal_t *journal = vexfs_journal(inode->i_sb);

	if (journal)
		jbd2_journal_release_jbd_inode(journal, &VEXFS_I(inode)->jinode);
}

/*
 * An operation failed with -ENOSPC: if an allocation found only blocks
 * whose free has not committed (vexfs_bitmap_release() holds them until
 * then), commit and say to try again, a few times at most. Any other
 * -ENOSPC (inodes, a full xattr block) is final. Called with no handle
 * open, as ext4's retry is: a commit cannot finish under our own handle.
 */
bool vexfs_journal_retry_alloc(struct super_block *sb, int *retries)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	if (!sbi->journal || journal_current_handle() ||
	    !READ_ONCE(sbi->blocks_held) || (*retries)++ >= 3)
		return false;
	WRITE_ONCE(sbi->blocks_held, false);
	jbd2_journal_force_commit_nested(sbi->journal);
	return true;
}

/*
 * Make everything done so far durable: commit the running transaction and
 * wait for it. Without a journal, write all dirty metadata and flush.
 */
int vexfs_journal_commit(struct super_block *sb)
{
	journal_t *journal = vexfs_journal(sb);
	int err;

	if (!journal) {
		err = sync_blockdev(sb->s_bdev);
		return err ? err : blkdev_issue_flush(sb->s_bdev);
	}
	err = jbd2_journal_force_commit(journal);
	/*
	 * Once the journal has aborted nothing commits, though there may be
	 * no transaction left to wait for: what was asked to be durable is not.
	 */
	if (!err && is_journal_aborted(journal))
		err = -EIO;
	/* Data overwritten in place changed no metadata: flush it too. */
	return err ? err : blkdev_issue_flush(sb->s_bdev);
}

/* Start a commit of what is in the journal without waiting for it. */
void vexfs_journal_kick(struct super_block *sb)
{
	journal_t *journal = vexfs_journal(sb);

	if (journal)
		jbd2_journal_start_commit(journal, NULL);
}

/* Checkpoint everything, leaving the journal empty (remount read-only). */
int vexfs_journal_flush(struct super_block *sb)
{
	journal_t *journal = vexfs_journal(sb);

	return journal ? jbd2_journal_flush(journal, 0) : 0;
}
