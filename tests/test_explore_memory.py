"""explore.memory.ExploreCache: one bounded in-memory layer (datasets, matrices, results) over the disk caches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from musictag_core.explore import DatasetSource, ExploreCache, ProjectionConfig, explore


@pytest.fixture
def table_source(tmp_path):
    X, y = make_blobs(n_samples=60, n_features=4, centers=3, random_state=1)
    df = pd.DataFrame(X, columns=[f"feat{i}" for i in range(4)])
    df.insert(0, "filename", [f"t{i:03d}.wav" for i in range(60)])
    df["label"] = np.array(["jazz", "pop", "rock"], dtype=object)[y]
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    return DatasetSource(kind="table", path=str(path))


def test_each_level_is_computed_once_and_bounded(table_source, tmp_path):
    memory = ExploreCache(max_results=2)
    assert not memory.has_dataset(table_source)
    index = memory.dataset(table_source)
    assert memory.has_dataset(table_source) and memory.dataset(table_source) is index
    X, names, meta = memory.matrix(index, source_key=table_source.key(), space="table")
    X2, names2, _ = memory.matrix(index, source_key=table_source.key(), space="table")
    assert X.shape == (60, 4) and names == names2 == [f"feat{i}" for i in range(4)]
    np.testing.assert_array_equal(X, X2)
    assert not X2.flags.writeable  # shared between sessions: read-only

    calls = []

    def compute(seed: int):
        calls.append(seed)
        return explore(X, names, meta, config=ProjectionConfig(method="pca", seed=seed), cache=False)

    first = memory.result(("view", 0), lambda: compute(0))
    assert memory.result(("view", 0), lambda: compute(0)) is first and calls == [0]
    memory.result(("view", 1), lambda: compute(1))
    memory.result(("view", 2), lambda: compute(2))  # evicts the least recently used view
    assert memory.stats() == {"datasets": 1, "matrices": 1, "results": 2}
    memory.result(("view", 0), lambda: compute(0))
    assert calls == [0, 1, 2, 0]
    memory.clear()
    assert memory.stats() == {"datasets": 0, "matrices": 0, "results": 0}


def test_a_failed_computation_is_not_remembered(table_source):
    memory = ExploreCache()

    def boom():
        raise ValueError("no")

    with pytest.raises(ValueError):
        memory.result("k", boom)
    assert memory.stats()["results"] == 0


def test_results_are_bounded_by_bytes_not_only_by_count(table_source):
    """#13 memory creep: many large views must not pile up; the cache keeps what fits its byte budget."""
    X = np.zeros((2000, 1506))  # about 24 MB: a 1506-d embedding of 2000 points
    memory = ExploreCache(max_results=16, max_bytes=64 * 1024 * 1024)
    for i in range(10):
        memory.result(("view", i), lambda: {"X": X.copy(), "meta": pd.DataFrame({"a": np.arange(2000)})})
        assert memory.nbytes()["results"] <= 64 * 1024 * 1024
    assert memory.stats()["results"] == 2  # two views of 24 MB fit, the third does not
    assert memory.results.get(("view", 9)) is not None and memory.results.get(("view", 0)) is None
    # a single entry larger than the budget is still kept (the view being shown)
    memory.result("huge", lambda: np.zeros((9000, 1000)))
    assert memory.stats()["results"] == 1


def test_nbytes_of_counts_arrays_inside_results(table_source):
    from musictag_core.lru import nbytes_of

    memory = ExploreCache()
    index = memory.dataset(table_source)
    X, names, meta = memory.matrix(index, source_key=table_source.key(), space="table")
    result = explore(X, names, meta, config=ProjectionConfig(method="pca"), cache=False)
    assert nbytes_of(result) >= X.nbytes + result.projection.coords.nbytes
    assert nbytes_of({"a": X, "b": [X, X]}) == X.nbytes  # the same array counted once
