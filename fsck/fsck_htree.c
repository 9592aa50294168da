// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.vexfs, pass 2: a hashed directory's tree (VEXFS_INODE_HTREE), its
 * name index on disk, held to the rules of the module's htree.c and to
 * the directory's entries.
 *
 * The tree must be one the module walks without complaint: a head whose
 * numbers are in range, every node 1..h_nodes reached once from the root,
 * each with the level its parent implies, a count its level allows,
 * sorted hashes no lower than its own low, the low its parent gives it,
 * and the next link of its level; and its leaves must hold exactly one
 * (hash, block) pair per entry, the hash computed from the entry's name
 * as the module computes it (a decimal name below 2^32 its value, any
 * other the low 32 bits of SipHash-2-4 under the head's key). Every
 * remembered room is an
 * entry block.
 *
 * A tree that fails is rebuilt from the entries, into the blocks it
 * already has and more appended past them, with the key it had when its
 * head is readable. The tree holds nothing the entries do not, so nothing
 * is lost. A directory some of whose entry blocks are unreadable is left
 * alone: its pairs cannot be known.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sodium.h>

#include "fsck.h"
#include "fsck_htree.h"

struct pair {
	uint32_t hash, block;
};

#define NOT_YET	UINT32_MAX	/* no node of the level reached yet */

struct pairs {
	struct pair *v;
	size_t n, cap;
};

static int pairs_add(struct pairs *p, uint32_t hash, uint32_t block)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct pair *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct pair){ hash, block };
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

uint32_t fsck_htree_hash(const uint8_t key[16], const char *name,
			 unsigned int len)
{
	unsigned char out[crypto_shorthash_siphash24_BYTES];
	uint64_t id = 0;
	unsigned int i;

	/* a canonical decimal below 2^32 is its own key */
	if (len && len <= 10 && (name[0] != '0' || len == 1)) {
		for (i = 0; i < len && name[i] >= '0' && name[i] <= '9'; i++)
			id = id * 10 + (uint64_t)(name[i] - '0');
		if (i == len && id <= UINT32_MAX)
			return (uint32_t)id;
	}

	crypto_shorthash_siphash24(out, (const unsigned char *)name, len, key);
	return (uint32_t)out[0] | (uint32_t)out[1] << 8 |
	       (uint32_t)out[2] << 16 | (uint32_t)out[3] << 24;
}

/* What a check of one directory's tree works with. */
struct htree_check {
	struct fsck *f;
	uint64_t dir;
	struct vexfs_inode raw;
	uint32_t nblocks;		/* entry blocks */
	uint8_t head[VEXFS_BLOCK_SIZE] __attribute__((aligned(8)));
	bool key_ok;			/* head readable: its key is known */
	bool head_ok;			/* and its numbers in range */
	uint8_t key[16];
	uint8_t *seen;			/* per node: reached from the root */
	uint32_t *expect;		/* per level: the next link last read */
	struct pairs tree;		/* the leaves' pairs, in order */
	const char *fault;		/* the first rule broken */
	uint32_t fault_node;
};

static struct vexfs_htree_head *head_of(struct htree_check *c)
{
	return (struct vexfs_htree_head *)c->head;
}

static uint32_t nodes_of(struct htree_check *c)
{
	return le32toh(head_of(c)->h_nodes);
}

static bool broken(struct htree_check *c, const char *fault, uint32_t node)
{
	if (!c->fault) {
		c->fault = fault;
		c->fault_node = node;
	}
	return false;
}

/* Read the tree's block n (0: the head); false when it is not sound. */
static bool read_tree_block(struct htree_check *c, uint32_t n, uint8_t *block)
{
	uint64_t pblk;

	if (fsck_bmap(c->f, &c->raw, VEXFS_HTREE_LBLK + n, &pblk) || !pblk)
		return broken(c, "has a block missing", n);
	if (!fsck_data_block_valid(c->f, pblk, 1) ||
	    fsck_read_block(c->f, pblk, block) ||
	    !vexfs_block_sealed_ok(block, n ? VEXFS_HTREE_MAGIC :
					      VEXFS_HTREE_HEAD_MAGIC, pblk))
		return broken(c, "has a block that is not a tree block", n);
	return true;
}

static bool head_numbers_ok(const struct vexfs_htree_head *h)
{
	uint32_t nodes = le32toh(h->h_nodes), root = le32toh(h->h_root);

	return nodes && nodes <= VEXFS_HTREE_MAX_NODES && root &&
	       root <= nodes &&
	       le32toh(h->h_level) <= VEXFS_HTREE_MAX_LEVEL &&
	       le32toh(h->h_rooms) <= VEXFS_HTREE_ROOMS;
}

static bool read_head(struct htree_check *c)
{
	struct vexfs_htree_head *h = head_of(c);

	if (!read_tree_block(c, 0, c->head))
		return false;
	/* k0 and k1 are little-endian on disk, as SipHash reads its key */
	memcpy(c->key, h->h_key, sizeof(c->key));
	c->key_ok = true;
	if (!head_numbers_ok(h))
		return broken(c, "head has numbers out of range", 0);
	c->head_ok = true;
	return true;
}

/* The module's vexfs_node_ok(), and the low the parent gave the node. */
static bool node_ok(struct htree_check *c, const struct vexfs_htree_node *node,
		    uint32_t n, uint32_t level, uint32_t low)
{
	uint32_t count = le16toh(node->n_count), prev = le32toh(node->n_low), i;

	if (le16toh(node->n_level) != level)
		return broken(c, "has a node of the wrong level", n);
	if (count > VEXFS_HTREE_PAIRS || (level && !count))
		return broken(c, "has a node with a bad count", n);
	if (le32toh(node->n_next) > nodes_of(c))
		return broken(c, "has a level linked outside itself", n);
	if (prev != low)
		return broken(c, "has a node whose low is not its parent's", n);
	for (i = 0; i < count; i++) {
		uint32_t hash = le32toh(node->n_pair[i].p_hash);
		uint32_t ptr = le32toh(node->n_pair[i].p_ptr);

		if (hash < prev)
			return broken(c, "has a node out of order", n);
		if (level && (!ptr || ptr > nodes_of(c)))
			return broken(c, "points outside itself", n);
		prev = hash;
	}
	return true;
}

/*
 * Walk node n and below, in order: every hash of the subtree must be at
 * most high, the low of what follows it (UINT32_MAX at the end).
 */
static bool walk(struct htree_check *c, uint32_t n, uint32_t level,
		 uint32_t low, uint32_t high)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	const struct vexfs_htree_node *node = (const void *)block;
	uint32_t count, i;
	bool ok = false;

	if (!block)
		return broken(c, "could not be read (out of memory)", n);
	if (c->seen[n]) {
		broken(c, "reaches a node twice", n);
		goto out;
	}
	c->seen[n] = 1;
	if (!read_tree_block(c, n, block) || !node_ok(c, node, n, level, low))
		goto out;
	count = le16toh(node->n_count);
	if (count && le32toh(node->n_pair[count - 1].p_hash) > high) {
		broken(c, "has a node out of order", n);
		goto out;
	}
	/* The level's next links follow the order of the walk. */
	if (c->expect[level] != NOT_YET && c->expect[level] != n) {
		broken(c, "has a level linked out of order", n);
		goto out;
	}
	c->expect[level] = le32toh(node->n_next);
	for (i = 0; i < count; i++) {
		uint32_t hash = le32toh(node->n_pair[i].p_hash);
		uint32_t ptr = le32toh(node->n_pair[i].p_ptr);
		uint32_t next = i + 1 < count ?
				le32toh(node->n_pair[i + 1].p_hash) : high;

		if (!level) {
			if (pairs_add(&c->tree, hash, ptr))
				goto out;
		} else if (!walk(c, ptr, level - 1, hash, next)) {
			goto out;
		}
	}
	ok = true;
out:
	free(block);
	return ok;
}

/* The tree's own rules; its pairs in c->tree. */
static bool tree_sound(struct htree_check *c)
{
	const struct vexfs_htree_head *h = head_of(c);
	uint32_t nodes, level, n;

	if (!read_head(c))
		return false;
	nodes = nodes_of(c);
	level = le32toh(h->h_level);
	c->seen = calloc((size_t)nodes + 1, 1);
	c->expect = malloc((VEXFS_HTREE_MAX_LEVEL + 1) * sizeof(*c->expect));
	if (!c->seen || !c->expect)
		return broken(c, "could not be read (out of memory)", 0);
	for (n = 0; n <= VEXFS_HTREE_MAX_LEVEL; n++)
		c->expect[n] = NOT_YET;
	if (!walk(c, le32toh(h->h_root), level, 0, UINT32_MAX))
		return false;
	for (n = 0; n <= level; n++)
		if (c->expect[n])
			return broken(c, "has a level that runs on past its end",
				      c->expect[n]);
	for (n = 1; n <= nodes; n++)
		if (!c->seen[n])
			return broken(c, "has a node not in the tree", n);
	for (n = 0; n < le32toh(h->h_rooms); n++)
		if (le32toh(h->h_room[n]) >= c->nblocks)
			return broken(c, "remembers room in a block past the entries", 0);
	return true;
}

/* One pair per entry of the directory; -1 when a block is unreadable. */
static int entry_pairs(struct htree_check *c, struct pairs *out)
{
	uint8_t *block = malloc(VEXFS_BLOCK_SIZE);
	uint32_t lblk;
	int ret = 0;

	if (!block)
		return -1;
	for (lblk = 0; lblk < c->nblocks && !ret; lblk++) {
		unsigned int off;
		uint64_t pblk;
		int len;

		if (fsck_bmap(c->f, &c->raw, lblk, &pblk) || !pblk ||
		    fsck_read_block(c->f, pblk, block) ||
		    !vexfs_block_sealed_ok(block, VEXFS_DIR_MAGIC, pblk)) {
			ret = -1;
			break;
		}
		for (off = 0; off < VEXFS_BLOCK_PAYLOAD; off += (unsigned int)len) {
			const struct vexfs_dirent *de = (const void *)(block + off);

			len = fsck_rec_check(c->f, block, off);
			if (len < 0) {
				ret = -1;
				break;
			}
			if (de->d_ino &&
			    pairs_add(out, fsck_htree_hash(c->key, de->d_name,
							   de->d_name_len), lblk)) {
				ret = -1;
				break;
			}
		}
	}
	free(block);
	return ret;
}

static void pairs_sort(struct pairs *p)
{
	if (p->n)
		qsort(p->v, p->n, sizeof(*p->v), pair_cmp);
}

static bool same_pairs(struct pairs *a, struct pairs *b)
{
	pairs_sort(a);
	pairs_sort(b);
	return a->n == b->n && (!a->n || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

/* Pairs a rebuilt node holds: room left for inserts before it splits. */
#define REBUILD_FILL	(VEXFS_HTREE_PAIRS * 3 / 4)

static void note_end(struct fsck *f, void *arg, uint32_t lblk, uint64_t pblk,
		     uint32_t len)
{
	uint64_t *end = arg;

	(void)f;
	(void)pblk;
	if ((uint64_t)lblk + len > *end)
		*end = (uint64_t)lblk + len;
}

/* One past the last block the directory maps. */
static uint64_t mapped_end(struct htree_check *c)
{
	uint64_t end = 0;
	struct fsck_walk w = { .extent = note_end, .arg = &end };

	fsck_extent_walk(c->f, &c->raw, &w);
	return end;
}

/*
 * Node k of the rebuilt tree: at VEXFS_HTREE_LBLK + k, mapped if need be.
 * A block is only ever appended past every mapped one: a hole inside the
 * tree's blocks (a lost extent) cannot be filled, and the rebuild fails.
 */
static int node_block(struct htree_check *c, uint32_t k, uint64_t *pblk)
{
	uint64_t goal;

	if (fsck_bmap(c->f, &c->raw, VEXFS_HTREE_LBLK + k, pblk))
		return -1;
	if (*pblk)
		return 0;
	if (VEXFS_HTREE_LBLK + (uint64_t)k < mapped_end(c))
		return -1;
	goal = c->f->l.data_start;
	if (k && !fsck_bmap(c->f, &c->raw, VEXFS_HTREE_LBLK + k - 1, &goal) &&
	    goal)
		goal++;
	if (fsck_alloc_block(c->f, goal, pblk))
		return -1;
	if (fsck_extent_append(c->f, c->dir, &c->raw, VEXFS_HTREE_LBLK + k,
			       *pblk)) {
		fsck_free_block(c->f, *pblk);
		return -1;
	}
	c->raw.i_blocks = htole64(le64toh(c->raw.i_blocks) + 1);
	return 0;
}

static int write_node(struct htree_check *c, uint32_t k, uint8_t *block)
{
	uint64_t pblk;

	if (node_block(c, k, &pblk))
		return -1;
	vexfs_block_seal(block, k ? VEXFS_HTREE_MAGIC : VEXFS_HTREE_HEAD_MAGIC,
			 pblk);
	return fsck_write_block(c->f, pblk, block);
}

/*
 * Write one level of the rebuilt tree: the pairs of in, REBUILD_FILL to
 * a node numbered from *next on; the (low, node) pairs of the level above
 * go to out. The first node of a level has low 0, as the module's has.
 */
static int write_level(struct htree_check *c, const struct pairs *in,
		       uint16_t level, uint32_t *next, struct pairs *out)
{
	uint8_t *block = calloc(1, VEXFS_BLOCK_SIZE);
	struct vexfs_htree_node *node = (void *)block;
	size_t i = 0;
	int ret = 0;

	if (!block)
		return -1;
	do {
		size_t take = in->n - i < REBUILD_FILL ? in->n - i : REBUILD_FILL;
		uint32_t k = (*next)++, low = i ? in->v[i].hash : 0, j;

		memset(block, 0, VEXFS_BLOCK_SIZE);
		node->n_count = htole16((uint16_t)take);
		node->n_level = htole16(level);
		node->n_low = htole32(low);
		node->n_next = htole32(i + take < in->n ? *next : 0);
		for (j = 0; j < take; j++) {
			node->n_pair[j].p_hash = htole32(in->v[i + j].hash);
			node->n_pair[j].p_ptr = htole32(in->v[i + j].block);
		}
		ret = pairs_add(out, low, k) ?: write_node(c, k, block);
		i += take;
	} while (!ret && i < in->n);
	free(block);
	return ret;
}

/* Rebuild the tree from the entries' pairs, levels from the leaves up. */
static int rebuild(struct htree_check *c, struct pairs *entries)
{
	struct vexfs_htree_head *h = head_of(c);
	struct pairs level = *entries, up = { 0 };
	uint32_t next = 1, depth = 0;
	uint64_t pblk, nodes = entries->n;
	int ret;

	/* levels the packed tree needs, known before anything is written */
	for (nodes = (nodes + REBUILD_FILL - 1) / REBUILD_FILL; nodes > 1;
	     nodes = (nodes + REBUILD_FILL - 1) / REBUILD_FILL)
		depth++;
	if (depth > VEXFS_HTREE_MAX_LEVEL)
		return -1;
	depth = 0;
	/* blocks are appended in order: the head's first */
	if (node_block(c, 0, &pblk))
		return -1;
	pairs_sort(entries);
	for (;;) {
		up.n = 0;
		ret = write_level(c, &level, (uint16_t)depth, &next, &up);
		if (level.v != entries->v)
			free(level.v);
		level = up;
		up = (struct pairs){ 0 };
		if (ret || level.n == 1)
			break;
		depth++;
	}
	free(level.v);
	if (ret || depth > VEXFS_HTREE_MAX_LEVEL || next - 1 > VEXFS_HTREE_MAX_NODES)
		return -1;
	memset(c->head, 0, sizeof(c->head));
	h->h_root = htole32(next - 1);
	h->h_nodes = htole32(next - 1);
	h->h_level = htole32(depth);
	memcpy(&h->h_key[0], c->key, 8);
	memcpy(&h->h_key[1], c->key + 8, 8);
	return write_node(c, 0, c->head) ?: fsck_write_inode(c->f, c->dir, &c->raw);
}

/* The tree agrees with the entries: one pair each. */
static bool tree_matches(struct htree_check *c, struct pairs *entries)
{
	if (!same_pairs(&c->tree, entries))
		return broken(c, "does not hold one pair per entry", 0);
	return true;
}

static void check_free(struct htree_check *c, struct pairs *entries)
{
	free(entries->v);
	free(c->tree.v);
	free(c->seen);
	free(c->expect);
	free(c);
}

/*
 * Start a check of dir's tree: its rules, then the entries' pairs under
 * its key (a new key when its head is unreadable). NULL when the
 * entries cannot be read (reported when the tree is also unsound).
 */
static struct htree_check *check_start(struct fsck *f, uint64_t dir,
				       struct pairs *entries, bool *sound)
{
	struct htree_check *c = calloc(1, sizeof(*c));

	if (!c || fsck_read_inode(f, dir, &c->raw)) {
		f->aborted = true;
		free(c);
		return NULL;
	}
	c->f = f;
	c->dir = dir;
	c->nblocks = (uint32_t)(le64toh(c->raw.i_size) / VEXFS_BLOCK_SIZE);
	*sound = tree_sound(c);
	if (!c->key_ok && getrandom(c->key, sizeof(c->key), 0) != sizeof(c->key))
		f->aborted = true;
	if (f->aborted || entry_pairs(c, entries)) {
		if (!*sound)
			fsck_unfixable(f, "Directory inode %" PRIu64 ": its hash tree %s (node %u), and some of its entries are unreadable.",
				       dir, c->fault, c->fault_node);
		check_free(c, entries);
		return NULL;
	}
	return c;
}

/* A module without trees must not mount a filesystem that has one. */
static void check_feature(struct fsck *f, uint64_t dir)
{
	uint64_t incompat = le64toh(f->sb.s_feature_incompat);

	if ((incompat & VEXFS_FEATURE_INCOMPAT_HTREE) ||
	    !fsck_fixable(f, "Directory inode %" PRIu64 " has a hash tree, but the superblock lacks the hash tree feature.  Set it.",
			  dir))
		return;
	f->sb.s_feature_incompat = htole64(incompat | VEXFS_FEATURE_INCOMPAT_HTREE);
	f->super_dirty = true;
}

void fsck_htree_check(struct fsck *f, uint64_t dir)
{
	struct pairs entries = { 0 };
	struct htree_check *c;
	bool sound;

	f->stats.htrees++;
	check_feature(f, dir);
	c = check_start(f, dir, &entries, &sound);
	if (!c)
		return;
	/* the blocks it rewrites may be another owner's too: not then */
	if ((!sound || !tree_matches(c, &entries)) &&
	    fsck_fixable_unshared(f, "Directory inode %" PRIu64 ": its hash tree %s (node %u).  Rebuild it.",
				  dir, c->fault, c->fault_node) &&
	    rebuild(c, &entries))
		fsck_fix_failed(f);
	check_free(c, &entries);
}

int fsck_htree_refresh(struct fsck *f, uint64_t dir)
{
	struct pairs entries = { 0 };
	struct htree_check *c;
	bool sound;
	int ret = 0;

	if (f->dup_blocks)
		return -1;
	c = check_start(f, dir, &entries, &sound);
	if (!c)
		return -1;
	if (!sound || !tree_matches(c, &entries))
		ret = rebuild(c, &entries);
	check_free(c, &entries);
	return ret;
}
