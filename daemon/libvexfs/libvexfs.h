/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvexfs: a small C client library over the VexFS vector ioctls
 * (include/uapi/vexfs.h).
 *
 * Each function wraps one ioctl: it fills the argument struct (size first,
 * reserved fields zero), issues the call and copies the answer out. Every
 * function returns 0 on success or a negative errno, never -1 with errno,
 * so callers can pass the result straight to strerror(-err).
 *
 * Which descriptor each call wants:
 *   libvexfs_version          any file or directory of a VexFS mount
 *   libvexfs_collection_*     a directory (O_RDONLY | O_DIRECTORY is enough;
 *                             creating needs ownership of it)
 *   libvexfs_batch_insert     a collection directory (write access)
 *   libvexfs_batch_upsert     a collection directory (write access)
 *   libvexfs_search           a collection directory
 *   libvexfs_read_vectors     a collection directory (CAP_DAC_READ_SEARCH)
 *   libvexfs_index_*          a collection directory (its owner, or
 *                             CAP_DAC_READ_SEARCH), with write access
 *   libvexfs_vector_*         a regular file in a collection directory
 *                             (set/del: opened for writing, or writable)
 *
 * Every function carries the prefix libvexfs_, so none shares a name with
 * a function of the module; nothing else in userspace issues these ioctls.
 */
#ifndef LIBVEXFS_H
#define LIBVEXFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "uapi/vexfs.h"

struct libvexfs_version {
	uint32_t abi_version;
	uint64_t capabilities;		/* VEXFS_CAP_* */
	uint32_t max_dim;
	uint32_t max_k;
	uint32_t max_batch;
	uint32_t attr_words;
};

struct libvexfs_collection_info {
	uint32_t dim;
	unsigned int metric;		/* VEXFS_METRIC_* */
	unsigned int elem_type;		/* VEXFS_ELEM_* */
	uint64_t count;			/* vectors stored */
	uint64_t slots;			/* table slots, free ones included */
	uint64_t bytes;			/* size of the vector table */
	uint64_t unindexed;		/* vectors not in a published index */
	uint64_t indexed;		/* vectors the published index covers */
	uint64_t seq;			/* change sequence */
	uint64_t index_time;		/* the index's publish time (epoch s); 0: none */
	uint64_t index_memory;		/* bytes the published index holds in memory */
	bool walk_codes;		/* its walk scores SQ8 codes, not floats */
};

/* ABI version, capabilities and limits of the module behind fd. */
int libvexfs_version(int fd, struct libvexfs_version *info);

/* Make the directory dirfd a collection of float32 vectors. */
int libvexfs_collection_create(int dirfd, uint32_t dim, unsigned int metric);

int libvexfs_collection_info(int dirfd, struct libvexfs_collection_info *info);
/*
 * Only dim, metric and elem_type (the rest 0), read from the table's
 * header: cheap right after a mount, where the full answer reads the
 * whole collection.
 */
int libvexfs_collection_shape(int dirfd, struct libvexfs_collection_info *info);

/*
 * Give the file fd a vector of dim floats (dim must be the collection's),
 * a user id (0: keep the id of the vector the file has, or the inode
 * number for a new one) and VEXFS_ATTR_WORDS metadata words (NULL: keep
 * the file's, or zeroes). Replaces any vector the file had.
 */
int libvexfs_vector_set(int fd, const float *vec, uint32_t dim, uint64_t id,
			const uint64_t *attrs);

/*
 * Read the file's vector into vec[dim]; id and attrs[VEXFS_ATTR_WORDS]
 * may be NULL. -ENODATA when the file has no vector.
 */
int libvexfs_vector_get(int fd, float *vec, uint32_t dim, uint64_t *id,
			uint64_t *attrs);
/*
 * The vector of the file at path through its xattrs (user.vexfs.vector and
 * user.vexfs.meta), wherever the file is: in a collection, or kept with it
 * in none. *vec is malloc'ed, *dim its length. -ENODATA without one.
 */
int libvexfs_vector_read_xattrs(const char *path, float **vec, uint32_t *dim,
				uint64_t *id, uint64_t *attrs);

/* Remove the file's vector; the file itself stays. */
int libvexfs_vector_del(int fd);

/*
 * Create count files in the collection dirfd, named by ids[i] in decimal,
 * with vectors[i * dim ...] and attrs[i * VEXFS_ATTR_WORDS ...] (attrs may
 * be NULL). mode: permission bits of the new files, 0 for 0644.
 *
 * All or nothing. On failure *error_index (if not NULL) is the first
 * entry the kernel blamed, or count when no single entry was at fault
 * (wrong dimension for all, no memory, ...).
 */
int libvexfs_batch_insert(int dirfd, const uint64_t *ids, const float *vectors,
			  const uint64_t *attrs, uint32_t count, uint32_t dim,
			  mode_t mode, uint32_t *error_index);

/*
 * libvexfs_batch_insert(), except that a name that exists is no error
 * when it is a file whose vector is in this collection: its vector is
 * replaced, keeping its id, and its metadata unless attrs is given.
 */
int libvexfs_batch_upsert(int dirfd, const uint64_t *ids, const float *vectors,
			  const uint64_t *attrs, uint32_t count, uint32_t dim,
			  mode_t mode, uint32_t *error_index);

/*
 * The k nearest vectors of the collection dirfd to query[dim], best
 * first, into results[k]. where may be NULL (no predicate). *count gets
 * the number of results (fewer than k when fewer vectors qualify);
 * scanned (may be NULL) the number of distances computed.
 */
int libvexfs_search(int dirfd, const float *query, uint32_t dim, uint32_t k,
		    const struct vexfs_predicate *where,
		    struct vexfs_search_result *results, uint32_t *count,
		    uint64_t *scanned);

/* How a search runs: HNSW breadth, and whether to bypass the index. */
struct libvexfs_search_opts {
	uint32_t ef;			/* 0: the kernel's default */
	uint32_t flags;			/* VEXFS_SEARCH_* (EXACT) */
	const char *filter;		/* BPF filter name (docs/filters.md), or NULL */
	/* Predicates that must hold beside where (VEXFS_CAP_WHERE_AND). */
	const struct vexfs_predicate *and_where;
	uint32_t n_and_where;		/* at most VEXFS_MAX_WHERE - 1 */
	/*
	 * libvexfs_search_many(): threads that each send a share of the
	 * queries (0 or 1: the caller alone), at most LIBVEXFS_MAX_THREADS.
	 */
	uint32_t threads;
};

#define LIBVEXFS_MAX_THREADS	64

/* libvexfs_search() with options; opts may be NULL. */
int libvexfs_search_opt(int dirfd, const float *query, uint32_t dim, uint32_t k,
			const struct vexfs_predicate *where,
			const struct libvexfs_search_opts *opts,
			struct vexfs_search_result *results, uint32_t *count,
			uint64_t *scanned);

/*
 * Where many queries' answers go: query q's results at results + q * k
 * and their number in counts[q]; with attrs, each result's metadata words
 * (VEXFS_ATTR_WORDS per result, laid out as the results), with vectors
 * each result's vector (dim floats per result).
 */
struct libvexfs_search_out {
	struct vexfs_search_result *results;	/* [nqueries * k] */
	uint32_t *counts;			/* [nqueries] */
	uint64_t *attrs;			/* [nqueries * k * VEXFS_ATTR_WORDS], or NULL */
	float *vectors;				/* [nqueries * k * dim], or NULL */
	uint64_t scanned;			/* out: distances computed, in all */
};

/*
 * The k nearest vectors of each of nqueries rows of queries[nqueries *
 * dim], in as few calls as the kernel allows (VEXFS_CAP_MULTI_QUERY), or
 * in opts->threads parallel shares of them. where and opts as for
 * libvexfs_search_opt().
 */
int libvexfs_search_many(int dirfd, const float *queries, uint32_t nqueries,
			 uint32_t dim, uint32_t k,
			 const struct vexfs_predicate *where,
			 const struct libvexfs_search_opts *opts,
			 struct libvexfs_search_out *out);

/* "l2", "ip", "cosine", or NULL for a number that is no metric. */
/*
 * Read up to @count slots from @start: the inode of each (0 for a free
 * slot) into @inos[count], its vector into @vectors[count * dim]. Sets
 * *returned (fewer than @count at the end of the table) and *seq, the
 * change sequence the read saw.
 */
int libvexfs_read_vectors(int dirfd, uint32_t dim, uint64_t start,
			  uint32_t count, uint64_t *inos, float *vectors,
			  uint32_t *returned, uint64_t *seq);

/*
 * Publish a serialized HNSW graph (include/uapi/vexfs_hnsw.h) built over
 * vectors read at change sequence @seq.
 */
int libvexfs_index_publish(int dirfd, const void *graph, uint64_t len,
			   uint64_t seq);

/* Drop the collection's index: search becomes exact. */
int libvexfs_index_drop(int dirfd);

const char *libvexfs_metric_name(unsigned int metric);

/* The VEXFS_METRIC_* of a name above (any case), or -EINVAL. */
int libvexfs_metric_parse(const char *name);

#endif /* LIBVEXFS_H */
