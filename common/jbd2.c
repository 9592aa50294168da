// SPDX-License-Identifier: GPL-2.0
/*
 * An empty jbd2 journal: a superblock saying the log is clean (s_start
 * 0), as mke2fs writes one. The kernel's jbd2 takes it from there.
 */
#include <endian.h>
#include <string.h>

#include "jbd2.h"

_Static_assert(sizeof(struct jbd2_super) == 1024, "jbd2 superblock size");
_Static_assert(sizeof(struct jbd2_tag) == 8, "jbd2 tag size");

void vexfs_jbd2_encode_super(void *block, uint32_t blocks,
			     const uint8_t uuid[16])
{
	struct jbd2_super *js = block;

	memset(js, 0, sizeof(*js));
	js->s_header.h_magic = htobe32(JBD2_MAGIC);
	js->s_header.h_blocktype = htobe32(JBD2_SUPERBLOCK_V2);
	js->s_blocksize = htobe32(4096);
	js->s_maxlen = htobe32(blocks);
	js->s_first = htobe32(1);
	js->s_sequence = htobe32(1);
	js->s_nr_users = htobe32(1);
	memcpy(js->s_uuid, uuid, 16);
}
