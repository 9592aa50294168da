#!/usr/bin/env bash
# Power cuts: a workload of files, fsyncs, renames, unlinks, vector inserts
# and deletes, batch inserts of 2,000 files (with commits forced all along
# them) and index publishes beside vector changes runs on a dm-log-writes
# device, which
# records every write the filesystem sent, with its FLUSH and FUA flags.
# Replaying the record up to each FLUSH or FUA rebuilds the disk as a power
# cut there could have left it. At every such crash point the image must
# mount read-only (replaying the journal), hold everything whose fsync had
# returned and every batch whole or not at all, hold it again after a
# remount read-write (which releases orphans), and check clean with
# fsck.vexfs -n after it is unmounted. fsck.vexfs -y
# on the raw image must replay the journal itself and leave it as clean.
#
#   VEXFS_POWERCUT_ROUNDS  workload rounds (4, about 30 steps)
#   VEXFS_POWERCUT_POINTS  crash points checked, evenly spread; 0 = all
#   VEXFS_POWERCUT_SEED    seed of the workload's random contents
#   VEXFS_POWERCUT_SIZE    image size (1G, whose journal holds a batch of
#                          2,000 files in one transaction); below 128M mkfs
#                          makes no journal, which shows what it is for
#   VEXFS_POWERCUT_BATCH   files per batch insert (2000)
. "$(dirname "$0")/lib.sh"

[ "$FSTYPE" = vexfs ] || { skip "power cuts" "vexfs only"; summary; exit 0; }
load_module || { fail "load the module"; summary; exit 1; }
modprobe -q dm-log-writes 2>/dev/null
if ! command -v dmsetup >/dev/null || ! modprobe -n dm-log-writes 2>/dev/null; then
	skip "power cuts" "no dmsetup or dm-log-writes"
	summary
	exit 0
fi

WORK=$SCRATCH/powercut
DM=vexfs-powercut
POWERCUT="python3 $REPO/tests/vm/powercut.py"
rm -rf "$WORK"
mkdir -p "$WORK/mnt"
MNT=$WORK/mnt

cleanup_powercut() {
	umount "$MNT" 2>/dev/null
	dmsetup remove --noudevsync "$DM" 2>/dev/null
	[ -z "${DATA_DEV:-}" ] || losetup -d "$DATA_DEV" 2>/dev/null
	[ -z "${LOG_DEV:-}" ] || losetup -d "$LOG_DEV" 2>/dev/null
}
trap 'cleanup_powercut; lib_cleanup' EXIT

# A freshly made image is the base the log is replayed onto.
make_base() {
	truncate -s "${VEXFS_POWERCUT_SIZE:-1G}" "$WORK/data.img" &&
		"$(mkfs_vexfs_bin)" -q -f "$WORK/data.img" >/dev/null &&
		cp --sparse=always "$WORK/data.img" "$WORK/base.img" &&
		truncate -s 1G "$WORK/log.img"
}

record_workload() {
	DATA_DEV=$(losetup -f --show "$WORK/data.img") &&
		LOG_DEV=$(losetup -f --show "$WORK/log.img") || return 1
	dd if=/dev/zero of="$LOG_DEV" bs=4096 count=1 conv=fsync status=none
	# No udev in the guest: make the /dev/mapper node by hand.
	dmsetup create --noudevsync "$DM" --table \
		"0 $(blockdev --getsz "$DATA_DEV") log-writes $DATA_DEV $LOG_DEV" &&
		dmsetup mknodes "$DM" || return 1
	mount -t vexfs "/dev/mapper/$DM" "$MNT" || return 1
	$POWERCUT workload "$MNT" "$WORK/model.json" "$DM" || return 1
	umount "$MNT" && dmsetup remove --noudevsync "$DM"
}

section "record a workload through dm-log-writes"
check "mkfs a ${VEXFS_POWERCUT_SIZE:-1G} image" make_base || { summary; exit 1; }
check "run the workload and record its writes" record_workload || {
	summary
	exit 1
}
log "crash points in the log: $($POWERCUT points "$WORK/log.img" | wc -w)"
# The collection's batches make it a hashed directory: the crash points
# cover its tree's creation and splits, and fsck checks the tree at each.
hashed_dirs() { "$(fsck_bin)" -nfv "$1" | awk '/hashed directories/ { print $1 }'; }
check "the workload's collection has a hash tree" test "$(hashed_dirs "$WORK/data.img")" -ge 1

section "replay to every crash point"
check_points() {
	VEXFS_FSCK=$(fsck_bin) $POWERCUT check "$WORK/log.img" "$WORK/base.img" \
		"$WORK/model.json" "$WORK"
}
check "every crash point mounts, keeps what was fsynced, fscks clean" check_points
tail -n 1 "$CHECK_OUT"
check_no_oops "no kernel warnings during replays"
summary
