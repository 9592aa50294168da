#!/usr/bin/env bash
# Fuzzes every VexFS ioctl (tests/fuzz/ioctl_fuzz.c): random and boundary
# arguments, bad pointers, every kind of file descriptor, two unprivileged
# callers, threads that unlink, rename and rmdir the targets meanwhile,
# sets and deletes through hard links of one file in every collection at
# once while its links move between collections, and valid graphs
# published while the vectors change and indexes are dropped. Every call
# must return success or an expected errno, the kernel must not oops or
# warn (scripts/vm.sh fails the run on any splat), every collection's
# table must agree with the tree afterwards (its count, one slot per file,
# GET_VECTOR through each link), and the filesystem must check clean and
# mount again.
#
#   VEXFS_IOCTL_FUZZ_CALLS    calls in all (60000; make reliability: 200000)
#   VEXFS_IOCTL_FUZZ_SEED     seed (default: the time; printed either way)
#   VEXFS_IOCTL_FUZZ_THREADS  root worker threads (4; half as many more run
#                             unprivileged)
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	skip "$TEST_NAME" "the ioctls are specific to vexfs, not $FSTYPE"
	summary
	exit
fi

FUZZER=$REPO/build/fuzz/ioctl_fuzz
CALLS=${VEXFS_IOCTL_FUZZ_CALLS:-60000}
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
if check "$CALLS ioctl calls, every one a success or an expected errno; tables agree with the tree" run_fuzzer; then
	grep -h '^ioctl_fuzz:' "$CHECK_OUT"
else
	log "reproduce with VEXFS_IOCTL_FUZZ_SEED=$SEED VEXFS_IOCTL_FUZZ_CALLS=$CALLS"
fi
check_no_oops "no oops or warning during the fuzzing"
# The calls are hostile, the image is not: a report of damage is the
# module misreading a healthy filesystem.
check_no_corruption_report "the module reported no damage on this healthy filesystem"

section "cases the fuzzing found"
# An unprivileged caller with write access to a small collection asked
# PUBLISH_INDEX for a 1 GiB buffer and woke the OOM killer: a graph longer
# than any graph of the collection could be is now refused first. The
# collection is the caller's own, since only its owner may publish.
publish_huge_graph() {
	setpriv --reuid=65534 --regid=65534 --clear-groups python3 - "$1" <<'PY'
import errno, fcntl, os, struct, sys
fmt = "<IIQQQ4Q"
cmd = (1 << 30) | (struct.calcsize(fmt) << 16) | (0xE9 << 8) | 0x09
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
buf = bytearray(struct.pack(fmt, struct.calcsize(fmt), 0, 4096, 1 << 30, 0, 0, 0, 0, 0))
try:
    fcntl.ioctl(fd, cmd, buf)
except OSError as e:
    print("PUBLISH_INDEX of 1 GiB: %s" % errno.errorcode[e.errno])
    sys.exit(0 if e.errno == errno.EINVAL else 1)
sys.exit("PUBLISH_INDEX of 1 GiB succeeded")
PY
}
small_collection() {
	mkdir "$MNT/small" && chmod 0777 "$MNT/small" && chown 65534:65534 "$MNT/small" &&
		"$REPO/build/bin/vexfsctl" collection create "$MNT/small" --dim 4 >/dev/null
}
check "a small collection of an unprivileged user" small_collection
check "an unprivileged 1 GiB PUBLISH_INDEX on it is refused with EINVAL" \
	publish_huge_graph "$MNT/small"
check_no_oops "no oops or warning (nor an OOM kill)"

check "unmount" umount "$MNT"
check_fsck "fsck.vexfs -n is clean after the fuzzing"
check "the filesystem mounts again" mount_fs
check "and its tree reads back" ls -lR "$MNT"
check "unmount again" umount "$MNT"
check_no_oops "no oops or warning at the end"

summary
