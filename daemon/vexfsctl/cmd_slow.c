// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl slow: stream the operations slower than a threshold, as bcc's
 * fsslower does, from the slow_events ring buffer the daemon pinned.
 *
 * The programs write an operation to the ring buffer when it takes at
 * least the daemon's threshold (--slow-us of vexfs-telemetryd); this
 * command can only raise that floor. A ring buffer has one consumer at a
 * time: two readers split the records between them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "vexfsctl.h"
#include "common/clock.h"
#include "common/parse.h"
#include "common/jsonw.h"
#include "telemetry/stats.h"

enum { OPT_THRESHOLD = OPT_OWN, OPT_PIN_DIR, OPT_DURATION, OPT_COUNT, OPT_OP };

struct slow_state {
	uint64_t threshold_ns;
	uint64_t start_ns;		/* records older than this were waiting for us */
	int64_t mono_to_real_ns;	/* add to CLOCK_MONOTONIC for wall time */
	int op;				/* only this op, or -1 */
	uint64_t max_count;		/* stop after this many; 0: never */
	uint64_t printed;
};

static volatile sig_atomic_t slow_stop;

static void on_sigint(int sig)
{
	(void)sig;
	slow_stop = 1;
}

static int64_t mono_to_real(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000 + (r.tv_nsec - m.tv_nsec);
}

static void print_text(const struct slow_state *s, const struct vexfs_tel_event *e)
{
	time_t secs = (time_t)((e->ts_ns + s->mono_to_real_ns) / 1000000000);
	char when[16], err[24] = "0";
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (e->err) {
		const char *name = strerrorname_np(e->err);

		snprintf(err, sizeof(err), "%s", name ? name : "?");
	}
	printf("%-8s %-16.16s %-7u %-13s %10.3f %-8s %10llu %9llu\n", when, e->comm,
	       e->pid, tel_op_name(e->op), e->lat_ns / 1e6, err,
	       (unsigned long long)e->ino, (unsigned long long)e->bytes);
}

static void print_json(const struct slow_state *s, const struct vexfs_tel_event *e)
{
	char comm[VEXFS_TEL_COMM_LEN + 1];
	struct jsonw w;

	memcpy(comm, e->comm, VEXFS_TEL_COMM_LEN);
	comm[VEXFS_TEL_COMM_LEN] = '\0';
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_u64(&w, "time_ns", e->ts_ns + s->mono_to_real_ns);
	jw_string(&w, "op", tel_op_name(e->op));
	jw_u64(&w, "lat_ns", e->lat_ns);
	jw_string(&w, "comm", comm);
	jw_u64(&w, "pid", e->pid);
	jw_u64(&w, "tid", e->tid);
	jw_u64(&w, "ino", e->ino);
	jw_u64(&w, "bytes", e->bytes);
	jw_i64(&w, "errno", e->err);
	jw_object_end(&w);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct vexfs_tel_event *e = data;
	struct slow_state *s = ctx;

	if (size < sizeof(*e) || e->ts_ns < s->start_ns ||
	    e->lat_ns < s->threshold_ns || (s->op >= 0 && e->op != (uint32_t)s->op))
		return 0;
	if (ctl.json)
		print_json(s, e);
	else
		print_text(s, e);
	fflush(stdout);
	/* A negative return stops ring_buffer__poll: the count is reached. */
	return s->max_count && ++s->printed >= s->max_count ? -ECANCELED : 0;
}

static int parse_slow_args(int argc, char **argv, struct slow_state *s,
			   const char **pin_dir, uint64_t *duration_ms)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "threshold-us", required_argument, NULL, OPT_THRESHOLD },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "op", required_argument, NULL, OPT_OP },
		{ 0 }
	};
	uint64_t v;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_THRESHOLD:
			if (parse_u64(optarg, &v) || v > (1ull << 40))
				return ctl_usage_error("--threshold-us wants microseconds, not '%s'",
						       optarg);
			s->threshold_ns = v * 1000;
			break;
		case OPT_PIN_DIR:
			*pin_dir = optarg;
			break;
		case OPT_DURATION:
			if (parse_u64(optarg, &v) || v > (1ull << 32))
				return ctl_usage_error("--duration wants seconds, not '%s'", optarg);
			*duration_ms = v * 1000;
			break;
		case OPT_COUNT:
			if (parse_u64(optarg, &s->max_count))
				return ctl_usage_error("--count wants a number, not '%s'", optarg);
			break;
		case OPT_OP:
			s->op = tel_op_parse(optarg);
			if (s->op < 0)
				return ctl_usage_error("--op: no operation '%s'", optarg);
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	return ctl_want_args(argc, argv, 0, "");
}

/* Say so when the daemon's floor is above what was asked for. */
static void check_floor(const struct tel_maps *m, uint64_t threshold_ns)
{
	struct telemetry_stats st;

	if (tel_read(m, &st) || st.info.slow_ns <= threshold_ns || ctl.json)
		return;
	fprintf(stderr, "vexfsctl: slow: the daemon records operations of %llu us "
		"or more; faster ones cannot be shown\n",
		(unsigned long long)(st.info.slow_ns / 1000));
}

int cmd_slow(int argc, char **argv)
{
	struct slow_state s = { .op = -1 };
	struct sigaction sa = { .sa_handler = on_sigint };
	uint64_t duration_ms = 0, deadline = 0;
	const char *pin_dir = NULL;
	struct ring_buffer *rb;
	struct tel_maps m;
	int rc, err = 0;

	rc = parse_slow_args(argc, argv, &s, &pin_dir, &duration_ms);
	if (rc)
		return rc;
	rc = ctl_open_telemetry(pin_dir, &m);
	if (rc)
		return rc;
	check_floor(&m, s.threshold_ns);
	s.start_ns = monotonic_ns();
	s.mono_to_real_ns = mono_to_real();
	if (duration_ms)
		deadline = s.start_ns + duration_ms * 1000000;
	rb = ring_buffer__new(m.slow_events, handle_event, &s, NULL);
	if (!rb) {
		err = -errno;
		tel_maps_close(&m);
		return ctl_fail(err, "slow_events", NULL);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!ctl.json)
		printf("%-8s %-16s %-7s %-13s %10s %-8s %10s %9s\n", "TIME", "COMM",
		       "PID", "OP", "LAT(ms)", "ERR", "INO", "BYTES");
	fflush(stdout);
	while (!slow_stop && (!deadline || monotonic_ns() < deadline)) {
		err = ring_buffer__poll(rb, 200);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err == -ECANCELED)
			err = 0;
		if (err < 0 || (s.max_count && s.printed >= s.max_count))
			break;
		err = 0;
	}
	ring_buffer__free(rb);
	tel_maps_close(&m);
	return err < 0 ? ctl_fail(err, "slow_events", NULL) : CTL_OK;
}
