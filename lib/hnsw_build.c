// SPDX-License-Identifier: GPL-2.0
/*
 * Building an HNSW graph, in userspace, and writing it in the format of
 * include/uapi/vexfs_hnsw.h.
 *
 * ==== Insertion ====
 *
 * Each node is inserted as in Malkov & Yashunin's Algorithm 1: greedy
 * descent from the entry point down to the node's own level, then on each
 * level from there to 0 a beam search of width efConstruction, a choice of
 * M neighbours among the beam with the heuristic of Algorithm 4, links both
 * ways, and the neighbours' lists shrunk with the same heuristic when they
 * overflow (M above level 0, M0 = 2M on level 0).
 *
 * The heuristic takes candidates nearest first and keeps one only if it is
 * nearer to the new node than to every neighbour kept so far, so the links
 * spread in different directions instead of crowding into one cluster.
 * With keep_pruned (keepPrunedConnections) the lists are then filled up to
 * capacity with the nearest of the rejected candidates.
 *
 * ==== Determinism ====
 *
 * Levels are drawn before any insertion, node by node, from a splitmix64
 * generator seeded with the caller's seed: L = floor(-ln(U) * mL), with
 * mL = 1/ln(M), capped at VEXFS_HNSW_MAX_LEVEL. Nodes are numbered by slot
 * and inserted in that order; every tie is broken by node index. With one
 * thread the graph is therefore a function of the parameters and vectors.
 *
 * ==== Threads ====
 *
 * Worker threads take the next node from a shared counter. As in hnswlib,
 * each node has a mutex guarding its link lists: a reader copies a list
 * under it, a writer changes one under it, and no thread ever holds two,
 * so there is no lock order to get wrong. The entry point and the top
 * level sit under one more mutex, which a node that will become the new
 * top keeps for its whole insertion. The graph then depends on the thread
 * timing, but every invariant of the format holds.
 *
 * Vectors are asked for once per node and must stay put during the build.
 */
#include <endian.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw_cand.h"
#include "vexfs_sq8.h"

/* ==== The builder ==== */

struct vexfs_hnsw_builder {
	/* ---- parameters ---- */
	uint32_t dim;			/* vector dimension */
	uint32_t metric;		/* VEXFS_METRIC_* */
	uint32_t m;			/* link capacity above level 0 */
	uint32_t m0;			/* link capacity on level 0 */
	uint32_t ef_construction;	/* beam width of an insertion */
	bool keep_pruned;		/* fill lists with pruned candidates */
	uint64_t seed;			/* seed of the level draw */
	vexfs_distance_fn distance;	/* the metric's distance */
	vexfs_distance_within_fn within; /* its early-exit form, or NULL */
	/* a neighbour list's distances in one call, or NULL (p->distance) */
	const struct vexfs_distance_ops *list_ops;
	const struct vexfs_sq8 *sq8;	/* building on codes, or NULL */
	const struct vexfs_sq8_ops *sq8_ops;
	/* ---- nodes, by index: the slots in increasing order ---- */
	uint32_t n;			/* nodes */
	uint32_t *slots;		/* node -> slot */
	const float **vec;		/* node -> its vector */
	const uint8_t **code;		/* node -> its code, with sq8 */
	float *code_off;		/* node -> its code's offset, with sq8 */
	uint8_t *levels;		/* node -> top level */
	uint32_t *upper_first;		/* node -> its level-1 record */
	uint32_t upper_count;		/* upper records, all nodes */
	uint32_t *links0;		/* n records of 1 + m0 words: count, ids */
	uint32_t *links_up;		/* upper_count records of 1 + m words */
	pthread_mutex_t *locks;		/* node -> lock of its link lists */
	/* ---- the top of the graph ---- */
	pthread_mutex_t entry_lock;	/* guards entry and max_level */
	uint32_t entry;			/* entry node, VEXFS_HNSW_NO_NODE if none */
	uint32_t max_level;		/* level of the entry node */
	/* ---- work distribution ---- */
	uint32_t next;			/* next node to insert (atomic) */
	uint32_t done;			/* nodes inserted (atomic) */
	vexfs_hnsw_progress_fn progress; /* told of done, or NULL */
	void *progress_ctx;
};

/* The record of node n on level l: count, then capacity ids. */
static uint32_t *bld_links(const struct vexfs_hnsw_builder *b, uint32_t n,
			   uint32_t l)
{
	if (l == 0)
		return b->links0 + (size_t)n * (1 + b->m0);
	return b->links_up + ((size_t)b->upper_first[n] + l - 1) * (1 + b->m);
}

/*
 * The distance between nodes x and y where only values below bound
 * matter (vexfs_distance.h): from their codes when building on codes.
 */
static inline float bld_dist_within(const struct vexfs_hnsw_builder *b,
				    uint32_t x, uint32_t y, float bound)
{
	if (b->sq8)
		return vexfs_sq8_pair_distance(b->sq8, b->sq8_ops,
					       b->code[x], b->code_off[x],
					       b->code[y], b->code_off[y],
					       bound);
	if (b->within)
		return b->within(b->vec[x], b->vec[y], b->dim, bound);
	return b->distance(b->vec[x], b->vec[y], b->dim);
}

static inline float bld_dist(const struct vexfs_hnsw_builder *b, uint32_t x,
			     uint32_t y)
{
	return bld_dist_within(b, x, y, INFINITY);
}

/* ==== Candidates ==== */

/*
 * The order of candidates and their heaps are the search's: hnsw_cand.h.
 * Sorting a link list and one more (at most 2 * M + 1 entries) by
 * insertion, inline, costs less than qsort's call per comparison.
 */
static void bld_sort(struct vexfs_hnsw_cand *c, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		struct vexfs_hnsw_cand x = c[i];

		for (j = i; j > 0 && vexfs_hnsw_cand_before(&x, &c[j - 1]); j--)
			c[j] = c[j - 1];
		c[j] = x;
	}
}

/* A growable heap, min or max as each call says. */
struct bld_heap {
	struct vexfs_hnsw_cand *h;	/* entries */
	size_t n;			/* in use */
	size_t cap;			/* allocated */
};

static __always_inline int heap_push(struct bld_heap *hp, uint32_t node,
				     float dist, bool max)
{
	if (hp->n == hp->cap) {
		size_t cap = hp->cap ? 2 * hp->cap : 64;
		struct vexfs_hnsw_cand *h = realloc(hp->h, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		hp->h = h;
		hp->cap = cap;
	}
	hp->h[hp->n] = (struct vexfs_hnsw_cand){ .node = node, .dist = dist };
	if (max)
		far_heap_up(hp->h, hp->n++);
	else
		near_heap_up(hp->h, hp->n++);
	return 0;
}

static __always_inline struct vexfs_hnsw_cand heap_pop(struct bld_heap *hp,
						       bool max)
{
	struct vexfs_hnsw_cand top = hp->h[0];

	if (--hp->n) {
		hp->h[0] = hp->h[hp->n];
		if (max)
			far_heap_down(hp->h, 0, hp->n);
		else
			near_heap_down(hp->h, 0, hp->n);
	}
	return top;
}

/* Put (node, dist) in place of the top entry of a max-heap. */
static __always_inline void heap_replace_top(struct bld_heap *hp,
					     uint32_t node, float dist)
{
	hp->h[0] = (struct vexfs_hnsw_cand){ .node = node, .dist = dist };
	far_heap_down(hp->h, 0, hp->n);
}

/* ==== One inserting thread ==== */

struct bld_worker {
	struct vexfs_hnsw_builder *b;	/* the graph being built */
	uint32_t *visited;		/* node -> epoch of its last visit */
	uint32_t epoch;			/* tag of the current beam search */
	struct bld_heap cand;		/* min-heap: nodes to expand */
	struct bld_heap res;		/* max-heap: the beam */
	struct vexfs_hnsw_cand *pool;		/* candidates sorted for selection */
	struct vexfs_hnsw_cand *kept;		/* neighbours the heuristic keeps */
	struct vexfs_hnsw_cand *pruned;	/* and those it turns down */
	uint32_t *copy;			/* a link record copied under its lock */
	/* ---- one neighbour list scored in one call (bld_dist_list) ---- */
	uint32_t *ids;			/* the nodes */
	float *dists;			/* their distances */
	union {				/* their vectors, or codes */
		const float **vec;
		const uint8_t **code;
	} rows;
	float *offs;			/* their codes' offsets */
	int16_t *wide;			/* on codes: the inserted node's, widened */
	uint32_t wide_node;		/* which node that is */
	int err;			/* first allocation failure */
	bool reports;			/* the one worker that calls progress */
	uint32_t reported;		/* done when it last did */
};

static int worker_init(struct bld_worker *w, struct vexfs_hnsw_builder *b)
{
	size_t pool = b->ef_construction > b->m0 + 1 ? b->ef_construction
						     : b->m0 + 1;

	memset(w, 0, sizeof(*w));
	w->b = b;
	w->visited = calloc(b->n ? b->n : 1, sizeof(*w->visited));
	w->pool = malloc(pool * sizeof(*w->pool));
	w->kept = malloc(pool * sizeof(*w->kept));
	w->pruned = malloc(pool * sizeof(*w->pruned));
	w->copy = malloc((1 + b->m0) * sizeof(*w->copy));
	w->ids = malloc(b->m0 * sizeof(*w->ids));
	w->dists = malloc(b->m0 * sizeof(*w->dists));
	w->rows.vec = malloc(b->m0 * sizeof(*w->rows.vec));
	w->offs = malloc(b->m0 * sizeof(*w->offs));
	w->wide = b->sq8 ? malloc(b->dim * sizeof(*w->wide)) : NULL;
	w->wide_node = VEXFS_HNSW_NO_NODE;
	if (!w->visited || !w->pool || !w->kept || !w->pruned || !w->copy ||
	    !w->ids || !w->dists || !w->rows.vec || !w->offs ||
	    (b->sq8 && !w->wide))
		return -ENOMEM;
	return 0;
}

static void worker_free(struct bld_worker *w)
{
	free(w->visited);
	free(w->cand.h);
	free(w->res.h);
	free(w->pool);
	free(w->kept);
	free(w->pruned);
	free(w->copy);
	free(w->ids);
	free(w->dists);
	free(w->rows.vec);
	free(w->offs);
	free(w->wide);
}

/* Copy node n's record on level l into w->copy; returns the count. */
static uint32_t read_links(struct bld_worker *w, uint32_t n, uint32_t l)
{
	struct vexfs_hnsw_builder *b = w->b;
	const uint32_t *rec;
	uint32_t count;

	pthread_mutex_lock(&b->locks[n]);
	rec = bld_links(b, n, l);
	count = rec[0];
	memcpy(w->copy, rec + 1, count * sizeof(uint32_t));
	pthread_mutex_unlock(&b->locks[n]);
	return count;
}

/*
 * w->dists[i] = the distance from node q, the one being inserted, to
 * w->ids[i], for i < n, where only values below bound matter: one call
 * for the whole list, as the search scores a neighbour list. On codes,
 * q's code is widened once for the whole insertion.
 */
static void bld_dist_list(struct bld_worker *w, uint32_t q, uint32_t n,
			  float bound)
{
	const struct vexfs_hnsw_builder *b = w->b;
	uint32_t i;

	if (b->sq8) {
		if (w->wide_node != q) {
			vexfs_sq8_widen(b->code[q], b->dim, w->wide);
			w->wide_node = q;
		}
		for (i = 0; i < n; i++) {
			w->rows.code[i] = b->code[w->ids[i]];
			w->offs[i] = b->code_off[w->ids[i]];
		}
		vexfs_sq8_wide_list(b->sq8, b->sq8_ops, w->wide, b->code_off[q],
				    w->rows.code, w->offs, n,
				    bound, w->dists);
	} else if (b->list_ops) {
		for (i = 0; i < n; i++)
			w->rows.vec[i] = b->vec[w->ids[i]];
		b->list_ops->list(b->metric, b->vec[q], w->rows.vec, n, b->dim,
				  bound, w->dists);
	} else {
		for (i = 0; i < n; i++)
			w->dists[i] = bld_dist_within(b, q, w->ids[i], bound);
	}
}

static float bld_dist_from(struct bld_worker *w, uint32_t q, uint32_t y)
{
	w->ids[0] = y;
	bld_dist_list(w, q, 1, INFINITY);
	return w->dists[0];
}

/* ==== Search while building ==== */

/*
 * Greedy walk on level l from *cur towards node q. Distances at or past
 * the list's starting bound may be inexact, but they could not win.
 */
static void greedy(struct bld_worker *w, uint32_t q, uint32_t l,
		   uint32_t *cur, float *cur_dist)
{
	bool moved = true;

	while (moved) {
		uint32_t count = read_links(w, *cur, l), i;

		moved = false;
		memcpy(w->ids, w->copy, count * sizeof(*w->ids));
		bld_dist_list(w, q, count, *cur_dist);
		for (i = 0; i < count; i++) {
			if (w->dists[i] < *cur_dist) {
				*cur = w->ids[i];
				*cur_dist = w->dists[i];
				moved = true;
			}
		}
	}
}

static void visit_begin(struct bld_worker *w)
{
	if (++w->epoch == 0) {
		memset(w->visited, 0, (size_t)w->b->n * sizeof(uint32_t));
		w->epoch = 1;
	}
}

/* Keep (node, d) in the beam of ef if it belongs there. */
static void beam_offer(struct bld_worker *w, uint32_t node, float d,
		       uint32_t ef)
{
	if (w->res.n < ef) {
		w->err = w->err ?: heap_push(&w->res, node, d, true);
		w->err = w->err ?: heap_push(&w->cand, node, d, false);
	} else if (d < w->res.h[0].dist) {
		w->err = w->err ?: heap_push(&w->cand, node, d, false);
		heap_replace_top(&w->res, node, d);
	}
}

/* Only a node nearer than this may still join a beam of width ef. */
static inline float beam_bound(const struct bld_worker *w, uint32_t ef)
{
	return w->res.n < ef ? INFINITY : w->res.h[0].dist;
}

/*
 * Beam search of width ef on level l from ep towards node q's vector; the
 * beam is left in w->res. q itself is never visited.
 */
static void search_layer(struct bld_worker *w, uint32_t q, uint32_t ep,
			 float ep_dist, uint32_t ef, uint32_t l)
{
	visit_begin(w);
	w->visited[q] = w->epoch;
	w->visited[ep] = w->epoch;
	w->cand.n = 0;
	w->res.n = 0;
	beam_offer(w, ep, ep_dist, ef);

	while (w->cand.n && !w->err) {
		struct vexfs_hnsw_cand c = heap_pop(&w->cand, false);
		uint32_t count, n, i;

		if (w->res.n == ef && c.dist > w->res.h[0].dist)
			break;
		count = read_links(w, c.node, l);
		for (n = 0, i = 0; i < count; i++) {
			uint32_t id = w->copy[i];

			if (w->visited[id] != w->epoch) {
				w->visited[id] = w->epoch;
				w->ids[n++] = id;
			}
		}
		/*
		 * Scored against the bound the list starts with: a distance at
		 * or past it may be inexact, and the beam turns it down anyway.
		 */
		bld_dist_list(w, q, n, beam_bound(w, ef));
		for (i = 0; i < n; i++)
			beam_offer(w, w->ids[i], w->dists[i], ef);
	}
}

/* ==== Choosing neighbours (Algorithm 4) ==== */

/*
 * From c[0..n), sorted nearest first by distance to a base node, keep at
 * most max into w->kept: a candidate survives if it is nearer to the base
 * than to every one kept before it. Returns how many were kept.
 */
static uint32_t select_neighbours(struct bld_worker *w,
				  const struct vexfs_hnsw_cand *c, uint32_t n,
				  uint32_t max)
{
	const struct vexfs_hnsw_builder *b = w->b;
	uint32_t kept = 0, pruned = 0, i, j;

	for (i = 0; i < n && kept < max; i++) {
		bool good = true;

		for (j = 0; j < kept && good; j++)
			good = bld_dist_within(b, c[i].node, w->kept[j].node,
					       c[i].dist) >= c[i].dist;
		if (good)
			w->kept[kept++] = c[i];
		else
			w->pruned[pruned++] = c[i];
	}
	for (j = 0; b->keep_pruned && j < pruned && kept < max; j++)
		w->kept[kept++] = w->pruned[j];
	return kept;
}

/* The beam, nearest first, into w->pool; returns its size. */
static uint32_t beam_sorted(struct bld_worker *w)
{
	uint32_t n = (uint32_t)w->res.n, i;

	for (i = n; i > 0; i--)
		w->pool[i - 1] = heap_pop(&w->res, true);
	return n;
}

/*
 * Add q to e's list on level l. A full list is rebuilt with the heuristic
 * from its links and q, as seen from e. d is the distance from q to e.
 */
static void link_back(struct bld_worker *w, uint32_t e, uint32_t q, float d,
		      uint32_t l)
{
	struct vexfs_hnsw_builder *b = w->b;
	uint32_t cap = l ? b->m : b->m0, count, kept, i;
	uint32_t *rec;

	pthread_mutex_lock(&b->locks[e]);
	rec = bld_links(b, e, l);
	count = rec[0];
	for (i = 0; i < count; i++)
		if (rec[1 + i] == q)
			goto out;
	if (count < cap) {
		rec[1 + count] = q;
		rec[0] = count + 1;
		goto out;
	}
	for (i = 0; i < count; i++) {
		w->pool[i].node = rec[1 + i];
		w->pool[i].dist = bld_dist(b, e, rec[1 + i]);
	}
	w->pool[count].node = q;
	w->pool[count].dist = d;
	bld_sort(w->pool, count + 1);
	kept = select_neighbours(w, w->pool, count + 1, cap);
	for (i = 0; i < kept; i++)
		rec[1 + i] = w->kept[i].node;
	for (; i < cap; i++)
		rec[1 + i] = 0;
	rec[0] = kept;
out:
	pthread_mutex_unlock(&b->locks[e]);
}

/*
 * Link q on level l to the best of the beam in w->pool[0..n), both ways.
 * Works on a copy of the choice: link_back reuses pool and kept.
 */
static void link_node(struct bld_worker *w, uint32_t q, uint32_t n,
		      uint32_t l)
{
	struct vexfs_hnsw_builder *b = w->b;
	struct vexfs_hnsw_cand chosen[VEXFS_HNSW_MAX_M];
	uint32_t kept = select_neighbours(w, w->pool, n, b->m), i;
	uint32_t *rec;

	memcpy(chosen, w->kept, kept * sizeof(*chosen));
	pthread_mutex_lock(&b->locks[q]);
	rec = bld_links(b, q, l);
	for (i = 0; i < kept; i++)
		rec[1 + i] = chosen[i].node;
	rec[0] = kept;
	pthread_mutex_unlock(&b->locks[q]);

	for (i = 0; i < kept; i++)
		link_back(w, chosen[i].node, q, chosen[i].dist, l);
}

/* ==== Inserting a node (Algorithm 1) ==== */

static void insert_node(struct bld_worker *w, uint32_t q)
{
	struct vexfs_hnsw_builder *b = w->b;
	uint32_t level = b->levels[q], top, cur, l;
	bool new_top;
	float d;

	pthread_mutex_lock(&b->entry_lock);
	if (b->entry == VEXFS_HNSW_NO_NODE) {
		b->entry = q;
		b->max_level = level;
		pthread_mutex_unlock(&b->entry_lock);
		return;
	}
	cur = b->entry;
	top = b->max_level;
	new_top = level > top;
	if (!new_top)
		pthread_mutex_unlock(&b->entry_lock);

	d = bld_dist_from(w, q, cur);
	for (l = top; l > level; l--)
		greedy(w, q, l, &cur, &d);
	for (l = level < top ? level : top; ; l--) {
		uint32_t n;

		search_layer(w, q, cur, d, b->ef_construction, l);
		n = beam_sorted(w);
		cur = w->pool[0].node;	/* the next level starts here */
		d = w->pool[0].dist;
		link_node(w, q, n, l);
		if (l == 0)
			break;
	}

	if (new_top) {
		b->entry = q;
		b->max_level = level;
		pthread_mutex_unlock(&b->entry_lock);
	}
}

/*
 * Progress from one worker only, so the caller's callback never runs on
 * two threads at once; about a hundred calls over a build.
 */
static void worker_report(struct bld_worker *w)
{
	struct vexfs_hnsw_builder *b = w->b;
	uint32_t done = __atomic_load_n(&b->done, __ATOMIC_RELAXED);

	if (!w->reports || done - w->reported < b->n / 100 + 1)
		return;
	w->reported = done;
	b->progress(b->progress_ctx, done, b->n);
}

static void *worker_run(void *arg)
{
	struct bld_worker *w = arg;
	uint32_t q;

	while (!w->err) {
		q = __atomic_fetch_add(&w->b->next, 1, __ATOMIC_RELAXED);
		if (q >= w->b->n)
			break;
		insert_node(w, q);
		/* Counted only for a caller who asked: every insert shares it. */
		if (w->b->progress) {
			__atomic_fetch_add(&w->b->done, 1, __ATOMIC_RELAXED);
			worker_report(w);
		}
	}
	return NULL;
}

/* ==== Setting up ==== */

void vexfs_hnsw_build_defaults(struct vexfs_hnsw_build_params *p)
{
	memset(p, 0, sizeof(*p));
	p->metric = VEXFS_METRIC_L2;
	p->m = 16;
	p->ef_construction = 200;
	p->threads = 1;
	p->keep_pruned = true;
	p->seed = 0x5eed;
}

static int params_valid(const struct vexfs_hnsw_build_params *p, uint32_t n)
{
	return p->dim >= 1 && p->dim <= VEXFS_HNSW_MAX_DIM &&
	       vexfs_metric_valid(p->metric) && p->m >= VEXFS_HNSW_MIN_M &&
	       p->m <= VEXFS_HNSW_MAX_M && p->ef_construction >= 1 &&
	       p->vector_of && n < VEXFS_HNSW_NO_NODE &&
	       (!p->sq8 || (p->codes && p->sq8->dim == p->dim &&
			    p->sq8->metric == p->metric));
}

static const struct vexfs_distance_ops *native_ops(void)
{
	unsigned int flags = 0;

#if defined(__x86_64__) || defined(__i386__)
	flags = vexfs_cpu_flags_native();
#endif
	return vexfs_distance_select(flags);
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;

	return a < c ? -1 : a > c;
}

/* Slots in increasing order, distinct, each with a vector. */
static int take_slots(struct vexfs_hnsw_builder *b, const uint32_t *slots,
		      vexfs_hnsw_vector_fn vector_of, void *ctx)
{
	uint32_t i;

	for (i = 0; i < b->n; i++)
		b->slots[i] = slots ? slots[i] : i;
	if (slots)
		qsort(b->slots, b->n, sizeof(*b->slots), cmp_u32);
	for (i = 0; i < b->n; i++) {
		if (b->slots[i] == VEXFS_HNSW_NO_NODE ||
		    (i && b->slots[i] == b->slots[i - 1]))
			return -EINVAL;
		b->vec[i] = vector_of(ctx, b->slots[i]);
		if (!b->vec[i])
			return -EINVAL;
	}
	return 0;
}

/* Building on codes: each node's code, and its offset for dot products. */
static int take_codes(struct vexfs_hnsw_builder *b, const uint8_t *codes)
{
	size_t n = b->n ? b->n : 1;
	uint32_t i;

	b->code = malloc(n * sizeof(*b->code));
	b->code_off = malloc(n * sizeof(*b->code_off));
	if (!b->code || !b->code_off)
		return -ENOMEM;
	for (i = 0; i < b->n; i++) {
		b->code[i] = codes + (size_t)b->slots[i] * b->dim;
		b->code_off[i] = vexfs_sq8_code_offset(b->sq8, b->code[i]);
	}
	return 0;
}

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Draw every node's level and allot its upper records. */
static int draw_levels(struct vexfs_hnsw_builder *b)
{
	double ml = 1.0 / log((double)b->m);
	uint64_t state = b->seed, upper = 0;
	uint32_t i;

	for (i = 0; i < b->n; i++) {
		/* u in (0, 1]: 53 random bits, never zero */
		double u = ((splitmix64(&state) >> 11) + 1) * 0x1p-53;
		double level = floor(-log(u) * ml);

		b->levels[i] = level > VEXFS_HNSW_MAX_LEVEL ?
			VEXFS_HNSW_MAX_LEVEL : (uint8_t)level;
		b->upper_first[i] = (uint32_t)upper;
		upper += b->levels[i];
		if (upper > 0xffffffffull)
			return -EINVAL;
	}
	b->upper_count = (uint32_t)upper;
	return 0;
}

static int builder_alloc(struct vexfs_hnsw_builder *b)
{
	size_t n = b->n ? b->n : 1;
	uint32_t i;

	b->slots = malloc(n * sizeof(*b->slots));
	b->vec = malloc(n * sizeof(*b->vec));
	b->levels = malloc(n * sizeof(*b->levels));
	b->upper_first = malloc(n * sizeof(*b->upper_first));
	b->locks = malloc(n * sizeof(*b->locks));
	b->links0 = calloc(n * (1 + b->m0), sizeof(uint32_t));
	if (!b->slots || !b->vec || !b->levels || !b->upper_first ||
	    !b->locks || !b->links0)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		pthread_mutex_init(&b->locks[i], NULL);
	return 0;
}

static void builder_setup(struct vexfs_hnsw_builder *b,
			  const struct vexfs_hnsw_build_params *p, uint32_t n)
{
	b->dim = p->dim;
	b->metric = p->metric;
	b->m = p->m;
	b->m0 = 2 * p->m;
	b->ef_construction = p->ef_construction;
	b->keep_pruned = p->keep_pruned;
	b->seed = p->seed;
	if (p->distance) {
		b->distance = p->distance;	/* the caller's, used as is */
	} else {
		const struct vexfs_distance_ops *ops = native_ops();

		b->distance = vexfs_distance_fn_of(ops, p->metric);
		b->within = vexfs_distance_within_of(ops, p->metric);
		b->list_ops = ops;
	}
	if (p->sq8) {
		unsigned int flags = 0;

#if defined(__x86_64__) || defined(__i386__)
		flags = vexfs_cpu_flags_native();
#endif
		b->sq8 = p->sq8;
		b->sq8_ops = vexfs_sq8_select(flags);
	}
	b->n = n;
	b->progress = p->progress;
	b->progress_ctx = p->progress_ctx;
	b->entry = VEXFS_HNSW_NO_NODE;
	pthread_mutex_init(&b->entry_lock, NULL);
}

/* ==== Building ==== */

/* Insert every node: the first alone, the rest on the worker threads. */
static int build_all(struct vexfs_hnsw_builder *b, uint32_t threads)
{
	struct bld_worker *w;
	pthread_t *tid;
	uint32_t i, started = 0;
	int err = 0;

	if (threads == 0)
		threads = 1;
	if (threads > b->n)
		threads = b->n ? b->n : 1;
	w = calloc(threads, sizeof(*w));
	tid = calloc(threads, sizeof(*tid));
	for (i = 0; w && tid && i < threads && !err; i++)
		err = worker_init(&w[i], b);
	if (!w || !tid || err) {
		err = -ENOMEM;
		goto out;
	}

	b->next = 1;
	w[0].reports = true;
	if (b->n) {
		insert_node(&w[0], 0);
		b->done = 1;
	}
	for (i = 1; i < threads; i++, started++)
		if (pthread_create(&tid[i], NULL, worker_run, &w[i]))
			break;
	worker_run(&w[0]);
	for (i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < threads; i++)
		err = err ?: w[i].err;
	if (!err && b->progress)
		b->progress(b->progress_ctx, b->n, b->n);
out:
	for (i = 0; w && i < threads; i++)
		worker_free(&w[i]);
	free(w);
	free(tid);
	return err;
}

int vexfs_hnsw_build(const struct vexfs_hnsw_build_params *p,
		     const uint32_t *slots, uint32_t n,
		     struct vexfs_hnsw_builder **out)
{
	struct vexfs_hnsw_builder *b;
	int err;

	*out = NULL;
	if (!params_valid(p, n))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	builder_setup(b, p, n);
	if (!b->distance) {
		err = -EINVAL;
		goto fail;
	}
	err = builder_alloc(b);
	err = err ?: take_slots(b, slots, p->vector_of, p->ctx);
	if (!err && b->sq8)
		err = take_codes(b, p->codes);
	err = err ?: draw_levels(b);
	if (err)
		goto fail;
	b->links_up = calloc((size_t)b->upper_count * (1 + b->m) + 1,
			     sizeof(uint32_t));
	if (!b->links_up) {
		err = -ENOMEM;
		goto fail;
	}
	err = build_all(b, p->threads);
	if (err)
		goto fail;
	*out = b;
	return 0;
fail:
	vexfs_hnsw_builder_free(b);
	return err;
}

void vexfs_hnsw_builder_free(struct vexfs_hnsw_builder *b)
{
	uint32_t i;

	if (!b)
		return;
	for (i = 0; b->locks && i < b->n; i++)
		pthread_mutex_destroy(&b->locks[i]);
	pthread_mutex_destroy(&b->entry_lock);
	free(b->slots);
	free(b->vec);
	free(b->code);
	free(b->code_off);
	free(b->levels);
	free(b->upper_first);
	free(b->links0);
	free(b->links_up);
	free(b->locks);
	free(b);
}

/* ==== Inspection ==== */

size_t vexfs_hnsw_builder_bytes(const struct vexfs_hnsw_builder *b)
{
	size_t per_node = sizeof(*b->slots) + sizeof(*b->vec) +
			  sizeof(*b->levels) + sizeof(*b->upper_first) +
			  sizeof(*b->locks) + (1 + b->m0) * sizeof(uint32_t) +
			  (b->sq8 ? sizeof(*b->code) + sizeof(*b->code_off) : 0);

	return sizeof(*b) + b->n * per_node +
	       ((size_t)b->upper_count * (1 + b->m) + 1) * sizeof(uint32_t);
}

uint32_t vexfs_hnsw_builder_nodes(const struct vexfs_hnsw_builder *b)
{
	return b->n;
}

uint32_t vexfs_hnsw_builder_level(const struct vexfs_hnsw_builder *b,
				  uint32_t n)
{
	return b->levels[n];
}

const uint32_t *vexfs_hnsw_builder_links(const struct vexfs_hnsw_builder *b,
					 uint32_t n, uint32_t level,
					 uint32_t *count)
{
	const uint32_t *rec = bld_links(b, n, level);

	*count = rec[0];
	return rec + 1;
}

/* ==== Serializing ==== */

/* Sizes of the sections, as the loader computes them. */
struct bld_layout {
	uint64_t node_bytes, level0_bytes, upper_bytes;	/* section sizes */
	uint64_t sq8_bytes, codes_bytes;		/* 0 without codes */
	uint32_t level0_rec, level0_per_page;		/* level-0 records */
	uint32_t upper_rec, upper_per_page;		/* upper records */
	uint32_t codes_per_page;			/* 0 without codes */
};

static uint64_t pages_bytes(uint64_t records, uint32_t per_page)
{
	return (records + per_page - 1) / per_page * VEXFS_HNSW_PAGE_SIZE;
}

static void layout_of(const struct vexfs_hnsw_builder *b, struct bld_layout *lo)
{
	lo->level0_rec = VEXFS_HNSW_REC_SIZE(b->m0);
	lo->level0_per_page = VEXFS_HNSW_PAGE_SIZE / lo->level0_rec;
	lo->upper_rec = VEXFS_HNSW_REC_SIZE(b->m);
	lo->upper_per_page = VEXFS_HNSW_PAGE_SIZE / lo->upper_rec;
	lo->node_bytes = pages_bytes(b->n, VEXFS_HNSW_NODES_PER_PAGE);
	lo->level0_bytes = pages_bytes(b->n, lo->level0_per_page);
	lo->upper_bytes = pages_bytes(b->upper_count, lo->upper_per_page);
	/* A graph built on codes carries them: a reader walks it on those. */
	lo->codes_per_page = b->sq8 ? VEXFS_HNSW_PAGE_SIZE / b->dim : 0;
	lo->sq8_bytes = b->sq8 ? pages_bytes(b->dim, VEXFS_HNSW_PAGE_SIZE / 4) : 0;
	lo->codes_bytes = b->sq8 ? pages_bytes(b->n, lo->codes_per_page) : 0;
}

size_t vexfs_hnsw_serialized_size(const struct vexfs_hnsw_builder *b)
{
	struct bld_layout lo;

	layout_of(b, &lo);
	return VEXFS_HNSW_PAGE_SIZE + lo.node_bytes + lo.level0_bytes +
	       lo.upper_bytes + lo.sq8_bytes + lo.codes_bytes;
}

static void write_header(const struct vexfs_hnsw_builder *b,
			 const struct bld_layout *lo,
			 struct vexfs_hnsw_header *h)
{
	uint64_t node_off = VEXFS_HNSW_PAGE_SIZE;
	uint64_t level0_off = node_off + lo->node_bytes;
	uint64_t upper_off = level0_off + lo->level0_bytes;
	uint64_t sq8_off = upper_off + lo->upper_bytes;
	uint64_t codes_off = sq8_off + lo->sq8_bytes;

	h->h_magic = htole32(VEXFS_HNSW_MAGIC);
	h->h_version = htole32(VEXFS_HNSW_VERSION);
	h->h_header_size = htole32(VEXFS_HNSW_HEADER_SIZE);
	h->h_dim = htole32(b->dim);
	h->h_metric = htole16(b->metric);
	h->h_max_level = htole16(b->n ? b->max_level : 0);
	h->h_m = htole16(b->m);
	h->h_m0 = htole16(b->m0);
	h->h_entry = htole32(b->entry);
	h->h_node_count = htole32(b->n);
	h->h_upper_count = htole32(b->upper_count);
	h->h_ef_construction = htole32(b->ef_construction);
	h->h_seed = htole64(b->seed);
	h->h_total_size = htole64(codes_off + lo->codes_bytes);
	h->h_node_off = htole64(node_off);
	h->h_node_bytes = htole64(lo->node_bytes);
	h->h_level0_off = htole64(level0_off);
	h->h_level0_bytes = htole64(lo->level0_bytes);
	h->h_upper_off = htole64(upper_off);
	h->h_upper_bytes = htole64(lo->upper_bytes);
	h->h_level0_rec_size = htole32(lo->level0_rec);
	h->h_level0_per_page = htole32(lo->level0_per_page);
	h->h_upper_rec_size = htole32(lo->upper_rec);
	h->h_upper_per_page = htole32(lo->upper_per_page);
	if (b->sq8) {
		uint32_t step;

		memcpy(&step, &b->sq8->step, sizeof(step));
		h->h_incompat = htole32(VEXFS_HNSW_INCOMPAT_SQ8);
		h->h_sq8_off = htole64(sq8_off);
		h->h_sq8_bytes = htole64(lo->sq8_bytes);
		h->h_codes_off = htole64(codes_off);
		h->h_codes_bytes = htole64(lo->codes_bytes);
		h->h_sq8_step = htole32(step);
		h->h_codes_per_page = htole32(lo->codes_per_page);
	}
}

/* lo[] of the coding, then every node's code, in node order. */
static void write_codes(const struct vexfs_hnsw_builder *b,
			const struct bld_layout *lo, uint8_t *sq8)
{
	uint8_t *codes = sq8 + lo->sq8_bytes;
	uint32_t i, bits;

	for (i = 0; i < b->dim; i++) {
		memcpy(&bits, &b->sq8->lo[i], sizeof(bits));
		((__le32 *)sq8)[i] = htole32(bits);
	}
	for (i = 0; i < b->n; i++)
		memcpy(codes + (size_t)(i / lo->codes_per_page) * VEXFS_HNSW_PAGE_SIZE +
		       (size_t)(i % lo->codes_per_page) * b->dim,
		       b->code[i], b->dim);
}

/* Record r of a section packed per_page to a page, from a builder list. */
static void write_record(uint8_t *section, uint32_t r, uint32_t rec_size,
			 uint32_t per_page, const uint32_t *list)
{
	__le32 *out = (__le32 *)(section +
		(size_t)(r / per_page) * VEXFS_HNSW_PAGE_SIZE +
		(size_t)(r % per_page) * rec_size);
	uint32_t i;

	out[0] = htole32(list[0]);
	for (i = 0; i < list[0]; i++)
		out[1 + i] = htole32(list[1 + i]);
}

/* Append node u to the level-0 list of node v, if it has room. */
static bool link_to(const struct vexfs_hnsw_graph *g, uint32_t v, uint32_t u)
{
	struct vexfs_hnsw_links *r =
		(struct vexfs_hnsw_links *)vexfs_hnsw_links0(g, v);
	uint32_t count = le32toh(r->l_count);

	if (count >= g->m0)
		return false;
	r->l_ids[count] = htole32(u);
	r->l_count = htole32(count + 1);
	return true;
}

/*
 * The pruning heuristic can leave a node that no link leads to, and a walk
 * never finds such a node: the kernel counts only nodes reachable from the
 * entry point as covering their slots, and scans the others exactly on
 * every search. Give each unreached node a link from a reached node with
 * room in its level-0 list: one of its own neighbours when one qualifies
 * (a near node, as the graph wants), else the first reached node with
 * room. Repeated, since a node made reachable brings its own neighbours.
 */
static int reconnect(void *buf, size_t len)
{
	struct vexfs_hnsw_graph g;
	uint32_t *queue, pass, u, i, spare;
	uint64_t *seen;
	int err = -ENOMEM;

	if (vexfs_hnsw_load(buf, len, VEXFS_HNSW_NO_NODE, &g, NULL))
		return -EINVAL;
	queue = malloc(((size_t)g.node_count + 1) * sizeof(*queue));
	seen = malloc(((size_t)g.node_count / 64 + 1) * sizeof(*seen));
	if (!queue || !seen)
		goto out;
	err = 0;
	for (pass = 0; pass < 64; pass++) {
		memset(seen, 0, ((size_t)g.node_count / 64 + 1) * sizeof(*seen));
		if (vexfs_hnsw_reachable(&g, seen, queue) == g.node_count)
			break;
		spare = 0;
		for (u = 0; u < g.node_count; u++) {
			const struct vexfs_hnsw_links *r = vexfs_hnsw_links0(&g, u);
			bool linked = false;

			if (vexfs_hnsw_seen(seen, u))
				continue;
			for (i = 0; i < le32toh(r->l_count) && !linked; i++) {
				uint32_t v = le32toh(r->l_ids[i]);

				linked = vexfs_hnsw_seen(seen, v) && link_to(&g, v, u);
			}
			while (!linked && spare < g.node_count) {
				linked = vexfs_hnsw_seen(seen, spare) &&
					 link_to(&g, spare, u);
				spare += !linked;
			}
		}
	}
out:
	free(queue);
	free(seen);
	return err;
}

int vexfs_hnsw_serialize(const struct vexfs_hnsw_builder *b, void *buf,
			 size_t len)
{
	size_t size = vexfs_hnsw_serialized_size(b);
	struct vexfs_hnsw_node *nodes;
	uint8_t *level0, *upper;
	struct bld_layout lo;
	uint32_t i, l;

	if (len < size || ((uintptr_t)buf & 7))
		return -EINVAL;
	layout_of(b, &lo);
	memset(buf, 0, size);
	write_header(b, &lo, buf);
	nodes = (struct vexfs_hnsw_node *)((uint8_t *)buf + VEXFS_HNSW_PAGE_SIZE);
	level0 = (uint8_t *)nodes + lo.node_bytes;
	upper = level0 + lo.level0_bytes;

	for (i = 0; i < b->n; i++) {
		nodes[i].n_slot = htole32(b->slots[i]);
		nodes[i].n_upper = htole32(b->upper_first[i]);
		nodes[i].n_level = htole16(b->levels[i]);
		write_record(level0, i, lo.level0_rec, lo.level0_per_page,
			     bld_links(b, i, 0));
		for (l = 1; l <= b->levels[i]; l++)
			write_record(upper, b->upper_first[i] + l - 1,
				     lo.upper_rec, lo.upper_per_page,
				     bld_links(b, i, l));
	}
	if (b->sq8)
		write_codes(b, &lo, upper + lo.upper_bytes);
	return reconnect(buf, size);
}
