// SPDX-License-Identifier: GPL-2.0
/*
 * The collections the telemetry server reports (see collections.h): their
 * vectors, the share a published index covers, and the index's age, read
 * afresh at each request. The list is set at start (vexfs-telemetryd's
 * --collection) and replaced whenever vexfsd's scan finds another; the
 * HTTP thread reads it, so a mutex guards it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libvexfs/libvexfs.h"
#include "collections.h"

static struct {
	pthread_mutex_t lock;
	char **dirs;
	unsigned int n;
} list = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void free_dirs(char **dirs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

int tel_collections_set(const char *const *dirs, unsigned int n)
{
	char **copy = calloc(n ? n : 1, sizeof(*copy));
	unsigned int i, old_n;
	char **old;

	if (!copy)
		return -1;
	for (i = 0; i < n; i++) {
		copy[i] = strdup(dirs[i]);
		if (!copy[i]) {
			free_dirs(copy, i);
			return -1;
		}
	}
	pthread_mutex_lock(&list.lock);
	old = list.dirs;
	old_n = list.n;
	list.dirs = copy;
	list.n = n;
	pthread_mutex_unlock(&list.lock);
	free_dirs(old, old_n);
	return 0;
}

/* Read every listed collection; *out is malloc'ed, one entry per readable one. */
static unsigned int read_all(struct tel_collection **out)
{
	struct tel_collection *c;
	unsigned int i, n = 0;
	int fd;

	pthread_mutex_lock(&list.lock);
	*out = c = calloc(list.n ? list.n : 1, sizeof(*c));
	for (i = 0; c && i < list.n; i++) {
		fd = open(list.dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!libvexfs_collection_info(fd, &c[n].info) &&
		    strlen(list.dirs[i]) < sizeof(c[n].dir)) {
			strcpy(c[n].dir, list.dirs[i]);
			n++;
		}
		close(fd);
	}
	pthread_mutex_unlock(&list.lock);
	return n;
}

/* A label value, escaped as the text format wants. */
static void prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Seconds since the index was published; -1 without one (or its time). */
static double index_age(const struct tel_collection *c, time_t now)
{
	if (!c->info.index_time || !c->info.indexed)
		return -1;
	return now > (time_t)c->info.index_time ? (double)(now - (time_t)c->info.index_time) : 0;
}

static void prom_gauge(FILE *f, const char *name, const char *help,
		       const struct tel_collection *c, unsigned int n,
		       double (*value)(const struct tel_collection *, time_t))
{
	time_t now = time(NULL);
	unsigned int i, shown = 0;

	for (i = 0; i < n; i++) {
		double v = value(&c[i], now);

		if (v < 0)
			continue;
		if (!shown++)
			fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
		fprintf(f, "%s{dir=\"", name);
		prom_label(f, c[i].dir);
		fprintf(f, "\"} %.0f\n", v);
	}
}

static double vectors(const struct tel_collection *c, time_t now)
{
	(void)now;
	return (double)c->info.count;
}

static double unindexed(const struct tel_collection *c, time_t now)
{
	(void)now;
	return (double)c->info.unindexed;
}

void tel_collections_prometheus(FILE *f)
{
	struct tel_collection *c;
	unsigned int n = read_all(&c);

	if (n) {
		prom_gauge(f, "vexfs_collection_vectors",
			   "Vectors stored in a collection.", c, n, vectors);
		prom_gauge(f, "vexfs_collection_unindexed_vectors",
			   "Vectors of a collection that search scans exactly.",
			   c, n, unindexed);
		prom_gauge(f, "vexfs_collection_index_age_seconds",
			   "Seconds since the collection's index was published.",
			   c, n, index_age);
	}
	free(c);
}

void tel_collections_json(struct jsonw *w)
{
	struct tel_collection *c;
	unsigned int i, n = read_all(&c);
	time_t now = time(NULL);

	jw_array_begin(w, "collections");
	for (i = 0; i < n; i++) {
		double age = index_age(&c[i], now);

		jw_object_begin(w, NULL);
		jw_string(w, "dir", c[i].dir);
		jw_u64(w, "vectors", c[i].info.count);
		jw_u64(w, "indexed", c[i].info.indexed);
		jw_u64(w, "unindexed", c[i].info.unindexed);
		jw_u64(w, "dim", c[i].info.dim);
		if (age < 0)
			jw_null(w, "index_age_s");
		else
			jw_double(w, "index_age_s", age);
		jw_object_end(w);
	}
	jw_array_end(w);
	free(c);
}
