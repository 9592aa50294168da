// SPDX-License-Identifier: GPL-2.0
/*
 * k-nearest-neighbour search over a collection: the published HNSW graph
 * over the slots it covers, then an exact scan of every other slot (the
 * unindexed tail, and slots changed since the graph was built), both
 * feeding one top-k. Without an index, or with VEXFS_SEARCH_EXACT, the
 * scan covers everything and the answer is exact.
 *
 * The scan runs in chunks. For each chunk, plain integer code picks the
 * candidates (live, readable by the caller, matching the predicate) and
 * reads their records from the table's blocks, which may sleep; then the
 * distances and the top-k update run in search_fpu.c inside one
 * kernel_fpu_begin()/kernel_fpu_end() section. Nothing in that section
 * sleeps, and the chunk bound keeps each section short; the scan yields
 * between chunks. The graph walk scores the copy of the vectors the index
 * keeps (see struct vexfs_index).
 *
 * Read permission is decided from the owner, group and mode kept beside
 * each vector; the final results then pass the full inode_permission()
 * check (LSMs included), which may drop some.
 *
 * A BPF filter (filter.c), when the search names one, is asked last about
 * each candidate, so it only ever sees slots the caller may read. With a
 * filter the index pass is only a first try; the exact scan replaces it
 * (see vexfs_filter_wants_exact()) when the collection is small or the
 * filter turns out to be selective, where a graph walk finds too few of
 * the admitted neighbours.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/slab.h>
#include <asm/fpu/api.h>
#include "vexfs.h"
#include "collection.h"
#include "search_fpu.h"
#include "filter.h"

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

static bool vexfs_where_match(const struct vexfs_search_args *a,
			      const u64 *attrs)
{
	u32 i;

	for (i = 0; i < a->nwhere; i++)
		if (!vexfs_pred_match(&a->where[i], attrs))
			return false;
	return true;
}

/* A live, readable slot: do the predicates, then the filter, take it? */
static bool vexfs_slot_selected(const struct vexfs_search_args *a,
				const struct vexfs_slot *s)
{
	return vexfs_where_match(a, s->attrs) &&
	       (!a->filter || vexfs_filter_admit(a->filter, s));
}

/* A live slot the caller may read and the predicate accepts. */
static bool vexfs_slot_wanted(const struct vexfs_collection *c,
			      const struct vexfs_search_args *a, u64 slot)
{
	const struct vexfs_slot *s = &c->slots[slot];

	return s->ino && vexfs_slot_readable(a, s) && vexfs_slot_selected(a, s);
}

/*
 * The exact pass: every wanted slot the index search did not cover. It
 * runs on every search, and after an indexed search nearly all slots are
 * covered: it jumps over them a word of in_graph at a time, so a fully
 * indexed collection costs a bitmap walk, not a look at every slot.
 */
/* The first slot from i on (end: none before end) idx does not cover. */
static u64 vexfs_next_uncovered(const struct vexfs_index *idx, u64 i, u64 end)
{
	if (!idx || i >= idx->nbits)
		return i;
	return find_next_zero_bit(idx->in_graph, min(end, idx->nbits), i);
}

static u32 vexfs_pick_candidates(struct vexfs_collection *c,
				 const struct vexfs_search_args *a,
				 bool used_index, u64 start, u64 end, u32 *cand)
{
	const struct vexfs_index *idx = used_index ? c->index : NULL;
	u32 n = 0;
	u64 i;

	for (i = start; (i = vexfs_next_uncovered(idx, i, end)) < end; i++)
		if (vexfs_slot_wanted(c, a, i))
			cand[n++] = i;
	return n;
}

/* Slots read on demand: read those the exact pass looks at in [start, end). */
static int vexfs_read_uncovered(struct vexfs_collection *c, bool used_index,
				u64 start, u64 end)
{
	const struct vexfs_index *idx = used_index ? c->index : NULL;
	int err = 0;
	u64 i;

	if (!smp_load_acquire(&c->slots_lazy))
		return 0;
	if (!idx)
		return vexfs_slots_ensure(c, start, end - start);
	for (i = start; !err && (i = vexfs_next_uncovered(idx, i, end)) < end; i++)
		if (!vexfs_slot_ready(c, i))
			err = vexfs_slots_ensure(c, i, 1);
	return err;
}

/* ==== the index pass ==== */

/*
 * Slots not read yet a walk remembers, to read them before the next walk;
 * after this many walks the rest of the table is read at once.
 */
#define VEXFS_WALK_UNREAD	1024
#define VEXFS_WALK_ROUNDS	8

struct vexfs_index_ctx {
	const struct vexfs_collection *c;
	const struct vexfs_search_args *a;
	u64 readable;			/* covered nodes the caller may read */
	u64 wanted;			/* of those, the ones accepted */
	u32 *unread;			/* slots met that were not read */
	u32 nunread;
	bool more_unread;		/* more than unread[] holds */
	u32 rounds;			/* walks that met unread slots */
};

/*
 * A covered slot whose record is not read yet (slots read on demand) is
 * taken as it comes, and remembered; reading cannot happen here, inside
 * an FPU section. Once the walk is over they are read: if each is one the
 * walk takes, the walk stands, else it is done again (vexfs_walk_stands()),
 * so the answer is always that of a walk on the collection read whole.
 */
static bool vexfs_accept_unread(struct vexfs_index_ctx *x, u32 slot)
{
	if (x->unread && x->nunread < VEXFS_WALK_UNREAD)
		x->unread[x->nunread++] = slot;
	else
		x->more_unread = true;
	return true;
}

/* A covered, read slot: does the walk take it, and what does it count? */
static bool vexfs_accept_read(struct vexfs_index_ctx *x,
			      const struct vexfs_slot *s)
{
	bool wanted;

	if (!s->ino || !vexfs_slot_readable(x->a, s))
		return false;
	x->readable++;
	wanted = vexfs_slot_selected(x->a, s);
	x->wanted += wanted;
	return wanted;
}

/* Graph nodes that are stale, dead or unwanted are walked, not returned. */
static bool vexfs_accept(void *ctx, uint32_t slot)
{
	struct vexfs_index_ctx *x = ctx;

	if (!vexfs_slot_covered(x->c, slot))
		return false;
	if (!vexfs_slot_ready(x->c, slot))
		return vexfs_accept_unread(x, slot);
	return vexfs_accept_read(x, &x->c->slots[slot]);
}

/*
 * Read the slots a walk met unread. A walk that goes on meeting more (a
 * caller who may read few of the vectors walks far) gets the whole table
 * after a few rounds, so the rounds end.
 */
static int vexfs_read_unread(struct vexfs_collection *c,
			     struct vexfs_index_ctx *x)
{
	int err = 0;
	u32 i;

	if (++x->rounds >= VEXFS_WALK_ROUNDS || !x->unread)
		return vexfs_slots_ensure(c, 0, c->nslots);
	for (i = 0; i < x->nunread; i++)
		vexfs_slots_readahead(c, x->unread[i]);
	for (i = 0; !err && i < x->nunread; i++)
		err = vexfs_slots_ensure(c, x->unread[i], 1);
	return err;
}

/*
 * Does the walk stand, its unread slots now read? It does when the walk
 * took each as the read slot would have been taken, still covered: then
 * it went as a walk on the collection read whole would have. Not with a
 * filter, whose planner looked at the counts while it walked.
 */
static bool vexfs_walk_stands(struct vexfs_index_ctx *x)
{
	const struct vexfs_slot *slots = x->c->slots;
	u32 i;

	if (x->more_unread || !x->unread || x->a->filter)
		return false;
	for (i = 0; i < x->nunread; i++)
		if (!vexfs_slot_covered(x->c, x->unread[i]) ||
		    !vexfs_accept_read(x, &slots[x->unread[i]]))
			return false;
	return true;
}

/* For the walk to be done again. */
static void vexfs_walk_reset(struct vexfs_index_ctx *x)
{
	x->nunread = 0;
	x->more_unread = false;
	x->readable = x->wanted = 0;
}

/*
 * The planner for filtered searches, in two rules:
 *  - a collection of fewer than VEXFS_FILTER_SMALL * k live vectors is
 *    scanned exactly from the start: the scan costs little there;
 *  - otherwise the graph is walked first, and if the walk returned fewer
 *    than k results, or fewer than 1 in VEXFS_FILTER_SPARSE of the readable
 *    nodes it met were accepted (the predicate and the filter together
 *    are selective), the answer is thrown away and the exact filtered
 *    scan runs instead.
 * Without a filter the index is used as before.
 */
#define VEXFS_FILTER_SMALL	64
#define VEXFS_FILTER_SPARSE	4
/*
 * A walk through a graph whose nodes the filter mostly rejects can cover
 * the whole graph before it holds ef accepted nodes: with a filter it stops
 * after this many distances per unit of ef, and the rules above judge
 * what it found.
 */
#define VEXFS_FILTER_WALK	64
/*
 * The second rule is also checked between steps of the walk, once it has
 * met this many readable nodes: a selective filter shows early, and the
 * walk is abandoned then rather than at its end.
 */
#define VEXFS_FILTER_PROBE	256

static bool vexfs_filter_sparse(const struct vexfs_index_ctx *x)
{
	return x->readable >= VEXFS_FILTER_PROBE &&
	       x->wanted * VEXFS_FILTER_SPARSE < x->readable;
}

/*
 * Live vectors, or while slots are read on demand (and not counted), the
 * graph's nodes: an estimate good enough for the planner.
 */
static u64 vexfs_live_estimate(const struct vexfs_collection *c)
{
	if (smp_load_acquire(&c->slots_lazy))
		return c->index ? c->index->graph.node_count : 0;
	return c->live;
}

static bool vexfs_filter_wants_exact(const struct vexfs_collection *c,
				     const struct vexfs_search_args *a,
				     const struct vexfs_index_ctx *x,
				     u32 found)
{
	if (!a->filter)
		return false;
	if (!x)
		return vexfs_live_estimate(c) < (u64)VEXFS_FILTER_SMALL * a->k;
	return found < a->k || x->wanted * VEXFS_FILTER_SPARSE < x->readable;
}

#define VEXFS_HNSW_BUDGET	512	/* distances per FPU section */
#define VEXFS_RERANK_CHUNK	64	/* candidates re-ranked per FPU section */

/*
 * A walk on codes returns the best it found by estimate: they enter the
 * top k by their exact distances, their vectors read from the table.
 */
static int vexfs_rerank(struct vexfs_collection *c, struct vexfs_scan *scan,
			const struct vexfs_hnsw_result *res, u32 n)
{
	u32 chunk = min_t(u32, n, VEXFS_RERANK_CHUNK), done, i;
	u32 slots[VEXFS_RERANK_CHUNK], order[VEXFS_RERANK_CHUNK];
	u32 *vecs;
	int err = 0;

	vecs = kvmalloc_array((size_t)chunk * c->dim ?: 1, sizeof(u32),
			      VEXFS_GFP_USER_SIZED);
	if (!vecs)
		return -ENOMEM;
	for (done = 0; !err && done < n; done += chunk) {
		u32 m = min(chunk, n - done);

		for (i = 0; i < m; i++)
			slots[i] = res[done + i].slot;
		err = vexfs_read_vectors_of(c, slots, m, order, vecs);
		if (err)
			break;
		vexfs_fpu_begin();
		vexfs_scan_rerank_fpu(scan, res + done, m, vecs);
		vexfs_fpu_end();
	}
	kvfree(vecs);
	return err;
}

/*
 * Run the HNSW graph in bounded FPU sections; merge into scan's top k.
 * On codes, the walk keeps the ef best by estimate for vexfs_rerank().
 * Neither inlined nor cloned, so telemetry can attach to it by name.
 */
static noinline __noclone int
vexfs_search_index(struct vexfs_collection *c,
		   const struct vexfs_search_args *a,
		   struct vexfs_scan *scan, u64 *scanned, bool *redo)
{
	const struct vexfs_index *idx = c->index;
	const struct vexfs_hnsw_graph *g = &idx->graph;
	struct vexfs_index_ctx ctx = { c, a };
	bool on_codes = vexfs_index_walks_codes(idx);
	u32 want = on_codes ? max(a->k, a->ef) : a->k;
	struct vexfs_hnsw_query q = {
		.vector = (const float *)a->query,
		.k = want,
		.ef = a->ef,
		.max_distances = a->filter ? VEXFS_FILTER_WALK * a->ef : 0,
		.distance = scan->distance,
		.ops = scan->ops,
		.vectors = (const float *)idx->vectors,
		.codes = idx->codes,
		.accept = vexfs_accept,
		.ctx = &ctx,
	};
	struct vexfs_sq8_query code_q;
	struct vexfs_index_scratch *x;
	struct vexfs_hnsw_result *res;
	struct vexfs_hnsw_scratch *s;
	s16 *qcode = NULL;
	int err, found;

	/* Without memory for the list, a walk that meets one reads them all. */
	if (smp_load_acquire(&c->slots_lazy))
		ctx.unread = kmalloc_array(VEXFS_WALK_UNREAD, sizeof(u32),
					   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	x = vexfs_index_scratch_take(c->index, a->ef);
	res = kvmalloc_array(want, sizeof(*res), VEXFS_GFP_USER_SIZED);
	if (on_codes)
		qcode = kmalloc_array(c->dim, sizeof(*qcode), GFP_KERNEL_ACCOUNT);
	err = -ENOMEM;
	if (!x || !res || (on_codes && !qcode))
		goto out;
	s = &x->s;

	if (on_codes) {
		vexfs_fpu_begin();
		vexfs_sq8_query_init(&code_q, &idx->sq8, scan->sq8_ops,
				     q.vector, qcode);
		vexfs_fpu_end();
		q.sq8 = &code_q;
	}
walk:
	vexfs_fpu_begin();
	err = vexfs_hnsw_search_start(g, &q, s);
	vexfs_fpu_end();
	while (!err) {
		vexfs_fpu_begin();
		err = vexfs_hnsw_search_step(g, &q, s, VEXFS_HNSW_BUDGET);
		vexfs_fpu_end();
		/* A page of the graph not read yet: read it, go on. */
		if (err == -ENODATA) {
			err = vexfs_index_page_in(c->index, s->missing);
			if (err == -EUCLEAN || err == -EIO) {
				/*
				 * Damage costs speed: this search is exact,
				 * and after a bad page every later one too.
				 */
				if (err == -EUCLEAN)
					WRITE_ONCE(c->index->broken, true);
				*redo = true;
				err = 0;
				goto out;
			}
			cond_resched();
			continue;
		}
		if (err != -EAGAIN)
			break;
		err = 0;
		if (a->filter && vexfs_filter_sparse(&ctx)) {
			*redo = true;
			*scanned += ctx.readable;
			goto out;
		}
		cond_resched();
	}
	if (err)
		goto out;
	if (ctx.nunread || ctx.more_unread) {
		err = vexfs_read_unread(c, &ctx);
		if (err)
			goto out;
		if (!vexfs_walk_stands(&ctx)) {
			vexfs_walk_reset(&ctx);
			goto walk;
		}
	}
	vexfs_fpu_begin();
	found = vexfs_hnsw_search_results(g, &q, s, res);
	vexfs_fpu_end();
	*scanned += ctx.readable;
	err = min(found, 0);
	*redo = found >= 0 && vexfs_filter_wants_exact(c, a, &ctx, found);
	if (found <= 0 || *redo)
		goto out;
	if (on_codes) {
		err = vexfs_rerank(c, scan, res, found);
	} else {
		vexfs_fpu_begin();
		vexfs_scan_merge_fpu(scan, res, found);
		vexfs_fpu_end();
	}
out:
	kfree(ctx.unread);
	kfree(qcode);
	kvfree(res);
	vexfs_index_scratch_give(c->index, x);
	return err < 0 ? err : 0;
}

/*
 * The metadata words and vectors of the n results, copied from their
 * slots under the collection lock, so that they match the distances.
 */
static int vexfs_result_extras(struct vexfs_collection *c,
			       const struct vexfs_scan *scan,
			       struct vexfs_search_out *out, u32 n)
{
	u32 i;
	int err;

	for (i = 0; i < n; i++) {
		u64 slot = scan->entries[i].id;

		if (out->attrs)
			memcpy(out->attrs + i * VEXFS_ATTR_WORDS,
			       c->slots[slot].attrs, sizeof(c->slots[slot].attrs));
		if (out->vectors) {
			err = vexfs_read_vectors(c, slot, 1,
						 out->vectors + i * c->dim);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * The exact pass over every slot the index did not cover, chunk by
 * chunk: the candidates' records are read from the table, then scored.
 */
static int vexfs_search_exact(struct vexfs_collection *c,
			      const struct vexfs_search_args *a,
			      struct vexfs_scan *scan, bool used_index,
			      u64 *scanned)
{
	u32 chunk = clamp_t(u32, VEXFS_SCAN_BYTES / c->rec_size, 1,
			    VEXFS_SCAN_CHUNK);
	void *recs = NULL;
	u32 *cand;
	u64 start;
	int err = 0;

	cand = kmalloc_array(chunk, sizeof(*cand), GFP_KERNEL_ACCOUNT);
	if (!cand)
		return -ENOMEM;
	for (start = 0; start < c->nslots; start += chunk) {
		u64 end = min_t(u64, start + chunk, c->nslots);
		u32 n;

		err = vexfs_read_uncovered(c, used_index, start, end);
		if (err)
			break;
		n = vexfs_pick_candidates(c, a, used_index, start, end, cand);

		/* After an indexed walk, most searches find no candidate. */
		if (n && !recs) {
			recs = kvmalloc_array(chunk, c->rec_size,
					      GFP_KERNEL_ACCOUNT);
			if (!recs) {
				err = -ENOMEM;
				break;
			}
		}
		if (n) {
			err = vexfs_read_records(c, cand[0],
						 cand[n - 1] - cand[0] + 1, recs);
			if (err)
				break;
			vexfs_fpu_begin();
			vexfs_scan_fpu(scan, cand, n, recs);
			vexfs_fpu_end();
			*scanned += n;
		}
		cond_resched();
	}
	kvfree(recs);
	kfree(cand);
	return err;
}

/* Result from moves down to to, what it carries along. */
static void vexfs_result_move(struct vexfs_search_out *out, u32 dim,
			      u32 to, u32 from)
{
	out->results[to] = out->results[from];
	if (out->attrs)
		memmove(out->attrs + to * VEXFS_ATTR_WORDS,
			out->attrs + from * VEXFS_ATTR_WORDS,
			VEXFS_ATTR_WORDS * sizeof(u64));
	if (out->vectors)
		memmove(out->vectors + to * dim, out->vectors + from * dim,
			dim * sizeof(u32));
}

/* Keep only the results the caller may read by the full check. */
static u32 vexfs_final_permission(const struct vexfs_search_args *a,
				  struct vexfs_search_out *out, u32 dim,
				  u32 count)
{
	u32 i, kept = 0;

	for (i = 0; i < count; i++) {
		struct inode *inode = vexfs_iget_how(a->sb,
						     out->results[i].ino,
						     VEXFS_IGET_STALE);

		if (IS_ERR(inode))
			continue;
		if (!inode_permission(a->idmap, inode, MAY_READ))
			vexfs_result_move(out, dim, kept++, i);
		iput(inode);
	}
	return kept;
}

int vexfs_search(struct vexfs_collection *c, struct vexfs_search_args *args,
		 struct vexfs_search_out *out, u32 *count, u64 *scanned)
{
	struct vexfs_scan *scan;
	bool used_index, redo = false;
	int err = 0;

	scan = kvmalloc(struct_size(scan, entries, args->k), VEXFS_GFP_USER_SIZED);
	if (!scan)
		return -ENOMEM;
	*scanned = 0;
	down_read(&c->rwsem);
	vexfs_fpu_begin();
	vexfs_scan_start_fpu(scan, c, args->query, args->k);
	vexfs_fpu_end();
	used_index = !args->exact && c->index && !READ_ONCE(c->index->broken) &&
		     !vexfs_filter_wants_exact(c, args, NULL, 0);
	if (used_index) {
		err = vexfs_search_index(c, args, scan, scanned, &redo);
		if (err)
			goto out;
		used_index = !redo;
		/*
		 * The walk's answer is thrown away: `scanned` tells of the
		 * pass that answers, which sees every readable vector once.
		 */
		if (redo)
			*scanned = 0;
	}
	err = vexfs_search_exact(c, args, scan, used_index, scanned);
	if (err)
		goto out;
	vexfs_fpu_begin();
	*count = vexfs_scan_results_fpu(scan, out->results);
	vexfs_fpu_end();
	err = vexfs_result_extras(c, scan, out, *count);
out:
	up_read(&c->rwsem);
	if (!err)
		*count = vexfs_final_permission(args, out, c->dim, *count);
	kvfree(scan);
	return err;
}
