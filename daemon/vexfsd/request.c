// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol (common/control_proto.h): one request line in, records
 * and a terminal line out.
 *
 * Paths come from clients that may not be root, and the daemon opens
 * them as root. So a path is resolved once (realpath), opened once, and
 * everything after that works on the open descriptor: the file system
 * type, the owner, and the collection are all checked on what was
 * opened, and a BUILD keeps that descriptor for the build itself, so
 * the directory built is the one whose owner was checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "uapi/vexfs_fs.h"
#include "vexfsd.h"
#include "common/control_proto.h"

/* A directory a request names, resolved and open. */
struct target {
	char path[PATH_MAX];
	int fd;
	struct stat st;
	struct libvexfs_collection_info info;
};

__attribute__((format(printf, 3, 4)))
static void reply_error(struct vexfsd_client *c, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_printf(c, VEXFSD_MSG_ERROR " %d %s", err, msg);
	client_finish(c);
}

/* Open the canonical directory and check it is a collection on VexFS. */
static int target_open(struct target *t, const char **why)
{
	struct statfs sfs;

	t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	if (fstatfs(t->fd, &sfs) || fstat(t->fd, &t->st))
		return -errno;
	if (sfs.f_type != VEXFS_MAGIC) {
		*why = "not on a VexFS filesystem";
		return -ENOTTY;
	}
	return libvexfs_collection_info(t->fd, &t->info);
}

/* Resolve arg into t, or reply with the error and return -1. */
static int target_resolve(struct vexfsd_client *c, char *arg, struct target *t)
{
	const char *why = NULL;
	int err;

	t->fd = -1;
	proto_unescape(arg);
	if (arg[0] != '/') {
		reply_error(c, EINVAL, "the path must be absolute");
		return -1;
	}
	if (!realpath(arg, t->path)) {
		reply_error(c, errno, "%s", strerror(errno));
		return -1;
	}
	err = target_open(t, &why);
	if (!err)
		return 0;
	if (err == -ENOTTY && !why)
		why = "not a vector collection";
	reply_error(c, -err, "%s", why ? why : strerror(-err));
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	return -1;
}

static void send_record(const struct vexfsd_coll_status *s, void *ctx)
{
	struct vexfsd_client *c = ctx;
	const char *metric = libvexfs_metric_name(s->info.metric);
	char path[VEXFSD_LINE_MAX / 2];

	if (proto_escape(s->path, path, sizeof(path)))
		snprintf(path, sizeof(path), "?");
	client_printf(c, VEXFSD_MSG_COLLECTION " dim=%u metric=%s count=%llu "
		      "slots=%llu indexed=%llu unindexed=%llu seq=%llu state=%s "
		      "phase=%s done=%llu total=%llu builds=%u last_build=%lld "
		      "last_vectors=%llu last_seconds=%.3f last_error=%d "
		      "graph_nodes=%llu path=%s",
		      s->info.dim, metric ? metric : "unknown",
		      (unsigned long long)s->info.count,
		      (unsigned long long)s->info.slots,
		      (unsigned long long)s->info.indexed,
		      (unsigned long long)s->info.unindexed,
		      (unsigned long long)s->info.seq, s->state, s->phase,
		      (unsigned long long)s->done, (unsigned long long)s->total,
		      s->builds, (long long)s->last_build,
		      (unsigned long long)s->last_vectors, s->last_seconds,
		      s->last_error, (unsigned long long)s->graph_nodes, path);
}

static void req_list(struct vexfsd_client *c)
{
	unsigned int n = sched_foreach(send_record, c);

	client_printf(c, VEXFSD_MSG_END " %u", n);
	client_finish(c);
}

static void req_status(struct vexfsd_client *c, char *arg)
{
	struct vexfsd_coll_status s;
	struct target t;

	if (target_resolve(c, arg, &t))
		return;
	sched_status(t.path, &t.st, &t.info, &s);
	close(t.fd);
	send_record(&s, c);
	client_printf(c, VEXFSD_MSG_END " 1");
	client_finish(c);
}

static void req_build(struct vexfsd_client *c, char *arg)
{
	const struct ucred *cred = client_cred(c);
	unsigned int position;
	struct target t;
	uint64_t job;
	int err;

	if (target_resolve(c, arg, &t))
		return;
	if (cred->uid != 0 && cred->uid != t.st.st_uid) {
		close(t.fd);
		log_info("%s: build refused to uid %u, not the owner",
			 t.path, (unsigned int)cred->uid);
		reply_error(c, EPERM, "only root or the directory's owner may ask for a build");
		return;
	}
	/* sched takes the descriptor. */
	err = sched_request(t.path, t.fd, &t.st, &t.info, &job, &position);
	if (err) {
		reply_error(c, -err, "%s", strerror(-err));
		return;
	}
	log_info("%s: build asked for by uid %u (pid %d)", t.path,
		 (unsigned int)cred->uid, (int)cred->pid);
	client_printf(c, VEXFSD_MSG_QUEUED " position=%u", position);
	client_wait(c, job);
}

void request_handle(struct vexfsd_client *c, char *line)
{
	char *arg = strchr(line, ' ');

	if (arg)
		*arg++ = '\0';
	if (!strcmp(line, VEXFSD_REQ_LIST) && !arg)
		req_list(c);
	else if (!strcmp(line, VEXFSD_REQ_STATUS) && arg)
		req_status(c, arg);
	else if (!strcmp(line, VEXFSD_REQ_BUILD) && arg)
		req_build(c, arg);
	else
		reply_error(c, EINVAL, "unknown request; want BUILD <dir>, STATUS <dir> or LIST");
}

void request_job_progress(uint64_t job, const char *phase, uint64_t done,
			  uint64_t total)
{
	char line[128];

	snprintf(line, sizeof(line), VEXFSD_MSG_PROGRESS " phase=%s done=%llu total=%llu",
		 phase, (unsigned long long)done, (unsigned long long)total);
	control_broadcast(job, line, true, false);
}

static const char *build_error_text(int err)
{
	switch (err) {
	case -ENODATA:
		return "the collection holds no vectors";
	case -ESHUTDOWN:
		return "vexfsd is shutting down";
	case -ESTALE:
		return "the directory was replaced before its build started";
	default:
		return strerror(-err);
	}
}

void request_job_done(uint64_t job, int err, const struct libvexfs_index_stats *st)
{
	char line[256];

	if (err)
		snprintf(line, sizeof(line), VEXFSD_MSG_ERROR " %d %s", -err,
			 build_error_text(err));
	else
		snprintf(line, sizeof(line), VEXFSD_MSG_DONE " vectors=%llu "
			 "graph_bytes=%llu seq=%llu read_seconds=%.3f "
			 "build_seconds=%.3f built_on=%s publish_seconds=%.3f",
			 (unsigned long long)st->vectors,
			 (unsigned long long)st->graph_bytes,
			 (unsigned long long)st->seq, st->read_seconds,
			 st->build_seconds, st->on_codes ? "codes" : "floats",
			 st->publish_seconds);
	control_broadcast(job, line, false, true);
}
