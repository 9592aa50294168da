// SPDX-License-Identifier: GPL-2.0
/*
 * hnsw_seeds DIR: a starting corpus for fuzz_hnsw_load, valid graphs of
 * a few sizes, shapes and metrics (4 bytes of slot count, then the graph).
 */
#include <stdio.h>
#include <stdlib.h>

#include "hnsw.h"

static uint32_t dim;

static const float *vector_of(void *ctx, uint32_t slot)
{
	static float v[64];
	uint32_t i;

	(void)ctx;
	for (i = 0; i < dim; i++)
		v[i] = (float)((slot * 2654435761u + i * 40503u) % 1000) / 100.0f;
	return v;
}

static int write_seed(const char *dir, uint32_t n, uint32_t m, uint32_t metric)
{
	struct vexfs_hnsw_build_params bp;
	struct vexfs_hnsw_builder *b;
	uint32_t *slots = calloc(n ? n : 1, sizeof(*slots)), i, max_slots = n * 2 + 1;
	char path[512];
	size_t len;
	void *buf;
	FILE *f;

	for (i = 0; i < n; i++)
		slots[i] = i * 2;	/* gaps, as after deletions */
	vexfs_hnsw_build_defaults(&bp);
	bp.dim = dim;
	bp.metric = metric;
	bp.m = m;
	bp.ef_construction = 32;
	bp.seed = n * 31 + m;
	bp.vector_of = vector_of;
	if (vexfs_hnsw_build(&bp, slots, n, &b))
		return -1;
	len = vexfs_hnsw_serialized_size(b);
	buf = calloc(1, len);
	if (!buf || vexfs_hnsw_serialize(b, buf, len))
		return -1;
	snprintf(path, sizeof(path), "%s/graph-n%u-m%u-metric%u", dir, n, m, metric);
	f = fopen(path, "wb");
	if (!f || fwrite(&max_slots, 4, 1, f) != 1 || fwrite(buf, 1, len, f) != len)
		return -1;
	fclose(f);
	vexfs_hnsw_builder_free(b);
	free(buf);
	free(slots);
	return 0;
}

int main(int argc, char **argv)
{
	static const uint32_t shapes[][3] = {
		{ 0, 4, 1 }, { 1, 4, 1 }, { 2, 2, 2 }, { 17, 4, 3 }, { 60, 8, 1 },
		{ 300, 2, 1 }, { 40, 16, 2 },
	};
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: hnsw_seeds DIR\n");
		return 16;
	}
	dim = 8;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (write_seed(argv[1], shapes[i][0], shapes[i][1], shapes[i][2])) {
			fprintf(stderr, "hnsw_seeds: cannot write seed %zu\n", i);
			return 1;
		}
	return 0;
}
