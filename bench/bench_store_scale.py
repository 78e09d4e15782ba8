"""Feature store at scale: listing and sampling a synthetic store of 10k and 100k entries.

Run: ``python bench/bench_store_scale.py [--sizes 10000 100000]``. Writes
``bench/results/store_scale.json``.

Each entry is a real ``.npy`` file under the store's content-hash tree, but
tiny (``(2, 8, 4)`` float32) and written with ``np.save`` directly (no fsync):
the point is the number of entries, not their size. For each size:

* ``write_s``: creating the entries;
* ``walk_s``: listing by a directory walk (``FeatureStore.digests()``), what
  every listing would cost without the manifest;
* ``manifest_rebuild_s``: walk + writing ``manifest.npy``, done once;
* ``list_s``: reading the manifest (what a listing costs afterwards);
* ``sample_mmap_s`` / ``sample_read_s``: ``FeatureStore.sample(1000)`` with
  memory-mapped / fully read entries, then stacking them into one batch;
* ``heap_peak_mib``: tracemalloc peak over list + sample + stack (Python heap;
  mapped pages are page cache and not counted), and ``rss_growth_mib``: the
  process's resident-set growth over the same steps.

The store at 100k entries is exactly as large as the manifest says and the
sample reads 1000 of them, so time and memory of listing and sampling should
not grow with the store beyond the manifest (32 bytes per entry).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import timeit, write_result  # noqa: E402

ENTRY_SHAPE = (2, 8, 4)
N_SAMPLE = 1000


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_synthetic_store(store, n: int, rng: np.random.Generator) -> np.ndarray:  # noqa: ANN001
    """Write ``n`` tiny entries (every value = the entry's position); return their digests."""
    raw = rng.bytes(16 * n)
    digests = [raw[16 * i : 16 * (i + 1)].hex() for i in range(n)]
    for sub in {d[:2] for d in digests}:
        (store.folder / sub).mkdir(parents=True, exist_ok=True)
    a = np.empty(ENTRY_SHAPE, dtype=np.float32)
    for i, d in enumerate(digests):
        a.fill(i)
        np.save(store.path_for(d), a, allow_pickle=False)
    return np.array(digests, dtype="S32")


def measure(n: int, workdir: Path) -> dict:
    from musictag_core.config import PipelineConfig
    from musictag_core.store import FeatureStore

    store = FeatureStore(pipeline=PipelineConfig(), root=workdir / f"store{n}")
    t0 = time.perf_counter()
    write_synthetic_store(store, n, np.random.default_rng(0))
    write_s = time.perf_counter() - t0

    walk = timeit(lambda: sum(1 for _ in store.digests()), repeat=3)
    t0 = time.perf_counter()
    store.manifest(refresh=True)
    rebuild_s = time.perf_counter() - t0
    listing = timeit(store.manifest, repeat=5)
    seeds = iter(range(100))
    sample_mmap = timeit(lambda: np.stack(store.sample(N_SAMPLE, rng=np.random.default_rng(next(seeds)))[1]), repeat=3)
    sample_read = timeit(
        lambda: np.stack(store.sample(N_SAMPLE, rng=np.random.default_rng(next(seeds)), mmap_mode=None)[1]), repeat=3
    )

    rss0 = _rss_mib()
    tracemalloc.start()
    listed = store.manifest()
    batch = np.stack(store.sample(N_SAMPLE, rng=np.random.default_rng(1000))[1])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = _rss_mib() - rss0
    assert len(listed) == n and batch.shape == (N_SAMPLE, *ENTRY_SHAPE)
    size = sum(f.stat().st_blocks * 512 for f in store.folder.glob("*/*.npy"))
    shutil.rmtree(store.root)
    return {
        "entries": n,
        "entry_shape": list(ENTRY_SHAPE),
        "disk_mib": round(size / 2**20, 1),
        "manifest_kib": round(listed.nbytes / 1024, 1),
        "write_s": round(write_s, 2),
        "walk_s": walk,
        "manifest_rebuild_s": round(rebuild_s, 3),
        "list_s": listing,
        "sample": N_SAMPLE,
        "sample_mmap_s": sample_mmap,
        "sample_read_s": sample_read,
        "heap_peak_mib": round(peak / 2**20, 2),
        "rss_growth_mib": round(rss_growth, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        runs = [measure(n, Path(tmp)) for n in args.sizes]
    write_result(
        "store_scale",
        {
            "what": "FeatureStore listing and random sampling on synthetic stores (one .npy per entry, "
            "content-hash tree); times in seconds, warm page cache",
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
