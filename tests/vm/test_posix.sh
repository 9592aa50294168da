#!/usr/bin/env bash
# POSIX behaviour of the filesystem under test: every operation the module
# supports, then an unmount and mount, after which every file's content and
# every inode's metadata must read back byte for byte; then a read-only
# remount. Where the expected result is data, the same operation is done on
# a reference copy in the scratch tmpfs and the two are compared with cmp.
. "$(dirname "$0")/lib.sh"

REF=$SCRATCH/ref
rm -rf "$REF"
mkdir -p "$REF"

# sys_rename [FLAGS] OLD NEW: rename(2), or renameat2(2) when FLAGS is
# given (1 = RENAME_NOREPLACE, 2 = RENAME_EXCHANGE); prints the errno name
# on failure so expect_fail can tell ENOTEMPTY from any other failure.
sys_rename() {
	local flags=-1
	[ $# -eq 3 ] && { flags=$1; shift; }
	python3 - "$flags" "$1" "$2" <<'EOF'
import ctypes, errno, os, sys
flags, old, new = int(sys.argv[1]), sys.argv[2], sys.argv[3]
try:
    if flags < 0:
        os.rename(old, new)
    else:
        libc = ctypes.CDLL(None, use_errno=True)
        AT_FDCWD = -100
        if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
except OSError as e:
    sys.exit("rename: %s (%s)" % (e.strerror, errno.errorcode.get(e.errno, e.errno)))
EOF
}

same_content() { cmp "$1" "$2"; }
is_zeros() { cmp -n "$2" "$1" /dev/zero; }	# FILE BYTES

# ---------------------------------------------------------------------------
section "mkfs and mount"
check "mkfs and mount a 512 MiB image" setup_vexfs 512M -L posix || {
	summary
	exit 1
}
log "filesystem $FSTYPE on $DEV at $MNT"
mkdir -p "$MNT/files" "$MNT/dirs" "$MNT/ren" "$MNT/links" "$MNT/attrs" "$MNT/nodes"

# ---------------------------------------------------------------------------
section "regular files: create, read, write, append, overwrite, truncate"

create_and_read() {
	printf 'hello, world\n' >"$MNT/files/hello"
	[ "$(cat "$MNT/files/hello")" = "hello, world" ]
}
check "create a file and read it back" create_and_read

check "an empty file has size 0" bash -c ': >"$1/files/empty" && [ "$(stat -c %s "$1/files/empty")" = 0 ]' _ "$MNT"

# A size that is not a multiple of the block or page size.
head -c $((1024 * 1024 + 12345)) /dev/urandom >"$REF/random"
check "write 1 MiB + 12345 random bytes" cp "$REF/random" "$MNT/files/random"
check "read them back" same_content "$REF/random" "$MNT/files/random"

append_both() {
	head -c 7000 /dev/urandom >"$REF/chunk"
	cat "$REF/chunk" >>"$REF/random"
	cat "$REF/chunk" >>"$MNT/files/random"
	same_content "$REF/random" "$MNT/files/random"
}
check "append 7000 bytes" append_both

append_o_append() {
	python3 - "$MNT/files/appended" "$REF/appended" <<'EOF'
import os, sys
for path in sys.argv[1:]:
    for i in range(100):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, b"line %03d %s\n" % (i, b"x" * (i * 7 % 200)))
        os.close(fd)
EOF
	same_content "$REF/appended" "$MNT/files/appended"
}
check "100 O_APPEND opens and writes" append_o_append

# Straddles the boundary of the second block, and of a page.
overwrite_middle() {
	local f
	head -c 9000 /dev/urandom >"$REF/patch"
	for f in "$REF/random" "$MNT/files/random"; do
		dd if="$REF/patch" of="$f" bs=9000 seek=4000 oflag=seek_bytes conv=notrunc status=none || return 1
	done
	same_content "$REF/random" "$MNT/files/random"
}
check "overwrite 9000 bytes in the middle" overwrite_middle

cp "$REF/random" "$REF/trunc"
cp "$REF/random" "$MNT/files/trunc"
truncate_both() {
	truncate -s "$1" "$REF/trunc" "$MNT/files/trunc" &&
		[ "$(stat -c %s "$MNT/files/trunc")" = "$1" ] &&
		same_content "$REF/trunc" "$MNT/files/trunc"
}
check "truncate down to 3000 bytes (mid-block)" truncate_both 3000
# Growing again must show zeros where the old data was, not stale bytes.
check "truncate up to 200000 bytes reads zeros past 3000" truncate_both 200000
check "truncate down to a block boundary (8192)" truncate_both 8192
check "truncate to zero" truncate_both 0
check "truncate up from zero to 50000" truncate_both 50000

write_at_offset() {
	python3 - "$MNT/files/offset" "$REF/offset" <<'EOF'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, b"after a gap", 5000)     # bytes 0..4999 are a hole
    os.pwrite(fd, b"Z", 100000)
    os.close(fd)
EOF
	same_content "$REF/offset" "$MNT/files/offset"
}
check "pwrite beyond EOF leaves zeros before it" write_at_offset

# ---------------------------------------------------------------------------
section "holes and sparse files"

make_sparse() {
	truncate -s 64M "$MNT/files/sparse" &&
		head -c 4096 /dev/urandom >"$REF/sparse-block" &&
		dd if="$REF/sparse-block" of="$MNT/files/sparse" bs=4096 seek=$((32 * 256)) conv=notrunc status=none
}
check "64 MiB sparse file with one block at 32 MiB" make_sparse
check "sparse file size is 64 MiB" bash -c '[ "$(stat -c %s "$1")" = $((64 << 20)) ]' _ "$MNT/files/sparse"
sparse_du_small() {
	local kib
	sync
	kib=$(du -k "$MNT/files/sparse" | cut -f1)
	echo "du: ${kib} KiB for a 65536 KiB file"
	[ "$kib" -lt 1024 ]
}
check "du of the sparse file is far below its size" sparse_du_small
check "the hole before the block reads as zeros" is_zeros "$MNT/files/sparse" $((32 << 20))
check "the block in the middle reads back" bash -c 'dd if="$1" bs=4096 skip=$((32 * 256)) count=1 status=none | cmp - "$2"' _ "$MNT/files/sparse" "$REF/sparse-block"
check "the hole after the block reads as zeros" bash -c 'tail -c $(((32 << 20) - 4096)) "$1" | cmp -n $(((32 << 20) - 4096)) - /dev/zero' _ "$MNT/files/sparse"

# Thousands of separate extents, written in random order: forces the
# extent tree past the root and past one level of index blocks.
fragmented_file() {
	python3 - "$MNT/files/fragmented" "$REF/fragmented" <<'EOF'
import os, random, sys
rng = random.Random(4242)
order = list(range(3000))
rng.shuffle(order)
blocks = {i: rng.randbytes(4096) for i in order}
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    for i in order:
        os.pwrite(fd, blocks[i], i * 8192)     # every other block stays a hole
    os.close(fd)
EOF
	same_content "$REF/fragmented" "$MNT/files/fragmented"
}
check "3000 scattered 4 KiB writes in random order" fragmented_file

# ---------------------------------------------------------------------------
section "mmap and fsync"

mmap_write_read() {
	python3 - "$MNT/files/mmapped" "$REF/mmapped" <<'EOF'
import mmap, os, sys
size = 3 * 4096 + 100
pattern = bytes((i * 31 + 7) & 0xFF for i in range(size))
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
        m[:] = pattern
        m.flush()                      # msync
    os.close(fd)
    with open(path, "rb") as f:        # read(2), not the mapping
        if f.read() != pattern:
            sys.exit("%s: read() does not see what mmap wrote" % path)
# And the other way: mmap reads what write() put there.
with open(sys.argv[1], "r+b") as f:
    f.seek(5000)
    f.write(b"written with write()")
    f.flush()
    with mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ) as m:
        if m[5000:5020] != b"written with write()":
            sys.exit("mmap does not see what write() wrote")
with open(sys.argv[2], "r+b") as f:
    f.seek(5000)
    f.write(b"written with write()")
EOF
	same_content "$REF/mmapped" "$MNT/files/mmapped"
}
check "mmap write, read back with read(), and the reverse" mmap_write_read

fsync_calls() {
	python3 - "$MNT/files/fsynced" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"durable\n" * 1000)
os.fsync(fd)
os.write(fd, b"more\n")
os.fdatasync(fd)
os.close(fd)
dfd = os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)                      # fsync of a directory must work too
os.close(dfd)
EOF
}
check "fsync, fdatasync and directory fsync succeed" fsync_calls

# Write faults while commits run (each fault's handle then waits for the
# locked transaction) and truncates of the mapped file: a truncate once
# took the mapping's invalidate lock inside its handle, the reverse of a
# fault, which lockdep reports on the debug kernel (make test-debug).
faults_and_truncates() {
	python3 - "$MNT/files" <<'EOF'
import mmap, os, sys
d = sys.argv[1]
pid = os.fork()
if pid == 0:                       # commits, one after another
    fd = os.open(d + "/committer", os.O_RDWR | os.O_CREAT, 0o644)
    for i in range(1500):
        os.pwrite(fd, b"c" * 64, (i % 64) * 64)
        os.fsync(fd)
    os._exit(0)
fd = os.open(d + "/faulted", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(300):
    size = 4096 * (1 + i % 4)
    os.ftruncate(fd, size)
    with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
        for page in range(0, size, 4096):
            m[page] = i & 0xFF
        m.flush()
    os.ftruncate(fd, 100)
    if os.pread(fd, 1, 0) != bytes([i & 0xFF]):
        sys.exit("round %d: the first byte written through the mapping is lost" % i)
os.close(fd)
_, status = os.waitpid(pid, 0)
sys.exit(status)
EOF
}
check "write faults while commits run, truncates of the mapped file" faults_and_truncates
check "sync -f (syncfs) succeeds" sync -f "$MNT"

# ---------------------------------------------------------------------------
section "buffered writes in chunks"

# A write allocates the blocks of its chunk past the end of the file ahead
# of their pages. The blocks come from a deleted file full of 0xAA, so a
# block handed to a page without zeroing, or kept past a short write, shows.
chunked_writes() {
	python3 - "$MNT/files/chunks" <<'EOF'
import ctypes, mmap, os, sys
d = sys.argv[1]
os.mkdir(d)
with open(d + "/old", "wb") as f:
    f.write(b"\xaa" * (8 << 20))
    os.fsync(f.fileno())
os.unlink(d + "/old")
os.sync()                                  # the frees commit: blocks reusable

def check(name, data):
    with open(d + "/" + name, "rb") as f:
        if f.read() != data:
            sys.exit("%s: read() differs" % name)
        if len(data) % 4096:
            with mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ) as m:
                # The mapping covers the whole last page.
                tail = m[len(data):]
                if m.size() < len(data) or any(tail):
                    sys.exit("%s: the last page holds old bytes past the end" % name)

for size in (100, 3 * 4096 + 100, 65536 + 4196, 300000):
    data = bytes((i * 7 + size) & 0xFF or 1 for i in range(size))
    fd = os.open(d + "/w%d" % size, os.O_WRONLY | os.O_CREAT, 0o644)
    if os.write(fd, data) != size:
        sys.exit("short write of %d" % size)
    os.close(fd)
    check("w%d" % size, data)

# A gap past the end, inside one chunk, reads as zeros.
fd = os.open(d + "/gap", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"a" * 100)
os.pwrite(fd, b"b" * 100, 10000)
os.close(fd)
check("gap", b"a" * 100 + bytes(9900) + b"b" * 100)

# A write whose source runs into an unreadable page stops after the pages
# it copied: that size, and no block past it.
libc = ctypes.CDLL(None, use_errno=True)
libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
libc.write.restype = ctypes.c_ssize_t
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
buf = mmap.mmap(-1, 4 * 4096)
buf[:] = b"c" * (4 * 4096)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
if libc.mprotect(addr + 2 * 4096, 2 * 4096, 0):
    sys.exit("mprotect failed")
fd = os.open(d + "/short", os.O_WRONLY | os.O_CREAT, 0o644)
n = libc.write(fd, addr, 4 * 4096)
os.fsync(fd)
st = os.fstat(fd)
os.close(fd)
if n != 2 * 4096 or st.st_size != 2 * 4096:
    sys.exit("short write returned %d, size %d" % (n, st.st_size))
if st.st_blocks * 512 != 2 * 4096:
    sys.exit("short write kept %d bytes of blocks for 8192" % (st.st_blocks * 512))
check("short", b"c" * 8192)

# The same when the source runs out inside a page: the bytes up to the
# unreadable page, at an offset inside the file's page, are written.
fd = os.open(d + "/short-mid", os.O_WRONLY | os.O_CREAT, 0o644)
n = libc.write(fd, addr + 2 * 4096 - 3000, 8000)
os.close(fd)
if n != 3000:
    sys.exit("a write stopping inside a page returned %d, not 3000" % n)
check("short-mid", b"c" * 3000)
EOF
}
check "writes of 100 B to 300 KB into reused blocks read back, zeros past the end" chunked_writes
check "a 1 MiB write is one run of blocks (FIBMAP)" bash -c 'dd if=/dev/urandom of="$1" bs=1M count=1 iflag=fullblock status=none && sync && filefrag -B "$1" | grep -q ": 1 extent found"' _ "$MNT/files/chunks/mib"

# A file still open after unlink stays readable, and its space comes back
# only at the last close.
open_unlinked() {
	python3 - "$MNT/files/orphan" <<'EOF'
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"o" * 1000000)
os.unlink(path)
if os.path.exists(path):
    sys.exit("name still there after unlink")
os.write(fd, b"tail")
if os.pread(fd, 4, 1000000) != b"tail" or os.fstat(fd).st_nlink != 0:
    sys.exit("open unlinked file misbehaves")
os.close(fd)
EOF
}
check "an unlinked open file stays usable until closed" open_unlinked

# ---------------------------------------------------------------------------
section "large sparse file (data beyond 1 GiB and 4 GiB)"

BIG=$MNT/files/big.sparse
BIG_OFFSETS=(0 $((300 << 20)) $(((1 << 30) - (512 << 10))) $(((1 << 30) + (7 << 20))) $(((4 << 30) + (3 << 20))))
BIG_HOLES=($((600 << 20)) $(((2 << 30) + (100 << 20))) $(((4 << 30) + (1 << 20))))
BIG_SIZE=$(((4 << 30) + (4 << 20)))

read_bytes() {	# FILE OFFSET LENGTH
	dd if="$1" bs=1M skip="$2" count="$3" iflag=skip_bytes,count_bytes status=none
}

write_big() {
	local i off
	for i in "${!BIG_OFFSETS[@]}"; do
		off=${BIG_OFFSETS[$i]}
		head -c $((1 << 20)) /dev/urandom >"$REF/big-$i"
		dd if="$REF/big-$i" of="$BIG" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none || return 1
	done
	truncate -s "$BIG_SIZE" "$BIG"
}

verify_big() {
	local i size
	size=$(stat -c %s "$BIG")
	[ "$size" = "$BIG_SIZE" ] || { echo "size $size, expected $BIG_SIZE"; return 1; }
	for i in "${!BIG_OFFSETS[@]}"; do
		read_bytes "$BIG" "${BIG_OFFSETS[$i]}" $((1 << 20)) | cmp - "$REF/big-$i" ||
			{ echo "chunk at ${BIG_OFFSETS[$i]} differs"; return 1; }
	done
	for i in "${BIG_HOLES[@]}"; do
		read_bytes "$BIG" "$i" $((1 << 20)) | is_zeros - $((1 << 20)) ||
			{ echo "hole at $i is not zeros"; return 1; }
	done
	sha256sum "$REF"/big-* | sed "s|$REF/||"
}

check "write 1 MiB chunks at 0, 300M, 1G-512K, 1G+7M, 4G+3M" write_big
check "4 GiB file: every chunk and hole reads back" verify_big
check "du of the 4 GiB file is under 16 MiB" bash -c 'sync; [ "$(du -k "$1" | cut -f1)" -lt 16384 ]' _ "$BIG"

# ---------------------------------------------------------------------------
section "directories"

D=$MNT/dirs
check "mkdir -p a/b/c" mkdir -p "$D/a/b/c"
expect_fail "mkdir of an existing name fails with EEXIST" -e 'File exists' mkdir "$D/a"
touch "$D/a/b/c/file"
expect_fail "rmdir of a non-empty directory fails with ENOTEMPTY" -e 'Directory not empty' rmdir "$D/a/b/c"
check "rmdir of an empty directory works" bash -c 'mkdir "$1/gone" && rmdir "$1/gone" && [ ! -e "$1/gone" ]' _ "$D"
expect_fail "rmdir of a file fails with ENOTDIR" -e 'Not a directory' rmdir "$D/a/b/c/file"
dir_nlink() {
	mkdir "$D/n" "$D/n/1" "$D/n/2" "$D/n/3" && touch "$D/n/file" &&
		[ "$(stat -c %h "$D/n")" = 5 ] && rmdir "$D/n/3" && [ "$(stat -c %h "$D/n")" = 4 ]
}
check "a directory's link count is 2 + its subdirectories" dir_nlink
check "ls -a shows . and .." bash -c '[ "$(ls -a "$1/a" | head -2 | tr "\n" " ")" = ". .. " ]' _ "$D"
check "'..' of a/b is a" bash -c '[ "$(stat -c %i "$1/a/b/..")" = "$(stat -c %i "$1/a")" ]' _ "$D"
expect_fail "a 256-byte name fails with ENAMETOOLONG" -e 'too long' touch "$D/$(printf 'n%.0s' {1..256})"
check "a 255-byte name works" touch "$D/$(printf 'n%.0s' {1..255})"

# readdir must return exactly the names that exist: none lost, none twice,
# none resurrected, across enough entries to span several directory blocks.
readdir_exact() {
	python3 - "$D/listing" <<'EOF'
import os, sys
d = sys.argv[1]
os.mkdir(d)
names = {"plain", "with space", "tab\there", "ünïcødé-名前", ".hidden", "-dash",
         "x" * 255, "a", "ab", "abc", "line\nbreak", "*star?", "\\back"}
names |= {"file-%04d-%s" % (i, "y" * (i % 60)) for i in range(600)}
def create(n):
    os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o644))
def expect(label):
    got = os.listdir(d)
    if len(got) != len(set(got)):
        sys.exit("%s: duplicate names in readdir" % label)
    if set(got) != names:
        sys.exit("%s: missing %s, unexpected %s" % (label, sorted(names - set(got))[:5], sorted(set(got) - names)[:5]))
for n in sorted(names):
    create(n)
expect("after create")
size = os.stat(d).st_size
for i, n in enumerate(sorted(names)):
    if i % 3 == 0:
        os.unlink(os.path.join(d, n))
        names.discard(n)
expect("after deleting every third")
for i in range(200):
    n = "again-%d" % i
    create(n)
    names.add(n)
expect("after refilling the holes")
# Each new name fits the record a deleted one left: none needs a new block.
if os.stat(d).st_size != size:
    sys.exit("the directory grew from %d to %d bytes with room left in its blocks"
             % (size, os.stat(d).st_size))
print(len(names), "names")
EOF
}
check "readdir lists exactly the expected names (600+ entries); deleted records are reused" readdir_exact

# ---------------------------------------------------------------------------
section "rename"

R=$MNT/ren
rename_to_new_name() {
	echo one >"$R/a"
	local ino
	ino=$(stat -c %i "$R/a")
	sys_rename "$R/a" "$R/b" && [ ! -e "$R/a" ] && [ "$(cat "$R/b")" = one ] &&
		[ "$(stat -c %i "$R/b")" = "$ino" ]
}
check "rename a file to a new name keeps its inode" rename_to_new_name

rename_over_file() {
	echo source >"$R/src" && echo target >"$R/dst"
	local free_inodes
	free_inodes=$(fs_inodes_free "$MNT")
	sys_rename "$R/src" "$R/dst" && [ ! -e "$R/src" ] && [ "$(cat "$R/dst")" = source ] &&
		[ "$(ls "$R" | grep -c '^dst$')" = 1 ] || return 1
	# The replaced file had no other name: its inode must be freed.
	[ "$(fs_inodes_free "$MNT")" = $((free_inodes + 1)) ] ||
		{ echo "free inodes $free_inodes -> $(fs_inodes_free "$MNT"), expected one more"; return 1; }
}
check "rename a file over an existing file replaces it and frees its inode" rename_over_file

mkdir -p "$R/x/moved/sub" "$R/y"
echo inside >"$R/x/moved/sub/f"
check "rename a directory into another directory" sys_rename "$R/x/moved" "$R/y/moved"

# Checked now and again after the remount, where '..' comes from disk.
moved_dir_parents() {
	local y moved
	y=$(stat -c %i "$R/y")
	moved=$(stat -c %i "$R/y/moved")
	[ "$(stat -c %i "$R/y/moved/..")" = "$y" ] || { echo "stat moved/.. is not y"; return 1; }
	[ "$(ls -ai "$R/y/moved" | awk '$2 == ".." {print $1}')" = "$y" ] ||
		{ echo "readdir of moved lists the wrong '..'"; return 1; }
	[ "$(ls -ai "$R/y/moved/sub" | awk '$2 == ".." {print $1}')" = "$moved" ] ||
		{ echo "readdir of moved/sub lists the wrong '..'"; return 1; }
	[ "$(stat -c %h "$R/x")" = 2 ] || { echo "x has $(stat -c %h "$R/x") links, expected 2"; return 1; }
	[ "$(stat -c %h "$R/y")" = 3 ] || { echo "y has $(stat -c %h "$R/y") links, expected 3"; return 1; }
	[ "$(cat "$R/y/moved/sub/f")" = inside ]
}
check "moved directory: '..' (stat and readdir) and parents' link counts" moved_dir_parents

rename_dir_over_empty_dir() {
	mkdir -p "$R/d1" "$R/d2" && echo payload >"$R/d1/file"
	local links free_inodes
	links=$(stat -c %h "$R") free_inodes=$(fs_inodes_free "$MNT")
	sys_rename "$R/d1" "$R/d2" && [ ! -e "$R/d1" ] && [ "$(cat "$R/d2/file")" = payload ] || return 1
	[ "$(stat -c %h "$R")" = $((links - 1)) ] ||
		{ echo "parent has $(stat -c %h "$R") links, expected $((links - 1))"; return 1; }
	[ "$(fs_inodes_free "$MNT")" = $((free_inodes + 1)) ] ||
		{ echo "the replaced directory's inode was not freed"; return 1; }
}
check "rename a directory over an empty one: parent links, inode freed" rename_dir_over_empty_dir

mkdir -p "$R/full1" "$R/full2" && touch "$R/full1/f" "$R/full2/g"
expect_fail "rename a directory over a non-empty one fails (ENOTEMPTY)" -e 'ENOTEMPTY|EEXIST' sys_rename "$R/full1" "$R/full2"
check "both directories are unchanged" test -e "$R/full1/f" -a -e "$R/full2/g"
touch "$R/plainfile"
expect_fail "rename a file over a directory fails (EISDIR)" -e EISDIR sys_rename "$R/plainfile" "$R/full2"
expect_fail "rename a directory over a file fails (ENOTDIR)" -e ENOTDIR sys_rename "$R/full2" "$R/plainfile"
expect_fail "rename a directory into itself fails (EINVAL)" -e EINVAL sys_rename "$R/full1" "$R/full1/inner"

echo keep >"$R/nr-src" && echo existing >"$R/nr-dst"
expect_fail "RENAME_NOREPLACE onto an existing name fails (EEXIST)" -e EEXIST sys_rename 1 "$R/nr-src" "$R/nr-dst"
check "RENAME_NOREPLACE left both files alone" bash -c '[ "$(cat "$1/nr-src")" = keep ] && [ "$(cat "$1/nr-dst")" = existing ]' _ "$R"
check "RENAME_NOREPLACE to a free name works" sys_rename 1 "$R/nr-src" "$R/nr-new"
check "the renamed file has its content" bash -c '[ "$(cat "$1/nr-new")" = keep ] && [ ! -e "$1/nr-src" ]' _ "$R"

rename_exchange() {
	echo left >"$R/ex-a" && mkdir -p "$R/ex-b" && touch "$R/ex-b/inner"
	local out
	out=$(sys_rename 2 "$R/ex-a" "$R/ex-b" 2>&1)
	if [[ $out == *EINVAL* ]]; then
		echo "RENAME_EXCHANGE not supported"
		return 2
	fi
	[ -z "$out" ] && [ -d "$R/ex-a" ] && [ -e "$R/ex-a/inner" ] && [ "$(cat "$R/ex-b")" = left ] &&
		[ "$(stat -c %i "$R/ex-a/..")" = "$(stat -c %i "$R")" ]
}
rename_exchange >"$CHECK_OUT" 2>&1
case $? in
0) pass "RENAME_EXCHANGE swaps a file and a directory" ;;
2) skip "RENAME_EXCHANGE swaps a file and a directory" "EINVAL: not supported by $FSTYPE" ;;
*) fail "RENAME_EXCHANGE swaps a file and a directory" "wrong result"; show_output ;;
esac

# ---------------------------------------------------------------------------
section "unlink and hard links"

L=$MNT/links
hard_links() {
	echo linked >"$L/orig" && mkdir -p "$L/sub"
	ln "$L/orig" "$L/second" && ln "$L/orig" "$L/sub/third" || return 1
	[ "$(stat -c %h "$L/orig")" = 3 ] || { echo "nlink $(stat -c %h "$L/orig"), expected 3"; return 1; }
	[ "$(stat -c %i "$L/orig")" = "$(stat -c %i "$L/sub/third")" ] || return 1
	echo "through the link" >>"$L/second"
	[ "$(tail -1 "$L/orig")" = "through the link" ]
}
check "two hard links: nlink 3, one inode, shared data" hard_links
unlink_one_link() {
	rm "$L/orig" && [ ! -e "$L/orig" ] && [ "$(stat -c %h "$L/second")" = 2 ] &&
		[ "$(head -1 "$L/sub/third")" = linked ]
}
check "unlink one name: nlink 2, data intact" unlink_one_link
expect_fail "hard link to a directory fails (EPERM)" -e 'not allowed|Operation not permitted' ln "$L/sub" "$L/sublink"
expect_fail "unlink of a missing name fails (ENOENT)" -e 'No such file' rm "$L/nothing"
check "unlink the last name of a file" bash -c 'echo x >"$1/lonely" && rm "$1/lonely" && [ ! -e "$1/lonely" ]' _ "$L"

# ---------------------------------------------------------------------------
section "symbolic links"

# Lengths on both sides of what fits inside an inode.
SYMLINK_LENGTHS=(1 60 150 159 160 161 300 1000 4000 4095)
symlink_targets() {
	local n target
	for n in "${SYMLINK_LENGTHS[@]}"; do
		target=$(head -c "$n" /dev/zero | tr '\0' t)
		target=${target:0:$((n - 1))}Z
		ln -s "$target" "$L/sym-$n" || return 1
		[ "$(readlink "$L/sym-$n")" = "$target" ] || { echo "length $n reads back wrong"; return 1; }
		[ "$(stat -c %s "$L/sym-$n")" = "$n" ] || { echo "length $n: st_size $(stat -c %s "$L/sym-$n")"; return 1; }
	done
}
check "symlinks of ${SYMLINK_LENGTHS[*]} bytes read back" symlink_targets
check "a symlink is followed to a file" bash -c 'ln -s second "$1/to-second" && [ "$(head -1 "$1/to-second")" = linked ] && [ "$(stat -L -c %i "$1/to-second")" = "$(stat -c %i "$1/second")" ]' _ "$L"
check "a symlink is followed to a directory" bash -c 'ln -s sub "$1/to-sub" && [ -e "$1/to-sub/third" ]' _ "$L"
check "a dangling symlink reads back" bash -c 'ln -s /nonexistent/target "$1/dangling" && [ "$(readlink "$1/dangling")" = /nonexistent/target ]' _ "$L"
expect_fail "following a dangling symlink fails (ENOENT)" -e 'No such file' cat "$L/dangling"

# ---------------------------------------------------------------------------
section "device nodes and FIFOs"

N=$MNT/nodes
check "mkfifo" mkfifo "$N/fifo"
check "the FIFO has type fifo" bash -c '[ "$(stat -c %F "$1/fifo")" = fifo ]' _ "$N"
check "data passes through the FIFO" bash -c '(echo through >"$1/fifo" &) ; [ "$(timeout 20 cat "$1/fifo")" = through ]' _ "$N"
check "mknod a character device (1,3)" mknod "$N/null" c 1 3
check "it is a character device 1:3" bash -c '[ "$(stat -c "%F %t:%T" "$1/null")" = "character special file 1:3" ]' _ "$N"
check "writing to it discards, reading gives EOF" bash -c 'echo gone >"$1/null" && [ -z "$(head -c 10 "$1/null")" ]' _ "$N"
check "mknod a block device (7,200)" mknod "$N/blk" b 7 200
check "it is a block device 7:c8" bash -c '[ "$(stat -c "%F %t:%T" "$1/blk")" = "block special file 7:c8" ]' _ "$N"

# ---------------------------------------------------------------------------
section "permissions, ownership, timestamps"

F=$MNT/files/hello
check "chmod 640" bash -c 'chmod 640 "$1" && [ "$(stat -c %a "$1")" = 640 ]' _ "$F"
check "chmod 4755 keeps setuid" bash -c 'chmod 4755 "$1/files/random" && [ "$(stat -c %a "$1/files/random")" = 4755 ]' _ "$MNT"
check "chmod 1777 on a directory keeps sticky" bash -c 'chmod 1777 "$1/dirs/a" && [ "$(stat -c %a "$1/dirs/a")" = 1777 ]' _ "$MNT"
check "chown 1234:5678" bash -c 'chown 1234:5678 "$1" && [ "$(stat -c %u:%g "$1")" = 1234:5678 ]' _ "$F"
check "chown to a uid above 2^31" bash -c 'chown 3000000000:3000000001 "$1/files/empty" && [ "$(stat -c %u:%g "$1/files/empty")" = 3000000000:3000000001 ]' _ "$MNT"
check "chown of a symlink itself (-h)" bash -c 'chown -h 77:88 "$1/to-second" && [ "$(stat -c %u:%g "$1/to-second")" = 77:88 ] && [ "$(stat -c %u "$1/second")" = 0 ]' _ "$L"

# touch_check FILE FLAG DATE EXPECTED_EPOCH: FLAG -m or -a.
touch_check() {
	local got field=Y
	[ "$2" = -a ] && field=X
	touch "$2" -d "$3" "$1" || return 1
	got=$(stat -c "%.9$field" "$1")
	echo "$3 -> $got"
	[ "$got" = "$4" ]
}
touch "$MNT/files/t-mtime" "$MNT/files/t-atime" "$MNT/files/t-future" "$MNT/files/t-past"
check "mtime with nanoseconds" touch_check "$MNT/files/t-mtime" -m '2001-02-03 04:05:06.123456789 UTC' 981173106.123456789
check "atime with nanoseconds" touch_check "$MNT/files/t-atime" -a '2011-12-13 14:15:16.987654321 UTC' 1323785716.987654321
check "mtime after 2038" touch_check "$MNT/files/t-future" -m '2100-01-01 00:00:00.5 UTC' 4102444800.500000000
check "mtime before 1970" touch_check "$MNT/files/t-past" -m '1969-07-20 20:17:40 UTC' -14182940.000000000
check "chmod updates ctime" bash -c 'a=$(stat -c %.9Z "$1"); sleep 0.05; chmod 600 "$1"; [ "$(stat -c %.9Z "$1")" != "$a" ]' _ "$MNT/files/t-mtime"

# ---------------------------------------------------------------------------
section "extended attributes"

A=$MNT/attrs
touch "$A/f"
mkdir "$A/dir"
getx() { getfattr --absolute-names --only-values -n "$2" "$1"; }
check "set user.color" setfattr -n user.color -v blue "$A/f"
check "get user.color" bash -c '[ "$(getfattr --absolute-names --only-values -n user.color "$1")" = blue ]' _ "$A/f"
check "set trusted.secret" setfattr -n trusted.secret -v s3cr3t "$A/f"
check "set an empty user.empty" setfattr -n user.empty "$A/f"
check "set a binary value" setfattr -n user.binary -v 0x00ff00ff7f "$A/f"
check "the binary value reads back" bash -c '[ "$(getfattr --absolute-names -e hex -n user.binary "$1" | grep ^user)" = "user.binary=0x00ff00ff7f" ]' _ "$A/f"
check "replace user.color with a longer value" bash -c 'setfattr -n user.color -v "a much longer shade of blue" "$1" && [ "$(getfattr --absolute-names --only-values -n user.color "$1")" = "a much longer shade of blue" ]' _ "$A/f"
xattr_names() { getfattr --absolute-names -m - -d "$1" | sed -n '/^[a-z]*\./{s/=.*//;p}' | LC_ALL=C sort | tr '\n' ' '; }
check_eq "listxattr shows exactly the four names" "trusted.secret user.binary user.color user.empty " "$(xattr_names "$A/f")"
check "remove user.color" setfattr -x user.color "$A/f"
expect_fail "a removed attribute is gone (ENODATA)" -e 'No such attribute' getfattr -n user.color "$A/f"
check_eq "the list no longer has it" "trusted.secret user.binary user.empty " "$(xattr_names "$A/f")"
expect_fail "removing a missing attribute fails (ENODATA)" -e 'No such attribute' setfattr -x user.never "$A/f"
check "a user.* attribute on a directory" bash -c 'setfattr -n user.kind -v collection "$1" && [ "$(getfattr --absolute-names --only-values -n user.kind "$1")" = collection ]' _ "$A/dir"
check "a trusted.* attribute on a symlink (-h)" bash -c 'ln -s f "$1/sl" && setfattr -h -n trusted.on-link -v yes "$1/sl" && [ "$(getfattr -h --absolute-names --only-values -n trusted.on-link "$1/sl")" = yes ]' _ "$A"

three_kib_of_attrs() {
	local i v
	for i in 1 2 3; do
		v=$(head -c 1000 /dev/zero | tr '\0' "$i")
		setfattr -n "user.big$i" -v "$v" "$A/dir" || return 1
	done
	for i in 1 2 3; do
		v=$(head -c 1000 /dev/zero | tr '\0' "$i")
		[ "$(getx "$A/dir" "user.big$i")" = "$v" ] || { echo "user.big$i differs"; return 1; }
	done
}
check "three 1000-byte values on one inode" three_kib_of_attrs
too_big_value() {
	setfattr -n user.huge -v "$(head -c 8000 /dev/zero | tr '\0' h)" "$A/f"
}
expect_fail "an 8000-byte value fails with ENOSPC or E2BIG" -e 'No space left|Argument list too long' too_big_value
check_eq "the failed set left the other attributes" "trusted.secret user.binary user.empty " "$(xattr_names "$A/f")"
check "xattrs go away with the file" bash -c 'touch "$1/tmp" && setfattr -n user.x -v y "$1/tmp" && rm "$1/tmp"' _ "$A"

# ---------------------------------------------------------------------------
section "statfs"

IMG_BYTES=$(stat -c %s "$IMG")
statfs_geometry() {
	local bs total free avail
	bs=$(fs_block_size "$MNT") total=$(fs_blocks_total "$MNT")
	free=$(fs_blocks_free "$MNT") avail=$(fs_blocks_avail "$MNT")
	echo "bsize $bs total $total free $free avail $avail inodes $(fs_inodes_total "$MNT")/$(fs_inodes_free "$MNT") image $IMG_BYTES"
	[ $((total * bs)) -le "$IMG_BYTES" ] && [ $((total * bs)) -ge $((IMG_BYTES * 8 / 10)) ] &&
		[ "$free" -le "$total" ] && [ "$avail" -le "$free" ] &&
		[ "$(fs_inodes_free "$MNT")" -le "$(fs_inodes_total "$MNT")" ] && [ "$(fs_inodes_total "$MNT")" -gt 0 ]
}
check "statfs sizes match the image (80-100%), free <= total" statfs_geometry
check "df lists the mount" bash -c 'df -h "$1" && df -i "$1" | grep -q "$1"' _ "$MNT"

FREE_BEFORE=
free_bytes() { sync; echo $(($(fs_blocks_free "$MNT") * $(fs_block_size "$MNT"))); }
free_drops_on_write() {
	FREE_BEFORE=$(free_bytes)
	local inodes_before after
	inodes_before=$(fs_inodes_free "$MNT")
	head -c $((16 << 20)) /dev/urandom >"$MNT/files/space-hog" || return 1
	after=$(free_bytes)
	echo "free $FREE_BEFORE -> $after (drop $((FREE_BEFORE - after)))"
	[ $((FREE_BEFORE - after)) -ge $((16 << 20)) ] && [ $((FREE_BEFORE - after)) -le $((17 << 20)) ] &&
		[ "$(fs_inodes_free "$MNT")" -eq $((inodes_before - 1)) ]
}
check "writing 16 MiB lowers free space by 16-17 MiB and free inodes by 1" free_drops_on_write
free_rises_on_delete() {
	rm "$MNT/files/space-hog" || return 1
	local after
	after=$(free_bytes)
	echo "free after delete $after, before the write $FREE_BEFORE"
	[ "$after" -ge $((FREE_BEFORE - (256 << 10))) ]
}
check "deleting it gives the space back" free_rises_on_delete

# ---------------------------------------------------------------------------
section "everything survives an unmount and mount"

# manifest FILE: metadata of every inode, content of every regular file
# (the 4 GiB file by its chunks), symlink targets and xattrs.
manifest() {
	(
		cd "$MNT" || exit 1
		find . -print0 | LC_ALL=C sort -z |
			xargs -0 stat -c '%n|%F|%a|%u|%g|%s|%.9Y|%h|%i|%t:%T'
		find . -type f ! -name big.sparse -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
		find . -type l -print0 | LC_ALL=C sort -z | xargs -0 readlink | sha256sum
		getfattr -R -h -d -m - -e hex . 2>/dev/null
	) >"$1"
}
check "record the manifest" manifest "$SCRATCH/manifest.before"
log "manifest: $(wc -l <"$SCRATCH/manifest.before") lines"
check "unmount and mount again" remount
check "record the manifest again" manifest "$SCRATCH/manifest.after"
check "every inode, content, link target and xattr is identical" diff "$SCRATCH/manifest.before" "$SCRATCH/manifest.after"
check "every file compares equal to its reference" bash -c '
	cd "$2" && for f in random appended trunc offset fragmented mmapped; do cmp "$f" "$1/files/$f" || exit 1; done' _ "$MNT" "$REF"
check "4 GiB file after the remount" verify_big
check "moved directory after the remount" moved_dir_parents
check "sparse file still reads zeros in its hole" is_zeros "$MNT/files/sparse" $((32 << 20))

# Truncation of an extent tree that came from disk: the data past the new
# size must be gone, and must not come back when the file grows again.
big_truncate() {
	truncate -s $((600 << 20)) "$BIG" || return 1
	read_bytes "$BIG" $((300 << 20)) $((1 << 20)) | cmp - "$REF/big-1" || return 1
	[ -z "$(read_bytes "$BIG" $((1 << 30)) 100)" ] || { echo "reads past EOF return data"; return 1; }
	truncate -s "$BIG_SIZE" "$BIG" || return 1
	read_bytes "$BIG" $(((1 << 30) + (7 << 20))) $((1 << 20)) | is_zeros - $((1 << 20)) ||
		{ echo "old data reappeared after growing"; return 1; }
	read_bytes "$BIG" 0 $((1 << 20)) | cmp - "$REF/big-0"
}
check "truncate the 4 GiB file to 600 MiB and back: tail reads zeros" big_truncate

# ---------------------------------------------------------------------------
section "read-only remount"

check "mount -o remount,ro" mount -o remount,ro "$MNT"
check "the mount is listed read-only" bash -c 'grep " $1 " /proc/mounts | grep -qw ro' _ "$MNT"
expect_fail "creating a file fails with EROFS" -e 'Read-only file system' touch "$MNT/new-file"
expect_fail "appending fails with EROFS" -e 'Read-only file system' bash -c 'echo x >>"$1/files/hello"' _ "$MNT"
expect_fail "mkdir fails with EROFS" -e 'Read-only file system' mkdir "$MNT/new-dir"
expect_fail "unlink fails with EROFS" -e 'Read-only file system' rm "$MNT/files/offset"
expect_fail "setfattr fails with EROFS" -e 'Read-only file system' setfattr -n user.ro -v x "$MNT/attrs/f"
expect_fail "chmod fails with EROFS" -e 'Read-only file system' chmod 600 "$MNT/files/offset"
check "reads still work" bash -c 'cd "$2" && for f in random fragmented; do cmp "$f" "$1/files/$f" || exit 1; done' _ "$MNT" "$REF"
check "mount -o remount,rw" mount -o remount,rw "$MNT"
check "writing works again" bash -c 'echo back >"$1/files/rw-again" && [ "$(cat "$1/files/rw-again")" = back ] && rm "$1/files/rw-again"' _ "$MNT"

check "final unmount" umount "$MNT"
check_fsck "fsck finds the filesystem clean"
teardown
summary
