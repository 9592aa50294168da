# SPDX-License-Identifier: GPL-2.0
"""The ioctl ABI of include/uapi/vexfs.h, spelled in struct formats.

Every struct is a list of (field, format code) in declaration order, packed
with standard sizes and native byte order ("=": no implicit padding), so
each layout states its own padding. python/tests/test_layout.py compiles a
C program against the header and compares every size and offset here with
what the compiler says, so a change to the header that is not made here
fails a test instead of corrupting memory.
"""
import struct

ABI_VERSION = 1
MAX_DIM = 4096
MAX_K = 4096
MAX_BATCH = 65536
MAX_BATCH_BYTES = 256 << 20
ATTR_WORDS = 4
FILTER_NAME_LEN = 16
DEFAULT_EF = 64

METRIC_L2 = 1
METRIC_IP = 2
METRIC_COSINE = 3
METRICS = {"l2": METRIC_L2, "ip": METRIC_IP, "cosine": METRIC_COSINE}
METRIC_NAMES = {v: k for k, v in METRICS.items()}

ELEM_F32 = 1

CAPABILITIES = {
    "collections": 1 << 0,
    "batch_insert": 1 << 1,
    "exact_search": 1 << 2,
    "predicate": 1 << 3,
    "hnsw": 1 << 4,
    "bpf_filter": 1 << 5,
    "where_and": 1 << 6,
    "multi_query": 1 << 7,
}

# Predicates one search may combine (where, then and_where[]).
MAX_WHERE = 4

PRED_NONE = 0
PREDICATES = {
    "==": 1, "=": 1, "!=": 2, "<": 3, "<=": 4, ">": 5, ">=": 6,
    "&": 7, "all_bits": 7, "|": 8, "any_bits": 8,
}
PRED_EQ, PRED_NE, PRED_LT, PRED_LE, PRED_GT, PRED_GE = 1, 2, 3, 4, 5, 6
PRED_ALL_BITS, PRED_ANY_BITS = 7, 8

COLLECTION_WALK_CODES = 1 << 0   # GET_COLLECTION flags: the index walks on codes
COLLECTION_SHAPE = 1 << 1        # and in: dim, metric, elem_type only, not loading it
SEARCH_EXACT = 1 << 0
SEARCH_ATTRS = 1 << 1      # results carry their metadata words
SEARCH_VECTORS = 1 << 2    # and their vectors
MAX_QUERIES = 65536        # queries in one search call

# The structs, field by field. "4Q" is an array of four __u64.
LAYOUTS = {
    "vexfs_ioc_version": [
        ("size", "I"), ("abi_version", "I"), ("capabilities", "Q"),
        ("max_dim", "I"), ("max_k", "I"), ("max_batch", "I"),
        ("attr_words", "I"), ("reserved", "4Q"),
    ],
    "vexfs_ioc_collection": [
        ("size", "I"), ("dim", "I"), ("metric", "H"), ("elem_type", "H"),
        ("flags", "I"), ("count", "Q"), ("slots", "Q"), ("bytes", "Q"),
        ("unindexed", "Q"), ("seq", "Q"), ("indexed", "Q"),
        ("index_time", "Q"), ("index_memory", "Q"),
    ],
    "vexfs_ioc_vector": [
        ("size", "I"), ("dim", "I"), ("vector_ptr", "Q"), ("id", "Q"),
        ("attrs", "4Q"), ("flags", "Q"), ("reserved", "Q"),
    ],
    "vexfs_ioc_batch_insert": [
        ("size", "I"), ("dim", "I"), ("count", "I"), ("mode", "I"),
        ("ids_ptr", "Q"), ("vectors_ptr", "Q"), ("attrs_ptr", "Q"),
        ("error_index", "I"), ("flags", "I"), ("reserved", "4Q"),
    ],
    "vexfs_predicate": [
        ("op", "H"), ("word", "H"), ("reserved", "I"), ("value", "Q"),
    ],
    "vexfs_search_result": [
        ("id", "Q"), ("ino", "Q"), ("distance", "f"), ("reserved", "I"),
    ],
    "vexfs_ioc_search": [
        ("size", "I"), ("dim", "I"), ("k", "I"), ("ef", "I"),
        ("query_ptr", "Q"), ("results_ptr", "Q"), ("count", "I"),
        ("flags", "I"),
        # struct vexfs_predicate where, inline
        ("where.op", "H"), ("where.word", "H"), ("where.reserved", "I"),
        ("where.value", "Q"),
        ("scanned", "Q"), ("filter", "16s"), ("reserved", "2Q"),
        # struct vexfs_predicate and_where[MAX_WHERE - 1], packed by
        # pack_predicates()
        ("and_where", "48s"),
        ("nqueries", "I"), ("reserved2", "I"), ("counts_ptr", "Q"),
        ("attrs_ptr", "Q"), ("vectors_ptr", "Q"),
    ],
    "vexfs_ioc_read_vectors": [
        ("size", "I"), ("dim", "I"), ("start", "Q"), ("count", "I"),
        ("returned", "I"), ("inos_ptr", "Q"), ("vectors_ptr", "Q"),
        ("seq", "Q"), ("slots", "Q"), ("reserved", "2Q"),
    ],
    "vexfs_ioc_publish_index": [
        ("size", "I"), ("flags", "I"), ("graph_ptr", "Q"), ("graph_len", "Q"),
        ("seq", "Q"), ("reserved", "4Q"),
    ],
}


class Layout:
    """One struct: its format, size, field offsets, pack and unpack."""

    def __init__(self, name, fields):
        self.name = name
        self.fields = fields
        self.format = "=" + "".join(code for _, code in fields)
        self.size = struct.calcsize(self.format)
        self.offsets = {}
        off = 0
        for field, code in fields:
            self.offsets[field] = off
            off += struct.calcsize("=" + code)

    def _counts(self):
        for field, code in self.fields:
            digits = code[:-1]
            # "4Q" expands to four values, "16s" stays one bytes value
            n = int(digits) if digits and code[-1] != "s" else 1
            yield field, n, code[-1] == "s"

    def pack(self, **values):
        """Pack the struct; unnamed fields are zero, size is filled in."""
        values.setdefault("size", self.size)
        flat = []
        for field, n, is_bytes in self._counts():
            v = values.get(field, 0 if n == 1 else [0] * n)
            if is_bytes and not v:
                v = b""
            if n == 1:
                flat.append(v)
            else:
                flat.extend(v)
        return bytearray(struct.pack(self.format, *flat))

    def unpack(self, buf):
        """The fields of buf as a dict; arrays become lists."""
        flat = struct.unpack_from(self.format, buf)
        out, i = {}, 0
        for field, n, _ in self._counts():
            out[field] = flat[i] if n == 1 else list(flat[i:i + n])
            i += n
        return out


STRUCTS = {name: Layout(name, fields) for name, fields in LAYOUTS.items()}

PREDICATE = STRUCTS["vexfs_predicate"]


def pack_predicates(preds, count):
    """count struct vexfs_predicate from (op, word, value) tuples, the
    rest VEXFS_PRED_NONE."""
    out = bytearray()
    for op, word, value in list(preds) + [(0, 0, 0)] * (count - len(preds)):
        out += PREDICATE.pack(op=op, word=word, value=value)
    return bytes(out)
VERSION = STRUCTS["vexfs_ioc_version"]
COLLECTION = STRUCTS["vexfs_ioc_collection"]
VECTOR = STRUCTS["vexfs_ioc_vector"]
BATCH_INSERT = STRUCTS["vexfs_ioc_batch_insert"]
SEARCH = STRUCTS["vexfs_ioc_search"]
RESULT = STRUCTS["vexfs_search_result"]
READ_VECTORS = STRUCTS["vexfs_ioc_read_vectors"]
PUBLISH_INDEX = STRUCTS["vexfs_ioc_publish_index"]

# struct vexfs_ioc_vector flags on SET: keep the file's metadata words.
VEC_KEEP_ATTRS = 0x1
# struct vexfs_ioc_batch_insert flags: replace the vectors of names that exist.
BATCH_UPSERT = 0x1

# <asm-generic/ioctl.h>: dir (2 bits) | size (14) | type (8) | nr (8)
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2
IOC_MAGIC = 0xE9


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (IOC_MAGIC << 8) | nr


IOC_GET_VERSION = _ioc(_IOC_READ | _IOC_WRITE, 0x00, VERSION.size)
IOC_CREATE_COLLECTION = _ioc(_IOC_READ | _IOC_WRITE, 0x01, COLLECTION.size)
IOC_GET_COLLECTION = _ioc(_IOC_READ | _IOC_WRITE, 0x02, COLLECTION.size)
IOC_SET_VECTOR = _ioc(_IOC_WRITE, 0x03, VECTOR.size)
IOC_GET_VECTOR = _ioc(_IOC_READ | _IOC_WRITE, 0x04, VECTOR.size)
IOC_DEL_VECTOR = _ioc(_IOC_NONE, 0x05, 0)
IOC_BATCH_INSERT = _ioc(_IOC_READ | _IOC_WRITE, 0x06, BATCH_INSERT.size)
IOC_SEARCH = _ioc(_IOC_READ | _IOC_WRITE, 0x07, SEARCH.size)
IOC_READ_VECTORS = _ioc(_IOC_READ | _IOC_WRITE, 0x08, READ_VECTORS.size)
IOC_PUBLISH_INDEX = _ioc(_IOC_WRITE, 0x09, PUBLISH_INDEX.size)
IOC_DROP_INDEX = _ioc(_IOC_NONE, 0x0a, 0)

IOCTLS = {
    "VEXFS_IOC_GET_VERSION": IOC_GET_VERSION,
    "VEXFS_IOC_CREATE_COLLECTION": IOC_CREATE_COLLECTION,
    "VEXFS_IOC_GET_COLLECTION": IOC_GET_COLLECTION,
    "VEXFS_IOC_SET_VECTOR": IOC_SET_VECTOR,
    "VEXFS_IOC_GET_VECTOR": IOC_GET_VECTOR,
    "VEXFS_IOC_DEL_VECTOR": IOC_DEL_VECTOR,
    "VEXFS_IOC_BATCH_INSERT": IOC_BATCH_INSERT,
    "VEXFS_IOC_SEARCH": IOC_SEARCH,
    "VEXFS_IOC_READ_VECTORS": IOC_READ_VECTORS,
    "VEXFS_IOC_PUBLISH_INDEX": IOC_PUBLISH_INDEX,
    "VEXFS_IOC_DROP_INDEX": IOC_DROP_INDEX,
}
