"""``GET /v1/datasets/describe?path=``: what a dataset under the data roots holds.

``musictag dataset describe`` is being built on another branch; until it lands, this route
gives a minimal summary over the existing detection and readers
(:func:`~musictag_core.datasets.detect_format`, :func:`~musictag_core.datasets.open_dataset`,
:meth:`~musictag_core.datasets.DatasetIndex.summary`). Once the core has a describe function,
:func:`describe_dataset` becomes one call to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request

from .errors import ApiError
from .routes_tag import ERRORS, service
from .schemas import DatasetSummary, ErrorResponse

__all__ = ["describe_dataset", "router"]

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

#: Readers that list audio files: describe from the metadata alone, missing audio included.
_LISTING_FORMATS = ("fma", "mtt", "jamendo", "strengths")


def describe_dataset(text: str) -> dict[str, Any]:
    """A dataset's form, tracks, labels per count, task, artists, splits and the readers' notes.

    Raises
    ------
    ApiError
        403 for a path outside the data roots, 404 for one that does not exist.
    """
    from ..datasets import detect_format, open_dataset
    from ..errors import ParameterError
    from ..paths import resolve_data_path

    spec = text.strip()
    if spec == "demo":
        fmt, target = "demo", "demo"
    else:
        try:
            path = resolve_data_path(spec, must_exist=False)
        except ParameterError as exc:
            raise ApiError(403, "path not allowed", str(exc)) from None
        if not path.exists():
            raise ApiError(404, "no such dataset", f"{spec!r} does not exist under the data folders")
        fmt, target = detect_format(path), path
    options = {"missing": "keep"} if fmt in _LISTING_FORMATS else {}
    index = open_dataset(target, format=fmt, **options)
    s = index.summary()
    per_label = sorted(({"label": k, "count": int(v)} for k, v in s["per_label"].items()), key=lambda d: -d["count"])
    out = {
        "path": spec, "format": fmt, "name": s["name"], "tracks": int(s["tracks"]), "n_labels": int(s["labels"]),
        "labels": list(index.labels), "task": str(s["task"]), "artists": int(s["artists"]),
        "splits": {k: int(v) for k, v in s["splits"].items()}, "per_label": per_label,
        "notes": [str(n) for n in (index.meta.get("notes") or [])],
    }  # fmt: skip
    if fmt in _LISTING_FORMATS and len(index):
        paths = [p for p in index.tracks["path"].tolist() if p]
        out["audio_found"] = sum(1 for p in paths if Path(p).is_file())
    if index.meta.get("excluded_columns") is not None:
        out["excluded_columns"] = index.meta["excluded_columns"]
        out["feature_columns"] = index.meta.get("feature_columns")
    return out


@router.get("/describe", response_model=DatasetSummary, summary="Describe a dataset under the data folders",
            responses={**ERRORS, 403: {"model": ErrorResponse, "description": "outside the data folders"}})
async def describe(request: Request, path: str = Query(..., description="'demo' or a path under the data roots (MUSICTAG_DATA)")) -> dict:
    """The dataset's detected form, track count, labels with counts, task, artists, splits, reader notes."""
    svc = service(request)
    return await svc.pool.run(describe_dataset, path)
