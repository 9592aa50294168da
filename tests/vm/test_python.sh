#!/usr/bin/env bash
# The Python client (python/vexfs) on a fresh VexFS mount, with Debian's
# /usr/bin/python3 and nothing but the standard library: its unittest
# suite (python/tests/test_client.py), then the example that indexes a
# folder of text files with precomputed vectors and searches it.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1	# the source tree is read-only here

[ -x "$PY" ] || { skip "python client" "no $PY"; summary; exit; }
setup_vexfs 64M || { fail "setup" "cannot make and mount a filesystem"; summary; exit 1; }

section "unittest"
dmesg_mark unittest
mkdir -p "$SCRATCH/other"
# A BPF filter for the filter= test, loaded by its bare name (vexfsctl finds
# tags.bpf.o in build/bpf/filters beside build/bin/).
FILTER=pytags
if check "load the tags filter by name" "$REPO/build/bin/vexfsctl" filter load tags --name $FILTER \
	--set tag_mask=2; then
	export VEXFS_PY_FILTER=$FILTER
fi
check "python client unittest suite" env VEXFS_PY_MNT="$MNT" VEXFS_PY_OTHER="$SCRATCH/other" \
	"$PY" -m unittest discover -v -s "$REPO/python/tests" -p test_client.py
cp "$CHECK_OUT" "$SCRATCH/unittest.out"
# The suite's own counts, for the log.
grep -aE '^(Ran|OK|FAILED)' "$SCRATCH/unittest.out" | sed 's/^/     /'
grep -q 'test_bpf_filter .* ok$' "$SCRATCH/unittest.out" && pass "the BPF filter test ran" ||
	fail "the BPF filter test ran" "$(grep test_bpf_filter "$SCRATCH/unittest.out")"
[ -z "${VEXFS_PY_FILTER:-}" ] || check "unload the filter" "$REPO/build/bin/vexfsctl" filter unload $FILTER
check_no_oops "no kernel splat from the client suite"

section "example: index a folder of text files"
DOCS=$SCRATCH/docs
EXAMPLE=$REPO/python/examples/index_folder.py
mkdir -p "$DOCS/notes"
printf 'the quick brown fox jumps over the lazy dog\n' >"$DOCS/fox.txt"
printf 'the quick brown fox jumped over a lazy dog\n' >"$DOCS/notes/fox2.txt"
printf 'zzz buzz fuzz jazz pizza\n' >"$DOCS/buzz.txt"
printf 'vectors and filesystems together at last\n' >"$DOCS/notes/vexfs.txt"
# Precomputed vectors: letter frequencies, so near-duplicate texts are near.
"$PY" - "$DOCS" >"$SCRATCH/vectors.jsonl" <<'PYEOF'
import json, os, sys
root = sys.argv[1]
for dirpath, _, files in sorted(os.walk(root)):
    for name in sorted(files):
        path = os.path.join(dirpath, name)
        text = open(path).read().lower()
        vec = [text.count(chr(c)) + 0.01 for c in range(ord("a"), ord("z") + 1)]
        print(json.dumps({"path": os.path.relpath(path, root), "vector": vec}))
PYEOF
check "example indexes the folder" "$PY" "$EXAMPLE" index "$MNT/docs" "$DOCS" "$SCRATCH/vectors.jsonl"
check "the indexed documents hold their text" cmp "$DOCS/notes/fox2.txt" "$MNT/docs/notes__fox2.txt"
"$PY" "$EXAMPLE" search "$MNT/docs" --like fox.txt -k 4 >"$SCRATCH/hits" 2>&1
hits=$(awk '{print $2}' "$SCRATCH/hits" | paste -sd' ')
check_eq "search --like fox.txt: itself, then its near-duplicate, buzz last" \
	"fox.txt notes/fox2.txt notes/vexfs.txt buzz.txt" "$hits"
top=$("$PY" "$EXAMPLE" search "$MNT/docs" -k 1 --vector "$(printf '0,%.0s' $(seq 25))9" | awk '{print $2}')
check_eq "search by an explicit vector (all z): buzz.txt" buzz.txt "$top"
expect_fail "example reports a missing collection" -e 'index_folder: .*No such file' \
	"$PY" "$EXAMPLE" search "$MNT/nope" --like fox.txt
check "example re-run replaces the vectors" "$PY" "$EXAMPLE" index "$MNT/docs" "$DOCS" "$SCRATCH/vectors.jsonl"
check_eq "still four documents" 4 "$(ls "$MNT/docs" | wc -l)"
check_no_oops "no kernel splat from the example"

teardown
summary
