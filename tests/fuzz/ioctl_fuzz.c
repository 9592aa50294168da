// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: random and boundary arguments for every VexFS ioctl.
 *
 *   ioctl_fuzz [-s SEED] [-n CALLS] [-t THREADS] [-c CHURNERS] [-l LINKERS]
 *              [-p PUBLISHERS] MOUNTPOINT
 *
 * Builds a small tree under MOUNTPOINT/fuzz (collections of several
 * dimensions with vectors and a published index, a plain directory, files
 * in and out of collections, files hard-linked into every collection),
 * then runs THREADS workers as root and two processes of THREADS / 2
 * workers as unprivileged users (uids 65534 and 1000; 1000 owns one
 * collection and some files), each issuing ioctls on file descriptors of
 * every kind (collection, plain directory, file with and without a
 * vector, read-only, write-only, a descriptor kept open while its file is
 * unlinked, a pipe), with argument structs that are valid, slightly wrong
 * (size, reserved fields, flags) or absurd (huge counts, dimensions, k,
 * ef), at pointers that are NULL, unmapped, kernel addresses, misaligned,
 * or straddling the end of a mapping. Meanwhile:
 *
 *   CHURNERS threads unlink, rename and rmdir the targets and make them
 *   again;
 *   LINKERS threads set and delete the vectors of the hard-linked files
 *   through their links in every collection at once (one link must win,
 *   the others get EBUSY), and one mover renames those links between
 *   collections, out to the plain directory and back, and remakes them;
 *   PUBLISHERS threads read a collection's vectors, build a valid graph
 *   with lib/'s builder and publish it, or drop an index, while all of
 *   the above changes the vectors; the unprivileged workers publish those
 *   graphs too.
 *
 * Every call must succeed or fail with an errno from the list the ioctls
 * may return; anything else is counted as a failure and printed. When
 * everything has stopped, the tree is walked and every collection's table
 * checked: its count is its live slots, every live slot belongs to a file
 * that still has a name, no file holds a slot in two collections, and
 * GET_VECTOR through each name of a file (the xattr outside collections)
 * agrees with the table. The kernel side is checked by whoever runs this:
 * no oops or warning in the log, and the filesystem mounts and checks
 * clean afterwards (tests/vm/test_ioctl_fuzz.sh).
 *
 * Reproducing: the seed is printed. Each worker draws from its own
 * generator seeded from it; with one worker and no churners (-t 1 -c 0)
 * the sequence of calls is the same on every run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <uapi/vexfs.h>
#include "hnsw.h"
#include "vexfs_sq8.h"

#define FUZZ_DIR	"fuzz"
#define NCOLL		4	/* collections c0..c3 */
#define FILES_PER_COLL	24	/* ids 1..24 in each, at setup */
#define NLINKED		8	/* files l0..l7, a name in every collection */
#define NOBODY		65534
#define OTHER		1000	/* owns collection c3 and some files */
#define OTHER_COLL	3

static const uint32_t coll_dim[NCOLL] = { 4, 8, 128, 1 };
static const uint16_t coll_metric[NCOLL] = {
	VEXFS_METRIC_L2, VEXFS_METRIC_IP, VEXFS_METRIC_COSINE, VEXFS_METRIC_L2
};

/* ==== a small fast generator per thread ==== */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	/* splitmix64: one multiply chain, good enough to pick cases. */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static bool chance(struct rng *r, uint32_t percent)
{
	return below(r, 100) < percent;
}

/* ==== shared state ==== */

static const char *mnt;
static char root[4096];
static uint64_t seed;
static uint64_t max_calls = 20000;

/*
 * The last valid graph a publisher built, for the unprivileged workers to
 * publish too (they cannot read vectors to build one). Written while they
 * may be copying it: a torn copy is one more damaged graph.
 */
#define FRESH_BYTES	(512u << 10)
struct fresh_graph {
	atomic_uint len;		/* 0: none yet */
	atomic_uint coll;
	atomic_uint_fast64_t seq;
	uint8_t bytes[FRESH_BYTES];
};

/* Outcomes of the well-formed calls on the hard-linked files. */
enum { LINK_SET, LINK_DEL, LINK_GET, LINK_OPS };

/* In MAP_SHARED memory, so the unprivileged processes count too. */
struct counters {
	atomic_uint_fast64_t calls;
	atomic_uint_fast64_t ok;
	atomic_uint_fast64_t failed;	/* errno outside the expected set */
	atomic_uint_fast64_t open_failed;
	atomic_uint_fast64_t churn_ops;
	atomic_uint_fast64_t moves;	/* renames, unlinks and links of l0..l7 */
	atomic_uint_fast64_t link_ok[LINK_OPS];
	atomic_uint_fast64_t link_busy;	/* SET refused: another link holds it */
	atomic_uint_fast64_t link_nodata;	/* DEL or GET where it is not */
	atomic_uint_fast64_t published;	/* valid graphs built and accepted */
	atomic_uint_fast64_t publish_tries;
	atomic_uint_fast64_t dropped;
	atomic_uint_fast64_t by_errno[135];
	atomic_bool stop;
	struct fresh_graph fresh;
};
static struct counters *cnt;

/*
 * Memory the arguments point into: a buffer of BUF_BYTES read-write
 * bytes followed by an inaccessible guard page, so a pointer near the end
 * makes a struct or an array that is only partly mapped.
 */
#define BUF_BYTES	(4u << 20)
struct arena {
	uint8_t *buf;		/* BUF_BYTES, then a PROT_NONE page */
	uint8_t *unmapped;	/* was mapped, is not any more */
};

static struct arena arena_new(void)
{
	struct arena a;
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, BUF_BYTES + page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	mprotect(p + BUF_BYTES, page, PROT_NONE);
	a.buf = p;
	a.unmapped = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(a.unmapped, page);
	return a;
}

/* ==== pointers, sizes and numbers worth trying ==== */

/*
 * A pointer for an object of len bytes: mostly a good one inside the
 * buffer (returned in *good so the caller can fill it), sometimes a bad one.
 */
static uint64_t pick_ptr(struct rng *r, struct arena *a, size_t len,
			 uint8_t **good)
{
	size_t off;

	*good = NULL;
	if (len > BUF_BYTES)
		len = BUF_BYTES;
	switch (below(r, 20)) {
	case 0:
		return 0;
	case 1:
		return (uint64_t)(uintptr_t)a->unmapped;
	case 2:
		return 0xffff888000000000ull + below(r, 1 << 20) * 8;	/* kernel */
	case 3:
		return 0x8000000000000000ull;			/* non-canonical */
	case 4:	/* ends inside the guard page */
		off = BUF_BYTES - (len > 1 ? 1 + below(r, (uint32_t)len - 1) : 0);
		*good = a->buf + off;
		return (uint64_t)(uintptr_t)*good;
	case 5:	/* misaligned */
		off = 1 + below(r, 7);
		*good = a->buf + off;
		return (uint64_t)(uintptr_t)*good;
	case 6:	/* read-only text of this program */
		return (uint64_t)(uintptr_t)&pick_ptr;
	default:
		off = (size_t)below(r, (uint32_t)(BUF_BYTES - len) / 64 + 1) * 64;
		*good = a->buf + off;
		return (uint64_t)(uintptr_t)*good;
	}
}

/* The dimension of the collection the current descriptor is in, if any. */
static __thread uint32_t target_dim = 4;
/* The collection the current descriptor is, or -1. */
static __thread int target_coll = -1;

static uint32_t pick_dim(struct rng *r)
{
	static const uint32_t odd[] = { 0, 1, 2, 3, 4095, 4096, 4097, 65536,
					0x7fffffff, 0x80000000, 0xffffffff };

	if (chance(r, 60))
		return target_dim;
	if (chance(r, 50))
		return coll_dim[below(r, NCOLL)];
	if (chance(r, 50))
		return odd[below(r, sizeof(odd) / sizeof(odd[0]))];
	return (uint32_t)rnd(r);
}

static uint32_t pick_count(struct rng *r, uint32_t usual_max, uint32_t limit)
{
	static const uint32_t odd[] = { 0, 1, 0xffff, 0x10000, 0x10001,
					0x7fffffff, 0xffffffff };

	if (chance(r, 70))
		return 1 + below(r, usual_max);
	if (chance(r, 50))
		return odd[below(r, sizeof(odd) / sizeof(odd[0]))];
	return chance(r, 50) ? limit + below(r, 3) - 1 : (uint32_t)rnd(r);
}

static uint32_t pick_size(struct rng *r, uint32_t right)
{
	switch (below(r, 40)) {
	case 0:
		return 0;
	case 1:
		return right - 8;
	case 2:
		return right + 8;
	case 3:
		return (uint32_t)rnd(r);
	default:
		return right;
	}
}

/* Floats: mostly ordinary, some NaN, infinity, denormal, huge. */
static void fill_floats(struct rng *r, float *v, size_t n)
{
	bool odd = chance(r, 10);
	size_t i;

	for (i = 0; i < n; i++) {
		v[i] = (float)(int32_t)below(r, 2000) / 100.0f - 10.0f;
		if (odd && chance(r, 20)) {
			static const float special[] = { NAN, INFINITY, -INFINITY,
							 1e-45f, 3.4e38f, -0.0f };
			v[i] = special[below(r, 6)];
		}
	}
}

/* Overwrite a few random bytes of a struct: reserved fields, flags... */
static void scribble(struct rng *r, void *p, size_t len)
{
	uint32_t n = below(r, 4);

	while (n--)
		((uint8_t *)p)[below(r, (uint32_t)len)] = (uint8_t)rnd(r);
}

/* ==== the argument of each ioctl ==== */

/*
 * Each builder fills a struct (valid most of the time, then perhaps
 * scribbled on), chooses where it lives, and returns the address passed
 * to ioctl().
 */
struct call {
	unsigned long cmd;
	uint64_t arg;
	const char *name;
};

/* A struct of type T at a pointer that may be bad; mostly good. */
static uint64_t struct_arg(struct rng *r, struct arena *a, void *s, size_t len)
{
	uint8_t *good;
	uint64_t p;
	size_t room;

	if (chance(r, 85)) {
		good = a->buf + below(r, 1024) * 64;
		memcpy(good, s, len);
		return (uint64_t)(uintptr_t)good;
	}
	p = pick_ptr(r, a, len, &good);
	if (good) {
		room = (size_t)(a->buf + BUF_BYTES - good);
		memcpy(good, s, len < room ? len : room);
	}
	return p;
}

/* Vectors land at the top of the buffer, away from the structs. */
static uint64_t floats_arg(struct rng *r, struct arena *a, uint64_t n)
{
	uint8_t *good;
	uint64_t bytes = n * 4;
	uint64_t p;
	size_t fill;

	if (chance(r, 85) && bytes <= BUF_BYTES / 2) {
		good = a->buf + BUF_BYTES / 2;
		fill_floats(r, (float *)good, (size_t)n);
		return (uint64_t)(uintptr_t)good;
	}
	p = pick_ptr(r, a, bytes > BUF_BYTES / 2 ? BUF_BYTES / 2 : (size_t)bytes, &good);
	if (good && good >= a->buf + BUF_BYTES / 2) {
		fill = (size_t)(a->buf + BUF_BYTES - good) / 4;
		fill_floats(r, (float *)good, fill < n ? fill : (size_t)n);
	}
	return p;
}

/* An output array of bytes: at the top half, or a bad pointer. */
static uint64_t out_arg(struct rng *r, struct arena *a, uint64_t bytes)
{
	uint8_t *good;

	if (chance(r, 85))
		return (uint64_t)(uintptr_t)(a->buf + BUF_BYTES / 2);
	return pick_ptr(r, a, bytes > BUF_BYTES / 2 ? BUF_BYTES / 2 : (size_t)bytes, &good);
}

static void build_version(struct rng *r, struct arena *a, struct call *c)
{
	struct vexfs_ioc_version v = { .size = pick_size(r, sizeof(v)) };

	if (chance(r, 10))
		scribble(r, &v, sizeof(v));
	c->cmd = VEXFS_IOC_GET_VERSION;
	c->name = "GET_VERSION";
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

static void build_collection(struct rng *r, struct arena *a, struct call *c,
			     bool create)
{
	struct vexfs_ioc_collection v = { .size = pick_size(r, sizeof(v)) };

	v.dim = pick_dim(r);
	v.metric = chance(r, 80) ? 1 + below(r, 3) : (uint16_t)rnd(r);
	v.elem_type = chance(r, 85) ? VEXFS_ELEM_F32 : (uint16_t)rnd(r);
	if (chance(r, 15))
		scribble(r, &v, sizeof(v));
	c->cmd = create ? VEXFS_IOC_CREATE_COLLECTION : VEXFS_IOC_GET_COLLECTION;
	c->name = create ? "CREATE_COLLECTION" : "GET_COLLECTION";
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

static void build_vector(struct rng *r, struct arena *a, struct call *c,
			 bool set)
{
	struct vexfs_ioc_vector v = { .size = pick_size(r, sizeof(v)) };
	unsigned int i;

	v.dim = pick_dim(r);
	v.vector_ptr = set ? floats_arg(r, a, v.dim) : out_arg(r, a, (uint64_t)v.dim * 4);
	v.id = chance(r, 50) ? 0 : rnd(r);
	for (i = 0; i < VEXFS_ATTR_WORDS; i++)
		v.attrs[i] = below(r, 8);
	if (chance(r, 5))
		scribble(r, &v, sizeof(v));
	c->cmd = set ? VEXFS_IOC_SET_VECTOR : VEXFS_IOC_GET_VECTOR;
	c->name = set ? "SET_VECTOR" : "GET_VECTOR";
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

/* Ids in 1000..1999 mostly, so batches collide with each other now and then. */
static uint64_t ids_arg(struct rng *r, struct arena *a, uint32_t count)
{
	uint64_t *ids = (uint64_t *)(a->buf + BUF_BYTES / 4);
	uint32_t room = BUF_BYTES / 4 / 8, i, n = count < room ? count : room;
	uint8_t *good;
	uint64_t base = 1000 + below(r, 1000);

	for (i = 0; i < n; i++)
		ids[i] = chance(r, 98) ? base + i : (chance(r, 50) ? 0 : rnd(r));
	if (chance(r, 85))
		return (uint64_t)(uintptr_t)ids;
	return pick_ptr(r, a, (size_t)count * 8, &good);
}

static void build_batch(struct rng *r, struct arena *a, struct call *c)
{
	struct vexfs_ioc_batch_insert v = { .size = pick_size(r, sizeof(v)) };
	uint64_t nfloats;

	v.dim = pick_dim(r);
	v.count = pick_count(r, 16, VEXFS_MAX_BATCH);
	v.mode = chance(r, 80) ? 0 : (uint32_t)rnd(r);
	nfloats = (uint64_t)v.count * v.dim;
	v.ids_ptr = ids_arg(r, a, v.count);
	v.vectors_ptr = floats_arg(r, a, nfloats);
	v.attrs_ptr = chance(r, 50) ? 0 : out_arg(r, a, (uint64_t)v.count * 32);
	if (chance(r, 10))
		scribble(r, &v, sizeof(v));
	c->cmd = VEXFS_IOC_BATCH_INSERT;
	c->name = "BATCH_INSERT";
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

static void random_predicate(struct rng *r, struct vexfs_predicate *p)
{
	p->op = chance(r, 85) ? below(r, 9) : (uint16_t)rnd(r);
	p->word = chance(r, 85) ? below(r, 4) : (uint16_t)rnd(r);
	p->value = below(r, 8);
}

static void build_search(struct rng *r, struct arena *a, struct call *c)
{
	static const char *filters[] = { "", "", "", "nosuch", "even_ids" };
	struct vexfs_ioc_search v = { .size = pick_size(r, sizeof(v)) };
	/* Callers built before and_where, or before nqueries, pass those versions. */
	uint32_t version = chance(r, 80) ? 2 : below(r, 2);
	uint64_t nq;
	int i;

	v.dim = pick_dim(r);
	v.k = pick_count(r, 20, VEXFS_MAX_K);
	v.ef = chance(r, 50) ? 0 : pick_count(r, 200, VEXFS_MAX_K);
	/* A few queries, or a count past the bound (a large valid one only costs time). */
	v.nqueries = chance(r, 60) ? 0 : chance(r, 90) ? 1 + below(r, 8) :
		     chance(r, 50) ? VEXFS_MAX_QUERIES + 1 : (uint32_t)rnd(r) | 0x80000000u;
	nq = v.nqueries ? v.nqueries : 1;
	v.query_ptr = floats_arg(r, a, nq * v.dim);
	v.results_ptr = out_arg(r, a, nq * v.k * sizeof(struct vexfs_search_result));
	v.flags = chance(r, 80) ? below(r, 8) : (uint32_t)rnd(r);
	v.counts_ptr = chance(r, 30) ? 0 : out_arg(r, a, nq * 4);
	if (v.flags & VEXFS_SEARCH_ATTRS)
		v.attrs_ptr = out_arg(r, a, nq * v.k * VEXFS_ATTR_WORDS * 8);
	if (v.flags & VEXFS_SEARCH_VECTORS)
		v.vectors_ptr = out_arg(r, a, nq * v.k * v.dim * 4);
	if (chance(r, 30))
		random_predicate(r, &v.where);
	for (i = 0; i < VEXFS_MAX_WHERE - 1 && chance(r, 20); i++)
		random_predicate(r, &v.and_where[i]);
	strcpy(v.filter, filters[below(r, 5)]);
	if (chance(r, 3))
		memset(v.filter, 'x', sizeof(v.filter));	/* no NUL */
	if (chance(r, 10))
		scribble(r, &v, sizeof(v));
	c->cmd = VEXFS_IOC_SEARCH;
	c->name = "SEARCH";
	if (version == 0) {
		v.size = VEXFS_SEARCH_SIZE_VER0;
		c->cmd = _IOWR(VEXFS_IOC_MAGIC, _IOC_NR(VEXFS_IOC_SEARCH),
			       char[VEXFS_SEARCH_SIZE_VER0]);
	} else if (version == 1) {
		v.size = VEXFS_SEARCH_SIZE_VER1;
		c->cmd = _IOWR(VEXFS_IOC_MAGIC, _IOC_NR(VEXFS_IOC_SEARCH),
			       char[VEXFS_SEARCH_SIZE_VER1]);
	}
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

static void build_read_vectors(struct rng *r, struct arena *a, struct call *c)
{
	struct vexfs_ioc_read_vectors v = { .size = pick_size(r, sizeof(v)) };

	v.dim = pick_dim(r);
	v.start = chance(r, 80) ? below(r, 64) : rnd(r);
	v.count = pick_count(r, 64, VEXFS_MAX_BATCH);
	v.inos_ptr = out_arg(r, a, (uint64_t)v.count * 8);
	v.vectors_ptr = out_arg(r, a, (uint64_t)v.count * v.dim * 4);
	if (chance(r, 10))
		scribble(r, &v, sizeof(v));
	c->cmd = VEXFS_IOC_READ_VECTORS;
	c->name = "READ_VECTORS";
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

/* A valid graph of collection c0, built at setup; mutated copies of it. */
static uint8_t *graph0;
static size_t graph0_len;
static uint64_t graph0_seq;

static void build_publish(struct rng *r, struct arena *a, struct call *c)
{
	struct vexfs_ioc_publish_index v = { .size = pick_size(r, sizeof(v)) };
	uint8_t *g = a->buf + BUF_BYTES / 2;
	uint32_t flips, i;
	uint8_t *good;

	v.graph_len = graph0_len;
	if (atomic_load(&cnt->fresh.len) &&
	    chance(r, (int)atomic_load(&cnt->fresh.coll) == target_coll ? 60 : 10)) {
		/* A valid graph, for this collection if the numbers match. */
		v.graph_len = atomic_load(&cnt->fresh.len);
		v.seq = atomic_load(&cnt->fresh.seq);
		memcpy(g, cnt->fresh.bytes, v.graph_len);
		v.graph_ptr = (uint64_t)(uintptr_t)g;
		c->cmd = VEXFS_IOC_PUBLISH_INDEX;
		c->name = "PUBLISH_INDEX";
		c->arg = struct_arg(r, a, &v, sizeof(v));
		return;
	}
	if (graph0_len && graph0_len <= BUF_BYTES / 2 && chance(r, 80)) {
		memcpy(g, graph0, graph0_len);
		flips = chance(r, 30) ? 0 : 1 + below(r, 4);
		for (i = 0; i < flips; i++) {
			/* Mostly the header, where the numbers are. */
			size_t off = chance(r, 60) ? below(r, 256) : below(r, (uint32_t)graph0_len);

			g[off] = chance(r, 50) ? (uint8_t)rnd(r) : g[off] ^ (1u << below(r, 8));
		}
		v.graph_ptr = (uint64_t)(uintptr_t)g;
		if (chance(r, 10))
			v.graph_len = chance(r, 50) ? below(r, (uint32_t)graph0_len) : graph0_len + 4096;
	} else {
		v.graph_len = chance(r, 50) ? below(r, 1 << 16) : rnd(r) >> below(r, 64);
		v.graph_ptr = pick_ptr(r, a, (size_t)(v.graph_len < BUF_BYTES ? v.graph_len : BUF_BYTES), &good);
		if (good)
			memset(good, (int)below(r, 256), (size_t)(a->buf + BUF_BYTES - good) < 4096 ?
			       (size_t)(a->buf + BUF_BYTES - good) : 4096);
	}
	v.seq = chance(r, 70) ? graph0_seq : rnd(r) >> below(r, 64);
	if (chance(r, 5))
		scribble(r, &v, sizeof(v));
	c->cmd = VEXFS_IOC_PUBLISH_INDEX;
	c->name = "PUBLISH_INDEX";
	c->arg = struct_arg(r, a, &v, sizeof(v));
}

/* Commands of the right magic but a wrong number, size or direction. */
static void build_unknown(struct rng *r, struct arena *a, struct call *c)
{
	uint8_t *good;

	switch (below(r, 4)) {
	case 0:
		c->cmd = _IOWR(VEXFS_IOC_MAGIC, 0x0b + below(r, 0xf4), uint64_t);
		break;
	case 1:
		c->cmd = _IOWR(VEXFS_IOC_MAGIC, 0x07, char[8]);	/* SEARCH, wrong size */
		break;
	case 2:
		c->cmd = _IOR(VEXFS_IOC_MAGIC, 0x03, struct vexfs_ioc_vector);
		break;
	default:
		c->cmd = (unsigned long)(uint32_t)rnd(r);
		break;
	}
	c->name = "unknown";
	c->arg = pick_ptr(r, a, 64, &good);
}

static void build_call(struct rng *r, struct arena *a, struct call *c)
{
	uint8_t *good;

	switch (below(r, 13)) {
	case 0:
		build_version(r, a, c);
		break;
	case 1:
		build_collection(r, a, c, true);
		break;
	case 2:
		build_collection(r, a, c, false);
		break;
	case 3:
	case 4:
		build_vector(r, a, c, true);
		break;
	case 5:
		build_vector(r, a, c, false);
		break;
	case 6:
		c->cmd = VEXFS_IOC_DEL_VECTOR;
		c->name = "DEL_VECTOR";
		c->arg = pick_ptr(r, a, 8, &good);
		break;
	case 7:
		build_batch(r, a, c);
		break;
	case 8:
	case 9:
		build_search(r, a, c);
		break;
	case 10:
		build_read_vectors(r, a, c);
		break;
	case 11:
		if (chance(r, 85)) {
			build_publish(r, a, c);
		} else {
			c->cmd = VEXFS_IOC_DROP_INDEX;
			c->name = "DROP_INDEX";
			c->arg = pick_ptr(r, a, 8, &good);
		}
		break;
	default:
		build_unknown(r, a, c);
		break;
	}
}

/* ==== the errnos a VexFS ioctl may return ==== */

static bool errno_expected(int e)
{
	switch (e) {
	case EPERM: case ENOENT: case EIO: case EBADF: case ENOMEM:
	case EACCES: case EFAULT: case EBUSY: case EEXIST: case EXDEV:
	case ENOTDIR: case EISDIR: case EINVAL: case ENOTTY: case EFBIG:
	case ENOSPC: case EROFS: case EMLINK: case ERANGE: case ENAMETOOLONG:
	case ENOTEMPTY: case ENODATA: case EOVERFLOW: case EOPNOTSUPP:
	case E2BIG: case EUCLEAN: case ESTALE: case EINTR: case EAGAIN:
	case EDQUOT:
		return true;
	default:
		return false;
	}
}

/* ==== targets ==== */

static void path_of(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", root, rel);
}

/* A path that exists most of the time (churn removes and remakes them). */
static void pick_target(struct rng *r, char *rel, size_t len, int *flags)
{
	static const int dir_flags[] = { O_RDONLY | O_DIRECTORY, O_RDONLY };
	static const int file_flags[] = { O_RDONLY, O_WRONLY, O_RDWR };
	uint32_t c = below(r, NCOLL);

	target_dim = coll_dim[c];
	target_coll = -1;
	switch (below(r, 9)) {
	case 0:
		snprintf(rel, len, "plain");
		*flags = dir_flags[below(r, 2)];
		break;
	case 1:
		snprintf(rel, len, "plain/file");
		*flags = file_flags[below(r, 3)];
		break;
	case 2:
		snprintf(rel, len, ".");
		*flags = O_RDONLY | O_DIRECTORY;
		break;
	case 3:
	case 4:
		snprintf(rel, len, "c%u", c);
		*flags = dir_flags[below(r, 2)];
		target_coll = (int)c;
		break;
	case 5:
		snprintf(rel, len, "c%u/sub", c);	/* a directory inside a collection */
		*flags = O_RDONLY | O_DIRECTORY;
		break;
	case 6:
		snprintf(rel, len, "c%u/l%u", c, below(r, NLINKED));	/* hard-linked */
		*flags = file_flags[below(r, 3)];
		break;
	default:
		snprintf(rel, len, "c%u/%u", c,
			 chance(r, 80) ? 1 + below(r, FILES_PER_COLL) : 1000 + below(r, 1000));
		*flags = file_flags[below(r, 3)];
		break;
	}
}

/* Descriptors opened once at setup and kept while churn unlinks their files. */
#define NKEPT 16
static int kept_fd[NKEPT];
static int nkept;

static int open_target(struct rng *r, bool *own)
{
	char rel[64], path[4200];
	int flags, fd;

	*own = true;
	if (nkept && chance(r, 15)) {
		*own = false;
		return kept_fd[below(r, nkept)];
	}
	pick_target(r, rel, sizeof(rel), &flags);
	path_of(path, sizeof(path), rel);
	fd = open(path, flags);
	if (fd < 0)
		atomic_fetch_add(&cnt->open_failed, 1);
	return fd;
}

/* ==== workers ==== */

struct worker {
	pthread_t thread;
	unsigned int id;
	struct rng rng;
};

static void record(const struct call *c, int ret, int err, int fd)
{
	if (ret >= 0) {
		atomic_fetch_add(&cnt->ok, 1);
		return;
	}
	if (err > 0 && err < 135)
		atomic_fetch_add(&cnt->by_errno[err], 1);
	if (!errno_expected(err)) {
		atomic_fetch_add(&cnt->failed, 1);
		fprintf(stderr, "ioctl_fuzz: %s (cmd %#lx, arg %#" PRIx64 ") on fd %d: unexpected errno %d (%s)\n",
			c->name, c->cmd, c->arg, fd, err, strerror(err));
	}
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct arena a = arena_new();
	struct call c;
	bool own;
	int fd, ret, n;

	while (!atomic_load(&cnt->stop)) {
		fd = open_target(&w->rng, &own);
		if (fd < 0)
			continue;
		for (n = 1 + below(&w->rng, 4); n > 0; n--) {
			if (atomic_fetch_add(&cnt->calls, 1) >= max_calls) {
				atomic_store(&cnt->stop, true);
				break;
			}
			build_call(&w->rng, &a, &c);
			ret = ioctl(fd, c.cmd, (unsigned long)c.arg);
			record(&c, ret, ret < 0 ? errno : 0, fd);
		}
		if (own)
			close(fd);
	}
	return NULL;
}

static void run_workers(unsigned int nthreads, uint64_t salt)
{
	struct worker *w = calloc(nthreads, sizeof(*w));
	unsigned int i;

	for (i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[i].rng.s = seed * 1000003u + salt * 1000 + i;
		pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(w[i].thread, NULL);
	free(w);
}

/* ==== churn: the targets come and go under the ioctls ==== */

static int vec_set(int fd, uint32_t dim, struct rng *r)
{
	float v[128];
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = dim,
				      .vector_ptr = (uint64_t)(uintptr_t)v };

	fill_floats(r, v, dim);
	for (uint32_t i = 0; i < dim; i++)
		if (!isfinite(v[i]))
			v[i] = 1.0f;
	return ioctl(fd, VEXFS_IOC_SET_VECTOR, &a);
}

static int make_collection(const char *path, uint32_t dim, uint16_t metric)
{
	struct vexfs_ioc_collection a = { .size = sizeof(a), .dim = dim,
					  .metric = metric, .elem_type = VEXFS_ELEM_F32 };
	int fd, ret;

	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, VEXFS_IOC_CREATE_COLLECTION, &a);
	close(fd);
	return ret;
}

/*
 * Who owns what: every collection may be written by anyone, and c3 and
 * its files belong to the second unprivileged user, so its publishes,
 * drops and sets get past the permission checks into the real work.
 * Files with an even id may be written by anyone.
 */
static void give_collection(uint32_t c, const char *path)
{
	if (chmod(path, 0777) || (c == OTHER_COLL && chown(path, OTHER, OTHER)))
		perror("ioctl_fuzz: chmod or chown a collection");
}

static void give_file(uint32_t c, uint32_t id, int fd)
{
	if (fchmod(fd, id % 2 ? 0644 : 0666) ||
	    (c == OTHER_COLL && fchown(fd, OTHER, OTHER)))
		perror("ioctl_fuzz: chmod or chown a file");
}

/* A file with a vector in collection c (which may be gone). */
static void make_file(struct rng *r, uint32_t c, uint32_t id)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/c%u/%u", root, c, id);
	fd = open(path, O_CREAT | O_RDWR, 0644);
	if (fd < 0)
		return;
	if (write(fd, path, strlen(path)) < 0)
		perror("write");
	give_file(c, id, fd);
	vec_set(fd, coll_dim[c], r);
	close(fd);
}

/* The name of hard-linked file j in collection c. */
static void link_path(char *out, size_t len, uint32_t c, uint32_t j)
{
	snprintf(out, len, "%s/c%u/l%u", root, c, j);
}

/* Empty collection c of its files and subdirectory, remove it, make it again. */
static void recycle_collection(struct rng *r, uint32_t c)
{
	char path[4200];
	uint32_t id;

	for (id = 1; id <= FILES_PER_COLL; id++) {
		snprintf(path, sizeof(path), "%s/c%u/%u", root, c, id);
		unlink(path);
	}
	for (id = 1000; id < 2000; id++) {
		snprintf(path, sizeof(path), "%s/c%u/%u", root, c, id);
		unlink(path);
	}
	for (id = 0; id < NLINKED; id++) {
		link_path(path, sizeof(path), c, id);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/c%u/sub", root, c);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/c%u", root, c);
	rmdir(path);
	if (!make_collection(path, coll_dim[c], coll_metric[c]))
		give_collection(c, path);
	snprintf(path, sizeof(path), "%s/c%u/sub", root, c);
	mkdir(path, 0755);
	for (id = 1; id <= FILES_PER_COLL; id++)
		if (chance(r, 50))
			make_file(r, c, id);
}

static void churn_once(struct rng *r)
{
	char a[4200], b[4200];
	uint32_t c = below(r, NCOLL), c2 = below(r, NCOLL);
	uint32_t id = 1 + below(r, FILES_PER_COLL);

	switch (below(r, 10)) {
	case 0:
	case 1:
		snprintf(a, sizeof(a), "%s/c%u/%u", root, c, id);
		unlink(a);
		break;
	case 2:
	case 3:
		make_file(r, c, id);
		break;
	case 4:	/* within a collection, and across two */
		snprintf(a, sizeof(a), "%s/c%u/%u", root, c, id);
		snprintf(b, sizeof(b), "%s/c%u/%u", root, c2, 1 + below(r, FILES_PER_COLL));
		rename(a, b);
		break;
	case 5:	/* out of the collection and back */
		snprintf(a, sizeof(a), "%s/c%u/%u", root, c, id);
		snprintf(b, sizeof(b), "%s/plain/moved%u", root, below(r, 8));
		if (!rename(a, b))
			rename(b, a);
		break;
	case 6:	/* a collection renamed away and back */
		snprintf(a, sizeof(a), "%s/c%u", root, c);
		snprintf(b, sizeof(b), "%s/plain/coll%u", root, c);
		if (!rename(a, b))
			rename(b, a);
		break;
	case 7:
		snprintf(a, sizeof(a), "%s/plain/file", root);
		unlink(a);
		close(open(a, O_CREAT | O_WRONLY, 0666));
		break;
	case 8:
		if (chance(r, 30))
			recycle_collection(r, c);
		break;
	default:
		snprintf(a, sizeof(a), "%s/c%u/sub", root, c);
		if (rmdir(a))
			mkdir(a, 0755);
		break;
	}
	atomic_fetch_add(&cnt->churn_ops, 1);
}

static void *churn_main(void *p)
{
	struct rng *r = p;

	while (!atomic_load(&cnt->stop))
		churn_once(r);
	return NULL;
}

/* ==== valid graphs ==== */

struct vecs {
	float *v;
	uint32_t dim;
};

static const float *vector_of(void *ctx, uint32_t slot)
{
	struct vecs *vs = ctx;

	return vs->v + (size_t)slot * vs->dim;
}

#define GRAPH_SLOTS	4096	/* slots read; a graph covers the live ones */

/*
 * The SQ8 coding of the live vectors and their codes by slot, for a graph
 * built on them: it carries them, and the kernel streams such a graph in
 * page by page rather than copying it whole (kmod/index.c).
 */
struct coded {
	float *lo, *hi;
	uint8_t *codes;
	struct vexfs_sq8 sq8;
};

static int code_live(struct coded *cd, const struct vecs *vs, uint32_t metric,
		     const uint32_t *live, uint32_t nlive)
{
	struct vexfs_sq8_trainer t;
	uint32_t i;

	cd->lo = calloc(vs->dim, sizeof(float));
	cd->hi = calloc(vs->dim, sizeof(float));
	cd->codes = calloc(GRAPH_SLOTS, vs->dim);
	if (!cd->lo || !cd->hi || !cd->codes)
		return -1;
	vexfs_sq8_train_begin(&t, vs->dim, metric, cd->lo, cd->hi);
	for (i = 0; i < nlive; i++)
		vexfs_sq8_train_add(&t, vs->v + (size_t)live[i] * vs->dim);
	vexfs_sq8_train_end(&t, &cd->sq8);
	for (i = 0; i < nlive; i++)
		vexfs_sq8_encode(&cd->sq8, vs->v + (size_t)live[i] * vs->dim,
				 cd->codes + (size_t)live[i] * vs->dim);
	return 0;
}

/*
 * Read collection c's vectors through its descriptor fd and build a graph
 * over its live slots, as an index builder does: *graph (page-aligned,
 * the caller frees it), its length and the change sequence of the read.
 * A collection without a live slot has no graph: -1 with errno ENODATA.
 * Every other graph (by gseed) is built on codes.
 */
static int build_graph(int fd, uint32_t c, uint64_t gseed, uint8_t **graph,
		       size_t *len, uint64_t *seq)
{
	struct vexfs_ioc_read_vectors rv = { .size = sizeof(rv), .dim = coll_dim[c],
					     .count = GRAPH_SLOTS };
	struct vexfs_hnsw_build_params bp;
	struct vexfs_hnsw_builder *b = NULL;
	struct vecs vs = { .dim = coll_dim[c] };
	struct coded cd = { 0 };
	uint64_t *inos = calloc(GRAPH_SLOTS, sizeof(*inos));
	uint32_t *live = calloc(GRAPH_SLOTS, sizeof(*live)), nlive = 0, i;
	int ret = -1;

	*graph = NULL;
	vs.v = calloc(GRAPH_SLOTS, sizeof(float) * coll_dim[c]);
	if (!inos || !live || !vs.v) {
		errno = ENOMEM;
		goto out;
	}
	rv.inos_ptr = (uint64_t)(uintptr_t)inos;
	rv.vectors_ptr = (uint64_t)(uintptr_t)vs.v;
	if (ioctl(fd, VEXFS_IOC_READ_VECTORS, &rv))
		goto out;
	for (i = 0; i < rv.returned; i++)
		if (inos[i])
			live[nlive++] = i;
	errno = ENODATA;
	if (!nlive)
		goto out;
	vexfs_hnsw_build_defaults(&bp);
	bp.dim = coll_dim[c];
	bp.metric = coll_metric[c];
	bp.m = 2 + (uint32_t)(gseed % 7);
	bp.ef_construction = 32;
	bp.seed = gseed;
	bp.vector_of = vector_of;
	bp.ctx = &vs;
	if (gseed & 1) {
		errno = ENOMEM;
		if (code_live(&cd, &vs, coll_metric[c], live, nlive))
			goto out;
		bp.sq8 = &cd.sq8;
		bp.codes = cd.codes;
	}
	if (vexfs_hnsw_build(&bp, live, nlive, &b)) {
		errno = EINVAL;
		goto out;
	}
	*len = vexfs_hnsw_serialized_size(b);
	*graph = aligned_alloc(4096, (*len + 4095) / 4096 * 4096);
	if (!*graph || vexfs_hnsw_serialize(b, *graph, *len)) {
		free(*graph);
		*graph = NULL;
		errno = ENOMEM;
		goto out;
	}
	*seq = rv.seq;
	ret = 0;
out:
	if (b)
		vexfs_hnsw_builder_free(b);
	free(cd.lo);
	free(cd.hi);
	free(cd.codes);
	free(vs.v);
	free(live);
	free(inos);
	return ret;
}

static int publish_graph(int fd, const uint8_t *graph, size_t len, uint64_t seq)
{
	struct vexfs_ioc_publish_index pub = { .size = sizeof(pub),
					       .graph_ptr = (uint64_t)(uintptr_t)graph,
					       .graph_len = len, .seq = seq };

	return ioctl(fd, VEXFS_IOC_PUBLISH_INDEX, &pub);
}

/* Counts one call of the run; false once the run has made all of them. */
static bool take_call(void)
{
	if (atomic_fetch_add(&cnt->calls, 1) >= max_calls) {
		atomic_store(&cnt->stop, true);
		return false;
	}
	return true;
}

/* ==== publishers: valid graphs while everything changes ==== */

static void publish_once(struct rng *r)
{
	static const struct call pub_call = { VEXFS_IOC_PUBLISH_INDEX, 0, "PUBLISH_INDEX (valid)" };
	static const struct call drop_call = { VEXFS_IOC_DROP_INDEX, 0, "DROP_INDEX" };
	char path[4200];
	uint32_t c = below(r, NCOLL);
	uint8_t *graph;
	uint64_t seq;
	size_t len;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/c%u", root, c);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	if (chance(r, 20)) {
		if (take_call()) {
			ret = ioctl(fd, VEXFS_IOC_DROP_INDEX);
			record(&drop_call, ret, ret < 0 ? errno : 0, fd);
			if (!ret)
				atomic_fetch_add(&cnt->dropped, 1);
		}
		close(fd);
		return;
	}
	if (!build_graph(fd, c, rnd(r), &graph, &len, &seq)) {
		if (take_call()) {
			ret = publish_graph(fd, graph, len, seq);
			record(&pub_call, ret, ret < 0 ? errno : 0, fd);
			atomic_fetch_add(&cnt->publish_tries, 1);
			if (!ret)
				atomic_fetch_add(&cnt->published, 1);
		}
		if (len <= FRESH_BYTES) {
			atomic_store(&cnt->fresh.len, 0);
			memcpy(cnt->fresh.bytes, graph, len);
			atomic_store(&cnt->fresh.coll, c);
			atomic_store(&cnt->fresh.seq, seq);
			atomic_store(&cnt->fresh.len, (unsigned int)len);
		}
		free(graph);
	}
	close(fd);
}

static void *publish_main(void *p)
{
	struct rng *r = p;

	while (!atomic_load(&cnt->stop)) {
		publish_once(r);
		usleep(1000);	/* let the vectors change between graphs */
	}
	return NULL;
}

/* ==== linkers: one file, a link in every collection, sets through each ==== */

static void link_call(struct rng *r, int fd, uint32_t c)
{
	static const struct call names[LINK_OPS] = {
		{ VEXFS_IOC_SET_VECTOR, 0, "SET_VECTOR (link)" },
		{ VEXFS_IOC_DEL_VECTOR, 0, "DEL_VECTOR (link)" },
		{ VEXFS_IOC_GET_VECTOR, 0, "GET_VECTOR (link)" },
	};
	float v[128];
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = coll_dim[c],
				      .vector_ptr = (uint64_t)(uintptr_t)v };
	uint32_t op = below(r, 10) < 6 ? LINK_SET : below(r, 2) ? LINK_DEL : LINK_GET;
	int ret;

	if (op == LINK_SET) {
		for (uint32_t i = 0; i < coll_dim[c]; i++)
			v[i] = (float)(int32_t)below(r, 2000) / 100.0f - 10.0f;
		a.id = 1 + below(r, 1 << 20);
		a.attrs[0] = below(r, 8);
		ret = ioctl(fd, VEXFS_IOC_SET_VECTOR, &a);
	} else if (op == LINK_DEL) {
		ret = ioctl(fd, VEXFS_IOC_DEL_VECTOR);
	} else {
		ret = ioctl(fd, VEXFS_IOC_GET_VECTOR, &a);
	}
	record(&names[op], ret, ret < 0 ? errno : 0, fd);
	if (!ret)
		atomic_fetch_add(&cnt->link_ok[op], 1);
	else if (errno == EBUSY)
		atomic_fetch_add(&cnt->link_busy, 1);
	else if (errno == ENODATA)
		atomic_fetch_add(&cnt->link_nodata, 1);
}

static void *link_main(void *p)
{
	struct rng *r = p;
	char path[4200];
	uint32_t c, n;
	int fd;

	while (!atomic_load(&cnt->stop)) {
		c = below(r, NCOLL);
		link_path(path, sizeof(path), c, below(r, NLINKED));
		fd = open(path, O_RDWR);
		if (fd < 0) {
			atomic_fetch_add(&cnt->open_failed, 1);
			continue;
		}
		for (n = 1 + below(r, 4); n > 0 && take_call(); n--)
			link_call(r, fd, c);
		close(fd);
	}
	return NULL;
}

/*
 * Give linked file j a name in every collection, linked from one that
 * exists; a new file when none does.
 */
static void relink(struct rng *r, uint32_t j)
{
	char from[4200] = "", path[4200];
	uint32_t c;
	int fd;

	for (c = 0; c < NCOLL && !*from; c++) {
		link_path(path, sizeof(path), c, j);
		if (!access(path, F_OK))
			memcpy(from, path, sizeof(from));
	}
	if (!*from) {
		c = below(r, NCOLL);
		link_path(from, sizeof(from), c, j);
		fd = open(from, O_CREAT | O_EXCL | O_RDWR, 0666);
		if (fd < 0)
			return;
		if (fchmod(fd, 0666) || (j % 2 && fchown(fd, OTHER, OTHER)))
			perror("ioctl_fuzz: chmod or chown a linked file");
		if (chance(r, 50))
			vec_set(fd, coll_dim[c], r);
		close(fd);
	}
	for (c = 0; c < NCOLL; c++) {
		link_path(path, sizeof(path), c, j);
		if (link(from, path) && errno != EEXIST && errno != ENOENT)
			perror("ioctl_fuzz: link a file into a collection");
	}
}

/* Renames of the links between collections and out and back, concurrent with the sets. */
static void move_once(struct rng *r)
{
	char from[4200], to[4200];
	uint32_t j = below(r, NLINKED), a = below(r, NCOLL), b = below(r, NCOLL);

	link_path(from, sizeof(from), a, j);
	switch (below(r, 8)) {
	case 0:
	case 1:	/* to another collection, over the link already there */
		link_path(to, sizeof(to), b, j);
		rename(from, to);
		break;
	case 2:	/* to another collection, if the name is free there */
		link_path(to, sizeof(to), b, j);
		renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
		break;
	case 3:
	case 4:	/* out to the plain directory and back */
		snprintf(to, sizeof(to), "%s/plain/l%u-%u", root, j, a);
		if (!rename(from, to) && rename(to, from))
			unlink(to);
		break;
	case 5:
		unlink(from);
		break;
	default:
		relink(r, j);
		break;
	}
	atomic_fetch_add(&cnt->moves, 1);
}

static void *move_main(void *p)
{
	struct rng *r = p;

	while (!atomic_load(&cnt->stop))
		move_once(r);
	return NULL;
}

/* ==== after the run: the tables against the tree ==== */

struct table {
	char path[4200];
	uint32_t dim;
	uint64_t slots;
	uint64_t *inos;		/* per slot, 0: free */
	float *vecs;
};

struct name {
	uint64_t ino;
	int table;		/* the collection it is in, or -1 */
	char path[4200];
};

struct walk {
	struct table *t;
	size_t nt;
	struct name *n;
	size_t nn, cap;
	uint64_t bad;
	/*
	 * Room for a vector of any collection: the workers may have made one
	 * of up to VEXFS_MAX_DIM in a directory the churners had just remade.
	 */
	float *got;		/* VEXFS_MAX_DIM floats */
};

#define BAD(w, ...) do {						\
	fprintf(stderr, "ioctl_fuzz: after the run: " __VA_ARGS__);	\
	fprintf(stderr, "\n");						\
	(w)->bad++;							\
} while (0)

/* A collection's whole table, as root reads it. */
static int read_table(struct walk *w, int fd, const char *path)
{
	struct vexfs_ioc_collection gc = { .size = sizeof(gc) };
	struct vexfs_ioc_read_vectors rv = { .size = sizeof(rv) };
	struct table *t;
	uint64_t live = 0, i;

	if (ioctl(fd, VEXFS_IOC_GET_COLLECTION, &gc))
		return -1;
	w->t = realloc(w->t, (w->nt + 1) * sizeof(*w->t));
	t = &w->t[w->nt++];
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->dim = gc.dim;
	t->slots = gc.slots;
	t->inos = calloc(gc.slots + 1, sizeof(*t->inos));
	t->vecs = calloc((gc.slots + 1) * gc.dim, sizeof(float));
	for (rv.start = 0; rv.start < gc.slots; rv.start += rv.returned) {
		rv.dim = gc.dim;
		rv.count = gc.slots - rv.start < VEXFS_MAX_BATCH ? (uint32_t)(gc.slots - rv.start)
								 : VEXFS_MAX_BATCH;
		rv.returned = 0;
		rv.inos_ptr = (uint64_t)(uintptr_t)(t->inos + rv.start);
		rv.vectors_ptr = (uint64_t)(uintptr_t)(t->vecs + rv.start * gc.dim);
		if (ioctl(fd, VEXFS_IOC_READ_VECTORS, &rv) || !rv.returned) {
			BAD(w, "%s: READ_VECTORS at slot %" PRIu64 ": %s", path, (uint64_t)rv.start,
			    strerror(errno));
			break;
		}
	}
	for (i = 0; i < gc.slots; i++)
		live += t->inos[i] != 0;
	if (live != gc.count)
		BAD(w, "%s: count %" PRIu64 ", %" PRIu64 " live slots", path, (uint64_t)gc.count, live);
	return (int)(w->nt - 1);
}

static void walk_dir(struct walk *w, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat st;
	char sub[4200];
	int table;

	if (!d) {
		BAD(w, "%s: %s", path, strerror(errno));
		return;
	}
	table = read_table(w, dirfd(d), path);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st)) {
			BAD(w, "%s: %s", sub, strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			walk_dir(w, sub);
		} else if (S_ISREG(st.st_mode)) {
			if (w->nn == w->cap) {
				w->cap = w->cap ? 2 * w->cap : 1024;
				w->n = realloc(w->n, w->cap * sizeof(*w->n));
			}
			w->n[w->nn].ino = st.st_ino;
			w->n[w->nn].table = table;
			memcpy(w->n[w->nn].path, sub, sizeof(sub));
			w->nn++;
		}
	}
	closedir(d);
}

/* The table holding ino's vector and its slot, or -1 (and two holders are a violation). */
static int owner_of(struct walk *w, uint64_t ino, uint64_t *slot)
{
	int found = -1;
	size_t t;
	uint64_t i;

	for (t = 0; t < w->nt; t++)
		for (i = 0; i < w->t[t].slots; i++) {
			if (w->t[t].inos[i] != ino)
				continue;
			if (found >= 0)
				BAD(w, "inode %" PRIu64 " holds slots in %s and %s", ino,
				    w->t[found].path, w->t[t].path);
			found = (int)t;
			*slot = i;
		}
	return found;
}

/* A vector kept with a file renamed out of its collection: finite floats. */
static bool kept_vector_sane(const float *v, ssize_t len)
{
	ssize_t i;

	if (len <= 0 || len % 4)
		return false;
	for (i = 0; i < len / 4; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/*
 * Every name agrees with the tables: GET_VECTOR through a name in the
 * collection holding the file's vector returns that vector, through any
 * other collection ENODATA; the xattr returns it through every name, or
 * for a file no collection holds a vector of, none or the one kept with
 * the file.
 */
static void check_name(struct walk *w, const struct name *n)
{
	float *got = w->got;
	struct vexfs_ioc_vector a = { .size = sizeof(a), .vector_ptr = (uint64_t)(uintptr_t)got };
	uint64_t slot = 0;
	int owner = owner_of(w, n->ino, &slot), fd, ret;
	const float *want = owner >= 0 ? w->t[owner].vecs + slot * w->t[owner].dim : NULL;
	ssize_t len;

	len = getxattr(n->path, VEXFS_XATTR_VECTOR, got, VEXFS_MAX_DIM * sizeof(float));
	if (owner < 0 && !(len < 0 && errno == ENODATA) && !kept_vector_sane(got, len))
		BAD(w, "%s: the xattr gives %zd (%s) without a vector", n->path, len,
		    len < 0 ? strerror(errno) : "bytes, not a vector");
	if (owner >= 0 && (len != (ssize_t)(w->t[owner].dim * 4) || memcmp(got, want, (size_t)len)))
		BAD(w, "%s: the xattr gives %zd (%s), not the vector of %s", n->path, len,
		    len < 0 ? strerror(errno) : "bytes", w->t[owner].path);
	if (n->table < 0)
		return;
	fd = open(n->path, O_RDONLY);
	if (fd < 0) {
		BAD(w, "%s: %s", n->path, strerror(errno));
		return;
	}
	a.dim = w->t[n->table].dim;
	ret = ioctl(fd, VEXFS_IOC_GET_VECTOR, &a);
	if (owner == n->table && (ret || memcmp(got, want, a.dim * 4)))
		BAD(w, "%s: GET_VECTOR %s, not the vector its collection holds", n->path,
		    ret ? strerror(errno) : "differs");
	if (owner != n->table && !(ret && errno == ENODATA))
		BAD(w, "%s: GET_VECTOR %s; its vector is %s%s", n->path,
		    ret ? strerror(errno) : "succeeds", owner >= 0 ? "in " : "nowhere",
		    owner >= 0 ? w->t[owner].path : "");
	close(fd);
}

static uint64_t check_after(void)
{
	struct walk w = { .got = malloc(VEXFS_MAX_DIM * sizeof(float)) };
	uint64_t vectors = 0, no_name_here = 0, i;
	uint32_t max_dim = 0;
	size_t t, k;
	bool named, here;

	if (!w.got)
		return 1;
	walk_dir(&w, root);
	for (k = 0; k < w.nn; k++)
		check_name(&w, &w.n[k]);
	for (t = 0; t < w.nt; t++)
		for (i = 0; i < w.t[t].slots; i++) {
			if (!w.t[t].inos[i])
				continue;
			vectors++;
			named = here = false;
			for (k = 0; k < w.nn; k++)
				if (w.n[k].ino == w.t[t].inos[i]) {
					named = true;
					here |= w.n[k].table == (int)t;
				}
			if (!named)
				BAD(&w, "%s: slot %" PRIu64 " holds inode %" PRIu64 ", which has no name",
				    w.t[t].path, i, w.t[t].inos[i]);
			else if (!here)
				no_name_here++;
		}
	for (t = 0; t < w.nt; t++)
		max_dim = w.t[t].dim > max_dim ? w.t[t].dim : max_dim;
	printf("ioctl_fuzz: after the run: %zu collections (of up to %u dimensions), %" PRIu64
	       " vectors (%" PRIu64 " of files whose names are all elsewhere), %zu names checked: %"
	       PRIu64 " violations\n", w.nt, max_dim, vectors, no_name_here, w.nn, w.bad);
	for (t = 0; t < w.nt; t++) {
		free(w.t[t].inos);
		free(w.t[t].vecs);
	}
	free(w.t);
	free(w.n);
	free(w.got);
	return w.bad;
}

/* ==== setup ==== */

/*
 * Read collection 0's vectors, build a graph over its live slots and
 * publish it: the starting point of the mutated graphs.
 */
static int build_graph0(void)
{
	char path[4200];
	int fd, ret = -1;

	snprintf(path, sizeof(path), "%s/c0", root);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || build_graph(fd, 0, seed, &graph0, &graph0_len, &graph0_seq)) {
		perror("ioctl_fuzz: a graph of c0");
		goto out;
	}
	if (publish_graph(fd, graph0, graph0_len, graph0_seq)) {
		perror("ioctl_fuzz: publish the graph of c0");
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static int setup(struct rng *r)
{
	char path[4200];
	uint32_t c, id;
	int pipefd[2];

	snprintf(root, sizeof(root), "%s/%s", mnt, FUZZ_DIR);
	if (mkdir(root, 0755) && errno != EEXIST)
		return -1;
	chmod(root, 0777);
	path_of(path, sizeof(path), "plain");
	mkdir(path, 0777);
	path_of(path, sizeof(path), "plain/file");
	close(open(path, O_CREAT | O_WRONLY, 0666));
	for (c = 0; c < NCOLL; c++) {
		snprintf(path, sizeof(path), "%s/c%u", root, c);
		if (make_collection(path, coll_dim[c], coll_metric[c])) {
			fprintf(stderr, "ioctl_fuzz: cannot make collection %s: %s\n", path, strerror(errno));
			return -1;
		}
		give_collection(c, path);
		snprintf(path, sizeof(path), "%s/c%u/sub", root, c);
		mkdir(path, 0755);
		for (id = 1; id <= FILES_PER_COLL; id++)
			make_file(r, c, id);
	}
	for (id = 0; id < NLINKED; id++)
		relink(r, id);
	if (build_graph0())
		return -1;
	/* Kept open while churn removes them: ioctls on unlinked inodes. */
	for (c = 0; c < NCOLL && nkept + 4 <= NKEPT - 2; c++) {
		snprintf(path, sizeof(path), "%s/c%u", root, c);
		kept_fd[nkept++] = open(path, O_RDONLY | O_DIRECTORY);
		snprintf(path, sizeof(path), "%s/c%u/1", root, c);
		kept_fd[nkept++] = open(path, O_RDWR);
		snprintf(path, sizeof(path), "%s/c%u/2", root, c);
		kept_fd[nkept++] = open(path, O_RDONLY);
		snprintf(path, sizeof(path), "%s/c%u/sub", root, c);
		kept_fd[nkept++] = open(path, O_RDONLY | O_DIRECTORY);
	}
	if (!pipe(pipefd)) {	/* not a VexFS file at all */
		kept_fd[nkept++] = pipefd[0];
		kept_fd[nkept++] = pipefd[1];
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ioctl_fuzz [-s SEED] [-n CALLS] [-t THREADS] [-c CHURNERS] "
			"[-l LINKERS] [-p PUBLISHERS] MOUNTPOINT\n");
	exit(16);
}

static void print_counts(double secs)
{
	unsigned int e;

	printf("ioctl_fuzz: seed %" PRIu64 ": %" PRIu64 " calls in %.1f s, %" PRIu64 " succeeded, "
	       "%" PRIu64 " unexpected errors, %" PRIu64 " opens failed, %" PRIu64 " churn operations\n",
	       seed, (uint64_t)atomic_load(&cnt->calls) < max_calls ? (uint64_t)atomic_load(&cnt->calls) : max_calls,
	       secs, (uint64_t)atomic_load(&cnt->ok), (uint64_t)atomic_load(&cnt->failed),
	       (uint64_t)atomic_load(&cnt->open_failed), (uint64_t)atomic_load(&cnt->churn_ops));
	printf("ioctl_fuzz: hard links: %" PRIu64 " sets, %" PRIu64 " deletes, %" PRIu64 " gets "
	       "succeeded, %" PRIu64 " sets refused with EBUSY, %" PRIu64 " ENODATA; %" PRIu64
	       " renames, unlinks and relinks; valid graphs: %" PRIu64 " of %" PRIu64 " published, %"
	       PRIu64 " indexes dropped\n",
	       (uint64_t)atomic_load(&cnt->link_ok[LINK_SET]), (uint64_t)atomic_load(&cnt->link_ok[LINK_DEL]),
	       (uint64_t)atomic_load(&cnt->link_ok[LINK_GET]), (uint64_t)atomic_load(&cnt->link_busy),
	       (uint64_t)atomic_load(&cnt->link_nodata), (uint64_t)atomic_load(&cnt->moves),
	       (uint64_t)atomic_load(&cnt->published), (uint64_t)atomic_load(&cnt->publish_tries),
	       (uint64_t)atomic_load(&cnt->dropped));
	printf("ioctl_fuzz: errors:");
	for (e = 1; e < 135; e++)
		if (atomic_load(&cnt->by_errno[e]))
			printf(" %s %" PRIu64, strerrorname_np(e) ? strerrorname_np(e) : "?",
			       (uint64_t)atomic_load(&cnt->by_errno[e]));
	printf("\n");
}

/* A process of unprivileged workers: same targets, no capabilities. */
static pid_t spawn_user(uid_t uid, unsigned int nthreads, uint64_t salt)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
		perror("ioctl_fuzz: drop privileges");
		_exit(2);
	}
	run_workers(nthreads, salt);
	_exit(0);
}

static void reap_user(pid_t pid, uid_t uid)
{
	int status;

	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status))
		return;
	fprintf(stderr, "ioctl_fuzz: the process of uid %u failed\n", (unsigned int)uid);
	atomic_fetch_add(&cnt->failed, 1);
}

/* Helper threads of one kind, each with its own generator. */
struct helpers {
	pthread_t *th;
	struct rng *rng;
	unsigned int n;
};

static void helpers_start(struct helpers *h, unsigned int n, uint64_t salt, void *(*fn)(void *))
{
	unsigned int i;

	h->n = n;
	h->th = calloc(n + 1, sizeof(*h->th));
	h->rng = calloc(n + 1, sizeof(*h->rng));
	for (i = 0; i < n; i++) {
		h->rng[i].s = seed * 7919u + salt * 100 + i;
		pthread_create(&h->th[i], NULL, fn, &h->rng[i]);
	}
}

static void helpers_join(struct helpers *h)
{
	unsigned int i;

	for (i = 0; i < h->n; i++)
		pthread_join(h->th[i], NULL);
	free(h->th);
	free(h->rng);
}

int main(int argc, char **argv)
{
	unsigned int threads = 4, churners = 2, linkers = 2, publishers = 1, i;
	struct helpers churn, link, move, pub;
	struct timespec t0, t1;
	struct rng setup_rng;
	pid_t nobody, other;
	int opt;

	seed = (uint64_t)time(NULL);
	while ((opt = getopt(argc, argv, "s:n:t:c:l:p:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			max_calls = strtoull(optarg, NULL, 0);
			break;
		case 't':
			threads = (unsigned int)atoi(optarg);
			break;
		case 'c':
			churners = (unsigned int)atoi(optarg);
			break;
		case 'l':
			linkers = (unsigned int)atoi(optarg);
			break;
		case 'p':
			publishers = (unsigned int)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || !threads)
		usage();
	mnt = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ioctl_fuzz: seed %" PRIu64 " (reproduce with -s %" PRIu64 "), %" PRIu64 " calls, "
	       "%u threads + %u as uid %u + %u as uid %u, %u churners, %u linkers and %u mover, "
	       "%u publishers\n",
	       seed, seed, max_calls, threads, (threads + 1) / 2, NOBODY, (threads + 1) / 2, OTHER,
	       churners, linkers, linkers ? 1 : 0, publishers);
	cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cnt == MAP_FAILED)
		return 2;
	memset(cnt, 0, sizeof(*cnt));
	setup_rng.s = seed;
	if (setup(&setup_rng)) {
		fprintf(stderr, "ioctl_fuzz: setup failed\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Before any thread: a fork copies only the calling one. */
	nobody = spawn_user(NOBODY, (threads + 1) / 2, 1);
	other = spawn_user(OTHER, (threads + 1) / 2, 2);
	helpers_start(&churn, churners, 0, churn_main);
	helpers_start(&link, linkers, 1, link_main);
	helpers_start(&move, linkers ? 1 : 0, 2, move_main);
	helpers_start(&pub, publishers, 3, publish_main);
	run_workers(threads, 0);
	atomic_store(&cnt->stop, true);
	helpers_join(&churn);
	helpers_join(&link);
	helpers_join(&move);
	helpers_join(&pub);
	reap_user(nobody, NOBODY);
	reap_user(other, OTHER);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_counts((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* Unlinked files kept open lose their slots only now. */
	for (i = 0; i < (unsigned int)nkept; i++)
		close(kept_fd[i]);
	if (check_after())
		atomic_fetch_add(&cnt->failed, 1);
	return atomic_load(&cnt->failed) ? 1 : 0;
}
