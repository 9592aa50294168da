/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The floating-point half of search. An FPU unit may use SSE registers in
 * any function it compiles, so every function here runs only between
 * kernel_fpu_begin() and kernel_fpu_end(); allocation happens outside.
 */
#ifndef _VEXFS_SEARCH_FPU_H
#define _VEXFS_SEARCH_FPU_H

#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include "../lib/vexfs_distance.h"
#include "../lib/vexfs_topk.h"
#include "../lib/hnsw.h"
#include "../lib/vexfs_sq8.h"

struct vexfs_collection;
struct vexfs_search_result;

/*
 * kernel_fpu_begin(), then MXCSR as it sets it but with the inexact flag
 * already raised. The flag is sticky status only (its exception stays
 * masked), so no result changes; a process's MXCSR has it set after its
 * first inexact operation anyway. It matters under QEMU's TCG, which
 * computes SSE/AVX arithmetic with the host's FPU only once inexact is
 * set: kernel_fpu_begin() clears it, and a search whose arithmetic is
 * exact (integer-valued vectors such as SIFT's, under L2) was then
 * emulated operation by operation, about three times slower than the
 * same code in userspace.
 */
#define VEXFS_MXCSR_PE		0x0020	/* precision (inexact) flag */

static inline void vexfs_fpu_begin(void)
{
	u32 mxcsr = MXCSR_DEFAULT | VEXFS_MXCSR_PE;

	kernel_fpu_begin();
	asm volatile("ldmxcsr %0" : : "m" (mxcsr));
}

static inline void vexfs_fpu_end(void)
{
	kernel_fpu_end();
}

/*
 * Slots the exact scan takes per FPU section, at most: their records are
 * read from the table first, at most VEXFS_SCAN_BYTES of them.
 */
#define VEXFS_SCAN_CHUNK	256
#define VEXFS_SCAN_BYTES	(64 * 1024)

struct vexfs_scan {
	const struct vexfs_collection *c;
	const float *query;
	const struct vexfs_distance_ops *ops;
	vexfs_distance_fn distance;
	const struct vexfs_sq8_ops *sq8_ops;	/* for a walk on codes */
	struct vexfs_topk topk;
	struct vexfs_topk_entry entries[];
};

void vexfs_scan_start_fpu(struct vexfs_scan *scan,
			  const struct vexfs_collection *c, const u32 *query,
			  u32 k);
void vexfs_scan_fpu(struct vexfs_scan *scan, const u32 *cand, u32 n,
		    const void *recs);
void vexfs_scan_merge_fpu(struct vexfs_scan *scan,
			  const struct vexfs_hnsw_result *res, u32 n);
void vexfs_scan_rerank_fpu(struct vexfs_scan *scan,
			   const struct vexfs_hnsw_result *res, u32 n,
			   const u32 *vecs);
u32 vexfs_scan_results_fpu(struct vexfs_scan *scan,
			   struct vexfs_search_result *results);

#endif /* _VEXFS_SEARCH_FPU_H */
