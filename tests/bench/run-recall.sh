#!/usr/bin/env bash
# In the guest: recall of the kernel's HNSW search on sift5k, a 10k subset
# of fashion-mnist and 10k x 1536 generated cosine data (make recall).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${VEXFS_SCRATCH:-/tmp}
modprobe libcrc32c
grep -qw vexfs /proc/filesystems || insmod "$repo/kmod/vexfs.ko"
truncate -s 1G "$scratch/recall.img"
dev=$(losetup -f --show "$scratch/recall.img")
mkfs.vexfs -q -f "$dev"
mkdir -p "$scratch/recall"
mount -t vexfs "$dev" "$scratch/recall"
python3 "$repo/tests/bench/recall.py" "$scratch/recall"
umount "$scratch/recall"
losetup -d "$dev"
