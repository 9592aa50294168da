// SPDX-License-Identifier: GPL-2.0
/*
 * Error reporting and collection helpers shared by the vexfsctl commands
 * (see vexfsctl.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/jsonw.h"
#include "libvexfs/vecio.h"

struct ctl_state ctl;

int ctl_common_option(int opt)
{
	switch (opt) {
	case OPT_JSON:
		ctl.json = true;
		return CTL_CONTINUE;
	case 'h':
		ctl_print_usage(stdout);
		return CTL_OK;
	default:
		/* getopt has already said what was wrong. */
		fprintf(stderr, "Try 'vexfsctl --help'.\n");
		return CTL_USAGE;
	}
}

static void json_error(int err, const char *message, bool usage)
{
	const char *name = err ? strerrorname_np(err) : NULL;
	struct jsonw w;

	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_object_begin(&w, "error");
	if (ctl.cmd)
		jw_string(&w, "command", ctl.cmd);
	else
		jw_null(&w, "command");
	jw_string(&w, "message", message);
	if (name)
		jw_string(&w, "errno", name);
	jw_i64(&w, "code", err);
	jw_bool(&w, "usage", usage);
	jw_object_end(&w);
	jw_object_end(&w);
	fflush(stdout);
}

static void report(int err, bool usage, const char *message)
{
	if (ctl.cmd)
		fprintf(stderr, "vexfsctl: %s: %s\n", ctl.cmd, message);
	else
		fprintf(stderr, "vexfsctl: %s\n", message);
	if (usage)
		fprintf(stderr, "Try 'vexfsctl --help'.\n");
	if (ctl.json)
		json_error(err, message, usage);
}

int ctl_fail(int err, const char *what, const char *detail, ...)
{
	char msg[1024], extra[512] = "";
	va_list ap;

	if (err < 0)
		err = -err;
	if (detail) {
		va_start(ap, detail);
		vsnprintf(extra, sizeof(extra), detail, ap);
		va_end(ap);
	}
	snprintf(msg, sizeof(msg), "%s%s%s%s%s%s", what ? what : "",
		 what ? ": " : "", strerror(err), *extra ? " (" : "", extra,
		 *extra ? ")" : "");
	report(err, false, msg);
	return CTL_FAIL;
}

int ctl_fail_msg(int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(err < 0 ? -err : err, false, msg);
	return CTL_FAIL;
}

int ctl_usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(0, true, msg);
	return CTL_USAGE;
}

int ctl_want_args(int argc, char **argv, int n, const char *names)
{
	int have = argc - optind;

	if (have < n)
		return ctl_usage_error("missing %s", names);
	if (have > n)
		return ctl_usage_error("unexpected argument '%s'", argv[optind + n]);
	return CTL_OK;
}

const char *ctl_explain_enotty(int fd, bool is_file)
{
	struct libvexfs_version v;

	if (libvexfs_version(fd, &v))
		return "not on a VexFS filesystem";
	if (is_file)
		return "its directory is not a vector collection";
	return "not a vector collection; make one with 'vexfsctl collection create'";
}

uint32_t first_nonfinite(const float *vec, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n && isfinite(vec[i]); i++)
		;
	return i;
}

const char *ctl_explain_vector(const float *vec, uint32_t dim, uint32_t coll_dim)
{
	static char why[96];
	uint32_t bad;

	if (dim != coll_dim) {
		snprintf(why, sizeof(why), "dimension %u, collection has %u",
			 dim, coll_dim);
		return why;
	}
	bad = first_nonfinite(vec, dim);
	if (bad < dim) {
		snprintf(why, sizeof(why), "component %u is %s: vectors must be finite",
			 bad, isnan(vec[bad]) ? "NaN" : "infinite");
		return why;
	}
	return NULL;
}

static int open_collection(const char *dir, int *fd,
			   struct libvexfs_collection_info *info, bool shape)
{
	int err;

	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return ctl_fail(errno, dir, NULL);
	err = shape ? libvexfs_collection_shape(*fd, info) :
		      libvexfs_collection_info(*fd, info);
	if (err == -ENOTTY)
		ctl_fail(err, dir, "%s", ctl_explain_enotty(*fd, false));
	else if (err)
		ctl_fail(err, dir, NULL);
	if (err) {
		close(*fd);
		*fd = -1;
		return CTL_FAIL;
	}
	return CTL_OK;
}

int ctl_open_collection(const char *dir, int *fd,
			struct libvexfs_collection_info *info)
{
	return open_collection(dir, fd, info, false);
}

int ctl_open_collection_shape(const char *dir, int *fd,
			      struct libvexfs_collection_info *info)
{
	return open_collection(dir, fd, info, true);
}

int ctl_collection_of_file(const char *file, struct libvexfs_collection_info *info)
{
	char *copy = strdup(file);
	int fd, rc;

	if (!copy)
		return ctl_fail(ENOMEM, NULL, NULL);
	rc = ctl_open_collection_shape(dirname(copy), &fd, info);
	if (rc == CTL_OK)
		close(fd);
	free(copy);
	return rc;
}

/* Rows [row, row + n) of an open float vector file into a malloc'ed array. */
static int read_rows(struct vecio *v, uint64_t row, uint64_t n, float **vecs)
{
	ssize_t got;
	int err;

	if (v->elem != VECIO_FLOAT32)
		return ctl_fail_msg(EINVAL, "%s: holds integers; want float vectors (.fvecs or .npy)",
				    v->path);
	if (row >= v->rows || n > v->rows - row)
		return ctl_fail_msg(ERANGE, "%s: row %llu is out of range: the file has %llu rows",
				    v->path, (unsigned long long)row,
				    (unsigned long long)v->rows);
	err = vecio_seek(v, row);
	if (err)
		return ctl_fail_msg(err, "%s", v->err);
	*vecs = malloc(n * v->dim * sizeof(float));
	if (!*vecs)
		return ctl_fail(ENOMEM, NULL, NULL);
	got = vecio_read(v, *vecs, n);
	if (got >= 0 && (uint64_t)got == n)
		return CTL_OK;
	free(*vecs);
	*vecs = NULL;
	return ctl_fail_msg(got < 0 ? (int)got : EIO, "%s", v->err);
}

int ctl_read_vector_rows(const char *path, uint64_t row, uint64_t *n,
			 float **vecs, uint32_t *dim)
{
	struct vecio v;
	int err, rc;

	err = vecio_open(&v, path);
	if (err)
		return ctl_fail_msg(err, "%s", v.err);
	if (!*n)
		*n = v.rows > row ? v.rows - row : 0;
	rc = *n ? read_rows(&v, row, *n, vecs)
		: ctl_fail_msg(ERANGE, "%s: holds no vectors", v.path);
	*dim = v.dim;
	vecio_close(&v);
	return rc;
}

int ctl_read_vector_row(const char *path, uint64_t row, float **vec,
			uint32_t *dim)
{
	uint64_t n = 1;

	return ctl_read_vector_rows(path, row, &n, vec, dim);
}
