/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The build parameters `index build --local` and `index write` share:
 * their options, their parsing and the progress line a build draws.
 */
#ifndef VEXFSCTL_INDEX_PARAMS_H
#define VEXFSCTL_INDEX_PARAMS_H

#include "vexfsctl.h"
#include "libvexfs/indexer.h"

/* Option values of the parameters; a command's own options follow. */
enum {
	OPT_M = OPT_OWN, OPT_EFC, OPT_THREADS, OPT_SEED, OPT_KEEP,
	OPT_INDEX_OWN,
};

#define INDEX_PARAM_OPTIONS \
	{ "m", required_argument, NULL, OPT_M }, \
	{ "ef-construction", required_argument, NULL, OPT_EFC }, \
	{ "threads", required_argument, NULL, OPT_THREADS }, \
	{ "seed", required_argument, NULL, OPT_SEED }, \
	{ "keep-pruned", required_argument, NULL, OPT_KEEP }

/* The defaults of both commands: filled lists, progress on a terminal. */
#define INDEX_PARAMS_DEFAULT \
	{ .keep_pruned = true, .progress = index_show_progress }

/*
 * opt, when it is a build parameter, into p: CTL_CONTINUE, or CTL_USAGE
 * for a bad value (reported). CTL_OK when opt is not a build parameter.
 */
int index_param_option(int opt, struct libvexfs_index_params *p);

/* libvexfs_index_params.progress: "PHASE done/total" redrawn on stderr. */
void index_show_progress(void *ctx, const char *phase, uint64_t done,
			 uint64_t total);

#endif /* VEXFSCTL_INDEX_PARAMS_H */
