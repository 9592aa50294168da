/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Vector collections: the slot metadata of a collection's vector table,
 * kept in memory; the vectors are read from the table's blocks.
 */
#ifndef _VEXFS_COLLECTION_H
#define _VEXFS_COLLECTION_H

#include <linux/bitops.h>
#include <linux/jbd2.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/uidgid.h>
#include <uapi/vexfs.h>
#include "../lib/hnsw.h"
#include "../lib/vexfs_sq8.h"

/*
 * What search needs of a slot, kept in memory for every slot; the 4-byte
 * fields together, so that it takes 64 bytes, not 72.
 */
struct vexfs_slot {
	u64 ino;			/* 0: free */
	u64 id;
	u64 attrs[VEXFS_ATTR_WORDS];
	u32 seq;			/* change sequence of its last change */
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
};
static_assert(sizeof(struct vexfs_slot) == 64);

/*
 * The change map in memory (change_map.c): seq[e] is at least the change
 * sequence of every slot from e << shift to (e + 1) << shift.
 */
struct vexfs_cmap {
	u32 seq[VEXFS_CHANGE_MAP_ENTRIES];
	u16 shift;
	bool dirty;			/* changed since it was written */
};

/*
 * A loaded collection. Locking: searches and reads take rwsem shared;
 * anything that changes slots, vectors or the table takes it exclusive.
 * The table inode's own i_rwsem is taken inside, for its page cache.
 * Order: a file's i_rwsem, publish_lock, the journal handle, rwsem.
 */
struct vexfs_collection {
	struct rw_semaphore rwsem;
	struct inode *dir;		/* not referenced: it owns us */
	struct inode *table;		/* referenced */
	u32 dim;
	u16 metric;
	u32 rec_size;
	u64 nslots;			/* high-water mark */
	u64 disk_slots;			/* vh_slots on disk: >= nslots */
	u64 capacity;			/* slots allocated in memory */
	u64 live;			/* slots in use */
	struct vexfs_slot *slots;
	u32 *free;			/* stack of free slot numbers */
	u64 nfree;
	u64 free_cap;			/* entries free has room for */
	/*
	 * The slots are loaded (vexfs_collection_get()). Until then the
	 * collection has its table, dim, metric, rec_size and disk_slots
	 * (nslots, live and the rest are 0), and only vexfs_vector_get()
	 * may be called (vexfs_collection_get_table()).
	 */
	bool loaded;
	/*
	 * Slots read on demand (vexfs_collection_get_search()): a search
	 * right after a mount reads the runs of slots changed since the
	 * index was built, then the slots its walk meets, a unit at a time;
	 * a slot may be looked at once vexfs_slot_ready(). Anything else
	 * loads them all first, and this ends false.
	 */
	bool slots_lazy;
	bool lazy_ready;		/* set up for search: slots, map, index */
	unsigned long *units;		/* a bit a unit of slots read */
	u32 unit_slots;			/* slots a unit */
	struct mutex unit_lock;		/* one reader of units at a time */
	struct vexfs_cmap cmap;		/* exact once loaded */
	bool cmap_from_disk;		/* cmap as read, not yet checked */
	u32 seq;			/* change sequence, see uapi READ_VECTORS */
	struct vexfs_index *index;	/* published HNSW graph, or NULL */
	struct mutex publish_lock;	/* one publish at a time */
	struct inode *index_inode;	/* where it is stored, referenced; see index.c */
	bool index_detached;		/* index_inode unlinked by a wrap */
	u64 epoch;			/* wraps of seq: a view spans none */
};

/* Scratches an index keeps for its next searches. */
#define VEXFS_INDEX_SPARES	4

/* A published graph, validated, and the slots it covers. */
struct vexfs_index {
	void *buf;			/* the serialized graph, or NULL: pages */
	size_t len;
	struct vexfs_hnsw_graph graph;	/* view into buf or pages */
	/*
	 * A graph that carries its SQ8 codes is walked from the index
	 * inode's page cache (index_pages.c): pages[p] is page p of the
	 * graph once read and checked (page 0, the header, a copy of its
	 * own), folios[p] the folio held for it.
	 */
	struct inode *inode;		/* referenced, with pages */
	void *hdr_page;
	const u8 **pages;
	struct folio **folios;
	spinlock_t page_lock;		/* guards filling pages and folios */
	u64 held;			/* folios held */
	u64 drop_cursor;		/* where the shrinker goes on */
	struct vexfs_collection *c;	/* with pages: its collection */
	struct list_head paged;		/* with pages: on the shrinker's list */
	/*
	 * What the walk scores (index_walk.c), for the slots it covers as
	 * they were when it was installed: a walk scores hundreds of nodes,
	 * too many to read each from the table. The graph's own codes, with
	 * pages; else SQ8 codes, nbits * dim bytes, coded as sq8 says (its
	 * lo is sq8_lo, with pages too); or, where codes do
	 * not resolve the data, codes is NULL and vectors holds nbits * dim
	 * float32 bit patterns. A slot it does not cover holds zeroes or an
	 * old vector, and is walked through but never returned
	 * (vexfs_slot_covered()).
	 */
	u8 *codes;
	struct vexfs_sq8 sq8;
	float *sq8_lo;
	u32 *vectors;
	u32 seq;			/* change sequence it was built at */
	time64_t published;		/* seconds since the epoch; 0: unknown */
	/*
	 * Slots the graph holds that have not changed since it was built:
	 * a change clears the slot's bit (vexfs_index_uncover()), so the
	 * exact pass of a search can skip the covered slots a word at a time.
	 */
	unsigned long *in_graph;
	u64 nbits;			/* bits in in_graph */
	bool reached_all;		/* a walk reaches every node */
	/*
	 * A page of the graph failed its check: the index serves no more,
	 * and searches that start from then on are exact until it is
	 * replaced (one already walking it finishes on the pages it has).
	 */
	bool broken;
	/*
	 * Searches' scratches, kept for the next: their visited tags are
	 * reset by bumping an epoch, so only a fresh scratch costs a pass
	 * over every node (vexfs_index_scratch_take()). One per search that
	 * may run at once in one call of many queries, and a few more.
	 */
	struct vexfs_index_scratch *spare[VEXFS_INDEX_SPARES];
};

struct vexfs_index_scratch {
	struct vexfs_hnsw_scratch s;
	u8 mem[] __aligned(8);
};

/* Does the index walk on SQ8 codes (and search re-rank what it finds)? */
static inline bool vexfs_index_walks_codes(const struct vexfs_index *idx)
{
	return idx->codes || idx->pages;
}

/* May slot's image in c->slots be looked at (see slots_lazy)? */
static inline bool vexfs_slot_ready(const struct vexfs_collection *c, u64 slot)
{
	return !smp_load_acquire(&c->slots_lazy) ||
	       test_bit_acquire(slot / c->unit_slots, c->units);
}

/* Is slot searched through the index, rather than exactly? */
static inline bool vexfs_slot_covered(const struct vexfs_collection *c,
				      u64 slot)
{
	const struct vexfs_index *idx = c->index;

	return idx && slot < idx->nbits && test_bit(slot, idx->in_graph);
}

/* Slot changed: the index no longer covers it. Under c->rwsem (write). */
static inline void vexfs_index_uncover(struct vexfs_collection *c, u64 slot)
{
	if (c->index && slot < c->index->nbits)
		__clear_bit(slot, c->index->in_graph);
}

struct vexfs_search_args {
	const u32 *query;
	u32 k;
	u32 ef;
	bool exact;			/* ignore the index */
	/* All must hold; none of them is VEXFS_PRED_NONE. */
	struct vexfs_predicate where[VEXFS_MAX_WHERE];
	u32 nwhere;
	const struct vexfs_filter_ops *filter;	/* BPF filter, or NULL */
	bool may_read_all;		/* CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH */
	const struct cred *cred;
	struct mnt_idmap *idmap;
	struct super_block *sb;
};

/* change_map.c */
void vexfs_cmap_cover(struct vexfs_cmap *m, u64 nslots);
void vexfs_cmap_note(struct vexfs_cmap *m, u64 slot, u32 seq);
void vexfs_cmap_build(struct vexfs_cmap *m, const struct vexfs_slot *slots,
		      u64 nslots);
bool vexfs_cmap_decode(struct vexfs_cmap *m, const struct vexfs_change_map *raw,
		       u64 nslots);
u32 vexfs_cmap_max(const struct vexfs_cmap *m);
bool vexfs_cmap_next_changed(const struct vexfs_cmap *m, u32 seq, u64 nslots,
			     u32 *e, u64 *first, u64 *n);
int vexfs_cmap_write(struct vexfs_collection *c);

/* collection.c */
struct vexfs_collection *vexfs_collection_get(struct inode *dir);
struct vexfs_collection *vexfs_collection_get_search(struct inode *dir);
int vexfs_slots_ensure(struct vexfs_collection *c, u64 first, u64 n);
void vexfs_slots_readahead(struct vexfs_collection *c, u64 slot);
struct vexfs_collection *vexfs_collection_get_table(struct inode *dir);
int vexfs_collection_create(struct inode *dir, u32 dim, u16 metric);
void vexfs_collection_free(struct inode *dir);
void vexfs_collection_destroy_table(struct inode *dir);
/* A new file's vector, for vexfs_vector_set_new(). */
struct vexfs_new_vector {
	const u32 *vec;
	u64 id;			/* 0: the inode number */
	const u64 *attrs;
};

size_t vexfs_vector_set_new_scratch(const struct vexfs_collection *c);
int vexfs_vector_set_new(struct vexfs_collection *c, handle_t *handle,
			 struct inode **inodes,
			 const struct vexfs_new_vector *nv, u32 n,
			 void *scratch, u32 *done);
int vexfs_vector_set(struct vexfs_collection *c, struct inode *inode,
		     const u32 *vec, u64 id, const u64 *attrs);
int vexfs_vector_replace(struct vexfs_collection *c, struct inode *inode,
			 const u32 *vec, const u64 *attrs, u32 *old_vec,
			 u64 *old_attrs);
int vexfs_vector_get(struct vexfs_collection *c, struct inode *inode,
		     u32 *vec, u64 *id, u64 *attrs);
int vexfs_vector_del(struct vexfs_collection *c, struct inode *inode);
struct vexfs_collection *vexfs_vector_owner(struct inode *inode,
					    struct inode **dirp, bool slots);
void vexfs_vector_forget(struct inode *dir, struct inode *inode);
void vexfs_vector_forget_last(struct inode *dir, struct inode *inode);
void vexfs_collection_drop_vectors(struct inode *dir);
struct inode *vexfs_collection_pin(struct inode *dir, struct inode *inode);
void vexfs_vector_perm_changed(struct inode *inode);
bool vexfs_vector_valid(const u32 *vec, u32 dim);

/* kept.c: a vector kept with its file, in memory in CPU byte order */
struct vexfs_kept {
	u32 dim;
	u16 metric;			/* or VEXFS_KEPT_ANY_METRIC */
	u64 id;
	u64 attrs[VEXFS_ATTR_WORDS];
	u32 vec[];
};

struct vexfs_kept *vexfs_kept_alloc(u32 dim);
struct vexfs_kept *vexfs_kept_get(struct inode *inode);
int vexfs_kept_put(struct inode *inode, const struct vexfs_kept *k);
int vexfs_kept_remove(struct inode *inode);
bool vexfs_has_vector(struct inode *inode);
int vexfs_vector_keep(struct vexfs_collection *c, struct inode *inode);
int vexfs_vector_take_back(struct vexfs_collection *c, struct inode *inode);

/* carry.c: what a rename did with the file's vector */
enum vexfs_carry_how {
	VEXFS_CARRY_NONE,
	VEXFS_CARRY_MOVED,		/* into the new collection */
	VEXFS_CARRY_KEPT,		/* out of its collection, kept */
	VEXFS_CARRY_TAKEN,		/* a kept one, into the new collection */
};

struct vexfs_carry {
	enum vexfs_carry_how how;
	struct inode *home;		/* MOVED, KEPT: where it lived, referenced */
};

int vexfs_carry(struct inode *old_dir, struct inode *new_dir,
		struct inode *inode, struct vexfs_carry *carry);
void vexfs_carry_done(struct inode *old_dir, struct inode *new_dir,
		      struct inode *inode, struct vexfs_carry *carry, int err);

/* index_walk.c */
int vexfs_index_prepare_walk(struct vexfs_collection *c,
			     struct vexfs_index *idx);

/* index_pages.c */
int vexfs_index_open_pages(struct vexfs_collection *c, struct vexfs_index *idx,
			   struct inode *inode, u64 len, bool prove,
			   const char **why);
int vexfs_index_page_in(struct vexfs_index *idx, u64 p);
void vexfs_index_put_pages(struct vexfs_index *idx);
int vexfs_index_shrinker_init(void);
void vexfs_index_shrinker_exit(void);

/* index.c */
int vexfs_index_load(struct vexfs_collection *c, u64 ino, bool paged_only);
int vexfs_index_publish(struct vexfs_collection *c, const void __user *src,
			size_t len, u32 seq);
int vexfs_index_drop(struct vexfs_collection *c);
int vexfs_index_forget_all(struct vexfs_collection *c);
void vexfs_index_release(struct vexfs_collection *c, bool destroy);
void vexfs_index_recheck(struct vexfs_collection *c);
u64 vexfs_index_covered(struct vexfs_collection *c);
u64 vexfs_index_memory(const struct vexfs_index *idx);
struct vexfs_index_scratch *vexfs_index_scratch_take(struct vexfs_index *idx,
						     u32 ef);
void vexfs_index_scratch_give(struct vexfs_index *idx,
			      struct vexfs_index_scratch *x);

/* collection.c: reading vectors from the table */
int vexfs_read_records(struct vexfs_collection *c, u64 first, u32 n,
		       void *buf);
int vexfs_read_vectors(struct vexfs_collection *c, u64 first, u64 n,
		       u32 *vecs);
int vexfs_read_vectors_of(struct vexfs_collection *c, const u32 *slots,
			  u32 n, u32 *order, u32 *vecs);

/* collection.c, for index.c */
int vexfs_table_read(struct inode *table, void *buf, size_t len, loff_t pos);
int vexfs_table_write(struct inode *table, const void *buf, size_t len,
		      loff_t pos);
int vexfs_table_write_new(struct inode *inode, const void *buf, size_t len,
			  loff_t pos);
int vexfs_write_header(struct vexfs_collection *c);
struct inode *vexfs_hidden_inode(struct inode *dir, u16 flag);

/* batch.c */
long vexfs_ioc_batch_insert(struct file *filp, unsigned int cmd,
			    unsigned long uarg);

/* search.c */
/*
 * Where one query's answers go: k results, and when not NULL, k blocks of
 * metadata words and k vectors of the collection's dimension.
 */
struct vexfs_search_out {
	struct vexfs_search_result *results;
	u64 *attrs;
	u32 *vectors;
};

int vexfs_search(struct vexfs_collection *c, struct vexfs_search_args *args,
		 struct vexfs_search_out *out, u32 *count, u64 *scanned);

#endif /* _VEXFS_COLLECTION_H */
