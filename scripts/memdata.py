#!/usr/bin/env python3
"""Generated vectors for make membench: mem-DIM-N.fvecs in OUTDIR for each
DIM:N[:index] given, Gaussian values from a fixed seed, made once."""
import os
import random
import struct
import sys
from array import array


def write(path, dim, n):
    rng = random.Random(dim * 1000003 + n)
    head = struct.pack("<i", dim)
    with open(path + ".tmp", "wb") as f:
        for _ in range(n):
            f.write(head)
            array("f", [rng.gauss(0.0, 1.0) for _ in range(dim)]).tofile(f)
    os.replace(path + ".tmp", path)


def main():
    outdir, sets = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    for s in sets:
        dim, n = (int(x) for x in s.split(":")[:2])
        path = os.path.join(outdir, "mem-%d-%d.fvecs" % (dim, n))
        if not os.path.exists(path):
            write(path, dim, n)
        print(path)


if __name__ == "__main__":
    main()
