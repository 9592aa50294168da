#!/usr/bin/env python3
"""Guest test of vector collections: batch insert of SIFT, exact search
recall against the ground truth (before and after a remount), predicates,
per-file vectors, bad input and permissions.

Run as root inside the guest with the module loaded; prints
"N passed, M failed" and exits non-zero on any failure.
"""
import array
import ctypes
import errno
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vexfs_ioctl as vx  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("VEXFS_SIFT", os.path.join(REPO, "..", "shared", "data", "sift5k"))
SCRATCH = os.environ.get("VEXFS_SCRATCH", "/tmp")
IMG, MNT = os.path.join(SCRATCH, "vectors.img"), os.path.join(SCRATCH, "vectors")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def expect_errno(name, code, fn):
    try:
        fn()
    except OSError as e:
        check(name, e.errno == code, f"errno {e.errno} != {code}")
        return e
    check(name, False, "no error")
    return None


def sh(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def mount(dev):
    os.makedirs(MNT, exist_ok=True)
    sh("mount", "-t", "vexfs", dev, MNT)


def remount(dev):
    sh("umount", MNT)
    mount(dev)


def recall_at_10(dirfd, queries, truth):
    hits = 0
    for q, gt in zip(queries, truth):
        res, _ = vx.search(dirfd, q, 10)
        hits += len({r[0] - 1 for r in res} & set(gt[:10]))
    return hits / (10 * len(queries))


def test_search(coll, queries, truth, label):
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    r = recall_at_10(fd, queries, truth)
    print(f"recall@10 {label}: {r:.4f}")
    check(f"recall@10 = 1.0 {label}", r == 1.0, f"got {r}")
    res, scanned = vx.search(fd, queries[0], 10)
    check(f"results best first {label}", all(res[i][2] <= res[i + 1][2] for i in range(len(res) - 1)))
    check(f"exact scan visits every vector {label}", scanned == 4900, f"scanned {scanned}")
    os.close(fd)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def test_evicted(coll, base, queries, truth):
    """The vectors stay in the table's blocks, not in a copy in memory:
    with the directory held open (its collection loaded) and the caches
    dropped, search and both vector reads go back to the disk."""
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    vx.search(fd, queries[0], 10)
    drop_caches()
    r = recall_at_10(fd, queries, truth)
    check("recall@10 = 1.0 with the table's blocks evicted", r == 1.0, f"got {r}")
    drop_caches()
    wrong = []
    for i in range(0, 4900, 97):
        ffd = os.open(os.path.join(coll, str(i + 1)), os.O_RDONLY)
        v, vid, _ = vx.get_vector(ffd, 128)
        os.close(ffd)
        if vid != i + 1 or array.array("f", v).tobytes() != base[i].tobytes():
            wrong.append(i + 1)
    check("GET_VECTOR reads each vector back from the disk", not wrong, wrong[:5])
    drop_caches()
    vecs = bytearray(4 * 128 * 4900)
    inos, _ = vx.read_vectors(fd, 128, 4900, vecs=vecs)
    got = sorted(bytes(vecs[4 * 128 * i:4 * 128 * (i + 1)]) for i, ino in enumerate(inos) if ino)
    want = sorted(r.tobytes() for r in base[:4900])
    check("READ_VECTORS reads every vector back from the disk", got == want,
          f"{len(got)} live slots")
    os.close(fd)


def test_bad_input(fd, base):
    dim = 128
    q = list(base[0])
    expect_errno("search wrong dim", errno.EINVAL, lambda: vx.search(fd, q[:64], 10))
    expect_errno("search k=0", errno.EINVAL, lambda: vx.search(fd, q, 0))
    expect_errno("search k too large", errno.EINVAL, lambda: vx.search(fd, q, 100000))
    expect_errno("search NaN", errno.EINVAL, lambda: vx.search(fd, [float("nan")] + q[1:], 10))
    expect_errno("search Inf", errno.EINVAL, lambda: vx.search(fd, [float("inf")] + q[1:], 10))
    expect_errno("search bad predicate", errno.EINVAL, lambda: vx.search(fd, q, 10, (99, 0, 0)))
    expect_errno("search predicate word out of range", errno.EINVAL, lambda: vx.search(fd, q, 10, (1, 9, 0)))
    import fcntl, struct
    buf = bytearray(struct.pack(vx.SEARCH_FMT, 96, dim, 10, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    expect_errno("search bad pointer", errno.EFAULT, lambda: fcntl.ioctl(fd, vx.IOC_SEARCH_V0, buf))
    buf = bytearray(struct.pack(vx.SEARCH_FMT, 64, dim, 10, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    expect_errno("search wrong struct size", errno.EINVAL, lambda: fcntl.ioctl(fd, vx.IOC_SEARCH_V0, buf))
    expect_errno("unknown ioctl", errno.ENOTTY, lambda: fcntl.ioctl(fd, vx._ioc(3, 0x7f, 8), bytearray(8)))
    # scanned is an output: what the caller left in it must not add up.
    qbuf = bytearray(array.array("f", q).tobytes())
    res = bytearray(24 * 10)
    buf = bytearray(struct.pack(vx.SEARCH_FMT, 96, dim, 10, 0, vx._addr(qbuf), vx._addr(res),
                                0, 1, 0, 0, 0, 0, 12345, 0, 0, 0, 0))
    fcntl.ioctl(fd, vx.IOC_SEARCH_V0, buf)
    check("scanned counts this search only, whatever the caller passed in",
          struct.unpack(vx.SEARCH_FMT, buf)[12] == vx.search(fd, q, 10, flags=1)[1])

    before = vx.get_collection(fd)["count"]
    vecs = array.array("f", [1.0] * (3 * dim))
    e = expect_errno("batch duplicate id", errno.EINVAL,
                     lambda: vx.batch_insert(fd, [90001, 90002, 90001], vecs.tobytes(), dim))
    check("batch duplicate id index", e is not None and e.error_index == 2, getattr(e, "error_index", None))
    bad = array.array("f", [1.0] * (3 * dim))
    bad[dim + 5] = float("nan")
    e = expect_errno("batch NaN", errno.EINVAL, lambda: vx.batch_insert(fd, [90001, 90002, 90003], bad.tobytes(), dim))
    check("batch NaN index", e is not None and e.error_index == 1, getattr(e, "error_index", None))
    e = expect_errno("batch existing name", errno.EEXIST,
                     lambda: vx.batch_insert(fd, [90001, 7, 90003], vecs.tobytes(), dim))
    check("batch existing name index", e is not None and e.error_index == 1, getattr(e, "error_index", None))
    expect_errno("batch zero id", errno.EINVAL, lambda: vx.batch_insert(fd, [0], vecs.tobytes()[:4 * dim], dim))
    expect_errno("batch wrong dim", errno.EINVAL, lambda: vx.batch_insert(fd, [90001], vecs.tobytes()[:256], 64))
    after = vx.get_collection(fd)["count"]
    check("failed batches change nothing", before == after and not os.path.exists(os.path.join(MNT, "c", "90001")),
          f"{before} -> {after}")


def test_batch_names(fd, coll, dim):
    """A batch finds the names its directory holds whether the dcache has
    them or not, and creates names the dcache knows to be missing."""
    vec = array.array("f", [2.0] * dim).tobytes()
    names = [os.path.join(coll, str(i)) for i in (90100, 90102, 90103)]
    with open(names[0], "w") as f:
        f.write("x")
    drop_caches()
    e = expect_errno("batch: a name only on disk (caches dropped) is EEXIST", errno.EEXIST,
                     lambda: vx.batch_insert(fd, [90101, 90100], vec * 2, dim))
    check("batch: ... and error_index names it", e is not None and e.error_index == 1,
          getattr(e, "error_index", None))
    check("batch: a name looked up and missing is missing", not os.path.exists(names[1]))
    vx.batch_insert(fd, [90102, 90103], vec * 2, dim)
    ffd = os.open(names[1], os.O_RDONLY)
    _, vid, _ = vx.get_vector(ffd, dim)
    os.close(ffd)
    check("batch: a name the dcache knew as missing is created with its vector",
          vid == 90102, vid)
    drop_caches()
    check("batch: its names are in the directory once the caches are dropped",
          {"90102", "90103"} <= set(os.listdir(coll)) and not os.path.exists(
              os.path.join(coll, "90101")))
    expect_errno("batch: a name the last batch made is EEXIST", errno.EEXIST,
                 lambda: vx.batch_insert(fd, [90103], vec, dim))
    for name in names:
        os.unlink(name)


def test_batch_dead_dir():
    """A batch into a collection removed while its caller holds it open is
    refused whole, and leaves nothing that keeps the removed directory's
    inode and blocks from being freed."""
    d = os.path.join(MNT, "gone")
    os.sync()
    before = os.statvfs(MNT)
    os.mkdir(d)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    vx.create_collection(fd, 4)
    os.rmdir(d)
    e = expect_errno("batch into a removed collection", errno.ENOENT,
                     lambda: vx.batch_insert(fd, [1, 2], array.array("f", [1.0] * 8).tobytes(), 4))
    check("batch into a removed collection: refused whole",
          e is not None and e.error_index == 2, getattr(e, "error_index", None))
    os.close(fd)
    os.sync()
    after = os.statvfs(MNT)
    check("batch into a removed collection: its blocks and inodes are free once closed",
          (after.f_bfree, after.f_ffree) == (before.f_bfree, before.f_ffree),
          f"blocks {before.f_bfree} -> {after.f_bfree}, inodes {before.f_ffree} -> {after.f_ffree}")


def test_slot_reuse(dev):
    """Freed slots are taken again, however many were freed at once, before
    the table grows; and after a remount, which finds them on disk."""
    d = os.path.join(MNT, "reuse")
    os.mkdir(d)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    vx.create_collection(fd, 4)

    def batch(first, n):
        vx.batch_insert(fd, list(range(first, first + n)),
                        array.array("f", [float(i) for i in range(4 * n)]).tobytes(), 4)
    batch(1, 300)
    slots = vx.get_collection(fd)["slots"]
    for i in range(1, 201):
        os.unlink(os.path.join(d, str(i)))
    batch(1001, 200)
    info = vx.get_collection(fd)
    check("200 freed slots taken by the next 200 vectors",
          info["slots"] == slots and info["count"] == 300, (slots, info))
    for i in range(1001, 1201):
        os.unlink(os.path.join(d, str(i)))
    os.close(fd)
    remount(dev)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    slots = vx.get_collection(fd)["slots"]
    batch(2001, 200)
    info = vx.get_collection(fd)
    check("... and after a remount",
          info["slots"] == slots and info["count"] == 300, (slots, info))
    os.close(fd)


def test_files(coll, base):
    path = os.path.join(coll, "doc.txt")
    with open(path, "w") as f:
        f.write("a document\n")
    fd = os.open(path, os.O_RDWR)
    vec = [float(i) / 7 for i in range(128)]
    vx.set_vector(fd, vec, 4242, (1, 2, 3, 4))
    got, vid, attrs = vx.get_vector(fd, 128)
    check("set/get vector round trip", got == list(array.array("f", vec)) and vid == 4242 and attrs == [1, 2, 3, 4])
    dfd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    res, _ = vx.search(dfd, vec, 1)
    check("file vector is found", res and res[0][0] == 4242 and res[0][2] == 0.0, res)
    raw = os.getxattr(path, "user.vexfs.vector")
    check("xattr shows the vector", raw == array.array("f", vec).tobytes())
    check("xattr is listed", "user.vexfs.vector" in os.listxattr(path))
    os.setxattr(path, "user.vexfs.vector", array.array("f", [2.0] * 128).tobytes())
    got, vid, attrs = vx.get_vector(fd, 128)
    check("setfattr changes the vector, keeps id and attrs", got == [2.0] * 128 and vid == 4242 and attrs == [1, 2, 3, 4])
    expect_errno("xattr of wrong length", errno.EINVAL,
                 lambda: os.setxattr(path, "user.vexfs.vector", b"\0" * 12))
    expect_errno("xattr with NaN", errno.EINVAL,
                 lambda: os.setxattr(path, "user.vexfs.vector", array.array("f", [float("nan")] * 128).tobytes()))
    os.removexattr(path, "user.vexfs.vector")
    expect_errno("removexattr deletes the vector", errno.ENODATA, lambda: vx.get_vector(fd, 128))
    vx.set_vector(fd, vec, 4242, (1, 2, 3, 4))
    vx.del_vector(fd)
    expect_errno("deleted vector is gone", errno.ENODATA, lambda: vx.get_vector(fd, 128))
    expect_errno("set vector wrong dim", errno.EINVAL, lambda: vx.set_vector(fd, vec[:3]))
    vx.set_vector(fd, vec, 4243)
    os.close(fd)
    n0 = vx.get_collection(dfd)["count"]
    os.unlink(path)
    check("unlink frees the slot", vx.get_collection(dfd)["count"] == n0 - 1)
    res, _ = vx.search(dfd, vec, 5)
    check("unlinked file never returned", all(r[0] != 4243 for r in res))
    test_rename_carries(coll, dfd, vec)
    test_copy_carries(coll, dfd, vec)
    # A vector outlives a name but not the file: hard-link it out, drop both names.
    n0 = vx.get_collection(dfd)["count"]
    fd = os.open(os.path.join(coll, "hl"), os.O_CREAT | os.O_RDWR)
    vx.set_vector(fd, vec, 7000001)
    os.close(fd)
    os.link(os.path.join(coll, "hl"), os.path.join(MNT, "hl-out"))
    os.unlink(os.path.join(coll, "hl"))
    check("a hard link elsewhere keeps the vector", vx.get_collection(dfd)["count"] == n0 + 1)
    os.unlink(os.path.join(MNT, "hl-out"))
    res, _ = vx.search(dfd, vec, 3)
    check("the last link removed outside frees the vector",
          vx.get_collection(dfd)["count"] == n0 and all(r[0] != 7000001 for r in res), res)
    os.close(dfd)


def exchange(a, b):
    """renameat2(RENAME_EXCHANGE): Python's os has no such call."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), a)


def find(dfd, vec):
    res, _ = vx.search(dfd, vec, 1)
    return res[0][0] if res else None


def vector_of(path, dim):
    """(id, attrs) of the file's vector, read in its directory's collection."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _, vid, attrs = vx.get_vector(fd, dim)
        return vid, list(attrs)
    finally:
        os.close(fd)


def vec_bytes(v):
    return struct.pack("<%df" % len(v), *v)


def test_rename_carries(coll, dfd, vec):
    """A rename into a collection of the same dimension and metric carries
    the vector, id and metadata; a rename out of its collection anywhere
    else keeps it with the file, searched nowhere, read through its
    xattrs, until a rename into a collection of its shape gives it back."""
    attrs = [7, 8, 9, 10]
    # A directory renamed within its parent: the VFS locks no inode of it,
    # and nothing is carried (the debug kernel's lockdep checks the rest).
    os.mkdir(os.path.join(coll, "dd"))
    os.rename(os.path.join(coll, "dd"), os.path.join(coll, "de"))
    os.rename(os.path.join(coll, "de"), os.path.join(MNT, "de"))
    check("directories rename within and out of a collection", os.path.isdir(os.path.join(MNT, "de")))
    os.rmdir(os.path.join(MNT, "de"))
    path = os.path.join(coll, "r1")
    fd = os.open(path, os.O_CREAT | os.O_RDWR)
    vx.set_vector(fd, vec, 5000001, attrs)
    os.close(fd)
    os.rename(path, os.path.join(coll, "r2"))
    check("rename inside keeps the vector", find(dfd, vec) == 5000001)
    twin = os.path.join(MNT, "twin")
    os.mkdir(twin)
    tfd = os.open(twin, os.O_RDONLY)
    vx.create_collection(tfd, 128, "l2")
    n0, t0 = vx.get_collection(dfd)["count"], vx.get_collection(tfd)["count"]
    os.rename(os.path.join(coll, "r2"), os.path.join(twin, "r2"))
    check("into a collection of the same shape the vector moves",
          vx.get_collection(dfd)["count"] == n0 - 1 and vx.get_collection(tfd)["count"] == t0 + 1
          and find(tfd, vec) == 5000001 and find(dfd, vec) != 5000001)
    check("with its id and metadata", vector_of(os.path.join(twin, "r2"), 128) == (5000001, attrs))
    os.rename(os.path.join(twin, "r2"), os.path.join(coll, "r2"))
    check("and back", vector_of(os.path.join(coll, "r2"), 128) == (5000001, attrs)
          and vx.get_collection(tfd)["count"] == t0)
    other = os.path.join(MNT, "other-dim")
    os.mkdir(other)
    ofd = os.open(other, os.O_RDONLY)
    vx.create_collection(ofd, 4, "l2")
    os.rename(os.path.join(coll, "r2"), os.path.join(other, "r2"))
    check("into a collection of another dimension the vector is kept, searched in neither",
          vx.get_collection(ofd)["count"] == 0 and vx.get_collection(dfd)["count"] == n0 - 1
          and find(dfd, vec) != 5000001)
    check("the kept vector reads as user.vexfs.vector and user.vexfs.meta",
          os.getxattr(os.path.join(other, "r2"), "user.vexfs.vector") == vec_bytes(vec)
          and meta_of(os.path.join(other, "r2")) == (5000001, attrs))
    os.rename(os.path.join(other, "r2"), os.path.join(coll, "r2"))
    check("back in its collection it is searched again, id and metadata kept",
          find(dfd, vec) == 5000001 and vector_of(os.path.join(coll, "r2"), 128) == (5000001, attrs)
          and vx.get_collection(dfd)["count"] == n0)
    os.rename(os.path.join(coll, "r2"), os.path.join(MNT, "r3"))
    r3 = os.path.join(MNT, "r3")
    check("out of any collection it is kept too: not found where the file was",
          vx.get_collection(dfd)["count"] == n0 - 1 and find(dfd, vec) != 5000001
          and os.getxattr(r3, "user.vexfs.vector") == vec_bytes(vec))
    check("listxattr names it", os.listxattr(r3)[:2] == ["user.vexfs.vector", META], os.listxattr(r3))
    os.setxattr(r3, META, struct.pack("<5Q", 5000003, 1, 1, 2, 3))
    check("user.vexfs.meta sets the kept id and metadata", meta_of(r3) == (5000003, [1, 1, 2, 3]))
    os.rename(r3, os.path.join(twin, "r3"))
    check("a kept vector goes into any collection of its shape",
          find(tfd, vec) == 5000003 and vector_of(os.path.join(twin, "r3"), 128) == (5000003, [1, 1, 2, 3]))
    os.rename(os.path.join(twin, "r3"), r3)
    os.removexattr(r3, "user.vexfs.vector")
    expect_errno("removed, the file has no user.vexfs.vector", errno.ENODATA,
                 lambda: os.getxattr(r3, "user.vexfs.vector"))
    os.rename(r3, os.path.join(coll, "r3"))
    check("and comes back into its collection without one",
          vx.get_collection(dfd)["count"] == n0 - 1 and find(dfd, vec) != 5000003)
    os.unlink(os.path.join(coll, "r3"))
    test_kept_limits(coll, dfd, vec)
    # RENAME_EXCHANGE of two files of two collections swaps their vectors.
    for d, name, v, vid, a in ((coll, "r4", vec, 5000001, attrs),
                               (twin, "x", [x + 1 for x in vec], 5000002, [1, 2, 3, 4])):
        fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_RDWR)
        vx.set_vector(fd, v, vid, a)
        os.close(fd)
    exchange(os.path.join(coll, "r4"), os.path.join(twin, "x"))
    check("an exchange swaps the vectors with the names",
          vector_of(os.path.join(coll, "r4"), 128) == (5000002, [1, 2, 3, 4])
          and vector_of(os.path.join(twin, "x"), 128) == (5000001, attrs))
    open(os.path.join(other, "y"), "w").close()
    exchange(os.path.join(coll, "r4"), os.path.join(other, "y"))
    check("swapped with a file of another dimension, a vector is kept",
          vx.get_collection(ofd)["count"] == 0 and find(dfd, [x + 1 for x in vec]) != 5000002
          and meta_of(os.path.join(other, "y")) == (5000002, [1, 2, 3, 4]))
    test_set_over_kept(coll, other, ofd, vec)
    os.unlink(os.path.join(coll, "r4"))
    os.unlink(os.path.join(other, "y"))
    os.unlink(os.path.join(twin, "x"))
    check("unlinked, both are gone", vx.get_collection(tfd)["count"] == t0)
    for d, dirfd in ((twin, tfd), (other, ofd)):
        os.close(dirfd)
        os.rmdir(d)


META = "user.vexfs.meta"


def test_set_over_kept(coll, other, ofd, vec):
    """A vector set where the file kept one supersedes it in the same
    transaction, which frees the file's xattr block: that revoke must be
    reserved when the handle starts (a nested handle cannot grow once a
    commit has begun, and the revoke was lost under load)."""
    path = os.path.join(coll, "k1")
    fd = os.open(path, os.O_CREAT | os.O_RDWR)
    vx.set_vector(fd, vec, 5000007, (7, 7, 7, 7))
    os.close(fd)
    os.rename(path, os.path.join(other, "k1"))
    path = os.path.join(other, "k1")
    n = vx.get_collection(ofd)["count"]
    fd = os.open(path, os.O_RDWR)
    mark = len(sh("dmesg").splitlines())
    vx.set_vector(fd, [1, 2, 3, 4], 5000008)
    os.close(fd)
    check("a vector set over a kept one takes a slot in its collection",
          vx.get_collection(ofd)["count"] == n + 1 and vector_of(path, 4)[0] == 5000008)
    said = [l for l in sh("dmesg").splitlines()[mark:] if "vexfs" in l]
    check("its handle reserved the revoke of the freed xattr block", not said, said[:3])
    os.unlink(path)


def test_kept_limits(coll, dfd, vec):
    """What a kept vector may be: set outside any collection (cp -a does)
    it needs only a sane dimension; one that cannot be kept beside the
    file (over VEXFS_KEPT_MAX_DIM components) makes the rename ENOSPC,
    and nothing changes."""
    plain = os.path.join(MNT, "kept-plain")
    open(plain, "w").close()
    expect_errno("no vector, nothing to read", errno.ENODATA,
                 lambda: os.getxattr(plain, "user.vexfs.vector"))
    expect_errno("a vector of 0 components", errno.EINVAL,
                 lambda: os.setxattr(plain, "user.vexfs.vector", b""))
    expect_errno("a length that is no float32 array", errno.EINVAL,
                 lambda: os.setxattr(plain, "user.vexfs.vector", b"abcde"))
    expect_errno("a NaN", errno.EINVAL,
                 lambda: os.setxattr(plain, "user.vexfs.vector", vec_bytes([float("nan")] * 4)))
    expect_errno("more than fits beside the file", errno.ENOSPC,
                 lambda: os.setxattr(plain, "user.vexfs.vector", vec_bytes([1.0] * 1536)))
    expect_errno("XATTR_REPLACE with none", errno.ENODATA,
                 lambda: os.setxattr(plain, "user.vexfs.vector", vec_bytes(vec), os.XATTR_REPLACE))
    os.setxattr(plain, "user.vexfs.vector", vec_bytes(vec))
    check("set outside a collection, it is kept, its id the inode number",
          meta_of(plain) == (os.stat(plain).st_ino, [0, 0, 0, 0]))
    os.rename(plain, os.path.join(coll, "kept-in"))
    check("and goes into a collection of its dimension",
          find(dfd, vec) == os.stat(os.path.join(coll, "kept-in")).st_ino)
    os.unlink(os.path.join(coll, "kept-in"))
    big = os.path.join(MNT, "kept-big")
    os.mkdir(big)
    bfd = os.open(big, os.O_RDONLY)
    vx.create_collection(bfd, 1536, "cosine")
    wide = [float(i % 7) + 1 for i in range(1536)]
    fd = os.open(os.path.join(big, "w"), os.O_CREAT | os.O_RDWR)
    vx.set_vector(fd, wide, 8000001)
    os.close(fd)
    expect_errno("a 1,536-d vector cannot be kept: the rename out is ENOSPC", errno.ENOSPC,
                 lambda: os.rename(os.path.join(big, "w"), os.path.join(MNT, "w")))
    check("and the file and its vector stay where they were",
          os.path.exists(os.path.join(big, "w")) and not os.path.exists(os.path.join(MNT, "w"))
          and vx.get_collection(bfd)["count"] == 1 and find(bfd, wide) == 8000001)
    os.unlink(os.path.join(big, "w"))
    os.close(bfd)
    os.rmdir(big)


def meta_of(path):
    raw = os.getxattr(path, META)
    vid, *attrs = struct.unpack("<5Q", raw)
    return vid, attrs


def test_copy_carries(coll, dfd, vec):
    """cp -a carries the vector, its id and metadata (user.vexfs.vector,
    then user.vexfs.meta); the meta xattr sets id and metadata alone."""
    src, dst = os.path.join(coll, "cp-src"), os.path.join(coll, "cp-dst")
    fd = os.open(src, os.O_CREAT | os.O_RDWR)
    os.write(fd, b"payload")
    vx.set_vector(fd, vec, 6000001, [11, 12, 13, 14])
    os.close(fd)
    check("listxattr names the vector, then its id and metadata",
          os.listxattr(src)[:2] == ["user.vexfs.vector", META], os.listxattr(src))
    check("user.vexfs.meta is the id and metadata words", meta_of(src) == (6000001, [11, 12, 13, 14]))
    sh("cp", "-a", src, dst)
    check("cp -a: the copy has the vector, id and metadata",
          vector_of(dst, 128) == (6000001, [11, 12, 13, 14])
          and os.getxattr(dst, "user.vexfs.vector") == os.getxattr(src, "user.vexfs.vector"))
    os.setxattr(src, META, struct.pack("<5Q", 6000002, 1, 2, 3, 4))
    check("setting user.vexfs.meta changes id and metadata, not the vector",
          vector_of(src, 128) == (6000002, [1, 2, 3, 4])
          and os.getxattr(src, "user.vexfs.vector") == os.getxattr(dst, "user.vexfs.vector"))
    expect_errno("user.vexfs.meta of another size", errno.EINVAL,
                 lambda: os.setxattr(src, META, b"x" * 8))
    expect_errno("user.vexfs.meta with id 0", errno.EINVAL,
                 lambda: os.setxattr(src, META, struct.pack("<5Q", 0, 1, 2, 3, 4)))
    expect_errno("user.vexfs.meta cannot go alone", errno.EOPNOTSUPP,
                 lambda: os.removexattr(src, META))
    expect_errno("XATTR_CREATE on user.vexfs.meta of a vector", errno.EEXIST,
                 lambda: os.setxattr(src, META, struct.pack("<5Q", 1, 0, 0, 0, 0), os.XATTR_CREATE))
    bare = os.path.join(coll, "cp-bare")
    open(bare, "w").close()
    expect_errno("no vector, no user.vexfs.meta", errno.ENODATA, lambda: os.getxattr(bare, META))
    expect_errno("and none to set", errno.ENODATA,
                 lambda: os.setxattr(bare, META, struct.pack("<5Q", 1, 0, 0, 0, 0)))
    out = os.path.join(MNT, "cp-out")
    sh("cp", "-a", src, out)
    check("cp -a out of any collection copies the vector, kept with the copy",
          open(out, "rb").read() == b"payload" and meta_of(out) == (6000002, [1, 2, 3, 4])
          and os.getxattr(out, "user.vexfs.vector") == os.getxattr(src, "user.vexfs.vector"))
    # Through a name outside the collection (a hard link), the xattrs
    # still read and remove the vector.
    n0 = vx.get_collection(dfd)["count"]
    link = os.path.join(MNT, "cp-link")
    os.link(dst, link)
    check("a hard link elsewhere reads user.vexfs.meta", meta_of(link) == (6000001, [11, 12, 13, 14]))
    expect_errno("setting it there is EBUSY: the collection holds it", errno.EBUSY,
                 lambda: os.setxattr(link, "user.vexfs.vector", os.getxattr(dst, "user.vexfs.vector")))
    os.removexattr(link, "user.vexfs.vector")
    check("removing user.vexfs.vector through it drops the vector",
          vx.get_collection(dfd)["count"] == n0 - 1)
    for path in (src, bare, out, dst, link):
        os.unlink(path)


def test_predicate(coll, base):
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    res, scanned = vx.search(fd, base[0], 20, (1, 0, 3))
    check("predicate EQ filters", len(res) == 20 and all(r[0] % 10 == 3 for r in res), res[:3])
    check("predicate narrows the scan", scanned < 4900 and scanned >= 480, scanned)
    res, _ = vx.search(fd, base[0], 10, (6, 1, 4000))
    check("predicate GE filters", len(res) == 10 and all(r[0] >= 4000 for r in res))
    os.close(fd)


def test_permissions(coll, base):
    # Make every file with an odd id unreadable to others, then search as nobody.
    for i in range(1, 4901, 2):
        os.chmod(os.path.join(coll, str(i)), 0o600)
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
            bad = 0
            for q in base[:20]:
                res, _ = vx.search(fd, q, 10)
                bad += sum(1 for r in res if r[0] % 2 == 1) + (len(res) != 10)
            f = os.open(os.path.join(coll, "2"), os.O_RDONLY)
            try:
                vx.set_vector(f, list(base[0]))
                bad += 1
            except OSError as e:
                bad += e.errno not in (errno.EACCES, errno.EPERM)
            os._exit(1 if bad else 0)
        except Exception as e:  # noqa: BLE001
            print("child:", e)
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    check("unprivileged search never returns unreadable files; cannot change vectors",
          os.waitstatus_to_exitcode(status) == 0, status)
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    res, _ = vx.search(fd, base[1], 10)
    check("root still sees all", any(r[0] % 2 == 1 for r in res))
    os.close(fd)


def _writer(coll, first, n, dim):
    """Create files with vectors, one set per file; each vector encodes its id."""
    for i in range(first, first + n):
        fd = os.open(os.path.join(coll, f"w{i}"), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            vx.set_vector(fd, [float(i)] + [float(i % 7)] * (dim - 1), i)
        except FileNotFoundError:
            pass  # unlinked between create and set: it may not get a vector
        os.close(fd)


def _deleter(coll, first, n):
    """Unlink every other file another writer creates, as soon as it exists."""
    for i in range(first, first + n, 2):
        path = os.path.join(coll, f"w{i}")
        for _ in range(2000):
            try:
                os.unlink(path)
                break
            except FileNotFoundError:
                pass


def _searcher(coll, dim, rounds):
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    bad = 0
    for r in range(rounds):
        res, _ = vx.search(fd, [float(r)] + [0.0] * (dim - 1), 10)
        bad += any(res[i][2] > res[i + 1][2] for i in range(len(res) - 1))
    os.close(fd)
    return bad


def test_concurrency(mnt):
    """Writers, a deleter and a searcher at once; then verify every survivor."""
    dim, n = 16, 400
    coll = os.path.join(mnt, "conc")
    os.mkdir(coll)
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    vx.create_collection(fd, dim)
    os.close(fd)
    jobs = [("w", 1000, n), ("w", 2000, n), ("d", 2000, n), ("s", 0, 0), ("s", 0, 0)]
    pids = []
    for kind, first, count in jobs:
        pid = os.fork()
        if pid == 0:
            try:
                if kind == "w":
                    _writer(coll, first, count, dim)
                    os._exit(0)
                if kind == "d":
                    _deleter(coll, first, count)
                    os._exit(0)
                os._exit(1 if _searcher(coll, dim, 150) else 0)
            except Exception as e:  # noqa: BLE001
                print("worker:", kind, e)
                os._exit(2)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    check("concurrent insert, unlink and search finish cleanly", codes == [0] * len(codes), codes)
    names = sorted(os.listdir(coll))
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    info = vx.get_collection(fd)
    check("vector count matches surviving files", info["count"] == len(names), (info, len(names)))
    wrong = 0
    for name in names:
        i = int(name[1:])
        f = os.open(os.path.join(coll, name), os.O_RDONLY)
        vec, vid, _ = vx.get_vector(f, dim)
        os.close(f)
        wrong += vid != i or vec[0] != float(i)
        res, _ = vx.search(fd, vec, 1)
        wrong += not res or res[0][0] != i or res[0][2] != 0.0
    check("every surviving vector intact and found", wrong == 0, f"{wrong} wrong of {len(names)}")
    os.close(fd)


def main():
    base = vx.read_vecs(os.path.join(DATA, "sift5k_base.fvecs"), "f")
    queries = vx.read_vecs(os.path.join(DATA, "sift5k_query.fvecs"), "f")
    truth = vx.read_vecs(os.path.join(DATA, "sift5k_groundtruth.ivecs"), "i")
    sh("truncate", "-s", "512M", IMG)
    dev = sh("losetup", "-f", "--show", IMG)
    sh("mkfs.vexfs", "-q", "-f", dev)
    mount(dev)
    coll = os.path.join(MNT, "c")
    os.mkdir(coll)
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    v = vx.version(fd)
    check("version ioctl", v[0] == 64 and v[1] == 1 and v[4] >= 4096, v)
    vx.create_collection(fd, 128, "l2")
    expect_errno("collection created twice", errno.EEXIST, lambda: vx.create_collection(fd, 128))
    info = vx.get_collection(fd)
    check("empty collection", info["dim"] == 128 and info["count"] == 0, info)
    for start in range(0, 4900, 1000):
        rows = base[start:start + 1000]
        vx.batch_insert(fd, [start + i + 1 for i in range(len(rows))],
                        b"".join(r.tobytes() for r in rows), 128,
                        attrs=[w for i in range(len(rows)) for w in ((start + i + 1) % 10, start + i + 1, 0, 0)])
    info = vx.get_collection(fd)
    check("4900 vectors inserted", info["count"] == 4900, info)
    check("4900 files created", len(os.listdir(coll)) == 4900)
    os.close(fd)

    test_search(coll, queries, truth, "after insert")
    remount(dev)
    test_search(coll, queries, truth, "after remount")
    test_evicted(coll, base, queries, truth)
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    test_bad_input(fd, base)
    test_batch_names(fd, coll, 128)
    test_batch_dead_dir()
    os.close(fd)
    test_predicate(coll, base)
    test_files(coll, base)
    test_permissions(coll, base)
    test_concurrency(MNT)
    test_slot_reuse(dev)
    remount(dev)
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    check("count survives the second remount", vx.get_collection(fd)["count"] == 4900, vx.get_collection(fd))
    os.close(fd)
    sh("umount", MNT)
    sh("losetup", "-d", dev)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
