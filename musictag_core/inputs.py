"""The one path from audio to a model's input: :class:`InputSpec` and :func:`compute_inputs`.

An :class:`InputSpec` says how a decoded track becomes model inputs (decode rate
and length, the cut, the features, or musicnn embeddings / patches). It is saved
in a run's ``card.json``. Training, the run taggers, Explore's feature spaces and
the Tag page's display all call :func:`compute_inputs` with a spec, so they
cannot diverge. Stages used: :mod:`~musictag_core.segments` (cut) and
:mod:`~musictag_core.features` (describe); the musicnn backbone, when a spec
needs one, is passed in by the caller (this module sits below ``models``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .config import AudioConfig, Config, FeatureConfig, PipelineConfig, SegmentConfig
from .errors import ParameterError

__all__ = [
    "BACKBONE_KINDS",
    "CACHE_VERSION",
    "EMBEDDING_PARTS",
    "ANALYSIS_KINDS",
    "INPUT_KINDS",
    "Backbone",
    "InputSpec",
    "compute_inputs",
    "crop_pieces",
    "display_features",
    "embedding_columns",
]

#: Bumped when stored inputs change meaning.
CACHE_VERSION = 1

#: Every kind of model input: frame features per segment, raw waveform pieces, one statistics
#: vector per track, musicnn embeddings per 3 s patch, musicnn mel patches.
INPUT_KINDS = ("logmel", "mfcc", "waveform", "stats", "embedding", "musicnn_patches")

#: Kinds computed for analysis (Explore's feature spaces), not as a model's input: the summary
#: statistics of every segment of the cut.
ANALYSIS_KINDS = ("segment_stats",)

#: The kinds computed through a musicnn backbone.
BACKBONE_KINDS = ("embedding", "musicnn_patches")

#: ``embedding`` choices and the musicnn outputs each concatenates, in this order: the pooled
#: 1506-d embedding, the penultimate 200-d one, and the taggram (musicnn's 50 tag scores per patch).
EMBEDDING_PARTS: dict[str, tuple[str, ...]] = {
    "pooled": ("pooled",),
    "penultimate": ("penultimate",),
    "both": ("pooled", "penultimate"),
    "taggram": ("tags",),
    "both+taggram": ("pooled", "penultimate", "tags"),
}


@runtime_checkable
class Backbone(Protocol):
    """What :func:`compute_inputs` needs of a musicnn model (a loaded ``MusicnnTagger``)."""

    def patches(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]: ...

    def forward(self, patches: np.ndarray) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class InputSpec(Config):
    """How one track becomes model inputs.

    Parameters
    ----------
    kind : {"logmel", "mfcc", "waveform", "stats", "embedding", "musicnn_patches", "segment_stats"}
        Frame features per segment, raw waveform pieces, one statistics vector
        per track, musicnn embeddings per 3 s patch, musicnn mel patches, or
        (for analysis, :data:`ANALYSIS_KINDS`) one statistics vector per segment.
    audio : AudioConfig
        Decode settings (rate, maximum duration).
    segments : SegmentConfig
        The cut (``random_crop``: the whole clip is stored and crops are drawn
        while training; at prediction consecutive crops are used).
    features : FeatureConfig or None
        For ``logmel``, ``mfcc`` and ``stats`` (``segment_stats`` takes a ``stats`` one).
    embedding : {"pooled", "penultimate", "both", "taggram", "both+taggram"}
        For ``embedding``: which musicnn outputs (:data:`EMBEDDING_PARTS`: pooled 1506-d first,
        then penultimate 200-d, then the 50 tag scores).
    backbone : str
        Shipped musicnn model for ``embedding`` / ``musicnn_patches``.
    """

    kind: str
    audio: AudioConfig
    segments: SegmentConfig
    features: FeatureConfig | None = None
    embedding: str = "both"
    backbone: str = "MSD_musicnn"

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS + ANALYSIS_KINDS:
            raise ParameterError(f"input kind must be one of {INPUT_KINDS + ANALYSIS_KINDS}, got {self.kind!r}")
        if self.kind in ("logmel", "mfcc", "stats", "segment_stats"):
            feature_kind = "stats" if self.kind == "segment_stats" else self.kind
            if self.features is None or self.features.kind != feature_kind:
                raise ParameterError(f"input kind {self.kind!r} needs a FeatureConfig of kind {feature_kind!r}")
            if self.features.sr != self.audio.sr:
                raise ParameterError(f"features.sr ({self.features.sr}) must equal audio.sr ({self.audio.sr})")
        if self.kind == "segment_stats" and self.segments.kind == "random_crop":
            raise ParameterError("input kind 'segment_stats' needs a fixed cut (segments, patches or windows)")
        if self.embedding not in EMBEDDING_PARTS:
            raise ParameterError(f"embedding must be one of {', '.join(EMBEDDING_PARTS)}, got {self.embedding!r}")

    @property
    def needs_backbone(self) -> bool:
        """Whether :func:`compute_inputs` needs the musicnn ``backbone`` for this spec."""
        return self.kind in BACKBONE_KINDS

    @property
    def sr(self) -> int:
        """The decode rate in Hz."""
        return int(self.audio.sr)

    @property
    def crop(self) -> int | None:
        """Frames (or samples) per random crop; None when the cut is not ``random_crop``."""
        if self.segments.kind != "random_crop":
            return None
        n = int(round(self.segments.length_s * self.sr))
        return n if self.features is None else 1 + n // self.features.hop_length

    @property
    def frame_s(self) -> float:
        """Seconds per row of a cropped array (a frame, or a sample)."""
        return 1.0 / self.sr if self.features is None else self.features.hop_length / self.sr

    @classmethod
    def from_pipeline(cls, pipeline: PipelineConfig) -> InputSpec:
        """The spec of a :class:`~musictag_core.config.PipelineConfig`'s frame features or statistics.

        The feature store (:func:`musictag_core.store.compute_track_features`) computes
        through it, so stored features and model inputs come from one function.
        """
        if not isinstance(pipeline, PipelineConfig):
            raise ParameterError(f"pipeline must be a PipelineConfig, got {type(pipeline).__name__}")
        return cls(kind=pipeline.features.kind, audio=pipeline.audio, segments=pipeline.segments, features=pipeline.features)

    def pipeline(self) -> PipelineConfig | None:
        """The :class:`~musictag_core.config.PipelineConfig` when :mod:`musictag_core.store` can cache these inputs."""
        if self.kind in ("logmel", "mfcc", "stats") and self.segments.kind != "random_crop":
            return PipelineConfig(audio=self.audio, segments=self.segments, features=self.features)
        return None

    def key(self) -> str:
        """Short hash of the spec (cache folder name)."""
        blob = json.dumps({"v": CACHE_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def crop_pieces(a: np.ndarray, *, crop: int, hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive crops of a whole-clip array (what random-crop models see at prediction).

    Parameters
    ----------
    a : np.ndarray [shape=(t, ...)]
        Frames (or samples) of the whole clip.
    crop : int
        Rows per crop.
    hop : int, optional
        Rows between crop starts (default ``crop``). A tail shorter than a
        crop is dropped; a clip shorter than one crop is zero-padded.

    Returns
    -------
    pieces : np.ndarray [shape=(n, crop, ...)]
    starts : np.ndarray [shape=(n,)], int
        Row index of each crop.
    """
    hop = crop if hop is None else max(1, int(hop))
    if a.shape[0] < crop:
        pad = [(0, crop - a.shape[0])] + [(0, 0)] * (a.ndim - 1)
        return np.pad(np.asarray(a), pad)[None], np.zeros(1, dtype=int)
    starts = np.arange(0, a.shape[0] - crop + 1, hop)
    return np.stack([np.asarray(a[s : s + crop]) for s in starts]), starts


def compute_inputs(
    y: np.ndarray, *, spec: InputSpec, overlap: float = 0.0, for_training: bool = False, backbone: Backbone | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of one decoded track: the preprocessing shared by training and tagging.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at ``spec.sr`` (as decoded with ``spec.audio``).
    spec : InputSpec
    overlap : float
        Seconds shared by consecutive segments (tagging only; training uses 0).
    for_training : bool
        For ``random_crop`` specs: return the whole clip (one row) that crops
        are drawn from, instead of consecutive crops.
    backbone : Backbone, optional
        The loaded musicnn model (``spec.backbone``) for the ``embedding`` and
        ``musicnn_patches`` kinds (:attr:`InputSpec.needs_backbone`); callers open
        it with :func:`musictag_core.models.loading.load_tagger`.

    Returns
    -------
    starts_s : np.ndarray [shape=(n_segments,)]
        Start time of every segment.
    inputs : np.ndarray
        ``(n_segments, frames, n_features)`` for log-mel / MFCC (and musicnn
        patches), ``(n_segments, samples)`` for waveform, ``(1, n_stats)`` for
        statistics, ``(n_patches, dim)`` for embeddings, ``(n_segments, n_stats)``
        float64 for ``segment_stats`` (:func:`~musictag_core.features.track_statistics`
        of each segment, ordered like :func:`~musictag_core.features.stat_names`);
        for training with random crops, ``(1, frames, n_features)`` or ``(1, samples)``.
    """
    from .features import extract_frames, statistics_vector, track_statistics
    from .segments import cut_segments

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"compute_inputs expects a mono waveform of shape (n,), got {y.shape}")
    if spec.audio.duration is not None:
        y = y[: int(round(spec.audio.duration * spec.sr))]
    if not isinstance(overlap, (int, float)) or overlap < 0:
        raise ParameterError(f"overlap must be a number of seconds >= 0, got {overlap!r}")
    kind = spec.kind
    if kind == "stats":
        fc = spec.features
        v = statistics_vector(y, sr=spec.sr, n_fft=fc.n_fft, hop_length=fc.hop_length, n_mels=fc.n_mels, n_mfcc=fc.n_mfcc)
        return np.zeros(1), np.asarray(v, dtype=np.float32)[None, :]
    if kind in ("embedding", "musicnn_patches"):
        if backbone is None:
            raise ParameterError(f"input kind {kind!r} needs the {spec.backbone} backbone: pass backbone=load_tagger({spec.backbone!r})")
        patches, starts = backbone.patches(y, overlap=overlap)
        if kind == "musicnn_patches":
            return starts, patches
        return starts, embedding_columns(backbone.forward(patches), embedding=spec.embedding)
    seg = spec.segments
    if seg.kind == "random_crop":
        if seg.max_duration_s is not None:
            y = y[: int(round(seg.max_duration_s * spec.sr))]
        whole = y if kind == "waveform" else extract_frames(y, config=spec.features)
        whole = np.asarray(whole, dtype=np.float32)
        if for_training:
            if kind == "waveform" and len(whole) < spec.crop:
                whole = np.pad(whole, (0, spec.crop - len(whole)))
            return np.zeros(1), whole[None]
        hop = spec.crop - int(round(overlap / spec.frame_s))
        if hop < 1:
            raise ParameterError(f"overlap must be shorter than the crop ({spec.segments.length_s} s), got {overlap!r}")
        pieces, starts = crop_pieces(whole, crop=spec.crop, hop=hop)
        return starts * spec.frame_s, pieces
    if overlap:
        hop = seg.hop - overlap
        if hop <= 0:
            raise ParameterError(f"overlap must be shorter than the segment hop ({seg.hop} s), got {overlap!r}")
        n = None if seg.n_segments is None else int(math.ceil(seg.n_segments * seg.hop / hop))
        seg = seg.replace(hop_s=hop, n_segments=n)
    pieces = cut_segments(y, sr=spec.sr, config=seg)
    data = np.asarray(pieces.data, dtype=np.float32)
    if kind == "waveform":
        return np.asarray(pieces.starts_s, dtype=np.float64), data
    if kind == "segment_stats":
        fc = spec.features
        rows = [
            list(track_statistics(seg, sr=spec.sr, n_fft=fc.n_fft, hop_length=fc.hop_length, n_mels=fc.n_mels,
                                  n_mfcc=fc.n_mfcc).values())
            for seg in pieces.data
        ]
        return np.asarray(pieces.starts_s, dtype=np.float64), np.array(rows, dtype=np.float64)
    return np.asarray(pieces.starts_s, dtype=np.float64), np.asarray(extract_frames(data, config=spec.features), np.float32)


def embedding_columns(outputs: dict[str, np.ndarray], *, embedding: str) -> np.ndarray:
    """The model inputs of an ``embedding`` spec from musicnn's per-patch outputs.

    Parameters
    ----------
    outputs : dict
        ``pooled`` [shape=(n, 1506)], ``penultimate`` [shape=(n, 200)] and ``tags`` [shape=(n, 50)]
        (a backbone's ``forward``; only the parts ``embedding`` names are read).
    embedding : str
        A key of :data:`EMBEDDING_PARTS`.

    Returns
    -------
    np.ndarray [shape=(n, dim)], float32
        The parts side by side, in :data:`EMBEDDING_PARTS` order.
    """
    if embedding not in EMBEDDING_PARTS:
        raise ParameterError(f"embedding must be one of {', '.join(EMBEDDING_PARTS)}, got {embedding!r}")
    return np.concatenate([np.asarray(outputs[k], dtype=np.float32) for k in EMBEDDING_PARTS[embedding]], axis=1)


def display_features(
    y: np.ndarray, *, sr: int, n_fft: int, hop_length: int, n_mels: int, n_mfcc: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """The log-mel spectrogram and MFCCs a person looks at, computed like the models' frame inputs.

    The Tag page calls this on the waveform it already decoded for the model, with
    the model's own rate and mel bands (16 kHz and 96 bands for musicnn), so what
    is shown is what the model heard and nothing is decoded twice.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at ``sr``.
    sr, n_fft, hop_length, n_mels : int
    n_mfcc : int
        MFCCs kept (at most ``n_mels``).

    Returns
    -------
    S_db : np.ndarray [shape=(n_mels, t)], float32
        Log-mel spectrogram in dB (80 dB below the peak).
    mfcc : np.ndarray [shape=(n_mfcc, t)], float32
        The DCT of ``S_db``.
    """
    from .features import log_mel, mfcc

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"display_features expects a mono waveform of shape (n,), got {y.shape}")
    S_db = log_mel(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return S_db, mfcc(log_S=S_db, n_mfcc=min(int(n_mfcc), int(n_mels)))
