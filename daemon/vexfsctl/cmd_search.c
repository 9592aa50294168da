// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl search: the k nearest files of a collection to one query.
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
       OPT_EF, OPT_EXACT };

struct search_args {
	const char *dir;
	const char *literal;		/* --query */
	const char *query_file;		/* --query-file */
	uint64_t row;
	bool row_given;
	uint32_t k;
	struct vexfs_predicate where[VEXFS_MAX_WHERE];	/* --where, all hold */
	unsigned int nwhere;
	struct libvexfs_search_opts opts;	/* --filter, --ef, --exact, where[1..] */
};

struct search_out {
	struct vexfs_search_result *results;
	char **names;			/* file name of each result, or NULL */
	uint32_t count;
	uint64_t scanned;
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
	return CTL_OK;
}

static int load_query(const struct search_args *a, float **q, uint32_t *dim)
{
	if (a->query_file)
		return ctl_read_vector_row(a->query_file, a->row, q, dim);
	if (parse_vector(a->literal, q, dim))
		return ctl_usage_error("--query wants numbers separated by commas, e.g. \"0.5,1,-2\"");
	return CTL_OK;
}

static char *id_name(uint64_t id)
{
	char *name;

	return asprintf(&name, "%" PRIu64, id) < 0 ? NULL : name;
}

/* One pass over the directory for the results DIR/id did not name. */
static void names_by_inode(int dirfd, struct search_out *o)
{
	struct dirent *d;
	uint32_t i, missing = 0;
	DIR *dir;
	int fd;

	for (i = 0; i < o->count; i++)
		missing += !o->names[i];
	fd = missing ? openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (missing && (d = readdir(dir))) {
		for (i = 0; i < o->count; i++) {
			if (o->names[i] || d->d_ino != o->results[i].ino)
				continue;
			o->names[i] = strdup(d->d_name);
			missing--;
		}
	}
	closedir(dir);
}

static void resolve_names(int dirfd, struct search_out *o)
{
	struct stat st;
	uint32_t i;

	for (i = 0; i < o->count; i++) {
		char *name = id_name(o->results[i].id);

		if (name && !fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) &&
		    st.st_ino == o->results[i].ino) {
			o->names[i] = name;
			continue;
		}
		free(name);
	}
	names_by_inode(dirfd, o);
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

static void print_text(const struct search_args *a, const struct search_out *o)
{
	char dist[32], *path;
	int width = 4;
	uint32_t i;

	for (i = 0; i < o->count; i++) {
		path = join_path(a->dir, o->names[i]);
		if (path && (int)strlen(path) > width)
			width = (int)strlen(path);
		free(path);
	}
	printf("%-4s  %-*s  %-20s  %s\n", "rank", width, "path", "id", "distance");
	for (i = 0; i < o->count; i++) {
		path = join_path(a->dir, o->names[i]);
		jw_format_float(dist, sizeof(dist), o->results[i].distance);
		printf("%-4u  %-*s  %-20" PRIu64 "  %s\n", i + 1, width, path ? path : "?",
		       (uint64_t)o->results[i].id, dist);
		free(path);
	}
	printf("%u result%s, %" PRIu64 " vector%s compared, %.3f ms\n", o->count,
	       o->count == 1 ? "" : "s", o->scanned, o->scanned == 1 ? "" : "s",
	       o->seconds * 1e3);
}

static void print_json(const struct search_args *a, const struct search_out *o)
{
	char *path, word[16];
	struct jsonw w;
	uint32_t i;

	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", a->dir);
	jw_u64(&w, "k", a->k);
	if (a->nwhere) {
		jw_array_begin(&w, "where");
		for (i = 0; i < a->nwhere; i++) {
			jw_object_begin(&w, NULL);
			snprintf(word, sizeof(word), "attr%u", a->where[i].word);
			jw_string(&w, "word", word);
			jw_string(&w, "op", where_op_text(a->where[i].op));
			jw_u64(&w, "value", a->where[i].value);
			jw_object_end(&w);
		}
		jw_array_end(&w);
	}
	jw_u64(&w, "count", o->count);
	jw_u64(&w, "scanned", o->scanned);
	jw_double(&w, "ms", o->seconds * 1e3);
	jw_array_begin(&w, "results");
	for (i = 0; i < o->count; i++) {
		path = join_path(a->dir, o->names[i]);
		jw_object_begin(&w, NULL);
		jw_u64(&w, "rank", i + 1);
		if (o->names[i] && path)
			jw_string(&w, "path", path);
		else
			jw_null(&w, "path");
		jw_u64(&w, "id", o->results[i].id);
		jw_u64(&w, "ino", o->results[i].ino);
		jw_float(&w, "distance", o->results[i].distance);
		jw_object_end(&w);
		free(path);
	}
	jw_array_end(&w);
	jw_object_end(&w);
}

static int run_search(const struct search_args *a, int dirfd, uint32_t coll_dim,
		      const float *q, uint32_t dim, struct search_out *o)
{
	const char *why;
	double start;
	int err;

	o->results = calloc(a->k, sizeof(*o->results));
	o->names = calloc(a->k, sizeof(*o->names));
	if (!o->results || !o->names)
		return ctl_fail(ENOMEM, NULL, NULL);
	start = monotonic_seconds();
	err = libvexfs_search_opt(dirfd, q, dim, a->k,
				  a->nwhere ? &a->where[0] : NULL, &a->opts,
				  o->results, &o->count, &o->scanned);
	o->seconds = monotonic_seconds() - start;
	if (err == -ENOENT && a->opts.filter)
		return ctl_fail(err, a->opts.filter, "no filter of that name is loaded");
	if (err == -EOPNOTSUPP && a->opts.filter)
		return ctl_fail(err, a->opts.filter, "this kernel has no BPF filters");
	if (err) {
		why = err == -EINVAL ? ctl_explain_vector(q, dim, coll_dim) : NULL;
		return why ? ctl_fail(err, NULL, "%s", why) : ctl_fail(err, NULL, NULL);
	}
	resolve_names(dirfd, o);
	if (ctl.json)
		print_json(a, o);
	else
		print_text(a, o);
	return CTL_OK;
}

static void release_out(struct search_out *o)
{
	uint32_t i;

	for (i = 0; o->names && i < o->count; i++)
		free(o->names[i]);
	free(o->names);
	free(o->results);
}

int cmd_search(int argc, char **argv)
{
	struct search_args a = { .k = DEFAULT_K };
	struct libvexfs_collection_info info;
	struct search_out o = { 0 };
	uint32_t dim;
	float *q = NULL;
	int rc, dirfd = -1;

	rc = parse_search_args(argc, argv, &a);
	if (!rc)
		rc = load_query(&a, &q, &dim);
	if (!rc)
		rc = ctl_open_collection(a.dir, &dirfd, &info);
	if (!rc)
		rc = run_search(&a, dirfd, info.dim, q, dim, &o);
	release_out(&o);
	free(q);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
