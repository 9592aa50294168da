#!/usr/bin/env bash
# vexfsctl end to end on a real mount: make a collection, import SIFT
# (4,900 x 128) from .fvecs, exact recall@10 against the ground truth
# before and after a remount, JSON output that parses, predicates, the
# put/get/del round trip on one file, .npy import, and bad input that must
# fail with a non-zero status and a message saying why.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	echo "vector collections are VexFS-only; skipped on $FSTYPE"
	summary
	exit
fi

DATA=${VEXFS_SIFT:-$REPO/../shared/data/sift5k}
BASE=$DATA/sift5k_base.fvecs
QUERIES=$DATA/sift5k_query.fvecs
TRUTH=$DATA/sift5k_groundtruth.ivecs
NBASE=4900

# The tool under test is the one built in this tree; an installed copy
# only when the tree has none.
if [ -x "$REPO/build/bin/vexfsctl" ]; then
	CTL=$REPO/build/bin/vexfsctl
else
	CTL=$(command -v vexfsctl) || {
		echo "$TEST_NAME: no vexfsctl; build it with 'make daemon'" >&2
		exit 1
	}
fi

ctl() { "$CTL" "$@"; }

# exit_status_is NAME STATUS CMD...: CMD must exit with exactly STATUS.
exit_status_is() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$CHECK_OUT" 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then
		pass "$name"
		return 0
	fi
	fail "$name" "exit status $rc, expected $want: $*"
	show_output
	return 1
}

# json_check EXPR CMD...: CMD prints one JSON document on which the python
# expression EXPR (over `d`) must be true; the document must also pass
# python3 -m json.tool.
json_check() {
	local expr=$1 out
	shift
	out=$("$@") || return 1
	printf '%s\n' "$out" | python3 -m json.tool >/dev/null || {
		echo "not valid JSON: $out"
		return 1
	}
	printf '%s\n' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = eval(sys.argv[1])
print(json.dumps(d)[:400])
sys.exit(0 if ok else 1)' "$expr"
}

# check_recall NAME: vexfsctl recall must say recall@10 = 1.0000; the
# line (with its queries/s) is shown either way.
check_recall() {
	local out rc
	out=$(ctl recall "$COLL" "$QUERIES" "$TRUTH" -k 10 --id-offset 1 2>&1)
	rc=$?
	log "     $out"
	if [ $rc -eq 0 ] && [[ $out == *"recall@10 = 1.0000 "* ]]; then
		pass "$1"
	else
		fail "$1" "status $rc: $out"
	fi
}

# An .ivecs of metadata words for the SIFT rows: attr0 = id % 10 and
# attr1 = id, with id = row + 1 as import numbers them.
write_attrs() {
	python3 - "$1" "$NBASE" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for row in range(n):
        vid = row + 1
        f.write(struct.pack("<iii", 2, vid % 10, vid))
EOF
}

# write_npy PATH DESCR ROWS DIM [reversed]: an .npy as numpy writes it
# (64-byte aligned header), data rows of (r, r + 0.5, ...) in the given
# dtype; reversed: row r is row 49 - r of those.
write_npy() {
	python3 - "$@" <<'EOF'
import struct, sys
path, descr, rows, dim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
first, sign = (49, -1) if sys.argv[5:] == ["reversed"] else (0, 1)
head = "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }" % (descr, rows, dim)
pad = 64 - (10 + len(head) + 1) % 64
head = head + " " * pad + "\n"
fmt = {"<f4": "<f", "<f8": "<d"}[descr]
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
    for r in range(rows):
        for c in range(dim):
            f.write(struct.pack(fmt, first + sign * r + c * 0.5))
EOF
}

search_text_is_a_table() {
	ctl search "$COLL" --query-file "$QUERIES" -k 3 |
		grep -E "^1 +$COLL/[0-9]+ +[0-9]+ +[0-9.e+]+\$"
}

# id_is_inode FILE: the id of a vector put without --id.
id_is_inode() {
	local id
	id=$(ctl --json get "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])') &&
		[ "$id" = "$(stat -c %i "$1")" ]
}

get_text_shows_id() { ctl get "$1" | grep -qE "^id +$2\$"; }

# json_error_is ERRNO CMD...: CMD fails and its JSON error names ERRNO.
json_error_is() {
	local want=$1 out
	shift
	out=$("$@" 2>/dev/null) && return 1
	printf '%s\n' "$out" | python3 -c '
import json, sys
e = json.load(sys.stdin)["error"]
print(e)
sys.exit(e["errno"] != sys.argv[1])' "$want"
}

first_query() {
	python3 - "$QUERIES" "${1:-128}" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
dim = struct.unpack_from("<i", data, 0)[0]
vals = struct.unpack_from("<%df" % dim, data, 4)[:int(sys.argv[2])]
print(",".join("%g" % v for v in vals))
EOF
}

section "collection and import"
setup_vexfs 512M || { fail "setup" "mkfs or mount failed"; summary; exit 1; }
COLL=$MNT/sift
ATTRS=$SCRATCH/sift_attrs.ivecs
write_attrs "$ATTRS"

check "collection create" ctl collection create "$COLL" --dim 128 --metric l2
expect_fail "collection create twice says it exists" -e "File exists \(it is a collection already\)" \
	ctl collection create "$COLL" --dim 128
check "collection info --json before import" json_check \
	'd["dim"] == 128 and d["metric"] == "l2" and d["count"] == 0' \
	ctl --json collection info "$COLL"
check "import sift5k with attributes" ctl import "$COLL" "$BASE" --batch 1000 --id-start 1 \
	--attrs-from "$ATTRS"
log "     $(grep -E '^imported' "$CHECK_OUT")"
check "stats --json counts 4900" json_check 'd["count"] == 4900' ctl stats "$COLL" --json
check_eq "one file per vector" "$NBASE" "$(find "$COLL" -type f | wc -l)"

section "recall"
check_recall "recall@10 = 1.0 after import"
check "remount" remount
check_recall "recall@10 = 1.0 after remount"
check "recall --json" json_check 'd["recall"] == 1.0 and d["queries"] == 100 and d["k"] == 10' \
	ctl recall "$COLL" "$QUERIES" "$TRUTH" --json

section "search"
check "search --json parses" json_check \
	'd["count"] == 10 and len(d["results"]) == 10 and d["scanned"] == 4900 and all(r["path"] == "'"$COLL"'/%d" % r["id"] for r in d["results"]) and all(d["results"][i]["distance"] <= d["results"][i+1]["distance"] for i in range(9))' \
	ctl search "$COLL" --query-file "$QUERIES" --row 0 -k 10 --json
check "search finds a base vector at distance 0" json_check \
	'd["results"][0]["id"] == 101 and d["results"][0]["distance"] == 0' \
	ctl --json search "$COLL" --query-file "$BASE" --row 100 -k 3
check "search text output names rank, path, id, distance" search_text_is_a_table
check "search every row of the query file, in one call" json_check \
	'd["queries"] == 100 and d["count"] == 1000 and [a["row"] for a in d["answers"]] == list(range(100)) and all(a["count"] == 10 for a in d["answers"])' \
	ctl search "$COLL" --query-file "$QUERIES" --json
answer_ids() {	# ROW: the ids row ROW gets, searched alone and among all
	ctl --json search "$COLL" --query-file "$QUERIES" --row "$1" |
		python3 -c 'import json, sys; print([r["id"] for r in json.load(sys.stdin)["results"]])'
	ctl --json search "$COLL" --query-file "$QUERIES" |
		python3 -c 'import json, sys; print([r["id"] for r in json.load(sys.stdin)["answers"]['"$1"']["results"]])'
}
alone_as_among_all() { [ "$(answer_ids "$1" | uniq | wc -l)" = 1 ]; }
check "a row among all gets what it gets alone" alone_as_among_all 37
text_per_query() {
	local out
	out=$(ctl search "$COLL" --query-file "$QUERIES" -k 2) || return 1
	[ "$(grep -c '^query [0-9]*$' <<<"$out")" = 100 ] &&
		grep -qE '^100 queries, 200 results, .* ms per query\)$' <<<"$out"
}
check "the text output has a table per query and the totals" text_per_query
check "--attrs: each result carries its metadata words" json_check \
	'd["count"] == 10 and all(r["attrs"][0] == r["id"] % 10 and r["attrs"][1] == r["id"] for r in d["results"])' \
	ctl search "$COLL" --query-file "$QUERIES" --row 3 --attrs --json
check "--vectors: a result carries its vector" json_check \
	'd["results"][0]["id"] == 101 and d["results"][0]["distance"] == 0 and len(d["results"][0]["vector"]) == 128' \
	ctl --json search "$COLL" --query-file "$BASE" --row 100 -k 1 --vectors
attrs_column() {
	ctl search "$COLL" --query-file "$QUERIES" --row 0 -k 1 --attrs |
		grep -E "^1 +$COLL/[0-9]+ +[0-9]+ +[0-9.e+]+ +[0-9],[0-9]+,[0-9]+,[0-9]+\$"
}
check "--attrs in the text output" attrs_column
check "search --where attr0=3" json_check \
	'd["count"] == 20 and all(r["id"] % 10 == 3 for r in d["results"]) and d["scanned"] == 490' \
	ctl search "$COLL" --query "$(first_query)" -k 20 --where attr0=3 --json
check "search --where attr1>=4000" json_check \
	'd["count"] == 10 and all(r["id"] >= 4000 for r in d["results"])' \
	ctl search "$COLL" --query "$(first_query)" --where 'attr1>=4000' --json
check "search --where 'attr1&5' (all bits)" json_check \
	'd["count"] == 10 and all(r["id"] & 5 == 5 for r in d["results"])' \
	ctl search "$COLL" --query "$(first_query)" --where 'attr1&5' --json
check "search --where with two predicates joined by 'and'" json_check \
	'd["count"] == 10 and len(d["where"]) == 2 and all(r["id"] % 10 == 3 and r["id"] >= 4000 for r in d["results"]) and d["scanned"] == 90' \
	ctl search "$COLL" --query "$(first_query)" --where 'attr0=3 and attr1>=4000' --json
ids_of() { "$@" | python3 -c 'import json, sys; print([r["id"] for r in json.load(sys.stdin)["results"]])'; }
check_eq "--where given twice is the same search" \
	"$(ids_of ctl search "$COLL" --query "$(first_query)" --where 'attr0=3 and attr1>=4000' --json)" \
	"$(ids_of ctl search "$COLL" --query "$(first_query)" --where attr0=3 --where 'attr1>=4000' --json)"
check "four predicates: attr0=3, 4000 <= attr1 < 4500, attr1 != 4013" json_check \
	'd["count"] == 10 and all(r["id"] % 10 == 3 and 4000 <= r["id"] < 4500 and r["id"] != 4013 for r in d["results"]) and d["scanned"] == 49' \
	ctl search "$COLL" --query "$(first_query)" --json \
	--where 'attr0=3 and attr1>=4000 and attr1<4500 and attr1!=4013'
exit_status_is "usage: five predicates exit 2" 2 ctl search "$COLL" --query "$(first_query)" \
	--where 'attr0=3 and attr1>=1 and attr1>=2 and attr1>=3 and attr1>=4'

section "put, get, del"
DOC=$COLL/doc.txt
VEC=$(python3 -c 'print(",".join("%g" % (i / 8) for i in range(128)))')
echo "a document" >"$DOC"
check "put --vector --id --attr" ctl put "$DOC" --vector "$VEC" --id 4242 --attr 0=1 --attr attr3=4
check "get returns what put set" json_check \
	'd["id"] == 4242 and d["attrs"] == [1, 0, 0, 4] and d["vector"] == [i / 8 for i in range(128)]' \
	ctl get "$DOC" --json
check "put file is found by search, under its own name" json_check \
	'd["results"][0]["id"] == 4242 and d["results"][0]["path"] == "'"$DOC"'" and d["results"][0]["distance"] == 0' \
	ctl search "$COLL" --query "$VEC" -k 1 --json
check "put --vector-file creates the file, id defaults to the inode" json_check \
	'd["created"] and d["id"] > 0' \
	ctl put "$COLL/from-row" --vector-file "$BASE" --row 7 --json
check "id of a put without --id is the inode number" id_is_inode "$COLL/from-row"
check "get text output" get_text_shows_id "$DOC" 4242
VEC2=$(python3 -c 'print(",".join("%g" % (i / 4) for i in range(128)))')
check "put again without --id or --attr keeps the id and metadata" json_check \
	'd["id"] == 4242 and d["attrs"] == [1, 0, 0, 4]' ctl put "$DOC" --vector "$VEC2" --json
check "... and replaces the vector" json_check \
	'd["id"] == 4242 and d["attrs"] == [1, 0, 0, 4] and d["vector"] == [i / 4 for i in range(128)]' \
	ctl get "$DOC" --json
check "put --attr alone changes the metadata, keeps the id" json_check \
	'd["id"] == 4242 and d["attrs"] == [0, 9, 0, 0]' ctl put "$DOC" --vector "$VEC" --attr 1=9 --json
check "put --id alone changes the id, keeps the metadata" json_check \
	'd["id"] == 77 and d["attrs"] == [0, 9, 0, 0]' ctl put "$DOC" --vector "$VEC" --id 77 --json
mkdir -p "$MNT/plain"
mv "$DOC" "$MNT/plain/doc.txt"
check "moved out of any collection, get shows the vector kept with the file" json_check \
	'not d["in_collection"] and d["id"] == 77 and d["attrs"] == [0, 9, 0, 0] and len(d["vector"]) == 128' \
	ctl get "$MNT/plain/doc.txt" --json
check "... and says so" eval 'ctl get "$MNT/plain/doc.txt" | grep -q "^where   no collection through this name: kept"'
check "... and search does not find it" json_check 'not any(r["id"] == 77 for r in d["results"])' \
	ctl search "$COLL" --query "$VEC" -k 3 --json
mv "$MNT/plain/doc.txt" "$DOC"
check "moved back, it is the collection's again" json_check \
	'd["in_collection"] and d["id"] == 77 and d["attrs"] == [0, 9, 0, 0]' ctl get "$DOC" --json
touch "$MNT/plain/bare"
expect_fail "get of a file in no collection without a vector" \
	-e "has no vector \(it is in no collection\)" ctl get "$MNT/plain/bare"
check "del" ctl del "$DOC"
expect_fail "get after del: no vector" -e "No data available \(the file has no vector\)" ctl get "$DOC"
check_eq "del keeps the file" "a document" "$(cat "$DOC")"
expect_fail "del twice" -e "No data available" ctl del "$DOC"
check "count after put, put, del" json_check 'd["count"] == 4901' ctl stats "$COLL" --json

section "npy import"
NPY=$SCRATCH/small.npy
write_npy "$NPY" '<f4' 50 16
check "collection of dim 16" ctl collection create "$MNT/small" --dim 16 --metric cosine
check "import .npy" json_check 'd["imported"] == 50 and d["format"] == "npy" and d["last_id"] == 1049' \
	ctl import "$MNT/small" "$NPY" --id-start 1000 --batch 7 --json
check "npy vectors read back" json_check 'd["vector"] == [10 + c * 0.5 for c in range(16)]' \
	ctl get "$MNT/small/1010" --json
write_npy "$SCRATCH/double.npy" '<f8' 5 16
expect_fail "float64 .npy refused" -e "dtype '<f8' is not supported" \
	ctl import "$MNT/small" "$SCRATCH/double.npy"

section "an index built elsewhere"
# index write builds where it runs (here too, for the test); index publish
# hands the file to the kernel, --rows checking slot i against row i.
GRAPH=$SCRATCH/small.hnsw
check "index write: the rows of the .npy" json_check \
	'd["vectors"] == 50 and d["dim"] == 16 and d["graph_bytes"] > 0' \
	ctl --json index write "$NPY" "$GRAPH" --metric cosine --threads 1
check "index publish --rows" json_check 'd["rows_checked"] and d["seq"] > 0' \
	ctl --json index publish "$MNT/small" "$GRAPH" --rows "$NPY"
check "the published index covers all 50" json_check \
	'd["indexed"] == 50 and d["unindexed"] == 0' ctl --json collection info "$MNT/small"
check "an indexed search finds row 10 as the file of id 1010" json_check \
	'd["results"][0]["id"] == 1010' ctl --json search "$MNT/small" \
	--query "$(python3 -c 'print(",".join("%g" % (10 + c * 0.5) for c in range(16)))')" -k 1
write_npy "$SCRATCH/more.npy" '<f4' 51 16
expect_fail "--rows of a file with a row more than the graph" \
	-e "a graph of 50 nodes, not one over the 51 rows" \
	ctl index publish "$MNT/small" "$GRAPH" --rows "$SCRATCH/more.npy"
write_npy "$SCRATCH/other.npy" '<f4' 50 16 reversed
check "another 50 rows: a graph on codes" json_check 'd["built_on"] == "codes"' \
	ctl --json index write "$SCRATCH/other.npy" "$SCRATCH/other.hnsw" --metric cosine --threads 1
expect_fail "--rows: a graph built on other rows is refused" -e "node [0-9]+ was not built on row" \
	ctl index publish "$MNT/small" "$SCRATCH/other.hnsw" --rows "$NPY"
check "put another vector in the file of row 10" \
	ctl put "$MNT/small/1010" --vector "$(python3 -c 'print(",".join(["1"] * 16))')"
expect_fail "--rows: a slot that no longer holds its row" -e "slot 10 does not hold row 10" \
	ctl index publish "$MNT/small" "$GRAPH" --rows "$NPY"
expect_fail "--rows of another dimension" -e "rows of 16 floats wanted" \
	ctl index publish "$MNT/small" "$GRAPH" --rows "$BASE"
check "index write with metric l2" ctl index write "$NPY" "$SCRATCH/l2.hnsw" --threads 1
expect_fail "a graph of another metric is refused, and says why" \
	-e "a graph of 16 dimensions, l2; the collection: 16, cosine" \
	ctl index publish "$MNT/small" "$SCRATCH/l2.hnsw"
expect_fail "a file that is not a graph" -e "small.npy" \
	ctl index publish "$MNT/small" "$NPY"

section "bad input"
expect_fail "search with the wrong dimension" \
	-e "search: Invalid argument \(dimension 64, collection has 128\)" \
	ctl search "$COLL" --query "$(first_query 64)"
expect_fail "search with NaN" -e "Invalid argument \(component 1 is NaN" \
	ctl search "$COLL" --query "1,nan$(printf ',1%.0s' $(seq 126))"
expect_fail "import over existing ids" -e "File exists \(id 1: a file of that name exists" \
	ctl import "$COLL" "$BASE" -q
check "failed import changed nothing" json_check 'd["count"] == 4901' ctl stats "$COLL" --json
expect_fail "import of another dimension" -e "Invalid argument .*has dimension 16, collection has 128" \
	ctl import "$COLL" "$NPY"
mkdir -p "$MNT/plain"
expect_fail "search a plain directory" -e "not a vector collection" \
	ctl search "$MNT/plain" --query 1,2
echo x >"$MNT/plain/f"
expect_fail "put outside a collection" -e "not a vector collection" \
	ctl put "$MNT/plain/f" --vector 1,2
expect_fail "search outside VexFS" -e "not on a VexFS filesystem" ctl search "$SCRATCH" --query 1,2
expect_fail "put of the wrong dimension leaves no file" -e "dimension 3, collection has 128" \
	ctl put "$COLL/newfile" --vector 1,2,3
check "no file left behind" test ! -e "$COLL/newfile"
head -c 1000 "$BASE" >"$SCRATCH/cut.fvecs"
expect_fail "truncated .fvecs" -e "not a whole number of rows" \
	ctl import "$COLL" "$SCRATCH/cut.fvecs"
exit_status_is "usage: search without a query exits 2" 2 ctl search "$COLL"
exit_status_is "usage: unknown option exits 2" 2 ctl search "$COLL" --bogus
exit_status_is "usage: bad --where exits 2" 2 ctl search "$COLL" --query 1 --where 'attr9=1'
exit_status_is "usage: -k 0 exits 2" 2 ctl search "$COLL" --query 1 -k 0
exit_status_is "failure: missing directory exits 1" 1 ctl stats "$MNT/nope"
check "errors in JSON too" json_error_is EINVAL ctl --json search "$COLL" --query 1,2

section "persistence"
check "remount" remount
check "everything survives the remount" json_check 'd["count"] == 4901' ctl stats "$COLL" --json
check_recall "recall@10 = 1.0 after the last remount"

summary
