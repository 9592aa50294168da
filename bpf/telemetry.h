/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VexFS telemetry: what the BPF programs (telemetry.bpf.c) and their
 * readers (daemon/telemetry/, vexfsctl top and slow) share. Every
 * struct here is a map value or a ring buffer record, so its layout is ABI
 * between the programs and any reader of the pinned maps: only append.
 *
 * Pinned maps, under VEXFS_TEL_PIN_DIR:
 *   hist         ARRAY, key __u32 op, value struct vexfs_tel_hist
 *   counters     ARRAY, key __u32 op, value struct vexfs_tel_counters
 *   errors       HASH,  key struct vexfs_tel_errkey, value __u64 count
 *   slow_events  RINGBUF of struct vexfs_tel_event
 *   info         ARRAY, key 0, value struct vexfs_tel_info
 */
#ifndef VEXFS_TELEMETRY_H
#define VEXFS_TELEMETRY_H

#define VEXFS_TEL_PIN_DIR	"/sys/fs/bpf/vexfs"

/* log2 buckets of microseconds: bucket b holds [2^b, 2^(b+1)) us, bucket
 * 0 also holds 0 us, the last bucket everything longer. */
#define VEXFS_TEL_BUCKETS	27
#define VEXFS_TEL_COMM_LEN	16
#define VEXFS_TEL_MAX_ERRNO	4095

/* The operations measured. Names for people are in vexfs_tel_op_name(). */
enum vexfs_tel_op {
	VEXFS_TEL_LOOKUP,
	VEXFS_TEL_CREATE,
	VEXFS_TEL_UNLINK,
	VEXFS_TEL_MKDIR,
	VEXFS_TEL_RMDIR,
	VEXFS_TEL_RENAME,
	VEXFS_TEL_SETATTR,
	VEXFS_TEL_FSYNC,
	VEXFS_TEL_READ,
	VEXFS_TEL_WRITE,
	VEXFS_TEL_SET_VECTOR,
	VEXFS_TEL_BATCH_INSERT,
	VEXFS_TEL_SEARCH,
	VEXFS_TEL_SEARCH_INDEX,	/* the HNSW pass of a search that had an index */
	VEXFS_TEL_PUBLISH_INDEX,
	VEXFS_TEL_NR_OPS,
};

/*
 * The superblock magic of include/uapi/vexfs_fs.h and the ioctl command
 * numbers (_IOC_NR) of include/uapi/vexfs.h. The programs cannot include
 * those headers beside vmlinux.h (both define the __u types);
 * daemon/telemetry/telemetry.c checks these against them at compile time.
 */
#define VEXFS_TEL_SB_MAGIC		0x56455846
#define VEXFS_TEL_IOC_MAGIC		0xE9
#define VEXFS_TEL_IOC_SET_VECTOR	0x03
#define VEXFS_TEL_IOC_BATCH_INSERT	0x06
#define VEXFS_TEL_IOC_SEARCH		0x07
#define VEXFS_TEL_IOC_PUBLISH_INDEX	0x09

struct vexfs_tel_hist {
	__u64 slots[VEXFS_TEL_BUCKETS];
};

struct vexfs_tel_counters {
	__u64 ops;		/* calls completed, failed ones included */
	__u64 errors;		/* calls that returned a negative errno */
	__u64 bytes;		/* read and write: bytes transferred */
	__u64 total_ns;		/* sum of latencies, for averages and _sum */
	__u64 slow;		/* calls at or over the slow threshold */
	__u64 slow_dropped;	/* of those, records the full ring buffer lost */
};

struct vexfs_tel_errkey {
	__u32 op;
	__u32 err;		/* positive errno */
};

/* One operation at or over the slow threshold. */
struct vexfs_tel_event {
	__u64 ts_ns;		/* completion, CLOCK_MONOTONIC */
	__u64 lat_ns;
	__u64 ino;		/* the inode acted on; see docs/telemetry.md */
	__u64 bytes;		/* read and write: bytes transferred */
	__u32 pid;		/* thread group id */
	__u32 tid;
	__s32 err;		/* 0, or the positive errno returned */
	__u32 op;		/* enum vexfs_tel_op */
	char comm[VEXFS_TEL_COMM_LEN];
};

/* How the running programs were configured, for readers of the pins. */
struct vexfs_tel_info {
	__u64 slow_ns;		/* the ring buffer's threshold */
	__u64 loaded_ns;	/* CLOCK_MONOTONIC when the programs attached */
	__u32 mode;		/* enum vexfs_tel_mode */
	__u32 pid;		/* the loader */
	__u32 generation;	/* attaches so far: grows on every module reload */
	__u32 reserved;
};

enum vexfs_tel_mode {
	VEXFS_TEL_MODE_AUTO,	/* fentry/fexit, kprobes when fentry fails */
	VEXFS_TEL_MODE_FENTRY,
	VEXFS_TEL_MODE_KPROBE,
};

#endif /* VEXFS_TELEMETRY_H */
