"""Projections (PCA, UMAP, t-SNE) of a feature matrix, cached, and UMAP's warm-up.

:func:`project` fits a real scikit-learn :class:`~sklearn.pipeline.Pipeline`
(``StandardScaler`` then ``PCA``, ``umap.UMAP`` or ``TSNE``, built by
:func:`build_projection`) and caches the fitted result per (data, parameters)
in memory and on disk (:class:`ProjectionCache`), so a second visit is instant.
:func:`fit_config` lowers parameters too large for the data.

UMAP is imported lazily and compiled once per process; its warm-up lives in
:mod:`musictag_core.explore.warmup`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import ParameterError
from ..fileio import atomic_save
from ..lru import BoundedCache
from .checks import ProgressCallback, check_matrix
from .warmup import UMAP_LOCK, import_umap, mark_umap_warm, quiet_fit, umap_is_warm

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline

__all__ = [
    "METHODS",
    "METRICS",
    "ProjectionConfig",
    "Projection",
    "ProjectionCache",
    "build_projection",
    "fit_config",
    "project",
]

#: Projection methods :func:`project` knows.
METHODS = ("pca", "umap", "tsne")

#: Distance metrics accepted for UMAP and t-SNE (both understand these names).
METRICS = ("euclidean", "manhattan", "cosine", "correlation", "chebyshev", "canberra", "braycurtis")


# ---------------------------------------------------------------------------
# Projections
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectionConfig(Config):
    """How points are projected to 2 or 3 dimensions.

    Parameters
    ----------
    method : {"pca", "umap", "tsne"}
        Projection method.
    n_components : {2, 3}
        Output dimensions.
    standardize : bool
        Standardise every feature (zero mean, unit variance) before projecting.
    n_neighbors : int
        UMAP neighbourhood size (>= 2).
    min_dist : float
        UMAP minimum distance between embedded points, in [0, 1].
    metric : str
        Distance for UMAP and t-SNE, one of :data:`METRICS` (PCA ignores it).
    perplexity : float
        t-SNE perplexity (> 0; must be below the number of points).
    seed : int or None
        Seed of UMAP and t-SNE (PCA is deterministic). ``None`` lets UMAP run
        in parallel, faster but not reproducible.
    n_epochs : int or None
        UMAP optimisation epochs (``None``: UMAP's default, 500 up to 10 000
        points and 200 above).
    """

    method: str = "pca"
    n_components: int = 2
    standardize: bool = True
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    perplexity: float = 30.0
    seed: int | None = 0
    n_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ParameterError(f"projection method must be one of {METHODS}, got {self.method!r}")
        if self.n_components not in (2, 3) or isinstance(self.n_components, bool):
            raise ParameterError(f"n_components must be 2 or 3, got {self.n_components!r}")
        if not isinstance(self.standardize, bool):
            raise ParameterError(f"standardize must be True or False, got {self.standardize!r}")
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, int) or self.n_neighbors < 2:
            raise ParameterError(f"n_neighbors must be an integer >= 2, got {self.n_neighbors!r}")
        if (
            isinstance(self.min_dist, bool)
            or not isinstance(self.min_dist, (int, float))
            or not 0.0 <= self.min_dist <= 1.0
        ):
            raise ParameterError(f"min_dist must be in [0, 1], got {self.min_dist!r}")
        if self.metric not in METRICS:
            raise ParameterError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if (
            isinstance(self.perplexity, bool)
            or not isinstance(self.perplexity, (int, float))
            or not math.isfinite(self.perplexity)
            or self.perplexity <= 0
        ):
            raise ParameterError(f"perplexity must be a positive number, got {self.perplexity!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise ParameterError(f"seed must be a non-negative integer or None, got {self.seed!r}")
        if self.n_epochs is not None and (
            isinstance(self.n_epochs, bool) or not isinstance(self.n_epochs, int) or self.n_epochs < 1
        ):
            raise ParameterError(f"n_epochs must be a positive integer or None, got {self.n_epochs!r}")

    def relevant(self) -> dict[str, Any]:
        """The parameters that change this method's result (the cache key uses only these)."""
        keys = {"method", "n_components", "standardize"}
        if self.method == "umap":
            keys |= {"n_neighbors", "min_dist", "metric", "seed", "n_epochs"}
        elif self.method == "tsne":
            keys |= {"perplexity", "metric", "seed"}
        return {k: v for k, v in self.to_dict().items() if k in keys}

    def label(self) -> str:
        """Short human-readable description, for titles."""
        extra = {
            "pca": "",
            "umap": f" (n_neighbors={self.n_neighbors}, min_dist={self.min_dist}, {self.metric})",
            "tsne": f" (perplexity={self.perplexity})",
        }[self.method]
        return f"{self.method.upper() if self.method != 'tsne' else 't-SNE'} {self.n_components}-D{extra}"


def build_projection(config: ProjectionConfig, *, tqdm_kwds: dict | None = None) -> Pipeline:
    """Build the unfitted projection pipeline for ``config``.

    Parameters
    ----------
    config : ProjectionConfig
    tqdm_kwds : dict or None
        Passed to UMAP's epoch progress bar (ignored by PCA and t-SNE).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` (``StandardScaler`` or ``"passthrough"``) and one of
        ``pca``, ``umap``, ``tsne``. ``umap`` is imported here, lazily.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler() if config.standardize else "passthrough"
    if config.method == "pca":
        from sklearn.decomposition import PCA

        # fixed seed: PCA's randomized solver (large inputs) must not depend on the UMAP/t-SNE seed
        est = PCA(n_components=config.n_components, random_state=0)
    elif config.method == "tsne":
        from sklearn.manifold import TSNE

        est = TSNE(
            n_components=config.n_components,
            perplexity=float(config.perplexity),
            metric=config.metric,
            init="pca",
            random_state=config.seed,
        )
    else:
        umap = import_umap()
        est = umap.UMAP(
            n_components=config.n_components,
            n_neighbors=config.n_neighbors,
            min_dist=float(config.min_dist),
            metric=config.metric,
            random_state=config.seed,
            n_epochs=config.n_epochs,
            tqdm_kwds=tqdm_kwds,
            n_jobs=1 if config.seed is not None else -1,
        )
    return Pipeline([("scale", scale), (config.method, est)])


class _TqdmToProgress:
    """A file-like object that turns UMAP's tqdm epoch bar into progress calls."""

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: ProgressCallback, start: float, stop: float) -> None:
        self.progress, self.start, self.stop = progress, start, stop

    def write(self, text: str) -> int:
        found = self._pattern.findall(text)
        if found:
            done, total = (int(v) for v in found[-1])
            if total:
                frac = self.start + (self.stop - self.start) * done / total
                self.progress(min(frac, self.stop), f"UMAP epoch {done}/{total}")
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Projection:
    """A fitted projection.

    Attributes
    ----------
    coords : np.ndarray [shape=(n_points, n_components)]
        Projected coordinates.
    config : ProjectionConfig
    feature_names : list of str
        Names of the input features (``f0``, ``f1``, ... when not given).
    explained_variance_ratio_ : np.ndarray [shape=(n_components,)] or None
        PCA only: fraction of the (standardised) variance per axis.
    loadings : pd.DataFrame [shape=(n_features, n_components)] or None
        PCA only: the weight of each (standardised) feature in each axis
        (``PCA.components_.T``), index = feature names, columns ``PC1``...
    fit_seconds : float
        Seconds the fit took (0 for a cache hit; the original fit time is in ``meta``).
    from_cache : bool
        True when this came from :class:`ProjectionCache`.
    key : str
        Cache key of (data, relevant parameters).
    """

    coords: np.ndarray
    config: ProjectionConfig
    feature_names: list[str]
    explained_variance_ratio_: np.ndarray | None = None
    loadings: pd.DataFrame | None = None
    fit_seconds: float = 0.0
    from_cache: bool = False
    key: str = ""
    meta: dict = field(default_factory=dict)
    _pipeline: Any = field(default=None, repr=False)
    _pipeline_path: str | None = field(default=None, repr=False)

    @property
    def pipeline(self) -> Pipeline | None:
        """The fitted pipeline (loaded from disk on first access after a disk-cache hit)."""
        if self._pipeline is None and self._pipeline_path and Path(self._pipeline_path).exists():
            import joblib

            if self.config.method == "umap":
                import_umap()
            self._pipeline = joblib.load(self._pipeline_path)
        return self._pipeline

    def top_features(self, component: int = 0, *, n: int = 5) -> pd.Series:
        """The ``n`` features with the largest absolute weight in a PCA axis.

        Parameters
        ----------
        component : int
            Axis index (0 for PC1).
        n : int
            How many features.

        Returns
        -------
        pd.Series
            Signed weights, index = feature names, sorted by absolute value.
        """
        if self.loadings is None:
            raise ParameterError(f"only PCA projections have loadings, this is {self.config.method!r}")
        if not 0 <= component < self.loadings.shape[1]:
            raise ParameterError(f"component must be in [0, {self.loadings.shape[1]}), got {component!r}")
        col = self.loadings.iloc[:, component]
        return col.reindex(col.abs().sort_values(ascending=False).index[:n])


def _hash_key(X: np.ndarray, config: ProjectionConfig, feature_names: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    arr = np.ascontiguousarray(X, dtype=np.float64)
    h.update(repr(arr.shape).encode())
    h.update(arr.tobytes())
    h.update(json.dumps(config.relevant(), sort_keys=True).encode())
    h.update("\x1f".join(feature_names).encode())
    return h.hexdigest()


class ProjectionCache:
    """Bounded cache of fitted projections, in memory and on disk.

    Entries are keyed by a hash of the input matrix bytes and the parameters
    that matter for the method (:meth:`ProjectionConfig.relevant`). On disk an
    entry is ``<key>.npz`` (coordinates, explained variance, loadings) plus
    ``<key>.joblib`` (the fitted pipeline, loaded only when asked for), so a
    disk hit does not even import UMAP.

    Parameters
    ----------
    directory : str, Path or None
        Folder for the disk cache (``None``: memory only).
    max_memory : int
        Most entries kept in memory (least recently used dropped first).
    max_disk : int
        Most entries kept on disk (oldest dropped first).
    """

    def __init__(self, *, directory: str | Path | None = None, max_memory: int = 16, max_disk: int = 64) -> None:
        self.directory = None if directory is None else Path(directory)
        self.max_memory = max_memory
        self.max_disk = max_disk
        self._memory = BoundedCache(max_entries=max_memory, max_bytes=256 * 1024 * 1024)  # fitted UMAPs hold their data

    def __len__(self) -> int:
        return len(self._memory)

    def get(self, key: str) -> Projection | None:
        """Return the cached projection for ``key`` or None."""
        hit = self._memory.get(key)
        if hit is not None:
            return dataclasses.replace(hit, from_cache=True, fit_seconds=0.0)
        if self.directory is None:
            return None
        npz = self.directory / f"{key}.npz"
        if not npz.exists():
            return None
        try:
            with np.load(npz, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                coords = data["coords"].copy()
                evr = data["evr"].copy() if "evr" in data else None
                load = data["loadings"].copy() if "loadings" in data else None
        except (OSError, ValueError, KeyError):
            return None  # a broken entry is a miss
        names = list(meta["feature_names"])
        config = ProjectionConfig.from_dict(meta["config"])
        loadings = None
        if load is not None:
            loadings = pd.DataFrame(load, index=names, columns=[f"PC{i + 1}" for i in range(load.shape[1])])
        proj = Projection(
            coords=coords,
            config=config,
            feature_names=names,
            explained_variance_ratio_=evr,
            loadings=loadings,
            fit_seconds=0.0,
            from_cache=True,
            key=key,
            meta={"original_fit_seconds": meta.get("fit_seconds", float("nan"))},
            _pipeline_path=str(self.directory / f"{key}.joblib"),
        )
        os.utime(npz)  # mark as recently used
        self._remember(key, proj)
        return proj

    def put(self, key: str, projection: Projection) -> None:
        """Store ``projection`` under ``key`` (memory, then disk if configured)."""
        self._remember(key, projection)
        if self.directory is None:
            return
        import joblib

        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": projection.config.to_dict(),
            "feature_names": list(projection.feature_names),
            "fit_seconds": projection.fit_seconds,
        }
        arrays: dict[str, np.ndarray] = {"coords": projection.coords, "meta": np.array(json.dumps(meta))}
        if projection.explained_variance_ratio_ is not None:
            arrays["evr"] = projection.explained_variance_ratio_
        if projection.loadings is not None:
            arrays["loadings"] = projection.loadings.to_numpy()
        if projection._pipeline is not None:  # the pipeline first: an .npz marks a complete entry
            atomic_save(self.directory / f"{key}.joblib", lambda p: joblib.dump(projection._pipeline, p))
        atomic_save(self.directory / f"{key}.npz", lambda p: np.savez(p, **arrays))
        self._evict_disk()

    def clear(self) -> None:
        """Drop every entry, in memory and on disk."""
        self._memory.clear()
        if self.directory is not None and self.directory.exists():
            for p in self.directory.glob("*.npz"):
                p.unlink(missing_ok=True)
            for p in self.directory.glob("*.joblib"):
                p.unlink(missing_ok=True)

    def _remember(self, key: str, projection: Projection) -> None:
        projection.coords.setflags(write=False)  # shared between hits: keep it intact
        self._memory.put(key, projection)

    def _evict_disk(self) -> None:
        assert self.directory is not None
        entries = sorted(self.directory.glob("*.npz"), key=lambda p: p.stat().st_mtime)
        for old in entries[: max(0, len(entries) - self.max_disk)]:
            old.unlink(missing_ok=True)
            old.with_suffix(".joblib").unlink(missing_ok=True)


_DEFAULT_CACHE: ProjectionCache | None = None


def _default_cache() -> ProjectionCache:
    global _DEFAULT_CACHE
    if _DEFAULT_CACHE is None:
        from ..paths import cache_dir

        _DEFAULT_CACHE = ProjectionCache(directory=cache_dir() / "projections")
    return _DEFAULT_CACHE


def project(
    X: np.ndarray,
    *,
    config: ProjectionConfig | None = None,
    feature_names: Sequence[str] | None = None,
    cache: ProjectionCache | bool = True,
    progress: ProgressCallback | None = None,
) -> Projection:
    """Project points to 2-D or 3-D with PCA, UMAP or t-SNE.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
        Finite feature matrix.
    config : ProjectionConfig or None
        Method and parameters (default: standardised 2-D PCA).
    feature_names : sequence of str or None
        One name per column (for the PCA loadings).
    cache : ProjectionCache or bool
        ``True``: the process-wide cache under ``cache_dir()/projections``;
        ``False``: always fit; or a cache of your own.
    progress : callable or None
        ``progress(fraction, message)``; UMAP reports its epochs.

    Returns
    -------
    Projection

    Raises
    ------
    ParameterError
        If ``X`` is not a finite matrix, or the parameters do not fit the data
        (for example a perplexity not below the number of points).
    """
    config = ProjectionConfig() if config is None else config
    X = check_matrix(X, min_rows=3)
    n, d = X.shape
    names = [f"f{i}" for i in range(d)] if feature_names is None else [str(f) for f in feature_names]
    if len(names) != d:
        raise ParameterError(f"feature_names has {len(names)} names for {d} columns")
    if config.method == "pca" and config.n_components > min(n, d):
        raise ParameterError(
            f"PCA to {config.n_components} dimensions needs at least {config.n_components} points and "
            f"features, got {n} x {d}"
        )
    if config.method == "tsne" and config.perplexity >= n:
        raise ParameterError(f"t-SNE perplexity ({config.perplexity}) must be below the number of points ({n})")
    if config.method == "umap" and n <= config.n_components + 1:
        raise ParameterError(f"UMAP needs more than {config.n_components + 1} points, got {n}")

    store = _default_cache() if cache is True else (None if cache is False or cache is None else cache)
    key = _hash_key(X, config, names)
    if store is not None:
        hit = store.get(key)
        if hit is not None:
            if progress:
                progress(1.0, "loaded from cache")
            return hit

    t0 = time.perf_counter()
    if progress:
        progress(0.0, f"fitting {config.label()} on {n} points x {d} features")
    if config.method == "umap":
        if progress:
            msg = "importing UMAP" if not umap_is_warm() else "UMAP: nearest neighbours"
            if not umap_is_warm():
                msg += " (the first UMAP fit in a process compiles code: ~20-60 s)"
            progress(0.05, msg)
        tqdm_kwds = None
        if progress:
            tqdm_kwds = {
                "disable": False,
                "file": _TqdmToProgress(progress, 0.3, 0.99),
                "bar_format": "{n}/{total}",
                "mininterval": 0.25,
            }
        pipe = build_projection(config, tqdm_kwds=tqdm_kwds)
        with UMAP_LOCK:
            coords = quiet_fit(pipe, X.astype(np.float32))
            mark_umap_warm()
        pipe.steps[-1][1].tqdm_kwds = None  # the progress stream must not be pickled
    else:
        pipe = build_projection(config)
        try:
            coords = quiet_fit(pipe, X)
        except ValueError as exc:  # sklearn's own parameter checks
            raise ParameterError(f"{config.label()} failed on {n} x {d} points: {exc}") from None
    coords = np.asarray(coords, dtype=np.float64)
    evr = loadings = None
    if config.method == "pca":
        pca = pipe.named_steps["pca"]
        evr = pca.explained_variance_ratio_.copy()
        loadings = pd.DataFrame(
            pca.components_.T, index=names, columns=[f"PC{i + 1}" for i in range(config.n_components)]
        )
    seconds = time.perf_counter() - t0
    proj = Projection(
        coords=coords,
        config=config,
        feature_names=names,
        explained_variance_ratio_=evr,
        loadings=loadings,
        fit_seconds=seconds,
        from_cache=False,
        key=key,
        meta={"original_fit_seconds": seconds},
        _pipeline=pipe,
    )
    if store is not None:
        store.put(key, proj)
    if progress:
        progress(1.0, f"done in {seconds:.1f} s")
    return proj


def fit_config(config: ProjectionConfig, n_points: int) -> tuple[ProjectionConfig, list[str]]:
    """Adjust parameters that cannot work for ``n_points`` points; say what changed.

    UMAP's ``n_neighbors`` is lowered to ``n_points - 1`` and t-SNE's
    perplexity to ``(n_points - 1) / 3`` when they are too large.

    Returns
    -------
    config : ProjectionConfig
    notes : list of str
    """
    notes = []
    if config.method == "umap" and config.n_neighbors >= n_points:
        nn = max(2, n_points - 1)
        notes.append(f"n_neighbors lowered from {config.n_neighbors} to {nn} ({n_points} points)")
        config = dataclasses.replace(config, n_neighbors=nn)
    if config.method == "tsne" and config.perplexity >= n_points:
        perp = max(1.0, round((n_points - 1) / 3, 1))
        notes.append(f"perplexity lowered from {config.perplexity:g} to {perp:g} ({n_points} points)")
        config = dataclasses.replace(config, perplexity=perp)
    return config, notes
