#!/usr/bin/env bash
# make hnswioctl: in the guest, HNSW search through the kernel's ioctl
# against the same lib/ search in userspace, same graph, same queries
# (tests/bench/hnswioctl.c), on sift5k and the 10k x 1,536 cosine set.
# Under TCG only the ratio means anything.
#
#   scripts/vm.sh -- tests/bench/run-hnswioctl.sh
#
# Environment: VEXFS_HNSWIOCTL_SETS ("sift5k gen1536"), VEXFS_HNSWIOCTL_EF
# (16,64,128), VEXFS_HNSWIOCTL_ROUNDS (5). JSON lines start with
# "hnswioctl-json:" and go to $VEXFS_RESULTS/hnswioctl-*.json too.
#
# sift5k's graph is built in the guest. The 1,536-d graphs would take an
# hour to build under TCG: `make hnswioctl` builds them natively first
# (build/data/gen1536.hnsw, and gen1536-kept80.hnsw over the rows left
# after deleting 20%), and the guest publishes those files; hnswioctl
# checks that every slot holds the row the graph was built over.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init hnswioctl
bin=$repo/build/bench/hnswioctl
sift=${VEXFS_SIFT:-$repo/../shared/data/sift5k}
data=$repo/build/data

[ -x "$bin" ] || { echo "run-hnswioctl: no $bin; 'make hnswioctl' builds it" >&2; exit 1; }
bench_load_vexfs
bench_mount vexfs 512M

run() {
	local name=$1 metric=$2 base=$3 query=$4
	shift 4
	local json=()
	[ -z "${VEXFS_RESULTS:-}" ] || json=(--json "$VEXFS_RESULTS/hnswioctl-$name.json")
	if [ ! -e "$base" ]; then
		echo "run-hnswioctl: $name: no $base (scripts/datasets.py build/data), skipped"
		return
	fi
	"$bin" --mnt "$mnt" --name "$name" --metric "$metric" --base "$base" \
		--query "$query" --ef "${VEXFS_HNSWIOCTL_EF:-16,64,128}" \
		--rounds "${VEXFS_HNSWIOCTL_ROUNDS:-5}" "${json[@]}" "$@"
}

echo "hnswioctl on $(uname -r), $(nproc) cpus"
for set in ${VEXFS_HNSWIOCTL_SETS:-sift5k gen1536}; do
	case $set in
	sift5k) run sift5k l2 "$sift/sift5k_base.fvecs" "$sift/sift5k_query.fvecs" \
		--delete-share 0.2 ;;
	gen1536) run gen1536 cosine "$data/gen1536_base.fvecs" "$data/gen1536_query.fvecs" \
		--graph "$data/gen1536.hnsw" --delete-share 0.2 \
		--graph-after "$data/gen1536-kept80.hnsw" ;;
	*) echo "run-hnswioctl: unknown set $set" >&2; exit 2 ;;
	esac
done
