"""Serialize small HNSW graphs in the format of include/uapi/vexfs_hnsw.h.

For guest tests that publish graphs of their own making: a valid graph
whose links the test chooses (none at all, a chain), so the kernel's
handling of graphs that load but mislead can be checked. Level 0 only.
"""
import struct

MAGIC = 0x4E485856
PAGE = 4096
HEADER_FMT = "<5I4H5IQQ6Q4I128s"
NODE_FMT = "<IIHHI"
NODES_PER_PAGE = PAGE // struct.calcsize(NODE_FMT)
assert struct.calcsize(HEADER_FMT) == 256


def _pages(records, per_page):
    return (records + per_page - 1) // per_page * PAGE


def build(dim, metric, slots, links, m=2, entry=0):
    """slots: the slot of each node, increasing; links[n]: node ids of n."""
    m0 = 2 * m
    rec0, rec_up = 4 * (1 + m0), 4 * (1 + m)
    per0 = PAGE // rec0
    n = len(slots)
    node_bytes = _pages(n, NODES_PER_PAGE)
    level0_bytes = _pages(n, per0)
    level0_off = PAGE + node_bytes
    upper_off = level0_off + level0_bytes
    header = struct.pack(HEADER_FMT, MAGIC, 1, 256, 0, dim, metric, 0, m, m0,
                         entry if n else 0xFFFFFFFF, n, 0, 0, 0, 0, upper_off,
                         PAGE, node_bytes, level0_off, level0_bytes, upper_off, 0,
                         rec0, per0, rec_up, PAGE // rec_up, b"")
    buf = bytearray(upper_off)
    buf[:256] = header
    for i, slot in enumerate(slots):
        struct.pack_into(NODE_FMT, buf, PAGE + i * 16, slot, 0, 0, 0, 0)
        ids = list(links[i])[:m0]
        off = level0_off + (i // per0) * PAGE + (i % per0) * rec0
        struct.pack_into("<%dI" % (1 + len(ids)), buf, off, len(ids), *ids)
    return bytes(buf)


def chain(n):
    """Links of a path through every node: each reaches the next."""
    return [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
