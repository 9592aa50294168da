#!/usr/bin/env bash
# make vecbench: vecbench (tests/bench/vecbench.c) in the guest, on a fresh
# VexFS loop device and on tmpfs, in the same boot: batch insert against
# write() of the same bytes, and the search ioctl against the same lib/
# scan in userspace. Under TCG only the ratios mean anything.
#
#   scripts/vm.sh -- tests/bench/run-vecbench.sh
#
# Environment (scripts/vm.sh passes VEXFS_* into the guest; defaults in
# brackets):
#   VEXFS_VECBENCH_SIFT        directory of sift5k_{base,query}.fvecs, or
#                              "none" [../shared/data/sift5k beside the repo]
#   VEXFS_VECBENCH_GEN         generated unit vectors N:DIM, or "none" [10000:1536]
#   VEXFS_VECBENCH_ROUNDS      rounds: insert figures are medians, search the best [3]
#   VEXFS_VECBENCH_QUERIES     queries per search round, at most 100 [100]
#   VEXFS_VECBENCH_BATCH       vectors per batch insert and per write() [1000]
#   VEXFS_VECBENCH_IMAGE_SIZE  size of the VexFS loop device [768M]
#
# The JSON goes to $VEXFS_RESULTS/vecbench.json when that is set, and is
# printed on the line starting with "vecbench-json:" as well, since the
# results share outlives the guest only with scripts/vm.sh --keep.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init vecbench
bin=$repo/build/bench/vecbench
sift=${VEXFS_VECBENCH_SIFT:-${VEXFS_SIFT:-$repo/../shared/data/sift5k}}
gen=${VEXFS_VECBENCH_GEN:-10000:1536}
rounds=${VEXFS_VECBENCH_ROUNDS:-3}
queries=${VEXFS_VECBENCH_QUERIES:-100}
batch=${VEXFS_VECBENCH_BATCH:-1000}
image_size=${VEXFS_VECBENCH_IMAGE_SIZE:-768M}

# The guest's root is read-only, so the binary is built on the host.
[ -x "$bin" ] || {
	echo "run-vecbench: no $bin; 'make vecbench' builds it first" >&2
	exit 1
}

mkdir -p "$work/tmpfs"
if [ "$(stat -f -c %T "$work/tmpfs")" != tmpfs ]; then
	echo "run-vecbench: note: $work is on $(stat -f -c %T "$work/tmpfs"), not tmpfs"
fi
bench_load_vexfs
bench_mount vexfs "$image_size"

args=(--mnt "$mnt" --tmp "$work/tmpfs" --rounds "$rounds" --queries "$queries"
	--batch "$batch")
[ "$sift" = none ] || args+=(--sift "$sift")
[ "$gen" = none ] || args+=(--gen "$gen")
[ -z "${VEXFS_RESULTS:-}" ] || args+=(--json "$VEXFS_RESULTS/vecbench.json")

echo "vecbench on $(uname -r), $(nproc) cpus; vexfs on a $image_size loop device in $work"
start=$SECONDS
"$bin" "${args[@]}"
echo "vecbench: done in $((SECONDS - start)) s"
[ -z "${VEXFS_RESULTS:-}" ] || echo "wrote $VEXFS_RESULTS/vecbench.json"
