"""Training runs on disk: one :class:`Run` owns the run-folder protocol.

Paths, atomic status and events, the runs directory's lock, the worker's pid,
stop requests, listing, launching, deleting and watching all live here, so the
worker (:mod:`musictag_core.training.worker`), the CLI, the Train and Runs pages
and the tagger's run loader (:mod:`musictag_core.models.trained`) read no run
file themselves. This package sits on the ground floor (it imports only
:mod:`~musictag_core.errors`, :mod:`~musictag_core.fileio` and
:mod:`~musictag_core.paths`), so the models layer can use it.
"""

from __future__ import annotations

from typing import Any

from .folder import (
    ACTIVE_STATES,
    RUN_STATES,
    WORKER_MODULE,
    EventWriter,
    Run,
    is_runs_folder,
    iter_runs,
    list_runs,
    now_iso,
    read_events,
    run_duration_s,
    runs_root,
)
from .launch import MIN_FREE_BYTES, check_runs_writable, launch_run
from .process import LOCK_NAME, RunLock

__all__ = [
    "ACTIVE_STATES",
    "LOCK_NAME",
    "MIN_FREE_BYTES",
    "RUN_STATES",
    "WORKER_MODULE",
    "EventWriter",
    "Run",
    "RunLock",
    "RunWatcher",
    "batch_table",
    "check_runs_writable",
    "epoch_table",
    "format_duration",
    "is_runs_folder",
    "iter_runs",
    "launch_run",
    "list_runs",
    "now_iso",
    "read_events",
    "run_duration_s",
    "runs_root",
]

_WATCH = ("RunWatcher", "batch_table", "epoch_table", "format_duration")  # pandas: imported on first use


def __getattr__(name: str) -> Any:
    if name in _WATCH:
        from . import watch

        return getattr(watch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
