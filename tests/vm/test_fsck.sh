#!/usr/bin/env bash
# fsck.vexfs on images the module wrote: a populated filesystem (files,
# directories, hard links, symlinks, xattrs, a big sparse file, a
# directory of 3,000 files, a vector collection) must check clean; then
# each damage, one at a time on a copy of it, must be reported by -n
# without a write, repaired by -y where fsck repairs it, and leave an
# image that checks clean, mounts and lists.
#
# Images are edited through the loop device, as fsck and the mount see
# them, so no cache holds a stale copy of a block.
. "$(dirname "$0")/lib.sh"

if [ "$FSTYPE" != vexfs ]; then
	skip "$TEST_NAME" "fsck.vexfs is specific to vexfs, not $FSTYPE"
	summary
	exit
fi

NFILES=${VEXFS_FSCK_DIRFILES:-3000}
PRISTINE=$SCRATCH/pristine.img
FSCK_OUT=$SCRATCH/fsck.out

# The checker under test: the tree's build, else the installed one.
fsck_bin() {
	if [ -x "$REPO/build/bin/fsck.vexfs" ]; then
		echo "$REPO/build/bin/fsck.vexfs"
	else
		command -v fsck.vexfs
	fi
}

# run_fsck ARGS...: output in $FSCK_OUT, exit status in $FSCK_RC.
run_fsck() {
	"$(fsck_bin)" "$@" >"$FSCK_OUT" 2>&1
	FSCK_RC=$?
}

show_fsck() { sed 's/^/     | /' "$FSCK_OUT" | tail -n 25; }

# expect_fsck NAME WANT_RC [REGEX] ARGS...: fsck exits WANT_RC and, when
# REGEX is given (it starts with ~), says something matching it.
expect_fsck() {
	local name=$1 want=$2 re=
	shift 2
	if [ "${1:0:1}" = "~" ]; then
		re=${1:1}
		shift
	fi
	run_fsck "$@"
	if [ "$FSCK_RC" != "$want" ]; then
		fail "$name" "fsck.vexfs $* exited $FSCK_RC, expected $want"
		show_fsck
		return 1
	fi
	if [ -n "$re" ] && ! grep -qE -- "$re" "$FSCK_OUT"; then
		fail "$name" "fsck.vexfs $* did not say /$re/"
		show_fsck
		return 1
	fi
	pass "$name"
}

# vx ARGS...: raw edits of the unmounted image on $DEV, keeping every
# checksum but the one being damaged valid (see the commands below).
vx() {
	python3 - "$TESTS_DIR" "$DEV" "$@" <<'EOF'
import os, struct, sys
sys.path.insert(0, sys.argv[1])
import sbedit

dev, cmd, args = sys.argv[2], sys.argv[3], sys.argv[4:]
BS = sbedit.BLOCK_SIZE
sb = sbedit.load(dev)
sbl = sbedit.superblock_layout()
inl = sbedit.struct_layout("vexfs_inode", sbedit.INODE_SIZE)

def sbget(name):
    return sbedit.read_field(sb, sbedit.find_field(sbl, name))

def rd(f, off, n):
    f.seek(off)
    return f.read(n)

def wr(f, off, data):
    f.seek(off)
    f.write(data)

def inode(f, ino):
    return bytearray(rd(f, sbedit.inode_position(sb, ino), sbedit.INODE_SIZE))

def field(name):
    return sbedit.find_field(inl, name)

def pblk(f, raw, lblk):
    """Physical block of lblk, walking the extent tree from the inode."""
    node = bytes(raw[96:96 + 160])
    depth = struct.unpack_from("<H", node, 6)[0]
    while True:
        n = struct.unpack_from("<H", node, 2)[0]
        ents = [struct.unpack_from("<IIQ", node, 16 + 16 * i) for i in range(n)]
        if depth == 0:
            for start, length, phys in ents:
                if start <= lblk < start + length:
                    return phys + lblk - start
            return 0
        child = [e for e in ents if e[0] <= lblk][-1][2]
        node = rd(f, child * BS, BS)
        depth -= 1

def set_bit(f, start, bit, value):
    blk = start + bit // (8 * (BS - 8))
    bit %= 8 * (BS - 8)
    b = bytearray(rd(f, blk * BS, BS))
    if value:
        b[bit // 8] |= 1 << (bit % 8)
    else:
        b[bit // 8] &= ~(1 << (bit % 8)) & 0xFF
    wr(f, blk * BS, b)
    sbedit.fix_block_checksum(f, blk)

with open(dev, "r+b") as f:
    if cmd == "get":                    # INO FIELD
        raw = inode(f, int(args[0]))
        print(sbedit.read_field(raw, field(args[1])))
    elif cmd == "set":                  # INO FIELD VALUE
        ino = int(args[0])
        raw = inode(f, ino)
        sbedit.write_field(raw, field(args[1]), int(args[2], 0))
        wr(f, sbedit.inode_position(sb, ino), raw)
        sbedit.fix_inode_checksum(f, sb, ino)
    elif cmd == "flip-csum":            # INO
        off = sbedit.inode_position(sb, int(args[0])) + field("i_checksum")[1]
        wr(f, off, bytes([rd(f, off, 1)[0] ^ 0x5A]))
    elif cmd == "bit":                  # inode|block N 0|1
        start = sbget("s_inode_bitmap_start" if args[0] == "inode" else "s_block_bitmap_start")
        set_bit(f, start, int(args[1]), int(args[2]))
    elif cmd == "pblk":                 # INO LBLK
        print(pblk(f, inode(f, int(args[0])), int(args[1])))
    elif cmd == "flip-byte":            # BLOCK OFFSET
        off = int(args[0]) * BS + int(args[1])
        wr(f, off, bytes([rd(f, off, 1)[0] ^ 0xFF]))
    elif cmd == "slot":                 # TABLE_INO SLOT VR_INO
        raw = inode(f, int(args[0]))
        rec = struct.unpack_from("<I", rd(f, pblk(f, raw, 0) * BS, 64), 16)[0]
        pos = BS + int(args[1]) * rec
        for i, byte in enumerate(struct.pack("<Q", int(args[2]))):
            p = pos + i
            wr(f, pblk(f, raw, p // BS) * BS + p % BS, bytes([byte]))
    else:
        sys.exit("vx: unknown command " + cmd)
    f.flush()
    os.fsync(f.fileno())
EOF
}

# ---------------------------------------------------------------------------
section "populate a filesystem through the module"

populate_files() {
	local m=$MNT
	mkdir -p "$m/docs/sub/deeper" "$m/empty" || return 1
	echo hello >"$m/docs/a.txt" &&
	head -c 300000 /dev/urandom >"$m/docs/sub/random.bin" &&
	ln "$m/docs/a.txt" "$m/docs/hard" &&
	ln "$m/docs/a.txt" "$m/hard-in-root" &&
	ln -s docs/a.txt "$m/link" &&
	ln -s "$(printf 'x%.0s' $(seq 1 300))" "$m/long-link" &&
	mkfifo "$m/fifo" &&
	mknod "$m/null" c 1 3 &&
	python3 - "$m" <<'EOF'
import os, sys
m = sys.argv[1]
os.setxattr(m + "/docs/a.txt", "user.color", b"blue")
os.setxattr(m + "/docs", "user.note", b"x" * 1000)
os.setxattr(m + "/docs/sub/random.bin", "trusted.tag", b"t")
# a 1 GiB file with data at a few places: holes everywhere else
with open(m + "/sparse", "wb") as f:
    for off in (0, 5 << 20, 100 << 20, 700 << 20, (1 << 30) - 4096):
        f.seek(off)
        f.write(os.urandom(8192 if off < (1 << 30) - 4096 else 4096))
EOF
}

populate_bigdir() {
	python3 - "$MNT/big" "$NFILES" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for i in range(n):
    name = "file-%05d-%s" % (i, "n" * (i % 40))
    with open(os.path.join(d, name), "wb") as f:
        if i % 10 == 0:
            f.write(b"z" * (i % 9000))
# unlink some, so the directory has freed records between live ones
for i in range(0, n, 7):
    os.unlink(os.path.join(d, "file-%05d-%s" % (i, "n" * (i % 40))))
EOF
}

populate_collection() {
	python3 - "$TESTS_DIR" "$MNT/vectors" <<'EOF'
import array, os, random, sys
sys.path.insert(0, sys.argv[1])
import vexfs_ioctl as vx
d = sys.argv[2]
os.mkdir(d)
fd = os.open(d, os.O_RDONLY)
vx.create_collection(fd, 16, "l2")
rng = random.Random(7)
ids = list(range(1, 401))
vecs = array.array("f", [rng.uniform(-1, 1) for _ in range(len(ids) * 16)])
vx.batch_insert(fd, ids, vecs.tobytes(), 16)
os.close(fd)
# freed slots among live ones, and a vector set through the xattr
for i in (5, 6, 200):
    os.unlink(os.path.join(d, str(i)))
with open(os.path.join(d, "extra"), "wb"):
    pass
os.setxattr(os.path.join(d, "extra"), "user.vexfs.vector",
            array.array("f", [0.5] * 16).tobytes())
os.rename(os.path.join(d, "10"), os.path.join(d, "ten"))
EOF
}

setup_vexfs 256M || { fail "setup" "cannot make and mount the filesystem"; summary; exit 1; }
check "files, links, symlinks, special files, xattrs, a sparse file" populate_files
check "a directory of $NFILES files" populate_bigdir
check "a vector collection with batch-inserted vectors" populate_collection

# Inode numbers the damages aim at, read while mounted.
INO_A=$(stat -c %i "$MNT/docs/a.txt")
INO_RANDOM=$(stat -c %i "$MNT/docs/sub/random.bin")
INO_DOCS=$(stat -c %i "$MNT/docs")
INO_DEEPER=$(stat -c %i "$MNT/docs/sub/deeper")
INO_COLL=$(stat -c %i "$MNT/vectors")
INO_V1=$(stat -c %i "$MNT/vectors/1")
umount "$MNT" || { fail "umount" "cannot unmount"; summary; exit 1; }

section "the populated image checks clean"
expect_fsck "fsck -n: clean" 0 -n "$DEV"
check "fsck -n: no problem reported" bash -c "! grep -qE 'Fix\\?|Not repaired' '$FSCK_OUT'"
expect_fsck "fsck -n -v: every vector is counted" 0 "~holding 398 vectors" -n -v "$DEV"
# fsck(8) finds fsck.vexfs in /sbin, or on PATH (the guest's has build/bin).
if command -v fsck >/dev/null && command -v fsck.vexfs >/dev/null; then
	check "fsck -t vexfs -n finds fsck.vexfs and passes" fsck -t vexfs -n "$DEV"
else
	skip "fsck -t vexfs" "fsck(8) or fsck.vexfs missing"
fi
expect_fsck "fsck -y on a clean image: exit 0" 0 -y "$DEV"
INO_TABLE=$(vx get "$INO_COLL" i_aux)

detach "$DEV"
cp --sparse=always "$IMG" "$PRISTINE" || { fail "copy" "cannot copy the image"; summary; exit 1; }

# ---------------------------------------------------------------------------
# fresh_copy: $DEV on a new copy of the populated image.
fresh_copy() {
	[ -z "$DEV" ] || detach "$DEV"
	cp --sparse=always "$PRISTINE" "$IMG" && DEV=$(attach "$IMG")
}

image_sum() { md5sum <"$DEV" | cut -d' ' -f1; }

mounts_and_lists() {
	mount_fs || return 1
	ls -lR "$MNT" >/dev/null
	local rc=$?
	umount "$MNT" || return 1
	return $rc
}

# repairable NAME REGEX DAMAGE...: -n reports (4) and writes nothing, -y
# repairs (1), then -n is clean (0) and the image mounts and lists.
repairable() {
	local name=$1 re=$2 before
	shift 2
	section "$name"
	fresh_copy || { fail "$name" "cannot attach a copy"; return; }
	"$@" || { fail "$name: damage" "the edit failed"; return; }
	before=$(image_sum)
	expect_fsck "$name: -n reports it" 4 "~$re" -n "$DEV"
	check_eq "$name: -n wrote nothing" "$before" "$(image_sum)"
	expect_fsck "$name: -y repairs it" 1 -y "$DEV"
	expect_fsck "$name: then clean" 0 -n "$DEV"
	check "$name: mounts and ls -lR works" mounts_and_lists
}

sb_get() { "$TESTS_DIR/sbedit.py" "$PRISTINE" get "$1"; }
BLOCKS=$(sb_get s_blocks_count)
INODES=$(sb_get s_inodes_count)
FREE_BLOCKS=$(sb_get s_free_blocks)

leak_block() { vx bit block $((BLOCKS - 2)) 1; }
clear_used_block() { vx bit block "$(vx pblk "$INO_RANDOM" 3)" 0; }
leak_inode() { vx bit inode $((INODES - 2)) 1; }
wrong_links() { vx set "$INO_A" i_nlink 9; }
wrong_dir_links() { vx set "$INO_DOCS" i_nlink 7; }
wrong_free() { "$TESTS_DIR/sbedit.py" "$DEV" set s_free_blocks $((FREE_BLOCKS + 11)); }
dangling_slot() { vx slot "$INO_TABLE" 0 $((INODES - 3)); }
inode_crc() { vx flip-csum "$INO_RANDOM"; }
wrong_parent() { vx set "$INO_DEEPER" i_parent 1; }
dir_block_crc() { vx flip-byte "$(vx pblk "$INO_DOCS" 0)" 40; }

repairable "leaked block bit" "Block bitmap differences: -" leak_block
repairable "cleared used block bit" "Block bitmap differences: \\+" clear_used_block
repairable "leaked inode bit" "Inode bitmap differences: -" leak_inode
repairable "wrong file link count" "ref count is 9, should be 3" wrong_links
repairable "wrong directory link count" "ref count is 7, should be 3" wrong_dir_links
repairable "wrong free block count" "Free blocks count wrong" wrong_free
repairable "dangling vector slot" "slot 0 names inode" dangling_slot
repairable "corrupted inode checksum" "passes checks, but its checksum" inode_crc
repairable "wrong directory parent" "i_parent is 1, should be" wrong_parent
repairable "corrupted directory block" "checksum mismatch.  Check its records and reseal it" dir_block_crc

# The file that held slot 0 must have forgotten its vector, and the
# collection must still search after the repair.
section "after the slot repair"
fresh_copy && dangling_slot && run_fsck -y "$DEV"
check "the file whose slot was freed forgot it" bash -c "grep -q 'Inode $INO_V1: slot 0 of collection' '$FSCK_OUT'"
vector_search() {
	mount_fs || return 1
	python3 - "$TESTS_DIR" "$MNT/vectors" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1])
import vexfs_ioctl as vx
fd = os.open(sys.argv[2], os.O_RDONLY)
res, scanned = vx.search(fd, [0.0] * 16, 5)
assert len(res) == 5, res
print("search after repair:", res[:2], "scanned", scanned)
EOF
	local rc=$?
	umount "$MNT"
	return $rc
}
check "the repaired collection searches" vector_search

# ---------------------------------------------------------------------------
# A file with a vector, hard-linked out of its collection, whose last link
# then goes from the other directory: the module must forget the vector
# through the file's own collection, leaving no slot naming a freed inode.
# Should one ever be left, fsck must see it and free it.
section "a vector whose file was last unlinked outside its collection"
teardown
last_link_elsewhere() {
	python3 - "$TESTS_DIR" "$MNT" <<'EOF'
import array, os, sys
sys.path.insert(0, sys.argv[1])
import vexfs_ioctl as vx
m = sys.argv[2]
os.mkdir(m + "/c")
os.mkdir(m + "/d")
fd = os.open(m + "/c", os.O_RDONLY)
vx.create_collection(fd, 4)
vx.batch_insert(fd, [1, 2, 3], array.array("f", [1.0] * 12).tobytes(), 4)
os.close(fd)
os.link(m + "/c/1", m + "/d/x")
os.unlink(m + "/c/1")
os.unlink(m + "/d/x")
EOF
}
if setup_vexfs 64M && check "hard link out of a collection, unlink both names" last_link_elsewhere &&
   umount "$MNT"; then
	run_fsck -n "$DEV"
	if [ "$FSCK_RC" = 0 ]; then
		pass "no slot left naming the freed inode"
	else
		fail "no slot left naming the freed inode" "$(grep -m1 'names inode' "$FSCK_OUT")"
		expect_fsck "fsck -n: the slot names a freed inode" 4 "~slot 0 names inode" -n "$DEV"
		expect_fsck "fsck -y frees the slot" 1 -y "$DEV"
		expect_fsck "then clean" 0 -n "$DEV"
		check "mounts and ls -lR works" mounts_and_lists
	fi
fi

summary
