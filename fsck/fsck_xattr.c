// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs: an inode's xattr block, held to the rules of the module's
 * vexfs_xattr_check(): sealed as an xattr block, owned by the inode that
 * points at it, entries that tile exactly the bytes the header says are
 * used, and as many of them as it counts; a vector kept with its file
 * (struct vexfs_kept_vector) held to the module's vexfs_kept_decode().
 *
 * A block the module would refuse is dropped, as e2fsck clears a bad EA
 * block: the inode forgets it (its attributes and kept vector are lost)
 * and, unless another owner claims it too, pass 6 frees it. A bad kept
 * vector in a sound block is only reported: the block's other attributes
 * are still read.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uapi/vexfs.h>

#include "fsck.h"

static const struct vexfs_xattr_entry *entry_at(const uint8_t *block,
						uint32_t off)
{
	return (const void *)(block + sizeof(struct vexfs_xattr_header) + off);
}

static uint32_t entry_size(const struct vexfs_xattr_entry *xe)
{
	return VEXFS_XATTR_ENTRY_SIZE(xe->xe_name_len,
				      (uint32_t)le16toh(xe->xe_value_len));
}

static bool finite_le32(const uint8_t *p)
{
	uint32_t bits;

	memcpy(&bits, p, sizeof(bits));
	return (le32toh(bits) & 0x7f800000) != 0x7f800000;
}

/* An entry of the private vector index: only a well-formed kept vector. */
static const char *check_kept(const struct vexfs_xattr_entry *xe)
{
	const uint8_t *value = (const uint8_t *)xe->xe_name + xe->xe_name_len;
	uint32_t len = le16toh(xe->xe_value_len), dim, i;
	struct vexfs_kept_vector kv;

	if (xe->xe_name_len != strlen(VEXFS_KEPT_NAME) ||
	    memcmp(xe->xe_name, VEXFS_KEPT_NAME, xe->xe_name_len))
		return "an unknown entry in the vector index";
	if (len < sizeof(kv))
		return "a kept vector shorter than its header";
	memcpy(&kv, value, sizeof(kv));
	dim = le32toh(kv.kv_dim);
	if (!dim || dim > VEXFS_KEPT_MAX_DIM ||
	    len != sizeof(kv) + (uint64_t)dim * 4)
		return "a kept vector whose length is not its dimension's";
	if (kv.kv_reserved || le16toh(kv.kv_metric) > VEXFS_METRIC_COSINE ||
	    !kv.kv_id)
		return "a kept vector with a bad metric, id or reserved field";
	for (i = 0; i < dim; i++)
		if (!finite_le32(value + sizeof(kv) + i * 4))
			return "a kept vector with a component that is not finite";
	return NULL;
}

/*
 * Returns a description of the first fault, or NULL; *kept_only when it
 * is a kept vector's, which the module refuses only when it reads that
 * vector (the block itself passes its vexfs_xattr_check()).
 */
static const char *check_entries(const uint8_t *block, uint64_t ino,
				 bool regular, bool *kept_only)
{
	const struct vexfs_xattr_header *xh = (const void *)block;
	uint32_t used = le32toh(xh->xh_used), count = 0, off;

	if (le64toh(xh->xh_owner) != ino)
		return "owned by another inode";
	if (used > VEXFS_XATTR_SPACE)
		return "more bytes used than the block holds";
	for (off = 0; off < used; off += entry_size(entry_at(block, off))) {
		const struct vexfs_xattr_entry *xe = entry_at(block, off);

		const char *why;

		if (off + 4 > used || !xe->xe_name_len ||
		    off + entry_size(xe) > used)
			return "an entry runs past the used bytes";
		why = NULL;
		if (xe->xe_name_index == VEXFS_XATTR_INDEX_VECTOR)
			why = regular ? check_kept(xe) :
			      "a kept vector on an inode that is no regular file";
		if (why) {
			*kept_only = true;
			return why;
		}
		count++;
	}
	if (count != le32toh(xh->xh_count))
		return "entry count does not match the entries";
	return NULL;
}

/* The first fault of the block, or NULL; aborts the run if unreadable. */
static const char *xattr_fault(struct fsck *f, uint64_t ino, uint64_t blocknr,
			       bool regular, bool *kept_only)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	const char *why;

	if (!block || fsck_read_block(f, blocknr, block)) {
		free(block);
		f->aborted = true;
		return "unreadable";
	}
	if (!vexfs_block_sealed_ok(block, VEXFS_XATTR_MAGIC, blocknr))
		why = "checksum or magic mismatch";
	else
		why = check_entries(block, ino, regular, kept_only);
	free(block);
	return why;
}

/*
 * Check raw's xattr block. Returns 0, with *rewrite set when the inode
 * dropped a bad block, or 1 when a bad block stays (reported).
 */
int fsck_check_xattr(struct fsck *f, uint64_t ino, struct vexfs_inode *raw,
		     bool *rewrite)
{
	uint64_t blocknr = le64toh(raw->i_xattr_block);
	bool regular = S_ISREG(le16toh(raw->i_mode));
	bool inside = fsck_data_block_valid(f, blocknr, 1), mine = false;
	bool kept_only = false;
	const char *why;

	if (!inside) {
		why = "is outside the data area";
	} else {
		mine = fsck_claim_block(f, blocknr);
		if (!mine)
			fsck_unfixable(f, "Inode %" PRIu64 ": xattr block %" PRIu64 " is also used by something else.",
				       ino, blocknr);
		why = xattr_fault(f, ino, blocknr, regular, &kept_only);
		if (f->aborted)
			return 1;
	}
	if (!why) {
		f->stats.xattr_blocks++;
		return 0;
	}
	/*
	 * A block another owner claims too is not this inode's to drop; one
	 * the module reads but for a kept vector keeps its other attributes.
	 */
	if (inside && (!mine || kept_only)) {
		fsck_unfixable(f, "Inode %" PRIu64 ", xattr block %" PRIu64 ": %s.",
			       ino, blocknr, why);
		return 1;
	}
	if (!fsck_fixable(f, "Inode %" PRIu64 ", xattr block %" PRIu64 ": %s.  Drop the block (the inode's extended attributes are lost).",
			  ino, blocknr, why))
		return 1;
	if (inside)
		vexfs_bit_clear(f->bbits, blocknr);	/* claimed by no one now */
	raw->i_xattr_block = 0;
	*rewrite = true;
	return 0;
}
