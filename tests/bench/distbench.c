// SPDX-License-Identifier: GPL-2.0
/*
 * distbench: nanoseconds per distance for each implementation of the
 * vector core, through the batch loop an exact scan uses.
 *
 *   distbench [-j FILE]
 *
 * Three data sets per dimension: "l1", 16 KiB of vectors that stay in the
 * L1 cache, which measures the arithmetic alone; "l2", 256 KiB, closer to
 * the neighbourhood of a graph search; and "mem", 128 MiB, what a scan of a
 * large collection costs once memory bandwidth is the limit. Each figure
 * is the best of many short timed rounds, so a round that background load
 * interrupted does not count. -j also writes every figure as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vexfs_distance.h"

#define STREAM_BYTES	(128u << 20)
#define ROUNDS		25
#define MIN_ROUND_NS	20000000.0	/* 20 ms */
#define MAX_IMPLS	3
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const unsigned int dims[] = { 128, 768, 1536 };
static const struct {
	const char *name;
	size_t bytes;
} sets[] = {
	{ "l1", 16u << 10 },
	{ "l2", 256u << 10 },
	{ "mem", STREAM_BYTES },
};
static const struct {
	unsigned int metric;
	const char *name;
} metrics[] = {
	{ VEXFS_METRIC_L2, "l2" },
	{ VEXFS_METRIC_IP, "ip" },
	{ VEXFS_METRIC_COSINE, "cosine" },
};

static volatile float sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void fill(float *v, size_t n)
{
	uint32_t x = 2463534242u;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		v[i] = (float)(x >> 8) / 8388608.0f - 1.0f;
	}
}

/* Best ns per distance over ROUNDS rounds of whole passes over base. */
static double measure(const struct vexfs_distance_ops *ops, unsigned int metric,
		      const float *query, const float *base, unsigned int n,
		      unsigned int dim, float *out)
{
	/* Enough passes between clock reads that reading it costs nothing. */
	unsigned int passes = n < 1024 ? 1024 / n : 1, p;
	double best = 1e300;
	int round;

	for (round = 0; round < ROUNDS; round++) {
		double start = now_ns(), elapsed;
		unsigned long done = 0;

		do {
			for (p = 0; p < passes; p++) {
				vexfs_distance_batch(ops, metric, query, base,
						     n, dim, out);
				sink += out[n - 1];
			}
			done += (unsigned long)passes * n;
			elapsed = now_ns() - start;
		} while (elapsed < MIN_ROUND_NS);
		if (elapsed / done < best)
			best = elapsed / done;
	}
	return best;
}

struct row {
	const char *set;
	unsigned int dim;
	const char *metric;
	double ns[MAX_IMPLS];
};

static void print_row(const struct row *r, unsigned int nimpl)
{
	unsigned int i;

	printf("%-6s %5u  %-6s", r->set, r->dim, r->metric);
	for (i = 0; i < nimpl; i++)
		printf(" %9.1f", r->ns[i]);
	for (i = 1; i < nimpl; i++)
		printf(" %7.1fx", r->ns[0] / r->ns[i]);
	printf("\n");
	fflush(stdout);
}

static void write_json(FILE *f, const struct row *rows, unsigned int nrows,
		       const struct vexfs_distance_ops **impl, unsigned int nimpl)
{
	unsigned int r, i;

	fprintf(f, "{\n  \"unit\": \"ns per distance\",\n  \"results\": [\n");
	for (r = 0; r < nrows; r++) {
		fprintf(f, "    {\"set\": \"%s\", \"dim\": %u, \"metric\": \"%s\"",
			rows[r].set, rows[r].dim, rows[r].metric);
		for (i = 0; i < nimpl; i++)
			fprintf(f, ", \"%s\": %.2f", impl[i]->name, rows[r].ns[i]);
		fprintf(f, "}%s\n", r + 1 < nrows ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
}

int main(int argc, char **argv)
{
	const struct vexfs_distance_ops *impl[MAX_IMPLS];
	unsigned int need = VEXFS_CPU_AVX | VEXFS_CPU_AVX2 | VEXFS_CPU_FMA;
	struct row rows[3 * 3 * 3];
	unsigned int nimpl = 0, nrows = 0, s, d, m, i;
	const char *json = NULL;
	float *base, *out, query[1536];

	if (argc == 3 && !strcmp(argv[1], "-j")) {
		json = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [-j FILE]\n", argv[0]);
		return 2;
	}

	impl[nimpl++] = &vexfs_distance_scalar;
	impl[nimpl++] = &vexfs_distance_sse2;
	if ((vexfs_cpu_flags_native() & need) == need)
		impl[nimpl++] = &vexfs_distance_avx2;

	base = malloc(STREAM_BYTES);
	out = malloc(STREAM_BYTES / (128 * sizeof(float)) * sizeof(float));
	if (!base || !out) {
		perror("distbench");
		return 1;
	}
	fill(base, STREAM_BYTES / sizeof(float));
	fill(query, 1536);

	printf("ns per distance, best of %d rounds; speed-up against scalar\n",
	       ROUNDS);
	printf("%-6s %5s  %-6s", "set", "dim", "metric");
	for (i = 0; i < nimpl; i++)
		printf(" %9s", impl[i]->name);
	for (i = 1; i < nimpl; i++)
		printf(" %8s", impl[i]->name);
	printf("\n");

	for (s = 0; s < ARRAY_SIZE(sets); s++)
		for (d = 0; d < ARRAY_SIZE(dims); d++)
			for (m = 0; m < ARRAY_SIZE(metrics); m++) {
				unsigned int n = sets[s].bytes / (dims[d] * sizeof(float));
				struct row *r = &rows[nrows++];

				r->set = sets[s].name;
				r->dim = dims[d];
				r->metric = metrics[m].name;
				for (i = 0; i < nimpl; i++)
					r->ns[i] = measure(impl[i], metrics[m].metric,
							   query, base, n, dims[d], out);
				print_row(r, nimpl);
			}

	if (json) {
		FILE *f = fopen(json, "w");

		if (!f) {
			perror(json);
			return 1;
		}
		write_json(f, rows, nrows, impl, nimpl);
		fclose(f);
	}
	free(base);
	free(out);
	return 0;
}
