"""The Train form's numeric fields: their bounds, and parsing what a user typed (#13).

A form runs what it shows: a value that does not parse or lies out of range is not
replaced by an earlier valid one; it blocks Start, with the reason in words
(:func:`parse_field`). Bounds follow from the model and the data
(:func:`form_rules`): the batch size is at most the training-set size
(:func:`train_size`), epochs at least 1, dropout in [0, 1), the learning rate in
[1e-6, 1].

The evaluation choices (cross-validation, repeats, a held-out test split, artist-grouped folds,
tuning) are judged by :func:`evaluation_form`, with the same semantics as
:class:`~musictag_core.training.RunConfig`; ``pages/_ui/evaluation.py`` draws them.

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
    "CV_CHOICES",
    "dataset_metadata",
    "EvaluationForm",
    "FieldRule",
    "GROUPING_CHOICES",
    "GROUPING_LABEL",
    "GROUPING_LABELS",
    "TEST_SPLIT_LABEL",
    "MAX_FORM_REPEATS",
    "artists_known",
    "cv_label",
    "evaluation_form",
    "form_rules",
    "parse_field",
    "repeats_rule",
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


# ---------------------------------------------------------------------------
# evaluation: cross-validation, repeats, test split, artist grouping (#13)
# ---------------------------------------------------------------------------

#: The form's Cross-validation choices: 0 is off (one train/validation/test split), K folds, leave-one-out.
CV_CHOICES = (0, 3, 5, 10, "loo")

#: "Keep each artist's tracks in one fold": the form's choice -> ``RunConfig.group_by_artist``.
GROUPING_CHOICES = {"auto": "auto", "on": True, "off": False}

#: What each grouping choice does, as the form says it.
GROUPING_LABELS = {
    "auto": "auto: by artist where the data allows",
    "on": "on: always (refuse otherwise)",
    "off": "off: fold by track",
}

#: The most repeats the form offers (``RunConfig`` takes up to 100): each repeat trains K more models.
MAX_FORM_REPEATS = 10

#: The form's field labels, as the pre-flight panel names them in its fixes.
CV_LABEL = "Cross-validation"
REPEATS_LABEL = "Repeats"
TEST_SPLIT_LABEL = "Hold out a test split"
GROUPING_LABEL = "Keep each artist's tracks in one fold"


def cv_label(choice: int | str) -> str:
    """A Cross-validation choice as the form shows it (``"off"``, ``"5 folds"``, ``"leave-one-out"``)."""
    return "off" if choice == 0 else "leave-one-out" if choice == "loo" else f"{choice} folds"


@dataclass(frozen=True)
class EvaluationForm:
    """The form's evaluation choices judged together, as :class:`~musictag_core.training.RunConfig` would.

    Attributes
    ----------
    settings : dict
        ``RunConfig`` fields: ``cv``, ``cv_repeats``, ``test_split``, ``group_by_artist``, ``tune``.
    errors : dict of str to str
        Field name (``"cv"``, ``"repeats"``) -> why its value is refused; any one blocks Start.
    notes : dict of str to str
        Field name (``"cv"``, ``"repeats"``, ``"test_split"``, ``"grouping"``, ``"tune"``) -> what the
        choice does here, or why the field is disabled.
    repeats_enabled : bool
        Repeats apply: K-fold cross-validation (``cv`` K, or no test split without ``cv``).
    grouping_enabled : bool
        The dataset names artists, so grouping them is a choice.
    size_cv : int
        The folds :func:`train_size` should assume (0: one split).
    """

    settings: dict
    errors: dict
    notes: dict
    repeats_enabled: bool
    grouping_enabled: bool
    size_cv: int

    @property
    def error_list(self) -> list[str]:
        """Every refusal, prefixed with its field's label (for the summary above Start)."""
        return list(self.errors.values())


def repeats_rule() -> FieldRule:
    """The Repeats field: a whole number from 1 to :data:`MAX_FORM_REPEATS`."""
    return FieldRule(REPEATS_LABEL, "int", 1, MAX_FORM_REPEATS, default=1,
                     why_max=f"each repeat trains K more models; the form offers up to {MAX_FORM_REPEATS}")


def evaluation_form(
    *,
    cv: int | str,
    repeats_text: str | None,
    test_split: bool,
    grouping: str = "auto",
    tune: bool = False,
    tunable: bool = True,
    n_tracks: int | None = None,
    has_artists: bool | None = None,
) -> EvaluationForm:
    """Judge the Train form's evaluation choices against the data; return the run settings or the reasons.

    Parameters
    ----------
    cv : int or "loo"
        One of :data:`CV_CHOICES`.
    repeats_text : str or None
        What the Repeats field holds (ignored where repeats do not apply).
    test_split : bool
        "Hold out a test split"; ``False`` trains on every track and evaluates by cross-validation
        (``cv`` K, or K = min(5, smallest label) when ``cv`` is 0: ``RunConfig.test_split``).
    grouping : {"auto", "on", "off"}
        "Keep each artist's tracks in one fold" (:data:`GROUPING_CHOICES`); used only when
        ``has_artists``, else ``"auto"`` (nothing to group).
    tune, tunable : bool
        The Tune box, and whether the model can be tuned.
    n_tracks : int or None
        Tracks the run uses (after "use at most N tracks"), when known: leave-one-out is offered
        up to :data:`~musictag_core.training.preflight.MAX_LOO_TRACKS`.
    has_artists : bool or None
        Whether the dataset names artists (None: unknown).

    Returns
    -------
    EvaluationForm

    Raises
    ------
    ParameterError
        ``cv`` or ``grouping`` is not one of the form's choices.
    """
    from ..errors import ParameterError
    from .preflight import DEFAULT_NO_TEST_K, MAX_LOO_TRACKS

    if cv not in CV_CHOICES:
        raise ParameterError(f"cv must be one of {CV_CHOICES}, got {cv!r}")
    if grouping not in GROUPING_CHOICES:
        raise ParameterError(f"grouping must be one of {tuple(GROUPING_CHOICES)}, got {grouping!r}")
    errors: dict[str, str] = {}
    notes: dict[str, str] = {}
    kfold = cv != "loo" and (cv != 0 or not test_split)
    if cv == "loo" and n_tracks is not None and n_tracks > MAX_LOO_TRACKS:
        errors["cv"] = (
            f"{CV_LABEL}: leave-one-out trains one model per track and is offered up to {MAX_LOO_TRACKS} tracks; "
            f"this run has {n_tracks}. Choose K folds (or use at most {MAX_LOO_TRACKS} tracks)"
        )
    repeats = 1
    if kfold:
        value, err = parse_field(repeats_text, repeats_rule())
        if err:
            errors["repeats"] = err
        else:
            repeats = int(value)
        k = f"{cv} folds are" if cv else f"folds ({DEFAULT_NO_TEST_K}, or the smallest label's count) are"
        notes["repeats"] = f"Repeated K-fold: the {k} drawn this many times with different seeds (1 to {MAX_FORM_REPEATS})."
    elif cv == "loo":
        notes["repeats"] = "Not with leave-one-out: its folds are always the same."
    else:
        notes["repeats"] = (f"Only for K-fold cross-validation: choose {CV_LABEL} folds, or turn off "
                            f"{TEST_SPLIT_LABEL!r}.")
    if test_split:
        notes["test_split"] = (
            "Each fold's held-out part is its test set." if cv else
            "The dataset's own test split, or 15 % of the tracks, is held out and scored once."
        )
    elif cv == 0:
        notes["test_split"] = (
            f"No test split: trains on every track and is evaluated by {DEFAULT_NO_TEST_K}-fold cross-validation "
            "(fewer folds when a label has fewer tracks)."
        )
    else:
        kind = "leave-one-out" if cv == "loo" else f"{cv}-fold"
        notes["test_split"] = f"No test split: trains on every track and is evaluated by {kind} cross-validation."
    grouping_enabled = bool(has_artists)
    if grouping_enabled:
        notes["grouping"] = (
            "The dataset names artists. auto and on keep each artist's tracks in one fold (or one side of the "
            "split), so no artist is both trained on and tested; auto falls back to tracks where a label has too "
            "few artists for a split, on refuses instead; off folds by track (scores may be optimistic)."
        )
    elif has_artists is None:
        notes["grouping"] = f"{GROUPING_LABEL}: choose a dataset first."
        grouping = "auto"
    else:
        notes["grouping"] = (f"{GROUPING_LABEL}: this dataset names no artists, so folds are drawn by track "
                             "(add an artist column to group them).")
        grouping = "auto"
    if not tunable:
        notes["tune"] = "Tuning applies to logreg, svc, gboost, voting, stacked and the transfer model's logreg / svm heads."
    if cv == "loo":
        size_cv = max(2, n_tracks or 2)
    elif cv:
        size_cv = int(cv)
    else:
        size_cv = 0 if test_split else DEFAULT_NO_TEST_K
    settings = {
        "cv": cv, "cv_repeats": repeats, "test_split": bool(test_split),
        "group_by_artist": GROUPING_CHOICES[grouping], "tune": bool(tune) and tunable,
    }
    return EvaluationForm(settings=settings, errors=errors, notes=notes, repeats_enabled=kfold,
                          grouping_enabled=grouping_enabled, size_cv=size_cv)


def artists_known(spec: str) -> bool | None:
    """Whether the dataset ``spec`` names artists (from its metadata; the demo corpora from their plan).

    Returns
    -------
    bool or None
        ``None`` when the dataset cannot be read.
    """
    index = dataset_metadata(spec)
    return None if index is None else bool(index.has_artists)


def dataset_metadata(spec: str):  # noqa: ANN201 - a TrackIndex, imported lazily
    """The track index of the dataset ``spec`` from its metadata alone (the demo corpora from their plan).

    Audio files are not opened or checked (``missing="keep"``), so the form can size its
    fields before any audio is decoded.

    Returns
    -------
    TrackIndex or None
        ``None`` when the dataset cannot be read.
    """
    from ..datasets import open_dataset
    from ..datasets.detect import DEMO_SPECS
    from ..errors import MusictagError

    try:
        if spec in DEMO_SPECS:
            from ..datasets.demo import demo_plan_index

            return demo_plan_index(variant=spec)
        return open_dataset(spec, missing="keep")
    except (MusictagError, OSError):
        return None
