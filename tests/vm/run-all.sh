#!/usr/bin/env bash
# Runs the guest test scripts one after the other, going on after a
# failure, then prints one line per script and the total:
#
#   tests/vm/run-all.sh               every tests/vm/test_*.sh
#   tests/vm/run-all.sh posix enospc  only test_posix.sh and test_enospc.sh
#
# Suites: posix, bigdir, enospc, stress first, the fuzzing last, and between
# them every other test_*.sh in name order (filter, fsck, import, index,
# property, python, telemetry, trust, vectors, vexfsctl, vexfsd, ...).
#
# Meant for the guest (make vm-test runs scripts/vm.sh -- tests/vm/run-all.sh);
# with VEXFS_TEST_FSTYPE=ext4 it runs natively too. Exits non-zero when
# anything failed. Each script's log is kept in $VEXFS_RESULTS when set.
. "$(dirname "$0")/lib.sh"

# The basic tests first; the fuzzing (test_ioctl_fuzz, test_imgfuzz, test_corrupt)
# after every other script: the guest panics on the first kernel warning,
# and such a panic should not cost the other results.
RUN_FIRST=(posix bigdir enospc stress)
RUN_LAST=(ioctl_fuzz imgfuzz corrupt)

script_list() {
	local name f seen=" "
	if [ $# -gt 0 ]; then
		for name in "$@"; do
			echo "$TESTS_DIR/test_${name#test_}"
		done | sed 's/\.sh$//; s/$/.sh/'
		return
	fi
	for name in "${RUN_FIRST[@]}" "${RUN_LAST[@]}"; do
		seen+="$TESTS_DIR/test_$name.sh "
	done
	for name in "${RUN_FIRST[@]}"; do
		[ ! -f "$TESTS_DIR/test_$name.sh" ] || echo "$TESTS_DIR/test_$name.sh"
	done
	for f in "$TESTS_DIR"/test_*.sh; do
		[[ $seen == *" $f "* ]] || echo "$f"
	done
	for name in "${RUN_LAST[@]}"; do
		[ ! -f "$TESTS_DIR/test_$name.sh" ] || echo "$TESTS_DIR/test_$name.sh"
	done
}

LOGDIR=${VEXFS_RESULTS:-$SCRATCH}
RESULTS=()
TOTAL_PASSED=0
TOTAL_FAILED=0

# run_script PATH: runs it, adds its counts to the totals. A script that
# dies before its summary, or exits non-zero with no failed check, counts
# one failure more so that it can never look green.
run_script() {
	local script=$1 name log start rc counts passed=0 failed=0 note=
	name=$(basename "$script" .sh)
	log=$LOGDIR/$name.log
	start=$(now_ms)
	bash "$script" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	counts=$(grep -aoE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$counts" ]; then
		passed=${counts%% passed*}
		failed=${counts#*passed, }
		failed=${failed%% failed}
	else
		note=" (no summary: the script died)"
		failed=1
	fi
	if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
		note=" (exit status $rc)"
		failed=1
	fi
	TOTAL_PASSED=$((TOTAL_PASSED + passed))
	TOTAL_FAILED=$((TOTAL_FAILED + failed))
	RESULTS+=("$(printf '%-4s %-14s %4d passed, %3d failed  %6s s%s' \
		"$([ "$failed" = 0 ] && echo PASS || echo FAIL)" "$name" "$passed" "$failed" \
		"$(elapsed_since "$start")" "$note")")
}

load_module || {
	echo "cannot load the module; nothing was run"
	echo "0 passed, 1 failed"
	exit 1
}
[ "$FSTYPE" != vexfs ] || log "vexfs.ko loaded from ${VEXFS_KO:-$REPO/build/kmod/kmod/vexfs.ko}"
log "filesystem under test: $FSTYPE; logs in $LOGDIR"

START_ALL=$(now_ms)
readarray -t SCRIPTS <<<"$(script_list "$@")"
for script in "${SCRIPTS[@]}"; do
	[ -f "$script" ] || {
		RESULTS+=("FAIL $(basename "$script" .sh): no such test")
		TOTAL_FAILED=$((TOTAL_FAILED + 1))
		continue
	}
	run_script "$script"
done

printf '\n== results (%s, %s s in all)\n' "$FSTYPE" "$(elapsed_since "$START_ALL")"
printf '%s\n' "${RESULTS[@]}"
printf '%d passed, %d failed\n' "$TOTAL_PASSED" "$TOTAL_FAILED"
[ "$TOTAL_FAILED" -eq 0 ]
