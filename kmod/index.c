// SPDX-License-Identifier: GPL-2.0
/*
 * Published HNSW indexes of collections.
 *
 * An index builder (vexfsd) reads the vectors, builds a graph in userspace
 * and publishes it. The kernel trusts nothing in it: lib/hnsw_load.c checks
 * every offset, count and id before the graph is used, here and again
 * when it is read back from disk. The graph is stored in a hidden inode of
 * the collection (format in vexfs_fs.h) and swapped in under the
 * collection's rwsem, so searches already running finish on the old graph.
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

/*
 * The largest valid graph over nslots slots: every slot a node on every
 * level, with the widest link records. A longer buffer cannot be a graph
 * of this collection, so it is refused before anything is allocated,
 * whether a caller publishes it or a damaged image says it is that long.
 */
u64 vexfs_graph_bytes_max(u64 nslots)
{
	u64 l0_per_page = VEXFS_HNSW_PAGE_SIZE / VEXFS_HNSW_REC_SIZE(VEXFS_HNSW_MAX_M0);
	u64 up_per_page = VEXFS_HNSW_PAGE_SIZE / VEXFS_HNSW_REC_SIZE(VEXFS_HNSW_MAX_M);
	u64 pages = 1 + DIV_ROUND_UP(nslots, VEXFS_HNSW_NODES_PER_PAGE) +
		    DIV_ROUND_UP(nslots, l0_per_page) +
		    DIV_ROUND_UP(nslots * VEXFS_HNSW_MAX_LEVEL, up_per_page);

	return pages * VEXFS_HNSW_PAGE_SIZE;
}

static void vexfs_index_free(struct vexfs_index *idx)
{
	if (!idx)
		return;
	kvfree(idx->in_graph);
	kvfree(idx->buf);
	kfree(idx);
}

/*
 * Slots changed after the graph was built are not covered by it. The
 * caller holds c->rwsem for writing, or has the collection to itself.
 */
static void vexfs_index_uncover_changed(struct vexfs_collection *c,
					struct vexfs_index *idx)
{
	unsigned long slot;

	for_each_set_bit(slot, idx->in_graph, idx->nbits)
		if (slot >= c->nslots || c->slots[slot].seq > idx->seq)
			__clear_bit(slot, idx->in_graph);
}

/* Validate a graph for c and note the slots it holds. Takes buf. */
static struct vexfs_index *vexfs_index_view(struct vexfs_collection *c,
					    void *buf, size_t len, u32 seq)
{
	struct vexfs_index *idx = kzalloc(sizeof(*idx), GFP_KERNEL);
	const char *why = "out of memory";
	u32 n;
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
				 GFP_KERNEL | __GFP_NOWARN);
	if (!idx->in_graph)
		goto fail;
	for (n = 0; n < idx->graph.node_count; n++)
		__set_bit(vexfs_hnsw_slot(&idx->graph, n), idx->in_graph);
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

int vexfs_index_load(struct vexfs_collection *c, u64 ino)
{
	struct vexfs_vindex_header h;
	struct vexfs_index *idx;
	struct inode *inode;
	u64 len;
	void *buf;
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
	    le64_to_cpu(h.vi_owner) != c->dir->i_ino)
		goto out_put;
	/* A publish was cut short: no graph, the inode is kept for the next. */
	if (!len) {
		c->index_inode = inode;
		return 0;
	}
	if (le64_to_cpu(h.vi_seq) > c->seq ||
	    VEXFS_VINDEX_GRAPH_START + len > i_size_read(inode) ||
	    len > vexfs_graph_bytes_max(c->nslots)) {
		pr_info_ratelimited("collection %lu: index of %llu bytes at seq %llu refused: inode holds %lld, table at seq %u\n",
				    c->dir->i_ino, len, le64_to_cpu(h.vi_seq),
				    i_size_read(inode), c->seq);
		goto out_put;
	}
	err = -ENOMEM;
	buf = kvmalloc(len, GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
	if (!buf)
		goto out_put;
	err = vexfs_table_read(inode, buf, len, VEXFS_VINDEX_GRAPH_START);
	if (err) {
		kvfree(buf);
		goto out_put;
	}
	/* The inode stays referenced either way: a new publish reuses it. */
	c->index_inode = inode;
	idx = vexfs_index_view(c, buf, len, le64_to_cpu(h.vi_seq));
	if (IS_ERR(idx))
		return PTR_ERR(idx);
	vexfs_index_uncover_changed(c, idx);
	c->index = idx;
	return 0;
out_put:
	iput(inode);
	return err;
}

/* Write the index header; a zero length says there is no graph. */
static int vexfs_index_write_header(struct vexfs_collection *c, size_t len,
				    u32 seq)
{
	struct vexfs_vindex_header h = {
		.vi_magic = cpu_to_le32(VEXFS_VINDEX_MAGIC),
		.vi_seq = cpu_to_le64(seq),
		.vi_graph_len = cpu_to_le64(len),
		.vi_owner = cpu_to_le64(c->dir->i_ino),
	};

	h.vi_checksum = cpu_to_le32(vexfs_vindex_csum(&h));
	return vexfs_table_write(c->index_inode, &h, sizeof(h), 0);
}

/* Everything written to the index inode so far is on stable storage. */
static int vexfs_index_settle(struct vexfs_collection *c)
{
	int err = filemap_write_and_wait(c->index_inode->i_mapping);

	return err ? err : vexfs_journal_commit(c->dir->i_sb);
}

/*
 * A new index inode, its "no graph" header and the table header naming it
 * commit together (the header's block is new, so ordered mode writes it
 * before the commit): no crash leaves an index no collection names.
 */
static int vexfs_index_create_inode(struct vexfs_collection *c, u32 seq)
{
	handle_t *handle;
	struct inode *inode;
	int err;

	handle = vexfs_journal_begin(c->dir->i_sb, VEXFS_CREDITS_DIROP, 0);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	inode = vexfs_hidden_inode(c->dir, VEXFS_INODE_VINDEX);
	err = PTR_ERR_OR_ZERO(inode);
	if (!err) {
		c->index_inode = inode;
		err = vexfs_index_write_header(c, 0, seq);
	}
	if (!err) {
		down_write(&c->rwsem);
		err = vexfs_write_header(c);
		up_write(&c->rwsem);
	}
	vexfs_journal_end(handle);
	return err;
}

/*
 * Store the graph in the index inode, creating it on first use. The graph
 * is data, overwritten in place, so a crash must never find a valid
 * header over a half-written graph: the header first says "no graph" on
 * stable storage, then the graph is written and settled, and only then
 * the real header goes out.
 */
static int vexfs_index_store(struct vexfs_collection *c, const void *buf,
			     size_t len, u32 seq)
{
	int err;

	if (!c->index_inode)
		err = vexfs_index_create_inode(c, seq);
	else
		err = vexfs_index_write_header(c, 0, seq);
	if (!err)
		err = vexfs_index_settle(c);
	if (!err)
		err = vexfs_table_write(c->index_inode, buf, len,
					VEXFS_VINDEX_GRAPH_START);
	if (!err)
		err = vexfs_index_settle(c);
	if (!err)
		err = vexfs_index_write_header(c, len, seq);
	return err;
}

/*
 * Publish buf (len bytes, taken over by this call) built at change
 * sequence seq. The caller holds no collection lock.
 */
int vexfs_index_publish(struct vexfs_collection *c, void *buf, size_t len,
			u32 seq)
{
	struct vexfs_index *idx, *old;
	int err;

	down_read(&c->rwsem);
	err = seq > c->seq ? -EINVAL : 0;
	idx = err ? ERR_PTR(err) : vexfs_index_view(c, buf, len, seq);
	up_read(&c->rwsem);
	if (err)
		kvfree(buf);
	if (IS_ERR(idx))
		return PTR_ERR(idx);

	mutex_lock(&c->publish_lock);
	err = vexfs_index_store(c, idx->buf, len, seq);
	if (!err) {
		down_write(&c->rwsem);
		/* Slots added since the view was made are simply not covered. */
		vexfs_index_uncover_changed(c, idx);
		old = c->index;
		c->index = idx;
		up_write(&c->rwsem);
		vexfs_index_free(old);
	} else {
		vexfs_index_free(idx);
	}
	mutex_unlock(&c->publish_lock);
	return err;
}

/*
 * Forget the index in memory and on disk. The caller holds c->rwsem for
 * writing; search is exact until the next publish.
 */
int vexfs_index_drop(struct vexfs_collection *c)
{
	if (!c->index_inode)
		return -ENODATA;
	vexfs_index_release(c, true);
	return vexfs_write_header(c);
}

/* Let go of the index; with destroy, delete its inode too. */
void vexfs_index_release(struct vexfs_collection *c, bool destroy)
{
	vexfs_index_free(c->index);
	c->index = NULL;
	if (!c->index_inode)
		return;
	if (destroy) {
		clear_nlink(c->index_inode);
		mark_inode_dirty(c->index_inode);
	}
	iput(c->index_inode);
	c->index_inode = NULL;
}

/* Live slots the index covers. The caller holds c->rwsem. */
u64 vexfs_index_covered(struct vexfs_collection *c)
{
	u64 slot, n = 0;

	if (!c->index)
		return 0;
	for (slot = 0; slot < c->nslots; slot++)
		n += c->slots[slot].ino && vexfs_slot_covered(c, slot);
	return n;
}
