// SPDX-License-Identifier: GPL-2.0
/*
 * vexfsctl filter load/list/unload: BPF search filters (docs/filters.md).
 *
 * A filter object (bpf/filters/NAME.bpf.o) holds one struct_ops map of
 * type vexfs_filter_ops. load opens it, optionally renames the filter and
 * sets its const volatile configuration, loads it, attaches the map
 * through a link (the kernel registers the filter under its name) and
 * pins the link as VEXFS_FILTER_PIN_DIR/NAME, so the filter outlives this
 * process. list reads the pinned links; unload removes the pin, and the
 * kernel detaches the filter when the last reference to the link goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "vexfsctl.h"
#include "common/jsonw.h"
#include "common/parse.h"
#include "uapi/vexfs_filter.h"

enum { OPT_NAME = OPT_OWN, OPT_SET };

#define MAX_SETS 16

struct filter_set {
	const char *var;
	uint64_t value;
};

/* libbpf speaks only of warnings, unless VEXFS_BPF_DEBUG is set. */
static int filter_libbpf_print(enum libbpf_print_level level, const char *fmt,
			       va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("VEXFS_BPF_DEBUG"))
		return 0;
	if (level == LIBBPF_INFO && !getenv("VEXFS_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ==== load ==== */

/* The one struct_ops map of obj, or NULL. */
static struct bpf_map *filter_map_of(struct bpf_object *obj)
{
	struct bpf_map *map, *found = NULL;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__type(map) != BPF_MAP_TYPE_STRUCT_OPS)
			continue;
		if (found)
			return NULL;
		found = map;
	}
	return found;
}

/* The filter's name inside the map's initial value (the struct as built). */
static char *filter_name_in(struct bpf_map *map)
{
	size_t size = 0;
	char *data = bpf_map__initial_value(map, &size);

	if (!data || size < offsetof(struct vexfs_filter_ops, name) +
			   VEXFS_FILTER_NAME_LEN)
		return NULL;
	return data + offsetof(struct vexfs_filter_ops, name);
}

/* Set a const volatile global of obj (in .rodata) before load. */
static int filter_set_var(struct bpf_object *obj, const struct filter_set *s)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec, *var;
	struct bpf_map *map, *rodata = NULL;
	struct btf *btf = bpf_object__btf(obj);
	size_t size = 0;
	char *data;
	int id, i;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		size_t len = strlen(n);

		if (bpf_map__is_internal(map) && len >= 7 &&
		    !strcmp(n + len - 7, ".rodata"))
			rodata = map;
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!rodata || id < 0)
		return -ENOENT;
	data = bpf_map__initial_value(rodata, &size);
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		var = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, var->name_off), s->var))
			continue;
		if (!data || vs->offset + vs->size > size)
			return -EINVAL;
		switch (vs->size) {
		case 1: { uint8_t v = s->value; memcpy(data + vs->offset, &v, 1); break; }
		case 2: { uint16_t v = s->value; memcpy(data + vs->offset, &v, 2); break; }
		case 4: { uint32_t v = s->value; memcpy(data + vs->offset, &v, 4); break; }
		case 8: memcpy(data + vs->offset, &s->value, 8); break;
		default: return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

/* bpffs at /sys/fs/bpf (mounted if it is not), and the pin directory. */
static int filter_pin_dir(void)
{
	struct statfs st;
	const char *p;

	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL))
			return -errno;
	}
	for (p = VEXFS_FILTER_PIN_DIR; (p = strchr(p + 1, '/'));) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%.*s", (int)(p - VEXFS_FILTER_PIN_DIR),
			 VEXFS_FILTER_PIN_DIR);
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	if (mkdir(VEXFS_FILTER_PIN_DIR, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int parse_load_args(int argc, char **argv, const char **name,
			   struct filter_set *sets, int *nsets)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{ "name", required_argument, NULL, OPT_NAME },
		{ "set", required_argument, NULL, OPT_SET },
		{ 0 }
	};
	char *eq;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			if (!*optarg || strlen(optarg) >= VEXFS_FILTER_NAME_LEN ||
			    strchr(optarg, '/') || *optarg == '.')
				return ctl_usage_error("--name wants 1..%d characters, no '/', not starting with '.'",
						       VEXFS_FILTER_NAME_LEN - 1);
			*name = optarg;
			break;
		case OPT_SET:
			eq = strchr(optarg, '=');
			if (*nsets == MAX_SETS)
				return ctl_usage_error("at most %d --set", MAX_SETS);
			if (!eq || eq == optarg || parse_u64(eq + 1, &sets[*nsets].value))
				return ctl_usage_error("--set wants VAR=N, not '%s'", optarg);
			*eq = '\0';
			sets[(*nsets)++].var = optarg;
			break;
		default:
			rc = ctl_common_option(opt);
			if (rc != CTL_CONTINUE)
				return rc;
		}
	}
	return ctl_want_args(argc, argv, 1, "FILE.bpf.o or NAME");
}

/*
 * A filter given by bare name (no slash, no ".o") is NAME.bpf.o in the
 * first of: $VEXFS_BPF_DIR/filters, the installed PREFIX/lib/vexfs/bpf/filters
 * beside this binary's PREFIX/bin, and build/bpf/filters of the source tree
 * when run from build/bin/. Anything else is a path, used as it is.
 */
static const char *filter_object_path(const char *arg, char *buf, size_t len)
{
	static const char *const rel[] = {
		"../lib/vexfs/bpf/filters", "../bpf/filters",
	};
	const char *env = getenv("VEXFS_BPF_DIR");
	char exe[PATH_MAX / 2], *slash;	/* leaves room for the rest */
	ssize_t n;
	size_t i;

	if (strchr(arg, '/') || strstr(arg, ".o"))
		return arg;
	if (env && *env) {
		snprintf(buf, len, "%s/filters/%s.bpf.o", env, arg);
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(buf, len, "%s/%s/%s.bpf.o", exe, rel[i], arg);
			if (!access(buf, R_OK))
				return buf;
		}
	}
	return arg;
}

int cmd_filter_load(int argc, char **argv)
{
	struct filter_set sets[MAX_SETS];
	struct bpf_link *link = NULL;
	struct bpf_object *obj;
	const char *path, *name = NULL;
	char pin[PATH_MAX], objpath[PATH_MAX], *fname;
	struct jsonw w;
	struct bpf_map *map;
	int nsets = 0, rc, err, i;

	rc = parse_load_args(argc, argv, &name, sets, &nsets);
	if (rc)
		return rc;
	path = filter_object_path(argv[optind], objpath, sizeof(objpath));
	libbpf_set_print(filter_libbpf_print);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return ctl_fail(errno, path, NULL);
	rc = CTL_FAIL;
	map = filter_map_of(obj);
	fname = map ? filter_name_in(map) : NULL;
	if (!fname) {
		ctl_fail(EINVAL, path, "no single struct_ops vexfs_filter_ops map in it");
		goto out;
	}
	if (name) {
		memset(fname, 0, VEXFS_FILTER_NAME_LEN);
		memcpy(fname, name, strlen(name));
	}
	if (!fname[0] || fname[VEXFS_FILTER_NAME_LEN - 1] || strchr(fname, '/') ||
	    fname[0] == '.') {
		ctl_fail(EINVAL, path, "the filter's name is not usable; give --name");
		goto out;
	}
	for (i = 0; i < nsets; i++) {
		err = filter_set_var(obj, &sets[i]);
		if (err) {
			ctl_fail(err, sets[i].var, "no such const volatile variable in %s", path);
			goto out;
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		ctl_fail(err, path, "loading the programs");
		goto out;
	}
	link = bpf_map__attach_struct_ops(map);
	if (!link) {
		err = -errno;
		if (err == -EEXIST)
			ctl_fail(err, fname, "a filter of that name is loaded");
		else
			ctl_fail(err, fname, "attaching the filter");
		goto out;
	}
	err = filter_pin_dir();
	if (err) {
		ctl_fail(err, VEXFS_FILTER_PIN_DIR, NULL);
		goto out;
	}
	snprintf(pin, sizeof(pin), "%s/%s", VEXFS_FILTER_PIN_DIR, fname);
	err = bpf_link__pin(link, pin);
	if (err) {
		ctl_fail(err, pin, "pinning the link");
		goto out;
	}
	if (ctl.json) {
		jw_init(&w, stdout);
		jw_object_begin(&w, NULL);
		jw_string(&w, "loaded", fname);
		jw_string(&w, "pin", pin);
		jw_object_end(&w);
	} else {
		printf("filter %s loaded, pinned at %s\n", fname, pin);
	}
	rc = CTL_OK;
	/* The pin keeps the link; closing ours leaves the filter attached. */
	bpf_link__disconnect(link);
out:
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return rc;
}

/* ==== list ==== */

struct filter_info {
	uint32_t link_id;
	uint32_t map_id;
	char map_name[BPF_OBJ_NAME_LEN];
};

static int filter_info_of(const char *pin, struct filter_info *fi)
{
	struct bpf_link_info li;
	struct bpf_map_info mi;
	__u32 len = sizeof(li);
	int fd, mfd, err;

	memset(fi, 0, sizeof(*fi));
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return -errno;
	memset(&li, 0, sizeof(li));
	err = bpf_link_get_info_by_fd(fd, &li, &len);
	close(fd);
	if (err)
		return err;
	fi->link_id = li.id;
	if (li.type != BPF_LINK_TYPE_STRUCT_OPS)
		return -EINVAL;
	/*
	 * struct_ops.map_id opens the union of per-type fields; the
	 * distribution's <linux/bpf.h> may predate the member.
	 */
	memcpy(&fi->map_id, (char *)&li + offsetof(struct bpf_link_info, raw_tracepoint),
	       sizeof(fi->map_id));
	mfd = bpf_map_get_fd_by_id(fi->map_id);
	if (mfd < 0)
		return 0;
	memset(&mi, 0, sizeof(mi));
	len = sizeof(mi);
	if (!bpf_map_get_info_by_fd(mfd, &mi, &len))
		snprintf(fi->map_name, sizeof(fi->map_name), "%s", mi.name);
	close(mfd);
	return 0;
}

static void json_filter(struct jsonw *w, const char *name,
			const struct filter_info *fi)
{
	jw_object_begin(w, NULL);
	jw_string(w, "name", name);
	jw_u64(w, "link_id", fi->link_id);
	jw_u64(w, "map_id", fi->map_id);
	jw_string(w, "map_name", fi->map_name);
	jw_object_end(w);
}

int cmd_filter_list(int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };
	struct filter_info fi;
	char pin[PATH_MAX];
	struct jsonw w;
	struct dirent *d;
	int opt, rc;
	DIR *dir;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 0, "");
	if (rc)
		return rc;
	dir = opendir(VEXFS_FILTER_PIN_DIR);
	if (!dir && errno != ENOENT)
		return ctl_fail(errno, VEXFS_FILTER_PIN_DIR, NULL);
	jw_init(&w, stdout);
	if (ctl.json)
		jw_array_begin(&w, NULL);
	else
		printf("%-16s %8s %8s  %s\n", "NAME", "LINK", "MAP", "MAP NAME");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(pin, sizeof(pin), "%s/%s", VEXFS_FILTER_PIN_DIR, d->d_name);
		if (filter_info_of(pin, &fi))
			continue;
		if (ctl.json)
			json_filter(&w, d->d_name, &fi);
		else
			printf("%-16s %8u %8u  %s\n", d->d_name, fi.link_id,
			       fi.map_id, fi.map_name);
	}
	if (ctl.json)
		jw_array_end(&w);
	if (dir)
		closedir(dir);
	return CTL_OK;
}

/* ==== unload ==== */

/* Wait (a while) until the link and its map are gone: the filter is detached. */
static void filter_wait_gone(const struct filter_info *fi)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, fd;

	for (i = 0; i < 500; i++) {
		fd = bpf_link_get_fd_by_id(fi->link_id);
		if (fd < 0)
			fd = fi->map_id ? bpf_map_get_fd_by_id(fi->map_id) : -1;
		if (fd < 0)
			return;
		close(fd);
		nanosleep(&ts, NULL);
	}
}

int cmd_filter_unload(int argc, char **argv)
{
	static const struct option opts[] = { CTL_COMMON_OPTIONS, { 0 } };
	struct filter_info fi;
	const char *name;
	char pin[PATH_MAX];
	struct jsonw w;
	int opt, rc, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = ctl_common_option(opt);
		if (rc != CTL_CONTINUE)
			return rc;
	}
	rc = ctl_want_args(argc, argv, 1, "NAME");
	if (rc)
		return rc;
	name = argv[optind];
	if (!*name || strchr(name, '/') || *name == '.')
		return ctl_usage_error("'%s' is not a filter name", name);
	snprintf(pin, sizeof(pin), "%s/%s", VEXFS_FILTER_PIN_DIR, name);
	err = filter_info_of(pin, &fi);
	if (err == -ENOENT)
		return ctl_fail(err, name, "no filter of that name is loaded");
	if (unlink(pin))
		return ctl_fail(errno, pin, NULL);
	/* Others may hold the link too; it goes with their last reference. */
	if (!err)
		filter_wait_gone(&fi);
	if (ctl.json) {
		jw_init(&w, stdout);
		jw_object_begin(&w, NULL);
		jw_string(&w, "unloaded", name);
		jw_object_end(&w);
	} else {
		printf("filter %s unloaded\n", name);
	}
	return CTL_OK;
}
