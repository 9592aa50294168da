// SPDX-License-Identifier: GPL-2.0
/*
 * Buffered writes of regular files, a chunk at a time.
 *
 * Through write_begin and write_end alone, every page of a write starts a
 * handle, allocates its block and logs the inode's new size. A write is
 * cut into chunks of up to VEXFS_WRITE_CHUNK bytes instead, each under one
 * handle: the first page that needs a block past the end of the file
 * allocates blocks for the rest of the chunk with it, as one extent, and
 * the new size is logged once, when the chunk ends. The chunk's blocks,
 * its size and (ordered) its data commit together.
 *
 * Blocks are allocated ahead only past the end of the file, where nothing
 * reads: a block waiting for its page exposes nothing of what the device
 * held before. A page takes its block ahead as a new one, so it zeroes
 * what it does not write, and blocks a chunk did not use (a short copy)
 * are freed before its handle ends. A hole inside the file still gets its
 * block from the page that writes it.
 *
 * While a chunk's handle is open nothing waits on the caller: the source
 * is faulted in and the writer throttled before the handle starts, and
 * the copy takes no fault (a page gone missing ends the chunk early), so
 * no user can hold the journal's commit by stalling a fault. Writeback
 * needs no handle for these pages: their blocks exist once they are dirty.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/pagemap.h>
#include <linux/writeback.h>
#include <linux/uio.h>
#include "vexfs.h"

#define VEXFS_WRITE_CHUNK	(64 * 1024)

/*
 * A chunk being written. It lives on its writer's stack: only the writer
 * may follow the inode's pointer to it, which it knows by wchunk_task.
 */
struct vexfs_write_chunk {
	u32 end;		/* the first block past the chunk */
	u32 ahead;		/* blocks [ahead, ahead_end) are allocated, */
	u32 ahead_end;		/* and no page has taken them yet */
	bool grew;		/* the size changed: log it when the chunk ends */
};

static struct vexfs_write_chunk *vexfs_my_chunk(struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	return READ_ONCE(vi->wchunk_task) == current ? vi->wchunk : NULL;
}

static u32 vexfs_size_blocks(struct inode *inode)
{
	return DIV_ROUND_UP_ULL(i_size_read(inode), VEXFS_BLOCK_SIZE);
}

/*
 * Blocks to allocate for a hole at lblk: the rest of the chunk when lblk
 * lies past the end of the file and a chunk of this task writes it, else
 * @want.
 */
u32 vexfs_write_want(struct inode *inode, u32 lblk, u32 want)
{
	struct vexfs_write_chunk *wc = vexfs_my_chunk(inode);

	if (!wc || lblk >= wc->end || lblk < vexfs_size_blocks(inode))
		return want;
	return max(want, wc->end - lblk);
}

/*
 * lblk was mapped (@len blocks from it, @new when just allocated): note
 * the blocks allocated ahead, or hand one of them to its page as new.
 */
void vexfs_write_mapped(struct inode *inode, u32 lblk, u32 len, bool *new)
{
	struct vexfs_write_chunk *wc = vexfs_my_chunk(inode);

	if (!wc)
		return;
	if (*new) {
		wc->ahead = lblk + 1;
		wc->ahead_end = lblk + len;
	} else if (lblk >= wc->ahead && lblk < wc->ahead_end) {
		*new = true;
		wc->ahead = lblk + 1;
	}
}

/* Give back blocks a failed write allocated past the end of the file. */
static void vexfs_write_failed(struct address_space *mapping, loff_t to)
{
	struct inode *inode = mapping->host;
	struct vexfs_write_chunk *wc = vexfs_my_chunk(inode);
	int err;

	if (to <= inode->i_size)
		return;
	truncate_pagecache(inode, inode->i_size);
	err = vexfs_truncate_blocks(inode, vexfs_size_blocks(inode));
	if (err) {
		/*
		 * Blocks never written stay mapped past the end, where a later
		 * write or a truncate up would show what they held: nothing
		 * may commit with them.
		 */
		vexfs_journal_abort(inode->i_sb, err, "freeing a failed write's blocks");
		return;
	}
	if (wc)
		wc->ahead_end = wc->ahead;
}

/*
 * A page holds a handle from write_begin to write_end, started before its
 * folio is locked: the commit locks folios to write ordered data. Inside
 * a chunk it is the chunk's handle, topped up for the page.
 */
int vexfs_write_begin(struct file *file, struct address_space *mapping,
		      loff_t pos, unsigned int len, struct folio **foliop,
		      void **fsdata)
{
	struct super_block *sb = mapping->host->i_sb;
	bool in_chunk = vexfs_my_chunk(mapping->host);
	handle_t *handle;
	int retries = 0;
	int err;

retry:
	handle = vexfs_journal_begin(sb, VEXFS_CREDITS_WRITE, 0);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = in_chunk ? vexfs_journal_reserve(handle, VEXFS_CREDITS_WRITE) : 0;
	if (!err)
		err = block_write_begin(mapping, pos, len, foliop, vexfs_get_block);
	if (err < 0) {
		vexfs_write_failed(mapping, pos + len);
		vexfs_journal_end(handle);
		/* A chunk retries with its own handle closed. */
		if (!in_chunk && err == -ENOSPC &&
		    vexfs_journal_retry_alloc(sb, &retries))
			goto retry;
	}
	return err;
}

/*
 * generic_write_end() without logging the size, which a chunk does once:
 * the size and the blocks under it stay in one transaction either way.
 */
static int vexfs_chunk_write_end(struct vexfs_write_chunk *wc,
				 struct file *file, struct address_space *mapping,
				 loff_t pos, unsigned int len, unsigned int copied,
				 struct folio *folio, void *fsdata)
{
	struct inode *inode = mapping->host;
	loff_t old_size = inode->i_size;

	copied = block_write_end(file, mapping, pos, len, copied, folio, fsdata);
	if (pos + copied > inode->i_size) {
		i_size_write(inode, pos + copied);
		wc->grew = true;
	}
	folio_unlock(folio);
	folio_put(folio);
	if (old_size < pos)
		pagecache_isize_extended(inode, old_size, pos);
	return copied;
}

int vexfs_write_end(struct file *file, struct address_space *mapping,
		    loff_t pos, unsigned int len, unsigned int copied,
		    struct folio *folio, void *fsdata)
{
	struct vexfs_write_chunk *wc = vexfs_my_chunk(mapping->host);
	int ret, end;

	if (wc)
		ret = vexfs_chunk_write_end(wc, file, mapping, pos, len, copied,
					    folio, fsdata);
	else
		ret = generic_write_end(file, mapping, pos, len, copied, folio,
					fsdata);
	if (ret < len)
		vexfs_write_failed(mapping, pos + len);
	end = vexfs_journal_end(journal_current_handle());
	/* The copy happened, but its size and blocks will never commit. */
	return end ? end : ret;
}

/* Bytes of the chunk starting at pos: up to the next chunk boundary. */
static size_t vexfs_chunk_bytes(loff_t pos, size_t count)
{
	return min_t(size_t, count,
		     VEXFS_WRITE_CHUNK - (pos & (VEXFS_WRITE_CHUNK - 1)));
}

/*
 * Copy the chunk into the page cache a page at a time, as
 * generic_perform_write() does, but with no fault and no throttling while
 * the chunk's handle is held: a source page not in memory (a file of a
 * stalled FUSE server, say) ends the chunk, and the caller faults it in
 * with the handle closed. Bytes copied, or an error, or 0 for a chunk that
 * copied nothing for want of its source page.
 */
static ssize_t vexfs_copy_chunk(struct kiocb *iocb, struct iov_iter *from,
				size_t bytes)
{
	struct file *file = iocb->ki_filp;
	struct address_space *mapping = file->f_mapping;
	ssize_t written = 0;
	long status = 0;

	while (bytes) {
		size_t n = min_t(size_t, bytes,
				 PAGE_SIZE - offset_in_page(iocb->ki_pos));
		struct folio *folio;
		void *fsdata = NULL;
		size_t copied;

		if (fatal_signal_pending(current)) {
			status = -EINTR;
			break;
		}
		status = vexfs_write_begin(file, mapping, iocb->ki_pos, n,
					   &folio, &fsdata);
		if (status < 0)
			break;
		if (mapping_writably_mapped(mapping))
			flush_dcache_folio(folio);
		copied = copy_folio_from_iter_atomic(folio,
				offset_in_folio(folio, iocb->ki_pos), n, from);
		flush_dcache_folio(folio);
		status = vexfs_write_end(file, mapping, iocb->ki_pos, n, copied,
					 folio, fsdata);
		if (status != copied)
			iov_iter_revert(from, copied - max(status, 0L));
		cond_resched();
		if (status == 0 && copied && copied < n) {
			/* A page not uptodate takes all or nothing: again, shorter. */
			bytes = copied;
			continue;
		}
		if (status <= 0)
			break;
		iocb->ki_pos += status;
		written += status;
		bytes -= status;
	}
	return written ? written : status;
}

/* Write up to @bytes of @from under one handle: bytes written, or an error. */
static ssize_t vexfs_write_chunk(struct kiocb *iocb, struct iov_iter *from,
				 size_t bytes)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_write_chunk wc = {
		.end = DIV_ROUND_UP_ULL(iocb->ki_pos + bytes, VEXFS_BLOCK_SIZE),
	};
	handle_t *handle;
	ssize_t written;
	int end;

	/* Twice a page's worst case: a top-up is needed only after allocating. */
	handle = vexfs_journal_begin(inode->i_sb, 2 * VEXFS_CREDITS_WRITE, 0);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	vi->wchunk = &wc;
	WRITE_ONCE(vi->wchunk_task, current);
	written = vexfs_copy_chunk(iocb, from, bytes);
	if (wc.ahead < wc.ahead_end)
		vexfs_write_failed(inode->i_mapping,
				   (loff_t)wc.end << VEXFS_BLOCK_SHIFT);
	WRITE_ONCE(vi->wchunk_task, NULL);
	vi->wchunk = NULL;
	if (wc.grew)
		mark_inode_dirty(inode);
	end = vexfs_journal_end(handle);
	if (end && written > 0) {
		/*
		 * The copy happened, but nothing of the chunk will commit: the
		 * write ends where the chunk began, and the caller hears why.
		 */
		iocb->ki_pos -= written;
		iov_iter_revert(from, written);
	}
	return end ?: written;
}

/*
 * The write_iter of regular files: generic_file_write_iter() with the
 * buffered write done in chunks. Before each chunk, with no handle open,
 * the writer is throttled and the chunk's source faulted in. A chunk that
 * stops short (its handle could not grow, a source page went missing) is
 * followed by the next; a source that cannot be faulted in, or an error
 * before anything was written, ends the write.
 */
ssize_t vexfs_file_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t written = 0, n;
	int retries = 0;

	inode_lock(inode);
	n = generic_write_checks(iocb, from);
	if (n > 0)
		n = file_modified(iocb->ki_filp);
	while (!n && iov_iter_count(from)) {
		size_t bytes = vexfs_chunk_bytes(iocb->ki_pos, iov_iter_count(from));

		balance_dirty_pages_ratelimited(inode->i_mapping);
		if (fault_in_iov_iter_readable(from, bytes) == bytes) {
			n = -EFAULT;
			break;
		}
		n = vexfs_write_chunk(iocb, from, bytes);
		if (n > 0) {
			written += n;
			retries = 0;
			n = 0;
		} else if (n == -ENOSPC &&
			   vexfs_journal_retry_alloc(inode->i_sb, &retries)) {
			n = 0;
		}
	}
	inode_unlock(inode);
	if (written)
		return generic_write_sync(iocb, written);
	return n;
}
