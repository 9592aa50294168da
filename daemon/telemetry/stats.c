// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots of the telemetry maps, percentiles and exposition formats
 * (see stats.h).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common/clock.h"
#include "common/jsonw.h"
#include "stats.h"

static const char *const op_names[VEXFS_TEL_NR_OPS] = {
	[VEXFS_TEL_LOOKUP] = "lookup",
	[VEXFS_TEL_CREATE] = "create",
	[VEXFS_TEL_UNLINK] = "unlink",
	[VEXFS_TEL_MKDIR] = "mkdir",
	[VEXFS_TEL_RMDIR] = "rmdir",
	[VEXFS_TEL_RENAME] = "rename",
	[VEXFS_TEL_SETATTR] = "setattr",
	[VEXFS_TEL_FSYNC] = "fsync",
	[VEXFS_TEL_READ] = "read",
	[VEXFS_TEL_WRITE] = "write",
	[VEXFS_TEL_SET_VECTOR] = "set_vector",
	[VEXFS_TEL_BATCH_INSERT] = "batch_insert",
	[VEXFS_TEL_SEARCH] = "search",
	[VEXFS_TEL_SEARCH_INDEX] = "search_index",
	[VEXFS_TEL_PUBLISH_INDEX] = "publish_index",
};

const char *tel_op_name(unsigned int op)
{
	return op < VEXFS_TEL_NR_OPS && op_names[op] ? op_names[op] : "?";
}

int tel_op_parse(const char *name)
{
	int op;

	for (op = 0; op < VEXFS_TEL_NR_OPS; op++)
		if (!strcmp(op_names[op], name))
			return op;
	return -1;
}

const char *tel_mode_name(unsigned int mode)
{
	switch (mode) {
	case VEXFS_TEL_MODE_FENTRY:	return "fentry";
	case VEXFS_TEL_MODE_KPROBE:	return "kprobe";
	default:			return "auto";
	}
}

int tel_pin_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir ? dir : VEXFS_TEL_PIN_DIR, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int open_pin(const char *dir, const char *name, int *fd)
{
	char path[256];
	int err = tel_pin_path(path, sizeof(path), dir, name);

	if (err)
		return err;
	*fd = bpf_obj_get(path);
	return *fd < 0 ? -errno : 0;
}

bool tel_links_pinned(const char *dir)
{
	char path[256];
	struct dirent *de;
	bool any = false;
	DIR *d;

	if (tel_pin_path(path, sizeof(path), dir, "links"))
		return false;
	d = opendir(path);
	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.';
	closedir(d);
	return any;
}

int tel_maps_open_pinned(struct tel_maps *m, const char *dir)
{
	int err;

	*m = (struct tel_maps){ -1, -1, -1, -1, -1 };
	err = open_pin(dir, "hist", &m->hist);
	if (!err)
		err = open_pin(dir, "counters", &m->counters);
	if (!err)
		err = open_pin(dir, "errors", &m->errors);
	if (!err)
		err = open_pin(dir, "slow_events", &m->slow_events);
	if (!err)
		err = open_pin(dir, "info", &m->info);
	if (err)
		tel_maps_close(m);
	return err;
}

void tel_maps_close(struct tel_maps *m)
{
	int *fds[] = { &m->hist, &m->counters, &m->errors, &m->slow_events,
		       &m->info };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static void read_errnos(int fd, struct telemetry_stats *st)
{
	struct vexfs_tel_errkey key, next, *prev = NULL;
	uint64_t count;

	st->n_errnos = 0;
	while (st->n_errnos < TEL_MAX_ERRNOS &&
	       !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &count) || key.op >= VEXFS_TEL_NR_OPS)
			continue;
		st->errnos[st->n_errnos++] = (struct tel_errno_count){
			.op = key.op, .err = key.err, .count = count,
		};
	}
}

int tel_read(const struct tel_maps *m, struct telemetry_stats *st)
{
	uint32_t op, zero = 0;
	unsigned int b;

	memset(st, 0, sizeof(*st));
	st->taken_ns = monotonic_ns();
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++) {
		struct tel_op_stats *o = &st->op[op];

		if (bpf_map_lookup_elem(m->hist, &op, o->hist) ||
		    bpf_map_lookup_elem(m->counters, &op, &o->c))
			return -errno;
		for (b = 0; b < VEXFS_TEL_BUCKETS; b++)
			o->count += o->hist[b];
	}
	if (m->info >= 0 && bpf_map_lookup_elem(m->info, &zero, &st->info))
		return -errno;
	if (m->errors >= 0)
		read_errnos(m->errors, st);
	return 0;
}

uint64_t tel_bucket_lo_us(unsigned int b)
{
	return b ? 1ull << b : 0;
}

uint64_t tel_bucket_hi_us(unsigned int b)
{
	return 1ull << (b + 1);
}

double tel_quantile_us(const uint64_t *hist, double q)
{
	uint64_t total = 0, seen = 0;
	double rank, lo, hi;
	unsigned int b;

	for (b = 0; b < VEXFS_TEL_BUCKETS; b++)
		total += hist[b];
	if (!total)
		return 0;
	rank = q * total;
	for (b = 0; b < VEXFS_TEL_BUCKETS; b++) {
		if (!hist[b] || seen + hist[b] < rank) {
			seen += hist[b];
			continue;
		}
		lo = tel_bucket_lo_us(b);
		hi = tel_bucket_hi_us(b);
		return lo + (hi - lo) * (rank - seen) / hist[b];
	}
	return tel_bucket_hi_us(VEXFS_TEL_BUCKETS - 1);
}

void tel_delta(const struct telemetry_stats *after,
	       const struct telemetry_stats *before, struct telemetry_stats *d)
{
	unsigned int op, b;

	*d = *after;
	d->n_errnos = 0;
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++) {
		const struct tel_op_stats *a = &after->op[op], *p = &before->op[op];
		struct tel_op_stats *o = &d->op[op];

		/* The programs were reloaded in between: start over. */
		if (a->count < p->count)
			continue;
		for (b = 0; b < VEXFS_TEL_BUCKETS; b++)
			o->hist[b] = a->hist[b] - p->hist[b];
		o->count = a->count - p->count;
		o->c.ops = a->c.ops - p->c.ops;
		o->c.errors = a->c.errors - p->c.errors;
		o->c.bytes = a->c.bytes - p->c.bytes;
		o->c.total_ns = a->c.total_ns - p->c.total_ns;
		o->c.slow = a->c.slow - p->c.slow;
		o->c.slow_dropped = a->c.slow_dropped - p->c.slow_dropped;
	}
}

/* ==== Prometheus ==== */

static void prom_header(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_histograms(FILE *f, const struct telemetry_stats *st)
{
	unsigned int op, b;

	prom_header(f, "vexfs_op_latency_seconds", "histogram",
		    "Latency of VexFS operations, log2 microsecond buckets.");
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++) {
		const struct tel_op_stats *o = &st->op[op];
		uint64_t cum = 0;

		/* The last bucket is open-ended: +Inf stands for it. */
		for (b = 0; b + 1 < VEXFS_TEL_BUCKETS; b++) {
			cum += o->hist[b];
			fprintf(f, "vexfs_op_latency_seconds_bucket{op=\"%s\",le=\"%.6f\"} %llu\n",
				tel_op_name(op), tel_bucket_hi_us(b) / 1e6,
				(unsigned long long)cum);
		}
		fprintf(f, "vexfs_op_latency_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n",
			tel_op_name(op), (unsigned long long)o->count);
		fprintf(f, "vexfs_op_latency_seconds_sum{op=\"%s\"} %.9f\n",
			tel_op_name(op), o->c.total_ns / 1e9);
		fprintf(f, "vexfs_op_latency_seconds_count{op=\"%s\"} %llu\n",
			tel_op_name(op), (unsigned long long)o->count);
	}
}

/* One counter per op, from the field at offset off of the counters. */
static void prom_counter(FILE *f, const struct telemetry_stats *st,
			 const char *name, const char *help, size_t off,
			 bool only_rw)
{
	unsigned int op;

	prom_header(f, name, "counter", help);
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++) {
		const uint64_t *v = (const void *)((const char *)&st->op[op].c + off);

		if (only_rw && op != VEXFS_TEL_READ && op != VEXFS_TEL_WRITE)
			continue;
		fprintf(f, "%s{op=\"%s\"} %llu\n", name, tel_op_name(op),
			(unsigned long long)*v);
	}
}

static void prom_errnos(FILE *f, const struct telemetry_stats *st)
{
	unsigned int i;

	prom_header(f, "vexfs_op_errno_total", "counter",
		    "Failed VexFS operations by the errno they returned.");
	for (i = 0; i < st->n_errnos; i++) {
		const struct tel_errno_count *e = &st->errnos[i];
		const char *name = strerrorname_np(e->err);

		fprintf(f, "vexfs_op_errno_total{op=\"%s\",errno=\"%s\"} %llu\n",
			tel_op_name(e->op), name ? name : "unknown",
			(unsigned long long)e->count);
	}
}

void tel_write_prometheus(FILE *f, const struct telemetry_stats *st)
{
	prom_histograms(f, st);
	prom_counter(f, st, "vexfs_ops_total", "VexFS operations completed.",
		     offsetof(struct vexfs_tel_counters, ops), false);
	prom_counter(f, st, "vexfs_op_errors_total",
		     "VexFS operations that returned an error.",
		     offsetof(struct vexfs_tel_counters, errors), false);
	prom_errnos(f, st);
	prom_counter(f, st, "vexfs_op_bytes_total",
		     "Bytes moved by VexFS reads and writes.",
		     offsetof(struct vexfs_tel_counters, bytes), true);
	prom_counter(f, st, "vexfs_slow_ops_total",
		     "VexFS operations at or over the slow-operation threshold.",
		     offsetof(struct vexfs_tel_counters, slow), false);
	prom_counter(f, st, "vexfs_slow_events_dropped_total",
		     "Slow-operation records lost to a full ring buffer.",
		     offsetof(struct vexfs_tel_counters, slow_dropped), false);
	prom_header(f, "vexfs_telemetry_slow_threshold_seconds", "gauge",
		    "Latency from which an operation is recorded as slow.");
	fprintf(f, "vexfs_telemetry_slow_threshold_seconds %.9f\n",
		st->info.slow_ns / 1e9);
	prom_header(f, "vexfs_telemetry_attached", "gauge",
		    "1 while the telemetry programs are attached to the module.");
	fprintf(f, "vexfs_telemetry_attached %d\n", st->attached ? 1 : 0);
	prom_header(f, "vexfs_telemetry_attaches_total", "counter",
		    "Times the programs were attached (module loads seen).");
	fprintf(f, "vexfs_telemetry_attaches_total %u\n", st->info.generation);
}

/* ==== JSON ==== */

static void json_op(struct jsonw *w, const struct telemetry_stats *st,
		    const struct telemetry_stats *prev, unsigned int op)
{
	const struct tel_op_stats *o = &st->op[op];
	unsigned int b;

	jw_object_begin(w, NULL);
	jw_string(w, "op", tel_op_name(op));
	jw_u64(w, "count", o->count);
	jw_u64(w, "errors", o->c.errors);
	jw_u64(w, "bytes", o->c.bytes);
	jw_u64(w, "total_ns", o->c.total_ns);
	jw_u64(w, "slow", o->c.slow);
	jw_u64(w, "slow_dropped", o->c.slow_dropped);
	jw_double(w, "avg_us", o->count ? o->c.total_ns / 1e3 / o->count : 0);
	jw_double(w, "p50_us", tel_quantile_us(o->hist, 0.50));
	jw_double(w, "p95_us", tel_quantile_us(o->hist, 0.95));
	jw_double(w, "p99_us", tel_quantile_us(o->hist, 0.99));
	if (prev && st->taken_ns > prev->taken_ns) {
		double secs = (st->taken_ns - prev->taken_ns) / 1e9;
		uint64_t before = prev->op[op].count;

		jw_double(w, "rate", o->count >= before ? (o->count - before) / secs : 0);
	}
	/* Trailing empty buckets say nothing: stop at the last used one. */
	jw_array_begin(w, "hist");
	for (b = VEXFS_TEL_BUCKETS; b > 0 && !o->hist[b - 1]; b--)
		;
	for (unsigned int i = 0; i < b; i++)
		jw_u64(w, NULL, o->hist[i]);
	jw_array_end(w);
	jw_object_end(w);
}

void tel_json_fields(struct jsonw *w, const struct telemetry_stats *st,
		     const struct telemetry_stats *prev)
{
	unsigned int op, i;

	jw_u64(w, "taken_ns", st->taken_ns);
	jw_bool(w, "attached", st->attached);
	jw_string(w, "mode", tel_mode_name(st->info.mode));
	jw_u64(w, "generation", st->info.generation);
	jw_double(w, "slow_threshold_us", st->info.slow_ns / 1e3);
	jw_double(w, "uptime_s", st->info.loaded_ns && st->taken_ns > st->info.loaded_ns ?
		  (st->taken_ns - st->info.loaded_ns) / 1e9 : 0);
	jw_string(w, "bucket_unit", "log2 microseconds: bucket b is [2^b, 2^(b+1)) us");
	jw_array_begin(w, "ops");
	for (op = 0; op < VEXFS_TEL_NR_OPS; op++)
		json_op(w, st, prev, op);
	jw_array_end(w);
	jw_array_begin(w, "errnos");
	for (i = 0; i < st->n_errnos; i++) {
		const char *name = strerrorname_np(st->errnos[i].err);

		jw_object_begin(w, NULL);
		jw_string(w, "op", tel_op_name(st->errnos[i].op));
		jw_string(w, "errno", name ? name : "unknown");
		jw_u64(w, "count", st->errnos[i].count);
		jw_object_end(w);
	}
	jw_array_end(w);
}

/* The snapshot as one JSON object, on one line. */
void tel_write_json(FILE *f, const struct telemetry_stats *st,
		    const struct telemetry_stats *prev)
{
	struct jsonw w;

	jw_init(&w, f);
	jw_object_begin(&w, NULL);
	tel_json_fields(&w, st, prev);
	jw_object_end(&w);
}
