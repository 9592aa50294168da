// SPDX-License-Identifier: GPL-2.0
/*
 * Vector collections: a directory whose files carry vectors.
 *
 * Each collection owns a hidden inode, its vector table (format in
 * vexfs_fs.h). While the directory is cached, the collection keeps the
 * slot metadata in memory, which search consults for every slot; the
 * vectors themselves stay in the table's blocks, in the device's cache,
 * which the kernel may reclaim, and are read from there (a published
 * index keeps SQ8 codes of them for its walk, see index_walk.c). Every
 * change is written through to the table's blocks at once, so the table
 * on disk always matches memory at the next commit.
 *
 * A file's vector lives in the collection of the directory it was set in
 * (i_parent) at slot i_aux - 1. It is dropped when the file's last link
 * goes or when the file is renamed out of that directory.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32c.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include "vexfs.h"
#include "collection.h"

#define VEXFS_VREC_HEADER	sizeof(struct vexfs_vrec)

static u32 vexfs_vtable_csum(const struct vexfs_vtable_header *vh)
{
	struct vexfs_vtable_header copy = *vh;

	copy.vh_checksum = 0;
	return crc32c(VEXFS_CRC_SEED, &copy, sizeof(copy));
}

/* ==== table I/O ==== */

/*
 * A vector table is metadata: its blocks go through the device's cache
 * and the journal, like directory blocks, so a slot and the file that
 * points at it always reach the disk in the same transaction. An index
 * graph is bulk data written once per publish: it goes through its
 * inode's page cache (see vexfs_index_store() for its ordering).
 */
static bool vexfs_is_table(struct inode *inode)
{
	return VEXFS_I(inode)->flags & VEXFS_INODE_VTABLE;
}

/*
 * Allocate the table's blocks [first, last] that are holes, as few runs as
 * the allocator gives, each new block zeroed in the journal. *end: the
 * byte past the last block allocated, even on failure.
 */
static int vexfs_table_alloc(struct inode *table, u32 first, u32 last,
			     loff_t *end)
{
	struct super_block *sb = table->i_sb;
	u32 lblk = first, len, i;
	int err = 0;

	while (!err && lblk <= last) {
		bool new = false;
		u64 pblk;

		err = vexfs_map_alloc(table, lblk, last - lblk + 1, &pblk, &len,
				      &new);
		if (err)
			break;
		len = min(len, last - lblk + 1);
		for (i = 0; new && !err && i < len; i++) {
			struct buffer_head *bh = vexfs_new_meta(sb, pblk + i);

			if (IS_ERR(bh)) {
				err = PTR_ERR(bh);
				break;
			}
			err = vexfs_journal_dirty(sb, bh);
			brelse(bh);
		}
		if (new)
			*end = max_t(loff_t, *end,
				     (loff_t)(lblk + len) << VEXFS_BLOCK_SHIFT);
		lblk += len;
	}
	return err;
}

/* The table block at lblk, allocated already, ready to be changed. */
static struct buffer_head *vexfs_table_block(struct inode *table, u32 lblk)
{
	struct super_block *sb = table->i_sb;
	struct buffer_head *bh;
	u64 pblk;
	u32 len;
	int err;

	err = vexfs_map_block(table, lblk, &pblk, &len);
	if (err)
		return ERR_PTR(err);
	if (!pblk) {
		vexfs_corrupt(sb, "vector table %lu has a hole at block %u",
			      table->i_ino, lblk);
		return ERR_PTR(-EUCLEAN);
	}
	bh = sb_bread(sb, pblk);
	if (!bh)
		return ERR_PTR(-EIO);
	err = vexfs_journal_access(sb, bh);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

/*
 * Search reads the table through a cursor, many blocks at a time: each
 * mapping found covers the rest of its extent (or hole), so the extent
 * tree is looked up once per run of blocks, not once per block, and a
 * block read stays at hand for the next read from it.
 */
struct vexfs_table_cursor {
	struct inode *table;
	u32 run_lblk, run_len;		/* the last mapping found */
	u64 run_pblk;			/* 0: a hole */
	struct buffer_head *bh;		/* the last block read */
	u32 bh_lblk;
};

/* The table block at lblk, or NULL for a hole (which reads as zeroes). */
static struct buffer_head *vexfs_cursor_block(struct vexfs_table_cursor *cur,
					      u32 lblk)
{
	if (cur->bh && cur->bh_lblk == lblk)
		return cur->bh;
	if (lblk - cur->run_lblk >= cur->run_len) {
		int err = vexfs_map_block(cur->table, lblk, &cur->run_pblk,
					  &cur->run_len);

		if (err)
			return ERR_PTR(err);
		cur->run_lblk = lblk;
	}
	if (!cur->run_pblk)
		return NULL;
	brelse(cur->bh);
	cur->bh = sb_bread(cur->table->i_sb,
			   cur->run_pblk + (lblk - cur->run_lblk));
	cur->bh_lblk = lblk;
	return cur->bh ?: ERR_PTR(-EIO);
}

static int vexfs_cursor_read(struct vexfs_table_cursor *cur, void *buf,
			     size_t len, loff_t pos)
{
	while (len) {
		size_t off = pos & (VEXFS_BLOCK_SIZE - 1);
		size_t n = min_t(size_t, len, VEXFS_BLOCK_SIZE - off);
		struct buffer_head *bh;

		bh = vexfs_cursor_block(cur, pos >> VEXFS_BLOCK_SHIFT);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (bh)
			memcpy(buf, bh->b_data + off, n);
		else
			memset(buf, 0, n);
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

static void vexfs_cursor_end(struct vexfs_table_cursor *cur)
{
	brelse(cur->bh);
}

static int vexfs_table_read_blocks(struct inode *table, void *buf, size_t len,
				   loff_t pos)
{
	struct vexfs_table_cursor cur = { .table = table };
	int err = vexfs_cursor_read(&cur, buf, len, pos);

	vexfs_cursor_end(&cur);
	return err;
}

/*
 * Blocks one table write spans at most: a record of the largest dimension,
 * or a run of records (VEXFS_RUN_BYTES), starting inside a block.
 */
#define VEXFS_TABLE_WRITE_BLOCKS	8
static_assert(sizeof(struct vexfs_vrec) + VEXFS_MAX_DIM * sizeof(u32) +
	      VEXFS_BLOCK_SIZE <= VEXFS_TABLE_WRITE_BLOCKS * VEXFS_BLOCK_SIZE);

/* Copy into the blocks bh[] (the first at lblk first) what buf holds for them. */
static int vexfs_table_copy(struct inode *table, struct buffer_head **bh,
			    u32 n, const void *buf, size_t len, loff_t pos)
{
	loff_t start, end;
	int err = 0;
	u32 i;

	for (i = 0, start = pos; i < n; i++, start = end) {
		end = min_t(loff_t, pos + len,
			    round_down(start, VEXFS_BLOCK_SIZE) + VEXFS_BLOCK_SIZE);
		lock_buffer(bh[i]);
		memcpy(bh[i]->b_data + (start & (VEXFS_BLOCK_SIZE - 1)),
		       buf + (start - pos), end - start);
		unlock_buffer(bh[i]);
		err = vexfs_journal_dirty(table->i_sb, bh[i]) ?: err;
	}
	return err;
}

/*
 * Holds the table's i_rwsem; the caller's handle covers the blocks. Every
 * block the write needs is allocated, read and taken into the journal
 * before any is changed, so a write that fails (ENOSPC, a read error)
 * leaves the table as it was, new zeroed blocks aside: no record is ever
 * left half written, or naming a file that has no vector, with or
 * without a journal.
 */
static int vexfs_table_write_blocks(struct inode *table, const void *buf,
				    size_t len, loff_t pos)
{
	struct buffer_head *bh[VEXFS_TABLE_WRITE_BLOCKS];
	u32 first = pos >> VEXFS_BLOCK_SHIFT;
	u32 n = ((pos + len - 1) >> VEXFS_BLOCK_SHIFT) - first + 1, got = 0;
	loff_t covered = 0;
	int err;

	if (WARN_ON_ONCE(n > VEXFS_TABLE_WRITE_BLOCKS))
		return -EINVAL;
	inode_lock(table);
	err = vexfs_table_alloc(table, first, first + n - 1, &covered);
	for (; !err && got < n; got++) {
		bh[got] = vexfs_table_block(table, first + got);
		if (IS_ERR(bh[got])) {
			err = PTR_ERR(bh[got]);
			break;
		}
	}
	if (!err) {
		err = vexfs_table_copy(table, bh, n, buf, len, pos);
		covered = max_t(loff_t, covered, pos + len);
	}
	while (got--)
		brelse(bh[got]);
	/*
	 * The size covers whole blocks (any a failed write allocated too), so
	 * it changes only when the table gains a block, not with every record
	 * appended. Records are counted by the header's slot count, never by
	 * the size.
	 */
	if (covered > i_size_read(table)) {
		i_size_write(table, round_up(covered, VEXFS_BLOCK_SIZE));
		mark_inode_dirty(table);
	}
	inode_unlock(table);
	return err;
}

static int vexfs_table_read_cache(struct inode *inode, void *buf, size_t len,
				  loff_t pos)
{
	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - offset_in_page(pos));
		struct folio *folio;

		folio = read_mapping_folio(inode->i_mapping, pos >> PAGE_SHIFT,
					   NULL);
		if (IS_ERR(folio))
			return PTR_ERR(folio);
		memcpy_from_folio(buf, folio, offset_in_folio(folio, pos), n);
		folio_put(folio);
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/*
 * Write through the page cache, as a write(2) would. Holds i_rwsem, as
 * lockdep subclass (0 but for an inode no one else can see yet).
 */
static int vexfs_table_write_cache(struct inode *inode, const void *buf,
				   size_t len, loff_t pos, unsigned int subclass)
{
	struct address_space *mapping = inode->i_mapping;
	const struct address_space_operations *aops = mapping->a_ops;
	int err = 0;

	inode_lock_nested(inode, subclass);
	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - offset_in_page(pos));
		struct folio *folio;
		void *fsdata = NULL;
		int copied;

		err = aops->write_begin(NULL, mapping, pos, n, &folio, &fsdata);
		if (err)
			break;
		memcpy_to_folio(folio, offset_in_folio(folio, pos), buf, n);
		copied = aops->write_end(NULL, mapping, pos, n, n, folio, fsdata);
		if (copied < 0 || copied != n) {
			err = copied < 0 ? copied : -EIO;
			break;
		}
		buf += n;
		pos += n;
		len -= n;
	}
	inode_unlock(inode);
	return err;
}

int vexfs_table_read(struct inode *inode, void *buf, size_t len, loff_t pos)
{
	if (vexfs_is_table(inode))
		return vexfs_table_read_blocks(inode, buf, len, pos);
	return vexfs_table_read_cache(inode, buf, len, pos);
}

int vexfs_table_write(struct inode *inode, const void *buf, size_t len,
		      loff_t pos)
{
	if (vexfs_is_table(inode))
		return vexfs_table_write_blocks(inode, buf, len, pos);
	return vexfs_table_write_cache(inode, buf, len, pos, 0);
}

/*
 * Write an index inode being created, which no one else can see yet,
 * inside the caller's handle. Everywhere else an index's lock comes
 * before a handle (write_begin starts one); a subclass of its own keeps
 * lockdep from taking this nesting, on a private inode, for the reverse.
 */
int vexfs_table_write_new(struct inode *inode, const void *buf, size_t len,
			  loff_t pos)
{
	return vexfs_table_write_cache(inode, buf, len, pos,
				       SINGLE_DEPTH_NESTING);
}

int vexfs_write_header(struct vexfs_collection *c)
{
	struct vexfs_vtable_header vh = {
		.vh_magic = cpu_to_le32(VEXFS_VTABLE_MAGIC),
		.vh_version = cpu_to_le32(1),
		.vh_dim = cpu_to_le32(c->dim),
		.vh_metric = cpu_to_le16(c->metric),
		.vh_elem_type = cpu_to_le16(VEXFS_ELEM_F32),
		.vh_rec_size = cpu_to_le32(c->rec_size),
		.vh_owner = cpu_to_le64(c->dir->i_ino),
		.vh_slots = cpu_to_le64(c->disk_slots),
		.vh_index_ino = cpu_to_le64(c->index_inode && !c->index_detached ?
					    c->index_inode->i_ino : 0),
	};

	vh.vh_checksum = cpu_to_le32(vexfs_vtable_csum(&vh));
	/* The map has an entry for every slot the header counts. */
	vexfs_cmap_cover(&c->cmap, c->disk_slots);
	return vexfs_cmap_write(c) ?:
	       vexfs_table_write(c->table, &vh, sizeof(vh), 0);
}

static loff_t vexfs_slot_pos(struct vexfs_collection *c, u64 slot)
{
	return VEXFS_VTABLE_DATA_START + slot * c->rec_size;
}

/*
 * The change map raised for the records of slots [first, first + n),
 * their sequences in memory already, and written ahead of them.
 */
static int vexfs_note_changes(struct vexfs_collection *c, u64 first, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		vexfs_cmap_note(&c->cmap, first + i, c->slots[first + i].seq);
	return vexfs_cmap_write(c);
}

static void vexfs_fill_record(const struct vexfs_slot *s,
			      struct vexfs_vrec *rec)
{
	int i;

	rec->vr_ino = cpu_to_le64(s->ino);
	rec->vr_seq = cpu_to_le32(s->seq);
	if (s->ino) {
		rec->vr_id = cpu_to_le64(s->id);
		for (i = 0; i < VEXFS_ATTR_WORDS; i++)
			rec->vr_attrs[i] = cpu_to_le64(s->attrs[i]);
		rec->vr_uid = cpu_to_le32(from_kuid(&init_user_ns, s->uid));
		rec->vr_gid = cpu_to_le32(from_kgid(&init_user_ns, s->gid));
		rec->vr_mode = cpu_to_le16(s->mode);
	}
}

/*
 * Store slot's record in the table: its header from memory and vec (NULL:
 * zeroes, for a free slot) as its vector.
 */
static int __must_check vexfs_write_slot(struct vexfs_collection *c, u64 slot,
					 const u32 *vec)
{
	struct vexfs_vrec *rec;
	int err;

	rec = kzalloc(c->rec_size, GFP_NOFS);
	if (!rec)
		return -ENOMEM;
	vexfs_fill_record(&c->slots[slot], rec);
	if (vec)
		memcpy(rec + 1, vec, c->dim * sizeof(u32));
	err = vexfs_note_changes(c, slot, 1) ?:
	      vexfs_table_write(c->table, rec, c->rec_size, vexfs_slot_pos(c, slot));
	kfree(rec);
	return err;
}

/* Store slot's record header only: its vector stays as the table has it. */
static int __must_check vexfs_write_slot_header(struct vexfs_collection *c,
						u64 slot)
{
	struct vexfs_vrec rec = { 0 };

	vexfs_fill_record(&c->slots[slot], &rec);
	return vexfs_note_changes(c, slot, 1) ?:
	       vexfs_table_write(c->table, &rec, sizeof(rec),
				 vexfs_slot_pos(c, slot));
}

/* Read the records of slots [first, first + n) into buf. */
int vexfs_read_records(struct vexfs_collection *c, u64 first, u32 n,
		       void *buf)
{
	return vexfs_table_read(c->table, buf, (size_t)n * c->rec_size,
				vexfs_slot_pos(c, first));
}

/* Positions into slots, in slot order: n is small (a re-rank's chunk). */
static void vexfs_sort_by_slot(const u32 *slots, u32 *order, u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		u32 o = i;

		for (j = i; j > 0 && slots[order[j - 1]] > slots[o]; j--)
			order[j] = order[j - 1];
		order[j] = o;
	}
}

/*
 * Read the vectors of n slots, in any order, into vecs (vector i of slot
 * slots[i]), dim words each. They are read in slot order through one
 * cursor, so candidates that share a block or an extent share its read
 * or lookup. order holds n positions of scratch.
 */
int vexfs_read_vectors_of(struct vexfs_collection *c, const u32 *slots,
			  u32 n, u32 *order, u32 *vecs)
{
	struct vexfs_table_cursor cur = { .table = c->table };
	size_t vbytes = c->dim * sizeof(u32);
	int err = 0;
	u32 i;

	vexfs_sort_by_slot(slots, order, n);
	for (i = 0; !err && i < n; i++) {
		u32 o = order[i];

		err = vexfs_cursor_read(&cur, vecs + (size_t)o * c->dim, vbytes,
					vexfs_slot_pos(c, slots[o]) +
					VEXFS_VREC_HEADER);
	}
	vexfs_cursor_end(&cur);
	return err;
}

/* Bytes of records read at once by vexfs_read_vectors(). */
#define VEXFS_RECORDS_CHUNK	(64 * 1024)

/*
 * Read the vectors of slots [first, first + n) into vecs, dim words each,
 * as the table holds them: a free slot's may be anything.
 */
int vexfs_read_vectors(struct vexfs_collection *c, u64 first, u64 n,
		       u32 *vecs)
{
	u32 per_chunk = max_t(u32, 1, VEXFS_RECORDS_CHUNK / c->rec_size);
	size_t vbytes = c->dim * sizeof(u32);
	void *buf;
	int err = 0;

	if (n == 1)
		return vexfs_table_read(c->table, vecs, vbytes,
					vexfs_slot_pos(c, first) +
					VEXFS_VREC_HEADER);
	buf = kvmalloc((size_t)per_chunk * c->rec_size, GFP_NOFS);
	if (!buf)
		return -ENOMEM;
	while (!err && n) {
		u32 k = min_t(u64, per_chunk, n), i;

		err = vexfs_read_records(c, first, k, buf);
		for (i = 0; !err && i < k; i++, vecs += c->dim)
			memcpy(vecs, buf + (size_t)i * c->rec_size +
			       VEXFS_VREC_HEADER, vbytes);
		first += k;
		n -= k;
		cond_resched();
	}
	kvfree(buf);
	return err;
}

/* ==== in-memory image ==== */

static int vexfs_collection_reserve(struct vexfs_collection *c, u64 want)
{
	u64 cap = max3(want, c->capacity * 2, (u64)64);
	struct vexfs_slot *slots;

	if (want <= c->capacity)
		return 0;
	slots = kvcalloc(cap, sizeof(*slots), VEXFS_GFP_NOFS_SIZED);
	if (!slots)
		return -ENOMEM;
	if (c->nslots)
		memcpy(slots, c->slots, c->nslots * sizeof(*slots));
	kvfree(c->slots);
	c->slots = slots;
	c->capacity = cap;
	return 0;
}

/*
 * Note a free slot for the next vector to take. The stack grows as slots
 * are freed, not with the table: most collections have few free slots,
 * and four bytes for every slot would be a sixteenth of the memory a
 * vector costs. Freeing a slot must not fail (an unlink frees one), so
 * when the stack cannot grow the slot is only left out of it: free in
 * memory and on disk, it is taken again after the next load.
 */
static void vexfs_free_push(struct vexfs_collection *c, u64 slot)
{
	u64 cap = max_t(u64, c->free_cap * 2, 64);
	u32 *free;

	if (c->nfree == c->free_cap) {
		free = kvmalloc_array(cap, sizeof(u32),
				      VEXFS_GFP_NOFS_SIZED | __GFP_NOWARN);
		if (!free)
			return;
		if (c->nfree)
			memcpy(free, c->free, c->nfree * sizeof(u32));
		kvfree(c->free);
		c->free = free;
		c->free_cap = cap;
	}
	c->free[c->nfree++] = slot;
}

static struct vexfs_collection *vexfs_collection_alloc(struct inode *dir,
						       struct inode *table,
						       u32 dim, u16 metric)
{
	struct vexfs_collection *c = kzalloc(sizeof(*c), GFP_NOFS);

	if (!c)
		return NULL;
	init_rwsem(&c->rwsem);
	mutex_init(&c->publish_lock);
	mutex_init(&c->unit_lock);
	c->dir = dir;
	c->table = table;
	c->dim = dim;
	c->metric = metric;
	c->rec_size = VEXFS_VREC_HEADER + dim * sizeof(u32);
	return c;
}

static void vexfs_collection_release(struct vexfs_collection *c)
{
	kvfree(c->slots);
	kvfree(c->free);
	kvfree(c->units);
	kfree(c);
}

/* Take one record read from disk into slot's image; nothing is counted. */
static int vexfs_decode_slot(struct vexfs_collection *c, struct vexfs_slot *s,
			     const struct vexfs_vrec *rec)
{
	int i;

	s->ino = le64_to_cpu(rec->vr_ino);
	s->seq = le32_to_cpu(rec->vr_seq);
	if (s->seq > VEXFS_SEQ_MAX)
		return -EUCLEAN;
	if (!s->ino)
		return 0;
	if (s->ino <= VEXFS_ROOT_INO ||
	    s->ino >= VEXFS_SB(c->dir->i_sb)->inodes_count)
		return -EUCLEAN;
	s->id = le64_to_cpu(rec->vr_id);
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		s->attrs[i] = le64_to_cpu(rec->vr_attrs[i]);
	s->uid = make_kuid(&init_user_ns, le32_to_cpu(rec->vr_uid));
	s->gid = make_kgid(&init_user_ns, le32_to_cpu(rec->vr_gid));
	s->mode = le16_to_cpu(rec->vr_mode);
	return 0;
}

/* Bytes of records read at a time into slot images. */
#define VEXFS_SLOT_READ_BYTES	(64 * 1024)

/* Read the records of slots [first, first + n) into their images. */
static int vexfs_read_slots(struct vexfs_collection *c, u64 first, u64 n)
{
	u32 per_chunk = max_t(u32, 1, VEXFS_SLOT_READ_BYTES / c->rec_size);
	void *buf;
	int err = 0;

	buf = kvmalloc((size_t)min_t(u64, n, per_chunk) * c->rec_size ?: 1,
		       GFP_NOFS);
	if (!buf)
		return -ENOMEM;
	while (!err && n) {
		u32 k = min_t(u64, per_chunk, n), i;

		err = vexfs_table_read(c->table, buf, (size_t)k * c->rec_size,
				       vexfs_slot_pos(c, first));
		for (i = 0; !err && i < k; i++)
			err = vexfs_decode_slot(c, &c->slots[first + i],
						buf + (size_t)i * c->rec_size);
		first += k;
		n -= k;
		cond_resched();
	}
	kvfree(buf);
	return err;
}

/* Count what the images of all slots hold: live ones, free ones, the sequence. */
static void vexfs_account_slots(struct vexfs_collection *c)
{
	u64 slot;

	for (slot = 0; slot < c->nslots; slot++) {
		const struct vexfs_slot *s = &c->slots[slot];

		c->seq = max(c->seq, s->seq);
		if (s->ino)
			c->live++;
		else
			vexfs_free_push(c, slot);
	}
}

static int vexfs_load_slots(struct vexfs_collection *c, u64 nslots)
{
	int err = vexfs_collection_reserve(c, nslots);

	c->nslots = nslots;
	c->disk_slots = nslots;
	if (!err)
		err = vexfs_read_slots(c, 0, nslots);
	if (!err)
		vexfs_account_slots(c);
	return err;
}

/*
 * Slots read on demand: a unit is the records of a block or so, read as
 * one; the runs units are read in are as long as a read of the whole
 * table makes them.
 */
static int vexfs_slots_go_lazy(struct vexfs_collection *c, u64 nslots)
{
	u64 units;
	int err = vexfs_collection_reserve(c, nslots);

	if (err)
		return err;
	c->unit_slots = max_t(u32, 1, VEXFS_BLOCK_SIZE / c->rec_size);
	units = DIV_ROUND_UP(nslots, c->unit_slots);
	c->units = kvcalloc(BITS_TO_LONGS(units) ?: 1, sizeof(long),
			    VEXFS_GFP_NOFS_SIZED);
	if (!c->units)
		return -ENOMEM;
	c->nslots = nslots;
	c->disk_slots = nslots;
	smp_store_release(&c->slots_lazy, true);
	return 0;
}

/*
 * Start reading the blocks of the unit holding slot, unless it is read:
 * a search that met many unread slots has their reads in flight at once,
 * not one after the other.
 */
void vexfs_slots_readahead(struct vexfs_collection *c, u64 slot)
{
	u64 unit, first, last, pblk;
	u32 lblk, len;

	if (slot >= c->nslots || vexfs_slot_ready(c, slot))
		return;
	unit = slot / c->unit_slots;
	first = vexfs_slot_pos(c, unit * c->unit_slots) >> VEXFS_BLOCK_SHIFT;
	last = (vexfs_slot_pos(c, min_t(u64, (unit + 1) * c->unit_slots, c->nslots)) - 1) >>
	       VEXFS_BLOCK_SHIFT;
	for (lblk = first; lblk <= last; lblk++)
		if (!vexfs_map_block(c->table, lblk, &pblk, &len) && pblk)
			sb_breadahead(c->table->i_sb, pblk);
}

/*
 * Slots [first, end) just read on demand: any the index covers though it
 * changed after the index was built (the change map hid it) leaves the
 * cover before a search can look at it, and the map is no longer taken
 * at its word. Under unit_lock.
 */
static void vexfs_slots_check_cover(struct vexfs_collection *c, u64 first,
				    u64 end)
{
	struct vexfs_index *idx = c->index;
	u64 slot;

	for (slot = first; idx && slot < min(end, idx->nbits); slot++) {
		if (c->slots[slot].seq <= idx->seq ||
		    !test_bit(slot, idx->in_graph))
			continue;
		clear_bit(slot, idx->in_graph);
		if (c->cmap_from_disk)
			vexfs_corrupt(c->dir->i_sb, "collection %lu: change map of table %lu misses slot %llu",
				      c->dir->i_ino, c->table->i_ino, slot);
		c->cmap_from_disk = false;
	}
}

/*
 * Make sure slots [first, first + n) are read, when they are read on
 * demand. Readers of a unit wait for the one reading it.
 */
int vexfs_slots_ensure(struct vexfs_collection *c, u64 first, u64 n)
{
	u32 us, max_run;
	u64 u, end_u, run_end;
	int err = 0;

	if (!smp_load_acquire(&c->slots_lazy) || first >= c->nslots || !n)
		return 0;
	us = c->unit_slots;
	max_run = max_t(u32, 1, VEXFS_SLOT_READ_BYTES / (us * c->rec_size));
	n = min(n, c->nslots - first);
	u = first / us;
	end_u = DIV_ROUND_UP(first + n, us);
	while (!err && (u = find_next_zero_bit(c->units, end_u, u)) < end_u) {
		mutex_lock(&c->unit_lock);
		run_end = find_next_bit(c->units, min(end_u, u + max_run), u);
		if (run_end > u) {
			u64 end = min_t(u64, run_end * us, c->nslots);

			err = vexfs_read_slots(c, u * us, end - u * us);
			if (!err)
				vexfs_slots_check_cover(c, u * us, end);
			/* The images are in place before a bit says so. */
			smp_wmb();
			for (; !err && u < run_end; u++)
				set_bit(u, c->units);
		}
		mutex_unlock(&c->unit_lock);
		u = run_end;
	}
	/* Images another reader wrote, seen by their bits just above. */
	smp_rmb();
	if (err == -EUCLEAN)
		vexfs_corrupt(c->dir->i_sb, "collection %lu: bad vector table %lu",
			      c->dir->i_ino, c->table->i_ino);
	return err;
}

/*
 * Slots are only added when none is free, so there are never more of them
 * than inodes: a bound that keeps a corrupt count from sizing allocations.
 * Slots past the end of the table file read as zeroes, that is, free.
 */
static int vexfs_check_header(struct inode *dir, struct inode *table,
			      const struct vexfs_vtable_header *vh)
{
	u32 dim = le32_to_cpu(vh->vh_dim);
	u16 metric = le16_to_cpu(vh->vh_metric);
	u64 slots = le64_to_cpu(vh->vh_slots);

	if (le32_to_cpu(vh->vh_magic) != VEXFS_VTABLE_MAGIC ||
	    le32_to_cpu(vh->vh_checksum) != vexfs_vtable_csum(vh) ||
	    le32_to_cpu(vh->vh_version) != 1 ||
	    le64_to_cpu(vh->vh_owner) != dir->i_ino ||
	    !dim || dim > VEXFS_MAX_DIM ||
	    !vexfs_metric_valid(metric) ||
	    le16_to_cpu(vh->vh_elem_type) != VEXFS_ELEM_F32 ||
	    le32_to_cpu(vh->vh_rec_size) != VEXFS_VREC_HEADER + dim * sizeof(u32) ||
	    slots > VEXFS_SB(dir->i_sb)->inodes_count)
		return -EUCLEAN;
	return 0;
}

/* Forget what a load took in: a load that failed. */
static void vexfs_collection_unfill(struct vexfs_collection *c)
{
	kvfree(c->slots);
	kvfree(c->free);
	kvfree(c->units);
	c->slots = NULL;
	c->free = NULL;
	c->units = NULL;
	smp_store_release(&c->slots_lazy, false);
	c->cmap_from_disk = false;
	c->capacity = c->free_cap = c->nfree = 0;
	c->nslots = c->live = 0;
	c->seq = 0;
}

/*
 * Open dir's vector table: its header checked, into a collection whose
 * slots are not loaded yet (vexfs_collection_fill()).
 */
static int vexfs_collection_open(struct inode *dir, struct vexfs_collection **out)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_vtable_header vh;
	struct vexfs_collection *c;
	struct inode *table;
	int err;

	if (!(vi->flags & VEXFS_INODE_COLLECTION))
		return -ENOTTY;
	table = vexfs_iget(dir->i_sb, vi->aux);
	if (IS_ERR(table))
		return PTR_ERR(table);
	err = -EUCLEAN;
	if (!S_ISREG(table->i_mode) || !(VEXFS_I(table)->flags & VEXFS_INODE_VTABLE))
		goto out_bad;
	err = vexfs_table_read(table, &vh, sizeof(vh), 0);
	if (err)
		goto out_put;
	err = vexfs_check_header(dir, table, &vh);
	if (err)
		goto out_bad;
	err = -ENOMEM;
	c = vexfs_collection_alloc(dir, table, le32_to_cpu(vh.vh_dim),
				   le16_to_cpu(vh.vh_metric));
	if (!c)
		goto out_put;
	c->disk_slots = le64_to_cpu(vh.vh_slots);
	*out = c;
	return 0;
out_bad:
	if (err == -EUCLEAN)
		vexfs_corrupt(dir->i_sb, "collection %lu: bad vector table %lu",
			      dir->i_ino, table->i_ino);
out_put:
	iput(table);
	return err;
}

/* Block 0 of c's table: its header, checked, and its change map. */
static int vexfs_read_table_head(struct vexfs_collection *c, void *blk)
{
	int err = vexfs_table_read(c->table, blk, VEXFS_BLOCK_SIZE, 0);

	return err ?: vexfs_check_header(c->dir, c->table, blk);
}

static struct vexfs_change_map *vexfs_table_head_map(void *blk)
{
	return blk + VEXFS_CHANGE_MAP_OFFSET;
}

/* Does the filesystem say its tables' change maps are kept? */
static bool vexfs_maps_kept(struct super_block *sb)
{
	return le64_to_cpu(READ_ONCE(VEXFS_SB(sb)->raw->s_feature_ro_compat)) &
	       VEXFS_FEATURE_RO_COMPAT_CHANGE_MAP;
}

/*
 * With every slot read: the change map made exact. One read from disk
 * that fell short of a slot was damaged: said, and every bit of the
 * index checked again against the slots. Written at the next change
 * unless the disk's is good.
 */
static void vexfs_settle_cmap(struct vexfs_collection *c, bool disk_ok)
{
	u64 slot;

	for (slot = 0; disk_ok && slot < c->nslots; slot++) {
		if (c->slots[slot].seq <= c->cmap.seq[slot >> c->cmap.shift])
			continue;
		vexfs_corrupt(c->dir->i_sb, "collection %lu: change map of table %lu misses slot %llu",
			      c->dir->i_ino, c->table->i_ino, slot);
		disk_ok = false;
		if (c->index)
			vexfs_index_recheck(c);
	}
	vexfs_cmap_build(&c->cmap, c->slots, c->nslots);
	c->cmap.dirty = !disk_ok;
}

/*
 * Load the slots of an open collection, reading the whole table, and its
 * index. Nothing changes the table before this is done: every change
 * needs the slots.
 */
static int vexfs_collection_fill(struct vexfs_collection *c)
{
	struct inode *dir = c->dir;
	struct vexfs_vtable_header *vh;
	bool disk_ok;
	void *blk;
	u64 index_ino;
	int err;

	blk = kmalloc(VEXFS_BLOCK_SIZE, GFP_NOFS);
	if (!blk)
		return -ENOMEM;
	vh = blk;
	err = vexfs_read_table_head(c, blk);
	if (!err)
		err = vexfs_load_slots(c, le64_to_cpu(vh->vh_slots));
	disk_ok = !err && vexfs_maps_kept(dir->i_sb) &&
		  vexfs_cmap_decode(&c->cmap, vexfs_table_head_map(blk), c->nslots);
	index_ino = le64_to_cpu(vh->vh_index_ino);
	kfree(blk);
	if (err) {
		vexfs_collection_unfill(c);
		if (err == -EUCLEAN)
			vexfs_corrupt(dir->i_sb, "collection %lu: bad vector table %lu",
				      dir->i_ino, c->table->i_ino);
		return err;
	}
	vexfs_settle_cmap(c, disk_ok);
	/* The index only speeds search up: without it, search is exact. */
	if (index_ino && vexfs_index_load(c, index_ino, false))
		pr_warn("%pg: collection %lu: index not loaded, searching exactly\n",
			dir->i_sb->s_bdev, dir->i_ino);
	return 0;
}

/*
 * A collection whose slots were read on demand: the rest of them read, and
 * counted. Searches go on meanwhile; they look at no count.
 */
static int vexfs_collection_fill_rest(struct vexfs_collection *c)
{
	int err = vexfs_slots_ensure(c, 0, c->nslots);

	if (err)
		return err;
	/* The map's highest entry may be above every record (a wrap). */
	c->seq = c->index ? c->index->seq : 0;
	vexfs_account_slots(c);
	vexfs_settle_cmap(c, c->cmap_from_disk);
	c->cmap_from_disk = false;
	smp_store_release(&c->slots_lazy, false);
	return 0;
}

/*
 * Ready an open collection for search without reading its table whole:
 * its change map, its index walked from pages, and the slots changed
 * since the index was built (vexfs_index_load()); other slots as the
 * search meets them. -EOPNOTSUPP when one of those is missing: a table
 * without a map, no index, or one that is not walked from pages.
 */
static int vexfs_collection_fill_lazy(struct vexfs_collection *c)
{
	struct vexfs_vtable_header *vh;
	u64 nslots, index_ino;
	void *blk;
	int err;

	/*
	 * Without a journal a crash can leave a record on disk and not the
	 * map raised before it: such a map is not trusted.
	 */
	if (!vexfs_maps_kept(c->dir->i_sb) || !VEXFS_SB(c->dir->i_sb)->journal)
		return -EOPNOTSUPP;
	blk = kmalloc(VEXFS_BLOCK_SIZE, GFP_NOFS);
	if (!blk)
		return -ENOMEM;
	vh = blk;
	err = vexfs_read_table_head(c, blk);
	nslots = le64_to_cpu(vh->vh_slots);
	index_ino = le64_to_cpu(vh->vh_index_ino);
	if (!err && (!index_ino ||
		     !vexfs_cmap_decode(&c->cmap, vexfs_table_head_map(blk), nslots)))
		err = -EOPNOTSUPP;
	kfree(blk);
	if (!err)
		err = vexfs_slots_go_lazy(c, nslots);
	if (!err) {
		c->cmap_from_disk = true;
		c->seq = vexfs_cmap_max(&c->cmap);
		err = vexfs_index_load(c, index_ino, true);
	}
	if (err)
		vexfs_collection_unfill(c);
	return err;
}

/*
 * dir's collection opened, unless it is already. The caller holds
 * dir_lock. A failure is remembered as a load's; a success is not, so
 * that the failure of a load before it still stands for callers in a
 * handle (vexfs_collection_get()).
 */
static int vexfs_collection_open_locked(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_collection *c;
	int err;

	if (vi->coll)
		return 0;
	err = vexfs_collection_open(dir, &c);
	if (err)
		vi->coll_failed = err;
	else
		smp_store_release(&vi->coll, c);	/* see get_table */
	return err;
}

/* Is c ready for search, its slots read on demand? */
static bool vexfs_collection_try_lazy(struct vexfs_collection *c)
{
	if (!c->lazy_ready && !vexfs_collection_fill_lazy(c))
		smp_store_release(&c->lazy_ready, true);
	return c->lazy_ready;
}

/* Slots all read, from a collection opened or read on demand. */
static int vexfs_collection_load(struct vexfs_collection *c)
{
	if (c->slots_lazy)
		return vexfs_collection_fill_rest(c);
	return vexfs_collection_fill(c);
}

/*
 * The directory's collection, loaded on first use; -ENOTTY if none.
 * For search (lazy), loading may leave slots to be read on demand.
 *
 * Loading reads the whole table: inside a journal handle it would hold up
 * every commit, so operations that run in a handle load first, with
 * vexfs_collection_pin(). Inside a handle a collection whose load just
 * failed is not tried again; one never tried means a path that forgot to
 * pin, which is a bug (it still works, slowly).
 */
static struct vexfs_collection *vexfs_collection_get_how(struct inode *dir,
							 bool lazy)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_collection *c;
	int err = 0;

	if (!S_ISDIR(dir->i_mode))
		return ERR_PTR(-ENOTDIR);
	/*
	 * Ready already: no wait behind a load that holds dir_lock while it
	 * reads the rest of the table. Freed only with dir, which the caller
	 * holds.
	 */
	c = smp_load_acquire(&vi->coll);
	if (c && (smp_load_acquire(&c->loaded) ||
		  (lazy && smp_load_acquire(&c->lazy_ready))))
		return c;
	mutex_lock(&vi->dir_lock);
	if (!(vi->coll && vi->coll->loaded) &&
	    vexfs_journal_in_handle(dir->i_sb) &&
	    (vi->flags & VEXFS_INODE_COLLECTION)) {
		err = vi->coll_failed;
		WARN_ON_ONCE(!err);
	}
	if (!err)
		err = vexfs_collection_open_locked(dir);
	c = vi->coll;
	if (!err && !c->loaded && !(lazy && vexfs_collection_try_lazy(c))) {
		err = vexfs_collection_load(c);
		vi->coll_failed = err;
		if (!err)
			smp_store_release(&c->loaded, true);
	}
	mutex_unlock(&vi->dir_lock);
	return err ? ERR_PTR(err) : c;
}

struct vexfs_collection *vexfs_collection_get(struct inode *dir)
{
	return vexfs_collection_get_how(dir, false);
}

struct vexfs_collection *vexfs_collection_get_search(struct inode *dir)
{
	return vexfs_collection_get_how(dir, true);
}

/*
 * The directory's collection for reading one file's vector: its table
 * open, its slots loaded or not (vexfs_vector_get() then reads the file's
 * record from the table), so that a vector read right after a mount does
 * not wait for the whole table to be read.
 */
struct vexfs_collection *vexfs_collection_get_table(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_collection *c;
	int err;

	if (!S_ISDIR(dir->i_mode))
		return ERR_PTR(-ENOTDIR);
	/*
	 * Opened already: a reader does not wait behind a load that holds
	 * dir_lock while it reads the whole table. The collection is only
	 * freed with the directory's inode, which the caller holds.
	 */
	c = smp_load_acquire(&vi->coll);
	if (c)
		return c;
	mutex_lock(&vi->dir_lock);
	err = vexfs_collection_open_locked(dir);
	mutex_unlock(&vi->dir_lock);
	return err ? ERR_PTR(err) : vi->coll;
}

/* A new hidden inode of a collection: linked from no directory. */
struct inode *vexfs_hidden_inode(struct inode *dir, u16 flag)
{
	struct inode *inode = vexfs_new_inode(&nop_mnt_idmap, dir,
					      S_IFREG | 0600, 0);

	if (IS_ERR(inode))
		return inode;
	VEXFS_I(inode)->flags = flag;
	VEXFS_I(inode)->parent = dir->i_ino;
	vexfs_set_hidden_lock_class(inode);
	mark_inode_dirty(inode);
	unlock_new_inode(inode);
	return inode;
}

/* Make dir a collection. The caller holds dir's i_rwsem. */
static int __vexfs_collection_create(struct inode *dir, u32 dim, u16 metric);

int vexfs_collection_create(struct inode *dir, u32 dim, u16 metric)
{
	handle_t *handle;
	int err;

	handle = vexfs_journal_begin(dir->i_sb, VEXFS_CREDITS_DIROP, 0);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = __vexfs_collection_create(dir, dim, metric);
	return vexfs_journal_finish(handle, err);
}

static int __vexfs_collection_create(struct inode *dir, u32 dim, u16 metric)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_collection *c;
	struct inode *table;
	int err;

	if (vi->flags & VEXFS_INODE_COLLECTION)
		return -EEXIST;
	table = vexfs_hidden_inode(dir, VEXFS_INODE_VTABLE);
	if (IS_ERR(table))
		return PTR_ERR(table);

	err = -ENOMEM;
	c = vexfs_collection_alloc(dir, table, dim, metric);
	if (!c)
		goto out_drop;
	c->cmap.dirty = true;
	err = vexfs_write_header(c);
	if (err) {
		vexfs_collection_release(c);
		goto out_drop;
	}
	c->loaded = true;
	mutex_lock(&vi->dir_lock);
	smp_store_release(&vi->coll, c);	/* see get_table */
	vi->flags |= VEXFS_INODE_COLLECTION;
	vi->aux = table->i_ino;
	mutex_unlock(&vi->dir_lock);
	inode_set_ctime_current(dir);
	mark_inode_dirty(dir);
	return 0;
out_drop:
	clear_nlink(table);
	iput(table);
	return err;
}

/* The directory is leaving memory: drop the image, keep the table. */
void vexfs_collection_free(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_collection *c = vi->coll;

	if (!c)
		return;
	vi->coll = NULL;
	vexfs_index_release(c, false);
	iput(c->table);
	vexfs_collection_release(c);
}

/* The directory is being deleted: delete its vector table too. */
void vexfs_collection_destroy_table(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_collection *c;
	struct inode *table;

	if (!(vi->flags & VEXFS_INODE_COLLECTION))
		return;
	/* Loading it finds the index inode too; a broken table is just dropped. */
	c = vexfs_collection_get(dir);
	if (!IS_ERR(c)) {
		vexfs_index_release(c, true);
		table = igrab(c->table);
	} else {
		table = vexfs_iget(dir->i_sb, vi->aux);
		if (IS_ERR(table))
			return;
	}
	if (table && (VEXFS_I(table)->flags & VEXFS_INODE_VTABLE)) {
		clear_nlink(table);
		mark_inode_dirty(table);
	}
	iput(table);
	vexfs_collection_free(dir);
}

/* ==== vectors on files ==== */

/* True when every value is a finite float: no NaN, no infinity. */
bool vexfs_vector_valid(const u32 *vec, u32 dim)
{
	u32 i;

	for (i = 0; i < dim; i++)
		if ((vec[i] & 0x7f800000) == 0x7f800000)
			return false;
	return true;
}

/* The inode's slot in c, or -ENOENT. */
static s64 vexfs_find_slot(struct vexfs_collection *c, struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 slot = (u64)vi->aux - 1;

	if (!vi->aux || vi->parent != c->dir->i_ino || slot >= c->nslots ||
	    c->slots[slot].ino != inode->i_ino)
		return -ENOENT;
	return slot;
}

/*
 * The header's slot count grows in steps, so a long insert run rewrites it
 * once per step rather than once per vector; the slots reserved ahead are
 * simply free slots to a later mount.
 */
#define VEXFS_SLOT_STEP	1024

static u64 vexfs_slots_to_persist(struct vexfs_collection *c, u64 nslots)
{
	u64 want = round_up(nslots, VEXFS_SLOT_STEP);

	return min(want, VEXFS_SB(c->dir->i_sb)->inodes_count);
}

static s64 vexfs_take_slot(struct vexfs_collection *c)
{
	int err;

	if (c->nfree)
		return c->free[--c->nfree];
	if (c->nslots >= U32_MAX - 1)
		return -ENOSPC;
	err = vexfs_collection_reserve(c, c->nslots + 1);
	if (err)
		return err;
	c->slots[c->nslots].ino = 0;
	return c->nslots++;
}

/*
 * The next change sequence number. When it would pass VEXFS_SEQ_MAX, the
 * index is forgotten first: until a new one is published, search is
 * exact, and the sequence restarts below every number an index could
 * carry.
 */
static int vexfs_next_seq(struct vexfs_collection *c, u32 *seq)
{
	int err;
	u64 i;

	if (c->seq >= VEXFS_SEQ_MAX) {
		err = vexfs_index_forget_all(c);
		if (err)
			return err;
		for (i = 0; i < c->nslots; i++)
			c->slots[i].seq = 0;
		c->seq = 0;
	}
	*seq = ++c->seq;
	return 0;
}

/* Give slot a new change number, which takes it out of the index. */
static int vexfs_touch_slot(struct vexfs_collection *c, u64 slot)
{
	int err = vexfs_next_seq(c, &c->slots[slot].seq);

	vexfs_index_uncover(c, slot);
	return err;
}

/*
 * A file's vector changes under its i_rwsem, which serializes the sets
 * through its hard links; a new file still I_NEW (batch insert) is
 * reachable by no one, and needs none: locking it inside the journal
 * handle would order i_rwsem after the handle, against every other path.
 */
static void vexfs_assert_vector_lock(struct inode *inode)
{
	if (!(READ_ONCE(inode->i_state) & I_NEW))
		lockdep_assert_held_write(&inode->i_rwsem);
}

/*
 * A vector keeps its identity when it is replaced: id 0 keeps the id the
 * slot has (a new vector gets the inode number), attrs NULL keeps the
 * metadata words (a new vector gets zeroes).
 */
static int vexfs_fill_slot(struct vexfs_collection *c, u64 slot, bool fresh,
			   struct inode *inode, u64 id, const u64 *attrs)
{
	struct vexfs_slot *s = &c->slots[slot];
	int err = vexfs_touch_slot(c, slot);

	if (err)
		return err;
	s->ino = inode->i_ino;
	if (id || fresh)
		s->id = id ? id : inode->i_ino;
	if (attrs)
		memcpy(s->attrs, attrs, sizeof(s->attrs));
	else if (fresh)
		memset(s->attrs, 0, sizeof(s->attrs));
	s->uid = inode->i_uid;
	s->gid = inode->i_gid;
	s->mode = inode->i_mode;
	return 0;
}

/* Does inode's vector still live in the collection its i_parent names? */
static bool vexfs_vector_elsewhere(struct inode *inode)
{
	struct vexfs_collection *c;
	struct inode *dir;
	bool found = false;

	dir = vexfs_iget(inode->i_sb, VEXFS_I(inode)->parent);
	if (IS_ERR(dir))
		return false;
	c = vexfs_collection_get(dir);
	if (!IS_ERR(c)) {
		down_read(&c->rwsem);
		found = vexfs_find_slot(c, inode) >= 0;
		up_read(&c->rwsem);
	}
	iput(dir);
	return found;
}

/*
 * Replace, in place, the vector c holds for inode: the slot, the id and
 * the file's pointer to them stay, so the file's i_rwsem, which guards
 * that pointer, is not needed (batch upsert holds its directory's). attrs
 * NULL keeps the metadata. What it held goes to old_vec and old_attrs
 * (if not NULL), to be put back the same way. -ENODATA when c holds no
 * vector of inode.
 */
int vexfs_vector_replace(struct vexfs_collection *c, struct inode *inode,
			 const u32 *vec, const u64 *attrs, u32 *old_vec,
			 u64 *old_attrs)
{
	size_t bytes = c->dim * sizeof(u32);
	struct vexfs_slot before;
	handle_t *handle;
	u32 *was;
	s64 slot;
	int err;

	/* What the slot held, to put back in memory if the table write fails. */
	was = kmalloc(bytes, GFP_NOFS);
	if (!was)
		return -ENOMEM;
	handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_VECTOR, 0);
	err = PTR_ERR_OR_ZERO(handle);
	if (err)
		goto out_free;
	down_write(&c->rwsem);
	slot = vexfs_find_slot(c, inode);
	err = -ENODATA;
	if (slot < 0)
		goto out;
	before = c->slots[slot];
	err = vexfs_read_vectors(c, slot, 1, was);
	if (!err)
		err = vexfs_fill_slot(c, slot, false, inode, 0, attrs);
	if (!err)
		err = vexfs_write_slot(c, slot, vec);
	if (err) {
		/* Memory must keep agreeing with the table on disk. */
		c->slots[slot] = before;
	} else {
		if (old_vec)
			memcpy(old_vec, was, bytes);
		if (old_attrs)
			memcpy(old_attrs, before.attrs, sizeof(before.attrs));
	}
out:
	up_write(&c->rwsem);
	err = vexfs_journal_finish(handle, err);
out_free:
	kfree(was);
	return err;
}

/*
 * The file got a slot: a vector it kept (kept.c) is superseded. Should
 * removing it fail, the slot still wins wherever the file's vector is
 * read, and the next keep replaces the old one.
 */
static void vexfs_vector_unkeep(struct inode *inode)
{
	int err = vexfs_kept_remove(inode);

	if (err && err != -ENODATA)
		pr_warn_ratelimited("%pg: inode %lu: its kept vector stays beside its new one (%d)\n",
				    inode->i_sb->s_bdev, inode->i_ino, err);
}

/*
 * Set inode's vector in c, keeping its id when id is 0 and its metadata
 * when attrs is NULL (see vexfs_fill_slot()). The caller holds the file's
 * i_rwsem, under which alone i_parent and i_aux change: two sets through
 * hard links in two collections cannot both find the file free.
 */
int vexfs_vector_set(struct vexfs_collection *c, struct inode *inode,
		     const u32 *vec, u64 id, const u64 *attrs)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	handle_t *handle;
	u64 old_nslots;
	s64 slot;
	bool fresh = false;
	int err;

	vexfs_assert_vector_lock(inode);
	if (vi->aux && vi->parent != c->dir->i_ino) {
		/* A hard link may hold it in another collection. */
		if (vexfs_vector_elsewhere(inode))
			return -EBUSY;
		vi->aux = 0;	/* that collection is gone: a stale pointer */
		vi->parent = 0;
	}
	/*
	 * A fresh slot removes the vector the file kept (vexfs_vector_unkeep())
	 * in this handle, which a nested one cannot grow once a commit has
	 * begun: the xattr block's change and revoke are reserved now.
	 */
	handle = vexfs_journal_begin(inode->i_sb,
				     VEXFS_CREDITS_VECTOR + VEXFS_CREDITS_XATTR,
				     VEXFS_REVOKES_XATTR);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	down_write(&c->rwsem);
	/*
	 * Unlink drops the link count before it takes this lock to forget
	 * the vector, so an unlinked file seen here must not get a new slot.
	 */
	err = -ENOENT;
	if (!inode->i_nlink)
		goto out;
	old_nslots = c->disk_slots;
	slot = vexfs_find_slot(c, inode);
	if (slot < 0) {
		slot = vexfs_take_slot(c);
		fresh = true;
	}
	if (slot < 0) {
		err = slot;
		goto out;
	}
	err = vexfs_fill_slot(c, slot, fresh, inode, id, attrs);
	if (!err)
		err = vexfs_write_slot(c, slot, vec);
	if (!err && c->nslots > c->disk_slots) {
		c->disk_slots = vexfs_slots_to_persist(c, c->nslots);
		err = vexfs_write_header(c);
		if (err)
			c->disk_slots = old_nslots;
	}
	if (err) {
		if (fresh) {
			c->slots[slot].ino = 0;
			vexfs_free_push(c, slot);
		}
		goto out;
	}
	if (fresh) {
		c->live++;
		vi->aux = slot + 1;
		vi->parent = c->dir->i_ino;
		mark_inode_dirty(inode);
	}
out:
	up_write(&c->rwsem);
	if (!err && fresh)
		vexfs_vector_unkeep(inode);
	return vexfs_journal_finish(handle, err);
}

/*
 * The header must count n more slots before they are written: slots
 * counted ahead are free slots to a later mount, slots written past the
 * count would be lost to it.
 */
static int vexfs_persist_slots_for(struct vexfs_collection *c, u64 n)
{
	u64 before = c->disk_slots;
	int err;

	if (c->nslots + n <= c->disk_slots)
		return 0;
	c->disk_slots = vexfs_slots_to_persist(c, c->nslots + n);
	err = vexfs_write_header(c);
	if (err)
		c->disk_slots = before;
	return err;
}

/* A slot taken for a vector that will not be written: free again. */
static void vexfs_give_back(struct vexfs_collection *c, u64 slot)
{
	c->slots[slot].ino = 0;
	vexfs_free_push(c, slot);
}

/* Records of new vectors, gathered for slots that follow each other. */
struct vexfs_record_run {
	struct vexfs_vrec *buf;
	u32 cap;		/* records buf holds */
	u32 n;			/* records in it */
	u64 first;		/* slot of the first */
	struct inode **inodes;	/* their files */
};

static void vexfs_run_add(struct vexfs_collection *c, struct vexfs_record_run *run,
			  u64 slot, struct inode **inode,
			  const struct vexfs_new_vector *nv)
{
	struct vexfs_vrec *rec = (void *)run->buf + (size_t)run->n * c->rec_size;

	if (!run->n) {
		run->first = slot;
		run->inodes = inode;
	}
	memset(rec, 0, sizeof(*rec));
	vexfs_fill_record(&c->slots[slot], rec);
	memcpy(rec + 1, nv->vec, c->dim * sizeof(u32));
	run->n++;
}

/*
 * Credits to write a run of records: the blocks it spans, and what
 * allocating those past the table's end may change.
 */
static int vexfs_run_credits(struct vexfs_collection *c,
			     const struct vexfs_record_run *run)
{
	loff_t pos = vexfs_slot_pos(c, run->first);
	loff_t end = pos + (loff_t)run->n * c->rec_size;

	return ((end - 1) >> VEXFS_BLOCK_SHIFT) - (pos >> VEXFS_BLOCK_SHIFT) + 1 +
	       1 /* the change map */ + VEXFS_CREDITS_ALLOC;
}

/*
 * Write the run's records (unless err already says no); then its files
 * have their slots, or the slots are free again, the table unchanged for
 * them. Returns err or the write's error.
 */
static int vexfs_run_end(struct vexfs_collection *c, handle_t *handle,
			 struct vexfs_record_run *run, u32 *done, int err)
{
	u32 i;

	if (!run->n)
		return err;
	if (!err)
		err = vexfs_journal_reserve(handle, vexfs_run_credits(c, run));
	if (!err)
		err = vexfs_note_changes(c, run->first, run->n);
	if (!err)
		err = vexfs_table_write(c->table, run->buf,
					(size_t)run->n * c->rec_size,
					vexfs_slot_pos(c, run->first));
	for (i = 0; i < run->n; i++) {
		struct inode *inode = run->inodes[i];

		if (err) {
			vexfs_give_back(c, run->first + i);
			continue;
		}
		c->live++;
		VEXFS_I(inode)->aux = run->first + i + 1;
		VEXFS_I(inode)->parent = c->dir->i_ino;
	}
	if (!err)
		*done += run->n;
	run->n = 0;
	return err;
}

/* Bytes of records gathered before they are written. */
#define VEXFS_RUN_BYTES		(4 * VEXFS_BLOCK_SIZE)

/* Records a run gathers: as many as fit in VEXFS_RUN_BYTES, at least one. */
static u32 vexfs_run_cap(const struct vexfs_collection *c)
{
	return max_t(u32, 1, VEXFS_RUN_BYTES / c->rec_size);
}

size_t vexfs_vector_set_new_scratch(const struct vexfs_collection *c)
{
	return (size_t)vexfs_run_cap(c) * c->rec_size;
}

static int vexfs_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Take n free slots, in ascending order so that they make runs: the free
 * ones come back highest first. All or none.
 */
static int vexfs_take_slots(struct vexfs_collection *c, u32 *slots, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++) {
		s64 slot = vexfs_take_slot(c);

		if (slot < 0) {
			while (i--)
				vexfs_give_back(c, slots[i]);
			return slot;
		}
		slots[i] = slot;
	}
	sort(slots, n, sizeof(*slots), vexfs_u32_cmp, NULL);
	return 0;
}

/*
 * Give n new files (a batch's, still I_NEW, so no lock of theirs is
 * needed) fresh slots with their vectors, ids and metadata, under the
 * caller's handle, which grows as the writes need. Records of slots that
 * follow each other are gathered in scratch (of
 * vexfs_vector_set_new_scratch() bytes, the caller's, so that a batch
 * allocates it once) and written together: a table block costs one
 * lookup and one journal access, not one per record. *done: how many
 * files, in order, got their slot; on an error the others got none. The
 * caller logs the files that got one (vexfs_log_new_inodes()).
 */
int vexfs_vector_set_new(struct vexfs_collection *c, handle_t *handle,
			 struct inode **inodes,
			 const struct vexfs_new_vector *nv, u32 n,
			 void *scratch, u32 *done)
{
	struct vexfs_record_run run = {
		.buf = scratch,
		.cap = vexfs_run_cap(c),
	};
	u32 *slots, i;
	int err;

	*done = 0;
	slots = kmalloc_array(n, sizeof(*slots), GFP_NOFS);
	if (!slots)
		return -ENOMEM;
	down_write(&c->rwsem);
	err = vexfs_journal_reserve(handle, VEXFS_CREDITS_VECTOR) ?:
	      vexfs_persist_slots_for(c, n) ?:
	      vexfs_take_slots(c, slots, n);
	if (err)
		goto out_unlock;
	for (i = 0; i < n; i++) {
		err = vexfs_fill_slot(c, slots[i], true, inodes[i], nv[i].id,
				      nv[i].attrs);
		if (!err && run.n &&
		    (run.n == run.cap || slots[i] != run.first + run.n))
			err = vexfs_run_end(c, handle, &run, done, 0);
		if (err)
			break;
		vexfs_run_add(c, &run, slots[i], &inodes[i], &nv[i]);
	}
	err = vexfs_run_end(c, handle, &run, done, err);
	/* After an error: the slots not yet in a run were taken for nothing. */
	for (; i < n; i++)
		vexfs_give_back(c, slots[i]);
out_unlock:
	up_write(&c->rwsem);
	kfree(slots);
	return err;
}

/*
 * inode's vector, id and metadata words read from its record in the
 * table, for a collection whose slots are not loaded: nothing changes the
 * table before they are. The caller holds c->rwsem.
 */
static int vexfs_vector_read_record(struct vexfs_collection *c,
				    struct inode *inode, u32 *vec, u64 *id,
				    u64 *attrs)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 slot = (u64)vi->aux - 1;
	struct vexfs_vrec rec;
	int err, i;

	if (!vi->aux || vi->parent != c->dir->i_ino || slot >= c->disk_slots)
		return -ENODATA;
	err = vexfs_table_read(c->table, &rec, sizeof(rec),
			       vexfs_slot_pos(c, slot));
	if (err)
		return err;
	if (le64_to_cpu(rec.vr_ino) != inode->i_ino)
		return -ENODATA;
	*id = le64_to_cpu(rec.vr_id);
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		attrs[i] = le64_to_cpu(rec.vr_attrs[i]);
	return vexfs_table_read(c->table, vec, c->dim * sizeof(u32),
				vexfs_slot_pos(c, slot) + VEXFS_VREC_HEADER);
}

int vexfs_vector_get(struct vexfs_collection *c, struct inode *inode,
		     u32 *vec, u64 *id, u64 *attrs)
{
	s64 slot;
	int err = -ENODATA;

	down_read(&c->rwsem);
	if (!smp_load_acquire(&c->loaded)) {
		err = vexfs_vector_read_record(c, inode, vec, id, attrs);
		up_read(&c->rwsem);
		return err;
	}
	slot = vexfs_find_slot(c, inode);
	if (slot >= 0) {
		err = vexfs_read_vectors(c, slot, 1, vec);
		*id = c->slots[slot].id;
		memcpy(attrs, c->slots[slot].attrs, sizeof(c->slots[slot].attrs));
	}
	up_read(&c->rwsem);
	return err;
}

/* Delete inode's vector from c. The caller holds the file's i_rwsem. */
int vexfs_vector_del(struct vexfs_collection *c, struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	handle_t *handle;
	s64 slot;
	int err;

	vexfs_assert_vector_lock(inode);
	handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_VECTOR, 0);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	down_write(&c->rwsem);
	slot = vexfs_find_slot(c, inode);
	if (slot < 0) {
		err = -ENODATA;
		goto out;
	}
	err = vexfs_touch_slot(c, slot);
	if (err)
		goto out;
	c->slots[slot].ino = 0;
	err = vexfs_write_slot(c, slot, NULL);
	if (err) {
		/* Memory must keep agreeing with the table on disk. */
		c->slots[slot].ino = inode->i_ino;
		goto out;
	}
	vexfs_free_push(c, slot);
	c->live--;
	vi->aux = 0;
	vi->parent = 0;
	mark_inode_dirty(inode);
out:
	up_write(&c->rwsem);
	return vexfs_journal_finish(handle, err);
}

/*
 * Drop inode's vector if it lives in dir's collection (unlink, rename).
 * The slot is looked up under the collection lock, never before it, so a
 * vector being set at this moment is either refused or forgotten here.
 */
void vexfs_vector_forget(struct inode *dir, struct inode *inode)
{
	struct vexfs_collection *c;

	if (!S_ISREG(inode->i_mode) ||
	    !(VEXFS_I(dir)->flags & VEXFS_INODE_COLLECTION))
		return;
	c = vexfs_collection_get(dir);
	if (!IS_ERR(c))
		vexfs_vector_del(c, inode);
}

/*
 * The collection holding inode's vector, with a reference on its
 * directory in *dirp for the caller to iput(); -ENODATA without a vector.
 * slots: loaded, else maybe only its table open, enough for
 * vexfs_vector_get().
 */
struct vexfs_collection *vexfs_vector_owner(struct inode *inode,
					    struct inode **dirp, bool slots)
{
	struct vexfs_collection *c;
	struct inode *dir;

	if (!S_ISREG(inode->i_mode) || !VEXFS_I(inode)->aux)
		return ERR_PTR(-ENODATA);
	/* A directory freed since is no damage: the pointer is stale. */
	dir = vexfs_iget_how(inode->i_sb, VEXFS_I(inode)->parent,
			     VEXFS_IGET_STALE);
	if (IS_ERR(dir))
		return ERR_CAST(dir);
	c = slots ? vexfs_collection_get(dir) : vexfs_collection_get_table(dir);
	if (IS_ERR(c)) {
		iput(dir);
		return c;
	}
	*dirp = dir;
	return c;
}

/*
 * The file's last link went away in dir. Its vector may live in another
 * collection (it was hard-linked out of it): forget it there.
 */
void vexfs_vector_forget_last(struct inode *dir, struct inode *inode)
{
	struct inode *owner;
	u64 parent = VEXFS_I(inode)->parent;

	if (VEXFS_I(dir)->flags & VEXFS_INODE_COLLECTION) {
		vexfs_vector_forget(dir, inode);
		if (parent == dir->i_ino)
			return;
	}
	if (!S_ISREG(inode->i_mode) || !VEXFS_I(inode)->aux || !parent)
		return;
	owner = vexfs_iget(inode->i_sb, parent);
	if (IS_ERR(owner))
		return;
	vexfs_vector_forget(owner, inode);
	iput(owner);
}

/*
 * Move a vector of a file out of c, which is going away, into the file's
 * keeping (kept.c), in one handle; one that cannot be kept is dropped.
 */
static void vexfs_vector_evict(struct vexfs_collection *c, struct inode *inode)
{
	handle_t *handle;
	int err;

	handle = vexfs_journal_begin(inode->i_sb,
				     VEXFS_CREDITS_VECTOR + VEXFS_CREDITS_XATTR,
				     VEXFS_REVOKES_XATTR);
	if (IS_ERR(handle))
		return;
	err = vexfs_vector_keep(c, inode);
	if (err && err != -ENODATA)
		err = vexfs_vector_del(c, inode);
	vexfs_journal_finish(handle, err);
}

/*
 * dir, a collection, is being removed and has no name left in it: the
 * vectors it still holds are of files hard-linked elsewhere. Each is kept
 * with its file (or dropped, if it cannot be), in its own handle, so that
 * no file keeps an i_parent naming a deleted directory. Called before
 * rmdir starts its handle.
 */
void vexfs_collection_drop_vectors(struct inode *dir)
{
	struct vexfs_collection *c = vexfs_collection_get(dir);
	struct inode *inode;
	u64 slot, ino;

	if (IS_ERR(c))
		return;
	for (slot = 0; ; slot++) {
		down_read(&c->rwsem);
		ino = slot < c->nslots ? c->slots[slot].ino : U64_MAX;
		up_read(&c->rwsem);
		if (ino == U64_MAX)
			break;
		if (!ino)
			continue;
		inode = vexfs_iget_how(dir->i_sb, ino, VEXFS_IGET_STALE);
		if (IS_ERR(inode))
			continue;
		/*
		 * Only a regular file holds a vector: a damaged slot naming
		 * this directory (locked by rmdir), its parent or a hidden
		 * inode must not be locked here.
		 */
		if (!S_ISREG(inode->i_mode) ||
		    (VEXFS_I(inode)->flags & (VEXFS_INODE_VTABLE | VEXFS_INODE_VINDEX))) {
			vexfs_corrupt(dir->i_sb, "collection %lu: slot %llu names inode %llu, no file",
				      dir->i_ino, slot, ino);
			iput(inode);
			continue;
		}
		inode_lock(inode);
		vexfs_vector_evict(c, inode);
		inode_unlock(inode);
		iput(inode);
		cond_resched();
	}
}

/*
 * Load, before an operation starts its journal handle, the collections it
 * may change: loading reads a whole vector table, which must not hold up
 * the journal's commits. dir (may be NULL) is pinned by the caller; the
 * collection a file's vector lives in is pinned here, returned referenced
 * for the caller to iput() after the handle, or NULL. Errors are left for
 * the operation itself to meet.
 */
struct inode *vexfs_collection_pin(struct inode *dir, struct inode *inode)
{
	struct vexfs_inode_info *vi;
	struct inode *owner;

	if (dir && (VEXFS_I(dir)->flags & VEXFS_INODE_COLLECTION))
		vexfs_collection_get(dir);
	if (!inode || !S_ISREG(inode->i_mode))
		return NULL;
	vi = VEXFS_I(inode);
	if (!READ_ONCE(vi->aux) || !READ_ONCE(vi->parent) ||
	    (dir && READ_ONCE(vi->parent) == dir->i_ino))
		return NULL;
	owner = vexfs_iget_how(inode->i_sb, READ_ONCE(vi->parent),
			       VEXFS_IGET_STALE);
	if (IS_ERR(owner))
		return NULL;
	vexfs_collection_get(owner);
	return owner;
}

/* Owner, group or mode changed: keep the copy beside the vector in step. */
void vexfs_vector_perm_changed(struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_collection *c;
	struct inode *dir;
	handle_t *handle;
	s64 slot;

	if (!S_ISREG(inode->i_mode) || !vi->aux)
		return;
	dir = vexfs_iget(inode->i_sb, vi->parent);
	if (IS_ERR(dir))
		return;
	c = vexfs_collection_get(dir);
	handle = vexfs_journal_begin(inode->i_sb, VEXFS_CREDITS_VECTOR, 0);
	if (!IS_ERR(c) && !IS_ERR(handle)) {
		down_write(&c->rwsem);
		slot = vexfs_find_slot(c, inode);
		if (slot >= 0) {
			struct vexfs_slot old = c->slots[slot];

			c->slots[slot].uid = inode->i_uid;
			c->slots[slot].gid = inode->i_gid;
			c->slots[slot].mode = inode->i_mode;
			/* Memory must keep agreeing with the table on disk. */
			if (vexfs_write_slot_header(c, slot))
				c->slots[slot] = old;
		}
		up_write(&c->rwsem);
	}
	vexfs_journal_end(handle);
	iput(dir);
}
