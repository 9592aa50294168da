#!/usr/bin/env python3
"""Property test of who may see what through a collection.

A random tree (seeded; the seed is printed) of collections and files
owned by root and two unprivileged users, with random groups, file modes
and directory modes (directories without r or without x for some users,
sticky bits), files with vectors and metadata words, hard links across
collections and into a plain directory, and HNSW indexes published on
some collections (chains and random connected graphs over all or part of
the live slots). Each round changes the tree (modes, owners, vectors,
renames, links, unlinks, indexes), then each user, in a child that
switched to it, checks:

  - every search (exact, through the index, with a predicate, with a BPF
    filter) returns only files the child can open for reading by path, in
    that collection, holding a vector there, matching the predicate and
    the filter; results are sorted, at most k, at their true distance;
    an exact search returns the true top k of what the child may read;
  - a search fails with EACCES exactly when the child lacks read or
    search permission on the directory (the descriptor is opened by root
    before the switch, so directories the child cannot open are asked
    too);
  - `scanned` never exceeds the vectors of that collection the child may
    read;
  - GET_VECTOR, getxattr(user.vexfs.vector) and READ_VECTORS agree with
    open(O_RDONLY): a readable file's vector, EACCES otherwise (and
    GET_VECTOR through a descriptor opened for reading before the switch
    always works, as read(2) would); READ_VECTORS is EPERM without
    CAP_DAC_READ_SEARCH;
  - PUBLISH_INDEX and DROP_INDEX are EPERM for anyone but the directory's
    owner (and root), EACCES for an owner without write permission.

Root also checks after every round that each collection's table holds
exactly the vectors the model says (one slot per file in all) and that
SET_VECTOR through a second collection's link is EBUSY.

  VEXFS_PROPERTY_SEARCHES  searches in all (5000; make reliability: 20000)
  VEXFS_PROPERTY_SEED      seed (default: the time)
  VEXFS_PROPERTY_ROUNDS    rounds of changes (default: from the searches)

Run as root inside the guest with the module loaded; prints the searches
checked and the violations, then "N passed, M failed".
"""
import array
import ctypes
import errno
import fcntl
import json
import math
import os
import random
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hnsw_graph  # noqa: E402
import vexfs_ioctl as vx  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRATCH = os.environ.get("VEXFS_SCRATCH", "/tmp")
IMG = os.path.join(SCRATCH, "property.img")
MNT = os.path.join(SCRATCH, "property")
FSCK = os.environ.get("VEXFS_FSCK", "fsck.vexfs")
CTL = os.path.join(REPO, "build", "bin", "vexfsctl")
FILTER_DIR = os.path.join(REPO, "build", "bpf", "filters")

# uid -> (gid, supplementary groups). 1000 is also in group 2000, so a
# file of group 2000 is readable to it through its group bits alone.
USERS = {0: (0, []), 1000: (1000, [2000]), 1001: (1001, [])}
OWNERS = [0, 1000, 1001]
GROUPS = [0, 1000, 1001, 2000]

FILE_MODES = [0o644, 0o600, 0o640, 0o604, 0o400, 0o040, 0o004, 0o000, 0o666,
              0o200, 0o622, 0o060, 0o440, 0o044, 0o664]
DIR_MODES = [0o755, 0o750, 0o711, 0o700, 0o644, 0o705, 0o770, 0o1777, 0o1755,
             0o751, 0o715, 0o570, 0o1770, 0o511, 0o355, 0o775]

# The first version of the search struct; the filter name as 16 bytes.
SEARCH_FMT = "=" + "".join(code for _, code in vx.SEARCH_V0_FIELDS)

XATTR = "user.vexfs.vector"
# BPF filters: (name, object, settings, what they admit).
FILTERS = [
    ("prop_idmod", "idmod", ["modulus=3", "residue=1"], lambda f: f["id"] % 3 == 1),
    ("prop_tags", "tags", ["tag_mask=5"], lambda f: f["attrs"][0] & 5 == 5),
]
MAX_REPORTED = 60

# A filter that admits everything and records, per inode, the generation
# (set by the parent before each user's turn) in which it was asked about
# that inode: the parent then checks the filter was only ever shown files
# the user may read. Compiled here, against the module's BTF, since it is
# a test instrument and not a filter to install.
SEEN_FILTER = "prop_seen"
SEEN_SRC = r"""
#include "filter.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} prop_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} prop_seen_inos SEC(".maps");

SEC("struct_ops/seen_admit")
int BPF_PROG(seen_admit, const struct vexfs_filter_ctx *cand)
{
	__u32 zero = 0;
	__u64 ino = cand->ino;
	__u64 *gen = bpf_map_lookup_elem(&prop_gen, &zero);

	if (gen)
		bpf_map_update_elem(&prop_seen_inos, &ino, gen, BPF_ANY);
	return 1;
}

VEXFS_FILTER(prop_seen, seen_admit);
"""

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {detail}", flush=True)


def sh(*cmd, ok=(0,)):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in ok:
        raise RuntimeError(f"{cmd}: {r.returncode} {r.stderr.strip()}")
    return r


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "OK"


# --- the ioctls --------------------------------------------------------------

def addr(buf):
    return ctypes.addressof(ctypes.c_char.from_buffer(buf)) if len(buf) else 0


def search(fd, query, k, ef=0, exact=False, where=None, filt=""):
    q = bytearray(array.array("f", query).tobytes())
    res = bytearray(24 * k)
    op, word, value = where if where else (0, 0, 0)
    buf = bytearray(struct.pack(SEARCH_FMT, 96, len(query), k, ef, addr(q), addr(res), 0,
                                1 if exact else 0, op, word, 0, value, 0,
                                filt.encode(), 0, 0))
    fcntl.ioctl(fd, vx.IOC_SEARCH_V0, buf)
    f = struct.unpack(SEARCH_FMT, buf)
    out = [struct.unpack_from(vx.RESULT_FMT, res, 24 * i)[:3] for i in range(f[6])]
    return out, f[12]


def search_carrying(fd, query, k, ef=0, exact=False, where=None, filt="", copies=2):
    """The current struct: the query copies times in one call (nqueries),
    results carrying their metadata words and vectors. Each copy's results
    as [(id, ino, dist, attrs, vector)], and scanned over all copies."""
    dim, abi = len(query), vx._abi
    q = bytearray(array.array("f", list(query) * copies).tobytes())
    res = bytearray(abi.RESULT.size * k * copies)
    counts = bytearray(4 * copies)
    attrs = bytearray(8 * abi.ATTR_WORDS * k * copies)
    vecs = bytearray(4 * dim * k * copies)
    op, word, value = where if where else (0, 0, 0)
    flags = abi.SEARCH_ATTRS | abi.SEARCH_VECTORS | (abi.SEARCH_EXACT if exact else 0)
    buf = abi.SEARCH.pack(**{"dim": dim, "k": k, "ef": ef, "query_ptr": addr(q),
                             "results_ptr": addr(res), "flags": flags, "where.op": op,
                             "where.word": word, "where.value": value,
                             "filter": filt.encode(), "nqueries": copies,
                             "counts_ptr": addr(counts), "attrs_ptr": addr(attrs),
                             "vectors_ptr": addr(vecs)})
    fcntl.ioctl(fd, vx.IOC_SEARCH, buf)
    n = array.array("I", bytes(counts))
    w, out = abi.ATTR_WORDS, []
    for c in range(copies):
        hits = []
        for i in range(c * k, c * k + n[c]):
            rid, ino, dist = struct.unpack_from(vx.RESULT_FMT, res, abi.RESULT.size * i)[:3]
            hits.append((rid, ino, dist, list(struct.unpack_from("%dQ" % w, attrs, 8 * w * i)),
                         list(array.array("f", bytes(vecs[4 * dim * i:4 * dim * (i + 1)])))))
        out.append(hits)
    return out, abi.SEARCH.unpack(buf)["scanned"]


def read_vectors(fd, dim, count=65536):
    inos = bytearray(8 * count)
    vecs = bytearray(4 * dim * count)
    arg = bytearray(struct.pack(vx.READ_FMT, 72, dim, 0, count, 0, addr(inos), addr(vecs),
                                0, 0, 0, 0))
    fcntl.ioctl(fd, vx.IOC_READ_VECTORS, arg)
    f = struct.unpack(vx.READ_FMT, arg)
    n, seq = f[4], f[7]
    ino_list = list(array.array("Q", bytes(inos[:8 * n])))
    flat = array.array("f", bytes(vecs[:4 * dim * n]))
    return ino_list, [list(flat[i * dim:(i + 1) * dim]) for i in range(n)], seq


def publish(fd, graph, seq):
    data = ctypes.create_string_buffer(graph, len(graph))
    arg = bytearray(struct.pack(vx.PUBLISH_FMT, 64, 0, ctypes.addressof(data), len(graph),
                                seq, 0, 0, 0, 0))
    fcntl.ioctl(fd, vx.IOC_PUBLISH_INDEX, arg)


def drop_index(fd):
    fcntl.ioctl(fd, vx.IOC_DROP_INDEX)


def dirfd(path):
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


# --- permissions, as generic_permission() decides them ------------------------

def may(uid, owner, group, mode, want):
    """DAC for uid (with its groups) on an object of owner/group/mode.
    want: 4 read, 2 write, 1 search/execute; root is granted r and w on
    anything, x on directories (the callers only ask x of directories)."""
    if uid == 0:
        return True
    gid, extra = USERS[uid]
    if owner == uid:
        bits = mode >> 6
    elif group == gid or group in extra:
        bits = mode >> 3
    else:
        bits = mode
    return bits & want == want


# --- distances, in the arithmetic the vectors allow --------------------------

def distance(metric, a, b):
    if metric == 1:
        return sum((x - y) * (x - y) for x, y in zip(a, b))
    dot = sum(x * y for x, y in zip(a, b))
    if metric == 2:
        return -dot
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return 1.0 - dot / (na * nb)


def close_enough(x, y):
    return abs(x - y) <= 1e-3 + 1e-5 * max(abs(x), abs(y))


def pred_match(where, attrs):
    op, word, value = where
    v = attrs[word]
    return {0: True, 1: v == value, 2: v != value, 3: v < value, 4: v <= value,
            5: v > value, 6: v >= value, 7: v & value == value, 8: v & value != 0}[op]


# --- the tree and its model --------------------------------------------------

class World:
    """The tree under MNT/prop and what it must hold. Files are keyed by
    inode number; each has its owner, group, mode, id, attrs, vector, the
    collection holding that vector (home, or None) and its links."""

    def __init__(self, rng):
        self.rng = rng
        self.top = os.path.join(MNT, "prop")
        self.plain = os.path.join(self.top, "plain")
        self.colls = []
        self.files = {}
        self.serial = 0
        self.ids = set()
        self.model_errors = []
        self.target = 0         # files to keep around, once the tree is built
        self.history = {}       # ino -> its last changes, for reports
        os.mkdir(self.top, 0o755)
        os.mkdir(self.plain, 0o755)
        os.chmod(self.plain, 0o755)

    # -- helpers --

    def new_name(self):
        self.serial += 1
        return f"f{self.serial}"

    def new_id(self):
        while True:
            i = self.rng.randrange(1, 1 << 40)
            if i not in self.ids:
                self.ids.add(i)
                return i

    def new_vector(self, dim):
        while True:
            v = [float(self.rng.randint(-8, 8)) for _ in range(dim)]
            if any(v):
                return v

    def new_attrs(self):
        r = self.rng
        return [r.randrange(16), r.randrange(100), r.randrange(4), r.getrandbits(64)]

    def link_path(self, link):
        where, name = link
        return os.path.join(self.plain if where is None else self.colls[where]["path"], name)

    def coll_links(self, ci):
        return [(name, ino) for name, ino in self.colls[ci]["names"].items()]

    def note(self, ino, what):
        h = self.history.setdefault(ino, [])
        h.append(what)
        del h[:-8]

    def expect(self, what, got, want):
        if got != want:
            self.model_errors.append(f"{what}: {ename(got)}, expected {ename(want)}")

    # -- making things --

    def make_collection(self, dim, metric):
        ci = len(self.colls)
        path = os.path.join(self.top, f"c{ci}")
        os.mkdir(path, 0o755)
        fd = dirfd(path)
        vx.create_collection(fd, dim, {1: "l2", 2: "ip", 3: "cosine"}[metric])
        os.close(fd)
        self.colls.append({"path": path, "dim": dim, "metric": metric, "names": {},
                           "uid": 0, "gid": 0, "mode": 0o755, "graph": None})
        return ci

    def set_dir_perms(self, ci):
        c, r = self.colls[ci], self.rng
        c["uid"], c["gid"] = r.choice(OWNERS), r.choice(GROUPS)
        c["mode"] = r.choice(DIR_MODES) if r.random() < 0.8 else r.randrange(0o2000)
        os.chown(c["path"], c["uid"], c["gid"])
        os.chmod(c["path"], c["mode"])

    def set_file_perms(self, ino, fd=None):
        f, r = self.files[ino], self.rng
        f["uid"], f["gid"] = r.choice(OWNERS), r.choice(GROUPS)
        f["mode"] = r.choice(FILE_MODES) if r.random() < 0.8 else r.randrange(0o1000)
        path = self.link_path(next(iter(f["links"])))
        if fd is None:
            os.chown(path, f["uid"], f["gid"])
            os.chmod(path, f["mode"])
        else:
            os.fchown(fd, f["uid"], f["gid"])
            os.fchmod(fd, f["mode"])

    def create_file(self, ci, with_vector=True):
        c = self.colls[ci]
        name = self.new_name()
        path = os.path.join(c["path"], name)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.write(fd, name.encode())
        ino = os.fstat(fd).st_ino
        self.files[ino] = {"links": {(ci, name)}, "home": None, "vec": None, "id": 0,
                           "attrs": [0, 0, 0, 0], "kept": None}
        c["names"][name] = ino
        self.set_file_perms(ino, fd)
        if with_vector:
            self.set_vector(ino, (ci, name), fd)
        os.close(fd)
        return ino

    def set_vector(self, ino, link, fd=None):
        """SET_VECTOR through link (a collection's); checks the outcome."""
        f, ci = self.files[ino], link[0]
        vec, vid, attrs = self.new_vector(self.colls[ci]["dim"]), self.new_id(), self.new_attrs()
        own = fd is None
        if own:
            fd = os.open(self.link_path(link), os.O_RDWR)
        try:
            e = errno_of(lambda: vx.set_vector(fd, vec, vid, attrs))
        finally:
            if own:
                os.close(fd)
        want = 0 if f["home"] in (None, ci) else errno.EBUSY
        self.expect(f"SET_VECTOR on {self.link_path(link)}", e, want)
        self.note(ino, f"set via c{ci}/{link[1]}: {ename(e)}")
        if e == 0:
            f.update(home=ci, vec=vec, id=vid, attrs=attrs, kept=None)

    def del_vector(self, ino, link):
        f, ci = self.files[ino], link[0]
        fd = os.open(self.link_path(link), os.O_RDWR)
        e = errno_of(lambda: vx.del_vector(fd))
        os.close(fd)
        self.expect(f"DEL_VECTOR on {self.link_path(link)}", e,
                    0 if f["home"] == ci else errno.ENODATA)
        self.note(ino, f"del via c{ci}/{link[1]}: {ename(e)}")
        if e == 0:
            f.update(home=None, vec=None, kept=None)

    def unlink(self, ino, link):
        """unlink(2) of one name. The vector stays where it lives until the
        last name goes, even when that collection has no name of the file
        left (it was hard-linked elsewhere first)."""
        f = self.files[ino]
        os.unlink(self.link_path(link))
        self.note(ino, f"unlink {link}")
        f["links"].discard(link)
        if link[0] is not None:
            self.colls[link[0]]["names"].pop(link[1], None)
        if not f["links"]:
            del self.files[ino]

    def add_link(self, ino, link):
        self.files[ino]["links"].add(link)
        if link[0] is not None:
            self.colls[link[0]]["names"][link[1]] = ino

    def follows(self, f, old, new):
        """Does the vector move with this rename? Into a collection of the
        same dimension and metric, when the name leaves the collection
        holding it or is the file's only name."""
        home, to = f["home"], new[0]
        if home is None or to is None or to == home or old[0] == to:
            return False
        same = all(self.colls[home][k] == self.colls[to][k] for k in ("dim", "metric"))
        return same and (old[0] == home or len(f["links"]) == 1)

    def taken_back(self, f, old, new):
        """Does a kept vector go into the collection the name moves into?
        Into one of its dimension and metric."""
        to = new[0]
        if f["kept"] is None or to is None or old[0] == to:
            return False
        return f["kept"] == (self.colls[to]["dim"], self.colls[to]["metric"])

    def move(self, ino, old, new):
        """rename(2) of one name. The vector follows it (follows()), or,
        when the name leaves the collection holding the vector for any
        other place, is kept with the file, out of every search, until a
        rename into a collection of its shape gives it back."""
        f = self.files[ino]
        follows, back = self.follows(f, old, new), self.taken_back(f, old, new)
        os.rename(self.link_path(old), self.link_path(new))
        self.note(ino, f"rename {old} -> {new}" + (" (the vector follows)" if follows else "")
                  + (" (the kept vector goes in)" if back else ""))
        f["links"].discard(old)
        if old[0] is not None:
            self.colls[old[0]]["names"].pop(old[1], None)
        if follows or back:
            f.update(home=new[0], kept=None)
        elif old[0] != new[0] and f["home"] is not None and f["home"] == old[0]:
            c = self.colls[old[0]]
            f.update(home=None, kept=(c["dim"], c["metric"]))
        self.add_link(ino, new)

    # -- one random change --

    def random_file(self):
        return self.rng.choice(list(self.files)) if self.files else None

    def random_coll_link(self, ino):
        links = [l for l in self.files[ino]["links"] if l[0] is not None]
        return self.rng.choice(links) if links else None

    def mutate(self):
        r = self.rng
        grow = 24 if len(self.files) < self.target else 6
        op = r.choices(["chmod", "chown", "set", "del", "create", "unlink", "rename",
                        "rename_across", "out_and_back", "link", "link_plain", "dir"],
                       [14, 6, 14, 5, grow, 6, 4, 4, 3, 6, 2, 3])[0]
        ino = self.random_file()
        if op == "create" or ino is None:
            self.create_file(r.randrange(len(self.colls)), r.random() < 0.85)
            return
        f = self.files[ino]
        link = self.random_coll_link(ino)
        if op in ("chmod", "chown"):
            self.set_file_perms(ino)
        elif op == "set" and link:
            self.set_vector(ino, link)
        elif op == "del" and link:
            self.del_vector(ino, link)
        elif op == "unlink":
            self.unlink(ino, r.choice(sorted(f["links"], key=str)))
        elif op == "rename" and link:
            self.move(ino, link, (link[0], self.new_name()))
        elif op == "rename_across" and link:
            others = [c for c in range(len(self.colls))
                      if not any(l[0] == c for l in f["links"])]
            if others:
                self.move(ino, link, (r.choice(others), self.new_name()))
        elif op == "out_and_back" and link:
            out = (None, self.new_name())
            self.move(ino, link, out)
            if r.random() < 0.7:
                self.move(ino, out, link)
        elif op == "link" and link:
            # Into another collection: the vector stays where it is, and a
            # set through the new link must be EBUSY while it does.
            others = [c for c in range(len(self.colls))
                      if not any(l[0] == c for l in f["links"])]
            if others:
                new = (r.choice(others), self.new_name())
                os.link(self.link_path(link), self.link_path(new))
                self.note(ino, f"link {link} -> {new}")
                self.add_link(ino, new)
                if f["home"] is not None and r.random() < 0.5:
                    self.set_vector(ino, new)
        elif op == "link_plain" and link:
            new = (None, self.new_name())
            os.link(self.link_path(link), self.link_path(new))
            self.add_link(ino, new)
        elif op == "dir":
            self.set_dir_perms(r.randrange(len(self.colls)))

    # -- indexes --

    def live(self, ci):
        return {ino: f for ino, f in self.files.items() if f["home"] == ci}

    def refresh_index(self, ci):
        """Publish a new graph (chain or random connected, over all or part
        of the live slots), drop the index, or leave it."""
        c, r = self.colls[ci], self.rng
        roll = r.random()
        fd = dirfd(c["path"])
        try:
            if roll < 0.15:
                e = errno_of(lambda: drop_index(fd))
                self.expect(f"DROP_INDEX on c{ci}", e, 0 if c["graph"] else errno.ENODATA)
                c["graph"] = None
                return
            if roll > 0.6:
                return
            inos, _, seq = read_vectors(fd, c["dim"])
            slots = [s for s, ino in enumerate(inos) if ino]
            if r.random() < 0.3:
                slots = sorted(r.sample(slots, max(1, len(slots) * r.randint(40, 95) // 100))) \
                    if slots else slots
            m = r.choice([2, 4, 8])
            links = (hnsw_graph.chain(len(slots)) if r.random() < 0.4
                     else random_connected(len(slots), 2 * m, r))
            graph = hnsw_graph.build(c["dim"], c["metric"], slots, links, m=m)
            publish(fd, graph, seq)
            c["graph"] = (graph, seq)
        finally:
            os.close(fd)

    # -- the kernel against the model --

    def check_tables(self):
        """Each collection's table holds exactly its model's vectors, and
        no inode holds a slot in two collections."""
        errors, seen = [], {}
        for ci, c in enumerate(self.colls):
            fd = dirfd(c["path"])
            inos, vecs, _ = read_vectors(fd, c["dim"])
            count = vx.get_collection(fd)["count"]
            os.close(fd)
            table = {ino: vec for ino, vec in zip(inos, vecs) if ino}
            want = self.live(ci)
            if set(table) != set(want):
                odd = sorted(set(table) ^ set(want))[:3]
                errors.append(f"c{ci}: table has {sorted(set(table) - set(want))[:5]} more, "
                              f"{sorted(set(want) - set(table))[:5]} fewer than the model; " +
                              "; ".join(f"{i}: {self.history.get(i)}" for i in odd))
            for ino, vec in table.items():
                if ino in want and vec != want[ino]["vec"]:
                    errors.append(f"c{ci}: inode {ino} holds another vector")
                if ino in seen:
                    errors.append(f"inode {ino} holds slots in c{seen[ino]} and c{ci}")
                seen[ino] = ci
            if count != len(table):
                errors.append(f"c{ci}: count {count}, {len(table)} live slots")
        return errors


def random_connected(n, m0, r):
    """Undirected links forming a random spanning tree (every node reachable
    from node 0, the entry) plus random extra edges, at most m0 per node."""
    links = [[] for _ in range(n)]
    order = list(range(1, n))
    r.shuffle(order)
    placed = [0]
    for node in order:
        while True:
            other = r.choice(placed)
            if len(links[other]) < m0:
                break
        links[node].append(other)
        links[other].append(node)
        placed.append(node)
    for _ in range(n):
        a, b = r.randrange(n), r.randrange(n)
        if a != b and b not in links[a] and len(links[a]) < m0 and len(links[b]) < m0:
            links[a].append(b)
            links[b].append(a)
    return links


# --- what a user checks, in a child that became that user ---------------------

def become(uid):
    gid, extra = USERS[uid]
    os.setgroups(extra)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


class Probe:
    """The checks of one user over the whole tree, one round."""

    def __init__(self, world, uid, rng, searches, filters, dir_fds, held):
        self.w, self.uid, self.rng = world, uid, rng
        self.searches, self.filters = searches, filters
        self.dir_fds, self.held = dir_fds, held
        self.stats = {"searches": 0, "results": 0, "eacces": 0, "file_checks": 0,
                      "index_checks": 0, "violations": 0, "results without a path": 0,
                      "searches carrying attrs and vectors": 0}
        self.kinds = {}
        self.reports = []
        self.live = [world.live(ci) for ci in range(len(world.colls))]

    def violation(self, text, kind=None):
        kind = kind or text.split()[0]
        self.stats["violations"] += 1
        self.stats["violations " + kind] = self.stats.get("violations " + kind, 0) + 1
        if len(self.reports) < MAX_REPORTED:
            self.reports.append(f"uid {self.uid}: {text}")

    # -- reading by path --

    def readable_sets(self):
        """Which files the child may read (the inode's DAC, as the module
        defines it) and which it can open by one of their paths; checks
        every name's vector views on the way. A vector may live in a
        collection where its file has no name left (hard-linked
        elsewhere, then unlinked there): such a file is reached through
        its other names, if the directories allow."""
        self.may_read, self.openable = set(), set()
        for ino, f in self.w.files.items():
            if may(self.uid, f["uid"], f["gid"], f["mode"], 4):
                self.may_read.add(ino)
            for where, name in sorted(f["links"], key=str):
                if where is None:
                    ok = self.check_plain(os.path.join(self.w.plain, name), f)
                else:
                    ok = self.check_name(where, name, ino)
                if ok:
                    self.openable.add(ino)

    def check_plain(self, path, f):
        """A link outside every collection: the vector is still the file's,
        visible as the xattr to whoever may read the file."""
        self.stats["file_checks"] += 1
        want = may(self.uid, f["uid"], f["gid"], f["mode"], 4)
        e = errno_of(lambda: os.close(os.open(path, os.O_RDONLY)))
        if (e == 0) != want or e not in (0, errno.EACCES):
            self.violation(f"open {path} (mode {f['mode']:o} {f['uid']}:{f['gid']}): {ename(e)}")
        self.plain_xattr(path, f, e)
        return e == 0

    def plain_xattr(self, path, f, e):
        try:
            got = os.getxattr(path, XATTR)
            if e or got != array.array("f", f["vec"] or []).tobytes():
                self.violation(f"getxattr {path} (open: {ename(e)}): {len(got)} bytes")
        except OSError as x:
            want_x = errno.EACCES if e else (errno.ENODATA if f["vec"] is None else 0)
            if x.errno != want_x:
                self.violation(f"getxattr {path}: {ename(x.errno)}, expected {ename(want_x)}")

    def check_name(self, ci, name, ino):
        """open(O_RDONLY) by path, and GET_VECTOR and getxattr agree with it."""
        w, c = self.w, self.w.colls[ci]
        f = w.files[ino]
        path = os.path.join(c["path"], name)
        want_open = may(self.uid, c["uid"], c["gid"], c["mode"], 1) and \
            may(self.uid, f["uid"], f["gid"], f["mode"], 4)
        self.stats["file_checks"] += 1
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            if e.errno != errno.EACCES or want_open:
                self.violation(f"open {path} (mode {f['mode']:o} {f['uid']}:{f['gid']}, dir "
                               f"{c['mode']:o} {c['uid']}:{c['gid']}): {ename(e.errno)}")
            xe = errno_of(lambda: os.getxattr(path, XATTR))
            if xe != errno.EACCES:
                self.violation(f"getxattr {path} that cannot be opened: {ename(xe)}, not EACCES")
            self.unreadable_get(path, c["dim"], may(self.uid, f["uid"], f["gid"], f["mode"], 2)
                                and may(self.uid, c["uid"], c["gid"], c["mode"], 1))
            return False
        try:
            if not want_open:
                self.violation(f"open {path} (mode {f['mode']:o} {f['uid']}:{f['gid']}, dir "
                               f"{c['mode']:o}) succeeded")
            self.readable_get(fd, path, ci, f)
            try:
                got = os.getxattr(path, XATTR)
                want = array.array("f", f["vec"]).tobytes() if f["vec"] is not None else None
                if got != want:
                    self.violation(f"getxattr {path}: {len(got)} bytes, not the vector")
            except OSError as e:
                if e.errno != errno.ENODATA or f["vec"] is not None:
                    self.violation(f"getxattr {path} opened for reading: {ename(e.errno)}")
        finally:
            os.close(fd)
        return True

    def readable_get(self, fd, path, ci, f):
        try:
            vec, vid, attrs = vx.get_vector(fd, self.w.colls[ci]["dim"])
            if f["home"] != ci:
                self.violation(f"GET_VECTOR {path}: a vector where none lives")
            elif vec != f["vec"] or vid != f["id"] or attrs != f["attrs"]:
                self.violation(f"GET_VECTOR {path}: another vector, id or attrs")
        except OSError as e:
            if e.errno != errno.ENODATA or f["home"] == ci:
                self.violation(f"GET_VECTOR {path} opened for reading: {ename(e.errno)}")

    def unreadable_get(self, path, dim, can_write):
        """GET_VECTOR through a descriptor opened for writing only."""
        if not can_write:
            return
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as e:
            self.violation(f"open {path} for writing: {ename(e.errno)}")
            return
        e = errno_of(lambda: vx.get_vector(fd, dim))
        os.close(fd)
        if e != errno.EACCES:
            self.violation(f"GET_VECTOR {path} (no read permission) through O_WRONLY: {ename(e)}")

    def held_descriptors(self):
        """Descriptors root opened before the switch: one opened for
        reading reads the vector; one opened for writing only does if
        the file's mode lets the user read it."""
        for ci, name, ino, rd, wr in self.held:
            f, dim = self.w.files[ino], self.w.colls[ci]["dim"]
            self.stats["file_checks"] += 1
            e = errno_of(lambda: vx.get_vector(rd, dim))
            want = 0 if f["home"] == ci else errno.ENODATA
            if e != want:
                self.violation(f"GET_VECTOR c{ci}/{name} through a descriptor opened for "
                               f"reading: {ename(e)}, expected {ename(want)}")
            e = errno_of(lambda: vx.get_vector(wr, dim))
            if not may(self.uid, f["uid"], f["gid"], f["mode"], 4):
                want = errno.EACCES
            if e != want:
                self.violation(f"GET_VECTOR c{ci}/{name} (mode {f['mode']:o} {f['uid']}:"
                               f"{f['gid']}) through O_WRONLY: {ename(e)}, expected {ename(want)}")

    # -- collection-wide calls --

    def collection_calls(self):
        for ci, c in enumerate(self.w.colls):
            fd = self.dir_fds[ci]
            e = errno_of(lambda: read_vectors(fd, c["dim"], 16))
            want = 0 if self.uid == 0 else errno.EPERM
            if e != want:
                self.violation(f"READ_VECTORS c{ci}: {ename(e)}, expected {ename(want)}")
            self.index_calls(ci, c, fd)

    def index_calls(self, ci, c, fd):
        """Who may publish and drop. Non-owners try both (nothing changes
        when they are refused); an owner republishes the current graph."""
        owner = self.uid == 0 or c["uid"] == self.uid
        if not owner:
            want = errno.EPERM
        elif not may(self.uid, c["uid"], c["gid"], c["mode"], 2):
            want = errno.EACCES
        else:
            want = 0
        self.stats["index_checks"] += 1
        graph, seq = c["graph"] if c["graph"] else (hnsw_graph.build(c["dim"], c["metric"], [], []), 0)
        if want:
            e = errno_of(lambda: drop_index(fd))
            if e != want:
                self.violation(f"DROP_INDEX c{ci} (dir {c['mode']:o} {c['uid']}:{c['gid']}): "
                               f"{ename(e)}, expected {ename(want)}")
        if c["graph"] or want:
            e = errno_of(lambda: publish(fd, graph, seq))
            if e != want:
                self.violation(f"PUBLISH_INDEX c{ci} (dir {c['mode']:o} {c['uid']}:{c['gid']}): "
                               f"{ename(e)}, expected {ename(want)}")

    # -- searches --

    def random_where(self):
        r = self.rng
        op, word = r.randint(1, 8), r.randrange(4)
        value = [r.randrange(16), r.randrange(100), r.randrange(4), r.getrandbits(64)][word]
        if op in (7, 8) and not value:
            value = 1
        return (op, word, value)

    def one_search(self, ci):
        r, c = self.rng, self.w.colls[ci]
        allowed = may(self.uid, c["uid"], c["gid"], c["mode"], 5)
        kind = r.choice(["exact", "index", "where", "where_exact"] +
                        (["filter", "filter_exact", "filter_where"] if self.filters else []))
        exact = kind.endswith("exact")
        where = self.random_where() if "where" in kind else None
        filt = r.choice(self.filters) if kind.startswith("filter") else None
        k = r.choice([1, 1, 2, 3, 5, 10, 10, 20, 50])
        ef = r.choice([0, 0, k, 16, 64, 200])
        live = self.live[ci]
        if live and r.random() < 0.5:
            query = list(r.choice(list(live.values()))["vec"])
        else:
            query = self.w.new_vector(c["dim"])
        fd = self.dir_fds[ci]
        own = False
        if r.random() < 0.3:
            try:
                fd, own = dirfd(c["path"]), True
            except OSError:
                pass
        self.stats["searches"] += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        carrying = r.random() < 0.4
        try:
            if carrying:
                res, scanned = self.search_carrying(ci, fd, query, k, ef, exact, where, filt)
            else:
                res, scanned = search(fd, query, k, ef, exact, where, filt[0] if filt else "")
        except OSError as e:
            if e.errno == errno.EACCES and not allowed:
                self.stats["eacces"] += 1
            else:
                self.violation(f"search c{ci} (dir {c['mode']:o} {c['uid']}:{c['gid']}) "
                               f"{kind}: {ename(e.errno)}")
            return
        finally:
            if own:
                os.close(fd)
        if not allowed:
            self.violation(f"search c{ci} (dir {c['mode']:o} {c['uid']}:{c['gid']}) succeeded "
                           "without read and search permission")
            return
        self.check_results(ci, c, live, kind, query, k, exact, where, filt, res, scanned)

    def search_carrying(self, ci, fd, query, k, ef, exact, where, filt):
        """Two copies of the query in one call, results carrying metadata
        words and vectors: both copies must get the same answer, and what a
        result carries must be its file's. Returns the first copy's
        answer as search() does, and scanned per copy."""
        (first, second), scanned = search_carrying(fd, query, k, ef, exact, where,
                                                   filt[0] if filt else "")
        self.stats["searches carrying attrs and vectors"] += 1
        tag = f"search c{ci} of two queries"
        if [h[:3] for h in first] != [h[:3] for h in second]:
            self.violation(f"{tag}: the two copies got {len(first)} and {len(second)} "
                           "different results")
        for rid, ino, dist, attrs, vec in first:
            f = self.live[ci].get(ino)
            if f is None:
                continue        # check_results reports it
            if attrs != list(f["attrs"]):
                self.violation(f"{tag}: inode {ino} carries attrs {attrs}, not {f['attrs']}")
            if not all(close_enough(a, b) for a, b in zip(vec, f["vec"])) or \
                    len(vec) != len(f["vec"]):
                self.violation(f"{tag}: inode {ino} carries another vector")
        return [h[:3] for h in first], scanned // 2

    def check_results(self, ci, c, live, kind, query, k, exact, where, filt, res, scanned):
        readable = self.may_read
        tag = f"search c{ci} {kind} k={k} where={where} filter={filt[0] if filt else ''}"
        readable_live = sum(1 for ino in live if ino in readable)
        if scanned > readable_live:
            self.violation(f"{tag}: scanned {scanned}, but only {readable_live} of "
                           f"{len(live)} vectors are readable", "scanned")
        self.stats["results"] += len(res)
        if len(res) > k:
            self.violation(f"{tag}: {len(res)} results")
        eligible = {ino: f for ino, f in live.items() if ino in readable and
                    (not where or pred_match(where, f["attrs"])) and
                    (not filt or filt[1](f))}
        prev = -math.inf
        for rid, ino, dist in res:
            if ino not in live:
                f = self.w.files.get(ino)
                self.violation(f"{tag}: inode {ino} holds no vector here "
                               f"({'unknown' if f is None else 'home ' + str(f['home'])})")
                continue
            f = live[ino]
            if ino not in readable:
                self.violation(f"{tag}: inode {ino} (mode {f['mode']:o} {f['uid']}:{f['gid']}) "
                               "returned, but the user cannot open it for reading", "unreadable")
            elif ino not in self.openable:
                # Readable, but no name of it lies in a directory the
                # user can search: what inode_permission() allows.
                self.stats["results without a path"] += 1
            elif ino not in eligible:
                self.violation(f"{tag}: inode {ino} (attrs {f['attrs']}, id {f['id']}) "
                               "fails the predicate or the filter")
            if rid != f["id"]:
                self.violation(f"{tag}: inode {ino} returned with id {rid}, not {f['id']}")
            if not close_enough(dist, distance(c["metric"], query, f["vec"])):
                self.violation(f"{tag}: inode {ino} at distance {dist}, not "
                               f"{distance(c['metric'], query, f['vec'])}")
            if dist < prev:
                self.violation(f"{tag}: results out of order")
            prev = dist
        if exact:
            truth = sorted(distance(c["metric"], query, f["vec"]) for f in eligible.values())
            got = [d for _, _, d in res]
            if len(got) != min(k, len(truth)) or \
                    not all(close_enough(a, b) for a, b in zip(got, truth)):
                self.violation(f"{tag}: exact search returned {len(got)} results "
                               f"{got[:4]}..., the best {min(k, len(truth))} readable are "
                               f"{truth[:4]}...", "exact")

    def run(self):
        self.readable_sets()
        self.held_descriptors()
        self.collection_calls()
        for _ in range(self.searches):
            self.one_search(self.rng.randrange(len(self.w.colls)))
        return {"stats": self.stats, "kinds": self.kinds, "reports": self.reports}


def probe_as(world, uid, seed, searches, filters):
    """Fork, become uid, run the probe; its summary as a dict."""
    rng = random.Random(seed)
    dir_fds = [dirfd(c["path"]) for c in world.colls]
    held = []
    for _ in range(12):
        ino = world.random_file()
        link = world.random_coll_link(ino) if ino else None
        if link:
            p = world.link_path(link)
            held.append((link[0], link[1], ino, os.open(p, os.O_RDONLY), os.open(p, os.O_WRONLY)))
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            if uid:
                become(uid)
            out = Probe(world, uid, rng, searches, filters, dir_fds, held).run()
        except Exception as e:  # noqa: BLE001
            import traceback
            out = {"error": f"{e!r}: {traceback.format_exc()}"}
        os.write(wr, json.dumps(out).encode())
        os._exit(0)
    os.close(wr)
    data = b""
    while chunk := os.read(rd, 1 << 16):
        data += chunk
    os.close(rd)
    os.waitpid(pid, 0)
    for fd in dir_fds:
        os.close(fd)
    for h in held:
        os.close(h[3])
        os.close(h[4])
    return json.loads(data) if data else {"error": "the child died"}


# --- filters -----------------------------------------------------------------

def load_filters():
    """Load the BPF filters; the ones that loaded, or [] and why not."""
    loaded = []
    for name, obj, sets, fn in FILTERS:
        path = os.path.join(FILTER_DIR, obj + ".bpf.o")
        cmd = [CTL, "filter", "load", path, "--name", name]
        for s in sets:
            cmd += ["--set", s]
        subprocess.run([CTL, "filter", "unload", name], capture_output=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            print(f"filter {name} not loaded ({r.stderr.strip()[:200]}): "
                  "filtered searches are left out", flush=True)
            unload_filters(loaded)
            return []
        loaded.append((name, fn))
    if build_seen_filter():
        loaded.append((SEEN_FILTER, lambda f: True))
    return loaded


def build_seen_filter():
    src = os.path.join(SCRATCH, "seen.bpf.c")
    obj = os.path.join(SCRATCH, "seen.bpf.o")
    with open(src, "w") as f:
        f.write(SEEN_SRC)
    arch = "-D__TARGET_ARCH_" + {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine,
                                                                        os.uname().machine)
    for cmd in (["clang-19", "-target", "bpf", "-g", "-O2", arch, "-I", FILTER_DIR,
                 "-I", os.path.join(REPO, "bpf", "filters"), "-c", src, "-o", obj],
                [CTL, "filter", "load", obj, "--name", SEEN_FILTER]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            r = subprocess.CompletedProcess(cmd, 1, "", str(e))
        if r.returncode:
            print(f"the recording filter is left out: {cmd[0]}: {r.stderr.strip()[:300]}",
                  flush=True)
            return False
    return True


def seen_generation(gen):
    """Start a new generation of the recording filter's log."""
    sh("bpftool", "map", "update", "name", "prop_gen", "key", "0", "0", "0", "0", "value",
       *[str(b) for b in struct.pack("<Q", gen)])


def seen_in(gen):
    """Inodes the recording filter was asked about in generation gen."""
    out = json.loads(sh("bpftool", "-j", "map", "dump", "name", "prop_seen_inos").stdout or "[]")

    def num(v):
        if isinstance(v, list):
            return int.from_bytes(bytes(int(b, 16) for b in v), "little")
        return int(v)
    return {num(e["key"]) for e in out if num(e["value"]) == gen}


def unload_filters(loaded):
    for name, _ in loaded:
        subprocess.run([CTL, "filter", "unload", name], capture_output=True)


# --- the run -----------------------------------------------------------------

class Fs:
    def __init__(self, size="128M"):
        sh("truncate", "-s", size, IMG)
        self.dev = sh("losetup", "-f", "--show", IMG).stdout.strip()
        sh("mkfs.vexfs", "-q", "-f", self.dev)
        os.makedirs(MNT, exist_ok=True)
        sh("mount", "-t", "vexfs", self.dev, MNT)
        os.chmod(MNT, 0o755)

    def close(self):
        sh("umount", MNT, ok=range(256))
        sh("losetup", "-d", self.dev)
        os.unlink(IMG)


def build_world(rng):
    w = World(rng)
    shapes = [(rng.choice([2, 3, 4, 6, 8]), rng.choice([1, 1, 2, 3])) for _ in range(5)]
    shapes[1] = shapes[0]   # two collections a vector can move between
    for dim, metric in shapes:
        ci = w.make_collection(dim, metric)
        for _ in range(rng.choice([12, 40, 90, 200, 320])):
            w.create_file(ci, rng.random() < 0.9)
    w.target = len(w.files)
    for _ in range(40):
        w.mutate()
    for ci in range(len(w.colls)):
        w.set_dir_perms(ci)
    return w


def main():
    seed = int(os.environ.get("VEXFS_PROPERTY_SEED") or time.time())
    total = int(os.environ.get("VEXFS_PROPERTY_SEARCHES", "5000"))
    per_child = 150
    rounds = int(os.environ.get("VEXFS_PROPERTY_ROUNDS") or
                 max(1, -(-total // (per_child * len(USERS)))))
    per_child = -(-total // (rounds * len(USERS)))
    print(f"property: seed {seed} (VEXFS_PROPERTY_SEED={seed}), {rounds} rounds, "
          f"{per_child} searches per user and round", flush=True)
    rng = random.Random(seed)
    fs = Fs()
    filters = load_filters()
    seen = any(name == SEEN_FILTER for name, _ in filters)
    gen = 0
    start = time.time()
    stats, kinds, reports, model_errors = {}, {}, [], []
    try:
        w = build_world(rng)
        for rnd in range(rounds):
            if rnd:
                for _ in range(rng.randint(20, 60)):
                    w.mutate()
            for ci in range(len(w.colls)):
                w.refresh_index(ci)
            if rng.random() < 0.5:
                w.set_dir_perms(rng.randrange(len(w.colls)))
            for err in w.check_tables() + w.model_errors:
                model_errors.append(f"round {rnd}: {err}")
            w.model_errors = []
            for uid in USERS:
                gen += 1
                if seen:
                    seen_generation(gen)
                out = probe_as(w, uid, seed * 1000003 + rnd * 7919 + uid, per_child, filters)
                if seen and "error" not in out:
                    shown = seen_in(gen)
                    stats["filter calls"] = stats.get("filter calls", 0) + len(shown)
                    for ino in sorted(shown):
                        f = w.files.get(ino)
                        if f is None or not may(uid, f["uid"], f["gid"], f["mode"], 4):
                            stats["violations"] = stats.get("violations", 0) + 1
                            stats["violations filter shown"] = \
                                stats.get("violations filter shown", 0) + 1
                            reports.append(f"round {rnd}: uid {uid}: the filter was shown inode "
                                           f"{ino}" + (f" (mode {f['mode']:o} {f['uid']}:"
                                                       f"{f['gid']})" if f else " (no such file)"))
                if "error" in out:
                    reports.append(f"round {rnd} uid {uid}: the probe failed: {out['error']}")
                    stats["violations"] = stats.get("violations", 0) + 1
                    continue
                for key, val in out["stats"].items():
                    stats[key] = stats.get(key, 0) + val
                for key, val in out["kinds"].items():
                    kinds[key] = kinds.get(key, 0) + val
                reports += [f"round {rnd}: {t}" for t in out["reports"]]
        files, links = len(w.files), sum(len(f["links"]) for f in w.files.values())
    finally:
        unload_filters(filters)
        sh("umount", MNT)
        r = sh(FSCK, "-n", fs.dev, ok=range(256))
        fs.close()
    secs = time.time() - start
    viol = stats.get("violations", 0)
    by_kind = ", ".join(f"{k[11:]} {v}" for k, v in sorted(stats.items())
                        if k.startswith("violations "))
    print(f"property: seed {seed}: {stats.get('searches', 0)} searches checked "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
          f"{stats.get('eacces', 0)} refused with EACCES as they must be, "
          f"{stats.get('results', 0)} results ({stats.get('results without a path', 0)} readable "
          "files with no name the user can reach); "
          f"{stats.get('file_checks', 0)} file checks, "
          f"{stats.get('index_checks', 0)} publish/drop checks; "
          f"{stats.get('filter calls', 0)} distinct inodes shown to the recording filter; "
          f"{files} files, {links} names; "
          f"{viol} violations{' (' + by_kind + ')' if by_kind else ''}, "
          f"{len(model_errors)} model differences in {secs:.0f} s", flush=True)
    for t in reports[:MAX_REPORTED]:
        print(f"  violation: {t}", flush=True)
    for t in model_errors[:MAX_REPORTED]:
        print(f"  model: {t}", flush=True)
    check(f"{stats.get('searches', 0)} searches by 3 users return only what each may read",
          viol == 0, f"{viol} violations (seed {seed})")
    check("the tables agree with the model after every round (one slot per file)",
          not model_errors, f"{len(model_errors)} differences (seed {seed})")
    check("filtered searches were part of it", bool(filters), "no filter could be loaded")
    check("the recording filter was part of it", seen, "it could not be built or loaded")
    check("fsck.vexfs -n is clean afterwards", r.returncode == 0, r.stdout[-400:])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
