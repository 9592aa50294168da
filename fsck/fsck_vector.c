// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs pass 5: vector collections. Each collection directory names
 * its vector table (i_aux); the table's header must pass the module's
 * vexfs_check_header(), and each live slot must name a regular file whose
 * i_aux is the slot + 1 and whose i_parent is the collection, as
 * vexfs_find_slot() requires. Each file with a vector must be named back
 * by that slot.
 *
 * Repairs are the ones that lose nothing the module could still reach: a
 * slot naming a file that does not point back is freed (zeroed, as the
 * module frees one), a file whose slot does not name it forgets it
 * (i_aux and i_parent zero, as after VEXFS_IOC_DEL_VECTOR), and a table
 * no collection names is released. A bad header is only reported. The
 * collections' indexes are checked in fsck_index.c, the tables' change
 * maps in fsck_cmap.c, against the records as this pass leaves them.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uapi/vexfs.h>

#include "fsck.h"

#define SLOT_CHUNK_BYTES	(64u * 1024)

struct table {
	uint64_t dir, ino;
	struct vexfs_inode raw;
	uint32_t rec_size;
	uint64_t slots;
	uint32_t seq;		/* highest vr_seq of any slot, free ones too */
	bool changed;		/* a record was rewritten */
	struct fsck_cmap map;
};

/* Block 0 of a table: its header, then its change map. */
struct table_head {
	struct vexfs_vtable_header vh;
	struct vexfs_change_map cm;
};

_Static_assert(offsetof(struct table_head, cm) == VEXFS_CHANGE_MAP_OFFSET &&
	       sizeof(struct table_head) == VEXFS_BLOCK_SIZE,
	       "the change map fills block 0 after the header");

static bool usable(const struct fsck *f, uint64_t ino)
{
	return fsck_ino_valid(f, ino) &&
	       (f->ino[ino].state & (INO_USED | INO_BAD)) == INO_USED;
}

/*
 * The module's header rules; NULL when the header is good. Slots are only
 * added when none is free, so there are never more than inodes.
 */
static const char *header_fault(const struct vexfs_vtable_header *vh,
				const struct table *t, uint64_t max_slots)
{
	uint32_t dim = le32toh(vh->vh_dim);
	uint16_t metric = le16toh(vh->vh_metric);
	uint64_t slots = le64toh(vh->vh_slots);
	uint64_t rec = le32toh(vh->vh_rec_size);

	if (le32toh(vh->vh_magic) != VEXFS_VTABLE_MAGIC)
		return "bad magic";
	if (le32toh(vh->vh_checksum) != vexfs_vtable_csum(vh))
		return "checksum mismatch";
	if (le32toh(vh->vh_version) != 1)
		return "unknown version";
	if (le64toh(vh->vh_owner) != t->dir)
		return "owned by another directory";
	if (!dim || dim > VEXFS_MAX_DIM)
		return "dimension out of range";
	if (metric < VEXFS_METRIC_L2 || metric > VEXFS_METRIC_COSINE)
		return "unknown metric";
	if (le16toh(vh->vh_elem_type) != VEXFS_ELEM_F32)
		return "unknown element type";
	if (rec != sizeof(struct vexfs_vrec) + 4ull * dim)
		return "record size does not match the dimension";
	/* Slots past the end of the file are reserved ahead: they read as free. */
	if (slots > max_slots)
		return "more slots than inodes";
	return NULL;
}

/* Does slot @slot's file point back at it? */
static bool points_back(struct fsck *f, const struct table *t, uint64_t slot,
			uint64_t ino)
{
	const struct fsck_ino *in;
	struct vexfs_inode raw;

	if (ino <= VEXFS_ROOT_INO || !usable(f, ino))
		return false;
	in = fsck_ino(f, ino);
	if (!S_ISREG(in->mode) || (in->flags & FSCK_HIDDEN_FLAGS) ||
	    (in->state & INO_VEC_OK) || fsck_read_inode(f, ino, &raw))
		return false;
	return le32toh(raw.i_aux) == slot + 1 && le64toh(raw.i_parent) == t->dir;
}

/* True when the slot was freed. */
static bool clear_slot(struct fsck *f, struct table *t, uint64_t slot,
		       uint64_t ino)
{
	uint8_t *zero;
	bool done = false;

	if (!fsck_fixable(f, "Collection inode %" PRIu64 ", slot %" PRIu64 " names inode %" PRIu64 ", which does not point back at it.  Free the slot.",
			  t->dir, slot, ino))
		return false;
	zero = calloc(1, t->rec_size);
	if (!zero || fsck_file_io(f, &t->raw, VEXFS_VTABLE_DATA_START + slot * t->rec_size,
				  zero, t->rec_size, true))
		fsck_fix_failed(f);
	else
		done = t->changed = true;
	free(zero);
	return done;
}

/*
 * A change sequence above VEXFS_SEQ_MAX is one the module never writes.
 * Clamping it keeps the slot out of any index built before (the index
 * carries a lower number), so the slot is searched exactly. True when
 * it was clamped.
 */
static bool clamp_seq(struct fsck *f, struct table *t, uint64_t slot,
		      const struct vexfs_vrec *rec)
{
	struct vexfs_vrec fixed = *rec;

	if (!fsck_fixable(f, "Collection inode %" PRIu64 ", slot %" PRIu64 " has change sequence %" PRIu32 ", above the largest, %u.  Clamp it.",
			  t->dir, slot, le32toh(rec->vr_seq), VEXFS_SEQ_MAX))
		return false;
	fixed.vr_seq = htole32(VEXFS_SEQ_MAX);
	if (fsck_file_io(f, &t->raw, VEXFS_VTABLE_DATA_START + slot * t->rec_size,
			 &fixed, sizeof(fixed), true)) {
		fsck_fix_failed(f);
		return false;
	}
	t->changed = true;
	return true;
}

/* Returns the slot's change sequence as the checks leave it on disk. */
static uint32_t check_slot(struct fsck *f, struct table *t, uint64_t slot,
			   const struct vexfs_vrec *rec)
{
	uint64_t ino = le64toh(rec->vr_ino);
	uint32_t seq = le32toh(rec->vr_seq);

	if (seq > VEXFS_SEQ_MAX) {
		if (clamp_seq(f, t, slot, rec))
			seq = VEXFS_SEQ_MAX;
		t->seq = VEXFS_SEQ_MAX;
	} else if (seq > t->seq) {
		t->seq = seq;
	}
	if (!ino)
		return seq;
	/* a damaged inode's fields are unknown: leave its slot be */
	if (fsck_ino_valid(f, ino) && (fsck_ino(f, ino)->state & INO_BAD))
		return seq;
	if (points_back(f, t, slot, ino)) {
		fsck_ino(f, ino)->state |= INO_VEC_OK;
		f->stats.vectors++;
		return seq;
	}
	/* a freed slot is zeroed, its sequence with it */
	return clear_slot(f, t, slot, ino) ? 0 : seq;
}

/*
 * Read the slots a chunk at a time: a table can be large. Returns 0 when
 * every slot was read and checked.
 */
static int check_slots(struct fsck *f, struct table *t)
{
	uint64_t per = SLOT_CHUNK_BYTES / t->rec_size, slot, i, n;
	uint32_t seq;
	uint8_t *buf;

	if (!per)
		per = 1;
	buf = malloc(per * t->rec_size);
	if (!buf) {
		f->aborted = true;
		return -1;
	}
	for (slot = 0; slot < t->slots && !f->aborted; slot += n) {
		n = t->slots - slot < per ? t->slots - slot : per;
		if (fsck_file_io(f, &t->raw, VEXFS_VTABLE_DATA_START + slot * t->rec_size,
				 buf, n * t->rec_size, false))
			break;
		for (i = 0; i < n; i++) {
			seq = check_slot(f, t, slot + i,
					 (const void *)(buf + i * t->rec_size));
			fsck_cmap_note(&t->map, slot + i, seq);
		}
	}
	free(buf);
	return slot < t->slots || f->aborted ? -1 : 0;
}

static bool table_inode_ok(struct fsck *f, uint64_t dir, uint64_t ino)
{
	const struct fsck_ino *in;

	if (!usable(f, ino) || ino == dir)
		return false;
	in = fsck_ino(f, ino);
	return S_ISREG(in->mode) && (in->flags & VEXFS_INODE_VTABLE) &&
	       !(in->state & INO_OWNED);
}

/* The table's own inode: parent and link count, as the module made them. */
static void check_table_inode(struct fsck *f, struct table *t)
{
	bool rewrite = false;

	if (le64toh(t->raw.i_parent) != t->dir &&
	    fsck_fixable(f, "Vector table inode %" PRIu64 ", i_parent is %" PRIu64 ", should be %" PRIu64 ".",
			 t->ino, (uint64_t)le64toh(t->raw.i_parent), t->dir)) {
		t->raw.i_parent = htole64(t->dir);
		rewrite = true;
	}
	if (le32toh(t->raw.i_nlink) != 1 &&
	    fsck_fixable(f, "Vector table inode %" PRIu64 " link count is %u, should be 1.",
			 t->ino, le32toh(t->raw.i_nlink))) {
		t->raw.i_nlink = htole32(1);
		rewrite = true;
	}
	if (rewrite && fsck_write_inode(f, t->ino, &t->raw))
		fsck_fix_failed(f);
}

/* The table's records, then its change map against them. */
static void check_records(struct fsck *f, struct table *t,
			  const struct vexfs_change_map *cm)
{
	t->map.dir = t->dir;
	t->map.ino = t->ino;
	t->map.raw = &t->raw;
	t->map.slots = t->slots;
	fsck_cmap_start(&t->map, cm);
	/* slots left unread leave the map unjudged */
	if (!check_slots(f, t))
		fsck_cmap_finish(f, &t->map, t->changed);
}

static void check_collection(struct fsck *f, uint64_t dir)
{
	struct table_head head;
	struct vexfs_vtable_header *vh = &head.vh;
	struct vexfs_inode raw;
	struct table t = { .dir = dir };
	const char *fault;

	if (fsck_read_inode(f, dir, &raw))
		return;
	t.ino = le32toh(raw.i_aux);
	if (fsck_ino_valid(f, t.ino) && (fsck_ino(f, t.ino)->state & INO_BAD)) {
		fsck_ino(f, dir)->state |= INO_TABLE_BAD;
		return;
	}
	if (!table_inode_ok(f, dir, t.ino)) {
		fsck_unfixable(f, "Collection inode %" PRIu64 ": inode %" PRIu64 " is not a vector table it can own.",
			       dir, t.ino);
		fsck_ino(f, dir)->state |= INO_TABLE_BAD;
		return;
	}
	fsck_ino(f, t.ino)->state |= INO_OWNED;
	if (fsck_read_inode(f, t.ino, &t.raw))
		return;
	check_table_inode(f, &t);
	fault = "unreadable";
	if (!fsck_file_io(f, &t.raw, 0, &head, sizeof(head), false))
		fault = header_fault(vh, &t, f->l.inodes_count);
	if (fault) {
		fsck_unfixable(f, "Collection inode %" PRIu64 ", vector table inode %" PRIu64 ": bad header (%s).",
			       dir, t.ino, fault);
		fsck_ino(f, dir)->state |= INO_TABLE_BAD;
		return;
	}
	fsck_ino(f, dir)->state |= INO_TABLE_OK;
	t.rec_size = le32toh(vh->vh_rec_size);
	t.slots = le64toh(vh->vh_slots);
	check_records(f, &t, &head.cm);
	if (vh->vh_index_ino && !f->aborted) {
		struct fsck_table_info info = {
			.dir = dir, .raw = &t.raw, .slots = t.slots, .seq = t.seq,
			.dim = le32toh(vh->vh_dim), .metric = le16toh(vh->vh_metric),
		};

		fsck_check_index(f, &info, le64toh(vh->vh_index_ino));
	}
}

static void check_orphan_table(struct fsck *f, uint64_t ino)
{
	struct vexfs_inode raw;
	uint64_t dir;

	if (fsck_read_inode(f, ino, &raw))
		return;
	dir = le64toh(raw.i_parent);
	/* its collection may be the damaged inode that names it */
	if (fsck_ino_valid(f, dir) && (fsck_ino(f, dir)->state & INO_BAD))
		return;
	if (!fsck_fixable(f, "Vector table inode %" PRIu64 " (of directory %" PRIu64 ") belongs to no collection.  Release it.",
			  ino, dir))
		return;
	if (fsck_release_inode(f, ino))
		fsck_fix_failed(f);
}

static void forget_vector(struct fsck *f, uint64_t ino, struct vexfs_inode *raw)
{
	if (!fsck_fixable(f, "Inode %" PRIu64 ": slot %u of collection %" PRIu64 " does not name it.  Forget the vector.",
			  ino, le32toh(raw->i_aux) - 1,
			  (uint64_t)le64toh(raw->i_parent)))
		return;
	raw->i_aux = 0;
	raw->i_parent = 0;
	if (fsck_write_inode(f, ino, raw))
		fsck_fix_failed(f);
}

static void check_file(struct fsck *f, uint64_t ino)
{
	struct vexfs_inode raw;
	uint64_t dir;

	if ((fsck_ino(f, ino)->state & INO_VEC_OK) || fsck_read_inode(f, ino, &raw) ||
	    !raw.i_aux)
		return;
	dir = le64toh(raw.i_parent);
	/* a collection whose table could not be read cannot judge */
	if (fsck_ino_valid(f, dir) && (fsck_ino(f, dir)->state & INO_USED) &&
	    (fsck_ino(f, dir)->state & (INO_BAD | INO_TABLE_BAD)))
		return;
	forget_vector(f, ino, &raw);
}

static bool is_kind(const struct fsck_ino *in, bool (*test)(const struct fsck_ino *))
{
	return (in->state & (INO_USED | INO_BAD)) == INO_USED && test(in);
}

static bool collection(const struct fsck_ino *in)
{
	return S_ISDIR(in->mode) && (in->flags & VEXFS_INODE_COLLECTION);
}

static bool unowned_table(const struct fsck_ino *in)
{
	return (in->flags & VEXFS_INODE_VTABLE) && !(in->state & INO_OWNED);
}

static bool unowned_index(const struct fsck_ino *in)
{
	return (in->flags & VEXFS_INODE_VINDEX) && !(in->state & INO_OWNED);
}

static bool plain_file(const struct fsck_ino *in)
{
	return S_ISREG(in->mode) && !(in->flags & FSCK_HIDDEN_FLAGS);
}

int fsck_pass5(struct fsck *f)
{
	uint64_t ino, n = f->l.inodes_count;

	fsck_pass(f, "Pass 5: checking vector tables");
	for (ino = VEXFS_ROOT_INO; ino < n && !f->aborted; ino++)
		if (is_kind(fsck_ino(f, ino), collection))
			check_collection(f, ino);
	for (ino = VEXFS_ROOT_INO; ino < n && !f->aborted; ino++)
		if (is_kind(fsck_ino(f, ino), unowned_table))
			check_orphan_table(f, ino);
	for (ino = VEXFS_ROOT_INO; ino < n && !f->aborted; ino++)
		if (is_kind(fsck_ino(f, ino), unowned_index))
			fsck_check_orphan_index(f, ino);
	for (ino = VEXFS_ROOT_INO; ino < n && !f->aborted; ino++)
		if (is_kind(fsck_ino(f, ino), plain_file))
			check_file(f, ino);
	return f->aborted ? -1 : 0;
}
