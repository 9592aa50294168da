#!/usr/bin/env bash
# The VexFS demo, run inside the guest by `make demo`: format an image,
# mount it, write and list files, remount, and show that they are still there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${VEXFS_SCRATCH:-/tmp}
img=$scratch/demo.img
mnt=$scratch/demo

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Load the module"
modprobe libcrc32c
modprobe jbd2
grep -qw vexfs /proc/filesystems || run insmod "$repo/build/kmod/kmod/vexfs.ko"
grep vexfs /proc/filesystems

step "Format a 256 MiB image"
rm -f "$img"
run truncate -s 256M "$img"
dev=$(losetup -f --show "$img")
run mkfs -t vexfs -L demo "$dev"

step "Mount it and write some files"
mkdir -p "$mnt"
run mount -t vexfs "$dev" "$mnt"
mkdir -p "$mnt/docs/notes"
echo "VexFS keeps embeddings next to the files they describe." >"$mnt/docs/readme.txt"
seq 1 100000 >"$mnt/docs/numbers.txt"
dd if=/dev/urandom of="$mnt/blob.bin" bs=1M count=8 status=none
ln -s docs/readme.txt "$mnt/link-to-readme"
setfattr -n user.topic -v "filesystems" "$mnt/docs/readme.txt"
run ls -lR "$mnt"
run df -h "$mnt"
(cd "$mnt" && sha256sum docs/readme.txt docs/numbers.txt blob.bin) >"$scratch/sums"

step "Unmount, mount again, check everything is still there"
run umount "$mnt"
run mount -t vexfs "$dev" "$mnt"
run cat "$mnt/link-to-readme"
run getfattr -n user.topic "$mnt/docs/readme.txt"
(cd "$mnt" && run sha256sum -c "$scratch/sums")

step "Clean up"
run umount "$mnt"
losetup -d "$dev"
echo "demo finished: files, links and attributes survived the remount"
