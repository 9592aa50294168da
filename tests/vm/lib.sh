# shellcheck shell=bash
# Shared helpers for the filesystem tests in tests/vm/. Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   setup_vexfs 256M
#   check "write a file" write_something
#   remount
#   summary
#
# The scripts run as root inside the QEMU guest (scripts/vm.sh), but the
# filesystem type is a parameter so the suite itself can be validated on a
# known-good filesystem, natively, before blaming the module:
#
#   VEXFS_TEST_FSTYPE=ext4 tests/vm/test_posix.sh
#
# Environment:
#   VEXFS_TEST_FSTYPE  filesystem under test (default vexfs)
#   VEXFS_SCRATCH      writable directory for images and mount points
#                      (default: a fresh directory under /tmp)
#   VEXFS_MOUNT_OPTS   extra mount options, e.g. "noatime"
#   VEXFS_TEST_VERBOSE 1 to print the output of passing checks too
#   VEXFS_BIGDIR_FILES   files in test_bigdir's directory (100000)
#   VEXFS_STRESS_TIMEOUT seconds per stress-ng stressor in test_stress (20)
#   VEXFS_FSCK         the fsck.vexfs to run (default: PATH, then the tree's)
#   VEXFS_FUZZ_ROUNDS, VEXFS_FUZZ_SEED, VEXFS_FUZZ_WRITES  test_corrupt's
#                      fuzz loop: rounds (50), base seed (the time), whether
#                      to write to the damaged filesystems too (1)
#   VEXFS_IOCTL_FUZZ_CALLS, _SEED, _THREADS   test_ioctl_fuzz (15000 calls)
#   VEXFS_IMGFUZZ_IMAGES, VEXFS_IMGFUZZ_SEED  test_imgfuzz (40 images)
#   VEXFS_SOAK_SECONDS, _THREADS, _SEED        test_soak (30 s, 8 threads)
#   VEXFS_PROPERTY_SEARCHES, _SEED, _ROUNDS    test_property (5000 searches)
# scripts/vm.sh passes every VEXFS_* variable through to the guest.

set -uo pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$TESTS_DIR/../.." && pwd)
FSTYPE=${VEXFS_TEST_FSTYPE:-vexfs}
TEST_NAME=$(basename "$0" .sh)
PASSED=0
FAILED=0

# Scratch space: the guest gives us a tmpfs; natively we make our own and
# remove it at exit, so repeated native runs do not pile up images.
if [ -n "${VEXFS_SCRATCH:-}" ]; then
	SCRATCH=$VEXFS_SCRATCH/$TEST_NAME
	OWN_SCRATCH=
else
	SCRATCH=$(mktemp -d /tmp/vexfs-test.XXXXXX)
	OWN_SCRATCH=$SCRATCH
fi
mkdir -p "$SCRATCH"
CHECK_OUT=$SCRATCH/.check-output

# State of the filesystem made by setup_vexfs.
IMG=
DEV=
MNT=
ATTACHED_DEVS=()

# --- reporting -------------------------------------------------------------

log() { printf '%s\n' "$*"; }
section() { printf '\n== %s: %s\n' "$TEST_NAME" "$*"; }

pass() {
	PASSED=$((PASSED + 1))
	printf 'ok   %s\n' "$1"
}

# fail NAME MSG: also shows the end of the kernel log since this script
# started, since most failures of a filesystem test are explained there,
# and CI keeps only this output.
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s: %s\n' "$1" "${2:-}"
	printf '     --- last kernel messages of this test ---\n'
	dmesg_since_start | tail -n 15 | sed 's/^/     | /'
}

skip() { printf 'skip %s: %s\n' "$1" "${2:-}"; }

show_output() {
	[ -s "$CHECK_OUT" ] || return 0
	printf '     --- output (last 20 lines) ---\n'
	tail -n 20 "$CHECK_OUT" | sed 's/^/     | /'
}

# check NAME CMD [ARGS...]: CMD (a program or a shell function) must exit 0.
check() {
	local name=$1 rc
	shift
	"$@" >"$CHECK_OUT" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$name"
		[ "${VEXFS_TEST_VERBOSE:-0}" != 1 ] || show_output
		return 0
	fi
	fail "$name" "exit status $rc from: $*"
	show_output
	return 1
}

# expect_fail NAME [-e REGEX] CMD [ARGS...]: CMD must fail, and when REGEX
# is given its output must match it, e.g. -e 'No space left on device', so
# that failing for the wrong reason does not count as the right failure.
expect_fail() {
	local name=$1 want= rc
	shift
	if [ "${1:-}" = -e ]; then
		want=$2
		shift 2
	fi
	"$@" >"$CHECK_OUT" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		fail "$name" "expected a failure but it succeeded: $*"
		show_output
		return 1
	fi
	if [ -n "$want" ] && ! grep -qE -- "$want" "$CHECK_OUT"; then
		fail "$name" "failed (status $rc) but not with /$want/: $*"
		show_output
		return 1
	fi
	pass "$name"
	return 0
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
		return 0
	fi
	fail "$1" "expected '$2', got '$3'"
	return 1
}

# summary: the closing line the runners and CI read, and the exit status.
summary() {
	printf '\n%s: ' "$TEST_NAME"
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	[ "$FAILED" -eq 0 ]
}

# --- kernel log ------------------------------------------------------------

# A numbered marker in the kernel log lets a test look only at what the
# kernel said since, without clearing the log (the harness keeps it).
DMESG_MARK=0
dmesg_mark() {
	DMESG_MARK=$((DMESG_MARK + 1))
	echo "test-mark: $TEST_NAME $DMESG_MARK ${1:-}" >/dev/kmsg 2>/dev/null || true
}

# Kernel messages after the last line containing $1.
dmesg_after() {
	dmesg 2>/dev/null | awk -v m="$1" '
		index($0, m) { n = 0; next }
		{ line[n++] = $0 }
		END { for (i = 0; i < n; i++) print line[i] }'
}
dmesg_since_mark() { dmesg_after "test-mark: $TEST_NAME $DMESG_MARK "; }
dmesg_since_start() { dmesg_after "test-mark: $TEST_NAME start"; }

OOPS_PATTERN='Oops|BUG:|WARNING:|general protection fault|Call Trace|Kernel panic|UBSAN|KASAN|stack-protector'

check_no_oops() {
	local splat
	splat=$(dmesg_since_mark | grep -E "$OOPS_PATTERN" | head -n 5)
	if [ -z "$splat" ]; then
		pass "$1"
		return 0
	fi
	fail "$1" "kernel splat: $splat"
	return 1
}

# check_no_corruption_report NAME: the module said nothing was damaged
# since the mark (for tests whose image nothing damages).
check_no_corruption_report() {
	local said
	said=$(dmesg_since_mark | grep -E 'vexfs: .*corrupted' | head -n 3)
	if [ -z "$said" ]; then
		pass "$1"
		return 0
	fi
	fail "$1" "$(dmesg_since_mark | grep -cE 'vexfs: .*corrupted') reports: $said"
	return 1
}

# check_kmsg NAME REGEX: the kernel logged a line matching REGEX since the mark.
check_kmsg() {
	if dmesg_since_mark | grep -qE -- "$2"; then
		pass "$1"
		return 0
	fi
	fail "$1" "no kernel message matching /$2/ since the mark"
	return 1
}

# --- module and filesystem -------------------------------------------------

have_fs() { grep -qw "$1" /proc/filesystems; }

# load_module: once per boot; harmless when already loaded or not vexfs.
load_module() {
	[ "$FSTYPE" = vexfs ] || return 0
	have_fs vexfs && return 0
	# vexfs.ko needs crc32c; on kernels where it is built in this fails
	# quietly and insmod still works.
	modprobe -q libcrc32c 2>/dev/null || modprobe -q crc32c 2>/dev/null || true
	# The journal is the kernel's jbd2; insmod does not pull it in.
	modprobe -q jbd2 2>/dev/null || true
	insmod "${VEXFS_KO:-$REPO/build/kmod/kmod/vexfs.ko}" || {
		echo "cannot load $REPO/build/kmod/kmod/vexfs.ko" >&2
		return 1
	}
}

# The tools built in this tree, which match its module; installed ones
# (make install-fs-tools puts them in /sbin) only when the tree has none.
mkfs_vexfs_bin() {
	if [ -x "$REPO/build/bin/mkfs.vexfs" ]; then
		echo "$REPO/build/bin/mkfs.vexfs"
	else
		command -v mkfs.vexfs
	fi
}

# make_fs TYPE TARGET [ARGS...]: ARGS use mkfs.vexfs spelling (-f, -L, -N,
# -q) and are translated for other filesystems.
make_fs() {
	local type=$1 target=$2 arg
	shift 2
	if [ "$type" = vexfs ]; then
		"$(mkfs_vexfs_bin)" "$@" "$target"
		return
	fi
	local args=()
	for arg in "$@"; do
		case $arg in
		-f) args+=(-F) ;;
		*) args+=("$arg") ;;
		esac
	done
	# ext4's lazy inode-table init would keep writing in the background
	# and blur the free-space checks; initialise everything up front.
	[ "$type" != ext4 ] || args+=(-E lazy_itable_init=0,lazy_journal_init=0)
	"mkfs.$type" -q "${args[@]}" "$target"
}

# attach IMG: print the loop device now backing IMG.
attach() {
	local dev
	dev=$(losetup -f --show "$1") || return 1
	ATTACHED_DEVS+=("$dev")
	echo "$dev"
}

detach() {
	losetup -d "$1" 2>/dev/null
	local i
	for i in "${!ATTACHED_DEVS[@]}"; do
		[ "${ATTACHED_DEVS[$i]}" != "$1" ] || unset 'ATTACHED_DEVS[i]'
	done
}

mount_fs() {
	local opts=${VEXFS_MOUNT_OPTS:-}
	mount -t "$FSTYPE" ${opts:+-o "$opts"} "$DEV" "$MNT"
}

# setup_vexfs SIZE [MKFS ARGS...]: fresh image of SIZE (truncate syntax) in
# the scratch space, a loop device on it, mkfs, mounted at $MNT.
setup_vexfs() {
	local size=$1
	shift
	load_module || return 1
	IMG=$SCRATCH/$FSTYPE.img
	MNT=$SCRATCH/mnt
	rm -f "$IMG"
	truncate -s "$size" "$IMG" || return 1
	DEV=$(attach "$IMG") || return 1
	make_fs "$FSTYPE" "$DEV" -q "$@" || { echo "mkfs failed" >&2; return 1; }
	mkdir -p "$MNT"
	mount_fs || { echo "mount -t $FSTYPE $DEV $MNT failed" >&2; return 1; }
}

# remount: a full unmount and mount, so every later read comes from the
# device and not from the inode, dentry or page caches.
remount() {
	umount "$MNT" || return 1
	mount_fs
}

fsck_bin() {
	if [ -n "${VEXFS_FSCK:-}" ]; then
		echo "$VEXFS_FSCK"
	elif [ "$FSTYPE" = vexfs ] && [ -x "$REPO/build/bin/fsck.vexfs" ]; then
		echo "$REPO/build/bin/fsck.vexfs"
	elif [ "$FSTYPE" = vexfs ]; then
		command -v fsck.vexfs 2>/dev/null
	else
		command -v "fsck.$FSTYPE" 2>/dev/null
	fi
}

# check_fsck NAME: the filesystem on $DEV, unmounted, checks clean with a
# read-only fsck (-n): what the kernel wrote is consistent on disk, not
# only as the kernel itself reads it back.
check_fsck() {
	local bin
	bin=$(fsck_bin)
	if [ -z "$bin" ] || [ ! -x "$bin" ]; then
		skip "$1" "no fsck.$FSTYPE"
		return 0
	fi
	check "$1" "$bin" -n -f "$DEV"
}

is_mounted() { [ -n "$1" ] && mountpoint -q "$1" 2>/dev/null; }

teardown() {
	if is_mounted "$MNT"; then
		umount "$MNT" || umount -l "$MNT"
	fi
	[ -z "$DEV" ] || detach "$DEV"
	[ -z "$IMG" ] || rm -f "$IMG"
	DEV=
	IMG=
}

# At exit nothing is left mounted or attached, whatever failed on the way.
lib_cleanup() {
	local dev
	teardown 2>/dev/null
	for dev in "${ATTACHED_DEVS[@]}"; do
		losetup -d "$dev" 2>/dev/null
	done
	[ -z "$OWN_SCRATCH" ] || rm -rf "$OWN_SCRATCH"
	[ -n "$OWN_SCRATCH" ] || rm -f "$CHECK_OUT"
}
trap lib_cleanup EXIT

# --- small utilities -------------------------------------------------------

# statfs fields of the mount: total, free, available blocks and the block
# size, then total and free inodes.
fs_blocks_total() { stat -f -c %b "$1"; }
fs_blocks_free() { stat -f -c %f "$1"; }
fs_blocks_avail() { stat -f -c %a "$1"; }
fs_block_size() { stat -f -c %S "$1"; }
fs_inodes_total() { stat -f -c %c "$1"; }
fs_inodes_free() { stat -f -c %d "$1"; }

now_ms() { date +%s%3N; }

# elapsed_since START_MS: seconds with one decimal, for timing lines.
elapsed_since() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

require_root() {
	[ "$(id -u)" = 0 ] || {
		echo "$TEST_NAME: must run as root (inside the guest: scripts/vm.sh -- $0)" >&2
		exit 2
	}
}
require_root

# The guest's /dev is a bare devtmpfs: without udev nobody made the links
# that bash process substitution and /dev/stdout users expect.
ensure_dev_links() {
	local i name
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd 2>/dev/null
	i=0
	for name in stdin stdout stderr; do
		[ -e /dev/$name ] || ln -s /proc/self/fd/$i /dev/$name 2>/dev/null
		i=$((i + 1))
	done
}
ensure_dev_links
echo "test-mark: $TEST_NAME start" >/dev/kmsg 2>/dev/null || true
