// SPDX-License-Identifier: GPL-2.0
/* Admit files owned by uid (in the initial user namespace). */
#include "filter.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 uid = 0;

SEC("struct_ops/owner_admit")
int BPF_PROG(owner_admit, const struct vexfs_filter_ctx *cand)
{
	return cand->uid == uid;
}

VEXFS_FILTER(owner, owner_admit);
