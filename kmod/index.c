// SPDX-License-Identifier: GPL-2.0
/*
 * Published HNSW indexes of collections.
 *
 * An index builder (vexfsd) reads the vectors, builds a graph in userspace
 * and publishes it. The kernel trusts nothing in it: lib/hnsw_load.c checks
 * every offset, count and id before the graph is used, here and again
 * when it is read back from disk. The graph is stored in a hidden inode of
 * the collection (format in vexfs_fs.h), written over the last one: the
 * old graph leaves memory first (searches already running finish on it,
 * later ones are exact until the new one is swapped in under the
 * collection's rwsem).
 *
 * A graph built on SQ8 codes carries them, and is walked from the inode's
 * page cache (index_pages.c), read a page at a time as walks need it; one
 * without codes is read whole into memory with what its walk scores
 * (index_walk.c).
 *
 * The index is a cache of the exact answer's neighbourhood structure, never
 * the truth: slots changed after the vectors were read, and slots the
 * graph lacks, are searched exactly; a graph that fails validation is
 * refused, or at mount ignored.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32c.h>
#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"

static u32 vexfs_vindex_csum(const struct vexfs_vindex_header *h)
{
	struct vexfs_vindex_header copy = *h;

	copy.vi_checksum = 0;
	return crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

static void vexfs_index_free(struct vexfs_index *idx)
{
	int i;

	if (!idx)
		return;
	for (i = 0; i < VEXFS_INDEX_SPARES; i++)
		kvfree(idx->spare[i]);
	vexfs_index_put_pages(idx);
	kvfree(idx->in_graph);
	kvfree(idx->codes);
	kfree(idx->sq8_lo);
	kvfree(idx->vectors);
	kvfree(idx->buf);
	kfree(idx);
}

/*
 * Slots changed after the graph was built are not covered by it: those in
 * the runs the change map says changed since, read first when slots are
 * read on demand. The caller holds c->rwsem for writing, or has the
 * collection to itself.
 */
static int vexfs_index_uncover_changed(struct vexfs_collection *c,
				       struct vexfs_index *idx)
{
	u64 first, n, slot;
	u32 e = 0;
	int err;

	while (vexfs_cmap_next_changed(&c->cmap, idx->seq, idx->nbits, &e,
				       &first, &n)) {
		err = vexfs_slots_ensure(c, first, n);
		if (err)
			return err;
		for (slot = first; slot < first + n; slot++)
			if (c->slots[slot].seq > idx->seq)
				__clear_bit(slot, idx->in_graph);
		cond_resched();
	}
	for (slot = c->nslots; slot < idx->nbits; slot++)
		__clear_bit(slot, idx->in_graph);
	return 0;
}

/*
 * The change map it trusted was wrong: every covered slot checked against
 * its sequence. The slots are all read; no other change runs.
 */
void vexfs_index_recheck(struct vexfs_collection *c)
{
	struct vexfs_index *idx = c->index;
	unsigned long slot;

	for_each_set_bit(slot, idx->in_graph, idx->nbits)
		if (slot >= c->nslots || c->slots[slot].seq > idx->seq)
			clear_bit(slot, idx->in_graph);
}

/*
 * The nodes of g a walk can reach from the entry point, a bit each, and
 * their number in *reached; NULL without memory. Free with kvfree().
 */
static u64 *vexfs_index_reached(const struct vexfs_hnsw_graph *g, u32 *reached)
{
	u64 *seen = kvcalloc(DIV_ROUND_UP(g->node_count, 64) ?: 1, sizeof(*seen),
			     VEXFS_GFP_USER_SIZED);
	u32 *queue = kvmalloc_array(g->node_count ?: 1, sizeof(*queue),
				    VEXFS_GFP_USER_SIZED);

	if (seen && queue)
		*reached = vexfs_hnsw_reachable(g, seen, queue);
	kvfree(queue);
	if (!queue) {
		kvfree(seen);
		return NULL;
	}
	return seen;
}

/*
 * Note the slots the graph covers: those of the nodes a walk can reach
 * from the entry point. A node no link leads to is never found by a
 * search, so its slot stays with the exact pass.
 */
static int vexfs_index_mark_covered(struct vexfs_index *idx)
{
	const struct vexfs_hnsw_graph *g = &idx->graph;
	u32 n, reached;
	u64 *seen = vexfs_index_reached(g, &reached);

	if (!seen)
		return -ENOMEM;
	for (n = 0; n < g->node_count; n++)
		if (vexfs_hnsw_seen(seen, n))
			__set_bit(vexfs_hnsw_slot(g, n), idx->in_graph);
	kvfree(seen);
	idx->reached_all = reached == g->node_count;
	return 0;
}

/*
 * Validate a graph for c, note the slots it covers and what its walk
 * scores. Takes buf. The caller holds c->rwsem, or has c to itself.
 */
static struct vexfs_index *vexfs_index_view(struct vexfs_collection *c,
					    void *buf, size_t len, u32 seq)
{
	struct vexfs_index *idx = kzalloc(sizeof(*idx), GFP_KERNEL_ACCOUNT);
	const char *why = "out of memory";
	int err = -ENOMEM;

	if (!idx)
		goto fail;
	idx->buf = buf;
	idx->len = len;
	idx->seq = seq;
	err = vexfs_hnsw_load(buf, len, c->nslots, &idx->graph, &why);
	if (err)
		goto fail;
	err = -EINVAL;
	why = "dimension or metric differs from the collection's";
	if (idx->graph.dim != c->dim || idx->graph.metric != c->metric)
		goto fail;
	err = -ENOMEM;
	why = "out of memory";
	idx->nbits = c->nslots;
	idx->in_graph = kvcalloc(BITS_TO_LONGS(idx->nbits) ?: 1, sizeof(long),
				 VEXFS_GFP_USER_SIZED);
	if (!idx->in_graph || vexfs_index_mark_covered(idx))
		goto fail;
	err = vexfs_index_prepare_walk(c, idx);
	why = "cannot read or code the vectors";
	if (err)
		goto fail;
	return idx;
fail:
	pr_info_ratelimited("collection %lu: index refused: %s\n",
			    c->dir->i_ino, why);
	if (idx)
		idx->buf = NULL;
	vexfs_index_free(idx);
	kvfree(buf);
	return ERR_PTR(err);
}

/*
 * The graph of len bytes in inode, built at seq, as pages: NULL when it
 * carries no codes (the caller reads it whole). prove: as
 * vexfs_index_open_pages() says. The caller holds c->rwsem, or has c to
 * itself.
 */
static struct vexfs_index *vexfs_index_from_pages(struct vexfs_collection *c,
						  struct inode *inode, u64 len,
						  u32 seq, bool prove)
{
	struct vexfs_index *idx = kzalloc(sizeof(*idx), GFP_KERNEL_ACCOUNT);
	const char *why = "out of memory";
	int err = -ENOMEM;

	if (idx) {
		idx->len = len;
		idx->seq = seq;
		err = vexfs_index_open_pages(c, idx, inode, len, prove, &why);
		if (!err)
			return idx;
	}
	vexfs_index_free(idx);
	if (err == -EOPNOTSUPP)
		return NULL;
	pr_info_ratelimited("collection %lu: index refused: %s\n",
			    c->dir->i_ino, why);
	return ERR_PTR(err);
}

/* Read a graph without codes whole and make its view. */
static struct vexfs_index *vexfs_index_read_whole(struct vexfs_collection *c,
						  struct inode *inode, u64 len,
						  u32 seq)
{
	void *buf = kvmalloc(len, VEXFS_GFP_USER_SIZED);
	int err;

	if (!buf)
		return ERR_PTR(-ENOMEM);
	err = vexfs_table_read(inode, buf, len, VEXFS_VINDEX_GRAPH_START);
	if (err) {
		kvfree(buf);
		return ERR_PTR(err);
	}
	return vexfs_index_view(c, buf, len, seq);
}

/*
 * Load the index stored in inode ino. paged_only: for a collection whose
 * slots are read on demand, only an index walked from pages will do;
 * anything else is -EOPNOTSUPP and leaves nothing behind.
 */
int vexfs_index_load(struct vexfs_collection *c, u64 ino, bool paged_only)
{
	struct vexfs_vindex_header h;
	struct vexfs_index *idx;
	struct inode *inode;
	u64 len;
	int err;

	inode = vexfs_iget(c->dir->i_sb, ino);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	err = -EUCLEAN;
	if (!S_ISREG(inode->i_mode) || !(VEXFS_I(inode)->flags & VEXFS_INODE_VINDEX))
		goto out_put;
	err = vexfs_table_read(inode, &h, sizeof(h), 0);
	if (err)
		goto out_put;
	len = le64_to_cpu(h.vi_graph_len);
	err = -EUCLEAN;
	if (le32_to_cpu(h.vi_magic) != VEXFS_VINDEX_MAGIC ||
	    le32_to_cpu(h.vi_checksum) != vexfs_vindex_csum(&h) ||
	    le64_to_cpu(h.vi_owner) != c->dir->i_ino ||
	    (le32_to_cpu(h.vi_flags) & ~VEXFS_VINDEX_REACHED))
		goto out_put;
	/* A publish was cut short: no graph, the inode is kept for the next. */
	if (!len && !paged_only) {
		c->index_inode = inode;
		return 0;
	}
	err = -EOPNOTSUPP;
	if (paged_only && (!len || !(le32_to_cpu(h.vi_flags) & VEXFS_VINDEX_REACHED)))
		goto out_put;
	err = -EUCLEAN;
	if (le64_to_cpu(h.vi_seq) > c->seq ||
	    VEXFS_VINDEX_GRAPH_START + len > i_size_read(inode) ||
	    len > vexfs_hnsw_bytes_max(c->nslots, c->dim)) {
		pr_info_ratelimited("collection %lu: index of %llu bytes at seq %llu refused: inode holds %lld, table at seq %u\n",
				    c->dir->i_ino, len, le64_to_cpu(h.vi_seq),
				    i_size_read(inode), c->seq);
		goto out_put;
	}
	idx = NULL;
	if (le32_to_cpu(h.vi_flags) & VEXFS_VINDEX_REACHED)
		idx = vexfs_index_from_pages(c, inode, len, le64_to_cpu(h.vi_seq),
					     false);
	if (!idx && !paged_only)
		idx = vexfs_index_read_whole(c, inode, len, le64_to_cpu(h.vi_seq));
	err = idx ? PTR_ERR_OR_ZERO(idx) : -EOPNOTSUPP;
	if (!err) {
		err = vexfs_index_uncover_changed(c, idx);
		if (err)
			vexfs_index_free(idx);
	}
	if (err && paged_only)
		goto out_put;
	/* The inode stays referenced either way: a new publish reuses it. */
	c->index_inode = inode;
	if (err)
		return err;
	idx->published = le64_to_cpu(h.vi_published);
	c->index = idx;
	return 0;
out_put:
	iput(inode);
	return err;
}

/*
 * The index header; a zero length says there is no graph. published is
 * when the graph was published, flags VEXFS_VINDEX_*.
 */
static struct vexfs_vindex_header vexfs_index_header(struct vexfs_collection *c,
						     size_t len, u32 seq,
						     time64_t published, u32 flags)
{
	struct vexfs_vindex_header h = {
		.vi_magic = cpu_to_le32(VEXFS_VINDEX_MAGIC),
		.vi_seq = cpu_to_le64(seq),
		.vi_graph_len = cpu_to_le64(len),
		.vi_owner = cpu_to_le64(c->dir->i_ino),
		.vi_published = cpu_to_le64(published),
		.vi_flags = cpu_to_le32(flags),
	};

	h.vi_checksum = cpu_to_le32(vexfs_vindex_csum(&h));
	return h;
}

static int vexfs_index_write_header(struct vexfs_collection *c, size_t len,
				    u32 seq, time64_t published, u32 flags)
{
	struct vexfs_vindex_header h = vexfs_index_header(c, len, seq,
							  published, flags);

	return vexfs_table_write(c->index_inode, &h, sizeof(h), 0);
}

/* Everything written to the index inode so far is on stable storage. */
static int vexfs_index_settle(struct vexfs_collection *c)
{
	int err = filemap_write_and_wait(c->index_inode->i_mapping);

	return err ? err : vexfs_journal_commit(c->dir->i_sb);
}

/*
 * The index inode. Its pointer changes only with publish_lock and c->rwsem
 * (for writing) both held, so a holder of either lock may use it; it is
 * released only under publish_lock, so a publish can write to it while a
 * wrap of the change sequence (which holds only c->rwsem) detaches it.
 * Detached, it has no link left and the table names no index: the next
 * publish replaces it, and the last iput() deletes it.
 */
static void vexfs_index_detach(struct vexfs_collection *c)
{
	vexfs_index_free(c->index);
	c->index = NULL;
	if (c->index_inode && !c->index_detached) {
		clear_nlink(c->index_inode);
		mark_inode_dirty(c->index_inode);
		c->index_detached = true;
	}
}

/* Swap in a new index inode; returns the old one for the caller to iput. */
static struct inode *vexfs_index_set_inode(struct vexfs_collection *c,
					   struct inode *inode)
{
	struct inode *old = c->index_inode;

	lockdep_assert_held(&c->publish_lock);
	lockdep_assert_held_write(&c->rwsem);
	c->index_inode = inode;
	c->index_detached = false;
	return old;
}

/*
 * A new index inode, its "no graph" header and the table header naming it
 * commit together (the header's block is new, so ordered mode writes it
 * before the commit): no crash leaves an index no collection names.
 */
static int vexfs_index_create_inode(struct vexfs_collection *c, u32 seq)
{
	struct inode *inode, *old = NULL;
	handle_t *handle;
	int err;

	handle = vexfs_journal_begin(c->dir->i_sb, VEXFS_CREDITS_DIROP, 0);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	inode = vexfs_hidden_inode(c->dir, VEXFS_INODE_VINDEX);
	err = PTR_ERR_OR_ZERO(inode);
	if (!err) {
		down_write(&c->rwsem);
		old = vexfs_index_set_inode(c, inode);
		err = vexfs_write_header(c);
		up_write(&c->rwsem);
	}
	if (!err) {
		struct vexfs_vindex_header h = vexfs_index_header(c, 0, seq, 0, 0);

		err = vexfs_table_write_new(inode, &h, sizeof(h), 0);
	}
	err = vexfs_journal_finish(handle, err);
	/* Detached before: no link, so this deletes it, in its own handle. */
	iput(old);
	return err;
}

/*
 * A graph is data, overwritten in place, so a crash must never find a
 * valid header over a half-written graph: before a graph is written, the
 * header says "no graph" on stable storage (in a new index inode on first
 * use or when a wrap detached the last one); after, the graph is settled,
 * and only then the real header goes out. The caller holds publish_lock.
 */
static int vexfs_index_store_begin(struct vexfs_collection *c, u32 seq)
{
	int err;

	if (!c->index_inode || READ_ONCE(c->index_detached))
		err = vexfs_index_create_inode(c, seq);
	else
		err = vexfs_index_write_header(c, 0, seq, 0, 0);
	return err ?: vexfs_index_settle(c);
}

/* Store the graph in buf in the index inode, as store_begin says. */
static int vexfs_index_store(struct vexfs_collection *c, const void *buf,
			     size_t len, u32 seq, time64_t published, u32 flags)
{
	int err = vexfs_index_store_begin(c, seq);

	if (!err)
		err = vexfs_table_write(c->index_inode, buf, len,
					VEXFS_VINDEX_GRAPH_START);
	if (!err)
		err = vexfs_index_settle(c);
	if (!err)
		err = vexfs_index_write_header(c, len, seq, published, flags);
	return err;
}

/*
 * Swap the new graph in, unless the change sequence wrapped since its
 * view was made: its numbers then mean nothing against the slots', and
 * the inode it was stored in is detached. The builder reads and builds
 * again (-EAGAIN).
 */
static int vexfs_index_install(struct vexfs_collection *c,
			       struct vexfs_index *idx, u64 epoch)
{
	struct vexfs_index *old = NULL;
	int err = -EAGAIN;

	down_write(&c->rwsem);
	if (c->epoch == epoch && !c->index_detached) {
		/* Slots changed since the view was made are not covered. */
		WARN_ON_ONCE(vexfs_index_uncover_changed(c, idx));
		old = c->index;
		c->index = idx;
		idx = NULL;
		err = 0;
	}
	up_write(&c->rwsem);
	vexfs_index_free(old);
	vexfs_index_free(idx);
	return err;
}

/*
 * The index in memory goes before its inode is overwritten: one walked
 * from the inode's pages must never see them change. Searches are exact
 * until the new one is in. The caller holds publish_lock.
 */
static void vexfs_index_unset(struct vexfs_collection *c)
{
	struct vexfs_index *old;

	down_write(&c->rwsem);
	old = c->index;
	c->index = NULL;
	up_write(&c->rwsem);
	vexfs_index_free(old);
}

/*
 * Publish buf (len bytes, taken over by this call) built at change
 * sequence seq, checked and read whole: a graph without codes, whose
 * walk needs it in memory (or one whose header the caller changed after
 * vexfs_index_publish() looked at it). The caller holds no collection
 * lock.
 */
static int vexfs_index_publish_whole(struct vexfs_collection *c, void *buf,
				     size_t len, u32 seq)
{
	struct vexfs_index *idx;
	u64 epoch;
	int err;

	down_read(&c->rwsem);
	epoch = c->epoch;
	if (seq > c->seq) {
		kvfree(buf);
		idx = ERR_PTR(-EINVAL);
	} else {
		idx = vexfs_index_view(c, buf, len, seq);	/* takes buf */
	}
	up_read(&c->rwsem);
	if (IS_ERR(idx))
		return PTR_ERR(idx);

	mutex_lock(&c->publish_lock);
	vexfs_index_unset(c);
	idx->published = ktime_get_real_seconds();
	err = vexfs_index_store(c, idx->buf, len, seq, idx->published,
				idx->reached_all ? VEXFS_VINDEX_REACHED : 0);
	if (err)
		vexfs_index_free(idx);
	else
		err = vexfs_index_install(c, idx, epoch);
	mutex_unlock(&c->publish_lock);
	return err;
}

/* Pages of a streamed graph copied, checked and written at a time. */
#define VEXFS_STREAM_PAGES	64

/*
 * A graph the caller publishes from its memory, as it streams in: g is
 * its header page hdr, opened for a collection of max_slots slots. The
 * header is the caller's first page as it was when g was opened, not as
 * it may be now.
 */
struct vexfs_graph_stream {
	const void __user *src;
	size_t len;
	u32 seq;
	const void *hdr;
	struct vexfs_hnsw_graph g;
	u32 max_slots;
	u64 epoch;			/* of the collection when g was opened */
};

/*
 * Copy the graph into the index inode, a few pages at a time, each page
 * checked as vexfs_hnsw_load() would before it is written: what lands in
 * the page cache is what was checked, whatever the caller does to its
 * buffer meanwhile.
 */
static int vexfs_index_copy_in(struct vexfs_collection *c,
			       const struct vexfs_graph_stream *gs)
{
	size_t chunk = VEXFS_STREAM_PAGES * VEXFS_HNSW_PAGE_SIZE, off, i;
	void *buf = kvmalloc(chunk, GFP_KERNEL_ACCOUNT);
	const char *why = NULL;
	int err = buf ? 0 : -ENOMEM;

	for (off = 0; !err && off < gs->len; off += chunk) {
		size_t n = min(chunk, gs->len - off);

		if (copy_from_user(buf, gs->src + off, n)) {
			err = -EFAULT;
			break;
		}
		if (!off)
			memcpy(buf, gs->hdr, VEXFS_HNSW_PAGE_SIZE);
		for (i = off ? 0 : VEXFS_HNSW_PAGE_SIZE;
		     !err && i + VEXFS_HNSW_PAGE_SIZE <= n;
		     i += VEXFS_HNSW_PAGE_SIZE)
			err = vexfs_hnsw_check_page(&gs->g,
						    (off + i) / VEXFS_HNSW_PAGE_SIZE,
						    buf + i, gs->max_slots, &why);
		if (!err)
			err = vexfs_table_write(c->index_inode, buf, n,
						VEXFS_VINDEX_GRAPH_START + off);
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
		cond_resched();
	}
	if (why)
		pr_info_ratelimited("collection %lu: index refused: %s\n",
				    c->dir->i_ino, why);
	kvfree(buf);
	return err;
}

/*
 * Open the streamed graph from the index inode's pages, proving which
 * nodes a walk reaches, and install it with a header that says whether
 * that is all of them. The caller holds publish_lock.
 */
static int vexfs_index_install_streamed(struct vexfs_collection *c,
					const struct vexfs_graph_stream *gs)
{
	time64_t published = ktime_get_real_seconds();
	struct vexfs_index *idx;
	int err;

	down_read(&c->rwsem);
	idx = vexfs_index_from_pages(c, c->index_inode, gs->len, gs->seq, true);
	up_read(&c->rwsem);
	if (IS_ERR_OR_NULL(idx))
		return idx ? PTR_ERR(idx) : -EUCLEAN;
	idx->published = published;
	err = vexfs_index_write_header(c, gs->len, gs->seq, published,
				       idx->reached_all ? VEXFS_VINDEX_REACHED : 0);
	if (err) {
		vexfs_index_free(idx);
		return err;
	}
	return vexfs_index_install(c, idx, gs->epoch);
}

/*
 * Publish a graph that carries its codes without a copy of it in kernel
 * memory: streamed into the index inode, then opened from its pages, as
 * a mount opens it. The old index is gone before the first page is
 * written, so a graph refused past its header leaves the collection
 * without one (search exact) until the next publish.
 */
static int vexfs_index_publish_stream(struct vexfs_collection *c,
				      const struct vexfs_graph_stream *gs)
{
	int err;

	mutex_lock(&c->publish_lock);
	vexfs_index_unset(c);
	err = vexfs_index_store_begin(c, gs->seq);
	if (!err)
		err = vexfs_index_copy_in(c, gs);
	if (!err)
		err = vexfs_index_settle(c);
	if (!err)
		err = vexfs_index_install_streamed(c, gs);
	mutex_unlock(&c->publish_lock);
	return err;
}

/*
 * Open the caller's header page for c: true in *stream when the graph
 * carries codes, so that it can be streamed.
 */
static int vexfs_index_open_stream(struct vexfs_collection *c,
				   struct vexfs_graph_stream *gs, bool *stream)
{
	const char *why = "change sequence ahead of the collection's";
	int err = -EINVAL;

	down_read(&c->rwsem);
	gs->epoch = c->epoch;
	gs->max_slots = c->nslots;
	if (gs->seq <= c->seq)
		err = vexfs_hnsw_open(gs->hdr, gs->len, gs->max_slots, NULL,
				      &gs->g, &why);
	up_read(&c->rwsem);
	if (err) {
		pr_info_ratelimited("collection %lu: index refused: %s\n",
				    c->dir->i_ino, why);
		return err;
	}
	*stream = gs->g.codes_per_page && gs->g.dim == c->dim &&
		  gs->g.metric == c->metric;
	return 0;
}

/*
 * Publish the graph of len bytes at src, built at change sequence seq.
 * One that carries its codes is streamed (its walk reads it from the
 * inode's pages); any other is copied whole, as its walk needs it whole
 * in memory. The caller holds no collection lock.
 */
int vexfs_index_publish(struct vexfs_collection *c, const void __user *src,
			size_t len, u32 seq)
{
	struct vexfs_graph_stream gs = { .src = src, .len = len, .seq = seq };
	bool stream = false;
	void *buf;
	int err;

	if (len >= VEXFS_HNSW_PAGE_SIZE) {
		buf = kmalloc(VEXFS_HNSW_PAGE_SIZE, GFP_KERNEL_ACCOUNT);
		if (!buf)
			return -ENOMEM;
		gs.hdr = buf;
		err = copy_from_user(buf, src, VEXFS_HNSW_PAGE_SIZE) ? -EFAULT :
		      vexfs_index_open_stream(c, &gs, &stream);
		if (!err && stream)
			err = vexfs_index_publish_stream(c, &gs);
		kfree(buf);
		if (err || stream)
			return err;
	}
	buf = kvmalloc(len, VEXFS_GFP_USER_SIZED);
	if (!buf)
		return -ENOMEM;
	if (copy_from_user(buf, src, len)) {
		kvfree(buf);
		return -EFAULT;
	}
	return vexfs_index_publish_whole(c, buf, len, seq);
}

/*
 * Forget the index in memory and on disk; search is exact until the next
 * publish. Takes publish_lock, starts a handle, then takes c->rwsem: the
 * order publish uses.
 */
int vexfs_index_drop(struct vexfs_collection *c)
{
	struct inode *old = NULL;
	handle_t *handle;
	int err;

	mutex_lock(&c->publish_lock);
	handle = vexfs_journal_begin(c->dir->i_sb, VEXFS_CREDITS_DIROP,
				     VEXFS_REVOKES_DIROP);
	if (IS_ERR(handle)) {
		mutex_unlock(&c->publish_lock);
		return PTR_ERR(handle);
	}
	down_write(&c->rwsem);
	if (!c->index_inode || c->index_detached) {
		err = -ENODATA;
	} else {
		vexfs_index_detach(c);
		err = vexfs_write_header(c);
	}
	old = vexfs_index_set_inode(c, NULL);
	up_write(&c->rwsem);
	err = vexfs_journal_finish(handle, err);
	mutex_unlock(&c->publish_lock);
	iput(old);
	return err;
}

/*
 * The change sequence is about to restart: no index may cover anything
 * any more, and none is named on disk. Under c->rwsem for writing, inside
 * the caller's handle; publish_lock cannot be taken here (it nests
 * outside c->rwsem), hence detach rather than release.
 */
int vexfs_index_forget_all(struct vexfs_collection *c)
{
	bool had = c->index_inode && !c->index_detached;

	lockdep_assert_held_write(&c->rwsem);
	vexfs_index_detach(c);
	c->epoch++;
	return had ? vexfs_write_header(c) : 0;
}

/*
 * Let go of the index when nothing else can use the collection (the
 * directory is leaving memory); with destroy, delete its inode too.
 */
void vexfs_index_release(struct vexfs_collection *c, bool destroy)
{
	vexfs_index_free(c->index);
	c->index = NULL;
	if (!c->index_inode)
		return;
	if (destroy && !c->index_detached) {
		clear_nlink(c->index_inode);
		mark_inode_dirty(c->index_inode);
	}
	iput(c->index_inode);
	c->index_inode = NULL;
	c->index_detached = false;
}

/*
 * A scratch for one search of idx with beam ef: the one the last search
 * left, when it is wide enough, else a new one, prepared here, outside
 * any FPU section (it clears a tag per node). NULL without memory.
 */
struct vexfs_index_scratch *vexfs_index_scratch_take(struct vexfs_index *idx,
						     u32 ef)
{
	u32 ef_max = max_t(u32, ef, VEXFS_DEFAULT_EF);
	struct vexfs_index_scratch *x = NULL;
	size_t size;
	int i;

	for (i = 0; i < VEXFS_INDEX_SPARES && !x; i++)
		x = xchg(&idx->spare[i], NULL);
	if (x && x->s.ef_max >= ef)
		return x;
	kvfree(x);
	size = vexfs_hnsw_scratch_size(&idx->graph, ef_max);
	if (!size)
		return NULL;
	x = kvmalloc(struct_size(x, mem, size), VEXFS_GFP_USER_SIZED);
	if (x && vexfs_hnsw_scratch_init(&x->s, x->mem, size, &idx->graph,
					 ef_max)) {
		kvfree(x);
		x = NULL;
	}
	return x;
}

/* Keep x for a next search of idx, unless enough already are. */
void vexfs_index_scratch_give(struct vexfs_index *idx,
			      struct vexfs_index_scratch *x)
{
	int i;

	for (i = 0; x && i < VEXFS_INDEX_SPARES; i++)
		if (!cmpxchg(&idx->spare[i], NULL, x))
			return;
	kvfree(x);
}

/* Bytes idx holds in memory; 0 for no index. Under c->rwsem. */
u64 vexfs_index_memory(const struct vexfs_index *idx)
{
	u64 walk;

	if (!idx)
		return 0;
	if (idx->pages)		/* the pages held, and where they are */
		walk = (READ_ONCE(idx->held) + 1) * PAGE_SIZE +
		       idx->graph.npages * 2 * sizeof(void *) +
		       idx->graph.dim * sizeof(float);
	else if (idx->codes)
		walk = idx->len + idx->nbits * idx->graph.dim +
		       idx->graph.dim * sizeof(float);
	else
		walk = idx->len + idx->nbits * idx->graph.dim * sizeof(u32);
	return sizeof(*idx) + BITS_TO_LONGS(idx->nbits) * sizeof(long) + walk;
}

/* Live slots the index covers. The caller holds c->rwsem. */
u64 vexfs_index_covered(struct vexfs_collection *c)
{
	u64 slot, n = 0;

	if (!c->index || READ_ONCE(c->index->broken))
		return 0;
	for (slot = 0; slot < c->nslots; slot++)
		n += c->slots[slot].ino && vexfs_slot_covered(c, slot);
	return n;
}
