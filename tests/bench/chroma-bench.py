#!/usr/bin/python3
"""Chroma through its HTTP API on the 10k x 1,536 cosine data (make chroma-bench).

Usage: chroma-bench.py CHROMA_BIN DATA_DIR BASE.fvecs QUERY.fvecs [--port P] [--json FILE]
Runs a Chroma server (`CHROMA_BIN run`, the npm package's CLI; see
tests/bench/run-chroma.sh) on a loopback port over DATA_DIR, then
creates a collection (cosine, M 16 as max_neighbors, efConstruction 200),
adds the base vectors in batches and times it, then for each ef_search
runs the queries one at a time from this single client thread and
measures recall@10 against exact ground truth (numpy) and queries per
second of wall clock, best of three rounds. A changed ef_search takes
effect when the server loads the index again, so the server is restarted
after each change (and the collection's configuration checked). Every figure includes HTTP
and JSON on both sides; the heartbeat's round trip is measured too, as
the floor any request pays. The CPU time the server process spent (all
its threads, /proc/PID/stat) is measured over the same spans: on a shared machine that is the figure to compare with CPU-time
benchmarks, as it does not count time the server waited for a CPU.
"""
import os
import subprocess
import argparse
import http.client
import json
import time
import urllib.parse

import numpy as np

K = 10
EFS = (10, 16, 32, 64, 128, 256)
ROUNDS = 3
COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    return raw.reshape(-1, dim + 1)[:, 1:].view(np.float32).copy()


class Chroma:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 300:
            raise SystemExit(f"chroma-bench: {method} {path}: HTTP {r.status}: {text[:300]!r}")
        return json.loads(text) if text else None


class Server:
    """A Chroma server on 127.0.0.1:port over data; its CPU clock."""

    def __init__(self, binary, data, port):
        self.cmd = [binary, "run", "--host", "127.0.0.1", "--port", str(port), "--path", data]
        self.log = open(os.path.join(data, "..", os.path.basename(data) + ".log"), "a")
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None
        self.tick = os.sysconf("SC_CLK_TCK")

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if self.proc.poll() is not None:
                raise SystemExit(f"chroma-bench: the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", int(self.url.rsplit(":", 1)[1]), timeout=2)
                c.request("GET", "/api/v2/heartbeat")
                if c.getresponse().status == 200:
                    return Chroma(self.url)
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("chroma-bench: the server did not answer in 60 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu(self):
        """CPU seconds of the server process, all threads."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick


def exact_truth(base, queries):
    sims = queries @ base.T  # unit vectors: cosine is the inner product
    return np.argsort(-sims, axis=1)[:, :K]


def insert(chroma, coll, base, batch):
    t = time.perf_counter()
    for lo in range(0, len(base), batch):
        rows = base[lo:lo + batch]
        chroma.call("POST", f"{COLLECTIONS}/{coll}/add", {
            "ids": [str(i) for i in range(lo, lo + len(rows))],
            "embeddings": rows.tolist(),
        })
    return time.perf_counter() - t


def query_round(chroma, coll, queries):
    found = []
    t = time.perf_counter()
    for q in queries:
        r = chroma.call("POST", f"{COLLECTIONS}/{coll}/query", {
            "query_embeddings": [q.tolist()], "n_results": K, "include": ["distances"],
        })
        found.append([int(i) for i in r["ids"][0]])
    return time.perf_counter() - t, found


def recall(found, truth):
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / (K * len(truth))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chroma")
    ap.add_argument("data")
    ap.add_argument("base")
    ap.add_argument("query")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--json")
    a = ap.parse_args()
    base, queries = read_fvecs(a.base), read_fvecs(a.query)
    truth = exact_truth(base, queries)
    server = Server(a.chroma, a.data, a.port)
    try:
        run(server, base, queries, truth, a.json)
    finally:
        server.stop()


def run(server, base, queries, truth, json_path):
    chroma = server.start()
    cpu = server.cpu
    out = {"engine": "chroma", "version": chroma.call("GET", "/api/v2/version"),
           "n": len(base), "dim": base.shape[1], "queries": len(queries), "k": K}
    batch = min(500, chroma.call("GET", "/api/v2/pre-flight-checks").get("max_batch_size", 500))
    name = f"bench{int(time.time())}"
    coll = chroma.call("POST", COLLECTIONS, {
        "name": name,
        "configuration": {"hnsw": {"space": "cosine", "max_neighbors": 16,
                                   "ef_construction": 200, "ef_search": 64}},
    })["id"]
    c0 = cpu()
    out["insert_s"] = insert(chroma, coll, base, batch)
    out["insert_server_cpu_s"] = cpu() - c0
    out["insert_per_s"] = len(base) / out["insert_s"]
    out["batch"] = batch
    count = chroma.call("GET", f"{COLLECTIONS}/{coll}/count")
    print(f"chroma {out['version']}: {count} vectors added in {out['insert_s']:.1f} s "
          f"({out['insert_per_s']:.0f}/s, batches of {batch}); server CPU "
          f"{out['insert_server_cpu_s']:.1f} s", flush=True)
    t = time.perf_counter()
    query_round(chroma, coll, queries[:1])
    out["first_query_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(200):
        chroma.call("GET", "/api/v2/heartbeat")
    out["heartbeat_per_s"] = 200 / (time.perf_counter() - t)
    out["curve"] = []
    for ef in EFS:
        chroma.call("PUT", f"{COLLECTIONS}/{coll}",
                    {"new_configuration": {"hnsw": {"ef_search": ef}}})
        server.stop()
        chroma = server.start()
        conf = chroma.call("GET", f"{COLLECTIONS}/{name}")["configuration_json"]["hnsw"]
        if conf.get("ef_search") != ef:
            raise SystemExit(f"chroma-bench: ef_search is {conf.get('ef_search')} after setting {ef}")
        best, best_cpu, found = None, None, None
        for _ in range(ROUNDS):
            c0 = cpu()
            s, found = query_round(chroma, coll, queries)
            c = cpu() - c0
            best = s if best is None else min(best, s)
            best_cpu = c if best_cpu is None else min(best_cpu, c)
        p = {"ef": ef, "recall": recall(found, truth), "qps": len(queries) / best,
             "server_cpu_s_per_query": best_cpu / len(queries)}
        out["curve"].append(p)
        print(f"  ef_search {ef:4d}: recall@10 {p['recall']:.4f}, {p['qps']:.0f} queries/s, "
              f"server CPU {p['server_cpu_s_per_query'] * 1e6:.0f} us/query", flush=True)
    print(f"  heartbeat round trips: {out['heartbeat_per_s']:.0f}/s; first query after the "
          f"insert {out['first_query_s'] * 1000:.0f} ms")
    print("chroma-json: " + json.dumps(out))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
