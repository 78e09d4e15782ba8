"""Figures for the Explore view: projections, separability and dataset insight.

Pure builders: arrays and DataFrames (mostly the outputs of
:mod:`musictag_core.explore`) in, a ``plotly.graph_objects.Figure`` out. No
computation beyond arranging data for display, and no streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ..errors import ParameterError

__all__ = [
    "SYMBOLS",
    "color_map",
    "scatter_figure",
    "explained_variance_figure",
    "loadings_figure",
    "centroid_distance_figure",
    "confusion_figure",
    "per_label_figure",
    "class_balance_figure",
    "cooccurrence_figure",
    "labels_per_track_figure",
    "duration_figure",
    "feature_violin_figure",
    "pairwise_figure",
]

#: Marker symbols used for the ``symbol`` column, in order of first appearance
#: (``train``, ``validation``, ``test`` first when present).
SYMBOLS = ("circle", "diamond", "square", "x", "cross", "triangle-up", "star", "hexagon")
_SYMBOLS_3D = ("circle", "diamond", "square", "x", "cross", "circle-open", "diamond-open", "square-open")
_SPLIT_ORDER = ("train", "validation", "test")


def color_map(values: Sequence[Any]) -> dict[str, str]:
    """A stable colour per distinct value (sorted), from plotly's qualitative palettes."""
    keys = sorted({str(v) for v in values})
    palette = qualitative.Plotly if len(keys) <= 10 else qualitative.Alphabet
    return {k: palette[i % len(palette)] for i, k in enumerate(keys)}


def _order(values: Sequence[Any]) -> list[str]:
    uniq = sorted({str(v) for v in values})
    return [s for s in _SPLIT_ORDER if s in uniq] + [s for s in uniq if s not in _SPLIT_ORDER]


def _as_str(col: pd.Series, missing: str = "none") -> np.ndarray:
    return col.astype(object).where(col.notna(), missing).astype(str).to_numpy()


def scatter_figure(
    coords: np.ndarray,
    meta: pd.DataFrame,
    *,
    color: str | None = "genre",
    symbol: str | None = "split",
    hover: Sequence[str] = ("track_id", "genre"),
    dims: int | None = None,
    genres: Sequence[str] | None = None,
    title: str | None = None,
    axis_titles: Sequence[str] | None = None,
    marker_size: float | None = None,
) -> go.Figure:
    """Scatter of projected points, coloured by a label and shaped by a split.

    Parameters
    ----------
    coords : np.ndarray [shape=(n_points, 2 or 3)]
        Projected coordinates (:attr:`Projection.coords`).
    meta : pd.DataFrame [shape=(n_points, ...)]
        One row per point (the ``row_meta`` of ``feature_matrix``); must hold
        ``track_id`` and the ``color``, ``symbol`` and ``hover`` columns.
    color : str or None
        Column to colour by: one trace per value for a categorical column (click
        the legend to hide a genre), a colour scale for a numeric column with
        many values.
    symbol : str or None
        Column giving the marker symbol (``split`` by default); ignored when absent.
    hover : sequence of str
        Columns shown on hover (absent ones are skipped).
    dims : {2, 3} or None
        Plot dimensions (default: ``coords.shape[1]``).
    genres : sequence of str or None
        Show only points whose ``color`` value is in this list.
    title : str or None
    axis_titles : sequence of str or None
        Axis names (for example ``["PC1 (32%)", "PC2 (18%)"]``).
    marker_size : float or None
        Marker size (default: smaller for many points).

    Returns
    -------
    go.Figure
        Every trace's ``customdata[:, 0]`` is the point's ``track_id`` and
        ``customdata[:, 1]`` its row number in ``meta``, for selections.
    """
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise ParameterError(f"coords must have shape (n_points, 2 or 3), got {coords.shape}")
    if len(meta) != len(coords):
        raise ParameterError(f"meta has {len(meta)} rows for {len(coords)} points")
    dims = coords.shape[1] if dims is None else dims
    if dims not in (2, 3) or dims > coords.shape[1]:
        raise ParameterError(f"dims must be 2 or 3 and at most {coords.shape[1]}, got {dims!r}")
    if "track_id" not in meta.columns:
        raise ParameterError("meta needs a 'track_id' column")
    if color is not None and color not in meta.columns:
        raise ParameterError(f"colour column {color!r} not in meta; it has {list(meta.columns)}")
    meta = meta.reset_index(drop=True)
    rows = np.arange(len(meta))
    if genres is not None and color is not None:
        keep = np.isin(_as_str(meta[color]), [str(g) for g in genres])
        rows = rows[keep]
    hover_cols = [h for h in hover if h in meta.columns and h != "track_id"]
    custom = np.column_stack(
        [meta["track_id"].astype(str).to_numpy(), np.arange(len(meta))]
        + [_as_str(meta[h], "") for h in hover_cols]
    ).astype(object)
    tmpl = "<b>%{customdata[0]}</b>" + "".join(
        f"<br>{h}: %{{customdata[{i + 2}]}}" for i, h in enumerate(hover_cols)
    )
    tmpl += "<extra></extra>"
    size = marker_size or (4 if len(rows) > 3000 else 7)
    use_gl = dims == 2 and len(rows) > 3000
    Scatter = go.Scattergl if use_gl else go.Scatter

    def trace(idx: np.ndarray, name: str, marker: dict, legendgroup: str | None, showlegend: bool = True):
        common = dict(
            mode="markers",
            name=name,
            customdata=custom[idx],
            hovertemplate=tmpl,
            marker=marker,
            legendgroup=legendgroup,
            showlegend=showlegend,
        )
        if dims == 3:
            return go.Scatter3d(x=coords[idx, 0], y=coords[idx, 1], z=coords[idx, 2], **common)
        return Scatter(x=coords[idx, 0], y=coords[idx, 1], **common)

    has_symbol = symbol is not None and symbol in meta.columns
    sym_vals = _as_str(meta[symbol]) if has_symbol else np.full(len(meta), "")
    sym_order = _order(sym_vals[rows]) if has_symbol else [""]
    sym_set = _SYMBOLS_3D if dims == 3 else SYMBOLS
    sym_of = {s: sym_set[i % len(sym_set)] for i, s in enumerate(sym_order)}

    fig = go.Figure()
    numeric = (
        color is not None
        and pd.api.types.is_numeric_dtype(meta[color])
        and meta[color].nunique() > 12
    )
    if color is None or numeric:
        marker = {"size": size, "symbol": [sym_of[s] for s in sym_vals[rows]]}
        if numeric:
            marker.update(color=meta[color].to_numpy()[rows], colorscale="Viridis", showscale=True,
                          colorbar={"title": {"text": color}})
        fig.add_trace(trace(rows, color or "points", marker, None))
    else:
        col_vals = _as_str(meta[color])
        cmap = color_map(col_vals)
        for c in sorted(set(col_vals[rows])):
            for j, s in enumerate(sym_order):
                idx = rows[(col_vals[rows] == c) & (sym_vals[rows] == s)]
                if not len(idx):
                    continue
                name = c if not has_symbol or len(sym_order) == 1 else f"{c} · {s}"
                fig.add_trace(trace(idx, name, {"size": size, "color": cmap[c], "symbol": sym_of[s]}, c))
    ax = list(axis_titles) if axis_titles is not None else [f"dim {i + 1}" for i in range(dims)]
    if dims == 3:
        fig.update_layout(scene={"xaxis_title": ax[0], "yaxis_title": ax[1], "zaxis_title": ax[2]})
    else:
        fig.update_layout(xaxis_title=ax[0], yaxis_title=ax[1])
    fig.update_layout(title=title, legend_title_text=color or "", margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def explained_variance_figure(ratios: Sequence[float], *, title: str = "Explained variance per component") -> go.Figure:
    """Bars of each principal component's variance share, with the cumulative line.

    Parameters
    ----------
    ratios : sequence of float [shape=(n_components,)]
        ``explained_variance_ratio_`` (or :func:`musictag_core.explore.explained_variance`).
    """
    r = np.asarray(ratios, dtype=float).ravel()
    names = [f"PC{i + 1}" for i in range(len(r))]
    fig = go.Figure(
        [
            go.Bar(x=names, y=r, name="per component", text=[f"{v:.0%}" for v in r], textposition="outside"),
            go.Scatter(x=names, y=np.cumsum(r), name="cumulative", mode="lines+markers"),
        ]
    )
    fig.update_layout(title=title, yaxis={"tickformat": ".0%", "range": [0, 1.05]}, xaxis_title="component")
    return fig


def loadings_figure(loadings: pd.DataFrame, *, top: int = 10, title: str = "Features driving each axis") -> go.Figure:
    """Horizontal bars of the features with the largest weight in each PCA axis.

    Parameters
    ----------
    loadings : pd.DataFrame [shape=(n_features, n_components)]
        :attr:`Projection.loadings` (index = feature names, columns ``PC1``...).
    top : int
        Features shown per axis.
    """
    if loadings is None or loadings.empty:
        raise ParameterError("loadings are empty; only PCA projections have loadings")
    cols = list(loadings.columns)
    # one axis per row: feature names are long, side-by-side panels would overlap them
    fig = make_subplots(rows=len(cols), cols=1, subplot_titles=cols, vertical_spacing=0.3 / len(cols))
    for j, c in enumerate(cols):
        s = loadings[c]
        s = s.reindex(s.abs().sort_values(ascending=False).index[:top])[::-1]
        fig.add_trace(
            go.Bar(
                x=s.to_numpy(),
                y=[str(i) for i in s.index],
                orientation="h",
                name=c,
                marker_color=np.where(s.to_numpy() >= 0, "#1f77b4", "#d62728").tolist(),
                showlegend=False,
            ),
            row=j + 1,
            col=1,
        )
    fig.update_yaxes(automargin=True)
    fig.update_layout(title=title, height=max(300, len(cols) * (20 * min(top, len(loadings)) + 60) + 80))
    return fig


def _heatmap(df: pd.DataFrame, *, title: str, text_fmt: str, colorscale: str, z: np.ndarray | None = None,
             text: np.ndarray | None = None, xlabel: str = "", ylabel: str = "") -> go.Figure:
    vals = df.to_numpy(dtype=float) if z is None else z
    shown = df.to_numpy() if text is None else text
    fig = go.Figure(
        go.Heatmap(
            z=vals,
            x=[str(c) for c in df.columns],
            y=[str(i) for i in df.index],
            text=np.vectorize(lambda v: format(v, text_fmt))(shown),
            texttemplate="%{text}",
            colorscale=colorscale,
            hovertemplate=f"{ylabel or 'row'}: %{{y}}<br>{xlabel or 'column'}: %{{x}}<br>%{{text}}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel, yaxis={"autorange": "reversed"})
    return fig


def centroid_distance_figure(distances: pd.DataFrame, *, title: str = "Distance between genre centroids") -> go.Figure:
    """Heatmap of the labels x labels centroid distance matrix (``separability()["centroid_distances"]``)."""
    return _heatmap(distances, title=title, text_fmt=".2f", colorscale="Viridis", xlabel="genre", ylabel="genre")


def confusion_figure(confusion: pd.DataFrame, *, normalize: bool = True,
                     title: str = "Leave-one-out k-NN confusion") -> go.Figure:
    """Heatmap of k-NN confusion counts (rows true, columns predicted).

    With ``normalize`` the colour is the row share (recall) and the text shows
    the counts.
    """
    counts = confusion.to_numpy(dtype=float)
    z = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    return _heatmap(confusion, title=title, text_fmt=".0f", colorscale="Blues", z=z, text=counts,
                    xlabel="predicted", ylabel="true")


def per_label_figure(per_label: pd.DataFrame, *, title: str = "Separability per genre") -> go.Figure:
    """Grouped bars of per-label silhouette and k-NN recall (``separability()["per_label"]``)."""
    names = [str(i) for i in per_label.index]
    fig = go.Figure(
        [
            go.Bar(x=names, y=per_label["silhouette"], name="silhouette"),
            go.Bar(x=names, y=per_label["knn_recall"], name="k-NN recall"),
        ]
    )
    fig.update_layout(title=title, barmode="group", yaxis_range=[-1, 1])
    return fig


def class_balance_figure(counts: pd.Series | pd.DataFrame, *, title: str = "Tracks per label") -> go.Figure:
    """Bar chart of tracks per label; stacked by split for a labels x splits table."""
    if isinstance(counts, pd.DataFrame):
        fig = go.Figure([go.Bar(x=[str(i) for i in counts.index], y=counts[c], name=str(c)) for c in counts.columns])
        fig.update_layout(barmode="stack", legend_title_text="split")
    else:
        fig = go.Figure(go.Bar(x=[str(i) for i in counts.index], y=counts.to_numpy(), text=counts.to_numpy(),
                               textposition="outside", name="tracks"))
    fig.update_layout(title=title, xaxis_title="label", yaxis_title="tracks")
    return fig


def cooccurrence_figure(cooc: pd.DataFrame, *, title: str = "Label co-occurrence (tracks)") -> go.Figure:
    """Heatmap of how often two labels share a track (``explore.cooccurrence``)."""
    return _heatmap(cooc, title=title, text_fmt=".0f", colorscale="Blues", xlabel="label", ylabel="label")


def labels_per_track_figure(counts: pd.Series, *, title: str = "Labels per track") -> go.Figure:
    """Bar chart of tracks with 0, 1, 2, ... labels (``explore.labels_per_track``)."""
    fig = go.Figure(go.Bar(x=[str(i) for i in counts.index], y=counts.to_numpy(), text=counts.to_numpy(),
                           textposition="outside"))
    fig.update_layout(title=title, xaxis_title="labels on the track", yaxis_title="tracks", xaxis_type="category")
    return fig


def duration_figure(durations: pd.Series | np.ndarray, *, by: Sequence[str] | None = None,
                    nbins: int = 40, title: str = "Track durations") -> go.Figure:
    """Histogram of durations in seconds, optionally overlaid per label.

    Parameters
    ----------
    durations : pd.Series or np.ndarray [shape=(n_tracks,)]
        Seconds (NaN values are dropped).
    by : sequence of str or None [shape=(n_tracks,)]
        A label per track to overlay one histogram each.
    """
    d = np.asarray(durations, dtype=float)
    ok = np.isfinite(d)
    fig = go.Figure()
    if by is None:
        fig.add_trace(go.Histogram(x=d[ok], nbinsx=nbins, name="tracks"))
    else:
        groups = np.asarray([str(b) for b in by])
        if len(groups) != len(d):
            raise ParameterError(f"by has {len(groups)} entries for {len(d)} durations")
        cmap = color_map(groups)
        for g in sorted(set(groups[ok])):
            fig.add_trace(go.Histogram(x=d[ok & (groups == g)], nbinsx=nbins, name=g, marker_color=cmap[g], opacity=0.6))
        fig.update_layout(barmode="overlay")
    fig.update_layout(title=title, xaxis_title="duration (s)", yaxis_title="tracks")
    return fig


def feature_violin_figure(df: pd.DataFrame, feature: str, *, by: str = "genre", kind: str = "violin",
                          title: str | None = None) -> go.Figure:
    """Distribution of one feature per label, as violins or boxes.

    Parameters
    ----------
    df : pd.DataFrame
        One row per point holding the ``feature`` and ``by`` columns.
    feature : str
        Column to plot.
    by : str
        Grouping column.
    kind : {"violin", "box"}
    """
    for col in (feature, by):
        if col not in df.columns:
            raise ParameterError(f"column {col!r} not in the table; it has {list(df.columns)[:20]}")
    if kind not in ("violin", "box"):
        raise ParameterError(f"kind must be 'violin' or 'box', got {kind!r}")
    groups = _as_str(df[by])
    vals = df[feature].to_numpy(dtype=float)
    cmap = color_map(groups)
    fig = go.Figure()
    for g in sorted(set(groups)):
        y = vals[groups == g]
        if kind == "violin":
            fig.add_trace(go.Violin(y=y, name=g, box_visible=True, meanline_visible=True, line_color=cmap[g], points=False))
        else:
            fig.add_trace(go.Box(y=y, name=g, marker_color=cmap[g], boxmean=True))
    fig.update_layout(title=title or f"{feature} by {by}", yaxis_title=feature, showlegend=False)
    return fig


def pairwise_figure(view: Mapping[str, Any], *, meta: pd.DataFrame | None = None, title: str | None = None) -> go.Figure:
    """PCA of two genres with the linear classifier's cross-validated accuracy in the title.

    Parameters
    ----------
    view : dict
        The result of :func:`musictag_core.explore.pairwise_view`.
    meta : pd.DataFrame or None
        The full ``row_meta``; when given, hover shows track ids (``view["rows"]`` selects rows).
    """
    coords = np.asarray(view["coords"], dtype=float)
    if coords.shape[1] == 1:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    labels = np.asarray(view["labels"]).astype(str)
    if meta is not None:
        m = meta.reset_index(drop=True).iloc[np.asarray(view["rows"])].reset_index(drop=True).copy()
    else:
        m = pd.DataFrame({"track_id": [str(r) for r in view["rows"]]})
    m["genre"] = labels
    evr = np.asarray(view.get("explained_variance_ratio", [np.nan, np.nan]), dtype=float)
    ax = [f"PC{i + 1} ({v:.0%})" if np.isfinite(v) else f"PC{i + 1}" for i, v in enumerate(evr[:2])]
    ax += ["PC2"] * (2 - len(ax))
    acc = f"linear classifier accuracy {view['accuracy_mean']:.1%} ± {view['accuracy_std']:.1%} ({view['cv']}-fold CV)"
    return scatter_figure(coords[:, :2], m, color="genre", symbol="split", dims=2, axis_titles=ax,
                          title=title or f"{view['a']} vs {view['b']}: {acc}")
