// SPDX-License-Identifier: GPL-2.0
/*
 * Batch insert: create many files of a collection, each with its vector
 * and metadata, in one call.
 *
 * All or nothing, across a power cut too. Every entry is checked before
 * the first file is made: ids non-zero and unique in the batch, every
 * value finite, no name already taken. The directory is locked, which
 * keeps the names free between the check and the create. Then every file
 * (inode, vector-table record, directory entry) is made in one journal
 * transaction, hidden until the last one is in; if one fails, the files
 * made so far are taken back in the same transaction. The checks of an
 * ordinary create run for each (write and search access to the directory,
 * the LSM hook) and fsnotify sees each create.
 *
 * An upsert (VEXFS_BATCH_UPSERT) lets a name exist when it is a regular
 * file the caller may write: its vector is replaced in the same
 * transaction, keeping its id, and put back if the batch fails.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fsnotify.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include "vexfs.h"
#include "collection.h"

/* What an upsert replaced, to be put back if the batch fails. */
struct vexfs_batch_prev {
	u64 attrs[VEXFS_ATTR_WORDS];
};

struct vexfs_batch {
	u32 count;
	u32 dim;
	bool upsert;			/* VEXFS_BATCH_UPSERT */
	u64 *ids;
	u32 *vectors;
	u64 *attrs;			/* count * VEXFS_ATTR_WORDS, or NULL */
	struct dentry **dentries;
	struct vexfs_batch_prev *prev;	/* upsert: per entry */
	u32 *prev_vectors;		/* upsert: count * dim */
	u32 bad;			/* first bad entry */
};

struct vexfs_id_pos {
	u64 id;
	u32 pos;
};

static int vexfs_id_pos_cmp(const void *a, const void *b)
{
	const struct vexfs_id_pos *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* First entry whose id was already used by an earlier entry, or count. */
static int vexfs_first_duplicate(struct vexfs_batch *b, u32 *first)
{
	struct vexfs_id_pos *v;
	u32 i;

	v = kvmalloc_array(b->count, sizeof(*v), VEXFS_GFP_USER_SIZED);
	if (!v)
		return -ENOMEM;
	for (i = 0; i < b->count; i++)
		v[i] = (struct vexfs_id_pos){ b->ids[i], i };
	sort(v, b->count, sizeof(*v), vexfs_id_pos_cmp, NULL);
	*first = b->count;
	for (i = 1; i < b->count; i++)
		if (v[i].id == v[i - 1].id && v[i].pos < *first)
			*first = v[i].pos;
	kvfree(v);
	return 0;
}

static int vexfs_batch_check(struct vexfs_batch *b)
{
	u32 dup, i;
	int err;

	err = vexfs_first_duplicate(b, &dup);
	if (err)
		return err;
	for (i = 0; i < b->count; i++) {
		if (!b->ids[i] || i == dup ||
		    !vexfs_vector_valid(b->vectors + (size_t)i * b->dim, b->dim)) {
			b->bad = i;
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * vmemdup_array_user() for arrays of up to VEXFS_MAX_BATCH_BYTES that the
 * caller sizes: an allocation that does not fit fails with -ENOMEM rather
 * than waking the OOM killer on behalf of an unprivileged caller.
 */
static void *vexfs_dup_user_array(u64 uptr, size_t n, size_t size)
{
	void *p = kvmalloc_array(n, size, VEXFS_GFP_USER_SIZED);

	if (!p)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(p, u64_to_user_ptr(uptr), n * size)) {
		kvfree(p);
		return ERR_PTR(-EFAULT);
	}
	return p;
}

static int vexfs_batch_copy(struct vexfs_batch *b,
			    const struct vexfs_ioc_batch_insert *arg)
{
	size_t nvals;

	if (check_mul_overflow((size_t)arg->count, (size_t)arg->dim, &nvals) ||
	    nvals > VEXFS_MAX_BATCH_BYTES / sizeof(u32))
		return -E2BIG;
	b->ids = vexfs_dup_user_array(arg->ids_ptr, arg->count, sizeof(u64));
	if (IS_ERR(b->ids))
		return PTR_ERR(b->ids);
	b->vectors = vexfs_dup_user_array(arg->vectors_ptr, nvals, sizeof(u32));
	if (IS_ERR(b->vectors))
		return PTR_ERR(b->vectors);
	/* Without: a new file's metadata is zero, an upsert keeps it. */
	if (arg->attrs_ptr) {
		b->attrs = vexfs_dup_user_array(arg->attrs_ptr,
						(size_t)arg->count * VEXFS_ATTR_WORDS,
						sizeof(u64));
		if (IS_ERR(b->attrs))
			return PTR_ERR(b->attrs);
	}
	b->dentries = kvcalloc(arg->count, sizeof(*b->dentries), VEXFS_GFP_USER_SIZED);
	if (!b->dentries)
		return -ENOMEM;
	if (!b->upsert)
		return 0;
	b->prev = kvcalloc(arg->count, sizeof(*b->prev), VEXFS_GFP_USER_SIZED);
	b->prev_vectors = kvmalloc_array(nvals, sizeof(u32), VEXFS_GFP_USER_SIZED);
	return b->prev && b->prev_vectors ? 0 : -ENOMEM;
}

static void vexfs_batch_release(struct vexfs_batch *b)
{
	u32 i;

	if (!IS_ERR_OR_NULL(b->dentries))
		for (i = 0; i < b->count; i++)
			if (!IS_ERR_OR_NULL(b->dentries[i]))
				dput(b->dentries[i]);
	kvfree(b->dentries);
	kvfree(b->prev);
	kvfree(b->prev_vectors);
	if (!IS_ERR(b->attrs))
		kvfree(b->attrs);
	if (!IS_ERR(b->vectors))
		kvfree(b->vectors);
	if (!IS_ERR(b->ids))
		kvfree(b->ids);
}

/* The metadata words of entry i, or NULL when the caller gave none. */
static const u64 *vexfs_batch_attrs(const struct vexfs_batch *b, u32 i)
{
	return b->attrs ? b->attrs + (size_t)i * VEXFS_ATTR_WORDS : NULL;
}

/* An upsert may replace the vector of a regular file the caller may write. */
static int vexfs_batch_may_replace(struct mnt_idmap *idmap, struct inode *inode)
{
	if (!S_ISREG(inode->i_mode))
		return -EEXIST;
	return inode_permission(idmap, inode, MAY_WRITE);
}

/*
 * The dentry of a name of the batch: the dcache's, or else a negative one
 * when the directory does not hold the name, hashed as ->lookup leaves it
 * (no lookup of the directory can run meanwhile: its lock is held
 * exclusively; and vexfs has no dentry operations that would hash or
 * revalidate names otherwise). Only a name the directory holds, which the
 * batch will refuse or replace, goes through lookup_one() for its inode.
 * New names are most of a batch, and a lookup each would cost them a
 * tenth of its time.
 */
static struct dentry *vexfs_batch_dentry(struct mnt_idmap *idmap,
					 struct dentry *parent,
					 const char *name, int len)
{
	struct qstr q = QSTR_INIT(name, len);
	struct dentry *d;
	u64 ino;
	int err;

	q.hash = full_name_hash(parent, name, len);
	d = d_lookup(parent, &q);
	if (d)
		return d;
	err = vexfs_find_entry(d_inode(parent), &q, &ino);
	if (err != -ENOENT)
		return err ? ERR_PTR(err) : lookup_one(idmap, name, parent, len);
	d = d_alloc(parent, &q);
	if (!d)
		return ERR_PTR(-ENOMEM);
	d_add(d, NULL);
	return d;
}

/* Find every name; any that exists fails the batch, unless upserting. */
static int vexfs_batch_lookup(struct vexfs_batch *b, struct mnt_idmap *idmap,
			      struct dentry *parent)
{
	char name[VEXFS_NAME_MAX_DIGITS + 1];
	u32 i;

	for (i = 0; i < b->count; i++) {
		int len = snprintf(name, sizeof(name), "%llu", b->ids[i]);
		struct dentry *d = vexfs_batch_dentry(idmap, parent, name, len);

		if (IS_ERR(d)) {
			b->bad = i;
			return PTR_ERR(d);
		}
		b->dentries[i] = d;
		if (d_really_is_positive(d)) {
			int err = b->upsert ?
				  vexfs_batch_may_replace(idmap, d_inode(d)) :
				  -EEXIST;

			if (err) {
				b->bad = i;
				return err;
			}
		}
	}
	return 0;
}

/* Take back a file vexfs_batch_file() made before it was named. */
static void vexfs_batch_drop_file(struct vexfs_collection *c,
				  struct inode *inode)
{
	vexfs_vector_del(c, inode);
	clear_nlink(inode);
	discard_new_inode(inode);
}

/* Take back file i of the batch, named but not yet visible. */
static void vexfs_batch_undo_file(struct vexfs_batch *b, u32 i,
				  struct vexfs_collection *c, struct inode *dir,
				  struct inode *inode)
{
	vexfs_delete_entry(dir, &b->dentries[i]->d_name);
	vexfs_batch_drop_file(c, inode);
}

/*
 * Credits one entry of a batch can use at worst: a new file's inode,
 * bitmap and table block and its directory entry with the directory's
 * growth, or an upsert's vector record with the table's growth. The
 * records of a chunk's new files reserve their own (vexfs_run_end()).
 * Few are used: the files share inode table and directory blocks.
 */
#define VEXFS_CREDITS_BATCH_FILE \
	(VEXFS_CREDITS_INODE + VEXFS_CREDITS_VECTOR + VEXFS_CREDITS_ALLOC)

/*
 * Blocks a batch may dirty: the bytes it adds to the inode table, the
 * vector table and the directory, twice over for the bitmaps and extent
 * blocks their growth touches and for records that straddle blocks, the
 * name index's blocks, and one file's worth of headers.
 */
static u64 vexfs_batch_credits(const struct vexfs_batch *b,
			       const struct vexfs_collection *c,
			       struct inode *dir)
{
	u64 per_file = VEXFS_INODE_SIZE + c->rec_size + VEXFS_DIRENT_HEADER +
		       VEXFS_NAME_MAX_DIGITS;

	return 2 * DIV_ROUND_UP(b->count * per_file, VEXFS_BLOCK_SIZE) +
	       vexfs_dir_insert_credits(dir, b->ids, b->count) +
	       VEXFS_CREDITS_BATCH_FILE;
}

/*
 * One file of the batch: a new inode named in dir, whose vector comes with
 * those of its chunk (vexfs_batch_vectors()). It stays I_NEW, and its
 * dentry negative, until the whole batch is in: no one else can reach it
 * before then, so the batch can take it back.
 */
static struct inode *vexfs_batch_file(struct vexfs_batch *b, u32 i,
				      struct vexfs_collection *c,
				      struct mnt_idmap *idmap, struct inode *dir,
				      umode_t mode)
{
	struct dentry *d = b->dentries[i];
	struct inode *inode;
	int err;

	err = security_inode_create(dir, d, mode);
	if (err)
		return ERR_PTR(err);
	/*
	 * Logged once, with its slot (vexfs_batch_vectors()); the
	 * directory's times are set once for the whole batch.
	 */
	inode = vexfs_new_inode_unlogged(idmap, dir, mode, 0);
	if (IS_ERR(inode))
		return inode;
	err = vexfs_dir_insert(dir, &d->d_name, inode);
	if (!err)
		return inode;
	vexfs_batch_drop_file(c, inode);
	return ERR_PTR(err);
}

/*
 * Upsert of an entry whose name exists: the vector its file holds here is
 * replaced in place, keeping its id and, without attrs, its metadata;
 * what it held is kept in b->prev for vexfs_batch_restore(). A file with
 * no vector in this collection is refused (EEXIST): giving it one would
 * need its i_rwsem, which cannot be taken inside the batch's handle.
 */
static int vexfs_batch_replace(struct vexfs_batch *b, u32 i,
			       struct vexfs_collection *c)
{
	struct vexfs_batch_prev *p = &b->prev[i];
	int err;

	err = vexfs_vector_replace(c, d_inode(b->dentries[i]),
				   b->vectors + (size_t)i * b->dim,
				   vexfs_batch_attrs(b, i),
				   b->prev_vectors + (size_t)i * b->dim, p->attrs);
	return err == -ENODATA ? -EEXIST : err;
}

/* Put back what vexfs_batch_replace() replaced, in the same transaction. */
static void vexfs_batch_restore(struct vexfs_batch *b, u32 i,
				struct vexfs_collection *c)
{
	vexfs_vector_replace(c, d_inode(b->dentries[i]),
			     b->prev_vectors + (size_t)i * b->dim,
			     b->prev[i].attrs, NULL, NULL);
}

/* One entry of the batch: a new file, or (upsert) a replaced vector. */
static struct inode *vexfs_batch_entry(struct vexfs_batch *b, u32 i,
				       struct vexfs_collection *c,
				       struct mnt_idmap *idmap, struct inode *dir,
				       umode_t mode)
{
	if (d_really_is_positive(b->dentries[i]))
		return ERR_PTR(vexfs_batch_replace(b, i, c));
	return vexfs_batch_file(b, i, c, idmap, dir, mode);
}

/* Take back entry i, made (NULL: replaced) by vexfs_batch_entry(). */
static void vexfs_batch_undo(struct vexfs_batch *b, u32 i,
			     struct vexfs_collection *c, struct inode *dir,
			     struct inode *made)
{
	if (made)
		vexfs_batch_undo_file(b, i, c, dir, made);
	else
		vexfs_batch_restore(b, i, c);
}

/* New files of a batch given their vectors together. */
#define VEXFS_BATCH_CHUNK	64

/* The new files of a chunk waiting for their vectors. */
struct vexfs_batch_chunk {
	struct inode *inode[VEXFS_BATCH_CHUNK];
	struct vexfs_new_vector nv[VEXFS_BATCH_CHUNK];
	u32 entry[VEXFS_BATCH_CHUNK];	/* the batch entry of each */
	u32 n;
	void *records;			/* vexfs_vector_set_new()'s scratch */
};

static void vexfs_chunk_free(struct vexfs_batch_chunk *ch)
{
	if (ch)
		kvfree(ch->records);
	kfree(ch);
}

static struct vexfs_batch_chunk *vexfs_chunk_alloc(struct vexfs_collection *c)
{
	struct vexfs_batch_chunk *ch = kmalloc(sizeof(*ch), GFP_KERNEL);

	if (!ch)
		return NULL;
	ch->n = 0;
	ch->records = kvmalloc(vexfs_vector_set_new_scratch(c), GFP_KERNEL);
	if (ch->records)
		return ch;
	kfree(ch);
	return NULL;
}

static void vexfs_chunk_add(struct vexfs_batch_chunk *ch, struct vexfs_batch *b,
			    u32 i, struct inode *inode)
{
	ch->inode[ch->n] = inode;
	ch->nv[ch->n] = (struct vexfs_new_vector){
		.vec = b->vectors + (size_t)i * b->dim,
		.id = b->ids[i],
		.attrs = vexfs_batch_attrs(b, i),
	};
	ch->entry[ch->n++] = i;
}

/*
 * Give the chunk's files their vectors, then log them: each file is
 * logged once, with its slot, and files of one inode table block
 * together. b->bad names the one that failed.
 */
static int vexfs_batch_vectors(struct vexfs_batch *b, struct vexfs_batch_chunk *ch,
			       struct vexfs_collection *c, handle_t *handle)
{
	u32 done = 0;
	int err;

	if (!ch->n)
		return 0;
	err = vexfs_vector_set_new(c, handle, ch->inode, ch->nv, ch->n,
				   ch->records, &done);
	if (done) {
		int logged = vexfs_log_new_inodes(c->dir->i_sb, handle, ch->inode,
						  done);

		err = err ?: logged;
	}
	if (err)
		b->bad = ch->entry[done < ch->n ? done : 0];
	ch->n = 0;
	return err;
}

/*
 * Create every file in one journal transaction, so a power cut keeps all
 * of them or none. The handle takes the batch's worst case up front, up
 * to half a transaction, and is topped up before a file finds less than
 * its worst case left; a batch the journal cannot hold in one transaction
 * is refused (or taken back) with -E2BIG, for the caller to split. New
 * files get their vectors a chunk at a time, so that records sharing a
 * table block are written together. The caller holds dir's i_rwsem,
 * taken before the handle, as every operation does.
 */
static int vexfs_batch_create(struct vexfs_batch *b, struct vexfs_collection *c,
			      struct mnt_idmap *idmap, struct inode *dir,
			      umode_t mode)
{
	struct vexfs_batch_chunk *chunk;
	struct inode **made;
	handle_t *handle;
	bool named = false;
	u32 i, n = 0;
	int err = 0, end;

	made = kvcalloc(b->count, sizeof(*made), VEXFS_GFP_USER_SIZED);
	chunk = vexfs_chunk_alloc(c);
	if (!made || !chunk) {
		kvfree(made);
		vexfs_chunk_free(chunk);
		return -ENOMEM;
	}
	handle = vexfs_journal_begin_whole(dir->i_sb, vexfs_batch_credits(b, c, dir),
					   (u64)b->count * VEXFS_CREDITS_BATCH_FILE,
					   VEXFS_REVOKES_DIROP);
	if (IS_ERR(handle)) {
		kvfree(made);
		vexfs_chunk_free(chunk);
		if (PTR_ERR(handle) == -E2BIG)
			b->bad = b->count;
		return PTR_ERR(handle);
	}
	for (i = 0; i < b->count && !err; i++) {
		err = vexfs_journal_reserve(handle, VEXFS_CREDITS_BATCH_FILE);
		if (!err) {
			made[i] = vexfs_batch_entry(b, i, c, idmap, dir,
						    S_IFREG | mode);
			err = PTR_ERR_OR_ZERO(made[i]);
		}
		if (err) {
			b->bad = i;
		} else {
			named |= made[i] != NULL;
			n++;
			if (made[i])
				vexfs_chunk_add(chunk, b, i, made[i]);
		}
		if (!err && (chunk->n == VEXFS_BATCH_CHUNK || i + 1 == b->count))
			err = vexfs_batch_vectors(b, chunk, c, handle);
		cond_resched();
	}
	vexfs_chunk_free(chunk);
	if (err) {
		/* A batch too large for a transaction is refused as a whole. */
		if (err == -E2BIG)
			b->bad = b->count;
		while (n--)
			vexfs_batch_undo(b, n, c, dir, made[n]);
	} else if (named) {
		vexfs_dir_touch(dir);
	}
	end = vexfs_journal_end(handle);
	/*
	 * Committed to: the new files become visible, each as a create. They
	 * do even when the journal aborted meanwhile (end): they are in the
	 * directory and must not stay locked as new, but the batch will never
	 * commit, and the caller hears so.
	 */
	for (i = 0; !err && i < b->count; i++) {
		if (!made[i])
			continue;
		d_instantiate_new(b->dentries[i], made[i]);
		fsnotify_create(dir, b->dentries[i]);
	}
	if (!err && end) {
		err = end;
		b->bad = b->count;
	}
	kvfree(made);
	return err;
}

/*
 * Under the directory's lock, what may_create() checks for a create: the
 * directory still there, and still writable and searchable by the caller
 * (the access may have changed while the batch waited for the lock); if
 * not, the batch is refused as a whole (error_index = count) before a
 * dentry is made in it. Then every name, and every file.
 */
static int vexfs_batch_locked(struct vexfs_batch *b, struct vexfs_collection *c,
			      struct mnt_idmap *idmap, struct dentry *parent,
			      umode_t mode)
{
	struct inode *dir = d_inode(parent);
	int err;

	if (IS_DEADDIR(dir))
		return -ENOENT;
	err = inode_permission(idmap, dir, MAY_WRITE | MAY_EXEC);
	if (!err)
		err = vexfs_batch_lookup(b, idmap, parent);
	if (!err)
		err = vexfs_batch_create(b, c, idmap, dir, mode);
	return err;
}

/* Checks that need no entry: refused as a whole, error_index = count. */
static int vexfs_batch_args_ok(const struct vexfs_ioc_batch_insert *arg,
			       const struct vexfs_collection *c)
{
	if (!arg->count || arg->count > VEXFS_MAX_BATCH ||
	    (arg->flags & ~VEXFS_BATCH_UPSERT) ||
	    (arg->mode & ~0777) || arg->dim != c->dim ||
	    !vexfs_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return 0;
}

static int vexfs_batch_run(struct file *filp, struct vexfs_ioc_batch_insert *arg,
			   struct vexfs_batch *b)
{
	struct inode *dir = file_inode(filp);
	struct mnt_idmap *idmap = file_mnt_idmap(filp);
	struct vexfs_collection *c;
	int err;

	c = vexfs_collection_get(dir);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = vexfs_batch_args_ok(arg, c);
	if (err)
		return err;
	/*
	 * Creating names needs write and search access to the directory:
	 * checked before anything sized by the caller is allocated, copied
	 * or sorted, and again under the lock (vexfs_batch_locked()).
	 */
	err = inode_permission(idmap, dir, MAY_WRITE | MAY_EXEC);
	if (err)
		return err;
	err = mnt_want_write_file(filp);
	if (err)
		return err;
	b->count = arg->count;
	b->dim = arg->dim;
	b->upsert = arg->flags & VEXFS_BATCH_UPSERT;
	err = vexfs_batch_copy(b, arg);
	if (!err)
		err = vexfs_batch_check(b);
	if (!err) {
		inode_lock_nested(dir, I_MUTEX_PARENT);
		err = vexfs_batch_locked(b, c, idmap, filp->f_path.dentry,
					 arg->mode ? arg->mode : 0644);
		inode_unlock(dir);
	}
	mnt_drop_write_file(filp);
	return err;
}

long vexfs_ioc_batch_insert(struct file *filp, unsigned int cmd,
			    unsigned long uarg)
{
	struct vexfs_ioc_batch_insert arg;
	struct vexfs_batch b = { 0 };
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	b.bad = arg.count;
	err = vexfs_batch_run(filp, &arg, &b);
	vexfs_batch_release(&b);
	arg.error_index = err ? b.bad : arg.count;
	if (put_user(arg.error_index,
		     (u32 __user *)(uarg + offsetof(typeof(arg), error_index))))
		return -EFAULT;
	return err;
}
