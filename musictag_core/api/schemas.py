"""Pydantic models of the API's requests and answers: they generate ``/openapi.json`` and ``/docs``.

Score lists are ``[{label, score}]``, as Hugging Face audio-classification pipelines
return them, beside our taggram fields (``labels`` and ``segments``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DatasetSummary", "EmbedFileResult", "EmbedResponse", "ErrorResponse", "Health", "JobAccepted", "JobStatus",
    "IndexDeleted", "IndexRequest", "IndexSummary", "IndexesResponse", "LabelScore", "ModelInfo", "ModelsResponse",
    "NeighbourResult", "RunAccepted", "RunStatus", "RunSummary", "RunsResponse", "SearchTextRequest", "SearchTextResponse",
    "Segment", "SimilarQueryResult", "SimilarResponse", "TagDatasetRequest", "TagFileResult", "TagResponse",
]  # fmt: skip


class ErrorResponse(BaseModel):
    """Every error: a short kind and what was wrong (naming the file or value)."""

    error: str = Field(examples=["bad audio file"])
    detail: str = Field(examples=["notes.mp3: not a readable audio file (wav, flac, ogg, mp3)"])


class LabelScore(BaseModel):
    label: str
    score: float


class Segment(BaseModel):
    start_s: float
    scores: list[float] = Field(description="one score per label, in the order of `labels`")


class TagFileResult(BaseModel):
    """One file: exactly the JSON object ``musictag tag`` prints for it (``error`` instead of scores when it failed)."""

    path: str
    model: str
    duration_s: float | None = None
    sr: int | None = None
    truncated: bool | None = Field(None, description="only the first MUSICTAG_MAX_DURATION_S seconds were tagged")
    summary: str | None = Field(None, examples=["mostly blues, some country"])
    tags: list[LabelScore] | None = Field(None, description="every tag (or the top_k best), best first")
    genres: list[LabelScore] | None = None
    warnings: list[str] | None = None
    labels: list[str] | None = None
    segments: list[Segment] | None = Field(None, description="the taggram: scores per segment over time")
    error: str | None = Field(None, description="why this file could not be tagged (the others still were)")


class TagResponse(BaseModel):
    results: list[TagFileResult]


class EmbedFileResult(BaseModel):
    path: str
    model: str
    duration_s: float | None = None
    truncated: bool | None = None
    embeddings: dict[str, list[float]] | None = Field(
        None, description="track-level embeddings by name (musicnn: pooled 1506-d, penultimate 200-d)")
    error: str | None = None


class EmbedResponse(BaseModel):
    results: list[EmbedFileResult]


class ModelInfo(BaseModel):
    name: str
    source: str = Field(description="shipped or run")
    format: str | None = None
    architecture: str | None = None
    n_labels: int
    n_genres: int
    sr: int | None = None
    licence: str | None = None


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class RunAccepted(BaseModel):
    run_id: str
    state: str
    links: dict[str, str]


class RunSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    run_id: str
    state: str | None = None
    model: str | None = None
    dataset: str | None = None
    created: str | None = None
    metrics: dict[str, Any] = {}
    model_file: str | None = None
    error: str | None = None


class RunsResponse(BaseModel):
    runs: list[RunSummary]


class RunStatus(BaseModel):
    model_config = ConfigDict(extra="allow")
    run_id: str
    state: str
    model: str | None = None
    dataset: str | None = None
    created: str | None = None
    started: str | None = None
    ended: str | None = None
    error: str | None = None
    stop_requested: bool = False
    progress: dict[str, Any] = Field(description="phase, fraction (0-1 or null), eta_s, epoch, epochs_total, step, loss, message")
    metrics: dict[str, Any] = Field(description="test metrics once the run finished")
    cv: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = Field(None, description="the pre-flight plan from the run card: evaluation, k, "
                                              "k_requested, repeats, notes, ...")
    tuning: dict[str, Any] | None = Field(None, description="tune: the search space and the chosen values")
    notes: list[str] = Field([], description="what was adapted (K lowered, no test split, fallbacks)")
    fitted_on: str | None = None
    feature_columns: list[str] | None = Field(None, description="feature tables: the columns used as features")
    excluded_columns: list[dict[str, str]] | None = Field(None, description="feature tables: {column, reason} left out")


class JobAccepted(BaseModel):
    job_id: str
    kind: str
    state: str
    links: dict[str, str]


class JobStatus(BaseModel):
    job_id: str
    kind: str
    state: str = Field(description="queued, running, finished or failed")
    params: dict[str, Any]
    created: str
    started: str | None = None
    ended: str | None = None
    progress: dict[str, Any] = Field(description="done, total, message of the last progress event")
    error: dict[str, Any] | None = Field(None, description="{error, detail, status} when the job failed")
    result: Any = None


class TagDatasetRequest(BaseModel):
    """Tag every audio file of a dataset under the server's data folders (a long job)."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="a dataset path under the data roots (any form `musictag` reads), or a folder of audio")
    model: str = "MSD_musicnn"
    overlap: float = Field(0.0, ge=0, lt=3)
    top_k: int | None = Field(None, ge=1)
    limit: int = Field(1000, ge=1, le=100_000, description="tag at most this many files")


class IndexRequest(BaseModel):
    """Build a named similarity index of a dataset or folder under the data roots, or bring it up to date (a long job)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="letters, digits, '_' and '-' (at most 64)")
    path: str = Field(description="'demo', or a folder or dataset path under the data roots (indexed recursively)")
    model: str = Field("MSD_musicnn", description="musicnn model whose embeddings and tag scores are indexed")
    space: Literal["penultimate", "pooled", "mfcc"] = "penultimate"
    search: Literal["auto", "exact", "hnsw"] = "auto"
    labels: bool = Field(True, description="attach the dataset form's labels")


class IndexSummary(BaseModel):
    """One index, as ``musictag index list --json`` lists it (without the server folder it is kept in)."""

    model_config = ConfigDict(extra="allow")
    name: str
    model: str
    space: str
    dim: int
    n_tracks: int
    n_segments: int
    search: str | None = None
    source: str | None = None
    created: str | None = None
    updated: str | None = None


class IndexesResponse(BaseModel):
    indexes: list[IndexSummary]


class IndexDeleted(BaseModel):
    deleted: str


class NeighbourResult(BaseModel):
    path: str
    distance: float = Field(description="cosine distance 1 - cos (0: the same direction)")
    label: str | list[str] | None = Field(description="null when unknown; a list for multi-label data")
    segment_start_s: float = Field(description="start of the neighbour's segment that matches the query best")


class SimilarQueryResult(BaseModel):
    """One query: exactly the JSON line ``musictag similar --json`` prints for it (``error`` when it failed)."""

    path: str
    index: str
    neighbours: list[NeighbourResult] | None = Field(None, description="nearest first")
    error: str | None = Field(None, description="why this query could not be searched (the others still were)")


class SimilarResponse(BaseModel):
    results: list[SimilarQueryResult]


class SearchTextRequest(BaseModel):
    """Zero-shot text search over the shipped taggers' tags (and an index's tracks)."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(examples=["dark slow guitar music"])
    index: str | None = Field(None, description="an index name (GET /v1/indexes), or a tag-score table .json under the "
                              "data roots, as `search-text --index` takes: rank its tracks too")
    top: int = Field(10, ge=1, le=1000, description="how many tags and tracks")


class TagModel(BaseModel):
    label: str
    model: str


class TagMatch(TagModel):
    score: float


class TrackMatch(BaseModel):
    path: str
    score: float
    matched: list[TagModel]


class SearchTextResponse(BaseModel):
    """Exactly ``musictag search-text --json``'s object: tags and tracks, best first."""

    query: str
    tags: list[TagMatch]
    tracks: list[TrackMatch]


class DatasetSummary(BaseModel):
    """Exactly ``musictag dataset describe --json``'s object."""

    form: str = Field(description="folder, fma, mtt, jamendo, strengths, features or demo")
    n_tracks: int
    labels: dict[str, int] = Field(description="tracks per label (strength at or above the threshold)")
    labels_per_track: dict[str, Any] = Field(description="mean (float) and max (int)")
    splits: dict[str, int] = Field(description="tracks per split; {} when the data defines none")
    n_artists: int | None = Field(None, description="null when unknown")
    audio: dict[str, int] | None = Field(None, description="present and missing audio files; null for a feature table")
    warnings: list[str]


class Health(BaseModel):
    status: str
    version: str
    models_loaded: list[str]
    workers: int
    queued: int
    max_queue: int
