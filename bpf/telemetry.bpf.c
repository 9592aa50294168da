// SPDX-License-Identifier: GPL-2.0
/*
 * VexFS telemetry: latency histograms, counters and a ring buffer of slow
 * operations for the filesystem's VFS entry points and vector ioctls.
 *
 * Every measured function has an entry program and an exit program, in
 * two flavours: fentry/fexit (cheap, typed arguments) and kprobe/kretprobe
 * (the fallback where fentry cannot attach). The loader picks one flavour
 * and sets the other's autoload off, so the same object serves both. The
 * attach targets are not in the section names: the loader takes them from
 * its table of operations (daemon/telemetry/telemetry.c).
 *
 * Entry records the time and the inode in the thread's slot (task
 * storage); exit finds it, and charges the latency to the operation's
 * histogram and counters.
 * Slots are operations, except that the four vector ioctls share one
 * slot, measured at vexfs_ioctl() and told apart by the command number:
 * the per-command handlers are partly inlined into it, and the dispatcher
 * is the one place every vector call passes whatever the compiler did.
 *
 * Reads go through generic_file_read_iter, the module's read_iter, shared
 * with other filesystems, and writes through the module's own
 * vexfs_file_write_iter: entry keeps only calls on a superblock with
 * VexFS's magic. That covers read, pread, readv, aio and io_uring alike,
 * which vfs_read would not.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "telemetry.h"

#define S_IFMT		00170000
#define S_IFDIR		0040000

/* The ioctl slot: after every operation, so it never names one. */
#define SLOT_IOCTL	VEXFS_TEL_NR_OPS

/* Set by the loader before load. */
const volatile __u64 slow_ns = 10 * 1000 * 1000;

struct start {
	__u64 ts;			/* 0: no operation open in this slot */
	__u64 ino;
	__u32 op;
	__u32 pad;
};

/*
 * A thread's open operations, one start per slot, kept with the task:
 * finding them is a pointer away, where a hash keyed by thread costs an
 * insert and a delete per operation.
 */
struct starts {
	struct start slot[SLOT_IOCTL + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct starts);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VEXFS_TEL_NR_OPS);
	__type(key, __u32);
	__type(value, struct vexfs_tel_hist);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VEXFS_TEL_NR_OPS);
	__type(key, __u32);
	__type(value, struct vexfs_tel_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vexfs_tel_errkey);
	__type(value, __u64);
} errors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} slow_events SEC(".maps");

/* Written by the loader after load; read by vexfsctl and bpftool. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vexfs_tel_info);
} info SEC(".maps");

/* ==== recording ==== */

/* Index of the highest set bit; 0 for 0. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (__u32)(v >> 1);
}

static __always_inline void count_error(__u32 op, __s32 err)
{
	struct vexfs_tel_errkey key = { .op = op, .err = err };
	static const __u64 one = 1;
	__u64 *n;

	n = bpf_map_lookup_elem(&errors, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	/* Lost a race with another CPU: its element holds the first count. */
	if (bpf_map_update_elem(&errors, &key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&errors, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
}

static __always_inline void emit_slow(struct vexfs_tel_counters *c, __u32 op,
				      __u64 now, __u64 lat, __u64 ino,
				      __s32 err, __u64 bytes)
{
	struct vexfs_tel_event *e;
	__u64 id = bpf_get_current_pid_tgid();

	__sync_fetch_and_add(&c->slow, 1);
	e = bpf_ringbuf_reserve(&slow_events, sizeof(*e), 0);
	if (!e) {
		/* Nobody reads, or too slowly: say so rather than block. */
		__sync_fetch_and_add(&c->slow_dropped, 1);
		return;
	}
	e->ts_ns = now;
	e->lat_ns = lat;
	e->ino = ino;
	e->bytes = bytes;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->err = err;
	e->op = op;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void record(__u32 op, __u64 now, __u64 lat, __u64 ino,
				   __s32 err, __u64 bytes)
{
	struct vexfs_tel_counters *c;
	struct vexfs_tel_hist *h;
	__u32 slot;

	h = bpf_map_lookup_elem(&hist, &op);
	c = bpf_map_lookup_elem(&counters, &op);
	if (!h || !c)
		return;
	slot = log2_u64(lat / 1000);
	if (slot >= VEXFS_TEL_BUCKETS)
		slot = VEXFS_TEL_BUCKETS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&c->ops, 1);
	__sync_fetch_and_add(&c->total_ns, lat);
	if (bytes)
		__sync_fetch_and_add(&c->bytes, bytes);
	if (err) {
		__sync_fetch_and_add(&c->errors, 1);
		count_error(op, err);
	}
	if (lat >= slow_ns)
		emit_slow(c, op, now, lat, ino, err, bytes);
}

/* ==== entry and exit, shared by both flavours ==== */

/* This thread's starts; made on its first operation when create is set. */
static __always_inline struct starts *my_starts(bool create)
{
	return bpf_task_storage_get(&starts, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline int enter(__u32 slot, __u32 op, __u64 ino)
{
	struct starts *t = my_starts(true);

	if (!t || slot > SLOT_IOCTL)
		return 0;
	t->slot[slot].ino = ino;
	t->slot[slot].op = op;
	t->slot[slot].ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int leave(__u32 slot, long ret)
{
	struct starts *t = my_starts(false);
	__u64 now = bpf_ktime_get_ns(), bytes = 0;
	struct start s;
	__s32 err = 0;

	if (!t || slot > SLOT_IOCTL)
		return 0;
	s = t->slot[slot];
	if (!s.ts)
		return 0;	/* entered before we attached, or not ours */
	t->slot[slot].ts = 0;
	/* Pointers (lookup) and counts alike: -4095..-1 is an errno. */
	if (ret < 0 && ret >= -VEXFS_TEL_MAX_ERRNO)
		err = -ret;
	else if ((s.op == VEXFS_TEL_READ || s.op == VEXFS_TEL_WRITE) && ret > 0)
		bytes = ret;
	record(s.op, now, now - s.ts, s.ino, err, bytes);
	return 0;
}

static __always_inline __u64 ino_of(struct inode *inode)
{
	return inode ? BPF_CORE_READ(inode, i_ino) : 0;
}

static __always_inline __u64 dentry_ino(struct dentry *dentry)
{
	return ino_of(BPF_CORE_READ(dentry, d_inode));
}

static __always_inline int enter_unlink(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	/* vexfs_rmdir() unlinks through vexfs_unlink(): counted as rmdir. */
	if (inode && (BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFDIR)
		return 0;
	return enter(VEXFS_TEL_UNLINK, VEXFS_TEL_UNLINK, ino_of(inode));
}

static __always_inline int enter_rw(__u32 op, struct kiocb *iocb)
{
	struct inode *inode = BPF_CORE_READ(iocb, ki_filp, f_inode);

	if (BPF_CORE_READ(inode, i_sb, s_magic) != VEXFS_TEL_SB_MAGIC)
		return 0;
	return enter(op, op, ino_of(inode));
}

static __always_inline int enter_ioctl(struct file *filp, unsigned int cmd)
{
	__u32 op;

	if (((cmd >> 8) & 0xff) != VEXFS_TEL_IOC_MAGIC)
		return 0;
	switch (cmd & 0xff) {
	case VEXFS_TEL_IOC_SET_VECTOR:
		op = VEXFS_TEL_SET_VECTOR;
		break;
	case VEXFS_TEL_IOC_BATCH_INSERT:
		op = VEXFS_TEL_BATCH_INSERT;
		break;
	case VEXFS_TEL_IOC_SEARCH:
		op = VEXFS_TEL_SEARCH;
		break;
	case VEXFS_TEL_IOC_PUBLISH_INDEX:
		op = VEXFS_TEL_PUBLISH_INDEX;
		break;
	default:
		return 0;
	}
	return enter(SLOT_IOCTL, op, ino_of(BPF_CORE_READ(filp, f_inode)));
}

static __always_inline int enter_search_index(struct vexfs_collection *c)
{
	return enter(VEXFS_TEL_SEARCH_INDEX, VEXFS_TEL_SEARCH_INDEX,
		     ino_of(BPF_CORE_READ(c, dir)));
}

/* ==== fentry/fexit ==== */

SEC("fentry")
int BPF_PROG(f_lookup, struct inode *dir)
{
	return enter(VEXFS_TEL_LOOKUP, VEXFS_TEL_LOOKUP, ino_of(dir));
}

SEC("fentry")
int BPF_PROG(f_create, struct mnt_idmap *idmap, struct inode *dir)
{
	return enter(VEXFS_TEL_CREATE, VEXFS_TEL_CREATE, ino_of(dir));
}

SEC("fentry")
int BPF_PROG(f_unlink, struct inode *dir, struct dentry *dentry)
{
	return enter_unlink(dir, dentry);
}

SEC("fentry")
int BPF_PROG(f_mkdir, struct mnt_idmap *idmap, struct inode *dir)
{
	return enter(VEXFS_TEL_MKDIR, VEXFS_TEL_MKDIR, ino_of(dir));
}

SEC("fentry")
int BPF_PROG(f_rmdir, struct inode *dir, struct dentry *dentry)
{
	return enter(VEXFS_TEL_RMDIR, VEXFS_TEL_RMDIR, dentry_ino(dentry));
}

SEC("fentry")
int BPF_PROG(f_rename, struct mnt_idmap *idmap, struct inode *old_dir,
	     struct dentry *old_dentry)
{
	return enter(VEXFS_TEL_RENAME, VEXFS_TEL_RENAME, dentry_ino(old_dentry));
}

SEC("fentry")
int BPF_PROG(f_setattr, struct mnt_idmap *idmap, struct dentry *dentry)
{
	return enter(VEXFS_TEL_SETATTR, VEXFS_TEL_SETATTR, dentry_ino(dentry));
}

SEC("fentry")
int BPF_PROG(f_fsync, struct file *file)
{
	return enter(VEXFS_TEL_FSYNC, VEXFS_TEL_FSYNC,
		     ino_of(BPF_CORE_READ(file, f_inode)));
}

SEC("fentry")
int BPF_PROG(f_read, struct kiocb *iocb)
{
	return enter_rw(VEXFS_TEL_READ, iocb);
}

SEC("fentry")
int BPF_PROG(f_write, struct kiocb *iocb)
{
	return enter_rw(VEXFS_TEL_WRITE, iocb);
}

SEC("fentry")
int BPF_PROG(f_ioctl, struct file *filp, unsigned int cmd)
{
	return enter_ioctl(filp, cmd);
}

SEC("fentry")
int BPF_PROG(f_search_index, struct vexfs_collection *c)
{
	return enter_search_index(c);
}

/*
 * The exits differ only in their slot and the type they return: the value
 * comes by helper as the whole register, so an int must be narrowed
 * before it is widened again, or -ENOENT reads as 4294967294.
 */
#define FEXIT(name, slot, type)					\
SEC("fexit")							\
int BPF_PROG(fx_##name)						\
{								\
	__u64 ret = 0;						\
								\
	bpf_get_func_ret(ctx, &ret);				\
	return leave(slot, (long)(type)ret);			\
}

FEXIT(lookup, VEXFS_TEL_LOOKUP, long)
FEXIT(create, VEXFS_TEL_CREATE, int)
FEXIT(unlink, VEXFS_TEL_UNLINK, int)
FEXIT(mkdir, VEXFS_TEL_MKDIR, int)
FEXIT(rmdir, VEXFS_TEL_RMDIR, int)
FEXIT(rename, VEXFS_TEL_RENAME, int)
FEXIT(setattr, VEXFS_TEL_SETATTR, int)
FEXIT(fsync, VEXFS_TEL_FSYNC, int)
FEXIT(read, VEXFS_TEL_READ, long)
FEXIT(write, VEXFS_TEL_WRITE, long)
FEXIT(ioctl, SLOT_IOCTL, long)
FEXIT(search_index, VEXFS_TEL_SEARCH_INDEX, int)

/* ==== kprobe/kretprobe ==== */

SEC("kprobe")
int BPF_KPROBE(k_lookup, struct inode *dir)
{
	return enter(VEXFS_TEL_LOOKUP, VEXFS_TEL_LOOKUP, ino_of(dir));
}

SEC("kprobe")
int BPF_KPROBE(k_create, struct mnt_idmap *idmap, struct inode *dir)
{
	return enter(VEXFS_TEL_CREATE, VEXFS_TEL_CREATE, ino_of(dir));
}

SEC("kprobe")
int BPF_KPROBE(k_unlink, struct inode *dir, struct dentry *dentry)
{
	return enter_unlink(dir, dentry);
}

SEC("kprobe")
int BPF_KPROBE(k_mkdir, struct mnt_idmap *idmap, struct inode *dir)
{
	return enter(VEXFS_TEL_MKDIR, VEXFS_TEL_MKDIR, ino_of(dir));
}

SEC("kprobe")
int BPF_KPROBE(k_rmdir, struct inode *dir, struct dentry *dentry)
{
	return enter(VEXFS_TEL_RMDIR, VEXFS_TEL_RMDIR, dentry_ino(dentry));
}

SEC("kprobe")
int BPF_KPROBE(k_rename, struct mnt_idmap *idmap, struct inode *old_dir,
	       struct dentry *old_dentry)
{
	return enter(VEXFS_TEL_RENAME, VEXFS_TEL_RENAME, dentry_ino(old_dentry));
}

SEC("kprobe")
int BPF_KPROBE(k_setattr, struct mnt_idmap *idmap, struct dentry *dentry)
{
	return enter(VEXFS_TEL_SETATTR, VEXFS_TEL_SETATTR, dentry_ino(dentry));
}

SEC("kprobe")
int BPF_KPROBE(k_fsync, struct file *file)
{
	return enter(VEXFS_TEL_FSYNC, VEXFS_TEL_FSYNC,
		     ino_of(BPF_CORE_READ(file, f_inode)));
}

SEC("kprobe")
int BPF_KPROBE(k_read, struct kiocb *iocb)
{
	return enter_rw(VEXFS_TEL_READ, iocb);
}

SEC("kprobe")
int BPF_KPROBE(k_write, struct kiocb *iocb)
{
	return enter_rw(VEXFS_TEL_WRITE, iocb);
}

SEC("kprobe")
int BPF_KPROBE(k_ioctl, struct file *filp, unsigned int cmd)
{
	return enter_ioctl(filp, cmd);
}

SEC("kprobe")
int BPF_KPROBE(k_search_index, struct vexfs_collection *c)
{
	return enter_search_index(c);
}

#define KRETPROBE(name, slot, type)				\
SEC("kretprobe")						\
int BPF_KRETPROBE(kr_##name, type ret)				\
{								\
	return leave(slot, (long)ret);				\
}

KRETPROBE(lookup, VEXFS_TEL_LOOKUP, long)
KRETPROBE(create, VEXFS_TEL_CREATE, int)
KRETPROBE(unlink, VEXFS_TEL_UNLINK, int)
KRETPROBE(mkdir, VEXFS_TEL_MKDIR, int)
KRETPROBE(rmdir, VEXFS_TEL_RMDIR, int)
KRETPROBE(rename, VEXFS_TEL_RENAME, int)
KRETPROBE(setattr, VEXFS_TEL_SETATTR, int)
KRETPROBE(fsync, VEXFS_TEL_FSYNC, int)
KRETPROBE(read, VEXFS_TEL_READ, long)
KRETPROBE(write, VEXFS_TEL_WRITE, long)
KRETPROBE(ioctl, SLOT_IOCTL, long)
KRETPROBE(search_index, VEXFS_TEL_SEARCH_INDEX, int)

char LICENSE[] SEC("license") = "GPL";
