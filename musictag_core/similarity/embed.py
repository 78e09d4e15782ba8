"""What an index stores of one audio file: per-segment vectors and per-track tag scores, through the cache.

A file is decoded once at the musicnn models' rate (16 kHz, at most :data:`MAX_DURATION_S`
seconds, like :func:`musictag_core.predict.tag_file`) and cut into musicnn's 3 s patches.
Each shipped musicnn tagger turns the patches into tag scores and its two embeddings
(``penultimate`` 200-d, ``pooled`` 1506-d); the ``mfcc`` space is the mean and standard
deviation of 13 MFCCs per 3 s segment (26-d). Everything is kept in the feature cache
(:class:`musictag_core.store.ArrayCache`), keyed by the file's content and the
:class:`~musictag_core.inputs.InputSpec`, so re-indexing, a second index of the same files,
and a query with a file that is already indexed cost a cache read.

The track scores are the mean of the patch scores: exactly what ``musictag tag`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import SEGMENT_PRESETS, AudioConfig, FeatureConfig
from ..errors import ParameterError
from ..inputs import Backbone, InputSpec, compute_inputs

__all__ = ["MAX_DURATION_S", "SHIPPED_TAGGERS", "SPACES", "FileVectors", "file_vectors"]

#: Seconds of a file that are indexed (the rest of a longer file is not read).
MAX_DURATION_S = 600.0
#: Vector spaces an index can hold.
SPACES = ("penultimate", "pooled", "mfcc")
#: The taggers whose track scores every index keeps (text search ranks tracks by them).
SHIPPED_TAGGERS = ("MSD_musicnn", "MTT_musicnn")


@dataclass(frozen=True)
class FileVectors:
    """One file's vectors and tag scores.

    Attributes
    ----------
    segment_vectors : np.ndarray [shape=(n_segments, d)], float32
        One vector per segment (not normalised).
    segment_starts_s : np.ndarray [shape=(n_segments,)], float32
    track_vector : np.ndarray [shape=(d,)], float32
        Mean of the segment vectors.
    tag_scores : dict of str to np.ndarray
        Model name -> track tag scores [shape=(n_labels,)] (mean over patches).
    duration_s : float
        Seconds that were indexed.
    """

    segment_vectors: np.ndarray
    segment_starts_s: np.ndarray
    track_vector: np.ndarray
    tag_scores: dict[str, np.ndarray]
    duration_s: float


def _model_spec(tagger) -> InputSpec:  # noqa: ANN001 - a MusicnnTagger
    return InputSpec(
        kind="embedding", audio=AudioConfig(sr=int(tagger.sr), duration=MAX_DURATION_S),
        segments=SEGMENT_PRESETS["patches3"], embedding="both", backbone=tagger.name,
    )


def _mfcc_spec(sr: int) -> InputSpec:
    seg = SEGMENT_PRESETS["patches3"]
    features = FeatureConfig(kind="mfcc", sr=int(sr), n_fft=512, hop_length=256, n_mels=96, n_mfcc=13)
    return InputSpec(kind="mfcc", audio=AudioConfig(sr=int(sr), duration=MAX_DURATION_S), segments=seg, features=features)


class _Decoded:
    """The file's waveform, decoded on first need only (a fully cached file is never decoded)."""

    def __init__(self, path, sr: int) -> None:  # noqa: ANN001 - a path or the file's bytes
        self.path, self.sr, self._y = path, sr, None

    def get(self) -> np.ndarray:
        if self._y is None:
            from ..audio import load_audio

            self._y, _ = load_audio(self.path, sr=self.sr, duration=MAX_DURATION_S)
        return self._y


def _model_outputs(tagger, *, digest: str, audio: _Decoded, cache: bool) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per patch: ``starts`` [n], ``pooled`` [n, 1506], ``penultimate`` [n, 200] and ``tags`` [n, n_labels]."""
    from ..store import ArrayCache

    names = ("pooled", "penultimate", "tags", "starts")
    store = ArrayCache(spec=_model_spec(tagger)) if cache else None
    if store is not None:
        got = {v: store.load(digest, v, mmap_mode=None) for v in names}
        if all(a is not None for a in got.values()) and len({len(a) for a in got.values()}) == 1:
            return got
    patches, starts = tagger.patches(audio.get())
    out = tagger.forward(patches)
    res = {v: np.asarray(out[v], np.float32) for v in names[:3]}
    res["starts"] = np.asarray(starts, np.float32)
    if store is not None:
        for v in names:
            store.save(digest, res[v], v)
    return res


def _mfcc_rows(*, sr: int, digest: str, audio: _Decoded, cache: bool) -> tuple[np.ndarray, np.ndarray]:
    from ..store import ArrayCache

    spec = _mfcc_spec(sr)
    store = ArrayCache(spec=spec) if cache else None
    if store is not None:
        rows, starts = store.load(digest, "stats", mmap_mode=None), store.load(digest, "starts", mmap_mode=None)
        if rows is not None and starts is not None and len(rows) == len(starts):
            return rows, starts
    starts, frames = compute_inputs(audio.get(), spec=spec)  # (n_seg, frames, 13)
    rows = np.concatenate([frames.mean(axis=1), frames.std(axis=1)], axis=1).astype(np.float32)
    starts = np.asarray(starts, np.float32)
    if store is not None:
        store.save(digest, rows, "stats")
        store.save(digest, starts, "starts")
    return rows, starts


def file_vectors(
    path: str | bytes, *, digest: str, model, space: str = "penultimate", taggers: dict | None = None, cache: bool = True,  # noqa: ANN001
) -> FileVectors:
    """Vectors and tag scores of one audio file.

    Parameters
    ----------
    path : str or bytes
        The audio file (or its bytes).
    digest : str
        Its content hash (:func:`musictag_core.store.file_digest`), the cache key.
    model : MusicnnTagger
        The index's model (its tag scores, and its embeddings for ``penultimate`` / ``pooled``).
    space : {"penultimate", "pooled", "mfcc"}
    taggers : dict of str to MusicnnTagger, optional
        Further taggers whose track scores to compute (by name); ``model`` is reused when listed.
    cache : bool
        Read and write the feature cache.

    Returns
    -------
    FileVectors

    Raises
    ------
    AudioError
        The file cannot be decoded, or is silent.
    """
    if space not in SPACES:
        raise ParameterError(f"space must be one of {SPACES}, got {space!r}")
    if not isinstance(model, Backbone):
        raise ParameterError(f"model {getattr(model, 'name', model)!r} has no embeddings; an index needs a musicnn model")
    audio = _Decoded(path, int(model.sr))
    main = _model_outputs(model, digest=digest, audio=audio, cache=cache)
    scores = {model.name: main["tags"].mean(axis=0)}
    for name, tagger in (taggers or {}).items():
        if name != model.name:
            other = audio if int(tagger.sr) == audio.sr else _Decoded(path, int(tagger.sr))
            scores[name] = _model_outputs(tagger, digest=digest, audio=other, cache=cache)["tags"].mean(axis=0)
    if space == "mfcc":
        rows, starts = _mfcc_rows(sr=int(model.sr), digest=digest, audio=audio, cache=cache)
    else:
        rows, starts = main[space], main["starts"]
    rows = np.asarray(rows, np.float32)
    duration = float(starts[-1]) + 3.0 if len(starts) else 0.0
    return FileVectors(
        segment_vectors=rows, segment_starts_s=np.asarray(starts, np.float32), track_vector=rows.mean(axis=0),
        tag_scores={k: np.asarray(v, np.float32) for k, v in scores.items()}, duration_s=duration,
    )
