"""Analysis routes: each is a few lines calling one core function. THE place to add one.

Two helpers register a route here:

* :func:`job_route` / :func:`upload_job_route`: a **long job** (``202`` + a job id; status
  and result at ``GET /v1/jobs/{id}``, progress as Server-Sent Events at
  ``GET /v1/jobs/{id}/events``). The body is a pydantic model (JSON), or multipart ``file``
  plus a form field ``params`` holding that model as JSON. The function runs in the worker
  pool as ``fn(svc, [upload,] request, progress)`` and returns the JSON-ready result;
  ``progress(done=, total=, message=)`` sends a progress event.
* :func:`sync_route`: a **quick request** answered in the same call (``fn(svc, request)`` in
  the pool, its dict is the answer).

A :class:`~musictag_core.errors.MusictagError` raised by the core becomes ``{error, detail}``
with a 4xx status (422 for a bad file or value, 404 for an unknown model); anything else is
a 500 with no traceback. ``svc.tagger(name)`` gives a loaded model (404 if unknown), and
``svc.settings.runs_dir`` the runs folder; ``resolve_data_path`` keeps server paths under the
data roots.

Live today (the machinery is tested with them): ``POST /v1/tag-dataset`` (JSON: tag every
audio file of a dataset under the data roots) and ``POST /v1/tag-batch`` (multipart: tag
uploads in the background).

Waiting for the core functions built on other branches: see :func:`register_pending`, where
each of ``POST /v1/robustness``, ``/v1/explain``, ``/v1/indexes`` (jobs), ``/v1/similar`` and
``/v1/search-text`` (quick) is written out as the call it will make; uncomment it once the core
function exists.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the request models of the
# routes made inside the helpers from their (real, not string) annotations.

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, ValidationError

from ..uploads.limits import safe_filename
from .errors import ApiError
from .jobs import Job, Progress
from .routes_tag import ERRORS, service
from .schemas import JobAccepted, TagDatasetRequest, TagResponse
from .service import Service, Upload

__all__ = ["job_route", "register_pending", "router", "sync_route", "upload_job_route"]

router = APIRouter(prefix="/v1", tags=["analysis"])


def _accepted(job: Job) -> dict:
    base = f"/v1/jobs/{job.job_id}"
    return {"job_id": job.job_id, "kind": job.kind, "state": job.state, "links": {"status": base, "events": f"{base}/events"}}


def job_route(path: str, kind: str, model: type[BaseModel], fn: Callable[[Service, Any, Progress], Any], *, summary: str,
              on: APIRouter = router) -> None:
    """Register ``POST /v1<path>`` (JSON body ``model``) that starts job ``kind`` running ``fn(svc, request, progress)``."""

    async def start(request: Request, body: model) -> dict:  # type: ignore[valid-type]
        svc = service(request)
        job = svc.jobs.submit(kind, lambda progress: fn(svc, body, progress), params=body.model_dump())
        return _accepted(job)

    start.__doc__ = fn.__doc__
    on.post(path, status_code=202, response_model=JobAccepted, responses=ERRORS, summary=summary)(start)


def upload_job_route(path: str, kind: str, model: type[BaseModel], fn: Callable[[Service, list[Upload], Any, Progress], Any], *,
                     summary: str, on: APIRouter = router) -> None:
    """Register ``POST /v1<path>`` (multipart ``files`` + form ``params``, JSON of ``model``) starting job ``kind``.

    The uploads are read into memory before the 202 (the request's temporary files end with it);
    ``fn(svc, uploads, request, progress)`` runs in the pool.
    """

    async def start(request: Request, files: list[UploadFile] = File(..., description="audio files"),
                    params: str = Form("{}", description=f"JSON object of {model.__name__}")) -> dict:
        svc = service(request)
        try:
            body = model.model_validate(json.loads(params or "{}"))
        except (ValueError, ValidationError) as exc:
            raise ApiError(422, "invalid parameter", f"params: {exc}".splitlines()[0]) from None
        uploads = [Upload(safe_filename(f.filename or "upload"), f.file, f.size) for f in files]
        svc.check_uploads(uploads)
        kept = [Upload(u.name, b, u.size) for u, b in zip(uploads, await asyncio.to_thread(lambda: [u.buffer() for u in uploads]))]
        job = svc.jobs.submit(kind, lambda progress: fn(svc, kept, body, progress),
                              params={**body.model_dump(), "files": [u.name for u in kept]})
        return _accepted(job)

    start.__doc__ = fn.__doc__
    on.post(path, status_code=202, response_model=JobAccepted, responses=ERRORS, summary=summary)(start)


def sync_route(path: str, model: type[BaseModel], fn: Callable[[Service, Any], dict], *, summary: str,
               response_model: type[BaseModel] | None = None, on: APIRouter = router) -> None:
    """Register ``POST /v1<path>`` (JSON body ``model``) answered with ``fn(svc, request)``, run in the pool.

    ``on`` is the router (default this module's, included by :func:`~musictag_core.api.app.create_app`).
    """

    async def answer(request: Request, body: model) -> dict:  # type: ignore[valid-type]
        svc = service(request)
        return await svc.pool.run(fn, svc, body)

    answer.__doc__ = fn.__doc__
    on.post(path, response_model=response_model, responses=ERRORS, summary=summary)(answer)


# ---------------------------------------------------------------- live job kinds


def tag_dataset(svc: Service, req: TagDatasetRequest, progress: Progress) -> dict:
    """Tag every audio file of a dataset under the server's data folders; each result is ``musictag tag``'s object.

    The job's result is ``{"path", "model", "n_files", "n_failed", "results"}``; progress counts files.
    """
    from ..commands.tag import file_result
    from ..datasets import open_dataset
    from ..paths import resolve_data_path
    from ..uploads.limits import limits

    spec = req.path.strip()
    target = spec if spec == "demo" else resolve_data_path(spec)
    tagger = svc.tagger(req.model)
    progress(message="reading the dataset")
    index = open_dataset(target)
    paths = [p for p in index.tracks["path"].tolist() if p][: req.limit]
    if not paths:
        raise ApiError(422, "no audio", f"dataset {spec!r} lists no audio files (a feature table cannot be tagged)")
    max_duration = limits().max_duration_s
    results, failed = [], 0
    for i, path in enumerate(paths):
        progress(done=i, total=len(paths), message=f"tagging file {i + 1}/{len(paths)}")
        obj, pred = file_result(path, tagger, overlap=req.overlap, max_duration=max_duration, top_k=req.top_k)
        failed += pred is None
        results.append(obj)
    progress(done=len(paths), total=len(paths), message="done")
    return {"path": spec, "model": tagger.name, "n_files": len(paths), "n_failed": failed, "results": results}


class TagBatchParams(BaseModel):
    """Settings of a background tag of uploads (the form fields of ``/v1/tag``)."""

    model: str = "MSD_musicnn"
    overlap: float = 0.0
    top_k: int | None = None


def tag_batch(svc: Service, uploads: list[Upload], req: TagBatchParams, progress: Progress) -> dict:
    """Tag uploads in the background: the job's result is ``{"results": [...]}``, exactly as ``POST /v1/tag`` answers."""
    from ..commands.tag import file_result
    from ..uploads.limits import limits

    tagger = svc.tagger(req.model)
    max_duration = limits().max_duration_s
    results = []
    for i, up in enumerate(uploads):
        progress(done=i, total=len(uploads), message=f"tagging {up.name}")
        results.append(file_result(up.buffer(), tagger, overlap=req.overlap, max_duration=max_duration, top_k=req.top_k)[0])
    progress(done=len(uploads), total=len(uploads), message="done")
    return {"results": results}


job_route("/tag-dataset", "tag-dataset", TagDatasetRequest, tag_dataset, summary="Tag a dataset on the server (a long job)")
upload_job_route("/tag-batch", "tag-batch", TagBatchParams, tag_batch, summary="Tag uploads in the background (a long job)")
_ = TagResponse  # the shape of a tag-batch job's result


# ---------------------------------------------------------------- waiting for the core (wired after merging)


def register_pending() -> None:
    """The five analysis routes, each as the one core call it will make (uncomment once it exists).

    Every name below (module, function, request fields) is a placeholder for what the other
    branches merge; adjust it to the real signature, keep the shape.
    """
    # --- POST /v1/robustness: a job over one upload --------------------------------------
    # class RobustnessParams(BaseModel):
    #     model: str = "MSD_musicnn"
    #     perturbations: list[str] | None = None
    # def robustness(svc, uploads, req, progress):
    #     from ..robustness import robustness_report
    #     return robustness_report(uploads[0].buffer(), model=svc.tagger(req.model), progress=progress, ...).to_dict()
    # upload_job_route("/robustness", "robustness", RobustnessParams, robustness, summary="Robustness of the tags to perturbations")
    #
    # --- POST /v1/explain: a job over one upload -----------------------------------------
    # class ExplainParams(BaseModel):
    #     model: str = "MSD_musicnn"
    #     label: str | None = None
    # def explain(svc, uploads, req, progress):
    #     from ..explain import explain_file
    #     return explain_file(uploads[0].buffer(), model=svc.tagger(req.model), label=req.label, ...).to_dict()
    # upload_job_route("/explain", "explain", ExplainParams, explain, summary="Which parts of the audio drive a tag")
    #
    # --- POST /v1/indexes: build or update an index (a job over a dataset path) ------------
    # class IndexParams(BaseModel):
    #     name: str
    #     path: str
    #     model: str = "MSD_musicnn"
    # def build_index(svc, req, progress):
    #     from ..paths import resolve_data_path
    #     from ..similarity import build_index
    #     return build_index(resolve_data_path(req.path), name=req.name, model=req.model, progress=progress).summary()
    # job_route("/indexes", "index", IndexParams, build_index, summary="Build or update a similarity index")
    #
    # --- POST /v1/similar: quick -------------------------------------------------------------
    # class SimilarParams(BaseModel):
    #     index: str
    #     path: str | None = None   # a track of the index, or ...
    #     k: int = 10
    # def similar(svc, req):
    #     from ..similarity import find_similar
    #     return find_similar(req.path, index=req.index, k=req.k).to_dict()
    # sync_route("/similar", SimilarParams, similar, summary="Tracks most similar to one")
    #
    # --- POST /v1/search-text: quick ---------------------------------------------------------
    # class SearchTextParams(BaseModel):
    #     query: str
    #     index: str | None = None
    # def search_text(svc, req):
    #     from ..textsearch import search_text
    #     return search_text(req.query, index=req.index)  # {"query", "tags", "tracks"}
    # sync_route("/search-text", SearchTextParams, search_text, summary="Zero-shot text search over the taggers' tags")


register_pending()
