"""Following a run: its events as epoch and batch tables, progress, ETA.

:class:`RunWatcher` reads a run's ``events.jsonl`` incrementally (a byte offset),
so a page keeps one per session and a reload never touches the worker.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .folder import Run

__all__ = ["RunWatcher", "batch_table", "epoch_table", "format_duration"]


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
        Events of one run (:meth:`musictag_core.runs.Run.events`).

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
        events, self.offset = Run(self.run_dir).events(since=self.offset)
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
