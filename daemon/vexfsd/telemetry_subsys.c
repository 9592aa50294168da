// SPDX-License-Identifier: GPL-2.0
/*
 * BPF telemetry as a vexfsd subsystem: started with the daemon, its ring
 * buffer (if any) watched by the main loop, the module followed on every
 * scan, stopped at exit. vexfsd lists it as `&telemetry_subsys` (the
 * Makefile links it in); telemetry_subsys_configure() sets anything but
 * the defaults (slow threshold 10 ms, auto mode, HTTP on 127.0.0.1:9477).
 */
#include <errno.h>
#include <string.h>

#include "vexfsd.h"
#include "telemetry/telemetry.h"
#include "telemetry/http.h"

static struct telemetry_config tel_cfg = { .slow_us = 10000 };
static struct tel_http_config http_cfg;
static bool http_off;

static void tel_log(const char *msg)
{
	log_info("telemetry: %s", msg);
}

void telemetry_subsys_configure(const struct telemetry_config *tel,
				const struct tel_http_config *http)
{
	if (tel)
		tel_cfg = *tel;
	if (http)
		http_cfg = *http;
	http_off = !http;
}

static int tel_init(const struct vexfsd_config *cfg)
{
	int err;

	(void)cfg;
	if (!tel_cfg.log)
		tel_cfg.log = tel_log;
	if (!http_cfg.log)
		http_cfg.log = tel_log;
	/* The server first: a refused address should cost no BPF load. */
	if (!http_off) {
		err = tel_http_start(&http_cfg);
		if (err)
			return err;
	}
	err = telemetry_start(&tel_cfg);
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

static void tel_fini(void)
{
	tel_http_stop();
	telemetry_stop();
}

const struct vexfsd_subsys telemetry_subsys = {
	.name = "telemetry",
	.init = tel_init,
	.pollfd = tel_pollfd,
	.event = tel_poll_now,
	.tick = tel_poll_now,
	.fini = tel_fini,
};
