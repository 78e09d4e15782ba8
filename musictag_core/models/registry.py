"""The model registry: one card and one pure builder per model name.

Importing this module is cheap: it imports neither Keras nor scikit-learn.
:data:`MODEL_BUILDERS` maps each neural model name to a builder
``(ModelConfig) -> keras.Model``; each entry imports
:mod:`musictag_core.models.neural` (and so Keras) only when called.
:data:`MODEL_CARDS` describes every model, neural and classical: which seed
system it reproduces, what input it reads, and its ``fast`` and ``full``
presets (input preparation plus model size).

Examples
--------
>>> from musictag_core.models.registry import MODEL_CARDS, ModelConfig, build_model
>>> card = MODEL_CARDS["cnn"]
>>> cfg = ModelConfig(input_shape=(130, 64), n_outputs=10, task="single", width=0.25)
>>> model = build_model("cnn", cfg)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import Config, FeatureConfig, SegmentConfig, segment_preset
from ..errors import ModelError, ParameterError
from ..inputs import INPUT_KINDS

__all__ = [
    "TASKS",
    "EMBEDDING_DIMS",
    "ModelConfig",
    "ModelPreset",
    "ModelCard",
    "MODEL_CARDS",
    "MODEL_BUILDERS",
    "NEURAL_MODELS",
    "CLASSICAL_MODELS",
    "build_model",
    "model_card",
]

TASKS = ("single", "multi", "regression")

#: Sizes of the pretrained musicnn embeddings the transfer head reads.
EMBEDDING_DIMS: dict[str, int] = {"pooled": 1506, "penultimate": 200}


@dataclass(frozen=True)
class ModelConfig(Config):
    """Everything a neural builder needs (shapes and size knobs; nothing about data).

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one example without the batch axis: ``(frames, n_features)``
        for log-mel/MFCC models, ``(samples,)`` for the raw-waveform model,
        ``(dim,)`` for the transfer head.
    n_outputs : int
        Number of labels.
    task : {"single", "multi", "regression"}
        Output activation: softmax, sigmoid, or sigmoid scaled to 0–100.
    dropout : float
        Dropout rate in [0, 1).
    width : float
        Multiplier on every filter / unit count (``fast`` presets use < 1).
    units : int
        Base size of dense / recurrent layers (before ``width``).
    name : str
        Keras model name (default: the builder's model name).
    """

    input_shape: tuple[int, ...]
    n_outputs: int
    task: str = "single"
    dropout: float = 0.3
    width: float = 1.0
    units: int = 64
    name: str = ""

    def __post_init__(self) -> None:
        shape = tuple(self.input_shape) if isinstance(self.input_shape, (list, tuple)) else None
        if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
            raise ParameterError(f"input_shape must be a tuple of positive ints, got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        if isinstance(self.n_outputs, bool) or not isinstance(self.n_outputs, int) or self.n_outputs < 1:
            raise ParameterError(f"n_outputs must be a positive int, got {self.n_outputs!r}")
        if self.task not in TASKS:
            raise ParameterError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.task == "single" and self.n_outputs < 2:
            raise ParameterError("a single-label task needs at least 2 outputs (classes)")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ParameterError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.width, (int, float)) or not math.isfinite(self.width) or self.width <= 0:
            raise ParameterError(f"width must be a positive number, got {self.width!r}")
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise ParameterError(f"units must be a positive int, got {self.units!r}")

    def scaled(self, n: int) -> int:
        """``n`` filters or units scaled by ``width`` (at least 4)."""
        return max(4, int(round(n * self.width)))


@dataclass(frozen=True)
class ModelPreset(Config):
    """How a model's inputs are prepared and how big the model is.

    Parameters
    ----------
    segments : SegmentConfig
        How tracks are cut (segments, windows, random crops, patches).
    features : FeatureConfig or None
        Frame features (``None`` for waveform, embedding and stats inputs).
    width, dropout, units
        Passed into :class:`ModelConfig`.
    epochs, batch_size : int
        Training defaults for this preset.
    learning_rate : float
        Adam's step size for this preset.
    """

    segments: SegmentConfig
    features: FeatureConfig | None = None
    width: float = 1.0
    dropout: float = 0.3
    units: int = 64
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-4


@dataclass(frozen=True)
class ModelCard(Config):
    """What a model is and where it comes from.

    Parameters
    ----------
    name : str
        Registry key.
    title : str
        One-line description.
    seed_system : str
        The published / seed system this model reproduces.
    family : {"keras", "sklearn"}
    input_kind : {"logmel", "mfcc", "waveform", "embedding", "stats"}
    presets : dict of str to ModelPreset
        ``fast`` (demo corpus, < 2 min) and ``full`` (the seed system's settings).
    aggregate : str
        How segment predictions become a track prediction.
    """

    name: str
    title: str
    seed_system: str
    family: Literal["keras", "sklearn"]
    input_kind: str
    presets: dict[str, ModelPreset] = field(default_factory=dict)
    aggregate: str = "mean"

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise ParameterError(f"model {self.name!r}: input kind must be one of {INPUT_KINDS}, got {self.input_kind!r}")

    def preset(self, name: str) -> ModelPreset:
        """The preset ``name`` (``fast`` or ``full``); a ModelError lists the ones there are."""
        try:
            return self.presets[name]
        except KeyError:
            raise ParameterError(
                f"model {self.name!r} has no preset {name!r}; choose one of {sorted(self.presets)}"
            ) from None


# ---------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------

_LOGMEL = FeatureConfig(kind="logmel", n_mels=128)
_LOGMEL_FAST = FeatureConfig(kind="logmel", n_mels=64)
_MFCC = FeatureConfig(kind="mfcc", n_mfcc=13)
_SEG3 = SegmentConfig(kind="segments", length_s=3.0, n_segments=10, max_duration_s=30.0)
_CROP6 = SegmentConfig(kind="random_crop", length_s=6.0, n_segments=None, max_duration_s=None)
_WIN_FAST = SegmentConfig(kind="windows", length_s=1.0, hop_s=1.0, n_segments=None, max_duration_s=12.0)
_STATS_SEG = SegmentConfig(kind="segments", length_s=30.0, n_segments=1, max_duration_s=30.0)

MODEL_CARDS: dict[str, ModelCard] = {
    "cnn": ModelCard(
        name="cnn",
        title="Vanilla 2-D CNN on log-mel segments",
        seed_system="Multi-label seed system, CNN variant: 4 conv blocks (3x3 conv, max-pool, BatchNorm, "
        "ReLU, dropout) on 12 s log-mel segments (517 frames x 128 bands), mean over 10 segments.",
        family="keras",
        input_kind="logmel",
        presets={
            "full": ModelPreset(segment_preset("tracks10"), _LOGMEL, width=0.5, dropout=0.3, epochs=30),
            "fast": ModelPreset(_SEG3, _LOGMEL_FAST, width=0.25, dropout=0.2, epochs=8, learning_rate=1e-3),
        },
    ),
    "lstm": ModelCard(
        name="lstm",
        title="Two-layer LSTM on MFCC segments",
        seed_system="Multi-label seed system, LSTM variant: LSTM(128) -> LSTM(64) -> dense on 12 s MFCC "
        "segments (517 frames x 13 coefficients), mean over 10 segments.",
        family="keras",
        input_kind="mfcc",
        presets={
            "full": ModelPreset(segment_preset("tracks10"), _MFCC, width=1.0, units=64, epochs=30),
            "fast": ModelPreset(_SEG3, _MFCC, width=0.5, units=64, dropout=0.2, epochs=8, learning_rate=1e-3),
        },
    ),
    "cnn7": ModelCard(
        name="cnn7",
        title="7-block CNN (128-256-256-256-512-512-256 filters) on random 30 s crops",
        seed_system="The mAP / P@10 tagging system: 7 blocks of 3x3 conv, BatchNorm, ReLU, 2x2 max-pool "
        "with 128, 256, 256, 256, 512, 512, 256 filters, global max-pool, dense output; trained on "
        "random 30 s log-mel crops drawn anew each epoch.",
        family="keras",
        input_kind="logmel",
        presets={
            "full": ModelPreset(segment_preset("crop30"), _LOGMEL, width=1.0, dropout=0.5, epochs=50),
            "fast": ModelPreset(_CROP6, _LOGMEL_FAST, width=0.0625, dropout=0.2, epochs=10, learning_rate=1e-3),
        },
    ),
    "crnn": ModelCard(
        name="crnn",
        title="Parallel CRNN: 5-block CNN and bidirectional GRU on the same spectrogram",
        seed_system="Parallel CRNN: a 5-block CNN (3x3 conv, BatchNorm, ReLU, max-pool) and a "
        "bidirectional GRU branch read the same log-mel spectrogram; their outputs are concatenated "
        "before the classifier.",
        family="keras",
        input_kind="logmel",
        presets={
            "full": ModelPreset(segment_preset("tracks10"), _LOGMEL, width=1.0, units=64, epochs=30),
            "fast": ModelPreset(_SEG3, _LOGMEL_FAST, width=0.5, units=32, dropout=0.2, epochs=8, learning_rate=1e-3),
        },
    ),
    "rawcnn": ModelCard(
        name="rawcnn",
        title="Raw-waveform 1-D CNN on 1 s windows",
        seed_system="Raw-audio 1-D CNN: conv-32 k5, avgpool 4, conv-64 k5, avgpool 4, conv-128 k100 "
        "stride 20, avgpool 40 stride 30, dense 70, dense 30, output; 1 s windows with 0.25 s hop, "
        "averaged per track at prediction.",
        family="keras",
        input_kind="waveform",
        presets={
            "full": ModelPreset(segment_preset("windows1"), None, width=1.0, dropout=0.3, epochs=30),
            "fast": ModelPreset(_WIN_FAST, None, width=0.5, dropout=0.2, epochs=8, learning_rate=1e-3),
        },
    ),
    "transfer": ModelCard(
        name="transfer",
        title="Dense head on pretrained musicnn embeddings",
        seed_system="Transfer learning from the shipped MSD musicnn: a small dense head on the pooled "
        "1506-d and/or penultimate 200-d embeddings (computed once, cached).",
        family="keras",
        input_kind="embedding",
        presets={
            # batches of 256 patches: the head is tiny, so Keras's per-step overhead dominates smaller batches
            # (1000 tracks x 10 patches, 30 epochs: 48 s with 32 per batch)
            "full": ModelPreset(
                segment_preset("patches3"), None, width=1.0, units=256, dropout=0.3, epochs=50, batch_size=256,
                learning_rate=1e-3,
            ),
            "fast": ModelPreset(
                segment_preset("patches3"), None, width=0.5, units=256, dropout=0.3, epochs=30, batch_size=256,
                learning_rate=3e-3,
            ),
        },
    ),
}

MODEL_CARDS["tagtext"] = ModelCard(
    name="tagtext",
    title="Audio and tag-text towers trained contrastively (zero-shot tag retrieval)",
    seed_system="Seed 001, method 2: tags embedded with a pretrained text model (all-MiniLM-L6-v2); an audio "
    "backbone (musicnn patch embeddings) and a text backbone (two dense layers with BatchNorm, ReLU, dropout) "
    "trained with InfoNCE over in-batch negatives so that a track and its tags are close; held-out tags are "
    "retrieved zero-shot.",
    family="keras",
    input_kind="embedding",
    presets={
        "full": ModelPreset(
            segment_preset("patches3"), None, width=1.0, units=128, dropout=0.2, epochs=60, batch_size=256,
            learning_rate=1e-3,
        ),
        "fast": ModelPreset(
            segment_preset("patches3"), None, width=1.0, units=64, dropout=0.2, epochs=20, batch_size=128,
            learning_rate=2e-3,
        ),
    },
)

_CLASSICAL_TITLES = {
    "logreg": ("Logistic regression", "StandardScaler + LogisticRegression on per-track summary statistics."),
    "gboost": (
        "Histogram gradient boosting",
        "StandardScaler + HistGradientBoostingClassifier on per-track summary statistics.",
    ),
    "svc": ("Support vector classifier", "StandardScaler + RBF SVC with Platt-scaled probabilities (CalibratedClassifierCV, the "
        "scikit-learn 1.9 replacement of probability=True) on per-track statistics."),
    "voting": ("Soft-voting ensemble", "Soft voting of logreg, gboost and svc."),
    "stacked": (
        "Voting ensemble + neural probabilities",
        "The soft-voting ensemble with a neural model's out-of-fold probabilities appended as features.",
    ),
}
for _name, (_title, _seed) in _CLASSICAL_TITLES.items():
    MODEL_CARDS[_name] = ModelCard(
        name=_name,
        title=_title,
        seed_system=_seed,
        family="sklearn",
        input_kind="stats",
        presets={
            "full": ModelPreset(_STATS_SEG, FeatureConfig(kind="stats"), epochs=1),
            "fast": ModelPreset(_STATS_SEG, FeatureConfig(kind="stats"), epochs=1),
        },
        aggregate="none",
    )

NEURAL_MODELS: tuple[str, ...] = tuple(k for k, v in MODEL_CARDS.items() if v.family == "keras")
CLASSICAL_MODELS: tuple[str, ...] = tuple(k for k, v in MODEL_CARDS.items() if v.family == "sklearn")


def _lazy_builder(name: str) -> Callable[[ModelConfig], Any]:
    """A builder that imports :mod:`.neural` (Keras) on first call."""

    def build(config: ModelConfig):  # noqa: ANN202
        from . import neural  # lazy: imports Keras

        return getattr(neural, f"build_{name}")(config)

    build.__name__ = f"build_{name}"
    build.__qualname__ = f"build_{name}"
    build.__doc__ = f"Build the {name!r} Keras model (see :func:`musictag_core.models.neural.build_{name}`)."
    return build


def _build_tagtext(config: ModelConfig):  # noqa: ANN202
    """Build the two-tower ``tagtext`` model (see :func:`musictag_core.models.tagtext.build_tagtext`)."""
    from .tagtext import build_tagtext  # lazy: imports Keras

    return build_tagtext(config)


#: Neural model name -> ``build_<name>(ModelConfig) -> keras.Model``.
MODEL_BUILDERS: dict[str, Callable[[ModelConfig], Any]] = {
    "cnn": _lazy_builder("cnn"),
    "lstm": _lazy_builder("lstm"),
    "cnn7": _lazy_builder("cnn7"),
    "crnn": _lazy_builder("crnn"),
    "rawcnn": _lazy_builder("rawcnn"),
    "transfer": _lazy_builder("transfer_head"),
    "tagtext": _build_tagtext,
}


def model_card(name: str) -> ModelCard:
    """Return the card of model ``name``.

    Raises
    ------
    ModelError
        If ``name`` is unknown; the message lists the models.
    """
    try:
        return MODEL_CARDS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; choose one of {sorted(MODEL_CARDS)}") from None


def build_model(name: str, config: ModelConfig):  # noqa: ANN201
    """Build neural model ``name`` from ``config`` (a fresh, uncompiled ``keras.Model``)."""
    if name not in MODEL_BUILDERS:
        raise ModelError(f"unknown neural model {name!r}; choose one of {sorted(MODEL_BUILDERS)}")
    return MODEL_BUILDERS[name](config)
