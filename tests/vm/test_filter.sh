#!/usr/bin/env bash
# BPF search filters (struct_ops vexfs_filter_ops): load with vexfsctl,
# search through the index and exactly with a filter, recall against the
# exact filtered truth at 50%, 10% and 1% selectivity, unknown names,
# unprivileged loads, unload while searches run, and the module reference
# an attached filter holds (rmmod refused until it is unloaded).
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "filters are VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
CTL=$REPO/build/bin/vexfsctl
FILTERS=$REPO/build/bpf/filters
N=${VEXFS_FILTER_VECTORS:-6000}
DIM=32

# The search ioctl with a filter name, for Python (vexfs_ioctl.py packs
# the same struct with the name left empty), in the package's layout.
PYHELP=$SCRATCH/filtersearch.py
cat >"$PYHELP" <<'PY'
import array, fcntl, os, struct, sys
sys.path.insert(0, os.environ["TESTS_DIR"])
import vexfs_ioctl as vx

FMT = "=" + "".join(code for _, code in vx.SEARCH_V0_FIELDS)  # the first version; the filter name as 16 bytes
last_scanned = [0]

def search(fd, query, k, filt=b"", where=None, ef=0, flags=0):
    q = bytearray(array.array("f", query).tobytes())
    res = bytearray(24 * k)
    op, word, value = where if where else (0, 0, 0)
    buf = bytearray(struct.pack(FMT, 96, len(query), k, ef, vx._addr(q), vx._addr(res), 0,
                                flags, op, word, 0, value, 0, filt, 0, 0))
    fcntl.ioctl(fd, vx.IOC_SEARCH_V0, buf)
    count, last_scanned[0] = struct.unpack(FMT, buf)[6], struct.unpack(FMT, buf)[12]
    return [struct.unpack_from(vx.RESULT_FMT, res, 24 * i)[:3] for i in range(count)]

def vectors(n, dim, seed):
    import random
    r = random.Random(seed)
    return [[r.gauss(0, 1) for _ in range(dim)] for _ in range(n)]
PY
export TESTS_DIR PYHELP

# Entry id i carries attrs[0] = i & 7 (tags), attrs[1] = (i * 37) % 100.
fill() {
	python3 - "$1" "$N" "$DIM" <<'PY'
import array, os, sys
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import vectors, vx
coll, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
vecs = vectors(n, dim, 1)
for s in range(0, n, 1000):
    ids = list(range(s + 1, min(n, s + 1000) + 1))
    data = b"".join(array.array("f", vecs[i - 1]).tobytes() for i in ids)
    attrs = [w for i in ids for w in (i & 7, (i * 37) % 100, 0, 0)]
    vx.batch_insert(fd, ids, data, dim, attrs=attrs)
os.close(fd)
PY
}

# recall FILTER HI: recall@10 of 40 queries with FILTER (range [0, HI) on
# attrs[1]) against the exact search with the predicate attr1 < HI; fails
# on any result outside the range.
recall() {
	python3 - "$C" "$1" "$2" "$DIM" <<'PY'
import errno, os, sys
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import search, vectors, vx, last_scanned
coll, name, hi, dim = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
hits = total = scanned = 0
for q in vectors(40, dim, 7):
    got = search(fd, q, 10, name)
    scanned += last_scanned[0]
    for i, _, _ in got:
        if (i * 37) % 100 >= hi:
            sys.exit("id %d is not admitted by %s" % (i, name))
    truth = search(fd, q, 10, where=(3, 1, hi), flags=vx.SEARCH_EXACT)  # attr1 < hi
    exact = search(fd, q, 10, name, flags=vx.SEARCH_EXACT)
    if [r[0] for r in exact] != [r[0] for r in truth]:
        sys.exit("exact filtered search differs from the predicate's truth")
    hits += len(set(r[0] for r in got) & set(r[0] for r in truth))
    total += len(truth)
print("%.4f %d" % (hits / total, scanned // 40))
PY
}

at_least() { python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }

# only FILTER PYEXPR: every result of a filtered search satisfies PYEXPR
# over id i and is non-empty.
only() {
	python3 - "$C" "$1" "$2" "$DIM" <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import search, vectors
coll, name, expr, dim = sys.argv[1], sys.argv[2].encode(), sys.argv[3], int(sys.argv[4])
fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
for q in vectors(5, dim, 3):
    got = search(fd, q, 10, name)
    if expr == "none":
        if got:
            sys.exit("results where none were expected")
        continue
    if len(got) != 10 or not all(eval(expr) for i, _, _ in got):
        sys.exit("unexpected results: %r" % (got,))
PY
}

# search_errno NAME: the errno name of a search with filter NAME, or OK.
search_errno() {
	python3 - "$C" "$1" "$DIM" <<'PY'
import errno, os, sys
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import search
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
try:
    search(fd, [0.0] * int(sys.argv[3]), 10, sys.argv[2].encode())
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

filter_loaded() { "$CTL" filter list | awk 'NR > 1 { print $1 }' | grep -qx "$1"; }

section "setup"
setup_vexfs 256M
dmesg_mark filters
C=$MNT/coll
check "make a collection" "$CTL" collection create "$C" --dim $DIM
check "insert $N vectors with attributes" fill "$C"
check "build and publish an index" "$CTL" index build "$C" --threads 2
check "the filters were built" test -f "$FILTERS/range.bpf.o"
check "the kernel offers filters" python3 -c "
import os, sys
sys.path.insert(0, '$TESTS_DIR')
import vexfs_ioctl as vx
fd = os.open('$C', os.O_RDONLY | os.O_DIRECTORY)
sys.exit(0 if vx.version(fd)[2] & (1 << 5) else 1)"

section "load and list"
check "load range [0,50) as r50" "$CTL" filter load "$FILTERS/range.bpf.o" --name r50 --set hi=50
check "load range [0,10) as r10" "$CTL" filter load "$FILTERS/range.bpf.o" --name r10 --set hi=10
check "load range [0,1) as r1" "$CTL" filter load "$FILTERS/range.bpf.o" --name r1 --set hi=1
check "load tags" "$CTL" filter load "$FILTERS/tags.bpf.o" --set tag_mask=3
check "load owner (uid 0)" "$CTL" filter load "$FILTERS/owner.bpf.o"
check "load owner (uid 1234) as nobody1234" "$CTL" filter load "$FILTERS/owner.bpf.o" --name nobody1234 --set uid=1234
check "load idmod" "$CTL" filter load "$FILTERS/idmod.bpf.o" --set modulus=10 --set residue=3
check "the link is pinned" test -e /sys/fs/bpf/vexfs/filters/r50
check "filter list names them" sh -c "$CTL filter list | grep -q '^r50 ' && $CTL filter list | grep -q '^tags '"
expect_fail "a second filter of the same name is refused" -e 'File exists' \
	"$CTL" filter load "$FILTERS/range.bpf.o" --name r50
expect_fail "a const that is not there is refused" -e 'No such' \
	"$CTL" filter load "$FILTERS/range.bpf.o" --name x --set nosuch=1
expect_fail "an unprivileged load fails with EPERM" -e 'Operation not permitted' \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" filter load "$FILTERS/range.bpf.o" --name u1
# Filters run inside kernel_fpu_begin() with the collection locked.
expect_fail "a sleepable filter program is refused at load" \
	"$CTL" filter load "$REPO/build/bpf/test-filters/sleepy.bpf.o"
check "the refused filter is not listed" sh -c "! $CTL filter list | grep -q '^sleepy '"

section "filtered search"
check "tags: only ids with both tag bits" only tags "i & 3 == 3"
check "owner uid 0: everything (root's files)" only owner "True"
check "owner uid 1234: nothing" only nobody1234 none
check "idmod 10/3: ids ending in 3" only idmod "i % 10 == 3"
check "vexfsctl search --filter" sh -c "$CTL --json search '$C' --query '$(python3 -c "print(','.join(['0.1'] * $DIM))")' --filter r10 | grep -q results"
expect_fail "vexfsctl search with an unknown filter" -e 'No such file' \
	"$CTL" search "$C" --query "$(python3 -c "print(','.join(['0.1'] * $DIM))")" --filter nosuch
check_eq "an unknown filter name is ENOENT" ENOENT "$(search_errno nosuch)"
check "a name with bytes after its NUL is EINVAL" python3 - "$C" "$DIM" <<'PY'
import errno, os, sys
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import search
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
try:
    search(fd, [0.0] * int(sys.argv[2]), 10, b"tags\0x")
except OSError as e:
    sys.exit(0 if e.errno == errno.EINVAL else 1)
sys.exit(1)
PY
# Files 1..300 become private to root: a search by uid 65534 must not
# return them, with or without a filter that admits them.
check "a filter never admits what the caller cannot read" python3 - "$C" "$DIM" <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import search, vectors, vx
coll, dim = sys.argv[1], int(sys.argv[2])
fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
qs = [vx.get_vector(os.open("%s/%d" % (coll, i), os.O_RDONLY), dim)[0] for i in (5, 77, 250)]
for i in range(1, 301):
    os.chmod("%s/%d" % (coll, i), 0o600)
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
for q in qs:
    for name in (b"owner", b"idmod"):
        got = search(fd, list(q), 10, name)
        if not got or any(i <= 300 for i, _, _ in got):
            sys.exit("%s: %r" % (name, got))
PY
for sel in 50 10 1; do
	read -r r scanned < <(recall r$sel $sel)
	log "recall@10 at $sel% selectivity: $r (distances per search: $scanned)"
	[ "$sel" != 50 ] || check "at 50% the index is walked, not scanned" test "${scanned:-$N}" -lt $((N / 2))
	check "recall@10 >= 0.95 at $sel% selectivity (only admitted results)" at_least "${r:-0}" 0.95
done

section "unload while searching"
python3 - "$C" "$DIM" >"$SCRATCH/loop.out" 2>&1 <<'PY' &
import errno, os, sys, time
sys.path.insert(0, os.path.dirname(os.environ["PYHELP"]))
from filtersearch import search, vectors
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
qs = vectors(8, int(sys.argv[2]), 11)
ok = gone = 0
deadline = time.time() + 60
while time.time() < deadline:
    try:
        search(fd, qs[ok % 8], 10, b"r50")
        ok += 1
    except OSError as e:
        if e.errno != errno.ENOENT:
            sys.exit("search failed: %s" % e)
        gone += 1
        if gone >= 20:
            break
print("searches with results %d, ENOENT %d" % (ok, gone))
sys.exit(0 if gone else 1)
PY
LOOP=$!
sleep 3
check "unload r50 during the searches" "$CTL" filter unload r50
wait $LOOP
rc=$?
log "$(cat "$SCRATCH/loop.out")"
check_eq "the searches ended with results or ENOENT" 0 "$rc"
check "r50 is no longer listed" sh -c "! $CTL filter list | grep -q '^r50 '"
check_eq "searching with it is ENOENT" ENOENT "$(search_errno r50)"
check "the name can be loaded again" "$CTL" filter load "$FILTERS/range.bpf.o" --name r50 --set hi=50
expect_fail "unloading an unknown filter fails" -e 'No such file' "$CTL" filter unload nosuch
check_no_oops "no kernel splat"

section "module reference"
check "unmount" umount "$MNT"
expect_fail "rmmod refused while filters are attached" rmmod vexfs
for f in r50 r10 r1 tags owner nobody1234 idmod; do
	"$CTL" filter unload "$f" >/dev/null
done
check_eq "no filter left" "" "$("$CTL" filter list | awk 'NR > 1')"
rmmod_retry() {
	local i
	for i in $(seq 50); do
		rmmod vexfs 2>/dev/null && return 0
		sleep 0.1
	done
	rmmod vexfs
}
check "rmmod allowed after unload" rmmod_retry
check "the module loads again" insmod "$REPO/build/kmod/kmod/vexfs.ko"
check "and mounts" mount_fs
check_no_oops "no kernel splat at the end"

summary
