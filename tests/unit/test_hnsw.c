// SPDX-License-Identifier: GPL-2.0
/*
 * HNSW: recall against brute force on seeded random data, on clustered
 * data under each metric and on sift5k; deterministic builds; the
 * serialized graph through a file and back; chunked search; filters,
 * deleted and freed slots; empty and tiny graphs; argument checks; and the
 * loader against truncated, edited and randomly damaged graphs.
 *
 * The Makefile builds this test and the HNSW sources with AddressSanitizer
 * and UBSan, and every damaged graph sits in an allocation of exactly its
 * length, so a read past the end fails the test instead of passing by luck.
 */
#include <endian.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hnsw.h"
#include "test_rng.h"
#include "vexfs_sq8.h"
#include "vexfs_topk.h"

#ifndef VEXFS_DATA_DIR
#define VEXFS_DATA_DIR "../../../shared/data"
#endif

#define K		10
#define EF		64
#define EF_MAX		512
#define NQUERIES	100

/* ==== Seeded data ==== */

/*
 * Vectors by row; row i lives in slot i * stride. A row marked gone has no
 * vector any more (freed slot); the accept callback takes a row if allowed
 * is NULL or allowed[row] is set.
 */
struct dataset {
	float *v;			/* n * dim floats */
	uint32_t n;			/* rows */
	uint32_t dim;
	uint32_t stride;		/* slot of row i: i * stride */
	uint32_t metric;		/* VEXFS_METRIC_* */
	const uint8_t *allowed;		/* row -> may be returned, or NULL */
	const uint8_t *gone;		/* row -> vector freed, or NULL */
	uint32_t accept_calls;		/* calls of the accept callback */
	struct coded *coded;		/* walk on SQ8 codes, or NULL */
};

/* SQ8 codes of a dataset, by slot as a walk reads them (test_sq8_*). */
struct coded {
	float *lo, *hi;
	struct vexfs_sq8 p;
	uint8_t *codes;			/* n * stride rows of dim */
	int16_t *qcode;
	struct vexfs_sq8_query q;
	uint32_t rerank;
	bool build;			/* graphs are built on the codes too */
};

static bool row_of(const struct dataset *d, uint32_t slot, uint32_t *row)
{
	if (slot % d->stride || slot / d->stride >= d->n)
		return false;
	*row = slot / d->stride;
	return true;
}

static const float *vector_of(void *ctx, uint32_t slot)
{
	const struct dataset *d = ctx;
	uint32_t row;

	if (!row_of(d, slot, &row) || (d->gone && d->gone[row]))
		return NULL;
	return d->v + (size_t)row * d->dim;
}

static bool accept(void *ctx, uint32_t slot)
{
	struct dataset *d = ctx;
	uint32_t row;

	d->accept_calls++;
	if (!row_of(d, slot, &row))
		return false;
	return !d->allowed || d->allowed[row];
}

static bool eligible(const struct dataset *d, uint32_t row)
{
	return (!d->allowed || d->allowed[row]) && !(d->gone && d->gone[row]);
}

static float *random_vectors(uint32_t n, uint32_t dim)
{
	float *v = malloc((size_t)n * dim * sizeof(float));
	size_t i;

	assert_non_null(v);
	for (i = 0; i < (size_t)n * dim; i++)
		v[i] = rng_unit();
	return v;
}

/* Around `clusters` random centres, each vector of unit length. */
static float *clustered_vectors(uint32_t n, uint32_t dim, uint32_t clusters)
{
	float *c = malloc((size_t)clusters * dim * sizeof(float));
	float *v = malloc((size_t)n * dim * sizeof(float));
	uint32_t i, j;

	assert_non_null(c);
	assert_non_null(v);
	for (i = 0; i < clusters * dim; i++)
		c[i] = rng_gauss();
	for (i = 0; i < n; i++) {
		const float *centre = c + (rng_next() % clusters) * dim;
		float *x = v + (size_t)i * dim, norm = 0;

		for (j = 0; j < dim; j++) {
			x[j] = centre[j] + 0.35f * rng_gauss();
			norm += x[j] * x[j];
		}
		for (j = 0; j < dim; j++)
			x[j] /= sqrtf(norm);
	}
	free(c);
	return v;
}

static vexfs_distance_fn distance_for(uint32_t metric)
{
	return vexfs_distance_fn_of(vexfs_distance_select(vexfs_cpu_flags_native()),
				    metric);
}

/* ==== Building and loading ==== */

struct built {
	struct vexfs_hnsw_builder *b;	/* the builder, kept for inspection */
	void *buf;			/* the serialized graph */
	size_t len;
	struct vexfs_hnsw_graph g;	/* view of buf */
	void *mem;			/* search scratch memory */
	struct vexfs_hnsw_scratch s;
};

static void build_params(struct vexfs_hnsw_build_params *p,
			 struct dataset *d, uint32_t m, uint32_t efc,
			 uint32_t threads, uint64_t seed)
{
	vexfs_hnsw_build_defaults(p);
	p->dim = d->dim;
	p->metric = d->metric;
	p->m = m;
	p->ef_construction = efc;
	p->threads = threads;
	p->seed = seed;
	p->vector_of = vector_of;
	p->ctx = d;
	if (d->coded && d->coded->build) {
		p->sq8 = &d->coded->p;
		p->codes = d->coded->codes;
	}
}

static void *aligned_copy(const void *src, size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len ? len : 1), 0);
	if (src && len)
		memcpy(p, src, len);
	return p;
}

static void attach_scratch(struct built *bt)
{
	size_t size = vexfs_hnsw_scratch_size(&bt->g, EF_MAX);

	assert_true(size > 0);
	assert_int_equal(posix_memalign(&bt->mem, 8, size), 0);
	assert_int_equal(vexfs_hnsw_scratch_init(&bt->s, bt->mem, size, &bt->g,
						 EF_MAX), 0);
}

static void load_built(struct built *bt, uint32_t max_slots)
{
	const char *why = NULL;
	int err = vexfs_hnsw_load(bt->buf, bt->len, max_slots, &bt->g, &why);

	if (err)
		fail_msg("load: %d (%s)", err, why ? why : "?");
	attach_scratch(bt);
}

/* Slots in a shuffled order, so the builder has to sort them. */
static uint32_t *shuffled_slots(const struct dataset *d)
{
	uint32_t *slots = malloc(d->n * sizeof(*slots) + 1), i;

	assert_non_null(slots);
	for (i = 0; i < d->n; i++)
		slots[i] = i * d->stride;
	for (i = d->n; i > 1; i--) {
		uint32_t j = rng_next() % i, t = slots[i - 1];

		slots[i - 1] = slots[j];
		slots[j] = t;
	}
	return slots;
}

static void build(struct built *bt, struct dataset *d, uint32_t m,
		  uint32_t efc, uint32_t threads, uint64_t seed)
{
	struct vexfs_hnsw_build_params p;
	uint32_t *slots = d->stride == 1 ? NULL : shuffled_slots(d);

	memset(bt, 0, sizeof(*bt));
	build_params(&p, d, m, efc, threads, seed);
	assert_int_equal(vexfs_hnsw_build(&p, slots, d->n, &bt->b), 0);
	free(slots);
	bt->len = vexfs_hnsw_serialized_size(bt->b);
	assert_int_equal(bt->len % VEXFS_HNSW_PAGE_SIZE, 0);
	bt->buf = aligned_copy(NULL, bt->len);
	assert_int_equal(vexfs_hnsw_serialize(bt->b, bt->buf, bt->len), 0);
	load_built(bt, d->n * d->stride);
}

static void unbuild(struct built *bt)
{
	vexfs_hnsw_builder_free(bt->b);
	free(bt->buf);
	free(bt->mem);
	memset(bt, 0, sizeof(*bt));
}

/* ==== Searching and measuring ==== */

static int search(struct built *bt, struct dataset *d, const float *q,
		  uint32_t k, uint32_t ef, bool filtered,
		  struct vexfs_hnsw_result *res)
{
	struct vexfs_hnsw_query query = {
		.vector = q,
		.k = k,
		.ef = ef,
		.distance = distance_for(d->metric),
		.vector_of = vector_of,
		.accept = filtered ? accept : NULL,
		.ctx = d,
	};

	if (d->coded) {
		vexfs_sq8_query_init(&d->coded->q, &d->coded->p,
				     vexfs_sq8_select(vexfs_cpu_flags_native()),
				     q, d->coded->qcode);
		query.sq8 = &d->coded->q;
		query.codes = d->coded->codes;
		query.rerank = d->coded->rerank;
	}
	return vexfs_hnsw_search(&bt->g, &query, &bt->s, res);
}

/* The exact k best eligible rows for q, best first, as slots. */
static uint32_t brute_force(const struct dataset *d, const float *q,
			    uint32_t k, uint32_t *out)
{
	vexfs_distance_fn dist = distance_for(d->metric);
	struct vexfs_topk_entry *e = malloc(k * sizeof(*e));
	struct vexfs_topk t;
	uint32_t i, n;

	assert_non_null(e);
	vexfs_topk_init(&t, e, k);
	for (i = 0; i < d->n; i++)
		if (eligible(d, i))
			vexfs_topk_push(&t, i * d->stride,
					dist(q, d->v + (size_t)i * d->dim, d->dim));
	n = vexfs_topk_extract(&t);
	for (i = 0; i < n; i++)
		out[i] = (uint32_t)e[i].id;
	free(e);
	return n;
}

/*
 * Check one answer: best first, every slot eligible and distinct, each
 * distance the true one.
 */
static void check_results(const struct dataset *d, const float *q,
			  const struct vexfs_hnsw_result *r, int n)
{
	vexfs_distance_fn dist = distance_for(d->metric);
	int i, j;

	for (i = 0; i < n; i++) {
		uint32_t row = 0;	/* set when the assertion holds */

		assert_true(row_of(d, r[i].slot, &row));
		assert_true(eligible(d, row));
		assert_true(r[i].dist == dist(q, d->v + (size_t)row * d->dim,
					      d->dim));
		if (i)
			assert_true(r[i - 1].dist <= r[i].dist);
		for (j = 0; j < i; j++)
			assert_int_not_equal(r[j].slot, r[i].slot);
	}
}

/* Share of the exact k best (or of the given truth) that the search found. */
static double recall(struct built *bt, struct dataset *d, const float *qs,
		     uint32_t nq, uint32_t ef, bool filtered,
		     const int32_t *truth, uint32_t truth_stride)
{
	struct vexfs_hnsw_result res[K];
	uint32_t exact[K], found = 0, wanted = 0, i, j, l;

	for (i = 0; i < nq; i++) {
		const float *q = qs + (size_t)i * d->dim;
		int n = search(bt, d, q, K, ef, filtered, res);
		uint32_t ne;

		assert_true(n >= 0);
		check_results(d, q, res, n);
		if (truth) {
			for (ne = 0; ne < K; ne++)
				exact[ne] = truth[(size_t)i * truth_stride + ne];
		} else {
			ne = brute_force(d, q, K, exact);
		}
		assert_int_equal(n, ne);
		wanted += ne;
		for (j = 0; j < ne; j++)
			for (l = 0; l < (uint32_t)n; l++)
				found += res[l].slot == exact[j];
	}
	return wanted ? (double)found / wanted : 1.0;
}

static void expect_recall(const char *what, double r, double min)
{
	print_message("    %-44s recall@10 %.4f\n", what, r);
	if (r < min)
		fail_msg("%s: recall %.4f below %.2f", what, r, min);
}

/* SQ8 codes for d, which the search helper then walks on. */
static void code_dataset(struct dataset *d, struct coded *c)
{
	struct vexfs_sq8_trainer t;
	uint32_t i;

	memset(c, 0, sizeof(*c));
	c->lo = malloc(d->dim * sizeof(float));
	c->hi = malloc(d->dim * sizeof(float));
	c->codes = calloc((size_t)d->n * d->stride, d->dim);
	c->qcode = malloc(d->dim * sizeof(int16_t));
	assert_true(c->lo && c->hi && c->codes && c->qcode);
	vexfs_sq8_train_begin(&t, d->dim, d->metric, c->lo, c->hi);
	for (i = 0; i < d->n; i++)
		vexfs_sq8_train_add(&t, d->v + (size_t)i * d->dim);
	vexfs_sq8_train_end(&t, &c->p);
	for (i = 0; i < d->n; i++)
		vexfs_sq8_encode(&c->p, d->v + (size_t)i * d->dim,
				 c->codes + (size_t)i * d->stride * d->dim);
	d->coded = c;
}

static void uncode_dataset(struct dataset *d)
{
	free(d->coded->lo);
	free(d->coded->hi);
	free(d->coded->codes);
	free(d->coded->qcode);
	d->coded = NULL;
}

/* ==== Recall ==== */

static void test_random_recall(void **state)
{
	struct dataset d = { .n = 2000, .dim = 32, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	struct built bt;
	float *qs;

	(void)state;
	rng_seed(1);
	d.v = random_vectors(d.n, d.dim);
	qs = random_vectors(NQUERIES, d.dim);
	build(&bt, &d, 16, 200, 1, 7);
	expect_recall("random 2000x32 L2, ef 64",
		      recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0), 0.95);
	expect_recall("random 2000x32 L2, ef 512",
		      recall(&bt, &d, qs, NQUERIES, EF_MAX, false, NULL, 0),
		      0.99);
	unbuild(&bt);
	free(qs);
	free(d.v);
}

static void check_metric(uint32_t metric, const char *what)
{
	struct dataset d = { .n = 2000, .dim = 32, .stride = 1,
			     .metric = metric };
	struct built bt;
	float *qs;

	rng_seed(2);
	d.v = clustered_vectors(d.n + NQUERIES, d.dim, 20);
	qs = d.v + (size_t)d.n * d.dim;	/* the rows past n: not in the graph */
	build(&bt, &d, 16, 200, 1, 7);
	assert_int_equal(bt.g.metric, metric);
	expect_recall(what, recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0),
		      0.95);
	unbuild(&bt);
	free(d.v);
}

static void test_metrics(void **state)
{
	(void)state;
	check_metric(VEXFS_METRIC_L2, "clustered 2000x32 L2");
	check_metric(VEXFS_METRIC_IP, "clustered 2000x32 inner product");
	check_metric(VEXFS_METRIC_COSINE, "clustered 2000x32 cosine");
}

/*
 * Where sift5k is: $VEXFS_SIFT as the guest suites take it (make
 * unit-test sets it from scripts/testdata.py), else the shared data
 * beside the checkout.
 */
static const char *sift_dir(void)
{
	static char dir[PATH_MAX];

	if (getenv("VEXFS_SIFT"))
		return getenv("VEXFS_SIFT");
	snprintf(dir, sizeof(dir), "%s/sift5k", VEXFS_DATA_DIR);
	return dir;
}

/* A texmex file: records of an int32 dimension and dim 4-byte values. */
static void *read_vecs(const char *name, uint32_t *n, uint32_t *dim)
{
	char path[PATH_MAX];
	int32_t d32;
	uint8_t *raw, *out;
	size_t len, rec, i;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", sift_dir(), name) >=
	    (int)sizeof(path))
		return NULL;
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	raw = malloc(len);
	assert_non_null(raw);
	assert_int_equal(fread(raw, 1, len, f), len);
	fclose(f);

	memcpy(&d32, raw, 4);
	assert_true(d32 > 0 && d32 <= 4096);
	rec = 4 + 4 * (size_t)d32;
	assert_int_equal(len % rec, 0);
	*dim = d32;
	*n = len / rec;
	out = malloc(len);
	assert_non_null(out);
	for (i = 0; i < *n; i++) {
		memcpy(&d32, raw + i * rec, 4);
		assert_int_equal(d32, *dim);
		memcpy(out + i * (rec - 4), raw + i * rec + 4, rec - 4);
	}
	free(raw);
	return out;
}

/*
 * coded (built on d's codes) and plain (on its floats) hold the same
 * graph: the same header apart from the SQ8 fields, the same node and
 * link pages; coded then carries d's coding and each node's code.
 */
static void assert_same_graph_and_codes(const struct built *coded,
					const struct built *plain,
					const struct dataset *d)
{
	const struct vexfs_hnsw_graph *g = &coded->g;
	struct vexfs_hnsw_header h = *g->hdr;
	float *lo = malloc(d->dim * sizeof(float)), step;
	uint64_t missing;
	uint32_t n, row;

	assert_non_null(lo);
	assert_int_equal(le32toh(h.h_incompat), VEXFS_HNSW_INCOMPAT_SQ8);
	h.h_incompat = 0;
	h.h_total_size = plain->g.hdr->h_total_size;
	h.h_sq8_off = h.h_sq8_bytes = h.h_codes_off = h.h_codes_bytes = 0;
	h.h_sq8_step = h.h_codes_per_page = 0;
	assert_memory_equal(&h, plain->g.hdr, sizeof(h));
	assert_memory_equal((const uint8_t *)coded->buf + VEXFS_HNSW_PAGE_SIZE,
			    (const uint8_t *)plain->buf + VEXFS_HNSW_PAGE_SIZE,
			    plain->len - VEXFS_HNSW_PAGE_SIZE);

	assert_int_equal(vexfs_hnsw_sq8_params(g, lo, &step, &missing), 0);
	assert_memory_equal(lo, d->coded->lo, d->dim * sizeof(float));
	assert_true(step == d->coded->p.step);
	for (n = 0; n < g->node_count; n++) {
		assert_true(row_of(d, vexfs_hnsw_slot(g, n), &row));
		assert_memory_equal(vexfs_hnsw_code(g, n),
				    d->coded->codes + (size_t)row * d->stride * d->dim,
				    d->dim);
	}
	free(lo);
}

/*
 * SIFT descriptors are small integers: their codes are exact, and a walk
 * on them finds what the float walk finds, distances and all; a build on
 * them makes the same graph. The stand-in scripts/testdata.py makes where
 * SIFT is not at hand is real-valued: its codes are lossy, and the walk
 * on them, re-ranked, must keep the recall.
 */
static void check_sift_codes(struct built *bt, struct dataset *d,
			     const float *qs, uint32_t nq, const int32_t *gt,
			     uint32_t gdim)
{
	struct vexfs_hnsw_result rf[K], rc[K];
	struct built on_codes;
	struct coded c;
	uint32_t i;
	int nf, nc;

	code_dataset(d, &c);
	if (c.p.step != 1.0f) {
		expect_recall("real-valued stand-in, walk on codes, ef 64",
			      recall(bt, d, qs, nq, EF, false, gt, gdim), 0.95);
		uncode_dataset(d);
		return;
	}
	for (i = 0; i < nq; i++) {
		d->coded = NULL;
		nf = search(bt, d, qs + (size_t)i * d->dim, K, 16, false, rf);
		d->coded = &c;
		nc = search(bt, d, qs + (size_t)i * d->dim, K, 16, false, rc);
		assert_int_equal(nf, nc);
		assert_memory_equal(rf, rc, nf * sizeof(*rf));
	}

	/*
	 * Built on the codes, with the same seed: the same graph, byte for
	 * byte, and it carries the codes it was built on.
	 */
	c.build = true;
	build(&on_codes, d, 16, 200, 1, 42);
	assert_same_graph_and_codes(&on_codes, bt, d);
	unbuild(&on_codes);
	uncode_dataset(d);
}

static void test_sift5k(void **state)
{
	struct dataset d = { .stride = 1, .metric = VEXFS_METRIC_L2 };
	uint32_t nq, qdim, ngt, gdim, exact[K], i, j, l, same = 0;
	struct built bt;
	int32_t *gt;
	float *qs;

	(void)state;
	d.v = read_vecs("sift5k_base.fvecs", &d.n, &d.dim);
	qs = read_vecs("sift5k_query.fvecs", &nq, &qdim);
	gt = read_vecs("sift5k_groundtruth.ivecs", &ngt, &gdim);
	if (!d.v || !qs || !gt) {
		free(d.v);
		free(qs);
		free(gt);
		print_message("    sift5k not found in %s\n", sift_dir());
		skip();
	}
	assert_int_equal(d.n, 4900);
	assert_int_equal(d.dim, 128);
	assert_int_equal(qdim, 128);
	assert_int_equal(ngt, nq);
	assert_true(gdim >= K);

	/* Our exact search agrees with the shipped ground truth. */
	for (i = 0; i < nq; i++) {
		brute_force(&d, qs + (size_t)i * d.dim, K, exact);
		for (j = 0; j < K; j++)
			for (l = 0; l < K; l++)
				same += exact[j] == (uint32_t)gt[i * gdim + l];
	}
	assert_true(same >= nq * K * 99 / 100);

	build(&bt, &d, 16, 200, 1, 42);
	expect_recall("sift5k M 16 efC 200, ef 64",
		      recall(&bt, &d, qs, nq, EF, false, gt, gdim), 0.95);
	expect_recall("sift5k M 16 efC 200, ef 16",
		      recall(&bt, &d, qs, nq, 16, false, gt, gdim), 0.0);
	check_sift_codes(&bt, &d, qs, nq, gt, gdim);
	unbuild(&bt);

	build(&bt, &d, 16, 200, 2, 42);
	expect_recall("sift5k, 2 threads, ef 64",
		      recall(&bt, &d, qs, nq, EF, false, gt, gdim), 0.95);
	unbuild(&bt);
	free(d.v);
	free(qs);
	free(gt);
}

/* ==== Builds and the serialized form ==== */

static void test_deterministic(void **state)
{
	struct dataset d = { .n = 1500, .dim = 16, .stride = 3,
			     .metric = VEXFS_METRIC_L2 };
	struct built a, b, c;

	(void)state;
	rng_seed(3);
	d.v = random_vectors(d.n, d.dim);
	build(&a, &d, 8, 64, 1, 99);
	build(&b, &d, 8, 64, 1, 99);
	build(&c, &d, 8, 64, 1, 100);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	assert_true(a.len != c.len || memcmp(a.buf, c.buf, a.len) != 0);
	unbuild(&a);
	unbuild(&b);
	unbuild(&c);
	free(d.v);
}

/*
 * Early exit changes no outcome: a build whose distances stop at the
 * bound (the default) and one given the plain distance produce the same
 * graph, and a search scoring whole lists through ops (with the bound) over
 * a plain vector array returns the same slots at the same distances as
 * one calling the distance and the vector callback once per node.
 */
static void test_early_exit_same(void **state)
{
	struct dataset d = { .n = 1200, .dim = 300, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	const struct vexfs_distance_ops *ops =
		vexfs_distance_select(vexfs_cpu_flags_native());
	struct vexfs_hnsw_result r1[10], r2[10];
	struct vexfs_hnsw_build_params p;
	struct built a, b;
	uint32_t i;
	int n1, n2;

	(void)state;
	rng_seed(11);
	d.v = random_vectors(d.n, d.dim);
	build(&a, &d, 8, 64, 1, 5);
	memset(&b, 0, sizeof(b));
	build_params(&p, &d, 8, 64, 1, 5);
	p.distance = ops->l2;
	assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b.b), 0);
	b.len = vexfs_hnsw_serialized_size(b.b);
	b.buf = aligned_copy(NULL, b.len);
	assert_int_equal(vexfs_hnsw_serialize(b.b, b.buf, b.len), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	for (i = 0; i < 50; i++) {
		const float *q = d.v + (size_t)(i * 23) * d.dim;
		struct vexfs_hnsw_query query = {
			.vector = q, .k = 10, .ef = 16,
			.distance = ops->l2, .vector_of = vector_of, .ctx = &d,
		};

		n1 = vexfs_hnsw_search(&a.g, &query, &a.s, r1);
		query.ops = ops;
		query.vectors = d.v;
		query.vector_of = NULL;
		n2 = vexfs_hnsw_search(&a.g, &query, &a.s, r2);
		assert_int_equal(n1, 10);
		assert_int_equal(n1, n2);
		assert_memory_equal(r1, r2, sizeof(r1));
	}
	unbuild(&a);
	vexfs_hnsw_builder_free(b.b);
	free(b.buf);
	free(d.v);
}

/* The view shows exactly what the builder holds. */
static void check_view_matches(const struct built *bt,
			       const struct dataset *d)
{
	const struct vexfs_hnsw_graph *g = &bt->g;
	uint32_t i, l, j, count, prev = 0;

	assert_int_equal(g->node_count, vexfs_hnsw_builder_nodes(bt->b));
	assert_int_equal(g->dim, d->dim);
	for (i = 0; i < g->node_count; i++) {
		uint32_t slot = vexfs_hnsw_slot(g, i);

		assert_true(i == 0 || slot > prev);
		assert_int_equal(slot % d->stride, 0);
		prev = slot;
		assert_int_equal(vexfs_hnsw_level(g, i),
				 vexfs_hnsw_builder_level(bt->b, i));
		for (l = 0; l <= vexfs_hnsw_level(g, i); l++) {
			const uint32_t *want =
				vexfs_hnsw_builder_links(bt->b, i, l, &count);
			const struct vexfs_hnsw_links *got =
				vexfs_hnsw_links(g, i, l);

			/*
			 * The builder's links come first; a level-0 list may
			 * end in links that reconnect unreached nodes.
			 */
			if (l)
				assert_int_equal(le32toh(got->l_count), count);
			else
				assert_true(le32toh(got->l_count) >= count);
			assert_true(le32toh(got->l_count) <= (l ? g->m : g->m0));
			for (j = 0; j < count; j++)
				assert_int_equal(le32toh(got->l_ids[j]), want[j]);
		}
	}
}

static void test_roundtrip(void **state)
{
	struct dataset d = { .n = 2000, .dim = 24, .stride = 5,
			     .metric = VEXFS_METRIC_L2 };
	struct vexfs_hnsw_result r1[K], r2[K];
	struct built bt, back;
	char path[] = "/tmp/vexfs-hnsw-XXXXXX";
	uint32_t i;
	float *qs;
	FILE *f;
	int fd;

	(void)state;
	rng_seed(4);
	d.v = random_vectors(d.n, d.dim);
	qs = random_vectors(NQUERIES, d.dim);
	build(&bt, &d, 12, 100, 2, 5);
	check_view_matches(&bt, &d);
	assert_int_equal(bt.g.m, 12);
	assert_int_equal(bt.g.m0, 24);

	/* Out to a file and back into a fresh buffer. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w+b");
	assert_non_null(f);
	assert_int_equal(fwrite(bt.buf, 1, bt.len, f), bt.len);
	rewind(f);
	memset(&back, 0, sizeof(back));
	back.len = bt.len;
	back.buf = aligned_copy(NULL, back.len);
	assert_int_equal(fread(back.buf, 1, back.len, f), back.len);
	fclose(f);
	unlink(path);
	load_built(&back, d.n * d.stride);

	for (i = 0; i < NQUERIES; i++) {
		const float *q = qs + (size_t)i * d.dim;
		int n1 = search(&bt, &d, q, K, EF, false, r1);
		int n2 = search(&back, &d, q, K, EF, false, r2);

		assert_int_equal(n1, K);
		assert_int_equal(n1, n2);
		assert_memory_equal(r1, r2, n1 * sizeof(r1[0]));
	}
	expect_recall("random 2000x24, slots 5i, 2 threads",
		      recall(&back, &d, qs, NQUERIES, EF, false, NULL, 0), 0.95);
	free(back.buf);
	free(back.mem);
	unbuild(&bt);
	free(qs);
	free(d.v);
}

static void test_chunked(void **state)
{
	struct dataset d = { .n = 1000, .dim = 16, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	struct vexfs_hnsw_result r1[K], r2[K];
	struct built bt;
	uint32_t i;
	float *qs;

	(void)state;
	rng_seed(5);
	d.v = random_vectors(d.n, d.dim);
	qs = random_vectors(20, d.dim);
	build(&bt, &d, 8, 100, 1, 5);
	for (i = 0; i < 20; i++) {
		struct vexfs_hnsw_query q = {
			.vector = qs + (size_t)i * d.dim, .k = K, .ef = 100,
			.distance = distance_for(d.metric),
			.vector_of = vector_of, .ctx = &d,
		};
		int n1 = vexfs_hnsw_search(&bt.g, &q, &bt.s, r1), n2, err;
		uint32_t steps = 0;

		assert_int_equal(vexfs_hnsw_search_start(&bt.g, &q, &bt.s), 0);
		do {
			err = vexfs_hnsw_search_step(&bt.g, &q, &bt.s, 7);
			steps++;
		} while (err == -EAGAIN);
		assert_int_equal(err, 0);
		assert_true(steps > 10);
		n2 = vexfs_hnsw_search_results(&bt.g, &q, &bt.s, r2);
		assert_int_equal(n1, K);
		assert_int_equal(n1, n2);
		assert_memory_equal(r1, r2, n1 * sizeof(r1[0]));
	}
	unbuild(&bt);
	free(qs);
	free(d.v);
}

/* ==== Filters, deletions, freed slots ==== */

static void test_filter(void **state)
{
	struct dataset d = { .n = 3000, .dim = 32, .stride = 2,
			     .metric = VEXFS_METRIC_COSINE };
	uint8_t *allowed = malloc(d.n);
	struct built bt;
	uint32_t i;
	float *qs;

	(void)state;
	rng_seed(6);
	d.v = clustered_vectors(d.n + NQUERIES, d.dim, 30);
	qs = d.v + (size_t)d.n * d.dim;
	build(&bt, &d, 16, 200, 1, 6);

	for (i = 0; i < d.n; i++)
		allowed[i] = i % 4 == 1;
	d.allowed = allowed;
	expect_recall("filter 25% accepted, ef 64",
		      recall(&bt, &d, qs, NQUERIES, EF, true, NULL, 0), 0.95);
	for (i = 0; i < d.n; i++)
		allowed[i] = rng_next() % 50 == 0;
	expect_recall("filter 2% accepted, ef 64",
		      recall(&bt, &d, qs, NQUERIES, EF, true, NULL, 0), 0.90);

	/* Nothing accepted: the walk covers the graph, returns nothing. */
	memset(allowed, 0, d.n);
	{
		struct vexfs_hnsw_result r[K];
		struct vexfs_hnsw_query q = {
			.vector = qs, .k = K, .ef = EF,
			.distance = distance_for(d.metric),
			.vector_of = vector_of, .accept = accept, .ctx = &d,
		};

		assert_int_equal(vexfs_hnsw_search(&bt.g, &q, &bt.s, r), 0);
		assert_true(bt.s.distances >= d.n * 9 / 10);
		q.max_distances = 300;	/* the effort bound stops it early */
		assert_int_equal(vexfs_hnsw_search(&bt.g, &q, &bt.s, r), 0);
		assert_true(bt.s.distances >= 300);
		assert_true(bt.s.distances <= 300 + bt.g.m0);
	}
	unbuild(&bt);
	free(allowed);
	free(d.v);
}

/* ==== Walking on SQ8 codes ==== */

/*
 * Every metric, walked on codes: recall as the float walk's, and every
 * answer carries exact distances, best first (recall() checks each).
 */
static void check_sq8_metric(uint32_t metric, uint32_t dim, const char *what)
{
	struct dataset d = { .n = 2000, .dim = dim, .stride = 3,
			     .metric = metric };
	struct coded c;
	struct built bt;
	double rf, rc;
	float *qs;

	rng_seed(21);
	d.v = clustered_vectors(d.n + NQUERIES, d.dim, 20);
	qs = d.v + (size_t)d.n * d.dim;
	build(&bt, &d, 16, 200, 1, 7);
	rf = recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0);
	code_dataset(&d, &c);
	rc = recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0);
	expect_recall(what, rc, 0.95);
	assert_true(rc >= rf - 0.01);
	c.rerank = 1;		/* raised to k: still k exact answers */
	expect_recall("  re-ranking only k", recall(&bt, &d, qs, NQUERIES, EF,
						    false, NULL, 0), 0.90);
	unbuild(&bt);

	c.rerank = 0;
	c.build = true;		/* the graph from the codes as well */
	build(&bt, &d, 16, 200, 1, 7);
	rc = recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0);
	expect_recall("  built on the codes", rc, 0.95);
	assert_true(rc >= rf - 0.02);
	uncode_dataset(&d);
	unbuild(&bt);
	free(d.v);
}

static void test_sq8_metrics(void **state)
{
	(void)state;
	check_sq8_metric(VEXFS_METRIC_L2, 32, "codes, clustered 2000x32 L2");
	check_sq8_metric(VEXFS_METRIC_IP, 48, "codes, clustered 2000x48 IP");
	check_sq8_metric(VEXFS_METRIC_COSINE, 200,
			 "codes, clustered 2000x200 cosine");
}

/* Filters and freed slots hold on a walk on codes as on floats. */
static void test_sq8_filtered(void **state)
{
	struct dataset d = { .n = 2000, .dim = 64, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	uint8_t *allowed = malloc(d.n), *gone = calloc(d.n, 1);
	struct coded c;
	struct built bt;
	uint32_t i;
	float *qs;

	(void)state;
	rng_seed(22);
	d.v = clustered_vectors(d.n + NQUERIES, d.dim, 20);
	qs = d.v + (size_t)d.n * d.dim;
	build(&bt, &d, 16, 200, 1, 9);
	code_dataset(&d, &c);
	for (i = 0; i < d.n; i++) {
		allowed[i] = i % 4 != 1;
		gone[i] = i % 7 == 3;
	}
	d.allowed = allowed;
	d.gone = gone;
	expect_recall("codes, 25% filtered out, 14% freed",
		      recall(&bt, &d, qs, NQUERIES, EF, true, NULL, 0), 0.93);

	/* Fewer accepted than k, re-ranking fewer still: only those come back. */
	memset(allowed, 0, d.n);
	allowed[0] = allowed[1] = allowed[2] = 1;
	memset(gone, 0, d.n);
	c.rerank = 1;
	{
		struct vexfs_hnsw_result r[K];
		int n = search(&bt, &d, qs, K, EF, true, r);

		assert_int_equal(n, 3);
		check_results(&d, qs, r, n);
	}
	uncode_dataset(&d);
	unbuild(&bt);
	free(allowed);
	free(gone);
	free(d.v);
}

/* Order results by distance, then slot: ties cannot tell two walks apart. */
static int result_cmp(const void *a, const void *b)
{
	const struct vexfs_hnsw_result *x = a, *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/*
 * A walk on codes with no vectors (the module's: it reads the vectors of
 * the candidates from disk) returns the ef best by estimate, best first;
 * re-ranked by the caller, they are the answer of the walk that re-ranks
 * itself, slot for slot and distance for distance.
 */
static void test_sq8_codes_only(void **state)
{
	struct dataset d = { .n = 2000, .dim = 64, .stride = 2,
			     .metric = VEXFS_METRIC_L2 };
	struct vexfs_hnsw_result own[K], est[EF];
	vexfs_distance_fn dist = distance_for(d.metric);
	struct coded c;
	struct built bt;
	uint32_t qi, i;
	float *qs;

	(void)state;
	rng_seed(23);
	d.v = clustered_vectors(d.n + NQUERIES, d.dim, 20);
	qs = d.v + (size_t)d.n * d.dim;
	build(&bt, &d, 16, 200, 1, 11);
	code_dataset(&d, &c);
	for (qi = 0; qi < NQUERIES; qi++) {
		const float *q = qs + (size_t)qi * d.dim;
		struct vexfs_hnsw_query query = {
			.vector = q, .k = EF, .ef = EF, .distance = dist,
			.sq8 = &c.q, .codes = c.codes,
		};
		int n = search(&bt, &d, q, K, EF, false, own), m;

		assert_int_equal(n, K);
		m = vexfs_hnsw_search(&bt.g, &query, &bt.s, est);
		assert_int_equal(m, EF);
		for (i = 0; i < (uint32_t)m; i++) {
			assert_int_equal(est[i].slot % d.stride, 0);
			assert_true(est[i].dist == vexfs_sq8_estimate(&c.q,
					c.codes + (size_t)est[i].slot * d.dim));
			if (i)
				assert_true(est[i - 1].dist <= est[i].dist);
		}
		for (i = 0; i < (uint32_t)m; i++)
			est[i].dist = dist(q, d.v + (size_t)(est[i].slot / d.stride) *
					   d.dim, d.dim);
		qsort(est, m, sizeof(*est), result_cmp);
		qsort(own, n, sizeof(*own), result_cmp);
		for (i = 0; i < K; i++) {
			assert_int_equal(est[i].slot, own[i].slot);
			assert_true(est[i].dist == own[i].dist);
		}
	}
	/* Codes without vectors need the codes. */
	{
		struct vexfs_hnsw_query query = {
			.vector = qs, .k = K, .ef = EF, .distance = dist,
			.sq8 = &c.q,
		};

		assert_int_equal(vexfs_hnsw_search(&bt.g, &query, &bt.s, est),
				 -EINVAL);
	}
	uncode_dataset(&d);
	unbuild(&bt);
	free(d.v);
}

static void test_deleted(void **state)
{
	struct dataset d = { .n = 2000, .dim = 32, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	uint8_t *live = malloc(d.n), *gone = calloc(d.n, 1);
	struct built bt;
	uint32_t i;
	float *qs;

	(void)state;
	rng_seed(7);
	d.v = random_vectors(d.n, d.dim);
	qs = random_vectors(NQUERIES, d.dim);
	build(&bt, &d, 16, 200, 1, 8);

	/* 10% marked deleted: traversed, never returned. */
	for (i = 0; i < d.n; i++)
		live[i] = rng_next() % 10 != 0;
	d.allowed = live;
	expect_recall("10% deleted",
		      recall(&bt, &d, qs, NQUERIES, EF, true, NULL, 0), 0.95);

	/* 10% more freed: no vector, neither followed nor returned. */
	for (i = 0; i < d.n; i++)
		gone[i] = live[i] && rng_next() % 9 == 0;
	d.gone = gone;
	expect_recall("10% deleted, 10% freed",
		      recall(&bt, &d, qs, NQUERIES, EF, true, NULL, 0), 0.93);
	d.allowed = NULL;
	expect_recall("10% freed, no filter",
		      recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0), 0.93);

	/* Even the entry point gone: search still finds its way. */
	gone[vexfs_hnsw_slot(&bt.g, bt.g.entry)] = 1;
	expect_recall("entry point freed",
		      recall(&bt, &d, qs, NQUERIES, EF, false, NULL, 0), 0.93);
	unbuild(&bt);
	free(live);
	free(gone);
	free(qs);
	free(d.v);
}

/* ==== Small graphs and arguments ==== */

static void test_small(void **state)
{
	struct dataset d = { .n = 0, .dim = 4, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	struct vexfs_hnsw_result r[64];
	uint32_t exact[64], n, i, j;
	struct built bt;
	float q[4] = { 0.5f, 0.5f, 0.5f, 0.5f };

	(void)state;
	rng_seed(8);
	d.v = random_vectors(200, d.dim);

	/* Empty: loads, answers nothing. */
	build(&bt, &d, 4, 16, 1, 1);
	assert_int_equal(bt.g.node_count, 0);
	assert_int_equal(bt.g.entry, VEXFS_HNSW_NO_NODE);
	assert_int_equal(bt.len, VEXFS_HNSW_PAGE_SIZE);
	assert_int_equal(search(&bt, &d, q, K, EF, false, r), 0);
	unbuild(&bt);

	/* One node. */
	d.n = 1;
	build(&bt, &d, 4, 16, 4, 1);
	assert_int_equal(search(&bt, &d, q, K, EF, false, r), 1);
	assert_int_equal(r[0].slot, 0);
	unbuild(&bt);

	/* ef >= n: the exact answer, and k > n gives all of them. */
	d.n = 200;
	build(&bt, &d, 4, 32, 1, 1);
	assert_int_equal(search(&bt, &d, q, 64, 256, false, r), 64);
	n = brute_force(&d, q, 64, exact);
	for (i = 0; i < n; i++)
		assert_int_equal(r[i].slot, exact[i]);
	assert_int_equal(search(&bt, &d, q, 0, EF, false, r), 0);
	for (j = 0; j < 10; j++) {
		struct vexfs_hnsw_result all[200];
		struct vexfs_hnsw_query qq = {
			.vector = d.v + j * d.dim, .k = 200, .ef = 200,
			.distance = distance_for(d.metric),
			.vector_of = vector_of, .ctx = &d,
		};

		assert_int_equal(vexfs_hnsw_search(&bt.g, &qq, &bt.s, all), 200);
		assert_int_equal(all[0].slot, j);
	}
	unbuild(&bt);
	free(d.v);
}

static void test_arguments(void **state)
{
	struct dataset d = { .n = 300, .dim = 8, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	struct vexfs_hnsw_build_params p;
	struct vexfs_hnsw_builder *b;
	struct vexfs_hnsw_scratch s;
	struct vexfs_hnsw_result r[K];
	uint32_t slots[3] = { 4, 9, 4 };
	struct built bt;
	size_t size;
	void *mem;

	(void)state;
	rng_seed(9);
	d.v = random_vectors(d.n, d.dim);
	build_params(&p, &d, 1, 10, 1, 1);
	assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b), -EINVAL);
	build_params(&p, &d, VEXFS_HNSW_MAX_M + 1, 10, 1, 1);
	assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b), -EINVAL);
	build_params(&p, &d, 4, 10, 1, 1);
	p.dim = 0;
	assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b), -EINVAL);
	p.dim = d.dim;
	p.metric = 7;
	assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b), -EINVAL);
	p.metric = VEXFS_METRIC_L2;
	assert_int_equal(vexfs_hnsw_build(&p, slots, 3, &b), -EINVAL);
	slots[2] = 300;		/* no vector there */
	assert_int_equal(vexfs_hnsw_build(&p, slots, 3, &b), -EINVAL);
	p.vector_of = NULL;
	assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b), -EINVAL);

	build(&bt, &d, 4, 32, 1, 1);
	assert_int_equal(vexfs_hnsw_serialize(bt.b, bt.buf, bt.len - 1),
			 -EINVAL);
	/* ef beyond the scratch, a scratch too small or misaligned. */
	assert_int_equal(search(&bt, &d, d.v, K, EF_MAX + 1, false, r), -EINVAL);
	assert_int_equal(search(&bt, &d, d.v, EF_MAX + 1, 1, false, r), -EINVAL);
	size = vexfs_hnsw_scratch_size(&bt.g, 16);
	mem = malloc(size + 8);
	assert_int_equal(vexfs_hnsw_scratch_init(&s, mem, size - 1, &bt.g, 16),
			 -EINVAL);
	assert_int_equal(vexfs_hnsw_scratch_init(&s, (char *)mem + 4, size,
						 &bt.g, 16), -EINVAL);
	assert_int_equal(vexfs_hnsw_scratch_init(&s, mem, size, &bt.g, 16), 0);
	{
		struct vexfs_hnsw_query q = {
			.vector = d.v, .k = K, .ef = 16,
			.distance = distance_for(d.metric),
			.vector_of = vector_of, .ctx = &d,
		};

		assert_int_equal(vexfs_hnsw_search(&bt.g, &q, &s, r), K);
		q.ef = 17;
		assert_int_equal(vexfs_hnsw_search(&bt.g, &q, &s, r), -EINVAL);
		q.ef = 16;
		q.vector_of = NULL;
		assert_int_equal(vexfs_hnsw_search(&bt.g, &q, &s, r), -EINVAL);
	}
	assert_int_equal(vexfs_hnsw_scratch_size(&bt.g, 0xffffffffu), 0);
	free(mem);
	unbuild(&bt);
	free(d.v);
}

/* ==== The loader against damaged graphs ==== */

/*
 * A graph with several pages in every section: 1000 nodes at M 4 fill
 * 4 node pages, 9 level-0 pages and 2 upper pages.
 */
struct corrupt_fixture {
	struct dataset d;
	struct built bt;
	float *qs;
};

static int corrupt_setup(void **state)
{
	struct corrupt_fixture *f = calloc(1, sizeof(*f));

	f->d = (struct dataset){ .n = 1000, .dim = 8, .stride = 2,
				 .metric = VEXFS_METRIC_L2 };
	rng_seed(10);
	f->d.v = random_vectors(f->d.n, f->d.dim);
	f->qs = random_vectors(8, f->d.dim);
	build(&f->bt, &f->d, 4, 40, 1, 11);
	*state = f;
	return 0;
}

static int corrupt_teardown(void **state)
{
	struct corrupt_fixture *f = *state;

	unbuild(&f->bt);
	free(f->qs);
	free(f->d.v);
	free(f);
	return 0;
}

static int try_load(const void *buf, size_t len, uint32_t max_slots,
		    struct vexfs_hnsw_graph *g, const char **why)
{
	*why = "-";
	return vexfs_hnsw_load(buf, len, max_slots, g, why);
}

/* Load a copy of exactly len bytes; the result must be err. */
static void expect_load(const void *src, size_t len, uint32_t max_slots,
			int err, const char *what)
{
	void *buf = aligned_copy(src, len);
	struct vexfs_hnsw_graph g;
	const char *why;
	int ret = try_load(buf, len, max_slots, &g, &why);

	free(buf);
	if (ret != err)
		fail_msg("%s: load returned %d (%s), expected %d", what, ret,
			 why, err);
}

static void test_truncated(void **state)
{
	struct corrupt_fixture *f = *state;
	const struct vexfs_hnsw_graph *g = &f->bt.g;
	const struct vexfs_hnsw_header *h = g->hdr;
	uint32_t max_slots = f->d.n * f->d.stride;
	uint64_t cut[32], off[3], bytes[3];
	size_t n = 0, i, p;

	(void)state;
	assert_true(le64toh(h->h_node_bytes) >= 4 * VEXFS_HNSW_PAGE_SIZE);
	assert_true(le64toh(h->h_level0_bytes) >= 2 * VEXFS_HNSW_PAGE_SIZE);
	assert_true(le64toh(h->h_upper_bytes) >= 2 * VEXFS_HNSW_PAGE_SIZE);
	off[0] = le64toh(h->h_node_off);
	off[1] = le64toh(h->h_level0_off);
	off[2] = le64toh(h->h_upper_off);
	bytes[0] = le64toh(h->h_node_bytes);
	bytes[1] = le64toh(h->h_level0_bytes);
	bytes[2] = le64toh(h->h_upper_bytes);

	cut[n++] = 0;
	cut[n++] = 1;
	cut[n++] = VEXFS_HNSW_HEADER_SIZE - 1;
	cut[n++] = VEXFS_HNSW_HEADER_SIZE;
	cut[n++] = VEXFS_HNSW_PAGE_SIZE - 1;
	for (i = 0; i < 3; i++) {
		cut[n++] = off[i];
		cut[n++] = off[i] + 1;
		cut[n++] = off[i] + bytes[i] - 1;
		cut[n++] = off[i] + bytes[i] / 2;
	}
	cut[n++] = f->bt.len - 1;
	for (i = 0; i < n; i++)
		expect_load(f->bt.buf, cut[i], max_slots, -EINVAL, "truncated");
	for (p = 0; p < f->bt.len; p += VEXFS_HNSW_PAGE_SIZE) {
		expect_load(f->bt.buf, p, max_slots, -EINVAL, "page cut");
		if (p)
			expect_load(f->bt.buf, p - 4, max_slots, -EINVAL,
				    "cut in a page");
	}
	/*
	 * The whole loads; with slack after it, it is refused: a caller must
	 * not make the kernel keep bytes no graph uses.
	 */
	expect_load(f->bt.buf, f->bt.len, max_slots, 0, "whole");
	{
		uint8_t *big = calloc(1, f->bt.len + 4096);

		memcpy(big, f->bt.buf, f->bt.len);
		expect_load(big, f->bt.len + 4096, max_slots, -EINVAL, "slack");
		free(big);
	}
}

/* ---- Edits of single fields ---- */

#define HDR(field)	offsetof(struct vexfs_hnsw_header, field)
#define NODE(n, field)	(node_at(g, n) + offsetof(struct vexfs_hnsw_node, field))

/* One field of a good graph set to a bad value, and the error it earns. */
struct edit {
	const char *what;
	int err;			/* what the loader must return */
	size_t off;			/* byte offset in the graph */
	unsigned int size;		/* 1, 2, 4 or 8 bytes, little-endian */
	uint64_t value;
};

static void put_le(uint8_t *p, size_t off, unsigned int size, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t off, unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[off + i] << (8 * i);
	return v;
}

/* Byte offsets of a node table entry and of a link record. */
static size_t node_at(const struct vexfs_hnsw_graph *g, uint32_t n)
{
	return (const uint8_t *)vexfs_hnsw_node(g, n) - (const uint8_t *)g->hdr;
}

static size_t rec_at(const struct vexfs_hnsw_graph *g, uint32_t n, uint32_t l)
{
	return (const uint8_t *)vexfs_hnsw_links(g, n, l) -
	       (const uint8_t *)g->hdr;
}

/* A node of level >= 1 with level-1 links, and one of level 0. */
static void find_levels(const struct vexfs_hnsw_graph *g, uint32_t *high,
			uint32_t *low)
{
	uint32_t i;

	*high = *low = VEXFS_HNSW_NO_NODE;
	for (i = 0; i < g->node_count; i++) {
		if (vexfs_hnsw_level(g, i) >= 1 && *high == VEXFS_HNSW_NO_NODE &&
		    le32toh(vexfs_hnsw_links(g, i, 1)->l_count) > 0)
			*high = i;
		if (vexfs_hnsw_level(g, i) == 0 && *low == VEXFS_HNSW_NO_NODE)
			*low = i;
	}
	assert_int_not_equal(*high, VEXFS_HNSW_NO_NODE);
	assert_int_not_equal(*low, VEXFS_HNSW_NO_NODE);
}

/* A node whose level-0 list is not full. */
static uint32_t find_short_list(const struct vexfs_hnsw_graph *g)
{
	uint32_t i;

	for (i = 0; i < g->node_count; i++)
		if (le32toh(vexfs_hnsw_links0(g, i)->l_count) < g->m0)
			return i;
	fail_msg("every level-0 list is full");
	return 0;
}

/* Header fields: identity, parameters, geometry, padding. */
static unsigned int header_edits(const struct vexfs_hnsw_graph *g,
				 uint32_t low, struct edit *e)
{
	unsigned int n = 0;

#define EDIT(w, er, o, sz, v) (e[n++] = (struct edit){ w, er, o, sz, v })
	EDIT("magic", -EINVAL, HDR(h_magic), 4, VEXFS_HNSW_MAGIC ^ 1);
	EDIT("version", -EINVAL, HDR(h_version), 4, 2);
	EDIT("header size", -EINVAL, HDR(h_header_size), 4, 128);
	EDIT("incompat", -EINVAL, HDR(h_incompat), 4, 2);
	EDIT("SQ8 without its fields", -EUCLEAN, HDR(h_incompat), 4, 1);
	EDIT("SQ8 fields without SQ8", -EUCLEAN, HDR(h_codes_per_page), 4, 1);
	EDIT("reserved", -EUCLEAN, HDR(h_reserved) + 5, 1, 1);
	EDIT("reserved0", -EUCLEAN, HDR(h_reserved0), 4, 1);
	EDIT("dim 0", -EUCLEAN, HDR(h_dim), 4, 0);
	EDIT("dim 4097", -EUCLEAN, HDR(h_dim), 4, 4097);
	EDIT("metric", -EUCLEAN, HDR(h_metric), 2, 4);
	EDIT("M 1", -EUCLEAN, HDR(h_m), 2, 1);
	EDIT("M0", -EUCLEAN, HDR(h_m0), 2, g->m0 + 2);
	EDIT("max level 33", -EUCLEAN, HDR(h_max_level), 2, 33);
	EDIT("max level + 1", -EUCLEAN, HDR(h_max_level), 2, g->max_level + 1);
	EDIT("entry out of range", -EUCLEAN, HDR(h_entry), 4, g->node_count);
	EDIT("entry too low", -EUCLEAN, HDR(h_entry), 4, low);
	EDIT("node count - 1", -EUCLEAN, HDR(h_node_count), 4,
	     g->node_count - 1);
	EDIT("node count ~0", -EUCLEAN, HDR(h_node_count), 4, 0xffffffff);
	EDIT("upper count + 1", -EUCLEAN, HDR(h_upper_count), 4,
	     g->upper_count + 1);
	EDIT("total size", -EUCLEAN, HDR(h_total_size), 8, g->size + 4096);
	EDIT("node offset", -EUCLEAN, HDR(h_node_off), 8, 4096 + 8);
	EDIT("level-0 bytes", -EUCLEAN, HDR(h_level0_bytes), 8, 0);
	EDIT("upper offset", -EUCLEAN, HDR(h_upper_off), 8, 0);
	EDIT("level-0 record size", -EUCLEAN, HDR(h_level0_rec_size), 4,
	     g->level0_rec + 4);
	EDIT("upper per page", -EUCLEAN, HDR(h_upper_per_page), 4,
	     g->upper_per_page + 1);
	EDIT("header page padding", -EUCLEAN, 300, 1, 1);
#undef EDIT
	return n;
}

/* Node table entries, link records and page padding. */
static unsigned int body_edits(const struct vexfs_hnsw_graph *g,
			       const uint8_t *p, uint32_t high, uint32_t low,
			       struct edit *e)
{
	uint32_t last = g->node_count - 1, shorty = find_short_list(g);
	size_t r = rec_at(g, shorty, 0);
	unsigned int n = 0;

#define EDIT(w, er, o, sz, v) (e[n++] = (struct edit){ w, er, o, sz, v })
	EDIT("slots not increasing", -EUCLEAN, NODE(5, n_slot), 4,
	     vexfs_hnsw_slot(g, 4));
	EDIT("slot beyond max", -EUCLEAN, NODE(last, n_slot), 4,
	     2 * g->node_count);
	EDIT("node level > max", -EUCLEAN, NODE(3, n_level), 2,
	     g->max_level + 1);
	EDIT("node flags", -EUCLEAN, NODE(7, n_flags), 2, 1);
	EDIT("node reserved", -EUCLEAN, NODE(7, n_reserved), 4, 1);
	EDIT("node upper index", -EUCLEAN, NODE(high, n_upper), 4,
	     get_le(p, NODE(high, n_upper), 4) + 1);
	EDIT("node level raised", -EUCLEAN, NODE(low, n_level), 2, 1);
	EDIT("level-0 count", -EUCLEAN, rec_at(g, 10, 0), 4, g->m0 + 1);
	EDIT("level-0 link = count", -EUCLEAN, rec_at(g, 10, 0) + 4, 4,
	     g->node_count);
	EDIT("level-0 link = ~0", -EUCLEAN, rec_at(g, 10, 0) + 4, 4,
	     0xffffffff);
	EDIT("upper link to a level-0 node", -EUCLEAN, rec_at(g, high, 1) + 4,
	     4, low);
	EDIT("upper count", -EUCLEAN, rec_at(g, high, 1), 4, g->m + 1);
	EDIT("unused link", -EUCLEAN, r + 4 + 4 * get_le(p, r, 4), 4, 1);
	EDIT("node page padding", -EUCLEAN, node_at(g, last) + 16, 1, 1);
	EDIT("level-0 page padding", -EUCLEAN,
	     le64toh(g->hdr->h_level0_off) + VEXFS_HNSW_PAGE_SIZE - 1, 1, 1);
	EDIT("upper page padding", -EUCLEAN,
	     le64toh(g->hdr->h_upper_off) + VEXFS_HNSW_PAGE_SIZE - 1, 1, 1);
#undef EDIT
	return n;
}

static void test_edited(void **state)
{
	struct corrupt_fixture *f = *state;
	const struct vexfs_hnsw_graph *g = &f->bt.g;
	uint32_t max_slots = f->d.n * f->d.stride, high, low;
	struct edit e[64];
	unsigned int n, i;

	assert_true(g->node_count % VEXFS_HNSW_NODES_PER_PAGE != 0);
	assert_true(g->level0_per_page * g->level0_rec < VEXFS_HNSW_PAGE_SIZE);
	assert_true(g->upper_per_page * g->upper_rec < VEXFS_HNSW_PAGE_SIZE);
	find_levels(g, &high, &low);
	n = header_edits(g, low, e);
	n += body_edits(g, f->bt.buf, high, low, e + n);
	for (i = 0; i < n; i++) {
		uint8_t *p = aligned_copy(f->bt.buf, f->bt.len);

		assert_true(get_le(p, e[i].off, e[i].size) != e[i].value);
		put_le(p, e[i].off, e[i].size, e[i].value);
		expect_load(p, f->bt.len, max_slots, e[i].err, e[i].what);
		free(p);
	}

	/* Slot bound, alignment, no buffer. */
	expect_load(f->bt.buf, f->bt.len, max_slots - 2, -EUCLEAN, "max slots");
	{
		uint8_t *p = malloc(f->bt.len + 8);
		struct vexfs_hnsw_graph v;
		const char *why;

		memcpy(p + 4, f->bt.buf, f->bt.len);
		assert_int_equal(try_load(p + 4, f->bt.len, max_slots, &v, &why),
				 -EINVAL);
		assert_int_equal(try_load(NULL, 0, max_slots, &v, &why), -EINVAL);
		free(p);
	}
}

/* Nodes reached from the entry point, with their bitmap. */
static uint32_t reach(const struct vexfs_hnsw_graph *g, uint64_t **seen)
{
	uint32_t *queue = malloc((size_t)g->node_count * sizeof(*queue) + 4);
	uint32_t n;

	*seen = calloc(g->node_count / 64 + 1, sizeof(**seen));
	assert_non_null(queue);
	assert_non_null(*seen);
	n = vexfs_hnsw_reachable(g, *seen, queue);
	free(queue);
	return n;
}

/*
 * A built graph reaches every node from its entry point; the same graph
 * with every link removed still loads but reaches only the entry, so
 * coverage built on reachability trusts none of the other slots.
 */
static void test_reachable(void **state)
{
	struct corrupt_fixture *f = *state;
	struct vexfs_hnsw_graph g;
	const char *why;
	uint64_t *seen;
	uint8_t *p;
	uint32_t n, l;

	assert_int_equal(try_load(f->bt.buf, f->bt.len, 2 * f->d.n, &g, &why), 0);
	assert_int_equal(reach(&g, &seen), g.node_count);
	free(seen);

	p = aligned_copy(f->bt.buf, f->bt.len);
	assert_int_equal(try_load(p, f->bt.len, 2 * f->d.n, &g, &why), 0);
	for (n = 0; n < g.node_count; n++)
		for (l = 0; l <= vexfs_hnsw_level(&g, n); l++) {
			struct vexfs_hnsw_links *r =
				(struct vexfs_hnsw_links *)vexfs_hnsw_links(&g, n, l);

			memset(r, 0, l ? g.upper_rec : g.level0_rec);
		}
	assert_int_equal(try_load(p, f->bt.len, 2 * f->d.n, &g, &why), 0);
	assert_int_equal(reach(&g, &seen), 1);
	assert_true(vexfs_hnsw_seen(seen, g.entry));
	free(seen);
	free(p);
}

/* Every graph the builder writes reaches all of its nodes. */
static void test_builds_reach_all(void **state)
{
	static const uint32_t ms[] = { 2, 4, 16 };
	struct dataset d = { .n = 3000, .dim = 16, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	unsigned int i;

	(void)state;
	rng_seed(21);
	d.v = random_vectors(d.n, d.dim);
	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		struct built bt;
		uint64_t *seen;

		build(&bt, &d, ms[i], 20, 1, 5 + i);
		assert_int_equal(reach(&bt.g, &seen), d.n);
		free(seen);
		unbuild(&bt);
	}
	free(d.v);
}

struct progress_log {
	uint32_t calls, last, total;
	bool backwards;
};

static void log_progress(void *ctx, uint32_t done, uint32_t total)
{
	struct progress_log *l = ctx;

	l->backwards |= done < l->last;
	l->calls++;
	l->last = done;
	l->total = total;
}

/*
 * A build reports its progress from one thread, never backwards, about a
 * hundred times, the last report the whole: `index build` shows it.
 */
static void test_build_progress(void **state)
{
	struct dataset d = { .n = 2000, .dim = 8, .stride = 1,
			     .metric = VEXFS_METRIC_L2 };
	struct vexfs_hnsw_build_params p;
	struct vexfs_hnsw_builder *b;
	unsigned int threads;

	(void)state;
	rng_seed(31);
	d.v = random_vectors(d.n, d.dim);
	for (threads = 1; threads <= 4; threads *= 2) {
		struct progress_log l = { 0 };

		build_params(&p, &d, 8, 20, threads, 5);
		p.progress = log_progress;
		p.progress_ctx = &l;
		assert_int_equal(vexfs_hnsw_build(&p, NULL, d.n, &b), 0);
		assert_false(l.backwards);
		assert_int_equal(l.total, d.n);
		assert_in_range(l.calls, 2, 102);
		assert_int_equal(l.last, d.n);
		vexfs_hnsw_builder_free(b);
	}
	free(d.v);
}

/* Any graph the loader takes must be safe to search. */
static void search_loaded(struct corrupt_fixture *f,
			  const struct vexfs_hnsw_graph *g)
{
	struct vexfs_hnsw_result r[K];
	struct vexfs_hnsw_scratch s;
	size_t size = vexfs_hnsw_scratch_size(g, 32);
	void *mem = NULL;
	uint32_t i;
	int n;

	assert_int_equal(posix_memalign(&mem, 8, size), 0);
	assert_int_equal(vexfs_hnsw_scratch_init(&s, mem, size, g, 32), 0);
	for (i = 0; i < 4; i++) {
		struct vexfs_hnsw_query q = {
			.vector = f->qs + (size_t)i * f->d.dim, .k = K, .ef = 32,
			.distance = distance_for(f->d.metric),
			.vector_of = vector_of, .accept = accept, .ctx = &f->d,
		};

		n = vexfs_hnsw_search(g, &q, &s, r);
		assert_true(n >= 0 && n <= K);
	}
	free(mem);
}

static void test_random_damage(void **state)
{
	struct corrupt_fixture *f = *state;
	uint32_t max_slots = f->d.n * f->d.stride;
	uint32_t round, taken = 0, refused = 0;
	size_t header_zone = VEXFS_HNSW_HEADER_SIZE;
	size_t node_zone = le64toh(f->bt.g.hdr->h_node_bytes);

	rng_seed(12);
	for (round = 0; round < 3000; round++) {
		size_t len = f->bt.len, flips = 1 + rng_next() % 3, i;
		struct vexfs_hnsw_graph g;
		const char *why;
		uint8_t *p;

		if (round % 10 == 9)
			len = rng_next() % f->bt.len;
		p = aligned_copy(f->bt.buf, len);
		for (i = 0; i < flips && len; i++) {
			size_t at;

			switch (rng_next() % 4) {
			case 0:
				at = rng_next() % header_zone;
				break;
			case 1:
				at = VEXFS_HNSW_PAGE_SIZE + rng_next() % node_zone;
				break;
			default:
				at = rng_next() % len;
			}
			if (at < len)
				p[at] ^= (uint8_t)(1u << (rng_next() % 8));
		}
		if (try_load(p, len, max_slots, &g, &why) == 0) {
			taken++;
			search_loaded(f, &g);
		} else {
			refused++;
		}
		free(p);
	}
	print_message("    3000 damaged graphs: %u refused, %u loaded and searched\n",
		      refused, taken);
	assert_true(refused > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_recall),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_sift5k),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_early_exit_same),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_deleted),
		cmocka_unit_test(test_sq8_metrics),
		cmocka_unit_test(test_sq8_filtered),
		cmocka_unit_test(test_sq8_codes_only),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test_setup_teardown(test_truncated, corrupt_setup,
						corrupt_teardown),
		cmocka_unit_test_setup_teardown(test_reachable, corrupt_setup,
						corrupt_teardown),
		cmocka_unit_test(test_builds_reach_all),
		cmocka_unit_test(test_build_progress),
		cmocka_unit_test_setup_teardown(test_edited, corrupt_setup,
						corrupt_teardown),
		cmocka_unit_test_setup_teardown(test_random_damage,
						corrupt_setup, corrupt_teardown),
	};

	return cmocka_run_group_tests_name("hnsw", tests, NULL, NULL);
}
