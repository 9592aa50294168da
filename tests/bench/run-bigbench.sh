#!/usr/bin/env bash
# make bigbench, in the guest: a collection whose vector table is at least
# twice the guest's memory. The filesystem is on a virtio disk backed by a
# host file (the guest's tmpfs could not hold it). The set is imported, its
# index (built natively on the host by `vexfsctl index write`, the same
# lib/ builder vexfsd runs) published, the filesystem remounted with the
# caches dropped, the first answer timed (one query), and the set's
# queries answered at k 10 with the index;
# recall@10 against the exact ground truth lowrank computed. Memory: the
# kernel memory that cannot be reclaimed (VmallocUsed + SUnreclaim) after
# the mount and after the searches; the kernel log is checked for any OOM
# kill or allocation failure.
#
#   scripts/vm.sh --mem 512M --disk DISK -- tests/bench/run-bigbench.sh
#
# Environment (defaults in brackets):
#   VEXFS_BIGBENCH_SET   DIM:N of build/big/lowrank-DIM-N_* [256:1000000]
#   VEXFS_BIGBENCH_DATA  where those and the graph are [build/big]
#   VEXFS_BIGBENCH_EFS   search ef values [64 128]
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init bigbench
IFS=: read -r dim n <<<"${VEXFS_BIGBENCH_SET:-256:1000000}"
data=${VEXFS_BIGBENCH_DATA:-$repo/build/big}
set_name=lowrank-$dim-$n
vexfsctl=$repo/build/bin/vexfsctl
disk=/dev/vda
read -r -a efs <<<"${VEXFS_BIGBENCH_EFS:-64 128}"

bench_cleanup_hook() {
	if mountpoint -q "$mnt"; then umount "$mnt"; fi
}

mib() {
	echo $(($1 >> 20))
}

# now: seconds since the epoch, to the millisecond.
now() {
	date +%s.%N
}

# json_field JSON KEY: a top-level number of a flat JSON object.
json_field() {
	sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" <<<"$1"
}

since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

for f in "${set_name}_base.fvecs" "${set_name}_query.fvecs" "${set_name}_truth.ivecs" "$set_name.hnsw"; do
	[ -r "$data/$f" ] || { echo "bigbench: no $data/$f ('make bigbench' makes it)" >&2; exit 1; }
done
modprobe virtio_blk
for _ in $(seq 50); do [ -b "$disk" ] && break; sleep 0.1; done
[ -b "$disk" ] || { echo "bigbench: no $disk: run with scripts/vm.sh --disk" >&2; exit 1; }
bench_load_vexfs

memory=$(meminfo MemTotal)
table=$((n * (64 + 4 * dim)))
echo "bigbench on $(uname -r): $n vectors of dimension $dim; guest memory $(mib "$memory") MiB," \
	"vector table $(mib "$table") MiB ($(awk -v t="$table" -v m="$memory" 'BEGIN { printf "%.2f", t / m }') x memory)," \
	"disk $(mib "$(blockdev --getsize64 "$disk")") MiB"

"$repo/build/bin/mkfs.vexfs" -q -f -N $((n + 1000)) "$disk" >/dev/null
mount -t vexfs "$disk" "$mnt"
mkdir "$mnt/c"
"$vexfsctl" collection create "$mnt/c" --dim "$dim" --metric l2 >/dev/null
t=$(now)
"$vexfsctl" import "$mnt/c" "$data/${set_name}_base.fvecs" --batch 10000 -q
echo "bigbench: import $(since "$t") s"
t=$(now)
"$vexfsctl" index publish "$mnt/c" "$data/$set_name.hnsw"
echo "bigbench: publish $(since "$t") s"
umount "$mnt"
sync
echo 3 >/proc/sys/vm/drop_caches
t=$(now)
mount -t vexfs "$disk" "$mnt"
mounted=$(since "$t")
before=$(pinned)
echo "bigbench: mount $mounted s; pinned after it $(mib "$before") MiB"
# The first answer: one query through the index, the collection not yet
# in memory (what it reads depends on what changed since the index).
t=$(now)
"$vexfsctl" search "$mnt/c" --query-file "$data/${set_name}_query.fvecs" --row 0 -k 10 >/dev/null
first=$(since "$t")
echo "bigbench: mount to first indexed result: $(awk -v a="$mounted" -v b="$first" \
	'BEGIN { printf "%.1f", a + b }') s (mount $mounted s, first search $first s)"

# Scored by vexfsctl itself: a Python started now, with the page cache
# full of the table, lists its library directories over 9p, whose
# readdir buffer is one contiguous allocation that a fragmented guest
# may refuse (a failure in the log that is not the filesystem's).
for ef in "${efs[@]}"; do
	t=$(now)
	recall=$("$vexfsctl" --json recall "$mnt/c" "$data/${set_name}_query.fvecs" \
		"$data/${set_name}_truth.ivecs" -k 10 --ef "$ef")
	secs=$(since "$t")
	echo "bigbench: ef $ef: recall@10 $(json_field "$recall" recall) over" \
		"$(json_field "$recall" queries) queries in $secs s"
done
after=$(pinned)
echo "bigbench: pinned after the searches $(mib "$after") MiB" \
	"($(((after - before) / n)) bytes a vector over the mount)"
echo "bigbench: page cache $(mib "$(cache)") MiB," \
	"free $(mib "$(meminfo MemFree)") MiB"
if dmesg | grep -E -i "out of memory|oom-kill|page allocation failure|vmalloc error"; then
	echo "bigbench: FAIL: the kernel ran out of memory (above)"
	exit 1
fi
echo "bigbench: no OOM and no allocation failure in the kernel log"
