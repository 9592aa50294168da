/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsck.vexfs: state shared by the passes of the checker.
 *
 * The checker keeps a small record per inode slot and two computed bitmaps
 * (inodes and blocks in use, as found by walking the metadata); the on-disk
 * bitmaps are compared against them at the end. Everything it changes goes
 * through fsck_io.c, which refuses to write when the image was opened
 * read-only (-n).
 */
#ifndef VEXFS_FSCK_H
#define VEXFS_FSCK_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "layout.h"
#include "ondisk.h"

/* e2fsck's exit codes, or-ed together as it does. */
#define FSCK_EXIT_OK		0
#define FSCK_EXIT_FIXED		1
#define FSCK_EXIT_UNFIXED	4
#define FSCK_EXIT_OPERATIONAL	8
#define FSCK_EXIT_USAGE		16

enum fsck_mode {
	FSCK_ASK,		/* ask on the terminal */
	FSCK_NO,		/* -n: read-only, answer no */
	FSCK_YES,		/* -y: answer yes */
	FSCK_PREEN,		/* -p, -a: fix what is safe, terse output */
};

struct fsck_options {
	const char *device;
	enum fsck_mode mode;
	bool force;
	bool verbose;
};

/* fsck_ino.state */
#define INO_USED	0x0001	/* bit set and slot not empty, or adopted */
#define INO_BAD		0x0002	/* failed its checks: structure not trusted */
#define INO_REACHED	0x0004	/* reachable from the root */
#define INO_ONPATH	0x0008	/* on the parent chain being followed */
#define INO_LOST	0x0010	/* unreachable and left so */
#define INO_DIRPART	0x0020	/* directory with unreadable blocks */
#define INO_TABLE_OK	0x0040	/* collection whose table checked out */
#define INO_TABLE_BAD	0x0080	/* collection whose table cannot be read */
#define INO_OWNED	0x0100	/* vector table named by its collection */
#define INO_VEC_OK	0x0200	/* file whose slot points back at it */
#define INO_MULTI	0x0400	/* directory linked from two places */
#define INO_SCANNED	0x1000	/* directory whose entries were read */

/*
 * Inodes that no directory names: the hidden kinds a collection owns
 * (its vector table, and whatever kinds later formats add).
 */
#define FSCK_HIDDEN_FLAGS \
	(VEXFS_INODE_FLAGS_KNOWN & ~(VEXFS_INODE_COLLECTION | VEXFS_INODE_HTREE))

/* What the passes learn about one inode slot. */
struct fsck_ino {
	uint16_t mode;
	uint16_t state;
	uint16_t flags;		/* i_flags */
	uint32_t nlink;		/* i_nlink on disk */
	uint32_t refs;		/* directory entries naming it */
	uint32_t subdirs;	/* directories: entries naming a directory */
	uint32_t entries;	/* directories: names they hold */
	uint64_t parent;	/* directories: the first directory naming it */
};

struct fsck_stats {
	uint64_t regular, dirs, symlinks, special, tables, collections;
	uint64_t vectors, extent_nodes, xattr_blocks, indexes;
	uint64_t htrees;		/* hashed directories */
	uint64_t cmaps;			/* vector tables with a sound change map */
};

struct fsck {
	struct fsck_options opt;
	struct vexfs_device dev;
	bool writable;
	const char *name;		/* the device as given */

	struct vexfs_super_block sb;	/* copy of the on-disk superblock */
	struct vexfs_layout l;
	bool super_dirty;		/* sb must be written back */

	uint8_t *disk_ibits;		/* on-disk inode bitmap, payloads joined */
	uint8_t *disk_bbits;		/* on-disk block bitmap */
	uint8_t *ibits;			/* computed: inodes in use */
	uint8_t *bbits;			/* computed: blocks in use */
	bool *ibm_bad, *bbm_bad;	/* bitmap blocks with a bad tail */
	bool *ibm_dirty, *bbm_dirty;	/* changed by this run's own allocations */
	struct fsck_ino *ino;

	uint64_t lost_found;		/* 0 until found or made */
	bool lost_found_taken;		/* the name is used by a non-directory */
	uint64_t dup_blocks;		/* blocks claimed twice */
	bool blocks_uncertain;		/* some blocks' owners are unknown */
	bool refs_uncertain;		/* some directory entries unreadable */
	bool root_ok;

	uint64_t free_inodes, free_blocks;	/* as counted by pass 6 */
	bool counted;

	unsigned int problems, fixed, unfixed;
	bool aborted;			/* an I/O error or the like */
	bool modified;
	struct fsck_stats stats;

	/* one-block caches */
	uint64_t itab_nr;
	uint8_t *itab;
	uint64_t node_nr;
	uint8_t *node;
};

static inline struct fsck_ino *fsck_ino(struct fsck *f, uint64_t ino)
{
	return &f->ino[ino];
}

static inline bool fsck_ino_valid(const struct fsck *f, uint64_t ino)
{
	return ino >= VEXFS_ROOT_INO && ino < f->l.inodes_count;
}

static inline bool fsck_data_block_valid(const struct fsck *f, uint64_t start,
					 uint64_t count)
{
	return count && start >= f->l.data_start &&
	       start < f->l.blocks_count &&
	       count <= f->l.blocks_count - start;
}

/* fsck_report.c: one line per problem; the answer says whether to fix it. */
__attribute__((format(printf, 2, 3)))
bool fsck_fixable(struct fsck *f, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
bool fsck_fixable_unshared(struct fsck *f, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void fsck_unfixable(struct fsck *f, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void fsck_info(struct fsck *f, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void fsck_verbose(struct fsck *f, const char *fmt, ...);
void fsck_fix_failed(struct fsck *f);
void fsck_pass(struct fsck *f, const char *title);
int fsck_exit_code(const struct fsck *f);

/* fsck_io.c: the image, inodes and the computed bitmaps. */
int fsck_open(struct fsck *f);
int fsck_close(struct fsck *f);
int fsck_read_block(struct fsck *f, uint64_t blocknr, void *buf);
int fsck_write_block(struct fsck *f, uint64_t blocknr, const void *buf);
int fsck_read_inode(struct fsck *f, uint64_t ino, struct vexfs_inode *raw);
int fsck_write_inode(struct fsck *f, uint64_t ino, struct vexfs_inode *raw);
bool fsck_slot_empty(const struct vexfs_inode *raw);
const uint8_t *fsck_read_node(struct fsck *f, uint64_t blocknr);

/* fsck_alloc.c: claiming blocks and inodes in the computed bitmaps. */
bool fsck_claim_block(struct fsck *f, uint64_t blocknr);
int fsck_alloc_block(struct fsck *f, uint64_t goal, uint64_t *blocknr);
void fsck_free_block(struct fsck *f, uint64_t blocknr);
int fsck_alloc_inode(struct fsck *f, uint64_t *ino);
void fsck_free_inode(struct fsck *f, uint64_t ino);

/* fsck_super.c */
int fsck_check_super(struct fsck *f);
int fsck_journal(struct fsck *f);
int fsck_load_bitmaps(struct fsck *f);
void fsck_free_bitmaps(struct fsck *f);
int fsck_write_super(struct fsck *f);

/* fsck_extent.c: walking, checking and reading extent trees. */
struct fsck_walk {
	/* each mapped run of the file, in logical order */
	void (*extent)(struct fsck *f, void *arg, uint32_t lblk,
		       uint64_t pblk, uint32_t len);
	/* each tree block below the root */
	void (*node)(struct fsck *f, void *arg, uint64_t blocknr);
	void *arg;
};
int fsck_extent_check(struct fsck *f, uint64_t ino,
		      const struct vexfs_inode *raw, const struct fsck_walk *w);
void fsck_extent_explain(struct fsck *f, uint64_t ino,
			 const struct vexfs_inode *raw);
int fsck_extent_walk(struct fsck *f, const struct vexfs_inode *raw,
		     const struct fsck_walk *w);
int fsck_bmap(struct fsck *f, const struct vexfs_inode *raw, uint32_t lblk,
	      uint64_t *pblk);
int fsck_file_io(struct fsck *f, const struct vexfs_inode *raw, uint64_t pos,
		 void *buf, size_t len, bool write);

/* fsck_extwrite.c: appending one block to a file's extent tree. */
int fsck_extent_append(struct fsck *f, uint64_t ino, struct vexfs_inode *raw,
		       uint32_t lblk, uint64_t pblk);

/* fsck_xattr.c */
/* raw's xattr block; a bad one is dropped when the repair is allowed. */
int fsck_check_xattr(struct fsck *f, uint64_t ino, struct vexfs_inode *raw,
		     bool *rewrite);

/* fsck_inode.c: pass 1 for one inode. */
int fsck_check_inode(struct fsck *f, uint64_t ino, struct vexfs_inode *raw);
int fsck_pass1(struct fsck *f);

/* fsck_release.c: give back an inode and everything it holds. */
int fsck_release_inode(struct fsck *f, uint64_t ino);

/* fsck_dir.c: pass 2. */
int fsck_rec_check(const struct fsck *f, const uint8_t *block,
		   unsigned int off);
int fsck_pass2(struct fsck *f);

/* fsck_dirwrite.c: looking a name up in a directory, adding one. */
int fsck_dir_has(struct fsck *f, uint64_t dir, const char *name);
int fsck_dir_add(struct fsck *f, uint64_t dir, const char *name,
		 uint64_t ino, uint8_t type);

/* fsck_lostfound.c */
int fsck_reconnect(struct fsck *f, uint64_t ino);

/* fsck_connect.c: pass 3. */
int fsck_pass3(struct fsck *f);

/* fsck_links.c: pass 4. */
int fsck_pass4(struct fsck *f);

/* fsck_vector.c: pass 5. */
int fsck_pass5(struct fsck *f);

/* fsck_index.c: a collection's HNSW index, as pass 5 found its table. */
struct fsck_table_info {
	uint64_t dir;			/* the collection */
	const struct vexfs_inode *raw;	/* its vector table's inode */
	uint64_t slots;
	uint32_t seq;			/* highest change sequence in the table */
	uint32_t dim, metric;
};
void fsck_check_index(struct fsck *f, const struct fsck_table_info *t,
		      uint64_t ino);
void fsck_check_orphan_index(struct fsck *f, uint64_t ino);

/*
 * fsck_cmap.c: a vector table's change map, against the records pass 5
 * reads. The caller sets the first four fields, then starts, notes every
 * slot below @slots as the pass leaves it, and finishes.
 */
struct fsck_cmap {
	uint64_t dir, ino;		/* the collection, its table */
	const struct vexfs_inode *raw;	/* the table's inode */
	uint64_t slots;			/* vh_slots */
	struct vexfs_change_map disk;	/* as read */
	bool present;			/* cm_magic is not 0 */
	const char *fault;		/* why the map is not sound; NULL: it is */
	unsigned int shift;		/* the smallest covering the slots */
	uint32_t seq[VEXFS_CHANGE_MAP_ENTRIES];	/* highest vr_seq per run */
	uint64_t under;			/* slots above their entry on disk */
	uint64_t under_slot;		/* the first of them */
	uint32_t under_seq;		/* and its vr_seq */
};
void fsck_cmap_start(struct fsck_cmap *m, const struct vexfs_change_map *disk);
void fsck_cmap_note(struct fsck_cmap *m, uint64_t slot, uint32_t seq);
void fsck_cmap_finish(struct fsck *f, const struct fsck_cmap *m, bool changed);

/* fsck_bitmap.c: pass 6. */
int fsck_pass6(struct fsck *f);

#endif /* VEXFS_FSCK_H */
