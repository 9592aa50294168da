#!/usr/bin/env bash
# Soak (tests/fuzz/soak.c): eight threads or more of mixed vector insert,
# batch insert, update, search, delete, rename and file I/O on one mount
# for a bounded time, with an index rebuilt and published under them;
# beside them three threads setting, deleting and reading the vectors of
# shared files through their hard links in three collections at once
# while the links move between collections and out and back, an indexer
# publishing and dropping indexes everywhere, and two unprivileged users
# (uids 1000 and 65534) with files of their own. Then every file and
# vector is checked against the models the threads kept (each
# collection's count, one slot per file, GET_VECTOR through every link),
# again after a remount, fsck.vexfs -n must be clean, the module must
# unload, and the slab caches must be back where they were before the
# module was loaded (no leak: kmemleak is not in the distribution kernel,
# so the object counts of /proc/slabinfo are compared).
#
#   VEXFS_SOAK_SECONDS  run time (30; make reliability: 600)
#   VEXFS_SOAK_THREADS  threads (8)
#   VEXFS_SOAK_SEED     seed (default: the time; printed)
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	skip "$TEST_NAME" "the soak drives vexfs ioctls, not $FSTYPE"
	summary
	exit
fi

SOAK=$REPO/build/fuzz/soak
SECONDS_=${VEXFS_SOAK_SECONDS:-30}
THREADS=${VEXFS_SOAK_THREADS:-8}
SEED=${VEXFS_SOAK_SEED:-$(date +%s)}
MODEL=$SCRATCH/soak.model
# A leak of one object per operation shows as tens of thousands of small
# objects even in a short run; caches that keep a few whole slabs of
# large objects after use show as a few dozen objects and some KiB.
SLAB_SLACK_OBJECTS=${VEXFS_SOAK_SLAB_SLACK_OBJECTS:-4096}
SLAB_SLACK_KIB=${VEXFS_SOAK_SLAB_SLACK_KIB:-1024}

[ -x "$SOAK" ] || {
	fail "soak is built" "$SOAK missing: run make on the host"
	summary
	exit 1
}

# Active objects and object size, per cache, with caches dropped first.
slab_snapshot() {
	local shrink
	sync
	echo 3 >/proc/sys/vm/drop_caches
	# A KASAN kernel keeps freed objects in quarantine, counted as active
	# until their cache is shrunk (harmless elsewhere).
	for shrink in /sys/kernel/slab/kmalloc*/shrink /sys/kernel/slab/vexfs*/shrink; do
		[ -w "$shrink" ] && echo 1 >"$shrink" 2>/dev/null || true
	done
	sleep 1
	awk 'NR > 2 { print $1, $2, $4 }' /proc/slabinfo | sort >"$1"
}

# slab_growth BEFORE AFTER: objects of at most 512 bytes and KiB in all
# that the kmalloc and vexfs caches grew by (the block layer's bio and
# buffer caches keep a loop device's spares), and on stderr the caches
# that grew, by bytes.
slab_growth() {
	join -a 2 -e 0 -o 0,1.2,2.2,2.3 "$1" "$2" |
		awk '$1 ~ /^(kmalloc|vexfs)/ {
			d = $3 - $2
			if (d <= 0) next
			if ($4 <= 512) small += d
			bytes += d * $4
			print d * $4, $1 > "/dev/stderr" }
			END { printf "%d %d\n", small, bytes / 1024 }'
}

section "soak: $THREADS threads for $SECONDS_ s (seed $SEED)"
if have_fs vexfs; then
	# The module was loaded by an earlier script of the run: unload it
	# for a baseline without it.
	rmmod vexfs 2>/dev/null || true
fi
# A short warm-up cycle first (load, mount, a few seconds of soak,
# unmount, unload), so that the slabs the caches keep once they have
# been used are in the baseline too, and only what the soak leaves
# behind shows.
warm_up() {
	setup_vexfs 64M && "$SOAK" run "$MNT" -s 3 -t "$THREADS" -S 1 >/dev/null &&
		teardown && rmmod vexfs
}
if have_fs vexfs; then
	skip "unload and slab baseline" "the module is held by something else and cannot be unloaded"
	BASELINE=
elif check "warm-up cycle: load, soak 3 s, unmount, unload" warm_up; then
	BASELINE=$SCRATCH/slab.before
	slab_snapshot "$BASELINE"
else
	BASELINE=
fi
check "make and mount a 512 MiB vexfs" setup_vexfs 512M
dmesg_mark "soak"

run_soak() {
	timeout -k 10 $((SECONDS_ + 900)) "$SOAK" run "$MNT" -s "$SECONDS_" -t "$THREADS" -S "$SEED" -m "$MODEL"
}
if check "soak, then every file and vector matches the models" run_soak; then
	grep -h '^soak:' "$CHECK_OUT"
else
	log "reproduce with VEXFS_SOAK_SEED=$SEED VEXFS_SOAK_SECONDS=$SECONDS_ VEXFS_SOAK_THREADS=$THREADS"
fi
check_no_oops "no oops or warning during the soak"
# Nothing here damages the image: a report of damage is the module
# misreading a healthy filesystem.
check_no_corruption_report "the module reported no damage on this healthy filesystem"

check "remount" remount
check "after the remount, every file and vector still matches" "$SOAK" verify "$MNT" -m "$MODEL"
check "unmount" umount "$MNT"
check_fsck "fsck.vexfs -n is clean after the soak"
detach "$DEV"
DEV=
rm -f "$IMG"
IMG=
if [ -n "$BASELINE" ]; then
	check "the module unloads" rmmod vexfs
	check_no_oops "no oops or warning at the unload (no objects left in its caches)"
	slab_snapshot "$SCRATCH/slab.after"
	read -r objects kib < <(slab_growth "$BASELINE" "$SCRATCH/slab.after" 2>"$SCRATCH/slab.growth")
	log "slab: +$objects small objects, +$kib KiB since before the module was loaded; most grown: $(sort -rn "$SCRATCH/slab.growth" | head -n 3 | awk '{ printf "%s +%d B; ", $2, $1 }')"
	check "small slab objects back to the baseline (+$objects, at most $SLAB_SLACK_OBJECTS)" \
		test "$objects" -le "$SLAB_SLACK_OBJECTS"
	check "slab bytes back to the baseline (+$kib KiB, at most $SLAB_SLACK_KIB)" \
		test "$kib" -le "$SLAB_SLACK_KIB"
fi
load_module
summary
