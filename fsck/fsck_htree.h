/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsck.vexfs: hashed directories' trees, see fsck_htree.c.
 */
#ifndef VEXFS_FSCK_HTREE_H
#define VEXFS_FSCK_HTREE_H

#include <stdint.h>

#include "fsck.h"

/* A name's hash under a tree's key, as the module's vexfs_htree_hash(). */
uint32_t fsck_htree_hash(const uint8_t key[16], const char *name,
			 unsigned int len);
/* Pass 2: check dir's tree against its rules and entries, rebuild on consent. */
void fsck_htree_check(struct fsck *f, uint64_t dir);
/* After fsck itself named a file in dir: bring its tree up to date. */
int fsck_htree_refresh(struct fsck *f, uint64_t dir);

#endif /* VEXFS_FSCK_HTREE_H */
