// SPDX-License-Identifier: GPL-2.0
/*
 * hnswioctl: HNSW search through the kernel's search ioctl against the
 * same lib/ search in userspace, on the same graph and the same queries
 * (run in the guest by run-hnswioctl.sh; under TCG only the ratio means
 * anything).
 *
 *   hnswioctl --mnt DIR --base BASE.fvecs --query QUERY.fvecs
 *             [--metric l2|ip|cosine] [--graph FILE] [--ef E[,E...]] [-k K]
 *             [--queries Q] [--rounds R] [--name NAME] [--json FILE]
 *             [--delete-share F [--graph-after FILE]]
 *   hnswioctl --write-graph FILE --base BASE.fvecs [--metric M]
 *             [--delete-share F]
 *
 * Makes a collection DIR/NAME, batch-inserts the base vectors, reads them
 * back slot by slot (libvexfs_read_vectors, as vexfsd does), builds the
 * graph with lib/'s builder (M 16, efConstruction 200), serializes it and
 * publishes that buffer (libvexfs_index_publish). The same buffer is
 * loaded in this process with vexfs_hnsw_load(). Then for each ef, R
 * rounds, turn about: all queries through the ioctl (k results, that ef),
 * then all queries through vexfs_hnsw_search() with the same distance
 * function the kernel picks, over the vectors read back. The best round of
 * each counts; the answers are compared query by query.
 *
 * Building a large graph under TCG takes long, so --write-graph builds it
 * natively over the rows in file order and writes it out, and --graph
 * publishes that file instead of building in place: a fresh collection
 * fills slots in insertion order, and every slot's vector is checked
 * against its row before the graph is used.
 *
 * Recall: each ef's answers are also scored against the kernel's exact
 * search (VEXFS_SEARCH_EXACT), recall@k. --delete-share F then deletes the
 * files of a fixed pseudo-random share F of the rows, scores the default
 * ef on the stale graph, and, with --graph-after, publishes that graph
 * (written by --write-graph with the same --delete-share: built over the
 * rows kept) and scores it again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "uapi/vexfs.h"

#include "hnsw.h"
#include "libvexfs/libvexfs.h"
#include "vexfs_distance.h"
#include "vexfs_sq8.h"
#include "vexfs_topk.h"

#define MAX_EFS		16
#define READ_CHUNK	1000u

struct options {
	const char *mnt, *base, *query, *name, *json;
	const char *graph, *write_graph, *graph_after;
	double delete_share;
	uint32_t dim_of_queries;		/* set once the files are read */
	unsigned int metric;
	uint32_t efs[MAX_EFS], nef;
	uint32_t k, max_queries, rounds;
};

/* The collection as read back: vectors and inode by slot. */
struct collection {
	uint32_t dim, metric;
	uint64_t nslots, seq;
	float *vectors;
	uint64_t *inos;
	uint32_t *live;
	uint32_t nlive;
	/* The SQ8 codes the module walks on, where they are fine. */
	bool coded;
	struct vexfs_sq8 sq8;
	float *lo, *hi;
	uint8_t *codes;			/* nslots * dim */
};


struct point {
	uint32_t ef;
	double recall;			/* of the ioctl, against the exact ioctl */
	double ioctl_s, user_s;		/* all queries, best round */
	double one_call_s;		/* all queries in one ioctl, best round */
	double threads_s;		/* in one ioctl per CPU, in parallel */
	uint32_t one_call_same;		/* queries one call answered as nq calls did */
	uint32_t threads_same;		/* and the calls in parallel */
	uint32_t agree;			/* queries with the same ids in order */
	uint32_t same_set;		/* queries with the same set of ids */
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hnswioctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		die("out of memory (%zu bytes)", size);
	return p;
}

/* A texmex .fvecs file: records of an int32 dimension and dim floats. */
static float *read_fvecs(const char *path, uint32_t *dim, uint32_t *n)
{
	FILE *f = fopen(path, "rb");
	int32_t d;
	long len;
	size_t rec, i;
	float *out;

	if (!f)
		die("%s: %s", path, strerror(errno));
	if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > VEXFS_MAX_DIM)
		die("%s: not an .fvecs file", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rec = 4 + 4 * (size_t)d;
	if (len <= 0 || len % rec)
		die("%s: not an .fvecs file", path);
	*dim = d;
	*n = len / rec;
	out = xmalloc((size_t)*n * d * sizeof(float));
	for (i = 0; i < *n; i++) {
		fseek(f, i * rec + 4, SEEK_SET);
		if (fread(out + i * d, sizeof(float), d, f) != (size_t)d)
			die("%s: short read", path);
	}
	fclose(f);
	return out;
}

/* Whether row i is among the deleted share: the same rule on both sides. */
static bool row_deleted(uint32_t i, double share)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (z >> 11) * 0x1p-53 < share;
}

static void insert_all(int dirfd, const float *base, uint32_t n, uint32_t dim)
{
	uint64_t ids[READ_CHUNK];
	uint32_t at, count, i, bad;
	int err;

	for (at = 0; at < n; at += count) {
		count = n - at < READ_CHUNK ? n - at : READ_CHUNK;
		for (i = 0; i < count; i++)
			ids[i] = (uint64_t)at + i + 1;	/* ids from 1 */
		err = libvexfs_batch_insert(dirfd, ids, base + (size_t)at * dim,
					    NULL, count, dim, 0, &bad);
		if (err)
			die("batch insert at row %u: %s", at + bad, strerror(-err));
	}
}

/* Every slot's vector and inode, as an index builder reads them. */
static void read_back(int dirfd, struct collection *c)
{
	struct libvexfs_collection_info info;
	uint64_t start;
	int err;

	err = libvexfs_collection_info(dirfd, &info);
	if (err)
		die("collection info: %s", strerror(-err));
	c->dim = info.dim;
	c->metric = info.metric;
	c->nslots = info.slots;
	c->vectors = xmalloc((c->nslots + READ_CHUNK) * c->dim * sizeof(float));
	c->inos = xmalloc((c->nslots + READ_CHUNK) * sizeof(uint64_t));
	c->live = xmalloc(c->nslots * sizeof(uint32_t));
	for (start = 0; start < c->nslots; start += READ_CHUNK) {
		uint32_t i, returned;
		uint64_t seq;

		err = libvexfs_read_vectors(dirfd, c->dim, start, READ_CHUNK,
					    c->inos + start,
					    c->vectors + start * c->dim,
					    &returned, &seq);
		if (err)
			die("read vectors: %s", strerror(-err));
		if (start == 0)
			c->seq = seq;
		for (i = 0; i < returned; i++)
			if (c->inos[start + i])
				c->live[c->nlive++] = start + i;
	}
}

static const float *slot_vector(void *ctx, uint32_t slot)
{
	const struct collection *c = ctx;

	return c->vectors + (size_t)slot * c->dim;
}

/*
 * Code c's live vectors as the indexer does: trained on them all, used
 * only if vexfs_sq8_fine() says so over evenly spread ones. The graph is
 * then built on the codes and carries them, and the module walks those
 * from the page cache; a graph built on floats (an older --graph file)
 * the module walks on codes it makes the same way (kmod/index_walk.c).
 */
static void code_collection(struct collection *c)
{
	uint32_t n = c->nlive < VEXFS_SQ8_FINE_SAMPLE ? c->nlive :
		     VEXFS_SQ8_FINE_SAMPLE, i;
	const float **sample = xmalloc((n ? n : 1) * sizeof(*sample));
	float *scratch = xmalloc((n ? 2 * n : 1) * sizeof(*scratch));
	struct vexfs_sq8_trainer t;

	c->lo = xmalloc(c->dim * sizeof(float));
	c->hi = xmalloc(c->dim * sizeof(float));
	vexfs_sq8_train_begin(&t, c->dim, c->metric, c->lo, c->hi);
	for (i = 0; i < c->nlive; i++)
		vexfs_sq8_train_add(&t, slot_vector(c, c->live[i]));
	vexfs_sq8_train_end(&t, &c->sq8);
	for (i = 0; i < n; i++)
		sample[i] = slot_vector(c, c->live[(uint64_t)i * c->nlive / n]);
	c->coded = !c->nlive || vexfs_sq8_fine(&t, &c->sq8, sample, n, scratch);
	if (c->coded) {
		c->codes = xmalloc(c->nslots ? c->nslots * c->dim : 1);
		for (i = 0; i < c->nlive; i++)
			vexfs_sq8_encode(&c->sq8, slot_vector(c, c->live[i]),
					 c->codes + (size_t)c->live[i] * c->dim);
	}
	free(sample);
	free(scratch);
}

/* Build over c's live slots and serialize into *buf; returns its bytes. */
static size_t build_graph(struct collection *c, void **buf, double *build_s)
{
	struct vexfs_hnsw_build_params p;
	struct vexfs_hnsw_builder *b;
	double t = now_s();
	size_t len;
	int err;

	vexfs_hnsw_build_defaults(&p);
	p.dim = c->dim;
	p.metric = c->metric;
	p.threads = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	p.vector_of = slot_vector;
	p.ctx = c;
	if (c->coded) {			/* as the indexer builds */
		p.sq8 = &c->sq8;
		p.codes = c->codes;
	}
	err = vexfs_hnsw_build(&p, c->live, c->nlive, &b);
	if (err)
		die("build: %s", strerror(-err));
	*build_s = now_s() - t;
	len = vexfs_hnsw_serialized_size(b);
	if (posix_memalign(buf, 4096, len))
		die("out of memory");
	err = vexfs_hnsw_serialize(b, *buf, len);
	vexfs_hnsw_builder_free(b);
	if (err)
		die("serialize: %s", strerror(-err));
	return len;
}

static void publish(int dirfd, const struct collection *c, void *buf,
		    size_t len)
{
	int err = libvexfs_index_publish(dirfd, buf, len, c->seq);

	if (err)
		die("publish: %s", strerror(-err));
}

/* --write-graph: the rows of base as slots 0..n-1, built natively. */
static void write_graph(const struct options *o)
{
	struct collection c = { .metric = o->metric };
	uint32_t n, i;
	double build_s;
	size_t len;
	void *buf;
	FILE *f;

	c.vectors = read_fvecs(o->base, &c.dim, &n);
	c.nslots = n;
	c.live = xmalloc(n * sizeof(uint32_t));
	for (i = 0; i < n; i++)
		if (!row_deleted(i, o->delete_share))
			c.live[c.nlive++] = i;
	code_collection(&c);
	len = build_graph(&c, &buf, &build_s);
	f = fopen(o->write_graph, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		die("%s: %s", o->write_graph, strerror(errno));
	printf("hnswioctl: %u of %u x %u rows, graph %.2f MiB, built in %.1f s, "
	       "written to %s\n", c.nlive, n, c.dim, len / 1048576.0, build_s,
	       o->write_graph);
}

/* --graph: the file, after checking that slot i holds row i. */
static size_t read_graph(const char *path, const struct collection *c,
			 const float *base, uint32_t n, double share, void **buf)
{
	size_t row = (size_t)c->dim * sizeof(float), len;
	uint32_t i;
	long end;
	FILE *f;

	if (c->nslots != n)
		die("%s: the collection has %llu slots for %u rows", path,
		    (unsigned long long)c->nslots, n);
	for (i = 0; i < n; i++) {
		bool gone = row_deleted(i, share);

		if (gone != !c->inos[i] ||
		    (!gone && memcmp(c->vectors + (size_t)i * c->dim,
				     base + (size_t)i * c->dim, row)))
			die("%s: slot %u does not hold row %u; build in place", path, i, i);
	}
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (end = ftell(f)) <= 0)
		die("%s: %s", path, strerror(errno));
	len = end;
	rewind(f);
	if (posix_memalign(buf, 4096, len) || fread(*buf, 1, len, f) != len)
		die("%s: short read", path);
	fclose(f);
	return len;
}

/* The exact answers through the ioctl, as sorted inode numbers. */
static void exact_answers(int dirfd, const float *queries, uint32_t nq,
			  uint32_t dim, uint32_t k, uint64_t *inos)
{
	struct vexfs_search_result res[VEXFS_MAX_K];
	struct libvexfs_search_opts o = { .flags = VEXFS_SEARCH_EXACT };
	uint32_t q, i, count;
	int err;

	for (q = 0; q < nq; q++) {
		err = libvexfs_search_opt(dirfd, queries + (size_t)q * dim, dim, k,
					  NULL, &o, res, &count, NULL);
		if (err)
			die("exact search: %s", strerror(-err));
		for (i = 0; i < k; i++)
			inos[(size_t)q * k + i] = i < count ? res[i].ino : 0;
	}
}

/* Recall@k of got against want, both nq lists of k inode numbers. */
static double recall_of(const uint64_t *want, const uint64_t *got,
			uint32_t nq, uint32_t k)
{
	uint64_t hits = 0, total = 0;
	uint32_t q, i, j;

	for (q = 0; q < nq; q++)
		for (i = 0; i < k; i++) {
			uint64_t w = want[(size_t)q * k + i];

			if (!w)
				continue;
			total++;
			for (j = 0; j < k; j++)
				hits += got[(size_t)q * k + j] == w;
		}
	return total ? (double)hits / total : 1.0;
}

static double time_ioctl(int dirfd, const float *queries, uint32_t nq,
			 uint32_t dim, uint32_t k, uint32_t ef, uint64_t *inos)
{
	struct vexfs_search_result res[VEXFS_MAX_K];
	struct libvexfs_search_opts o = { .ef = ef };
	double t = now_s();
	uint32_t q, i, count;
	int err;

	for (q = 0; q < nq; q++) {
		err = libvexfs_search_opt(dirfd, queries + (size_t)q * dim, dim, k,
					  NULL, &o, res, &count, NULL);
		if (err)
			die("search ioctl: %s", strerror(-err));
		for (i = 0; i < k; i++)
			inos[(size_t)q * k + i] = i < count ? res[i].ino : 0;
	}
	return now_s() - t;
}

/* The same queries as time_ioctl(), all answered by one call. */
/* Sectors the block device has read, from its stat file; 0 if unknown. */
static uint64_t sectors_read(const char *stat_path)
{
	unsigned long long ios, merges, sectors = 0;
	FILE *f = fopen(stat_path, "r");

	if (f) {
		if (fscanf(f, "%llu %llu %llu", &ios, &merges, &sectors) != 3)
			sectors = 0;
		fclose(f);
	}
	return sectors;
}

/* Write back and drop the page cache; false if this process may not. */
static bool drop_caches(void)
{
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (!f)
		return false;
	return fputs("3\n", f) >= 0 && !fclose(f);
}

/*
 * Blocks the device reads per query at the default ef, each query run
 * with the caches just dropped: the vectors the walk's best candidates
 * are re-ranked with, and the inodes of the results (the collection and
 * its index stay loaded: dirfd holds the directory). Negative when the
 * caches cannot be dropped.
 */
static double cold_blocks_per_query(int dirfd, const float *queries,
				    uint32_t nq, uint32_t dim, uint32_t k,
				    uint64_t *inos)
{
	char stat_path[64];
	uint64_t sectors = 0, before;
	struct stat st;
	uint32_t q;

	if (fstat(dirfd, &st))
		return -1;
	snprintf(stat_path, sizeof(stat_path), "/sys/dev/block/%u:%u/stat",
		 major(st.st_dev), minor(st.st_dev));
	for (q = 0; q < nq; q++) {
		if (!drop_caches())
			return -1;
		before = sectors_read(stat_path);
		time_ioctl(dirfd, queries + (size_t)q * dim, 1, dim, k, 0, inos);
		sectors += sectors_read(stat_path) - before;
	}
	return sectors * 512.0 / 4096 / nq;
}

static double time_one_call(int dirfd, const float *queries, uint32_t nq,
			    uint32_t dim, uint32_t k, uint32_t ef, uint32_t threads,
			    uint64_t *inos)
{
	struct vexfs_search_result *res = xmalloc((size_t)nq * k * sizeof(*res));
	uint32_t *counts = xmalloc((size_t)nq * sizeof(*counts));
	struct libvexfs_search_out out = { .results = res, .counts = counts };
	struct libvexfs_search_opts o = { .ef = ef, .threads = threads };
	double t = now_s(), elapsed;
	uint32_t q, i;
	int err;

	err = libvexfs_search_many(dirfd, queries, nq, dim, k, NULL, &o, &out);
	elapsed = now_s() - t;
	if (err)
		die("one-call search ioctl: %s", strerror(-err));
	for (q = 0; q < nq; q++)
		for (i = 0; i < k; i++)
			inos[(size_t)q * k + i] = i < counts[q] ? res[(size_t)q * k + i].ino : 0;
	free(res);
	free(counts);
	return elapsed;
}

/* Queries whose k answers are the same, in the same order, in a and b. */
static uint32_t same_answers(const uint64_t *a, const uint64_t *b, uint32_t nq,
			     uint32_t k)
{
	uint32_t q, same = 0;

	for (q = 0; q < nq; q++)
		same += !memcmp(a + (size_t)q * k, b + (size_t)q * k, k * sizeof(*a));
	return same;
}

/*
 * The module's re-rank (kmod/search.c): the walk's candidates enter the top
 * k by their exact distances, the vectors read back from the collection.
 */
static int rerank(const struct collection *c, vexfs_distance_fn distance,
		  const float *query, const struct vexfs_hnsw_result *cand,
		  int n, uint32_t k, struct vexfs_hnsw_result *res)
{
	struct vexfs_topk_entry heap[VEXFS_MAX_K];
	struct vexfs_topk top;
	int i;

	vexfs_topk_init(&top, heap, k);
	for (i = 0; i < n; i++) {
		const float *v = c->vectors + (size_t)cand[i].slot * c->dim;

		vexfs_topk_push(&top, cand[i].slot, distance(query, v, c->dim));
	}
	n = (int)vexfs_topk_extract(&top);
	for (i = 0; i < n; i++) {
		res[i].slot = (uint32_t)heap[i].id;
		res[i].dist = heap[i].dist;
	}
	return n;
}

/*
 * The same search in userspace, walked as the module walks: on codes alone
 * (no vector at hand) for the ef best by estimate, then re-ranked, where
 * the module walks codes; else on the floats.
 */
static double time_user(const struct vexfs_hnsw_graph *g,
			struct vexfs_hnsw_scratch *s, struct collection *c,
			const float *queries, uint32_t nq, uint32_t k,
			uint32_t ef, uint64_t *inos)
{
	const struct vexfs_distance_ops *ops =
		vexfs_distance_select(vexfs_cpu_flags_native());
	const struct vexfs_sq8_ops *sq8_ops =
		vexfs_sq8_select(vexfs_cpu_flags_native());
	uint32_t want = c->coded && ef > k ? ef : k;
	struct vexfs_hnsw_result *cand = xmalloc(want * sizeof(*cand));
	struct vexfs_hnsw_result res[VEXFS_MAX_K];
	struct vexfs_hnsw_query hq = {
		.k = want,
		.ef = ef,
		.distance = vexfs_distance_fn_of(ops, c->metric),
		.ops = ops,
		.vectors = c->coded ? NULL : c->vectors,
		.codes = g->codes_per_page ? NULL : c->codes,
		.ctx = c,
	};
	int16_t *qcode = xmalloc(c->dim * sizeof(*qcode));
	struct vexfs_sq8_query cq;
	double t = now_s();
	uint32_t q;
	int i, n;

	for (q = 0; q < nq; q++) {
		hq.vector = queries + (size_t)q * c->dim;
		if (c->coded) {
			vexfs_sq8_query_init(&cq, &c->sq8, sq8_ops, hq.vector,
					     qcode);
			hq.sq8 = &cq;
		}
		n = vexfs_hnsw_search(g, &hq, s, c->coded ? cand : res);
		if (n < 0)
			die("userspace search: %s", strerror(-n));
		if (c->coded)
			n = rerank(c, hq.distance, hq.vector, cand, n, k, res);
		for (i = 0; i < (int)k; i++)
			inos[(size_t)q * k + i] = i < n ? c->inos[res[i].slot] : 0;
	}
	t = now_s() - t;
	free(qcode);
	free(cand);
	return t;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void compare(struct point *p, uint64_t *a, uint64_t *b, uint32_t nq,
		    uint32_t k)
{
	uint32_t q;

	p->agree = p->same_set = 0;
	for (q = 0; q < nq; q++) {
		uint64_t *x = a + (size_t)q * k, *y = b + (size_t)q * k;

		p->agree += !memcmp(x, y, k * sizeof(*x));
		qsort(x, k, sizeof(*x), cmp_u64);
		qsort(y, k, sizeof(*y), cmp_u64);
		p->same_set += !memcmp(x, y, k * sizeof(*x));
	}
}

static void usage(int status)
{
	fputs("usage: hnswioctl --mnt DIR --base BASE.fvecs --query QUERY.fvecs\n"
	      "                 [--metric l2|ip|cosine] [--graph FILE] [--ef E[,E...]] [-k K]\n"
	      "                 [--queries Q] [--rounds R] [--name NAME] [--json FILE]\n"
	      "       hnswioctl --write-graph FILE --base BASE.fvecs [--metric l2|ip|cosine]\n",
	      status ? stderr : stdout);
	exit(status);
}

static uint32_t parse_u32(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !v || v > 1000000)
		die("%s wants a positive number, not '%s'", what, s);
	return (uint32_t)v;
}

static void parse_efs(struct options *o, char *list)
{
	char *tok, *save;

	o->nef = 0;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nef == MAX_EFS)
			die("--ef takes at most %d values", MAX_EFS);
		o->efs[o->nef++] = parse_u32(tok, "--ef");
	}
	if (!o->nef)
		die("--ef wants a list such as 16,64,128");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "mnt", required_argument, NULL, 'm' },
		{ "base", required_argument, NULL, 'b' },
		{ "query", required_argument, NULL, 'Q' },
		{ "metric", required_argument, NULL, 'M' },
		{ "ef", required_argument, NULL, 'e' },
		{ "queries", required_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "graph", required_argument, NULL, 'G' },
		{ "write-graph", required_argument, NULL, 'W' },
		{ "graph-after", required_argument, NULL, 'A' },
		{ "delete-share", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, metric;

	while ((c = getopt_long(argc, argv, "m:b:Q:M:e:k:q:r:n:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': o->mnt = optarg; break;
		case 'b': o->base = optarg; break;
		case 'Q': o->query = optarg; break;
		case 'M':
			metric = libvexfs_metric_parse(optarg);
			if (metric < 0)
				die("--metric wants l2, ip or cosine");
			o->metric = (unsigned int)metric;
			break;
		case 'e': parse_efs(o, optarg); break;
		case 'k': o->k = parse_u32(optarg, "-k"); break;
		case 'q': o->max_queries = parse_u32(optarg, "--queries"); break;
		case 'r': o->rounds = parse_u32(optarg, "--rounds"); break;
		case 'n': o->name = optarg; break;
		case 'j': o->json = optarg; break;
		case 'G': o->graph = optarg; break;
		case 'W': o->write_graph = optarg; break;
		case 'A': o->graph_after = optarg; break;
		case 'D':
			o->delete_share = strtod(optarg, NULL);
			if (!(o->delete_share > 0 && o->delete_share < 1))
				die("--delete-share wants a fraction between 0 and 1");
			break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (o->write_graph && o->base && optind == argc)
		return;
	if (!o->mnt || !o->base || !o->query || optind != argc)
		usage(2);
	if (o->k > VEXFS_MAX_K)
		die("-k at most %u", VEXFS_MAX_K);
}

struct after_delete {
	uint32_t deleted;
	double stale_recall;		/* default ef, graph from before */
	double rebuilt_recall;		/* default ef, --graph-after; <0: none */
};

static void print_json(FILE *f, const struct options *o, const struct collection *c,
		       uint32_t nq, size_t graph_len, double build_s,
		       double cold_blocks, const struct point *pts,
		       const struct after_delete *del)
{
	uint32_t i;

	fprintf(f, "{\"bench\":\"hnswioctl\",\"name\":\"%s\",\"n\":%u,\"dim\":%u,"
		"\"metric\":\"%s\",\"queries\":%u,\"k\":%u,\"rounds\":%u,"
		"\"graph_bytes\":%zu,\"build_s\":%.3f,\"graph_built\":\"%s\","
		"\"walk\":\"%s\",\"cold_blocks_per_query\":%.2f,"
		"\"points\":[", o->name, c->nlive, c->dim,
		libvexfs_metric_name(c->metric), nq, o->k, o->rounds, graph_len,
		build_s, o->graph ? "natively" : "in place",
		c->coded ? "codes" : "floats", cold_blocks);
	for (i = 0; i < o->nef; i++)
		fprintf(f, "%s{\"ef\":%u,\"recall\":%.4f,\"ioctl_s\":%.6f,"
			"\"user_s\":%.6f,\"ratio_ioctl_over_user\":%.4f,"
			"\"same_order\":%u,\"same_set\":%u,\"one_call_s\":%.6f,"
			"\"calls_over_one_call\":%.4f,\"one_call_same\":%u,"
			"\"parallel_s\":%.6f,\"calls_over_parallel\":%.4f,"
			"\"parallel_same\":%u}", i ? "," : "",
			pts[i].ef, pts[i].recall, pts[i].ioctl_s, pts[i].user_s,
			pts[i].ioctl_s / pts[i].user_s, pts[i].agree,
			pts[i].same_set, pts[i].one_call_s,
			pts[i].ioctl_s / pts[i].one_call_s, pts[i].one_call_same,
			pts[i].threads_s, pts[i].ioctl_s / pts[i].threads_s,
			pts[i].threads_same);
	fputs("]", f);
	if (del->deleted)
		fprintf(f, ",\"after_delete\":{\"deleted\":%u,\"stale_recall\":%.4f,"
			"\"rebuilt_recall\":%.4f}", del->deleted,
			del->stale_recall, del->rebuilt_recall);
	fputs("}\n", f);
}

/*
 * Delete the share's files, score the default ef on the graph from before,
 * then publish --graph-after (built over the rows kept) and score again.
 */
static void delete_and_measure(const struct options *o, int dirfd,
			       const char *dir, const float *queries,
			       uint32_t nq, const float *base, uint32_t n,
			       uint64_t *exact, uint64_t *got,
			       struct after_delete *del)
{
	struct collection c = { 0 };
	char file[4200];
	size_t len;
	void *buf;
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!row_deleted(i, o->delete_share))
			continue;
		snprintf(file, sizeof(file), "%s/%u", dir, i + 1);
		if (unlink(file))
			die("%s: %s", file, strerror(errno));
		del->deleted++;
	}
	exact_answers(dirfd, queries, nq, o->dim_of_queries, o->k, exact);
	time_ioctl(dirfd, queries, nq, o->dim_of_queries, o->k, 0, got);
	del->stale_recall = recall_of(exact, got, nq, o->k);
	printf("  %u files deleted: recall@%u at the default ef %.4f on the graph "
	       "from before\n", del->deleted, o->k, del->stale_recall);
	if (!o->graph_after)
		return;
	read_back(dirfd, &c);
	len = read_graph(o->graph_after, &c, base, n, o->delete_share, &buf);
	publish(dirfd, &c, buf, len);
	time_ioctl(dirfd, queries, nq, o->dim_of_queries, o->k, 0, got);
	del->rebuilt_recall = recall_of(exact, got, nq, o->k);
	printf("  and %.4f on a graph of the %u rows kept (%s)\n",
	       del->rebuilt_recall, c.nlive, o->graph_after);
	free(buf);
}

int main(int argc, char **argv)
{
	struct options o = {
		.metric = VEXFS_METRIC_L2, .efs = { 16, 64, 128 }, .nef = 3,
		.k = 10, .max_queries = 100, .rounds = 5, .name = "hnswioctl",
	};
	struct collection c = { 0 };
	struct point pts[MAX_EFS] = { 0 };
	struct after_delete del = { .rebuilt_recall = -1 };
	struct vexfs_hnsw_graph g;
	struct vexfs_hnsw_scratch s;
	uint32_t dim, qdim, n, nq, i, r, ef_max = 0;
	uint64_t *ino_k, *ino_u, *ino_x, *ino_1, *ino_t;
	uint32_t cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	char path[4096];
	double build_s, cold_blocks;
	size_t graph_len, scratch_len;
	float *base, *queries;
	const char *why = NULL;
	void *buf, *mem;
	int dirfd, err;
	FILE *f;

	parse_options(argc, argv, &o);
	if (o.write_graph) {
		write_graph(&o);
		return 0;
	}
	base = read_fvecs(o.base, &dim, &n);
	queries = read_fvecs(o.query, &qdim, &nq);
	if (qdim != dim)
		die("queries have %u dimensions, the base %u", qdim, dim);
	o.dim_of_queries = dim;
	nq = nq < o.max_queries ? nq : o.max_queries;
	snprintf(path, sizeof(path), "%s/%s", o.mnt, o.name);
	if (mkdir(path, 0755))
		die("%s: %s", path, strerror(errno));
	dirfd = open(path, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		die("%s: %s", path, strerror(errno));
	err = libvexfs_collection_create(dirfd, dim, o.metric);
	if (err)
		die("%s: make a collection: %s", path, strerror(-err));
	insert_all(dirfd, base, n, dim);
	read_back(dirfd, &c);
	build_s = 0;
	code_collection(&c);
	if (o.graph)
		graph_len = read_graph(o.graph, &c, base, n, 0, &buf);
	else
		graph_len = build_graph(&c, &buf, &build_s);
	publish(dirfd, &c, buf, graph_len);
	err = vexfs_hnsw_load(buf, graph_len, c.nslots, &g, &why);
	if (err)
		die("load: %s", why ? why : strerror(-err));
	for (i = 0; i < o.nef; i++)
		ef_max = o.efs[i] > ef_max ? o.efs[i] : ef_max;
	ef_max = ef_max > o.k ? ef_max : o.k;
	scratch_len = vexfs_hnsw_scratch_size(&g, ef_max);
	if (!scratch_len || posix_memalign(&mem, 64, scratch_len))
		die("scratch: out of memory");
	err = vexfs_hnsw_scratch_init(&s, mem, scratch_len, &g, ef_max);
	if (err)
		die("scratch: %s", strerror(-err));
	printf("hnswioctl: %s, %u x %u, %s, %u queries, k %u; graph %.2f MiB ",
	       o.name, c.nlive, c.dim, libvexfs_metric_name(c.metric), nq, o.k,
	       graph_len / 1048576.0);
	printf("walked on %s, ", c.coded ? "SQ8 codes, re-ranked" : "floats");
	if (o.graph)
		printf("from %s\n", o.graph);
	else
		printf("built here in %.1f s (%ld threads)\n", build_s,
		       sysconf(_SC_NPROCESSORS_ONLN));
	ino_k = xmalloc((size_t)nq * o.k * sizeof(uint64_t));
	ino_u = xmalloc((size_t)nq * o.k * sizeof(uint64_t));
	ino_x = xmalloc((size_t)nq * o.k * sizeof(uint64_t));
	ino_1 = xmalloc((size_t)nq * o.k * sizeof(uint64_t));
	ino_t = xmalloc((size_t)nq * o.k * sizeof(uint64_t));
	exact_answers(dirfd, queries, nq, dim, o.k, ino_x);
	printf("  %5s %8s %12s %12s %8s %10s %10s %10s %8s %10s %10s %8s %10s\n", "ef",
	       "recall", "ioctl s", "userspace s", "ratio", "same order", "same set",
	       "1 call s", "speedup", "same", "parallel s", "speedup", "same");
	for (i = 0; i < o.nef; i++) {
		struct point *p = &pts[i];

		p->ef = o.efs[i];
		p->ioctl_s = p->user_s = p->one_call_s = p->threads_s = INFINITY;
		for (r = 0; r < o.rounds; r++) {
			p->ioctl_s = fmin(p->ioctl_s, time_ioctl(dirfd, queries, nq,
						dim, o.k, p->ef, ino_k));
			p->one_call_s = fmin(p->one_call_s, time_one_call(dirfd,
						queries, nq, dim, o.k, p->ef, 1, ino_1));
			p->threads_s = fmin(p->threads_s, time_one_call(dirfd,
						queries, nq, dim, o.k, p->ef, cpus, ino_t));
			p->user_s = fmin(p->user_s, time_user(&g, &s, &c, queries,
						nq, o.k, p->ef, ino_u));
		}
		p->one_call_same = same_answers(ino_k, ino_1, nq, o.k);
		p->threads_same = same_answers(ino_k, ino_t, nq, o.k);
		p->recall = recall_of(ino_x, ino_k, nq, o.k);
		compare(p, ino_k, ino_u, nq, o.k);
		printf("  %5u %8.4f %12.4f %12.4f %8.3f %6u/%-3u %6u/%-3u %10.4f %8.3f %6u/%-3u"
		       " %10.4f %8.3f %6u/%-3u\n",
		       p->ef, p->recall, p->ioctl_s, p->user_s, p->ioctl_s / p->user_s,
		       p->agree, nq, p->same_set, nq, p->one_call_s,
		       p->ioctl_s / p->one_call_s, p->one_call_same, nq, p->threads_s,
		       p->ioctl_s / p->threads_s, p->threads_same, nq);
		fflush(stdout);
	}
	cold_blocks = cold_blocks_per_query(dirfd, queries, nq, dim, o.k, ino_k);
	if (cold_blocks >= 0)
		printf("  caches dropped before each query: %.1f blocks read per query at the default ef\n",
		       cold_blocks);
	if (o.delete_share > 0)
		delete_and_measure(&o, dirfd, path, queries, nq, base, n, ino_x,
				   ino_k, &del);
	printf("hnswioctl-json: ");
	print_json(stdout, &o, &c, nq, graph_len, build_s, cold_blocks, pts, &del);
	if (o.json) {
		f = fopen(o.json, "w");
		if (!f)
			die("%s: %s", o.json, strerror(errno));
		print_json(f, &o, &c, nq, graph_len, build_s, cold_blocks, pts, &del);
		fclose(f);
	}
	free(base);
	close(dirfd);
	return 0;
}
