// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl top: a live view of the telemetry maps that vexfs-telemetryd
 * or vexfsd pinned: per operation the call rate, the latency percentiles
 * from the log2 histogram, and the histogram itself. Reads the pins, so
 * it runs beside the daemon and loads nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "common/parse.h"
#include "telemetry/stats.h"

enum { OPT_ONCE = OPT_OWN, OPT_INTERVAL, OPT_PIN_DIR, OPT_WINDOW, OPT_ALL };

struct top_opts {
	bool once;
	bool window;		/* latencies of the last interval, not since load */
	bool all;		/* idle operations too */
	uint32_t interval_ms;
	const char *pin_dir;
};

#define BAR_WIDTH	40

static void fmt_us(char *buf, size_t size, double us)
{
	if (us <= 0)
		snprintf(buf, size, "-");
	else if (us < 1000)
		snprintf(buf, size, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, size, "%.1fms", us / 1e3);
	else
		snprintf(buf, size, "%.2fs", us / 1e6);
}

/* Rows from the first used bucket to the last, as bcc's print_log2_hist. */
static void print_hist(const uint64_t *hist)
{
	int first = -1, last = -1, b, i;
	uint64_t max = 0;

	for (b = 0; b < VEXFS_TEL_BUCKETS; b++) {
		if (!hist[b])
			continue;
		if (first < 0)
			first = b;
		last = b;
		if (hist[b] > max)
			max = hist[b];
	}
	if (first < 0)
		return;
	printf("%24s : %-8s |%-*s|\n", "usecs", "count", BAR_WIDTH, "distribution");
	for (b = first; b <= last; b++) {
		int stars = (int)(hist[b] * BAR_WIDTH / max);
		char range[32];

		snprintf(range, sizeof(range), "%llu -> %llu",
			 (unsigned long long)tel_bucket_lo_us(b),
			 (unsigned long long)tel_bucket_hi_us(b) - 1);
		printf("%24s : %-8llu |", range, (unsigned long long)hist[b]);
		for (i = 0; i < BAR_WIDTH; i++)
			putchar(i < stars ? '*' : ' ');
		printf("|\n");
	}
}

static void print_table(const struct telemetry_stats *cur,
			const struct telemetry_stats *prev,
			const struct top_opts *o)
{
	struct telemetry_stats d;
	const struct telemetry_stats *lat;
	double secs = (cur->taken_ns - prev->taken_ns) / 1e9;
	unsigned int op;

	tel_delta(cur, prev, &d);
	lat = o->window ? &d : cur;
	printf("VexFS telemetry: %s by %s, slow >= %.0f us, latencies %s\n\n",
	       cur->attached ? "attached" : "NOT attached",
	       tel_mode_name(cur->info.mode), cur->info.slow_ns / 1e3,
	       o->window ? "of the last interval" : "since load");
	printf("%-14s %9s %10s %7s %8s %8s %8s %8s\n", "OP", "CALLS/s", "CALLS",
	       "ERRORS", "AVG", "P50", "P95", "P99");
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++) {
		const struct tel_op_stats *s = &cur->op[op], *l = &lat->op[op];
		char avg[16], p50[16], p95[16], p99[16];

		if (!o->all && !s->count)
			continue;
		fmt_us(avg, sizeof(avg), l->count ? l->c.total_ns / 1e3 / l->count : 0);
		fmt_us(p50, sizeof(p50), tel_quantile_us(l->hist, 0.50));
		fmt_us(p95, sizeof(p95), tel_quantile_us(l->hist, 0.95));
		fmt_us(p99, sizeof(p99), tel_quantile_us(l->hist, 0.99));
		printf("%-14s %9.1f %10llu %7llu %8s %8s %8s %8s\n", tel_op_name(op),
		       secs > 0 ? d.op[op].count / secs : 0,
		       (unsigned long long)s->count, (unsigned long long)s->c.errors,
		       avg, p50, p95, p99);
	}
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++) {
		if (!lat->op[op].count)
			continue;
		printf("\n%s:\n", tel_op_name(op));
		print_hist(lat->op[op].hist);
	}
}

static int parse_top_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "window", no_argument, NULL, OPT_WINDOW },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_INTERVAL:
			if (parse_u32_range(optarg, 10, 3600000, &o->interval_ms))
				return ctl_usage_error("--interval wants 10..3600000 ms, not '%s'",
						       optarg);
			break;
		case OPT_PIN_DIR:
			o->pin_dir = optarg;
			break;
		case OPT_WINDOW:
			o->window = true;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	return ctl_want_args(argc, argv, 0, "");
}

/* Open the pins, with a hint when nothing has pinned them. */
int ctl_open_telemetry(const char *pin_dir, struct tel_maps *m)
{
	int err = tel_maps_open_pinned(m, pin_dir);

	if (err == -ENOENT)
		return ctl_fail(err, pin_dir ? pin_dir : VEXFS_TEL_PIN_DIR,
				"no telemetry pinned there: is vexfs-telemetryd or vexfsd running?");
	if (err)
		return ctl_fail(err, pin_dir ? pin_dir : VEXFS_TEL_PIN_DIR, NULL);
	return CTL_OK;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = { .interval_ms = 1000 };
	struct telemetry_stats prev, cur;
	bool tty = isatty(STDOUT_FILENO);
	struct tel_maps m;
	int rc, err;

	rc = parse_top_args(argc, argv, &o);
	if (rc)
		return rc;
	rc = ctl_open_telemetry(o.pin_dir, &m);
	if (rc)
		return rc;
	err = tel_read(&m, &prev);
	while (!err) {
		/* Even --once measures one interval: a rate needs two readings. */
		sleep_ms(o.interval_ms);
		err = tel_read(&m, &cur);
		if (err)
			break;
		cur.attached = tel_links_pinned(o.pin_dir);
		if (ctl.json) {
			tel_write_json(stdout, &cur, &prev);
		} else {
			if (tty && !o.once)
				fputs("\033[H\033[2J", stdout);
			print_table(&cur, &prev, &o);
		}
		fflush(stdout);
		if (o.once)
			break;
		prev = cur;
	}
	tel_maps_close(&m);
	return err ? ctl_fail(err, "reading the telemetry maps", NULL) : CTL_OK;
}
