// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl search: the k nearest files of a collection to a query, or to
 * every row of a query file, all of them in one call.
 *
 * The kernel answers with ids and inode numbers. Files made by batch
 * insert are named by their id, so DIR/id is usually the path; a file
 * whose vector was set by hand may have any name, so a result whose
 * DIR/id is not its inode is looked up by inode number in the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/clock.h"
#include "common/parse.h"
#include "common/jsonw.h"
#include "common/progress.h"
#include "uapi/vexfs_filter.h"

#define DEFAULT_K	10

enum { OPT_QUERY = OPT_OWN, OPT_QUERY_FILE, OPT_ROW, OPT_WHERE, OPT_FILTER,
       OPT_EF, OPT_EXACT, OPT_ATTRS, OPT_VECTORS, OPT_THREADS };

struct search_args {
	const char *dir;
	const char *literal;		/* --query */
	const char *query_file;		/* --query-file */
	uint64_t row;
	bool row_given;
	uint32_t k;
	bool attrs, vectors;		/* --attrs, --vectors: what results carry */
	struct vexfs_predicate where[VEXFS_MAX_WHERE];	/* --where, all hold */
	unsigned int nwhere;
	struct libvexfs_search_opts opts;	/* --filter, --ef, --exact, where[1..] */
};

/* The queries: one, or every row of the query file from first_row. */
struct search_in {
	float *vectors;			/* [n * dim] */
	uint64_t n;
	uint64_t first_row;
	uint32_t dim;
};

/* Every query's answers, query q's in block q of k. */
struct search_out {
	struct libvexfs_search_out lib;
	char **names;			/* file name of each result, or NULL */
	uint64_t total;			/* results in all */
	double seconds;
};

static int parse_search_args(int argc, char **argv, struct search_args *a)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "query", required_argument, NULL, OPT_QUERY },
		{ "query-file", required_argument, NULL, OPT_QUERY_FILE },
		{ "row", required_argument, NULL, OPT_ROW },
		{ "where", required_argument, NULL, OPT_WHERE },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "ef", required_argument, NULL, OPT_EF },
		{ "exact", no_argument, NULL, OPT_EXACT },
		{ "attrs", no_argument, NULL, OPT_ATTRS },
		{ "vectors", no_argument, NULL, OPT_VECTORS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hk:", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_QUERY:
			a->literal = optarg;
			break;
		case OPT_QUERY_FILE:
			a->query_file = optarg;
			break;
		case OPT_ROW:
			if (parse_u64(optarg, &a->row))
				return ctl_usage_error("--row wants a row number, not '%s'", optarg);
			a->row_given = true;
			break;
		case 'k':
			if (parse_u32_range(optarg, 1, VEXFS_MAX_K, &a->k))
				return ctl_usage_error("-k wants 1..%u, not '%s'", VEXFS_MAX_K, optarg);
			break;
		case OPT_WHERE:
			rc = parse_where_list(optarg, a->where, VEXFS_MAX_WHERE, &a->nwhere);
			if (rc == -E2BIG)
				return ctl_usage_error("--where: at most %d predicates in all, joined by 'and'",
						       VEXFS_MAX_WHERE);
			if (rc)
				return ctl_usage_error("--where wants attrW OP V [and attrW OP V]... (W 0..%d, OP one of = != < <= > >= & |), not '%s'",
						       VEXFS_ATTR_WORDS - 1, optarg);
			break;
		case OPT_FILTER:
			if (!*optarg || strlen(optarg) >= VEXFS_FILTER_NAME_LEN)
				return ctl_usage_error("--filter wants a name of 1..%d characters",
						       VEXFS_FILTER_NAME_LEN - 1);
			a->opts.filter = optarg;
			break;
		case OPT_EF:
			if (parse_u32_range(optarg, 1, VEXFS_MAX_K, &a->opts.ef))
				return ctl_usage_error("--ef wants 1..%u, not '%s'", VEXFS_MAX_K, optarg);
			break;
		case OPT_EXACT:
			a->opts.flags |= VEXFS_SEARCH_EXACT;
			break;
		case OPT_ATTRS:
			a->attrs = true;
			break;
		case OPT_VECTORS:
			a->vectors = true;
			break;
		case OPT_THREADS:
			if (parse_u32_range(optarg, 1, LIBVEXFS_MAX_THREADS, &a->opts.threads))
				return ctl_usage_error("--threads wants 1..%d, not '%s'",
						       LIBVEXFS_MAX_THREADS, optarg);
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	rc = ctl_want_args(argc, argv, 1, "DIR");
	if (rc)
		return rc;
	a->dir = argv[optind];
	if (!a->literal == !a->query_file)
		return ctl_usage_error("give the query with either --query or --query-file");
	if (a->row_given && !a->query_file)
		return ctl_usage_error("--row goes with --query-file");
	if (a->nwhere > 1) {
		a->opts.and_where = a->where + 1;
		a->opts.n_and_where = a->nwhere - 1;
	}
	/* Many queries: a share for each CPU, unless told. */
	if (!a->opts.threads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		a->opts.threads = cpus < 1 ? 1 : cpus > LIBVEXFS_MAX_THREADS ?
				  LIBVEXFS_MAX_THREADS : (uint32_t)cpus;
	}
	return CTL_OK;
}

static int load_queries(const struct search_args *a, struct search_in *in)
{
	if (a->query_file) {
		in->first_row = a->row;
		in->n = a->row_given ? 1 : 0;
		return ctl_read_vector_rows(a->query_file, a->row, &in->n,
					    &in->vectors, &in->dim);
	}
	in->n = 1;
	if (parse_vector(a->literal, &in->vectors, &in->dim))
		return ctl_usage_error("--query wants numbers separated by commas, e.g. \"0.5,1,-2\"");
	return CTL_OK;
}

static char *id_name(uint64_t id)
{
	char *name;

	return asprintf(&name, "%" PRIu64, id) < 0 ? NULL : name;
}

/* One pass over the directory for the n results DIR/id did not name. */
static void names_by_inode(int dirfd, const struct vexfs_search_result *res,
			   char **names, uint64_t n)
{
	struct dirent *d;
	uint64_t i, missing = 0;
	DIR *dir;
	int fd;

	for (i = 0; i < n; i++)
		missing += !names[i];
	fd = missing ? openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (missing && (d = readdir(dir))) {
		for (i = 0; i < n; i++) {
			if (names[i] || d->d_ino != res[i].ino)
				continue;
			names[i] = strdup(d->d_name);
			missing--;
		}
	}
	closedir(dir);
}

/* Names of the results of query q, found at names + q * k. */
static void resolve_names(int dirfd, const struct search_args *a,
			  struct search_out *o, uint64_t q)
{
	const struct vexfs_search_result *res = o->lib.results + q * a->k;
	char **names = o->names + q * a->k;
	uint32_t i, n = o->lib.counts[q];
	struct stat st;

	for (i = 0; i < n; i++) {
		char *name = id_name(res[i].id);

		if (name && !fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) &&
		    st.st_ino == res[i].ino) {
			names[i] = name;
			continue;
		}
		free(name);
	}
	names_by_inode(dirfd, res, names, n);
}

static char *join_path(const char *dir, const char *name)
{
	size_t len = strlen(dir);
	char *path;

	if (!name)
		return strdup("?");
	if (asprintf(&path, "%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return path;
}

static void print_attrs(const uint64_t *attrs)
{
	int w;

	for (w = 0; w < VEXFS_ATTR_WORDS; w++)
		printf("%s%" PRIu64, w ? "," : "  ", attrs[w]);
}

static void print_vector(const float *vec, uint32_t dim)
{
	char num[32];
	uint32_t i;

	for (i = 0; i < dim; i++) {
		jw_format_float(num, sizeof(num), vec[i]);
		printf("%s%s", i ? "," : "  ", num);
	}
}

/* The table of query q's answers. */
static void print_text_query(const struct search_args *a, const struct search_in *in,
			     const struct search_out *o, uint64_t q)
{
	const struct vexfs_search_result *res = o->lib.results + q * a->k;
	char **names = o->names + q * a->k;
	uint32_t i, n = o->lib.counts[q];
	char dist[32], *path;
	int width = 4, dw;

	for (i = 0; i < n; i++) {
		path = join_path(a->dir, names[i]);
		if (path && (int)strlen(path) > width)
			width = (int)strlen(path);
		free(path);
	}
	/* The distance is padded only when more columns follow it. */
	dw = a->attrs || a->vectors ? 12 : 0;
	printf("%-4s  %-*s  %-20s  %-*s%s%s\n", "rank", width, "path", "id", dw, "distance",
	       a->attrs ? "  attrs" : "", a->vectors ? "  vector" : "");
	for (i = 0; i < n; i++) {
		path = join_path(a->dir, names[i]);
		jw_format_float(dist, sizeof(dist), res[i].distance);
		printf("%-4u  %-*s  %-20" PRIu64 "  %-*s", i + 1, width, path ? path : "?",
		       (uint64_t)res[i].id, dw, dist);
		if (a->attrs)
			print_attrs(o->lib.attrs + (q * a->k + i) * VEXFS_ATTR_WORDS);
		if (a->vectors)
			print_vector(o->lib.vectors + (q * a->k + i) * in->dim, in->dim);
		printf("\n");
		free(path);
	}
}

static void print_text(const struct search_args *a, const struct search_in *in,
		       const struct search_out *o)
{
	uint64_t q;

	for (q = 0; q < in->n; q++) {
		if (in->n > 1)
			printf("%squery %" PRIu64 "\n", q ? "\n" : "", in->first_row + q);
		print_text_query(a, in, o, q);
	}
	if (in->n > 1)
		printf("%" PRIu64 " queries, ", in->n);
	printf("%" PRIu64 " result%s, %" PRIu64 " vector%s compared, %.3f ms", o->total,
	       o->total == 1 ? "" : "s", o->lib.scanned, o->lib.scanned == 1 ? "" : "s",
	       o->seconds * 1e3);
	if (in->n > 1)
		printf(" (%.3f ms per query)", o->seconds * 1e3 / in->n);
	printf("\n");
}

static void json_where(struct jsonw *w, const struct search_args *a)
{
	char word[16];
	uint32_t i;

	jw_array_begin(w, "where");
	for (i = 0; i < a->nwhere; i++) {
		jw_object_begin(w, NULL);
		snprintf(word, sizeof(word), "attr%u", a->where[i].word);
		jw_string(w, "word", word);
		jw_string(w, "op", where_op_text(a->where[i].op));
		jw_u64(w, "value", a->where[i].value);
		jw_object_end(w);
	}
	jw_array_end(w);
}

/* The "results" array of query q. */
static void json_results(struct jsonw *w, const struct search_args *a,
			 const struct search_in *in, const struct search_out *o,
			 uint64_t q)
{
	uint32_t i, j, n = o->lib.counts[q];
	uint64_t at;
	char *path;

	jw_array_begin(w, "results");
	for (i = 0; i < n; i++) {
		at = q * a->k + i;
		path = join_path(a->dir, o->names[at]);
		jw_object_begin(w, NULL);
		jw_u64(w, "rank", i + 1);
		if (o->names[at] && path)
			jw_string(w, "path", path);
		else
			jw_null(w, "path");
		jw_u64(w, "id", o->lib.results[at].id);
		jw_u64(w, "ino", o->lib.results[at].ino);
		jw_float(w, "distance", o->lib.results[at].distance);
		if (a->attrs) {
			jw_array_begin(w, "attrs");
			for (j = 0; j < VEXFS_ATTR_WORDS; j++)
				jw_u64(w, NULL, o->lib.attrs[at * VEXFS_ATTR_WORDS + j]);
			jw_array_end(w);
		}
		if (a->vectors) {
			jw_array_begin(w, "vector");
			for (j = 0; j < in->dim; j++)
				jw_float(w, NULL, o->lib.vectors[at * in->dim + j]);
			jw_array_end(w);
		}
		jw_object_end(w);
		free(path);
	}
	jw_array_end(w);
}

/*
 * One query: {dir, k, where, count, scanned, ms, results}. Several:
 * {dir, k, where, queries, count, scanned, ms, answers: [{row, count,
 * results}]}.
 */
static void print_json(const struct search_args *a, const struct search_in *in,
		       const struct search_out *o)
{
	struct jsonw w;
	uint64_t q;

	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", a->dir);
	jw_u64(&w, "k", a->k);
	if (a->nwhere)
		json_where(&w, a);
	if (in->n > 1)
		jw_u64(&w, "queries", in->n);
	jw_u64(&w, "count", o->total);
	jw_u64(&w, "scanned", o->lib.scanned);
	jw_double(&w, "ms", o->seconds * 1e3);
	if (in->n == 1) {
		json_results(&w, a, in, o, 0);
	} else {
		jw_array_begin(&w, "answers");
		for (q = 0; q < in->n; q++) {
			jw_object_begin(&w, NULL);
			jw_u64(&w, "row", in->first_row + q);
			jw_u64(&w, "count", o->lib.counts[q]);
			json_results(&w, a, in, o, q);
			jw_object_end(&w);
		}
		jw_array_end(&w);
	}
	jw_object_end(&w);
}

static int alloc_out(const struct search_args *a, const struct search_in *in,
		     struct search_out *o)
{
	size_t slots = in->n * a->k;

	o->lib.results = calloc(slots, sizeof(*o->lib.results));
	o->lib.counts = calloc(in->n, sizeof(*o->lib.counts));
	o->names = calloc(slots, sizeof(*o->names));
	if (a->attrs)
		o->lib.attrs = calloc(slots * VEXFS_ATTR_WORDS, sizeof(uint64_t));
	if (a->vectors)
		o->lib.vectors = calloc(slots * in->dim, sizeof(float));
	if (!o->lib.results || !o->lib.counts || !o->names ||
	    (a->attrs && !o->lib.attrs) || (a->vectors && !o->lib.vectors))
		return ctl_fail(ENOMEM, NULL, NULL);
	return CTL_OK;
}

/* Why the kernel refused: the query that is wrong, or the filter. */
static int search_failed(const struct search_args *a, const struct search_in *in,
			 uint32_t coll_dim, int err)
{
	const char *why = NULL;
	uint64_t q;

	if (err == -ENOENT && a->opts.filter)
		return ctl_fail(err, a->opts.filter, "no filter of that name is loaded");
	if (err == -EOPNOTSUPP && a->opts.filter)
		return ctl_fail(err, a->opts.filter, "this kernel has no BPF filters");
	for (q = 0; err == -EINVAL && !why && q < in->n; q++) {
		why = ctl_explain_vector(in->vectors + q * in->dim, in->dim, coll_dim);
		if (why && in->n > 1)
			return ctl_fail(err, NULL, "query %" PRIu64 ": %s", in->first_row + q, why);
	}
	return why ? ctl_fail(err, NULL, "%s", why) : ctl_fail(err, NULL, NULL);
}

static int run_search(const struct search_args *a, int dirfd, uint32_t coll_dim,
		      const struct search_in *in, struct search_out *o)
{
	double start;
	uint64_t q;
	int err;

	if (in->n > UINT32_MAX / a->k)
		return ctl_fail_msg(E2BIG, "%" PRIu64 " queries of %u results are too many at once",
				    in->n, a->k);
	err = alloc_out(a, in, o);
	if (err)
		return err;
	start = monotonic_seconds();
	err = libvexfs_search_many(dirfd, in->vectors, (uint32_t)in->n, in->dim, a->k,
				   a->nwhere ? &a->where[0] : NULL, &a->opts, &o->lib);
	o->seconds = monotonic_seconds() - start;
	if (err)
		return search_failed(a, in, coll_dim, err);
	for (q = 0; q < in->n; q++) {
		o->total += o->lib.counts[q];
		resolve_names(dirfd, a, o, q);
	}
	if (ctl.json)
		print_json(a, in, o);
	else
		print_text(a, in, o);
	return CTL_OK;
}

static void release_out(const struct search_args *a, const struct search_in *in,
			struct search_out *o)
{
	size_t i;

	for (i = 0; o->names && i < in->n * a->k; i++)
		free(o->names[i]);
	free(o->names);
	free(o->lib.results);
	free(o->lib.counts);
	free(o->lib.attrs);
	free(o->lib.vectors);
}

int cmd_search(int argc, char **argv)
{
	struct search_args a = { .k = DEFAULT_K };
	struct libvexfs_collection_info info;
	struct search_out o = { 0 };
	struct search_in in = { 0 };
	int rc, dirfd = -1;

	rc = parse_search_args(argc, argv, &a);
	if (!rc)
		rc = load_queries(&a, &in);
	if (!rc)
		rc = ctl_open_collection_shape(a.dir, &dirfd, &info);
	if (!rc)
		rc = run_search(&a, dirfd, info.dim, &in, &o);
	release_out(&a, &in, &o);
	free(in.vectors);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
