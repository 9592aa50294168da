// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 5, continued: the HNSW index inodes of collections.
 *
 * A collection's table header names its index inode (vh_index_ino). The
 * index must be a regular inode flagged VEXFS_INODE_VINDEX that no other
 * collection owns, whose header passes the module's vexfs_index_load()
 * checks (magic, checksum, owner, graph length inside the file, zero for
 * a publish cut short by a crash, built at
 * a change sequence the table has reached) and whose graph passes the
 * same loader the module runs, lib/hnsw_load.c, against the table's slot
 * count, dimension and metric. An index that says a walk reaches every
 * node (VEXFS_VINDEX_REACHED: the module then reads it a page at a time
 * and takes every node as covered) must be one.
 *
 * The index is a cache: the module searches exactly whatever it does not
 * cover, and ignores one that fails its checks. So a bad index is dropped
 * (the table header forgets it, the inode is released) and an index inode
 * that no collection names is released; neither loses data.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "fsck.h"
#include "hnsw.h"
#include "ondisk.h"

static uint32_t vindex_csum(const struct vexfs_vindex_header *h)
{
	struct vexfs_vindex_header copy = *h;

	copy.vi_checksum = 0;
	return vexfs_crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

/* NULL when inode ino can be the index of collection dir. */
static const char *index_inode_fault(struct fsck *f, uint64_t dir, uint64_t ino)
{
	const struct fsck_ino *in;

	if (!fsck_ino_valid(f, ino) || ino == dir)
		return "not an inode number";
	in = fsck_ino(f, ino);
	if ((in->state & (INO_USED | INO_BAD)) != INO_USED)
		return "not an inode in use";
	if (!S_ISREG(in->mode) || !(in->flags & VEXFS_INODE_VINDEX))
		return "not an index inode";
	if (in->state & INO_OWNED)
		return "owned by another collection";
	return NULL;
}

static const char *header_fault(const struct vexfs_vindex_header *h,
				const struct vexfs_inode *raw,
				const struct fsck_table_info *t)
{
	uint64_t len = le64toh(h->vi_graph_len);

	if (le32toh(h->vi_magic) != VEXFS_VINDEX_MAGIC)
		return "bad magic";
	if (le32toh(h->vi_checksum) != vindex_csum(h))
		return "checksum mismatch";
	if (le64toh(h->vi_owner) != t->dir)
		return "owned by another directory";
	if (le32toh(h->vi_flags) & ~VEXFS_VINDEX_REACHED)
		return "unknown flags";
	if (!len)
		return NULL;	/* no graph yet: see fsck_check_index() */
	if (len > vexfs_hnsw_bytes_max(t->slots, t->dim))
		return "graph length out of range";
	if (VEXFS_VINDEX_GRAPH_START + len > le64toh(raw->i_size))
		return "graph longer than the inode";
	if (le64toh(h->vi_seq) > t->seq)
		return "built at a change sequence the table never reached";
	return NULL;
}

/* Does a walk of g reach every node? */
static bool reaches_all(struct fsck *f, const struct vexfs_hnsw_graph *g)
{
	uint64_t *seen = calloc(g->node_count / 64 + 1, sizeof(*seen));
	uint32_t *queue = malloc(((size_t)g->node_count + 1) * sizeof(*queue));
	bool all = false;

	if (seen && queue)
		all = vexfs_hnsw_reachable(g, seen, queue) == g->node_count;
	else
		f->aborted = true;
	free(seen);
	free(queue);
	return all;
}

/* Read the graph and run the module's loader on it; NULL when it is good. */
static const char *graph_fault(struct fsck *f, const struct vexfs_inode *raw,
			       const struct vexfs_vindex_header *h,
			       const struct fsck_table_info *t)
{
	uint64_t len = le64toh(h->vi_graph_len);
	struct vexfs_hnsw_graph g;
	const char *why = NULL;
	void *buf;

	buf = aligned_alloc(4096, (len + 4095) & ~4095ull);
	if (!buf) {
		f->aborted = true;
		return "out of memory";
	}
	if (fsck_file_io(f, raw, VEXFS_VINDEX_GRAPH_START, buf, len, false))
		why = "graph unreadable";
	else if (vexfs_hnsw_load(buf, len, t->slots > UINT32_MAX ? UINT32_MAX : (uint32_t)t->slots,
				 &g, &why))
		why = why ? why : "graph refused";
	else if (g.dim != t->dim || g.metric != t->metric)
		why = "dimension or metric differs from the collection's";
	else if ((le32toh(h->vi_flags) & VEXFS_VINDEX_REACHED) && !reaches_all(f, &g))
		why = "says a walk reaches every node, and one does not";
	free(buf);
	return why;
}

/*
 * Release an index inode, unless blocks are shared: then whose blocks are
 * whose is not known, fsck_release_inode() refuses by design, and the
 * inode stays for a later run (reported, not an operational error).
 */
static void release_index(struct fsck *f, uint64_t ino)
{
	if (f->dup_blocks) {
		fsck_unfixable(f, "Index inode %" PRIu64 " is not released while blocks are shared.",
			       ino);
		return;
	}
	if (fsck_release_inode(f, ino))
		fsck_fix_failed(f);
}

/*
 * Forget the index in the table header, as VEXFS_IOC_DROP_INDEX does.
 * Only the header's bytes are written back: the change map after it, in
 * the same block, stays as it is.
 */
static void forget_index(struct fsck *f, const struct fsck_table_info *t)
{
	struct vexfs_vtable_header vh;

	if (fsck_file_io(f, t->raw, 0, &vh, sizeof(vh), false)) {
		fsck_fix_failed(f);
		return;
	}
	vh.vh_index_ino = 0;
	vh.vh_checksum = htole32(vexfs_vtable_csum(&vh));
	if (fsck_file_io(f, t->raw, 0, &vh, sizeof(vh), true))
		fsck_fix_failed(f);
}

void fsck_check_index(struct fsck *f, const struct fsck_table_info *t,
		      uint64_t ino)
{
	struct vexfs_vindex_header h;
	struct vexfs_inode raw;
	const char *fault;

	fault = index_inode_fault(f, t->dir, ino);
	if (fault) {
		/* a damaged inode may be the index: its state is unknown */
		if (fsck_ino_valid(f, ino) && (fsck_ino(f, ino)->state & INO_BAD))
			return;
		if (fsck_fixable(f, "Collection inode %" PRIu64 ": index inode %" PRIu64 " is %s.  Forget the index.",
				 t->dir, ino, fault))
			forget_index(f, t);
		return;
	}
	fsck_ino(f, ino)->state |= INO_OWNED;
	if (fsck_read_inode(f, ino, &raw))
		return;
	fault = "header unreadable";
	if (!fsck_file_io(f, &raw, 0, &h, sizeof(h), false))
		fault = header_fault(&h, &raw, t);
	/*
	 * A zero length is a publish that a crash cut short: the module
	 * writes it, on stable storage, before it overwrites the graph.
	 */
	if (!fault && !h.vi_graph_len)
		return;
	if (!fault)
		fault = graph_fault(f, &raw, &h, t);
	if (f->aborted)
		return;
	if (!fault) {
		f->stats.indexes++;
		return;
	}
	if (!fsck_fixable(f, "Collection inode %" PRIu64 ", index inode %" PRIu64 ": bad index (%s).  Drop the index.",
			  t->dir, ino, fault))
		return;
	forget_index(f, t);
	release_index(f, ino);
}

void fsck_check_orphan_index(struct fsck *f, uint64_t ino)
{
	struct vexfs_inode raw;
	uint64_t dir;

	if (fsck_read_inode(f, ino, &raw))
		return;
	dir = le64toh(raw.i_parent);
	/* its collection may be the damaged inode, or have an unreadable table */
	if (fsck_ino_valid(f, dir) &&
	    (fsck_ino(f, dir)->state & (INO_BAD | INO_TABLE_BAD)))
		return;
	if (f->dup_blocks) {
		fsck_unfixable(f, "Index inode %" PRIu64 " (of directory %" PRIu64 ") belongs to no collection; not released while blocks are shared.",
			       ino, dir);
		return;
	}
	if (!fsck_fixable(f, "Index inode %" PRIu64 " (of directory %" PRIu64 ") belongs to no collection.  Release it.",
			  ino, dir))
		return;
	release_index(f, ino);
}
