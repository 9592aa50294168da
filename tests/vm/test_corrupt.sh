#!/usr/bin/env bash
# Images the module must refuse, each with a reason in the kernel log and
# never an oops: not VexFS at all, a damaged or too-new superblock, a
# geometry that does not fit the device, a corrupted inode. Then a fuzz
# loop over the metadata of a populated image, which reads everything
# and then makes a few changes (VEXFS_FUZZ_WRITES=0: reads only), where
# any outcome but an oops or a hang is acceptable (scripts/vm.sh turns an
# oops into a failed run; this script also looks for one after every case).
#
# The images are VexFS-specific, so with VEXFS_TEST_FSTYPE set to another
# filesystem there is nothing to run.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	skip "$TEST_NAME" "corruption cases are specific to vexfs, not $FSTYPE"
	summary
	exit
fi

SBEDIT=$TESTS_DIR/sbedit.py
FUZZ_ROUNDS=${VEXFS_FUZZ_ROUNDS:-50}
FUZZ_SEED=${VEXFS_FUZZ_SEED:-$(date +%s)}
FUZZ_WRITES=${VEXFS_FUZZ_WRITES:-1}	# 0: only read the damaged filesystems
MNT=$SCRATCH/mnt
IMGDIR=$SCRATCH/images
rm -rf "$IMGDIR"
mkdir -p "$MNT" "$IMGDIR"

sb_get() { "$SBEDIT" "$1" get "$2"; }

fresh_image() {	# IMG SIZE
	rm -f "$1"
	truncate -s "$2" "$1" && "$(mkfs_vexfs_bin)" -q -f "$1" >/dev/null
}

flip_byte() {	# IMG OFFSET: invert every bit of one byte
	python3 - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

mount_image() {	# IMG [OPTS]: sets DEV; mounts at $MNT
	DEV=$(attach "$1") || return 1
	mount -t vexfs ${2:+-o "$2"} "$DEV" "$MNT"
}

release_image() {
	is_mounted "$MNT" && umount "$MNT"
	[ -z "$DEV" ] || detach "$DEV"
	DEV=
}

# refuse NAME IMG KMSG_REGEX [MOUNT_OPTS]: the mount must fail, the kernel
# must say why (a "vexfs:" line matching the regex), and must not oops.
refuse() {
	local name=$1 img=$2 why=$3 opts=${4:-}
	dmesg_mark "$name"
	DEV=$(attach "$img") || { fail "$name" "losetup failed"; return; }
	# -w: mount(8) would otherwise retry read-only after a refused
	# read-write mount, and the retry's success would hide the refusal.
	expect_fail "$name: mount is refused" mount -w -t vexfs ${opts:+-o "$opts"} "$DEV" "$MNT"
	check_kmsg "$name: the kernel log says why" "vexfs: .*($why)"
	check_no_oops "$name: no oops"
	release_image
}

# ---------------------------------------------------------------------------
section "images that are not VexFS"
load_module || {
	fail "load the module" "insmod failed"
	summary
	exit 1
}
grep -qw vexfs /proc/filesystems && pass "the module is loaded"

truncate -s 16M "$IMGDIR/zero.img"
refuse "zero-filled image" "$IMGDIR/zero.img" 'no VexFS superblock|magic'

truncate -s 16M "$IMGDIR/ext4.img"
mkfs.ext4 -q -F "$IMGDIR/ext4.img"
refuse "ext4 image" "$IMGDIR/ext4.img" 'no VexFS superblock|magic'

# mkfs(8) finds mkfs.vexfs in /sbin, or on PATH (the guest's has build/bin).
mkfs_t_vexfs() {
	truncate -s 16M "$IMGDIR/mkfs-t.img" && mkfs -t vexfs -q "$IMGDIR/mkfs-t.img" &&
		mount_image "$IMGDIR/mkfs-t.img" && touch "$MNT/works"
}
if command -v mkfs.vexfs >/dev/null; then
	check "mkfs -t vexfs makes a mountable filesystem" mkfs_t_vexfs
	release_image
else
	skip "mkfs -t vexfs" "no mkfs.vexfs on PATH or in /sbin"
fi

# ---------------------------------------------------------------------------
section "damaged superblocks"
check "mkfs a 16 MiB reference image" fresh_image "$IMGDIR/good.img" 16M
check "the reference superblock checksum is valid" "$SBEDIT" "$IMGDIR/good.img" check-csum
check "the reference image mounts" mount_image "$IMGDIR/good.img"
release_image

variant() {	# NAME: a copy of the reference image to damage
	cp "$IMGDIR/good.img" "$IMGDIR/$1.img"
	echo "$IMGDIR/$1.img"
}

img=$(variant label-flip)
flip_byte "$img" $(($("$SBEDIT" x offset s_label) + 3))
refuse "flipped byte in the label" "$img" 'checksum'

img=$(variant reserved-flip)
flip_byte "$img" 500
refuse "flipped byte in the reserved tail" "$img" 'checksum'

img=$(variant free-blocks-flip)
flip_byte "$img" "$("$SBEDIT" x offset s_free_blocks)"
refuse "flipped byte in s_free_blocks" "$img" 'checksum'

img=$(variant magic-flip)
flip_byte "$img" 0
refuse "flipped byte in the magic" "$img" 'no VexFS superblock|magic'

img=$(variant incompat)
"$SBEDIT" "$img" set s_feature_incompat $(($(sb_get "$img" s_feature_incompat) | (1 << 63)))
check "incompat bit 63 set with a valid checksum" "$SBEDIT" "$img" check-csum
refuse "unknown incompat feature bit 63" "$img" 'incompat|unknown'

img=$(variant incompat-low)
"$SBEDIT" "$img" set s_feature_incompat $(($(sb_get "$img" s_feature_incompat) | (1 << 5)))
refuse "unknown incompat feature bit 5" "$img" 'incompat|unknown'

img=$(variant no-extents)
"$SBEDIT" "$img" set s_feature_incompat 0
refuse "incompat extents bit cleared" "$img" 'extent'

img=$(variant version)
"$SBEDIT" "$img" set s_format_version 2
refuse "format version 2" "$img" 'version'

img=$(variant blockshift)
"$SBEDIT" "$img" set s_block_shift 13
refuse "block shift 13 (8 KiB blocks)" "$img" 'version|block'

# An unknown ro_compat feature: read-only is allowed, read-write is not.
img=$(variant rocompat)
"$SBEDIT" "$img" set s_feature_ro_compat '1<<40'
refuse "unknown ro_compat feature, read-write" "$img" 'read-only|ro_compat|features'
dmesg_mark rocompat-ro
check "unknown ro_compat feature: a read-only mount works" mount_image "$img" ro
check "and reads the root directory" ls -la "$MNT"
check_no_oops "unknown ro_compat feature, read-only: no oops"
release_image

img=$(variant compat)
"$SBEDIT" "$img" set s_feature_compat '1<<40'
dmesg_mark compat
check "an unknown compat feature is ignored: mounts" mount_image "$img"
check "and works" bash -c 'echo x >"$1/f" && [ "$(cat "$1/f")" = x ]' _ "$MNT"
check_no_oops "unknown compat feature: no oops"
release_image

# ---------------------------------------------------------------------------
section "geometry that does not fit"
img=$(variant too-many-blocks)
"$SBEDIT" "$img" set s_blocks_count $(($(sb_get "$img" s_blocks_count) + 1024))
refuse "s_blocks_count larger than the device" "$img" 'blocks but the device|device|geometry'

img=$(variant data-start)
"$SBEDIT" "$img" set s_data_start 2
refuse "s_data_start inside the inode table" "$img" 'geometry|inconsistent'

img=$(variant inode-table)
"$SBEDIT" "$img" set s_inode_table_blocks 1
refuse "inode table too small for s_inodes_count" "$img" 'geometry|inconsistent|inode'

img=$(variant bitmap)
"$SBEDIT" "$img" set s_block_bitmap_start "$(sb_get "$img" s_blocks_count)"
refuse "block bitmap beyond the end" "$img" 'geometry|inconsistent|bitmap|device'

img=$(variant root-ino)
"$SBEDIT" "$img" set s_root_ino 7
refuse "s_root_ino is not 1" "$img" 'root'

fresh_image "$IMGDIR/big.img" 32M
truncate -s 16M "$IMGDIR/big.img"
refuse "image truncated to half" "$IMGDIR/big.img" 'blocks but the device|device|geometry'

fresh_image "$IMGDIR/tiny.img" 16M
truncate -s 4096 "$IMGDIR/tiny.img"
refuse "image truncated to its superblock" "$IMGDIR/tiny.img" 'blocks but the device|device|geometry|read'

fresh_image "$IMGDIR/stub.img" 16M
truncate -s 2048 "$IMGDIR/stub.img"
refuse "image shorter than one block" "$IMGDIR/stub.img" 'superblock|read|device|block'

# ---------------------------------------------------------------------------
section "corrupted inodes"
inode_offset() {	# IMG INO
	echo $(($(sb_get "$1" s_inode_table_start) * 4096 + $2 * 256))
}

# rejected_or_eio NAME IMG PATH: the mount fails, or accessing PATH gives an
# I/O error or "structure needs cleaning"; either way with a vexfs message.
rejected_or_eio() {
	local name=$1 img=$2 path=$3
	dmesg_mark "$name"
	if mount_image "$img" 2>"$CHECK_OUT"; then
		expect_fail "$name: access fails with EIO or EUCLEAN" \
			-e 'Input/output error|Structure needs cleaning' ls -l "$MNT/$path"
	else
		pass "$name: mount refused"
	fi
	check_kmsg "$name: the kernel log says why" 'vexfs: '
	check_no_oops "$name: no oops"
	release_image
}

img=$(variant root-inode)
flip_byte "$img" $(($(inode_offset "$img" 1) + 16))
rejected_or_eio "root inode with a flipped size byte" "$img" .

img=$(variant root-inode-mode)
flip_byte "$img" "$(inode_offset "$img" 1)"
rejected_or_eio "root inode with a flipped mode byte" "$img" .

# The same, behind a valid checksum: the contents themselves must be checked.
img=$(variant root-not-dir)
python3 - "$img" "$(inode_offset "$img" 1)" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    f.write((0o100644).to_bytes(2, "little"))     # S_IFREG: root is a file now
EOF
"$SBEDIT" "$img" inode-csum 1 fix >/dev/null
rejected_or_eio "root inode is a regular file (valid checksum)" "$img" .

# A file's inode: the mount works, the file gives an error, the rest reads.
victim_image() {
	fresh_image "$IMGDIR/victim.img" 16M && mount_image "$IMGDIR/victim.img" || return 1
	echo "bystander" >"$MNT/bystander"
	echo "victim" >"$MNT/victim"
	stat -c %i "$MNT/victim" >"$IMGDIR/victim.ino"
	release_image
}
check "make an image with a victim file" victim_image
VICTIM_INO=$(cat "$IMGDIR/victim.ino")
flip_byte "$IMGDIR/victim.img" $(($(inode_offset "$IMGDIR/victim.img" "$VICTIM_INO") + 20))
dmesg_mark victim
check "a corrupted file inode does not stop the mount" mount_image "$IMGDIR/victim.img"
expect_fail "the corrupted file gives EIO or EUCLEAN" -e 'Input/output error|Structure needs cleaning' cat "$MNT/victim"
check "other files still read" bash -c '[ "$(cat "$1/bystander")" = bystander ]' _ "$MNT"
check_kmsg "the kernel log names the corruption" 'vexfs: '
check "the filesystem still unmounts" umount "$MNT"
check_no_oops "corrupted file inode: no oops"
release_image

# set_links IMG INO COUNT: writes i_nlink behind a valid checksum.
set_links() {
	python3 - "$1" "$(inode_offset "$1" "$2")" "$3" "$TESTS_DIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[4])
import sbedit
path, off, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
layout = sbedit.struct_layout("vexfs_inode", sbedit.INODE_SIZE)
with open(path, "r+b") as f:
    f.seek(off + sbedit.find_field(layout, "i_nlink")[1])
    f.write(count.to_bytes(4, "little"))
EOF
	"$SBEDIT" "$1" inode-csum "$2" fix >/dev/null
}

# Two names, one link counted: the first unlink takes the count to zero,
# and the second name must then be refused, not drop it below zero.
linked_image() {
	fresh_image "$IMGDIR/linked.img" 16M && mount_image "$IMGDIR/linked.img" || return 1
	echo "shared" >"$MNT/one"
	ln "$MNT/one" "$MNT/two"
	echo "other" >"$MNT/other"
	stat -c %i "$MNT/one" >"$IMGDIR/linked.ino"
	release_image
}
check "make an image with a file of two names" linked_image
LINKED_INO=$(cat "$IMGDIR/linked.ino")
cp "$IMGDIR/linked.img" "$IMGDIR/undercount.img"
set_links "$IMGDIR/undercount.img" "$LINKED_INO" 1
dmesg_mark undercount
check "two names with one link counted: the mount works" mount_image "$IMGDIR/undercount.img"
# Both names looked up, so that the inode stays cached after the first goes.
check "both names lead to the file" stat "$MNT/one" "$MNT/two"
check "the first name unlinks" rm "$MNT/one"
expect_fail "renaming over the second name is refused" -e 'Structure needs cleaning' \
	mv "$MNT/other" "$MNT/two"
expect_fail "unlinking the second name is refused" -e 'Structure needs cleaning' rm "$MNT/two"
check_kmsg "the kernel log names the inode" "vexfs: .*inode $LINKED_INO has a name but no links"
check "the filesystem still unmounts" umount "$MNT"
check_no_oops "two names, one link: no oops"
release_image

# A count near U32_MAX would wrap on the next link.
cp "$IMGDIR/linked.img" "$IMGDIR/overcount.img"
set_links "$IMGDIR/overcount.img" "$LINKED_INO" 4294967295
rejected_or_eio "a file with 2^32-1 links" "$IMGDIR/overcount.img" one

# A directory entry naming a collection's vector table: opened by that
# name, a vector set on it waited forever for the table's lock.
hidden_image() {
	fresh_image "$IMGDIR/hidden.img" 16M && mount_image "$IMGDIR/hidden.img" || return 1
	mkdir "$MNT/c" && "$REPO/build/bin/vexfsctl" collection create "$MNT/c" --dim 4 >/dev/null &&
	"$REPO/build/bin/vexfsctl" put "$MNT/c/name-of-the-table" --vector 1,2,3,4 >/dev/null &&
	stat -c %i "$MNT/c" >"$IMGDIR/hidden.dir" || return 1
	release_image
}
# point_at_table IMG DIR: the entry "name-of-the-table" names DIR's table.
point_at_table() {
	python3 - "$1" "$2" "$TESTS_DIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
import sbedit
path, dino = sys.argv[1], int(sys.argv[2])
sb = sbedit.load(path)
inode = sbedit.struct_layout("vexfs_inode", sbedit.INODE_SIZE)
with open(path, "r+b") as f:
    _, off, size, _ = sbedit.find_field(inode, "i_aux")
    f.seek(sbedit.inode_position(sb, dino) + off)
    table = int.from_bytes(f.read(size), "little")
    f.seek(0)
    data = f.read()
    at = data.index(b"name-of-the-table") - 16          # the record's header
    f.seek(at)
    f.write(table.to_bytes(8, "little"))
    assert sbedit.fix_block_checksum(f, at // sbedit.BLOCK_SIZE)
print(table)
EOF
}
check "make an image with a file in a collection" hidden_image
TABLE_INO=$(point_at_table "$IMGDIR/hidden.img" "$(cat "$IMGDIR/hidden.dir")")
dmesg_mark hidden
check "an entry naming a vector table: the mount works" mount_image "$IMGDIR/hidden.img"
expect_fail "the name gives EUCLEAN" -e 'Structure needs cleaning' \
	"$REPO/build/bin/vexfsctl" put "$MNT/c/name-of-the-table" --vector 4,3,2,1
check_kmsg "the kernel log names the hidden inode" "vexfs: .*names hidden inode $TABLE_INO"
check "the collection still answers" "$REPO/build/bin/vexfsctl" search "$MNT/c" --query 1,2,3,4
check "the filesystem still unmounts" umount "$MNT"
check_no_oops "an entry naming a vector table: no oops"
release_image

# ---------------------------------------------------------------------------
section "fuzzing the metadata of a populated image ($FUZZ_ROUNDS rounds, seed $FUZZ_SEED)"

populate() {
	fresh_image "$IMGDIR/populated.img" 8M && mount_image "$IMGDIR/populated.img" || return 1
	local m=$MNT i
	mkdir -p "$m/a/b/c" "$m/wide" "$m/empty"
	for i in $(seq 1 20); do
		head -c $((i * 997)) /dev/urandom >"$m/a/file$i"
	done
	head -c 300000 /dev/urandom >"$m/a/b/c/big"
	# Enough names for several directory blocks.
	python3 -c 'import os, sys
for i in range(300):
    open(os.path.join(sys.argv[1], "entry-%03d-%s" % (i, "n" * (i % 40))), "w").write(str(i))' "$m/wide"
	# Scattered blocks: an extent tree deeper than the inode's root.
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
for i in range(40):
    os.pwrite(fd, b"x" * 4096, i * 8192)
os.close(fd)' "$m/a/fragmented"
	ln -s file1 "$m/a/short-link"
	ln -s "$(head -c 400 /dev/zero | tr '\0' L)" "$m/a/long-link"
	ln "$m/a/file1" "$m/a/b/hardlink"
	mkfifo "$m/a/fifo"
	setfattr -n user.one -v 1 "$m/a/file2"
	setfattr -n trusted.two -v "$(head -c 500 /dev/zero | tr '\0' t)" "$m/a/file2"
	setfattr -n user.dir -v yes "$m/wide"
	release_image
}
check "make a populated 8 MiB image" populate

# fuzz_image SRC DST SEED: copies SRC and overwrites a few random bytes in
# its metadata: bitmaps, the used part of the inode table, and the first
# blocks of the data area where directories and extent nodes sit. Every
# other round the damaged inodes and blocks get valid checksums again, so
# the damage reaches the kernel's structure checks instead of stopping at
# the CRC. Prints what it did.
fuzz_image() {
	cp "$1" "$2" && python3 - "$2" "$3" "$TESTS_DIR" <<'EOF'
import random, sys
sys.path.insert(0, sys.argv[3])
import sbedit
path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
with open(path, "rb") as f:
    sb = bytearray(f.read(sbedit.SB_SIZE))
layout = sbedit.superblock_layout()
get = lambda name: sbedit.read_field(sb, sbedit.find_field(layout, name))
bs, table, data = sbedit.BLOCK_SIZE, get("s_inode_table_start"), get("s_data_start")
used_inodes = get("s_inodes_count") - get("s_free_inodes")
# (name, first byte, end, weight): a damaged bitmap or superblock mostly
# stops the mount, so they are hit less often than the inodes and blocks
# that are only read later.
regions = [
    ("bitmaps", get("s_inode_bitmap_start") * bs, table * bs, 2),
    ("inodes", table * bs + sbedit.INODE_SIZE, table * bs + (used_inodes + 2) * sbedit.INODE_SIZE, 5),
    ("data", data * bs, (data + 64) * bs, 5),
]
if rng.random() < 0.1:
    regions.append(("superblock", 0, sbedit.SB_SIZE, 1))
recrc = seed % 2 == 0
touched_inodes, touched_blocks, notes = set(), set(), []
with open(path, "r+b") as f:
    for _ in range(rng.randint(1, 6)):
        name, lo, hi, _ = rng.choices(regions, weights=[r[3] for r in regions])[0]
        off = rng.randrange(lo, hi)
        f.seek(off)
        f.write(bytes([rng.randrange(256)]))
        notes.append("%s@%d" % (name, off))
        if name == "inodes":
            touched_inodes.add((off - table * bs) // sbedit.INODE_SIZE)
        elif name != "superblock":
            touched_blocks.add(off // bs)
    if recrc:
        for ino in touched_inodes:
            sbedit.fix_inode_checksum(f, sb, ino)
        for blk in touched_blocks:
            sbedit.fix_block_checksum(f, blk)
print("seed %d%s: %s" % (seed, " (checksums fixed)" if recrc else "", " ".join(notes)))
EOF
}

# Reads every name, inode, symlink target, xattr and the first 4 MiB of
# every regular file (a damaged i_size can make a file terabytes long, and
# reading that many zeros under emulation is not a hang). Errors are
# expected and only counted. Prints each path before touching it, so that
# the last line names the culprit of a hang.
read -r -d '' READ_EVERYTHING_PY <<'EOF'
import os, stat, sys
errors = 0
def walk_error(e):
    global errors
    errors += 1
for dirpath, dirnames, filenames in os.walk(sys.argv[1], onerror=walk_error):
    for name in dirnames + filenames:
        path = os.path.join(dirpath, name)
        print("reading " + path, flush=True)
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    left = 4 << 20
                    while left > 0:
                        chunk = f.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        left -= len(chunk)
            for attr in os.listxattr(path, follow_symlinks=False):
                os.getxattr(path, attr, follow_symlinks=False)
        except OSError:
            errors += 1
print("read everything, %d errors" % errors)
EOF

# Changes to a damaged filesystem: allocation from a bad bitmap, unlinking
# from a bad directory, truncating a bad extent tree. Every operation may
# fail; none may crash the kernel.
read -r -d '' WRITE_SOME_PY <<'EOF'
import os, shutil, sys
root, errors = sys.argv[1], 0
def attempt(fn, *args):
    global errors
    try:
        fn(*args)
    except OSError:
        errors += 1
def write_file(path, size):
    with open(path, "wb") as f:
        f.write(b"w" * size)
def p(*parts):
    return os.path.join(root, *parts)
attempt(write_file, p("fuzz-new"), 65536)
attempt(os.mkdir, p("fuzz-dir"))
attempt(write_file, p("fuzz-dir", "inside"), 5000)
attempt(os.rename, p("a", "file3"), p("a", "file3.renamed"))
attempt(os.truncate, p("a", "b", "c", "big"), 100)
attempt(os.rename, p("a", "b"), p("wide", "b-moved"))
attempt(os.unlink, p("a", "file4"))
attempt(os.truncate, p("a", "fragmented"), 10000)
attempt(os.link, p("a", "file7"), p("a", "file7.link"))
attempt(os.symlink, "file8", p("a", "file8.link"))
attempt(os.setxattr, p("a", "file5"), "user.fuzz", b"v" * 300)
attempt(os.removexattr, p("a", "file2"), "user.one")
attempt(shutil.rmtree, p("wide"))
attempt(os.sync)
print("wrote, %d errors" % errors)
EOF

timed_out() { [ "$1" = 124 ] || [ "$1" = 137 ]; }

# Under a time limit: a corrupted directory or extent tree must not send
# the kernel into an endless loop.
exercise_mount() {
	local rc
	timeout -k 10 300 ls -lR "$MNT" >/dev/null 2>&1
	rc=$?
	! timed_out $rc || { echo "ls -lR did not finish in 300 s"; return 1; }
	timeout -k 10 300 python3 -c "$READ_EVERYTHING_PY" "$MNT" >"$SCRATCH/walk.log" 2>&1
	rc=$?
	if timed_out $rc; then
		echo "reading the files did not finish in 300 s; last steps:"
		tail -n 3 "$SCRATCH/walk.log"
		return 1
	fi
	tail -n 1 "$SCRATCH/walk.log"
	[ "$FUZZ_WRITES" = 1 ] || return 0
	timeout -k 10 300 python3 -c "$WRITE_SOME_PY" "$MNT" 2>&1
	rc=$?
	! timed_out $rc || { echo "the writes did not finish in 300 s"; return 1; }
}

MOUNTED=0
REFUSED=0
fuzz_round() {	# ROUND
	local seed=$((FUZZ_SEED + $1)) img=$IMGDIR/fuzz.img
	fuzz_image "$IMGDIR/populated.img" "$img" "$seed" || return 1
	dmesg_mark "fuzz-$1"
	DEV=$(attach "$img") || return 1
	if timeout 120 mount -t vexfs "$DEV" "$MNT" 2>/dev/null; then
		MOUNTED=$((MOUNTED + 1))
		exercise_mount || return 1
		timeout 120 umount "$MNT" || { echo "umount failed or hung"; return 1; }
	else
		[ $? != 124 ] || { echo "mount hung"; return 1; }
		echo "mount refused"
		REFUSED=$((REFUSED + 1))
	fi
	detach "$DEV"
	DEV=
	if dmesg_since_mark | grep -qE "$OOPS_PATTERN"; then
		dmesg_since_mark | grep -E -A5 "$OOPS_PATTERN" | head -n 20
		return 1
	fi
}

if is_mounted "$MNT"; then umount "$MNT"; fi
START=$(now_ms)
for round in $(seq 1 "$FUZZ_ROUNDS"); do
	# fuzz_round sets counters, so it runs in this shell, not under check.
	fuzz_round "$round" >"$CHECK_OUT" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		pass "fuzz round $round: $(paste -s -d ';' "$CHECK_OUT")"
	else
		fail "fuzz round $round" "reproduce with VEXFS_FUZZ_SEED=$FUZZ_SEED (round $round)"
		show_output
		release_image 2>/dev/null
	fi
done
log "fuzz: $MOUNTED rounds mounted, $REFUSED refused, $(elapsed_since "$START") s"

summary
