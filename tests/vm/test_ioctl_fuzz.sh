#!/usr/bin/env bash
# Fuzzes every VexFS ioctl (tests/fuzz/ioctl_fuzz.c): random and boundary
# arguments, bad pointers, every kind of file descriptor, an unprivileged
# caller, and threads that unlink, rename and rmdir the targets meanwhile.
# Every call must return success or an expected errno, the kernel must not
# oops or warn (scripts/vm.sh fails the run on any splat), and afterwards
# the filesystem must check clean and mount again.
#
#   VEXFS_IOCTL_FUZZ_CALLS    calls in all (15000; make reliability: 200000)
#   VEXFS_IOCTL_FUZZ_SEED     seed (default: the time; printed either way)
#   VEXFS_IOCTL_FUZZ_THREADS  root worker threads (4; half as many more run
#                             unprivileged)
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	skip "$TEST_NAME" "the ioctls are specific to vexfs, not $FSTYPE"
	summary
	exit
fi

FUZZER=$REPO/tests/fuzz/ioctl_fuzz
CALLS=${VEXFS_IOCTL_FUZZ_CALLS:-15000}
SEED=${VEXFS_IOCTL_FUZZ_SEED:-$(date +%s)}
THREADS=${VEXFS_IOCTL_FUZZ_THREADS:-4}

[ -x "$FUZZER" ] || {
	fail "ioctl_fuzz is built" "$FUZZER missing: run make on the host"
	summary
	exit 1
}

section "fuzzing the ioctls ($CALLS calls, seed $SEED)"
check "make and mount a 256 MiB vexfs" setup_vexfs 256M
dmesg_mark "ioctl fuzz"

# A hang is a failure too; the limit is far above a normal run.
run_fuzzer() {
	timeout -k 10 $((600 + CALLS / 20)) "$FUZZER" -s "$SEED" -n "$CALLS" -t "$THREADS" -c 2 "$MNT"
}
if check "$CALLS ioctl calls, every one a success or an expected errno" run_fuzzer; then
	grep -h '^ioctl_fuzz:' "$CHECK_OUT"
else
	log "reproduce with VEXFS_IOCTL_FUZZ_SEED=$SEED VEXFS_IOCTL_FUZZ_CALLS=$CALLS"
fi
check_no_oops "no oops or warning during the fuzzing"

check "unmount" umount "$MNT"
check_fsck "fsck.vexfs -n is clean after the fuzzing"
check "the filesystem mounts again" mount_fs
check "and its tree reads back" ls -lR "$MNT"
check "unmount again" umount "$MNT"
check_no_oops "no oops or warning at the end"

summary
