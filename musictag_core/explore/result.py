"""Explore in one call: filter genres, project, and measure separability in both spaces.

:func:`explore` takes a feature matrix (:func:`~musictag_core.explore.spaces.load_matrix`),
fits the projection (:func:`~musictag_core.explore.projection.project`, cached
per data and parameters) and computes
:func:`~musictag_core.explore.separation.separability` in the full standardised
space and in the projection. Results are handed out as
:meth:`ExploreResult.table` (coordinates + metadata for a CSV),
:meth:`ExploreResult.summary` (JSON), :func:`selected_rows` (rows picked in a
plotly selection event) and :func:`figures_json`. Nothing here imports streamlit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..fileio import json_default
from .checks import ProgressCallback
from .neighbours import neighbour_preservation
from .projection import Projection, ProjectionConfig, fit_config, project
from .separation import separability, separability_json

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

__all__ = ["ExploreResult", "color_columns", "explore", "figures_json", "selected_rows"]


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
        :func:`~musictag_core.explore.separability` in the full (standardised) space.
    projected : dict
        The same in the projection's coordinates.
    k : int
        Neighbours of the leave-one-out k-NN.
    notes : list of str
        Parameters adjusted for the data (see :func:`fit_config`).
    neighbourhoods : dict
        How well the projection keeps neighbourhoods
        (:func:`~musictag_core.explore.neighbours.neighbour_preservation`: ``trustworthiness``, ``knn_kept``).
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
    neighbourhoods: dict = field(default_factory=dict)

    @property
    def config(self) -> ProjectionConfig:
        """The projection settings of this result (its projection's config)."""
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
            "neighbourhoods": dict(self.neighbourhoods),
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
        ``row_meta`` of :func:`~musictag_core.explore.feature_matrix` (needs ``genre``).
    config : ProjectionConfig or None
        Default: standardised 2-D PCA. Parameters too large for the data are
        lowered (:func:`fit_config`) and reported in ``notes``.
    genres : sequence of str or None
        Keep only points of these genres (default all).
    k : int
        Neighbours of the leave-one-out k-NN (lowered to ``n_points - 1``).
    cache : ProjectionCache or bool
        Passed to :func:`~musictag_core.explore.project`.
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
    hoods = neighbour_preservation(X, proj.coords, k=10, standardize=config.standardize) if len(X) >= 5 else {}
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
        neighbourhoods=hoods,
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
    return json.dumps(doc, default=json_default)
