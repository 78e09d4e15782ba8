"""Dataset insight: what a dataset holds before any feature is computed.

:func:`class_balance` (tracks per label, optionally per split),
:func:`cooccurrence` (labels sharing a track), :func:`labels_per_track` and
:func:`track_durations` (read from file headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import MusictagError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ..datasets.base import DatasetIndex

__all__ = ["class_balance", "cooccurrence", "labels_per_track", "track_durations"]


def class_balance(index: DatasetIndex, *, by_split: bool = False) -> pd.Series | pd.DataFrame:
    """Tracks per label (a track counts for every label present on it).

    Parameters
    ----------
    index : DatasetIndex
    by_split : bool
        Return a labels x splits table instead (tracks without split under ``"none"``).

    Returns
    -------
    pd.Series (index = labels, name ``tracks``) or pd.DataFrame (labels x splits)
    """
    y = index.y
    if not by_split:
        return pd.Series(y.sum(axis=0).astype(int), index=pd.Index(index.labels, name="label"), name="tracks")
    split = index.tracks["split"].astype(object).where(index.tracks["split"].notna(), "none").astype(str).to_numpy()
    cols = {s: y[split == s].sum(axis=0).astype(int) for s in _split_order(np.unique(split))}
    return pd.DataFrame(cols, index=pd.Index(index.labels, name="label"))


def _split_order(splits: Sequence[str]) -> list[str]:
    known = ["train", "validation", "test"]
    return [s for s in known if s in splits] + sorted(s for s in splits if s not in known)


def cooccurrence(y: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """How often each pair of labels is present on the same track.

    Parameters
    ----------
    y : np.ndarray [shape=(n_tracks, n_labels)]
        Binary targets (0/1).
    labels : sequence of str [shape=(n_labels,)]

    Returns
    -------
    pd.DataFrame [shape=(n_labels, n_labels)], int
        ``y.T @ y``: the diagonal holds each label's track count.
    """
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] != len(labels):
        raise ParameterError(f"y must have shape (n_tracks, {len(labels)}), got {y.shape}")
    yb = (y > 0).astype(np.int64)
    return pd.DataFrame(yb.T @ yb, index=list(labels), columns=list(labels))


def labels_per_track(y: np.ndarray) -> pd.Series:
    """Number of tracks with 0, 1, 2, ... labels present.

    Parameters
    ----------
    y : np.ndarray [shape=(n_tracks, n_labels)]
        Binary targets.

    Returns
    -------
    pd.Series
        Index 0..max labels per track (every count included), values = tracks.
    """
    y = np.asarray(y)
    if y.ndim != 2:
        raise ParameterError(f"y must be 2-D (tracks x labels), got shape {y.shape}")
    per = (y > 0).sum(axis=1)
    counts = np.bincount(per, minlength=1)
    return pd.Series(counts, index=pd.Index(np.arange(len(counts)), name="labels_per_track"), name="tracks")


def track_durations(index: DatasetIndex) -> pd.Series:
    """Duration in seconds of each track, read from file headers (NaN when unreadable).

    Returns
    -------
    pd.Series
        Index = track ids, values = seconds.
    """
    from ..audio import audio_info

    out = []
    for path in index.tracks["path"].astype(str):
        try:
            out.append(audio_info(path).duration_s if path else np.nan)
        except MusictagError:
            out.append(np.nan)
    return pd.Series(out, index=index.tracks["track_id"].astype(str).to_numpy(), name="duration_s", dtype=float)

