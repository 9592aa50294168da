// SPDX-License-Identifier: GPL-2.0
/*
 * Loading, attaching and pinning the telemetry programs, and following
 * the module through unloads and reloads (see telemetry.h).
 *
 * The programs come in two flavours in one object (telemetry.bpf.c): for
 * fentry, the attach targets are set from the table below before load and
 * the kprobe programs are not loaded; for kprobes the reverse, and the
 * targets are given at attach. Auto mode tries fentry and falls back to
 * kprobes, as bcc's fsslower does.
 *
 * The maps are pinned by path before load, so when the module comes back
 * libbpf reuses them and the counts go on. The pins are removed at start
 * (a fresh daemon starts from zero, like any process's counters) and,
 * unless asked to keep them, at stop.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "uapi/vexfs.h"
#include "uapi/vexfs_fs.h"

#include "common/clock.h"
#include "telemetry.h"
#include "telemetry.skel.h"

/* The programs decode the magic and ioctl numbers by hand; keep them honest. */
_Static_assert(VEXFS_MAGIC == VEXFS_TEL_SB_MAGIC, "superblock magic");
_Static_assert(_IOC_TYPE(VEXFS_IOC_SEARCH) == VEXFS_TEL_IOC_MAGIC, "ioctl magic");
_Static_assert(_IOC_NR(VEXFS_IOC_SET_VECTOR) == VEXFS_TEL_IOC_SET_VECTOR, "set_vector");
_Static_assert(_IOC_NR(VEXFS_IOC_BATCH_INSERT) == VEXFS_TEL_IOC_BATCH_INSERT, "batch_insert");
_Static_assert(_IOC_NR(VEXFS_IOC_SEARCH) == VEXFS_TEL_IOC_SEARCH, "search");
_Static_assert(_IOC_NR(VEXFS_IOC_PUBLISH_INDEX) == VEXFS_TEL_IOC_PUBLISH_INDEX, "publish_index");

/* Present exactly while the module is loaded; a new inode on each load. */
#define MODULE_BTF	"/sys/kernel/btf/vexfs"

/* How often a missing or changed module is looked for; after a failed
 * attach, how long to leave it before the next try. */
#define CHECK_INTERVAL_NS	(500 * 1000 * 1000ull)
#define RETRY_INTERVAL_NS	(10 * 1000 * 1000 * 1000ull)

/*
 * The functions measured. Programs are named <flavour>_<name>: f_ and fx_
 * for fentry and fexit, k_ and kr_ for kprobe and kretprobe.
 */
static const struct tel_hook {
	const char *name;
	const char *func;
	bool rw;		/* read or write: filtered by superblock */
} hooks[] = {
	{ "lookup",		"vexfs_lookup", false },
	{ "create",		"vexfs_create", false },
	{ "unlink",		"vexfs_unlink", false },
	{ "mkdir",		"vexfs_mkdir", false },
	{ "rmdir",		"vexfs_rmdir", false },
	{ "rename",		"vexfs_rename", false },
	{ "setattr",		"vexfs_setattr", false },
	{ "fsync",		"vexfs_fsync", false },
	{ "read",		"generic_file_read_iter", true },
	{ "write",		"vexfs_file_write_iter", true },
	{ "ioctl",		"vexfs_ioctl", false },
	{ "search_index",	"vexfs_search_index", false },
};

#define N_HOOKS		(sizeof(hooks) / sizeof(hooks[0]))
#define MAX_LINKS	(2 * N_HOOKS)

static const char *const map_pins[] = {
	"hist", "counters", "errors", "slow_events", "info",
};

#define N_PINS		(sizeof(map_pins) / sizeof(map_pins[0]))

/*
 * The lock lets an HTTP server thread take snapshots while the polling
 * thread attaches and detaches; everything else is the polling thread's.
 */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	bool started;
	struct telemetry_config cfg;
	char pin_dir[200];
	struct telemetry_bpf *skel;
	unsigned int mode;		/* the flavour attached */
	struct bpf_link *links[MAX_LINKS];
	unsigned int n_links;
	struct ring_buffer *rb;
	struct tel_maps maps;		/* our own fds: they outlive a skeleton */
	ino_t module_ino;		/* of MODULE_BTF when attached */
	uint32_t generation;
	uint64_t next_check_ns;
} tel = { .maps = { -1, -1, -1, -1, -1 } };

__attribute__((format(printf, 1, 2)))
static void tel_log(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (tel.cfg.log)
		tel.cfg.log(msg);
	else
		fprintf(stderr, "telemetry: %s\n", msg);
}

/* libbpf's own chatter: warnings only, through our log. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char msg[512];
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	tel_log("%s", msg);
	return 0;
}

/* The inode of the module's BTF file, or 0 when it is not loaded. */
static ino_t module_ino(void)
{
	struct stat st;

	return stat(MODULE_BTF, &st) ? 0 : st.st_ino;
}

static int pin_path(char *buf, size_t size, const char *sub, const char *name)
{
	int n = sub ? snprintf(buf, size, "%s/%s/%s", tel.pin_dir, sub, name) :
		      snprintf(buf, size, "%s/%s", tel.pin_dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ==== pins ==== */

static int make_pin_dirs(void)
{
	char path[256];

	if (mkdir(tel.pin_dir, 0700) && errno != EEXIST)
		return -errno;
	pin_path(path, sizeof(path), NULL, "links");
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Unpin every link under links/: what we or a loader that died left. */
static void remove_link_pins(void)
{
	char path[256], dir[256];
	struct dirent *de;
	DIR *d;

	pin_path(dir, sizeof(dir), NULL, "links");
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!pin_path(path, sizeof(path), "links", de->d_name))
			unlink(path);
	}
	closedir(d);
}

static void remove_map_pins(void)
{
	char path[256];
	size_t i;

	for (i = 0; i < N_PINS; i++)
		if (!pin_path(path, sizeof(path), NULL, map_pins[i]))
			unlink(path);
}

static void remove_pin_dirs(void)
{
	char path[256];

	pin_path(path, sizeof(path), NULL, "links");
	rmdir(path);
	rmdir(tel.pin_dir);
}

/* ==== load and attach ==== */

static struct bpf_program *prog(const char *flavour, const char *name)
{
	char full[64];

	snprintf(full, sizeof(full), "%s_%s", flavour, name);
	return bpf_object__find_program_by_name(tel.skel->obj, full);
}

/* Pick the flavour's programs, point fentry ones at their functions. */
static void configure_progs(unsigned int mode)
{
	size_t i;

	for (i = 0; i < N_HOOKS; i++) {
		const struct tel_hook *h = &hooks[i];
		bool want = !(h->rw && tel.cfg.no_rw);
		bool fentry = want && mode == VEXFS_TEL_MODE_FENTRY;

		if (fentry &&
		    (bpf_program__set_attach_target(prog("f", h->name), 0, h->func) ||
		     bpf_program__set_attach_target(prog("fx", h->name), 0, h->func))) {
			/* Renamed, inlined or not in BTF: the rest still works. */
			tel_log("%s: not in BTF, %s not measured", h->func, h->name);
			fentry = false;
		}
		bpf_program__set_autoload(prog("f", h->name), fentry);
		bpf_program__set_autoload(prog("fx", h->name), fentry);
		want = want && mode == VEXFS_TEL_MODE_KPROBE;
		bpf_program__set_autoload(prog("k", h->name), want);
		bpf_program__set_autoload(prog("kr", h->name), want);
	}
}

static int set_pin_paths(void)
{
	struct bpf_map *map;
	char path[256];
	int err;

	bpf_object__for_each_map(map, tel.skel->obj) {
		const char *name = bpf_map__name(map);
		size_t i;

		for (i = 0; i < N_PINS; i++)
			if (!strcmp(name, map_pins[i]))
				break;
		if (i == N_PINS)
			continue;	/* starts, .rodata: private */
		err = pin_path(path, sizeof(path), NULL, name);
		if (!err)
			err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

/* Open, configure and load in one flavour; tel.skel on success. */
static int load(unsigned int mode)
{
	int err;

	tel.skel = telemetry_bpf__open();
	if (!tel.skel)
		return -errno;
	tel.skel->rodata->slow_ns = tel.cfg.slow_us * 1000;
	configure_progs(mode);
	err = set_pin_paths();
	if (!err)
		err = telemetry_bpf__load(tel.skel);
	if (err) {
		telemetry_bpf__destroy(tel.skel);
		tel.skel = NULL;
	}
	return err;
}

static int add_link(struct bpf_program *p, struct bpf_link *link)
{
	char path[256];
	int err;

	if (!link)
		return -errno;
	tel.links[tel.n_links++] = link;
	err = pin_path(path, sizeof(path), "links", bpf_program__name(p));
	if (!err)
		err = bpf_link__pin(link, path);
	return err;
}

static int attach_one(struct bpf_program *p, const char *func, bool ret)
{
	struct bpf_link *link;

	if (!bpf_program__autoload(p))
		return 0;
	if (tel.mode == VEXFS_TEL_MODE_FENTRY)
		link = bpf_program__attach_trace(p);
	else
		link = bpf_program__attach_kprobe(p, ret, func);
	return add_link(p, link);
}

/* Exits before entries: an entry with no exit yet would leave a start behind. */
static int attach_all(void)
{
	bool fentry = tel.mode == VEXFS_TEL_MODE_FENTRY;
	size_t i;
	int err;

	for (i = 0; i < N_HOOKS; i++) {
		const struct tel_hook *h = &hooks[i];

		err = attach_one(prog(fentry ? "fx" : "kr", h->name), h->func, true);
		if (!err)
			err = attach_one(prog(fentry ? "f" : "k", h->name), h->func, false);
		if (err) {
			tel_log("%s: cannot attach: %s", h->func, strerror(-err));
			return err;
		}
	}
	return 0;
}

static void detach(void)
{
	unsigned int i;

	ring_buffer__free(tel.rb);
	tel.rb = NULL;
	for (i = 0; i < tel.n_links; i++) {
		bpf_link__unpin(tel.links[i]);
		bpf_link__destroy(tel.links[i]);
	}
	tel.n_links = 0;
	remove_link_pins();
	telemetry_bpf__destroy(tel.skel);
	tel.skel = NULL;
	tel.module_ino = 0;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(struct vexfs_tel_event) && tel.cfg.on_slow)
		tel.cfg.on_slow(data, tel.cfg.ctx);
	return 0;
}

/* Our own fds of the pinned maps, taken once: they survive reloads. */
static int keep_map_fds(void)
{
	if (tel.maps.hist >= 0)
		return 0;
	tel.maps.hist = dup(bpf_map__fd(tel.skel->maps.hist));
	tel.maps.counters = dup(bpf_map__fd(tel.skel->maps.counters));
	tel.maps.errors = dup(bpf_map__fd(tel.skel->maps.errors));
	tel.maps.slow_events = dup(bpf_map__fd(tel.skel->maps.slow_events));
	tel.maps.info = dup(bpf_map__fd(tel.skel->maps.info));
	if (tel.maps.hist < 0 || tel.maps.counters < 0 || tel.maps.errors < 0 ||
	    tel.maps.slow_events < 0 || tel.maps.info < 0)
		return -errno;
	return 0;
}

static void write_info(void)
{
	struct vexfs_tel_info info = {
		.slow_ns = tel.cfg.slow_us * 1000,
		.loaded_ns = monotonic_ns(),
		.mode = tel.mode,
		.pid = getpid(),
		.generation = tel.generation,
	};
	uint32_t zero = 0;

	bpf_map_update_elem(tel.maps.info, &zero, &info, BPF_ANY);
}

static int attach_mode(unsigned int mode, ino_t ino)
{
	int err = load(mode);

	if (err)
		return err;
	tel.mode = mode;
	tel.module_ino = ino;
	err = attach_all();
	if (!err)
		err = keep_map_fds();
	if (!err && tel.cfg.on_slow) {
		tel.rb = ring_buffer__new(bpf_map__fd(tel.skel->maps.slow_events),
					  handle_event, NULL, NULL);
		if (!tel.rb)
			err = -errno;
	}
	if (err)
		detach();
	return err;
}

/* Load and attach in the configured flavour, or the fallback. */
static int attach(ino_t ino)
{
	unsigned int mode = tel.cfg.mode;
	int err;

	if (mode != VEXFS_TEL_MODE_KPROBE) {
		err = attach_mode(VEXFS_TEL_MODE_FENTRY, ino);
		if (!err || mode == VEXFS_TEL_MODE_FENTRY)
			goto out;
		tel_log("fentry failed (%s), trying kprobes", strerror(-err));
	}
	err = attach_mode(VEXFS_TEL_MODE_KPROBE, ino);
out:
	if (err)
		return err;
	tel.generation++;
	write_info();
	tel_log("attached by %s, slow threshold %llu us, pins in %s",
		tel_mode_name(tel.mode), (unsigned long long)tel.cfg.slow_us,
		tel.pin_dir);
	return 0;
}

/* Drop programs of a module that went away; attach to one that is there. */
static void follow_module(void)
{
	uint64_t now = monotonic_ns();
	ino_t ino;

	if (now < tel.next_check_ns)
		return;
	tel.next_check_ns = now + CHECK_INTERVAL_NS;
	ino = module_ino();
	if (tel.skel && ino == tel.module_ino)
		return;
	pthread_mutex_lock(&tel_lock);
	if (tel.skel) {
		tel_log("module %s: programs detached", ino ? "reloaded" : "unloaded");
		detach();
	}
	if (ino && attach(ino))
		tel.next_check_ns = now + RETRY_INTERVAL_NS;
	pthread_mutex_unlock(&tel_lock);
}

/* ==== the API ==== */

int telemetry_start(const struct telemetry_config *cfg)
{
	const char *dir = cfg->pin_dir ? cfg->pin_dir : VEXFS_TEL_PIN_DIR;
	ino_t ino;
	int err;

	if (tel.started)
		return -EALREADY;
	if (strlen(dir) >= sizeof(tel.pin_dir))
		return -ENAMETOOLONG;
	tel.cfg = *cfg;
	strcpy(tel.pin_dir, dir);
	tel.cfg.pin_dir = tel.pin_dir;
	libbpf_set_print(libbpf_print);

	err = make_pin_dirs();
	if (err) {
		tel_log("%s: %s (is bpffs mounted on /sys/fs/bpf?)", tel.pin_dir,
			strerror(-err));
		return err;
	}
	remove_link_pins();
	remove_map_pins();
	tel.started = true;
	tel.generation = 0;
	ino = module_ino();
	if (!ino) {
		tel_log("module not loaded: attaching when it is");
		return 0;
	}
	pthread_mutex_lock(&tel_lock);
	err = attach(ino);
	pthread_mutex_unlock(&tel_lock);
	if (err) {
		telemetry_stop();
		return err;
	}
	tel.next_check_ns = monotonic_ns() + CHECK_INTERVAL_NS;
	return 0;
}

int telemetry_poll(int timeout_ms)
{
	int n = 0;

	if (!tel.started)
		return -EINVAL;
	if (tel.rb) {
		n = ring_buffer__poll(tel.rb, timeout_ms);
		if (n == -EINTR)
			n = 0;
	} else if (timeout_ms > 0) {
		poll(NULL, 0, timeout_ms);
	}
	follow_module();
	return n;
}

int telemetry_fd(void)
{
	return tel.rb ? ring_buffer__epoll_fd(tel.rb) : -1;
}

int telemetry_snapshot(struct telemetry_stats *st)
{
	int err = 0;

	pthread_mutex_lock(&tel_lock);
	if (tel.maps.hist < 0) {
		/* Never attached yet: all zero, and say so. */
		memset(st, 0, sizeof(*st));
		st->taken_ns = monotonic_ns();
	} else {
		err = tel_read(&tel.maps, st);
		st->attached = tel.skel != NULL;
	}
	pthread_mutex_unlock(&tel_lock);
	return err;
}

bool telemetry_attached(void)
{
	return tel.skel != NULL;
}

void telemetry_stop(void)
{
	if (!tel.started)
		return;
	pthread_mutex_lock(&tel_lock);
	detach();
	tel_maps_close(&tel.maps);
	pthread_mutex_unlock(&tel_lock);
	if (!tel.cfg.keep_pins) {
		remove_map_pins();
		remove_pin_dirs();
	}
	tel.started = false;
}
