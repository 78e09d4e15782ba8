"""Explore: projections (PCA, UMAP, t-SNE) and genre-separability figures.

Answers "do my genres separate, in which features, and which genres get
confused?" in four parts:

* **Feature spaces** -- :func:`feature_matrix` turns a
  :class:`~musictag_core.datasets.base.DatasetIndex` into a matrix: MFCC
  statistics (optionally with deltas), log-mel band statistics, the summary
  statistics vector, pretrained embeddings, or the numeric columns of a feature
  table; one row per track or one per 12 s segment.
* **Projections** -- :func:`project` fits a real scikit-learn
  :class:`~sklearn.pipeline.Pipeline` (``StandardScaler`` then ``PCA``,
  ``umap.UMAP`` or ``TSNE``) and caches the fitted result per (data, parameters)
  in memory and on disk (:class:`ProjectionCache`), so a second visit is instant.
* **Separability** -- :func:`separability` computes the silhouette score,
  leave-one-out k-NN accuracy, the per-genre centroid distance matrix, the k-NN
  confusion counts and the most-confused pair of genres; :func:`pairwise_view`
  separates two genres with a cross-validated linear classifier.
* **Dataset insight** -- :func:`class_balance`, :func:`cooccurrence`,
  :func:`labels_per_track`, :func:`track_durations`.

UMAP is imported lazily (importing it imports TensorFlow, several seconds) and
its first fit in a process compiles numba code (tens of seconds);
:func:`warm_up_umap` pays that cost up front, for example in a background thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .config import Config, PipelineConfig
from .errors import AudioError, DatasetError, MusictagError, ParameterError
from .fileio import atomic_save
from .lru import BoundedCache

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline

    from .datasets.base import DatasetIndex

__all__ = [
    "METHODS",
    "SPACES",
    "ProjectionConfig",
    "Projection",
    "ProjectionCache",
    "ProgressCallback",
    "build_projection",
    "project",
    "explained_variance",
    "warm_up_umap",
    "umap_is_warm",
    "loo_knn_predict",
    "separability",
    "separability_json",
    "pairwise_view",
    "class_balance",
    "cooccurrence",
    "labels_per_track",
    "track_durations",
    "feature_matrix",
]

#: Projection methods :func:`project` knows.
METHODS = ("pca", "umap", "tsne")

#: Feature spaces :func:`feature_matrix` knows.
SPACES = ("mfcc_stats", "stats", "logmel_stats", "embedding_penultimate", "embedding_pooled", "table")

#: Distance metrics accepted for UMAP and t-SNE (both understand these names).
METRICS = ("euclidean", "manhattan", "cosine", "correlation", "chebyshev", "canberra", "braycurtis")

#: ``progress(fraction, message)``: fraction in [0, 1], message in words.
ProgressCallback = Callable[[float, str], None]


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def _check_matrix(X: Any, *, name: str = "X", min_rows: int = 2) -> np.ndarray:
    """Return ``X`` as a finite 2-D float64 array or raise ParameterError."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a numeric matrix: {exc}") from None
    if arr.ndim != 2:
        raise ParameterError(f"{name} must be 2-D (points x features), got shape {arr.shape}")
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise ParameterError(
            f"{name} has shape {arr.shape}; need at least {min_rows} points and 1 feature"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        cols = np.flatnonzero(bad.any(axis=0))
        raise ParameterError(
            f"{name} contains NaN or infinite values in {len(rows)} row(s) (first {rows[:5].tolist()}) "
            f"and column(s) {cols[:10].tolist()}; drop or impute them first"
        )
    return arr


def _check_labels(labels: Any, n: int, *, min_classes: int = 2) -> np.ndarray:
    lab = np.asarray(labels, dtype=object)
    if lab.ndim != 1 or len(lab) != n:
        raise ParameterError(f"labels must be 1-D with one entry per point ({n}), got shape {lab.shape}")
    if pd.isna(lab).any():
        raise ParameterError(f"labels contain {int(pd.isna(lab).sum())} missing value(s); drop those points")
    lab = lab.astype(str)
    n_classes = len(np.unique(lab))
    if n_classes < min_classes:
        raise ParameterError(
            f"need at least {min_classes} different labels, got {n_classes} ({np.unique(lab).tolist()})"
        )
    return lab


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
        umap = _import_umap()
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


_UMAP_LOCK = threading.Lock()
_UMAP_WARM = False


def _import_umap():
    """Import umap (and with it TensorFlow) once, quietly."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import umap
    return umap


def umap_is_warm() -> bool:
    """Whether a UMAP fit already ran in this process (numba code compiled)."""
    return _UMAP_WARM


def warm_up_umap(*, sizes: Sequence[int] = (300, 4200), progress: ProgressCallback | None = None) -> float:
    """Import UMAP and compile its numba code by fitting throw-away data.

    UMAP compiles different code for small inputs (exact neighbours) and for
    inputs above 4096 points (approximate NN-descent), so the default fits one
    of each with few epochs. Safe to call from a background thread.

    Parameters
    ----------
    sizes : sequence of int
        Numbers of points of the throw-away fits.
    progress : callable or None
        ``progress(fraction, message)``.

    Returns
    -------
    float
        Seconds spent.
    """
    global _UMAP_WARM
    t0 = time.perf_counter()
    if progress:
        progress(0.0, "importing UMAP")
    umap = _import_umap()
    rng = np.random.default_rng(0)
    with _UMAP_LOCK:
        for i, n in enumerate(sizes):
            if progress:
                progress((i + 0.5) / (len(sizes) + 0.5), f"compiling UMAP on {n} points")
            centers = rng.normal(scale=5.0, size=(5, 8))
            X = (centers[rng.integers(0, 5, int(n))] + rng.normal(size=(int(n), 8))).astype(np.float32)
            _quiet_fit(umap.UMAP(n_neighbors=10, n_epochs=10, random_state=0, n_jobs=1), X)
        _UMAP_WARM = True
    if progress:
        progress(1.0, "UMAP ready")
    return time.perf_counter() - t0


def _quiet_fit(est, X):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit_transform(X)


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
                _import_umap()
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
        self._memory = BoundedCache(max_entries=max_memory)

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
        from .paths import cache_dir

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
    X = _check_matrix(X, min_rows=3)
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

    global _UMAP_WARM
    t0 = time.perf_counter()
    if progress:
        progress(0.0, f"fitting {config.label()} on {n} points x {d} features")
    if config.method == "umap":
        if progress:
            msg = "importing UMAP" if not _UMAP_WARM else "UMAP: nearest neighbours"
            if not _UMAP_WARM:
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
        with _UMAP_LOCK:
            coords = _quiet_fit(pipe, X.astype(np.float32))
            _UMAP_WARM = True
        pipe.steps[-1][1].tqdm_kwds = None  # the progress stream must not be pickled
    else:
        pipe = build_projection(config)
        try:
            coords = _quiet_fit(pipe, X)
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


def explained_variance(X: np.ndarray, *, standardize: bool = True, max_components: int = 20) -> np.ndarray:
    """Fraction of variance explained by each principal component (a scree plot's data).

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    standardize : bool
        Standardise features first.
    max_components : int
        Keep at most this many components.

    Returns
    -------
    np.ndarray [shape=(min(max_components, n_points, n_features),)]
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = _check_matrix(X)
    Z = StandardScaler().fit_transform(X) if standardize else X
    k = int(min(max_components, *X.shape))
    return PCA(n_components=k).fit(Z).explained_variance_ratio_


# ---------------------------------------------------------------------------
# Separability
# ---------------------------------------------------------------------------


def loo_knn_predict(X: np.ndarray, labels: Sequence[str], *, k: int = 5) -> np.ndarray:
    """Leave-one-out k-NN predictions from one neighbour query.

    Equivalent to ``cross_val_predict(KNeighborsClassifier(k), X, labels,
    cv=LeaveOneOut())`` but needs one neighbour search instead of ``n`` fits:
    each point's ``k`` nearest *other* points vote, ties going to the label
    that sorts first (as in scikit-learn). Only exact distance ties between
    neighbours may be ordered differently.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    labels : sequence of str [shape=(n_points,)]
    k : int
        Number of neighbours (1 <= k < n_points).

    Returns
    -------
    np.ndarray [shape=(n_points,)], dtype object
        Predicted label per point.
    """
    from sklearn.neighbors import NearestNeighbors

    X = _check_matrix(X)
    lab = _check_labels(labels, len(X), min_classes=1)
    n = len(X)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ParameterError(f"k must be an integer in [1, {n - 1}] for {n} points, got {k!r}")
    classes, y = np.unique(lab, return_inverse=True)
    _, ind = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    is_self = ind == np.arange(n)[:, None]
    # Move each point's own index to the end (stable, so neighbour order is kept);
    # when the point is not among its k+1 neighbours (duplicates), the farthest is dropped.
    order = np.argsort(is_self, axis=1, kind="stable")
    neigh = np.take_along_axis(ind, order, axis=1)[:, :k]
    votes = np.zeros((n, len(classes)), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), y[neigh].ravel()), 1)
    return classes[np.argmax(votes, axis=1)].astype(object)


def separability(
    X: np.ndarray,
    labels: Sequence[str],
    *,
    k: int = 5,
    standardize: bool = True,
) -> dict[str, Any]:
    """How well labelled points separate in a feature space.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
        Features (the full space, or projected coordinates).
    labels : sequence of str [shape=(n_points,)]
        One label (genre) per point; at least two different ones.
    k : int
        Neighbours of the leave-one-out k-NN classifier.
    standardize : bool
        Standardise features first (use False for projected coordinates).

    Returns
    -------
    dict
        ``n_points``, ``n_features``, ``k``, ``labels`` (sorted label names);
        ``silhouette`` (``sklearn.metrics.silhouette_score``, Euclidean);
        ``knn_accuracy`` (leave-one-out k-NN accuracy) and ``knn_predictions``;
        ``per_label`` (DataFrame: ``count``, ``silhouette``, ``knn_recall`` per label);
        ``centroid_distances`` (DataFrame labels x labels, Euclidean distance
        between label means); ``confusion`` (DataFrame true x predicted counts
        of the LOO k-NN); ``most_confused`` (dict ``a``, ``b``, ``count``,
        ``rate``: the pair with the most k-NN errors in either direction,
        ``rate`` = errors / points of the two labels).
    """
    from sklearn.metrics import confusion_matrix, silhouette_samples
    from sklearn.preprocessing import StandardScaler

    X = _check_matrix(X, min_rows=3)
    lab = _check_labels(labels, len(X))
    classes = np.unique(lab)
    if len(classes) >= len(X):
        raise ParameterError(f"need fewer labels ({len(classes)}) than points ({len(X)}) for a silhouette")
    Z = StandardScaler().fit_transform(X) if standardize else X
    sil = silhouette_samples(Z, lab)
    pred = loo_knn_predict(Z, lab, k=k)
    correct = pred == lab
    centroids = np.stack([Z[lab == c].mean(axis=0) for c in classes])
    dist = np.sqrt(((centroids[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1))
    conf = confusion_matrix(lab, pred.astype(str), labels=classes)
    per_label = pd.DataFrame(
        {
            "count": [int((lab == c).sum()) for c in classes],
            "silhouette": [float(sil[lab == c].mean()) for c in classes],
            "knn_recall": [float(correct[lab == c].mean()) for c in classes],
        },
        index=pd.Index(classes, name="label"),
    )
    return {
        "n_points": int(len(X)),
        "n_features": int(X.shape[1]),
        "k": int(k),
        "standardize": bool(standardize),
        "labels": classes.tolist(),
        "silhouette": float(np.mean(sil)),
        "knn_accuracy": float(correct.mean()),
        "knn_predictions": pred,
        "per_label": per_label,
        "centroid_distances": pd.DataFrame(dist, index=classes, columns=classes),
        "confusion": pd.DataFrame(conf, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted")),
        "most_confused": _most_confused(conf, classes),
    }


def _most_confused(conf: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    sym = conf + conf.T
    np.fill_diagonal(sym, -1)
    i, j = np.unravel_index(np.argmax(sym), sym.shape)
    count = int(max(sym[i, j], 0))
    if count == 0:
        return {"a": None, "b": None, "count": 0, "rate": 0.0}
    a, b = sorted((int(i), int(j)))
    support = int(conf[a].sum() + conf[b].sum())
    return {"a": str(classes[a]), "b": str(classes[b]), "count": count, "rate": count / support}


def separability_json(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable summary of a :func:`separability` result (no per-point arrays)."""
    cd = result["centroid_distances"]
    return {
        "n_points": result["n_points"],
        "n_features": result["n_features"],
        "k": result["k"],
        "silhouette": round(result["silhouette"], 6),
        "knn_accuracy": round(result["knn_accuracy"], 6),
        "most_confused": result["most_confused"],
        "per_label": {
            str(lbl): {k: (round(v, 6) if isinstance(v, float) else int(v)) for k, v in row.items()}
            for lbl, row in result["per_label"].to_dict(orient="index").items()
        },
        "centroid_distances": {
            str(a): {str(b): round(float(cd.loc[a, b]), 6) for b in cd.columns} for a in cd.index
        },
        "confusion": {str(a): {str(b): int(v) for b, v in row.items()} for a, row in result["confusion"].to_dict(orient="index").items()},
    }


def pairwise_view(
    X: np.ndarray,
    labels: Sequence[str],
    a: str,
    b: str,
    *,
    cv: int = 5,
    seed: int = 0,
    standardize: bool = True,
) -> dict[str, Any]:
    """Two genres alone: their PCA and a cross-validated linear classifier.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    labels : sequence of str [shape=(n_points,)]
    a, b : str
        The two labels to compare.
    cv : int
        Folds of the stratified cross-validation (lowered to the smaller
        class size when that is smaller; at least 2 points per label needed).
    seed : int
        Seed of the fold shuffling.
    standardize : bool
        Standardise inside both pipelines.

    Returns
    -------
    dict
        ``rows`` (indices into ``X`` of the two genres' points), ``labels``
        (their labels), ``coords`` (PCA 2-D coordinates [shape=(m, 2)]),
        ``explained_variance_ratio`` (2,), ``scores`` (accuracy per fold of
        ``StandardScaler`` + ``LogisticRegression``), ``accuracy_mean``,
        ``accuracy_std``, ``cv`` (folds used), ``counts`` ({label: points}).
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X = _check_matrix(X)
    lab = _check_labels(labels, len(X), min_classes=1)
    a, b = str(a), str(b)
    if a == b:
        raise ParameterError(f"pick two different labels, got {a!r} twice")
    present = set(lab.tolist())
    missing = [g for g in (a, b) if g not in present]
    if missing:
        raise ParameterError(f"label(s) {missing} not in the data; choose from {sorted(present)}")
    rows = np.flatnonzero((lab == a) | (lab == b))
    Xab, lab_ab = X[rows], lab[rows]
    counts = {a: int((lab_ab == a).sum()), b: int((lab_ab == b).sum())}
    smallest = min(counts.values())
    if smallest < 2:
        raise ParameterError(f"need at least 2 points of each label to cross-validate, got {counts}")
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise ParameterError(f"cv must be an integer >= 2, got {cv!r}")
    folds = min(cv, smallest)
    scale = StandardScaler() if standardize else "passthrough"
    n_comp = min(2, Xab.shape[1], len(Xab))
    pca = Pipeline([("scale", scale), ("pca", PCA(n_components=n_comp))])
    coords = pca.fit_transform(Xab)
    clf = Pipeline([("scale", StandardScaler() if standardize else "passthrough"), ("clf", LogisticRegression(max_iter=2000))])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(clf, Xab, lab_ab, cv=splitter, scoring="accuracy")
    return {
        "a": a,
        "b": b,
        "rows": rows,
        "labels": lab_ab.astype(object),
        "coords": coords,
        "explained_variance_ratio": pca.named_steps["pca"].explained_variance_ratio_,
        "scores": scores,
        "accuracy_mean": float(scores.mean()),
        "accuracy_std": float(scores.std()),
        "cv": int(folds),
        "counts": counts,
    }


# ---------------------------------------------------------------------------
# Dataset insight
# ---------------------------------------------------------------------------


def class_balance(index: DatasetIndex, *, by_split: bool = False) -> pd.Series | pd.DataFrame:
    """Tracks per label (a track counts for every label present on it).

    Parameters
    ----------
    index : DatasetIndex
    by_split : bool
        Return a labels x splits table instead (tracks without split under ``"none"``).

    Returns
    -------
    pd.Series (index = labels, name ``tracks``) or pd.DataFrame (labels x splits)
    """
    y = index.y
    if not by_split:
        return pd.Series(y.sum(axis=0).astype(int), index=pd.Index(index.labels, name="label"), name="tracks")
    split = index.tracks["split"].astype(object).where(index.tracks["split"].notna(), "none").astype(str).to_numpy()
    cols = {s: y[split == s].sum(axis=0).astype(int) for s in _split_order(np.unique(split))}
    return pd.DataFrame(cols, index=pd.Index(index.labels, name="label"))


def _split_order(splits: Sequence[str]) -> list[str]:
    known = ["train", "validation", "test"]
    return [s for s in known if s in splits] + sorted(s for s in splits if s not in known)


def cooccurrence(y: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """How often each pair of labels is present on the same track.

    Parameters
    ----------
    y : np.ndarray [shape=(n_tracks, n_labels)]
        Binary targets (0/1).
    labels : sequence of str [shape=(n_labels,)]

    Returns
    -------
    pd.DataFrame [shape=(n_labels, n_labels)], int
        ``y.T @ y``: the diagonal holds each label's track count.
    """
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] != len(labels):
        raise ParameterError(f"y must have shape (n_tracks, {len(labels)}), got {y.shape}")
    yb = (y > 0).astype(np.int64)
    return pd.DataFrame(yb.T @ yb, index=list(labels), columns=list(labels))


def labels_per_track(y: np.ndarray) -> pd.Series:
    """Number of tracks with 0, 1, 2, ... labels present.

    Parameters
    ----------
    y : np.ndarray [shape=(n_tracks, n_labels)]
        Binary targets.

    Returns
    -------
    pd.Series
        Index 0..max labels per track (every count included), values = tracks.
    """
    y = np.asarray(y)
    if y.ndim != 2:
        raise ParameterError(f"y must be 2-D (tracks x labels), got shape {y.shape}")
    per = (y > 0).sum(axis=1)
    counts = np.bincount(per, minlength=1)
    return pd.Series(counts, index=pd.Index(np.arange(len(counts)), name="labels_per_track"), name="tracks")


def track_durations(index: DatasetIndex) -> pd.Series:
    """Duration in seconds of each track, read from file headers (NaN when unreadable).

    Returns
    -------
    pd.Series
        Index = track ids, values = seconds.
    """
    from .audio import audio_info

    out = []
    for path in index.tracks["path"].astype(str):
        try:
            out.append(audio_info(path).duration_s if path else np.nan)
        except MusictagError:
            out.append(np.nan)
    return pd.Series(out, index=index.tracks["track_id"].astype(str).to_numpy(), name="duration_s", dtype=float)


# ---------------------------------------------------------------------------
# Feature spaces
# ---------------------------------------------------------------------------


def feature_matrix(
    index: DatasetIndex,
    *,
    space: str = "mfcc_stats",
    level: str = "track",
    deltas: bool = False,
    pipeline: PipelineConfig | None = None,
    model: str = "MSD_musicnn",
    columns: Sequence[str] | None = None,
    cache: bool = True,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """One feature vector per track (or per segment) of a dataset.

    MFCC and log-mel frames and the per-track statistics come from the feature
    store (:func:`musictag_core.store.extract_paths`), so a second call on the
    same files is a cache lookup; only the cheap mean/std over frames is
    recomputed.

    Parameters
    ----------
    index : DatasetIndex
    space : str
        One of :data:`SPACES`:
        ``mfcc_stats`` (mean and std over frames of each MFCC, plus the same
        for their deltas when ``deltas``); ``logmel_stats`` (mean and std of
        each log-mel band); ``stats`` (the summary statistics of
        :func:`musictag_core.features.track_statistics`);
        ``embedding_penultimate`` / ``embedding_pooled`` (the pretrained
        tagger's 200-d / pooled embedding, track level only); ``table`` (the
        numeric columns of a feature-table dataset).
    level : {"track", "segment"}
        One row per track (statistics over all its segments' frames) or one
        per segment (``pipeline.segments``: 12 s by default).
    deltas : bool
        Add delta-MFCC statistics (``mfcc_stats`` only).
    pipeline : PipelineConfig or None
        Decode / segment / frame settings (default: 22050 Hz, first 120 s,
        12 s segments, n_fft 2048, hop 512, 13 MFCCs, 128 mel bands); its
        ``features.kind`` is set from ``space``.
    model : str
        Pretrained model name for the embedding spaces.
    columns : sequence of str or None
        ``table`` only: which numeric columns (default all).
    cache : bool
        Read and write the feature store (False: recompute everything).
    n_jobs : int or None
        Extraction processes (default: one per core; 1 runs in this process).
    progress : callable or None
        ``progress(fraction, message)``.

    Returns
    -------
    X : np.ndarray [shape=(n_rows, n_features)], float64
    feature_names : list of str [shape=(n_features,)]
    row_meta : pd.DataFrame [shape=(n_rows, ...)]
        ``row`` (position in ``index``), ``track_id``, ``genre`` (strongest
        label), ``labels`` (present labels joined by ``|``), ``split``,
        ``artist``, ``path``, and with ``level="segment"`` also ``segment``
        and ``start_s``. ``row_meta.attrs["skipped"]`` maps unreadable track
        ids to the reason.

    Raises
    ------
    ParameterError
        Unknown space or level, or a combination that does not exist.
    DatasetError
        No track could be read, or a feature table has no usable columns.
    """
    if space not in SPACES:
        raise ParameterError(f"feature space must be one of {SPACES}, got {space!r}")
    if level not in ("track", "segment"):
        raise ParameterError(f"level must be 'track' or 'segment', got {level!r}")
    if deltas and space != "mfcc_stats":
        raise ParameterError(f"deltas only apply to space 'mfcc_stats', not {space!r}")
    if level == "segment" and space in ("table", "embedding_penultimate", "embedding_pooled"):
        raise ParameterError(f"space {space!r} has one vector per track; use level='track'")
    base = _base_meta(index)
    if space == "table":
        return _table_matrix(index, base, columns)
    if columns is not None:
        raise ParameterError("columns only apply to space 'table'")
    pipeline = PipelineConfig() if pipeline is None else pipeline
    if space in ("mfcc_stats", "logmel_stats") or (space == "stats" and level == "track"):
        per_track, names, skipped = _rows_from_store(
            index, space=space, level=level, deltas=deltas, pipeline=pipeline, cache=cache, n_jobs=n_jobs,
            progress=progress,
        )
    else:
        per_track, names, skipped = _rows_computed_here(
            index, space=space, pipeline=pipeline, model=model, cache=cache, progress=progress
        )
    if not per_track:
        raise DatasetError(
            f"{index.name}: no track could be read for space {space!r}"
            + (f"; first error: {next(iter(skipped.values()))}" if skipped else "")
        )
    metas = []
    for i, (vals, starts) in per_track.items():
        m = base.iloc[np.full(len(vals), i)].reset_index(drop=True)
        if level == "segment":
            m["segment"] = np.arange(len(vals))
            m["start_s"] = np.asarray(starts, dtype=np.float64)
        metas.append(m)
    X = np.concatenate([v for v, _ in per_track.values()]).astype(np.float64)
    meta = pd.concat(metas, ignore_index=True)
    meta.attrs["skipped"] = skipped
    return X, names, meta


def _rows_from_store(index, *, space, level, deltas, pipeline, cache, n_jobs, progress):
    """Per-track rows from the feature store: {position: (rows, starts)}, names, skipped."""
    from .store import extract_paths

    kind = {"mfcc_stats": "mfcc", "logmel_stats": "logmel", "stats": "stats"}[space]
    pl = dataclasses.replace(pipeline, features=dataclasses.replace(pipeline.features, kind=kind))
    paths = index.tracks["path"].astype(str).tolist()
    ids = index.tracks["track_id"].astype(str).tolist()
    report = None
    if progress:
        def report(done: int, total: int) -> None:
            progress(done / max(total, 1), f"features: {done}/{total} tracks")

    res = extract_paths(paths, pipeline=pl, n_jobs=n_jobs, use_cache=cache, progress=report)
    skipped = {ids[i]: res.failures.get(paths[i], "no features") for i in range(len(paths)) if res.digests[i] is None}
    per_track: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in res.ok:
        arr = np.asarray(res.features(i), dtype=np.float64)
        if kind == "stats":
            per_track[i] = (arr[None, :], np.zeros(1))
        else:
            per_track[i] = (_frame_stats(arr, level=level, deltas=deltas), res.store.segment_starts(arr))
    if kind == "stats":
        from .features import STAT_NAMES

        d = next(iter(per_track.values()))[0].shape[1] if per_track else len(STAT_NAMES)
        names = list(STAT_NAMES) if d == len(STAT_NAMES) else [f"stat{j:03d}" for j in range(d)]
    else:
        names = _space_names(space, deltas=deltas, pipeline=pipeline)
    if progress:
        progress(1.0, "features ready")
    return per_track, names, skipped


def _frame_stats(frames: np.ndarray, *, level: str, deltas: bool) -> np.ndarray:
    """Mean and std over time of frame features [shape=(n_seg, t, F)] -> rows [shape=(1 or n_seg, 2F or 4F)]."""
    if deltas:
        import librosa

        T = frames.shape[1]
        width = min(9, T if T % 2 else T - 1)
        d = librosa.feature.delta(frames, width=width, axis=1) if width >= 3 else np.zeros_like(frames)
        parts = [frames, d]
    else:
        parts = [frames]
    out = []
    for f in parts:  # order: mfcc mean, mfcc std, then dmfcc mean, dmfcc std
        if level == "track":
            flat = f.reshape(-1, f.shape[2])
            out.append(np.concatenate([flat.mean(axis=0), flat.std(axis=0)])[None, :])
        else:
            out.append(np.concatenate([f.mean(axis=1), f.std(axis=1)], axis=1))
    return np.concatenate(out, axis=1)


def _rows_computed_here(index, *, space, pipeline, model, cache, progress):
    """Segment-level statistics and embeddings, which the store does not hold, cached per track."""
    if space.startswith("embedding"):
        try:
            from .predict import embed_file  # noqa: F401  (the pretrained model port)
        except ImportError as exc:
            raise ParameterError(
                f"space {space!r} needs the pretrained tagger (musictag_core.predict), not available here: {exc}"
            ) from None
        params = {"space": space, "model": model}
    else:
        params = {"space": space, "level": "segment", "pipeline": pipeline.to_dict()}
    per_track: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    skipped: dict[str, str] = {}
    names: list[str] = []
    paths = index.tracks["path"].astype(str).tolist()
    ids = index.tracks["track_id"].astype(str).tolist()
    for i, (tid, path) in enumerate(zip(ids, paths)):
        if progress:
            progress(i / max(len(paths), 1), f"features: {tid}")
        try:
            vals, starts, found = _cached_track_rows(
                path, params=params, cache=cache,
                compute=lambda p=path: _track_rows(p, space=space, pipeline=pipeline, model=model),
            )
        except MusictagError as exc:
            skipped[tid] = str(exc)
            continue
        names = names or found
        per_track[i] = (vals, starts)
    if progress:
        progress(1.0, "features ready")
    return per_track, names, skipped


def _base_meta(index: DatasetIndex) -> pd.DataFrame:
    t = index.tracks
    y = index.y
    labels = np.asarray(index.labels, dtype=object)
    present = ["|".join(labels[np.flatnonzero(r)].tolist()) for r in y]
    return pd.DataFrame(
        {
            "row": np.arange(len(index)),
            "track_id": t["track_id"].astype(str).to_numpy(),
            "genre": index.genre.to_numpy() if len(index) else np.array([], dtype=object),
            "labels": present,
            "split": t["split"].to_numpy(),
            "artist": t["artist"].to_numpy(),
            "path": t["path"].astype(str).to_numpy(),
        }
    )


def _table_matrix(index: DatasetIndex, base: pd.DataFrame, columns: Sequence[str] | None):
    df = index.features
    if df is None:
        raise DatasetError(f"{index.name}: space 'table' needs a feature-table dataset (it has no feature columns)")
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ParameterError(f"column(s) {missing} not in the feature table; it has {list(df.columns)[:20]}")
        df = df[list(columns)]
    num = df.select_dtypes(include="number")
    if num.shape[1] == 0:
        raise DatasetError(f"{index.name}: the feature table has no numeric columns")
    bad = num.columns[num.isna().any()].tolist()
    if bad:
        raise DatasetError(
            f"{index.name}: feature column(s) {bad[:10]} have missing values; fill them or pick other columns"
        )
    meta = base.copy()
    meta.attrs["skipped"] = {}
    return num.to_numpy(dtype=np.float64), [str(c) for c in num.columns], meta


def _space_names(space: str, *, deltas: bool, pipeline: PipelineConfig) -> list[str] | None:
    fc = pipeline.features
    if space == "mfcc_stats":
        names = [f"mfcc{i + 1:02d}_{s}" for s in ("mean", "std") for i in range(fc.n_mfcc)]
        if deltas:
            names += [f"dmfcc{i + 1:02d}_{s}" for s in ("mean", "std") for i in range(fc.n_mfcc)]
        return names
    if space == "logmel_stats":
        return [f"mel{i + 1:03d}_{s}" for s in ("mean", "std") for i in range(fc.n_mels)]
    return None  # stats / embeddings: names come from the extractor


def _file_key(path: str, params: dict) -> tuple[str, str]:
    h = hashlib.blake2b(json.dumps(params, sort_keys=True).encode(), digest_size=12).hexdigest()
    p = Path(path)
    st = p.stat()
    f = hashlib.blake2b(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode(), digest_size=16).hexdigest()
    return h, f


def _cached_track_rows(path: str, *, params: dict, cache: bool, compute: Callable):
    if not path or not Path(path).is_file():
        raise AudioError(path or "<no path>", "file not found")
    if not cache:
        return compute()
    from .paths import cache_dir

    ph, fh = _file_key(path, params)
    target = cache_dir() / "explore_features" / ph / f"{fh}.npz"
    if target.exists():
        try:
            with np.load(target, allow_pickle=False) as d:
                return d["rows"].copy(), d["starts"].copy(), [str(s) for s in d["names"]]
        except (OSError, ValueError, KeyError):
            pass
    rows, starts, names = compute()
    atomic_save(target, lambda p: np.savez(p, rows=rows, starts=starts, names=np.array(names, dtype=str)))
    return rows, starts, names


def _track_rows(path: str, *, space: str, pipeline: PipelineConfig, model: str):
    """Rows of one track: (values [shape=(n_rows, d)], segment starts [shape=(n_rows,)], names)."""
    if space.startswith("embedding"):
        from .predict import embed_file  # the pretrained port's API: {"pooled", "penultimate"}

        emb = embed_file(path, model=model)
        key = "penultimate" if space == "embedding_penultimate" else "pooled"
        vec = np.asarray(emb[key], dtype=np.float64).ravel()
        return vec[None, :], np.zeros(1), [f"{key}_{i:04d}" for i in range(len(vec))]
    from .audio import load_audio
    from .features import track_statistics
    from .segments import cut_segments

    y, sr = load_audio(path, config=pipeline.audio)
    segs = cut_segments(y, sr=sr, config=pipeline.segments)
    fc = pipeline.features
    dicts = [
        track_statistics(seg, sr=sr, n_fft=fc.n_fft, hop_length=fc.hop_length, n_mels=fc.n_mels, n_mfcc=fc.n_mfcc)
        for seg in segs.data
    ]
    names = list(dicts[0])
    vals = np.array([[d[k] for k in names] for d in dicts], dtype=np.float64)
    return vals, np.asarray(segs.starts_s, dtype=np.float64), names
