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
