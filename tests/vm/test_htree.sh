#!/usr/bin/env bash
# Hashed directories: a directory that outgrows one block gets its name
# index on disk (a hash tree, kmod/htree.c). Names are checked against a
# model after every kind of change (create, unlink, rename within and
# across directories, rename over a name, hard links), space freed by
# deletes is used again, the tree survives remounts and checks clean with
# fsck.vexfs, and a damaged tree is met with EUCLEAN, never a crash or a
# loop, and rebuilt by fsck.vexfs -y.
. "$(dirname "$0")/lib.sh"

HTREE_IMAGE=$TESTS_DIR/htree_image.py
MODEL=$SCRATCH/model

# names ACTION ARGS...: the per-name loops and the model (the set of names
# the directory should hold, kept in $MODEL), in python for speed.
names() {
	python3 - "$MODEL" "$@" <<'EOF'
import errno, os, random, sys
model_file, action, d = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]

def load():
    try:
        with open(model_file) as f:
            return set(f.read().split("\n")[:-1])
    except FileNotFoundError:
        return set()

def save(names):
    with open(model_file, "w") as f:
        f.write("".join(n + "\n" for n in sorted(names)))

def name(i):
    # 1 to 80 bytes past the number: records of every size class
    return "n%06d-%s" % (i, "xyz"[i % 3] * (1 + (i * 7919) % 80))

model = load()
if action == "create":
    first, count = int(args[0]), int(args[1])
    for i in range(first, first + count):
        fd = os.open(os.path.join(d, name(i)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        model.add(name(i))
    save(model)
elif action == "exists-fails":
    for n in random.Random(1).sample(sorted(model), 20):
        try:
            os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            sys.exit("%s created twice" % n)
        except FileExistsError:
            pass
elif action == "verify":
    got = os.listdir(d)
    if len(got) != len(set(got)):
        sys.exit("readdir repeats %d names" % (len(got) - len(set(got))))
    missing, extra = model - set(got), set(got) - model
    if missing or extra:
        sys.exit("readdir: missing %d %s, unexpected %d %s"
                 % (len(missing), sorted(missing)[:3], len(extra), sorted(extra)[:3]))
    for n in model:
        os.lstat(os.path.join(d, n))
    for n in random.Random(2).sample(sorted(model), min(200, len(model))):
        try:
            os.lstat(os.path.join(d, n + "-absent"))
            sys.exit("%s-absent found" % n)
        except FileNotFoundError:
            pass
    print("%d names, each found by readdir and by lookup" % len(model))
elif action == "unlink-every":
    step = int(args[0])
    for n in sorted(model)[::step]:
        os.unlink(os.path.join(d, n))
        model.discard(n)
    save(model)
elif action == "rename-within":
    rng = random.Random(3)
    for n in rng.sample(sorted(model), 300):
        new = "r-" + n
        os.rename(os.path.join(d, n), os.path.join(d, new))
        model.discard(n)
        model.add(new)
    save(model)
elif action == "rename-over":
    rng = random.Random(4)
    pick = rng.sample(sorted(model), 200)
    for a, b in zip(pick[::2], pick[1::2]):
        os.rename(os.path.join(d, a), os.path.join(d, b))
        model.discard(a)
    save(model)
elif action == "move-out-and-back":
    other = args[0]
    rng = random.Random(5)
    pick = rng.sample(sorted(model), 150)
    for n in pick:
        os.rename(os.path.join(d, n), os.path.join(other, n))
    for n in pick[:75]:
        os.rename(os.path.join(other, n), os.path.join(d, n))
    model -= set(pick[75:])
    save(model)
elif action == "links":
    rng = random.Random(6)
    for n in rng.sample(sorted(model), 100):
        os.link(os.path.join(d, n), os.path.join(d, "l-" + n))
        model.add("l-" + n)
    save(model)
elif action == "outcomes":
    # lstat of every name and of as many absent ones: the set of
    # outcomes, errno names or OK (ENOENT expected for the absent)
    seen = set()
    for n in sorted(model):
        for path, want in ((n, "OK"), (n + "-absent", "ENOENT")):
            try:
                os.lstat(os.path.join(d, path))
                seen.add("OK" if want == "OK" else "FOUND-ABSENT")
            except OSError as e:
                got = errno.errorcode[e.errno]
                seen.add("OK" if got == want else got)
    print(" ".join(sorted(seen)))
elif action == "unlink-all":
    for n in sorted(model):
        os.unlink(os.path.join(d, n))
    save(set())
else:
    sys.exit("unknown action " + action)
EOF
}

fsck_out() { "$(fsck_bin)" "$@" "$DEV"; }

hashed_dirs() {	# the count fsck.vexfs -v gives, the filesystem unmounted
	fsck_out -n -f -v 2>/dev/null | awk '/hashed directories/ { print $1 }'
}

create_errno() {	# PATH: the errno name of a create of PATH, or OK
	python3 -c 'import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY)); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$1"
}

# ---------------------------------------------------------------------------
section "a directory gets its hash tree"
check "mkfs and mount" setup_vexfs 128M -N 20000 || {
	summary
	exit 1
}
D=$MNT/d
mkdir "$D" "$MNT/small"
INO=$(stat -c %i "$D")
check "40 names: one block, no tree yet" names create "$D" 0 40
check "umount" umount "$MNT"
check_eq "fsck: no hashed directory" 0 "$(hashed_dirs)"
check "mount" mount_fs
check "6,000 more names" names create "$D" 40 6000
check "umount" umount "$MNT"
check_eq "fsck: one hashed directory" 1 "$(hashed_dirs)"
check_fsck "fsck finds it clean"
check "its tree has a head and nodes" bash -c '[ "$(python3 "$1" show "$2" "$3" | wc -l)" -gt 3 ]' _ \
	"$HTREE_IMAGE" "$IMG" "$INO"
check "mount" mount_fs
check "every name found by readdir and by lookup after the remount" names verify "$D"
cat "$CHECK_OUT"
check "O_EXCL on existing names fails with EEXIST" names exists-fails "$D"

section "names that are ids"
# Decimal names below 2^32 are their own keys: a run of them shares
# leaves. Names next to that rule (a leading zero, 2^32) are hashed.
ids_check() {
	python3 - "$MNT/ids" <<'EOF'
import os, sys
d = sys.argv[1]
names = [str(i) for i in range(4000)] + ["007", "0", "4294967295", "4294967296",
                                         "18446744073709551615", "12a", "-5"]
names = sorted(set(names))
for n in names:
    os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
gone = set(names[::3]) - {"1", "10", "3998", "4294967295", "4294967296", "007"}
for n in gone:
    os.unlink(os.path.join(d, n))
left = set(names) - gone
if set(os.listdir(d)) != left:
    sys.exit("readdir does not match")
for n in left:
    os.lstat(os.path.join(d, n))
for n in sorted(gone) + ["4000", "0007", "4294967297"]:
    try:
        os.lstat(os.path.join(d, n))
        sys.exit("%s found" % n)
    except FileNotFoundError:
        pass
print("%d names found, %d absent ones not" % (len(left), len(gone) + 3))
EOF
}
mkdir "$MNT/ids"
check "4,000 ids and names next to the rule: created, a third unlinked, each found" ids_check
cat "$CHECK_OUT"
check "remount" remount
check "ids found after the remount" bash -c 'for n in 1 10 3998 4294967295 4294967296 007; do [ -e "$1/$n" ] || exit 1; done' _ "$MNT/ids"
check "umount" umount "$MNT"
check_fsck "fsck finds it clean"
check "mount" mount_fs

section "changes, checked against the model"
check "unlink every third name" names unlink-every "$D" 3
check "rename 300 names within the directory" names rename-within "$D"
check "rename 100 names over others" names rename-over "$D"
check "move 150 names to a small directory, 75 back" names move-out-and-back "$D" "$MNT/small"
check "100 hard links" names links "$D"
check "the model holds after the changes" names verify "$D"
check "remount" remount
check "and after a remount" names verify "$D"
check "umount" umount "$MNT"
check_fsck "fsck finds it clean after the changes"
check "mount" mount_fs

section "space freed by deletes is used again"
SIZE_BEFORE=$(stat -c %s "$D")
check "unlink every second name" names unlink-every "$D" 2
check "create as many new names as were freed" names create "$D" 100000 1500
check "the model holds" names verify "$D"
SIZE_AFTER=$(stat -c %s "$D")
check "the directory did not grow ($SIZE_BEFORE -> $SIZE_AFTER bytes)" \
	test "$SIZE_AFTER" -le "$SIZE_BEFORE"
check "rmdir of the full directory fails with ENOTEMPTY" \
	bash -c 'rmdir "$1" 2>&1 | grep -q "not empty"' _ "$D"
check "umount" umount "$MNT"
check_fsck "fsck finds it clean"
cp "$IMG" "$SCRATCH/sound.img"

# damaged IMAGE-COPY WHAT: mount a copy of the sound image with its tree
# damaged; a lookup must fail with EUCLEAN and a report, not crash.
damaged() {
	cp "$SCRATCH/sound.img" "$IMG" && python3 "$HTREE_IMAGE" damage "$IMG" "$INO" "$1"
}

section "a damaged tree"
for what in root-range loop unsorted; do
	check "damage: $what" damaged "$what"
	dmesg_mark
	check "mount" mount_fs
	# Names the damage lies on the way to fail; the others are found.
	outcomes=$(names outcomes "$D")
	check "$what: lookups give EUCLEAN or find the name ($outcomes)" \
		bash -c '[[ " $1 " == *" EUCLEAN "* ]] && [ -z "$(echo $1 | tr " " "\n" | grep -vx -e OK -e EUCLEAN)" ]' _ "$outcomes"
	[ "$what" != root-range ] ||
		check_eq "$what: a create fails with EUCLEAN" EUCLEAN "$(create_errno "$D/new-name")"
	check_kmsg "$what: the module reports the damage" "corrupted"
	check "umount" umount "$MNT"
	check "fsck -n reports the tree" bash -c '! "$1" -n -f "$2" >"$3" 2>&1 && grep -q "hash tree" "$3"' \
		_ "$(fsck_bin)" "$DEV" "$SCRATCH/fsck.out"
	check "fsck -y rebuilds it" bash -c '"$1" -y -f "$2"; [ $? -eq 1 ]' _ "$(fsck_bin)" "$DEV"
	check_fsck "$what: fsck -n finds it clean after"
	check "mount" mount_fs
	check "$what: every name found again" names verify "$D"
	check "umount" umount "$MNT"
done

section "a stale tree: a name the tree lost"
check "drop a pair" damaged drop-pair
check "fsck -y rebuilds it" bash -c '"$1" -y -f "$2" >"$3" 2>&1; [ $? -eq 1 ] && grep -q "one pair per entry" "$3"' \
	_ "$(fsck_bin)" "$DEV" "$SCRATCH/fsck.out"
check_fsck "fsck -n finds it clean after"
check "mount" mount_fs
check "every name found again" names verify "$D"

section "emptied and removed"
check "unlink every name" names unlink-all "$D"
check_eq "the directory lists empty" "" "$(ls -A "$D")"
check "rmdir" rmdir "$D"
check "umount" umount "$MNT"
check_fsck "fsck finds it clean"
check_no_oops "no oops or warning"
teardown
summary
