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

Every route answers what the matching command prints with ``--json``, built by the same function:

* ``POST /v1/tag-dataset`` (job, JSON: tag every audio file of a dataset under the data roots)
  and ``POST /v1/tag-batch`` (job, multipart: tag uploads in the background), each result
  :func:`musictag_core.commands.tag.file_result`'s object;
* ``POST /v1/indexes`` (job: build or update a named similarity index of a folder or dataset under
  the data roots; result ``musictag index --json``'s update report), ``GET /v1/indexes`` (``index
  list --json`` without the server folder) and ``DELETE /v1/indexes/{name}``;
* ``POST /v1/similar`` (quick, multipart: uploads and/or ``paths`` of tracks of the index), each
  result :func:`musictag_core.commands.similar.query_result`'s object;
* ``POST /v1/search-text`` (quick, JSON), :func:`musictag_core.commands.search_text.search_result`.

* ``POST /v1/robustness`` (job, multipart ``files`` + ``params``), each result
  :func:`musictag_core.commands.robustness.file_report`'s object;
* ``POST /v1/explain`` (job, one file), :func:`musictag_core.commands.explain.file_explanation`'s object.

An index is named, never given as a folder: :func:`open_named_index` answers 404 for an unknown
one without showing where the indexes live.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the request models of the
# routes made inside the helpers from their (real, not string) annotations.

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..uploads.limits import safe_filename
from .errors import ApiError
from .jobs import Job, Progress
from .routes_tag import ERRORS, service
from .schemas import (
    ErrorResponse,
    IndexDeleted,
    IndexesResponse,
    IndexRequest,
    JobAccepted,
    SearchTextRequest,
    SearchTextResponse,
    SimilarResponse,
    TagDatasetRequest,
    TagResponse,
)
from .service import Service, Upload, batch_outcome

__all__ = ["job_route", "open_named_index", "router", "sync_route", "upload_job_route"]

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
                     summary: str, max_files: int | None = None, on: APIRouter = router) -> None:
    """Register ``POST /v1<path>`` (multipart ``files`` + form ``params``, JSON of ``model``) starting job ``kind``.

    The uploads are read into memory before the 202 (the request's temporary files end with it);
    ``fn(svc, uploads, request, progress)`` runs in the pool. ``max_files``: at most this many
    uploads (422 before the job starts; default the server's ``MUSICTAG_API_MAX_FILES``).
    """

    async def start(request: Request, files: list[UploadFile] = File(..., description="audio files"),
                    params: str = Form("{}", description=f"JSON object of {model.__name__}")) -> dict:
        svc = service(request)
        try:
            body = model.model_validate(json.loads(params or "{}"))
        except ValidationError as exc:  # name each bad field, as for a JSON body
            detail = "; ".join(f"params.{'.'.join(str(x) for x in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors())
            raise ApiError(422, "invalid parameter", detail) from None
        except ValueError as exc:
            raise ApiError(422, "invalid parameter", f"params is not JSON: {exc}".splitlines()[0]) from None
        uploads = [Upload(safe_filename(f.filename or "upload"), f.file, f.size) for f in files]
        if max_files is not None and len(uploads) > max_files:
            raise ApiError(422, "invalid request", f"{len(uploads)} files sent; {path} takes "
                           + ("one file" if max_files == 1 else f"at most {max_files} files") + " per job")
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
    from ..datasets.detect import DEMO_SPECS
    from ..paths import resolve_data_path
    from ..uploads.limits import limits

    spec = req.path.strip()
    target = spec if spec in DEMO_SPECS else resolve_data_path(spec)  # demo or demo-hard
    svc.model_entry(req.model)  # an unknown model first (404), then the dataset: both before the model loads
    progress(message="reading the dataset")
    index = open_dataset(target)
    tagger = svc.tagger(req.model)
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


# ---------------------------------------------------------------- similarity indexes


def _index_names() -> list[str]:
    from ..paths import indexes_dir
    from ..similarity.library import NAME_PATTERN

    root = indexes_dir()
    if not root.is_dir():
        return []
    return sorted(f.name for f in root.iterdir() if NAME_PATTERN.fullmatch(f.name) and (f / "index.json").is_file())


def _unknown_index(name: str) -> ApiError:
    have = _index_names()
    listed = ", ".join(have) if have else "none yet (build one with POST /v1/indexes)"
    return ApiError(404, "unknown index", f"no index named {name!r}; existing indexes: {listed} (GET /v1/indexes)")


def open_named_index(name: str, *, model: str | None = None):  # noqa: ANN201 - LibraryIndex
    """Open the index ``name`` of the server's indexes folder (a name only: never a server path).

    Raises
    ------
    ApiError
        404 for an unknown index (naming the existing ones, not the folder); 422 for a bad name,
        or for ``model`` when the index was built with another (the core's message).
    """
    from ..errors import ParameterError
    from ..similarity import check_index_name, open_index

    check_index_name(name)  # ParameterError: 422 naming the allowed characters
    if name not in _index_names():
        raise _unknown_index(name)
    try:
        return open_index(name, model=model)
    except ParameterError as exc:
        if str(exc).startswith("no index named"):  # deleted meanwhile; its message names the folder
            raise _unknown_index(name) from None
        raise


def build_index_job(svc: Service, req: IndexRequest, progress: Progress) -> dict:
    """Build or update a named index of a dataset or folder under the data roots (``musictag index --json``'s report).

    The job's result is the update report ``{"name", "added", "changed", "removed", "unchanged",
    "failed", "n_tracks", "n_segments", "notes"}``; progress events carry ``fraction`` and ``message``.
    """
    from ..datasets.detect import DEMO_SPECS
    from ..paths import resolve_data_path
    from ..similarity import build_index

    spec = req.path.strip()
    target = spec if spec in DEMO_SPECS else resolve_data_path(spec)  # demo or demo-hard

    def on_progress(fraction: float, message: str) -> None:
        progress(message=message, fraction=round(float(fraction), 4))

    report = build_index(target, name=req.name, model=req.model, space=req.space, search=req.search, labels=req.labels,
                         runs_dir=svc.settings.runs_dir, progress=on_progress)
    return report.to_dict()


job_route("/indexes", "index", IndexRequest, build_index_job, summary="Build or update a similarity index (a long job)")


def _public_index(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "folder"}  # no server folder


@router.get("/indexes", response_model=IndexesResponse, summary="Similarity indexes", responses={401: ERRORS[401]})
async def list_indexes(request: Request) -> dict:
    """Every index, as ``musictag index list --json`` lists it (without the folder it is kept in)."""
    from ..similarity import list_indexes as core_list

    return {"indexes": [_public_index(s) for s in await asyncio.to_thread(core_list)]}


@router.delete("/indexes/{name}", response_model=IndexDeleted, summary="Delete a similarity index",
               responses={401: ERRORS[401], 404: {"model": ErrorResponse, "description": "unknown index"}})
async def delete_index(request: Request, name: str) -> dict:
    """Delete the index ``name`` (404 if there is none)."""
    from ..similarity import delete_index as core_delete

    def delete() -> dict:
        open_named_index(name)  # 422 for a bad name, 404 for an unknown one
        core_delete(name)
        return {"deleted": name}

    return await asyncio.to_thread(delete)


def similar_queries(svc: Service, uploads: list[Upload], paths: list[str], *, index: str, k: int, exclude_self: bool,
                    model: str | None) -> list[dict]:
    """``musictag similar --json``'s object for each upload, then for each path (an index track, or a file under the data roots)."""
    from ..commands.similar import query_result
    from ..errors import ParameterError
    from ..paths import resolve_data_path

    idx = open_named_index(index, model=model)
    indexed = set(idx.paths)
    results = []
    for up in uploads:
        results.append(query_result(up.buffer().getvalue(), index=idx, k=k, exclude_self=exclude_self,
                                    runs_dir=svc.settings.runs_dir, name=up.name)[0])
    for path in paths:
        try:
            source = path if path in indexed else resolve_data_path(path, must_exist=False)
        except ParameterError as exc:
            raise ApiError(403, "path not allowed", str(exc)) from None
        results.append(query_result(source, index=idx, k=k, exclude_self=exclude_self, runs_dir=svc.settings.runs_dir,
                                    name=path)[0])
    return results


@router.post("/similar", response_model=SimilarResponse, response_model_exclude_unset=True, summary="Tracks like these",
             responses={**ERRORS, 403: {"model": ErrorResponse, "description": "a path outside the data folders"}})
async def similar(
    request: Request,
    index: str = Form(..., description="the index to search (GET /v1/indexes)"),
    files: list[UploadFile] | None = File(None, description="audio files to query with"),
    paths: list[str] | None = Form(None, description="tracks of the index (their paths as it lists them), or files under the data roots"),
    k: int = Form(10, ge=1, le=1000, description="neighbours per query"),
    exclude_self: bool = Form(False, description="leave out tracks with the query's own content"),
    model: str | None = Form(None, description="refused unless it is the model the index was built with"),
) -> dict:
    """Each result is exactly the JSON line ``musictag similar --json`` prints for a query: uploads first, then paths.

    A query already in the index (same content) is its own first neighbour at distance 0 unless
    ``exclude_self``. Errors as for ``/v1/tag``: one query that cannot be decoded is a 422
    naming it; in a batch it gives an object with ``error``. An unknown index is a 404; a
    ``model`` other than the index's is a 422.
    """
    svc = service(request)
    uploads = [Upload(safe_filename(f.filename or "upload"), f.file, f.size) for f in files or []]
    paths = [p for p in (paths or []) if p.strip()]
    if not uploads and not paths:
        raise ApiError(422, "invalid request", "send audio files in the multipart field 'files', or tracks of the index in 'paths'")
    if uploads:
        svc.check_uploads(uploads)
    if len(uploads) + len(paths) > svc.settings.max_files:
        raise ApiError(413, "too many files", f"{len(uploads) + len(paths)} queries in one request; at most "
                       f"{svc.settings.max_files} (MUSICTAG_API_MAX_FILES): split them over several requests")
    results = await svc.pool.run(similar_queries, svc, uploads, paths, index=index, k=k, exclude_self=exclude_self, model=model)
    return {"results": batch_outcome(results, what="searched")}


# ---------------------------------------------------------------- zero-shot text search


def search_text(svc: Service, req: SearchTextRequest) -> dict:
    """Rank the shipped taggers' tags by a free-text query and, with ``index``, the index's tracks.

    The answer is exactly ``musictag search-text --json``'s ``{"query", "tags", "tracks"}``.
    This maps text onto the models' tags; it is not a joint audio-text model.
    """
    from ..commands.search_text import search_result
    from ..errors import ParameterError
    from ..paths import resolve_data_path

    if req.index is not None and req.index.endswith(".json"):  # a tag-score table, as the CLI reads it
        try:
            resolve_data_path(req.index, must_exist=False)
        except ParameterError as exc:
            raise ApiError(403, "path not allowed", str(exc)) from None
    elif req.index is not None:
        open_named_index(req.index)  # 404 for an unknown index, without the server folder
    return search_result(req.query, index=req.index, top=req.top)


sync_route("/search-text", SearchTextRequest, search_text, response_model=SearchTextResponse,
           summary="Zero-shot text search over the taggers' tags (and an index's tracks)")


# ---------------------------------------------------------------- robustness and explanation


class RobustnessParams(BaseModel):
    """Settings of ``musictag robustness FILE...``."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field("MSD_musicnn", description="a model name from GET /v1/models")
    seed: int = Field(0, ge=0, description="seed of the noise")


def robustness(svc: Service, uploads: list[Upload], req: RobustnessParams, progress: Progress) -> dict:
    """Tag each upload under pitch, tempo, gain and noise perturbations (about 11 taggings each).

    The job's result is ``{"results": [...]}``, each exactly the line ``musictag robustness --json``
    prints for the file (``{"path", "model", "base", "perturbations", "summary"}``; ``error``
    for a file that cannot be decoded, as in ``/v1/tag``).
    """
    from ..commands.robustness import file_report
    from ..uploads.limits import limits

    tagger = svc.tagger(req.model)
    max_duration = limits().max_duration_s
    results = []
    for i, up in enumerate(uploads):
        progress(done=i, total=len(uploads), message=f"perturbing and tagging {up.name}")
        results.append(file_report(up.buffer(), tagger, seed=req.seed, max_duration=max_duration)[0])
    progress(done=len(uploads), total=len(uploads), message="done")
    return {"results": batch_outcome(results, what="tagged")}


class ExplainParams(BaseModel):
    """Settings of ``musictag explain FILE --tag TAG``."""

    model_config = ConfigDict(extra="forbid")
    tag: str = Field(description="the tag to explain: one of the model's labels", examples=["blues"])
    model: str = Field("MSD_musicnn", description="a model name from GET /v1/models")
    time_s: float = Field(0.5, gt=0, le=30, description="seconds per occluded cell")
    bands: int = Field(8, ge=1, le=512, description="mel bands per occluded cell")


def explain(svc: Service, uploads: list[Upload], req: ExplainParams, progress: Progress) -> dict:
    """Occlusion saliency of a tag on one upload: which time-frequency regions the model listened to.

    The job's result is exactly ``musictag explain --json``'s object: ``{"path", "model", "tag",
    "score", "saliency" (band groups x time cells), "bands_hz", "times_s", "deletion":
    {"salient_drop", "random_drop"}}``. A file that cannot be decoded fails the job with a 422.
    """
    from ..commands.explain import file_explanation
    from ..uploads.limits import limits

    tagger = svc.tagger(req.model)
    (up,) = uploads
    progress(message=f"occluding {up.name}")
    obj, _ = file_explanation(up.buffer(), tagger, tag=req.tag, max_duration=limits().max_duration_s,
                              time_s=req.time_s, bands=req.bands)
    batch_outcome([obj], what="explained")  # a bad file: 422 naming it
    progress(message="done")
    return obj


upload_job_route("/robustness", "robustness", RobustnessParams, robustness,
                 summary="How stable the tags are under pitch, tempo, gain and noise perturbations (a long job)")
upload_job_route("/explain", "explain", ExplainParams, explain, max_files=1,
                 summary="Which time-frequency regions drive a tag: occlusion saliency (a long job)")
