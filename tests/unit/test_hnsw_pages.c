// SPDX-License-Identifier: GPL-2.0
/*
 * A graph kept as separate pages (lib/hnsw.h: vexfs_hnsw_open(),
 * vexfs_hnsw_check_page()), walked on the SQ8 codes it carries, as the
 * module walks one from the page cache: every page starts out of memory,
 * a step that needs one returns -ENODATA, the test checks the page and
 * puts it in place, and the walk resumes. Each page is an allocation of
 * its own, so AddressSanitizer sees any read past a page.
 *
 *   - the paged walk returns what the walk over the whole buffer returns,
 *     query for query, and reads only the pages it needs;
 *   - the codes the graph carries are the ones it was built on;
 *   - damaged pages are refused by the page check or walked safely,
 *     including damage only a whole-graph load can see.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hnsw.h"
#include "test_rng.h"
#include "vexfs_sq8.h"

#define N		3000
#define DIM		48
#define NQ		50
#define K		10
#define EF		64

/* Vectors around a few centres: a graph with structure to walk. */
static float *clustered(uint32_t n, uint32_t dim)
{
	float *v = malloc((size_t)n * dim * sizeof(*v)), centre[8][DIM];
	uint32_t i, j;

	assert_non_null(v);
	for (i = 0; i < 8; i++)
		for (j = 0; j < dim; j++)
			centre[i][j] = 10.0f * rng_unit();
	for (i = 0; i < n; i++)
		for (j = 0; j < dim; j++)
			v[(size_t)i * dim + j] = centre[i % 8][j] + rng_unit();
	return v;
}

/* The data, its coding and codes, and the graph built on them. */
struct fixture {
	float *v;			/* N rows, then NQ queries */
	float lo[DIM], hi[DIM];
	struct vexfs_sq8 sq8;
	uint8_t *codes;			/* by slot: slot i is row i */
	void *buf;			/* the serialized graph */
	size_t len;
	struct vexfs_hnsw_graph whole;	/* vexfs_hnsw_load() of buf */
};

static const float *row_of(void *ctx, uint32_t slot)
{
	const struct fixture *f = ctx;

	return f->v + (size_t)slot * DIM;
}

/*
 * A graph over the first n of f's rows, built on their codes (so it
 * carries them) with seed and efc, in *buf (page aligned); its length.
 */
static size_t build_on_codes(struct fixture *f, uint32_t n, uint64_t seed,
			     uint32_t efc, void **buf)
{
	struct vexfs_hnsw_build_params p;
	struct vexfs_hnsw_builder *b;
	size_t len;

	vexfs_hnsw_build_defaults(&p);
	p.dim = DIM;
	p.metric = VEXFS_METRIC_L2;
	p.ef_construction = efc;
	p.seed = seed;
	p.vector_of = row_of;
	p.ctx = f;
	p.sq8 = &f->sq8;
	p.codes = f->codes;
	assert_int_equal(vexfs_hnsw_build(&p, NULL, n, &b), 0);
	len = vexfs_hnsw_serialized_size(b);
	assert_int_equal(posix_memalign(buf, 4096, len), 0);
	assert_int_equal(vexfs_hnsw_serialize(b, *buf, len), 0);
	vexfs_hnsw_builder_free(b);
	return len;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vexfs_sq8_trainer t;
	uint32_t i;

	assert_non_null(f);
	rng_seed(7);
	f->v = clustered(N + NQ, DIM);
	vexfs_sq8_train_begin(&t, DIM, VEXFS_METRIC_L2, f->lo, f->hi);
	for (i = 0; i < N; i++)
		vexfs_sq8_train_add(&t, row_of(f, i));
	vexfs_sq8_train_end(&t, &f->sq8);
	f->codes = malloc((size_t)N * DIM);
	assert_non_null(f->codes);
	for (i = 0; i < N; i++)
		vexfs_sq8_encode(&f->sq8, row_of(f, i), f->codes + (size_t)i * DIM);

	f->len = build_on_codes(f, N, 3, 200, &f->buf);
	assert_int_equal(vexfs_hnsw_load(f->buf, f->len, N, &f->whole, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->v);
	free(f->codes);
	free(f->buf);
	free(f);
	return 0;
}

/* ==== A graph in pages ==== */

/* The pages of a graph, each its own allocation, none in memory at first. */
struct paged {
	const uint8_t *src;		/* where the pages are read from */
	uint8_t **copies;		/* npages: the page, once read */
	const uint8_t **pages;		/* what the graph view sees */
	struct vexfs_hnsw_graph g;
	uint64_t reads;			/* pages put in place */
	uint64_t refused;		/* pages the check refused */
};

static int paged_open(struct paged *pg, const void *src, size_t len)
{
	uint64_t npages = len / VEXFS_HNSW_PAGE_SIZE;
	int err;

	memset(pg, 0, sizeof(*pg));
	pg->src = src;
	pg->copies = calloc(npages ? npages : 1, sizeof(*pg->copies));
	pg->pages = calloc(npages ? npages : 1, sizeof(*pg->pages));
	assert_true(pg->copies && pg->pages);
	if (!npages)
		return -EINVAL;
	assert_int_equal(posix_memalign((void **)&pg->copies[0], 8,
					VEXFS_HNSW_PAGE_SIZE), 0);
	memcpy(pg->copies[0], src, VEXFS_HNSW_PAGE_SIZE);
	pg->pages[0] = pg->copies[0];
	err = vexfs_hnsw_open(pg->pages[0], len, N, pg->pages, &pg->g, NULL);
	if (!err)
		assert_int_equal(pg->g.npages, npages);
	return err;
}

static void paged_close(struct paged *pg, size_t len)
{
	uint64_t p;

	for (p = 0; p < len / VEXFS_HNSW_PAGE_SIZE; p++)
		free(pg->copies[p]);
	free(pg->copies);
	free(pg->pages);
}

/* Read page p, check it, put it in place; false if the check refused it. */
static bool paged_read(struct paged *pg, uint64_t p)
{
	uint8_t *copy = NULL;

	assert_true(p > 0 && p < pg->g.npages);
	assert_null(pg->pages[p]);
	assert_int_equal(posix_memalign((void **)&copy, 8, VEXFS_HNSW_PAGE_SIZE), 0);
	memcpy(copy, pg->src + p * VEXFS_HNSW_PAGE_SIZE, VEXFS_HNSW_PAGE_SIZE);
	if (vexfs_hnsw_check_page(&pg->g, p, copy, N, NULL)) {
		free(copy);
		pg->refused++;
		return false;
	}
	pg->copies[p] = copy;
	pg->pages[p] = copy;
	pg->reads++;
	return true;
}

/* The coding the graph carries, ready for queries. */
struct coding {
	float lo[DIM];
	struct vexfs_sq8 sq8;
	int16_t qcode[DIM];
	struct vexfs_sq8_query q;
};

static int coding_of(struct paged *pg, struct coding *c)
{
	uint64_t missing;
	int err;

	memset(c, 0, sizeof(*c));
	c->sq8.dim = DIM;
	c->sq8.metric = VEXFS_METRIC_L2;
	while ((err = vexfs_hnsw_sq8_params(&pg->g, c->lo, &c->sq8.step,
					    &missing)) == -ENODATA)
		if (!paged_read(pg, missing))
			return -EUCLEAN;
	if (!err)
		vexfs_sq8_set_lo(&c->sq8, c->lo);
	return err;
}

/*
 * One codes-only walk of g (the graph's own codes), stepping and reading
 * the pages it asks for; -EUCLEAN when one was refused.
 */
static int walk(struct paged *pg, const struct vexfs_hnsw_graph *g,
		struct coding *c, struct vexfs_hnsw_scratch *s,
		const float *query, struct vexfs_hnsw_result *res,
		uint64_t *stops)
{
	struct vexfs_hnsw_query q = {
		.vector = query, .k = EF, .ef = EF,
		.distance = vexfs_distance_fn_of(&vexfs_distance_scalar,
						 VEXFS_METRIC_L2),
		.sq8 = &c->q,
	};
	int err;

	vexfs_sq8_query_init(&c->q, &c->sq8, &vexfs_sq8_scalar, query, c->qcode);
	err = vexfs_hnsw_search_start(g, &q, s);
	while (!err) {
		err = vexfs_hnsw_search_step(g, &q, s, 100);
		if (err == -EAGAIN) {
			err = 0;
		} else if (err == -ENODATA) {
			(*stops)++;
			err = pg && paged_read(pg, s->missing) ? 0 : -EUCLEAN;
		} else {
			break;
		}
	}
	return err ? err : vexfs_hnsw_search_results(g, &q, s, res);
}

static void *scratch_for(const struct vexfs_hnsw_graph *g,
			 struct vexfs_hnsw_scratch *s)
{
	size_t size = vexfs_hnsw_scratch_size(g, EF);
	void *mem = NULL;

	assert_true(size > 0);
	assert_int_equal(posix_memalign(&mem, 64, size), 0);
	assert_int_equal(vexfs_hnsw_scratch_init(s, mem, size, g, EF), 0);
	return mem;
}

/* ==== Tests ==== */

/* The graph carries the codes it was built on, by node. */
static void test_codes_carried(void **state)
{
	struct fixture *f = *state;
	const struct vexfs_hnsw_graph *g = &f->whole;
	float lo[DIM], step;
	uint64_t missing;
	uint32_t n;

	assert_int_equal(le32toh(g->hdr->h_incompat), VEXFS_HNSW_INCOMPAT_SQ8);
	assert_int_equal(vexfs_hnsw_sq8_params(g, lo, &step, &missing), 0);
	assert_memory_equal(lo, f->lo, sizeof(lo));
	assert_true(step == f->sq8.step);
	for (n = 0; n < g->node_count; n++)
		assert_memory_equal(vexfs_hnsw_code(g, n),
				    f->codes + (size_t)vexfs_hnsw_slot(g, n) * DIM,
				    DIM);
}

/*
 * Walked page by page, the graph answers every query as it does in one
 * buffer, with the caller's codes by slot: the same slots, the same
 * estimates, in the same order. The walk reads the pages it needs, once.
 */
static void test_paged_walk_same(void **state)
{
	struct fixture *f = *state;
	struct vexfs_hnsw_result whole[EF], paged[EF];
	struct vexfs_hnsw_scratch sw, sp;
	void *mw = scratch_for(&f->whole, &sw), *mp;
	uint64_t stops = 0, none = 0, after_first = 0;
	struct coding c, cw;
	struct paged pg;
	uint32_t qi;

	assert_int_equal(paged_open(&pg, f->buf, f->len), 0);
	mp = scratch_for(&pg.g, &sp);
	assert_int_equal(coding_of(&pg, &c), 0);
	memset(&cw, 0, sizeof(cw));
	cw.sq8 = f->sq8;
	for (qi = 0; qi < NQ; qi++) {
		const float *query = f->v + (size_t)(N + qi) * DIM;
		struct vexfs_hnsw_query q = {
			.vector = query, .k = EF, .ef = EF,
			.distance = vexfs_distance_fn_of(&vexfs_distance_scalar,
							 VEXFS_METRIC_L2),
			.sq8 = &cw.q, .codes = f->codes,
		};
		int nw, np;

		vexfs_sq8_query_init(&cw.q, &cw.sq8, &vexfs_sq8_scalar, query,
				     cw.qcode);
		nw = vexfs_hnsw_search(&f->whole, &q, &sw, whole);
		np = walk(&pg, &pg.g, &c, &sp, query, paged, &stops);
		assert_int_equal(nw, EF);
		assert_int_equal(np, nw);
		assert_memory_equal(paged, whole, (size_t)nw * sizeof(*whole));
		/* The graph's codes, over the whole buffer: the same again. */
		assert_int_equal(walk(NULL, &f->whole, &c, &sw, query, whole,
				      &none), EF);
		assert_memory_equal(paged, whole, EF * sizeof(*whole));
		if (qi == 0)
			after_first = pg.reads;
	}
	print_message("    %llu of %llu pages read, %llu after the first query; %llu stops\n",
		      (unsigned long long)pg.reads, (unsigned long long)pg.g.npages,
		      (unsigned long long)(pg.reads - after_first),
		      (unsigned long long)stops);
	assert_int_equal(none, 0);
	assert_true(stops == pg.reads - (f->whole.codes_page - f->whole.sq8_page));
	assert_true(after_first < pg.g.npages - 1);
	assert_int_equal(pg.refused, 0);
	paged_close(&pg, f->len);
	free(mw);
	free(mp);
}

/*
 * A graph over 1,800 rows whose last node lives on level 0 alone and whose
 * entry point has room for one more link on its top level (and, with
 * full_page, whose upper records fill their last page), in *buf; its
 * length, and its whole-graph view in *whole.
 */
static size_t graph_for_low_link(struct fixture *f, bool full_page, void **buf,
				 struct vexfs_hnsw_graph *whole)
{
	uint64_t seed;
	size_t len;

	for (seed = 1; seed < 2000; seed++) {
		len = build_on_codes(f, 1800, seed, 40, buf);
		assert_int_equal(vexfs_hnsw_load(*buf, len, N, whole, NULL), 0);
		if (whole->max_level > 0 &&
		    (!full_page || whole->upper_count % whole->upper_per_page == 0) &&
		    vexfs_hnsw_level(whole, whole->node_count - 1) == 0 &&
		    vexfs_hnsw_le32(vexfs_hnsw_links_upper(whole, whole->entry,
				whole->max_level)->l_count) < whole->m)
			return len;
		free(*buf);
	}
	fail_msg("no seed gave such a graph");
	return 0;
}

/* Link the entry point to node low on its top level. */
static void link_entry_to(struct vexfs_hnsw_graph *whole, uint32_t low)
{
	struct vexfs_hnsw_links *r = (struct vexfs_hnsw_links *)
		vexfs_hnsw_links_upper(whole, whole->entry, whole->max_level);
	uint32_t count = le32toh(r->l_count);

	r->l_ids[count] = htole32(low);
	r->l_count = htole32(count + 1);
}

/*
 * An upper-level link to a node that lives only on level 0: a whole-graph
 * load refuses it, a page check cannot see it, and the walk must not
 * follow it, for that node has no record on the level. Here the node is
 * the last, whose upper records would start right after the section, in a
 * graph whose upper records fill their last page: following the link
 * reads lo[] as a link record, with a count far past the page. The query
 * is the node's own vector, which draws the descent to it.
 */
static void test_link_below_level(void **state)
{
	struct fixture *f = *state;
	struct vexfs_hnsw_result res[EF];
	struct vexfs_hnsw_graph whole;
	struct vexfs_hnsw_scratch s;
	uint64_t stops = 0;
	struct coding c;
	uint32_t low;
	struct paged pg;
	void *buf = NULL, *mem;
	size_t len = 0;

	len = graph_for_low_link(f, true, &buf, &whole);
	low = whole.node_count - 1;
	link_entry_to(&whole, low);
	assert_int_equal(vexfs_hnsw_load(buf, len, N, &whole, NULL), -EUCLEAN);

	assert_int_equal(paged_open(&pg, buf, len), 0);
	mem = scratch_for(&pg.g, &s);
	assert_int_equal(coding_of(&pg, &c), 0);
	assert_int_equal(walk(&pg, &pg.g, &c, &s, row_of(f, low), res, &stops), EF);
	assert_int_equal(res[0].slot, low);
	assert_int_equal(pg.refused, 0);
	paged_close(&pg, len);
	free(mem);
	free(buf);
}

/*
 * Reachability over pages (vexfs_hnsw_reach_step()) stopping at every page
 * it lacks and every few links: it reads pages as it needs them, at most
 * three of its own at a time, and marks what vexfs_hnsw_reachable() marks
 * over the whole buffer.
 */
static uint32_t reach_paged(struct paged *pg, uint64_t *seen, uint32_t *queue,
			    uint32_t budget, uint64_t *stops)
{
	struct vexfs_hnsw_reach r;
	int err;

	vexfs_hnsw_reach_init(&r, &pg->g, seen, queue);
	while ((err = vexfs_hnsw_reach_step(&pg->g, &r, budget)) != 0) {
		if (err == -ENODATA) {
			(*stops)++;
			assert_true(paged_read(pg, r.missing));
		} else {
			assert_int_equal(err, -EAGAIN);
		}
	}
	return r.tail;
}

static void test_reach_over_pages(void **state)
{
	struct fixture *f = *state;
	uint32_t words = (f->whole.node_count + 63) / 64, budget;
	uint64_t *seen_whole = calloc(words, 8), *seen = calloc(words, 8);
	uint32_t *queue = calloc(f->whole.node_count, 4), whole, paged;
	uint64_t stops = 0;
	struct paged pg;

	assert_true(seen_whole && seen && queue);
	whole = vexfs_hnsw_reachable(&f->whole, seen_whole, queue);
	assert_int_equal(whole, f->whole.node_count);
	for (budget = 1; budget <= 4096; budget *= 64) {
		assert_int_equal(paged_open(&pg, f->buf, f->len), 0);
		memset(seen, 0, words * 8);
		paged = reach_paged(&pg, seen, queue, budget, &stops);
		assert_int_equal(paged, whole);
		assert_memory_equal(seen, seen_whole, words * 8);
		/* The walk needs no code and no coding. */
		assert_true(pg.reads <= f->whole.sq8_page - 1);
		assert_int_equal(pg.refused, 0);
		paged_close(&pg, f->len);
	}
	free(seen_whole);
	free(seen);
	free(queue);
}

/*
 * The node table's order over pages (vexfs_hnsw_order_step()), a node
 * page at a time as it asks for them: it reads the node table and nothing
 * else. f's graph spans several node pages.
 */
static int order_paged(struct paged *pg, const char **why)
{
	struct vexfs_hnsw_order o = { 0 };
	uint64_t missing;
	int err;

	while ((err = vexfs_hnsw_order_step(&pg->g, &o, &missing, why)) != 0) {
		if (err == -ENODATA)
			assert_true(paged_read(pg, missing));
		else if (err != -EAGAIN)
			return err;
	}
	assert_int_equal(o.next, pg->g.node_count);
	return 0;
}

static void test_order_over_pages(void **state)
{
	struct fixture *f = *state;
	struct paged pg;

	assert_true(f->whole.node_count > 2 * VEXFS_HNSW_NODES_PER_PAGE);
	assert_int_equal(paged_open(&pg, f->buf, f->len), 0);
	assert_int_equal(order_paged(&pg, NULL), 0);
	assert_int_equal(pg.reads, f->whole.level0_page - f->whole.node_page);
	paged_close(&pg, f->len);
}

/* The first node of node page 1, in a copy of f's graph in *buf. */
static struct vexfs_hnsw_node *second_page_node(struct fixture *f, void **buf)
{
	assert_int_equal(posix_memalign(buf, 4096, f->len), 0);
	memcpy(*buf, f->buf, f->len);
	return (struct vexfs_hnsw_node *)((uint8_t *)*buf +
		(f->whole.node_page + 1) * VEXFS_HNSW_PAGE_SIZE);
}

/*
 * What no single node page shows, found over pages as over the whole
 * graph: a slot no larger than the last one of the page before, upper
 * records allotted out of node order.
 */
static void test_order_refused_over_pages(void **state)
{
	struct fixture *f = *state;
	uint32_t last = vexfs_hnsw_slot(&f->whole, VEXFS_HNSW_NODES_PER_PAGE - 1);
	struct vexfs_hnsw_graph g;
	struct vexfs_hnsw_node *n;
	const char *why = NULL;
	struct paged pg;
	void *buf;
	int bad;

	for (bad = 0; bad < 2; bad++) {
		n = second_page_node(f, &buf);
		if (bad == 0)
			n->n_slot = htole32(last);
		else
			n->n_upper = htole32(le32toh(n->n_upper) + 1);
		assert_int_equal(vexfs_hnsw_load(buf, f->len, N, &g, NULL), -EUCLEAN);
		assert_int_equal(paged_open(&pg, buf, f->len), 0);
		assert_int_equal(order_paged(&pg, &why), -EUCLEAN);
		assert_string_equal(why, bad == 0 ? "slots not increasing" :
				    "upper records out of order");
		assert_int_equal(pg.refused, 0);
		paged_close(&pg, f->len);
		free(buf);
	}
}

/*
 * Every upper link to a node on its level, over pages
 * (vexfs_hnsw_levels_step()) stopping at every page it lacks and every
 * few nodes: true of f's graph; and the link a whole-graph load refuses,
 * to a node that lives on level 0 alone, refused over pages too, though
 * no page check, order check or reachability sees it.
 */
static int levels_paged(struct paged *pg, uint32_t budget, const char **why)
{
	struct vexfs_hnsw_levels v = { 0 };
	int err;

	while ((err = vexfs_hnsw_levels_step(&pg->g, &v, budget, why)) != 0) {
		if (err == -ENODATA)
			assert_true(paged_read(pg, v.missing));
		else if (err != -EAGAIN)
			return err;
	}
	assert_int_equal(v.node, pg->g.node_count);
	return 0;
}

static void test_levels_over_pages(void **state)
{
	struct fixture *f = *state;
	struct vexfs_hnsw_graph whole;
	const char *why = NULL;
	uint32_t budget;
	struct paged pg;
	void *buf = NULL;
	size_t len;

	assert_true(f->whole.max_level > 0);
	for (budget = 1; budget <= 4096; budget *= 64) {
		assert_int_equal(paged_open(&pg, f->buf, f->len), 0);
		assert_int_equal(levels_paged(&pg, budget, NULL), 0);
		assert_true(pg.reads < f->whole.sq8_page);
		paged_close(&pg, f->len);
	}

	len = graph_for_low_link(f, false, &buf, &whole);
	link_entry_to(&whole, whole.node_count - 1);
	assert_int_equal(vexfs_hnsw_load(buf, len, N, &whole, &why), -EUCLEAN);
	assert_string_equal(why, "link to a node below its level");
	why = NULL;
	assert_int_equal(paged_open(&pg, buf, len), 0);
	assert_int_equal(levels_paged(&pg, 64, &why), -EUCLEAN);
	assert_string_equal(why, "link to a node below its level");
	assert_int_equal(pg.refused, 0);
	paged_close(&pg, len);
	free(buf);
}

/* Remove node id from node n's links on level l. */
static void unlink_node(struct vexfs_hnsw_graph *g, uint32_t n, uint32_t l,
			uint32_t id)
{
	struct vexfs_hnsw_links *r = (struct vexfs_hnsw_links *)vexfs_hnsw_links(g, n, l);
	uint32_t count = le32toh(r->l_count), i, j;

	for (i = j = 0; i < count; i++)
		if (le32toh(r->l_ids[i]) != id)
			r->l_ids[j++] = r->l_ids[i];
	for (i = j; i < count; i++)
		r->l_ids[i] = 0;
	r->l_count = htole32(j);
}

/*
 * A node only an upper-level link leads to, and that link to a node that
 * lives on level 0 alone: a search never follows it, so over pages the
 * node is not reached (the whole-graph load refuses such a graph).
 */
static void test_reach_skips_link_below_level(void **state)
{
	struct fixture *f = *state;
	struct vexfs_hnsw_graph whole;
	uint32_t low, n, l, words, reached, *queue;
	uint64_t *seen, stops = 0;
	struct paged pg;
	void *buf = NULL;
	size_t len = 0;

	len = graph_for_low_link(f, false, &buf, &whole);
	low = whole.node_count - 1;
	for (n = 0; n < whole.node_count; n++)
		for (l = 0; l <= vexfs_hnsw_level(&whole, n); l++)
			unlink_node(&whole, n, l, low);
	words = (whole.node_count + 63) / 64;
	seen = calloc(words, 8);
	queue = calloc(whole.node_count, 4);
	assert_true(seen && queue);
	assert_int_equal(vexfs_hnsw_load(buf, len, N, &whole, NULL), 0);
	reached = vexfs_hnsw_reachable(&whole, seen, queue);
	assert_false(vexfs_hnsw_seen(seen, low));

	link_entry_to(&whole, low);
	assert_int_equal(vexfs_hnsw_load(buf, len, N, &whole, NULL), -EUCLEAN);

	assert_int_equal(paged_open(&pg, buf, len), 0);
	memset(seen, 0, words * 8);
	assert_int_equal(reach_paged(&pg, seen, queue, 5, &stops), reached);
	assert_false(vexfs_hnsw_seen(seen, low));
	paged_close(&pg, len);
	free(seen);
	free(queue);
	free(buf);
}

/*
 * Random damage anywhere past the header page: each page is checked as
 * the walk reaches it; a refused page ends the walk with -EUCLEAN, and a
 * damaged page that passes is walked without a read outside it (ASan).
 */
static void test_damaged_pages(void **state)
{
	struct fixture *f = *state;
	uint8_t *bad = malloc(f->len);
	uint32_t round, ended = 0, answered = 0;

	assert_non_null(bad);
	rng_seed(99);
	for (round = 0; round < 400; round++) {
		struct vexfs_hnsw_result res[EF];
		struct vexfs_hnsw_scratch s;
		uint64_t stops = 0;
		uint32_t flips = 1 + rng_next() % 4, i, qi;
		struct coding c;
		struct paged pg;
		void *mem;

		memcpy(bad, f->buf, f->len);
		for (i = 0; i < flips; i++) {
			size_t at = VEXFS_HNSW_PAGE_SIZE +
				    rng_next() % (f->len - VEXFS_HNSW_PAGE_SIZE);

			if (rng_next() % 2)
				bad[at & ~(size_t)3] = (uint8_t)rng_next();
			else
				bad[at] ^= (uint8_t)(1u << (rng_next() % 8));
		}
		assert_int_equal(paged_open(&pg, bad, f->len), 0);
		mem = scratch_for(&pg.g, &s);
		if (coding_of(&pg, &c)) {
			ended++;
		} else {
			for (qi = 0; qi < 5; qi++) {
				int n = walk(&pg, &pg.g, &c, &s,
					     f->v + (size_t)(N + qi) * DIM, res, &stops);

				assert_true(n == -EUCLEAN || (n >= 0 && n <= EF));
				if (n < 0) {
					ended++;
					break;
				}
				answered++;
			}
		}
		paged_close(&pg, f->len);
		free(mem);
	}
	print_message("    400 damaged graphs: %u walks ended at a refused page, %u answered\n",
		      ended, answered);
	assert_true(ended > 0 && answered > 0);
	free(bad);
}

/* A header page that lies about the graph is refused before any page. */
static void test_open_refuses(void **state)
{
	struct fixture *f = *state;
	struct vexfs_hnsw_header h;
	struct vexfs_hnsw_graph g;
	const uint8_t *pages[1] = { NULL };
	uint8_t *page = NULL;

	assert_int_equal(posix_memalign((void **)&page, 8, VEXFS_HNSW_PAGE_SIZE), 0);
	memcpy(page, f->buf, VEXFS_HNSW_PAGE_SIZE);
	pages[0] = page;
	/* Shorter or longer than the header says. */
	assert_int_equal(vexfs_hnsw_open(page, f->len - 4096, N, pages, &g, NULL), -EINVAL);
	assert_int_equal(vexfs_hnsw_open(page, f->len + 4096, N, pages, &g, NULL), -EINVAL);
	/* More nodes than the collection has slots. */
	assert_int_equal(vexfs_hnsw_open(page, f->len, N - 1, pages, &g, NULL), -EUCLEAN);
	/* A NaN step. */
	memcpy(&h, page, sizeof(h));
	((struct vexfs_hnsw_header *)page)->h_sq8_step = htole32(0x7fc00000);
	assert_int_equal(vexfs_hnsw_open(page, f->len, N, pages, &g, NULL), -EUCLEAN);
	memcpy(page, &h, sizeof(h));
	assert_int_equal(vexfs_hnsw_open(page, f->len, N, pages, &g, NULL), 0);
	/* A page it does not have. */
	assert_int_equal(vexfs_hnsw_check_page(&g, g.npages, page, N, NULL), -EINVAL);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes_carried),
		cmocka_unit_test(test_paged_walk_same),
		cmocka_unit_test(test_link_below_level),
		cmocka_unit_test(test_reach_over_pages),
		cmocka_unit_test(test_order_over_pages),
		cmocka_unit_test(test_order_refused_over_pages),
		cmocka_unit_test(test_levels_over_pages),
		cmocka_unit_test(test_reach_skips_link_below_level),
		cmocka_unit_test(test_damaged_pages),
		cmocka_unit_test(test_open_refuses),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
