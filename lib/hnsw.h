/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HNSW: approximate nearest-neighbour search over a collection's vectors.
 *
 * ==== The idea ====
 *
 * A hierarchical navigable small world graph (Malkov & Yashunin, 2016)
 * links each vector to a few of its near neighbours. Every node lives on
 * level 0; a node drawn to level L also lives on levels 1..L, with
 * P(L >= l) = M^-l, so each level holds about 1/M of the one below. A
 * search enters at the single node of the top level, walks greedily
 * towards the query on each upper level (long hops over a sparse graph),
 * and on level 0 runs a best-first beam search of width ef. ef trades
 * speed for recall; the index never changes for it.
 *
 * ==== Three parts, two worlds ====
 *
 *   hnsw_build.c   userspace only (the daemon): inserts vectors one by one,
 *                  on several threads, and writes the graph in the format of
 *                  include/uapi/vexfs_hnsw.h.
 *   hnsw_load.c    freestanding, kernel and userspace, no floating point:
 *                  checks a serialized graph completely and makes a view of
 *                  it (struct vexfs_hnsw_graph); also sizes and prepares the
 *                  search scratch. In the kernel it runs outside
 *                  kernel_fpu_begin()/kernel_fpu_end(), next to allocation
 *                  and copy_from_user().
 *   hnsw_search.c  freestanding, an FPU unit: the search itself. It
 *                  allocates nothing, takes no locks and never sleeps;
 *                  everything it writes is in the caller's scratch, so the
 *                  kernel can run it in bounded chunks inside the FPU
 *                  bracket (vexfs_hnsw_search_step()).
 *
 * ==== Vectors live elsewhere ====
 *
 * The graph names a node's vector by its collection slot and asks the
 * caller for it through a callback, so the kernel searches the vectors
 * where its vector table already keeps them and the graph stays small
 * (about 4 * (2M + 1) + 16 bytes a node). A slot whose callback answers
 * NULL (freed since the build) is neither followed nor returned.
 *
 * ==== Filters and deletions ====
 *
 * One more callback decides whether a node may be returned: a metadata
 * predicate, a BPF filter, a permission check, a deleted mark. A rejected
 * node is still traversed, as in hnswlib, because it may be the only way
 * to good nodes behind it; the beam keeps going until it holds ef accepted
 * nodes. With a filter that accepts almost nothing that can become a walk
 * over the whole graph, so a search may carry an effort bound
 * (max_distances), as redis vector sets bound max_candidates.
 *
 * ==== Memory of a search ====
 *
 *   visited    one u32 tag per node; a node is visited when its tag equals
 *              the search's epoch, so starting a search is one increment,
 *              and the array is cleared only when the epoch wraps.
 *   candidates a min-heap of nodes still to expand, bounded. When it
 *              fills, the candidates farther than the worst of ef results
 *              go (they would never be expanded); if it is still full,
 *              the farthest goes, which only a filtered search reaches.
 *   results    a max-heap of the ef best accepted nodes.
 *   batch      one neighbour list, gathered before distances are taken so
 *              the vectors can be prefetched.
 *
 * All of it is one block the caller allocates at the size
 * vexfs_hnsw_scratch_size() gives; one scratch serves one search at a time.
 */
#ifndef VEXFS_HNSW_H
#define VEXFS_HNSW_H

#include "vexfs_types.h"
#include "vexfs_distance.h"
#include <uapi/vexfs_hnsw.h>

/* ==== Little-endian fields ==== */

#ifdef __KERNEL__
#define vexfs_hnsw_le16(x)	le16_to_cpu(x)
#define vexfs_hnsw_le32(x)	le32_to_cpu(x)
#define vexfs_hnsw_le64(x)	le64_to_cpu(x)
#elif __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define vexfs_hnsw_le16(x)	((uint16_t)(x))
#define vexfs_hnsw_le32(x)	((uint32_t)(x))
#define vexfs_hnsw_le64(x)	((uint64_t)(x))
#else
#define vexfs_hnsw_le16(x)	__builtin_bswap16(x)
#define vexfs_hnsw_le32(x)	__builtin_bswap32(x)
#define vexfs_hnsw_le64(x)	__builtin_bswap64(x)
#endif

/* ==== A checked graph ==== */

/*
 * A view of a serialized graph: plain numbers decoded from the header and
 * where its pages are. It owns nothing.
 *
 * The pages are either one buffer (base: vexfs_hnsw_load() checked all of
 * it) or separate pages (pages[p] for page p, NULL while p is not in
 * memory: vexfs_hnsw_open() checked the header, vexfs_hnsw_check_page()
 * each page before its caller puts it there). A search over separate pages
 * stops where it needs one that is missing and says which
 * (vexfs_hnsw_search_step()); the caller reads it and resumes.
 */
struct vexfs_hnsw_graph {
	const struct vexfs_hnsw_header *hdr;	/* page 0 */
	const uint8_t *base;		/* the whole graph, or NULL: pages */
	const uint8_t *const *pages;	/* page p, or NULL: not in memory */
	uint64_t npages;		/* pages of the graph, header included */
	uint64_t node_page;		/* first page of the node table */
	uint64_t level0_page;		/* first page of the level-0 records */
	uint64_t upper_page;		/* first page of the upper records */
	uint64_t sq8_page;		/* first page of lo[], 0: no codes */
	uint64_t codes_page;		/* first page of the codes, 0: none */
	uint32_t dim;			/* vector dimension */
	uint32_t metric;		/* VEXFS_METRIC_* */
	uint32_t m;			/* link capacity above level 0 */
	uint32_t m0;			/* link capacity at level 0 */
	uint32_t max_level;		/* level of the entry point */
	uint32_t entry;			/* entry node, VEXFS_HNSW_NO_NODE if empty */
	uint32_t node_count;		/* nodes in the graph */
	uint32_t upper_count;		/* upper-level records */
	uint32_t level0_rec;		/* bytes of a level-0 record */
	uint32_t level0_per_page;	/* level-0 records in a page */
	uint32_t upper_rec;		/* bytes of an upper record */
	uint32_t upper_per_page;	/* upper records in a page */
	uint32_t codes_per_page;	/* codes in a page, 0: no codes */
	uint32_t sq8_step_bits;		/* float32 bits of the SQ8 step */
	uint64_t size;			/* bytes of the serialized graph */
};

/*
 * The largest valid graph over nslots slots of dimension dim: every slot a
 * node on every level, with the widest link records, and codes. A longer
 * buffer cannot be a graph of that collection: the module refuses it
 * before allocating anything (a publish, or a damaged image saying it is
 * that long), fsck reports it.
 */
static inline uint64_t vexfs_hnsw_bytes_max(uint64_t nslots, uint32_t dim)
{
	uint64_t l0_per_page = VEXFS_HNSW_PAGE_SIZE / VEXFS_HNSW_REC_SIZE(VEXFS_HNSW_MAX_M0);
	uint64_t up_per_page = VEXFS_HNSW_PAGE_SIZE / VEXFS_HNSW_REC_SIZE(VEXFS_HNSW_MAX_M);
	uint64_t codes_per_page = dim && dim <= VEXFS_HNSW_MAX_DIM ?
				  VEXFS_HNSW_PAGE_SIZE / dim : 1;
	uint64_t pages = 1 +
		(nslots + VEXFS_HNSW_NODES_PER_PAGE - 1) / VEXFS_HNSW_NODES_PER_PAGE +
		(nslots + l0_per_page - 1) / l0_per_page +
		(nslots * VEXFS_HNSW_MAX_LEVEL + up_per_page - 1) / up_per_page +
		((uint64_t)dim * 4 + VEXFS_HNSW_PAGE_SIZE - 1) / VEXFS_HNSW_PAGE_SIZE +
		(nslots + codes_per_page - 1) / codes_per_page;

	return pages * VEXFS_HNSW_PAGE_SIZE;
}

/*
 * Page p of the graph, or NULL when it is not in memory. Another thread
 * may put a page in place meanwhile (the kernel, with a release store):
 * an acquire load sees its bytes.
 */
static inline const uint8_t *vexfs_hnsw_page(const struct vexfs_hnsw_graph *g,
					     uint64_t p)
{
	if (g->base)
		return g->base + p * VEXFS_HNSW_PAGE_SIZE;
	return __atomic_load_n(&g->pages[p], __ATOMIC_ACQUIRE);
}

/* The page holding record r of a section of records packed per_page. */
static inline uint64_t vexfs_hnsw_page_of(uint64_t first, uint32_t r,
					  uint32_t per_page)
{
	return first + r / per_page;
}

/*
 * Record r of a section, in a page in memory (a search checks that first,
 * vexfs_hnsw_load() made it so for all).
 */
static inline const struct vexfs_hnsw_links *
vexfs_hnsw_record(const struct vexfs_hnsw_graph *g, uint64_t first,
		  uint32_t r, uint32_t rec_size, uint32_t per_page)
{
	return (const struct vexfs_hnsw_links *)
		(vexfs_hnsw_page(g, first + r / per_page) +
		 (size_t)(r % per_page) * rec_size);
}

static inline const struct vexfs_hnsw_node *
vexfs_hnsw_node(const struct vexfs_hnsw_graph *g, uint32_t n)
{
	return (const struct vexfs_hnsw_node *)
		vexfs_hnsw_page(g, g->node_page + n / VEXFS_HNSW_NODES_PER_PAGE) +
		n % VEXFS_HNSW_NODES_PER_PAGE;
}

static inline uint64_t vexfs_hnsw_node_page(const struct vexfs_hnsw_graph *g,
					    uint32_t n)
{
	return g->node_page + n / VEXFS_HNSW_NODES_PER_PAGE;
}

/* The links of node n on level 0. */
static inline const struct vexfs_hnsw_links *
vexfs_hnsw_links0(const struct vexfs_hnsw_graph *g, uint32_t n)
{
	return vexfs_hnsw_record(g, g->level0_page, n, g->level0_rec,
				 g->level0_per_page);
}

static inline uint32_t vexfs_hnsw_upper_rec(const struct vexfs_hnsw_graph *g,
					    uint32_t n, uint32_t l)
{
	return vexfs_hnsw_le32(vexfs_hnsw_node(g, n)->n_upper) + l - 1;
}

/* The links of node n on level l, 1 <= l <= the node's level. */
static inline const struct vexfs_hnsw_links *
vexfs_hnsw_links_upper(const struct vexfs_hnsw_graph *g, uint32_t n,
		       uint32_t l)
{
	return vexfs_hnsw_record(g, g->upper_page, vexfs_hnsw_upper_rec(g, n, l),
				 g->upper_rec, g->upper_per_page);
}

static inline const struct vexfs_hnsw_links *
vexfs_hnsw_links(const struct vexfs_hnsw_graph *g, uint32_t n, uint32_t l)
{
	return l ? vexfs_hnsw_links_upper(g, n, l) : vexfs_hnsw_links0(g, n);
}

/* The page of node n's links on level l (its node page is in memory). */
static inline uint64_t vexfs_hnsw_links_page(const struct vexfs_hnsw_graph *g,
					     uint32_t n, uint32_t l)
{
	if (!l)
		return vexfs_hnsw_page_of(g->level0_page, n, g->level0_per_page);
	return vexfs_hnsw_page_of(g->upper_page, vexfs_hnsw_upper_rec(g, n, l),
				  g->upper_per_page);
}

static inline uint32_t vexfs_hnsw_slot(const struct vexfs_hnsw_graph *g,
				       uint32_t n)
{
	return vexfs_hnsw_le32(vexfs_hnsw_node(g, n)->n_slot);
}

static inline uint32_t vexfs_hnsw_level(const struct vexfs_hnsw_graph *g,
					uint32_t n)
{
	return vexfs_hnsw_le16(vexfs_hnsw_node(g, n)->n_level);
}

/* Node n's SQ8 code, when the graph carries codes. */
static inline const uint8_t *vexfs_hnsw_code(const struct vexfs_hnsw_graph *g,
					     uint32_t n)
{
	return vexfs_hnsw_page(g, g->codes_page + n / g->codes_per_page) +
	       (size_t)(n % g->codes_per_page) * g->dim;
}

static inline uint64_t vexfs_hnsw_code_page(const struct vexfs_hnsw_graph *g,
					    uint32_t n)
{
	return g->codes_page + n / g->codes_per_page;
}

/*
 * Check the graph in buf[0..len) completely and describe it in *g. Every
 * slot must be below max_slots (the collection's slot count). buf must be
 * 8-byte aligned. Returns 0; -EINVAL when the buffer is not a graph this
 * code reads (magic, version, features, alignment, length), -EUCLEAN
 * when it is one but inconsistent. On error *why (if why is not NULL)
 * points to a static description. Reads nothing outside buf[0..len).
 */
int vexfs_hnsw_load(const void *buf, size_t len, uint32_t max_slots,
		    struct vexfs_hnsw_graph *g, const char **why);

/*
 * The same for a graph of len bytes kept as separate pages: check only
 * its header page (8-byte aligned, kept by the caller while *g is used)
 * and describe it in *g, over pages[] (npages entries, page 0 the header
 * page; NULL while a page is not in memory). Before the caller puts page
 * p into pages[p], vexfs_hnsw_check_page() must pass on it; a search
 * checks the rest of what a whole-graph load would (a link to a node below
 * the link's level is not followed). More nodes than max_slots: -EUCLEAN.
 */
int vexfs_hnsw_open(const void *hdr_page, uint64_t len, uint32_t max_slots,
		    const uint8_t *const *pages, struct vexfs_hnsw_graph *g,
		    const char **why);

/*
 * Check page p (1 .. npages - 1) of g on its own, at page (8-byte
 * aligned): what vexfs_hnsw_load() checks of it that needs no other page.
 * 0, -EUCLEAN with *why, or -EINVAL for a page g does not have.
 */
int vexfs_hnsw_check_page(const struct vexfs_hnsw_graph *g, uint64_t p,
			  const void *page, uint32_t max_slots,
			  const char **why);

/*
 * The SQ8 coding the graph carries (g->codes_per_page not 0): its lo[]
 * into lo (dim floats) and its step into *step. -ENODATA with the page
 * in *missing when one of lo[]'s pages is not in memory. No floating
 * point: the caller derives the rest (vexfs_sq8_set_lo()).
 */
int vexfs_hnsw_sq8_params(const struct vexfs_hnsw_graph *g, float *lo,
			  float *step, uint64_t *missing);

/*
 * The node table in order, a node page at a time, which no single page
 * shows: slots increasing across pages, upper records allotted in node
 * order and every one used. Start from a zeroed *o; a step checks the
 * rest of the node page holding o->next: -ENODATA with the page in
 * *missing when it is not in memory, -EAGAIN when pages remain, 0 when
 * the table is done, -EUCLEAN with *why. vexfs_hnsw_load() runs it over
 * the whole graph; over pages, a caller steps it as it reads the table.
 */
struct vexfs_hnsw_order {
	uint32_t next;			/* the next node to check */
	uint32_t last_slot;		/* the slot of the node before it */
	uint64_t upper;			/* upper records allotted before it */
};

int vexfs_hnsw_order_step(const struct vexfs_hnsw_graph *g,
			  struct vexfs_hnsw_order *o, uint64_t *missing,
			  const char **why);

/*
 * Every link above level 0 to a node that lives on the link's level, which
 * no single page shows (a search does not follow a link that breaks it,
 * so over pages only a publish needs the proof). Start from a zeroed *v;
 * a step stops at a page not in memory (-ENODATA, the page in v->missing;
 * put it in place and step again, which resumes where it stopped) or
 * after budget nodes (-EAGAIN); 0 when done, -EUCLEAN with *why. A step
 * needs at most three pages at once: a node's, its links', the linked
 * node's.
 */
struct vexfs_hnsw_levels {
	uint32_t node;			/* the node being checked */
	uint32_t level;			/* its level being checked, 0: none yet */
	uint32_t link;			/* the next link on that level */
	uint64_t missing;		/* the page -ENODATA asked for */
};

int vexfs_hnsw_levels_step(const struct vexfs_hnsw_graph *g,
			   struct vexfs_hnsw_levels *v, uint32_t budget,
			   const char **why);

/*
 * Mark the nodes a search can reach: those linked, on any level, from the
 * entry point. A checked graph may still hold nodes no link leads to (a
 * broken or hostile builder); a walk never finds them, so only reached
 * nodes can stand in for an exact scan of their slots. seen holds one bit
 * per node, zeroed by the caller; queue has room for node_count ids.
 * Returns the number of nodes reached. No floating point.
 */
uint32_t vexfs_hnsw_reachable(const struct vexfs_hnsw_graph *g,
			      uint64_t *seen, uint32_t *queue);

/*
 * The same a step at a time, for a graph in pages: a step stops at a page
 * not in memory (-ENODATA, the page in r->missing; put it in place and
 * step again, which resumes at the same link) or after budget links (at
 * least 1; -EAGAIN); 0 when done, r->tail nodes reached. A step needs at most
 * three pages at once: the node's, its links', and, above level 0, the
 * linked node's, whose level must reach the link's (a search does not
 * follow a link to a node below it). Over a checked graph the result is
 * vexfs_hnsw_reachable()'s. No floating point.
 */
struct vexfs_hnsw_reach {
	uint64_t *seen;			/* a bit per node, zeroed by the caller */
	uint32_t *queue;		/* node_count entries */
	uint32_t head, tail;		/* queue[head] is being walked */
	uint32_t level;			/* its level being walked */
	uint32_t link;			/* the next link on that level */
	uint64_t missing;		/* the page -ENODATA asked for */
};

void vexfs_hnsw_reach_init(struct vexfs_hnsw_reach *r,
			   const struct vexfs_hnsw_graph *g, uint64_t *seen,
			   uint32_t *queue);
int vexfs_hnsw_reach_step(const struct vexfs_hnsw_graph *g,
			  struct vexfs_hnsw_reach *r, uint32_t budget);

static inline bool vexfs_hnsw_seen(const uint64_t *seen, uint32_t n)
{
	return seen[n / 64] & ((uint64_t)1 << (n % 64));
}

/* ==== Searching ==== */

struct vexfs_sq8;
struct vexfs_sq8_query;

/* The vector of a slot, or NULL if the slot holds none any more. */
typedef const float *(*vexfs_hnsw_vector_fn)(void *ctx, uint32_t slot);
/* Whether a slot may be returned (filter, deleted mark, permission). */
typedef bool (*vexfs_hnsw_accept_fn)(void *ctx, uint32_t slot);

/* One search: what to look for and how to reach the vectors. */
struct vexfs_hnsw_query {
	const float *vector;		/* the query, graph dim floats */
	uint32_t k;			/* results wanted */
	uint32_t ef;			/* beam width on level 0; raised to k */
	uint32_t max_distances;		/* effort bound, 0: none */
	vexfs_distance_fn distance;	/* for the graph's metric */
	/*
	 * Optional: the implementation distance comes from. Neighbour lists
	 * are then scored by one ops->list call each, which stops early on
	 * vectors that cannot place.
	 */
	const struct vexfs_distance_ops *ops;
	/*
	 * Optional: slot s's vector is vectors + s * dim, always present;
	 * vector_of is then not called. Saves a call per neighbour.
	 */
	const float *vectors;
	vexfs_hnsw_vector_fn vector_of;	/* slot -> vector; without vectors */
	/*
	 * Optional: walk on SQ8 codes (vexfs_sq8.h), slot s's code at
	 * codes + s * dim, or with codes NULL the graph's own (a graph that
	 * carries codes: sq8 must then be coded by the graph's coding,
	 * vexfs_hnsw_sq8_params()), the query coded as sq8 says; then re-rank the ef
	 * best found by their exact distances, so results carry those. The
	 * vectors still tell which slots hold one, and serve the re-rank.
	 * With neither vectors nor vector_of, every node's slot holds a
	 * vector and nothing is re-ranked: results carry the estimates, for
	 * the caller to re-rank (the module reads the vectors from disk).
	 */
	const struct vexfs_sq8_query *sq8;
	const uint8_t *codes;
	uint32_t rerank;		/* re-rank the best this many; 0: all ef */
	vexfs_hnsw_accept_fn accept;	/* NULL: every slot is acceptable */
	void *ctx;			/* passed to both callbacks */
};

/* One result: a slot and its distance to the query. */
struct vexfs_hnsw_result {
	uint32_t slot;
	float dist;
};

/* A node and its distance to the query: an entry of the heaps (hnsw_cand.h). */
struct vexfs_hnsw_cand {
	uint32_t node;
	float dist;
};

/*
 * The memory and the state of one search. vexfs_hnsw_scratch_init() sets
 * the first group; the search owns the second.
 */
struct vexfs_hnsw_scratch {
	/* ---- memory, carved from the caller's block ---- */
	uint32_t *visited;		/* node_cap epoch tags */
	struct vexfs_hnsw_cand *cand;	/* min-heap of nodes to expand */
	struct vexfs_hnsw_cand *res;	/* max-heap of accepted nodes */
	uint32_t *batch_node;		/* one neighbour list being scored */
	union {
		const float **batch_vec;	/* and the vectors of its nodes */
		const uint8_t **batch_code;	/* or, walking on codes, their codes */
	};
	float *batch_dist;		/* and their distances */
	uint32_t node_cap;		/* graph nodes the tags cover */
	uint32_t cand_cap;		/* entries of cand */
	uint32_t ef_max;		/* entries of res: the largest ef */
	uint32_t batch_cap;		/* entries of batch_*: the largest m0 */
	uint32_t epoch;			/* tag of the nodes visited now */
	/* ---- state of the search in progress ---- */
	uint32_t phase;			/* VEXFS_HNSW_PHASE_* (hnsw_search.c) */
	uint32_t level;			/* level of the greedy descent */
	uint32_t cur;			/* descent: node reached so far */
	float cur_dist;			/* and its distance to the query */
	uint32_t ef;			/* ef of this search */
	uint32_t ncand;			/* entries in cand */
	uint32_t nres;			/* entries in res */
	uint32_t distances;		/* distances computed so far */
	uint64_t missing;		/* page a step returned -ENODATA for */
};

/*
 * Bytes of scratch for searches of g with ef up to ef_max (at least 1).
 * Integer only; 0 if the numbers overflow.
 */
size_t vexfs_hnsw_scratch_size(const struct vexfs_hnsw_graph *g,
			       uint32_t ef_max);

/*
 * Lay out a scratch of size bytes at mem (8-byte aligned) for searches of
 * g with ef up to ef_max; clears the visited tags. -EINVAL if it is too
 * small. Integer only. The scratch then serves any graph that is no larger
 * and has no larger m0.
 */
int vexfs_hnsw_scratch_init(struct vexfs_hnsw_scratch *s, void *mem,
			    size_t size, const struct vexfs_hnsw_graph *g,
			    uint32_t ef_max);

/*
 * Search g: the up to k accepted slots nearest to the query, best first
 * (ties by slot), into results[0..k). Returns how many, or -EINVAL when the
 * query does not fit the scratch (ef > ef_max, a larger graph) or has no
 * vector callback. In the kernel: between kernel_fpu_begin() and
 * kernel_fpu_end(), and the callbacks must not sleep.
 */
int vexfs_hnsw_search(const struct vexfs_hnsw_graph *g,
		      const struct vexfs_hnsw_query *q,
		      struct vexfs_hnsw_scratch *s,
		      struct vexfs_hnsw_result *results);

/*
 * The same in chunks, so the kernel may leave the FPU bracket and
 * reschedule between them: start, then step until it returns 0 (done) and
 * not -EAGAIN (budget spent: call again), then collect the results. A step
 * computes about budget distances (it finishes the neighbour list it is
 * on). The graph, query and scratch must not change in between. The
 * results may also be taken early: the best found so far.
 *
 * Over a graph kept as pages (vexfs_hnsw_open()), a step returns -ENODATA
 * when the next node it would expand needs a page not in memory, with
 * that page in s->missing: it stops between expansions, so the search
 * stays where it was; check and put the page in place, then step again.
 * Pages in place must stay until the results are taken. The codes are
 * the graph's own when q->codes is NULL.
 */
int vexfs_hnsw_search_start(const struct vexfs_hnsw_graph *g,
			    const struct vexfs_hnsw_query *q,
			    struct vexfs_hnsw_scratch *s);
int vexfs_hnsw_search_step(const struct vexfs_hnsw_graph *g,
			   const struct vexfs_hnsw_query *q,
			   struct vexfs_hnsw_scratch *s, uint32_t budget);
int vexfs_hnsw_search_results(const struct vexfs_hnsw_graph *g,
			      const struct vexfs_hnsw_query *q,
			      struct vexfs_hnsw_scratch *s,
			      struct vexfs_hnsw_result *results);

/* ==== Building (userspace) ==== */

#ifndef __KERNEL__

struct vexfs_hnsw_builder;

/* Told how many of total nodes are in the graph so far. */
typedef void (*vexfs_hnsw_progress_fn)(void *ctx, uint32_t done, uint32_t total);

struct vexfs_hnsw_build_params {
	uint32_t dim;			/* vector dimension */
	uint32_t metric;		/* VEXFS_METRIC_* */
	uint32_t m;			/* links per node above level 0; 2m at 0 */
	uint32_t ef_construction;	/* beam width while inserting */
	uint32_t threads;		/* inserting threads; 0 or 1: the caller */
	bool keep_pruned;		/* fill lists with pruned candidates */
	uint64_t seed;			/* seeds the draw of levels */
	vexfs_distance_fn distance;	/* NULL: the best kernel for metric */
	vexfs_hnsw_vector_fn vector_of;	/* slot -> vector, required */
	void *ctx;			/* passed to vector_of */
	/*
	 * Optional: build on SQ8 codes (vexfs_sq8.h), slot s's at codes +
	 * s * dim, every distance taken between codes: a quarter of the
	 * memory traffic and integer sums. vector_of still names the slots
	 * that hold a vector; distance is then not used. The serialized
	 * graph then carries the coding and each node's code
	 * (VEXFS_HNSW_INCOMPAT_SQ8); both must last until it is written.
	 */
	const struct vexfs_sq8 *sq8;
	const uint8_t *codes;
	vexfs_hnsw_progress_fn progress; /* NULL, or called now and then, last with total */
	void *progress_ctx;		/* passed to progress */
};

/* M 16, efConstruction 200, one thread, keep pruned connections. */
void vexfs_hnsw_build_defaults(struct vexfs_hnsw_build_params *p);

/*
 * Build a graph over the n slots (NULL: slots 0..n-1; else distinct, in
 * any order; node i is the i-th smallest). With one thread the graph
 * depends only on the parameters, the slots and the vectors. Returns 0 and
 * the builder in *out, -EINVAL for bad parameters, duplicate slots or a
 * slot without a vector, -ENOMEM, or a pthread error negated.
 */
int vexfs_hnsw_build(const struct vexfs_hnsw_build_params *p,
		     const uint32_t *slots, uint32_t n,
		     struct vexfs_hnsw_builder **out);

/* Bytes of the serialized graph. */
size_t vexfs_hnsw_serialized_size(const struct vexfs_hnsw_builder *b);

/* Write it to buf (len at least the size above); -EINVAL if too small. */
int vexfs_hnsw_serialize(const struct vexfs_hnsw_builder *b, void *buf,
			 size_t len);

/* Memory the builder holds (graph, locks, tables), vectors not included. */
size_t vexfs_hnsw_builder_bytes(const struct vexfs_hnsw_builder *b);

/* Inspection, for tests: levels and links of node n as built. */
uint32_t vexfs_hnsw_builder_nodes(const struct vexfs_hnsw_builder *b);
uint32_t vexfs_hnsw_builder_level(const struct vexfs_hnsw_builder *b,
				  uint32_t n);
const uint32_t *vexfs_hnsw_builder_links(const struct vexfs_hnsw_builder *b,
					 uint32_t n, uint32_t level,
					 uint32_t *count);

void vexfs_hnsw_builder_free(struct vexfs_hnsw_builder *b);

#endif /* !__KERNEL__ */

#endif /* VEXFS_HNSW_H */
