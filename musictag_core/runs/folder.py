"""The run folder: one :class:`Run` owns every file of a training run.

A run is a folder under the runs directory (:func:`musictag_core.paths.runs_dir`)::

    runs/<run_id>/
        config.json        the RunConfig (musictag_core.training.RunConfig)
        status.json        {"state": queued|running|finished|failed|stopped, "pid", "error", ...}
        events.jsonl       one JSON object per line: batch (step, loss), epoch (metrics), log, error
        worker.log         stdout/stderr of the worker process
        worker.pid         the launcher's record of the worker (pid, start time)
        stop               present when a stop was requested
        model.keras        or model.joblib (scikit-learn)
        card.json          labels, inputs, metrics, split, code version
        metrics.json       the evaluation on the test split (+ cv folds)
        predictions.csv    track-level test predictions (pooled out-of-fold ones under cross-validation)
        folds.json         test track ids and metrics of each fold (for paired comparisons of runs)

Every file except ``events.jsonl`` (append-only, flushed per line) is written
atomically. The runs directory holds ``.train.lock``: the worker that holds it
trains, the others stay ``queued`` (oldest first). Nothing outside this module
reads or writes these files by name.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import MusictagError, ParameterError, TrainingError
from ..fileio import atomic_write_json, atomic_write_text, json_default, read_json_object
from .process import LOCK_NAME, RunLock, pid_alive, proc_start_time

__all__ = [
    "ACTIVE_STATES",
    "LOCK_NAME",
    "RUN_STATES",
    "WORKER_MODULE",
    "EventWriter",
    "Run",
    "RunLock",
    "is_runs_folder",
    "list_runs",
    "now_iso",
    "read_events",
    "run_duration_s",
    "runs_root",
]

#: Every state a run can be in.
RUN_STATES = ("queued", "running", "finished", "failed", "stopped")
#: States in which a worker process owns the run.
ACTIVE_STATES = ("queued", "running")
#: The module the worker process runs (``python -m WORKER_MODULE RUN_DIR``).
WORKER_MODULE = "musictag_core.training.worker"

_CONFIG, _STATUS, _EVENTS, _LOG, _PID, _STOP = "config.json", "status.json", "events.jsonl", "worker.log", "worker.pid", "stop"
_CARD, _METRICS, _PREDICTIONS, _FOLDS = "card.json", "metrics.json", "predictions.csv", "folds.json"
_MODEL_FILES = ("model.keras", "model.joblib")


def now_iso() -> str:
    """The time now, ISO 8601 in UTC to the second (the time stamps of ``status.json``)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _parse_time(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


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


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    """``runs_dir``, or the configured runs directory (:func:`musictag_core.paths.runs_dir`)."""
    from ..paths import runs_dir as default_runs_dir

    return Path(runs_dir) if runs_dir is not None else default_runs_dir()


def is_runs_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is the configured runs directory or one the trainer has used (it holds the lock file)."""
    folder = Path(folder).resolve()
    return folder == runs_root().resolve() or (folder / LOCK_NAME).exists()


# ---------------------------------------------------------------- events


def read_events(path: str | os.PathLike, since: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Events appended to an ``events.jsonl`` file after byte offset ``since``.

    Only complete lines are returned, so a line being written is picked up by
    the next call.

    Returns
    -------
    events : list of dict
    offset : int
        Pass it as ``since`` next time.
    """
    path = Path(path)
    if not path.exists():
        return [], since
    with open(path, "rb") as fh:
        fh.seek(since)
        chunk = fh.read()
    end = chunk.rfind(b"\n") + 1
    events = []
    for line in chunk[:end].splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events, since + end


class EventWriter:
    """Append-only JSON-lines writer of a run's events, flushed after every line.

    Each line is ``{"type": kind, "time": unix seconds, **data}``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, kind: str, **data: Any) -> None:
        """Append one event of type ``kind``."""
        if self._fh is None:
            raise TrainingError(f"{self.path}: the event writer is closed")
        self._fh.write(json.dumps({"type": kind, "time": round(time.time(), 3), **data}, default=json_default) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ---------------------------------------------------------------- the run


class Run:
    """One run folder and its protocol.

    Parameters
    ----------
    path : path-like
        The run folder (``runs_dir / run_id``). Nothing is read until asked.

    Notes
    -----
    :meth:`create` makes a queued folder, :meth:`launch` starts its worker,
    :meth:`status` reports a dead worker as ``failed``, :meth:`request_stop`
    asks it to stop, :meth:`delete` removes a run that no worker owns and
    :meth:`watch` follows its events. The worker side uses
    :meth:`update_status`, :meth:`open_events`, :meth:`stop_requested`,
    :meth:`write_card` and friends.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def run_id(self) -> str:
        """The folder name."""
        return self.path.name

    # -- creating and opening -------------------------------------------------
    @classmethod
    def create(cls, config: dict[str, Any], *, model: str, runs_dir: str | os.PathLike | None = None) -> Run:
        """Create a queued run folder (``config.json``, ``status.json``, empty ``events.jsonl``); start nothing.

        Parameters
        ----------
        config : dict
            The run's settings (``RunConfig.to_dict()``), saved as ``config.json``.
        model : str
            The model name (part of the run id).
        runs_dir : path-like, optional
            Parent folder (default :func:`musictag_core.paths.runs_dir`).
        """
        root = runs_root(runs_dir)
        root.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run = cls(root / f"{stamp}-{model}-{os.urandom(3).hex()}")
        run.path.mkdir()
        atomic_write_json(run.path / _CONFIG, config)
        # microseconds: runs created within the same second must still queue in creation order
        created = _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")
        run.update_status(state="queued", created=created, run_id=run.run_id, model=model, pid=None)
        (run.path / _EVENTS).touch()
        return run

    @classmethod
    def open(cls, run_id: str, *, runs_dir: str | os.PathLike | None = None) -> Run:
        """The run ``run_id`` of the runs folder (a plain folder name; it need not exist yet).

        Raises
        ------
        ParameterError
            If ``run_id`` is not a plain folder name.
        """
        if not isinstance(run_id, str) or not run_id or run_id in (".", "..") or "/" in run_id or os.sep in run_id:
            raise ParameterError(f"run_id must be a run folder name, got {run_id!r}")
        return cls(runs_root(runs_dir) / run_id)

    def exists(self) -> bool:
        """Whether the folder is a run (it has a ``status.json``)."""
        return (self.path / _STATUS).exists()

    # -- reading ----------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        """``config.json`` as saved ({} when missing or unreadable)."""
        return read_json_object(self.path / _CONFIG) or {}

    def read_card(self) -> dict[str, Any] | None:
        """``card.json`` (labels, inputs, metrics, ...), or None before the run saved one."""
        return read_json_object(self.path / _CARD)

    def read_metrics(self) -> dict[str, Any] | None:
        """``metrics.json`` (the evaluation on the test split, with ``cv`` for cross-validated runs), or None."""
        return read_json_object(self.path / _METRICS)

    @property
    def events_path(self) -> Path:
        """``events.jsonl``: the run's append-only event log (errors keep their traceback there)."""
        return self.path / _EVENTS

    @property
    def predictions_path(self) -> Path:
        """``predictions.csv``: the track-level test predictions."""
        return self.path / _PREDICTIONS

    def output_path(self, name: str) -> Path:
        """Where the worker saves an output file (``model.keras``, ``predictions_validation.csv``, ...)."""
        if "/" in name or os.sep in name or name in ("", ".", ".."):
            raise ParameterError(f"an output of a run is a plain file name, got {name!r}")
        return self.path / name

    def model_file(self) -> Path | None:
        """The saved model (``model.keras`` or ``model.joblib``), or None."""
        return next((self.path / f for f in _MODEL_FILES if (self.path / f).exists()), None)

    def stored_status(self) -> dict[str, Any] | None:
        """``status.json`` as the worker last wrote it (no liveness check), or None."""
        return read_json_object(self.path / _STATUS)

    def status(self) -> dict[str, Any]:
        """The run's status, with a dead worker detected.

        A run whose status says ``queued`` or ``running`` but whose worker process
        no longer exists is rewritten as ``failed`` with a reason and the last
        message it logged.

        Returns
        -------
        status : dict
            ``state``, ``run_id``, ``model``, ``pid``, ``error`` (failed runs),
            ``created``/``started``/``ended`` time stamps, ``epoch``.

        Raises
        ------
        TrainingError
            If the folder is not a run.
        """
        status = self.stored_status()
        if status is None:
            raise TrainingError(f"{self.path} is not a run folder (no readable status.json)")
        if status.get("state") in ACTIVE_STATES:
            pid, pid_start = self.worker(status)
            if pid and not pid_alive(pid, pid_start):
                # re-read: the worker may have finished between the two reads
                again = self.stored_status() or status
                if again.get("state") in ACTIVE_STATES:
                    last = self.last_message()
                    reason = f"worker process {pid} exited without finishing (killed or crashed)"
                    status = self.update_status(
                        state="failed", error=f"{reason}; last message: {last}" if last else reason, ended=now_iso()
                    )
                else:
                    status = again
        return status

    def is_finished(self) -> bool:
        """Whether the stored status says ``finished`` and the folder holds its config (no liveness check)."""
        status = self.stored_status()
        return status is not None and status.get("state") == "finished" and (self.path / _CONFIG).is_file()

    def worker(self, status: dict[str, Any] | None = None) -> tuple[int | None, str | None]:
        """The worker's pid and process start time: its own record, else the launcher's.

        ``status`` is the stored status when the caller has just read it (it is read otherwise).
        """
        status = (self.stored_status() if status is None else status) or {}
        pid, pid_start = status.get("pid"), status.get("pid_start")
        if not pid:  # the worker has not written its status yet: ask the launcher's record
            launched = read_json_object(self.path / _PID) or {}
            pid, pid_start = launched.get("pid"), launched.get("pid_start")
        return pid, pid_start

    def events(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Events appended after byte offset ``since`` (see :func:`read_events`)."""
        return read_events(self.events_path, since)

    def last_message(self) -> str:
        """The newest error or log message, else the last line of the worker log."""
        events, _ = self.events()
        for ev in reversed(events):
            if ev.get("type") in ("error", "log"):
                return str(ev.get("message", ""))
        lines = self.log_tail(max_lines=1)
        return lines[-1] if lines else ""

    def log_tail(self, *, max_lines: int = 40) -> list[str]:
        """The last ``max_lines`` lines of ``worker.log`` ([] when there is none)."""
        try:
            text = (self.path / _LOG).read_text(errors="replace")
        except OSError:
            return []
        return text.strip().splitlines()[-max_lines:] if text.strip() else []

    def stop_requested(self) -> bool:
        """Whether a stop was requested."""
        return (self.path / _STOP).exists()

    def older_queued_alive(self) -> bool:
        """Whether another run of the same runs folder is queued, alive and was created before this one."""
        mine = (self.stored_status() or {}).get("created", "")
        for d in self.path.parent.iterdir():
            other = Run(d)
            if d == self.path or not other.exists():
                continue
            st = other.stored_status() or {}
            if st.get("state") != "queued" or (st.get("created", ""), d.name) >= (mine, self.run_id):
                continue
            if pid_alive(*other.worker(st)):
                return True
        return False

    def watch(self):  # noqa: ANN201 - RunWatcher (imported lazily: pandas)
        """A :class:`~musictag_core.runs.RunWatcher` following this run's events."""
        from .watch import RunWatcher

        return RunWatcher(self.path)

    # -- writing ------------------------------------------------------------------
    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into ``status.json`` (atomically, stamping ``updated``); return the new status."""
        status = self.stored_status() or {}
        status.update(changes)
        status["updated"] = now_iso()
        atomic_write_json(self.path / _STATUS, status)
        return status

    def record_worker(self, pid: int | None = None) -> None:
        """The worker records its own pid and process start time (default: this process)."""
        pid = os.getpid() if pid is None else pid
        self.update_status(pid=pid, pid_start=proc_start_time(pid))

    def open_events(self) -> EventWriter:
        """An :class:`EventWriter` appending to ``events.jsonl`` (the worker's; close it when done)."""
        return EventWriter(self.events_path)

    def write_card(self, card: dict[str, Any]) -> None:
        """Save ``card.json``."""
        atomic_write_json(self.path / _CARD, card)

    def write_folds(
        self, *, folds: list[list], fold_metrics: list[dict] | None, evaluation: str, task: str
    ) -> None:
        """Save each fold's test track ids and metrics (``folds.json``), for :meth:`read_folds`.

        Parameters
        ----------
        folds : list of list
            Test track ids per fold (one fold for a single train/validation/test split).
        fold_metrics : list of dict or None
            Metrics per fold, aligned with ``folds``.
        evaluation : {"split", "kfold", "loo"}
        task : str
        """
        atomic_write_json(
            self.path / _FOLDS,
            {"evaluation": evaluation, "task": task, "folds": [[str(t) for t in f] for f in folds],
             "fold_metrics": fold_metrics},
        )

    def read_folds(self) -> dict[str, Any] | None:
        """``{"evaluation", "task", "folds": [[test track id, ...], ...], "fold_metrics": [...]}``, or None."""
        return read_json_object(self.path / _FOLDS)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Save ``metrics.json``."""
        atomic_write_json(self.path / _METRICS, metrics)

    def attach(self, source: str | os.PathLike) -> Path:
        """Copy a small input file (an uploaded feature table) into the run folder; return the copy's path.

        A queued run then finds its data even after the upload's session folder is gone.
        """
        source = Path(source)
        if not source.is_file():
            raise TrainingError(f"{source.name}: no such file to keep with run {self.run_id}")
        target = self.path / "inputs" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target

    def update_config(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into ``config.json`` (before the worker starts); return the new config."""
        config = {**self.read_config(), **changes}
        atomic_write_json(self.path / _CONFIG, config)
        return config

    def request_stop(self) -> None:
        """Ask the run to stop: it stops after the current batch, keeps its best weights and evaluates them.

        A queued run is marked ``stopped`` without training.
        """
        if not self.exists():
            raise TrainingError(f"{self.path} is not a run folder (no status.json)")
        atomic_write_text(self.path / _STOP, now_iso() + "\n")

    def launch(self, *, python: str | None = None) -> int:
        """Start the worker process (detached) for this queued run; return its pid.

        The worker is ``python -m musictag_core.training.worker RUN_DIR`` with the
        caller's environment: the installed package is found like any other.
        """
        with open(self.path / _LOG, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603
                [python or sys.executable, "-m", WORKER_MODULE, str(self.path.resolve())],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        # status.json belongs to the worker (it records its own pid); the launcher writes
        # worker.pid so a worker that dies before writing anything is still detected
        atomic_write_json(self.path / _PID, {"pid": proc.pid, "pid_start": proc_start_time(proc.pid)})
        # Reap the child as soon as it exits: a long-lived launcher (the Streamlit server)
        # would otherwise keep every finished or killed worker as a zombie.
        threading.Thread(target=proc.wait, name=f"musictag-reap-{proc.pid}", daemon=True).start()
        return proc.pid

    def delete(self) -> Path:
        """Delete the folder; refuses a queued or running run. Returns the deleted path.

        Raises
        ------
        TrainingError
            If it is not a run, or its worker is queued or running.
        """
        try:
            state = self.status().get("state")
        except MusictagError:
            raise TrainingError(f"{str(self.path)!r} is not a run (no status.json); nothing deleted") from None
        if state in ACTIVE_STATES:
            raise TrainingError(f"run {self.run_id} is {state}; stop it (and wait until it has stopped) before deleting it")
        shutil.rmtree(self.path)
        return self.path

    # -- a summary ------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """One listing row: ``run_id``, ``path``, ``state``, ``model``, ``dataset``, ``created``,
        ``metrics`` (test metrics, {} before the run saved them), ``model_file`` and ``error``."""
        st = self.status()
        cfg = self.read_config()
        model_file = self.model_file()
        return {
            "run_id": self.run_id,
            "path": str(self.path),
            "state": st.get("state"),
            "model": cfg.get("model"),
            "dataset": cfg.get("dataset"),
            "created": st.get("created"),
            "metrics": (self.read_metrics() or {}).get("metrics", {}),
            "model_file": None if model_file is None else str(model_file),
            "error": st.get("error"),
        }


def iter_runs(runs_dir: str | os.PathLike | None = None) -> Iterator[Run]:
    """Every run folder of the runs directory, newest first."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        return
    for d in sorted(root.iterdir(), reverse=True):
        run = Run(d)
        if run.exists():
            yield run


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """:meth:`Run.summary` of every run under ``runs_dir`` (newest first); unreadable folders are left out."""
    out = []
    for run in iter_runs(runs_dir):
        try:
            out.append(run.summary())
        except MusictagError:
            continue
    return out
