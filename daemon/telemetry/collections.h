/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the telemetry server says about collections: per directory, the
 * vectors, how many a published index covers, and how old that index is,
 * as Prometheus gauges (/metrics) and as the "collections" array of
 * /api/stats, which the dashboard shows as one panel each.
 */
#ifndef TELEMETRY_COLLECTIONS_H
#define TELEMETRY_COLLECTIONS_H

#include <limits.h>
#include <stdio.h>

#include "common/jsonw.h"
#include "libvexfs/libvexfs.h"

struct tel_collection {
	char dir[PATH_MAX];
	struct libvexfs_collection_info info;
};

/* Report these directories from now on (copied). 0, or -1 out of memory. */
int tel_collections_set(const char *const *dirs, unsigned int n);

void tel_collections_prometheus(FILE *f);
void tel_collections_json(struct jsonw *w);

#endif /* TELEMETRY_COLLECTIONS_H */
