"""Raw VexFS ioctl calls for the guest tests (include/uapi/vexfs.h).

The tests need what a client library hides: odd struct sizes, bad
pointers, arguments packed field by field. The layouts come from the
Python package (python/vexfs/_abi.py), whose every size, offset and ioctl
number python/tests/test_layout.py checks against the C compiler; this
module only spells them as flat struct formats and wraps the calls.
"""
import array
import ctypes
import errno
import fcntl
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from vexfs import _abi  # noqa: E402

ATTR_WORDS = _abi.ATTR_WORDS
METRIC = _abi.METRICS
SEARCH_EXACT = _abi.SEARCH_EXACT
_ioc = _abi._ioc

# One value per field, in declaration order, for struct.pack(FMT, ...).
# The search's 16-byte filter name packs as two words, so every field of
# every struct is a number.
VERSION_FMT = _abi.VERSION.format
COLL_FMT = _abi.COLLECTION.format
VEC_FMT = _abi.VECTOR.format
BATCH_FMT = _abi.BATCH_INSERT.format
# The search's first version (without and_where), as a caller built then
# passes it, with its own command number: the kernel still takes it.
SEARCH_V0_FIELDS = _abi.SEARCH.fields[:[f for f, _ in _abi.SEARCH.fields].index("and_where")]
SEARCH_FMT = "=" + "".join(code for _, code in SEARCH_V0_FIELDS).replace("16s", "2Q")
IOC_SEARCH_V0 = _ioc(_abi._IOC_READ | _abi._IOC_WRITE, 0x07, struct.calcsize(SEARCH_FMT))
RESULT_FMT = _abi.RESULT.format
READ_FMT = _abi.READ_VECTORS.format
PUBLISH_FMT = _abi.PUBLISH_INDEX.format

IOC_GET_VERSION = _abi.IOC_GET_VERSION
IOC_CREATE_COLLECTION = _abi.IOC_CREATE_COLLECTION
IOC_GET_COLLECTION = _abi.IOC_GET_COLLECTION
IOC_SET_VECTOR = _abi.IOC_SET_VECTOR
IOC_GET_VECTOR = _abi.IOC_GET_VECTOR
IOC_DEL_VECTOR = _abi.IOC_DEL_VECTOR
IOC_BATCH_INSERT = _abi.IOC_BATCH_INSERT
IOC_SEARCH = _abi.IOC_SEARCH
IOC_READ_VECTORS = _abi.IOC_READ_VECTORS
IOC_PUBLISH_INDEX = _abi.IOC_PUBLISH_INDEX
IOC_DROP_INDEX = _abi.IOC_DROP_INDEX

assert struct.calcsize(SEARCH_FMT) == _abi.SEARCH.offsets["and_where"] == 96


def _addr(buf):
    return ctypes.addressof(ctypes.c_char.from_buffer(buf)) if len(buf) else 0


def version(fd):
    buf = _abi.VERSION.pack()
    fcntl.ioctl(fd, IOC_GET_VERSION, buf)
    return struct.unpack(VERSION_FMT, buf)


def create_collection(fd, dim, metric="l2"):
    buf = _abi.COLLECTION.pack(dim=dim, metric=METRIC[metric], elem_type=_abi.ELEM_F32)
    fcntl.ioctl(fd, IOC_CREATE_COLLECTION, buf)


def get_collection(fd):
    buf = _abi.COLLECTION.pack()
    fcntl.ioctl(fd, IOC_GET_COLLECTION, buf)
    f = _abi.COLLECTION.unpack(buf)
    return {key: f[key] for key in ("dim", "metric", "count", "slots", "bytes")}


def set_vector(fd, vec, vid=0, attrs=(0, 0, 0, 0)):
    v = bytearray(array.array("f", vec).tobytes())
    buf = _abi.VECTOR.pack(dim=len(vec), vector_ptr=_addr(v), id=vid, attrs=list(attrs))
    fcntl.ioctl(fd, IOC_SET_VECTOR, buf)


def get_vector(fd, dim):
    v = bytearray(4 * dim)
    buf = _abi.VECTOR.pack(dim=dim, vector_ptr=_addr(v))
    fcntl.ioctl(fd, IOC_GET_VECTOR, buf)
    f = _abi.VECTOR.unpack(buf)
    return list(array.array("f", bytes(v))), f["id"], f["attrs"]


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
    buf = _abi.BATCH_INSERT.pack(dim=dim, count=len(ids), mode=mode, ids_ptr=_addr(idb),
                                 vectors_ptr=_addr(vb),
                                 attrs_ptr=_addr(ab) if attrs is not None else 0)
    try:
        fcntl.ioctl(fd, IOC_BATCH_INSERT, buf)
    except OSError as e:
        e.error_index = _abi.BATCH_INSERT.unpack(buf)["error_index"]
        raise
    return _abi.BATCH_INSERT.unpack(buf)["error_index"]


def search(fd, query, k, where=None, ef=0, flags=0, and_where=()):
    """where: (op, word, value); and_where: up to three more, all of which
    must hold too. Returns (results, scanned) with results [(id, ino, dist)]."""
    q = bytearray(array.array("f", query).tobytes())
    res = bytearray(_abi.RESULT.size * k)
    op, word, value = where if where else (0, 0, 0)
    buf = _abi.SEARCH.pack(**{"dim": len(query), "k": k, "ef": ef, "query_ptr": _addr(q),
                              "results_ptr": _addr(res), "flags": flags, "where.op": op,
                              "where.word": word, "where.value": value,
                              "and_where": _abi.pack_predicates(and_where, _abi.MAX_WHERE - 1)})
    fcntl.ioctl(fd, IOC_SEARCH, buf)
    f = _abi.SEARCH.unpack(buf)
    out = [struct.unpack_from(RESULT_FMT, res, _abi.RESULT.size * i)[:3] for i in range(f["count"])]
    return out, f["scanned"]


def read_vectors(fd, dim, count, start=0, vecs=None):
    """Slots start.. of a collection: ([inode per slot, 0 if free], seq);
    their vectors go to vecs, a bytearray of 4 * dim * count, if given."""
    inos = bytearray(8 * count)
    if vecs is None:
        vecs = bytearray(4 * dim * count)
    buf = _abi.READ_VECTORS.pack(dim=dim, start=start, count=count, inos_ptr=_addr(inos),
                                 vectors_ptr=_addr(vecs))
    fcntl.ioctl(fd, IOC_READ_VECTORS, buf)
    f = _abi.READ_VECTORS.unpack(buf)
    return list(array.array("Q", bytes(inos[:8 * f["returned"]]))), f["seq"]


def publish_index(fd, graph, seq):
    """graph: bytes of an HNSW graph (hnsw_graph.build) over slots read at seq."""
    g = bytearray(graph)
    buf = _abi.PUBLISH_INDEX.pack(graph_ptr=_addr(g), graph_len=len(g), seq=seq)
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
