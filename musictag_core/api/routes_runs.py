"""``/v1/runs``: start a training run from a JSON config, follow it, stop it.

A run is the same folder the command line and the Train page use (:class:`musictag_core.runs.Run`);
it trains in its own worker process, so it outlives a restarted API.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse

from .errors import ApiError
from .routes_tag import ERRORS, service
from .schemas import ErrorResponse, RunAccepted, RunsResponse, RunStatus
from .sse import SSE_HEADERS, poll_stream

__all__ = ["router"]

router = APIRouter(prefix="/v1/runs", tags=["runs"])

_R404 = {404: {"model": ErrorResponse, "description": "unknown run"}, 401: ERRORS[401]}
_FINAL = ("finished", "failed", "stopped")
_EXAMPLE = {"dataset": "demo", "model": "logreg", "preset": "fast", "epochs": 3}


def _open(request: Request, run_id: str):  # noqa: ANN202 - Run
    from ..errors import ParameterError
    from ..runs import Run

    try:
        run = Run.open(run_id, runs_dir=service(request).settings.runs_dir)
    except ParameterError:
        run = None
    if run is None or not run.exists():
        raise ApiError(404, "unknown run", f"no run {run_id!r}; list the runs with GET /v1/runs")
    return run


def _public_summary(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row.pop("path", None)  # no server paths
    if row.get("model_file"):
        row["model_file"] = os.path.basename(row["model_file"])
    return row


def _run_config(config: dict[str, Any]):  # noqa: ANN202 - RunConfig
    from ..datasets.detect import DEMO_SPECS
    from ..paths import resolve_data_path
    from ..training import RunConfig

    if not isinstance(config, dict):
        raise ApiError(422, "invalid run config", "the body must be a JSON object of run settings (RunConfig fields)")
    dataset = config.get("dataset")
    if isinstance(dataset, str) and dataset.strip() and dataset.strip() not in DEMO_SPECS:  # demo, demo-hard
        config = {**config, "dataset": str(resolve_data_path(dataset))}  # only under the data roots
    return RunConfig.from_dict(config)


def _start(config: dict[str, Any], runs_dir: str | None) -> str:
    from ..training import start_run

    return start_run(_run_config(config), runs_dir=runs_dir, check=True)


def _preflight(config: dict[str, Any]) -> dict[str, Any]:
    from ..training.preflight import preview

    return preview(_run_config(config)).to_dict()


@router.post("", status_code=202, response_model=RunAccepted, responses={**ERRORS, 409: {"model": ErrorResponse}},
             summary="Start a training run")
async def start(request: Request, config: dict[str, Any] = Body(..., examples=[_EXAMPLE])) -> dict:
    """Start a run from a JSON object of ``RunConfig`` settings (as ``musictag train --config``).

    ``dataset`` is ``"demo"``, ``"demo-hard"`` or a path under the server's data folders. The run is queued
    (one trains at a time) and runs in its own process; follow it with ``GET /v1/runs/{id}``
    or ``/v1/runs/{id}/events``.
    """
    svc = service(request)
    run_id = await asyncio.to_thread(_start, config, svc.settings.runs_dir)
    base = f"/v1/runs/{run_id}"
    return {"run_id": run_id, "state": "queued", "links": {"status": base, "events": f"{base}/events", "stop": f"{base}/stop"}}


@router.post("/preflight", responses={**ERRORS, 409: {"model": ErrorResponse, "description": "the data cannot support the settings"}},
             summary="Check a run's settings against its dataset, starting nothing")
async def check(request: Request, config: dict[str, Any] = Body(..., examples=[_EXAMPLE])) -> dict:
    """The pre-flight check ``POST /v1/runs`` runs first, alone (no run folder; no audio decoded), as the Train
    page shows it before Start: ``n_tracks``, ``counts`` per label, ``unit`` and ``grouped_by`` (artists),
    ``evaluation`` (split, kfold or loo), ``k`` used and ``k_requested``, ``repeats``, ``max_k``, ``n_folds``
    and ``notes`` (K lowered, no test split). A refusal is the 409 that starting the run would get.
    """
    return await asyncio.to_thread(_preflight, config)


@router.get("", response_model=RunsResponse, summary="Every run", responses={401: ERRORS[401]})
async def list_all(request: Request) -> dict:
    """Every run, newest first: state, model, dataset, test metrics, error."""
    from ..runs import list_runs

    rows = await asyncio.to_thread(list_runs, service(request).settings.runs_dir)
    return {"runs": [_public_summary(r) for r in rows]}


def _status(run) -> dict[str, Any]:  # noqa: ANN001
    status = run.status()
    watcher = run.watch()
    watcher.poll()
    config = run.read_config()
    metrics = run.read_metrics() or {}
    card = run.read_card() or {}
    fraction = watcher.fraction()
    progress = {
        "phase": watcher.phase, "fraction": None if fraction is None else round(float(fraction), 4),
        "eta_s": watcher.eta_s(), "epoch": watcher.epochs_done, "epochs_total": watcher.epochs_total,
        "step": watcher.step, "loss": watcher.last_loss, "message": watcher.describe(),
        "tracks_done": watcher.tracks_done, "tracks_total": watcher.tracks_total,
    }  # fmt: skip
    if status.get("state") in _FINAL:
        progress["fraction"] = 1.0 if status.get("state") == "finished" else progress["fraction"]
        progress["eta_s"] = None
    return {
        "run_id": run.run_id, "state": status.get("state"), "model": config.get("model"),
        "dataset": config.get("dataset"), "created": status.get("created"), "started": status.get("started"),
        "ended": status.get("ended"), "error": status.get("error"), "stop_requested": run.stop_requested(),
        "progress": progress, "metrics": metrics.get("metrics") or {}, "cv": metrics.get("cv"),
        # from the run card once written, as `musictag train --json` prints them (#13)
        "evaluation": card.get("evaluation"), "tuning": card.get("tuning"),
        "notes": (card.get("evaluation") or {}).get("notes", []) + (card.get("fallbacks") or []),
        "fitted_on": card.get("fitted_on"), "feature_columns": card.get("feature_columns"),
        "excluded_columns": card.get("excluded_columns"),
    }  # fmt: skip


@router.get("/{run_id}", response_model=RunStatus, responses=_R404, summary="A run's status, progress and metrics")
async def status(request: Request, run_id: str) -> dict:
    """State (queued, running, finished, failed, stopped), progress with ETA, and test metrics once finished.

    Once the run card is written, also what ``musictag train --json`` prints from it: ``evaluation``
    (the pre-flight plan: K used and asked for, folds, notes), ``tuning``, ``notes`` (K lowered,
    fallbacks), ``fitted_on``, and for a feature table ``feature_columns`` and ``excluded_columns``
    (``{column, reason}``: the column rule).
    """
    run = _open(request, run_id)
    return await asyncio.to_thread(_status, run)


def _compare(a, b, metric: str | None) -> dict[str, Any]:  # noqa: ANN001 - Runs
    from ..training import compare_runs

    return compare_runs(a.path, b.path, metric=metric)


@router.get("/{run_id}/compare/{other_id}", responses={**_R404, 409: {"model": ErrorResponse, "description": "not the same folds"}},
            summary="Two runs paired per fold, with a bootstrap interval")
async def compare(request: Request, run_id: str, other_id: str, metric: str | None = None) -> dict:
    """Exactly ``musictag runs compare A B --json``'s object: ``metric``, ``n_folds``, per-fold ``folds``
    (``{fold, a, b, diff}``, A - B), ``mean_a``, ``mean_b``, ``mean_diff``, ``ci95`` and ``wins``.

    Both runs must have saved the same folds (same dataset, seed and cross-validation settings);
    otherwise 409 saying what differs. ``metric`` defaults to the task's headline.
    """
    a, b = _open(request, run_id), _open(request, other_id)
    return await asyncio.to_thread(_compare, a, b, metric)


@router.get("/{run_id}/events", responses={**_R404, 200: {"content": {"text/event-stream": {}}}},
            response_class=StreamingResponse, summary="A run's events as Server-Sent Events")
async def events(request: Request, run_id: str, follow: bool = True) -> StreamingResponse:
    """Every line of the run's ``events.jsonl`` as an event (``batch``, ``epoch``, ``log``, ``error``, ...).

    The ``id`` of each event is a byte offset: reconnect with ``Last-Event-ID`` to resume. The stream
    ends with an ``end`` event once the run is finished, failed or stopped (``follow=false``: after
    the events written so far). Tracebacks stay in the run folder.
    """
    run = _open(request, run_id)
    try:
        start = max(0, int(request.headers.get("last-event-id", "0")))
    except ValueError:
        start = 0

    def read(cursor: tuple[int, bool]) -> tuple[list, tuple[int, bool], bool]:
        offset, ended = cursor
        if ended:
            return [], cursor, True
        state = run.status().get("state")  # before reading: a final state means every event is written
        evs, new = run.events(since=offset)
        out = [(new, ev.get("type", "event"), {k: v for k, v in ev.items() if k != "traceback"}) for ev in evs]
        done = state in _FINAL
        if done:
            out.append((new, "end", {"run_id": run.run_id, "state": state}))
        return out, (new, done), done

    stream = poll_stream(read, cursor=(start, False), interval_s=0.5, follow=follow)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/{run_id}/stop", status_code=202, responses={**_R404, 409: {"model": ErrorResponse}}, summary="Stop a run")
async def stop(request: Request, run_id: str) -> dict:
    """Ask the run to stop after the current batch (it keeps and evaluates its best weights); a queued run never starts."""
    run = _open(request, run_id)
    state = (await asyncio.to_thread(run.status)).get("state")
    if state in _FINAL:
        raise ApiError(409, "run already ended", f"run {run_id} is already {state}")
    await asyncio.to_thread(run.request_stop)
    return {"run_id": run.run_id, "state": state, "stop_requested": True}
