# SPDX-License-Identifier: GPL-2.0
"""VexFS: a Python client for the vector collections of a VexFS mount.

Standard library only (fcntl.ioctl, struct, array, os); NumPy arrays are
accepted and returned when NumPy is installed, never required.

    import vexfs

    with vexfs.open_collection("/mnt/vex/docs", dim=384, metric="cosine") as docs:
        docs.add("readme.txt", vector, attrs=[3])      # file + vector + metadata
        docs.add_batch(ids=[1, 2], vectors=[v1, v2])   # files "1" and "2"
        for hit in docs.search(query, k=5, where="attr0=3"):
            print(hit.id, hit.distance, docs.name_of(hit))
        print(docs.stats())

A collection is a directory; each regular file in it carries at most one
vector, a user id and four 64-bit metadata words (``attrs``). Search asks
the kernel (one ioctl on the directory) for the k nearest files. Every
error comes back as a subclass of VexFSError (itself an OSError) chosen by
errno; see docs/vectors.md and vexfs(5) for the semantics.
"""
import array
import collections
import errno
import fcntl
import math
import os
import re

from . import _abi
from ._abi import ATTR_WORDS, MAX_BATCH, MAX_DIM, MAX_K, DEFAULT_EF

try:  # optional: accepted as input, and asked for as output
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None

__version__ = "1.0"
__all__ = [
    "VexFSError", "NotVexFS", "NotACollection", "InvalidArgument",
    "AlreadyExists", "NoVector", "VectorBusy", "TooLarge",
    "PermissionDenied", "NoSpace", "NotFound", "FilterNotFound",
    "VersionInfo", "CollectionInfo", "Vector", "Result",
    "version", "open_collection", "Collection",
    "ATTR_WORDS", "MAX_BATCH", "MAX_DIM", "MAX_K", "DEFAULT_EF",
]

# --------------------------------------------------------------------------
# Errors


class VexFSError(OSError):
    """Base of every error this module raises: an OSError with errno,
    strerror (a message saying what went wrong) and filename."""


class NotVexFS(VexFSError):
    """The path is not on a VexFS filesystem (ENOTTY from every ioctl)."""


class NotACollection(VexFSError):
    """A VexFS directory that is not a vector collection, or a file that
    is not in one (ENOTTY)."""


class InvalidArgument(VexFSError, ValueError):
    """The kernel refused a value (EINVAL): wrong dimension, NaN or
    infinity, bad predicate, unknown metric, ..."""


class AlreadyExists(VexFSError, FileExistsError):
    """Batch insert: a name (an id in decimal) is taken (EEXIST).
    ``error_index`` is the entry at fault, counted from 0 over the whole
    call."""

    error_index = None


class NoVector(VexFSError):
    """The file carries no vector (ENODATA)."""


class VectorBusy(VexFSError):
    """The file already has a vector in another collection (EBUSY)."""


class TooLarge(VexFSError):
    """Too many bytes for one call (E2BIG)."""


class PermissionDenied(VexFSError, PermissionError):
    """Not allowed (EACCES, EPERM): creating a collection needs ownership
    of the directory, changing vectors needs write access."""


class NoSpace(VexFSError):
    """The filesystem is full (ENOSPC)."""


class NotFound(VexFSError, FileNotFoundError):
    """No such file or directory (ENOENT)."""


class FilterNotFound(VexFSError):
    """Search: no BPF filter of that name is loaded (ENOENT), or the
    kernel has no BPF filter support (EOPNOTSUPP)."""


_ERRNO_CLASSES = {
    errno.EINVAL: InvalidArgument,
    errno.EEXIST: AlreadyExists,
    errno.ENODATA: NoVector,
    errno.EBUSY: VectorBusy,
    errno.E2BIG: TooLarge,
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.ENOSPC: NoSpace,
    errno.ENOENT: NotFound,
    errno.ENOTTY: NotACollection,
}


def _error(err, message, filename=None, cls=None):
    cls = cls or _ERRNO_CLASSES.get(err, VexFSError)
    text = os.strerror(err) if not message else "%s: %s" % (os.strerror(err), message)
    return cls(err, text, filename)


def _translate(exc, message, filename, fd=None):
    """The VexFSError for an OSError from an ioctl; ENOTTY is told apart:
    not VexFS at all, or not a collection."""
    err = exc.errno
    if err == errno.ENOTTY and fd is not None and not _is_vexfs(fd):
        return _error(err, "not on a VexFS filesystem", filename, NotVexFS)
    return _error(err, message, filename)


def _is_vexfs(fd):
    try:
        fcntl.ioctl(fd, _abi.IOC_GET_VERSION, _abi.VERSION.pack())
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Results

VersionInfo = collections.namedtuple(
    "VersionInfo", "abi_version capabilities max_dim max_k max_batch attr_words")
VersionInfo.__doc__ = """The module's ABI version, capability names (a
frozenset of "collections", "batch_insert", "exact_search", "predicate",
"hnsw", "bpf_filter") and limits."""

CollectionInfo = collections.namedtuple(
    "CollectionInfo",
    "dim metric elem_type count slots bytes unindexed indexed seq index_time "
    "index_memory index_walk")
CollectionInfo.__doc__ = """A collection's dimension, metric name ("l2",
"ip", "cosine"), element type ("float32"), vectors stored, table slots,
table bytes, vectors outside and inside the published HNSW index, the
change sequence, when the index was published (seconds since the
epoch; 0 without one), the bytes of memory it holds, and what its walk
scores ("codes": SQ8 codes, re-ranked with the vectors on disk; "floats":
a copy of the vectors; None without an index)."""

Vector = collections.namedtuple("Vector", "vector id attrs")
Vector.__doc__ = """One file's vector (array('f'), or a NumPy float32
array when asked for), its user id and its metadata words (a list of 4)."""

Result = collections.namedtuple("Result", "id ino distance attrs vector",
                                defaults=(None, None))
Result.__doc__ = """One search hit: the file's user id, its inode number,
its distance to the query (smaller is closer, for every metric), and when
asked for, its metadata words (a list of 4) and its vector (array('f'))."""


class Results(list):
    """The hits of a search, best first; ``scanned`` is the number of
    distances the kernel computed."""

    scanned = 0


class ManyResults(list):
    """The Results of each query of a search of many, in order; ``scanned``
    is the number of distances computed for all of them."""

    scanned = 0


def _query_rows(query):
    """The rows of a 2-D query (a 2-D NumPy array, or a sequence of
    sequences), or None for a single vector."""
    if _np is not None and isinstance(query, _np.ndarray):
        return list(query) if query.ndim == 2 else None
    if isinstance(query, (list, tuple)) and query and \
            not isinstance(query[0], (int, float)) and hasattr(query[0], "__len__"):
        return list(query)
    return None


# --------------------------------------------------------------------------
# Buffers: the kernel reads and writes through pointers in the structs, so
# the data lives in array.array objects whose address buffer_info() gives.


def _addr(arr):
    return arr.buffer_info()[0] if len(arr) else 0


def _entry_name(name):
    """An entry's name: as given, or an id's decimal (how add_batch() and
    vexfsctl import name files)."""
    if isinstance(name, bool):
        raise _error(errno.EINVAL, "name %r: want a file name or an id" % (name,))
    if isinstance(name, int):
        if not 0 < name < 1 << 64:
            raise _error(errno.EINVAL, "id %d: want 1..2^64-1" % name)
        return str(name)
    return name


def _float_array(values, what="vector"):
    """A float32 array.array of values (a sequence, an array or a NumPy
    array)."""
    if _np is not None and isinstance(values, _np.ndarray):
        out = array.array("f")
        out.frombytes(_np.ascontiguousarray(values, dtype=_np.float32).ravel().tobytes())
        return out
    if isinstance(values, array.array) and values.typecode == "f":
        return array.array("f", values)
    try:
        return array.array("f", values)
    except TypeError as exc:
        raise InvalidArgument(errno.EINVAL, "%s: want a sequence of numbers (%s)" % (what, exc))


def _vectors_array(vectors, dim):
    """count * dim float32 values, row after row, from a 2-D NumPy array,
    a sequence of vectors, or a flat sequence of count * dim numbers."""
    if _np is not None and isinstance(vectors, _np.ndarray):
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise _error(errno.EINVAL, "vectors of shape %s; want (n, %d)" % (vectors.shape, dim))
        return _float_array(vectors, "vectors"), vectors.shape[0]
    rows = list(vectors)
    if rows and not isinstance(rows[0], (int, float)):
        flat = array.array("f")
        for i, row in enumerate(rows):
            arr = _float_array(row, "vectors[%d]" % i)
            if len(arr) != dim:
                raise _error(errno.EINVAL, "vectors[%d] has %d values; the collection has dimension %d"
                             % (i, len(arr), dim), cls=InvalidArgument)
            flat.extend(arr)
        return flat, len(rows)
    flat = _float_array(rows, "vectors")
    if len(flat) % dim:
        raise _error(errno.EINVAL, "%d values are not a whole number of %d-d vectors" % (len(flat), dim))
    return flat, len(flat) // dim


def _attrs_words(attrs, what="attrs"):
    """Up to ATTR_WORDS non-negative integers, padded with zeros."""
    words = list(attrs or ())
    if len(words) > ATTR_WORDS:
        raise _error(errno.EINVAL, "%s: at most %d metadata words, not %d" % (what, ATTR_WORDS, len(words)))
    for w in words:
        if not isinstance(w, int) or w < 0 or w >= 1 << 64:
            raise _error(errno.EINVAL, "%s: %r is not a 64-bit unsigned integer" % (what, w))
    return words + [0] * (ATTR_WORDS - len(words))


_WHERE_RE = re.compile(r"^\s*attr([0-3])\s*(==|=|!=|<=|>=|<|>|&|\|)\s*(0x[0-9a-fA-F]+|\d+)\s*$")


def _predicate(where):
    """(op, word, value) of a where= argument: None, a string such as
    "attr1>=5" (the syntax of vexfsctl --where), or a tuple
    (word, op, value) with op one of == != < <= > >= & |."""
    if where is None:
        return _abi.PRED_NONE, 0, 0
    if isinstance(where, str):
        m = _WHERE_RE.match(where)
        if not m:
            raise _error(errno.EINVAL, "where=%r: want attrW OP VALUE, W 0..3, OP one of "
                         "= != < <= > >= & |" % where)
        word, op, value = int(m.group(1)), m.group(2), int(m.group(3), 0)
    else:
        try:
            word, op, value = where
        except (TypeError, ValueError):
            raise _error(errno.EINVAL, "where=%r: want a string or (word, op, value)" % (where,))
    if op not in _abi.PREDICATES:
        raise _error(errno.EINVAL, "where: unknown operator %r" % (op,))
    if not isinstance(word, int) or not 0 <= word < ATTR_WORDS:
        raise _error(errno.EINVAL, "where: word %r is not 0..%d" % (word, ATTR_WORDS - 1))
    if not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise _error(errno.EINVAL, "where: value %r is not a 64-bit unsigned integer" % (value,))
    return _abi.PREDICATES[op], word, value


def _predicates(where):
    """Up to MAX_WHERE (op, word, value) of a where= argument, all of which
    must hold: None, a string of predicates joined by "and" ("attr0=3 and
    attr1<5"), one (word, op, value) tuple, or a list of strings and
    tuples."""
    if where is None:
        return []
    if isinstance(where, str):
        parts = [p.strip() for p in re.split(r"\s+and\s+", where.strip(), flags=re.I)]
    elif isinstance(where, list):
        parts = where
    else:
        parts = [where]
    if not parts or len(parts) > _abi.MAX_WHERE:
        raise _error(errno.EINVAL, "where=%r: want 1..%d predicates joined by 'and'"
                     % (where, _abi.MAX_WHERE))
    return [_predicate(p) for p in parts]


def _as_numpy(arr, numpy):
    if not numpy:
        return arr
    if _np is None:
        raise _error(errno.EINVAL, "numpy=True but NumPy is not installed")
    return _np.frombuffer(arr.tobytes(), dtype=_np.float32)


# --------------------------------------------------------------------------
# The module


def version(path):
    """ABI version, capabilities and limits of the VexFS module behind path
    (any file or directory of a VexFS mount), as a VersionInfo."""
    fd = _open(path, os.O_RDONLY)
    try:
        buf = _abi.VERSION.pack()
        try:
            fcntl.ioctl(fd, _abi.IOC_GET_VERSION, buf)
        except OSError as exc:
            if exc.errno == errno.ENOTTY:
                raise _error(exc.errno, "not on a VexFS filesystem", path, NotVexFS) from None
            raise _error(exc.errno, "get version", path) from None
        f = _abi.VERSION.unpack(buf)
        caps = frozenset(name for name, bit in _abi.CAPABILITIES.items()
                         if f["capabilities"] & bit)
        return VersionInfo(f["abi_version"], caps, f["max_dim"], f["max_k"],
                           f["max_batch"], f["attr_words"])
    finally:
        os.close(fd)


def _open(path, flags, mode=0o644, dir_fd=None):
    try:
        return os.open(path, flags | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        raise _error(exc.errno, None, path) from None


def open_collection(path, dim=None, metric="l2", create=True):
    """Open the collection at path and return a Collection.

    With create (the default) and dim given, a missing directory is made
    and a directory that is not yet a collection becomes one, of dimension
    dim (1..4096) and metric "l2" (squared Euclidean), "ip" (negated inner
    product) or "cosine" (1 - cosine similarity). An existing collection
    must have dimension dim (when given) and the metric given:
    InvalidArgument otherwise."""
    if metric not in _abi.METRICS:
        raise _error(errno.EINVAL, "metric %r: want one of %s" % (metric, ", ".join(_abi.METRICS)))
    if dim is not None and (not isinstance(dim, int) or not 1 <= dim <= MAX_DIM):
        raise _error(errno.EINVAL, "dim %r: want 1..%d" % (dim, MAX_DIM))
    if create and dim is not None:
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _error(exc.errno, "mkdir", path) from None
    fd = _open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        info = _get_collection(fd, path, missing_ok=create and dim is not None, shape=True)
        if info is None:
            buf = _abi.COLLECTION.pack(dim=dim, metric=_abi.METRICS[metric], elem_type=_abi.ELEM_F32)
            try:
                fcntl.ioctl(fd, _abi.IOC_CREATE_COLLECTION, buf)
            except OSError as exc:
                raise _translate(exc, "create collection", path, fd) from None
            info = _get_collection(fd, path, shape=True)
        if dim is not None and info.dim != dim:
            raise _error(errno.EINVAL, "the collection has dimension %d, not %d" % (info.dim, dim), path)
        if dim is not None and info.metric != metric:
            raise _error(errno.EINVAL, "the collection's metric is %s, not %s" % (info.metric, metric), path)
        return Collection(fd, path, info)
    except BaseException:
        os.close(fd)
        raise


def _index_walk(f):
    if not f["index_memory"]:
        return None
    return "codes" if f["flags"] & _abi.COLLECTION_WALK_CODES else "floats"


def _get_collection(fd, path, missing_ok=False, shape=False):
    """The collection's CollectionInfo; shape: dim, metric and element type
    only (the counts 0), which right after a mount does not make the module
    read the whole collection."""
    buf = _abi.COLLECTION.pack(flags=_abi.COLLECTION_SHAPE if shape else 0)
    try:
        fcntl.ioctl(fd, _abi.IOC_GET_COLLECTION, buf)
    except OSError as exc:
        if exc.errno == errno.ENOTTY and missing_ok and _is_vexfs(fd):
            return None
        raise _translate(exc, "not a vector collection" if exc.errno == errno.ENOTTY
                         else "get collection", path, fd) from None
    f = _abi.COLLECTION.unpack(buf)
    return CollectionInfo(f["dim"], _abi.METRIC_NAMES.get(f["metric"], str(f["metric"])),
                          "float32" if f["elem_type"] == _abi.ELEM_F32 else str(f["elem_type"]),
                          f["count"], f["slots"], f["bytes"], f["unindexed"],
                          f["indexed"], f["seq"], f["index_time"],
                          f["index_memory"], _index_walk(f))


class Collection:
    """An open vector collection (a directory of a VexFS mount).

    Get one from open_collection(). Files are named relative to the
    collection directory. Use it as a context manager, or call close()."""

    def __init__(self, fd, path, info):
        self.fd = fd
        self.path = path
        self.dim = info.dim
        self.metric = info.metric

    # -- life cycle --

    def close(self):
        """Close the directory descriptor (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<vexfs.Collection %r dim=%d metric=%s>" % (self.path, self.dim, self.metric)

    def _fd(self):
        if self.fd is None:
            raise ValueError("I/O on a closed collection")
        return self.fd

    # -- the collection --

    def stats(self):
        """Counts and shape of the collection, read fresh: a CollectionInfo."""
        return _get_collection(self._fd(), self.path)

    def __len__(self):
        return self.stats().count

    def __contains__(self, name):
        try:
            self.get(name)
            return True
        except (NoVector, NotFound):
            return False

    # -- one file's vector --

    def _check_vector(self, vec, what="vector"):
        """Checked before anything is created: a vector the kernel would
        refuse leaves no empty file behind."""
        if len(vec) != self.dim:
            raise _error(errno.EINVAL, "%s has %d values; the collection has dimension %d"
                         % (what, len(vec), self.dim), self.path)
        for i, x in enumerate(vec):
            if not math.isfinite(x):
                raise _error(errno.EINVAL, "%s: component %d is not finite (%r)" % (what, i, x),
                             self.path)

    def add(self, name, vector, id=None, attrs=None, data=None, mode=0o644):
        """Give the file name a vector, creating the file (with mode) if it
        does not exist and writing data (bytes) into it if given; replaces
        any vector the file had, keeping its identity. id: the user id
        (default: the id the file's vector has, or the inode number for a
        new one); attrs: up to 4 non-negative metadata words (default: the
        ones the file's vector has, or zeroes). Returns the id the vector
        carries (None when id was not given and the file is write-only to
        the caller)."""
        vec = _float_array(vector)
        self._check_vector(vec)
        words = _attrs_words(attrs)
        if id is not None and (not isinstance(id, int) or not 0 < id < 1 << 64):
            raise _error(errno.EINVAL, "id %r: want 1..2^64-1" % (id,))
        flags = os.O_CREAT | (os.O_TRUNC if data is not None else 0)
        try:
            fd, readable = _open(name, os.O_RDWR | flags, mode, dir_fd=self._fd()), True
        except OSError as exc:
            if exc.errno != errno.EACCES:
                raise
            # Write access alone sets a vector; reading its id needs more.
            fd, readable = _open(name, os.O_WRONLY | flags, mode, dir_fd=self._fd()), False
        try:
            if data is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            buf = _abi.VECTOR.pack(dim=self.dim, vector_ptr=_addr(vec), id=id or 0, attrs=words,
                                   flags=_abi.VEC_KEEP_ATTRS if attrs is None else 0)
            try:
                fcntl.ioctl(fd, _abi.IOC_SET_VECTOR, buf)
            except OSError as exc:
                raise _translate(exc, "set vector", self._name(name), fd) from None
            return id or (self._vector_id(fd, name) if readable else None)
        finally:
            os.close(fd)

    def _vector_id(self, fd, name):
        """The id of the vector the file open at fd carries."""
        vec = array.array("f", bytes(4 * self.dim))
        buf = _abi.VECTOR.pack(dim=self.dim, vector_ptr=_addr(vec))
        try:
            fcntl.ioctl(fd, _abi.IOC_GET_VECTOR, buf)
        except OSError as exc:
            raise _translate(exc, "get vector", self._name(name), fd) from None
        return _abi.VECTOR.unpack(buf)["id"]

    def get(self, name, numpy=False):
        """The vector, id and metadata words of the file name, as a Vector
        (NoVector when it has none). numpy=True returns the vector as a
        NumPy float32 array. name may be an id (an int: the file named by
        it in decimal, as add_batch() and import name them), or a list of
        names and ids, for a list of Vectors."""
        if isinstance(name, (list, tuple)):
            return [self.get(n, numpy) for n in name]
        name = _entry_name(name)
        fd = _open(name, os.O_RDONLY, dir_fd=self._fd())
        try:
            vec = array.array("f", bytes(4 * self.dim))
            buf = _abi.VECTOR.pack(dim=self.dim, vector_ptr=_addr(vec))
            try:
                fcntl.ioctl(fd, _abi.IOC_GET_VECTOR, buf)
            except OSError as exc:
                raise _translate(exc, "get vector", self._name(name), fd) from None
            f = _abi.VECTOR.unpack(buf)
            return Vector(_as_numpy(vec, numpy), f["id"], f["attrs"])
        finally:
            os.close(fd)

    def delete(self, name, keep_file=False):
        """Delete the entry name: the file goes, and its vector with it.
        keep_file=True removes only the vector (NoVector if it had none).
        name may be an id or a list of names and ids, as for get(); a list
        stops at the first failure, the entries before it deleted."""
        if isinstance(name, (list, tuple)):
            for n in name:
                self.delete(n, keep_file)
            return
        name = _entry_name(name)
        if not keep_file:
            try:
                os.unlink(name, dir_fd=self._fd())
            except OSError as exc:
                raise _error(exc.errno, "delete", self._name(name)) from None
            return
        fd = _open(name, os.O_WRONLY, dir_fd=self._fd())
        try:
            fcntl.ioctl(fd, _abi.IOC_DEL_VECTOR)
        except OSError as exc:
            raise _translate(exc, "delete vector", self._name(name), fd) from None
        finally:
            os.close(fd)

    def _name(self, name):
        return os.path.join(self.path, name)

    # -- many vectors --

    def add_batch(self, ids, vectors, attrs=None, mode=0):
        """Create one file per id, named by the id in decimal, each with its
        vector and metadata, through the kernel's batch insert.

        ids: positive integers, unique; vectors: a 2-D NumPy array, a
        sequence of vectors, or a flat sequence of len(ids) * dim numbers;
        attrs: None or one sequence of up to 4 words per id; mode: the
        files' permission bits (0: 0644).

        Each kernel call is all or nothing; batches larger than one call
        allows (65,536 entries, 256 MiB of vectors) are split, and a
        failure leaves the calls before it in place. On EEXIST the
        AlreadyExists raised has error_index, the entry at fault. Returns
        the number of files created."""
        return self._batch(ids, vectors, attrs, mode, 0)

    def upsert(self, ids, vectors, attrs=None, mode=0):
        """add_batch(), except that a name that exists is no error when it is
        a file whose vector is in this collection: its vector is replaced,
        keeping its id, and its metadata too unless attrs is given. Each
        kernel call is still all or nothing. Returns the number of entries."""
        return self._batch(ids, vectors, attrs, mode, _abi.BATCH_UPSERT)

    def _batch(self, ids, vectors, attrs, mode, flags):
        id_arr = array.array("Q")
        try:
            id_arr.extend(ids)
        except (TypeError, OverflowError) as exc:
            raise _error(errno.EINVAL, "ids: want positive 64-bit integers (%s)" % exc) from None
        if any(i == 0 for i in id_arr):
            raise _error(errno.EINVAL, "ids: 0 is not a valid id")
        flat, count = _vectors_array(vectors, self.dim)
        if count != len(id_arr):
            raise _error(errno.EINVAL, "%d ids for %d vectors" % (len(id_arr), count))
        attr_arr = None
        if attrs is not None:
            attrs = list(attrs)
            if len(attrs) != count:
                raise _error(errno.EINVAL, "%d attrs rows for %d vectors" % (len(attrs), count))
            attr_arr = array.array("Q")
            for i, row in enumerate(attrs):
                attr_arr.extend(_attrs_words(row, "attrs[%d]" % i))
        per_call = max(1, min(MAX_BATCH, _abi.MAX_BATCH_BYTES // (4 * self.dim)))
        done = 0
        while done < count:
            n = min(per_call, count - done)
            self._batch_call(id_arr, flat, attr_arr, done, n, mode, flags)
            done += n
        return count

    def _batch_call(self, ids, flat, attrs, start, n, mode, flags):
        """One call is one journal transaction; a batch the journal cannot
        hold in one (E2BIG) goes in halves, each again all or nothing."""
        try:
            self._batch_ioctl(ids, flat, attrs, start, n, mode, flags)
        except TooLarge as exc:
            if n < 2 or exc.error_index is not None:
                raise
            half = n // 2
            self._batch_call(ids, flat, attrs, start, half, mode, flags)
            self._batch_call(ids, flat, attrs, start + half, n - half, mode, flags)

    def _batch_ioctl(self, ids, flat, attrs, start, n, mode, flags):
        # Slices are copies: their own buffers, alive for the call.
        id_part = ids[start:start + n]
        vec_part = flat[start * self.dim:(start + n) * self.dim]
        attr_part = attrs[start * ATTR_WORDS:(start + n) * ATTR_WORDS] if attrs is not None else None
        buf = _abi.BATCH_INSERT.pack(
            dim=self.dim, count=n, mode=mode, flags=flags, ids_ptr=_addr(id_part),
            vectors_ptr=_addr(vec_part),
            attrs_ptr=_addr(attr_part) if attr_part is not None else 0)
        try:
            fcntl.ioctl(self._fd(), _abi.IOC_BATCH_INSERT, buf)
        except OSError as exc:
            bad = _abi.BATCH_INSERT.unpack(buf)["error_index"]
            where = ""
            if bad < n:
                where = "entry %d (id %d)" % (start + bad, id_part[bad])
                if exc.errno == errno.EEXIST:
                    where += ": a file of that name exists"
            err = _translate(exc, where or "batch insert", self.path, self._fd())
            err.error_index = start + bad if bad < n else None
            raise err from None

    # -- search --

    def search(self, query, k=10, ef=0, exact=False, filter=None, where=None,
               attrs=False, vectors=False):
        """The k (1..4096) nearest vectors to query, best first, as Results
        of Result(id, ino, distance, attrs, vector); Results.scanned is the
        number of distances computed. query may also be many queries (a 2-D
        NumPy array, or a sequence of vectors): then a list of Results, one
        per query, all answered by one call.

        ef: HNSW search breadth (0: the kernel's default, 64); exact=True
        ignores the index and compares every vector; filter: the name of a
        loaded BPF filter (vexfsctl filter load); where: predicates on the
        metadata words that must all hold, "attr1>=5", "attr0=3 and
        attr1>=5" (up to four), (1, ">=", 5) or a list of such. attrs=True
        and vectors=True fill each Result's attrs and vector. Only files
        the caller may read are returned, so there may be fewer than k."""
        rows = _query_rows(query)
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise _error(errno.EINVAL, "k %r: want 1..%d" % (k, MAX_K))
        if not isinstance(ef, int) or ef < 0 or ef >= 1 << 32:
            raise _error(errno.EINVAL, "ef %r: want 0 (the default) or more" % (ef,))
        name = (filter or "").encode()
        if len(name) >= _abi.FILTER_NAME_LEN or b"\0" in name:
            raise _error(errno.EINVAL, "filter name %r: at most %d bytes"
                         % (filter, _abi.FILTER_NAME_LEN - 1))
        arg = {"k": k, "ef": ef, "filter": name,
               "flags": ((_abi.SEARCH_EXACT if exact else 0) |
                         (_abi.SEARCH_ATTRS if attrs else 0) |
                         (_abi.SEARCH_VECTORS if vectors else 0))}
        preds = _predicates(where) or [(_abi.PRED_NONE, 0, 0)]
        op, word, value = preds[0]
        arg.update({"where.op": op, "where.word": word, "where.value": value,
                    "and_where": _abi.pack_predicates(preds[1:], _abi.MAX_WHERE - 1)})
        if rows is None:
            q = _float_array(query, "query")
            self._check_vector(q, "query")
            answers, scanned = self._search_block(q, 1, arg, filter)
            answers[0].scanned = scanned
            return answers[0]
        out = ManyResults()
        for first in range(0, len(rows), _abi.MAX_QUERIES):
            block = rows[first:first + _abi.MAX_QUERIES]
            q = array.array("f")
            for i, row in enumerate(block):
                r = _float_array(row, "query %d" % (first + i))
                self._check_vector(r, "query %d" % (first + i))
                q.extend(r)
            answers, scanned = self._search_block(q, len(block), arg, filter)
            out.extend(answers)
            out.scanned += scanned
        return out

    def _search_block(self, q, n, arg, filter):
        """n queries (q holds n rows) in one call: a Results for each."""
        k, flags = arg["k"], arg["flags"]
        results = array.array("B", bytes(_abi.RESULT.size * k * n))
        counts = array.array("I", bytes(4 * n))
        attrs = array.array("Q", bytes(8 * ATTR_WORDS * k * n)) \
            if flags & _abi.SEARCH_ATTRS else None
        vecs = array.array("f", bytes(4 * self.dim * k * n)) \
            if flags & _abi.SEARCH_VECTORS else None
        buf = _abi.SEARCH.pack(dim=self.dim, query_ptr=_addr(q), results_ptr=_addr(results),
                               nqueries=n, counts_ptr=_addr(counts),
                               attrs_ptr=_addr(attrs) if attrs else 0,
                               vectors_ptr=_addr(vecs) if vecs else 0, **arg)
        try:
            fcntl.ioctl(self._fd(), _abi.IOC_SEARCH, buf)
        except OSError as exc:
            if filter and exc.errno in (errno.ENOENT, errno.EOPNOTSUPP):
                msg = ("no BPF filter named %r is loaded" % filter if exc.errno == errno.ENOENT
                       else "this kernel has no BPF filter support")
                raise _error(exc.errno, msg, self.path, FilterNotFound) from None
            raise _translate(exc, "search", self.path, self._fd()) from None
        raw, size, out = results.tobytes(), _abi.RESULT.size, []
        for query in range(n):
            hits = Results()
            for i in range(query * k, query * k + counts[query]):
                r = _abi.RESULT.unpack(raw[i * size:(i + 1) * size])
                hits.append(Result(
                    r["id"], r["ino"], r["distance"],
                    list(attrs[i * ATTR_WORDS:(i + 1) * ATTR_WORDS]) if attrs else None,
                    vecs[i * self.dim:(i + 1) * self.dim] if vecs else None))
            out.append(hits)
        # The kernel counts the distances of the whole call.
        return out, _abi.SEARCH.unpack(buf)["scanned"]

    def name_of(self, result):
        """The file name of a search hit: the id in decimal when that file
        is the hit (batch-inserted files), else the entry whose inode
        number it is; None if the file is gone."""
        ino = result.ino
        try:
            if os.stat(str(result.id), dir_fd=self._fd(), follow_symlinks=False).st_ino == ino:
                return str(result.id)
        except OSError:
            pass
        with os.scandir(self._fd()) as entries:
            for entry in entries:
                if entry.inode() == ino:
                    return entry.name
        return None
