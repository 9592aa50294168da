"""Serialize small HNSW graphs in the format of include/uapi/vexfs_hnsw.h.

For guest tests that publish graphs of their own making: a valid graph
whose links the test chooses (none at all, a chain), so the kernel's
handling of graphs that load but mislead can be checked. Level 0, and
level 1 for the nodes given links there; given the nodes' vectors, the
graph carries their SQ8 codes (a kernel walks such a graph from its index
inode's pages).
"""
import struct

MAGIC = 0x4E485856
PAGE = 4096
HEADER_FMT = "<5I4H5IQQ6Q4I4QII88s"
INCOMPAT_SQ8 = 1
NODE_FMT = "<IIHHI"
NODES_PER_PAGE = PAGE // struct.calcsize(NODE_FMT)
assert struct.calcsize(HEADER_FMT) == 256


def _pages(records, per_page):
    return (records + per_page - 1) // per_page * PAGE


def _sq8(vectors, dim):
    """lo[], the step and each vector's code, as lib/vexfs_sq8.h codes them."""
    lo = [min(v[i] for v in vectors) for i in range(dim)]
    span = max(max(v[i] for v in vectors) - lo[i] for i in range(dim))
    step = span / 255 if span > 0 else 1.0
    codes = [bytes(min(255, max(0, round((v[i] - lo[i]) / step)))
                   for i in range(dim)) for v in vectors]
    return lo, step, codes


def build(dim, metric, slots, links, m=2, entry=0, vectors=None, upper=None):
    """slots: the slot of each node, increasing; links[n]: node ids of n;
    vectors[n]: node n's vector, to carry SQ8 codes; upper: {node: its
    links on level 1} for the nodes that live there (the entry among them)."""
    upper = upper or {}
    m0 = 2 * m
    rec0, rec_up = 4 * (1 + m0), 4 * (1 + m)
    per0, per_up = PAGE // rec0, PAGE // rec_up
    n = len(slots)
    node_bytes = _pages(n, NODES_PER_PAGE)
    level0_bytes = _pages(n, per0)
    level0_off = PAGE + node_bytes
    upper_off = level0_off + level0_bytes
    upper_bytes = _pages(len(upper), per_up)
    sq8_off = upper_off + upper_bytes
    sq8 = (0, 0, 0, 0, 0, 0)
    total = sq8_off
    if vectors is not None:
        lo, step, codes = _sq8(vectors, dim)
        per_code = PAGE // dim
        sq8_bytes = _pages(dim, PAGE // 4)
        codes_off = sq8_off + sq8_bytes
        codes_bytes = _pages(n, per_code)
        total = codes_off + codes_bytes
        sq8 = (sq8_off, sq8_bytes, codes_off, codes_bytes,
               struct.unpack("<I", struct.pack("<f", step))[0], per_code)
    header = struct.pack(HEADER_FMT, MAGIC, 1, 256,
                         INCOMPAT_SQ8 if vectors is not None else 0, dim,
                         metric, 1 if upper else 0, m, m0,
                         entry if n else 0xFFFFFFFF, n, len(upper), 0, 0, 0,
                         total, PAGE, node_bytes, level0_off, level0_bytes,
                         upper_off, upper_bytes, rec0, per0, rec_up, per_up,
                         *sq8, b"")
    buf = bytearray(total)
    buf[:256] = header
    rec = 0
    for i, slot in enumerate(slots):
        level = 1 if i in upper else 0
        struct.pack_into(NODE_FMT, buf, PAGE + i * 16, slot, rec, level, 0, 0)
        ids = list(links[i])[:m0]
        off = level0_off + (i // per0) * PAGE + (i % per0) * rec0
        struct.pack_into("<%dI" % (1 + len(ids)), buf, off, len(ids), *ids)
        if level:
            ids = list(upper[i])[:m]
            off = upper_off + (rec // per_up) * PAGE + (rec % per_up) * rec_up
            struct.pack_into("<%dI" % (1 + len(ids)), buf, off, len(ids), *ids)
            rec += 1
    if vectors is not None:
        struct.pack_into("<%df" % dim, buf, sq8_off, *lo)
        for i, code in enumerate(codes):
            off = codes_off + (i // per_code) * PAGE + (i % per_code) * dim
            buf[off:off + dim] = code
    return bytes(buf)


def chain(n):
    """Links of a path through every node: each reaches the next."""
    return [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
