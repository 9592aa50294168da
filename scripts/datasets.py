#!/usr/bin/env python3
"""Prepare the recall datasets as .fvecs files (little-endian: int32 dim, floats).

  fashion-mnist   Debian's dataset-fashion-mnist (idx, uint8 784-d images):
                  base = the first N training images, queries = the first Q
                  test images, as float32 pixel values; metric L2. Also
                  fashion60k_base: all 60,000 training images.
  gen1536         N x 1536 embedding-like vectors: points around 64 seeded
                  cluster centres, L2-normalized; queries drawn the same way;
                  metric cosine.
  gen768          the same at 768 dimensions (another seed).

Usage: datasets.py OUTDIR [--n 10000] [--queries 100]
Ground truth is not written here: the recall benchmark takes the kernel's
exact search (tested against SIFT's published ground truth) as the truth.
"""
import argparse
import array
import gzip
import math
import os
import random
import struct

FASHION = "/usr/share/datasets/fashion-mnist"


def write_fvecs(path, rows, dim):
    with open(path + ".tmp", "wb") as f:
        head = struct.pack("<i", dim)
        for row in rows:
            f.write(head)
            f.write(array.array("f", row).tobytes())
    os.replace(path + ".tmp", path)


def idx_images(path, count):
    with gzip.open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">iiii", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{path}: not an idx3 image file")
        dim = rows * cols
        for _ in range(min(n, count)):
            yield [float(b) for b in f.read(dim)]


def fashion(outdir, n, q):
    write_fvecs(os.path.join(outdir, "fashion_base.fvecs"),
                idx_images(os.path.join(FASHION, "train-images-idx3-ubyte.gz"), n), 784)
    write_fvecs(os.path.join(outdir, "fashion_query.fvecs"),
                idx_images(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"), q), 784)


def normalized(v):
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def gen(outdir, n, q, dim, clusters=64):
    rng = random.Random(dim)
    centres = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(clusters)]

    def points(count):
        for _ in range(count):
            c = centres[rng.randrange(clusters)]
            yield normalized([x + rng.gauss(0, 0.6) for x in c])

    write_fvecs(os.path.join(outdir, f"gen{dim}_base.fvecs"), points(n), dim)
    write_fvecs(os.path.join(outdir, f"gen{dim}_query.fvecs"), points(q), dim)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=100)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    if not os.path.exists(os.path.join(a.outdir, "fashion_query.fvecs")):
        fashion(a.outdir, a.n, a.queries)
    if not os.path.exists(os.path.join(a.outdir, "fashion60k_base.fvecs")):
        write_fvecs(os.path.join(a.outdir, "fashion60k_base.fvecs"),
                    idx_images(os.path.join(FASHION, "train-images-idx3-ubyte.gz"), 60000), 784)
    for dim in (1536, 768):
        if not os.path.exists(os.path.join(a.outdir, f"gen{dim}_query.fvecs")):
            gen(a.outdir, a.n, a.queries, dim)


if __name__ == "__main__":
    main()
