"""``/v1/jobs``: the status, result and progress (Server-Sent Events) of long jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from .routes_tag import ERRORS, service
from .schemas import ErrorResponse, JobStatus
from .sse import SSE_HEADERS, poll_stream

__all__ = ["router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_J404 = {404: {"model": ErrorResponse, "description": "unknown or expired job"}, 401: ERRORS[401]}


@router.get("", summary="Jobs kept by this server", responses={401: ERRORS[401]})
async def list_jobs(request: Request) -> dict:
    """Every job this process keeps (newest first), without results."""
    return {"jobs": [j.status(with_result=False) for j in service(request).jobs.list()]}


@router.get("/{job_id}", response_model=JobStatus, responses=_J404, summary="A job's state, progress and result")
async def job_status(request: Request, job_id: str) -> dict:
    """``state`` is queued, running, finished (``result`` set) or failed (``error`` is ``{error, detail, status}``)."""
    return service(request).jobs.get(job_id).status()


@router.get("/{job_id}/events", response_class=StreamingResponse, summary="A job's progress as Server-Sent Events",
            responses={**_J404, 200: {"content": {"text/event-stream": {}}}})
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """``state`` events (queued, running, finished, failed) and ``progress`` events (done, total, message).

    Each event's ``id`` is its sequence number (``Last-Event-ID`` resumes); the stream ends with an
    ``end`` event carrying the final state.
    """
    store = service(request).jobs
    job = store.get(job_id)
    try:
        start = max(0, int(request.headers.get("last-event-id", "0")))
    except ValueError:
        start = 0

    def read(seq: int) -> tuple[list, int, bool]:
        events, final = store.events_since(job, seq)
        out = [(e["seq"], e["type"], e) for e in events]
        seq = events[-1]["seq"] if events else seq
        if final:
            out.append((seq, "end", {"job_id": job.job_id, "state": job.state}))
        return out, seq, final

    return StreamingResponse(poll_stream(read, cursor=start, interval_s=0.2), media_type="text/event-stream", headers=SSE_HEADERS)
