"""The Explore session's memory: opened datasets, feature matrices and results, each bounded.

One :class:`ExploreCache` per process (the app keeps one for all its sessions)
sits on top of the disk caches: the feature cache (:mod:`musictag_core.store`)
under the matrices and the projection cache
(:class:`~musictag_core.explore.projection.ProjectionCache`) under the results.
Keys are the source's :meth:`~musictag_core.explore.sources.DatasetSource.key`
and the settings, so two sessions looking at the same view share one result.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..lru import BoundedCache

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from ..datasets.base import DatasetIndex
    from .checks import ProgressCallback
    from .result import ExploreResult
    from .sources import DatasetSource

__all__ = ["ExploreCache", "MB"]

MB = 1024 * 1024


class ExploreCache:
    """Bounded in-memory caches of an Explore session.

    Parameters
    ----------
    max_datasets, max_matrices, max_results : int
        Entries kept of each kind (least recently used dropped first).
    max_bytes : int
        Bytes kept by each of the three caches (arrays and tables, :func:`~musictag_core.lru.nbytes_of`):
        a count alone let a session of large feature spaces (1506-d embeddings, per-segment
        points) hold gigabytes. Default 256 MiB each.
    """

    def __init__(
        self, *, max_datasets: int = 6, max_matrices: int = 8, max_results: int = 16, max_bytes: int = 256 * MB
    ) -> None:
        self.datasets = BoundedCache(max_entries=max_datasets, max_bytes=max_bytes)
        self.matrices = BoundedCache(max_entries=max_matrices, max_bytes=max_bytes)
        self.results = BoundedCache(max_entries=max_results, max_bytes=max_bytes)

    def dataset(self, source: DatasetSource, *, progress: Callable[[int, int], None] | None = None) -> DatasetIndex:
        """The dataset of ``source``, opened once (:func:`~musictag_core.explore.sources.open_source`)."""
        from .sources import open_source

        key = source.key()
        index = self.datasets.get(key)
        if index is None:
            index = open_source(source, progress=progress)
            self.datasets.put(key, index)
        return index

    def has_dataset(self, source: DatasetSource) -> bool:
        """Whether ``source`` is open already (so opening it costs nothing)."""
        return self.datasets.get(source.key()) is not None

    def matrix(
        self, index: DatasetIndex, *, source_key: str, space: str, level: str = "track", deltas: bool = False,
        progress: ProgressCallback | None = None,
    ) -> tuple[np.ndarray, list[str], pd.DataFrame]:
        """:func:`~musictag_core.explore.spaces.load_matrix` through this cache (a hit returns a read-only ``X``)."""
        from .spaces import load_matrix

        return load_matrix(
            index, source_key=source_key, space=space, level=level, deltas=deltas, cache=self.matrices, progress=progress
        )

    def result(self, key: Hashable, compute: Callable[[], ExploreResult]) -> ExploreResult:
        """The result stored under ``key``, or ``compute()``'s, stored."""
        hit = self.results.get(key)
        if hit is None:
            hit = compute()
            self.results.put(key, hit)
        return hit

    def clear(self) -> None:
        """Drop everything held in memory (the disk caches stay)."""
        for cache in (self.datasets, self.matrices, self.results):
            cache.clear()

    def __repr__(self) -> str:
        return f"ExploreCache(datasets={len(self.datasets)}, matrices={len(self.matrices)}, results={len(self.results)})"

    def stats(self) -> dict[str, Any]:
        """How many entries each cache holds."""
        return {"datasets": len(self.datasets), "matrices": len(self.matrices), "results": len(self.results)}

    def nbytes(self) -> dict[str, int]:
        """Bytes each cache holds (as estimated when stored)."""
        return {"datasets": self.datasets.nbytes, "matrices": self.matrices.nbytes, "results": self.results.nbytes}
