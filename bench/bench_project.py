"""Projection and separability speed: PCA, UMAP, t-SNE on 1k and 10k points of 26 and 200 dims.

Run: ``python bench/bench_project.py [--quick]``. Writes ``bench/results/project.json``.

Data: ``make_blobs`` with 10 centres (float64). Every method runs in its own
fresh Python process, so "first" is the first fit in a process (UMAP: including
numba compilation) and "warm" is a second fit of the same data in the same
process with the projection cache off. Sizes run in the order 1k x 26,
1k x 200, 10k x 26, 10k x 200 (UMAP compiles its NN-descent code on the first
input above 4096 points, so the first 10k fit pays that).

* ``pca``: ours (``StandardScaler`` + ``PCA`` pipeline) against a naive full
  SVD of the standardised matrix (``np.linalg.svd``).
* ``umap``: seeded (single-threaded, reproducible) as the app runs it; plus
  ``umap_fresh_10k``: 10k x 26 as the first fit of a fresh process, with and
  without :func:`warm_up_umap` first, and the import time.
* ``tsne``: scikit-learn's Barnes-Hut; each fit is capped at ``TSNE_CAP_S``
  (a fit that runs longer is recorded as ``"timeout"``); at 10k only one fit
  is made (t-SNE has no compilation, first = warm).
* ``cache``: a disk-cache hit of a 10k x 200 UMAP from a fresh cache object.
* ``separability``: our LOO k-NN (one neighbour query) against
  ``cross_val_predict(KNeighborsClassifier(5), cv=LeaveOneOut())`` at 1k, and
  the full :func:`separability` at 10k.

The machine is shared and was loaded by other jobs; the load average at start
and end is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result  # noqa: E402

SIZES = [(1000, 26), (1000, 200), (10000, 26), (10000, 200)]
TSNE_CAP_S = 300
WORKER_CAP_S = 1500


def blobs(n: int, d: int):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, n_features=d, centers=10, cluster_std=4.0, random_state=0)
    return X, np.array([f"g{i}" for i in y], dtype=object)


def _t(fn):
    t0 = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - t0, 3), out


def worker(kind: str, sizes: list[tuple[int, int]]) -> dict:
    """Runs in a fresh process; returns the timings."""
    from musictag_core.explore import ProjectionConfig, project

    res: dict = {}
    if kind == "pca":
        from sklearn.preprocessing import StandardScaler

        for n, d in sizes:
            X, _ = blobs(n, d)
            cfg = ProjectionConfig(method="pca")
            first, _ = _t(lambda: project(X, config=cfg, cache=False))
            warm, _ = _t(lambda: project(X, config=cfg, cache=False))
            naive, _ = _t(lambda: np.linalg.svd(StandardScaler().fit_transform(X), full_matrices=False))
            res[f"{n}x{d}"] = {"first_s": first, "warm_s": warm, "naive_full_svd_s": naive}
    elif kind == "umap":
        from musictag_core.explore import import_umap

        res["import_s"], _ = _t(import_umap)
        for n, d in sizes:
            X, _ = blobs(n, d)
            cfg = ProjectionConfig(method="umap", seed=0)
            first, _ = _t(lambda: project(X, config=cfg, cache=False))
            warm, _ = _t(lambda: project(X, config=cfg, cache=False))
            res[f"{n}x{d}"] = {"first_s": first, "warm_s": warm}
            if n == 10000 and d == 26:
                unseeded, _ = _t(lambda: project(X, config=cfg.replace(seed=None), cache=False))
                res[f"{n}x{d}"]["warm_unseeded_parallel_s"] = unseeded
    elif kind in ("umap_fresh", "umap_fresh_warmed"):
        from musictag_core.explore import import_umap, warm_up_umap

        res["import_s"], _ = _t(import_umap)
        if kind == "umap_fresh_warmed":
            res["warm_up_umap_s"], _ = _t(warm_up_umap)
        X, _ = blobs(10000, 26)
        cfg = ProjectionConfig(method="umap", seed=0)
        res["first_fit_s"], _ = _t(lambda: project(X, config=cfg, cache=False))
    elif kind == "tsne":
        for n, d in sizes:
            X, _ = blobs(n, d)
            cfg = ProjectionConfig(method="tsne", seed=0)
            first, _ = _t(lambda: project(X, config=cfg, cache=False))
            entry = {"first_s": first}
            if n <= 1000:
                entry["warm_s"], _ = _t(lambda: project(X, config=cfg, cache=False))
            res[f"{n}x{d}"] = entry
    elif kind == "cache":
        import tempfile

        from musictag_core.explore import ProjectionCache

        X, _ = blobs(10000, 200)
        cfg = ProjectionConfig(method="umap", seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            res["fit_and_store_s"], _ = _t(lambda: project(X, config=cfg, cache=ProjectionCache(directory=tmp)))
            res["disk_hit_fresh_cache_s"], hit = _t(lambda: project(X, config=cfg, cache=ProjectionCache(directory=tmp)))
            assert hit.from_cache
        res["note"] = "a disk hit hashes the 16 MB input and reads the coordinates; it does not import UMAP"
    elif kind == "separability":
        from sklearn.model_selection import LeaveOneOut, cross_val_predict
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.preprocessing import StandardScaler

        from musictag_core.explore import loo_knn_predict, separability

        X, y = blobs(1000, 26)
        Z = StandardScaler().fit_transform(X)
        ours, pred = _t(lambda: loo_knn_predict(Z, y, k=5))
        naive, ref = _t(lambda: cross_val_predict(KNeighborsClassifier(5), Z, y, cv=LeaveOneOut()))
        res["loo_knn_1000x26"] = {"ours_s": ours, "naive_cross_val_predict_s": naive,
                                  "speedup": round(naive / ours, 1), "identical": bool((pred == ref).all())}
        for n, d in [(10000, 26), (10000, 200)]:
            X, y = blobs(n, d)
            res[f"separability_{n}x{d}_s"], _ = _t(lambda: separability(X, y))
    return res


def run_worker(kind: str, sizes, cap: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--sizes", json.dumps(sizes)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=cap, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"timeout": f"> {cap} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout)[-2000:]}
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--sizes")
    ap.add_argument("--quick", action="store_true", help="1k sizes only")
    args = ap.parse_args()
    if args.worker:
        sizes = [tuple(s) for s in json.loads(args.sizes)]
        print(json.dumps(worker(args.worker, sizes)))
        return
    sizes = [s for s in SIZES if not args.quick or s[0] <= 1000]
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    result: dict = {"data": "make_blobs, 10 centres, float64", "sizes": [f"{n}x{d}" for n, d in sizes]}
    for kind in ("pca", "separability", "umap", "umap_fresh", "umap_fresh_warmed", "cache"):
        if args.quick and kind in ("umap_fresh", "umap_fresh_warmed", "cache"):
            continue
        print(f"running {kind} ...", file=sys.stderr, flush=True)
        result[kind] = run_worker(kind, sizes, WORKER_CAP_S)
    tsne: dict = {}
    for n, d in sizes:  # one process per size, so one slow fit cannot starve the others
        print(f"running tsne {n}x{d} ...", file=sys.stderr, flush=True)
        cap = TSNE_CAP_S * (2 if n <= 1000 else 1)
        out = run_worker("tsne", [(n, d)], cap)
        tsne.update(out if "timeout" not in out else {f"{n}x{d}": {"first_s": f"timeout (> {cap} s)"}})
    result["tsne"] = {"cap_s": TSNE_CAP_S, **tsne}
    u = result.get("umap", {}).get("10000x26", {})
    result["target_warm_umap_10k_x_26_lt_20s"] = (
        bool(u.get("warm_s", 1e9) < 20) if isinstance(u.get("warm_s"), (int, float)) else None
    )
    result["load_average_start_end"] = [round(load_start[0], 2), round(os.getloadavg()[0], 2)]
    result["total_s"] = round(time.perf_counter() - t0, 1)
    write_result("project", result)


if __name__ == "__main__":
    main()
