"""Tag many files in one pass: decode ahead in a thread, batch patches across files.

:func:`tag_files` gives, file by file and in order, what
:func:`musictag_core.predict.tag_file` gives, faster for a list of files:

* the next files are decoded (and, for musicnn, cut into mel patches) in a
  background thread while the model runs on the current ones: decoding is
  C code (libsndfile, soxr, the FFT) that releases the GIL, so it fills the
  moments the model leaves a core idle;
* the patches of consecutive files that are ready are stacked and sent through
  the model together (up to :data:`BATCH_PATCHES` per call), so short clips do
  not pay one call each.

``musictag tag`` uses it. It sits above :mod:`musictag_core.predict` and uses its
decoding and validation helpers, so a prediction is the same as ``tag_file``'s
(to float32 rounding of the batched forward pass).
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .audio import AudioSource, source_name
from .errors import AudioError, ModelError, ParameterError
from .models.loading import Tagger
from .models.musicnn.tagger import MusicnnTagger
from .predict import (
    DEFAULT_MAX_DURATION_S,
    TrackPrediction,
    check_max_duration,
    decode_for_model,
    duration_warnings,
    prepare_waveform,
    resolve_tagger,
    tag_array,
)

__all__ = ["BATCH_PATCHES", "tag_files"]

#: At most this many patches (3 s each for musicnn) go through the model in one call.
BATCH_PATCHES = 64


@dataclass
class _Ready:
    """One decoded file: its waveform (None once musicnn patches are cut from it), and for musicnn its patches."""

    name: str
    y: np.ndarray | None
    truncated: bool
    warnings: tuple[str, ...]
    patches: np.ndarray | None = None
    starts: np.ndarray | None = None
    n_samples: int = 0


def tag_files(
    sources: Iterable[AudioSource],
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    overlap: float = 0.0,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    prefetch: int = 2,
    runs_dir: str | os.PathLike | None = None,
) -> Iterator[tuple[AudioSource, TrackPrediction | AudioError]]:
    """Tag audio files one after another, decoding ahead and batching the model calls.

    Parameters
    ----------
    sources : iterable of str, path, bytes or binary file-like
    model : str, Path or Tagger
        As for :func:`~musictag_core.predict.tag_file`; loaded once.
    overlap : float
        Seconds shared by consecutive segments.
    max_duration : float or None
        Seconds decoded per file (see :func:`~musictag_core.predict.tag_file`).
    prefetch : int
        Files decoded ahead of the one being tagged (0: no background thread).
    runs_dir : str or Path, optional

    Yields
    ------
    source, TrackPrediction or AudioError
        In the order of ``sources``: the prediction, or the :class:`AudioError`
        of a file that cannot be decoded or tagged (the others still run).

    Raises
    ------
    ModelError
        The model is unknown or broken (nothing is yielded after it).
    """
    check_max_duration(max_duration)
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
        raise ParameterError(f"prefetch must be a non-negative integer, got {prefetch!r}")
    tagger = resolve_tagger(model, runs_dir)
    if isinstance(tagger, MusicnnTagger):
        tagger.patches(np.zeros(tagger.sr, dtype=np.float32), overlap=overlap)  # validates overlap now
    todo = iter(sources)
    pending: deque[tuple[AudioSource, Future]] = deque()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="musictag-decode") if prefetch else None

    def submit() -> bool:
        source = next(todo, _END)
        if source is _END:
            return False
        if pool is None:
            fut: Future = Future()
            try:
                fut.set_result(_prepare_file(source, tagger, overlap=overlap, max_duration=max_duration))
            except AudioError as exc:
                fut.set_exception(exc)
            pending.append((source, fut))
        else:
            pending.append((source, pool.submit(_prepare_file, source, tagger, overlap=overlap, max_duration=max_duration)))
        return True

    try:
        for _ in range(max(1, prefetch) + 1):
            if not submit():
                break
        while pending:
            group = [pending.popleft()]
            # stack the patches of the next files that are already decoded, up to BATCH_PATCHES
            n = _n_patches(group[0][1])
            while pending and pending[0][1].done() and n is not None:
                more = _n_patches(pending[0][1])
                if more is None or n + more > BATCH_PATCHES:
                    break
                group.append(pending.popleft())
                n += more
            for _ in group:
                submit()
            yield from _tag_group(group, tagger, overlap=overlap)
    finally:
        if pool is not None:
            for _, fut in pending:
                fut.cancel()
            pool.shutdown(wait=True)


_END = object()


def _prepare_file(source: AudioSource, tagger: Tagger, *, overlap: float, max_duration: float | None) -> _Ready:
    """Decode one file at the model's rate; for musicnn also its mel patches (runs in the decode thread)."""
    name = source_name(source)
    y, sr, truncated = decode_for_model(source, tagger=tagger, max_duration=max_duration)
    y = prepare_waveform(y, sr=sr, tagger=tagger, name=name)
    ready = _Ready(name=name, y=y, truncated=truncated, warnings=(), n_samples=len(y))
    if isinstance(tagger, MusicnnTagger):
        ready.warnings = duration_warnings(len(y) / tagger.sr, tagger=tagger, name=name)
        ready.patches, ready.starts = tagger.patches(y, overlap=overlap)
        ready.y = None  # files decoded ahead hold only their patches
    return ready


def _n_patches(fut: Future) -> int | None:
    """Patches of a decoded file (None when not a musicnn file or it failed: tagged alone)."""
    if fut.exception() is not None:
        return None
    patches = fut.result().patches
    return None if patches is None else len(patches)


def _tag_group(
    group: list[tuple[AudioSource, Future]], tagger: Tagger, *, overlap: float
) -> Iterator[tuple[AudioSource, TrackPrediction | AudioError]]:
    ready: list[tuple[AudioSource, _Ready | AudioError]] = []
    for source, fut in group:
        try:
            ready.append((source, fut.result()))
        except AudioError as exc:
            ready.append((source, exc))
    batch = [r for _, r in ready if isinstance(r, _Ready) and r.patches is not None]
    scores = iter(())
    if batch:
        tags = tagger.forward(np.concatenate([r.patches for r in batch]))["tags"]
        cuts = np.cumsum([len(r.patches) for r in batch])[:-1]
        scores = iter(np.split(np.asarray(tags, dtype=np.float32), cuts))
    for source, r in ready:
        if isinstance(r, AudioError):
            yield source, r
        elif r.patches is None:
            try:
                pred = tag_array(r.y, sr=tagger.sr, model=tagger, overlap=overlap, name=r.name)
            except AudioError as exc:
                yield source, exc
                continue
            yield source, dataclasses.replace(pred, truncated=True) if r.truncated else pred
        else:
            yield source, _prediction(r, next(scores), tagger)


def _prediction(r: _Ready, seg: np.ndarray, tagger: Tagger) -> TrackPrediction:
    if seg.ndim != 2 or seg.shape[1] != len(tagger.labels) or len(seg) != len(r.starts):
        raise ModelError(f"model {tagger.name!r} returned scores of shape {seg.shape} for {len(tagger.labels)} labels")
    return TrackPrediction(
        path=r.name,
        model=tagger.name,
        labels=list(tagger.labels),
        genres=list(tagger.genres),
        scores=seg.mean(axis=0),
        segment_starts_s=np.asarray(r.starts, dtype=np.float64),
        segment_scores=seg,
        duration_s=r.n_samples / tagger.sr,
        sr=int(tagger.sr),
        truncated=r.truncated,
        warnings=r.warnings,
    )
