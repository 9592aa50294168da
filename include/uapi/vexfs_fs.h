/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VexFS on-disk format.
 *
 * Shared by the kernel module, mkfs.vexfs, fsck.vexfs and the tests. Every
 * field is little-endian; every struct has explicit reserved bytes and its
 * size is checked at compile time, so the layout cannot drift silently.
 *
 * Layout of a VexFS image (block size is always 4 KiB):
 *
 *   block 0                 superblock (struct vexfs_super_block at offset 0)
 *   journal_start ...       journal area (reserved, see VEXFS_FEATURE_COMPAT_JOURNAL)
 *   inode_bitmap_start ...  inode bitmap blocks
 *   block_bitmap_start ...  block bitmap blocks (one bit per block of the image)
 *   inode_table_start ...   inode table, VEXFS_INODES_PER_BLOCK inodes a block
 *   data_start ...          data, directory, extent-tree and xattr blocks
 *
 * Inode numbers start at 1 (VEXFS_ROOT_INO); inode n lives at slot n of the
 * inode table and bit n of the inode bitmap. Slot 0 is never used.
 *
 * Checksums are CRC-32C (Castagnoli) without final inversion, as the
 * kernel's crc32c(seed, buf, len) computes them:
 *   superblock  crc32c(VEXFS_CRC_SEED, sb, 512) with s_checksum zero
 *   inode       crc32c(VEXFS_CRC_SEED ^ (u32)ino, inode, 256) with i_checksum zero
 *   block       crc32c(VEXFS_CRC_SEED ^ (u32)blocknr, block, 4096 - 4), i.e. the
 *               payload and t_magic; the result goes in t_checksum
 * Seeding with the inode or block number catches a block written to the
 * wrong place as well as a torn or corrupted one.
 */
#ifndef _UAPI_LINUX_VEXFS_FS_H
#define _UAPI_LINUX_VEXFS_FS_H

#include <linux/types.h>

#define VEXFS_MAGIC		0x56455846	/* "VEXF" */
#define VEXFS_FORMAT_VERSION	1
#define VEXFS_BLOCK_SHIFT	12
#define VEXFS_BLOCK_SIZE	(1u << VEXFS_BLOCK_SHIFT)
#define VEXFS_SUPER_BLOCKNR	0
#define VEXFS_ROOT_INO		1
#define VEXFS_NAME_LEN		255
/* Links to one inode: far below U32_MAX, so that no count can wrap. */
#define VEXFS_LINK_MAX		0x7fffffffU
#define VEXFS_LABEL_LEN		32
#define VEXFS_CRC_SEED		0xFFFFFFFFu

/*
 * Feature masks. A kernel that meets an unknown incompat bit refuses to
 * mount; an unknown ro_compat bit allows a read-only mount only; unknown
 * compat bits are ignored.
 */
#define VEXFS_FEATURE_COMPAT_JOURNAL	(1ull << 0)	/* journal area holds a jbd2 journal */
#define VEXFS_FEATURE_COMPAT_SUPP	0ull
#define VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP (1ull << 0)	/* vector tables keep change maps */
#define VEXFS_FEATURE_RO_COMPAT_SUPP	VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP
#define VEXFS_FEATURE_INCOMPAT_EXTENTS	(1ull << 0)	/* files map blocks with extent trees */
#define VEXFS_FEATURE_INCOMPAT_HTREE	(1ull << 1)	/* directories with hash trees */
#define VEXFS_FEATURE_INCOMPAT_SUPP \
	(VEXFS_FEATURE_INCOMPAT_EXTENTS | VEXFS_FEATURE_INCOMPAT_HTREE)

/* s_state */
#define VEXFS_STATE_CLEAN	0x0001	/* unmounted cleanly */
#define VEXFS_STATE_ERROR	0x0002	/* an inconsistency was seen */

/* struct vexfs_super_block: 512 bytes at offset 0 of block 0 */
struct vexfs_super_block {
	__le32 s_magic;
	__le32 s_checksum;		/* crc32c of these 512 bytes, this field zero */
	__le32 s_format_version;
	__le32 s_block_shift;		/* VEXFS_BLOCK_SHIFT */
	__le64 s_feature_compat;
	__le64 s_feature_ro_compat;
	__le64 s_feature_incompat;
	__le64 s_blocks_count;		/* blocks in the image */
	__le64 s_inodes_count;		/* inode slots, including slot 0 */
	__le64 s_free_blocks;		/* as of the last clean unmount */
	__le64 s_free_inodes;		/* as of the last clean unmount */
	__le64 s_journal_start;
	__le64 s_journal_blocks;
	__le64 s_inode_bitmap_start;
	__le64 s_inode_bitmap_blocks;
	__le64 s_block_bitmap_start;
	__le64 s_block_bitmap_blocks;
	__le64 s_inode_table_start;
	__le64 s_inode_table_blocks;
	__le64 s_data_start;
	__le64 s_root_ino;
	__le64 s_mkfs_time;		/* seconds since the epoch */
	__le64 s_mount_time;
	__le64 s_write_time;
	__le32 s_mount_count;
	__le16 s_state;			/* VEXFS_STATE_* */
	__le16 s_reserved0;
	__u8   s_uuid[16];
	char   s_label[VEXFS_LABEL_LEN];	/* NUL-padded */
	__u8   s_reserved[280];
};

/* Tail of every checksummed metadata block (bitmaps, extent nodes, dirs, xattrs). */
struct vexfs_block_tail {
	__le32 t_magic;			/* which kind of block this is */
	__le32 t_checksum;		/* see the checksum rules above */
};

#define VEXFS_TAIL_SIZE		((unsigned int)sizeof(struct vexfs_block_tail))
#define VEXFS_BLOCK_PAYLOAD	(VEXFS_BLOCK_SIZE - VEXFS_TAIL_SIZE)

#define VEXFS_BITMAP_MAGIC	0x504d4256	/* "VBMP" */
#define VEXFS_EXTENT_MAGIC	0x54584556	/* "VEXT" */
#define VEXFS_DIR_MAGIC		0x52494456	/* "VDIR" */
#define VEXFS_XATTR_MAGIC	0x52544156	/* "VATR" */

/* Bitmap blocks carry this many bits; the rest of the block is the tail. */
#define VEXFS_BITS_PER_BITMAP	(VEXFS_BLOCK_PAYLOAD * 8)

/*
 * Extent trees, in the manner of ext4: the root node lives in the inode,
 * deeper nodes in blocks. A node is a header and an array of 16-byte
 * entries: extents in leaves (depth 0), index entries above.
 */
#define VEXFS_EXTENT_NODE_MAGIC	0xf30b
#define VEXFS_EXTENT_MAX_DEPTH	5
#define VEXFS_EXTENT_MAX_LEN	32768u	/* blocks in one extent */

/* struct vexfs_extent_header: 16 bytes */
struct vexfs_extent_header {
	__le16 eh_magic;		/* VEXFS_EXTENT_NODE_MAGIC */
	__le16 eh_entries;		/* entries in use */
	__le16 eh_max;			/* capacity of this node */
	__le16 eh_depth;		/* 0 for a leaf */
	__le32 eh_reserved[2];
};

/* struct vexfs_extent: 16 bytes, a run of blocks of a file */
struct vexfs_extent {
	__le32 ee_lblk;			/* first logical block */
	__le32 ee_len;			/* number of blocks, 1..VEXFS_EXTENT_MAX_LEN */
	__le64 ee_pblk;			/* first physical block */
};

/* struct vexfs_extent_index: 16 bytes, points at a lower node */
struct vexfs_extent_index {
	__le32 ei_lblk;			/* first logical block covered by the child */
	__le32 ei_reserved;
	__le64 ei_child;		/* block number of the child node */
};

#define VEXFS_EXTENT_ROOT_SIZE	160	/* header + 9 entries, in the inode */
#define VEXFS_EXTENT_ROOT_MAX	((VEXFS_EXTENT_ROOT_SIZE - 16) / 16)
#define VEXFS_EXTENT_NODE_MAX	((VEXFS_BLOCK_PAYLOAD - 16) / 16)

/* struct vexfs_inode: 256 bytes, VEXFS_INODES_PER_BLOCK to a block */
struct vexfs_inode {
	__le16 i_mode;
	__le16 i_flags;
	__le32 i_nlink;
	__le32 i_uid;
	__le32 i_gid;
	__le64 i_size;
	__le64 i_blocks;		/* 4 KiB blocks held, metadata included */
	__le64 i_atime;
	__le64 i_mtime;
	__le64 i_ctime;
	__le32 i_atime_nsec;
	__le32 i_mtime_nsec;
	__le32 i_ctime_nsec;
	__le32 i_generation;
	__le64 i_xattr_block;		/* 0 when the inode has no xattr block */
	__le64 i_parent;		/* directories: the parent's inode number;
					 * files with a vector: their collection */
	__le32 i_aux;			/* device nodes: new_encode_dev();
					 * collections: the vector table's inode;
					 * files with a vector: slot + 1 */
	__le32 i_checksum;		/* see the checksum rules above */
	__u8   i_extent_root[VEXFS_EXTENT_ROOT_SIZE];
};

/* i_flags */
#define VEXFS_INODE_COLLECTION	0x0001	/* directory is a vector collection */
#define VEXFS_INODE_VTABLE	0x0002	/* hidden: a collection's vector table */
#define VEXFS_INODE_VINDEX	0x0004	/* hidden: a collection's HNSW index */
#define VEXFS_INODE_HTREE	0x0008	/* directory: names indexed on disk (below) */
#define VEXFS_INODE_FLAGS_KNOWN	0x000f

#define VEXFS_INODE_SIZE	256
#define VEXFS_INODES_PER_BLOCK	(VEXFS_BLOCK_SIZE / VEXFS_INODE_SIZE)

/*
 * Directory blocks: records in the manner of ext2, never crossing a block,
 * covering the payload exactly; a deleted record's space joins the one
 * before it, or its inode becomes 0 when it is first in the block. "." and
 * ".." are not stored: the parent lives in the directory's inode.
 */
struct vexfs_dirent {
	__le64 d_ino;			/* 0: unused record */
	__le16 d_rec_len;		/* bytes to the next record, multiple of 8 */
	__u8   d_name_len;
	__u8   d_type;			/* DT_* value */
	__le32 d_reserved;
	char   d_name[];		/* not NUL-terminated */
};

#define VEXFS_DIRENT_HEADER	16
#define VEXFS_DIRENT_ALIGN	8
#define VEXFS_DIRENT_SIZE(name_len) \
	((VEXFS_DIRENT_HEADER + (name_len) + VEXFS_DIRENT_ALIGN - 1) & \
	 ~(VEXFS_DIRENT_ALIGN - 1))

/*
 * A directory's hash tree (VEXFS_INODE_HTREE): the name index on disk, so
 * that a lookup reads a few blocks whatever the size of the directory. A
 * B+tree of (hash, entry block) pairs, one per name, kept in the
 * directory's own blocks past its entries: block VEXFS_HTREE_LBLK is the
 * head, node n (1 <= n <= h_nodes) is block VEXFS_HTREE_LBLK + n. Entry
 * blocks are as above and never move, so readdir ignores the tree.
 *
 * A name's hash (its key in the tree) is its value when it is a decimal
 * number below 2^32 without leading zeros (a collection names its files
 * by id: a run of ids then lands in a few neighbouring leaves, and such
 * names never collide), else the low 32 bits of SipHash-2-4 of the name
 * under the head's key (k0 = h_key[0], k1 = h_key[1]), random per
 * directory, so names cannot be chosen to collide without reading the
 * device. Blocks past the last node may be mapped already: the tree maps
 * several at a time as it grows. Within a
 * node pairs are sorted by hash; equal hashes may span nodes. In a node
 * above the leaves a pair's hash is its child's n_low; every hash of a
 * subtree is at least its n_low and at most the next subtree's n_low.
 * Nodes are never freed or merged: a leaf emptied by deletes stays. The
 * first directory to get a tree sets VEXFS_FEATURE_INCOMPAT_HTREE, so a
 * module that does not know trees refuses the filesystem.
 */
#define VEXFS_HTREE_HEAD_MAGIC	0x44485448	/* "HTHD": the head */
#define VEXFS_HTREE_MAGIC	0x45525448	/* "HTRE": a node */
#define VEXFS_HTREE_LBLK	0x40000000u
#define VEXFS_HTREE_MAX_NODES	0x00ffffffu
#define VEXFS_HTREE_MAX_LEVEL	4		/* the root's level at most */

struct vexfs_htree_head {
	__le32 h_root;			/* node number of the root */
	__le32 h_nodes;			/* nodes 1..h_nodes exist */
	__le32 h_level;			/* the root's level; 0: it is a leaf */
	__le32 h_rooms;			/* entries of h_room in use */
	__le64 h_key[2];		/* SipHash key */
	__le32 h_reserved[8];
	__le32 h_room[];		/* entry blocks that may have room */
};

#define VEXFS_HTREE_ROOMS \
	((VEXFS_BLOCK_PAYLOAD - (unsigned int)sizeof(struct vexfs_htree_head)) / 4)

struct vexfs_htree_pair {
	__le32 p_hash;
	__le32 p_ptr;			/* leaf: entry block; above: child node */
};

struct vexfs_htree_node {
	__le16 n_count;			/* pairs in use */
	__le16 n_level;			/* 0: a leaf */
	__le32 n_low;			/* no hash below this in the subtree */
	__le32 n_next;			/* next node of the level, 0: the last */
	__le32 n_reserved;
	struct vexfs_htree_pair n_pair[];
};

#define VEXFS_HTREE_PAIRS \
	((VEXFS_BLOCK_PAYLOAD - (unsigned int)sizeof(struct vexfs_htree_node)) / \
	 (unsigned int)sizeof(struct vexfs_htree_pair))

/*
 * Extended attributes live in one block per inode: a header, then packed
 * entries (name, then value), then the tail.
 */
#define VEXFS_XATTR_INDEX_USER		1
#define VEXFS_XATTR_INDEX_TRUSTED	2

struct vexfs_xattr_header {
	__le32 xh_count;		/* entries in the block */
	__le32 xh_used;			/* bytes used after this header */
	__le64 xh_owner;		/* inode number owning this block */
};

struct vexfs_xattr_entry {
	__u8   xe_name_index;		/* VEXFS_XATTR_INDEX_* */
	__u8   xe_name_len;
	__le16 xe_value_len;
	char   xe_name[];		/* name, then value, then padding to 4 */
};

#define VEXFS_XATTR_ENTRY_SIZE(name_len, value_len) \
	((4 + (name_len) + (value_len) + 3) & ~3u)
#define VEXFS_XATTR_SPACE \
	(VEXFS_BLOCK_PAYLOAD - (unsigned int)sizeof(struct vexfs_xattr_header))

/*
 * A vector kept with its file while the file is in no collection that can
 * hold it (renamed into a plain directory, or into a collection of another
 * dimension or metric): the entry VEXFS_KEPT_NAME of the private index
 * VEXFS_XATTR_INDEX_VECTOR, never listed under that name. Nobody searches
 * it; it reads as user.vexfs.vector and user.vexfs.meta, and goes back
 * into the table of the next collection of its dimension and metric the
 * file is renamed into. A vector set through user.vexfs.vector outside any
 * collection has no metric yet and goes into a collection of any metric.
 */
#define VEXFS_XATTR_INDEX_VECTOR	3
#define VEXFS_KEPT_NAME			"kept"
#define VEXFS_KEPT_ANY_METRIC		0

struct vexfs_kept_vector {
	__le32 kv_dim;			/* 1..VEXFS_KEPT_MAX_DIM */
	__le16 kv_metric;		/* the collection's, or VEXFS_KEPT_ANY_METRIC */
	__le16 kv_reserved;		/* 0 */
	__le64 kv_id;
	__le64 kv_attrs[4];		/* metadata words */
	__le32 kv_vector[];		/* kv_dim little-endian float32 */
};

/* The largest dimension whose vector fits an otherwise empty xattr block. */
#define VEXFS_KEPT_MAX_DIM \
	((VEXFS_XATTR_SPACE - VEXFS_XATTR_ENTRY_SIZE(sizeof(VEXFS_KEPT_NAME) - 1, \
		sizeof(struct vexfs_kept_vector))) / 4)

/*
 * Vector tables. Each collection keeps its vectors in a hidden regular
 * inode (flag VEXFS_INODE_VTABLE, linked from no directory, named by the
 * collection's i_aux): a header in block 0, then fixed-size slot records
 * from VEXFS_VTABLE_DATA_START, each a struct vexfs_vrec followed by the
 * vector (dim little-endian float32). Slot n of a file is its i_aux - 1;
 * a free slot has vr_ino 0. Owner, group and mode are kept beside each
 * vector so search can check read permission without loading inodes.
 */
#define VEXFS_VTABLE_MAGIC	0x42545856	/* "VXTB" */
#define VEXFS_VTABLE_DATA_START	VEXFS_BLOCK_SIZE

struct vexfs_vtable_header {
	__le32 vh_magic;
	__le32 vh_version;		/* 1 */
	__le32 vh_dim;
	__le16 vh_metric;		/* VEXFS_METRIC_* of uapi/vexfs.h */
	__le16 vh_elem_type;		/* VEXFS_ELEM_* */
	__le32 vh_rec_size;		/* sizeof(struct vexfs_vrec) + 4 * dim */
	__le32 vh_checksum;		/* crc32c(VEXFS_CRC_SEED, header), this field zero */
	__le64 vh_owner;		/* the collection directory's inode */
	__le64 vh_slots;		/* slots in use or free below this mark */
	__le64 vh_index_ino;		/* hidden index inode, 0: none */
	__u8   vh_reserved[16];
};

struct vexfs_vrec {
	__le64 vr_ino;			/* file holding this vector, 0: free */
	__le64 vr_id;			/* user id */
	__le64 vr_attrs[4];		/* metadata words */
	__le32 vr_uid;
	__le32 vr_gid;
	__le16 vr_mode;
	__le16 vr_flags;
	__le32 vr_seq;			/* change sequence of the last change */
};

/*
 * The change map, in block 0 of a vector table after its header: for each
 * run of 2^cm_shift slots, a change sequence at least the vr_seq of every
 * slot in it. A run whose entry is not above an index's vi_seq holds no
 * slot changed since that index was built, so a search right after a
 * mount reads the records of the changed runs only, not the whole table.
 *
 * Every write of a record raises its run's entry in the same transaction.
 * When the slots outgrow the entries, cm_shift grows by one and pairs of
 * entries merge into their larger. A table without a map (cm_magic 0:
 * made by an older module) is read whole, as before, and gets its map at
 * its next change. The first map written sets
 * VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP: a module that would change records
 * without keeping their maps mounts the filesystem read-only only.
 */
#define VEXFS_CHANGE_MAP_MAGIC	0x50414d43	/* "CMAP" */
#define VEXFS_CHANGE_MAP_OFFSET	sizeof(struct vexfs_vtable_header)
#define VEXFS_CHANGE_MAP_ENTRIES \
	((VEXFS_BLOCK_SIZE - sizeof(struct vexfs_vtable_header) - 16) / 4)
#define VEXFS_CHANGE_MAP_MAX_SHIFT	32

struct vexfs_change_map {
	__le32 cm_magic;
	__le32 cm_checksum;		/* crc32c(VEXFS_CRC_SEED, map), this field zero */
	__le16 cm_shift;		/* 2^cm_shift slots an entry */
	__le16 cm_reserved;
	__le32 cm_reserved2;
	__le32 cm_seq[VEXFS_CHANGE_MAP_ENTRIES];
};

/*
 * Change sequences run from 0 to VEXFS_SEQ_MAX. The collection restarts
 * them below every number an index could carry before they would pass it,
 * so a larger vr_seq or vi_seq on disk is corruption.
 */
#define VEXFS_SEQ_MAX		0xfffffffeu

/*
 * Index inodes: this header in block 0, the serialized graph from
 * VEXFS_VINDEX_GRAPH_START. A slot is covered by the index when the graph
 * holds it and its vr_seq is not above vi_seq; other slots are searched
 * exactly.
 */
#define VEXFS_VINDEX_MAGIC	0x58495856	/* "VXIX" */
#define VEXFS_VINDEX_GRAPH_START	VEXFS_BLOCK_SIZE

struct vexfs_vindex_header {
	__le32 vi_magic;
	__le32 vi_checksum;		/* crc32c(VEXFS_CRC_SEED, header), this field zero */
	__le64 vi_seq;			/* change sequence the graph was built at */
	__le64 vi_graph_len;		/* bytes of the graph */
	__le64 vi_owner;		/* the collection directory's inode */
	__le64 vi_published;		/* seconds since the epoch; 0: unknown */
	__le32 vi_flags;		/* VEXFS_VINDEX_* */
	__u8   vi_reserved[20];
};

/*
 * A walk reaches every node of the graph from its entry point: checked
 * when it was published. Such a graph, if it carries SQ8 codes, is read a
 * page at a time as walks need it; any other is read whole at mount and
 * the nodes a walk reaches are found again.
 */
#define VEXFS_VINDEX_REACHED	0x1u

#ifdef __KERNEL__
#define VEXFS_ASSERT_SIZE(type, size) BUILD_BUG_ON(sizeof(type) != (size))
#else
#define VEXFS_ASSERT_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type)
#endif

static inline void vexfs_check_layout(void)
{
	VEXFS_ASSERT_SIZE(struct vexfs_super_block, 512);
	VEXFS_ASSERT_SIZE(struct vexfs_block_tail, 8);
	VEXFS_ASSERT_SIZE(struct vexfs_extent_header, 16);
	VEXFS_ASSERT_SIZE(struct vexfs_extent, 16);
	VEXFS_ASSERT_SIZE(struct vexfs_extent_index, 16);
	VEXFS_ASSERT_SIZE(struct vexfs_inode, VEXFS_INODE_SIZE);
	VEXFS_ASSERT_SIZE(struct vexfs_dirent, VEXFS_DIRENT_HEADER);
	VEXFS_ASSERT_SIZE(struct vexfs_htree_head, 64);
	VEXFS_ASSERT_SIZE(struct vexfs_htree_node, 16);
	VEXFS_ASSERT_SIZE(struct vexfs_htree_pair, 8);
	VEXFS_ASSERT_SIZE(struct vexfs_xattr_header, 16);
	VEXFS_ASSERT_SIZE(struct vexfs_xattr_entry, 4);
	VEXFS_ASSERT_SIZE(struct vexfs_kept_vector, 48);
	VEXFS_ASSERT_SIZE(struct vexfs_vtable_header, 64);
	VEXFS_ASSERT_SIZE(struct vexfs_change_map,
			  VEXFS_BLOCK_SIZE - sizeof(struct vexfs_vtable_header));
	VEXFS_ASSERT_SIZE(struct vexfs_vrec, 64);
	VEXFS_ASSERT_SIZE(struct vexfs_vindex_header, 64);
}

#endif /* _UAPI_LINUX_VEXFS_FS_H */
