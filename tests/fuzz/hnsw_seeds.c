// SPDX-License-Identifier: GPL-2.0
/*
 * hnsw_seeds DIR: a starting corpus for fuzz_hnsw_load, valid graphs of
 * a few sizes, shapes and metrics, some built on SQ8 codes and so
 * carrying them (4 bytes of slot count, then the graph).
 */
#include <stdio.h>
#include <stdlib.h>

#include "hnsw.h"
#include "vexfs_sq8.h"

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

/* The SQ8 coding of the vectors of slots[0..n) and their codes by slot. */
static uint8_t *code_slots(const uint32_t *slots, uint32_t n, uint32_t max_slots,
			   uint32_t metric, float *lo, float *hi,
			   struct vexfs_sq8 *p)
{
	uint8_t *codes = calloc((size_t)max_slots, dim);
	struct vexfs_sq8_trainer t;
	uint32_t i;

	if (!codes)
		return NULL;
	vexfs_sq8_train_begin(&t, dim, metric, lo, hi);
	for (i = 0; i < n; i++)
		vexfs_sq8_train_add(&t, vector_of(NULL, slots[i]));
	vexfs_sq8_train_end(&t, p);
	for (i = 0; i < n; i++)
		vexfs_sq8_encode(p, vector_of(NULL, slots[i]),
				 codes + (size_t)slots[i] * dim);
	return codes;
}

static int write_seed(const char *dir, uint32_t n, uint32_t m, uint32_t metric,
		      bool on_codes)
{
	struct vexfs_hnsw_build_params bp;
	struct vexfs_hnsw_builder *b;
	uint32_t *slots = calloc(n ? n : 1, sizeof(*slots)), i, max_slots = n * 2 + 1;
	float lo[64], hi[64];
	struct vexfs_sq8 sq8;
	uint8_t *codes = NULL;
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
	if (on_codes) {
		codes = code_slots(slots, n, max_slots, metric, lo, hi, &sq8);
		if (!codes)
			return -1;
		bp.sq8 = &sq8;
		bp.codes = codes;
	}
	if (vexfs_hnsw_build(&bp, slots, n, &b))
		return -1;
	len = vexfs_hnsw_serialized_size(b);
	buf = calloc(1, len);
	if (!buf || vexfs_hnsw_serialize(b, buf, len))
		return -1;
	snprintf(path, sizeof(path), "%s/graph-n%u-m%u-metric%u%s", dir, n, m,
		 metric, on_codes ? "-sq8" : "");
	f = fopen(path, "wb");
	if (!f || fwrite(&max_slots, 4, 1, f) != 1 || fwrite(buf, 1, len, f) != len)
		return -1;
	fclose(f);
	vexfs_hnsw_builder_free(b);
	free(buf);
	free(slots);
	free(codes);
	return 0;
}

int main(int argc, char **argv)
{
	/* nodes, M, metric, built on codes */
	static const uint32_t shapes[][4] = {
		{ 0, 4, 1, 0 }, { 1, 4, 1, 0 }, { 2, 2, 2, 0 }, { 17, 4, 3, 0 },
		{ 60, 8, 1, 0 }, { 300, 2, 1, 0 }, { 40, 16, 2, 0 },
		{ 1, 4, 1, 1 }, { 60, 8, 1, 1 }, { 300, 2, 3, 1 }, { 700, 4, 2, 1 },
	};
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: hnsw_seeds DIR\n");
		return 16;
	}
	dim = 8;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (write_seed(argv[1], shapes[i][0], shapes[i][1], shapes[i][2],
			       shapes[i][3])) {
			fprintf(stderr, "hnsw_seeds: cannot write seed %zu\n", i);
			return 1;
		}
	return 0;
}
