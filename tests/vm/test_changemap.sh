#!/usr/bin/env bash
# The change map: right after a mount, a search reads the slots changed
# since the index was built and those its walk meets, not the whole table,
# and answers as a collection read whole would: changed vectors by their
# new values, new ones found, deleted ones never returned, unreadable
# files never shown. A map damaged on disk is refused; one that hides a
# change is caught when the table is next read whole, said, and mended;
# fsck knows it.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "the change map is VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
CTL=$REPO/build/bin/vexfsctl
SIFT=${VEXFS_SIFT:-$REPO/../shared/data/sift5k}
[ -d "$SIFT" ] || SIFT=/work/shared/data/sift5k
DIM=128
REC=$((64 + 4 * DIM))

info_field() {
	"$CTL" --json collection info "$1" |
		python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# Sectors the device has read since it was attached.
sectors_read() { awk '{ print $3 }' "/sys/block/$(basename "$DEV")/stat"; }

# A fresh mount with every cache dropped: what follows reads the device.
cold_remount() {
	umount "$MNT" && echo 3 >/proc/sys/vm/drop_caches && mount_fs
}

# py ARGS: run Python with the test's ioctl helpers, the collection in C.
py() { python3 - "$C" "$TESTS_DIR" "$SCRATCH" "$@"; }

# search_finds WHAT...: each of the vectors saved in expect.json as it is
# now: "changed" and "added" ones found first at distance 0, "deleted"
# ones never returned.
search_finds() {
	py "$@" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[2])
import vexfs_ioctl as vx
e = json.load(open(sys.argv[3] + "/expect.json"))
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for what in sys.argv[4:]:
    for fid, vec in e[what].items():
        res, _ = vx.search(fd, vec, 10 if what == "deleted" else 1)
        if what == "deleted":
            assert all(r[0] != int(fid) for r in res), (what, fid, res)
        else:
            assert res and res[0][0] == int(fid) and res[0][2] == 0.0, (what, fid, res)
PY
}

# edit_map PYTHON: run PYTHON on the image with `img` (imgfuzz.Image) and
# `at`, the byte where the 128-dimension table's change map starts.
edit_map() {
	python3 - "$IMG" "$REPO/tests/fuzz" "$1" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import imgfuzz
img = imgfuzz.Image(bytearray(open(sys.argv[1], "rb").read()))
dim_off = imgfuzz.VTABLE_HDR["vh_dim"][0]
(mapping,) = [m for _, m in img.tables
              if imgfuzz.u(img.d, m[0] * imgfuzz.BS + dim_off, 4) == 128]
at = mapping[0] * imgfuzz.BS + imgfuzz.CMAP_OFF
assert imgfuzz.u(img.d, at, 4) == imgfuzz.CMAP_MAGIC, "no change map"
exec(sys.argv[3])
open(sys.argv[1], "wb").write(img.d)
PY
}

section "an index, then changes it does not cover"
setup_vexfs 512M -N 16384
C=$MNT/sift
check "make a collection" "$CTL" collection create "$C" --dim $DIM
check "import sift5k" "$CTL" import -q "$C" "$SIFT/sift5k_base.fvecs"
check "build and publish an index" "$CTL" index build "$C" --threads 2
# After the index: ten vectors changed to far values, ten files deleted,
# fifty vectors added, one file made readable by its owner only. What a
# search must find is saved for after the mount.
check "change, delete and add vectors after the index" py <<'PY'
import json, os, struct, sys
sys.path.insert(0, sys.argv[2])
import vexfs_ioctl as vx
c, scratch = sys.argv[1], sys.argv[3]
dim = 128
changed = {}
for i, fid in enumerate(range(100, 4900, 480)):
    vec = [5000.0 + 10 * i] * dim
    fd = os.open("%s/%d" % (c, fid), os.O_RDONLY)
    vx.set_vector(fd, vec, vid=fid)
    os.close(fd)
    changed[fid] = vec
deleted = {}
for fid in range(333, 4900, 470):
    fd = os.open("%s/%d" % (c, fid), os.O_RDONLY)
    deleted[fid], _, _ = vx.get_vector(fd, dim)
    os.close(fd)
    os.unlink("%s/%d" % (c, fid))
added = {900000 + i: [-3000.0 - 7 * i] * dim for i in range(50)}
fd = os.open(c, os.O_RDONLY | os.O_DIRECTORY)
vx.batch_insert(fd, list(added),
                b"".join(struct.pack("<%df" % dim, *v) for v in added.values()), dim)
os.close(fd)
os.chmod("%s/77" % c, 0o600)
fd = os.open("%s/77" % c, os.O_RDONLY)
private, _, _ = vx.get_vector(fd, dim)
os.close(fd)
json.dump({"changed": changed, "deleted": deleted, "added": added,
           "private": private}, open(scratch + "/expect.json", "w"))
PY
check "4,940 vectors in the collection" test "$(info_field "$C" count)" = 4940
# The header counts slots ahead of those used (1,024 at a time): the map
# has an entry for each of them, however few are used.
check "a collection of ten vectors" "$CTL" collection create "$MNT/few" --dim 4
for i in $(seq 10); do "$CTL" put "$MNT/few/$i" --vector "$i,1,2,3" --id "$i" >/dev/null; done
umount "$MNT"
check_fsck "fsck: clean, the small table's map covering every slot its header counts"
mount_fs
TABLE_BYTES=$((4 * 1024 + 4950 * REC))

section "the first search after a mount"
check "remount with the caches dropped" cold_remount
dmesg_mark "first search"
before=$(sectors_read)
check "the first search finds a changed vector by its new value (k 1, ef 10)" py <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[2])
import vexfs_ioctl as vx
e = json.load(open(sys.argv[3] + "/expect.json"))
fid, vec = next(iter(e["changed"].items()))
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
res, _ = vx.search(fd, vec, 1, ef=10)
sys.exit(0 if res and res[0][0] == int(fid) and res[0][2] == 0.0 else "got %r" % (res,))
PY
read_kib=$((($(sectors_read) - before) / 2))
log "     the first search read $read_kib KiB; the table holds $((TABLE_BYTES / 1024)) KiB"
check "  ... reading less than half the table" test $((read_kib * 1024)) -lt $((TABLE_BYTES / 2))
check "every changed, added and deleted vector as it is now" search_finds changed added deleted

# The clients ask the collection's shape (GET_COLLECTION with
# VEXFS_COLLECTION_SHAPE), which the table's header answers: their first
# search does not read the table whole either.
check "remount with the caches dropped" cold_remount
before=$(sectors_read)
check "vexfsctl search right after a mount finds an added vector (k 1, ef 10)" bash -c \
	'"$1" search "$2" --query "$(printf -- "-3000,%.0s" $(seq 127))-3000" -k 1 --ef 10 | grep -qw 900000' \
	_ "$CTL" "$C"
read_kib=$((($(sectors_read) - before) / 2))
log "     vexfsctl's first search read $read_kib KiB"
check "  ... reading less than half the table" test $((read_kib * 1024)) -lt $((TABLE_BYTES / 2))
check "GET_COLLECTION with VEXFS_COLLECTION_SHAPE: the shape alone; unknown flags refused" \
	env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$REPO/python" python3 - "$C" "$MNT" <<'PY'
import errno, fcntl, os, sys
from vexfs import _abi
def ask(path, flags):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    buf = _abi.COLLECTION.pack(flags=flags)
    try:
        fcntl.ioctl(fd, _abi.IOC_GET_COLLECTION, buf)
        return _abi.COLLECTION.unpack(buf)
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
f = ask(sys.argv[1], _abi.COLLECTION_SHAPE)
assert f["dim"] == 128 and f["count"] == 0 and f["flags"] == _abi.COLLECTION_SHAPE, f
f = ask(sys.argv[1], _abi.COLLECTION_WALK_CODES)
assert f["count"] == 4940, f
assert ask(sys.argv[1], 1 << 2) == errno.EINVAL
assert ask(sys.argv[2], _abi.COLLECTION_SHAPE) == errno.ENOTTY
PY
check "remount with the caches dropped" cold_remount
before=$(sectors_read)
check "vexfsctl get right after a mount" bash -c '"$1" get "$2/900003" | grep -q -- -3021' _ "$CTL" "$C"
read_kib=$((($(sectors_read) - before) / 2))
log "     vexfsctl get read $read_kib KiB"
check "  ... reading less than a tenth of the table" test $((read_kib * 1024)) -lt $((TABLE_BYTES / 10))
check "remount with the caches dropped" cold_remount
before=$(sectors_read)
check "the Python package's first search finds a changed vector" \
	env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$REPO/python" python3 - "$C" "$SCRATCH" <<'PY'
import json, sys
import vexfs
e = json.load(open(sys.argv[2] + "/expect.json"))
fid, vec = next(iter(e["changed"].items()))
with vexfs.open_collection(sys.argv[1]) as c:
    res = c.search(vec, k=1, ef=10)
    assert res and res[0].id == int(fid) and res[0].distance == 0.0, res
PY
read_kib=$((($(sectors_read) - before) / 2))
log "     the Python package's first search read $read_kib KiB"
check "  ... reading less than half the table" test $((read_kib * 1024)) -lt $((TABLE_BYTES / 2))
check "the private vector is hidden from another user" setpriv --reuid=65534 --regid=65534 \
	--clear-groups python3 - "$C" "$TESTS_DIR" "$SCRATCH" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[2])
import vexfs_ioctl as vx
e = json.load(open(sys.argv[3] + "/expect.json"))
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
res, _ = vx.search(fd, e["private"], 10)
assert res and all(r[0] != 77 for r in res), res
PY
EXACT=$("$CTL" --json recall "$C" "$SIFT/sift5k_query.fvecs" "$SIFT/sift5k_groundtruth.ivecs" --exact |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["recall"])')
check "a search reads the rest on demand: recall as high as before the mount" python3 -c "
import json, subprocess, sys
r = json.loads(subprocess.check_output(['$CTL', '--json', 'recall', '$C',
    '$SIFT/sift5k_query.fvecs', '$SIFT/sift5k_groundtruth.ivecs']))['recall']
print('recall', r, 'exact', $EXACT)
sys.exit(0 if r >= 0.9 * $EXACT else 1)"
check "the count, once the table is read whole" test "$(info_field "$C" count)" = 4940
check_no_corruption_report "no damage reported"
check_no_oops "no kernel splat"
umount "$MNT"
check_fsck "fsck: clean, the change map with it"
mount_fs

section "a change map that hides a change"
# Every entry says the index's own sequence: nothing changed since it was
# built. A mount trusts it, so the changed vectors may be missed (deleted
# ones are still never returned: a record is read before its slot is)
# until the table is next read whole; then the lie is said and mended,
# and searches find them again.
umount "$MNT"
check "fsck: clean before the damage" "$(fsck_bin)" -n -f "$DEV"
check "set every entry of the map to the index's sequence, its checksum sealed" edit_map '
(_, imap), = img.indexes
off, size = imgfuzz.VINDEX_HDR["vi_seq"]
seq = imgfuzz.u(img.d, imap[0] * imgfuzz.BS + off, size)
for e in range(imgfuzz.CMAP_ENTRIES):
    imgfuzz.put(img.d, at + 16 + 4 * e, 4, seq)
imgfuzz.seal_cmap(img.d, at)'
expect_fail "fsck -n finds the map hiding changes" -e "change map" "$(fsck_bin)" -n -f "$DEV"
mount_fs
dmesg_mark "hidden change"
check "searches after the mount never return a deleted file" search_finds deleted
check "reading the table whole (collection info) says the map missed a slot" \
	test "$(info_field "$C" count)" = 4940
check_kmsg "  ... in the kernel log" "change map of table [0-9]+ misses slot"
check "then every changed and added vector is found again" search_finds changed added
check "a change writes the mended map" "$CTL" put "$C/200" --vector "$(printf '1,%.0s' $(seq 127))1" --id 200
umount "$MNT"
check_fsck "fsck: clean again"
mount_fs

section "a map that fails its checks"
umount "$MNT"
check "flip a byte of the map on disk" edit_map 'img.d[at + 16 + 4 * 3] ^= 0x40'
mount_fs
check "searches read the table whole instead, and answer" search_finds changed added deleted
umount "$MNT"
check "fsck -y rewrites the map" bash -c '"$1" -y -f "$2"; [ $? -eq 1 ]' _ "$(fsck_bin)" "$DEV"
check_fsck "  ... and it checks clean"
mount_fs
check_no_oops "no kernel splat"
teardown
summary
