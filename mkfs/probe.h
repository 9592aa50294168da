/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Recognising what a device already holds, so that mkfs does not destroy
 * a filesystem by mistake.
 */
#ifndef VEXFS_PROBE_H
#define VEXFS_PROBE_H

#include <stddef.h>

/* How much of the start of a device the probe looks at. */
#define VEXFS_PROBE_BYTES	(68u * 1024)

/*
 * Name of the first known signature in @head, the first @len bytes of a
 * device (zero-filled past its end), or NULL when none is found.
 */
const char *vexfs_probe_signature(const void *head, size_t len);

#endif /* VEXFS_PROBE_H */
