// SPDX-License-Identifier: GPL-2.0
/*
 * Extent trees: how a file's logical blocks map to blocks of the device.
 *
 * The tree follows ext4's shape. The root node sits in the inode (room for
 * VEXFS_EXTENT_ROOT_MAX entries); deeper nodes fill a block each. Leaves
 * (depth 0) hold extents sorted by logical block; index nodes hold the
 * first logical block each child covers. A lookup descends through the last
 * index entry whose start is not above the block sought, so child i holds
 * the extents in [start(i), start(i + 1)); the first entry of a leftmost
 * index node starts at 0, so every block has a child to go to.
 *
 * Growth: a full leaf splits in two, adding an index entry to its parent; a
 * full root moves its entries into a new block and becomes a one-entry
 * index above it, which is the only way the tree gets deeper. Every change
 * happens under the inode's map_lock.
 *
 * The extent a lookup last found stays at hand (ext_cache): a run of
 * lookups in one extent (records of a vector table, entries of a
 * directory, blocks of a file) then reads no tree block. A directory's
 * hash tree, past its entries, has a slot of its own, so that lookups
 * going back and forth between the two keep both. Growth only maps holes,
 * which leaves them true; truncation drops them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "vexfs.h"

/* One level of a root-to-leaf walk: path[0] is the root, in the inode. */
struct vexfs_path {
	struct vexfs_extent_header *eh;
	struct buffer_head *bh;		/* NULL for the root */
	int pos;			/* entry taken at this level, -1 for none */
};

#define VEXFS_PATH_LEN (VEXFS_EXTENT_MAX_DEPTH + 1)

static struct vexfs_extent_header *vexfs_root(struct inode *inode)
{
	return (struct vexfs_extent_header *)VEXFS_I(inode)->extent_root;
}

static struct vexfs_extent *vexfs_ext(struct vexfs_extent_header *eh, int i)
{
	return (struct vexfs_extent *)(eh + 1) + i;
}

static struct vexfs_extent_index *vexfs_idx(struct vexfs_extent_header *eh,
					    int i)
{
	return (struct vexfs_extent_index *)(eh + 1) + i;
}

static u16 vexfs_entries(struct vexfs_extent_header *eh)
{
	return le16_to_cpu(eh->eh_entries);
}

static void vexfs_set_entries(struct vexfs_extent_header *eh, u16 n)
{
	eh->eh_entries = cpu_to_le16(n);
}

static u32 vexfs_entry_lblk(struct vexfs_extent_header *eh, int i)
{
	/* ee_lblk and ei_lblk share the first four bytes of an entry. */
	return le32_to_cpu(vexfs_ext(eh, i)->ee_lblk);
}

static void vexfs_node_init(struct vexfs_extent_header *eh, u16 max, u16 depth)
{
	eh->eh_magic = cpu_to_le16(VEXFS_EXTENT_NODE_MAGIC);
	eh->eh_entries = 0;
	eh->eh_max = cpu_to_le16(max);
	eh->eh_depth = cpu_to_le16(depth);
	eh->eh_reserved[0] = 0;
	eh->eh_reserved[1] = 0;
}

static struct vexfs_extent_cache *vexfs_cache_of(struct inode *inode, u32 lblk)
{
	return &VEXFS_I(inode)->ext_cache[lblk >= VEXFS_HTREE_LBLK];
}

static void vexfs_cache_drop(struct inode *inode)
{
	VEXFS_I(inode)->ext_cache[0].len = 0;
	VEXFS_I(inode)->ext_cache[1].len = 0;
}

void vexfs_extent_root_init(struct inode *inode)
{
	vexfs_cache_drop(inode);
	memset(VEXFS_I(inode)->extent_root, 0, VEXFS_EXTENT_ROOT_SIZE);
	vexfs_node_init(vexfs_root(inode), VEXFS_EXTENT_ROOT_MAX, 0);
}

/* Check a node read from disk before anything trusts it. */
static int vexfs_node_check(struct inode *inode, struct vexfs_extent_header *eh,
			    u16 max, u16 depth)
{
	struct super_block *sb = inode->i_sb;
	u16 n = vexfs_entries(eh);
	u64 prev_end = 0;
	int i;

	if (le16_to_cpu(eh->eh_magic) != VEXFS_EXTENT_NODE_MAGIC ||
	    le16_to_cpu(eh->eh_max) != max || n > max ||
	    le16_to_cpu(eh->eh_depth) != depth)
		goto bad;
	for (i = 0; i < n; i++) {
		u64 lblk = vexfs_entry_lblk(eh, i);

		if (i && lblk < prev_end)
			goto bad;
		if (depth) {
			if (!vexfs_data_block_valid(sb, le64_to_cpu(vexfs_idx(eh, i)->ei_child), 1))
				goto bad;
			prev_end = lblk + 1;
		} else {
			struct vexfs_extent *ex = vexfs_ext(eh, i);
			u32 len = le32_to_cpu(ex->ee_len);

			if (!len || len > VEXFS_EXTENT_MAX_LEN ||
			    !vexfs_data_block_valid(sb, le64_to_cpu(ex->ee_pblk), len) ||
			    lblk + len > (u64)U32_MAX + 1)
				goto bad;
			prev_end = lblk + len;
		}
	}
	return 0;
bad:
	vexfs_corrupt(sb, "inode %lu has a bad extent node (depth %u)",
		      inode->i_ino, depth);
	return -EUCLEAN;
}

int vexfs_extent_root_check(struct inode *inode)
{
	struct vexfs_extent_header *eh = vexfs_root(inode);
	u16 depth = le16_to_cpu(eh->eh_depth);

	if (depth > VEXFS_EXTENT_MAX_DEPTH) {
		vexfs_corrupt(inode->i_sb, "inode %lu: extent tree too deep",
			      inode->i_ino);
		return -EUCLEAN;
	}
	return vexfs_node_check(inode, eh, VEXFS_EXTENT_ROOT_MAX, depth);
}

static void vexfs_path_release(struct vexfs_path *path, int depth)
{
	int i;

	for (i = 1; i <= depth; i++) {
		brelse(path[i].bh);
		path[i].bh = NULL;
	}
}

/* Last entry whose logical start is <= lblk, or -1 if there is none. */
static int vexfs_node_search(struct vexfs_extent_header *eh, u32 lblk)
{
	int lo = 0, hi = vexfs_entries(eh) - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (vexfs_entry_lblk(eh, mid) <= lblk) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

static struct buffer_head *vexfs_read_node(struct inode *inode, u64 blocknr,
					   u16 depth)
{
	struct buffer_head *bh;
	int err;

	bh = vexfs_bread_meta(inode->i_sb, blocknr, VEXFS_EXTENT_MAGIC);
	if (IS_ERR(bh))
		return bh;
	err = vexfs_node_check(inode, (struct vexfs_extent_header *)bh->b_data,
			       VEXFS_EXTENT_NODE_MAX, depth);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

/* Walk from the root to the leaf where lblk belongs; returns the depth. */
static int vexfs_find_path(struct inode *inode, u32 lblk,
			   struct vexfs_path *path)
{
	struct vexfs_extent_header *eh = vexfs_root(inode);
	int depth = le16_to_cpu(eh->eh_depth);
	int level;

	path[0].eh = eh;
	path[0].bh = NULL;
	for (level = 0; level < depth; level++) {
		struct buffer_head *bh;
		int pos = vexfs_node_search(eh, lblk);

		if (pos < 0)
			pos = 0;
		path[level].pos = pos;
		if (!vexfs_entries(eh)) {
			vexfs_corrupt(inode->i_sb, "inode %lu: empty index node",
				      inode->i_ino);
			vexfs_path_release(path, level);
			return -EUCLEAN;
		}
		bh = vexfs_read_node(inode, le64_to_cpu(vexfs_idx(eh, pos)->ei_child),
				     depth - level - 1);
		if (IS_ERR(bh)) {
			vexfs_path_release(path, level);
			return PTR_ERR(bh);
		}
		eh = (struct vexfs_extent_header *)bh->b_data;
		path[level + 1].eh = eh;
		path[level + 1].bh = bh;
	}
	path[depth].pos = vexfs_node_search(eh, lblk);
	return depth;
}

/*
 * Record a change to a node: re-seal its block. A change to the root, in
 * the inode, is logged by the caller with mark_inode_dirty() once
 * map_lock is dropped: logging the inode copies the root under map_lock.
 */
static int __must_check vexfs_node_dirty(struct inode *inode,
					 struct vexfs_path *p)
{
	return p->bh ? vexfs_dirty_meta(inode->i_sb, p->bh, VEXFS_EXTENT_MAGIC) : 0;
}

/* Where the first mapping to the right of the walked path starts. */
static u32 vexfs_next_start(struct vexfs_path *path, int depth)
{
	int level;

	for (level = depth; level >= 0; level--) {
		int next = path[level].pos + 1;

		if (next < vexfs_entries(path[level].eh))
			return vexfs_entry_lblk(path[level].eh, next);
	}
	return U32_MAX;
}

/*
 * Look up lblk. A mapped block gives its physical block and how many
 * blocks follow it in the same extent; a hole gives *pblk = 0 and the
 * number of blocks up to the next mapping (at least 1).
 */
static bool vexfs_lookup_cached(struct inode *inode, u32 lblk, u64 *pblk,
				u32 *len)
{
	struct vexfs_extent_cache *ec = vexfs_cache_of(inode, lblk);

	if (lblk - ec->lblk >= ec->len)
		return false;
	*pblk = ec->pblk + (lblk - ec->lblk);
	*len = ec->len - (lblk - ec->lblk);
	return true;
}

static int vexfs_lookup_locked(struct inode *inode, u32 lblk, u64 *pblk,
			       u32 *len)
{
	struct vexfs_path path[VEXFS_PATH_LEN];
	struct vexfs_extent_header *leaf;
	int depth, pos;

	if (vexfs_lookup_cached(inode, lblk, pblk, len))
		return 0;
	depth = vexfs_find_path(inode, lblk, path);
	if (depth < 0)
		return depth;
	leaf = path[depth].eh;
	pos = path[depth].pos;
	*pblk = 0;
	*len = 1;
	if (pos >= 0) {
		struct vexfs_extent *ex = vexfs_ext(leaf, pos);
		u32 start = le32_to_cpu(ex->ee_lblk);
		u32 n = le32_to_cpu(ex->ee_len);

		if (lblk - start < n) {
			*vexfs_cache_of(inode, lblk) = (struct vexfs_extent_cache){
				.lblk = start, .len = n,
				.pblk = le64_to_cpu(ex->ee_pblk),
			};
			*pblk = le64_to_cpu(ex->ee_pblk) + (lblk - start);
			*len = n - (lblk - start);
		}
	}
	if (!*pblk) {
		u32 next = vexfs_next_start(path, depth);

		if (next > lblk)
			*len = next - lblk;
	}
	vexfs_path_release(path, depth);
	return 0;
}

int vexfs_map_block(struct inode *inode, u32 lblk, u64 *pblk, u32 *len)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	int err;

	mutex_lock(&vi->map_lock);
	err = vexfs_lookup_locked(inode, lblk, pblk, len);
	mutex_unlock(&vi->map_lock);
	return err;
}

/* A new, empty tree block near the inode's data. */
static struct buffer_head *vexfs_new_node(struct inode *inode, u16 depth)
{
	struct buffer_head *bh;
	u64 blocknr;
	u32 got;
	int err;

	err = vexfs_alloc_blocks(inode, VEXFS_I(inode)->last_pblk, 1, &blocknr,
				 &got);
	if (err)
		return ERR_PTR(err);
	bh = vexfs_new_meta(inode->i_sb, blocknr);
	if (IS_ERR(bh)) {
		/* Never logged: its last free committed, revoke and all. */
		__vexfs_free_blocks(inode, blocknr, 1, false);
		return bh;
	}
	vexfs_node_init((struct vexfs_extent_header *)bh->b_data,
			VEXFS_EXTENT_NODE_MAX, depth);
	return bh;
}

/* Move the root's entries into a new block under a one-entry root index. */
static int vexfs_grow_tree(struct inode *inode)
{
	struct vexfs_extent_header *root = vexfs_root(inode);
	u16 depth = le16_to_cpu(root->eh_depth);
	u16 n = vexfs_entries(root);
	struct vexfs_extent_header *child;
	struct vexfs_extent_index *idx;
	struct buffer_head *bh;
	int err;

	if (depth >= VEXFS_EXTENT_MAX_DEPTH)
		return -EFBIG;
	bh = vexfs_new_node(inode, depth);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	child = (struct vexfs_extent_header *)bh->b_data;
	memcpy(child + 1, root + 1, n * sizeof(struct vexfs_extent));
	vexfs_set_entries(child, n);
	err = vexfs_dirty_meta(inode->i_sb, bh, VEXFS_EXTENT_MAGIC);
	if (err) {
		brelse(bh);
		return err;
	}

	vexfs_node_init(root, VEXFS_EXTENT_ROOT_MAX, depth + 1);
	idx = vexfs_idx(root, 0);
	/* The root's only child is the leftmost: it covers from block 0. */
	idx->ei_lblk = 0;
	idx->ei_reserved = 0;
	idx->ei_child = cpu_to_le64(bh->b_blocknr);
	vexfs_set_entries(root, 1);
	brelse(bh);
	return 0;
}

/* Open a gap at position pos of a node and return it. */
static void *vexfs_node_insert_at(struct vexfs_extent_header *eh, int pos)
{
	struct vexfs_extent *at = vexfs_ext(eh, pos);

	memmove(at + 1, at, (vexfs_entries(eh) - pos) * sizeof(*at));
	vexfs_set_entries(eh, vexfs_entries(eh) + 1);
	return at;
}

/*
 * Make room in the full node at path[level]: grow the tree if it is the
 * root, else split it, which needs room in its parent first. The caller
 * walks the path again afterwards, since the tree has changed under it.
 */
static int vexfs_make_room(struct inode *inode, struct vexfs_path *path,
			   int level)
{
	struct vexfs_extent_header *eh = path[level].eh, *right;
	struct vexfs_path *parent = &path[level - 1];
	struct vexfs_extent_index *idx;
	struct buffer_head *bh;
	u16 n, keep;
	int err;

	if (level == 0)
		return vexfs_grow_tree(inode);
	if (vexfs_entries(parent->eh) >= le16_to_cpu(parent->eh->eh_max))
		return vexfs_make_room(inode, path, level - 1);

	bh = vexfs_new_node(inode, le16_to_cpu(eh->eh_depth));
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	right = (struct vexfs_extent_header *)bh->b_data;
	n = vexfs_entries(eh);
	keep = n / 2;
	memcpy(right + 1, vexfs_ext(eh, keep),
	       (n - keep) * sizeof(struct vexfs_extent));
	vexfs_set_entries(right, n - keep);
	vexfs_set_entries(eh, keep);
	err = vexfs_dirty_meta(inode->i_sb, bh, VEXFS_EXTENT_MAGIC) ?:
	      vexfs_node_dirty(inode, &path[level]);
	if (!err) {
		idx = vexfs_node_insert_at(parent->eh, parent->pos + 1);
		idx->ei_lblk = cpu_to_le32(vexfs_entry_lblk(right, 0));
		idx->ei_reserved = 0;
		idx->ei_child = cpu_to_le64(bh->b_blocknr);
		err = vexfs_node_dirty(inode, parent);
	}
	brelse(bh);
	return err;
}

/* Try to extend the extent at pos of the leaf to cover the new run. */
static bool vexfs_try_merge(struct vexfs_extent_header *leaf, int pos,
			    u32 lblk, u64 pblk, u32 len)
{
	struct vexfs_extent *ex;
	u32 elen;

	if (pos < 0)
		return false;
	ex = vexfs_ext(leaf, pos);
	elen = le32_to_cpu(ex->ee_len);
	if (le32_to_cpu(ex->ee_lblk) + elen != lblk ||
	    le64_to_cpu(ex->ee_pblk) + elen != pblk ||
	    elen + len > VEXFS_EXTENT_MAX_LEN)
		return false;
	ex->ee_len = cpu_to_le32(elen + len);
	return true;
}

/* Every tree block on the path may change: tell the journal first. */
static int vexfs_path_access(struct inode *inode, struct vexfs_path *path,
			     int depth)
{
	int level, err;

	for (level = 1; level <= depth; level++) {
		err = vexfs_journal_access(inode->i_sb, path[level].bh);
		if (err)
			return err;
	}
	return 0;
}

/* Map [lblk, lblk + len) to [pblk, ...); the range must be a hole. */
static int vexfs_insert_extent(struct inode *inode, u32 lblk, u64 pblk, u32 len)
{
	struct vexfs_path path[VEXFS_PATH_LEN];

	for (;;) {
		struct vexfs_extent_header *leaf;
		struct vexfs_extent *ex;
		int depth, pos, err;

		depth = vexfs_find_path(inode, lblk, path);
		if (depth < 0)
			return depth;
		err = vexfs_path_access(inode, path, depth);
		if (err) {
			vexfs_path_release(path, depth);
			return err;
		}
		leaf = path[depth].eh;
		pos = path[depth].pos;
		if (vexfs_try_merge(leaf, pos, lblk, pblk, len)) {
			err = vexfs_node_dirty(inode, &path[depth]);
			vexfs_path_release(path, depth);
			return err;
		}
		if (vexfs_entries(leaf) < le16_to_cpu(leaf->eh_max)) {
			ex = vexfs_node_insert_at(leaf, pos + 1);
			ex->ee_lblk = cpu_to_le32(lblk);
			ex->ee_len = cpu_to_le32(len);
			ex->ee_pblk = cpu_to_le64(pblk);
			err = vexfs_node_dirty(inode, &path[depth]);
			vexfs_path_release(path, depth);
			return err;
		}
		err = vexfs_make_room(inode, path, depth);
		vexfs_path_release(path, depth);
		if (err)
			return err;
	}
}

/*
 * Map lblk, allocating up to want blocks when it is a hole. The new blocks
 * go right after the blocks mapped before them when that space is free, so
 * files written in any order end up contiguous and their extents merge.
 */
int vexfs_map_alloc(struct inode *inode, u32 lblk, u32 want, u64 *pblk,
		    u32 *len, bool *new)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 goal, start;
	u32 got;
	int err;

	*new = false;
	mutex_lock(&vi->map_lock);
	err = vexfs_lookup_locked(inode, lblk, pblk, len);
	if (err || *pblk)
		goto out;

	want = min3(want, *len, VEXFS_EXTENT_MAX_LEN);
	goal = vi->last_pblk ? vi->last_pblk + 1 : 0;
	err = vexfs_alloc_blocks(inode, goal, want, &start, &got);
	if (err)
		goto out;
	err = vexfs_insert_extent(inode, lblk, start, got);
	if (err) {
		vexfs_free_blocks(inode, start, got);
		goto out;
	}
	vi->last_pblk = start + got - 1;
	*pblk = start;
	*len = got;
	*new = true;
out:
	mutex_unlock(&vi->map_lock);
	/* The root and the block count may have changed, even on failure. */
	if (err || *new)
		mark_inode_dirty(inode);
	return err;
}

/* Drop the part of the extent at pos that lies at or past from. */
static void vexfs_trim_extent(struct inode *inode, struct vexfs_extent *ex,
			      u32 from)
{
	u32 start = le32_to_cpu(ex->ee_lblk);
	u32 len = le32_to_cpu(ex->ee_len);
	u32 keep = from > start ? from - start : 0;

	vexfs_free_blocks(inode, le64_to_cpu(ex->ee_pblk) + keep, len - keep);
	ex->ee_len = cpu_to_le32(keep);
}

/*
 * Unmap everything at or beyond from in the subtree eh. Children left
 * empty are freed. Returns the entries left in eh, or a negative errno.
 */
static int vexfs_trim_node(struct inode *inode, struct vexfs_extent_header *eh,
			   u32 from)
{
	int i = vexfs_entries(eh) - 1;
	u16 depth = le16_to_cpu(eh->eh_depth);

	for (; i >= 0; i--) {
		u32 start = vexfs_entry_lblk(eh, i);

		if (!depth) {
			struct vexfs_extent *ex = vexfs_ext(eh, i);

			if (start + le32_to_cpu(ex->ee_len) <= from)
				break;
			vexfs_trim_extent(inode, ex, from);
			if (ex->ee_len)
				break;
		} else {
			u64 child = le64_to_cpu(vexfs_idx(eh, i)->ei_child);
			struct buffer_head *bh;
			int left;

			bh = vexfs_read_node(inode, child, depth - 1);
			if (IS_ERR(bh))
				return PTR_ERR(bh);
			left = vexfs_journal_access(inode->i_sb, bh);
			if (left) {
				brelse(bh);
				return left;
			}
			left = vexfs_trim_node(inode,
					(struct vexfs_extent_header *)bh->b_data, from);
			if (left > 0) {
				int err = vexfs_dirty_meta(inode->i_sb, bh,
							   VEXFS_EXTENT_MAGIC);

				if (err)
					left = err;
			}
			brelse(bh);
			if (left < 0)
				return left;
			if (left > 0) {
				break;
			}
			__vexfs_free_blocks(inode, child, 1, true);
		}
		/* entry i is gone; it was the last one */
		vexfs_set_entries(eh, i);
		if (start <= from && depth)
			break;
	}
	return vexfs_entries(eh);
}

/* Free every block mapped at or beyond logical block from. */
int vexfs_truncate_blocks(struct inode *inode, u32 from)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_extent_header *root = vexfs_root(inode);
	int left;

	mutex_lock(&vi->map_lock);
	vexfs_cache_drop(inode);
	left = vexfs_trim_node(inode, root, from);
	if (left == 0 && le16_to_cpu(root->eh_depth))
		vexfs_node_init(root, VEXFS_EXTENT_ROOT_MAX, 0);
	if (vi->last_pblk && !from)
		vi->last_pblk = 0;
	mutex_unlock(&vi->map_lock);
	mark_inode_dirty(inode);
	return left < 0 ? left : 0;
}
