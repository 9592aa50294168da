// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl put | get | del: the vector of one file in a collection.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/parse.h"
#include "common/jsonw.h"

enum { OPT_VECTOR = OPT_OWN, OPT_VECTOR_FILE, OPT_ROW, OPT_ID, OPT_ATTR };

struct put_args {
	const char *file;
	const char *literal;		/* --vector */
	const char *vector_file;	/* --vector-file */
	uint64_t row;
	bool row_given;
	uint64_t id;			/* 0: keep the file's id, or its inode number */
	uint64_t attrs[VEXFS_ATTR_WORDS];
	bool attrs_given;		/* else the file's metadata is kept */
};

/* Why a vector call on a file failed, where the errno alone is vague. */
static const char *file_failure_detail(int err, int fd, const float *vec,
				       uint32_t dim, uint32_t coll_dim)
{
	switch (err) {
	case -ENOTTY:
		return ctl_explain_enotty(fd, true);
	case -EINVAL:
		return vec ? ctl_explain_vector(vec, dim, coll_dim) : NULL;
	case -ENODATA:
		return "the file has no vector";
	case -EBUSY:
		return "the file is linked into another collection and has its vector there";
	case -ENOENT:
		return "the file was deleted meanwhile";
	default:
		return NULL;
	}
}

static int fail_on_file(int err, const char *file, int fd, const float *vec,
			uint32_t dim, uint32_t coll_dim)
{
	const char *detail = file_failure_detail(err, fd, vec, dim, coll_dim);

	if (detail)
		return ctl_fail(err, file, "%s", detail);
	return ctl_fail(err, file, NULL);
}

static void print_vector_text(const float *vec, uint32_t dim)
{
	char num[32];
	uint32_t i;

	for (i = 0; i < dim; i++) {
		jw_format_float(num, sizeof(num), vec[i]);
		printf("%s%s", i ? "," : "", num);
	}
	putchar('\n');
}

static void print_attrs_text(const uint64_t *attrs)
{
	int i;

	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		printf("%s%llu", i ? " " : "", (unsigned long long)attrs[i]);
	putchar('\n');
}

static void json_attrs(struct jsonw *w, const uint64_t *attrs)
{
	int i;

	jw_array_begin(w, "attrs");
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		jw_u64(w, NULL, attrs[i]);
	jw_array_end(w);
}

/* --- put ---------------------------------------------------------------- */

static int parse_put_args(int argc, char **argv, struct put_args *a)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "vector", required_argument, NULL, OPT_VECTOR },
		{ "vector-file", required_argument, NULL, OPT_VECTOR_FILE },
		{ "row", required_argument, NULL, OPT_ROW },
		{ "id", required_argument, NULL, OPT_ID },
		{ "attr", required_argument, NULL, OPT_ATTR },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_VECTOR:
			a->literal = optarg;
			break;
		case OPT_VECTOR_FILE:
			a->vector_file = optarg;
			break;
		case OPT_ROW:
			if (parse_u64(optarg, &a->row))
				return ctl_usage_error("--row wants a row number, not '%s'", optarg);
			a->row_given = true;
			break;
		case OPT_ID:
			if (parse_u64(optarg, &a->id) || !a->id)
				return ctl_usage_error("--id wants a non-zero number, not '%s'", optarg);
			break;
		case OPT_ATTR:
			if (parse_attr_assign(optarg, a->attrs))
				return ctl_usage_error("--attr wants W=V with W in 0..%d, not '%s'",
						       VEXFS_ATTR_WORDS - 1, optarg);
			a->attrs_given = true;
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	rc = ctl_want_args(argc, argv, 1, "FILE");
	if (rc)
		return rc;
	a->file = argv[optind];
	if (!a->literal == !a->vector_file)
		return ctl_usage_error("give the vector with either --vector or --vector-file");
	if (a->row_given && !a->vector_file)
		return ctl_usage_error("--row goes with --vector-file");
	return CTL_OK;
}

static int load_put_vector(const struct put_args *a, float **vec, uint32_t *dim)
{
	if (a->vector_file)
		return ctl_read_vector_row(a->vector_file, a->row, vec, dim);
	if (parse_vector(a->literal, vec, dim))
		return ctl_usage_error("--vector wants numbers separated by commas, e.g. \"0.5,1,-2\"");
	return CTL_OK;
}

/* Open for writing, creating the file if needed; *created says which. */
static int open_for_put(const char *file, bool *created)
{
	int fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(file, O_RDWR | O_CLOEXEC);
	return fd;
}

static void print_put(const struct put_args *a, uint32_t dim, uint64_t id,
		      const uint64_t *attrs, bool created)
{
	struct jsonw w;

	if (!ctl.json) {
		printf("%s: vector set: dim %u, id %llu%s\n", a->file, dim,
		       (unsigned long long)id, created ? " (file created)" : "");
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "file", a->file);
	jw_u64(&w, "dim", dim);
	jw_u64(&w, "id", id);
	json_attrs(&w, attrs);
	jw_bool(&w, "created", created);
	jw_object_end(&w);
}

static int put_vector(const struct put_args *a, const float *vec, uint32_t dim,
		      uint32_t coll_dim)
{
	uint64_t id = a->id, attrs[VEXFS_ATTR_WORDS];
	bool created;
	float *check;
	int fd, err;

	/* Checked here too, so that a wrong vector leaves no empty file behind. */
	if (dim != coll_dim)
		return ctl_fail(EINVAL, a->file, "dimension %u, collection has %u",
				dim, coll_dim);
	fd = open_for_put(a->file, &created);
	if (fd < 0)
		return ctl_fail(errno, a->file, NULL);
	err = libvexfs_vector_set(fd, vec, dim, a->id,
				  a->attrs_given ? a->attrs : NULL);
	if (err) {
		fail_on_file(err, a->file, fd, vec, dim, coll_dim);
		if (created)
			unlink(a->file);
		close(fd);
		return CTL_FAIL;
	}
	/* What was kept (the id, the metadata) is read back to be shown. */
	memcpy(attrs, a->attrs, sizeof(attrs));
	check = malloc((size_t)dim * sizeof(float));
	if (check)
		libvexfs_vector_get(fd, check, dim, &id, attrs);
	free(check);
	close(fd);
	print_put(a, dim, id, attrs, created);
	return CTL_OK;
}

int cmd_put(int argc, char **argv)
{
	struct put_args a = { 0 };
	struct libvexfs_collection_info info;
	uint32_t dim;
	float *vec;
	int rc;

	rc = parse_put_args(argc, argv, &a);
	if (rc)
		return rc;
	rc = load_put_vector(&a, &vec, &dim);
	if (rc)
		return rc;
	rc = ctl_collection_of_file(a.file, &info);
	if (!rc)
		rc = put_vector(&a, vec, dim, info.dim);
	free(vec);
	return rc;
}

/* --- get ---------------------------------------------------------------- */

/*
 * outside: the name is in no collection, and the vector was read through
 * the file's xattrs: kept with the file, or held through another name.
 */
static void print_get(const char *file, const float *vec, uint32_t dim,
		      uint64_t id, const uint64_t *attrs, bool outside)
{
	struct jsonw w;
	uint32_t i;

	if (!ctl.json) {
		printf("file    %s\n", file);
		if (outside)
			printf("where   no collection through this name: kept with the file (searched by no one until it moves into a collection of dimension %u), or held through another of its names\n",
			       dim);
		printf("id      %llu\nattrs   ", (unsigned long long)id);
		print_attrs_text(attrs);
		printf("dim     %u\nvector  ", dim);
		print_vector_text(vec, dim);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "file", file);
	jw_bool(&w, "in_collection", !outside);
	jw_u64(&w, "id", id);
	json_attrs(&w, attrs);
	jw_u64(&w, "dim", dim);
	jw_array_begin(&w, "vector");
	for (i = 0; i < dim; i++)
		jw_float(&w, NULL, vec[i]);
	jw_array_end(&w);
	jw_object_end(&w);
}

/* Parse the single FILE argument of get and del. */
static int parse_file_arg(int argc, char **argv, const char **file)
{
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 1, "FILE");
	if (!rc)
		*file = argv[optind];
	return rc;
}

/* Is the file's directory a collection? Errors say yes, for get to report. */
static bool in_collection(const char *file)
{
	struct libvexfs_collection_info info;
	char *copy = strdup(file);
	int fd, err = 0;

	if (copy) {
		fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = fd < 0 ? 0 : libvexfs_collection_shape(fd, &info);
		if (fd >= 0)
			close(fd);
	}
	free(copy);
	return err != -ENOTTY;
}

/* A name in no collection: the file's vector through its xattrs, if any. */
static int get_outside(const char *file)
{
	uint64_t id, attrs[VEXFS_ATTR_WORDS];
	uint32_t dim;
	float *vec;
	int err;

	err = libvexfs_vector_read_xattrs(file, &vec, &dim, &id, attrs);
	if (err == -ENODATA)
		return ctl_fail(ENODATA, file, "has no vector (it is in no collection)");
	if (err)
		return ctl_fail(-err, file, NULL);
	print_get(file, vec, dim, id, attrs, true);
	free(vec);
	return CTL_OK;
}

int cmd_get(int argc, char **argv)
{
	struct libvexfs_collection_info info;
	uint64_t id, attrs[VEXFS_ATTR_WORDS];
	const char *file;
	float *vec;
	int rc, fd, err;

	rc = parse_file_arg(argc, argv, &file);
	if (rc)
		return rc;
	if (!in_collection(file))
		return get_outside(file);
	rc = ctl_collection_of_file(file, &info);
	if (rc)
		return rc;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctl_fail(errno, file, NULL);
	vec = malloc((size_t)info.dim * sizeof(float));
	err = vec ? libvexfs_vector_get(fd, vec, info.dim, &id, attrs) : -ENOMEM;
	if (err)
		rc = fail_on_file(err, file, fd, NULL, info.dim, info.dim);
	else
		print_get(file, vec, info.dim, id, attrs, false);
	free(vec);
	close(fd);
	return rc;
}

/* --- del ---------------------------------------------------------------- */

int cmd_del(int argc, char **argv)
{
	const char *file;
	struct jsonw w;
	int rc, fd, err;

	rc = parse_file_arg(argc, argv, &file);
	if (rc)
		return rc;
	fd = open(file, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ctl_fail(errno, file, NULL);
	err = libvexfs_vector_del(fd);
	if (err) {
		rc = fail_on_file(err, file, fd, NULL, 0, 0);
		close(fd);
		return rc;
	}
	close(fd);
	if (!ctl.json) {
		printf("%s: vector deleted (the file stays)\n", file);
		return CTL_OK;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "file", file);
	jw_bool(&w, "deleted", true);
	jw_object_end(&w);
	return CTL_OK;
}
