/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VexFS HNSW graph format, version 1.
 *
 * The serialized form of a hierarchical navigable small world graph over
 * the vectors of one collection: what the daemon builds, publishes through
 * an ioctl, and the kernel validates, persists in the collection's index
 * inode and searches. It holds only the graph. Vectors stay in the
 * collection's vector table; a node names its vector by slot number, and
 * the searcher looks the slot up. There are no pointers: every reference
 * is a node index (0 .. node_count - 1) or a byte offset from the start of
 * the buffer. Every field is little-endian.
 *
 * The buffer is a run of 4096-byte pages, in sections that each start on a
 * page boundary:
 *
 *   page 0                  header (struct vexfs_hnsw_header), then zeros
 *   h_node_off ...          node table: struct vexfs_hnsw_node per node,
 *                           256 to a page, in node order
 *   h_level0_off ...        level-0 link records, one per node, in node order
 *   h_upper_off ...         upper-level link records, h_upper_count of them
 *   h_sq8_off ...           with VEXFS_HNSW_INCOMPAT_SQ8: the SQ8 coding's
 *                           lo[h_dim] (float32), then zeros
 *   h_codes_off ...         with VEXFS_HNSW_INCOMPAT_SQ8: each node's SQ8
 *                           code (h_dim bytes), h_codes_per_page to a page,
 *                           in node order
 *   h_total_size            end; every section length is a whole number of pages
 *
 * A link record is a count followed by a fixed-capacity array of node
 * indices: h_m0 of them at level 0, h_m on the levels above. Records are
 * packed h_*_per_page to a page and never straddle a page; the bytes after
 * the last record of a page are zero. So record r of a section lives at
 *
 *   off + (r / per_page) * 4096 + (r % per_page) * rec_size
 *
 * and a reader that holds the graph as separate pages (the page cache)
 * rather than one contiguous buffer finds every record inside one page.
 *
 * Node i owns level-0 record i and, when its level L is above 0, the upper
 * records n_upper .. n_upper + L - 1 for levels 1 .. L. Version 1 fixes the
 * order of everything, so a graph has exactly one valid encoding:
 *
 *   - sections follow each other in the order above, with no gaps;
 *   - slots strictly increase with the node index (so no slot appears
 *     twice, and a slot's node is found by binary search);
 *   - n_upper of node i is the sum of the levels of nodes 0 .. i - 1, and
 *     h_upper_count the sum over all nodes;
 *   - a link on level l names a node whose level is at least l;
 *   - the entry point is a node of level h_max_level; an empty graph has
 *     no nodes, h_entry = VEXFS_HNSW_NO_NODE and h_max_level 0;
 *   - reserved fields, flags and unused link entries are zero.
 *
 * The SQ8 codes (lib/vexfs_sq8.h) are what the graph was built on: a
 * reader can walk it on them alone, its vectors left on disk, and re-rank
 * the best by their exact distances. A value is coded as
 * lo[i] + code[i] * step; h_sq8_step holds step as float32 bits, finite
 * and above 0, and every lo[i] is finite. A graph without the feature has
 * neither section and zero in their header fields.
 *
 * Integrity against bit rot is the container's business (the index inode's
 * block checksums); a reader must still treat every byte as hostile and
 * check all of the above before following a single index.
 */
#ifndef _UAPI_LINUX_VEXFS_HNSW_H
#define _UAPI_LINUX_VEXFS_HNSW_H

#include <linux/types.h>

#define VEXFS_HNSW_MAGIC	0x4e485856	/* "VXHN" in byte order */
#define VEXFS_HNSW_VERSION	1
#define VEXFS_HNSW_PAGE_SIZE	4096u
#define VEXFS_HNSW_HEADER_SIZE	256u

#define VEXFS_HNSW_NO_NODE	0xffffffffu	/* no entry point; never a slot */
#define VEXFS_HNSW_MIN_M	2u
#define VEXFS_HNSW_MAX_M	128u		/* links per node above level 0 */
#define VEXFS_HNSW_MAX_M0	(2 * VEXFS_HNSW_MAX_M)
#define VEXFS_HNSW_MAX_LEVEL	32u		/* P(level >= l) = M^-l: plenty */
#define VEXFS_HNSW_MAX_DIM	4096u

/* h_incompat: a reader refuses any bit it does not know. */
#define VEXFS_HNSW_INCOMPAT_SQ8		0x1u	/* SQ8 codes of every node */
#define VEXFS_HNSW_INCOMPAT_SUPP	VEXFS_HNSW_INCOMPAT_SQ8

/* struct vexfs_hnsw_header: 256 bytes at offset 0 of page 0 */
struct vexfs_hnsw_header {
	__le32 h_magic;			/* VEXFS_HNSW_MAGIC */
	__le32 h_version;		/* VEXFS_HNSW_VERSION */
	__le32 h_header_size;		/* VEXFS_HNSW_HEADER_SIZE */
	__le32 h_incompat;		/* feature bits a reader must understand */
	__le32 h_dim;			/* dimension of the vectors, 1..VEXFS_HNSW_MAX_DIM */
	__le16 h_metric;		/* VEXFS_METRIC_* the graph was built with */
	__le16 h_max_level;		/* highest level of any node, <= VEXFS_HNSW_MAX_LEVEL */
	__le16 h_m;			/* link capacity above level 0 */
	__le16 h_m0;			/* link capacity at level 0, 2 * h_m */
	__le32 h_entry;			/* node index where every search starts */
	__le32 h_node_count;		/* nodes, < VEXFS_HNSW_NO_NODE */
	__le32 h_upper_count;		/* records in the upper-level section */
	__le32 h_ef_construction;	/* informational: beam width of the build */
	__le32 h_reserved0;
	__le64 h_seed;			/* informational: seed of the level draw */
	__le64 h_total_size;		/* bytes of the whole graph, pages */
	__le64 h_node_off;		/* node table */
	__le64 h_node_bytes;
	__le64 h_level0_off;		/* level-0 link records */
	__le64 h_level0_bytes;
	__le64 h_upper_off;		/* upper-level link records */
	__le64 h_upper_bytes;
	__le32 h_level0_rec_size;	/* 4 * (1 + h_m0) */
	__le32 h_level0_per_page;	/* 4096 / h_level0_rec_size */
	__le32 h_upper_rec_size;	/* 4 * (1 + h_m) */
	__le32 h_upper_per_page;	/* 4096 / h_upper_rec_size */
	__le64 h_sq8_off;		/* SQ8 lo[], or 0 */
	__le64 h_sq8_bytes;
	__le64 h_codes_off;		/* SQ8 codes, or 0 */
	__le64 h_codes_bytes;
	__le32 h_sq8_step;		/* float32 bits of the step, or 0 */
	__le32 h_codes_per_page;	/* 4096 / h_dim, or 0 */
	__u8   h_reserved[88];
};

/* struct vexfs_hnsw_node: 16 bytes, one per node, 256 to a page */
struct vexfs_hnsw_node {
	__le32 n_slot;			/* the collection slot holding this node's vector */
	__le32 n_upper;			/* its level-1 record in the upper section */
	__le16 n_level;			/* highest level it is linked on */
	__le16 n_flags;			/* none defined, zero */
	__le32 n_reserved;
};

#define VEXFS_HNSW_NODES_PER_PAGE \
	(VEXFS_HNSW_PAGE_SIZE / (unsigned int)sizeof(struct vexfs_hnsw_node))

/* struct vexfs_hnsw_links: 4 bytes + 4 per link of capacity */
struct vexfs_hnsw_links {
	__le32 l_count;			/* links in use, <= capacity of the level */
	__le32 l_ids[];			/* node indices; the unused tail is zero */
};

#define VEXFS_HNSW_REC_SIZE(cap)	(4u * (1u + (cap)))

#ifndef VEXFS_ASSERT_SIZE
#ifdef __KERNEL__
#define VEXFS_ASSERT_SIZE(type, size) BUILD_BUG_ON(sizeof(type) != (size))
#else
#define VEXFS_ASSERT_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type)
#endif
#endif

static inline void vexfs_hnsw_check_layout(void)
{
	VEXFS_ASSERT_SIZE(struct vexfs_hnsw_header, VEXFS_HNSW_HEADER_SIZE);
	VEXFS_ASSERT_SIZE(struct vexfs_hnsw_node, 16);
	VEXFS_ASSERT_SIZE(struct vexfs_hnsw_links, 4);
}

#endif /* _UAPI_LINUX_VEXFS_HNSW_H */
