// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the HNSW graph loader of lib/hnsw_load.c, the code
 * the kernel runs on every graph a caller publishes and every index it
 * reads from disk. Input: 4 bytes of slot count, then the graph. A graph
 * the loader accepts is then searched, since acceptance is the promise
 * that the search stays inside the buffer. The same bytes are then taken
 * as the module takes an index from the page cache: the header page
 * opened alone (vexfs_hnsw_open()), each other page checked when a walk
 * first needs it and kept in an allocation of its own, the walk on the
 * graph's own SQ8 codes when it carries them, and the reachability
 * check a publish runs, a step at a time over the same pages.
 *
 *   build/fuzz/fuzz_hnsw_load -max_total_time=60 CORPUS_DIR
 *
 * Built with AddressSanitizer and UBSan, so a read past the buffer or an
 * overflow is a crash (tests/fuzz/Makefile).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"
#include "vexfs_sq8.h"

static uint32_t graph_dim;

static const float *vector_of(void *ctx, uint32_t slot)
{
	float *v = ctx;
	uint32_t i;

	for (i = 0; i < graph_dim; i++)
		v[i] = (float)((slot * 2654435761u + i) % 1000) / 100.0f;
	return v;
}

static void search(const struct vexfs_hnsw_graph *g)
{
	static float vec[VEXFS_HNSW_MAX_DIM], query[VEXFS_HNSW_MAX_DIM];
	struct vexfs_hnsw_result results[8];
	struct vexfs_hnsw_scratch s;
	struct vexfs_hnsw_query q = {
		.vector = query, .k = 8, .ef = 16, .max_distances = 4096,
		.vector_of = vector_of, .ctx = vec,
	};
	size_t size = vexfs_hnsw_scratch_size(g, 16);
	void *mem;

	q.distance = vexfs_distance_fn_of(vexfs_distance_select(0), g->metric);
	if (!size || !q.distance)
		return;
	mem = aligned_alloc(8, (size + 7) & ~(size_t)7);
	if (!mem)
		return;
	graph_dim = g->dim;
	memset(query, 0, sizeof(float) * g->dim);
	if (!vexfs_hnsw_scratch_init(&s, mem, size, g, 16))
		vexfs_hnsw_search(g, &q, &s, results);
	free(mem);
}

/* Page p of the input, checked, in its own allocation; NULL if refused. */
static uint8_t *read_page(const struct vexfs_hnsw_graph *g, const uint8_t *src,
			  uint64_t p, uint32_t max_slots)
{
	uint8_t *page = aligned_alloc(8, VEXFS_HNSW_PAGE_SIZE);

	if (!page)
		return NULL;
	memcpy(page, src + p * VEXFS_HNSW_PAGE_SIZE, VEXFS_HNSW_PAGE_SIZE);
	if (vexfs_hnsw_check_page(g, p, page, max_slots, NULL)) {
		free(page);
		return NULL;
	}
	return page;
}

/* Walk g on its codes over pages, reading each when the walk stops for it. */
static void walk_pages(struct vexfs_hnsw_graph *g, uint8_t **pages,
		       const uint8_t *src, uint32_t max_slots)
{
	static float query[VEXFS_HNSW_MAX_DIM], lo[VEXFS_HNSW_MAX_DIM];
	static int16_t qcode[VEXFS_HNSW_MAX_DIM];
	struct vexfs_hnsw_result results[16];
	struct vexfs_sq8 sq8 = { .dim = g->dim, .metric = g->metric };
	struct vexfs_sq8_query cq;
	struct vexfs_hnsw_scratch s;
	struct vexfs_hnsw_query q = {
		.vector = query, .k = 8, .ef = 16, .max_distances = 4096,
	};
	size_t size = vexfs_hnsw_scratch_size(g, 16);
	uint64_t missing;
	void *mem;
	int err;

	q.distance = vexfs_distance_fn_of(vexfs_distance_select(0), g->metric);
	if (!size || !q.distance || !g->codes_per_page)
		return;
	while ((err = vexfs_hnsw_sq8_params(g, lo, &sq8.step, &missing)) == -ENODATA)
		if (!(pages[missing] = read_page(g, src, missing, max_slots)))
			return;
	if (err)
		return;
	vexfs_sq8_set_lo(&sq8, lo);
	memset(query, 0, sizeof(float) * g->dim);
	vexfs_sq8_query_init(&cq, &sq8, &vexfs_sq8_scalar, query, qcode);
	q.sq8 = &cq;
	mem = aligned_alloc(8, (size + 7) & ~(size_t)7);
	if (!mem)
		return;
	err = vexfs_hnsw_scratch_init(&s, mem, size, g, 16);
	if (!err)
		err = vexfs_hnsw_search_start(g, &q, &s);
	while (!err) {
		err = vexfs_hnsw_search_step(g, &q, &s, 0);
		if (err == -ENODATA)
			err = (pages[s.missing] = read_page(g, src, s.missing,
							    max_slots)) ? 0 : -EUCLEAN;
		else if (!err)
			break;
	}
	if (!err)
		vexfs_hnsw_search_results(g, &q, &s, results);
	free(mem);
}

/*
 * Mark what a walk can reach over pages, as a streamed publish would,
 * reading each page when the step stops for it.
 */
static void reach_pages(struct vexfs_hnsw_graph *g, uint8_t **pages,
			const uint8_t *src, uint32_t max_slots)
{
	uint64_t *seen = calloc((g->node_count + 63) / 64 + 1, 8);
	uint32_t *queue = calloc(g->node_count + 1, 4);
	struct vexfs_hnsw_reach r;
	int err = 0;

	if (seen && queue) {
		vexfs_hnsw_reach_init(&r, g, seen, queue);
		while ((err = vexfs_hnsw_reach_step(g, &r, 64)) != 0)
			if (err == -ENODATA && !(pages[r.missing] =
						 read_page(g, src, r.missing, max_slots)))
				break;
	}
	free(seen);
	free(queue);
}

/*
 * Check the node table's order over pages, as a streamed publish does:
 * a graph the whole-graph load took must pass.
 */
static void order_pages(struct vexfs_hnsw_graph *g, uint8_t **pages,
			const uint8_t *src, uint32_t max_slots, bool whole_ok)
{
	struct vexfs_hnsw_order o = { 0 };
	uint64_t missing;
	int err;

	while ((err = vexfs_hnsw_order_step(g, &o, &missing, NULL)) != 0) {
		if (err == -ENODATA) {
			pages[missing] = read_page(g, src, missing, max_slots);
			if (!pages[missing])
				return;
		} else if (err != -EAGAIN) {
			break;
		}
	}
	if (whole_ok && err)
		abort();
}

/* The upper links' levels over pages, as a streamed publish checks them. */
static void levels_pages(struct vexfs_hnsw_graph *g, uint8_t **pages,
			 const uint8_t *src, uint32_t max_slots, bool whole_ok)
{
	struct vexfs_hnsw_levels v = { 0 };
	int err;

	while ((err = vexfs_hnsw_levels_step(g, &v, 64, NULL)) != 0) {
		if (err == -ENODATA) {
			pages[v.missing] = read_page(g, src, v.missing, max_slots);
			if (!pages[v.missing])
				return;
		} else if (err != -EAGAIN) {
			break;
		}
	}
	if (whole_ok && err)
		abort();
}

static void open_pages(const uint8_t *src, size_t size, uint32_t max_slots,
		       bool whole_ok)
{
	struct vexfs_hnsw_graph g;
	uint64_t npages = size / VEXFS_HNSW_PAGE_SIZE, p;
	uint8_t **pages;

	if (!npages || size % VEXFS_HNSW_PAGE_SIZE)
		return;
	pages = calloc(npages, sizeof(*pages));
	if (!pages)
		return;
	pages[0] = aligned_alloc(8, VEXFS_HNSW_PAGE_SIZE);
	if (pages[0]) {
		memcpy(pages[0], src, VEXFS_HNSW_PAGE_SIZE);
		if (!vexfs_hnsw_open(pages[0], size, max_slots,
				     (const uint8_t *const *)pages, &g, NULL)) {
			walk_pages(&g, pages, src, max_slots);
			reach_pages(&g, pages, src, max_slots);
			order_pages(&g, pages, src, max_slots, whole_ok);
			levels_pages(&g, pages, src, max_slots, whole_ok);
		}
	}
	for (p = 0; p < npages; p++)
		free(pages[p]);
	free(pages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vexfs_hnsw_graph g;
	uint32_t max_slots;
	bool whole_ok;
	void *buf;

	if (size < 4)
		return 0;
	memcpy(&max_slots, data, 4);
	size -= 4;
	/* Exactly size bytes, so reading one past is caught. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 4, size);
	whole_ok = !vexfs_hnsw_load(buf, size, max_slots, &g, NULL);
	if (whole_ok)
		search(&g);
	open_pages(buf, size, max_slots, whole_ok);
	free(buf);
	return 0;
}
