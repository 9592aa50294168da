// SPDX-License-Identifier: GPL-2.0
/*
 * Discovery: which VexFS filesystems are mounted, and which of their
 * directories are collections.
 *
 * Every scan reads /proc/self/mountinfo afresh, so mounts and unmounts
 * need no notification, and walks each VexFS mount to a depth limit. A
 * directory is a collection when VEXFS_IOC_GET_COLLECTION succeeds on it.
 *
 * The walk must stay cheap on a collection of a million files: it only
 * ever descends into subdirectories, known from readdir's d_type without
 * a stat per entry, and it skips reading a directory whose link count says
 * it has none (VexFS keeps the classic count: 2 + subdirectories). It
 * stays on the mount's device, follows no symlinks, and holds no
 * descriptor between scans, so it never keeps a filesystem from being
 * unmounted for longer than a scan takes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "uapi/vexfs_fs.h"
#include "vexfsd.h"

#define MOUNTINFO	"/proc/self/mountinfo"
#define MAX_MOUNTS	256

struct walk {
	dev_t dev;			/* of the mount being walked */
	unsigned int max_depth;
	discover_fn found;
	char path[PATH_MAX];
};

/* The mount points seen by the last scan, to log what comes and goes. */
static char *known_mounts[MAX_MOUNTS];
static unsigned int n_known;

/* ==== the mount table ==== */

/* mountinfo escapes blanks, tabs, newlines and backslashes as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * The mount point of a mountinfo line if its type is vexfs, else NULL.
 * Fields: id parent major:minor root mountpoint options [optional...] -
 * fstype source superoptions.
 */
static char *vexfs_mount_point(char *line)
{
	char *field, *save, *mnt = NULL;
	int i = 0;

	for (field = strtok_r(line, " \n", &save); field;
	     field = strtok_r(NULL, " \n", &save), i++) {
		if (i == 4)
			mnt = field;
		if (i > 5 && !strcmp(field, "-")) {
			field = strtok_r(NULL, " \n", &save);
			if (!mnt || !field || strcmp(field, "vexfs"))
				return NULL;
			unescape_octal(mnt);
			return mnt;
		}
	}
	return NULL;
}

static bool in_list(char *const *list, unsigned int n, const char *s)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* Read the VexFS mount points into mounts[]; returns how many. */
static unsigned int read_mounts(char **mounts)
{
	char *line = NULL, *mnt;
	unsigned int n = 0;
	size_t cap = 0;
	FILE *f;

	f = fopen(MOUNTINFO, "re");
	if (!f) {
		log_err("%s: %s", MOUNTINFO, strerror(errno));
		return 0;
	}
	while (getline(&line, &cap, f) > 0) {
		mnt = vexfs_mount_point(line);
		if (!mnt || in_list(mounts, n, mnt))
			continue;
		if (n == MAX_MOUNTS) {
			log_warn("more than %d VexFS mounts; watching the first %d",
				 MAX_MOUNTS, MAX_MOUNTS);
			break;
		}
		mounts[n] = strdup(mnt);
		if (mounts[n])
			n++;
	}
	free(line);
	fclose(f);
	return n;
}

/* Log the mounts that appeared and went since the last scan; keep these. */
static void note_mounts(char **mounts, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!in_list(known_mounts, n_known, mounts[i]))
			log_info("watching VexFS mount %s", mounts[i]);
	for (i = 0; i < n_known; i++) {
		if (!in_list(mounts, n, known_mounts[i]))
			log_info("VexFS mount %s is gone", known_mounts[i]);
		free(known_mounts[i]);
	}
	memcpy(known_mounts, mounts, n * sizeof(*mounts));
	n_known = n;
}

/* ==== the walk ==== */

static void walk_dir(struct walk *w, int fd, size_t len, unsigned int depth);

/* Descend into the subdirectory name of d, if it is one. */
static void walk_child(struct walk *w, DIR *d, const char *name, size_t len,
		       unsigned int depth)
{
	size_t nlen = strlen(name);
	int fd;

	if (len + 1 + nlen >= sizeof(w->path)) {
		log_debug("%s/%s: path too long; not searched", w->path, name);
		return;
	}
	/* O_NOFOLLOW: a symlink to a directory is not one of ours to walk. */
	fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;		/* gone, not a directory after all, no access */
	w->path[len] = '/';
	memcpy(w->path + len + 1, name, nlen + 1);
	walk_dir(w, fd, len + 1 + nlen, depth);
	w->path[len] = '\0';
}

static void walk_entries(struct walk *w, int fd, size_t len, unsigned int depth)
{
	struct dirent *de;
	DIR *d;

	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	/* A mount root's path is "/": children must not start "//". */
	if (len == 1)
		len = 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		walk_child(w, d, de->d_name, len, depth + 1);
	}
	closedir(d);
}

/* Look at the directory fd (w->path, len bytes), then below it. Takes fd. */
static void walk_dir(struct walk *w, int fd, size_t len, unsigned int depth)
{
	struct libvexfs_collection_info info;
	struct stat st;
	int err;

	if (fstat(fd, &st) || st.st_dev != w->dev) {
		close(fd);		/* another filesystem mounted here */
		return;
	}
	err = libvexfs_collection_info(fd, &info);
	if (!err)
		w->found(w->path, &st, &info);
	else if (err != -ENOTTY)
		log_debug("%s: %s", w->path, strerror(-err));
	if (depth >= w->max_depth || st.st_nlink == 2) {
		close(fd);
		return;
	}
	walk_entries(w, fd, len, depth);
}

static void walk_mount(const char *mnt, unsigned int max_depth, discover_fn found)
{
	struct walk w = { .max_depth = max_depth, .found = found };
	struct statfs sfs;
	struct stat st;
	int fd;

	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || fstatfs(fd, &sfs)) {
		/* Unmounted since the table was read: the next scan knows. */
		log_debug("%s: %s", mnt, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (sfs.f_type != VEXFS_MAGIC) {
		/* Something else is mounted over it. */
		log_debug("%s: hidden by another mount; not searched", mnt);
		close(fd);
		return;
	}
	w.dev = st.st_dev;
	snprintf(w.path, sizeof(w.path), "%s", mnt);
	walk_dir(&w, fd, strlen(w.path), 0);
}

void discover_scan(unsigned int max_depth, discover_fn found)
{
	char *mounts[MAX_MOUNTS];
	unsigned int i, n;

	n = read_mounts(mounts);
	note_mounts(mounts, n);
	for (i = 0; i < n; i++)
		walk_mount(mounts[i], max_depth, found);
}
