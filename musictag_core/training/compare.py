"""Runs side by side: one row per run (headline metric, duration), the run a page shows, test metrics compared."""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Sequence

import pandas as pd

from ..evaluate import headline_metric, metric_sort_key
from ..runs import ACTIVE_STATES, Run, iter_runs, run_duration_s

__all__ = ["RUNS_COLUMNS", "compare_metrics", "default_run", "runs_table"]

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
