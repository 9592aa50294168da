#!/usr/bin/env bash
# Third-party exercisers on the filesystem under test, with data
# verification: fio writes checksummed blocks (sequential, random and
# through mmap, several jobs at once) and reads them back, again after a
# remount; then stress-ng's filesystem stressors one after the other.
#
# Debian 12 packages no xfstests, fsstress or LTP (apt-cache policy
# xfstests ltp: no candidate), so fio and stress-ng are what is there.
# Not exercised: O_DIRECT and fallocate, which the module does not offer.
#
#   VEXFS_STRESS_TIMEOUT  seconds per stress-ng stressor (default 20)
. "$(dirname "$0")/lib.sh"

STRESS_TIMEOUT=${VEXFS_STRESS_TIMEOUT:-20}
STRESSORS=(hdd dir dirdeep dirmany link symlink rename dentry filename getdent
	chown utime xattr mknod mmap seek readahead copy-file)

section "mkfs and mount"
check "mkfs and mount a 512 MiB image" setup_vexfs 512M || {
	summary
	exit 1
}
FIO_DIR=$MNT/fio
STRESS_DIR=$MNT/stress
mkdir -p "$FIO_DIR" "$STRESS_DIR"
# Taken with the two work directories in place, which stay to the end:
# the counts must come back exactly to these once their contents go.
sync
FREE_BLOCKS=$(fs_blocks_free "$MNT")
FREE_INODES=$(fs_inodes_free "$MNT")

# ---------------------------------------------------------------------------
section "fio with crc32c verification"
JOBS=$SCRATCH/verify.fio
# Every job writes its blocks with a crc32c header and reads them all back
# (do_verify), stopping at the first mismatch (verify_fatal). The jobs run
# at the same time, so allocation interleaves between files.
cat >"$JOBS" <<EOF
[global]
directory=$FIO_DIR
ioengine=psync
fallocate=none
verify=crc32c
do_verify=1
verify_fatal=1
randrepeat=1
end_fsync=1
# No state files in the working directory (the repository, read-only in the guest).
verify_state_save=0

[seq-64k]
rw=write
bs=64k
size=32m
numjobs=2

[rand-4k]
rw=randwrite
bs=4k
size=16m
numjobs=2

[rand-mixed-sizes]
rw=randwrite
bsrange=4k-128k
size=16m

[mmap-8k]
ioengine=mmap
rw=randwrite
bs=8k
size=8m
EOF

# fio_run ARGS: fio's own exit status and its error lines both count.
fio_run() {
	fio --output-format=normal "$@" >"$SCRATCH/fio.out" 2>&1
	local rc=$?
	grep -E 'err=|verify:|bad magic|crc32c' "$SCRATCH/fio.out" | grep -v 'err= 0' | head -n 20
	grep -E '^ +(WRITE|READ):' "$SCRATCH/fio.out"
	[ $rc = 0 ] && ! grep -qE 'err= *[1-9]' "$SCRATCH/fio.out"
}

START=$(now_ms)
check "fio: 6 jobs, 104 MiB written and verified" fio_run "$JOBS"
cat "$CHECK_OUT"
log "fio write+verify took $(elapsed_since "$START") s"
check "remount" remount
START=$(now_ms)
check "fio --verify_only after the remount" fio_run --verify_only "$JOBS"
cat "$CHECK_OUT"
log "fio verify-only took $(elapsed_since "$START") s"
check "remove the fio files" find "$FIO_DIR" -mindepth 1 -delete

# ---------------------------------------------------------------------------
section "stress-ng filesystem stressors (${STRESS_TIMEOUT}s each)"
stress() {	# STRESSOR
	local extra=()
	case $1 in
	hdd) extra=(--hdd-bytes 32m --hdd-opts wr-rnd,rd-rnd) ;;
	dirdeep) extra=(--dirdeep-dirs 2 --dirdeep-inodes 5000) ;;
	dirmany) extra=(--dirmany-bytes 4k) ;;
	mmap) extra=(--mmap-file --mmap-bytes 16m) ;;
	esac
	# From inside the mount: stress-ng wants a writable working directory.
	(cd "$STRESS_DIR" && timeout $((STRESS_TIMEOUT * 4 + 60)) stress-ng --"$1" 2 "${extra[@]}" \
		--temp-path "$STRESS_DIR" --timeout "${STRESS_TIMEOUT}s" \
		--verify --metrics-brief 2>&1)
}

for s in "${STRESSORS[@]}"; do
	START=$(now_ms)
	check "stress-ng --$s" stress "$s"
	grep -E "metrc: \[[0-9]+\] +$s +[0-9]|fail|error" "$CHECK_OUT" | tail -n 3
	log "  ($(elapsed_since "$START") s)"
done

# ---------------------------------------------------------------------------
section "afterwards"
check "remount" remount
check "ls -lR of what the stressors left" bash -c 'ls -lR "$1" >/dev/null' _ "$MNT"
check "remove everything the stressors left" bash -c 'find "$1" -mindepth 1 -delete && [ -z "$(ls -A "$1")" ]' _ "$STRESS_DIR"
check "remount" remount
# Leaks: every block and inode the stress runs took must be free again.
sync
check_eq "free inodes are back to the start" "$FREE_INODES" "$(fs_inodes_free "$MNT")"
check "free blocks are back to the start (within 16)" bash -c '[ "$1" -ge $(( $2 - 16 )) ]' _ "$(fs_blocks_free "$MNT")" "$FREE_BLOCKS"
log "free blocks: $FREE_BLOCKS at the start, $(fs_blocks_free "$MNT") now"

check "final unmount" umount "$MNT"
check_fsck "fsck finds the filesystem clean"
teardown
summary
