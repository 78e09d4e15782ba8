"""The pre-flight check: a dataset against a run's settings, before any run folder exists.

:func:`preflight` opens the dataset (metadata only, no audio is decoded), counts
classes and tracks (or artists) per class, works out which evaluation the
settings ask for and whether the data allows it, and plans the folds. The CLI
``train`` and the Train page both call it through
:func:`musictag_core.training.create_run` / :func:`~musictag_core.training.start_run`,
so a run that cannot work is refused with one message and leaves no folder; the
worker calls it again to get the same folds.

What adapts instead of failing:

* ``cv=K`` larger than the smallest class (in tracks, or artists when folds are
  grouped by artist) is lowered to that count (at least 2), with a note that
  goes to the CLI output and the run card.
* ``test_split=False`` trains on every track and evaluates by cross-validation
  (K = min(5, smallest class) when ``cv`` is 0).

What is refused, naming the labels and what would work: one-class data; a class
with a single track under cross-validation; leave-one-out above
:data:`MAX_LOO_TRACKS` tracks; a class too small for a train/validation/test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DatasetError, TrainingError
from .config import RunConfig

__all__ = ["DEFAULT_NO_TEST_K", "MAX_LOO_TRACKS", "Preflight", "load_dataset", "preflight", "preview"]

#: Leave-one-out trains one model per track: offered up to this many tracks.
MAX_LOO_TRACKS = 200
#: Folds used when ``test_split=False`` and no ``cv`` is given (lowered to the smallest class).
DEFAULT_NO_TEST_K = 5


@dataclass
class Preflight:
    """What the pre-flight check found and the evaluation it planned.

    Attributes
    ----------
    n_tracks : int
    task : str
    labels : list of str
    counts : dict of str to int
        Tracks per label (single-label: per class; multi-label: tracks where the label is present).
    unit : {"tracks", "artists", "recordings"}
        What a fold keeps together: ``counts_in_unit`` counts these.
    counts_in_unit : dict of str to int
        Per label, the count that limits the folds (artists when grouped by artist).
    grouped_by : str or None
        ``artist``, ``source``, ``artist+source`` or None.
    evaluation : {"split", "kfold", "loo"}
    k : int or None
        Folds per repeat actually used (``None`` for a single split; tracks or groups for loo).
    k_requested : int, str or None
    repeats : int
    max_k : int
        The largest K the data allows (0 when no K-fold is possible).
    notes : list of str
        What was adapted (e.g. K lowered), said in the CLI output and the run card.
    splits : list of dict
        Row positions ``{"train", "validation", "test"}`` per fold (one entry for a split).
    """

    n_tracks: int
    task: str
    labels: list[str]
    counts: dict[str, int]
    unit: str
    counts_in_unit: dict[str, int]
    grouped_by: str | None
    evaluation: str
    k: int | None
    k_requested: int | str | None
    repeats: int
    max_k: int
    notes: list[str] = field(default_factory=list)
    splits: list[dict[str, np.ndarray]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no fold rows), as saved under ``card["preflight"]``."""
        return {
            "n_tracks": self.n_tracks, "task": self.task, "n_labels": len(self.labels), "counts": self.counts,
            "unit": self.unit, "counts_in_unit": self.counts_in_unit, "grouped_by": self.grouped_by,
            "evaluation": self.evaluation, "k": self.k, "k_requested": self.k_requested,
            "repeats": self.repeats, "max_k": self.max_k, "n_folds": len(self.splits), "notes": list(self.notes),
        }


def load_dataset(cfg: RunConfig):  # noqa: ANN201 - (DatasetIndex, task)
    """Open the run's dataset (with its column rule) and apply ``max_tracks``; returns ``(index, task)``."""
    from ..datasets import open_dataset

    index = open_dataset(cfg.dataset, threshold=cfg.threshold, keep=cfg.keep_columns, drop=cfg.drop_columns,
                         missing=cfg.missing, audio_dir=cfg.audio_dir)
    task = cfg.task or index.task
    return _sample(index, cfg, task), task


def _sample(index, cfg: RunConfig, task: str):  # noqa: ANN001, ANN202
    """``index`` with at most ``cfg.max_tracks`` tracks (a seeded stratified sample)."""
    if cfg.max_tracks is not None and cfg.max_tracks < len(index):
        from sklearn.model_selection import train_test_split

        from .data import stratify_key

        keep, _ = train_test_split(
            np.arange(len(index)), train_size=cfg.max_tracks, random_state=cfg.seed,
            stratify=stratify_key(index, task) if task == "single" else None,
        )
        index = index.subset(np.sort(keep))
    return index


def preview(cfg: RunConfig) -> Preflight:
    """:func:`preflight` as a form shows it before Start: no audio is decoded or generated.

    The demo corpora are read from their plan
    (:func:`~musictag_core.datasets.demo.demo_plan_index`: the same tracks and
    labels the generated corpus has); every other dataset from its metadata, as
    :func:`preflight` does.

    Raises
    ------
    TrainingError, DatasetError
        As :func:`preflight`: the refusal the run would get at Start.
    """
    from ..datasets.detect import DEMO_SPECS

    if cfg.dataset not in DEMO_SPECS:
        return preflight(cfg)
    from ..datasets.demo import demo_plan_index

    index = demo_plan_index(variant=cfg.dataset, threshold=cfg.threshold)
    task = cfg.task or index.task
    return preflight(cfg, index=_sample(index, cfg, task), task=task)


def _names(items: list[str], counts: dict[str, int]) -> str:
    shown = ", ".join(f"{lab!r} ({counts[lab]})" for lab in items[:8])
    return shown + (f" and {len(items) - 8} more" if len(items) > 8 else "")


def _label_counts(index, task: str) -> tuple[dict[str, int], np.ndarray | None]:  # noqa: ANN001
    """Tracks per label and the membership matrix [shape=(n_tracks, n_labels)] (None for regression)."""
    labels = [str(x) for x in index.labels]
    if task == "regression":
        return {}, None
    if task == "single":
        member = index.label_index[:, None] == np.arange(len(labels))[None, :]
    else:
        member = index.y.astype(bool)
    return {lab: int(c) for lab, c in zip(labels, member.sum(axis=0))}, member


def _unit_counts(member: np.ndarray | None, groups: np.ndarray | None, labels: list[str]) -> dict[str, int]:
    if member is None:
        return {}
    if groups is None:
        return {lab: int(c) for lab, c in zip(labels, member.sum(axis=0))}
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(groups))
    per_group = np.zeros((len(uniques), member.shape[1]), dtype=bool)
    np.logical_or.at(per_group, codes, member)
    return {lab: int(c) for lab, c in zip(labels, per_group.sum(axis=0))}


def preflight(cfg: RunConfig, *, index=None, task: str | None = None) -> Preflight:  # noqa: ANN001
    """Check the dataset against ``cfg`` and plan its evaluation; raises before anything is written.

    Parameters
    ----------
    cfg : RunConfig
    index : DatasetIndex, optional
        Already opened (and ``max_tracks``-sampled) data; default :func:`load_dataset`.
    task : str, optional
        The run's task (default ``cfg.task`` or the data's).

    Returns
    -------
    Preflight
        With the planned folds in ``splits``.

    Raises
    ------
    TrainingError
        The data cannot support the settings; the message names the short labels
        and the ``cv`` / ``test_split`` choice that would work.
    DatasetError
        The dataset cannot be read.
    """
    from ..datasets.splits import split_groups

    if index is None:
        index, task = load_dataset(cfg)
    task = task or cfg.task or index.task
    name = index.name
    n = len(index)
    labels = [str(x) for x in index.labels]
    if n == 0:
        raise TrainingError(f"{name}: the dataset has no tracks; add audio files or rows")
    counts, member = _label_counts(index, task)
    if task == "single":
        present = [lab for lab, c in counts.items() if c > 0]
        if len(present) < 2:
            raise TrainingError(
                f"{name}: one-class data: every one of the {n} tracks has the label {present[0] if present else '?'!r}; "
                "a classifier needs at least 2 labels. Add tracks of another label"
            )
    elif task == "multi":
        empty = [lab for lab, c in counts.items() if c == 0]
        if empty:
            raise TrainingError(
                f"{name}: label(s) {_names(empty, counts)} are present on no track at threshold {cfg.threshold:g}; "
                "remove them or lower the threshold"
            )
        full = [lab for lab, c in counts.items() if c == n]
        if len(full) == len(labels):
            raise TrainingError(f"{name}: one-class data: every label is present on every track; nothing to learn")
    try:
        groups, grouped_by = split_groups(index, group_by_artist=cfg.group_by_artist)
    except DatasetError as exc:
        raise TrainingError(f"{exc}; set group_by_artist to auto or false") from None
    unit = "tracks" if groups is None else ("artists" if grouped_by.startswith("artist") else "recordings")
    in_unit = _unit_counts(member, groups, labels)
    n_units = n if groups is None else len(np.unique(groups))
    smallest = min(in_unit.values()) if in_unit else n_units
    max_k = min(smallest, n_units) if smallest >= 2 else 0
    plan = Preflight(
        n_tracks=n, task=task, labels=labels, counts=counts, unit=unit, counts_in_unit=in_unit,
        grouped_by=grouped_by, evaluation="split", k=None, k_requested=cfg.cv or None, repeats=1, max_k=max_k,
    )
    if not cfg.cross_validated:
        _plan_split(cfg, index, task, plan, smallest)
        return plan
    if cfg.cv == "loo":
        _plan_loo(cfg, index, task, plan, groups, in_unit)
        return plan
    _plan_kfold(cfg, index, task, plan, smallest, n_units)
    return plan


def _single_track_refusal(plan: Preflight, name: str, what: str) -> TrainingError:
    lonely = [lab for lab, c in plan.counts_in_unit.items() if c < 2]
    one = "artist" if plan.unit == "artists" else plan.unit.rstrip("s")
    msg = f"{name}: label(s) {_names(lonely, plan.counts_in_unit)} have a single {one}; {what} needs at least 2 {plan.unit} per label. "
    if plan.unit != "tracks" and all(plan.counts[lab] >= 2 for lab in lonely):
        msg += "Fold by track instead of by artist (setting group_by_artist: false), or add tracks"
    else:
        msg += "Add tracks of those labels, or remove or merge the labels"
    return TrainingError(msg)


def _plan_split(cfg: RunConfig, index, task: str, plan: Preflight, smallest: int) -> None:  # noqa: ANN001
    from ..datasets import split_dataset

    name = index.name
    predefined = bool(index.has_splits)
    group_by_artist = cfg.group_by_artist if not predefined else "auto"
    if (
        not predefined and task != "regression" and smallest < 3 and plan.unit != "tracks"
        and cfg.group_by_artist == "auto" and min(plan.counts.values()) >= 3
    ):
        # Grouping by artist is the default, not a demand: where some label has too few artists
        # for three parts but enough tracks, split by track and say so (group_by_artist: true refuses).
        few = [lab for lab, c in plan.counts_in_unit.items() if c < 3]
        plan.notes.append(
            f"split by track, not by artist: {_names(few, plan.counts_in_unit)} have fewer than 3 {plan.unit}, so one "
            "artist can be in both training and test (scores may be optimistic); use --cv K for artist-grouped folds, "
            "or set group_by_artist: true to refuse instead"
        )
        plan.unit, plan.grouped_by, group_by_artist = "tracks", None, False
        plan.counts_in_unit = dict(plan.counts)
        smallest = min(plan.counts.values())
    if not predefined and task != "regression" and smallest < 3:
        short = [lab for lab, c in plan.counts_in_unit.items() if c < 3]
        if plan.max_k >= 2:
            way = (
                f"evaluate by cross-validation instead: --cv {plan.max_k} (setting cv: {plan.max_k}; "
                f"K is at most {plan.max_k} here), or --no-test-split (setting test_split: false) to train on "
                "every track and evaluate by cross-validation"
            )
        else:
            way = "add tracks of those labels, or remove or merge the labels"
        raise TrainingError(
            f"{name}: too few {plan.unit} for a train/validation/test split: {_names(short, plan.counts_in_unit)}; "
            f"each label needs at least 3. Fix: {way}"
        )
    try:
        split = split_dataset(
            index, seed=cfg.seed, val_size=cfg.val_fraction, test_size=cfg.test_fraction,
            group_by_artist=group_by_artist,
        )
    except DatasetError as exc:
        text = str(exc).replace(", or choose fewer parts.", ".").rstrip(".")
        raise TrainingError(
            f"{text}; or evaluate by cross-validation: --cv K (setting cv) or --no-test-split (setting test_split: false)"
        ) from None
    col = split.tracks["split"]
    rows = {s: np.flatnonzero((col == s).to_numpy()) for s in ("train", "validation", "test")}
    if not len(rows["train"]) or not len(rows["test"]):
        raise TrainingError(f"{name}: the split leaves no training or no test tracks; use --cv K or --no-test-split")
    plan.splits = [rows]


def _with_validation(rest: np.ndarray, test: np.ndarray, key: np.ndarray, cfg: RunConfig, k: int) -> dict[str, np.ndarray]:
    """A fold: ``test``, and ``rest`` cut into train and a stratified validation part."""
    from sklearn.model_selection import train_test_split

    n_val = max(1, int(round(cfg.val_fraction * len(rest))))
    if len(rest) < 3:
        return {"train": np.sort(rest), "validation": np.sort(rest[:0]), "test": np.sort(test)}
    _, counts = np.unique(key[rest], return_counts=True)
    stratify = key[rest] if counts.min() >= 2 and n_val >= len(counts) and len(rest) - n_val >= len(counts) else None
    train, val = train_test_split(rest, test_size=n_val, random_state=cfg.seed + k, stratify=stratify)
    return {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}


def _plan_kfold(cfg: RunConfig, index, task: str, plan: Preflight, smallest: int, n_units: int) -> None:  # noqa: ANN001
    from ..datasets import kfold_indices
    from .data import stratify_key

    name = index.name
    requested = cfg.cv if cfg.cv else None
    wanted = cfg.cv if cfg.cv else DEFAULT_NO_TEST_K
    what = f"{wanted}-fold cross-validation" if cfg.cv else "evaluating without a test split (by cross-validation)"
    if task != "regression" and smallest < 2:
        raise _single_track_refusal(plan, name, what)
    if n_units < 2:
        raise TrainingError(f"{name}: only {n_units} {plan.unit}; cross-validation needs at least 2")
    k = min(wanted, plan.max_k if task != "regression" else n_units)
    if k < wanted:
        low = [lab for lab, c in plan.counts_in_unit.items() if c < wanted]
        why = (
            f"label(s) with fewer than {wanted} {plan.unit}: {_names(low, plan.counts_in_unit)}; the smallest has {smallest}"
            if low else f"there are only {n_units} {plan.unit}"
        )
        plan.notes.append(
            f"cross-validation uses {k} folds, not {wanted}: {why}"
            + (f" (or use --cv loo on up to {MAX_LOO_TRACKS} tracks)" if plan.n_tracks <= MAX_LOO_TRACKS else "")
        )
    if not cfg.test_split:
        saved = "trains on every track" if cfg.family == "sklearn" else "is fold 1's (it early-stops on a validation part)"
        plan.notes.append(f"no test split: the metrics come from {k}-fold cross-validation; the saved model {saved}")
    plan.evaluation, plan.k, plan.k_requested, plan.repeats = "kfold", k, requested, cfg.cv_repeats
    key = stratify_key(index, task)
    splits = []
    for r in range(cfg.cv_repeats):
        try:
            folds = kfold_indices(
                index, k=k, seed=cfg.seed + 1000 * r, group_by_artist=cfg.group_by_artist,
                stratify=task != "regression",
            )
        except DatasetError as exc:
            raise TrainingError(f"{exc}; try a smaller --cv K or --set group_by_artist=false") from None
        for j, (rest, test) in enumerate(folds):
            splits.append(_with_validation(np.asarray(rest), np.asarray(test), key, cfg, r * k + j))
    plan.splits = splits


def _plan_loo(cfg: RunConfig, index, task: str, plan: Preflight, groups, in_unit: dict[str, int]) -> None:  # noqa: ANN001
    from .data import stratify_key

    name = index.name
    if plan.n_tracks > MAX_LOO_TRACKS:
        raise TrainingError(
            f"{name}: leave-one-out trains one model per track and is offered up to {MAX_LOO_TRACKS} tracks; "
            f"this dataset has {plan.n_tracks}. Use --cv K (K up to {plan.max_k or 2})"
        )
    if task != "regression" and min(in_unit.values()) < 2:
        raise _single_track_refusal(plan, name, "leave-one-out")
    key = stratify_key(index, task)
    if groups is None:
        units = [np.array([i]) for i in range(plan.n_tracks)]
    else:
        units = [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]
    everything = np.arange(plan.n_tracks)
    splits = []
    for j, test in enumerate(units):
        rest = np.setdiff1d(everything, test)
        splits.append(_with_validation(rest, test, key, cfg, j))
    plan.evaluation, plan.k, plan.k_requested, plan.repeats = "loo", len(units), "loo", 1
    plan.notes.append(
        f"leave-one-out: {len(units)} folds" + (f", one per {plan.unit[:-1]}" if groups is not None else "")
        + "; only the pooled metrics are reported"
    )
    plan.splits = splits
