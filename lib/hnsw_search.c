// SPDX-License-Identifier: GPL-2.0
/*
 * Searching a checked HNSW graph (see hnsw.h for the design).
 *
 * A search is a small state machine kept in the scratch, so it can stop
 * after any neighbour list and resume later:
 *
 *   ENTER    score the entry point.
 *   DESCEND  greedy walk on levels max_level .. 1: move to the nearest
 *            neighbour while one is nearer than the current node.
 *   BEAM     best-first search on level 0 from where the walk ended: expand
 *            the nearest unexpanded candidate; a neighbour joins the
 *            candidates while fewer than ef accepted nodes are known or it
 *            is nearer than the worst of them, and joins the results too if
 *            the accept callback agrees. Stop when the nearest candidate is
 *            farther than the worst of ef results, when no candidate is
 *            left, or when the effort bound is reached.
 *   DONE     the results heap holds the answer.
 *
 * Every page the search reads was checked, all at once by
 * vexfs_hnsw_load() or each by vexfs_hnsw_check_page(), so links are
 * followed without further bounds checks. Over separate pages, a node is
 * expanded only once every page its expansion reads is in memory: if one
 * is not, the step returns -ENODATA before that expansion touches
 * anything (no visited mark, no pop), with the page in s->missing, and
 * the same expansion runs when the caller has read it and steps again. Heaps order entries by distance, then by
 * node index (which orders slots too), so equal distances never make the
 * outcome depend on memory layout.
 *
 * An FPU unit: in the kernel every function here runs between
 * kernel_fpu_begin() and kernel_fpu_end().
 */
#include "hnsw_cand.h"
#include "vexfs_sq8.h"

#define HNSW_PHASE_IDLE		0	/* not started, or results taken */
#define HNSW_PHASE_ENTER	1
#define HNSW_PHASE_DESCEND	2
#define HNSW_PHASE_BEAM		3
#define HNSW_PHASE_DONE		4

/* ==== Heaps of (node, distance): hnsw_cand.h ==== */

/* The farthest candidate of a full min-heap: one of the leaves. */
static uint32_t cand_farthest(const struct vexfs_hnsw_scratch *s)
{
	uint32_t i, worst = s->ncand / 2;

	for (i = worst + 1; i < s->ncand; i++)
		if (vexfs_hnsw_cand_before(&s->cand[worst], &s->cand[i]))
			worst = i;
	return worst;
}

/*
 * Once ef results are held, a candidate farther than the worst of them
 * will never be expanded: drop all such, and heapify what is left.
 */
static void cand_compact(struct vexfs_hnsw_scratch *s)
{
	uint32_t i, n = 0;

	if (s->nres < s->ef)
		return;
	for (i = 0; i < s->ncand; i++)
		if (vexfs_hnsw_cand_before(&s->cand[i], &s->res[0]))
			s->cand[n++] = s->cand[i];
	s->ncand = n;
	for (i = n / 2; i > 0; i--)
		near_heap_down(s->cand, i - 1, n);
}

/*
 * Add a candidate. When the heap is full, first drop the hopeless ones;
 * if it is still full, drop the farthest.
 */
static void cand_push(struct vexfs_hnsw_scratch *s, uint32_t node, float dist)
{
	struct vexfs_hnsw_cand c = { .node = node, .dist = dist };
	uint32_t i;

	if (s->ncand == s->cand_cap)
		cand_compact(s);
	if (s->ncand < s->cand_cap) {
		i = s->ncand++;
	} else {
		i = cand_farthest(s);
		if (!vexfs_hnsw_cand_before(&c, &s->cand[i]))
			return;
	}
	s->cand[i] = c;
	near_heap_up(s->cand, i);
}

static struct vexfs_hnsw_cand cand_pop(struct vexfs_hnsw_scratch *s)
{
	struct vexfs_hnsw_cand top = s->cand[0];

	s->cand[0] = s->cand[--s->ncand];
	if (s->ncand)
		near_heap_down(s->cand, 0, s->ncand);
	return top;
}

/* Add an accepted node to the ef best, dropping the worst when full. */
static void res_push(struct vexfs_hnsw_scratch *s, uint32_t node, float dist)
{
	struct vexfs_hnsw_cand c = { .node = node, .dist = dist };

	if (s->nres < s->ef) {
		s->res[s->nres] = c;
		far_heap_up(s->res, s->nres++);
	} else if (vexfs_hnsw_cand_before(&c, &s->res[0])) {
		s->res[0] = c;
		far_heap_down(s->res, 0, s->nres);
	}
}

/* Whether a node at dist could still improve the results. */
static inline bool res_wants(const struct vexfs_hnsw_scratch *s, float dist)
{
	return s->nres < s->ef || dist < s->res[0].dist;
}

/* ==== Distances ==== */

static inline bool hnsw_accepts(const struct vexfs_hnsw_query *q,
				uint32_t slot)
{
	return !q->accept || q->accept(q->ctx, slot);
}

/* The vector of a slot, or NULL when it has none any more. */
static inline const float *hnsw_vector(const struct vexfs_hnsw_graph *g,
				       const struct vexfs_hnsw_query *q,
				       uint32_t slot)
{
	if (q->vectors)
		return q->vectors + (size_t)slot * g->dim;
	return q->vector_of(q->ctx, slot);
}

/* A walk on codes with no vectors at all: the caller re-ranks. */
static inline bool hnsw_codes_only(const struct vexfs_hnsw_query *q)
{
	return q->sq8 && !q->vectors && !q->vector_of;
}

/* Does a slot hold a vector? Without vectors, every coded slot does. */
static inline bool hnsw_present(const struct vexfs_hnsw_graph *g,
				const struct vexfs_hnsw_query *q,
				uint32_t slot)
{
	return hnsw_codes_only(q) || hnsw_vector(g, q, slot);
}

/* Node n's code: the caller's by slot, else the graph's own. */
static inline const uint8_t *hnsw_code(const struct vexfs_hnsw_graph *g,
				       const struct vexfs_hnsw_query *q,
				       uint32_t n, uint32_t slot)
{
	if (q->codes)
		return q->codes + (size_t)slot * g->dim;
	return vexfs_hnsw_code(g, n);
}

/*
 * Distance from the query to node n, estimated from its code when the
 * walk runs on codes; +inf when its slot has no vector.
 */
static float hnsw_node_dist(const struct vexfs_hnsw_graph *g,
			    const struct vexfs_hnsw_query *q,
			    struct vexfs_hnsw_scratch *s, uint32_t n)
{
	uint32_t slot = vexfs_hnsw_slot(g, n);
	const float *v;

	if (q->sq8) {
		if (!hnsw_present(g, q, slot))
			return __builtin_inff();
		s->distances++;
		return vexfs_sq8_estimate(q->sq8, hnsw_code(g, q, n, slot));
	}
	v = hnsw_vector(g, q, slot);
	if (!v)
		return __builtin_inff();
	s->distances++;
	return q->distance(q->vector, v, g->dim);
}

/*
 * Distances from the query to the nb vectors gathered in the batch, into
 * batch_dist. Only values below bound matter: at or above it, any value
 * at least bound may come back (vexfs_distance_within_fn).
 */
static void hnsw_score_batch(const struct vexfs_hnsw_graph *g,
			     const struct vexfs_hnsw_query *q,
			     struct vexfs_hnsw_scratch *s, uint32_t nb,
			     float bound)
{
	uint32_t i;

	s->distances += nb;
	if (q->sq8) {
		q->sq8->ops->list(q->sq8, s->batch_code, nb, bound,
				  s->batch_dist);
		return;
	}
	if (q->ops) {
		q->ops->list(g->metric, q->vector,
			     s->batch_vec, nb, g->dim, bound, s->batch_dist);
		return;
	}
	for (i = 0; i < nb; i++)
		s->batch_dist[i] = q->distance(q->vector, s->batch_vec[i],
					       g->dim);
}

/* The bound of a neighbour worth a place: the worst of ef results. */
static inline float res_bound(const struct vexfs_hnsw_scratch *s)
{
	return s->nres < s->ef ? __builtin_inff() : s->res[0].dist;
}

/* ==== Pages in memory ==== */

/* Is page p in memory? If not, say so in s->missing. */
static bool hnsw_has_page(const struct vexfs_hnsw_graph *g,
			  struct vexfs_hnsw_scratch *s, uint64_t p)
{
	if (vexfs_hnsw_page(g, p))
		return true;
	s->missing = p;
	return false;
}

/* Node n's entry, and its code if the walk reads the graph's codes. */
static bool hnsw_has_node(const struct vexfs_hnsw_graph *g,
			  const struct vexfs_hnsw_query *q,
			  struct vexfs_hnsw_scratch *s, uint32_t n)
{
	return hnsw_has_page(g, s, vexfs_hnsw_node_page(g, n)) &&
	       (!q->sq8 || q->codes ||
		hnsw_has_page(g, s, vexfs_hnsw_code_page(g, n)));
}

/*
 * Everything expanding node n on level l reads: its entry, its links and
 * the entry (and code) of every node they name. Always so in one buffer.
 */
static bool hnsw_can_expand(const struct vexfs_hnsw_graph *g,
			    const struct vexfs_hnsw_query *q,
			    struct vexfs_hnsw_scratch *s, uint32_t n,
			    uint32_t l)
{
	const struct vexfs_hnsw_links *links;
	uint32_t count, i;

	if (g->base)
		return true;
	if (!hnsw_has_node(g, q, s, n) ||
	    !hnsw_has_page(g, s, vexfs_hnsw_links_page(g, n, l)))
		return false;
	links = vexfs_hnsw_links(g, n, l);
	count = vexfs_hnsw_le32(links->l_count);
	for (i = 0; i < count; i++)
		if (!hnsw_has_node(g, q, s, vexfs_hnsw_le32(links->l_ids[i])))
			return false;
	return true;
}

/* ==== Gathering a neighbour list ==== */

/*
 * The neighbours in links that have a vector, into the batch, their
 * vectors prefetched. On level 0, only those not yet visited, which are
 * then marked; the descent looks at every link each time, and follows
 * none to a node that does not live on its level (a graph over pages was
 * not checked for that as a whole).
 */
static uint32_t hnsw_gather(const struct vexfs_hnsw_graph *g,
			    const struct vexfs_hnsw_query *q,
			    struct vexfs_hnsw_scratch *s,
			    const struct vexfs_hnsw_links *l, uint32_t level)
{
	uint32_t count = vexfs_hnsw_le32(l->l_count);
	uint32_t i, nb = 0;

	for (i = 0; i < count; i++) {
		uint32_t id = vexfs_hnsw_le32(l->l_ids[i]), slot;
		const float *v;

		if (!level) {
			if (s->visited[id] == s->epoch)
				continue;
			s->visited[id] = s->epoch;
		} else if (vexfs_hnsw_level(g, id) < level) {
			continue;
		}
		slot = vexfs_hnsw_slot(g, id);
		if (q->sq8) {
			if (!hnsw_present(g, q, slot))
				continue;
			s->batch_node[nb] = id;
			s->batch_code[nb] = hnsw_code(g, q, id, slot);
			__builtin_prefetch(s->batch_code[nb++]);
			continue;
		}
		v = hnsw_vector(g, q, slot);
		if (!v)
			continue;
		s->batch_node[nb] = id;
		s->batch_vec[nb++] = v;
		__builtin_prefetch(v);
	}
	return nb;
}

/* ==== Upper levels: greedy descent ==== */

/*
 * One pass over the current node's links; false when none was nearer.
 * Only a node nearer than the current one matters, so its distance at
 * the start of the pass bounds the scoring.
 */
static bool hnsw_descend_once(const struct vexfs_hnsw_graph *g,
			      const struct vexfs_hnsw_query *q,
			      struct vexfs_hnsw_scratch *s)
{
	uint32_t nb = hnsw_gather(g, q, s,
				  vexfs_hnsw_links_upper(g, s->cur, s->level),
				  s->level);
	bool moved = false;
	uint32_t i;

	hnsw_score_batch(g, q, s, nb, s->cur_dist);
	for (i = 0; i < nb; i++) {
		if (s->batch_dist[i] < s->cur_dist) {
			s->cur = s->batch_node[i];
			s->cur_dist = s->batch_dist[i];
			moved = true;
		}
	}
	return moved;
}

/* The node the descent ended on seeds the beam on level 0. */
static void hnsw_beam_begin(const struct vexfs_hnsw_graph *g,
			    const struct vexfs_hnsw_query *q,
			    struct vexfs_hnsw_scratch *s)
{
	uint32_t slot = vexfs_hnsw_slot(g, s->cur);
	bool has_vector = hnsw_present(g, q, slot);

	s->visited[s->cur] = s->epoch;
	cand_push(s, s->cur, has_vector ? s->cur_dist : __builtin_inff());
	if (has_vector && hnsw_accepts(q, slot))
		res_push(s, s->cur, s->cur_dist);
	s->phase = HNSW_PHASE_BEAM;
}

static int hnsw_descend(const struct vexfs_hnsw_graph *g,
			const struct vexfs_hnsw_query *q,
			struct vexfs_hnsw_scratch *s, uint32_t stop)
{
	while (s->level > 0) {
		if (s->distances >= stop)
			return -EAGAIN;
		if (!hnsw_can_expand(g, q, s, s->cur, s->level))
			return -ENODATA;
		if (!hnsw_descend_once(g, q, s))
			s->level--;
	}
	hnsw_beam_begin(g, q, s);
	return 0;
}

/* ==== Level 0: beam search ==== */

/*
 * Expand node n. Results only change for a neighbour nearer than the
 * worst result, and that bound only tightens while the list is taken in,
 * so the bound at the start is good for the whole list.
 */
static void hnsw_expand(const struct vexfs_hnsw_graph *g,
			const struct vexfs_hnsw_query *q,
			struct vexfs_hnsw_scratch *s, uint32_t n)
{
	uint32_t nb = hnsw_gather(g, q, s, vexfs_hnsw_links0(g, n), 0);
	uint32_t i;

	hnsw_score_batch(g, q, s, nb, res_bound(s));
	for (i = 0; i < nb; i++) {
		uint32_t id = s->batch_node[i];
		float d = s->batch_dist[i];

		if (d != d || !res_wants(s, d))
			continue;	/* NaN has no place in the order */
		cand_push(s, id, d);
		if (hnsw_accepts(q, vexfs_hnsw_slot(g, id)))
			res_push(s, id, d);
	}
}

static int hnsw_beam(const struct vexfs_hnsw_graph *g,
		     const struct vexfs_hnsw_query *q,
		     struct vexfs_hnsw_scratch *s, uint32_t stop)
{
	while (s->ncand) {
		if (s->nres == s->ef && vexfs_hnsw_cand_before(&s->res[0], &s->cand[0]))
			break;
		if (q->max_distances && s->distances >= q->max_distances)
			break;
		if (s->distances >= stop)
			return -EAGAIN;
		if (!hnsw_can_expand(g, q, s, s->cand[0].node, 0))
			return -ENODATA;
		hnsw_expand(g, q, s, cand_pop(s).node);
	}
	s->phase = HNSW_PHASE_DONE;
	return 0;
}

/* ==== Entry points ==== */

int vexfs_hnsw_search_start(const struct vexfs_hnsw_graph *g,
			    const struct vexfs_hnsw_query *q,
			    struct vexfs_hnsw_scratch *s)
{
	uint32_t ef = q->ef > q->k ? q->ef : q->k;

	if (!q->vector || !q->distance ||
	    (!q->vectors && !q->vector_of && !q->sq8) ||
	    (q->ops && !vexfs_metric_valid(g->metric)) ||
	    (q->sq8 && ((!q->codes && !g->codes_per_page) ||
			q->sq8->dim != g->dim)) || ef > s->ef_max ||
	    g->node_count > s->node_cap || g->m0 > s->batch_cap)
		return -EINVAL;
	s->ef = ef;
	s->ncand = 0;
	s->nres = 0;
	s->distances = 0;
	if (++s->epoch == 0) {
		memset(s->visited, 0, (size_t)s->node_cap * sizeof(uint32_t));
		s->epoch = 1;
	}
	if (g->node_count == 0 || q->k == 0) {
		s->phase = HNSW_PHASE_DONE;
		return 0;
	}
	s->level = g->max_level;
	s->cur = g->entry;
	s->phase = HNSW_PHASE_ENTER;
	return 0;
}

static int hnsw_enter(const struct vexfs_hnsw_graph *g,
		      const struct vexfs_hnsw_query *q,
		      struct vexfs_hnsw_scratch *s)
{
	if (!g->base && !hnsw_has_node(g, q, s, s->cur))
		return -ENODATA;
	s->cur_dist = hnsw_node_dist(g, q, s, s->cur);
	if (s->cur_dist != s->cur_dist)
		s->cur_dist = __builtin_inff();
	s->phase = HNSW_PHASE_DESCEND;
	return 0;
}

int vexfs_hnsw_search_step(const struct vexfs_hnsw_graph *g,
			   const struct vexfs_hnsw_query *q,
			   struct vexfs_hnsw_scratch *s, uint32_t budget)
{
	uint32_t stop = 0xffffffffu;
	int err;

	if (budget && budget < stop - s->distances)
		stop = s->distances + budget;
	if (s->phase == HNSW_PHASE_ENTER) {
		err = hnsw_enter(g, q, s);
		if (err)
			return err;
	}
	if (s->phase == HNSW_PHASE_DESCEND) {
		err = hnsw_descend(g, q, s, stop);
		if (err)
			return err;
	}
	if (s->phase == HNSW_PHASE_BEAM)
		return hnsw_beam(g, q, s, stop);
	return s->phase == HNSW_PHASE_DONE ? 0 : -EINVAL;
}

/* All of node n's vector on its way: the re-rank reads every byte. */
static void hnsw_prefetch_vector(const struct vexfs_hnsw_graph *g,
				 const struct vexfs_hnsw_query *q, uint32_t n)
{
	const uint8_t *v = (const uint8_t *)hnsw_vector(g, q, vexfs_hnsw_slot(g, n));
	size_t i;

	for (i = 0; v && i < (size_t)g->dim * sizeof(float); i += 64)
		__builtin_prefetch(v + i);
}

/*
 * A walk on codes found the ef best by estimate: keep the best rerank of
 * them (all, without a limit), give each its exact distance and make the
 * results a heap under those again.
 */
static void hnsw_rerank(const struct vexfs_hnsw_graph *g,
			const struct vexfs_hnsw_query *q,
			struct vexfs_hnsw_scratch *s)
{
	uint32_t keep = q->rerank > q->k ? q->rerank : q->k, i;

	if (q->rerank && keep < s->nres) {
		far_heap_sort(s->res, s->nres);		/* best first */
		s->nres = keep;
	}
	for (i = 0; i < s->nres; i++) {
		const float *v = hnsw_vector(g, q, vexfs_hnsw_slot(g, s->res[i].node));

		if (i + 1 < s->nres)
			hnsw_prefetch_vector(g, q, s->res[i + 1].node);
		s->res[i].dist = v ? q->distance(q->vector, v, g->dim) :
				     __builtin_inff();
	}
	for (i = s->nres / 2; i > 0; i--)
		far_heap_down(s->res, i - 1, s->nres);
}

int vexfs_hnsw_search_results(const struct vexfs_hnsw_graph *g,
			      const struct vexfs_hnsw_query *q,
			      struct vexfs_hnsw_scratch *s,
			      struct vexfs_hnsw_result *results)
{
	uint32_t n, i;

	if (s->phase == HNSW_PHASE_IDLE)
		return -EINVAL;
	if (q->sq8 && !hnsw_codes_only(q))
		hnsw_rerank(g, q, s);
	n = s->nres;
	/* Heap sort: the farthest goes to the back, best first remains. */
	far_heap_sort(s->res, n);
	if (n > q->k)
		n = q->k;
	for (i = 0; i < n; i++) {
		results[i].slot = vexfs_hnsw_slot(g, s->res[i].node);
		results[i].dist = s->res[i].dist;
	}
	s->nres = 0;
	s->phase = HNSW_PHASE_IDLE;
	return (int)n;
}

int vexfs_hnsw_search(const struct vexfs_hnsw_graph *g,
		      const struct vexfs_hnsw_query *q,
		      struct vexfs_hnsw_scratch *s,
		      struct vexfs_hnsw_result *results)
{
	int err = vexfs_hnsw_search_start(g, q, s);

	if (!err)
		err = vexfs_hnsw_search_step(g, q, s, 0);
	if (err)
		return err;
	return vexfs_hnsw_search_results(g, q, s, results);
}
