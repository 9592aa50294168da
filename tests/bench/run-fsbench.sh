#!/usr/bin/env bash
# make bench: fsbench on vexfs and on ext4, each on its own loop device of
# the same size backed by the same tmpfs, in the same guest, one after the
# other, for several interleaved rounds (vexfs, ext4, vexfs, ext4, ...);
# then a table of each phase's median throughput, its spread over the
# rounds, and the ratio of the medians.
#
#   scripts/vm.sh -- tests/bench/run-fsbench.sh
#
# Environment (defaults in brackets):
#   FSBENCH_FILES       files per phase [5000]
#   FSBENCH_FILE_SIZE   bytes written to each file [16k]
#   FSBENCH_FSYNC       end | each | none, see fsbench.c [end]
#   FSBENCH_IMAGE_SIZE  size of each loop device [384M]
#   FSBENCH_FS          filesystems to compare [vexfs ext4]
#   FSBENCH_ROUNDS      rounds, each running every filesystem once [3]
#
# The combined JSON goes to $VEXFS_RESULTS/fsbench.json when that is set,
# and is printed on one line starting with "fsbench-json:" as well, since
# the results share outlives the guest only with scripts/vm.sh --keep.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init fsbench
files=${FSBENCH_FILES:-5000}
file_size=${FSBENCH_FILE_SIZE:-16k}
fsync_mode=${FSBENCH_FSYNC:-end}
image_size=${FSBENCH_IMAGE_SIZE:-384M}
read -r -a filesystems <<<"${FSBENCH_FS:-vexfs ext4}"
rounds=${FSBENCH_ROUNDS:-3}

# The guest's root is read-only: when the host has not built fsbench (or
# built it from an older source), compile a private copy in scratch.
fsbench_binary() {
	local src=$repo/tests/bench/fsbench.c bin=$repo/build/bench/fsbench
	if [ -x "$bin" ] && [ "$bin" -nt "$src" ]; then
		echo "$bin"
		return
	fi
	${CC:-cc} -O2 -Wall -o "$work/fsbench" "$src"
	echo "$work/fsbench"
}

bench_one() {	# TYPE ROUND: leaves fsbench's JSON in $work/TYPE.ROUND.json
	local fs=$1
	bench_mount "$fs" "$image_size"
	"$fsbench" -n "$files" -s "$file_size" -f "$fsync_mode" -l "$fs" --json "$mnt" >"$work/$fs.$2.json"
	bench_unmount
}

# Table and combined JSON from the per-filesystem, per-round JSON files:
# each phase's median over the rounds, and the spread (lowest-highest).
report() {
	python3 - "$work" "${VEXFS_RESULTS:-}" "$rounds" "${filesystems[@]}" <<'EOF'
import json, os, statistics, sys
work, results, rounds, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
runs = {n: [json.load(open(os.path.join(work, "%s.%d.json" % (n, r)))) for r in range(rounds)]
        for n in names}
first = runs[names[0]][0]
print("\nfsbench: %d files x %d bytes, fsync=%s, caches %s between phases, "
      "median of %d interleaved rounds (lowest-highest)"
      % (first["files"], first["file_size"], first["fsync"],
         "dropped" if first["caches_dropped"] else "warm", rounds))
head = "%-8s" % "phase" + "".join("%28s" % (n + " ops/s") for n in names)
if len(names) == 2:
    head += "%10s" % "ratio"
print(head)
combined = {"files": first["files"], "file_size": first["file_size"], "fsync": first["fsync"],
            "rounds": rounds, "runs": runs, "median": {}, "ratio": {}}
for i, phase in enumerate(p["name"] for p in first["phases"]):
    line, med = "%-8s" % phase, []
    for n in names:
        ops = [r["phases"][i]["ops_per_sec"] for r in runs[n]]
        m = statistics.median(ops)
        med.append(m)
        combined["median"].setdefault(n, {})[phase] = round(m, 1)
        line += "%28s" % ("%.1f (%.1f-%.1f)" % (m, min(ops), max(ops)))
    if len(names) == 2 and med[1]:
        combined["ratio"][phase] = round(med[0] / med[1], 3)
        line += "%10.2f" % (med[0] / med[1])
    print(line)
if len(names) == 2:
    print("ratio = %s / %s median throughput; above 1 means %s is faster" % (names[0], names[1], names[0]))
text = json.dumps(combined, sort_keys=True)
print("fsbench-json: " + text)
if results:
    with open(os.path.join(results, "fsbench.json"), "w") as f:
        f.write(text + "\n")
    print("wrote " + os.path.join(results, "fsbench.json"))
EOF
}

fsbench=$(fsbench_binary)
for ((round = 0; round < rounds; round++)); do
	for fs in "${filesystems[@]}"; do
		[ "$fs" != vexfs ] || bench_load_vexfs
		echo "== round $((round + 1))/$rounds, $fs: $files files x $file_size on a $image_size loop device"
		start=$SECONDS
		bench_one "$fs" "$round"
		echo "   done in $((SECONDS - start)) s"
	done
done
report
