// SPDX-License-Identifier: GPL-2.0
/*
 * Scheduling: what the daemon knows of each collection, which of them
 * need a build, and the queue of builds for the worker.
 *
 * A collection is known by its device and inode number, so one reached
 * through two bind mounts is one collection, and a rename does not make
 * it a new one. Each scan refreshes what the kernel says of it
 * (GET_COLLECTION); a collection a scan no longer finds is forgotten once
 * no build of it is queued or running.
 *
 * When to build (automatically):
 *   - `unindexed` reached index_threshold, or
 *   - the dead share of the graph reached rebuild_dead_share: nodes of the
 *     published graph whose vector was deleted or replaced since. The
 *     kernel does not report how many nodes the graph has; the daemon
 *     knows when it published the graph itself, and otherwise counts free
 *     table slots as dead nodes, an estimate that at worst costs one
 *     rebuild after a restart.
 * and never when nothing changed since this daemon last built it (the
 * change sequence is the same), so a collection that stays above a
 * threshold cannot make the daemon build in a loop. A failed build is
 * retried with a backoff that doubles from RETRY_MIN to RETRY_MAX.
 *
 * A collection that changed since the previous scan is left to settle
 * for up to SETTLE_SCANS scans before its build is queued: an import in
 * many batches gets one build at its end rather than one per scan, and a
 * collection being deleted file by file (its dead share climbing) is
 * gone before a build would start.
 *
 * Builds asked for through the socket go before automatic ones. One
 * build runs at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "vexfsd.h"

#define RETRY_MIN	60		/* seconds */
#define RETRY_MAX	3600
#define SETTLE_SCANS	10

struct vexfsd_job;

struct vexfsd_coll {
	dev_t dev;
	ino_t ino;
	char *path;
	struct libvexfs_collection_info info;	/* as of the last look */
	unsigned int gen;		/* the scan that last found it */
	bool changing;			/* the last scan saw it change */
	double eligible_since;		/* monotonic: a build was due from then */
	struct vexfsd_job *job;		/* queued, not yet running */
	bool running;

	/* What this daemon did with it. */
	unsigned int builds;
	time_t last_build;		/* wall clock of the last success */
	struct libvexfs_index_stats last;	/* its statistics */
	bool built;
	uint64_t built_seq;		/* change sequence it covered */
	uint64_t graph_nodes;		/* nodes in it; 0: unknown */
	int last_error;			/* positive errno, 0 after a success */
	double retry_at;		/* monotonic: no automatic build before */
	unsigned int backoff;		/* seconds, after failures */

	struct vexfsd_coll *next;
};

struct vexfsd_job {
	uint64_t id;
	struct vexfsd_coll *coll;
	int fd;				/* -1 until it starts, unless a client opened it */
	bool manual;			/* asked for through the socket */
	const char *reason;		/* why an automatic build was queued */
	struct vexfsd_job *next;
};

static struct {
	const struct vexfsd_config *cfg;
	struct vexfsd_coll *colls;	/* in the order found */
	struct vexfsd_job *queue;
	struct vexfsd_job *running;
	unsigned int gen;
	uint64_t last_job_id;
	char phase[16];			/* progress of the running build */
	uint64_t done, total;
} sched;

void sched_init(const struct vexfsd_config *cfg)
{
	sched.cfg = cfg;
}

/* ==== the table of collections ==== */

static struct vexfsd_coll *coll_find(const struct stat *st)
{
	struct vexfsd_coll *c;

	for (c = sched.colls; c; c = c->next)
		if (c->dev == st->st_dev && c->ino == st->st_ino)
			return c;
	return NULL;
}

static struct vexfsd_coll *coll_add(const char *path, const struct stat *st)
{
	struct vexfsd_coll *c = calloc(1, sizeof(*c)), **pp;

	if (!c || !(c->path = strdup(path))) {
		free(c);
		log_err("out of memory; %s not tracked", path);
		return NULL;
	}
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	for (pp = &sched.colls; *pp; pp = &(*pp)->next)
		;
	*pp = c;
	return c;
}

/*
 * The same collection seen at another path: a rename (take the new
 * path) or a second mount of it (keep the old one while it still leads
 * there, so the name in the logs does not flip between scans).
 */
static void coll_rename(struct vexfsd_coll *c, const char *path)
{
	struct stat st;
	char *copy;

	if (!strcmp(c->path, path))
		return;
	if (!stat(c->path, &st) && st.st_dev == c->dev && st.st_ino == c->ino)
		return;
	copy = strdup(path);
	if (!copy)
		return;
	log_info("collection %s is now %s", c->path, path);
	free(c->path);
	c->path = copy;
}

static void coll_forget(struct vexfsd_coll **pp)
{
	struct vexfsd_coll *c = *pp;

	*pp = c->next;
	free(c->path);
	free(c);
}

/* Dead nodes over all nodes of the published graph (see the top). */
static double dead_share(const struct vexfsd_coll *c)
{
	uint64_t indexed = c->info.indexed, nodes;

	if (!indexed)
		return 0;
	nodes = c->graph_nodes;
	if (!nodes)
		nodes = indexed + (c->info.slots - c->info.count);
	if (nodes <= indexed)
		return 0;
	return (double)(nodes - indexed) / (double)nodes;
}

/* Why c needs an automatic build now, or NULL. */
static const char *build_reason(const struct vexfsd_coll *c, double now)
{
	const struct vexfsd_config *cfg = sched.cfg;
	double share;

	if (c->job || c->running || !c->info.count || now < c->retry_at)
		return NULL;
	if (c->built && c->info.seq == c->built_seq)
		return NULL;
	if (c->info.unindexed >= cfg->index_threshold)
		return "unindexed vectors";
	share = dead_share(c);
	if (cfg->rebuild_dead_share > 0 && share >= cfg->rebuild_dead_share)
		return "dead share";
	return NULL;
}

/* ==== the queue ==== */

static struct vexfsd_job *job_new(struct vexfsd_coll *c, int fd, bool manual)
{
	struct vexfsd_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->id = ++sched.last_job_id;
	j->coll = c;
	j->fd = fd;
	j->manual = manual;
	c->job = j;
	return j;
}

/* Manual jobs after the manual jobs already queued; automatic ones last. */
static void queue_insert(struct vexfsd_job *j)
{
	struct vexfsd_job **pp = &sched.queue;

	while (*pp && (!j->manual || (*pp)->manual))
		pp = &(*pp)->next;
	j->next = *pp;
	*pp = j;
}

static void queue_remove(struct vexfsd_job *j)
{
	struct vexfsd_job **pp;

	for (pp = &sched.queue; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			j->next = NULL;
			return;
		}
	}
}

/* Builds that will run before j: those ahead of it, and the running one. */
static unsigned int queue_position(const struct vexfsd_job *j)
{
	const struct vexfsd_job *q;
	unsigned int n = sched.running ? 1 : 0;

	for (q = sched.queue; q && q != j; q = q->next)
		n++;
	return n;
}

static void job_free(struct vexfsd_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

/* ==== running builds ==== */

/* Open the job's directory, and make sure it is still the same one. */
static int job_open(struct vexfsd_job *j)
{
	struct stat st;

	if (j->fd < 0) {
		j->fd = open(j->coll->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j->fd < 0)
			return -errno;
	}
	if (fstat(j->fd, &st))
		return -errno;
	if (st.st_dev != j->coll->dev || st.st_ino != j->coll->ino)
		return -ESTALE;
	return 0;
}

static void note_success(struct vexfsd_coll *c, int fd,
			 const struct libvexfs_index_stats *st)
{
	double secs = st->read_seconds + st->build_seconds + st->publish_seconds;

	c->builds++;
	c->last_build = time(NULL);
	c->last = *st;
	c->built = true;
	c->built_seq = st->seq;
	c->graph_nodes = st->vectors;
	c->last_error = 0;
	c->backoff = 0;
	c->retry_at = 0;
	/* What LIST shows until the next scan. */
	libvexfs_collection_info(fd, &c->info);
	log_info("%s: index published: %llu vectors, %llu bytes, %.1f s "
		 "(read %.1f, build %.1f on %s, publish %.1f)", c->path,
		 (unsigned long long)st->vectors,
		 (unsigned long long)st->graph_bytes, secs, st->read_seconds,
		 st->build_seconds, st->on_codes ? "codes" : "floats",
		 st->publish_seconds);
}

static void note_failure(struct vexfsd_coll *c, int err)
{
	c->last_error = -err;
	c->backoff = c->backoff ? c->backoff * 2 : RETRY_MIN;
	if (c->backoff > RETRY_MAX)
		c->backoff = RETRY_MAX;
	c->retry_at = monotonic_seconds() + c->backoff;
	switch (err) {
	case -ENODATA:
		log_info("%s: no vectors to index", c->path);
		break;
	case -ENOENT:
	case -ENOTTY:
	case -ENODEV:
	case -ESTALE:
	case -EIO:
		/* Deleted or unmounted under us: the next scan sorts it out. */
		log_notice("%s: build abandoned, the collection went away: %s",
			   c->path, strerror(-err));
		break;
	default:
		log_warn("%s: build failed: %s; next automatic try in %u s",
			 c->path, strerror(-err), c->backoff);
	}
}

/* The job ended (err) or never started; tell whoever waits, let go of it. */
static void job_finish(struct vexfsd_job *j, int err,
		       const struct libvexfs_index_stats *st)
{
	struct vexfsd_coll *c = j->coll;

	c->running = false;
	if (c->job == j)
		c->job = NULL;
	if (!err)
		note_success(c, j->fd, st);
	else
		note_failure(c, err);
	request_job_done(j->id, err, st);
	job_free(j);
}

static void job_start(struct vexfsd_job *j)
{
	const struct vexfsd_config *cfg = sched.cfg;
	struct libvexfs_index_params p = {
		.m = cfg->m,
		.ef_construction = cfg->ef_construction,
		.threads = cfg->threads,
		.keep_pruned = cfg->keep_pruned,
	};
	struct libvexfs_index_stats none = { 0 };
	int err;

	j->coll->job = NULL;
	err = job_open(j);
	if (err) {
		job_finish(j, err, &none);
		return;
	}
	j->coll->running = true;
	sched.running = j;
	snprintf(sched.phase, sizeof(sched.phase), "start");
	sched.done = sched.total = 0;
	log_info("%s: building the index (%s; %llu vectors, %llu unindexed)",
		 j->coll->path, j->manual ? "asked for" : j->reason,
		 (unsigned long long)j->coll->info.count,
		 (unsigned long long)j->coll->info.unindexed);
	worker_submit(j->fd, &p);
}

void sched_kick(void)
{
	struct vexfsd_job *j;

	while (!sched.running && (j = sched.queue)) {
		queue_remove(j);
		job_start(j);
	}
}

void sched_worker_event(void)
{
	struct worker_report r;
	struct vexfsd_job *j = sched.running;

	worker_collect(&r);
	if (!j)
		return;
	if (r.progress) {
		snprintf(sched.phase, sizeof(sched.phase), "%s", r.phase);
		sched.done = r.done;
		sched.total = r.total;
		request_job_progress(j->id, r.phase, r.done, r.total);
	}
	if (r.finished) {
		sched.running = NULL;
		job_finish(j, r.err, &r.st);
		sched_kick();
	}
}

/* ==== scans ==== */

void sched_scan_begin(void)
{
	sched.gen++;
}

void sched_seen(const char *path, const struct stat *st,
		const struct libvexfs_collection_info *info)
{
	struct vexfsd_coll *c = coll_find(st);

	if (!c) {
		c = coll_add(path, st);
		if (!c)
			return;
		log_info("%s: found a collection: %llu vectors, %llu indexed", path,
			 (unsigned long long)info->count,
			 (unsigned long long)info->indexed);
		/* Its history is unknown: it may be in the middle of an import. */
		c->changing = true;
	} else {
		coll_rename(c, path);
		c->changing = info->seq != c->info.seq;
	}
	c->info = *info;
	c->gen = sched.gen;
}

static void maybe_queue(struct vexfsd_coll *c, double now)
{
	const char *why = build_reason(c, now);
	double settle = (double)SETTLE_SCANS * sched.cfg->scan_interval;
	struct vexfsd_job *j;

	if (!why) {
		c->eligible_since = 0;
		return;
	}
	if (!c->eligible_since)
		c->eligible_since = now;
	if (c->changing && now - c->eligible_since < settle) {
		log_debug("%s: %s, still changing; waiting", c->path, why);
		return;
	}
	c->eligible_since = 0;
	j = job_new(c, -1, false);
	if (!j) {
		log_err("%s: out of memory; build not queued", c->path);
		return;
	}
	j->reason = why;
	queue_insert(j);
	log_debug("%s: build queued (%s)", c->path, why);
}

void sched_scan_end(void)
{
	struct vexfsd_coll **pp = &sched.colls, *c;
	double now = monotonic_seconds();

	while ((c = *pp)) {
		if (c->gen != sched.gen && !c->job && !c->running) {
			log_info("%s: collection is gone", c->path);
			coll_forget(pp);
			continue;
		}
		if (c->gen == sched.gen)
			maybe_queue(c, now);
		pp = &c->next;
	}
	sched_kick();
}

/* ==== requests ==== */

int sched_request(const char *path, int fd, const struct stat *st,
		  const struct libvexfs_collection_info *info, uint64_t *job,
		  unsigned int *position)
{
	struct vexfsd_coll *c = coll_find(st);
	struct vexfsd_job *j;

	if (!c) {
		c = coll_add(path, st);
		if (!c) {
			close(fd);
			return -ENOMEM;
		}
		c->gen = sched.gen;
	}
	c->info = *info;
	j = c->job;
	if (j) {
		/* Join the queued build; it now runs with the manual ones. */
		close(fd);
		if (!j->manual) {
			queue_remove(j);
			j->manual = true;
			queue_insert(j);
		}
	} else {
		j = job_new(c, fd, true);
		if (!j) {
			close(fd);
			return -ENOMEM;
		}
		queue_insert(j);
	}
	*job = j->id;
	*position = queue_position(j);
	log_debug("%s: build asked for; %u before it", c->path, *position);
	return 0;
}

static void fill_status(const struct vexfsd_coll *c,
			struct vexfsd_coll_status *out)
{
	out->path = c->path;
	out->info = c->info;
	out->state = c->running ? "running" : c->job ? "queued" : "idle";
	out->phase = c->running ? sched.phase : "-";
	out->done = c->running ? sched.done : 0;
	out->total = c->running ? sched.total : 0;
	out->builds = c->builds;
	out->last_build = c->last_build;
	out->last_vectors = c->last.vectors;
	out->last_seconds = c->last.read_seconds + c->last.build_seconds +
			    c->last.publish_seconds;
	out->last_error = c->last_error;
	out->graph_nodes = c->graph_nodes;
}

void sched_status(const char *path, const struct stat *st,
		  const struct libvexfs_collection_info *info,
		  struct vexfsd_coll_status *out)
{
	const struct vexfsd_coll *c = coll_find(st);

	memset(out, 0, sizeof(*out));
	if (c) {
		fill_status(c, out);
	} else {
		out->state = "idle";
		out->phase = "-";
	}
	out->path = path;
	out->info = *info;
}

unsigned int sched_foreach(void (*fn)(const struct vexfsd_coll_status *, void *),
			   void *ctx)
{
	struct vexfsd_coll_status s;
	const struct vexfsd_coll *c;
	unsigned int n = 0;

	for (c = sched.colls; c; c = c->next, n++) {
		fill_status(c, &s);
		fn(&s, ctx);
	}
	return n;
}

/* ==== shutdown ==== */

void sched_shutdown(void)
{
	static const struct libvexfs_index_stats none;
	struct vexfsd_job *j;

	while ((j = sched.queue)) {
		queue_remove(j);
		j->coll->job = NULL;
		request_job_done(j->id, -ESHUTDOWN, &none);
		job_free(j);
	}
	j = sched.running;
	if (worker_stop() && j) {
		log_notice("%s: build abandoned: shutting down", j->coll->path);
		request_job_done(j->id, -ESHUTDOWN, &none);
	}
	/* The running job's fd stays open: the abandoned thread still uses it. */
	while (sched.colls)
		coll_forget(&sched.colls);
}
