"""Typed, frozen, validated configuration for every stage of the pipeline.

Each stage (decode, segment, describe) takes one of these objects. They are
frozen dataclasses validated on creation, so a bad value fails early with a
:class:`~musictag_core.errors.ParameterError` that names it.

The defaults reproduce the multi-label seed system: 22050 Hz audio, the first
120 s cut into 10 segments of 12 s, 13 MFCCs or 128 log-mel bands with
``n_fft=2048`` and ``hop_length=512``, which gives 517 frames per segment.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ParameterError

__all__ = [
    "PRECISIONS",
    "PRECISION_ENV",
    "cpu_has_amx",
    "default_precision",
    "AudioConfig",
    "SegmentConfig",
    "FeatureConfig",
    "SEGMENT_PRESETS",
    "FEATURE_KINDS",
    "segment_preset",
    "MIN_SR",
    "MAX_SR",
    "reject_unknown_keys",
    "Config",
    "config_to_dict",
    "config_from_dict",
]

#: Lowest and highest sample rates musictag accepts, for input files and targets.
MIN_SR = 1000
MAX_SR = 768_000

FEATURE_KINDS = ("mfcc", "logmel", "stats")


def _check_positive(name: str, value: float, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")


def _check_int(name: str, value: Any, *, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value!r}")


def _check_sr(name: str, value: Any) -> None:
    _check_int(name, value, minimum=1)
    if not MIN_SR <= value <= MAX_SR:
        raise ParameterError(f"{name} must be between {MIN_SR} and {MAX_SR} Hz, got {value!r}")


def reject_unknown_keys(cls: type, data: dict[str, Any], *, owner: str | None = None, noun: str = "key") -> None:
    """Raise :class:`ParameterError` naming the keys of ``data`` that are not fields of dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ParameterError(
            f"unknown {owner or cls.__name__} {noun}(s) {unknown}; valid {noun}s are {sorted(names)}"
        )


def config_to_dict(config: Any) -> dict[str, Any]:
    """The one serialisation of a config dataclass: a plain, JSON-ready dict.

    Nested config dataclasses become nested dicts and tuples become lists, so
    ``json.dumps(config_to_dict(c))`` always works and
    ``config_from_dict(type(c), config_to_dict(c)) == c``.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ParameterError(f"expected a config dataclass instance, got {type(config).__name__}")
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def config_from_dict(cls: type, data: dict[str, Any], *, owner: str | None = None) -> Any:
    """Build config dataclass ``cls`` from a dict made by :func:`config_to_dict` (or by hand).

    Unknown keys are refused by name, missing keys take the field defaults,
    nested dicts become the nested config dataclasses that the field types name,
    and lists become tuples where the field is a tuple. The dataclass then
    validates the values itself (``__post_init__``).

    Raises
    ------
    ParameterError
        If ``data`` is not a dict, has unknown keys or lacks a required key.
    """
    owner = owner or cls.__name__
    if not isinstance(data, dict):
        raise ParameterError(f"{owner} must be a JSON object (dict), got {type(data).__name__}")
    reject_unknown_keys(cls, data, owner=owner)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    missing = sorted(
        name
        for name, f in fields.items()
        if f.init and name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ParameterError(f"{owner} is missing required key(s) {missing}")
    kwargs = {name: _typed(hints.get(name), value, owner=f"{owner}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def _typed(hint: Any, value: Any, *, owner: str) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    for option in options:
        if isinstance(option, type) and dataclasses.is_dataclass(option) and isinstance(value, dict):
            return config_from_dict(option, value, owner=owner)
        if (option is tuple or typing.get_origin(option) is tuple) and isinstance(value, list):
            return tuple(value)
    return value


class Config:
    """The base of every config dataclass: one serialisation scheme, one way to change a field.

    Subclasses are frozen dataclasses that validate in ``__post_init__``.
    """

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a plain, JSON-serialisable dict (see :func:`config_to_dict`)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):  # noqa: ANN206
        """Build a configuration from a dict, rejecting unknown keys by name (see :func:`config_from_dict`)."""
        return config_from_dict(cls, data)

    def replace(self, **changes: Any):  # noqa: ANN201
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class AudioConfig(Config):
    """How audio is decoded.

    Parameters
    ----------
    sr : int
        Target sample rate in Hz; audio is resampled to it.
    mono : bool
        Mix all channels down to one.
    offset : float
        Seconds to skip at the start of the file.
    duration : float or None
        Maximum number of seconds to decode after ``offset`` (``None``: all).
        Long files are not decoded past this point.
    max_channels : int
        Files with more channels than this are rejected.
    allow_silence : bool
        If False, audio that is silent throughout raises an error.
    """

    sr: int = 22050
    mono: bool = True
    offset: float = 0.0
    duration: float | None = 120.0
    max_channels: int = 2
    allow_silence: bool = False

    def __post_init__(self) -> None:
        _check_sr("sr", self.sr)
        if isinstance(self.offset, bool) or not isinstance(self.offset, (int, float)):
            raise ParameterError(f"offset must be a number of seconds, got {self.offset!r}")
        if not math.isfinite(self.offset) or self.offset < 0:
            raise ParameterError(f"offset must be >= 0 seconds, got {self.offset!r}")
        _check_positive("duration", self.duration, allow_none=True)
        _check_int("max_channels", self.max_channels)


SegmentKind = Literal["segments", "patches", "windows", "random_crop"]


@dataclass(frozen=True)
class SegmentConfig(Config):
    """How a waveform is cut into model inputs.

    Parameters
    ----------
    kind : {"segments", "patches", "windows", "random_crop"}
        ``segments``: consecutive non-overlapping pieces of ``length_s`` from the
        start, at most ``n_segments`` of them, within ``max_duration_s``.
        ``patches`` and ``windows``: fixed-length pieces every ``hop_s`` seconds.
        ``random_crop``: one random piece of ``length_s`` per draw.
    length_s : float
        Length of one piece in seconds.
    hop_s : float or None
        Hop between piece starts (``None``: equal to ``length_s``).
    n_segments : int or None
        Maximum number of pieces (``None``: as many as fit).
    max_duration_s : float or None
        Only the first ``max_duration_s`` seconds are used.
    pad_short : bool
        Zero-pad audio shorter than one piece to one full piece.
    min_tail : float
        A trailing partial piece is kept (zero-padded) when it covers at least
        this fraction of ``length_s``; 1.0 drops every partial tail.
    """

    kind: SegmentKind = "segments"
    length_s: float = 12.0
    hop_s: float | None = None
    n_segments: int | None = 10
    max_duration_s: float | None = 120.0
    pad_short: bool = True
    min_tail: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("segments", "patches", "windows", "random_crop"):
            raise ParameterError(
                f"segment kind must be one of segments, patches, windows, random_crop; got {self.kind!r}"
            )
        _check_positive("length_s", self.length_s)
        _check_positive("hop_s", self.hop_s, allow_none=True)
        if self.n_segments is not None:
            _check_int("n_segments", self.n_segments)
        _check_positive("max_duration_s", self.max_duration_s, allow_none=True)
        if not isinstance(self.min_tail, (int, float)) or not 0.0 < self.min_tail <= 1.0:
            raise ParameterError(f"min_tail must be in (0, 1], got {self.min_tail!r}")

    @property
    def hop(self) -> float:
        """Hop between piece starts in seconds."""
        return self.length_s if self.hop_s is None else self.hop_s


#: Named segmentation presets.
#:
#: * ``tracks10``: the first 120 s in 10 segments of 12 s (multi-label seed system).
#: * ``patches3``: 3 s non-overlapping patches (the pretrained musicnn tagger).
#: * ``windows1``: 1 s windows with a 0.25 s hop (raw-audio 1-D CNN).
#: * ``crop30``: one random 30 s crop per draw (7-block CNN training).
SEGMENT_PRESETS: dict[str, SegmentConfig] = {
    "tracks10": SegmentConfig(kind="segments", length_s=12.0, n_segments=10, max_duration_s=120.0),
    "patches3": SegmentConfig(kind="patches", length_s=3.0, hop_s=3.0, n_segments=None, max_duration_s=None),
    "windows1": SegmentConfig(kind="windows", length_s=1.0, hop_s=0.25, n_segments=None, max_duration_s=None),
    "crop30": SegmentConfig(kind="random_crop", length_s=30.0, n_segments=None, max_duration_s=None),
}


def segment_preset(name: str) -> SegmentConfig:
    """Return the named :data:`SEGMENT_PRESETS` entry.

    Raises
    ------
    ParameterError
        If ``name`` is not a preset; the message lists the presets.
    """
    try:
        return SEGMENT_PRESETS[name]
    except KeyError:
        raise ParameterError(
            f"unknown segment preset {name!r}; choose one of {sorted(SEGMENT_PRESETS)}"
        ) from None


@dataclass(frozen=True)
class FeatureConfig(Config):
    """Which features are computed, with librosa's parameter names.

    Parameters
    ----------
    kind : {"mfcc", "logmel", "stats"}
        Frame-level MFCCs, frame-level log-mel, or per-track summary statistics.
    sr : int
        Sample rate of the audio the features are computed on.
    n_fft : int
        FFT window length in samples.
    hop_length : int
        Hop between frames in samples.
    n_mels : int
        Number of mel bands.
    n_mfcc : int
        Number of MFCCs.
    fmin, fmax : float
        Mel filterbank edges in Hz (``fmax=None``: ``sr / 2``).
    top_db : float or None
        Dynamic range kept by the dB conversion, per segment (``None``: no clipping).
    """

    kind: str = "mfcc"
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 13
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ParameterError(f"feature kind must be one of {FEATURE_KINDS}, got {self.kind!r}")
        _check_sr("sr", self.sr)
        _check_int("n_fft", self.n_fft, minimum=16)
        _check_int("hop_length", self.hop_length)
        _check_int("n_mels", self.n_mels)
        _check_int("n_mfcc", self.n_mfcc)
        if self.n_mfcc > self.n_mels:
            raise ParameterError(f"n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if not isinstance(self.fmin, (int, float)) or self.fmin < 0:
            raise ParameterError(f"fmin must be >= 0 Hz, got {self.fmin!r}")
        if self.fmax is not None:
            _check_positive("fmax", self.fmax)
            if self.fmax > self.sr / 2 or self.fmax <= self.fmin:
                raise ParameterError(
                    f"fmax must be in (fmin, sr/2] = ({self.fmin}, {self.sr / 2}], got {self.fmax!r}"
                )
        _check_positive("top_db", self.top_db, allow_none=True)

    @property
    def n_features(self) -> int:
        """Number of values per frame (``n_mfcc`` or ``n_mels``)."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels


@dataclass(frozen=True)
class PipelineConfig(Config):
    """Decode, segment and describe settings together (what a feature cache is keyed on)."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    segments: SegmentConfig = field(default_factory=lambda: SEGMENT_PRESETS["tracks10"])
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def __post_init__(self) -> None:
        if self.audio.sr != self.features.sr:
            raise ParameterError(
                f"audio.sr ({self.audio.sr}) and features.sr ({self.features.sr}) must match"
            )


__all__.append("PipelineConfig")


# ---------------------------------------------------------------- musicnn precision

#: Environment variable that sets the precision of musicnn taggers created without one.
PRECISION_ENV = "MUSICTAG_PRECISION"

#: Precisions of the musicnn forward pass (:class:`~musictag_core.models.musicnn.tagger.MusicnnTagger`).
PRECISIONS = ("float32", "mixed", "bfloat16")


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX for bfloat16 (``amx_bf16`` in ``/proc/cpuinfo``), where ``"mixed"`` was measured faster.

    CPUs with AVX512-BF16 but no AMX run bfloat16 convolutions less fast; the split
    convolution of ``"mixed"`` (twice the multiply-adds) was not measured there.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return "amx_bf16" in flags
    except OSError:
        pass
    return False


def default_precision() -> str:
    """The precision of a musicnn tagger created without one.

    ``$MUSICTAG_PRECISION`` when set (``float32``, ``mixed`` or ``bfloat16``); otherwise
    ``"mixed"`` on CPUs with AMX (:func:`cpu_has_amx`) and ``"float32"``
    elsewhere, where bfloat16 would be slower.

    Raises
    ------
    ParameterError
        ``$MUSICTAG_PRECISION`` holds another value.
    """
    value = os.environ.get(PRECISION_ENV, "").strip()
    if value:
        if value not in PRECISIONS:
            raise ParameterError(f"${PRECISION_ENV} must be one of {', '.join(PRECISIONS)}, got {value!r}")
        return value
    return "mixed" if cpu_has_amx() else "float32"
