/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BPF search filters (struct_ops vexfs_filter_ops), see filter.c.
 */
#ifndef _VEXFS_FILTER_H
#define _VEXFS_FILTER_H

#include <linux/types.h>
#include <uapi/vexfs_filter.h>

struct vexfs_slot;

int vexfs_filter_init(void);
bool vexfs_filter_available(void);

/*
 * Look a filter up by name for one search. On success *ops is the filter
 * and the returned cookie must be given to vexfs_filter_put() when the
 * search is done with it; the filter stays callable until then, across
 * sleeps. Errors: -ENOENT (no such filter), -EOPNOTSUPP (no filters).
 */
int vexfs_filter_get(const char *name, const struct vexfs_filter_ops **ops,
		     int *cookie);
void vexfs_filter_put(int cookie);

bool vexfs_filter_admit(const struct vexfs_filter_ops *ops,
			const struct vexfs_slot *s);

#endif /* _VEXFS_FILTER_H */
