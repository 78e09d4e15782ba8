"""The feature store's manifest and sampling, small and at 100k entries.

The slow test builds a synthetic store of 100,000 real entry files (tiny
``(2, 8, 4)`` float32 arrays, written with ``np.save`` directly: the atomic,
fsynced ``FeatureStore.save`` would take minutes for 100k files) and checks that
listing and sampling read only the manifest and the drawn entries: results are
exact and the Python heap peak (tracemalloc) stays at a few MB. Times are
printed, never asserted; ``bench/bench_store_scale.py`` records them.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from musictag_core.config import AudioConfig, FeatureConfig, PipelineConfig, segment_preset
from musictag_core.errors import ParameterError
from musictag_core.store import MANIFEST_NAME, FeatureStore, extract_paths

from .helpers import write_tone

PIPE = PipelineConfig(
    audio=AudioConfig(duration=30.0),
    segments=segment_preset("patches3"),
    features=FeatureConfig(kind="mfcc"),
)
ENTRY_SHAPE = (2, 8, 4)


def write_synthetic_store(store: FeatureStore, n: int, rng: np.random.Generator) -> np.ndarray:
    """Write ``n`` entries whose every value is the entry's position; return the digests [shape=(n,), 'S32']."""
    raw = rng.bytes(16 * n)
    digests = [raw[16 * i : 16 * (i + 1)].hex() for i in range(n)]
    for sub in {d[:2] for d in digests}:
        (store.folder / sub).mkdir(parents=True, exist_ok=True)
    a = np.empty(ENTRY_SHAPE, dtype=np.float32)
    for i, d in enumerate(digests):
        a.fill(i)
        np.save(store.path_for(d), a, allow_pickle=False)
    return np.array(digests, dtype="S32")


@pytest.fixture
def files(tmp_path):
    return [write_tone(tmp_path / f"t{i}.wav", freq=220.0 * (i + 1), duration=2.0 + i) for i in range(3)]


def test_extraction_writes_and_merges_the_manifest(tmp_path, files):
    root = tmp_path / "cache"
    first = extract_paths(files[:2], pipeline=PIPE, root=root, n_jobs=1)
    store = first.store
    assert store.manifest_path.name == MANIFEST_NAME and store.manifest_path.exists()
    assert sorted(store.manifest().astype(str)) == sorted(first.digests)
    second = extract_paths(files[1:], pipeline=PIPE, root=root, n_jobs=1)
    assert (second.n_cached, second.n_computed) == (1, 1)
    listed = store.manifest()
    assert listed.dtype == np.dtype("S32") and np.all(listed[:-1] < listed[1:])  # sorted, unique
    assert set(listed.astype(str)) == set(first.digests) | set(second.digests) == set(store.digests())
    assert len(store) == 3


def test_manifest_is_rebuilt_when_missing_or_asked(tmp_path, files):
    r = extract_paths(files, pipeline=PIPE, root=tmp_path / "c", n_jobs=1)
    store = r.store
    store.manifest_path.unlink()
    assert sorted(store.manifest().astype(str)) == sorted(r.digests)  # rebuilt by a walk ...
    assert store.manifest_path.exists()  # ... and written
    store.path_for(r.digests[0]).unlink()
    assert len(store.manifest()) == 3  # stale until refreshed
    assert sorted(store.manifest(refresh=True).astype(str)) == sorted(r.digests[1:])
    # a temporary file of an unfinished write is not an entry
    (store.path_for(r.digests[1]).parent / ".tmp-abc.npy").write_bytes(b"partial")
    assert ".tmp-abc" not in set(store.digests())
    assert len(FeatureStore(pipeline=PIPE, root=tmp_path / "empty").manifest()) == 0


def test_sample_reads_the_drawn_entries(tmp_path, rng):
    store = FeatureStore(pipeline=PIPE, root=tmp_path)
    digests = write_synthetic_store(store, 50, rng)
    position = {d: i for i, d in enumerate(digests)}
    drawn, arrays = store.sample(10, rng=np.random.default_rng(1))
    again, _ = store.sample(10, rng=np.random.default_rng(1))
    assert len(set(drawn.tolist())) == 10 and np.array_equal(drawn, again)
    for d, a in zip(drawn, arrays):
        assert isinstance(a, np.memmap) and a.shape == ENTRY_SHAPE
        assert np.all(a == position[d])
    _, loaded = store.sample(50, rng=rng, mmap_mode=None)
    assert not isinstance(loaded[0], np.memmap)
    # an entry removed after the manifest was written is left out, not an error
    store.path_for(drawn[0].decode()).unlink()
    kept, arrays = store.sample(50, rng=rng)
    assert len(kept) == len(arrays) == 49 and drawn[0] not in set(kept.tolist())


@pytest.mark.parametrize("n", [0, 51, 2.5, True])
def test_sample_validates_n_and_rng(tmp_path, rng, n):
    store = FeatureStore(pipeline=PIPE, root=tmp_path)
    write_synthetic_store(store, 50, rng)
    with pytest.raises(ParameterError, match=r"n must be an int in 1\.\.50"):
        store.sample(n, rng=rng)
    with pytest.raises(ParameterError, match="Generator"):
        store.sample(1, rng=0)


@pytest.mark.slow
def test_100k_entries_list_and_sample_in_bounded_memory(tmp_path):
    n = 100_000
    store = FeatureStore(pipeline=PIPE, root=tmp_path)
    t0 = time.perf_counter()
    digests = write_synthetic_store(store, n, np.random.default_rng(0))
    t_write = time.perf_counter() - t0
    position = {d: i for i, d in enumerate(digests.tolist())}

    t0 = time.perf_counter()
    walked = store.manifest(refresh=True)  # one walk of the tree, then written
    t_walk = time.perf_counter() - t0
    assert np.array_equal(walked, np.sort(digests))

    tracemalloc.start()
    t0 = time.perf_counter()
    listed = store.manifest()
    t_list = time.perf_counter() - t0
    t0 = time.perf_counter()
    drawn, arrays = store.sample(1000, rng=np.random.default_rng(1))
    batch = np.stack(arrays)  # what a training batch reads
    t_sample = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert len(listed) == n and batch.shape == (1000, *ENTRY_SHAPE)
    assert len(set(drawn.tolist())) == 1000
    assert all(np.all(batch[j] == position[d]) for j, d in enumerate(drawn.tolist()))
    # the 3.2 MB manifest is memory-mapped, not copied; 1000 memory maps and the batch are ~2 MB
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    print(
        f"\n100k store: write {t_write:.1f} s, walk+manifest {t_walk:.2f} s, list {t_list * 1e3:.1f} ms, "
        f"sample 1000 {t_sample * 1e3:.0f} ms, heap peak {peak / 2**20:.1f} MiB"
    )
