/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The binary heap of the vector core, over an array the caller owns.
 *
 * A heap is an element type and an "above" rule: above(x, y) is true when
 * x belongs nearer the root than y. VEXFS_HEAP_DEFINE(name, type, above)
 * defines the two moves every heap operation is made of:
 *
 *   name_up(h, i)       h[i] rises while it is above its parent
 *   name_down(h, i, n)  h[i] sinks, among h[0..n), while a child is above it
 *   name_sort(h, n)     heap sort: the root to the back, n times, so h[0..n)
 *                       ends in the opposite order (a max-heap: best first)
 *
 * Push is "append, then up"; pop is "last to the root, then down"; replace
 * the root is "store, then down". Both moves keep the element in hand and
 * shift the others, one store per level.
 *
 * The moves are __always_inline and call the rule directly, so a search's
 * inner loop pays no indirect call. Every heap of lib/ orders by distance,
 * then by id (see hnsw_cand.h and topk.c); since its rules compare floats,
 * in the kernel a heap runs only inside an FPU section. This header itself
 * holds no floating point.
 */
#ifndef VEXFS_HEAP_H
#define VEXFS_HEAP_H

#include "vexfs_types.h"

#define VEXFS_HEAP_DEFINE(name, type, above)				\
static __always_inline void name##_up(type *h, size_t i)		\
{									\
	type e = h[i];							\
									\
	while (i > 0) {							\
		size_t parent = (i - 1) / 2;				\
									\
		if (!above(&e, &h[parent]))				\
			break;						\
		h[i] = h[parent];					\
		i = parent;						\
	}								\
	h[i] = e;							\
}									\
									\
static __always_inline void name##_down(type *h, size_t i, size_t n)	\
{									\
	type e = h[i];							\
									\
	for (;;) {							\
		size_t child = 2 * i + 1;				\
									\
		if (child >= n)						\
			break;						\
		if (child + 1 < n && above(&h[child + 1], &h[child]))	\
			child++;					\
		if (!above(&h[child], &e))				\
			break;						\
		h[i] = h[child];					\
		i = child;						\
	}								\
	h[i] = e;							\
}									\
									\
static __always_inline void name##_sort(type *h, size_t n)		\
{									\
	size_t end;							\
									\
	for (end = n; end > 1; end--) {					\
		type root = h[0];					\
									\
		h[0] = h[end - 1];					\
		h[end - 1] = root;					\
		name##_down(h, 0, end - 1);				\
	}								\
}

#endif /* VEXFS_HEAP_H */
