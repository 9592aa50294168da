#!/usr/bin/env bash
# make scalebench: does batch insert stay as fast as a collection grows?
# In the guest, one collection on a fresh VexFS gets N vectors through
# `vexfsctl import`, a step of S vectors at a time; each step's rate is
# printed, and the last step's over the first's. A cost per vector that
# grew with the collection (a scan of the directory or of the table)
# shows as a falling rate.
#
#   scripts/vm.sh --mem 6G -- tests/bench/run-scalebench.sh
#
# Environment (defaults in brackets):
#   VEXFS_SCALEBENCH_SET    DIM:N, data in $VEXFS_MEMBENCH_DATA/mem-DIM-N.fvecs,
#                           made on the host by `make scalebench` [96:1000000]
#   VEXFS_SCALEBENCH_STEP   vectors per step [100000]
#   VEXFS_SCALEBENCH_BATCH  vectors per batch insert call [10000]
#   VEXFS_MEMBENCH_DATA     directory of the data [build/data]
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init scalebench
IFS=: read -r dim n <<<"${VEXFS_SCALEBENCH_SET:-96:1000000}"
step=${VEXFS_SCALEBENCH_STEP:-100000}
batch=${VEXFS_SCALEBENCH_BATCH:-10000}
data=${VEXFS_MEMBENCH_DATA:-$repo/build/data}/mem-$dim-$n.fvecs
vexfsctl=$repo/build/bin/vexfsctl
row=$((4 + 4 * dim))

[ -r "$data" ] || { echo "scalebench: no $data ('make scalebench' makes it)" >&2; exit 1; }
bench_load_vexfs
# A record, an inode and a name per vector, with room to spare.
bench_mount vexfs "$(((n * (dim * 4 + 64 + 512) * 3 / 2 >> 20) + 64))M" -N $((n + 1000))
mkdir "$mnt/c"
"$vexfsctl" collection create "$mnt/c" --dim "$dim" --metric l2 >/dev/null

echo "scalebench on $(uname -r): $n vectors of dimension $dim, steps of $step, batches of $batch"
printf '%-20s %10s %14s\n' vectors seconds vectors/s
first='' last=''
for ((at = 0; at < n; at += step)); do
	count=$((n - at < step ? n - at : step))
	# The step's rows, off the 9p share before the clock starts.
	dd if="$data" of="$work/step.fvecs" bs=1M iflag=skip_bytes,count_bytes \
		skip=$((at * row)) count=$((count * row)) status=none
	t0=$(date +%s.%N)
	"$vexfsctl" import "$mnt/c" "$work/step.fvecs" --batch "$batch" \
		--id-start $((at + 1)) -q
	t1=$(date +%s.%N)
	rate=$(awk -v c="$count" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", c / (b - a) }')
	printf '%-20s %10.2f %14s\n' "$((at + 1))-$((at + count))" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$rate"
	first=${first:-$rate}
	last=$rate
done
rm -f "$work/step.fvecs"
echo "scalebench: last step / first step: $(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.2f", b / a }')"
echo "scalebench: $(find "$mnt/c" -maxdepth 1 -type f | wc -l) files in the collection"
first_access scalebench "$dim" "$n"
