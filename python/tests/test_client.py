# SPDX-License-Identifier: GPL-2.0
"""The Python client against a real VexFS mount (tests/vm/test_python.sh
runs it in the guest on a fresh filesystem):

    VEXFS_PY_MNT=/mnt/vex python3 -B -m unittest discover -s python/tests -p test_client.py

Every test works in a directory of its own under $VEXFS_PY_MNT, and
$VEXFS_PY_OTHER (optional) is a directory on some other filesystem.
"""
import array
import errno
import itertools
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # python/, holding vexfs/

import vexfs  # noqa: E402

MNT = os.environ.get("VEXFS_PY_MNT")
_counter = itertools.count()


def l2(a, b):
    return sum((x - y) * (x - y) for x, y in zip(a, b))


@unittest.skipUnless(MNT, "VEXFS_PY_MNT is not set (run in the guest: tests/vm/test_python.sh)")
class ClientTest(unittest.TestCase):
    def fresh(self, dim=4, metric="l2"):
        path = os.path.join(MNT, "t%d" % next(_counter))
        coll = vexfs.open_collection(path, dim=dim, metric=metric)
        self.addCleanup(coll.close)
        return coll

    # -- module and collections --

    def test_version(self):
        v = vexfs.version(MNT)
        self.assertEqual(v.abi_version, 1)
        self.assertEqual((v.max_dim, v.max_k, v.max_batch, v.attr_words), (4096, 4096, 65536, 4))
        self.assertTrue({"collections", "batch_insert", "exact_search", "predicate"} <= v.capabilities)

    def test_open_creates_then_reopens(self):
        path = os.path.join(MNT, "created")
        with vexfs.open_collection(path, dim=8, metric="cosine") as c:
            self.assertEqual((c.dim, c.metric), (8, "cosine"))
            s = c.stats()
            self.assertEqual((s.dim, s.metric, s.elem_type, s.count), (8, "cosine", "float32", 0))
        with vexfs.open_collection(path) as c:  # no dim: open as it is
            self.assertEqual(c.dim, 8)
        with self.assertRaises(vexfs.InvalidArgument):
            vexfs.open_collection(path, dim=9)
        with self.assertRaises(vexfs.InvalidArgument):
            vexfs.open_collection(path, dim=8, metric="l2")

    def test_open_errors(self):
        plain = os.path.join(MNT, "plain")
        os.mkdir(plain)
        with self.assertRaises(vexfs.NotACollection) as cm:
            vexfs.open_collection(plain)
        self.assertEqual(cm.exception.errno, errno.ENOTTY)
        with self.assertRaises(vexfs.NotFound):
            vexfs.open_collection(os.path.join(MNT, "missing"))
        with self.assertRaises(vexfs.InvalidArgument):
            vexfs.open_collection(os.path.join(MNT, "bad"), dim=0)
        with self.assertRaises(vexfs.InvalidArgument):
            vexfs.open_collection(os.path.join(MNT, "bad"), dim=4, metric="manhattan")
        other = os.environ.get("VEXFS_PY_OTHER")
        if other:
            with self.assertRaises(vexfs.NotVexFS):
                vexfs.open_collection(os.path.join(other, "x"), dim=4)
            with self.assertRaises(vexfs.NotVexFS):
                vexfs.version(other)

    # -- one vector --

    def test_add_get_delete(self):
        c = self.fresh()
        ident = c.add("doc.txt", [1, 2, 3, 4], attrs=[7, 0, 1 << 63], data=b"hello")
        with open(os.path.join(c.path, "doc.txt"), "rb") as f:
            self.assertEqual(f.read(), b"hello")
        self.assertEqual(ident, os.stat(os.path.join(c.path, "doc.txt")).st_ino)
        v = c.get("doc.txt")
        self.assertEqual(list(v.vector), [1, 2, 3, 4])
        self.assertEqual((v.id, v.attrs), (ident, [7, 0, 1 << 63, 0]))
        self.assertIn("doc.txt", c)
        self.assertEqual(c.add("doc.txt", [4, 3, 2, 1], id=99), 99)  # replaces
        self.assertEqual(c.get("doc.txt").id, 99)
        # An update without id or attrs keeps both.
        self.assertEqual(c.add("doc.txt", [2, 2, 2, 2]), 99)
        v = c.get("doc.txt")
        self.assertEqual((list(v.vector), v.id, v.attrs), ([2, 2, 2, 2], 99, [7, 0, 1 << 63, 0]))
        self.assertEqual(c.add("doc.txt", [2, 2, 2, 2], attrs=[5]), 99)
        self.assertEqual(c.get("doc.txt").attrs, [5, 0, 0, 0])
        c.delete("doc.txt", keep_file=True)
        self.assertTrue(os.path.exists(os.path.join(c.path, "doc.txt")))
        with self.assertRaises(vexfs.NoVector):
            c.get("doc.txt")
        self.assertNotIn("doc.txt", c)
        with self.assertRaises(vexfs.NoVector):
            c.delete("doc.txt", keep_file=True)
        c.add("doc.txt", [1, 1, 1, 1])
        c.delete("doc.txt")
        self.assertFalse(os.path.exists(os.path.join(c.path, "doc.txt")))
        with self.assertRaises(vexfs.NotFound):
            c.get("doc.txt")
        self.assertEqual(len(c), 0)

    def test_get_delete_by_id_and_list(self):
        c = self.fresh()
        c.add_batch([5, 6, 7], [[5] * 4, [6] * 4, [7] * 4], attrs=[[1], [2], [3]])
        v = c.get(6)
        self.assertEqual((list(v.vector), v.id, v.attrs), ([6] * 4, 6, [2, 0, 0, 0]))
        got = c.get([5, "7"])
        self.assertEqual([(g.id, g.attrs[0]) for g in got], [(5, 1), (7, 3)])
        c.delete([5, "6"])
        self.assertEqual(sorted(os.listdir(c.path)), ["7"])
        c.delete(7, keep_file=True)
        self.assertEqual(len(c), 0)
        with self.assertRaises(vexfs.NotFound):
            c.get(5)
        with self.assertRaises(vexfs.InvalidArgument):
            c.get(0)
        with self.assertRaises(vexfs.InvalidArgument):
            c.delete(True)

    def test_bad_vectors(self):
        c = self.fresh()
        with self.assertRaises(vexfs.InvalidArgument):
            c.add("a", [1, 2, 3])
        with self.assertRaises(vexfs.InvalidArgument) as cm:
            c.add("a", [1, float("nan"), 3, 4])
        self.assertIn("component 1 is not finite", str(cm.exception))
        # Refused before the file is made: nothing is left behind.
        self.assertFalse(os.path.exists(os.path.join(c.path, "a")))
        with self.assertRaises(vexfs.InvalidArgument):
            c.add("a", [1, 2, float("inf"), 4], data=b"text")
        self.assertFalse(os.path.exists(os.path.join(c.path, "a")))
        with self.assertRaises(vexfs.InvalidArgument):
            c.add("a", [1, 2, 3, 4], attrs=[1, 2, 3, 4, 5])
        with self.assertRaises(vexfs.InvalidArgument):
            c.add("a", [1, 2, 3, 4], attrs=[-1])
        with self.assertRaises(vexfs.InvalidArgument):
            c.add("a", ["x", 2, 3, 4])
        with self.assertRaises(vexfs.InvalidArgument):
            c.add("a", [1, 2, 3, 4], id=0)

    def test_busy_in_other_collection(self):
        a, b = self.fresh(), self.fresh()
        a.add("f", [1, 2, 3, 4])
        os.link(os.path.join(a.path, "f"), os.path.join(b.path, "f"))
        with self.assertRaises(vexfs.VectorBusy):
            b.add("f", [1, 2, 3, 4])

    def test_permission(self):
        c = self.fresh()
        c.add("ro", [1, 2, 3, 4], mode=0o444)
        pid = os.fork()
        if pid == 0:  # as nobody: no write access to the file
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                try:
                    c.add("ro", [0, 0, 0, 0])
                except vexfs.PermissionDenied:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    # -- batch --

    def test_batch_and_search(self):
        rnd = random.Random(5)
        c = self.fresh(dim=8)
        vecs = [[rnd.uniform(-1, 1) for _ in range(8)] for _ in range(300)]
        attrs = [[i % 3, i] for i in range(300)]
        self.assertEqual(c.add_batch(range(1, 301), vecs, attrs=attrs), 300)
        self.assertEqual(c.stats().count, 300)
        self.assertEqual(c.get("17").attrs, [16 % 3, 16, 0, 0])
        q = vecs[41]
        hits = c.search(q, k=5)
        self.assertEqual(len(hits), 5)
        self.assertEqual(hits[0].id, 42)
        self.assertAlmostEqual(hits[0].distance, 0.0, places=5)
        want = sorted(range(300), key=lambda i: l2(vecs[i], q))[:5]
        self.assertEqual([h.id for h in hits], [i + 1 for i in want])
        self.assertEqual(c.name_of(hits[0]), "42")
        self.assertGreaterEqual(hits.scanned, 300)
        exact = c.search(q, k=5, exact=True, ef=128)
        self.assertEqual([h.id for h in exact], [h.id for h in hits])
        # where: as a string and as a tuple, against the same brute force
        for where in ("attr0=2", (0, "==", 2)):
            got = [h.id for h in c.search(q, k=10, where=where)]
            want = [i + 1 for i in sorted((i for i in range(300) if i % 3 == 2),
                                          key=lambda i: l2(vecs[i], q))[:10]]
            self.assertEqual(got, want)
        self.assertEqual([h.id for h in c.search(q, k=3, where="attr1 < 3")],
                         [i + 1 for i in sorted(range(3), key=lambda i: l2(vecs[i], q))])
        # Predicates that must all hold: joined by "and", or as a list.
        want = [i + 1 for i in sorted((i for i in range(300) if i % 3 == 1 and 100 <= i < 200
                                       and i != 151), key=lambda i: l2(vecs[i], q))[:10]]
        for where in ("attr0=1 and attr1>=100 and attr1<200 and attr1!=151",
                      ["attr0=1", (1, ">=", 100), "attr1<200", (1, "!=", 151)]):
            for exact in (False, True):
                got = [h.id for h in c.search(q, k=10, where=where, exact=exact)]
                self.assertEqual(got, want, (where, exact))
        with self.assertRaises(vexfs.InvalidArgument):
            c.search(q, where="attr0=1 and attr0=1 and attr0=1 and attr0=1 and attr0=1")
        self.assertIn("where_and", vexfs.version(c.path).capabilities)
        self.assertEqual(len(c.search(q, k=4096)), 300)

    def test_many_queries(self):
        rnd = random.Random(9)
        c = self.fresh(dim=8)
        vecs = [[rnd.uniform(-1, 1) for _ in range(8)] for _ in range(200)]
        attrs = [[i % 5, i, 7, i * 3] for i in range(200)]
        c.add_batch(range(1, 201), vecs, attrs=attrs)
        self.assertIn("multi_query", vexfs.version(c.path).capabilities)
        queries = [vecs[i] for i in (3, 50, 199)] + [[0.5] * 8]
        for where, exact in ((None, True), ("attr0=2", False), ("attr0=2", True)):
            many = c.search(queries, k=7, where=where, exact=exact)
            self.assertEqual(len(many), len(queries))
            for q, hits in zip(queries, many):
                one = c.search(q, k=7, where=where, exact=exact)
                self.assertEqual([(h.id, h.distance) for h in hits],
                                 [(h.id, h.distance) for h in one], (where, exact))
            self.assertGreaterEqual(many.scanned, sum(len(h) for h in many))
        # What results carry on request: the metadata words and the vector.
        hits = c.search(queries, k=3, attrs=True, vectors=True)
        for hit in (h for answer in hits for h in answer):
            self.assertEqual(hit.attrs, attrs[hit.id - 1])
            self.assertEqual(list(hit.vector), list(array.array("f", vecs[hit.id - 1])))
        plain = c.search(queries[0], k=1)[0]
        self.assertIsNone(plain.attrs)
        self.assertIsNone(plain.vector)
        np = vexfs._np
        if np is not None:
            grid = np.array(queries, dtype=np.float32)
            self.assertEqual([[h.id for h in a] for a in c.search(grid, k=4)],
                             [[h.id for h in a] for a in c.search(queries, k=4)])
        with self.assertRaises(vexfs.InvalidArgument):
            c.search([vecs[0], [1, 2, 3]])
        with self.assertRaises(vexfs.InvalidArgument):
            c.search([vecs[0], [float("nan")] * 8])

    def test_upsert(self):
        c = self.fresh()
        c.add_batch([1, 2], [[1, 0, 0, 0], [2, 0, 0, 0]], attrs=[[5], [6]])
        c.add("2", [2, 0, 0, 0], id=22)          # an id that is not the name
        open(os.path.join(c.path, "plain"), "w").close()
        # Replaces 1 and 2 in place, keeps their ids and metadata; creates 3.
        self.assertEqual(c.upsert([1, 2, 3], [[0, 1, 0, 0], [0, 2, 0, 0], [0, 3, 0, 0]]), 3)
        self.assertEqual(c.stats().count, 3)
        got = {n: c.get(n) for n in ("1", "2", "3")}
        self.assertEqual([list(v.vector) for v in got.values()],
                         [[0, 1, 0, 0], [0, 2, 0, 0], [0, 3, 0, 0]])
        self.assertEqual([(v.id, v.attrs[0]) for v in got.values()], [(1, 5), (22, 6), (3, 0)])
        c.upsert([1], [[0, 9, 0, 0]], attrs=[[7]])
        self.assertEqual(c.get("1").attrs[0], 7)
        # All or nothing: a bad entry puts the replaced vectors back.
        with self.assertRaises(vexfs.InvalidArgument) as cm:
            c.upsert([1, 4], [[9, 9, 9, 9], [1, float("nan"), 1, 1]])
        self.assertEqual(cm.exception.error_index, 1)
        self.assertEqual(list(c.get("1").vector), [0, 9, 0, 0])
        # A file without a vector here is not replaced: EEXIST, nothing changed.
        plain_id = os.stat(os.path.join(c.path, "plain")).st_ino
        os.rename(os.path.join(c.path, "plain"), os.path.join(c.path, str(plain_id)))
        with self.assertRaises(vexfs.AlreadyExists) as cm:
            c.upsert([1, plain_id], [[8, 8, 8, 8], [1, 1, 1, 1]])
        self.assertEqual(cm.exception.error_index, 1)
        self.assertEqual(list(c.get("1").vector), [0, 9, 0, 0])
        self.assertEqual(c.stats().count, 3)

    def test_batch_all_or_nothing(self):
        c = self.fresh()
        c.add_batch([1, 2], [[0, 0, 0, 1], [0, 0, 1, 0]])
        with self.assertRaises(vexfs.AlreadyExists) as cm:
            c.add_batch([3, 4, 2, 5], [[1, 1, 1, 1]] * 4)
        self.assertEqual(cm.exception.error_index, 2)
        self.assertIn("id 2", str(cm.exception))
        self.assertEqual(c.stats().count, 2)
        self.assertFalse(os.path.exists(os.path.join(c.path, "3")))
        with self.assertRaises(vexfs.InvalidArgument) as cm:
            c.add_batch([7, 8], [[1, 1, 1, 1], [1, float("inf"), 1, 1]])
        self.assertEqual(cm.exception.error_index, 1)
        with self.assertRaises(vexfs.InvalidArgument):
            c.add_batch([7, 7], [[1, 1, 1, 1]] * 2)
        with self.assertRaises(vexfs.InvalidArgument):
            c.add_batch([0], [[1, 1, 1, 1]])
        with self.assertRaises(vexfs.InvalidArgument):
            c.add_batch([9], [[1, 1, 1]])
        with self.assertRaises(vexfs.InvalidArgument):
            c.add_batch([9, 10], [[1, 1, 1, 1]])
        # a flat sequence and array('f') are accepted too
        c.add_batch([9, 10], array.array("f", [1, 2, 3, 4, 5, 6, 7, 8]))
        self.assertEqual(list(c.get("10").vector), [5, 6, 7, 8])
        self.assertEqual(c.stats().count, 4)

    def test_search_errors(self):
        c = self.fresh()
        c.add_batch([1], [[1, 2, 3, 4]])
        for bad in (dict(k=0), dict(k=4097), dict(ef=-1), dict(where="attr4=1"),
                    dict(where="attr0 ~ 1"), dict(where=(0, "==")), dict(filter="x" * 16)):
            with self.subTest(**{k: str(v) for k, v in bad.items()}):
                with self.assertRaises(vexfs.InvalidArgument):
                    c.search([1, 2, 3, 4], **bad)
        with self.assertRaises(vexfs.InvalidArgument):
            c.search([1, 2, 3])
        with self.assertRaises(vexfs.FilterNotFound):
            c.search([1, 2, 3, 4], filter="nosuchfilter")
        c.close()
        with self.assertRaises(ValueError):
            c.search([1, 2, 3, 4])

    @unittest.skipUnless(os.environ.get("VEXFS_PY_FILTER"),
                         "VEXFS_PY_FILTER (a loaded tags filter, tag_mask=2) is not set")
    def test_bpf_filter(self):
        # test_python.sh loads bpf/filters/tags.bpf.o with tag_mask=2 under
        # this name: it admits (attrs[0] & 2) == 2, as where="attr0&2" does.
        rnd = random.Random(9)
        c = self.fresh(dim=8)
        vecs = [[rnd.uniform(-1, 1) for _ in range(8)] for _ in range(200)]
        c.add_batch(range(1, 201), vecs, attrs=[[i % 4] for i in range(200)])
        q = vecs[10]
        want = [i + 1 for i in sorted((i for i in range(200) if i % 4 in (2, 3)),
                                      key=lambda i: l2(vecs[i], q))[:10]]
        got = c.search(q, k=10, filter=os.environ["VEXFS_PY_FILTER"])
        self.assertEqual([h.id for h in got], want)
        self.assertEqual([h.id for h in c.search(q, k=10, where="attr0&2")], want)
        both = c.search(q, k=5, filter=os.environ["VEXFS_PY_FILTER"], where="attr0=3")
        self.assertTrue(both and all((h.id - 1) % 4 == 3 for h in both))

    def test_metrics(self):
        ip = self.fresh(dim=2, metric="ip")
        ip.add_batch([1, 2], [[1, 0], [3, 0]])
        hits = ip.search([1, 0], k=2)
        self.assertEqual([h.id for h in hits], [2, 1])
        self.assertAlmostEqual(hits[0].distance, -3.0, places=5)
        cos = self.fresh(dim=2, metric="cosine")
        cos.add_batch([1, 2], [[10, 0], [1, 1]])
        hits = cos.search([1, 0], k=2)
        self.assertEqual(hits[0].id, 1)
        self.assertAlmostEqual(hits[0].distance, 0.0, places=5)

    def test_name_of_added_file(self):
        c = self.fresh()
        c.add("notes.md", [1, 0, 0, 0])
        hit = c.search([1, 0, 0, 0], k=1)[0]
        self.assertEqual(c.name_of(hit), "notes.md")

    @unittest.skipUnless(vexfs._np is not None, "NumPy is not installed")
    def test_numpy(self):  # pragma: no cover - depends on the machine
        np = vexfs._np
        c = self.fresh()
        c.add_batch([1, 2], np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float64))
        got = c.get("2", numpy=True).vector
        self.assertEqual(got.dtype, np.float32)
        self.assertEqual(got.tolist(), [5, 6, 7, 8])
        self.assertEqual(c.search(np.array([5, 6, 7, 8]), k=1)[0].id, 2)


if __name__ == "__main__":
    unittest.main()
