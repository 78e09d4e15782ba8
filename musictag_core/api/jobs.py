"""Long jobs: answered ``202`` with a job id, run in the worker pool, kept for a bounded time.

A job function takes ``progress`` and returns a JSON-ready result::

    def job(progress):
        for i, item in enumerate(items):
            progress(done=i, total=len(items), message=f"tagging {item}")
            ...
        return {"results": [...]}

:class:`JobStore` records each job's state (``queued``, ``running``, ``finished``,
``failed``), its progress events (the last :data:`MAX_EVENTS`), its result or its error
(``{"error", "detail", "status"}``, as the API answers errors), and forgets finished jobs
``ttl_s`` seconds after they ended, or the oldest finished ones beyond ``max_jobs``.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, error_for_exception
from .pool import WorkerPool

__all__ = ["JOB_STATES", "MAX_EVENTS", "Job", "JobStore", "Progress"]

#: Every state a job can be in; the last two are final.
JOB_STATES = ("queued", "running", "finished", "failed")
#: Progress events kept per job.
MAX_EVENTS = 1000

Progress = Callable[..., None]


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Job:
    """One job. ``events`` hold ``{"seq", "type", "time", ...}`` dicts; ``seq`` counts from 1."""

    job_id: str
    kind: str
    params: dict[str, Any]
    state: str = "queued"
    created: str = field(default_factory=_now_iso)
    started: str | None = None
    ended: str | None = None
    ended_monotonic: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0

    @property
    def final(self) -> bool:
        """Finished or failed."""
        return self.state in ("finished", "failed")

    def status(self, *, with_result: bool = True) -> dict[str, Any]:
        """The JSON of ``GET /v1/jobs/{id}``."""
        out = {
            "job_id": self.job_id, "kind": self.kind, "state": self.state, "params": self.params,
            "created": self.created, "started": self.started, "ended": self.ended,
            "progress": dict(self.progress), "error": self.error,
        }  # fmt: skip
        if with_result:
            out["result"] = self.result
        return out


class JobStore:
    """Jobs of one API process (in memory: a restarted server forgets them).

    Parameters
    ----------
    pool : WorkerPool
        Where jobs run (the same pool as inference).
    ttl_s : float
        Seconds a finished job is kept.
    max_jobs : int
        Jobs kept at most; finished ones are dropped oldest first.
    """

    def __init__(self, *, pool: WorkerPool, ttl_s: float, max_jobs: int) -> None:
        self.pool = pool
        self.ttl_s = float(ttl_s)
        self.max_jobs = int(max_jobs)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def _purge(self) -> None:
        now = time.monotonic()
        with self._lock:
            for jid in [j for j, job in self._jobs.items() if job.final and now - (job.ended_monotonic or now) > self.ttl_s]:
                del self._jobs[jid]
            finished = sorted((job.ended_monotonic or 0.0, jid) for jid, job in self._jobs.items() if job.final)
            while len(self._jobs) >= self.max_jobs and finished:
                del self._jobs[finished.pop(0)[1]]

    def _event(self, job: Job, kind: str, **data: Any) -> None:
        with self._lock:
            job.seq += 1
            job.events.append({"seq": job.seq, "type": kind, "time": _now_iso(), **data})
            del job.events[:-MAX_EVENTS]

    def submit(self, kind: str, fn: Callable[[Progress], Any], *, params: dict[str, Any] | None = None) -> Job:
        """Queue ``fn(progress)`` as a job of ``kind``; return the queued :class:`Job`.

        Raises
        ------
        ApiError
            503 when ``max_jobs`` unfinished jobs exist.
        QueueFull
            When the worker pool's queue is full.
        """
        self._purge()
        with self._lock:
            if len(self._jobs) >= self.max_jobs:
                raise ApiError(503, "busy", f"{len(self._jobs)} jobs are queued or running; retry later",
                               headers={"Retry-After": "10"})
        job = Job(job_id=os.urandom(8).hex(), kind=kind, params=dict(params or {}))

        def progress(*, done: int | None = None, total: int | None = None, message: str | None = None, **data: Any) -> None:
            update = {k: v for k, v in (("done", done), ("total", total), ("message", message)) if v is not None}
            job.progress.update(update, **data)
            self._event(job, "progress", **update, **data)

        def run() -> None:
            job.state, job.started = "running", _now_iso()
            self._event(job, "state", state="running")
            try:
                result, error = fn(progress), None
            except Exception as exc:  # noqa: BLE001 - every failure is the job's result
                err = error_for_exception(exc)
                result, error = None, {"error": err.error, "detail": err.detail, "status": err.status}
            with self._lock:  # the final state and its event together: a reader sees both or neither
                job.result, job.error = result, error
                job.state = "failed" if error else "finished"
                job.ended, job.ended_monotonic = _now_iso(), time.monotonic()
                job.seq += 1
                job.events.append({"seq": job.seq, "type": "state", "time": job.ended, "state": job.state,
                                   **({"error": error} if error else {})})

        with self._lock:
            self._jobs[job.job_id] = job
        self._event(job, "state", state="queued")
        try:
            self.pool.submit(run)
        except BaseException:
            with self._lock:
                self._jobs.pop(job.job_id, None)
            raise
        return job

    def get(self, job_id: str) -> Job:
        """The job ``job_id``.

        Raises
        ------
        ApiError
            404 when there is no such job (never was, or it expired).
        """
        self._purge()
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, "unknown job", f"no job {job_id!r}: it never existed, or its result expired "
                           f"({self.ttl_s:g} s after it ended) or the server restarted")
        return job

    def list(self) -> list[Job]:
        """Every job kept, newest first."""
        self._purge()
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def events_since(self, job: Job, seq: int) -> tuple[list[dict[str, Any]], bool]:
        """Events of ``job`` with ``seq`` greater than ``seq``, and whether the job has ended."""
        with self._lock:
            return [e for e in job.events if e["seq"] > seq], job.final
