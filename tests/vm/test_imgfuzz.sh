#!/usr/bin/env bash
# Image fuzzing (tests/fuzz/imgfuzz.py): a populated image (files, a deep
# extent tree, directories of several blocks, symlinks, xattrs, two vector
# collections, one with a published HNSW index) is damaged in its
# metadata, with random bytes and with structural changes whose checksums
# are fixed up, then mounted, walked (stat, read, readlink, getfattr, a
# search in every collection), changed (unlink, rmdir, renames, links and
# RENAME_EXCHANGE into, out of and between collections, vectors set and
# deleted by ioctl and xattr, a batch insert, an index published and
# dropped, a search after each, remount read-only and read-write),
# unmounted and checked with fsck.vexfs -n, -y and -n again, image after
# image. Any errno from a step, and any outcome but an oops, a warning, a
# hang or a crashed fsck, is acceptable; scripts/vm.sh fails the run on
# any kernel splat. One line per image says which steps failed and what
# fsck said; the totals close the log.
#
#   VEXFS_IMGFUZZ_IMAGES  images (40; make reliability: 1000)
#   VEXFS_IMGFUZZ_SEED    first image's seed (default: the time; printed)
#   VEXFS_IMGFUZZ_JOBS    images fuzzed at once, each worker its own range
#                         of seeds (1; more pays only with a TCG thread
#                         per vCPU, VEXFS_VM_TCG_THREAD=multi)
#
# The base image goes to $VEXFS_RESULTS/imgfuzz-base.img when that is set
# (scripts/vm.sh --keep leaves it on the host), since a panic ends the
# guest: `imgfuzz.py mutate imgfuzz-base.img OUT SEED` remakes the image
# the kernel log names.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	skip "$TEST_NAME" "the images are specific to vexfs, not $FSTYPE"
	summary
	exit
fi

IMAGES=${VEXFS_IMGFUZZ_IMAGES:-40}
SEED=${VEXFS_IMGFUZZ_SEED:-$(date +%s)}
JOBS=${VEXFS_IMGFUZZ_JOBS:-1}
VEXFSCTL=$REPO/build/bin/vexfsctl
BASE=$SCRATCH/base.img

populate() {
	local m=$MNT i
	mkdir -p "$m/a/b/c" "$m/wide" "$m/coll"
	for i in $(seq 1 12); do
		head -c $((i * 1531)) /dev/urandom >"$m/a/file$i"
	done
	head -c 200000 /dev/urandom >"$m/a/b/c/big"
	# Past one leaf of its hash tree (a root above leaves): 200 files,
	# then 500 more names, hard links to the first, which take no inode.
	python3 -c 'import os, sys
def name(i):
    return os.path.join(sys.argv[1], "entry-%03d-%s" % (i, "n" * (i % 40)))
for i in range(200):
    open(name(i), "w").write(str(i))
for i in range(200, 700):
    os.link(name(0), name(i))' "$m/wide"
	# Scattered blocks: an extent tree deeper than the inode's root.
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
for i in range(30):
    os.pwrite(fd, b"x" * 4096, i * 8192)
os.close(fd)' "$m/a/fragmented"
	ln -s file1 "$m/a/short-link"
	ln -s "$(head -c 300 /dev/zero | tr '\0' L)" "$m/a/long-link"
	ln "$m/a/file1" "$m/a/b/hardlink"
	mkfifo "$m/a/fifo"
	setfattr -n user.one -v 1 "$m/a/file2" &&
	setfattr -n trusted.two -v "$(head -c 500 /dev/zero | tr '\0' t)" "$m/a/file2" &&
	setfattr -n user.dir -v yes "$m/wide" || return 1
	"$VEXFSCTL" collection create "$m/coll" --dim 8 --metric l2 >/dev/null || return 1
	python3 -c 'import random, struct, sys
rng = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for _ in range(300):
        f.write(struct.pack("<i", 8) + struct.pack("<8f", *[rng.uniform(-1, 1) for _ in range(8)]))' \
		"$SCRATCH/vecs.fvecs"
	"$VEXFSCTL" import "$m/coll" "$SCRATCH/vecs.fvecs" >/dev/null &&
	"$VEXFSCTL" index build "$m/coll" --local --m 4 >/dev/null || return 1
	setfattr -n user.tag -v blue "$m/coll/5" || return 1
	# Vectors kept with files renamed out of their collection.
	mv "$m/coll/7" "$m/a/kept7" && mv "$m/coll/8" "$m/wide/kept8" || return 1
	# A second collection, of another dimension and metric, for renames
	# and links between collections.
	mkdir "$m/coll2" &&
	"$VEXFSCTL" collection create "$m/coll2" --dim 4 --metric ip >/dev/null || return 1
	python3 -c 'import random, struct, sys
rng = random.Random(8)
with open(sys.argv[1], "wb") as f:
    for _ in range(24):
        f.write(struct.pack("<i", 4) + struct.pack("<4f", *[rng.uniform(-1, 1) for _ in range(4)]))' \
		"$SCRATCH/vecs4.fvecs"
	"$VEXFSCTL" import "$m/coll2" "$SCRATCH/vecs4.fvecs" >/dev/null
}

section "a populated image"
check "make a 16 MiB vexfs" setup_vexfs 16M
check "populate it: files, dirs, links, xattrs, collections, an index" populate
check "unmount" umount "$MNT"
check_fsck "the base image checks clean"
detach "$DEV"
DEV=
cp "$IMG" "$BASE"
if [ -n "${VEXFS_RESULTS:-}" ] && [ -d "$VEXFS_RESULTS" ]; then
	cp "$BASE" "$VEXFS_RESULTS/imgfuzz-base.img" &&
		log "base image kept as $VEXFS_RESULTS/imgfuzz-base.img"
fi

# expect_fsck_finds TEXT IMAGE: fsck -n exits 4 and says TEXT.
expect_fsck_finds() {
	local out rc
	out=$("$(fsck_bin)" -n -f "$2" 2>&1)
	rc=$?
	echo "$out" | grep -F -- "$1" || { echo "$out" | tail -n 5; return 1; }
	[ $rc = 4 ]
}

section "cases the fuzzing found"
# A bad record after good ones in a directory block: readdir used to hand
# back the last good entry again on every call, so ls never ended.
bad_record_after_good_ones() {
	python3 - "$BASE" "$SCRATCH/badrec.img" "$REPO/tests/fuzz" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import imgfuzz
img = imgfuzz.Image(bytearray(open(sys.argv[1], "rb").read()))
wide = max(img.parent, key=lambda d: sum(1 for i, _ in img.dir_blocks if i == d))
blk = [b for i, b in img.dir_blocks if i == wide][0]
rec = imgfuzz.dir_records(img, blk)[5]
imgfuzz.put(img.d, rec + 8, 2, 0xd95f)
img.fix_block(blk)
open(sys.argv[2], "wb").write(img.d)
PY
}
listing_fails() {
	local rc
	timeout 60 ls -f "$MNT/wide" >/dev/null 2>"$SCRATCH/ls.err"
	rc=$?
	[ $rc != 124 ] || { echo "ls did not finish in 60 s"; return 1; }
	[ $rc != 0 ] || { echo "ls succeeded on a bad directory block"; return 1; }
	grep -q "Structure needs cleaning" "$SCRATCH/ls.err"
}
dmesg_mark "bad record"
if check "damage the sixth record of a directory block" bad_record_after_good_ones; then
	DEV=$(attach "$SCRATCH/badrec.img")
	check "mount it" mount_fs
	check "listing the directory ends, with EUCLEAN" listing_fails
	check "unmount" umount "$MNT"
	detach "$DEV"
	DEV=
fi
check_no_oops "no oops or warning"

# An index header claiming a graph of 1.5 GiB in a sparse 1 TiB index
# file: the module used to allocate and read all of it at the first
# search, and keep it for as long as the filesystem stayed mounted.
huge_index_image() {
	python3 - "$BASE" "$SCRATCH/hugeindex.img" "$REPO/tests/fuzz" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import imgfuzz
img = imgfuzz.Image(bytearray(open(sys.argv[1], "rb").read()))
ino, mapping = img.indexes[0]
off, size = imgfuzz.INODE["i_size"]
imgfuzz.put(img.d, img.inode_off(ino) + off, size, 1 << 40)
img.fix_inode(ino)
hdr = mapping[0] * imgfuzz.BS
off, size = imgfuzz.VINDEX_HDR["vi_graph_len"]
imgfuzz.put(img.d, hdr + off, size, 3 << 29)
img.fix_header(hdr, imgfuzz.VINDEX_HDR["vi_checksum"][0])
open(sys.argv[2], "wb").write(img.d)
PY
}
search_coll() {
	python3 -c 'import os, sys
sys.path.insert(0, sys.argv[2])
import vexfs_ioctl
fd = os.open(sys.argv[1], os.O_RDONLY)
results, scanned = vexfs_ioctl.search(fd, [0.5] * 8, 5)
print("%d results, %d scanned" % (len(results), scanned))
sys.exit(0 if len(results) == 5 else 1)' "$MNT/coll" "$TESTS_DIR"
}
dmesg_mark "huge index"
if check "an index header claiming 1.5 GiB in a 1 TiB sparse file" huge_index_image; then
	DEV=$(attach "$SCRATCH/hugeindex.img")
	check "mount it" mount_fs
	check "search works, exactly" search_coll
	check_kmsg "the index is not loaded" "index not loaded"
	check "unmount" umount "$MNT"
	check "fsck.vexfs -n reports the index" expect_fsck_finds "graph length out of range" "$SCRATCH/hugeindex.img"
	detach "$DEV"
	DEV=
fi
check_no_oops "no oops or warning"

# The workers' "imgfuzz: seed S: images N, mounted M, ... in T s" lines,
# summed into one line (the time: the longest worker's).
fuzz_totals() {
	python3 -c 'import re, sys
tot, secs = {}, 0
for line in sys.stdin:
    body = line.split(": ", 2)[2]
    fields, t = body.rsplit(" in ", 1)
    secs = max(secs, int(t.split()[0]))
    for f in fields.split(", "):
        k, v = f.rsplit(" ", 1)
        tot[k] = tot.get(k, 0) + int(v)
print("imgfuzz: all workers: %s in %d s" % (", ".join("%s %d" % kv for kv in tot.items()), secs))'
}

section "fuzzing $IMAGES damaged images (first seed $SEED, $JOBS at once)"
dmesg_mark "image fuzz"
# fuzz_worker J: images SEED + J*IMAGES/JOBS on, each worker with its own
# mount point and work image, its output in $SCRATCH/fuzz.J.
fuzz_worker() {
	local j=$1 first=$((IMAGES * $1 / JOBS)) next=$((IMAGES * ($1 + 1) / JOBS))
	[ "$next" -gt "$first" ] || return 0
	mkdir -p "$MNT.$j"
	timeout -k 10 $((900 + (next - first) * 60)) python3 "$REPO/tests/fuzz/imgfuzz.py" run "$BASE" \
		--count $((next - first)) --seed $((SEED + first)) --mnt "$MNT.$j" \
		--work "$SCRATCH/fuzz.$j.img" --fsck "$(fsck_bin)" >"$SCRATCH/fuzz.$j" 2>&1
}
fuzz() {
	local j pids=() rc=0
	for ((j = 0; j < JOBS; j++)); do
		fuzz_worker "$j" &
		pids+=($!)
	done
	for j in "${!pids[@]}"; do
		wait "${pids[$j]}" || rc=1
		cat "$SCRATCH/fuzz.$j" 2>/dev/null
	done
	return $rc
}
if check "$IMAGES images read and written: no hang, fsck never crashes" fuzz; then
	grep -h '^imgfuzz:' "$CHECK_OUT"
	grep -h '^imgfuzz: seed [0-9]*: images' "$CHECK_OUT" | fuzz_totals
else
	log "reproduce with VEXFS_IMGFUZZ_SEED=$SEED VEXFS_IMGFUZZ_IMAGES=$IMAGES"
fi
check_no_oops "no oops or warning on any image"

summary
