// SPDX-License-Identifier: GPL-2.0
/*
 * Directories: entry blocks on disk and a name index in memory.
 *
 * On disk a directory is a run of blocks of ext2-style records (see
 * vexfs_fs.h). Records never move, so readdir needs nothing else.
 *
 * A directory that outgrows one block gets a hash tree (htree.c), its
 * name index on disk: a lookup, create or delete then reads the tree's
 * path and one entry block, whatever the size of the directory, from the
 * first access after a mount on. A directory of one block, or one larger
 * than VEXFS_HTREE_FROM_BLOCKS written by a module without the tree, is
 * "linear": the first operation that needs a name builds an index of it
 * in memory, a hash table from name to (block, offset, inode) and, per
 * block, the record a new entry goes into (struct vexfs_dir_room); it
 * lives as long as the directory's inode stays cached. Everything that
 * reads or changes either index holds the directory's dir_lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jhash.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include "vexfs.h"
#include "htree.h"

/*
 * A linear directory of at most this many blocks gets a hash tree when it
 * must grow: all its names go into the tree in the transaction that adds
 * the block. A larger one (only a module without the tree writes one)
 * stays linear rather than log that many blocks at once.
 */
#define VEXFS_HTREE_FROM_BLOCKS	64

/*
 * A name of the index: 24 bytes and the name, so that the names of up to
 * 8 bytes a collection's files get (ids in decimal, below 10^8) take 32
 * bytes of slab each. No RCU head: every lookup holds dir_lock, as does
 * every removal, so no reader can still hold a slot once it is removed
 * (the table's own resizing takes the bucket locks a removal takes).
 */
struct vexfs_dir_slot {
	struct rhash_head node;
	u64 ino;
	u32 lblk;			/* block of the directory holding the entry */
	u16 offset;			/* offset of the record in that block */
	u8 type;
	u8 len;
	char name[];
};
static_assert(sizeof(struct vexfs_dir_slot) == 24);

/*
 * Where a block takes its next entry: the record at off, with slack bytes
 * free. A scan of the block sets it to the record with the most room; an
 * insert then keeps using what is left of that record while a like entry
 * still fits, so filling a block costs one scan, not one per entry. The
 * block may hold a roomier record than this one meanwhile (from a delete
 * the room did not learn of): that costs space, never correctness.
 */
struct vexfs_dir_room {
	u16 off;
	u16 slack;
};

struct vexfs_dir_index {
	struct rhashtable names;
	struct vexfs_dir_room *room;	/* per block */
	u32 nblocks;
	u32 capacity;			/* entries allocated in room */
	u32 hint;			/* block that last took an entry */
	u64 count;			/* entries in the directory */
};

static u32 vexfs_name_hash(const void *data, u32 len, u32 seed)
{
	const struct qstr *name = data;

	return jhash(name->name, name->len, seed);
}

static u32 vexfs_slot_hash(const void *data, u32 len, u32 seed)
{
	const struct vexfs_dir_slot *slot = data;

	return jhash(slot->name, slot->len, seed);
}

static int vexfs_slot_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct qstr *name = arg->key;
	const struct vexfs_dir_slot *slot = obj;

	return slot->len != name->len || memcmp(slot->name, name->name, name->len);
}

static const struct rhashtable_params vexfs_dir_params = {
	.head_offset		= offsetof(struct vexfs_dir_slot, node),
	.hashfn			= vexfs_name_hash,
	.obj_hashfn		= vexfs_slot_hash,
	.obj_cmpfn		= vexfs_slot_cmp,
	.automatic_shrinking	= true,
};

static struct vexfs_dirent *vexfs_rec(void *block, unsigned int off)
{
	return (struct vexfs_dirent *)((char *)block + off);
}

/* Space a new entry could take from this record. */
static unsigned int vexfs_rec_slack(const struct vexfs_dirent *de)
{
	unsigned int len = le16_to_cpu(de->d_rec_len);

	return de->d_ino ? len - VEXFS_DIRENT_SIZE(de->d_name_len) : len;
}

/*
 * Walk to the record at off: it must lie inside the block and a used one
 * must name an inode that can exist. Enough to step over records and
 * place new ones in a block whose names vexfs_rec_check() has seen (every
 * block passes there when the directory's name index is built).
 */
static int vexfs_rec_len(struct inode *dir, u32 lblk, void *block,
			 unsigned int off)
{
	struct vexfs_dirent *de = vexfs_rec(block, off);
	unsigned int len;
	u64 ino;

	if (off + VEXFS_DIRENT_HEADER > VEXFS_BLOCK_PAYLOAD)
		goto bad;
	len = le16_to_cpu(de->d_rec_len);
	if (len < VEXFS_DIRENT_HEADER || len % VEXFS_DIRENT_ALIGN ||
	    off + len > VEXFS_BLOCK_PAYLOAD)
		goto bad;
	ino = le64_to_cpu(de->d_ino);
	if (ino && (ino >= VEXFS_SB(dir->i_sb)->inodes_count ||
		    !de->d_name_len || VEXFS_DIRENT_SIZE(de->d_name_len) > len))
		goto bad;
	return len;
bad:
	vexfs_corrupt(dir->i_sb, "directory %lu block %u: bad record at %u",
		      dir->i_ino, lblk, off);
	return -EUCLEAN;
}

/*
 * Check the record at off before using its name: vexfs_rec_len(), and a
 * used record's name holds no '/' and no NUL.
 */
static int vexfs_rec_check(struct inode *dir, u32 lblk, void *block,
			   unsigned int off)
{
	struct vexfs_dirent *de = vexfs_rec(block, off);
	int len = vexfs_rec_len(dir, lblk, block, off);

	if (len < 0 || !de->d_ino)
		return len;
	if (memchr(de->d_name, '/', de->d_name_len) ||
	    memchr(de->d_name, '\0', de->d_name_len)) {
		vexfs_corrupt(dir->i_sb, "directory %lu block %u: bad name at %u",
			      dir->i_ino, lblk, off);
		return -EUCLEAN;
	}
	return len;
}

static struct buffer_head *vexfs_dir_bread(struct inode *dir, u32 lblk)
{
	u64 pblk;
	u32 len;
	int err;

	err = vexfs_map_block(dir, lblk, &pblk, &len);
	if (err)
		return ERR_PTR(err);
	if (!pblk) {
		vexfs_corrupt(dir->i_sb, "directory %lu has a hole at block %u",
			      dir->i_ino, lblk);
		return ERR_PTR(-EUCLEAN);
	}
	return vexfs_bread_meta(dir->i_sb, pblk, VEXFS_DIR_MAGIC);
}

/* The record of a block with the most room; -EUCLEAN if a record is bad. */
static int vexfs_block_room(struct inode *dir, u32 lblk, void *block,
			    struct vexfs_dir_room *room)
{
	unsigned int off;
	int len;

	*room = (struct vexfs_dir_room){ 0, 0 };
	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += len) {
		unsigned int slack;

		len = vexfs_rec_len(dir, lblk, block, off);
		if (len < 0)
			return len;
		slack = vexfs_rec_slack(vexfs_rec(block, off));
		if (slack > room->slack)
			*room = (struct vexfs_dir_room){ off, slack };
	}
	return 0;
}

static int vexfs_index_reserve(struct vexfs_dir_index *idx, u32 nblocks)
{
	u32 cap = max(nblocks, 2 * idx->capacity);
	struct vexfs_dir_room *room;

	if (nblocks <= idx->capacity)
		return 0;
	room = kvcalloc(cap, sizeof(*room), GFP_NOFS | __GFP_NOWARN);
	if (!room)
		return -ENOMEM;
	if (idx->room)
		memcpy(room, idx->room, idx->nblocks * sizeof(*room));
	kvfree(idx->room);
	idx->room = room;
	idx->capacity = cap;
	return 0;
}

static struct vexfs_dir_slot *vexfs_slot_new(const char *name, u8 len,
					     u64 ino, u8 type)
{
	struct vexfs_dir_slot *slot = kmalloc(sizeof(*slot) + len, GFP_NOFS);

	if (!slot)
		return NULL;
	slot->ino = ino;
	slot->type = type;
	slot->len = len;
	memcpy(slot->name, name, len);
	return slot;
}

static void vexfs_slot_free(void *ptr, void *arg)
{
	kfree(ptr);
}

static void vexfs_index_destroy(struct vexfs_dir_index *idx)
{
	rhashtable_free_and_destroy(&idx->names, vexfs_slot_free, NULL);
	kvfree(idx->room);
	kfree(idx);
}

/* Put every used record of one block into the index. */
static int vexfs_index_block(struct inode *dir, struct vexfs_dir_index *idx,
			     u32 lblk, void *block)
{
	unsigned int off;
	int len, err;

	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += len) {
		struct vexfs_dirent *de = vexfs_rec(block, off);
		struct vexfs_dir_slot *slot;
		struct qstr name;

		len = vexfs_rec_check(dir, lblk, block, off);
		if (len < 0)
			return len;
		if (!de->d_ino)
			continue;
		slot = vexfs_slot_new(de->d_name, de->d_name_len,
				      le64_to_cpu(de->d_ino), de->d_type);
		if (!slot)
			return -ENOMEM;
		slot->lblk = lblk;
		slot->offset = off;
		name = (struct qstr)QSTR_INIT(slot->name, slot->len);
		err = rhashtable_lookup_insert_key(&idx->names, &name,
						   &slot->node, vexfs_dir_params);
		if (err) {
			kfree(slot);
			if (err == -EEXIST) {
				vexfs_corrupt(dir->i_sb, "directory %lu: duplicate name",
					      dir->i_ino);
				return -EUCLEAN;
			}
			return err;
		}
		idx->count++;
	}
	return 0;
}

static int vexfs_index_build(struct inode *dir, struct vexfs_dir_index **out)
{
	u32 nblocks = dir->i_size >> VEXFS_BLOCK_SHIFT, lblk;
	struct vexfs_dir_index *idx;
	int err;

	idx = kzalloc(sizeof(*idx), GFP_NOFS);
	if (!idx)
		return -ENOMEM;
	err = rhashtable_init(&idx->names, &vexfs_dir_params);
	if (err) {
		kfree(idx);
		return err;
	}
	err = vexfs_index_reserve(idx, max(nblocks, 8u));
	for (lblk = 0; !err && lblk < nblocks; lblk++) {
		struct buffer_head *bh = vexfs_dir_bread(dir, lblk);

		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			break;
		}
		err = vexfs_block_room(dir, lblk, bh->b_data, &idx->room[lblk]) ?:
		      vexfs_index_block(dir, idx, lblk, bh->b_data);
		idx->nblocks = lblk + 1;
		brelse(bh);
		cond_resched();
	}
	if (err) {
		vexfs_index_destroy(idx);
		return err;
	}
	*out = idx;
	return 0;
}

/* The directory's index, built on first use. Called under dir_lock. */
static struct vexfs_dir_index *vexfs_index(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	int err;

	if (!vi->dir_index) {
		err = vexfs_index_build(dir, &vi->dir_index);
		if (err)
			return ERR_PTR(err);
	}
	return vi->dir_index;
}

void vexfs_dir_index_free(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);

	vexfs_htree_forget(dir);
	if (vi->dir_index) {
		vexfs_index_destroy(vi->dir_index);
		vi->dir_index = NULL;
	}
}

static struct vexfs_dir_slot *vexfs_index_find(struct vexfs_dir_index *idx,
					       const struct qstr *name)
{
	return rhashtable_lookup_fast(&idx->names, name, vexfs_dir_params);
}

/* Names changed: dir's mtime and ctime, and dir logged with them. */
void vexfs_dir_touch(struct inode *dir)
{
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
	mark_inode_dirty(dir);
}

/* Add an empty entry block at lblk, the directory's new end. */
static int vexfs_dir_add_block(struct inode *dir, u32 lblk)
{
	struct vexfs_dirent *de;
	struct buffer_head *bh;
	u64 pblk;
	u32 len;
	bool new;
	int err;

	if ((u64)(lblk + 1) << VEXFS_BLOCK_SHIFT > dir->i_sb->s_maxbytes ||
	    lblk + 1 > VEXFS_HTREE_LBLK)
		return -EFBIG;
	err = vexfs_map_alloc(dir, lblk, 1, &pblk, &len, &new);
	if (err)
		return err;
	bh = vexfs_new_meta(dir->i_sb, pblk);
	if (IS_ERR(bh)) {
		/* A hashed directory keeps the block: the tree lies past it. */
		if (!vexfs_dir_hashed(dir))
			vexfs_truncate_blocks(dir, lblk);
		return PTR_ERR(bh);
	}
	de = vexfs_rec(bh->b_data, 0);
	de->d_rec_len = cpu_to_le16(VEXFS_BLOCK_PAYLOAD);
	err = vexfs_dirty_meta(dir->i_sb, bh, VEXFS_DIR_MAGIC);
	brelse(bh);
	if (err)
		return err;
	i_size_write(dir, (loff_t)(lblk + 1) << VEXFS_BLOCK_SHIFT);
	mark_inode_dirty(dir);
	return 0;
}

/* Add an empty block at the end of a linear directory. */
static int vexfs_dir_grow(struct inode *dir, struct vexfs_dir_index *idx,
			  u32 *lblk)
{
	int err;

	*lblk = idx->nblocks;
	err = vexfs_index_reserve(idx, *lblk + 1) ?:
	      vexfs_dir_add_block(dir, *lblk);
	if (err)
		return err;
	idx->room[*lblk] = (struct vexfs_dir_room){ 0, VEXFS_BLOCK_PAYLOAD };
	idx->nblocks = *lblk + 1;
	return 0;
}

/*
 * A block with room for need bytes, searched from the last one used.
 * Without one, 1 when the directory is to get its hash tree instead of a
 * block.
 */
static int vexfs_dir_find_room(struct inode *dir, struct vexfs_dir_index *idx,
			       unsigned int need, u32 *lblk)
{
	u32 i, b;

	for (i = 0; i < idx->nblocks; i++) {
		b = (idx->hint + i) % idx->nblocks;
		if (idx->room[b].slack >= need) {
			*lblk = b;
			return 0;
		}
	}
	if (idx->nblocks && idx->nblocks <= VEXFS_HTREE_FROM_BLOCKS)
		return 1;
	return vexfs_dir_grow(dir, idx, lblk);
}

/*
 * Write the entry into the block's room (a record with at least need bytes
 * free, checked again here: the block may have been read back from a
 * device changed under the index); returns the entry's offset.
 */
static int vexfs_dir_place(struct inode *dir, u32 lblk, void *block,
			   struct vexfs_dir_room *room, const struct qstr *name,
			   u64 ino, u8 type)
{
	unsigned int need = VEXFS_DIRENT_SIZE(name->len), off = room->off;
	struct vexfs_dirent *de = vexfs_rec(block, off);
	int len = vexfs_rec_len(dir, lblk, block, off);

	if (len < 0)
		return len;
	if (vexfs_rec_slack(de) < need) {
		vexfs_corrupt(dir->i_sb, "directory %lu block %u: no room as counted",
			      dir->i_ino, lblk);
		return -EUCLEAN;
	}
	if (de->d_ino) {
		unsigned int used = VEXFS_DIRENT_SIZE(de->d_name_len);
		struct vexfs_dirent *next = vexfs_rec(block, off + used);

		next->d_rec_len = cpu_to_le16(len - used);
		de->d_rec_len = cpu_to_le16(used);
		de = next;
		off += used;
	}
	de->d_ino = cpu_to_le64(ino);
	de->d_name_len = name->len;
	de->d_type = type;
	de->d_reserved = 0;
	memcpy(de->d_name, name->name, name->len);
	return off;
}

/*
 * After an entry of need bytes went in at off: what is left of its record
 * stays the room while another such entry fits, else the block is scanned.
 */
static void vexfs_room_after_insert(struct inode *dir, u32 lblk, void *block,
				    struct vexfs_dir_room *room,
				    unsigned int off, unsigned int need)
{
	unsigned int left = vexfs_rec_slack(vexfs_rec(block, off));

	if (left >= need)
		*room = (struct vexfs_dir_room){ off, left };
	else if (vexfs_block_room(dir, lblk, block, room))
		*room = (struct vexfs_dir_room){ 0, 0 };
}

/* Where a name's entry is: its block, record and inode. */
struct vexfs_dir_spot {
	u32 lblk;
	unsigned int offset;
	u64 ino;
};

/* What a walk of the hash tree looks for in each block it is given. */
struct vexfs_dir_seek {
	struct inode *dir;
	const struct qstr *name;
	struct vexfs_dir_spot spot;
};

/* Look for the name in one entry block: 1 found, 0 not there, or an error. */
static int vexfs_block_seek(void *arg, u32 lblk)
{
	struct vexfs_dir_seek *seek = arg;
	struct buffer_head *bh = vexfs_dir_bread(seek->dir, lblk);
	unsigned int off;
	int len, ret = 0;

	if (IS_ERR(bh))
		return PTR_ERR(bh);
	for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += len) {
		struct vexfs_dirent *de = vexfs_rec(bh->b_data, off);

		len = vexfs_rec_check(seek->dir, lblk, bh->b_data, off);
		if (len < 0) {
			ret = len;
			break;
		}
		if (de->d_ino && de->d_name_len == seek->name->len &&
		    !memcmp(de->d_name, seek->name->name, seek->name->len)) {
			seek->spot = (struct vexfs_dir_spot){
				lblk, off, le64_to_cpu(de->d_ino) };
			ret = 1;
			break;
		}
	}
	brelse(bh);
	return ret;
}

/* The entry of name in a hashed directory, or -ENOENT. */
static int vexfs_hashed_find(struct vexfs_htree *t, const struct qstr *name,
			     u32 hash, struct vexfs_dir_spot *spot)
{
	struct vexfs_dir_seek seek = { .dir = t->dir, .name = name };
	int ret = vexfs_htree_find(t, hash, vexfs_block_seek, &seek);

	if (ret <= 0)
		return ret ?: -ENOENT;
	*spot = seek.spot;
	return 0;
}

/* The room a hashed directory's last insert left, if it is in lblk. */
static bool vexfs_room_known(struct inode *dir, u32 lblk,
			     struct vexfs_dir_room *room)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);

	if (!vi->room_slack || vi->room_lblk != lblk)
		return false;
	*room = (struct vexfs_dir_room){ vi->room_off, vi->room_slack };
	return true;
}

static void vexfs_room_remember(struct inode *dir, u32 lblk,
				const struct vexfs_dir_room *room)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);

	vi->room_lblk = lblk;
	vi->room_off = room->off;
	vi->room_slack = room->slack;
}

/*
 * An entry block of a hashed directory with room for need bytes, read and
 * taken into the transaction, with its room: the newest block the tree
 * remembers with room, else the last block, else a new one. The room the
 * last insert left is known without a scan of its block.
 */
static struct buffer_head *vexfs_hashed_room(struct vexfs_htree *t,
					     unsigned int need, u32 *lblk,
					     struct vexfs_dir_room *room)
{
	struct inode *dir = t->dir;
	int err;

	for (;;) {
		u32 nblocks = dir->i_size >> VEXFS_BLOCK_SHIFT;
		bool listed = vexfs_htree_room(t, lblk);
		struct buffer_head *bh;

		if (!listed) {
			if (!nblocks) {
				err = vexfs_dir_add_block(dir, 0);
				if (err)
					return ERR_PTR(err);
				nblocks = 1;
			}
			*lblk = nblocks - 1;
		} else if (*lblk >= nblocks) {
			vexfs_corrupt(dir->i_sb, "directory %lu: room remembered in block %u past its end",
				      dir->i_ino, *lblk);
			return ERR_PTR(-EUCLEAN);
		}
		bh = vexfs_dir_bread(dir, *lblk);
		if (IS_ERR(bh))
			return bh;
		err = 0;
		if (!vexfs_room_known(dir, *lblk, room))
			err = vexfs_block_room(dir, *lblk, bh->b_data, room);
		if (!err && room->slack >= need) {
			err = vexfs_journal_access(dir->i_sb, bh);
			if (!err)
				return bh;
		}
		brelse(bh);
		if (err)
			return ERR_PTR(err);
		/* Full: forget it, or add a block past the last one. */
		err = listed ? vexfs_htree_room_drop(t) :
			       vexfs_dir_add_block(dir, nblocks);
		if (err)
			return ERR_PTR(err);
	}
}

/*
 * Name ino in a hashed directory. The caller holds dir's i_rwsem and
 * found the name absent (the VFS's lookup, a batch's), so no second
 * lookup is made here.
 */
static int vexfs_hashed_insert(struct inode *dir, const struct qstr *name,
			       u64 ino, u8 type)
{
	unsigned int need = VEXFS_DIRENT_SIZE(name->len);
	struct vexfs_dir_room room;
	struct vexfs_htree t;
	struct buffer_head *bh;
	u32 hash, lblk;
	int err, off;

	err = vexfs_htree_open(dir, &t);
	if (err)
		return err;
	hash = vexfs_htree_hash(&t, name->name, name->len);
	bh = vexfs_hashed_room(&t, need, &lblk, &room);
	if (IS_ERR(bh)) {
		vexfs_htree_close(&t);
		return PTR_ERR(bh);
	}
	/* The tree first: it fails, if at all, before anything changed. */
	err = vexfs_htree_insert(&t, hash, lblk);
	if (!err) {
		off = vexfs_dir_place(dir, lblk, bh->b_data, &room, name, ino,
				      type);
		err = off < 0 ? off :
		      vexfs_dirty_meta(dir->i_sb, bh, VEXFS_DIR_MAGIC);
		if (off >= 0) {
			vexfs_room_after_insert(dir, lblk, bh->b_data, &room,
						off, need);
			vexfs_room_remember(dir, lblk, &room);
		}
	}
	brelse(bh);
	vexfs_htree_close(&t);
	return err;
}

/*
 * Give a linear directory its hash tree, every name of its blocks in it,
 * and drop its index in memory. On failure the tree's blocks go again
 * and the directory stays linear.
 */
static int vexfs_dir_to_htree(struct inode *dir)
{
	u32 nblocks = dir->i_size >> VEXFS_BLOCK_SHIFT, lblk;
	struct vexfs_htree t = {};
	int err;

	err = vexfs_super_add_incompat(dir->i_sb, VEXFS_FEATURE_INCOMPAT_HTREE) ?:
	      vexfs_htree_create(dir, &t);
	for (lblk = 0; !err && lblk < nblocks; lblk++) {
		struct buffer_head *bh = vexfs_dir_bread(dir, lblk);
		unsigned int off;
		int len;

		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			break;
		}
		for (off = 0; !err && off < VEXFS_BLOCK_PAYLOAD; off += len) {
			struct vexfs_dirent *de = vexfs_rec(bh->b_data, off);

			len = vexfs_rec_check(dir, lblk, bh->b_data, off);
			if (len < 0)
				err = len;
			else if (de->d_ino)
				err = vexfs_htree_insert(&t,
					vexfs_htree_hash(&t, de->d_name,
							 de->d_name_len), lblk);
		}
		brelse(bh);
	}
	if (t.head)
		vexfs_htree_close(&t);
	if (err) {
		vexfs_htree_forget(dir);
		if (vexfs_truncate_blocks(dir, VEXFS_HTREE_LBLK))
			vexfs_journal_abort(dir->i_sb, err,
					    "dropping a hash tree half made");
		return err;
	}
	VEXFS_I(dir)->flags |= VEXFS_INODE_HTREE;
	mark_inode_dirty(dir);
	vexfs_dir_index_free(dir);
	return 0;
}

/* Name ino in a linear directory, which may become hashed on the way. */
static int vexfs_linear_insert(struct inode *dir, const struct qstr *name,
			       u64 ino, u8 type)
{
	struct vexfs_dir_index *idx = vexfs_index(dir);
	struct vexfs_dir_slot *slot;
	struct buffer_head *bh;
	u32 lblk;
	int err, off;

	if (IS_ERR(idx))
		return PTR_ERR(idx);
	if (vexfs_index_find(idx, name))
		return -EEXIST;
	err = vexfs_dir_find_room(dir, idx, VEXFS_DIRENT_SIZE(name->len), &lblk);
	if (err > 0)
		return vexfs_dir_to_htree(dir) ?:
		       vexfs_hashed_insert(dir, name, ino, type);
	if (err)
		return err;
	slot = vexfs_slot_new(name->name, name->len, ino, type);
	if (!slot)
		return -ENOMEM;
	bh = vexfs_dir_bread(dir, lblk);
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto out_free;
	}
	err = vexfs_journal_access(dir->i_sb, bh);
	if (err)
		goto out_brelse;
	/* Index first: it is the step that can fail without touching disk. */
	err = rhashtable_lookup_insert_key(&idx->names, name, &slot->node,
					   vexfs_dir_params);
	if (err)
		goto out_brelse;
	off = vexfs_dir_place(dir, lblk, bh->b_data, &idx->room[lblk], name,
			      ino, type);
	if (off < 0) {
		err = off;
		rhashtable_remove_fast(&idx->names, &slot->node, vexfs_dir_params);
		goto out_brelse;
	}
	slot->lblk = lblk;
	slot->offset = off;
	idx->count++;
	idx->hint = lblk;
	vexfs_room_after_insert(dir, lblk, bh->b_data, &idx->room[lblk], off,
				VEXFS_DIRENT_SIZE(name->len));
	err = vexfs_dirty_meta(dir->i_sb, bh, VEXFS_DIR_MAGIC);
	brelse(bh);
	return err;

out_brelse:
	brelse(bh);
out_free:
	kfree(slot);
	return err;
}

static int vexfs_key_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The leaves of dir's tree that naming the ids (in decimal) would change,
 * found by walking the tree for their keys, sorted: a run of ids shares a
 * few, scattered ones take one each. Called under dir_lock.
 */
static int vexfs_leaves_for_ids(struct vexfs_htree *t, const u64 *ids,
				u32 count, u32 *leaves)
{
	char name[VEXFS_NAME_MAX_DIGITS + 1];
	u32 *keys, i;
	int err;

	keys = kvmalloc_array(count, sizeof(*keys), VEXFS_GFP_USER_SIZED);
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		int len = snprintf(name, sizeof(name), "%llu", ids[i]);

		keys[i] = vexfs_htree_hash(t, name, len);
	}
	sort(keys, count, sizeof(*keys), vexfs_key_cmp, NULL);
	err = vexfs_htree_leaves_for(t, keys, count, leaves);
	kvfree(keys);
	return err;
}

/*
 * Blocks of its name index that naming files of the ids in dir may
 * dirty: a hashed directory's leaves those names fall in, the nodes their
 * splits add and their parents; a small linear directory's whole tree,
 * made when it grows. An estimate, as the rest of a batch's: each insert
 * still reserves what it needs.
 */
u64 vexfs_dir_insert_credits(struct inode *dir, const u64 *ids, u32 count)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	u64 splits = count / (VEXFS_HTREE_PAIRS / 2) + 1;
	struct vexfs_htree t;
	u32 leaves = count;
	u64 credits;

	mutex_lock(&vi->dir_lock);
	if (!vexfs_dir_hashed(dir)) {
		credits = VEXFS_HTREE_FROM_BLOCKS + 2 + splits;
	} else if (vexfs_htree_open(dir, &t)) {
		credits = count;	/* the insert will meet the damage */
	} else {
		vexfs_leaves_for_ids(&t, ids, count, &leaves);
		credits = leaves + 2 * splits * (vexfs_htree_level(&t) + 2) + 1;
		vexfs_htree_close(&t);
	}
	mutex_unlock(&vi->dir_lock);
	return credits;
}

/*
 * Name inode in dir, leaving dir's times (and so the logging of dir's
 * inode) to the caller: a batch sets them once for all its names.
 */
int vexfs_dir_insert(struct inode *dir, const struct qstr *name,
		     struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	u8 type = fs_umode_to_dtype(inode->i_mode);
	int err;

	if (name->len > VEXFS_NAME_LEN)
		return -ENAMETOOLONG;
	mutex_lock(&vi->dir_lock);
	if (vexfs_dir_hashed(dir))
		err = vexfs_hashed_insert(dir, name, inode->i_ino, type);
	else
		err = vexfs_linear_insert(dir, name, inode->i_ino, type);
	mutex_unlock(&vi->dir_lock);
	return err;
}

int vexfs_add_entry(struct inode *dir, const struct qstr *name,
		    struct inode *inode)
{
	int err = vexfs_dir_insert(dir, name, inode);

	if (!err)
		vexfs_dir_touch(dir);
	return err;
}

/*
 * The entry of name, from whichever index the directory has. Called
 * under dir_lock; a hashed directory's tree is open in t (its head NULL
 * for a linear one), and the caller closes it.
 */
static int vexfs_dir_find(struct inode *dir, const struct qstr *name,
			  struct vexfs_htree *t, u32 *hash,
			  struct vexfs_dir_spot *spot)
{
	struct vexfs_dir_index *idx;
	struct vexfs_dir_slot *slot;
	int err;

	t->head = NULL;
	if (vexfs_dir_hashed(dir)) {
		err = vexfs_htree_open(dir, t);
		if (err)
			return err;
		*hash = vexfs_htree_hash(t, name->name, name->len);
		return vexfs_hashed_find(t, name, *hash, spot);
	}
	idx = vexfs_index(dir);
	if (IS_ERR(idx))
		return PTR_ERR(idx);
	slot = vexfs_index_find(idx, name);
	if (!slot)
		return -ENOENT;
	*spot = (struct vexfs_dir_spot){ slot->lblk, slot->offset, slot->ino };
	return 0;
}

static void vexfs_dir_found(struct vexfs_htree *t)
{
	if (t->head)
		vexfs_htree_close(t);
}

int vexfs_find_entry(struct inode *dir, const struct qstr *name, u64 *ino)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_dir_spot spot;
	struct vexfs_htree t;
	u32 hash;
	int err;

	mutex_lock(&vi->dir_lock);
	err = vexfs_dir_find(dir, name, &t, &hash, &spot);
	vexfs_dir_found(&t);
	mutex_unlock(&vi->dir_lock);
	if (!err)
		*ino = spot.ino;
	return err;
}

/*
 * Read an entry's block, check the record is where its index says, and
 * take the block into the transaction: both callers change the record.
 * *prev is the record before it, VEXFS_BLOCK_PAYLOAD when it is first.
 */
static int vexfs_dir_locate(struct inode *dir, const struct vexfs_dir_spot *spot,
			    struct buffer_head **bhp, unsigned int *prev)
{
	struct buffer_head *bh = vexfs_dir_bread(dir, spot->lblk);
	unsigned int off, last = VEXFS_BLOCK_PAYLOAD;
	int len;

	if (IS_ERR(bh))
		return PTR_ERR(bh);
	for (off = 0; off < spot->offset; off += len) {
		len = vexfs_rec_len(dir, spot->lblk, bh->b_data, off);
		if (len < 0)
			goto bad;
		last = off;
	}
	if (off != spot->offset ||
	    le64_to_cpu(vexfs_rec(bh->b_data, off)->d_ino) != spot->ino)
		goto bad;
	len = vexfs_journal_access(dir->i_sb, bh);
	if (len) {
		brelse(bh);
		return len;
	}
	*bhp = bh;
	*prev = last;
	return 0;
bad:
	brelse(bh);
	vexfs_corrupt(dir->i_sb, "directory %lu changed under its index",
		      dir->i_ino);
	return -EUCLEAN;
}

/*
 * The record at off grew to slack free bytes by taking in a deleted entry.
 * It has more room than the deleted record had, so a room that pointed
 * there moves to it.
 */
static void vexfs_room_after_delete(struct vexfs_dir_room *room,
				    unsigned int off, unsigned int slack)
{
	if (slack > room->slack)
		*room = (struct vexfs_dir_room){ off, slack };
}

/* Drop name from the index that found it, before its record goes. */
static int vexfs_unindex(struct inode *dir, struct vexfs_htree *t, u32 hash,
			 const struct qstr *name, const struct vexfs_dir_spot *spot)
{
	struct vexfs_dir_index *idx;
	struct vexfs_dir_slot *slot;

	if (t->head)
		return vexfs_htree_room_add(t, spot->lblk) ?:
		       vexfs_htree_remove(t, hash, spot->lblk);
	idx = VEXFS_I(dir)->dir_index;
	slot = vexfs_index_find(idx, name);
	rhashtable_remove_fast(&idx->names, &slot->node, vexfs_dir_params);
	kfree(slot);
	idx->count--;
	return 0;
}

int vexfs_delete_entry(struct inode *dir, const struct qstr *name)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_dir_spot spot;
	struct vexfs_dirent *de;
	struct buffer_head *bh;
	struct vexfs_htree t;
	unsigned int prev;
	u32 hash = 0;
	int err;

	mutex_lock(&vi->dir_lock);
	err = vexfs_dir_find(dir, name, &t, &hash, &spot) ?:
	      vexfs_dir_locate(dir, &spot, &bh, &prev);
	if (err)
		goto out;
	err = vexfs_unindex(dir, &t, hash, name, &spot);
	if (err) {
		brelse(bh);
		goto out;
	}
	de = vexfs_rec(bh->b_data, spot.offset);
	if (prev < VEXFS_BLOCK_PAYLOAD) {
		le16_add_cpu(&vexfs_rec(bh->b_data, prev)->d_rec_len,
			     le16_to_cpu(de->d_rec_len));
	} else {
		de->d_ino = 0;
		prev = spot.offset;
	}
	if (!t.head)
		vexfs_room_after_delete(&vi->dir_index->room[spot.lblk], prev,
					vexfs_rec_slack(vexfs_rec(bh->b_data, prev)));
	else if (vi->room_lblk == spot.lblk)
		vi->room_slack = 0;	/* records merged: the room moved */
	err = vexfs_dirty_meta(dir->i_sb, bh, VEXFS_DIR_MAGIC);
	brelse(bh);
	vexfs_dir_touch(dir);
out:
	vexfs_dir_found(&t);
	mutex_unlock(&vi->dir_lock);
	return err;
}

/* Point an existing entry at another inode (rename over a name). */
int vexfs_set_entry(struct inode *dir, const struct qstr *name,
		    struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_dir_spot spot;
	struct vexfs_dirent *de;
	struct buffer_head *bh;
	struct vexfs_htree t;
	unsigned int prev;
	u32 hash;
	int err;

	mutex_lock(&vi->dir_lock);
	err = vexfs_dir_find(dir, name, &t, &hash, &spot) ?:
	      vexfs_dir_locate(dir, &spot, &bh, &prev);
	if (err)
		goto out;
	de = vexfs_rec(bh->b_data, spot.offset);
	de->d_ino = cpu_to_le64(inode->i_ino);
	de->d_type = fs_umode_to_dtype(inode->i_mode);
	err = vexfs_dirty_meta(dir->i_sb, bh, VEXFS_DIR_MAGIC);
	brelse(bh);
	if (!t.head) {
		struct vexfs_dir_slot *slot =
			vexfs_index_find(vi->dir_index, name);

		slot->ino = inode->i_ino;
		slot->type = fs_umode_to_dtype(inode->i_mode);
	}
	vexfs_dir_touch(dir);
out:
	vexfs_dir_found(&t);
	mutex_unlock(&vi->dir_lock);
	return err;
}

/*
 * A hashed directory is empty when no block holds a name: its tree keeps
 * no count, since one kept would cost every create a change to the head,
 * and one that lied would let rmdir drop a directory that still names
 * files. An rmdir reads the blocks up to the first name, as ext4's does.
 */
static int vexfs_hashed_is_empty(struct inode *dir)
{
	u32 nblocks = dir->i_size >> VEXFS_BLOCK_SHIFT, lblk;
	int ret = 1;

	for (lblk = 0; ret == 1 && lblk < nblocks; lblk++) {
		struct buffer_head *bh = vexfs_dir_bread(dir, lblk);
		unsigned int off;
		int len;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += len) {
			len = vexfs_rec_len(dir, lblk, bh->b_data, off);
			if (len < 0 || vexfs_rec(bh->b_data, off)->d_ino) {
				ret = len < 0 ? len : 0;
				break;
			}
		}
		brelse(bh);
		cond_resched();
	}
	return ret;
}

/* 1 if empty, 0 if not, negative errno if the directory is unreadable. */
int vexfs_dir_is_empty(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_dir_index *idx;
	int ret;

	mutex_lock(&vi->dir_lock);
	if (vexfs_dir_hashed(dir)) {
		ret = vexfs_hashed_is_empty(dir);
	} else {
		idx = vexfs_index(dir);
		ret = IS_ERR(idx) ? PTR_ERR(idx) : idx->count == 0;
	}
	mutex_unlock(&vi->dir_lock);
	return ret;
}

/*
 * readdir positions: 0 and 1 are "." and "..", then 2 + the byte offset
 * of a record in the directory. Records never move, so a position stays
 * valid while entries come and go around it.
 */
static int vexfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	u64 end = i_size_read(dir);

	if (!dir_emit_dots(file, ctx))
		return 0;
	while ((u64)ctx->pos - 2 < end) {
		u64 pos = ctx->pos - 2;
		u32 lblk = pos >> VEXFS_BLOCK_SHIFT;
		unsigned int start = pos & (VEXFS_BLOCK_SIZE - 1), off;
		struct buffer_head *bh;
		int len;

		bh = vexfs_dir_bread(dir, lblk);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += len) {
			struct vexfs_dirent *de = vexfs_rec(bh->b_data, off);

			len = vexfs_rec_check(dir, lblk, bh->b_data, off);
			if (len < 0) {
				brelse(bh);
				return len;
			}
			if (off < start || !de->d_ino)
				continue;
			ctx->pos = 2 + ((u64)lblk << VEXFS_BLOCK_SHIFT) + off;
			if (!dir_emit(ctx, de->d_name, de->d_name_len,
				      le64_to_cpu(de->d_ino), de->d_type)) {
				brelse(bh);
				return 0;
			}
			/*
			 * Past the record just emitted: if a later record is
			 * bad, the next call starts there and fails, rather
			 * than emitting this one again forever.
			 */
			ctx->pos += len;
		}
		brelse(bh);
		ctx->pos = 2 + ((u64)(lblk + 1) << VEXFS_BLOCK_SHIFT);
	}
	return 0;
}

const struct file_operations vexfs_dir_ops = {
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= vexfs_readdir,
	.fsync		= vexfs_fsync,
	.unlocked_ioctl	= vexfs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
