#!/usr/bin/env bash
# vexfsctl's command line: every command answers --help with its own usage
# and an example and exits 0, and answers wrong arguments with a message
# and exit status 1 or 2, never a signal. Runs natively: none of this
# reaches the module (paths that do not exist fail before any ioctl).
set -uo pipefail

CTL=${VEXFSCTL:-$(dirname "$0")/../../build/bin/vexfsctl}
PASSED=0
FAILED=0
NOWHERE=/nonexistent/vexfs-cli-test

ok() { PASSED=$((PASSED + 1)); }
bad() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }

COMMANDS=("collection create" "collection info" "stats" "version" "put" "get"
	"del" "import" "search" "recall" "index build" "index status"
	"index drop" "index write" "index publish" "filter load" "filter list" "filter unload" "top" "slow")

# run NAME ARGS...: output in $OUT, status in $RC; a hang counts as 124.
run() {
	OUT=$(timeout 10 "$CTL" "$@" 2>&1 </dev/null)
	RC=$?
}

for c in "${COMMANDS[@]}"; do
	# shellcheck disable=SC2086
	for h in --help -h; do
		run $c $h
		if [ "$RC" = 0 ] && grep -q "^Usage: vexfsctl \[--json\] $c" <<<"$OUT" &&
			grep -q '^Example: vexfsctl' <<<"$OUT"; then
			ok
		else
			bad "'$c $h': exit $RC: ${OUT:0:200}"
		fi
	done
	# Wrong arguments: an unknown option, and a path that is not there.
	# shellcheck disable=SC2086
	for args in "--no-such-option" "$NOWHERE" "$NOWHERE $NOWHERE $NOWHERE --dim x -k -5"; do
		run $c $args
		if [ "$RC" = 1 ] || [ "$RC" = 2 ]; then
			if [ -n "$OUT" ]; then ok; else bad "'$c $args': exit $RC without a message"; fi
		else
			bad "'$c $args': exit $RC (want 1 or 2): ${OUT:0:200}"
		fi
	done
done
for group in collection index filter; do
	run $group --help
	if [ "$RC" = 0 ] && grep -q "^Usage: vexfsctl \[--json\] $group " <<<"$OUT"; then ok; else bad "'$group --help': exit $RC"; fi
	run $group
	if [ "$RC" = 2 ] && grep -q "^Usage:" <<<"$OUT"; then ok; else bad "'$group' alone: exit $RC"; fi
done
run --help
if [ "$RC" = 0 ] && grep -q "^Usage: vexfsctl" <<<"$OUT"; then ok; else bad "'--help': exit $RC"; fi

echo "test_cli: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
