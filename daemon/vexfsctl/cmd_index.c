// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl index build | index status | index drop.
 *
 * build: when vexfsd answers on its socket, ask it to build (and with
 * --wait, follow the build to its end); otherwise, or with --local, or
 * when build parameters are given, build here and publish to the kernel.
 * status: what vexfsd knows of the collection, or, with no daemon, what
 * the kernel says. drop: search becomes exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "index_params.h"
#include "common/parse.h"
#include "libvexfs/indexer.h"
#include "common/jsonw.h"
#include "common/control_client.h"
#include "common/control_proto.h"

enum { OPT_LOCAL = OPT_INDEX_OWN, OPT_WAIT, OPT_SOCKET };

/* Not an exit status: the daemon is not there, do the work here. */
#define NO_DAEMON	(-100)

struct build_args {
	struct libvexfs_index_params p;
	bool params_given;	/* --m and company: only a local build has them */
	bool local;
	bool wait;
	bool quiet;
	const char *socket;
};

void index_show_progress(void *ctx, const char *phase, uint64_t done,
			 uint64_t total)
{
	(void)ctx;
	if (!ctl.json && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%-8s %llu/%llu", phase,
			(unsigned long long)done, (unsigned long long)total);
}

int index_param_option(int opt, struct libvexfs_index_params *p)
{
	switch (opt) {
	case OPT_M:
		if (parse_u32_range(optarg, 2, 128, &p->m))
			return ctl_usage_error("--m wants 2..128, not '%s'", optarg);
		return CTL_CONTINUE;
	case OPT_EFC:
		if (parse_u32_range(optarg, 1, 4096, &p->ef_construction))
			return ctl_usage_error("--ef-construction wants 1..4096, not '%s'", optarg);
		return CTL_CONTINUE;
	case OPT_THREADS:
		if (parse_u32_range(optarg, 1, 256, &p->threads))
			return ctl_usage_error("--threads wants 1..256, not '%s'", optarg);
		return CTL_CONTINUE;
	case OPT_SEED:
		if (parse_u64(optarg, &p->seed))
			return ctl_usage_error("--seed wants a number, not '%s'", optarg);
		return CTL_CONTINUE;
	case OPT_KEEP:
		if (parse_yes_no(optarg, &p->keep_pruned))
			return ctl_usage_error("--keep-pruned wants yes or no, not '%s'", optarg);
		return CTL_CONTINUE;
	default:
		return CTL_OK;
	}
}

static void print_built(const char *dir, const struct libvexfs_index_stats *st)
{
	struct jsonw w;

	if (!ctl.json) {
		if (isatty(STDERR_FILENO))
			fputc('\n', stderr);
		printf("%s: index published: %llu vectors, %llu bytes, read %.2f s, "
		       "build %.2f s on %s, publish %.2f s\n", dir,
		       (unsigned long long)st->vectors,
		       (unsigned long long)st->graph_bytes, st->read_seconds,
		       st->build_seconds, st->on_codes ? "SQ8 codes" : "floats",
		       st->publish_seconds);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_u64(&w, "vectors", st->vectors);
	jw_u64(&w, "graph_bytes", st->graph_bytes);
	jw_u64(&w, "seq", st->seq);
	jw_double(&w, "read_seconds", st->read_seconds);
	jw_double(&w, "build_seconds", st->build_seconds);
	jw_string(&w, "built_on", st->on_codes ? "codes" : "floats");
	jw_double(&w, "publish_seconds", st->publish_seconds);
	jw_object_end(&w);
}

static int parse_build_args(int argc, char **argv, struct build_args *a)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		INDEX_PARAM_OPTIONS,
		{ "local", no_argument, NULL, OPT_LOCAL },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 }
	};
	struct libvexfs_index_params *p = &a->p;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LOCAL:
			a->local = true;
			break;
		case OPT_WAIT:
			a->wait = true;
			break;
		case OPT_SOCKET:
			a->socket = optarg;
			break;
		case 'q':
			a->quiet = true;
			break;
		default:
			rc = index_param_option(opt, p);
			if (rc == CTL_CONTINUE) {
				a->params_given = true;
				break;
			}
			if (rc == CTL_OK)
				rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	return ctl_want_args(argc, argv, 1, "DIR");
}

static int build_here(const char *dir, struct build_args *a)
{
	struct libvexfs_collection_info info;
	struct libvexfs_index_stats st;
	int rc, fd, err;

	rc = ctl_open_collection(dir, &fd, &info);
	if (rc)
		return rc;
	err = libvexfs_index_build(fd, &a->p, &st);
	close(fd);
	if (err == -ENODATA)
		return ctl_fail(err, dir, "the collection holds no vectors");
	if (err)
		return ctl_fail(err, dir, NULL);
	print_built(dir, &st);
	return CTL_OK;
}

/* ==== talking to vexfsd ==== */

/*
 * Connect to vexfsd. NO_DAEMON when nobody is there to ask (no socket,
 * or a stale one, or one we may not use: then say so and work here).
 */
static int daemon_connect(struct vexfsd_conn *conn, const char *socket)
{
	const char *path = vexfsd_socket_path(socket);
	int err = vexfsd_connect(conn, path);

	if (!err)
		return CTL_OK;
	if (err != -ENOENT)
		fprintf(stderr, "vexfsctl: %s: vexfsd at %s: %s; working without it\n",
			ctl.cmd, path, strerror(-err));
	return NO_DAEMON;
}

/* The canonical path of dir, which the daemon wants (it has another cwd). */
static int absolute_dir(const char *dir, char *abs)
{
	if (!realpath(dir, abs))
		return ctl_fail(errno, dir, NULL);
	return CTL_OK;
}

/* An ERROR line: report it as our own failure. */
static int daemon_error(const char *dir, char *rest)
{
	int err;
	const char *msg = vexfsd_parse_error(rest, &err);

	if (!*msg || !strcmp(msg, strerror(err)))
		return ctl_fail(err, dir, NULL);
	return ctl_fail(err, dir, "%s", msg);
}

/* A DONE line's fields into st. */
static void parse_done(char *rest, struct libvexfs_index_stats *st)
{
	char *key, *value;

	memset(st, 0, sizeof(*st));
	while (proto_next_field(&rest, &key, &value)) {
		if (!strcmp(key, "vectors"))
			st->vectors = strtoull(value, NULL, 10);
		else if (!strcmp(key, "graph_bytes"))
			st->graph_bytes = strtoull(value, NULL, 10);
		else if (!strcmp(key, "seq"))
			st->seq = strtoull(value, NULL, 10);
		else if (!strcmp(key, "read_seconds"))
			st->read_seconds = strtod(value, NULL);
		else if (!strcmp(key, "build_seconds"))
			st->build_seconds = strtod(value, NULL);
		else if (!strcmp(key, "publish_seconds"))
			st->publish_seconds = strtod(value, NULL);
		else if (!strcmp(key, "built_on"))
			st->on_codes = !strcmp(value, "codes");
	}
}

/* A PROGRESS line, on stderr: redrawn on a terminal, a line per phase otherwise. */
static void show_daemon_progress(char *rest, char *last_phase, size_t size)
{
	char *key, *value, *phase = NULL;
	uint64_t done = 0, total = 0;

	while (proto_next_field(&rest, &key, &value)) {
		if (!strcmp(key, "phase"))
			phase = value;
		else if (!strcmp(key, "done"))
			done = strtoull(value, NULL, 10);
		else if (!strcmp(key, "total"))
			total = strtoull(value, NULL, 10);
	}
	if (!phase)
		return;
	if (isatty(STDERR_FILENO))
		index_show_progress(NULL, phase, done, total);
	else if (strcmp(phase, last_phase))
		fprintf(stderr, "vexfsd: %s\n", phase);
	snprintf(last_phase, size, "%s", phase);
}

static int print_queued(const char *dir, uint64_t position)
{
	struct jsonw w;

	if (!ctl.json) {
		printf("%s: index build queued in vexfsd (%llu before it)\n", dir,
		       (unsigned long long)position);
		return CTL_OK;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_bool(&w, "queued", true);
	jw_u64(&w, "position", position);
	jw_object_end(&w);
	return CTL_OK;
}

/* The position=N of a QUEUED line. */
static uint64_t queued_position(char *rest)
{
	char *key, *value;

	while (proto_next_field(&rest, &key, &value))
		if (!strcmp(key, "position"))
			return strtoull(value, NULL, 10);
	return 0;
}

/* Follow the reply to BUILD: QUEUED, PROGRESS..., DONE or ERROR. */
static int follow_build(struct vexfsd_conn *conn, const char *dir,
			const struct build_args *a)
{
	struct libvexfs_index_stats st;
	char phase[16] = "", *line, *rest, *type;
	uint64_t position;

	while ((line = vexfsd_next_line(conn))) {
		type = vexfsd_line_type(line, &rest);
		if (!strcmp(type, VEXFSD_MSG_ERROR))
			return daemon_error(dir, rest);
		if (!strcmp(type, VEXFSD_MSG_DONE)) {
			parse_done(rest, &st);
			print_built(dir, &st);
			return CTL_OK;
		}
		if (!strcmp(type, VEXFSD_MSG_QUEUED)) {
			position = queued_position(rest);
			if (!a->wait)
				return print_queued(dir, position);
			if (!a->quiet && !ctl.json && position)
				fprintf(stderr, "vexfsd: queued, %llu before it\n",
					(unsigned long long)position);
		} else if (!strcmp(type, VEXFSD_MSG_PROGRESS) && !a->quiet && !ctl.json) {
			show_daemon_progress(rest, phase, sizeof(phase));
		}
	}
	return ctl_fail(ECONNRESET, dir, "vexfsd hung up before the build ended");
}

/* Ask vexfsd to build dir; NO_DAEMON if it is not there. */
static int build_in_daemon(const char *dir, const struct build_args *a)
{
	struct vexfsd_conn conn;
	char abs[PATH_MAX];
	int rc, err;

	rc = absolute_dir(dir, abs);
	if (rc)
		return rc;
	rc = daemon_connect(&conn, a->socket);
	if (rc)
		return rc;
	err = vexfsd_request(&conn, VEXFSD_REQ_BUILD, abs);
	rc = err ? ctl_fail(err, dir, "asking vexfsd") : follow_build(&conn, dir, a);
	vexfsd_disconnect(&conn);
	return rc;
}

int cmd_index_build(int argc, char **argv)
{
	struct build_args a = {
		.p = INDEX_PARAMS_DEFAULT,
	};
	int rc;

	rc = parse_build_args(argc, argv, &a);
	if (rc)
		return rc;
	if (!a.local && !a.params_given) {
		rc = build_in_daemon(argv[optind], &a);
		if (rc != NO_DAEMON)
			return rc;
	}
	return build_here(argv[optind], &a);
}

/* ==== index status ==== */

/* A record field into JSON: numbers as numbers, the rest as strings. */
static void json_field(struct jsonw *w, const char *key, const char *value)
{
	char *end;

	if (!strcmp(key, "path")) {
		jw_string(w, "path", value);	/* canonical, as vexfsd saw it */
		return;
	}
	if (*value >= '0' && *value <= '9') {
		if (!strchr(value, '.')) {
			unsigned long long v = strtoull(value, &end, 10);

			if (!*end) {
				jw_u64(w, key, v);
				return;
			}
		} else {
			double d = strtod(value, &end);

			if (!*end) {
				jw_double(w, key, d);
				return;
			}
		}
	}
	jw_string(w, key, value);
}

static const char *field_of(char **keys, char **values, int n, const char *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(keys[i], key))
			return values[i];
	return "";
}

static void print_status_text(const char *dir, char **k, char **v, int n)
{
	const char *state = field_of(k, v, n, "state");
	long long when = atoll(field_of(k, v, n, "last_build"));
	int err = atoi(field_of(k, v, n, "last_error"));
	char stamp[64] = "";
	time_t t = (time_t)when;
	struct tm tm;

	printf("collection  %s\n", dir);
	printf("vectors     %s\n", field_of(k, v, n, "count"));
	printf("indexed     %s\n", field_of(k, v, n, "indexed"));
	printf("unindexed   %s\n", field_of(k, v, n, "unindexed"));
	if (!strcmp(state, "running"))
		printf("build       running: %s %s/%s\n", field_of(k, v, n, "phase"),
		       field_of(k, v, n, "done"), field_of(k, v, n, "total"));
	else
		printf("build       %s\n", state);
	if (when && localtime_r(&t, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	if (when)
		printf("last build  %s, %s vectors, %.1f s\n", stamp,
		       field_of(k, v, n, "last_vectors"),
		       atof(field_of(k, v, n, "last_seconds")));
	else
		printf("last build  none since vexfsd started\n");
	printf("builds      %s since vexfsd started\n", field_of(k, v, n, "builds"));
	if (err)
		printf("last error  %s\n", strerror(err));
}

#define MAX_FIELDS	32

/* A COLLECTION record, as text or JSON. */
static void print_status_record(const char *dir, char *rest)
{
	char *keys[MAX_FIELDS], *values[MAX_FIELDS];
	struct jsonw w;
	int n = 0, i;

	while (n < MAX_FIELDS && proto_next_field(&rest, &keys[n], &values[n]))
		n++;
	if (!ctl.json) {
		print_status_text(dir, keys, values, n);
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_bool(&w, "daemon", true);
	for (i = 0; i < n; i++)
		json_field(&w, keys[i], values[i]);
	jw_object_end(&w);
}

/* No daemon: what the kernel says. */
static int status_here(const char *dir)
{
	struct libvexfs_collection_info info;
	struct jsonw w;
	int rc, fd;

	rc = ctl_open_collection(dir, &fd, &info);
	if (rc)
		return rc;
	close(fd);
	if (!ctl.json) {
		printf("collection  %s\n", dir);
		printf("vectors     %llu\n", (unsigned long long)info.count);
		printf("indexed     %llu\n", (unsigned long long)info.indexed);
		printf("unindexed   %llu\n", (unsigned long long)info.unindexed);
		printf("build       vexfsd is not running\n");
		return CTL_OK;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_bool(&w, "daemon", false);
	jw_u64(&w, "count", info.count);
	jw_u64(&w, "slots", info.slots);
	jw_u64(&w, "indexed", info.indexed);
	jw_u64(&w, "unindexed", info.unindexed);
	jw_u64(&w, "seq", info.seq);
	jw_object_end(&w);
	return CTL_OK;
}

static int status_in_daemon(const char *dir, const char *socket)
{
	struct vexfsd_conn conn;
	char abs[PATH_MAX], *line = NULL, *type, *rest;
	bool got = false;
	int rc, err;

	rc = absolute_dir(dir, abs);
	if (rc)
		return rc;
	rc = daemon_connect(&conn, socket);
	if (rc)
		return rc;
	err = vexfsd_request(&conn, VEXFSD_REQ_STATUS, abs);
	rc = err ? ctl_fail(err, dir, "asking vexfsd") : CTL_FAIL;
	while (!err && (line = vexfsd_next_line(&conn))) {
		type = vexfsd_line_type(line, &rest);
		if (!strcmp(type, VEXFSD_MSG_ERROR)) {
			rc = daemon_error(dir, rest);
			break;
		}
		if (!strcmp(type, VEXFSD_MSG_COLLECTION) && !got) {
			print_status_record(dir, rest);
			got = true;
		} else if (!strcmp(type, VEXFSD_MSG_END)) {
			rc = got ? CTL_OK : ctl_fail(EPROTO, dir, "vexfsd sent no record");
			break;
		}
	}
	if (!err && !line)
		rc = ctl_fail(ECONNRESET, dir, "vexfsd hung up");
	vexfsd_disconnect(&conn);
	return rc;
}

int cmd_index_status(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ 0 }
	};
	const char *socket = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == OPT_SOCKET) {
			socket = optarg;
			continue;
		}
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 1, "DIR");
	if (rc)
		return rc;
	rc = status_in_daemon(argv[optind], socket);
	if (rc != NO_DAEMON)
		return rc;
	return status_here(argv[optind]);
}

int cmd_index_drop(int argc, char **argv)
{
	struct libvexfs_collection_info info;
	struct jsonw w;
	int opt, rc, fd, err;
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 1, "DIR");
	if (rc)
		return rc;
	rc = ctl_open_collection(argv[optind], &fd, &info);
	if (rc)
		return rc;
	err = libvexfs_index_drop(fd);
	close(fd);
	if (err)
		return ctl_fail(err, argv[optind], err == -ENODATA ? "no index to drop" : NULL);
	if (!ctl.json) {
		printf("%s: index dropped; search is exact\n", argv[optind]);
		return CTL_OK;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", argv[optind]);
	jw_bool(&w, "dropped", true);
	jw_object_end(&w);
	return CTL_OK;
}
