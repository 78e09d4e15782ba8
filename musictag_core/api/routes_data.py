"""``GET /v1/datasets/describe?path=``: what a dataset under the data roots holds.

Exactly ``musictag dataset describe --json``'s object, from the same core function
(:func:`musictag_core.datasets.describe.describe_dataset`): the form detected, tracks, labels
with counts, labels per track, splits, artists, audio present and missing, and warnings, from
the metadata alone. Paths (the dataset and ``audio_dir``) are accepted only under the data roots.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from .errors import ApiError
from .routes_tag import ERRORS, service
from .schemas import DatasetSummary, ErrorResponse

__all__ = ["describe_dataset", "router"]

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


def _data_path(text: str, what: str):  # noqa: ANN202 - Path
    from ..errors import ParameterError
    from ..paths import resolve_data_path

    try:
        path = resolve_data_path(text, must_exist=False)
    except ParameterError as exc:
        raise ApiError(403, "path not allowed", str(exc)) from None
    if not path.exists():
        raise ApiError(404, f"no such {what}", f"{text.strip()!r} does not exist under the data folders")
    return path


def describe_dataset(text: str, *, threshold: float = 50.0, format: str | None = None, audio_dir: str | None = None,
                     missing: str = "keep", subset: str | None = None) -> dict[str, Any]:
    """``musictag dataset describe --json``'s object for a dataset under the data roots (or a demo corpus).

    Raises
    ------
    ApiError
        403 for a path outside the data roots, 404 for one that does not exist.
    """
    from ..datasets.describe import describe_dataset as core_describe
    from ..datasets.detect import DEMO_SPECS

    spec = text.strip()
    target = spec if spec in DEMO_SPECS else _data_path(spec, "dataset")
    audio = _data_path(audio_dir, "audio folder") if audio_dir else None
    return core_describe(target, threshold=threshold, audio_dir=audio, missing=missing, format=format, subset=subset)


@router.get("/describe", response_model=DatasetSummary, summary="Describe a dataset under the data folders",
            responses={**ERRORS, 403: {"model": ErrorResponse, "description": "outside the data folders"}})
async def describe(
    request: Request,
    path: str = Query(..., description="'demo', 'demo-hard', or a folder or CSV/TSV file under the data roots (MUSICTAG_DATA)"),
    threshold: float = Query(50.0, gt=0, le=100, description="strength (0-100) at which a label counts"),
    format: Literal["folder", "fma", "mtt", "jamendo", "strengths", "features", "demo"] | None = Query(
        None, description="force the form instead of detecting it"),
    audio_dir: str | None = Query(None, description="FMA / MTT / MTG-Jamendo: the audio folder, under the data roots"),
    missing: Literal["keep", "skip", "error"] = Query("keep", description="listed audio files that do not exist"),
    subset: Literal["small", "medium", "large"] | None = Query(
        None, description="FMA only (422 for other forms): the subset downloaded; they nest (default small)"),
) -> dict:
    """Exactly ``musictag dataset describe --json``'s object: ``form``, ``n_tracks``, ``labels`` (counts),
    ``labels_per_track``, ``splits``, ``n_artists``, ``audio`` (present, missing) and ``warnings``."""
    svc = service(request)
    return await svc.pool.run(describe_dataset, path, threshold=threshold, format=format, audio_dir=audio_dir, missing=missing,
                              subset=subset)
