// SPDX-License-Identifier: GPL-2.0
/*
 * The change map of a vector table (uapi vexfs_fs.h): for each run of
 * slots, a change sequence at least that of every slot in it. In memory
 * it is exact once the whole table was read; on disk it is raised before
 * the records that need it are written, in the same transaction, so that
 * no commit holds a record the map under-reports.
 *
 * A search right after a mount reads the records of the runs changed
 * since its index was built and no others (collection.c).
 */
#include <linux/crc32c.h>
#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"

/* crc32c of the map with cm_checksum taken as zero, without a 4 KiB copy. */
static u32 vexfs_cmap_csum(const struct vexfs_change_map *raw)
{
	size_t at = offsetof(struct vexfs_change_map, cm_checksum);
	__le32 zero = 0;
	u32 crc;

	crc = crc32c(VEXFS_CRC_SEED, raw, at);
	crc = crc32c(crc, &zero, sizeof(zero));
	at += sizeof(zero);
	return crc32c(crc, (const u8 *)raw + at, sizeof(*raw) - at);
}

/* Widen the runs until slots [0, nslots) have entries: pairs merge. */
void vexfs_cmap_cover(struct vexfs_cmap *m, u64 nslots)
{
	u32 i;

	while (nslots && ((nslots - 1) >> m->shift) >= VEXFS_CHANGE_MAP_ENTRIES) {
		for (i = 0; i < VEXFS_CHANGE_MAP_ENTRIES / 2; i++)
			m->seq[i] = max(m->seq[2 * i], m->seq[2 * i + 1]);
		memset(&m->seq[i], 0, (VEXFS_CHANGE_MAP_ENTRIES - i) * sizeof(u32));
		m->shift++;
		m->dirty = true;
	}
}

/* Slot's record is about to be written with change sequence seq. */
void vexfs_cmap_note(struct vexfs_cmap *m, u64 slot, u32 seq)
{
	u32 *e;

	vexfs_cmap_cover(m, slot + 1);
	e = &m->seq[slot >> m->shift];
	if (seq > *e) {
		*e = seq;
		m->dirty = true;
	}
}

/* The map made exact from slots [0, nslots), all in memory. */
void vexfs_cmap_build(struct vexfs_cmap *m, const struct vexfs_slot *slots,
		      u64 nslots)
{
	u64 i;

	memset(m->seq, 0, sizeof(m->seq));
	m->shift = 0;
	vexfs_cmap_cover(m, nslots);
	for (i = 0; i < nslots; i++) {
		u32 *e = &m->seq[i >> m->shift];

		*e = max(*e, slots[i].seq);
	}
	m->dirty = true;
}

/*
 * Take the map read from disk for a table of nslots slots: false when it
 * is missing (an older module's table) or fails its checks.
 */
bool vexfs_cmap_decode(struct vexfs_cmap *m, const struct vexfs_change_map *raw,
		       u64 nslots)
{
	u16 shift = le16_to_cpu(raw->cm_shift);
	u32 i;

	if (le32_to_cpu(raw->cm_magic) != VEXFS_CHANGE_MAP_MAGIC ||
	    le32_to_cpu(raw->cm_checksum) != vexfs_cmap_csum(raw) ||
	    shift > VEXFS_CHANGE_MAP_MAX_SHIFT || raw->cm_reserved ||
	    raw->cm_reserved2 ||
	    (nslots && ((nslots - 1) >> shift) >= VEXFS_CHANGE_MAP_ENTRIES))
		return false;
	for (i = 0; i < VEXFS_CHANGE_MAP_ENTRIES; i++)
		if (le32_to_cpu(raw->cm_seq[i]) > VEXFS_SEQ_MAX)
			return false;
	for (i = 0; i < VEXFS_CHANGE_MAP_ENTRIES; i++)
		m->seq[i] = le32_to_cpu(raw->cm_seq[i]);
	m->shift = shift;
	m->dirty = false;
	return true;
}

/* The highest change sequence the map knows of. */
u32 vexfs_cmap_max(const struct vexfs_cmap *m)
{
	u32 i, top = 0;

	for (i = 0; i < VEXFS_CHANGE_MAP_ENTRIES; i++)
		top = max(top, m->seq[i]);
	return top;
}

/*
 * The next run at or after entry *e that changed after seq, as slots
 * [*first, *first + *n) clipped to nslots; false when none is left.
 */
bool vexfs_cmap_next_changed(const struct vexfs_cmap *m, u32 seq, u64 nslots,
			     u32 *e, u64 *first, u64 *n)
{
	for (; *e < VEXFS_CHANGE_MAP_ENTRIES; (*e)++) {
		u64 start = (u64)*e << m->shift;

		if (start >= nslots)
			return false;
		if (m->seq[*e] <= seq)
			continue;
		*first = start;
		*n = min(nslots - start, 1ull << m->shift);
		(*e)++;
		return true;
	}
	return false;
}

/*
 * Write the map if it changed, inside the caller's handle and before the
 * records that raised it. The first map a filesystem gets sets the
 * feature that keeps modules which would not keep it from writing.
 */
int vexfs_cmap_write(struct vexfs_collection *c)
{
	struct vexfs_cmap *m = &c->cmap;
	struct vexfs_change_map *raw;
	u32 i;
	int err;

	if (!m->dirty)
		return 0;
	err = vexfs_super_add_ro_compat(c->dir->i_sb,
					VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP);
	if (err)
		return err;
	raw = kzalloc(sizeof(*raw), GFP_NOFS);
	if (!raw)
		return -ENOMEM;
	raw->cm_magic = cpu_to_le32(VEXFS_CHANGE_MAP_MAGIC);
	raw->cm_shift = cpu_to_le16(m->shift);
	for (i = 0; i < VEXFS_CHANGE_MAP_ENTRIES; i++)
		raw->cm_seq[i] = cpu_to_le32(m->seq[i]);
	raw->cm_checksum = cpu_to_le32(vexfs_cmap_csum(raw));
	err = vexfs_table_write(c->table, raw, sizeof(*raw),
				VEXFS_CHANGE_MAP_OFFSET);
	kfree(raw);
	if (!err)
		m->dirty = false;
	return err;
}
