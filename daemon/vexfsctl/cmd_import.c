// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl import: stream a vector file into a collection through batch
 * insert, one file per vector named by its id (the row's own id in CSV
 * and JSON lines, else id-start + row).
 *
 * Formats: .fvecs, .bvecs, .npy (vecio.h), .csv and .jsonl (textvec.h),
 * the text ones also from standard input ("-") or a pipe, so a program
 * making embeddings can stream them in. The data is read one batch at a
 * time, so memory stays at one batch whatever the size of the input. Each batch is all or nothing in the
 * kernel; a failure stops the import with the batches before it in place.
 *
 * Resuming (--resume): before each batch every row's name is looked up;
 * a row whose file exists with the same vector, id and metadata words was
 * imported by an earlier run and is skipped; one that differs stops the
 * import (it is not ours to overwrite). So an import killed at any point
 * is finished by running the same command with --resume, whatever
 * happened to the batch in flight: the kernel either created all of it
 * or none.
 *
 * Upserting (--upsert): rows whose file exists in the collection replace
 * its vector (keeping its id, and its metadata unless --attrs-from gives
 * it), each batch still all or nothing; the others are created.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/clock.h"
#include "common/parse.h"
#include "common/jsonw.h"
#include "common/progress.h"
#include "textvec.h"
#include "libvexfs/vecio.h"

#define DEFAULT_BATCH	1000

enum { OPT_BATCH = OPT_OWN, OPT_ID_START, OPT_ATTRS_FROM, OPT_FORMAT, OPT_RESUME,
       OPT_UPSERT };

struct import_args {
	const char *dir;
	const char *data;
	const char *attrs_from;		/* .ivecs with up to ATTR_WORDS columns */
	const char *format;		/* --format, or NULL: from the name */
	uint32_t batch;
	uint64_t id_start;
	bool quiet;
	bool resume;
	bool upsert;			/* replace the vectors of files that exist */
};

struct import_job {
	const struct import_args *args;
	int dirfd;
	uint32_t dim;
	bool text;			/* CSV or JSON lines, else vecio */
	struct vecio data;
	struct textvec_reader tdata;
	struct vecio attrs;
	bool have_attrs;		/* metadata words go to the kernel */
	uint64_t total;			/* rows in the file (text: lines), or
					 * PROGRESS_TOTAL_UNKNOWN (a stream) */
	uint64_t rows;			/* rows read from the file */
	/* one batch */
	float *vecs;
	uint64_t *ids;
	uint64_t *words;		/* batch * VEXFS_ATTR_WORDS */
	int32_t *raw_attrs;		/* batch * attrs.dim, as read */
	float *check;			/* --resume: a stored vector */
	uint32_t failed_rows;		/* rows of the call that failed */
	uint64_t done;			/* rows inserted */
	uint64_t skipped;		/* rows found already imported */
	struct progress progress;
};

static int parse_import_args(int argc, char **argv, struct import_args *a)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "id-start", required_argument, NULL, OPT_ID_START },
		{ "attrs-from", required_argument, NULL, OPT_ATTRS_FROM },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "upsert", no_argument, NULL, OPT_UPSERT },
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
		case OPT_FORMAT:
			if (!vecio_format_parse(optarg) && strcasecmp(optarg, "csv") &&
			    strcasecmp(optarg, "jsonl"))
				return ctl_usage_error("--format wants fvecs, bvecs, npy, csv or jsonl, not '%s'",
						       optarg);
			if (vecio_format_parse(optarg) == VECIO_IVECS)
				return ctl_usage_error("--format ivecs: integers are metadata (--attrs-from), not vectors");
			a->format = optarg;
			break;
		case OPT_RESUME:
			a->resume = true;
			break;
		case OPT_UPSERT:
			a->upsert = true;
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
	rc = ctl_want_args(argc, argv, 2, "DIR and DATA (.fvecs, .bvecs, .npy, .csv or .jsonl)");
	if (rc)
		return rc;
	a->dir = argv[optind];
	a->data = argv[optind + 1];
	if (a->resume && a->upsert)
		return ctl_usage_error("--resume and --upsert: choose one (--upsert overwrites what --resume would skip)");
	return CTL_OK;
}

static enum textvec_format text_format(const struct import_args *a)
{
	if (a->format)
		return !strcasecmp(a->format, "csv") ? TEXTVEC_CSV :
		       !strcasecmp(a->format, "jsonl") ? TEXTVEC_JSONL : 0;
	return textvec_format_of(a->data);
}

static int open_text(struct import_job *j, enum textvec_format format,
		     uint32_t coll_dim)
{
	int err;

	if (j->args->attrs_from)
		return ctl_usage_error("--attrs-from is for .fvecs, .bvecs and .npy; CSV and JSON lines carry their own attr0..attr3");
	j->text = true;
	j->have_attrs = true;
	j->dim = coll_dim;
	err = textvec_open(&j->tdata, j->args->data, format);
	if (err)
		return ctl_fail_msg(err, "%s", j->tdata.err);
	if (!textvec_count_rows(j->args->data, format, &j->total))
		j->total = PROGRESS_TOTAL_UNKNOWN;
	return CTL_OK;
}

static int open_data(struct import_job *j, uint32_t coll_dim)
{
	enum textvec_format tformat = text_format(j->args);
	int err;

	if (tformat)
		return open_text(j, tformat, coll_dim);
	if (textvec_is_stdin(j->args->data))
		return ctl_usage_error("standard input (-) is read as text: give --format csv or --format jsonl");
	err = vecio_open_format(&j->data, j->args->data,
				j->args->format ? vecio_format_parse(j->args->format) : 0);
	if (err)
		return ctl_fail_msg(err, "%s%s", j->data.err,
				    err == -EINVAL && strstr(j->data.err, "unknown file format") ?
				    "; for text give .csv or .jsonl, or --format" : "");
	if (j->data.elem != VECIO_FLOAT32)
		return ctl_fail_msg(EINVAL, "%s: holds integers; want float vectors (.fvecs, .bvecs or .npy)",
				    j->args->data);
	if (j->data.dim != coll_dim)
		return ctl_fail(EINVAL, j->args->dir, "%s has dimension %u, collection has %u",
				j->args->data, j->data.dim, coll_dim);
	if (j->data.rows && j->args->id_start - 1 > UINT64_MAX - j->data.rows)
		return ctl_usage_error("--id-start %" PRIu64 " leaves no room for %" PRIu64 " ids",
				       j->args->id_start, j->data.rows);
	j->dim = coll_dim;
	j->total = j->data.rows;
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
	if (j->have_attrs && !j->text)
		j->raw_attrs = malloc(n * j->attrs.dim * sizeof(*j->raw_attrs));
	j->check = malloc(j->dim * sizeof(*j->check));
	if (!j->vecs || !j->ids || !j->words || !j->check ||
	    (j->have_attrs && !j->text && !j->raw_attrs))
		return ctl_fail(ENOMEM, NULL, "a batch of %zu vectors", n);
	return CTL_OK;
}

static void release_job(struct import_job *j)
{
	free(j->vecs);
	free(j->ids);
	free(j->words);
	free(j->raw_attrs);
	free(j->check);
	if (j->text)
		textvec_close(&j->tdata);
	else
		vecio_close(&j->data);
	if (j->have_attrs && !j->text)
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
						    j->args->attrs_from, j->rows + i, v);
			j->words[i * VEXFS_ATTR_WORDS + c] = (uint64_t)v;
		}
	}
	return CTL_OK;
}

/* The id of a row without one of its own. */
static int default_id(struct import_job *j, uint64_t row, uint64_t *id)
{
	*id = j->args->id_start + row;
	if (*id < j->args->id_start)
		return ctl_usage_error("--id-start %" PRIu64 " leaves no room for row %" PRIu64,
				       j->args->id_start, row);
	return CTL_OK;
}

/* Up to a batch of rows from a CSV or JSON lines file. */
static int read_text_batch(struct import_job *j, size_t *n)
{
	struct textvec_row row;
	int got, rc;

	for (*n = 0; *n < j->args->batch; (*n)++) {
		got = textvec_next(&j->tdata, j->vecs + *n * j->dim, j->dim, &row);
		if (got < 0)
			return ctl_fail_msg(got, "%s", j->tdata.err);
		if (!got)
			break;
		if (row.has_id) {
			j->ids[*n] = row.id;
		} else {
			rc = default_id(j, j->rows + *n, &j->ids[*n]);
			if (rc)
				return rc;
		}
		memcpy(j->words + *n * VEXFS_ATTR_WORDS, row.attrs, sizeof(row.attrs));
	}
	return CTL_OK;
}

/* Read the next batch; *n = 0 at the end of the data. */
static int read_batch(struct import_job *j, size_t *n)
{
	ssize_t got;
	size_t i;
	int rc;

	if (j->text) {
		rc = read_text_batch(j, n);
		j->rows += *n;
		return rc;
	}
	got = vecio_read(&j->data, j->vecs, j->args->batch);
	if (got < 0)
		return ctl_fail_msg((int)got, "%s", j->data.err);
	*n = (size_t)got;
	for (i = 0; i < *n; i++)
		j->ids[i] = j->args->id_start + j->rows + i;
	rc = j->have_attrs && *n ? read_attrs(j, *n) : CTL_OK;
	j->rows += *n;
	return rc;
}

/* --- resuming ------------------------------------------------------------ */

/* Whether the file name holds exactly the row's vector, id and words. */
static bool same_as_row(struct import_job *j, int fd, size_t i)
{
	uint64_t id, attrs[VEXFS_ATTR_WORDS];

	if (libvexfs_vector_get(fd, j->check, j->dim, &id, attrs))
		return false;
	return id == j->ids[i] &&
	       !memcmp(j->check, j->vecs + i * j->dim, j->dim * sizeof(float)) &&
	       !memcmp(attrs, j->words + i * VEXFS_ATTR_WORDS, sizeof(attrs));
}

/*
 * Row i's file exists: *same says whether an earlier run imported it (and
 * the row is to be skipped). Returns the exit status.
 */
static int check_existing(struct import_job *j, size_t i, const char *name,
			  bool *same)
{
	int fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return ctl_fail(errno, j->args->dir, "id %" PRIu64 ": cannot open the existing file %s",
				j->ids[i], name);
	*same = same_as_row(j, fd, i);
	close(fd);
	if (*same)
		return CTL_OK;
	return ctl_fail(EEXIST, j->args->dir,
			"id %" PRIu64 ": file %s exists with another vector, id or metadata; not overwriting it (%" PRIu64 " imported, %" PRIu64 " skipped before it)",
			j->ids[i], name, j->done, j->skipped);
}

static void move_row(struct import_job *j, size_t to, size_t from)
{
	if (to == from)
		return;
	memcpy(j->vecs + to * j->dim, j->vecs + from * j->dim, j->dim * sizeof(float));
	j->ids[to] = j->ids[from];
	memcpy(j->words + to * VEXFS_ATTR_WORDS, j->words + from * VEXFS_ATTR_WORDS,
	       VEXFS_ATTR_WORDS * sizeof(*j->words));
}

/* --resume: drop the rows of the batch an earlier run imported. */
static int skip_imported(struct import_job *j, size_t *n)
{
	char name[24];
	struct stat st;
	size_t i, kept = 0;
	bool same;
	int rc;

	for (i = 0; i < *n; i++) {
		snprintf(name, sizeof(name), "%" PRIu64, j->ids[i]);
		if (fstatat(j->dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
			if (errno != ENOENT)
				return ctl_fail(errno, j->args->dir, "id %" PRIu64, j->ids[i]);
			move_row(j, kept++, i);
			continue;
		}
		rc = check_existing(j, i, name, &same);
		if (rc)
			return rc;
		j->skipped++;
	}
	*n = kept;
	return CTL_OK;
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

	err = (j->args->upsert ? libvexfs_batch_upsert : libvexfs_batch_insert)
		(j->dirfd, j->ids + from, j->vecs + (size_t)from * j->dim,
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
	j->failed_rows = n;
	return err;
}

/*
 * Out of space: one file per vector needs an inode each, and a filesystem
 * made for ordinary files runs out of them while df shows free space.
 */
static int fail_no_space(struct import_job *j, int err)
{
	struct statvfs st;

	/* A failed batch is taken back whole: its inodes are free again. */
	if (!statvfs(j->args->dir, &st) && st.f_ffree < j->failed_rows)
		return ctl_fail(err, j->args->dir,
				"out of inodes: a batch of %u files, %llu inodes free of %llu, %" PRIu64
				" vectors imported; each vector is a file: make the filesystem with "
				"mkfs.vexfs -T vectors (or more inodes with -N or -i)",
				j->failed_rows, (unsigned long long)st.f_ffree,
				(unsigned long long)st.f_files, j->done);
	return ctl_fail(err, j->args->dir,
			"%" PRIu64 " vectors imported: the filesystem is full (a smaller --batch "
			"leaves less of a failed batch undone)", j->done);
}

/* bad is the row within the batch; its id names the file and the row. */
static int fail_insert(struct import_job *j, int err, uint32_t bad)
{
	const float *vec;
	uint32_t v;

	if (err == -ENOSPC)
		return fail_no_space(j, err);
	if (bad == UINT32_MAX)
		return ctl_fail(err, j->args->dir, "%" PRIu64 " vectors imported before the failure",
				j->done);
	vec = j->vecs + (size_t)bad * j->dim;
	v = first_nonfinite(vec, j->dim);
	if (err == -EEXIST)
		return ctl_fail(err, j->args->dir, "id %" PRIu64 ": a file of that name exists; %" PRIu64 " vectors imported before it%s",
				j->ids[bad], j->done,
				j->args->resume ? "" :
				" (--resume skips the rows an earlier import made, --upsert replaces their vectors)");
	if (err == -EINVAL && v < j->dim)
		return ctl_fail(err, j->args->dir, "id %" PRIu64 ": component %u is not finite; %" PRIu64 " vectors imported before it",
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

	if (!ctl.json && j->text) {
		printf("imported %" PRIu64 " vectors of dimension %u into %s", j->done, j->dim,
		       j->args->dir);
		if (j->skipped)
			printf(", skipped %" PRIu64 " already there", j->skipped);
		printf(" in %.2f s: %.0f vectors/s, %.2f MB/s\n", secs, vps, mbps);
		return;
	}
	if (!ctl.json) {
		printf("imported %" PRIu64 " vectors of dimension %u into %s (ids %" PRIu64 "..%" PRIu64 ")",
		       j->done, j->dim, j->args->dir, first, j->rows ? first + j->rows - 1 : first);
		if (j->skipped)
			printf(", skipped %" PRIu64 " already there", j->skipped);
		printf(" in %.2f s: %.0f vectors/s, %.2f MB/s\n", secs, vps, mbps);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", j->args->dir);
	jw_string(&w, "file", j->args->data);
	jw_string(&w, "format", j->text ? (j->tdata.format == TEXTVEC_CSV ? "csv" : "jsonl") :
		  vecio_format_name(j->data.format));
	jw_u64(&w, "dim", j->dim);
	jw_u64(&w, "imported", j->done);
	jw_u64(&w, "skipped", j->skipped);
	jw_u64(&w, "rows", j->rows);
	if (!j->text) {
		jw_u64(&w, "first_id", first);
		jw_u64(&w, "last_id", j->rows ? first + j->rows - 1 : first);
	}
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
		       "import", j->total);
	for (;;) {
		rc = read_batch(j, &n);
		if (rc || !n)
			break;
		if (j->args->resume)
			rc = skip_imported(j, &n);
		if (rc)
			break;
		err = n ? insert_rows(j, 0, (uint32_t)n, &bad) : 0;
		if (err) {
			progress_finish(&j->progress, j->rows);
			return fail_insert(j, err, bad);
		}
		progress_update(&j->progress, j->rows);
	}
	progress_finish(&j->progress, j->rows);
	if (!rc)
		print_summary(j, monotonic_seconds() - start);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	struct import_args a = { .batch = DEFAULT_BATCH, .id_start = 1 };
	struct import_job j = { .args = &a, .dirfd = -1 };
	struct libvexfs_collection_info info;
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
