# SPDX-License-Identifier: GPL-2.0
"""The struct layouts and ioctl numbers of vexfs._abi against the C
header: a small C program compiled against include/uapi/vexfs.h prints
sizeof and offsetof of every field and the value of every ioctl number,
and each must equal what the Python side computes. Needs a C compiler
($CC or cc); runs natively, no VexFS mount needed.

    python3 -m unittest discover -s python/tests -p test_layout.py
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

from vexfs import _abi  # noqa: E402


def c_program():
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "uapi/vexfs.h"',
             "int main(void)", "{"]
    for name, layout in _abi.STRUCTS.items():
        lines.append('\tprintf("size %s %%zu\\n", sizeof(struct %s));' % (name, name))
        for field, _ in layout.fields:
            lines.append('\tprintf("offset %s %s %%zu\\n", offsetof(struct %s, %s));'
                         % (name, field, name, field))
    for name in _abi.IOCTLS:
        lines.append('\tprintf("ioctl %s %%lu\\n", (unsigned long)%s);' % (name, name))
    for name, value in [("VEXFS_ABI_VERSION", _abi.ABI_VERSION), ("VEXFS_MAX_DIM", _abi.MAX_DIM),
                        ("VEXFS_MAX_K", _abi.MAX_K), ("VEXFS_MAX_BATCH", _abi.MAX_BATCH),
                        ("VEXFS_ATTR_WORDS", _abi.ATTR_WORDS), ("VEXFS_DEFAULT_EF", _abi.DEFAULT_EF),
                        ("VEXFS_METRIC_L2", _abi.METRIC_L2), ("VEXFS_METRIC_IP", _abi.METRIC_IP),
                        ("VEXFS_METRIC_COSINE", _abi.METRIC_COSINE), ("VEXFS_ELEM_F32", _abi.ELEM_F32),
                        ("VEXFS_SEARCH_EXACT", _abi.SEARCH_EXACT),
                        ("VEXFS_COLLECTION_WALK_CODES", _abi.COLLECTION_WALK_CODES),
                        ("VEXFS_COLLECTION_SHAPE", _abi.COLLECTION_SHAPE),
                        ("VEXFS_MAX_BATCH_BYTES", _abi.MAX_BATCH_BYTES),
                        ("VEXFS_PRED_EQ", _abi.PRED_EQ), ("VEXFS_PRED_ANY_BITS", _abi.PRED_ANY_BITS),
                        ("VEXFS_CAP_BPF_FILTER", _abi.CAPABILITIES["bpf_filter"]),
                        ("VEXFS_CAP_HNSW", _abi.CAPABILITIES["hnsw"])]:
        lines.append('\tprintf("const %s %d %%llu\\n", (unsigned long long)(%s));'
                     % (name, value, name))
    lines.append('\tprintf("const filter_len %zu 16\\n", sizeof(((struct vexfs_ioc_search *)0)->filter));')
    lines += ["\treturn 0;", "}"]
    return "\n".join(lines) + "\n"


class LayoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise unittest.SkipTest("no C compiler")
        cls.tmp = tempfile.mkdtemp(prefix="vexfs-layout-")
        src = os.path.join(cls.tmp, "layout.c")
        exe = os.path.join(cls.tmp, "layout")
        with open(src, "w") as f:
            f.write(c_program())
        subprocess.run([cc, "-Wall", "-Werror", "-I", os.path.join(REPO, "include"),
                        "-o", exe, src], check=True)
        out = subprocess.run([exe], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
        cls.c = {}
        for line in out.splitlines():
            kind, *rest = line.split()
            cls.c[(kind,) + tuple(rest[:-1])] = int(rest[-1])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_struct_sizes(self):
        for name, layout in _abi.STRUCTS.items():
            with self.subTest(struct=name):
                self.assertEqual(layout.size, self.c[("size", name)])

    def test_field_offsets(self):
        checked = 0
        for name, layout in _abi.STRUCTS.items():
            for field, _ in layout.fields:
                with self.subTest(struct=name, field=field):
                    self.assertEqual(layout.offsets[field], self.c[("offset", name, field)])
                    checked += 1
        self.assertGreater(checked, 50)

    def test_ioctl_numbers(self):
        for name, value in _abi.IOCTLS.items():
            with self.subTest(ioctl=name):
                self.assertEqual(value, self.c[("ioctl", name)])

    def test_constants(self):
        consts = [key for key in self.c if key[0] == "const"]
        self.assertGreater(len(consts), 10)
        for key in consts:
            with self.subTest(const=key[1]):
                self.assertEqual(int(key[2]), self.c[key])

    def test_pack_roundtrip(self):
        buf = _abi.SEARCH.pack(**{"dim": 7, "k": 3, "where.value": 1 << 63, "filter": b"tags"})
        self.assertEqual(len(buf), _abi.SEARCH.size)
        f = _abi.SEARCH.unpack(buf)
        self.assertEqual((f["size"], f["dim"], f["k"], f["where.value"]),
                         (_abi.SEARCH.size, 7, 3, 1 << 63))
        self.assertEqual(f["filter"].rstrip(b"\0"), b"tags")


if __name__ == "__main__":
    unittest.main()
