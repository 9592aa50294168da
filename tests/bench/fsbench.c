// SPDX-License-Identifier: GPL-2.0
/*
 * fsbench: file-operation throughput of one filesystem, phase by phase.
 *
 *   fsbench [options] DIR
 *
 * In a fresh directory under DIR it runs, in order:
 *   create  N empty files (open O_CREAT|O_EXCL, close)
 *   stat    each file
 *   write   S bytes into each file (open O_TRUNC, write, close)
 *   read    each file back, checking every byte
 *   unlink  each file, then the directory
 * and prints ops/s (and MB/s for write and read) per phase.
 *
 * What a phase's time includes, so that numbers are comparable:
 *   - create, write and unlink end with syncfs() (--fsync=end, the
 *     default): their metadata and data are on the device, not only in
 *     the page cache. --fsync=each instead fsync()s every written file;
 *     --fsync=none measures the cache alone.
 *   - stat, read and unlink start cold: the page, dentry and inode caches
 *     are dropped first (sync; echo 3 > /proc/sys/vm/drop_caches), which
 *     needs root; without it fsbench warns and measures warm caches.
 *     The drop itself is not timed.
 *
 * This is a benchmark, not a test: it has no thresholds. It exits
 * non-zero only when an operation fails or data reads back wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum fsync_mode { FSYNC_END, FSYNC_EACH, FSYNC_NONE };

struct options {
	const char *dir;
	const char *label;
	long files;
	size_t file_size;
	size_t io_size;
	enum fsync_mode fsync;
	bool drop_caches;
	bool json;
};

struct phase_result {
	const char *name;
	long ops;
	double seconds;
	uint64_t bytes;		/* 0: not a data phase, no MB/s */
};

enum { PHASE_CREATE, PHASE_STAT, PHASE_WRITE, PHASE_READ, PHASE_UNLINK, PHASES };

static const char *const fsync_names[] = { "end", "each", "none" };

static char workdir[4096];
static int workdir_fd = -1;

static void die(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	fprintf(stderr, "fsbench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (saved)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"Usage: fsbench [options] DIR\n"
		"  -n, --files N       files per phase (default 5000)\n"
		"  -s, --size BYTES    bytes written to each file (default 16384; K/M suffix)\n"
		"  -b, --io-size BYTES bytes per write/read call (default 65536)\n"
		"  -f, --fsync MODE    end (syncfs at the end of each writing phase, default),\n"
		"                      each (fsync every written file), none\n"
		"  -C, --no-drop-caches  keep caches warm between phases\n"
		"  -l, --label NAME    name of the filesystem in the output\n"
		"  -j, --json          print JSON instead of a table\n"
		"  -h, --help\n");
	exit(status);
}

static size_t parse_size(const char *text)
{
	char *end;
	unsigned long long v = strtoull(text, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || end == text)
		die("bad size '%s'", text);
	return v;
}

static enum fsync_mode parse_fsync(const char *text)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(text, fsync_names[i]))
			return i;
	errno = 0;
	die("--fsync wants end, each or none, not '%s'", text);
	return FSYNC_END;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "files", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "io-size", required_argument, NULL, 'b' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "no-drop-caches", no_argument, NULL, 'C' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	*o = (struct options){ .files = 5000, .file_size = 16384, .io_size = 65536,
			       .fsync = FSYNC_END, .drop_caches = true, .label = NULL };
	while ((c = getopt_long(argc, argv, "n:s:b:f:Cl:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->files = atol(optarg); break;
		case 's': o->file_size = parse_size(optarg); break;
		case 'b': o->io_size = parse_size(optarg); break;
		case 'f': o->fsync = parse_fsync(optarg); break;
		case 'C': o->drop_caches = false; break;
		case 'l': o->label = optarg; break;
		case 'j': o->json = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc - 1 || o->files <= 0 || o->io_size == 0)
		usage(2);
	o->dir = argv[optind];
	if (!o->label)
		o->label = o->dir;
}

static void file_name(char *buf, size_t len, long i)
{
	snprintf(buf, len, "f%07ld", i);
}

/* File i's byte at offset off: differs per file, so misplaced data shows. */
static unsigned char pattern_byte(long i, size_t off)
{
	return (unsigned char)(i * 131 + off * 7 + (off >> 12));
}

static void fill_pattern(unsigned char *buf, size_t len, long i, size_t off)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = pattern_byte(i, off + k);
}

static void sync_filesystem(void)
{
	if (syncfs(workdir_fd))
		die("syncfs %s", workdir);
}

/* Cold caches for the next phase; untimed. Returns false when not allowed. */
static bool drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return false;
	if (write(fd, "3\n", 2) != 2) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

static void phase_create(const struct options *o)
{
	char name[32];

	for (long i = 0; i < o->files; i++) {
		file_name(name, sizeof(name), i);
		int fd = openat(workdir_fd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || close(fd))
			die("create %s/%s", workdir, name);
	}
	if (o->fsync != FSYNC_NONE)
		sync_filesystem();
}

static void phase_stat(const struct options *o)
{
	char name[32];
	struct stat st;

	for (long i = 0; i < o->files; i++) {
		file_name(name, sizeof(name), i);
		if (fstatat(workdir_fd, name, &st, 0))
			die("stat %s/%s", workdir, name);
	}
}

static void write_one(const struct options *o, long i, unsigned char *buf)
{
	char name[32];
	size_t done = 0;
	int fd;

	file_name(name, sizeof(name), i);
	fd = openat(workdir_fd, name, O_WRONLY | O_TRUNC);
	if (fd < 0)
		die("open %s/%s", workdir, name);
	while (done < o->file_size) {
		size_t len = o->file_size - done < o->io_size ? o->file_size - done : o->io_size;
		fill_pattern(buf, len, i, done);
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			die("write %s/%s", workdir, name);
		done += n;
	}
	if (o->fsync == FSYNC_EACH && fsync(fd))
		die("fsync %s/%s", workdir, name);
	if (close(fd))
		die("close %s/%s", workdir, name);
}

static void phase_write(const struct options *o, unsigned char *buf)
{
	for (long i = 0; i < o->files; i++)
		write_one(o, i, buf);
	if (o->fsync == FSYNC_END)
		sync_filesystem();
}

static void read_one(const struct options *o, long i, unsigned char *buf, unsigned char *want)
{
	char name[32];
	size_t done = 0;
	int fd;

	file_name(name, sizeof(name), i);
	fd = openat(workdir_fd, name, O_RDONLY);
	if (fd < 0)
		die("open %s/%s", workdir, name);
	for (;;) {
		ssize_t n = read(fd, buf, o->io_size);
		if (n < 0)
			die("read %s/%s", workdir, name);
		if (n == 0)
			break;
		fill_pattern(want, n, i, done);
		if (done + n > o->file_size || memcmp(buf, want, n)) {
			errno = 0;
			die("%s/%s: wrong data near offset %zu", workdir, name, done);
		}
		done += n;
	}
	close(fd);
	if (done != o->file_size) {
		errno = 0;
		die("%s/%s: read %zu bytes, wrote %zu", workdir, name, done, o->file_size);
	}
}

static void phase_read(const struct options *o, unsigned char *buf, unsigned char *want)
{
	for (long i = 0; i < o->files; i++)
		read_one(o, i, buf, want);
}

static void phase_unlink(const struct options *o)
{
	char name[32];

	for (long i = 0; i < o->files; i++) {
		file_name(name, sizeof(name), i);
		if (unlinkat(workdir_fd, name, 0))
			die("unlink %s/%s", workdir, name);
	}
	if (o->fsync != FSYNC_NONE)
		sync_filesystem();
}

static void make_workdir(const char *parent)
{
	snprintf(workdir, sizeof(workdir), "%s/fsbench.%d", parent, (int)getpid());
	if (mkdir(workdir, 0755))
		die("mkdir %s", workdir);
	workdir_fd = open(workdir, O_RDONLY | O_DIRECTORY);
	if (workdir_fd < 0)
		die("open %s", workdir);
}

static void remove_workdir(void)
{
	close(workdir_fd);
	if (rmdir(workdir))
		die("rmdir %s", workdir);
}

static double mb_per_sec(const struct phase_result *r)
{
	return r->bytes && r->seconds > 0 ? r->bytes / 1e6 / r->seconds : 0;
}

static double ops_per_sec(const struct phase_result *r)
{
	return r->seconds > 0 ? r->ops / r->seconds : 0;
}

static void print_table(const struct options *o, const struct phase_result *r, bool cold)
{
	printf("fsbench %s: %ld files x %zu bytes, fsync=%s, caches %s between phases\n",
	       o->label, o->files, o->file_size, fsync_names[o->fsync],
	       cold ? "dropped" : "warm");
	printf("%-8s %10s %10s %12s %10s\n", "phase", "ops", "seconds", "ops/s", "MB/s");
	for (int p = 0; p < PHASES; p++) {
		printf("%-8s %10ld %10.3f %12.1f ", r[p].name, r[p].ops, r[p].seconds,
		       ops_per_sec(&r[p]));
		if (r[p].bytes)
			printf("%10.1f\n", mb_per_sec(&r[p]));
		else
			printf("%10s\n", "-");
	}
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct options *o, const struct phase_result *r, bool cold)
{
	printf("{\"label\": ");
	print_json_string(o->label);
	printf(", \"dir\": ");
	print_json_string(o->dir);
	printf(", \"files\": %ld, \"file_size\": %zu, \"io_size\": %zu, \"fsync\": \"%s\", "
	       "\"caches_dropped\": %s, \"phases\": [",
	       o->files, o->file_size, o->io_size, fsync_names[o->fsync], cold ? "true" : "false");
	for (int p = 0; p < PHASES; p++) {
		printf("%s{\"name\": \"%s\", \"ops\": %ld, \"seconds\": %.6f, \"ops_per_sec\": %.3f, "
		       "\"bytes\": %llu, \"mb_per_sec\": ",
		       p ? ", " : "", r[p].name, r[p].ops, r[p].seconds, ops_per_sec(&r[p]),
		       (unsigned long long)r[p].bytes);
		if (r[p].bytes)
			printf("%.3f}", mb_per_sec(&r[p]));
		else
			printf("null}");
	}
	printf("]}\n");
}

/* Drops caches before a cold phase if asked; remembers whether it could. */
static void prepare_phase(const struct options *o, bool *cold)
{
	if (!o->drop_caches)
		return;
	if (!drop_caches() && *cold) {
		fprintf(stderr, "fsbench: cannot drop caches (not root?); measuring warm caches\n");
		*cold = false;
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct phase_result r[PHASES] = {
		[PHASE_CREATE] = { "create" }, [PHASE_STAT] = { "stat" },
		[PHASE_WRITE] = { "write" }, [PHASE_READ] = { "read" },
		[PHASE_UNLINK] = { "unlink" },
	};
	unsigned char *buf, *want;
	bool cold;
	double t;

	parse_options(argc, argv, &o);
	cold = o.drop_caches;
	buf = malloc(o.io_size);
	want = malloc(o.io_size);
	if (!buf || !want)
		die("out of memory");
	make_workdir(o.dir);

	t = now();
	phase_create(&o);
	r[PHASE_CREATE].seconds = now() - t;

	prepare_phase(&o, &cold);
	t = now();
	phase_stat(&o);
	r[PHASE_STAT].seconds = now() - t;

	t = now();
	phase_write(&o, buf);
	r[PHASE_WRITE].seconds = now() - t;
	r[PHASE_WRITE].bytes = (uint64_t)o.files * o.file_size;

	prepare_phase(&o, &cold);
	t = now();
	phase_read(&o, buf, want);
	r[PHASE_READ].seconds = now() - t;
	r[PHASE_READ].bytes = (uint64_t)o.files * o.file_size;

	prepare_phase(&o, &cold);
	t = now();
	phase_unlink(&o);
	r[PHASE_UNLINK].seconds = now() - t;
	remove_workdir();

	for (int p = 0; p < PHASES; p++)
		r[p].ops = o.files;
	if (o.json)
		print_json(&o, r, cold);
	else
		print_table(&o, r, cold);
	free(buf);
	free(want);
	return 0;
}
