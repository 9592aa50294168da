# shellcheck shell=bash
# What the guest-side scripts (demo.sh, vm-shell.sh) share: loading the
# module with what it needs, and a mount point on a guest that has the
# host's root read-only. Sourced; REPO must be set.

# The module and its dependencies: in the guest nothing autoloads.
load_vexfs() {
	modprobe loop
	modprobe libcrc32c
	modprobe jbd2
	grep -qw vexfs /proc/filesystems ||
		insmod "${VEXFS_KO:-$REPO/build/kmod/kmod/vexfs.ko}"
}

# mountpoint_at DIR: DIR exists, on a tmpfs of the guest's own when the
# shared root cannot hold it.
mountpoint_at() {
	mkdir -p "$1" 2>/dev/null && return
	mount -t tmpfs -o mode=0755 guest "$(dirname "$1")"
	mkdir -p "$1"
}
