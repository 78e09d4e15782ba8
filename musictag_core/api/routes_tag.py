"""``/v1/tag``, ``/v1/embed``, ``/v1/models``: tagging and embedding uploads, listing models."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile

from ..uploads.limits import safe_filename
from .errors import ApiError
from .schemas import EmbedResponse, ErrorResponse, ModelsResponse, TagResponse
from .service import Service, Upload, batch_outcome

__all__ = ["router"]

router = APIRouter(prefix="/v1")

ERRORS = {
    401: {"model": ErrorResponse, "description": "missing or wrong bearer token"},
    404: {"model": ErrorResponse, "description": "unknown model"},
    413: {"model": ErrorResponse, "description": "over the upload limit (body, file size, files per request)"},
    422: {"model": ErrorResponse, "description": "a bad file (named) or parameter"},
    503: {"model": ErrorResponse, "description": "the queue is full; retry after Retry-After seconds"},
}


def service(request: Request) -> Service:
    """The app's :class:`Service`."""
    return request.app.state.service


def _uploads(files: list[UploadFile]) -> list[Upload]:
    return [Upload(safe_filename(f.filename or "upload"), f.file, f.size) for f in files]


@router.post("/tag", response_model=TagResponse, response_model_exclude_unset=True, responses=ERRORS, tags=["tag"],
             summary="Tag audio files")
async def tag(
    request: Request,
    files: list[UploadFile] = File(..., description="one or more audio files (wav, mp3, flac, ogg)"),
    model: str = Form("MSD_musicnn", description="a model name from GET /v1/models"),
    overlap: float = Form(0.0, ge=0, lt=3, description="seconds shared by consecutive segments"),
    top_k: int | None = Form(None, ge=1, description="keep the k best tags (default: all)"),
) -> dict:
    """Each result is exactly the JSON object ``musictag tag`` prints for the file.

    One file that cannot be decoded is a 422 naming it; in a batch, a failed file gives an
    object with ``error`` and the others are still tagged (422 only when every file fails).
    """
    svc = service(request)
    uploads = _uploads(files)
    svc.check_uploads(uploads)
    results = await svc.pool.run(svc.tag_uploads, uploads, model=model, overlap=overlap, top_k=top_k)
    return {"results": batch_outcome(results)}


@router.post("/embed", response_model=EmbedResponse, response_model_exclude_unset=True, responses=ERRORS, tags=["tag"],
             summary="Track-level embeddings of audio files")
async def embed(
    request: Request,
    files: list[UploadFile] = File(..., description="one or more audio files"),
    model: str = Form("MSD_musicnn", description="a model name from GET /v1/models"),
) -> dict:
    """musicnn's track-averaged embeddings (``pooled`` 1506-d, ``penultimate`` 200-d); errors as for ``/v1/tag``."""
    svc = service(request)
    uploads = _uploads(files)
    svc.check_uploads(uploads)
    results = await svc.pool.run(svc.embed_uploads, uploads, model=model)
    return {"results": batch_outcome(results, what="embedded")}


def _public(info: dict) -> dict:
    return {k: v for k, v in info.items() if k != "path"}  # no server paths


@router.get("/models", response_model=ModelsResponse, tags=["models"], summary="Models available for tagging",
            responses={401: ERRORS[401]})
async def models(request: Request) -> dict:
    """The shipped models and finished training runs (as ``musictag models --json``, without server paths)."""
    import asyncio

    from ..commands.models import model_info

    entries = await asyncio.to_thread(service(request).model_entries, max_age_s=0.0)
    return {"models": [_public(model_info(e)) for e in entries.values()]}


@router.get("/models/{name}", tags=["models"], summary="A model's card", responses={404: ERRORS[404], 401: ERRORS[401]})
async def model_card(request: Request, name: str) -> dict:
    """The model's ``card.json``: labels, genres, audio and input settings, metrics, licence."""
    import asyncio

    entry = await asyncio.to_thread(service(request).model_entry, name)
    if not isinstance(entry.card, dict):
        raise ApiError(404, "unknown model", f"model {name!r} has no readable card")
    return entry.card
