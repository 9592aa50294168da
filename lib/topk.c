// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded max-heap of (id, distance) pairs. heap[0] is the worst entry
 * kept, so deciding whether a new candidate belongs is one comparison, and
 * admitting it costs one sift-down of log2(k) levels.
 *
 * The only floating point here is comparisons; in the kernel this still
 * needs the FPU, hence an FPU unit and the caller's kernel_fpu_begin().
 */
#include "vexfs_topk.h"

/* Total order: by distance, then by id. NaN never reaches the heap. */
static inline bool topk_worse(const struct vexfs_topk_entry *x,
			      const struct vexfs_topk_entry *y)
{
	if (x->dist != y->dist)
		return x->dist > y->dist;
	return x->id > y->id;
}

static inline void topk_swap(struct vexfs_topk_entry *h, unsigned int i,
			     unsigned int j)
{
	struct vexfs_topk_entry tmp = h[i];

	h[i] = h[j];
	h[j] = tmp;
}

static void topk_sift_up(struct vexfs_topk_entry *h, unsigned int i)
{
	while (i > 0) {
		unsigned int parent = (i - 1) / 2;

		if (!topk_worse(&h[i], &h[parent]))
			break;
		topk_swap(h, i, parent);
		i = parent;
	}
}

/* Restore the heap below i, looking only at the first n entries. */
static void topk_sift_down(struct vexfs_topk_entry *h, unsigned int i,
			   unsigned int n)
{
	for (;;) {
		unsigned int worst = i;
		unsigned int l = 2 * i + 1;
		unsigned int r = l + 1;

		if (l < n && topk_worse(&h[l], &h[worst]))
			worst = l;
		if (r < n && topk_worse(&h[r], &h[worst]))
			worst = r;
		if (worst == i)
			break;
		topk_swap(h, i, worst);
		i = worst;
	}
}

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
		topk_sift_up(t->heap, t->n);
		t->n++;
		return true;
	}
	if (t->k == 0 || !topk_worse(&t->heap[0], &e))
		return false;
	t->heap[0] = e;
	topk_sift_down(t->heap, 0, t->n);
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
	unsigned int end;

	/* Move the worst to the back, shrink the heap, repeat. */
	for (end = count; end > 1; end--) {
		topk_swap(t->heap, 0, end - 1);
		topk_sift_down(t->heap, 0, end - 1);
	}
	t->n = 0;
	return count;
}
