// SPDX-License-Identifier: GPL-2.0
/*
 * USearch as a peer for hnswbench, through its C API (usearch.h): the same
 * data, M, efConstruction, ef and thread count. USearch is not packaged by
 * Debian: `make hnsw-peers` installs the npm package `usearch`, which ships
 * its C and C++ sources, under build/peers/ and compiles them there. Its
 * connectivity is M (2 M links on the base layer, as in hnswlib), its
 * expansions are efConstruction and ef; vectors are stored as f32.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "usearch.h"

struct usearch_peer {
	usearch_index_t index;
	const float *base;
	uint32_t n, dim;
	atomic_uint next;		/* the next row to insert */
};

static void check(usearch_error_t err, const char *what)
{
	if (err) {
		fprintf(stderr, "hnswbench: usearch %s: %s\n", what, err);
		exit(1);
	}
}

static void *insert_rows(void *arg)
{
	struct usearch_peer *p = arg;
	usearch_error_t err = NULL;
	uint32_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		usearch_add(p->index, i, p->base + (size_t)i * p->dim,
			    usearch_scalar_f32_k, &err);
		check(err, "add");
	}
	return NULL;
}

struct usearch_peer *usearch_peer_build(const float *base, uint32_t n,
					uint32_t dim, int inner, uint32_t m,
					uint32_t ef_construction,
					uint32_t threads)
{
	struct usearch_peer *p = calloc(1, sizeof(*p));
	usearch_init_options_t o = {
		.metric_kind = inner ? usearch_metric_ip_k : usearch_metric_l2sq_k,
		.quantization = usearch_scalar_f32_k,
		.dimensions = dim,
		.connectivity = m,
		.expansion_add = ef_construction,
		.expansion_search = 64,
	};
	usearch_error_t err = NULL;
	pthread_t pool[16];
	uint32_t t;

	if (!threads)
		threads = 1;
	if (threads > 16)
		threads = 16;
	p->index = usearch_init(&o, &err);
	check(err, "init");
	usearch_reserve(p->index, n, &err);
	check(err, "reserve");
	usearch_change_threads_add(p->index, threads, &err);
	check(err, "threads");
	p->base = base;
	p->n = n;
	p->dim = dim;
	atomic_init(&p->next, 0);
	for (t = 1; t < threads; t++)
		pthread_create(&pool[t], NULL, insert_rows, p);
	insert_rows(p);
	for (t = 1; t < threads; t++)
		pthread_join(pool[t], NULL);
	usearch_change_threads_search(p->index, 1, &err);
	check(err, "threads");
	return p;
}

void usearch_peer_set_ef(struct usearch_peer *p, uint32_t ef)
{
	usearch_error_t err = NULL;

	usearch_change_expansion_search(p->index, ef, &err);
	check(err, "expansion");
}

uint32_t usearch_peer_search(struct usearch_peer *p, const float *query,
			     uint32_t k, uint32_t *ids)
{
	usearch_key_t keys[64];
	usearch_distance_t dist[64];
	usearch_error_t err = NULL;
	size_t n, i;

	if (k > 64)
		k = 64;
	n = usearch_search(p->index, query, usearch_scalar_f32_k, k, keys,
			   dist, &err);
	check(err, "search");
	for (i = 0; i < n; i++)
		ids[i] = (uint32_t)keys[i];
	return (uint32_t)n;
}

/* USearch's own account; the graph alone is that less the f32 vectors. */
size_t usearch_peer_bytes(const struct usearch_peer *p, size_t *graph_only)
{
	usearch_error_t err = NULL;
	size_t all = usearch_memory_usage(p->index, &err);
	size_t vectors = (size_t)p->n * p->dim * sizeof(float);

	check(err, "memory");
	*graph_only = all > vectors ? all - vectors : 0;
	return all;
}

void usearch_peer_free(struct usearch_peer *p)
{
	usearch_error_t err = NULL;

	usearch_free(p->index, &err);
	free(p);
}
