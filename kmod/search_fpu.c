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
	scan->sq8_ops = vexfs_sq8_select(vexfs_cpu_flags());
	scan->c = c;
	scan->query = (const float *)query;
	scan->distance = vexfs_distance_fn_of(ops, c->metric);
	vexfs_topk_init(&scan->topk, scan->entries, k);
}

/*
 * Score candidates into the top k, their vectors in recs: the table's
 * records of slots cand[0] to cand[n - 1], read by vexfs_search().
 */
void vexfs_scan_fpu(struct vexfs_scan *scan, const u32 *cand, u32 n,
		    const void *recs)
{
	const struct vexfs_collection *c = scan->c;
	u32 i;

	for (i = 0; i < n; i++) {
		const void *rec = recs + (size_t)(cand[i] - cand[0]) * c->rec_size;
		const float *v = rec + sizeof(struct vexfs_vrec);

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

/*
 * Take the candidates of a walk on codes into the top k by their exact
 * distances: vecs holds their vectors, read from the table.
 */
void vexfs_scan_rerank_fpu(struct vexfs_scan *scan,
			   const struct vexfs_hnsw_result *res, u32 n,
			   const u32 *vecs)
{
	u32 dim = scan->c->dim, i;

	for (i = 0; i < n; i++)
		vexfs_topk_push(&scan->topk, res[i].slot,
				scan->distance(scan->query,
					       (const float *)vecs + (size_t)i * dim,
					       dim));
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
