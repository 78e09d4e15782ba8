"""The settings of a training run: :class:`RunConfig` (validated on creation) and ``--set`` overrides."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..augment import AugmentConfig
from ..config import Config, FeatureConfig, SegmentConfig, config_from_dict, reject_unknown_keys
from ..errors import ParameterError
from ..inputs import EMBEDDING_PARTS
from ..models.registry import MODEL_CARDS, model_card

__all__ = ["TRANSFER_HEADS", "TRANSFER_LEVELS", "TUNABLE_MODELS", "RunConfig", "parse_set"]

#: Models ``tune`` applies to (:mod:`musictag_core.training.tuning` holds their search spaces;
#: the transfer model's scikit-learn heads search ``C``, :data:`~musictag_core.training.transfer_small.HEAD_SPACES`).
TUNABLE_MODELS = ("logreg", "svc", "gboost", "voting", "stacked", "transfer")

#: Heads of the ``transfer`` model: the Keras dense head, or a standardised scikit-learn
#: logistic regression / RBF SVM (:mod:`~musictag_core.training.transfer_small`).
TRANSFER_HEADS = ("dense", "logreg", "svm")

#: What a transfer head trains on: every 3 s patch (labelled with its track's labels), or one
#: mean vector per track. Either way the saved head scores each patch and the track score is the mean.
TRANSFER_LEVELS = ("segment", "track")


@dataclass(frozen=True)
class RunConfig(Config):
    """Everything that defines a training run (validated on creation).

    Parameters
    ----------
    dataset : str
        Dataset spec: a folder of ``<label>/<audio files>`` (or any spec the
        dataset adapters accept once merged).
    model : str
        A name from :data:`~musictag_core.models.registry.MODEL_CARDS`.
    preset : {"fast", "full"}
        Input preparation and model size from the model card.
    task : {"single", "multi", "regression"} or None
        ``None``: from the dataset (single when every track has one label).
    threshold : float
        Strength (0–100) at or above which a label is present.
    epochs, batch_size : int or None
        ``None``: the preset's.
    optimizer : {"adam", "sgd"}
    learning_rate : float or None
        ``None``: the preset's.
    momentum : float
        SGD only.
    patience : int
        Early-stopping patience in epochs on validation loss (0: off); the best
        weights are restored either way.
    dropout : float or None
        ``None``: the preset's.
    class_weights : bool
        Weight examples inversely to their label frequency.
    augment : AugmentConfig
        Waveform augmentation (off by default).
    n_variants : int
        Augmented variants precomputed per training track (with augmentation on).
    segments, features : dict or None
        Overrides of the preset's SegmentConfig / FeatureConfig fields.
    embedding : {"pooled", "penultimate", "both", "taggram", "both+taggram"}
        Transfer model input (:data:`~musictag_core.inputs.EMBEDDING_PARTS`): musicnn's
        pooled 1506-d and/or penultimate 200-d embedding, its 50 tag scores (the taggram), or
        both embeddings plus the taggram.
    head : {"dense", "logreg", "svm"}
        Transfer only: the Keras dense head (default), or a scikit-learn logistic regression /
        RBF SVM on standardised inputs (:data:`TRANSFER_HEADS`; saved as ``model.joblib``).
    level : {"segment", "track"}
        Transfer scikit-learn heads only: train on every 3 s patch, or on one mean vector per
        track (:data:`TRANSFER_LEVELS`). The saved head scores each patch and a track's score is
        the mean, in the run's evaluation and when tagging alike.
    fine_tune : bool
        Transfer only: train musicnn and the head end to end on mel patches
        (instead of a head on cached embeddings).
    n_jobs : int or None
        Worker processes for feature extraction and augmentation (None: every core).
    sr : int
        Sample rate audio is decoded at.
    seed : int
        Seeds splitting, sampling, augmentation and weight initialisation.
    cv : int or "loo"
        ``>= 2``: stratified k-fold cross-validation (K is lowered to the smallest
        class's count when that is smaller, and the run card says so); ``"loo"``:
        leave-one-out (leave-one-artist-out when artists are known), for up to
        :data:`~musictag_core.training.preflight.MAX_LOO_TRACKS` tracks; 0: one
        train/validation/test split.
    cv_repeats : int
        Repeated stratified K-fold: the K folds are drawn this many times with
        different seeds (needs ``cv >= 2``).
    test_split : bool
        ``False``: hold out no test split; the model trains on every track
        (train + validation) and is evaluated by cross-validation (``cv``, or
        K = min(5, smallest class) when ``cv`` is 0). For datasets too small
        for a train/validation/test split.
    group_by_artist : {"auto", True, False}
        Keep each artist's tracks inside one fold or split ("auto": whenever
        the dataset names artists).
    tune : bool
        Classical models and the transfer model's logreg / svm heads: a budgeted hyperparameter search
        by inner cross-validation on each fold's training tracks
        (:mod:`~musictag_core.training.tuning`); the search space and the chosen
        values go in the run card.
    val_fraction, test_fraction : float
        Used when the dataset has no split column.
    max_tracks : int or None
        Use at most this many tracks (stratified sample), for quick trials.
    name : str
        Free label shown in listings.
    keep_columns, drop_columns : tuple of str
        Feature tables only: columns to keep as features against the column rule, or to
        leave out (see :func:`~musictag_core.datasets.read_feature_table`).
    holdout : tuple of str
        ``tagtext`` only: tags held out of training and retrieved zero-shot (empty: a
        seeded quarter of the labels).
    audio_dir : str or None
        FMA, MagnaTagATune and MTG-Jamendo metadata: the folder holding the audio files
        (None: the reader looks beside the metadata).
    missing : {"error", "skip"} or None
        Listed audio files that do not exist: an error naming them (None, the default), or
        leave those tracks out.
    """

    dataset: str
    model: str
    preset: str = "full"
    task: str | None = None
    threshold: float = 50.0
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = "adam"
    learning_rate: float | None = None
    momentum: float = 0.9
    patience: int = 5
    dropout: float | None = None
    class_weights: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    n_variants: int = 4
    segments: dict | None = None
    features: dict | None = None
    embedding: str = "both"
    head: str = "dense"
    level: str = "segment"
    fine_tune: bool = False
    n_jobs: int | None = None
    sr: int = 22050
    seed: int = 0
    cv: int | str = 0
    cv_repeats: int = 1
    test_split: bool = True
    group_by_artist: bool | str = "auto"
    tune: bool = False
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    max_tracks: int | None = None
    name: str = ""
    keep_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = ()
    holdout: tuple[str, ...] = ()
    audio_dir: str | None = None
    missing: str | None = None

    def __post_init__(self) -> None:
        if self.audio_dir is not None and (not isinstance(self.audio_dir, str) or not self.audio_dir.strip()):
            raise ParameterError(f"audio_dir must be a folder path or None, got {self.audio_dir!r}")
        if self.missing not in (None, "error", "skip"):
            raise ParameterError(f"missing must be 'error', 'skip' or None, got {self.missing!r}")
        for name in ("keep_columns", "drop_columns", "holdout"):
            v = getattr(self, name)
            if isinstance(v, str) or not isinstance(v, (list, tuple)) or not all(isinstance(c, str) and c.strip() for c in v):
                raise ParameterError(f"{name} must be a list of column names, got {v!r}")
            object.__setattr__(self, name, tuple(c.strip() for c in v))
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ParameterError(f"dataset must be a non-empty spec string, got {self.dataset!r}")
        model_card(self.model)  # raises ModelError naming the models
        card = MODEL_CARDS[self.model]
        card.preset(self.preset)
        if self.task is not None and self.task not in ("single", "multi", "regression"):
            raise ParameterError(f"task must be single, multi, regression or None, got {self.task!r}")
        if not 0 <= float(self.threshold) <= 100:
            raise ParameterError(f"threshold must be in 0-100, got {self.threshold!r}")
        if not isinstance(self.fine_tune, bool):
            raise ParameterError(f"fine_tune must be true or false, got {self.fine_tune!r}")
        if self.fine_tune and (self.card.input_kind != "embedding" or self.model == "tagtext"):
            raise ParameterError(f"fine_tune applies to the transfer model only, not {self.model!r}")
        if self.holdout and self.model != "tagtext":
            raise ParameterError(f"holdout (tags retrieved zero-shot) applies to the tagtext model only, not {self.model!r}")
        for name in ("epochs", "batch_size", "max_tracks", "n_jobs"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ParameterError(f"{name} must be a positive int or None, got {v!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ParameterError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.learning_rate is not None and (
            isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float))
            or not 0 < self.learning_rate < 10
        ):
            raise ParameterError(f"learning_rate must be in (0, 10), got {self.learning_rate!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 0:
            raise ParameterError(f"patience must be an int >= 0, got {self.patience!r}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentConfig.from_dict(self.augment))
        if not isinstance(self.augment, AugmentConfig):
            raise ParameterError(f"augment must be an AugmentConfig or dict, got {self.augment!r}")
        if isinstance(self.n_variants, bool) or not isinstance(self.n_variants, int) or self.n_variants < 1:
            raise ParameterError(f"n_variants must be a positive int, got {self.n_variants!r}")
        if self.embedding not in EMBEDDING_PARTS:
            raise ParameterError(f"embedding must be one of {', '.join(EMBEDDING_PARTS)}, got {self.embedding!r}")
        self._check_transfer()
        if isinstance(self.cv, str) and self.cv.strip().lower() in ("loo", "leave-one-out"):
            object.__setattr__(self, "cv", "loo")
        elif isinstance(self.cv, str) and self.cv.strip().isdigit():
            object.__setattr__(self, "cv", int(self.cv.strip()))
        if self.cv != "loo" and (isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 0 or self.cv == 1):
            raise ParameterError(f"cv must be 0 (off), an int >= 2 or 'loo' (leave-one-out), got {self.cv!r}")
        if isinstance(self.cv_repeats, bool) or not isinstance(self.cv_repeats, int) or not 1 <= self.cv_repeats <= 100:
            raise ParameterError(f"cv_repeats must be an int in 1-100, got {self.cv_repeats!r}")
        if self.cv_repeats > 1 and self.cv == "loo":
            raise ParameterError("cv_repeats does not apply to leave-one-out (its folds are always the same)")
        if self.cv_repeats > 1 and self.cv == 0 and self.test_split:
            raise ParameterError("cv_repeats repeats cross-validation folds: also set cv (--cv K)")
        for name in ("test_split", "tune"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.group_by_artist not in ("auto", True, False):
            raise ParameterError(f"group_by_artist must be 'auto', true or false, got {self.group_by_artist!r}")
        if self.tune and self.model not in TUNABLE_MODELS:
            raise ParameterError(
                f"tune applies to {', '.join(TUNABLE_MODELS)}; model {self.model!r} has no search space"
            )
        if self.tune and self.model == "transfer" and self.head == "dense":
            raise ParameterError(
                "tune applies to the transfer model's logreg and svm heads (it searches their C); "
                "the dense head has no search space: set head to logreg or svm, or leave tune off"
            )
        for name in ("val_fraction", "test_fraction"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 < v < 0.5:
                raise ParameterError(f"{name} must be in (0, 0.5), got {v!r}")
        # the overrides must make valid configs
        self.segment_config()
        self.feature_config()

    def _check_transfer(self) -> None:
        """``head``, ``level`` and ``embedding``: transfer settings, each refused by name elsewhere."""
        if self.head not in TRANSFER_HEADS:
            raise ParameterError(f"head must be one of {', '.join(TRANSFER_HEADS)}, got {self.head!r}")
        if self.level not in TRANSFER_LEVELS:
            raise ParameterError(f"level must be one of {', '.join(TRANSFER_LEVELS)}, got {self.level!r}")
        if self.model != "transfer":
            for name, default in (("head", "dense"), ("level", "segment")):
                if getattr(self, name) != default:
                    raise ParameterError(
                        f"{name} applies to the transfer model only, not {self.model!r}; got {name}={getattr(self, name)!r}"
                    )
            return
        if self.head == "dense" and self.level != "segment":
            raise ParameterError(
                f"level={self.level!r} applies to the logreg and svm heads; the dense head trains on patches "
                "(level 'segment')"
            )
        if self.head != "dense" and self.fine_tune:
            raise ParameterError(f"fine_tune trains musicnn with the dense head, not with head={self.head!r}")
        if self.fine_tune and self.embedding not in ("pooled", "penultimate", "both"):
            raise ParameterError(
                f"fine_tune reads musicnn's pooled and/or penultimate embedding, not embedding={self.embedding!r}"
            )
        if self.head != "dense" and self.task == "regression":
            raise ParameterError(
                f"the {self.head} head classifies (single- or multi-label); for strength regression use head 'dense'"
            )

    # -- derived settings ---------------------------------------------------
    @property
    def card(self):  # noqa: ANN201
        """The model's registry card."""
        return MODEL_CARDS[self.model]

    @property
    def cross_validated(self) -> bool:
        """Whether the run is evaluated by cross-validation (``cv`` set, or no test split)."""
        return self.cv != 0 or not self.test_split

    @property
    def family(self) -> str:
        """``keras`` or ``sklearn`` (the transfer model's logreg / svm heads are scikit-learn)."""
        if self.model == "transfer" and self.head != "dense":
            return "sklearn"
        return self.card.family

    def preset_obj(self):  # noqa: ANN201
        """The model card's preset of this run."""
        return self.card.preset(self.preset)

    def segment_config(self) -> SegmentConfig:
        """The preset's cut with this run's overrides."""
        base = self.preset_obj().segments
        return SegmentConfig.from_dict({**base.to_dict(), **(self.segments or {})})

    def feature_config(self) -> FeatureConfig | None:
        """The preset's features with this run's rate and overrides (None for waveform and embedding models)."""
        base = self.preset_obj().features
        if base is None:
            if self.features:
                raise ParameterError(f"model {self.model!r} reads {self.card.input_kind}; it takes no feature settings")
            return None
        return FeatureConfig.from_dict({**base.to_dict(), "sr": self.sr, **(self.features or {})})

    def resolved_epochs(self) -> int:
        """Epochs: this run's, else the preset's."""
        return self.epochs or self.preset_obj().epochs

    def resolved_batch_size(self) -> int:
        """Batch size: this run's, else the preset's."""
        return self.batch_size or self.preset_obj().batch_size

    def resolved_learning_rate(self) -> float:
        """Learning rate: this run's, else the preset's."""
        return float(self.learning_rate or self.preset_obj().learning_rate)

    def resolved_dropout(self) -> float:
        """Dropout: this run's, else the preset's."""
        return self.preset_obj().dropout if self.dropout is None else float(self.dropout)

    # -- (de)serialisation: config.Config's scheme, with the run's wording --------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A RunConfig from ``config.json`` (or a dict by hand), refusing unknown settings by name."""
        if isinstance(data, dict):
            reject_unknown_keys(cls, data, owner="run", noun="setting")
        return config_from_dict(cls, data, owner="run config")


def parse_set(items: list[str] | None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply ``key=value`` overrides (YAML values, dotted keys for nesting) to a dict.

    >>> parse_set(["epochs=3", "augment.pitch_shift=true"], {"model": "cnn"})
    {'model': 'cnn', 'epochs': 3, 'augment': {'pitch_shift': True}}
    """
    import yaml

    out = json.loads(json.dumps(base or {}))
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw.strip() else None
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ParameterError(f"--set {item!r}: {p!r} is not a group of settings")
        node[parts[-1]] = value
    return out

