// SPDX-License-Identifier: GPL-2.0
/*
 * soak: many threads of mixed vector and file work on one VexFS mount for
 * a bounded time, each keeping a model of what it did, then a full check
 * of the filesystem against the models.
 *
 *   soak run    MNT [-s SECONDS] [-t THREADS] [-S SEED] [-m MODEL]
 *   soak verify MNT -m MODEL     (after a remount: the same check again)
 *
 * Each thread owns its own names (t<N>-<serial>) in two directories: a
 * collection (MNT/soak/coll, 16-d L2) and a plain directory
 * (MNT/soak/files). Its operations, drawn at random:
 *
 *   insert   create a file with content and set its vector, or a batch
 *            insert of 1..8 files named by their ids
 *   update   set a new vector and id on one of its files
 *   unvector VEXFS_IOC_DEL_VECTOR: the file stays, its vector goes
 *   delete   unlink a file
 *   rename   rename a file within the collection (its vector follows)
 *   search   exact search for one of its own vectors: the best result
 *            must be at distance 0; results sorted; k respected
 *   write    write, overwrite at an offset, extend or truncate a plain
 *            file, and sometimes read it straight back
 *   index    (thread 0 only) read every vector, build an HNSW graph and
 *            publish it, while the others keep changing the collection
 *
 * Nothing a thread owns is touched by another, so each model is exact.
 *
 * Beside them:
 *
 *   links    three link threads share NG files g<j>, each with a name in
 *            three more collections (MNT/soak/la, lb, lc), one per
 *            thread. Each sets, deletes and reads the vectors through its
 *            own link, all three on the same files at once: a set through
 *            one link while another link's collection holds the vector
 *            must fail with EBUSY. The thread that "moves" file j (j % 3)
 *            also renames its link into the main collection and back (a
 *            vector its collection holds follows, both collections being
 *            16-d L2), and out to the plain directory and back (leaving
 *            for the plain directory keeps the vector with the file, and
 *            coming back home gives it back unless another link's set
 *            replaced it meanwhile), while the others set theirs. A
 *            collection holds file
 *            j's vector only through the one link of j it contains, so
 *            each link thread knows exactly whether the collection of its
 *            link holds the vector and what it is, and says so on every
 *            read.
 *   indexer  reads a collection's vectors, builds and publishes a graph,
 *            or drops an index, over and over, on every collection.
 *   users    two processes, uids 1000 and 65534, with files of their own
 *            (private 0600 or shared 0644) in MNT/soak/ucoll (1777): they
 *            set, delete and search their vectors, must find their own,
 *            never the other's private files, must be refused the other's
 *            files for writing and its private ones for reading, and
 *            READ_VECTORS, PUBLISH_INDEX and DROP_INDEX on collections
 *            they do not own.
 *
 * At the end every file of every model is read back and compared (bytes,
 * vector bit for bit, id), every name in every directory must be in a
 * model, each collection's vector count must equal what the models hold
 * there, and no inode may hold a slot in two collections. The models are
 * saved so that "verify" repeats the check after a remount, from what
 * reached the disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
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
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <uapi/vexfs.h>
#include "hnsw.h"

#define DIM		16
#define MAX_FILES	96		/* per thread and directory */
#define MAX_CONTENT	(48 * 1024)

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

/* ==== the model ==== */

struct vfile {			/* a file in the collection */
	bool used;
	char name[32];
	bool has_vec;
	uint64_t id;
	float vec[DIM];
	uint32_t len;		/* its content: len bytes of pattern byte */
	uint8_t pattern;
};

struct pfile {			/* a plain file */
	bool used;
	char name[32];
	uint32_t len;
	uint8_t *data;
};

struct thread {
	pthread_t th;
	unsigned int id;
	struct rng rng;
	uint64_t serial;
	struct vfile v[MAX_FILES];
	struct pfile p[MAX_FILES];
	uint64_t ops[9];
	uint64_t failures;
};

static const char *op_names[9] = {
	"insert", "update", "unvector", "delete", "rename", "search", "write",
	"index", "batch"
};

static char coll[4200], files[4200], ucoll[4200];
static atomic_bool stop;
static atomic_uint_fast64_t total_failures;

#define FAIL(t, ...) do {						\
	fprintf(stderr, "soak: thread %u: ", (t)->id);			\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	(t)->failures++;						\
} while (0)

static void vpath(char *out, const char *name)
{
	snprintf(out, 4300, "%s/%s", coll, name);
}

static void ppath(char *out, const char *name)
{
	snprintf(out, 4300, "%s/%s", files, name);
}

static void random_vector(struct rng *r, float *v)
{
	unsigned int i;

	for (i = 0; i < DIM; i++)
		v[i] = (float)(int32_t)below(r, 2000001) / 1000.0f - 1000.0f;
}

static int set_vector(int fd, const float *v, uint64_t id)
{
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = DIM,
				      .vector_ptr = (uint64_t)(uintptr_t)v, .id = id };

	return ioctl(fd, VEXFS_IOC_SET_VECTOR, &a);
}

static struct vfile *free_vslot(struct thread *t)
{
	unsigned int i;

	for (i = 0; i < MAX_FILES; i++)
		if (!t->v[i].used)
			return &t->v[i];
	return NULL;
}

static struct vfile *some_vfile(struct thread *t)
{
	unsigned int start = below(&t->rng, MAX_FILES), i;

	for (i = 0; i < MAX_FILES; i++)
		if (t->v[(start + i) % MAX_FILES].used)
			return &t->v[(start + i) % MAX_FILES];
	return NULL;
}

/* ==== operations ==== */

static void op_insert(struct thread *t)
{
	struct vfile *f = free_vslot(t);
	char path[4300], buf[4096];
	int fd;

	if (!f)
		return;
	snprintf(f->name, sizeof(f->name), "t%u-%" PRIu64, t->id, t->serial++);
	vpath(path, f->name);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0) {
		FAIL(t, "create %s: %s", path, strerror(errno));
		return;
	}
	f->pattern = (uint8_t)below(&t->rng, 256);
	f->len = below(&t->rng, sizeof(buf));
	memset(buf, f->pattern, f->len);
	if (write(fd, buf, f->len) != (ssize_t)f->len)
		FAIL(t, "write %s: %s", path, strerror(errno));
	random_vector(&t->rng, f->vec);
	f->id = rnd(&t->rng) >> 1;
	f->has_vec = !set_vector(fd, f->vec, f->id);
	if (!f->has_vec)
		FAIL(t, "set vector on %s: %s", path, strerror(errno));
	close(fd);
	f->used = true;
}

/* Batch insert: files named by their ids, empty, each with a vector. */
static void op_batch(struct thread *t)
{
	uint32_t n = 1 + below(&t->rng, 8), i;
	struct vfile *slot[8];
	uint64_t ids[8];
	float vecs[8 * DIM];
	struct vexfs_ioc_batch_insert a = { .size = sizeof(a), .dim = DIM };
	int fd;

	for (i = 0; i < n; i++) {
		slot[i] = free_vslot(t);
		if (!slot[i]) {
			while (i--)
				slot[i]->used = false;
			return;
		}
		slot[i]->used = true;	/* reserved while the others are found */
	}
	for (i = 0; i < n; i++) {
		/* Ids are names: the thread's number keeps them its own. */
		ids[i] = (uint64_t)(t->id + 1) * 1000000000000ull + t->serial++;
		random_vector(&t->rng, vecs + i * DIM);
	}
	a.count = n;
	a.ids_ptr = (uint64_t)(uintptr_t)ids;
	a.vectors_ptr = (uint64_t)(uintptr_t)vecs;
	fd = open(coll, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, VEXFS_IOC_BATCH_INSERT, &a)) {
		FAIL(t, "batch insert of %u: %s", n, strerror(errno));
		for (i = 0; i < n; i++)
			slot[i]->used = false;
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	for (i = 0; i < n; i++) {
		struct vfile *f = slot[i];

		snprintf(f->name, sizeof(f->name), "%" PRIu64, ids[i]);
		f->has_vec = true;
		f->id = ids[i];
		memcpy(f->vec, vecs + i * DIM, sizeof(f->vec));
		f->len = 0;
		f->pattern = 0;
	}
}

static void op_update(struct thread *t)
{
	struct vfile *f = some_vfile(t);
	char path[4300];
	float v[DIM];
	uint64_t id;
	int fd;

	if (!f)
		return;
	vpath(path, f->name);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		FAIL(t, "open %s: %s", path, strerror(errno));
		return;
	}
	random_vector(&t->rng, v);
	id = rnd(&t->rng) >> 1;
	if (set_vector(fd, v, id)) {
		FAIL(t, "update vector of %s: %s", path, strerror(errno));
	} else {
		memcpy(f->vec, v, sizeof(v));
		f->id = id;
		f->has_vec = true;
	}
	close(fd);
}

static void op_unvector(struct thread *t)
{
	struct vfile *f = some_vfile(t);
	char path[4300];
	int fd, ret;

	if (!f)
		return;
	vpath(path, f->name);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		FAIL(t, "open %s: %s", path, strerror(errno));
		return;
	}
	ret = ioctl(fd, VEXFS_IOC_DEL_VECTOR);
	if (ret == 0 && !f->has_vec)
		FAIL(t, "DEL_VECTOR on %s, which has no vector, succeeded", path);
	if (ret && f->has_vec)
		FAIL(t, "DEL_VECTOR on %s: %s", path, strerror(errno));
	f->has_vec = false;
	close(fd);
}

static void op_delete(struct thread *t)
{
	struct vfile *f = some_vfile(t);
	struct pfile *p = &t->p[below(&t->rng, MAX_FILES)];
	char path[4300];

	if (f && below(&t->rng, 2)) {
		vpath(path, f->name);
		if (unlink(path))
			FAIL(t, "unlink %s: %s", path, strerror(errno));
		f->used = false;
	} else if (p->used) {
		ppath(path, p->name);
		if (unlink(path))
			FAIL(t, "unlink %s: %s", path, strerror(errno));
		p->used = false;
		free(p->data);
		p->data = NULL;
	}
}

static void op_rename(struct thread *t)
{
	struct vfile *f = some_vfile(t);
	char from[4300], to[4300], name[32];

	if (!f)
		return;
	snprintf(name, sizeof(name), "t%u-%" PRIu64, t->id, t->serial++);
	vpath(from, f->name);
	vpath(to, name);
	if (rename(from, to)) {
		FAIL(t, "rename %s: %s", from, strerror(errno));
		return;
	}
	memcpy(f->name, name, sizeof(name));
}

static void op_search(struct thread *t)
{
	struct vexfs_search_result res[10];
	struct vexfs_ioc_search a = { .size = sizeof(a), .dim = DIM, .k = 10 };
	struct vfile *f = some_vfile(t);
	unsigned int i;
	int fd;

	if (!f || !f->has_vec)
		return;
	a.query_ptr = (uint64_t)(uintptr_t)f->vec;
	a.results_ptr = (uint64_t)(uintptr_t)res;
	a.flags = below(&t->rng, 2) ? VEXFS_SEARCH_EXACT : 0;
	fd = open(coll, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, VEXFS_IOC_SEARCH, &a)) {
		FAIL(t, "search: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	if (a.count > 10 || (a.flags && !a.count)) {
		FAIL(t, "search returned %u results", a.count);
		return;
	}
	for (i = 1; i < a.count; i++)
		if (res[i].distance < res[i - 1].distance)
			FAIL(t, "search results out of order at %u", i);
	/*
	 * An exact search must find the vector itself. A search through the
	 * index is approximate, so only its order and count are checked.
	 */
	if (a.flags && res[0].distance != 0.0f)
		FAIL(t, "exact search for the vector of %s: best distance %g",
		     f->name, res[0].distance);
}

static void op_write(struct thread *t)
{
	struct pfile *p = &t->p[below(&t->rng, MAX_FILES)];
	char path[4300];
	uint32_t off, len, i;
	uint8_t *buf, *back;
	int fd;

	if (!p->used) {
		snprintf(p->name, sizeof(p->name), "t%u-%" PRIu64, t->id, t->serial++);
		p->data = calloc(1, MAX_CONTENT);
		p->len = 0;
		p->used = true;
	}
	ppath(path, p->name);
	fd = open(path, O_CREAT | O_RDWR, 0644);
	if (fd < 0) {
		FAIL(t, "open %s: %s", path, strerror(errno));
		return;
	}
	if (below(&t->rng, 5) == 0) {
		len = below(&t->rng, p->len + 1);
		if (ftruncate(fd, len))
			FAIL(t, "truncate %s: %s", path, strerror(errno));
		p->len = len;
		memset(p->data + len, 0, MAX_CONTENT - len);
	} else {
		off = below(&t->rng, MAX_CONTENT - 1);
		len = 1 + below(&t->rng, MAX_CONTENT - off);
		buf = p->data + off;
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd(&t->rng);
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			FAIL(t, "pwrite %s: %s", path, strerror(errno));
		if (off + len > p->len)
			p->len = off + len;
	}
	if (below(&t->rng, 4) == 0) {
		back = malloc(MAX_CONTENT);
		if (pread(fd, back, MAX_CONTENT, 0) != (ssize_t)p->len ||
		    memcmp(back, p->data, p->len))
			FAIL(t, "%s reads back different", path);
		free(back);
	}
	close(fd);
}

/* ==== thread 0: the index builder ==== */

struct vecs {
	float *v;
};

static const float *vector_of(void *ctx, uint32_t slot)
{
	return ((struct vecs *)ctx)->v + (size_t)slot * DIM;
}

/*
 * Read every vector of the collection dir, build a graph over the live
 * slots and publish it. 0, or an errno and what failed in *what.
 */
static int index_dir(const char *dir, uint64_t gseed, const char **what)
{
	struct vexfs_ioc_read_vectors rv = { .size = sizeof(rv), .dim = DIM, .count = 8192 };
	struct vexfs_ioc_publish_index pub = { .size = sizeof(pub) };
	struct vexfs_hnsw_build_params bp;
	struct vexfs_hnsw_builder *b = NULL;
	struct vecs vs;
	uint64_t *inos = calloc(8192, sizeof(*inos));
	uint32_t *live = calloc(8192, sizeof(*live)), nlive = 0, i;
	void *graph = NULL;
	size_t len;
	int fd = open(dir, O_RDONLY | O_DIRECTORY), err = 0;

	vs.v = calloc(8192, sizeof(float) * DIM);
	rv.inos_ptr = (uint64_t)(uintptr_t)inos;
	rv.vectors_ptr = (uint64_t)(uintptr_t)vs.v;
	*what = "read vectors";
	if (fd < 0 || ioctl(fd, VEXFS_IOC_READ_VECTORS, &rv)) {
		err = errno;
		goto out;
	}
	for (i = 0; i < rv.returned; i++)
		if (inos[i])
			live[nlive++] = i;
	vexfs_hnsw_build_defaults(&bp);
	bp.dim = DIM;
	bp.metric = VEXFS_METRIC_L2;
	bp.m = 8;
	bp.ef_construction = 64;
	bp.seed = gseed;
	bp.vector_of = vector_of;
	bp.ctx = &vs;
	*what = "build a graph";
	if (!nlive || vexfs_hnsw_build(&bp, live, nlive, &b)) {
		err = nlive ? EINVAL : 0;	/* nothing to index is no failure */
		goto out;
	}
	len = vexfs_hnsw_serialized_size(b);
	graph = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	if (!graph || vexfs_hnsw_serialize(b, graph, len)) {
		err = ENOMEM;
		goto out;
	}
	pub.graph_ptr = (uint64_t)(uintptr_t)graph;
	pub.graph_len = len;
	pub.seq = rv.seq;
	*what = "publish";
	if (ioctl(fd, VEXFS_IOC_PUBLISH_INDEX, &pub))
		err = errno;
out:
	if (b)
		vexfs_hnsw_builder_free(b);
	if (fd >= 0)
		close(fd);
	free(graph);
	free(vs.v);
	free(live);
	free(inos);
	return err;
}

static void op_index(struct thread *t)
{
	const char *what;
	int err = index_dir(coll, t->rng.s, &what);

	if (err)
		FAIL(t, "%s: %s", what, strerror(err));
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	/* weights of insert, update, unvector, delete, rename, search, write, index, batch */
	static const unsigned int weight[9] = { 14, 8, 3, 10, 8, 20, 25, 0, 6 };
	unsigned int total = 0, pick, op, n = 0;

	for (op = 0; op < 9; op++)
		total += weight[op];
	while (!atomic_load(&stop)) {
		if (t->id == 0 && ++n % 200 == 0) {
			op_index(t);
			t->ops[7]++;
			continue;
		}
		pick = below(&t->rng, total);
		for (op = 0; pick >= weight[op]; op++)
			pick -= weight[op];
		switch (op) {
		case 0: op_insert(t); break;
		case 1: op_update(t); break;
		case 2: op_unvector(t); break;
		case 3: op_delete(t); break;
		case 4: op_rename(t); break;
		case 5: op_search(t); break;
		case 6: op_write(t); break;
		default: op_batch(t); break;
		}
		t->ops[op]++;
	}
	atomic_fetch_add(&total_failures, t->failures);
	return NULL;
}

/* ==== links: three threads, one file, a link each ==== */

#define NROLES		3	/* link threads, and link collections la, lb, lc */
#define NG		12	/* shared files g0..g11 */

enum loc { LOC_HOME, LOC_COLL, LOC_PLAIN };
enum { LK_SET, LK_DEL, LK_GET, LK_MOVE, LK_OPS };

static const char *lop_names[LK_OPS] = { "set", "delete", "get", "move" };

struct lfile {			/* one link thread's link of one shared file */
	bool held;		/* the vector set through this link is held (lop_move()) */
	bool kept;		/* it is kept with the file: this link is in the plain directory */
	uint8_t loc;		/* enum loc */
	uint64_t id;
	float vec[DIM];
};

struct lthread {
	pthread_t th;
	unsigned int role;
	struct rng rng;
	struct lfile f[NG];
	uint64_t ops[LK_OPS];
	uint64_t busy;		/* sets refused: another link's collection held it */
	uint64_t failures;
};

static char lcoll[NROLES][4200];
static struct lthread lts[NROLES];
/*
 * A move of file j's link and a set through any link of j take this, so
 * that whether the file keeps a vector (lfile.kept) is known: a set that
 * gives the file a slot ends the keeping. The kernel orders the two by
 * the file's i_rwsem anyway.
 */
static pthread_mutex_t lmodel[NG] = {
	[0 ... NG - 1] = PTHREAD_MUTEX_INITIALIZER
};

/* Only one thread moves each file's link, so a collection never holds two links of it. */
static bool lmover(unsigned int role, unsigned int j)
{
	return j % NROLES == role;
}

static void lpath(char *out, unsigned int role, unsigned int j, uint8_t loc)
{
	if (loc == LOC_HOME)
		snprintf(out, 4300, "%.4200s/g%u", lcoll[role], j);
	else
		snprintf(out, 4300, "%s/g%u-r%u", loc == LOC_COLL ? coll : files, j, role);
}

#define LFAIL(t, ...) do {						\
	fprintf(stderr, "soak: link thread %u: ", (t)->role);		\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	(t)->failures++;						\
} while (0)

static void lop_set(struct lthread *t, unsigned int j)
{
	struct lfile *f = &t->f[j];
	char path[4300];
	float v[DIM];
	uint64_t id = rnd(&t->rng) >> 1;
	int fd, err;

	lpath(path, t->role, j, f->loc);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		LFAIL(t, "open %s: %s", path, strerror(errno));
		return;
	}
	random_vector(&t->rng, v);
	pthread_mutex_lock(&lmodel[j]);
	err = set_vector(fd, v, id) ? errno : 0;
	if (!err) {
		f->held = true;
		f->id = id;
		memcpy(f->vec, v, sizeof(v));
		lts[j % NROLES].f[j].kept = false;
	}
	pthread_mutex_unlock(&lmodel[j]);
	if (err == EBUSY) {
		t->busy++;
		if (f->held)
			LFAIL(t, "set through %s: EBUSY, but its collection holds the vector", path);
	} else if (err) {
		LFAIL(t, "set through %s: %s", path, strerror(err));
	}
	close(fd);
}

static void lop_del(struct lthread *t, unsigned int j)
{
	struct lfile *f = &t->f[j];
	char path[4300];
	int fd, ret;

	lpath(path, t->role, j, f->loc);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		LFAIL(t, "open %s: %s", path, strerror(errno));
		return;
	}
	ret = ioctl(fd, VEXFS_IOC_DEL_VECTOR);
	if (!ret && !f->held)
		LFAIL(t, "delete through %s succeeded, but its collection held nothing", path);
	else if (ret && (errno != ENODATA || f->held))
		LFAIL(t, "delete through %s: %s", path, strerror(errno));
	f->held = false;
	close(fd);
}

/* What GET_VECTOR through one link must say: the vector if held, else ENODATA. */
static bool lget_agrees(const struct lfile *f, const char *path, char *why, size_t len)
{
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = DIM };
	float v[DIM];
	int fd = open(path, O_RDONLY), ret;

	if (fd < 0) {
		snprintf(why, len, "open: %s", strerror(errno));
		return false;
	}
	a.vector_ptr = (uint64_t)(uintptr_t)v;
	ret = ioctl(fd, VEXFS_IOC_GET_VECTOR, &a);
	close(fd);
	if (!ret && !f->held)
		snprintf(why, len, "a vector where its collection holds none");
	else if (!ret && (memcmp(v, f->vec, sizeof(v)) || a.id != f->id))
		snprintf(why, len, "another vector or id than the one set through it");
	else if (ret && (errno != ENODATA || f->held))
		snprintf(why, len, "%s", strerror(errno));
	else
		return true;
	return false;
}

static void lop_get(struct lthread *t, unsigned int j)
{
	char path[4300], why[128];

	lpath(path, t->role, j, t->f[j].loc);
	if (!lget_agrees(&t->f[j], path, why, sizeof(why)))
		LFAIL(t, "get through %s: %s", path, why);
}

/*
 * Into the main collection or out to the plain directory from home, or
 * back home. A held vector follows the link into the main collection and
 * back; leaving for the plain directory keeps it with the file, and back
 * home it is held again.
 */
static void lop_move(struct lthread *t, unsigned int j)
{
	struct lfile *f = &t->f[j];
	uint8_t to = f->loc != LOC_HOME ? LOC_HOME : below(&t->rng, 2) ? LOC_COLL : LOC_PLAIN;
	char from_path[4300], to_path[4300];

	lpath(from_path, t->role, j, f->loc);
	lpath(to_path, t->role, j, to);
	pthread_mutex_lock(&lmodel[j]);
	if (rename(from_path, to_path)) {
		LFAIL(t, "rename %s to %s: %s", from_path, to_path, strerror(errno));
	} else {
		if (to == LOC_PLAIN) {
			f->kept = f->held;
			f->held = false;
		} else if (f->kept) {
			f->kept = false;
			f->held = true;
		}
		f->loc = to;
	}
	pthread_mutex_unlock(&lmodel[j]);
}

static void *lthread_main(void *arg)
{
	struct lthread *t = arg;
	unsigned int j, pick;

	while (!atomic_load(&stop)) {
		j = below(&t->rng, NG);
		pick = below(&t->rng, 100);
		if (lmover(t->role, j) && (pick < 15 || t->f[j].loc == LOC_PLAIN)) {
			lop_move(t, j);
			t->ops[LK_MOVE]++;
		} else if (pick < 55) {
			lop_set(t, j);
			t->ops[LK_SET]++;
		} else if (pick < 70) {
			lop_del(t, j);
			t->ops[LK_DEL]++;
		} else {
			lop_get(t, j);
			t->ops[LK_GET]++;
		}
	}
	atomic_fetch_add(&total_failures, t->failures);
	return NULL;
}

static int make_links(void)
{
	char path[4300], other[4300];
	unsigned int j, role;
	int fd;

	for (j = 0; j < NG; j++) {
		lpath(path, 0, j, LOC_HOME);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || write(fd, path, strlen(path)) < 0)
			return -1;
		close(fd);
		for (role = 1; role < NROLES; role++) {
			lpath(other, role, j, LOC_HOME);
			if (link(path, other))
				return -1;
		}
	}
	return 0;
}

/* ==== the indexer: graphs published and dropped under everything ==== */

static uint64_t published, dropped, index_failures;

static void *indexer_main(void *arg)
{
	struct rng *r = arg;
	const char *dirs[NROLES + 2] = { coll, ucoll, lcoll[0], lcoll[1], lcoll[2] };
	const char *dir, *what;
	int fd, err;

	while (!atomic_load(&stop)) {
		dir = dirs[below(r, NROLES + 2)];
		if (below(r, 5) == 0) {
			fd = open(dir, O_RDONLY | O_DIRECTORY);
			err = fd < 0 || ioctl(fd, VEXFS_IOC_DROP_INDEX) ? errno : 0;
			if (fd >= 0)
				close(fd);
			if (!err)
				dropped++;
			else if (err != ENODATA) {
				fprintf(stderr, "soak: indexer: drop the index of %s: %s\n", dir, strerror(err));
				index_failures++;
			}
		} else {
			err = index_dir(dir, rnd(r), &what);
			if (!err)
				published++;
			else {
				fprintf(stderr, "soak: indexer: %s of %s: %s\n", what, dir, strerror(err));
				index_failures++;
			}
		}
		usleep(20000);
	}
	atomic_fetch_add(&total_failures, index_failures);
	return NULL;
}

/* ==== users: two unprivileged processes in a shared collection ==== */

#define NUSERS		2
#define MAX_UFILES	48

static const uid_t user_uid[NUSERS] = { 1000, 65534 };

enum { U_CREATE, U_SET, U_DEL, U_UNLINK, U_SEARCH, U_PROBE, U_ADMIN, UOPS };
static const char *uop_names[UOPS] = {
	"create", "set", "delete", "unlink", "search", "probe", "admin"
};

struct ufile {
	bool used;
	bool priv;		/* 0600, else 0644 */
	bool has_vec;
	char name[32];		/* u<uid>-p<serial> or u<uid>-s<serial> */
	uint64_t id;		/* uid << 40 | priv << 39 | serial */
	float vec[DIM];
};

/* In MAP_SHARED memory: the parent reads them once the users are done. */
struct umodel {
	struct ufile f[MAX_UFILES];
	uint64_t serial;
	uint64_t ops[UOPS];
	uint64_t refused;	/* calls refused as they must be */
	uint64_t failures;
};

static struct umodel *um;

#define UFAIL(m, u, ...) do {						\
	fprintf(stderr, "soak: uid %u: ", (unsigned int)user_uid[u]);	\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	(m)->failures++;						\
} while (0)

static uint64_t uid_of_id(uint64_t id)
{
	return id >> 40;
}

static bool private_id(uint64_t id)
{
	return (id >> 39) & 1;
}

static void uop_create(struct umodel *m, unsigned int u, struct rng *r)
{
	struct ufile *f = NULL;
	char path[4300];
	unsigned int i;
	int fd;

	for (i = 0; i < MAX_UFILES && !f; i++)
		if (!m->f[i].used)
			f = &m->f[i];
	if (!f)
		return;
	f->priv = below(r, 2);
	m->serial++;
	snprintf(f->name, sizeof(f->name), "u%u-%c%" PRIu64, (unsigned int)user_uid[u],
		 f->priv ? 'p' : 's', m->serial);
	snprintf(path, sizeof(path), "%s/%s", ucoll, f->name);
	/* The mode from the start: the other user may look at once. */
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, f->priv ? 0600 : 0644);
	if (fd < 0) {
		UFAIL(m, u, "create %s: %s", path, strerror(errno));
		return;
	}
	f->used = true;
	f->id = (uint64_t)user_uid[u] << 40 | (uint64_t)f->priv << 39 | m->serial;
	random_vector(r, f->vec);
	f->has_vec = !set_vector(fd, f->vec, f->id);
	if (!f->has_vec)
		UFAIL(m, u, "set the vector of %s: %s", path, strerror(errno));
	close(fd);
}

static struct ufile *some_ufile(struct umodel *m, struct rng *r)
{
	unsigned int start = below(r, MAX_UFILES), i;

	for (i = 0; i < MAX_UFILES; i++)
		if (m->f[(start + i) % MAX_UFILES].used)
			return &m->f[(start + i) % MAX_UFILES];
	return NULL;
}

static void uop_change(struct umodel *m, unsigned int u, struct rng *r, unsigned int op)
{
	struct ufile *f = some_ufile(m, r);
	char path[4300];
	float v[DIM];
	int fd, ret;

	if (!f)
		return;
	snprintf(path, sizeof(path), "%s/%s", ucoll, f->name);
	if (op == U_UNLINK) {
		if (unlink(path))
			UFAIL(m, u, "unlink %s: %s", path, strerror(errno));
		f->used = false;
		return;
	}
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		UFAIL(m, u, "open %s: %s", path, strerror(errno));
		return;
	}
	if (op == U_SET) {
		random_vector(r, v);
		if (set_vector(fd, v, f->id)) {
			UFAIL(m, u, "set the vector of %s: %s", path, strerror(errno));
		} else {
			memcpy(f->vec, v, sizeof(v));
			f->has_vec = true;
		}
	} else {
		ret = ioctl(fd, VEXFS_IOC_DEL_VECTOR);
		if (ret ? errno != ENODATA || f->has_vec : !f->has_vec)
			UFAIL(m, u, "delete the vector of %s: %s", path, ret ? strerror(errno) : "succeeded");
		f->has_vec = false;
	}
	close(fd);
}

/*
 * A search of the shared collection for one of its own vectors: the exact
 * one finds it at distance 0; neither ever returns the other user's
 * private files, and every own result is a file it has.
 */
static void uop_search(struct umodel *m, unsigned int u, struct rng *r)
{
	struct vexfs_search_result res[16];
	struct vexfs_ioc_search a = { .size = sizeof(a), .dim = DIM, .k = 16 };
	struct ufile *f = some_ufile(m, r);
	unsigned int i, j;
	bool mine;
	int fd;

	if (!f || !f->has_vec)
		return;
	a.query_ptr = (uint64_t)(uintptr_t)f->vec;
	a.results_ptr = (uint64_t)(uintptr_t)res;
	a.flags = below(r, 2) ? VEXFS_SEARCH_EXACT : 0;
	fd = open(ucoll, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, VEXFS_IOC_SEARCH, &a)) {
		UFAIL(m, u, "search: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	if (a.flags && (!a.count || res[0].distance != 0.0f))
		UFAIL(m, u, "exact search for the vector of %s: %u results, best at %g", f->name,
		      a.count, a.count ? res[0].distance : -1.0);
	if (a.scanned > 2 * MAX_UFILES)
		UFAIL(m, u, "search scanned %" PRIu64 " vectors", (uint64_t)a.scanned);
	for (i = 0; i < a.count; i++) {
		if (uid_of_id(res[i].id) != user_uid[u]) {
			if (private_id(res[i].id))
				UFAIL(m, u, "search returned id %#" PRIx64 ", a private file of uid %"
				      PRIu64, (uint64_t)res[i].id, uid_of_id(res[i].id));
			continue;
		}
		for (j = 0, mine = false; j < MAX_UFILES && !mine; j++)
			mine = m->f[j].used && m->f[j].has_vec && m->f[j].id == res[i].id;
		if (!mine)
			UFAIL(m, u, "search returned id %#" PRIx64 ", none of its vectors",
			      (uint64_t)res[i].id);
	}
}

/* expect: the call failed with want (or the file went away meanwhile). */
static void urefused(struct umodel *m, unsigned int u, int ret, int want, const char *what)
{
	if (ret && (errno == want || errno == ENOENT)) {
		m->refused++;
		return;
	}
	UFAIL(m, u, "%s: %s, not %s", what, ret ? strerror(errno) : "succeeded", strerror(want));
}

/* The other user's files: shared ones read but never written, private ones not even read. */
static void uop_probe(struct umodel *m, unsigned int u, struct rng *r)
{
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = DIM };
	char prefix[16], path[4300], xv[DIM * 4];
	float v[DIM];
	DIR *d = opendir(ucoll);
	struct dirent *e;
	unsigned int seen = 0, want = below(r, 8);
	bool priv;
	int fd, ret;

	if (!d) {
		UFAIL(m, u, "opendir %s: %s", ucoll, strerror(errno));
		return;
	}
	snprintf(prefix, sizeof(prefix), "u%u-", (unsigned int)user_uid[u]);
	*path = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] == 'u' && strncmp(e->d_name, prefix, strlen(prefix)) && seen++ <= want)
			snprintf(path, sizeof(path), "%.4000s/%s", ucoll, e->d_name);
	closedir(d);
	if (!*path)
		return;
	priv = strchr(strrchr(path, '/'), '-')[1] == 'p';
	a.vector_ptr = (uint64_t)(uintptr_t)v;
	fd = open(path, O_WRONLY);
	urefused(m, u, fd < 0 ? -1 : 0, EACCES, "open another user's file for writing");
	if (fd >= 0)
		close(fd);
	if (priv) {
		fd = open(path, O_RDONLY);
		urefused(m, u, fd < 0 ? -1 : 0, EACCES, "open another user's private file");
		if (fd >= 0)
			close(fd);
		urefused(m, u, getxattr(path, VEXFS_XATTR_VECTOR, xv, sizeof(xv)) < 0 ? -1 : 0,
			 EACCES, "the vector xattr of another user's private file");
		return;
	}
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		if (errno != ENOENT)
			UFAIL(m, u, "open another user's shared file %s: %s", path, strerror(errno));
		return;
	}
	ret = ioctl(fd, VEXFS_IOC_GET_VECTOR, &a);
	if (ret && errno != ENODATA)
		UFAIL(m, u, "GET_VECTOR of another user's shared file: %s", strerror(errno));
	urefused(m, u, set_vector(fd, v, 1), EACCES, "SET_VECTOR on another user's file");
	urefused(m, u, ioctl(fd, VEXFS_IOC_DEL_VECTOR), EACCES, "DEL_VECTOR on another user's file");
	close(fd);
}

/* What needs the capability or the directory's ownership: refused. */
static void uop_admin(struct umodel *m, unsigned int u, struct rng *r)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct vexfs_ioc_read_vectors rv = { .size = sizeof(rv), .dim = DIM, .count = 1 };
	struct vexfs_ioc_publish_index pub = { .size = sizeof(pub),
					       .graph_ptr = (uint64_t)(uintptr_t)page,
					       .graph_len = sizeof(page) };
	uint64_t ino;
	float v[DIM];
	const char *dir = below(r, 2) ? ucoll : coll;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0) {
		UFAIL(m, u, "open %s: %s", dir, strerror(errno));
		return;
	}
	rv.inos_ptr = (uint64_t)(uintptr_t)&ino;
	rv.vectors_ptr = (uint64_t)(uintptr_t)v;
	urefused(m, u, ioctl(fd, VEXFS_IOC_READ_VECTORS, &rv), EPERM, "READ_VECTORS");
	urefused(m, u, ioctl(fd, VEXFS_IOC_PUBLISH_INDEX, &pub), EPERM, "PUBLISH_INDEX");
	urefused(m, u, ioctl(fd, VEXFS_IOC_DROP_INDEX), EPERM, "DROP_INDEX");
	close(fd);
}

/* Each own file still holds what was last set, as the user reads it. */
static void ucheck_own(struct umodel *m, unsigned int u)
{
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = DIM };
	char path[4300];
	float v[DIM];
	unsigned int i;
	int fd, ret;

	a.vector_ptr = (uint64_t)(uintptr_t)v;
	for (i = 0; i < MAX_UFILES; i++) {
		if (!m->f[i].used)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ucoll, m->f[i].name);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			UFAIL(m, u, "open %s: %s", path, strerror(errno));
			continue;
		}
		ret = ioctl(fd, VEXFS_IOC_GET_VECTOR, &a);
		if (m->f[i].has_vec ? ret || memcmp(v, m->f[i].vec, sizeof(v)) || a.id != m->f[i].id
				    : !ret || errno != ENODATA)
			UFAIL(m, u, "%s: GET_VECTOR %s", path, ret ? strerror(errno) : "differs");
		close(fd);
	}
}

static pid_t spawn_user(unsigned int u, uint64_t seed, unsigned int seconds)
{
	static const unsigned int weight[UOPS] = { 14, 16, 6, 5, 30, 15, 4 };
	struct umodel *m = &um[u];
	struct rng r = { seed * 7919u + u };
	time_t end = time(NULL) + seconds;
	unsigned int total = 0, pick, op;
	pid_t pid = fork();

	if (pid)
		return pid;
	if (setgroups(0, NULL) || setgid(user_uid[u]) || setuid(user_uid[u])) {
		UFAIL(m, u, "drop privileges: %s", strerror(errno));
		_exit(1);
	}
	umask(022);
	for (op = 0; op < UOPS; op++)
		total += weight[op];
	while (time(NULL) < end) {
		pick = below(&r, total);
		for (op = 0; pick >= weight[op]; op++)
			pick -= weight[op];
		switch (op) {
		case U_CREATE: uop_create(m, u, &r); break;
		case U_SEARCH: uop_search(m, u, &r); break;
		case U_PROBE: uop_probe(m, u, &r); break;
		case U_ADMIN: uop_admin(m, u, &r); break;
		default: uop_change(m, u, &r, op); break;
		}
		m->ops[op]++;
	}
	ucheck_own(m, u);
	_exit(m->failures ? 1 : 0);
}

/* ==== checking everything against the models ==== */

static uint64_t check_vfile(const struct vfile *f)
{
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = DIM };
	float v[DIM];
	char path[4300], buf[4096];
	uint64_t bad = 0;
	ssize_t n;
	uint32_t i;
	int fd;

	vpath(path, f->name);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "soak: verify: %s: %s\n", path, strerror(errno));
		return 1;
	}
	n = read(fd, buf, sizeof(buf));
	if (n != (ssize_t)f->len) {
		fprintf(stderr, "soak: verify: %s holds %zd bytes, not %u\n", path, n, f->len);
		bad++;
	}
	for (i = 0; n > 0 && i < (uint32_t)n; i++)
		if ((uint8_t)buf[i] != f->pattern) {
			fprintf(stderr, "soak: verify: %s: byte %u differs\n", path, i);
			bad++;
			break;
		}
	a.vector_ptr = (uint64_t)(uintptr_t)v;
	if (ioctl(fd, VEXFS_IOC_GET_VECTOR, &a)) {
		if (f->has_vec || errno != ENODATA) {
			fprintf(stderr, "soak: verify: vector of %s: %s\n", path, strerror(errno));
			bad++;
		}
	} else if (!f->has_vec) {
		fprintf(stderr, "soak: verify: %s has a vector it should not\n", path);
		bad++;
	} else if (memcmp(v, f->vec, sizeof(v)) || a.id != f->id) {
		fprintf(stderr, "soak: verify: %s: vector or id differs\n", path);
		bad++;
	}
	close(fd);
	return bad;
}

static uint64_t check_pfile(const struct pfile *p)
{
	char path[4300];
	uint8_t *back = malloc(MAX_CONTENT + 1);
	uint64_t bad = 0;
	ssize_t n;
	int fd;

	ppath(path, p->name);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "soak: verify: %s: %s\n", path, strerror(errno));
		free(back);
		return 1;
	}
	n = pread(fd, back, MAX_CONTENT + 1, 0);
	if (n != (ssize_t)p->len || memcmp(back, p->data, p->len)) {
		fprintf(stderr, "soak: verify: %s differs (%zd bytes, %u expected)\n", path, n, p->len);
		bad++;
	}
	close(fd);
	free(back);
	return bad;
}

/* The directories the models cover. */
enum dir_kind { D_COLL, D_FILES, D_UCOLL, D_LINKS };

/* Is name, in a directory of that kind (role: which link collection), in a model? */
static bool in_models(struct thread *ts, unsigned int nt, const char *name, enum dir_kind kind,
		      unsigned int role)
{
	char want[64];
	unsigned int i, j;

	for (i = 0; i < nt && kind <= D_FILES; i++)
		for (j = 0; j < MAX_FILES; j++) {
			if (kind == D_COLL && ts[i].v[j].used && !strcmp(ts[i].v[j].name, name))
				return true;
			if (kind == D_FILES && ts[i].p[j].used && !strcmp(ts[i].p[j].name, name))
				return true;
		}
	for (i = 0; i < NROLES; i++)
		for (j = 0; j < NG; j++) {
			if (kind == D_LINKS && i == role && lts[i].f[j].loc == LOC_HOME)
				snprintf(want, sizeof(want), "g%u", j);
			else if ((kind == D_COLL && lts[i].f[j].loc == LOC_COLL) ||
				 (kind == D_FILES && lts[i].f[j].loc == LOC_PLAIN))
				snprintf(want, sizeof(want), "g%u-r%u", j, i);
			else
				continue;
			if (!strcmp(want, name))
				return true;
		}
	for (i = 0; i < NUSERS && kind == D_UCOLL; i++)
		for (j = 0; j < MAX_UFILES; j++)
			if (um[i].f[j].used && !strcmp(um[i].f[j].name, name))
				return true;
	return false;
}

/* Every name in dir is in a model, and there are as many as the models have. */
static uint64_t check_names(struct thread *ts, unsigned int nt, const char *dir,
			    enum dir_kind kind, unsigned int role, uint64_t want)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t bad = 0, count = 0;

	if (!d) {
		fprintf(stderr, "soak: verify: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		count++;
		if (!in_models(ts, nt, e->d_name, kind, role)) {
			fprintf(stderr, "soak: verify: %s/%s is in no model\n", dir, e->d_name);
			bad++;
		}
	}
	closedir(d);
	if (count != want) {
		fprintf(stderr, "soak: verify: %" PRIu64 " names in %s, %" PRIu64 " in the models\n",
			count, dir, want);
		bad++;
	}
	return bad;
}

/* The collection's count is what the models hold there; its live inodes appended to inos. */
static uint64_t check_table(const char *dir, uint64_t want, uint64_t **inos, size_t *n)
{
	struct vexfs_ioc_collection c = { .size = sizeof(c) };
	struct vexfs_ioc_read_vectors rv = { .size = sizeof(rv), .dim = DIM, .count = 8192 };
	uint64_t slots[8192], bad = 0;
	float *v = calloc(8192, sizeof(float) * DIM);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	uint32_t i;

	rv.inos_ptr = (uint64_t)(uintptr_t)slots;
	rv.vectors_ptr = (uint64_t)(uintptr_t)v;
	if (fd < 0 || ioctl(fd, VEXFS_IOC_GET_COLLECTION, &c) || ioctl(fd, VEXFS_IOC_READ_VECTORS, &rv)) {
		fprintf(stderr, "soak: verify: %s: %s\n", dir, strerror(errno));
		bad++;
	} else if (c.count != want) {
		fprintf(stderr, "soak: verify: %s holds %" PRIu64 " vectors, the models %" PRIu64 "\n",
			dir, (uint64_t)c.count, want);
		bad++;
	}
	for (i = 0; !bad && i < rv.returned; i++)
		if (slots[i]) {
			*inos = realloc(*inos, (*n + 1) * sizeof(**inos));
			(*inos)[(*n)++] = slots[i];
		}
	if (fd >= 0)
		close(fd);
	free(v);
	return bad;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Each shared file: at most one link's collection holds its vector, GET
 * through each link says what its thread's model says, and the xattr
 * through every link is the held vector or nothing. Counts what the
 * links hold in each collection.
 */
static uint64_t verify_links(uint64_t held_home[NROLES], uint64_t *held_coll)
{
	char path[4300], why[128];
	float x[DIM];
	const struct lfile *h;
	unsigned int j, role, holders;
	uint64_t bad = 0;
	ssize_t len;

	for (j = 0; j < NG; j++) {
		/* Held by a collection, or else kept with the file, or none. */
		h = lts[j % NROLES].f[j].kept ? &lts[j % NROLES].f[j] : NULL;
		for (role = 0, holders = 0; role < NROLES; role++)
			if (lts[role].f[j].held) {
				holders++;
				h = &lts[role].f[j];
				if (h->loc == LOC_COLL)
					(*held_coll)++;
				else
					held_home[role]++;
			}
		if (holders > 1) {
			fprintf(stderr, "soak: verify: g%u: %u links' collections hold its vector\n", j, holders);
			bad++;
		}
		for (role = 0; role < NROLES; role++) {
			lpath(path, role, j, lts[role].f[j].loc);
			if (lts[role].f[j].loc != LOC_PLAIN && !lget_agrees(&lts[role].f[j], path, why, sizeof(why))) {
				fprintf(stderr, "soak: verify: GET_VECTOR through %s: %s\n", path, why);
				bad++;
			}
			len = getxattr(path, VEXFS_XATTR_VECTOR, x, sizeof(x));
			if (h ? len != sizeof(x) || memcmp(x, h->vec, sizeof(x)) : len >= 0 || errno != ENODATA) {
				fprintf(stderr, "soak: verify: the vector xattr of %s: %zd bytes (%s)\n", path,
					len, len < 0 ? strerror(errno) : h ? "another vector" : "none expected");
				bad++;
			}
		}
	}
	return bad;
}

/* The users' files, read as root. */
static uint64_t verify_users(uint64_t *vectors, uint64_t *names)
{
	struct vexfs_ioc_vector a = { .size = sizeof(a), .dim = DIM };
	char path[4300];
	float v[DIM];
	unsigned int u, i;
	uint64_t bad = 0;
	int fd, ret;

	a.vector_ptr = (uint64_t)(uintptr_t)v;
	for (u = 0; u < NUSERS; u++)
		for (i = 0; i < MAX_UFILES; i++) {
			const struct ufile *f = &um[u].f[i];

			if (!f->used)
				continue;
			(*names)++;
			*vectors += f->has_vec;
			snprintf(path, sizeof(path), "%s/%s", ucoll, f->name);
			fd = open(path, O_RDONLY);
			ret = fd < 0 ? -1 : ioctl(fd, VEXFS_IOC_GET_VECTOR, &a);
			if (f->has_vec ? ret || memcmp(v, f->vec, sizeof(v)) || a.id != f->id
				       : !ret || errno != ENODATA) {
				fprintf(stderr, "soak: verify: %s: %s\n", path,
					ret ? strerror(errno) : "another vector or id");
				bad++;
			}
			if (fd >= 0)
				close(fd);
		}
	return bad;
}

static uint64_t verify(struct thread *ts, unsigned int nt)
{
	uint64_t bad = 0, vectors = 0, vfiles = 0, pfiles = 0, held_home[NROLES] = { 0 };
	uint64_t held_coll = 0, in_coll = 0, in_plain = 0, uvectors = 0, unames = 0, *inos = NULL;
	unsigned int i, j;
	size_t n = 0;

	for (i = 0; i < nt; i++)
		for (j = 0; j < MAX_FILES; j++) {
			if (ts[i].v[j].used) {
				bad += check_vfile(&ts[i].v[j]);
				vfiles++;
				vectors += ts[i].v[j].has_vec;
			}
			if (ts[i].p[j].used) {
				bad += check_pfile(&ts[i].p[j]);
				pfiles++;
			}
		}
	for (i = 0; i < NROLES; i++)
		for (j = 0; j < NG; j++) {
			in_coll += lts[i].f[j].loc == LOC_COLL;
			in_plain += lts[i].f[j].loc == LOC_PLAIN;
		}
	bad += verify_links(held_home, &held_coll);
	bad += verify_users(&uvectors, &unames);
	bad += check_names(ts, nt, coll, D_COLL, 0, vfiles + in_coll);
	bad += check_names(ts, nt, files, D_FILES, 0, pfiles + in_plain);
	bad += check_names(ts, nt, ucoll, D_UCOLL, 0, unames);
	bad += check_table(coll, vectors + held_coll, &inos, &n);
	bad += check_table(ucoll, uvectors, &inos, &n);
	for (i = 0; i < NROLES; i++) {
		uint64_t home = 0;

		for (j = 0; j < NG; j++)
			home += lts[i].f[j].loc == LOC_HOME;
		bad += check_names(ts, nt, lcoll[i], D_LINKS, i, home);
		bad += check_table(lcoll[i], held_home[i], &inos, &n);
	}
	/* One slot per file, in all the collections together. */
	qsort(inos, n, sizeof(*inos), cmp_u64);
	for (i = 1; i < n; i++)
		if (inos[i] == inos[i - 1]) {
			fprintf(stderr, "soak: verify: inode %" PRIu64 " holds two slots\n", inos[i]);
			bad++;
		}
	free(inos);
	printf("soak: verified %" PRIu64 " collection files (%" PRIu64 " vectors), %" PRIu64
	       " plain files, %u shared files through %u links each (%" PRIu64 " vectors), %" PRIu64
	       " files of the users (%" PRIu64 " vectors), %zu slots in 5 collections: %" PRIu64
	       " differences\n", vfiles, vectors, pfiles, NG, NROLES,
	       held_coll + held_home[0] + held_home[1] + held_home[2], unames, uvectors, n, bad);
	return bad;
}

/* ==== saving the models for a check after a remount ==== */

static int save(const char *path, struct thread *ts, unsigned int nt)
{
	FILE *f = fopen(path, "wb");
	unsigned int i, j;

	if (!f)
		return -1;
	fwrite(&nt, sizeof(nt), 1, f);
	for (i = 0; i < nt; i++) {
		fwrite(ts[i].v, sizeof(ts[i].v), 1, f);
		for (j = 0; j < MAX_FILES; j++) {
			fwrite(&ts[i].p[j], sizeof(ts[i].p[j]), 1, f);
			if (ts[i].p[j].used)
				fwrite(ts[i].p[j].data, 1, ts[i].p[j].len, f);
		}
	}
	for (i = 0; i < NROLES; i++)
		fwrite(lts[i].f, sizeof(lts[i].f), 1, f);
	fwrite(um, sizeof(*um), NUSERS, f);
	return fclose(f);
}

static struct thread *load(const char *path, unsigned int *nt)
{
	FILE *f = fopen(path, "rb");
	struct thread *ts;
	unsigned int i, j;

	if (!f || fread(nt, sizeof(*nt), 1, f) != 1 || *nt > 1024)
		return NULL;
	ts = calloc(*nt, sizeof(*ts));
	for (i = 0; ts && i < *nt; i++) {
		if (fread(ts[i].v, sizeof(ts[i].v), 1, f) != 1)
			return NULL;
		for (j = 0; j < MAX_FILES; j++) {
			struct pfile *p = &ts[i].p[j];

			if (fread(p, sizeof(*p), 1, f) != 1)
				return NULL;
			p->data = NULL;
			if (!p->used)
				continue;
			p->data = calloc(1, MAX_CONTENT);
			if (!p->data || p->len > MAX_CONTENT || fread(p->data, 1, p->len, f) != p->len)
				return NULL;
		}
	}
	for (i = 0; i < NROLES; i++)
		if (fread(lts[i].f, sizeof(lts[i].f), 1, f) != 1)
			return NULL;
	if (fread(um, sizeof(*um), NUSERS, f) != NUSERS)
		return NULL;
	fclose(f);
	return ts;
}

/* ==== main ==== */

static int make_collection(const char *path, mode_t mode)
{
	struct vexfs_ioc_collection a = { .size = sizeof(a), .dim = DIM,
					  .metric = VEXFS_METRIC_L2, .elem_type = VEXFS_ELEM_F32 };
	int fd, ret;

	if (mkdir(path, mode) || chmod(path, mode))
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, VEXFS_IOC_CREATE_COLLECTION, &a);
	close(fd);
	return ret;
}

static int setup(const char *top)
{
	unsigned int i;

	if (mkdir(top, 0755) || mkdir(files, 0755) || make_collection(coll, 0755) ||
	    make_collection(ucoll, 01777))
		return -1;
	for (i = 0; i < NROLES; i++)
		if (make_collection(lcoll[i], 0755))
			return -1;
	return make_links();
}

static void usage(void)
{
	fprintf(stderr, "usage: soak run MNT [-s SECONDS] [-t THREADS] [-S SEED] [-m MODEL]\n"
			"       soak verify MNT -m MODEL\n");
	exit(16);
}

static void print_ops(struct thread *ts, unsigned int nt)
{
	uint64_t ops[9] = { 0 }, lops[LK_OPS] = { 0 }, busy = 0, all = 0;
	unsigned int i, op;

	for (i = 0; i < nt; i++)
		for (op = 0; op < 9; op++)
			ops[op] += ts[i].ops[op];
	printf("soak: operations:");
	for (op = 0; op < 9; op++) {
		printf(" %s %" PRIu64, op_names[op], ops[op]);
		all += ops[op];
	}
	printf("; %" PRIu64 " in all\n", all);
	for (i = 0; i < NROLES; i++) {
		for (op = 0; op < LK_OPS; op++)
			lops[op] += lts[i].ops[op];
		busy += lts[i].busy;
	}
	printf("soak: links:");
	for (op = 0; op < LK_OPS; op++)
		printf(" %s %" PRIu64, lop_names[op], lops[op]);
	printf(" (%" PRIu64 " sets refused with EBUSY); indexer: %" PRIu64 " graphs published, %"
	       PRIu64 " indexes dropped\n", busy, published, dropped);
	for (i = 0; i < NUSERS; i++) {
		printf("soak: uid %u:", (unsigned int)user_uid[i]);
		for (op = 0; op < UOPS; op++)
			printf(" %s %" PRIu64, uop_names[op], um[i].ops[op]);
		printf(" (%" PRIu64 " calls refused as they must be), %" PRIu64 " failed\n",
		       um[i].refused, um[i].failures);
	}
	printf("soak: %" PRIu64 " failed\n", (uint64_t)atomic_load(&total_failures));
}

int main(int argc, char **argv)
{
	unsigned int seconds = 30, nt = 8, i;
	uint64_t seed = (uint64_t)time(NULL);
	const char *model = NULL, *cmd, *mnt;
	pid_t users[NUSERS];
	struct thread *ts;
	pthread_t indexer;
	struct rng irng;
	char top[4000];
	int opt, status;
	bool bad;

	if (argc < 3)
		usage();
	cmd = argv[1];
	mnt = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "s:t:S:m:")) != -1) {
		switch (opt) {
		case 's': seconds = (unsigned int)atoi(optarg); break;
		case 't': nt = (unsigned int)atoi(optarg); break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'm': model = optarg; break;
		default: usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(top, sizeof(top), "%s/soak", mnt);
	snprintf(coll, sizeof(coll), "%s/coll", top);
	snprintf(files, sizeof(files), "%s/files", top);
	snprintf(ucoll, sizeof(ucoll), "%s/ucoll", top);
	for (i = 0; i < NROLES; i++)
		snprintf(lcoll[i], sizeof(lcoll[i]), "%s/l%c", top, 'a' + i);
	um = mmap(NULL, NUSERS * sizeof(*um), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (um == MAP_FAILED)
		return 2;
	memset(um, 0, NUSERS * sizeof(*um));
	if (!strcmp(cmd, "verify")) {
		if (!model || !(ts = load(model, &nt))) {
			fprintf(stderr, "soak: cannot read the model\n");
			return 2;
		}
		return verify(ts, nt) ? 1 : 0;
	}
	if (strcmp(cmd, "run") || !nt)
		usage();
	printf("soak: seed %" PRIu64 ", %u threads, %u link threads, an indexer and uids %u and %u, %u s\n",
	       seed, nt, NROLES, (unsigned int)user_uid[0], (unsigned int)user_uid[1], seconds);
	if (setup(top)) {
		perror("soak: setup");
		return 2;
	}
	/* Before any thread: a fork copies only the calling one. */
	for (i = 0; i < NUSERS; i++)
		users[i] = spawn_user(i, seed, seconds);
	ts = calloc(nt, sizeof(*ts));
	for (i = 0; i < nt; i++) {
		ts[i].id = i;
		ts[i].rng.s = seed * 1000003u + i;
		pthread_create(&ts[i].th, NULL, thread_main, &ts[i]);
	}
	for (i = 0; i < NROLES; i++) {
		lts[i].role = i;
		lts[i].rng.s = seed * 1000033u + i;
		pthread_create(&lts[i].th, NULL, lthread_main, &lts[i]);
	}
	irng.s = seed * 999983u;
	pthread_create(&indexer, NULL, indexer_main, &irng);
	sleep(seconds);
	atomic_store(&stop, true);
	for (i = 0; i < nt; i++)
		pthread_join(ts[i].th, NULL);
	for (i = 0; i < NROLES; i++)
		pthread_join(lts[i].th, NULL);
	pthread_join(indexer, NULL);
	for (i = 0; i < NUSERS; i++)
		if (users[i] < 0 || waitpid(users[i], &status, 0) != users[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "soak: the process of uid %u failed\n", (unsigned int)user_uid[i]);
			atomic_fetch_add(&total_failures, 1);
		}
	print_ops(ts, nt);
	bad = verify(ts, nt) || atomic_load(&total_failures);
	/* Saved even after a failure: what reached the disk is worth checking too. */
	if (model && save(model, ts, nt)) {
		perror("soak: save the model");
		return 2;
	}
	return bad ? 1 : 0;
}
