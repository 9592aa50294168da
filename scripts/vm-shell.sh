#!/usr/bin/env bash
# Run by `make vm-shell` in the guest before its shell: the module loaded,
# a scratch VexFS mounted at /mnt/v, so the README's "Vectors in five
# commands" work as written (the tools are on PATH, loopback is up).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/scripts/guest-lib.sh"
mnt=/mnt/v
img=${VEXFS_SCRATCH:-/tmp}/shell.img

load_vexfs
mountpoint_at "$mnt"
truncate -s 512M "$img"
mkfs.vexfs -q -T vectors "$(losetup -f --show "$img")"
mount -t vexfs "$(losetup -j "$img" | cut -d: -f1)" "$mnt"
cat <<MSG
VexFS is mounted at $mnt (a 512 MiB image in the guest's memory).
The test data is in \$VEXFS_SIFT ($VEXFS_SIFT). Try:
  vexfsctl collection create $mnt/sift --dim 128
  vexfsctl import $mnt/sift \$VEXFS_SIFT/sift5k_base.fvecs
MSG
