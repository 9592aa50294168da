// SPDX-License-Identifier: GPL-2.0
/*
 * The vector ioctls: argument checking and dispatch only. Every argument
 * struct is copied in whole, its size and reserved fields checked, and
 * user buffers copied before any lock is taken, so a bad pointer or a bad
 * value fails cleanly with nothing changed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "vexfs.h"
#include "collection.h"
#include "filter.h"

/*
 * The size of the caller's struct, as its first field and the command
 * number both state it. Every struct is still at its first version, so
 * the kernel's size is the smallest accepted; larger ones come from
 * newer headers (see the uapi header). A page bounds what is read.
 */
static int vexfs_arg_size(unsigned int cmd, size_t ver0, unsigned long uarg,
			  u32 *usize)
{
	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	if (*usize < ver0 || *usize != _IOC_SIZE(cmd) || *usize > PAGE_SIZE)
		return -EINVAL;
	return 0;
}

/*
 * The caller's struct of *usize bytes into arg (ksize bytes, as this
 * kernel knows it), for a struct whose first version had ver0 bytes.
 */
int vexfs_copy_arg_since(void *arg, size_t ksize, size_t ver0, u32 *usize,
			 unsigned int cmd, unsigned long uarg)
{
	int err = vexfs_arg_size(cmd, ver0, uarg, usize);

	if (err)
		return err;
	return copy_struct_from_user(arg, ksize, (void __user *)uarg, *usize);
}

/* A struct that has not grown since its first version. */
int vexfs_copy_arg(void *arg, size_t ksize, unsigned int cmd,
		   unsigned long uarg)
{
	u32 usize;

	return vexfs_copy_arg_since(arg, ksize, ksize, &usize, cmd, uarg);
}

/* Only the part of the struct both sides know goes back. */
int vexfs_copy_arg_out(unsigned long uarg, const void *arg, size_t size)
{
	return copy_to_user((void __user *)uarg, arg, size) ? -EFAULT : 0;
}

bool vexfs_zeroed(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static long vexfs_ioc_version(unsigned int cmd, unsigned long uarg)
{
	struct vexfs_ioc_version v;
	int err = vexfs_copy_arg(&v, sizeof(v), cmd, uarg);

	if (err)
		return err;
	if (!vexfs_zeroed(v.reserved, sizeof(v.reserved)))
		return -EINVAL;
	v.abi_version = VEXFS_ABI_VERSION;
	v.capabilities = VEXFS_CAP_COLLECTIONS | VEXFS_CAP_BATCH_INSERT |
			 VEXFS_CAP_EXACT_SEARCH | VEXFS_CAP_PREDICATE |
			 VEXFS_CAP_HNSW | VEXFS_CAP_WHERE_AND |
			 VEXFS_CAP_MULTI_QUERY;
	if (vexfs_filter_available())
		v.capabilities |= VEXFS_CAP_BPF_FILTER;
	v.max_dim = VEXFS_MAX_DIM;
	v.max_k = VEXFS_MAX_K;
	v.max_batch = VEXFS_MAX_BATCH;
	v.attr_words = VEXFS_ATTR_WORDS;
	return vexfs_copy_arg_out(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

static void vexfs_fill_collection(struct vexfs_collection *c,
				  struct vexfs_ioc_collection *out)
{
	down_read(&c->rwsem);
	out->dim = c->dim;
	out->metric = c->metric;
	out->elem_type = VEXFS_ELEM_F32;
	out->count = c->live;
	out->slots = c->nslots;
	out->bytes = VEXFS_VTABLE_DATA_START + c->nslots * c->rec_size;
	out->indexed = vexfs_index_covered(c);
	out->unindexed = c->live - out->indexed;
	out->index_time = c->index ? c->index->published : 0;
	out->index_memory = vexfs_index_memory(c->index);
	if (c->index && vexfs_index_walks_codes(c->index))
		out->flags |= VEXFS_COLLECTION_WALK_CODES;
	out->seq = c->seq;
	up_read(&c->rwsem);
}

static long vexfs_ioc_get_collection(struct file *filp, unsigned int cmd,
                                      unsigned long uarg)
{
	struct vexfs_ioc_collection arg;
	struct vexfs_collection *c;
	bool shape;
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	/* WALK_CODES, which an answer carries, may come back in: ignored. */
	if (arg.flags & ~(VEXFS_COLLECTION_SHAPE | VEXFS_COLLECTION_WALK_CODES))
		return -EINVAL;
	shape = arg.flags & VEXFS_COLLECTION_SHAPE;
	c = shape ? vexfs_collection_get_table(file_inode(filp)) :
		    vexfs_collection_get(file_inode(filp));
	if (IS_ERR(c))
		return PTR_ERR(c);
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	if (shape) {
		arg.dim = c->dim;
		arg.metric = c->metric;
		arg.elem_type = VEXFS_ELEM_F32;
		arg.flags = VEXFS_COLLECTION_SHAPE;
	} else {
		vexfs_fill_collection(c, &arg);
	}
	return vexfs_copy_arg_out(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long vexfs_ioc_create_collection(struct file *filp, unsigned int cmd,
                                         unsigned long uarg)
{
	struct inode *dir = file_inode(filp);
	struct vexfs_ioc_collection arg;
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	if (!S_ISDIR(dir->i_mode))
		return -ENOTDIR;
	if (!arg.dim || arg.dim > VEXFS_MAX_DIM ||
	    !vexfs_metric_valid(arg.metric) ||
	    arg.elem_type != VEXFS_ELEM_F32 || arg.flags || arg.count ||
	    arg.slots || arg.bytes || arg.unindexed || arg.seq || arg.indexed ||
	    arg.index_time || arg.index_memory)
		return -EINVAL;
	if (!inode_owner_or_capable(file_mnt_idmap(filp), dir))
		return -EPERM;
	err = mnt_want_write_file(filp);
	if (err)
		return err;
	inode_lock(dir);
	err = vexfs_collection_create(dir, arg.dim, arg.metric);
	inode_unlock(dir);
	mnt_drop_write_file(filp);
	return err;
}

/*
 * The collection of the directory holding filp's file; slots: loaded,
 * else maybe only its table open (enough to read the file's vector).
 */
static struct vexfs_collection *vexfs_file_collection(struct file *filp,
						      struct inode **dirp,
						      bool slots)
{
	struct dentry *parent = dget_parent(filp->f_path.dentry);
	struct inode *dir = d_inode(parent);
	struct vexfs_collection *c;

	if (!S_ISREG(file_inode(filp)->i_mode)) {
		dput(parent);
		return ERR_PTR(-EINVAL);
	}
	ihold(dir);
	dput(parent);
	c = slots ? vexfs_collection_get(dir) : vexfs_collection_get_table(dir);
	if (IS_ERR(c)) {
		iput(dir);
		return c;
	}
	*dirp = dir;
	return c;
}

/*
 * A file's vector is part of its content: reading it needs what read(2)
 * needs, changing it what write(2) needs. A descriptor opened for that
 * access already passed the check; any other is checked now.
 */
static int vexfs_may_access(struct file *filp, fmode_t fmode, int mask)
{
	if (filp->f_mode & fmode)
		return 0;
	return inode_permission(file_mnt_idmap(filp), file_inode(filp), mask);
}

static int vexfs_may_change(struct file *filp)
{
	return vexfs_may_access(filp, FMODE_WRITE, MAY_WRITE);
}

static int vexfs_may_read(struct file *filp)
{
	return vexfs_may_access(filp, FMODE_READ, MAY_READ);
}

/*
 * Search reveals names' targets (ids, inode numbers, distances): it needs
 * what listing the directory and opening its files would need.
 */
static int vexfs_may_search(struct file *filp)
{
	return inode_permission(file_mnt_idmap(filp), file_inode(filp),
				MAY_READ | MAY_EXEC);
}

/*
 * Publishing or dropping an index changes every user's search: only the
 * directory's owner, or a caller who may read every vector anyway (the
 * capability READ_VECTORS needs), may do it.
 */
static int vexfs_may_manage_index(struct file *filp)
{
	struct inode *dir = file_inode(filp);

	if (!capable(CAP_DAC_READ_SEARCH) &&
	    !inode_owner_or_capable(file_mnt_idmap(filp), dir))
		return -EPERM;
	return inode_permission(file_mnt_idmap(filp), dir, MAY_WRITE);
}

/*
 * Which collection holds a file's vector (i_parent, i_aux) changes only
 * under the file's i_rwsem, as unlink, link and rename hold it: lock it,
 * then make sure the name the descriptor was opened by is still in dir.
 */
static int vexfs_lock_in_dir(struct file *filp, struct inode *dir)
{
	struct dentry *dentry = filp->f_path.dentry;

	inode_lock(file_inode(filp));
	if (d_unhashed(dentry) || d_inode(dentry->d_parent) != dir) {
		inode_unlock(file_inode(filp));
		return -ENOENT;
	}
	return 0;
}

/* Copy a user vector of dim floats and check every value is finite. */
static u32 *vexfs_copy_vector(u64 uptr, u32 dim)
{
	u32 *vec = memdup_array_user(u64_to_user_ptr(uptr), dim, sizeof(u32));

	if (IS_ERR(vec))
		return vec;
	if (!vexfs_vector_valid(vec, dim)) {
		kfree(vec);
		return ERR_PTR(-EINVAL);
	}
	return vec;
}

static long vexfs_ioc_set_vector(struct file *filp, unsigned int cmd,
                                  unsigned long uarg)
{
	struct vexfs_ioc_vector arg;
	struct vexfs_collection *c;
	struct inode *dir;
	u32 *vec;
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	if (arg.reserved || (arg.flags & ~VEXFS_VEC_KEEP_ATTRS))
		return -EINVAL;
	err = vexfs_may_change(filp);
	if (err)
		return err;
	c = vexfs_file_collection(filp, &dir, true);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = -EINVAL;
	if (arg.dim != c->dim)
		goto out_dir;
	vec = vexfs_copy_vector(arg.vector_ptr, arg.dim);
	if (IS_ERR(vec)) {
		err = PTR_ERR(vec);
		goto out_dir;
	}
	err = mnt_want_write_file(filp);
	if (!err) {
		err = vexfs_lock_in_dir(filp, dir);
		if (!err) {
			err = vexfs_vector_set(c, file_inode(filp), vec, arg.id,
					       arg.flags & VEXFS_VEC_KEEP_ATTRS ?
					       NULL : arg.attrs);
			inode_unlock(file_inode(filp));
		}
		mnt_drop_write_file(filp);
	}
	kfree(vec);
out_dir:
	iput(dir);
	return err;
}

static long vexfs_ioc_get_vector(struct file *filp, unsigned int cmd,
                                  unsigned long uarg)
{
	struct vexfs_ioc_vector arg;
	struct vexfs_collection *c;
	struct inode *dir;
	u32 *vec;
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	if (arg.flags || arg.reserved)
		return -EINVAL;
	err = vexfs_may_read(filp);
	if (err)
		return err;
	c = vexfs_file_collection(filp, &dir, false);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = -EINVAL;
	if (arg.dim != c->dim)
		goto out_dir;
	err = -ENOMEM;
	vec = kmalloc_array(c->dim, sizeof(u32), GFP_KERNEL_ACCOUNT);
	if (!vec)
		goto out_dir;
	err = vexfs_vector_get(c, file_inode(filp), vec, &arg.id, arg.attrs);
	if (!err && (copy_to_user(u64_to_user_ptr(arg.vector_ptr), vec,
				  c->dim * sizeof(u32)) ||
		     vexfs_copy_arg_out(uarg, &arg, sizeof(arg))))
		err = -EFAULT;
	kfree(vec);
out_dir:
	iput(dir);
	return err;
}

static long vexfs_ioc_del_vector(struct file *filp)
{
	struct vexfs_collection *c;
	struct inode *dir;
	int err = vexfs_may_change(filp);

	if (err)
		return err;
	c = vexfs_file_collection(filp, &dir, true);
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = mnt_want_write_file(filp);
	if (!err) {
		err = vexfs_lock_in_dir(filp, dir);
		if (!err) {
			err = vexfs_vector_del(c, file_inode(filp));
			/* A kept one left by a failed unkeep must not come back. */
			if (!err)
				vexfs_kept_remove(file_inode(filp));
			inode_unlock(file_inode(filp));
		}
		mnt_drop_write_file(filp);
	}
	iput(dir);
	return err;
}

static bool vexfs_predicate_ok(const struct vexfs_predicate *p)
{
	if (p->reserved)
		return false;
	if (p->op == VEXFS_PRED_NONE)
		return !p->word && !p->value;
	return p->op <= VEXFS_PRED_ANY_BITS && p->word < VEXFS_ATTR_WORDS;
}

/* A caller of the first version passes the struct up to and_where. */
static_assert(offsetof(struct vexfs_ioc_search, and_where) == VEXFS_SEARCH_SIZE_VER0);
static_assert(offsetof(struct vexfs_ioc_search, nqueries) == VEXFS_SEARCH_SIZE_VER1);

/*
 * The search's predicates, every one valid; those that test something are
 * gathered into where[], *n of them, so the search loop tests only those.
 */
static bool vexfs_where_ok(const struct vexfs_ioc_search *arg,
			   struct vexfs_predicate *where, u32 *n)
{
	const struct vexfs_predicate *p;
	int i;

	*n = 0;
	for (i = 0; i < VEXFS_MAX_WHERE; i++) {
		p = i ? &arg->and_where[i - 1] : &arg->where;
		if (!vexfs_predicate_ok(p))
			return false;
		if (p->op != VEXFS_PRED_NONE)
			where[(*n)++] = *p;
	}
	return true;
}

/* NUL-terminated, and only NULs after it, so the bytes can grow a meaning. */
static bool vexfs_filter_name_ok(const char *name, size_t size)
{
	size_t len = strnlen(name, size);

	return len < size && vexfs_zeroed(name + len, size - len);
}

/* The argument as a whole: sizes, flags, predicates, filter name. */
static bool vexfs_search_arg_ok(const struct vexfs_ioc_search *arg,
				struct vexfs_predicate *where, u32 *nwhere)
{
	return arg->k && arg->k <= VEXFS_MAX_K && arg->ef <= VEXFS_MAX_K &&
	       arg->nqueries <= VEXFS_MAX_QUERIES &&
	       !(arg->flags & ~VEXFS_SEARCH_FLAGS) && !arg->count &&
	       !arg->reserved2 && vexfs_where_ok(arg, where, nwhere) &&
	       vexfs_filter_name_ok(arg->filter, sizeof(arg->filter)) &&
	       vexfs_zeroed(arg->reserved, sizeof(arg->reserved));
}

/* Buffers for one query's answers, reused by every query of the call. */
static int vexfs_search_out_alloc(struct vexfs_search_out *out, u32 flags,
				  u32 k, u32 dim)
{
	*out = (struct vexfs_search_out) {
		.results = kvcalloc(k, sizeof(*out->results),
				    VEXFS_GFP_USER_SIZED),
	};
	if (flags & VEXFS_SEARCH_ATTRS)
		out->attrs = kvcalloc(k, VEXFS_ATTR_WORDS * sizeof(u64),
				      VEXFS_GFP_USER_SIZED);
	if (flags & VEXFS_SEARCH_VECTORS)
		out->vectors = kvcalloc(k, dim * sizeof(u32),
					VEXFS_GFP_USER_SIZED);
	if (!out->results || (!out->attrs && (flags & VEXFS_SEARCH_ATTRS)) ||
	    (!out->vectors && (flags & VEXFS_SEARCH_VECTORS)))
		return -ENOMEM;
	return 0;
}

static void vexfs_search_out_free(struct vexfs_search_out *out)
{
	kvfree(out->results);
	kvfree(out->attrs);
	kvfree(out->vectors);
}

/* Block q of a user array whose blocks are k items of size bytes. */
static u64 vexfs_block_addr(u64 uptr, u32 q, u32 k, size_t size)
{
	return uptr + (u64)q * k * size;
}

static void __user *vexfs_block(u64 uptr, u32 q, u32 k, size_t size)
{
	return u64_to_user_ptr(vexfs_block_addr(uptr, q, k, size));
}

/* Query q's n answers to the caller's arrays. */
static int vexfs_search_copy_out(const struct vexfs_ioc_search *arg, u32 q,
				 const struct vexfs_search_out *out, u32 n)
{
	size_t vsize = arg->dim * sizeof(u32);
	size_t asize = VEXFS_ATTR_WORDS * sizeof(u64);

	if (copy_to_user(vexfs_block(arg->results_ptr, q, arg->k,
				     sizeof(*out->results)),
			 out->results, n * sizeof(*out->results)))
		return -EFAULT;
	if (out->attrs && copy_to_user(vexfs_block(arg->attrs_ptr, q, arg->k,
						   asize),
				       out->attrs, n * asize))
		return -EFAULT;
	if (out->vectors && copy_to_user(vexfs_block(arg->vectors_ptr, q,
						     arg->k, vsize),
					 out->vectors, n * vsize))
		return -EFAULT;
	if (arg->counts_ptr &&
	    put_user(n, (u32 __user *)vexfs_block(arg->counts_ptr, q, 1,
						  sizeof(u32))))
		return -EFAULT;
	return 0;
}

/* Each query in turn; count and scanned add up. */
static int vexfs_search_queries(struct vexfs_collection *c,
				struct vexfs_search_args *args,
				struct vexfs_ioc_search *arg)
{
	u32 nq = max(arg->nqueries, 1u), q, n = 0;
	struct vexfs_search_out out;
	u64 scanned = 0;
	u32 *query;
	int err;

	arg->count = 0;
	arg->scanned = 0;
	err = vexfs_search_out_alloc(&out, arg->flags, arg->k, arg->dim);
	for (q = 0; !err && q < nq; q++) {
		query = vexfs_copy_vector(vexfs_block_addr(arg->query_ptr, q, 1,
							   arg->dim * sizeof(u32)),
					  arg->dim);
		if (IS_ERR(query)) {
			err = PTR_ERR(query);
			break;
		}
		args->query = query;
		n = 0;
		scanned = 0;
		err = vexfs_search(c, args, &out, &n, &scanned);
		kfree(query);
		if (!err)
			err = vexfs_search_copy_out(arg, q, &out, n);
		arg->count += n;
		arg->scanned += scanned;
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
	}
	vexfs_search_out_free(&out);
	return err;
}

static long vexfs_ioc_search(struct file *filp, unsigned int cmd,
                              unsigned long uarg)
{
	struct vexfs_ioc_search arg;
	struct vexfs_search_args args;
	struct vexfs_predicate where[VEXFS_MAX_WHERE];
	struct vexfs_collection *c;
	int filter_cookie = 0;
	u32 usize, nwhere;
	int err = vexfs_copy_arg_since(&arg, sizeof(arg), VEXFS_SEARCH_SIZE_VER0,
				       &usize, cmd, uarg);

	if (err)
		return err;
	if (!vexfs_search_arg_ok(&arg, where, &nwhere))
		return -EINVAL;
	err = vexfs_may_search(filp);
	if (err)
		return err;
	c = vexfs_collection_get_search(file_inode(filp));
	if (IS_ERR(c))
		return PTR_ERR(c);
	if (arg.dim != c->dim)
		return -EINVAL;
	args = (struct vexfs_search_args) {
		.k = arg.k,
		.ef = max(arg.ef ? arg.ef : VEXFS_DEFAULT_EF, arg.k),
		.exact = arg.flags & VEXFS_SEARCH_EXACT,
		.cred = current_cred(),
		.may_read_all = ns_capable_noaudit(&init_user_ns, CAP_DAC_OVERRIDE) ||
				ns_capable_noaudit(&init_user_ns, CAP_DAC_READ_SEARCH),
		.idmap = file_mnt_idmap(filp),
		.sb = file_inode(filp)->i_sb,
	};
	memcpy(args.where, where, nwhere * sizeof(*where));
	args.nwhere = nwhere;
	/* The filter stays usable until vexfs_filter_put(), across sleeps. */
	if (arg.filter[0]) {
		err = vexfs_filter_get(arg.filter, &args.filter, &filter_cookie);
		if (err)
			return err;
	}
	err = vexfs_search_queries(c, &args, &arg);
	if (args.filter)
		vexfs_filter_put(filter_cookie);
	if (!err)
		err = vexfs_copy_arg_out(uarg, &arg, min_t(u32, usize, sizeof(arg)));
	return err;
}

/*
 * Copy slots [start, start + n) out, under the read lock. A free slot reads
 * as inode 0 and a zero vector: its record may hold a vector no one set
 * (a damaged table, or a slot whose set failed half-way).
 */
static int vexfs_read_slots(struct vexfs_collection *c,
			    struct vexfs_ioc_read_vectors *arg, u64 *inos,
			    u32 *vecs)
{
	size_t vbytes = c->dim * sizeof(u32);
	int err = 0;
	u64 i;

	down_read(&c->rwsem);
	arg->slots = c->nslots;
	arg->seq = c->seq;
	arg->returned = arg->start < c->nslots ?
			min_t(u64, arg->count, c->nslots - arg->start) : 0;
	if (arg->returned)
		err = vexfs_read_vectors(c, arg->start, arg->returned, vecs);
	for (i = 0; !err && i < arg->returned; i++) {
		inos[i] = c->slots[arg->start + i].ino;
		if (!inos[i])
			memset(vecs + i * c->dim, 0, vbytes);
	}
	up_read(&c->rwsem);
	return err;
}

static long vexfs_ioc_read_vectors(struct file *filp, unsigned int cmd,
                                    unsigned long uarg)
{
	struct vexfs_ioc_read_vectors arg;
	struct vexfs_collection *c;
	u64 *inos = NULL;
	u32 *vecs = NULL;
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	if (!arg.count || arg.count > VEXFS_MAX_BATCH || arg.returned ||
	    !vexfs_zeroed(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;
	/* Reading every vector is reading every file: only for such callers. */
	if (!capable(CAP_DAC_READ_SEARCH))
		return -EPERM;
	c = vexfs_collection_get(file_inode(filp));
	if (IS_ERR(c))
		return PTR_ERR(c);
	if (arg.dim != c->dim ||
	    (size_t)arg.count * arg.dim > (256u << 20) / sizeof(u32))
		return -EINVAL;
	inos = kvcalloc(arg.count, sizeof(*inos), VEXFS_GFP_USER_SIZED);
	vecs = kvmalloc_array((size_t)arg.count * arg.dim, sizeof(u32),
			      VEXFS_GFP_USER_SIZED);
	err = -ENOMEM;
	if (!inos || !vecs)
		goto out;
	err = vexfs_read_slots(c, &arg, inos, vecs);
	if (err)
		goto out;
	err = -EFAULT;
	if (copy_to_user(u64_to_user_ptr(arg.inos_ptr), inos,
			 arg.returned * sizeof(*inos)) ||
	    copy_to_user(u64_to_user_ptr(arg.vectors_ptr), vecs,
			 (size_t)arg.returned * arg.dim * sizeof(u32)) ||
	    vexfs_copy_arg_out(uarg, &arg, sizeof(arg)))
		goto out;
	err = 0;
out:
	kvfree(vecs);
	kvfree(inos);
	return err;
}

/* Largest graph accepted: generous for any collection this module holds. */
#define VEXFS_MAX_GRAPH_BYTES	(2ull << 30)

static long vexfs_ioc_publish_index(struct file *filp, unsigned int cmd,
                                     unsigned long uarg)
{
	struct vexfs_ioc_publish_index arg;
	struct vexfs_collection *c;
	int err = vexfs_copy_arg(&arg, sizeof(arg), cmd, uarg);

	if (err)
		return err;
	if (arg.flags || !arg.graph_len || arg.graph_len > VEXFS_MAX_GRAPH_BYTES ||
	    arg.seq > VEXFS_SEQ_MAX || !vexfs_zeroed(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;
	err = vexfs_may_manage_index(filp);
	if (err)
		return err;
	c = vexfs_collection_get(file_inode(filp));
	if (IS_ERR(c))
		return PTR_ERR(c);
	if (arg.graph_len > vexfs_hnsw_bytes_max(READ_ONCE(c->nslots), c->dim))
		return -EINVAL;
	err = mnt_want_write_file(filp);
	if (err)
		return err;
	err = vexfs_index_publish(c, u64_to_user_ptr(arg.graph_ptr),
				  arg.graph_len, arg.seq);
	mnt_drop_write_file(filp);
	return err;
}

static long vexfs_ioc_drop_index(struct file *filp)
{
	struct vexfs_collection *c;
	int err;

	err = vexfs_may_manage_index(filp);
	if (err)
		return err;
	c = vexfs_collection_get(file_inode(filp));
	if (IS_ERR(c))
		return PTR_ERR(c);
	err = mnt_want_write_file(filp);
	if (err)
		return err;
	err = vexfs_index_drop(c);
	mnt_drop_write_file(filp);
	return err;
}

/*
 * Commands are told apart by direction and number; the size part is the
 * caller's struct size, checked by vexfs_copy_arg() (see the uapi header).
 */
static unsigned int vexfs_ioc_key(unsigned int cmd)
{
	return _IOC_DIR(cmd) << _IOC_NRBITS | _IOC_NR(cmd);
}

#define VEXFS_IOC_CASE(ioc)	case (_IOC_DIR(ioc) << _IOC_NRBITS | _IOC_NR(ioc))

typedef long (*vexfs_ioc_fn)(struct file *filp, unsigned int cmd,
			     unsigned long uarg);

/*
 * A command that allocates blocks, run again when it found none free but
 * blocks freed by a transaction not yet committed are waiting for that
 * commit (vexfs_journal_retry_alloc()). Each such command is whole or
 * nothing, so running it again is what its caller would do.
 */
static long vexfs_ioc_allocating(vexfs_ioc_fn ioc, struct file *filp,
				 unsigned int cmd, unsigned long uarg)
{
	struct super_block *sb = file_inode(filp)->i_sb;
	int retries = 0;
	long err;

	do {
		err = ioc(filp, cmd, uarg);
	} while (err == -ENOSPC && vexfs_journal_retry_alloc(sb, &retries));
	return err;
}

long vexfs_ioctl(struct file *filp, unsigned int cmd, unsigned long uarg)
{
	if (_IOC_TYPE(cmd) != VEXFS_IOC_MAGIC)
		return -ENOTTY;
	switch (vexfs_ioc_key(cmd)) {
	VEXFS_IOC_CASE(VEXFS_IOC_GET_VERSION):
		return vexfs_ioc_version(cmd, uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_CREATE_COLLECTION):
		return vexfs_ioc_allocating(vexfs_ioc_create_collection, filp,
					    cmd, uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_GET_COLLECTION):
		return vexfs_ioc_get_collection(filp, cmd, uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_SET_VECTOR):
		return vexfs_ioc_allocating(vexfs_ioc_set_vector, filp, cmd,
					    uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_GET_VECTOR):
		return vexfs_ioc_get_vector(filp, cmd, uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_BATCH_INSERT):
		return vexfs_ioc_allocating(vexfs_ioc_batch_insert, filp, cmd,
					    uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_SEARCH):
		return vexfs_ioc_search(filp, cmd, uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_READ_VECTORS):
		return vexfs_ioc_read_vectors(filp, cmd, uarg);
	VEXFS_IOC_CASE(VEXFS_IOC_PUBLISH_INDEX):
		return vexfs_ioc_allocating(vexfs_ioc_publish_index, filp, cmd,
					    uarg);
	}
	/* The commands without an argument have no size to grow. */
	if (cmd == VEXFS_IOC_DEL_VECTOR)
		return vexfs_ioc_del_vector(filp);
	if (cmd == VEXFS_IOC_DROP_INDEX)
		return vexfs_ioc_drop_index(filp);
	return -ENOTTY;
}
