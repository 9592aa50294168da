#!/usr/bin/env bash
# The VexFS tour, run inside the guest by `make demo`: format an image,
# make a collection, import sift5k with the progress bar, let vexfsd build
# and publish the HNSW index, search (paths and distances), measure recall
# against the shipped ground truth, search through a BPF filter, show the
# latencies vexfsd's telemetry measured, and remount to show everything
# stayed. Runs the tree's own programs (build/bin, on the guest's PATH);
# nothing is installed on the host.
#
# Environment: VEXFS_SIFT (the sift5k directory, from scripts/testdata.py),
# VEXFS_DEMO_MNT (default /mnt/v, the path the README uses).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/scripts/guest-lib.sh"
sift=${VEXFS_SIFT:-$REPO/../shared/data/sift5k}
scratch=${VEXFS_SCRATCH:-/tmp}
mnt=${VEXFS_DEMO_MNT:-/mnt/v}
coll=$mnt/sift
img=$scratch/demo.img
export PATH=$REPO/build/bin:$PATH
dev= dpid=

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
shown() { printf '$ %s\n' "$1"; bash -c "$1"; }
elapsed() { echo $((SECONDS - $1)); }

cleanup() {
	[ -z "$dpid" ] || { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null || true; }
	vexfsctl filter unload tenth >/dev/null 2>&1 || true
	mountpoint -q "$mnt" && umount "$mnt"
	[ -z "$dev" ] || losetup -d "$dev" 2>/dev/null || true
}
trap cleanup EXIT

for f in sift5k_base.fvecs sift5k_query.fvecs sift5k_groundtruth.ivecs; do
	[ -f "$sift/$f" ] || { echo "demo: no $sift/$f (scripts/testdata.py makes it)" >&2; exit 1; }
done
mountpoint_at "$mnt"

step "Load the module (and what it needs: loop, crc32c, jbd2)"
run load_vexfs

step "Format a 256 MiB image and mount it"
rm -f "$img"
truncate -s 256M "$img"
dev=$(losetup -f --show "$img")
run mkfs -t vexfs -L demo "$dev"
run mount -t vexfs "$dev" "$mnt"

step "Start vexfsd: it finds collections, builds their indexes, serves telemetry"
# A smaller graph than the defaults (m 16, ef_construction 200): the
# guest's CPU is emulated, some fifty times slower than the host's.
vexfsd -i 1 -o m=8 -o ef_construction=40 >"$scratch/vexfsd.log" 2>&1 &
dpid=$!
# Up once it says so: telemetry attached, the socket answering.
for _ in $(seq 120); do
	grep -q 'notice: started' "$scratch/vexfsd.log" && break
	sleep 0.5
done
sed 's/^/  vexfsd: /' "$scratch/vexfsd.log"

step "A directory becomes a collection of 128-d vectors (L2)"
run vexfsctl collection create "$coll" --dim 128 --metric l2

step "Import sift5k: one file per vector, through batch insert"
run vexfsctl import "$coll" "$sift/sift5k_base.fvecs"
shown "ls $coll | head -5"
shown "vexfsctl get $coll/42 | cut -c 1-160"

step "vexfsd builds and publishes the HNSW index"
t=$SECONDS
run vexfsctl index build "$coll" --wait
echo "built and published in $(elapsed "$t") s"
run vexfsctl index status "$coll"

step "Search: the 5 nearest files to the first query"
run vexfsctl search "$coll" --query-file "$sift/sift5k_query.fvecs" --row 0 -k 5

step "Recall@10 over 100 queries against the exact ground truth"
run vexfsctl recall "$coll" "$sift/sift5k_query.fvecs" "$sift/sift5k_groundtruth.ivecs" --id-offset 1

step "A BPF filter decides which files may be returned: ids divisible by 10"
run vexfsctl filter load "$REPO/build/bpf/filters/idmod.bpf.o" --name tenth \
	--set modulus=10 --set residue=0
run vexfsctl search "$coll" --query-file "$sift/sift5k_query.fvecs" --row 0 -k 5 --filter tenth
run vexfsctl filter unload tenth

step "The latencies vexfsd's telemetry just measured"
run vexfsctl top --once
shown "curl -s 127.0.0.1:9477/metrics | grep '^vexfs_ops_total' | grep -v ' 0\$'"

step "Unmount, mount again: files, vectors and the index stayed"
answers() {
	vexfsctl search "$coll" --query-file "$sift/sift5k_query.fvecs" --row 0 -k 5 | head -6
}
answers >"$scratch/before"
kill -TERM "$dpid"
wait "$dpid" || true
dpid=
run umount "$mnt"
run mount -t vexfs "$dev" "$mnt"
run vexfsctl index status "$coll"
answers >"$scratch/after"
run diff "$scratch/before" "$scratch/after"
echo "the same answers after the remount"
run vexfsctl recall "$coll" "$sift/sift5k_query.fvecs" "$sift/sift5k_groundtruth.ivecs" --id-offset 1
run umount "$mnt"
run fsck.vexfs -n "$dev"

echo
echo "demo finished in $SECONDS s: see README.md for the next steps"
