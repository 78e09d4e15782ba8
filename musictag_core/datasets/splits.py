"""Seeded train/validation/test splits and cross-validation folds for a :class:`DatasetIndex`.

How a split is made (``split_dataset``):

* **Single-label** (every track has exactly one present label): stratified on the label
  with :class:`sklearn.model_selection.StratifiedShuffleSplit`, in two stages (test off
  the whole set, then validation off the rest, at ``val_size / (1 - test_size)``).
* **Multi-label**: iteratively stratified (Sechidis et al. 2011) with
  :class:`iterstrat.ml_stratifiers.MultilabelStratifiedShuffleSplit`, same two stages.
  A dataset with a single label column is split as a binary single-label one.
* **Grouped by artist** (``group_by_artist="auto"`` and the index names artists, or
  ``True``): one artist never sits on two sides. Tracks without an artist form groups of
  their own. Rows cut from one recording (``tracks["source"]``, e.g. GTZAN's 3-second
  feature table) are always kept together, artists or not.

  - single-label: :class:`sklearn.model_selection.StratifiedGroupKFold` cuts the groups
    into ``k = min(20, n_groups, largest class size)`` folds; ``round(test_size * k)`` folds become
    the test set and ``round(val_size * k)`` the validation set (at least one each), so
    the proportions are kept to within one fold (5 % with 20 folds; coarser on tiny data).
  - multi-label: each group becomes one row whose labels are the union of its tracks'
    labels, and those rows are iteratively stratified (two-stage
    ``MultilabelStratifiedShuffleSplit``); sizes are fractions of groups, so track
    proportions hold only roughly when artists have very different track counts.
  - ``stratify=False``: :class:`~sklearn.model_selection.GroupShuffleSplit` (or
    :class:`~sklearn.model_selection.ShuffleSplit` without groups).

A class (single-label) or tag (multi-label) with fewer tracks (or, grouped, fewer
artists) than there are parts to fill raises :class:`DatasetError` naming it, its count
and the minimum. The same seed always gives the same split.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from ..errors import DatasetError, ParameterError
from .base import SPLITS, DatasetIndex, list_some

__all__ = ["split_dataset", "kfold_indices", "split_groups", "MAX_GROUP_FOLDS"]

#: Folds used to cut grouped single-label data (proportions kept to within 1/20).
MAX_GROUP_FOLDS = 20
_GROUP_CHOICES = ("auto", True, False)


def _check_sizes(val_size: float, test_size: float) -> tuple[float, float]:
    for name, value in (("val_size", val_size), ("test_size", test_size)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value < 1.0):
            raise ParameterError(f"{name} must be a fraction in [0, 1), got {value!r}")
    if val_size + test_size >= 1.0:
        raise ParameterError(f"val_size + test_size must be below 1, got {val_size} + {test_size}")
    return float(val_size), float(test_size)


def split_groups(index: DatasetIndex, *, group_by_artist: bool | str = "auto") -> tuple[np.ndarray | None, str | None]:
    """Group label per track that a split must keep on one side, or ``None``.

    Parameters
    ----------
    index : DatasetIndex
    group_by_artist : {"auto", True, False}
        ``"auto"`` groups by artist when any track names one; ``True`` requires artists.

    Returns
    -------
    groups : np.ndarray [shape=(n_tracks,)] of str, or None
        Artist (or recording, or the track itself) per track; ``None`` when nothing groups.
    grouped_by : str or None
        ``"artist"``, ``"source"``, ``"artist+source"`` or ``None``.
    """
    if group_by_artist not in _GROUP_CHOICES:
        raise ParameterError(f"group_by_artist must be 'auto', True or False, got {group_by_artist!r}")
    tracks = index.tracks
    if group_by_artist is True and not index.has_artists:
        raise DatasetError(f"{index.name}: group_by_artist=True but no track names an artist")
    use_artist = index.has_artists and group_by_artist in ("auto", True)
    has_source = "source" in tracks.columns and bool(tracks["source"].notna().any())
    if not use_artist and not has_source:
        return None, None
    groups = "track:" + tracks["track_id"].astype(str)
    if has_source:
        source = tracks["source"]
        groups = groups.where(source.isna(), "source:" + source.astype(str))
    if use_artist:
        artist = tracks["artist"]
        groups = groups.where(artist.isna(), "artist:" + artist.astype(str))
    grouped_by = "+".join(name for name, used in (("artist", use_artist), ("source", has_source)) if used)
    return groups.to_numpy(dtype=str), grouped_by


def _target(index: DatasetIndex) -> tuple[str, np.ndarray, list[str]]:
    """Stratification target: ``("single", class per track, names)`` or ``("multi", y, names)``."""
    if index.task == "single":
        return "single", index.label_index, list(index.labels)
    y = index.y
    if y.shape[1] == 1:
        return "single", y[:, 0].astype(int), [f"not {index.labels[0]}", index.labels[0]]
    return "multi", y, list(index.labels)


def _check_counts(
    index: DatasetIndex,
    kind: str,
    target: np.ndarray,
    groups: np.ndarray | None,
    names: list[str],
    need: int,
    parts: str,
    grouped_by: str | None,
) -> None:
    """Raise DatasetError naming each class/tag with fewer than ``need`` tracks (or groups)."""
    if kind == "single":
        member = target[:, None] == np.arange(len(names))[None, :]
    else:
        member = target.astype(bool)
    if groups is None:
        counts = member.sum(axis=0)
        unit = "tracks"
    else:
        codes, uniques = pd.factorize(groups)
        per_group = np.zeros((len(uniques), member.shape[1]), dtype=bool)
        np.logical_or.at(per_group, codes, member)
        counts = per_group.sum(axis=0)
        unit = "artists" if grouped_by and grouped_by.startswith("artist") else "recordings"
    small = [f"{names[j]!r} has {int(c)}" for j, c in enumerate(counts) if c < need]
    if small:
        what = "class" if kind == "single" else "tag"
        advice = "remove or merge those labels" + (", or pass group_by_artist=False" if groups is not None else "")
        raise DatasetError(
            f"{index.name}: too few {unit} to split into {parts}: {list_some(small, quote=False)}; "
            f"each {what} needs at least {need} {unit}. Fix: {advice}, or choose fewer parts."
        )


def _sklearn(call: Callable, *, what: str):
    try:
        return call()
    except ValueError as exc:
        raise DatasetError(f"{what}: cannot split: {exc} Use more tracks, fewer labels or larger split sizes.") from None


def _group_rows(groups: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes per track and, when ``y`` is given, the union of labels per group."""
    codes, uniques = pd.factorize(pd.Series(groups), sort=True)
    if y is None:
        return codes, None
    per_group = np.zeros((len(uniques), y.shape[1]), dtype=bool)
    np.logical_or.at(per_group, codes, y.astype(bool))
    return codes, per_group.astype(np.int8)


def _two_stage(n_units: int, split_fn: Callable, *, val_size: float, test_size: float, states) -> np.ndarray:
    """Part per unit (0 train, 1 validation, 2 test) from two shuffle splits."""
    part = np.zeros(n_units, dtype=int)
    rest = np.arange(n_units)
    if test_size > 0:
        keep, take = split_fn(rest, test_size, int(states[0]))
        part[rest[take]] = 2
        rest = rest[keep]
    if val_size > 0:
        keep, take = split_fn(rest, val_size / (1.0 - test_size), int(states[1]))
        part[rest[take]] = 1
    return part


def split_dataset(
    index: DatasetIndex,
    *,
    seed: int = 0,
    val_size: float = 0.15,
    test_size: float = 0.15,
    group_by_artist: bool | str = "auto",
    stratify: bool = True,
    respect_existing: bool = True,
) -> DatasetIndex:
    """Return a copy of ``index`` with ``tracks["split"]`` filled (train/validation/test).

    Parameters
    ----------
    index : DatasetIndex
    seed : int
        Seed of the split; the same seed gives the same split.
    val_size, test_size : float
        Fractions of the tracks (of the groups, for grouped multi-label data) for
        validation and test; either may be 0.
    group_by_artist : {"auto", True, False}
        Keep each artist on one side (see the module docstring).
    stratify : bool
        Keep label proportions (single-label) or label co-occurrences (multi-label).
    respect_existing : bool
        When every track already has a split (FMA's, or a CSV's ``split`` column), keep
        it; a partial split is then an error. ``False`` always makes a new split.

    Returns
    -------
    index : DatasetIndex
        A copy; ``meta["split"]`` records the method, seed, sizes, grouping and counts.

    Raises
    ------
    DatasetError
        A class/tag has too few tracks or artists to fill every part; too few tracks or
        artists overall; a partial predefined split with ``respect_existing=True``.
    """
    val_size, test_size = _check_sizes(val_size, test_size)
    out = index.subset(np.arange(len(index)))
    if respect_existing and index.tracks["split"].notna().any():
        if not index.has_splits:
            n_set = int(index.tracks["split"].notna().sum())
            raise DatasetError(
                f"{index.name}: {n_set} of {len(index)} tracks have a split and the rest have none; "
                "fill the missing ones, or pass respect_existing=False to make a new split for all"
            )
        out.meta["split"] = {"method": "predefined", "counts": out.summary()["splits"]}
        return out
    n = len(index)
    if n == 0:
        raise DatasetError(f"{index.name}: no tracks to split")
    groups, grouped_by = split_groups(index, group_by_artist=group_by_artist)
    n_parts = 1 + (val_size > 0) + (test_size > 0)
    parts = ", ".join(s for s, size in zip(SPLITS, (1, val_size, test_size)) if size > 0)
    states = np.random.default_rng(seed).integers(0, 2**31 - 1, size=2)
    what = f"{index.name}"

    if stratify:
        kind, target, names = _target(index)
        _check_counts(index, kind, target, groups, names, n_parts, parts, grouped_by)
    else:
        kind, target = "none", None

    if groups is None:
        dummy = np.zeros((n, 1))
        splitter_of = {
            "single": lambda size, rs: StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=rs),
            "multi": lambda size, rs: MultilabelStratifiedShuffleSplit(n_splits=1, test_size=size, random_state=rs),
            "none": lambda size, rs: ShuffleSplit(n_splits=1, test_size=size, random_state=rs),
        }

        def split_fn(rows, size, rs):
            sub_y = None if target is None else target[rows]
            return _sklearn(lambda: next(splitter_of[kind](size, rs).split(dummy[rows], sub_y)), what=what)

        part = _two_stage(n, split_fn, val_size=val_size, test_size=test_size, states=states)
        method = {
            "single": "StratifiedShuffleSplit",
            "multi": "MultilabelStratifiedShuffleSplit",
            "none": "ShuffleSplit",
        }[kind]
    elif kind == "single":
        part, method = _grouped_single(
            target, groups, val_size=val_size, test_size=test_size, seed=int(states[0]), what=what
        )
    elif kind == "multi":
        codes, per_group = _group_rows(groups, target)
        dummy = np.zeros((len(per_group), 1))

        def split_fn(rows, size, rs):
            splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=size, random_state=rs)
            return _sklearn(lambda: next(splitter.split(dummy[rows], per_group[rows])), what=what)

        part = _two_stage(len(per_group), split_fn, val_size=val_size, test_size=test_size, states=states)[codes]
        method = "MultilabelStratifiedShuffleSplit over groups"
    else:
        dummy = np.zeros((n, 1))

        def split_fn(rows, size, rs):
            splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=rs)
            return _sklearn(lambda: next(splitter.split(dummy[rows], groups=groups[rows])), what=what)

        part = _two_stage(n, split_fn, val_size=val_size, test_size=test_size, states=states)
        method = "GroupShuffleSplit"

    for p, size in zip((1, 2), (val_size, test_size)):
        if size > 0 and not (part == p).any():
            raise DatasetError(f"{index.name}: too few tracks for a {SPLITS[p]} set of {size:.0%}")
    out.tracks["split"] = np.asarray(SPLITS, dtype=object)[part]
    out.meta["split"] = {
        "method": method,
        "seed": seed,
        "val_size": val_size,
        "test_size": test_size,
        "grouped_by": grouped_by,
        "stratified": bool(stratify),
        "counts": out.summary()["splits"],
    }
    return out


def _grouped_single(
    target: np.ndarray, groups: np.ndarray, *, val_size: float, test_size: float, seed: int, what: str
) -> tuple[np.ndarray, str]:
    """Parts from StratifiedGroupKFold folds (see the module docstring)."""
    n_groups = len(np.unique(groups))
    # StratifiedGroupKFold refuses more folds than the largest class has tracks.
    k = min(MAX_GROUP_FOLDS, n_groups, int(np.bincount(target).max()))
    n_test = max(1, round(test_size * k)) if test_size > 0 else 0
    n_val = max(1, round(val_size * k)) if val_size > 0 else 0
    if k < 2 or n_test + n_val >= k:
        raise DatasetError(f"{what}: only {n_groups} artists/groups; too few to fill train, validation and test")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Class sizes were checked against the parts to fill; fewer members than folds is expected here.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = _sklearn(lambda: list(splitter.split(np.zeros((len(target), 1)), target, groups)), what=what)
    fold_of = np.empty(len(target), dtype=int)
    for f, (_, test) in enumerate(folds):
        fold_of[test] = f
    part = np.where(fold_of < n_test, 2, np.where(fold_of < n_test + n_val, 1, 0))
    return part, f"StratifiedGroupKFold({k} folds)"


def kfold_indices(
    index: DatasetIndex,
    *,
    k: int = 5,
    seed: int = 0,
    group_by_artist: bool | str = "auto",
    stratify: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds over all tracks of ``index``.

    Uses :class:`~sklearn.model_selection.StratifiedKFold` (single-label),
    :class:`~iterstrat.ml_stratifiers.MultilabelStratifiedKFold` (multi-label),
    :class:`~sklearn.model_selection.StratifiedGroupKFold` (single-label grouped by
    artist) or ``MultilabelStratifiedKFold`` over per-artist label unions (multi-label
    grouped); ``KFold``/``GroupKFold`` when ``stratify=False``. To cross-validate inside
    a training set only, pass ``index.subset(index.split_indices("train"))``.

    Parameters
    ----------
    index : DatasetIndex
    k : int
        Number of folds (at least 2).
    seed : int
        Seed of the shuffling.
    group_by_artist : {"auto", True, False}
        Keep each artist inside one fold.
    stratify : bool
        Stratify on the labels.

    Returns
    -------
    folds : list of (train, test) pairs of np.ndarray [shape=(n_i,)]
        Row positions into ``index.tracks``; every track is in exactly one test fold.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ParameterError(f"k must be an integer of at least 2, got {k!r}")
    n = len(index)
    if n < k:
        raise DatasetError(f"{index.name}: {n} tracks cannot fill {k} folds")
    groups, grouped_by = split_groups(index, group_by_artist=group_by_artist)
    if stratify:
        kind, target, names = _target(index)
        _check_counts(index, kind, target, groups, names, k, f"{k} folds", grouped_by)
    else:
        kind, target = "none", None
    dummy = np.zeros((n, 1))
    what = index.name
    if groups is not None and kind == "multi":
        codes, per_group = _group_rows(groups, target)
        splitter = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = _sklearn(lambda: list(splitter.split(np.zeros((len(per_group), 1)), per_group)), what=what)
        return [(np.flatnonzero(np.isin(codes, tr)), np.flatnonzero(np.isin(codes, te))) for tr, te in folds]
    if groups is not None:
        if len(np.unique(groups)) < k:
            raise DatasetError(f"{what}: only {len(np.unique(groups))} artists/groups for {k} folds")
        splitter = (
            StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            if kind == "single"
            else GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        )
        return _sklearn(lambda: list(splitter.split(dummy, target, groups)), what=what)
    splitter = {
        "single": lambda: StratifiedKFold(n_splits=k, shuffle=True, random_state=seed),
        "multi": lambda: MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed),
        "none": lambda: KFold(n_splits=k, shuffle=True, random_state=seed),
    }[kind]()
    return _sklearn(lambda: list(splitter.split(dummy, target)), what=what)
