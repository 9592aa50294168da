// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded max-heap (vexfs_heap.h) of (id, distance) pairs. heap[0] is the
 * worst entry kept, so deciding whether a new candidate belongs is one
 * comparison, and admitting it costs one sift-down of log2(k) levels.
 *
 * The only floating point here is comparisons; in the kernel this still
 * needs the FPU, hence an FPU unit and the caller's kernel_fpu_begin().
 */
#include "vexfs_heap.h"
#include "vexfs_topk.h"

/* Total order: by distance, then by id. NaN never reaches the heap. */
static inline bool topk_worse(const struct vexfs_topk_entry *x,
			      const struct vexfs_topk_entry *y)
{
	if (x->dist != y->dist)
		return x->dist > y->dist;
	return x->id > y->id;
}

VEXFS_HEAP_DEFINE(topk_heap, struct vexfs_topk_entry, topk_worse)

void vexfs_topk_init(struct vexfs_topk *t, struct vexfs_topk_entry *storage,
		     unsigned int k)
{
	t->heap = storage;
	t->k = k;
	t->n = 0;
}

bool vexfs_topk_push(struct vexfs_topk *t, uint64_t id, float dist)
{
	struct vexfs_topk_entry e = { .id = id, .dist = dist };

	if (dist != dist)	/* NaN: no place in the order */
		return false;
	if (t->n < t->k) {
		t->heap[t->n] = e;
		topk_heap_up(t->heap, t->n);
		t->n++;
		return true;
	}
	if (t->k == 0 || !topk_worse(&t->heap[0], &e))
		return false;
	t->heap[0] = e;
	topk_heap_down(t->heap, 0, t->n);
	return true;
}

unsigned int vexfs_topk_push_array(struct vexfs_topk *t, const uint64_t *ids,
				   const float *dist, unsigned int n)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++)
		kept += vexfs_topk_push(t, ids[i], dist[i]);
	return kept;
}

float vexfs_topk_worst(const struct vexfs_topk *t)
{
	if (t->k == 0)
		return -__builtin_inff();
	if (t->n < t->k)
		return __builtin_inff();
	return t->heap[0].dist;
}

unsigned int vexfs_topk_extract(struct vexfs_topk *t)
{
	unsigned int count = t->n;

	/* The worst to the back, the heap one shorter, until best first. */
	topk_heap_sort(t->heap, count);
	t->n = 0;
	return count;
}
