// SPDX-License-Identifier: GPL-2.0
/* Admit entries whose attrs[1] lies in [lo, hi). */
#include "filter.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 lo = 0;
const volatile __u64 hi = ~0ULL;

SEC("struct_ops/range_admit")
int BPF_PROG(range_admit, const struct vexfs_filter_ctx *cand)
{
	__u64 v = cand->attrs[1];

	return v >= lo && v < hi;
}

VEXFS_FILTER(range, range_admit);
