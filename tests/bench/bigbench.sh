#!/usr/bin/env bash
# make bigbench, on the host: the data (tests/bench/lowrank.c), its graph
# built natively by `vexfsctl index write` (the same lib/ builder vexfsd
# runs; under the emulator the build would take hours), a raw disk image
# for the filesystem, then tests/bench/run-bigbench.sh in a guest of MEM.
#
#   tests/bench/bigbench.sh [DIM:N [MEM]]        defaults 256:1000000 512M
#
# Data, graph and disk go to build/big (made once; the disk afresh).
set -euo pipefail
cd "$(dirname "$0")/../.."
IFS=: read -r dim n <<<"${1:-256:1000000}"
mem=${2:-512M}
out=build/big
name=lowrank-$dim-$n
mkdir -p "$out" build/bench
[ build/bench/lowrank -nt tests/bench/lowrank.c ] ||
	${CC:-gcc} -O2 -Wall -Wextra -o build/bench/lowrank tests/bench/lowrank.c -lm
build/bench/lowrank "$dim" "$n" 100 "$out" >/dev/null
if [ ! -s "$out/$name.hnsw" ]; then
	echo "bigbench: building the index of $n x $dim natively"
	start=$SECONDS
	build/bin/vexfsctl index write "$out/${name}_base.fvecs" "$out/$name.hnsw.tmp" \
		--metric l2 --threads "$(nproc)"
	mv "$out/$name.hnsw.tmp" "$out/$name.hnsw"
	echo "bigbench: index built in $((SECONDS - start)) s"
fi
# Records, inodes, names and the graph, with room for the journal.
mib=$(((n * (64 + 4 * dim + 256 + 64) + $(stat -c %s "$out/$name.hnsw")) * 5 / 4 / (1 << 20) + 512))
rm -f "$out/disk.img"
truncate -s "${mib}M" "$out/disk.img"
VEXFS_BIGBENCH_SET=$dim:$n scripts/vm.sh --mem "$mem" --disk "$out/disk.img" -- tests/bench/run-bigbench.sh
rm -f "$out/disk.img"
