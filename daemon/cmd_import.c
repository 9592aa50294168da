// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl import: stream a vector file into a collection through batch
 * insert, one file per vector named by its id (id-start + row).
 *
 * The data is read one batch at a time, so memory stays at one batch
 * whatever the size of the file. Each batch is all or nothing in the
 * kernel; a failure stops the import with the rows before it in place.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_parse.h"
#include "jsonw.h"
#include "progress.h"
#include "vecio.h"

#define DEFAULT_BATCH	1000

enum { OPT_BATCH = OPT_OWN, OPT_ID_START, OPT_ATTRS_FROM };

struct import_args {
	const char *dir;
	const char *data;
	const char *attrs_from;		/* .ivecs with up to ATTR_WORDS columns */
	uint32_t batch;
	uint64_t id_start;
	bool quiet;
};

struct import_job {
	const struct import_args *args;
	int dirfd;
	uint32_t dim;
	struct vecio data;
	struct vecio attrs;
	bool have_attrs;
	/* one batch */
	float *vecs;
	uint64_t *ids;
	uint64_t *words;		/* batch * VEXFS_ATTR_WORDS */
	int32_t *raw_attrs;		/* batch * attrs.dim, as read */
	uint64_t done;			/* rows inserted */
	struct progress progress;
};

static int parse_import_args(int argc, char **argv, struct import_args *a)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "id-start", required_argument, NULL, OPT_ID_START },
		{ "attrs-from", required_argument, NULL, OPT_ATTRS_FROM },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_BATCH:
			if (parse_u32_range(optarg, 1, VEXFS_MAX_BATCH, &a->batch))
				return ctl_usage_error("--batch wants 1..%u, not '%s'",
						       VEXFS_MAX_BATCH, optarg);
			break;
		case OPT_ID_START:
			if (parse_u64(optarg, &a->id_start) || !a->id_start)
				return ctl_usage_error("--id-start wants a number from 1 (id 0 is not valid), not '%s'",
						       optarg);
			break;
		case OPT_ATTRS_FROM:
			a->attrs_from = optarg;
			break;
		case 'q':
			a->quiet = true;
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	rc = ctl_want_args(argc, argv, 2, "DIR and DATA (.fvecs or .npy)");
	if (rc)
		return rc;
	a->dir = argv[optind];
	a->data = argv[optind + 1];
	return CTL_OK;
}

static int open_data(struct import_job *j, uint32_t coll_dim)
{
	int err = vecio_open(&j->data, j->args->data);

	if (err)
		return ctl_fail_msg(err, "%s", j->data.err);
	if (j->data.elem != VECIO_FLOAT32)
		return ctl_fail_msg(EINVAL, "%s: holds integers; want float vectors (.fvecs or .npy)",
				    j->args->data);
	if (j->data.dim != coll_dim)
		return ctl_fail(EINVAL, j->args->dir, "%s has dimension %u, collection has %u",
				j->args->data, j->data.dim, coll_dim);
	if (j->data.rows && j->args->id_start - 1 > UINT64_MAX - j->data.rows)
		return ctl_usage_error("--id-start %" PRIu64 " leaves no room for %" PRIu64 " ids",
				       j->args->id_start, j->data.rows);
	j->dim = coll_dim;
	return CTL_OK;
}

static int open_attrs(struct import_job *j)
{
	const char *path = j->args->attrs_from;
	int err;

	if (!path)
		return CTL_OK;
	err = vecio_open(&j->attrs, path);
	if (err)
		return ctl_fail_msg(err, "%s", j->attrs.err);
	j->have_attrs = true;
	if (j->attrs.elem != VECIO_INT32 || j->attrs.dim > VEXFS_ATTR_WORDS)
		return ctl_fail_msg(EINVAL, "%s: want an .ivecs file of at most %d columns (the metadata words)",
				    path, VEXFS_ATTR_WORDS);
	if (j->attrs.rows < j->data.rows)
		return ctl_fail_msg(EINVAL, "%s: %" PRIu64 " rows of attributes for %" PRIu64 " vectors",
				    path, j->attrs.rows, j->data.rows);
	return CTL_OK;
}

static int alloc_batch(struct import_job *j)
{
	size_t n = j->args->batch;

	j->vecs = malloc(n * j->dim * sizeof(*j->vecs));
	j->ids = malloc(n * sizeof(*j->ids));
	j->words = calloc(n * VEXFS_ATTR_WORDS, sizeof(*j->words));
	if (j->have_attrs)
		j->raw_attrs = malloc(n * j->attrs.dim * sizeof(*j->raw_attrs));
	if (!j->vecs || !j->ids || !j->words || (j->have_attrs && !j->raw_attrs))
		return ctl_fail(ENOMEM, NULL, "a batch of %zu vectors", n);
	return CTL_OK;
}

static void release_job(struct import_job *j)
{
	free(j->vecs);
	free(j->ids);
	free(j->words);
	free(j->raw_attrs);
	vecio_close(&j->data);
	if (j->have_attrs)
		vecio_close(&j->attrs);
	if (j->dirfd >= 0)
		close(j->dirfd);
}

/* The attribute rows of the batch, widened to metadata words. */
static int read_attrs(struct import_job *j, size_t n)
{
	uint32_t cols = j->attrs.dim;
	ssize_t got = vecio_read(&j->attrs, j->raw_attrs, n);
	size_t i, c;

	if (got < 0 || (size_t)got != n)
		return ctl_fail_msg(got < 0 ? (int)got : EIO, "%s",
				    got < 0 ? j->attrs.err : "attribute file ended early");
	for (i = 0; i < n; i++) {
		for (c = 0; c < cols; c++) {
			int32_t v = j->raw_attrs[i * cols + c];

			if (v < 0)
				return ctl_fail_msg(EINVAL, "%s: row %" PRIu64 ": attribute %d is negative",
						    j->args->attrs_from, j->done + i, v);
			j->words[i * VEXFS_ATTR_WORDS + c] = (uint64_t)v;
		}
	}
	return CTL_OK;
}

/* Read the next batch; *n = 0 at the end of the data. */
static int read_batch(struct import_job *j, size_t *n)
{
	ssize_t got = vecio_read(&j->data, j->vecs, j->args->batch);
	size_t i;

	if (got < 0)
		return ctl_fail_msg((int)got, "%s", j->data.err);
	*n = (size_t)got;
	for (i = 0; i < *n; i++)
		j->ids[i] = j->args->id_start + j->done + i;
	return j->have_attrs && *n ? read_attrs(j, *n) : CTL_OK;
}

/*
 * Insert rows [from, from + n) of the batch. The kernel bounds the bytes
 * of one call (E2BIG) by a limit the ABI does not publish: halve and go on.
 * On failure *bad is the batch row at fault, or UINT32_MAX.
 */
static int insert_rows(struct import_job *j, uint32_t from, uint32_t n,
		       uint32_t *bad)
{
	uint32_t idx;
	int err;

	err = vexfs_batch_insert(j->dirfd, j->ids + from,
				 j->vecs + (size_t)from * j->dim,
				 j->have_attrs ? j->words + (size_t)from * VEXFS_ATTR_WORDS : NULL,
				 n, j->dim, 0, &idx);
	if (err == -E2BIG && n > 1) {
		err = insert_rows(j, from, n / 2, bad);
		return err ? err : insert_rows(j, from + n / 2, n - n / 2, bad);
	}
	if (!err) {
		j->done += n;
		return 0;
	}
	*bad = idx < n ? from + idx : UINT32_MAX;
	return err;
}

/* bad is the row within the batch; its id names the file and the row. */
static int fail_insert(struct import_job *j, int err, uint32_t bad)
{
	const float *vec;
	uint32_t v;

	if (bad == UINT32_MAX)
		return ctl_fail(err, j->args->dir, "%" PRIu64 " vectors imported before the failure",
				j->done);
	vec = j->vecs + (size_t)bad * j->dim;
	v = first_nonfinite(vec, j->dim);
	if (err == -EEXIST)
		return ctl_fail(err, j->args->dir, "id %" PRIu64 ": a file of that name exists; %" PRIu64 " vectors imported before it",
				j->ids[bad], j->done);
	if (err == -EINVAL && v < j->dim)
		return ctl_fail(err, j->args->dir, "id %" PRIu64 ": value %u is not finite; %" PRIu64 " vectors imported before it",
				j->ids[bad], v, j->done);
	return ctl_fail(err, j->args->dir, "id %" PRIu64 "; %" PRIu64 " vectors imported before it",
			j->ids[bad], j->done);
}

static void print_summary(const struct import_job *j, double secs)
{
	double bytes = (double)j->done * j->dim * sizeof(float);
	double vps = secs > 0 ? j->done / secs : 0;
	double mbps = secs > 0 ? bytes / secs / 1e6 : 0;
	uint64_t first = j->args->id_start;
	struct jsonw w;

	if (!ctl.json) {
		printf("imported %" PRIu64 " vectors of dimension %u into %s (ids %" PRIu64 "..%" PRIu64 ") in %.2f s: %.0f vectors/s, %.2f MB/s\n",
		       j->done, j->dim, j->args->dir, first,
		       j->done ? first + j->done - 1 : first, secs, vps, mbps);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", j->args->dir);
	jw_string(&w, "file", j->args->data);
	jw_string(&w, "format", vecio_format_name(j->data.format));
	jw_u64(&w, "dim", j->dim);
	jw_u64(&w, "imported", j->done);
	jw_u64(&w, "first_id", first);
	jw_u64(&w, "last_id", j->done ? first + j->done - 1 : first);
	jw_u64(&w, "batch", j->args->batch);
	jw_double(&w, "seconds", secs);
	jw_double(&w, "vectors_per_s", vps);
	jw_double(&w, "mb_per_s", mbps);
	jw_object_end(&w);
}

static int run_import(struct import_job *j)
{
	double start = monotonic_seconds();
	uint32_t bad;
	size_t n = 0;
	int rc, err;

	progress_start(&j->progress, progress_style_for_stderr(j->args->quiet),
		       "import", j->data.rows);
	for (;;) {
		rc = read_batch(j, &n);
		if (rc || !n)
			break;
		err = insert_rows(j, 0, (uint32_t)n, &bad);
		if (err) {
			progress_finish(&j->progress, j->done);
			return fail_insert(j, err, bad);
		}
		progress_update(&j->progress, j->done);
	}
	progress_finish(&j->progress, j->done);
	if (!rc)
		print_summary(j, monotonic_seconds() - start);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	struct import_args a = { .batch = DEFAULT_BATCH, .id_start = 1 };
	struct import_job j = { .args = &a, .dirfd = -1 };
	struct vexfs_collection_info info;
	int rc;

	rc = parse_import_args(argc, argv, &a);
	if (rc)
		return rc;
	rc = ctl_open_collection(a.dir, &j.dirfd, &info);
	if (!rc)
		rc = open_data(&j, info.dim);
	if (!rc)
		rc = open_attrs(&j);
	if (!rc)
		rc = alloc_batch(&j);
	if (!rc)
		rc = run_import(&j);
	release_job(&j);
	return rc;
}
