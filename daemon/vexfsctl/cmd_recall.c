// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl recall: run every query of a file through the search ioctl and
 * compare the answers with ground truth (an .ivecs of neighbour ids, as
 * the ANN benchmark sets ship it): recall@k and queries per second.
 *
 * Ground truth ids are row numbers of the base file, usually from 0;
 * imported files have ids from --id-start (1 by default), hence
 * --id-offset: truth id = result id - offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/clock.h"
#include "common/parse.h"
#include "common/jsonw.h"
#include "common/progress.h"
#include "libvexfs/vecio.h"

#define DEFAULT_K	10

enum { OPT_ID_OFFSET = OPT_OWN, OPT_EF, OPT_EXACT };

struct recall_args {
	const char *dir;
	const char *queries;
	const char *truth;
	uint32_t k;
	uint64_t id_offset;
	struct libvexfs_search_opts opts;
};

struct recall_job {
	const struct recall_args *args;
	int dirfd;
	struct libvexfs_collection_info info;
	struct vecio queries;
	struct vecio truth;
	float *query;
	int32_t *truth_row;
	struct vexfs_search_result *results;
	uint64_t hits;
	uint64_t scanned;
	uint64_t done;
	double search_seconds;
};

static int parse_recall_args(int argc, char **argv, struct recall_args *a)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "id-offset", required_argument, NULL, OPT_ID_OFFSET },
		{ "ef", required_argument, NULL, OPT_EF },
		{ "exact", no_argument, NULL, OPT_EXACT },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hk:", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (parse_u32_range(optarg, 1, VEXFS_MAX_K, &a->k))
				return ctl_usage_error("-k wants 1..%u, not '%s'", VEXFS_MAX_K, optarg);
			break;
		case OPT_ID_OFFSET:
			if (parse_u64(optarg, &a->id_offset))
				return ctl_usage_error("--id-offset wants a number, not '%s'", optarg);
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
	rc = ctl_want_args(argc, argv, 3, "DIR, QUERIES and GROUNDTRUTH");
	if (rc)
		return rc;
	a->dir = argv[optind];
	a->queries = argv[optind + 1];
	a->truth = argv[optind + 2];
	return CTL_OK;
}

static int open_inputs(struct recall_job *j)
{
	const struct recall_args *a = j->args;
	int err;

	err = vecio_open(&j->queries, a->queries);
	if (err)
		return ctl_fail_msg(err, "%s", j->queries.err);
	if (j->queries.elem != VECIO_FLOAT32)
		return ctl_fail_msg(EINVAL, "%s: holds integers; want float queries (.fvecs or .npy)",
				    a->queries);
	if (j->queries.dim != j->info.dim)
		return ctl_fail(EINVAL, a->dir, "%s has dimension %u, collection has %u",
				a->queries, j->queries.dim, j->info.dim);
	err = vecio_open(&j->truth, a->truth);
	if (err)
		return ctl_fail_msg(err, "%s", j->truth.err);
	if (j->truth.elem != VECIO_INT32)
		return ctl_fail_msg(EINVAL, "%s: want integer neighbour ids (.ivecs)", a->truth);
	if (j->truth.dim < a->k)
		return ctl_usage_error("%s has %u neighbours per query, fewer than k = %u",
				       a->truth, j->truth.dim, a->k);
	if (j->truth.rows < j->queries.rows)
		return ctl_fail_msg(EINVAL, "%s: %" PRIu64 " rows of ground truth for %" PRIu64 " queries",
				    a->truth, j->truth.rows, j->queries.rows);
	j->query = malloc((size_t)j->queries.dim * sizeof(*j->query));
	j->truth_row = malloc((size_t)j->truth.dim * sizeof(*j->truth_row));
	j->results = calloc(a->k, sizeof(*j->results));
	if (!j->query || !j->truth_row || !j->results)
		return ctl_fail(ENOMEM, NULL, NULL);
	return CTL_OK;
}

/* Results that are among the first k true neighbours. */
static uint32_t count_hits(const struct recall_job *j, uint32_t count)
{
	uint64_t off = j->args->id_offset;
	uint32_t i, t, hits = 0;

	for (i = 0; i < count; i++) {
		uint64_t id = j->results[i].id;

		if (id < off)
			continue;
		for (t = 0; t < j->args->k; t++) {
			if (j->truth_row[t] >= 0 && (uint64_t)j->truth_row[t] == id - off) {
				hits++;
				break;
			}
		}
	}
	return hits;
}

static int read_pair(struct recall_job *j)
{
	ssize_t got = vecio_read(&j->queries, j->query, 1);

	if (got != 1)
		return ctl_fail_msg(got < 0 ? (int)got : EIO, "%s", j->queries.err);
	got = vecio_read(&j->truth, j->truth_row, 1);
	if (got != 1)
		return ctl_fail_msg(got < 0 ? (int)got : EIO, "%s", j->truth.err);
	return CTL_OK;
}

static int run_queries(struct recall_job *j)
{
	uint32_t count;
	uint64_t scanned;
	const char *why;
	double start;
	int rc, err;

	for (j->done = 0; j->done < j->queries.rows; j->done++) {
		rc = read_pair(j);
		if (rc)
			return rc;
		start = monotonic_seconds();
		err = libvexfs_search_opt(j->dirfd, j->query, j->queries.dim, j->args->k,
					  NULL, &j->args->opts, j->results, &count,
					  &scanned);
		j->search_seconds += monotonic_seconds() - start;
		if (err) {
			why = err == -EINVAL ?
			      ctl_explain_vector(j->query, j->queries.dim, j->info.dim) : NULL;
			return ctl_fail(err, j->args->dir, "query %" PRIu64 "%s%s", j->done,
					why ? ": " : "", why ? why : "");
		}
		j->hits += count_hits(j, count);
		j->scanned += scanned;
	}
	return CTL_OK;
}

static void print_recall(const struct recall_job *j)
{
	double n = (double)j->done;
	double recall = n ? j->hits / (n * j->args->k) : 0;
	double qps = j->search_seconds > 0 ? n / j->search_seconds : 0;
	double ms = n ? j->search_seconds / n * 1e3 : 0;
	struct jsonw w;

	if (!ctl.json) {
		printf("recall@%u = %.4f (%" PRIu64 " queries, %.0f vectors compared per query, %.1f queries/s, %.3f ms per query)\n",
		       j->args->k, recall, j->done, n ? j->scanned / n : 0, qps, ms);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", j->args->dir);
	jw_u64(&w, "k", j->args->k);
	jw_u64(&w, "queries", j->done);
	jw_u64(&w, "hits", j->hits);
	jw_double(&w, "recall", recall);
	jw_double(&w, "queries_per_s", qps);
	jw_double(&w, "ms_per_query", ms);
	jw_double(&w, "scanned_per_query", n ? j->scanned / n : 0);
	jw_object_end(&w);
}

static void release_job(struct recall_job *j)
{
	free(j->query);
	free(j->truth_row);
	free(j->results);
	vecio_close(&j->queries);
	vecio_close(&j->truth);
	if (j->dirfd >= 0)
		close(j->dirfd);
}

int cmd_recall(int argc, char **argv)
{
	struct recall_args a = { .k = DEFAULT_K, .id_offset = 1 };
	struct recall_job j = { .args = &a, .dirfd = -1 };
	int rc;

	rc = parse_recall_args(argc, argv, &a);
	if (!rc)
		rc = ctl_open_collection_shape(a.dir, &j.dirfd, &j.info);
	if (!rc)
		rc = open_inputs(&j);
	if (!rc)
		rc = run_queries(&j);
	if (!rc)
		print_recall(&j);
	release_job(&j);
	return rc;
}
