#!/usr/bin/env python3
"""Image fuzzing: damage the metadata of a populated VexFS image, then
mount it, walk it, change it, unmount it and run fsck.vexfs on it, many
times.

    imgfuzz.py mutate BASE OUT SEED     write one damaged copy, print what changed
    imgfuzz.py run BASE --count N --seed S --mnt DIR [--fsck BIN]
                                        the loop (in the guest, as root)

The mutator finds the metadata by reading the image as the module does:
the superblock, every inode in use, their extent trees (root in the inode,
deeper nodes in blocks), directory blocks, xattr blocks, each collection's
vector table and its HNSW index inode (header and graph). Each image gets
one to three changes, drawn from:

  bytes      random bytes in a metadata block or inode, the checksum fixed
             half of the time
  inode      a field set to an edge value (size, blocks, links, mode, flags,
             parent, aux, xattr block), the inode checksum fixed
  extent     an extent or index entry out of range, overlapping, empty, too
             long, pointing into metadata or at its own node (a loop); a
             node header with a bad depth, count or capacity
  dirent     a record naming a free, hidden, out-of-range or ancestor inode
             (a directory loop), a bad record length, name length or type
  htree      a hashed directory's tree: a head field (root, node count,
             level, remembered rooms), a node field (count,
             level, low, next link), a pair's hash or pointer, two pairs
             swapped, a pair dropped (a name the tree no longer finds), the
             checksum fixed most of the time
  xattr      bad counts, used bytes, owner, entry lengths
  vtable     a vector-table header field (dimension, record size, slots,
             owner, index inode) with its checksum fixed; a slot record
             naming the wrong inode
  vindex     an index header field with its checksum fixed; graph header
             numbers, node slots, levels and link counts, link ids (the
             graph itself has no checksum of its own)

On every image that mounts, the walk (stat, read, readlink, getfattr, a
search in every collection) is followed by the write steps of WRITES:
create, unlink and rmdir (a full directory, one emptied first), renames
within and across directories, into, out of and between collections,
over an existing name and RENAME_EXCHANGE, hard links into and out of
collections, SET_VECTOR, DEL_VECTOR and the user.vexfs.vector xattr, a
batch insert, an index published over the live slots and dropped, a
search after every step, a sync, then remount read-only and read-write
and one more file. Damaged metadata is met on the paths that allocate,
free and rewrite it, where the read walk never goes. Any step may fail
with an errno; the log counts which did.

After the unmount, fsck.vexfs -n, -y and -n again: the last one should
find nothing, and what it still reports is printed.

The run loop counts images, mounts, refusals, walk errors, write steps
run and succeeded (each step and errno), searches and fsck exit codes,
prints one line per image, and stops at the first failure: a hang
(mount, walk, a write step, umount or fsck past its time limit), fsck
killed by a signal or exiting with a code it never uses (its codes are
e2fsck's, or-ed: 1, 4 and 8 in any combination). Kernel oopses and
warnings panic the guest (scripts/vm.sh reports them); each image's seed
and changes are printed and written to the kernel log before it is
mounted, so the last such line before a panic says how to reproduce it:
`imgfuzz.py mutate BASE OUT SEED` rebuilds the image from the same base
(test_imgfuzz keeps a copy of it in $VEXFS_RESULTS), and `imgfuzz.py run
BASE --count 1 --seed SEED` repeats the same steps.
"""
import argparse
import array
import ctypes
import errno
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vm"))
import hnsw_graph  # noqa: E402
import sbedit  # noqa: E402
import vexfs_ioctl  # noqa: E402

BS = sbedit.BLOCK_SIZE
ISZ = sbedit.INODE_SIZE
SEED = sbedit.CRC_SEED

# struct vexfs_inode, offsets from include/uapi/vexfs_fs.h
INODE = {name: (off, size) for name, off, size, _ in
         sbedit.struct_layout("vexfs_inode", ISZ)}
I_EXTENT_ROOT = INODE["i_extent_root"][0]
F_COLLECTION, F_VTABLE, F_VINDEX = 1, 2, 4
EXT_MAGIC = 0xF30B
TAIL_KINDS = {0x504D4256, 0x54584556, 0x52494456, 0x52544156, 0x45525448, 0x44485448}
F_HTREE = 8
HTREE_LBLK = 0x40000000
# struct vexfs_htree_head and struct vexfs_htree_node
HTREE_HEAD = {"h_root": (0, 4), "h_nodes": (4, 4), "h_level": (8, 4),
              "h_rooms": (12, 4)}
HTREE_ROOM = 64
HTREE_NODE = {"n_count": (0, 2), "n_level": (2, 2), "n_low": (4, 4), "n_next": (8, 4)}
HTREE_PAIR = 16
VTABLE_HDR = {name: (off, size) for name, off, size, _ in
              sbedit.struct_layout("vexfs_vtable_header", 64)}
VINDEX_HDR = {name: (off, size) for name, off, size, _ in
              sbedit.struct_layout("vexfs_vindex_header", 64)}
HNSW_HDR = {name: (off, size) for name, off, size, _ in
            sbedit.struct_layout("vexfs_hnsw_header", 256,
                                 os.path.join(HERE, "..", "..", "include", "uapi",
                                              "vexfs_hnsw.h"))}


def u(buf, off, size):
    return int.from_bytes(buf[off:off + size], "little")


def put(buf, off, size, value):
    buf[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


class Image:
    """A bytearray image and the metadata found in it."""

    def __init__(self, data):
        self.d = data
        sb = data[:sbedit.SB_SIZE]
        layout = sbedit.superblock_layout()
        self.sb = {name: sbedit.read_field(sb, (name, off, size, n))
                   for name, off, size, n in layout if n == 1}
        self.blocks = self.sb["s_blocks_count"]
        self.ninodes = self.sb["s_inodes_count"]
        self.table = self.sb["s_inode_table_start"]
        self.data_start = self.sb["s_data_start"]
        self.inodes = {}        # ino -> (mode, flags)
        self.parent = {}        # directory ino -> parent ino
        self.ext_nodes = []     # (ino, block or None for the root in the inode)
        self.dir_blocks = []    # (dir ino, block): entry blocks
        self.htree_blocks = []  # (dir ino, tree block number, block)
        self.xattr_blocks = []
        self.xattr_owner = {}   # block -> ino
        self.tables = []        # (ino, {lblk: pblk})
        self.indexes = []
        self.touched = []       # inodes a mutation changed, or whose blocks it did
        self.scan_inodes()

    # ---- reading ----
    def inode_off(self, ino):
        return self.table * BS + ino * ISZ

    def field(self, ino, name):
        off, size = INODE[name]
        return u(self.d, self.inode_off(ino) + off, size)

    def inode_used(self, ino):
        byte = self.d[self.sb["s_inode_bitmap_start"] * BS + ino // 8]
        return byte >> (ino % 8) & 1

    def scan_inodes(self):
        limit = min(self.ninodes, self.sb["s_inode_table_blocks"] * (BS // ISZ))
        for ino in range(1, min(limit, 32704)):
            if not self.inode_used(ino):
                continue
            mode, flags = self.field(ino, "i_mode"), self.field(ino, "i_flags")
            if not mode:
                continue
            self.inodes[ino] = (mode, flags)
            mapping = self.walk_extents(ino)
            if stat.S_ISDIR(mode):
                self.parent[ino] = self.field(ino, "i_parent")
                self.dir_blocks += [(ino, b) for lb, b in mapping.items()
                                    if lb < HTREE_LBLK]
                self.htree_blocks += [(ino, lb - HTREE_LBLK, b)
                                      for lb, b in mapping.items() if lb >= HTREE_LBLK]
            if flags & F_VTABLE:
                self.tables.append((ino, mapping))
            if flags & F_VINDEX:
                self.indexes.append((ino, mapping))
            xb = self.field(ino, "i_xattr_block")
            if self.data_start <= xb < self.blocks:
                self.xattr_blocks.append(xb)
                self.xattr_owner[xb] = ino

    def walk_extents(self, ino):
        """{logical block: physical block} of a file, noting the tree's nodes."""
        mapping = {}
        self.ext_nodes.append((ino, None))
        self.walk_node(ino, self.inode_off(ino) + I_EXTENT_ROOT, mapping, 0)
        return mapping

    def walk_node(self, ino, off, mapping, level):
        d = self.d
        if u(d, off, 2) != EXT_MAGIC or level > 5:
            return
        entries, depth = u(d, off + 2, 2), u(d, off + 6, 2)
        for i in range(min(entries, 254)):
            e = off + 16 + 16 * i
            if depth == 0:
                lblk, length, pblk = u(d, e, 4), u(d, e + 4, 4), u(d, e + 8, 8)
                for j in range(min(length, 4096)):
                    if pblk + j < self.blocks:
                        mapping[lblk + j] = pblk + j
            else:
                child = u(d, e + 8, 8)
                if self.data_start <= child < self.blocks:
                    self.ext_nodes.append((ino, child))
                    self.walk_node(ino, child * BS, mapping, level + 1)

    def paths(self):
        """{ino: path from the root} of every name the directory blocks hold."""
        root = self.sb["s_root_ino"]
        out, todo, blocks = {root: ""}, [root], {}
        for dino, blk in self.dir_blocks:
            blocks.setdefault(dino, []).append(blk)
        while todo:
            dino = todo.pop(0)
            for blk in blocks.get(dino, []):
                for r in dir_records(self, blk):
                    ino, name_len = u(self.d, r, 8), self.d[r + 10]
                    if not ino or ino in out or ino not in self.inodes:
                        continue
                    name = bytes(self.d[r + 16:r + 16 + name_len]).decode(errors="replace")
                    out[ino] = os.path.join(out[dino], name)
                    if ino in self.parent:
                        todo.append(ino)
        return out

    def touch(self, ino):
        if ino not in self.touched:
            self.touched.append(ino)

    # ---- checksums ----
    def fix_inode(self, ino):
        off = self.inode_off(ino)
        raw = bytes(self.d[off:off + ISZ])
        _, computed = sbedit.inode_checksum(raw, ino)
        put(self.d, off + INODE["i_checksum"][0], 4, computed)

    def fix_block(self, blk):
        raw = self.d[blk * BS:(blk + 1) * BS]
        if u(raw, BS - 8, 4) in TAIL_KINDS:
            put(self.d, blk * BS + BS - 4, 4, sbedit.crc32c(SEED ^ (blk & 0xFFFFFFFF), raw[:-4]))

    def fix_header(self, off, csum_off):
        """vector-table and index headers: crc32c of 64 bytes, the field zero."""
        put(self.d, off + csum_off, 4, 0)
        put(self.d, off + csum_off, 4, sbedit.crc32c(SEED, self.d[off:off + 64]))


# A vector table's change map: after its 64-byte header in block 0.
CMAP_OFF = 64
CMAP_MAGIC = 0x50414D43
CMAP_ENTRIES = (BS - 64 - 16) // 4


def seal_cmap(d, at):
    """The change map at byte at: crc32c of the whole map, the field zero."""
    put(d, at + 4, 4, 0)
    put(d, at + 4, 4, sbedit.crc32c(SEED, d[at:at + BS - CMAP_OFF]))


def edge(rng, size, extra=()):
    """A value worth trying in a field of size bytes."""
    top = (1 << (8 * size)) - 1
    pool = [0, 1, 2, top, top - 1, top >> 1, (top >> 1) + 1] + list(extra)
    return rng.choice(pool) if rng.random() < 0.8 else rng.randrange(top + 1)


# ---- mutations: each returns a description, or None when it found no target ----

def m_bytes(img, rng):
    regions = []
    if img.inodes:
        regions.append("inode")
    for name, lst in (("extent", [b for _, b in img.ext_nodes if b]),
                      ("dir", [b for _, b in img.dir_blocks]),
                      ("htree", [b for _, _, b in img.htree_blocks]),
                      ("xattr", img.xattr_blocks)):
        if lst:
            regions.append(name)
    regions += ["bitmap", "superblock"] if rng.random() < 0.1 else ["bitmap"]
    what = rng.choice(regions)
    fix = rng.random() < 0.5
    n = rng.randint(1, 8)
    if what == "inode":
        ino = rng.choice(list(img.inodes))
        off = img.inode_off(ino)
        for _ in range(n):
            img.d[off + rng.randrange(ISZ)] = rng.randrange(256)
        if fix:
            img.fix_inode(ino)
        img.touch(ino)
        return "bytes inode %d x%d%s" % (ino, n, " crc-fixed" if fix else "")
    if what == "superblock":
        for _ in range(n):
            img.d[rng.randrange(sbedit.SB_SIZE)] = rng.randrange(256)
        return "bytes superblock x%d" % n
    if what == "bitmap":
        lo = img.sb["s_inode_bitmap_start"]
        blk = rng.randrange(lo, img.table)
    else:
        blk = rng.choice({"extent": [b for _, b in img.ext_nodes if b],
                          "dir": [b for _, b in img.dir_blocks],
                          "htree": [b for _, _, b in img.htree_blocks],
                          "xattr": img.xattr_blocks}[what])
    for _ in range(n):
        img.d[blk * BS + rng.randrange(BS - 8)] = rng.randrange(256)
    if fix:
        img.fix_block(blk)
    owner = {"extent": {b: i for i, b in img.ext_nodes if b},
             "dir": {b: i for i, b in img.dir_blocks},
             "htree": {b: i for i, _, b in img.htree_blocks},
             "xattr": img.xattr_owner}.get(what, {}).get(blk)
    if owner:
        img.touch(owner)
    return "bytes %s block %d x%d%s" % (what, blk, n, " crc-fixed" if fix else "")


def m_inode(img, rng):
    if not img.inodes:
        return None
    name = rng.choice(["i_mode", "i_flags", "i_nlink", "i_size", "i_blocks",
                       "i_xattr_block", "i_parent", "i_aux", "i_uid"])
    ino = rng.choice(list(img.inodes))
    if name == "i_nlink" and rng.random() < 0.5:
        # A count one off from the names that lead to the inode: the
        # last unlink or rename must see it, not take it below zero.
        ino = rng.choice([i for i in img.inodes if img.field(i, "i_nlink") > 1] or [ino])
        links = img.field(ino, "i_nlink")
        value = links + rng.choice([-1, 1])
        put(img.d, img.inode_off(ino) + INODE[name][0], INODE[name][1], value)
        img.fix_inode(ino)
        img.touch(ino)
        return "inode %d %s=%#x (was %d)" % (ino, name, value, links)
    off, size = INODE[name]
    extra = {"i_mode": [0o040755, 0o100644, 0o120777, 0o020644, 0o010644, 0o140755, 0o170000],
             "i_flags": [1, 2, 4, 3, 6, 7, 8],
             "i_size": [BS, 1 << 44, (1 << 44) + 1, 4095 << 32],
             "i_xattr_block": [img.data_start - 1, img.blocks, img.table, ino],
             "i_parent": [ino, img.ninodes, img.ninodes - 1] + list(img.parent),
             "i_aux": [img.ninodes, ino] + list(img.inodes)[:20]}.get(name, [])
    value = edge(rng, size, extra)
    put(img.d, img.inode_off(ino) + off, size, value)
    img.fix_inode(ino)
    img.touch(ino)
    return "inode %d %s=%#x" % (ino, name, value)


def m_extent(img, rng):
    if not img.ext_nodes:
        return None
    ino, blk = rng.choice(img.ext_nodes)
    off = img.inode_off(ino) + I_EXTENT_ROOT if blk is None else blk * BS
    entries, depth = u(img.d, off + 2, 2), u(img.d, off + 6, 2)
    what = rng.choice(["entry", "entry", "entry", "header"])
    if what == "header" or not entries:
        name, fo, size = rng.choice([("entries", 2, 2), ("max", 4, 2), ("depth", 6, 2),
                                     ("magic", 0, 2)])
        value = edge(rng, size, [entries + 1, 9, 254, 255, depth + 1, 5, 6])
        put(img.d, off + fo, size, value)
        desc = "extent header %s=%#x" % (name, value)
    else:
        e = off + 16 + 16 * rng.randrange(entries)
        if depth == 0:
            name, fo, size = rng.choice([("lblk", 0, 4), ("len", 4, 4), ("pblk", 8, 8)])
        else:
            name, fo, size = rng.choice([("lblk", 0, 4), ("child", 8, 8), ("child", 8, 8)])
        extra = [img.data_start - 1, img.data_start, img.blocks - 1, img.blocks,
                 img.table, 32768, 32769, 1 << 32]
        if blk:
            extra += [blk] * 4          # a node that is its own child: a loop
        prev = u(img.d, e - 16, 4) if e - 16 > off + 16 else 0
        extra.append(prev)              # overlaps the entry before
        value = edge(rng, size, extra)
        put(img.d, e + fo, size, value)
        desc = "extent %s=%#x" % (name, value)
    img.touch(ino)
    if blk is None:
        img.fix_inode(ino)
        return "%s in inode %d" % (desc, ino)
    img.fix_block(blk)
    return "%s in block %d of inode %d" % (desc, blk, ino)


def dir_records(img, blk):
    off, end, out = blk * BS, blk * BS + BS - 8, []
    while off + 16 <= end:
        rec_len = u(img.d, off + 8, 2)
        out.append(off)
        if rec_len < 16 or rec_len % 8:
            break
        off += rec_len
    return out


def m_dirent(img, rng):
    if not img.dir_blocks:
        return None
    dino, blk = rng.choice(img.dir_blocks)
    recs = dir_records(img, blk)
    if not recs:
        return None
    r = rng.choice(recs)
    ancestors, p = [], img.parent.get(dino)
    for _ in range(64):                 # the directory's own ancestors: a loop
        if not p or p in ancestors:
            break
        ancestors.append(p)
        p = img.parent.get(p)
    hidden = [i for i, (_, fl) in img.inodes.items() if fl & (F_VTABLE | F_VINDEX)]
    name, fo, size = rng.choice([("ino", 0, 8), ("ino", 0, 8), ("rec_len", 8, 2),
                                 ("name_len", 10, 1), ("type", 11, 1), ("name", 16, 1)])
    extra = {"ino": [1, dino, img.ninodes, img.ninodes - 1, 1 << 32] + ancestors * 3 + hidden * 3
             + [i for i in range(2, 40) if i not in img.inodes][:3],
             "rec_len": [8, 15, 24, BS, BS - 8, u(img.d, r + 8, 2) + 8],
             "name_len": [255, u(img.d, r + 10, 1) + 1],
             "type": [1, 2, 4, 7, 8, 15],
             "name": [ord("/"), 0, ord(".")]}[name]
    value = edge(rng, size, extra)
    img.touch(dino)
    img.touch(u(img.d, r, 8))
    put(img.d, r + fo, size, value)
    if name == "ino" and value in ancestors:
        img.d[r + 11] = 4               # DT_DIR, so the loop is followed
    img.fix_block(blk)
    return "dirent %s=%#x in block %d of dir %d" % (name, value, blk, dino)


def m_htree(img, rng):
    if not img.htree_blocks:
        return None
    dino, n, blk = rng.choice(img.htree_blocks)
    off = blk * BS
    if n == 0:
        field = rng.choice(list(HTREE_HEAD) + ["h_room"])
        if field == "h_room":
            at = off + HTREE_ROOM + 4 * rng.randrange(8)
            put(img.d, at, 4, edge(rng, 4, (u(img.d, at, 4) + 1,)))
        else:
            foff, size = HTREE_HEAD[field]
            old = u(img.d, off + foff, size)
            put(img.d, off + foff, size, edge(rng, size, (old + 1, old - 1)))
        what = "head %s" % field
    else:
        count = u(img.d, off, 2)
        kind = rng.choice(["field", "pair", "swap", "drop"] if count else ["field"])
        pair = off + HTREE_PAIR + 8 * rng.randrange(max(count, 1))
        if kind == "field":
            field = rng.choice(list(HTREE_NODE))
            foff, size = HTREE_NODE[field]
            old = u(img.d, off + foff, size)
            put(img.d, off + foff, size, edge(rng, size, (old + 1, old - 1, n)))
            what = "node %d %s" % (n, field)
        elif kind == "pair":
            foff = rng.choice([0, 4])
            old = u(img.d, pair + foff, 4)
            put(img.d, pair + foff, 4, edge(rng, 4, (old + 1, old - 1, n)))
            what = "node %d pair %s" % (n, "hash" if foff == 0 else "pointer")
        elif kind == "swap":
            other = off + HTREE_PAIR + 8 * rng.randrange(count)
            a, b = bytes(img.d[pair:pair + 8]), bytes(img.d[other:other + 8])
            img.d[pair:pair + 8], img.d[other:other + 8] = b, a
            what = "node %d pairs swapped" % n
        else:
            end = off + HTREE_PAIR + 8 * count
            img.d[pair:end - 8] = img.d[pair + 8:end]
            put(img.d, off, 2, count - 1)
            what = "node %d pair dropped" % n
    fix = rng.random() < 0.8
    if fix:
        img.fix_block(blk)
    img.touch(dino)
    return "htree dir %d %s%s" % (dino, what, " crc-fixed" if fix else "")


def m_xattr(img, rng):
    if not img.xattr_blocks:
        return None
    blk = rng.choice(img.xattr_blocks)
    off = blk * BS
    name, fo, size = rng.choice([("count", 0, 4), ("used", 4, 4), ("owner", 8, 8),
                                 ("entry index", 16, 1), ("entry name_len", 17, 1),
                                 ("entry value_len", 18, 2)])
    value = edge(rng, size, [BS, BS - 24, BS - 23, 255, 4072, 4073])
    put(img.d, off + fo, size, value)
    img.touch(img.xattr_owner[blk])
    img.fix_block(blk)
    return "xattr %s=%#x in block %d" % (name, value, blk)


def kept_entries(img, blk):
    """(offset of the value, its length) of each kept vector in an xattr
    block: entries of the private index 3 (vexfs_fs.h, struct
    vexfs_kept_vector)."""
    off, base = 0, blk * BS + 16
    used, found = u(img.d, blk * BS + 4, 4), []
    while off + 4 <= min(used, BS - 24):
        index, nlen, vlen = img.d[base + off], img.d[base + off + 1], u(img.d, base + off + 2, 2)
        if not nlen:
            break
        if index == 3:
            found.append((base + off + 4 + nlen, vlen))
        off += (4 + nlen + vlen + 3) & ~3
    return found


def m_kept(img, rng):
    """A vector kept with a file renamed out of its collection: its
    header fields, a component made NaN or infinite, or the entry moved
    to another index."""
    kept = [(blk, e) for blk in img.xattr_blocks for e in kept_entries(img, blk)]
    if not kept:
        return None
    blk, (at, vlen) = rng.choice(kept)
    fo, size, name = rng.choice([(0, 4, "kv_dim"), (4, 2, "kv_metric"), (6, 2, "kv_reserved"),
                                 (8, 8, "kv_id"), (48, 4, "kv_vector[0]"),
                                 (vlen - 4, 4, "kv_vector[last]")])
    if fo < 0 or fo + size > vlen:
        return None
    if name.startswith("kv_vector"):
        value = rng.choice([0x7fc00000, 0x7f800000, 0xff800000])
    else:
        value = edge(rng, size, [1003, 1002, 4, 8, 3, 4])
    put(img.d, at + fo, size, value)
    img.touch(img.xattr_owner[blk])
    img.fix_block(blk)
    return "kept vector %s=%#x in block %d" % (name, value, blk)


def m_vtable(img, rng):
    if not img.tables:
        return None
    ino, mapping = rng.choice(img.tables)
    if 0 not in mapping:
        return None
    hdr = mapping[0] * BS
    if rng.random() < 0.6:
        name = rng.choice(["vh_dim", "vh_metric", "vh_elem_type", "vh_rec_size", "vh_owner",
                           "vh_slots", "vh_index_ino", "vh_version", "vh_magic"])
        off, size = VTABLE_HDR[name]
        value = edge(rng, size, [4096, 4097, 64 + 4 * 4096, list(img.inodes)[0], img.ninodes])
        put(img.d, hdr + off, size, value)
        img.fix_header(hdr, VTABLE_HDR["vh_checksum"][0])
        return "vtable %d header %s=%#x" % (ino, name, value)
    dim = u(img.d, hdr + VTABLE_HDR["vh_dim"][0], 4)
    rec = 64 + 4 * dim
    slots = u(img.d, hdr + VTABLE_HDR["vh_slots"][0], 8)
    if not slots or rec > BS:
        return None
    slot = rng.randrange(min(slots, 4096))
    pos = BS + slot * rec
    if pos // BS not in mapping:
        return None
    at = mapping[pos // BS] * BS + pos % BS
    fo, size, name = rng.choice([(0, 8, "vr_ino"), (0, 8, "vr_ino"), (56, 4, "vr_seq"),
                                 (52, 2, "vr_flags"), (48, 2, "vr_mode"), (64, 4, "vector[0]")])
    if at + fo + size > mapping[pos // BS] * BS + BS:
        return None
    value = edge(rng, size, list(img.inodes) + [img.ninodes, 0x7fc00000, 0x7f800000])
    if name == "vr_ino" and rng.random() < 0.3:
        # No file: the collection itself (which rmdir holds locked), the
        # root, or the table.
        owner = u(img.d, hdr + VTABLE_HDR["vh_owner"][0], VTABLE_HDR["vh_owner"][1])
        value = rng.choice([owner, 1, ino])
    img.touch(u(img.d, at, 8))         # the file the slot belongs to
    put(img.d, at + fo, size, value)
    return "vtable %d slot %d %s=%#x" % (ino, slot, name, value)


def m_cmap(img, rng):
    """A change map's shift or an entry, mostly with its checksum sealed:
    a map that lies about what changed since the index."""
    if not img.tables:
        return None
    ino, mapping = rng.choice(img.tables)
    if 0 not in mapping:
        return None
    at = mapping[0] * BS + CMAP_OFF
    if u(img.d, at, 4) != CMAP_MAGIC:
        return None
    if rng.random() < 0.3:
        value = edge(rng, 2, [0, 1, 31, 32, 33, u(img.d, at + 8, 2) + 1])
        put(img.d, at + 8, 2, value)
        what = "shift=%#x" % value
    else:
        e = rng.randrange(CMAP_ENTRIES)
        value = edge(rng, 4, [0, 1, 0xFFFFFFFE, 0xFFFFFFFF])
        put(img.d, at + 16 + 4 * e, 4, value)
        what = "entry %d=%#x" % (e, value)
    if rng.random() < 0.8:
        seal_cmap(img.d, at)
    return "vtable %d change map %s" % (ino, what)


def m_vindex(img, rng):
    if not img.indexes:
        return None
    ino, mapping = rng.choice(img.indexes)
    if 0 not in mapping or 1 not in mapping:
        return None
    hdr, g = mapping[0] * BS, mapping[1] * BS
    choice = rng.random()
    if choice < 0.25:
        name = rng.choice(["vi_seq", "vi_graph_len", "vi_owner", "vi_magic"])
        off, size = VINDEX_HDR[name]
        value = edge(rng, size, [1 << 30, (1 << 31) - 4096, 1 << 40, 4096,
                                 u(img.d, hdr + off, size) + 4096])
        put(img.d, hdr + off, size, value)
        img.fix_header(hdr, VINDEX_HDR["vi_checksum"][0])
        return "vindex %d header %s=%#x" % (ino, name, value)
    if choice < 0.6:
        name = rng.choice([n for n in HNSW_HDR if not n.startswith("h_reserved")])
        off, size = HNSW_HDR[name]
        old = u(img.d, g + off, size)
        value = edge(rng, size, [old + 1, old - 1 if old else 0, old * 2, 4096, 257, 129])
        put(img.d, g + off, size, value)
        return "vindex %d graph %s=%#x" % (ino, name, value)
    # A node or link record: somewhere in the graph's pages after the header.
    pages = sorted(k for k in mapping if k >= 2)
    if not pages:
        return None
    lblk = rng.choice(pages)
    at = mapping[lblk] * BS + rng.randrange(BS // 4) * 4
    value = edge(rng, 4, [0xFFFFFFFF, u(img.d, at, 4) + 1, 1000000, 33])
    put(img.d, at, 4, value)
    return "vindex %d graph page %d word %d=%#x" % (ino, lblk - 1, (at % BS) // 4, value)


MUTATIONS = [(m_bytes, 3), (m_inode, 3), (m_extent, 3), (m_dirent, 3), (m_htree, 2), (m_xattr, 1),
             (m_kept, 1), (m_vtable, 2), (m_cmap, 1), (m_vindex, 3)]


def mutate(base, seed):
    """A damaged copy of base (bytes), what was done to it, and the inodes
    it changed or whose blocks it changed."""
    rng = random.Random(seed)
    img = Image(bytearray(base))
    notes = []
    for _ in range(rng.randint(1, 3)):
        for _attempt in range(5):
            fn = rng.choices([m for m, _ in MUTATIONS], weights=[w for _, w in MUTATIONS])[0]
            note = fn(img, rng)
            if note:
                notes.append(note)
                break
    return img.d, notes, img.touched


# ---- the loop in the guest ----

def walk(root):
    """find, stat, read, readlink, getfattr and a search on every collection."""
    errors = 0
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as f:
                        f.read(1 << 20)
                for attr in os.listxattr(path, follow_symlinks=False):
                    os.getxattr(path, attr, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    errors += search_dir(path)
            except OSError:
                errors += 1
    return errors


def search_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        coll = vexfs_ioctl.get_collection(fd)
    except OSError:
        os.close(fd)
        return 0
    dim = coll["dim"] if isinstance(coll, dict) else coll[0]
    errors = 0
    for flags in (0, vexfs_ioctl.SEARCH_EXACT):
        try:
            vexfs_ioctl.search(fd, [0.5] * dim, 10, flags=flags)
        except OSError:
            errors += 1
    os.close(fd)
    return errors


# ---- changes to a mounted damaged image ----

XATTR_VECTOR = "user.vexfs.vector"
AT_FDCWD = -100
RENAME_EXCHANGE = 2
MS_RDONLY, MS_REMOUNT = 1, 32
LIBC = ctypes.CDLL(None, use_errno=True)


def libc_call(fn, *args):
    if fn(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def hard_link(src, dst):
    os.link(src, dst, follow_symlinks=False)


def set_xattr(path, name, value):
    os.setxattr(path, name, value, follow_symlinks=False)


def remove_xattr(path, name):
    os.removexattr(path, name, follow_symlinks=False)


def errname(err):
    return errno.errorcode.get(err, "E%d" % err)


class NotRegular(Exception):
    """A name that should be a regular file is not one on this image."""


class Writer:
    """The write steps on one mounted damaged image, in a fixed order.

    First the steps aimed at what the mutation changed (the inodes, and
    the owners of the blocks, it touched, by the names the base image gave
    them: the damage is met where it is, not only where a fixed step
    happens to pass), then the fixed steps over the whole tree. Each step
    runs on whatever exists: a damaged directory may have lost names the
    base image had, and then the step fails (ENOENT, EUCLEAN...), an
    outcome like any other. Every step and search is written to `log` as
    it starts ("> name") and as it ends ("name 0" or "name ERRNO"), so the
    parent knows which one hung if one does.
    """

    def __init__(self, root, seed, log, targets=()):
        self.root = root
        self.rng = random.Random(seed)
        self.log = log
        self.targets = targets          # [(path from the root, mode in the base image)]
        self.coll, self.coll2 = self.p("coll"), self.p("coll2")
        self.dim = self.collection_dim(self.coll, 8)
        self.dim2 = self.collection_dim(self.coll2, 4)
        try:
            names = os.listdir(self.coll)
        except OSError:
            names = []
        names = sorted((n for n in names if n.isdigit()), key=int) or [str(i) for i in range(1, 40)]
        # Distinct members for the steps that take one, from anywhere in
        # the directory: a damaged block may hold some of them.
        self.members = self.rng.sample(names, min(len(names), 12))

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    def member(self):
        return os.path.join(self.coll, self.members.pop() if self.members else "missing")

    @staticmethod
    def collection_dim(path, default):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                dim = vexfs_ioctl.get_collection(fd)["dim"]
            finally:
                os.close(fd)
        except OSError:
            return default
        return dim if 1 <= dim <= 4096 else default

    def vector(self, dim):
        return [self.rng.uniform(-1, 1) for _ in range(dim)]

    def attempt(self, name, fn, *args):
        self.log.write("> %s\n" % name)
        self.log.flush()
        try:
            fn(*args)
            result = "0"
        except OSError as e:
            result = errname(e.errno) if e.errno else "error"
        except NotRegular:
            result = "not-a-file"
        self.log.write("%s %s\n" % (name, result))
        self.log.flush()

    # -- the steps' bodies --

    def write_file(self, path, size):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, bytes(self.rng.randrange(256) for _ in range(64)) * (size // 64))
        finally:
            os.close(fd)

    def open_regular(self, path, flags):
        """Only what lstat calls a regular file: a damaged mode may make a
        name a FIFO, where open would wait, or a device of any number."""
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise NotRegular(path)
        return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)

    def on_file(self, path, fn, *args):
        fd = self.open_regular(path, os.O_RDWR)
        try:
            fn(fd, *args)
        finally:
            os.close(fd)

    def on_dir(self, path, fn, *args):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fn(fd, *args)
        finally:
            os.close(fd)

    def fill(self, path):
        """Allocate until the block bitmap says there is no more (ENOSPC)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        chunk = b"f" * (1 << 20)
        try:
            for _ in range(64):
                os.write(fd, chunk)
        finally:
            os.close(fd)

    def make_dir(self):
        os.mkdir(self.p("a", "new-dir"))
        self.write_file(self.p("a", "new-dir", "inside"), 5000)

    def remove_new_dir(self):
        os.unlink(self.p("a", "new-dir", "inside"))
        os.rmdir(self.p("a", "new-dir"))

    def empty_dir(self):
        path = self.p("a", "b", "c")
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))

    def set_vector_xattr(self, path):
        set_xattr(path, XATTR_VECTOR, array.array("f", self.vector(self.dim)).tobytes())

    def batch(self, fd):
        ids = self.rng.sample(range(10 ** 6, 10 ** 9), 24)
        flat = array.array("f", [x for _ in ids for x in self.vector(self.dim)]).tobytes()
        vexfs_ioctl.batch_insert(fd, ids, flat, self.dim)

    def publish(self, fd):
        """A chain over every live slot: valid whatever the vectors are."""
        info = vexfs_ioctl.get_collection(fd)
        dim = info["dim"] if 1 <= info["dim"] <= 4096 else self.dim
        metric = info["metric"] if info["metric"] in (1, 2, 3) else 1
        inos, seq = vexfs_ioctl.read_vectors(fd, dim, max(1, min(info["slots"], 1024)))
        slots = [i for i, ino in enumerate(inos) if ino]
        graph = hnsw_graph.build(dim, metric, slots, hnsw_graph.chain(len(slots)), m=4)
        vexfs_ioctl.publish_index(fd, graph, seq)

    def search(self, path, dim, flags):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            vexfs_ioctl.search(fd, [0.25] * dim, 10, flags=flags)
        finally:
            os.close(fd)

    def searches(self):
        self.attempt("search", self.search, self.coll, self.dim, 0)
        self.attempt("search", self.search, self.coll, self.dim, vexfs_ioctl.SEARCH_EXACT)
        self.attempt("search", self.search, self.coll2, self.dim2, 0)

    # -- on a damaged inode --

    def t_append(self, path):
        fd = self.open_regular(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"t" * 5000)
        finally:
            os.close(fd)

    def t_truncate(self, path):
        fd = self.open_regular(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, 100)
        finally:
            os.close(fd)

    def t_vector(self, path):
        dim = self.collection_dim(os.path.dirname(path), self.dim)
        self.on_file(path, lambda fd: vexfs_ioctl.set_vector(fd, self.vector(dim)))
        self.on_file(path, vexfs_ioctl.del_vector)

    def t_inside(self, path):
        self.write_file(os.path.join(path, "t-new"), 3000)
        os.mkdir(os.path.join(path, "t-dir"))
        os.rename(os.path.join(path, "t-new"), os.path.join(path, "t-dir", "t-moved"))
        os.unlink(os.path.join(path, "t-dir", "t-moved"))
        os.rmdir(os.path.join(path, "t-dir"))

    def t_link(self, path):
        hard_link(path, path + ".t-link")
        os.unlink(path + ".t-link")

    def t_rename(self, path):
        os.rename(path, path + ".t-renamed")
        os.rename(path + ".t-renamed", path)

    def targeted(self, rel, mode):
        path = self.p(rel)
        out = [("t-xattr", set_xattr, path, "user.t", b"t" * 300)]
        if stat.S_ISDIR(mode):
            out.append(("t-inside", self.t_inside, path))
        if stat.S_ISREG(mode):
            out += [("t-append", self.t_append, path), ("t-truncate", self.t_truncate, path)]
            if os.path.dirname(rel) in ("coll", "coll2"):
                out.append(("t-vector", self.t_vector, path))
        if rel:
            if not stat.S_ISDIR(mode):
                out.append(("t-link", self.t_link, path))
            out += [("t-rename", self.t_rename, path),
                    ("t-remove", os.rmdir if stat.S_ISDIR(mode) else os.unlink, path)]
        return out

    def steps(self):
        p, coll = self.p, self.coll
        out = [step for rel, mode in self.targets for step in self.targeted(rel, mode)]
        i = self.rng.randrange(200)
        wide = p("wide", "entry-%03d-%s" % (i, "n" * (i % 40)))
        m = [self.member() for _ in range(11)]
        vec_ioctl = vexfs_ioctl.set_vector
        return out + [
            ("create", self.write_file, p("a", "new-file"), 20000),
            ("mkdir", self.make_dir),
            ("unlink", os.unlink, p("a", "file4")),
            ("unlink-wide", os.unlink, wide),
            ("unlink-coll", os.unlink, m[0]),
            ("rmdir-full", os.rmdir, p("a")),
            ("empty-dir", self.empty_dir),
            ("rmdir-emptied", os.rmdir, p("a", "b", "c")),
            ("rmdir-new", self.remove_new_dir),
            ("rename", os.rename, p("a", "file3"), p("a", "file3.renamed")),
            ("rename-over", os.rename, p("a", "file9"), p("a", "file10")),
            ("rename-across", os.rename, p("a", "file5"), p("wide", "file5")),
            ("rename-dir", os.rename, p("a", "b"), p("wide", "b-moved")),
            ("rename-into", os.rename, p("a", "file6"), p("coll", "from-a")),
            ("rename-out", os.rename, m[1], p("a", "from-coll")),
            ("rename-in-coll", os.rename, m[2], m[2] + ".renamed"),
            ("rename-colls", os.rename, m[3], p("coll2", "from-coll")),
            ("exchange", libc_call, LIBC.renameat2, AT_FDCWD, os.fsencode(p("a", "file7")),
             AT_FDCWD, os.fsencode(m[4]), RENAME_EXCHANGE),
            ("exchange-dir", libc_call, LIBC.renameat2, AT_FDCWD, os.fsencode(p("wide", "b-moved")),
             AT_FDCWD, os.fsencode(p("a", "file11")), RENAME_EXCHANGE),
            ("link-into", hard_link, p("a", "file8"), p("coll", "linked-in")),
            ("link-out", hard_link, m[5], p("a", "linked-out")),
            ("link-colls", hard_link, m[6], p("coll2", "linked")),
            ("set-vector", self.on_file, m[7], lambda fd: vec_ioctl(fd, self.vector(self.dim))),
            ("set-vector-new", self.on_file, p("coll", "from-a"),
             lambda fd: vec_ioctl(fd, self.vector(self.dim), 77)),
            # Linked into a second collection: EBUSY while the first holds its vector.
            ("set-vector-linked", self.on_file, p("coll2", "linked"),
             lambda fd: vec_ioctl(fd, self.vector(self.dim2))),
            ("del-vector", self.on_file, m[8], vexfs_ioctl.del_vector),
            ("xattr-set", self.set_vector_xattr, m[9]),
            ("xattr-del", remove_xattr, m[10], XATTR_VECTOR),
            ("batch-insert", self.on_dir, coll, self.batch),
            ("publish", self.on_dir, coll, self.publish),
            ("drop-index", self.on_dir, coll, vexfs_ioctl.drop_index),
            # Left published, so the unmount writes it and fsck checks it.
            ("publish-again", self.on_dir, coll, self.publish),
            ("fill", self.fill, p("fill")),
            ("unlink-fill", os.unlink, p("fill")),
            ("sync", os.sync),
            # mount(2) as `mount -o remount,ro` makes it, for the errno.
            ("remount-ro", libc_call, LIBC.mount, None, os.fsencode(self.root), None,
             MS_REMOUNT | MS_RDONLY, None),
            ("remount-rw", libc_call, LIBC.mount, None, os.fsencode(self.root), None,
             MS_REMOUNT, None),
            ("create-after", self.write_file, p("a", "after-remount"), 9000),
        ]

    def run(self):
        for name, fn, *args in self.steps():
            self.attempt(name, fn, *args)
            self.searches()
        return 0


def run_limited(fn, limit):
    """Run fn() in a child; its exit status, or None when it outlived limit s."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(fn() & 0x7F)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(120)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return None


def sh(args, limit, output=False):
    """Exit status (None: past limit s), with stdout and stderr if output."""
    try:
        r = subprocess.run(args, stdout=subprocess.PIPE if output else subprocess.DEVNULL,
                           stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
                           text=True, errors="replace", timeout=limit)
    except subprocess.TimeoutExpired:
        return (None, "") if output else None
    return (r.returncode, r.stdout) if output else r.returncode


def kmsg(line):
    """Into the kernel log too: if the kernel dies on this image, its log says which."""
    try:
        with open("/dev/kmsg", "w") as f:
            f.write("imgfuzz: %s\n" % line[:900])
    except OSError:
        pass


class Failure(Exception):
    pass


def run_writes(args, seed, targets):
    """The write steps in a child under a time limit: [(step, "0" or errno)]."""
    path = args.work + ".steps"

    def child():
        with open(path, "w") as log:
            return Writer(args.mnt, seed, log, targets).run()

    rc = run_limited(child, 600)
    with open(path) as f:
        lines = f.read().split("\n")
    done = [tuple(line.split(" ", 1)) for line in lines if line and not line.startswith(">")]
    started = [line[2:] for line in lines if line.startswith(">")]
    if rc is not None and rc == 0:
        return done
    before = ", ".join("%s %s" % step for step in done if step[0] != "search")
    raise Failure("write step %s %s, after: %s" % (
        started[-1] if started else "?", "hung" if rc is None else "died (%s)" % rc, before))


def count(table, key, n=1):
    table[key] = table.get(key, 0) + n


def fsck_pass(args, mode, stats, key):
    rc, out = sh([args.fsck, mode, "-f", args.work], 300, output=True)
    if rc is None:
        raise Failure("fsck %s hung" % key)
    # e2fsck's codes, or-ed: 1 fixed, 4 left, 8 operational error
    if rc < 0 or rc & ~(1 | 4 | 8):
        raise Failure("fsck %s exited %d: %s" % (key, rc, out.strip()[-300:]))
    count(stats, "fsck %s exit %d" % (key, rc))
    return rc, out


def one_image(base, names, seed, args, stats):
    """names: {ino: (path, mode)} of the base image."""
    data, notes, touched = mutate(base, seed)
    # A few of what the mutation touched, by name; the root has the name "".
    targets = [names[ino] for ino in touched if ino in names][:3]
    line = "image seed %d: %s" % (seed, "; ".join(notes))
    print(line, flush=True)
    kmsg(line)
    with open(args.work, "wb") as f:
        f.write(data)
    dev = subprocess.run(["losetup", "-f", "--show", args.work], capture_output=True,
                         text=True, check=True).stdout.strip()
    what = "refused"
    try:
        rc = sh(["mount", "-t", "vexfs", dev, args.mnt], 120)
        if rc is None:
            raise Failure("mount hung")
        if rc == 0:
            stats["mounted"] += 1
            rc = run_limited(lambda: min(walk(args.mnt), 100), 300)
            if rc is None:
                raise Failure("walking the tree hung")
            if rc < 0 or rc >= 120:
                raise Failure("the walk died (%s)" % rc)
            stats["walk errors"] += rc
            what = "mounted, %d walk errors" % rc
            if not args.read_only:
                if targets:
                    what += "; aimed at %s" % ", ".join("/" + t for t, _ in targets)
                what += "; " + record_writes(run_writes(args, seed, targets), stats)
            if sh(["umount", args.mnt], 120) is None:
                raise Failure("umount hung")
        else:
            stats["refused"] += 1
    finally:
        sh(["umount", args.mnt], 60)
        subprocess.run(["losetup", "-d", dev])
    codes = [fsck_pass(args, mode, stats, key)[0]
             for mode, key in (("-n", "-n"), ("-y", "-y"))]
    rc, out = fsck_pass(args, "-n", stats, "-n after -y")
    codes.append(rc)
    print("imgfuzz: seed %d: %s; fsck -n %d, -y %d, -n %d" % ((seed, what) + tuple(codes)),
          flush=True)
    if rc:
        stats["not clean after -y"] += 1
        said = [x.strip() for x in out.splitlines()
                if x.strip() and not x.startswith(("fsck.vexfs", "Pass ", args.work))][:3]
        print("imgfuzz: seed %d: fsck -n after -y still says: %s" % (seed, " | ".join(said)),
              flush=True)


def record_writes(done, stats):
    """Add one image's write steps to the totals; what to print about them."""
    failed, searches = [], [0, 0]
    steps = stats["steps"]
    for name, result in done:
        ok = result == "0"
        if name == "search":
            searches[0] += 1
            searches[1] += ok
            continue
        step = steps.setdefault(name, [0, 0])
        step[0] += 1
        step[1] += ok
        if not ok:
            failed.append("%s %s" % (name, result))
            count(stats["errnos"], result)
    run = len(done) - searches[0]
    stats["write steps run"] += run
    stats["write steps ok"] += run - len(failed)
    stats["searches run"] += searches[0]
    stats["searches ok"] += searches[1]
    return "writes %d/%d ok%s; searches %d/%d ok" % (
        run - len(failed), run, " (failed: %s)" % ", ".join(failed) if failed else "",
        searches[1], searches[0])


def cmd_run(args):
    with open(args.base, "rb") as f:
        base = f.read()
    img = Image(bytearray(base))
    print("imgfuzz: base image %s: %d inodes in use, %d extent nodes, %d dir blocks, "
          "%d hash tree blocks, %d xattr blocks, %d vector tables, %d indexes"
          % (args.base, len(img.inodes), len([b for _, b in img.ext_nodes if b]),
             len(img.dir_blocks), len(img.htree_blocks), len(img.xattr_blocks),
             len(img.tables), len(img.indexes)),
          flush=True)
    if not img.indexes or not img.tables:
        print("imgfuzz: the base image has no collection with an index", flush=True)
        return 2
    names = {ino: (path, img.inodes[ino][0]) for ino, path in img.paths().items()}
    stats = {"images": 0, "mounted": 0, "refused": 0, "walk errors": 0,
             "write steps run": 0, "write steps ok": 0, "searches run": 0, "searches ok": 0,
             "not clean after -y": 0, "steps": {}, "errnos": {}}
    start = time.monotonic()
    rc = 0
    for i in range(args.count):
        try:
            one_image(base, names, args.seed + i, args, stats)
        except Failure as e:
            print("imgfuzz: FAILED on image seed %d: %s (reproduce: imgfuzz.py mutate BASE OUT %d)"
                  % (args.seed + i, e, args.seed + i), flush=True)
            rc = 1
            break
        stats["images"] += 1
    steps, errnos = stats.pop("steps"), stats.pop("errnos")
    print("imgfuzz: seed %d: %s in %.0f s" % (
        args.seed, ", ".join("%s %d" % kv for kv in stats.items()), time.monotonic() - start),
        flush=True)
    if steps:
        print("imgfuzz: write steps, succeeded/run: %s" % ", ".join(
            "%s %d/%d" % (name, ok, n) for name, (n, ok) in steps.items()), flush=True)
        print("imgfuzz: write step errors: %s" % (", ".join(
            "%s %d" % kv for kv in sorted(errnos.items(), key=lambda kv: -kv[1])) or "none"),
            flush=True)
    return rc


def cmd_mutate(args):
    with open(args.base, "rb") as f:
        data, notes, _ = mutate(f.read(), args.seed)
    with open(args.out, "wb") as f:
        f.write(data)
    print("; ".join(notes))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mutate")
    m.add_argument("base")
    m.add_argument("out")
    m.add_argument("seed", type=int)
    r = sub.add_parser("run")
    r.add_argument("base")
    r.add_argument("--count", type=int, default=100)
    r.add_argument("--seed", type=int, default=int(time.time()))
    r.add_argument("--mnt", required=True)
    r.add_argument("--work", help="the damaged image (default: BASE.fuzz)")
    r.add_argument("--fsck", default="fsck.vexfs")
    r.add_argument("--read-only", action="store_true",
                   help="only walk the damaged images, as before the write steps")
    args = p.parse_args()
    if args.cmd == "mutate":
        return cmd_mutate(args)
    args.work = args.work or args.base + ".fuzz"
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
