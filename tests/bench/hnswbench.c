// SPDX-License-Identifier: GPL-2.0
/*
 * hnswbench: the lib/ HNSW, natively, against exact ground truth and, for
 * each peer built in, against that peer on the same data with the same
 * parameters, in the same process. Peers: hnswlib (Debian libhnswlib-dev),
 * FAISS IndexHNSWFlat (Debian libfaiss-dev), USearch (its C API, built
 * from the npm package's sources by `make hnsw-peers`).
 *
 *   hnswbench [-d DATA_DIR] [-g GEN_DIR] [-s SETS] [-j FILE] [-m M]
 *             [-e EF_CONSTRUCTION] [-R RERANK] [-C] [-F] [-P] [-X]
 *
 * Data sets (-s, comma-separated; default sift5k,clustered10k):
 *   sift5k        4,900 SIFT descriptors, 100 queries, L2, ground truth
 *                 shipped with it (DATA_DIR/sift5k)
 *   clustered10k  10,000 generated 128-d vectors, L2-normalized around 64
 *                 random centres, 200 queries drawn the same way, inner
 *                 product
 *   gen1536       GEN_DIR/gen1536_*.fvecs (scripts/datasets.py): 10,000
 *                 normalized 1,536-d vectors around 64 centres, 100
 *                 queries; cosine, which on unit vectors every engine
 *                 computes as inner product
 *   gen768        GEN_DIR/gen768_*.fvecs: the same at 768 dimensions
 *   fashion10k    GEN_DIR/fashion_*.fvecs: the first 10,000 fashion-mnist
 *                 training images, 100 test images, 784-d, L2
 *   fashion60k    all 60,000 training images (fashion60k_base.fvecs),
 *                 the same 100 test images
 * Ground truth by exact scan where none is shipped. For each
 * implementation: build time with 1 thread (CPU time of the thread, and
 * wall clock) and 2 threads (wall clock), best of two; the bytes of the
 * index (and of the graph alone, without the vectors) and the growth of
 * resident memory of a fresh process that builds it once; then for each
 * ef recall@10 and queries per CPU second on one thread, best of five
 * rounds. The engines take turns round by round, so a shared host's load
 * falls on all alike. The QPS at recall 0.95 and 0.99 is interpolated
 * between the two ef values around it.
 * The VexFS graph is searched as the kernel would: serialized, loaded,
 * vectors reached through the slot callback. -P builds it without
 * keepPrunedConnections, as hnswlib does. -X searches it with one call
 * per distance and no early exit, as before lists were scored in one
 * call. -j also writes it all as JSON.
 * vexfs-sq8 walks the same kind of graph on SQ8 codes and re-ranks the
 * best RERANK of its ef results exactly (-R; 0, the default: all ef); its
 * graph is built on the codes, or with -F on the floats. -C builds the
 * float walk's graph on codes too, as the indexer does.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hnsw.h"
#include "vexfs_sq8.h"
#include "vexfs_topk.h"
#include "test_rng.h"

#ifndef VEXFS_DATA_DIR
#define VEXFS_DATA_DIR "../../../shared/data"
#endif
#ifndef VEXFS_GEN_DIR
#define VEXFS_GEN_DIR "../../build/data"
#endif

#define K		10
#define BUILD_ROUNDS	2
#define QPS_ROUNDS	5
#define ROUND_S		0.1	/* CPU seconds of queries in one round */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const double targets[] = { 0.95, 0.99 };	/* recall@10 */
#define NTARGET		ARRAY_SIZE(targets)

static const uint32_t efs[] = { 10, 16, 24, 32, 48, 64, 96, 128, 256 };
#define NEF		ARRAY_SIZE(efs)

static bool keep_pruned = true;	/* -P clears it */

/* ==== Data sets ==== */

struct dataset {
	const char *name;		/* for the table and the JSON */
	uint32_t metric;		/* VEXFS_METRIC_L2 or _IP */
	float *base;			/* n * dim */
	uint32_t n;
	uint32_t dim;
	float *queries;			/* nq * dim */
	uint32_t nq;
	uint32_t *truth;		/* nq * K exact nearest rows */
};

/* A texmex file: records of an int32 dimension and dim 4-byte values. */
static void *read_vecs(const char *dir, const char *name, uint32_t *n,
		       uint32_t *dim)
{
	char path[1024];
	uint8_t *raw, *out = NULL;
	size_t len, rec, i;
	int32_t d32;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	raw = malloc(len);
	if (!raw || fread(raw, 1, len, f) != len || len < 4)
		goto out;
	memcpy(&d32, raw, 4);
	rec = 4 + 4 * (size_t)d32;
	if (d32 <= 0 || len % rec)
		goto out;
	*dim = d32;
	*n = len / rec;
	out = malloc(len);
	for (i = 0; out && i < *n; i++)
		memcpy(out + i * (rec - 4), raw + i * rec + 4, rec - 4);
out:
	free(raw);
	fclose(f);
	return out;
}

static int load_sift(struct dataset *d, const char *dir)
{
	uint32_t qdim, ngt, gdim, i, j;
	int32_t *gt;

	d->name = "sift5k";
	d->metric = VEXFS_METRIC_L2;
	d->base = read_vecs(dir, "sift5k/sift5k_base.fvecs", &d->n, &d->dim);
	d->queries = read_vecs(dir, "sift5k/sift5k_query.fvecs", &d->nq, &qdim);
	gt = read_vecs(dir, "sift5k/sift5k_groundtruth.ivecs", &ngt, &gdim);
	if (!d->base || !d->queries || !gt || qdim != d->dim ||
	    ngt != d->nq || gdim < K) {
		free(gt);
		return -ENOENT;
	}
	d->truth = malloc((size_t)d->nq * K * sizeof(*d->truth));
	for (i = 0; i < d->nq; i++)
		for (j = 0; j < K; j++)
			d->truth[i * K + j] = gt[(size_t)i * gdim + j];
	free(gt);
	return 0;
}

static void exact_truth(struct dataset *d);

/* Base and query files of scripts/datasets.py; truth by exact scan. */
static int load_files(struct dataset *d, const char *dir, const char *name,
		      const char *base, const char *query, uint32_t metric)
{
	uint32_t qdim;

	d->name = name;
	d->metric = metric;
	d->base = read_vecs(dir, base, &d->n, &d->dim);
	d->queries = read_vecs(dir, query, &d->nq, &qdim);
	if (!d->base || !d->queries || qdim != d->dim)
		return -ENOENT;
	exact_truth(d);
	return 0;
}

/* PREFIX_base.fvecs and PREFIX_query.fvecs. */
static int load_generated(struct dataset *d, const char *dir,
			  const char *name, const char *prefix,
			  uint32_t metric)
{
	char base[256], query[256];

	snprintf(base, sizeof(base), "%s_base.fvecs", prefix);
	snprintf(query, sizeof(query), "%s_query.fvecs", prefix);
	return load_files(d, dir, name, base, query, metric);
}

/* -X: one call per distance, no early exit, for comparison */
static bool per_vector;
static uint32_t sq8_rerank;	/* -R: re-rank this many; 0 (default): all ef */
static bool sq8_float_build;	/* -F: vexfs-sq8's graph from the floats */
static bool float_code_build;	/* -C: vexfs's graph from SQ8 codes */

static vexfs_distance_fn distance_for(uint32_t metric)
{
	return vexfs_distance_fn_of(vexfs_distance_select(vexfs_cpu_flags_native()),
				    metric);
}

/* Exact K nearest rows of each query. */
static void exact_truth(struct dataset *d)
{
	vexfs_distance_fn dist = distance_for(d->metric);
	struct vexfs_topk_entry e[K];
	struct vexfs_topk t;
	uint32_t i, j;

	d->truth = malloc((size_t)d->nq * K * sizeof(*d->truth));
	for (i = 0; i < d->nq; i++) {
		const float *q = d->queries + (size_t)i * d->dim;

		vexfs_topk_init(&t, e, K);
		for (j = 0; j < d->n; j++)
			vexfs_topk_push(&t, j, dist(q, d->base + (size_t)j * d->dim,
						    d->dim));
		vexfs_topk_extract(&t);
		for (j = 0; j < K; j++)
			d->truth[i * K + j] = (uint32_t)e[j].id;
	}
}

/* Unit vectors around random centres: base rows, then query rows. */
static void make_clustered(struct dataset *d, uint32_t n, uint32_t nq,
			   uint32_t dim, uint32_t clusters, uint64_t seed)
{
	float *centres = malloc((size_t)clusters * dim * sizeof(float));
	float *all = malloc((size_t)(n + nq) * dim * sizeof(float));
	uint32_t i, j;

	rng_seed(seed);
	for (i = 0; i < clusters * dim; i++)
		centres[i] = rng_gauss();
	for (i = 0; i < n + nq; i++) {
		const float *c = centres + (rng_next() % clusters) * dim;
		float *x = all + (size_t)i * dim;
		double norm = 0;

		for (j = 0; j < dim; j++) {
			x[j] = c[j] + 0.8f * rng_gauss();
			norm += (double)x[j] * x[j];
		}
		for (j = 0; j < dim; j++)
			x[j] /= (float)sqrt(norm);
	}
	free(centres);
	d->name = "clustered10k";
	d->metric = VEXFS_METRIC_IP;
	d->base = all;
	d->n = n;
	d->dim = dim;
	d->queries = all + (size_t)n * dim;
	d->nq = nq;
	exact_truth(d);
}

/* ==== Engines ==== */

/* One implementation behind a common face; h is a built index. */
struct engine {
	const char *name;
	void *(*build)(const struct dataset *d, uint32_t m, uint32_t efc,
		       uint32_t threads);
	void (*drop)(void *h);
	size_t (*bytes)(void *h, size_t *graph_only);
	void (*set_ef)(void *h, uint32_t ef);
	/* the K nearest rows of q into ids, best first; returns how many */
	uint32_t (*search)(void *h, const float *q, uint32_t *ids);
};

/* ---- VexFS: serialized, loaded and searched as the kernel would ---- */

struct vexfs_index {
	const struct dataset *d;
	struct vexfs_hnsw_graph g;	/* view of buf */
	void *buf;			/* the serialized graph */
	size_t builder_bytes;		/* what the builder held */
	void *mem;			/* search scratch */
	size_t scratch_bytes;
	struct vexfs_hnsw_scratch s;
	struct vexfs_hnsw_query q;	/* ef and callbacks; vector per call */
	/* vexfs-sq8 only: the walk on codes */
	float *lo, *hi;			/* the coding's ranges */
	struct vexfs_sq8 sq8;
	uint8_t *codes;			/* n * dim */
	int16_t *qcode;			/* the coded query, dim */
	const struct vexfs_sq8_ops *sq8_ops;
	struct vexfs_sq8_query sq;
};

static const float *row_vector(void *ctx, uint32_t slot)
{
	const struct dataset *d = ctx;

	return d->base + (size_t)slot * d->dim;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "hnswbench: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* The graph over d into v; on v's codes if on_codes. */
static struct vexfs_index *lib_index_build(struct vexfs_index *v,
					   const struct dataset *d, uint32_t m,
					   uint32_t efc, uint32_t threads,
					   bool on_codes)
{
	struct vexfs_hnsw_build_params p;
	struct vexfs_hnsw_builder *b;
	size_t len;
	int err;

	vexfs_hnsw_build_defaults(&p);
	p.dim = d->dim;
	p.metric = d->metric;
	p.m = m;
	p.ef_construction = efc;
	p.threads = threads;
	p.keep_pruned = keep_pruned;
	p.vector_of = row_vector;
	p.ctx = (void *)d;
	if (on_codes) {
		p.sq8 = &v->sq8;
		p.codes = v->codes;
	}
	err = vexfs_hnsw_build(&p, NULL, d->n, &b);
	if (err)
		die("build", err);
	v->d = d;
	v->builder_bytes = vexfs_hnsw_builder_bytes(b);
	len = vexfs_hnsw_serialized_size(b);
	if (posix_memalign(&v->buf, 4096, len))
		die("serialize", -ENOMEM);
	err = vexfs_hnsw_serialize(b, v->buf, len);
	vexfs_hnsw_builder_free(b);
	err = err ?: vexfs_hnsw_load(v->buf, len, d->n, &v->g, NULL);
	if (err)
		die("serialize and load", err);
	v->scratch_bytes = vexfs_hnsw_scratch_size(&v->g, efs[NEF - 1]);
	if (posix_memalign(&v->mem, 8, v->scratch_bytes))
		die("scratch", -ENOMEM);
	err = vexfs_hnsw_scratch_init(&v->s, v->mem, v->scratch_bytes, &v->g,
				      efs[NEF - 1]);
	if (err)
		die("scratch", err);
	v->q.k = K;
	v->q.distance = distance_for(d->metric);
	v->q.ops = per_vector ? NULL :
		vexfs_distance_select(vexfs_cpu_flags_native());
	v->q.vectors = per_vector ? NULL : d->base;	/* as the kernel's table */
	v->q.vector_of = row_vector;
	v->q.ctx = (void *)d;
	return v;
}

/*
 * An index with SQ8 codes for d: the coding is trained on every vector
 * and the codes made as part of the build.
 */
static struct vexfs_index *index_with_codes(const struct dataset *d)
{
	struct vexfs_index *v = calloc(1, sizeof(*v));
	struct vexfs_sq8_trainer t;
	uint32_t i;

	if (v) {
		v->lo = malloc(d->dim * sizeof(float));
		v->hi = malloc(d->dim * sizeof(float));
		v->codes = malloc((size_t)d->n * d->dim);
		v->qcode = malloc(d->dim * sizeof(int16_t));
	}
	if (!v || !v->lo || !v->hi || !v->codes || !v->qcode)
		die("codes", -ENOMEM);
	vexfs_sq8_train_begin(&t, d->dim, d->metric, v->lo, v->hi);
	for (i = 0; i < d->n; i++)
		vexfs_sq8_train_add(&t, row_vector((void *)d, i));
	vexfs_sq8_train_end(&t, &v->sq8);
	for (i = 0; i < d->n; i++)
		vexfs_sq8_encode(&v->sq8, row_vector((void *)d, i),
				 v->codes + (size_t)i * d->dim);
	return v;
}

/* The float walk; with -C on a graph built on codes. */
static void *lib_engine_build(const struct dataset *d, uint32_t m, uint32_t efc,
			      uint32_t threads)
{
	struct vexfs_index *v = float_code_build ? index_with_codes(d) :
						   calloc(1, sizeof(*v));

	if (!v)
		die("build", -ENOMEM);
	return lib_index_build(v, d, m, efc, threads, float_code_build);
}

static void lib_engine_drop(void *h)
{
	struct vexfs_index *v = h;

	free(v->lo);
	free(v->hi);
	free(v->codes);
	free(v->qcode);
	free(v->buf);
	free(v->mem);
	free(v);
}

/* The graph the kernel holds; the vectors are the collection's anyway. */
static size_t lib_engine_bytes(void *h, size_t *graph_only)
{
	struct vexfs_index *v = h;

	*graph_only = v->g.size;
	return v->g.size + (size_t)v->d->n * v->d->dim * sizeof(float);
}

static void lib_engine_set_ef(void *h, uint32_t ef)
{
	struct vexfs_index *v = h;

	v->q.ef = ef;
}

static uint32_t lib_engine_search(void *h, const float *query, uint32_t *ids)
{
	struct vexfs_index *v = h;
	struct vexfs_hnsw_result r[K];
	int n, i;

	v->q.vector = query;
	n = vexfs_hnsw_search(&v->g, &v->q, &v->s, r);
	for (i = 0; i < n; i++)
		ids[i] = r[i].slot;
	return n < 0 ? 0 : (uint32_t)n;
}

static const struct engine vexfs_engine = {
	"vexfs", lib_engine_build, lib_engine_drop, lib_engine_bytes,
	lib_engine_set_ef, lib_engine_search,
};

/* The same graph walked on SQ8 codes and re-ranked exactly. */
static void *sq8_engine_build(const struct dataset *d, uint32_t m,
			      uint32_t efc, uint32_t threads)
{
	struct vexfs_index *v = index_with_codes(d);

	lib_index_build(v, d, m, efc, threads, !sq8_float_build);
	v->sq8_ops = vexfs_sq8_select(vexfs_cpu_flags_native());
	v->q.rerank = sq8_rerank;
	v->q.sq8 = &v->sq;
	v->q.codes = v->codes;
	return v;
}

/* The graph and the codes; the vectors are the collection's. */
static size_t sq8_engine_bytes(void *h, size_t *graph_only)
{
	struct vexfs_index *v = h;

	return lib_engine_bytes(h, graph_only) + (size_t)v->d->n * v->d->dim;
}

static uint32_t sq8_engine_search(void *h, const float *query, uint32_t *ids)
{
	struct vexfs_index *v = h;

	vexfs_sq8_query_init(&v->sq, &v->sq8, v->sq8_ops, query, v->qcode);
	return lib_engine_search(h, query, ids);
}

static const struct engine vexfs_sq8_engine = {
	"vexfs-sq8", sq8_engine_build, lib_engine_drop, sq8_engine_bytes,
	lib_engine_set_ef, sq8_engine_search,
};

/* ---- hnswlib, from tests/bench/hnswlib_peer.cpp ---- */

#ifdef HAVE_HNSWLIB
struct hnswlib_peer;
struct hnswlib_peer *hnswlib_peer_build(const float *base, uint32_t n,
					uint32_t dim, int inner, uint32_t m,
					uint32_t ef_construction,
					uint32_t threads, uint64_t seed);
void hnswlib_peer_set_ef(struct hnswlib_peer *p, uint32_t ef);
uint32_t hnswlib_peer_search(struct hnswlib_peer *p, const float *query,
			     uint32_t k, uint32_t *ids);
size_t hnswlib_peer_bytes(const struct hnswlib_peer *p, size_t *graph_only);
void hnswlib_peer_free(struct hnswlib_peer *p);

static void *peer_build(const struct dataset *d, uint32_t m, uint32_t efc,
			uint32_t threads)
{
	return hnswlib_peer_build(d->base, d->n, d->dim,
				  d->metric == VEXFS_METRIC_IP, m, efc,
				  threads, 100);
}

static void peer_drop(void *h)
{
	hnswlib_peer_free(h);
}

static size_t peer_bytes(void *h, size_t *graph_only)
{
	return hnswlib_peer_bytes(h, graph_only);
}

static void peer_set_ef(void *h, uint32_t ef)
{
	hnswlib_peer_set_ef(h, ef);
}

static uint32_t peer_search(void *h, const float *q, uint32_t *ids)
{
	return hnswlib_peer_search(h, q, K, ids);
}

static const struct engine hnswlib_engine = {
	"hnswlib", peer_build, peer_drop, peer_bytes, peer_set_ef,
	peer_search,
};
#endif

/* ---- FAISS IndexHNSWFlat, from tests/bench/faiss_peer.cpp ---- */

#ifdef HAVE_FAISS
struct faiss_peer;
struct faiss_peer *faiss_peer_build(const float *base, uint32_t n,
				    uint32_t dim, int inner, uint32_t m,
				    uint32_t ef_construction, uint32_t threads);
void faiss_peer_set_ef(struct faiss_peer *p, uint32_t ef);
uint32_t faiss_peer_search(struct faiss_peer *p, const float *query,
			   uint32_t k, uint32_t *ids);
size_t faiss_peer_bytes(const struct faiss_peer *p, size_t *graph_only);
void faiss_peer_free(struct faiss_peer *p);

static void *faiss_build(const struct dataset *d, uint32_t m, uint32_t efc,
			 uint32_t threads)
{
	return faiss_peer_build(d->base, d->n, d->dim,
				d->metric == VEXFS_METRIC_IP, m, efc, threads);
}

static void faiss_drop(void *h)
{
	faiss_peer_free(h);
}

static size_t faiss_bytes(void *h, size_t *graph_only)
{
	return faiss_peer_bytes(h, graph_only);
}

static void faiss_set_ef(void *h, uint32_t ef)
{
	faiss_peer_set_ef(h, ef);
}

static uint32_t faiss_search(void *h, const float *q, uint32_t *ids)
{
	return faiss_peer_search(h, q, K, ids);
}

static const struct engine faiss_engine = {
	"faiss", faiss_build, faiss_drop, faiss_bytes, faiss_set_ef,
	faiss_search,
};
#endif

/* ---- USearch, from tests/bench/usearch_peer.c ---- */

#ifdef HAVE_USEARCH
struct usearch_peer;
struct usearch_peer *usearch_peer_build(const float *base, uint32_t n,
					uint32_t dim, int inner, uint32_t m,
					uint32_t ef_construction,
					uint32_t threads);
void usearch_peer_set_ef(struct usearch_peer *p, uint32_t ef);
uint32_t usearch_peer_search(struct usearch_peer *p, const float *query,
			     uint32_t k, uint32_t *ids);
size_t usearch_peer_bytes(const struct usearch_peer *p, size_t *graph_only);
void usearch_peer_free(struct usearch_peer *p);

static void *usearch_build(const struct dataset *d, uint32_t m,
			   uint32_t efc, uint32_t threads)
{
	return usearch_peer_build(d->base, d->n, d->dim,
				  d->metric == VEXFS_METRIC_IP, m, efc,
				  threads);
}

static void usearch_drop(void *h)
{
	usearch_peer_free(h);
}

static size_t usearch_bytes(void *h, size_t *graph_only)
{
	return usearch_peer_bytes(h, graph_only);
}

static void usearch_set_ef(void *h, uint32_t ef)
{
	usearch_peer_set_ef(h, ef);
}

static uint32_t usearch_search(void *h, const float *q, uint32_t *ids)
{
	return usearch_peer_search(h, q, K, ids);
}

static const struct engine usearch_engine = {
	"usearch", usearch_build, usearch_drop, usearch_bytes, usearch_set_ef,
	usearch_search,
};
#endif

/* ==== Measuring ==== */

struct point {
	uint32_t ef;
	double recall;			/* recall@10 */
	double qps;			/* queries per CPU second, one thread */
};

struct result {
	const char *engine;
	double build_s[3];		/* 1 thread CPU and wall, 2 threads wall */
	size_t bytes;			/* index in memory, vectors included */
	size_t graph_bytes;		/* without the vectors */
	long rss_growth;		/* bytes, of a process building it once */
	struct point pts[NEF];
	double qps_at_target[NTARGET];	/* interpolated; 0: never reached */
};

/*
 * The host may be shared, so one-thread figures use the thread's CPU
 * clock (time it actually ran), and every figure is the best of several
 * rounds, the engines taking turns round by round.
 */
static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double recall_of(const struct dataset *d, const struct engine *e,
			void *h)
{
	uint32_t ids[K], i, j, l, found = 0;

	for (i = 0; i < d->nq; i++) {
		uint32_t n = e->search(h, d->queries + (size_t)i * d->dim, ids);

		for (j = 0; j < K; j++)
			for (l = 0; l < n; l++)
				found += ids[l] == d->truth[i * K + j];
	}
	return (double)found / ((double)d->nq * K);
}

/* Queries per CPU second over one round of at least ROUND_S. */
static double qps_round(const struct dataset *d, const struct engine *e,
			void *h)
{
	double start = clock_s(CLOCK_THREAD_CPUTIME_ID), elapsed;
	uint32_t ids[K], i;
	uint64_t done = 0;

	do {
		for (i = 0; i < d->nq; i++)
			e->search(h, d->queries + (size_t)i * d->dim, ids);
		done += d->nq;
		elapsed = clock_s(CLOCK_THREAD_CPUTIME_ID) - start;
	} while (elapsed < ROUND_S);
	return done / elapsed;
}

static void keep_min(double *best, double t, bool first)
{
	if (first || t < *best)
		*best = t;
}

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

/*
 * Resident memory a process gains by building the index once with one
 * thread: measured in a child, which first gives back the free memory
 * it inherited, so that earlier sets' freed indexes are not reused
 * unseen. It includes the allocator's slack and, for VexFS, what the
 * builder held but did not give back to the system.
 */
static long rss_growth(const struct dataset *d, const struct engine *e,
		       uint32_t m, uint32_t efc)
{
	long growth = -1;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		long before;
		void *h;

		malloc_trim(0);
		before = rss_bytes();
		h = e->build(d, m, efc, 1);

		growth = rss_bytes() - before;
		if (write(fds[1], &growth, sizeof(growth)) != sizeof(growth))
			_exit(1);
		(void)h;
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &growth, sizeof(growth)) != sizeof(growth))
		growth = -1;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return growth;
}

/* Builds, alternating engines; the last one-thread index of each is kept. */
static void build_all(const struct dataset *d, const struct engine **e,
		      uint32_t ne, uint32_t m, uint32_t efc, void **h,
		      struct result *r)
{
	uint32_t rep, i;

	for (rep = 0; rep < BUILD_ROUNDS; rep++) {
		for (i = 0; i < ne; i++) {
			double w0 = clock_s(CLOCK_MONOTONIC), c0;

			e[i]->drop(e[i]->build(d, m, efc, 2));
			keep_min(&r[i].build_s[2], clock_s(CLOCK_MONOTONIC) - w0,
				 rep == 0);

			if (h[i])
				e[i]->drop(h[i]);
			w0 = clock_s(CLOCK_MONOTONIC);
			c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
			h[i] = e[i]->build(d, m, efc, 1);
			keep_min(&r[i].build_s[0],
				 clock_s(CLOCK_THREAD_CPUTIME_ID) - c0, rep == 0);
			keep_min(&r[i].build_s[1], clock_s(CLOCK_MONOTONIC) - w0,
				 rep == 0);
		}
	}
	for (i = 0; i < ne; i++) {
		r[i].engine = e[i]->name;
		r[i].bytes = e[i]->bytes(h[i], &r[i].graph_bytes);
		r[i].rss_growth = rss_growth(d, e[i], m, efc);
	}
}

/* QPS where the recall curve crosses the target, linearly between points. */
static double qps_at(const struct point *p, uint32_t n, double target)
{
	uint32_t i;

	if (n && p[0].recall >= target)
		return p[0].qps;
	for (i = 1; i < n; i++) {
		if (p[i].recall >= target) {
			double t = (target - p[i - 1].recall) /
				   (p[i].recall - p[i - 1].recall);

			return p[i - 1].qps + t * (p[i].qps - p[i - 1].qps);
		}
	}
	return 0;
}

static void sweep_all(const struct dataset *d, const struct engine **e,
		      uint32_t ne, void **h, struct result *r)
{
	uint32_t f, i, round;

	for (f = 0; f < NEF; f++) {
		for (i = 0; i < ne; i++) {
			e[i]->set_ef(h[i], efs[f]);
			r[i].pts[f].ef = efs[f];
			r[i].pts[f].recall = recall_of(d, e[i], h[i]);
		}
		for (round = 0; round < QPS_ROUNDS; round++) {
			for (i = 0; i < ne; i++) {
				double qps;

				e[i]->set_ef(h[i], efs[f]);
				qps = qps_round(d, e[i], h[i]);
				if (qps > r[i].pts[f].qps)
					r[i].pts[f].qps = qps;
			}
		}
	}
	for (i = 0; i < ne; i++)
		for (f = 0; f < NTARGET; f++)
			r[i].qps_at_target[f] = qps_at(r[i].pts, NEF, targets[f]);
}

/* ==== Output ==== */

static void print_result(const struct result *r)
{
	printf("  %-9s build 1 thread %.2f s CPU, %.2f s wall; 2 threads %.2f s"
	       " wall; index %.2f MiB, graph alone %.2f MiB; RSS growth"
	       " %.2f MiB\n", r->engine, r->build_s[0], r->build_s[1],
	       r->build_s[2], r->bytes / 1048576.0, r->graph_bytes / 1048576.0,
	       r->rss_growth / 1048576.0);
}

static void print_curves(const struct result *r, uint32_t nr)
{
	uint32_t f, i;

	printf("  %5s", "ef");
	for (i = 0; i < nr; i++)
		printf("  %9s %-9s", r[i].engine, "recall");
	for (i = 0; i < nr; i++)
		printf("  %9s %-4s", r[i].engine, "QPS");
	printf("\n");
	for (f = 0; f < NEF; f++) {
		printf("  %5u", efs[f]);
		for (i = 0; i < nr; i++)
			printf("  %18.4f", r[i].pts[f].recall);
		for (i = 0; i < nr; i++)
			printf("  %13.0f", r[i].pts[f].qps);
		printf("\n");
	}
}

static void json_result(FILE *f, const struct result *r)
{
	uint32_t i;

	fprintf(f, "{\"engine\": \"%s\", \"build_s_1thread_cpu\": %.4f, "
		"\"build_s_1thread_wall\": %.4f, \"build_s_2threads_wall\": %.4f, "
		"\"index_bytes\": %zu, \"graph_bytes\": %zu, "
		"\"rss_growth_bytes\": %ld, \"qps_at_recall_0.95\": %.1f, "
		"\"qps_at_recall_0.99\": %.1f, \"curve\": [", r->engine,
		r->build_s[0], r->build_s[1], r->build_s[2], r->bytes,
		r->graph_bytes, r->rss_growth, r->qps_at_target[0],
		r->qps_at_target[1]);
	for (i = 0; i < NEF; i++)
		fprintf(f, "%s{\"ef\": %u, \"recall\": %.4f, \"qps\": %.1f}",
			i ? ", " : "", r->pts[i].ef, r->pts[i].recall,
			r->pts[i].qps);
	fprintf(f, "]}");
}

static void json_set(FILE *f, const struct dataset *d, uint32_t m,
		     uint32_t efc, const struct result *r, uint32_t nr,
		     bool first)
{
	uint32_t i;

	fprintf(f, "%s\n  {\"dataset\": \"%s\", \"n\": %u, \"dim\": %u, "
		"\"queries\": %u, \"metric\": \"%s\", \"M\": %u, "
		"\"ef_construction\": %u, \"keep_pruned\": %s, \"k\": %d, "
		"\"results\": [", first ? "" : ",", d->name, d->n, d->dim, d->nq,
		d->metric == VEXFS_METRIC_L2 ? "l2" : "ip", m, efc,
		keep_pruned ? "true" : "false", K);
	for (i = 0; i < nr; i++) {
		fprintf(f, "%s\n    ", i ? "," : "");
		json_result(f, &r[i]);
	}
	fprintf(f, "]}");
}

static void run_set(const struct dataset *d, uint32_t m, uint32_t efc,
		    FILE *json, bool first)
{
	const struct engine *e[] = {
		&vexfs_engine,
		&vexfs_sq8_engine,
#ifdef HAVE_HNSWLIB
		&hnswlib_engine,
#endif
#ifdef HAVE_FAISS
		&faiss_engine,
#endif
#ifdef HAVE_USEARCH
		&usearch_engine,
#endif
	};
	uint32_t ne = ARRAY_SIZE(e), i, t;
	struct result r[ARRAY_SIZE(e)];
	void *h[ARRAY_SIZE(e)] = { NULL };
	struct vexfs_index *v;

	memset(r, 0, sizeof(r));
	printf("%s: %u x %u, %u queries, %s, M %u, efConstruction %u%s\n",
	       d->name, d->n, d->dim, d->nq,
	       d->metric == VEXFS_METRIC_L2 ? "L2" : "inner product", m, efc,
	       keep_pruned ? "" : ", vexfs without keepPruned");
	build_all(d, e, ne, m, efc, h, r);
	v = h[0];
	printf("  vexfs    builder %.2f MiB, serialized graph %.2f MiB, "
	       "search scratch %zu KiB\n", v->builder_bytes / 1048576.0,
	       v->g.size / 1048576.0, v->scratch_bytes >> 10);
	for (i = 0; i < ne; i++)
		print_result(&r[i]);
	sweep_all(d, e, ne, h, r);
	print_curves(r, ne);
	for (t = 0; t < NTARGET; t++) {
		printf("  QPS at recall@10 %.2f:", targets[t]);
		for (i = 0; i < ne; i++)
			printf("  %s %.0f", r[i].engine, r[i].qps_at_target[t]);
		for (i = 1; i < ne; i++)
			if (r[i].qps_at_target[t] > 0)
				printf("  vexfs/%s %.2f", r[i].engine,
				       r[0].qps_at_target[t] /
				       r[i].qps_at_target[t]);
		printf("\n");
	}
	printf("\n");
	for (i = 0; i < ne; i++)
		e[i]->drop(h[i]);
	if (json)
		json_set(json, d, m, efc, r, ne, first);
}

static void usage(void)
{
	fprintf(stderr, "usage: hnswbench [-d DATA_DIR] [-g GEN_DIR] [-s SETS] "
		"[-j FILE] [-m M] [-e EF_CONSTRUCTION] [-R RERANK] [-C] [-F] "
		"[-P] [-X]\n"
		"  SETS: comma-separated among sift5k, clustered10k, gen1536, "
		"gen768, fashion10k, fashion60k\n");
	exit(2);
}

/* Loads set `name`; -ENOENT when its files are missing. */
static int load_set(struct dataset *d, const char *name, const char *dir,
		    const char *gen_dir)
{
	memset(d, 0, sizeof(*d));
	if (!strcmp(name, "sift5k"))
		return load_sift(d, dir);
	if (!strcmp(name, "clustered10k")) {
		make_clustered(d, 10000, 200, 128, 64, 1234);
		return 0;
	}
	if (!strcmp(name, "gen1536") || !strcmp(name, "gen768"))
		return load_generated(d, gen_dir, name, name, VEXFS_METRIC_IP);
	if (!strcmp(name, "fashion10k"))
		return load_generated(d, gen_dir, "fashion10k", "fashion",
				      VEXFS_METRIC_L2);
	if (!strcmp(name, "fashion60k"))
		return load_files(d, gen_dir, "fashion60k", "fashion60k_base.fvecs",
				  "fashion_query.fvecs", VEXFS_METRIC_L2);
	fprintf(stderr, "hnswbench: unknown data set %s\n", name);
	usage();
	return -EINVAL;
}

int main(int argc, char **argv)
{
	const char *dir = VEXFS_DATA_DIR, *gen_dir = VEXFS_GEN_DIR;
	const char *json_path = NULL;
	char sets[256] = "sift5k,clustered10k", *name, *save;
	uint32_t m = 16, efc = 200;
	bool first = true;
	FILE *json = NULL;
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress through a pipe */
	while ((opt = getopt(argc, argv, "d:g:s:j:m:e:R:CFPX")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'g':
			gen_dir = optarg;
			break;
		case 's':
			snprintf(sets, sizeof(sets), "%s", optarg);
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'm':
			m = strtoul(optarg, NULL, 0);
			break;
		case 'e':
			efc = strtoul(optarg, NULL, 0);
			break;
		case 'R':
			sq8_rerank = strtoul(optarg, NULL, 10);
			break;
		case 'C':
			float_code_build = true;
			break;
		case 'F':
			sq8_float_build = true;
			break;
		case 'X':
			per_vector = true;
			break;
		case 'P':
			keep_pruned = false;
			break;
		default:
			usage();
		}
	}
	if (json_path) {
		json = fopen(json_path, "w");
		if (!json) {
			perror(json_path);
			return 1;
		}
		fprintf(json, "{\"bench\": \"hnsw\", \"threads_search\": 1, "
			"\"sets\": [");
	}
#ifndef HAVE_HNSWLIB
	printf("hnswlib not built in (install libhnswlib-dev)\n");
#endif
#ifndef HAVE_FAISS
	printf("FAISS not built in (make hnsw-peers installs libfaiss-dev)\n");
#endif
#ifndef HAVE_USEARCH
	printf("USearch not built in (make hnsw-peers builds it)\n");
#endif
	for (name = strtok_r(sets, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		struct dataset d;

		if (load_set(&d, name, dir, gen_dir)) {
			printf("%s: data not found (under %s or %s), skipped\n\n",
			       name, dir, gen_dir);
			continue;
		}
		run_set(&d, m, efc, json, first);
		first = false;
	}
	if (json) {
		fprintf(json, "\n]}\n");
		fclose(json);
	}
	return 0;
}
