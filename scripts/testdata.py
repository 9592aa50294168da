#!/usr/bin/env python3
"""Print the directory of the sift5k test data (sift5k_base.fvecs,
sift5k_query.fvecs, sift5k_groundtruth.ivecs), the tests' ANN dataset.

Looked for in $VEXFS_SIFT, then ../shared/data/sift5k beside the
repository, then /work/shared/data/sift5k. Where none exists (a machine
without the shared data), a stand-in of the same shape is generated once
into build/data/sift5k: 4,900 + 100 seeded, clustered 128-d vectors in
SIFT's value range, with their exact L2 top-100 ground truth.
"""
import array
import os
import random
import struct
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ("sift5k_base.fvecs", "sift5k_query.fvecs", "sift5k_groundtruth.ivecs")


def complete(d):
    return d and all(os.path.isfile(os.path.join(d, n)) for n in NAMES)


def write_vecs(path, rows, code):
    with open(path + ".tmp", "wb") as f:
        for row in rows:
            f.write(struct.pack("<i", len(row)))
            f.write(array.array(code, row).tobytes())
    os.replace(path + ".tmp", path)


def generate(d, n=4900, nq=100, dim=128, seed=5000):
    rng = random.Random(seed)
    centres = [[rng.randrange(0, 120) for _ in range(dim)] for _ in range(40)]

    def point():
        c = rng.choice(centres)
        # Real-valued, so no two distances tie at a rank boundary.
        return [max(0.0, min(255.0, x + rng.gauss(0, 12))) for x in c]

    base = [point() for _ in range(n)]
    queries = [point() for _ in range(nq)]
    truth = []
    for q in queries:
        dist = [(sum((a - b) * (a - b) for a, b in zip(q, v)), i) for i, v in enumerate(base)]
        dist.sort()
        truth.append([i for _, i in dist[:100]])
    os.makedirs(d, exist_ok=True)
    write_vecs(os.path.join(d, NAMES[1]), queries, "f")
    write_vecs(os.path.join(d, NAMES[2]), truth, "i")
    write_vecs(os.path.join(d, NAMES[0]), base, "f")


def main():
    for d in (os.environ.get("VEXFS_SIFT"),
              os.path.join(os.path.dirname(REPO), "shared", "data", "sift5k"),
              "/work/shared/data/sift5k"):
        if complete(d):
            print(os.path.abspath(d))
            return 0
    d = os.path.join(REPO, "build", "data", "sift5k")
    if not complete(d):
        print("generating a stand-in for sift5k in", d, file=sys.stderr)
        generate(d)
    print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
