// SPDX-License-Identifier: GPL-2.0
/*
 * A directory's hash tree: its name index on disk (see vexfs_fs.h).
 *
 * The tree maps a name's hash to the entry blocks that may hold it; it
 * knows nothing of records, which stay dir.c's. Every change is logged in
 * the caller's transaction with the entry it goes with, so a crash leaves
 * the tree and the entries agreeing. Callers hold the directory's
 * dir_lock. Every node is checked as it is read, and a walk along a level
 * takes at most h_nodes steps, so a crafted image costs an -EUCLEAN,
 * never a loop or a read out of bounds.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/random.h>
#include <linux/siphash.h>
#include "vexfs.h"
#include "htree.h"

static struct vexfs_htree_node *vexfs_node_of(struct buffer_head *bh)
{
	return (struct vexfs_htree_node *)bh->b_data;
}

static int vexfs_htree_bad(struct vexfs_htree *t, const char *what, u32 n)
{
	vexfs_corrupt(t->dir->i_sb, "directory %lu: hash tree %s (node %u)",
		      t->dir->i_ino, what, n);
	return -EUCLEAN;
}

/* The tree's block n: the head (0, its own magic) or a node. */
static struct buffer_head *vexfs_htree_bread(struct inode *dir, u32 n)
{
	u64 pblk;
	u32 len;
	int err;

	err = vexfs_map_block(dir, VEXFS_HTREE_LBLK + n, &pblk, &len);
	if (err)
		return ERR_PTR(err);
	if (!pblk) {
		vexfs_corrupt(dir->i_sb, "directory %lu: hash tree block %u missing",
			      dir->i_ino, n);
		return ERR_PTR(-EUCLEAN);
	}
	return vexfs_bread_meta(dir->i_sb, pblk, n ? VEXFS_HTREE_MAGIC :
						  VEXFS_HTREE_HEAD_MAGIC);
}

/*
 * The head's numbers in range; its nodes no more than the blocks the
 * directory holds, which bounds any walk of a crafted tree.
 */
static bool vexfs_head_ok(struct inode *dir, const struct vexfs_htree_head *h)
{
	u32 nodes = le32_to_cpu(h->h_nodes), root = le32_to_cpu(h->h_root);
	u64 held = dir->i_blocks >> (VEXFS_BLOCK_SHIFT - 9);

	return nodes && nodes <= VEXFS_HTREE_MAX_NODES && nodes < held && root &&
	       root <= nodes &&
	       le32_to_cpu(h->h_level) <= VEXFS_HTREE_MAX_LEVEL &&
	       le32_to_cpu(h->h_rooms) <= VEXFS_HTREE_ROOMS;
}

/*
 * Open dir's tree: its head, held by the inode once read (it never moves
 * while the directory lives), its numbers checked at every open.
 */
int vexfs_htree_open(struct inode *dir, struct vexfs_htree *t)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);
	struct vexfs_htree_head *h;

	t->dir = dir;
	if (!vi->htree_head) {
		t->head_bh = vexfs_htree_bread(dir, 0);
		if (IS_ERR(t->head_bh))
			return PTR_ERR(t->head_bh);
		vi->htree_head = t->head_bh;
	}
	t->head_bh = vi->htree_head;
	get_bh(t->head_bh);
	h = (struct vexfs_htree_head *)t->head_bh->b_data;
	if (!vexfs_head_ok(dir, h)) {
		brelse(t->head_bh);
		return vexfs_htree_bad(t, "head is invalid", 0);
	}
	t->head = h;
	t->key.key[0] = le64_to_cpu(h->h_key[0]);
	t->key.key[1] = le64_to_cpu(h->h_key[1]);
	return 0;
}

void vexfs_htree_close(struct vexfs_htree *t)
{
	brelse(t->head_bh);
}

/* Let go of the head the inode holds (eviction, a tree dropped). */
void vexfs_htree_forget(struct inode *dir)
{
	struct vexfs_inode_info *vi = VEXFS_I(dir);

	brelse(vi->htree_head);
	vi->htree_head = NULL;
	vi->leaf_n = 0;
}

/*
 * A name's key in the tree (its "hash", see vexfs_fs.h): a canonical
 * decimal below 2^32 is its own key, any other name the low 32 bits of
 * SipHash-2-4 under the tree's key.
 */
u32 vexfs_htree_hash(const struct vexfs_htree *t, const char *name,
		     unsigned int len)
{
	u64 id = 0;
	unsigned int i;

	if (len && len <= 10 && (name[0] != '0' || len == 1)) {
		for (i = 0; i < len && name[i] >= '0' && name[i] <= '9'; i++)
			id = id * 10 + (name[i] - '0');
		if (i == len && id <= U32_MAX)
			return id;
	}
	return (u32)siphash(name, len, &t->key);
}

/*
 * A node's fields against its place: its level, a count a node of that
 * level may have, a sibling that exists; with pairs, also sorted pairs no
 * lower than n_low and children that exist. Those last hold for as long
 * as the block stays in memory (the module's changes keep them, and the
 * node count only grows), so they are checked once per read of it.
 */
static bool vexfs_node_ok(struct vexfs_htree *t,
			  const struct vexfs_htree_node *node, u32 level,
			  bool pairs)
{
	u32 count = le16_to_cpu(node->n_count), nodes = vexfs_htree_nodes(t);
	u32 prev = le32_to_cpu(node->n_low), i;

	if (le16_to_cpu(node->n_level) != level || count > VEXFS_HTREE_PAIRS ||
	    (level && !count) || le32_to_cpu(node->n_next) > nodes)
		return false;
	for (i = 0; pairs && i < count; i++) {
		u32 hash = le32_to_cpu(node->n_pair[i].p_hash);
		u32 ptr = le32_to_cpu(node->n_pair[i].p_ptr);

		if (hash < prev || (level && (!ptr || ptr > nodes)))
			return false;
		prev = hash;
	}
	return true;
}

static struct buffer_head *vexfs_htree_node(struct vexfs_htree *t, u32 n,
					    u32 level)
{
	struct buffer_head *bh;

	if (!n || n > vexfs_htree_nodes(t))
		return ERR_PTR(vexfs_htree_bad(t, "points outside itself", n));
	bh = vexfs_htree_bread(t->dir, n);
	if (IS_ERR(bh))
		return bh;
	if (!vexfs_node_ok(t, vexfs_node_of(bh), level,
			   !buffer_vexfs_checked(bh))) {
		brelse(bh);
		return ERR_PTR(vexfs_htree_bad(t, "node is invalid", n));
	}
	set_buffer_vexfs_checked(bh);
	return bh;
}

/*
 * The child to descend into for hash: the last whose low is below it
 * (lookups: an equal run may start in the child before) or at most it
 * (inserts: the new pair goes after its equals). The first otherwise.
 */
static u32 vexfs_child_at(const struct vexfs_htree_node *node, u32 hash,
			  bool after_equal)
{
	u32 count = le16_to_cpu(node->n_count), i;

	for (i = 1; i < count; i++) {
		u32 low = le32_to_cpu(node->n_pair[i].p_hash);

		if (after_equal ? low > hash : low >= hash)
			break;
	}
	return i - 1;
}

/* Pairs of a node below hash (first), or at most hash (!first). */
static u32 vexfs_pair_bound(const struct vexfs_htree_node *node, u32 hash,
			    bool first)
{
	u32 lo = 0, hi = le16_to_cpu(node->n_count);

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		u32 h = le32_to_cpu(node->n_pair[mid].p_hash);

		if (first ? h < hash : h <= hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Remember the leaf a descent reached and the keys it alone takes: above
 * its low, below the low of what follows it. Keys of a run (a batch of
 * ids) then go straight to their leaf. A split forgets it.
 */
static void vexfs_leaf_remember(struct vexfs_htree *t,
				const struct vexfs_htree_path *path)
{
	struct vexfs_inode_info *vi = VEXFS_I(t->dir);
	u64 bound = 1ull << 32;
	u32 level;

	for (level = 1; level <= path->top; level++) {
		struct vexfs_htree_node *node = vexfs_node_of(path->bh[level]);
		u32 at = path->at[level] + 1;

		if (at < le16_to_cpu(node->n_count))
			bound = min_t(u64, bound, le32_to_cpu(node->n_pair[at].p_hash));
	}
	vi->leaf_n = path->n[0];
	vi->leaf_low = le32_to_cpu(vexfs_node_of(path->bh[0])->n_low);
	vi->leaf_bound = bound;
}

static void vexfs_leaf_forget(struct inode *dir)
{
	VEXFS_I(dir)->leaf_n = 0;
}

/*
 * The remembered leaf, when hash is strictly inside the keys it alone
 * takes (a descent for a lookup or an insert would reach it): a path of
 * that leaf alone. 0 when not.
 */
static int vexfs_leaf_known(struct vexfs_htree *t, u32 hash,
			    struct vexfs_htree_path *path)
{
	struct vexfs_inode_info *vi = VEXFS_I(t->dir);
	struct buffer_head *bh;

	if (!vi->leaf_n || hash <= vi->leaf_low || hash >= vi->leaf_bound)
		return 0;
	bh = vexfs_htree_node(t, vi->leaf_n, 0);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	memset(path, 0, sizeof(*path));
	path->bh[0] = bh;
	path->n[0] = vi->leaf_n;
	return 1;
}

/*
 * Descend from the root to the leaf where hash belongs, keeping each
 * level's node and the index of the child taken in path (the leaf at
 * path->bh[0]); from the remembered leaf alone when it is that one and
 * the caller needs no more (leaf_only). The caller releases it with
 * vexfs_path_put().
 */
static int vexfs_htree_descend(struct vexfs_htree *t, u32 hash,
			       bool after_equal, bool leaf_only,
			       struct vexfs_htree_path *path)
{
	u32 level = vexfs_htree_level(t), n = le32_to_cpu(t->head->h_root);
	int known = leaf_only ? vexfs_leaf_known(t, hash, path) : 0;

	if (known)
		return known < 0 ? known : 0;
	memset(path, 0, sizeof(*path));
	path->top = level;
	for (;;) {
		struct buffer_head *bh = vexfs_htree_node(t, n, level);
		struct vexfs_htree_node *node;
		u32 i;

		if (IS_ERR(bh)) {
			vexfs_path_put(path);
			return PTR_ERR(bh);
		}
		path->bh[level] = bh;
		path->n[level] = n;
		if (!level) {
			vexfs_leaf_remember(t, path);
			return 0;
		}
		node = vexfs_node_of(bh);
		i = vexfs_child_at(node, hash, after_equal);
		path->at[level] = i;
		n = le32_to_cpu(node->n_pair[i].p_ptr);
		level--;
	}
}

void vexfs_path_put(struct vexfs_htree_path *path)
{
	int i;

	for (i = 0; i <= VEXFS_HTREE_MAX_LEVEL; i++) {
		brelse(path->bh[i]);
		path->bh[i] = NULL;
	}
}

/*
 * The leaf after the one in bh, which is released: NULL at the end of the
 * level. It must start no lower than bh's last hash, so that a link back
 * is caught, and *steps bounds the walk by the tree's size.
 */
static struct buffer_head *vexfs_htree_next(struct vexfs_htree *t,
					    struct buffer_head *bh, u32 *steps)
{
	struct vexfs_htree_node *leaf = vexfs_node_of(bh);
	u32 next = le32_to_cpu(leaf->n_next), count = le16_to_cpu(leaf->n_count);
	u32 last = count ? le32_to_cpu(leaf->n_pair[count - 1].p_hash) :
			   le32_to_cpu(leaf->n_low);

	brelse(bh);
	if (!next)
		return NULL;
	if (++*steps > vexfs_htree_nodes(t))
		return ERR_PTR(vexfs_htree_bad(t, "level loops", next));
	/* A run of equal hashes a crafted tree makes long: stay killable. */
	cond_resched();
	if (fatal_signal_pending(current))
		return ERR_PTR(-EINTR);
	bh = vexfs_htree_node(t, next, 0);
	if (IS_ERR(bh))
		return bh;
	if (le32_to_cpu(vexfs_node_of(bh)->n_low) < last) {
		brelse(bh);
		return ERR_PTR(vexfs_htree_bad(t, "level out of order", next));
	}
	return bh;
}

/* The leaf where a run of hash would start, and the run's first pair in *at. */
static struct buffer_head *vexfs_htree_first(struct vexfs_htree *t, u32 hash,
					     u32 *at)
{
	struct vexfs_htree_path path;
	struct buffer_head *bh;
	int err = vexfs_htree_descend(t, hash, false, true, &path);

	if (err)
		return ERR_PTR(err);
	bh = path.bh[0];
	path.bh[0] = NULL;
	vexfs_path_put(&path);
	*at = vexfs_pair_bound(vexfs_node_of(bh), hash, true);
	return bh;
}

/*
 * Call fn(arg, block) for each pair of hash, in order, until it returns
 * nonzero (its value is returned) or the pairs run out (0); a block named
 * by the pair before is not searched again. A pair naming a block past
 * the directory's entries is corruption.
 */
int vexfs_htree_find(struct vexfs_htree *t, u32 hash,
		     int (*fn)(void *arg, u32 block), void *arg)
{
	u32 nblocks = t->dir->i_size >> VEXFS_BLOCK_SHIFT, steps = 0;
	u32 searched = U32_MAX, i;
	struct buffer_head *bh = vexfs_htree_first(t, hash, &i);
	int ret = 0;

	if (IS_ERR(bh))
		return PTR_ERR(bh);
	for (;;) {
		struct vexfs_htree_node *leaf = vexfs_node_of(bh);

		for (; i < le16_to_cpu(leaf->n_count); i++) {
			u32 block = le32_to_cpu(leaf->n_pair[i].p_ptr);

			if (le32_to_cpu(leaf->n_pair[i].p_hash) != hash)
				goto out;
			if (block >= nblocks) {
				ret = vexfs_htree_bad(t, "names a block past the entries",
						      block);
				goto out;
			}
			if (block == searched)
				continue;
			searched = block;
			ret = fn(arg, block);
			if (ret)
				goto out;
		}
		/* The run of hash may go on in the next leaf. */
		bh = vexfs_htree_next(t, bh, &steps);
		if (IS_ERR_OR_NULL(bh))
			return PTR_ERR_OR_ZERO(bh);
		if (le32_to_cpu(vexfs_node_of(bh)->n_low) > hash)
			goto out;
		i = 0;
	}
out:
	brelse(bh);
	return ret;
}

/* Take a block of the tree into the transaction before changing it. */
static int vexfs_htree_access(struct vexfs_htree *t, struct buffer_head *bh)
{
	return vexfs_journal_access(t->dir->i_sb, bh);
}

static int vexfs_htree_dirty(struct vexfs_htree *t, struct buffer_head *bh)
{
	return vexfs_dirty_meta(t->dir->i_sb, bh, VEXFS_HTREE_MAGIC);
}

static int vexfs_head_dirty(struct vexfs_htree *t)
{
	return vexfs_dirty_meta(t->dir->i_sb, t->head_bh, VEXFS_HTREE_HEAD_MAGIC);
}

/*
 * Before changing the tree: the credits the change may need, so that it
 * fails, if at all, before anything changed rather than half done.
 */
static int vexfs_htree_reserve(struct vexfs_htree *t, int credits)
{
	struct super_block *sb = t->dir->i_sb;

	return vexfs_journal_reserve(vexfs_journal_in_handle(sb) ?
				     journal_current_handle() : NULL, credits);
}

/*
 * Blocks the tree maps at once as it grows: an eighth of its nodes, from
 * 2 (a new tree's head and root) to 64, so that its blocks make few
 * extents and the directory's extent tree stays small.
 */
static u32 vexfs_htree_grain(const struct vexfs_htree *t)
{
	return t->head ? clamp_t(u32, vexfs_htree_nodes(t) / 8, 1, 64) : 2;
}

/*
 * Map the tree's block n, which must be a block of its own: one already
 * mapped there (left by an insert that failed) must not be a block the
 * caller holds, or zeroing it would wipe that block in memory. Without
 * held (a new tree), nothing may be mapped there yet.
 */
static struct buffer_head *vexfs_htree_new_block(struct vexfs_htree *t, u32 n,
						 struct buffer_head **held,
						 int nheld)
{
	struct inode *dir = t->dir;
	u64 pblk;
	u32 len;
	bool new;
	int err, i;

	err = vexfs_map_alloc(dir, VEXFS_HTREE_LBLK + n, vexfs_htree_grain(t),
			      &pblk, &len, &new);
	if (err)
		return ERR_PTR(err);
	if (!new && !held)
		return ERR_PTR(vexfs_htree_bad(t, "block mapped before the tree", n));
	for (i = 0; !new && i < nheld; i++)
		if (held[i] && held[i]->b_blocknr == pblk)
			return ERR_PTR(vexfs_htree_bad(t, "maps a block twice", n));
	return vexfs_new_meta(dir->i_sb, pblk);
}

static int vexfs_pair_insert(struct vexfs_htree *t,
			     struct vexfs_htree_node *node, u32 at,
			     u32 hash, u32 ptr)
{
	u32 count = le16_to_cpu(node->n_count);

	if (at > count || count >= VEXFS_HTREE_PAIRS)
		return vexfs_htree_bad(t, "node changed under an insert", 0);
	memmove(&node->n_pair[at + 1], &node->n_pair[at],
		(count - at) * sizeof(node->n_pair[0]));
	node->n_pair[at].p_hash = cpu_to_le32(hash);
	node->n_pair[at].p_ptr = cpu_to_le32(ptr);
	node->n_count = cpu_to_le16(count + 1);
	return 0;
}

/*
 * Move the upper half of full into fresh (node number n) and link fresh
 * after it; returns where a pair at position at of full now goes: in
 * fresh when *into_fresh. A pair placed at the split point stays in full,
 * so that fresh's low is never above a pair it holds.
 */
static u32 vexfs_node_split(struct vexfs_htree_node *full,
			    struct vexfs_htree_node *fresh, u32 n, u32 at,
			    bool *into_fresh)
{
	u32 count = le16_to_cpu(full->n_count), mid = count / 2;

	memcpy(fresh->n_pair, &full->n_pair[mid],
	       (count - mid) * sizeof(full->n_pair[0]));
	fresh->n_count = cpu_to_le16(count - mid);
	fresh->n_level = full->n_level;
	fresh->n_low = full->n_pair[mid].p_hash;
	fresh->n_next = full->n_next;
	full->n_next = cpu_to_le32(n);
	full->n_count = cpu_to_le16(mid);
	*into_fresh = at > mid;
	return *into_fresh ? at - mid : at;
}

/* How many nodes an insert along path makes: full nodes, and a new root. */
static u32 vexfs_splits_needed(const struct vexfs_htree_path *path)
{
	u32 level;

	for (level = 0; level <= path->top; level++)
		if (le16_to_cpu(vexfs_node_of(path->bh[level])->n_count) <
		    VEXFS_HTREE_PAIRS)
			return level;
	return path->top + 2;
}

/*
 * Make the nodes an insert needs before changing anything, so that
 * running out of space fails the insert with the tree untouched. No
 * fresh node may be a block the insert holds (the head, its path).
 */
static int vexfs_htree_prepare(struct vexfs_htree *t,
			       struct vexfs_htree_path *path, u32 need,
			       struct buffer_head **fresh)
{
	struct buffer_head *held[VEXFS_HTREE_MAX_LEVEL + 2 + VEXFS_HTREE_MAX_LEVEL + 2];
	u32 first = vexfs_htree_nodes(t) + 1, i, nheld = 0;

	if (need > VEXFS_HTREE_MAX_NODES - vexfs_htree_nodes(t) ||
	    (need > vexfs_htree_level(t) + 1 &&
	     vexfs_htree_level(t) == VEXFS_HTREE_MAX_LEVEL))
		return -ENOSPC;
	held[nheld++] = t->head_bh;
	for (i = 0; i <= path->top; i++)
		held[nheld++] = path->bh[i];
	for (i = 0; i < need; i++) {
		fresh[i] = vexfs_htree_new_block(t, first + i, held, nheld);
		if (IS_ERR(fresh[i])) {
			int err = PTR_ERR(fresh[i]);

			fresh[i] = NULL;
			while (i--) {
				brelse(fresh[i]);
				fresh[i] = NULL;
			}
			return err;
		}
		held[nheld++] = fresh[i];
	}
	return 0;
}

/*
 * The root split: a new root, node n, above its two halves, the second
 * of which starts at hash and is node ptr.
 */
static int vexfs_htree_new_root(struct vexfs_htree *t,
				struct vexfs_htree_path *path,
				struct buffer_head *bh, u32 n, u32 hash, u32 ptr)
{
	struct vexfs_htree_node *root = vexfs_node_of(bh);
	__le32 low = vexfs_node_of(path->bh[path->top])->n_low;

	root->n_level = cpu_to_le16(path->top + 1);
	root->n_low = low;
	t->head->h_root = cpu_to_le32(n);
	t->head->h_level = cpu_to_le32(path->top + 1);
	return vexfs_pair_insert(t, root, 0, le32_to_cpu(low),
				 path->n[path->top]) ?:
	       vexfs_pair_insert(t, root, 1, hash, ptr) ?:
	       vexfs_htree_dirty(t, bh);
}

/*
 * Insert (hash, ptr) at position at of the level's node in path,
 * splitting it into fresh nodes as far up as it is full.
 */
static int vexfs_htree_put(struct vexfs_htree *t,
			   struct vexfs_htree_path *path,
			   struct buffer_head **fresh, u32 hash, u32 ptr, u32 at)
{
	u32 base = vexfs_htree_nodes(t), level, used = 0;
	int err;

	for (level = 0; level <= path->top; level++) {
		struct vexfs_htree_node *node = vexfs_node_of(path->bh[level]);
		struct vexfs_htree_node *right;
		bool into_right;
		u32 n;

		err = vexfs_htree_access(t, path->bh[level]);
		if (err)
			return err;
		if (le16_to_cpu(node->n_count) < VEXFS_HTREE_PAIRS)
			return vexfs_pair_insert(t, node, at, hash, ptr) ?:
			       vexfs_htree_dirty(t, path->bh[level]);
		n = base + 1 + used;
		right = vexfs_node_of(fresh[used++]);
		at = vexfs_node_split(node, right, n, at, &into_right);
		err = vexfs_pair_insert(t, into_right ? right : node, at, hash,
					ptr) ?:
		      vexfs_htree_dirty(t, path->bh[level]) ?:
		      vexfs_htree_dirty(t, fresh[used - 1]);
		if (err)
			return err;
		/* The parent takes the new node just after the one split. */
		hash = le32_to_cpu(right->n_low);
		ptr = n;
		at = level < path->top ? path->at[level + 1] + 1 : 0;
	}
	return vexfs_htree_new_root(t, path, fresh[used], base + 1 + used,
				    hash, ptr);
}

/*
 * Credits an insert along path may use: its path and head, and for each
 * node it makes the node and its allocation (a bitmap block, an extent
 * path).
 */
static int vexfs_insert_credits(const struct vexfs_htree_path *path, u32 need)
{
	return path->top + 2 + need * (1 + VEXFS_CREDITS_ALLOC);
}

int vexfs_htree_insert(struct vexfs_htree *t, u32 hash, u32 block)
{
	struct buffer_head *fresh[VEXFS_HTREE_MAX_LEVEL + 2] = {};
	struct vexfs_htree_path path;
	u32 need, at, i;
	int err;

	/* The remembered leaf, while it has room; the whole path when not. */
	err = vexfs_htree_descend(t, hash, true, true, &path);
	if (!err && le16_to_cpu(vexfs_node_of(path.bh[0])->n_count) >=
		    VEXFS_HTREE_PAIRS && !path.top && vexfs_htree_level(t)) {
		vexfs_path_put(&path);
		err = vexfs_htree_descend(t, hash, true, false, &path);
	}
	if (err)
		return err;
	need = vexfs_splits_needed(&path);
	if (need)
		vexfs_leaf_forget(t->dir);
	err = vexfs_htree_reserve(t, vexfs_insert_credits(&path, need)) ?:
	      vexfs_htree_prepare(t, &path, need, fresh);
	/* The head changes only with the node count. */
	if (!err && need)
		err = vexfs_htree_access(t, t->head_bh);
	if (err)
		goto out;
	/* From here on a failure leaves half a change: end the journal. */
	at = vexfs_pair_bound(vexfs_node_of(path.bh[0]), hash, false);
	err = vexfs_htree_put(t, &path, fresh, hash, block, at);
	if (!err && need) {
		le32_add_cpu(&t->head->h_nodes, need);
		err = vexfs_head_dirty(t);
	}
	if (err)
		vexfs_journal_abort(t->dir->i_sb, err, "inserting in a hash tree");
out:
	for (i = 0; i < need; i++)
		brelse(fresh[i]);
	vexfs_path_put(&path);
	return err;
}

/*
 * How many leaves inserting the sorted keys would change: one descent per
 * leaf, which takes every key below the low of what follows it.
 */
int vexfs_htree_leaves_for(struct vexfs_htree *t, const u32 *keys, u32 n,
			   u32 *leaves)
{
	struct vexfs_htree_path path;
	u32 i = 0, level;
	int err;

	*leaves = 0;
	while (i < n) {
		u64 bound = 1ull << 32;

		err = vexfs_htree_descend(t, keys[i], true, false, &path);
		if (err)
			return err;
		for (level = 1; level <= path.top; level++) {
			struct vexfs_htree_node *node = vexfs_node_of(path.bh[level]);
			u32 at = path.at[level] + 1;

			if (at < le16_to_cpu(node->n_count))
				bound = min_t(u64, bound,
					      le32_to_cpu(node->n_pair[at].p_hash));
		}
		vexfs_path_put(&path);
		(*leaves)++;
		do
			i++;
		while (i < n && keys[i] < bound);
		cond_resched();
	}
	return 0;
}

/* Drop the pair (hash, block): it must be there. */
int vexfs_htree_remove(struct vexfs_htree *t, u32 hash, u32 block)
{
	u32 i, steps = 0;
	struct buffer_head *bh = vexfs_htree_first(t, hash, &i);
	int err;

	if (IS_ERR(bh))
		return PTR_ERR(bh);
	for (;;) {
		struct vexfs_htree_node *leaf = vexfs_node_of(bh);
		u32 count = le16_to_cpu(leaf->n_count);

		for (; i < count; i++) {
			if (le32_to_cpu(leaf->n_pair[i].p_hash) != hash)
				goto missing;
			if (le32_to_cpu(leaf->n_pair[i].p_ptr) == block)
				goto found;
		}
		bh = vexfs_htree_next(t, bh, &steps);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (!bh)
			return vexfs_htree_bad(t, "lacks a name", block);
		if (le32_to_cpu(vexfs_node_of(bh)->n_low) > hash)
			goto missing;
		i = 0;
	}
found:
	err = vexfs_htree_reserve(t, 1) ?: vexfs_htree_access(t, bh);
	if (!err) {
		struct vexfs_htree_node *leaf = vexfs_node_of(bh);
		u32 count = le16_to_cpu(leaf->n_count);

		memmove(&leaf->n_pair[i], &leaf->n_pair[i + 1],
			(count - i - 1) * sizeof(leaf->n_pair[0]));
		leaf->n_count = cpu_to_le16(count - 1);
		err = vexfs_htree_dirty(t, bh);
	}
	brelse(bh);
	return err;
missing:
	brelse(bh);
	return vexfs_htree_bad(t, "lacks a name", block);
}

/*
 * Entry blocks that may have room, newest last: a delete remembers its
 * block, an insert tries the newest and forgets it once it is full. A
 * block past the list's capacity is forgotten: space, not correctness.
 */
u32 vexfs_htree_room(const struct vexfs_htree *t, u32 *block)
{
	u32 rooms = le32_to_cpu(t->head->h_rooms);

	if (!rooms)
		return 0;
	*block = le32_to_cpu(t->head->h_room[rooms - 1]);
	return rooms;
}

int vexfs_htree_room_drop(struct vexfs_htree *t)
{
	int err = vexfs_htree_access(t, t->head_bh);

	if (err)
		return err;
	le32_add_cpu(&t->head->h_rooms, -1);
	return vexfs_head_dirty(t);
}

int vexfs_htree_room_add(struct vexfs_htree *t, u32 block)
{
	u32 rooms = le32_to_cpu(t->head->h_rooms), i;
	int err;

	for (i = 0; i < rooms; i++)
		if (le32_to_cpu(t->head->h_room[i]) == block)
			return 0;
	if (rooms == VEXFS_HTREE_ROOMS)
		return 0;
	err = vexfs_htree_access(t, t->head_bh);
	if (err)
		return err;
	t->head->h_room[rooms] = cpu_to_le32(block);
	t->head->h_rooms = cpu_to_le32(rooms + 1);
	return vexfs_head_dirty(t);
}

/*
 * Give dir an empty tree: the head, with a fresh key, and an empty root
 * leaf. The caller then inserts the names and sets VEXFS_INODE_HTREE. On
 * success the tree is open; on failure t->head is NULL and nothing held.
 */
int vexfs_htree_create(struct inode *dir, struct vexfs_htree *t)
{
	struct buffer_head *root;
	struct vexfs_htree_head *h;
	u64 key[2];
	int err;

	t->dir = dir;
	t->head = NULL;
	vexfs_leaf_forget(dir);
	err = vexfs_htree_reserve(t, 3 + 2 * VEXFS_CREDITS_ALLOC);
	if (err)
		return err;
	t->head_bh = vexfs_htree_new_block(t, 0, NULL, 0);
	if (IS_ERR(t->head_bh))
		return PTR_ERR(t->head_bh);
	root = vexfs_htree_new_block(t, 1, &t->head_bh, 1);
	if (IS_ERR(root)) {
		brelse(t->head_bh);
		return PTR_ERR(root);
	}
	err = vexfs_htree_dirty(t, root);
	brelse(root);
	h = (struct vexfs_htree_head *)t->head_bh->b_data;
	get_random_bytes(key, sizeof(key));
	h->h_key[0] = cpu_to_le64(key[0]);
	h->h_key[1] = cpu_to_le64(key[1]);
	h->h_root = cpu_to_le32(1);
	h->h_nodes = cpu_to_le32(1);
	t->head = h;
	t->key.key[0] = key[0];
	t->key.key[1] = key[1];
	err = err ?: vexfs_head_dirty(t);
	if (err) {
		brelse(t->head_bh);
		t->head = NULL;
	}
	return err;
}
