#!/usr/bin/env bash
# vexfsctl import in every format on a real mount: .fvecs, .bvecs, .npy,
# CSV (component columns and a vector column) and JSON lines, each row's
# vector, id and metadata words read back through the Python client and
# compared with the data; malformed files refused with the line and the
# reason; text from standard input; the progress bar on a terminal and
# the summary; and an import killed half-way that --resume finishes,
# skipping exactly what was there.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "vector collections are VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi
CTL=$REPO/build/bin/vexfsctl
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$REPO/python
ctl() { "$CTL" "$@"; }
count_of() { ctl --json stats "$1" | sed -n 's/.*"count": *\([0-9][0-9]*\).*/\1/p'; }

setup_vexfs 512M -N 65536 || { fail "setup" "cannot make and mount a filesystem"; summary; exit 1; }
D=$SCRATCH/data
mkdir -p "$D"

# The data: N rows of dimension 16, and the same rows in every format.
# Row r has id 1000 + r (CSV, JSON) or id-start + r, attr0 = r % 7, and
# attr2 = r (CSV, JSON).
"$PY" - "$D" <<'PYEOF'
import array, json, random, struct, sys
d = sys.argv[1]
rnd = random.Random(7)
N, DIM = 600, 16
rows = [[round(rnd.uniform(-4, 4), 3) for _ in range(DIM)] for _ in range(N)]
brows = [[rnd.randrange(256) for _ in range(DIM)] for _ in range(N)]
with open(d + "/rows.json", "w") as f:
    json.dump({"rows": rows, "brows": brows}, f)
with open(d + "/a.fvecs", "wb") as f:
    for r in rows:
        f.write(struct.pack("<i", DIM) + array.array("f", r).tobytes())
with open(d + "/a.bvecs", "wb") as f:
    for r in brows:
        f.write(struct.pack("<i", DIM) + bytes(r))
def npy(path, descr, shape, data, order="False"):
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, order, shape)
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data)
flat = array.array("f", [x for r in rows for x in r]).tobytes()
npy(d + "/a.npy", "<f4", "(%d, %d)" % (N, DIM), flat)
npy(d + "/f64.npy", "<f8", "(%d, %d)" % (N, DIM), array.array("d", [x for r in rows for x in r]).tobytes())
npy(d + "/fortran.npy", "<f4", "(%d, %d)" % (N, DIM), flat, "True")
npy(d + "/3d.npy", "<f4", "(%d, 4, 4)" % N, flat)
with open(d + "/a.csv", "w") as f:
    f.write("id," + ",".join("x%d" % i for i in range(DIM)) + ",attr0,attr2\n")
    for i, r in enumerate(rows):
        f.write("%d,%s,%d,%d\n" % (1000 + i, ",".join(repr(x) for x in r), i % 7, i))
with open(d + "/v.csv", "w") as f:
    f.write("attr0,vector,attr2\n")
    for i, r in enumerate(rows):
        f.write('%d,"[%s]",%d\n' % (i % 7, ", ".join(repr(x) for x in r), i))
with open(d + "/a.jsonl", "w") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps({"id": 1000 + i, "vector": r, "attrs": [i % 7, 0, i],
                            "text": "document %d" % i}) + "\n")
        if i % 100 == 0:
            f.write("\n")
# Malformed: a bad row in the middle (line 302 = row 300 after the header).
lines = open(d + "/a.csv").read().splitlines(True)
parts = lines[301].split(",")
parts[1] = "oops"
lines[301] = ",".join(parts)
open(d + "/bad.csv", "w").writelines(lines)
lines = open(d + "/a.jsonl").read().splitlines(True)
lines[250] = lines[250][:40] + "\n"
open(d + "/bad.jsonl", "w").writelines(lines)
# For the interrupted import: many rows, written as JSON lines.
rnd = random.Random(8)
with open(d + "/big.jsonl", "w") as f:
    for i in range(12000):
        f.write(json.dumps({"id": i + 1, "vector": [round(rnd.uniform(-1, 1), 4) for _ in range(DIM)],
                            "attr1": i % 3}) + "\n")
PYEOF

# verify COLL KIND ID_OF_ROW0 WITH_ATTR2: every row's file holds its vector,
# id and words. KIND: float rows, or bytes rows (bvecs).
verify() {
	"$PY" - "$D/rows.json" "$@" <<'PYEOF'
import json, sys, vexfs
rows_file, coll, kind, first, attr2 = sys.argv[1:6]
data = json.load(open(rows_file))
rows = data["brows"] if kind == "bytes" else data["rows"]
first, attr2 = int(first), attr2 == "yes"
with vexfs.open_collection(coll) as c:
    assert c.stats().count == len(rows), (c.stats().count, len(rows))
    for i, r in enumerate(rows):
        v = c.get(str(first + i))
        assert v.id == first + i, (i, v.id)
        want = [float(x) for x in r]
        assert all(abs(a - b) <= 1e-6 * max(1, abs(b)) for a, b in zip(v.vector, want)), (i, list(v.vector), want)
        if kind != "bytes":
            want_attrs = [i % 7, 0, i if attr2 else 0, 0]
            assert v.attrs == want_attrs, (i, v.attrs, want_attrs)
    hit = c.search(rows[123], k=1, exact=True)[0]
    assert hit.id == first + 123, hit
print("verified", len(rows), "rows")
PYEOF
}

new_coll() { mkdir "$MNT/$1" && ctl collection create "$MNT/$1" --dim 16 >/dev/null; }

section "every format"
new_coll fvecs
check "fvecs: import" ctl import "$MNT/fvecs" "$D/a.fvecs" -q
"$PY" - "$D" <<'PYEOF'
import struct, sys
with open(sys.argv[1] + "/attrs.ivecs", "wb") as f:
    for i in range(600):
        f.write(struct.pack("<i3i", 3, i % 7, 0, 0))
PYEOF
rm -r "$MNT/fvecs"
new_coll fvecs
check "fvecs with --attrs-from: import" ctl import "$MNT/fvecs" "$D/a.fvecs" --attrs-from "$D/attrs.ivecs" -q
check "fvecs: every row read back" verify "$MNT/fvecs" float 1 no
check "--upsert of the same rows replaces the vectors in place" ctl import "$MNT/fvecs" "$D/a.fvecs" --upsert -q
check "  ... every row read back, ids and metadata kept, no file added" verify "$MNT/fvecs" float 1 no
expect_fail "--resume with --upsert is a usage error" -e 'choose one' \
	ctl import "$MNT/fvecs" "$D/a.fvecs" --upsert --resume -q
new_coll bvecs
check "bvecs: import, ids from 500" ctl import "$MNT/bvecs" "$D/a.bvecs" --id-start 500 -q
check "bvecs: every row read back as floats" verify "$MNT/bvecs" bytes 500 no
new_coll npy
check "npy: import" ctl import "$MNT/npy" "$D/a.npy" -q --attrs-from "$D/attrs.ivecs"
check "npy: every row read back" verify "$MNT/npy" float 1 no
new_coll csv
check "csv (id, component columns, attr0, attr2): import" ctl import "$MNT/csv" "$D/a.csv" -q --batch 64
check "csv: every row read back" verify "$MNT/csv" float 1000 yes
new_coll vcsv
check "csv (a quoted vector column, no id): import" ctl import "$MNT/vcsv" "$D/v.csv" -q --id-start 1
check "csv with a vector column: every row read back" verify "$MNT/vcsv" float 1 yes
new_coll jsonl
check "jsonl (id, vector, attrs, other keys, blank lines): import" ctl import "$MNT/jsonl" "$D/a.jsonl" -q
check "jsonl: every row read back" verify "$MNT/jsonl" float 1000 yes
cp "$D/a.jsonl" "$D/jsonl.txt"
new_coll fmt
check "--format jsonl for a .txt name" ctl import "$MNT/fmt" "$D/jsonl.txt" --format jsonl -q
check "  ... every row read back" verify "$MNT/fmt" float 1000 yes
new_coll piped
cat "$D/a.csv" | ctl import "$MNT/piped" - --format csv >"$SCRATCH/piped.out" 2>&1
check "csv from standard input (-): import" grep -qE '^imported 600 vectors of dimension 16 into .*piped' \
	"$SCRATCH/piped.out"
check "  ... every row read back" verify "$MNT/piped" float 1000 yes
check "  ... progress without a total: the count and rate" grep -qE '^import: [0-9]+, [0-9]+/s$' \
	"$SCRATCH/piped.out"
expect_fail "standard input without --format: refused, saying to give it" \
	-e 'standard input .*--format csv or --format jsonl' ctl import "$MNT/piped" - -q

section "malformed input"
new_coll bad
expect_fail "csv: a bad row names its line" -e 'bad\.csv:302: column 2: .oops. is not a number' \
	ctl import "$MNT/bad" "$D/bad.csv" -q --batch 100
check_eq "csv: the batches before it are in, nothing after" 300 "$(count_of "$MNT/bad")"
rm -r "$MNT/bad" && new_coll bad
expect_fail "jsonl: a cut line names its line and the JSON error" -e 'bad\.jsonl:251: not valid JSON' \
	ctl import "$MNT/bad" "$D/bad.jsonl" -q
expect_fail "npy float64 refused, saying how to convert" -e "dtype '<f8' is not supported; need float32" \
	ctl import "$MNT/bad" "$D/f64.npy"
expect_fail "npy in Fortran order refused" -e 'Fortran order; need C order' \
	ctl import "$MNT/bad" "$D/fortran.npy"
expect_fail "3-D npy refused" -e 'array has 3 dimensions; need a 2-D array' \
	ctl import "$MNT/bad" "$D/3d.npy"
printf 'id,x\n1,2\n' >"$D/dim1.csv"
expect_fail "csv of another dimension" -e '1 vector columns; the collection has dimension 16' \
	ctl import "$MNT/bad" "$D/dim1.csv"
expect_fail "--attrs-from with csv is a usage error" -e 'attr0\.\.attr3' \
	ctl import "$MNT/bad" "$D/a.csv" --attrs-from "$D/attrs.ivecs"
expect_fail "unknown --format" -e "--format wants fvecs, bvecs, npy, csv or jsonl" \
	ctl import "$MNT/bad" "$D/a.csv" --format xml
printf 'hello\n' >"$D/notes.txt"
expect_fail "an unknown extension says how to name text formats" -e 'give \.csv or \.jsonl, or --format' \
	ctl import "$MNT/bad" "$D/notes.txt"
check_eq "nothing was imported by the refusals" 0 "$(count_of "$MNT/bad")"

section "progress and summary"
new_coll tty
script -qfec "$CTL import $MNT/tty $D/a.jsonl --batch 50" /dev/null >"$SCRATCH/tty.out" 2>&1
check "on a terminal: a bar redrawn in place with rate and ETA" \
	grep -qaE $'\r''import \[[#.]{30}\] +[0-9]+%  [0-9]+/600  [0-9]+/s' "$SCRATCH/tty.out"
check "on a terminal: the bar shows the time left" grep -qaE '/600  [0-9]+/s  ETA [0-9]+s' "$SCRATCH/tty.out"
check "on a terminal: the bar reaches 600/600" grep -qa '100%  600/600' "$SCRATCH/tty.out"
check "summary: vectors/s and MB/s" \
	grep -qaE '^imported 600 vectors of dimension 16 into .* in [0-9.]+ s: [0-9]+ vectors/s, [0-9.]+ MB/s' \
	"$SCRATCH/tty.out"
rm -r "$MNT/tty" && new_coll tty
ctl import "$MNT/tty" "$D/a.jsonl" --batch 50 >"$SCRATCH/lines.out" 2>&1
check "not on a terminal: a plain line every tenth" grep -qE '^import: [0-9]+/600 \([0-9]+%\), [0-9]+/s$' \
	"$SCRATCH/lines.out"
check "--json summary parses, with the throughput" sh -c \
	"rm -r '$MNT/tty' && mkdir '$MNT/tty' && '$CTL' collection create '$MNT/tty' --dim 16 >/dev/null &&
	 '$CTL' --json import '$MNT/tty' '$D/a.npy' -q | '$PY' -c 'import json, sys; d = json.load(sys.stdin); assert d[\"imported\"] == 600 and d[\"vectors_per_s\"] > 0 and d[\"format\"] == \"npy\", d'"

section "an interrupted import, resumed"
# The import reads from a pipe that is given 2,100 rows and then nothing,
# so it is killed at a known point whatever the speed of the machine: ten
# batches of 200 in, the eleventh read half-way and waiting for its rows.
new_coll big
dmesg_mark resume
mkfifo "$SCRATCH/feed"
"$CTL" import "$MNT/big" - --format jsonl --batch 200 -q <"$SCRATCH/feed" >"$SCRATCH/big1.out" 2>&1 &
pid=$!
exec 7>"$SCRATCH/feed"
head -n 2100 "$D/big.jsonl" >&7
for _ in $(seq 3000); do
	[ "$(count_of "$MNT/big" 2>/dev/null || echo 0)" -lt 2000 ] || break
	sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exec 7>&-
before=$(count_of "$MNT/big")
log "     killed with $before of 12000 rows in"
check_eq "killed while reading its eleventh batch: the ten before it in, nothing of it" 2000 "$before"
expect_fail "without --resume the same import stops at the first row there, and says --resume" \
	-e 'id 1: a file of that name exists.*--resume' ctl import "$MNT/big" "$D/big.jsonl" -q
check "--resume finishes it" ctl import "$MNT/big" "$D/big.jsonl" --batch 200 --resume
cp "$CHECK_OUT" "$SCRATCH/resume.out"
log "     $(grep -a '^imported' "$SCRATCH/resume.out")"
check "  ... skipping exactly the rows that were in" \
	grep -qE "^imported $((12000 - before)) vectors .*, skipped $before already there" "$SCRATCH/resume.out"
check_eq "all 12000 rows in" 12000 "$(count_of "$MNT/big")"
check "every row holds its vector, id and attr1" "$PY" - "$D/big.jsonl" "$MNT/big" <<'PYEOF'
import json, sys, vexfs
with vexfs.open_collection(sys.argv[2]) as c:
    for line in open(sys.argv[1]):
        row = json.loads(line)
        v = c.get(str(row["id"]))
        assert v.id == row["id"] and v.attrs == [0, row["attr1"], 0, 0], (row["id"], v)
        assert all(abs(a - b) < 1e-6 for a, b in zip(v.vector, row["vector"])), row["id"]
PYEOF
check "--resume again: nothing to do, all skipped" ctl import "$MNT/big" "$D/big.jsonl" --resume -q
cp "$CHECK_OUT" "$SCRATCH/resume2.out"
check "  ... imported 0, skipped 12000" grep -qE '^imported 0 vectors .*, skipped 12000 already there' \
	"$SCRATCH/resume2.out"
ctl put "$MNT/big/17" --vector "$(printf '1,%.0s' $(seq 15))1" --id 17 >/dev/null
expect_fail "--resume refuses a file whose vector differs" \
	-e 'id 17: file 17 exists with another vector, id or metadata; not overwriting it' \
	ctl import "$MNT/big" "$D/big.jsonl" --resume -q

section "out of inodes"
teardown
if setup_vexfs 8M && new_coll few; then
	expect_fail "600 vectors on a default 8 MiB filesystem: out of inodes, and the message says how to make more" \
		-e 'out of inodes: a batch of 600 files, [0-9]+ inodes free of 527.*mkfs.vexfs -T vectors' \
		ctl import "$MNT/few" "$D/a.fvecs" -q
	teardown
fi
if setup_vexfs 8M -T vectors && new_coll few; then
	check "the same on an 8 MiB filesystem made with -T vectors" ctl import "$MNT/few" "$D/a.fvecs" -q
	check_eq "  ... all 600 in" 600 "$(count_of "$MNT/few")"
else
	fail "mkfs.vexfs -T vectors" "cannot make and mount the filesystem"
fi
check_no_oops "no kernel splat from the imports"

teardown
summary
