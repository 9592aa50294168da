// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: extent trees. Every node is held to the rules the module's
 * vexfs_node_check() applies when it reads one (magic, capacity, depth,
 * entries sorted without overlap, extents of 1..32768 blocks inside the
 * data area), and to the shape its lookups rely on: each child holds only
 * the logical blocks its index entry gives it, up to the next entry, and
 * the leftmost index entries start at block 0.
 *
 * The same walk, quiet, serves later passes that need a file's blocks.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"

#define LBLK_LIMIT	((uint64_t)UINT32_MAX + 1)

/* What a walk says of each fault it finds. */
enum walk_report {
	WALK_QUIET,
	WALK_UNFIXABLE,		/* a problem fsck leaves as it is */
	WALK_EXPLAIN,		/* a line under the question that follows */
};

struct walk {
	struct fsck *f;
	uint64_t ino;
	enum walk_report report;
	const struct fsck_walk *w;
	unsigned int errors;
	unsigned int root_errors;	/* in the root, inside the inode */
};

/* One node being walked: where it is and what its parent allows. */
struct node {
	const uint8_t *buf;
	uint64_t blocknr;	/* 0 for the root, in the inode */
	uint16_t max;
	uint16_t depth;
	uint64_t lo, hi;	/* logical blocks its entries may cover */
	bool leftmost;
};

__attribute__((format(printf, 3, 4)))
static void tree_error(struct walk *c, const struct node *n,
		       const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	c->errors++;
	if (!n->blocknr)
		c->root_errors++;
	if (!c->report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->report == WALK_EXPLAIN && n->blocknr)
		fsck_info(c->f, "Inode %" PRIu64 ", extent block %" PRIu64 " (depth %u): %s.",
			  c->ino, n->blocknr, n->depth, msg);
	else if (c->report == WALK_EXPLAIN)
		fsck_info(c->f, "Inode %" PRIu64 ", extent tree root (depth %u): %s.",
			  c->ino, n->depth, msg);
	else if (n->blocknr)
		fsck_unfixable(c->f, "Inode %" PRIu64 ", extent block %" PRIu64 " (depth %u): %s.",
			       c->ino, n->blocknr, n->depth, msg);
	else
		fsck_unfixable(c->f, "Inode %" PRIu64 ", extent tree root (depth %u): %s.",
			       c->ino, n->depth, msg);
}

static const struct vexfs_extent_header *header(const struct node *n)
{
	return (const struct vexfs_extent_header *)n->buf;
}

static const struct vexfs_extent *extent_at(const struct node *n, int i)
{
	return (const struct vexfs_extent *)(n->buf + 16) + i;
}

static const struct vexfs_extent_index *index_at(const struct node *n, int i)
{
	return (const struct vexfs_extent_index *)(n->buf + 16) + i;
}

static bool header_ok(struct walk *c, const struct node *n)
{
	const struct vexfs_extent_header *eh = header(n);
	uint16_t entries = le16toh(eh->eh_entries);

	if (le16toh(eh->eh_magic) != VEXFS_EXTENT_NODE_MAGIC) {
		tree_error(c, n, "bad node magic 0x%04x", le16toh(eh->eh_magic));
		return false;
	}
	if (le16toh(eh->eh_max) != n->max || entries > n->max ||
	    le16toh(eh->eh_depth) != n->depth) {
		tree_error(c, n, "header gives %u entries, capacity %u, depth %u; expected capacity %u, depth %u",
			   entries, le16toh(eh->eh_max), le16toh(eh->eh_depth),
			   n->max, n->depth);
		return false;
	}
	if (n->depth && !entries) {
		tree_error(c, n, "empty index node");
		return false;
	}
	return true;
}

/* The next entry's start, or the parent's limit for the last entry. */
static uint64_t entry_end_bound(const struct node *n, int i)
{
	if (i + 1 < le16toh(header(n)->eh_entries))
		return le32toh(index_at(n, i + 1)->ei_lblk);
	return n->hi;
}

static void walk_node(struct walk *c, const struct node *n);

static void walk_child(struct walk *c, const struct node *n, int i)
{
	uint64_t child = le64toh(index_at(n, i)->ei_child);
	struct node sub = {
		.blocknr = child,
		.max = VEXFS_EXTENT_NODE_MAX,
		.depth = n->depth - 1,
		.lo = le32toh(index_at(n, i)->ei_lblk),
		.hi = entry_end_bound(n, i),
		.leftmost = n->leftmost && i == 0,
	};
	const uint8_t *buf;
	uint8_t *copy;

	if (c->w && c->w->node)
		c->w->node(c->f, c->w->arg, child);
	buf = fsck_read_node(c->f, child);
	if (!buf) {
		tree_error(c, n, "child block %" PRIu64 " is not a valid extent block (checksum or magic)",
			   child);
		return;
	}
	/* the node cache is shared: each level keeps its own copy */
	copy = malloc(VEXFS_BLOCK_SIZE);
	if (!copy) {
		c->f->aborted = true;
		c->errors++;
		return;
	}
	memcpy(copy, buf, VEXFS_BLOCK_SIZE);
	sub.buf = copy;
	walk_node(c, &sub);
	free(copy);
}

/* Check index entry @i; returns the end of what it covers, or 0 when bad. */
static uint64_t check_index(struct walk *c, const struct node *n, int i)
{
	const struct vexfs_extent_index *ix = index_at(n, i);
	uint64_t lblk = le32toh(ix->ei_lblk);

	if (n->leftmost && i == 0 && lblk != 0) {
		tree_error(c, n, "leftmost index entry starts at block %" PRIu64 ", not 0",
			   lblk);
		return 0;
	}
	if (!fsck_data_block_valid(c->f, le64toh(ix->ei_child), 1)) {
		tree_error(c, n, "index entry %d points at block %" PRIu64 ", outside the data area",
			   i, (uint64_t)le64toh(ix->ei_child));
		return 0;
	}
	return lblk + 1;
}

/* Check extent @i; returns the end of what it covers, or 0 when bad. */
static uint64_t check_extent(struct walk *c, const struct node *n, int i)
{
	const struct vexfs_extent *ex = extent_at(n, i);
	uint64_t lblk = le32toh(ex->ee_lblk);
	uint32_t len = le32toh(ex->ee_len);
	uint64_t pblk = le64toh(ex->ee_pblk);

	if (!len || len > VEXFS_EXTENT_MAX_LEN) {
		tree_error(c, n, "extent %d has length %u", i, len);
		return 0;
	}
	if (!fsck_data_block_valid(c->f, pblk, len)) {
		tree_error(c, n, "extent %d maps blocks %" PRIu64 "-%" PRIu64 ", outside the data area",
			   i, pblk, pblk + len - 1);
		return 0;
	}
	if (lblk + len > n->hi) {
		tree_error(c, n, "extent %d (logical %" PRIu64 "+%u) runs past logical block %" PRIu64,
			   i, lblk, len, n->hi);
		return 0;
	}
	return lblk + len;
}

static void walk_node(struct walk *c, const struct node *n)
{
	uint64_t prev_end = 0, end;
	int i, entries;

	if (!header_ok(c, n))
		return;
	entries = le16toh(header(n)->eh_entries);
	for (i = 0; i < entries; i++) {
		uint64_t lblk = le32toh(extent_at(n, i)->ee_lblk);

		if ((i && lblk < prev_end) || lblk < n->lo || lblk >= n->hi) {
			tree_error(c, n, "entry %d (logical block %" PRIu64 ") is out of order or outside [%" PRIu64 ", %" PRIu64 ")",
				   i, lblk, n->lo, n->hi);
			continue;
		}
		end = n->depth ? check_index(c, n, i) : check_extent(c, n, i);
		if (!end)
			continue;
		prev_end = end;
		if (n->depth) {
			walk_child(c, n, i);
		} else if (c->w && c->w->extent) {
			const struct vexfs_extent *ex = extent_at(n, i);

			c->w->extent(c->f, c->w->arg, (uint32_t)lblk,
				     le64toh(ex->ee_pblk), le32toh(ex->ee_len));
		}
	}
}

static int walk_tree(struct fsck *f, uint64_t ino,
		     const struct vexfs_inode *raw, const struct fsck_walk *w,
		     enum walk_report report)
{
	const struct vexfs_extent_header *eh =
		(const struct vexfs_extent_header *)raw->i_extent_root;
	struct walk c = { .f = f, .ino = ino, .report = report, .w = w };
	struct node root = {
		.buf = raw->i_extent_root,
		.max = VEXFS_EXTENT_ROOT_MAX,
		.depth = le16toh(eh->eh_depth),
		.lo = 0,
		.hi = LBLK_LIMIT,
		.leftmost = true,
	};

	if (root.depth > VEXFS_EXTENT_MAX_DEPTH) {
		tree_error(&c, &root, "tree deeper than %u", VEXFS_EXTENT_MAX_DEPTH);
		return 2;
	}
	walk_node(&c, &root);
	if (c.root_errors)
		return 2;
	return c.errors ? 1 : 0;
}

/*
 * Check @ino's tree, reporting each fault. Returns 0, 1 when faulty, or 2
 * when the root itself (in the inode) is, which the module refuses when
 * it loads the inode.
 */
int fsck_extent_check(struct fsck *f, uint64_t ino,
		      const struct vexfs_inode *raw, const struct fsck_walk *w)
{
	return walk_tree(f, ino, raw, w, WALK_UNFIXABLE);
}

/* Say what is wrong with @ino's tree, for a repair that replaces it. */
void fsck_extent_explain(struct fsck *f, uint64_t ino,
			 const struct vexfs_inode *raw)
{
	walk_tree(f, ino, raw, NULL, WALK_EXPLAIN);
}

/* The same walk without reports (the same result), for a tree already checked. */
int fsck_extent_walk(struct fsck *f, const struct vexfs_inode *raw,
		     const struct fsck_walk *w)
{
	return walk_tree(f, 0, raw, w, WALK_QUIET);
}

/* Last entry of a node whose logical start is <= @lblk, or -1. */
static int node_search(const uint8_t *node, uint32_t lblk)
{
	const struct vexfs_extent_header *eh = (const void *)node;
	const struct vexfs_extent *ex = (const void *)(node + 16);
	int i, found = -1;

	for (i = 0; i < le16toh(eh->eh_entries); i++) {
		if (le32toh(ex[i].ee_lblk) > lblk)
			break;
		found = i;
	}
	return found;
}

/*
 * Physical block of logical block @lblk of a checked tree, 0 for a hole,
 * as the module's lookup finds it. Returns -1 when a node is unreadable.
 */
int fsck_bmap(struct fsck *f, const struct vexfs_inode *raw, uint32_t lblk,
	      uint64_t *pblk)
{
	const uint8_t *node = raw->i_extent_root;
	int depth = le16toh(((const struct vexfs_extent_header *)node)->eh_depth);
	int pos;

	*pblk = 0;
	if (depth > VEXFS_EXTENT_MAX_DEPTH)
		return -1;
	for (; depth > 0; depth--) {
		const struct vexfs_extent_index *ix = (const void *)(node + 16);

		pos = node_search(node, lblk);
		if (pos < 0)
			pos = 0;
		node = fsck_read_node(f, le64toh(ix[pos].ei_child));
		if (!node)
			return -1;
	}
	pos = node_search(node, lblk);
	if (pos >= 0) {
		const struct vexfs_extent *ex =
			(const struct vexfs_extent *)(node + 16) + pos;
		uint32_t start = le32toh(ex->ee_lblk);

		if (lblk - start < le32toh(ex->ee_len))
			*pblk = le64toh(ex->ee_pblk) + (lblk - start);
	}
	return 0;
}

/*
 * Read or write @len bytes at @pos of a file's data. Holes read as
 * zeros; writing into a hole is refused (a repair never needs to).
 */
int fsck_file_io(struct fsck *f, const struct vexfs_inode *raw, uint64_t pos,
		 void *buf, size_t len, bool write)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	uint8_t *p = buf;
	int ret = 0;

	if (!block)
		return -1;
	while (len && !ret) {
		uint32_t off = pos % VEXFS_BLOCK_SIZE;
		size_t n = VEXFS_BLOCK_SIZE - off;
		uint64_t pblk;

		if (n > len)
			n = len;
		ret = fsck_bmap(f, raw, (uint32_t)(pos / VEXFS_BLOCK_SIZE), &pblk);
		if (ret)
			break;
		if (!pblk) {
			memset(block, 0, VEXFS_BLOCK_SIZE);
			ret = write ? -1 : 0;
		} else {
			ret = fsck_read_block(f, pblk, block);
		}
		if (!ret && write) {
			memcpy(block + off, p, n);
			ret = fsck_write_block(f, pblk, block);
		} else if (!ret) {
			memcpy(p, block + off, n);
		}
		p += n;
		pos += n;
		len -= n;
	}
	free(block);
	return ret;
}
