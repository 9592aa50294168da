#!/usr/bin/env bash
# Running out of space and out of inodes must be a clean error: ENOSPC to
# the caller, nothing lost of what was written before, a filesystem that
# works again once something is deleted, and that mounts again consistent.
. "$(dirname "$0")/lib.sh"

REF=$SCRATCH/ref
rm -rf "$REF"
mkdir -p "$REF"

# Files written before the disk fills; they must survive everything below.
write_keepers() {
	local i
	mkdir -p "$MNT/keep" || return 1
	for i in 1 2 3 4 5; do
		head -c $((i * 40000 + 123)) /dev/urandom >"$REF/keep$i"
		cp "$REF/keep$i" "$MNT/keep/keep$i" || return 1
	done
	sync
}

keepers_intact() {
	local i
	for i in 1 2 3 4 5; do
		cmp "$REF/keep$i" "$MNT/keep/keep$i" || return 1
	done
}

statfs_sane() {
	local total free avail
	total=$(fs_blocks_total "$MNT") free=$(fs_blocks_free "$MNT") avail=$(fs_blocks_avail "$MNT")
	echo "blocks total $total free $free avail $avail; inodes $(fs_inodes_total "$MNT") free $(fs_inodes_free "$MNT")"
	[ "$total" -gt 0 ] && [ "$free" -le "$total" ] && [ "$avail" -le "$free" ] &&
		[ "$(fs_inodes_free "$MNT")" -le "$(fs_inodes_total "$MNT")" ]
}

free_bytes() { sync; echo $(($(fs_blocks_free "$MNT") * $(fs_block_size "$MNT"))); }

# fill_with_small_files DIR: 4 KiB files until the first error, which must
# be ENOSPC; the content of each is its own name, so it can be checked.
fill_with_small_files() {
	python3 - "$1" <<'EOF'
import errno, os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
n = 0
while True:
    path = os.path.join(d, "s%05d" % n)
    try:
        with open(path, "wb") as f:
            f.write((path + "\n").encode().ljust(4096, b"."))
    except OSError as e:
        if e.errno != errno.ENOSPC:
            sys.exit("file %d: %s, expected ENOSPC" % (n, e))
        # The failed file may exist, possibly short; it is not counted.
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        break
    n += 1
    if n > 1000000:
        sys.exit("a 16 MiB filesystem never filled up")
print(n)
EOF
}

small_files_intact() {	# DIR COUNT
	python3 - "$1" "$2" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
names = sorted(os.listdir(d))
if len(names) != n:
    sys.exit("%d files, expected %d" % (len(names), n))
for name in names:
    path = os.path.join(d, name)
    with open(path, "rb") as f:
        if f.read() != (path + "\n").encode().ljust(4096, b"."):
            sys.exit(path + ": wrong content")
EOF
}

# ---------------------------------------------------------------------------
section "out of space on a 16 MiB filesystem"
check "mkfs and mount a 16 MiB image" setup_vexfs 16M || {
	summary
	exit 1
}
check "write five files before filling the disk" write_keepers
check "statfs is sane when empty" statfs_sane
FREE_EMPTY=$(free_bytes)
log "free: $FREE_EMPTY bytes"

expect_fail "dd until the disk is full fails with ENOSPC" -e 'No space left on device' \
	dd if=/dev/zero of="$MNT/fill" bs=64k
FILL_SIZE=$(stat -c %s "$MNT/fill")
log "dd wrote $FILL_SIZE bytes"
check "the fill file took most of the free space" test "$FILL_SIZE" -ge $((FREE_EMPTY * 8 / 10))
check "statfs is sane when full" statfs_sane
check "almost nothing is free (< 5%)" bash -c '[ $(( $(stat -f -c %f "$1") * 20 )) -le $(stat -f -c %b "$1") ]' _ "$MNT"
expect_fail "another 1 MiB write fails with ENOSPC" -e 'No space left on device' \
	dd if=/dev/zero of="$MNT/more" bs=64k count=16 conv=fsync
rm -f "$MNT/more"
check "the fill file reads back as zeros" cmp -n "$FILL_SIZE" "$MNT/fill" /dev/zero
check "files written before are intact" keepers_intact
check "sync and syncfs on a full filesystem work" bash -c 'sync && sync -f "$1"' _ "$MNT"

check "delete the fill file" rm "$MNT/fill"
check "free space comes back (within 64 KiB)" bash -c '[ "$1" -ge $(( $2 - 65536 )) ]' _ "$(free_bytes)" "$FREE_EMPTY"
check "writing works again" bash -c 'head -c 4194304 /dev/urandom >"$2/again" && cp "$2/again" "$1/again" && sync && cmp "$2/again" "$1/again"' _ "$MNT" "$REF"

check "fill the disk again, this time with 4 KiB files" fill_with_small_files "$MNT/small"
SMALL_COUNT=$(tail -n 1 "$CHECK_OUT")
log "$SMALL_COUNT small files fit"
check "statfs is sane when full of small files" statfs_sane
check "every small file reads back" small_files_intact "$MNT/small" "$SMALL_COUNT"

check "unmount and mount" remount
check "after the remount: files written before are intact" keepers_intact
check "after the remount: the 4 MiB file is intact" cmp "$REF/again" "$MNT/again"
check "after the remount: every small file is there and intact" small_files_intact "$MNT/small" "$SMALL_COUNT"
check "after the remount: statfs is sane" statfs_sane
check "delete the small files" rm -rf "$MNT/small"
check "free space comes back after the remount" bash -c '[ "$1" -ge $(( $2 - 4259840 )) ]' _ "$(free_bytes)" "$FREE_EMPTY"
check "unmount" umount "$MNT"
check_fsck "fsck finds the filled and emptied filesystem clean"
teardown

# ---------------------------------------------------------------------------
section "space freed and used at once, with a journal (128 MiB)"
# Blocks freed by a transaction not yet committed are not handed out
# until it commits (a crash could otherwise leave their old owner reading
# the new contents); a write or a create that finds nothing else free
# commits and tries again rather than failing.
reuse_at_once() {
	truncate -s -1M "$1/fill" &&
		head -c 524288 /dev/urandom >"$2/reuse" &&
		cp "$2/reuse" "$1/reuse" && mkdir "$1/reuse.d" &&
		cmp "$2/reuse" "$1/reuse" && rm -r "$1/reuse" "$1/reuse.d"
}

# The same for the vector calls that allocate (SET_VECTOR, BATCH_INSERT):
# a collection made while there is room, the disk filled again, then
# half a MiB freed before each call, with no sync between.
vectors_at_once() {
	local ctl=$REPO/build/bin/vexfsctl
	truncate -s -1M "$1/fill" && sync && mkdir "$1/vecs" &&
		"$ctl" collection create "$1/vecs" --dim 64 >/dev/null && touch "$1/vecs/one" &&
		python3 -c 'import struct, sys
with open(sys.argv[1], "wb") as f:
    for i in range(200):
        f.write(struct.pack("<i64f", 64, *[i + j / 64 for j in range(64)]))' "$2/v.fvecs" &&
		{ dd if=/dev/zero of="$1/fill2" bs=4k 2>/dev/null; sync; } &&
		truncate -s -512K "$1/fill" &&
		"$ctl" put "$1/vecs/one" --vector "$(seq -s, 64)" --id 7 &&
		truncate -s -512K "$1/fill" &&
		"$ctl" import "$1/vecs" "$2/v.fvecs" --id-start 1000 -q &&
		[ "$(ls "$1/vecs" | wc -l)" = 201 ] && "$ctl" get "$1/vecs/one" >/dev/null &&
		rm -r "$1/vecs" "$1/fill2"
}

check "mkfs and mount a 128 MiB image" setup_vexfs 128M || {
	summary
	exit 1
}
check "it has a journal, so frees wait for their commit" bash -c 'dmesg | tail -n 20 | grep -q "block journal"'
expect_fail "dd until the disk is full fails with ENOSPC" -e 'No space left on device' \
	dd if=/dev/zero of="$MNT/fill" bs=64k
check "sync the full filesystem" sync
check "on the full disk, space freed without a sync is written at once" reuse_at_once "$MNT" "$REF"
check "on the full disk, space freed without a sync takes vectors at once" vectors_at_once "$MNT" "$REF"

# A batch insert whose records need table blocks the full disk lacks
# fails whole, and leaves no record naming a file it took back: a run of
# records is written only once every block it needs is allocated.
batch_when_full() {
	local ctl=$REPO/build/bin/vexfsctl
	python3 -c 'import struct, sys
for name, rows in (("b12", 12), ("b60", 60)):
    with open(sys.argv[1] + "/" + name + ".fvecs", "wb") as f:
        for i in range(rows):
            f.write(struct.pack("<i64f", 64, *[i + j / 64 for j in range(64)]))' "$2" &&
		mkdir "$1/bt" && "$ctl" collection create "$1/bt" --dim 64 >/dev/null &&
		"$ctl" import "$1/bt" "$2/b12.fvecs" -q || return 1
	dd if=/dev/zero of="$1/fill4" bs=4k 2>/dev/null
	sync
	if "$ctl" import "$1/bt" "$2/b60.fvecs" --id-start 100 -q 2>"$2/batch.err"; then
		echo "a batch of 60 succeeded on a full disk"
		return 1
	fi
	grep 'No space left' "$2/batch.err" && [ "$(ls "$1/bt" | wc -l)" = 12 ] &&
		rm "$1/fill4"
}
check "a batch whose records need blocks the full disk lacks fails whole" batch_when_full "$MNT" "$REF"

# A 64-d record is 320 bytes: the table's first data block holds 12 and
# the 13th spans into a second block. With no block free, the 13th put
# must fail whole: its first part, which names its file, was once logged
# before the second block failed, and the table kept a record of a file
# with no vector (search found it after a remount; fsck repaired it).
straddle_when_full() {
	local ctl=$REPO/build/bin/vexfsctl i
	mkdir "$1/st" && "$ctl" collection create "$1/st" --dim 64 >/dev/null || return 1
	for i in $(seq 1 13); do
		touch "$1/st/f$i" || return 1
	done
	for i in $(seq 1 12); do
		"$ctl" put "$1/st/f$i" --vector "$(seq -s, 64)" >/dev/null || return 1
	done
	dd if=/dev/zero of="$1/fill3" bs=4k 2>/dev/null
	sync
	if "$ctl" put "$1/st/f13" --vector "$(seq -s, 64)" 2>"$2/put.err"; then
		echo "the 13th put succeeded on a full disk"
		return 1
	fi
	grep 'No space left' "$2/put.err"
}
check "a record that needs a block the full disk lacks fails with ENOSPC" straddle_when_full "$MNT" "$REF"
check "unmount after the failed record" umount "$MNT"
check_fsck "fsck finds no record of the file whose put failed"
check "mount again" mount_fs
check_eq "the collection holds the 12 vectors put" 12 \
	"$("$REPO/build/bin/vexfsctl" --json collection info "$MNT/st" | python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])')"
check_eq "the collection of the failed batch holds its first 12 vectors" 12 \
	"$("$REPO/build/bin/vexfsctl" --json collection info "$MNT/bt" | python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])')"
expect_fail "the file whose put failed has no vector" -e 'no vector' \
	"$REPO/build/bin/vexfsctl" get "$MNT/st/f13"
check "remove the collection and the filler" rm -r "$MNT/st" "$MNT/fill3"

check "delete the fill file" rm "$MNT/fill"
check "unmount" umount "$MNT"
check_fsck "fsck finds the journalled filesystem clean"
teardown

# ---------------------------------------------------------------------------
section "out of inodes (mkfs -N 64)"
check "mkfs -N 64 and mount" setup_vexfs 16M -N 64 || {
	summary
	exit 1
}
INODES_TOTAL=$(fs_inodes_total "$MNT")
INODES_FREE=$(fs_inodes_free "$MNT")
log "inodes: $INODES_TOTAL total, $INODES_FREE free"
check "statfs counts about 64 inodes" test "$INODES_TOTAL" -ge 60 -a "$INODES_TOTAL" -le 256

create_until_enospc() {
	python3 - "$MNT/many" <<'EOF'
import errno, os, sys
d = sys.argv[1]
os.mkdir(d)
n = 0
while True:
    try:
        with open(os.path.join(d, "f%03d" % n), "x") as f:
            f.write("file %d\n" % n)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            sys.exit("file %d: %s, expected ENOSPC" % (n, e))
        break
    n += 1
    if n > 100000:
        sys.exit("inodes never ran out")
print(n)
EOF
}
check "create files until ENOSPC" create_until_enospc
MANY=$(tail -n 1 "$CHECK_OUT")
log "$MANY files created (the directory used one more inode)"
check_eq "as many files as statfs had free inodes, less the directory" $((INODES_FREE - 1)) "$MANY"
check_eq "statfs shows no free inode" 0 "$(fs_inodes_free "$MNT")"
expect_fail "mkdir fails with ENOSPC" -e 'No space left on device' mkdir "$MNT/dir"
expect_fail "symlink fails with ENOSPC" -e 'No space left on device' ln -s target "$MNT/link"
expect_fail "mknod fails with ENOSPC" -e 'No space left on device' mkfifo "$MNT/fifo"
check "a hard link still works (no new inode)" ln "$MNT/many/f000" "$MNT/hardlink"
check "writing data into existing files still works" bash -c 'head -c 100000 /dev/urandom >"$2/data" && cp "$2/data" "$1/many/f001" && cmp "$2/data" "$1/many/f001"' _ "$MNT" "$REF"
check "delete one file, create one: works" bash -c 'rm "$1/many/f002" && echo new >"$1/many/new" && [ "$(cat "$1/many/new")" = new ]' _ "$MNT"
(cd "$MNT" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$SCRATCH/sums"
check "unmount and mount" remount
check_eq "after the remount: file count" "$MANY" "$(ls "$MNT/many" | wc -l)"
check "after the remount: every checksum matches" bash -c 'cd "$1" && sha256sum --quiet -c "$2"' _ "$MNT" "$SCRATCH/sums"
check_eq "after the remount: no free inode" 0 "$(fs_inodes_free "$MNT")"
check_eq "after the remount: the hard link has 2 links" 2 "$(stat -c %h "$MNT/hardlink")"
check "free every inode" rm -rf "$MNT/many" "$MNT/hardlink"
check_eq "all inodes free again" "$INODES_FREE" "$(fs_inodes_free "$MNT")"
check "a new directory works" bash -c 'mkdir "$1/dir" && touch "$1/dir/f"' _ "$MNT"

check "final unmount" umount "$MNT"
check_fsck "fsck finds the inode-exhausted filesystem clean"
teardown
summary
