/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The order of HNSW candidates (struct vexfs_hnsw_cand, hnsw.h) and the
 * two heaps over it, shared by the search (hnsw_search.c) and the builder
 * (hnsw_build.c): nearer first, then the lower node, a total order, so a
 * walk does not depend on the order its neighbours are read in.
 *
 *   near_heap  a min-heap: the nearest on top (the nodes to expand)
 *   far_heap   a max-heap: the farthest on top (the best ef so far)
 *
 * It compares floats: in the kernel, include it only in FPU units.
 */
#ifndef VEXFS_HNSW_CAND_H
#define VEXFS_HNSW_CAND_H

#include "hnsw.h"
#include "vexfs_heap.h"

static __always_inline bool vexfs_hnsw_cand_before(const struct vexfs_hnsw_cand *a,
						   const struct vexfs_hnsw_cand *b)
{
	/* One expression, no branch for a heap's sift to mispredict. */
	return a->dist < b->dist || (a->dist == b->dist && a->node < b->node);
}

static __always_inline bool hnsw_cand_farther(const struct vexfs_hnsw_cand *a,
					      const struct vexfs_hnsw_cand *b)
{
	return vexfs_hnsw_cand_before(b, a);
}

VEXFS_HEAP_DEFINE(near_heap, struct vexfs_hnsw_cand, vexfs_hnsw_cand_before)
VEXFS_HEAP_DEFINE(far_heap, struct vexfs_hnsw_cand, hnsw_cand_farther)

#endif /* VEXFS_HNSW_CAND_H */
