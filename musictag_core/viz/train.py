"""Figures of training runs: loss and metric curves, confusion, per-label F1, metric tables.

Pure builders (data in, ``go.Figure`` or ``pd.DataFrame`` out) over the run
files of :mod:`musictag_core.runs`: events (``events.jsonl``, or the epoch
table of :func:`musictag_core.runs.epoch_table`) and the evaluation of
:func:`musictag_core.evaluate.evaluate_predictions` (``metrics.json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..errors import ParameterError
from ..evaluate import METRIC_ORDER, METRICS, metric_label, metric_sort_key
from ._checks import safe_colorscale

__all__ = [
    "TRAIN_COLOR",
    "VALIDATION_COLOR",
    "BATCH_COLOR",
    "curve_metrics",
    "curves_figure",
    "overlay_curves_figure",
    "confusion_figure",
    "label_confusion_figure",
    "evaluation_confusion_figure",
    "per_label_f1_figure",
    "metrics_table",
    "compare_metrics_figure",
]

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#e4572e"
BATCH_COLOR = "rgba(31, 119, 180, 0.25)"

_RUN_COLORS = [
    "#1f77b4", "#e4572e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e",
]  # fmt: skip


def _as_epoch_table(history: Any) -> pd.DataFrame:
    if isinstance(history, pd.DataFrame):
        df = history
    elif isinstance(history, Sequence) and not isinstance(history, (str, bytes)):
        from ..runs import epoch_table

        df = epoch_table(history)
    else:
        raise ParameterError(
            f"history must be an epoch table (DataFrame) or a list of run events, got {type(history).__name__}"
        )
    if "epoch" not in df.columns:
        raise ParameterError(f"history needs an 'epoch' column, got columns {list(df.columns)}")
    if "fold" in df.columns and df["fold"].notna().any():
        df = df[df["fold"] == df["fold"].dropna().iloc[-1]]  # the newest fold
    return df


def curve_metrics(history: Any) -> list[str]:
    """Metrics with at least one finite value in an epoch table (``loss`` first)."""
    df = _as_epoch_table(history)
    names = []
    for col in df.columns:
        for split in ("train_", "validation_"):
            if col.startswith(split):
                name = col[len(split):]
                if name not in names and pd.to_numeric(df[col], errors="coerce").notna().any():
                    names.append(name)
    return sorted(names, key=lambda n: (n != "loss", *metric_sort_key(n)))


def _series(df: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    if col not in df.columns:
        return np.array([]), np.array([])
    y = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
    x = df["epoch"].to_numpy(dtype=np.float64)
    ok = np.isfinite(y)
    return x[ok], y[ok]


def _pool(a: np.ndarray, g: int) -> np.ndarray:
    """Means of consecutive groups of ``g`` values (the last group may be shorter)."""
    n = len(a) // g * g
    head = a[:n].reshape(-1, g).mean(axis=1)
    return np.concatenate([head, [a[n:].mean()]]) if n < len(a) else head


def curves_figure(
    history: Any,
    *,
    metric: str = "loss",
    batches: pd.DataFrame | None = None,
    batches_per_epoch: int | None = None,
    title: str | None = None,
    height: int = 340,
    max_batch_points: int = 2000,
) -> go.Figure:
    """Train and validation curves of one metric per epoch, optionally with the batch loss.

    Parameters
    ----------
    history : pd.DataFrame or list of dict
        :func:`musictag_core.runs.epoch_table` output, or the run's events.
        With cross-validation only the newest fold is drawn.
    metric : str
        ``loss`` or a metric logged per epoch (``accuracy``, ``map_macro``, ...).
    batches : pd.DataFrame or None
        :func:`musictag_core.runs.batch_table` (``step``, ``loss``); drawn
        as a faint trace when ``metric == "loss"``.
    batches_per_epoch : int or None
        Places batch ``step`` at epoch ``step / batches_per_epoch``; default:
        from the epoch table's ``step`` column.
    title : str or None
    height : int
    max_batch_points : int
        The batch trace is averaged down to at most this many points.

    Returns
    -------
    go.Figure
        Traces named ``train``, ``validation`` (each only when it has values)
        and ``batch loss``; x axis in epochs (epoch ``k`` ends at ``x = k``).
    """
    if not isinstance(metric, str) or not metric:
        raise ParameterError(f"metric must be a metric name, got {metric!r}")
    df = _as_epoch_table(history)
    fig = go.Figure()
    if metric == "loss" and batches is not None and len(batches):
        if "fold" in batches.columns and batches["fold"].notna().any():
            batches = batches[batches["fold"] == batches["fold"].dropna().iloc[-1]]
        bpe = batches_per_epoch
        if not bpe and len(df) and "step" in df.columns:
            steps = pd.to_numeric(df["step"], errors="coerce").to_numpy(dtype=np.float64)
            ok = np.isfinite(steps) & (df["epoch"].to_numpy() > 0)
            if ok.any():
                bpe = float(steps[ok][-1] / df["epoch"].to_numpy()[ok][-1])
        step = pd.to_numeric(batches["step"], errors="coerce").to_numpy(dtype=np.float64)
        loss = pd.to_numeric(batches["loss"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(step) & np.isfinite(loss)
        step, loss = step[ok], loss[ok]
        if len(step) > max_batch_points:
            g = math.ceil(len(step) / max_batch_points)
            step, loss = _pool(step, g), _pool(loss, g)
        if len(step):
            x = step / bpe if bpe else step
            fig.add_trace(go.Scatter(
                x=x, y=loss, name="batch loss", mode="lines", line={"color": BATCH_COLOR, "width": 1},
                hovertemplate="batch %{customdata}<br>loss %{y:.4f}<extra></extra>", customdata=step.astype(int),
            ))  # fmt: skip
    for split, color in (("train", TRAIN_COLOR), ("validation", VALIDATION_COLOR)):
        x, y = _series(df, f"{split}_{metric}")
        if len(x):
            fig.add_trace(go.Scatter(
                x=x, y=y, name=split, mode="lines+markers", line={"color": color, "width": 2},
                marker={"size": 6}, hovertemplate=f"epoch %{{x:.0f}}<br>{split} %{{y:.4f}}<extra></extra>",
            ))  # fmt: skip
    label = metric_label(metric)
    fig.update_layout(
        title=title if title is not None else f"{label} per epoch",
        height=height,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        xaxis_title="epoch",
        yaxis_title=label,
        meta={"metric": metric, "epochs": int(len(df))},
    )
    if len(df) <= 12:
        fig.update_xaxes(dtick=1)
    return fig


def overlay_curves_figure(
    runs: Mapping[str, Any],
    *,
    metric: str = "loss",
    splits: Sequence[str] = ("validation", "train"),
    title: str | None = None,
    height: int = 380,
) -> go.Figure:
    """Curves of several runs on one figure (one colour per run; validation solid, train dotted).

    Parameters
    ----------
    runs : mapping of str to (pd.DataFrame or list of dict)
        Run name → epoch table or events.
    metric : str
    splits : sequence of {"validation", "train"}
    title : str or None
    height : int

    Returns
    -------
    go.Figure
        One trace ``"<run> · <split>"`` per run and split that has values.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ParameterError(f"runs must be a non-empty mapping of run name to history, got {runs!r}")
    bad = [s for s in splits if s not in ("train", "validation")]
    if bad:
        raise ParameterError(f"splits must be 'train' and/or 'validation', got {bad}")
    fig = go.Figure()
    for i, (name, history) in enumerate(runs.items()):
        df = _as_epoch_table(history)
        color = _RUN_COLORS[i % len(_RUN_COLORS)]
        for split in splits:
            x, y = _series(df, f"{split}_{metric}")
            if len(x):
                fig.add_trace(go.Scatter(
                    x=x, y=y, name=f"{name} · {split}", mode="lines+markers", legendgroup=str(name),
                    line={"color": color, "width": 2, "dash": "solid" if split == "validation" else "dot"},
                    marker={"size": 5},
                ))  # fmt: skip
    label = metric_label(metric)
    fig.update_layout(
        title=title if title is not None else f"{label} per epoch",
        height=height,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.25},
        xaxis_title="epoch",
        yaxis_title=label,
        meta={"metric": metric},
    )
    return fig


def confusion_figure(
    matrix: Any,
    labels: Sequence[str],
    *,
    normalize: bool = True,
    title: str | None = "Confusion matrix (test split)",
    height: int | None = None,
) -> go.Figure:
    """Heatmap of a single-label confusion matrix (rows: true label, columns: predicted).

    Parameters
    ----------
    matrix : array-like [shape=(n_labels, n_labels)]
        Counts, ``matrix[i, j]``: tracks of label ``i`` predicted as ``j``.
    labels : sequence of str [shape=(n_labels,)]
    normalize : bool
        Colour by the fraction of each true label's tracks (recall per row);
        the cell text always shows the counts.
    title : str or None
    height : int or None

    Returns
    -------
    go.Figure
        One ``Heatmap`` trace; the first label is the top row.
    """
    try:
        M = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"matrix must be a numeric square array, got {type(matrix).__name__}") from None
    labels = [str(x) for x in labels]
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
        raise ParameterError(f"matrix must be square (n_labels, n_labels), got shape {M.shape}")
    if len(labels) != M.shape[0]:
        raise ParameterError(f"got {len(labels)} labels for a {M.shape[0]}x{M.shape[1]} matrix")
    if not np.all(np.isfinite(M)) or (M < 0).any():
        raise ParameterError("matrix must hold finite, non-negative counts")
    rows = M.sum(axis=1, keepdims=True)
    Z = np.divide(M, rows, out=np.zeros_like(M), where=rows > 0) if normalize else M
    counts = M.astype(int)
    fig = go.Figure(go.Heatmap(
        z=Z, x=labels, y=labels, text=counts, texttemplate="%{text}",
        colorscale=safe_colorscale("Blues"), zmin=0, zmax=1 if normalize else None,
        colorbar={"title": "row share" if normalize else "tracks"},
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text} tracks<extra></extra>",
    ))  # fmt: skip
    n = len(labels)
    fig.update_layout(
        title=title,
        height=height or max(320, 60 + 34 * n),
        margin={"l": 90, "r": 10, "t": 40, "b": 80},
        xaxis_title="predicted",
        yaxis_title="true",
    )
    fig.update_yaxes(autorange="reversed")
    return fig


_COUNT_COLUMNS = ("tp", "fn", "fp", "tn")
_COUNT_NAMES = {"tp": "TP", "fn": "FN", "fp": "FP", "tn": "TN"}


def label_confusion_figure(
    counts: Sequence[Mapping[str, Any]],
    *,
    title: str | None = "Per-label confusion (test split)",
    height: int | None = None,
) -> go.Figure:
    """Multi-label confusion: one row per label with its TP, FN, FP and TN counts.

    Parameters
    ----------
    counts : sequence of mapping
        ``evaluate_predictions(...)["confusion"]["counts"]``: ``label``, ``tp``,
        ``fn``, ``fp``, ``tn`` per label.
    title : str or None
    height : int or None

    Returns
    -------
    go.Figure
        One ``Heatmap``: columns TP, FN (coloured by the share of the label's
        positives), FP, TN (by the share of its negatives); text: counts.
    """
    if not isinstance(counts, Sequence) or not counts:
        raise ParameterError("counts must be a non-empty list of {label, tp, fn, fp, tn} dicts")
    try:
        labels = [str(c["label"]) for c in counts]
        C = np.array([[float(c[k]) for k in _COUNT_COLUMNS] for c in counts])
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"each count needs label, tp, fn, fp, tn: {exc}") from None
    pos = C[:, :2].sum(axis=1, keepdims=True)
    neg = C[:, 2:].sum(axis=1, keepdims=True)
    Z = np.hstack([
        np.divide(C[:, :2], pos, out=np.zeros_like(C[:, :2]), where=pos > 0),
        np.divide(C[:, 2:], neg, out=np.zeros_like(C[:, 2:]), where=neg > 0),
    ])  # fmt: skip
    cols = [_COUNT_NAMES[k] for k in _COUNT_COLUMNS]
    fig = go.Figure(go.Heatmap(
        z=Z, x=cols, y=labels, text=C.astype(int), texttemplate="%{text}",
        colorscale=safe_colorscale("Blues"), zmin=0, zmax=1, colorbar={"title": "share"},
        hovertemplate="%{y}: %{x} = %{text}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(
        title=title,
        height=height or max(300, 80 + 30 * len(labels)),
        margin={"l": 90, "r": 10, "t": 40, "b": 40},
        xaxis_title="outcome (TP/FN of positives, FP/TN of negatives)",
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def evaluation_confusion_figure(confusion: Mapping[str, Any], **kwargs: Any) -> go.Figure:
    """The right confusion figure for ``evaluate_predictions(...)["confusion"]``
    (``kind`` ``matrix``: :func:`confusion_figure`; ``per_label``: :func:`label_confusion_figure`)."""
    kind = confusion.get("kind") if isinstance(confusion, Mapping) else None
    if kind == "matrix":
        return confusion_figure(confusion["matrix"], confusion["labels"], **kwargs)
    if kind == "per_label":
        return label_confusion_figure(confusion["counts"], **kwargs)
    raise ParameterError(f"confusion must have kind 'matrix' or 'per_label', got {kind!r}")


def per_label_f1_figure(
    per_label: Sequence[Mapping[str, Any]],
    *,
    title: str | None = "F1 per label (test split)",
    height: int | None = None,
) -> go.Figure:
    """Horizontal bars of each label's F1, best on top, with the macro average as a line.

    Parameters
    ----------
    per_label : sequence of mapping
        ``evaluate_predictions(...)["per_label"]``: ``label``, ``f1``,
        ``precision``, ``recall``, ``support``.
    title : str or None
    height : int or None

    Returns
    -------
    go.Figure
        One ``Bar`` trace (``orientation="h"``), x in [0, 1], and one line
        shape at the mean F1.
    """
    if not isinstance(per_label, Sequence) or not per_label:
        raise ParameterError("per_label must be a non-empty list of {label, f1, ...} dicts")
    try:
        labels = [str(r["label"]) for r in per_label]
        f1 = np.array([float(r["f1"]) for r in per_label])
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"each per-label row needs label and f1: {exc}") from None
    if not np.all(np.isfinite(f1)) or (f1 < 0).any() or (f1 > 1).any():
        raise ParameterError("f1 values must be finite and in [0, 1]")
    custom = [
        [float(r.get("precision", math.nan)), float(r.get("recall", math.nan)), int(r.get("support", 0))]
        for r in per_label
    ]
    order = np.argsort(f1, kind="stable")  # plotly draws the first bar at the bottom
    fig = go.Figure(go.Bar(
        x=f1[order], y=[labels[i] for i in order], orientation="h", marker_color=VALIDATION_COLOR,
        customdata=[custom[i] for i in order], text=[f"{v:.2f}" for v in f1[order]], textposition="auto",
        hovertemplate="%{y}<br>F1 %{x:.3f}<br>precision %{customdata[0]:.3f}<br>"
        "recall %{customdata[1]:.3f}<br>support %{customdata[2]}<extra></extra>",
    ))  # fmt: skip
    mean = float(f1.mean())
    fig.add_vline(x=mean, line_dash="dash", line_color="#555", annotation_text=f"macro {mean:.2f}")
    fig.update_layout(
        title=title,
        height=height or max(260, 80 + 28 * len(labels)),
        margin={"l": 90, "r": 10, "t": 40, "b": 40},
        xaxis={"range": [0, 1], "title": "F1"},
    )
    return fig


def metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The metrics of an evaluation as a table, headline metrics first.

    Parameters
    ----------
    metrics : mapping
        An ``evaluate_predictions`` result / ``metrics.json`` (with ``metrics``
        and, for cross-validation, ``cv`` holding ``mean`` and ``std``), or a
        flat ``name -> value`` mapping.

    Returns
    -------
    pd.DataFrame
        Columns ``metric`` (display name), ``key``, ``value`` (NaN where
        undefined), plus ``cv mean`` and ``cv std`` when cross-validated.
    """
    if not isinstance(metrics, Mapping):
        raise ParameterError(f"metrics must be a mapping, got {type(metrics).__name__}")
    flat = metrics.get("metrics") if isinstance(metrics.get("metrics"), Mapping) else metrics
    cv = metrics.get("cv") if isinstance(metrics.get("cv"), Mapping) else None
    keys = [k for k, v in flat.items() if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))]
    keys.sort(key=metric_sort_key)

    def num(v: Any) -> float:
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan

    df = pd.DataFrame({"metric": [metric_label(k) for k in keys], "key": keys, "value": [num(flat[k]) for k in keys]})
    if cv is not None:
        mean, std = cv.get("mean") or {}, cv.get("std") or {}
        df["cv mean"] = [num(mean.get(k)) for k in keys]
        df["cv std"] = [num(std.get(k)) for k in keys]
    return df


def compare_metrics_figure(
    table: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = "Test metrics",
    height: int = 360,
) -> go.Figure:
    """Grouped bars comparing runs' metrics.

    Parameters
    ----------
    table : pd.DataFrame [shape=(n_metrics, n_runs)]
        :func:`musictag_core.training.compare_metrics` output.
    metrics : sequence of str or None
        Rows to show (default: those in [0, 1] that every run has: accuracy,
        mAP, ROC-AUC, F1, ...; losses and errors are left out).

    Returns
    -------
    go.Figure
        One ``Bar`` trace per run.
    """
    if not isinstance(table, pd.DataFrame) or table.shape[1] == 0:
        raise ParameterError("table must be a DataFrame with one column per run")
    if metrics is None:
        wanted = [m for m in METRIC_ORDER if METRICS[m].unit_range and METRICS[m].higher_is_better]
        metrics = [m for m in wanted if m in table.index and table.loc[m].notna().all()]
        if not metrics:
            metrics = [m for m in table.index if table.loc[m].notna().any()]
    missing = [m for m in metrics if m not in table.index]
    if missing:
        raise ParameterError(f"metrics {missing} are not in the table (it has {list(table.index)})")
    fig = go.Figure()
    for i, run in enumerate(table.columns):
        fig.add_trace(go.Bar(
            x=[metric_label(m) for m in metrics], y=table.loc[list(metrics), run].to_numpy(dtype=np.float64),
            name=str(run), marker_color=_RUN_COLORS[i % len(_RUN_COLORS)],
            hovertemplate=f"{run}<br>%{{x}} %{{y:.3f}}<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(title=title, barmode="group", height=height, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.2})
    return fig
