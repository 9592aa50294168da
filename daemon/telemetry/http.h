/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The telemetry HTTP server, on loopback unless told otherwise:
 *
 *   GET /            a self-contained live dashboard (no external assets)
 *   GET /metrics     Prometheus text format: latency histograms, counters,
 *                    and the vector counts of the collections named
 *   GET /api/stats   the snapshot as JSON (stats.h)
 *
 * Runs in libmicrohttpd's own thread; snapshots come from
 * telemetry_snapshot(), which may be called from there.
 */
#ifndef TELEMETRY_HTTP_H
#define TELEMETRY_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#define TEL_HTTP_DEFAULT_ADDR	"127.0.0.1"
#define TEL_HTTP_DEFAULT_PORT	9477

struct tel_http_config {
	const char *addr;	/* numeric IPv4 or IPv6; NULL: loopback */
	uint16_t port;		/* 0: TEL_HTTP_DEFAULT_PORT */
	bool allow_remote;	/* without it, only loopback addresses bind */
	const char *const *collections;	/* directories reported in /metrics */
	unsigned int n_collections;
	void (*log)(const char *msg);	/* NULL: stderr */
};

/*
 * Start serving. -EPERM for a non-loopback address without allow_remote,
 * -EINVAL for an address that does not parse, other negative errnos when
 * the server cannot start (port taken: -EADDRINUSE).
 */
int tel_http_start(const struct tel_http_config *cfg);

void tel_http_stop(void);

#endif /* TELEMETRY_HTTP_H */
