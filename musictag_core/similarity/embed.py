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

__all__ = ["MAX_DURATION_S", "SHIPPED_TAGGERS", "SPACES", "FileVectors", "ModelSet", "file_vectors"]

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


class ModelSet:
    """musicnn models by name: their cards at once, the networks only when a file is not in the cache.

    An update of an index whose files are all cached, or a query with a cached file, never
    imports TensorFlow.

    Parameters
    ----------
    runs_dir : str or Path, optional
        Folder of training runs (model names are looked up as :func:`~musictag_core.models.loading.list_models` does).
    """

    def __init__(self, *, runs_dir=None) -> None:  # noqa: ANN001
        self.runs_dir = runs_dir
        self._cards: dict[str, dict] = {}

    def card(self, name: str) -> dict:
        """The model's ``card.json``.

        Raises
        ------
        ModelError
            Unknown model (the message lists the available ones).
        ParameterError
            Not a musicnn model (an index needs musicnn's embeddings).
        """
        if name not in self._cards:
            from ..errors import ModelError
            from ..models.loading import list_models

            entries = {e.name: e for e in list_models(runs_dir=self.runs_dir)}
            if name not in entries:
                raise ModelError(f"unknown model {name!r}; available models: {', '.join(entries) or 'none'}")
            card = entries[name].card
            if card.get("format") != "musicnn-keras" or card.get("architecture", "musicnn") != "musicnn":
                raise ParameterError(
                    f"model {name!r} has no musicnn embeddings; an index needs a musicnn model ({', '.join(SHIPPED_TAGGERS)})"
                )
            self._cards[name] = card
        return self._cards[name]

    def labels(self, name: str) -> list[str]:
        """The model's tag labels, in score order."""
        return [str(v) for v in self.card(name)["labels"]]

    def sr(self, name: str) -> int:
        """The model's sample rate in Hz."""
        return int(self.card(name)["sr"])

    def tagger(self, name: str):  # noqa: ANN201 - a MusicnnTagger
        """The loaded model (the process-wide tagger cache of :func:`~musictag_core.models.loading.load_tagger`)."""
        from ..models.loading import load_tagger

        self.card(name)
        tagger = load_tagger(name, runs_dir=self.runs_dir)
        if not isinstance(tagger, Backbone):
            raise ParameterError(f"model {name!r} has no embeddings; an index needs a musicnn model")
        return tagger


def _model_spec(name: str, sr: int) -> InputSpec:
    return InputSpec(
        kind="embedding", audio=AudioConfig(sr=int(sr), duration=MAX_DURATION_S),
        segments=SEGMENT_PRESETS["patches3"], embedding="both", backbone=name,
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


def _model_outputs(name: str, models: ModelSet, *, digest: str, audio: _Decoded, cache: bool) -> dict[str, np.ndarray]:
    """Per patch: ``starts`` [n], ``pooled`` [n, 1506], ``penultimate`` [n, 200] and ``tags`` [n, n_labels]."""
    from ..store import ArrayCache

    names = ("pooled", "penultimate", "tags", "starts")
    store = ArrayCache(spec=_model_spec(name, models.sr(name))) if cache else None
    if store is not None:
        got = {v: store.load(digest, v, mmap_mode=None) for v in names}
        if all(a is not None for a in got.values()) and len({len(a) for a in got.values()}) == 1:
            return got
    tagger = models.tagger(name)
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
    path: str | bytes, *, digest: str, model: str = "MSD_musicnn", space: str = "penultimate",
    tag_models: tuple[str, ...] = (), models: ModelSet | None = None, cache: bool = True,
) -> FileVectors:
    """Vectors and tag scores of one audio file.

    Parameters
    ----------
    path : str or bytes
        The audio file (or its bytes).
    digest : str
        Its content hash (:func:`musictag_core.store.file_digest`), the cache key.
    model : str
        The index's musicnn model (its tag scores, and its embeddings for ``penultimate`` / ``pooled``).
    space : {"penultimate", "pooled", "mfcc"}
    tag_models : tuple of str
        Further musicnn models whose track scores to compute.
    models : ModelSet, optional
        Where models are opened (default: a new one).
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
    models = ModelSet() if models is None else models
    audio = _Decoded(path, models.sr(model))
    main = _model_outputs(model, models, digest=digest, audio=audio, cache=cache)
    scores = {model: main["tags"].mean(axis=0)}
    for name in tag_models:
        if name != model:
            other = audio if models.sr(name) == audio.sr else _Decoded(path, models.sr(name))
            scores[name] = _model_outputs(name, models, digest=digest, audio=other, cache=cache)["tags"].mean(axis=0)
    if space == "mfcc":
        rows, starts = _mfcc_rows(sr=audio.sr, digest=digest, audio=audio, cache=cache)
    else:
        rows, starts = main[space], main["starts"]
    rows = np.asarray(rows, np.float32)
    duration = float(starts[-1]) + 3.0 if len(starts) else 0.0
    return FileVectors(
        segment_vectors=rows, segment_starts_s=np.asarray(starts, np.float32), track_vector=rows.mean(axis=0),
        tag_scores={k: np.asarray(v, np.float32) for k, v in scores.items()}, duration_s=duration,
    )
