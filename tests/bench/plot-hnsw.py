#!/usr/bin/python3
"""Recall-vs-QPS curves from hnswbench's JSON (make hnsw-peers).

Usage: plot-hnsw.py HNSWBENCH.json OUT.png
One panel per data set: recall@10 across, queries per CPU second (one
thread, log scale) up, one line per engine, one point per ef. Needs
matplotlib (Debian python3-matplotlib; scripts/setup.sh installs it).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"vexfs": ("C3", "o"), "hnswlib": ("C0", "s"), "faiss": ("C2", "^"), "usearch": ("C1", "D")}
TITLES = {"sift5k": "sift5k (4,900 x 128, L2)",
          "gen1536": "generated 10k x 1,536, cosine",
          "fashion10k": "fashion-mnist 10k x 784, L2",
          "clustered10k": "generated 10k x 128, inner product"}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1]) as f:
        bench = json.load(f)
    sets = bench["sets"]
    if not sets:
        raise SystemExit(f"{sys.argv[1]}: no data sets")
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 4.4), squeeze=False)
    for ax, s in zip(axes[0], sets):
        for r in s["results"]:
            colour, marker = STYLE.get(r["engine"], ("k", "x"))
            pts = [p for p in r["curve"] if p["qps"] > 0]
            ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], color=colour,
                    marker=marker, markersize=4, label=r["engine"])
        ax.set_yscale("log")
        ax.set_xlim(left=max(0.0, min(p["recall"] for r in s["results"] for p in r["curve"]) - 0.01),
                    right=1.001)
        for target in (0.95, 0.99):
            ax.axvline(target, color="grey", linewidth=0.6, linestyle=":")
        ax.set_title(TITLES.get(s["dataset"], s["dataset"]), fontsize=10)
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries / CPU second (1 thread)")
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"HNSW, M {sets[0]['M']}, efConstruction {sets[0]['ef_construction']}: "
                 "ef from 10 to 256 along each line", fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"plot-hnsw: wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
