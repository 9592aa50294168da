/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the telemetry maps and making sense of them: a snapshot of
 * every operation's histogram and counters, percentiles from the log2
 * histograms, and the snapshot written as Prometheus text or JSON.
 *
 * Works on any map fds: those of the loaded skeleton (the daemon) or
 * those opened from the pins (vexfsctl top and slow, which need no
 * skeleton and load nothing).
 */
#ifndef TELEMETRY_STATS_H
#define TELEMETRY_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>

#include "bpf/telemetry.h"

#define TEL_MAX_ERRNOS	64	/* distinct (op, errno) pairs kept in a snapshot */

/* Map fds; -1 for a map not open. */
struct tel_maps {
	int hist;
	int counters;
	int errors;
	int slow_events;
	int info;
};

struct tel_op_stats {
	uint64_t hist[VEXFS_TEL_BUCKETS];
	uint64_t count;		/* sum of hist: what the percentiles are of */
	struct vexfs_tel_counters c;
};

struct tel_errno_count {
	uint32_t op;
	uint32_t err;
	uint64_t count;
};

struct telemetry_stats {
	uint64_t taken_ns;		/* CLOCK_MONOTONIC of the reading */
	bool attached;			/* programs are running now */
	struct vexfs_tel_info info;
	struct tel_op_stats op[VEXFS_TEL_NR_OPS];
	unsigned int n_errnos;
	struct tel_errno_count errnos[TEL_MAX_ERRNOS];
};

/* Name of op for people and labels ("search"), or "?" */
const char *tel_op_name(unsigned int op);

/* The op named name, or -1. */
int tel_op_parse(const char *name);

/* Paths of the pins: dir/name. */
int tel_pin_path(char *buf, size_t size, const char *dir, const char *name);

/* Whether a loader has links pinned under dir: programs are attached. */
bool tel_links_pinned(const char *dir);

/* Open the pinned maps under dir (NULL: VEXFS_TEL_PIN_DIR). Negative errno. */
int tel_maps_open_pinned(struct tel_maps *m, const char *dir);
void tel_maps_close(struct tel_maps *m);

/* Read every map into st. Negative errno. */
int tel_read(const struct tel_maps *m, struct telemetry_stats *st);

/*
 * The q-quantile (0..1) of a log2 histogram in microseconds, linear
 * within the bucket it falls in; 0 for an empty histogram.
 */
double tel_quantile_us(const uint64_t *hist, double q);

/* Lower and upper bound of bucket b in microseconds. */
uint64_t tel_bucket_lo_us(unsigned int b);
uint64_t tel_bucket_hi_us(unsigned int b);

/* after - before, operation by operation (for rates and windows). */
void tel_delta(const struct telemetry_stats *after,
	       const struct telemetry_stats *before, struct telemetry_stats *d);

/* The Prometheus text exposition format, version 0.0.4. */
void tel_write_prometheus(FILE *f, const struct telemetry_stats *st);

/*
 * JSON fields of an object the caller opened: "taken_ns", "attached",
 * "slow_threshold_us", "mode", "ops": [...] with each op's counters,
 * histogram and percentiles. With prev (may be NULL), also each op's rate
 * per second since prev.
 */
struct jsonw;
void tel_json_fields(struct jsonw *w, const struct telemetry_stats *st,
		     const struct telemetry_stats *prev);
void tel_write_json(FILE *f, const struct telemetry_stats *st,
		    const struct telemetry_stats *prev);

const char *tel_mode_name(unsigned int mode);

#endif /* TELEMETRY_STATS_H */
