// SPDX-License-Identifier: GPL-2.0
/*
 * BPF telemetry as a vexfsd subsystem: started with the daemon, its ring
 * buffer (if any) watched by the main loop, the module followed on every
 * scan, stopped at exit. The configuration's telemetry, metrics_address,
 * metrics_port and slow_us set it up; the HTTP server binds loopback only,
 * and reports the collections the daemon's scans find.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vexfsd.h"
#include "telemetry/telemetry.h"
#include "telemetry/http.h"
#include "telemetry/collections.h"

static void tel_log(const char *msg)
{
	log_info("telemetry: %s", msg);
}

static bool tel_wanted(const struct vexfsd_config *cfg)
{
	return cfg->telemetry;
}

static int tel_init(const struct vexfsd_config *cfg)
{
	struct telemetry_config tel = { .slow_us = cfg->slow_us, .log = tel_log };
	struct tel_http_config http = {
		.addr = cfg->metrics_address,
		.port = cfg->metrics_port,
		.log = tel_log,
	};
	int err;

	/* The server first: a refused address should cost no BPF load. */
	if (cfg->metrics_port) {
		err = tel_http_start(&http);
		if (err)
			return err;
	}
	err = telemetry_start(&tel);
	if (err)
		tel_http_stop();
	return err;
}
static int tel_pollfd(void)
{
	return telemetry_fd();
}

/* Records waiting, or a scan: either way nothing here may block. */
static void tel_poll_now(void)
{
	int err = telemetry_poll(0);

	if (err < 0 && err != -EINTR)
		log_warn("telemetry: poll: %s", strerror(-err));
}

struct dir_list {
	const char **dirs;
	unsigned int n, cap;
};

static void add_dir(const struct vexfsd_coll_status *s, void *ctx)
{
	struct dir_list *l = ctx;
	const char **more;

	if (l->n == l->cap) {
		more = realloc(l->dirs, (l->cap * 2 + 8) * sizeof(*more));
		if (!more)
			return;
		l->dirs = more;
		l->cap = l->cap * 2 + 8;
	}
	l->dirs[l->n++] = s->path;
}

/* The collections the last scan found are the ones /metrics reports. */
static void tel_tick(void)
{
	struct dir_list l = { 0 };

	tel_poll_now();
	sched_foreach(add_dir, &l);
	if (tel_collections_set(l.dirs, l.n))
		log_warn("telemetry: out of memory for the list of collections");
	free(l.dirs);
}

static void tel_fini(void)
{
	tel_http_stop();
	telemetry_stop();
}

const struct vexfsd_subsys telemetry_subsys = {
	.name = "telemetry",
	.wanted = tel_wanted,
	.init = tel_init,
	.pollfd = tel_pollfd,
	.event = tel_poll_now,
	.tick = tel_tick,
	.fini = tel_fini,
};
