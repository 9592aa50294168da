#!/usr/bin/env python3
"""Recall of the kernel's HNSW search against its exact search, per dataset.

Runs in the guest on a mounted VexFS (argument: mount point). For each
dataset: import the base vectors, have vexfsd build and publish the index
(`vexfsctl index build --wait` through $VEXFSD_SOCKET; without a daemon
vexfsctl builds it itself with the same builder), then for every query compare the
indexed search's top 10 with the exact search's (VEXFS_SEARCH_EXACT,
itself checked against SIFT's published ground truth in the tests). Then
delete 20% of the files and measure again, on the stale index and after a
rebuild. Prints a table and JSON. VEXFS_RECALL_SETS (space-separated
names) picks datasets; default: all but fashion-mnist-60k.
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
    ("fashion-mnist-60k", "l2", os.path.join(DATA, "fashion60k_base.fvecs"), os.path.join(DATA, "fashion_query.fvecs")),
]
DEFAULT_SETS = "sift5k fashion-mnist-10k gen-10k-1536-cosine"


def ctl(*args):
    return subprocess.run([CTL, *args], check=True, capture_output=True, text=True).stdout


def build_index(coll):
    """Through vexfsd when one answers on $VEXFSD_SOCKET; returns seconds."""
    t = time.perf_counter()
    ctl("index", "build", coll, *(["--wait"] if os.environ.get("VEXFSD_SOCKET") else []))
    return time.perf_counter() - t


def exact_answers(dirfd, queries, k=10):
    """The exact top k of each query, and queries per second."""
    t = time.perf_counter()
    answers = [{r[0] for r in vx.search(dirfd, q, k, flags=vx.SEARCH_EXACT)[0]} for q in queries]
    return answers, len(queries) / (time.perf_counter() - t)


def measure(dirfd, queries, exact, k=10, ef=0):
    """Recall@k of the indexed search against exact answers, and its QPS."""
    hits = 0
    t = time.perf_counter()
    got = [vx.search(dirfd, q, k, ef=ef)[0] for q in queries]
    qps = len(queries) / (time.perf_counter() - t)
    for want, g in zip(exact, got):
        hits += len(want & {r[0] for r in g})
    return hits / (k * len(queries)), qps


def progress(out):
    """Each phase's figures as they come: a run cut short keeps them."""
    print("recall-partial: " + json.dumps(out), flush=True)


def run(mnt, name, metric, base, query):
    coll = os.path.join(mnt, name)
    queries = vx.read_vecs(query, "f")
    dim = len(queries[0])
    ctl("collection", "create", coll, "--dim", str(dim), "--metric", metric)
    t = time.perf_counter()
    ctl("import", "-q", coll, base)
    t_import = time.perf_counter() - t
    print(f"recall-partial: {name}: {t_import:.1f} s to import", flush=True)
    t_build = build_index(coll)
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    out = {"dataset": name, "metric": metric, "dim": dim,
           "vectors": vx.get_collection(fd)["count"], "import_s": t_import, "build_s": t_build}
    progress(out)
    exact, out["qps_exact"] = exact_answers(fd, queries)
    for ef in (64, 16, 128):
        out[f"recall_ef{ef}"], out[f"qps_ef{ef}"] = measure(fd, queries, exact, ef=ef)
        progress(out)
    names = sorted(os.listdir(coll))
    random.Random(20).shuffle(names)
    for n in names[: len(names) // 5]:
        os.unlink(os.path.join(coll, n))
    exact, _ = exact_answers(fd, queries)
    out["recall_after_delete_stale_index"] = measure(fd, queries, exact)[0]
    progress(out)
    out["rebuild_s"] = build_index(coll)
    out["recall_after_delete_rebuilt"] = measure(fd, queries, exact)[0]
    os.close(fd)
    return out


def main():
    mnt = sys.argv[1]
    rows = []
    wanted = os.environ.get("VEXFS_RECALL_SETS", DEFAULT_SETS).split()
    for name, metric, base, query in DATASETS:
        if name not in wanted:
            continue
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
              f"(x{r['qps_ef64'] / r['qps_exact']:.1f}) | import {r['import_s']:.1f} s "
              f"build {r['build_s']:.1f} s", flush=True)
    print("recall-json: " + json.dumps(rows))
    results = os.environ.get("VEXFS_RESULTS")
    if results:
        with open(os.path.join(results, "recall.json"), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
