/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A directory's hash tree, its name index on disk: see htree.c.
 */
#ifndef _VEXFS_HTREE_H
#define _VEXFS_HTREE_H

#include <linux/siphash.h>
#include "vexfs.h"

/* An open tree: its head, held while the caller works on the tree. */
struct vexfs_htree {
	struct inode *dir;
	struct buffer_head *head_bh;
	struct vexfs_htree_head *head;	/* in head_bh */
	siphash_key_t key;
};

/* The nodes from the root (bh[top]) down to a leaf (bh[0]). */
struct vexfs_htree_path {
	struct buffer_head *bh[VEXFS_HTREE_MAX_LEVEL + 1];
	u32 n[VEXFS_HTREE_MAX_LEVEL + 1];	/* node numbers */
	u32 at[VEXFS_HTREE_MAX_LEVEL + 1];	/* child taken at each level */
	u32 top;
};

static inline u32 vexfs_htree_nodes(const struct vexfs_htree *t)
{
	return le32_to_cpu(t->head->h_nodes);
}

static inline u32 vexfs_htree_level(const struct vexfs_htree *t)
{
	return le32_to_cpu(t->head->h_level);
}

static inline bool vexfs_dir_hashed(struct inode *dir)
{
	return VEXFS_I(dir)->flags & VEXFS_INODE_HTREE;
}

int vexfs_htree_create(struct inode *dir, struct vexfs_htree *t);
int vexfs_htree_open(struct inode *dir, struct vexfs_htree *t);
void vexfs_htree_close(struct vexfs_htree *t);
void vexfs_htree_forget(struct inode *dir);
u32 vexfs_htree_hash(const struct vexfs_htree *t, const char *name,
		     unsigned int len);
int vexfs_htree_find(struct vexfs_htree *t, u32 hash,
		     int (*fn)(void *arg, u32 block), void *arg);
int vexfs_htree_insert(struct vexfs_htree *t, u32 hash, u32 block);
int vexfs_htree_remove(struct vexfs_htree *t, u32 hash, u32 block);
int vexfs_htree_leaves_for(struct vexfs_htree *t, const u32 *keys, u32 n,
			   u32 *leaves);
u32 vexfs_htree_room(const struct vexfs_htree *t, u32 *block);
int vexfs_htree_room_drop(struct vexfs_htree *t);
int vexfs_htree_room_add(struct vexfs_htree *t, u32 block);
void vexfs_path_put(struct vexfs_htree_path *path);

#endif /* _VEXFS_HTREE_H */
