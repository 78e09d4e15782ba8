"""Explore bundles: a dataset source, a feature space, a projection and its separability, in one call.

The Explore page (and anyone scripting the same view) needs four steps glued
together, none of which belongs in a page:

1. **Open a source** -- :class:`DatasetSource` names where the data comes from
   (the demo corpus, a path under the data folders, an uploaded zip of a
   folder-per-genre tree, or an uploaded feature-table CSV); :func:`open_source`
   opens it as a :class:`~musictag_core.datasets.base.DatasetIndex`.
   Uploads are written with :func:`save_zip_upload` (validated by
   :func:`~musictag_core.uploads.safe_extract_zip`) and
   :func:`save_table_upload` into a per-session
   :class:`~musictag_core.uploads.SessionWorkspace`.
2. **Describe every track** -- :func:`load_matrix` wraps
   :func:`~musictag_core.project.feature_matrix` with a bounded in-memory
   :class:`BoundedCache` keyed by (source, space, level, deltas), so revisiting
   a page re-reads nothing.
3. **Project and measure** -- :func:`explore` filters genres, fits the
   projection (:func:`~musictag_core.project.project`, itself cached per data
   and parameters) and computes :func:`~musictag_core.project.separability` in
   the full standardised space and in the projection.
4. **Hand results out** -- :meth:`ExploreResult.table` (coordinates + metadata
   for a CSV), :meth:`ExploreResult.summary` (JSON), :func:`selected_rows`
   (rows picked in a plotly selection event), :func:`figures_json`.

Nothing here imports streamlit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import DatasetError, ParameterError
from .lru import BoundedCache
from .project import (
    ProgressCallback,
    Projection,
    ProjectionConfig,
    feature_matrix,
    project,
    separability,
    separability_json,
)

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from .datasets.base import DatasetIndex
    from .uploads import SessionWorkspace

__all__ = [
    "SOURCE_KINDS",
    "AUDIO_SPACES",
    "SPACE_LABELS",
    "DatasetSource",
    "open_source",
    "demo_ready",
    "save_zip_upload",
    "save_table_upload",
    "dataset_root",
    "spaces_for",
    "levels_for",
    "BoundedCache",
    "load_matrix",
    "fit_config",
    "ExploreResult",
    "explore",
    "color_columns",
    "selected_rows",
    "figures_json",
]

#: Where a dataset can come from.
SOURCE_KINDS = ("demo", "path", "zip", "table")

#: Feature spaces of datasets with audio (everything but ``table``).
AUDIO_SPACES = ("mfcc_stats", "stats", "logmel_stats", "embedding_penultimate", "embedding_pooled")

#: Human-readable names of the feature spaces.
SPACE_LABELS = {
    "mfcc_stats": "MFCC statistics (mean, std of 13 MFCCs)",
    "stats": "Summary statistics (spectral, rhythm, MFCC)",
    "logmel_stats": "Log-mel band statistics (128 bands)",
    "embedding_penultimate": "musicnn embedding (penultimate, 200-d)",
    "embedding_pooled": "musicnn embedding (pooled, 1506-d)",
    "table": "Feature-table columns",
}


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSource:
    """Where an Explore dataset comes from.

    Parameters
    ----------
    kind : {"demo", "path", "zip", "table"}
        ``demo``: the generated demo corpus; ``path``: any dataset form the
        core reads (:func:`~musictag_core.datasets.open_dataset`) at ``path``;
        ``zip``: an extracted folder-per-genre tree at ``path``; ``table``: a
        feature-table CSV at ``path`` with labels in ``label_column``.
    path : str
        The folder or file (empty for ``demo``). Resolve user-typed paths with
        :func:`~musictag_core.uploads.resolve_user_path` first.
    label_column : str
        ``table`` only: the column holding each row's genre.
    digest : str
        Content hash of an upload (part of :meth:`key`, so a new upload under
        the same name is not mistaken for the old one).
    """

    kind: str = "demo"
    path: str = ""
    label_column: str = "label"
    digest: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ParameterError(f"source kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if self.kind != "demo" and not str(self.path).strip():
            raise ParameterError(f"a {self.kind!r} source needs a path")
        if self.kind == "table" and not str(self.label_column).strip():
            raise ParameterError("a feature table needs the name of its label column")

    def key(self) -> str:
        """A string that changes whenever the data may have changed (kind, path, file times, digest)."""
        if self.kind == "demo":
            return "demo"
        p = Path(self.path)
        try:
            stamp = f"{p.stat().st_mtime_ns}:{p.stat().st_size}"
        except OSError:
            stamp = "missing"
        extra = self.label_column if self.kind in ("table", "path") else ""
        return f"{self.kind}:{p}:{stamp}:{self.digest}:{extra}"

    def describe(self) -> str:
        """One line for captions."""
        if self.kind == "demo":
            return "the demo corpus"
        what = {"path": "dataset", "zip": "uploaded zip", "table": "feature table"}[self.kind]
        return f"{what} {Path(self.path).name}"


def open_source(
    source: DatasetSource,
    *,
    label_column: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetIndex:
    """Open a :class:`DatasetSource` as a dataset index.

    Parameters
    ----------
    source : DatasetSource
    label_column : str or None
        For a ``path`` source that is a feature-table CSV whose labels are not
        in a ``label`` column.
    progress : callable or None
        ``progress(done, total)`` while the demo corpus is generated (first use only).

    Returns
    -------
    DatasetIndex

    Raises
    ------
    DatasetError
        The data cannot be read (the message names the file and the reason).
    """
    from .datasets import open_dataset
    from .datasets.demo import load_demo

    if source.kind == "demo":
        return load_demo(progress=progress)
    if source.kind == "table":
        return open_dataset(source.path, format="features", label_column=source.label_column)
    if source.kind == "zip":
        return open_dataset(source.path, format="folder")
    if label_column:
        return open_dataset(source.path, format="features", label_column=label_column)
    return open_dataset(source.path)


def demo_ready(*, seed: int = 0, n_per_style: int = 20) -> bool:
    """Whether the demo corpus is already generated in the cache (opening it is then instant).

    Generating it takes a minute or two on a small machine; its ``metadata.json``
    is written last and marks a complete corpus.
    """
    from .datasets.demo import DEMO_VERSION
    from .paths import cache_dir

    name = f"{DEMO_VERSION}-seed{int(seed)}" + ("" if n_per_style == 20 else f"-n{int(n_per_style)}")
    return (cache_dir() / name / "metadata.json").is_file()


def dataset_root(folder: str | Path) -> Path:
    """The folder-per-genre root inside an extracted archive.

    Zips made by compressing a folder hold one wrapper folder
    (``mydata/blues/a.wav``); descend through single folders that hold no
    files until the genre folders appear.
    """
    root = Path(folder)
    for _ in range(8):
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        dirs = [p for p in entries if p.is_dir()]
        if len(dirs) == 1 and len(entries) == 1:
            root = dirs[0]
        else:
            break
    return root


def _digest(data: bytes) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def save_zip_upload(
    data: bytes, *, name: str, workspace: SessionWorkspace, limit: int | None = None
) -> tuple[DatasetSource, list[str]]:
    """Extract an uploaded zip of a folder-per-genre tree into a session workspace.

    The archive is checked with :func:`~musictag_core.uploads.check_upload_size`
    and extracted with :func:`~musictag_core.uploads.safe_extract_zip` (path
    traversal, links and zip bombs refuse the whole archive). The same content
    uploaded again is not extracted again.

    Parameters
    ----------
    data : bytes
        The zip file.
    name : str
        Its name (quoted in errors).
    workspace : SessionWorkspace
        The session's folder; the tree goes to ``explore/<digest>/``.
    limit : int or None
        Upload limit in bytes (default :func:`~musictag_core.uploads.limits`).

    Returns
    -------
    source : DatasetSource
        ``kind="zip"`` pointing at the genre folders.
    notes : list of str
        What was skipped (non-audio files, nested archives).

    Raises
    ------
    ParameterError
        The file is over the upload limit.
    DatasetError
        A hostile or broken archive, or one without audio files.
    """
    from .uploads import check_upload_size, safe_extract_zip

    check_upload_size(len(data), limit=limit, name=name)
    digest = _digest(data)
    base = workspace.create() / "explore" / digest[:24]
    dest = base / "tree"
    done = base / ".complete"
    notes: list[str] = []
    if not done.exists():
        import shutil

        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        buf = io.BytesIO(bytes(data))
        buf.name = name  # error messages name the upload
        try:
            extracted = safe_extract_zip(buf, dest)
        except DatasetError:
            shutil.rmtree(base, ignore_errors=True)
            raise
        notes = extracted.notes()
        audio = [p for p in extracted if p.suffix.lower() != ".csv"]
        if not audio:
            shutil.rmtree(base, ignore_errors=True)
            raise DatasetError(
                f"{name}: no audio files inside; zip a folder that holds one folder per genre "
                "(blues/a.wav, jazz/b.mp3, ...)"
            )
        done.write_text(json.dumps({"name": name, "notes": notes}))
    else:
        notes = json.loads(done.read_text()).get("notes", [])
    workspace.touch()
    return DatasetSource(kind="zip", path=str(dataset_root(dest)), digest=digest), notes


def save_table_upload(
    data: bytes, *, name: str, workspace: SessionWorkspace, label_column: str = "label", limit: int | None = None
) -> DatasetSource:
    """Save an uploaded feature-table CSV into a session workspace.

    Returns
    -------
    DatasetSource
        ``kind="table"``; open it with :func:`open_source`.

    Raises
    ------
    ParameterError
        Over the upload limit, or no label column named.
    """
    digest = _digest(data)
    folder = workspace.create() / "explore" / digest[:24]
    target = folder / "table.csv"
    if not target.exists():
        from .uploads import check_upload_size

        check_upload_size(len(data), limit=limit, name=name)
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(data))
    workspace.touch()
    return DatasetSource(kind="table", path=str(target), label_column=label_column, digest=digest)


def spaces_for(index: DatasetIndex) -> list[str]:
    """Feature spaces that exist for a dataset: ``table`` for feature tables, the audio spaces otherwise."""
    if index.features is not None:
        return ["table"]
    return list(AUDIO_SPACES)


def levels_for(space: str) -> list[str]:
    """``["track", "segment"]``, or ``["track"]`` for spaces with one vector per track."""
    if space in ("table", "embedding_penultimate", "embedding_pooled"):
        return ["track"]
    return ["track", "segment"]


# ---------------------------------------------------------------------------
# Feature matrices, cached in memory
# ---------------------------------------------------------------------------


def _copy_matrix(value: tuple[np.ndarray, list[str], pd.DataFrame]) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    X, names, meta = value
    out = meta.copy()
    out.attrs = dict(meta.attrs)
    return X, list(names), out


def load_matrix(
    index: DatasetIndex,
    *,
    source_key: str,
    space: str = "mfcc_stats",
    level: str = "track",
    deltas: bool = False,
    cache: BoundedCache | None = None,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """:func:`~musictag_core.project.feature_matrix`, remembered in ``cache`` under (source, space, level, deltas).

    Parameters
    ----------
    index : DatasetIndex
    source_key : str
        :meth:`DatasetSource.key` of the source ``index`` came from.
    space, level, deltas, n_jobs, progress
        As in :func:`~musictag_core.project.feature_matrix` (``deltas`` is
        ignored outside ``mfcc_stats``).
    cache : BoundedCache or None
        Remembers matrices in memory (a hit returns a read-only ``X``).

    Returns
    -------
    X : np.ndarray [shape=(n_rows, n_features)] (read-only when cached)
    feature_names : list of str
    row_meta : pd.DataFrame
    """
    deltas = bool(deltas) and space == "mfcc_stats"
    key = (source_key, space, level, deltas)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            if progress:
                progress(1.0, "features from memory")
            return _copy_matrix(hit)
    X, names, meta = feature_matrix(index, space=space, level=level, deltas=deltas, n_jobs=n_jobs, progress=progress)
    if cache is not None:
        X = np.asarray(X)
        X.setflags(write=False)  # shared between callers
        cache.put(key, _copy_matrix((X, names, meta)))
    return X, list(names), meta


# ---------------------------------------------------------------------------
# Projection + separability
# ---------------------------------------------------------------------------


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


@dataclass
class ExploreResult:
    """One dataset in one feature space, projected, with its separability.

    Attributes
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
        The features of the shown points (after the genre filter).
    feature_names : list of str [shape=(n_features,)]
    meta : pd.DataFrame [shape=(n_points, ...)]
        ``row_meta`` of the shown points (index reset).
    labels : np.ndarray [shape=(n_points,)]
        Genre per point.
    projection : Projection
    full : dict
        :func:`~musictag_core.project.separability` in the full (standardised) space.
    projected : dict
        The same in the projection's coordinates.
    k : int
        Neighbours of the leave-one-out k-NN.
    notes : list of str
        Parameters adjusted for the data (see :func:`fit_config`).
    """

    X: np.ndarray
    feature_names: list[str]
    meta: pd.DataFrame
    labels: np.ndarray
    projection: Projection
    full: dict
    projected: dict
    k: int
    notes: list[str] = field(default_factory=list)

    @property
    def config(self) -> ProjectionConfig:
        return self.projection.config

    def axis_titles(self) -> list[str]:
        """``PC1 (31%)``... for PCA, ``UMAP 1``... / ``t-SNE 1``... otherwise."""
        proj = self.projection
        if proj.explained_variance_ratio_ is not None:
            return [f"PC{i + 1} ({v:.0%})" for i, v in enumerate(proj.explained_variance_ratio_)]
        name = {"umap": "UMAP", "tsne": "t-SNE"}.get(self.config.method, self.config.method)
        return [f"{name} {i + 1}" for i in range(proj.coords.shape[1])]

    def table(self) -> pd.DataFrame:
        """One row per point: metadata (without file paths) and coordinates ``x``, ``y`` (, ``z``)."""
        out = self.meta.drop(columns=["row", "path"], errors="ignore").copy()
        for i, axis in enumerate("xyz"[: self.projection.coords.shape[1]]):
            out[axis] = self.projection.coords[:, i]
        out["knn_prediction_full"] = np.asarray(self.full["knn_predictions"]).astype(str)
        return out

    def feature_frame(self) -> pd.DataFrame:
        """``meta`` with one column per feature (for per-genre violins)."""
        feats = pd.DataFrame(self.X, columns=self.feature_names)
        return pd.concat([self.meta.reset_index(drop=True), feats], axis=1)

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable figures: parameters, separability in both spaces, PCA variance and top features."""
        out: dict[str, Any] = {
            "projection": self.config.to_dict(),
            "n_points": int(len(self.X)),
            "n_features": int(self.X.shape[1]),
            "k": self.k,
            "notes": list(self.notes),
            "full_space": separability_json(self.full),
            "projection_space": separability_json(self.projected),
        }
        proj = self.projection
        if proj.explained_variance_ratio_ is not None and proj.loadings is not None:
            out["explained_variance_ratio"] = [round(float(v), 6) for v in proj.explained_variance_ratio_]
            out["top_features"] = {
                c: {str(k): round(float(v), 6) for k, v in proj.top_features(i, n=5).items()}
                for i, c in enumerate(proj.loadings.columns)
            }
        return out


def explore(
    X: np.ndarray,
    feature_names: Sequence[str],
    meta: pd.DataFrame,
    *,
    config: ProjectionConfig | None = None,
    genres: Sequence[str] | None = None,
    k: int = 5,
    cache: Any = True,
    progress: ProgressCallback | None = None,
) -> ExploreResult:
    """Filter genres, project, and measure separability in the full space and in the projection.

    Parameters
    ----------
    X : np.ndarray [shape=(n_rows, n_features)]
    feature_names : sequence of str [shape=(n_features,)]
    meta : pd.DataFrame [shape=(n_rows, ...)]
        ``row_meta`` of :func:`~musictag_core.project.feature_matrix` (needs ``genre``).
    config : ProjectionConfig or None
        Default: standardised 2-D PCA. Parameters too large for the data are
        lowered (:func:`fit_config`) and reported in ``notes``.
    genres : sequence of str or None
        Keep only points of these genres (default all).
    k : int
        Neighbours of the leave-one-out k-NN (lowered to ``n_points - 1``).
    cache : ProjectionCache or bool
        Passed to :func:`~musictag_core.project.project`.
    progress : callable or None
        ``progress(fraction, message)`` of the projection.

    Returns
    -------
    ExploreResult

    Raises
    ------
    ParameterError
        Unknown genres, or fewer than two genres or three points left.
    """
    config = ProjectionConfig() if config is None else config
    X = np.asarray(X, dtype=np.float64)
    if len(meta) != len(X):
        raise ParameterError(f"meta has {len(meta)} rows for {len(X)} feature rows")
    if "genre" not in meta.columns:
        raise ParameterError("meta needs a 'genre' column")
    genre = meta["genre"].astype(str).to_numpy()
    if genres is not None:
        wanted = [str(g) for g in genres]
        unknown = sorted(set(wanted) - set(genre))
        if unknown:
            raise ParameterError(f"genre(s) {unknown} not in the data; it has {sorted(set(genre))}")
        keep = np.isin(genre, wanted)
        X, meta, genre = X[keep], meta[keep], genre[keep]
    meta = meta.reset_index(drop=True)
    n_genres = len(set(genre))
    if n_genres < 2:
        raise ParameterError(f"pick at least two genres to compare, got {sorted(set(genre))}")
    if len(X) < 4 or n_genres >= len(X):
        raise ParameterError(f"too few points ({len(X)}) for {n_genres} genres; pick more genres or more data")
    config, notes = fit_config(config, len(X))
    k_used = int(max(1, min(k, len(X) - 1)))
    if k_used != k:
        notes.append(f"k lowered from {k} to {k_used} ({len(X)} points)")
    proj = project(X, config=config, feature_names=list(feature_names), cache=cache, progress=progress)
    full = separability(X, genre, k=k_used, standardize=config.standardize)
    projected = separability(proj.coords, genre, k=k_used, standardize=False)
    return ExploreResult(
        X=X,
        feature_names=list(feature_names),
        meta=meta,
        labels=genre.astype(object),
        projection=proj,
        full=full,
        projected=projected,
        k=k_used,
        notes=notes,
    )


def color_columns(meta: pd.DataFrame) -> list[str]:
    """Columns worth colouring a scatter by: ``genre`` first, then labels, split, artist, segment with 2+ values."""
    out = ["genre"]
    for col in ("labels", "split", "artist", "segment"):
        if col in meta.columns and meta[col].astype(object).where(meta[col].notna(), "none").nunique() > 1:
            out.append(col)
    return out


def selected_rows(selection: Mapping[str, Any] | None, n_rows: int) -> list[int]:
    """Rows of ``meta`` picked in a plotly selection event (click, box or lasso).

    Parameters
    ----------
    selection : mapping or None
        The ``selection`` of Streamlit's ``st.plotly_chart(..., on_select=...)``
        event: ``{"points": [{"customdata": [track_id, row, ...], ...}, ...]}``
        (figures from :func:`~musictag_core.viz.explore.scatter_figure` carry
        the row in ``customdata[1]``).
    n_rows : int
        Number of rows of ``meta`` (rows outside ``[0, n_rows)`` are dropped).

    Returns
    -------
    list of int
        Unique rows in selection order.
    """
    if not selection:
        return []
    points = selection.get("points") if isinstance(selection, Mapping) else getattr(selection, "points", None)
    out: list[int] = []
    seen: set[int] = set()
    for p in points or []:
        custom = p.get("customdata") if isinstance(p, Mapping) else None
        if not isinstance(custom, (list, tuple)) or len(custom) < 2:
            continue
        try:
            row = int(float(custom[1]))
        except (TypeError, ValueError):
            continue
        if 0 <= row < n_rows and row not in seen:
            seen.add(row)
            out.append(row)
    return out


def figures_json(figures: Mapping[str, go.Figure], *, summary: Mapping[str, Any] | None = None) -> str:
    """Plotly JSON of several figures (and an optional summary) in one document.

    Returns
    -------
    str
        ``{"summary": {...}, "figures": {name: plotly figure JSON}}``; each
        figure loads back with ``plotly.io.from_json(json.dumps(doc["figures"][name]))``.
    """
    doc = {
        "summary": dict(summary) if summary is not None else {},
        "figures": {name: json.loads(fig.to_json()) for name, fig in figures.items()},
    }
    return json.dumps(doc, default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)
