// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 5, continued: the change map of a vector table, in
 * block 0 after the table's header (see include/uapi/vexfs_fs.h).
 *
 * After a mount, search reads only the runs of slots whose entry is above
 * the index's vi_seq. An entry below the vr_seq of one of its slots hides
 * that slot's change from search, so the map is held to the invariant
 * against every record, as pass 5 reads them anyway: the highest vr_seq
 * of each run is gathered while the slots are checked, and compared at
 * the end. A map that is only too high costs speed, not results, and is
 * left alone.
 *
 * A map that fails is rewritten from the records, as the module would
 * keep it: the smallest shift that covers the slots, each entry the
 * highest vr_seq of its run. Nothing is lost, since the records are what
 * the map summarizes. A table whose records pass 5 changed gets its map
 * rewritten as well, so no repair leaves it behind. A table without a map
 * (cm_magic 0: an older module wrote it) is no fault; the module makes its
 * map at the next change.
 */
#include <inttypes.h>
#include <string.h>

#include "fsck.h"

/* The smallest shift whose entries cover @slots slots. */
static unsigned int cover_shift(uint64_t slots)
{
	unsigned int shift = 0;

	while (slots && (slots - 1) >> shift >= VEXFS_CHANGE_MAP_ENTRIES)
		shift++;
	return shift;
}

/* What the module's map rules make of @cm; NULL when it is sound. */
static const char *map_fault(const struct vexfs_change_map *cm, uint64_t slots)
{
	unsigned int shift = le16toh(cm->cm_shift), i;

	if (le32toh(cm->cm_magic) != VEXFS_CHANGE_MAP_MAGIC)
		return "bad magic";
	if (le32toh(cm->cm_checksum) != vexfs_change_map_csum(cm))
		return "checksum mismatch";
	if (shift > VEXFS_CHANGE_MAP_MAX_SHIFT)
		return "shift out of range";
	if (slots && (slots - 1) >> shift >= VEXFS_CHANGE_MAP_ENTRIES)
		return "too few entries for its slots";
	if (cm->cm_reserved || cm->cm_reserved2)
		return "reserved fields not zero";
	/* no record carries one: the module takes such a map as corrupt */
	for (i = 0; i < VEXFS_CHANGE_MAP_ENTRIES; i++)
		if (le32toh(cm->cm_seq[i]) > VEXFS_SEQ_MAX)
			return "an entry above the largest change sequence";
	return NULL;
}

void fsck_cmap_start(struct fsck_cmap *m, const struct vexfs_change_map *disk)
{
	m->disk = *disk;
	m->present = disk->cm_magic != 0;
	m->fault = m->present ? map_fault(disk, m->slots) : NULL;
	m->shift = cover_shift(m->slots);
	memset(m->seq, 0, sizeof(m->seq));
	m->under = 0;
}

/* Slot @slot's record, as pass 5 leaves it, has change sequence @seq. */
void fsck_cmap_note(struct fsck_cmap *m, uint64_t slot, uint32_t seq)
{
	uint32_t *run = &m->seq[slot >> m->shift];
	uint64_t entry;

	if (seq > *run)
		*run = seq;
	if (!m->present || m->fault)
		return;
	entry = slot >> le16toh(m->disk.cm_shift);
	if (seq <= le32toh(m->disk.cm_seq[entry]))
		return;
	if (!m->under) {
		m->under_slot = slot;
		m->under_seq = seq;
	}
	m->under++;
}

static int write_map(struct fsck *f, const struct fsck_cmap *m)
{
	struct vexfs_change_map cm = {
		.cm_magic = htole32(VEXFS_CHANGE_MAP_MAGIC),
		.cm_shift = htole16((uint16_t)m->shift),
	};
	uint64_t entries = m->slots ? ((m->slots - 1) >> m->shift) + 1 : 0, i;

	/*
	 * Entries past the slots stay 0: the module raises them as it adds
	 * slots. A record above VEXFS_SEQ_MAX that was not clamped is reported
	 * by itself; the map stays one the module accepts.
	 */
	for (i = 0; i < entries; i++)
		cm.cm_seq[i] = htole32(m->seq[i] < VEXFS_SEQ_MAX ? m->seq[i] :
							    VEXFS_SEQ_MAX);
	cm.cm_checksum = htole32(vexfs_change_map_csum(&cm));
	return fsck_file_io(f, m->raw, VEXFS_CHANGE_MAP_OFFSET, &cm, sizeof(cm),
			    true);
}

/* Is the map to be rewritten? Asked only when it is at fault. */
static bool map_rewrite(struct fsck *f, const struct fsck_cmap *m,
			bool changed)
{
	uint64_t entry;

	if (m->fault)
		return fsck_fixable(f, "Collection inode %" PRIu64 ", vector table inode %" PRIu64 ": bad change map (%s).  Rewrite it.",
				    m->dir, m->ino, m->fault);
	if (m->under) {
		entry = m->under_slot >> le16toh(m->disk.cm_shift);
		return fsck_fixable(f, "Collection inode %" PRIu64 ", vector table inode %" PRIu64 ": change map entry %" PRIu64 " is %" PRIu32 ", below the change sequence %" PRIu32 " of slot %" PRIu64 " (slots above their entries: %" PRIu64 ").  Rewrite the map.",
				    m->dir, m->ino, entry,
				    le32toh(m->disk.cm_seq[entry]), m->under_seq,
				    m->under_slot, m->under);
	}
	/* the records changed under a sound map: keep it exact */
	return changed;
}

/*
 * A map without the feature bit may be older than changes some module
 * that keeps no maps made: the module would not trust it. This one is
 * checked against every record here, and rewritten when it fails, so the
 * bit is all it lacks.
 */
static void check_feature(struct fsck *f, const struct fsck_cmap *m)
{
	uint64_t ro = le64toh(f->sb.s_feature_ro_compat);

	if ((ro & VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP) ||
	    !fsck_fixable(f, "Collection inode %" PRIu64 ", vector table inode %" PRIu64 " has a change map, but the superblock lacks the change map feature.  Set it.",
			  m->dir, m->ino))
		return;
	f->sb.s_feature_ro_compat = htole64(ro | VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP);
	f->super_dirty = true;
}

/*
 * Every slot has been noted; @changed says whether pass 5 rewrote any
 * record of the table.
 */
void fsck_cmap_finish(struct fsck *f, const struct fsck_cmap *m, bool changed)
{
	bool rewritten = false;

	if (!m->present)
		return;
	if (map_rewrite(f, m, changed)) {
		if (write_map(f, m)) {
			fsck_fix_failed(f);
			return;
		}
		rewritten = true;
	}
	if (rewritten || !m->fault)
		check_feature(f, m);
	if (rewritten || (!m->fault && !m->under))
		f->stats.cmaps++;
}
