#!/usr/bin/env bash
# In the guest: recall of the kernel's HNSW search, with indexes built and
# published by vexfsd, on sift5k, a 10k subset of fashion-mnist, 10k x 1536
# generated cosine data and the full 60k fashion-mnist (make recall).
# VEXFS_RECALL_SETS picks datasets by name (see recall.py).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init recall
bench_load_vexfs
bench_mount vexfs "${VEXFS_RECALL_IMAGE:-1G}"
daemon=

bench_cleanup_hook() {
	[ -z "$daemon" ] || { kill "$daemon"; wait "$daemon"; } 2>/dev/null || true
}

# The daemon builds only when asked (index build --wait): its own scans
# would race the imports and deletions being measured.
export VEXFSD_SOCKET=$work/vexfsd.sock
# VEXFS_RECALL_EFC: the daemon's ef_construction, when its default build
# is too slow for the emulator.
"$repo/build/bin/vexfsd" -s "$VEXFSD_SOCKET" --scan-interval 86400 \
	--index-threshold 100000000 --rebuild-dead-share 0 \
	${VEXFS_RECALL_EFC:+--ef-construction "$VEXFS_RECALL_EFC"} \
	>"$work/vexfsd.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -S "$VEXFSD_SOCKET" ] && break; sleep 0.2; done
[ -S "$VEXFSD_SOCKET" ] || { cat "$work/vexfsd.log"; exit 1; }

status=0
python3 "$repo/tests/bench/recall.py" "$mnt" || status=$?
kill "$daemon"
wait "$daemon" || true
daemon=
grep 'index published' "$work/vexfsd.log" | sed 's/^/vexfsd: /' || true
exit $status
