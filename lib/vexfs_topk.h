/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The k best (smallest distance) candidates of a search, kept in a bounded
 * max-heap whose root is the worst one kept, in storage the caller owns.
 *
 * Candidates are ordered by distance, then by id, so the kept set and its
 * order do not depend on the order of the pushes. A NaN distance is never
 * kept. Ids are not checked for duplicates; the caller pushes each once.
 *
 * Comparing floats uses the FPU: in the kernel, call these only between
 * kernel_fpu_begin() and kernel_fpu_end(). vexfs_topk_push() and
 * vexfs_topk_worst() pass floats by value, so only FPU units may call
 * them; the other functions pass only pointers and integers.
 */
#ifndef VEXFS_TOPK_H
#define VEXFS_TOPK_H

#include "vexfs_types.h"

/* Not an ABI struct: copy the fields out, never the padding. */
struct vexfs_topk_entry {
	uint64_t id;
	float dist;
};

struct vexfs_topk {
	struct vexfs_topk_entry *heap;	/* caller's storage, k entries */
	unsigned int k;			/* capacity */
	unsigned int n;			/* entries in use */
};

void vexfs_topk_init(struct vexfs_topk *t, struct vexfs_topk_entry *storage,
		     unsigned int k);

/* Offer one candidate; true if it is now among the k best. */
bool vexfs_topk_push(struct vexfs_topk *t, uint64_t id, float dist);

/* Offer ids[i] with dist[i] for each i < n; returns how many were kept. */
unsigned int vexfs_topk_push_array(struct vexfs_topk *t, const uint64_t *ids,
				   const float *dist, unsigned int n);

/*
 * The distance a candidate must not exceed to be kept: +inf while fewer
 * than k are held, -inf when k is 0. A candidate equal to it is kept only
 * if its id is smaller than the worst one's.
 */
float vexfs_topk_worst(const struct vexfs_topk *t);

static inline unsigned int vexfs_topk_count(const struct vexfs_topk *t)
{
	return t->n;
}

/*
 * Sort the kept entries best first in place (heap sort) and return their
 * number. The storage then holds the results and the heap is empty; call
 * vexfs_topk_init() again before reusing it.
 */
unsigned int vexfs_topk_extract(struct vexfs_topk *t);

#endif /* VEXFS_TOPK_H */
