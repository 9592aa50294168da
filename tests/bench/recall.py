#!/usr/bin/env python3
"""Recall of the kernel's HNSW search against its exact search, per dataset.

Runs in the guest on a mounted VexFS (argument: mount point). For each
dataset: import the base vectors, build and publish the index with
vexfsctl (the same builder vexfsd uses), then for every query compare the
indexed search's top 10 with the exact search's (VEXFS_SEARCH_EXACT,
itself checked against SIFT's published ground truth in the tests). Then
delete 20% of the files and measure again, on the stale index and after a
rebuild. Prints a table and JSON.
"""
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vm"))
import vexfs_ioctl as vx  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CTL = os.path.join(REPO, "daemon", "vexfsctl")
SIFT = os.environ.get("VEXFS_SIFT", os.path.join(REPO, "..", "shared", "data", "sift5k"))
DATA = os.path.join(REPO, "build", "data")
DATASETS = [
    ("sift5k", "l2", os.path.join(SIFT, "sift5k_base.fvecs"), os.path.join(SIFT, "sift5k_query.fvecs")),
    ("fashion-mnist-10k", "l2", os.path.join(DATA, "fashion_base.fvecs"), os.path.join(DATA, "fashion_query.fvecs")),
    ("gen-10k-1536-cosine", "cosine", os.path.join(DATA, "gen1536_base.fvecs"), os.path.join(DATA, "gen1536_query.fvecs")),
]


def ctl(*args):
    return subprocess.run([CTL, *args], check=True, capture_output=True, text=True).stdout


def measure(dirfd, queries, k=10, ef=0):
    hits = 0
    t_exact = t_index = 0.0
    for q in queries:
        t = time.perf_counter()
        exact, _ = vx.search(dirfd, q, k, flags=vx.SEARCH_EXACT)
        t_exact += time.perf_counter() - t
        t = time.perf_counter()
        got, _ = vx.search(dirfd, q, k, ef=ef)
        t_index += time.perf_counter() - t
        hits += len({r[0] for r in exact} & {r[0] for r in got})
    return hits / (k * len(queries)), len(queries) / t_index, len(queries) / t_exact


def run(mnt, name, metric, base, query):
    coll = os.path.join(mnt, name)
    queries = vx.read_vecs(query, "f")
    dim = len(queries[0])
    ctl("collection", "create", coll, "--dim", str(dim), "--metric", metric)
    t = time.perf_counter()
    ctl("import", "-q", coll, base)
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    ctl("index", "build", coll)
    t_build = time.perf_counter() - t
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    out = {"dataset": name, "metric": metric, "dim": dim,
           "vectors": vx.get_collection(fd)["count"], "import_s": t_import, "build_s": t_build}
    for ef in (16, 64, 128):
        r, qps, qps_exact = measure(fd, queries, ef=ef)
        out[f"recall_ef{ef}"] = r
        out[f"qps_ef{ef}"] = qps
        out["qps_exact"] = qps_exact
    names = sorted(os.listdir(coll))
    random.Random(20).shuffle(names)
    for n in names[: len(names) // 5]:
        os.unlink(os.path.join(coll, n))
    out["recall_after_delete_stale_index"] = measure(fd, queries)[0]
    ctl("index", "build", coll)
    out["recall_after_delete_rebuilt"] = measure(fd, queries)[0]
    os.close(fd)
    return out


def main():
    mnt = sys.argv[1]
    rows = []
    for name, metric, base, query in DATASETS:
        if not (os.path.exists(base) and os.path.exists(query)):
            print(f"{name}: data missing ({base}); run scripts/datasets.py build/data")
            continue
        rows.append(run(mnt, name, metric, base, query))
        r = rows[-1]
        print(f"{r['dataset']:<22} n={r['vectors']:<6} recall@10 ef16 {r['recall_ef16']:.3f} "
              f"ef64 {r['recall_ef64']:.3f} ef128 {r['recall_ef128']:.3f} | "
              f"after 20% deleted: stale {r['recall_after_delete_stale_index']:.3f} "
              f"rebuilt {r['recall_after_delete_rebuilt']:.3f} | "
              f"qps ef64 {r['qps_ef64']:.0f} vs exact {r['qps_exact']:.0f} "
              f"(x{r['qps_ef64'] / r['qps_exact']:.1f}) | build {r['build_s']:.1f} s", flush=True)
    print("recall-json: " + json.dumps(rows))
    results = os.environ.get("VEXFS_RESULTS")
    if results:
        with open(os.path.join(results, "recall.json"), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
