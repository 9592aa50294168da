/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VexFS ioctl ABI: vector collections, vectors on files, batch insert and
 * search.
 *
 * Rules every struct follows, so the ABI can grow without breaking old
 * callers: the first field is `size`, set by the caller to sizeof() of the
 * struct it was compiled with, and the command number encodes the same
 * size. The kernel dispatches on the command's type and number alone and
 * takes the struct as openat2(2) and clone3(2) do: a size below the
 * first version of the struct is -EINVAL; a larger one (a caller built
 * with a newer header) is accepted when every byte past the struct this
 * kernel knows is zero, and refused with -E2BIG otherwise; a smaller one
 * of an earlier version reads as if its missing fields were zero. On
 * output the kernel writes only the part both sides know. Every user pointer travels as a
 * __u64. Reserved fields must be zero on input (-EINVAL otherwise) and
 * are zero on output. All numbers are native-endian (they never reach
 * the disk as-is).
 *
 * Which file descriptor:
 *   VEXFS_IOC_GET_VERSION          any file or directory of a VexFS mount
 *   VEXFS_IOC_CREATE_COLLECTION    an empty-of-vectors directory (needs write access)
 *   VEXFS_IOC_GET_COLLECTION       a collection directory
 *   VEXFS_IOC_BATCH_INSERT         a collection directory (needs write access)
 *   VEXFS_IOC_SEARCH               a collection directory
 *   VEXFS_IOC_SET_VECTOR, _GET_VECTOR, _DEL_VECTOR
 *                                  a regular file in a collection directory
 */
#ifndef _UAPI_LINUX_VEXFS_H
#define _UAPI_LINUX_VEXFS_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VEXFS_ABI_VERSION	1

#define VEXFS_MAX_DIM		4096
#define VEXFS_MAX_K		4096
#define VEXFS_MAX_BATCH		65536	/* entries in one batch insert */
#define VEXFS_MAX_BATCH_BYTES	(256u << 20)	/* vector bytes in one batch insert */
#define VEXFS_ATTR_WORDS	4	/* metadata words beside each vector */

/*
 * A file's vector as extended attributes, so that getfattr, setfattr and
 * cp -a carry it: the vector as little-endian float32, and its id and
 * metadata words as struct vexfs_xattr_meta.
 */
#define VEXFS_XATTR_VECTOR	"user.vexfs.vector"
#define VEXFS_XATTR_META	"user.vexfs.meta"

struct vexfs_xattr_meta {
	__le64 id;
	__le64 attrs[VEXFS_ATTR_WORDS];
};

/* Distance metrics: smaller is closer for all three. */
#define VEXFS_METRIC_L2		1	/* squared Euclidean distance */
#define VEXFS_METRIC_IP		2	/* negated inner product */
#define VEXFS_METRIC_COSINE	3	/* 1 - cosine similarity */

#define VEXFS_ELEM_F32		1	/* IEEE-754 binary32, little-endian on disk */

/* Capabilities reported by VEXFS_IOC_GET_VERSION. */
#define VEXFS_CAP_COLLECTIONS	(1ull << 0)
#define VEXFS_CAP_BATCH_INSERT	(1ull << 1)
#define VEXFS_CAP_EXACT_SEARCH	(1ull << 2)
#define VEXFS_CAP_PREDICATE	(1ull << 3)
#define VEXFS_CAP_HNSW		(1ull << 4)
#define VEXFS_CAP_BPF_FILTER	(1ull << 5)	/* vexfs_ioc_search.filter */
#define VEXFS_CAP_WHERE_AND	(1ull << 6)	/* vexfs_ioc_search.and_where */
#define VEXFS_CAP_MULTI_QUERY	(1ull << 7)	/* nqueries, counts_ptr, and
						 * VEXFS_SEARCH_ATTRS/_VECTORS */

struct vexfs_ioc_version {
	__u32 size;
	__u32 abi_version;		/* out: VEXFS_ABI_VERSION */
	__u64 capabilities;		/* out: VEXFS_CAP_* */
	__u32 max_dim;			/* out */
	__u32 max_k;			/* out */
	__u32 max_batch;		/* out */
	__u32 attr_words;		/* out */
	__u64 reserved[4];
};

struct vexfs_ioc_collection {
	__u32 size;
	__u32 dim;			/* in (create) / out: 1..VEXFS_MAX_DIM */
	__u16 metric;			/* in / out: VEXFS_METRIC_* */
	__u16 elem_type;		/* in / out: VEXFS_ELEM_* */
	__u32 flags;			/* VEXFS_COLLECTION_*; create: 0 */
	__u64 count;			/* out: vectors stored */
	__u64 slots;			/* out: slots in the table, free ones included */
	__u64 bytes;			/* out: bytes of the vector table */
	__u64 unindexed;		/* out: vectors not in a published index */
	__u64 seq;			/* out: change sequence (see READ_VECTORS) */
	__u64 indexed;			/* out: vectors the published index covers */
	__u64 index_time;		/* out: when it was published, seconds
					 * since the epoch; 0: no index, or an
					 * index older than this field */
	__u64 index_memory;		/* out: bytes of memory the published
					 * index holds: its graph, and the
					 * codes or vectors its walk scores */
};

/*
 * vexfs_ioc_collection.flags out of GET_COLLECTION: the published index
 * walks on SQ8 codes (a byte a dimension) and re-ranks with the vectors
 * on disk. Without it, an index walks on a float copy of its vectors.
 */
#define VEXFS_COLLECTION_WALK_CODES	0x1
/*
 * vexfs_ioc_collection.flags into GET_COLLECTION: only dim, metric and
 * elem_type are wanted, and come from the table's header without reading
 * the collection (a search right after a mount need not wait for that);
 * the counts are 0. Set in the answer when that is what it holds.
 * VEXFS_COLLECTION_WALK_CODES in (an answer's buffer used again) is
 * ignored; other flags in are refused.
 */
#define VEXFS_COLLECTION_SHAPE		0x2

/*
 * A vector and its metadata on one file. Replacing a vector keeps its
 * identity unless the caller changes it: on SET, id 0 keeps the id the
 * file's vector has (a file without one gets its inode number), and
 * VEXFS_VEC_KEEP_ATTRS keeps its metadata words (zeroes for a new one).
 */
struct vexfs_ioc_vector {
	__u32 size;
	__u32 dim;			/* must equal the collection's */
	__u64 vector_ptr;		/* float[dim] */
	__u64 id;			/* user id; 0 on SET: keep, or the inode number */
	__u64 attrs[VEXFS_ATTR_WORDS];	/* metadata words, filters read them */
	__u64 flags;			/* SET: VEXFS_VEC_*; GET: 0 */
	__u64 reserved;
};

#define VEXFS_VEC_KEEP_ATTRS	0x1	/* SET: attrs ignored, the file's kept */

/*
 * Batch insert: create `count` regular files in the collection, named by
 * their ids in decimal, each with its vector and metadata.
 *
 * All or nothing: every entry is checked (dimension, finite values, ids
 * unique in the batch and not already present as names) before anything
 * is created; if a check fails, nothing changes, the call fails and
 * error_index holds the first bad entry. If creating fails half-way (no
 * space), the entries created by this call are removed again. On a
 * filesystem with a journal the whole call is one transaction: after a
 * power cut, either every file of the batch is there with its vector, or
 * none is. A batch larger than one transaction can hold fails with E2BIG
 * and error_index = count, nothing changed: split it (libvexfs and the
 * Python package do, each half again all or nothing). Without a journal
 * (images under 128 MiB) a power cut may leave part of a batch.
 *
 * With VEXFS_BATCH_UPSERT, a name that exists as a regular file the
 * caller may write is not an error: its vector is replaced, keeping its
 * id, and its metadata words too unless attrs_ptr is given. The batch is
 * still all or nothing: a failure puts the replaced vectors back.
 */
struct vexfs_ioc_batch_insert {
	__u32 size;
	__u32 dim;
	__u32 count;			/* 1..VEXFS_MAX_BATCH */
	__u32 mode;			/* permission bits of the new files, 0: 0644 */
	__u64 ids_ptr;			/* __u64[count], non-zero */
	__u64 vectors_ptr;		/* float[count * dim] */
	__u64 attrs_ptr;		/* __u64[count * VEXFS_ATTR_WORDS], or 0 */
	__u32 error_index;		/* out: first bad entry, or count */
	__u32 flags;			/* VEXFS_BATCH_* */
	__u64 reserved[4];
};

#define VEXFS_BATCH_UPSERT	0x1	/* replace the vectors of names that exist */

/* Built-in predicate on one metadata word. */
#define VEXFS_PRED_NONE		0
#define VEXFS_PRED_EQ		1	/* attrs[word] == value */
#define VEXFS_PRED_NE		2
#define VEXFS_PRED_LT		3
#define VEXFS_PRED_LE		4
#define VEXFS_PRED_GT		5
#define VEXFS_PRED_GE		6
#define VEXFS_PRED_ALL_BITS	7	/* (attrs[word] & value) == value */
#define VEXFS_PRED_ANY_BITS	8	/* (attrs[word] & value) != 0 */

/* Predicates one search may combine: where and and_where[]. */
#define VEXFS_MAX_WHERE		4

struct vexfs_predicate {
	__u16 op;			/* VEXFS_PRED_* */
	__u16 word;			/* < VEXFS_ATTR_WORDS */
	__u32 reserved;
	__u64 value;
};

struct vexfs_search_result {
	__u64 id;
	__u64 ino;
	float distance;
	__u32 reserved;
};

struct vexfs_ioc_search {
	__u32 size;
	__u32 dim;
	__u32 k;			/* 1..VEXFS_MAX_K */
	__u32 ef;			/* index search breadth; 0: default */
	__u64 query_ptr;		/* float[dim] */
	__u64 results_ptr;		/* struct vexfs_search_result[k] */
	__u32 count;			/* out: results written, best first */
	__u32 flags;			/* VEXFS_SEARCH_* */
	struct vexfs_predicate where;
	__u64 scanned;			/* out: candidates whose distance was computed */
	char filter[16];		/* BPF filter name (vexfs_filter.h), NUL-terminated; "": none */
	__u64 reserved[2];
	/*
	 * More predicates, each of which must hold too (VEXFS_CAP_WHERE_AND);
	 * unused ones are VEXFS_PRED_NONE. A caller built before they
	 * existed passes a shorter struct, and they read as none.
	 */
	struct vexfs_predicate and_where[VEXFS_MAX_WHERE - 1];
	/*
	 * Many queries in one call (VEXFS_CAP_MULTI_QUERY): query_ptr holds
	 * nqueries rows of dim floats, and results_ptr nqueries blocks of k
	 * results, query q's at results_ptr + q * k. counts_ptr, when set,
	 * gets each block's count; count and scanned are the totals. 0 is 1.
	 */
	__u32 nqueries;			/* 0..VEXFS_MAX_QUERIES */
	__u32 reserved2;
	__u64 counts_ptr;		/* __u32[nqueries], out; or 0 */
	/*
	 * What results carry besides id, inode and distance, laid out as
	 * the results are (result i of query q at q * k + i): with
	 * VEXFS_SEARCH_ATTRS the metadata words, with VEXFS_SEARCH_VECTORS
	 * the vector.
	 */
	__u64 attrs_ptr;		/* __u64[nqueries * k][VEXFS_ATTR_WORDS], out */
	__u64 vectors_ptr;		/* float[nqueries * k][dim], out */
};

/* Sizes of the first versions of the structs that grew since. */
#define VEXFS_SEARCH_SIZE_VER0	96	/* up to reserved[] */
#define VEXFS_SEARCH_SIZE_VER1	144	/* up to and_where[] */

#define VEXFS_MAX_QUERIES	65536	/* queries in one search call */

/* vexfs_ioc_search.flags */
#define VEXFS_SEARCH_EXACT	(1u << 0)	/* ignore the index: scan every vector */
#define VEXFS_SEARCH_ATTRS	(1u << 1)	/* results carry metadata words */
#define VEXFS_SEARCH_VECTORS	(1u << 2)	/* results carry their vectors */
#define VEXFS_SEARCH_FLAGS	(VEXFS_SEARCH_EXACT | VEXFS_SEARCH_ATTRS | \
				 VEXFS_SEARCH_VECTORS)

#define VEXFS_DEFAULT_EF	64

/*
 * Index builders read a collection's vectors slot by slot. Every change to
 * a slot advances the collection's change sequence; `seq` says where it
 * stood when these slots were read, and the index published from them
 * names it, so the kernel knows which slots changed since and searches
 * those exactly.
 */
struct vexfs_ioc_read_vectors {
	__u32 size;
	__u32 dim;
	__u64 start;			/* first slot */
	__u32 count;			/* slots wanted, at most VEXFS_MAX_BATCH */
	__u32 returned;			/* out: slots read (fewer at the end) */
	__u64 inos_ptr;			/* out: __u64[count], inode per slot, 0: free */
	__u64 vectors_ptr;		/* out: float[count * dim] */
	__u64 seq;			/* out: change sequence at the read */
	__u64 slots;			/* out: slots in the collection */
	__u64 reserved[2];
};

/*
 * Publish an HNSW graph (include/uapi/vexfs_hnsw.h) built over vectors read
 * at change sequence `seq`. The kernel validates every field and id,
 * stores it in the collection's index inode and swaps it in; searches
 * already running finish on the old graph.
 */
struct vexfs_ioc_publish_index {
	__u32 size;
	__u32 flags;			/* must be 0 */
	__u64 graph_ptr;
	__u64 graph_len;		/* bytes */
	__u64 seq;
	__u64 reserved[4];
};

#define VEXFS_IOC_MAGIC		0xE9

#define VEXFS_IOC_GET_VERSION		_IOWR(VEXFS_IOC_MAGIC, 0x00, struct vexfs_ioc_version)
#define VEXFS_IOC_CREATE_COLLECTION	_IOWR(VEXFS_IOC_MAGIC, 0x01, struct vexfs_ioc_collection)
#define VEXFS_IOC_GET_COLLECTION	_IOWR(VEXFS_IOC_MAGIC, 0x02, struct vexfs_ioc_collection)
#define VEXFS_IOC_SET_VECTOR		_IOW(VEXFS_IOC_MAGIC, 0x03, struct vexfs_ioc_vector)
#define VEXFS_IOC_GET_VECTOR		_IOWR(VEXFS_IOC_MAGIC, 0x04, struct vexfs_ioc_vector)
#define VEXFS_IOC_DEL_VECTOR		_IO(VEXFS_IOC_MAGIC, 0x05)
#define VEXFS_IOC_BATCH_INSERT		_IOWR(VEXFS_IOC_MAGIC, 0x06, struct vexfs_ioc_batch_insert)
#define VEXFS_IOC_SEARCH		_IOWR(VEXFS_IOC_MAGIC, 0x07, struct vexfs_ioc_search)
#define VEXFS_IOC_READ_VECTORS		_IOWR(VEXFS_IOC_MAGIC, 0x08, struct vexfs_ioc_read_vectors)
#define VEXFS_IOC_PUBLISH_INDEX		_IOW(VEXFS_IOC_MAGIC, 0x09, struct vexfs_ioc_publish_index)
#define VEXFS_IOC_DROP_INDEX		_IO(VEXFS_IOC_MAGIC, 0x0a)

#endif /* _UAPI_LINUX_VEXFS_H */
