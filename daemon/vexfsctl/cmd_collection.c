// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl collection create | collection info (stats) | version
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/parse.h"
#include "common/jsonw.h"

enum { OPT_DIM = OPT_OWN, OPT_METRIC };

static const char *elem_type_name(unsigned int elem_type)
{
	return elem_type == VEXFS_ELEM_F32 ? "float32" : "unknown";
}

/* Why creating a collection failed, where the errno alone is vague. */
static const char *create_failure_detail(int err, int fd)
{
	switch (err) {
	case -EEXIST:
		return "it is a collection already";
	case -EPERM:
		return "only the directory's owner may make it a collection";
	case -ENOTTY:
		return ctl_explain_enotty(fd, false);
	default:
		return NULL;
	}
}

static void print_created(const char *dir, uint32_t dim, int metric)
{
	struct jsonw w;

	if (!ctl.json) {
		printf("%s: collection created: dim %u, metric %s\n", dir, dim,
		       libvexfs_metric_name(metric));
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_u64(&w, "dim", dim);
	jw_string(&w, "metric", libvexfs_metric_name(metric));
	jw_string(&w, "elem_type", "float32");
	jw_object_end(&w);
}

/*
 * Make the collection; a directory that did not exist is made first, and
 * removed again if it cannot become a collection.
 */
static int create_collection(const char *dir, uint32_t dim, int metric)
{
	bool made = mkdir(dir, 0755) == 0;
	const char *detail;
	int fd, err;

	if (!made && errno != EEXIST)
		return ctl_fail(errno, dir, NULL);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ctl_fail(errno, dir, NULL);
	err = libvexfs_collection_create(fd, dim, (unsigned int)metric);
	detail = err ? create_failure_detail(err, fd) : NULL;
	close(fd);
	if (err) {
		if (made)
			rmdir(dir);
		return detail ? ctl_fail(err, dir, "%s", detail) : ctl_fail(err, dir, NULL);
	}
	print_created(dir, dim, metric);
	return CTL_OK;
}

int cmd_collection_create(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "dim", required_argument, NULL, OPT_DIM },
		{ "metric", required_argument, NULL, OPT_METRIC },
		{ 0 }
	};
	int opt, rc, metric = VEXFS_METRIC_L2;
	uint32_t dim = 0;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_DIM:
			if (parse_u32_range(optarg, 1, VEXFS_MAX_DIM, &dim))
				return ctl_usage_error("--dim wants 1..%u, not '%s'",
						       VEXFS_MAX_DIM, optarg);
			break;
		case OPT_METRIC:
			metric = libvexfs_metric_parse(optarg);
			if (metric < 0)
				return ctl_usage_error("--metric wants l2, ip or cosine, not '%s'",
						       optarg);
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
	if (!dim)
		return ctl_usage_error("--dim N is required");
	return create_collection(argv[optind], dim, metric);
}

static void print_info_text(const char *dir, const struct libvexfs_collection_info *c)
{
	printf("collection  %s\n", dir);
	printf("dim         %u\n", c->dim);
	printf("metric      %s\n", libvexfs_metric_name(c->metric) ?: "unknown");
	printf("elements    %s\n", elem_type_name(c->elem_type));
	printf("vectors     %llu\n", (unsigned long long)c->count);
	printf("slots       %llu (%llu free)\n", (unsigned long long)c->slots,
	       (unsigned long long)(c->slots - c->count));
	printf("table       %llu bytes\n", (unsigned long long)c->bytes);
	printf("indexed     %llu\n", (unsigned long long)c->indexed);
	printf("unindexed   %llu\n", (unsigned long long)c->unindexed);
	if (c->index_time) {
		time_t t = (time_t)c->index_time;
		char when[64];

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", localtime(&t));
		printf("published   %s\n", when);
	}
	if (c->index_memory)
		printf("index       %.1f MiB in memory, walked on %s\n",
		       c->index_memory / 1048576.0,
		       c->walk_codes ? "SQ8 codes" : "floats");
}

static void print_info_json(const char *dir, const struct libvexfs_collection_info *c)
{
	const char *metric = libvexfs_metric_name(c->metric);
	struct jsonw w;

	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_u64(&w, "dim", c->dim);
	if (metric)
		jw_string(&w, "metric", metric);
	else
		jw_u64(&w, "metric", c->metric);
	jw_string(&w, "elem_type", elem_type_name(c->elem_type));
	jw_u64(&w, "count", c->count);
	jw_u64(&w, "slots", c->slots);
	jw_u64(&w, "bytes", c->bytes);
	jw_u64(&w, "indexed", c->indexed);
	jw_u64(&w, "unindexed", c->unindexed);
	jw_u64(&w, "seq", c->seq);
	if (c->index_time)
		jw_u64(&w, "index_time", c->index_time);
	else
		jw_null(&w, "index_time");
	jw_u64(&w, "index_memory", c->index_memory);
	if (c->index_memory)
		jw_string(&w, "index_walk", c->walk_codes ? "codes" : "floats");
	else
		jw_null(&w, "index_walk");
	jw_object_end(&w);
}

int cmd_collection_info(int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };
	struct libvexfs_collection_info info;
	int opt, rc, fd;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 1, "DIR");
	if (rc)
		return rc;
	rc = ctl_open_collection(argv[optind], &fd, &info);
	if (rc)
		return rc;
	close(fd);
	if (ctl.json)
		print_info_json(argv[optind], &info);
	else
		print_info_text(argv[optind], &info);
	return CTL_OK;
}

static const struct {
	uint64_t bit;
	const char *name;
} capability_names[] = {
	{ VEXFS_CAP_COLLECTIONS, "collections" },
	{ VEXFS_CAP_BATCH_INSERT, "batch-insert" },
	{ VEXFS_CAP_EXACT_SEARCH, "exact-search" },
	{ VEXFS_CAP_PREDICATE, "predicate" },
	{ VEXFS_CAP_HNSW, "hnsw" },
	{ VEXFS_CAP_BPF_FILTER, "bpf-filter" },
	{ VEXFS_CAP_WHERE_AND, "where-and" },
	{ VEXFS_CAP_MULTI_QUERY, "multi-query" },
};

#define N_CAPS (sizeof(capability_names) / sizeof(capability_names[0]))

static void print_version_text(const struct libvexfs_version *v)
{
	size_t i;

	printf("abi          %u\n", v->abi_version);
	printf("capabilities");
	for (i = 0; i < N_CAPS; i++)
		if (v->capabilities & capability_names[i].bit)
			printf(" %s", capability_names[i].name);
	printf("\nmax dim      %u\n", v->max_dim);
	printf("max k        %u\n", v->max_k);
	printf("max batch    %u\n", v->max_batch);
	printf("attr words   %u\n", v->attr_words);
}

static void print_version_json(const struct libvexfs_version *v)
{
	struct jsonw w;
	size_t i;

	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_u64(&w, "abi_version", v->abi_version);
	jw_u64(&w, "capability_bits", v->capabilities);
	jw_array_begin(&w, "capabilities");
	for (i = 0; i < N_CAPS; i++)
		if (v->capabilities & capability_names[i].bit)
			jw_string(&w, NULL, capability_names[i].name);
	jw_array_end(&w);
	jw_u64(&w, "max_dim", v->max_dim);
	jw_u64(&w, "max_k", v->max_k);
	jw_u64(&w, "max_batch", v->max_batch);
	jw_u64(&w, "attr_words", v->attr_words);
	jw_object_end(&w);
}

int cmd_version(int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };
	struct libvexfs_version v;
	int opt, rc, fd, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 1, "PATH (any file or directory of a VexFS mount)");
	if (rc)
		return rc;
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctl_fail(errno, argv[optind], NULL);
	err = libvexfs_version(fd, &v);
	close(fd);
	if (err == -ENOTTY)
		return ctl_fail(err, argv[optind], "not on a VexFS filesystem");
	if (err)
		return ctl_fail(err, argv[optind], NULL);
	if (ctl.json)
		print_version_json(&v);
	else
		print_version_text(&v);
	return CTL_OK;
}
