#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Index a folder of text files in a VexFS collection, then search it.

The embeddings are computed elsewhere (any model) and handed over as JSON
lines, one object per file, with the file's path relative to the folder
and its vector:

    {"path": "notes/fstab.txt", "vector": [0.12, -0.03, ...]}

    index_folder.py index COLLECTION FOLDER VECTORS.jsonl [--metric cosine]
    index_folder.py search COLLECTION (--like NAME | --vector X,Y,...) [-k 5]

`index` copies each text file into the collection (its path with "/"
turned into "__" is the name) and gives it its vector, so document and
embedding live in one file and cannot drift apart; re-running it replaces
the vectors of files already there. `search` prints the k nearest
documents, best first, with their distances: the query is either the
stored vector of a document (--like) or a vector given on the command
line. Exit status: 0, or 1 with a message on any error.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # python/, when run from the source tree

import vexfs  # noqa: E402


def entry_name(rel_path):
    """A flat, unique file name in the collection for a relative path."""
    norm = os.path.normpath(rel_path)
    if norm.startswith("..") or os.path.isabs(norm):
        raise ValueError("path %r leaves the folder" % rel_path)
    return norm.replace(os.sep, "__")


def read_vectors(jsonl):
    """(path, vector) of every line of the JSONL file."""
    with open(jsonl, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                yield obj["path"], obj["vector"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError("%s:%d: want {\"path\": ..., \"vector\": [...]} (%s)"
                                 % (jsonl, lineno, exc)) from None


def cmd_index(args):
    rows = list(read_vectors(args.vectors))
    if not rows:
        raise ValueError("%s holds no vectors" % args.vectors)
    dim = len(rows[0][1])
    with vexfs.open_collection(args.collection, dim=dim, metric=args.metric) as coll:
        for rel_path, vector in rows:
            with open(os.path.join(args.folder, rel_path), "rb") as f:
                text = f.read()
            coll.add(entry_name(rel_path), vector, data=text)
        stats = coll.stats()
    print("indexed %d documents of dimension %d; the collection holds %d vectors"
          % (len(rows), dim, stats.count))


def cmd_search(args):
    with vexfs.open_collection(args.collection, create=False) as coll:
        if args.like:
            query = coll.get(entry_name(args.like)).vector
        else:
            query = [float(x) for x in args.vector.split(",")]
        for hit in coll.search(query, k=args.k):
            name = coll.name_of(hit) or "(gone)"
            print("%.6f  %s" % (hit.distance, name.replace("__", "/")))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("index", help="copy the files in and give them their vectors")
    pi.add_argument("collection")
    pi.add_argument("folder")
    pi.add_argument("vectors", help="JSON lines of {\"path\", \"vector\"}")
    pi.add_argument("--metric", default="cosine", choices=["l2", "ip", "cosine"])
    ps = sub.add_parser("search", help="the nearest documents")
    ps.add_argument("collection")
    q = ps.add_mutually_exclusive_group(required=True)
    q.add_argument("--like", metavar="PATH", help="use this document's vector as the query")
    q.add_argument("--vector", metavar="X,Y,...", help="the query vector")
    ps.add_argument("-k", type=int, default=5)
    args = p.parse_args(argv)
    try:
        (cmd_index if args.command == "index" else cmd_search)(args)
    except (OSError, ValueError) as exc:
        print("index_folder: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
