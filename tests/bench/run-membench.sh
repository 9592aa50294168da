#!/usr/bin/env bash
# make membench: the kernel memory a collection pins per vector, in the
# guest. For each set: a fresh VexFS on a loop device, one collection, the
# set imported (and, with ":index", an index built and published), then
# a remount, and /proc/meminfo read right after the mount, again after
# 100 searches through the ioctl (the collection loaded, and its index),
# and again after `vexfsctl search`, whose lookup of the results' names
# builds the directory's in-memory name index; the directory stays cached.
# Pinned memory is what the kernel cannot reclaim while the collection is
# in use: VmallocUsed plus SUnreclaim. The figures are its growth over the
# mount divided by the vectors. The page cache (the device's cache holding
# the vector table) is reclaimable and not counted; it is printed beside.
# An index walked from its page cache holds the pages its walks read until
# memory pressure takes them back (a shrinker): that is printed beside too,
# from the collection's index_memory.
#
#   scripts/vm.sh -- tests/bench/run-membench.sh
#
# Environment (defaults in brackets):
#   VEXFS_MEMBENCH_SETS  DIM:N[:index] ... [96:200000 768:50000 96:20000:index]
#   VEXFS_MEMBENCH_DATA  directory of mem-DIM-N.fvecs, made on the host by
#                        `make membench` [build/data]
#   VEXFS_KO             the module to measure [build/kmod/kmod/vexfs.ko]
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init membench
read -r -a sets <<<"${VEXFS_MEMBENCH_SETS:-96:200000 768:50000 96:20000:index}"
data=${VEXFS_MEMBENCH_DATA:-$repo/build/data}
vexfsctl=$repo/build/bin/vexfsctl

# measure DIM N INDEX: prints one result line.
measure() {
	local dim=$1 n=$2 index=$3 file size before searched named cache_before cache_after
	file=$data/mem-$dim-$n.fvecs
	[ -r "$file" ] || { echo "membench: no $file ('make membench' makes it)" >&2; return 1; }
	# Table records, an inode (-N) and a name each, with room to spare.
	size=$(((n * (dim * 4 + 64 + 512) * 3 / 2 >> 20) + 64))M
	bench_mount vexfs "$size" -N $((n + 1000))
	mkdir "$mnt/c"
	"$vexfsctl" collection create "$mnt/c" --dim "$dim" --metric l2 >/dev/null
	"$vexfsctl" import "$mnt/c" "$file" --batch 5000 -q
	[ "$index" != index ] || "$vexfsctl" index build "$mnt/c" --local >/dev/null
	umount "$mnt"
	settle
	mount -t vexfs "$dev" "$mnt"
	before=$(pinned)
	cache_before=$(cache)
	# 100 searches through the ioctl alone, for the first 100 vectors:
	# the collection, and the pages of its index the walks read.
	python3 -c 'import os, struct, sys
sys.path.insert(0, sys.argv[1])
import vexfs_ioctl as vx
fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
dim = int(sys.argv[3])
with open(sys.argv[4], "rb") as f:
    for _ in range(100):
        row = f.read(4 + 4 * dim)
        if len(row) < 4 + 4 * dim:
            break
        vx.search(fd, list(struct.unpack("<%df" % dim, row[4:])), 10)' \
		"$repo/tests/vm" "$mnt/c" "$dim" "$file"
	searched=$(pinned)
	cache_after=$(cache)
	# vexfsctl names the results: a lookup, which builds the directory's
	# in-memory name index.
	"$vexfsctl" search "$mnt/c" --query-file "$file" --row 0 -k 10 >/dev/null
	named=$(pinned)
	# An index walked from the page cache holds the pages it read until
	# memory pressure takes them back: counted here beside the pinned.
	held=$("$vexfsctl" --json collection info "$mnt/c" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["index_memory"])')
	printf 'membench: dim %4d  vectors %7d  index %-3s  pinned %5d bytes/vector, %5d with the name index  (+%d KiB, +%d KiB; page cache +%d KiB; index %d KiB, %d bytes/vector)\n' \
		"$dim" "$n" "$([ "$index" = index ] && echo yes || echo no)" \
		$(((searched - before) / n)) $(((named - before) / n)) \
		$(((searched - before) >> 10)) $(((named - before) >> 10)) \
		$(((cache_after - cache_before) >> 10)) $((held >> 10)) $((held / n))
	first_access membench "$dim" "$n"
	bench_unmount
}

bench_load_vexfs
echo "membench: module ${VEXFS_KO:-$repo/build/kmod/kmod/vexfs.ko}"
for s in "${sets[@]}"; do
	IFS=: read -r dim n index <<<"$s"
	measure "$dim" "$n" "${index:-}"
done
