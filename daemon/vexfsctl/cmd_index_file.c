// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl index write | index publish: an index built away from its
 * collection.
 *
 * A collection too large to build where it is mounted (a small machine,
 * an emulated one) gets its index built where there is CPU to spare:
 * `index write DATA GRAPH` builds the graph of DATA's rows as the slots
 * an import of DATA in order gives a fresh collection, with the same
 * builder vexfsd uses, and writes it to a file; `index publish DIR GRAPH`
 * hands that file to the kernel, which checks it as any index. With
 * --rows DATA, publish first checks that slot i of DIR holds row i of
 * DATA, reading both a chunk at a time, and publishes at the change
 * sequence of that read: a slot changed since then is searched exactly.
 * Without it the collection is taken to be DATA imported in order and
 * left unchanged since.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vexfsctl.h"
#include "index_params.h"
#include "common/jsonw.h"
#include "libvexfs/vecio.h"
#include "lib/hnsw.h"

#define CHECK_ROWS	4096u

enum { OPT_METRIC = OPT_INDEX_OWN, OPT_ROWS };

/* ==== index write ==== */

static int write_file(const char *path, const void *buf, uint64_t len)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return ctl_fail(ENAMETOOLONG, path, NULL);
	f = fopen(tmp, "wb");
	if (!f)
		return ctl_fail(errno, tmp, NULL);
	if (fwrite(buf, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
		int err = errno ? errno : EIO;

		fclose(f);
		unlink(tmp);
		return ctl_fail(err, path, NULL);
	}
	if (fclose(f) || rename(tmp, path)) {
		int err = errno;

		unlink(tmp);
		return ctl_fail(err, path, NULL);
	}
	return CTL_OK;
}

static void print_written(const char *path, const struct vecio *v,
			  const struct libvexfs_index_stats *st)
{
	struct jsonw w;

	if (!ctl.json) {
		if (isatty(STDERR_FILENO))
			fputc('\n', stderr);
		printf("%s: index of %llu rows x %u written: %llu bytes, read %.2f s, "
		       "build %.2f s on %s\n", path,
		       (unsigned long long)st->vectors, v->dim,
		       (unsigned long long)st->graph_bytes, st->read_seconds,
		       st->build_seconds, st->on_codes ? "SQ8 codes" : "floats");
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "graph", path);
	jw_u64(&w, "vectors", st->vectors);
	jw_u64(&w, "dim", v->dim);
	jw_u64(&w, "graph_bytes", st->graph_bytes);
	jw_double(&w, "read_seconds", st->read_seconds);
	jw_double(&w, "build_seconds", st->build_seconds);
	jw_string(&w, "built_on", st->on_codes ? "codes" : "floats");
	jw_object_end(&w);
}

/* Rows a graph can be built over: floats, a collection's dimension, a node each. */
static int rows_buildable(const struct vecio *v, const char *data)
{
	if (v->elem != VECIO_FLOAT32)
		return ctl_fail(EINVAL, data, "not a file of float vectors");
	if (v->dim > VEXFS_MAX_DIM)
		return ctl_fail(EINVAL, data, "%u dimensions; a collection holds at most %u",
				v->dim, VEXFS_MAX_DIM);
	if (!v->rows)
		return ctl_fail(ENODATA, data, "no rows");
	if (v->rows >= VEXFS_HNSW_NO_NODE)
		return ctl_fail(E2BIG, data, "%llu rows; a graph holds fewer than %u",
				(unsigned long long)v->rows, VEXFS_HNSW_NO_NODE);
	return CTL_OK;
}

int cmd_index_write(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		INDEX_PARAM_OPTIONS,
		{ "metric", required_argument, NULL, OPT_METRIC },
		{ 0 }
	};
	struct libvexfs_index_params p = INDEX_PARAMS_DEFAULT;
	struct libvexfs_index_stats st;
	int opt, rc, err, metric = VEXFS_METRIC_L2;
	struct vecio v;
	uint64_t len;
	void *graph;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == OPT_METRIC) {
			metric = libvexfs_metric_parse(optarg);
			if (metric < 0)
				return ctl_usage_error("--metric wants l2, ip or cosine, not '%s'",
						       optarg);
			continue;
		}
		rc = index_param_option(opt, &p);
		if (rc == CTL_OK)
			rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 2, "DATA GRAPH");
	if (rc)
		return rc;
	err = vecio_open(&v, argv[optind]);
	if (err)
		return ctl_fail_msg(err, "%s", v.err);
	rc = rows_buildable(&v, argv[optind]);
	if (rc) {
		vecio_close(&v);
		return rc;
	}
	err = libvexfs_index_build_rows(&v, (unsigned int)metric, &p, &graph, &len, &st);
	if (err) {
		if (v.err[0])
			rc = ctl_fail_msg(err, "%s", v.err);
		else
			rc = ctl_fail(err, argv[optind], "building");
		vecio_close(&v);
		return rc;
	}
	rc = write_file(argv[optind + 1], graph, len);
	if (!rc)
		print_written(argv[optind + 1], &v, &st);
	free(graph);
	vecio_close(&v);
	return rc;
}

/* ==== index publish ==== */

/*
 * The whole graph file, mapped (page-aligned, as the loader wants it):
 * its pages are the page cache's, which the kernel can take back while
 * the publish call copies them, where a copy in this process's memory
 * would count against the machine's (a graph can be most of it). No
 * longer than the largest graph of the collection: a data file given in
 * its place is refused before it is read.
 */
static int map_graph(const char *path, const struct libvexfs_collection_info *info,
		     void **buf, uint64_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ctl_fail(errno, path, NULL);
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || !sb.st_size ||
	    (uint64_t)sb.st_size > vexfs_hnsw_bytes_max(info->slots, info->dim)) {
		close(fd);
		return ctl_fail(EINVAL, path, "not a graph of this collection: %lld bytes",
				(long long)sb.st_size);
	}
	*len = sb.st_size;
	*buf = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (*buf == MAP_FAILED)
		return ctl_fail(errno, path, NULL);
	return CTL_OK;
}

/* The graph must be one of this collection's: checked here to say why not. */
static int graph_fits(const char *path, const void *buf, uint64_t len,
		      const struct libvexfs_collection_info *info,
		      struct vexfs_hnsw_graph *g)
{
	uint32_t max = info->slots > UINT32_MAX ? UINT32_MAX : (uint32_t)info->slots;
	const char *why = NULL;
	int err = vexfs_hnsw_load(buf, len, max, g, &why);

	if (err)
		return ctl_fail(-err, path, "%s", why ? why : "not a graph");
	if (g->dim != info->dim || g->metric != info->metric)
		return ctl_fail(EINVAL, path, "a graph of %u dimensions, %s; the collection: %u, %s",
				g->dim, libvexfs_metric_name(g->metric), info->dim,
				libvexfs_metric_name(info->metric));
	return CTL_OK;
}

/*
 * Slot i must hold row i of data, for every row, and the graph must be
 * one over exactly those rows (node i for row i, and, when it carries
 * codes, row i's code): then it is the collection's graph as of the first
 * chunk's *seq.
 */
static int check_rows(int fd, const char *dir, const char *data, const char *path,
		      const struct libvexfs_collection_info *info,
		      const struct vexfs_hnsw_graph *g, uint64_t *seq)
{
	uint64_t *inos = malloc(CHECK_ROWS * sizeof(*inos)), start, got_seq;
	float *want = malloc((size_t)CHECK_ROWS * info->dim * sizeof(float));
	float *have = malloc((size_t)CHECK_ROWS * info->dim * sizeof(float));
	size_t row_bytes = info->dim * sizeof(float);
	int rc = CTL_OK, err;
	uint32_t i, returned;
	struct vecio v;
	ssize_t n;

	if (!inos || !want || !have) {
		rc = ctl_fail(ENOMEM, data, NULL);
		goto out_free;
	}
	err = vecio_open(&v, data);
	if (err) {
		rc = ctl_fail_msg(err, "%s", v.err);
		goto out_free;
	}
	if (v.dim != info->dim || v.elem != VECIO_FLOAT32) {
		rc = ctl_fail(EINVAL, data, "rows of %u floats wanted", info->dim);
		goto out;
	}
	if (!v.rows || v.rows != g->node_count ||
	    vexfs_hnsw_slot(g, g->node_count - 1) != v.rows - 1) {
		rc = ctl_fail(EINVAL, path, "a graph of %u nodes, not one over the %llu rows of %s",
			      g->node_count, (unsigned long long)v.rows, data);
		goto out;
	}
	for (start = 0; (n = vecio_read(&v, want, CHECK_ROWS)) > 0; start += n) {
		err = libvexfs_read_vectors(fd, info->dim, start, (uint32_t)n, inos,
					    have, &returned, &got_seq);
		if (err) {
			rc = ctl_fail(-err, dir, "reading slots from %llu",
				      (unsigned long long)start);
			goto out;
		}
		if (!start)
			*seq = got_seq;
		for (i = 0; i < (uint32_t)n; i++)
			if (i >= returned || !inos[i] ||
			    memcmp(want + (size_t)i * info->dim,
				   have + (size_t)i * info->dim, row_bytes)) {
				rc = ctl_fail(EINVAL, dir, "slot %llu does not hold row %llu of %s",
					      (unsigned long long)(start + i),
					      (unsigned long long)(start + i), data);
				goto out;
			}
		err = libvexfs_index_codes_match(g, start, want, (uint32_t)n, &i);
		if (err) {
			rc = ctl_fail(EINVAL, path, "node %llu was not built on row %llu of %s",
				      (unsigned long long)(start + i),
				      (unsigned long long)(start + i), data);
			goto out;
		}
	}
	if (n < 0)
		rc = ctl_fail_msg((int)n, "%s", v.err);
out:
	vecio_close(&v);
out_free:
	free(inos);
	free(want);
	free(have);
	return rc;
}

static void print_published(const char *dir, const char *path, uint64_t len,
			    uint64_t seq, bool checked)
{
	struct jsonw w;

	if (!ctl.json) {
		printf("%s: index published from %s: %llu bytes, at change sequence %llu%s\n",
		       dir, path, (unsigned long long)len, (unsigned long long)seq,
		       checked ? ", every row checked" : "");
		return;
	}
	jw_init(&w, stdout);
	jw_object_begin(&w, NULL);
	jw_string(&w, "dir", dir);
	jw_string(&w, "graph", path);
	jw_u64(&w, "graph_bytes", len);
	jw_u64(&w, "seq", seq);
	jw_bool(&w, "rows_checked", checked);
	jw_object_end(&w);
}

int cmd_index_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "rows", required_argument, NULL, OPT_ROWS },
		{ 0 }
	};
	struct libvexfs_collection_info info;
	struct vexfs_hnsw_graph g;
	const char *rows = NULL, *dir, *path;
	int opt, rc, fd, err;
	uint64_t len = 0, seq;
	void *graph;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == OPT_ROWS) {
			rows = optarg;
			continue;
		}
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 2, "DIR GRAPH");
	if (rc)
		return rc;
	dir = argv[optind];
	path = argv[optind + 1];
	rc = ctl_open_collection(dir, &fd, &info);
	if (rc)
		return rc;
	seq = info.seq;
	rc = map_graph(path, &info, &graph, &len);
	if (rc)
		goto out_close;
	rc = graph_fits(path, graph, len, &info, &g);
	if (!rc && rows)
		rc = check_rows(fd, dir, rows, path, &info, &g, &seq);
	if (!rc) {
		err = libvexfs_index_publish(fd, graph, len, seq);
		if (err)
			rc = ctl_fail(-err, dir, "publishing %s", path);
		else
			print_published(dir, path, len, seq, rows != NULL);
	}
	munmap(graph, len);
out_close:
	close(fd);
	return rc;
}
