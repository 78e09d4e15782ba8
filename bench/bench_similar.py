"""Similarity index at scale: faiss-cpu against usearch on synthetic embeddings, then 1M for the chosen one.

Run: ``python bench/bench_similar.py [--sizes 10000 100000] [--libraries usearch faiss] [--million]``.
Writes ``bench/results/similar.json``, merging the rows it measures into those already there
(``--sizes`` with no value and ``--million`` adds only 1M vectors for faiss, the library musictag uses).

Vectors are 200-d (musicnn's penultimate embedding) from a Gaussian mixture clustered like real
embeddings: 64 clusters of unequal weight (Dirichlet), each spread along its own 12-d subspace
plus a little isotropic noise, then L2-normalised. Both libraries build the same kind of graph
(HNSW, 16 links per node, 128 candidates while adding, 64 while searching) under the cosine metric,
so their distances are ``1 - cos`` like the exact oracle's.

Each (library, size) runs in its own subprocess so that memory is measured cleanly:

* ``build_s``: adding every vector to an empty index (all cores), wall-clock; ``build_cpu_s``: the CPU
  seconds it took (all threads), which does not grow when other processes share the machine;
  ``load_average``: the machine's 1-minute load average when the row finished;
* ``rss_growth_mib``: the process's resident-set growth over the build (the vectors themselves
  are allocated before); ``index_mib``: the saved index's size on disk;
* ``query_p50_ms`` / ``query_p95_ms``: one query at a time (what ``musictag similar`` does), 500 queries
  drawn from the data (each then finds itself first);
* ``exact_p50_ms``: the exact search of the same queries by one matrix product (NumPy, the baseline);
* ``recall_at_10``: the fraction of the exact 10 nearest neighbours the approximate index returns,
  over 500 queries (the issue asks for at least 0.95);
* ``load_mmap_s``: opening the saved index by memory-map (usearch ``view``, faiss ``IO_FLAG_MMAP_IFC``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result  # noqa: E402

DIM = 200
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64
N_QUERIES = 500
K = 10
#: The library musictag's index uses (musictag_core.similarity.vectors), chosen on these figures.
CHOSEN = "faiss"


def mixture(n: int, *, dim: int = DIM, n_clusters: int = 64, sub_dim: int = 12, seed: int = 0) -> np.ndarray:
    """``n`` L2-normalised float32 vectors [shape=(n, dim)] from a clustered Gaussian mixture."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_clusters, 2.0))
    which = rng.choice(n_clusters, size=n, p=weights)
    centres = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    bases = rng.normal(size=(n_clusters, sub_dim, dim)).astype(np.float32) * 0.35
    X = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for a in range(0, n, step):
        w = which[a : a + step]
        z = rng.normal(size=(len(w), sub_dim)).astype(np.float32)
        X[a : a + step] = centres[w] + np.einsum("ns,nsd->nd", z, bases[w]) + 0.05 * rng.normal(size=(len(w), dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _exact(X: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    ids = np.empty((len(Q), k), dtype=np.int64)
    for a in range(0, len(Q), 50):
        s = Q[a : a + 50] @ X.T
        part = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
        ids[a : a + 50] = np.take_along_axis(part, order, axis=1)
    return ids


def run_one(library: str, n: int) -> dict:
    """Build, save, reload and query one index; the measurements of one row."""
    X = mixture(n)
    rng = np.random.default_rng(1)
    qi = rng.choice(n, size=N_QUERIES, replace=False)
    Q = X[qi]
    truth = _exact(X, Q, K)
    rss0 = _rss_mib()
    tmp = Path(tempfile.mkdtemp(prefix="bench_similar_"))
    path = tmp / "index.bin"
    if library == "usearch":
        from usearch.index import Index

        t0, c0 = time.perf_counter(), time.process_time()
        index = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=CONNECTIVITY,
                      expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)
        index.add(np.arange(n, dtype=np.uint64), X)
        build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
        rss1 = _rss_mib()
        index.save(str(path))
        del index
        t0 = time.perf_counter()
        index = Index.restore(str(path), view=True)
        load_s = time.perf_counter() - t0

        def search(q):
            m = index.search(q, K)
            return np.asarray(m.keys, dtype=np.int64), np.asarray(m.distances)
    elif library == "faiss":
        import faiss

        t0, c0 = time.perf_counter(), time.process_time()
        index = faiss.IndexHNSWFlat(DIM, CONNECTIVITY, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EXPANSION_ADD
        index.add(X)
        build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
        rss1 = _rss_mib()
        faiss.write_index(index, str(path))
        del index
        t0 = time.perf_counter()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        load_s = time.perf_counter() - t0
        index.hnsw.efSearch = EXPANSION_SEARCH

        def search(q):
            s, i = index.search(q[None, :], K)
            return i[0].astype(np.int64), 1.0 - s[0]
    else:
        raise SystemExit(f"unknown library {library!r}")
    lat, found = [], []
    for q in Q:
        t0 = time.perf_counter()
        ids, _ = search(q)
        lat.append(time.perf_counter() - t0)
        found.append(ids)
    recall = float(np.mean([len(set(f[:K].tolist()) & set(t.tolist())) / K for f, t in zip(found, truth)]))
    exact_lat = []
    for q in Q[:100]:
        t0 = time.perf_counter()
        s = X @ q
        np.argpartition(-s, K)[:K]
        exact_lat.append(time.perf_counter() - t0)
    size = path.stat().st_size
    path.unlink()
    tmp.rmdir()
    return {
        "library": library,
        "n": n,
        "dim": DIM,
        "build_s": round(build_s, 3),
        "build_cpu_s": round(build_cpu, 3),
        "load_average": round(os.getloadavg()[0], 1),
        "rss_growth_mib": round(rss1 - rss0, 1),
        "index_mib": round(size / 2**20, 1),
        "vectors_mib": round(X.nbytes / 2**20, 1),
        "load_mmap_s": round(load_s, 4),
        "query_p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 3),
        "query_p95_ms": round(float(np.percentile(lat, 95)) * 1e3, 3),
        "exact_p50_ms": round(float(np.percentile(exact_lat, 50)) * 1e3, 3),
        "recall_at_10": round(recall, 4),
        "settings": {"connectivity": CONNECTIVITY, "expansion_add": EXPANSION_ADD, "expansion_search": EXPANSION_SEARCH},
    }


def _version(library: str) -> str:
    if library == "usearch":
        import usearch

        return usearch.__version__
    import faiss

    return faiss.__version__


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--libraries", nargs="+", default=["usearch", "faiss"])
    ap.add_argument("--million", action="store_true", help=f"also 1M vectors for {CHOSEN} (the chosen library)")
    ap.add_argument("--one", nargs=2, metavar=("LIBRARY", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    import importlib.util

    missing = [lib for lib in args.libraries if importlib.util.find_spec(lib) is None]
    for lib in missing:  # usearch is not a dependency of musictag: `pip install usearch` to compare
        print(f"skipping {lib}: not installed (pip install {'faiss-cpu' if lib == 'faiss' else lib})", file=sys.stderr)
    rows = []
    jobs = [(lib, n) for n in args.sizes for lib in args.libraries if lib not in missing]
    if args.million:
        jobs.append((CHOSEN, 1_000_000))
    for lib, n in jobs:
        out = subprocess.run([sys.executable, __file__, "--one", lib, str(n)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["version"] = _version(lib)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    previous = {}
    result_path = Path(__file__).resolve().parent / "results" / "similar.json"
    if result_path.exists():
        previous = {(r["library"], r["n"]): r for r in json.loads(result_path.read_text()).get("rows", [])}
    for r in rows:
        previous[(r["library"], r["n"])] = r
    merged = sorted(previous.values(), key=lambda r: (r["n"], r["library"]))
    ratios = {}
    for n in sorted({r["n"] for r in merged}):
        by = {r["library"]: r for r in merged if r["n"] == n}
        if "usearch" in by and "faiss" in by:
            ratios[str(n)] = {
                "build_faiss_over_usearch": round(by["faiss"]["build_s"] / by["usearch"]["build_s"], 2),
                "build_cpu_faiss_over_usearch": round(by["faiss"]["build_cpu_s"] / by["usearch"]["build_cpu_s"], 2)
                if by["faiss"].get("build_cpu_s") and by["usearch"].get("build_cpu_s") else None,
                "query_p50_faiss_over_usearch": round(by["faiss"]["query_p50_ms"] / by["usearch"]["query_p50_ms"], 2),
            }
    write_result("similar", {"chosen": CHOSEN, "rows": merged, "ratios": ratios})


if __name__ == "__main__":
    main()
