"""Reading training runs for display: progress, curves, summaries, safe start and delete.

Everything here reads (or, for :func:`launch_run` and :func:`delete_run`,
writes) run folders through files only (see :mod:`musictag_core.train`), so the
Train page and the Runs view stay thin and a page reload never touches a
running worker.

* :class:`RunWatcher` follows one run's ``events.jsonl`` incrementally (a byte
  offset): phase, progress fraction, ETA, epoch and batch tables.
* :func:`epoch_table` / :func:`batch_table`: the same tables from a list of events.
* :func:`runs_table`: one row per run (model, dataset, state, headline metric,
  duration) for a sortable table; :func:`compare_metrics` lines runs up.
* :func:`check_runs_writable` / :func:`launch_run`: refuse to start a run in an
  unwritable runs folder or on a full disk, without leaving a half-written run.
* :func:`delete_run`: delete a run folder, never a queued or running one.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import MusictagError, ParameterError, TrainingError

__all__ = [
    "ACTIVE_STATES",
    "HEADLINE_METRICS",
    "MIN_FREE_BYTES",
    "RunWatcher",
    "batch_table",
    "check_runs_writable",
    "compare_metrics",
    "default_run",
    "delete_run",
    "epoch_table",
    "format_duration",
    "headline_metric",
    "launch_run",
    "read_card",
    "read_evaluation",
    "run_duration_s",
    "runs_table",
]

#: States in which a worker process owns the run.
ACTIVE_STATES = ("queued", "running")

#: The one metric a run is summarised by, per task (``mae``: lower is better).
HEADLINE_METRICS: dict[str, str] = {"single": "accuracy", "multi": "map_macro", "regression": "mae"}

#: Free space below which :func:`check_runs_writable` refuses to start a run.
MIN_FREE_BYTES = 50 * 2**20

RUNS_COLUMNS = [
    "run_id", "name", "model", "preset", "dataset", "state", "task", "metric", "score",
    "duration_s", "epochs", "created", "error",
]  # fmt: skip


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _parse_time(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


def _runs_root(runs_dir: str | os.PathLike | None) -> Path:
    from .paths import runs_dir as default_runs_dir

    return Path(runs_dir) if runs_dir is not None else default_runs_dir()


# ---------------------------------------------------------------------------
# events -> tables
# ---------------------------------------------------------------------------


def _flatten_epoch(ev: dict[str, Any], fold: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {"fold": fold, "epoch": int(ev.get("epoch", 0)) + 1, "step": ev.get("step"), "time": ev.get("time")}
    for split in ("train", "validation"):
        for k, v in (ev.get(split) or {}).items():
            row[f"{split}_{k}"] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
    return row


def epoch_table(events: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per finished epoch.

    Parameters
    ----------
    events : iterable of dict
        Events of one run (:func:`musictag_core.train.read_events`).

    Returns
    -------
    pd.DataFrame
        ``fold`` (None without cross-validation), ``epoch`` (1-based),
        ``step`` (batches so far in the fold), ``time`` and one column
        ``train_<metric>`` / ``validation_<metric>`` per logged value
        (``train_loss``, ``validation_loss``, ``validation_accuracy``, ...).
    """
    fold = None
    rows = []
    for ev in events:
        if ev.get("type") == "log" and isinstance(ev.get("fold"), int):
            fold = ev["fold"]
        elif ev.get("type") == "epoch":
            rows.append(_flatten_epoch(ev, fold))
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["fold", "epoch", "step", "time"])
    return df


def batch_table(events: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per training batch: ``fold``, ``epoch`` (0-based), ``step``, ``loss``, ``time``."""
    fold = None
    rows = []
    for ev in events:
        if ev.get("type") == "log" and isinstance(ev.get("fold"), int):
            fold = ev["fold"]
        elif ev.get("type") == "batch":
            loss = ev.get("loss")
            rows.append({
                "fold": fold, "epoch": ev.get("epoch"), "step": ev.get("step"),
                "loss": float(loss) if isinstance(loss, (int, float)) else math.nan, "time": ev.get("time"),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=["fold", "epoch", "step", "loss", "time"])


class RunWatcher:
    """Follow one run's events incrementally (keep it in the page's session state).

    Parameters
    ----------
    run_dir : path-like
        The run folder.

    Attributes
    ----------
    offset : int
        Byte offset in ``events.jsonl`` read so far.
    phase : str
        ``waiting`` (no event yet), ``starting``, ``preparing`` (decoding and
        features), ``training``, ``done`` (finished or stopped) or ``failed``.
    epochs_total, batches_per_epoch : int or None
        From the worker's ``training`` event (neural models).
    tracks_done, tracks_total : int or None
        Feature preparation progress.
    fold, n_folds : int or None
        Cross-validation fold being trained (0-based) and the number of folds.
    last_message : str
        The newest log or error message.
    messages : list of str
        The last 500 log and error messages, ``"log: ..."`` / ``"error: ..."``.
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.offset = 0
        self.phase = "waiting"
        self.epochs_total: int | None = None
        self.batches_per_epoch: int | None = None
        self.tracks_done: int | None = None
        self.tracks_total: int | None = None
        self.fold: int | None = None
        self.n_folds: int | None = None
        self.last_message = ""
        self.error: str | None = None
        self.messages: list[str] = []
        self._epochs: list[dict[str, Any]] = []
        self._batches: list[dict[str, Any]] = []
        self._first_batch_time: float | None = None
        self._fold_start_step = 0

    # -- reading --------------------------------------------------------------
    def poll(self) -> int:
        """Read the events appended since the last call; return how many there were."""
        from .train import read_events

        events, self.offset = read_events(self.run_dir, since=self.offset)
        for ev in events:
            self._ingest(ev)
        return len(events)

    def _ingest(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        if kind in ("log", "error"):
            self.messages.append(f"{kind}: {ev.get('message', '')}")
            del self.messages[:-500]
        if kind == "log":
            msg = str(ev.get("message", ""))
            self.last_message = msg
            if msg == "started":
                self.phase = "starting"
            elif msg == "preparing inputs":
                self.phase = "preparing"
                self.tracks_total = ev.get("tracks")
                self.tracks_done = 0
            elif msg.startswith("features:"):
                self.tracks_done, self.tracks_total = ev.get("done"), ev.get("total")
            elif msg == "training":
                self.phase = "training"
                self.epochs_total = ev.get("epochs")
                self.batches_per_epoch = ev.get("batches_per_epoch")
            elif isinstance(ev.get("fold"), int):
                self.fold = ev["fold"]
                try:
                    self.n_folds = int(msg.split("/")[1])
                except (IndexError, ValueError):
                    self.n_folds = None
                self._first_batch_time = None
            elif msg in ("finished", "stopped"):
                self.phase = "done"
        elif kind == "batch":
            if self._first_batch_time is None:
                self._first_batch_time = float(ev.get("time", time.time()))
                self._fold_start_step = int(ev.get("step", 1)) - 1
            self._batches.append({
                "fold": self.fold, "epoch": ev.get("epoch"), "step": ev.get("step"),
                "loss": ev.get("loss"), "time": ev.get("time"),
            })  # fmt: skip
        elif kind == "epoch":
            self._epochs.append(_flatten_epoch(ev, self.fold))
        elif kind == "error":
            self.phase = "failed"
            self.error = str(ev.get("message", ""))
            self.last_message = self.error

    # -- summaries ------------------------------------------------------------
    @property
    def step(self) -> int:
        """Batches trained in the current fold."""
        return int(self._batches[-1]["step"]) if self._batches else 0

    @property
    def epochs_done(self) -> int:
        """Epochs finished in the current fold."""
        return sum(1 for e in self._epochs if e["fold"] == self.fold)

    @property
    def last_loss(self) -> float | None:
        """The newest batch loss."""
        if not self._batches:
            return None
        v = self._batches[-1]["loss"]
        return float(v) if isinstance(v, (int, float)) else None

    def total_steps(self) -> int | None:
        """Batches of the whole (current-fold) training, when known."""
        if self.epochs_total and self.batches_per_epoch:
            return int(self.epochs_total) * int(self.batches_per_epoch)
        return None

    def fraction(self) -> float | None:
        """Progress in [0, 1] of training (feature preparation counts as 0), or None when unknown."""
        total = self.total_steps()
        if self.phase == "done":
            return 1.0
        if total:
            inner = min(1.0, self.step / total)
        elif self.phase == "preparing" and self.tracks_total:
            inner = 0.0
        else:
            return None
        if self.n_folds and self.fold is not None:
            return min(1.0, (self.fold + inner) / self.n_folds)
        return inner

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left for the current fold at the pace of the batches so far (an upper bound
        when early stopping ends the run sooner); None before two batches."""
        total = self.total_steps()
        if not total or self._first_batch_time is None:
            return None
        done = self.step - self._fold_start_step - 1  # batches since the end of the first one
        if done < 1:
            return None
        now = time.time() if now is None else now
        rate = max(now - self._first_batch_time, 1e-6) / done
        return max(0.0, (total - self.step) * rate)

    def epoch_frame(self) -> pd.DataFrame:
        """:func:`epoch_table` of the events read so far."""
        df = pd.DataFrame(self._epochs)
        return df if not df.empty else pd.DataFrame(columns=["fold", "epoch", "step", "time"])

    def batch_frame(self) -> pd.DataFrame:
        """:func:`batch_table` of the events read so far."""
        return pd.DataFrame(self._batches, columns=["fold", "epoch", "step", "loss", "time"])

    def describe(self, now: float | None = None) -> str:
        """One line for a progress bar: phase, epoch, batch, loss and ETA."""
        parts = []
        if self.n_folds and self.fold is not None:
            parts.append(f"fold {self.fold + 1}/{self.n_folds}")
        if self.phase == "preparing":
            parts.append(f"preparing inputs: {self.tracks_done or 0}/{self.tracks_total or '?'} tracks")
        elif self.phase == "training" and self.epochs_total:
            epoch = min(self.epochs_done + 1, int(self.epochs_total))
            parts.append(f"epoch {epoch}/{self.epochs_total}")
            if self.batches_per_epoch:
                in_epoch = self.step - self._fold_start_step - self.epochs_done * int(self.batches_per_epoch)
                parts.append(f"batch {max(0, min(in_epoch, int(self.batches_per_epoch)))}/{self.batches_per_epoch}")
            if self.last_loss is not None:
                parts.append(f"loss {self.last_loss:.4f}")
            eta = self.eta_s(now)
            if eta is not None:
                parts.append(f"ETA {format_duration(eta)}")
        elif self.phase == "training":
            parts.append("fitting")
        elif self.phase in ("waiting", "starting"):
            parts.append("starting (loading libraries and the dataset)")
        else:
            parts.append(self.last_message or self.phase)
        return " · ".join(parts)


# ---------------------------------------------------------------------------
# summaries of runs
# ---------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """``"1 h 02 m"``, ``"3 m 05 s"``, ``"42 s"``; ``""`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} m"
    if s >= 60:
        return f"{s // 60} m {s % 60:02d} s"
    return f"{s} s"


def run_duration_s(status: dict[str, Any], *, now: _dt.datetime | None = None) -> float | None:
    """Seconds from ``started`` to ``ended`` (to now while running); None when it never started."""
    start = _parse_time(status.get("started"))
    if start is None:
        return None
    end = _parse_time(status.get("ended"))
    if end is None:
        if status.get("state") not in ACTIVE_STATES:
            return None
        end = now or _dt.datetime.now(_dt.UTC)
    return max(0.0, (end - start).total_seconds())


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


def read_card(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's ``card.json`` (labels, inputs, metrics, ...), or None before the run saved one."""
    return _read_json(Path(run_dir) / "card.json")


def read_evaluation(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's ``metrics.json`` (:func:`musictag_core.evaluate.evaluate_predictions` output on the
    test split, with ``cv`` for cross-validated runs), or None before the run saved one."""
    return _read_json(Path(run_dir) / "metrics.json")


def runs_table(runs_dir: str | os.PathLike | None = None, *, now: _dt.datetime | None = None) -> pd.DataFrame:
    """One row per run, newest first (dead workers are reported as failed).

    Returns
    -------
    pd.DataFrame
        Columns ``run_id``, ``name``, ``model``, ``preset``, ``dataset``,
        ``state``, ``task``, ``metric`` (headline metric name), ``score`` (its
        value), ``duration_s``, ``epochs`` (finished epochs), ``created``, ``error``.
    """
    from .train import list_runs

    rows = []
    root = _runs_root(runs_dir)
    for r in list_runs(root):
        d = Path(r["path"])
        status = _read_json(d / "status.json") or {}
        cfg = _read_json(d / "config.json") or {}
        ev = read_evaluation(d) or {}
        task = ev.get("task") or cfg.get("task")
        name, value = headline_metric(ev.get("metrics") or {}, task)
        rows.append({
            "run_id": r["run_id"], "name": cfg.get("name") or "", "model": r.get("model"),
            "preset": cfg.get("preset"), "dataset": r.get("dataset"), "state": r.get("state"), "task": task,
            "metric": name, "score": value, "duration_s": run_duration_s({**status, "state": r.get("state")}, now=now),
            "epochs": status.get("epoch"), "created": r.get("created"), "error": r.get("error"),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=RUNS_COLUMNS)


def default_run(runs: pd.DataFrame, requested: str | None = None) -> str | None:
    """Which run a page shows: ``requested`` when it exists, else the newest active run, else None."""
    if runs.empty:
        return None
    ids = runs["run_id"].tolist()
    if requested in ids:
        return requested
    active = runs[runs["state"].isin(ACTIVE_STATES)]
    return str(active["run_id"].iloc[0]) if not active.empty else None


def compare_metrics(run_dirs: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Test metrics of several runs side by side.

    Returns
    -------
    pd.DataFrame [shape=(n_metrics, n_runs)]
        Index: metric names present in any run (headline metrics first);
        columns: run ids; NaN where a run has no such metric (or has not saved
        metrics yet).
    """
    data = {}
    for d in run_dirs:
        d = Path(d)
        metrics = (read_evaluation(d) or {}).get("metrics") or {}
        data[d.name] = {k: (float(v) if isinstance(v, (int, float)) else math.nan) for k, v in metrics.items()}
    table = pd.DataFrame(data)
    order = ["accuracy", "map_macro", "roc_auc_macro", "f1_macro", "f1_micro", "precision_at_k", "hamming_loss",
             "log_loss", "mae", "mse"]
    return table.loc[sorted(table.index, key=lambda k: (order.index(k) if k in order else len(order), k))]


# ---------------------------------------------------------------------------
# safe start and delete
# ---------------------------------------------------------------------------


def check_runs_writable(runs_dir: str | os.PathLike | None = None, *, min_free_bytes: int = MIN_FREE_BYTES) -> Path:
    """Make sure a run can be written: the folder exists (or is created), accepts a file, has free space.

    Parameters
    ----------
    runs_dir : path-like or None
        Default :func:`musictag_core.paths.runs_dir`.
    min_free_bytes : int
        Refuse when less space is free on its disk.

    Returns
    -------
    Path
        The runs folder.

    Raises
    ------
    TrainingError
        Naming the folder, the reason and what to do.
    """
    root = _runs_root(runs_dir)
    hint = "set MUSICTAG_RUNS to a writable folder or fix its permissions"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainingError(f"the runs folder {str(root)!r} cannot be created ({exc.strerror or exc}); {hint}") from None
    probe = root / f".write-probe-{os.getpid()}-{os.urandom(3).hex()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise TrainingError(f"the runs folder {str(root)!r} is not writable ({exc.strerror or exc}); {hint}") from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    free = shutil.disk_usage(root).free
    if free < min_free_bytes:
        raise TrainingError(
            f"only {free / 2**20:.0f} MB free on the disk of the runs folder {str(root)!r}; a run needs at least "
            f"{min_free_bytes / 2**20:.0f} MB: free some space or set MUSICTAG_RUNS to another disk"
        )
    return root


def launch_run(config, *, runs_dir: str | os.PathLike | None = None, python: str | None = None) -> str:  # noqa: ANN001
    """:func:`check_runs_writable`, then :func:`musictag_core.train.start_run`.

    A failure while writing the run folder (disk full, permissions) removes the
    half-written folder and raises :class:`TrainingError`; no run is left behind.

    Returns
    -------
    run_id : str
    """
    from .train import start_run

    root = check_runs_writable(runs_dir)
    before = {p.name for p in root.iterdir()}
    try:
        return start_run(config, runs_dir=root, python=python)
    except OSError as exc:
        for p in root.iterdir():
            # only folders this call made and whose worker never started
            if p.name not in before and p.is_dir() and not (p / "worker.pid").exists():
                shutil.rmtree(p, ignore_errors=True)
        raise TrainingError(
            f"could not start the run in {str(root)!r} ({exc.strerror or exc}); nothing was kept. "
            "Check free space and permissions of the runs folder (MUSICTAG_RUNS)"
        ) from None


def delete_run(run_id: str, *, runs_dir: str | os.PathLike | None = None) -> Path:
    """Delete a run folder; refuses a queued or running run.

    Parameters
    ----------
    run_id : str
        Folder name under the runs folder (no path separators).
    runs_dir : path-like or None

    Returns
    -------
    Path
        The deleted folder.

    Raises
    ------
    ParameterError
        If ``run_id`` is not a plain folder name.
    TrainingError
        If it is not a run, or its worker is queued or running.
    """
    from .train import run_status

    if not isinstance(run_id, str) or not run_id or run_id in (".", "..") or "/" in run_id or os.sep in run_id:
        raise ParameterError(f"run_id must be a run folder name, got {run_id!r}")
    root = _runs_root(runs_dir)
    d = root / run_id
    try:
        state = run_status(d).get("state")
    except MusictagError:
        raise TrainingError(f"{str(d)!r} is not a run (no status.json); nothing deleted") from None
    if state in ACTIVE_STATES:
        raise TrainingError(f"run {run_id} is {state}; stop it (and wait until it has stopped) before deleting it")
    shutil.rmtree(d)
    return d
