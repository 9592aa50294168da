/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jbd2 journal's on-disk format, as far as mkfs.vexfs and fsck.vexfs
 * need it: the journal superblock, and the block headers and tags that
 * recovery walks. All fields are big-endian. The format is the kernel's
 * (Documentation/filesystems/ext4/journal.rst); the kernel writes it with
 * no optional feature but revoke records.
 */
#ifndef VEXFS_JBD2_H
#define VEXFS_JBD2_H

#include <stdbool.h>
#include <stdint.h>

#define JBD2_MAGIC		0xc03b3998u
#define JBD2_DESCRIPTOR_BLOCK	1
#define JBD2_COMMIT_BLOCK	2
#define JBD2_SUPERBLOCK_V2	4
#define JBD2_REVOKE_BLOCK	5

#define JBD2_FLAG_ESCAPE	1	/* first 4 bytes were the magic */
#define JBD2_FLAG_SAME_UUID	2	/* no 16-byte uuid follows the tag */
#define JBD2_FLAG_LAST_TAG	8

#define JBD2_INCOMPAT_REVOKE	0x1u

struct jbd2_header {
	uint32_t h_magic;
	uint32_t h_blocktype;
	uint32_t h_sequence;
};

struct jbd2_super {
	struct jbd2_header s_header;
	uint32_t s_blocksize;
	uint32_t s_maxlen;		/* blocks in the journal */
	uint32_t s_first;		/* first log block */
	uint32_t s_sequence;		/* first transaction expected */
	uint32_t s_start;		/* first log block in use; 0: empty */
	uint32_t s_errno;
	uint32_t s_feature_compat;
	uint32_t s_feature_incompat;
	uint32_t s_feature_ro_compat;
	uint8_t s_uuid[16];
	uint32_t s_nr_users;
	uint32_t s_dynsuper;
	uint32_t s_max_transaction;
	uint32_t s_max_trans_data;
	uint8_t s_checksum_type;
	uint8_t s_padding2[3];
	uint32_t s_num_fc_blks;
	uint32_t s_head;
	uint32_t s_padding[40];
	uint32_t s_checksum;
	uint8_t s_users[16 * 48];
};

/* A tag in a descriptor block, without the 64bit or csum features. */
struct jbd2_tag {
	uint32_t t_blocknr;
	uint16_t t_checksum;
	uint16_t t_flags;
};

struct jbd2_revoke_header {
	struct jbd2_header r_header;
	uint32_t r_count;		/* bytes used, header included */
};

/* The superblock of an empty journal of @blocks blocks at its first block. */
void vexfs_jbd2_encode_super(void *block, uint32_t blocks,
			     const uint8_t uuid[16]);

#endif
