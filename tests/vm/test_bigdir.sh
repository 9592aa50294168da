#!/usr/bin/env bash
# One directory with 100,000 files: create, list, look up, remount, list
# again, delete everything. The names vary in length so that directory
# records of many sizes fill and free the blocks. Timings are printed for
# information only; nothing here asserts a speed.
. "$(dirname "$0")/lib.sh"

NFILES=${VEXFS_BIGDIR_FILES:-100000}
NAMES=$SCRATCH/names

# bigdir_py ACTION: the per-file loops, in python because a shell loop of
# 100,000 forks takes far too long under emulation. Prints its own timing.
bigdir_py() {
	python3 - "$1" "$DIR" "$NAMES" "$NFILES" <<'EOF'
import os, random, sys, time
action, d, names_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def names():
    with open(names_file) as f:
        return f.read().split("\n")[:-1]

def timed(label, count, fn):
    t = time.monotonic()
    fn()
    secs = time.monotonic() - t
    print("%s: %d in %.1f s (%.0f/s)" % (label, count, secs, count / secs if secs else 0))

def make_names():
    rng = random.Random(100000)
    out = []
    for i in range(n):
        # 1 to 60 extra characters: records of every size class
        out.append("f%06d-%s" % (i, "abcdefghij"[i % 10] * rng.randint(1, 60)))
    with open(names_file, "w") as f:
        f.write("".join(x + "\n" for x in out))

def create():
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
    for name in names():
        os.close(os.open(os.path.join(d, name), flags, 0o644))

def check_listing():
    want = names()
    t = time.monotonic()
    got = os.listdir(d)
    print("readdir: %d entries in %.1f s" % (len(got), time.monotonic() - t))
    if len(got) != len(set(got)):
        sys.exit("readdir returned %d duplicate names" % (len(got) - len(set(got))))
    missing, extra = set(want) - set(got), set(got) - set(want)
    if missing or extra:
        sys.exit("missing %d (e.g. %s), unexpected %d (e.g. %s)"
                 % (len(missing), sorted(missing)[:3], len(extra), sorted(extra)[:3]))

def lookups():
    want = names()
    rng = random.Random()
    sample = rng.sample(want, 50)
    t = time.monotonic()
    for name in sample:
        st = os.stat(os.path.join(d, name))
        if st.st_size != 0 or st.st_nlink != 1:
            sys.exit("%s: size %d nlink %d" % (name, st.st_size, st.st_nlink))
    for name in sample:
        try:
            os.stat(os.path.join(d, name + "-absent"))
            sys.exit("%s-absent exists" % name)
        except FileNotFoundError:
            pass
    print("stat: 50 present and 50 absent names in %.2f s" % (time.monotonic() - t))

def delete():
    for name in names():
        os.unlink(os.path.join(d, name))

if action == "names":
    make_names()
elif action == "create":
    timed("create", n, create)
elif action == "list":
    check_listing()
elif action == "lookup":
    lookups()
elif action == "delete":
    timed("unlink", n, delete)
EOF
}

# ---------------------------------------------------------------------------
section "mkfs and mount"
# The default inode density of a small image is too low for 100,000 files.
check "mkfs with $((NFILES + 1000)) inodes and mount" setup_vexfs 512M -N $((NFILES + 1000)) || {
	summary
	exit 1
}
DIR=$MNT/big
mkdir "$DIR"
bigdir_py names
INODES_FREE=$(fs_inodes_free "$MNT")

section "create $NFILES files in one directory"
START=$(now_ms)
check "create $NFILES empty files" bigdir_py create
cat "$CHECK_OUT"
log "create phase took $(elapsed_since "$START") s"
check_eq "ls | wc -l" "$NFILES" "$(ls "$DIR" | wc -l)"
check "readdir returns each name exactly once" bigdir_py list
cat "$CHECK_OUT"
check "stat random names, and absent ones fail" bigdir_py lookup
cat "$CHECK_OUT"
check_eq "free inodes dropped by $NFILES" $((INODES_FREE - NFILES)) "$(fs_inodes_free "$MNT")"

section "unmount and mount"
START=$(now_ms)
check "remount" remount
log "remount took $(elapsed_since "$START") s"
START=$(now_ms)
check_eq "ls | wc -l after the remount" "$NFILES" "$(ls "$DIR" | wc -l)"
log "first listing after the remount took $(elapsed_since "$START") s"
check "readdir after the remount returns each name once" bigdir_py list
cat "$CHECK_OUT"
check "remount again, to look names up cold" remount
check "stat random names after the remount" bigdir_py lookup
cat "$CHECK_OUT"

section "delete everything"
START=$(now_ms)
check "unlink all $NFILES files" bigdir_py delete
cat "$CHECK_OUT"
log "delete phase took $(elapsed_since "$START") s"
check_eq "the directory is empty" "" "$(ls -A "$DIR")"
check_eq "free inodes are back" "$INODES_FREE" "$(fs_inodes_free "$MNT")"
check "remount" remount
check_eq "still empty after the remount" "" "$(ls -A "$DIR")"
check "the emptied directory can be removed" rmdir "$DIR"
check "a new file in a new directory works" bash -c 'mkdir "$1/again" && touch "$1/again/f" && [ -e "$1/again/f" ]' _ "$MNT"

check "final unmount" umount "$MNT"
check_fsck "fsck finds the filesystem clean"
teardown
summary
