# shellcheck shell=bash
# Shared by the guest benchmarks (tests/bench/run-*.sh): the module, a
# scratch directory, a fresh filesystem on a loop device, and the cleanup
# when the script exits however it exits.
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init NAME         repo, work ($VEXFS_SCRATCH/NAME), mnt, dev
#   bench_load_vexfs        the module and what it needs, unless loaded
#   bench_mount FS SIZE [MKFS OPTIONS...]
#                           a SIZE image in $work, FS made on it, mounted
#                           at $mnt; bench_unmount undoes it
#   meminfo FIELD           a /proc/meminfo field in bytes
#   cache, pinned           the page cache (the devices' included); the
#                           kernel memory that cannot be reclaimed
#
# A script with more to stop on exit defines bench_cleanup_hook.
# VEXFS_KO names the module to load (scripts/vm.sh passes VEXFS_* into the
# guest); else this tree's. mkfs.vexfs is always this tree's: one on the
# guest's PATH may be an older install.

bench_init() {
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	work=${VEXFS_SCRATCH:-/tmp}/$1
	mnt=$work/mnt
	dev=
	mkdir -p "$mnt"
	trap bench_cleanup EXIT
}

bench_cleanup() {
	if declare -F bench_cleanup_hook >/dev/null; then bench_cleanup_hook; fi
	bench_unmount 2>/dev/null || true
	rm -rf "$work"
}

bench_load_vexfs() {
	grep -qw vexfs /proc/filesystems && return
	modprobe -q loop 2>/dev/null || true
	modprobe -q libcrc32c 2>/dev/null || true
	modprobe -q jbd2 2>/dev/null || true
	insmod "${VEXFS_KO:-$repo/build/kmod/kmod/vexfs.ko}"
}

# bench_mkfs FS DEVICE [OPTIONS...]
bench_mkfs() {
	local fs=$1
	shift
	case $fs in
	vexfs) "$repo/build/bin/mkfs.vexfs" -q -f "$@" ;;
	# 4 KiB blocks like vexfs; inode tables and journal written now, so
	# ext4's lazy init does not run in the background of a measurement.
	ext4) mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$@" ;;
	*) "mkfs.$fs" -q "$@" ;;
	esac >/dev/null
}

bench_mount() {
	local fs=$1 size=$2 img=$work/$1.img
	shift 2
	rm -f "$img"
	truncate -s "$size" "$img"
	dev=$(losetup -f --show "$img")
	bench_mkfs "$fs" "$@" "$dev"
	mount -t "$fs" "$dev" "$mnt"
}

bench_unmount() {
	if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt"; fi
	[ -z "$dev" ] || losetup -d "$dev"
	dev=
	rm -f "$work"/*.img
}

meminfo() {
	awk -v f="$1:" '$1 == f { print $2 * 1024 }' /proc/meminfo
}

cache() {
	echo $(($(meminfo Cached) + $(meminfo Buffers)))
}

# What the kernel cannot give back under memory pressure.
pinned() {
	echo $(($(meminfo VmallocUsed) + $(meminfo SUnreclaim)))
}

# Write everything back and drop the caches: what follows reads the disk.
settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
}

# first_access NAME DIM N: after a remount with the caches dropped, the time of
# one name lookup, then of reading that file's vector (open and
# GET_VECTOR), then of the first search (which loads the slots).
first_access() {
	local bench=$1
	shift
	umount "$mnt"
	settle
	mount -t vexfs "$dev" "$mnt"
	python3 -c 'import os, sys, time
sys.path.insert(0, sys.argv[1])
import vexfs_ioctl as vx
c, dim, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
name = os.path.join(c, str(n // 2))
t0 = time.perf_counter()
os.stat(name)
t1 = time.perf_counter()
fd = os.open(name, os.O_RDONLY)
vec, _, _ = vx.get_vector(fd, dim)
t2 = time.perf_counter()
os.close(fd)
dfd = os.open(c, os.O_RDONLY | os.O_DIRECTORY)
vx.search(dfd, vec, 10)
t3 = time.perf_counter()
print("%s: first access after a mount: name lookup %.1f ms, vector read %.1f ms, first search %.2f s"
      % (sys.argv[5], 1000 * (t1 - t0), 1000 * (t2 - t1), t3 - t2))' "$repo/tests/vm" "$mnt/c" "$@" "$bench"
}
