// SPDX-License-Identifier: GPL-2.0
/*
 * vexfs-telemetryd: the telemetry subsystem of vexfsd on its own. Loads
 * and pins the BPF programs, follows the module, and serves /metrics,
 * /api/stats and the dashboard on loopback until SIGINT or SIGTERM.
 *
 *   vexfs-telemetryd [--port N] [--addr IP [--allow-remote]] [--slow-us N]
 *                    [--mode auto|fentry|kprobe] [--pin-dir DIR] [--no-rw]
 *                    [--keep-pins] [--collection DIR]... [--log-slow]
 *                    [--no-http]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "telemetry.h"
#include "http.h"

#define MAX_COLLECTIONS	64

static volatile sig_atomic_t stopping;

static const char usage_text[] =
"Usage: vexfs-telemetryd [OPTIONS]\n"
"Measure VexFS with BPF and serve the results on loopback.\n"
"\n"
"  --port N           HTTP port (default 9477)\n"
"  --addr IP          listen address (default 127.0.0.1)\n"
"  --allow-remote     allow --addr to be other than a loopback address\n"
"  --no-http          no HTTP server: maps and pins only\n"
"  --slow-us N        operations this slow (microseconds) go to the\n"
"                     slow_events ring buffer (default 10000; 0: all)\n"
"  --mode M           auto (fentry, else kprobes), fentry or kprobe\n"
"  --pin-dir DIR      where maps and links are pinned (default /sys/fs/bpf/vexfs)\n"
"  --no-rw            do not measure read and write\n"
"  --keep-pins        leave the maps pinned at exit\n"
"  --collection DIR   report DIR's vector counts in /metrics (repeatable)\n"
"  --log-slow         print slow operations here (then `vexfsctl slow`\n"
"                     does not see them: one reader per ring buffer)\n"
"  -h, --help         this text\n";

struct options {
	struct telemetry_config tel;
	struct tel_http_config http;
	const char *collections[MAX_COLLECTIONS];
	bool no_http;
};

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void log_line(const char *msg)
{
	fprintf(stderr, "vexfs-telemetryd: %s\n", msg);
}

static void print_slow(const struct vexfs_tel_event *e, void *ctx)
{
	(void)ctx;
	printf("%-16s %-7u %-13s %10.3f ms  ino %-10llu err %d\n", e->comm, e->pid,
	       tel_op_name(e->op), e->lat_ns / 1e6, (unsigned long long)e->ino,
	       e->err);
	fflush(stdout);
}

static int parse_number(const char *s, unsigned long long max,
			unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' || *v > max ? -1 : 0;
}

static int parse_mode(const char *s)
{
	if (!strcmp(s, "auto"))
		return VEXFS_TEL_MODE_AUTO;
	if (!strcmp(s, "fentry"))
		return VEXFS_TEL_MODE_FENTRY;
	if (!strcmp(s, "kprobe"))
		return VEXFS_TEL_MODE_KPROBE;
	return -1;
}

enum { O_PORT = 0x100, O_ADDR, O_REMOTE, O_NOHTTP, O_SLOW, O_MODE, O_PINDIR,
       O_NORW, O_KEEP, O_COLL, O_LOGSLOW };

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, O_PORT },
		{ "addr", required_argument, NULL, O_ADDR },
		{ "allow-remote", no_argument, NULL, O_REMOTE },
		{ "no-http", no_argument, NULL, O_NOHTTP },
		{ "slow-us", required_argument, NULL, O_SLOW },
		{ "mode", required_argument, NULL, O_MODE },
		{ "pin-dir", required_argument, NULL, O_PINDIR },
		{ "no-rw", no_argument, NULL, O_NORW },
		{ "keep-pins", no_argument, NULL, O_KEEP },
		{ "collection", required_argument, NULL, O_COLL },
		{ "log-slow", no_argument, NULL, O_LOGSLOW },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long long v;
	int opt, mode;

	o->tel.slow_us = 10000;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case O_PORT:
			if (parse_number(optarg, 65535, &v) || !v)
				goto bad;
			o->http.port = v;
			break;
		case O_ADDR:
			o->http.addr = optarg;
			break;
		case O_REMOTE:
			o->http.allow_remote = true;
			break;
		case O_NOHTTP:
			o->no_http = true;
			break;
		case O_SLOW:
			if (parse_number(optarg, 1ull << 40, &v))
				goto bad;
			o->tel.slow_us = v;
			break;
		case O_MODE:
			mode = parse_mode(optarg);
			if (mode < 0)
				goto bad;
			o->tel.mode = mode;
			break;
		case O_PINDIR:
			o->tel.pin_dir = optarg;
			break;
		case O_NORW:
			o->tel.no_rw = true;
			break;
		case O_KEEP:
			o->tel.keep_pins = true;
			break;
		case O_COLL:
			if (o->http.n_collections == MAX_COLLECTIONS)
				goto bad;
			o->collections[o->http.n_collections++] = optarg;
			break;
		case O_LOGSLOW:
			o->tel.on_slow = print_slow;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vexfs-telemetryd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	o->http.collections = o->collections;
	o->tel.log = log_line;
	o->http.log = log_line;
	return 0;
bad:
	fprintf(stderr, "vexfs-telemetryd: bad value '%s' for --%s\n", optarg,
		opts[opt - O_PORT].name);
	return -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct options o = { 0 };
	int err, rc = 1;

	if (parse_args(argc, argv, &o))
		return 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The server first: a refused address should cost no BPF load. */
	if (!o.no_http && tel_http_start(&o.http))
		return 1;
	err = telemetry_start(&o.tel);
	if (err) {
		fprintf(stderr, "vexfs-telemetryd: cannot start telemetry: %s\n",
			strerror(-err));
		goto cleanup;
	}
	while (!stopping) {
		err = telemetry_poll(500);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "vexfs-telemetryd: poll: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	tel_http_stop();
	telemetry_stop();
	return rc;
}
