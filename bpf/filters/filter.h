/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the filters in this directory. The types (struct
 * vexfs_filter_ops, struct vexfs_filter_ctx) come from vmlinux.h, which
 * carries the module's BTF; include/uapi/vexfs_filter.h documents them.
 *
 * Each filter is configured through const volatile globals, set before
 * load: vexfsctl filter load FILE.bpf.o --set NAME=VALUE.
 */
#ifndef VEXFS_BPF_FILTER_H
#define VEXFS_BPF_FILTER_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* One filter per object: its admit program and its struct_ops map. */
#define VEXFS_FILTER(fname, prog)					\
	SEC(".struct_ops.link")						\
	struct vexfs_filter_ops fname = {				\
		.admit = (void *)prog,					\
		.name = #fname,						\
	}

#endif /* VEXFS_BPF_FILTER_H */
