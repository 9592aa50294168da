/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vexfsd: the VexFS control-plane daemon. It finds the collections on
 * mounted VexFS filesystems, builds and publishes their HNSW indexes when
 * enough vectors are unindexed (or dead), and answers vexfsctl on a Unix
 * socket. The index is only ever an accelerator: search is exact without
 * it, so every failure here is logged and survived, never fatal.
 *
 * One thread runs the main loop (signals, the control socket, scans); one
 * worker thread runs builds, one at a time. Everything below except
 * worker.c belongs to the main thread. The files, all in daemon/vexfsd/:
 *
 *   vexfsd.c            start-up, the main loop, optional subsystems
 *   log.c               leveled logging to stderr
 *   config.c            the configuration file and its overrides
 *   discover.c          mounts and collections
 *   sched.c             what is known of each collection; what to build
 *   worker.c            the build thread
 *   control.c           the control socket and its clients
 *   request.c           the protocol (common/control_proto.h): requests,
 *                       replies
 *   telemetry_subsys.c  BPF telemetry (daemon/telemetry/) as a subsystem
 */
#ifndef VEXFSD_H
#define VEXFSD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>

#include "libvexfs/indexer.h"
#include "libvexfs/libvexfs.h"

/* ==== configuration (config.c) ==== */

#define VEXFSD_CONFIG_PATH	"/etc/vexfs/vexfsd.conf"

struct vexfsd_config {
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned int scan_interval;	/* seconds between scans */
	uint64_t index_threshold;	/* unindexed vectors that start a build */
	double rebuild_dead_share;	/* dead share of the graph that does; 0: never */
	uint32_t m;			/* HNSW links per node; 0: the builder's default */
	uint32_t ef_construction;	/* 0: the builder's default */
	uint32_t threads;		/* build threads; 0: one per CPU */
	bool keep_pruned;		/* fill neighbour lists (the default) */
	unsigned int max_depth;		/* directory levels searched below a mount */
	int log_level;			/* LOG_ERR .. LOG_DEBUG */
	/* The telemetry subsystem: BPF latency, /metrics and the dashboard. */
	bool telemetry;
	char metrics_address[64];	/* numeric, loopback only */
	uint16_t metrics_port;		/* 0: no HTTP server, maps and pins only */
	uint64_t slow_us;		/* slower operations go to the ring buffer */
};

void config_defaults(struct vexfsd_config *cfg);

/*
 * Set one key from text, as the file or the command line spells it.
 * 0; -1 for a bad value, -2 for an unknown key, with *why saying so.
 */
int config_set(struct vexfsd_config *cfg, const char *key, const char *value,
	       const char **why);

/*
 * Read `key = value` lines from path. A missing file is fine unless
 * must_exist. Errors are logged with the line; 0 or -1.
 */
int config_load(struct vexfsd_config *cfg, const char *path, bool must_exist);

/* ==== logging (log.c) ==== */

void log_init(int level);
void log_set_level(int level);
__attribute__((format(printf, 2, 3)))
void log_msg(int prio, const char *fmt, ...);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/* "err", "warning", "notice", "info", "debug" -> LOG_*, or -1. */
int log_level_parse(const char *name);

/* ==== discovery (discover.c) ==== */

/* Called for each collection found; path and st are the directory's. */
typedef void (*discover_fn)(const char *path, const struct stat *st,
			    const struct libvexfs_collection_info *info);

/* Read the mount table and walk every VexFS mount to max_depth. */
void discover_scan(unsigned int max_depth, discover_fn found);

/* ==== scheduling (sched.c) ==== */

/* A collection as LIST and STATUS report it. */
struct vexfsd_coll_status {
	const char *path;
	struct libvexfs_collection_info info;
	const char *state;		/* "idle", "queued", "running" */
	const char *phase;		/* of the running build, or "-" */
	uint64_t done, total;
	unsigned int builds;
	time_t last_build;		/* wall clock; 0: never */
	uint64_t last_vectors;
	double last_seconds;
	int last_error;			/* positive errno, 0: none */
	uint64_t graph_nodes;		/* 0: unknown */
};

void sched_init(const struct vexfsd_config *cfg);

/* A scan: begin, one sched_seen() per collection found, end. */
void sched_scan_begin(void);
void sched_seen(const char *path, const struct stat *st,
		const struct libvexfs_collection_info *info);
void sched_scan_end(void);

/*
 * A build asked for by a client. Takes fd (the open collection). Sets
 * *job (what the client waits for) and *position (builds before it).
 */
int sched_request(const char *path, int fd, const struct stat *st,
		  const struct libvexfs_collection_info *info, uint64_t *job,
		  unsigned int *position);

/*
 * Fill *out for the collection st, or a fresh record when the daemon
 * does not know it yet. path must outlive *out.
 */
void sched_status(const char *path, const struct stat *st,
		  const struct libvexfs_collection_info *info,
		  struct vexfsd_coll_status *out);

/* Every known collection, in the order found. Returns how many. */
unsigned int sched_foreach(void (*fn)(const struct vexfsd_coll_status *, void *),
			   void *ctx);

/* Start the next queued build if none is running. */
void sched_kick(void);

/* The worker said something: progress, or a build ended. */
void sched_worker_event(void);

/* At exit: abandon the queue, and the running build if there is one. */
void sched_shutdown(void);

/* ==== the build thread (worker.c) ==== */

struct worker_report {
	bool progress;			/* phase, done, total are new */
	bool finished;			/* err and st are the build's result */
	char phase[16];
	uint64_t done, total;
	int err;
	struct libvexfs_index_stats st;
};

/* Start the thread. 0 or -errno. */
int worker_start(void);

/* Readable when worker_collect() has news. */
int worker_fd(void);

/* Build the collection fd (still the caller's) with p. The worker must be idle. */
void worker_submit(int fd, const struct libvexfs_index_params *p);

/* Take the worker's news. A finished build leaves the worker idle. */
void worker_collect(struct worker_report *r);

/*
 * Stop the thread. An idle worker is joined; a busy one is left to die
 * with the process, its build abandoned. True if a build was abandoned.
 */
bool worker_stop(void);

/* ==== the control socket (control.c) ==== */

struct vexfsd_client;
struct pollfd;

/* Listen on path. 0, or -errno (logged). */
int control_open(const char *path);
void control_close(void);

/* Descriptors to poll: the listener and each client. Returns how many. */
int control_pollfds(struct pollfd *pfd, int room);
/* Act on what poll() said about those descriptors. */
void control_dispatch(const struct pollfd *pfd, int n);

/* Queue a reply line; printf-like, '\n' added. */
__attribute__((format(printf, 2, 3)))
void client_printf(struct vexfsd_client *c, const char *fmt, ...);
/* The reply is complete: close once it is written. */
void client_finish(struct vexfsd_client *c);
/* The peer's credentials, taken when it connected. */
const struct ucred *client_cred(const struct vexfsd_client *c);
/* The client waits for job's progress and end. */
void client_wait(struct vexfsd_client *c, uint64_t job);
/*
 * Send a line to every client waiting for job. Lossy lines are dropped
 * for a client that is not keeping up; a final line ends the reply.
 */
void control_broadcast(uint64_t job, const char *line, bool lossy, bool final);

/* ==== the protocol (request.c) ==== */

/* One request line (no '\n') from c. */
void request_handle(struct vexfsd_client *c, char *line);
/* Tell the clients waiting for job. */
void request_job_progress(uint64_t job, const char *phase, uint64_t done,
			  uint64_t total);
void request_job_done(uint64_t job, int err, const struct libvexfs_index_stats *st);

/* ==== optional subsystems (vexfsd.c) ==== */

/*
 * A part of the daemon that is not the index service, shaped like a
 * bpftune plugin: set up once, handed a descriptor to watch, told when it
 * is readable and on every scan, torn down at exit. Any hook may be NULL.
 * A subsystem whose init fails is logged and left out: the index service
 * never depends on one.
 */
struct vexfsd_subsys {
	const char *name;
	bool (*wanted)(const struct vexfsd_config *cfg); /* NULL: always */
	int (*init)(const struct vexfsd_config *cfg);	/* 0 or -errno */
	int (*pollfd)(void);		/* a descriptor to watch, or -1 */
	void (*event)(void);		/* it is readable */
	void (*tick)(void);		/* once per scan interval */
	void (*fini)(void);
};

/* BPF telemetry, /metrics and the dashboard (telemetry_subsys.c). */
extern const struct vexfsd_subsys telemetry_subsys;

#endif /* VEXFSD_H */
