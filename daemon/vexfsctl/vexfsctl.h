/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the vexfsctl commands share: global options, error reporting in
 * one format, and opening collections with errors a person understands.
 *
 * Exit status: 0 success, 1 the operation failed, 2 the command line was
 * wrong. Error messages go to stderr as
 *   vexfsctl: COMMAND: [WHAT: ]strerror[ (detail)]
 * and, with --json, also to stdout as {"error": {...}}.
 */
#ifndef VEXFSCTL_H
#define VEXFSCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libvexfs/libvexfs.h"

enum {
	CTL_OK = 0,
	CTL_FAIL = 1,
	CTL_USAGE = 2,
	CTL_CONTINUE = -1,	/* an option was handled, keep parsing */
};

struct ctl_state {
	const char *cmd;	/* the command, for messages; NULL before one is known */
	bool json;		/* --json: machine-readable stdout */
};

extern struct ctl_state ctl;

/* Long-option values above any character, so they never clash with one. */
enum {
	OPT_JSON = 0x100,
	OPT_OWN = 0x200,	/* commands number their options from here */
};

/* Every command's option table starts with these. */
#define CTL_COMMON_OPTIONS \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "help", no_argument, NULL, 'h' }

/*
 * The options all commands share, and getopt's errors. Returns
 * CTL_CONTINUE, or the exit status to leave with (help shown, or a
 * usage error).
 */
int ctl_common_option(int opt);

/* Print the usage text (in vexfsctl.c). */
void ctl_print_usage(FILE *f);

/* Report an operation that failed with -err; detail may be NULL. Returns CTL_FAIL. */
__attribute__((format(printf, 3, 4)))
int ctl_fail(int err, const char *what, const char *detail, ...);

/* Report a failure in a message of its own (err only for JSON). Returns CTL_FAIL. */
__attribute__((format(printf, 2, 3)))
int ctl_fail_msg(int err, const char *fmt, ...);

/* Report a wrong command line. Returns CTL_USAGE. */
__attribute__((format(printf, 1, 2)))
int ctl_usage_error(const char *fmt, ...);

/* Positional arguments after options: exactly n, or a usage error. */
int ctl_want_args(int argc, char **argv, int n, const char *names);

/*
 * Open dir as a collection and read its description. On failure the
 * error is reported (ENOTTY explained) and the exit status returned.
 */
int ctl_open_collection(const char *dir, int *fd,
			struct libvexfs_collection_info *info);
/*
 * The same, for dim, metric and elem_type only: right after a mount it
 * does not make the module read the whole collection.
 */
int ctl_open_collection_shape(const char *dir, int *fd,
			      struct libvexfs_collection_info *info);

/* The collection holding file (its parent directory): its shape, as above. */
int ctl_collection_of_file(const char *file,
			   struct libvexfs_collection_info *info);

/*
 * Why a vector call on a collection or a file in one said ENOTTY: not
 * VexFS at all, or not a collection.
 */
const char *ctl_explain_enotty(int fd, bool is_file);

/*
 * Why the kernel refused a vector with EINVAL: wrong dimension or a
 * value that is not finite; NULL if neither explains it.
 */
const char *ctl_explain_vector(const float *vec, uint32_t dim, uint32_t coll_dim);

/* Index of the first NaN or infinity in vec, or n if there is none. */
uint32_t first_nonfinite(const float *vec, uint32_t n);

/* Read row `row` of a float vector file into a malloc'ed vector. */
int ctl_read_vector_row(const char *path, uint64_t row, float **vec,
			uint32_t *dim);

/*
 * Read *n rows from `row` (*n 0: every row from there, *n set to their
 * number) of a float vector file into a malloc'ed array.
 */
int ctl_read_vector_rows(const char *path, uint64_t row, uint64_t *n,
			 float **vecs, uint32_t *dim);

/*
 * The commands. Each takes its own argv, argv[0] being the command word,
 * and returns the exit status.
 */
int cmd_collection_create(int argc, char **argv);
int cmd_collection_info(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_recall(int argc, char **argv);
int cmd_index_build(int argc, char **argv);
int cmd_index_status(int argc, char **argv);
int cmd_index_drop(int argc, char **argv);
int cmd_index_write(int argc, char **argv);
int cmd_index_publish(int argc, char **argv);
int cmd_filter_load(int argc, char **argv);
int cmd_filter_list(int argc, char **argv);
int cmd_filter_unload(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_slow(int argc, char **argv);

/*
 * Open the telemetry maps pinned under pin_dir (NULL: the default). On
 * failure the error is reported and the exit status returned.
 */
struct tel_maps;
int ctl_open_telemetry(const char *pin_dir, struct tel_maps *m);

#endif /* VEXFSCTL_H */
