// SPDX-License-Identifier: GPL-2.0
/*
 * libvexfs: one function per VexFS ioctl. The argument structs are
 * zero-initialised before their fields are set, which is what keeps the
 * reserved fields zero as the ABI demands.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <endian.h>

#include "libvexfs.h"

/* Pointers travel as __u64 in the ABI, whatever the caller's word size. */
static __u64 uptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

static int call_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int libvexfs_version(int fd, struct libvexfs_version *info)
{
	struct vexfs_ioc_version v = { .size = sizeof(v) };
	int err = call_ioctl(fd, VEXFS_IOC_GET_VERSION, &v);

	if (err)
		return err;
	*info = (struct libvexfs_version) {
		.abi_version = v.abi_version,
		.capabilities = v.capabilities,
		.max_dim = v.max_dim,
		.max_k = v.max_k,
		.max_batch = v.max_batch,
		.attr_words = v.attr_words,
	};
	return 0;
}

int libvexfs_collection_create(int dirfd, uint32_t dim, unsigned int metric)
{
	struct vexfs_ioc_collection c = {
		.size = sizeof(c),
		.dim = dim,
		.metric = metric,
		.elem_type = VEXFS_ELEM_F32,
	};

	/* The ABI field is 16 bits; do not let a bad number wrap to a good one. */
	if (metric > 0xffff)
		return -EINVAL;
	return call_ioctl(dirfd, VEXFS_IOC_CREATE_COLLECTION, &c);
}

static int collection_info(int dirfd, struct libvexfs_collection_info *info,
			   uint32_t flags)
{
	struct vexfs_ioc_collection c = { .size = sizeof(c), .flags = flags };
	int err = call_ioctl(dirfd, VEXFS_IOC_GET_COLLECTION, &c);

	if (err)
		return err;
	*info = (struct libvexfs_collection_info) {
		.dim = c.dim,
		.metric = c.metric,
		.elem_type = c.elem_type,
		.count = c.count,
		.slots = c.slots,
		.bytes = c.bytes,
		.unindexed = c.unindexed,
		.indexed = c.indexed,
		.seq = c.seq,
		.index_time = c.index_time,
		.index_memory = c.index_memory,
		.walk_codes = c.flags & VEXFS_COLLECTION_WALK_CODES,
	};
	return 0;
}

int libvexfs_collection_info(int dirfd, struct libvexfs_collection_info *info)
{
	return collection_info(dirfd, info, 0);
}

int libvexfs_collection_shape(int dirfd, struct libvexfs_collection_info *info)
{
	return collection_info(dirfd, info, VEXFS_COLLECTION_SHAPE);
}

int libvexfs_vector_set(int fd, const float *vec, uint32_t dim, uint64_t id,
			const uint64_t *attrs)
{
	struct vexfs_ioc_vector v = {
		.size = sizeof(v),
		.dim = dim,
		.vector_ptr = uptr(vec),
		.id = id,
		.flags = attrs ? 0 : VEXFS_VEC_KEEP_ATTRS,
	};

	if (attrs)
		memcpy(v.attrs, attrs, sizeof(v.attrs));
	return call_ioctl(fd, VEXFS_IOC_SET_VECTOR, &v);
}

int libvexfs_vector_get(int fd, float *vec, uint32_t dim, uint64_t *id,
			uint64_t *attrs)
{
	struct vexfs_ioc_vector v = {
		.size = sizeof(v),
		.dim = dim,
		.vector_ptr = uptr(vec),
	};
	int err = call_ioctl(fd, VEXFS_IOC_GET_VECTOR, &v);

	if (err)
		return err;
	if (id)
		*id = v.id;
	if (attrs)
		memcpy(attrs, v.attrs, sizeof(v.attrs));
	return 0;
}

int libvexfs_vector_read_xattrs(const char *path, float **vec, uint32_t *dim,
				uint64_t *id, uint64_t *attrs)
{
	struct vexfs_xattr_meta meta;
	ssize_t len;
	uint32_t i;

	*vec = malloc(VEXFS_MAX_DIM * sizeof(float));
	if (!*vec)
		return -ENOMEM;
	len = getxattr(path, VEXFS_XATTR_VECTOR, *vec, VEXFS_MAX_DIM * sizeof(float));
	if (len >= 0 && getxattr(path, VEXFS_XATTR_META, &meta, sizeof(meta)) != sizeof(meta))
		len = -1;
	if (len <= 0 || len % sizeof(float)) {
		int err = len < 0 ? -errno : -EIO;

		free(*vec);
		*vec = NULL;
		return err;
	}
	*dim = (uint32_t)(len / sizeof(float));
	for (i = 0; i < *dim; i++) {
		uint32_t bits;

		memcpy(&bits, &(*vec)[i], sizeof(bits));
		bits = le32toh(bits);
		memcpy(&(*vec)[i], &bits, sizeof(bits));
	}
	*id = le64toh(meta.id);
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		attrs[i] = le64toh(meta.attrs[i]);
	return 0;
}

int libvexfs_vector_del(int fd)
{
	return ioctl(fd, VEXFS_IOC_DEL_VECTOR) < 0 ? -errno : 0;
}

static int batch_insert_call(int dirfd, const uint64_t *ids,
			     const float *vectors, const uint64_t *attrs,
			     uint32_t count, uint32_t dim, mode_t mode,
			     uint32_t flags, uint32_t *error_index)
{
	/*
	 * The kernel writes error_index only once it has looked at the
	 * entries; preset it to count so that an earlier refusal (wrong
	 * dimension, bad flags) does not seem to blame entry 0.
	 */
	struct vexfs_ioc_batch_insert b = {
		.size = sizeof(b),
		.dim = dim,
		.count = count,
		.mode = mode,
		.ids_ptr = uptr(ids),
		.vectors_ptr = uptr(vectors),
		.attrs_ptr = attrs ? uptr(attrs) : 0,
		.error_index = count,
		.flags = flags,
	};
	int err = call_ioctl(dirfd, VEXFS_IOC_BATCH_INSERT, &b);

	*error_index = err ? b.error_index : count;
	return err;
}

/*
 * Each call is one journal transaction, all or nothing across a crash. A
 * batch the journal cannot hold in one (E2BIG) is split in halves, each
 * again all or nothing; error_index stays an index into the whole batch.
 */
static int batch_split(int dirfd, const uint64_t *ids, const float *vectors,
		       const uint64_t *attrs, uint32_t count, uint32_t dim,
		       mode_t mode, uint32_t flags, uint32_t *error_index)
{
	uint32_t half = count / 2, bad;
	int err;

	err = batch_insert_call(dirfd, ids, vectors, attrs, count, dim, mode,
				flags, &bad);
	if (err == -E2BIG && half) {
		err = batch_split(dirfd, ids, vectors, attrs, half, dim, mode,
				  flags, &bad);
		if (!err) {
			err = batch_split(dirfd, ids + half,
					  vectors + (size_t)half * dim,
					  attrs ? attrs + (size_t)half * VEXFS_ATTR_WORDS : NULL,
					  count - half, dim, mode, flags, &bad);
			bad += half;
		}
	}
	if (error_index)
		*error_index = err ? bad : count;
	return err;
}

int libvexfs_batch_insert(int dirfd, const uint64_t *ids, const float *vectors,
			  const uint64_t *attrs, uint32_t count, uint32_t dim,
			  mode_t mode, uint32_t *error_index)
{
	return batch_split(dirfd, ids, vectors, attrs, count, dim, mode, 0,
			   error_index);
}

int libvexfs_batch_upsert(int dirfd, const uint64_t *ids, const float *vectors,
			  const uint64_t *attrs, uint32_t count, uint32_t dim,
			  mode_t mode, uint32_t *error_index)
{
	return batch_split(dirfd, ids, vectors, attrs, count, dim, mode,
			   VEXFS_BATCH_UPSERT, error_index);
}

int libvexfs_search(int dirfd, const float *query, uint32_t dim, uint32_t k,
		    const struct vexfs_predicate *where,
		    struct vexfs_search_result *results, uint32_t *count,
		    uint64_t *scanned)
{
	return libvexfs_search_opt(dirfd, query, dim, k, where, NULL, results,
				   count, scanned);
}

/* The parts of a search argument every form of search shares. */
static int search_arg(struct vexfs_ioc_search *s, uint32_t dim, uint32_t k,
		      const struct vexfs_predicate *where,
		      const struct libvexfs_search_opts *opts)
{
	*s = (struct vexfs_ioc_search) {
		.size = sizeof(*s),
		.dim = dim,
		.k = k,
		.ef = opts ? opts->ef : 0,
		/* What results carry is set with the buffers for it. */
		.flags = opts ? opts->flags & ~(VEXFS_SEARCH_ATTRS | VEXFS_SEARCH_VECTORS) : 0,
	};
	if (opts && opts->filter) {
		if (strlen(opts->filter) >= sizeof(s->filter))
			return -ENAMETOOLONG;
		strcpy(s->filter, opts->filter);
	}
	if (where) {
		s->where.op = where->op;
		s->where.word = where->word;
		s->where.value = where->value;
	}
	if (opts && opts->n_and_where) {
		if (opts->n_and_where >= VEXFS_MAX_WHERE || !where)
			return -EINVAL;
		memcpy(s->and_where, opts->and_where,
		       opts->n_and_where * sizeof(*opts->and_where));
	}
	return 0;
}

int libvexfs_search_opt(int dirfd, const float *query, uint32_t dim, uint32_t k,
			const struct vexfs_predicate *where,
			const struct libvexfs_search_opts *opts,
			struct vexfs_search_result *results, uint32_t *count,
			uint64_t *scanned)
{
	struct vexfs_ioc_search s;
	int err = search_arg(&s, dim, k, where, opts);

	if (err)
		return err;
	s.query_ptr = uptr(query);
	s.results_ptr = uptr(results);
	err = call_ioctl(dirfd, VEXFS_IOC_SEARCH, &s);
	if (err)
		return err;
	*count = s.count;
	if (scanned)
		*scanned = s.scanned;
	return 0;
}

/* One part of a search of many: its queries in calls the kernel allows. */
struct search_part {
	int dirfd;
	const float *queries;
	uint32_t nqueries, dim, k;
	const struct vexfs_predicate *where;
	const struct libvexfs_search_opts *opts;
	struct libvexfs_search_out out;		/* this part's place in the whole */
	int err;
};

static int search_part_run(struct search_part *p)
{
	struct libvexfs_search_out *o = &p->out;
	struct vexfs_ioc_search s;
	uint32_t q, n;
	int err;

	o->scanned = 0;
	for (q = 0; q < p->nqueries; q += n) {
		n = p->nqueries - q < VEXFS_MAX_QUERIES ? p->nqueries - q : VEXFS_MAX_QUERIES;
		err = search_arg(&s, p->dim, p->k, p->where, p->opts);
		if (err)
			return err;
		s.nqueries = n;
		s.query_ptr = uptr(p->queries + (size_t)q * p->dim);
		s.results_ptr = uptr(o->results + (size_t)q * p->k);
		s.counts_ptr = uptr(o->counts + q);
		if (o->attrs) {
			s.flags |= VEXFS_SEARCH_ATTRS;
			s.attrs_ptr = uptr(o->attrs + (size_t)q * p->k * VEXFS_ATTR_WORDS);
		}
		if (o->vectors) {
			s.flags |= VEXFS_SEARCH_VECTORS;
			s.vectors_ptr = uptr(o->vectors + (size_t)q * p->k * p->dim);
		}
		err = call_ioctl(p->dirfd, VEXFS_IOC_SEARCH, &s);
		if (err)
			return err;
		o->scanned += s.scanned;
	}
	return 0;
}

static void *search_part_thread(void *arg)
{
	struct search_part *p = arg;

	p->err = search_part_run(p);
	return NULL;
}

/* Part i of parts: a contiguous share of the queries and of the answers. */
static void search_part_of(struct search_part *p, const struct search_part *whole,
			   uint32_t i, uint32_t parts)
{
	uint32_t first = (uint32_t)((uint64_t)whole->nqueries * i / parts);
	uint32_t end = (uint32_t)((uint64_t)whole->nqueries * (i + 1) / parts);
	size_t at = (size_t)first * whole->k;

	*p = *whole;
	p->queries += (size_t)first * whole->dim;
	p->nqueries = end - first;
	p->out.results += at;
	p->out.counts += first;
	if (p->out.attrs)
		p->out.attrs += at * VEXFS_ATTR_WORDS;
	if (p->out.vectors)
		p->out.vectors += at * whole->dim;
}

int libvexfs_search_many(int dirfd, const float *queries, uint32_t nqueries,
			 uint32_t dim, uint32_t k,
			 const struct vexfs_predicate *where,
			 const struct libvexfs_search_opts *opts,
			 struct libvexfs_search_out *out)
{
	struct search_part whole = {
		.dirfd = dirfd, .queries = queries, .nqueries = nqueries,
		.dim = dim, .k = k, .where = where, .opts = opts, .out = *out,
	};
	uint32_t threads = opts && opts->threads ? opts->threads : 1, i, started;
	struct search_part parts[LIBVEXFS_MAX_THREADS];
	pthread_t tids[LIBVEXFS_MAX_THREADS];
	int err = 0;

	if (threads > LIBVEXFS_MAX_THREADS)
		threads = LIBVEXFS_MAX_THREADS;
	if (threads > nqueries)
		threads = nqueries ? nqueries : 1;
	if (threads == 1) {
		err = search_part_run(&whole);
		out->scanned = whole.out.scanned;
		return err;
	}
	for (i = 0; i < threads; i++)
		search_part_of(&parts[i], &whole, i, threads);
	/* Each thread's calls are its own, counted to the caller's process. */
	for (started = 0; started < threads; started++)
		if (pthread_create(&tids[started], NULL, search_part_thread,
				   &parts[started]))
			break;
	out->scanned = 0;
	for (i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		err = err ? err : parts[i].err;
		out->scanned += parts[i].out.scanned;
	}
	/* Parts no thread could take are answered here. */
	for (i = started; !err && i < threads; i++) {
		err = search_part_run(&parts[i]);
		out->scanned += parts[i].out.scanned;
	}
	return err;
}

static const char *const metric_names[] = {
	[VEXFS_METRIC_L2] = "l2",
	[VEXFS_METRIC_IP] = "ip",
	[VEXFS_METRIC_COSINE] = "cosine",
};

#define METRIC_SLOTS (sizeof(metric_names) / sizeof(metric_names[0]))

int libvexfs_read_vectors(int dirfd, uint32_t dim, uint64_t start,
			  uint32_t count, uint64_t *inos, float *vectors,
			  uint32_t *returned, uint64_t *seq)
{
	struct vexfs_ioc_read_vectors r = {
		.size = sizeof(r),
		.dim = dim,
		.start = start,
		.count = count,
		.inos_ptr = uptr(inos),
		.vectors_ptr = uptr(vectors),
	};
	int err = call_ioctl(dirfd, VEXFS_IOC_READ_VECTORS, &r);

	if (err)
		return err;
	*returned = r.returned;
	*seq = r.seq;
	return 0;
}

int libvexfs_index_publish(int dirfd, const void *graph, uint64_t len,
			   uint64_t seq)
{
	struct vexfs_ioc_publish_index pub = {
		.size = sizeof(pub),
		.graph_ptr = uptr(graph),
		.graph_len = len,
		.seq = seq,
	};

	return call_ioctl(dirfd, VEXFS_IOC_PUBLISH_INDEX, &pub);
}

int libvexfs_index_drop(int dirfd)
{
	return call_ioctl(dirfd, VEXFS_IOC_DROP_INDEX, NULL);
}

const char *libvexfs_metric_name(unsigned int metric)
{
	return metric < METRIC_SLOTS ? metric_names[metric] : NULL;
}

int libvexfs_metric_parse(const char *name)
{
	unsigned int m;

	for (m = 0; m < METRIC_SLOTS; m++)
		if (metric_names[m] && !strcasecmp(name, metric_names[m]))
			return m;
	return -EINVAL;
}
