#!/bin/sh
# Run each cmocka test binary given by its path, show its output, and sum
# the results into one line. Exits non-zero when any test failed or a
# binary died before reporting (counted as one failure).
passed=0
failed=0
skipped=0
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT

count() {
	# "[  PASSED  ] 3 test(s)." -> 3; nothing found -> empty
	sed -n "s/^\[ *$1 *\] \([0-9]*\) test(s).*/\1/p" "$log" | tail -n 1
}

for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(count PASSED)
	f=$(count FAILED)
	s=$(count SKIPPED)
	if [ -z "$p" ] && [ -z "$f" ]; then
		echo "$t: exited with status $rc before reporting"
		f=1
	elif [ "$rc" -ne 0 ] && [ -z "$f" ]; then
		f=1
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
done

if [ "$skipped" -gt 0 ]; then
	echo "unit: $passed passed, $failed failed ($skipped skipped)"
else
	echo "unit: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
