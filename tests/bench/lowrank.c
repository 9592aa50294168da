// SPDX-License-Identifier: GPL-2.0
/*
 * lowrank: a vector set shaped like embeddings, and its exact answers, for
 * the benchmarks too large to keep in Python (make bigbench).
 *
 * Embeddings of text or images have far fewer degrees of freedom than
 * dimensions; Gaussian vectors have as many, and no index reaches high
 * recall on them. So each vector here is a random linear image of a
 * Gaussian point in a LATENT-dimensional space, plus a little noise in
 * every dimension: x = A z + noise * n. Queries come from the same
 * distribution. The exact ten nearest base rows of each query (L2,
 * by a scan) are written as ivecs, row numbers from 0.
 *
 *   lowrank DIM N NQUERIES OUTDIR
 *
 * writes OUTDIR/lowrank-DIM-N_{base,query}.fvecs and _truth.ivecs, made
 * once from a fixed seed (an existing truth file means all three exist).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LATENT	16
#define NOISE	0.05f
#define K	10

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: fast, and the same sequence on every host. */
static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A standard normal value (Box-Muller; the second value is dropped). */
static float gauss(void)
{
	double u = ((rng_next() >> 11) + 1.0) / 9007199254740993.0;
	double v = (rng_next() >> 11) / 9007199254740992.0;

	return (float)(sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v));
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "lowrank: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* n rows of dim values, each x = A z + NOISE * n, in fvecs form. */
static float *make_rows(const float *a, uint32_t dim, uint32_t n)
{
	float *rows = malloc((size_t)n * dim * sizeof(float));
	float z[LATENT];
	uint32_t i, d, l;

	if (!rows)
		die("allocating", "rows");
	for (i = 0; i < n; i++) {
		float *x = rows + (size_t)i * dim;

		for (l = 0; l < LATENT; l++)
			z[l] = gauss();
		for (d = 0; d < dim; d++) {
			float s = 0;

			for (l = 0; l < LATENT; l++)
				s += a[d * LATENT + l] * z[l];
			x[d] = s + NOISE * gauss();
		}
	}
	return rows;
}

static void write_vecs(const char *path, const void *rows, uint32_t dim,
		       uint32_t n)
{
	FILE *f = fopen(path, "wb");
	int32_t d = (int32_t)dim;
	uint32_t i;

	if (!f)
		die("creating", path);
	for (i = 0; i < n; i++)
		if (fwrite(&d, sizeof(d), 1, f) != 1 ||
		    fwrite((const char *)rows + (size_t)i * dim * 4, 4, dim, f) != dim)
			die("writing", path);
	if (fclose(f))
		die("writing", path);
}

static float l2(const float *x, const float *y, uint32_t dim)
{
	float s = 0;
	uint32_t d;

	for (d = 0; d < dim; d++)
		s += (x[d] - y[d]) * (x[d] - y[d]);
	return s;
}

/* The K nearest base rows of q, nearest first. */
static void nearest(const float *base, uint32_t n, uint32_t dim,
		    const float *q, int32_t *ids)
{
	float best[K];
	uint32_t i;
	int j;

	for (j = 0; j < K; j++) {
		best[j] = INFINITY;
		ids[j] = -1;
	}
	for (i = 0; i < n; i++) {
		float dist = l2(base + (size_t)i * dim, q, dim);

		if (dist >= best[K - 1])
			continue;
		for (j = K - 1; j > 0 && best[j - 1] > dist; j--) {
			best[j] = best[j - 1];
			ids[j] = ids[j - 1];
		}
		best[j] = dist;
		ids[j] = (int32_t)i;
	}
}

int main(int argc, char **argv)
{
	char base_path[4096], query_path[4096], truth_path[4096];
	uint32_t dim, n, nq, i;
	float *a, *base, *queries;
	int32_t *truth;

	if (argc != 5) {
		fprintf(stderr, "usage: lowrank DIM N NQUERIES OUTDIR\n");
		return 2;
	}
	dim = strtoul(argv[1], NULL, 10);
	n = strtoul(argv[2], NULL, 10);
	nq = strtoul(argv[3], NULL, 10);
	if (!dim || dim > 4096 || !n || !nq) {
		fprintf(stderr, "lowrank: DIM 1..4096, N and NQUERIES from 1\n");
		return 2;
	}
	snprintf(base_path, sizeof(base_path), "%s/lowrank-%u-%u_base.fvecs", argv[4], dim, n);
	snprintf(query_path, sizeof(query_path), "%s/lowrank-%u-%u_query.fvecs", argv[4], dim, n);
	snprintf(truth_path, sizeof(truth_path), "%s/lowrank-%u-%u_truth.ivecs", argv[4], dim, n);
	if (!access(truth_path, R_OK)) {
		printf("%s\n", base_path);
		return 0;
	}
	a = malloc((size_t)dim * LATENT * sizeof(float));
	if (!a)
		die("allocating", "A");
	for (i = 0; i < dim * LATENT; i++)
		a[i] = gauss() / sqrtf(LATENT);
	base = make_rows(a, dim, n);
	queries = make_rows(a, dim, nq);
	truth = malloc((size_t)nq * K * sizeof(*truth));
	if (!truth)
		die("allocating", "truth");
	for (i = 0; i < nq; i++)
		nearest(base, n, dim, queries + (size_t)i * dim, truth + (size_t)i * K);
	write_vecs(base_path, base, dim, n);
	write_vecs(query_path, queries, dim, nq);
	write_vecs(truth_path, truth, K, nq);	/* last: it says the set is whole */
	printf("%s\n", base_path);
	return 0;
}
