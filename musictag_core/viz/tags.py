"""Figures of tagging results: score bars with a threshold, and the taggram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ..errors import ParameterError
from ._checks import as_finite_array, check_positive_int, check_rate, safe_colorscale

__all__ = ["ABOVE_COLOR", "BELOW_COLOR", "genre_bar_figure", "taggram_figure"]

#: Bar colours for scores at/above and below the threshold.
ABOVE_COLOR = "#e4572e"
BELOW_COLOR = "#9aa5b1"


def genre_bar_figure(
    scores: Mapping[str, float],
    *,
    threshold: float = 0.5,
    top_k: int | None = 10,
    title: str | None = "Tag scores",
    height: int | None = None,
) -> go.Figure:
    """Horizontal bars of the highest scores, with a vertical threshold line.

    Parameters
    ----------
    scores : mapping of str to float in [0, 1]
        Score (probability) of each label, e.g. ``TrackPrediction.genre_scores()``.
    threshold : float in [0, 1]
        Decision threshold: bars at or above it are drawn in :data:`ABOVE_COLOR`,
        the others in :data:`BELOW_COLOR`, and a dashed line marks it.
    top_k : int or None
        Show only the ``top_k`` highest scores (``None``: all).
    title : str or None
    height : int or None
        Pixels; by default it grows with the number of bars.

    Returns
    -------
    go.Figure
        One ``Bar`` trace (``orientation="h"``), highest score on top, x axis
        ``[0, 1]``, and one line shape at ``x = threshold``.
    """
    if not isinstance(scores, Mapping) or len(scores) == 0:
        raise ParameterError(f"scores must be a non-empty mapping of label to score, got {scores!r}")
    labels = [str(k) for k in scores]
    values = as_finite_array("scores", [scores[k] for k in scores], ndim=1)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) or not (
        0.0 <= float(threshold) <= 1.0
    ):
        raise ParameterError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    threshold = float(threshold)
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    order = np.argsort(-values, kind="stable")[:top_k]
    shown = [labels[i] for i in order]
    vals = values[order]
    colors = [ABOVE_COLOR if v >= threshold else BELOW_COLOR for v in vals]
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=shown,
            orientation="h",
            marker_color=colors,
            text=[f"{v:.2f}" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            name="score",
        )
    )
    fig.add_vline(
        x=threshold,
        line=dict(color="#333333", width=1.5, dash="dash"),
        annotation_text=f"threshold {threshold:.2f}",
        annotation_position="top",
    )
    fig.update_xaxes(range=[0.0, 1.0], title="score")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(
        title=title,
        height=height or 110 + 26 * len(shown),
        margin=dict(l=10, r=30, t=60 if title else 30, b=40),
        showlegend=False,
    )
    return fig


def taggram_figure(
    segment_starts_s: Sequence[float] | np.ndarray,
    segment_scores: np.ndarray,
    labels: Sequence[str],
    *,
    top_k: int | None = None,
    segment_duration_s: float | None = None,
    title: str | None = "Taggram",
    height: int | None = None,
) -> go.Figure:
    """Heatmap of tag scores per segment over time (the taggram).

    Parameters
    ----------
    segment_starts_s : np.ndarray [shape=(n_seg,)]
        Start time of each segment in seconds, strictly increasing.
    segment_scores : np.ndarray [shape=(n_seg, n_labels)]
        Score of each label in each segment, in [0, 1].
    labels : sequence of str [length n_labels]
    top_k : int or None
        Keep only the ``top_k`` labels with the highest mean score over segments.
    segment_duration_s : float or None
        Length of a segment. Defaults to the spacing of the starts (or 1 s for a single segment).
        Each column is centred on its segment, ``start + duration / 2``.
    title : str or None
    height : int or None

    Returns
    -------
    go.Figure
        One ``Heatmap`` with ``z`` of shape (n_shown_labels, n_seg), rows ordered by mean
        score (highest on top), colours fixed to [0, 1], x in seconds, and hover text giving
        the tag, the segment's start–end and the score.
    """
    starts = as_finite_array("segment_starts_s", segment_starts_s, ndim=1)
    scores = as_finite_array("segment_scores", segment_scores, ndim=2)
    labels = [str(x) for x in labels]
    n_seg = starts.shape[0]
    if scores.shape != (n_seg, len(labels)):
        raise ParameterError(
            f"segment_scores must have shape (n_seg, n_labels) = ({n_seg}, {len(labels)}), "
            f"got {scores.shape}"
        )
    if n_seg > 1 and not np.all(np.diff(starts) > 0):
        raise ParameterError("segment_starts_s must be strictly increasing")
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    hop = float(np.median(np.diff(starts))) if n_seg > 1 else None
    if segment_duration_s is not None:
        dur = check_rate("segment_duration_s", segment_duration_s)
    else:
        dur = hop if hop is not None else 1.0
    width = hop if hop is not None else dur  # each column is one hop wide
    order = np.argsort(-scores.mean(axis=0), kind="stable")[:top_k]
    z = scores[:, order].T  # (n_shown, n_seg)
    shown = [labels[i] for i in order]
    centers = starts + dur / 2.0
    ends = starts + dur
    custom = np.stack(
        [np.broadcast_to(starts, z.shape), np.broadcast_to(ends, z.shape)], axis=-1
    ).astype(np.float32)  # sent as float32: half the bytes, hover shows 0.1 s anyway
    z = z.astype(np.float32)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=centers.astype(np.float32),
            y=shown,
            customdata=custom,
            zmin=0.0,
            zmax=1.0,
            colorscale=safe_colorscale("Viridis"),
            colorbar=dict(title=dict(text="score")),
            hovertemplate=(
                "%{y}<br>%{customdata[0]:.1f}–%{customdata[1]:.1f} s<br>score %{z:.2f}<extra></extra>"
            ),
            name="taggram",
        )
    )
    fig.update_xaxes(range=[centers[0] - width / 2, centers[-1] + width / 2], title="time (s)")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(
        title=title,
        height=height or 120 + 18 * len(shown),
        margin=dict(l=10, r=20, t=50 if title else 20, b=45),
    )
    return fig
