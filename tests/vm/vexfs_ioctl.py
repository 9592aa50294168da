"""Minimal Python bindings for the VexFS ioctls (include/uapi/vexfs.h).

Used by the guest tests; every struct layout here mirrors the header and
is checked against its size.
"""
import array
import ctypes
import errno
import fcntl
import os
import struct

ATTR_WORDS = 4
METRIC = {"l2": 1, "ip": 2, "cosine": 3}


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (0xE9 << 8) | nr


_W, _R = 1, 2
VERSION_FMT = "<IIQIIII4Q"
COLL_FMT = "<IIHHIQQQQ4Q"
VEC_FMT = "<IIQQ4Q2Q"
BATCH_FMT = "<IIIIQQQII4Q"
SEARCH_FMT = "<IIIIQQII HHIQ Q4Q".replace(" ", "")
RESULT_FMT = "<QQfI"
READ_FMT = "<IIQIIQQQQ2Q"
PUBLISH_FMT = "<IIQQQ4Q"

IOC_GET_VERSION = _ioc(_R | _W, 0, struct.calcsize(VERSION_FMT))
IOC_CREATE_COLLECTION = _ioc(_R | _W, 1, struct.calcsize(COLL_FMT))
IOC_GET_COLLECTION = _ioc(_R | _W, 2, struct.calcsize(COLL_FMT))
IOC_SET_VECTOR = _ioc(_W, 3, struct.calcsize(VEC_FMT))
IOC_GET_VECTOR = _ioc(_R | _W, 4, struct.calcsize(VEC_FMT))
IOC_DEL_VECTOR = _ioc(0, 5, 0)
IOC_BATCH_INSERT = _ioc(_R | _W, 6, struct.calcsize(BATCH_FMT))
IOC_SEARCH = _ioc(_R | _W, 7, struct.calcsize(SEARCH_FMT))
IOC_READ_VECTORS = _ioc(_R | _W, 8, struct.calcsize(READ_FMT))
IOC_PUBLISH_INDEX = _ioc(_W, 9, struct.calcsize(PUBLISH_FMT))
IOC_DROP_INDEX = _ioc(0, 10, 0)

assert struct.calcsize(VERSION_FMT) == 64
assert struct.calcsize(COLL_FMT) == 80
assert struct.calcsize(VEC_FMT) == 72
assert struct.calcsize(BATCH_FMT) == 80
assert struct.calcsize(SEARCH_FMT) == 96
assert struct.calcsize(RESULT_FMT) == 24
assert struct.calcsize(READ_FMT) == 72
assert struct.calcsize(PUBLISH_FMT) == 64


def _addr(buf):
    return ctypes.addressof(ctypes.c_char.from_buffer(buf)) if len(buf) else 0


def version(fd):
    buf = bytearray(struct.pack(VERSION_FMT, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    fcntl.ioctl(fd, IOC_GET_VERSION, buf)
    return struct.unpack(VERSION_FMT, buf)


def create_collection(fd, dim, metric="l2"):
    buf = bytearray(struct.pack(COLL_FMT, 80, dim, METRIC[metric], 1, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    fcntl.ioctl(fd, IOC_CREATE_COLLECTION, buf)


def get_collection(fd):
    buf = bytearray(struct.pack(COLL_FMT, 80, *([0] * 12)))
    fcntl.ioctl(fd, IOC_GET_COLLECTION, buf)
    f = struct.unpack(COLL_FMT, buf)
    return {"dim": f[1], "metric": f[2], "count": f[5], "slots": f[6], "bytes": f[7]}


def set_vector(fd, vec, vid=0, attrs=(0, 0, 0, 0)):
    v = bytearray(array.array("f", vec).tobytes())
    buf = bytearray(struct.pack(VEC_FMT, 72, len(vec), _addr(v), vid, *attrs, 0, 0))
    fcntl.ioctl(fd, IOC_SET_VECTOR, buf)


def get_vector(fd, dim):
    v = bytearray(4 * dim)
    buf = bytearray(struct.pack(VEC_FMT, 72, dim, _addr(v), 0, 0, 0, 0, 0, 0, 0))
    fcntl.ioctl(fd, IOC_GET_VECTOR, buf)
    f = struct.unpack(VEC_FMT, buf)
    return list(array.array("f", bytes(v))), f[3], list(f[4:8])


def del_vector(fd):
    fcntl.ioctl(fd, IOC_DEL_VECTOR)


def batch_insert(fd, ids, vectors_bytes, dim, attrs=None, mode=0):
    """vectors_bytes: count*dim float32. Returns error_index on failure via
    OSError.error_index. A batch too large for one journal transaction
    (E2BIG, refused whole) goes in halves, as libvexfs does."""
    try:
        return _batch_call(fd, ids, vectors_bytes, dim, attrs, mode)
    except OSError as e:
        if e.errno != errno.E2BIG or len(ids) < 2 or e.error_index != len(ids):
            raise
    h = len(ids) // 2
    row = 4 * dim
    batch_insert(fd, ids[:h], vectors_bytes[:h * row], dim,
                 attrs[:h * ATTR_WORDS] if attrs is not None else None, mode)
    return batch_insert(fd, ids[h:], vectors_bytes[h * row:], dim,
                        attrs[h * ATTR_WORDS:] if attrs is not None else None, mode)


def _batch_call(fd, ids, vectors_bytes, dim, attrs, mode):
    idb = bytearray(array.array("Q", ids).tobytes())
    vb = bytearray(vectors_bytes)
    ab = bytearray(array.array("Q", attrs).tobytes()) if attrs is not None else bytearray()
    buf = bytearray(struct.pack(BATCH_FMT, 80, dim, len(ids), mode, _addr(idb), _addr(vb),
                                _addr(ab) if attrs is not None else 0, 0, 0, 0, 0, 0, 0))
    try:
        fcntl.ioctl(fd, IOC_BATCH_INSERT, buf)
    except OSError as e:
        e.error_index = struct.unpack(BATCH_FMT, buf)[7]
        raise
    return struct.unpack(BATCH_FMT, buf)[7]


SEARCH_EXACT = 1


def search(fd, query, k, where=None, ef=0, flags=0):
    """where: (op, word, value). Returns (results, scanned) with results [(id, ino, dist)]."""
    q = bytearray(array.array("f", query).tobytes())
    res = bytearray(24 * k)
    op, word, value = where if where else (0, 0, 0)
    buf = bytearray(struct.pack(SEARCH_FMT, 96, len(query), k, ef, _addr(q), _addr(res), 0, flags,
                                op, word, 0, value, 0, 0, 0, 0, 0))
    fcntl.ioctl(fd, IOC_SEARCH, buf)
    f = struct.unpack(SEARCH_FMT, buf)
    count, scanned = f[6], f[12]
    out = [struct.unpack_from(RESULT_FMT, res, 24 * i)[:3] for i in range(count)]
    return out, scanned


def read_vectors(fd, dim, count, start=0):
    """Slots start.. of a collection: ([inode per slot, 0 if free], seq)."""
    inos = bytearray(8 * count)
    vecs = bytearray(4 * dim * count)
    buf = bytearray(struct.pack(READ_FMT, 72, dim, start, count, 0, _addr(inos), _addr(vecs),
                                0, 0, 0, 0))
    fcntl.ioctl(fd, IOC_READ_VECTORS, buf)
    f = struct.unpack(READ_FMT, buf)
    return list(array.array("Q", bytes(inos[:8 * f[4]]))), f[7]


def publish_index(fd, graph, seq):
    """graph: bytes of an HNSW graph (hnsw_graph.build) over slots read at seq."""
    g = bytearray(graph)
    buf = bytearray(struct.pack(PUBLISH_FMT, 64, 0, _addr(g), len(g), seq, 0, 0, 0, 0))
    fcntl.ioctl(fd, IOC_PUBLISH_INDEX, buf)


def drop_index(fd):
    fcntl.ioctl(fd, IOC_DROP_INDEX)


def read_vecs(path, typecode):
    """Read an .fvecs ('f') or .ivecs ('i') file into a list of arrays."""
    data = open(path, "rb").read()
    out, off = [], 0
    while off < len(data):
        (dim,) = struct.unpack_from("<i", data, off)
        off += 4
        out.append(array.array(typecode, data[off:off + 4 * dim]))
        off += 4 * dim
    return out
