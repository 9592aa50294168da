// SPDX-License-Identifier: GPL-2.0
/*
 * The telemetry HTTP server (see http.h), on libmicrohttpd.
 *
 * Every response is made whole in memory and handed over, so a slow
 * client never holds a snapshot or a map. The address is checked before
 * anything binds: loopback only unless the caller says otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "libvexfs/libvexfs.h"
#include "telemetry.h"
#include "collections.h"
#include "http.h"
#include "telemetry_dashboard.h"	/* generated: the page as bytes */

/* Requests served, by page: /metrics reports them. */
enum { PAGE_DASHBOARD, PAGE_METRICS, PAGE_STATS, PAGE_OTHER, NR_PAGES };

static const char *const page_paths[NR_PAGES] = {
	"/", "/metrics", "/api/stats", "other",
};

/*
 * Rates need earlier readings. Requests come when they come, so the
 * server keeps a reading at most once a second, the last RATE_READINGS of
 * them, and reports rates against the oldest one of the last
 * RATE_WINDOW_NS: a rate over about ten seconds, whoever polls and how
 * often. Requests are served by one thread (MHD's internal one), which
 * alone touches these.
 */
#define RATE_READINGS	12
#define RATE_STEP_NS	1000000000ull
#define RATE_WINDOW_NS	10000000000ull

static struct {
	struct MHD_Daemon *mhd;
	struct tel_http_config cfg;
	uint64_t requests[NR_PAGES];
	struct telemetry_stats readings[RATE_READINGS];
	unsigned int n_readings, newest;
	struct telemetry_stats since_load;
} http;

/* The reading to take rates against: the oldest within the window. */
static const struct telemetry_stats *rate_base(const struct telemetry_stats *now)
{
	const struct telemetry_stats *base = NULL, *r;
	unsigned int i;

	for (i = 0; i < http.n_readings; i++) {
		r = &http.readings[(http.newest + RATE_READINGS - i) % RATE_READINGS];
		if (now->taken_ns - r->taken_ns > RATE_WINDOW_NS)
			break;
		base = r;
	}
	/* Nothing recent: the last reading, however old, or since load. */
	if (!base && http.n_readings)
		base = &http.readings[http.newest];
	if (!base) {
		memset(&http.since_load, 0, sizeof(http.since_load));
		http.since_load.taken_ns = now->info.loaded_ns;
		base = &http.since_load;
	}
	if (!http.n_readings ||
	    now->taken_ns - http.readings[http.newest].taken_ns >= RATE_STEP_NS) {
		http.newest = (http.newest + 1) % RATE_READINGS;
		http.readings[http.newest] = *now;
		if (http.n_readings < RATE_READINGS)
			http.n_readings++;
	}
	return base;
}

__attribute__((format(printf, 1, 2)))
static void http_log(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (http.cfg.log)
		http.cfg.log(msg);
	else
		fprintf(stderr, "http: %s\n", msg);
}

/* ==== pages ==== */

static void write_requests(FILE *f)
{
	unsigned int p;

	fputs("# HELP vexfs_telemetry_http_requests_total Requests served, by page.\n"
	      "# TYPE vexfs_telemetry_http_requests_total counter\n", f);
	for (p = 0; p < NR_PAGES; p++)
		fprintf(f, "vexfs_telemetry_http_requests_total{path=\"%s\"} %llu\n",
			page_paths[p], (unsigned long long)
			__atomic_load_n(&http.requests[p], __ATOMIC_RELAXED));
}

/* Render into a malloc'ed buffer; NULL on failure. */
static char *render(const char *url, size_t *len, const char **type)
{
	struct telemetry_stats *st = malloc(sizeof(*st));
	char *buf = NULL;
	FILE *f;

	if (!st)
		return NULL;
	f = open_memstream(&buf, len);
	if (!f || telemetry_snapshot(st)) {
		if (f)
			fclose(f);
		free(buf);
		free(st);
		return NULL;
	}
	if (!strcmp(url, "/metrics")) {
		tel_write_prometheus(f, st);
		tel_collections_prometheus(f);
		write_requests(f);
		*type = "text/plain; version=0.0.4; charset=utf-8";
	} else {
		struct jsonw w;

		jw_init(&w, f);
		jw_object_begin(&w, NULL);
		tel_json_fields(&w, st, rate_base(st));
		tel_collections_json(&w);
		jw_object_end(&w);
		*type = "application/json";
	}
	fclose(f);
	free(st);
	return buf;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *type, void *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static const char not_found[] = "not found\n";
	static const char not_allowed[] = "only GET\n";
	unsigned int page = PAGE_OTHER;
	const char *type;
	size_t len;
	char *body;

	(void)cls; (void)version; (void)upload_data; (void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		*upload_data_size = 0;
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     (void *)not_allowed, sizeof(not_allowed) - 1,
			     MHD_RESPMEM_PERSISTENT);
	}
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		page = PAGE_DASHBOARD;
	else if (!strcmp(url, "/metrics"))
		page = PAGE_METRICS;
	else if (!strcmp(url, "/api/stats"))
		page = PAGE_STATS;
	__atomic_fetch_add(&http.requests[page], 1, __ATOMIC_RELAXED);
	if (page == PAGE_DASHBOARD)
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
			     (void *)telemetry_dashboard_html,
			     telemetry_dashboard_html_len, MHD_RESPMEM_PERSISTENT);
	if (page == PAGE_OTHER)
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
			     (void *)not_found, sizeof(not_found) - 1,
			     MHD_RESPMEM_PERSISTENT);
	body = render(url, &len, &type);
	if (!body)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     (void *)"snapshot failed\n", 16, MHD_RESPMEM_PERSISTENT);
	return reply(conn, MHD_HTTP_OK, type, body, len, MHD_RESPMEM_MUST_FREE);
}

/* ==== the address ==== */

union tel_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static int parse_addr(const char *addr, uint16_t port, union tel_sockaddr *sa,
		      bool *loopback)
{
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, addr, &sa->in.sin_addr) == 1) {
		sa->in.sin_family = AF_INET;
		sa->in.sin_port = htons(port);
		*loopback = (ntohl(sa->in.sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sa->in6.sin6_addr) == 1) {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&sa->in6.sin6_addr);
		return 0;
	}
	return -EINVAL;
}

int tel_http_start(const struct tel_http_config *cfg)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	union tel_sockaddr sa;
	bool loopback;
	int err;

	if (http.mhd)
		return -EALREADY;
	if (tel_collections_set(cfg->collections, cfg->n_collections))
		return -ENOMEM;
	http.cfg = *cfg;
	if (!http.cfg.addr)
		http.cfg.addr = TEL_HTTP_DEFAULT_ADDR;
	if (!http.cfg.port)
		http.cfg.port = TEL_HTTP_DEFAULT_PORT;
	err = parse_addr(http.cfg.addr, http.cfg.port, &sa, &loopback);
	if (err) {
		http_log("%s: not a numeric IP address", http.cfg.addr);
		return err;
	}
	if (!loopback && !http.cfg.allow_remote) {
		http_log("%s: not a loopback address; refusing without --allow-remote",
			 http.cfg.addr);
		return -EPERM;
	}
	if (sa.sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	http.mhd = MHD_start_daemon(flags, http.cfg.port, NULL, NULL, handle, NULL,
				    MHD_OPTION_SOCK_ADDR, &sa.sa,
				    MHD_OPTION_CONNECTION_LIMIT, 64u,
				    MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				    MHD_OPTION_END);
	if (!http.mhd) {
		err = errno ? -errno : -EIO;
		http_log("cannot listen on %s port %u: %s", http.cfg.addr,
			 http.cfg.port, strerror(-err));
		return err;
	}
	http_log("serving http://%s%s%s:%u/", sa.sa.sa_family == AF_INET6 ? "[" : "",
		 http.cfg.addr, sa.sa.sa_family == AF_INET6 ? "]" : "", http.cfg.port);
	return 0;
}

void tel_http_stop(void)
{
	if (!http.mhd)
		return;
	MHD_stop_daemon(http.mhd);
	http.mhd = NULL;
}
