// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the HNSW graph loader of lib/hnsw_load.c, the code
 * the kernel runs on every graph a caller publishes and every index it
 * reads from disk. Input: 4 bytes of slot count, then the graph. A graph
 * the loader accepts is then searched, since acceptance is the promise
 * that the search stays inside the buffer.
 *
 *   build/fuzz/fuzz_hnsw_load -max_total_time=60 CORPUS_DIR
 *
 * Built with AddressSanitizer and UBSan, so a read past the buffer or an
 * overflow is a crash (tests/fuzz/Makefile).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vexfs_hnsw_graph g;
	uint32_t max_slots;
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
	if (!vexfs_hnsw_load(buf, size, max_slots, &g, NULL))
		search(&g);
	free(buf);
	return 0;
}
