#!/usr/bin/env bash
# Soak (tests/fuzz/soak.c): eight threads or more of mixed vector insert,
# batch insert, update, search, delete, rename and file I/O on one mount
# for a bounded time, with an index rebuilt and published under them;
# then every file and vector is checked against the models the threads
# kept, again after a remount, fsck.vexfs -n must be clean, the module
# must unload, and the slab caches must be back where they were before the
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

SOAK=$REPO/tests/fuzz/soak
SECONDS_=${VEXFS_SOAK_SECONDS:-30}
THREADS=${VEXFS_SOAK_THREADS:-8}
SEED=${VEXFS_SOAK_SEED:-$(date +%s)}
MODEL=$SCRATCH/soak.model
# A leak of one small object per operation over a short run is a few
# hundred KiB; what other activity in the guest moves is far less.
SLAB_SLACK_KIB=${VEXFS_SOAK_SLAB_SLACK_KIB:-192}

[ -x "$SOAK" ] || {
	fail "soak is built" "$SOAK missing: run make on the host"
	summary
	exit 1
}

# Active objects times object size, per cache, with caches dropped first.
slab_snapshot() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
	awk 'NR > 2 { printf "%s %d\n", $1, $2 * $4 }' /proc/slabinfo | sort >"$1"
}

# slab_growth BEFORE AFTER: KiB the kmalloc and vexfs caches grew by (the
# block layer's bio and buffer caches keep a loop device's spares), and
# the caches that grew most.
slab_growth() {
	join -a 2 -e 0 -o 0,1.2,2.2 "$1" "$2" |
		awk '$1 ~ /^(kmalloc|vexfs)/ {
			d = $3 - $2; if (d > 0) { total += d; print d, $1 > "/dev/stderr" } }
			END { printf "%d\n", total / 1024 }'
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
	skip "slab baseline" "the module is in use and cannot be unloaded first"
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

check "remount" remount
check "after the remount, every file and vector still matches" "$SOAK" verify "$MNT" -m "$MODEL"
check "unmount" umount "$MNT"
check_fsck "fsck.vexfs -n is clean after the soak"
detach "$DEV"
DEV=
rm -f "$IMG"
IMG=
check "the module unloads" rmmod vexfs
check_no_oops "no oops or warning at the unload (no objects left in its caches)"

if [ -n "$BASELINE" ]; then
	slab_snapshot "$SCRATCH/slab.after"
	growth=$(slab_growth "$BASELINE" "$SCRATCH/slab.after" 2>"$SCRATCH/slab.growth")
	log "slab: +$growth KiB since before the module was loaded; most grown: $(sort -rn "$SCRATCH/slab.growth" | head -n 3 | awk '{ printf "%s +%d B; ", $2, $1 }')"
	check "slab caches back to the baseline (+$growth KiB, at most $SLAB_SLACK_KIB)" \
		test "$growth" -le "$SLAB_SLACK_KIB"
fi
load_module
summary
