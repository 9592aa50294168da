// SPDX-License-Identifier: GPL-2.0
/* Admit entries whose id is residue modulo modulus: a sample of 1 in modulus. */
#include "filter.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 modulus = 2;
const volatile __u64 residue = 0;

SEC("struct_ops/idmod_admit")
int BPF_PROG(idmod_admit, const struct vexfs_filter_ctx *cand)
{
	if (!modulus)
		return 0;
	return cand->id % modulus == residue;
}

VEXFS_FILTER(idmod, idmod_admit);
