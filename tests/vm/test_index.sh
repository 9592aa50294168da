#!/usr/bin/env bash
# The HNSW index through the kernel: build and publish with vexfsctl, recall
# through the ioctl, the unindexed tail searched exactly, the index kept
# across a remount, dropped (search exact again), and corrupt graphs refused.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "the index is VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
CTL=$REPO/build/bin/vexfsctl
SIFT=${VEXFS_SIFT:-$REPO/../shared/data/sift5k}
[ -d "$SIFT" ] || SIFT=/work/shared/data/sift5k

# recall_of DIR [ARGS]: recall@10 of the sift queries, as printed by vexfsctl.
recall_of() {
	local dir=$1
	shift
	"$CTL" --json recall "$dir" "$SIFT/sift5k_query.fvecs" \
		"$SIFT/sift5k_groundtruth.ivecs" "$@" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["recall"])'
}

at_least() { python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }

# built_on DIR [ARGS]: build and publish DIR's index; what the build ran on.
built_on() {
	"$CTL" --json index build "$@" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["built_on"])'
}

info_field() {
	"$CTL" --json collection info "$1" |
		python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

section "index build and publish"
setup_vexfs 512M
C=$MNT/sift
check "make a collection" "$CTL" collection create "$C" --dim 128
check "import sift5k" "$CTL" import -q "$C" "$SIFT/sift5k_base.fvecs"
# SIFT under L2: small integers, exact codes, so the build runs on them.
check "build and publish an index, on SQ8 codes" \
	test "$(built_on "$C" --threads 2)" = codes
# A vector covers its slot only when the walk can reach its node from the
# entry point; an HNSW build may leave a few nodes no link leads to, and
# those are searched exactly, like the unindexed tail.
UNREACHED=$(info_field "$C" unindexed)
log "indexed $(info_field "$C" indexed), unreachable in the graph $UNREACHED"
check "every vector is indexed, or unreachable and searched exactly" \
	test "$(($(info_field "$C" indexed) + UNREACHED))" = 4900
check "at most 1 in 1,000 nodes unreachable" test "$UNREACHED" -le 5
# The module walks the graph on SQ8 codes of the vectors, a byte a
# dimension, and reads the vectors themselves from the table to re-rank:
# the index holds less than a float copy of the vectors alone would.
check "the module walks SIFT's index on codes" test "$(info_field "$C" index_walk)" = codes
MEM=$(info_field "$C" index_memory)
log "the index holds $MEM bytes in memory"
check "the index holds less than the vectors' floats" test "$MEM" -lt $((4900 * 128 * 4))
r=$(recall_of "$C")
log "recall@10 through the index (ef 64): $r"
check "recall@10 >= 0.95 at the default ef" at_least "$r" 0.95
r=$(recall_of "$C" --ef 16)
log "recall@10 at ef 16: $r"
r=$(recall_of "$C" --exact)
check "exact mode still gives recall 1.0" at_least "$r" 1.0

section "the graph read as searches need it"
# A graph built on codes carries them, and is read a page at a time as
# walks need it: right after a mount the index holds its header, the
# coding and the node table, not the links.
remount
MEM0=$(info_field "$C" index_memory)
check "still indexed after remount" test "$(info_field "$C" indexed)" = $((4900 - UNREACHED))
r=$(recall_of "$C")
MEM1=$(info_field "$C" index_memory)
log "recall@10 after remount: $r; index memory $MEM0 bytes after the mount, $MEM1 after 100 searches"
check "recall@10 >= 0.95 after remount" at_least "$r" 0.95
check "the remounted index reads its graph as searches need it" test "$MEM0" -lt "$MEM1"
# Memory pressure (drop_caches runs the shrinkers) takes the pages back;
# the directory stays open, so that is the index's shrinker, not the
# collection leaving memory. Searches read them again, with the same recall.
exec 9<"$C"
sync
echo 2 >/proc/sys/vm/drop_caches
MEM2=$(info_field "$C" index_memory)
log "index memory after drop_caches: $MEM2 bytes"
check "memory pressure takes the graph's pages back" test "$MEM2" -lt "$MEM1"
r2=$(recall_of "$C")
check "and searches read them again, with the same recall" test "$r2" = "$r"
exec 9<&-

section "damaged pages of the graph"
# The level-0 pages of the SIFT graph damaged on disk (a link count above
# capacity) pass the mount, which reads only the header, the coding and
# the node table; the first walk that reaches one checks it, refuses it,
# and from then on searches are exact: speed lost, not answers.
damage_level0_pages() {
	python3 - "$IMG" "$REPO/tests/fuzz" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import imgfuzz
BS = 4096
img = imgfuzz.Image(bytearray(open(sys.argv[1], "rb").read()))
for ino, mapping in img.indexes:
    graph = mapping[1] * BS
    off, size = imgfuzz.HNSW_HDR["h_node_count"]
    if imgfuzz.u(img.d, graph + off, size) == 4900:
        break
else:
    sys.exit("no index of 4,900 nodes")
off, size = imgfuzz.HNSW_HDR["h_level0_off"]
first = imgfuzz.u(img.d, graph + off, size) // BS
off, size = imgfuzz.HNSW_HDR["h_upper_off"]
for p in range(first, imgfuzz.u(img.d, graph + off, size) // BS):
    imgfuzz.put(img.d, mapping[1 + p] * BS, 4, 0xFFFFFFFF)
open(sys.argv[1], "wb").write(img.d)
PY
}
EXACT=$(recall_of "$C" --exact)
umount "$MNT" && detach "$DEV"
check "damage the level-0 pages of the graph on disk" damage_level0_pages
DEV=$(attach "$IMG")
check "mount it" mount_fs
dmesg_mark "damaged graph page"
r=$(recall_of "$C")
check "searches give the exact answers" test "$r" = "$EXACT"
check_kmsg "the page is refused when a walk reaches it" "graph page"
check "and the index no longer counts as covering anything" \
	test "$(info_field "$C" indexed)" = 0
check_no_oops "no oops or warning"

check "publish again: the index serves again" \
	test "$(built_on "$C" --threads 2)" = codes
UNREACHED=$(info_field "$C" unindexed)
check "every vector indexed again, or unreachable" \
	test "$(($(info_field "$C" indexed) + UNREACHED))" = 4900

section "the unindexed tail"
python3 - "$C" "$REPO" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[2], "tests", "vm"))
import vexfs_ioctl as vx
coll = sys.argv[1]
fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
vx.batch_insert(fd, [900001], b"".join([bytes(4 * 128)]), 128)
os.close(fd)
PY
check "a new vector is not indexed" test "$(info_field "$C" unindexed)" = $((UNREACHED + 1))
check "the new vector is found exactly" python3 -c "
import os, sys
sys.path.insert(0, '$TESTS_DIR')
import vexfs_ioctl as vx
fd = os.open('$C', os.O_RDONLY | os.O_DIRECTORY)
res, _ = vx.search(fd, [0.0] * 128, 1)
sys.exit(0 if res and res[0][0] == 900001 and res[0][2] == 0.0 else 1)"
check "an unlinked indexed file is never returned" python3 -c "
import os, sys
sys.path.insert(0, '$TESTS_DIR')
import vexfs_ioctl as vx
fd = os.open('$C/17', os.O_RDONLY)
vec, _, _ = vx.get_vector(fd, 128)
os.close(fd)
os.unlink('$C/17')
d = os.open('$C', os.O_RDONLY | os.O_DIRECTORY)
res, _ = vx.search(d, vec, 10)
sys.exit(0 if all(r[0] != 17 for r in res) else 1)"
check "a changed indexed vector is searched by its new value" python3 -c "
import os, sys
sys.path.insert(0, '$TESTS_DIR')
import vexfs_ioctl as vx
fd = os.open('$C/42', os.O_RDONLY)
old, _, _ = vx.get_vector(fd, 128)
vx.set_vector(fd, [7777.0] * 128, vid=42)
os.close(fd)
d = os.open('$C', os.O_RDONLY | os.O_DIRECTORY)
new, _ = vx.search(d, [7777.0] * 128, 1)
was, _ = vx.search(d, old, 10)
sys.exit(0 if new[0][0] == 42 and new[0][2] == 0.0 and
         all(r[0] != 42 for r in was) else 1)"
check "the changed vector left the index" test "$(info_field "$C" unindexed)" = $((UNREACHED + 2))

section "what the build runs on"
# Vector 42 now holds 7777 in every dimension: coded with one step over
# that range, SIFT's values would get a level or two, so the rebuild runs
# on the floats.
check "with a far vector, the rebuild runs on floats" \
	test "$(built_on "$C")" = floats
check "and the module walks it on a float copy" test "$(info_field "$C" index_walk)" = floats
# One value of 10,000 among N(0,1) data leaves every other dimension a
# level or two of a shared step: a graph built on such codes finds a tenth
# of the neighbours, so the indexer builds on the floats.
O=$MNT/outlier
check "make a 32-d collection" "$CTL" collection create "$O" --dim 32
python3 - "$SCRATCH" <<'PY'
import random, struct, sys
rng = random.Random(11)
centres = [[rng.gauss(0, 1) for _ in range(32)] for _ in range(20)]
def point():
    c = rng.choice(centres)
    return [x + rng.gauss(0, 0.3) for x in c]
base = [point() for _ in range(2000)]
base[7][3] = 10000.0
queries = [point() for _ in range(50)]
def fvecs(path, rows, code="f"):
    with open(path, "wb") as f:
        for r in rows:
            f.write(struct.pack("<i", len(r)) + struct.pack("<%d%s" % (len(r), code), *r))
truth = []
for q in queries:
    d = sorted((sum((a - b) ** 2 for a, b in zip(q, v)), i) for i, v in enumerate(base))
    truth.append([i for _, i in d[:10]])
fvecs(sys.argv[1] + "/outlier_base.fvecs", base)
fvecs(sys.argv[1] + "/outlier_query.fvecs", queries)
fvecs(sys.argv[1] + "/outlier_gt.ivecs", truth, "i")
PY
check "import 2,000 vectors, one with an outlier" "$CTL" import -q "$O" "$SCRATCH/outlier_base.fvecs"
check "the outlier's collection is built on floats" \
	test "$(built_on "$O")" = floats
check "and walked on floats" test "$(info_field "$O" index_walk)" = floats
r=$("$CTL" --json recall "$O" "$SCRATCH/outlier_query.fvecs" "$SCRATCH/outlier_gt.ivecs" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["recall"])')
log "recall@10 of the outlier's collection through its index: $r"
check "its recall@10 >= 0.95" at_least "$r" 0.95

section "remount keeps the index"
BEFORE=$(info_field "$C" indexed)
WALK=$(info_field "$C" index_walk)
remount
check "still indexed after remount" test "$(info_field "$C" indexed)" = "$BEFORE"
check "walked as before the remount" test "$(info_field "$C" index_walk)" = "$WALK"
r=$(recall_of "$C")
log "recall@10 after remount: $r"
check "recall@10 >= 0.95 after remount" at_least "$r" 0.95

section "drop and corrupt graphs"
check "drop the index" "$CTL" index drop "$C"
check "nothing indexed after drop" test "$(info_field "$C" indexed)" = 0
r=$(recall_of "$C")
check "search without an index is exact" test "$r" = "$(recall_of "$C" --exact)"
check "corrupt graphs are refused" python3 - "$C" "$TESTS_DIR" <<'PY'
import ctypes, errno, fcntl, os, random, struct, sys
sys.path.insert(0, sys.argv[2])
import vexfs_ioctl as vx
PUB = vx.IOC_PUBLISH_INDEX
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
random.seed(7)
refused = 0
for trial in range(200):
    n = random.choice([16, 256, 4096, 8192, 20000])
    g = bytearray(random.getrandbits(8) for _ in range(n))
    if trial % 2:
        g[0:4] = b"VXHN"  # a plausible magic, then garbage
    buf = ctypes.create_string_buffer(bytes(g), len(g))
    arg = bytearray(struct.pack(vx.PUBLISH_FMT, 64, 0, ctypes.addressof(buf), len(g), 0, 0, 0, 0, 0))
    try:
        fcntl.ioctl(fd, PUB, arg)
    except OSError as e:
        refused += e.errno in (errno.EINVAL, errno.EUCLEAN)
print("refused", refused, "of 200")
sys.exit(0 if refused == 200 else 1)
PY
teardown
summary
