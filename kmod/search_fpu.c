// SPDX-License-Identifier: GPL-2.0
/*
 * Distances and top-k selection for search, compiled as an FPU unit.
 * Only called inside kernel_fpu_begin()/kernel_fpu_end() (see search.c).
 */
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include "vexfs.h"
#include "collection.h"
#include "search_fpu.h"

static unsigned int vexfs_cpu_flags(void)
{
	unsigned int flags = VEXFS_CPU_SSE2;

	if (boot_cpu_has(X86_FEATURE_AVX) &&
	    cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM, NULL))
		flags |= VEXFS_CPU_AVX;
	if (boot_cpu_has(X86_FEATURE_AVX2))
		flags |= VEXFS_CPU_AVX2;
	if (boot_cpu_has(X86_FEATURE_FMA))
		flags |= VEXFS_CPU_FMA;
	return flags;
}

void vexfs_scan_start_fpu(struct vexfs_scan *scan,
			  const struct vexfs_collection *c, const u32 *query,
			  u32 k)
{
	const struct vexfs_distance_ops *ops;

	ops = vexfs_distance_select(vexfs_cpu_flags());
	scan->ops = ops;
	scan->c = c;
	scan->query = (const float *)query;
	scan->distance = vexfs_distance_fn_of(ops, c->metric);
	vexfs_topk_init(&scan->topk, scan->entries, k);
}

/*
 * Score candidates into the top k. A run of consecutive slots (the common
 * case: a chunk with no free, filtered or covered slot) goes through the
 * batch kernel, which streams the vectors with no call per vector.
 */
void vexfs_scan_fpu(struct vexfs_scan *scan, const u32 *cand, u32 n)
{
	const struct vexfs_collection *c = scan->c;
	u32 i;

	if (n && cand[n - 1] - cand[0] == n - 1) {
		vexfs_distance_batch(scan->ops, c->metric, scan->query,
				     (const float *)vexfs_slot_vector(c, cand[0]),
				     n, c->dim, scan->dist);
		for (i = 0; i < n; i++)
			scan->ids[i] = cand[0] + i;
		vexfs_topk_push_array(&scan->topk, scan->ids, scan->dist, n);
		return;
	}
	for (i = 0; i < n; i++) {
		const float *v = (const float *)vexfs_slot_vector(c, cand[i]);

		vexfs_topk_push(&scan->topk, cand[i],
				scan->distance(scan->query, v, c->dim));
	}
}

/* Take the index search's results into the top k. */
void vexfs_scan_merge_fpu(struct vexfs_scan *scan,
			  const struct vexfs_hnsw_result *res, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		vexfs_topk_push(&scan->topk, res[i].slot, res[i].dist);
}

u32 vexfs_scan_results_fpu(struct vexfs_scan *scan,
			   struct vexfs_search_result *results)
{
	const struct vexfs_collection *c = scan->c;
	u32 n = vexfs_topk_extract(&scan->topk), i;

	for (i = 0; i < n; i++) {
		const struct vexfs_slot *s = &c->slots[scan->entries[i].id];

		results[i].id = s->id;
		results[i].ino = s->ino;
		results[i].distance = scan->entries[i].dist;
		results[i].reserved = 0;
	}
	return n;
}
