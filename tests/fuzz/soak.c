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
 *            also renames its link into the main collection and back, and
 *            out to the plain directory and back, dropping the vector it
 *            held, while the others set theirs. A collection holds file
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

static bool in_models(struct thread *ts, unsigned int nt, const char *name, bool vdir)
{
	unsigned int i, j;

	for (i = 0; i < nt; i++)
		for (j = 0; j < MAX_FILES; j++) {
			if (vdir && ts[i].v[j].used && !strcmp(ts[i].v[j].name, name))
				return true;
			if (!vdir && ts[i].p[j].used && !strcmp(ts[i].p[j].name, name))
				return true;
		}
	return false;
}

static uint64_t check_names(struct thread *ts, unsigned int nt, const char *dir, bool vdir,
			    uint64_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t bad = 0;

	*count = 0;
	if (!d) {
		fprintf(stderr, "soak: verify: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		(*count)++;
		if (!in_models(ts, nt, e->d_name, vdir)) {
			fprintf(stderr, "soak: verify: %s/%s is in no model\n", dir, e->d_name);
			bad++;
		}
	}
	closedir(d);
	return bad;
}

static uint64_t verify(struct thread *ts, unsigned int nt)
{
	struct vexfs_ioc_collection c = { .size = sizeof(c) };
	uint64_t bad = 0, vectors = 0, vfiles = 0, pfiles = 0, names;
	unsigned int i, j;
	int fd;

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
	bad += check_names(ts, nt, coll, true, &names);
	if (names != vfiles) {
		fprintf(stderr, "soak: verify: %" PRIu64 " names in the collection, %" PRIu64 " in the models\n",
			names, vfiles);
		bad++;
	}
	bad += check_names(ts, nt, files, false, &names);
	if (names != pfiles) {
		fprintf(stderr, "soak: verify: %" PRIu64 " plain files, %" PRIu64 " in the models\n",
			names, pfiles);
		bad++;
	}
	fd = open(coll, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, VEXFS_IOC_GET_COLLECTION, &c) || c.count != vectors) {
		fprintf(stderr, "soak: verify: the collection holds %" PRIu64 " vectors, the models %" PRIu64 "\n",
			(uint64_t)c.count, vectors);
		bad++;
	}
	if (fd >= 0)
		close(fd);
	printf("soak: verified %" PRIu64 " collection files (%" PRIu64 " vectors) and %" PRIu64
	       " plain files: %" PRIu64 " differences\n", vfiles, vectors, pfiles, bad);
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
	fclose(f);
	return ts;
}

/* ==== main ==== */

static int make_collection(void)
{
	struct vexfs_ioc_collection a = { .size = sizeof(a), .dim = DIM,
					  .metric = VEXFS_METRIC_L2, .elem_type = VEXFS_ELEM_F32 };
	int fd, ret;

	if (mkdir(coll, 0755))
		return -1;
	fd = open(coll, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, VEXFS_IOC_CREATE_COLLECTION, &a);
	close(fd);
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: soak run MNT [-s SECONDS] [-t THREADS] [-S SEED] [-m MODEL]\n"
			"       soak verify MNT -m MODEL\n");
	exit(16);
}

int main(int argc, char **argv)
{
	unsigned int seconds = 30, nt = 8, i, op;
	uint64_t seed = (uint64_t)time(NULL), ops[9] = { 0 }, all = 0;
	const char *model = NULL, *cmd, *mnt;
	struct thread *ts;
	char top[4000];
	int opt;

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
	if (!strcmp(cmd, "verify")) {
		if (!model || !(ts = load(model, &nt))) {
			fprintf(stderr, "soak: cannot read the model\n");
			return 2;
		}
		return verify(ts, nt) ? 1 : 0;
	}
	if (strcmp(cmd, "run") || !nt)
		usage();
	printf("soak: seed %" PRIu64 ", %u threads, %u s\n", seed, nt, seconds);
	if (mkdir(top, 0755) || mkdir(files, 0755) || make_collection()) {
		perror("soak: setup");
		return 2;
	}
	ts = calloc(nt, sizeof(*ts));
	for (i = 0; i < nt; i++) {
		ts[i].id = i;
		ts[i].rng.s = seed * 1000003u + i;
		pthread_create(&ts[i].th, NULL, thread_main, &ts[i]);
	}
	sleep(seconds);
	atomic_store(&stop, true);
	for (i = 0; i < nt; i++) {
		pthread_join(ts[i].th, NULL);
		for (op = 0; op < 9; op++)
			ops[op] += ts[i].ops[op];
	}
	printf("soak: operations:");
	for (op = 0; op < 9; op++) {
		printf(" %s %" PRIu64, op_names[op], ops[op]);
		all += ops[op];
	}
	printf("; %" PRIu64 " in all, %" PRIu64 " failed\n", all, (uint64_t)atomic_load(&total_failures));
	if (verify(ts, nt) || atomic_load(&total_failures))
		return 1;
	if (model && save(model, ts, nt)) {
		perror("soak: save the model");
		return 2;
	}
	return 0;
}
