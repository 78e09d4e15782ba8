"""The Train form's numeric fields: their bounds, and parsing what a user typed (#13).

A form runs what it shows: a value that does not parse or lies out of range is not
replaced by an earlier valid one; it blocks Start, with the reason in words
(:func:`parse_field`). Bounds follow from the model and the data
(:func:`form_rules`): the batch size is at most the training-set size
(:func:`train_size`), epochs at least 1, dropout in [0, 1), the learning rate in
[1e-6, 1].

The transfer model's choices (head, level, musicnn outputs) are labelled here too
(:data:`TRANSFER_HEAD_LABELS`, :data:`TRANSFER_LEVEL_LABELS`, :data:`TRANSFER_FEATURE_LABELS`);
``pages/_ui/transfer.py`` draws them and :class:`~musictag_core.training.RunConfig` judges the
combination.

Nothing here imports Streamlit; ``pages/_ui/form.py`` draws the fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "FieldRule",
    "form_rules",
    "parse_field",
    "train_size",
    "transfer_help",
    "LEARNING_RATE_RANGE",
    "TRANSFER_FEATURE_LABELS",
    "TRANSFER_HEAD_LABELS",
    "TRANSFER_LEVEL_LABELS",
]

#: The transfer model's heads (``RunConfig.head``), as the form names them.
TRANSFER_HEAD_LABELS = {
    "dense": "Dense head (Keras)",
    "logreg": "Logistic regression",
    "svm": "RBF SVM",
}

#: What a scikit-learn transfer head trains on (``RunConfig.level``).
TRANSFER_LEVEL_LABELS = {
    "segment": "every 3 s patch",
    "track": "one mean per track",
}

#: The musicnn outputs a transfer head reads (``RunConfig.embedding``).
TRANSFER_FEATURE_LABELS = {
    "pooled": "pooled embedding (1506)",
    "penultimate": "penultimate embedding (200)",
    "both": "both embeddings (1706)",
    "taggram": "taggram: 50 tag scores",
    "both+taggram": "both embeddings + taggram (1756)",
}

_TRANSFER_HELP = {
    "head": "Dense: a small Keras network trained by epochs (the settings below). Logistic regression and RBF SVM: "
    "scikit-learn on standardised inputs, fitted in one go on every non-test track; with Tune on, C is chosen by "
    "inner cross-validation grouped by track.",
    "level": "Logistic regression and SVM only. Every 3 s patch as a sample (labelled with its track's labels), or "
    "one mean vector per track. Either way the saved head scores each patch and a track's score is their mean.",
    "embedding": "Which musicnn outputs the head reads: its pooled and/or penultimate embedding, its 50 tag scores "
    "(the taggram), or both embeddings plus the taggram.",
}


#: The learning rates the form accepts: below 1e-6 nothing moves in a few epochs, above 1 Adam and SGD diverge.
LEARNING_RATE_RANGE = (1e-6, 1.0)


@dataclass(frozen=True)
class FieldRule:
    """One numeric field of the form.

    Attributes
    ----------
    label : str
        The field's label (quoted in messages).
    kind : {"int", "float"}
    minimum, maximum : float or None
        Bounds; ``None``: unbounded on that side.
    max_exclusive : bool
        The maximum itself is refused (dropout < 1).
    optional : bool
        An empty field means "the preset's value" (``default`` says which).
    default : float or None
        The value an empty optional field stands for (shown as the placeholder).
    why_max : str
        Why the maximum is what it is, appended to the message (``"the training set has 96 tracks"``).
    """

    label: str
    kind: str = "float"
    minimum: float | None = None
    maximum: float | None = None
    max_exclusive: bool = False
    optional: bool = False
    default: float | None = None
    why_max: str = ""

    def describe(self) -> str:
        """The accepted range in words (``"a whole number from 1 to 96"``)."""
        what = "a whole number" if self.kind == "int" else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            upper = f"up to (not including) {_fmt(hi)}" if self.max_exclusive else f"to {_fmt(hi)}"
            return f"{what} from {_fmt(lo)} {upper}"
        if lo is not None:
            return f"{what} of at least {_fmt(lo)}"
        if hi is not None:
            return f"{what} {'below' if self.max_exclusive else 'of at most'} {_fmt(hi)}"
        return what


def transfer_help(setting: str) -> str:
    """The help text of a transfer setting: ``"head"``, ``"level"`` or ``"embedding"``."""
    return _TRANSFER_HELP[setting]


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:g}"


def parse_field(text: str | None, rule: FieldRule) -> tuple[float | int | None, str | None]:
    """Parse what was typed in a field.

    Parameters
    ----------
    text : str or None
        The field's text.
    rule : FieldRule

    Returns
    -------
    value : int, float or None
        The number (``None`` when the field is empty and optional, or on an error).
    error : str or None
        Why the text is refused, in words, naming the accepted range; ``None`` when it is fine.
    """
    raw = (text or "").strip()
    if not raw:
        if rule.optional:
            return None, None
        return None, f"{rule.label}: enter {rule.describe()}"
    try:
        number = float(raw.replace("_", ""))
    except ValueError:
        return None, f"{rule.label}: {raw!r} is not a number; enter {rule.describe()}"
    if not math.isfinite(number):
        return None, f"{rule.label}: {raw!r} is not a finite number; enter {rule.describe()}"
    if rule.kind == "int":
        if not number.is_integer():
            return None, f"{rule.label}: {raw} is not a whole number; enter {rule.describe()}"
        number = int(number)
    too_low = rule.minimum is not None and number < rule.minimum
    too_high = rule.maximum is not None and (number >= rule.maximum if rule.max_exclusive else number > rule.maximum)
    if too_low or too_high:
        why = f" ({rule.why_max})" if too_high and rule.why_max else ""
        return None, f"{rule.label}: {raw} is out of range; enter {rule.describe()}{why}"
    return number, None


def train_size(
    n_tracks: int,
    *,
    cv: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    n_train_split: int | None = None,
    max_tracks: int | None = None,
) -> int:
    """How many tracks a run trains on (before augmentation), as the worker splits them.

    Parameters
    ----------
    n_tracks : int
        Tracks in the dataset.
    cv : int
        0: one train/validation/test split; ``k >= 2``: k folds (the training part of a fold
        still holds out ``val_fraction`` for validation).
    val_fraction, test_fraction : float
    n_train_split : int or None
        Tracks in the dataset's own ``train`` split, when it has one (used without CV).
    max_tracks : int or None
        The run's "use at most N tracks".

    Returns
    -------
    int
        At least 1.
    """
    n = min(int(n_tracks), int(max_tracks)) if max_tracks else int(n_tracks)
    if cv >= 2:
        size = n * (cv - 1) / cv * (1 - val_fraction)
    elif n_train_split and not max_tracks:
        size = n_train_split
    else:
        size = n * (1 - val_fraction - test_fraction)
    return max(1, int(math.floor(size)))


def form_rules(*, preset, n_tracks: int | None = None, n_train: int | None = None) -> dict[str, FieldRule]:  # noqa: ANN001
    """The rules of the Train form's numeric fields for a model preset and a dataset.

    Parameters
    ----------
    preset : musictag_core.models.registry.Preset
        The model card's preset (its values are the defaults of empty fields).
    n_tracks : int or None
        Tracks in the dataset, when known (bounds "use at most N tracks").
    n_train : int or None
        Tracks the run trains on (:func:`train_size`), when known (bounds the batch size).

    Returns
    -------
    dict
        ``{field name: FieldRule}`` for ``threshold``, ``max_tracks``, ``learning_rate``,
        ``epochs``, ``batch_size``, ``patience``, ``dropout``, ``seed``, ``n_variants``,
        ``segment_length``, ``n_segments``, ``max_duration``, ``bands``.
    """
    lo_lr, hi_lr = LEARNING_RATE_RANGE
    batch_max = n_train if n_train else 4096
    seg = preset.segments
    return {
        "threshold": FieldRule("Strength threshold", "float", 1.0, 100.0, default=50.0),
        "max_tracks": FieldRule("Use at most N tracks", "int", 2, n_tracks, optional=True,
                                why_max=f"the dataset has {n_tracks} tracks" if n_tracks else ""),
        "learning_rate": FieldRule("Learning rate", "float", lo_lr, hi_lr, optional=True, default=preset.learning_rate),
        "epochs": FieldRule("Epochs", "int", 1, 10_000, optional=True, default=preset.epochs),
        "batch_size": FieldRule("Batch size", "int", 1, batch_max, optional=True, default=preset.batch_size,
                                why_max=f"the training set has {n_train} tracks" if n_train else ""),
        "patience": FieldRule("Patience", "int", 0, 10_000, default=5),
        "dropout": FieldRule("Dropout", "float", 0.0, 1.0, max_exclusive=True, optional=True, default=preset.dropout),
        "seed": FieldRule("Seed", "int", 0, 2**32 - 1, default=0),
        "n_variants": FieldRule("Augmented variants per training track", "int", 1, 16, default=4),
        "segment_length": FieldRule("Segment length (s)", "float", 0.1, 600.0, optional=True, default=seg.length_s),
        "n_segments": FieldRule("Segments per track", "int", 1, 1000, optional=True, default=seg.n_segments),
        "max_duration": FieldRule("Use the first … s", "float", 1.0, 3600.0, optional=True, default=seg.max_duration_s),
        "bands": FieldRule("Mel bands", "int", 4, 256, optional=True),
    }
