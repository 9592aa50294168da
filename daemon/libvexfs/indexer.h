/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Building a collection's HNSW index in userspace and publishing it to the
 * kernel: read the vectors (libvexfs_read_vectors), build the graph with
 * lib/hnsw_build.c, publish it (libvexfs_index_publish). Used by
 * `vexfsctl index build` and by vexfsd.
 */
#ifndef VEXFS_INDEXER_H
#define VEXFS_INDEXER_H

#include <stdbool.h>
#include <stdint.h>

struct libvexfs_index_params {
	uint32_t m;			/* links per node; 0: the default (16) */
	uint32_t ef_construction;	/* 0: the default (200) */
	uint32_t threads;		/* 0: one per online CPU */
	/*
	 * Fill neighbour lists with the candidates the heuristic pruned
	 * (hnswlib's keepPrunedConnections), as vexfsd and vexfsctl do by
	 * default. Without it the lists stay as the heuristic leaves them:
	 * about 30% faster to build, fewer distances per visited node, lower
	 * recall at a given ef. The same setting as vexfsd's keep_pruned and
	 * lib/'s struct vexfs_hnsw_build_params.
	 */
	bool keep_pruned;
	uint64_t seed;
	/* Called as work advances: phase "read", "build" or "publish". */
	void (*progress)(void *ctx, const char *phase, uint64_t done,
			 uint64_t total);
	void *ctx;
};

struct libvexfs_index_stats {
	uint64_t vectors;		/* nodes in the published graph */
	uint64_t graph_bytes;
	uint64_t seq;			/* change sequence it was built at */
	double read_seconds;
	double build_seconds;		/* coding the vectors included */
	bool on_codes;			/* built on SQ8 codes, else on floats */
	double publish_seconds;
};

/* Build and publish an index for the collection dirfd. 0 or -errno. */
int libvexfs_index_build(int dirfd, const struct libvexfs_index_params *p,
			 struct libvexfs_index_stats *st);

struct vecio;

/*
 * Build the index of every row of the file v reads (fresh from
 * vecio_open()), taken as slots 0..rows-1: the slots an import of that file in order gives a fresh
 * collection. For a collection too large to build where it is mounted:
 * build here, publish there (libvexfs_index_publish()). *graph (free()
 * it) holds *len bytes; st->seq is 0, the publisher's to give.
 * 0 or -errno (-EINVAL: rows not of floats).
 */
int libvexfs_index_build_rows(struct vecio *v, unsigned int metric,
			      const struct libvexfs_index_params *p,
			      void **graph, uint64_t *len,
			      struct libvexfs_index_stats *st);

struct vexfs_hnsw_graph;

/*
 * Were nodes first..first+n-1 of g built on these n rows? Compared through
 * the SQ8 codes g carries (each row coded with g's coding); a graph
 * without codes carries nothing to compare, and matches. 0, or -EINVAL
 * with the first node that differs in *bad (counted from first).
 */
int libvexfs_index_codes_match(const struct vexfs_hnsw_graph *g, uint32_t first,
			       const float *rows, uint32_t n, uint32_t *bad);

#endif /* VEXFS_INDEXER_H */
