// SPDX-License-Identifier: GPL-2.0
/* Admit entries that carry every tag of tag_mask in attrs[0]. */
#include "filter.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 tag_mask = 0;

SEC("struct_ops/tags_admit")
int BPF_PROG(tags_admit, const struct vexfs_filter_ctx *cand)
{
	return (cand->attrs[0] & tag_mask) == tag_mask;
}

VEXFS_FILTER(tags, tags_admit);
