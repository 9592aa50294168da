// SPDX-License-Identifier: GPL-2.0
/*
 * Exact k-nearest-neighbour search over a collection.
 *
 * The scan runs in chunks. For each chunk, plain integer code picks the
 * candidates (live, readable by the caller, matching the predicate); then
 * the distances and the top-k update run in search_fpu.c inside one
 * kernel_fpu_begin()/kernel_fpu_end() section. Nothing in that section
 * sleeps, and the chunk bound keeps each section short; the scan yields
 * between chunks.
 *
 * Read permission is decided from the owner, group and mode kept beside
 * each vector; the final results then pass the full inode_permission()
 * check (LSMs included), which may drop some.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/slab.h>
#include <asm/fpu/api.h>
#include "vexfs.h"
#include "collection.h"
#include "search_fpu.h"

#define VEXFS_SCAN_CHUNK	256

static bool vexfs_pred_match(const struct vexfs_predicate *p, const u64 *attrs)
{
	u64 v = attrs[p->word];

	switch (p->op) {
	case VEXFS_PRED_NONE:		return true;
	case VEXFS_PRED_EQ:		return v == p->value;
	case VEXFS_PRED_NE:		return v != p->value;
	case VEXFS_PRED_LT:		return v < p->value;
	case VEXFS_PRED_LE:		return v <= p->value;
	case VEXFS_PRED_GT:		return v > p->value;
	case VEXFS_PRED_GE:		return v >= p->value;
	case VEXFS_PRED_ALL_BITS:	return (v & p->value) == p->value;
	case VEXFS_PRED_ANY_BITS:	return (v & p->value) != 0;
	}
	return false;
}

/* The DAC read check of generic_permission(), from the slot's copy. */
static bool vexfs_slot_readable(const struct vexfs_search_args *a,
				const struct vexfs_slot *s)
{
	if (a->may_read_all)
		return true;
	if (uid_eq(s->uid, a->cred->fsuid))
		return s->mode & S_IRUSR;
	if (in_group_p(s->gid))
		return s->mode & S_IRGRP;
	return s->mode & S_IROTH;
}

static u32 vexfs_pick_candidates(struct vexfs_collection *c,
				 const struct vexfs_search_args *a,
				 u64 start, u64 end, u32 *cand)
{
	u32 n = 0;
	u64 i;

	for (i = start; i < end; i++) {
		const struct vexfs_slot *s = &c->slots[i];

		if (s->ino && vexfs_pred_match(&a->where, s->attrs) &&
		    vexfs_slot_readable(a, s))
			cand[n++] = i;
	}
	return n;
}

/* Keep only the results the caller may read by the full check. */
static u32 vexfs_final_permission(const struct vexfs_search_args *a,
				  struct vexfs_search_result *res, u32 count)
{
	u32 i, kept = 0;

	for (i = 0; i < count; i++) {
		struct inode *inode = vexfs_iget(a->sb, res[i].ino);

		if (IS_ERR(inode))
			continue;
		if (!inode_permission(a->idmap, inode, MAY_READ))
			res[kept++] = res[i];
		iput(inode);
	}
	return kept;
}

int vexfs_search(struct vexfs_collection *c, struct vexfs_search_args *args,
		 struct vexfs_search_result *results, u32 *count, u64 *scanned)
{
	struct vexfs_scan *scan;
	u32 *cand;
	u64 start;

	cand = kmalloc_array(VEXFS_SCAN_CHUNK, sizeof(*cand), GFP_KERNEL);
	scan = kvmalloc(struct_size(scan, entries, args->k), GFP_KERNEL);
	if (!cand || !scan) {
		kfree(cand);
		kvfree(scan);
		return -ENOMEM;
	}
	*scanned = 0;
	down_read(&c->rwsem);
	kernel_fpu_begin();
	vexfs_scan_start_fpu(scan, c, args->query, args->k);
	kernel_fpu_end();
	for (start = 0; start < c->nslots; start += VEXFS_SCAN_CHUNK) {
		u64 end = min_t(u64, start + VEXFS_SCAN_CHUNK, c->nslots);
		u32 n = vexfs_pick_candidates(c, args, start, end, cand);

		if (n) {
			kernel_fpu_begin();
			vexfs_scan_fpu(scan, cand, n);
			kernel_fpu_end();
			*scanned += n;
		}
		cond_resched();
	}
	kernel_fpu_begin();
	*count = vexfs_scan_results_fpu(scan, results);
	kernel_fpu_end();
	up_read(&c->rwsem);

	*count = vexfs_final_permission(args, results, *count);
	kvfree(scan);
	kfree(cand);
	return 0;
}
