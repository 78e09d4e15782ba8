"""Runs side by side: one row per run (headline metric, duration), the run a page shows, test metrics compared."""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Sequence

import pandas as pd

from ..evaluate import headline_metric, metric_sort_key
from ..runs import ACTIVE_STATES, Run, iter_runs, run_duration_s

__all__ = ["RUNS_COLUMNS", "compare_metrics", "compare_runs", "default_run", "runs_table"]

#: Columns of :func:`runs_table`.
RUNS_COLUMNS = [
    "run_id", "name", "model", "preset", "dataset", "state", "task", "metric", "score",
    "duration_s", "epochs", "created", "error",
]  # fmt: skip


def runs_table(runs_dir: str | os.PathLike | None = None, *, now: _dt.datetime | None = None) -> pd.DataFrame:
    """One row per run, newest first (dead workers are reported as failed).

    Parameters
    ----------
    runs_dir : path-like, optional
        Default :func:`musictag_core.paths.runs_dir`.
    now : datetime, optional
        The time running runs' durations are measured to (default: now).

    Returns
    -------
    pd.DataFrame
        Columns ``run_id``, ``name``, ``model``, ``preset``, ``dataset``,
        ``state``, ``task``, ``metric`` (headline metric name), ``score`` (its
        value), ``duration_s``, ``epochs`` (finished epochs), ``created``, ``error``.
    """
    from ..errors import MusictagError

    rows = []
    for run in iter_runs(runs_dir):
        try:
            status = run.status()  # parsed once per run; a dead worker becomes failed here
        except MusictagError:
            continue
        cfg = run.read_config()
        ev = run.read_metrics() or {}
        task = ev.get("task") or cfg.get("task")
        name, value = headline_metric(ev.get("metrics") or {}, task)
        rows.append({
            "run_id": run.run_id, "name": cfg.get("name") or "", "model": cfg.get("model"),
            "preset": cfg.get("preset"), "dataset": cfg.get("dataset"), "state": status.get("state"), "task": task,
            "metric": name, "score": value, "duration_s": run_duration_s(status, now=now),
            "epochs": status.get("epoch"), "created": status.get("created"), "error": status.get("error"),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=RUNS_COLUMNS)


def default_run(runs: pd.DataFrame, requested: str | None = None) -> str | None:
    """Which run a page shows: ``requested`` when it exists, else the newest active run, else None.

    Parameters
    ----------
    runs : pd.DataFrame
        :func:`runs_table` output.
    requested : str, optional
        A run id (from the page's address).
    """
    if runs.empty:
        return None
    ids = runs["run_id"].tolist()
    if requested in ids:
        return requested
    active = runs[runs["state"].isin(ACTIVE_STATES)]
    return str(active["run_id"].iloc[0]) if not active.empty else None


def compare_metrics(run_dirs: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Test metrics of several runs side by side.

    Parameters
    ----------
    run_dirs : sequence of path-like

    Returns
    -------
    pd.DataFrame [shape=(n_metrics, n_runs)]
        Index: metric names present in any run (in :data:`musictag_core.evaluate.METRIC_ORDER`,
        headline metrics first); columns: run ids; NaN where a run has no such metric (or has
        not saved metrics yet).
    """
    data = {}
    for d in run_dirs:
        run = Run(d)
        metrics = (run.read_metrics() or {}).get("metrics") or {}
        data[run.run_id] = {k: (float(v) if isinstance(v, (int, float)) else math.nan) for k, v in metrics.items()}
    table = pd.DataFrame(data)
    return table.loc[sorted(table.index, key=metric_sort_key)]


def compare_runs(
    run_a: str | os.PathLike, run_b: str | os.PathLike, *, metric: str | None = None, n_boot: int = 10000,
    seed: int = 0,
) -> dict:
    """Paired comparison of two runs on the same folds: per-fold differences with a bootstrap interval.

    Both runs must have saved the same folds (the same test tracks in each fold,
    in order): the same dataset, seed and cross-validation settings. The
    difference is ``a - b`` per fold; its mean gets a 95 % percentile bootstrap
    interval over folds (``n_boot`` resamples, seeded). For leave-one-out runs
    each fold is one track (or artist), so the folds' accuracies are 0 or 1 and
    the interval is over tracks.

    Parameters
    ----------
    run_a, run_b : path-like
        Run folders.
    metric : str, optional
        Default: the task's headline metric (accuracy, map_macro or mae).
    n_boot : int
    seed : int

    Returns
    -------
    dict
        ``a``, ``b`` (run ids), ``metric``, ``evaluation``, ``n_folds``,
        ``folds`` (``[{"fold", "a", "b", "diff"}]``), ``mean_a``, ``mean_b``,
        ``mean_diff``, ``ci95`` (``[low, high]``, or None with one fold),
        ``wins`` (folds where a is better, b is better, tied; for MAE lower is better), ``n_boot``.

    Raises
    ------
    TrainingError
        A run has no saved folds, or the runs' folds or tasks differ, or the metric is missing.
    """
    import numpy as np

    from ..errors import TrainingError

    runs = [Run(run_a), Run(run_b)]
    data = []
    for run in runs:
        f = run.read_folds()
        if not f or not f.get("fold_metrics"):
            raise TrainingError(
                f"run {run.run_id} has no saved folds with metrics (only finished runs made since folds are "
                "saved can be compared pairwise)"
            )
        data.append(f)
    fa, fb = data
    if fa.get("task") != fb.get("task"):
        raise TrainingError(f"runs {runs[0].run_id} and {runs[1].run_id} have different tasks ({fa.get('task')} vs {fb.get('task')})")
    if len(fa["folds"]) != len(fb["folds"]) or any(set(x) != set(y) for x, y in zip(fa["folds"], fb["folds"])):
        differ = next((i for i, (x, y) in enumerate(zip(fa["folds"], fb["folds"])) if set(x) != set(y)), None)
        where = (
            f"{len(fa['folds'])} folds vs {len(fb['folds'])}" if len(fa["folds"]) != len(fb["folds"])
            else f"fold {differ + 1} tests different tracks"
        )
        raise TrainingError(
            f"runs {runs[0].run_id} and {runs[1].run_id} were not evaluated on the same folds ({where}); "
            "a paired comparison needs the same dataset, seed and cross-validation settings"
        )
    if metric is None:
        metric, _ = headline_metric(fa["fold_metrics"][0], fa.get("task"))
    va = [m.get(metric) for m in fa["fold_metrics"]]
    vb = [m.get(metric) for m in fb["fold_metrics"]]
    if metric is None or any(v is None for v in va + vb):
        raise TrainingError(f"metric {metric!r} is missing from some folds of the runs; choose another with --metric")
    a, b = np.asarray(va, dtype=float), np.asarray(vb, dtype=float)
    diff = a - b
    ci = None
    if len(diff) >= 2:
        rng = np.random.default_rng(seed)
        means = diff[rng.integers(0, len(diff), size=(int(n_boot), len(diff)))].mean(axis=1)
        ci = [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]
    better = -diff if metric in ("mae", "log_loss") else diff
    return {
        "a": runs[0].run_id, "b": runs[1].run_id, "metric": metric, "evaluation": fa.get("evaluation"),
        "n_folds": len(diff),
        "folds": [{"fold": i + 1, "a": float(x), "b": float(y), "diff": float(d)} for i, (x, y, d) in enumerate(zip(a, b, diff))],
        "mean_a": float(a.mean()), "mean_b": float(b.mean()), "mean_diff": float(diff.mean()), "ci95": ci,
        "wins": {"a": int((better > 0).sum()), "b": int((better < 0).sum()), "tied": int((better == 0).sum())},
        "n_boot": int(n_boot),
    }
