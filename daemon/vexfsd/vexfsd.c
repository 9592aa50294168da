// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsd: start-up, the main loop, and the hook for optional subsystems.
 * See vexfsd.h for what the daemon does and which file does what.
 *
 * The daemon always runs in the foreground and logs to stderr: under
 * systemd (Type=simple) the journal takes stderr, and by hand the output
 * is where one looks. -f is accepted for those who expect it.
 *
 * Signals arrive through a signalfd, so the main loop handles them like
 * any other input, at a point where nothing is half-done: SIGTERM and
 * SIGINT stop it (exit 0), SIGHUP asks for a scan now.
 *
 * Exit status: 0 stopped by a signal, 1 could not start (the socket is
 * taken, say), 2 wrong command line or configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "vexfsd.h"

#define MAX_POLL	128
#define MAX_OVERRIDES	64
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ==== optional subsystems ==== */

/*
 * HOOK: optional subsystems. Each entry is a struct vexfsd_subsys (see
 * vexfsd.h); the main loop initialises, polls, ticks and tears down
 * whatever is listed here and needs no other change.
 */
static const struct vexfsd_subsys *const subsystems[] = {
	&telemetry_subsys,	/* daemon/telemetry/, through telemetry_subsys.c */
};

static bool subsys_on[ARRAY_SIZE(subsystems)];

static void subsys_init_all(const struct vexfsd_config *cfg)
{
	const struct vexfsd_subsys *s;
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(subsystems); i++) {
		s = subsystems[i];
		if (s->wanted && !s->wanted(cfg)) {
			log_info("%s: off", s->name);
			continue;
		}
		err = s->init ? s->init(cfg) : 0;
		if (err) {
			log_warn("%s: not started: %s; running without it", s->name,
				 strerror(-err));
			continue;
		}
		subsys_on[i] = true;
		log_info("%s: started", s->name);
	}
}

static void subsys_fini_all(void)
{
	size_t i = ARRAY_SIZE(subsystems);

	/* In reverse, as set up. */
	while (i--)
		if (subsys_on[i] && subsystems[i]->fini)
			subsystems[i]->fini();
}

static void subsys_tick_all(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsystems); i++)
		if (subsys_on[i] && subsystems[i]->tick)
			subsystems[i]->tick();
}

/* Add the subsystems' descriptors to pfd; owner[] says whose each is. */
static int subsys_pollfds(struct pollfd *pfd, size_t *owner, int room)
{
	size_t i;
	int n = 0, fd;

	for (i = 0; i < ARRAY_SIZE(subsystems) && n < room; i++) {
		if (!subsys_on[i] || !subsystems[i]->pollfd)
			continue;
		fd = subsystems[i]->pollfd();
		if (fd < 0)
			continue;
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		owner[n++] = i;
	}
	return n;
}

static void subsys_dispatch(const struct pollfd *pfd, const size_t *owner, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
		    subsystems[owner[i]]->event)
			subsystems[owner[i]]->event();
}

/* ==== the command line ==== */

static const char usage_text[] =
"Usage: vexfsd [-f] [-c FILE] [-s SOCKET] [-o KEY=VALUE]... [OPTIONS]\n"
"\n"
"Finds the vector collections on mounted VexFS filesystems and builds and\n"
"publishes their HNSW indexes; vexfsctl talks to it on a Unix socket.\n"
"Runs in the foreground and logs to stderr.\n"
"\n"
"  -c, --config FILE          configuration file (default " VEXFSD_CONFIG_PATH ";\n"
"                             a missing default file means the defaults)\n"
"  -s, --socket PATH          control socket (socket)\n"
"  -i, --scan-interval SECS   seconds between scans (scan_interval_seconds)\n"
"  -t, --index-threshold N    unindexed vectors that start a build (index_threshold)\n"
"      --rebuild-dead-share F dead share of an index that starts a rebuild\n"
"                             (rebuild_dead_share)\n"
"      --m N                  HNSW links per node (m)\n"
"      --ef-construction N    HNSW build breadth (ef_construction)\n"
"      --threads N            build threads, 0: one per CPU (threads)\n"
"      --keep-pruned yes|no   fill neighbour lists with pruned candidates:\n"
"                             better recall per ef, slower build (keep_pruned)\n"
"      --max-depth N          directory levels searched below a mount (max_depth)\n"
"      --no-telemetry         no BPF telemetry, /metrics or dashboard (telemetry = no)\n"
"      --metrics-port N       port of /metrics and the dashboard on loopback,\n"
"                             0: none (metrics_port, default 9477)\n"
"  -o KEY=VALUE               any configuration key\n"
"  -v, --verbose              log debug messages (log_level = debug)\n"
"  -f, --foreground           accepted; vexfsd always runs in the foreground\n"
"  -h, --help                 this text\n"
"\n"
"Command-line values override the file's. Exit status: 0 stopped by\n"
"SIGTERM or SIGINT, 1 could not start, 2 wrong usage or configuration.\n";

struct override {
	const char *key;
	const char *value;
	char *owned;		/* for -o: the copy key and value point into */
};

struct cmdline {
	const char *config;
	bool config_given;
	struct override ov[MAX_OVERRIDES];
	int nov;
};

enum { OPT_DEAD = 0x100, OPT_M, OPT_EFC, OPT_THREADS, OPT_DEPTH, OPT_KEEP,
       OPT_NO_TEL, OPT_METRICS_PORT };

static int add_override(struct cmdline *cl, const char *key, const char *value)
{
	if (cl->nov == MAX_OVERRIDES) {
		fprintf(stderr, "vexfsd: too many options\n");
		return -1;
	}
	cl->ov[cl->nov].key = key;
	cl->ov[cl->nov++].value = value;
	return 0;
}

static int add_kv_override(struct cmdline *cl, const char *arg)
{
	char *copy = strdup(arg), *eq;

	eq = copy ? strchr(copy, '=') : NULL;
	if (!eq) {
		fprintf(stderr, "vexfsd: -o wants KEY=VALUE, not '%s'\n", arg);
		free(copy);
		return -1;
	}
	*eq = '\0';
	if (add_override(cl, copy, eq + 1)) {
		free(copy);
		return -1;
	}
	cl->ov[cl->nov - 1].owned = copy;
	return 0;
}

/* Options into cl; 0, or the exit status to leave with. */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "scan-interval", required_argument, NULL, 'i' },
		{ "index-threshold", required_argument, NULL, 't' },
		{ "rebuild-dead-share", required_argument, NULL, OPT_DEAD },
		{ "m", required_argument, NULL, OPT_M },
		{ "ef-construction", required_argument, NULL, OPT_EFC },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "keep-pruned", required_argument, NULL, OPT_KEEP },
		{ "max-depth", required_argument, NULL, OPT_DEPTH },
		{ "no-telemetry", no_argument, NULL, OPT_NO_TEL },
		{ "metrics-port", required_argument, NULL, OPT_METRICS_PORT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int opt, rc = 0;

	cl->config = VEXFSD_CONFIG_PATH;
	while (!rc && (opt = getopt_long(argc, argv, "c:s:i:t:o:vfh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cl->config = optarg;
			cl->config_given = true;
			break;
		case 's': rc = add_override(cl, "socket", optarg); break;
		case 'i': rc = add_override(cl, "scan_interval_seconds", optarg); break;
		case 't': rc = add_override(cl, "index_threshold", optarg); break;
		case OPT_DEAD: rc = add_override(cl, "rebuild_dead_share", optarg); break;
		case OPT_M: rc = add_override(cl, "m", optarg); break;
		case OPT_EFC: rc = add_override(cl, "ef_construction", optarg); break;
		case OPT_THREADS: rc = add_override(cl, "threads", optarg); break;
		case OPT_KEEP: rc = add_override(cl, "keep_pruned", optarg); break;
		case OPT_DEPTH: rc = add_override(cl, "max_depth", optarg); break;
		case OPT_NO_TEL: rc = add_override(cl, "telemetry", "no"); break;
		case OPT_METRICS_PORT: rc = add_override(cl, "metrics_port", optarg); break;
		case 'o': rc = add_kv_override(cl, optarg); break;
		case 'v': rc = add_override(cl, "log_level", "debug"); break;
		case 'f': break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		default:
			fprintf(stderr, "Try 'vexfsd --help'.\n");
			return 2;
		}
	}
	if (rc)
		return 2;
	if (optind < argc) {
		fprintf(stderr, "vexfsd: unexpected argument '%s'\nTry 'vexfsd --help'.\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* The file, then the command line over it. 0 or -1 (logged). */
static int configure(const struct cmdline *cl, struct vexfsd_config *cfg)
{
	const char *why;
	int i, rc;

	config_defaults(cfg);
	if (config_load(cfg, cl->config, cl->config_given))
		return -1;
	for (i = 0; i < cl->nov; i++) {
		rc = config_set(cfg, cl->ov[i].key, cl->ov[i].value, &why);
		if (rc == -2)
			log_err("command line: unknown key '%s'", cl->ov[i].key);
		else if (rc)
			log_err("command line: %s, not '%s'", why, cl->ov[i].value);
		if (rc)
			return -1;
	}
	return 0;
}

static void free_cmdline(struct cmdline *cl)
{
	int i;

	for (i = 0; i < cl->nov; i++)
		free(cl->ov[i].owned);
}

/* ==== signals and the main loop ==== */

/* Block the signals we handle (the worker inherits the mask) and read them from an fd. */
static int signals_setup(void)
{
	sigset_t set;
	int fd;

	/* A client that hangs up must not kill us: send() says EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* True when the signal says stop. *scan_now is set by SIGHUP. */
static bool handle_signals(int sigfd, bool *scan_now)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_notice("SIG%s: stopping", sigabbrev_np(si.ssi_signo));
			return true;
		case SIGHUP:
			log_info("SIGHUP: scanning now");
			*scan_now = true;
			break;
		}
	}
	return false;
}

static void scan(const struct vexfsd_config *cfg)
{
	double t0 = monotonic_seconds();

	sched_scan_begin();
	discover_scan(cfg->max_depth, sched_seen);
	sched_scan_end();
	log_debug("scan took %.3f s", monotonic_seconds() - t0);
}

static int main_loop(const struct vexfsd_config *cfg, int sigfd)
{
	struct pollfd pfd[MAX_POLL];
	size_t owner[MAX_POLL];
	double next_scan = 0, now;
	int n, nsub, first_ctl, timeout;
	bool scan_now = false;

	for (;;) {
		now = monotonic_seconds();
		if (scan_now || now >= next_scan) {
			scan(cfg);
			subsys_tick_all();
			scan_now = false;
			now = monotonic_seconds();
			next_scan = now + cfg->scan_interval;
		}
		pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = worker_fd(), .events = POLLIN };
		nsub = subsys_pollfds(pfd + 2, owner, MAX_POLL / 2);
		first_ctl = 2 + nsub;
		n = first_ctl + control_pollfds(pfd + first_ctl, MAX_POLL - first_ctl);
		/* At most a second: idle clients are timed out between polls. */
		timeout = (int)((next_scan - now) * 1000) + 1;
		if (timeout > 1000)
			timeout = 1000;
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return 1;
		}
		if ((pfd[0].revents & POLLIN) && handle_signals(sigfd, &scan_now))
			return 0;
		if (pfd[1].revents & POLLIN)
			sched_worker_event();
		subsys_dispatch(pfd + 2, owner, nsub);
		control_dispatch(pfd + first_ctl, n - first_ctl);
		/* After the requests: a client waits before its build can end. */
		sched_kick();
	}
}

/* A build parameter for the log: 0 means the builder picks. */
static const char *param_text(uint32_t v, char *buf, size_t size)
{
	if (!v)
		return "default";
	snprintf(buf, size, "%u", v);
	return buf;
}

static void log_config(const struct vexfsd_config *cfg)
{
	char m[16], efc[16], threads[16];

	log_notice("started: socket %s, scan every %u s to depth %u, build at "
		   "%llu unindexed or %.0f%% dead; m %s, ef_construction %s, "
		   "threads %s, keep_pruned %s", cfg->socket, cfg->scan_interval,
		   cfg->max_depth,
		   (unsigned long long)cfg->index_threshold,
		   cfg->rebuild_dead_share * 100,
		   param_text(cfg->m, m, sizeof(m)),
		   param_text(cfg->ef_construction, efc, sizeof(efc)),
		   param_text(cfg->threads, threads, sizeof(threads)),
		   cfg->keep_pruned ? "yes" : "no");
}

int main(int argc, char **argv)
{
	struct cmdline cl = { 0 };
	struct vexfsd_config cfg;
	int rc, sigfd, err;

	log_init(LOG_INFO);
	rc = parse_cmdline(argc, argv, &cl);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = configure(&cl, &cfg);
	free_cmdline(&cl);
	if (rc)
		return 2;
	log_set_level(cfg.log_level);

	sigfd = signals_setup();
	if (sigfd < 0) {
		log_err("signals: %s", strerror(-sigfd));
		return 1;
	}
	sched_init(&cfg);
	err = worker_start();
	if (err) {
		log_err("build thread: %s", strerror(-err));
		return 1;
	}
	if (control_open(cfg.socket)) {
		worker_stop();
		return 1;
	}
	subsys_init_all(&cfg);
	log_config(&cfg);

	rc = main_loop(&cfg, sigfd);

	subsys_fini_all();
	sched_shutdown();
	control_close();
	close(sigfd);
	log_notice("stopped");
	return rc;
}
