// SPDX-License-Identifier: GPL-2.0
/*
 * vecbench: what a VexFS vector collection costs against the obvious
 * alternatives, measured in one run on the same machine (in the guest
 * under TCG only the ratios mean anything):
 *
 *   insert  the vectors into a fresh collection by batch insert, B per
 *           call, against write() of the same vector bytes, B vectors
 *           per call, to one file on tmpfs; and, for scale, one file per
 *           vector on tmpfs (create, write, close), which is what batch
 *           insert does for the caller.
 *   search  each query through the search ioctl against the same lib/
 *           code (vexfs_distance_select, vexfs_distance_fn_of, vexfs_topk)
 *           scanning the same vectors in memory, with the same k. The two
 *           answers are compared id by id.
 *
 *   vecbench --mnt DIR --tmp DIR [--sift DIR] [--gen N:DIM] [--gen-metric M]
 *            [--batch B] [-k K] [--queries Q] [--rounds R] [--json FILE]
 *
 * --mnt is a directory on a mounted VexFS, --tmp one on tmpfs. An insert
 * figure is the median of R interleaved rounds, shown with its spread; a
 * search figure the best of R. Every insert round starts from an empty
 * collection (or tmpfs directory), and what a round made is removed,
 * untimed, before the next. Prints a table, and JSON to --json FILE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libvexfs/libvexfs.h"
#include "libvexfs/vecio.h"
#include "vexfs_distance.h"
#include "vexfs_topk.h"

#define MAX_DATASETS	2
#define GEN_SEED	0x5eed1536u

struct dataset {
	char name[64];
	unsigned int metric;
	uint32_t dim;
	uint32_t n;
	float *base;			/* n * dim */
	uint32_t nq;
	float *queries;			/* nq * dim */
};

/* A time over the rounds: the median, and the spread around it. */
struct timing {
	double med, lo, hi;
};

struct insert_result {
	struct timing vexfs;		/* batch insert */
	double syncfs_s;		/* syncfs after an insert, median */
	struct timing tmpfs_write;	/* write() to one tmpfs file */
	struct timing tmpfs_files;	/* one tmpfs file per vector */
};

struct search_result {
	double ioctl_s;			/* all queries, best round */
	double user_s;
	uint32_t agree;			/* queries whose ids match exactly */
	double max_dist_diff;
	uint64_t scanned;		/* per query, as the kernel counted */
	const char *impl;		/* userspace distance implementation */
};

struct options {
	const char *mnt;
	const char *tmp;
	const char *sift;
	uint32_t gen_n, gen_dim;
	unsigned int gen_metric;
	uint32_t batch;
	uint32_t k;
	uint32_t max_queries;
	unsigned int rounds;
	const char *json;
};

/* --- small helpers ------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vecbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		die("out of memory (%zu bytes)", size);
	return p;
}

static double min_d(double a, double b)
{
	return a < b ? a : b;
}

/* --- data sets ---------------------------------------------------------- */

/* Every row of a float vector file, in memory: this is the benchmark's input. */
static float *load_vectors(const char *path, uint32_t *dim, uint32_t *rows)
{
	struct vecio v;
	float *buf;

	if (vecio_open(&v, path))
		die("%s", v.err);
	if (v.elem != VECIO_FLOAT32 || v.rows > UINT32_MAX)
		die("%s: want float vectors, fewer than 2^32", path);
	buf = xmalloc(v.rows * v.dim * sizeof(float));
	if (vecio_read(&v, buf, v.rows) != (ssize_t)v.rows)
		die("%s", v.err);
	*dim = v.dim;
	*rows = (uint32_t)v.rows;
	vecio_close(&v);
	return buf;
}

static void load_sift(struct dataset *d, const char *dir)
{
	char path[4096];
	uint32_t qdim;

	snprintf(d->name, sizeof(d->name), "sift5k");
	d->metric = VEXFS_METRIC_L2;
	snprintf(path, sizeof(path), "%s/sift5k_base.fvecs", dir);
	d->base = load_vectors(path, &d->dim, &d->n);
	snprintf(path, sizeof(path), "%s/sift5k_query.fvecs", dir);
	d->queries = load_vectors(path, &qdim, &d->nq);
	if (qdim != d->dim)
		die("%s: dimension %u, base has %u", path, qdim, d->dim);
}

/* splitmix64: a fixed seed gives the same data on every machine. */
static uint64_t next_u64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1], never 0, so the log below is finite. */
static double next_unit(uint64_t *state)
{
	return ((next_u64(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* Gaussian coordinates (Box-Muller), then scaled to unit length. */
static void random_unit_vectors(float *v, uint32_t n, uint32_t dim, uint64_t *state)
{
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		float *row = v + (size_t)i * dim;
		double norm = 0;

		for (j = 0; j < dim; j++) {
			double r = sqrt(-2.0 * log(next_unit(state)));

			row[j] = (float)(r * cos(2 * M_PI * next_unit(state)));
			norm += (double)row[j] * row[j];
		}
		norm = sqrt(norm);
		for (j = 0; j < dim; j++)
			row[j] = (float)(row[j] / norm);
	}
}

static void generate(struct dataset *d, uint32_t n, uint32_t dim, unsigned int metric)
{
	uint64_t state = GEN_SEED;

	snprintf(d->name, sizeof(d->name), "gen%ux%u", n, dim);
	d->metric = metric;
	d->dim = dim;
	d->n = n;
	d->nq = 100;
	d->base = xmalloc((size_t)n * dim * sizeof(float));
	d->queries = xmalloc((size_t)d->nq * dim * sizeof(float));
	random_unit_vectors(d->base, n, dim, &state);
	random_unit_vectors(d->queries, d->nq, dim, &state);
}

/* --- insert ------------------------------------------------------------- */

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

/* Remove every file of a directory, then the directory. */
static void remove_tree(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(dir), e->d_name, 0);
	closedir(dir);
	if (rmdir(path))
		die("rmdir %s: %s", path, strerror(errno));
}

static void make_collection(const char *path, const struct dataset *d)
{
	int fd, err;

	if (mkdir(path, 0755))
		die("mkdir %s: %s", path, strerror(errno));
	fd = open_dir(path);
	err = libvexfs_collection_create(fd, d->dim, d->metric);
	if (err)
		die("%s: collection create: %s", path, strerror(-err));
	close(fd);
}

/* Seconds to batch insert the whole data set into the collection at path. */
static double time_batch_insert(const char *path, const struct dataset *d,
				uint32_t batch, uint64_t *ids, double *sync_s)
{
	int fd = open_dir(path);
	uint32_t i, n, bad;
	double start, end;
	int err;

	for (i = 0; i < d->n; i++)
		ids[i] = (uint64_t)i + 1;
	start = now_s();
	for (i = 0; i < d->n; i += n) {
		n = d->n - i < batch ? d->n - i : batch;
		err = libvexfs_batch_insert(fd, ids + i, d->base + (size_t)i * d->dim,
					    NULL, n, d->dim, 0, &bad);
		if (err)
			die("%s: batch insert at row %u: %s", path, i + bad, strerror(-err));
	}
	end = now_s();
	if (syncfs(fd))
		die("syncfs %s: %s", path, strerror(errno));
	*sync_s = now_s() - end;
	close(fd);
	return end - start;
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0)
			die("write %s: %s", what, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
}

/* The same vector bytes, batch vectors per write(), to one file. */
static double time_tmpfs_write(const char *path, const struct dataset *d,
			       uint32_t batch)
{
	size_t row = (size_t)d->dim * sizeof(float);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	double start, secs;
	uint32_t i, n;

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	start = now_s();
	for (i = 0; i < d->n; i += n) {
		n = d->n - i < batch ? d->n - i : batch;
		write_all(fd, d->base + (size_t)i * d->dim, n * row, path);
	}
	secs = now_s() - start;
	close(fd);
	unlink(path);
	return secs;
}

/* One file per vector, named by its id, as batch insert makes them. */
static double time_tmpfs_files(const char *path, const struct dataset *d)
{
	size_t row = (size_t)d->dim * sizeof(float);
	double start, secs;
	char name[24];
	int dfd, fd;
	uint32_t i;

	if (mkdir(path, 0755))
		die("mkdir %s: %s", path, strerror(errno));
	dfd = open_dir(path);
	start = now_s();
	for (i = 0; i < d->n; i++) {
		snprintf(name, sizeof(name), "%u", i + 1);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			die("%s/%s: %s", path, name, strerror(errno));
		write_all(fd, d->base + (size_t)i * d->dim, row, name);
		close(fd);
	}
	secs = now_s() - start;
	close(dfd);
	remove_tree(path);
	return secs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts t[n] (n >= 1) and sums it up. */
static struct timing timing_of(double *t, unsigned int n)
{
	qsort(t, n, sizeof(*t), cmp_double);
	return (struct timing){
		.med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
		.lo = t[0],
		.hi = t[n - 1],
	};
}

/*
 * opt->rounds rounds, each timing the three one after the other, so that
 * a host busy for a while slows all three alike; the median of each
 * counts. The collection of the last round stays (at coll) for the
 * search benchmark.
 */
static void bench_insert(const struct options *opt, const struct dataset *d,
			 const char *coll, struct insert_result *r)
{
	uint64_t *ids = xmalloc((size_t)d->n * sizeof(*ids));
	double *t = xmalloc(4 * (size_t)opt->rounds * sizeof(*t));
	double *vexfs = t, *sync = t + opt->rounds;
	double *write = sync + opt->rounds, *files = write + opt->rounds;
	char path[4096];
	unsigned int round;

	for (round = 0; round < opt->rounds; round++) {
		if (round)
			remove_tree(coll);
		make_collection(coll, d);
		vexfs[round] = time_batch_insert(coll, d, opt->batch, ids, &sync[round]);
		snprintf(path, sizeof(path), "%s/%s.vectors", opt->tmp, d->name);
		write[round] = time_tmpfs_write(path, d, opt->batch);
		snprintf(path, sizeof(path), "%s/%s.files", opt->tmp, d->name);
		files[round] = time_tmpfs_files(path, d);
	}
	r->vexfs = timing_of(vexfs, opt->rounds);
	r->syncfs_s = timing_of(sync, opt->rounds).med;
	r->tmpfs_write = timing_of(write, opt->rounds);
	r->tmpfs_files = timing_of(files, opt->rounds);
	free(t);
	free(ids);
}

/* --- search ------------------------------------------------------------- */

/* All queries through the ioctl; ids[q * k ...] gets the last answers. */
static double time_search_ioctl(int fd, const struct dataset *d, uint32_t nq,
				uint32_t k, uint64_t *ids, float *dist,
				uint64_t *scanned)
{
	struct vexfs_search_result *res = xmalloc(k * sizeof(*res));
	uint32_t q, i, count;
	double start, secs;
	int err;

	start = now_s();
	for (q = 0; q < nq; q++) {
		err = libvexfs_search(fd, d->queries + (size_t)q * d->dim, d->dim, k,
				      NULL, res, &count, scanned);
		if (err)
			die("search: %s", strerror(-err));
		for (i = 0; i < k; i++) {
			ids[(size_t)q * k + i] = i < count ? res[i].id : 0;
			dist[(size_t)q * k + i] = i < count ? res[i].distance : NAN;
		}
	}
	secs = now_s() - start;
	free(res);
	return secs;
}

/*
 * The kernel's scan in userspace: the same distance function picked the
 * same way, one push per vector into the same top-k heap.
 */
static double time_search_user(const struct dataset *d, uint32_t nq, uint32_t k,
			       const struct vexfs_distance_ops *ops,
			       uint64_t *ids, float *dist)
{
	struct vexfs_topk_entry *heap = xmalloc(k * sizeof(*heap));
	vexfs_distance_fn fn = vexfs_distance_fn_of(ops, d->metric);
	struct vexfs_topk t;
	uint32_t q, i, count;
	double start, secs;

	start = now_s();
	for (q = 0; q < nq; q++) {
		const float *query = d->queries + (size_t)q * d->dim;

		vexfs_topk_init(&t, heap, k);
		for (i = 0; i < d->n; i++)
			vexfs_topk_push(&t, (uint64_t)i + 1,
					fn(query, d->base + (size_t)i * d->dim, d->dim));
		count = vexfs_topk_extract(&t);
		for (i = 0; i < k; i++) {
			ids[(size_t)q * k + i] = i < count ? heap[i].id : 0;
			dist[(size_t)q * k + i] = i < count ? heap[i].dist : NAN;
		}
	}
	secs = now_s() - start;
	free(heap);
	return secs;
}

static void compare_answers(struct search_result *r, uint32_t nq, uint32_t k,
			    const uint64_t *ids_a, const float *dist_a,
			    const uint64_t *ids_b, const float *dist_b)
{
	uint32_t q, i;

	r->agree = 0;
	r->max_dist_diff = 0;
	for (q = 0; q < nq; q++) {
		bool same = true;

		for (i = 0; i < k; i++) {
			size_t at = (size_t)q * k + i;

			same &= ids_a[at] == ids_b[at];
			if (isfinite(dist_a[at]) && isfinite(dist_b[at]))
				r->max_dist_diff = fmax(r->max_dist_diff,
							fabs((double)dist_a[at] - dist_b[at]));
		}
		r->agree += same;
	}
}

static void bench_search(const struct options *opt, const struct dataset *d,
			 const char *coll, struct search_result *r)
{
	const struct vexfs_distance_ops *ops = vexfs_distance_select(vexfs_cpu_flags_native());
	uint32_t nq = d->nq < opt->max_queries ? d->nq : opt->max_queries;
	size_t cells = (size_t)nq * opt->k;
	uint64_t *ids_k = xmalloc(cells * sizeof(uint64_t));
	uint64_t *ids_u = xmalloc(cells * sizeof(uint64_t));
	float *dist_k = xmalloc(cells * sizeof(float));
	float *dist_u = xmalloc(cells * sizeof(float));
	int fd = open_dir(coll);
	unsigned int round;

	r->impl = ops->name;
	r->ioctl_s = r->user_s = INFINITY;
	for (round = 0; round < opt->rounds; round++) {
		r->ioctl_s = min_d(r->ioctl_s, time_search_ioctl(fd, d, nq, opt->k, ids_k,
								 dist_k, &r->scanned));
		r->user_s = min_d(r->user_s, time_search_user(d, nq, opt->k, ops, ids_u, dist_u));
	}
	compare_answers(r, nq, opt->k, ids_k, dist_k, ids_u, dist_u);
	close(fd);
	free(ids_k);
	free(ids_u);
	free(dist_k);
	free(dist_u);
}

/* --- report ------------------------------------------------------------- */

struct run {
	struct dataset d;
	uint32_t nq;
	struct insert_result ins;
	struct search_result srch;
};

static void print_timing(const char *what, const struct timing *t, uint32_t n,
			 double mb)
{
	printf("%-40s %10.4f %9.4f-%-9.4f %12.0f %10.2f\n", what, t->med, t->lo,
	       t->hi, n / t->med, mb / t->med);
}

static void print_table(const struct options *opt, const struct run *r)
{
	const struct dataset *d = &r->d;
	double mb = (double)d->n * d->dim * sizeof(float) / 1e6;

	printf("\n== %s: %u vectors x %u, %s, batch %u, k %u, %u queries, %u rounds (search: the best)\n",
	       d->name, d->n, d->dim, libvexfs_metric_name(d->metric), opt->batch,
	       opt->k, r->nq, opt->rounds);
	printf("%-40s %10s %19s %12s %10s\n", "insert (median of the rounds)", "seconds",
	       "lowest-highest", "vectors/s", "MB/s");
	print_timing("  vexfs batch insert ioctl", &r->ins.vexfs, d->n, mb);
	print_timing("  tmpfs write(), one file", &r->ins.tmpfs_write, d->n, mb);
	print_timing("  tmpfs one file per vector", &r->ins.tmpfs_files, d->n, mb);
	printf("  syncfs after the vexfs insert: %.4f s\n", r->ins.syncfs_s);
	printf("  time ratio vexfs / tmpfs write(): %.2f; vexfs / tmpfs file per vector: %.2f\n",
	       r->ins.vexfs.med / r->ins.tmpfs_write.med,
	       r->ins.vexfs.med / r->ins.tmpfs_files.med);
	printf("%-40s %10s %12s %10s\n", "search", "seconds", "queries/s", "ms/query");
	printf("%-40s %10.4f %12.1f %10.3f\n", "  ioctl (kernel exact scan)",
	       r->srch.ioctl_s, r->nq / r->srch.ioctl_s, r->srch.ioctl_s / r->nq * 1e3);
	printf("  userspace lib/ (%s)%*s %10.4f %12.1f %10.3f\n", r->srch.impl,
	       (int)(40 - 20 - strlen(r->srch.impl)), "", r->srch.user_s,
	       r->nq / r->srch.user_s, r->srch.user_s / r->nq * 1e3);
	printf("  time ratio ioctl / userspace: %.2f\n", r->srch.ioctl_s / r->srch.user_s);
	printf("  same ids: %u of %u queries; largest distance difference %.3g; %" PRIu64 " vectors compared per query\n",
	       r->srch.agree, r->nq, r->srch.max_dist_diff, r->srch.scanned);
}

static void print_json_run(FILE *f, const struct options *opt, const struct run *r)
{
	const struct dataset *d = &r->d;

	fprintf(f, "{\"name\":\"%s\",\"n\":%u,\"dim\":%u,\"metric\":\"%s\",\"batch\":%u,"
		"\"k\":%u,\"queries\":%u,\"rounds\":%u,",
		d->name, d->n, d->dim, libvexfs_metric_name(d->metric), opt->batch, opt->k,
		r->nq, opt->rounds);
	fprintf(f, "\"insert\":{\"vexfs_s\":%.6f,\"vexfs_vectors_per_s\":%.1f,"
		"\"syncfs_s\":%.6f,\"tmpfs_write_s\":%.6f,\"tmpfs_files_s\":%.6f,"
		"\"ratio_vexfs_over_tmpfs_write\":%.3f,\"ratio_vexfs_over_tmpfs_files\":%.3f},",
		r->ins.vexfs.med, d->n / r->ins.vexfs.med, r->ins.syncfs_s,
		r->ins.tmpfs_write.med, r->ins.tmpfs_files.med,
		r->ins.vexfs.med / r->ins.tmpfs_write.med,
		r->ins.vexfs.med / r->ins.tmpfs_files.med);
	fprintf(f, "\"insert_spread\":{\"vexfs_s\":[%.6f,%.6f],\"tmpfs_write_s\":[%.6f,%.6f],"
		"\"tmpfs_files_s\":[%.6f,%.6f]},",
		r->ins.vexfs.lo, r->ins.vexfs.hi, r->ins.tmpfs_write.lo,
		r->ins.tmpfs_write.hi, r->ins.tmpfs_files.lo, r->ins.tmpfs_files.hi);
	fprintf(f, "\"search\":{\"ioctl_s\":%.6f,\"user_s\":%.6f,\"ioctl_qps\":%.2f,"
		"\"user_qps\":%.2f,\"ratio_ioctl_over_user\":%.3f,\"user_impl\":\"%s\","
		"\"same_ids\":%u,\"max_distance_diff\":%.6g,\"scanned_per_query\":%" PRIu64 "}}",
		r->srch.ioctl_s, r->srch.user_s, r->nq / r->srch.ioctl_s, r->nq / r->srch.user_s,
		r->srch.ioctl_s / r->srch.user_s, r->srch.impl, r->srch.agree,
		r->srch.max_dist_diff, r->srch.scanned);
}

static void print_json(FILE *f, const struct options *opt, const struct run *runs,
		       int nruns)
{
	int i;

	fputs("{\"benchmark\":\"vecbench\",\"datasets\":[", f);
	for (i = 0; i < nruns; i++) {
		if (i)
			fputc(',', f);
		print_json_run(f, opt, &runs[i]);
	}
	fputs("]}\n", f);
}

/* --- main --------------------------------------------------------------- */

static void usage(int status)
{
	fputs("usage: vecbench --mnt VEXFS_DIR --tmp TMPFS_DIR [--sift DIR] [--gen N:DIM]\n"
	      "                [--gen-metric l2|ip|cosine] [--batch B] [-k K] [--queries Q]\n"
	      "                [--rounds R] [--json FILE]\n", status ? stderr : stdout);
	exit(status);
}

static uint32_t parse_u32(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !v || v > UINT32_MAX)
		die("%s wants a positive number, not '%s'", what, s);
	return (uint32_t)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "mnt", required_argument, NULL, 'm' },
		{ "tmp", required_argument, NULL, 't' },
		{ "sift", required_argument, NULL, 's' },
		{ "gen", required_argument, NULL, 'g' },
		{ "gen-metric", required_argument, NULL, 'M' },
		{ "batch", required_argument, NULL, 'b' },
		{ "queries", required_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, metric;

	while ((c = getopt_long(argc, argv, "m:t:s:g:M:b:k:q:r:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': o->mnt = optarg; break;
		case 't': o->tmp = optarg; break;
		case 's': o->sift = optarg; break;
		case 'g':
			if (sscanf(optarg, "%u:%u", &o->gen_n, &o->gen_dim) != 2 ||
			    !o->gen_n || !o->gen_dim || o->gen_dim > VEXFS_MAX_DIM)
				die("--gen wants N:DIM, e.g. 10000:1536");
			break;
		case 'M':
			metric = libvexfs_metric_parse(optarg);
			if (metric < 0)
				die("--gen-metric wants l2, ip or cosine");
			o->gen_metric = (unsigned int)metric;
			break;
		case 'b': o->batch = parse_u32(optarg, "--batch"); break;
		case 'k': o->k = parse_u32(optarg, "-k"); break;
		case 'q': o->max_queries = parse_u32(optarg, "--queries"); break;
		case 'r': o->rounds = parse_u32(optarg, "--rounds"); break;
		case 'j': o->json = optarg; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (!o->mnt || !o->tmp || optind != argc || (!o->sift && !o->gen_n))
		usage(2);
	if (o->batch > VEXFS_MAX_BATCH || o->k > VEXFS_MAX_K)
		die("--batch at most %u, -k at most %u", VEXFS_MAX_BATCH, VEXFS_MAX_K);
}

static void run_dataset(const struct options *opt, struct run *r)
{
	char coll[4096];

	snprintf(coll, sizeof(coll), "%s/%s", opt->mnt, r->d.name);
	r->nq = r->d.nq < opt->max_queries ? r->d.nq : opt->max_queries;
	fprintf(stderr, "vecbench: %s: insert...\n", r->d.name);
	bench_insert(opt, &r->d, coll, &r->ins);
	fprintf(stderr, "vecbench: %s: search...\n", r->d.name);
	bench_search(opt, &r->d, coll, &r->srch);
	print_table(opt, r);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct options opt = {
		.gen_metric = VEXFS_METRIC_COSINE,
		.batch = 1000,
		.k = 10,
		.max_queries = 100,
		.rounds = 3,
	};
	struct run runs[MAX_DATASETS] = { 0 };
	int i, n = 0;
	FILE *f;

	parse_options(argc, argv, &opt);
	if (opt.sift)
		load_sift(&runs[n++].d, opt.sift);
	if (opt.gen_n)
		generate(&runs[n++].d, opt.gen_n, opt.gen_dim, opt.gen_metric);
	for (i = 0; i < n; i++)
		run_dataset(&opt, &runs[i]);
	printf("\nvecbench-json: ");
	print_json(stdout, &opt, runs, n);
	if (opt.json) {
		f = fopen(opt.json, "w");
		if (!f)
			die("%s: %s", opt.json, strerror(errno));
		print_json(f, &opt, runs, n);
		fclose(f);
	}
	for (i = 0; i < n; i++) {
		free(runs[i].d.base);
		free(runs[i].d.queries);
	}
	return 0;
}
