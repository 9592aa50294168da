// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs, before pass 1: the jbd2 journal (VEXFS_FEATURE_COMPAT_JOURNAL).
 *
 * A journal whose superblock has a non-zero s_start holds transactions the
 * module committed but did not yet write in place. Like e2fsck, a repairing
 * run replays them first, the way the kernel's fs/jbd2/recovery.c does:
 * one pass finds the committed transactions and the revoke records, a
 * second writes every logged block that no later revoke cancels. A
 * read-only run (-n) leaves the journal alone and says so: what it then
 * reports is the state before the replay.
 *
 * Log block numbers count from the start of the journal area; block 0 is
 * the journal superblock.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "jbd2.h"

struct revoke {
	uint32_t block;			/* filesystem block */
	uint32_t sequence;		/* last transaction revoking it */
};

struct journal {
	struct fsck *f;
	struct jbd2_super *sb;
	uint32_t first, maxlen;
	struct revoke *revokes;
	size_t nrevokes, cap;
	uint8_t *block;
	/* replay */
	uint32_t sequence;		/* transaction being replayed */
	uint64_t written;
	int err;
};

static int read_log(struct journal *j, uint32_t rel, void *buf)
{
	return fsck_read_block(j->f, j->f->l.journal_start + rel, buf);
}

static uint32_t next_log(const struct journal *j, uint32_t rel)
{
	return rel + 1 < j->maxlen ? rel + 1 : j->first;
}

static bool is_log_block(const void *buf, uint32_t type, uint32_t sequence)
{
	const struct jbd2_header *h = buf;

	return be32toh(h->h_magic) == JBD2_MAGIC &&
	       be32toh(h->h_blocktype) == type &&
	       be32toh(h->h_sequence) == sequence;
}

static uint32_t block_type(const void *buf)
{
	const struct jbd2_header *h = buf;

	return be32toh(h->h_magic) == JBD2_MAGIC ? be32toh(h->h_blocktype) : 0;
}

/* Walk the tags of a descriptor block; returns the number of data blocks. */
static uint32_t for_each_tag(const uint8_t *desc,
			     void (*fn)(struct journal *, uint32_t, uint16_t, uint32_t),
			     struct journal *j, uint32_t data)
{
	size_t off = sizeof(struct jbd2_header);
	uint32_t n = 0;

	while (off + sizeof(struct jbd2_tag) <= VEXFS_BLOCK_SIZE) {
		const struct jbd2_tag *tag = (const void *)(desc + off);
		uint16_t flags = be16toh(tag->t_flags);

		if (fn)
			fn(j, be32toh(tag->t_blocknr), flags, data);
		n++;
		data = next_log(j, data);
		off += sizeof(*tag);
		if (!(flags & JBD2_FLAG_SAME_UUID))
			off += 16;
		if (flags & JBD2_FLAG_LAST_TAG)
			break;
	}
	return n;
}

static bool revoked(const struct journal *j, uint32_t block, uint32_t sequence)
{
	size_t i;

	for (i = 0; i < j->nrevokes; i++)
		if (j->revokes[i].block == block)
			return j->revokes[i].sequence >= sequence;
	return false;
}

static int add_revoke(struct journal *j, uint32_t block, uint32_t sequence)
{
	size_t i;

	for (i = 0; i < j->nrevokes; i++) {
		if (j->revokes[i].block == block) {
			if (j->revokes[i].sequence < sequence)
				j->revokes[i].sequence = sequence;
			return 0;
		}
	}
	if (j->nrevokes == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 256;
		struct revoke *r = realloc(j->revokes, cap * sizeof(*r));

		if (!r)
			return -1;
		j->revokes = r;
		j->cap = cap;
	}
	j->revokes[j->nrevokes++] = (struct revoke){ block, sequence };
	return 0;
}

static int scan_revoke_block(struct journal *j, const uint8_t *buf,
			     uint32_t sequence)
{
	const struct jbd2_revoke_header *r = (const void *)buf;
	uint32_t used = be32toh(r->r_count), off;

	if (used > VEXFS_BLOCK_SIZE)
		used = VEXFS_BLOCK_SIZE;
	for (off = sizeof(*r); off + 4 <= used; off += 4) {
		uint32_t block;

		memcpy(&block, buf + off, 4);
		if (add_revoke(j, be32toh(block), sequence))
			return -1;
	}
	return 0;
}

/*
 * Pass one: from s_start, transaction after transaction while each ends
 * with its commit block; collect revokes. Returns the sequence after the
 * last complete transaction.
 */
static int scan(struct journal *j, uint32_t *end_sequence)
{
	uint32_t sequence = be32toh(j->sb->s_sequence);
	uint32_t pos = be32toh(j->sb->s_start), walked = 0;

	for (;;) {
		bool committed = false;
		uint32_t type;

		while (walked++ < j->maxlen) {
			if (read_log(j, pos, j->block))
				return -1;
			type = block_type(j->block);
			if (!is_log_block(j->block, type, sequence))
				break;
			pos = next_log(j, pos);
			if (type == JBD2_DESCRIPTOR_BLOCK) {
				uint32_t n = for_each_tag(j->block, NULL, j, pos);

				while (n--)
					pos = next_log(j, pos);
			} else if (type == JBD2_REVOKE_BLOCK) {
				if (scan_revoke_block(j, j->block, sequence))
					return -1;
			} else if (type == JBD2_COMMIT_BLOCK) {
				committed = true;
				break;
			}
		}
		if (!committed || walked >= j->maxlen) {
			*end_sequence = sequence;
			return 0;
		}
		sequence++;
	}
}

/* Write the logged copy at log block @data over filesystem block @block. */
static void replay_tag(struct journal *j, uint32_t block, uint16_t flags,
		       uint32_t data)
{
	uint8_t *buf;

	if (j->err || revoked(j, block, j->sequence))
		return;
	if (block < j->f->l.journal_start + j->maxlen ||
	    block >= j->f->l.blocks_count) {
		fsck_unfixable(j->f, "Journal block %" PRIu32 " logs block %" PRIu32 ", outside the filesystem's metadata and data.",
			       data, block);
		return;
	}
	buf = malloc(VEXFS_BLOCK_SIZE);
	if (!buf || read_log(j, data, buf)) {
		free(buf);
		j->err = -1;
		return;
	}
	if (flags & JBD2_FLAG_ESCAPE) {
		uint32_t magic = htobe32(JBD2_MAGIC);

		memcpy(buf, &magic, sizeof(magic));
	}
	if (fsck_write_block(j->f, block, buf))
		j->err = -1;
	else
		j->written++;
	free(buf);
}

/* Pass two: write the blocks of every transaction up to @end_sequence. */
static int replay(struct journal *j, uint32_t end_sequence, uint64_t *written)
{
	uint32_t pos = be32toh(j->sb->s_start);

	j->sequence = be32toh(j->sb->s_sequence);
	while (j->sequence != end_sequence && !j->err) {
		uint32_t type;

		if (read_log(j, pos, j->block))
			return -1;
		type = block_type(j->block);
		pos = next_log(j, pos);
		if (type == JBD2_DESCRIPTOR_BLOCK) {
			uint32_t n = for_each_tag(j->block, replay_tag, j, pos);

			while (n--)
				pos = next_log(j, pos);
		} else if (type == JBD2_COMMIT_BLOCK) {
			j->sequence++;
		}
	}
	*written = j->written;
	return j->err;
}

static const char *journal_super_fault(const struct fsck *f,
				       const struct jbd2_super *sb)
{
	uint32_t maxlen = be32toh(sb->s_maxlen), first = be32toh(sb->s_first);

	if (be32toh(sb->s_header.h_magic) != JBD2_MAGIC ||
	    be32toh(sb->s_header.h_blocktype) != JBD2_SUPERBLOCK_V2)
		return "no jbd2 superblock";
	if (be32toh(sb->s_blocksize) != VEXFS_BLOCK_SIZE)
		return "wrong block size";
	if (maxlen != f->l.journal_blocks || !first || first >= maxlen)
		return "size or first block wrong";
	if (be32toh(sb->s_start) && be32toh(sb->s_start) >= maxlen)
		return "log start out of range";
	if (sb->s_feature_incompat & ~htobe32(JBD2_INCOMPAT_REVOKE) ||
	    sb->s_feature_ro_compat)
		return "journal features this fsck does not know";
	return NULL;
}

/* An empty journal superblock, as mkfs.vexfs writes it. */
static int reset_journal(struct fsck *f, uint32_t sequence)
{
	uint8_t *block = calloc(1, VEXFS_BLOCK_SIZE);
	int ret;

	if (!block)
		return -1;
	vexfs_jbd2_encode_super(block, f->l.journal_blocks, f->sb.s_uuid);
	((struct jbd2_super *)block)->s_sequence = htobe32(sequence ? sequence : 1);
	ret = fsck_write_block(f, f->l.journal_start, block);
	free(block);
	return ret;
}

/*
 * A journal aborted while mounted records its error in s_errno, and the
 * kernel's jbd2 refuses every transaction while it is there (the module
 * clears it at its next mount, as ext4 does). Nothing the abort left is
 * inconsistent: what it had not committed was never written. Say so and,
 * when writing, clear it.
 */
static int clear_error(struct fsck *f, struct journal *j)
{
	int32_t err = (int32_t)be32toh(j->sb->s_errno);

	if (!err)
		return 0;
	fsck_info(f, "%s: the journal was aborted in an earlier mount (error %" PRId32 ")%s",
		  f->name, err, f->writable ? "; error cleared" : "");
	if (!f->writable)
		return 0;
	j->sb->s_errno = 0;
	return fsck_write_block(f, f->l.journal_start, j->sb);
}

static int recover(struct fsck *f, struct journal *j)
{
	uint32_t end;
	uint64_t written = 0;

	if (!f->writable) {
		fsck_info(f, "Warning: skipping journal recovery because doing a read-only filesystem check.");
		return 0;
	}
	if (scan(j, &end) || replay(j, end, &written))
		return -1;
	fsck_info(f, "%s: recovering journal: %" PRIu32 " transactions, %" PRIu64 " blocks replayed",
		  f->name, end - be32toh(j->sb->s_sequence), written);
	return reset_journal(f, end);
}

int fsck_journal(struct fsck *f)
{
	struct journal j = { .f = f };
	const char *fault;
	int ret = -1;

	if (!(le64toh(f->sb.s_feature_compat) & VEXFS_FEATURE_COMPAT_JOURNAL))
		return 0;
	j.sb = malloc(VEXFS_BLOCK_SIZE);
	j.block = malloc(VEXFS_BLOCK_SIZE);
	if (!j.sb || !j.block || fsck_read_block(f, f->l.journal_start, j.sb))
		goto out;
	j.first = be32toh(j.sb->s_first);
	j.maxlen = be32toh(j.sb->s_maxlen);
	fault = journal_super_fault(f, j.sb);
	if (fault) {
		if (fsck_fixable(f, "Journal superblock: %s.  Clear the journal?", fault))
			ret = reset_journal(f, 1);
		else
			ret = 0;
		goto out;
	}
	ret = j.sb->s_start ? recover(f, &j) : clear_error(f, &j);
out:
	free(j.revokes);
	free(j.sb);
	free(j.block);
	return ret;
}
