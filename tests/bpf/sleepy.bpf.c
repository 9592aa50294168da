// SPDX-License-Identifier: GPL-2.0
/*
 * A filter whose program is sleepable: the module must refuse it at load,
 * since filters run inside kernel_fpu_begin() with the collection locked.
 * Built for the guest tests only, never installed.
 */
#include "filter.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops.s/sleepy_admit")
int BPF_PROG(sleepy_admit, const struct vexfs_filter_ctx *cand)
{
	return 1;
}

VEXFS_FILTER(sleepy, sleepy_admit);
