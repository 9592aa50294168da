// SPDX-License-Identifier: GPL-2.0
/*
 * Index building: see indexer.h.
 *
 * The vectors are read in chunks; the change sequence of the FIRST chunk
 * is the one published. A slot changed while later chunks are read then
 * carries a newer sequence than the graph, so the kernel searches it
 * exactly instead of trusting the graph's (possibly older) view of it.
 *
 * The graph is built on SQ8 codes of the vectors (lib/vexfs_sq8.h) when
 * they resolve the data finely (vexfs_sq8_fine()): the kernel's float
 * search over it then finds what it finds over a graph built on the
 * floats, and the build is two to three times faster at hundreds of
 * dimensions (docs/benchmarks.md). Codes made coarse by an outlying value
 * would cost recall: those collections are built on the floats.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "lib/hnsw.h"
#include "lib/vexfs_sq8.h"
#include "indexer.h"
#include "libvexfs.h"
#include "vecio.h"

#define READ_CHUNK	4096u

struct snapshot {
	uint32_t dim;
	uint32_t metric;
	uint64_t nslots;
	uint64_t seq;
	uint64_t cap;			/* slots the arrays hold */
	float *vectors;			/* cap * dim */
	uint32_t *live;			/* slots holding a vector */
	uint32_t nlive;
	/* ---- the build's SQ8 codes of the live slots ---- */
	struct vexfs_sq8 sq8;
	float *lo, *hi;			/* the coding's range, dim each */
	uint8_t *codes;			/* cap * dim */
};

static void report(const struct libvexfs_index_params *p, const char *phase,
		   uint64_t done, uint64_t total)
{
	if (p->progress)
		p->progress(p->ctx, phase, done, total);
}

static int collection_shape(int dirfd, struct snapshot *s)
{
	struct libvexfs_collection_info c;
	int err = libvexfs_collection_info(dirfd, &c);

	if (err)
		return err;
	s->dim = c.dim;
	s->metric = c.metric;
	s->nslots = c.slots;
	return 0;
}

static int read_chunk(int dirfd, struct snapshot *s, uint64_t start,
		      uint64_t *inos, bool first)
{
	uint32_t i, returned;
	uint64_t seq;
	int err;

	err = libvexfs_read_vectors(dirfd, s->dim, start, READ_CHUNK, inos,
				    s->vectors + start * s->dim, &returned,
				    &seq);
	if (err)
		return err;
	if (first)
		s->seq = seq;
	for (i = 0; i < returned; i++)
		if (inos[i])
			s->live[s->nlive++] = start + i;
	return 0;
}

/* Read every slot; slots added after the shape was taken are left out. */
static int take_snapshot(int dirfd, const struct libvexfs_index_params *p,
			 struct snapshot *s)
{
	uint64_t *inos, start;
	int err;

	err = collection_shape(dirfd, s);
	if (err)
		return err;
	s->cap = s->nslots + READ_CHUNK;
	s->vectors = malloc(s->cap * s->dim * sizeof(float));
	s->live = malloc(s->cap * sizeof(uint32_t));
	inos = malloc(READ_CHUNK * sizeof(*inos));
	err = -ENOMEM;
	if (!s->vectors || !s->live || !inos)
		goto out;
	err = 0;
	for (start = 0; !err && start < s->nslots; start += READ_CHUNK) {
		err = read_chunk(dirfd, s, start, inos, start == 0);
		report(p, "read", start, s->nslots);
	}
out:
	free(inos);
	return err;
}

static void build_progress(void *ctx, uint32_t done, uint32_t total)
{
	report(ctx, "build", done, total);
}

static const float *snapshot_vector(void *ctx, uint32_t slot)
{
	const struct snapshot *s = ctx;

	return s->vectors + (size_t)slot * s->dim;
}

/* Are the codes fine enough to build on? Judged on evenly spread vectors. */
static int codes_fine(struct snapshot *s, const struct vexfs_sq8_trainer *t,
		      bool *fine)
{
	uint32_t n = s->nlive < VEXFS_SQ8_FINE_SAMPLE ? s->nlive :
		     VEXFS_SQ8_FINE_SAMPLE, i;
	const float **sample = malloc(n * sizeof(*sample));
	float *scratch = malloc(2 * n * sizeof(*scratch));

	if (!sample || !scratch) {
		free(sample);
		free(scratch);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		sample[i] = snapshot_vector(s, s->live[(uint64_t)i * s->nlive / n]);
	*fine = vexfs_sq8_fine(t, &s->sq8, sample, n, scratch);
	free(sample);
	free(scratch);
	return 0;
}

/*
 * Train a coding on the live vectors and, if it is fine enough to build
 * on, code them slot by slot; else leave s->codes NULL.
 */
static int code_snapshot(struct snapshot *s)
{
	struct vexfs_sq8_trainer t;
	bool fine;
	uint32_t i;
	int err;

	s->lo = malloc(s->dim * sizeof(float));
	s->hi = malloc(s->dim * sizeof(float));
	if (!s->lo || !s->hi)
		return -ENOMEM;
	vexfs_sq8_train_begin(&t, s->dim, s->metric, s->lo, s->hi);
	for (i = 0; i < s->nlive; i++)
		vexfs_sq8_train_add(&t, snapshot_vector(s, s->live[i]));
	vexfs_sq8_train_end(&t, &s->sq8);
	err = codes_fine(s, &t, &fine);
	if (err || !fine)
		return err;
	s->codes = calloc(s->cap, s->dim);
	if (!s->codes)
		return -ENOMEM;
	for (i = 0; i < s->nlive; i++)
		vexfs_sq8_encode(&s->sq8, snapshot_vector(s, s->live[i]),
				 s->codes + (size_t)s->live[i] * s->dim);
	return 0;
}

static int publish(int dirfd, const struct vexfs_hnsw_builder *b,
		   const struct snapshot *s, uint64_t *bytes)
{
	size_t len = vexfs_hnsw_serialized_size(b);
	void *buf = malloc(len);
	int err;

	if (!buf)
		return -ENOMEM;
	err = vexfs_hnsw_serialize(b, buf, len);
	if (!err)
		err = libvexfs_index_publish(dirfd, buf, len, s->seq);
	*bytes = len;
	free(buf);
	return err;
}

static void snapshot_free(struct snapshot *s)
{
	free(s->vectors);
	free(s->live);
	free(s->lo);
	free(s->hi);
	free(s->codes);
}

/*
 * Build over the snapshot's live slots, on codes when they are fine
 * enough; st gets the build's share of the figures.
 */
static int build_snapshot(struct snapshot *s,
			  const struct libvexfs_index_params *p,
			  struct vexfs_hnsw_builder **b,
			  struct libvexfs_index_stats *st)
{
	struct vexfs_hnsw_build_params bp;
	double t0 = monotonic_seconds();
	int err;

	err = code_snapshot(s);		/* part of the build */
	if (err)
		return err;
	vexfs_hnsw_build_defaults(&bp);
	bp.dim = s->dim;
	bp.metric = s->metric;
	if (p->m)
		bp.m = p->m;
	if (p->ef_construction)
		bp.ef_construction = p->ef_construction;
	bp.keep_pruned = p->keep_pruned;
	bp.threads = p->threads ? p->threads : (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	bp.seed = p->seed;
	bp.vector_of = snapshot_vector;
	bp.ctx = s;
	if (s->codes) {
		bp.sq8 = &s->sq8;
		bp.codes = s->codes;
	}
	bp.progress = build_progress;
	bp.progress_ctx = (void *)p;
	report(p, "build", 0, s->nlive);
	err = vexfs_hnsw_build(&bp, s->live, s->nlive, b);
	st->vectors = s->nlive;
	st->seq = s->seq;
	st->build_seconds = monotonic_seconds() - t0;
	st->on_codes = s->codes != NULL;
	return err;
}

int libvexfs_index_build(int dirfd, const struct libvexfs_index_params *p,
			 struct libvexfs_index_stats *st)
{
	struct vexfs_hnsw_builder *b = NULL;
	struct snapshot s = { 0 };
	double t0 = monotonic_seconds(), t1;
	int err;

	memset(st, 0, sizeof(*st));
	err = take_snapshot(dirfd, p, &s);
	if (err || !s.nlive)
		goto out;
	st->read_seconds = monotonic_seconds() - t0;
	err = build_snapshot(&s, p, &b, st);
	if (err)
		goto out;
	t1 = monotonic_seconds();
	report(p, "publish", 0, 1);
	err = publish(dirfd, b, &s, &st->graph_bytes);
	st->publish_seconds = monotonic_seconds() - t1;
out:
	if (!err && !s.nlive)
		err = -ENODATA;
	vexfs_hnsw_builder_free(b);
	snapshot_free(&s);
	return err;
}

/* Read every row of data as slots 0..rows-1, all live. */
static int read_rows(struct vecio *v, unsigned int metric,
		     const struct libvexfs_index_params *p, struct snapshot *s)
{
	uint64_t done = 0;
	ssize_t got;

	if (v->elem != VECIO_FLOAT32)
		return -EINVAL;
	if (!v->rows || v->rows > UINT32_MAX)
		return v->rows ? -E2BIG : -ENODATA;
	s->dim = v->dim;
	s->metric = metric;
	s->nslots = s->cap = v->rows;
	s->vectors = malloc(s->cap * s->dim * sizeof(float));
	s->live = malloc(s->cap * sizeof(uint32_t));
	if (!s->vectors || !s->live)
		return -ENOMEM;
	while (done < v->rows) {
		got = vecio_read(v, s->vectors + done * s->dim, READ_CHUNK);
		if (got <= 0)
			return got ? (int)got : -EIO;
		done += got;
		report(p, "read", done, v->rows);
	}
	for (s->nlive = 0; s->nlive < s->cap; s->nlive++)
		s->live[s->nlive] = s->nlive;
	return 0;
}

int libvexfs_index_build_rows(struct vecio *v, unsigned int metric,
			      const struct libvexfs_index_params *p,
			      void **graph, uint64_t *len,
			      struct libvexfs_index_stats *st)
{
	struct vexfs_hnsw_builder *b = NULL;
	struct snapshot s = { 0 };
	double t0 = monotonic_seconds();
	int err;

	memset(st, 0, sizeof(*st));
	*graph = NULL;
	err = read_rows(v, metric, p, &s);
	if (err)
		goto out;
	st->read_seconds = monotonic_seconds() - t0;
	err = build_snapshot(&s, p, &b, st);
	if (err)
		goto out;
	*len = vexfs_hnsw_serialized_size(b);
	*graph = malloc(*len);
	err = *graph ? vexfs_hnsw_serialize(b, *graph, *len) : -ENOMEM;
	st->graph_bytes = *len;
	if (err) {
		free(*graph);
		*graph = NULL;
	}
out:
	vexfs_hnsw_builder_free(b);
	snapshot_free(&s);
	return err;
}

int libvexfs_index_codes_match(const struct vexfs_hnsw_graph *g, uint32_t first,
			       const float *rows, uint32_t n, uint32_t *bad)
{
	struct vexfs_sq8 sq8 = { .dim = g->dim, .metric = g->metric };
	float *lo;
	uint8_t *code;
	uint64_t missing;
	uint32_t i;
	int err = 0;

	if (!g->codes_per_page)
		return 0;
	if ((uint64_t)first + n > g->node_count)
		return -EINVAL;
	lo = malloc(g->dim * sizeof(float));
	code = malloc(g->dim);
	if (!lo || !code) {
		err = -ENOMEM;
		goto out;
	}
	err = vexfs_hnsw_sq8_params(g, lo, &sq8.step, &missing);
	if (err)
		goto out;
	vexfs_sq8_set_lo(&sq8, lo);
	for (i = 0; i < n && !err; i++) {
		vexfs_sq8_encode(&sq8, rows + (size_t)i * g->dim, code);
		if (memcmp(code, vexfs_hnsw_code(g, first + i), g->dim)) {
			*bad = i;
			err = -EINVAL;
		}
	}
out:
	free(lo);
	free(code);
	return err;
}
