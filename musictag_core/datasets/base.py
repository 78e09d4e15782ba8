"""The one index every dataset adapter returns, and helpers the adapters share.

A :class:`DatasetIndex` lists tracks (id, path, optional artist and split) and
their label strengths on the 0–100 scale of the multi-label seed system. Binary
targets are the strengths thresholded at ``threshold`` (default 50).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError

__all__ = [
    "DatasetIndex",
    "TaskKind",
    "DEFAULT_STRENGTH_THRESHOLD",
    "SPLITS",
    "SPLIT_ALIASES",
    "MISSING_POLICIES",
    "check_missing_files",
    "check_missing_policy",
    "check_threshold",
    "check_ids",
    "list_some",
    "normalise_splits",
    "require_file",
    "is_file",
]

TaskKind = Literal["single", "multi", "regression"]

#: Strength (0–100) at or above which a tag counts as present.
DEFAULT_STRENGTH_THRESHOLD = 50.0

#: The split names an index may hold (or NA).
SPLITS = ("train", "validation", "test")

#: Spellings of split names found in the wild, mapped to :data:`SPLITS`.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}

#: What a reader does with listed audio files that do not exist: raise, leave them out,
#: or keep them listed (for describing a dataset from its metadata alone).
MISSING_POLICIES = ("error", "skip", "keep")


def list_some(items: Iterable, *, limit: int = 10, quote: bool = True) -> str:
    """Format the first ``limit`` items and a count of the rest, for error messages.

    Parameters
    ----------
    items : iterable
        Things to list (file names, column names, ...).
    limit : int
        How many to show.
    quote : bool
        Quote string items (names); ``False`` for items that are already phrases.

    Returns
    -------
    text : str
        For example ``"'a', 'b' and 3 more (5 in all)"``.
    """
    items = list(items)
    shown = ", ".join(repr(i) if quote and isinstance(i, str) else str(i) for i in items[:limit])
    if len(items) > limit:
        return f"{shown} and {len(items) - limit} more ({len(items)} in all)"
    return shown


def check_ids(
    ids: pd.Series, *, csv_path: Path, column: str, what: str = "track ids", lines: Sequence[int] | None = None
) -> None:
    """Refuse blank or repeated ids read from ``column`` of ``csv_path``.

    ``lines`` gives the file line of each row (when a reader skipped comment lines);
    by default row ``i`` is line ``i + 2`` (one header line).

    Raises
    ------
    DatasetError
        ``blank '<column>' on lines ...`` or ``duplicate <what> in column '<column>': ...``.
    """
    if (ids == "").any():
        rows = np.flatnonzero((ids == "").to_numpy())
        blank = [lines[i] for i in rows] if lines is not None else (rows + 2).tolist()
        raise DatasetError(f"{csv_path}: blank {column!r} on lines {list_some(blank)}")
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise DatasetError(f"{csv_path}: duplicate {what} in column {column!r}: {list_some(dup)}")


def is_file(path: str | Path) -> bool:
    """``Path(path).is_file()``, but False (not an OSError) for names too long or with NUL bytes."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def find_in_folder(folder: Path, *, names: Sequence[str], pattern: str) -> Path | None:
    """The first of ``names`` that is a file in ``folder``, else the only file matching ``pattern``; or None."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    matches = sorted(p for p in folder.glob(pattern) if p.is_file())
    return matches[0] if len(matches) == 1 else None


def require_exists(path: str | Path, *, what: str) -> Path:
    """Return ``path`` expanded, raising :class:`DatasetError` if it is missing or cannot be checked.

    A name too long for the file system raises OSError from ``exists()``; it is reported, not raised.
    """
    p = Path(path).expanduser()
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # name too long
        raise DatasetError(f"{what} {str(p)!r} cannot be opened ({getattr(exc, 'strerror', None) or exc})") from None
    if not exists:
        raise DatasetError(f"{what} {str(p)!r} does not exist: check the path")
    return p


def require_file(path: str | Path, *, what: str) -> Path:
    """Return ``path`` resolved, or raise :class:`DatasetError` when it is not a file.

    Parameters
    ----------
    path : str or Path
        The file to check.
    what : str
        What the file is, for the message (``"FMA tracks.csv"``).
    """
    p = require_exists(path, what=what)
    if not p.is_file():
        raise DatasetError(f"{what} {str(p)!r} is not a file")
    if p.stat().st_size == 0:
        raise DatasetError(f"{what} {str(p)!r} is empty")
    return p.resolve()


def check_threshold(threshold: float) -> float:
    """Validate a 0–100 binarisation threshold (``0 < threshold <= 100``)."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"threshold must be a number in (0, 100], got {threshold!r}") from None
    if not (0.0 < value <= 100.0):
        raise ParameterError(f"threshold must lie in (0, 100], got {threshold!r}")
    return value


def check_missing_files(
    paths: Sequence[str], *, missing: str, what: str
) -> np.ndarray:
    """Check that listed audio files exist.

    Parameters
    ----------
    paths : sequence of str [shape=(n,)]
        Absolute file paths.
    missing : {"error", "skip", "keep"}
        ``"error"`` raises :class:`DatasetError` naming the first ten missing files and
        their count; ``"skip"`` returns a mask that drops them; ``"keep"`` returns a mask
        that keeps every file (the caller counts the missing ones with :func:`is_file`).
    what : str
        Name of the dataset, for the message.

    Returns
    -------
    keep : np.ndarray [shape=(n,)], bool
        True for files that exist (every file with ``missing="keep"``).
    """
    check_missing_policy(missing)
    if missing == "keep":
        return np.ones(len(paths), dtype=bool)
    keep = np.fromiter((is_file(p) for p in paths), dtype=bool, count=len(paths))
    if missing == "error" and not keep.all():
        absent = [p for p, k in zip(paths, keep) if not k]
        raise DatasetError(
            f"{what}: {len(absent)} of {len(paths)} listed audio files do not exist: {list_some(absent)}. "
            "Check the paths or the audio folder (--audio-dir gives it for FMA, MagnaTagATune and MTG-Jamendo), "
            "or leave them out with --missing skip (in Python: audio_dir=, missing='skip')."
        )
    return keep


def check_missing_policy(missing: str) -> str:
    """Validate a ``missing=`` argument (one of :data:`MISSING_POLICIES`)."""
    if missing not in MISSING_POLICIES:
        raise ParameterError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    return missing


def normalise_splits(values: pd.Series, *, what: str) -> pd.Series:
    """Map split spellings (``training``, ``val``, ...) to :data:`SPLITS`; blanks become NA.

    Raises :class:`DatasetError` naming unknown values.
    """
    text = values.astype("string").str.strip().str.lower()
    text = text.mask(text == "")
    mapped = text.map(SPLIT_ALIASES, na_action="ignore")
    bad = sorted(set(text[mapped.isna() & text.notna()].tolist()))
    if bad:
        raise DatasetError(
            f"{what}: unknown split names {list_some(bad)}; use train, validation or test (or leave blank)"
        )
    return mapped.astype(object).where(mapped.notna(), pd.NA)


@dataclass
class DatasetIndex:
    """Tracks of a dataset with their label strengths.

    Attributes
    ----------
    name : str
        Human-readable name (for example the folder name).
    kind : str
        Which adapter made it: ``folder``, ``fma``, ``mtt``, ``jamendo``, ``strengths``,
        ``features`` or ``demo``.
    labels : list of str
        Label names, one per column of ``strengths``.
    tracks : pd.DataFrame
        One row per track with columns ``track_id`` (str, unique), ``path``
        (str, absolute; empty for feature tables), ``artist`` (str or NA) and
        ``split`` (``train``/``validation``/``test`` or NA). Adapters may add
        columns (for example ``source`` for feature rows cut from one track, or
        ``artist_name``). The frame is copied and given a fresh ``RangeIndex``.
    strengths : np.ndarray [shape=(n_tracks, n_labels)], float32
        Tag strengths in 0–100.
    threshold : float
        Strength at or above which a label is present.
    features : pd.DataFrame or None
        Precomputed numeric features (feature-table datasets only), one row per track.
    root : str
        The folder or file the dataset was read from.
    meta : dict
        Free-form facts about how the index was made (``notes``: list of str
        telling what a reader skipped or assumed; ``split``: how splits were made).
    """

    name: str
    kind: str
    labels: list[str]
    tracks: pd.DataFrame
    strengths: np.ndarray
    threshold: float = DEFAULT_STRENGTH_THRESHOLD
    features: pd.DataFrame | None = None
    root: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = [str(label) for label in self.labels]
        self.strengths = np.asarray(self.strengths, dtype=np.float32)
        self.threshold = check_threshold(self.threshold)
        tracks = self.tracks.copy().reset_index(drop=True)
        n = len(tracks)
        if self.strengths.ndim != 2 or self.strengths.shape != (n, len(self.labels)):
            raise DatasetError(
                f"{self.name}: strengths have shape {self.strengths.shape}, expected ({n}, {len(self.labels)})"
            )
        if "track_id" not in tracks.columns:
            raise DatasetError(f"{self.name}: the track table has no 'track_id' column")
        tracks["track_id"] = tracks["track_id"].astype(str)
        tracks["path"] = tracks["path"].fillna("").astype(str) if "path" in tracks.columns else ""
        for col in ("artist", "split"):
            if col not in tracks.columns:
                tracks[col] = pd.Series([pd.NA] * n, dtype=object)
            else:
                values = tracks[col].astype(object)
                tracks[col] = values.where(values.notna(), pd.NA)
        bad_split = sorted({str(s) for s in tracks["split"].dropna()} - set(SPLITS))
        if bad_split:
            raise DatasetError(f"{self.name}: unknown split names {bad_split}; use {list(SPLITS)} or NA")
        self.tracks = tracks
        dup = tracks["track_id"][tracks["track_id"].duplicated()].unique().tolist()
        if dup:
            raise DatasetError(f"{self.name}: duplicate track ids {list_some(dup)}")
        if len(set(self.labels)) != len(self.labels):
            dup_labels = sorted({lab for lab in self.labels if self.labels.count(lab) > 1})
            raise DatasetError(f"{self.name}: duplicate label names {dup_labels}")
        if n and self.labels:
            if np.isnan(self.strengths).any():
                raise DatasetError(f"{self.name}: strengths contain NaN; every strength must be a number in 0-100")
            if self.strengths.min() < 0 or self.strengths.max() > 100:
                raise DatasetError(
                    f"{self.name}: strengths must lie in 0-100, "
                    f"found {self.strengths.min():g}..{self.strengths.max():g}"
                )
        if self.features is not None:
            if len(self.features) != n:
                raise DatasetError(f"{self.name}: {len(self.features)} feature rows for {n} tracks")
            self.features = self.features.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def y(self) -> np.ndarray:
        """Binary targets [shape=(n_tracks, n_labels)], int8: strength >= threshold."""
        return (self.strengths >= self.threshold).astype(np.int8)

    @property
    def task(self) -> TaskKind:
        """``single`` when every track has exactly one present label, else ``multi``."""
        counts = self.y.sum(axis=1)
        return "single" if len(counts) and np.all(counts == 1) else "multi"

    @property
    def label_index(self) -> np.ndarray:
        """Index of the strongest label per track [shape=(n_tracks,)] (single-label view)."""
        return np.argmax(self.strengths, axis=1)

    @property
    def genre(self) -> pd.Series:
        """Name of the strongest label per track, aligned with ``tracks``."""
        return pd.Series(np.asarray(self.labels, dtype=object)[self.label_index], index=self.tracks.index)

    @property
    def has_artists(self) -> bool:
        """True when at least one track names its artist."""
        return bool(self.tracks["artist"].notna().any())

    @property
    def has_splits(self) -> bool:
        """True when every track carries a split name."""
        return bool(len(self)) and bool(self.tracks["split"].notna().all())

    def split_indices(self, split: str) -> np.ndarray:
        """Row positions [shape=(n,)] of the tracks in ``split`` (``train``/``validation``/``test``)."""
        if split not in SPLITS:
            raise ParameterError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero((self.tracks["split"] == split).fillna(False).to_numpy(dtype=bool))

    def subset(self, mask_or_idx) -> DatasetIndex:
        """Return a new index holding only the selected rows."""
        idx = np.arange(len(self))[mask_or_idx]
        return DatasetIndex(
            name=self.name,
            kind=self.kind,
            labels=list(self.labels),
            tracks=self.tracks.iloc[idx].reset_index(drop=True),
            strengths=self.strengths[idx],
            threshold=self.threshold,
            features=None if self.features is None else self.features.iloc[idx].reset_index(drop=True),
            root=self.root,
            meta=dict(self.meta),
        )

    def summary(self) -> dict:
        """Counts a page or the command line can show."""
        splits = self.tracks["split"].value_counts(dropna=True)
        return {
            "name": self.name,
            "kind": self.kind,
            "tracks": len(self),
            "labels": len(self.labels),
            "task": self.task,
            "artists": int(self.tracks["artist"].nunique(dropna=True)),
            "splits": {s: int(splits.get(s, 0)) for s in SPLITS},
            "per_label": dict(zip(self.labels, self.y.sum(axis=0).astype(int).tolist())),
        }
