// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl index build | index drop: build a collection's HNSW index here
 * and publish it to the kernel, or drop it (search becomes exact).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_parse.h"
#include "indexer.h"
#include "jsonw.h"

enum { OPT_M = OPT_OWN, OPT_EFC, OPT_THREADS, OPT_SEED };

static void show_progress(void *ctx, const char *phase, uint64_t done,
			  uint64_t total)
{
	(void)ctx;
	if (!ctl.json && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%-8s %llu/%llu", phase,
			(unsigned long long)done, (unsigned long long)total);
}

static void print_built(const char *dir, const struct vexfs_index_stats *st)
{
	struct jsonw w;

	if (!ctl.json) {
		if (isatty(STDERR_FILENO))
			fputc('\n', stderr);
		printf("%s: index published: %llu vectors, %llu bytes, read %.2f s, "
		       "build %.2f s, publish %.2f s\n", dir,
		       (unsigned long long)st->vectors,
		       (unsigned long long)st->graph_bytes, st->read_seconds,
		       st->build_seconds, st->publish_seconds);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_u64(&w, "vectors", st->vectors);
	jw_u64(&w, "graph_bytes", st->graph_bytes);
	jw_u64(&w, "seq", st->seq);
	jw_double(&w, "read_seconds", st->read_seconds);
	jw_double(&w, "build_seconds", st->build_seconds);
	jw_double(&w, "publish_seconds", st->publish_seconds);
	jw_object_end(&w);
}

static int parse_build_args(int argc, char **argv, struct vexfs_index_params *p)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "m", required_argument, NULL, OPT_M },
		{ "ef-construction", required_argument, NULL, OPT_EFC },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_M:
			if (parse_u32_range(optarg, 2, 128, &p->m))
				return ctl_usage_error("--m wants 2..128, not '%s'", optarg);
			break;
		case OPT_EFC:
			if (parse_u32_range(optarg, 1, 4096, &p->ef_construction))
				return ctl_usage_error("--ef-construction wants 1..4096, not '%s'", optarg);
			break;
		case OPT_THREADS:
			if (parse_u32_range(optarg, 1, 256, &p->threads))
				return ctl_usage_error("--threads wants 1..256, not '%s'", optarg);
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &p->seed))
				return ctl_usage_error("--seed wants a number, not '%s'", optarg);
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	return ctl_want_args(argc, argv, 1, "DIR");
}

int cmd_index_build(int argc, char **argv)
{
	struct vexfs_index_params p = { .progress = show_progress };
	struct vexfs_collection_info info;
	struct vexfs_index_stats st;
	int rc, fd, err;

	rc = parse_build_args(argc, argv, &p);
	if (rc)
		return rc;
	rc = ctl_open_collection(argv[optind], &fd, &info);
	if (rc)
		return rc;
	err = vexfs_index_build(fd, &p, &st);
	close(fd);
	if (err == -ENODATA)
		return ctl_fail(err, argv[optind], "the collection holds no vectors");
	if (err)
		return ctl_fail(err, argv[optind], NULL);
	print_built(argv[optind], &st);
	return CTL_OK;
}

int cmd_index_drop(int argc, char **argv)
{
	struct vexfs_collection_info info;
	int opt, rc, fd, err;
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };

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
	err = vexfs_index_drop(fd);
	close(fd);
	if (err)
		return ctl_fail(err, argv[optind], err == -ENODATA ? "no index to drop" : NULL);
	if (!ctl.json)
		printf("%s: index dropped; search is exact\n", argv[optind]);
	else
		printf("{\"dir\":\"%s\",\"dropped\":true}\n", argv[optind]);
	return CTL_OK;
}
