/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * BPF search filters: the struct_ops type the module registers and the
 * context each filter call sees. Shared by the module, the BPF programs in
 * bpf/filters/ and vexfsctl.
 *
 * A filter is a BPF struct_ops map of type vexfs_filter_ops:
 *
 *	SEC(".struct_ops.link")
 *	struct vexfs_filter_ops tagged = {
 *		.admit = (void *)tagged_admit,
 *		.name  = "tagged",
 *	};
 *
 * Attaching the map registers it under its name (unique: a second filter
 * of the same name is refused with EEXIST); a search names the filter in
 * vexfs_ioc_search.filter. admit() runs for every candidate the caller may
 * already read and that matches the built-in predicate; a non-zero return
 * admits the candidate, zero drops it. Nothing else is read from the
 * return value.
 *
 * BPF programs take both structs from the vmlinux.h generated with the
 * module's BTF (bpf/filters/Makefile) rather than from this header.
 */
#ifndef _UAPI_LINUX_VEXFS_FILTER_H
#define _UAPI_LINUX_VEXFS_FILTER_H

#include <linux/types.h>

#define VEXFS_FILTER_NAME_LEN	16	/* with the terminating NUL */
#define VEXFS_FILTER_ATTR_WORDS	4	/* = VEXFS_ATTR_WORDS */

/* What a filter sees of one candidate: 64 bytes, read-only. */
struct vexfs_filter_ctx {
	__u64 id;			/* the entry's 64-bit id */
	__u64 ino;			/* its inode number */
	__u32 uid;			/* owner, in the initial user namespace */
	__u32 gid;
	__u32 mode;			/* file type and permission bits */
	__u32 pad;
	__u64 attrs[VEXFS_FILTER_ATTR_WORDS];	/* the metadata words */
};

struct vexfs_filter_ops {
	/* Non-zero: the candidate may be returned. */
	int (*admit)(const struct vexfs_filter_ctx *ctx);
	/* NUL-terminated, non-empty: what searches call the filter. */
	char name[VEXFS_FILTER_NAME_LEN];
};

/* Where vexfsctl pins the link of each loaded filter, by name. */
#define VEXFS_FILTER_PIN_DIR	"/sys/fs/bpf/vexfs/filters"

#endif /* _UAPI_LINUX_VEXFS_FILTER_H */
