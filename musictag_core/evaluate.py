"""Metrics and confusion data from (saved) predictions.

Everything here works on plain arrays at **track level**: segment scores are
first averaged per track with :func:`aggregate_segments`, then
:func:`evaluate_predictions` computes every figure with scikit-learn's own
functions, so a number shown anywhere in musictag can be re-derived from the
saved ``predictions.csv`` (:func:`write_predictions` / :func:`read_predictions`).

Tasks
-----
``single``
    One label per track. ``y_true`` holds class indices ``(n,)`` or one-hot
    rows ``(n, L)``; ``y_score`` holds class probabilities ``(n, L)``; the
    prediction is the arg-max.
``multi``
    Any number of labels per track. ``y_true`` is a 0/1 matrix ``(n, L)``,
    ``y_score`` per-label probabilities ``(n, L)``; label ``j`` is predicted
    when ``y_score[:, j] >= thresholds[j]`` (default 0.5; tune them on the
    validation split with :func:`tune_thresholds`).
``regression``
    ``y_true`` and ``y_score`` are strengths on 0–100 ``(n, L)``. MAE and MSE
    are reported, and the ranking metrics (mAP, ROC-AUC, precision@k) are
    computed with the predicted strengths as scores against
    ``y_true >= threshold``.

Labels without a positive (or without a negative) track in the evaluated split
have no defined ROC-AUC or average precision; they are left out of those macro
averages and listed under ``"skipped"``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import ParameterError
from .fileio import atomic_write_text

__all__ = [
    "HEADLINE_METRICS",
    "METRICS",
    "METRIC_ORDER",
    "MetricInfo",
    "TASKS",
    "Task",
    "headline_metric",
    "metric_label",
    "metric_sort_key",
    "evaluate_predictions",
    "tune_thresholds",
    "aggregate_segments",
    "precision_at_k",
    "write_predictions",
    "read_predictions",
]

Task = Literal["single", "multi", "regression"]
TASKS: tuple[str, ...] = ("single", "multi", "regression")


# ---------------------------------------------------------------- the metric registry


@dataclass(frozen=True)
class MetricInfo:
    """What musictag knows about a metric it logs.

    Attributes
    ----------
    name : str
        The key in metrics dicts (``map_macro``).
    label : str
        Display name (``mAP (macro)``).
    higher_is_better : bool
    unit_range : bool
        Whether values lie in [0, 1] (so runs can share one bar chart axis).
    """

    name: str
    label: str
    higher_is_better: bool = True
    unit_range: bool = True


#: Every metric musictag logs, in display order (headline metrics first).
METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", "Accuracy"),
        MetricInfo("map_macro", "mAP (macro)"),
        MetricInfo("roc_auc_macro", "ROC-AUC (macro)"),
        MetricInfo("f1_macro", "F1 (macro)"),
        MetricInfo("f1_micro", "F1 (micro)"),
        MetricInfo("precision_at_k", "Precision@k"),
        MetricInfo("hamming_loss", "Hamming loss", higher_is_better=False),
        MetricInfo("log_loss", "Log loss", higher_is_better=False, unit_range=False),
        MetricInfo("mae", "MAE", higher_is_better=False, unit_range=False),
        MetricInfo("mse", "MSE", higher_is_better=False, unit_range=False),
        MetricInfo("loss", "Loss", higher_is_better=False, unit_range=False),
        MetricInfo("binary_accuracy", "Binary accuracy"),
    )
}

#: Metric names in display order (``loss`` and ``binary_accuracy`` are training curves, not evaluation rows).
METRIC_ORDER: tuple[str, ...] = tuple(n for n in METRICS if n not in ("loss", "binary_accuracy"))

#: The one metric a run is summarised by, per task (``mae``: lower is better).
HEADLINE_METRICS: dict[str, str] = {"single": "accuracy", "multi": "map_macro", "regression": "mae"}


def metric_label(name: str) -> str:
    """Display name of a metric (``map_macro`` → ``mAP (macro)``; unknown names lose their underscores)."""
    info = METRICS.get(name)
    return info.label if info is not None else name.replace("_", " ")


def metric_sort_key(name: str) -> tuple[int, str]:
    """Sort key putting metrics in :data:`METRIC_ORDER`, unknown names after them alphabetically."""
    return (METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER), name)


def headline_metric(metrics: dict[str, Any], task: str | None = None) -> tuple[str | None, float | None]:
    """The metric a run is summarised by: accuracy (single), mAP (multi), MAE (regression).

    Parameters
    ----------
    metrics : dict
        Flat ``name -> value`` (``metrics.json``'s ``metrics``).
    task : str or None
        When None or its metric is missing, the first present of accuracy,
        map_macro, f1_macro, roc_auc_macro, mae.

    Returns
    -------
    name, value : str or None, float or None
    """
    order = ([HEADLINE_METRICS[task]] if task in HEADLINE_METRICS else []) + [
        "accuracy", "map_macro", "f1_macro", "roc_auc_macro", "mae",
    ]  # fmt: skip
    for name in order:
        v = metrics.get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return name, float(v)
    return None, None

_EPS = 1e-7


def _float(x: Any) -> float | None:
    """Plain float for JSON, ``None`` for NaN/inf."""
    x = float(x)
    return x if math.isfinite(x) else None


def aggregate_segments(
    track_ids: Sequence[Any] | np.ndarray, segment_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Average segment-level scores per track.

    Parameters
    ----------
    track_ids : sequence [shape=(n_segments,)]
        Track id of every segment row.
    segment_scores : np.ndarray [shape=(n_segments, n_labels)]
        Scores (probabilities or strengths) per segment.

    Returns
    -------
    track_ids : np.ndarray [shape=(n_tracks,)]
        Unique ids in order of first appearance.
    track_scores : np.ndarray [shape=(n_tracks, n_labels)], float64
        Mean score of each track's segments.
    """
    ids = np.asarray(track_ids)
    scores = np.asarray(segment_scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or len(ids) != len(scores):
        raise ParameterError(
            f"track_ids ({len(ids)}) and segment_scores {scores.shape} must have one row per segment"
        )
    if len(ids) == 0:
        return ids, scores.reshape(0, scores.shape[1])
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)  # unique ids in first-appearance order
    sums = np.zeros((len(uniq), scores.shape[1]))
    np.add.at(sums, inverse, scores)
    counts = np.bincount(inverse, minlength=len(uniq))[:, None]
    means = sums / counts
    return uniq[order], means[order]


def precision_at_k(y_true: np.ndarray, y_score: np.ndarray, *, k: int) -> float:
    """Mean over tracks of the fraction of the ``k`` top-scored labels that are present.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n, n_labels)]
        0/1 relevance.
    y_score : np.ndarray [shape=(n, n_labels)]
        Scores; ties are broken by label order (stable sort).
    k : int
        Number of top labels per track; capped at ``n_labels``.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    k = int(min(k, y_true.shape[1]))
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    top = np.argsort(-y_score, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(y_true, top, axis=1)
    return float(np.mean(hits.sum(axis=1) / k))


def tune_thresholds(
    y_true: np.ndarray, y_score: np.ndarray, *, default: float = 0.5
) -> np.ndarray:
    """Per-label decision thresholds that maximise F1 on a (validation) split.

    For label ``j`` every distinct score is tried as threshold (predict present
    when ``score >= t``); the one with the highest F1 wins (ties: the highest
    threshold). Labels with no positive example keep ``default``.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n, n_labels)]
        0/1 targets.
    y_score : np.ndarray [shape=(n, n_labels)]
        Scores.
    default : float
        Threshold for labels that cannot be tuned.

    Returns
    -------
    thresholds : np.ndarray [shape=(n_labels,)], float64
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise ParameterError(f"y_true {y_true.shape} and y_score {y_score.shape} must be equal 2-D shapes")
    out = np.full(y_true.shape[1], float(default))
    for j in range(y_true.shape[1]):
        yt = y_true[:, j].astype(bool)
        n_pos = int(yt.sum())
        if n_pos == 0:
            continue
        order = np.argsort(-y_score[:, j], kind="stable")
        s = y_score[order, j]
        tp = np.cumsum(yt[order])
        n_pred = np.arange(1, len(s) + 1)
        # only the last index of each run of equal scores is a valid cut
        last = np.r_[s[1:] != s[:-1], True]
        f1 = 2 * tp / (n_pred + n_pos)
        f1 = np.where(last, f1, -1.0)
        best = np.flatnonzero(f1 == f1.max())[0]  # highest threshold among ties
        out[j] = s[best]
    return out


def _check_inputs(y_true, y_score, task, labels):
    if task not in TASKS:
        raise ParameterError(f"task must be one of {TASKS}, got {task!r}")
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim != 2:
        raise ParameterError(f"y_score must be 2-D (n_tracks, n_labels), got shape {y_score.shape}")
    n, n_labels = y_score.shape
    if len(labels) != n_labels:
        raise ParameterError(f"{len(labels)} label names for {n_labels} score columns")
    if n == 0:
        raise ParameterError("cannot evaluate zero tracks")
    if not np.all(np.isfinite(y_score)):
        raise ParameterError("y_score contains NaN or infinite values")
    y_true = np.asarray(y_true)
    if task == "single":
        if y_true.ndim == 2:
            if y_true.shape != y_score.shape:
                raise ParameterError(f"y_true {y_true.shape} and y_score {y_score.shape} differ")
            y_true = np.argmax(y_true, axis=1)
        if y_true.shape != (n,):
            raise ParameterError(f"single-label y_true must have shape ({n},), got {y_true.shape}")
        y_true = y_true.astype(np.int64)
        if y_true.min() < 0 or y_true.max() >= n_labels:
            raise ParameterError(f"class indices must lie in [0, {n_labels}), got {y_true.min()}..{y_true.max()}")
    else:
        if y_true.shape != y_score.shape:
            raise ParameterError(f"y_true {y_true.shape} and y_score {y_score.shape} differ")
        y_true = y_true.astype(np.float64 if task == "regression" else np.int64)
    return y_true, y_score


def _ranking_metrics(Y: np.ndarray, S: np.ndarray, labels: list[str], k: int | None, out: dict) -> None:
    """mAP, macro ROC-AUC, per-label AP/AUC and (unless ``k`` is None) precision@k on 0/1 targets ``Y``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    pos = Y.sum(axis=0)
    has_pos = pos > 0
    both = has_pos & (pos < len(Y))
    out["skipped"] = {
        "average_precision": [labels[j] for j in np.flatnonzero(~has_pos)],
        "roc_auc": [labels[j] for j in np.flatnonzero(~both)],
    }
    m = out["metrics"]
    m["map_macro"] = (
        _float(average_precision_score(Y[:, has_pos], S[:, has_pos], average="macro"))
        if has_pos.any()
        else None
    )
    m["roc_auc_macro"] = (
        _float(roc_auc_score(Y[:, both], S[:, both], average="macro")) if both.any() else None
    )
    if k is not None:
        m["precision_at_k"] = precision_at_k(Y, S, k=k)
    for j, row in enumerate(out["per_label"]):
        row["average_precision"] = (
            _float(average_precision_score(Y[:, j], S[:, j])) if has_pos[j] else None
        )
        row["roc_auc"] = _float(roc_auc_score(Y[:, j], S[:, j])) if both[j] else None


def evaluate_predictions(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    task: Task,
    labels: Sequence[str],
    thresholds: np.ndarray | Sequence[float] | float | None = None,
    k: int = 10,
    threshold: float = 50.0,
) -> dict[str, Any]:
    """Every track-level metric musictag reports, computed with scikit-learn.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,) or (n, n_labels)]
        Class indices or one-hot rows (``single``), 0/1 matrix (``multi``), or
        strengths 0–100 (``regression``).
    y_score : np.ndarray [shape=(n, n_labels)]
        Probabilities (``single``/``multi``) or predicted strengths (``regression``).
    task : {"single", "multi", "regression"}
    labels : sequence of str [shape=(n_labels,)]
    thresholds : float or array-like [shape=(n_labels,)] or None
        Decision thresholds for ``multi`` (default 0.5 each); ignored for
        ``single`` (arg-max). For ``regression``, thresholds on the predicted
        strength for the derived presence (default ``threshold``).
    k : int
        The ``k`` of ``precision@k``, reported only where it means something: a
        multi-label task (``multi``, or ``regression``'s derived presence) with
        ``k < n_labels``. For single-label data precision@k is ``1/k`` times the
        top-k accuracy at best (always 0.1 on a 10-class task at ``k=10``), so it
        is left out; the result's ``k`` is then None and ``skipped_metrics`` says why.
    threshold : float
        ``regression`` only: strength at or above which a label is present.

    Returns
    -------
    result : dict
        JSON-serialisable: ``task``, ``labels``, ``n_tracks``, ``k``,
        ``thresholds``, ``metrics`` (flat name → float or None), ``per_label``
        (list of dicts: label, precision, recall, f1, support, average_precision,
        roc_auc, and mae/mse for regression), ``confusion`` and ``skipped``
        (labels left out of AUC/AP); ``skipped_metrics`` (metric name → why it
        is not reported) only when a metric was left out.

        ``metrics`` keys: ``accuracy`` (single), ``hamming_loss``, ``f1_micro``,
        ``f1_macro``, ``map_macro``, ``roc_auc_macro``, ``precision_at_k``,
        ``log_loss`` (single: multiclass; multi: mean of per-label binary log
        losses), ``mae`` and ``mse`` (regression, on the 0–100 scale).
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        hamming_loss,
        log_loss,
        mean_absolute_error,
        mean_squared_error,
        multilabel_confusion_matrix,
        precision_recall_fscore_support,
    )

    labels = [str(x) for x in labels]
    y_true, y_score = _check_inputs(y_true, y_score, task, labels)
    n, n_labels = y_score.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    k_eff: int | None = int(k) if task != "single" and k < n_labels else None
    out: dict[str, Any] = {
        "task": task,
        "labels": labels,
        "n_tracks": int(n),
        "k": k_eff,
        "metrics": {},
        "per_label": [],
    }
    m = out["metrics"]
    all_idx = list(range(n_labels))

    if task == "single":
        y_pred = np.argmax(y_score, axis=1)
        Y = np.eye(n_labels, dtype=np.int64)[y_true]
        m["accuracy"] = _float(accuracy_score(y_true, y_pred))
        m["hamming_loss"] = _float(hamming_loss(y_true, y_pred))
        m["f1_micro"] = _float(f1_score(y_true, y_pred, labels=all_idx, average="micro", zero_division=0))
        m["f1_macro"] = _float(f1_score(y_true, y_pred, labels=all_idx, average="macro", zero_division=0))
        # rows are renormalised (float32 softmax rows sum to 1 +- 1e-7); sklearn clips
        proba = y_score / np.maximum(y_score.sum(axis=1, keepdims=True), _EPS)
        m["log_loss"] = _float(log_loss(y_true, proba, labels=all_idx))
        p, r, f, s = precision_recall_fscore_support(
            y_true, y_pred, labels=all_idx, average=None, zero_division=0
        )
        out["thresholds"] = None
        out["confusion"] = {
            "kind": "matrix",
            "labels": labels,
            "matrix": confusion_matrix(y_true, y_pred, labels=all_idx).tolist(),
        }
        S = y_score
    else:
        if task == "regression":
            Y = (y_true >= threshold).astype(np.int64)
            default_t = float(threshold)
        else:
            Y = y_true
            default_t = 0.5
        t = np.full(n_labels, default_t) if thresholds is None else np.broadcast_to(
            np.asarray(thresholds, dtype=np.float64), (n_labels,)
        ).copy()
        y_pred = (y_score >= t).astype(np.int64)
        out["thresholds"] = [float(x) for x in t]
        m["hamming_loss"] = _float(hamming_loss(Y, y_pred))
        m["f1_micro"] = _float(f1_score(Y, y_pred, average="micro", zero_division=0))
        m["f1_macro"] = _float(f1_score(Y, y_pred, average="macro", zero_division=0))
        p, r, f, s = precision_recall_fscore_support(Y, y_pred, average=None, zero_division=0)
        if task == "multi":
            m["log_loss"] = _float(
                np.mean([log_loss(Y[:, j], y_score[:, j], labels=[0, 1]) for j in range(n_labels)])
            )
        else:
            m["mae"] = _float(mean_absolute_error(y_true, y_score))
            m["mse"] = _float(mean_squared_error(y_true, y_score))
        mcm = multilabel_confusion_matrix(Y, y_pred)
        out["confusion"] = {
            "kind": "per_label",
            "labels": labels,
            "counts": [
                {"label": lab, "tn": int(c[0, 0]), "fp": int(c[0, 1]), "fn": int(c[1, 0]), "tp": int(c[1, 1])}
                for lab, c in zip(labels, mcm)
            ],
        }
        S = y_score

    for j, lab in enumerate(labels):
        row = {
            "label": lab,
            "precision": float(p[j]),
            "recall": float(r[j]),
            "f1": float(f[j]),
            "support": int(s[j]),
        }
        if task == "regression":
            row["mae"] = _float(mean_absolute_error(y_true[:, j], y_score[:, j]))
            row["mse"] = _float(mean_squared_error(y_true[:, j], y_score[:, j]))
        out["per_label"].append(row)
    _ranking_metrics(Y, S, labels, k_eff, out)
    if k_eff is None:
        out["skipped_metrics"] = {"precision_at_k": (
            "single-label task: precision@k says nothing there"
            if task == "single"
            else f"k={int(k)} is not below the {n_labels} labels: precision@k would be the same for every model"
        )}
    return out


# ---------------------------------------------------------------------------
# predictions.csv
# ---------------------------------------------------------------------------


def write_predictions(
    path: str | os.PathLike,
    *,
    track_ids: Sequence[Any],
    y_true: np.ndarray,
    y_score: np.ndarray,
    labels: Sequence[str],
    task: Task,
) -> Path:
    """Write track-level predictions as CSV, atomically.

    Columns: ``track_id``, then ``true:<label>`` and ``score:<label>`` for every
    label. For ``single``, ``y_true`` may be class indices; it is stored one-hot.

    Parameters
    ----------
    path : path-like
    track_ids : sequence [shape=(n,)]
    y_true : np.ndarray [shape=(n,) or (n, n_labels)]
    y_score : np.ndarray [shape=(n, n_labels)]
    labels : sequence of str
    task : {"single", "multi", "regression"}
    """
    y_score = np.asarray(y_score, dtype=np.float64)
    y_true = np.asarray(y_true)
    if task == "single" and y_true.ndim == 1:
        y_true = np.eye(len(labels), dtype=np.int64)[y_true.astype(np.int64)]
    if y_true.shape != y_score.shape or len(track_ids) != len(y_score):
        raise ParameterError(
            f"predictions: {len(track_ids)} ids, y_true {y_true.shape}, y_score {y_score.shape} do not match"
        )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["track_id"] + [f"true:{x}" for x in labels] + [f"score:{x}" for x in labels])
    for tid, t, s in zip(track_ids, y_true, y_score):
        w.writerow([tid] + [repr(float(v)) if task == "regression" else int(v) for v in t] + [repr(float(v)) for v in s])
    return atomic_write_text(path, buf.getvalue(), newline="")


def read_predictions(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read a file written by :func:`write_predictions`.

    Returns
    -------
    track_ids : np.ndarray [shape=(n,)], str
    y_true : np.ndarray [shape=(n, n_labels)], float64
    y_score : np.ndarray [shape=(n, n_labels)], float64
    labels : list of str
    """
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0][0] != "track_id":
        raise ParameterError(f"{path}: not a musictag predictions file (no track_id header)")
    header = rows[0]
    n_labels = (len(header) - 1) // 2
    labels = [h.split(":", 1)[1] for h in header[1 : 1 + n_labels]]
    ids = np.array([r[0] for r in rows[1:]], dtype=object)
    vals = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64).reshape(
        len(ids), 2 * n_labels
    )
    return ids, vals[:, :n_labels], vals[:, n_labels:], labels
